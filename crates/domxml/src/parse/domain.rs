//! The `<domain>` element and its non-device children.

use super::{devices, seclabel, Elem, PResult, ParseErrorKind};
use crate::model::{
    BootDevice, BootMenu, Clock, ClockOffset, Cpu, CpuFeature, CpuMode, CpuModel, CpuTopology,
    CpuTune, Domain, DomainType, Features, Genid, LifecycleAction, Loader, MaxMemory, MemTune,
    MemorySize, Nvram, OnOff, Os, RawXml, Resource, Timer, Vcpu, VcpuPin, VcpuPlacement, YesNo,
};
use crate::units::{parse_memory, UnitError};
use crate::uuid::{generate_uuid, parse_uuid};

pub(super) fn parse_domain(mut e: Elem<'_, '_>) -> PResult<Domain> {
    let kind = match e.req_attr("type")? {
        "kvm" => DomainType::Kvm,
        "qemu" => DomainType::Qemu,
        other => {
            return Err(e.attr_error(
                "type",
                ParseErrorKind::Unsupported {
                    what: "domain type",
                    value: other.to_owned(),
                },
            ))
        }
    };
    let id = e
        .attr_with("id", |v| {
            v.trim().parse::<i64>().ok().filter(|id| *id >= -1)
        })?
        .and_then(|id| u32::try_from(id).ok());
    let mut namespaces = super::declared_namespaces(e.node);

    let seclabels = seclabel::parse_domain_seclabels(&mut e)?;
    let name = {
        let child = e.req_child("name")?;
        let text = child.text()?;
        child.finish()?;
        text
    };
    let uuid = match e.child("uuid")? {
        None => generate_uuid(),
        Some(child) => {
            let uuid = uuid_of(&child)?;
            child.finish()?;
            uuid
        }
    };
    let genid = match e.child("genid")? {
        None => None,
        Some(child) => {
            let genid = if child.text()?.trim().is_empty() {
                Genid::Auto
            } else {
                Genid::Fixed(uuid_of(&child)?)
            };
            child.finish()?;
            Some(genid)
        }
    };
    let title = e.child_text("title")?;
    let description = e.child_text("description")?;
    let metadata = e.child("metadata")?.map(|child| {
        // Declarations on <metadata> itself move to the root, where the formatter puts them.
        for (prefix, uri) in super::declared_namespaces(child.node) {
            if !namespaces.iter().any(|(known, _)| *known == prefix) {
                namespaces.push((prefix, uri));
            }
        }
        let range = child.node.range();
        let whole = &child.ctx.doc.input_text()[range];
        inner_xml(whole).to_owned()
    });
    let max_memory = match e.child("maxMemory")? {
        None => None,
        Some(mut child) => {
            let slots = child.attr_parse("slots")?;
            let size = memory_of(&mut child)?;
            child.finish()?;
            Some(MaxMemory { size, slots })
        }
    };
    let memory = {
        let mut child = e.req_child("memory")?;
        let size = memory_of(&mut child)?;
        child.finish()?;
        size
    };
    let current_memory = optional_memory(&mut e, "currentMemory")?.unwrap_or(memory);
    let blkiotune = raw_child(&mut e, "blkiotune")?;
    let memtune = match e.child("memtune")? {
        None => None,
        Some(mut child) => Some(MemTune {
            hard_limit: optional_memory(&mut child, "hard_limit")?,
            soft_limit: optional_memory(&mut child, "soft_limit")?,
            swap_hard_limit: optional_memory(&mut child, "swap_hard_limit")?,
            min_guarantee: optional_memory(&mut child, "min_guarantee")?,
            extra: child.finish()?,
        }),
    };
    let memory_backing = raw_child(&mut e, "memoryBacking")?;
    let vcpu = match e.child("vcpu")? {
        None => Vcpu::default(),
        Some(child) => vcpu_of(child)?,
    };
    let iothreads = match e.child("iothreads")? {
        None => None,
        Some(child) => {
            let count = child.text_parse()?;
            child.finish()?;
            Some(count)
        }
    };
    let cputune = match e.child("cputune")? {
        None => None,
        Some(child) => Some(cputune_of(child)?),
    };
    let numatune = raw_child(&mut e, "numatune")?;
    let resource = match e.child("resource")? {
        None => None,
        Some(mut child) => Some(Resource {
            partition: child.child_text("partition")?,
            extra: child.finish()?,
        }),
    };
    let sysinfo = raw_child(&mut e, "sysinfo")?;
    let os = os_of(e.req_child("os")?)?;
    let features = match e.child("features")? {
        None => None,
        Some(child) => Some(features_of(child)?),
    };
    let cpu = match e.child("cpu")? {
        None => None,
        Some(child) => Some(cpu_of(child)?),
    };
    let clock = match e.child("clock")? {
        None => None,
        Some(child) => Some(clock_of(child)?),
    };
    let on_poweroff = lifecycle(&mut e, "on_poweroff")?.unwrap_or(LifecycleAction::Destroy);
    let on_reboot = lifecycle(&mut e, "on_reboot")?.unwrap_or(LifecycleAction::Restart);
    let on_crash = lifecycle(&mut e, "on_crash")?.unwrap_or(LifecycleAction::Destroy);
    let pm = raw_child(&mut e, "pm")?;
    let devices = match e.child("devices")? {
        None => Default::default(),
        Some(child) => devices::parse_devices(child)?,
    };
    // Namespace declarations on the root are kept in `namespaces`.
    e.skip_namespaces = true;
    let extra = e.finish()?;
    Ok(Domain {
        kind,
        id,
        namespaces,
        name,
        uuid,
        genid,
        title,
        description,
        metadata,
        max_memory,
        memory,
        current_memory,
        blkiotune,
        memtune,
        memory_backing,
        vcpu,
        iothreads,
        cputune,
        numatune,
        resource,
        sysinfo,
        os,
        features,
        cpu,
        clock,
        on_poweroff,
        on_reboot,
        on_crash,
        pm,
        devices,
        seclabels,
        extra,
    })
}

