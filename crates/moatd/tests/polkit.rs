//! Access control with the `polkit` driver: a real polkitd on a private system bus started by the
//! test, JavaScript rules in the style of libvirt's documentation, and real users driving virsh.
//!
//! The bus is a `dbus-daemon` on the stock system policy, listening on a socket in a temporary
//! directory, without service activation. polkitd runs in its own mount namespace (`unshare -m`)
//! where the test's policy file and rules are bind-mounted over `/usr/share/polkit-1/actions` and
//! `/etc/polkit-1/rules.d`, so the host's polkit configuration is never touched. moatd finds the
//! bus through `DBUS_SYSTEM_BUS_ADDRESS`. polkitd approves uid 0 before any rule, so the test
//! itself (root) defines the guests.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{domain_xml, ensure_user, fails, ok, sorted_names, virsh, virsh_as, write_file};

const VIEWER: &str = "moat-p-demo";
const STRANGER: &str = "moat-p-nobody";

/// libvirt's "restrict to a single domain" example, for the QEMU driver: the viewer may open
/// the connection, list guests and see `demo`; everything else in `org.libvirt.api` is refused.
const POLKIT_RULES: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.libvirt.api.") != 0) {
        return polkit.Result.NOT_HANDLED;
    }
    if (subject.user == "moat-p-demo") {
        if (action.id == "org.libvirt.api.connect.getattr" ||
            action.id == "org.libvirt.api.connect.search-domains") {
            return action.lookup("connect_driver") == "QEMU" ?
                polkit.Result.YES : polkit.Result.NO;
        }
        if (action.id == "org.libvirt.api.domain.getattr" &&
            action.lookup("connect_driver") == "QEMU" &&
            action.lookup("domain_name") == "demo") {
            return polkit.Result.YES;
        }
    }
    return polkit.Result.NO;
});
"#;

const GUESTS: [(&str, &str); 3] = [
    ("demo", "20000000-0000-4000-8000-000000000001"),
    ("other", "20000000-0000-4000-8000-000000000002"),
    ("third", "20000000-0000-4000-8000-000000000003"),
];

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Replaces `from`, which the stock file must contain: a changed system.conf fails loudly.
fn replace_present(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "system.conf has no {from}");
    text.replace(from, to)
}

/// A dbus-daemon and a polkitd of the test's own; both killed on drop.
struct PrivateBus {
    dir: tempfile::TempDir,
    dbus: Option<Child>,
    polkitd: Option<Child>,
    address: String,
}

