//! The stack end to end on real files: labels, owners, ACLs and xattrs during and after a run.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use domxml::model::{Seclabel, SeclabelType};

use super::*;
use crate::context::FakeContext;
use crate::posix_acl;
use crate::relabel::Action;

const DAEMON: &str = "system_u:system_r:virtd_t:s0-s0:c0.c1023";
const BOOT: u64 = 1_700_000_000;
const ORIGINAL: &str = "system_u:object_r:virt_image_t:s0";
const OWNER: u32 = 1234;

struct Host {
    dir: tempfile::TempDir,
    selinux: FakeContext,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("img")).unwrap();
        std::fs::write(
            dir.path().join("proc/stat"),
            format!("cpu  1 2 3\nbtime {BOOT}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nold:x:1000000:1000000::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\n").unwrap();
        Self {
            dir,
            selinux: FakeContext::new(DAEMON),
        }
    }

    fn host(&self, selinux: bool, landlock: bool) -> HostSecurity {
        HostSecurity {
            selinux: selinux.then(|| Box::new(self.selinux.clone()) as Box<dyn ProcessContext>),
            landlock_abi: landlock.then_some(4),
            proc_root: self.dir.path().join("proc"),
            passwd_root: self.dir.path().to_owned(),
        }
    }

    fn stack(&self) -> SecurityStack {
        SecurityStack::new(&SecurityConfig::default(), self.host(true, true)).unwrap()
    }

    fn stack_with(&self, config: SecurityConfig, selinux: bool) -> SecurityStack {
        SecurityStack::new(&config, self.host(selinux, true)).unwrap()
    }

    /// A file owned by OWNER, mode 0640, with the ORIGINAL SELinux label.
    fn image(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("img").join(name);
        std::fs::write(&path, b"data").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&path, Some(OWNER), Some(OWNER)).unwrap();
        crate::selinux::set_file_label(&path, ORIGINAL).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("img").join(name)
    }

    fn write_status(&self, pid: i32, id: u32) {
        let dir = self.dir.path().join("proc").join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("status"),
            format!("Name:\tqemu\nUid:\t{id}\t{id}\t{id}\t{id}\nGid:\t{id}\t{id}\t{id}\t{id}\n"),
        )
        .unwrap();
    }
}

fn domain(name: &str, devices: &str, os: &str, seclabels: &str) -> Domain {
    let uuid = Uuid::new_v4();
    let xml = format!(
        "<domain type='kvm'><name>{name}</name><uuid>{uuid}</uuid><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64'>hvm</type>{os}</os><devices>{devices}</devices>{seclabels}</domain>"
    );
    domxml::parse(&xml, &domxml::ParseOptions::default()).unwrap()
}

fn disk(path: &Path, dev: &str, extra: &str) -> String {
    format!(
        "<disk type='file' device='disk'><source file='{}'/><target dev='{dev}' bus='virtio'/>{extra}</disk>",
        path.display()
    )
}

fn disk_with_backing(top: &Path, base: &Path, dev: &str) -> String {
    format!(
        "<disk type='file' device='disk'><source file='{}'/>\
         <backingStore type='file'><format type='raw'/><source file='{}'/></backingStore>\
         <target dev='{dev}' bus='virtio'/></disk>",
        top.display(),
        base.display()
    )
}

#[derive(Debug, PartialEq, Eq)]
struct FileState {
    uid: u32,
    gid: u32,
    mode: u32,
    label: Option<String>,
    acl: Option<Vec<u8>>,
    remembered: Vec<String>,
}

fn state(path: &Path) -> FileState {
    let meta = std::fs::metadata(path).unwrap();
    FileState {
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        label: crate::selinux::file_label(path).unwrap(),
        acl: xattr::get(path, posix_acl::XATTR).unwrap(),
        remembered: remember::list(path).unwrap(),
    }
}

fn label(model: &str, labels: &[Seclabel]) -> Seclabel {
    labels
        .iter()
        .find(|l| l.model.as_deref() == Some(model))
        .unwrap()
        .clone()
}

fn config(drivers: &[&str]) -> SecurityConfig {
    SecurityConfig {
        drivers: drivers.iter().map(|d| d.to_string()).collect(),
        ..SecurityConfig::default()
    }
}