/// The text between an element's start tag and end tag (empty for `<x/>`).
fn inner_xml(whole: &str) -> &str {
    if whole.ends_with("/>") {
        return "";
    }
    let Some(start) = start_tag_end(whole) else {
        return "";
    };
    let end = whole.rfind("</").unwrap_or(whole.len());
    whole.get(start..end).unwrap_or_default()
}

/// The byte offset just after the start tag's `>`, skipping `>` inside quoted attribute values.
fn start_tag_end(whole: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in whole.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

pub(super) fn uuid_of(e: &Elem<'_, '_>) -> PResult<crate::model::Uuid> {
    let text = e.text()?;
    parse_uuid(&text).map_err(|_| {
        e.error(ParseErrorKind::InvalidUuid {
            value: text.clone(),
            element: e.name().to_owned(),
        })
    })
}

/// A memory size from the element's text and `unit` attribute.
pub(super) fn memory_of(e: &mut Elem<'_, '_>) -> PResult<MemorySize> {
    let unit = e.attr("unit")?;
    let text = e.text()?;
    parse_memory(&text, unit).map_err(|err| {
        let element = e.name().to_owned();
        match err {
            UnitError::UnknownUnit(unit) => {
                e.attr_error("unit", ParseErrorKind::UnknownUnit { unit, element })
            }
            UnitError::InvalidNumber(value) => {
                e.error(ParseErrorKind::InvalidSize { value, element })
            }
            UnitError::TooLarge { value, .. } => {
                e.error(ParseErrorKind::SizeTooLarge { value, element })
            }
        }
    })
}

fn optional_memory(e: &mut Elem<'_, '_>, name: &str) -> PResult<Option<MemorySize>> {
    match e.child(name)? {
        None => Ok(None),
        Some(mut child) => {
            let size = memory_of(&mut child)?;
            child.finish()?;
            Ok(Some(size))
        }
    }
}

/// A known element kept verbatim. In validate mode its inside is not checked.
pub(super) fn raw_child(e: &mut Elem<'_, '_>, name: &str) -> PResult<Option<RawXml>> {
    Ok(e.child(name)?.map(|child| child.raw()))
}

pub(super) fn yes_no(value: &str) -> Option<YesNo> {
    match value {
        "yes" => Some(YesNo::Yes),
        "no" => Some(YesNo::No),
        _ => None,
    }
}

pub(super) fn on_off(value: &str) -> Option<OnOff> {
    match value {
        "on" => Some(OnOff::On),
        "off" => Some(OnOff::Off),
        _ => None,
    }
}

fn vcpu_of(mut e: Elem<'_, '_>) -> PResult<Vcpu> {
    let placement = e
        .attr_with("placement", |v| match v {
            "static" => Some(VcpuPlacement::Static),
            "auto" => Some(VcpuPlacement::Auto),
            _ => None,
        })?
        .unwrap_or(VcpuPlacement::Static);
    let cpuset = e.attr_string("cpuset")?;
    let current = e.attr_parse("current")?;
    let count = e.text_parse()?;
    Ok(Vcpu {
        count,
        placement,
        cpuset,
        current,
        extra: e.finish()?,
    })
}

fn cputune_of(mut e: Elem<'_, '_>) -> PResult<CpuTune> {
    let mut vcpupins = Vec::new();
    for mut pin in e.children("vcpupin")? {
        let vcpu = match pin.attr_parse("vcpu")? {
            Some(vcpu) => vcpu,
            None => pin.req_attr("vcpu").map(|_| 0)?,
        };
        let cpuset = pin.req_attr("cpuset")?.to_owned();
        pin.finish()?;
        vcpupins.push(VcpuPin { vcpu, cpuset });
    }
    let emulatorpin = match e.child("emulatorpin")? {
        None => None,
        Some(mut pin) => {
            let cpuset = pin.req_attr("cpuset")?.to_owned();
            pin.finish()?;
            Some(cpuset)
        }
    };
    let shares = text_child(&mut e, "shares")?;
    let period = text_child(&mut e, "period")?;
    let quota = text_child(&mut e, "quota")?;
    Ok(CpuTune {
        vcpupins,
        emulatorpin,
        shares,
        period,
        quota,
        extra: e.finish()?,
    })
}

fn text_child<T: std::str::FromStr>(e: &mut Elem<'_, '_>, name: &str) -> PResult<Option<T>> {
    match e.child(name)? {
        None => Ok(None),
        Some(child) => {
            let value = child.text_parse()?;
            child.finish()?;
            Ok(Some(value))
        }
    }
}

fn lifecycle(e: &mut Elem<'_, '_>, name: &str) -> PResult<Option<LifecycleAction>> {
    let Some(child) = e.child(name)? else {
        return Ok(None);
    };
    let text = child.text()?;
    let action = match text.trim() {
        "destroy" => LifecycleAction::Destroy,
        "restart" => LifecycleAction::Restart,
        "preserve" => LifecycleAction::Preserve,
        "rename-restart" => LifecycleAction::RenameRestart,
        "coredump-destroy" => LifecycleAction::CoredumpDestroy,
        "coredump-restart" => LifecycleAction::CoredumpRestart,
        _ => {
            return Err(child.error(ParseErrorKind::InvalidText {
                element: name.to_owned(),
                value: text,
            }))
        }
    };
    child.finish()?;
    Ok(Some(action))
}

fn os_of(mut e: Elem<'_, '_>) -> PResult<Os> {
    let firmware = e.attr_string("firmware")?;
    let mut os_type = e.req_child("type")?;
    let arch = os_type.attr_string("arch")?;
    let machine = os_type.attr_string("machine")?;
    let type_text = os_type.text()?;
    if type_text.trim() != "hvm" {
        return Err(os_type.error(ParseErrorKind::Unsupported {
            what: "os type",
            value: type_text,
        }));
    }
    os_type.finish()?;
    let firmware_features = raw_child(&mut e, "firmware")?;
    let loader = match e.child("loader")? {
        None => None,
        Some(mut child) => {
            let readonly = child.attr_with("readonly", yes_no)?;
            let secure = child.attr_with("secure", yes_no)?;
            let kind = child.attr_string("type")?;
            let path = Some(child.text()?).filter(|p| !p.is_empty());
            Some(Loader {
                path,
                readonly,
                secure,
                kind,
                extra: child.finish()?,
            })
        }
    };
    let nvram = match e.child("nvram")? {
        None => None,
        Some(mut child) => {
            let template = child.attr_string("template")?;
            let path = Some(child.text()?).filter(|p| !p.is_empty());
            Some(Nvram {
                path,
                template,
                extra: child.finish()?,
            })
        }
    };
    let kernel = e.child_text("kernel")?;
    let initrd = e.child_text("initrd")?;
    let cmdline = e.child_text("cmdline")?;
    let dtb = e.child_text("dtb")?;
    let mut boot = Vec::new();
    for mut child in e.children("boot")? {
        let dev = child.req_attr("dev")?;
        let device = match dev {
            "hd" => BootDevice::Hd,
            "cdrom" => BootDevice::Cdrom,
            "fd" => BootDevice::Fd,
            "network" => BootDevice::Network,
            other => return Err(child.invalid_attr("dev", other)),
        };
        child.finish()?;
        boot.push(device);
    }
    let bootmenu = match e.child("bootmenu")? {
        None => None,
        Some(mut child) => {
            let enable = match child.attr_with("enable", yes_no)? {
                Some(enable) => enable,
                None => child.req_attr("enable").map(|_| YesNo::No)?,
            };
            let timeout = child.attr_parse("timeout")?;
            child.finish()?;
            Some(BootMenu { enable, timeout })
        }
    };
    let smbios = match e.child("smbios")? {
        None => None,
        Some(mut child) => {
            let mode = child.req_attr("mode")?.to_owned();
            child.finish()?;
            Some(mode)
        }
    };
    Ok(Os {
        firmware,
        arch,
        machine,
        firmware_features,
        loader,
        nvram,
        kernel,
        initrd,
        cmdline,
        dtb,
        boot,
        bootmenu,
        smbios,
        extra: e.finish()?,
    })
}

fn features_of(mut e: Elem<'_, '_>) -> PResult<Features> {
    let state = |e: &mut Elem<'_, '_>, name: &str| -> PResult<Option<OnOff>> {
        match e.child(name)? {
            None => Ok(None),
            Some(mut child) => {
                let state = child.attr_with("state", on_off)?.unwrap_or(OnOff::On);
                child.finish()?;
                Ok(Some(state))
            }
        }
    };
    Ok(Features {
        acpi: e.flag("acpi")?,
        apic: e.flag("apic")?,
        pae: e.flag("pae")?,
        hap: e.flag("hap")?,
        viridian: e.flag("viridian")?,
        privnet: e.flag("privnet")?,
        hyperv: raw_child(&mut e, "hyperv")?,
        kvm: raw_child(&mut e, "kvm")?,
        pvspinlock: state(&mut e, "pvspinlock")?,
        vmport: state(&mut e, "vmport")?,
        gic: raw_child(&mut e, "gic")?,
        smm: state(&mut e, "smm")?,
        ioapic: raw_child(&mut e, "ioapic")?,
        vmcoreinfo: state(&mut e, "vmcoreinfo")?,
        extra: e.finish()?,
    })
}

fn cpu_of(mut e: Elem<'_, '_>) -> PResult<Cpu> {
    let mode = e.attr_with("mode", |v| match v {
        "custom" => Some(CpuMode::Custom),
        "host-model" => Some(CpuMode::HostModel),
        "host-passthrough" => Some(CpuMode::HostPassthrough),
        "maximum" => Some(CpuMode::Maximum),
        _ => None,
    })?;
    let match_policy = e.attr_string("match")?;
    let check = e.attr_string("check")?;
    let migratable = e.attr_with("migratable", on_off)?;
    let model = match e.child("model")? {
        None => None,
        Some(mut child) => {
            let fallback = child.attr_string("fallback")?;
            let name = child.text()?;
            child.finish()?;
            Some(CpuModel { name, fallback })
        }
    };
    let vendor = e.child_text("vendor")?;
    let topology = match e.child("topology")? {
        None => None,
        Some(mut child) => {
            let count = |child: &mut Elem<'_, '_>, name: &str| -> PResult<u32> {
                match child.attr_parse(name)? {
                    Some(n) => Ok(n),
                    None => child.req_attr(name).map(|_| 0),
                }
            };
            let sockets = count(&mut child, "sockets")?;
            let dies = child.attr_parse("dies")?;
            let cores = count(&mut child, "cores")?;
            let threads = count(&mut child, "threads")?;
            child.finish()?;
            Some(CpuTopology {
                sockets,
                dies,
                cores,
                threads,
            })
        }
    };
    let cache = raw_child(&mut e, "cache")?;
    let mut features = Vec::new();
    for mut child in e.children("feature")? {
        let policy = child.attr_string("policy")?;
        let name = child.req_attr("name")?.to_owned();
        child.finish()?;
        features.push(CpuFeature { policy, name });
    }
    let numa = raw_child(&mut e, "numa")?;
    Ok(Cpu {
        mode,
        match_policy,
        check,
        migratable,
        model,
        vendor,
        topology,
        cache,
        features,
        numa,
        extra: e.finish()?,
    })
}

fn clock_of(mut e: Elem<'_, '_>) -> PResult<Clock> {
    let offset = e
        .attr_with("offset", |v| match v {
            "utc" => Some(ClockOffset::Utc),
            "localtime" => Some(ClockOffset::Localtime),
            "timezone" => Some(ClockOffset::Timezone),
            "variable" => Some(ClockOffset::Variable),
            _ => None,
        })?
        .unwrap_or(ClockOffset::Utc);
    let timezone = e.attr_string("timezone")?;
    let adjustment = e.attr_string("adjustment")?;
    let basis = e.attr_string("basis")?;
    let mut timers = Vec::new();
    for mut child in e.children("timer")? {
        let name = child.req_attr("name")?.to_owned();
        let tickpolicy = child.attr_string("tickpolicy")?;
        let present = child.attr_with("present", yes_no)?;
        timers.push(Timer {
            name,
            tickpolicy,
            present,
            extra: child.finish()?,
        });
    }
    Ok(Clock {
        offset,
        timezone,
        adjustment,
        basis,
        timers,
        extra: e.finish()?,
    })
}