impl PrivateBus {
    /// Writes the bus configuration, policy and rules, and starts both processes.
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let address = format!(
            "unix:path={}",
            dir.path().join("system_bus_socket").display()
        );
        let stock = std::fs::read_to_string("/usr/share/dbus-1/system.conf").unwrap();
        let mut conf = replace_present(
            &stock,
            "<listen>unix:path=/run/dbus/system_bus_socket</listen>",
            &format!("<listen>{address}</listen>"),
        );
        conf = replace_present(&conf, "<fork/>", "");
        conf = replace_present(&conf, "<standard_system_servicedirs/>", "");
        conf = replace_present(
            &conf,
            "<servicehelper>/usr/lib/dbus-1.0/dbus-daemon-launch-helper</servicehelper>",
            "",
        );
        conf = replace_present(&conf, "<pidfile>/run/dbus/pid</pidfile>", "");
        conf = replace_present(
            &conf,
            "<includedir>system.d</includedir>",
            "<includedir>/usr/share/dbus-1/system.d</includedir>",
        );
        write_file(dir.path(), "system.conf", &conf);
        let actions = dir.path().join("actions");
        let rules = dir.path().join("rules.d");
        for dir in [&actions, &rules] {
            std::fs::create_dir(dir).unwrap();
            chmod(dir, 0o755);
        }
        let policy = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/polkit/org.libvirt.api.policy");
        std::fs::copy(&policy, actions.join("org.libvirt.api.policy")).unwrap();
        chmod(&actions.join("org.libvirt.api.policy"), 0o644);
        chmod(
            &write_file(&rules, "10-moat-test.rules", POLKIT_RULES),
            0o644,
        );
        let mut bus = Self {
            dir,
            dbus: None,
            polkitd: None,
            address,
        };
        bus.start_dbus();
        bus.start_polkitd();
        bus
    }

    fn start_dbus(&mut self) {
        let socket = self.dir.path().join("system_bus_socket");
        let _ = std::fs::remove_file(&socket);
        let dbus = Command::new("dbus-daemon")
            .arg(format!(
                "--config-file={}",
                self.dir.path().join("system.conf").display()
            ))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus) must be installed");
        self.dbus = Some(dbus);
        self.wait_for("dbus-daemon", || socket.exists());
    }

    fn start_polkitd(&mut self) {
        let polkitd = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-ec"])
            .arg(
                "mount --bind \"$1\" /usr/share/polkit-1/actions\n\
                 mount --bind \"$2\" /etc/polkit-1/rules.d\n\
                 exec /usr/lib/polkit-1/polkitd --no-debug",
            )
            .arg("sh")
            .arg(self.dir.path().join("actions"))
            .arg(self.dir.path().join("rules.d"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .spawn()
            .expect("unshare must be installed");
        self.polkitd = Some(polkitd);
        let address = self.address.clone();
        self.wait_for("polkitd", || {
            let out = Command::new("dbus-send")
                .args([
                    "--system",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.PolicyKit1",
                ])
                .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("boolean true")
        });
    }

    /// Kills polkitd, then the bus.
    fn stop(&mut self) {
        for child in [self.polkitd.take(), self.dbus.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until `ready`, failing if a bus process died or it takes too long.
    fn wait_for(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            for child in [self.dbus.as_mut(), self.polkitd.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("{what}: a bus process exited during start-up: {status}");
                }
            }
            assert!(Instant::now() < deadline, "{what} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moatd with `config`, on `bus`; killed on drop.
struct Moatd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Moatd {
    fn start(bus: &PrivateBus, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let config = write_file(dir.path(), "moatd.toml", config);
        let mut child = Command::new(env!("CARGO_BIN_EXE_moatd"))
            .arg("--run-dir")
            .arg(dir.path().join("run"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&config)
            .env("MOAT_LOG", "warn")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let socket = dir.path().join("run/moat-sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("moatd exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "moatd did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        let daemon = Self { dir, child };
        for (name, uuid) in GUESTS {
            let file = write_file(
                daemon.dir.path(),
                &format!("{name}.xml"),
                &domain_xml(name, uuid),
            );
            ok(virsh(
                &daemon.uri(),
                false,
                &["define", file.to_str().unwrap()],
            ));
        }
        daemon
    }

    fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.dir.path().join("run/moat-sock").display()
        )
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/audit.log")).unwrap()
    }
}

impl Drop for Moatd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates the test users (serialized in `common`).
fn ensure_users() {
    for name in [VIEWER, STRANGER] {
        ensure_user(name, None);
    }
}

#[test]
fn polkit_shows_a_user_only_the_guest_its_rule_names() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(
        &bus,
        "access_drivers = [\"polkit\"]\nunix_sock_rw_perms = \"0777\"\n",
    );
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list), ["demo"]);
    let uuid = ok(virsh_as(&daemon.uri(), VIEWER, &["domuuid", "demo"]));
    assert_eq!(uuid.trim(), GUESTS[0].1);
    for verb in ["dominfo", "dumpxml"] {
        let err = fails(virsh_as(&daemon.uri(), VIEWER, &[verb, "other"]));
        assert!(
            err.contains("failed to get domain 'other'"),
            "{verb}: {err}"
        );
    }
    // The rule grants getattr only: reading demo's definition is refused too.
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["dumpxml", "demo"]));
    assert!(
        err.contains("access denied") && err.contains("domain:read"),
        "{err}"
    );
    assert!(daemon.audit().contains("'polkit' denied access"));
}

