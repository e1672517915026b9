//! Property: for generated models `d`, `parse(format(d)) == d` and formatting is stable; for
//! arbitrary and mutated text, parsing never panics and whatever parses round-trips.

#[cfg(test)]
mod tests {
    use domxml::model::{
        Address, BackingStore, BootDevice, BootMenu, Chardev, ChardevSource, ChardevTarget,
        ChardevType, Clock, ClockOffset, Controller, Cpu, CpuFeature, CpuMode, CpuModel,
        CpuTopology, DeviceSeclabel, Disk, DiskBus, DiskCache, DiskDevice, DiskDriver, DiskIo,
        DiskSource, DiskTarget, DiskType, Domain, DomainType, DriveAddress, Extra, Features, Genid,
        Graphics, GraphicsListen, GraphicsType, Hostdev, HostdevSource, Input, InputType,
        Interface, InterfaceSource, InterfaceType, LifecycleAction, Loader, MacAddr, MaxMemory,
        Memballoon, MemorySize, Nvram, OnOff, Os, PciAddress, RawXml, Rng, RngBackend, Seclabel,
        SeclabelType, SourceHost, Timer, Tpm, TpmBackend, TpmBackendType, UsbAddress, Uuid, Vcpu,
        VcpuPlacement, Video, VideoModel, VirtioSerialAddress, YesNo,
    };
    use domxml::{format, parse, FormatOptions, ParseOptions};
    use proptest::collection::vec;
    use proptest::option::of;
    use proptest::prelude::*;

    const SECURE: FormatOptions = FormatOptions {
        include_secrets: true,
        migratable: false,
    };

    /// Any text XML can carry, including characters that need escaping.
    fn text() -> impl Strategy<Value = String> {
        "[\\PC\t\n\r'\"<>&]{0,12}"
    }

    /// Non-empty text (for values libvirt treats an empty string as absent).
    fn word() -> impl Strategy<Value = String> {
        "[\\PC'\"<>&]{1,12}"
    }

    fn path() -> impl Strategy<Value = String> {
        "/[a-z0-9_./ -]{1,30}"
    }

    fn yes_no() -> impl Strategy<Value = YesNo> {
        prop_oneof![Just(YesNo::Yes), Just(YesNo::No)]
    }

    fn on_off() -> impl Strategy<Value = OnOff> {
        prop_oneof![Just(OnOff::On), Just(OnOff::Off)]
    }

