//! Storage pools and volumes (guide 2.2: a central image store).
//!
//! [`StoragePools`] holds every pool known to the daemon: persistent ones (defined, stored in
//! [`store::PoolStore`]) and transient ones (created from XML, gone when destroyed). A `dir`
//! pool is a directory whose regular files are the volumes ([`volume`]); a `logical` pool is an
//! LVM volume group whose logical volumes are the volumes ([`logical`], run through [`lvm`]).
//! Pool state is a small machine: defined (inactive) → built (directory or volume group exists)
//! → active → inactive; volumes can only be seen or changed in an active pool.
//!
//! Volume names are file names: [`domxml::storage::check_name`] refuses `/`, `.`, `..` and NUL,
//! files are created with `O_EXCL|O_NOFOLLOW`, and a symlink in a pool is a volume only when
//! it resolves inside the pool's directory. The first start creates the pool `default` at the
//! first `image_dirs` entry, mode 0711 and owned by root, so guests' images have one home.

mod guest;
pub mod image;
pub mod logical;
pub mod lvm;
pub mod store;
pub mod transfer;
pub mod volume;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use domxml::storage::{
    format_pool, parse_pool, Permissions, PoolDef, PoolSource, PoolStatus, PoolType,
    StorageXmlError,
};
use uuid::Uuid;

use crate::store::{SkippedFile, StoreError};
use image::{QemuImg, QemuImgError};
use logical::Overwrite;
use lvm::{Lvm, LvmError};
use store::PoolStore;

/// The name of the pool made on first start.
pub const DEFAULT_POOL: &str = "default";
/// Mode of a pool directory made by Moat when its XML gives none (libvirt's too).
pub const POOL_DIR_MODE: u32 = 0o711;

/// `virStoragePoolState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// Defined, not started.
    Inactive = 0,
    /// Started; its volumes can be used.
    Running = 2,
}

