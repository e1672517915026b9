//! `<devices>` in libvirt's order: emulator, disk, controller, lease, filesystem, interface,
//! smartcard, serial, parallel, console, channel, input, tpm, graphics, sound, audio, video,
//! hostdev, redirdev, redirfilter, hub, watchdog, memballoon, rng, nvram, panic, shmem, memory,
//! iommu, vsock, crypto.

use super::writer::{Attrs, Writer};
use super::FormatOptions;
use crate::model::{
    Address, BackingStore, Chardev, Controller, DeviceSeclabel, Devices, Disk, DiskSource,
    DiskType, Graphics, Hostdev, HostdevSource, Input, Interface, Memballoon, OtherDeviceKind,
    PciAddress, Rng, RngBackend, Tpm, Video,
};
use crate::parse::source_path_attribute;

pub(super) fn devices(w: &mut Writer, devices: &Devices, options: &FormatOptions) {
    let others = |w: &mut Writer, kinds: &[OtherDeviceKind]| {
        for other in devices.others.iter().filter(|o| kinds.contains(&o.kind)) {
            w.raw(&other.xml);
        }
    };
    w.element(
        "devices",
        |a| {
            a.extra(&devices.extra);
        },
        |w| {
            w.opt_text("emulator", devices.emulator.as_deref());
            devices.disks.iter().for_each(|d| disk(w, d));
            devices.controllers.iter().for_each(|c| controller(w, c));
            others(w, &[OtherDeviceKind::Lease, OtherDeviceKind::Filesystem]);
            devices.interfaces.iter().for_each(|i| interface(w, i));
            others(w, &[OtherDeviceKind::Smartcard]);
            devices.serials.iter().for_each(|c| chardev(w, "serial", c));
            others(w, &[OtherDeviceKind::Parallel]);
            devices
                .consoles
                .iter()
                .for_each(|c| chardev(w, "console", c));
            devices
                .channels
                .iter()
                .for_each(|c| chardev(w, "channel", c));
            devices.inputs.iter().for_each(|i| input(w, i));
            devices.tpms.iter().for_each(|t| tpm(w, t));
            devices
                .graphics
                .iter()
                .for_each(|g| graphics(w, g, options));
            others(w, &[OtherDeviceKind::Sound, OtherDeviceKind::Audio]);
            devices.videos.iter().for_each(|v| video(w, v));
            devices.hostdevs.iter().for_each(|h| hostdev(w, h));
            others(
                w,
                &[
                    OtherDeviceKind::Redirdev,
                    OtherDeviceKind::Redirfilter,
                    OtherDeviceKind::Hub,
                    OtherDeviceKind::Watchdog,
                ],
            );
            if let Some(balloon) = &devices.memballoon {
                memballoon(w, balloon);
            }
            devices.rngs.iter().for_each(|r| rng(w, r));
            others(
                w,
                &[
                    OtherDeviceKind::Nvram,
                    OtherDeviceKind::Panic,
                    OtherDeviceKind::Shmem,
                    OtherDeviceKind::Memory,
                    OtherDeviceKind::Iommu,
                    OtherDeviceKind::Vsock,
                    OtherDeviceKind::Crypto,
                ],
            );
            w.extra(&devices.extra);
        },
    );
}

/// `<boot>`, `<alias>` and `<address>`, in that order.
fn device_info(w: &mut Writer, boot: Option<u32>, alias: Option<&str>, address: Option<&Address>) {
    if let Some(order) = boot {
        w.empty("boot", |a| {
            a.attr("order", order);
        });
    }
    if let Some(alias) = alias {
        w.empty("alias", |a| {
            a.attr("name", alias);
        });
    }
    if let Some(address) = address {
        self::address(w, address);
    }
}

