//! [`Domain`] → domain XML, as `virsh dumpxml` prints it.
//!
//! Elements come in libvirt's order, indented by two spaces, attributes in single quotes.
//! Verbatim parts ([`RawXml`](crate::model::RawXml), metadata) are written as they were read.
//! Unknown attributes follow the known ones; unknown child elements follow the known children.

mod devices;
mod writer;

use crate::model::{
    Clock, Cpu, Domain, Features, Genid, MemorySize, Os, Seclabel, SeclabelType, Vcpu,
    VcpuPlacement,
};
use writer::Writer;

/// What to include when formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatOptions {
    /// Include secrets such as graphics passwords (`VIR_DOMAIN_XML_SECURE`). Off by default, as
    /// in `virsh dumpxml` without `--security-info`.
    pub include_secrets: bool,
    /// Leave out what another host must not inherit: implicit seclabels and `model='none'`
    /// labels (`VIR_DOMAIN_XML_MIGRATABLE`).
    pub migratable: bool,
}

/// Formats a domain definition.
pub fn format(domain: &Domain, options: &FormatOptions) -> String {
    let mut w = Writer::new();
    w.element(
        "domain",
        |a| {
            a.attr("type", domain.kind.as_str()).opt("id", domain.id);
            for (prefix, uri) in &domain.namespaces {
                a.attr(&format!("xmlns:{prefix}"), uri);
            }
            a.extra(&domain.extra);
        },
        |w| {
            w.text_element("name", |_| {}, &domain.name);
            w.text_element("uuid", |_| {}, domain.uuid);
            match domain.genid {
                None => {}
                Some(Genid::Auto) => w.empty("genid", |_| {}),
                Some(Genid::Fixed(uuid)) => w.text_element("genid", |_| {}, uuid),
            }
            w.opt_text("title", domain.title.as_deref());
            w.opt_text("description", domain.description.as_deref());
            if let Some(metadata) = &domain.metadata {
                w.raw_inner("metadata", metadata);
            }
            if let Some(max) = &domain.max_memory {
                w.text_element(
                    "maxMemory",
                    |a| {
                        a.opt("slots", max.slots).attr("unit", "KiB");
                    },
                    max.size.kib,
                );
            }
            memory(w, "memory", domain.memory);
            memory(w, "currentMemory", domain.current_memory);
            if let Some(raw) = &domain.blkiotune {
                w.raw(raw);
            }
            if let Some(memtune) = &domain.memtune {
                w.element(
                    "memtune",
                    |a| {
                        a.extra(&memtune.extra);
                    },
                    |w| {
                        opt_memory(w, "hard_limit", memtune.hard_limit);
                        opt_memory(w, "soft_limit", memtune.soft_limit);
                        opt_memory(w, "min_guarantee", memtune.min_guarantee);
                        opt_memory(w, "swap_hard_limit", memtune.swap_hard_limit);
                        w.extra(&memtune.extra);
                    },
                );
            }
            if let Some(raw) = &domain.memory_backing {
                w.raw(raw);
            }
            vcpu(w, &domain.vcpu);
            if let Some(count) = domain.iothreads {
                w.text_element("iothreads", |_| {}, count);
            }
            if let Some(cputune) = &domain.cputune {
                w.element(
                    "cputune",
                    |a| {
                        a.extra(&cputune.extra);
                    },
                    |w| {
                        w.opt_text("shares", cputune.shares);
                        w.opt_text("period", cputune.period);
                        w.opt_text("quota", cputune.quota);
                        for pin in &cputune.vcpupins {
                            w.empty("vcpupin", |a| {
                                a.attr("vcpu", pin.vcpu).attr("cpuset", &pin.cpuset);
                            });
                        }
                        if let Some(cpuset) = &cputune.emulatorpin {
                            w.empty("emulatorpin", |a| {
                                a.attr("cpuset", cpuset);
                            });
                        }
                        w.extra(&cputune.extra);
                    },
                );
            }
            if let Some(raw) = &domain.numatune {
                w.raw(raw);
            }
            if let Some(resource) = &domain.resource {
                w.element(
                    "resource",
                    |a| {
                        a.extra(&resource.extra);
                    },
                    |w| {
                        w.opt_text("partition", resource.partition.as_deref());
                        w.extra(&resource.extra);
                    },
                );
            }
            if let Some(raw) = &domain.sysinfo {
                w.raw(raw);
            }
            os(w, &domain.os);
            if let Some(features) = &domain.features {
                self::features(w, features);
            }
            if let Some(cpu) = &domain.cpu {
                self::cpu(w, cpu);
            }
            if let Some(clock) = &domain.clock {
                self::clock(w, clock);
            }
            w.text_element("on_poweroff", |_| {}, domain.on_poweroff.as_str());
            w.text_element("on_reboot", |_| {}, domain.on_reboot.as_str());
            w.text_element("on_crash", |_| {}, domain.on_crash.as_str());
            if let Some(raw) = &domain.pm {
                w.raw(raw);
            }
            devices::devices(w, &domain.devices, options);
            for label in &domain.seclabels {
                seclabel(w, label, options);
            }
            w.extra(&domain.extra);
        },
    );
    w.finish()
}

