//! Access control with the `rules` driver (threat T10): real users, created by the test, drive
//! virsh through the socket and get exactly what their grants say.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const VIEWER: &str = "moat-t-viewer";
const ADMIN: &str = "moat-t-admin";
const NOBODY: &str = "moat-t-nobody";
const ADMINS: &str = "moat-t-admins";

const RULES: &str = r#"
[roles]
viewer = ["connect:getattr", "connect:read", "connect:search_domains",
          "domain:getattr", "domain:read"]
admin = ["connect:*", "domain:*"]

[[grant]]
users = ["moat-t-viewer"]
role = "viewer"
domains = ["web-*"]
comment = "the viewer sees the web guests only"

[[grant]]
groups = ["moat-t-admins"]
role = "admin"
all = true

[[grant]]
uids = [0]
role = "admin"
all = true

[[deny]]
groups = ["moat-t-admins"]
permissions = ["domain:delete"]
domains = ["web-keep"]
comment = "nobody removes web-keep"
"#;

struct Setup {
    daemon: TestDaemon,
    rules: std::path::PathBuf,
    _rules_dir: tempfile::TempDir,
}

fn setup() -> Setup {
    ensure_group(ADMINS);
    ensure_user(VIEWER, None);
    ensure_user(ADMIN, Some(ADMINS));
    ensure_user(NOBODY, None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let config = format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\nunix_sock_rw_perms = \"0777\"\n",
        rules.display()
    );
    // The rules live outside the daemon's directory so that they survive it.
    let daemon = TestDaemon::start_with_config(Some(&config));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, uuid) in [
        ("web-1", "10000000-0000-4000-8000-000000000001"),
        ("web-keep", "10000000-0000-4000-8000-000000000002"),
        ("db-1", "10000000-0000-4000-8000-000000000003"),
    ] {
        let file = write_file(
            daemon.dir.path(),
            &format!("{name}.xml"),
            &domain_xml(name, uuid),
        );
        ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    }
    Setup {
        daemon,
        rules,
        _rules_dir: dir,
    }
}

#[test]
fn a_viewer_sees_and_reads_only_its_guests() {
    let Setup {
        daemon,
        _rules_dir: _keep,
        ..
    } = setup();
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    threats::record(
        "T10",
        "list --all as a viewer granted web-* only",
        "other guests filtered out",
        &format!("saw {:?}", sorted_names(&list)),
        sorted_names(&list) == ["web-1", "web-keep"],
    );
    assert_eq!(sorted_names(&list), ["web-1", "web-keep"]);
    assert!(ok(virsh_as(&daemon.uri(), VIEWER, &["dominfo", "web-1"])).contains("shut off"));
    assert!(
        ok(virsh_as(&daemon.uri(), VIEWER, &["dumpxml", "web-1"])).contains("<name>web-1</name>")
    );
    // virsh reports any failed lookup as "failed to get domain"; python-libvirt shows the code.
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["dominfo", "db-1"]));
    assert!(err.contains("failed to get domain 'db-1'"), "{err}");
    let script = "import libvirt, sys\n\
                  c = libvirt.open(sys.argv[1])\n\
                  try:\n    c.lookupByName('db-1')\nexcept libvirt.libvirtError as e:\n    \
                  print(e.get_error_code(), e)\n";
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            VIEWER,
            "--regid",
            VIEWER,
            "--init-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(script)
        .arg(daemon.uri())
        .output()
        .unwrap();
    let text = ok(out);
    assert!(text.starts_with("88 access denied"), "{text}");
    let err = fails(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["dumpxml", "--security-info", "web-1"],
    ));
    assert!(
        err.contains("access denied") && err.contains("read_secure"),
        "{err}"
    );
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["autostart", "web-1"]));
    assert!(err.contains("access denied"), "{err}");
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["undefine", "web-1"]));
    threats::record(
        "T10",
        "undefine a guest as a viewer",
        "refused (access denied)",
        err.trim(),
        err.contains("access denied"),
    );
    assert!(err.contains("access denied"), "{err}");
    let xml = write_file(
        daemon.dir.path(),
        "web-2.xml",
        &domain_xml("web-2", "10000000-0000-4000-8000-000000000004"),
    );
    std::fs::set_permissions(&xml, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = fails(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["define", xml.to_str().unwrap()],
    ));
    assert!(err.contains("access denied"), "{err}");
    // Nothing changed, and the denials are audited.
    assert_eq!(daemon.stored_definitions().len(), 3);
    let audit = std::fs::read_to_string(daemon.state_dir().join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .filter(|l| l.contains("'rules' denied access"))
            .count()
            >= 4
    );
}

