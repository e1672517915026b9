//! `virsh console` against the real Linux test guest (TCG): real virsh on a pseudo-terminal
//! (tests/console_pty.py), a real moatd and QEMU confined as always. The guest's init runs a
//! shell on ttyS0 (scripts/test-guest/build.sh), so what is typed is answered by the guest.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BOOT: Duration = Duration::from_secs(90);
/// Seconds a console waits for an answer from the guest (TCG on a busy machine is slow).
const ANSWER: &str = "30";

const VIEWER: &str = "moat-t-conview";

const RULES: &str = r#"
[roles]
viewer = ["connect:getattr", "connect:read", "connect:search_domains",
          "domain:getattr", "domain:read"]
admin = ["connect:*", "domain:*"]

[[grant]]
users = ["moat-t-conview"]
role = "viewer"
all = true
comment = "may look at guests, not open their consoles (domain:open_device)"

[[grant]]
uids = [0]
role = "admin"
all = true
"#;

/// A guest with libvirt's usual pty console and a log of its serial output.
fn guest_xml(name: &str, uuid: &str, log: &Path) -> String {
    let dir = test_guest_dir();
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n  <os>\n    \
         <type arch='x86_64' machine='pc'>hvm</type>\n    <kernel>{dir}/vmlinuz</kernel>\n    \
         <initrd>{dir}/initrd.cpio.gz</initrd>\n    \
         <cmdline>console=ttyS0 quiet panic=-1</cmdline>\n  </os>\n  \
         <features><acpi/></features>\n  <devices>\n    \
         <serial type='pty'>\n      <log file='{log}' append='on'/>\n      \
         <target port='0'/>\n    </serial>\n    \
         <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n  \
         </devices>\n</domain>\n",
        dir = dir.display(),
        log = log.display(),
    )
}

#[track_caller]
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_holds(log: &Path, text: &str) -> bool {
    std::fs::read_to_string(log).is_ok_and(|s| s.contains(text))
}

/// One command on a pseudo-terminal, driven through tests/console_pty.py.
struct Terminal {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Terminal {
    /// Runs `command` on a new pty, with `env` added.
    fn run(command: &[&str], env: &[(&str, &Path)]) -> Self {
        let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console_pty.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(helper)
            .args(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("run tests/console_pty.py");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            input,
            output,
        }
    }

    /// `virsh -c URI console ARGS` as root.
    fn console(uri: &str, args: &[&str]) -> Self {
        let mut command = vec!["virsh", "-c", uri, "console"];
        command.extend_from_slice(args);
        Self::run(&command, &[])
    }

    fn request(&mut self, line: &str) -> String {
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
        let mut answer = String::new();
        self.output.read_line(&mut answer).unwrap();
        answer.trim_end().to_owned()
    }

    /// Waits until `text` appears on the terminal.
    #[track_caller]
    fn expect(&mut self, text: &str) {
        let answer = self.request(&format!("expect {ANSWER} {text}"));
        assert_eq!(answer, "found", "waiting for {text:?}");
    }

    /// Types `text` (`\r`, `\x1d` escapes as in Rust).
    fn send(&mut self, text: &str) {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('\r', "\\r")
            .replace('\x1d', "\\x1d");
        assert_eq!(self.request(&format!("send {escaped}")), "sent");
    }

    /// Waits until virsh is attached to `domain` and typing reaches the guest's shell: virsh
    /// flushes what was typed before its terminal went raw, so Enter is pressed until a new
    /// prompt comes back.
    #[track_caller]
    fn attach(&mut self, domain: &str) {
        self.expect(&format!("Connected to domain '{domain}'"));
        self.expect("Escape character is ^] (Ctrl + ])");
        for _ in 0..30 {
            self.send("\r");
            if self.request("expect 2 / # ") == "found" {
                return;
            }
        }
        panic!("the guest's shell never answered on the console of {domain}");
    }

    /// Types a shell command and waits for its answer.
    #[track_caller]
    fn run_in_guest(&mut self, command: &str, answer: &str) {
        self.send(&format!("{command}\r"));
        self.expect(answer);
    }

    fn pid(&mut self) -> i32 {
        self.request("pid").parse().unwrap()
    }