fn memory(w: &mut Writer, name: &str, size: MemorySize) {
    w.text_element(
        name,
        |a| {
            a.attr("unit", "KiB");
        },
        size.kib,
    );
}

fn opt_memory(w: &mut Writer, name: &str, size: Option<MemorySize>) {
    if let Some(size) = size {
        memory(w, name, size);
    }
}

fn vcpu(w: &mut Writer, vcpu: &Vcpu) {
    let placement = match vcpu.placement {
        VcpuPlacement::Static => "static",
        VcpuPlacement::Auto => "auto",
    };
    w.text_element(
        "vcpu",
        |a| {
            a.attr("placement", placement)
                .opt("cpuset", vcpu.cpuset.as_deref())
                .opt("current", vcpu.current)
                .extra(&vcpu.extra);
        },
        vcpu.count,
    );
}

fn os(w: &mut Writer, os: &Os) {
    w.element(
        "os",
        |a| {
            a.opt("firmware", os.firmware.as_deref()).extra(&os.extra);
        },
        |w| {
            w.text_element(
                "type",
                |a| {
                    a.opt("arch", os.arch.as_deref())
                        .opt("machine", os.machine.as_deref());
                },
                "hvm",
            );
            if let Some(raw) = &os.firmware_features {
                w.raw(raw);
            }
            if let Some(loader) = &os.loader {
                let attrs = |a: &mut writer::Attrs<'_>| {
                    a.opt("readonly", loader.readonly.map(|v| v.as_str()))
                        .opt("secure", loader.secure.map(|v| v.as_str()))
                        .opt("type", loader.kind.as_deref())
                        .extra(&loader.extra);
                };
                match &loader.path {
                    Some(path) => w.text_element("loader", attrs, path),
                    None => w.empty("loader", attrs),
                }
            }
            if let Some(nvram) = &os.nvram {
                let attrs = |a: &mut writer::Attrs<'_>| {
                    a.opt("template", nvram.template.as_deref())
                        .extra(&nvram.extra);
                };
                match &nvram.path {
                    Some(path) => w.text_element("nvram", attrs, path),
                    None => w.empty("nvram", attrs),
                }
            }
            w.opt_text("kernel", os.kernel.as_deref());
            w.opt_text("initrd", os.initrd.as_deref());
            w.opt_text("cmdline", os.cmdline.as_deref());
            w.opt_text("dtb", os.dtb.as_deref());
            for dev in &os.boot {
                w.empty("boot", |a| {
                    a.attr("dev", dev.as_str());
                });
            }
            if let Some(menu) = &os.bootmenu {
                w.empty("bootmenu", |a| {
                    a.attr("enable", menu.enable.as_str())
                        .opt("timeout", menu.timeout);
                });
            }
            if let Some(mode) = &os.smbios {
                w.empty("smbios", |a| {
                    a.attr("mode", mode);
                });
            }
            w.extra(&os.extra);
        },
    );
}

fn features(w: &mut Writer, features: &Features) {
    w.element(
        "features",
        |a| {
            a.extra(&features.extra);
        },
        |w| {
            w.flag("acpi", features.acpi);
            w.flag("apic", features.apic);
            w.flag("pae", features.pae);
            w.flag("hap", features.hap);
            w.flag("viridian", features.viridian);
            w.flag("privnet", features.privnet);
            let state = |w: &mut Writer, name: &str, value: Option<crate::model::OnOff>| {
                if let Some(value) = value {
                    w.empty(name, |a| {
                        a.attr("state", value.as_str());
                    });
                }
            };
            let raw = |w: &mut Writer, value: &Option<crate::model::RawXml>| {
                if let Some(raw) = value {
                    w.raw(raw);
                }
            };
            raw(w, &features.hyperv);
            raw(w, &features.kvm);
            state(w, "pvspinlock", features.pvspinlock);
            state(w, "vmport", features.vmport);
            raw(w, &features.gic);
            state(w, "smm", features.smm);
            raw(w, &features.ioapic);
            state(w, "vmcoreinfo", features.vmcoreinfo);
            w.extra(&features.extra);
        },
    );
}

fn cpu(w: &mut Writer, cpu: &Cpu) {
    w.element(
        "cpu",
        |a| {
            a.opt("mode", cpu.mode.map(|m| m.as_str()))
                .opt("match", cpu.match_policy.as_deref())
                .opt("check", cpu.check.as_deref())
                .opt("migratable", cpu.migratable.map(|m| m.as_str()))
                .extra(&cpu.extra);
        },
        |w| {
            if let Some(model) = &cpu.model {
                w.text_element(
                    "model",
                    |a| {
                        a.opt("fallback", model.fallback.as_deref());
                    },
                    &model.name,
                );
            }
            w.opt_text("vendor", cpu.vendor.as_deref());
            if let Some(topology) = &cpu.topology {
                w.empty("topology", |a| {
                    a.attr("sockets", topology.sockets)
                        .opt("dies", topology.dies)
                        .attr("cores", topology.cores)
                        .attr("threads", topology.threads);
                });
            }
            if let Some(cache) = &cpu.cache {
                w.raw(cache);
            }
            for feature in &cpu.features {
                w.empty("feature", |a| {
                    a.opt("policy", feature.policy.as_deref())
                        .attr("name", &feature.name);
                });
            }
            if let Some(numa) = &cpu.numa {
                w.raw(numa);
            }
            w.extra(&cpu.extra);
        },
    );
}

