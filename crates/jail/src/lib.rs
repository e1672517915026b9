//! The jail around every QEMU: `moat-jail`, and the [`JailSpec`] the daemon
//! hands it.
//!
//! moatd is a multi-threaded root daemon, so it does not confine QEMU between
//! fork and exec. It spawns `moat-jail` (a fresh single-threaded process, see
//! [`command`]), which reads the spec from stdin, confines itself and execs
//! QEMU in place: the pid moatd spawned is QEMU's pid. The steps, in order
//! (after the Firecracker jailer and isolation.md §9):
//!
//! 1. read the spec; stdin becomes `/dev/null`; every fd from
//!    `3 + passed_fds` up is closed (`close_range`); the environment was
//!    already cleared by [`command`] and the program gets exactly `spec.env`;
//! 2. write our pid into each `cgroup.procs` ([`cgroup::GuestCgroup`]), while
//!    the host's cgroupfs is still visible;
//! 3. `unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)`;
//! 4. build the new root and `pivot_root` into it (tmpfs root, same-path
//!    binds, private `/dev` with only the listed nodes, fresh `/proc` with
//!    `hidepid=invisible`; see `rootfs.rs`);
//! 5. rlimits;
//! 6. empty the capability bounding set, `setgroups([])`, `setresgid`,
//!    `setresuid` to the per-guest ids, empty every capability set and check
//!    `/proc/self/status`;
//! 7. `no_new_privs`;
//! 8. Landlock ([`ruleset`]), with paths resolved inside the new root;
//! 9. the seccomp denylist ([`seccomp`]);
//! 10. the SELinux exec label, when asked;
//! 11. print `moat-jail: confined <id>: …` on stderr and `execve`.
//!
//! A failed step prints `moat-jail: <step>: <causes>` and exits 126 (127 when
//! the program is missing). Nothing done before the failure is visible on the
//! host: mounts live in the jail's own namespace and die with it.
//!
//! ```no_run
//! use jail::{system_binds, system_landlock, Bind, JailSpec, LandlockRules};
//! let mut landlock = LandlockRules::default();
//! system_landlock(&mut landlock);
//! landlock.sockets.push("/run/moat/vm1".into());
//! let mut binds = system_binds();
//! binds.push(Bind::writable("/run/moat/vm1"));
//! let spec = JailSpec {
//!     id: "vm1".into(),
//!     program: "/usr/bin/qemu-system-x86_64".into(),
//!     args: vec!["-S".into()],
//!     env: vec![],
//!     uid: 1_100_001,
//!     gid: 1_100_001,
//!     passed_fds: 0,
//!     new_root: "/run/moat/vm1.root".into(),
//!     binds,
//!     devices: vec![],
//!     cgroup_procs: vec![],
//!     rlimits: vec![],
//!     landlock: Some(landlock),
//!     seccomp: true,
//!     selinux_exec_label: None,
//!     hide_pids: true,
//! };
//! let child = jail::command("/usr/libexec/moat-jail".as_ref(), &spec)?.spawn();
//! # Ok::<(), jail::SpecError>(())
//! ```

#![warn(missing_docs)]

pub mod cgroup;
pub mod confine;
mod launch;
mod rootfs;
pub mod ruleset;
pub mod seccomp;
mod spec;
mod system;

pub use confine::JailError;
pub use launch::command;
pub use ruleset::landlock_abi;
pub use spec::{
    Bind, DeviceNode, JailSpec, LandlockRules, Rlimit, RlimitResource, SpecError, MAX_PASSED_FDS,
};
pub use system::{system_binds, system_landlock};
