//! Guests that really run: a Linux kernel with a busybox initramfs booted under TCG
//! (scripts/test-guest/build.sh), driven through virsh against a real moatd.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

fn guest_xml(name: &str, uuid: &str, serial: &Path) -> String {
    let dir = test_guest_dir();
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n  <os>\n    \
         <type arch='x86_64' machine='pc'>hvm</type>\n    <kernel>{}/vmlinuz</kernel>\n    \
         <initrd>{}/initrd.cpio.gz</initrd>\n    <cmdline>console=ttyS0 quiet panic=-1</cmdline>\n  \
         </os>\n  <features><acpi/></features>\n  <on_reboot>restart</on_reboot>\n  <devices>\n    <serial type='file'>\n      \
         <source path='{}'/>\n      <target port='0'/>\n    </serial>\n  </devices>\n</domain>\n",
        dir.display(),
        dir.display(),
        serial.display()
    )
}

fn define(daemon: &TestDaemon, name: &str, uuid: &str) -> PathBuf {
    let serial = daemon.dir.path().join(format!("{name}.serial"));
    let file = write_file(
        daemon.dir.path(),
        &format!("{name}.xml"),
        &guest_xml(name, uuid, &serial),
    );
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    serial
}

#[track_caller]
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(daemon: &TestDaemon, name: &str) -> String {
    ok(daemon.virsh(&["domstate", "--reason", name]))
        .trim()
        .to_owned()
}

fn booted(serial: &Path) -> bool {
    std::fs::read_to_string(serial).is_ok_and(|s| s.contains("MOAT-GUEST-BOOTED"))
}

const BOOT: Duration = Duration::from_secs(90);

#[test]
fn start_pause_resume_shutdown_destroy() {
    let daemon = TestDaemon::start();
    let serial = define(&daemon, "g1", "20000000-0000-4000-8000-000000000001");
    ok(daemon.virsh(&["start", "g1"]));
    assert_eq!(state(&daemon, "g1"), "running (booted)");
    let info = ok(daemon.virsh(&["dominfo", "g1"]));
    assert!(info.contains("State:          running"), "{info}");
    let id = ok(daemon.virsh(&["domid", "g1"])).trim().to_owned();
    assert!(id.parse::<u32>().is_ok(), "{id}");
    assert!(ok(daemon.virsh(&["list", "--name"])).contains("g1"));
    // Lookup by id works while it runs.
    assert!(ok(daemon.virsh(&["dominfo", &id])).contains("Name:           g1"));
    wait_for("the guest to boot", BOOT, || booted(&serial));
    // It booted fully confined: its own uid, no capabilities, no new privileges, seccomp, and
    // dominfo names the security model.
    let pid = std::fs::read_to_string(daemon.run_dir().join("qemu/g1.pid")).unwrap();
    let status = proc_status(&pid);
    let field = |name: &str| proc_field(&status, name.trim_end_matches(':'));
    assert_ne!(field("Uid:"), "0", "{status:?}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status:?}");
    assert_eq!(field("Seccomp:"), "2", "{status:?}");
    assert_eq!(field("CapEff:"), "0000000000000000", "{status:?}");
    let info = ok(daemon.virsh(&["dominfo", "g1"]));
    assert!(info.contains("Security model: landlock"), "{info}");
    assert!(
        info.contains("Security label: moat-20000000-0000-4000-8000-000000000001"),
        "{info}"
    );

    let err = fails(daemon.virsh(&["start", "g1"]));
    assert!(err.contains("already"), "{err}");

    ok(daemon.virsh(&["suspend", "g1"]));
    assert_eq!(state(&daemon, "g1"), "paused (user)");
    ok(daemon.virsh(&["resume", "g1"]));
    assert_eq!(state(&daemon, "g1"), "running (unpaused)");

    // A reset reboots the guest: it prints its marker again.
    let boots = || {
        std::fs::read_to_string(&serial)
            .unwrap_or_default()
            .matches("MOAT-GUEST-BOOTED")
            .count()
    };
    ok(daemon.virsh(&["reset", "g1"]));
    wait_for("the guest to boot again", BOOT, || boots() >= 2);
    assert!(state(&daemon, "g1").starts_with("running"));

    // The guest powers off on the ACPI button (its acpid is up once it printed the marker).
    ok(daemon.virsh(&["shutdown", "g1"]));
    wait_for("the guest to power off", Duration::from_secs(30), || {
        state(&daemon, "g1") != "running (unpaused)"
    });
    assert_eq!(state(&daemon, "g1"), "shut off (shutdown)");
    assert_eq!(ok(daemon.virsh(&["domid", "g1"])).trim(), "-");

    ok(daemon.virsh(&["start", "g1"]));
    ok(daemon.virsh(&["destroy", "g1"]));
    assert_eq!(state(&daemon, "g1"), "shut off (destroyed)");
    let err = fails(daemon.virsh(&["destroy", "g1"]));
    assert!(err.contains("not running"), "{err}");
    // Nothing of the guest's runtime is left.
    assert!(!daemon.run_dir().join("qemu/g1/qmp.sock").exists());
}

