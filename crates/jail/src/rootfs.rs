//! The jail's filesystem: a tmpfs root with the binds, a private `/dev` and a
//! fresh `/proc`, then `pivot_root` into it.
//!
//! Runs in `moat-jail` after `unshare(CLONE_NEWNS)`, as root:
//! 1. `/` becomes recursively slave, so nothing below propagates to the host
//!    (while host unmounts still reach the jail).
//! 2. A tmpfs (`mode=0755`, nosuid, nodev) is mounted on `new_root`, which
//!    must be a root-owned directory and not a symlink.
//! 3. Each bind is recreated at the same path under it: parents are `0755`
//!    root dirs in the tmpfs, a symlink source becomes the same symlink (so the
//!    merged-/usr `/lib -> usr/lib` works), a file or directory is bind-mounted
//!    (not recursively: host submounts stay hidden) and remounted nosuid,
//!    nodev, read-only unless writable; the source's noexec and ro are kept.
//!    No bind target may cross a symlink, so an absolute link target can never
//!    point a mount at the host.
//! 4. `/dev` is a tmpfs (`0755`, nosuid, noexec) with only the listed nodes,
//!    each `0600` owned by the guest uid with the host node's type and rdev.
//! 5. `/proc` is a fresh procfs (`hidepid=invisible` when asked).
//! 6. The tmpfs root and `/dev` are remounted read-only.
//! 7. `pivot_root(".", ".")` from inside `new_root`, then the old root is
//!    detached (`MNT_DETACH`) and the cwd becomes `/`.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{mknod, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chown, Gid, Uid};

use crate::confine::JailError;
use crate::spec::{Bind, JailSpec};

const NONE: Option<&str> = None;

/// Steps 1–7 of the module doc.
pub(crate) fn build_and_enter(spec: &JailSpec) -> Result<(), JailError> {
    let root = spec.new_root.as_path();
    // mount(2) follows symlinks: new_root must be the daemon's own directory.
    let root_ok = fs::symlink_metadata(root).and_then(|m| {
        if m.is_dir() && m.uid() == 0 {
            Ok(())
        } else {
            Err(io::Error::other("not a root-owned directory"))
        }
    });
    root_ok.map_err(|source| JailError::MountTmpfs {
        path: root.to_owned(),
        source,
    })?;
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_SLAVE, NONE)
        .map_err(|e| JailError::MakeRootSlave(e.into()))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )
    .map_err(|e| JailError::MountTmpfs {
        path: root.to_owned(),
        source: e.into(),
    })?;

    let root_dev = fs::metadata(root)
        .map_err(|source| JailError::MountTmpfs {
            path: root.to_owned(),
            source,
        })?
        .dev();
    let mut binds: Vec<&Bind> = spec.binds.iter().collect();
    binds.sort_by(|a, b| a.path.cmp(&b.path));
    for bind in binds {
        bind_one(root, root_dev, bind).map_err(|source| JailError::Bind {
            path: bind.path.clone(),
            source,
        })?;
    }

    let dev = root.join("dev");
    make_dir(&dev).map_err(|source| JailError::MountDev { source })?;
    let dev_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        dev_flags,
        Some("mode=0755,size=64k"),
    )
    .map_err(|e| JailError::MountDev { source: e.into() })?;
    let dev_dev = fs::metadata(&dev)
        .map_err(|source| JailError::MountDev { source })?
        .dev();
    for node in &spec.devices {
        make_node(root, dev_dev, &node.path, spec.uid, spec.gid).map_err(|source| {
            JailError::Mknod {
                path: node.path.clone(),
                source,
            }
        })?;
    }

    let proc = root.join("proc");
    let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let proc_data = spec.hide_pids.then_some("hidepid=invisible");
    make_dir(&proc)
        .and_then(|()| {
            mount(Some("proc"), &proc, Some("proc"), proc_flags, proc_data).map_err(io::Error::from)
        })
        .map_err(|source| JailError::MountProc { source })?;

    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    mount(NONE, &dev, NONE, ro | dev_flags, NONE)
        .map_err(|e| JailError::MountDev { source: e.into() })?;
    mount(
        NONE,
        root,
        NONE,
        ro | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        NONE,
    )
    .map_err(|e| JailError::MountTmpfs {
        path: root.to_owned(),
        source: e.into(),
    })?;

    nix::unistd::chdir(root).map_err(|e| JailError::PivotRoot(e.into()))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| JailError::PivotRoot(e.into()))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| JailError::UnmountOldRoot(e.into()))?;
    nix::unistd::chdir("/").map_err(|e| JailError::PivotRoot(e.into()))?;
    Ok(())
}

/// `path` (absolute) as seen from the host under `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn make_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o755).create(path)
}

/// Fails unless `dir` is on the jail's own tmpfs (device `dev`): nothing may
/// be created inside a bound host directory.
fn on_tmpfs(dir: &Path, dev: u64) -> io::Result<()> {
    if fs::metadata(dir)?.dev() == dev {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{} is a bound host directory; the jail creates nothing there",
            dir.display()
        )))
    }
}

/// Creates the missing parents of `path` under `root` (0755 root dirs, only
/// on the tmpfs `dev`), refusing any component that is not a plain directory,
/// and returns the target path.
fn prepare_target(root: &Path, dev: u64, path: &Path) -> io::Result<PathBuf> {
    let target = under(root, path);
    let mut walked = root.to_path_buf();
    let parent = path.parent().unwrap_or(Path::new("/"));
    for component in parent.components().skip(1) {
        walked.push(component);
        match fs::symlink_metadata(&walked) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} inside the jail is a symlink or file, not a directory",
                    walked.strip_prefix(root).unwrap_or(&walked).display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                on_tmpfs(walked.parent().unwrap_or(root), dev)?;
                make_dir(&walked)?;
            }
            Err(e) => return Err(e),
        }
    }
    match fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(io::Error::other("the target inside the jail is a symlink"))
        }
        Ok(_) => Ok(target),
        Err(_) => {
            on_tmpfs(target.parent().unwrap_or(root), dev)?;
            Ok(target)
        }
    }
}

fn bind_one(root: &Path, dev: u64, bind: &Bind) -> io::Result<()> {
    let source = bind.path.as_path();
    let meta = fs::symlink_metadata(source)?;
    let target = prepare_target(root, dev, source)?;
    if meta.file_type().is_symlink() {
        return symlink(fs::read_link(source)?, &target);
    }
    if meta.is_dir() {
        match make_dir(&target) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    } else {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&target)?;
    }
    mount(Some(source), &target, NONE, MsFlags::MS_BIND, NONE)?;
    let host = statvfs(source)?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if !bind.writable || host.contains(FsFlags::ST_RDONLY) {
        flags |= MsFlags::MS_RDONLY;
    }
    if host.contains(FsFlags::ST_NOEXEC) {
        flags |= MsFlags::MS_NOEXEC;
    }
    mount(NONE, &target, NONE, flags, NONE)?;
    Ok(())
}

fn make_node(root: &Path, dev: u64, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let host = nix::sys::stat::stat(path)?;
    let kind = SFlag::from_bits_truncate(host.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFCHR && kind != SFlag::S_IFBLK {
        return Err(io::Error::other(
            "not a character or block device on the host",
        ));
    }
    let target = prepare_target(root, dev, path)?;
    let mode = Mode::S_IRUSR | Mode::S_IWUSR;
    mknod(&target, kind, mode, host.st_rdev)?;
    chown(&target, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    nix::sys::stat::fchmodat(
        None,
        &target,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    Ok(())
}
