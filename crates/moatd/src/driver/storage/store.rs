//! Persistent pool definitions, next to the guests' (see [`crate::store`]).
//!
//! Layout:
//! - `STATE/storage/pools/<name>.xml`: one definition per persistent pool, as pool XML;
//! - `STATE/storage/autostart/<name>`: present when the pool starts with the daemon;
//! - `STATE/storage/default-pool-created`: the default pool was made once (so undefining it
//!   sticks);
//! - `RUN/storage/active/<name>`: the pool was active, so a restarted daemon keeps it active
//!   (the run directory does not survive a reboot, where only autostart counts).
//!
//! Writes are atomic and durable ([`crate::store::write_atomic`]). Volumes are not stored here:
//! in a directory pool they are the files themselves.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::{
    private_dir, remove_durably, write_atomic, SkippedFile, StoreError, DEFINITION_MAX_LEN,
};

/// A pool definition read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPool {
    /// Its pool XML.
    pub xml: String,
    /// The file.
    pub path: PathBuf,
    /// Whether its autostart marker exists.
    pub autostart: bool,
    /// Whether it was active when the daemon stopped.
    pub active: bool,
}

/// Where pools are kept.
#[derive(Debug, Clone)]
pub struct PoolStore {
    pools: PathBuf,
    autostart: PathBuf,
    active: PathBuf,
    default_marker: PathBuf,
}

impl PoolStore {
    /// The store under `state_dir` and `run_dir`; nothing is touched until [`PoolStore::prepare`].
    pub fn new(state_dir: &Path, run_dir: &Path) -> Self {
        let base = state_dir.join("storage");
        Self {
            pools: base.join("pools"),
            autostart: base.join("autostart"),
            default_marker: base.join("default-pool-created"),
            active: run_dir.join("storage").join("active"),
        }
    }

    /// Creates the directories (mode 0700).
    pub fn prepare(&self) -> Result<(), StoreError> {
        for dir in [&self.pools, &self.autostart, &self.active] {
            private_dir(dir)?;
        }
        Ok(())
    }

    /// Stores a pool's definition.
    pub fn save(&self, name: &str, xml: &str) -> Result<(), StoreError> {
        write_atomic(&self.pools.join(format!("{name}.xml")), xml.as_bytes())
    }

    /// Removes a pool's definition and autostart marker.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        remove_durably(&self.autostart.join(name))?;
        remove_durably(&self.pools.join(format!("{name}.xml")))
    }

    /// Sets or clears the autostart marker.
    pub fn set_autostart(&self, name: &str, on: bool) -> Result<(), StoreError> {
        marker(&self.autostart.join(name), on)
    }

    /// Sets or clears the active marker.
    pub fn set_active(&self, name: &str, on: bool) -> Result<(), StoreError> {
        marker(&self.active.join(name), on)
    }

    /// Whether the default pool was created before.
    pub fn default_created(&self) -> bool {
        self.default_marker.exists()
    }

    /// Records that the default pool was created.
    pub fn mark_default_created(&self) -> Result<(), StoreError> {
        write_atomic(&self.default_marker, b"")
    }

    /// Every stored definition, and the files that could not be read.
    pub fn load_all(&self) -> Result<(Vec<StoredPool>, Vec<SkippedFile>), StoreError> {
        let entries = fs::read_dir(&self.pools).map_err(|source| StoreError::Dir {
            path: self.pools.clone(),
            source,
        })?;
        let mut pools = Vec::new();
        let mut skipped = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".xml"))
                .filter(|n| !n.starts_with('.'))
            else {
                continue;
            };
            let read = fs::metadata(&path)
                .map_err(|e| e.to_string())
                .and_then(|meta| {
                    if meta.len() > DEFINITION_MAX_LEN {
                        Err(format!("larger than {DEFINITION_MAX_LEN} bytes"))
                    } else {
                        fs::read_to_string(&path).map_err(|e| e.to_string())
                    }
                });
            match read {
                Ok(xml) => pools.push(StoredPool {
                    xml,
                    autostart: self.autostart.join(name).exists(),
                    active: self.active.join(name).exists(),
                    path,
                }),
                Err(reason) => skipped.push(SkippedFile { path, reason }),
            }
        }
        pools.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((pools, skipped))
    }
}

fn marker(path: &Path, on: bool) -> Result<(), StoreError> {
    if on {
        write_atomic(path, b"")
    } else {
        remove_durably(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_and_markers_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = PoolStore::new(&dir.path().join("s"), &dir.path().join("r"));
        store.prepare().unwrap();
        store.save("a", "<pool/>").unwrap();
        store.set_autostart("a", true).unwrap();
        store.set_active("a", true).unwrap();
        store.save("b", "<pool/>").unwrap();
        let (pools, skipped) = store.load_all().unwrap();
        assert!(skipped.is_empty());
        assert_eq!(pools.len(), 2);
        assert!(pools[0].autostart && pools[0].active);
        assert!(!pools[1].autostart && !pools[1].active);
        store.remove("a").unwrap();
        store.set_active("a", false).unwrap();
        assert_eq!(store.load_all().unwrap().0.len(), 1);
        assert!(!store.default_created());
        store.mark_default_created().unwrap();
        assert!(store.default_created());
    }
}
