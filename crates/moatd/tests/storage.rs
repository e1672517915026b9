//! Storage pools and volumes (issue 9) through real virsh and python-libvirt: the central image
//! store's default pool, dir pools from define to undefine, raw/qcow2/backed/cloned volumes,
//! names that would escape a pool, restarts, ACLs and guests booted from a pool volume.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

#[test]
fn the_default_pool_is_the_central_image_store() {
    let (daemon, images) = daemon_with_store("guest_pids_max = 64");
    let store = images.path().join("store");
    let meta = std::fs::metadata(&store).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o711);
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    let list = ok(daemon.virsh(&["pool-list", "--all", "--details"]));
    assert!(list.contains("default"), "{list}");
    let info = ok(daemon.virsh(&["pool-info", "default"]));
    assert_eq!(field(&info, "State"), "running");
    assert_eq!(field(&info, "Autostart"), "yes");
    assert_eq!(field(&info, "Persistent"), "yes");
    let xml = ok(daemon.virsh(&["pool-dumpxml", "default"]));
    assert!(
        xml.contains(&format!("<path>{}</path>", store.display())),
        "{xml}"
    );
    assert!(xml.contains("<mode>0711</mode>"), "{xml}");
}

#[test]
fn virsh_drives_a_dir_pool_and_its_volumes() {
    let (mut daemon, images) = daemon_with_store("guest_pids_max = 64");
    let dir = images.path().join("p1");
    let dir_s = dir.to_str().unwrap();
    ok(daemon.virsh(&["pool-define-as", "p1", "dir", "--target", dir_s]));
    let info = ok(daemon.virsh(&["pool-info", "p1"]));
    assert_eq!(field(&info, "State"), "inactive");
    let err = fails(daemon.virsh(&["pool-start", "p1"]));
    assert!(err.contains(dir_s), "{err}");
    ok(daemon.virsh(&["pool-build", "p1"]));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777,
        0o711
    );
    ok(daemon.virsh(&["pool-start", "p1"]));
    ok(daemon.virsh(&["pool-autostart", "p1"]));
    let list = ok(daemon.virsh(&["pool-list", "--all", "--details"]));
    let row = list
        .lines()
        .find(|l| l.trim_start().starts_with("p1"))
        .unwrap();
    assert!(row.contains("running") && row.contains("yes"), "{list}");
    let info = ok(daemon.virsh(&["pool-info", "p1"]));
    assert_eq!(field(&info, "State"), "running");
    assert_ne!(field(&info, "Capacity"), "0.00 B");

    // Raw, qcow2, and qcow2 over a backing volume.
    ok(daemon.virsh(&["vol-create-as", "p1", "base.img", "8M"]));
    ok(daemon.virsh(&[
        "vol-create-as",
        "p1",
        "plain.qcow2",
        "4M",
        "--format",
        "qcow2",
    ]));
    ok(daemon.virsh(&[
        "vol-create-as",
        "p1",
        "top.qcow2",
        "16M",
        "--format",
        "qcow2",
        "--backing-vol",
        "base.img",
        "--backing-vol-format",
        "raw",
    ]));
    let vols = ok(daemon.virsh(&["vol-list", "p1", "--details"]));
    for name in ["base.img", "plain.qcow2", "top.qcow2"] {
        assert!(vols.contains(name), "{vols}");
    }
    let info = ok(daemon.virsh(&["vol-info", "base.img", "--pool", "p1"]));
    assert_eq!(field(&info, "Capacity"), "8.00 MiB");
    assert_eq!(field(&info, "Type"), "file");
    let info = ok(daemon.virsh(&["vol-info", "top.qcow2", "--pool", "p1"]));
    assert_eq!(field(&info, "Capacity"), "16.00 MiB");
    let base = dir.join("base.img");
    let path = ok(daemon.virsh(&["vol-path", "base.img", "--pool", "p1"]));
    assert_eq!(path.trim(), base.to_str().unwrap());
    // By path, without the pool.
    ok(daemon.virsh(&["vol-info", base.to_str().unwrap()]));
    let xml = ok(daemon.virsh(&["vol-dumpxml", "top.qcow2", "--pool", "p1"]));
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    assert!(
        xml.contains(&format!(
            "<backingStore>\n    <path>{}</path>",
            base.display()
        )),
        "{xml}"
    );
    let img = std::process::Command::new("qemu-img")
        .args(["info", dir.join("top.qcow2").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(stdout(&img).contains("backing file"), "{}", stdout(&img));

    // Clone, resize, wipe, delete.
    ok(daemon.virsh(&["vol-clone", "base.img", "copy.img", "--pool", "p1"]));
    let info = ok(daemon.virsh(&["vol-info", "copy.img", "--pool", "p1"]));
    assert_eq!(field(&info, "Capacity"), "8.00 MiB");
    ok(daemon.virsh(&["vol-clone", "top.qcow2", "flat.qcow2", "--pool", "p1"]));
    ok(daemon.virsh(&["vol-resize", "copy.img", "16M", "--pool", "p1"]));
    let info = ok(daemon.virsh(&["vol-info", "copy.img", "--pool", "p1"]));
    assert_eq!(field(&info, "Capacity"), "16.00 MiB");
    let err = fails(daemon.virsh(&["vol-resize", "copy.img", "1M", "--pool", "p1"]));
    assert!(err.contains("shrink"), "{err}");
    ok(daemon.virsh(&["vol-resize", "plain.qcow2", "4M", "--delta", "--pool", "p1"]));
    let info = ok(daemon.virsh(&["vol-info", "plain.qcow2", "--pool", "p1"]));
    assert_eq!(field(&info, "Capacity"), "8.00 MiB");
    std::fs::write(dir.join("copy.img"), b"secret").unwrap();
    ok(daemon.virsh(&["vol-wipe", "copy.img", "--pool", "p1"]));
    assert!(!std::fs::read(dir.join("copy.img")).unwrap().contains(&b's'));
    ok(daemon.virsh(&["vol-delete", "copy.img", "--pool", "p1"]));
    assert!(!dir.join("copy.img").exists());
    let err = fails(daemon.virsh(&["vol-info", "copy.img", "--pool", "p1"]));
    assert!(err.contains("Storage volume not found"), "{err}");

    // Bad input: escaping names, symlinks out, a volume larger than the pool.
    for bad in ["../evil", "..", "a/b", "/etc/evil"] {
        let err = fails(daemon.virsh(&["vol-create-as", "p1", bad, "1M"]));
        assert!(err.contains("volume name"), "{bad}: {err}");
    }
    assert!(!images.path().join("evil").exists());
    let outside = images.path().join("outside-secret");
    std::fs::write(&outside, b"keep").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("escape")).unwrap();
    let vols = ok(daemon.virsh(&["vol-list", "p1"]));
    assert!(!vols.contains("escape"), "{vols}");
    // virsh falls back to key and path lookups and shows the last error; the daemon's own
    // answer to the name lookup says why (unit test symlinks_out_of_the_pool_are_not_volumes).
    fails(daemon.virsh(&["vol-info", "escape", "--pool", "p1"]));
    fails(daemon.virsh(&["vol-wipe", "escape", "--pool", "p1"]));
    fails(daemon.virsh(&["vol-create-as", "p1", "escape", "1M"]));
    fails(daemon.virsh(&["vol-info", outside.to_str().unwrap()]));
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    let err = fails(daemon.virsh(&["vol-create-as", "p1", "huge", "1E"]));
    assert!(err.contains("larger than pool"), "{err}");
    assert!(daemon.alive());

    // A restart keeps the pool, its state, autostart and the volumes.
    daemon.kill();
    daemon.spawn();
    let info = ok(daemon.virsh(&["pool-info", "p1"]));
    assert_eq!(field(&info, "State"), "running");
    assert_eq!(field(&info, "Autostart"), "yes");
    let vols = ok(daemon.virsh(&["vol-list", "p1"]));
    assert!(
        vols.contains("top.qcow2") && vols.contains("flat.qcow2"),
        "{vols}"
    );

    // Stop and remove the pool; its files stay.
    let err = fails(daemon.virsh(&["pool-undefine", "p1"]));
    assert!(err.contains("still active"), "{err}");
    ok(daemon.virsh(&["pool-destroy", "p1"]));
    let inactive = ok(daemon.virsh(&["pool-list", "--inactive", "--name"]));
    assert!(inactive.contains("p1"), "{inactive}");
    fails(daemon.virsh(&["vol-list", "p1"]));
    ok(daemon.virsh(&["pool-undefine", "p1"]));
    let all = ok(daemon.virsh(&["pool-list", "--all", "--name"]));
    assert!(!all.contains("p1"), "{all}");
    assert!(dir.join("base.img").exists());
    daemon.kill();
    daemon.spawn();
    let all = ok(daemon.virsh(&["pool-list", "--all", "--name"]));
    assert_eq!(sorted_names(&all), ["default"]);

    let log = daemon.audit();
    for procedure in [
        "STORAGE_POOL_DEFINE_XML",
        "STORAGE_POOL_BUILD",
        "STORAGE_VOL_CREATE_XML",
        "STORAGE_VOL_CREATE_XML_FROM",
        "STORAGE_VOL_RESIZE",
        "STORAGE_VOL_WIPE",
        "STORAGE_VOL_DELETE",
        "STORAGE_POOL_UNDEFINE",
    ] {
        assert!(log.contains(procedure), "{procedure} not audited");
    }
    assert!(
        log.contains("\"result\":\"error\""),
        "refusals are audited too"
    );
}

