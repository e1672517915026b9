//! Volume data in and out (`virStorageVolUpload`, `virStorageVolDownload`): a byte range of an
//! opened file or block device, written or read in pieces of at most 256 KiB.
//!
//! Opening resolves the volume as every other call does (active pool, names that cannot
//! escape it, symlinks only inside it), then opens the resolved file with `O_NOFOLLOW`, so a
//! file swapped for a symlink meanwhile is refused. The data path only needs the opened file
//! and its size, so it serves a pool's regular files and block devices (logical volumes)
//! alike.
//!
//! Ranges (`offset`, `length`; length 0 means "to the end"): the end is the volume's size (the
//! larger of its capacity and its file length, or the device size). An offset or range beyond
//! it is refused before the stream opens, and an upload that sends more than its range is an
//! error after writing what fits: libvirt's fd streams fail the same way ("cannot write to
//! stream: No space left on device"), while Moat also bounds a length-0 upload by the size,
//! so an upload never grows a volume.
//!
//! Holes: an upload's hole and an all-zero data packet become a punched hole
//! (`FALLOC_FL_PUNCH_HOLE`) where the file system supports it, zeros written otherwise, so the
//! volume reads back exactly what was sent and stays sparse. A sparse download finds data and
//! holes with `SEEK_DATA`/`SEEK_HOLE`; a device without them is all data.
//!
//! Data already written stays when a transfer ends early (an abort or a client that vanished),
//! as with libvirt. While a volume is uploaded it cannot be uploaded or downloaded by another
//! call ("volume 'x' is still in use", libvirt's check); downloads may run side by side. A
//! volume being transferred cannot be deleted, wiped or resized.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::fs::{fallocate, seek, FallocateFlags, SeekFrom};

use super::volume::VolumeRef;
use super::{check_flags, StorageError, StoragePools};

/// `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` (and `_DOWNLOAD_`, the same bit).
pub const SPARSE_STREAM: u32 = 1;
/// Zeros written per step where a hole cannot be punched.
const ZERO_CHUNK: usize = 256 * 1024;

/// The bytes a transfer covers: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// The range of `offset`/`length` (0: to the end) in a volume of `size` bytes, refused when
    /// it reaches beyond the volume.
    pub fn within(offset: u64, length: u64, size: u64, name: &str) -> Result<Self, StorageError> {
        if offset > size {
            return Err(StorageError::InvalidArg(format!(
                "offset {offset} is beyond the end of volume '{name}' ({size} bytes)"
            )));
        }
        let end = if length == 0 {
            size
        } else {
            offset
                .checked_add(length)
                .filter(|&end| end <= size)
                .ok_or_else(|| {
                    StorageError::InvalidArg(format!(
                        "range of {length} bytes at offset {offset} is beyond the end of volume \
                     '{name}' ({size} bytes)"
                    ))
                })?
        };
        Ok(Self { start: offset, end })
    }
}

/// How a volume is being transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Upload,
    Downloads(usize),
}

/// Volumes with a transfer under way, by resolved path.
#[derive(Debug, Default)]
pub struct Transfers {
    busy: Arc<Mutex<HashMap<PathBuf, Use>>>,
}

/// Marks a volume busy until dropped.
#[derive(Debug)]
pub struct InUse {
    busy: Arc<Mutex<HashMap<PathBuf, Use>>>,
    path: PathBuf,
}

impl Transfers {
    /// Refuses when `path` is being transferred.
    fn ensure_idle(&self, path: &Path, name: &str) -> Result<(), StorageError> {
        let busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if busy.contains_key(path) {
            return Err(StorageError::InvalidState(format!(
                "volume '{name}' is still in use."
            )));
        }
        Ok(())
    }

    fn claim(&self, path: &Path, upload: bool, name: &str) -> Result<InUse, StorageError> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let next = match (busy.get(path), upload) {
            (None, true) => Use::Upload,
            (None, false) => Use::Downloads(1),
            (Some(Use::Downloads(n)), false) => Use::Downloads(n + 1),
            (Some(_), _) => {
                return Err(StorageError::InvalidState(format!(
                    "volume '{name}' is still in use."
                )))
            }
        };
        busy.insert(path.to_owned(), next);
        Ok(InUse {
            busy: Arc::clone(&self.busy),
            path: path.to_owned(),
        })
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        match busy.get(&self.path) {
            Some(Use::Downloads(n)) if *n > 1 => {
                let left = Use::Downloads(n - 1);
                busy.insert(self.path.clone(), left);
            }
            _ => {
                busy.remove(&self.path);
            }
        }
    }
}

/// An opened volume and what a transfer of it needs to know.
#[derive(Debug)]
struct Opened {
    file: File,
    path: PathBuf,
    regular: bool,
    range: Range,
    /// Held for the transfer's life.
    _in_use: InUse,
}

