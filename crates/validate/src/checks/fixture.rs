//! Fixture roots for the checks' unit tests: a tempdir laid out like a host.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use tempfile::TempDir;

use super::Check;
use crate::check::{CheckResult, Status};
use crate::guests::Guests;
use crate::host::{Host, Mode, ScriptedCommands, Settings};
use crate::root::HostRoot;

/// A host tree in a tempdir.
pub(crate) struct Fixture {
    pub dir: TempDir,
    pub mode: Mode,
    pub settings: Settings,
    pub commands: ScriptedCommands,
}

impl Fixture {
    /// A tree whose /proc, /sys and /dev stand for a running kernel.
    pub fn live() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
            mode: Mode::Live,
            settings: Settings::default(),
            commands: ScriptedCommands::none(),
        }
    }

    /// A tree checked as a mounted root.
    pub fn offline() -> Self {
        Fixture {
            mode: Mode::Offline,
            ..Fixture::live()
        }
    }

    fn real(&self, path: &str) -> std::path::PathBuf {
        self.dir.path().join(path.trim_start_matches('/'))
    }

    /// Writes `text` at host path `path`, creating parents.
    pub fn file(&self, path: &str, text: &str) -> &Self {
        let real = self.real(path);
        fs::create_dir_all(real.parent().unwrap_or(Path::new("/"))).expect("mkdir");
        fs::write(real, text).expect("write");
        self
    }

    /// Makes a symbolic link at `path` pointing to `target`.
    pub fn link(&self, path: &str, target: &str) -> &Self {
        let real = self.real(path);
        fs::create_dir_all(real.parent().unwrap_or(Path::new("/"))).expect("mkdir");
        symlink(target, real).expect("symlink");
        self
    }

    /// Makes a directory.
    pub fn dir(&self, path: &str) -> &Self {
        fs::create_dir_all(self.real(path)).expect("mkdir");
        self
    }

    /// Sets the SELinux label of the file at `path` (the `security.selinux` attribute). Without
    /// SELinux the kernel stores it as given, but only for root (CAP_SYS_ADMIN), as CI runs.
    pub fn label(&self, path: &str, label: &str) -> &Self {
        let value = format!("{label}\0");
        rustix::fs::setxattr(
            self.real(path),
            "security.selinux",
            value.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        )
        .expect("setting security.selinux needs root (CAP_SYS_ADMIN)");
        self
    }

    /// The host as the checks see it.
    pub fn host(&self) -> Host<'_> {
        let root = HostRoot::new(self.dir.path());
        let mut guests = Guests::discover(&root, &self.settings.state_dir);
        guests.load_pools(&root);
        Host {
            root,
            mode: self.mode,
            settings: &self.settings,
            guests,
            commands: &self.commands,
        }
    }

    /// Runs `check` on this tree.
    pub fn run(&self, check: &Check) -> CheckResult {
        super::run(check, &self.host())
    }

    /// Runs `check` and asserts its status, printing the findings when it differs.
    pub fn expect(&self, check: &Check, status: Status) -> CheckResult {
        let result = self.run(check);
        assert_eq!(
            result.status, status,
            "{} findings: {:#?}",
            check.info.id, result.findings
        );
        result
    }
}

/// Whether some finding of `result` has `status` and a message containing `text`.
pub(crate) fn has(result: &CheckResult, status: Status, text: &str) -> bool {
    result
        .findings
        .iter()
        .any(|finding| finding.status == status && finding.message.contains(text))
}