#[test]
fn stack_building_follows_security_driver() {
    let host = Host::new();
    let err = |drivers: &[&str], selinux: bool, landlock: bool| {
        SecurityStack::new(&config(drivers), host.host(selinux, landlock))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&["selinux"], false, true),
        "security driver selinux is not enabled on this host"
    );
    assert_eq!(
        err(&["landlock"], true, false),
        "security driver landlock is not enabled on this host"
    );
    assert_eq!(
        err(&["apparmor"], true, true),
        "security driver apparmor not found"
    );
    assert_eq!(
        err(&["selinux", "selinux"], true, true),
        "Duplicate security driver selinux"
    );
    assert_eq!(
        err(&["none", "selinux"], true, true),
        "security driver none cannot be combined with other drivers"
    );
    assert!(err(&["dac"], true, true).starts_with("security driver dac cannot be listed"));
    let strict = SecurityConfig {
        require_confined: true,
        ..config(&[])
    };
    assert_eq!(
        SecurityStack::new(&strict, host.host(false, false))
            .unwrap_err()
            .to_string(),
        "Security driver \"none\" cannot create confined guests"
    );

    let names = |drivers: &[&str], selinux, landlock, privileged| {
        let config = SecurityConfig {
            privileged,
            ..config(drivers)
        };
        SecurityStack::new(&config, host.host(selinux, landlock))
            .unwrap()
            .model_names()
    };
    assert_eq!(names(&[], true, true, true), ["selinux", "dac"]);
    assert_eq!(names(&[], false, true, true), ["landlock", "dac"]);
    assert_eq!(names(&[], false, false, false), ["none"]);
    assert_eq!(
        names(&["landlock", "selinux"], true, true, false),
        ["landlock", "selinux"]
    );

    let stack = host.stack();
    assert_eq!(stack.primary_model(), "selinux");
    assert_eq!(stack.doi(), "0");
    let models = stack.models();
    assert_eq!(models[0].name, "selinux");
    assert_eq!(
        models[0].base_labels,
        [
            ("kvm".to_owned(), "system_u:system_r:svirt_t:s0".to_owned()),
            (
                "qemu".to_owned(),
                "system_u:system_r:svirt_tcg_t:s0".to_owned()
            )
        ]
    );
    assert_eq!(models[1].name, "dac");

    host.selinux
        .fail_current(Some(std::io::ErrorKind::PermissionDenied));
    assert_eq!(
        err(&["selinux"], true, true),
        "read the daemon's SELinux context"
    );
}

