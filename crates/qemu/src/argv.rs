//! The QEMU command line for a domain: pure, no I/O.
//!
//! [`build`] turns a [`Domain`], the host facts the daemon probed ([`HostFacts`]) and the guest's
//! [`RuntimePaths`] into a [`QemuArgv`]. Its shape, in order:
//!
//! 1. identity and host integration: `-name guest=NAME,debug-threads=on`, `-uuid`,
//!    `-nodefaults -no-user-config`, `-msg timestamp=on`, `-sandbox …` when QEMU has it;
//! 2. machine: `-machine TYPE,…`, `-accel kvm|tcg`, `-cpu`, `-m`, `-smp`, `-rtc`, `-boot`, direct
//!    kernel boot, `-no-shutdown`/`-no-reboot` from the lifecycle actions, `-S` when paused;
//! 3. control: QMP on a unix socket in the run directory (`-chardev socket,…,server=on,wait=off`
//!    and `-mon …,mode=control`); no `-pidfile`, the daemon writes it; never `-daemonize`, the daemon supervises;
//! 4. devices: controllers, disks (`-blockdev` file/host_device node under a raw/qcow2 format
//!    node, then `-device`), interfaces (`-netdev user` or `-netdev tap,fd=N`), serial ports and
//!    consoles (`-chardev` + `-device isa-serial`), inputs, graphics (`-vnc` or
//!    `-display none`), video, balloon, RNG.
//!
//! What the model holds that this command line cannot express (yet) is never dropped: every such
//! element is collected as a [`Refusal`] naming it, and [`build`] fails with all of them at once
//! ([`ArgvError::Refused`]). The refused elements are listed in the crate documentation.
//!
//! Tap interfaces are passed by fd: the daemon opens one tap per entry of
//! [`QemuArgv::tap_interfaces`] and hands them to the launch in that order; the child sees them
//! at [`FIRST_PASSED_FD`], `FIRST_PASSED_FD + 1`, ….

mod devices;
mod disk;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

use domxml::model::{
    BootDevice, ClockOffset, CpuMode, Extra, LifecycleAction, VcpuPlacement, YesNo,
};
use domxml::{model::DomainType, Domain};

use crate::paths::RuntimePaths;

/// The first fd number in QEMU at which passed fds (taps) appear.
pub const FIRST_PASSED_FD: i32 = 3;

/// The emulator used when the domain has no `<emulator>`.
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// The `-sandbox` argument: QEMU's seccomp denylist with every optional set enabled.
pub const SANDBOX_ARG: &str =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/// Whether hardware KVM is usable on this host (`/dev/kvm` present and openable, not a nested
/// hypervisor that cannot run Linux guests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kvm {
    /// `type='kvm'` guests run with `-accel kvm`.
    Usable,
    /// Every guest runs with `-accel tcg`.
    Unavailable,
}

/// Whether the QEMU binary was built with seccomp (`-sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sandbox {
    /// Pass [`SANDBOX_ARG`].
    Supported,
    /// Leave `-sandbox` out.
    Unsupported,
}

/// Whether the guest's vCPUs start running or wait for a QMP `cont`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartMode {
    /// Run at once.
    #[default]
    Running,
    /// Start paused (`-S`), as `virsh start --paused`.
    Paused,
}

/// Facts about the host and the start request that shape the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// KVM usability.
    pub kvm: Kvm,
    /// `-sandbox` support.
    pub sandbox: Sandbox,
    /// Running or paused start.
    pub start: StartMode,
}

/// The accelerator chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accel {
    /// Hardware virtualization.
    Kvm,
    /// Emulation.
    Tcg,
}

impl Accel {
    /// The `-accel` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// A command line ready for the launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuArgv {
    /// The emulator binary (`<emulator>` or [`DEFAULT_EMULATOR`]).
    pub program: PathBuf,
    /// Arguments, without the program.
    pub args: Vec<String>,
    /// The accelerator in the arguments.
    pub accel: Accel,
    /// Indices into `domain.devices.interfaces` that need a tap fd, in fd order from
    /// [`FIRST_PASSED_FD`].
    pub tap_interfaces: Vec<usize>,
}

impl fmt::Display for QemuArgv {
    /// The command line as one shell-like line, for logs (arguments with spaces are quoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        for arg in &self.args {
            if arg.is_empty() || arg.contains([' ', '\'', '"', '\\', '\n']) {
                write!(f, " '{}'", arg.replace('\'', "'\\''"))?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// One element the command line cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The element or attribute, e.g. `<disk target='vda'>/<driver io>`.
    pub element: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.element, self.reason)
    }
}