/// `VIR_STORAGE_POOL_CREATE_WITH_BUILD` (also accepted by `virStoragePoolCreateXML`).
pub const CREATE_WITH_BUILD: u32 = 1;
/// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`/`OVERWRITE` and `CREATE_WITH_BUILD_(NO_)OVERWRITE`:
/// a directory is never formatted, so these change nothing for `dir` pools; a `logical` pool's
/// devices are only overwritten with `OVERWRITE`.
const BUILD_OVERWRITE_BITS: u32 = logical::BUILD_NO_OVERWRITE | logical::BUILD_OVERWRITE;
/// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE`.
const CREATE_WITH_BUILD_OVERWRITE: u32 = 2;
/// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE`.
const CREATE_WITH_BUILD_NO_OVERWRITE: u32 = 4;
const CREATE_OVERWRITE_BITS: u32 = CREATE_WITH_BUILD_OVERWRITE | CREATE_WITH_BUILD_NO_OVERWRITE;
/// `VIR_STORAGE_XML_INACTIVE`.
pub const XML_INACTIVE: u32 = 1;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No pool matches.
    #[error("no storage pool with matching {what}")]
    NoPool {
        /// What was looked for.
        what: String,
    },
    /// No volume matches.
    #[error("no storage vol with matching {what}")]
    NoVolume {
        /// What was looked for.
        what: String,
    },
    /// The XML does not parse or is not valid.
    #[error("invalid storage XML")]
    Xml(#[source] StorageXmlError),
    /// A name that would escape the pool, or is otherwise unusable.
    #[error("{0}")]
    InvalidName(String),
    /// The volume exists already.
    #[error("storage volume '{name}' already exists")]
    VolumeExists {
        /// The volume.
        name: String,
    },
    /// The pool clashes with another one.
    #[error("{0}")]
    Conflict(String),
    /// Not possible in the pool's or volume's current state.
    #[error("{0}")]
    InvalidState(String),
    /// An argument out of range.
    #[error("{0}")]
    InvalidArg(String),
    /// Something Moat does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// Flags the call does not support.
    #[error("unsupported flags ({flags:#x}) in function {function}")]
    Flags {
        /// The unsupported bits.
        flags: u32,
        /// The API function.
        function: &'static str,
    },
    /// A file operation failed.
    #[error("cannot {step} {path}")]
    Io {
        /// The step.
        step: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The definition could not be stored; nothing changed.
    #[error("cannot store the pool definition")]
    Store(#[from] StoreError),
    /// qemu-img failed.
    #[error(transparent)]
    QemuImg(#[from] QemuImgError),
    /// An LVM tool failed.
    #[error(transparent)]
    Lvm(#[from] LvmError),
}

impl StorageError {
    fn io(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| StorageError::Io { step, path, source }
    }
}

/// Refuses any flag outside `known`.
pub fn check_flags(flags: u32, known: u32, function: &'static str) -> Result<(), StorageError> {
    if flags & !known == 0 {
        Ok(())
    } else {
        Err(StorageError::Flags {
            flags: flags & !known,
            function,
        })
    }
}

/// A pool as the registry holds it.
#[derive(Debug, Clone)]
pub struct PoolObject {
    /// The definition.
    pub def: PoolDef,
    /// Its UUID.
    pub uuid: Uuid,
    /// Started.
    pub active: bool,
    /// Defined (stored), not just created from XML.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
}

/// A pool as the protocol names it, with the facts list filters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSummary {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
    /// Started.
    pub active: bool,
    /// Stored.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
    /// Pool type.
    pub kind: PoolType,
    /// Target directory.
    pub target: PathBuf,
}

impl From<&PoolObject> for PoolSummary {
    fn from(pool: &PoolObject) -> Self {
        Self {
            name: pool.def.name.clone(),
            uuid: pool.uuid,
            active: pool.active,
            persistent: pool.persistent,
            autostart: pool.autostart,
            kind: pool.def.kind,
            target: PathBuf::from(&pool.def.target),
        }
    }
}

/// `virStoragePoolGetInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolInfo {
    /// State.
    pub state: PoolState,
    /// Sizes (zero while inactive).
    pub status: PoolStatus,
}

/// `VIR_CONNECT_LIST_STORAGE_POOLS_*` filter bits; in each pair, neither or both means "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFilter(pub u32);

impl PoolFilter {
    /// `..._INACTIVE`.
    pub const INACTIVE: PoolFilter = PoolFilter(1);
    /// `..._ACTIVE`.
    pub const ACTIVE: PoolFilter = PoolFilter(2);
    /// `..._DIR`.
    const DIR: u32 = 1 << 6;
    /// `..._LOGICAL`.
    const LOGICAL: u32 = 1 << 9;
    /// Every type bit (`DIR` through `ISCSI_DIRECT`).
    const TYPES: u32 = ((1 << 20) - 1) & !((1 << 6) - 1);

    fn pair(self, yes: u32, no: u32, value: bool) -> bool {
        match (self.0 & yes != 0, self.0 & no != 0) {
            (true, false) => value,
            (false, true) => !value,
            _ => true,
        }
    }

    /// Whether a pool passes the filter.
    pub fn matches(self, pool: &PoolSummary) -> bool {
        let types = self.0 & Self::TYPES;
        let type_ok = types == 0
            || match pool.kind {
                PoolType::Dir => types & Self::DIR != 0,
                PoolType::Logical => types & Self::LOGICAL != 0,
            };
        type_ok
            && self.pair(2, 1, pool.active)
            && self.pair(4, 8, pool.persistent)
            && self.pair(16, 32, pool.autostart)
    }
}

/// Every storage pool of the daemon.
#[derive(Debug)]
pub struct StoragePools {
    pools: RwLock<BTreeMap<String, PoolObject>>,
    store: PoolStore,
    /// Serialises changes to volumes and pool directories, so that two calls never race on
    /// one file name.
    changes: Mutex<()>,
    qemu_img: QemuImg,
    lvm: Lvm,
    /// Volumes being uploaded or downloaded.
    transfers: transfer::Transfers,
}

/// What [`StoragePools::load`] found.
#[derive(Debug, Default)]
pub struct StorageLoadReport {
    /// Pools loaded.
    pub loaded: usize,
    /// Files skipped, and why.
    pub skipped: Vec<SkippedFile>,
    /// Pools that could not be started, and why.
    pub not_started: Vec<(String, String)>,
}

impl StoragePools {
    /// Pools stored under `state_dir` (active markers under `run_dir`); nothing is read until
    /// [`StoragePools::load`].
    pub fn new(state_dir: &Path, run_dir: &Path) -> Self {
        Self {
            pools: RwLock::new(BTreeMap::new()),
            store: PoolStore::new(state_dir, run_dir),
            changes: Mutex::new(()),
            qemu_img: QemuImg::default(),
            lvm: Lvm::default(),
            transfers: transfer::Transfers::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, PoolObject>> {
        self.pools.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, PoolObject>> {
        self.pools.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the stored pools, creates the default pool at `image_dir` on first start, and
    /// starts the pools that were active or are marked autostart.
    pub fn load(&self, image_dir: Option<&Path>) -> Result<StorageLoadReport, StorageError> {
        self.store.prepare()?;
        let (stored, skipped) = self.store.load_all()?;
        let mut report = StorageLoadReport {
            skipped,
            ..StorageLoadReport::default()
        };
        let mut to_start = Vec::new();
        {
            let mut pools = self.write();
            for entry in stored {
                let def = match parse_pool(&entry.xml) {
                    Ok(def) => def,
                    Err(err) => {
                        report.skipped.push(SkippedFile {
                            path: entry.path,
                            reason: format!("invalid pool XML: {err}"),
                        });
                        continue;
                    }
                };
                let Some(uuid) = def.uuid else {
                    report.skipped.push(SkippedFile {
                        path: entry.path,
                        reason: "pool XML has no uuid".into(),
                    });
                    continue;
                };
                if entry.active || entry.autostart {
                    to_start.push(def.name.clone());
                }
                pools.insert(
                    def.name.clone(),
                    PoolObject {
                        def,
                        uuid,
                        active: false,
                        persistent: true,
                        autostart: entry.autostart,
                    },
                );
                report.loaded += 1;
            }
        }
        if let Some(dir) = image_dir {
            if !self.store.default_created() {
                // A daemon without its image directory still serves; the next start retries.
                match self.create_default(dir) {
                    Ok(()) => to_start.push(DEFAULT_POOL.to_owned()),
                    Err(err) => report
                        .not_started
                        .push((DEFAULT_POOL.to_owned(), crate::errors::chain(&err))),
                }
            }
        }
        for name in to_start {
            if let Err(err) = self.start(&name, 0) {
                // A missing directory leaves the pool defined and inactive, as libvirt does.
                let _ = self.store.set_active(&name, false);
                report.not_started.push((name, crate::errors::chain(&err)));
            }
        }
        Ok(report)
    }

    /// Defines, builds and marks autostart the pool `default` at `dir` (mode 0711, root's).
    fn create_default(&self, dir: &Path) -> Result<(), StorageError> {
        let exists = self.read().contains_key(DEFAULT_POOL);
        if !exists {
            let def = PoolDef {
                kind: PoolType::Dir,
                name: DEFAULT_POOL.into(),
                uuid: None,
                source: PoolSource::default(),
                target: dir.to_string_lossy().into_owned(),
                permissions: Some(domxml::storage::Permissions {
                    mode: Some(POOL_DIR_MODE),
                    owner: Some(0),
                    group: Some(0),
                }),
            };
            self.define(def)?;
            self.build(DEFAULT_POOL, 0)?;
            self.set_autostart(DEFAULT_POOL, true)?;
        }
        self.store.mark_default_created()?;
        Ok(())
    }

    fn get(&self, name: &str) -> Result<PoolObject, StorageError> {
        self.read()
            .get(name)
            .cloned()
            .ok_or_else(|| StorageError::NoPool {
                what: format!("name '{name}'"),
            })
    }

    /// The pool named `name`.
    pub fn by_name(&self, name: &str) -> Result<PoolSummary, StorageError> {
        self.get(name).map(|p| PoolSummary::from(&p))
    }

    /// The pool with `uuid`.
    pub fn by_uuid(&self, uuid: &Uuid) -> Result<PoolSummary, StorageError> {
        self.read()
            .values()
            .find(|p| p.uuid == *uuid)
            .map(PoolSummary::from)
            .ok_or_else(|| StorageError::NoPool {
                what: format!("uuid '{uuid}'"),
            })
    }

    /// The pool whose target directory is `path`.
    pub fn by_target_path(&self, path: &str) -> Result<PoolSummary, StorageError> {
        let wanted = canonical_or_same(Path::new(path));
        self.read()
            .values()
            .find(|p| canonical_or_same(Path::new(&p.def.target)) == wanted)
            .map(PoolSummary::from)
            .ok_or_else(|| StorageError::NoPool {
                what: format!("path '{path}'"),
            })
    }

    /// Every pool passing `filter`, by name.
    pub fn list(&self, filter: PoolFilter) -> Vec<PoolSummary> {
        self.read()
            .values()
            .map(PoolSummary::from)
            .filter(|p| filter.matches(p))
            .collect()
    }

    /// The UUID a definition gets, and refuses clashes with other pools (name, UUID, target).
    fn check_define(&self, def: &PoolDef) -> Result<(Uuid, Option<PoolObject>), StorageError> {
        if def.kind == PoolType::Logical {
            logical::check_logical_def(def)?;
        }
        if def.name.starts_with('.') {
            return Err(StorageError::InvalidName(format!(
                "pool name '{}' starts with '.'",
                def.name
            )));
        }
        let pools = self.read();
        let existing = pools.get(&def.name).cloned();
        if let (Some(old), Some(uuid)) = (&existing, def.uuid) {
            if old.uuid != uuid {
                return Err(StorageError::Conflict(format!(
                    "pool '{}' already exists with uuid {}",
                    def.name, old.uuid
                )));
            }
        }
        for other in pools.values().filter(|p| p.def.name != def.name) {
            if Some(other.uuid) == def.uuid {
                return Err(StorageError::Conflict(format!(
                    "pool '{}' already exists with uuid {}",
                    other.def.name, other.uuid
                )));
            }
            if other.def.target == def.target {
                return Err(StorageError::Conflict(format!(
                    "storage pool '{}' is already using target path {}",
                    other.def.name, def.target
                )));
            }
        }
        let uuid = existing
            .as_ref()
            .map(|p| p.uuid)
            .or(def.uuid)
            .unwrap_or_else(Uuid::new_v4);
        Ok((uuid, existing))
    }

    /// Defines (or redefines) a persistent pool.
    pub fn define(&self, mut def: PoolDef) -> Result<PoolSummary, StorageError> {
        let _changes = self.lock_changes();
        let (uuid, existing) = self.check_define(&def)?;
        if let Some(old) = &existing {
            if old.active && old.def.target != def.target {
                return Err(StorageError::InvalidState(format!(
                    "storage pool '{}' is active: stop it before changing its target",
                    def.name
                )));
            }
        }
        def.uuid = Some(uuid);
        self.store
            .save(&def.name, &format_pool(&def, &uuid, &PoolStatus::default()))?;
        let mut pools = self.write();
        let object = pools.entry(def.name.clone()).or_insert(PoolObject {
            def: def.clone(),
            uuid,
            active: false,
            persistent: true,
            autostart: false,
        });
        object.def = def;
        object.persistent = true;
        Ok(PoolSummary::from(&*object))
    }

    /// Creates and starts a transient pool (`virStoragePoolCreateXML`).
    pub fn create_transient(
        &self,
        mut def: PoolDef,
        flags: u32,
    ) -> Result<PoolSummary, StorageError> {
        check_flags(
            flags,
            CREATE_WITH_BUILD | CREATE_OVERWRITE_BITS,
            "virStoragePoolCreateXML",
        )?;
        let _changes = self.lock_changes();
        let (uuid, existing) = self.check_define(&def)?;
        if existing.is_some() {
            return Err(StorageError::Conflict(format!(
                "pool '{}' already exists",
                def.name
            )));
        }
        def.uuid = Some(uuid);
        if flags & CREATE_WITH_BUILD != 0 {
            self.build_any(&def, create_overwrite(flags)?)?;
        }
        self.activate(&def)?;
        let object = PoolObject {
            def,
            uuid,
            active: true,
            persistent: false,
            autostart: false,
        };
        let summary = PoolSummary::from(&object);
        self.write().insert(summary.name.clone(), object);
        Ok(summary)
    }

    /// Removes a persistent pool's definition; it must be inactive.
    pub fn undefine(&self, name: &str) -> Result<(), StorageError> {
        let _changes = self.lock_changes();
        let pool = self.get(name)?;
        if pool.active {
            return Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is still active"
            )));
        }
        self.store.remove(name)?;
        self.write().remove(name);
        Ok(())
    }

    /// Makes the pool's directory (and its parents) with the pool's permissions, or its
    /// volume group on its devices.
    pub fn build(&self, name: &str, flags: u32) -> Result<(), StorageError> {
        check_flags(flags, BUILD_OVERWRITE_BITS, "virStoragePoolBuild")?;
        let overwrite = Overwrite::from_build_flags(flags)?;
        let _changes = self.lock_changes();
        let pool = self.get(name)?;
        if pool.active {
            return Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is already active"
            )));
        }
        self.build_any(&pool.def, overwrite)
    }

    fn build_any(&self, def: &PoolDef, overwrite: Overwrite) -> Result<(), StorageError> {
        match def.kind {
            PoolType::Dir => build_dir(def),
            PoolType::Logical => self.build_logical(def, overwrite),
        }
    }

    /// What starting a pool takes: its directory must exist, or its volume group is activated.
    fn activate(&self, def: &PoolDef) -> Result<(), StorageError> {
        match def.kind {
            PoolType::Dir => check_dir(def),
            PoolType::Logical => self.start_logical(def),
        }
    }

    /// Live sizes of an active pool.
    fn status(&self, def: &PoolDef) -> Result<PoolStatus, StorageError> {
        match def.kind {
            PoolType::Dir => fs_status(Path::new(&def.target)),
            PoolType::Logical => self.logical_status(def),
        }
    }

    /// Starts a pool: its directory must exist.
    pub fn start(&self, name: &str, flags: u32) -> Result<(), StorageError> {
        check_flags(
            flags,
            CREATE_WITH_BUILD | CREATE_OVERWRITE_BITS,
            "virStoragePoolCreate",
        )?;
        let _changes = self.lock_changes();
        let pool = self.get(name)?;
        if pool.active {
            return Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is already active"
            )));
        }
        if flags & CREATE_WITH_BUILD != 0 {
            self.build_any(&pool.def, create_overwrite(flags)?)?;
        }
        self.activate(&pool.def)?;
        if pool.persistent {
            self.store.set_active(name, true)?;
        }
        if let Some(p) = self.write().get_mut(name) {
            p.active = true;
        }
        Ok(())
    }

    /// Stops a pool; a transient pool is forgotten.
    pub fn destroy(&self, name: &str) -> Result<(), StorageError> {
        let _changes = self.lock_changes();
        let pool = self.get(name)?;
        if !pool.active {
            return Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is not active"
            )));
        }
        if pool.def.kind == PoolType::Logical {
            self.stop_logical(&pool.def)?;
        }
        if pool.persistent {
            self.store.set_active(name, false)?;
        }
        let mut pools = self.write();
        if pool.persistent {
            if let Some(p) = pools.get_mut(name) {
                p.active = false;
            }
        } else {
            pools.remove(name);
        }
        Ok(())
    }

    /// Removes an inactive pool's (empty) directory.
    pub fn delete(&self, name: &str, flags: u32) -> Result<(), StorageError> {
        check_flags(flags, 0, "virStoragePoolDelete")?;
        let _changes = self.lock_changes();
        let pool = self.get(name)?;
        if pool.active {
            return Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is still active"
            )));
        }
        match pool.def.kind {
            PoolType::Dir => {
                let dir = Path::new(&pool.def.target);
                fs::remove_dir(dir).map_err(StorageError::io("remove the pool directory", dir))
            }
            PoolType::Logical => self.delete_logical(&pool.def),
        }
    }

    /// Checks that an active pool's directory is still there (volumes are read live).
    pub fn refresh(&self, name: &str, flags: u32) -> Result<(), StorageError> {
        check_flags(flags, 0, "virStoragePoolRefresh")?;
        let pool = self.active(name)?;
        match pool.def.kind {
            PoolType::Dir => check_dir(&pool.def),
            PoolType::Logical => self.logical_status(&pool.def).map(drop),
        }
    }

    /// State and sizes, from the file system holding the directory.
    pub fn info(&self, name: &str) -> Result<PoolInfo, StorageError> {
        let pool = self.get(name)?;
        if !pool.active {
            return Ok(PoolInfo {
                state: PoolState::Inactive,
                status: PoolStatus::default(),
            });
        }
        Ok(PoolInfo {
            state: PoolState::Running,
            status: self.status(&pool.def)?,
        })
    }

    /// Pool XML; live sizes unless `XML_INACTIVE`.
    pub fn xml(&self, name: &str, flags: u32) -> Result<String, StorageError> {
        check_flags(flags, XML_INACTIVE, "virStoragePoolGetXMLDesc")?;
        let pool = self.get(name)?;
        let status = if pool.active && flags & XML_INACTIVE == 0 {
            self.status(&pool.def)?
        } else {
            PoolStatus::default()
        };
        Ok(format_pool(&pool.def, &pool.uuid, &status))
    }

    /// Sets autostart on a persistent pool.
    pub fn set_autostart(&self, name: &str, on: bool) -> Result<(), StorageError> {
        let pool = self.get(name)?;
        if !pool.persistent {
            return Err(StorageError::InvalidState(
                "cannot set autostart for transient pool".into(),
            ));
        }
        self.store.set_autostart(name, on)?;
        if let Some(p) = self.write().get_mut(name) {
            p.autostart = on;
        }
        Ok(())
    }

    /// The pool `name`, which must be active.
    fn active(&self, name: &str) -> Result<PoolObject, StorageError> {
        let pool = self.get(name)?;
        if pool.active {
            Ok(pool)
        } else {
            Err(StorageError::InvalidState(format!(
                "storage pool '{name}' is not active"
            )))
        }
    }

    /// Every active pool.
    fn active_pools(&self) -> Vec<PoolObject> {
        self.read().values().filter(|p| p.active).cloned().collect()
    }

    /// Active pools with their canonical target directories.
    fn active_targets(&self) -> Vec<(String, PathBuf)> {
        self.read()
            .values()
            .filter(|p| p.active)
            .map(|p| {
                (
                    p.def.name.clone(),
                    canonical_or_same(Path::new(&p.def.target)),
                )
            })
            .collect()
    }
}

