//! `<disk>`: images, block devices, directories and network volumes given to the guest.

use super::{Address, DeviceSeclabel, Extra};

/// `type` of a disk or backing layer: where its data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskType {
    /// A host file (`<source file=…>`).
    File,
    /// A host block device (`<source dev=…>`).
    Block,
    /// A host directory exposed as a FAT disk (`<source dir=…>`).
    Dir,
    /// A network volume (`<source protocol=… name=…>` with `<host>`s).
    Network,
    /// A storage pool volume (`<source pool=… volume=…>`).
    Volume,
}

impl DiskType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskType::File => "file",
            DiskType::Block => "block",
            DiskType::Dir => "dir",
            DiskType::Network => "network",
            DiskType::Volume => "volume",
        }
    }
}

/// `device`: what the guest sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskDevice {
    /// A hard disk (the default).
    Disk,
    /// A CD-ROM drive.
    Cdrom,
    /// A floppy drive.
    Floppy,
    /// A SCSI LUN passed through.
    Lun,
}

impl DiskDevice {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskDevice::Disk => "disk",
            DiskDevice::Cdrom => "cdrom",
            DiskDevice::Floppy => "floppy",
            DiskDevice::Lun => "lun",
        }
    }
}

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `type`.
    pub kind: DiskType,
    /// `device`.
    pub device: DiskDevice,
    /// `<driver>`.
    pub driver: Option<DiskDriver>,
    /// `<source>`; a CD-ROM or floppy may have none (empty drive).
    pub source: Option<DiskSource>,
    /// `<backingStore>`: the next layer of the image chain.
    pub backing_store: Option<BackingStore>,
    /// `<target>`.
    pub target: DiskTarget,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<transient/>`.
    pub transient: bool,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<wwn>`.
    pub wwn: Option<String>,
    /// `<boot order='N'/>`.
    pub boot_order: Option<u32>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

impl Disk {
    /// Every layer's source from the top image down the backing chain.
    pub fn chain(&self) -> impl Iterator<Item = (DiskType, &DiskSource)> {
        let top = self.source.as_ref().map(|source| (self.kind, source));
        let mut next = self.backing_store.as_ref();
        let rest = std::iter::from_fn(move || {
            let layer = next?;
            next = layer.backing_store.as_deref();
            Some((layer.kind, &layer.source))
        });
        top.into_iter().chain(rest)
    }
}

/// `<driver name='qemu' type='qcow2' cache='…' io='…'/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDriver {
    /// `name` (`qemu`).
    pub name: Option<String>,
    /// `type`: the image format (`raw`, `qcow2`…).
    pub format: Option<String>,
    /// `cache`.
    pub cache: Option<DiskCache>,
    /// `io`.
    pub io: Option<DiskIo>,
    /// `discard` (`unmap`, `ignore`).
    pub discard: Option<String>,
    /// `detect_zeroes` (`off`, `on`, `unmap`).
    pub detect_zeroes: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// Host page cache mode of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskCache {
    /// `default`.
    Default,
    /// `none`.
    None,
    /// `writethrough`.
    Writethrough,
    /// `writeback`.
    Writeback,
    /// `directsync`.
    Directsync,
    /// `unsafe`.
    Unsafe,
}

impl DiskCache {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskCache::Default => "default",
            DiskCache::None => "none",
            DiskCache::Writethrough => "writethrough",
            DiskCache::Writeback => "writeback",
            DiskCache::Directsync => "directsync",
            DiskCache::Unsafe => "unsafe",
        }
    }
}

/// I/O mode of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskIo {
    /// `threads`.
    Threads,
    /// `native`.
    Native,
    /// `io_uring`.
    IoUring,
}

impl DiskIo {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskIo::Threads => "threads",
            DiskIo::Native => "native",
            DiskIo::IoUring => "io_uring",
        }
    }
}

/// `<source>` of a disk or backing layer.
///
/// Which fields are set follows the disk type: `path` for file/block/dir (attributes `file`, `dev`,
/// `dir`), `protocol`/`name`/`hosts` for network, `pool`/`volume` for volume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskSource {
    /// The host path (`file`, `dev` or `dir` attribute, by disk type).
    pub path: Option<String>,
    /// `protocol` (`nbd`, `rbd`, `iscsi`, `http`…).
    pub protocol: Option<String>,
    /// `name`: the volume or export name.
    pub name: Option<String>,
    /// `pool` (volume disks).
    pub pool: Option<String>,
    /// `volume` (volume disks).
    pub volume: Option<String>,
    /// `startupPolicy` (`mandatory`, `requisite`, `optional`).
    pub startup_policy: Option<String>,
    /// `<host>` entries.
    pub hosts: Vec<SourceHost>,
    /// Per-device `<seclabel>` overrides, one per model.
    pub seclabels: Vec<DeviceSeclabel>,
    /// What was not understood.
    pub extra: Extra,
}

impl DiskSource {
    /// The per-device override for a security model, if any.
    pub fn seclabel(&self, model: &str) -> Option<&DeviceSeclabel> {
        self.seclabels
            .iter()
            .find(|label| label.model.as_deref() == Some(model))
    }
}

/// `<host name='…' port='…' transport='…' socket='…'/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceHost {
    /// `name`.
    pub name: Option<String>,
    /// `port`, as written.
    pub port: Option<String>,
    /// `transport` (`tcp`, `unix`, `rdma`).
    pub transport: Option<String>,
    /// `socket` (unix transport).
    pub socket: Option<String>,
}

/// One layer of a backing chain: `<backingStore type='…'><format type='…'/><source …/>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingStore {
    /// `type`.
    pub kind: DiskType,
    /// `<format type='…'/>`.
    pub format: Option<String>,
    /// `<source>`.
    pub source: DiskSource,
    /// The next layer down.
    pub backing_store: Option<Box<BackingStore>>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<target dev='vda' bus='virtio'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTarget {
    /// `dev`: the name the guest should see (`vda`, `sdb`, `hdc`).
    pub dev: String,
    /// `bus`.
    pub bus: Option<DiskBus>,
    /// `tray` (`open`, `closed`).
    pub tray: Option<String>,
    /// `removable` (USB disks).
    pub removable: Option<super::OnOff>,
    /// What was not understood.
    pub extra: Extra,
}

/// Bus a disk is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskBus {
    /// `ide`.
    Ide,
    /// `fdc`.
    Fdc,
    /// `scsi`.
    Scsi,
    /// `virtio`.
    Virtio,
    /// `usb`.
    Usb,
    /// `sata`.
    Sata,
    /// `sd`.
    Sd,
}

impl DiskBus {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskBus::Ide => "ide",
            DiskBus::Fdc => "fdc",
            DiskBus::Scsi => "scsi",
            DiskBus::Virtio => "virtio",
            DiskBus::Usb => "usb",
            DiskBus::Sata => "sata",
            DiskBus::Sd => "sd",
        }
    }
}
