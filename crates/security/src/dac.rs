//! The `dac` model: a uid and gid of its own for every guest.
//!
//! libvirt runs every QEMU as one `qemu` user, so DAC keeps guests from the host but not from
//! each other. Moat gives each running guest a uid=gid from the configured range
//! ([`crate::ids`]), labelled `+UID:+GID` like libvirt's DAC labels, and:
//!
//! - hands the guest's own writable resources (top image, nvram, chardev files) to it with
//!   `chown`, remembering the owner (`trusted.libvirt.security.dac`) for restore;
//! - never hands over read-only images, backing layers, kernels or shared disks: the guest's uid
//!   gets a POSIX ACL entry instead (read, or read-write for `<shareable/>`), taken out at restore;
//! - leaves everything alone without `dynamic_ownership` or with `relabel='no'`.

use std::path::Path;

use domxml::model::{Seclabel, SeclabelType};
use domxml::Domain;

use crate::ids::{HostAccounts, IdAllocator};
use crate::posix_acl;
use crate::relabel::Step;
use crate::resources::{Layer, Resource, ResourceKind};
use crate::stack::LabelError;

/// The model name.
pub const MODEL: &str = "dac";

/// A uid and gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Credentials {
    /// `+uid:+gid`.
    pub fn label(&self) -> String {
        format!("+{}:+{}", self.uid, self.gid)
    }

    /// Parses a numeric label, `+uid:+gid` or `uid:gid`.
    pub fn parse(label: &str) -> Option<Self> {
        let (user, group) = label.split_once(':')?;
        let number = |text: &str| text.strip_prefix('+').unwrap_or(text).parse().ok();
        Some(Self {
            uid: number(user)?,
            gid: number(group)?,
        })
    }

    /// Parses a label whose parts may also be names from the host's account database; a
    /// leading `+` forces a number.
    pub fn resolve(label: &str, accounts: &HostAccounts) -> Option<Self> {
        let (user, group) = label.split_once(':')?;
        let id = |text: &str, lookup: &dyn Fn(&str) -> Option<u32>| match text.strip_prefix('+') {
            Some(number) => number.parse().ok(),
            None => lookup(text).or_else(|| text.parse().ok()),
        };
        Some(Self {
            uid: id(user, &|n| accounts.user(n))?,
            gid: id(group, &|n| accounts.group(n))?,
        })
    }
}

/// The live `dac` label for `def` from `given`; dynamic labels take a fresh id.
pub(crate) fn generate(
    def: &Domain,
    given: &Seclabel,
    ids: &mut IdAllocator,
    accounts: &HostAccounts,
) -> Result<Seclabel, LabelError> {
    let mut out = given.clone();
    out.model = Some(MODEL.to_owned());
    if given.imagelabel.is_some() {
        return Err(LabelError::ImageLabelAlreadyDefined);
    }
    let creds = match given.kind {
        SeclabelType::None => return Ok(out),
        SeclabelType::Dynamic => {
            if given.label.is_some() {
                return Err(LabelError::LabelAlreadyDefined);
            }
            let id = ids.allocate(accounts)?;
            Credentials { uid: id, gid: id }
        }
        SeclabelType::Static => {
            let text = given
                .label
                .as_deref()
                .ok_or_else(|| LabelError::LabelMissing {
                    model: MODEL,
                    domain: def.name.clone(),
                })?;
            let creds =
                Credentials::resolve(text, accounts).ok_or_else(|| LabelError::BadDacLabel {
                    label: text.to_owned(),
                })?;
            ids.reserve(creds.uid)?;
            creds
        }
    };
    out.label = Some(creds.label());
    if out.relabel {
        out.imagelabel.clone_from(&out.label);
    }
    Ok(out)
}

