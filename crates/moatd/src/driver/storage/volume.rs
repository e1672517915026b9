//! Volumes of `dir` pools: the regular files in the pool's directory.
//!
//! A volume's name is its file name and its key and path are the full path, as in libvirt.
//! Every name goes through [`domxml::storage::check_name`] before it is joined to the pool's
//! directory, new files are opened `O_CREAT|O_EXCL|O_NOFOLLOW`, and a symlink counts as a
//! volume only when it resolves to a regular file inside the pool's directory, so no call can
//! reach a file outside the pool. Raw volumes are made and resized with `ftruncate` (sparse);
//! qcow2 volumes, clones and qcow2 resizes go through `qemu-img`. Each public call hands a
//! `logical` pool's volumes to [`super::logical`].

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use domxml::storage::{
    check_name, format_volume, BackingStore, Permissions, PoolType, VolumeDef, VolumeFormat,
    VolumeStatus, VolumeType,
};

use super::image::{probe, ImageInfo, PROBE_LEN};
use super::logical::zero_range;
use super::{canonical_or_same, check_flags, fs_status, PoolObject, StorageError, StoragePools};

/// `VIR_STORAGE_VOL_RESIZE_DELTA`.
pub const RESIZE_DELTA: u32 = 2;
/// `VIR_STORAGE_VOL_RESIZE_SHRINK`.
pub const RESIZE_SHRINK: u32 = 4;
/// Mode of a new volume when its XML gives none (libvirt's default).
pub const VOLUME_MODE: u32 = 0o600;

/// A volume as the protocol names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRef {
    /// The pool's name.
    pub pool: String,
    /// The volume's name (its file name, or LV name).
    pub name: String,
    /// Its path (`/dev/VG/LV` for a logical volume).
    pub path: PathBuf,
    /// Its key: the path for a file, the LV UUID for a logical volume (as libvirt).
    pub key: String,
}

impl VolumeRef {
    /// A file volume, whose key is its path.
    fn file(pool: &str, name: &str, path: PathBuf) -> Self {
        Self {
            pool: pool.to_owned(),
            name: name.to_owned(),
            key: path.to_string_lossy().into_owned(),
            path,
        }
    }

    /// The key.
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The path, as text.
    pub fn path_text(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

/// `virStorageVolGetInfo` and more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFacts {
    /// Virtual size.
    pub capacity: u64,
    /// Bytes allocated on the host.
    pub allocation: u64,
    /// Format and backing file, from the header.
    pub image: ImageInfo,
    /// Mode, owner and group.
    pub permissions: Permissions,
    /// File or block device.
    pub kind: VolumeType,
}

/// The file `name` in the pool directory `dir` (canonical in `real_dir`), if it is a volume.
fn resolve_in(
    pool: &str,
    dir: &Path,
    real_dir: &Path,
    name: &str,
) -> Result<PathBuf, StorageError> {
    check_name("volume", name).map_err(StorageError::InvalidName)?;
    let path = dir.join(name);
    let missing = || StorageError::NoVolume {
        what: format!("name '{name}' in pool '{pool}'"),
    };
    let meta = fs::symlink_metadata(&path).map_err(|_| missing())?;
    if meta.file_type().is_symlink() {
        let target = fs::canonicalize(&path).map_err(|_| missing())?;
        if !target.starts_with(real_dir) {
            return Err(StorageError::InvalidName(format!(
                "volume '{name}' is a symlink to {} outside pool '{pool}'",
                target.display()
            )));
        }
        if !fs::metadata(&target).map(|m| m.is_file()).unwrap_or(false) {
            return Err(missing());
        }
    } else if !meta.is_file() {
        return Err(missing());
    }
    Ok(path)
}

impl StoragePools {
    /// The volumes of an active pool, by name.
    pub fn volumes(&self, pool: &str) -> Result<Vec<VolumeRef>, StorageError> {
        let object = self.active(pool)?;
        if object.def.kind == PoolType::Logical {
            let mut found = self.lv_volumes(&object)?;
            found.sort_by(|a, b| a.name.cmp(&b.name));
            found.truncate(rpc::types::STORAGE_VOL_LIST_MAX as usize);
            return Ok(found);
        }
        let dir = PathBuf::from(&object.def.target);
        let real = canonical_or_same(&dir);
        let entries =
            fs::read_dir(&dir).map_err(StorageError::io("read the pool directory", &dir))?;
        let mut found: Vec<VolumeRef> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let path = resolve_in(pool, &dir, &real, &name).ok()?;
                Some(VolumeRef::file(pool, &name, path))
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.truncate(rpc::types::STORAGE_VOL_LIST_MAX as usize);
        Ok(found)
    }

