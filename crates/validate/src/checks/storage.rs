//! Guest storage: `images-central-store`, `guest-no-whole-disk` and `lvm-global-filter`.
//!
//! Guests come from the definitions (see [`crate::guests`]). A block source is classified by
//! resolving its symlinks inside the root (`/dev/disk/by-id/…` → `/dev/sdb`) and then, live,
//! through sysfs: `/sys/class/block/<name>/partition` exists only for partitions,
//! `/sys/block/<name>` only for whole disks, and `/sys/block/dm-N/dm/uuid` tells an LVM volume
//! (`LVM-`) from a multipath LUN (`mpath-`, a whole disk) or a kpartx partition (`part`).
//! Offline, or where sysfs has no answer, the kernel's naming tells (`sdb` vs `sdb1`,
//! `nvme0n1` vs `nvme0n1p1`, `/dev/<vg>/<lv>`, `/dev/mapper/<vg>-<lv>`).

use std::collections::BTreeSet;

use domxml::model::{DiskDevice, DiskType};

use super::lvm::{self, FilterAction, LvmValue};
use super::Check;
use crate::check::{error_chain, CheckInfo, Finding, Location, Status};
use crate::guests::GuestDef;
use crate::host::Host;
use crate::root::{HostRoot, RootError};

/// `images-central-store`.
pub static IMAGES_CENTRAL_STORE: Check = Check {
    info: CheckInfo {
        id: "images-central-store",
        title: "Guest images live in the central image store, with image labels",
        guide: "2.2",
        rationale: "The guide asks for a central location for virtual machine images: /var/lib/libvirt/images, \
or another directory that is added to the SELinux policy and relabelled before use (2.2). \
Images scattered over the host carry whatever label their directory gives them, so sVirt \
cannot confine access to them, and they escape the backups, quotas and permissions set up for \
the image store.",
        remediation: "Move the images into /var/lib/libvirt/images (or Moat's <state-dir>/images) and update the \
guest definitions; or declare the directory as an image store: `semanage fcontext -a -t \
virt_image_t '/srv/images(/.*)?'` then `restorecon -R /srv/images`, and pass it with \
`moat validate --image-dir /srv/images`.",
        live_only: false,
    },
    run: images_central_store,
};

/// `guest-no-whole-disk`.
pub static NO_WHOLE_DISK: Check = Check {
    info: CheckInfo {
        id: "guest-no-whole-disk",
        title: "No guest has write access to a whole disk",
        guide: "2.2",
        rationale: "The guide says guests should not be given write access to whole disks or block devices such \
as /dev/sdb (2.2, block devices): a guest with a whole device can rewrite its partition table \
and volume labels, which can be used to compromise the host. Partitions (/dev/sdb1) or LVM \
volumes prevent this.",
        remediation: "Give the guest a partition or an LVM logical volume instead of the whole disk (`lvcreate` \
on the disk, then `<source dev='/dev/vg/guest'/>`), or mark the disk <readonly/> if it needs \
no writes. SCSI passthrough (device='lun') always exposes the whole LUN.",
        live_only: false,
    },
    run: no_whole_disk,
};

/// `lvm-global-filter`.
pub static LVM_GLOBAL_FILTER: Check = Check {
    info: CheckInfo {
        id: "lvm-global-filter",
        title: "LVM global_filter rejects devices given raw to guests",
        guide: "2.2",
        rationale: "When guests get raw partitions or disks, the guide asks to configure LVM to scan only the \
disks that are safe, with the global_filter setting (2.2, block devices): otherwise the host \
scans and may activate volume groups that a guest wrote inside its disk, and a guest can \
present the host with volumes of its choosing.",
        remediation: "In /etc/lvm/lvm.conf, devices section, accept the host's own physical volumes and reject \
everything else, e.g. `global_filter = [ \"a|^/dev/sda2$|\", \"r|.*|\" ]` (or reject the guest \
devices by name); or use the LVM devices file (use_devicesfile = 1) without the guest devices. \
Rebuild the initrd afterwards (`dracut -f`), which keeps its own copy of lvm.conf.",
        live_only: false,
    },
    run: lvm_global_filter,
};

