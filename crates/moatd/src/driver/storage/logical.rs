//! `logical` pools: an LVM volume group whose logical volumes are the pool's volumes.
//!
//! The steps, as libvirt's logical backend takes them:
//!
//! 1. build: every source device must be a block device; without `OVERWRITE` one that holds any
//!    signature (file system, partition table, an LVM label) is refused, as libvirt refuses a
//!    device blkid does not find empty. Each device has its first and last MiB zeroed and is
//!    `pvcreate`d, then `vgcreate VG DEVICES…`; on failure the devices initialised so far get
//!    `pvremove` again. A device that is already a physical volume of a volume group is never
//!    overwritten, whatever the flags.
//! 2. start: the volume group must exist (and hold one of the pool's devices when the XML names
//!    any); `vgchange -aly`. destroy: `vgchange -aln` (LVM refuses while a volume is open).
//! 3. delete (inactive pool): `vgremove --force`, then `pvremove` each device.
//! 4. info: capacity, allocation and available from `vgs` (size, size − free, free).
//!
//! Volumes are logical volumes: path `/dev/VG/LV`, key the LV's UUID, format raw, capacity
//! and allocation the LV's size. Names are checked against LVM's rules
//! ([`lvm::check_lvm_name`]) before anything runs.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use domxml::storage::{Permissions, PoolDef, PoolStatus, VolumeDef, VolumeFormat};

use super::image::ImageInfo;
use super::lvm::{self, LvFacts, VgFacts};
use super::volume::{VolumeFacts, VolumeRef};
use super::{PoolObject, StorageError, StoragePools};

/// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`.
pub const BUILD_NO_OVERWRITE: u32 = 4;
/// `VIR_STORAGE_POOL_BUILD_OVERWRITE`.
pub const BUILD_OVERWRITE: u32 = 8;
/// Bytes zeroed at each end of a device before `pvcreate` (libvirt's too).
const ZERO_ENDS: u64 = 1024 * 1024;
/// blkid's name of an LVM physical volume label.
const LVM_MEMBER: &str = "LVM2_member";
const ZERO_CHUNK: usize = 1024 * 1024;

/// Whether `build` may overwrite what its devices hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse a device holding any signature (the default, and `NO_OVERWRITE`).
    Refuse,
    /// Wipe it (`OVERWRITE`).
    Allow,
}

impl Overwrite {
    /// From `virStoragePoolBuild` flags; both bits together are refused, as libvirt does.
    pub fn from_build_flags(flags: u32) -> Result<Self, StorageError> {
        match (
            flags & BUILD_OVERWRITE != 0,
            flags & BUILD_NO_OVERWRITE != 0,
        ) {
            (true, true) => Err(StorageError::InvalidArg(
                "flags 'overwrite' and 'no-overwrite' are mutually exclusive".into(),
            )),
            (true, false) => Ok(Overwrite::Allow),
            _ => Ok(Overwrite::Refuse),
        }
    }
}

/// The volume group of a logical pool (the parser fills it from the pool name if absent).
pub fn vg_name(def: &PoolDef) -> &str {
    def.source.name.as_deref().unwrap_or(&def.name)
}

/// Checks what defining a logical pool needs: LVM's name rules and the target `/dev/VG`.
pub fn check_logical_def(def: &PoolDef) -> Result<(), StorageError> {
    let vg = vg_name(def);
    lvm::check_lvm_name("volume group", vg, false).map_err(StorageError::InvalidName)?;
    let expected = format!("/dev/{vg}");
    if def.target != expected {
        return Err(StorageError::InvalidArg(format!(
            "the target path of logical pool '{}' must be {expected}, not {}",
            def.name, def.target
        )));
    }
    Ok(())
}

/// Writes zeros over `len` bytes of `file` from `offset`.
pub fn zero_range(file: &mut File, path: &Path, offset: u64, len: u64) -> Result<(), StorageError> {
    file.seek(SeekFrom::Start(offset))
        .map_err(StorageError::io("seek in", path))?;
    let zeros = vec![0u8; ZERO_CHUNK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(ZERO_CHUNK).min(ZERO_CHUNK);
        file.write_all(&zeros[..n])
            .map_err(StorageError::io("write zeros to", path))?;
        left -= n as u64;
    }
    file.sync_all().map_err(StorageError::io("flush", path))
}

