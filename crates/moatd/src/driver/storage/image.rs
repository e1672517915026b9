//! What an image file is, from its first bytes, and the `qemu-img` runs that make and change
//! images.
//!
//! [`probe`] reads a qcow2 header (big-endian): magic `QFI\xfb` at 0, backing file name offset
//! (u64) at 8 and length (u32) at 16, virtual size (u64) at 24. Anything else is raw, whose
//! capacity is the file length. It never trusts the backing name to lie inside the buffer.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use domxml::storage::VolumeFormat;

/// Bytes of an image read for [`probe`]: a qcow2 backing name lies in the first cluster.
pub const PROBE_LEN: usize = 64 * 1024;

const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";
/// qcow2 limits the backing file name to 1023 bytes.
const BACKING_NAME_MAX: u64 = 1023;

/// What an image's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format.
    pub format: VolumeFormat,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// The backing file name, for a qcow2 overlay.
    pub backing: Option<String>,
}

/// The format, size and backing file of an image whose first bytes are `head` and whose length
/// is `file_len`.
pub fn probe(head: &[u8], file_len: u64) -> ImageInfo {
    let raw = ImageInfo {
        format: VolumeFormat::Raw,
        capacity: file_len,
        backing: None,
    };
    if head.len() < 32 || &head[..4] != QCOW2_MAGIC {
        return raw;
    }
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&head[at..at + 8]);
        u64::from_be_bytes(bytes)
    };
    let offset = u64_at(8);
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&head[16..20]);
    let len = u64::from(u32::from_be_bytes(len_bytes));
    let backing = (offset != 0 && len != 0 && len <= BACKING_NAME_MAX)
        .then(|| {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            let name = head.get(start..end)?;
            String::from_utf8(name.to_vec()).ok()
        })
        .flatten();
    ImageInfo {
        format: VolumeFormat::Qcow2,
        capacity: u64_at(24),
        backing,
    }
}

/// Why `qemu-img` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QemuImgError {
    /// It could not be run.
    #[error("cannot run {program} to {step} {path}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// What it was to do.
        step: &'static str,
        /// The image.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("qemu-img could not {step} {path}: {stderr}")]
    Failed {
        /// What it was to do.
        step: &'static str,
        /// The image.
        path: PathBuf,
        /// Its error output, trimmed.
        stderr: String,
    },
}

/// The `qemu-img` program.
#[derive(Debug, Clone)]
pub struct QemuImg {
    program: PathBuf,
}

impl Default for QemuImg {
    fn default() -> Self {
        Self {
            program: PathBuf::from("qemu-img"),
        }
    }
}

impl QemuImg {
    fn run(&self, step: &'static str, path: &Path, args: &[&OsStr]) -> Result<(), QemuImgError> {
        let output = Command::new(&self.program)
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|source| QemuImgError::Spawn {
                program: self.program.clone(),
                step,
                path: path.to_owned(),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        stderr.truncate(1024);
        Err(QemuImgError::Failed {
            step,
            path: path.to_owned(),
            stderr,
        })
    }

    /// `qemu-img create -f qcow2 [-b BACKING -F FMT] PATH SIZE`.
    pub fn create_qcow2(
        &self,
        path: &Path,
        capacity: u64,
        backing: Option<(&Path, VolumeFormat)>,
    ) -> Result<(), QemuImgError> {
        let size = capacity.to_string();
        let mut args: Vec<&OsStr> = vec!["create".as_ref(), "-q".as_ref(), "-f".as_ref()];
        args.push("qcow2".as_ref());
        if let Some((file, format)) = backing {
            args.extend(["-b".as_ref(), file.as_os_str(), "-F".as_ref()]);
            args.push(format.as_str().as_ref());
        }
        args.extend([path.as_os_str(), size.as_ref()]);
        self.run("create", path, &args)
    }

    /// `qemu-img convert -f FROM -O TO SRC DST`.
    pub fn convert(
        &self,
        src: (&Path, VolumeFormat),
        dst: (&Path, VolumeFormat),
    ) -> Result<(), QemuImgError> {
        self.convert_with(src, dst, false)
    }

    /// `qemu-img convert -n …`: into an existing image or device (a logical volume), which
    /// qemu-img then neither creates nor truncates.
    pub fn convert_into_existing(
        &self,
        src: (&Path, VolumeFormat),
        dst: (&Path, VolumeFormat),
    ) -> Result<(), QemuImgError> {
        self.convert_with(src, dst, true)
    }

    fn convert_with(
        &self,
        src: (&Path, VolumeFormat),
        dst: (&Path, VolumeFormat),
        existing: bool,
    ) -> Result<(), QemuImgError> {
        let mut args: Vec<&OsStr> = vec!["convert".as_ref(), "-q".as_ref()];
        if existing {
            args.push("-n".as_ref());
        }
        args.extend::<[&OsStr; 6]>([
            "-f".as_ref(),
            src.1.as_str().as_ref(),
            "-O".as_ref(),
            dst.1.as_str().as_ref(),
            src.0.as_os_str(),
            dst.0.as_os_str(),
        ]);
        self.run("convert into", dst.0, &args)
    }

    /// `qemu-img resize -f qcow2 [--shrink] PATH SIZE`.
    pub fn resize_qcow2(
        &self,
        path: &Path,
        capacity: u64,
        shrink: bool,
    ) -> Result<(), QemuImgError> {
        let size = capacity.to_string();
        let mut args: Vec<&OsStr> = vec!["resize".as_ref(), "-q".as_ref(), "-f".as_ref()];
        args.push("qcow2".as_ref());
        if shrink {
            args.push("--shrink".as_ref());
        }
        args.extend([path.as_os_str(), size.as_ref()]);
        self.run("resize", path, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2_header(size: u64, backing: Option<&str>) -> Vec<u8> {
        let mut head = vec![0u8; 512];
        head[..4].copy_from_slice(QCOW2_MAGIC);
        head[4..8].copy_from_slice(&3u32.to_be_bytes());
        if let Some(name) = backing {
            head[8..16].copy_from_slice(&200u64.to_be_bytes());
            let len = u32::try_from(name.len()).unwrap();
            head[16..20].copy_from_slice(&len.to_be_bytes());
            head[200..200 + name.len()].copy_from_slice(name.as_bytes());
        }
        head[24..32].copy_from_slice(&size.to_be_bytes());
        head
    }

    #[test]
    fn qcow2_headers_give_size_and_backing() {
        let info = probe(&qcow2_header(1 << 30, Some("/p/base.img")), 196_616);
        assert_eq!(info.format, VolumeFormat::Qcow2);
        assert_eq!(info.capacity, 1 << 30);
        assert_eq!(info.backing.as_deref(), Some("/p/base.img"));
        assert_eq!(probe(&qcow2_header(5, None), 1).backing, None);
    }

    #[test]
    fn anything_else_is_raw_and_hostile_offsets_are_ignored() {
        let info = probe(b"hello", 5);
        assert_eq!((info.format, info.capacity), (VolumeFormat::Raw, 5));
        let mut head = qcow2_header(7, None);
        head[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        head[16..20].copy_from_slice(&10u32.to_be_bytes());
        assert_eq!(probe(&head, 1).backing, None);
        assert_eq!(probe(&head[..20], 1).format, VolumeFormat::Raw);
    }
}
