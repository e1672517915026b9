//! Object types and permissions, with libvirt's exact names (`viraccessperm.c`).
//!
//! A [`Permission`] is an object type and an index into that type's list; its text form is
//! `object:permission` (`domain:read_secure`), and its polkit action id is
//! `org.libvirt.api.<object>.<permission>` with `_` written `-`.

use std::fmt;
use std::str::FromStr;

/// The 11 kinds of object libvirt checks access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    /// The connection (hypervisor driver) itself.
    Connect,
    /// A guest.
    Domain,
    /// A host network interface.
    Interface,
    /// A virtual network.
    Network,
    /// A port on a virtual network.
    NetworkPort,
    /// A host device.
    NodeDevice,
    /// A network filter.
    Nwfilter,
    /// A network filter binding.
    NwfilterBinding,
    /// A secret.
    Secret,
    /// A storage pool.
    StoragePool,
    /// A storage volume.
    StorageVol,
}

impl ObjectType {
    /// Every object type.
    pub const ALL: [ObjectType; 11] = [
        Self::Connect,
        Self::Domain,
        Self::Interface,
        Self::Network,
        Self::NetworkPort,
        Self::NodeDevice,
        Self::Nwfilter,
        Self::NwfilterBinding,
        Self::Secret,
        Self::StoragePool,
        Self::StorageVol,
    ];

    /// The name used in annotations and rules (`storage_pool`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Domain => "domain",
            Self::Interface => "interface",
            Self::Network => "network",
            Self::NetworkPort => "network_port",
            Self::NodeDevice => "node_device",
            Self::Nwfilter => "nwfilter",
            Self::NwfilterBinding => "nwfilter_binding",
            Self::Secret => "secret",
            Self::StoragePool => "storage_pool",
            Self::StorageVol => "storage_vol",
        }
    }

    /// The type's permissions, in libvirt's enum order.
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Self::Connect => &[
                "getattr",
                "read",
                "write",
                "search_domains",
                "search_networks",
                "search_storage_pools",
                "search_node_devices",
                "search_interfaces",
                "search_secrets",
                "search_nwfilters",
                "search_nwfilter_bindings",
                "detect_storage_pools",
                "pm_control",
                "interface_transaction",
            ],
            Self::Domain => &[
                "getattr",
                "read",
                "write",
                "read_secure",
                "start",
                "stop",
                "reset",
                "save",
                "delete",
                "migrate",
                "checkpoint",
                "snapshot",
                "suspend",
                "hibernate",
                "core_dump",
                "pm_control",
                "init_control",
                "inject_nmi",
                "send_input",
                "send_signal",
                "fs_trim",
                "fs_freeze",
                "block_read",
                "block_write",
                "mem_read",
                "open_graphics",
                "open_device",
                "screenshot",
                "open_namespace",
                "set_time",
                "set_password",
            ],
            Self::Interface => &[
                "getattr", "read", "write", "save", "delete", "start", "stop",
            ],
            Self::Network => &[
                "getattr",
                "read",
                "write",
                "save",
                "delete",
                "start",
                "stop",
                "search_ports",
            ],
            Self::NetworkPort => &["getattr", "read", "write", "create", "delete"],
            Self::NodeDevice => &[
                "getattr", "read", "write", "start", "stop", "detach", "delete", "save",
            ],
            Self::Nwfilter => &["getattr", "read", "write", "save", "delete"],
            Self::NwfilterBinding => &["getattr", "read", "create", "delete"],
            Self::Secret => &["getattr", "read", "write", "read_secure", "save", "delete"],
            Self::StoragePool => &[
                "getattr",
                "read",
                "write",
                "save",
                "delete",
                "start",
                "stop",
                "refresh",
                "search_storage_vols",
                "format",
            ],
            Self::StorageVol => &[
                "getattr",
                "read",
                "create",
                "delete",
                "format",
                "resize",
                "data_read",
                "data_write",
            ],
        }
    }

    /// Bit mask of every permission of the type.
    pub fn all_mask(self) -> u64 {
        (1u64 << self.permissions().len()) - 1
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ObjectType {
    type Err = PermError;

    fn from_str(name: &str) -> Result<Self, PermError> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| PermError::UnknownObject {
                name: name.to_owned(),
            })
    }
}

