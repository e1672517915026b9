//! Persistent guest definitions in the state directory.
//!
//! Layout under `STATE/`:
//! - `domains/<uuid>.xml`: one inactive definition per guest, as domain XML;
//! - `autostart/<uuid>`: present when the guest starts with the daemon.
//!
//! Every change is atomic and durable before it is acknowledged: the new content goes to a
//! temporary file in the same directory, which is fsynced, renamed over the old name, and the
//! directory is fsynced. A crash leaves either the old or the new file, plus at worst a temporary
//! file that the next start removes. Files that cannot be read or parsed are reported and skipped,
//! never deleted: they may be an administrator's to repair.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Largest definition file read back (domxml's own input limit).
pub const DEFINITION_MAX_LEN: u64 = 4 * 1024 * 1024;

const TMP_PREFIX: &str = ".tmp-";

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A directory could not be created or read.
    #[error("cannot prepare state directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file could not be written durably.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file could not be removed.
    #[error("cannot remove {path}")]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A definition file that was skipped at load, and why.
#[derive(Debug)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// A definition read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    /// The UUID its file is named after.
    pub uuid: Uuid,
    /// Its domain XML.
    pub xml: String,
    /// Whether its autostart marker exists.
    pub autostart: bool,
    /// The file.
    pub path: PathBuf,
}

/// The definitions directory of one daemon.
#[derive(Debug, Clone)]
pub struct DomainStore {
    domains: PathBuf,
    autostart: PathBuf,
}

impl DomainStore {
    /// Opens (creating with mode 0700 where missing) the store under `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        Self::open_in(state_dir.join("domains"), state_dir.join("autostart"))
    }

    /// Opens a store of another kind of definition (networks) with its own directories.
    pub fn open_in(definitions: PathBuf, autostart: PathBuf) -> Result<Self, StoreError> {
        let store = Self {
            domains: definitions,
            autostart,
        };
        for dir in [&store.domains, &store.autostart] {
            private_dir(dir)?;
        }
        Ok(store)
    }

    /// Path of a guest's definition file.
    pub fn definition_path(&self, uuid: &Uuid) -> PathBuf {
        self.domains.join(format!("{}.xml", uuid.hyphenated()))
    }

    fn autostart_path(&self, uuid: &Uuid) -> PathBuf {
        self.autostart.join(uuid.hyphenated().to_string())
    }

    /// Writes a definition durably.
    pub fn save(&self, uuid: &Uuid, xml: &str) -> Result<(), StoreError> {
        write_atomic(&self.definition_path(uuid), xml.as_bytes())
    }

    /// Removes a definition and its autostart marker durably.
    pub fn remove(&self, uuid: &Uuid) -> Result<(), StoreError> {
        self.set_autostart(uuid, false)?;
        remove_durably(&self.definition_path(uuid))
    }

    /// Creates or removes the autostart marker.
    pub fn set_autostart(&self, uuid: &Uuid, on: bool) -> Result<(), StoreError> {
        let path = self.autostart_path(uuid);
        if on {
            write_atomic(&path, b"")
        } else {
            remove_durably(&path)
        }
    }

    /// Reads every definition; unreadable files are returned as skipped.
    pub fn load_all(&self) -> Result<(Vec<StoredDefinition>, Vec<SkippedFile>), StoreError> {
        let mut found = Vec::new();
        let mut skipped = Vec::new();
        let entries = fs::read_dir(&self.domains).map_err(|source| StoreError::Dir {
            path: self.domains.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| StoreError::Dir {
                path: self.domains.clone(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                // An interrupted write that was never acknowledged.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(uuid) = name
                .strip_suffix(".xml")
                .and_then(|stem| Uuid::parse_str(stem).ok())
            else {
                skipped.push(SkippedFile {
                    path,
                    reason: "not named <uuid>.xml".into(),
                });
                continue;
            };
            match read_bounded(&path) {
                Ok(xml) => found.push(StoredDefinition {
                    uuid,
                    xml,
                    autostart: self.autostart_path(&uuid).exists(),
                    path,
                }),
                Err(reason) => skipped.push(SkippedFile { path, reason }),
            }
        }
        found.sort_by_key(|d| d.uuid);
        Ok((found, skipped))
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > DEFINITION_MAX_LEN {
        return Err(format!("larger than {DEFINITION_MAX_LEN} bytes"));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8".into())
}

/// Creates `dir` and its parents, mode 0700 (the daemon's own).
pub(crate) fn private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Dir {
            path: dir.to_owned(),
            source,
        })
}

/// Replaces `path` with `contents` so that a crash leaves the old or the new file whole.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let fail = |source| StoreError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .ok_or_else(|| fail(io::ErrorKind::InvalidInput.into()))?;
    let name = path
        .file_name()
        .ok_or_else(|| fail(io::ErrorKind::InvalidInput.into()))?;
    let tmp = dir.join(format!("{TMP_PREFIX}{}", name.to_string_lossy()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Removes `path` (absent is fine) and makes the removal durable.
pub fn remove_durably(path: &Path) -> Result<(), StoreError> {
    let fail = |source| StoreError::Remove {
        path: path.to_owned(),
        source,
    };
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e)),
    }
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = DomainStore::open(dir.path()).unwrap();
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        store.save(&a, "<domain>a</domain>").unwrap();
        store.save(&b, "<domain>b</domain>").unwrap();
        store.save(&b, "<domain>b2</domain>").unwrap();
        store.set_autostart(&b, true).unwrap();
        let (found, skipped) = store.load_all().unwrap();
        assert!(skipped.is_empty());
        assert_eq!(found.len(), 2);
        let b_def = found.iter().find(|d| d.uuid == b).unwrap();
        assert_eq!(b_def.xml, "<domain>b2</domain>");
        assert!(b_def.autostart);
        store.remove(&b).unwrap();
        let (found, _) = store.load_all().unwrap();
        assert_eq!(found.len(), 1);
        assert!(!dir.path().join("autostart").join(b.to_string()).exists());
        // Removing twice is fine.
        store.remove(&b).unwrap();
    }

    #[test]
    fn bad_files_are_skipped_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = DomainStore::open(dir.path()).unwrap();
        let domains = dir.path().join("domains");
        fs::write(domains.join("notes.txt"), "hello").unwrap();
        let bad_utf8 = domains.join(format!("{}.xml", Uuid::new_v4()));
        fs::write(&bad_utf8, [0xff, 0xfe]).unwrap();
        fs::write(domains.join(".tmp-x.xml"), "partial").unwrap();
        let (found, skipped) = store.load_all().unwrap();
        assert!(found.is_empty());
        assert_eq!(skipped.len(), 2);
        assert!(bad_utf8.exists());
        assert!(domains.join("notes.txt").exists());
        assert!(!domains.join(".tmp-x.xml").exists());
    }

    #[test]
    fn write_failure_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = DomainStore::open(dir.path()).unwrap();
        let a = Uuid::new_v4();
        store.save(&a, "old").unwrap();
        // A directory where the temporary file would go makes the write fail.
        let tmp = dir.path().join("domains").join(format!(".tmp-{a}.xml"));
        fs::create_dir(&tmp).unwrap();
        let err = store.save(&a, "new").unwrap_err();
        assert!(err.to_string().starts_with("cannot write "));
        assert_eq!(
            fs::read_to_string(store.definition_path(&a)).unwrap(),
            "old"
        );
    }
}