#[test]
fn generate_selinux_and_dac_labels() {
    let host = Host::new();
    let stack = host.stack();

    // Implicit dynamic labels, one per model, in stack order.
    let def = domain("a", "", "", "");
    let labels = stack.generate(&def).unwrap();
    assert_eq!(labels.len(), 2);
    let se = &labels[0];
    assert_eq!(se.model.as_deref(), Some("selinux"));
    assert!(se.implicit && se.relabel);
    let process = se.label.as_deref().unwrap();
    assert!(
        process.starts_with("system_u:system_r:svirt_t:s0:c"),
        "{process}"
    );
    let image = se.imagelabel.as_deref().unwrap();
    assert_eq!(
        image.rsplit_once(':').unwrap().1,
        process.rsplit_once(':').unwrap().1
    );
    assert!(image.starts_with("system_u:object_r:svirt_image_t:s0:c"));
    // 1000000 is a host account: skipped.
    assert_eq!(labels[1].label.as_deref(), Some("+1000001:+1000001"));
    assert_eq!(labels[1].imagelabel.as_deref(), Some("+1000001:+1000001"));
    assert_eq!(stack.exec_label(&labels).as_deref(), Some(process));
    assert_eq!(
        stack.credentials(&labels),
        Some(Credentials {
            uid: 1_000_001,
            gid: 1_000_001
        })
    );

    // A second guest gets another uid and another pair.
    let other = stack.generate(&domain("b", "", "", "")).unwrap();
    assert_ne!(other[0].label, labels[0].label);
    assert_eq!(other[1].label.as_deref(), Some("+1000002:+1000002"));
    stack.release(&labels);
    let third = stack.generate(&domain("c", "", "", "")).unwrap();
    assert_eq!(third[1].label.as_deref(), Some("+1000001:+1000001"));

    // TCG guests, baselabel.
    let tcg = stack
        .generate(&domxml::parse(
            "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os></domain>",
            &domxml::ParseOptions::default(),
        ).unwrap())
        .unwrap();
    assert!(tcg[0].label.as_deref().unwrap().contains(":svirt_tcg_t:"));
    let base = stack
        .generate(&domain(
            "d",
            "",
            "",
            "<seclabel type='dynamic' model='selinux'><baselabel>system_u:system_r:my_svirt_t:s0</baselabel></seclabel>",
        ))
        .unwrap();
    assert!(base[0]
        .label
        .as_deref()
        .unwrap()
        .contains(":my_svirt_t:s0:c"));
    assert!(!base[0].implicit);

    // Static labels are honoured as given and held.
    let static_def = domain(
        "s",
        "",
        "",
        "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c392,c662</label></seclabel>\
         <seclabel type='static' model='dac' relabel='yes'><label>+2000:+2001</label></seclabel>",
    );
    let st = stack.generate(&static_def).unwrap();
    assert_eq!(
        st[0].label.as_deref(),
        Some("system_u:system_r:svirt_t:s0:c392,c662")
    );
    assert_eq!(
        st[0].imagelabel.as_deref(),
        Some("system_u:object_r:svirt_image_t:s0:c392,c662")
    );
    assert_eq!(st[1].label.as_deref(), Some("+2000:+2001"));
    assert_eq!(
        stack.generate(&static_def).unwrap_err().to_string(),
        "MCS level s0:c392,c662 is already reserved"
    );
    stack.release(&st);
    stack.release(&stack.generate(&static_def).unwrap());

    // type none: no process label, image label s0, relabel off.
    let none = stack
        .generate(&domain(
            "n",
            "",
            "",
            "<seclabel type='none' model='selinux'/>",
        ))
        .unwrap();
    assert_eq!(none[0].kind, SeclabelType::None);
    assert_eq!(none[0].label, None);
    assert_eq!(
        none[0].imagelabel.as_deref(),
        Some("system_u:object_r:svirt_image_t:s0")
    );
    assert_eq!(stack.exec_label(&none), None);

    // Errors.
    assert_eq!(
        stack
            .generate(&domain(
                "x",
                "",
                "",
                "<seclabel type='dynamic' model='apparmor'/>"
            ))
            .unwrap_err()
            .to_string(),
        "Security driver model 'apparmor' is not available"
    );
    let mut no_label = domain("x", "", "", "");
    no_label
        .seclabels
        .push(Seclabel::new(SeclabelType::Static, Some("dac".into())));
    assert_eq!(
        stack.generate(&no_label).unwrap_err().to_string(),
        "missing label for static security driver in domain x"
    );
}

#[test]
fn require_confined_and_default_confined() {
    let host = Host::new();
    let strict = host.stack_with(
        SecurityConfig {
            require_confined: true,
            ..SecurityConfig::default()
        },
        true,
    );
    let def = domain("n", "", "", "<seclabel type='none' model='selinux'/>");
    assert_eq!(
        strict.generate(&def).unwrap_err().to_string(),
        "Unconfined guests are not allowed on this host"
    );
    // Nothing stays held after a refusal: the next guest gets the first free uid.
    let labels = strict.generate(&domain("a", "", "", "")).unwrap();
    assert_eq!(labels[1].label.as_deref(), Some("+1000001:+1000001"));

    let lax = host.stack_with(
        SecurityConfig {
            default_confined: false,
            ..SecurityConfig::default()
        },
        true,
    );
    let labels = lax.generate(&domain("a", "", "", "")).unwrap();
    // No selinux label without default_confined, but every guest still gets its own uid.
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].model.as_deref(), Some("dac"));

    let landlock = host.stack_with(config(&["landlock"]), false);
    let def = domain("l", "", "", "");
    let labels = landlock.generate(&def).unwrap();
    assert_eq!(labels[0].label, Some(format!("moat-{}", def.uuid)));
    assert_eq!(labels[0].imagelabel, labels[0].label);
    let pl = landlock.process_label(&labels, 1);
    assert_eq!(pl[0].label, format!("moat-{}", def.uuid));
    assert!(pl[0].enforcing);
}

