//! QEMU 7.2 fully jailed (system binds, a writable run dir, private /dev,
//! cgroup, Landlock, seccomp, QEMU's own `-sandbox`) answers QMP from the
//! host through the run dir's socket, then quits. Once with TCG, once with
//! KVM. The same QEMU unjailed is timed for comparison (printed, not asserted).
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use jail::cgroup::{CgroupLimits, DeviceRule};
use jail::{Bind, DeviceNode, Rlimit, RlimitResource};
use serde_json::{json, Value};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

fn qemu_args(accel: &str, run: &Path) -> Vec<String> {
    let run = run.display();
    [
        "-accel",
        accel,
        "-M",
        "q35",
        "-m",
        "64",
        "-display",
        "none",
        "-S",
        "-nodefaults",
        "-no-user-config",
        "-qmp",
        &format!("unix:{run}/qmp.sock,server=on,wait=off"),
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A minimal QMP client: greeting, then one command per call.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects, retrying until `deadline`; panics with QEMU's log on failure.
    fn connect(sock: &Path, child: &mut Child, deadline: Instant) -> Self {
        loop {
            if let Ok(s) = UnixStream::connect(sock) {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut qmp = Self {
                    reader: BufReader::new(s.try_clone().unwrap()),
                    writer: s,
                };
                let greeting = qmp.read();
                assert!(greeting.get("QMP").is_some(), "{greeting}");
                return qmp;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut log = String::new();
                if let Some(mut e) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut e, &mut log).unwrap();
                }
                panic!("QEMU exited before QMP was ready: {status:?}\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "QMP socket {} never appeared",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad QMP line {line:?}: {e}"))
    }

    fn execute(&mut self, cmd: &str) -> Value {
        let mut msg = json!({ "execute": cmd }).to_string();
        msg.push('\n');
        self.writer.write_all(msg.as_bytes()).unwrap();
        loop {
            let v = self.read();
            if v.get("event").is_none() {
                return v;
            }
        }
    }
}

