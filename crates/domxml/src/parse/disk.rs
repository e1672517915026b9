//! `<disk>`: driver, source (with per-device seclabels), backing chain and target.

use super::devices::device_info;
use super::domain::on_off;
use super::seclabel::parse_device_seclabels;
use super::{Elem, PResult, ParseErrorKind};
use crate::model::{
    BackingStore, Disk, DiskBus, DiskCache, DiskDevice, DiskDriver, DiskIo, DiskSource, DiskTarget,
    DiskType, SourceHost,
};

fn disk_type(value: &str) -> Option<DiskType> {
    match value {
        "file" => Some(DiskType::File),
        "block" => Some(DiskType::Block),
        "dir" => Some(DiskType::Dir),
        "network" => Some(DiskType::Network),
        "volume" => Some(DiskType::Volume),
        _ => None,
    }
}

pub(super) fn disk_of(mut e: Elem<'_, '_>) -> PResult<Disk> {
    let kind = match e.attr_with("type", disk_type)? {
        Some(kind) => kind,
        None => DiskType::File,
    };
    let device = e
        .attr_with("device", |v| match v {
            "disk" => Some(DiskDevice::Disk),
            "cdrom" => Some(DiskDevice::Cdrom),
            "floppy" => Some(DiskDevice::Floppy),
            "lun" => Some(DiskDevice::Lun),
            _ => None,
        })?
        .unwrap_or(DiskDevice::Disk);
    let driver = match e.child("driver")? {
        None => None,
        Some(child) => Some(disk_driver_of(child)?),
    };
    let source = match e.child("source")? {
        None => None,
        Some(child) => Some(disk_source_of(child, kind)?),
    };
    let backing_store = backing_store_of(&mut e)?;
    let target = {
        let mut child = e.req_child("target")?;
        let dev = child.req_attr("dev")?.to_owned();
        let bus = child.attr_with("bus", |v| match v {
            "ide" => Some(DiskBus::Ide),
            "fdc" => Some(DiskBus::Fdc),
            "scsi" => Some(DiskBus::Scsi),
            "virtio" => Some(DiskBus::Virtio),
            "usb" => Some(DiskBus::Usb),
            "sata" => Some(DiskBus::Sata),
            "sd" => Some(DiskBus::Sd),
            _ => None,
        })?;
        let tray = child.attr_string("tray")?;
        let removable = child.attr_with("removable", on_off)?;
        DiskTarget {
            dev,
            bus,
            tray,
            removable,
            extra: child.finish()?,
        }
    };
    let readonly = e.flag("readonly")?;
    let shareable = e.flag("shareable")?;
    let transient = e.flag("transient")?;
    let serial = e.child_text("serial")?;
    let wwn = e.child_text("wwn")?;
    let info = device_info(&mut e)?;
    Ok(Disk {
        kind,
        device,
        driver,
        source,
        backing_store,
        target,
        readonly,
        shareable,
        transient,
        serial,
        wwn,
        boot_order: info.boot_order,
        alias: info.alias,
        address: info.address,
        extra: e.finish()?,
    })
}

fn disk_driver_of(mut e: Elem<'_, '_>) -> PResult<DiskDriver> {
    Ok(DiskDriver {
        name: e.attr_string("name")?,
        format: e.attr_string("type")?,
        cache: e.attr_with("cache", |v| match v {
            "default" => Some(DiskCache::Default),
            "none" => Some(DiskCache::None),
            "writethrough" => Some(DiskCache::Writethrough),
            "writeback" => Some(DiskCache::Writeback),
            "directsync" => Some(DiskCache::Directsync),
            "unsafe" => Some(DiskCache::Unsafe),
            _ => None,
        })?,
        io: e.attr_with("io", |v| match v {
            "threads" => Some(DiskIo::Threads),
            "native" => Some(DiskIo::Native),
            "io_uring" => Some(DiskIo::IoUring),
            _ => None,
        })?,
        discard: e.attr_string("discard")?,
        detect_zeroes: e.attr_string("detect_zeroes")?,
        extra: e.finish()?,
    })
}

/// The attribute that holds a disk source's host path, by disk type.
pub(crate) fn source_path_attribute(kind: DiskType) -> Option<&'static str> {
    match kind {
        DiskType::File => Some("file"),
        DiskType::Block => Some("dev"),
        DiskType::Dir => Some("dir"),
        DiskType::Network | DiskType::Volume => None,
    }
}

fn disk_source_of(mut e: Elem<'_, '_>, kind: DiskType) -> PResult<DiskSource> {
    let path = match source_path_attribute(kind) {
        Some(attribute) => e.attr_string(attribute)?,
        None => None,
    };
    let (protocol, name) = if kind == DiskType::Network {
        (e.attr_string("protocol")?, e.attr_string("name")?)
    } else {
        (None, None)
    };
    let (pool, volume) = if kind == DiskType::Volume {
        (e.attr_string("pool")?, e.attr_string("volume")?)
    } else {
        (None, None)
    };
    let startup_policy = e.attr_string("startupPolicy")?;
    let mut hosts = Vec::new();
    for mut host in e.children("host")? {
        hosts.push(SourceHost {
            name: host.attr_string("name")?,
            port: host.attr_string("port")?,
            transport: host.attr_string("transport")?,
            socket: host.attr_string("socket")?,
        });
        host.finish()?;
    }
    let seclabels = parse_device_seclabels(&mut e)?;
    Ok(DiskSource {
        path,
        protocol,
        name,
        pool,
        volume,
        startup_policy,
        hosts,
        seclabels,
        extra: e.finish()?,
    })
}

/// The `<backingStore>` child of a disk or layer. Recursion depth is bounded by the depth check
/// done before parsing.
fn backing_store_of(e: &mut Elem<'_, '_>) -> PResult<Option<BackingStore>> {
    let Some(mut child) = e.child("backingStore")? else {
        return Ok(None);
    };
    let Some(kind) = child.attr_with("type", disk_type)? else {
        // `<backingStore/>` marks the end of a chain libvirt has probed; nothing follows.
        child.finish()?;
        return Ok(None);
    };
    let format = match child.child("format")? {
        None => None,
        Some(mut format) => {
            let value = format.req_attr("type")?.to_owned();
            format.finish()?;
            Some(value)
        }
    };
    let source = match child.child("source")? {
        Some(source) => disk_source_of(source, kind)?,
        None => {
            return Err(child.error(ParseErrorKind::MissingElement {
                element: "source".to_owned(),
                parent: "backingStore".to_owned(),
            }))
        }
    };
    let backing_store = backing_store_of(&mut child)?.map(Box::new);
    Ok(Some(BackingStore {
        kind,
        format,
        source,
        backing_store,
        extra: child.finish()?,
    }))
}
