//! The SELinux process contexts the stack needs and cannot read from a file tree.
//!
//! Everything else the security models read goes through a root path (`proc_root`,
//! `passwd_root`), so tests build fixture trees. A process's SELinux context is different: on a
//! host without SELinux no file can stand in for `/proc/PID/attr/current`, so it sits behind the
//! narrow [`ProcessContext`] trait with one real implementation ([`KernelContext`]) and one
//! recording fake ([`FakeContext`]).

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the `selinux` model asks of the kernel about processes.
pub trait ProcessContext: Send + Sync + Debug {
    /// The daemon's own context (`getcon`).
    fn current(&self) -> io::Result<String>;
    /// The context of process `pid` (`getpidcon`, `/proc/PID/attr/current`).
    fn of_pid(&self, pid: i32) -> io::Result<String>;
    /// Whether SELinux is enforcing (`security_getenforce`).
    fn enforcing(&self) -> bool;
}

/// The kernel's answers, read from procfs and selinuxfs.
#[derive(Debug, Clone)]
pub struct KernelContext {
    proc_root: PathBuf,
    selinuxfs: PathBuf,
}

impl KernelContext {
    /// The kernel's SELinux, or `None` when SELinux is not enabled on this host (no selinuxfs
    /// mounted at `/sys/fs/selinux`).
    pub fn probe() -> Option<Self> {
        Self::probe_at(Path::new("/proc"), Path::new("/sys/fs/selinux"))
    }

    /// Like [`KernelContext::probe`] with other procfs and selinuxfs mount points.
    pub fn probe_at(proc_root: &Path, selinuxfs: &Path) -> Option<Self> {
        if !selinuxfs.join("enforce").is_file() {
            return None;
        }
        let this = Self {
            proc_root: proc_root.to_owned(),
            selinuxfs: selinuxfs.to_owned(),
        };
        // An LSM stack without SELinux answers attr/current with another module's label or
        // an error; only a context with at least user:role:type counts.
        match this.current() {
            Ok(ctx) if ctx.split(':').count() >= 3 => Some(this),
            _ => None,
        }
    }