#[test]
fn polkit_denies_a_user_no_rule_names() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(
        &bus,
        "access_drivers = [\"polkit\"]\nunix_sock_rw_perms = \"0777\"\n",
    );
    let err = fails(virsh_as(&daemon.uri(), STRANGER, &["list", "--all"]));
    assert!(err.contains("access denied"), "{err}");
    // An anonymous permission (default "yes" in the policy) is still refused: the rule says no.
    assert!(daemon.audit().contains("connect:getattr"));
}

#[test]
fn with_rules_and_polkit_a_call_passes_only_when_both_allow() {
    ensure_users();
    let bus = PrivateBus::start();
    let rules_dir = tempfile::tempdir().unwrap();
    chmod(rules_dir.path(), 0o755);
    // The rules grant the viewer demo and other; polkit grants demo only.
    let grants = |domains: &str| {
        format!(
            "[roles]\nviewer = [\"connect:getattr\", \"connect:search_domains\", \"domain:getattr\", \"domain:read\"]\n\
             admin = [\"connect:*\", \"domain:*\"]\n\n\
             [[grant]]\nusers = [\"{VIEWER}\"]\nrole = \"viewer\"\ndomains = {domains}\n\n\
             [[grant]]\nuids = [0]\nrole = \"admin\"\nall = true\n"
        )
    };
    let rules = write_file(
        rules_dir.path(),
        "rules.toml",
        &grants("[\"demo\", \"other\"]"),
    );
    let daemon = Moatd::start(
        &bus,
        &format!(
            "access_drivers = [\"rules\", \"polkit\"]\naccess_rules_file = \"{}\"\n\
             unix_sock_rw_perms = \"0777\"\n",
            rules.display()
        ),
    );
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(
        sorted_names(&list),
        ["demo"],
        "other is allowed by the rules only"
    );
    ok(virsh_as(&daemon.uri(), VIEWER, &["domuuid", "demo"]));
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["domuuid", "other"]));
    assert!(err.contains("failed to get domain 'other'"), "{err}");
    assert!(daemon.audit().contains("'polkit' denied access"));

    // Now the rules name only other: demo, which polkit allows, disappears as well.
    std::fs::write(&rules, grants("[\"other\"]")).unwrap();
    let pid = nix::unistd::Pid::from_raw(daemon.child.id().try_into().unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = ok(virsh_as(
            &daemon.uri(),
            VIEWER,
            &["list", "--all", "--name"],
        ));
        if sorted_names(&list).is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reload did not take effect: {list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["domuuid", "demo"]));
    assert!(err.contains("failed to get domain 'demo'"), "{err}");
    assert!(daemon.audit().contains("'rules' denied access"));
}

#[test]
fn polkit_failures_deny_and_the_driver_reconnects_to_a_new_bus() {
    ensure_users();
    let mut bus = PrivateBus::start();
    let daemon = Moatd::start(
        &bus,
        "access_drivers = [\"polkit\"]\nunix_sock_rw_perms = \"0777\"\n",
    );
    assert_eq!(
        sorted_names(&ok(virsh_as(
            &daemon.uri(),
            VIEWER,
            &["list", "--all", "--name"]
        ))),
        ["demo"]
    );
    // polkitd gone: its name has no owner on the bus, and the call is refused, not allowed.
    let mut polkitd = bus.polkitd.take().unwrap();
    polkitd.kill().unwrap();
    polkitd.wait().unwrap();
    let err = fails(virsh_as(&daemon.uri(), VIEWER, &["list", "--all"]));
    assert!(err.contains("access denied"), "{err}");
    // A new bus on the same address: moatd's connection broke with the old one and is replaced.
    bus.stop();
    bus.start_dbus();
    bus.start_polkitd();
    assert_eq!(
        sorted_names(&ok(virsh_as(
            &daemon.uri(),
            VIEWER,
            &["list", "--all", "--name"]
        ))),
        ["demo"]
    );
}