/// Size of the block device open as `file`.
fn device_size(file: &mut File, path: &Path) -> Result<u64, StorageError> {
    file.seek(SeekFrom::End(0))
        .map_err(StorageError::io("find the size of", path))
}

/// The device must exist and be a block device.
fn check_device(device: &str) -> Result<(), StorageError> {
    let meta = fs::metadata(device).map_err(|err| {
        StorageError::InvalidArg(format!("cannot use source device {device}: {err}"))
    })?;
    if meta.file_type().is_block_device() {
        Ok(())
    } else {
        Err(StorageError::InvalidArg(format!(
            "source device {device} is not a block device"
        )))
    }
}

impl StoragePools {
    /// `pvcreate` each device and `vgcreate` the pool's volume group.
    pub(super) fn build_logical(
        &self,
        def: &PoolDef,
        overwrite: Overwrite,
    ) -> Result<(), StorageError> {
        let vg = vg_name(def);
        if def.source.devices.is_empty() {
            return Err(StorageError::InvalidArg(format!(
                "logical pool '{}' names no source device to build volume group {vg} on",
                def.name
            )));
        }
        if self.lvm.vg(vg)?.is_some() {
            return Err(StorageError::InvalidState(format!(
                "volume group {vg} already exists"
            )));
        }
        let pvs = self.lvm.pvs()?;
        for device in &def.source.devices {
            check_device(device)?;
            if let Some(pv) = pvs
                .iter()
                .find(|pv| same_device(&pv.device, device) && !pv.vg.is_empty())
            {
                return Err(StorageError::InvalidState(format!(
                    "device {device} is a physical volume of volume group {}; remove it from \
                     there first",
                    pv.vg
                )));
            }
            if overwrite == Overwrite::Refuse {
                match self.lvm.probe_signature(device)? {
                    None => {}
                    Some(kind) if kind == LVM_MEMBER => {
                        return Err(StorageError::InvalidState(format!(
                            "device '{device}' already formatted using '{kind}'"
                        )))
                    }
                    Some(kind) => {
                        return Err(StorageError::InvalidState(format!(
                            "format of device '{device}' ('{kind}') does not match the expected \
                             format '{LVM_MEMBER}', forced overwrite is necessary"
                        )))
                    }
                }
            }
        }
        let mut initialised: Vec<&str> = Vec::new();
        let result = (|| {
            for device in &def.source.devices {
                let path = Path::new(device);
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(StorageError::io("open", path))?;
                let size = device_size(&mut file, path)?;
                zero_range(&mut file, path, 0, ZERO_ENDS.min(size))?;
                if size > ZERO_ENDS {
                    zero_range(&mut file, path, size - ZERO_ENDS, ZERO_ENDS)?;
                }
                drop(file);
                self.lvm.pvcreate(device)?;
                initialised.push(device);
            }
            self.lvm.vgcreate(vg, &def.source.devices)?;
            Ok(())
        })();
        if result.is_err() {
            for device in initialised {
                let _ = self.lvm.pvremove(device);
            }
        }
        result
    }

    /// The volume group must exist (holding one of the pool's devices); activate it.
    pub(super) fn start_logical(&self, def: &PoolDef) -> Result<(), StorageError> {
        let vg = self.check_vg(def)?;
        self.lvm.vgchange(&vg.name, true)?;
        Ok(())
    }

    /// The volume group of an existing pool, checked against the pool's devices.
    fn check_vg(&self, def: &PoolDef) -> Result<VgFacts, StorageError> {
        let name = vg_name(def);
        let vg = self.lvm.vg(name)?.ok_or_else(|| {
            StorageError::InvalidState(format!(
                "cannot find logical volume group name '{name}' (build pool '{}' first)",
                def.name
            ))
        })?;
        if !def.source.devices.is_empty() {
            let matches = def
                .source
                .devices
                .iter()
                .any(|device| vg.devices.iter().any(|pv| same_device(pv, device)));
            if !matches {
                return Err(StorageError::InvalidState(format!(
                    "cannot find any matching source devices for logical volume group '{name}'"
                )));
            }
        }
        Ok(vg)
    }

