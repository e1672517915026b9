//! Storage pool and volume procedures: resolve the handle, check the ACL on it (or filter a
//! list with the procedure's `aclfilter`), call [`StoragePools`], audit every change.
//!
//! Pool handles are resolved by UUID and volume handles by pool name and volume name, as
//! libvirtd does; a volume's key is only used by `STORAGE_VOL_LOOKUP_BY_KEY`.

use rpc::payloads::*;
use rpc::procedures::{self as p, RemoteProcedure};
use rpc::types::{NonnullStoragePool, NonnullStorageVol, STORAGE_POOL_LIST_MAX};
use serde_json::{json, Value};
use uuid::Uuid;

use acl::Target;
use domxml::storage::{parse_pool, parse_volume};

use super::{bool_int, count, run, CallContext, Failure, Handler};
use crate::audit::Outcome;
use crate::driver::storage::volume::VolumeRef;
use crate::driver::storage::{PoolFilter, PoolSummary, StorageError};
use crate::driver::{Driver, DriverError};
use crate::errors;

mod transfer;

pub use transfer::route_stream;

fn wire_pool(pool: &PoolSummary) -> NonnullStoragePool {
    NonnullStoragePool {
        name: pool.name.clone(),
        uuid: rpc::types::Uuid(*pool.uuid.as_bytes()),
    }
}

fn wire_vol(vol: &VolumeRef) -> NonnullStorageVol {
    NonnullStorageVol {
        pool: vol.pool.clone(),
        name: vol.name.clone(),
        key: vol.key(),
    }
}

fn storage(err: StorageError) -> Failure {
    DriverError::from(err).into()
}

/// Records a change in the audit log and turns its error into a reply.
fn audited<T>(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    object: Value,
    result: Result<T, StorageError>,
) -> Result<T, Failure> {
    match &result {
        Ok(_) => d
            .audit()
            .record(ctx.identity, procedure.name(), object, Outcome::Ok),
        Err(err) => d.audit().record(
            ctx.identity,
            procedure.name(),
            object,
            Outcome::Error(&errors::chain(err)),
        ),
    }
    result.map_err(storage)
}

/// A `maxnames` argument: 0 to `max`.
fn names_max(value: i32, max: u32) -> Result<usize, Failure> {
    usize::try_from(value)
        .ok()
        .filter(|&n| n <= max as usize)
        .ok_or_else(|| {
            Failure::remote(errors::invalid_arg(&format!(
                "list size {value} is not between 0 and {max}"
            )))
        })
}

impl CallContext<'_> {
    /// Resolves a pool handle (by UUID) and checks the call on it.
    fn pool(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        pool: &NonnullStoragePool,
        flags: u32,
    ) -> Result<PoolSummary, Failure> {
        self.check_flags(procedure, flags)?;
        let found = d
            .storage()
            .by_uuid(&Uuid::from_bytes(pool.uuid.0))
            .map_err(storage)?;
        self.allow(
            d,
            procedure,
            flags,
            &Target::storage_pool(&found.name, Some(found.uuid)),
        )?;
        Ok(found)
    }

    /// Resolves a volume handle (pool name, volume name) and checks the call on it.
    fn vol(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        vol: &NonnullStorageVol,
        flags: u32,
    ) -> Result<VolumeRef, Failure> {
        self.check_flags(procedure, flags)?;
        let found = d.storage().volume(&vol.pool, &vol.name).map_err(storage)?;
        self.allow(
            d,
            procedure,
            flags,
            &Target::storage_vol(&found.name, &found.pool),
        )?;
        Ok(found)
    }

    /// Checks a looked-up pool.
    fn found_pool(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        found: Result<PoolSummary, StorageError>,
    ) -> Result<NonnullStoragePool, Failure> {
        let found = found.map_err(storage)?;
        self.allow(
            d,
            procedure,
            0,
            &Target::storage_pool(&found.name, Some(found.uuid)),
        )?;
        Ok(wire_pool(&found))
    }

    /// Checks a looked-up volume.
    fn found_vol(
        &self,
        d: &Driver,
        procedure: RemoteProcedure,
        found: Result<VolumeRef, StorageError>,
    ) -> Result<NonnullStorageVol, Failure> {
        let found = found.map_err(storage)?;
        self.allow(
            d,
            procedure,
            0,
            &Target::storage_vol(&found.name, &found.pool),
        )?;
        Ok(wire_vol(&found))
    }

    fn pool_visible(&self, procedure: RemoteProcedure, pool: &PoolSummary) -> bool {
        self.access.filter(
            self.subject,
            procedure,
            &Target::storage_pool(&pool.name, Some(pool.uuid)),
        )
    }

    fn vol_visible(&self, procedure: RemoteProcedure, vol: &VolumeRef) -> bool {
        self.access.filter(
            self.subject,
            procedure,
            &Target::storage_vol(&vol.name, &vol.pool),
        )
    }
}