#[test]
fn a_killed_qemu_is_noticed_and_the_guest_can_start_again() {
    let daemon = TestDaemon::start();
    define(&daemon, "g2", "20000000-0000-4000-8000-000000000002");
    ok(daemon.virsh(&["start", "g2"]));
    let pidfile = daemon.run_dir().join("qemu/g2.pid");
    wait_for("the pidfile", Duration::from_secs(10), || pidfile.exists());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("the crash to be noticed", Duration::from_secs(10), || {
        state(&daemon, "g2") == "shut off (crashed)"
    });
    eprintln!("crash noticed within {:?}", killed.elapsed());
    ok(daemon.virsh(&["start", "g2"]));
    assert_eq!(state(&daemon, "g2"), "running (booted)");
    ok(daemon.virsh(&["destroy", "g2"]));
}

#[test]
fn paused_starts_and_transient_guests() {
    let daemon = TestDaemon::start();
    define(&daemon, "g3", "20000000-0000-4000-8000-000000000003");
    ok(daemon.virsh(&["start", "--paused", "g3"]));
    assert_eq!(state(&daemon, "g3"), "paused (user)");
    ok(daemon.virsh(&["resume", "g3"]));
    assert!(state(&daemon, "g3").starts_with("running"));
    ok(daemon.virsh(&["destroy", "g3"]));

    // `virsh create`: a guest that exists only while it runs.
    let serial = daemon.dir.path().join("t1.serial");
    let file = write_file(
        daemon.dir.path(),
        "t1.xml",
        &guest_xml("t1", "20000000-0000-4000-8000-0000000000a1", &serial),
    );
    ok(daemon.virsh(&["create", file.to_str().unwrap()]));
    assert!(state(&daemon, "t1").starts_with("running"));
    assert!(ok(daemon.virsh(&["dominfo", "t1"])).contains("Persistent:     no"));
    assert!(
        daemon.stored_definitions().len() == 1,
        "a transient guest is not stored"
    );
    ok(daemon.virsh(&["destroy", "t1"]));
    let names = ok(daemon.virsh(&["list", "--all", "--name"]));
    assert!(!names.contains("t1"), "{names}");

    // Undefining a running guest keeps it until it stops.
    ok(daemon.virsh(&["start", "g3"]));
    ok(daemon.virsh(&["undefine", "g3"]));
    assert!(ok(daemon.virsh(&["dominfo", "g3"])).contains("Persistent:     no"));
    ok(daemon.virsh(&["destroy", "g3"]));
    assert!(ok(daemon.virsh(&["list", "--all", "--name"]))
        .trim()
        .is_empty());
}

