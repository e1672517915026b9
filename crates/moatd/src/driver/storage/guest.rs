//! Guest disks that name a pool volume (`<disk type='volume'><source pool=… volume=…/>`).
//!
//! Before a guest starts, each such disk becomes the file disk it stands for: the volume's
//! path, and its format as the driver type unless the definition gives one. The stored
//! definition keeps the volume form. The usual disk policy then applies to the file
//! ([`crate::driver::confine::check_disks`]): a pool outside `image_dirs` gives no guest its
//! files.

use domxml::model::DiskType;
use domxml::Domain;

use super::{StorageError, StoragePools};

impl StoragePools {
    /// `def` with every volume disk replaced by its file.
    pub fn with_volume_files(&self, def: &Domain) -> Result<Domain, StorageError> {
        let mut out = def.clone();
        for disk in &mut out.devices.disks {
            if disk.kind != DiskType::Volume {
                continue;
            }
            let target = disk.target.dev.clone();
            let Some(source) = disk.source.as_mut() else {
                continue;
            };
            let (Some(pool), Some(volume)) = (source.pool.clone(), source.volume.clone()) else {
                return Err(StorageError::InvalidArg(format!(
                    "disk {target} names no pool and volume"
                )));
            };
            let (path, format) = self.disk_file(&pool, &volume)?;
            source.path = Some(path.to_string_lossy().into_owned());
            source.pool = None;
            source.volume = None;
            disk.kind = DiskType::File;
            let driver = disk.driver.get_or_insert_with(Default::default);
            if driver.format.is_none() {
                driver.format = Some(format.as_str().to_owned());
            }
        }
        Ok(out)
    }
}
