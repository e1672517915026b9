//! Access control with the `polkit` driver: a real polkitd on a private system bus started by the
//! test, JavaScript rules in the style of libvirt's documentation, and real users driving virsh.
//!
//! The bus is a `dbus-daemon` on the stock system policy, listening on a socket in a temporary
//! directory, without service activation. polkitd runs in its own mount namespace (`unshare -m`)
//! where the test's policy file and rules are bind-mounted over `/usr/share/polkit-1/actions` and
//! `/etc/polkit-1/rules.d`, so the host's polkit configuration is never touched. moatd finds the
//! bus through `DBUS_SYSTEM_BUS_ADDRESS`. polkitd approves uid 0 before any rule, so the test
//! itself (root) defines the guests.
//!
//! The same bus serves connection-level authentication (`auth_unix_rw`/`auth_unix_ro =
//! "polkit"`): the rules let two users through `org.libvirt.unix.manage` and `.monitor` and
//! refuse the third; root passes AUTH_LIST without asking, as with libvirtd.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{domain_xml, ensure_user, fails, ok, sorted_names, virsh, virsh_as, write_file};

const VIEWER: &str = "moat-p-demo";
const STRANGER: &str = "moat-p-nobody";
/// Passes connection-level authentication but has no `org.libvirt.api` rule.
const CONNECTOR: &str = "moat-p-conn";

/// libvirt's "restrict to a single domain" example, for the QEMU driver: the viewer may open
/// the connection, list guests and see `demo`; everything else in `org.libvirt.api` is refused.
/// Before it, connection-level authentication: the viewer and the connector may manage and
/// monitor, anyone else is refused.
const POLKIT_RULES: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id == "org.libvirt.unix.manage" || action.id == "org.libvirt.unix.monitor") {
        return (subject.user == "moat-p-demo" || subject.user == "moat-p-conn") ?
            polkit.Result.YES : polkit.Result.NO;
    }
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
        for policy in ["org.libvirt.api.policy", "org.libvirt.unix.policy"] {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/polkit")
                .join(policy);
            std::fs::copy(&shipped, actions.join(policy)).unwrap();
            chmod(&actions.join(policy), 0o644);
        }
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
        format!("qemu+unix:///system?socket={}", self.socket().display())
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("run/moat-sock")
    }

    fn socket_ro(&self) -> std::path::PathBuf {
        self.dir.path().join("run/moat-sock-ro")
    }

    fn uri_ro_socket(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket_ro().display())
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
    for name in [VIEWER, STRANGER, CONNECTOR] {
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

/// A client that speaks raw frames as `user`: it prints one JSON line per call with the reply's
/// status, and for errors the code, domain and message. `CALLS` is a list of procedure numbers
/// whose args are void, except CONNECT_OPEN (1), sent as `qemu:///system` with flags 0, and
/// CONNECT_LIST_ALL_DOMAINS (273), sent as need_results 1, flags 0.
const RAW_CLIENT: &str = r#"
import json, os, socket, struct, sys

def xdr_string(text):
    data = text.encode()
    return struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4)

ARGS = {
    1: struct.pack(">I", 1) + xdr_string("qemu:///system") + struct.pack(">I", 0),
    273: struct.pack(">iI", 1, 0),
}

def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["SOCKET"])
for serial, proc in enumerate(json.loads(os.environ["CALLS"])):
    payload = ARGS.get(proc, b"")
    header = struct.pack(">IIiIII", 0x20008086, 1, proc, 0, serial, 0)
    sock.sendall(struct.pack(">I", 4 + len(header) + len(payload)) + header + payload)
    while True:
        (length,) = struct.unpack(">I", recv_exact(sock, 4))
        body = recv_exact(sock, length - 4)
        prog, vers, rproc, rtype, rserial, status = struct.unpack(">IIiIII", body[:24])
        if prog == 0x6b656570:
            continue  # keepalive
        break
    rest = body[24:]
    result = {"proc": proc, "serial": rserial, "status": status}
    if status == 1:
        code, domain, present = struct.unpack(">iiI", rest[:12])
        result["code"], result["domain"] = code, domain
        if present:
            (n,) = struct.unpack(">I", rest[12:16])
            result["message"] = rest[16:16 + n].decode()
    elif proc in (66, 70):
        count_or_value = struct.unpack(">I", rest[:4])[0]
        if proc == 66:
            result["types"] = list(struct.unpack(">%dI" % count_or_value, rest[4:4 + 4 * count_or_value]))
        else:
            result["complete"] = count_or_value
    print(json.dumps(result), flush=True)