    /// Waits for the command to exit; its exit code and everything it printed.
    #[track_caller]
    fn exit(&mut self, seconds: u32) -> (i32, String) {
        let answer = self.request(&format!("wait {seconds}"));
        let rest = answer
            .strip_prefix("exit ")
            .unwrap_or_else(|| panic!("still running after {seconds} s: {answer}"));
        let (code, output) = rest.split_once(' ').unwrap();
        (code.parse().unwrap(), output.to_owned())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many consoles the daemon opened, from its audit log (it connects to QEMU before it
/// answers, so a counted session gets all output from then on).
fn consoles_opened(daemon: &TestDaemon) -> usize {
    std::fs::read_to_string(daemon.state_dir().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("DOMAIN_OPEN_CONSOLE") && l.contains("\"result\":\"ok\""))
        .count()
}

/// Starts a daemon with the rules driver, defines and boots the console guest.
fn setup(name: &str, uuid: &str) -> (TestDaemon, PathBuf, tempfile::TempDir) {
    ensure_user(VIEWER, None);
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = write_file(rules_dir.path(), "rules.toml", RULES);
    let config = format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\nunix_sock_rw_perms = \"0777\"\n",
        rules.display()
    );
    let daemon = TestDaemon::start_with_config(Some(&config));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = daemon.dir.path().join(format!("{name}.console.log"));
    let file = write_file(
        daemon.dir.path(),
        &format!("{name}.xml"),
        &guest_xml(name, uuid, &log),
    );
    ok(daemon.virsh(&["define", file.to_str().unwrap()]));
    ok(daemon.virsh(&["start", name]));
    wait_for("the guest to boot", BOOT, || {
        log_holds(&log, "MOAT-GUEST-BOOTED")
    });
    (daemon, log, rules_dir)
}

#[test]
fn the_pty_console_is_a_socket_in_the_guests_own_run_directory() {
    let (daemon, log, _rules) = setup("con0", "30000000-0000-4000-8000-000000000001");
    // QEMU made the socket itself, as the guest's own uid, in the directory it already had.
    let pid = std::fs::read_to_string(daemon.run_dir().join("qemu/con0.pid")).unwrap();
    let uid: u32 = proc_field(&proc_status(&pid), "Uid").parse().unwrap();
    let socket = daemon.run_dir().join("qemu/con0/console-serial0.sock");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.uid(), uid, "the socket belongs to the guest's uid");
    assert_ne!(uid, 0);
    // The live XML: a pty console with libvirt's alias, and neither a /dev/pts path nor the
    // socket's (only the daemon reaches it).
    let xml = ok(daemon.virsh(&["dumpxml", "con0"]));
    assert!(xml.contains("<serial type='pty'>"), "{xml}");
    assert!(xml.contains("<console type='pty'>"), "{xml}");
    assert_eq!(xml.matches("<alias name='serial0'/>").count(), 2, "{xml}");
    assert!(
        !xml.contains("/dev/pts") && !xml.contains("console-serial0"),
        "{xml}"
    );
    let inactive = ok(daemon.virsh(&["dumpxml", "--inactive", "con0"]));
    assert!(!inactive.contains("<alias"), "{inactive}");
    // The log keeps everything the guest prints, with or without a console attached.
    assert!(log_holds(&log, "MOAT-GUEST-BOOTED"));
    // From outside the jail, root (the daemon's broker) reaches the guest's serial port there.
    let mut conn = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    conn.write_all(b"echo MOAT-$((4*4))-DIRECT\r").unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("MOAT-16-DIRECT") {
        assert!(
            Instant::now() < deadline,
            "no answer: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        if let Ok(n) = std::io::Read::read(&mut conn, &mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    wait_for("the log to get the answer", Duration::from_secs(10), || {
        log_holds(&log, "MOAT-16-DIRECT")
    });
}

#[test]
fn virsh_console_shows_the_guest_and_types_into_it_one_session_at_a_time() {
    let (daemon, log, _rules) = setup("con1", "30000000-0000-4000-8000-000000000002");
    let uri = daemon.uri();

    let mut first = Terminal::console(&uri, &["con1"]);
    first.attach("con1");
    // The guest's shell answers: the arithmetic is done by the guest, not echoed back.
    first.run_in_guest("echo MOAT-$((6*7))-TYPED", "MOAT-42-TYPED");
    wait_for("the log to get the answer", Duration::from_secs(10), || {
        log_holds(&log, "MOAT-42-TYPED")
    });

    // A second console is refused while the first is open, which keeps working.
    let mut second = Terminal::console(&uri, &["con1"]);
    let (code, out) = second.exit(60);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("error: operation failed: Active console session exists for this domain"),
        "{out}"
    );
    first.run_in_guest("echo MOAT-$((7*7))-STILL", "MOAT-49-STILL");

    // --force takes over; the first virsh sees its console end and exits.
    let mut forced = Terminal::console(&uri, &["--force", "con1"]);
    forced.attach("con1");
    forced.run_in_guest("echo MOAT-$((8*8))-FORCED", "MOAT-64-FORCED");
    let (_, out) = first.exit(60);
    assert!(!out.contains("MOAT-64-FORCED"), "{out}");

    // A virsh killed outright leaves the daemon well and the console free.
    let pid = forced.pid();
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut next = Terminal::console(&uri, &["con1"]);
    next.attach("con1");
    next.run_in_guest("echo MOAT-$((9*9))-AGAIN", "MOAT-81-AGAIN");
    assert!(ok(daemon.virsh(&["list", "--name"])).contains("con1"));

