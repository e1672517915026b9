//! The typed model of a libvirt domain definition.
//!
//! Every struct mirrors one XML element. Values that libvirt fills in with a default when parsing
//! (the vCPU placement, the lifecycle actions, a `<seclabel>`'s `relabel`) are filled in here too,
//! so a parsed model formats to what `virsh dumpxml` would print. What the model does not
//! understand is kept in [`Extra`] (unknown attributes and child elements of a known element) or
//! [`RawXml`] (elements known to libvirt that this crate carries verbatim), and written back.
//!
//! Not every element has an [`Extra`]: small leaf elements that the model reduces to one value
//! (`<boot order>`, `<alias>`, `<address>`, `<mac>`, `<seclabel>`, a `<host>` of a disk source…)
//! and text-only elements drop unknown attributes in the default mode. Validate mode refuses
//! them like any other unknown content, so nothing is dropped without a way to notice.

mod address;
mod chardev;
mod devices;
mod disk;
mod net;
mod os;
mod seclabel;

pub use address::{Address, DriveAddress, PciAddress, UsbAddress, VirtioSerialAddress};
pub use chardev::{Chardev, ChardevRole, ChardevSource, ChardevTarget, ChardevType};
pub use devices::{
    Controller, Devices, Graphics, GraphicsListen, GraphicsType, Hostdev, HostdevSource, Input,
    InputType, Memballoon, OtherDevice, OtherDeviceKind, Rng, RngBackend, Tpm, TpmBackend,
    TpmBackendType, Video, VideoModel,
};
pub use disk::{
    BackingStore, Disk, DiskBus, DiskCache, DiskDevice, DiskDriver, DiskIo, DiskSource, DiskTarget,
    DiskType, SourceHost,
};
pub use net::{Interface, InterfaceSource, InterfaceType, MacAddr};
pub use os::{
    BootDevice, BootMenu, Clock, ClockOffset, Cpu, CpuFeature, CpuMode, CpuModel, CpuTopology,
    Features, LifecycleAction, Loader, Nvram, Os, Timer,
};
pub use seclabel::{DeviceSeclabel, Seclabel, SeclabelType};

pub use ::uuid::Uuid;

/// Hypervisor type from `<domain type='…'>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainType {
    /// Hardware-accelerated QEMU (`kvm`).
    Kvm,
    /// QEMU with TCG emulation (`qemu`).
    Qemu,
}

impl DomainType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
        }
    }
}

/// A complete guest definition: the `<domain>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// `type` attribute.
    pub kind: DomainType,
    /// `id` attribute of a running domain (live XML only).
    pub id: Option<u32>,
    /// Namespace declarations of the root element (`xmlns:qemu='…'`), as `(prefix, uri)`.
    pub namespaces: Vec<(String, String)>,
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when the input has none.
    pub uuid: Uuid,
    /// `<genid>`.
    pub genid: Option<Genid>,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// The inner XML of `<metadata>`, verbatim.
    pub metadata: Option<String>,
    /// `<maxMemory>`: hotplug ceiling.
    pub max_memory: Option<MaxMemory>,
    /// `<memory>`: the boot-time maximum.
    pub memory: MemorySize,
    /// `<currentMemory>`: the balloon target (libvirt fills in `memory` when absent).
    pub current_memory: MemorySize,
    /// `<blkiotune>`, verbatim.
    pub blkiotune: Option<RawXml>,
    /// `<memtune>`.
    pub memtune: Option<MemTune>,
    /// `<memoryBacking>`, verbatim.
    pub memory_backing: Option<RawXml>,
    /// `<vcpu>`.
    pub vcpu: Vcpu,
    /// `<iothreads>` count.
    pub iothreads: Option<u32>,
    /// `<cputune>`.
    pub cputune: Option<CpuTune>,
    /// `<numatune>`, verbatim.
    pub numatune: Option<RawXml>,
    /// `<resource>`.
    pub resource: Option<Resource>,
    /// `<sysinfo>`, verbatim.
    pub sysinfo: Option<RawXml>,
    /// `<os>`.
    pub os: Os,
    /// `<features>`.
    pub features: Option<Features>,
    /// `<cpu>`.
    pub cpu: Option<Cpu>,
    /// `<clock>`.
    pub clock: Option<Clock>,
    /// `<on_poweroff>` (default destroy).
    pub on_poweroff: LifecycleAction,
    /// `<on_reboot>` (default restart).
    pub on_reboot: LifecycleAction,
    /// `<on_crash>` (default destroy).
    pub on_crash: LifecycleAction,
    /// `<pm>`, verbatim.
    pub pm: Option<RawXml>,
    /// `<devices>`.
    pub devices: Devices,
    /// Domain-level `<seclabel>` elements, at most one per model.
    pub seclabels: Vec<Seclabel>,
    /// What was not understood.
    pub extra: Extra,
}

