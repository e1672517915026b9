//! The pre-exec child: what runs in the forked child between `fork` and `exec` of QEMU.
//!
//! Today the child, in this order:
//!
//! 1. starts a new session (`setsid`), so QEMU has no controlling terminal and is not in the
//!    daemon's process group: a signal to the daemon's group or a terminal hang-up does not
//!    reach it, and it survives a daemon restart;
//! 2. puts the passed fds (taps) at [`FIRST_PASSED_FD`], `FIRST_PASSED_FD + 1`, … without
//!    close-on-exec, where the command line from [`argv`](crate::argv) expects them;
//! 3. marks every other fd from there up close-on-exec (`close_range` with
//!    `CLOSE_RANGE_CLOEXEC`), so nothing the daemon leaked without the flag (a listening
//!    management socket, above all) reaches QEMU; best effort on kernels before 5.11, where
//!    std's and tokio's own close-on-exec flags still hold;
//! 4. runs the [`PreExecHook`], if any: the place where the isolation work (issue 6) confines
//!    the child (cgroups, namespaces, pivot_root, rlimits, uid/gid, Landlock) before exec.
//!
//! # Async-signal-safety
//!
//! The daemon is multi-threaded, so after `fork` only async-signal-safe operations are allowed
//! in the child until `exec`: another thread may have held the allocator's or any other lock at
//! the moment of the fork. Everything here is raw system calls (`setsid`, `dup2`) over data
//! prepared in the parent; nothing allocates, locks, logs or unwinds. Errors are
//! `io::Error::from_raw_os_error`, which does not allocate, and std reports them to the parent
//! through its exec pipe. A [`PreExecHook`] must keep to the same rules, which is why building
//! one is `unsafe`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::argv::FIRST_PASSED_FD;

type HookFn = dyn FnMut() -> io::Result<()> + Send + Sync;

/// A confinement step run in the child just before `exec`.
pub struct PreExecHook {
    hook: Box<HookFn>,
}

impl fmt::Debug for PreExecHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreExecHook")
    }
}

impl PreExecHook {
    /// Wraps `hook` to run in the child after `setsid` and fd placement, just before `exec`.
    ///
    /// # Safety
    ///
    /// `hook` runs in a child forked from a multi-threaded process. It must be
    /// async-signal-safe: only system calls, on data prepared before the fork; no allocation
    /// (no `format!`, no `Vec` growth, no `io::Error::new`), no locks, no logging, no panics.
    /// It must not close or move fds below `FIRST_PASSED_FD + number of passed fds`.
    pub unsafe fn new(hook: impl FnMut() -> io::Result<()> + Send + Sync + 'static) -> Self {
        PreExecHook {
            hook: Box::new(hook),
        }
    }
}

/// Duplicates the fds to pass so that every copy is numbered above the range they will be
/// moved to in the child; `dup2` there then never overwrites a source it still needs.
pub(crate) fn prepare_passed_fds(fds: &[OwnedFd]) -> io::Result<Vec<OwnedFd>> {
    let count = i32::try_from(fds.len()).map_err(|_| io::Error::from_raw_os_error(libc::EMFILE))?;
    let floor = FIRST_PASSED_FD + count;
    fds.iter()
        .map(|fd| rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), floor).map_err(io::Error::from))
        .collect()
}