#[test]
fn a_restarted_daemon_finds_running_guests_and_autostarts_once() {
    let mut daemon = TestDaemon::start();
    define(&daemon, "r1", "20000000-0000-4000-8000-000000000011");
    define(&daemon, "r2", "20000000-0000-4000-8000-000000000012");
    define(&daemon, "auto", "20000000-0000-4000-8000-000000000013");
    ok(daemon.virsh(&["start", "r1"]));
    ok(daemon.virsh(&["start", "r2"]));
    ok(daemon.virsh(&["autostart", "auto"]));
    let run_dir = daemon.run_dir();
    let pid_of = |name: &str| {
        std::fs::read_to_string(run_dir.join(format!("qemu/{name}.pid")))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (p1, p2) = (pid_of("r1"), pid_of("r2"));
    daemon.kill();
    daemon.spawn();
    assert!(state(&daemon, "r1").starts_with("running"));
    assert!(state(&daemon, "r2").starts_with("running"));
    assert_eq!(pid_of("r1"), p1, "the same QEMU, not a new one");
    assert_eq!(pid_of("r2"), p2);
    wait_for("autostart", Duration::from_secs(30), || {
        state(&daemon, "auto").starts_with("running")
    });
    let autostart_pid = pid_of("auto");
    // Controllable after the restart.
    ok(daemon.virsh(&["destroy", "r1"]));
    assert_eq!(state(&daemon, "r1"), "shut off (destroyed)");
    // Another restart: the autostarted guest is found again, not started twice.
    daemon.kill();
    daemon.spawn();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pid_of("auto"), autostart_pid);
    ok(daemon.virsh(&["destroy", "r2"]));
    ok(daemon.virsh(&["destroy", "auto"]));
}

#[test]
fn virsh_event_sees_the_lifecycle() {
    let daemon = TestDaemon::start();
    define(&daemon, "ev", "20000000-0000-4000-8000-000000000021");
    let watcher = std::process::Command::new("virsh")
        .args([
            "-c",
            &daemon.uri(),
            "event",
            "--event",
            "lifecycle",
            "--loop",
            "--timeout",
            "60",
        ])
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Give virsh time to register its callback.
    std::thread::sleep(Duration::from_millis(800));
    ok(daemon.virsh(&["start", "ev"]));
    ok(daemon.virsh(&["suspend", "ev"]));
    ok(daemon.virsh(&["resume", "ev"]));
    ok(daemon.virsh(&["destroy", "ev"]));
    ok(daemon.virsh(&["undefine", "ev"]));
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watcher.id().try_into().unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = watcher.wait_with_output().unwrap();
    let text = stdout(&out);
    for line in [
        "event 'lifecycle' for domain 'ev': Started Booted",
        "event 'lifecycle' for domain 'ev': Suspended Paused",
        "event 'lifecycle' for domain 'ev': Resumed Unpaused",
        "event 'lifecycle' for domain 'ev': Stopped Destroyed",
        "event 'lifecycle' for domain 'ev': Undefined Removed",
    ] {
        assert!(
            text.contains(line),
            "missing {line:?} in:\n{text}\n{}",
            stderr(&out)
        );
    }
}

#[test]
fn python_libvirt_drives_the_lifecycle() {
    let daemon = TestDaemon::start();
    let serial = daemon.dir.path().join("py.serial");
    let xml = guest_xml("py", "20000000-0000-4000-8000-000000000031", &serial);
    let script = format!(
        r#"
import os, time, libvirt
conn = libvirt.open(os.environ["URI"])
dom = conn.defineXML('''{xml}''')
dom.create()
assert dom.isActive() and dom.ID() > 0
assert conn.lookupByID(dom.ID()).name() == "py"
assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED], dom.state()
dom.suspend()
assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
dom.resume()
assert dom.info()[0] == libvirt.VIR_DOMAIN_RUNNING
assert [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)] == ["py"]
dom.destroy()
assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED], dom.state()
try:
    dom.destroy()
    raise SystemExit("destroying a stopped guest succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID, e.get_error_code()
t = conn.createXML('''{xml}'''.replace("<name>py</name>", "<name>pyt</name>").replace("000000000031", "000000000032"), 0)
assert not t.isPersistent() and t.isActive()
t.destroy()
assert "pyt" not in [d.name() for d in conn.listAllDomains(0)]
dom.undefine()
print("OK")
"#
    );
    let out = ok(daemon.python(&script));
    assert_eq!(out.trim(), "OK");
}

