//! Per-guest cgroups, made by the daemon (root) before it spawns `moat-jail`
//! and removed after the guest exits. The jail only writes its pid into the
//! [`GuestCgroup::procs_files`].
//!
//! The layout is read from mountinfo text (normally `/proc/self/mountinfo`),
//! keeping only mounts under `root`, so tests use fixture trees:
//! - **v1**: one `cgroup` mount per controller (or co-mounted group), e.g.
//!   `<root>/memory`. The guest gets `<mnt>/<parent>/<id>` in each controller
//!   it needs (`memory`, `pids`, `cpu`, and `devices` when rules are given).
//! - **v2**: one `cgroup2` mount; `<mnt>/<parent>/<id>`, with the needed
//!   controllers enabled in each ancestor's `cgroup.subtree_control`.
//! - **hybrid** (this host): v1 controllers plus a `cgroup2` mount at
//!   `<root>/unified`; a controller is taken from v1 when mounted there, else
//!   from v2 when that lists it in `cgroup.controllers`.
//!
//! Limits: memory (v1 `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`
//! when swap accounting exists; v2 `memory.max` and `memory.swap.max = 0`),
//! pids (`pids.max`), CPU weight (v2 `cpu.weight`; v1 `cpu.shares = weight *
//! 1024 / 100`, systemd's mapping) and the device allowlist (v1 `devices.deny
//! a` then `devices.allow`; v2 would need a BPF program, so it is skipped and
//! [`GuestCgroup::devices_enforced`] says so).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`GuestCgroup::remove`] retries while the last tasks drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Errors making, finding or removing a guest cgroup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// Reading mountinfo failed.
    #[error("read {path}")]
    Mountinfo {
        /// The mountinfo file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No cgroup hierarchy is mounted under the root.
    #[error("no cgroup hierarchy mounted under {root}")]
    NoHierarchy {
        /// The cgroup root.
        root: PathBuf,
    },
    /// A limit needs a controller this host does not offer.
    #[error("cgroup controller {controller} is not available under {root}")]
    ControllerMissing {
        /// The controller.
        controller: &'static str,
        /// The cgroup root.
        root: PathBuf,
    },
    /// The parent or id is not a plain relative name.
    #[error("bad cgroup name {name:?}")]
    BadName {
        /// The name.
        name: String,
    },
    /// Creating a directory failed.
    #[error("create {path}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing a control file failed.
    #[error("write {value:?} to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Removing a directory failed (also after the drain timeout).
    #[error("remove {path}")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading a device node for a device rule failed.
    #[error("stat device {path}")]
    Device {
        /// The node.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Limits for one guest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Memory (and memory+swap) limit in bytes.
    pub memory_bytes: Option<u64>,
    /// Maximum number of tasks (processes and threads).
    pub pids: Option<u64>,
    /// CPU weight, 1–10000, default 100 (mapped to shares in v1).
    pub cpu_weight: Option<u64>,
    /// Device allowlist (v1 only; everything else denied when non-empty).
    pub devices: Vec<DeviceRule>,
}

/// One v1 `devices.allow` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// Character, block or both.
    pub kind: DeviceKind,
    /// Major number, `None` = any.
    pub major: Option<u32>,
    /// Minor number, `None` = any.
    pub minor: Option<u32>,
    /// Allow reading.
    pub read: bool,
    /// Allow writing.
    pub write: bool,
    /// Allow mknod.
    pub mknod: bool,
}

/// The device type a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// `c`.
    Char,
    /// `b`.
    Block,
    /// `a`.
    All,
}

impl DeviceRule {
    /// A rule for the host node at `path`: read, plus write when `writable`,
    /// plus mknod: `moat-jail` joins the cgroup before it makes the node in
    /// the private `/dev`, and the guest itself never has `CAP_MKNOD`.
    pub fn for_node(path: &Path, writable: bool) -> Result<Self, CgroupError> {
        use std::os::unix::fs::MetadataExt;
        let err = |source| CgroupError::Device {
            path: path.to_owned(),
            source,
        };
        let meta = fs::metadata(path).map_err(err)?;
        let kind = if meta.file_type().is_char_device() {
            DeviceKind::Char
        } else if meta.file_type().is_block_device() {
            DeviceKind::Block
        } else {
            return Err(err(io::Error::other("not a device node")));
        };
        let rdev = meta.rdev();
        Ok(Self {
            kind,
            major: Some(nix::sys::stat::major(rdev).try_into().unwrap_or(u32::MAX)),
            minor: Some(nix::sys::stat::minor(rdev).try_into().unwrap_or(u32::MAX)),
            read: true,
            write: writable,
            mknod: true,
        })
    }