fn pci_attrs(a: &mut Attrs<'_>, pci: &PciAddress) {
    a.attr("domain", format_args!("0x{:04x}", pci.domain))
        .attr("bus", format_args!("0x{:02x}", pci.bus))
        .attr("slot", format_args!("0x{:02x}", pci.slot))
        .attr("function", format_args!("0x{:x}", pci.function))
        .opt("multifunction", pci.multifunction.map(|m| m.as_str()));
}

fn address(w: &mut Writer, address: &Address) {
    w.empty("address", |a| match address {
        Address::Pci(pci) => {
            a.attr("type", "pci");
            pci_attrs(a, pci);
        }
        Address::Drive(drive) => {
            a.attr("type", "drive")
                .attr("controller", drive.controller)
                .attr("bus", drive.bus)
                .attr("target", drive.target)
                .attr("unit", drive.unit);
        }
        Address::VirtioSerial(port) => {
            a.attr("type", "virtio-serial")
                .attr("controller", port.controller)
                .attr("bus", port.bus)
                .attr("port", port.port);
        }
        Address::Usb(usb) => {
            a.attr("type", "usb")
                .attr("bus", usb.bus)
                .opt("port", usb.port.as_deref());
        }
        Address::Other { kind, attributes } => {
            a.attr("type", kind);
            for (name, value) in attributes {
                a.attr(name, value);
            }
        }
    });
}

fn device_seclabels(w: &mut Writer, labels: &[DeviceSeclabel]) {
    for label in labels {
        w.element(
            "seclabel",
            |a| {
                a.opt("model", label.model.as_deref());
                if label.labelskip {
                    a.attr("labelskip", "yes");
                } else {
                    a.attr("relabel", if label.relabel { "yes" } else { "no" });
                }
            },
            |w| w.opt_text("label", label.label.as_deref()),
        );
    }
}

fn disk_source(w: &mut Writer, kind: DiskType, source: &DiskSource) {
    w.element(
        "source",
        |a| {
            if let Some(attribute) = source_path_attribute(kind) {
                a.opt(attribute, source.path.as_deref());
            }
            a.opt("protocol", source.protocol.as_deref())
                .opt("name", source.name.as_deref())
                .opt("pool", source.pool.as_deref())
                .opt("volume", source.volume.as_deref())
                .opt("startupPolicy", source.startup_policy.as_deref())
                .extra(&source.extra);
        },
        |w| {
            for host in &source.hosts {
                w.empty("host", |a| {
                    a.opt("name", host.name.as_deref())
                        .opt("port", host.port.as_deref())
                        .opt("transport", host.transport.as_deref())
                        .opt("socket", host.socket.as_deref());
                });
            }
            device_seclabels(w, &source.seclabels);
            w.extra(&source.extra);
        },
    );
}

fn backing_store(w: &mut Writer, layer: &BackingStore) {
    w.element(
        "backingStore",
        |a| {
            a.attr("type", layer.kind.as_str()).extra(&layer.extra);
        },
        |w| {
            if let Some(format) = &layer.format {
                w.empty("format", |a| {
                    a.attr("type", format);
                });
            }
            disk_source(w, layer.kind, &layer.source);
            if let Some(next) = &layer.backing_store {
                backing_store(w, next);
            }
            w.extra(&layer.extra);
        },
    );
}