    fn read_attr(&self, path: PathBuf) -> io::Result<String> {
        let raw = std::fs::read(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("read {}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&raw);
        Ok(text.trim_end_matches(['\0', '\n']).to_owned())
    }
}

impl ProcessContext for KernelContext {
    fn current(&self) -> io::Result<String> {
        self.read_attr(self.proc_root.join("self/attr/current"))
    }

    fn of_pid(&self, pid: i32) -> io::Result<String> {
        self.read_attr(self.proc_root.join(pid.to_string()).join("attr/current"))
    }

    fn enforcing(&self) -> bool {
        std::fs::read_to_string(self.selinuxfs.join("enforce"))
            .map(|text| text.trim() == "1")
            .unwrap_or(false)
    }
}

/// A recording stand-in for [`KernelContext`], for tests: a fixed daemon context, per-pid
/// answers set with [`FakeContext::set_pid`], and scripted failures.
///
/// Clones share their state, so a test keeps one clone to script and inspect while the stack
/// owns another.
#[derive(Debug, Clone)]
pub struct FakeContext {
    inner: Arc<Mutex<FakeState>>,
}

#[derive(Debug, Default)]
struct FakeState {
    daemon: String,
    pids: HashMap<i32, String>,
    enforcing: bool,
    fail_current: Option<io::ErrorKind>,
    fail_pids: HashMap<i32, io::ErrorKind>,
    calls: Vec<String>,
}

impl FakeContext {
    /// A fake whose daemon runs under `daemon` (e.g. `system_u:system_r:virtd_t:s0-s0:c0.c1023`),
    /// permissive, with no processes.
    pub fn new(daemon: &str) -> Self {
        Self {
            inner: Arc::new(Mutex::new(FakeState {
                daemon: daemon.to_owned(),
                ..FakeState::default()
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Makes process `pid` run under `context`.
    pub fn set_pid(&self, pid: i32, context: &str) {
        self.state().pids.insert(pid, context.to_owned());
    }

    /// Sets the answer of [`ProcessContext::enforcing`].
    pub fn set_enforcing(&self, enforcing: bool) {
        self.state().enforcing = enforcing;
    }

    /// Makes [`ProcessContext::current`] fail with `kind` (or succeed again with `None`).
    pub fn fail_current(&self, kind: Option<io::ErrorKind>) {
        self.state().fail_current = kind;
    }

    /// Makes [`ProcessContext::of_pid`] fail for `pid` with `kind`.
    pub fn fail_pid(&self, pid: i32, kind: io::ErrorKind) {
        self.state().fail_pids.insert(pid, kind);
    }

    /// The calls made so far, as `current`, `of_pid(N)` and `enforcing`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }
}

impl ProcessContext for FakeContext {
    fn current(&self) -> io::Result<String> {
        let mut state = self.state();
        state.calls.push("current".to_owned());
        match state.fail_current {
            Some(kind) => Err(io::Error::new(kind, "scripted failure of getcon")),
            None => Ok(state.daemon.clone()),
        }
    }

    fn of_pid(&self, pid: i32) -> io::Result<String> {
        let mut state = self.state();
        state.calls.push(format!("of_pid({pid})"));
        if let Some(kind) = state.fail_pids.get(&pid) {
            return Err(io::Error::new(
                *kind,
                format!("scripted failure of getpidcon {pid}"),
            ));
        }
        state
            .pids
            .get(&pid)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no process {pid}")))
    }

    fn enforcing(&self) -> bool {
        let mut state = self.state();
        state.calls.push("enforcing".to_owned());
        state.enforcing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_answers_records_and_fails_on_script() {
        let fake = FakeContext::new("system_u:system_r:virtd_t:s0-s0:c0.c1023");
        let shared: Box<dyn ProcessContext> = Box::new(fake.clone());
        assert_eq!(
            shared.current().unwrap(),
            "system_u:system_r:virtd_t:s0-s0:c0.c1023"
        );
        fake.set_pid(42, "system_u:system_r:svirt_t:s0:c1,c2");
        assert_eq!(
            shared.of_pid(42).unwrap(),
            "system_u:system_r:svirt_t:s0:c1,c2"
        );
        assert_eq!(
            shared.of_pid(43).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        fake.fail_pid(42, io::ErrorKind::PermissionDenied);
        assert_eq!(
            shared.of_pid(42).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        fake.fail_current(Some(io::ErrorKind::Other));
        shared.current().unwrap_err();
        assert!(!shared.enforcing());
        assert_eq!(
            fake.calls(),
            [
                "current",
                "of_pid(42)",
                "of_pid(43)",
                "of_pid(42)",
                "current",
                "enforcing"
            ]
        );
    }

    #[test]
    fn kernel_probe_is_none_without_selinuxfs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(KernelContext::probe_at(dir.path(), &dir.path().join("selinux")).is_none());
    }

    #[test]
    fn kernel_context_reads_a_fixture_tree() {
        let dir = tempfile::tempdir().unwrap();
        let proc_root = dir.path().join("proc");
        let selinuxfs = dir.path().join("selinux");
        std::fs::create_dir_all(proc_root.join("self/attr")).unwrap();
        std::fs::create_dir_all(proc_root.join("7/attr")).unwrap();
        std::fs::create_dir_all(&selinuxfs).unwrap();
        std::fs::write(selinuxfs.join("enforce"), "1").unwrap();
        std::fs::write(
            proc_root.join("self/attr/current"),
            "system_u:system_r:virtd_t:s0\0",
        )
        .unwrap();
        std::fs::write(proc_root.join("7/attr/current"), "u:r:svirt_t:s0:c1,c2\n").unwrap();
        let ctx = KernelContext::probe_at(&proc_root, &selinuxfs).unwrap();
        assert_eq!(ctx.current().unwrap(), "system_u:system_r:virtd_t:s0");
        assert_eq!(ctx.of_pid(7).unwrap(), "u:r:svirt_t:s0:c1,c2");
        assert!(ctx.enforcing());
        assert!(ctx
            .of_pid(8)
            .unwrap_err()
            .to_string()
            .contains("8/attr/current"));
    }
}