    /// The `devices.allow` line, e.g. `c 10:232 rw`.
    pub fn to_line(&self) -> String {
        let kind = match self.kind {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
            DeviceKind::All => 'a',
        };
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        let mut access = String::new();
        for (on, c) in [(self.read, 'r'), (self.write, 'w'), (self.mknod, 'm')] {
            if on {
                access.push(c);
            }
        }
        format!("{kind} {}:{} {access}", num(self.major), num(self.minor))
    }
}

/// The cgroup hierarchies mounted under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLayout {
    root: PathBuf,
    /// v1 controller name → its mount point.
    v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount, if any.
    unified: Option<PathBuf>,
}

/// The v1 controller names we recognise in mount options.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl CgroupLayout {
    /// Reads the layout from `/proc/self/mountinfo`, keeping mounts under `root`.
    pub fn read(root: &Path) -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(|source| CgroupError::Mountinfo {
            path: path.to_owned(),
            source,
        })?;
        Self::detect(root, &text)
    }

    /// Parses mountinfo text, keeping cgroup mounts under `root`.
    pub fn detect(root: &Path, mountinfo: &str) -> Result<Self, CgroupError> {
        let mut v1 = BTreeMap::new();
        let mut unified = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4).map(unescape) else {
                continue;
            };
            let mut right = right.split(' ');
            let (Some(fstype), Some(_source), Some(options)) =
                (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let mount_point = PathBuf::from(mount_point);
            if !mount_point.starts_with(root) {
                continue;
            }
            match fstype {
                "cgroup2" => unified = Some(mount_point),
                "cgroup" => {
                    for opt in options.split(',').filter(|o| V1_CONTROLLERS.contains(o)) {
                        v1.insert(opt.to_owned(), mount_point.clone());
                    }
                }
                _ => {}
            }
        }
        if v1.is_empty() && unified.is_none() {
            return Err(CgroupError::NoHierarchy {
                root: root.to_owned(),
            });
        }
        Ok(Self {
            root: root.to_owned(),
            v1,
            unified,
        })
    }

    /// True when v1 controllers are mounted.
    pub fn has_v1(&self) -> bool {
        !self.v1.is_empty()
    }

    /// The cgroup2 mount, if any.
    pub fn unified(&self) -> Option<&Path> {
        self.unified.as_deref()
    }

    /// Where `controller` lives: `Some(Ok(v1 mount))`, `Some(Err(v2 mount))`, or `None`.
    fn place(&self, controller: &str) -> Option<Result<&Path, &Path>> {
        if let Some(mnt) = self.v1.get(controller) {
            return Some(Ok(mnt));
        }
        let unified = self.unified.as_deref()?;
        let listed = fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
        listed
            .split_whitespace()
            .any(|c| c == controller)
            .then_some(Err(unified))
    }
}

/// The cgroup directories of one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestCgroup {
    dirs: Vec<PathBuf>,
    devices_enforced: bool,
}

impl GuestCgroup {
    /// Creates the guest's cgroups under `root` (e.g. `/sys/fs/cgroup`) at
    /// `<parent>/<id>` and writes `limits`. On failure nothing is left behind.
    pub fn create(
        root: &Path,
        parent: &str,
        id: &str,
        limits: &CgroupLimits,
    ) -> Result<Self, CgroupError> {
        Self::create_in(&CgroupLayout::read(root)?, parent, id, limits)
    }

    /// [`GuestCgroup::create`] with a layout already detected.
    pub fn create_in(
        layout: &CgroupLayout,
        parent: &str,
        id: &str,
        limits: &CgroupLimits,
    ) -> Result<Self, CgroupError> {
        check_name(parent, true)?;
        check_name(id, false)?;
        let mut cg = Self {
            dirs: Vec::new(),
            devices_enforced: false,
        };
        match cg.fill(layout, parent, id, limits) {
            Ok(()) => Ok(cg),
            Err(e) => {
                // Best effort: the error that matters is the first one.
                let _ = cg.remove();
                Err(e)
            }
        }
    }