fn disk(w: &mut Writer, disk: &Disk) {
    w.element(
        "disk",
        |a| {
            a.attr("type", disk.kind.as_str())
                .attr("device", disk.device.as_str())
                .extra(&disk.extra);
        },
        |w| {
            if let Some(driver) = &disk.driver {
                w.element(
                    "driver",
                    |a| {
                        a.opt("name", driver.name.as_deref())
                            .opt("type", driver.format.as_deref())
                            .opt("cache", driver.cache.map(|c| c.as_str()))
                            .opt("io", driver.io.map(|i| i.as_str()))
                            .opt("discard", driver.discard.as_deref())
                            .opt("detect_zeroes", driver.detect_zeroes.as_deref())
                            .extra(&driver.extra);
                    },
                    |w| w.extra(&driver.extra),
                );
            }
            if let Some(source) = &disk.source {
                disk_source(w, disk.kind, source);
            }
            if let Some(layer) = &disk.backing_store {
                backing_store(w, layer);
            }
            let target = &disk.target;
            w.element(
                "target",
                |a| {
                    a.attr("dev", &target.dev)
                        .opt("bus", target.bus.map(|b| b.as_str()))
                        .opt("tray", target.tray.as_deref())
                        .opt("removable", target.removable.map(|r| r.as_str()))
                        .extra(&target.extra);
                },
                |w| w.extra(&target.extra),
            );
            w.flag("readonly", disk.readonly);
            w.flag("shareable", disk.shareable);
            w.flag("transient", disk.transient);
            w.opt_text("serial", disk.serial.as_deref());
            w.opt_text("wwn", disk.wwn.as_deref());
            device_info(
                w,
                disk.boot_order,
                disk.alias.as_deref(),
                disk.address.as_ref(),
            );
            w.extra(&disk.extra);
        },
    );
}

fn controller(w: &mut Writer, controller: &Controller) {
    w.element(
        "controller",
        |a| {
            a.attr("type", &controller.kind)
                .attr("index", controller.index)
                .opt("model", controller.model.as_deref())
                .opt("ports", controller.ports)
                .extra(&controller.extra);
        },
        |w| {
            if let Some(name) = &controller.model_name {
                w.empty("model", |a| {
                    a.attr("name", name);
                });
            }
            if let Some(target) = &controller.target {
                w.raw(target);
            }
            if let Some(driver) = &controller.driver {
                w.raw(driver);
            }
            device_info(
                w,
                None,
                controller.alias.as_deref(),
                controller.address.as_ref(),
            );
            w.extra(&controller.extra);
        },
    );
}

fn interface(w: &mut Writer, iface: &Interface) {
    w.element(
        "interface",
        |a| {
            a.attr("type", iface.kind.as_str()).extra(&iface.extra);
        },
        |w| {
            if let Some(mac) = &iface.mac {
                w.empty("mac", |a| {
                    a.attr("address", mac);
                });
            }
            if let Some(source) = &iface.source {
                w.element(
                    "source",
                    |a| {
                        a.opt("network", source.network.as_deref())
                            .opt("portgroup", source.portgroup.as_deref())
                            .opt("bridge", source.bridge.as_deref())
                            .opt("dev", source.dev.as_deref())
                            .opt("mode", source.mode.as_deref())
                            .extra(&source.extra);
                    },
                    |w| w.extra(&source.extra),
                );
            }
            if let Some(dev) = &iface.target_dev {
                w.empty("target", |a| {
                    a.attr("dev", dev);
                });
            }
            if let Some(model) = &iface.model {
                w.empty("model", |a| {
                    a.attr("type", model);
                });
            }
            if let Some(driver) = &iface.driver {
                w.raw(driver);
            }
            if let Some(state) = &iface.link_state {
                w.empty("link", |a| {
                    a.attr("state", state);
                });
            }
            if let Some(size) = iface.mtu {
                w.empty("mtu", |a| {
                    a.attr("size", size);
                });
            }
            if let Some(isolated) = iface.port_isolated {
                w.empty("port", |a| {
                    a.attr("isolated", isolated.as_str());
                });
            }
            device_info(
                w,
                iface.boot_order,
                iface.alias.as_deref(),
                iface.address.as_ref(),
            );
            w.extra(&iface.extra);
        },
    );
}

