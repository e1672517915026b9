//! `<devices>` and the device families without a file of their own.

use super::{Address, Chardev, Disk, Extra, Interface, PciAddress, RawXml, YesNo};

/// `<devices>`, one list per element name, formatted in libvirt's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// `<emulator>`: the QEMU binary.
    pub emulator: Option<String>,
    /// `<disk>`.
    pub disks: Vec<Disk>,
    /// `<controller>`.
    pub controllers: Vec<Controller>,
    /// `<interface>`.
    pub interfaces: Vec<Interface>,
    /// `<serial>`.
    pub serials: Vec<Chardev>,
    /// `<console>`.
    pub consoles: Vec<Chardev>,
    /// `<channel>`.
    pub channels: Vec<Chardev>,
    /// `<input>`.
    pub inputs: Vec<Input>,
    /// `<tpm>`.
    pub tpms: Vec<Tpm>,
    /// `<graphics>`.
    pub graphics: Vec<Graphics>,
    /// `<video>`.
    pub videos: Vec<Video>,
    /// `<hostdev>`.
    pub hostdevs: Vec<Hostdev>,
    /// `<memballoon>`.
    pub memballoon: Option<Memballoon>,
    /// `<rng>`.
    pub rngs: Vec<Rng>,
    /// Devices libvirt knows that this model carries verbatim (`<sound>`, `<watchdog>`…).
    pub others: Vec<OtherDevice>,
    /// What was not understood.
    pub extra: Extra,
}

impl Devices {
    /// Every `<serial>`, `<console>` and `<channel>`, in that order, with its role.
    pub fn chardevs(&self) -> impl Iterator<Item = (super::ChardevRole, &Chardev)> {
        let tag = |role| move |chardev| (role, chardev);
        self.serials
            .iter()
            .map(tag(super::ChardevRole::Serial))
            .chain(self.consoles.iter().map(tag(super::ChardevRole::Console)))
            .chain(self.channels.iter().map(tag(super::ChardevRole::Channel)))
    }
}

/// A `<controller type=… index=… model=…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// `type` (`pci`, `usb`, `sata`, `scsi`, `ide`, `virtio-serial`, `fdc`, `ccid`…).
    pub kind: String,
    /// `index`.
    pub index: u32,
    /// `model`.
    pub model: Option<String>,
    /// `ports` (usb, virtio-serial).
    pub ports: Option<u32>,
    /// `<model name='…'/>` (PCI controllers: the QEMU device, e.g. `pcie-root-port`).
    pub model_name: Option<String>,
    /// `<target …/>` (PCI controllers: chassis, port), verbatim.
    pub target: Option<RawXml>,
    /// `<driver …/>`, verbatim.
    pub driver: Option<RawXml>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<input type=… bus=…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `type`.
    pub kind: InputType,
    /// `bus` (`ps2`, `usb`, `virtio`).
    pub bus: Option<String>,
    /// `<source dev=…>` / `<source evdev=…>` (passthrough/evdev).
    pub source: Option<String>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `type` of an input device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputType {
    /// `mouse`.
    Mouse,
    /// `tablet`.
    Tablet,
    /// `keyboard`.
    Keyboard,
    /// `passthrough` (virtio-input-host).
    Passthrough,
    /// `evdev`.
    Evdev,
}

impl InputType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::Mouse => "mouse",
            InputType::Tablet => "tablet",
            InputType::Keyboard => "keyboard",
            InputType::Passthrough => "passthrough",
            InputType::Evdev => "evdev",
        }
    }
}

/// `type` of a graphics console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphicsType {
    /// `vnc`.
    Vnc,
    /// `spice`.
    Spice,
    /// `sdl`.
    Sdl,
    /// `egl-headless`.
    EglHeadless,
    /// `dbus`.
    Dbus,
}

impl GraphicsType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            GraphicsType::Vnc => "vnc",
            GraphicsType::Spice => "spice",
            GraphicsType::Sdl => "sdl",
            GraphicsType::EglHeadless => "egl-headless",
            GraphicsType::Dbus => "dbus",
        }
    }
}

/// `<graphics>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// `type`.
    pub kind: GraphicsType,
    /// `port` (-1: auto).
    pub port: Option<i32>,
    /// `tlsPort` (spice).
    pub tls_port: Option<i32>,
    /// `autoport`.
    pub autoport: Option<YesNo>,
    /// `listen` attribute (legacy form of `<listen type='address'>`).
    pub listen: Option<String>,
    /// `passwd`: written only when formatting with secrets.
    pub passwd: Option<String>,
    /// `keymap`.
    pub keymap: Option<String>,
    /// `<listen>` elements.
    pub listens: Vec<GraphicsListen>,
    /// `<image compression='…'/>` (spice).
    pub image_compression: Option<String>,
    /// `<gl>` (spice, egl-headless), verbatim.
    pub gl: Option<RawXml>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<listen type='address'|'network'|'socket'|'none' …/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphicsListen {
    /// `type`.
    pub kind: String,
    /// `address`.
    pub address: Option<String>,
    /// `network`.
    pub network: Option<String>,
    /// `socket`.
    pub socket: Option<String>,
}

