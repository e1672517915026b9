//! POSIX access ACL entries for one guest uid, through the `system.posix_acl_access` xattr.
//!
//! The `dac` model never hands read-only or shared images to a guest: the guest's uid gets a
//! named ACL entry instead, and the entry is taken out again at restore.
//!
//! Wire format of the xattr (little endian, as the kernel's `posix_acl_xattr`):
//!
//! ```text
//! header:  u32 version = 2
//! entry:   u16 tag | u16 perm (r=4 w=2 x=1) | u32 id      (repeated, sorted by tag then id)
//! tags:    USER_OBJ 0x01, USER 0x02, GROUP_OBJ 0x04, GROUP 0x08, MASK 0x10, OTHER 0x20
//! ```
//!
//! `id` is `u32::MAX` for the entries without a qualifier. A file without the xattr has the
//! minimal ACL its mode describes. An ACL with named entries needs a MASK, and the kernel shows
//! the mask as the group bits of the mode; so granting widens the mask to cover the new entry,
//! and removing the last named entry turns the ACL back into plain mode bits.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The xattr holding a file's access ACL.
pub const XATTR: &str = "system.posix_acl_access";

const VERSION: u32 = 2;
const UNDEFINED_ID: u32 = u32::MAX;

/// Entry tags.
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;

/// Read permission bit.
pub const READ: u16 = 4;
/// Write permission bit.
pub const WRITE: u16 = 2;

/// Why an ACL could not be read, decoded or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// Reading the xattr or the mode failed.
    #[error("read access ACL of {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The xattr is not a version 2 ACL.
    #[error("decode access ACL of {}: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// Writing the xattr or the mode failed.
    #[error("write access ACL of {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// One ACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AclEntry {
    /// Tag (`USER_OBJ`…`OTHER`).
    pub tag: u16,
    /// Permission bits.
    pub perm: u16,
    /// Qualifier for USER and GROUP entries.
    pub id: u32,
}

/// A decoded access ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    entries: Vec<AclEntry>,
}

impl Acl {
    /// The minimal ACL equivalent to `mode`.
    pub fn from_mode(mode: u32) -> Self {
        let bits = |shift: u32| u16::try_from((mode >> shift) & 7).expect("three bits fit");
        Self {
            entries: vec![
                AclEntry {
                    tag: USER_OBJ,
                    perm: bits(6),
                    id: UNDEFINED_ID,
                },
                AclEntry {
                    tag: GROUP_OBJ,
                    perm: bits(3),
                    id: UNDEFINED_ID,
                },
                AclEntry {
                    tag: OTHER,
                    perm: bits(0),
                    id: UNDEFINED_ID,
                },
            ],
        }
    }

    /// Decodes the xattr value.
    pub fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let (header, body) = bytes.split_at_checked(4).ok_or("shorter than its header")?;
        if u32::from_le_bytes(header.try_into().expect("4 bytes")) != VERSION {
            return Err("not version 2");
        }
        if body.len() % 8 != 0 {
            return Err("truncated entry");
        }
        let entries = body
            .chunks_exact(8)
            .map(|chunk| AclEntry {
                tag: u16::from_le_bytes([chunk[0], chunk[1]]),
                perm: u16::from_le_bytes([chunk[2], chunk[3]]),
                id: u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
            })
            .collect::<Vec<_>>();
        for tag in [USER_OBJ, GROUP_OBJ, OTHER] {
            if !entries.iter().any(|e| e.tag == tag) {
                return Err("a required entry is missing");
            }
        }
        Ok(Self { entries })
    }

    /// Encodes the xattr value, entries sorted as the kernel requires.
    pub fn encode(&self) -> Vec<u8> {
        let mut entries = self.entries.clone();
        entries.sort();
        let mut out = Vec::with_capacity(4 + 8 * entries.len());
        out.extend_from_slice(&VERSION.to_le_bytes());
        for entry in entries {
            out.extend_from_slice(&entry.tag.to_le_bytes());
            out.extend_from_slice(&entry.perm.to_le_bytes());
            out.extend_from_slice(&entry.id.to_le_bytes());
        }
        out
    }

    /// The entries.
    pub fn entries(&self) -> &[AclEntry] {
        &self.entries
    }

    /// The permissions of the named user entry for `uid`.
    pub fn user(&self, uid: u32) -> Option<u16> {
        self.entries
            .iter()
            .find(|e| e.tag == USER && e.id == uid)
            .map(|e| e.perm)
    }

    fn perm_of(&self, tag: u16) -> u16 {
        self.entries
            .iter()
            .find(|e| e.tag == tag)
            .map_or(0, |e| e.perm)
    }

    /// Whether only the three mode entries are present.
    pub fn is_minimal(&self) -> bool {
        !self
            .entries
            .iter()
            .any(|e| matches!(e.tag, USER | GROUP | MASK))
    }

    /// Adds `perm` for `uid` (on top of what an entry for it has) and widens the mask to let
    /// it through.
    pub fn grant_user(&mut self, uid: u32, perm: u16) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.tag == USER && e.id == uid)
        {
            Some(entry) => entry.perm |= perm,
            None => self.entries.push(AclEntry {
                tag: USER,
                perm,
                id: uid,
            }),
        }
        let group_obj = self.perm_of(GROUP_OBJ);
        match self.entries.iter_mut().find(|e| e.tag == MASK) {
            Some(mask) => mask.perm |= perm,
            None => self.entries.push(AclEntry {
                tag: MASK,
                perm: group_obj | perm,
                id: UNDEFINED_ID,
            }),
        }
    }

    /// Takes out the entry for `uid`; returns whether there was one. Without named entries
    /// left the mask goes too, so the ACL is minimal again.
    pub fn revoke_user(&mut self, uid: u32) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| !(e.tag == USER && e.id == uid));
        let removed = self.entries.len() != before;
        if !self.entries.iter().any(|e| matches!(e.tag, USER | GROUP)) {
            self.entries.retain(|e| e.tag != MASK);
        }
        removed
    }

    /// The permission bits (`0o777` part) a minimal ACL stands for.
    fn mode_bits(&self) -> u32 {
        (u32::from(self.perm_of(USER_OBJ)) << 6)
            | (u32::from(self.perm_of(GROUP_OBJ)) << 3)
            | u32::from(self.perm_of(OTHER))
    }
}

