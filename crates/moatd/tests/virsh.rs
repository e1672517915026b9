//! virsh (libvirt-clients) against a real moatd: the commands of issue 4, each checked against
//! what the daemon holds.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use common::*;

const WEB_UUID: &str = "6f2b7d1e-2c3a-4e8f-9b1a-0c2d3e4f5a6b";

#[test]
fn virsh_host_commands() {
    let daemon = TestDaemon::start();
    let version = ok(daemon.virsh(&["version"]));
    assert!(version.contains("Using API: QEMU 9.0.0"), "{version}");
    let hostname = ok(daemon.virsh(&["hostname"]));
    let expected = nix::unistd::gethostname().unwrap();
    assert_eq!(hostname.trim(), expected.to_string_lossy());
    let nodeinfo = ok(daemon.virsh(&["nodeinfo"]));
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(
        nodeinfo
            .lines()
            .any(|l| l.starts_with("CPU(s):") && l.ends_with(&format!(" {cpus}"))),
        "{nodeinfo}"
    );
    assert!(nodeinfo.contains("Memory size:"), "{nodeinfo}");
    let caps = ok(daemon.virsh(&["capabilities"]));
    assert!(
        caps.contains("<capabilities>") && caps.contains("<arch>x86_64</arch>"),
        "{caps}"
    );
    let sysinfo = ok(daemon.virsh(&["sysinfo"]));
    assert!(sysinfo.contains("<sysinfo type='smbios'>"), "{sysinfo}");
    assert_eq!(ok(daemon.virsh(&["uri"])).trim(), daemon.uri());
    let domcaps = ok(daemon.virsh(&["domcapabilities"]));
    assert!(domcaps.contains("<domainCapabilities>") && domcaps.contains("<arch>x86_64</arch>"));
    let err = fails(daemon.virsh(&["domcapabilities", "--arch", "aarch64"]));
    assert!(
        err.contains("architecture 'aarch64' is not supported"),
        "{err}"
    );
    // libvirt asks connect:write for domain capabilities: not for read-only clients.
    let err = fails(virsh(&daemon.uri_ro_socket(), false, &["domcapabilities"]));
    assert!(err.contains("read only access prevents"), "{err}");
}

#[test]
fn virsh_define_inspect_autostart_undefine() {
    let daemon = TestDaemon::start();
    let file = write_file(daemon.dir.path(), "web.xml", &domain_xml("web", WEB_UUID));
    // virsh runs with -q, which leaves out "Domain 'web' defined": check the effects instead.
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    assert_eq!(daemon.stored_definitions().len(), 1);

    let list = ok(daemon.virsh(&["list", "--all"]));
    let row: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(row, ["-", "web", "shut", "off"]);
    assert_eq!(ok(daemon.virsh(&["list"])).trim(), "");
    assert_eq!(
        ok(daemon.virsh(&["list", "--inactive", "--name"])).trim(),
        "web"
    );

    let info = ok(daemon.virsh(&["dominfo", "web"]));
    for line in [
        "Name:           web",
        &format!("UUID:           {WEB_UUID}"),
        "OS Type:        hvm",
        "State:          shut off",
        "CPU(s):         2",
        "Max memory:     262144 KiB",
        "Persistent:     yes",
        "Autostart:      disable",
    ] {
        assert!(info.contains(line), "missing {line:?} in\n{info}");
    }
    // By UUID too.
    assert!(ok(daemon.virsh(&["dominfo", WEB_UUID])).contains("Name:           web"));
    assert_eq!(ok(daemon.virsh(&["domstate", "web"])).trim(), "shut off");

    let xml = ok(daemon.virsh(&["dumpxml", "web"]));
    assert!(
        xml.contains("<name>web</name>") && xml.contains(WEB_UUID),
        "{xml}"
    );
    assert!(xml.contains("<memory unit='KiB'>262144</memory>"), "{xml}");
    assert!(
        !xml.contains("s3cret"),
        "password leaked without --security-info"
    );
    let secure = ok(daemon.virsh(&["dumpxml", "--security-info", "web"]));
    assert!(secure.contains("passwd='s3cret'"), "{secure}");

    ok(daemon.virsh(&["autostart", "web"]));
    assert!(ok(daemon.virsh(&["dominfo", "web"])).contains("Autostart:      enable"));
    assert!(daemon.state_dir().join("autostart").join(WEB_UUID).exists());
    assert_eq!(
        ok(daemon.virsh(&["list", "--all", "--autostart", "--name"])).trim(),
        "web"
    );
    ok(daemon.virsh(&["autostart", "--disable", "web"]));
    assert!(ok(daemon.virsh(&["dominfo", "web"])).contains("Autostart:      disable"));

    // Redefining updates in place; a second guest with the same name is refused.
    let changed = domain_xml("web", WEB_UUID).replace("<vcpu>2</vcpu>", "<vcpu>4</vcpu>");
    let file2 = write_file(daemon.dir.path(), "web2.xml", &changed);
    ok(daemon.virsh(&["define", file2.to_str().unwrap()]));
    assert!(ok(daemon.virsh(&["dominfo", "web"])).contains("CPU(s):         4"));
    let clash = domain_xml("web", "11111111-2222-3333-4444-555555555555");
    let file3 = write_file(daemon.dir.path(), "clash.xml", &clash);
    let err = fails(daemon.virsh(&["define", file3.to_str().unwrap()]));
    assert!(err.contains("already exists with uuid"), "{err}");

    ok(daemon.virsh(&["undefine", "web"]));
    assert_eq!(ok(daemon.virsh(&["list", "--all"])).trim(), "");
    assert!(daemon.stored_definitions().is_empty());
    let err = fails(daemon.virsh(&["dominfo", "web"]));
    assert!(err.contains("failed to get domain 'web'"), "{err}");
}

