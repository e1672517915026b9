//! The host paths every jailed QEMU needs, and the Landlock rules for them.
//!
//! Found with `strace -f` on QEMU 7.2 (Debian 12) running
//! `-accel tcg|kvm -M q35 -nodefaults -qmp unix:… -pidfile … -sandbox on,…`
//! and confirmed by the jailed-QEMU test, which runs with exactly these
//! binds. QEMU opens its shared libraries through the ELF interpreter
//! `/lib64/ld-linux-x86-64.so.2` and `/etc/ld.so.cache`, its accelerator
//! modules from `/usr/lib/x86_64-linux-gnu/qemu`, firmware from
//! `/usr/share/{qemu,seabios}`, and `/etc/localtime`. On merged-/usr Debian
//! `/bin`, `/lib` and `/lib64` are symlinks into `/usr`; the jail recreates
//! them as the same symlinks. `/sys` is not needed (QEMU only probes NUMA and
//! NVDIMM information there and copes without), and `/proc` and `/dev` are
//! made by the jail itself.

use std::path::{Path, PathBuf};

use crate::spec::{Bind, LandlockRules};

/// Read-only system paths, in bind order. `/usr` is always listed; the
/// others only when they exist on this host.
const SYSTEM_PATHS: &[&str] = &[
    "/usr",
    "/bin",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
];

/// The read-only binds QEMU needs from the host.
pub fn system_binds() -> Vec<Bind> {
    SYSTEM_PATHS
        .iter()
        .map(Path::new)
        .filter(|p| *p == Path::new("/usr") || p.symlink_metadata().is_ok())
        .map(Bind::read_only)
        .collect()
}

/// Adds the Landlock rules matching [`system_binds`]: `/usr` read and
/// execute, `/etc/ld.so.cache` (and `/etc/localtime` when it is a file, not
/// the usual symlink into `/usr`) read, and the jail's own `/proc` read (QEMU
/// reads `/proc/self/status` and `/proc/filesystems`). The merged-/usr
/// symlinks resolve into `/usr`, so they need no rule.
pub fn system_landlock(rules: &mut LandlockRules) {
    rules.read_exec.push(PathBuf::from("/usr"));
    for file in ["/etc/ld.so.cache", "/etc/localtime"] {
        let path = Path::new(file);
        if path.symlink_metadata().is_ok_and(|m| m.is_file()) {
            rules.read_only.push(path.to_owned());
        }
    }
    rules.read_only.push(PathBuf::from("/proc"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_binds_are_read_only_and_start_with_usr() {
        let binds = system_binds();
        assert_eq!(binds[0], Bind::read_only("/usr"));
        assert!(binds.iter().all(|b| !b.writable));
        let mut rules = LandlockRules::default();
        system_landlock(&mut rules);
        assert_eq!(rules.read_exec, vec![PathBuf::from("/usr")]);
    }
}