/// Reads the access ACL of `path` (the minimal one from its mode if it has no xattr).
pub fn read(path: &Path) -> Result<Acl, AclError> {
    let read_err = |source| AclError::Read {
        path: path.to_owned(),
        source,
    };
    match xattr::get_deref(path, XATTR).map_err(read_err)? {
        Some(bytes) => Acl::decode(&bytes).map_err(|reason| AclError::Decode {
            path: path.to_owned(),
            reason,
        }),
        None => {
            let mode = std::fs::metadata(path)
                .map_err(read_err)?
                .permissions()
                .mode();
            Ok(Acl::from_mode(mode))
        }
    }
}

/// Writes `acl` to `path`. A minimal ACL is written as mode bits, with the xattr removed.
pub fn write(path: &Path, acl: &Acl) -> Result<(), AclError> {
    let write_err = |source| AclError::Write {
        path: path.to_owned(),
        source,
    };
    if !acl.is_minimal() {
        return xattr::set_deref(path, XATTR, &acl.encode()).map_err(write_err);
    }
    match xattr::remove_deref(path, XATTR) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::ENODATA) => {}
        Err(err) => return Err(write_err(err)),
    }
    let mode = std::fs::metadata(path)
        .map_err(|source| AclError::Read {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    let wanted = (mode & !0o777 & 0o7777) | acl.mode_bits();
    if mode & 0o7777 != wanted {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
            .map_err(write_err)?;
    }
    Ok(())
}

/// Grants `perm` to `uid` on `path`; returns whether the ACL changed.
pub fn grant(path: &Path, uid: u32, perm: u16) -> Result<bool, AclError> {
    let mut acl = read(path)?;
    if acl.user(uid).is_some_and(|have| have & perm == perm) {
        return Ok(false);
    }
    acl.grant_user(uid, perm);
    write(path, &acl)?;
    Ok(true)
}

/// Takes the entry for `uid` out of `path`'s ACL; returns whether there was one.
pub fn revoke(path: &Path, uid: u32) -> Result<bool, AclError> {
    let mut acl = read(path)?;
    if acl.user(uid).is_none() {
        return Ok(false);
    }
    acl.revoke_user(uid);
    write(path, &acl)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_decode_errors() {
        let mut acl = Acl::from_mode(0o640);
        acl.grant_user(1_000_001, READ | WRITE);
        let bytes = acl.encode();
        assert_eq!(bytes.len(), 4 + 5 * 8);
        assert_eq!(&bytes[..4], &[2, 0, 0, 0]);
        let back = Acl::decode(&bytes).unwrap();
        assert_eq!(back.user(1_000_001), Some(6));
        assert!(!back.is_minimal());
        assert_eq!(Acl::decode(&[2, 0]), Err("shorter than its header"));
        assert_eq!(Acl::decode(&[1, 0, 0, 0]), Err("not version 2"));
        assert_eq!(Acl::decode(&[2, 0, 0, 0, 1]), Err("truncated entry"));
        assert_eq!(
            Acl::decode(&[2, 0, 0, 0]),
            Err("a required entry is missing")
        );
    }

    #[test]
    fn grant_and_revoke_on_a_real_file_restore_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.img");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(grant(&path, 1_000_007, READ | WRITE).unwrap());
        assert!(!grant(&path, 1_000_007, READ).unwrap());
        let during = read(&path).unwrap();
        assert_eq!(during.user(1_000_007), Some(6));
        // The kernel shows the mask as the group bits.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        assert!(revoke(&path, 1_000_007).unwrap());
        assert!(!revoke(&path, 1_000_007).unwrap());
        assert_eq!(xattr::get(&path, XATTR).unwrap(), None);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn revoke_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.img");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        grant(&path, 1_000_001, READ).unwrap();
        grant(&path, 1_000_002, READ).unwrap();
        revoke(&path, 1_000_001).unwrap();
        let acl = read(&path).unwrap();
        assert_eq!(acl.user(1_000_001), None);
        assert_eq!(acl.user(1_000_002), Some(READ));
        revoke(&path, 1_000_002).unwrap();
        assert!(read(&path).unwrap().is_minimal());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