fn pools(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    filter: PoolFilter,
) -> Vec<PoolSummary> {
    let mut found = d.storage().list(filter);
    found.retain(|pool| ctx.pool_visible(procedure, pool));
    found
}

fn volumes(
    d: &Driver,
    ctx: &CallContext<'_>,
    procedure: RemoteProcedure,
    pool: &PoolSummary,
) -> Result<Vec<VolumeRef>, Failure> {
    let mut found = d.storage().volumes(&pool.name).map_err(storage)?;
    found.retain(|vol| ctx.vol_visible(procedure, vol));
    Ok(found)
}

fn pool_object(pool: &PoolSummary) -> Value {
    json!({"pool": pool.name, "uuid": pool.uuid.to_string()})
}

fn vol_object(vol: &VolumeRef) -> Value {
    json!({"pool": vol.pool, "volume": vol.name, "path": vol.path_text()})
}

fn vol_info(d: &Driver, vol: &VolumeRef) -> Result<StorageVolGetInfoRet, Failure> {
    let facts = d.storage().volume_facts(vol).map_err(storage)?;
    Ok(StorageVolGetInfoRet {
        vol_type: facts.kind as i8,
        capacity: facts.capacity,
        allocation: facts.allocation,
    })
}

/// Parses pool XML, refusing it as libvirt's XML error.
fn pool_def(xml: &str) -> Result<domxml::storage::PoolDef, Failure> {
    parse_pool(xml).map_err(|e| storage(StorageError::Xml(e)))
}

fn vol_def(xml: &str) -> Result<domxml::storage::VolumeDef, Failure> {
    parse_volume(xml).map_err(|e| storage(StorageError::Xml(e)))
}

