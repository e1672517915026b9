//! `<devices>`, the device information common to all devices, and the device families
//! without a file of their own.

use super::domain::{on_off, raw_child, yes_no};
use super::{chardev, disk, net, parse_uint, Elem, PResult};
use crate::model::{
    Address, Controller, Devices, DriveAddress, Graphics, GraphicsListen, GraphicsType, Hostdev,
    HostdevSource, Input, InputType, Memballoon, OtherDevice, OtherDeviceKind, PciAddress, Rng,
    RngBackend, Tpm, TpmBackend, TpmBackendType, UsbAddress, Video, VideoModel,
    VirtioSerialAddress,
};

pub(super) fn parse_devices(mut e: Elem<'_, '_>) -> PResult<Devices> {
    let emulator = e.child_text("emulator")?;
    let disks = each(&mut e, "disk", disk::disk_of)?;
    let controllers = each(&mut e, "controller", controller_of)?;
    let interfaces = each(&mut e, "interface", net::interface_of)?;
    let serials = each(&mut e, "serial", chardev::chardev_of)?;
    let consoles = each(&mut e, "console", chardev::chardev_of)?;
    let channels = each(&mut e, "channel", chardev::chardev_of)?;
    let inputs = each(&mut e, "input", input_of)?;
    let tpms = each(&mut e, "tpm", tpm_of)?;
    let graphics = each(&mut e, "graphics", graphics_of)?;
    let videos = each(&mut e, "video", video_of)?;
    let hostdevs = each(&mut e, "hostdev", hostdev_of)?;
    let memballoon = match e.child("memballoon")? {
        None => None,
        Some(child) => Some(memballoon_of(child)?),
    };
    let rngs = each(&mut e, "rng", rng_of)?;
    let mut others = Vec::new();
    for kind in OtherDeviceKind::ALL {
        for child in e.children(kind.as_str())? {
            others.push(OtherDevice {
                kind,
                xml: child.raw(),
            });
        }
    }
    Ok(Devices {
        emulator,
        disks,
        controllers,
        interfaces,
        serials,
        consoles,
        channels,
        inputs,
        tpms,
        graphics,
        videos,
        hostdevs,
        memballoon,
        rngs,
        others,
        extra: e.finish()?,
    })
}

fn each<T>(
    e: &mut Elem<'_, '_>,
    name: &str,
    parse: impl for<'x, 'y> Fn(Elem<'x, 'y>) -> PResult<T>,
) -> PResult<Vec<T>> {
    e.children(name)?.into_iter().map(parse).collect()
}

/// `<boot order=…/>`, `<alias name=…/>` and `<address>`, common to most devices.
pub(super) struct DeviceInfo {
    pub(super) boot_order: Option<u32>,
    pub(super) alias: Option<String>,
    pub(super) address: Option<Address>,
}

pub(super) fn device_info(e: &mut Elem<'_, '_>) -> PResult<DeviceInfo> {
    let boot_order = match e.child("boot")? {
        None => None,
        Some(mut boot) => {
            let order = boot.attr_with("order", |v| {
                v.trim().parse::<u32>().ok().filter(|order| *order > 0)
            })?;
            let order = match order {
                Some(order) => order,
                None => boot.req_attr("order").map(|_| 0)?,
            };
            boot.finish()?;
            Some(order)
        }
    };
    let alias = match e.child("alias")? {
        None => None,
        Some(mut alias) => {
            let name = alias.req_attr("name")?.to_owned();
            alias.finish()?;
            Some(name)
        }
    };
    let address = match e.child("address")? {
        None => None,
        Some(child) => Some(address_of(child)?),
    };
    Ok(DeviceInfo {
        boot_order,
        alias,
        address,
    })
}

pub(super) fn bounded<T: TryFrom<u64>>(
    e: &mut Elem<'_, '_>,
    name: &str,
    max: u64,
) -> PResult<Option<T>> {
    e.attr_with(name, |v| {
        parse_uint(v)
            .filter(|n| *n <= max)
            .and_then(|n| T::try_from(n).ok())
    })
}

pub(super) fn pci_address_of(e: &mut Elem<'_, '_>) -> PResult<PciAddress> {
    Ok(PciAddress {
        domain: bounded(e, "domain", 0xffff)?.unwrap_or(0),
        bus: bounded(e, "bus", 0xff)?.unwrap_or(0),
        slot: bounded(e, "slot", 0x1f)?.unwrap_or(0),
        function: bounded(e, "function", 7)?.unwrap_or(0),
        multifunction: e.attr_with("multifunction", on_off)?,
    })
}