/// Why no command line was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgvError {
    /// The domain holds elements this command line cannot express; all of them are listed.
    #[error("cannot start domain '{domain}': {}", join_refusals(.refusals))]
    Refused {
        /// The domain name.
        domain: String,
        /// Every refused element.
        refusals: Vec<Refusal>,
    },
}

fn join_refusals(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The machine family, which decides bus names and built-in controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Machine {
    /// `pc`, `pc-i440fx-*`: PCI bus `pci.0`, IDE buses `ide.0`/`ide.1`.
    I440fx,
    /// `q35`, `pc-q35-*`: PCIe bus `pcie.0`, AHCI buses `ide.0`…`ide.5`.
    Q35,
}

impl Machine {
    fn pci_bus(self) -> &'static str {
        match self {
            Machine::I440fx => "pci.0",
            Machine::Q35 => "pcie.0",
        }
    }
}

/// Builds the command line; see the module doc.
pub fn build(
    domain: &Domain,
    host: &HostFacts,
    paths: &RuntimePaths,
) -> Result<QemuArgv, ArgvError> {
    let mut builder = Builder::new(domain, host, paths);
    builder.identity();
    builder.machine();
    builder.control();
    builder.devices();
    builder.finish()
}

struct Builder<'a> {
    domain: &'a Domain,
    host: &'a HostFacts,
    paths: &'a RuntimePaths,
    machine: Machine,
    accel: Accel,
    args: Vec<String>,
    refusals: Vec<Refusal>,
    tap_interfaces: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn new(domain: &'a Domain, host: &'a HostFacts, paths: &'a RuntimePaths) -> Self {
        let accel = match (domain.kind, host.kvm) {
            (DomainType::Kvm, Kvm::Usable) => Accel::Kvm,
            _ => Accel::Tcg,
        };
        Builder {
            domain,
            host,
            paths,
            machine: Machine::I440fx,
            accel,
            args: Vec::new(),
            refusals: Vec::new(),
            tap_interfaces: Vec::new(),
        }
    }

    fn push(&mut self, option: &str, value: impl Into<String>) {
        self.args.push(option.to_owned());
        self.args.push(value.into());
    }

    fn flag(&mut self, option: &str) {
        self.args.push(option.to_owned());
    }

    fn refuse(&mut self, element: impl Into<String>, reason: impl Into<String>) {
        self.refusals.push(Refusal {
            element: element.into(),
            reason: reason.into(),
        });
    }

    /// Refuses whatever the parser kept without understanding it.
    fn extra(&mut self, extra: &Extra, element: &str) {
        for (name, _) in &extra.attributes {
            self.refuse(format!("{element}/@{name}"), "unknown attribute");
        }
        for raw in &extra.elements {
            self.refuse(format!("{element}/<{}>", raw.name), "unknown element");
        }
    }

    fn identity(&mut self) {
        let domain = self.domain;
        self.push(
            "-name",
            format!("guest={},debug-threads=on", escape(&domain.name)),
        );
        self.push("-uuid", domain.uuid.to_string());
        self.flag("-nodefaults");
        self.flag("-no-user-config");
        self.push("-msg", "timestamp=on");
        if self.host.sandbox == Sandbox::Supported {
            self.push("-sandbox", SANDBOX_ARG);
        }
        self.extra(&domain.extra, "<domain>");
        if !domain.namespaces.is_empty() {
            self.refuse(
                "<domain>/@xmlns:*",
                "namespaced extensions are not supported",
            );
        }
        if domain.genid.is_some() {
            self.refuse("<genid>", "VM generation IDs are not supported yet");
        }
        if domain.sysinfo.is_some() {
            self.refuse("<sysinfo>", "SMBIOS tables are not supported yet");
        }
        // The daemon's cgroups enforce <memtune><hard_limit> and <cputune><shares>; the rest
        // of the tuning elements are not applied yet.
        let memtune_other = domain.memtune.as_ref().is_some_and(|m| {
            m.soft_limit.is_some()
                || m.swap_hard_limit.is_some()
                || m.min_guarantee.is_some()
                || !m.extra.is_empty()
        });
        let cputune_other = domain.cputune.as_ref().is_some_and(|c| {
            !c.vcpupins.is_empty()
                || c.emulatorpin.is_some()
                || c.period.is_some()
                || c.quota.is_some()
                || !c.extra.is_empty()
        });
        for (element, present) in [
            ("<blkiotune>", domain.blkiotune.is_some()),
            ("<memtune> (other than <hard_limit>)", memtune_other),
            ("<numatune>", domain.numatune.is_some()),
            ("<cputune> (other than <shares>)", cputune_other),
            ("<memoryBacking>", domain.memory_backing.is_some()),
        ] {
            if present {
                self.refuse(element, "tuning is not supported yet");
            }
        }
        if let Some(resource) = &domain.resource {
            self.extra(&resource.extra, "<resource>");
            if resource
                .partition
                .as_deref()
                .is_some_and(|p| p != "/machine")
            {
                self.refuse(
                    "<resource>/<partition>",
                    "only the default partition /machine is supported",
                );
            }
        }
    }

    fn machine(&mut self) {
        let domain = self.domain;
        let os = &domain.os;
        self.extra(&os.extra, "<os>");
        match os.arch.as_deref() {
            None | Some("x86_64") => {}
            Some(other) => self.refuse(
                "<os>/<type arch>",
                format!("architecture '{other}' is not supported (only x86_64)"),
            ),
        }
        let machine_name = os.machine.as_deref().unwrap_or("pc");
        if machine_name == "q35" || machine_name.starts_with("pc-q35") {
            self.machine = Machine::Q35;
        } else if !(machine_name == "pc" || machine_name.starts_with("pc-i440fx")) {
            self.refuse(
                "<os>/<type machine>",
                format!(
                    "machine type '{machine_name}' is not supported (pc, q35 and their versions)"
                ),
            );
        }
        if !is_name(machine_name) {
            self.refuse("<os>/<type machine>", "invalid machine type name");
        }
        if os.firmware.is_some() || os.loader.is_some() || os.nvram.is_some() {
            self.refuse(
                "<os>/<loader>",
                "firmware selection (loader, nvram, firmware=) is not supported yet",
            );
        }
        if os.dtb.is_some() {
            self.refuse("<os>/<dtb>", "device trees are not supported on x86");
        }
        if os.smbios.is_some() {
            self.refuse("<os>/<smbios>", "SMBIOS modes are not supported yet");
        }

        let mut machine = format!("{machine_name},usb=off,dump-guest-core=off");
        let hpet_off = domain.clock.as_ref().is_some_and(|clock| {
            clock
                .timers
                .iter()
                .any(|t| t.name == "hpet" && t.present == Some(YesNo::No))
        });
        if hpet_off {
            machine.push_str(",hpet=off");
        }
        let features = domain.features.clone().unwrap_or_default();
        self.features(&features, &mut machine);
        self.push("-machine", machine);
        self.push("-accel", self.accel.as_str());
        self.pm();
        self.cpu();

        if domain.max_memory.is_some() {
            self.refuse("<maxMemory>", "memory hotplug is not supported yet");
        }
        if domain.current_memory != domain.memory {
            self.refuse(
                "<currentMemory>",
                "a balloon target below <memory> is not supported yet",
            );
        }
        self.push("-m", format!("size={}k", domain.memory.kib));
        self.smp();
        if let Some(iothreads) = domain.iothreads {
            for index in 1..=iothreads {
                self.push("-object", format!("iothread,id=iothread{index}"));
            }
        }
        self.clock();
        self.boot();
        if let Some(kernel) = &os.kernel {
            self.push("-kernel", kernel.clone());
        }
        if let Some(initrd) = &os.initrd {
            if os.kernel.is_none() {
                self.refuse("<os>/<initrd>", "an initrd needs a <kernel>");
            }
            self.push("-initrd", initrd.clone());
        }
        if let Some(cmdline) = &os.cmdline {
            if os.kernel.is_none() {
                self.refuse("<os>/<cmdline>", "a kernel command line needs a <kernel>");
            }
            self.push("-append", cmdline.clone());
        }
        self.lifecycle();
        if self.host.start == StartMode::Paused {
            self.flag("-S");
        }
    }

    fn features(&mut self, features: &domxml::model::Features, machine: &mut String) {
        self.extra(&features.extra, "<features>");
        if !features.acpi {
            machine.push_str(",acpi=off");
        }
        // <apic/> and <pae/> are always on for x86_64 guests in QEMU; their absence changes
        // nothing there, as with libvirt.
        for (name, set) in [
            ("hap", features.hap),
            ("viridian", features.viridian),
            ("privnet", features.privnet),
        ] {
            if set {
                self.refuse(format!("<features>/<{name}>"), "not a QEMU feature");
            }
        }
        for (name, raw) in [
            ("hyperv", &features.hyperv),
            ("kvm", &features.kvm),
            ("gic", &features.gic),
            ("ioapic", &features.ioapic),
        ] {
            if raw.is_some() {
                self.refuse(format!("<features>/<{name}>"), "not supported yet");
            }
        }
        if features.pvspinlock.is_some() {
            self.refuse("<features>/<pvspinlock>", "not supported yet");
        }
        if features.vmcoreinfo.is_some() {
            self.refuse("<features>/<vmcoreinfo>", "not supported yet");
        }
        if let Some(state) = features.vmport {
            machine.push_str(&format!(",vmport={}", state.as_str()));
        }
        if let Some(state) = features.smm {
            machine.push_str(&format!(",smm={}", state.as_str()));
        }
    }

    /// `<pm><suspend-to-mem enabled='…'/><suspend-to-disk enabled='…'/></pm>`: S3 and S4 on the
    /// machine's power-management device.
    fn pm(&mut self) {
        let Some(pm) = &self.domain.pm else {
            return;
        };
        let Some(states) = pm_states(&pm.xml) else {
            self.refuse(
                "<pm>",
                "only suspend-to-mem and suspend-to-disk with enabled='yes|no' are supported",
            );
            return;
        };
        let device = match self.machine {
            Machine::I440fx => "PIIX4_PM",
            Machine::Q35 => "ICH9-LPC",
        };
        for (state, enabled) in states {
            let disable = if enabled { 0 } else { 1 };
            self.push("-global", format!("{device}.disable_{state}={disable}"));
        }
    }

    fn cpu(&mut self) {
        let Some(cpu) = &self.domain.cpu else {
            return;
        };
        self.extra(&cpu.extra, "<cpu>");
        if cpu.vendor.is_some() {
            self.refuse("<cpu>/<vendor>", "CPU vendor checks are not supported yet");
        }
        if cpu.numa.is_some() {
            self.refuse("<cpu>/<numa>", "guest NUMA is not supported yet");
        }
        if cpu.match_policy.is_some() {
            self.refuse("<cpu match>", "CPU model matching is not supported yet");
        }
        if cpu.check.as_deref().is_some_and(|check| check != "none") {
            self.refuse("<cpu check>", "only check='none' is supported");
        }
        let mut model = match cpu.mode {
            Some(CpuMode::HostPassthrough) => {
                if self.accel != Accel::Kvm {
                    self.refuse("<cpu mode>", "host-passthrough needs KVM");
                }
                let mut model = "host".to_owned();
                if let Some(migratable) = cpu.migratable {
                    model.push_str(&format!(",migratable={}", migratable.as_str()));
                }
                Some(model)
            }
            Some(CpuMode::Maximum) => Some("max".to_owned()),
            Some(CpuMode::HostModel) => {
                self.refuse("<cpu mode>", "host-model is not supported yet");
                None
            }
            Some(CpuMode::Custom) | None => cpu.model.as_ref().map(|m| m.name.clone()),
        };
        if cpu.migratable.is_some() && cpu.mode != Some(CpuMode::HostPassthrough) {
            self.refuse("<cpu migratable>", "only meaningful with host-passthrough");
        }
        if let Some(fallback) = cpu.model.as_ref().and_then(|m| m.fallback.as_ref()) {
            if fallback != "forbid" && fallback != "allow" {
                self.refuse("<cpu>/<model fallback>", "unknown fallback");
            }
        }
        if let Some(name) = &model {
            if !name.split(',').next().is_some_and(is_name) {
                self.refuse("<cpu>/<model>", format!("invalid CPU model '{name}'"));
                model = None;
            }
        }
        if model.is_none() && !cpu.features.is_empty() {
            self.refuse("<cpu>/<feature>", "CPU features need a CPU model or mode");
        }
        if let Some(mut model) = model {
            for feature in &cpu.features {
                if !is_name(&feature.name) {
                    self.refuse(
                        "<cpu>/<feature name>",
                        format!("invalid feature '{}'", feature.name),
                    );
                    continue;
                }
                match feature.policy.as_deref() {
                    None | Some("require") | Some("force") => {
                        model.push_str(&format!(",{}=on", feature.name));
                    }
                    Some("disable") | Some("forbid") => {
                        model.push_str(&format!(",{}=off", feature.name));
                    }
                    Some(other) => self.refuse(
                        format!("<cpu>/<feature name='{}'>", feature.name),
                        format!("policy '{other}' is not supported"),
                    ),
                }
            }
            self.push("-cpu", model);
        }
    }

    fn smp(&mut self) {
        let vcpu = &self.domain.vcpu;
        self.extra(&vcpu.extra, "<vcpu>");
        if vcpu.placement == VcpuPlacement::Auto {
            self.refuse(
                "<vcpu placement>",
                "automatic placement is not supported yet",
            );
        }
        if vcpu.cpuset.is_some() {
            self.refuse("<vcpu cpuset>", "vCPU pinning is not supported yet");
        }
        let online = vcpu.current.unwrap_or(vcpu.count);
        let mut smp = online.to_string();
        if online != vcpu.count {
            smp.push_str(&format!(",maxcpus={}", vcpu.count));
        }
        if let Some(topology) = self.domain.cpu.as_ref().and_then(|cpu| cpu.topology) {
            let dies = topology.dies.unwrap_or(1);
            let product = u64::from(topology.sockets)
                * u64::from(dies)
                * u64::from(topology.cores)
                * u64::from(topology.threads);
            if product != u64::from(vcpu.count) {
                self.refuse(
                    "<cpu>/<topology>",
                    format!(
                        "{product} vCPUs in the topology but <vcpu> is {}",
                        vcpu.count
                    ),
                );
            }
            smp.push_str(&format!(",sockets={}", topology.sockets));
            if let Some(dies) = topology.dies {
                smp.push_str(&format!(",dies={dies}"));
            }
            smp.push_str(&format!(
                ",cores={},threads={}",
                topology.cores, topology.threads
            ));
        }
        self.push("-smp", smp);
    }

    fn clock(&mut self) {
        let Some(clock) = &self.domain.clock else {
            return;
        };
        self.extra(&clock.extra, "<clock>");
        let mut rtc = match clock.offset {
            ClockOffset::Utc => Some("base=utc".to_owned()),
            ClockOffset::Localtime => Some("base=localtime".to_owned()),
            other => {
                self.refuse(
                    "<clock offset>",
                    format!("offset '{}' is not supported yet", other.as_str()),
                );
                None
            }
        };
        if clock.basis.is_some() || clock.adjustment.is_some() || clock.timezone.is_some() {
            self.refuse(
                "<clock>",
                "basis, adjustment and timezone are not supported yet",
            );
        }
        for timer in &clock.timers {
            let element = format!("<clock>/<timer name='{}'>", timer.name);
            self.extra(&timer.extra, &element);
            let present = timer.present != Some(YesNo::No);
            match (timer.name.as_str(), present, timer.tickpolicy.as_deref()) {
                ("rtc" | "pit" | "hpet", true, None) => {}
                ("rtc", true, Some("catchup")) => {
                    if let Some(rtc) = rtc.as_mut() {
                        rtc.push_str(",driftfix=slew");
                    }
                }
                // Only KVM's in-kernel PIT has a lost-tick policy; TCG's PIT delays ticks
                // already, as libvirt assumes.
                ("pit", true, Some("delay")) => {
                    if self.accel == Accel::Kvm {
                        self.push("-global", "kvm-pit.lost_tick_policy=delay");
                    }
                }
                // Turned off on the -machine line (see `machine`).
                ("hpet", false, None) => {}
                _ => self.refuse(element, "this timer setting is not supported yet"),
            }
        }
        if let Some(rtc) = rtc {
            self.push("-rtc", rtc);
        }
    }

    fn boot(&mut self) {
        let os = &self.domain.os;
        let per_device = devices::any_boot_order(&self.domain.devices);
        let mut boot = Vec::new();
        if !os.boot.is_empty() {
            if per_device {
                self.refuse(
                    "<os>/<boot>",
                    "per-device boot elements cannot be used together with os/boot elements",
                );
            }
            let order: String = os
                .boot
                .iter()
                .map(|dev| match dev {
                    BootDevice::Hd => 'c',
                    BootDevice::Cdrom => 'd',
                    BootDevice::Fd => 'a',
                    BootDevice::Network => 'n',
                })
                .collect();
            boot.push(format!("order={order}"));
        }
        if per_device {
            boot.push("strict=on".to_owned());
        }
        if let Some(menu) = os.bootmenu {
            boot.push(format!(
                "menu={}",
                if menu.enable == YesNo::Yes {
                    "on"
                } else {
                    "off"
                }
            ));
            if let Some(timeout) = menu.timeout {
                boot.push(format!("splash-time={timeout}"));
            }
        }
        if !boot.is_empty() {
            self.push("-boot", boot.join(","));
        }
    }

    fn lifecycle(&mut self) {
        let domain = self.domain;
        match domain.on_poweroff {
            // QEMU exits by itself when the guest powers off.
            LifecycleAction::Destroy => {}
            // QEMU stays, stopped; the daemon keeps it (preserve) or resets it (restart).
            LifecycleAction::Preserve | LifecycleAction::Restart => self.flag("-no-shutdown"),
            other => self.refuse(
                "<on_poweroff>",
                format!("'{}' is not supported", other.as_str()),
            ),
        }
        match domain.on_reboot {
            LifecycleAction::Restart => {}
            LifecycleAction::Destroy => self.flag("-no-reboot"),
            other => self.refuse(
                "<on_reboot>",
                format!("'{}' is not supported", other.as_str()),
            ),
        }
        match domain.on_crash {
            // Without a panic device QEMU never learns of a crash; GUEST_PANICKED, when a device
            // reports one, stops or shuts the guest down and the daemon destroys it.
            LifecycleAction::Destroy => {}
            LifecycleAction::Preserve => self.push("-action", "panic=pause"),
            // QEMU reports GUEST_PANICKED and keeps running; the daemon resets the guest.
            LifecycleAction::Restart => self.push("-action", "panic=none"),
            other => self.refuse(
                "<on_crash>",
                format!("'{}' is not supported", other.as_str()),
            ),
        }
    }

    fn control(&mut self) {
        let qmp = format!(
            "socket,id=charmonitor,path={},server=on,wait=off",
            escape_path(&self.paths.qmp_socket)
        );
        self.push("-chardev", qmp);
        self.push("-mon", "chardev=charmonitor,id=monitor,mode=control");
    }

    fn finish(self) -> Result<QemuArgv, ArgvError> {
        if !self.refusals.is_empty() {
            return Err(ArgvError::Refused {
                domain: self.domain.name.clone(),
                refusals: self.refusals,
            });
        }
        let program = self
            .domain
            .devices
            .emulator
            .clone()
            .unwrap_or_else(|| DEFAULT_EMULATOR.to_owned());
        Ok(QemuArgv {
            program: PathBuf::from(program),
            args: self.args,
            accel: self.accel,
            tap_interfaces: self.tap_interfaces,
        })
    }
}