/// `<video><model type=… vram=… heads=… primary=…/></video>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    /// `<model>`.
    pub model: VideoModel,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// The `<model>` of a video device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoModel {
    /// `type` (`vga`, `cirrus`, `qxl`, `virtio`, `bochs`, `ramfb`, `none`).
    pub kind: String,
    /// `ram` (KiB, qxl).
    pub ram: Option<u32>,
    /// `vram` (KiB).
    pub vram: Option<u32>,
    /// `vgamem` (KiB, qxl).
    pub vgamem: Option<u32>,
    /// `heads`.
    pub heads: Option<u32>,
    /// `primary`.
    pub primary: Option<YesNo>,
    /// `<acceleration>`, verbatim.
    pub acceleration: Option<RawXml>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<memballoon model=… autodeflate=…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memballoon {
    /// `model` (`virtio`, `none`).
    pub model: String,
    /// `autodeflate`.
    pub autodeflate: Option<super::OnOff>,
    /// `<stats period='N'/>`.
    pub stats_period: Option<u32>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<rng model='virtio'>` with its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    /// `model`.
    pub model: String,
    /// `<rate bytes=… period=…/>` as `(bytes, period)`.
    pub rate: Option<(u32, Option<u32>)>,
    /// `<backend>`.
    pub backend: RngBackend,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<backend model=…>` of an `<rng>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RngBackend {
    /// `model='random'` with the host device (e.g. `/dev/urandom`) as text.
    Random(Option<String>),
    /// `model='builtin'`.
    Builtin,
    /// `model='egd'`: its chardev is kept verbatim.
    Egd(RawXml),
}

/// `<tpm model=…>` with its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `model` (`tpm-tis`, `tpm-crb`, `spapr-tpm-proxy`).
    pub model: Option<String>,
    /// `<backend>`.
    pub backend: TpmBackend,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `type` of a TPM backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TpmBackendType {
    /// A host TPM device.
    Passthrough,
    /// swtpm.
    Emulator,
    /// An externally started swtpm.
    External,
}

impl TpmBackendType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            TpmBackendType::Passthrough => "passthrough",
            TpmBackendType::Emulator => "emulator",
            TpmBackendType::External => "external",
        }
    }
}

/// `<backend type=… version=…>` of a TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmBackend {
    /// `type`.
    pub kind: TpmBackendType,
    /// `version` (`1.2`, `2.0`).
    pub version: Option<String>,
    /// `<device path=…/>` (passthrough).
    pub device_path: Option<String>,
    /// What was not understood (e.g. `<encryption>`, `<source>`).
    pub extra: Extra,
}

/// `<hostdev mode='subsystem' type='usb'|'pci' managed=…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostdev {
    /// `managed`.
    pub managed: Option<YesNo>,
    /// `<source>` and with it the type.
    pub source: HostdevSource,
    /// What was not understood inside `<source>`.
    pub source_extra: Extra,
    /// `<boot order='N'/>`.
    pub boot_order: Option<u32>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`: where the guest sees it.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// The host device to pass through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostdevSource {
    /// A USB device by `<vendor id=…/>`/`<product id=…/>` and/or `<address bus=… device=…/>`.
    Usb {
        /// Vendor ID.
        vendor: Option<u16>,
        /// Product ID.
        product: Option<u16>,
        /// Host `(bus, device)`.
        address: Option<(u32, u32)>,
    },
    /// A PCI device by host address.
    Pci {
        /// Host address.
        address: PciAddress,
    },
}

/// Kinds of device that libvirt defines and this model keeps verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OtherDeviceKind {
    /// `<lease>`.
    Lease,
    /// `<filesystem>`.
    Filesystem,
    /// `<smartcard>`.
    Smartcard,
    /// `<parallel>`.
    Parallel,
    /// `<sound>`.
    Sound,
    /// `<audio>`.
    Audio,
    /// `<redirdev>`.
    Redirdev,
    /// `<redirfilter>`.
    Redirfilter,
    /// `<hub>`.
    Hub,
    /// `<watchdog>`.
    Watchdog,
    /// `<nvram>`.
    Nvram,
    /// `<panic>`.
    Panic,
    /// `<shmem>`.
    Shmem,
    /// `<memory>`.
    Memory,
    /// `<iommu>`.
    Iommu,
    /// `<vsock>`.
    Vsock,
    /// `<crypto>`.
    Crypto,
}

impl OtherDeviceKind {
    /// Every kind, in libvirt's order.
    pub const ALL: [OtherDeviceKind; 17] = [
        OtherDeviceKind::Lease,
        OtherDeviceKind::Filesystem,
        OtherDeviceKind::Smartcard,
        OtherDeviceKind::Parallel,
        OtherDeviceKind::Sound,
        OtherDeviceKind::Audio,
        OtherDeviceKind::Redirdev,
        OtherDeviceKind::Redirfilter,
        OtherDeviceKind::Hub,
        OtherDeviceKind::Watchdog,
        OtherDeviceKind::Nvram,
        OtherDeviceKind::Panic,
        OtherDeviceKind::Shmem,
        OtherDeviceKind::Memory,
        OtherDeviceKind::Iommu,
        OtherDeviceKind::Vsock,
        OtherDeviceKind::Crypto,
    ];

    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            OtherDeviceKind::Lease => "lease",
            OtherDeviceKind::Filesystem => "filesystem",
            OtherDeviceKind::Smartcard => "smartcard",
            OtherDeviceKind::Parallel => "parallel",
            OtherDeviceKind::Sound => "sound",
            OtherDeviceKind::Audio => "audio",
            OtherDeviceKind::Redirdev => "redirdev",
            OtherDeviceKind::Redirfilter => "redirfilter",
            OtherDeviceKind::Hub => "hub",
            OtherDeviceKind::Watchdog => "watchdog",
            OtherDeviceKind::Nvram => "nvram",
            OtherDeviceKind::Panic => "panic",
            OtherDeviceKind::Shmem => "shmem",
            OtherDeviceKind::Memory => "memory",
            OtherDeviceKind::Iommu => "iommu",
            OtherDeviceKind::Vsock => "vsock",
            OtherDeviceKind::Crypto => "crypto",
        }
    }

    /// The kind with this element name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A device of a kind in [`OtherDeviceKind`], verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherDevice {
    /// Its kind.
    pub kind: OtherDeviceKind,
    /// Its XML.
    pub xml: RawXml,
}
