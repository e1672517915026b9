//! What the host offers QEMU: usable KVM, and whether the binary has `-sandbox`.
//!
//! Both feed [`HostFacts`](crate::argv::HostFacts). The KVM probe reads under a root path so
//! tests can stand a fixture tree in for `/dev` and `/sys`.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::argv::{Kvm, Sandbox};

/// Whether `type='kvm'` guests can use KVM on the host under `root` (`/` outside tests).
///
/// KVM is usable when `ROOT/dev/kvm` opens read-write and the module behind it is not
/// `kvm_pvm`: that nested "pagetable-based" hypervisor runs SeaBIOS but kills Linux guests
/// with emulation failures, so guests run under TCG there (reference/test-guest.md).
pub fn probe_kvm(root: &Path) -> Kvm {
    if root.join("sys/module/kvm_pvm").exists() {
        return Kvm::Unavailable;
    }
    let opens = OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join("dev/kvm"))
        .is_ok();
    if opens {
        Kvm::Usable
    } else {
        Kvm::Unavailable
    }
}

/// Whether the emulator accepts `-sandbox` (built with seccomp), from its `-help` text.
/// An emulator that cannot be run has no sandbox.
pub fn probe_sandbox(emulator: &Path) -> Sandbox {
    let output = Command::new(emulator)
        .arg("-help")
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(output) if String::from_utf8_lossy(&output.stdout).contains("\n-sandbox ") => {
            Sandbox::Supported
        }
        _ => Sandbox::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_needs_an_openable_device_and_no_pvm() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(probe_kvm(root.path()), Kvm::Unavailable);
        std::fs::create_dir_all(root.path().join("dev")).unwrap();
        std::fs::write(root.path().join("dev/kvm"), "").unwrap();
        assert_eq!(probe_kvm(root.path()), Kvm::Usable);
        std::fs::create_dir_all(root.path().join("sys/module/kvm_pvm")).unwrap();
        assert_eq!(probe_kvm(root.path()), Kvm::Unavailable);
    }

    #[test]
    fn a_missing_emulator_has_no_sandbox() {
        assert_eq!(
            probe_sandbox(Path::new("/nonexistent/qemu")),
            Sandbox::Unsupported
        );
    }
}