/// Writes an upload into a volume.
#[derive(Debug)]
pub struct VolumeWriter {
    opened: Opened,
    pos: u64,
    /// Bytes written or skipped so far.
    pub received: u64,
}

/// Reads a download from a volume.
#[derive(Debug)]
pub struct VolumeReader {
    opened: Opened,
    pos: u64,
    sparse: bool,
    /// Bytes of data after `pos` before the next hole (sparse only).
    data_left: u64,
}

/// One step of a [`VolumeReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes read.
    Data(Vec<u8>),
    /// A hole of this many bytes.
    Hole(u64),
    /// The end of the range.
    End,
}

impl StoragePools {
    /// Refuses a change (delete, wipe, resize) of a volume being uploaded or downloaded, as
    /// libvirt does; call it holding the changes lock.
    pub(super) fn ensure_no_transfer(&self, vol: &VolumeRef) -> Result<(), StorageError> {
        match std::fs::canonicalize(&vol.path) {
            Ok(path) => self.transfers.ensure_idle(&path, &vol.name),
            Err(_) => Ok(()),
        }
    }

    fn open_transfer(
        &self,
        vol: &VolumeRef,
        offset: u64,
        length: u64,
        upload: bool,
    ) -> Result<Opened, StorageError> {
        // Under the changes lock, so that no delete, wipe or resize slips between the checks
        // and the claim.
        let _changes = self.lock_changes();
        let vol = self.volume(&vol.pool, &vol.name)?;
        // A symlink volume resolves inside its pool (checked by `volume`); open what it names,
        // and never a symlink put there since.
        let path = std::fs::canonicalize(&vol.path)
            .map_err(StorageError::io("resolve the volume", &vol.path))?;
        let file = OpenOptions::new()
            .read(!upload)
            .write(upload)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(StorageError::io("open the volume", &path))?;
        let meta = file
            .metadata()
            .map_err(StorageError::io("inspect", &path))?;
        let regular = meta.file_type().is_file();
        if !regular && !meta.file_type().is_block_device() {
            return Err(StorageError::InvalidState(format!(
                "volume '{}' is neither a file nor a block device",
                vol.name
            )));
        }
        let end = seek(&file, SeekFrom::End(0))
            .map_err(|e| StorageError::io("find the size of", &path)(e.into()))?;
        let capacity = if regular {
            self.volume_facts(&vol)?.capacity
        } else {
            0
        };
        let range = Range::within(offset, length, end.max(capacity), &vol.name)?;
        let in_use = self.transfers.claim(&path, upload, &vol.name)?;
        Ok(Opened {
            file,
            path,
            regular,
            range,
            _in_use: in_use,
        })
    }

    /// Opens a volume for `virStorageVolUpload`.
    pub fn open_upload(
        &self,
        vol: &VolumeRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<VolumeWriter, StorageError> {
        check_flags(flags, SPARSE_STREAM, "virStorageVolUpload")?;
        let opened = self.open_transfer(vol, offset, length, true)?;
        Ok(VolumeWriter {
            pos: opened.range.start,
            opened,
            received: 0,
        })
    }

    /// Opens a volume for `virStorageVolDownload`.
    pub fn open_download(
        &self,
        vol: &VolumeRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<VolumeReader, StorageError> {
        check_flags(flags, SPARSE_STREAM, "virStorageVolDownload")?;
        let opened = self.open_transfer(vol, offset, length, false)?;
        Ok(VolumeReader {
            pos: opened.range.start,
            opened,
            sparse: flags & SPARSE_STREAM != 0,
            data_left: 0,
        })
    }
}

impl VolumeWriter {
    /// The volume's resolved path.
    pub fn path(&self) -> &Path {
        &self.opened.path
    }

    /// The client sent more than the range holds: libvirt's fd stream answers ENOSPC.
    fn too_long(&self) -> StorageError {
        StorageError::Io {
            step: "write to stream past the end of the range to upload into",
            path: self.opened.path.clone(),
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        }
    }

    /// Writes `data` at the current position.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let fits = self
            .opened
            .range
            .end
            .saturating_sub(self.pos)
            .min(data.len() as u64);
        let (now, rest) = data.split_at(usize::try_from(fits).unwrap_or(data.len()));
        if now.iter().all(|&b| b == 0) && self.opened.regular {
            self.zero(now.len() as u64)?;
        } else {
            self.opened
                .file
                .write_all_at(now, self.pos)
                .map_err(StorageError::io("write to", &self.opened.path))?;
            self.advance(now.len() as u64);
        }
        if rest.is_empty() {
            Ok(())
        } else {
            Err(self.too_long())
        }
    }

    /// Skips a hole of `len` bytes: the range reads as zeros afterwards.
    pub fn hole(&mut self, len: u64) -> Result<(), StorageError> {
        if len > self.opened.range.end.saturating_sub(self.pos) {
            return Err(self.too_long());
        }
        self.zero(len)
    }

    fn advance(&mut self, len: u64) {
        self.pos += len;
        self.received += len;
    }

    /// Makes `len` bytes at the position read as zeros: a punched hole, else written zeros.
    fn zero(&mut self, len: u64) -> Result<(), StorageError> {
        if len == 0 {
            return Ok(());
        }
        let file = &self.opened.file;
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        if fallocate(file, flags, self.pos, len).is_err() {
            let zeros = vec![0u8; ZERO_CHUNK];
            let mut at = self.pos;
            let end = self.pos + len;
            while at < end {
                let n = usize::try_from(end - at)
                    .unwrap_or(ZERO_CHUNK)
                    .min(ZERO_CHUNK);
                file.write_all_at(&zeros[..n], at)
                    .map_err(StorageError::io("write zeros to", &self.opened.path))?;
                at += n as u64;
            }
        }
        self.advance(len);
        Ok(())
    }

    /// The upload is complete: a file is extended over a trailing hole, and the data is made
    /// durable.
    pub fn finish(&mut self) -> Result<(), StorageError> {
        let file = &self.opened.file;
        let path = &self.opened.path;
        if self.opened.regular {
            let len = file
                .metadata()
                .map_err(StorageError::io("inspect", path))?
                .len();
            if self.pos > len {
                file.set_len(self.pos)
                    .map_err(StorageError::io("extend", path))?;
            }
        }
        file.sync_all().map_err(StorageError::io("flush", path))
    }
}

impl VolumeReader {
    /// The volume's resolved path.
    pub fn path(&self) -> &Path {
        &self.opened.path
    }