    /// Deactivates the volume group (LVM refuses while a volume is open).
    pub(super) fn stop_logical(&self, def: &PoolDef) -> Result<(), StorageError> {
        Ok(self.lvm.vgchange(vg_name(def), false)?)
    }

    /// `vgremove` and `pvremove` each device.
    pub(super) fn delete_logical(&self, def: &PoolDef) -> Result<(), StorageError> {
        let vg = vg_name(def);
        self.lvm.vgremove(vg)?;
        for device in &def.source.devices {
            self.lvm.pvremove(device)?;
        }
        Ok(())
    }

    /// Sizes from `vgs`.
    pub(super) fn logical_status(&self, def: &PoolDef) -> Result<PoolStatus, StorageError> {
        let vg = self.check_vg(def)?;
        Ok(PoolStatus {
            capacity: vg.size,
            allocation: vg.size.saturating_sub(vg.free),
            available: vg.free,
        })
    }

    /// The plain logical volumes of an active logical pool.
    fn lvs(&self, pool: &PoolObject) -> Result<Vec<LvFacts>, StorageError> {
        Ok(self
            .lvm
            .lvs(vg_name(&pool.def))?
            .into_iter()
            .filter(|lv| lv.is_plain() && lvm::check_lvm_name("", &lv.name, true).is_ok())
            .collect())
    }

    fn lv_ref(pool: &PoolObject, lv: &LvFacts) -> VolumeRef {
        VolumeRef {
            pool: pool.def.name.clone(),
            name: lv.name.clone(),
            path: Path::new(&pool.def.target).join(&lv.name),
            key: lv.uuid.clone(),
        }
    }

    /// The volumes of a logical pool.
    pub(super) fn lv_volumes(&self, pool: &PoolObject) -> Result<Vec<VolumeRef>, StorageError> {
        Ok(self
            .lvs(pool)?
            .iter()
            .map(|lv| Self::lv_ref(pool, lv))
            .collect())
    }

    fn lv(&self, pool: &PoolObject, name: &str) -> Result<LvFacts, StorageError> {
        lvm::check_lvm_name("logical volume", name, true).map_err(StorageError::InvalidName)?;
        self.lvs(pool)?
            .into_iter()
            .find(|lv| lv.name == name)
            .ok_or_else(|| StorageError::NoVolume {
                what: format!("name '{name}' in pool '{}'", pool.def.name),
            })
    }

    /// The volume `name` of a logical pool.
    pub(super) fn lv_volume(
        &self,
        pool: &PoolObject,
        name: &str,
    ) -> Result<VolumeRef, StorageError> {
        let lv = self.lv(pool, name)?;
        Ok(Self::lv_ref(pool, &lv))
    }

    /// The volume whose key (LV UUID) is `key`, in an active logical pool.
    pub(super) fn lv_by_key(&self, key: &str) -> Option<VolumeRef> {
        self.active_pools()
            .into_iter()
            .filter(|p| p.def.kind == domxml::storage::PoolType::Logical)
            .find_map(|pool| {
                let lvs = self.lvs(&pool).ok()?;
                lvs.iter()
                    .find(|lv| lv.uuid == key)
                    .map(|lv| Self::lv_ref(&pool, lv))
            })
    }

    /// Size and ownership of a logical volume.
    pub(super) fn lv_facts(
        &self,
        pool: &PoolObject,
        vol: &VolumeRef,
    ) -> Result<VolumeFacts, StorageError> {
        let lv = self.lv(pool, &vol.name)?;
        let permissions = fs::metadata(&vol.path)
            .map(|meta| Permissions {
                mode: Some(meta.mode() & 0o7777),
                owner: Some(meta.uid()),
                group: Some(meta.gid()),
            })
            .unwrap_or_default();
        Ok(VolumeFacts {
            capacity: lv.size,
            allocation: lv.size,
            image: ImageInfo {
                format: VolumeFormat::Raw,
                capacity: lv.size,
                backing: None,
            },
            permissions,
            kind: domxml::storage::VolumeType::Block,
        })
    }

