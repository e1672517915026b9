//! Guest definitions: define, undefine, look up, list, describe, autostart.

use domxml::{format, parse, validate, Domain, FormatOptions, ParseOptions, ValidateOptions};
use serde_json::json;
use uuid::Uuid;

use super::{Driver, DriverError};
use crate::identity::PeerIdentity;
use crate::registry::{DefineKind, DomainObject, DomainState};
use crate::store::SkippedFile;

/// `VIR_DOMAIN_DEFINE_VALIDATE`: reject what the schema does not know.
pub const DEFINE_VALIDATE: u32 = 1;

/// `VIR_DOMAIN_XML_SECURE`: include passwords.
pub const XML_SECURE: u32 = 1;
/// `VIR_DOMAIN_XML_INACTIVE`: the persistent definition.
pub const XML_INACTIVE: u32 = 2;
/// `VIR_DOMAIN_XML_UPDATE_CPU`: expand the host CPU model (accepted, nothing to expand).
pub const XML_UPDATE_CPU: u32 = 4;
/// `VIR_DOMAIN_XML_MIGRATABLE`: leave out what another host must not inherit.
pub const XML_MIGRATABLE: u32 = 8;

/// `virDomainUndefineFlagsValues` Moat accepts: managed save, snapshot, nvram, keep-nvram,
/// checkpoint and TPM flags name things Moat does not create, so there is nothing to keep or
/// remove.
pub const UNDEFINE_KNOWN: u32 = 1 | 2 | 4 | 8 | 16 | 32 | 64;

/// `VIR_DOMAIN_EVENT_DEFINED`.
pub const EVENT_DEFINED: i32 = 0;
/// `VIR_DOMAIN_EVENT_UNDEFINED`.
pub const EVENT_UNDEFINED: i32 = 1;
/// `VIR_DOMAIN_EVENT_DEFINED_ADDED`.
pub const EVENT_DEFINED_ADDED: i32 = 0;
/// `VIR_DOMAIN_EVENT_DEFINED_UPDATED`.
pub const EVENT_DEFINED_UPDATED: i32 = 1;
/// `VIR_DOMAIN_EVENT_UNDEFINED_REMOVED`.
pub const EVENT_UNDEFINED_REMOVED: i32 = 0;

/// A guest as the protocol names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSummary {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
    /// Id while running, else -1.
    pub id: i32,
}

impl From<&DomainObject> for DomainSummary {
    fn from(object: &DomainObject) -> Self {
        Self {
            name: object.def.name.clone(),
            uuid: object.def.uuid,
            id: object.wire_id(),
        }
    }
}

/// How a client names a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainLookup {
    /// By name.
    Name(String),
    /// By UUID.
    Uuid(Uuid),
    /// By id (running guests only).
    Id(i32),
}

/// `VIR_CONNECT_LIST_DOMAINS_*` filter groups; in each pair, neither or both bits means "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter(pub u32);

impl ListFilter {
    /// `VIR_CONNECT_LIST_DOMAINS_ACTIVE`.
    pub const ACTIVE: ListFilter = ListFilter(1);
    /// `VIR_CONNECT_LIST_DOMAINS_INACTIVE`.
    pub const INACTIVE: ListFilter = ListFilter(2);

    /// Every flag `virConnectListAllDomains` defines.
    pub const KNOWN: u32 = (1 << 16) - 1;

    fn pair(self, yes: u32, no: u32, value: bool) -> bool {
        match (self.0 & yes != 0, self.0 & no != 0) {
            (true, false) => value,
            (false, true) => !value,
            _ => true,
        }
    }

    /// Whether a guest passes the filter.
    pub fn matches(self, object: &DomainObject) -> bool {
        let state_bits = self.0 & (16 | 32 | 64 | 128);
        let state_ok = state_bits == 0
            || match object.state {
                DomainState::Running => state_bits & 16 != 0,
                DomainState::Paused => state_bits & 32 != 0,
                DomainState::Shutoff => state_bits & 64 != 0,
                _ => state_bits & 128 != 0,
            };
        state_ok
            && self.pair(1, 2, object.state.is_active())
            && self.pair(4, 8, object.persistent)
            && self.pair(256, 512, false)
            && self.pair(1024, 2048, object.autostart)
            && self.pair(4096, 8192, false)
            && self.pair(16384, 32768, false)
    }
}

