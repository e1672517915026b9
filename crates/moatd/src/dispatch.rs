//! From a decoded CALL to a REPLY: one handler per hypervisor procedure.
//!
//! [`route`] says which procedures the daemon implements beyond the connection-level ones of
//! [`crate::conn`]; everything else gets libvirt's "unknown procedure" error, so clients degrade as
//! they do with libvirtd. Each handler decodes its args, calls the [`Driver`], and encodes the
//! ret; errors become `remote_error` in [`crate::errors`]. Read-only connections are refused
//! before the handler runs (see [`crate::readonly`]); handlers whose ACL depends on flags check
//! those themselves with [`CallContext::check_flags`].

use rpc::message::{Call, Message, MessageError};
use rpc::payloads::*;
use rpc::procedures::{self as p, Procedure, RemoteProcedure};
use rpc::types::{NonnullDomain, RemoteError, DOMAIN_LIST_MAX};
use uuid::Uuid;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use acl::{Subject, Target};
use serde_json::json;

use crate::access::Access;
use crate::audit::Outcome;
use crate::driver::node::{DomainCapsRequest, Emulator, LIBVIRT_COMPAT_VERSION};
use crate::driver::{DomainLookup, DomainSummary, Driver, DriverError, ListFilter};
use crate::errors;
use crate::identity::PeerIdentity;
use crate::readonly;
use crate::stream::StreamEnds;

mod console;
mod network;
mod storage;

/// Largest vCPU count reported for the QEMU driver.
pub const MAX_VCPUS: i32 = 255;

/// Who is calling, and how.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The caller.
    pub identity: &'a PeerIdentity,
    /// The caller as access drivers see it.
    pub subject: &'a Subject,
    /// The access drivers.
    pub access: &'a Access,
    /// The connection is read-only (read-only socket or `VIR_CONNECT_RO`).
    pub read_only: bool,
    /// The emulator found at start-up.
    pub emulator: &'a Emulator,
}

impl CallContext<'_> {
    /// Refuses a read-only caller when `flags` turn on a rule that needs more than read access.
    pub fn check_flags(&self, procedure: RemoteProcedure, flags: u32) -> Result<(), Failure> {
        if self.read_only && !readonly::allowed(procedure, flags) {
            return Err(Failure::remote(errors::read_only_denied(
                &readonly::api_name(procedure.name()),
            )));
        }
        Ok(())
    }

    /// Checks the call's ACL on `target`; a denial is audited.
    pub fn allow(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        flags: u32,
        target: &Target<'_>,
    ) -> Result<(), DriverError> {
        self.access
            .ensure(self.subject, procedure, flags, target)
            .map_err(|denied| {
                d.audit().record(
                    self.identity,
                    procedure.name(),
                    json!({"object": target.object.name(), "name": target.name}),
                    Outcome::Error(&format!("denied: {}", denied.detail())),
                );
                DriverError::Denied(denied)
            })
    }

    /// Resolves a guest handle and checks the call on it: read-only flags, existence, ACL.
    pub fn domain(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        dom: &NonnullDomain,
        flags: u32,
    ) -> Result<Uuid, Failure> {
        self.check_flags(procedure, flags)?;
        let found = d.lookup(&DomainLookup::Uuid(uuid_of(dom)))?;
        self.allow(
            d,
            procedure,
            flags,
            &Target::domain(&found.name, found.uuid),
        )?;
        Ok(found.uuid)
    }

    /// Checks a lookup's result.
    fn found(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        found: DomainSummary,
    ) -> Result<NonnullDomain, Failure> {
        self.allow(d, procedure, 0, &Target::domain(&found.name, found.uuid))?;
        Ok(wire(found))
    }

    /// Whether a guest may appear in `procedure`'s results.
    pub fn visible(&self, procedure: RemoteProcedure, found: &DomainSummary) -> bool {
        self.access.filter(
            self.subject,
            procedure,
            &Target::domain(&found.name, found.uuid),
        )
    }
}

/// Why a handler produced no OK reply.
#[derive(Debug)]
pub enum Failure {
    /// The args did not decode (or the ret did not encode).
    Message(MessageError),
    /// The call failed; send this error.
    Remote(Box<RemoteError>),
}