/// The `(state, enabled)` pairs (`s3`, `s4`) of a `<pm>` element's text, or `None` when it
/// holds anything else.
fn pm_states(xml: &str) -> Option<Vec<(&'static str, bool)>> {
    let mut rest = xml
        .trim()
        .strip_prefix("<pm>")?
        .strip_suffix("</pm>")?
        .trim();
    let mut states = Vec::new();
    while !rest.is_empty() {
        let (state, after) = if let Some(after) = rest.strip_prefix("<suspend-to-mem") {
            ("s3", after)
        } else if let Some(after) = rest.strip_prefix("<suspend-to-disk") {
            ("s4", after)
        } else {
            return None;
        };
        let (element, tail) = after.split_once("/>")?;
        let value = element.trim().strip_prefix("enabled=")?;
        let enabled = match value.trim_matches(|c| c == '\'' || c == '"') {
            "yes" if value.len() == 5 => true,
            "no" if value.len() == 4 => false,
            _ => return None,
        };
        if states.iter().any(|(known, _)| *known == state) {
            return None;
        }
        states.push((state, enabled));
        rest = tail.trim_start();
    }
    Some(states)
}

/// Escapes a value inside a QEMU `key=value,…` option list (a comma is doubled).
pub fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

fn escape_path(path: &std::path::Path) -> String {
    escape(&path.to_string_lossy())
}

/// Whether `name` is a safe QEMU identifier or type name (`[A-Za-z0-9_.-]`, 1–64 chars, starting
/// with a letter or digit).
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