/// The real, effective, saved and filesystem uids and gids of a process, from
/// `<proc_root>/PID/status`.
pub(crate) fn process_ids(proc_root: &Path, pid: i32) -> Result<([u32; 4], [u32; 4]), LabelError> {
    let path = proc_root.join(pid.to_string()).join("status");
    let text = std::fs::read_to_string(&path).map_err(|source| LabelError::ProcessStatus {
        path: path.clone(),
        source,
    })?;
    let ids = |key: &str| -> Option<[u32; 4]> {
        let line = text.lines().find_map(|line| line.strip_prefix(key))?;
        let values: Vec<u32> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        values.try_into().ok()
    };
    match (ids("Uid:"), ids("Gid:")) {
        (Some(uids), Some(gids)) => Ok((uids, gids)),
        _ => Err(LabelError::ProcessStatus {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no Uid:/Gid: lines"),
        }),
    }
}

/// What the `dac` model does to `res` for a guest with `label`.
pub(crate) fn plan(res: &Resource, label: &Seclabel, dynamic_ownership: bool) -> Step {
    if !dynamic_ownership || !label.relabel {
        return Step::Skip;
    }
    let Some(process) = label.label.as_deref().and_then(Credentials::parse) else {
        return Step::Skip;
    };
    let mut owner = label
        .imagelabel
        .as_deref()
        .and_then(Credentials::parse)
        .unwrap_or(process);
    if let Some(device) = res.override_for(MODEL) {
        if !device.relabel {
            return Step::Skip;
        }
        if let Some(text) = device.label.as_deref() {
            match Credentials::parse(text) {
                Some(creds) => owner = creds,
                None => {
                    return Step::Warn(format!(
                        "invalid DAC label '{text}' on {}",
                        res.path.display()
                    ))
                }
            }
        }
    }
    if res.directory {
        return Step::Skip;
    }
    let grant = |perm| Step::Grant {
        uid: process.uid,
        perm,
    };
    match &res.kind {
        ResourceKind::Image { layer, .. } => {
            let top = *layer == Layer::Top;
            match (top, res.shared, res.access) {
                (true, false, crate::resources::Access::ReadWrite) => Step::Chown {
                    uid: owner.uid,
                    gid: owner.gid,
                },
                (true, true, crate::resources::Access::ReadWrite) => {
                    grant(posix_acl::READ | posix_acl::WRITE)
                }
                _ => grant(posix_acl::READ),
            }
        }
        ResourceKind::Kernel | ResourceKind::Initrd | ResourceKind::Dtb => grant(posix_acl::READ),
        ResourceKind::Loader => Step::Skip,
        ResourceKind::Nvram | ResourceKind::Chardev { .. } | ResourceKind::ChardevLog { .. } => {
            Step::Chown {
                uid: owner.uid,
                gid: owner.gid,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_numbers_and_names() {
        assert_eq!(
            Credentials::parse("+107:+108"),
            Some(Credentials { uid: 107, gid: 108 })
        );
        assert_eq!(Credentials::parse("5:6").unwrap().label(), "+5:+6");
        assert_eq!(Credentials::parse("qemu:qemu"), None);
        assert_eq!(Credentials::parse("+1"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "qemu:x:107:107::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "kvm:x:36:\n").unwrap();
        let accounts = HostAccounts::load(dir.path()).unwrap();
        assert_eq!(
            Credentials::resolve("qemu:kvm", &accounts),
            Some(Credentials { uid: 107, gid: 36 })
        );
        assert_eq!(
            Credentials::resolve("+9:+10", &accounts),
            Some(Credentials { uid: 9, gid: 10 })
        );
        assert_eq!(Credentials::resolve("nobody:kvm", &accounts), None);
    }

    #[test]
    fn status_lines_are_read_from_the_proc_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("12")).unwrap();
        std::fs::write(
            dir.path().join("12/status"),
            "Name:\tqemu\nUid:\t1000001\t1000001\t1000001\t1000001\nGid:\t1000001\t1000001\t1000001\t1000001\n",
        )
        .unwrap();
        let (uids, gids) = process_ids(dir.path(), 12).unwrap();
        assert_eq!(uids, [1_000_001; 4]);
        assert_eq!(gids, [1_000_001; 4]);
        let err = process_ids(dir.path(), 13).unwrap_err();
        assert!(err.to_string().contains("13/status"), "{err}");
    }
}
