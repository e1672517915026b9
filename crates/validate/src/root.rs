//! Root-aware file access: the only place in this crate that touches the filesystem.
//!
//! Every check names host paths as the running system sees them (`/etc/fstab`,
//! `/proc/net/tcp`) and reads them through a [`HostRoot`], which joins them onto a base
//! directory: `/` on the live host, a mounted image with `moat validate --root DIR`, or a
//! fixture tree that a test built in a tempdir. Symbolic links met while resolving a path are
//! followed *inside* the root, like a chroot would, so that an absolute link in a mounted image
//! (`/etc/systemd/system/foo.service -> /dev/null`) never leads back to the host running the
//! checks.
//!
//! Absent files are an ordinary answer (`Ok(None)`, an empty listing), not an error: most
//! checks ask "is this configured at all". Every other I/O failure becomes a [`RootError`] that
//! names the host path.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Files larger than this are read only up to this size: nothing the checks read is that big,
/// and a stray device node must not make a check read forever.
const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// How many symbolic links one path resolution may follow (the kernel's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// A failure to read something under the root, with the host path it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootError {
    /// Reading a file failed.
    #[error("cannot read {path}")]
    Read {
        /// Host path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Listing a directory failed.
    #[error("cannot list {path}")]
    ReadDir {
        /// Host path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading a symbolic link failed.
    #[error("cannot read link {path}")]
    ReadLink {
        /// Host path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading an extended attribute failed.
    #[error("cannot read attribute {name} of {path}")]
    Xattr {
        /// Host path.
        path: String,
        /// Attribute name.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A path has more symbolic links than the kernel would follow.
    #[error("too many levels of symbolic links resolving {path}")]
    SymlinkLoop {
        /// Host path.
        path: String,
    },
}

/// What kind of file a directory entry or path is, without following a final symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device node, socket or FIFO.
    Other,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// File name within the directory.
    pub name: String,
    /// The entry's host path.
    pub path: String,
    /// Its kind (a symlink is reported as such, not followed).
    pub kind: FileKind,
}

/// The base directory that host paths are read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    base: PathBuf,
}

impl HostRoot {
    /// A root at `base` (`/` for the running system).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        HostRoot { base: base.into() }
    }

    /// The base directory.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Whether the base directory exists and is a directory.
    pub fn base_is_dir(&self) -> bool {
        self.base.is_dir()
    }

    /// Where the host path `path` is on this machine, without resolving links.
    pub fn join(&self, path: &str) -> PathBuf {
        let relative = path.trim_start_matches('/');
        if relative.is_empty() {
            self.base.clone()
        } else {
            self.base.join(relative)
        }
    }

    /// The text of a file, or `None` when it does not exist. Invalid UTF-8 is replaced.
    pub fn read(&self, path: &str) -> Result<Option<String>, RootError> {
        let Some(real) = self.locate(path)? else {
            return Ok(None);
        };
        let wrap = |source| RootError::Read {
            path: path.to_owned(),
            source,
        };
        let file = match fs::File::open(&real) {
            Ok(file) => file,
            Err(err) if is_absent(&err) => return Ok(None),
            Err(err) => return Err(wrap(err)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_READ_BYTES)
            .read_to_end(&mut bytes)
            .map_err(wrap)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The entries of a directory sorted by name, or an empty list when it does not exist.
    pub fn list(&self, path: &str) -> Result<Vec<DirEntry>, RootError> {
        let Some(real) = self.locate(path)? else {
            return Ok(Vec::new());
        };
        let wrap = |source| RootError::ReadDir {
            path: path.to_owned(),
            source,
        };
        let entries = match fs::read_dir(&real) {
            Ok(entries) => entries,
            Err(err) if is_absent(&err) => return Ok(Vec::new()),
            Err(err) => return Err(wrap(err)),
        };
        let mut listing = Vec::new();
        for entry in entries {
            let entry = entry.map_err(wrap)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = match entry.file_type() {
                Ok(kind) => file_kind(kind),
                // The entry vanished between the listing and the stat (a /proc pid exiting).
                Err(err) if is_absent(&err) => continue,
                Err(err) => return Err(wrap(err)),
            };
            let child = format!("{}/{}", path.trim_end_matches('/'), name);
            listing.push(DirEntry {
                name,
                path: child,
                kind,
            });
        }
        listing.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listing)
    }

    /// The kind of the file at `path` (a final symlink is not followed), or `None` when absent.
    pub fn kind(&self, path: &str) -> Result<Option<FileKind>, RootError> {
        let Some(parent_resolved) = self.locate_parent(path)? else {
            return Ok(None);
        };
        match fs::symlink_metadata(&parent_resolved) {
            Ok(meta) => Ok(Some(file_kind(meta.file_type()))),
            Err(err) if is_absent(&err) => Ok(None),
            Err(source) => Err(RootError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Whether `path` exists, following links inside the root.
    pub fn exists(&self, path: &str) -> Result<bool, RootError> {
        Ok(self.locate(path)?.is_some())
    }

    /// The target of the symbolic link at `path` as written, or `None` when `path` is not a
    /// link (or absent).
    pub fn link_target(&self, path: &str) -> Result<Option<String>, RootError> {
        let Some(real) = self.locate_parent(path)? else {
            return Ok(None);
        };
        match fs::read_link(&real) {
            Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
            Err(err) if is_absent(&err) || err.kind() == io::ErrorKind::InvalidInput => Ok(None),
            Err(source) => Err(RootError::ReadLink {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The host path that `path` names once every symbolic link is resolved inside the root,
    /// or `None` when some component does not exist.
    pub fn canonical(&self, path: &str) -> Result<Option<String>, RootError> {
        self.resolve(path, true)
    }

    /// An extended attribute of the file at `path` (following links inside the root), or
    /// `None` when the file or the attribute is absent.
    pub fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, RootError> {
        let Some(real) = self.locate(path)? else {
            return Ok(None);
        };
        let mut buffer = vec![0u8; 4096];
        match rustix::fs::lgetxattr(&real, name, &mut buffer) {
            Ok(len) => {
                buffer.truncate(len);
                Ok(Some(buffer))
            }
            Err(errno)
                if errno == rustix::io::Errno::NODATA
                    || errno == rustix::io::Errno::NOENT
                    || errno == rustix::io::Errno::NOTSUP =>
            {
                Ok(None)
            }
            Err(errno) => Err(RootError::Xattr {
                path: path.to_owned(),
                name: name.to_owned(),
                source: io::Error::from(errno),
            }),
        }
    }

    /// The real path of `path` with every link resolved, or `None` when absent.
    fn locate(&self, path: &str) -> Result<Option<PathBuf>, RootError> {
        Ok(self.resolve(path, true)?.map(|host| self.join(&host)))
    }

    /// The real path of `path` with links resolved in its parent directories only.
    fn locate_parent(&self, path: &str) -> Result<Option<PathBuf>, RootError> {
        Ok(self.resolve(path, false)?.map(|host| self.join(&host)))
    }

    /// Resolves `path` component by component, following links inside the root. With
    /// `follow_last` false, a link in the last component is kept as it is.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<Option<String>, RootError> {
        let mut pending: Vec<String> = components(path).into_iter().rev().collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(part);
            let is_last = pending.is_empty();
            if is_last && !follow_last {
                break;
            }
            let host = format!("/{}", resolved.join("/"));
            let real = self.join(&host);
            let meta = match fs::symlink_metadata(&real) {
                Ok(meta) => meta,
                Err(err) if is_absent(&err) => return Ok(None),
                Err(source) => return Err(RootError::Read { path: host, source }),
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(RootError::SymlinkLoop {
                    path: path.to_owned(),
                });
            }
            let target = fs::read_link(&real).map_err(|source| RootError::ReadLink {
                path: host.clone(),
                source,
            })?;
            let target = target.to_string_lossy().into_owned();
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(components(&target).into_iter().rev());
        }
        Ok(Some(format!("/{}", resolved.join("/"))))
    }
}

/// Reads a file named by the user on the command line (not a host path under the root).
pub fn read_user_file(path: &Path) -> Result<String, RootError> {
    fs::read_to_string(path).map_err(|source| RootError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|component| match component {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn file_kind(kind: fs::FileType) -> FileKind {
    if kind.is_symlink() {
        FileKind::Symlink
    } else if kind.is_dir() {
        FileKind::Dir
    } else if kind.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

fn is_absent(err: &io::Error) -> bool {
    // ENOTDIR (a path component is a file) and ESRCH (a /proc pid exited) mean "not there" too.
    let code = err.raw_os_error();
    err.kind() == io::ErrorKind::NotFound
        || code == Some(rustix::io::Errno::NOTDIR.raw_os_error())
        || code == Some(rustix::io::Errno::SRCH.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        (dir, root)
    }

    #[test]
    fn absent_files_are_none_and_listings_empty() {
        let (_dir, root) = tree();
        assert_eq!(root.read("/etc/fstab").unwrap(), None);
        assert!(root.list("/etc/systemd/system").unwrap().is_empty());
        assert!(!root.exists("/dev/kvm").unwrap());
        assert_eq!(root.kind("/etc").unwrap(), None);
    }

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let (dir, root) = tree();
        fs::create_dir_all(dir.path().join("etc/alt")).unwrap();
        fs::write(dir.path().join("etc/alt/real.conf"), "inside").unwrap();
        symlink("/etc/alt/real.conf", dir.path().join("etc/link.conf")).unwrap();
        // A link to /etc/passwd must read the fixture's (absent) file, not the host's.
        symlink("/etc/passwd", dir.path().join("etc/escape")).unwrap();
        assert_eq!(
            root.read("/etc/link.conf").unwrap().as_deref(),
            Some("inside")
        );
        assert_eq!(root.read("/etc/escape").unwrap(), None);
        assert_eq!(
            root.canonical("/etc/link.conf").unwrap().as_deref(),
            Some("/etc/alt/real.conf")
        );
        assert_eq!(
            root.link_target("/etc/link.conf").unwrap().as_deref(),
            Some("/etc/alt/real.conf")
        );
        assert_eq!(
            root.kind("/etc/link.conf").unwrap(),
            Some(FileKind::Symlink)
        );
    }

    #[test]
    fn relative_links_and_dotdot_resolve() {
        let (dir, root) = tree();
        fs::create_dir_all(dir.path().join("dev/disk/by-id")).unwrap();
        fs::write(dir.path().join("dev/sdb"), "").unwrap();
        symlink("../../sdb", dir.path().join("dev/disk/by-id/ata-disk")).unwrap();
        assert_eq!(
            root.canonical("/dev/disk/by-id/ata-disk")
                .unwrap()
                .as_deref(),
            Some("/dev/sdb")
        );
    }

    #[test]
    fn link_loops_are_an_error_naming_the_path() {
        let (dir, root) = tree();
        symlink("/b", dir.path().join("a")).unwrap();
        symlink("/a", dir.path().join("b")).unwrap();
        let err = root.read("/a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "too many levels of symbolic links resolving /a"
        );
    }

    #[test]
    fn listing_is_sorted_with_host_paths() {
        let (dir, root) = tree();
        fs::create_dir_all(dir.path().join("etc/x")).unwrap();
        fs::write(dir.path().join("etc/x/b"), "").unwrap();
        fs::write(dir.path().join("etc/x/a"), "").unwrap();
        let names: Vec<_> = root
            .list("/etc/x")
            .unwrap()
            .into_iter()
            .map(|entry| entry.path)
            .collect();
        assert_eq!(names, ["/etc/x/a", "/etc/x/b"]);
    }
}
