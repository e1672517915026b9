//! `moat validate`: the Virtualization Security Guide's host and guest recommendations as checks.
//!
//! The guide's chapters 2–4 list what an administrator must get right on a KVM host: SELinux
//! enforcing, no needless services, listeners or accounts, a default-reject firewall, a central
//! image store, client access control, file systems named by UUID rather than label, no
//! whole-disk guests, an LVM filter, and sVirt confinement with unique labels. This crate checks
//! each of them, on the running host or on a mounted root, and says what is wrong, why (the
//! guide's reason) and how to fix it.
//!
//! Main types:
//! - [`Options`] says what to check: the root, live or offline, which checks, and the
//!   [`Settings`] that tune them (state dir, allowed ports, users and image directories);
//! - [`run`] carries the checks out and returns a [`Report`] of [`CheckResult`]s, each with a
//!   [`Status`] and [`Finding`]s that point at a file and line, a process, a unit or a guest;
//! - [`checks::ALL`] is the table of checks, whose ids are a stable interface;
//! - [`format`](mod@format) writes a report as text, JSON (schema in `schema/report.schema.json`) or SARIF;
//! - [`HostRoot`] is the only way the checks touch the filesystem: every host path is read
//!   under a root directory, so tests (and `--root`) give them a fixture tree instead of `/`.
//!
//! Live kernel state (`/proc`, `/sys`, `/dev`) is read only in [`Mode::Live`]; on an offline
//! root, the checks that need it say `notapplicable`. The firewall rules loaded in the kernel
//! have no file, so they come from a [`Commands`] implementation (`nft`, `iptables-save`).
//!
//! ```
//! use std::fs;
//! use validate::{format, run, FailOn, Options, Status, SystemCommands};
//!
//! let root = tempfile::tempdir()?;
//! fs::create_dir_all(root.path().join("etc"))?;
//! fs::write(root.path().join("etc/fstab"), "LABEL=root / xfs defaults 0 0\n")?;
//!
//! let mut options = Options::offline(root.path());
//! options.only = vec!["fstab-uuid-not-label".to_owned()];
//! let report = run(&options, &SystemCommands)?;
//!
//! let result = &report.results[0];
//! assert_eq!(result.status, Status::Fail);
//! assert_eq!(result.findings[0].location.as_ref().unwrap().to_string(), "/etc/fstab:1");
//! assert_eq!(report.exit_code(FailOn::Fail), 1);
//! let text = format::render(&report, format::Format::Text, format::Colour::Never);
//! assert!(text.contains("FAIL   fstab-uuid-not-label"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod checks;
pub mod format;
pub mod guests;
pub mod host;
pub mod report;
pub mod root;

use std::path::PathBuf;

pub use check::{CheckInfo, CheckResult, Finding, Location, Status};
pub use guests::Guests;
pub use host::{
    AllowedPort, CommandError, Commands, Host, Mode, Protocol, ScriptedCommands, Settings,
    SystemCommands,
};
pub use report::{FailOn, Report, Summary};
pub use root::{HostRoot, RootError};

/// What a run cannot start with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// `--only` or `--skip` names a check that does not exist.
    #[error("unknown check id {id:?} (known: {known})")]
    UnknownCheck {
        /// The id given.
        id: String,
        /// The known ids, comma-separated.
        known: String,
    },
    /// The root to check is not a directory.
    #[error("root {path} is not a directory")]
    RootMissing {
        /// The root as given.
        path: PathBuf,
    },
}

/// What to check, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where host paths are read.
    pub root: PathBuf,
    /// Whether the root's kernel state is live.
    pub mode: Mode,
    /// Run only these checks (all when empty).
    pub only: Vec<String>,
    /// Leave these checks out.
    pub skip: Vec<String>,
    /// Guest definitions to judge instead of those found under the root.
    pub domain_xml: Vec<PathBuf>,
    /// Tuning.
    pub settings: Settings,
}

impl Options {
    /// The running system, at `/`.
    pub fn live() -> Self {
        Options {
            root: PathBuf::from("/"),
            mode: Mode::Live,
            only: Vec::new(),
            skip: Vec::new(),
            domain_xml: Vec::new(),
            settings: Settings::default(),
        }
    }

    /// A mounted root checked offline.
    pub fn offline(root: impl Into<PathBuf>) -> Self {
        Options {
            root: root.into(),
            mode: Mode::Offline,
            ..Options::live()
        }
    }

    /// The checks selected by `only` and `skip`, and those left out.
    pub fn selection(&self) -> Result<(Vec<&'static checks::Check>, Vec<&'static str>), RunError> {
        for id in self.only.iter().chain(&self.skip) {
            if checks::find(id).is_none() {
                let known: Vec<&str> = checks::ALL.iter().map(|check| check.info.id).collect();
                return Err(RunError::UnknownCheck {
                    id: id.clone(),
                    known: known.join(", "),
                });
            }
        }
        let (selected, skipped): (Vec<&'static checks::Check>, Vec<&'static checks::Check>) =
            checks::ALL.iter().copied().partition(|check| {
                let id = check.info.id.to_owned();
                (self.only.is_empty() || self.only.contains(&id)) && !self.skip.contains(&id)
            });
        Ok((
            selected,
            skipped.into_iter().map(|check| check.info.id).collect(),
        ))
    }
}

/// Runs the selected checks and collects their results.
pub fn run(options: &Options, commands: &dyn Commands) -> Result<Report, RunError> {
    let (selected, skipped) = options.selection()?;
    let root = HostRoot::new(&options.root);
    if !root.base_is_dir() {
        return Err(RunError::RootMissing {
            path: options.root.clone(),
        });
    }
    let mut guests = if options.domain_xml.is_empty() {
        Guests::discover(&root, &options.settings.state_dir)
    } else {
        Guests::from_files(&options.domain_xml)
    };
    guests.load_pools(&root);
    let host = Host {
        root,
        mode: options.mode,
        settings: &options.settings,
        guests,
        commands,
    };
    let results = selected
        .into_iter()
        .map(|check| checks::run(check, &host))
        .collect();
    Ok(Report {
        root: options.root.display().to_string(),
        mode: options.mode,
        results,
        skipped,
    })
}