/// What a block device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// A whole disk (`/dev/sdb`, a multipath LUN).
    WholeDisk,
    /// A partition (`/dev/sdb1`).
    Partition,
    /// An LVM logical volume.
    LogicalVolume,
    /// LUKS, md, loop or something the checks cannot tell.
    Other,
}

impl BlockKind {
    /// "a whole disk", "a partition", …
    pub fn describe(self) -> &'static str {
        match self {
            BlockKind::WholeDisk => "a whole disk",
            BlockKind::Partition => "a partition",
            BlockKind::LogicalVolume => "an LVM logical volume",
            BlockKind::Other => "a device of unknown kind",
        }
    }
}

/// A classified block source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSource {
    /// The path as the guest definition gives it.
    pub given: String,
    /// The path with symlinks resolved.
    pub canonical: String,
    /// What it is.
    pub kind: BlockKind,
}

/// Classifies the block device at host path `path`.
pub(crate) fn classify(host: &Host<'_>, path: &str) -> Result<BlockSource, RootError> {
    classify_block_device(&host.root, host.is_live(), path)
}

/// Classifies the block device at `path` under `root`: through sysfs when `live` (the root is
/// a running host), else by the kernel's and LVM's naming conventions.
pub fn classify_block_device(
    root: &HostRoot,
    live: bool,
    path: &str,
) -> Result<BlockSource, RootError> {
    let canonical = root.canonical(path)?.unwrap_or_else(|| path.to_owned());
    let name = canonical.rsplit('/').next().unwrap_or_default().to_owned();
    let mut kind = None;
    if live && canonical.starts_with("/dev/") && !name.is_empty() {
        kind = classify_sysfs(root, &name)?;
    }
    let kind = match kind {
        Some(kind) => kind,
        None => classify_name(&canonical),
    };
    Ok(BlockSource {
        given: path.to_owned(),
        canonical,
        kind,
    })
}

fn classify_sysfs(root: &HostRoot, name: &str) -> Result<Option<BlockKind>, RootError> {
    if root.exists(&format!("/sys/class/block/{name}/partition"))? {
        return Ok(Some(BlockKind::Partition));
    }
    if name.starts_with("dm-") {
        let uuid = root
            .read(&format!("/sys/block/{name}/dm/uuid"))?
            .unwrap_or_default();
        return Ok(Some(if uuid.starts_with("LVM-") {
            BlockKind::LogicalVolume
        } else if uuid.starts_with("mpath-") {
            BlockKind::WholeDisk
        } else if uuid.starts_with("part") {
            BlockKind::Partition
        } else {
            BlockKind::Other
        }));
    }
    if root.exists(&format!("/sys/block/{name}"))? {
        return Ok(Some(
            if name.starts_with("loop") || name.starts_with("md") {
                BlockKind::Other
            } else {
                BlockKind::WholeDisk
            },
        ));
    }
    Ok(None)
}

/// Classifies by the kernel's and LVM's naming conventions alone.
pub(crate) fn classify_name(path: &str) -> BlockKind {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["dev", "mapper", name] => {
            if name.starts_with("mpath") {
                BlockKind::WholeDisk
            } else if name.contains('-') {
                BlockKind::LogicalVolume
            } else {
                BlockKind::Other
            }
        }
        ["dev", "disk", _, name] => {
            if name.contains("-part") {
                BlockKind::Partition
            } else {
                BlockKind::WholeDisk
            }
        }
        ["dev", name] => classify_kernel_name(name),
        ["dev", group, _] if !matches!(*group, "disk" | "mapper" | "block" | "md") => {
            BlockKind::LogicalVolume
        }
        _ => BlockKind::Other,
    }
}