/// The handler of a storage procedure, if the daemon implements it.
pub fn route(procedure: RemoteProcedure) -> Option<Handler> {
    use RemoteProcedure as R;
    let handler: Handler = match procedure {
        R::ConnectListAllStoragePools => |d, ctx, c| {
            run::<p::ConnectListAllStoragePools>(c, |args| {
                let found = pools(d, ctx, c.procedure, PoolFilter(args.flags));
                Ok(ConnectListAllStoragePoolsRet {
                    ret: u32::try_from(found.len()).unwrap_or(u32::MAX),
                    pools: if args.need_results != 0 {
                        found.iter().map(wire_pool).collect()
                    } else {
                        Vec::new()
                    },
                })
            })
        },
        R::ConnectNumOfStoragePools => |d, ctx, c| {
            run::<p::ConnectNumOfStoragePools>(c, |()| {
                Ok(ConnectNumOfStoragePoolsRet {
                    num: count(pools(d, ctx, c.procedure, PoolFilter::ACTIVE).len()),
                })
            })
        },
        R::ConnectNumOfDefinedStoragePools => |d, ctx, c| {
            run::<p::ConnectNumOfDefinedStoragePools>(c, |()| {
                Ok(ConnectNumOfDefinedStoragePoolsRet {
                    num: count(pools(d, ctx, c.procedure, PoolFilter::INACTIVE).len()),
                })
            })
        },
        R::ConnectListStoragePools => |d, ctx, c| {
            run::<p::ConnectListStoragePools>(c, |args| {
                let max = names_max(args.maxnames, STORAGE_POOL_LIST_MAX)?;
                let found = pools(d, ctx, c.procedure, PoolFilter::ACTIVE);
                Ok(ConnectListStoragePoolsRet {
                    names: found.into_iter().map(|p| p.name).take(max).collect(),
                })
            })
        },
        R::ConnectListDefinedStoragePools => |d, ctx, c| {
            run::<p::ConnectListDefinedStoragePools>(c, |args| {
                let max = names_max(args.maxnames, STORAGE_POOL_LIST_MAX)?;
                let found = pools(d, ctx, c.procedure, PoolFilter::INACTIVE);
                Ok(ConnectListStoragePoolsRet {
                    names: found.into_iter().map(|p| p.name).take(max).collect(),
                })
            })
        },
        R::StoragePoolDefineXml => |d, ctx, c| {
            run::<p::StoragePoolDefineXml>(c, |args| {
                ctx.check_flags(c.procedure, args.flags)?;
                let def = pool_def(&args.xml)?;
                ctx.allow(
                    d,
                    c.procedure,
                    args.flags,
                    &Target::storage_pool(&def.name, def.uuid),
                )?;
                let object = json!({"pool": def.name, "target": def.target});
                let result =
                    crate::driver::storage::check_flags(args.flags, 0, "virStoragePoolDefineXML")
                        .and_then(|()| d.storage().define(def));
                let pool = audited(d, ctx, c.procedure, object, result)?;
                Ok(StoragePoolDefineXmlRet {
                    pool: wire_pool(&pool),
                })
            })
        },
        R::StoragePoolCreateXml => |d, ctx, c| {
            run::<p::StoragePoolCreateXml>(c, |args| {
                ctx.check_flags(c.procedure, args.flags)?;
                let def = pool_def(&args.xml)?;
                ctx.allow(
                    d,
                    c.procedure,
                    args.flags,
                    &Target::storage_pool(&def.name, def.uuid),
                )?;
                let object = json!({"pool": def.name, "target": def.target});
                let result = d.storage().create_transient(def, args.flags);
                let pool = audited(d, ctx, c.procedure, object, result)?;
                Ok(StoragePoolCreateXmlRet {
                    pool: wire_pool(&pool),
                })
            })
        },
        R::StoragePoolCreate => |d, ctx, c| {
            run::<p::StoragePoolCreate>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                let result = d.storage().start(&pool.name, args.flags);
                audited(d, ctx, c.procedure, pool_object(&pool), result)
            })
        },
        R::StoragePoolBuild => |d, ctx, c| {
            run::<p::StoragePoolBuild>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                let result = d.storage().build(&pool.name, args.flags);
                audited(d, ctx, c.procedure, pool_object(&pool), result)
            })
        },
        R::StoragePoolDestroy => |d, ctx, c| {
            run::<p::StoragePoolDestroy>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                let result = d.storage().destroy(&pool.name);
                audited(d, ctx, c.procedure, pool_object(&pool), result)
            })
        },
        R::StoragePoolDelete => |d, ctx, c| {
            run::<p::StoragePoolDelete>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                let result = d.storage().delete(&pool.name, args.flags);
                audited(d, ctx, c.procedure, pool_object(&pool), result)
            })
        },
        R::StoragePoolUndefine => |d, ctx, c| {
            run::<p::StoragePoolUndefine>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                let result = d.storage().undefine(&pool.name);
                audited(d, ctx, c.procedure, pool_object(&pool), result)
            })
        },
        R::StoragePoolRefresh => |d, ctx, c| {
            run::<p::StoragePoolRefresh>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                d.storage().refresh(&pool.name, args.flags).map_err(storage)
            })
        },
        R::StoragePoolSetAutostart => |d, ctx, c| {
            run::<p::StoragePoolSetAutostart>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                let on = args.autostart != 0;
                let result = d.storage().set_autostart(&pool.name, on);
                let mut object = pool_object(&pool);
                object["autostart"] = on.into();
                audited(d, ctx, c.procedure, object, result)
            })
        },
        R::StoragePoolLookupByName => |d, ctx, c| {
            run::<p::StoragePoolLookupByName>(c, |args| {
                Ok(StoragePoolLookupByNameRet {
                    pool: ctx.found_pool(d, c.procedure, d.storage().by_name(&args.name))?,
                })
            })
        },
        R::StoragePoolLookupByUuid => |d, ctx, c| {
            run::<p::StoragePoolLookupByUuid>(c, |args| {
                let uuid = Uuid::from_bytes(args.uuid.0);
                Ok(StoragePoolLookupByUuidRet {
                    pool: ctx.found_pool(d, c.procedure, d.storage().by_uuid(&uuid))?,
                })
            })
        },
        R::StoragePoolLookupByTargetPath => |d, ctx, c| {
            run::<p::StoragePoolLookupByTargetPath>(c, |args| {
                Ok(StoragePoolLookupByTargetPathRet {
                    pool: ctx.found_pool(d, c.procedure, d.storage().by_target_path(&args.path))?,
                })
            })
        },
        R::StoragePoolLookupByVolume => |d, ctx, c| {
            run::<p::StoragePoolLookupByVolume>(c, |args| {
                Ok(StoragePoolLookupByVolumeRet {
                    pool: ctx.found_pool(d, c.procedure, d.storage().by_name(&args.vol.pool))?,
                })
            })
        },
        R::StoragePoolGetInfo => |d, ctx, c| {
            run::<p::StoragePoolGetInfo>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                let info = d.storage().info(&pool.name).map_err(storage)?;
                Ok(StoragePoolGetInfoRet {
                    state: info.state as u8,
                    capacity: info.status.capacity,
                    allocation: info.status.allocation,
                    available: info.status.available,
                })
            })
        },
        R::StoragePoolGetXmlDesc => |d, ctx, c| {
            run::<p::StoragePoolGetXmlDesc>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                Ok(StoragePoolGetXmlDescRet {
                    xml: d.storage().xml(&pool.name, args.flags).map_err(storage)?,
                })
            })
        },
        R::StoragePoolGetAutostart => |d, ctx, c| {
            run::<p::StoragePoolGetAutostart>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                Ok(StoragePoolGetAutostartRet {
                    autostart: bool_int(pool.autostart),
                })
            })
        },
        R::StoragePoolIsActive => |d, ctx, c| {
            run::<p::StoragePoolIsActive>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                Ok(StoragePoolIsActiveRet {
                    active: bool_int(pool.active),
                })
            })
        },
        R::StoragePoolIsPersistent => |d, ctx, c| {
            run::<p::StoragePoolIsPersistent>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                Ok(StoragePoolIsPersistentRet {
                    persistent: bool_int(pool.persistent),
                })
            })
        },
        R::StoragePoolNumOfVolumes => |d, ctx, c| {
            run::<p::StoragePoolNumOfVolumes>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                Ok(StoragePoolNumOfVolumesRet {
                    num: count(volumes(d, ctx, c.procedure, &pool)?.len()),
                })
            })
        },
        R::StoragePoolListVolumes => |d, ctx, c| {
            run::<p::StoragePoolListVolumes>(c, |args| {
                let max = names_max(args.maxnames, rpc::types::STORAGE_VOL_LIST_MAX)?;
                let pool = ctx.pool(d, c.procedure, &args.pool, 0)?;
                let found = volumes(d, ctx, c.procedure, &pool)?;
                Ok(StoragePoolListVolumesRet {
                    names: found.into_iter().map(|v| v.name).take(max).collect(),
                })
            })
        },
        R::StoragePoolListAllVolumes => |d, ctx, c| {
            run::<p::StoragePoolListAllVolumes>(c, |args| {
                let pool = ctx.pool(d, c.procedure, &args.pool, args.flags)?;
                crate::driver::storage::check_flags(args.flags, 0, "virStoragePoolListAllVolumes")
                    .map_err(storage)?;
                let found = volumes(d, ctx, c.procedure, &pool)?;
                Ok(StoragePoolListAllVolumesRet {
                    ret: u32::try_from(found.len()).unwrap_or(u32::MAX),
                    vols: if args.need_results != 0 {
                        found.iter().map(wire_vol).collect()
                    } else {
                        Vec::new()
                    },
                })
            })
        },
        R::StorageVolCreateXml => |d, ctx, c| {
            run::<p::StorageVolCreateXml>(c, |args| {
                ctx.check_flags(c.procedure, args.flags)?;
                let pool = d
                    .storage()
                    .by_uuid(&Uuid::from_bytes(args.pool.uuid.0))
                    .map_err(storage)?;
                let def = vol_def(&args.xml)?;
                ctx.allow(
                    d,
                    c.procedure,
                    args.flags,
                    &Target::storage_vol(&def.name, &pool.name),
                )?;
                let object = json!({"pool": pool.name, "volume": def.name,
                    "capacity": def.capacity, "format": def.format.map(|f| f.as_str()),
                    "backing": def.backing.as_ref().map(|b| b.path.clone())});
                let result = d.storage().create_volume(&pool.name, &def, args.flags);
                let vol = audited(d, ctx, c.procedure, object, result)?;
                Ok(StorageVolCreateXmlRet {
                    vol: wire_vol(&vol),
                })
            })
        },
        R::StorageVolCreateXmlFrom => |d, ctx, c| {
            run::<p::StorageVolCreateXmlFrom>(c, |args| {
                ctx.check_flags(c.procedure, args.flags)?;
                let pool = d
                    .storage()
                    .by_uuid(&Uuid::from_bytes(args.pool.uuid.0))
                    .map_err(storage)?;
                let def = vol_def(&args.xml)?;
                ctx.allow(
                    d,
                    c.procedure,
                    args.flags,
                    &Target::storage_vol(&def.name, &pool.name),
                )?;
                // Copying reads the source: libvirt asks storage_vol:create only, Moat also
                // wants the caller to be allowed to read the source's data.
                let src = ctx.vol(d, RemoteProcedure::StorageVolDownload, &args.clonevol, 0)?;
                let object = json!({"pool": pool.name, "volume": def.name,
                    "from": vol_object(&src)});
                let result = d.storage().clone_volume(&pool.name, &def, &src, args.flags);
                let vol = audited(d, ctx, c.procedure, object, result)?;
                Ok(StorageVolCreateXmlFromRet {
                    vol: wire_vol(&vol),
                })
            })
        },
        R::StorageVolDelete => |d, ctx, c| {
            run::<p::StorageVolDelete>(c, |args| {
                let vol = ctx.vol(d, c.procedure, &args.vol, args.flags)?;
                let result = d.storage().delete_volume(&vol, args.flags);
                audited(d, ctx, c.procedure, vol_object(&vol), result)
            })
        },
        R::StorageVolWipe => |d, ctx, c| {
            run::<p::StorageVolWipe>(c, |args| {
                let vol = ctx.vol(d, c.procedure, &args.vol, args.flags)?;
                let result = d.storage().wipe_volume(&vol, args.flags);
                audited(d, ctx, c.procedure, vol_object(&vol), result)
            })
        },
        R::StorageVolResize => |d, ctx, c| {
            run::<p::StorageVolResize>(c, |args| {
                let vol = ctx.vol(d, c.procedure, &args.vol, args.flags)?;
                let result = d.storage().resize_volume(&vol, args.capacity, args.flags);
                let mut object = vol_object(&vol);
                object["capacity"] = args.capacity.into();
                object["flags"] = args.flags.into();
                audited(d, ctx, c.procedure, object, result)
            })
        },
        R::StorageVolLookupByName => |d, ctx, c| {
            run::<p::StorageVolLookupByName>(c, |args| {
                let pool = d
                    .storage()
                    .by_uuid(&Uuid::from_bytes(args.pool.uuid.0))
                    .map_err(storage)?;
                Ok(StorageVolLookupByNameRet {
                    vol: ctx.found_vol(
                        d,
                        c.procedure,
                        d.storage().volume(&pool.name, &args.name),
                    )?,
                })
            })
        },
        R::StorageVolLookupByKey => |d, ctx, c| {
            run::<p::StorageVolLookupByKey>(c, |args| {
                Ok(StorageVolLookupByKeyRet {
                    vol: ctx.found_vol(d, c.procedure, d.storage().volume_by_key(&args.key))?,
                })
            })
        },
        R::StorageVolLookupByPath => |d, ctx, c| {
            run::<p::StorageVolLookupByPath>(c, |args| {
                Ok(StorageVolLookupByPathRet {
                    vol: ctx.found_vol(d, c.procedure, d.storage().volume_by_path(&args.path))?,
                })
            })
        },
        R::StorageVolGetInfo => |d, ctx, c| {
            run::<p::StorageVolGetInfo>(c, |args| {
                let vol = ctx.vol(d, c.procedure, &args.vol, 0)?;
                vol_info(d, &vol)
            })
        },
        R::StorageVolGetInfoFlags => |d, ctx, c| {
            run::<p::StorageVolGetInfoFlags>(c, |args| {
                // VIR_STORAGE_VOL_GET_PHYSICAL: for a file, allocation is already physical.
                crate::driver::storage::check_flags(args.flags, 1, "virStorageVolGetInfoFlags")
                    .map_err(storage)?;
                let vol = ctx.vol(d, c.procedure, &args.vol, args.flags)?;
                vol_info(d, &vol)
            })
        },
        R::StorageVolGetXmlDesc => |d, ctx, c| {
            run::<p::StorageVolGetXmlDesc>(c, |args| {
                crate::driver::storage::check_flags(args.flags, 0, "virStorageVolGetXMLDesc")
                    .map_err(storage)?;
                let vol = ctx.vol(d, c.procedure, &args.vol, args.flags)?;
                Ok(StorageVolGetXmlDescRet {
                    xml: d.storage().volume_xml(&vol).map_err(storage)?,
                })
            })
        },
        R::StorageVolGetPath => |d, ctx, c| {
            run::<p::StorageVolGetPath>(c, |args| {
                let vol = ctx.vol(d, c.procedure, &args.vol, 0)?;
                Ok(StorageVolGetPathRet {
                    name: vol.path_text(),
                })
            })
        },
        _ => return None,
    };
    Some(handler)
}

/// Storage calls touch files (and may run qemu-img): they run off the async workers.
pub fn is_blocking(procedure: RemoteProcedure) -> bool {
    route(procedure).is_some()
}