    fn fill(
        &mut self,
        layout: &CgroupLayout,
        parent: &str,
        id: &str,
        limits: &CgroupLimits,
    ) -> Result<(), CgroupError> {
        let missing = |controller| CgroupError::ControllerMissing {
            controller,
            root: layout.root.clone(),
        };
        // Each controller we use, and whether a limit requires it.
        let wanted: [(&'static str, bool); 4] = [
            ("memory", limits.memory_bytes.is_some()),
            ("pids", limits.pids.is_some()),
            ("cpu", limits.cpu_weight.is_some()),
            ("devices", !limits.devices.is_empty()),
        ];
        for (controller, required) in wanted {
            let place = if controller == "devices" {
                // Only v1 has a devices file interface; v2 would need BPF.
                layout.v1.get("devices").map(|m| Ok(m.as_path()))
            } else {
                layout.place(controller)
            };
            let Some(place) = place else {
                if controller == "devices" {
                    continue;
                }
                if required {
                    return Err(missing(controller));
                }
                continue;
            };
            // memory and pids are always accounted when v1 offers them.
            let always = matches!(controller, "memory" | "pids") && place.is_ok();
            if !required && !always {
                continue;
            }
            let dir = match place {
                Ok(mnt) => self.make_dir(mnt, parent, id, None)?,
                Err(mnt) => self.make_dir(mnt, parent, id, Some(controller))?,
            };
            let v2 = place.is_err();
            match controller {
                "memory" => {
                    if let Some(bytes) = limits.memory_bytes {
                        let bytes = bytes.to_string();
                        if v2 {
                            write(&dir, "memory.max", &bytes)?;
                            write_if_present(&dir, "memory.swap.max", "0")?;
                        } else {
                            write(&dir, "memory.limit_in_bytes", &bytes)?;
                            write_if_present(&dir, "memory.memsw.limit_in_bytes", &bytes)?;
                        }
                    }
                }
                "pids" => {
                    if let Some(pids) = limits.pids {
                        write(&dir, "pids.max", &pids.to_string())?;
                    }
                }
                "cpu" => {
                    if let Some(weight) = limits.cpu_weight {
                        let weight = weight.clamp(1, 10_000);
                        if v2 {
                            write(&dir, "cpu.weight", &weight.to_string())?;
                        } else {
                            let shares = (weight * 1024 / 100).clamp(2, 262_144);
                            write(&dir, "cpu.shares", &shares.to_string())?;
                        }
                    }
                }
                _ => {
                    if !limits.devices.is_empty() {
                        write(&dir, "devices.deny", "a")?;
                        for rule in &limits.devices {
                            write(&dir, "devices.allow", &rule.to_line())?;
                        }
                        self.devices_enforced = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes `<mnt>/<parent>/<id>` (parents as needed), remembering it; for
    /// v2, enables `controller` in every ancestor's subtree_control first.
    fn make_dir(
        &mut self,
        mnt: &Path,
        parent: &str,
        id: &str,
        controller: Option<&str>,
    ) -> Result<PathBuf, CgroupError> {
        let dir = mnt.join(parent).join(id);
        let mut at = mnt.to_path_buf();
        for part in Path::new(parent).components() {
            if let Some(c) = controller {
                write(&at, "cgroup.subtree_control", &format!("+{c}"))?;
            }
            at.push(part);
            match fs::create_dir(&at) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(CgroupError::Create {
                        path: at,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        if let Some(c) = controller {
            write(&at, "cgroup.subtree_control", &format!("+{c}"))?;
        }
        if !self.dirs.contains(&dir) {
            fs::create_dir(&dir).map_err(|source| CgroupError::Create {
                path: dir.clone(),
                source,
            })?;
            self.dirs.push(dir.clone());
        }
        Ok(dir)
    }

    /// Finds the cgroups of a guest made earlier (after a daemon restart);
    /// `None` when none exist.
    pub fn find(root: &Path, parent: &str, id: &str) -> Result<Option<Self>, CgroupError> {
        Self::find_in(&CgroupLayout::read(root)?, parent, id)
    }

    /// [`GuestCgroup::find`] with a layout already detected.
    pub fn find_in(
        layout: &CgroupLayout,
        parent: &str,
        id: &str,
    ) -> Result<Option<Self>, CgroupError> {
        check_name(parent, true)?;
        check_name(id, false)?;
        let mut mounts: Vec<&PathBuf> = layout.v1.values().chain(&layout.unified).collect();
        mounts.sort();
        mounts.dedup();
        let dirs: Vec<PathBuf> = mounts
            .into_iter()
            .map(|m| m.join(parent).join(id))
            .filter(|d| d.is_dir())
            .collect();
        let devices_enforced = layout
            .v1
            .get("devices")
            .is_some_and(|m| dirs.contains(&m.join(parent).join(id)));
        Ok((!dirs.is_empty()).then_some(Self {
            dirs,
            devices_enforced,
        }))
    }

    /// The directories, one per hierarchy used.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The `cgroup.procs` files the jail writes its pid into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The pids in the guest's cgroups (deduplicated).
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .procs_files()
            .iter()
            .filter_map(|f| fs::read_to_string(f).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Whether a device allowlist is enforced (v1 `devices`; false on v2).
    pub fn devices_enforced(&self) -> bool {
        self.devices_enforced
    }

    /// Removes every directory, retrying while tasks drain (up to a few
    /// seconds). Already-removed directories are fine, so this is idempotent.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first_err = None;
        for dir in self.dirs.iter().rev() {
            let deadline = Instant::now() + DRAIN_TIMEOUT;
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(source) => {
                        first_err.get_or_insert(CgroupError::Remove {
                            path: dir.clone(),
                            source,
                        });
                        break;
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn check_name(name: &str, nested: bool) -> Result<(), CgroupError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || (!nested && name.contains('/'))
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || name.chars().any(|c| c.is_control() || c == '\n');
    if bad {
        Err(CgroupError::BadName {
            name: name.to_owned(),
        })
    } else {
        Ok(())
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|source| CgroupError::Write {
        path,
        value: value.to_owned(),
        source,
    })
}

fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        Ok(())
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture: the mountinfo text of this host's hybrid layout, rebased on `root`.
    fn hybrid_mountinfo(root: &Path) -> String {
        let r = root.display();
        format!(
            "25 1 0:23 / / rw - ext4 /dev/vda rw\n\
             31 23 0:28 / {r} rw,relatime - tmpfs tmpfs rw,mode=755\n\
             32 31 0:29 / {r}/cpu rw,relatime - cgroup cgroup rw,cpu\n\
             35 31 0:32 / {r}/memory rw,relatime - cgroup cgroup rw,memory\n\
             36 31 0:33 / {r}/devices rw,relatime - cgroup cgroup rw,devices\n\
             39 31 0:36 / {r}/pids rw,relatime - cgroup cgroup rw,pids\n\
             40 31 0:37 / {r}/systemd rw,relatime - cgroup cgroup rw,name=systemd\n\
             41 31 0:38 / {r}/unified rw,relatime - cgroup2 cgroup2 rw\n\
             50 1 0:40 / /elsewhere rw - cgroup cgroup rw,freezer\n"
        )
    }

    fn fixture_dirs(root: &Path, dirs: &[&str]) {
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn detects_hybrid_and_ignores_other_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = CgroupLayout::detect(tmp.path(), &hybrid_mountinfo(tmp.path())).unwrap();
        assert!(layout.has_v1());
        assert_eq!(layout.unified(), Some(tmp.path().join("unified").as_path()));
        assert_eq!(
            layout.v1.keys().collect::<Vec<_>>(),
            ["cpu", "devices", "memory", "pids"]
        );
        assert!(
            !layout.v1.contains_key("freezer"),
            "mount outside root must be ignored"
        );
    }

    #[test]
    fn detects_v1_comounted_and_pure_v2() {
        let info = "1 0 0:1 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let layout = CgroupLayout::detect(Path::new("/cg"), info).unwrap();
        assert_eq!(layout.v1["cpuacct"], Path::new("/cg/cpu,cpuacct"));
        assert_eq!(layout.unified(), None);

        let info = "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = CgroupLayout::detect(Path::new("/sys/fs/cgroup"), info).unwrap();
        assert!(!layout.has_v1());
        assert_eq!(layout.unified(), Some(Path::new("/sys/fs/cgroup")));

        let err = CgroupLayout::detect(Path::new("/nowhere"), info).unwrap_err();
        assert!(matches!(err, CgroupError::NoHierarchy { .. }));
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
    }

    #[test]
    fn hybrid_create_find_remove_on_fixture() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fixture_dirs(root, &["cpu", "memory", "devices", "pids", "unified"]);
        fs::write(root.join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        let layout = CgroupLayout::detect(root, &hybrid_mountinfo(root)).unwrap();
        let kvm = DeviceRule {
            kind: DeviceKind::Char,
            major: Some(10),
            minor: Some(232),
            read: true,
            write: true,
            mknod: false,
        };
        let limits = CgroupLimits {
            memory_bytes: Some(64 << 20),
            pids: Some(16),
            cpu_weight: Some(100),
            devices: vec![kvm],
        };
        let cg = GuestCgroup::create_in(&layout, "moat", "vm1", &limits).unwrap();
        assert_eq!(cg.dirs().len(), 4);
        assert!(cg.devices_enforced());
        let mem = root.join("memory/moat/vm1");
        assert_eq!(
            fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
            "67108864"
        );
        assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
        assert_eq!(
            fs::read_to_string(root.join("pids/moat/vm1/pids.max")).unwrap(),
            "16"
        );
        assert_eq!(
            fs::read_to_string(root.join("cpu/moat/vm1/cpu.shares")).unwrap(),
            "1024"
        );
        // A plain file keeps only the last write: the allow line.
        let allow = fs::read_to_string(root.join("devices/moat/vm1/devices.allow")).unwrap();
        assert_eq!(allow, "c 10:232 rw");
        assert!(cg
            .procs_files()
            .contains(&root.join("pids/moat/vm1/cgroup.procs")));
        assert!(
            !root.join("unified/moat").exists(),
            "hugetlb-only v2 is not used"
        );

        let found = GuestCgroup::find_in(&layout, "moat", "vm1")
            .unwrap()
            .unwrap();
        assert_eq!(found.dirs().len(), 4);
        // Fixture dirs hold the control files we wrote, so rmdir fails (ENOTEMPTY)
        // as a real busy cgroup would after the timeout; empty them first.
        for d in cg.dirs() {
            for f in fs::read_dir(d).unwrap() {
                fs::remove_file(f.unwrap().path()).unwrap();
            }
        }
        cg.remove().unwrap();
        cg.remove().unwrap();
        assert!(GuestCgroup::find_in(&layout, "moat", "vm1")
            .unwrap()
            .is_none());
    }

    #[test]
    fn v2_enables_controllers_and_skips_devices() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let info = format!("1 0 0:1 / {} rw - cgroup2 cgroup2 rw\n", root.display());
        let layout = CgroupLayout::detect(root, &info).unwrap();
        let limits = CgroupLimits {
            memory_bytes: Some(1 << 30),
            pids: Some(64),
            cpu_weight: Some(200),
            devices: vec![DeviceRule {
                kind: DeviceKind::All,
                major: None,
                minor: None,
                read: true,
                write: false,
                mknod: false,
            }],
        };
        let cg = GuestCgroup::create_in(&layout, "moat", "vm2", &limits).unwrap();
        assert_eq!(cg.dirs(), [root.join("moat/vm2")]);
        assert!(!cg.devices_enforced());
        let dir = root.join("moat/vm2");
        assert_eq!(fs::read_to_string(dir.join("cpu.weight")).unwrap(), "200");
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).unwrap(),
            "1073741824"
        );
        // Each ancestor got the last enabled controller (plain files in the fixture).
        assert_eq!(
            fs::read_to_string(root.join("moat/cgroup.subtree_control")).unwrap(),
            "+cpu"
        );
    }

    #[test]
    fn missing_controller_and_bad_names_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fixture_dirs(root, &["cpu"]);
        let info = format!(
            "1 0 0:1 / {}/cpu rw - cgroup cgroup rw,cpu\n",
            root.display()
        );
        let layout = CgroupLayout::detect(root, &info).unwrap();
        let limits = CgroupLimits {
            pids: Some(1),
            ..CgroupLimits::default()
        };
        let err = GuestCgroup::create_in(&layout, "moat", "vm", &limits).unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::ControllerMissing {
                    controller: "pids",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!root.join("cpu/moat/vm").exists());
        for bad in ["", "..", "a/b", "/x"] {
            let err = GuestCgroup::create_in(&layout, "moat", bad, &limits).unwrap_err();
            assert!(matches!(err, CgroupError::BadName { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn device_rule_lines() {
        let rule = DeviceRule::for_node(Path::new("/dev/null"), true).unwrap();
        assert_eq!(rule.to_line(), "c 1:3 rwm");
        DeviceRule::for_node(Path::new("/etc/hostname"), false).unwrap_err();
    }
}