#[test]
fn reserve_running_from_a_fake_proc_tree() {
    let host = Host::new();
    let stack = host.stack();
    let labels = vec![
        Seclabel {
            label: Some("system_u:system_r:svirt_t:s0:c87,c520".into()),
            imagelabel: Some("system_u:object_r:svirt_image_t:s0:c87,c520".into()),
            ..Seclabel::new(SeclabelType::Dynamic, Some("selinux".into()))
        },
        Seclabel {
            label: Some("+1000005:+1000005".into()),
            imagelabel: Some("+1000005:+1000005".into()),
            ..Seclabel::new(SeclabelType::Dynamic, Some("dac".into()))
        },
    ];
    host.selinux
        .set_pid(100, "system_u:system_r:svirt_t:s0:c87,c520");
    host.write_status(100, 1_000_005);
    stack.reserve_running(&labels, 100).unwrap();
    let pl = stack.process_label(&labels, 100);
    assert_eq!(pl[0].label, "system_u:system_r:svirt_t:s0:c87,c520");
    assert_eq!(pl[1].label, "+1000005:+1000005");
    assert!(!pl[1].enforcing);

    // The same guest twice: the MCS level is refused.
    assert_eq!(
        stack.reserve_running(&labels, 100).unwrap_err().to_string(),
        "MCS level for existing domain label system_u:system_r:svirt_t:s0:c87,c520 already reserved"
    );
    // Another process claiming the held uid is refused too, and its MCS level is not kept.
    host.selinux
        .set_pid(101, "system_u:system_r:svirt_t:s0:c1,c2");
    host.write_status(101, 1_000_005);
    let mut clash = labels.clone();
    clash[0].label = Some("system_u:system_r:svirt_t:s0:c1,c2".into());
    assert_eq!(
        stack.reserve_running(&clash, 101).unwrap_err().to_string(),
        "uid 1000005 is already in use by another running guest"
    );
    host.selinux
        .set_pid(102, "system_u:system_r:svirt_t:s0:c1,c2");
    host.write_status(102, 1_000_006);
    let mut clash2 = clash.clone();
    clash2[1].label = Some("+1000006:+1000006".into());
    stack.reserve_running(&clash2, 102).unwrap();

    // A process not running as its label.
    host.selinux
        .set_pid(103, "system_u:system_r:svirt_t:s0:c3,c4");
    host.write_status(103, 0);
    let mut wrong = labels.clone();
    wrong[1].label = Some("+1000007:+1000007".into());
    let err = stack.reserve_running(&wrong, 103).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("process 103 runs as uids [0, 0, 0, 0]"),
        "{err}"
    );

    // New guests never get a held uid.
    let fresh = stack.generate(&domain("f", "", "", "")).unwrap();
    assert_eq!(fresh[1].label.as_deref(), Some("+1000001:+1000001"));
    stack.release(&labels);
    stack.release(&clash2);
    assert!(host.selinux.calls().contains(&"of_pid(100)".to_owned()));
}