    /// The volume `name` of the active pool `pool`.
    pub fn volume(&self, pool: &str, name: &str) -> Result<VolumeRef, StorageError> {
        let object = self.active(pool)?;
        if object.def.kind == PoolType::Logical {
            return self.lv_volume(&object, name);
        }
        let dir = PathBuf::from(&object.def.target);
        let path = resolve_in(pool, &dir, &canonical_or_same(&dir), name)?;
        Ok(VolumeRef::file(pool, name, path))
    }

    /// The volume whose key is `key`: a logical volume's UUID, or a file volume's path.
    pub fn volume_by_key(&self, key: &str) -> Result<VolumeRef, StorageError> {
        if !key.starts_with('/') {
            return self.lv_by_key(key).ok_or_else(|| StorageError::NoVolume {
                what: format!("key '{key}'"),
            });
        }
        self.volume_by_path(key).map_err(|err| match err {
            StorageError::NoVolume { .. } => StorageError::NoVolume {
                what: format!("key '{key}'"),
            },
            other => other,
        })
    }

    /// The volume whose path (or key) is `path`, in whichever active pool holds it.
    pub fn volume_by_path(&self, path: &str) -> Result<VolumeRef, StorageError> {
        let missing = || StorageError::NoVolume {
            what: format!("path '{path}'"),
        };
        let given = Path::new(path);
        let (Some(parent), Some(name)) = (given.parent(), given.file_name()) else {
            return Err(missing());
        };
        let parent = canonical_or_same(parent);
        let name = name.to_str().ok_or_else(missing)?;
        let pool = self
            .active_targets()
            .into_iter()
            .find(|(_, dir)| *dir == parent)
            .map(|(pool, _)| pool)
            .ok_or_else(missing)?;
        self.volume(&pool, name).map_err(|err| match err {
            StorageError::NoVolume { .. } => missing(),
            other => other,
        })
    }

    /// Size, allocation, format and ownership of a volume.
    pub fn volume_facts(&self, vol: &VolumeRef) -> Result<VolumeFacts, StorageError> {
        let object = self.active(&vol.pool)?;
        if object.def.kind == PoolType::Logical {
            return self.lv_facts(&object, vol);
        }
        let mut file = File::open(&vol.path).map_err(StorageError::io("open", &vol.path))?;
        let meta = file
            .metadata()
            .map_err(StorageError::io("inspect", &vol.path))?;
        let mut head = Vec::with_capacity(PROBE_LEN);
        (&mut file)
            .take(PROBE_LEN as u64)
            .read_to_end(&mut head)
            .map_err(StorageError::io("read the header of", &vol.path))?;
        let image = probe(&head, meta.len());
        Ok(VolumeFacts {
            capacity: image.capacity,
            allocation: meta.blocks().saturating_mul(512),
            image,
            permissions: Permissions {
                mode: Some(meta.mode() & 0o7777),
                owner: Some(meta.uid()),
                group: Some(meta.gid()),
            },
            kind: VolumeType::File,
        })
    }

    /// Volume XML as `virsh vol-dumpxml` shows it.
    pub fn volume_xml(&self, vol: &VolumeRef) -> Result<String, StorageError> {
        let facts = self.volume_facts(vol)?;
        let backing = facts.image.backing.as_ref().map(|path| BackingStore {
            format: self.probe_format(Path::new(path)),
            path: path.clone(),
        });
        Ok(format_volume(&VolumeStatus {
            kind: facts.kind,
            name: vol.name.clone(),
            key: vol.key(),
            path: vol.path_text(),
            capacity: facts.capacity,
            allocation: facts.allocation,
            format: facts.image.format,
            backing,
            permissions: facts.permissions,
        }))
    }

    fn probe_format(&self, path: &Path) -> Option<VolumeFormat> {
        let mut head = Vec::new();
        File::open(path)
            .ok()?
            .take(PROBE_LEN as u64)
            .read_to_end(&mut head)
            .ok()?;
        Some(probe(&head, 0).format)
    }

    /// Refuses a capacity beyond the whole file system of the pool.
    fn check_fits(&self, pool: &PoolObject, name: &str, capacity: u64) -> Result<(), StorageError> {
        let status = fs_status(Path::new(&pool.def.target))?;
        if capacity > status.capacity {
            return Err(StorageError::InvalidArg(format!(
                "volume '{name}' of {capacity} bytes is larger than pool '{}' ({} bytes)",
                pool.def.name, status.capacity
            )));
        }
        Ok(())
    }