/// Installs the child steps on `command`. `passed` must come from [`prepare_passed_fds`] and
/// stay open until the command is spawned.
pub(crate) fn install(command: &mut Command, passed: &[OwnedFd], hook: Option<PreExecHook>) {
    let sources: Vec<RawFd> = passed.iter().map(AsRawFd::as_raw_fd).collect();
    let first_unpassed = FIRST_PASSED_FD
        .unsigned_abs()
        .saturating_add(u32::try_from(sources.len()).unwrap_or(u32::MAX));
    let mut hook = hook;
    let child = move || -> io::Result<()> {
        rustix::process::setsid().map_err(io::Error::from)?;
        for (target, &source) in (FIRST_PASSED_FD..).zip(sources.iter()) {
            // SAFETY: dup2 is async-signal-safe. `source` is an fd the parent keeps open until
            // spawn returns, so it is open in this child; it is numbered above every target
            // (prepare_passed_fds), so no earlier dup2 replaced it. dup2 leaves the copy
            // without close-on-exec, which is what passes it to QEMU.
            if unsafe { libc::dup2(source, target) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: close_range is a raw system call, async-signal-safe; with CLOSE_RANGE_CLOEXEC
        // it only sets flags, so std's exec-error pipe keeps working until exec. Its failure
        // (ENOSYS/EINVAL before Linux 5.11) is ignored on purpose: best effort, see the
        // module doc.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first_unpassed,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        match hook.as_mut() {
            Some(PreExecHook { hook }) => hook(),
            None => Ok(()),
        }
    };
    // SAFETY: the closure is async-signal-safe (module doc): setsid, dup2 and close_range are
    // raw system calls, `sources` was built in the parent and is only read, errors are raw OS errors, and
    // the hook's constructor obliges it to the same rules.
    unsafe {
        command.pre_exec(child);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek};
    use std::process::Stdio;

    use super::*;

    #[test]
    fn child_gets_its_own_session_and_the_passed_fds() {
        let mut reader = tempfile::tempfile().unwrap();
        let writer = reader.try_clone().unwrap();
        let passed = prepare_passed_fds(&[OwnedFd::from(writer)]).unwrap();
        assert!(passed[0].as_raw_fd() > FIRST_PASSED_FD);
        let mut command = Command::new("/bin/sh");
        // Prints its session id and its own pid (equal in a new session) to fd 3.
        command
            .args(["-c", "echo $(cut -d' ' -f6 /proc/self/stat) $$ >&3"])
            .stdin(Stdio::null());
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // SAFETY: the hook only stores to an atomic, which is async-signal-safe.
        let hook = unsafe {
            let flag = std::sync::Arc::clone(&flag);
            PreExecHook::new(move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
        };
        install(&mut command, &passed, Some(hook));
        let mut child = command.spawn().unwrap();
        drop(passed);
        drop(command);
        assert!(child.wait().unwrap().success());
        let mut out = String::new();
        reader.seek(std::io::SeekFrom::Start(0)).unwrap();
        reader.read_to_string(&mut out).unwrap();
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.len(), 2, "{out}");
        // `cut` runs in a subshell: its session is the shell's, whose pid is `$$`.
        assert_eq!(fields[0], fields[1], "not a session leader: {out}");
        // The flag was set in the child's copy of memory, not ours.
        assert!(!flag.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn fds_leaked_without_cloexec_do_not_reach_the_child() {
        let file = tempfile::tempfile().unwrap();
        // rustix's dup leaves the copy without close-on-exec: a leak.
        let leaked = rustix::io::dup(&file).unwrap();
        let number = leaked.as_raw_fd();
        let mut command = Command::new("/bin/sh");
        command.args([
            "-c",
            &format!("if [ -e /proc/$$/fd/{number} ]; then exit 1; else exit 0; fi"),
        ]);
        install(&mut command, &[], None);
        assert!(command.status().unwrap().success(), "fd {number} leaked");
        // Without the child steps the same fd does reach the child, so the test can fail.
        let mut plain = Command::new("/bin/sh");
        plain.args(["-c", &format!("[ -e /proc/$$/fd/{number} ]")]);
        assert!(plain.status().unwrap().success());
        drop(leaked);
    }

    #[test]
    fn a_failing_hook_fails_the_spawn() {
        let mut command = Command::new("/bin/true");
        // SAFETY: the hook only builds a raw OS error, which does not allocate.
        let hook = unsafe { PreExecHook::new(|| Err(io::Error::from_raw_os_error(libc::EPERM))) };
        install(&mut command, &[], Some(hook));
        let err = command.spawn().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    }
}