impl Failure {
    /// A failure answered with `error`.
    pub fn remote(error: RemoteError) -> Self {
        Self::Remote(Box::new(error))
    }
}

impl From<MessageError> for Failure {
    fn from(err: MessageError) -> Self {
        Self::Message(err)
    }
}

impl From<DriverError> for Failure {
    fn from(err: DriverError) -> Self {
        Self::remote(errors::driver_error(&err))
    }
}

/// A procedure handler.
pub type Handler = fn(&Driver, &CallContext<'_>, &Call) -> Result<Message, Failure>;

/// Decodes `P`'s args, runs `f`, encodes its ret.
pub fn run<P: Procedure>(
    call: &Call,
    f: impl FnOnce(P::Args) -> Result<P::Ret, Failure>,
) -> Result<Message, Failure> {
    let args = call.args::<P>()?;
    let ret = f(args)?;
    Ok(call.reply::<P>(&ret)?)
}

fn wire(summary: DomainSummary) -> NonnullDomain {
    NonnullDomain {
        name: summary.name,
        uuid: rpc::types::Uuid(*summary.uuid.as_bytes()),
        id: summary.id,
    }
}

fn uuid_of(dom: &NonnullDomain) -> Uuid {
    Uuid::from_bytes(dom.uuid.0)
}

fn bool_int(value: bool) -> i32 {
    i32::from(value)
}

/// A C string for the `char<>` fields of the security calls: with its NUL, or empty.
fn c_chars(text: &str) -> Vec<u8> {
    if text.is_empty() {
        Vec::new()
    } else {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        bytes
    }
}

/// A `maxids`/`maxnames` argument: 0 to 16,384.
fn list_max(value: i32) -> Result<usize, Failure> {
    usize::try_from(value)
        .ok()
        .filter(|&n| n <= DOMAIN_LIST_MAX as usize)
        .ok_or_else(|| {
            Failure::remote(errors::invalid_arg(&format!(
                "list size {value} is not between 0 and {DOMAIN_LIST_MAX}"
            )))
        })
}

/// The guests passing `filter` that the caller may see in `procedure`'s results.
fn visible(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    filter: ListFilter,
) -> Result<Vec<DomainSummary>, Failure> {
    let mut found = d.list(filter)?;
    found.retain(|f| ctx.visible(procedure, f));
    Ok(found)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn no_flags(flags: u32, function: &'static str) -> Result<(), Failure> {
    if flags == 0 {
        Ok(())
    } else {
        Err(DriverError::UnsupportedFlags { flags, function }.into())
    }
}

/// The handler of a hypervisor procedure, if the daemon implements it.
pub fn route(procedure: RemoteProcedure) -> Option<Handler> {
    use RemoteProcedure as R;
    if let Some(handler) = storage::route(procedure) {
        return Some(handler);
    }
    let handler: Handler = match procedure {
        R::ConnectGetType => |_, _, c| {
            run::<p::ConnectGetType>(c, |()| {
                Ok(ConnectGetTypeRet {
                    hv_type: "QEMU".into(),
                })
            })
        },
        R::ConnectGetVersion => |_, ctx, c| {
            run::<p::ConnectGetVersion>(c, |()| {
                Ok(ConnectGetVersionRet {
                    hv_ver: ctx.emulator.version,
                })
            })
        },
        R::ConnectGetLibVersion => |_, _, c| {
            run::<p::ConnectGetLibVersion>(c, |()| {
                Ok(ConnectGetLibVersionRet {
                    lib_ver: LIBVIRT_COMPAT_VERSION,
                })
            })
        },
        R::ConnectGetHostname => |d, _, c| {
            run::<p::ConnectGetHostname>(c, |()| {
                Ok(ConnectGetHostnameRet {
                    hostname: d.hostname(),
                })
            })
        },
        R::ConnectGetCapabilities => |d, ctx, c| {
            run::<p::ConnectGetCapabilities>(c, |()| {
                Ok(ConnectGetCapabilitiesRet {
                    capabilities: d.capabilities(ctx.emulator),
                })
            })
        },
        R::ConnectGetDomainCapabilities => |d, ctx, c| {
            run::<p::ConnectGetDomainCapabilities>(c, |args| {
                no_flags(args.flags, "virConnectGetDomainCapabilities")?;
                let request = DomainCapsRequest {
                    emulatorbin: args.emulatorbin.as_deref(),
                    arch: args.arch.as_deref(),
                    machine: args.machine.as_deref(),
                    virttype: args.virttype.as_deref(),
                };
                Ok(ConnectGetDomainCapabilitiesRet {
                    capabilities: d.domain_capabilities(ctx.emulator, &request)?,
                })
            })
        },
        R::ConnectGetSysinfo => |d, _, c| {
            run::<p::ConnectGetSysinfo>(c, |args| {
                no_flags(args.flags, "virConnectGetSysinfo")?;
                Ok(ConnectGetSysinfoRet {
                    sysinfo: d.sysinfo(),
                })
            })
        },
        R::ConnectGetMaxVcpus => |_, _, c| {
            run::<p::ConnectGetMaxVcpus>(c, |_| {
                Ok(ConnectGetMaxVcpusRet {
                    max_vcpus: MAX_VCPUS,
                })
            })
        },
        R::NodeGetInfo => |d, _, c| {
            run::<p::NodeGetInfo>(c, |()| {
                let info = d.node_info();
                let mut model = [0u8; 32];
                let name = info.model.as_bytes();
                let len = name.len().min(31);
                model[..len].copy_from_slice(&name[..len]);
                let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
                Ok(NodeGetInfoRet {
                    model,
                    memory: info.memory_kib,
                    cpus: int(info.cpus),
                    mhz: int(info.mhz),
                    nodes: int(info.nodes),
                    sockets: int(info.sockets),
                    cores: int(info.cores),
                    threads: int(info.threads),
                })
            })
        },
        R::NodeGetFreeMemory => |d, _, c| {
            run::<p::NodeGetFreeMemory>(c, |()| {
                Ok(NodeGetFreeMemoryRet {
                    free_mem: d.free_memory(),
                })
            })
        },
        R::NodeGetSecurityModel => |d, _, c| {
            // The primary model of the stack; "none" makes virsh print no label line.
            run::<p::NodeGetSecurityModel>(c, |()| {
                let stack = d.security();
                Ok(NodeGetSecurityModelRet {
                    model: c_chars(stack.primary_model()),
                    doi: c_chars(stack.doi()),
                })
            })
        },
        R::ConnectListAllDomains => |d, ctx, c| {
            run::<p::ConnectListAllDomains>(c, |args| {
                let domains = visible(d, ctx, c.procedure, ListFilter(args.flags))?;
                let n = u32::try_from(domains.len()).unwrap_or(u32::MAX);
                Ok(ConnectListAllDomainsRet {
                    domains: if args.need_results != 0 {
                        domains.into_iter().map(wire).collect()
                    } else {
                        Vec::new()
                    },
                    ret: n,
                })
            })
        },
        R::ConnectNumOfDomains => |d, ctx, c| {
            run::<p::ConnectNumOfDomains>(c, |()| {
                Ok(ConnectNumOfDomainsRet {
                    num: count(visible(d, ctx, c.procedure, ListFilter::ACTIVE)?.len()),
                })
            })
        },
        R::ConnectNumOfDefinedDomains => |d, ctx, c| {
            run::<p::ConnectNumOfDefinedDomains>(c, |()| {
                Ok(ConnectNumOfDefinedDomainsRet {
                    num: count(visible(d, ctx, c.procedure, ListFilter::INACTIVE)?.len()),
                })
            })
        },
        R::ConnectListDomains => |d, ctx, c| {
            run::<p::ConnectListDomains>(c, |args| {
                let max = list_max(args.maxids)?;
                let found = visible(d, ctx, c.procedure, ListFilter::ACTIVE)?;
                Ok(ConnectListDomainsRet {
                    ids: found.into_iter().map(|f| f.id).take(max).collect(),
                })
            })
        },
        R::ConnectListDefinedDomains => |d, ctx, c| {
            run::<p::ConnectListDefinedDomains>(c, |args| {
                let max = list_max(args.maxnames)?;
                let found = visible(d, ctx, c.procedure, ListFilter::INACTIVE)?;
                Ok(ConnectListDefinedDomainsRet {
                    names: found.into_iter().map(|f| f.name).take(max).collect(),
                })
            })
        },
        R::DomainLookupByName => |d, ctx, c| {
            run::<p::DomainLookupByName>(c, |args| {
                let found = d.lookup(&DomainLookup::Name(args.name))?;
                Ok(DomainLookupByNameRet {
                    dom: ctx.found(d, c.procedure, found)?,
                })
            })
        },
        R::DomainLookupByUuid => |d, ctx, c| {
            run::<p::DomainLookupByUuid>(c, |args| {
                let found = d.lookup(&DomainLookup::Uuid(Uuid::from_bytes(args.uuid.0)))?;
                Ok(DomainLookupByUuidRet {
                    dom: ctx.found(d, c.procedure, found)?,
                })
            })
        },
        R::DomainLookupById => |d, ctx, c| {
            run::<p::DomainLookupById>(c, |args| {
                let found = d.lookup(&DomainLookup::Id(args.id))?;
                Ok(DomainLookupByIdRet {
                    dom: ctx.found(d, c.procedure, found)?,
                })
            })
        },
        R::DomainDefineXml => |d, ctx, c| {
            run::<p::DomainDefineXml>(c, |args| {
                let authorize = |def: &domxml::Domain| {
                    ctx.allow(d, c.procedure, 0, &Target::domain(&def.name, def.uuid))
                };
                Ok(DomainDefineXmlRet {
                    dom: wire(d.define(&args.xml, 0, ctx.identity, authorize)?),
                })
            })
        },
        R::DomainDefineXmlFlags => |d, ctx, c| {
            run::<p::DomainDefineXmlFlags>(c, |args| {
                let authorize = |def: &domxml::Domain| {
                    ctx.allow(
                        d,
                        c.procedure,
                        args.flags,
                        &Target::domain(&def.name, def.uuid),
                    )
                };
                Ok(DomainDefineXmlFlagsRet {
                    dom: wire(d.define(&args.xml, args.flags, ctx.identity, authorize)?),
                })
            })
        },
        R::DomainUndefine => |d, ctx, c| {
            run::<p::DomainUndefine>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(d.undefine(&uuid, 0, ctx.identity)?)
            })
        },
        R::DomainUndefineFlags => |d, ctx, c| {
            run::<p::DomainUndefineFlags>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, args.flags)?;
                Ok(d.undefine(&uuid, args.flags, ctx.identity)?)
            })
        },
        R::DomainGetXmlDesc => |d, ctx, c| {
            run::<p::DomainGetXmlDesc>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, args.flags)?;
                Ok(DomainGetXmlDescRet {
                    xml: d.xml_desc(&uuid, args.flags)?,
                })
            })
        },
        R::DomainGetInfo => |d, ctx, c| {
            run::<p::DomainGetInfo>(c, |args| {
                let info = d.info(&ctx.domain(d, c.procedure, &args.dom, 0)?)?;
                Ok(DomainGetInfoRet {
                    state: u8::try_from(info.state.number()).unwrap_or(0),
                    max_mem: info.max_mem_kib,
                    memory: info.memory_kib,
                    nr_virt_cpu: u16::try_from(info.vcpus).unwrap_or(u16::MAX),
                    cpu_time: info.cpu_time_ns,
                })
            })
        },
        R::DomainGetState => |d, ctx, c| {
            run::<p::DomainGetState>(c, |args| {
                no_flags(args.flags, "virDomainGetState")?;
                let (state, reason) = d.state(&ctx.domain(d, c.procedure, &args.dom, 0)?)?;
                Ok(DomainGetStateRet {
                    state: state.number(),
                    reason,
                })
            })
        },
        R::DomainIsActive => |d, ctx, c| {
            run::<p::DomainIsActive>(c, |args| {
                Ok(DomainIsActiveRet {
                    active: bool_int(d.is_active(&ctx.domain(d, c.procedure, &args.dom, 0)?)?),
                })
            })
        },
        R::DomainIsPersistent => |d, ctx, c| {
            run::<p::DomainIsPersistent>(c, |args| {
                Ok(DomainIsPersistentRet {
                    persistent: bool_int(d.is_persistent(&ctx.domain(
                        d,
                        c.procedure,
                        &args.dom,
                        0,
                    )?)?),
                })
            })
        },
        R::DomainIsUpdated => |d, ctx, c| {
            run::<p::DomainIsUpdated>(c, |args| {
                ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(DomainIsUpdatedRet { updated: 0 })
            })
        },
        R::DomainGetAutostart => |d, ctx, c| {
            run::<p::DomainGetAutostart>(c, |args| {
                Ok(DomainGetAutostartRet {
                    autostart: bool_int(d.autostart(&ctx.domain(
                        d,
                        c.procedure,
                        &args.dom,
                        0,
                    )?)?),
                })
            })
        },
        R::DomainSetAutostart => |d, ctx, c| {
            run::<p::DomainSetAutostart>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(d.set_autostart(&uuid, args.autostart != 0, ctx.identity)?)
            })
        },
        R::DomainGetOsType => |d, ctx, c| {
            run::<p::DomainGetOsType>(c, |args| {
                Ok(DomainGetOsTypeRet {
                    os_type: d.os_type(&ctx.domain(d, c.procedure, &args.dom, 0)?)?,
                })
            })
        },
        R::DomainGetMaxMemory => |d, ctx, c| {
            run::<p::DomainGetMaxMemory>(c, |args| {
                Ok(DomainGetMaxMemoryRet {
                    memory: d.max_memory(&ctx.domain(d, c.procedure, &args.dom, 0)?)?,
                })
            })
        },
        R::DomainGetVcpusFlags => |d, ctx, c| {
            run::<p::DomainGetVcpusFlags>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, args.flags)?;
                const MAXIMUM: u32 = 4;
                const GUEST: u32 = 8;
                if args.flags & GUEST != 0 {
                    return Err(DriverError::OperationInvalid(
                        "querying vCPUs through the guest agent is not supported".into(),
                    )
                    .into());
                }
                if args.flags & !(1 | 2 | MAXIMUM) != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags,
                        function: "virDomainGetVcpusFlags",
                    }
                    .into());
                }
                let n = if args.flags & MAXIMUM != 0 {
                    d.max_vcpus(&uuid)?
                } else {
                    d.info(&uuid)?.vcpus
                };
                Ok(DomainGetVcpusFlagsRet {
                    num: i32::try_from(n).unwrap_or(i32::MAX),
                })
            })
        },
        R::DomainHasManagedSaveImage => |d, ctx, c| {
            run::<p::DomainHasManagedSaveImage>(c, |args| {
                ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(DomainHasManagedSaveImageRet { result: 0 })
            })
        },
        R::DomainSnapshotNum => |d, ctx, c| {
            run::<p::DomainSnapshotNum>(c, |args| {
                ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(DomainSnapshotNumRet { num: 0 })
            })
        },
        R::DomainGetSecurityLabel => |d, ctx, c| {
            run::<p::DomainGetSecurityLabel>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, 0)?;
                // The primary model's label; empty for a guest that is not running.
                let label = d.process_labels(&uuid).into_iter().next();
                Ok(match label {
                    Some(label) => DomainGetSecurityLabelRet {
                        label: c_chars(&label.label),
                        enforcing: bool_int(label.enforcing),
                    },
                    None => DomainGetSecurityLabelRet {
                        label: c_chars(""),
                        enforcing: 0,
                    },
                })
            })
        },
        R::DomainGetSecurityLabelList => |d, ctx, c| {
            run::<p::DomainGetSecurityLabelList>(c, |args| {
                let uuid = ctx.domain(d, c.procedure, &args.dom, 0)?;
                let labels: Vec<DomainGetSecurityLabelRet> = d
                    .process_labels(&uuid)
                    .into_iter()
                    .map(|label| DomainGetSecurityLabelRet {
                        label: c_chars(&label.label),
                        enforcing: bool_int(label.enforcing),
                    })
                    .collect();
                let ret = i32::try_from(labels.len()).unwrap_or(i32::MAX);
                Ok(DomainGetSecurityLabelListRet { labels, ret })
            })
        },
        R::DomainGetMessages => |d, ctx, c| {
            run::<p::DomainGetMessages>(c, |args| {
                ctx.domain(d, c.procedure, &args.dom, 0)?;
                Ok(DomainGetMessagesRet { msgs: Vec::new() })
            })
        },
        _ => return network::route(procedure),
    };
    Some(handler)
}