#[test]
fn virsh_bad_definitions_are_refused_and_change_nothing() {
    let daemon = TestDaemon::start();
    let good = write_file(daemon.dir.path(), "good.xml", &domain_xml("good", WEB_UUID));
    ok(daemon.virsh(&["define", good.to_str().unwrap()]));
    let cases = [
        ("notxml.xml", "this is not xml", "XML error"),
        ("noname.xml", "<domain type='kvm'><memory>1</memory></domain>", "missing <name>"),
        (
            "badmem.xml",
            "<domain type='kvm'><name>x</name><memory unit='QB'>1</memory></domain>",
            "XML error",
        ),
        (
            "slash.xml",
            "<domain type='kvm'><name>a/b</name><memory>1024</memory><os><type>hvm</type></os></domain>",
            "XML error",
        ),
    ];
    for (name, text, expected) in cases {
        let file = write_file(daemon.dir.path(), name, text);
        let err = fails(daemon.virsh(&["define", file.to_str().unwrap()]));
        assert!(err.contains(expected), "{name}: {err}");
    }
    // Unknown elements are kept without --validate and refused with it.
    let extra = domain_xml("extra", "22222222-2222-3333-4444-555555555555")
        .replace("</devices>", "</devices>\n  <frobnicate/>");
    let file = write_file(daemon.dir.path(), "extra.xml", &extra);
    let err = fails(daemon.virsh(&["define", "--validate", file.to_str().unwrap()]));
    assert!(err.contains("frobnicate"), "{err}");
    assert_eq!(daemon.stored_definitions().len(), 1);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    assert!(ok(daemon.virsh(&["dumpxml", "extra"])).contains("<frobnicate/>"));
    let names = ok(daemon.virsh(&["list", "--all", "--name"]));
    let mut names: Vec<&str> = names.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["extra", "good"]);
}

#[test]
fn read_only_clients_can_look_but_not_change() {
    let daemon = TestDaemon::start();
    let file = write_file(daemon.dir.path(), "web.xml", &domain_xml("web", WEB_UUID));
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));

    // virsh -r: reads work; writes are refused (libvirt refuses these client-side too).
    assert!(ok(daemon.virsh_ro(&["list", "--all"])).contains("web"));
    assert!(ok(daemon.virsh_ro(&["dumpxml", "web"])).contains("<name>web</name>"));
    fails(daemon.virsh_ro(&["undefine", "web"]));
    fails(daemon.virsh_ro(&["define", file.to_str().unwrap()]));

    // The read-only socket without -r: the client sends the calls, the daemon refuses them.
    let ro = daemon.uri_ro_socket();
    assert!(ok(virsh(&ro, false, &["list", "--all"])).contains("web"));
    assert!(ok(virsh(&ro, false, &["dominfo", "web"])).contains("shut off"));
    let err = fails(virsh(&ro, false, &["undefine", "web"]));
    threats::record(
        "T9",
        "undefine a guest over the read-only socket",
        "refused",
        err.trim(),
        err.contains("read only access prevents virDomainUndefine"),
    );
    assert!(
        err.contains("read only access prevents virDomainUndefine"),
        "{err}"
    );
    let other = write_file(
        daemon.dir.path(),
        "other.xml",
        &domain_xml("other", "33333333-2222-3333-4444-555555555555"),
    );
    let err = fails(virsh(&ro, false, &["define", other.to_str().unwrap()]));
    threats::record(
        "T9",
        "define a guest over the read-only socket",
        "refused",
        err.trim(),
        err.contains("read only access prevents virDomainDefineXML"),
    );
    assert!(
        err.contains("read only access prevents virDomainDefineXML"),
        "{err}"
    );
    let err = fails(virsh(&ro, false, &["dumpxml", "--security-info", "web"]));
    assert!(
        err.contains("read only access prevents virDomainGetXMLDesc"),
        "{err}"
    );
    let err = fails(virsh(&ro, false, &["autostart", "web"]));
    assert!(err.contains("read only access prevents"), "{err}");

    // Nothing changed, and every refusal is in the audit log.
    assert_eq!(daemon.stored_definitions().len(), 1);
    assert!(ok(daemon.virsh(&["dominfo", "web"])).contains("Autostart:      disable"));
    let audit = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap();
    let denials = audit
        .lines()
        .filter(|l| l.contains("denied: read-only connection"))
        .count();
    assert!(denials >= 3, "{audit}");
}

#[test]
fn unsupported_calls_degrade_like_libvirtd() {
    let daemon = TestDaemon::start();
    let file = write_file(daemon.dir.path(), "web.xml", &domain_xml("web", WEB_UUID));
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    // Not implemented yet: virsh reports "not supported", the daemon keeps serving.
    let err = fails(daemon.virsh(&["domjobinfo", "web"]));
    assert!(err.contains("unknown procedure"), "{err}");
    assert!(ok(daemon.virsh(&["list", "--all"])).contains("web"));
}