fn classify_kernel_name(name: &str) -> BlockKind {
    let trailing_digits = name.len() - name.trim_end_matches(|ch: char| ch.is_ascii_digit()).len();
    for prefix in ["sd", "vd", "hd", "xvd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if rest.is_empty() || !rest.starts_with(|ch: char| ch.is_ascii_lowercase()) {
                return BlockKind::Other;
            }
            return if trailing_digits > 0 {
                BlockKind::Partition
            } else {
                BlockKind::WholeDisk
            };
        }
    }
    for prefix in ["nvme", "mmcblk"] {
        if name.starts_with(prefix) {
            let body = name.trim_end_matches(|ch: char| ch.is_ascii_digit());
            return if body.ends_with('p') && trailing_digits > 0 {
                BlockKind::Partition
            } else {
                BlockKind::WholeDisk
            };
        }
    }
    BlockKind::Other
}

fn disk_location(guest: &GuestDef) -> Location {
    guest.location()
}

fn no_whole_disk(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = host.guests.preamble();
    let mut block_disks = 0;
    for guest in &host.guests.defs {
        for (disk, path) in host.guests.block_sources(guest) {
            let path = path.as_str();
            block_disks += 1;
            let name = &guest.domain.name;
            let target = &disk.target.dev;
            let source = match classify(host, path) {
                Ok(source) => source,
                Err(err) => {
                    findings.push(Finding::error(&err));
                    continue;
                }
            };
            let resolved = if source.canonical == source.given {
                String::new()
            } else {
                format!(" ({})", source.canonical)
            };
            let whole = disk.device == DiskDevice::Lun || source.kind == BlockKind::WholeDisk;
            let (status, message) = match (whole, disk.readonly) {
                (true, false) => (
                    Status::Fail,
                    format!(
                        "guest {name} has {path}{resolved} as {target} writable: {}",
                        if disk.device == DiskDevice::Lun {
                            "a whole SCSI LUN passed through"
                        } else {
                            "a whole disk"
                        }
                    ),
                ),
                (true, true) => (
                    Status::Info,
                    format!("guest {name} has whole disk {path}{resolved} as {target}, read-only"),
                ),
                (false, _) if source.kind == BlockKind::Other => (
                    Status::Warn,
                    format!(
                        "guest {name} has {path}{resolved} as {target}: cannot tell whether it is a whole disk"
                    ),
                ),
                (false, _) => (
                    Status::Pass,
                    format!(
                        "guest {name} has {path}{resolved} as {target}: {}",
                        source.kind.describe()
                    ),
                ),
            };
            findings.push(Finding::at(status, message, disk_location(guest)));
        }
    }
    if block_disks == 0 && !host.guests.defs.is_empty() {
        findings.push(Finding::new(
            Status::Pass,
            format!(
                "none of {} guests is given a host block device",
                host.guests.defs.len()
            ),
        ));
    }
    findings
}

/// The accepted image directories: defaults, settings, and directories labelled
/// `virt_image_t` in the local SELinux file contexts.
fn accepted_image_dirs(host: &Host<'_>) -> Result<Vec<String>, RootError> {
    let mut dirs = host.image_dirs();
    for policy in host.root.list("/etc/selinux")? {
        let path = format!("{}/contexts/files/file_contexts.local", policy.path);
        let Some(text) = host.root.read(&path)? else {
            continue;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let (Some(pattern), Some(context)) = (words.first(), words.last()) {
                if context.contains(":virt_image_t:") {
                    dirs.push(pattern.trim_end_matches("(/.*)?").to_owned());
                }
            }
        }
    }
    Ok(dirs)
}

fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// SELinux types an image may carry: unused store image, running guest image, shared read-only.
const IMAGE_TYPES: [&str; 4] = [
    "virt_image_t",
    "svirt_image_t",
    "virt_content_t",
    "svirt_content_t",
];

