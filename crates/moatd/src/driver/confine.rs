//! How one guest is confined: what it may be given (T12), and the jail its QEMU runs in.
//!
//! A start goes through these steps, each of which the stop undoes in reverse:
//!
//! 1. [`check_disks`]: every local disk layer lies under a configured image directory (guide
//!    2.2, the central image store), and no whole host disk is given writable unless the
//!    configuration allows it;
//! 2. the security stack generates the guest's labels (an MCS pair under SELinux, its own uid
//!    and gid, the Landlock ruleset's name) and labels and hands over its resources
//!    (`security::SecurityStack::set_all`);
//! 3. [`create_cgroup`] creates the guest's cgroup with its memory, pids, cpu and device limits;
//! 4. [`Jail::spec`] describes the mount namespace (system directories read-only, the guest's
//!    own resources at their paths, its run directory, a private `/dev`), the uid, rlimits,
//!    Landlock rules derived from the same resources, and the seccomp filter; `moat-jail`
//!    applies it and executes QEMU.
//!
//! The live labels are written to `RUN/qemu/NAME.xml` (root's, outside anything the guest can
//! write) so that a restarted daemon reserves them again and restores the guest's files when
//! it stops.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use domxml::model::{DiskType, Domain, DomainType, GraphicsType, Seclabel};
use jail::cgroup::{CgroupLimits, DeviceRule, GuestCgroup};
use jail::{Bind, DeviceNode, JailSpec, LandlockRules, Rlimit, RlimitResource};
use security::resources::{Access, Resource, ResourceKind};

use crate::config::Config;

/// Where cgroup file systems are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Open files a guest's QEMU may hold.
const GUEST_NOFILE: u64 = 8192;

/// Memory a guest's QEMU may use beyond the guest's RAM when `<memtune><hard_limit>` is not
/// given: at least this much, or half the RAM if that is more (TCG's translation cache, device
/// buffers, the block layer).
const MEMORY_OVERHEAD_MIN: u64 = 512 * 1024 * 1024;

/// Device nodes every guest's private `/dev` holds, with whether they are writable.
const BASE_DEVICES: &[(&str, bool)] = &[
    ("/dev/null", true),
    ("/dev/zero", true),
    ("/dev/full", true),
    ("/dev/random", false),
    ("/dev/urandom", false),
];