/// The owned pieces of a call, for handlers that wait on QEMU.
#[derive(Debug)]
pub struct OwnedCall {
    /// The hypervisor side.
    pub driver: Arc<Driver>,
    /// The access drivers.
    pub access: Arc<Access>,
    /// The emulator found at start-up.
    pub emulator: Arc<Emulator>,
    /// The caller.
    pub identity: PeerIdentity,
    /// The caller as access drivers see it.
    pub subject: Subject,
    /// Read-only connection.
    pub read_only: bool,
    /// The call.
    pub call: Call,
}

impl OwnedCall {
    /// The borrowed context the checks take.
    pub fn ctx(&self) -> CallContext<'_> {
        CallContext {
            identity: &self.identity,
            subject: &self.subject,
            access: &self.access,
            read_only: self.read_only,
            emulator: &self.emulator,
        }
    }

    /// Resolves and checks a guest handle (see [`CallContext::domain`]).
    fn domain(&self, dom: &NonnullDomain, flags: u32) -> Result<Uuid, Failure> {
        self.ctx()
            .domain(&self.driver, self.call.procedure, dom, flags)
    }
}

/// A handler that waits (on QEMU or its monitor).
pub type AsyncHandler =
    fn(OwnedCall) -> Pin<Box<dyn Future<Output = Result<Message, Failure>> + Send>>;

