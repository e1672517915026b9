//! Faults: moatd SIGKILLed at arbitrary points while guests are defined, started, destroyed and
//! undefined by a real python-libvirt client. After each restart nothing of a guest that is not
//! running may be left behind — no QEMU, cgroup, live state, run directory, changed owner or
//! `trusted.libvirt.security.*` xattr on its image — and running guests hold distinct uids.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const GUESTS: usize = 4;
const ROUNDS: u64 = 8;

/// Defines, starts, destroys and undefines guests in a loop until killed.
const CHURN: &str = r#"
import libvirt, sys, random
uri, seed, xmls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
conn = libvirt.open(uri)
rng = random.Random(seed)
while True:
    xml = rng.choice(xmls)
    try:
        dom = conn.defineXML(xml)
        if not dom.isActive():
            dom.create()
        if rng.random() < 0.6:
            dom.destroy()
        if rng.random() < 0.3 and not dom.isActive():
            dom.undefine()
    except libvirt.libvirtError:
        pass
"#;

fn guest_xml(name: &str, uuid: &str, disk: &Path) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>{QEMU}</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk></devices></domain>",
        disk.display()
    )
}

/// Every pid whose command line names `-uuid UUID`.
fn qemus_of(uuid: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args
            .windows(2)
            .any(|w| w[0] == b"-uuid" && w[1] == uuid.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

fn uid_of(pid: i32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn trusted_xattrs(path: &Path) -> Vec<String> {
    xattr::list(path)
        .unwrap()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with("trusted.libvirt"))
        .collect()
}

/// Checks what must hold after a restart; returns how many guests run.
fn check_nothing_leaks(daemon: &TestDaemon, guests: &[(String, String, PathBuf)]) -> usize {
    let running: BTreeSet<String> = ok(daemon.virsh(&["list", "--name"]))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut uids = BTreeSet::new();
    for (name, uuid, disk) in guests {
        let qemus = qemus_of(uuid);
        let meta = std::fs::metadata(disk).unwrap();
        if running.contains(name) {
            assert_eq!(qemus.len(), 1, "{name}: running with QEMUs {qemus:?}");
            let uid = uid_of(qemus[0]).unwrap();
            assert_ne!(uid, 0, "{name}: QEMU runs as root");
            assert!(
                uids.insert(uid),
                "{name}: uid {uid} shared with another guest"
            );
            assert_eq!(meta.uid(), uid, "{name}: its image is not its own");
        } else {
            assert!(qemus.is_empty(), "{name}: not running, yet QEMUs {qemus:?}");
            assert_eq!(
                (meta.uid(), meta.gid()),
                (4242, 4242),
                "{name}: image owner not restored"
            );
            assert_eq!(
                trusted_xattrs(disk),
                Vec::<String>::new(),
                "{name}: remembered owner left on its image"
            );
            assert!(
                !daemon.run_dir().join(format!("qemu/{name}.xml")).exists(),
                "{name}: live state left"
            );
            assert!(
                !daemon.run_dir().join(format!("qemu/{name}")).exists(),
                "{name}: run directory left"
            );
            let cgroups: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
                .unwrap()
                .flatten()
                .map(|c| c.path().join(daemon.cgroup_parent()).join(uuid))
                .filter(|p| p.exists())
                .collect();
            assert!(cgroups.is_empty(), "{name}: cgroups left: {cgroups:?}");
        }
    }
    running.len()
}

#[test]
fn sigkill_at_any_point_of_the_lifecycle_leaks_nothing() {
    let images = tempfile::tempdir().unwrap();
    let config = format!("image_dirs = [\"{}\"]\n", images.path().display());
    let mut daemon = TestDaemon::start_with_config(Some(&config));
    let guests: Vec<(String, String, PathBuf)> = (0..GUESTS)
        .map(|i| {
            let disk = images.path().join(format!("f{i}.img"));
            std::fs::write(&disk, vec![0u8; 1 << 16]).unwrap();
            std::os::unix::fs::chown(&disk, Some(4242), Some(4242)).unwrap();
            std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o600)).unwrap();
            (
                format!("f{i}"),
                format!("36000000-0000-4000-8000-00000000000{i}"),
                disk,
            )
        })
        .collect();
    let xmls: Vec<String> = guests
        .iter()
        .map(|(name, uuid, disk)| guest_xml(name, uuid, disk))
        .collect();
    // A fixed sequence of kill delays (ms), spread over the lifecycle's steps.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut max_running = 0;
    for round in 0..ROUNDS {
        let mut churn = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(CHURN)
            .arg(daemon.uri())
            .arg(round.to_string())
            .args(&xmls)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 900));
        daemon.kill();
        let _ = churn.kill();
        let _ = churn.wait();
        daemon.spawn();
        max_running = max_running.max(check_nothing_leaks(&daemon, &guests));
    }
    assert!(
        max_running > 0,
        "no guest was ever running at a kill: the test tried nothing"
    );
    // Stop everything: the host is as it was.
    for (name, _, _) in &guests {
        let _ = daemon.virsh(&["destroy", name]);
    }
    check_nothing_leaks(&daemon, &guests);
    threats::record(
        "T11",
        &format!("moatd SIGKILLed {ROUNDS} times during define/start/destroy/undefine"),
        "nothing lost or leaked",
        &format!("no QEMU, cgroup, owner, xattr or runtime file left of a stopped guest; up to {max_running} guests running at a kill"),
        true,
    );
}