    /// Opens a new volume file exclusively, never through a symlink.
    fn new_file(
        &self,
        pool: &PoolObject,
        def: &VolumeDef,
    ) -> Result<(PathBuf, File), StorageError> {
        let path = Path::new(&pool.def.target).join(&def.name);
        let mode = def.permissions.and_then(|p| p.mode).unwrap_or(VOLUME_MODE);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    StorageError::VolumeExists {
                        name: def.name.clone(),
                    }
                } else {
                    StorageError::io("create the volume", &path)(e)
                }
            })?;
        if let Some(perms) = def.permissions {
            if perms.owner.is_some() || perms.group.is_some() {
                std::os::unix::fs::fchown(&file, perms.owner, perms.group)
                    .map_err(StorageError::io("set the owner of", &path))?;
            }
        }
        Ok((path, file))
    }

    /// Creates a volume (`virStorageVolCreateXML`): raw (sparse) or qcow2, optionally over a
    /// backing volume of an active pool.
    pub fn create_volume(
        &self,
        pool: &str,
        def: &VolumeDef,
        flags: u32,
    ) -> Result<VolumeRef, StorageError> {
        check_flags(flags, 0, "virStorageVolCreateXML")?;
        let _changes = self.lock_changes();
        let object = self.active(pool)?;
        if object.def.kind == PoolType::Logical {
            return self.create_lv(&object, def);
        }
        let backing = match &def.backing {
            None => None,
            Some(b) => {
                let vol = self.volume_by_path(&b.path).map_err(|_| {
                    StorageError::InvalidArg(format!(
                        "backing store {} is not a volume of an active pool",
                        b.path
                    ))
                })?;
                let facts = self.volume_facts(&vol)?;
                Some((vol, b.format.unwrap_or(facts.image.format), facts.capacity))
            }
        };
        let capacity = def
            .capacity
            .or(backing.as_ref().map(|b| b.2))
            .ok_or_else(|| StorageError::InvalidArg("volume capacity required".into()))?;
        let format = def.format.unwrap_or(if backing.is_some() {
            VolumeFormat::Qcow2
        } else {
            VolumeFormat::Raw
        });
        if backing.is_some() && format != VolumeFormat::Qcow2 {
            return Err(StorageError::InvalidArg(
                "only qcow2 volumes can have a backing store".into(),
            ));
        }
        self.check_fits(&object, &def.name, capacity)?;
        if let Some(allocation) = def.allocation {
            let available = fs_status(Path::new(&object.def.target))?.available;
            if allocation > available {
                return Err(StorageError::InvalidArg(format!(
                    "not enough space in pool '{pool}' for {allocation} bytes ({available} available)"
                )));
            }
        }
        let (path, file) = self.new_file(&object, def)?;
        let made = match format {
            VolumeFormat::Raw => file
                .set_len(capacity)
                .map_err(StorageError::io("size", &path)),
            VolumeFormat::Qcow2 => {
                drop(file);
                self.qemu_img
                    .create_qcow2(
                        &path,
                        capacity,
                        backing
                            .as_ref()
                            .map(|(vol, fmt, _)| (vol.path.as_path(), *fmt)),
                    )
                    .map_err(StorageError::from)
            }
        };
        finish_new(pool, &def.name, path, made)
    }

    /// Creates a volume as a copy of `src` (`virStorageVolCreateXMLFrom`) with `qemu-img
    /// convert`, grown to the requested capacity.
    pub fn clone_volume(
        &self,
        pool: &str,
        def: &VolumeDef,
        src: &VolumeRef,
        flags: u32,
    ) -> Result<VolumeRef, StorageError> {
        check_flags(flags, 0, "virStorageVolCreateXMLFrom")?;
        let _changes = self.lock_changes();
        let object = self.active(pool)?;
        let facts = self.volume_facts(src)?;
        if object.def.kind == PoolType::Logical {
            return self.clone_into_lv(&object, def, src, &facts);
        }
        let format = def.format.unwrap_or(facts.image.format);
        let capacity = def.capacity.unwrap_or(facts.capacity).max(facts.capacity);
        self.check_fits(&object, &def.name, capacity)?;
        let (path, file) = self.new_file(&object, def)?;
        drop(file);
        let result = self
            .qemu_img
            .convert((&src.path, facts.image.format), (&path, format))
            .map_err(StorageError::from)
            .and_then(|()| {
                if capacity > facts.capacity {
                    self.grow(&path, format, capacity)
                } else {
                    Ok(())
                }
            });
        finish_new(pool, &def.name, path, result)
    }

    fn grow(&self, path: &Path, format: VolumeFormat, capacity: u64) -> Result<(), StorageError> {
        match format {
            VolumeFormat::Raw => OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .and_then(|f| f.set_len(capacity))
                .map_err(StorageError::io("resize", path)),
            VolumeFormat::Qcow2 => Ok(self.qemu_img.resize_qcow2(path, capacity, false)?),
        }
    }

    /// Removes a volume's file (a symlink volume loses only the link).
    pub fn delete_volume(&self, vol: &VolumeRef, flags: u32) -> Result<(), StorageError> {
        check_flags(flags, 0, "virStorageVolDelete")?;
        let _changes = self.lock_changes();
        let object = self.active(&vol.pool)?;
        // A volume being uploaded or downloaded stays, whatever its pool's kind.
        let vol = self.volume(&vol.pool, &vol.name)?;
        self.ensure_no_transfer(&vol)?;
        if object.def.kind == PoolType::Logical {
            return self.delete_lv(&object, &vol);
        }
        fs::remove_file(&vol.path).map_err(StorageError::io("remove the volume", &vol.path))
    }

    /// Overwrites a raw volume with zeros; recreates a qcow2 volume empty (same size and
    /// backing file), as libvirt does.
    pub fn wipe_volume(&self, vol: &VolumeRef, flags: u32) -> Result<(), StorageError> {
        check_flags(flags, 0, "virStorageVolWipe")?;
        let _changes = self.lock_changes();
        let object = self.active(&vol.pool)?;
        // A volume being uploaded or downloaded stays, whatever its pool's kind.
        let vol = self.volume(&vol.pool, &vol.name)?;
        self.ensure_no_transfer(&vol)?;
        if object.def.kind == PoolType::Logical {
            return self.wipe_lv(&object, &vol);
        }
        let facts = self.volume_facts(&vol)?;
        match facts.image.format {
            VolumeFormat::Raw => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(&vol.path)
                    .map_err(StorageError::io("open for wiping", &vol.path))?;
                zero_range(&mut file, &vol.path, 0, facts.capacity)
            }
            VolumeFormat::Qcow2 => {
                let backing = facts.image.backing.as_deref().map(PathBuf::from);
                let backing = backing
                    .as_deref()
                    .map(|p| (p, self.probe_format(p).unwrap_or(VolumeFormat::Raw)));
                Ok(self
                    .qemu_img
                    .create_qcow2(&vol.path, facts.capacity, backing)?)
            }
        }
    }

    /// Changes a volume's capacity (`virStorageVolResize`).
    pub fn resize_volume(
        &self,
        vol: &VolumeRef,
        capacity: u64,
        flags: u32,
    ) -> Result<(), StorageError> {
        check_flags(flags, RESIZE_DELTA | RESIZE_SHRINK, "virStorageVolResize")?;
        let _changes = self.lock_changes();
        let object = self.active(&vol.pool)?;
        let vol = self.volume(&vol.pool, &vol.name)?;
        self.ensure_no_transfer(&vol)?;
        let facts = self.volume_facts(&vol)?;
        let current = facts.capacity;
        let shrink = flags & RESIZE_SHRINK != 0;
        let wanted = if flags & RESIZE_DELTA != 0 {
            if shrink {
                current.checked_sub(capacity)
            } else {
                current.checked_add(capacity)
            }
        } else {
            Some(capacity)
        }
        .ok_or_else(|| StorageError::InvalidArg(format!("cannot resize by {capacity} bytes")))?;
        if wanted < current && !shrink {
            return Err(StorageError::InvalidArg(
                "can't shrink capacity below current capacity unless shrink flag explicitly \
                 specified"
                    .into(),
            ));
        }
        if wanted > current && shrink {
            return Err(StorageError::InvalidArg(
                "can't expand capacity with the shrink flag".into(),
            ));
        }
        if object.def.kind == PoolType::Logical {
            return self.resize_lv(&object, &vol, wanted, wanted < current);
        }
        self.check_fits(&object, &vol.name, wanted)?;
        match facts.image.format {
            VolumeFormat::Raw => self.grow(&vol.path, VolumeFormat::Raw, wanted),
            VolumeFormat::Qcow2 => {
                Ok(self
                    .qemu_img
                    .resize_qcow2(&vol.path, wanted, wanted < current)?)
            }
        }
    }

    /// The file (or block device) and format a guest disk `<source pool=… volume=…>` stands
    /// for.
    pub fn disk_file(
        &self,
        pool: &str,
        volume: &str,
    ) -> Result<(PathBuf, VolumeFormat, VolumeType), StorageError> {
        let object = self.active(pool)?;
        if object.def.kind == PoolType::Logical {
            let path = self.lv_disk(&object, volume)?;
            return Ok((path, VolumeFormat::Raw, VolumeType::Block));
        }
        let vol = self.volume(pool, volume)?;
        let facts = self.volume_facts(&vol)?;
        Ok((vol.path, facts.image.format, VolumeType::File))
    }
}