/// The overwrite choice of `CREATE_WITH_BUILD_(NO_)OVERWRITE`.
fn create_overwrite(flags: u32) -> Result<Overwrite, StorageError> {
    let mut build = 0;
    if flags & CREATE_WITH_BUILD_OVERWRITE != 0 {
        build |= logical::BUILD_OVERWRITE;
    }
    if flags & CREATE_WITH_BUILD_NO_OVERWRITE != 0 {
        build |= logical::BUILD_NO_OVERWRITE;
    }
    Overwrite::from_build_flags(build)
}

/// `path` with symlinks resolved, or as given when it does not exist.
fn canonical_or_same(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Makes a dir pool's directory with its permissions (default 0711, root's when run as root).
fn build_dir(def: &PoolDef) -> Result<(), StorageError> {
    let dir = Path::new(&def.target);
    let perms = def.permissions.unwrap_or_default();
    let mode = perms.mode.unwrap_or(POOL_DIR_MODE);
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(StorageError::io("create the parents of", dir))?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(dir).map_err(StorageError::io("inspect", dir))?;
            if !meta.is_dir() {
                return Err(StorageError::InvalidState(format!(
                    "pool target {} exists and is not a directory",
                    dir.display()
                )));
            }
        }
        Err(e) => return Err(StorageError::io("create the pool directory", dir)(e)),
    }
    apply_permissions(dir, mode, &perms)
}