#[test]
fn set_all_then_restore_all_leaves_every_file_as_it_was() {
    let host = Host::new();
    let stack = host.stack();
    let top = host.image("top.qcow2");
    let base = host.image("base.raw");
    let iso = host.image("install.iso");
    let shared = host.image("shared.img");
    let kernel = host.image("vmlinuz");
    let nvram = host.image("VARS.fd");
    let serial = host.path("serial.log");
    let cdrom = format!(
        "<disk type='file' device='cdrom'><source file='{}'/><target dev='sda' bus='sata'/><readonly/></disk>",
        iso.display()
    );
    let devices = format!(
        "{}{cdrom}{}<serial type='file'><source path='{}'/><target port='0'/></serial>",
        disk_with_backing(&top, &base, "vda"),
        disk(&shared, "vdb", "<shareable/>"),
        serial.display()
    );
    let os = format!(
        "<kernel>{}</kernel><nvram>{}</nvram>",
        kernel.display(),
        nvram.display()
    );
    let def = domain("g", &devices, &os, "");
    let files = [&top, &base, &iso, &shared, &kernel, &nvram];
    let before: Vec<FileState> = files.iter().map(|p| state(p)).collect();

    let labels = stack.generate(&def).unwrap();
    let image = label("selinux", &labels).imagelabel.unwrap();
    let uid = stack.credentials(&labels).unwrap().uid;
    let applied = stack.set_all(&def, &labels).unwrap();
    assert!(applied
        .items
        .iter()
        .any(|i| i.path == top && i.action == Action::Chown && i.old == "+1234:+1234"));

    let content = "system_u:object_r:virt_content_t:s0";
    let during = |p: &Path| state(p);
    let t = during(&top);
    assert_eq!(t.label.as_deref(), Some(image.as_str()));
    assert_eq!((t.uid, t.gid), (uid, uid));
    assert_eq!(
        xattr::get(&top, "trusted.libvirt.security.selinux")
            .unwrap()
            .unwrap(),
        ORIGINAL.as_bytes()
    );
    assert_eq!(
        xattr::get(&top, "trusted.libvirt.security.dac")
            .unwrap()
            .unwrap(),
        b"+1234:+1234"
    );
    assert_eq!(
        xattr::get(&top, "trusted.libvirt.security.timestamp_dac")
            .unwrap()
            .unwrap(),
        BOOT.to_string().as_bytes()
    );
    for (path, wanted, perm) in [
        (&base, content, posix_acl::READ),
        (&iso, content, posix_acl::READ),
        (&kernel, content, posix_acl::READ),
        (
            &shared,
            "system_u:object_r:svirt_image_t:s0",
            posix_acl::READ | posix_acl::WRITE,
        ),
    ] {
        let s = during(path);
        assert_eq!(s.label.as_deref(), Some(wanted), "{}", path.display());
        assert_eq!(
            (s.uid, s.gid),
            (OWNER, OWNER),
            "never handed over: {}",
            path.display()
        );
        assert_eq!(posix_acl::read(path).unwrap().user(uid), Some(perm));
    }
    assert_eq!(during(&nvram).uid, uid);
    assert_eq!(during(&serial).uid, uid);
    assert_eq!(during(&serial).label.as_deref(), Some(image.as_str()));

    let warnings = stack.restore_all(&def, &labels);
    assert!(warnings.is_empty(), "{warnings:?}");
    stack.release(&labels);
    for (path, was) in files.iter().zip(&before) {
        let now = state(path);
        let shared_label = [&base, &iso, &shared].contains(path);
        if shared_label {
            // libvirt's rule: read-only and shared images keep their shared label, because
            // other guests may still use them; owner, mode and ACL are back.
            assert_eq!(
                FileState {
                    label: was.label.clone(),
                    ..now
                },
                *was,
                "{}",
                path.display()
            );
        } else {
            assert_eq!(now, *was, "{}", path.display());
        }
    }
    let s = state(&serial);
    assert_eq!((s.uid, s.label, s.remembered.len()), (0, None, 0));
}