#[test]
fn on_poweroff_restart_and_preserve() {
    let daemon = TestDaemon::start();
    let mut serials = Vec::new();
    for (name, uuid, action) in [
        ("pr", "20000000-0000-4000-8000-000000000041", "restart"),
        ("pp", "20000000-0000-4000-8000-000000000042", "preserve"),
    ] {
        let serial = daemon.dir.path().join(format!("{name}.serial"));
        let xml = guest_xml(name, uuid, &serial).replace(
            "<on_reboot>restart</on_reboot>",
            &format!("<on_poweroff>{action}</on_poweroff>\n  <on_reboot>restart</on_reboot>"),
        );
        let file = write_file(daemon.dir.path(), &format!("{name}.xml"), &xml);
        ok(daemon.virsh(&["define", file.to_str().unwrap()]));
        ok(daemon.virsh(&["start", name]));
        serials.push(serial);
    }
    let boots = |serial: &Path| {
        std::fs::read_to_string(serial)
            .unwrap_or_default()
            .matches("MOAT-GUEST-BOOTED")
            .count()
    };
    for serial in &serials {
        wait_for("the guests to boot", BOOT, || boots(serial) >= 1);
    }
    ok(daemon.virsh(&["shutdown", "pr"]));
    ok(daemon.virsh(&["shutdown", "pp"]));
    // restart: the guest powers off and boots again, still running.
    wait_for("the restarted guest to boot again", BOOT, || {
        boots(&serials[0]) >= 2
    });
    assert!(state(&daemon, "pr").starts_with("running"));
    // preserve: QEMU stays, the guest is kept paused.
    wait_for(
        "the preserved guest to stop",
        Duration::from_secs(30),
        || state(&daemon, "pp") == "paused (shutting down)",
    );
    ok(daemon.virsh(&["destroy", "pr"]));
    ok(daemon.virsh(&["destroy", "pp"]));
}

#[test]
fn a_start_that_cannot_work_is_refused_and_changes_nothing() {
    let daemon = TestDaemon::start();
    let serial = daemon.dir.path().join("bad.serial");
    let missing_kernel = guest_xml("nokernel", "20000000-0000-4000-8000-000000000051", &serial)
        .replace("/vmlinuz</kernel>", "/no-such-vmlinuz</kernel>");
    let file = write_file(daemon.dir.path(), "nokernel.xml", &missing_kernel);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let err = fails(daemon.virsh(&["start", "nokernel"]));
    assert!(err.contains("no-such-vmlinuz"), "{err}");
    assert_eq!(state(&daemon, "nokernel"), "shut off (unknown)");
    assert!(!daemon.run_dir().join("qemu/nokernel/qmp.sock").exists());

    // Something the command line cannot express yet is refused with the element named.
    let sound = guest_xml("sound", "20000000-0000-4000-8000-000000000052", &serial)
        .replace("</devices>", "  <sound model='ich9'/>\n  </devices>");
    let file = write_file(daemon.dir.path(), "sound.xml", &sound);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let err = fails(daemon.virsh(&["start", "sound"]));
    assert!(
        err.contains("unsupported configuration") && err.contains("sound"),
        "{err}"
    );
    assert_eq!(state(&daemon, "sound"), "shut off (unknown)");
    ok(daemon.virsh(&["list", "--all"]));
}