fn chardev(w: &mut Writer, name: &str, chardev: &Chardev) {
    w.element(
        name,
        |a| {
            a.attr("type", chardev.kind.as_str())
                .opt("tty", chardev.tty.as_deref())
                .extra(&chardev.extra);
        },
        |w| {
            for source in &chardev.sources {
                w.element(
                    "source",
                    |a| {
                        a.opt("mode", source.mode.as_deref())
                            .opt("path", source.path.as_deref())
                            .opt("host", source.host.as_deref())
                            .opt("service", source.service.as_deref())
                            .opt("append", source.append.map(|v| v.as_str()))
                            .opt("channel", source.channel.as_deref())
                            .extra(&source.extra);
                    },
                    |w| {
                        device_seclabels(w, &source.seclabels);
                        w.extra(&source.extra);
                    },
                );
            }
            if let Some(protocol) = &chardev.protocol {
                w.empty("protocol", |a| {
                    a.attr("type", protocol);
                });
            }
            if let Some((file, append)) = &chardev.log {
                w.empty("log", |a| {
                    a.attr("file", file)
                        .opt("append", append.map(|v| v.as_str()));
                });
            }
            if let Some(target) = &chardev.target {
                w.element(
                    "target",
                    |a| {
                        a.opt("type", target.kind.as_deref())
                            .opt("name", target.name.as_deref())
                            .opt("address", target.address.as_deref())
                            .opt("port", target.port)
                            .opt("state", target.state.as_deref())
                            .extra(&target.extra);
                    },
                    |w| {
                        if let Some(model) = &target.model {
                            w.empty("model", |a| {
                                a.attr("name", model);
                            });
                        }
                        w.extra(&target.extra);
                    },
                );
            }
            device_info(w, None, chardev.alias.as_deref(), chardev.address.as_ref());
            w.extra(&chardev.extra);
        },
    );
}

fn input(w: &mut Writer, input: &Input) {
    w.element(
        "input",
        |a| {
            a.attr("type", input.kind.as_str())
                .opt("bus", input.bus.as_deref())
                .extra(&input.extra);
        },
        |w| {
            if let Some(path) = &input.source {
                let attribute = if input.kind == crate::model::InputType::Passthrough {
                    "evdev"
                } else {
                    "dev"
                };
                w.empty("source", |a| {
                    a.attr(attribute, path);
                });
            }
            device_info(w, None, input.alias.as_deref(), input.address.as_ref());
            w.extra(&input.extra);
        },
    );
}

fn tpm(w: &mut Writer, tpm: &Tpm) {
    w.element(
        "tpm",
        |a| {
            a.opt("model", tpm.model.as_deref()).extra(&tpm.extra);
        },
        |w| {
            let backend = &tpm.backend;
            w.element(
                "backend",
                |a| {
                    a.attr("type", backend.kind.as_str())
                        .opt("version", backend.version.as_deref())
                        .extra(&backend.extra);
                },
                |w| {
                    if let Some(path) = &backend.device_path {
                        w.empty("device", |a| {
                            a.attr("path", path);
                        });
                    }
                    w.extra(&backend.extra);
                },
            );
            device_info(w, None, tpm.alias.as_deref(), tpm.address.as_ref());
            w.extra(&tpm.extra);
        },
    );
}

fn graphics(w: &mut Writer, graphics: &Graphics, options: &FormatOptions) {
    w.element(
        "graphics",
        |a| {
            a.attr("type", graphics.kind.as_str())
                .opt("port", graphics.port)
                .opt("tlsPort", graphics.tls_port)
                .opt("autoport", graphics.autoport.map(|v| v.as_str()))
                .opt("listen", graphics.listen.as_deref());
            if options.include_secrets {
                a.opt("passwd", graphics.passwd.as_deref());
            }
            a.opt("keymap", graphics.keymap.as_deref())
                .extra(&graphics.extra);
        },
        |w| {
            for listen in &graphics.listens {
                w.empty("listen", |a| {
                    a.attr("type", &listen.kind)
                        .opt("address", listen.address.as_deref())
                        .opt("network", listen.network.as_deref())
                        .opt("socket", listen.socket.as_deref());
                });
            }
            if let Some(compression) = &graphics.image_compression {
                w.empty("image", |a| {
                    a.attr("compression", compression);
                });
            }
            if let Some(gl) = &graphics.gl {
                w.raw(gl);
            }
            w.extra(&graphics.extra);
        },
    );
}

