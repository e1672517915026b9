//! The steps `moat-jail` runs, in order, and [`JailError`] naming each.
//!
//! `moat-jail` is a fresh single-threaded process started by the daemon, so
//! none of this runs between fork and exec: allocation and std are fine, and
//! per-thread calls (`setresuid` through rustix, Landlock, seccomp without
//! TSYNC) cover the whole process. See the crate doc for the order and why.

use std::convert::Infallible;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::ruleset::{Enforcement, RulesetError};
use crate::seccomp::SeccompError;
use crate::spec::{JailSpec, RlimitResource, SpecError};

/// A failed jail step. `moat-jail` prints `moat-jail: <this>: <causes>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JailError {
    /// Reading the spec from stdin failed.
    #[error("read spec from stdin")]
    ReadSpec(#[source] io::Error),
    /// The spec is malformed or invalid.
    #[error("spec")]
    Spec(#[source] SpecError),
    /// Replacing stdin with `/dev/null` failed.
    #[error("replace stdin with /dev/null")]
    Stdin(#[source] io::Error),
    /// Closing inherited fds failed.
    #[error("close inherited fds")]
    CloseFds(#[source] io::Error),
    /// Writing our pid into a cgroup failed.
    #[error("join cgroup {path}")]
    Cgroup {
        /// The `cgroup.procs` or `tasks` file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `unshare` failed.
    #[error("unshare mount, ipc and uts namespaces")]
    Unshare(#[source] io::Error),
    /// Making `/` recursively slave failed.
    #[error("make / a recursive slave mount")]
    MakeRootSlave(#[source] io::Error),
    /// Mounting the tmpfs root failed.
    #[error("mount tmpfs root at {path}")]
    MountTmpfs {
        /// `new_root`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A bind failed.
    #[error("bind {path}")]
    Bind {
        /// The bound path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Mounting the private `/dev` failed.
    #[error("mount private /dev")]
    MountDev {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Making a device node failed.
    #[error("mknod {path}")]
    Mknod {
        /// The device path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Mounting `/proc` failed.
    #[error("mount /proc")]
    MountProc {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `pivot_root` (or the chdir around it) failed.
    #[error("pivot_root")]
    PivotRoot(#[source] io::Error),
    /// Detaching the old root failed.
    #[error("unmount old root")]
    UnmountOldRoot(#[source] io::Error),
    /// A `setrlimit` failed.
    #[error("set rlimit {resource:?}")]
    Rlimit {
        /// Which.
        resource: RlimitResource,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Opening `/proc/thread-self/attr/exec` failed.
    #[error("open /proc/thread-self/attr/exec")]
    SelinuxOpen(#[source] io::Error),
    /// Dropping the capability bounding set failed.
    #[error("drop capability bounding set")]
    BoundingSet(#[source] io::Error),
    /// `setgroups([])` failed.
    #[error("clear supplementary groups")]
    SetGroups(#[source] io::Error),
    /// `setresgid` failed.
    #[error("set gid {gid}")]
    SetGid {
        /// The gid.
        gid: u32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `setresuid` failed.
    #[error("set uid {uid}")]
    SetUid {
        /// The uid.
        uid: u32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Clearing capability sets failed, or some were left.
    #[error("clear capabilities")]
    Capabilities(#[source] io::Error),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("set no_new_privs")]
    NoNewPrivs(#[source] io::Error),
    /// Landlock failed.
    #[error("landlock")]
    Landlock(#[source] RulesetError),
    /// seccomp failed.
    #[error("seccomp")]
    Seccomp(#[source] SeccompError),
    /// Writing the SELinux exec label failed.
    #[error("set selinux exec label {label}")]
    SelinuxLabel {
        /// The label.
        label: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `execve` failed.
    #[error("exec {program}")]
    Exec {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl JailError {
    /// The exit status `moat-jail` uses: 127 when the program is missing, else 126.
    pub fn exit_status(&self) -> u8 {
        let missing = match self {
            Self::Spec(e) => e.is_program_missing(),
            Self::Exec { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        };
        if missing {
            127
        } else {
            126
        }
    }
}

/// Reads the spec from stdin, confines this process and execs the program.
/// Returns only on failure. Prints the `confined` line on stderr before exec.
pub fn run_from_stdin() -> Result<Infallible, JailError> {
    let mut json = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut json)
        .map_err(JailError::ReadSpec)?;
    let spec = JailSpec::from_json(&json).map_err(JailError::Spec)?;
    spec.validate().map_err(JailError::Spec)?;
    run(&spec)
}

/// Confines this process per `spec` and execs its program (see the crate doc).
pub fn run(spec: &JailSpec) -> Result<Infallible, JailError> {
    let devnull = File::options().read(true).write(true).open("/dev/null");
    let devnull = devnull.map_err(JailError::Stdin)?;
    nix::unistd::dup2(devnull.as_raw_fd(), 0).map_err(|e| JailError::Stdin(e.into()))?;
    drop(devnull);
    close_fds_from(3 + spec.passed_fds).map_err(JailError::CloseFds)?;
    // Our own environment was cleared by `command()`; the program gets exactly spec.env.
    nix::sys::stat::umask(Mode::empty());

    // One write(2): cgroupfs parses each write on its own.
    let line = format!("{}\n", std::process::id());
    for path in &spec.cgroup_procs {
        let join = File::options()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        join.map_err(|source| JailError::Cgroup {
            path: path.clone(),
            source,
        })?;
    }

    let flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    nix::sched::unshare(flags).map_err(|e| JailError::Unshare(e.into()))?;
    crate::rootfs::build_and_enter(spec)?;

    for r in &spec.rlimits {
        setrlimit(resource(r.resource), r.soft, r.hard).map_err(|e| JailError::Rlimit {
            resource: r.resource,
            source: e.into(),
        })?;
    }

    // Opened while still root: once the uid changes the process is not
    // dumpable and its /proc files belong to root.
    let label_file = match &spec.selinux_exec_label {
        Some(_) => Some(
            File::options()
                .write(true)
                .open("/proc/thread-self/attr/exec")
                .map_err(JailError::SelinuxOpen)?,
        ),
        None => None,
    };

    drop_privileges(spec.uid, spec.gid)?;
    rustix::thread::set_no_new_privs(true).map_err(|e| JailError::NoNewPrivs(e.into()))?;

    let landlock = match &spec.landlock {
        Some(rules) => Some(crate::ruleset::apply(rules).map_err(JailError::Landlock)?),
        None => None,
    };
    if spec.seccomp {
        crate::seccomp::install().map_err(JailError::Seccomp)?;
    }
    if let (Some(mut file), Some(label)) = (label_file, &spec.selinux_exec_label) {
        file.write_all(label.as_bytes())
            .map_err(|source| JailError::SelinuxLabel {
                label: label.clone(),
                source,
            })?;
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(0o077));

    let program = cstring(spec.program.as_os_str(), &spec.program)?;
    let mut argv = vec![program.clone()];
    for a in &spec.args {
        argv.push(cstring(OsStr::new(a), &spec.program)?);
    }
    let mut envp = Vec::with_capacity(spec.env.len());
    for (k, v) in &spec.env {
        envp.push(cstring(OsStr::new(&format!("{k}={v}")), &spec.program)?);
    }

    eprintln!("moat-jail: confined {}", summary(spec, landlock));
    let Err(err) = nix::unistd::execve(&program, &argv, &envp);
    Err(JailError::Exec {
        program: spec.program.clone(),
        source: err.into(),
    })
}

fn cstring(s: &OsStr, program: &std::path::Path) -> Result<CString, JailError> {
    CString::new(s.as_bytes()).map_err(|e| JailError::Exec {
        program: program.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })
}

fn summary(spec: &JailSpec, landlock: Option<Enforcement>) -> String {
    let landlock = match (landlock, crate::ruleset::landlock_abi()) {
        (None, _) => "landlock off".to_owned(),
        (Some(Enforcement::Full), Some(abi)) => format!("landlock abi {abi} (fully enforced)"),
        (Some(Enforcement::Partial), Some(abi)) => {
            format!("landlock abi {abi} (partially enforced)")
        }
        (Some(_), _) => "landlock unavailable (not enforced)".to_owned(),
    };
    format!(
        "{}: uid={} gid={}, {landlock}, seccomp {}, {} binds, {} devices, {} passed fds",
        spec.id,
        spec.uid,
        spec.gid,
        if spec.seccomp { "on" } else { "off" },
        spec.binds.len(),
        spec.devices.len(),
        spec.passed_fds,
    )
}

fn resource(r: RlimitResource) -> Resource {
    match r {
        RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
        RlimitResource::Fsize => Resource::RLIMIT_FSIZE,
        RlimitResource::Core => Resource::RLIMIT_CORE,
        RlimitResource::Memlock => Resource::RLIMIT_MEMLOCK,
        RlimitResource::Nproc => Resource::RLIMIT_NPROC,
        RlimitResource::As => Resource::RLIMIT_AS,
    }
}

fn close_fds_from(first: u32) -> io::Result<()> {
    // SAFETY: moat-jail owns no fd at or above `first` (stdin was read and
    // replaced, std opens nothing else), so closing them cannot invalidate
    // an OwnedFd or File held by Rust code; the call touches no memory.
    let rc = unsafe { libc::close_range(first, u32::MAX, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Empties the bounding set, clears supplementary groups, switches every
/// uid and gid, empties the other capability sets, then checks
/// `/proc/self/status` says so.
fn drop_privileges(uid: u32, gid: u32) -> Result<(), JailError> {
    use rustix::thread::{CapabilitySet, CapabilitySets};
    for cap in CapabilitySet::all().iter() {
        // EINVAL: a capability this kernel does not know; the status check below
        // catches the opposite case (a capability rustix does not know).
        match rustix::thread::remove_capability_from_bounding_set(cap) {
            Ok(()) | Err(rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(JailError::BoundingSet(e.into())),
        }
    }
    nix::unistd::setgroups(&[]).map_err(|e| JailError::SetGroups(e.into()))?;
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| JailError::SetGid {
        gid,
        source: e.into(),
    })?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| JailError::SetUid {
        uid,
        source: e.into(),
    })?;
    let empty = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, empty).map_err(|e| JailError::Capabilities(e.into()))?;
    rustix::thread::clear_ambient_capability_set()
        .map_err(|e| JailError::Capabilities(e.into()))?;

    let status = std::fs::read_to_string("/proc/self/status").map_err(JailError::Capabilities)?;
    let left: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("Cap"))
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|v| v.bytes().any(|b| b != b'0'))
        })
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(JailError::Capabilities(io::Error::other(format!(
            "capabilities left: {}",
            left.join(", ")
        ))))
    }
}