    /// The next piece of the range, at most `max` bytes of data.
    pub fn next(&mut self, max: usize) -> Result<Chunk, StorageError> {
        let end = self.opened.range.end;
        if self.pos >= end {
            return Ok(Chunk::End);
        }
        if self.sparse && self.data_left == 0 {
            let (data_at, hole_at) = self.extents()?;
            if data_at > self.pos {
                let hole = data_at.min(end) - self.pos;
                self.pos += hole;
                return Ok(Chunk::Hole(hole));
            }
            self.data_left = hole_at.min(end) - self.pos;
        }
        let mut want = (end - self.pos).min(max as u64);
        if self.sparse {
            want = want.min(self.data_left);
        }
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(max)];
        let mut filled = 0;
        while filled < buf.len() {
            let n = self
                .opened
                .file
                .read_at(&mut buf[filled..], self.pos + filled as u64)
                .map_err(StorageError::io("read", &self.opened.path))?;
            if n == 0 {
                // The file shrank under us: what is left reads as zeros, as the range
                // promised that many bytes.
                break;
            }
            filled += n;
        }
        self.pos += buf.len() as u64;
        if self.sparse {
            self.data_left -= buf.len() as u64;
        }
        Ok(Chunk::Data(buf))
    }

    /// Where the data at or after the position starts, and where that data ends.
    fn extents(&self) -> Result<(u64, u64), StorageError> {
        let end = self.opened.range.end;
        let file = &self.opened.file;
        let data_at = match seek(file, SeekFrom::Data(self.pos)) {
            Ok(at) => at,
            // ENXIO: no data after the position (a hole up to the end of the file).
            Err(rustix::io::Errno::NXIO) => return Ok((end, end)),
            // No SEEK_DATA here (a device, an old file system): all data.
            Err(_) => return Ok((self.pos, end)),
        };
        let hole_at = seek(file, SeekFrom::Hole(data_at)).unwrap_or(end);
        Ok((data_at, hole_at.max(data_at + 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_stay_inside_the_volume() {
        assert_eq!(
            Range::within(0, 0, 100, "v").unwrap(),
            Range { start: 0, end: 100 }
        );
        assert_eq!(
            Range::within(10, 90, 100, "v").unwrap(),
            Range {
                start: 10,
                end: 100
            }
        );
        assert_eq!(
            Range::within(100, 0, 100, "v").unwrap(),
            Range {
                start: 100,
                end: 100
            }
        );
        Range::within(101, 0, 100, "v").unwrap_err();
        Range::within(10, 91, 100, "v").unwrap_err();
        Range::within(u64::MAX, u64::MAX, 100, "v").unwrap_err();
        Range::within(1, u64::MAX, u64::MAX, "v").unwrap_err();
    }

    #[test]
    fn uploads_exclude_everything_downloads_share() {
        let transfers = Transfers::default();
        let path = Path::new("/pool/v");
        let first = transfers.claim(path, false, "v").unwrap();
        let second = transfers.claim(path, false, "v").unwrap();
        transfers.claim(path, true, "v").unwrap_err();
        drop(first);
        transfers.claim(path, true, "v").unwrap_err();
        drop(second);
        let upload = transfers.claim(path, true, "v").unwrap();
        transfers.claim(path, false, "v").unwrap_err();
        transfers.claim(path, true, "v").unwrap_err();
        drop(upload);
        transfers.claim(path, true, "v").unwrap();
    }
}