fn images_central_store(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = host.guests.preamble();
    let dirs = match accepted_image_dirs(host) {
        Ok(dirs) => dirs,
        Err(err) => return vec![Finding::error(&err)],
    };
    let mut images = 0;
    for guest in &host.guests.defs {
        for disk in &guest.domain.devices.disks {
            let read_only =
                disk.readonly || matches!(disk.device, DiskDevice::Cdrom | DiskDevice::Floppy);
            for (layer, (kind, source)) in disk.chain().enumerate() {
                let Some((DiskType::File | DiskType::Dir, path)) =
                    host.guests.resolve(kind, source)
                else {
                    continue;
                };
                let path = path.as_str();
                images += 1;
                let name = &guest.domain.name;
                let inside = dirs.iter().any(|dir| is_under(path, dir));
                let canonical = host.root.canonical(path).ok().flatten();
                let resolved_inside = canonical
                    .as_deref()
                    .is_some_and(|real| dirs.iter().any(|dir| is_under(real, dir)));
                let status = match (inside || resolved_inside, read_only || layer > 0) {
                    (true, _) => Status::Pass,
                    (false, false) => Status::Fail,
                    (false, true) => Status::Warn,
                };
                let what = if layer > 0 { "backing image" } else { "image" };
                let verdict = if status == Status::Pass {
                    "in the image store"
                } else {
                    "outside the image directories"
                };
                findings.push(Finding::at(
                    status,
                    format!("guest {name} {what} {path} is {verdict}"),
                    guest.location(),
                ));
                match host.root.xattr(path, "security.selinux") {
                    Ok(Some(label)) => {
                        let label = String::from_utf8_lossy(&label);
                        let label = label.trim_end_matches('\0');
                        let type_ok = label
                            .split(':')
                            .nth(2)
                            .is_some_and(|kind| IMAGE_TYPES.contains(&kind));
                        if !type_ok {
                            findings.push(Finding::at(
                                Status::Warn,
                                format!("{path} is labelled {label}, not an image type (virt_image_t): relabel it"),
                                Location::file(path),
                            ));
                        }
                    }
                    Ok(None) => {}
                    Err(err) => findings.push(Finding::new(Status::Error, error_chain(&err))),
                }
            }
        }
    }
    if images == 0 && !host.guests.defs.is_empty() {
        findings.push(Finding::new(
            Status::Pass,
            "no guest uses a file-backed image",
        ));
    }
    findings
}

/// `lvm.conf` settings that matter here, from lvm.conf then lvmlocal.conf.
struct LvmConfig {
    global_filter: Option<(Vec<String>, Location)>,
    filter: Option<Location>,
    devices_file: bool,
    files: Vec<&'static str>,
}

fn lvm_config(host: &Host<'_>) -> Result<LvmConfig, RootError> {
    let mut config = LvmConfig {
        global_filter: None,
        filter: None,
        devices_file: false,
        files: Vec::new(),
    };
    for path in ["/etc/lvm/lvm.conf", "/etc/lvm/lvmlocal.conf"] {
        let Some(text) = host.root.read(path)? else {
            continue;
        };
        config.files.push(path);
        for setting in lvm::parse(&text) {
            if setting.section != "devices" {
                continue;
            }
            let location = Location::line(path, setting.line);
            match (setting.key.as_str(), setting.value) {
                ("global_filter", LvmValue::List(items)) => {
                    config.global_filter = Some((items, location))
                }
                ("global_filter", LvmValue::Scalar(item)) => {
                    config.global_filter = Some((vec![item], location));
                }
                ("filter", _) => config.filter = Some(location),
                ("use_devicesfile", LvmValue::Scalar(value)) => config.devices_file = value == "1",
                _ => {}
            }
        }
    }
    Ok(config)
}

