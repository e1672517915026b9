//! Disks on the command line: `-blockdev` nodes for each layer of the chain (a `file` or
//! `host_device` node under a `raw` or `qcow2` format node) and the `-device` the guest sees.
//!
//! Every qcow2 node names its backing node, or `null` for the last layer listed, so QEMU never
//! follows a backing file named only inside an image: what the definition does not list, the
//! security models did not label either.

use serde_json::{json, Map, Value};

use domxml::model::{Address, Disk, DiskBus, DiskCache, DiskDevice, DiskDriver, DiskIo, DiskType};

use super::{escape, Builder, Machine};

/// Where a disk sits: the controller bus and unit QEMU needs.
enum Slot {
    Pci,
    Ide {
        bus: u32,
        unit: u32,
    },
    Scsi {
        controller: u32,
        target: u32,
        lun: u32,
    },
}

impl Builder<'_> {
    pub(super) fn disk(&mut self, disk: &Disk) {
        let dev = disk.target.dev.as_str();
        let element = format!("<disk target='{dev}'>");
        let valid_dev = !dev.is_empty()
            && dev.len() <= 16
            && dev
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid_dev {
            self.refuse(format!("{element}/<target dev>"), "invalid target name");
            return;
        }
        self.extra(&disk.extra, &element);
        self.extra(&disk.target.extra, &format!("{element}/<target>"));
        if disk.transient {
            self.refuse(format!("{element}/<transient>"), "not supported yet");
        }
        if disk.wwn.is_some() {
            self.refuse(format!("{element}/<wwn>"), "not supported yet");
        }
        if disk.target.removable.is_some() {
            self.refuse(format!("{element}/<target removable>"), "not supported yet");
        }
        if disk
            .target
            .tray
            .as_deref()
            .is_some_and(|tray| tray != "closed")
        {
            self.refuse(
                format!("{element}/<target tray>"),
                "only a closed tray is supported",
            );
        }
        let cdrom = match disk.device {
            DiskDevice::Disk => false,
            DiskDevice::Cdrom => true,
            other => {
                self.refuse(
                    format!("{element} device"),
                    format!("device '{}' is not supported yet", other.as_str()),
                );
                return;
            }
        };
        let readonly = disk.readonly || cdrom;
        let node = format!("drive-{dev}");
        let driver = disk.driver.clone().unwrap_or_default();
        let has_media = self.blockdevs(disk, &driver, &node, readonly, &element);
        let Some(bus) = disk_bus(disk) else {
            self.refuse(
                format!("{element}/<target bus>"),
                "no bus given and none follows from the target name",
            );
            return;
        };
        let Some(slot) = self.disk_slot(disk, bus, &element) else {
            return;
        };

        let model = match (bus, cdrom) {
            (DiskBus::Virtio, false) => "virtio-blk-pci",
            (DiskBus::Ide | DiskBus::Sata, false) => "ide-hd",
            (DiskBus::Ide | DiskBus::Sata, true) => "ide-cd",
            (DiskBus::Scsi, false) => "scsi-hd",
            (DiskBus::Scsi, true) => "scsi-cd",
            (other, _) => {
                self.refuse(
                    format!("{element}/<target bus>"),
                    format!(
                        "bus '{}' is not supported for a {}",
                        other.as_str(),
                        disk.device.as_str()
                    ),
                );
                return;
            }
        };
        if model == "ide-hd" && disk.readonly {
            self.refuse(
                format!("{element}/<readonly>"),
                "IDE and SATA hard disks cannot be read-only",
            );
        }
        let id = self.device_id(disk.alias.as_deref(), format!("disk-{dev}"), &element);
        let mut device = format!("{model},id={id}");
        match slot {
            Slot::Pci => self.address(&mut device, disk.address.as_ref(), &element),
            Slot::Ide { bus, unit } => device.push_str(&format!(",bus=ide.{bus},unit={unit}")),
            Slot::Scsi {
                controller,
                target,
                lun,
            } => device.push_str(&format!(
                ",bus=scsi{controller}.0,channel=0,scsi-id={target},lun={lun}"
            )),
        }
        if has_media {
            device.push_str(&format!(",drive={node}"));
        }
        if let Some(write_cache) = driver.cache.and_then(cache_mode).map(|mode| mode.writeback) {
            if !cdrom {
                device.push_str(if write_cache {
                    ",write-cache=on"
                } else {
                    ",write-cache=off"
                });
            }
        }
        if disk.shareable {
            device.push_str(",share-rw=on");
        }
        if let Some(serial) = &disk.serial {
            if serial
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b' '))
                && serial.len() <= 36
            {
                device.push_str(&format!(",serial={}", escape(serial)));
            } else {
                self.refuse(format!("{element}/<serial>"), "invalid disk serial");
            }
        }
        if let Some(order) = disk.boot_order {
            device.push_str(&format!(",bootindex={order}"));
        }
        self.push("-device", device);
    }

    fn disk_slot(&mut self, disk: &Disk, bus: DiskBus, element: &str) -> Option<Slot> {
        let index = disk_index(&disk.target.dev);
        match (bus, &disk.address) {
            (DiskBus::Virtio, _) => Some(Slot::Pci),
            (DiskBus::Ide, _) if self.machine == Machine::Q35 => {
                self.refuse(
                    format!("{element}/<target bus>"),
                    "q35 has no IDE bus; use sata",
                );
                None
            }
            (DiskBus::Sata, _) if self.machine == Machine::I440fx => {
                self.refuse(
                    format!("{element}/<target bus>"),
                    "pc has no SATA controller; use ide or q35",
                );
                None
            }
            (DiskBus::Ide, Some(Address::Drive(drive))) if drive.controller == 0 => {
                Some(Slot::Ide {
                    bus: drive.bus,
                    unit: drive.unit,
                })
            }
            (DiskBus::Ide, None) => match index {
                Some(index @ 0..=3) => Some(Slot::Ide {
                    bus: index / 2,
                    unit: index % 2,
                }),
                _ => {
                    self.refuse(element.to_owned(), "IDE has four drives: hda to hdd");
                    None
                }
            },
            (DiskBus::Sata, Some(Address::Drive(drive))) if drive.controller == 0 => {
                Some(Slot::Ide {
                    bus: drive.unit,
                    unit: 0,
                })
            }
            (DiskBus::Sata, None) => match index {
                Some(index @ 0..=5) => Some(Slot::Ide {
                    bus: index,
                    unit: 0,
                }),
                _ => {
                    self.refuse(
                        element.to_owned(),
                        "the built-in AHCI has six ports: sda to sdf",
                    );
                    None
                }
            },
            (DiskBus::Scsi, Some(Address::Drive(drive))) => Some(Slot::Scsi {
                controller: drive.controller,
                target: drive.target,
                lun: drive.unit,
            }),
            (DiskBus::Scsi, None) => match index {
                Some(index) if index < 16384 => Some(Slot::Scsi {
                    controller: 0,
                    target: 0,
                    lun: index,
                }),
                _ => {
                    self.refuse(element.to_owned(), "cannot place this SCSI disk");
                    None
                }
            },
            (DiskBus::Ide | DiskBus::Sata | DiskBus::Scsi, Some(_)) => {
                self.refuse(
                    format!("{element}/<address>"),
                    "a drive address on controller 0 is needed here",
                );
                None
            }
            (other, _) => {
                self.refuse(
                    format!("{element}/<target bus>"),
                    format!("bus '{}' is not supported yet", other.as_str()),
                );
                None
            }
        }
    }

    /// Emits the `-blockdev` nodes of a disk's chain; returns whether it has media.
    fn blockdevs(
        &mut self,
        disk: &Disk,
        driver: &DiskDriver,
        node: &str,
        readonly: bool,
        element: &str,
    ) -> bool {
        self.extra(&driver.extra, &format!("{element}/<driver>"));
        if driver.name.as_deref().is_some_and(|name| name != "qemu") {
            self.refuse(
                format!("{element}/<driver name>"),
                "only 'qemu' is supported",
            );
        }
        let cache = driver.cache.and_then(cache_mode);
        let mut file_extra = Map::new();
        if let Some(cache) = cache {
            file_extra.insert(
                "cache".into(),
                json!({"direct": cache.direct, "no-flush": cache.no_flush}),
            );
        }
        match driver.io {
            None => {}
            Some(DiskIo::Native) if cache.is_some_and(|c| c.direct) => {
                file_extra.insert("aio".into(), json!("native"));
            }
            Some(DiskIo::Native) => self.refuse(
                format!("{element}/<driver io>"),
                "io='native' needs cache='none' or 'directsync'",
            ),
            Some(io @ (DiskIo::Threads | DiskIo::IoUring)) => {
                file_extra.insert("aio".into(), json!(io.as_str()));
            }
        }
        match driver.discard.as_deref() {
            None => {}
            Some(mode @ ("unmap" | "ignore")) => {
                file_extra.insert("discard".into(), json!(mode));
            }
            Some(other) => self.refuse(
                format!("{element}/<driver discard>"),
                format!("unknown discard mode '{other}'"),
            ),
        }
        let mut format_extra = Map::new();
        for key in ["cache", "discard"] {
            if let Some(value) = file_extra.get(key) {
                format_extra.insert(key.into(), value.clone());
            }
        }
        match driver.detect_zeroes.as_deref() {
            None => {}
            Some(mode @ ("on" | "off" | "unmap")) => {
                format_extra.insert("detect-zeroes".into(), json!(mode));
            }
            Some(other) => self.refuse(
                format!("{element}/<driver detect_zeroes>"),
                format!("unknown mode '{other}'"),
            ),
        }

        let Some(source) = &disk.source else {
            if disk.device != DiskDevice::Cdrom {
                self.refuse(format!("{element}/<source>"), "a disk needs a source");
            }
            if disk.backing_store.is_some() {
                self.refuse(
                    format!("{element}/<backingStore>"),
                    "an empty drive has no chain",
                );
            }
            return false;
        };
        // The chain: the top layer, then each <backingStore>; every qcow2 layer names the next
        // one or `null`, so QEMU never opens a backing file that the definition does not list
        // (and that the security models therefore did not label).
        let mut layers = vec![(disk.kind, driver.format.clone(), source)];
        let mut next = disk.backing_store.as_ref();
        while let Some(layer) = next {
            self.extra(&layer.extra, &format!("{element}/<backingStore>"));
            layers.push((layer.kind, layer.format.clone(), &layer.source));
            next = layer.backing_store.as_deref();
        }
        let names: Vec<String> = (0..layers.len())
            .map(|depth| {
                if depth == 0 {
                    node.to_owned()
                } else {
                    format!("{node}-b{depth}")
                }
            })
            .collect();
        // Lowest layer first, so every `backing` reference names an existing node.
        for (depth, (kind, format, source)) in layers.iter().enumerate().rev() {
            let layer_element = if depth == 0 {
                format!("{element}/<source>")
            } else {
                format!("{element}/<backingStore> {depth}")
            };
            self.extra(&source.extra, &layer_element);
            let file_driver = match kind {
                DiskType::File => "file",
                DiskType::Block => "host_device",
                other => {
                    self.refuse(
                        layer_element,
                        format!("disk type '{}' is not supported yet", other.as_str()),
                    );
                    continue;
                }
            };
            if source.startup_policy.is_some() {
                self.refuse(
                    format!("{layer_element} startupPolicy"),
                    "not supported yet",
                );
            }
            let Some(path) = &source.path else {
                self.refuse(layer_element, "no path");
                continue;
            };
            let layer_readonly = readonly || depth > 0;
            let name = &names[depth];
            let mut file = Map::new();
            file.insert("driver".into(), json!(file_driver));
            file.insert("filename".into(), json!(path));
            file.insert("node-name".into(), json!(format!("{name}-file")));
            file.insert("read-only".into(), json!(layer_readonly));
            file.insert("auto-read-only".into(), json!(true));
            file.extend(file_extra.clone());
            self.push("-blockdev", Value::Object(file).to_string());

            let format = match format.as_deref() {
                // libvirt treats a missing format as raw (probing is unsafe); so do we.
                None | Some("raw") => "raw",
                Some("qcow2") => "qcow2",
                Some(other) => {
                    self.refuse(
                        format!("{layer_element} format"),
                        format!("image format '{other}' is not supported (raw, qcow2)"),
                    );
                    continue;
                }
            };
            let mut fmt = Map::new();
            fmt.insert("driver".into(), json!(format));
            fmt.insert("node-name".into(), json!(name));
            fmt.insert("file".into(), json!(format!("{name}-file")));
            fmt.insert("read-only".into(), json!(layer_readonly));
            fmt.extend(format_extra.clone());
            if format == "qcow2" {
                let backing = names.get(depth + 1).map_or(Value::Null, |n| json!(n));
                fmt.insert("backing".into(), backing);
            } else if depth + 1 < names.len() {
                self.refuse(layer_element.clone(), "a raw image has no backing store");
            }
            self.push("-blockdev", Value::Object(fmt).to_string());
        }
        true
    }
}

