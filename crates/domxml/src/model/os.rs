//! `<os>`, `<features>`, `<cpu>`, `<clock>` and the lifecycle actions.

use super::{Extra, OnOff, RawXml, YesNo};

/// `<os>`: how the guest boots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Os {
    /// `firmware` attribute (`efi`, `bios`).
    pub firmware: Option<String>,
    /// `<type arch='…'>`.
    pub arch: Option<String>,
    /// `<type machine='…'>`.
    pub machine: Option<String>,
    /// `<firmware>` (firmware features for auto-selection), verbatim.
    pub firmware_features: Option<RawXml>,
    /// `<loader>`.
    pub loader: Option<Loader>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<kernel>` path (direct kernel boot).
    pub kernel: Option<String>,
    /// `<initrd>` path.
    pub initrd: Option<String>,
    /// `<cmdline>`.
    pub cmdline: Option<String>,
    /// `<dtb>` path.
    pub dtb: Option<String>,
    /// `<boot dev='…'/>` in order.
    pub boot: Vec<BootDevice>,
    /// `<bootmenu>`.
    pub bootmenu: Option<BootMenu>,
    /// `<smbios mode='…'/>`.
    pub smbios: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<loader readonly='…' secure='…' type='…'>path</loader>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// The firmware image.
    pub path: Option<String>,
    /// `readonly`.
    pub readonly: Option<YesNo>,
    /// `secure`.
    pub secure: Option<YesNo>,
    /// `type` (`rom`, `pflash`).
    pub kind: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<nvram template='…'>path</nvram>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvram {
    /// The per-guest variable store.
    pub path: Option<String>,
    /// The template it is copied from.
    pub template: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// A `<boot dev='…'/>` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootDevice {
    /// `hd`.
    Hd,
    /// `cdrom`.
    Cdrom,
    /// `fd`.
    Fd,
    /// `network`.
    Network,
}

impl BootDevice {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            BootDevice::Hd => "hd",
            BootDevice::Cdrom => "cdrom",
            BootDevice::Fd => "fd",
            BootDevice::Network => "network",
        }
    }
}

/// `<bootmenu enable='…' timeout='…'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootMenu {
    /// `enable`.
    pub enable: YesNo,
    /// `timeout` in ms.
    pub timeout: Option<u32>,
}

/// `<features>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// `<acpi/>`.
    pub acpi: bool,
    /// `<apic/>`.
    pub apic: bool,
    /// `<pae/>`.
    pub pae: bool,
    /// `<hap/>`.
    pub hap: bool,
    /// `<viridian/>`.
    pub viridian: bool,
    /// `<privnet/>`.
    pub privnet: bool,
    /// `<hyperv>`, verbatim.
    pub hyperv: Option<RawXml>,
    /// `<kvm>`, verbatim.
    pub kvm: Option<RawXml>,
    /// `<pvspinlock state='…'/>`.
    pub pvspinlock: Option<OnOff>,
    /// `<vmport state='…'/>`.
    pub vmport: Option<OnOff>,
    /// `<gic>`, verbatim.
    pub gic: Option<RawXml>,
    /// `<smm state='…'/>`.
    pub smm: Option<OnOff>,
    /// `<ioapic>`, verbatim.
    pub ioapic: Option<RawXml>,
    /// `<vmcoreinfo state='…'/>`.
    pub vmcoreinfo: Option<OnOff>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<cpu>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    /// `mode`.
    pub mode: Option<CpuMode>,
    /// `match` (`minimum`, `exact`, `strict`).
    pub match_policy: Option<String>,
    /// `check` (`none`, `partial`, `full`).
    pub check: Option<String>,
    /// `migratable`.
    pub migratable: Option<OnOff>,
    /// `<model>`.
    pub model: Option<CpuModel>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology>`.
    pub topology: Option<CpuTopology>,
    /// `<cache>`, verbatim.
    pub cache: Option<RawXml>,
    /// `<feature policy='…' name='…'/>`.
    pub features: Vec<CpuFeature>,
    /// `<numa>`, verbatim.
    pub numa: Option<RawXml>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<cpu mode='…'>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuMode {
    /// `custom`.
    Custom,
    /// `host-model`.
    HostModel,
    /// `host-passthrough`.
    HostPassthrough,
    /// `maximum`.
    Maximum,
}

impl CpuMode {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            CpuMode::Custom => "custom",
            CpuMode::HostModel => "host-model",
            CpuMode::HostPassthrough => "host-passthrough",
            CpuMode::Maximum => "maximum",
        }
    }
}

/// `<model fallback='…'>name</model>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuModel {
    /// The CPU model name.
    pub name: String,
    /// `fallback` (`allow`, `forbid`).
    pub fallback: Option<String>,
}

/// `<topology sockets='…' dies='…' cores='…' threads='…'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTopology {
    /// `sockets`.
    pub sockets: u32,
    /// `dies`.
    pub dies: Option<u32>,
    /// `cores`.
    pub cores: u32,
    /// `threads`.
    pub threads: u32,
}

/// `<feature policy='…' name='…'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    /// `policy` (`force`, `require`, `optional`, `disable`, `forbid`).
    pub policy: Option<String>,
    /// `name`.
    pub name: String,
}

/// `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// `offset`.
    pub offset: ClockOffset,
    /// `timezone` (with offset `timezone`).
    pub timezone: Option<String>,
    /// `adjustment` (with offset `variable`), as written.
    pub adjustment: Option<String>,
    /// `basis` (`utc`, `localtime`).
    pub basis: Option<String>,
    /// `<timer>` entries.
    pub timers: Vec<Timer>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<clock offset='…'>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockOffset {
    /// `utc`.
    Utc,
    /// `localtime`.
    Localtime,
    /// `timezone`.
    Timezone,
    /// `variable`.
    Variable,
}

impl ClockOffset {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockOffset::Utc => "utc",
            ClockOffset::Localtime => "localtime",
            ClockOffset::Timezone => "timezone",
            ClockOffset::Variable => "variable",
        }
    }
}

/// `<timer name='…' tickpolicy='…' present='…'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// `name` (`rtc`, `pit`, `hpet`, `kvmclock`, `hypervclock`…).
    pub name: String,
    /// `tickpolicy`.
    pub tickpolicy: Option<String>,
    /// `present`.
    pub present: Option<YesNo>,
    /// What was not understood.
    pub extra: Extra,
}

/// What to do on guest power-off, reboot or crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    /// `destroy`.
    Destroy,
    /// `restart`.
    Restart,
    /// `preserve`.
    Preserve,
    /// `rename-restart`.
    RenameRestart,
    /// `coredump-destroy` (on_crash only).
    CoredumpDestroy,
    /// `coredump-restart` (on_crash only).
    CoredumpRestart,
}

impl LifecycleAction {
    /// The element text.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Destroy => "destroy",
            LifecycleAction::Restart => "restart",
            LifecycleAction::Preserve => "preserve",
            LifecycleAction::RenameRestart => "rename-restart",
            LifecycleAction::CoredumpDestroy => "coredump-destroy",
            LifecycleAction::CoredumpRestart => "coredump-restart",
        }
    }
}