    /// Refuses what a logical volume cannot be, and a size beyond the group's free space.
    fn check_new_lv(
        &self,
        pool: &PoolObject,
        def: &VolumeDef,
        capacity: u64,
    ) -> Result<(), StorageError> {
        lvm::check_lvm_name("logical volume", &def.name, true)
            .map_err(StorageError::InvalidName)?;
        if def.format.is_some_and(|f| f != VolumeFormat::Raw) || def.backing.is_some() {
            return Err(StorageError::Unsupported(format!(
                "volume '{}': logical pools hold raw volumes only (no qcow2, no backing store)",
                def.name
            )));
        }
        if capacity == 0 {
            return Err(StorageError::InvalidArg(format!(
                "volume '{}' needs a capacity above zero",
                def.name
            )));
        }
        if let Some(allocation) = def.allocation {
            if allocation != capacity {
                return Err(StorageError::Unsupported(format!(
                    "volume '{}': allocation {allocation} differs from capacity {capacity}; \
                     logical volumes are fully allocated (sparse volumes are not supported)",
                    def.name
                )));
            }
        }
        if self.lvs(pool)?.iter().any(|lv| lv.name == def.name) {
            return Err(StorageError::VolumeExists {
                name: def.name.clone(),
            });
        }
        let vg = self.check_vg(&pool.def)?;
        if capacity > vg.free {
            return Err(StorageError::InvalidArg(format!(
                "volume '{}' of {capacity} bytes does not fit in pool '{}' ({} bytes free)",
                def.name, pool.def.name, vg.free
            )));
        }
        Ok(())
    }

    /// `lvcreate` a raw volume of the requested capacity.
    pub(super) fn create_lv(
        &self,
        pool: &PoolObject,
        def: &VolumeDef,
    ) -> Result<VolumeRef, StorageError> {
        let capacity = def
            .capacity
            .ok_or_else(|| StorageError::InvalidArg("volume capacity required".into()))?;
        self.check_new_lv(pool, def, capacity)?;
        let vg = vg_name(&pool.def);
        self.lvm.lvcreate(vg, &def.name, capacity)?;
        let new = self.lv_volume(pool, &def.name);
        let new = new.and_then(|vol| set_permissions(&vol.path, def).map(|()| vol));
        if new.is_err() {
            let _ = self.lvm.lvremove(vg, &def.name);
        }
        new
    }

    /// A new logical volume holding a copy of `src` (raw), at least as large as it.
    pub(super) fn clone_into_lv(
        &self,
        pool: &PoolObject,
        def: &VolumeDef,
        src: &VolumeRef,
        src_facts: &VolumeFacts,
    ) -> Result<VolumeRef, StorageError> {
        let capacity = def
            .capacity
            .unwrap_or(src_facts.capacity)
            .max(src_facts.capacity);
        let def = VolumeDef {
            allocation: None,
            format: None,
            ..def.clone()
        };
        self.check_new_lv(pool, &def, capacity)?;
        let vg = vg_name(&pool.def);
        self.lvm.lvcreate(vg, &def.name, capacity)?;
        let new = self.lv_volume(pool, &def.name)?;
        let copied = set_permissions(&new.path, &def).and_then(|()| {
            self.qemu_img
                .convert_into_existing(
                    (&src.path, src_facts.image.format),
                    (&new.path, VolumeFormat::Raw),
                )
                .map_err(StorageError::from)
        });
        if let Err(err) = copied {
            let _ = self.lvm.lvremove(vg, &def.name);
            return Err(err);
        }
        Ok(new)
    }

    /// `lvremove`.
    pub(super) fn delete_lv(&self, pool: &PoolObject, vol: &VolumeRef) -> Result<(), StorageError> {
        let lv = self.lv(pool, &vol.name)?;
        Ok(self.lvm.lvremove(vg_name(&pool.def), &lv.name)?)
    }

