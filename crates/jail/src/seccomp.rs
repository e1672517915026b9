//! Moat's seccomp denylist, stacked under QEMU's own `-sandbox` filter.
//!
//! QEMU's `-sandbox on,...` is itself a denylist that leaves ptrace,
//! process_vm_*, bpf, perf_event_open, keyctl and more allowed
//! (isolation.md §6). This filter adds those. Every listed syscall returns
//! `EPERM`; everything else is allowed, so QEMU keeps working whatever device
//! model it runs. `seccomp(2)` and `prctl(2)` stay allowed (QEMU installs its
//! own filter) and `execve` stays allowed (moat-jail execs QEMU after installing
//! this). The filter is x86_64 only: the BPF kills a process that calls with
//! another audit arch (seccompiler's arch check), and x32 is not built into
//! this kernel (`CONFIG_X86_X32_ABI` is not set).
//!
//! Two programs are installed:
//! 1. [`DENYLIST`], plus `clone` with any `CLONE_NEW*` flag → `EPERM`.
//! 2. `clone3` → `ENOSYS`. Its flags sit in a struct that BPF cannot read, and
//!    glibc falls back to `clone` (which program 1 inspects) only on `ENOSYS`;
//!    an `EPERM` here would break `pthread_create`. QEMU's `spawn=deny` does the same.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// One denied syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedSyscall {
    /// Its name, for messages and tests.
    pub name: &'static str,
    /// Its x86_64 number.
    pub nr: i64,
}

macro_rules! deny {
    ($($name:ident),* $(,)?) => {
        &[$(DeniedSyscall { name: stringify!($name), nr: libc::$name }),*]
    };
}

/// The syscalls moat denies to every jailed program, grouped by why.
pub const DENYLIST: &[&[DeniedSyscall]] = &[
    // Reaching into other processes: their memory, fds, or comparing kernel objects.
    deny![
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_pidfd_getfd,
        SYS_kcmp
    ],
    deny![SYS_process_madvise],
    // Kernel attack surface QEMU never needs: BPF, perf, io_uring (QEMU 7.2 probes
    // io_uring_setup for its fd monitor and falls back to ppoll on failure),
    // userfaultfd (only postcopy migration, not used).
    deny![SYS_bpf, SYS_perf_event_open, SYS_userfaultfd],
    deny![
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register
    ],
    // The kernel keyring is shared per uid and holds other users' secrets.
    deny![SYS_keyctl, SYS_add_key, SYS_request_key],
    // Loading kernels and modules.
    deny![
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_init_module,
        SYS_finit_module
    ],
    deny![SYS_delete_module],
    // File handles bypass path lookup (and so the mount namespace and Landlock).
    deny![SYS_open_by_handle_at, SYS_name_to_handle_at],
    // Mounts and namespaces: the jail's view of the filesystem is final.
    deny![
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_setns,
        SYS_unshare
    ],
    deny![
        SYS_fsopen,
        SYS_fsmount,
        SYS_fsconfig,
        SYS_fspick,
        SYS_move_mount,
        SYS_open_tree
    ],
    deny![SYS_mount_setattr],
    // Host administration: swap, reboot, accounting, quotas, the kernel log, host names.
    deny![
        SYS_swapon,
        SYS_swapoff,
        SYS_reboot,
        SYS_acct,
        SYS_quotactl,
        SYS_quotactl_fd
    ],
    deny![SYS_syslog, SYS_vhangup, SYS_sethostname, SYS_setdomainname],
    // Clocks shared with the host.
    deny![
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_adjtimex,
        SYS_clock_adjtime
    ],
    // Raw port I/O and LDT games.
    deny![SYS_iopl, SYS_ioperm, SYS_modify_ldt],
    // Whole-filesystem watching.
    deny![SYS_fanotify_init],
    // Obsolete or legacy (QEMU 7.2 calls none of them; checked with strace).
    deny![
        SYS_lookup_dcookie,
        SYS_uselib,
        SYS_personality,
        SYS_ustat,
        SYS_sysfs,
        SYS__sysctl
    ],
];

/// The `CLONE_NEW*` flags that `clone` may not carry.
const CLONE_NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// Errors building or installing the filters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// seccompiler refused the rules.
    #[error("build seccomp filter")]
    Build(#[source] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("install seccomp filter")]
    Install(#[source] seccompiler::Error),
}

/// Every denied syscall, flattened.
pub fn denied() -> impl Iterator<Item = DeniedSyscall> {
    DENYLIST.iter().flat_map(|group| group.iter().copied())
}

/// Compiles the two BPF programs (see the module doc).
pub fn programs() -> Result<[BpfProgram; 2], SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied().map(|d| (d.nr, Vec::new())).collect();
    let mut clone_rules = Vec::new();
    for &flag in CLONE_NAMESPACE_FLAGS {
        let flag = u64::from(flag.unsigned_abs());
        let cond = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )
        .map_err(SeccompError::Build)?;
        clone_rules.push(SeccompRule::new(vec![cond]).map_err(SeccompError::Build)?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    let deny = compile(rules, libc::EPERM)?;
    let clone3 = compile([(libc::SYS_clone3, Vec::new())].into(), libc::ENOSYS)?;
    Ok([deny, clone3])
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, SeccompError> {
    let errno = errno.unsigned_abs();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        TargetArch::x86_64,
    )
    .map_err(SeccompError::Build)?;
    BpfProgram::try_from(filter).map_err(SeccompError::Build)
}

/// Installs both programs on the calling thread (moat-jail is single-threaded,
/// so no TSYNC). Sets `no_new_privs` as a side effect.
pub fn install() -> Result<(), SeccompError> {
    for program in programs()? {
        seccompiler::apply_filter(&program).map_err(SeccompError::Install)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_compiles() {
        let [deny, clone3] = programs().unwrap();
        assert!(deny.len() > denied().count());
        assert!(!clone3.is_empty());
    }

    #[test]
    fn table_has_no_duplicates_and_keeps_what_qemu_needs() {
        let mut nrs: Vec<i64> = denied().map(|d| d.nr).collect();
        let n = nrs.len();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), n, "a syscall is listed twice");
        for needed in [
            libc::SYS_seccomp,
            libc::SYS_prctl,
            libc::SYS_execve,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_ioctl,
            libc::SYS_memfd_create,
            libc::SYS_mmap,
        ] {
            assert!(!nrs.contains(&needed), "syscall {needed} must stay allowed");
        }
        assert!(denied().any(|d| d.name == "SYS_ptrace"));
    }
}