/// Checks the guide's rules on what storage a guest may be given (T12); the error says which
/// disk, why, and what to do.
pub fn check_disks(def: &Domain, config: &Config) -> Result<(), String> {
    let dirs: Vec<PathBuf> = config
        .image_dirs
        .iter()
        .map(|dir| fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()))
        .collect();
    for disk in &def.devices.disks {
        let target = &disk.target.dev;
        for (kind, source) in disk.chain() {
            match kind {
                DiskType::File => {
                    let Some(path) = source.path.as_deref() else {
                        continue;
                    };
                    let canonical = fs::canonicalize(path).map_err(|err| {
                        format!("cannot resolve the source {path} of disk {target}: {err}")
                    })?;
                    if !dirs.iter().any(|dir| canonical.starts_with(dir)) {
                        return Err(format!(
                            "the source {path} of disk {target} is outside the image directories ({}): \
                             the guide (2.2) asks to keep guest images in a central location; move the \
                             image there or add its directory to image_dirs",
                            list(&config.image_dirs)
                        ));
                    }
                }
                DiskType::Block => {
                    let Some(path) = source.path.as_deref() else {
                        continue;
                    };
                    let root = validate::root::HostRoot::new("/");
                    let block = validate::checks::storage::classify_block_device(&root, true, path)
                        .map_err(|err| {
                            format!("cannot tell what the source {path} of disk {target} is: {err}")
                        })?;
                    let whole = block.kind == validate::checks::storage::BlockKind::WholeDisk;
                    if whole && !disk.readonly && !config.allow_whole_disks {
                        return Err(format!(
                            "disk {target} would give the guest the whole host disk {path} writable: \
                             the guide (2.2) warns that a guest with a whole disk can rewrite its \
                             partition table and labels and so compromise the host; give it a \
                             partition or an LVM volume, make it <readonly/>, or set allow_whole_disks"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The definition with every local path made absolute and free of `.`, `..` and symlinks, as
/// the guest's QEMU sees it: the jail exposes exactly those paths, so QEMU must use them. A
/// path that does not exist (yet) keeps its resolved parent and its own name.
pub fn resolve_paths(def: &Domain) -> Domain {
    let mut def = def.clone();
    let fix = |path: &mut String| {
        if let Some(resolved) = resolve(Path::new(path.as_str())) {
            *path = resolved.to_string_lossy().into_owned();
        }
    };
    let fix_opt = |path: &mut Option<String>| {
        if let Some(path) = path.as_mut() {
            fix(path);
        }
    };
    fix_opt(&mut def.os.kernel);
    fix_opt(&mut def.os.initrd);
    fix_opt(&mut def.os.dtb);
    if let Some(loader) = def.os.loader.as_mut() {
        fix_opt(&mut loader.path);
    }
    if let Some(nvram) = def.os.nvram.as_mut() {
        fix_opt(&mut nvram.path);
    }
    fix_opt(&mut def.devices.emulator);
    for disk in &mut def.devices.disks {
        if !matches!(disk.kind, DiskType::File | DiskType::Block) {
            continue;
        }
        if let Some(source) = disk.source.as_mut() {
            fix_opt(&mut source.path);
        }
        let mut layer = disk.backing_store.as_mut();
        while let Some(store) = layer {
            if matches!(store.kind, DiskType::File | DiskType::Block) {
                fix_opt(&mut store.source.path);
            }
            layer = store.backing_store.as_deref_mut();
        }
    }
    let devices = &mut def.devices;
    for chardev in devices
        .serials
        .iter_mut()
        .chain(devices.consoles.iter_mut())
        .chain(devices.channels.iter_mut())
    {
        for source in &mut chardev.sources {
            fix_opt(&mut source.path);
        }
        if let Some((log, _)) = chardev.log.as_mut() {
            fix(log);
        }
    }
    def
}

fn resolve(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    if let Ok(full) = fs::canonicalize(path) {
        return Some(full);
    }
    let parent = fs::canonicalize(path.parent()?).ok()?;
    Some(parent.join(path.file_name()?))
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates the files a guest writes that do not exist yet (a serial console's log file), empty
/// and root's, so that they can be labelled, handed over and bound into the jail. Returns the
/// ones created, to remove if the start fails.
pub fn create_missing_files(resources: &[Resource]) -> io::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for resource in resources {
        let is_file_chardev = matches!(
            resource.kind,
            ResourceKind::ChardevLog { .. }
                | ResourceKind::Chardev {
                    backend: domxml::model::ChardevType::File,
                    ..
                }
        );
        if resource.access != Access::ReadWrite || !is_file_chardev {
            continue;
        }
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&resource.path)
        {
            Ok(_) => created.push(resource.path.clone()),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot create {}: {err}", resource.path.display()),
                ))
            }
        }
    }
    Ok(created)
}

/// What the jail of one guest is made from.
#[derive(Debug)]
pub struct Jail<'a> {
    /// The guest as it starts.
    pub def: &'a Domain,
    /// Its resources (`security::resources::collect`).
    pub resources: &'a [Resource],
    /// The uid and gid it runs as.
    pub ids: (u32, u32),
    /// Its run directory (QMP socket, sockets without a path).
    pub run_dir: &'a Path,
    /// The empty directory the jail mounts its root on.
    pub new_root: &'a Path,
    /// The emulator QEMU is run from.
    pub emulator: &'a Path,
    /// Whether the guest gets `/dev/kvm`.
    pub kvm: bool,
    /// The SELinux process label, when the host runs SELinux.
    pub exec_label: Option<String>,
    /// The cgroup's `cgroup.procs` files.
    pub cgroup_procs: Vec<PathBuf>,
}

impl Jail<'_> {
    /// The spec `moat-jail` applies (program, arguments and environment are the launch's).
    pub fn spec(&self) -> JailSpec {
        let system = jail::system_binds();
        let emulator_in_system = system.iter().any(|b| self.emulator.starts_with(&b.path));
        let mut binds = system;
        let mut landlock = LandlockRules::default();
        jail::system_landlock(&mut landlock);
        let mut bind = |path: &Path, writable: bool| {
            if !binds.iter().any(|b| b.path == path) {
                binds.push(Bind {
                    path: path.to_owned(),
                    writable,
                });
            }
        };
        // Sockets only: a guest must not be able to fill the host's /run with files.
        bind(self.run_dir, true);
        landlock.sockets.push(self.run_dir.to_owned());
        if !emulator_in_system {
            bind(self.emulator, false);
        }
        landlock.read_exec.push(self.emulator.to_owned());
        let mut disk_devices = Vec::new();
        for resource in self.resources {
            let writable = resource.access == Access::ReadWrite;
            // A host block device (a partition, an LVM volume) cannot be bound into the jail's
            // own /dev: the jail makes its node there, for the guest's uid alone.
            if is_device_node(&resource.path) {
                disk_devices.push(DeviceNode {
                    path: resource.path.clone(),
                    writable,
                });
                continue;
            }
            let socket = matches!(resource.kind, ResourceKind::Chardev { socket: true, .. });
            // A socket QEMU creates itself needs its directory, for sockets only; an existing
            // one, itself.
            if socket && !resource.path.exists() {
                let Some(parent) = resource.path.parent() else {
                    continue;
                };
                bind(parent, writable);
                if !landlock.sockets.iter().any(|p| p == parent) {
                    landlock.sockets.push(parent.to_owned());
                }
                continue;
            }
            let path = resource.path.clone();
            bind(&path, writable);
            if writable {
                landlock.read_write.push(path);
            } else {
                landlock.read_only.push(path);
            }
        }
        let mut devices: Vec<DeviceNode> = BASE_DEVICES
            .iter()
            .map(|&(path, writable)| DeviceNode {
                path: PathBuf::from(path),
                writable,
            })
            .collect();
        if self.kvm {
            devices.push(DeviceNode {
                path: PathBuf::from("/dev/kvm"),
                writable: true,
            });
        }
        for device in disk_devices {
            if !devices.iter().any(|d| d.path == device.path) {
                devices.push(device);
            }
        }
        for device in &devices {
            if device.writable {
                landlock.read_write.push(device.path.clone());
            } else {
                landlock.read_only.push(device.path.clone());
            }
        }
        landlock.tcp_bind = vnc_tcp_ports(self.def);
        JailSpec {
            id: self.def.uuid.to_string(),
            program: self.emulator.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            uid: self.ids.0,
            gid: self.ids.1,
            passed_fds: 0,
            new_root: self.new_root.to_owned(),
            binds,
            devices,
            cgroup_procs: self.cgroup_procs.clone(),
            rlimits: vec![
                Rlimit {
                    resource: RlimitResource::Nofile,
                    soft: GUEST_NOFILE,
                    hard: GUEST_NOFILE,
                },
                Rlimit {
                    resource: RlimitResource::Core,
                    soft: 0,
                    hard: 0,
                },
            ],
            landlock: Some(landlock),
            seccomp: true,
            selinux_exec_label: self.exec_label.clone(),
            hide_pids: true,
        }
    }
}

/// Whether `path` is a block device node under `/dev`, which the jail makes rather than binds.
fn is_device_node(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    path.starts_with("/dev")
        && fs::metadata(path).is_ok_and(|meta| meta.file_type().is_block_device())
}

/// The TCP ports a VNC console listens on (its own, or the whole 5900–5999 range for
/// autoport), for the Landlock bind rules; every other TCP bind and connect is refused.
fn vnc_tcp_ports(def: &Domain) -> Vec<u16> {
    let mut ports = Vec::new();
    for graphics in &def.devices.graphics {
        if graphics.kind != GraphicsType::Vnc {
            continue;
        }
        let tcp = graphics
            .listens
            .first()
            .map_or(true, |listen| listen.kind == "address");
        if !tcp {
            continue;
        }
        match graphics.port.and_then(|p| u16::try_from(p).ok()) {
            Some(port) if graphics.autoport != Some(domxml::model::YesNo::Yes) => ports.push(port),
            _ => ports.extend(5900..=5999),
        }
    }
    ports
}

/// The cgroup limits of a guest: memory from `<memtune><hard_limit>` or the guest's RAM plus
/// QEMU's overhead, pids from the configuration, cpu weight from `<cputune><shares>`, and
/// (cgroup v1) only the devices it is given.
pub fn cgroup_limits(def: &Domain, config: &Config, kvm: bool) -> CgroupLimits {
    let ram = def.memory.kib.saturating_mul(1024);
    let memory = def
        .memtune
        .as_ref()
        .and_then(|m| m.hard_limit)
        .map(|limit| limit.kib.saturating_mul(1024))
        .unwrap_or_else(|| ram.saturating_add(MEMORY_OVERHEAD_MIN.max(ram / 2)));
    let mut devices: Vec<DeviceRule> = BASE_DEVICES
        .iter()
        .filter_map(|&(path, writable)| DeviceRule::for_node(Path::new(path), writable).ok())
        .collect();
    if kvm {
        if let Ok(rule) = DeviceRule::for_node(Path::new("/dev/kvm"), true) {
            devices.push(rule);
        }
    }
    for disk in &def.devices.disks {
        if disk.kind == DiskType::Block {
            if let Some(path) = disk.source.as_ref().and_then(|s| s.path.as_deref()) {
                if let Ok(rule) = DeviceRule::for_node(Path::new(path), !disk.readonly) {
                    devices.push(rule);
                }
            }
        }
    }
    CgroupLimits {
        memory_bytes: Some(memory),
        pids: Some(config.guest_pids_max),
        cpu_weight: def.cputune.as_ref().and_then(|c| c.shares),
        devices,
    }
}

/// Whether this guest should get `/dev/kvm`.
pub fn wants_kvm(def: &Domain, kvm_usable: bool) -> bool {
    def.kind == DomainType::Kvm && kvm_usable && Path::new("/dev/kvm").exists()
}

/// Creates the guest's cgroup.
pub fn create_cgroup(
    def: &Domain,
    config: &Config,
    limits: &CgroupLimits,
) -> Result<GuestCgroup, jail::cgroup::CgroupError> {
    GuestCgroup::create(
        Path::new(CGROUP_ROOT),
        &config.cgroup_parent,
        &def.uuid.to_string(),
        limits,
    )
}

/// Finds the cgroup of a guest that was running when the daemon stopped.
pub fn find_cgroup(def: &Domain, config: &Config) -> Option<GuestCgroup> {
    GuestCgroup::find(
        Path::new(CGROUP_ROOT),
        &config.cgroup_parent,
        &def.uuid.to_string(),
    )
    .unwrap_or_else(|err| {
        tracing::warn!(domain = %def.name, %err, "cannot look for the guest's cgroup");
        None
    })
}

/// The live-state file of guest `name`: its definition as started, with the generated labels.
pub fn live_file(run_root: &Path, name: &str) -> PathBuf {
    run_root.join("qemu").join(format!("{name}.xml"))
}

/// Writes the live state (root's, 0600, atomically).
pub fn write_live(path: &Path, def: &Domain, labels: &[Seclabel]) -> io::Result<()> {
    let mut live = def.clone();
    live.seclabels = labels.to_vec();
    let text = domxml::format(
        &live,
        &domxml::FormatOptions {
            include_secrets: true,
            migratable: false,
        },
    );
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("xml.tmp");
    {
        use std::io::Write as _;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Reads the live state written by [`write_live`]; `None` if there is none or it is unreadable
/// (reported by the caller).
pub fn read_live(path: &Path, host_model: Option<&str>) -> Result<Option<Domain>, String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    if !meta.file_type().is_file() || meta.uid() != 0 || meta.file_type().is_socket() {
        return Err(format!(
            "{} is not a regular file of root's; ignored",
            path.display()
        ));
    }
    let text =
        fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    domxml::parse(
        &text,
        &domxml::ParseOptions {
            live: true,
            host_security_model: host_model.map(str::to_owned),
            ..domxml::ParseOptions::default()
        },
    )
    .map(Some)
    .map_err(|err| format!("{} does not parse: {err}", path.display()))
}

/// Removes the live-state file.
pub fn remove_live(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(path = %path.display(), %err, "cannot remove live state"),
    }
}