#[test]
fn a_qemu_that_never_answers_is_killed_and_its_start_undone() {
    let images = tempfile::tempdir().unwrap();
    let config = format!("image_dirs = [\"{}\"]\n", images.path().display());
    let daemon = TestDaemon::start_with_config(Some(&config));
    let disk = images.path().join("hang.img");
    std::fs::write(&disk, vec![0u8; 1 << 16]).unwrap();
    std::os::unix::fs::chown(&disk, Some(4242), Some(4242)).unwrap();
    // An "emulator" that starts and then never opens its monitor.
    let hang = images.path().join("hanging-emulator");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uuid = "37000000-0000-4000-8000-000000000001";
    let xml = guest_xml("hang", uuid, &disk).replace(QEMU, hang.to_str().unwrap());
    let file = write_file(daemon.dir.path(), "hang.xml", &xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let started = std::time::Instant::now();
    let err = fails(daemon.virsh(&["start", "hang"]));
    assert!(err.contains("did not answer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let guests = [("hang".to_owned(), uuid.to_owned(), disk)];
    check_nothing_leaks(&daemon, &guests);
    assert!(ok(daemon.virsh(&["domstate", "hang"])).contains("shut off"));
}

#[test]
fn a_full_state_directory_fails_defines_clearly_and_keeps_serving() {
    let mut daemon = TestDaemon::start();
    daemon.kill();
    // The state directory on a 512 KiB tmpfs of its own.
    let state = daemon.state_dir();
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k,mode=0700", "moat-test-full"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(mounted.success(), "cannot mount a tmpfs for the test");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(state.clone());
    daemon.spawn();
    let first = write_file(
        daemon.dir.path(),
        "keep.xml",
        &domain_xml("keep", "38000000-0000-4000-8000-000000000001"),
    );
    ok(daemon.virsh(&["define", first.to_str().unwrap()]));
    // Fill the file system.
    let filler = state.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 1 << 20]);
    let second = write_file(
        daemon.dir.path(),
        "more.xml",
        &domain_xml("more", "38000000-0000-4000-8000-000000000002"),
    );
    let err = fails(daemon.virsh(&["define", second.to_str().unwrap()]));
    assert!(
        err.contains("cannot store the definition") || err.contains("No space left"),
        "{err}"
    );
    // Reads still work, the earlier definition is intact, the failed one is not half there.
    let list = ok(daemon.virsh(&["list", "--all", "--name"]));
    assert_eq!(sorted_names(&list), ["keep"]);
    assert!(ok(daemon.virsh(&["dumpxml", "keep"])).contains("<name>keep</name>"));
    std::fs::remove_file(&filler).unwrap();
    daemon.kill();
    daemon.spawn();
    assert_eq!(
        sorted_names(&ok(daemon.virsh(&["list", "--all", "--name"]))),
        ["keep"]
    );
    ok(daemon.virsh(&["define", second.to_str().unwrap()]));
    threats::record(
        "T11",
        "define while the state directory is full",
        "clear error, earlier definitions intact, reads served",
        err.trim(),
        true,
    );
}

#[test]
fn an_unwritable_definitions_directory_fails_defines_clearly_and_keeps_serving() {
    let daemon = TestDaemon::start();
    let first = write_file(
        daemon.dir.path(),
        "keep.xml",
        &domain_xml("keep", "39000000-0000-4000-8000-000000000001"),
    );
    ok(daemon.virsh(&["define", first.to_str().unwrap()]));
    // An immutable directory refuses even root (the daemon's state on a read-only medium).
    let domains = daemon.state_dir().join("domains");
    let chattr = |flag: &str| {
        let status = Command::new("chattr")
            .arg(flag)
            .arg(&domains)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "chattr {flag} (needs ext4 or another fs with attributes)"
        );
    };
    chattr("+i");
    struct Mutable(PathBuf);
    impl Drop for Mutable {
        fn drop(&mut self) {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        }
    }
    let _mutable = Mutable(domains.clone());
    let second = write_file(
        daemon.dir.path(),
        "more.xml",
        &domain_xml("more", "39000000-0000-4000-8000-000000000002"),
    );
    let err = fails(daemon.virsh(&["define", second.to_str().unwrap()]));
    assert!(err.contains("cannot store the definition"), "{err}");
    let err = fails(daemon.virsh(&["undefine", "keep"]));
    assert!(!err.is_empty());
    assert_eq!(
        sorted_names(&ok(daemon.virsh(&["list", "--all", "--name"]))),
        ["keep"]
    );
    assert!(ok(daemon.virsh(&["dumpxml", "keep"])).contains("<name>keep</name>"));
    chattr("-i");
    ok(daemon.virsh(&["define", second.to_str().unwrap()]));
    ok(daemon.virsh(&["undefine", "keep"]));
}