    fn address() -> impl Strategy<Value = Address> {
        prop_oneof![
            (any::<u16>(), any::<u8>(), 0u8..32, 0u8..8, of(on_off())).prop_map(
                |(domain, bus, slot, function, multifunction)| Address::Pci(PciAddress {
                    domain,
                    bus,
                    slot,
                    function,
                    multifunction,
                })
            ),
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
                |(controller, bus, target, unit)| Address::Drive(DriveAddress {
                    controller,
                    bus,
                    target,
                    unit,
                })
            ),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(controller, bus, port)| {
                Address::VirtioSerial(VirtioSerialAddress {
                    controller,
                    bus,
                    port,
                })
            }),
            (any::<u32>(), of("[1-9](\\.[1-9]){0,2}"))
                .prop_map(|(bus, port)| Address::Usb(UsbAddress { bus, port })),
            Just(Address::Other {
                kind: "ccw".to_owned(),
                attributes: vec![
                    ("cssid".to_owned(), "0xfe".to_owned()),
                    ("devno".to_owned(), "0x0001".to_owned()),
                ],
            }),
        ]
    }

    const MODELS: [&str; 3] = ["selinux", "dac", "landlock"];

    /// Domain-level seclabels valid in inactive XML: at most one per model.
    fn seclabels() -> impl Strategy<Value = Vec<Seclabel>> {
        let one = (0usize..3, word(), any::<bool>(), of(word())).prop_map(
            |(kind, label, relabel, baselabel)| match kind {
                0 => {
                    let mut l = Seclabel::new(SeclabelType::Dynamic, None);
                    l.baselabel = baselabel;
                    l
                }
                1 => {
                    let mut l = Seclabel::new(SeclabelType::Static, None);
                    l.relabel = relabel;
                    l.label = Some(label);
                    l
                }
                _ => Seclabel::new(SeclabelType::None, None),
            },
        );
        (vec(one, 0..=3), Just(())).prop_map(|(mut labels, ())| {
            for (label, model) in labels.iter_mut().zip(MODELS) {
                label.model = Some(model.to_owned());
            }
            labels
        })
    }

    fn device_seclabels() -> impl Strategy<Value = Vec<DeviceSeclabel>> {
        vec((any::<bool>(), of(word())), 0..=2).prop_map(|labels| {
            labels
                .into_iter()
                .zip(MODELS)
                .map(|((relabel, label), model)| DeviceSeclabel {
                    model: Some(model.to_owned()),
                    relabel,
                    labelskip: false,
                    label: if relabel { label } else { None },
                })
                .collect()
        })
    }

    fn disk_type() -> impl Strategy<Value = DiskType> {
        prop_oneof![
            Just(DiskType::File),
            Just(DiskType::Block),
            Just(DiskType::Dir),
            Just(DiskType::Network),
            Just(DiskType::Volume),
        ]
    }

    fn disk_source(kind: DiskType) -> impl Strategy<Value = DiskSource> {
        (
            path(),
            of("(nbd|rbd|iscsi|http)"),
            of(word()),
            of(word()),
            of("(mandatory|requisite|optional)"),
            vec(
                (of(word()), of("[0-9]{1,5}"), of("(tcp|unix)"), of(path())),
                0..3,
            ),
            device_seclabels(),
        )
            .prop_map(
                move |(path, protocol, name, volume, startup_policy, hosts, seclabels)| {
                    let network = kind == DiskType::Network;
                    let pool_volume = kind == DiskType::Volume;
                    DiskSource {
                        path: (!network && !pool_volume).then_some(path),
                        protocol: protocol.filter(|_| network),
                        name: name.filter(|_| network),
                        pool: volume.clone().filter(|_| pool_volume),
                        volume: volume.filter(|_| pool_volume),
                        startup_policy,
                        hosts: hosts
                            .into_iter()
                            .map(|(name, port, transport, socket)| SourceHost {
                                name,
                                port,
                                transport,
                                socket,
                            })
                            .collect(),
                        seclabels,
                        extra: Extra::default(),
                    }
                },
            )
    }

    fn backing_chain(depth: u32) -> BoxedStrategy<Option<BackingStore>> {
        if depth == 0 {
            return Just(None).boxed();
        }
        prop_oneof![
            Just(None),
            disk_type()
                .prop_flat_map(move |kind| {
                    (
                        Just(kind),
                        of("(raw|qcow2)"),
                        disk_source(kind),
                        backing_chain(depth - 1),
                    )
                })
                .prop_map(|(kind, format, source, next)| Some(BackingStore {
                    kind,
                    format,
                    source,
                    backing_store: next.map(Box::new),
                    extra: Extra::default(),
                })),
        ]
        .boxed()
    }

    fn disk(index: usize) -> impl Strategy<Value = Disk> {
        let driver = (
            of("qemu"),
            of("(raw|qcow2)"),
            of(prop_oneof![
                Just(DiskCache::None),
                Just(DiskCache::Writeback),
                Just(DiskCache::Unsafe)
            ]),
            of(prop_oneof![Just(DiskIo::Native), Just(DiskIo::IoUring)]),
            of("(unmap|ignore)"),
        )
            .prop_map(|(name, format, cache, io, discard)| DiskDriver {
                name,
                format,
                cache,
                io,
                discard,
                detect_zeroes: None,
                extra: Extra::default(),
            });
        let device = prop_oneof![
            Just(DiskDevice::Disk),
            Just(DiskDevice::Cdrom),
            Just(DiskDevice::Floppy),
            Just(DiskDevice::Lun)
        ];
        let bus = of(prop_oneof![
            Just(DiskBus::Virtio),
            Just(DiskBus::Sata),
            Just(DiskBus::Scsi),
            Just(DiskBus::Ide)
        ]);
        disk_type()
            .prop_flat_map(move |kind| {
                (
                    (Just(kind), device.clone(), of(driver.clone())),
                    of(disk_source(kind)),
                    backing_chain(3),
                    (bus.clone(), of("(open|closed)"), any::<[bool; 3]>()),
                    (of(word()), of(1u32..10), of(word()), of(address())),
                )
            })
            .prop_map(
                move |(
                    (kind, device, driver),
                    source,
                    backing_store,
                    (bus, tray, flags),
                    (serial, boot_order, alias, address),
                )| Disk {
                    kind,
                    device,
                    driver,
                    source,
                    backing_store,
                    target: DiskTarget {
                        dev: format!("vd{index}"),
                        bus,
                        tray,
                        removable: None,
                        extra: Extra::default(),
                    },
                    readonly: flags[0],
                    shareable: flags[1],
                    transient: flags[2],
                    serial,
                    wwn: None,
                    boot_order,
                    alias,
                    address,
                    extra: Extra::default(),
                },
            )
    }

    fn interface() -> impl Strategy<Value = Interface> {
        (
            prop_oneof![
                Just(InterfaceType::Network),
                Just(InterfaceType::Bridge),
                Just(InterfaceType::User),
                Just(InterfaceType::Ethernet),
                Just(InterfaceType::Direct),
            ],
            of(any::<[u8; 6]>().prop_map(MacAddr)),
            of((of(word()), of(word()), of(word()), of(word()))),
            (
                of(word()),
                of("(virtio|e1000e)"),
                of("(up|down)"),
                of(68u32..65536),
            ),
            (of(1u32..10), of(word()), of(address())),
        )
            .prop_map(
                |(kind, mac, source, (target_dev, model, link_state, mtu), info)| Interface {
                    kind,
                    mac,
                    source: source.map(|(network, bridge, dev, mode)| InterfaceSource {
                        network,
                        portgroup: None,
                        bridge,
                        dev,
                        mode,
                        extra: Extra::default(),
                    }),
                    target_dev,
                    model,
                    driver: None,
                    link_state,
                    mtu,
                    port_isolated: None,
                    boot_order: info.0,
                    alias: info.1,
                    address: info.2,
                    extra: Extra::default(),
                },
            )
    }

    fn chardev() -> impl Strategy<Value = Chardev> {
        let kind = prop_oneof![
            Just(ChardevType::Pty),
            Just(ChardevType::File),
            Just(ChardevType::Unix),
            Just(ChardevType::Pipe),
            Just(ChardevType::Dev),
            Just(ChardevType::Tcp),
            Just(ChardevType::Udp),
            Just(ChardevType::Null),
            Just(ChardevType::Spicevmc),
        ];
        let source = (
            of("(bind|connect)"),
            of(path()),
            of(word()),
            of("[0-9]{1,5}"),
            of(on_off()),
            device_seclabels(),
        )
            .prop_map(
                |(mode, path, host, service, append, seclabels)| ChardevSource {
                    mode,
                    path,
                    host,
                    service,
                    append,
                    channel: None,
                    seclabels,
                    extra: Extra::default(),
                },
            );
        let target = (
            of("(virtio|isa-serial|serial)"),
            of(0u32..4),
            of(word()),
            of(word()),
        )
            .prop_map(|(kind, port, name, model)| ChardevTarget {
                kind,
                port,
                name,
                state: None,
                address: None,
                model,
                extra: Extra::default(),
            });
        (
            kind,
            of(path()),
            vec(source, 0..3),
            of("(raw|telnet)"),
            of((path(), of(on_off()))),
            of(target),
            of(word()),
            of(address()),
        )
            .prop_map(
                |(kind, tty, sources, protocol, log, target, alias, address)| Chardev {
                    kind,
                    tty,
                    sources,
                    protocol,
                    log,
                    target,
                    alias,
                    address,
                    extra: Extra::default(),
                },
            )
    }

    fn other_devices() -> impl Strategy<Value = domxml::model::Devices> {
        let controller = (
            "(usb|pci|sata|scsi)",
            0u32..8,
            of(word()),
            of(1u32..16),
            of(word()),
        )
            .prop_map(|(kind, index, model, ports, model_name)| Controller {
                kind,
                index,
                model,
                ports,
                model_name,
                target: None,
                driver: None,
                alias: None,
                address: None,
                extra: Extra::default(),
            });
        let input = (
            prop_oneof![
                Just(InputType::Tablet),
                Just(InputType::Mouse),
                Just(InputType::Keyboard),
                Just(InputType::Passthrough),
            ],
            of("(usb|ps2|virtio)"),
            of(path()),
        )
            .prop_map(|(kind, bus, source)| Input {
                kind,
                bus,
                source,
                alias: None,
                address: None,
                extra: Extra::default(),
            });
        let graphics = (
            prop_oneof![Just(GraphicsType::Vnc), Just(GraphicsType::Spice)],
            (of(-1i32..65536), of(-1i32..65536), of(yes_no())),
            (of(word()), of(text()), of(word())),
            vec((word(), of(word())), 0..2),
            of("(off|auto_glz)"),
        )
            .prop_map(
                |(kind, (port, tls_port, autoport), (listen, passwd, keymap), listens, image)| {
                    Graphics {
                        kind,
                        port,
                        tls_port,
                        autoport,
                        listen,
                        passwd,
                        keymap,
                        listens: listens
                            .into_iter()
                            .map(|(kind, address)| GraphicsListen {
                                kind,
                                address,
                                network: None,
                                socket: None,
                            })
                            .collect(),
                        image_compression: image,
                        gl: None,
                        extra: Extra::default(),
                    }
                },
            );
        let video = (
            "(vga|qxl|virtio)",
            of(1u32..1 << 20),
            of(1u32..4),
            of(yes_no()),
        )
            .prop_map(|(kind, vram, heads, primary)| Video {
                model: VideoModel {
                    kind,
                    ram: None,
                    vram,
                    vgamem: None,
                    heads,
                    primary,
                    acceleration: None,
                    extra: Extra::default(),
                },
                alias: None,
                address: None,
                extra: Extra::default(),
            });
        let hostdev = prop_oneof![
            (of(any::<u16>()), of(any::<u16>()), of(any::<(u32, u32)>())).prop_map(
                |(vendor, product, address)| HostdevSource::Usb {
                    vendor,
                    product,
                    address
                }
            ),
            (any::<u16>(), any::<u8>(), 0u8..32, 0u8..8).prop_map(
                |(domain, bus, slot, function)| HostdevSource::Pci {
                    address: PciAddress {
                        domain,
                        bus,
                        slot,
                        function,
                        multifunction: None,
                    },
                }
            ),
        ]
        .prop_map(|source| Hostdev {
            managed: Some(YesNo::Yes),
            source,
            source_extra: Extra::default(),
            boot_order: None,
            alias: None,
            address: None,
            extra: Extra::default(),
        });
        let rng = (
            of((1u32..4096, of(1u32..10_000))),
            prop_oneof![
                of(path()).prop_map(RngBackend::Random),
                Just(RngBackend::Builtin)
            ],
        )
            .prop_map(|(rate, backend)| Rng {
                model: "virtio".to_owned(),
                rate,
                backend,
                alias: None,
                address: None,
                extra: Extra::default(),
            });
        let tpm = (
            of("(tpm-tis|tpm-crb)"),
            prop_oneof![
                Just(TpmBackendType::Emulator),
                Just(TpmBackendType::Passthrough)
            ],
            of(path()),
        )
            .prop_map(|(model, kind, device_path)| Tpm {
                model,
                backend: TpmBackend {
                    kind,
                    version: Some("2.0".to_owned()),
                    device_path,
                    extra: Extra::default(),
                },
                alias: None,
                address: None,
                extra: Extra::default(),
            });
        let balloon = ("(virtio|none)", of(on_off()), of(1u32..60)).prop_map(
            |(model, autodeflate, stats_period)| Memballoon {
                model,
                autodeflate,
                stats_period,
                alias: None,
                address: None,
                extra: Extra::default(),
            },
        );
        (
            (of(path()), vec(controller, 0..3), vec(input, 0..3)),
            (vec(graphics, 0..2), vec(video, 0..2), vec(hostdev, 0..2)),
            (of(balloon), vec(rng, 0..2), vec(tpm, 0..2)),
        )
            .prop_map(
                |(
                    (emulator, controllers, inputs),
                    (graphics, videos, hostdevs),
                    (memballoon, rngs, tpms),
                )| domxml::model::Devices {
                    emulator,
                    controllers,
                    inputs,
                    graphics,
                    videos,
                    hostdevs,
                    memballoon,
                    rngs,
                    tpms,
                    ..Default::default()
                },
            )
    }

    fn os() -> impl Strategy<Value = Os> {
        let boot = vec(
            prop_oneof![
                Just(BootDevice::Hd),
                Just(BootDevice::Cdrom),
                Just(BootDevice::Network)
            ],
            0..3,
        );
        (
            (of("(efi|bios)"), of("(x86_64|aarch64)"), of(word())),
            (
                of((of(path()), of(yes_no()), of("(pflash|rom)"))),
                of((of(path()), of(path()))),
            ),
            (of(path()), of(path()), of(text()), of(path())),
            (boot, of((yes_no(), of(0u32..10_000))), of("(sysinfo|host)")),
        )
            .prop_map(
                |(
                    (firmware, arch, machine),
                    (loader, nvram),
                    (kernel, initrd, cmdline, dtb),
                    (boot, bootmenu, smbios),
                )| Os {
                    firmware,
                    arch,
                    machine,
                    firmware_features: None,
                    loader: loader.map(|(path, readonly, kind)| Loader {
                        path,
                        readonly,
                        secure: None,
                        kind,
                        extra: Extra::default(),
                    }),
                    nvram: nvram.map(|(path, template)| Nvram {
                        path,
                        template,
                        extra: Extra::default(),
                    }),
                    kernel,
                    initrd,
                    cmdline,
                    dtb,
                    boot,
                    bootmenu: bootmenu.map(|(enable, timeout)| BootMenu { enable, timeout }),
                    smbios,
                    extra: Extra::default(),
                },
            )
    }

    fn features() -> impl Strategy<Value = Features> {
        (
            any::<[bool; 6]>(),
            of(on_off()),
            of(on_off()),
            of(on_off()),
            any::<bool>(),
        )
            .prop_map(|(flags, pvspinlock, vmport, smm, hyperv)| Features {
                acpi: flags[0],
                apic: flags[1],
                pae: flags[2],
                hap: flags[3],
                viridian: flags[4],
                privnet: flags[5],
                hyperv: hyperv.then(|| RawXml {
                    name: "hyperv".to_owned(),
                    xml: "<hyperv mode='custom'><relaxed state='on'/></hyperv>".to_owned(),
                }),
                pvspinlock,
                vmport,
                smm,
                ..Features::default()
            })
    }

    fn cpu() -> impl Strategy<Value = Cpu> {
        (
            of(prop_oneof![
                Just(CpuMode::Custom),
                Just(CpuMode::HostModel),
                Just(CpuMode::HostPassthrough)
            ]),
            of("(exact|minimum)"),
            of((word(), of("(allow|forbid)"))),
            of((1u32..4, of(1u32..4), 1u32..16, 1u32..4)),
            vec((of("(require|disable)"), "[a-z0-9_]{1,8}"), 0..3),
        )
            .prop_map(|(mode, match_policy, model, topology, features)| Cpu {
                mode,
                match_policy,
                check: None,
                migratable: None,
                model: model.map(|(name, fallback)| CpuModel { name, fallback }),
                vendor: None,
                cache: None,
                topology: topology.map(|(sockets, dies, cores, threads)| CpuTopology {
                    sockets,
                    dies,
                    cores,
                    threads,
                }),
                features: features
                    .into_iter()
                    .map(|(policy, name)| CpuFeature { policy, name })
                    .collect(),
                numa: None,
                extra: Extra::default(),
            })
    }

    fn clock() -> impl Strategy<Value = Clock> {
        (
            prop_oneof![
                Just(ClockOffset::Utc),
                Just(ClockOffset::Localtime),
                Just(ClockOffset::Timezone)
            ],
            of(word()),
            vec(
                ("(rtc|pit|hpet)", of("(catchup|delay)"), of(yes_no())),
                0..3,
            ),
        )
            .prop_map(|(offset, timezone, timers)| Clock {
                offset,
                timezone,
                adjustment: None,
                basis: None,
                timers: timers
                    .into_iter()
                    .map(|(name, tickpolicy, present)| Timer {
                        name,
                        tickpolicy,
                        present,
                        extra: Extra::default(),
                    })
                    .collect(),
                extra: Extra::default(),
            })
    }

    fn lifecycle() -> impl Strategy<Value = LifecycleAction> {
        prop_oneof![
            Just(LifecycleAction::Destroy),
            Just(LifecycleAction::Restart),
            Just(LifecycleAction::Preserve),
            Just(LifecycleAction::CoredumpRestart),
        ]
    }

    fn domain() -> impl Strategy<Value = Domain> {
        let head = (
            prop_oneof![Just(DomainType::Kvm), Just(DomainType::Qemu)],
            text(),
            any::<[u8; 16]>(),
            of(prop_oneof![
                Just(Genid::Auto),
                any::<[u8; 16]>().prop_map(|b| Genid::Fixed(Uuid::from_bytes(b)))
            ]),
            (of(text()), of(text()), of(any::<u32>())),
            of(prop_oneof![
                Just(String::new()),
                Just("\n    <m:x xmlns:m='urn:m'>v</m:x>\n  ".to_owned())
            ]),
        );
        let sizes = (
            1u64..1 << 40,
            any::<u64>(),
            of((1u64..1 << 41, of(1u32..64))),
            (
                1u32..256,
                of(any::<u32>()),
                of("[0-9,-]{1,8}"),
                any::<bool>(),
            ),
        );
        let devices = (
            (0usize..4).prop_flat_map(|n| (0..n).map(disk).collect::<Vec<_>>()),
            vec(interface(), 0..3),
            (
                vec(chardev(), 0..2),
                vec(chardev(), 0..2),
                vec(chardev(), 0..2),
            ),
            other_devices(),
        );
        (
            head,
            sizes,
            (os(), of(features()), of(cpu()), of(clock())),
            (lifecycle(), lifecycle(), lifecycle()),
            devices,
            seclabels(),
        )
            .prop_map(
                |(
                    (kind, name, uuid, genid, (title, description, id), metadata),
                    (memory, current, max, (vcpus, current_vcpus, cpuset, auto)),
                    (os, features, cpu, clock),
                    (on_poweroff, on_reboot, on_crash),
                    (disks, interfaces, (serials, consoles, channels), mut devices),
                    seclabels,
                )| {
                    let mut domain = Domain::new(kind, name, Uuid::from_bytes(uuid), memory);
                    domain.id = id;
                    domain.genid = genid;
                    domain.title = title;
                    domain.description = description;
                    domain.metadata = metadata;
                    domain.current_memory = MemorySize::from_kib(current % (memory + 1));
                    domain.max_memory = max.map(|(kib, slots)| MaxMemory {
                        size: MemorySize::from_kib(kib),
                        slots,
                    });
                    domain.vcpu = Vcpu {
                        count: vcpus,
                        placement: if auto {
                            VcpuPlacement::Auto
                        } else {
                            VcpuPlacement::Static
                        },
                        cpuset,
                        current: current_vcpus,
                        extra: Extra::default(),
                    };
                    domain.os = os;
                    domain.features = features;
                    domain.cpu = cpu;
                    domain.clock = clock;
                    domain.on_poweroff = on_poweroff;
                    domain.on_reboot = on_reboot;
                    domain.on_crash = on_crash;
                    devices.disks = disks;
                    devices.interfaces = interfaces;
                    devices.serials = serials;
                    devices.consoles = consoles;
                    devices.channels = channels;
                    domain.devices = devices;
                    domain.seclabels = seclabels;
                    domain
                },
            )
    }

    /// The generated models nest deeply; run the cases on a thread with room for them.
    fn run_with_big_stack(test: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(test)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn parse_of_format_is_identity() {
        run_with_big_stack(|| {
            let config = ProptestConfig::with_cases(256);
            let mut runner = proptest::test_runner::TestRunner::new(config);
            let result = runner.run(&domain().boxed(), |domain| {
                let text = format(&domain, &SECURE);
                let parsed = parse(&text, &ParseOptions::default())
                    .map_err(|err| TestCaseError::fail(format!("{err}\n{text}")))?;
                prop_assert_eq!(&parsed, &domain, "{}", text);
                prop_assert_eq!(format(&parsed, &SECURE), text.clone());
                // Everything generated is known, so validate mode accepts it too.
                let strict = ParseOptions {
                    strict: true,
                    ..ParseOptions::default()
                };
                prop_assert!(parse(&text, &strict).is_ok());
                Ok(())
            });
            if let Err(err) = result {
                panic!("{err}");
            }
        });
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(input in "\\PC{0,300}") {
            let _ = parse(&input, &ParseOptions::default());
        }

        #[test]
        fn mutated_definitions_never_panic_and_round_trip(
            cut in 0usize..4000,
            insert in "[<>/='\"a-z &;!\\[\\]-]{0,6}",
            strict in any::<bool>(),
        ) {
            let base = include_str!("corpus/03-virt-install-q35.xml");
            let mut cut = cut.min(base.len());
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            let input = format!("{}{}{}", &base[..cut], insert, &base[cut..]);
            let options = ParseOptions { strict, ..ParseOptions::default() };
            if let Ok(domain) = parse(&input, &options) {
                let _ = domxml::validate(&domain, &domxml::ValidateOptions::default());
                let text = format(&domain, &SECURE);
                let again = parse(&text, &options)
                    .map_err(|err| TestCaseError::fail(format!("{err}\n{text}")))?;
                prop_assert_eq!(again, domain);
            }
        }
    }
}
