//! Guest disks that name a pool volume (`<disk type='volume'><source pool=… volume=…/>`).
//!
//! Before a guest starts, each such disk becomes the disk it stands for: a file disk with the
//! volume's path, or a block disk with `/dev/VG/LV` for a `logical` pool's volume, and its
//! format as the driver type unless the definition gives one. The stored
//! definition keeps the volume form. A qcow2 volume's backing chain, read from the image
//! headers (at most [`MAX_CHAIN`] layers), becomes the disk's `<backingStore>` when the
//! definition declares none, because QEMU is only given the layers the definition lists. The
//! usual disk policy then applies to every file of the chain
//! ([`crate::driver::confine::check_disks`]): a pool outside `image_dirs` gives no guest its
//! files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use domxml::model::{BackingStore, DiskSource, DiskType};
use domxml::storage::{VolumeFormat, VolumeType};
use domxml::Domain;

use super::image::{probe, ImageInfo, PROBE_LEN};
use super::{StorageError, StoragePools};

/// Longest backing chain followed for a volume disk.
pub const MAX_CHAIN: usize = 16;

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
            let (path, format, kind) = self.disk_file(&pool, &volume)?;
            source.path = Some(path.to_string_lossy().into_owned());
            source.pool = None;
            source.volume = None;
            disk.kind = match kind {
                VolumeType::File => DiskType::File,
                VolumeType::Block => DiskType::Block,
            };
            let driver = disk.driver.get_or_insert_with(Default::default);
            if driver.format.is_none() {
                driver.format = Some(format.as_str().to_owned());
            }
            if disk.backing_store.is_none() && format == VolumeFormat::Qcow2 {
                disk.backing_store = backing_chain(&path)?.map(|layer| *layer);
            }
        }
        Ok(out)
    }
}

fn read_image(path: &Path) -> Result<ImageInfo, StorageError> {
    let mut file = File::open(path).map_err(StorageError::io("open", path))?;
    let len = file
        .metadata()
        .map_err(StorageError::io("inspect", path))?
        .len();
    let mut head = Vec::with_capacity(PROBE_LEN);
    (&mut file)
        .take(PROBE_LEN as u64)
        .read_to_end(&mut head)
        .map_err(StorageError::io("read the header of", path))?;
    Ok(probe(&head, len))
}

/// The backing layers under the image at `top`, as `<backingStore>` elements.
fn backing_chain(top: &Path) -> Result<Option<Box<BackingStore>>, StorageError> {
    let mut layers: Vec<(PathBuf, VolumeFormat)> = Vec::new();
    let mut current = top.to_owned();
    while let Some(name) = read_image(&current)?.backing {
        if layers.len() == MAX_CHAIN {
            return Err(StorageError::InvalidArg(format!(
                "the backing chain of {} is longer than {MAX_CHAIN} layers",
                top.display()
            )));
        }
        // A relative backing name is relative to the image naming it.
        let next = match current.parent() {
            Some(dir) => dir.join(&name),
            None => PathBuf::from(&name),
        };
        let format = read_image(&next)?.format;
        layers.push((next.clone(), format));
        current = next;
    }
    Ok(layers
        .into_iter()
        .rev()
        .fold(None, |below, (path, format)| {
            Some(Box::new(BackingStore {
                kind: DiskType::File,
                format: Some(format.as_str().to_owned()),
                source: DiskSource {
                    path: Some(path.to_string_lossy().into_owned()),
                    ..DiskSource::default()
                },
                backing_store: below,
                extra: Default::default(),
            }))
        }))
}
