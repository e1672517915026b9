//! Remember-owner: a file's original label kept in its own xattrs while guests hold it.
//!
//! For model `D` (`selinux` or `dac`), a labelled file carries:
//!
//! | xattr | value |
//! |---|---|
//! | `trusted.libvirt.security.D` | the label before the first guest took it (context, or `+uid:+gid`) |
//! | `trusted.libvirt.security.ref_D` | how many running guests hold it, decimal |
//! | `trusted.libvirt.security.timestamp_D` | the host's boot time, decimal seconds |
//!
//! Steps, the same as libvirt's so both can read each other's files:
//! - [`remember`]: read `ref_D`; a timestamp that is missing or not this boot's means a crash
//!   left the xattrs behind, so they are dropped as stale. Then `ref_D += 1`, and on the first
//!   holder the current label and the timestamp are stored.
//! - [`recall`]: `ref_D -= 1`; while it stays above zero the file is still in use and must not
//!   be restored; at zero all three xattrs go and the stored label is returned.
//!
//! The names are libvirt's (`trusted.` needs CAP_SYS_ADMIN). Boot time is `btime` from
//! `<proc_root>/stat`.

use std::io;
use std::path::{Path, PathBuf};

/// Prefix of every remember-owner xattr.
pub const PREFIX: &str = "trusted.libvirt.security.";

/// Why remembered labels could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RememberError {
    /// An xattr could not be read.
    #[error("read xattr {name} of {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The xattr.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An xattr could not be written.
    #[error("set xattr {name} on {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The xattr.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An xattr could not be removed.
    #[error("remove xattr {name} from {}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The xattr.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The refcount is not a number.
    #[error("xattr {name} of {} holds {value:?}, not a reference count", path.display())]
    BadCount {
        /// The file.
        path: PathBuf,
        /// The xattr.
        name: String,
        /// What it holds.
        value: String,
    },
    /// `ref_D` is set but the label it counts is missing.
    #[error("xattr {name} missing on {} although it is referenced", path.display())]
    MissingLabel {
        /// The file.
        path: PathBuf,
        /// The xattr.
        name: String,
    },
    /// The boot time could not be read from procfs.
    #[error("read host boot time (btime) from {}", path.display())]
    BootTime {
        /// The stat file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The three xattr names of one model.
#[derive(Debug, Clone)]
struct Names {
    label: String,
    count: String,
    timestamp: String,
}

impl Names {
    fn of(model: &str) -> Self {
        Self {
            label: format!("{PREFIX}{model}"),
            count: format!("{PREFIX}ref_{model}"),
            timestamp: format!("{PREFIX}timestamp_{model}"),
        }
    }
}

/// The host's boot time in seconds since the epoch: the `btime` line of `<proc_root>/stat`.
pub fn boot_time(proc_root: &Path) -> Result<u64, RememberError> {
    let path = proc_root.join("stat");
    let fail = |source| RememberError::BootTime {
        path: path.clone(),
        source,
    };
    let text = std::fs::read_to_string(&path).map_err(fail)?;
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::InvalidData, "no btime line")))
}

/// Whether the filesystem refuses xattrs of this namespace (`ENOTSUP`, `ENOSYS`).
pub fn unsupported(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOTSUP | libc::ENOSYS))
}

/// What [`remember`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// Holders after this one was counted.
    pub refcount: u32,
    /// Stale xattrs of an earlier boot were dropped first.
    pub dropped_stale: bool,
}

/// What [`recall`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recall {
    /// This was the last holder: the label to restore.
    Label(String),
    /// Other holders remain (count after this one left): leave the file alone.
    InUse(u32),
    /// Nothing (or only stale xattrs) was remembered.
    Nothing,
}

fn get(path: &Path, name: &str) -> Result<Option<String>, RememberError> {
    match xattr::get_deref(path, name) {
        Ok(value) => Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())),
        Err(source) => Err(RememberError::Read {
            path: path.to_owned(),
            name: name.to_owned(),
            source,
        }),
    }
}

fn set(path: &Path, name: &str, value: &str) -> Result<(), RememberError> {
    xattr::set_deref(path, name, value.as_bytes()).map_err(|source| RememberError::Write {
        path: path.to_owned(),
        name: name.to_owned(),
        source,
    })
}

fn remove(path: &Path, name: &str) -> Result<(), RememberError> {
    match xattr::remove_deref(path, name) {
        Ok(()) => Ok(()),
        Err(err) if err.raw_os_error() == Some(libc::ENODATA) => Ok(()),
        Err(source) => Err(RememberError::Remove {
            path: path.to_owned(),
            name: name.to_owned(),
            source,
        }),
    }
}

/// The valid refcount of `model` on `path`; stale xattrs are removed and count as none.
/// Returns the count and whether stale xattrs were dropped.
fn current_count(path: &Path, names: &Names, boot: u64) -> Result<(u32, bool), RememberError> {
    let Some(count) = get(path, &names.count)? else {
        return Ok((0, false));
    };
    let timestamp = get(path, &names.timestamp)?;
    if timestamp.as_deref().map(str::trim) != Some(boot.to_string().as_str()) {
        tracing::warn!(
            path = %path.display(),
            "Invalid XATTR timestamp detected on {} secdriver={}",
            path.display(),
            names.label.trim_start_matches(PREFIX)
        );
        forget(path, names)?;
        return Ok((0, true));
    }
    let value = count.trim().parse().map_err(|_| RememberError::BadCount {
        path: path.to_owned(),
        name: names.count.clone(),
        value: count.clone(),
    })?;
    Ok((value, false))
}