impl Domain {
    /// A minimal definition: `hvm` guest with the given name, memory and one vCPU, no devices.
    pub fn new(kind: DomainType, name: impl Into<String>, uuid: Uuid, memory_kib: u64) -> Self {
        Domain {
            kind,
            id: None,
            namespaces: Vec::new(),
            name: name.into(),
            uuid,
            genid: None,
            title: None,
            description: None,
            metadata: None,
            max_memory: None,
            memory: MemorySize::from_kib(memory_kib),
            current_memory: MemorySize::from_kib(memory_kib),
            blkiotune: None,
            memtune: None,
            memory_backing: None,
            vcpu: Vcpu::default(),
            iothreads: None,
            cputune: None,
            numatune: None,
            resource: None,
            sysinfo: None,
            os: Os::default(),
            features: None,
            cpu: None,
            clock: None,
            on_poweroff: LifecycleAction::Destroy,
            on_reboot: LifecycleAction::Restart,
            on_crash: LifecycleAction::Destroy,
            pm: None,
            devices: Devices::default(),
            seclabels: Vec::new(),
            extra: Extra::default(),
        }
    }

    /// The domain-level seclabel of the given model (`selinux`, `dac`, `landlock`…).
    pub fn seclabel(&self, model: &str) -> Option<&Seclabel> {
        self.seclabels
            .iter()
            .find(|label| label.model.as_deref() == Some(model))
    }
}

/// `<genid>`: the VM generation ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Genid {
    /// `<genid/>`: the hypervisor generates one.
    Auto,
    /// `<genid>UUID</genid>`.
    Fixed(Uuid),
}

/// A memory size, held in KiB as libvirt does (input in other units is rounded up to a KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MemorySize {
    /// Size in KiB.
    pub kib: u64,
}

impl MemorySize {
    /// A size of `kib` KiB.
    pub const fn from_kib(kib: u64) -> Self {
        MemorySize { kib }
    }
}

/// `<maxMemory slots='N'>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxMemory {
    /// The ceiling.
    pub size: MemorySize,
    /// Number of hotplug slots.
    pub slots: Option<u32>,
}

/// `<memtune>` limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemTune {
    /// `<hard_limit>`.
    pub hard_limit: Option<MemorySize>,
    /// `<soft_limit>`.
    pub soft_limit: Option<MemorySize>,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit: Option<MemorySize>,
    /// `<min_guarantee>`.
    pub min_guarantee: Option<MemorySize>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<vcpu placement='…' cpuset='…' current='…'>N</vcpu>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpu {
    /// Maximum number of vCPUs.
    pub count: u32,
    /// `placement` (libvirt fills in `static`).
    pub placement: VcpuPlacement,
    /// `cpuset`: host CPUs the vCPUs may run on, as written (`1-4,^3,6`).
    pub cpuset: Option<String>,
    /// `current`: vCPUs online at boot.
    pub current: Option<u32>,
    /// What was not understood.
    pub extra: Extra,
}

impl Default for Vcpu {
    fn default() -> Self {
        Vcpu {
            count: 1,
            placement: VcpuPlacement::Static,
            cpuset: None,
            current: None,
            extra: Extra::default(),
        }
    }
}

/// `placement` of `<vcpu>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuPlacement {
    /// Fixed by `cpuset` or all host CPUs.
    Static,
    /// Chosen from the host's NUMA advice.
    Auto,
}

/// `<cputune>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuTune {
    /// `<vcpupin vcpu='N' cpuset='…'/>`, as `(vcpu, cpuset)`.
    pub vcpupins: Vec<VcpuPin>,
    /// `<emulatorpin cpuset='…'/>`.
    pub emulatorpin: Option<String>,
    /// `<shares>`.
    pub shares: Option<u64>,
    /// `<period>` in µs.
    pub period: Option<u64>,
    /// `<quota>` in µs (negative: unlimited).
    pub quota: Option<i64>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<vcpupin>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcpuPin {
    /// The vCPU.
    pub vcpu: u32,
    /// Host CPUs, as written.
    pub cpuset: String,
}

/// `<resource><partition>…</partition></resource>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    /// The cgroup partition, e.g. `/machine`.
    pub partition: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// A yes/no attribute (`readonly='yes'`, `autoport='no'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YesNo {
    /// `yes`.
    Yes,
    /// `no`.
    No,
}

impl YesNo {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            YesNo::Yes => "yes",
            YesNo::No => "no",
        }
    }

    /// `yes` for true.
    pub fn from_bool(value: bool) -> Self {
        if value {
            YesNo::Yes
        } else {
            YesNo::No
        }
    }
}

/// An on/off attribute (`state='on'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnOff {
    /// `on`.
    On,
    /// `off`.
    Off,
}

impl OnOff {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            OnOff::On => "on",
            OnOff::Off => "off",
        }
    }
}

/// An element kept as written: the exact XML text of the element, start tag to end tag.
///
/// Namespace prefixes it uses must be declared inside it or on the root element (which the model
/// keeps in [`Domain::namespaces`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawXml {
    /// The element's local name (without prefix), for ordering and messages.
    pub name: String,
    /// The element's XML text.
    pub xml: String,
}

/// Attributes and child elements the parser did not understand, written back after the known
/// ones. A parse in validate mode rejects them instead.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Extra {
    /// Unknown attributes as `(qualified name, value)`.
    pub attributes: Vec<(String, String)>,
    /// Unknown child elements, verbatim.
    pub elements: Vec<RawXml>,
}

impl Extra {
    /// Whether nothing unknown was found.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.elements.is_empty()
    }
}
