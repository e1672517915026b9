//! Guest definitions for the guest checks: Moat's `<state>/domains/*.xml`, libvirt's
//! `/etc/libvirt/qemu/*.xml`, or the files given with `--domain-xml`.
//!
//! A definition that cannot be read or parsed is kept as a [`GuestLoadError`], so that every
//! guest check reports it as an `error` finding instead of silently judging fewer guests.

use std::path::PathBuf;

use domxml::model::{Disk, DiskDevice, DiskSource, DiskType};
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
}

/// A libvirt storage pool (`/etc/libvirt/storage/<name>.xml`): where its volumes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `<name>`.
    pub name: String,
    /// `type` (`dir`, `fs`, `netfs`, `logical`, `disk`, `iscsi`…).
    pub kind: String,
    /// `<target><path>`: the directory of the files, or the `/dev` directory of the devices.
    pub target: String,
}

impl Pool {
    /// Whether the pool's volumes are block devices rather than files.
    pub fn holds_devices(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "logical" | "disk" | "iscsi" | "iscsi-direct" | "scsi" | "mpath"
        )
    }
}

/// Reads the pools defined under `/etc/libvirt/storage`.
fn pools(root: &HostRoot, errors: &mut Vec<GuestLoadError>) -> Vec<Pool> {
    let dir = "/etc/libvirt/storage";
    let mut pools = Vec::new();
    let entries = match root.list(dir) {
        Ok(entries) => entries,
        Err(err) => {
            errors.push(GuestLoadError {
                path: dir.to_owned(),
                message: error_chain(&err),
            });
            return pools;
        }
    };
    for entry in entries
        .into_iter()
        .filter(|entry| entry.name.ends_with(".xml"))
    {
        let text = match root.read(&entry.path) {
            Ok(Some(text)) => text,
            Ok(None) => continue,
            Err(err) => {
                errors.push(GuestLoadError {
                    path: entry.path,
                    message: error_chain(&err),
                });
                continue;
            }
        };
        match parse_pool(&text) {
            Some(pool) => pools.push(pool),
            None => errors.push(GuestLoadError {
                path: entry.path,
                message: "not a storage pool definition with a name and a target path".to_owned(),
            }),
        }
    }
    pools
}

fn child_element<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|child| child.has_tag_name(name))
}

fn parse_pool(text: &str) -> Option<Pool> {
    let document = roxmltree::Document::parse(text).ok()?;
    let pool = document.root_element();
    let child = child_element;
    (pool.tag_name().name() == "pool").then_some(())?;
    Some(Pool {
        name: child(pool, "name")?.text()?.trim().to_owned(),
        kind: pool.attribute("type")?.to_owned(),
        target: child(child(pool, "target")?, "path")?
            .text()?
            .trim()
            .trim_end_matches('/')
            .to_owned(),
    })
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
    /// libvirt storage pools, to resolve `type='volume'` disks.
    pub pools: Vec<Pool>,
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

    /// Loads the storage pools under `root`, which `type='volume'` disks refer to.
    pub fn load_pools(&mut self, root: &HostRoot) {
        self.pools = pools(root, &mut self.errors);
    }

    /// Where a disk layer's data is on the host: a file or block device path, with volumes
    /// resolved through their pool. `None` for network disks and unknown pools.
    pub fn resolve(&self, kind: DiskType, source: &DiskSource) -> Option<(DiskType, String)> {
        match kind {
            DiskType::File | DiskType::Block | DiskType::Dir => {
                source.path.clone().map(|path| (kind, path))
            }
            DiskType::Volume => {
                let pool = self
                    .pools
                    .iter()
                    .find(|pool| Some(&pool.name) == source.pool.as_ref())?;
                let volume = source.volume.as_deref()?;
                let kind = if pool.holds_devices() {
                    DiskType::Block
                } else {
                    DiskType::File
                };
                Some((kind, format!("{}/{volume}", pool.target)))
            }
            DiskType::Network => None,
        }
    }

    /// Every host block device a guest's disks use (top layers), with its disk.
    pub fn block_sources<'g>(&self, guest: &'g GuestDef) -> Vec<(&'g Disk, String)> {
        guest
            .domain
            .devices
            .disks
            .iter()
            .filter_map(|disk| {
                let (kind, path) = self.resolve(disk.kind, disk.source.as_ref()?)?;
                (kind == DiskType::Block).then_some((disk, path))
            })
            .collect()
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
                    format!("cannot load definition: {}", err.message),
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
    fn volumes_resolve_through_their_pools() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc/libvirt/storage")).unwrap();
        fs::write(
            dir.path().join("etc/libvirt/storage/default.xml"),
            "<pool type='dir'><name>default</name><target><path>/srv/pool/</path></target></pool>",
        )
        .unwrap();
        fs::write(
            dir.path().join("etc/libvirt/storage/vg.xml"),
            "<pool type='logical'><name>vg0</name><source><name>vg0</name></source>\
             <target><path>/dev/vg0</path></target></pool>",
        )
        .unwrap();
        fs::write(dir.path().join("etc/libvirt/storage/bad.xml"), "<pool/>").unwrap();
        let mut guests = Guests::default();
        guests.load_pools(&HostRoot::new(dir.path()));
        assert_eq!(guests.pools.len(), 2);
        assert_eq!(guests.errors.len(), 1);
        let volume = |pool: &str, volume: &str| DiskSource {
            pool: Some(pool.to_owned()),
            volume: Some(volume.to_owned()),
            ..DiskSource::default()
        };
        assert_eq!(
            guests.resolve(DiskType::Volume, &volume("default", "a.qcow2")),
            Some((DiskType::File, "/srv/pool/a.qcow2".to_owned()))
        );
        assert_eq!(
            guests.resolve(DiskType::Volume, &volume("vg0", "guest")),
            Some((DiskType::Block, "/dev/vg0/guest".to_owned()))
        );
        assert_eq!(guests.resolve(DiskType::Volume, &volume("nope", "x")), None);
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
