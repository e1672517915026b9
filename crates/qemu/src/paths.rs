//! Where one guest's QEMU keeps its runtime files.
//!
//! Layout, for a guest named `NAME`:
//!
//! | file | path | lifetime |
//! |---|---|---|
//! | QMP socket | `RUN/qemu/NAME/qmp.sock` | while QEMU runs |
//! | pidfile (written by the daemon, outside the directory the guest's QEMU may write) | `RUN/qemu/NAME.pid` | while QEMU runs |
//! | VNC socket (when the domain asks for one without a path) | `RUN/qemu/NAME/vnc.sock` | while QEMU runs |
//! | channel sockets (unix channels without a path) | `RUN/qemu/NAME/<target name>.sock` | while QEMU runs |
//! | console sockets (`pty` serial port N, where the daemon's console broker connects) | `RUN/qemu/NAME/console-serialN.sock` | while QEMU runs |
//! | log (QEMU's stdout and stderr) | `STATE/qemu/NAME.log` | kept, appended to on each start |
//!
//! The run directory is removed with the files in it when QEMU is gone; the log stays.

use std::path::{Path, PathBuf};

/// Longest path a unix socket address holds (`sun_path` less its terminating NUL).
pub const UNIX_PATH_MAX: usize = 107;

/// Why no runtime paths could be made for a guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathsError {
    /// The name would not be one path component.
    #[error("guest name '{name}' cannot name a runtime directory")]
    BadName {
        /// The name.
        name: String,
    },
    /// A socket path would not fit in a unix socket address.
    #[error("socket path {path} is longer than {UNIX_PATH_MAX} bytes")]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
    },
}

/// One guest's runtime and log paths (see the module doc for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimePaths {
    /// The per-guest run directory, created at launch and removed when QEMU is gone.
    pub run_dir: PathBuf,
    /// The QMP socket, where QEMU listens.
    pub qmp_socket: PathBuf,
    /// QEMU's pidfile, written by the daemon after the spawn. It lies outside the run
    /// directory, which belongs to the guest's own uid once confined, so a compromised QEMU
    /// cannot point the daemon at another process.
    pub pidfile: PathBuf,
    /// The VNC socket used when a `<graphics type='vnc'>` listens on a socket without a path.
    pub vnc_socket: PathBuf,
    /// QEMU's stdout and stderr, kept after it exits.
    pub log_file: PathBuf,
}

impl RuntimePaths {
    /// The paths for guest `name` under the daemon's run and state directories.
    pub fn for_guest(run_root: &Path, state_root: &Path, name: &str) -> Result<Self, PathsError> {
        let bad = name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
            || name.len() > 200;
        if bad {
            return Err(PathsError::BadName {
                name: name.to_owned(),
            });
        }
        let run_dir = run_root.join("qemu").join(name);
        let paths = RuntimePaths {
            qmp_socket: run_dir.join("qmp.sock"),
            pidfile: run_root.join("qemu").join(format!("{name}.pid")),
            vnc_socket: run_dir.join("vnc.sock"),
            log_file: state_root.join("qemu").join(format!("{name}.log")),
            run_dir,
        };
        for socket in [&paths.qmp_socket, &paths.vnc_socket] {
            if socket.as_os_str().len() > UNIX_PATH_MAX {
                return Err(PathsError::SocketPathTooLong {
                    path: socket.clone(),
                });
            }
        }
        Ok(paths)
    }

    /// The socket of a unix `<channel>` whose definition gives no path (e.g. the guest agent's
    /// `org.qemu.guest_agent.0`): `RUN/qemu/NAME/<target name>.sock`.
    pub fn channel_socket(&self, target_name: &str) -> PathBuf {
        self.run_dir.join(format!("{target_name}.sock"))
    }

    /// Where QEMU listens for the daemon's console broker on the serial port `port` of a
    /// `<serial type='pty'>` (or a `<console type='pty'>` on it): `RUN/qemu/NAME/console-serialN.sock`.
    /// The jail has no `/dev/pts`, so a pty cannot be opened inside it; a socket in the guest's
    /// own run directory gives the guest nothing new to reach, and only root reaches it from
    /// outside.
    pub fn console_socket(&self, port: u32) -> PathBuf {
        self.run_dir.join(format!("console-serial{port}.sock"))
    }

    /// The files that exist only while QEMU runs (besides channel sockets, which cleanup finds
    /// in the run directory).
    pub fn runtime_files(&self) -> [&Path; 3] {
        [&self.qmp_socket, &self.pidfile, &self.vnc_socket]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_module_doc() {
        let paths =
            RuntimePaths::for_guest(Path::new("/run/moat"), Path::new("/var/lib/moat"), "web1")
                .unwrap();
        assert_eq!(paths.run_dir, Path::new("/run/moat/qemu/web1"));
        assert_eq!(paths.qmp_socket, Path::new("/run/moat/qemu/web1/qmp.sock"));
        assert_eq!(paths.pidfile, Path::new("/run/moat/qemu/web1.pid"));
        assert_eq!(paths.vnc_socket, Path::new("/run/moat/qemu/web1/vnc.sock"));
        assert_eq!(paths.log_file, Path::new("/var/lib/moat/qemu/web1.log"));
        assert_eq!(
            paths.console_socket(0),
            Path::new("/run/moat/qemu/web1/console-serial0.sock")
        );
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        for name in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(
                RuntimePaths::for_guest(Path::new("/run"), Path::new("/var"), name),
                Err(PathsError::BadName {
                    name: name.to_owned()
                })
            );
        }
    }

    #[test]
    fn socket_paths_must_fit_sun_path() {
        let deep = "/run/".to_owned() + &"d".repeat(100);
        let err = RuntimePaths::for_guest(Path::new(&deep), Path::new("/var"), "g").unwrap_err();
        assert!(matches!(err, PathsError::SocketPathTooLong { .. }), "{err}");
    }
}