/// What a libvirt cache mode means for QEMU (after libvirt's `qemuDomainDiskCachemodeFlags`).
#[derive(Debug, Clone, Copy)]
struct CacheMode {
    writeback: bool,
    direct: bool,
    no_flush: bool,
}

fn cache_mode(cache: DiskCache) -> Option<CacheMode> {
    let (writeback, direct, no_flush) = match cache {
        DiskCache::Default => return None,
        DiskCache::None => (true, true, false),
        DiskCache::Writethrough => (false, false, false),
        DiskCache::Writeback => (true, false, false),
        DiskCache::Directsync => (false, true, false),
        DiskCache::Unsafe => (true, false, true),
    };
    Some(CacheMode {
        writeback,
        direct,
        no_flush,
    })
}

/// The disk's bus: as given, or from its target name as libvirt does.
pub(super) fn disk_bus(disk: &Disk) -> Option<DiskBus> {
    if let Some(bus) = disk.target.bus {
        return Some(bus);
    }
    let dev = disk.target.dev.as_str();
    if dev.starts_with("vd") {
        Some(DiskBus::Virtio)
    } else if dev.starts_with("sd") {
        Some(DiskBus::Scsi)
    } else if dev.starts_with("hd") {
        Some(DiskBus::Ide)
    } else {
        None
    }
}

/// The drive index from a target name: `vda` → 0, `hdc` → 2, `sdaa` → 26 (libvirt's
/// `virDiskNameToIndex`).
fn disk_index(dev: &str) -> Option<u32> {
    let letters = dev
        .strip_prefix("xvd")
        .or_else(|| dev.get(2..))
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase()))?;
    let mut index: u32 = 0;
    for (position, byte) in letters.bytes().enumerate() {
        let digit = u32::from(byte - b'a');
        index = if position == 0 {
            digit
        } else {
            index.checked_add(1)?.checked_mul(26)?.checked_add(digit)?
        };
    }
    Some(index)
}

#[cfg(test)]
mod tests {
    use super::disk_index;

    #[test]
    fn disk_names_map_to_libvirt_indices() {
        assert_eq!(disk_index("vda"), Some(0));
        assert_eq!(disk_index("hdc"), Some(2));
        assert_eq!(disk_index("sdz"), Some(25));
        assert_eq!(disk_index("sdaa"), Some(26));
        assert_eq!(disk_index("xvdb"), Some(1));
        assert_eq!(disk_index("vd"), None);
        assert_eq!(disk_index("vd1"), None);
    }
}
