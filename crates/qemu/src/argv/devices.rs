//! `<devices>` on the command line, except disks ([`super::disk`]): controllers, NICs, chardevs,
//! inputs, graphics, video, balloon and RNG.

use domxml::model::{
    Address, Chardev, ChardevType, Controller, Devices, DiskBus, GraphicsType, InputType,
    InterfaceType, OnOff, RngBackend,
};

use super::disk::disk_bus;
use super::{escape, is_name, Builder, Machine, FIRST_PASSED_FD};

/// Whether any device carries a `<boot order>`.
pub(super) fn any_boot_order(devices: &Devices) -> bool {
    devices.disks.iter().any(|d| d.boot_order.is_some())
        || devices.interfaces.iter().any(|i| i.boot_order.is_some())
        || devices.hostdevs.iter().any(|h| h.boot_order.is_some())
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
                self.refuse(
                    "<memballoon>/<stats>",
                    "balloon statistics are not supported yet",
                );
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
                device.push_str(&format!(
                    ",max-bytes={bytes},period={}",
                    period.unwrap_or(1000)
                ));
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
    pub(super) fn address(
        &mut self,
        device: &mut String,
        address: Option<&Address>,
        element: &str,
    ) {
        match address {
            None => {}
            Some(Address::Pci(pci)) => {
                let bus = if pci.bus == 0 {
                    Some(self.machine.pci_bus().to_owned())
                } else if self.is_root_port(u32::from(pci.bus)) {
                    Some(format!("pci.{}", pci.bus))
                } else {
                    None
                };
                let Some(bus) = bus.filter(|_| pci.domain == 0) else {
                    self.refuse(
                        format!("{element}/<address>"),
                        "only PCI domain 0, on bus 0 or a pcie-root-port, is supported",
                    );
                    return;
                };
                device.push_str(&format!(",bus={bus},addr={:#x}", pci.slot));
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
    pub(super) fn device_id(
        &mut self,
        alias: Option<&str>,
        fallback: String,
        element: &str,
    ) -> String {
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
        // PCI controllers first, by index, so every bus exists before a device names it.
        let mut ordered: Vec<&Controller> = controllers.iter().collect();
        ordered.sort_by_key(|c| (c.kind != "pci", if c.kind == "pci" { c.index } else { 0 }));
        for controller in ordered {
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
        // Likewise virtio-serial for virtio channels on controller 0.
        let declared = controllers
            .iter()
            .any(|c| c.kind == "virtio-serial" && c.index == 0);
        let needs = self.domain.devices.channels.iter().any(|channel| {
            channel.target.as_ref().and_then(|t| t.kind.as_deref()) == Some("virtio")
                && !matches!(&channel.address, Some(Address::VirtioSerial(a)) if a.controller != 0)
        });
        if needs && !declared {
            self.push("-device", "virtio-serial-pci,id=virtio-serial0");
        }
    }

    fn controller(&mut self, controller: &Controller, machine: Machine) {
        let element = format!(
            "<controller type='{}' index='{}'>",
            controller.kind, controller.index
        );
        self.extra(&controller.extra, &element);
        let index = controller.index;
        let model = controller.model.as_deref();
        if controller.driver.is_some() {
            self.refuse(format!("{element}/<driver>"), "not supported yet");
        }
        let root_port = controller.kind == "pci"
            && model == Some("pcie-root-port")
            && machine == Machine::Q35
            && index > 0
            && controller
                .model_name
                .as_deref()
                .map_or(true, |name| name == "pcie-root-port");
        if !root_port && (controller.target.is_some() || controller.model_name.is_some()) {
            self.refuse(format!("{element}/<target>"), "not supported yet");
        }
        let xhci = controller.kind == "usb"
            && (model == Some("qemu-xhci") || (model.is_none() && machine == Machine::Q35));
        if controller.ports.is_some() && !xhci {
            self.refuse(
                format!("{element} ports"),
                "only qemu-xhci takes a port count",
            );
        }
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
            ("pci", Some("pcie-root-port")) if root_port => {
                match root_port_target(controller.target.as_ref().map(|raw| raw.xml.as_str())) {
                    Some((chassis, port)) => Some(format!(
                        "pcie-root-port,port={port},chassis={chassis},id=pci.{index}"
                    )),
                    None => {
                        self.refuse(
                            format!("{element}/<target>"),
                            "a pcie-root-port takes only chassis and port",
                        );
                        return;
                    }
                }
            }
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
                if let (true, Some(ports)) = (xhci, controller.ports) {
                    device.push_str(&format!(",p2={ports},p3={ports}"));
                }
                self.address(&mut device, controller.address.as_ref(), &element);
                self.push("-device", device);
            }
            None => {
                // Where the built-in IDE (pc, 00:01.1) and AHCI (q35, 00:1f.2) sit; libvirt
                // writes that address into definitions.
                let fixed = match controller.kind.as_str() {
                    "ide" => Some((0x01, 1)),
                    "sata" => Some((0x1f, 2)),
                    _ => None,
                };
                let at_home = match (&controller.address, fixed) {
                    (None, _) => true,
                    (Some(Address::Pci(pci)), Some((slot, function))) => {
                        pci.domain == 0
                            && pci.bus == 0
                            && pci.slot == slot
                            && pci.function == function
                    }
                    _ => false,
                };
                if !at_home {
                    self.refuse(
                        format!("{element}/<address>"),
                        "built-in controllers cannot be moved",
                    );
                }
            }
        }
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
        if iface
            .link_state
            .as_deref()
            .is_some_and(|state| state != "up")
        {
            self.refuse(
                format!("{element}/<link>"),
                "only link state 'up' is supported",
            );
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
        let mut next_port = 1;
        for (index, channel) in devices.channels.iter().enumerate() {
            self.channel(channel, index, &mut next_port);
        }
    }

    /// A `<channel>` with a virtio target: a `virtserialport` on a virtio-serial controller.
    fn channel(&mut self, channel: &Chardev, index: usize, next_port: &mut u32) {
        let element = format!("<channel> {index}");
        self.extra(&channel.extra, &element);
        let target = channel.target.clone().unwrap_or_default();
        self.extra(&target.extra, &format!("{element}/<target>"));
        if target.kind.as_deref() != Some("virtio") {
            self.refuse(
                format!("{element}/<target type>"),
                "only virtio channels are supported",
            );
            return;
        }
        let Some(name) = target.name.as_deref().filter(|name| is_name(name)) else {
            self.refuse(
                format!("{element}/<target name>"),
                "a virtio channel needs a valid name",
            );
            return;
        };
        let (controller, bus, port) = match &channel.address {
            None => {
                let port = *next_port;
                *next_port += 1;
                (0, 0, port)
            }
            Some(Address::VirtioSerial(address)) => {
                *next_port = (*next_port).max(address.port.saturating_add(1));
                (address.controller, address.bus, address.port)
            }
            Some(_) => {
                self.refuse(
                    format!("{element}/<address>"),
                    "a channel sits on a virtio-serial address",
                );
                return;
            }
        };
        // Like libvirt, a unix channel without a path gets one of the guest's own: here
        // RUN/qemu/NAME/<target name>.sock (RuntimePaths::channel_socket), removed with the run
        // directory.
        let mut channel = channel.clone();
        let pathless = channel
            .sources
            .first()
            .and_then(|s| s.path.as_ref())
            .is_none();
        if channel.kind == ChardevType::Unix && pathless {
            let path = self.paths.channel_socket(name);
            if path.as_os_str().len() > crate::paths::UNIX_PATH_MAX {
                self.refuse(
                    format!("{element}/<source path>"),
                    "the generated socket path is too long",
                );
                return;
            }
            let mut source = channel.sources.first().cloned().unwrap_or_default();
            source.path = Some(path.to_string_lossy().into_owned());
            source.mode = Some("bind".to_owned());
            channel.sources = vec![source];
        }
        let id = format!("charchannel{index}");
        let Some(backend) = self.chardev_backend(&channel, &id, &element) else {
            return;
        };
        self.push("-chardev", backend);
        let device_id = self.device_id(
            channel.alias.as_deref(),
            format!("channel{index}"),
            &element,
        );
        self.push(
            "-device",
            format!(
                "virtserialport,bus=virtio-serial{controller}.{bus},nr={port},chardev={id},id={device_id},name={name}"
            ),
        );
    }

    /// Whether controller `index` is a pcie-root-port, which makes `pci.INDEX` a bus.
    fn is_root_port(&self, index: u32) -> bool {
        self.machine == Machine::Q35
            && self.domain.devices.controllers.iter().any(|c| {
                c.kind == "pci" && c.index == index && c.model.as_deref() == Some("pcie-root-port")
            })
    }

    fn has_usb_controller(&self) -> bool {
        let controllers = &self.domain.devices.controllers;
        controllers
            .iter()
            .any(|c| c.kind == "usb" && c.index == 0 && c.model.as_deref() != Some("none"))
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
            self.refuse(
                format!("{element}/<address>"),
                "not supported for ISA serial ports",
            );
        }
        let id = format!("charserial{port}");
        let backend = if chardev.kind == ChardevType::Pty {
            self.console_backend(chardev, port, &id, element)
        } else {
            self.chardev_backend(chardev, &id, element)
        };
        let Some(backend) = backend else {
            return;
        };
        self.push("-chardev", backend);
        let device_id = self.device_id(chardev.alias.as_deref(), format!("serial{port}"), element);
        self.push(
            "-device",
            format!("isa-serial,chardev={id},id={device_id},index={port}"),
        );
    }

    /// A `pty` serial port: QEMU listens on [`RuntimePaths::console_socket`] for the daemon's
    /// console broker instead of opening a pty, which the jail (no `/dev/pts`) would refuse.
    /// Output nobody is connected to is dropped, as a pty nobody reads drops it; a `<log>` still
    /// gets everything.
    ///
    /// [`RuntimePaths::console_socket`]: crate::paths::RuntimePaths::console_socket
    fn console_backend(
        &mut self,
        chardev: &Chardev,
        port: u32,
        id: &str,
        element: &str,
    ) -> Option<String> {
        let path = self.paths.console_socket(port);
        if path.as_os_str().len() > crate::paths::UNIX_PATH_MAX {
            self.refuse(element.to_owned(), "the console socket path is too long");
            return None;
        }
        // A `<source path>` (a live XML's /dev/pts/N fed back in) is ignored, as libvirt does:
        // the pty is the host's to choose.
        for source in &chardev.sources {
            self.extra(&source.extra, &format!("{element}/<source>"));
        }
        let mut console = Chardev::new(ChardevType::Unix);
        console.sources = vec![domxml::model::ChardevSource {
            mode: Some("bind".to_owned()),
            path: Some(path.to_string_lossy().into_owned()),
            ..Default::default()
        }];
        console.log = chardev.log.clone();
        console.protocol = chardev.protocol.clone();
        self.chardev_backend(&console, id, element)
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
            self.refuse(
                format!("{element}/<protocol>"),
                "only TCP chardevs have a protocol",
            );
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
                (kind, Some("usb")) => {
                    if !self.has_usb_controller() {
                        self.refuse(element, "a USB input needs a USB controller");
                        continue;
                    }
                    let port = match &input.address {
                        None => String::new(),
                        Some(Address::Usb(usb))
                            if usb.bus == 0
                                && usb.port.as_deref().map_or(true, |port| {
                                    !port.is_empty()
                                        && port.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                                }) =>
                        {
                            usb.port
                                .as_deref()
                                .map_or_else(String::new, |port| format!(",port={port}"))
                        }
                        Some(_) => {
                            self.refuse(
                                format!("{element}/<address>"),
                                "only ports on USB bus 0 are supported",
                            );
                            String::new()
                        }
                    };
                    let model = match kind {
                        InputType::Tablet => "usb-tablet",
                        InputType::Mouse => "usb-mouse",
                        InputType::Keyboard => "usb-kbd",
                        _ => {
                            self.refuse(element, "only tablets, mice and keyboards on USB");
                            continue;
                        }
                    };
                    let id =
                        self.device_id(input.alias.as_deref(), format!("input{index}"), &element);
                    self.push("-device", format!("{model},id={id},bus=usb.0{port}"));
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
            self.refuse(
                format!("{element} passwd"),
                "VNC passwords are not supported yet",
            );
        }
        if graphics.keymap.is_some() {
            self.refuse(format!("{element} keymap"), "keymaps are not supported");
        }
        if graphics.tls_port.is_some() || graphics.image_compression.is_some() {
            self.refuse(element.clone(), "SPICE settings on a VNC console");
        }
        if graphics.listens.len() > 1 {
            self.refuse(
                format!("{element}/<listen>"),
                "only one listen is supported",
            );
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

/// `(chassis, port)` from a pcie-root-port's `<target chassis='…' port='…'/>`, when those are
/// its only attributes and both are numbers (decimal or `0x` hex).
fn root_port_target(xml: Option<&str>) -> Option<(u32, u32)> {
    let xml = xml?.trim();
    let body = xml.strip_prefix("<target")?.trim_end().strip_suffix("/>")?;
    let mut chassis = None;
    let mut port = None;
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let (value, tail) = after[1..].split_once(quote)?;
        let number = match value.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => value.parse().ok()?,
        };
        match name.trim() {
            "chassis" if chassis.is_none() => chassis = Some(number),
            "port" if port.is_none() => port = Some(number),
            _ => return None,
        }
        rest = tail.trim_start();
    }
    Some((chassis?, port?))
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
    use super::root_port_target;

    #[test]
    fn root_port_targets_take_chassis_and_port_only() {
        assert_eq!(
            root_port_target(Some("<target chassis='1' port='0x10'/>")),
            Some((1, 16))
        );
        assert_eq!(
            root_port_target(Some("<target port=\"8\" chassis=\"2\" />")),
            Some((2, 8))
        );
        assert_eq!(root_port_target(Some("<target chassis='1'/>")), None);
        assert_eq!(
            root_port_target(Some("<target chassis='1' port='1' hotplug='off'/>")),
            None
        );
        assert_eq!(
            root_port_target(Some("<target chassis='x' port='1'/>")),
            None
        );
        assert_eq!(root_port_target(None), None);
    }
}