#[test]
fn a_second_guest_on_the_same_writable_image_is_refused() {
    let host = Host::new();
    let stack = host.stack();
    let top = host.image("top.qcow2");
    let shared = host.image("shared.img");
    let devices = format!(
        "{}{}",
        disk(&top, "vda", ""),
        disk(&shared, "vdb", "<shareable/>")
    );
    let first = domain("one", &devices, "", "");
    let second = domain("two", &devices, "", "");
    let l1 = stack.generate(&first).unwrap();
    let l2 = stack.generate(&second).unwrap();
    assert_ne!(l1[0].label, l2[0].label);
    assert_ne!(stack.credentials(&l1), stack.credentials(&l2));

    stack.set_all(&first, &l1).unwrap();
    let held = state(&top);
    let held_shared = state(&shared);
    let err = stack.set_all(&second, &l2).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Setting different SELinux label on {} which is already in use",
            top.display()
        )
    );
    assert_eq!(state(&top), held);
    assert_eq!(state(&shared), held_shared);
    assert_eq!(
        xattr::get(&top, "trusted.libvirt.security.ref_selinux")
            .unwrap()
            .unwrap(),
        b"1"
    );

    // A dac-only stack refuses with the DAC message.
    let dac_only = SecurityStack::new(&config(&["none"]), host.host(false, false)).unwrap();
    // Another daemon's allocator: skip the uid the first guest holds.
    dac_only.generate(&domain("skip", "", "", "")).unwrap();
    let l3 = dac_only.generate(&second).unwrap();
    let err = dac_only.set_all(&second, &l3).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Setting different DAC user or group on {} which is already in use",
            top.display()
        )
    );

    // Shareable disks alone are fine for two guests.
    let both = disk(&shared, "vdb", "<shareable/>");
    let a = domain("a", &both, "", "");
    let b = domain("b", &both, "", "");
    let la = stack.generate(&a).unwrap();
    let lb = stack.generate(&b).unwrap();
    stack.set_all(&a, &la).unwrap();
    stack.set_all(&b, &lb).unwrap();
    let acl = posix_acl::read(&shared).unwrap();
    assert!(acl.user(stack.credentials(&la).unwrap().uid).is_some());
    assert!(acl.user(stack.credentials(&lb).unwrap().uid).is_some());
    assert!(stack.restore_all(&a, &la).is_empty());
    assert!(stack.restore_all(&b, &lb).is_empty());
    assert!(stack.restore_all(&first, &l1).is_empty());
    let s = state(&shared);
    assert_eq!(
        (s.uid, s.mode, s.acl, s.remembered.len()),
        (OWNER, 0o640, None, 0)
    );
    let t = state(&top);
    assert_eq!(
        (t.uid, t.label.as_deref(), t.remembered.len()),
        (OWNER, Some(ORIGINAL), 0)
    );
}

#[test]
fn a_failing_set_all_rolls_everything_back() {
    let host = Host::new();
    let stack = host.stack();
    let first = host.image("first.img");
    let readonly = host.image("ro.img");
    let missing = host.path("missing.img");
    let last = host.image("last.img");
    let devices = format!(
        "{}{}{}{}",
        disk(&first, "vda", ""),
        disk(&readonly, "vdb", "<readonly/>"),
        disk(&missing, "vdc", ""),
        disk(&last, "vdd", "")
    );
    let def = domain("g", &devices, "", "");
    let before: Vec<FileState> = [&first, &readonly, &last]
        .iter()
        .map(|p| state(p))
        .collect();
    let labels = stack.generate(&def).unwrap();
    let err = stack.set_all(&def, &labels).unwrap_err();
    assert!(err.to_string().contains("missing.img"), "{err}");
    let after: Vec<FileState> = [&first, &readonly, &last]
        .iter()
        .map(|p| state(p))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn stale_xattrs_are_discarded_and_the_real_owner_comes_back() {
    let host = Host::new();
    let stack = host.stack();
    let top = host.image("top.img");
    // A crash in an earlier boot left these behind.
    xattr::set(&top, "trusted.libvirt.security.dac", b"+0:+0").unwrap();
    xattr::set(&top, "trusted.libvirt.security.ref_dac", b"1").unwrap();
    xattr::set(
        &top,
        "trusted.libvirt.security.timestamp_dac",
        b"1600000000",
    )
    .unwrap();
    let before = state(&top);
    let def = domain("g", &disk(&top, "vda", ""), "", "");
    let labels = stack.generate(&def).unwrap();
    let applied = stack.set_all(&def, &labels).unwrap();
    assert!(applied
        .warnings
        .iter()
        .any(|w| w.starts_with("Invalid XATTR timestamp")));
    assert!(stack.restore_all(&def, &labels).is_empty());
    let after = state(&top);
    assert_eq!((after.uid, after.gid), (OWNER, OWNER));
    assert!(after.remembered.is_empty());
    assert_eq!(after.label, before.label);
}

#[test]
fn without_remember_owner_restore_uses_what_set_all_saw() {
    let host = Host::new();
    let stack = host.stack_with(
        SecurityConfig {
            remember_owner: false,
            ..SecurityConfig::default()
        },
        true,
    );
    let top = host.image("top.img");
    let def = domain("g", &disk(&top, "vda", ""), "", "");
    let before = state(&top);
    let labels = stack.generate(&def).unwrap();
    stack.set_all(&def, &labels).unwrap();
    assert!(state(&top).remembered.is_empty());
    assert_ne!(state(&top).uid, OWNER);
    assert!(stack.restore_all(&def, &labels).is_empty());
    assert_eq!(state(&top), before);
    // A second restore has nothing left to go by: the file is left alone, with a warning.
    let warnings = stack.restore_all(&def, &labels);
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].message.contains("left as it is"));
}