fn forget(path: &Path, names: &Names) -> Result<(), RememberError> {
    remove(path, &names.count)?;
    remove(path, &names.label)?;
    remove(path, &names.timestamp)
}

/// Counts one more holder of `path` for `model`; the first holder stores `current` (the label
/// the file has now) and the boot time.
pub fn remember(
    path: &Path,
    model: &str,
    current: &str,
    boot: u64,
) -> Result<Remembered, RememberError> {
    let names = Names::of(model);
    let (count, dropped_stale) = current_count(path, &names, boot)?;
    let refcount = count.saturating_add(1);
    if refcount == 1 {
        set(path, &names.label, current)?;
        set(path, &names.timestamp, &boot.to_string())?;
    }
    set(path, &names.count, &refcount.to_string())?;
    Ok(Remembered {
        refcount,
        dropped_stale,
    })
}

/// Counts one holder of `path` for `model` out; see [`Recall`].
pub fn recall(path: &Path, model: &str, boot: u64) -> Result<Recall, RememberError> {
    let names = Names::of(model);
    let (count, _) = current_count(path, &names, boot)?;
    if count == 0 {
        // A zero or missing count is nothing to recall; clear leftovers all the same.
        forget(path, &names)?;
        return Ok(Recall::Nothing);
    }
    let left = count - 1;
    if left > 0 {
        set(path, &names.count, &left.to_string())?;
        return Ok(Recall::InUse(left));
    }
    let label = get(path, &names.label)?;
    forget(path, &names)?;
    match label {
        Some(label) => Ok(Recall::Label(label)),
        None => Err(RememberError::MissingLabel {
            path: path.to_owned(),
            name: names.label,
        }),
    }
}

/// The label remembered for `model` on `path` and its valid refcount, without changing
/// anything (stale xattrs count as none).
pub fn peek(path: &Path, model: &str, boot: u64) -> Result<Option<(String, u32)>, RememberError> {
    let names = Names::of(model);
    let Some(count) = get(path, &names.count)? else {
        return Ok(None);
    };
    if get(path, &names.timestamp)?.as_deref().map(str::trim) != Some(boot.to_string().as_str()) {
        return Ok(None);
    }
    let count = count.trim().parse().unwrap_or(0);
    Ok(get(path, &names.label)?.map(|label| (label, count)))
}

/// Names of every remember-owner xattr on `path`.
pub fn list(path: &Path) -> io::Result<Vec<String>> {
    Ok(xattr::list_deref(path)?
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.starts_with(PREFIX))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        std::fs::write(&path, b"x").unwrap();
        (dir, path)
    }

    #[test]
    fn boot_time_from_a_fixture_stat() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("stat"),
            "cpu  1 2 3\nbtime 1737363344\nprocesses 5\n",
        )
        .unwrap();
        assert_eq!(boot_time(dir.path()).unwrap(), 1_737_363_344);
        std::fs::write(dir.path().join("stat"), "cpu  1 2 3\n").unwrap();
        assert!(boot_time(dir.path())
            .unwrap_err()
            .to_string()
            .ends_with("stat"));
    }

    #[test]
    fn refcount_across_two_holders() {
        let (_dir, path) = file();
        let first = remember(&path, "dac", "+1000:+1000", 77).unwrap();
        assert_eq!(
            first,
            Remembered {
                refcount: 1,
                dropped_stale: false
            }
        );
        let second = remember(&path, "dac", "+1000001:+1000001", 77).unwrap();
        assert_eq!(second.refcount, 2);
        assert_eq!(
            peek(&path, "dac", 77).unwrap(),
            Some(("+1000:+1000".to_owned(), 2))
        );
        assert_eq!(recall(&path, "dac", 77).unwrap(), Recall::InUse(1));
        assert_eq!(
            recall(&path, "dac", 77).unwrap(),
            Recall::Label("+1000:+1000".to_owned())
        );
        assert!(list(&path).unwrap().is_empty());
        assert_eq!(recall(&path, "dac", 77).unwrap(), Recall::Nothing);
    }

    #[test]
    fn stale_timestamps_are_discarded() {
        let (_dir, path) = file();
        remember(&path, "selinux", "u:object_r:old_t:s0", 10).unwrap();
        remember(&path, "selinux", "ignored", 10).unwrap();
        // After a reboot the count of 2 is stale: the next holder starts afresh.
        let again = remember(&path, "selinux", "u:object_r:new_t:s0", 11).unwrap();
        assert_eq!(
            again,
            Remembered {
                refcount: 1,
                dropped_stale: true
            }
        );
        assert_eq!(
            recall(&path, "selinux", 11).unwrap(),
            Recall::Label("u:object_r:new_t:s0".to_owned())
        );
        remember(&path, "selinux", "x", 10).unwrap();
        assert_eq!(recall(&path, "selinux", 11).unwrap(), Recall::Nothing);
        assert!(list(&path).unwrap().is_empty());
        // A count without a timestamp is stale as well.
        xattr::set(&path, "trusted.libvirt.security.ref_dac", b"3").unwrap();
        assert_eq!(peek(&path, "dac", 11).unwrap(), None);
        assert_eq!(recall(&path, "dac", 11).unwrap(), Recall::Nothing);
        assert!(list(&path).unwrap().is_empty());
    }

    #[test]
    fn garbage_count_is_an_error_naming_the_file() {
        let (_dir, path) = file();
        remember(&path, "dac", "+1:+1", 5).unwrap();
        xattr::set(&path, "trusted.libvirt.security.ref_dac", b"many").unwrap();
        let err = remember(&path, "dac", "+1:+1", 5).unwrap_err();
        assert!(err.to_string().contains("disk.img"), "{err}");
        assert!(err.to_string().contains("\"many\""), "{err}");
    }
}
