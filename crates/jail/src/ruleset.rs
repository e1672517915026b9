//! Landlock: the path and TCP allowlist applied after `pivot_root`, so every
//! path is resolved inside the new root.
//!
//! The ruleset handles the rights of one tested ABI, [`TESTED_ABI`] (6: every
//! filesystem right including `IoctlDev`, TCP bind and connect, and the
//! signal and abstract-unix-socket scopes), in best-effort mode: an older
//! kernel enforces what it knows and the status says "partially enforced".
//! Newer rights (pathname-socket `ResolveUnix` at ABI 9, UDP at ABI 10) are
//! not requested until they are tested here; until then a jailed program can
//! `connect()` to any pathname socket it can reach, which is why the daemon's
//! sockets must not be in the jail's mount namespace at all.

use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::spec::LandlockRules;

/// The ABI whose rights we request and have tested.
pub const TESTED_ABI: ABI = ABI::V6;

/// Errors applying the ruleset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesetError {
    /// A rule's path could not be opened inside the jail.
    #[error("open rule path {path}")]
    Path {
        /// The path inside the jail.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: landlock::PathFdError,
    },
    /// The kernel or the crate refused the ruleset.
    #[error("build or enforce ruleset")]
    Ruleset(#[source] landlock::RulesetError),
}

/// How the ruleset ended up enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Every requested right is enforced.
    Full,
    /// The kernel knows only some of the rights.
    Partial,
    /// Landlock is unavailable.
    None,
}

/// The kernel's Landlock ABI, or `None` when Landlock is unavailable.
pub fn landlock_abi() -> Option<u32> {
    // SAFETY: with a NULL attr, size 0 and the VERSION flag the kernel only
    // returns a number and reads no memory; no fd is created.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u32::try_from(v).ok().filter(|&v| v > 0)
}

/// Builds the ruleset from `rules` and restricts the calling thread (and,
/// after exec, the program and all its threads). Also sets `no_new_privs`.
pub fn apply(rules: &LandlockRules) -> Result<Enforcement, RulesetError> {
    let abi = TESTED_ABI;
    let all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi) & !AccessFs::Execute;
    let mut created = Ruleset::default()
        .handle_access(all)
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .map_err(RulesetError::Ruleset)?;

    let sockets = read | AccessFs::MakeSock | AccessFs::RemoveFile;
    let groups: [(&[PathBuf], BitFlags<AccessFs>); 4] = [
        (&rules.read_only, read),
        (&rules.read_exec, AccessFs::from_read(abi)),
        (&rules.read_write, all),
        (&rules.sockets, sockets),
    ];
    for (paths, access) in groups {
        for path in paths {
            created = created
                .add_rule(path_rule(path, access, abi)?)
                .map_err(RulesetError::Ruleset)?;
        }
    }
    for &port in &rules.tcp_bind {
        created = created
            .add_rule(NetPort::new(port, AccessNet::BindTcp))
            .map_err(RulesetError::Ruleset)?;
    }
    for &port in &rules.tcp_connect {
        created = created
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(RulesetError::Ruleset)?;
    }
    let status = created.restrict_self().map_err(RulesetError::Ruleset)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    })
}

/// A rule for `path`, with the rights narrowed to those valid on a file when
/// it is not a directory (the kernel refuses directory rights on files).
fn path_rule(
    path: &Path,
    access: BitFlags<AccessFs>,
    abi: ABI,
) -> Result<PathBeneath<PathFd>, RulesetError> {
    let fd = PathFd::new(path).map_err(|source| RulesetError::Path {
        path: path.to_owned(),
        source,
    })?;
    let access = if path.is_dir() {
        access
    } else {
        access & AccessFs::from_file(abi)
    };
    Ok(PathBeneath::new(fd, access))
}