    // A bad device name, even while a session is open.
    let mut bad = Terminal::console(&uri, &["con1", "--devname", "serial7"]);
    let (code, out) = bad.exit(60);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("error: internal error: cannot find character device serial7"),
        "{out}"
    );

    // Ctrl+] leaves the console cleanly; a new session opens after it.
    next.send("\x1d");
    let (code, out) = next.exit(60);
    assert_eq!(code, 0, "{out}");
    let mut by_alias = Terminal::console(&uri, &["con1", "--devname", "serial0"]);
    by_alias.attach("con1");
    by_alias.run_in_guest("echo MOAT-$((5*5))-ALIAS", "MOAT-25-ALIAS");

    // The guest stops under an open console: the console ends, and after a restart a new
    // session (opened while the guest is paused, so it misses nothing) sees the new boot.
    ok(daemon.virsh(&["destroy", "con1"]));
    let (_, _) = by_alias.exit(60);
    ok(daemon.virsh(&["start", "--paused", "con1"]));
    let opened = consoles_opened(&daemon);
    let mut after = Terminal::console(&uri, &["con1"]);
    after.expect("Connected to domain 'con1'");
    wait_for(
        "the daemon to open the console",
        Duration::from_secs(30),
        || consoles_opened(&daemon) > opened,
    );
    ok(daemon.virsh(&["resume", "con1"]));
    after.expect("MOAT-GUEST-BOOTED");
    after.run_in_guest("echo MOAT-$((3*3))-REBORN", "MOAT-9-REBORN");
}

#[test]
fn consoles_are_refused_to_readers_stopped_guests_and_users_without_the_grant() {
    let (daemon, _log, _rules) = setup("con2", "30000000-0000-4000-8000-000000000003");

    // The read-only socket: the daemon refuses (virsh -r is refused by the client library).
    let mut ro = Terminal::console(&daemon.uri_ro_socket(), &["con2"]);
    let (code, out) = ro.exit(60);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("operation forbidden: read only access prevents virDomainOpenConsole"),
        "{out}"
    );

    // A user who may read the guest but not open its devices.
    let home = user_home(VIEWER);
    let uri = daemon.uri();
    let mut command: Vec<&str> = as_user(VIEWER).to_vec();
    command.extend(["virsh", "-c", &uri, "console", "con2"]);
    let mut viewer = Terminal::run(&command, &[("HOME", &home)]);
    let (code, out) = viewer.exit(60);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("access denied"), "{out}");
    assert!(out.contains("open_device"), "{out}");

    // Root's console still opens after those refusals.
    let mut root = Terminal::console(&uri, &["con2"]);
    root.attach("con2");
    root.run_in_guest("echo MOAT-$((2*3))-ROOT", "MOAT-6-ROOT");
    root.send("\x1d");
    assert_eq!(root.exit(60).0, 0);

    // python-libvirt: open, type, read the answer, abort, twenty times in a row; each open
    // finds the console free at once, since an abort's confirmation comes after the release.
    let out = daemon.python(
        "import libvirt, os\n\
         conn = libvirt.open(os.environ['URI'])\n\
         dom = conn.lookupByName('con2')\n\
         for i in range(20):\n\
         \x20   st = conn.newStream(0)\n\
         \x20   dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_SAFE)\n\
         \x20   st.send(b'echo PY-$((%d*2))-OK\\r' % i)\n\
         \x20   want, seen = b'PY-%d-OK' % (i * 2), b''\n\
         \x20   while want not in seen:\n\
         \x20       chunk = st.recv(4096)\n\
         \x20       assert chunk, seen\n\
         \x20       seen += chunk\n\
         \x20   st.abort()\n\
         print('sessions', i + 1)\n",
    );
    assert_eq!(stdout(&out).trim(), "sessions 20", "{}", stderr(&out));

    // A stopped guest: virsh says so itself, and the API (python-libvirt) gets libvirt's error.
    ok(daemon.virsh(&["destroy", "con2"]));
    let out = daemon.python(
        "import libvirt, os\n\
         conn = libvirt.open(os.environ['URI'])\n\
         dom = conn.lookupByName('con2')\n\
         for name, flags in ((None, 0), ('serial0', 1)):\n\
         \x20   try:\n\
         \x20       dom.openConsole(name, conn.newStream(0), flags)\n\
         \x20       print('opened')\n\
         \x20   except libvirt.libvirtError as e:\n\
         \x20       print(e.get_error_code(), e)\n",
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "55 Requested operation is not valid: domain 'con2' is not running",
            "55 Requested operation is not valid: domain 'con2' is not running",
        ],
        "{text}"
    );
    let mut stopped = Terminal::console(&uri, &["con2"]);
    let (code, out) = stopped.exit(60);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("The domain is not running"), "{out}");
    // The daemon is unaffected by all of it.
    assert!(ok(daemon.virsh(&["list", "--all", "--name"])).contains("con2"));
}