/// Gives `path` `mode` and the owner and group `perms` name (left as they are when unnamed).
fn apply_permissions(path: &Path, mode: u32, perms: &Permissions) -> Result<(), StorageError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(StorageError::io("set the mode of", path))?;
    if perms.owner.is_some() || perms.group.is_some() {
        std::os::unix::fs::chown(path, perms.owner, perms.group)
            .map_err(StorageError::io("set the owner of", path))?;
    }
    Ok(())
}

/// A dir pool's target must be an existing directory.
fn check_dir(def: &PoolDef) -> Result<(), StorageError> {
    let dir = Path::new(&def.target);
    let meta = fs::metadata(dir).map_err(StorageError::io("open the pool directory", dir))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(StorageError::InvalidState(format!(
            "pool target {} is not a directory",
            dir.display()
        )))
    }
}

/// Capacity, allocation and available bytes of the file system holding `dir`.
fn fs_status(dir: &Path) -> Result<PoolStatus, StorageError> {
    let stat = rustix::fs::statvfs(dir)
        .map_err(|e| StorageError::io("query the file system of", dir)(e.into()))?;
    let frsize = stat.f_frsize;
    Ok(PoolStatus {
        capacity: stat.f_blocks.saturating_mul(frsize),
        allocation: stat
            .f_blocks
            .saturating_sub(stat.f_bfree)
            .saturating_mul(frsize),
        available: stat.f_bavail.saturating_mul(frsize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(active: bool, persistent: bool, autostart: bool) -> PoolSummary {
        PoolSummary {
            name: "p".into(),
            uuid: Uuid::nil(),
            active,
            persistent,
            autostart,
            kind: PoolType::Dir,
            target: PathBuf::from("/p"),
        }
    }

    #[test]
    fn list_filters_pair_up_like_libvirt() {
        let running = summary(true, true, false);
        assert!(PoolFilter(0).matches(&running));
        assert!(PoolFilter::ACTIVE.matches(&running));
        assert!(!PoolFilter::INACTIVE.matches(&running));
        assert!(PoolFilter(1 | 2).matches(&running));
        assert!(!PoolFilter(8).matches(&running));
        assert!(PoolFilter(32).matches(&running));
        assert!(!PoolFilter(16).matches(&running));
        assert!(PoolFilter(1 << 6).matches(&running));
        assert!(!PoolFilter(1 << 9).matches(&running));
    }

    #[test]
    fn pools_define_build_start_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let (state, run) = (dir.path().join("s"), dir.path().join("r"));
        let images = dir.path().join("images");
        let pools = StoragePools::new(&state, &run);
        let report = pools.load(Some(&images)).unwrap();
        assert!(report.not_started.is_empty(), "{:?}", report.not_started);
        let default = pools.by_name(DEFAULT_POOL).unwrap();
        assert!(default.active && default.autostart && default.persistent);
        let mode = fs::metadata(&images).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o711);

        let target = dir.path().join("other");
        let def = parse_pool(&format!(
            "<pool type='dir'><name>other</name><target><path>{}</path></target></pool>",
            target.display()
        ))
        .unwrap();
        pools.define(def.clone()).unwrap();
        pools.start("other", 0).unwrap_err();
        pools.build("other", 0).unwrap();
        pools.start("other", 0).unwrap();
        pools.undefine("other").unwrap_err();
        assert!(pools.info("other").unwrap().status.capacity > 0);
        let clash = PoolDef {
            name: "again".into(),
            ..def
        };
        pools.define(clash).unwrap_err();

        // A second daemon over the same directories keeps both pools active.
        let again = StoragePools::new(&state, &run);
        let report = again.load(Some(&images)).unwrap();
        assert_eq!(report.loaded, 2);
        assert!(again.by_name("other").unwrap().active);
        again.destroy("other").unwrap();
        again.undefine("other").unwrap();
        again.destroy(DEFAULT_POOL).unwrap();
        again.undefine(DEFAULT_POOL).unwrap();
        let third = StoragePools::new(&state, &run);
        third.load(Some(&images)).unwrap();
        assert!(
            third.list(PoolFilter(0)).is_empty(),
            "default stays undefined"
        );
    }
}
