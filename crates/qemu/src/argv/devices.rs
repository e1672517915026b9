//! `<devices>` on the command line: controllers, disks, NICs, chardevs, inputs, graphics, video,
//! balloon and RNG.

use serde_json::{json, Map, Value};

use domxml::model::{
    Address, Chardev, ChardevType, Controller, Devices, Disk, DiskBus, DiskCache, DiskDevice,
    DiskDriver, DiskIo, DiskType, GraphicsType, InputType, InterfaceType, OnOff, RngBackend,
};

use super::{escape, is_name, Builder, Machine, FIRST_PASSED_FD};

/// Whether any device carries a `<boot order>`.
pub(super) fn any_boot_order(devices: &Devices) -> bool {
    devices.disks.iter().any(|d| d.boot_order.is_some())
        || devices.interfaces.iter().any(|i| i.boot_order.is_some())
        || devices.hostdevs.iter().any(|h| h.boot_order.is_some())
}

/// Where a disk sits: the controller bus and unit QEMU needs.
enum Slot {
    Pci,
    Ide { bus: u32, unit: u32 },
    Scsi { controller: u32, target: u32, lun: u32 },
}

impl Builder<'_> {
    pub(super) fn devices(&mut self) {
        let devices = &self.domain.devices;
        self.extra(&devices.extra, "<devices>");
        self.controllers();
        for disk in &devices.disks {
            self.disk(disk);
        }
        for (index, _) in devices.interfaces.iter().enumerate() {
            self.interface(index);
        }
        self.chardevs();
        self.inputs();
        self.graphics();
        self.videos();
        if let Some(balloon) = &devices.memballoon {
            self.extra(&balloon.extra, "<memballoon>");
            match balloon.model.as_str() {
                "none" => {}
                "virtio" => {
                    let mut device = "virtio-balloon-pci,id=balloon0".to_owned();
                    if balloon.autodeflate == Some(OnOff::On) {
                        device.push_str(",deflate-on-oom=on");
                    }
                    self.address(&mut device, balloon.address.as_ref(), "<memballoon>");
                    self.push("-device", device);
                }
                other => self.refuse(
                    "<memballoon model>",
                    format!("model '{other}' is not supported"),
                ),
            }
            if balloon.stats_period.is_some() {
                self.refuse("<memballoon>/<stats>", "balloon statistics are not supported yet");
            }
        }
        for (index, rng) in devices.rngs.iter().enumerate() {
            let element = "<rng>";
            self.extra(&rng.extra, element);
            if rng.model != "virtio" {
                self.refuse(element, format!("model '{}' is not supported", rng.model));
                continue;
            }
            let object = match &rng.backend {
                RngBackend::Random(path) => {
                    let path = path.as_deref().unwrap_or("/dev/urandom");
                    format!("rng-random,id=objrng{index},filename={}", escape(path))
                }
                RngBackend::Builtin => format!("rng-builtin,id=objrng{index}"),
                RngBackend::Egd(_) => {
                    self.refuse("<rng>/<backend model='egd'>", "not supported yet");
                    continue;
                }
            };
            self.push("-object", object);
            let mut device = format!("virtio-rng-pci,rng=objrng{index},id=rng{index}");
            if let Some((bytes, period)) = rng.rate {
                device.push_str(&format!(",max-bytes={bytes},period={}", period.unwrap_or(1000)));
            }
            self.address(&mut device, rng.address.as_ref(), element);
            self.push("-device", device);
        }
        for _ in &devices.tpms {
            self.refuse("<tpm>", "TPM devices are not supported yet");
        }
        for _ in &devices.hostdevs {
            self.refuse("<hostdev>", "host device passthrough is not supported yet");
        }
        for other in &devices.others {
            self.refuse(format!("<{}>", other.kind.as_str()), "not supported yet");
        }
    }

    /// Appends `,bus=…,addr=…` for a PCI address; refuses other address types.
    fn address(&mut self, device: &mut String, address: Option<&Address>, element: &str) {
        match address {
            None => {}
            Some(Address::Pci(pci)) => {
                if pci.domain != 0 || pci.bus != 0 {
                    self.refuse(
                        format!("{element}/<address>"),
                        "only PCI domain 0, bus 0 is supported",
                    );
                    return;
                }
                device.push_str(&format!(
                    ",bus={},addr={:#x}",
                    self.machine.pci_bus(),
                    pci.slot
                ));
                if pci.function != 0 {
                    device.push_str(&format!(".{:#x}", pci.function));
                }
                if let Some(multifunction) = pci.multifunction {
                    device.push_str(&format!(",multifunction={}", multifunction.as_str()));
                }
            }
            Some(_) => self.refuse(
                format!("{element}/<address>"),
                "only PCI addresses are supported here",
            ),
        }
    }

    /// The device id: the user's alias when it is a safe name, else the fallback.
    fn device_id(&mut self, alias: Option<&str>, fallback: String, element: &str) -> String {
        match alias {
            None => fallback,
            Some(alias) if is_name(alias) => alias.to_owned(),
            Some(alias) => {
                self.refuse(
                    format!("{element}/<alias>"),
                    format!("invalid alias '{alias}'"),
                );
                fallback
            }
        }
    }

    fn controllers(&mut self) {
        let machine = self.machine;
        let controllers = &self.domain.devices.controllers;
        for controller in controllers {
            self.controller(controller, machine);
        }
        // A SCSI disk on controller 0 without a declared controller gets virtio-scsi, which
        // libvirt would have added to the definition.
        let declared = controllers.iter().any(|c| c.kind == "scsi" && c.index == 0);
        let needs = self.domain.devices.disks.iter().any(|disk| {
            disk_bus(disk) == Some(DiskBus::Scsi)
                && !matches!(&disk.address, Some(Address::Drive(d)) if d.controller != 0)
        });
        if needs && !declared {
            self.push("-device", "virtio-scsi-pci,id=scsi0");
        }
    }

    fn controller(&mut self, controller: &Controller, machine: Machine) {
        let element = format!(
            "<controller type='{}' index='{}'>",
            controller.kind, controller.index
        );
        self.extra(&controller.extra, &element);
        if controller.driver.is_some() {
            self.refuse(format!("{element}/<driver>"), "not supported yet");
        }
        if controller.target.is_some() || controller.model_name.is_some() {
            self.refuse(format!("{element}/<target>"), "not supported yet");
        }
        if controller.ports.is_some() {
            self.refuse(format!("{element} ports"), "not supported yet");
        }
        let index = controller.index;
        let model = controller.model.as_deref();
        let device = match (controller.kind.as_str(), model) {
            ("pci", None | Some("pci-root")) if index == 0 && machine == Machine::I440fx => None,
            ("pci", None | Some("pcie-root")) if index == 0 && machine == Machine::Q35 => None,
            ("ide", None) if index == 0 && machine == Machine::I440fx => None,
            ("sata", None) if index == 0 && machine == Machine::Q35 => None,
            ("usb", Some("none")) => None,
            ("usb", None) if machine == Machine::I440fx => {
                Some(format!("piix3-usb-uhci,id=usb{}", usb_suffix(index)))
            }
            ("usb", None) => Some(format!("qemu-xhci,id=usb{}", usb_suffix(index))),
            ("usb", Some("piix3-uhci")) => {
                Some(format!("piix3-usb-uhci,id=usb{}", usb_suffix(index)))
            }
            ("usb", Some("qemu-xhci")) => Some(format!("qemu-xhci,id=usb{}", usb_suffix(index))),
            ("scsi", None | Some("virtio-scsi")) => Some(format!("virtio-scsi-pci,id=scsi{index}")),
            ("virtio-serial", None) => Some(format!("virtio-serial-pci,id=virtio-serial{index}")),
            _ => {
                self.refuse(
                    element,
                    "this controller type, model or index is not supported on this machine",
                );
                return;
            }
        };
        match device {
            Some(mut device) => {
                self.address(&mut device, controller.address.as_ref(), &element);
                self.push("-device", device);
            }
            None => {
                if controller.address.is_some() {
                    self.refuse(
                        format!("{element}/<address>"),
                        "built-in controllers cannot be moved",
                    );
                }
            }
        }
    }

    fn disk(&mut self, disk: &Disk) {
        let dev = disk.target.dev.as_str();
        let element = format!("<disk target='{dev}'>");
        let valid_dev = !dev.is_empty()
            && dev.len() <= 16
            && dev.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
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
        if disk.target.tray.as_deref().is_some_and(|tray| tray != "closed") {
            self.refuse(format!("{element}/<target tray>"), "only a closed tray is supported");
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
        if let Some(write_cache) = driver.cache.and_then(cache_mode).map(|mode| mode.writeback)
        {
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
                    self.refuse(element.to_owned(), "the built-in AHCI has six ports: sda to sdf");
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
            self.refuse(format!("{element}/<driver name>"), "only 'qemu' is supported");
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
                self.refuse(format!("{element}/<backingStore>"), "an empty drive has no chain");
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
                self.refuse(format!("{layer_element} startupPolicy"), "not supported yet");
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

    fn interface(&mut self, index: usize) {
        let iface = &self.domain.devices.interfaces[index];
        let element = format!("<interface type='{}'> {index}", iface.kind.as_str());
        self.extra(&iface.extra, &element);
        if let Some(source) = &iface.source {
            self.extra(&source.extra, &format!("{element}/<source>"));
        }
        if iface.driver.is_some() {
            self.refuse(format!("{element}/<driver>"), "not supported yet");
        }
        if iface.link_state.as_deref().is_some_and(|state| state != "up") {
            self.refuse(format!("{element}/<link>"), "only link state 'up' is supported");
        }
        let netdev = format!("hostnet{index}");
        match iface.kind {
            InterfaceType::User => {
                self.push("-netdev", format!("user,id={netdev}"));
            }
            InterfaceType::Ethernet | InterfaceType::Bridge | InterfaceType::Network => {
                let Ok(position) = i32::try_from(self.tap_interfaces.len()) else {
                    self.refuse(element, "too many tap interfaces");
                    return;
                };
                let fd = FIRST_PASSED_FD + position;
                self.tap_interfaces.push(index);
                self.push("-netdev", format!("tap,id={netdev},fd={fd}"));
            }
            InterfaceType::Direct => {
                self.refuse(element, "macvtap (type='direct') is not supported yet");
                return;
            }
        }
        let model = match iface.model.as_deref() {
            // libvirt's default NIC model for x86 guests.
            None | Some("rtl8139") => "rtl8139",
            Some("virtio") => "virtio-net-pci",
            Some("e1000") => "e1000",
            Some("e1000e") => "e1000e",
            Some(other) => {
                self.refuse(
                    format!("{element}/<model>"),
                    format!("NIC model '{other}' is not supported"),
                );
                return;
            }
        };
        let id = self.device_id(iface.alias.as_deref(), format!("net{index}"), &element);
        let mut device = format!("{model},netdev={netdev},id={id}");
        if let Some(mac) = iface.mac {
            device.push_str(&format!(",mac={mac}"));
        }
        if let Some(mtu) = iface.mtu {
            if model == "virtio-net-pci" {
                device.push_str(&format!(",host_mtu={mtu}"));
            } else {
                self.refuse(format!("{element}/<mtu>"), "only virtio NICs take an MTU");
            }
        }
        if let Some(order) = iface.boot_order {
            device.push_str(&format!(",bootindex={order}"));
        }
        self.address(&mut device, iface.address.as_ref(), &element);
        self.push("-device", device);
    }

    fn chardevs(&mut self) {
        let devices = &self.domain.devices;
        let mut ports_used: Vec<u32> = Vec::new();
        for (index, serial) in devices.serials.iter().enumerate() {
            let element = format!("<serial> {index}");
            let port = serial
                .target
                .as_ref()
                .and_then(|t| t.port)
                .unwrap_or_else(|| u32::try_from(index).unwrap_or(u32::MAX));
            self.serial(serial, port, &element, &mut ports_used);
        }
        for (index, console) in devices.consoles.iter().enumerate() {
            let element = format!("<console> {index}");
            let target = console.target.clone().unwrap_or_default();
            match target.kind.as_deref() {
                None | Some("serial") => {
                    let port = target.port.unwrap_or(0);
                    // libvirt's console on a serial target is that serial port seen again.
                    if devices.serials.is_empty() || !ports_used.contains(&port) {
                        self.serial(console, port, &element, &mut ports_used);
                    }
                }
                Some(other) => self.refuse(
                    format!("{element}/<target type>"),
                    format!("console target '{other}' is not supported yet"),
                ),
            }
        }
        for (index, _) in devices.channels.iter().enumerate() {
            self.refuse(format!("<channel> {index}"), "channels are not supported yet");
        }
    }

    fn serial(&mut self, chardev: &Chardev, port: u32, element: &str, used: &mut Vec<u32>) {
        self.extra(&chardev.extra, element);
        if let Some(target) = &chardev.target {
            self.extra(&target.extra, &format!("{element}/<target>"));
            let isa = |value: Option<&str>| matches!(value, None | Some("isa-serial"));
            if !isa(target.model.as_deref())
                || !(isa(target.kind.as_deref()) || target.kind.as_deref() == Some("serial"))
            {
                self.refuse(
                    format!("{element}/<target>"),
                    "only isa-serial ports are supported",
                );
                return;
            }
        }
        if port > 3 || used.contains(&port) {
            self.refuse(
                format!("{element}/<target port>"),
                format!("port {port} is taken or beyond the four ISA serial ports"),
            );
            return;
        }
        used.push(port);
        if chardev.address.is_some() {
            self.refuse(format!("{element}/<address>"), "not supported for ISA serial ports");
        }
        let id = format!("charserial{port}");
        let Some(backend) = self.chardev_backend(chardev, &id, element) else {
            return;
        };
        self.push("-chardev", backend);
        let device_id = self.device_id(chardev.alias.as_deref(), format!("serial{port}"), element);
        self.push(
            "-device",
            format!("isa-serial,chardev={id},id={device_id},index={port}"),
        );
    }

    /// The `-chardev` value for a chardev's host side.
    fn chardev_backend(&mut self, chardev: &Chardev, id: &str, element: &str) -> Option<String> {
        if chardev.sources.len() > 1 {
            self.refuse(format!("{element}/<source>"), "more than one source");
            return None;
        }
        let source = chardev.sources.first();
        if let Some(source) = source {
            self.extra(&source.extra, &format!("{element}/<source>"));
        }
        if chardev.protocol.is_some() {
            self.refuse(format!("{element}/<protocol>"), "only TCP chardevs have a protocol");
        }
        let path = source.and_then(|s| s.path.as_deref());
        let mut backend = match (chardev.kind, path) {
            (ChardevType::Pty, _) => format!("pty,id={id}"),
            (ChardevType::Null, _) => format!("null,id={id}"),
            (ChardevType::File, Some(path)) => {
                let mut value = format!("file,id={id},path={}", escape(path));
                if source.and_then(|s| s.append) == Some(OnOff::On) {
                    value.push_str(",append=on");
                }
                value
            }
            (ChardevType::Unix, Some(path)) => {
                let server = match source.and_then(|s| s.mode.as_deref()) {
                    Some("bind") => "server=on,wait=off",
                    None | Some("connect") => "server=off",
                    Some(other) => {
                        self.refuse(
                            format!("{element}/<source mode>"),
                            format!("unknown mode '{other}'"),
                        );
                        return None;
                    }
                };
                format!("socket,id={id},path={},{server}", escape(path))
            }
            (ChardevType::File | ChardevType::Unix, None) => {
                self.refuse(format!("{element}/<source path>"), "missing");
                return None;
            }
            (other, _) => {
                self.refuse(
                    element.to_owned(),
                    format!("chardev type '{}' is not supported yet", other.as_str()),
                );
                return None;
            }
        };
        if let Some((file, append)) = &chardev.log {
            backend.push_str(&format!(",logfile={}", escape(file)));
            if *append == Some(OnOff::On) {
                backend.push_str(",logappend=on");
            }
        }
        Some(backend)
    }

    fn inputs(&mut self) {
        for (index, input) in self.domain.devices.inputs.iter().enumerate() {
            let element = format!("<input type='{}'> {index}", input.kind.as_str());
            self.extra(&input.extra, &element);
            if input.source.is_some() {
                self.refuse(format!("{element}/<source>"), "not supported yet");
            }
            let model = match (input.kind, input.bus.as_deref()) {
                // The i8042 controller is part of both machines, even with -nodefaults.
                (InputType::Mouse | InputType::Keyboard, None | Some("ps2")) => {
                    if input.address.is_some() {
                        self.refuse(format!("{element}/<address>"), "PS/2 devices are fixed");
                    }
                    continue;
                }
                (InputType::Mouse, Some("virtio")) => "virtio-mouse-pci",
                (InputType::Keyboard, Some("virtio")) => "virtio-keyboard-pci",
                (InputType::Tablet, Some("virtio")) => "virtio-tablet-pci",
                _ => {
                    self.refuse(element, "only PS/2 and virtio input devices are supported");
                    continue;
                }
            };
            let id = self.device_id(input.alias.as_deref(), format!("input{index}"), &element);
            let mut device = format!("{model},id={id}");
            self.address(&mut device, input.address.as_ref(), &element);
            self.push("-device", device);
        }
    }

    fn graphics(&mut self) {
        let all = &self.domain.devices.graphics;
        let Some(graphics) = all.first() else {
            self.push("-display", "none");
            return;
        };
        self.push("-display", "none");
        if all.len() > 1 {
            self.refuse("<graphics>", "only one graphics console is supported");
        }
        let element = format!("<graphics type='{}'>", graphics.kind.as_str());
        if graphics.kind != GraphicsType::Vnc {
            self.refuse(element, "only VNC is supported");
            return;
        }
        self.extra(&graphics.extra, &element);
        if graphics.passwd.is_some() {
            self.refuse(format!("{element} passwd"), "VNC passwords are not supported yet");
        }
        if graphics.keymap.is_some() {
            self.refuse(format!("{element} keymap"), "keymaps are not supported");
        }
        if graphics.tls_port.is_some() || graphics.image_compression.is_some() {
            self.refuse(element.clone(), "SPICE settings on a VNC console");
        }
        if graphics.listens.len() > 1 {
            self.refuse(format!("{element}/<listen>"), "only one listen is supported");
        }
        let listen = graphics.listens.first();
        let kind = listen.map_or("address", |l| l.kind.as_str());
        let value = match kind {
            "socket" => {
                let path = listen
                    .and_then(|l| l.socket.clone())
                    .unwrap_or_else(|| self.paths.vnc_socket.to_string_lossy().into_owned());
                format!("unix:{}", escape(&path))
            }
            "none" => "none".to_owned(),
            "address" => {
                let address = listen
                    .and_then(|l| l.address.as_deref())
                    .or(graphics.listen.as_deref())
                    .unwrap_or("127.0.0.1");
                let host = match address {
                    "127.0.0.1" | "localhost" => "127.0.0.1",
                    "::1" => "[::1]",
                    other => {
                        self.refuse(
                            format!("{element}/<listen address>"),
                            format!(
                                "VNC without TLS or password may only listen on localhost, not '{other}'"
                            ),
                        );
                        return;
                    }
                };
                let auto = graphics.autoport == Some(domxml::model::YesNo::Yes)
                    || graphics.port.map_or(true, |port| port == -1);
                if auto {
                    format!("{host}:0,to=99")
                } else {
                    match graphics.port.map(|port| port - 5900) {
                        Some(display @ 0..=99) => format!("{host}:{display}"),
                        _ => {
                            self.refuse(
                                format!("{element} port"),
                                "ports 5900 to 5999 are supported",
                            );
                            return;
                        }
                    }
                }
            }
            other => {
                self.refuse(
                    format!("{element}/<listen type>"),
                    format!("listen type '{other}' is not supported"),
                );
                return;
            }
        };
        self.push("-vnc", value);
    }

    fn videos(&mut self) {
        let videos = &self.domain.devices.videos;
        if videos.len() > 1 {
            self.refuse("<video>", "only one video device is supported");
        }
        let Some(video) = videos.first() else {
            return;
        };
        let element = format!("<video type='{}'>", video.model.kind);
        self.extra(&video.extra, &element);
        self.extra(&video.model.extra, &format!("{element}/<model>"));
        let model = match video.model.kind.as_str() {
            "none" => return,
            "vga" => "VGA",
            "cirrus" => "cirrus-vga",
            "bochs" => "bochs-display",
            "virtio" => "virtio-vga",
            other => {
                self.refuse(element, format!("video model '{other}' is not supported"));
                return;
            }
        };
        if video.model.heads.is_some_and(|heads| heads != 1) {
            self.refuse(format!("{element} heads"), "only one head is supported");
        }
        if video.model.ram.is_some() || video.model.vgamem.is_some() {
            self.refuse(element.clone(), "ram and vgamem are QXL settings");
        }
        let id = self.device_id(video.alias.as_deref(), "video0".to_owned(), &element);
        let mut device = format!("{model},id={id}");
        if let Some(vram) = video.model.vram {
            if matches!(model, "VGA" | "cirrus-vga") && vram % 1024 == 0 && vram > 0 {
                device.push_str(&format!(",vgamem_mb={}", vram / 1024));
            } else {
                self.refuse(
                    format!("{element} vram"),
                    "vram is supported for vga and cirrus, in whole MiB",
                );
            }
        }
        self.address(&mut device, video.address.as_ref(), &element);
        self.push("-device", device);
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
fn disk_bus(disk: &Disk) -> Option<DiskBus> {
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

fn usb_suffix(index: u32) -> String {
    if index == 0 {
        String::new()
    } else {
        index.to_string()
    }
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