fn status_field(pid: u32, task: Option<&str>, key: &str) -> Vec<String> {
    let path = match task {
        Some(t) => format!("/proc/{pid}/task/{t}/status"),
        None => format!("/proc/{pid}/status"),
    };
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

/// Runs QEMU jailed; returns spawn→`qmp_capabilities` reply.
fn jailed(accel: &str, n: u32) -> Duration {
    let me = uid(n);
    let s = Scratch::new(&format!("qemu-{accel}"));
    let run = s.owned_dir("run", me);
    let mut devices = vec!["/dev/null", "/dev/zero", "/dev/urandom"];
    let kvm = Path::new("/dev/kvm").exists();
    if kvm {
        devices.push("/dev/kvm");
    }
    assert!(
        accel != "kvm" || kvm,
        "the KVM test needs /dev/kvm on the host (nested KVM); it is absent"
    );

    let mut limits = CgroupLimits {
        memory_bytes: Some(1 << 30),
        pids: Some(128),
        cpu_weight: Some(100),
        devices: vec![],
    };
    for d in &devices {
        limits
            .devices
            .push(DeviceRule::for_node(Path::new(d), *d != "/dev/urandom").unwrap());
    }
    let t = Instant::now();
    let cg = CgroupGuard::new(&format!("qemu-{accel}-{}", std::process::id()), &limits);
    let cg_create = t.elapsed();

    let mut spec = python_spec(&s, &format!("qemu-{accel}"), me, "");
    spec.program = QEMU.into();
    spec.args = qemu_args(accel, &run);
    spec.env = vec![];
    spec.binds.push(Bind::writable(&run));
    spec.devices = devices
        .iter()
        .map(|d| DeviceNode {
            path: d.into(),
            writable: *d != "/dev/urandom",
        })
        .collect();
    spec.cgroup_procs = cg.0.procs_files();
    spec.rlimits = vec![
        Rlimit {
            resource: RlimitResource::Nofile,
            soft: 1024,
            hard: 1024,
        },
        Rlimit {
            resource: RlimitResource::Core,
            soft: 0,
            hard: 0,
        },
    ];
    let ll = spec.landlock.as_mut().unwrap();
    ll.sockets.push(run.clone());
    for d in &spec.devices {
        if d.writable {
            ll.read_write.push(d.path.clone());
        } else {
            ll.read_only.push(d.path.clone());
        }
    }

    let start = Instant::now();
    let mut child = jail::command(Path::new(JAIL), &spec)
        .unwrap()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let guard = KillOnDrop(pid);
    let mut qmp = Qmp::connect(
        &run.join("qmp.sock"),
        &mut child,
        start + Duration::from_secs(20),
    );
    let caps = qmp.execute("qmp_capabilities");
    let ready = start.elapsed();
    assert_eq!(caps, json!({"return": {}}));
    let status = qmp.execute("query-status");
    assert_eq!(status["return"]["status"], "prelaunch", "{status}");
    if accel == "kvm" {
        let k = qmp.execute("query-kvm");
        assert_eq!(
            k["return"],
            json!({"enabled": true, "present": true}),
            "{k}"
        );
    }

    // The process moatd watches is QEMU itself, confined, in every thread.
    // (No -pidfile: the run directory takes sockets only, as moatd gives it.)
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert!(comm.starts_with("qemu-system"), "{comm}");
    assert_eq!(status_field(pid, None, "Uid"), vec![me.to_string(); 4]);
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for t in &tasks {
        assert_eq!(status_field(pid, Some(t), "Seccomp"), ["2"], "task {t}");
        assert_eq!(status_field(pid, Some(t), "NoNewPrivs"), ["1"], "task {t}");
        assert_eq!(
            status_field(pid, Some(t), "CapEff"),
            ["0000000000000000"],
            "task {t}"
        );
    }
    // Our filter plus QEMU's -sandbox filter(s).
    let filters: u32 = status_field(pid, None, "Seccomp_filters")[0]
        .parse()
        .unwrap();
    assert!(filters >= 3, "Seccomp_filters {filters}");
    assert_eq!(cg.0.pids(), vec![pid]);
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(
        root,
        PathBuf::from("/"),
        "root as seen from the host's namespace"
    );

    let bye = qmp.execute("quit");
    assert_eq!(bye, json!({"return": {}}));
    let out = wait(child, Duration::from_secs(20));
    std::mem::forget(guard);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "QEMU exit {:?}\n{log}", out.status);
    assert!(log.contains("moat-jail: confined"), "{log}");
    assert!(
        !run.join("qemu.pid").exists(),
        "QEMU did not clean up its pidfile"
    );
    assert!(!mounted_on_host(&s.path("root")));
    let t = Instant::now();
    drop(cg);
    eprintln!(
        "{accel} jailed: QMP ready {ready:?}; cgroup create {cg_create:?}, remove {:?}; \
         tasks {}; log: {}",
        t.elapsed(),
        tasks.len(),
        log.trim()
    );
    ready
}

/// The same QEMU started directly, for the timing comparison.
fn unjailed(accel: &str) -> Duration {
    let s = Scratch::new(&format!("qemu-plain-{accel}"));
    let run = s.path("run");
    std::fs::create_dir(&run).unwrap();
    let start = Instant::now();
    let mut child = Command::new(QEMU)
        .args(qemu_args(accel, &run))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let mut qmp = Qmp::connect(
        &run.join("qmp.sock"),
        &mut child,
        start + Duration::from_secs(20),
    );
    assert_eq!(qmp.execute("qmp_capabilities"), json!({"return": {}}));
    let ready = start.elapsed();
    qmp.execute("quit");
    let out = wait(child, Duration::from_secs(20));
    std::mem::forget(guard);
    assert!(out.status.success());
    ready
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0);
    }
}

#[test]
fn qemu_tcg_runs_fully_jailed_and_answers_qmp() {
    assert!(
        Path::new(QEMU).exists(),
        "{QEMU} is needed (apt-get install qemu-system-x86)"
    );
    let plain = unjailed("tcg");
    let jailed = jailed("tcg", 30);
    eprintln!("tcg: spawn -> qmp_capabilities reply: unjailed {plain:?}, jailed {jailed:?}");
}

#[test]
fn qemu_kvm_runs_fully_jailed_and_answers_qmp() {
    assert!(
        Path::new(QEMU).exists(),
        "{QEMU} is needed (apt-get install qemu-system-x86)"
    );
    let plain = unjailed("kvm");
    let jailed = jailed("kvm", 31);
    eprintln!("kvm: spawn -> qmp_capabilities reply: unjailed {plain:?}, jailed {jailed:?}");
}
