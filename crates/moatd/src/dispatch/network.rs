//! Handlers of the virtual network procedures (`virsh net-*`).

use acl::{ObjectType, Target};

use rpc::payloads::*;
use rpc::procedures::{self as p, RemoteProcedure};
use rpc::types::NonnullNetwork;
use uuid::Uuid;

use super::{count, list_max, no_flags, run, CallContext, Failure, Handler};
use crate::driver::network::{NetLookup, NetSummary};
use crate::driver::{Driver, DriverError};

/// `VIR_CONNECT_LIST_NETWORKS_INACTIVE` / `ACTIVE` / `PERSISTENT` / `TRANSIENT` /
/// `AUTOSTART` / `NO_AUTOSTART`.
const LIST_FLAGS: u32 = 0x3f;

fn target(name: &str, uuid: Uuid) -> Target<'_> {
    Target {
        object: ObjectType::Network,
        name,
        uuid: Some(uuid),
        parent: None,
    }
}

fn wire(found: &NetSummary) -> NonnullNetwork {
    NonnullNetwork {
        name: found.name.clone(),
        uuid: rpc::types::Uuid(*found.uuid.as_bytes()),
    }
}

/// Resolves a network handle and checks the call's ACL on it.
fn network(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    net: &NonnullNetwork,
    flags: u32,
) -> Result<Uuid, Failure> {
    ctx.check_flags(procedure, flags)?;
    let found = d.net_lookup(&NetLookup::Uuid(Uuid::from_bytes(net.uuid.0)))?;
    ctx.allow(d, procedure, flags, &target(&found.name, found.uuid))?;
    Ok(found.uuid)
}

fn found(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    lookup: NetLookup,
) -> Result<NonnullNetwork, Failure> {
    let found = d.net_lookup(&lookup)?;
    ctx.allow(d, procedure, 0, &target(&found.name, found.uuid))?;
    Ok(wire(&found))
}

/// The networks passing `flags` that the caller may see.
fn visible(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    flags: u32,
) -> Vec<NetSummary> {
    let pick = |on: u32, off: u32, value: bool| {
        let want_on = flags & on != 0;
        let want_off = flags & off != 0;
        want_on == want_off || (want_on && value) || (want_off && !value)
    };
    d.net_list()
        .into_iter()
        .filter(|n| pick(2, 1, n.active) && pick(4, 8, n.persistent) && pick(16, 32, n.autostart))
        .filter(|n| {
            ctx.access
                .filter(ctx.subject, procedure, &target(&n.name, n.uuid))
        })
        .collect()
}

fn int(value: bool) -> i32 {
    i32::from(value)
}

