//! The corpus: realistic definitions that must parse, validate and round-trip, and broken ones
//! that must fail with the expected, positioned error.
//!
//! Files in `tests/invalid` start with a comment that states the expectation:
//! `expect LINE: TEXT` (parse error on that line whose message contains TEXT),
//! `expect-strict LINE: TEXT` (the same, only in validate mode; default mode must accept it) or
//! `expect-validate: TEXT` (parses, then `validate` reports TEXT).

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use domxml::model::{DiskType, SeclabelType};
    use domxml::{
        format, parse, validate, Domain, FormatOptions, ParseErrorKind, ParseOptions,
        ValidateOptions,
    };

    /// Valid files that carry elements or attributes the model keeps verbatim as unknown.
    const NEEDS_LENIENT: [&str; 2] = ["24-network-disks.xml", "28-metadata-qemu-namespace.xml"];

    fn files(dir: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(dir);
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
            .collect();
        files.sort();
        files
    }

    fn options_for(path: &Path, strict: bool) -> ParseOptions {
        let name = path.file_name().unwrap().to_string_lossy();
        ParseOptions {
            strict,
            live: name.contains("live"),
            ..ParseOptions::default()
        }
    }

    fn read(name: &str) -> (String, Domain) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name);
        let xml = fs::read_to_string(&path).unwrap();
        let domain = parse(&xml, &options_for(&path, false)).unwrap();
        (xml, domain)
    }

    #[test]
    fn corpus_has_at_least_thirty_definitions() {
        assert!(files("corpus").len() >= 30);
    }

    #[test]
    fn every_corpus_file_parses_validates_and_round_trips() {
        let secure = FormatOptions {
            include_secrets: true,
            ..FormatOptions::default()
        };
        for path in files("corpus") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let xml = fs::read_to_string(&path).unwrap();
            let options = options_for(&path, false);
            let domain = parse(&xml, &options).unwrap_or_else(|err| panic!("{name}: {err}"));
            let validate_options = ValidateOptions {
                live: options.live,
                ..ValidateOptions::default()
            };
            validate(&domain, &validate_options).unwrap_or_else(|err| panic!("{name}: {err}"));

            let text = format(&domain, &secure);
            let again = parse(&text, &options).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(
                again, domain,
                "{name}: parse∘format changed the model:\n{text}"
            );
            assert_eq!(
                format(&again, &secure),
                text,
                "{name}: formatting is not stable"
            );

            let strict = parse(&xml, &options_for(&path, true));
            if NEEDS_LENIENT.contains(&name.as_str()) {
                let err = strict.expect_err(&name);
                assert!(
                    matches!(
                        err.kind,
                        ParseErrorKind::UnknownElement { .. }
                            | ParseErrorKind::UnknownAttribute { .. }
                    ),
                    "{name}: {err}"
                );
            } else {
                assert_eq!(
                    strict.unwrap_or_else(|err| panic!("{name}: {err}")).name,
                    domain.name
                );
                parse(&text, &options_for(&path, true))
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
            }
        }
    }

    #[test]
    fn virt_install_output_formats_back_byte_for_byte() {
        let (xml, domain) = read("03-virt-install-q35.xml");
        assert_eq!(format(&domain, &FormatOptions::default()), xml);
        let (xml, domain) = read("29-libvirt-docs-example.xml");
        assert_eq!(format(&domain, &FormatOptions::default()), xml);
    }

    #[test]
    fn every_invalid_file_fails_where_and_how_expected() {
        for path in files("invalid") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let xml = fs::read_to_string(&path).unwrap();
            let header = xml
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("<!-- "))
                .and_then(|line| line.strip_suffix(" -->"))
                .unwrap_or_else(|| panic!("{name}: no expectation header"));
            let (mode, rest) = header.split_once(' ').unwrap();
            match mode {
                "expect" | "expect-strict" => {
                    let (line, text) = rest.split_once(": ").unwrap();
                    let strict = mode == "expect-strict";
                    if strict {
                        parse(&xml, &ParseOptions::default())
                            .unwrap_or_else(|err| panic!("{name}: default mode refused: {err}"));
                    }
                    let options = ParseOptions {
                        strict,
                        ..ParseOptions::default()
                    };
                    let err = parse(&xml, &options).expect_err(&name);
                    let message = err.to_string();
                    assert!(message.contains(text), "{name}: {message}");
                    assert_eq!(err.line.to_string(), line, "{name}: {message}");
                    assert!(err.column >= 1, "{name}");
                    assert!(
                        message.contains(&format!("line {line}, column ")),
                        "{message}"
                    );
                }
                "expect-validate:" => {
                    let text = rest;
                    let domain = parse(&xml, &ParseOptions::default())
                        .unwrap_or_else(|err| panic!("{name}: {err}"));
                    let errors = validate(&domain, &ValidateOptions::default()).expect_err(&name);
                    let message = errors.to_string();
                    assert!(message.contains(text), "{name}: {message}");
                }
                other => panic!("{name}: unknown expectation {other}"),
            }
        }
    }

    #[test]
    fn error_paths_name_the_element_and_attribute() {
        let xml = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid/bad-cache.xml"),
        )
        .unwrap();
        let err = parse(&xml, &ParseOptions::default()).unwrap_err();
        assert_eq!(err.path, "/domain/devices/disk/driver/@cache");
        assert_eq!((err.line, err.column), (8, 38));
        assert_eq!(
            err.to_string(),
            "invalid value 'sometimes' for attribute 'cache' in <driver> at \
             /domain/devices/disk/driver/@cache (line 8, column 38)"
        );
    }

    #[test]
    fn backing_chain_is_read_layer_by_layer() {
        let (_, domain) = read("05-qcow2-backing-chain.xml");
        let disk = &domain.devices.disks[0];
        let chain: Vec<_> = disk
            .chain()
            .map(|(kind, source)| (kind, source.path.clone().unwrap()))
            .collect();
        assert_eq!(
            chain,
            [
                (
                    DiskType::File,
                    "/var/lib/moat/images/overlay-guest.qcow2".to_owned()
                ),
                (
                    DiskType::File,
                    "/var/lib/moat/images/base-snapshot-2.qcow2".to_owned()
                ),
                (
                    DiskType::File,
                    "/var/lib/moat/images/base-snapshot-1.qcow2".to_owned()
                ),
                (DiskType::Block, "/dev/vg_images/golden".to_owned()),
            ]
        );
        let layer = disk.backing_store.as_ref().unwrap();
        assert_eq!(layer.format.as_deref(), Some("qcow2"));
    }

    #[test]
    fn seclabel_defaults_follow_libvirt() {
        let (_, dynamic) = read("10-seclabel-dynamic.xml");
        let label = dynamic.seclabel("selinux").unwrap();
        assert_eq!((label.kind, label.relabel), (SeclabelType::Dynamic, true));

        let (_, static_no) = read("13-seclabel-static-norelabel.xml");
        let label = static_no.seclabel("selinux").unwrap();
        assert_eq!((label.kind, label.relabel), (SeclabelType::Static, false));
        assert_eq!(
            label.label.as_deref(),
            Some("system_u:system_r:svirt_t:s0:c392,c662")
        );

        let (_, none) = read("14-seclabel-none.xml");
        let label = none.seclabel("selinux").unwrap();
        assert_eq!((label.kind, label.relabel), (SeclabelType::None, false));
        let text = format(&none, &FormatOptions::default());
        assert!(
            text.contains("  <seclabel type='none' model='selinux'/>\n"),
            "{text}"
        );

        let (_, model_none) = read("35-seclabel-model-none.xml");
        let label = model_none.seclabel("none").unwrap();
        assert_eq!((label.kind, label.relabel), (SeclabelType::None, false));
        let migratable = FormatOptions {
            migratable: true,
            ..FormatOptions::default()
        };
        assert!(!format(&model_none, &migratable).contains("<seclabel"));
    }

    #[test]
    fn live_xml_keeps_generated_labels_and_labelskip() {
        let (_, domain) = read("30-live-running.xml");
        assert_eq!(domain.id, Some(7));
        let selinux = domain.seclabel("selinux").unwrap();
        assert_eq!(
            selinux.imagelabel.as_deref(),
            Some("system_u:object_r:svirt_image_t:s0:c87,c520")
        );
        assert_eq!(
            domain.seclabel("dac").unwrap().label.as_deref(),
            Some("+107:+107")
        );
        let source = domain.devices.disks[0].source.as_ref().unwrap();
        assert!(source.seclabels[0].labelskip);

        // The same text read as inactive XML drops what only live XML carries.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/30-live-running.xml");
        let xml = fs::read_to_string(path).unwrap();
        let inactive = parse(&xml, &ParseOptions::default()).unwrap();
        let selinux = inactive.seclabel("selinux").unwrap();
        assert_eq!(
            (selinux.label.as_ref(), selinux.imagelabel.as_ref()),
            (None, None)
        );
        let source = inactive.devices.disks[0].source.as_ref().unwrap();
        assert!(!source.seclabels[0].labelskip);
    }

    #[test]
    fn per_device_seclabels_are_read_from_disk_and_chardev_sources() {
        let (_, disks) = read("16-seclabel-disk-override.xml");
        let source = disks.devices.disks[0].source.as_ref().unwrap();
        let models: Vec<_> = source
            .seclabels
            .iter()
            .map(|l| (l.model.as_deref().unwrap(), l.relabel, l.label.as_deref()))
            .collect();
        assert_eq!(
            models,
            [
                ("selinux", true, Some("system_u:object_r:svirt_image_t:s0")),
                ("dac", true, Some("qemu:qemu")),
            ]
        );
        let skip = &disks.devices.disks[1].source.as_ref().unwrap().seclabels[0];
        assert!(!skip.relabel);

        assert_eq!(
            source.seclabel("dac").and_then(|l| l.label.as_deref()),
            Some("qemu:qemu")
        );
        assert!(source.seclabel("landlock").is_none());

        let (_, chardevs) = read("17-seclabel-chardev-override.xml");
        let roles: Vec<_> = chardevs
            .devices
            .chardevs()
            .map(|(role, chardev)| (role.as_str(), chardev.kind.as_str()))
            .collect();
        assert_eq!(roles, [("serial", "file"), ("channel", "unix")]);
        let serial = &chardevs.devices.serials[0].sources[0].seclabels[0];
        assert_eq!(
            serial.label.as_deref(),
            Some("system_u:object_r:svirt_log_t:s0")
        );
        assert!(!chardevs.devices.channels[0].sources[0].seclabels[0].relabel);
    }

    #[test]
    fn model_less_seclabel_takes_the_host_model_where_libvirt_allows() {
        let xml = "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os>\
                   <seclabel type='dynamic'/></domain>";
        let options = ParseOptions {
            host_security_model: Some("selinux".to_owned()),
            ..ParseOptions::default()
        };
        let domain = parse(xml, &options).unwrap();
        assert_eq!(domain.seclabels[0].model.as_deref(), Some("selinux"));

        let with_base = xml.replace(
            "<seclabel type='dynamic'/>",
            "<seclabel type='dynamic'><baselabel>system_u:system_r:svirt_t:xxxxxx</baselabel>\
             </seclabel>",
        );
        let err = parse(&with_base, &options).unwrap_err();
        assert_eq!(
            err.kind.to_string(),
            "missing security model in domain seclabel"
        );
        // Without host models the label stays model-less, as libvirt leaves it.
        let domain = parse(&with_base, &ParseOptions::default()).unwrap();
        assert_eq!(domain.seclabels[0].model, None);
        assert_eq!(
            domain.seclabels[0].baselabel.as_deref(),
            Some("system_u:system_r:svirt_t:xxxxxx")
        );
    }

    #[test]
    fn live_dynamic_label_requires_label_and_imagelabel() {
        let base = "<domain type='kvm'><name>x</name><memory>1</memory><os><type>hvm</type></os>";
        let live = ParseOptions {
            live: true,
            ..ParseOptions::default()
        };
        let no_label = format!("{base}<seclabel type='dynamic' model='selinux'/></domain>");
        assert_eq!(
            parse(&no_label, &live).unwrap_err().kind.to_string(),
            "security label is missing"
        );
        let no_image = format!(
            "{base}<seclabel type='dynamic' model='selinux'><label>a:b:c:s0</label></seclabel>\
             </domain>"
        );
        assert_eq!(
            parse(&no_image, &live).unwrap_err().kind.to_string(),
            "security imagelabel is missing"
        );
        let model_none = format!("{base}<seclabel type='dynamic' model='none'/></domain>");
        assert_eq!(
            parse(&model_none, &live).unwrap_err().kind.to_string(),
            "unsupported type='dynamic' to model 'none'"
        );
    }

    #[test]
    fn unknown_content_is_preserved_in_default_mode() {
        let (_, domain) = read("28-metadata-qemu-namespace.xml");
        let text = format(&domain, &FormatOptions::default());
        for needle in [
            "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
            "<driver name='qemu' type='qcow2' copy_on_read='on'/>",
            "      <iotune>\n        <total_iops_sec>2000</total_iops_sec>\n      </iotune>\n",
            "  <qemu:commandline>\n    <qemu:arg value='-trace'/>",
            "<moat:owner>platform</moat:owner>",
            "<description>CI runner; owner: platform team &amp; friends &lt;ci@example.org&gt;",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn memory_units_and_uuid_forms_are_normalised() {
        let (_, domain) = read("26-memory-units.xml");
        assert_eq!(domain.max_memory.unwrap().size.kib, 64 << 20);
        assert_eq!(domain.memory.kib, 4_096_000_000 / 1024);
        assert_eq!(domain.current_memory.kib, 2 << 20);
        assert_eq!(domain.vcpu.current, Some(2));

        let (_, undashed) = read("31-undashed-uuid-genid.xml");
        let text = format(&undashed, &FormatOptions::default());
        assert!(
            text.contains("<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"),
            "{text}"
        );
        assert!(text.contains("  <genid/>\n"), "{text}");

        let (_, minimal) = read("01-minimal.xml");
        let (_, minimal_again) = read("01-minimal.xml");
        assert_ne!(
            minimal.uuid, minimal_again.uuid,
            "a missing UUID is generated"
        );
        let text = format(&minimal, &FormatOptions::default());
        assert!(text.contains("<vcpu placement='static'>1</vcpu>"), "{text}");
        assert!(text.contains("<on_reboot>restart</on_reboot>"), "{text}");
    }

    #[test]
    fn graphics_passwords_only_with_secrets() {
        let (_, domain) = read("21-graphics-vnc-spice.xml");
        assert!(!format(&domain, &FormatOptions::default()).contains("passwd"));
        let secure = FormatOptions {
            include_secrets: true,
            ..FormatOptions::default()
        };
        assert!(format(&domain, &secure).contains("passwd='s3cret'"));
    }
}