#[test]
fn relabel_no_and_per_device_labels() {
    let host = Host::new();
    let stack = host.stack();
    let top = host.image("top.img");
    let other = host.image("other.img");
    let devices = format!(
        "<disk type='file' device='disk'><source file='{}'><seclabel model='selinux' relabel='no'/></source><target dev='vda'/></disk>\
         <disk type='file' device='disk'><source file='{}'><seclabel model='selinux'><label>system_u:object_r:svirt_image_t:s0</label></seclabel>\
         <seclabel model='dac' relabel='no'/></source><target dev='vdb'/></disk>",
        top.display(),
        other.display()
    );
    let def = domain("g", &devices, "", "");
    let labels = stack.generate(&def).unwrap();
    let uid = stack.credentials(&labels).unwrap().uid;
    stack.set_all(&def, &labels).unwrap();
    assert_eq!(state(&top).label.as_deref(), Some(ORIGINAL));
    assert_eq!(state(&top).uid, uid);
    assert_eq!(
        state(&other).label.as_deref(),
        Some("system_u:object_r:svirt_image_t:s0")
    );
    assert_eq!(state(&other).uid, OWNER);
    stack.restore_all(&def, &labels);
    assert_eq!(state(&top).uid, OWNER);
    assert_eq!(state(&other).label.as_deref(), Some(ORIGINAL));

    // dynamic_ownership off: nobody is chowned.
    let no_own = host.stack_with(
        SecurityConfig {
            dynamic_ownership: false,
            ..SecurityConfig::default()
        },
        true,
    );
    let def = domain("h", &disk(&top, "vda", ""), "", "");
    let labels = no_own.generate(&def).unwrap();
    let applied = no_own.set_all(&def, &labels).unwrap();
    assert!(applied.items.iter().all(|i| i.model == "selinux"));
    no_own.restore_all(&def, &labels);
}

#[test]
fn the_stack_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SecurityStack>();
}

#[test]
fn set_all_refuses_labels_that_were_not_generated() {
    let host = Host::new();
    let stack = host.stack();
    let top = host.image("top.img");
    let def = domain("g", &disk(&top, "vda", ""), "", "");
    let labels = vec![Seclabel::new(SeclabelType::Dynamic, Some("selinux".into()))];
    assert_eq!(
        stack.set_all(&def, &labels).unwrap_err().to_string(),
        "no live selinux label: generate the guest's labels before set_all"
    );
}

#[test]
fn a_refusal_in_the_dac_pass_rolls_back_the_selinux_pass_too() {
    let host = Host::new();
    let stack = host.stack();
    let first = host.image("first.img");
    let kernel = host.image("vmlinuz");
    let held = host.image("held.img");
    // Another running guest (of this boot) owns held.img.
    xattr::set(&held, "trusted.libvirt.security.dac", b"+5:+5").unwrap();
    xattr::set(&held, "trusted.libvirt.security.ref_dac", b"1").unwrap();
    xattr::set(
        &held,
        "trusted.libvirt.security.timestamp_dac",
        BOOT.to_string().as_bytes(),
    )
    .unwrap();
    let devices = format!("{}{}", disk(&first, "vda", ""), disk(&held, "vdb", ""));
    let os = format!("<kernel>{}</kernel>", kernel.display());
    let def = domain("g", &devices, &os, "");
    let files = [&first, &kernel, &held];
    let before: Vec<FileState> = files.iter().map(|p| state(p)).collect();
    let labels = stack.generate(&def).unwrap();
    let err = stack.set_all(&def, &labels).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Setting different DAC user or group on {} which is already in use",
            held.display()
        )
    );
    let after: Vec<FileState> = files.iter().map(|p| state(p)).collect();
    assert_eq!(after, before);
}