fn address_of(mut e: Elem<'_, '_>) -> PResult<Address> {
    let kind = e.req_attr("type")?;
    let u32_max = u64::from(u32::MAX);
    let address = match kind {
        "pci" => Address::Pci(pci_address_of(&mut e)?),
        "drive" => Address::Drive(DriveAddress {
            controller: bounded(&mut e, "controller", u32_max)?.unwrap_or(0),
            bus: bounded(&mut e, "bus", u32_max)?.unwrap_or(0),
            target: bounded(&mut e, "target", u32_max)?.unwrap_or(0),
            unit: bounded(&mut e, "unit", u32_max)?.unwrap_or(0),
        }),
        "virtio-serial" => Address::VirtioSerial(VirtioSerialAddress {
            controller: bounded(&mut e, "controller", u32_max)?.unwrap_or(0),
            bus: bounded(&mut e, "bus", u32_max)?.unwrap_or(0),
            port: bounded(&mut e, "port", u32_max)?.unwrap_or(0),
        }),
        "usb" => Address::Usb(UsbAddress {
            bus: bounded(&mut e, "bus", u32_max)?.unwrap_or(0),
            port: e.attr_string("port")?,
        }),
        other => {
            let kind = other.to_owned();
            let mut attributes = Vec::new();
            let names: Vec<String> = e
                .node
                .attributes()
                .filter(|attr| attr.namespace().is_none() && attr.name() != "type")
                .map(|attr| attr.name().to_owned())
                .collect();
            for name in names {
                if let Some(value) = e.attr(&name)? {
                    attributes.push((name, value.to_owned()));
                }
            }
            Address::Other { kind, attributes }
        }
    };
    e.finish()?;
    Ok(address)
}

