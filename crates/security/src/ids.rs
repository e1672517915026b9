//! The per-guest uid/gid allocator behind the `dac` model.
//!
//! Every running guest gets one id from the configured range, used as both its uid and gid, so
//! no two guests' QEMUs can touch each other's files through DAC (threat T7). Ids are handed out
//! lowest-free first. An id is never given out while another running guest holds it, nor when it
//! names an account of the host: any uid in `<root>/etc/passwd` and any gid in
//! `<root>/etc/group` is skipped, read afresh at every allocation since accounts come and go.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Why an id could not be allocated, reserved or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Every id of the range is held or names a host account.
    #[error("guest uid range {first}-{last} exhausted: {held} ids held by running guests, {skipped} used by host accounts")]
    Exhausted {
        /// First id of the range.
        first: u32,
        /// Last id of the range.
        last: u32,
        /// Ids held by guests.
        held: usize,
        /// Ids of the range named in passwd or group.
        skipped: usize,
    },
    /// The id is already held by another running guest.
    #[error("uid {id} is already in use by another running guest")]
    InUse {
        /// The id.
        id: u32,
    },
    /// The passwd or group file could not be read.
    #[error("read host account database {}", path.display())]
    ReadDb {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Ids the host's accounts use: uids from `/etc/passwd`, gids from `/etc/group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAccounts {
    /// Uids of `passwd`.
    pub uids: BTreeSet<u32>,
    /// Gids of `group`.
    pub gids: BTreeSet<u32>,
    /// Names to uids, for DAC labels that name a user.
    users: Vec<(String, u32)>,
    /// Names to gids.
    groups: Vec<(String, u32)>,
}

impl HostAccounts {
    /// Reads `<root>/etc/passwd` and `<root>/etc/group`; a missing file counts as empty.
    pub fn load(root: &Path) -> Result<Self, IdError> {
        let users = read_db(&root.join("etc/passwd"))?;
        let groups = read_db(&root.join("etc/group"))?;
        Ok(Self {
            uids: users.iter().map(|(_, id)| *id).collect(),
            gids: groups.iter().map(|(_, id)| *id).collect(),
            users,
            groups,
        })
    }

    /// Whether `id` is a host uid or gid.
    pub fn contains(&self, id: u32) -> bool {
        self.uids.contains(&id) || self.gids.contains(&id)
    }

    /// The uid of user `name`.
    pub fn user(&self, name: &str) -> Option<u32> {
        self.users
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// The gid of group `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }
}

/// `name:x:ID:…` lines; lines that do not parse are ignored (as getpwent does).
fn read_db(path: &Path) -> Result<Vec<(String, u32)>, IdError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(IdError::ReadDb {
                path: path.to_owned(),
                source,
            })
        }
    };
    Ok(text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            Some((name.to_owned(), id))
        })
        .collect())
}

/// The ids held by running guests, out of one range.
#[derive(Debug, Clone)]
pub struct IdAllocator {
    range: RangeInclusive<u32>,
    held: BTreeSet<u32>,
}

impl IdAllocator {
    /// An allocator over `range` with nothing held.
    pub fn new(range: RangeInclusive<u32>) -> Self {
        Self {
            range,
            held: BTreeSet::new(),
        }
    }

    /// The range ids come from.
    pub fn range(&self) -> &RangeInclusive<u32> {
        &self.range
    }

    /// How many ids are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Whether `id` is held.
    pub fn is_held(&self, id: u32) -> bool {
        self.held.contains(&id)
    }

    /// Holds the lowest id that is neither held nor a host account.
    pub fn allocate(&mut self, accounts: &HostAccounts) -> Result<u32, IdError> {
        let free = self
            .range
            .clone()
            .find(|id| !self.held.contains(id) && !accounts.contains(*id));
        match free {
            Some(id) => {
                self.held.insert(id);
                Ok(id)
            }
            None => Err(IdError::Exhausted {
                first: *self.range.start(),
                last: *self.range.end(),
                held: self.held.len(),
                skipped: self
                    .range
                    .clone()
                    .filter(|id| accounts.contains(*id))
                    .count(),
            }),
        }
    }

    /// Holds `id` for a guest found running or given a static label. Ids outside the range are
    /// not tracked (the administrator chose them) and always succeed.
    pub fn reserve(&mut self, id: u32) -> Result<(), IdError> {
        if !self.range.contains(&id) {
            return Ok(());
        }
        if !self.held.insert(id) {
            return Err(IdError::InUse { id });
        }
        Ok(())
    }

    /// Gives `id` back; returns whether it was held.
    pub fn release(&mut self, id: u32) -> bool {
        self.held.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn lowest_free_skipping_accounts_and_exhaustion() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\nnobody:x:100:65534::/:/bin/false\nbroken\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nkvm:x:102:\n").unwrap();
        let accounts = HostAccounts::load(dir.path()).unwrap();
        assert_eq!(accounts.user("nobody"), Some(100));
        assert_eq!(accounts.group("kvm"), Some(102));
        let mut ids = IdAllocator::new(100..=103);
        assert_eq!(ids.allocate(&accounts).unwrap(), 101);
        assert_eq!(ids.allocate(&accounts).unwrap(), 103);
        let err = ids.allocate(&accounts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "guest uid range 100-103 exhausted: 2 ids held by running guests, 2 used by host accounts"
        );
        assert!(ids.release(101));
        assert!(!ids.release(101));
        assert_eq!(ids.allocate(&accounts).unwrap(), 101);
    }

    #[test]
    fn missing_account_files_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = HostAccounts::load(dir.path()).unwrap();
        assert_eq!(accounts, HostAccounts::default());
    }

    #[test]
    fn reserve_refuses_held_ids_and_ignores_foreign_ones() {
        let mut ids = IdAllocator::new(10..=20);
        ids.reserve(12).unwrap();
        assert_eq!(
            ids.reserve(12).unwrap_err().to_string(),
            "uid 12 is already in use by another running guest"
        );
        ids.reserve(5).unwrap();
        ids.reserve(5).unwrap();
        assert_eq!(ids.held(), 1);
        assert_eq!(ids.allocate(&HostAccounts::default()).unwrap(), 10);
    }

    proptest! {
        #[test]
        fn allocated_ids_are_unique(ops in proptest::collection::vec(any::<(bool, u8)>(), 1..200)) {
            let mut ids = IdAllocator::new(1000..=1063);
            let mut live: Vec<u32> = Vec::new();
            for (allocate, pick) in ops {
                if allocate || live.is_empty() {
                    match ids.allocate(&HostAccounts::default()) {
                        Ok(id) => {
                            prop_assert!(!live.contains(&id));
                            prop_assert!((1000..=1063).contains(&id));
                            live.push(id);
                        }
                        Err(IdError::Exhausted { .. }) => prop_assert_eq!(live.len(), 64),
                        Err(other) => prop_assert!(false, "{other}"),
                    }
                } else {
                    let id = live.swap_remove(usize::from(pick) % live.len());
                    prop_assert!(ids.release(id));
                }
                prop_assert_eq!(ids.held(), live.len());
            }
        }
    }
}