#[test]
fn two_guests_sharing_a_kernel_count_as_two_holders() {
    let host = Host::new();
    let stack = host.stack();
    let kernel = host.image("vmlinuz");
    let os = format!("<kernel>{}</kernel>", kernel.display());
    let a = domain("a", "", &os, "");
    let b = domain("b", "", &os, "");
    let la = stack.generate(&a).unwrap();
    let lb = stack.generate(&b).unwrap();
    stack.set_all(&a, &la).unwrap();
    stack.set_all(&b, &lb).unwrap();
    let content = "system_u:object_r:virt_content_t:s0";
    assert_eq!(
        xattr::get(&kernel, "trusted.libvirt.security.ref_selinux")
            .unwrap()
            .unwrap(),
        b"2"
    );
    assert!(stack.restore_all(&a, &la).is_empty());
    assert_eq!(state(&kernel).label.as_deref(), Some(content));
    assert_eq!(
        xattr::get(&kernel, "trusted.libvirt.security.ref_selinux")
            .unwrap()
            .unwrap(),
        b"1"
    );
    let ub = stack.credentials(&lb).unwrap().uid;
    assert_eq!(
        posix_acl::read(&kernel).unwrap().user(ub),
        Some(posix_acl::READ)
    );
    assert_eq!(
        posix_acl::read(&kernel)
            .unwrap()
            .user(stack.credentials(&la).unwrap().uid),
        None
    );
    assert!(stack.restore_all(&b, &lb).is_empty());
    let s = state(&kernel);
    assert_eq!(s.label.as_deref(), Some(ORIGINAL));
    assert_eq!((s.mode, s.acl, s.remembered.len()), (0o640, None, 0));
}

#[test]
fn reserve_running_fails_cleanly_when_the_context_cannot_be_read() {
    let host = Host::new();
    let stack = host.stack();
    host.selinux
        .fail_pid(7, std::io::ErrorKind::PermissionDenied);
    host.write_status(7, 1_000_001);
    let labels = vec![
        Seclabel {
            label: Some("+1000001:+1000001".into()),
            ..Seclabel::new(SeclabelType::Dynamic, Some("dac".into()))
        },
        Seclabel {
            label: Some("system_u:system_r:svirt_t:s0:c5,c6".into()),
            ..Seclabel::new(SeclabelType::Dynamic, Some("selinux".into()))
        },
    ];
    assert_eq!(
        stack.reserve_running(&labels, 7).unwrap_err().to_string(),
        "read SELinux context of process 7"
    );
    // The uid reserved before the failure was given back.
    let fresh = stack.generate(&domain("f", "", "", "")).unwrap();
    assert_eq!(fresh[1].label.as_deref(), Some("+1000001:+1000001"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// T7: no two running guests ever share an MCS pair or a uid.
    #[test]
    fn t7_running_guests_never_share_a_pair_or_a_uid(
        ops in proptest::collection::vec(proptest::prelude::any::<(bool, u8)>(), 1..60)
    ) {
        let host = Host::new();
        let stack = host.stack();
        let mut running: Vec<Vec<Seclabel>> = Vec::new();
        for (start, pick) in ops {
            if start || running.is_empty() {
                running.push(stack.generate(&domain("g", "", "", "")).unwrap());
            } else {
                let labels = running.swap_remove(usize::from(pick) % running.len());
                stack.release(&labels);
            }
            let mut pairs: Vec<String> = running
                .iter()
                .map(|l| l[0].label.clone().unwrap().rsplit_once(':').unwrap().1.to_owned())
                .collect();
            let mut uids: Vec<u32> = running
                .iter()
                .map(|l| stack.credentials(l).unwrap().uid)
                .collect();
            pairs.sort();
            pairs.dedup();
            uids.sort_unstable();
            uids.dedup();
            proptest::prop_assert_eq!(pairs.len(), running.len());
            proptest::prop_assert_eq!(uids.len(), running.len());
            proptest::prop_assert!(!uids.contains(&1_000_000));
        }
    }
}
