//! The hypervisor side of the daemon: what each API call does to the guests and the host,
//! independent of the wire protocol.
//!
//! [`Driver`] owns the [`Registry`] (behind a lock), the
//! [`DomainStore`], the audit log and the host facts. Operations take and return plain Moat types;
//! [`crate::dispatch`] translates to and from libvirt's payloads, and [`crate::errors`] maps
//! [`DriverError`] to libvirt's error codes.

pub mod confine;
pub mod console;
pub mod domain;
pub mod isolation;
pub mod lifecycle;
pub mod network;
pub mod node;
pub mod storage;

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::hostinfo::HostInfo;
use crate::registry::{Registry, RegistryError};
use crate::store::{DomainStore, StoreError};

pub use domain::{DomainLookup, DomainSummary, ListFilter};

/// Why an operation failed; the RPC edge turns each into a libvirt error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// No guest matches.
    #[error("no domain with matching {what}")]
    NoDomain {
        /// What was looked for (`name 'x'`, `uuid …`, `id 3`).
        what: String,
    },
    /// The XML does not parse.
    #[error("invalid domain XML")]
    Xml(#[source] domxml::ParseError),
    /// The XML parses but is not a valid definition.
    #[error("invalid domain definition")]
    Invalid(#[source] domxml::ValidateErrors),
    /// The definition clashes with another guest.
    #[error(transparent)]
    Conflict(#[from] RegistryError),
    /// The definition could not be stored; nothing changed.
    #[error("cannot store the definition")]
    Store(#[from] StoreError),
    /// Flags the call does not support.
    #[error("unsupported flags ({flags:#x}) in function {function}")]
    UnsupportedFlags {
        /// The unsupported bits.
        flags: u32,
        /// The API function.
        function: &'static str,
    },
    /// The operation is not valid in the guest's current state.
    #[error("{0}")]
    OperationInvalid(String),
    /// An argument is out of range.
    #[error("{0}")]
    InvalidArg(String),
    /// The definition holds something QEMU cannot be started with yet.
    #[error("{0}")]
    Unsupported(String),
    /// The guest may not be given what its definition asks for (guide 2.2, T12).
    #[error("{0}")]
    Policy(String),
    /// The guest could not be labelled or confined.
    #[error("{0}")]
    Security(String),
    /// QEMU could not be started or controlled.
    #[error("{0}")]
    Launch(String),
    /// No network matches.
    #[error("no network with matching {what}")]
    NoNetwork {
        /// What was looked for.
        what: String,
    },
    /// The network XML was refused.
    #[error("invalid network XML")]
    NetworkXml(#[source] domxml::network::NetworkXmlError),
    /// A bridge, tap, dnsmasq or firewall step failed.
    #[error("{0}")]
    Network(String),
    /// An access driver refused the call.
    #[error(transparent)]
    Denied(#[from] acl::AccessDenied),
    /// A storage pool or volume operation failed.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// No console session was opened.
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
}

/// The daemon's state and everything that acts on it.
#[derive(Debug)]
pub struct Driver {
    registry: RwLock<Registry>,
    store: DomainStore,
    audit: AuditLog,
    host: HostInfo,
    config: Config,
    state_dir: PathBuf,
    run_dir: PathBuf,
    events: broadcast::Sender<LifecycleEvent>,
    lifecycle: lifecycle::Lifecycle,
    networks: network::Networks,
    storage: storage::StoragePools,
    consoles: std::sync::Arc<console::Consoles>,
}

/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BACKLOG: usize = 1024;

/// A guest lifecycle event (`VIR_DOMAIN_EVENT_*` numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// The guest, as it is at the time of the event.
    pub domain: DomainSummary,
    /// `virDomainEventType`: 0 defined, 1 undefined, 2 started, 3 suspended, 4 resumed,
    /// 5 stopped.
    pub event: i32,
    /// The type's detail (0 added / 1 updated for defined, 0 removed for undefined, …).
    pub detail: i32,
}

impl Driver {
    /// A driver over an opened store (`dirs` = run and state directories); call [`Driver::load`]
    /// to read the stored definitions.
    pub fn new(
        config: Config,
        store: DomainStore,
        audit: AuditLog,
        host: HostInfo,
        dirs: (PathBuf, PathBuf),
        lifecycle: lifecycle::Lifecycle,
    ) -> Self {
        let (run_dir, state_dir) = dirs;
        let networks = network::Networks::new(&state_dir, &run_dir);
        Self {
            storage: storage::StoragePools::new(&state_dir, &run_dir),
            consoles: std::sync::Arc::default(),
            registry: RwLock::new(Registry::new()),
            store,
            audit,
            host,
            config,
            state_dir,
            run_dir,
            events: broadcast::channel(EVENT_BACKLOG).0,
            lifecycle,
            networks,
        }
    }

    /// Lifecycle events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.events.subscribe()
    }

    fn emit(&self, domain: DomainSummary, event: i32, detail: i32) {
        // No subscriber is not an error.
        let _ = self.events.send(LifecycleEvent {
            domain,
            event,
            detail,
        });
    }

    /// The configuration the driver runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state directory.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Host facts.
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// The storage pools.
    pub fn storage(&self) -> &storage::StoragePools {
        &self.storage
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock leaves the registry as consistent as each single
        // mutation is; keep serving rather than poison every later call.
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