/// The handler of a network procedure, if the daemon implements it.
pub fn route(procedure: RemoteProcedure) -> Option<Handler> {
    use RemoteProcedure as R;
    let handler: Handler = match procedure {
        R::ConnectListAllNetworks => |d, ctx, c| {
            run::<p::ConnectListAllNetworks>(c, |args| {
                if args.flags & !LIST_FLAGS != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags,
                        function: "virConnectListAllNetworks",
                    }
                    .into());
                }
                let found = visible(d, ctx, c.procedure, args.flags);
                Ok(ConnectListAllNetworksRet {
                    ret: u32::try_from(found.len()).unwrap_or(u32::MAX),
                    nets: if args.need_results != 0 {
                        found.iter().map(wire).collect()
                    } else {
                        Vec::new()
                    },
                })
            })
        },
        R::ConnectNumOfNetworks => |d, ctx, c| {
            run::<p::ConnectNumOfNetworks>(c, |()| {
                Ok(ConnectNumOfNetworksRet {
                    num: count(visible(d, ctx, c.procedure, 2).len()),
                })
            })
        },
        R::ConnectNumOfDefinedNetworks => |d, ctx, c| {
            run::<p::ConnectNumOfDefinedNetworks>(c, |()| {
                Ok(ConnectNumOfDefinedNetworksRet {
                    num: count(visible(d, ctx, c.procedure, 1).len()),
                })
            })
        },
        R::ConnectListNetworks => |d, ctx, c| {
            run::<p::ConnectListNetworks>(c, |args| {
                let max = list_max(args.maxnames)?;
                Ok(ConnectListNetworksRet {
                    names: visible(d, ctx, c.procedure, 2)
                        .into_iter()
                        .map(|n| n.name)
                        .take(max)
                        .collect(),
                })
            })
        },
        R::ConnectListDefinedNetworks => |d, ctx, c| {
            run::<p::ConnectListDefinedNetworks>(c, |args| {
                let max = list_max(args.maxnames)?;
                Ok(ConnectListDefinedNetworksRet {
                    names: visible(d, ctx, c.procedure, 1)
                        .into_iter()
                        .map(|n| n.name)
                        .take(max)
                        .collect(),
                })
            })
        },
        R::NetworkLookupByName => |d, ctx, c| {
            run::<p::NetworkLookupByName>(c, |args| {
                Ok(NetworkLookupByNameRet {
                    net: found(d, ctx, c.procedure, NetLookup::Name(args.name))?,
                })
            })
        },
        R::NetworkLookupByUuid => |d, ctx, c| {
            run::<p::NetworkLookupByUuid>(c, |args| {
                Ok(NetworkLookupByUuidRet {
                    net: found(
                        d,
                        ctx,
                        c.procedure,
                        NetLookup::Uuid(Uuid::from_bytes(args.uuid.0)),
                    )?,
                })
            })
        },
        R::NetworkDefineXml => |d, ctx, c| {
            run::<p::NetworkDefineXml>(c, |args| {
                let authorize = |n: &domxml::network::Network| {
                    ctx.allow(d, c.procedure, 0, &target(&n.name, n.uuid))
                };
                Ok(NetworkDefineXmlRet {
                    net: wire(&d.net_define(&args.xml, authorize)?),
                })
            })
        },
        R::NetworkDefineXmlFlags => |d, ctx, c| {
            run::<p::NetworkDefineXmlFlags>(c, |args| {
                // VIR_NETWORK_DEFINE_VALIDATE: Moat always validates.
                if args.flags & !1 != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags,
                        function: "virNetworkDefineXMLFlags",
                    }
                    .into());
                }
                let authorize = |n: &domxml::network::Network| {
                    ctx.allow(d, c.procedure, args.flags, &target(&n.name, n.uuid))
                };
                Ok(NetworkDefineXmlFlagsRet {
                    net: wire(&d.net_define(&args.xml, authorize)?),
                })
            })
        },
        R::NetworkCreateXml => |d, ctx, c| {
            run::<p::NetworkCreateXml>(c, |args| {
                let authorize = |n: &domxml::network::Network| {
                    ctx.allow(d, c.procedure, 0, &target(&n.name, n.uuid))
                };
                Ok(NetworkCreateXmlRet {
                    net: wire(&d.net_create_xml(&args.xml, authorize)?),
                })
            })
        },
        R::NetworkUndefine => |d, ctx, c| {
            run::<p::NetworkUndefine>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(d.net_undefine(&uuid)?)
            })
        },
        R::NetworkCreate => |d, ctx, c| {
            run::<p::NetworkCreate>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(d.net_start(&uuid)?)
            })
        },
        R::NetworkDestroy => |d, ctx, c| {
            run::<p::NetworkDestroy>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(d.net_destroy(&uuid)?)
            })
        },
        R::NetworkGetXmlDesc => |d, ctx, c| {
            run::<p::NetworkGetXmlDesc>(c, |args| {
                if args.flags & !1 != 0 {
                    return Err(DriverError::UnsupportedFlags {
                        flags: args.flags,
                        function: "virNetworkGetXMLDesc",
                    }
                    .into());
                }
                let uuid = network(d, ctx, c.procedure, &args.net, args.flags)?;
                Ok(NetworkGetXmlDescRet {
                    xml: d.net_xml(&uuid, args.flags & 1 != 0)?,
                })
            })
        },
        R::NetworkGetBridgeName => |d, ctx, c| {
            run::<p::NetworkGetBridgeName>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(NetworkGetBridgeNameRet {
                    name: d.net_bridge(&uuid)?,
                })
            })
        },
        R::NetworkGetAutostart => |d, ctx, c| {
            run::<p::NetworkGetAutostart>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                let found = d.net_lookup(&NetLookup::Uuid(uuid))?;
                Ok(NetworkGetAutostartRet {
                    autostart: int(found.autostart),
                })
            })
        },
        R::NetworkSetAutostart => |d, ctx, c| {
            run::<p::NetworkSetAutostart>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(d.net_set_autostart(&uuid, args.autostart != 0)?)
            })
        },
        R::NetworkIsActive => |d, ctx, c| {
            run::<p::NetworkIsActive>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(NetworkIsActiveRet {
                    active: int(d.net_lookup(&NetLookup::Uuid(uuid))?.active),
                })
            })
        },
        R::NetworkIsPersistent => |d, ctx, c| {
            run::<p::NetworkIsPersistent>(c, |args| {
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                Ok(NetworkIsPersistentRet {
                    persistent: int(d.net_lookup(&NetLookup::Uuid(uuid))?.persistent),
                })
            })
        },
        R::NetworkGetDhcpLeases => |d, ctx, c| {
            run::<p::NetworkGetDhcpLeases>(c, |args| {
                no_flags(args.flags, "virNetworkGetDHCPLeases")?;
                let uuid = network(d, ctx, c.procedure, &args.net, 0)?;
                let (bridge, prefix, leases) = d.net_leases(&uuid, args.mac.as_deref())?;
                let n = u32::try_from(leases.len()).unwrap_or(u32::MAX);
                Ok(NetworkGetDhcpLeasesRet {
                    leases: if args.need_results != 0 {
                        leases
                            .into_iter()
                            .map(|l| NetworkDhcpLease {
                                iface: bridge.clone(),
                                expirytime: l.expiry,
                                kind: 0,
                                mac: Some(l.mac),
                                iaid: None,
                                ipaddr: l.ip.to_string(),
                                prefix: u32::from(prefix),
                                hostname: l.hostname,
                                clientid: l.client_id,
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                    ret: n,
                })
            })
        },
        _ => return None,
    };
    Some(handler)
}

/// Whether a network procedure changes host state (runs off the async workers).
pub fn is_blocking(procedure: RemoteProcedure) -> bool {
    use RemoteProcedure as R;
    matches!(
        procedure,
        R::NetworkDefineXml
            | R::NetworkDefineXmlFlags
            | R::NetworkCreateXml
            | R::NetworkUndefine
            | R::NetworkCreate
            | R::NetworkDestroy
            | R::NetworkSetAutostart
    )
}