/// The end of a volume creation: the new file is removed if filling it failed, else named.
fn finish_new(
    pool: &str,
    name: &str,
    path: PathBuf,
    filled: Result<(), StorageError>,
) -> Result<VolumeRef, StorageError> {
    if let Err(err) = filled {
        let _ = fs::remove_file(&path);
        return Err(err);
    }
    Ok(VolumeRef::file(pool, name, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domxml::storage::{parse_pool, parse_volume};

    fn pools_with_one(dir: &Path) -> (StoragePools, PathBuf) {
        let target = dir.join("pool");
        let pools = StoragePools::new(&dir.join("s"), &dir.join("r"));
        pools.load(None).unwrap();
        let def = parse_pool(&format!(
            "<pool type='dir'><name>p</name><target><path>{}</path></target></pool>",
            target.display()
        ))
        .unwrap();
        pools.define(def).unwrap();
        pools.start("p", super::super::CREATE_WITH_BUILD).unwrap();
        (pools, target)
    }

    #[test]
    fn raw_volumes_are_sparse_resized_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let (pools, target) = pools_with_one(dir.path());
        let def = parse_volume("<volume><name>a.img</name><capacity>1048576</capacity></volume>")
            .unwrap();
        let vol = pools.create_volume("p", &def, 0).unwrap();
        assert_eq!(vol.path, target.join("a.img"));
        assert!(matches!(
            pools.create_volume("p", &def, 0),
            Err(StorageError::VolumeExists { .. })
        ));
        let facts = pools.volume_facts(&vol).unwrap();
        assert_eq!(facts.capacity, 1 << 20);
        assert_eq!(facts.permissions.mode, Some(0o600));
        pools.resize_volume(&vol, 1 << 20, RESIZE_DELTA).unwrap();
        assert_eq!(pools.volume_facts(&vol).unwrap().capacity, 2 << 20);
        pools.resize_volume(&vol, 1, 0).unwrap_err();
        pools.resize_volume(&vol, 1 << 20, RESIZE_SHRINK).unwrap();
        pools.wipe_volume(&vol, 0).unwrap();
        let names: Vec<String> = pools
            .volumes("p")
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["a.img"]);
        assert_eq!(pools.volume_by_path(&vol.key()).unwrap().name, "a.img");
        let huge =
            parse_volume("<volume><name>big</name><capacity unit='EiB'>7</capacity></volume>")
                .unwrap();
        pools.create_volume("p", &huge, 0).unwrap_err();
        pools.delete_volume(&vol, 0).unwrap();
        assert!(pools.volumes("p").unwrap().is_empty());
    }

    #[test]
    fn symlinks_out_of_the_pool_are_not_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let (pools, target) = pools_with_one(dir.path());
        let outside = dir.path().join("secret");
        fs::write(&outside, b"x").unwrap();
        std::os::unix::fs::symlink(&outside, target.join("escape")).unwrap();
        fs::write(target.join("inside"), b"y").unwrap();
        std::os::unix::fs::symlink(target.join("inside"), target.join("alias")).unwrap();
        fs::create_dir(target.join("subdir")).unwrap();
        let names: Vec<String> = pools
            .volumes("p")
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["alias", "inside"]);
        let err = pools.volume("p", "escape").unwrap_err();
        assert!(err.to_string().contains("outside pool"), "{err}");
        pools.volume("p", "..").unwrap_err();
        pools.volume("p", "../secret").unwrap_err();
        pools
            .volume_by_path(&outside.to_string_lossy())
            .unwrap_err();
        // Creating over the dangling or escaping link is refused, never followed.
        let def =
            parse_volume("<volume><name>escape</name><capacity>1</capacity></volume>").unwrap();
        pools.create_volume("p", &def, 0).unwrap_err();
        assert_eq!(fs::read(&outside).unwrap(), b"x");
    }
}
