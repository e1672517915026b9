//! Who asks, and about what.

use uuid::Uuid;

use crate::perm::ObjectType;

/// The identity a decision is made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Subject {
    /// UNIX uid of a local client.
    pub uid: Option<u32>,
    /// Primary gid.
    pub gid: Option<u32>,
    /// User name.
    pub user: Option<String>,
    /// Names of every group the user is in (primary and supplementary).
    pub groups: Vec<String>,
    /// Process id of a local client.
    pub pid: Option<i32>,
    /// That process's start time (clock ticks since boot), to tell reused pids apart.
    pub start_time: Option<u64>,
    /// Distinguished name of a TLS client certificate.
    pub x509_dn: Option<String>,
}

impl Subject {
    /// Whether the client is a local UNIX process (polkit can only judge those).
    pub fn is_unix_process(&self) -> bool {
        self.uid.is_some() && self.pid.is_some()
    }
}

/// The object a permission is asked on: its type and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Object type.
    pub object: ObjectType,
    /// Name (the driver name, `QEMU`, for `connect`).
    pub name: &'a str,
    /// UUID, for objects that have one.
    pub uuid: Option<Uuid>,
    /// Name of the parent object (the pool of a volume, the network of a port).
    pub parent: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// The connection to the `driver` hypervisor driver.
    pub fn connect(driver: &'a str) -> Self {
        Self {
            object: ObjectType::Connect,
            name: driver,
            uuid: None,
            parent: None,
        }
    }

    /// A guest.
    pub fn domain(name: &'a str, uuid: Uuid) -> Self {
        Self {
            object: ObjectType::Domain,
            name,
            uuid: Some(uuid),
            parent: None,
        }
    }

    /// A storage pool (its UUID may be unknown while its XML is being checked).
    pub fn storage_pool(name: &'a str, uuid: Option<Uuid>) -> Self {
        Self {
            object: ObjectType::StoragePool,
            name,
            uuid,
            parent: None,
        }
    }

    /// A storage volume of the pool named `pool`.
    pub fn storage_vol(name: &'a str, pool: &'a str) -> Self {
        Self {
            object: ObjectType::StorageVol,
            name,
            uuid: None,
            parent: Some(pool),
        }
    }
}