fn controller_of(mut e: Elem<'_, '_>) -> PResult<Controller> {
    let kind = e.req_attr("type")?.to_owned();
    let index = e.attr_parse("index")?.unwrap_or(0);
    let model = e.attr_string("model")?;
    let ports = e.attr_parse("ports")?;
    let model_name = single_attr(&mut e, "model", "name")?;
    let target = raw_child(&mut e, "target")?;
    let driver = raw_child(&mut e, "driver")?;
    let info = device_info(&mut e)?;
    Ok(Controller {
        kind,
        index,
        model,
        ports,
        model_name,
        target,
        driver,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

/// The required attribute `attribute` of the optional child `element` (`<model type=…/>`).
pub(super) fn single_attr(
    e: &mut Elem<'_, '_>,
    element: &str,
    attribute: &str,
) -> PResult<Option<String>> {
    match e.child(element)? {
        None => Ok(None),
        Some(mut child) => {
            let value = child.req_attr(attribute)?.to_owned();
            child.finish()?;
            Ok(Some(value))
        }
    }
}

fn input_of(mut e: Elem<'_, '_>) -> PResult<Input> {
    let kind = match e.req_attr("type")? {
        "mouse" => InputType::Mouse,
        "tablet" => InputType::Tablet,
        "keyboard" => InputType::Keyboard,
        "passthrough" => InputType::Passthrough,
        "evdev" => InputType::Evdev,
        other => return Err(e.invalid_attr("type", other)),
    };
    let bus = e.attr_string("bus")?;
    let source = match e.child("source")? {
        None => None,
        Some(mut child) => {
            let attribute = if kind == InputType::Passthrough {
                "evdev"
            } else {
                "dev"
            };
            let path = child.attr_string(attribute)?;
            child.finish()?;
            path
        }
    };
    let info = device_info(&mut e)?;
    Ok(Input {
        kind,
        bus,
        source,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn graphics_of(mut e: Elem<'_, '_>) -> PResult<Graphics> {
    let kind = match e.req_attr("type")? {
        "vnc" => GraphicsType::Vnc,
        "spice" => GraphicsType::Spice,
        "sdl" => GraphicsType::Sdl,
        "egl-headless" => GraphicsType::EglHeadless,
        "dbus" => GraphicsType::Dbus,
        other => return Err(e.invalid_attr("type", other)),
    };
    let port = e.attr_parse("port")?;
    let tls_port = e.attr_parse("tlsPort")?;
    let autoport = e.attr_with("autoport", yes_no)?;
    let listen = e.attr_string("listen")?;
    let passwd = e.attr_string("passwd")?;
    let keymap = e.attr_string("keymap")?;
    let mut listens = Vec::new();
    for mut child in e.children("listen")? {
        listens.push(GraphicsListen {
            kind: child.req_attr("type")?.to_owned(),
            address: child.attr_string("address")?,
            network: child.attr_string("network")?,
            socket: child.attr_string("socket")?,
        });
        child.finish()?;
    }
    let image_compression = single_attr(&mut e, "image", "compression")?;
    let gl = raw_child(&mut e, "gl")?;
    Ok(Graphics {
        kind,
        port,
        tls_port,
        autoport,
        listen,
        passwd,
        keymap,
        listens,
        image_compression,
        gl,
        extra: e.finish()?,
    })
}

fn video_of(mut e: Elem<'_, '_>) -> PResult<Video> {
    let model = match e.child("model")? {
        None => VideoModel {
            kind: "default".to_owned(),
            ..VideoModel::default()
        },
        Some(mut child) => VideoModel {
            kind: child.req_attr("type")?.to_owned(),
            ram: child.attr_parse("ram")?,
            vram: child.attr_parse("vram")?,
            vgamem: child.attr_parse("vgamem")?,
            heads: child.attr_parse("heads")?,
            primary: child.attr_with("primary", yes_no)?,
            acceleration: raw_child(&mut child, "acceleration")?,
            extra: child.finish()?,
        },
    };
    let info = device_info(&mut e)?;
    Ok(Video {
        model,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn memballoon_of(mut e: Elem<'_, '_>) -> PResult<Memballoon> {
    let model = e.req_attr("model")?.to_owned();
    let autodeflate = e.attr_with("autodeflate", on_off)?;
    let stats_period = match e.child("stats")? {
        None => None,
        Some(mut child) => {
            let period = child.attr_parse("period")?;
            child.finish()?;
            period
        }
    };
    let info = device_info(&mut e)?;
    Ok(Memballoon {
        model,
        autodeflate,
        stats_period,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn rng_of(mut e: Elem<'_, '_>) -> PResult<Rng> {
    let model = e.req_attr("model")?.to_owned();
    let rate = match e.child("rate")? {
        None => None,
        Some(mut child) => {
            let bytes = match child.attr_parse("bytes")? {
                Some(bytes) => bytes,
                None => child.req_attr("bytes").map(|_| 0)?,
            };
            let period = child.attr_parse("period")?;
            child.finish()?;
            Some((bytes, period))
        }
    };
    let backend = {
        let mut child = e.req_child("backend")?;
        let backend = match child.req_attr("model")? {
            "random" => {
                let text = child.text()?;
                RngBackend::Random(Some(text).filter(|t| !t.is_empty()))
            }
            "builtin" => RngBackend::Builtin,
            "egd" => RngBackend::Egd(child.raw()),
            other => return Err(child.invalid_attr("model", other)),
        };
        if let RngBackend::Egd(_) = backend {
            // Kept verbatim: its chardev type and sources are not read here.
        } else {
            child.finish()?;
        }
        backend
    };
    let info = device_info(&mut e)?;
    Ok(Rng {
        model,
        rate,
        backend,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn tpm_of(mut e: Elem<'_, '_>) -> PResult<Tpm> {
    let model = e.attr_string("model")?;
    let backend = {
        let mut child = e.req_child("backend")?;
        let kind = match child.req_attr("type")? {
            "passthrough" => TpmBackendType::Passthrough,
            "emulator" => TpmBackendType::Emulator,
            "external" => TpmBackendType::External,
            other => return Err(child.invalid_attr("type", other)),
        };
        let version = child.attr_string("version")?;
        let device_path = single_attr(&mut child, "device", "path")?;
        TpmBackend {
            kind,
            version,
            device_path,
            extra: child.finish()?,
        }
    };
    let info = device_info(&mut e)?;
    Ok(Tpm {
        model,
        backend,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn hostdev_of(mut e: Elem<'_, '_>) -> PResult<Hostdev> {
    let mode = e.attr("mode")?.unwrap_or("subsystem");
    if mode != "subsystem" {
        return Err(e.invalid_attr("mode", mode));
    }
    let kind = e.req_attr("type")?;
    let managed = e.attr_with("managed", yes_no)?;
    let mut source = e.req_child("source")?;
    let hostdev_source = match kind {
        "usb" => {
            let id = |source: &mut Elem<'_, '_>, name: &str| -> PResult<Option<u16>> {
                match source.child(name)? {
                    None => Ok(None),
                    Some(mut child) => {
                        let id = match bounded(&mut child, "id", 0xffff)? {
                            Some(id) => id,
                            None => child.req_attr("id").map(|_| 0)?,
                        };
                        child.finish()?;
                        Ok(Some(id))
                    }
                }
            };
            let vendor = id(&mut source, "vendor")?;
            let product = id(&mut source, "product")?;
            let address = match source.child("address")? {
                None => None,
                Some(mut child) => {
                    let max = u64::from(u32::MAX);
                    let bus = bounded(&mut child, "bus", max)?.unwrap_or(0);
                    let device = bounded(&mut child, "device", max)?.unwrap_or(0);
                    child.finish()?;
                    Some((bus, device))
                }
            };
            HostdevSource::Usb {
                vendor,
                product,
                address,
            }
        }
        "pci" => {
            let mut child = source.req_child("address")?;
            let address = pci_address_of(&mut child)?;
            // libvirt writes the host address with type='pci'; accept it without requiring it.
            let _ = child.attr("type")?;
            child.finish()?;
            HostdevSource::Pci { address }
        }
        other => return Err(e.invalid_attr("type", other)),
    };
    let source_extra = source.finish()?;
    let info = device_info(&mut e)?;
    Ok(Hostdev {
        managed,
        source: hostdev_source,
        source_extra,
        boot_order: info.boot_order,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}
