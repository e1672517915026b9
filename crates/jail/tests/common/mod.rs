//! Shared helpers for the jail tests: a per-test temp dir with a new root,
//! a spec running `/usr/bin/python3` with an attack script, a runner with a
//! timeout, and the parsing of `name=OK:…` / `name=ERR:ERRNO` outcome lines.

#![allow(dead_code, clippy::unwrap_used)] // shared by several test crates; panics are failures

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jail::cgroup::{CgroupLimits, GuestCgroup};
use jail::{system_binds, system_landlock, JailSpec, LandlockRules};

pub const JAIL: &str = env!("CARGO_BIN_EXE_moat-jail");
pub const PYTHON: &str = "/usr/bin/python3";

/// The per-test uid: 1_100_000 + n.
pub fn uid(n: u32) -> u32 {
    1_100_000 + n
}

/// Python prelude: `attempt(name, fn)` prints one outcome line.
pub const PRELUDE: &str = r#"
import os, sys, errno, socket
def attempt(name, fn):
    try:
        r = fn()
        print(f"{name}=OK:{r}", flush=True)
    except OSError as e:
        print(f"{name}=ERR:{errno.errorcode.get(e.errno, e.errno)}", flush=True)
    except Exception as e:
        print(f"{name}=EXC:{type(e).__name__}:{e}", flush=True)
def write(path, data=b"x"):
    with open(path, "wb") as f:
        f.write(data)
def read(path):
    with open(path, "rb") as f:
        return len(f.read(64))
"#;

/// A test's scratch space: `dir` (0755 so the guest uid may traverse the
/// same-path parents of binds inside it) and `dir/root` for `new_root`.
#[derive(Debug)]
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("moat-jail-{name}-"))
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A directory owned by `uid` (mode 0700).
    pub fn owned_dir(&self, rel: &str, uid: u32) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap();
        chown(&p, uid);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        p
    }
}

pub fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

/// A spec that runs `PRELUDE + script` in python3 as `uid`, with the system
/// binds, Landlock (system rules), seccomp and hidepid.
pub fn python_spec(scratch: &Scratch, id: &str, uid: u32, script: &str) -> JailSpec {
    let mut landlock = LandlockRules::default();
    system_landlock(&mut landlock);
    JailSpec {
        id: id.to_owned(),
        program: PYTHON.into(),
        args: vec!["-I".into(), "-c".into(), format!("{PRELUDE}\n{script}")],
        env: vec![("LANG".into(), "C.UTF-8".into())],
        uid,
        gid: uid,
        passed_fds: 0,
        new_root: scratch.path("root"),
        binds: system_binds(),
        devices: vec![],
        cgroup_procs: vec![],
        rlimits: vec![],
        landlock: Some(landlock),
        seccomp: true,
        selinux_exec_label: None,
        hide_pids: true,
    }
}

pub fn spawn(spec: &JailSpec) -> Child {
    jail::command(Path::new(JAIL), spec)
        .unwrap()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` at most `timeout`; kills it (by its own pid) on timeout.
pub fn wait(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            kill(pid);
            let out = rx.recv().unwrap().unwrap();
            panic!(
                "jailed program timed out after {timeout:?}; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

pub fn kill(pid: u32) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Runs the spec to completion (30 s at most).
pub fn run(spec: &JailSpec) -> Output {
    wait(spawn(spec), Duration::from_secs(30))
}

/// Runs `moat-jail` with raw JSON on stdin (bypassing `command()`'s validation).
pub fn run_raw(json: &[u8]) -> Output {
    let mut child = Command::new(JAIL)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(json).unwrap();
    wait(child, Duration::from_secs(30))
}

/// The outcome lines of a run: name → "OK:…" / "ERR:EACCES" / "EXC:…".
#[derive(Debug)]
pub struct Outcomes {
    pub map: BTreeMap<String, String>,
    pub status: ExitStatus,
    pub stderr: String,
    pub stdout: String,
}

pub fn outcomes(out: &Output) -> Outcomes {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let map = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Outcomes {
        map,
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout,
    }
}

impl Outcomes {
    pub fn get(&self, name: &str) -> &str {
        self.map.get(name).unwrap_or_else(|| {
            panic!(
                "no outcome {name}; status {:?}\nstdout:\n{}\nstderr:\n{}",
                self.status, self.stdout, self.stderr
            )
        })
    }

    /// Asserts `name` failed with one of `errnos`.
    pub fn refused(&self, name: &str, errnos: &[&str]) {
        let got = self.get(name);
        let ok = got
            .strip_prefix("ERR:")
            .is_some_and(|e| errnos.contains(&e));
        assert!(
            ok,
            "{name}: expected one of {errnos:?}, got {got}\nstderr:\n{}",
            self.stderr
        );
    }

    /// Asserts `name` succeeded (the control that shows the setup works).
    pub fn allowed(&self, name: &str) -> &str {
        let got = self.get(name);
        got.strip_prefix("OK:").unwrap_or_else(|| {
            panic!(
                "{name}: expected success, got {got}\nstderr:\n{}",
                self.stderr
            )
        })
    }

    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "jailed program failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// A guest cgroup removed on drop, even when the test panics.
#[derive(Debug)]
pub struct CgroupGuard(pub GuestCgroup);

impl CgroupGuard {
    pub fn new(id: &str, limits: &CgroupLimits) -> Self {
        // A parent per test, so that removing it cannot race another test.
        let parent = format!("moat-test-{id}");
        let cg = GuestCgroup::create(Path::new("/sys/fs/cgroup"), &parent, id, limits)
            .unwrap_or_else(|e| panic!("cgroups are needed for this test: {e}"));
        Self(cg)
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for pid in self.0.pids() {
            kill(pid);
        }
        if let Err(e) = self.0.remove() {
            eprintln!("cgroup cleanup failed: {e}");
        }
        for dir in self.0.dirs() {
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// Whether `path` is a mount point in this (the host's) mount namespace.
pub fn mounted_on_host(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = path.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(p))
}