"#;

/// Runs [`RAW_CLIENT`] as `user` against `socket`, making `calls`; one JSON value per call.
fn raw_calls_as(user: &str, socket: &Path, calls: &[i32]) -> Vec<serde_json::Value> {
    let out = Command::new("setpriv")
        .args(["--reuid", user, "--regid", user, "--init-groups"])
        .args(["/usr/bin/python3", "-c", RAW_CLIENT])
        .env("SOCKET", socket)
        .env("CALLS", serde_json::to_string(calls).unwrap())
        .output()
        .unwrap();
    let text = ok(out);
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const AUTH_LIST: i32 = 66;
const AUTH_POLKIT: i32 = 70;
const CONNECT_OPEN: i32 = 1;
const LIST_ALL_DOMAINS: i32 = 273;
const GET_HOSTNAME: i32 = 59;
/// `REMOTE_AUTH_POLKIT`.
const REMOTE_AUTH_POLKIT: u64 = 2;

fn audit_lines(daemon: &Moatd, procedure: &str) -> Vec<serde_json::Value> {
    daemon
        .audit()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|v| v["procedure"] == procedure)
        .collect()
}

#[test]
fn polkit_authentication_admits_the_user_its_rule_names_and_refuses_others() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(&bus, "auth_unix_rw = \"polkit\"\n");
    // As in libvirtd, polkit rather than the socket's mode decides: the socket is open to all.
    let mode = std::fs::metadata(daemon.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o777);

    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list), ["demo", "other", "third"]);

    let err = fails(virsh_as(
        &daemon.uri(),
        STRANGER,
        &["list", "--all", "--name"],
    ));
    assert!(
        err.contains("authentication failed: access denied by policy"),
        "{err}"
    );

    let audit = audit_lines(&daemon, "REMOTE_PROC_AUTH_POLKIT");
    let by = |user: &str| {
        audit
            .iter()
            .filter(|v| v["client"]["user"] == user)
            .collect::<Vec<_>>()
    };
    assert!(by(VIEWER).iter().all(|v| v["result"] == "ok"), "{audit:?}");
    assert!(!by(VIEWER).is_empty());
    let refused = by(STRANGER);
    assert!(!refused.is_empty());
    for line in refused {
        assert_eq!(line["result"], "error");
        assert_eq!(line["object"]["action"], "org.libvirt.unix.manage");
    }
}

