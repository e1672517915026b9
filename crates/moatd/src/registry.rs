//! The daemon's guests in memory: definitions, state, ids, and the rules that keep names and
//! UUIDs unique.
//!
//! Pure data: persistence is [`crate::store`], the protocol is [`crate::dispatch`]. The lifecycle
//! rules live on [`DomainState`].

use std::collections::{BTreeMap, HashMap};

use domxml::Domain;
use uuid::Uuid;

/// A guest's state, numbered as libvirt's `virDomainState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainState {
    /// No state.
    NoState,
    /// Running.
    Running,
    /// Blocked on a resource.
    Blocked,
    /// Paused by the user or the hypervisor.
    Paused,
    /// Being shut down.
    Shutdown,
    /// Not running.
    Shutoff,
    /// Crashed.
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
}

impl DomainState {
    /// libvirt's number for the state.
    pub fn number(self) -> i32 {
        match self {
            Self::NoState => 0,
            Self::Running => 1,
            Self::Blocked => 2,
            Self::Paused => 3,
            Self::Shutdown => 4,
            Self::Shutoff => 5,
            Self::Crashed => 6,
            Self::PmSuspended => 7,
        }
    }

    /// Whether a QEMU process exists for the guest.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Shutoff | Self::Crashed | Self::NoState)
    }

    /// Whether the definition may be replaced or removed right away.
    pub fn can_undefine_now(self) -> bool {
        !self.is_active()
    }
}

/// Why a guest is in its state (`virDomainShutoffReason` and kin); 0 is "unknown".
pub type StateReason = i32;

/// Reason `VIR_DOMAIN_SHUTOFF_UNKNOWN`: never started since it was defined.
pub const SHUTOFF_UNKNOWN: StateReason = 0;

/// One guest.
#[derive(Debug, Clone)]
pub struct DomainObject {
    /// The persistent definition (inactive XML).
    pub def: Domain,
    /// Current state.
    pub state: DomainState,
    /// Why it is in that state.
    pub reason: StateReason,
    /// The id while running.
    pub id: Option<u32>,
    /// Starts with the daemon.
    pub autostart: bool,
    /// Has a persistent definition (false for transient guests).
    pub persistent: bool,
}

impl DomainObject {
    /// A newly defined, inactive guest.
    pub fn defined(def: Domain) -> Self {
        Self {
            def,
            state: DomainState::Shutoff,
            reason: SHUTOFF_UNKNOWN,
            id: None,
            autostart: false,
            persistent: true,
        }
    }

    /// The id as libvirt reports it: -1 when not running.
    pub fn wire_id(&self) -> i32 {
        self.id.and_then(|id| i32::try_from(id).ok()).unwrap_or(-1)
    }
}

/// Why a definition cannot go into the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another guest has the name.
    #[error("domain '{name}' already exists with uuid {uuid}")]
    NameTaken {
        /// The name.
        name: String,
        /// The other guest's UUID.
        uuid: Uuid,
    },
    /// The UUID belongs to a guest of another name.
    #[error("domain '{name}' is already defined with uuid {uuid}")]
    UuidTaken {
        /// The existing guest's name.
        name: String,
        /// The UUID.
        uuid: Uuid,
    },
    /// Too many guests.
    #[error("too many domains: at most {max} can be defined")]
    Full {
        /// The limit.
        max: usize,
    },
}

/// What a define does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefineKind {
    /// A new guest.
    New,
    /// A new definition for an existing guest (same name and UUID).
    Update,
}

/// Most guests one daemon holds; the list procedures return at most 16,384.
pub const MAX_DOMAINS: usize = 16_384;