/// The handler of a lifecycle procedure, if the daemon implements it.
pub fn route_async(procedure: RemoteProcedure) -> Option<AsyncHandler> {
    use RemoteProcedure as R;
    let handler: AsyncHandler = match procedure {
        R::DomainCreate => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainCreate>()?;
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.start(&uuid, 0, &o.identity).await?;
                Ok(o.call.reply::<p::DomainCreate>(&())?)
            })
        },
        R::DomainCreateWithFlags => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainCreateWithFlags>()?;
                let uuid = o.domain(&args.dom, args.flags)?;
                let started = o.driver.start(&uuid, args.flags, &o.identity).await?;
                Ok(o.call
                    .reply::<p::DomainCreateWithFlags>(&DomainCreateWithFlagsRet {
                        dom: wire(started),
                    })?)
            })
        },
        R::DomainCreateXml => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainCreateXml>()?;
                let ctx = o.ctx();
                let authorize = |def: &domxml::Domain| {
                    ctx.allow(
                        &o.driver,
                        o.call.procedure,
                        args.flags,
                        &Target::domain(&def.name, def.uuid),
                    )
                };
                let uuid = o.driver.define_transient(&args.xml_desc, authorize)?;
                let started = match o.driver.start(&uuid, args.flags, &o.identity).await {
                    Ok(started) => started,
                    Err(err) => {
                        o.driver.forget_transient(&uuid);
                        return Err(err.into());
                    }
                };
                Ok(o.call
                    .reply::<p::DomainCreateXml>(&DomainCreateXmlRet { dom: wire(started) })?)
            })
        },
        R::DomainDestroy => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainDestroy>()?;
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.destroy(&uuid, 0, &o.identity).await?;
                Ok(o.call.reply::<p::DomainDestroy>(&())?)
            })
        },
        R::DomainDestroyFlags => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainDestroyFlags>()?;
                let uuid = o.domain(&args.dom, args.flags)?;
                o.driver.destroy(&uuid, args.flags, &o.identity).await?;
                Ok(o.call.reply::<p::DomainDestroyFlags>(&())?)
            })
        },
        R::DomainShutdown => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainShutdown>()?;
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.shutdown(&uuid).await?;
                Ok(o.call.reply::<p::DomainShutdown>(&())?)
            })
        },
        R::DomainShutdownFlags => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainShutdownFlags>()?;
                // 0 = hypervisor's choice, 1 = ACPI power button: both are the power button.
                if args.flags & !1 != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags & !1,
                        function: "virDomainShutdownFlags",
                    }
                    .into());
                }
                let uuid = o.domain(&args.dom, args.flags)?;
                o.driver.shutdown(&uuid).await?;
                Ok(o.call.reply::<p::DomainShutdownFlags>(&())?)
            })
        },
        R::DomainReboot => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainReboot>()?;
                if args.flags & !1 != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags & !1,
                        function: "virDomainReboot",
                    }
                    .into());
                }
                let uuid = o.domain(&args.dom, args.flags)?;
                o.driver.reset(&uuid).await?;
                Ok(o.call.reply::<p::DomainReboot>(&())?)
            })
        },
        R::DomainReset => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainReset>()?;
                if args.flags != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags,
                        function: "virDomainReset",
                    }
                    .into());
                }
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.reset(&uuid).await?;
                Ok(o.call.reply::<p::DomainReset>(&())?)
            })
        },
        R::DomainSuspend => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainSuspend>()?;
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.suspend(&uuid).await?;
                Ok(o.call.reply::<p::DomainSuspend>(&())?)
            })
        },
        R::DomainResume => |o| {
            Box::pin(async move {
                let args = o.call.args::<p::DomainResume>()?;
                let uuid = o.domain(&args.dom, 0)?;
                o.driver.resume(&uuid).await?;
                Ok(o.call.reply::<p::DomainResume>(&())?)
            })
        },
        _ => return None,
    };
    Some(handler)
}

