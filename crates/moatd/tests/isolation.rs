//! Guest isolation with the real kernel (DESIGN.md T1–T7, T12): guests started by a real moatd
//! through moat-jail, an attacker program run under a guest's exact confinement, labels and
//! owners checked on real files before, during and after.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// A moatd whose image directory is inside its temp dir.
fn daemon_with_images(extra: &str) -> (TestDaemon, tempfile::TempDir) {
    let images = tempfile::tempdir().unwrap();
    let config = format!(
        "image_dirs = [\"{}\"]\nguest_pids_max = 64\n{extra}\n",
        images.path().display()
    );
    let daemon = TestDaemon::start_with_config(Some(&config));
    (daemon, images)
}

/// A 1 MiB raw image owned by uid 4242, mode 0640, with an SELinux label of its own.
fn image(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    std::os::unix::fs::chown(&path, Some(4242), Some(4242)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    xattr::set(
        &path,
        "security.selinux",
        b"system_u:object_r:virt_image_t:s0\0",
    )
    .unwrap();
    path
}

/// Owner, mode, SELinux label and every `trusted.libvirt.*` xattr of a file.
fn file_state(path: &Path) -> (u32, u32, u32, Option<String>, Vec<String>) {
    let meta = std::fs::metadata(path).unwrap();
    let label = xattr::get(path, "security.selinux").unwrap().map(|v| {
        String::from_utf8_lossy(&v)
            .trim_end_matches('\0')
            .to_owned()
    });
    let remembered = xattr::list(path)
        .unwrap()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.starts_with("trusted.libvirt"))
        .collect();
    (
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777,
        label,
        remembered,
    )
}

fn guest_xml(name: &str, uuid: &str, emulator: &str, disks: &[(&Path, &str)]) -> String {
    let mut devices = format!("<emulator>{emulator}</emulator>\n");
    for (i, (path, extra)) in disks.iter().enumerate() {
        let dev = format!("vd{}", (b'a' + u8::try_from(i).unwrap()) as char);
        devices.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='{}'/><target dev='{dev}' bus='virtio'/>{extra}</disk>\n",
            path.display()
        ));
    }
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>64</memory>\n  <memtune><hard_limit unit='MiB'>384</hard_limit></memtune>\n  \
         <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  \
         <devices>\n{devices}</devices>\n</domain>\n"
    )
}

fn define(daemon: &TestDaemon, xml: &str, name: &str) {
    let file = write_file(daemon.dir.path(), &format!("{name}.xml"), xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
}

fn pid_of(daemon: &TestDaemon, name: &str) -> i32 {
    let pidfile = daemon.run_dir().join(format!("qemu/{name}.pid"));
    std::fs::read_to_string(&pidfile)
        .unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()))
        .trim()
        .parse()
        .unwrap()
}

/// The dac label (`+UID:+GID`) of a running guest, from its live XML.
fn dac_label(daemon: &TestDaemon, name: &str) -> String {
    let xml = ok(daemon.virsh(&["dumpxml", name]));
    let start = xml
        .find("model='dac'")
        .unwrap_or_else(|| panic!("no dac seclabel in the live XML:\n{xml}"));
    let rest = &xml[start..];
    let label = &rest[rest.find("<label>").unwrap() + 7..rest.find("</label>").unwrap()];
    label.to_owned()
}

fn cgroup_dirs(daemon: &TestDaemon, uuid: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|c| c.path().join(daemon.cgroup_parent()).join(uuid))
        .filter(|p| p.exists())
        .collect()
}

/// `t3_connect_moat_sock` → `T3`.
fn threat_of(name: &str) -> Option<&'static str> {
    let number = name.strip_prefix('t')?.split('_').next()?;
    ["T1", "T2", "T3", "T4", "T5", "T6"]
        .into_iter()
        .find(|t| t[1..] == *number)
}