    /// Overwrites the whole logical volume with zeros.
    pub(super) fn wipe_lv(&self, pool: &PoolObject, vol: &VolumeRef) -> Result<(), StorageError> {
        let lv = self.lv(pool, &vol.name)?;
        let path = lv_device(pool, &lv.name)?;
        let mut file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(StorageError::io("open for wiping", &path))?;
        zero_range(&mut file, &path, 0, lv.size)
    }

    /// `lvresize` to `capacity` bytes (`shrink` already checked by the caller).
    pub(super) fn resize_lv(
        &self,
        pool: &PoolObject,
        vol: &VolumeRef,
        capacity: u64,
        shrink: bool,
    ) -> Result<(), StorageError> {
        let lv = self.lv(pool, &vol.name)?;
        if capacity > lv.size {
            let vg = self.check_vg(&pool.def)?;
            if capacity - lv.size > vg.free {
                return Err(StorageError::InvalidArg(format!(
                    "cannot grow volume '{}' by {} bytes: pool '{}' has {} bytes free",
                    lv.name,
                    capacity - lv.size,
                    pool.def.name,
                    vg.free
                )));
            }
        }
        Ok(self
            .lvm
            .lvresize(vg_name(&pool.def), &lv.name, capacity, shrink)?)
    }

    /// The device of a logical volume a guest disk names, which must be active.
    pub(super) fn lv_disk(&self, pool: &PoolObject, name: &str) -> Result<PathBuf, StorageError> {
        let lv = self.lv(pool, name)?;
        lv_device(pool, &lv.name)
    }
}

/// Gives a new logical volume's device node the XML's `<permissions>` (mode 0600 unless given),
/// as libvirt does.
fn set_permissions(path: &Path, def: &VolumeDef) -> Result<(), StorageError> {
    let perms = def.permissions.unwrap_or_default();
    let mode = perms.mode.unwrap_or(super::volume::VOLUME_MODE);
    super::apply_permissions(path, mode, &perms)
}

/// `/dev/VG/LV`, which must be a block device (the volume is active).
fn lv_device(pool: &PoolObject, lv: &str) -> Result<PathBuf, StorageError> {
    let path = Path::new(&pool.def.target).join(lv);
    let meta = fs::metadata(&path).map_err(|err| {
        StorageError::InvalidState(format!(
            "logical volume {} is not active (refresh or restart pool '{}'): {err}",
            path.display(),
            pool.def.name
        ))
    })?;
    if meta.file_type().is_block_device() {
        Ok(path)
    } else {
        Err(StorageError::InvalidState(format!(
            "{} is not a block device",
            path.display()
        )))
    }
}

/// Whether two device paths name the same device (by path, or by device number).
fn same_device(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.file_type().is_block_device() && x.rdev() == y.rdev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domxml::storage::parse_pool;

    #[test]
    fn overwrite_flags_are_exclusive() {
        assert_eq!(Overwrite::from_build_flags(0).unwrap(), Overwrite::Refuse);
        assert_eq!(
            Overwrite::from_build_flags(BUILD_NO_OVERWRITE).unwrap(),
            Overwrite::Refuse
        );
        assert_eq!(
            Overwrite::from_build_flags(BUILD_OVERWRITE).unwrap(),
            Overwrite::Allow
        );
        Overwrite::from_build_flags(BUILD_OVERWRITE | BUILD_NO_OVERWRITE).unwrap_err();
    }

    #[test]
    fn logical_definitions_need_lvm_names_and_dev_vg() {
        let def = parse_pool(
            "<pool type='logical'><name>p</name><source><name>vg0</name></source></pool>",
        )
        .unwrap();
        check_logical_def(&def).unwrap();
        assert_eq!(vg_name(&def), "vg0");
        let def = parse_pool(
            "<pool type='logical'><name>p</name><source><name>vg0</name></source>\
             <target><path>/srv/x</path></target></pool>",
        )
        .unwrap();
        let err = check_logical_def(&def).unwrap_err();
        assert!(err.to_string().contains("must be /dev/vg0"), "{err}");
        let def = parse_pool(
            "<pool type='logical'><name>p</name><source><name>bad$vg</name></source></pool>",
        )
        .unwrap();
        check_logical_def(&def).unwrap_err();
    }
}