fn clock(w: &mut Writer, clock: &Clock) {
    w.element(
        "clock",
        |a| {
            a.attr("offset", clock.offset.as_str())
                .opt("adjustment", clock.adjustment.as_deref())
                .opt("basis", clock.basis.as_deref())
                .opt("timezone", clock.timezone.as_deref())
                .extra(&clock.extra);
        },
        |w| {
            for timer in &clock.timers {
                w.element(
                    "timer",
                    |a| {
                        a.attr("name", &timer.name)
                            .opt("tickpolicy", timer.tickpolicy.as_deref())
                            .opt("present", timer.present.map(|p| p.as_str()))
                            .extra(&timer.extra);
                    },
                    |w| w.extra(&timer.extra),
                );
            }
            w.extra(&clock.extra);
        },
    );
}

/// A domain-level `<seclabel>` following libvirt's rules: nothing but type and model for type
/// none, `<imagelabel>` only with relabeling, `<baselabel>` only for dynamic labels.
fn seclabel(w: &mut Writer, label: &Seclabel, options: &FormatOptions) {
    if options.migratable && (label.implicit || label.model.as_deref() == Some("none")) {
        return;
    }
    w.element(
        "seclabel",
        |a| {
            a.attr("type", label.kind.as_str())
                .opt("model", label.model.as_deref());
            if label.kind != SeclabelType::None {
                a.attr("relabel", if label.relabel { "yes" } else { "no" });
            }
        },
        |w| {
            if label.kind == SeclabelType::None {
                return;
            }
            w.opt_text("label", label.label.as_deref());
            if label.relabel {
                w.opt_text("imagelabel", label.imagelabel.as_deref());
            }
            if label.kind == SeclabelType::Dynamic {
                w.opt_text("baselabel", label.baselabel.as_deref());
            }
        },
    );
}

/// Escapes `text` for element content and (single- or double-quoted) attribute values: the one
/// escaper every XML writer of Moat's uses.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    writer::escape_into(&mut out, text, true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Domain, DomainType, Uuid};

    fn formatted(label: Seclabel, options: &FormatOptions) -> String {
        let mut domain = Domain::new(DomainType::Kvm, "g", Uuid::nil(), 1024);
        domain.seclabels = vec![label];
        let text = format(&domain, options);
        text.lines()
            .skip_while(|line| !line.contains("<seclabel"))
            .take_while(|line| !line.starts_with("</domain>"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn label(kind: SeclabelType, relabel: bool) -> Seclabel {
        let mut label = Seclabel::new(kind, Some("selinux".to_owned()));
        label.relabel = relabel;
        label.label = Some("system_u:system_r:svirt_t:s0:c1,c2".to_owned());
        label.imagelabel = Some("system_u:object_r:svirt_image_t:s0:c1,c2".to_owned());
        label.baselabel = Some("system_u:system_r:my_svirt_t:s0".to_owned());
        label
    }

    #[test]
    fn seclabel_children_follow_type_and_relabel() {
        let options = FormatOptions::default();
        assert_eq!(
            formatted(label(SeclabelType::Dynamic, true), &options),
            "  <seclabel type='dynamic' model='selinux' relabel='yes'>\n\
             \x20   <label>system_u:system_r:svirt_t:s0:c1,c2</label>\n\
             \x20   <imagelabel>system_u:object_r:svirt_image_t:s0:c1,c2</imagelabel>\n\
             \x20   <baselabel>system_u:system_r:my_svirt_t:s0</baselabel>\n\
             \x20 </seclabel>"
        );
        assert_eq!(
            formatted(label(SeclabelType::Static, false), &options),
            "  <seclabel type='static' model='selinux' relabel='no'>\n\
             \x20   <label>system_u:system_r:svirt_t:s0:c1,c2</label>\n\
             \x20 </seclabel>"
        );
        assert_eq!(
            formatted(label(SeclabelType::None, false), &options),
            "  <seclabel type='none' model='selinux'/>"
        );
        let bare = Seclabel::new(SeclabelType::Dynamic, Some("dac".to_owned()));
        assert_eq!(
            formatted(bare, &options),
            "  <seclabel type='dynamic' model='dac' relabel='yes'/>"
        );
    }

    #[test]
    fn migratable_output_drops_implicit_and_model_none_labels() {
        let migratable = FormatOptions {
            migratable: true,
            ..FormatOptions::default()
        };
        let mut implicit = Seclabel::new(SeclabelType::Dynamic, Some("dac".to_owned()));
        implicit.implicit = true;
        assert_eq!(formatted(implicit.clone(), &migratable), "");
        assert!(!formatted(implicit, &FormatOptions::default()).is_empty());
        let none = Seclabel::new(SeclabelType::None, Some("none".to_owned()));
        assert_eq!(formatted(none, &migratable), "");
    }
}