#[test]
fn t1_to_t6_attacks_from_inside_a_guest_are_refused_by_the_kernel() {
    let (mut daemon, images) = daemon_with_images("");
    let a_image = image(images.path(), "a.img");
    let b_image = image(images.path(), "b.img");
    let a_before = file_state(&a_image);
    let b_before = file_state(&b_image);

    // Guest A: plain QEMU.
    let a_uuid = "30000000-0000-4000-8000-00000000000a";
    define(
        &daemon,
        &guest_xml("a", a_uuid, QEMU, &[(&a_image, "")]),
        "a",
    );
    ok(daemon.virsh(&["start", "a"]));
    let a_pid = pid_of(&daemon, "a");
    let a_label = dac_label(&daemon, "a");
    let a_status = proc_status(&a_pid.to_string());
    assert_ne!(
        a_status["Uid"].split_whitespace().next(),
        Some("0"),
        "{a_status:?}"
    );
    assert_eq!(a_status["NoNewPrivs"], "1");
    assert_eq!(a_status["Seccomp"], "2");
    assert_eq!(a_status["CapEff"], "0000000000000000");
    // A's image now belongs to A's uid, with the remembered owner beside it.
    let during = file_state(&a_image);
    assert_eq!(format!("+{}:+{}", during.0, during.1), a_label);
    assert!(
        during.4.iter().any(|x| x == "trusted.libvirt.security.dac"),
        "{during:?}"
    );

    // Guest B: the attacker, then QEMU.
    let setuid_id = images.path().join("id-setuid");
    std::fs::copy("/usr/bin/id", &setuid_id).unwrap();
    std::fs::set_permissions(&setuid_id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let targets = serde_json::json!({
        "other_image": a_image,
        "other_pid": a_pid,
        "own_image": b_image,
        "state_dir": daemon.state_dir(),
        "own_run_dir": daemon.run_dir().join("qemu/b"),
        "socket": daemon.socket(),
        "socket_ro": daemon.socket_ro(),
        "daemon_pid": daemon.child.as_ref().unwrap().id(),
        "setuid_id": setuid_id,
        "qemu": QEMU,
    });
    let script = include_str!("attack.py").replace("@TARGETS@", &targets.to_string());
    let attacker = images.path().join("attack.py");
    std::fs::write(&attacker, script).unwrap();
    std::fs::set_permissions(&attacker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let b_uuid = "30000000-0000-4000-8000-00000000000b";
    define(
        &daemon,
        &guest_xml(
            "b",
            b_uuid,
            attacker.to_str().unwrap(),
            &[(&b_image, ""), (&setuid_id, "<readonly/>")],
        ),
        "b",
    );
    ok(daemon.virsh(&["start", "b"]));
    let log = std::fs::read_to_string(daemon.state_dir().join("qemu/b.log")).unwrap();
    assert!(
        log.contains("ATTACKS DONE"),
        "the attacker did not finish:\n{log}"
    );
    let b_label = dac_label(&daemon, "b");
    assert_ne!(a_label, b_label, "two guests share a uid");
    let mut attacks = 0;
    for line in log.lines() {
        let mut words = line.splitn(4, ' ');
        let (kind, name, verdict, detail) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
        );
        if !matches!(kind, "ATTACK" | "CHECK") {
            continue;
        }
        if let Some(threat) = threat_of(name) {
            let expected = if kind == "ATTACK" {
                "refused by the kernel"
            } else {
                "holds"
            };
            let passed = matches!(verdict, "REFUSED" | "OK");
            threats::record(
                threat,
                name,
                expected,
                &format!("{verdict}: {detail}"),
                passed,
            );
        }
        if kind == "ATTACK" {
            attacks += 1;
            assert!(verdict == "REFUSED", "an attack succeeded: {line}\n{log}");
        } else {
            assert!(verdict == "OK", "a check failed: {line}\n{log}");
        }
    }
    assert!(attacks >= 20, "only {attacks} attacks ran:\n{log}");
    let dev = log
        .lines()
        .find(|l| l.starts_with("CHECK dev_nodes"))
        .unwrap();
    for node in ["null", "zero", "urandom"] {
        assert!(dev.contains(node), "{dev}");
    }
    for absent in ["sda", "vda", "mem", "kmsg", "port"] {
        assert!(!dev.split_whitespace().any(|w| w == absent), "{dev}");
    }
    // Guest A is untouched and both guests run.
    assert!(ok(daemon.virsh(&["domstate", "a"])).starts_with("running"));
    assert!(ok(daemon.virsh(&["domstate", "b"])).starts_with("running"));

    // dominfo reports the model and the label.
    let info = ok(daemon.virsh(&["dominfo", "b"]));
    assert!(info.contains("Security model:"), "{info}");

    // Destroy: every file back as it was, nothing remembered left, no cgroup left.
    ok(daemon.virsh(&["destroy", "a"]));
    ok(daemon.virsh(&["destroy", "b"]));
    assert_eq!(file_state(&a_image), a_before);
    assert_eq!(file_state(&b_image).0, b_before.0);
    assert_eq!(file_state(&b_image).4, Vec::<String>::new());
    assert!(cgroup_dirs(&daemon, a_uuid).is_empty());
    assert!(cgroup_dirs(&daemon, b_uuid).is_empty());
    assert!(!daemon.run_dir().join("qemu/a.xml").exists());
    daemon.kill();
}

#[test]
fn t7_uids_stay_unique_across_a_daemon_restart() {
    let (mut daemon, images) = daemon_with_images("");
    let one = image(images.path(), "one.img");
    let before = file_state(&one);
    define(
        &daemon,
        &guest_xml(
            "one",
            "31000000-0000-4000-8000-000000000001",
            QEMU,
            &[(&one, "")],
        ),
        "one",
    );
    define(
        &daemon,
        &guest_xml("two", "31000000-0000-4000-8000-000000000002", QEMU, &[]),
        "two",
    );
    ok(daemon.virsh(&["start", "one"]));
    let one_label = dac_label(&daemon, "one");
    // A transient guest too: known after the restart only from its live state.
    let tr = image(images.path(), "tr.img");
    let tr_before = file_state(&tr);
    let tr_xml = write_file(
        daemon.dir.path(),
        "tr.xml",
        &guest_xml(
            "tr",
            "31000000-0000-4000-8000-000000000003",
            QEMU,
            &[(&tr, "")],
        ),
    );
    ok(daemon.virsh(&["create", tr_xml.to_str().unwrap()]));
    let tr_label = dac_label(&daemon, "tr");
    daemon.kill();
    daemon.spawn();
    assert_eq!(dac_label(&daemon, "tr"), tr_label);
    ok(daemon.virsh(&["destroy", "tr"]));
    assert_eq!(file_state(&tr), tr_before);
    assert!(!ok(daemon.virsh(&["list", "--all", "--name"])).contains("tr"));
    // The running guest was found again with its label, and the label is held: the next
    // guest gets another one.
    assert_eq!(dac_label(&daemon, "one"), one_label);
    ok(daemon.virsh(&["start", "two"]));
    let two_label = dac_label(&daemon, "two");
    threats::record(
        "T7",
        "a new guest after a daemon restart asks for a dynamic uid",
        "never one a running guest holds",
        &format!("running guest {one_label}, new guest {two_label}"),
        two_label != one_label,
    );
    assert_ne!(two_label, one_label);
    // Restore still works for the guest started by the previous daemon.
    ok(daemon.virsh(&["destroy", "one"]));
    ok(daemon.virsh(&["destroy", "two"]));
    assert_eq!(file_state(&one), before);
}

#[test]
fn a_failed_start_changes_nothing() {
    let (daemon, images) = daemon_with_images("");
    let disk = image(images.path(), "f.img");
    let before = file_state(&disk);
    let failing = images.path().join("failing-emulator");
    std::fs::write(&failing, "#!/bin/sh\necho failing on purpose >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uuid = "32000000-0000-4000-8000-000000000001";
    define(
        &daemon,
        &guest_xml("f", uuid, failing.to_str().unwrap(), &[(&disk, "")]),
        "f",
    );
    let err = fails(daemon.virsh(&["start", "f"]));
    assert!(err.contains("failing on purpose"), "{err}");
    assert_eq!(file_state(&disk), before);
    assert!(cgroup_dirs(&daemon, uuid).is_empty());
    assert!(!daemon.run_dir().join("qemu/f.xml").exists());
    assert!(!daemon.run_dir().join("qemu/f").exists());
    // A second guest on the same range gets the first uid again: nothing was kept.
    let audit = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap();
    assert!(audit.contains("SECURITY_SET_LABELS"), "{audit}");
    assert!(audit.contains("SECURITY_RESTORE_LABELS"), "{audit}");
}

#[test]
fn t12_disks_outside_the_image_store_and_whole_disks_are_refused() {
    let (daemon, images) = daemon_with_images("");
    let outside = tempfile::tempdir().unwrap();
    let stray = image(outside.path(), "stray.img");
    let before = file_state(&stray);
    define(
        &daemon,
        &guest_xml(
            "stray",
            "33000000-0000-4000-8000-000000000001",
            QEMU,
            &[(&stray, "")],
        ),
        "stray",
    );
    let err = fails(daemon.virsh(&["start", "stray"]));
    threats::record(
        "T12",
        "start a guest whose disk lies outside the image store",
        "refused, logged",
        err.trim(),
        err.contains("outside the image directories"),
    );
    assert!(err.contains("outside the image directories"), "{err}");
    assert!(err.contains("2.2"), "{err}");
    assert_eq!(file_state(&stray), before);

    let whole = format!(
        "<domain type='qemu'><name>whole</name><uuid>33000000-0000-4000-8000-000000000002</uuid>\
         <memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices>\
         <emulator>{QEMU}</emulator><disk type='block' device='disk'><source dev='/dev/sdz'/>\
         <target dev='vda' bus='virtio'/></disk></devices></domain>"
    );
    define(&daemon, &whole, "whole");
    let err = fails(daemon.virsh(&["start", "whole"]));
    threats::record(
        "T12",
        "start a guest given the whole host disk /dev/sdz writable",
        "refused, logged",
        err.trim(),
        err.contains("whole host disk /dev/sdz"),
    );
    assert!(err.contains("whole host disk /dev/sdz"), "{err}");
    let audit = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap();
    assert!(audit.contains("whole host disk"), "{audit}");
    drop(images);
}

#[test]
fn selinux_model_labels_images_with_unique_pairs_and_restores_them() {
    let (mut daemon, images) = daemon_with_images(
        "security_driver = \"selinux\"\nselinux_test_context = \"system_u:system_r:virtd_t:s0-s0:c0.c1023\"\n",
    );
    let one = image(images.path(), "s1.img");
    let two = image(images.path(), "s2.img");
    let shared = image(images.path(), "shared.img");
    let before = [file_state(&one), file_state(&two), file_state(&shared)];
    for (name, uuid, disk) in [
        ("s1", "34000000-0000-4000-8000-000000000001", &one),
        ("s2", "34000000-0000-4000-8000-000000000002", &two),
    ] {
        let xml = guest_xml(name, uuid, QEMU, &[(disk, ""), (&shared, "<shareable/>")]);
        define(&daemon, &xml, name);
        ok(daemon.virsh(&["start", name]));
    }
    let label = |p: &Path| file_state(p).3.unwrap();
    let (l1, l2) = (label(&one), label(&two));
    assert!(
        l1.starts_with("system_u:object_r:svirt_image_t:s0:c"),
        "{l1}"
    );
    assert_ne!(l1, l2, "two guests got the same MCS pair");
    assert_eq!(label(&shared), "system_u:object_r:svirt_image_t:s0");
    let info = ok(daemon.virsh(&["dominfo", "s1"]));
    assert!(info.contains("Security model: selinux"), "{info}");
    assert!(info.contains("Security DOI:   0"), "{info}");
    let pair = l1.rsplit_once(":s0:").unwrap().1.to_owned();
    assert!(
        info.contains("Security label: system_u:system_r:svirt_tcg_t:s0:") && info.contains(&pair),
        "{info}"
    );
    // A restarted daemon holds the running guests' pairs again: a third guest gets another.
    daemon.kill();
    daemon.spawn();
    let three = image(images.path(), "s3.img");
    let xml = guest_xml(
        "s3",
        "34000000-0000-4000-8000-000000000003",
        QEMU,
        &[(&three, "")],
    );
    define(&daemon, &xml, "s3");
    ok(daemon.virsh(&["start", "s3"]));
    let l3 = label(&three);
    threats::record(
        "T7",
        "a new guest after a daemon restart asks for an MCS pair",
        "never one a running guest holds",
        &format!("running {l1} and {l2}, new {l3}"),
        l3 != l1 && l3 != l2 && l1 != l2,
    );
    assert!(l3 != l1 && l3 != l2, "{l3} reused a running guest's pair");
    ok(daemon.virsh(&["destroy", "s3"]));
    let xml = ok(daemon.virsh(&["dumpxml", "s1"]));
    assert!(
        xml.contains("model='selinux'") && xml.contains("svirt_image_t:s0:c"),
        "{xml}"
    );
    ok(daemon.virsh(&["destroy", "s1"]));
    ok(daemon.virsh(&["destroy", "s2"]));
    assert_eq!(file_state(&one), before[0]);
    assert_eq!(file_state(&two), before[1]);
    // As libvirt: a shared image keeps the shared label (other guests may still use it); its
    // owner, mode and ACL come back and nothing is remembered on it.
    let shared_after = file_state(&shared);
    assert_eq!(
        (
            shared_after.0,
            shared_after.1,
            shared_after.2,
            &shared_after.4
        ),
        (before[2].0, before[2].1, before[2].2, &before[2].4)
    );
    assert_eq!(
        shared_after.3.as_deref(),
        Some("system_u:object_r:svirt_image_t:s0")
    );
}

#[test]
fn require_confined_refuses_unconfined_guests() {
    let (daemon, _images) = daemon_with_images("security_require_confined = 1\n");
    let xml = "<domain type='qemu'><name>bare</name>\
        <uuid>35000000-0000-4000-8000-000000000001</uuid><memory unit='MiB'>64</memory>\
        <os><type arch='x86_64'>hvm</type></os><seclabel type='none' model='landlock'/></domain>";
    define(&daemon, xml, "bare");
    let err = fails(daemon.virsh(&["start", "bare"]));
    assert!(
        err.contains("Unconfined guests are not allowed on this host"),
        "{err}"
    );
}

#[test]
fn a_security_driver_this_host_cannot_run_stops_the_daemon_at_start() {
    let (err, _dir) = moatd_refuses_config("security_driver = \"selinux\"\n");
    assert!(
        err.contains("selinux") && err.contains("not enabled"),
        "{err}"
    );
}