#[test]
fn a_user_without_grants_cannot_even_connect() {
    let Setup {
        daemon,
        _rules_dir: _keep,
        ..
    } = setup();
    let err = fails(virsh_as(&daemon.uri(), NOBODY, &["list", "--all"]));
    threats::record(
        "T10",
        "connect as a user with no grant",
        "refused (access denied)",
        err.trim(),
        err.contains("access denied"),
    );
    assert!(err.contains("access denied"), "{err}");
}

#[test]
fn admins_manage_everything_but_an_explicit_denial_wins() {
    let Setup {
        daemon,
        _rules_dir: _keep,
        ..
    } = setup();
    let list = ok(virsh_as(&daemon.uri(), ADMIN, &["list", "--all", "--name"]));
    assert_eq!(sorted_names(&list), ["db-1", "web-1", "web-keep"]);
    let secure = ok(virsh_as(
        &daemon.uri(),
        ADMIN,
        &["dumpxml", "--security-info", "web-1"],
    ));
    assert!(secure.contains("passwd='s3cret'"));
    ok(virsh_as(&daemon.uri(), ADMIN, &["autostart", "db-1"]));
    let err = fails(virsh_as(&daemon.uri(), ADMIN, &["undefine", "web-keep"]));
    assert!(
        err.contains("access denied") && err.contains("domain:delete"),
        "{err}"
    );
    // The read-only socket stays read-only whatever the grants say.
    let ro = Command::new("setpriv")
        .args([
            "--reuid",
            ADMIN,
            "--regid",
            ADMIN,
            "--init-groups",
            "virsh",
            "-q",
            "-c",
        ])
        .arg(daemon.uri_ro_socket())
        .args(["undefine", "web-1"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(fails(ro).contains("read only access prevents"));
    ok(virsh_as(&daemon.uri(), ADMIN, &["undefine", "web-1"]));
    assert_eq!(daemon.stored_definitions().len(), 2);
}

#[test]
fn sighup_reloads_rules_and_a_broken_file_keeps_the_old_ones() {
    let Setup {
        daemon,
        rules,
        _rules_dir: _keep,
    } = setup();
    let pid = nix::unistd::Pid::from_raw(daemon.child.as_ref().unwrap().id().try_into().unwrap());
    // Widen the viewer's grant to every guest, reload, and see db-1 appear.
    std::fs::write(
        &rules,
        RULES.replace("domains = [\"web-*\"]", "domains = [\"*\"]"),
    )
    .unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = ok(virsh_as(
            &daemon.uri(),
            VIEWER,
            &["list", "--all", "--name"],
        ));
        if sorted_names(&list).len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "reload did not take effect");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken file: the reload fails and the rules in force stay.
    std::fs::write(
        &rules,
        "[[grant]]\nusers = [\"moat-t-viewer\"]\nrole = \"nope\"\n",
    )
    .unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list).len(), 3);
}

#[test]
fn a_broken_rules_file_stops_the_daemon_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_file(
        dir.path(),
        "rules.toml",
        "[[grant]]\nrole = \"x\"\nall = true\n",
    );
    let (err, _dir) = moatd_refuses_config(&format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\n",
        rules.display()
    ));
    assert!(err.contains("line 1: the rule names no subject"), "{err}");
}
