//! Guest definitions for the guest checks: Moat's `<state>/domains/*.xml`, libvirt's
//! `/etc/libvirt/qemu/*.xml`, or the files given with `--domain-xml`.
//!
//! A definition that cannot be read or parsed is kept as a [`GuestLoadError`], so that every
//! guest check reports it as an `error` finding instead of silently judging fewer guests.

use std::path::PathBuf;

use domxml::model::{Disk, DiskDevice, DiskType};
use domxml::{Domain, ParseOptions};

use crate::check::{error_chain, Finding, Location, Status};
use crate::root::{self, FileKind, HostRoot};

/// Where libvirt keeps persistent QEMU definitions.
pub const LIBVIRT_QEMU_DIR: &str = "/etc/libvirt/qemu";

/// One guest definition.
#[derive(Debug, Clone)]
pub struct GuestDef {
    /// The definition's file: a host path, or the path given on the command line.
    pub path: String,
    /// The parsed definition.
    pub domain: Domain,
}

impl GuestDef {
    /// The guest's location for findings.
    pub fn location(&self) -> Location {
        Location::Guest {
            name: self.domain.name.clone(),
            path: self.path.clone(),
        }
    }

    /// The disks whose top layer the guest may write.
    pub fn writable_disks(&self) -> impl Iterator<Item = &Disk> {
        self.domain
            .devices
            .disks
            .iter()
            .filter(|disk| !disk.readonly && !matches!(disk.device, DiskDevice::Cdrom))
    }

    /// Every block-device source path with its disk, top layers only.
    pub fn block_sources(&self) -> impl Iterator<Item = (&Disk, &str)> {
        self.domain.devices.disks.iter().filter_map(|disk| {
            let source = disk.source.as_ref()?;
            (disk.kind == DiskType::Block)
                .then_some(source.path.as_deref())
                .flatten()
                .map(|path| (disk, path))
        })
    }
}

/// A definition that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLoadError {
    /// The file.
    pub path: String,
    /// Why, as one line.
    pub message: String,
}

/// The guests a run looks at.
#[derive(Debug, Clone, Default)]
pub struct Guests {
    /// Loaded definitions.
    pub defs: Vec<GuestDef>,
    /// Definitions that could not be loaded.
    pub errors: Vec<GuestLoadError>,
    /// The directories or files searched, for a "no guests" message.
    pub searched: Vec<String>,
}

impl Guests {
    /// Loads the definitions under `root`: `<state_dir>/domains/*.xml` and
    /// `/etc/libvirt/qemu/*.xml`. A guest defined in both is taken from Moat's state dir.
    pub fn discover(root: &HostRoot, state_dir: &str) -> Guests {
        let mut guests = Guests::default();
        let dirs = [
            format!("{}/domains", state_dir.trim_end_matches('/')),
            LIBVIRT_QEMU_DIR.to_owned(),
        ];
        for dir in dirs {
            guests.searched.push(dir.clone());
            let entries = match root.list(&dir) {
                Ok(entries) => entries,
                Err(err) => {
                    guests.errors.push(GuestLoadError {
                        path: dir.clone(),
                        message: error_chain(&err),
                    });
                    continue;
                }
            };
            for entry in entries {
                if !entry.name.ends_with(".xml") || entry.kind == FileKind::Dir {
                    continue;
                }
                match root.read(&entry.path) {
                    Ok(Some(text)) => guests.add(entry.path, &text),
                    Ok(None) => {}
                    Err(err) => guests.errors.push(GuestLoadError {
                        path: entry.path,
                        message: error_chain(&err),
                    }),
                }
            }
        }
        guests
    }

    /// Loads exactly the given files (paths on this machine, not under the root).
    pub fn from_files(files: &[PathBuf]) -> Guests {
        let mut guests = Guests::default();
        for file in files {
            let shown = file.display().to_string();
            guests.searched.push(shown.clone());
            match root::read_user_file(file) {
                Ok(text) => guests.add(shown, &text),
                Err(err) => guests.errors.push(GuestLoadError {
                    path: shown,
                    message: error_chain(&err),
                }),
            }
        }
        guests
    }

    /// Parses `text` as the definition in `path` and keeps it (or the error).
    pub fn add(&mut self, path: String, text: &str) {
        match domxml::parse(text, &ParseOptions::default()) {
            Ok(domain) => {
                if self.defs.iter().any(|def| def.domain.name == domain.name) {
                    return;
                }
                self.defs.push(GuestDef { path, domain });
            }
            Err(err) => self.errors.push(GuestLoadError {
                path,
                message: err.to_string(),
            }),
        }
    }

    /// Whether there is nothing to judge and nothing that failed to load.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty() && self.errors.is_empty()
    }

    /// `error` findings for the definitions that could not be loaded, and a `notapplicable`
    /// one when there are no guests at all.
    pub fn preamble(&self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .errors
            .iter()
            .map(|err| {
                Finding::at(
                    Status::Error,
                    format!("cannot load guest definition: {}", err.message),
                    Location::file(err.path.clone()),
                )
            })
            .collect();
        if self.is_empty() {
            findings.push(Finding::new(
                Status::NotApplicable,
                format!("no guest definitions found in {}", self.searched.join(", ")),
            ));
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    pub(crate) const GUEST: &str = "<domain type='kvm'><name>g1</name><memory>1024</memory>\
        <os><type>hvm</type></os><devices>\
        <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vda'/></disk>\
        </devices></domain>";

    #[test]
    fn discovers_state_dir_and_libvirt_definitions_once_each() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("var/lib/moat/domains")).unwrap();
        fs::create_dir_all(dir.path().join("etc/libvirt/qemu")).unwrap();
        fs::write(dir.path().join("var/lib/moat/domains/g1.xml"), GUEST).unwrap();
        fs::write(dir.path().join("etc/libvirt/qemu/g1.xml"), GUEST).unwrap();
        fs::write(dir.path().join("etc/libvirt/qemu/bad.xml"), "<domain>").unwrap();
        fs::write(dir.path().join("etc/libvirt/qemu/notes.txt"), "x").unwrap();
        let guests = Guests::discover(&HostRoot::new(dir.path()), "/var/lib/moat");
        assert_eq!(guests.defs.len(), 1);
        assert_eq!(guests.defs[0].path, "/var/lib/moat/domains/g1.xml");
        assert_eq!(guests.errors.len(), 1);
        assert_eq!(guests.errors[0].path, "/etc/libvirt/qemu/bad.xml");
        assert_eq!(guests.preamble()[0].status, Status::Error);
    }

    #[test]
    fn no_guests_is_not_applicable() {
        let dir = tempfile::tempdir().unwrap();
        let guests = Guests::discover(&HostRoot::new(dir.path()), "/var/lib/moat");
        let findings = guests.preamble();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].status, Status::NotApplicable);
        assert!(findings[0].message.contains("/etc/libvirt/qemu"));
    }
}