fn video(w: &mut Writer, video: &Video) {
    w.element(
        "video",
        |a| {
            a.extra(&video.extra);
        },
        |w| {
            let model = &video.model;
            w.element(
                "model",
                |a| {
                    a.attr("type", &model.kind)
                        .opt("ram", model.ram)
                        .opt("vram", model.vram)
                        .opt("vgamem", model.vgamem)
                        .opt("heads", model.heads)
                        .opt("primary", model.primary.map(|p| p.as_str()))
                        .extra(&model.extra);
                },
                |w| {
                    if let Some(acceleration) = &model.acceleration {
                        w.raw(acceleration);
                    }
                    w.extra(&model.extra);
                },
            );
            device_info(w, None, video.alias.as_deref(), video.address.as_ref());
            w.extra(&video.extra);
        },
    );
}

fn hostdev(w: &mut Writer, hostdev: &Hostdev) {
    let kind = match hostdev.source {
        HostdevSource::Usb { .. } => "usb",
        HostdevSource::Pci { .. } => "pci",
    };
    w.element(
        "hostdev",
        |a| {
            a.attr("mode", "subsystem")
                .attr("type", kind)
                .opt("managed", hostdev.managed.map(|m| m.as_str()))
                .extra(&hostdev.extra);
        },
        |w| {
            w.element(
                "source",
                |a| {
                    a.extra(&hostdev.source_extra);
                },
                |w| {
                    match &hostdev.source {
                        HostdevSource::Usb {
                            vendor,
                            product,
                            address,
                        } => {
                            if let Some(id) = vendor {
                                w.empty("vendor", |a| {
                                    a.attr("id", format_args!("0x{id:04x}"));
                                });
                            }
                            if let Some(id) = product {
                                w.empty("product", |a| {
                                    a.attr("id", format_args!("0x{id:04x}"));
                                });
                            }
                            if let Some((bus, device)) = address {
                                w.empty("address", |a| {
                                    a.attr("bus", bus).attr("device", device);
                                });
                            }
                        }
                        HostdevSource::Pci { address } => {
                            w.empty("address", |a| pci_attrs(a, address));
                        }
                    }
                    w.extra(&hostdev.source_extra);
                },
            );
            device_info(
                w,
                hostdev.boot_order,
                hostdev.alias.as_deref(),
                hostdev.address.as_ref(),
            );
            w.extra(&hostdev.extra);
        },
    );
}

fn memballoon(w: &mut Writer, balloon: &Memballoon) {
    w.element(
        "memballoon",
        |a| {
            a.attr("model", &balloon.model)
                .opt("autodeflate", balloon.autodeflate.map(|v| v.as_str()))
                .extra(&balloon.extra);
        },
        |w| {
            if let Some(period) = balloon.stats_period {
                w.empty("stats", |a| {
                    a.attr("period", period);
                });
            }
            device_info(w, None, balloon.alias.as_deref(), balloon.address.as_ref());
            w.extra(&balloon.extra);
        },
    );
}

fn rng(w: &mut Writer, rng: &Rng) {
    w.element(
        "rng",
        |a| {
            a.attr("model", &rng.model).extra(&rng.extra);
        },
        |w| {
            if let Some((bytes, period)) = rng.rate {
                w.empty("rate", |a| {
                    a.attr("bytes", bytes).opt("period", period);
                });
            }
            match &rng.backend {
                RngBackend::Random(path) => {
                    let attrs = |a: &mut Attrs<'_>| {
                        a.attr("model", "random");
                    };
                    match path {
                        Some(path) => w.text_element("backend", attrs, path),
                        None => w.empty("backend", attrs),
                    }
                }
                RngBackend::Builtin => w.empty("backend", |a| {
                    a.attr("model", "builtin");
                }),
                RngBackend::Egd(raw) => w.raw(raw),
            }
            device_info(w, None, rng.alias.as_deref(), rng.address.as_ref());
            w.extra(&rng.extra);
        },
    );
}