/// `virDomainGetInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainInfo {
    /// State.
    pub state: DomainState,
    /// Maximum memory, KiB.
    pub max_mem_kib: u64,
    /// Current memory, KiB.
    pub memory_kib: u64,
    /// vCPUs.
    pub vcpus: u32,
    /// CPU time used, ns.
    pub cpu_time_ns: u64,
}

/// What [`Driver::load`] found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Definitions now in the registry.
    pub loaded: usize,
    /// Files that were not taken, and why.
    pub skipped: Vec<SkippedFile>,
}

fn parse_options(strict: bool) -> ParseOptions {
    ParseOptions {
        strict,
        ..ParseOptions::default()
    }
}

impl Driver {
    /// Reads every stored definition into the registry.
    pub fn load(&self) -> Result<LoadReport, DriverError> {
        let (definitions, mut skipped) = self.store.load_all()?;
        let mut registry = self.write();
        let mut loaded = 0;
        for stored in definitions {
            let parsed = parse(&stored.xml, &parse_options(false))
                .map_err(|e| format!("invalid XML: {e}"))
                .and_then(|def| {
                    validate(&def, &ValidateOptions::default())
                        .map(|()| def)
                        .map_err(|e| format!("invalid definition: {e}"))
                })
                .and_then(|def| {
                    if def.uuid == stored.uuid {
                        Ok(def)
                    } else {
                        Err(format!(
                            "file is named {} but holds uuid {}",
                            stored.uuid, def.uuid
                        ))
                    }
                })
                .and_then(|def| {
                    registry
                        .check_define(&def)
                        .map(|_| def)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(def) => {
                    let uuid = def.uuid;
                    registry.define(def);
                    if let Some(object) = registry.get_mut(&uuid) {
                        object.autostart = stored.autostart;
                    }
                    loaded += 1;
                }
                Err(reason) => skipped.push(SkippedFile {
                    path: stored.path,
                    reason,
                }),
            }
        }
        Ok(LoadReport { loaded, skipped })
    }

    /// Defines (or redefines) a guest from XML; durable before it returns.
    pub fn define(
        &self,
        xml: &str,
        flags: u32,
        who: &PeerIdentity,
        authorize: impl FnOnce(&Domain) -> Result<(), DriverError>,
    ) -> Result<DomainSummary, DriverError> {
        let result = self.define_inner(xml, flags, authorize);
        let object = match &result {
            Ok(summary) => json!({"domain": summary.name, "uuid": summary.uuid.to_string()}),
            Err(_) => json!({}),
        };
        self.audit
            .record_result(who, "DOMAIN_DEFINE_XML", object, &result);
        result
    }

    fn define_inner(
        &self,
        xml: &str,
        flags: u32,
        authorize: impl FnOnce(&Domain) -> Result<(), DriverError>,
    ) -> Result<DomainSummary, DriverError> {
        if flags & !DEFINE_VALIDATE != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !DEFINE_VALIDATE,
                function: "virDomainDefineXMLFlags",
            });
        }
        let def =
            parse(xml, &parse_options(flags & DEFINE_VALIDATE != 0)).map_err(DriverError::Xml)?;
        validate(&def, &ValidateOptions::default()).map_err(DriverError::Invalid)?;
        authorize(&def)?;
        let mut registry = self.write();
        let kind = registry.check_define(&def)?;
        let text = format(
            &def,
            &FormatOptions {
                include_secrets: true,
                migratable: false,
            },
        );
        self.store.save(&def.uuid, &text)?;
        let summary = DomainSummary::from(registry.define(def));
        let detail = match kind {
            DefineKind::New => EVENT_DEFINED_ADDED,
            DefineKind::Update => EVENT_DEFINED_UPDATED,
        };
        self.emit(summary.clone(), EVENT_DEFINED, detail);
        Ok(summary)
    }

    /// Adds a transient guest (CREATE_XML) about to be started; nothing is stored.
    pub fn define_transient(
        &self,
        xml: &str,
        authorize: impl FnOnce(&Domain) -> Result<(), DriverError>,
    ) -> Result<Uuid, DriverError> {
        let def = parse(xml, &parse_options(false)).map_err(DriverError::Xml)?;
        validate(&def, &ValidateOptions::default()).map_err(DriverError::Invalid)?;
        authorize(&def)?;
        let mut registry = self.write();
        if registry.check_define(&def)? == DefineKind::Update {
            return Err(DriverError::OperationInvalid(format!(
                "domain '{}' already exists",
                def.name
            )));
        }
        let uuid = def.uuid;
        registry.define(def);
        if let Some(object) = registry.get_mut(&uuid) {
            object.persistent = false;
        }
        Ok(uuid)
    }

    /// Drops a transient guest that failed to start.
    pub fn forget_transient(&self, uuid: &Uuid) {
        let mut registry = self.write();
        if registry
            .get(uuid)
            .is_some_and(|o| !o.persistent && !o.state.is_active())
        {
            registry.remove(uuid);
        }
    }

    /// Removes a guest's persistent definition.
    pub fn undefine(&self, uuid: &Uuid, flags: u32, who: &PeerIdentity) -> Result<(), DriverError> {
        let result = self.undefine_inner(uuid, flags);
        self.audit.record_result(
            who,
            "DOMAIN_UNDEFINE",
            json!({"uuid": uuid.to_string()}),
            &result,
        );
        result.map(|_| ())
    }

    fn undefine_inner(&self, uuid: &Uuid, flags: u32) -> Result<String, DriverError> {
        if flags & !UNDEFINE_KNOWN != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !UNDEFINE_KNOWN,
                function: "virDomainUndefineFlags",
            });
        }
        let mut registry = self.write();
        let object = registry.get(uuid).ok_or_else(|| no_uuid(uuid))?;
        if !object.persistent {
            return Err(DriverError::OperationInvalid(
                "cannot undefine transient domain".into(),
            ));
        }
        self.store.remove(uuid)?;
        if !object.state.can_undefine_now() {
            // As libvirt: a running guest becomes transient and leaves when it stops.
            let object = registry.get_mut(uuid).ok_or_else(|| no_uuid(uuid))?;
            object.persistent = false;
            object.autostart = false;
            let summary = DomainSummary::from(&*object);
            self.emit(summary.clone(), EVENT_UNDEFINED, EVENT_UNDEFINED_REMOVED);
            return Ok(summary.name);
        }
        let removed = registry.remove(uuid).map(|o| DomainSummary::from(&o));
        if let Some(summary) = removed.clone() {
            self.emit(summary, EVENT_UNDEFINED, EVENT_UNDEFINED_REMOVED);
        }
        Ok(removed.map(|s| s.name).unwrap_or_default())
    }

    /// Finds a guest.
    pub fn lookup(&self, key: &DomainLookup) -> Result<DomainSummary, DriverError> {
        let registry = self.read();
        let found = match key {
            DomainLookup::Name(name) => registry.by_name(name),
            DomainLookup::Uuid(uuid) => registry.get(uuid),
            DomainLookup::Id(id) => u32::try_from(*id).ok().and_then(|id| registry.by_id(id)),
        };
        found
            .map(DomainSummary::from)
            .ok_or_else(|| DriverError::NoDomain {
                what: match key {
                    DomainLookup::Name(name) => format!("name '{name}'"),
                    DomainLookup::Uuid(uuid) => format!("uuid '{uuid}'"),
                    DomainLookup::Id(id) => format!("id '{id}'"),
                },
            })
    }

    /// Guests passing `filter`, in UUID order.
    pub fn list(&self, filter: ListFilter) -> Result<Vec<DomainSummary>, DriverError> {
        if filter.0 & !ListFilter::KNOWN != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: filter.0 & !ListFilter::KNOWN,
                function: "virConnectListAllDomains",
            });
        }
        Ok(self
            .read()
            .iter()
            .filter(|o| filter.matches(o))
            .map(DomainSummary::from)
            .collect())
    }

    fn with<T>(&self, uuid: &Uuid, f: impl FnOnce(&DomainObject) -> T) -> Result<T, DriverError> {
        self.read().get(uuid).map(f).ok_or_else(|| no_uuid(uuid))
    }

    /// The guest's XML.
    pub fn xml_desc(&self, uuid: &Uuid, flags: u32) -> Result<String, DriverError> {
        let known = XML_SECURE | XML_INACTIVE | XML_UPDATE_CPU | XML_MIGRATABLE;
        if flags & !known != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !known,
                function: "virDomainGetXMLDesc",
            });
        }
        let live = if flags & XML_INACTIVE == 0 {
            self.live_labels(uuid).map(|(labels, _)| labels)
        } else {
            None
        };
        self.with(uuid, |object| {
            let mut def: Domain = object.def.clone();
            if flags & XML_INACTIVE == 0 {
                def.id = object.id;
            }
            if let Some(labels) = live {
                // The labels this run got, as libvirt's live XML shows them.
                def.seclabels = labels;
            }
            if flags & XML_INACTIVE == 0 && object.state.is_active() {
                // The aliases `virsh console --devname` takes, as libvirt's live XML shows them.
                let (serials, consoles) = super::console::chardev_aliases(&def);
                let chardevs = def.devices.serials.iter_mut().zip(serials);
                for (chardev, alias) in
                    chardevs.chain(def.devices.consoles.iter_mut().zip(consoles))
                {
                    chardev.alias = Some(alias);
                }
            }
            format(
                &def,
                &FormatOptions {
                    include_secrets: flags & XML_SECURE != 0,
                    migratable: flags & XML_MIGRATABLE != 0,
                },
            )
        })
    }

    /// `virDomainGetInfo`.
    pub fn info(&self, uuid: &Uuid) -> Result<DomainInfo, DriverError> {
        self.with(uuid, |o| DomainInfo {
            state: o.state,
            max_mem_kib: o.def.memory.kib,
            memory_kib: if o.state.is_active() {
                o.def.current_memory.kib
            } else {
                o.def.memory.kib
            },
            vcpus: o.def.vcpu.current.unwrap_or(o.def.vcpu.count),
            cpu_time_ns: 0,
        })
        .map(|info| DomainInfo {
            cpu_time_ns: if info.state.is_active() {
                self.cpu_time_ns(uuid)
            } else {
                0
            },
            ..info
        })
    }

    /// State and reason.
    pub fn state(&self, uuid: &Uuid) -> Result<(DomainState, i32), DriverError> {
        self.with(uuid, |o| (o.state, o.reason))
    }

    /// Whether the guest is running.
    pub fn is_active(&self, uuid: &Uuid) -> Result<bool, DriverError> {
        self.with(uuid, |o| o.state.is_active())
    }

    /// Whether the guest has a persistent definition.
    pub fn is_persistent(&self, uuid: &Uuid) -> Result<bool, DriverError> {
        self.with(uuid, |o| o.persistent)
    }

    /// The guest's OS type.
    pub fn os_type(&self, uuid: &Uuid) -> Result<String, DriverError> {
        self.with(uuid, |_| "hvm".to_owned())
    }

    /// Maximum memory in KiB.
    pub fn max_memory(&self, uuid: &Uuid) -> Result<u64, DriverError> {
        self.with(uuid, |o| o.def.memory.kib)
    }

    /// Maximum vCPUs.
    pub fn max_vcpus(&self, uuid: &Uuid) -> Result<u32, DriverError> {
        self.with(uuid, |o| o.def.vcpu.count)
    }

    /// Whether the guest starts with the daemon.
    pub fn autostart(&self, uuid: &Uuid) -> Result<bool, DriverError> {
        self.with(uuid, |o| o.autostart)
    }

    /// Sets autostart; durable before it returns.
    pub fn set_autostart(
        &self,
        uuid: &Uuid,
        on: bool,
        who: &PeerIdentity,
    ) -> Result<(), DriverError> {
        let result = (|| {
            let mut registry = self.write();
            let object = registry.get_mut(uuid).ok_or_else(|| no_uuid(uuid))?;
            if !object.persistent {
                return Err(DriverError::OperationInvalid(
                    "cannot set autostart for transient domain".into(),
                ));
            }
            if object.autostart != on {
                self.store.set_autostart(uuid, on)?;
                object.autostart = on;
            }
            Ok(())
        })();
        self.audit.record_result(
            who,
            "DOMAIN_SET_AUTOSTART",
            json!({"uuid": uuid.to_string(), "autostart": on}),
            &result,
        );
        result
    }
}

fn no_uuid(uuid: &Uuid) -> DriverError {
    DriverError::NoDomain {
        what: format!("uuid '{uuid}'"),
    }
}
