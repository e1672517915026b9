//! The daemon's side of the hand-over: a [`Command`] for `moat-jail` with an
//! empty environment and the spec in a sealed memfd as its stdin.
//!
//! A sealed memfd (no write, grow or shrink) means the spec the jail reads is
//! exactly the one validated here, whatever else holds the fd, and it needs
//! no pipe writer thread in the daemon.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use rustix::fs::{MemfdFlags, SealFlags};

use crate::spec::{JailSpec, SpecError};

/// A `Command` running `jail_binary` with `spec` on its stdin. The caller sets
/// stdout and stderr (QEMU's log) and spawns it; the spec is validated first.
/// fds to pass through (taps) must end up as 3, 4, ... in the child; that is
/// the caller's job (e.g. a `pre_exec` that `dup2`s them), and
/// `spec.passed_fds` says how many.
pub fn command(jail_binary: &Path, spec: &JailSpec) -> Result<Command, SpecError> {
    spec.validate()?;
    let fd = rustix::fs::memfd_create(
        "moat-jail-spec",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| SpecError::Memfd(e.into()))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&spec.to_json()).map_err(SpecError::Memfd)?;
    file.seek(SeekFrom::Start(0)).map_err(SpecError::Memfd)?;
    let seals = SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL;
    rustix::fs::fcntl_add_seals(&file, seals).map_err(|e| SpecError::Memfd(e.into()))?;
    let mut cmd = Command::new(jail_binary);
    cmd.env_clear().stdin(Stdio::from(file));
    Ok(cmd)
}