/// Why a permission name was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermError {
    /// Not of the form `object:permission`.
    #[error("'{text}' is not of the form object:permission")]
    Malformed {
        /// The text.
        text: String,
    },
    /// No such object type.
    #[error("unknown object type '{name}'")]
    UnknownObject {
        /// The name.
        name: String,
    },
    /// The object type has no such permission.
    #[error("object type '{object}' has no permission '{name}'")]
    UnknownPermission {
        /// The object type.
        object: ObjectType,
        /// The name.
        name: String,
    },
}

/// One permission on one object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    object: ObjectType,
    index: u8,
}

impl Permission {
    /// The permission `name` of `object`.
    pub fn new(object: ObjectType, name: &str) -> Result<Self, PermError> {
        object
            .permissions()
            .iter()
            .position(|p| *p == name)
            .map(|i| Self {
                object,
                index: u8::try_from(i).expect("at most 31 permissions per type"),
            })
            .ok_or_else(|| PermError::UnknownPermission {
                object,
                name: name.to_owned(),
            })
    }

    /// The object type.
    pub fn object(self) -> ObjectType {
        self.object
    }

    /// The permission's name (`read_secure`).
    pub fn name(self) -> &'static str {
        self.object.permissions()[usize::from(self.index)]
    }

    /// Its bit in a per-type mask.
    pub fn bit(self) -> u64 {
        1 << self.index
    }

    /// Whether libvirt marks it anonymous (read-only safe): `getattr`, `read`, and the
    /// `connect:search_*` permissions.
    pub fn is_anonymous(self) -> bool {
        matches!(self.name(), "getattr" | "read")
            || (self.object == ObjectType::Connect && self.name().starts_with("search_"))
    }

    /// Whether a read-only connection may use it. libvirt enforces read-only connections with
    /// `virCheckReadOnly` in the public API functions that change something, not through
    /// permissions: so the anonymous permissions, plus `storage_pool:search_storage_vols`,
    /// whose calls (`virStoragePoolListAllVolumes`, `…NumOfVolumes`, `…ListVolumes`) make no
    /// such check and so work read-only in libvirt.
    pub fn read_only_safe(self) -> bool {
        self.is_anonymous()
            || (self.object == ObjectType::StoragePool && self.name() == "search_storage_vols")
    }

    /// The polkit action id (`org.libvirt.api.domain.read-secure`).
    pub fn polkit_action(self) -> String {
        format!(
            "org.libvirt.api.{}.{}",
            self.object.name().replace('_', "-"),
            self.name().replace('_', "-")
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object, self.name())
    }
}

impl FromStr for Permission {
    type Err = PermError;

    fn from_str(text: &str) -> Result<Self, PermError> {
        let (object, name) = text.split_once(':').ok_or_else(|| PermError::Malformed {
            text: text.to_owned(),
        })?;
        Self::new(object.parse()?, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_count() {
        let total: usize = ObjectType::ALL.iter().map(|t| t.permissions().len()).sum();
        assert_eq!(total, 106);
        for object in ObjectType::ALL {
            for name in object.permissions() {
                let p = Permission::new(object, name).unwrap();
                assert_eq!(p.to_string().parse::<Permission>().unwrap(), p);
            }
        }
    }

    #[test]
    fn polkit_ids_and_anonymity() {
        let p: Permission = "domain:read_secure".parse().unwrap();
        assert_eq!(p.polkit_action(), "org.libvirt.api.domain.read-secure");
        assert!(!p.is_anonymous());
        let p: Permission = "storage_pool:getattr".parse().unwrap();
        assert_eq!(p.polkit_action(), "org.libvirt.api.storage-pool.getattr");
        assert!(p.is_anonymous());
        assert!("connect:search_domains"
            .parse::<Permission>()
            .unwrap()
            .is_anonymous());
        assert!(!"connect:write"
            .parse::<Permission>()
            .unwrap()
            .is_anonymous());
        let p: Permission = "storage_pool:search_storage_vols".parse().unwrap();
        assert!(!p.is_anonymous() && p.read_only_safe());
        let p: Permission = "storage_vol:data_read".parse().unwrap();
        assert!(!p.read_only_safe());
    }

    #[test]
    fn bad_names_are_named() {
        assert_eq!(
            "domain".parse::<Permission>().unwrap_err().to_string(),
            "'domain' is not of the form object:permission"
        );
        assert_eq!(
            "dom:read".parse::<Permission>().unwrap_err().to_string(),
            "unknown object type 'dom'"
        );
        assert_eq!(
            "storage_vol:write"
                .parse::<Permission>()
                .unwrap_err()
                .to_string(),
            "object type 'storage_vol' has no permission 'write'"
        );
    }
}