#[test]
fn polkit_authentication_on_the_read_only_socket_asks_for_monitor() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(&bus, "auth_unix_ro = \"polkit\"\n");
    let list = ok(virsh_as(
        &daemon.uri_ro_socket(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list), ["demo", "other", "third"]);
    // Authenticated on the read-only socket is still read-only.
    let err = fails(virsh_as(
        &daemon.uri_ro_socket(),
        VIEWER,
        &["start", "demo"],
    ));
    assert!(err.contains("read only access prevents"), "{err}");

    let err = fails(virsh_as(
        &daemon.uri_ro_socket(),
        STRANGER,
        &["list", "--all"],
    ));
    assert!(
        err.contains("authentication failed: access denied by policy"),
        "{err}"
    );
    let audit = audit_lines(&daemon, "REMOTE_PROC_AUTH_POLKIT");
    assert!(!audit.is_empty());
    assert!(audit
        .iter()
        .all(|v| v["object"]["action"] == "org.libvirt.unix.monitor"));
    // The read-write socket keeps auth "none" and its 0700 mode.
    let mode = std::fs::metadata(daemon.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn a_client_that_skips_or_fails_polkit_authentication_is_refused_everything_else() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(&bus, "auth_unix_rw = \"polkit\"\n");
    let socket = daemon.socket();

    // Skipping AUTH_POLKIT: every call but the auth ones is refused, the connection stays.
    let replies = raw_calls_as(
        VIEWER,
        &socket,
        &[
            CONNECT_OPEN,
            LIST_ALL_DOMAINS,
            GET_HOSTNAME,
            AUTH_LIST,
            CONNECT_OPEN,
        ],
    );
    assert_eq!(replies.len(), 5);
    for reply in [&replies[0], &replies[1], &replies[2], &replies[4]] {
        assert_eq!(reply["status"], 1, "{reply}");
        assert_eq!(reply["message"], "authentication required", "{reply}");
    }
    assert_eq!(replies[3]["types"], serde_json::json!([REMOTE_AUTH_POLKIT]));

    // Refused by polkit: the same, before and after, and a retry is refused again.
    let replies = raw_calls_as(
        STRANGER,
        &socket,
        &[
            AUTH_LIST,
            AUTH_POLKIT,
            CONNECT_OPEN,
            LIST_ALL_DOMAINS,
            AUTH_POLKIT,
            GET_HOSTNAME,
        ],
    );
    assert_eq!(replies.len(), 6);
    for i in [1, 4] {
        assert_eq!(replies[i]["code"], 45, "{}", replies[i]); // VIR_ERR_AUTH_FAILED
        assert_eq!(replies[i]["domain"], 60, "{}", replies[i]); // VIR_FROM_POLKIT
        assert_eq!(
            replies[i]["message"],
            "authentication failed: access denied by policy"
        );
    }
    for i in [2, 3, 5] {
        assert_eq!(
            replies[i]["message"], "authentication required",
            "{}",
            replies[i]
        );
    }

    // Authorized: AUTH_POLKIT completes and the connection works.
    let replies = raw_calls_as(
        VIEWER,
        &socket,
        &[AUTH_LIST, AUTH_POLKIT, CONNECT_OPEN, LIST_ALL_DOMAINS],
    );
    assert_eq!(replies[1]["complete"], 1, "{}", replies[1]);
    assert_eq!(replies[2]["status"], 0, "{}", replies[2]);
    assert_eq!(replies[3]["status"], 0, "{}", replies[3]);

    // The daemon is intact and root still gets in without polkit.
    let list = ok(virsh(&daemon.uri(), false, &["list", "--all", "--name"]));
    assert_eq!(sorted_names(&list), ["demo", "other", "third"]);
}

#[test]
fn polkit_authentication_and_the_polkit_access_driver_are_both_enforced() {
    ensure_users();
    let bus = PrivateBus::start();
    let daemon = Moatd::start(
        &bus,
        "auth_unix_rw = \"polkit\"\naccess_drivers = [\"polkit\"]\n",
    );
    // Through both: the viewer authenticates and sees only demo.
    let list = ok(virsh_as(
        &daemon.uri(),
        VIEWER,
        &["list", "--all", "--name"],
    ));
    assert_eq!(sorted_names(&list), ["demo"]);
    // Authenticated, but no API rule: the access driver refuses.
    let err = fails(virsh_as(&daemon.uri(), CONNECTOR, &["list", "--all"]));
    assert!(
        err.contains("access denied") && !err.contains("authentication failed"),
        "{err}"
    );
    // Not even authenticated: refused at connect, before any API check.
    let err = fails(virsh_as(&daemon.uri(), STRANGER, &["list", "--all"]));
    assert!(
        err.contains("authentication failed: access denied by policy"),
        "{err}"
    );
    assert!(daemon.audit().contains("'polkit' denied access"));
}