const RULES: &str = r#"
[roles]
admin = ["connect:*", "domain:*", "storage_pool:*", "storage_vol:*"]
plain = ["connect:getattr", "connect:read", "connect:search_domains", "domain:getattr"]
pools = ["connect:getattr", "connect:read", "connect:search_storage_pools",
         "storage_pool:getattr", "storage_pool:read", "storage_pool:search_storage_vols",
         "storage_vol:getattr", "storage_vol:read"]

[[grant]]
uids = [0]
role = "admin"
all = true

[[grant]]
users = ["moat-t-stor-none"]
role = "plain"
all = true

[[grant]]
users = ["moat-t-stor-view"]
role = "pools"
pools = ["mine-*"]
"#;

#[test]
fn read_only_and_ungranted_clients_are_refused() {
    const NONE: &str = "moat-t-stor-none";
    const VIEW: &str = "moat-t-stor-view";
    ensure_user(NONE, None);
    ensure_user(VIEW, None);
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = rules_dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    std::fs::set_permissions(rules_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (daemon, images) = daemon_with_store(&format!(
        "guest_pids_max = 64\naccess_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\nunix_sock_rw_perms = \"0777\"",
        rules.display()
    ));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mine = images.path().join("mine-1");
    ok(daemon.virsh(&[
        "pool-define-as",
        "mine-1",
        "dir",
        "--target",
        mine.to_str().unwrap(),
    ]));
    ok(daemon.virsh(&["pool-build", "mine-1"]));
    ok(daemon.virsh(&["pool-start", "mine-1"]));
    ok(daemon.virsh(&["vol-create-as", "mine-1", "v.img", "1M"]));

    // Read-only: client-side flag and the read-only socket.
    let err = fails(daemon.virsh_ro(&["pool-define-as", "ro", "dir", "--target", "/tmp/ro"]));
    assert!(err.contains("read only"), "{err}");
    let err = fails(virsh(
        &daemon.uri_ro_socket(),
        false,
        &["vol-delete", "v.img", "--pool", "mine-1"],
    ));
    assert!(err.contains("read only"), "{err}");
    // Reading is fine, and so is listing a pool's volumes: libvirt's
    // virStoragePoolListAllVolumes makes no read-only check (see readonly.rs).
    let listed = ok(daemon.virsh_ro(&["pool-list", "--all", "--name"]));
    assert!(listed.contains("mine-1"), "{listed}");
    let vols = ok(daemon.virsh_ro(&["vol-list", "mine-1", "--details"]));
    assert!(vols.contains("v.img"), "{vols}");
    let vols = ok(virsh(
        &daemon.uri_ro_socket(),
        false,
        &["vol-list", "mine-1"],
    ));
    assert!(vols.contains("v.img"), "{vols}");
    let info = ok(daemon.virsh_ro(&["vol-info", "v.img", "--pool", "mine-1"]));
    assert_eq!(field(&info, "Capacity"), "1.00 MiB");

    // No storage grant at all.
    let err = fails(virsh_as(&daemon.uri(), NONE, &["pool-list", "--all"]));
    assert!(err.contains("access denied"), "{err}");
    let err = fails(virsh_as(
        &daemon.uri(),
        NONE,
        &["pool-define-as", "x", "dir", "--target", "/tmp/x"],
    ));
    assert!(err.contains("access denied"), "{err}");
    let err = fails(virsh_as(&daemon.uri(), NONE, &["vol-list", "mine-1"]));
    assert!(err.contains("access denied"), "{err}");

    // A viewer of mine-* sees only those pools and cannot change them.
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEW,
        &["pool-list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list), ["mine-1"]);
    let vols = ok(virsh_as(&daemon.uri(), VIEW, &["vol-list", "mine-1"]));
    assert!(vols.contains("v.img"), "{vols}");
    fails(virsh_as(&daemon.uri(), VIEW, &["pool-info", "default"]));
    let err = fails(virsh_as(
        &daemon.uri(),
        VIEW,
        &["vol-delete", "v.img", "--pool", "mine-1"],
    ));
    assert!(err.contains("access denied"), "{err}");
    fails(virsh_as(
        &daemon.uri(),
        VIEW,
        &["vol-create-as", "mine-1", "w.img", "1M"],
    ));
    assert!(mine.join("v.img").exists() && !mine.join("w.img").exists());
    let log = daemon.audit();
    assert!(log.contains("denied"), "denials are audited");
}

fn volume_guest(name: &str, uuid: &str, pool: &str, volume: &str) -> String {
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>64</memory>\n  <memtune><hard_limit unit='MiB'>384</hard_limit></memtune>\n  \
         <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  \
         <devices>\n<emulator>{QEMU}</emulator>\n\
         <disk type='volume' device='disk'><source pool='{pool}' volume='{volume}'/>\
         <target dev='vda' bus='virtio'/></disk>\n</devices>\n</domain>\n"
    )
}

#[test]
fn a_guest_starts_from_a_pool_volume() {
    let (daemon, images) = daemon_with_store("guest_pids_max = 64");
    ok(daemon.virsh(&["vol-create-as", "default", "disk.img", "8M"]));
    let xml = volume_guest(
        "vg",
        "20000000-0000-4000-8000-000000000001",
        "default",
        "disk.img",
    );
    let file = write_file(daemon.dir.path(), "vg.xml", &xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    ok(daemon.virsh(&["start", "vg"]));
    let state = ok(daemon.virsh(&["domstate", "vg"]));
    assert_eq!(state.trim(), "running");
    let blk = ok(daemon.virsh(&["domblklist", "vg", "--inactive"]));
    assert!(blk.contains("disk.img"), "{blk}");
    let stored = ok(daemon.virsh(&["dumpxml", "vg", "--inactive"]));
    assert!(stored.contains("type='volume'"), "{stored}");
    ok(daemon.virsh(&["destroy", "vg"]));

    // A qcow2 overlay volume: its backing file is given to QEMU (and the jail) too.
    ok(daemon.virsh(&[
        "vol-create-as",
        "default",
        "top.qcow2",
        "8M",
        "--format",
        "qcow2",
        "--backing-vol",
        "disk.img",
        "--backing-vol-format",
        "raw",
    ]));
    let xml = volume_guest(
        "vq",
        "20000000-0000-4000-8000-000000000004",
        "default",
        "top.qcow2",
    );
    let file = write_file(daemon.dir.path(), "vq.xml", &xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    ok(daemon.virsh(&["start", "vq"]));
    let pid = std::fs::read_to_string(daemon.run_dir().join("qemu/vq.pid")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    let base = images.path().join("store/disk.img");
    assert!(cmdline.contains(base.to_str().unwrap()), "{cmdline}");
    assert!(cmdline.contains("top.qcow2"), "{cmdline}");
    ok(daemon.virsh(&["destroy", "vq"]));

    // A pool outside image_dirs gives no guest its files (guide 2.2).
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("out");
    ok(daemon.virsh(&[
        "pool-define-as",
        "out",
        "dir",
        "--target",
        out.to_str().unwrap(),
    ]));
    ok(daemon.virsh(&["pool-build", "out"]));
    ok(daemon.virsh(&["pool-start", "out"]));
    ok(daemon.virsh(&["vol-create-as", "out", "d.img", "1M"]));
    let xml = volume_guest("vo", "20000000-0000-4000-8000-000000000002", "out", "d.img");
    let file = write_file(daemon.dir.path(), "vo.xml", &xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let err = fails(daemon.virsh(&["start", "vo"]));
    assert!(err.contains("outside the image directories"), "{err}");
    // A missing volume is a clear error.
    let xml = volume_guest(
        "vm",
        "20000000-0000-4000-8000-000000000003",
        "default",
        "nope.img",
    );
    let file = write_file(daemon.dir.path(), "vm.xml", &xml);
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    let err = fails(daemon.virsh(&["start", "vm"]));
    assert!(err.contains("Storage volume not found"), "{err}");
}

#[test]
fn python_libvirt_creates_lists_and_deletes() {
    let (daemon, images) = daemon_with_store("guest_pids_max = 64");
    let target: PathBuf = images.path().join("py");
    let script = format!(
        r#"
import libvirt, os
conn = libvirt.open(os.environ["URI"])
pool = conn.storagePoolDefineXML("<pool type='dir'><name>py</name><target><path>{}</path></target></pool>", 0)
pool.build(0)
pool.create(0)
vol = pool.createXML("<volume><name>a.qcow2</name><capacity unit='M'>2</capacity><target><format type='qcow2'/></target></volume>", 0)
names = sorted(v.name() for v in pool.listAllVolumes(0))
assert names == ["a.qcow2"], names
assert vol.info()[1] == 2 * 1024 * 1024, vol.info()
assert conn.storageVolLookupByPath(vol.path()).name() == "a.qcow2"
assert "py" in [p.name() for p in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)]
assert "py" not in [p.name() for p in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE)]
vol.delete(0)
assert pool.numOfVolumes() == 0
try:
    pool.storageVolLookupByName("a.qcow2")
    raise SystemExit("volume still there")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL, e.get_error_code()
pool.destroy()
pool.undefine()
try:
    conn.storagePoolLookupByName("py")
    raise SystemExit("pool still there")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL, e.get_error_code()
print("ok")
"#,
        target.display()
    );
    let out = daemon.python(&script);
    assert_eq!(stdout(&out).trim(), "ok", "{}", stderr(&out));
    assert!(Path::new(&target).is_dir());
}