/// What a stream-opening handler returns: the call's OK reply and the stream's ends (see
/// [`crate::stream`] for how the connection relays them).
#[derive(Debug)]
pub struct StreamOpen {
    /// The OK reply to the call; it goes out before any stream packet.
    pub reply: Message,
    /// Where the stream's data comes from and goes to.
    pub ends: StreamEnds,
}

/// A handler of a procedure that opens a stream (upload, download, console).
pub type StreamHandler =
    fn(OwnedCall) -> Pin<Box<dyn Future<Output = Result<StreamOpen, Failure>> + Send>>;

/// The handler of a stream-opening procedure, if the daemon implements it.
pub fn route_stream(procedure: RemoteProcedure) -> Option<StreamHandler> {
    use RemoteProcedure as R;
    match procedure {
        R::StorageVolUpload | R::StorageVolDownload => storage::route_stream(procedure),
        R::DomainOpenConsole => Some(console::open_console),
        _ => None,
    }
}

/// Whether the procedure changes state and should run off the async workers (it may fsync).
pub fn is_blocking(procedure: RemoteProcedure) -> bool {
    use RemoteProcedure as R;
    matches!(
        procedure,
        R::DomainDefineXml
            | R::DomainDefineXmlFlags
            | R::DomainUndefine
            | R::DomainUndefineFlags
            | R::DomainSetAutostart
            | R::ConnectGetCapabilities
            | R::ConnectGetSysinfo
    ) || network::is_blocking(procedure)
        || storage::is_blocking(procedure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_procedure_has_payload_types() {
        for procedure in RemoteProcedure::ALL {
            let handlers = [
                route(*procedure).is_some(),
                route_async(*procedure).is_some(),
                route_stream(*procedure).is_some(),
            ];
            let count = handlers.iter().filter(|&&h| h).count();
            assert!(count <= 1, "{procedure:?} has {count} handlers");
            if count == 1 {
                assert!(
                    RemoteProcedure::TYPED.contains(procedure),
                    "{procedure:?} is routed but has no payload types"
                );
            }
        }
    }

    #[test]
    fn lists_are_bounded() {
        list_max(-1).unwrap_err();
        list_max(16_385).unwrap_err();
        assert_eq!(list_max(16_384).unwrap(), 16_384);
    }
}