fn lvm_global_filter(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = host.guests.preamble();
    let mut raw = Vec::new();
    for guest in &host.guests.defs {
        for (_, path) in host.guests.block_sources(guest) {
            match classify(host, &path) {
                Ok(source) if source.kind != BlockKind::LogicalVolume => {
                    raw.push((guest, source));
                }
                Ok(_) => {}
                Err(err) => findings.push(Finding::error(&err)),
            }
        }
    }
    if raw.is_empty() {
        if !host.guests.defs.is_empty() {
            findings.push(Finding::new(
                Status::Pass,
                "no raw partitions or disks are given to guests",
            ));
        }
        return findings;
    }
    match raw_findings(host, &raw) {
        Ok(found) => findings.extend(found),
        Err(err) => findings.push(Finding::error(&err)),
    }
    findings
}

fn raw_findings(
    host: &Host<'_>,
    raw: &[(&GuestDef, BlockSource)],
) -> Result<Vec<Finding>, RootError> {
    let config = lvm_config(host)?;
    let mut findings = Vec::new();
    if config.devices_file {
        let path = "/etc/lvm/devices/system.devices";
        if let Some(text) = host.root.read(path)? {
            for (guest, source) in raw {
                let listed = text.lines().any(|line| {
                    line.split_whitespace().any(|field| {
                        field == format!("DEVNAME={}", source.canonical)
                            || field == format!("DEVNAME={}", source.given)
                    })
                });
                let (status, verb) = if listed {
                    (Status::Fail, "is listed in")
                } else {
                    (Status::Pass, "is not in")
                };
                findings.push(Finding::at(
                    status,
                    format!(
                        "guest {} device {} {verb} the LVM devices file",
                        guest.domain.name, source.given
                    ),
                    Location::file(path),
                ));
            }
            return Ok(findings);
        }
    }
    if config.files.is_empty() && config.global_filter.is_none() {
        let mut installed = false;
        for binary in ["/usr/sbin/lvm", "/sbin/lvm", "/usr/bin/lvm"] {
            installed |= host.root.exists(binary)?;
        }
        if !installed {
            findings.push(Finding::new(
                Status::Pass,
                "LVM is not installed, so nothing scans the devices given to guests",
            ));
            return Ok(findings);
        }
    }
    let Some((entries, location)) = config.global_filter else {
        let mut message = if config.files.is_empty() {
            "no /etc/lvm/lvm.conf: LVM scans every device, including those given to guests"
                .to_owned()
        } else {
            "no global_filter in the devices section: LVM scans every device, including those given to guests".to_owned()
        };
        if config.filter.is_some() {
            message.push_str(" (filter is set, but it does not apply to udev activation)");
        }
        let location = config
            .filter
            .unwrap_or_else(|| Location::file("/etc/lvm/lvm.conf"));
        let devices: BTreeSet<&str> = raw
            .iter()
            .map(|(_, source)| source.given.as_str())
            .collect();
        findings.push(Finding::at(
            Status::Fail,
            format!(
                "{message}: {}",
                devices.into_iter().collect::<Vec<_>>().join(", ")
            ),
            location,
        ));
        return Ok(findings);
    };
    let filter = match lvm::compile_filter(&entries) {
        Ok(filter) => filter,
        Err(err) => {
            findings.push(Finding::at(Status::Error, err.to_string(), location));
            return Ok(findings);
        }
    };
    for (guest, source) in raw {
        let names = [source.given.as_str(), source.canonical.as_str()];
        let (action, entry) = lvm::judge(&filter, &names);
        let by = entry.map_or("no entry matches, so it is accepted".to_owned(), |entry| {
            format!("matched by {:?}", entry.text)
        });
        let (status, verdict) = match action {
            FilterAction::Reject => (Status::Pass, "rejected"),
            FilterAction::Accept => (Status::Fail, "accepted"),
        };
        findings.push(Finding::at(
            status,
            format!(
                "guest {} device {} ({}) is {verdict} by global_filter: {by}",
                guest.domain.name,
                source.given,
                source.kind.describe()
            ),
            location.clone(),
        ));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    fn guest(name: &str, disks: &str) -> String {
        format!(
            "<domain type='kvm'><name>{name}</name><memory unit='MiB'>512</memory>\
             <os><type arch='x86_64'>hvm</type></os><devices>{disks}</devices></domain>"
        )
    }

    fn block(dev: &str, target: &str, extra: &str) -> String {
        format!(
            "<disk type='block' device='disk'><source dev='{dev}'/><target dev='{target}' bus='virtio'/>{extra}</disk>"
        )
    }

    fn file_disk(path: &str, target: &str, extra: &str) -> String {
        format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{path}'/><target dev='{target}' bus='virtio'/>{extra}</disk>"
        )
    }

    fn define(fixture: &Fixture, name: &str, disks: &str) {
        fixture.file(
            &format!("/etc/libvirt/qemu/{name}.xml"),
            &guest(name, disks),
        );
    }

    #[test]
    fn classifies_by_name() {
        assert_eq!(classify_name("/dev/sdb"), BlockKind::WholeDisk);
        assert_eq!(classify_name("/dev/sdb1"), BlockKind::Partition);
        assert_eq!(classify_name("/dev/nvme0n1"), BlockKind::WholeDisk);
        assert_eq!(classify_name("/dev/nvme0n1p2"), BlockKind::Partition);
        assert_eq!(classify_name("/dev/vg0/guest"), BlockKind::LogicalVolume);
        assert_eq!(
            classify_name("/dev/mapper/vg0-guest"),
            BlockKind::LogicalVolume
        );
        assert_eq!(classify_name("/dev/mapper/mpatha"), BlockKind::WholeDisk);
        assert_eq!(
            classify_name("/dev/disk/by-id/wwn-0x5-part1"),
            BlockKind::Partition
        );
        assert_eq!(classify_name("/dev/loop0"), BlockKind::Other);
    }

    #[test]
    fn whole_disk_writable_fails_partition_and_lv_pass() {
        let fixture = Fixture::offline();
        define(&fixture, "whole", &block("/dev/sdb", "vdb", ""));
        let result = fixture.expect(&NO_WHOLE_DISK, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "guest whole has /dev/sdb as vdb writable"
        ));
        let fixture = Fixture::offline();
        define(
            &fixture,
            "parts",
            &format!(
                "{}{}",
                block("/dev/sdb1", "vdb", ""),
                block("/dev/vg0/guest", "vdc", "")
            ),
        );
        fixture.expect(&NO_WHOLE_DISK, Status::Pass);
    }

    #[test]
    fn read_only_whole_disk_is_info_and_lun_fails() {
        let fixture = Fixture::offline();
        define(&fixture, "ro", &block("/dev/sdc", "vdb", "<readonly/>"));
        fixture.expect(&NO_WHOLE_DISK, Status::Info);
        let fixture = Fixture::offline();
        define(
            &fixture,
            "lun",
            "<disk type='block' device='lun'><source dev='/dev/sdc1'/><target dev='sda' bus='scsi'/></disk>",
        );
        fixture.expect(&NO_WHOLE_DISK, Status::Fail);
    }

    #[test]
    fn by_id_links_resolve_and_live_sysfs_decides() {
        let fixture = Fixture::live();
        fixture
            .file("/dev/sdb", "")
            .link("/dev/disk/by-id/ata-X", "../../sdb")
            .dir("/sys/block/sdb")
            .file("/dev/dm-3", "")
            .link("/dev/vg0/guest", "../dm-3")
            .file("/sys/block/dm-3/dm/uuid", "LVM-abc\n");
        define(
            &fixture,
            "g",
            &format!(
                "{}{}",
                block("/dev/disk/by-id/ata-X", "vdb", ""),
                block("/dev/vg0/guest", "vdc", "")
            ),
        );
        let result = fixture.expect(&NO_WHOLE_DISK, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "/dev/disk/by-id/ata-X (/dev/sdb)"
        ));
        assert!(has(&result, Status::Pass, "an LVM logical volume"));
    }

    #[test]
    fn guest_checks_without_guests_do_not_apply() {
        let fixture = Fixture::offline();
        fixture.expect(&NO_WHOLE_DISK, Status::NotApplicable);
        fixture.expect(&LVM_GLOBAL_FILTER, Status::NotApplicable);
        fixture.expect(&IMAGES_CENTRAL_STORE, Status::NotApplicable);
    }

    #[test]
    fn broken_definitions_are_errors() {
        let fixture = Fixture::offline();
        fixture.file("/etc/libvirt/qemu/bad.xml", "<domain type='kvm'>");
        fixture.expect(&NO_WHOLE_DISK, Status::Error);
    }

    const FILTERED: &str = "devices {\n  global_filter = [ \"a|^/dev/sda2$|\", \"r|.*|\" ]\n}\n";

    #[test]
    fn lvm_filter_present_rejecting_guest_devices_passes() {
        let fixture = Fixture::offline();
        define(
            &fixture,
            "g",
            &format!(
                "{}{}",
                block("/dev/sdb", "vdb", ""),
                block("/dev/sdc1", "vdc", "")
            ),
        );
        fixture.file("/etc/lvm/lvm.conf", FILTERED);
        let result = fixture.expect(&LVM_GLOBAL_FILTER, Status::Pass);
        assert!(has(
            &result,
            Status::Pass,
            "/dev/sdc1 (a partition) is rejected"
        ));
    }

    #[test]
    fn lvm_without_filter_or_accepting_fails() {
        let fixture = Fixture::offline();
        define(&fixture, "g", &block("/dev/sdb1", "vdb", ""));
        fixture.file(
            "/etc/lvm/lvm.conf",
            "devices {\n  # global_filter = [ \"r|.*|\" ]\n  dir = \"/dev\"\n}\n",
        );
        let result = fixture.expect(&LVM_GLOBAL_FILTER, Status::Fail);
        assert!(has(&result, Status::Fail, "no global_filter"));
        fixture.file(
            "/etc/lvm/lvm.conf",
            "devices {\n global_filter = [ \"r|^/dev/sdc|\" ]\n}\n",
        );
        let result = fixture.expect(&LVM_GLOBAL_FILTER, Status::Fail);
        assert!(has(&result, Status::Fail, "no entry matches"));
        fixture.file(
            "/etc/lvm/lvm.conf",
            "devices {\n global_filter = [ \"r|(|\" ]\n}\n",
        );
        fixture.expect(&LVM_GLOBAL_FILTER, Status::Error);
    }

    #[test]
    fn lvm_installed_without_config_fails_and_absent_lvm_passes() {
        let fixture = Fixture::offline();
        define(&fixture, "g", &block("/dev/sdb1", "vdb", ""));
        fixture.expect(&LVM_GLOBAL_FILTER, Status::Pass);
        fixture.file("/usr/sbin/lvm", "");
        let result = fixture.expect(&LVM_GLOBAL_FILTER, Status::Fail);
        assert!(has(&result, Status::Fail, "no /etc/lvm/lvm.conf"));
    }

    #[test]
    fn lvm_only_lvs_pass_and_devices_file_counts() {
        let fixture = Fixture::offline();
        define(&fixture, "g", &block("/dev/vg0/g", "vdb", ""));
        fixture.expect(&LVM_GLOBAL_FILTER, Status::Pass);
        let fixture = Fixture::offline();
        define(&fixture, "g", &block("/dev/sdb", "vdb", ""));
        fixture
            .file("/etc/lvm/lvm.conf", "devices {\n use_devicesfile = 1\n}\n")
            .file(
                "/etc/lvm/devices/system.devices",
                "VERSION=1.1.1\nIDTYPE=sys_wwid IDNAME=x DEVNAME=/dev/sda2 PVID=abc\n",
            );
        fixture.expect(&LVM_GLOBAL_FILTER, Status::Pass);
    }

    #[test]
    fn images_inside_the_store_pass_outside_fail() {
        let fixture = Fixture::offline();
        define(
            &fixture,
            "g",
            &file_disk("/var/lib/libvirt/images/g.qcow2", "vda", ""),
        );
        fixture.expect(&IMAGES_CENTRAL_STORE, Status::Pass);
        let fixture = Fixture::offline();
        define(&fixture, "g", &file_disk("/home/alice/g.qcow2", "vda", ""));
        let result = fixture.expect(&IMAGES_CENTRAL_STORE, Status::Fail);
        assert!(has(&result, Status::Fail, "/home/alice/g.qcow2 is outside"));
    }

    #[test]
    fn images_in_moat_state_dir_configured_dirs_and_labelled_dirs_pass() {
        let mut fixture = Fixture::offline();
        fixture.settings.image_dirs = vec!["/srv/vm".to_owned()];
        define(
            &fixture,
            "g",
            &format!(
                "{}{}{}",
                file_disk("/var/lib/moat/images/a.qcow2", "vda", ""),
                file_disk("/srv/vm/b.qcow2", "vdb", ""),
                file_disk("/data/images/c.qcow2", "vdc", "")
            ),
        );
        fixture.file(
            "/etc/selinux/targeted/contexts/files/file_contexts.local",
            "/data/images(/.*)?    system_u:object_r:virt_image_t:s0\n",
        );
        fixture.expect(&IMAGES_CENTRAL_STORE, Status::Pass);
    }

    #[test]
    fn image_labels_must_be_an_image_type() {
        let fixture = Fixture::offline();
        define(
            &fixture,
            "g",
            &file_disk("/var/lib/libvirt/images/g.qcow2", "vda", ""),
        );
        fixture.file("/var/lib/libvirt/images/g.qcow2", "");
        fixture.label(
            "/var/lib/libvirt/images/g.qcow2",
            "system_u:object_r:virt_image_t:s0",
        );
        fixture.expect(&IMAGES_CENTRAL_STORE, Status::Pass);
        fixture.label(
            "/var/lib/libvirt/images/g.qcow2",
            "unconfined_u:object_r:user_home_t:s0",
        );
        let result = fixture.expect(&IMAGES_CENTRAL_STORE, Status::Warn);
        assert!(has(
            &result,
            Status::Warn,
            "labelled unconfined_u:object_r:user_home_t:s0"
        ));
    }

    #[test]
    fn pool_volumes_are_judged_where_they_live() {
        let fixture = Fixture::offline();
        fixture
            .file(
                "/etc/libvirt/storage/scratch.xml",
                "<pool type='dir'><name>scratch</name><target><path>/scratch</path></target></pool>",
            )
            .file(
                "/etc/libvirt/storage/disk.xml",
                "<pool type='disk'><name>sdb</name><target><path>/dev</path></target></pool>",
            );
        define(
            &fixture,
            "g",
            "<disk type='volume' device='disk'><source pool='scratch' volume='g.qcow2'/><target dev='vda'/></disk>\
             <disk type='volume' device='disk'><source pool='sdb' volume='sdb1'/><target dev='vdb'/></disk>",
        );
        let result = fixture.expect(&IMAGES_CENTRAL_STORE, Status::Fail);
        assert!(has(&result, Status::Fail, "/scratch/g.qcow2 is outside"));
        let result = fixture.expect(&NO_WHOLE_DISK, Status::Pass);
        assert!(has(&result, Status::Pass, "/dev/sdb1 as vdb: a partition"));
        fixture.file("/usr/sbin/lvm", "");
        fixture.expect(&LVM_GLOBAL_FILTER, Status::Fail);
    }

    #[test]
    fn read_only_media_outside_warn() {
        let fixture = Fixture::offline();
        define(
            &fixture,
            "g",
            "<disk type='file' device='cdrom'><source file='/tmp/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>",
        );
        fixture.expect(&IMAGES_CENTRAL_STORE, Status::Warn);
    }
}