/// All guests, by UUID and by name.
#[derive(Debug, Default)]
pub struct Registry {
    by_uuid: BTreeMap<Uuid, DomainObject>,
    by_name: HashMap<String, Uuid>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of guests.
    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    /// Whether there is no guest.
    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }

    /// Whether `def` may be defined, and whether that adds or updates a guest.
    pub fn check_define(&self, def: &Domain) -> Result<DefineKind, RegistryError> {
        match (self.by_name.get(&def.name), self.by_uuid.get(&def.uuid)) {
            (Some(uuid), _) if *uuid != def.uuid => Err(RegistryError::NameTaken {
                name: def.name.clone(),
                uuid: *uuid,
            }),
            (_, Some(existing)) if existing.def.name != def.name => Err(RegistryError::UuidTaken {
                name: existing.def.name.clone(),
                uuid: def.uuid,
            }),
            (Some(_), Some(_)) => Ok(DefineKind::Update),
            _ if self.by_uuid.len() >= MAX_DOMAINS => Err(RegistryError::Full { max: MAX_DOMAINS }),
            _ => Ok(DefineKind::New),
        }
    }

    /// Adds a guest or replaces its definition (after [`Self::check_define`]); returns the guest.
    pub fn define(&mut self, def: Domain) -> &DomainObject {
        let uuid = def.uuid;
        self.by_name.insert(def.name.clone(), uuid);
        match self.by_uuid.entry(uuid) {
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                let object = entry.get_mut();
                object.def = def;
                object.persistent = true;
                entry.into_mut()
            }
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(DomainObject::defined(def))
            }
        }
    }

    /// Removes a guest.
    pub fn remove(&mut self, uuid: &Uuid) -> Option<DomainObject> {
        let object = self.by_uuid.remove(uuid)?;
        self.by_name.remove(&object.def.name);
        Some(object)
    }

    /// The guest with this UUID.
    pub fn get(&self, uuid: &Uuid) -> Option<&DomainObject> {
        self.by_uuid.get(uuid)
    }

    /// The guest with this UUID, to change.
    pub fn get_mut(&mut self, uuid: &Uuid) -> Option<&mut DomainObject> {
        self.by_uuid.get_mut(uuid)
    }

    /// The guest with this name.
    pub fn by_name(&self, name: &str) -> Option<&DomainObject> {
        self.by_name
            .get(name)
            .and_then(|uuid| self.by_uuid.get(uuid))
    }

    /// The running guest with this id.
    pub fn by_id(&self, id: u32) -> Option<&DomainObject> {
        self.by_uuid.values().find(|d| d.id == Some(id))
    }

    /// Every guest, in UUID order.
    pub fn iter(&self) -> impl Iterator<Item = &DomainObject> {
        self.by_uuid.values()
    }
}

#[cfg(test)]
mod tests {
    use domxml::model::DomainType;

    use super::*;

    fn def(name: &str, uuid: Uuid) -> Domain {
        Domain::new(DomainType::Kvm, name, uuid, 1024)
    }

    #[test]
    fn names_and_uuids_stay_unique() {
        let mut reg = Registry::new();
        let a = Uuid::new_v4();
        assert_eq!(reg.check_define(&def("a", a)).unwrap(), DefineKind::New);
        reg.define(def("a", a));
        assert_eq!(reg.check_define(&def("a", a)).unwrap(), DefineKind::Update);
        let other = Uuid::new_v4();
        assert_eq!(
            reg.check_define(&def("a", other)).unwrap_err().to_string(),
            format!("domain 'a' already exists with uuid {a}")
        );
        assert_eq!(
            reg.check_define(&def("b", a)).unwrap_err().to_string(),
            format!("domain 'a' is already defined with uuid {a}")
        );
        assert_eq!(reg.by_name("a").unwrap().def.uuid, a);
        assert_eq!(reg.by_name("a").unwrap().wire_id(), -1);
        reg.remove(&a).unwrap();
        assert!(reg.by_name("a").is_none());
        assert!(reg.is_empty());
    }

    #[test]
    fn update_keeps_state_and_autostart() {
        let mut reg = Registry::new();
        let a = Uuid::new_v4();
        reg.define(def("a", a));
        reg.get_mut(&a).unwrap().autostart = true;
        let mut new = def("a", a);
        new.title = Some("new".into());
        reg.define(new);
        let object = reg.get(&a).unwrap();
        assert!(object.autostart);
        assert_eq!(object.def.title.as_deref(), Some("new"));
        assert_eq!(object.state, DomainState::Shutoff);
    }

    #[test]
    fn states_follow_libvirt_numbers() {
        assert_eq!(DomainState::Shutoff.number(), 5);
        assert_eq!(DomainState::Running.number(), 1);
        assert!(DomainState::Paused.is_active());
        assert!(DomainState::Shutoff.can_undefine_now());
        assert!(!DomainState::Running.can_undefine_now());
    }
}
