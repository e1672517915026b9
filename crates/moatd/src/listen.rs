//! The daemon's UNIX sockets: bound with the configured mode and group.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a socket could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// Another process already answers on the path.
    #[error("another daemon is already listening on {path}")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something else than a socket is at the path.
    #[error("{path} exists and is not a socket")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The configured group does not exist.
    #[error("socket group '{group}' does not exist")]
    NoSuchGroup {
        /// The group name.
        group: String,
    },
    /// A system call failed.
    #[error("cannot {step} {path}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Resolves a group name to its gid.
pub fn group_id(name: &str) -> Result<u32, ListenError> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        _ => Err(ListenError::NoSuchGroup {
            group: name.to_owned(),
        }),
    }
}

/// Binds a listening socket at `path` with `mode` and, if given, group `gid`. A stale socket left
/// by a daemon that died is replaced; a live one is an error.
pub fn bind(
    path: &Path,
    mode: u32,
    gid: Option<u32>,
) -> Result<tokio::net::UnixListener, ListenError> {
    let io_err = |step, source| ListenError::Io {
        step,
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(ListenError::NotASocket {
                    path: path.to_owned(),
                });
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ListenError::InUse {
                    path: path.to_owned(),
                });
            }
            std::fs::remove_file(path).map_err(|e| io_err("remove stale socket", e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspect", e)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| io_err("bind", e))?;
    apply_mode(path, mode, gid)?;
    listener
        .set_nonblocking(true)
        .map_err(|e| io_err("configure", e))?;
    tokio::net::UnixListener::from_std(listener).map_err(|e| io_err("register", e))
}

/// Sets a socket's mode and group (also on configuration reload).
pub fn apply_mode(path: &Path, mode: u32, gid: Option<u32>) -> Result<(), ListenError> {
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| ListenError::Io {
            step: "set the group of",
            path: path.to_owned(),
            source,
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        ListenError::Io {
            step: "set the mode of",
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_with_mode_and_replaces_stale_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let listener = bind(&path, 0o660, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // A second daemon on the same path is refused.
        assert!(matches!(
            bind(&path, 0o660, None),
            Err(ListenError::InUse { .. })
        ));
        drop(listener);
        // The socket file is left behind, stale: a new bind replaces it.
        bind(&path, 0o600, None).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            bind(&file, 0o600, None),
            Err(ListenError::NotASocket { .. })
        ));
        assert!(matches!(
            group_id("no-such-group-moat"),
            Err(ListenError::NoSuchGroup { .. })
        ));
    }
}
