//! The `selinux` model (sVirt): MCS-labelled processes and images.
//!
//! Label generation is [`seclabel::svirt`]'s; this module maps a domain's `<seclabel>` onto it
//! and decides, per resource, which file label a guest's resources get (the table of libvirt's
//! `SetAllLabel` for the resources Moat's domain model has):
//!
//! | resource | label | remembered and restored |
//! |---|---|---|
//! | writable, non-shared top image; nvram | the guest's image label | yes |
//! | `<shareable/>` image | `svirt_image_t:s0` (every guest may write) | no |
//! | `<readonly/>` image, backing layers | `virt_content_t:s0` (every guest may read) | no |
//! | kernel, initrd, dtb | `virt_content_t:s0` | yes |
//! | chardev file/dev/pipe/unix, chardev log | the device's `<label>` or the image label | yes |
//! | loader; directory disks | untouched (directories with a warning) | – |
//!
//! A per-device `<seclabel model='selinux' relabel='no'/>` leaves the resource (and the backing
//! layers of its disk) alone; a per-device `<label>` replaces the label for it and its layers.
//! File labels are the `security.selinux` xattr, written as `setfilecon` does (with its NUL).

use std::io;
use std::path::Path;

use domxml::model::{Seclabel, SeclabelType};
use seclabel::svirt::{LabelGenerator, LabelKind, LabelRequest, VirtType};

use crate::relabel::Step;
use crate::resources::{Access, Layer, Resource, ResourceKind};

/// The model name.
pub const MODEL: &str = "selinux";

/// The xattr holding a file's SELinux label.
pub const XATTR: &str = "security.selinux";

/// The SELinux label of `path` (`getfilecon`), `None` if it has none.
pub fn file_label(path: &Path) -> io::Result<Option<String>> {
    Ok(xattr::get_deref(path, XATTR)?.map(|bytes| {
        let text = String::from_utf8_lossy(&bytes);
        text.trim_end_matches('\0').to_owned()
    }))
}

/// Sets the SELinux label of `path` (`setfilecon`); an empty label removes it.
pub fn set_file_label(path: &Path, label: &str) -> io::Result<()> {
    if label.is_empty() {
        return match xattr::remove_deref(path, XATTR) {
            Err(err) if err.raw_os_error() == Some(libc::ENODATA) => Ok(()),
            other => other,
        };
    }
    let mut value = label.as_bytes().to_vec();
    value.push(0);
    xattr::set_deref(path, XATTR, &value)
}

/// The generator's request for a domain-level seclabel.
pub(crate) fn request(label: &Seclabel, virt: VirtType) -> LabelRequest<'_> {
    LabelRequest {
        kind: match label.kind {
            SeclabelType::Dynamic => LabelKind::Dynamic,
            SeclabelType::Static => LabelKind::Static,
            SeclabelType::None => LabelKind::None,
        },
        model: label.model.as_deref(),
        label: label.label.as_deref(),
        imagelabel: label.imagelabel.as_deref(),
        baselabel: label.baselabel.as_deref(),
        virt_type: virt,
    }
}

/// What the `selinux` model does to `res` for a guest with `label`.
pub(crate) fn plan(res: &Resource, label: &Seclabel, generator: &LabelGenerator) -> Step {
    if !label.relabel {
        return Step::Skip;
    }
    let Some(image) = label.imagelabel.as_deref() else {
        return Step::Skip;
    };
    let device = res.override_for(MODEL);
    if device.is_some_and(|d| !d.relabel) {
        return Step::Skip;
    }
    let own = device.and_then(|d| d.label.clone());
    if res.directory {
        let disk = match &res.kind {
            ResourceKind::Image { target, .. } => target.as_str(),
            _ => "",
        };
        return Step::Warn(format!(
            "Unable to relabel directory tree {} for disk {disk}",
            res.path.display()
        ));
    }
    let content = || generator.readonly_label().to_string();
    let (wanted, remember) = match &res.kind {
        ResourceKind::Image { layer, .. } => match (*layer, res.shared, res.access) {
            (Layer::Top, false, Access::ReadWrite) => (image.to_owned(), true),
            (Layer::Top, true, Access::ReadWrite) => {
                (generator.shared_image_label().to_string(), false)
            }
            _ => (content(), false),
        },
        ResourceKind::Kernel | ResourceKind::Initrd | ResourceKind::Dtb => (content(), true),
        ResourceKind::Loader => return Step::Skip,
        ResourceKind::Nvram | ResourceKind::Chardev { .. } | ResourceKind::ChardevLog { .. } => {
            (image.to_owned(), true)
        }
    };
    Step::Label {
        label: own.unwrap_or(wanted),
        remember,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_labels_round_trip_with_their_nul() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(file_label(&path).unwrap(), None);
        set_file_label(&path, "system_u:object_r:svirt_image_t:s0:c1,c2").unwrap();
        assert_eq!(
            xattr::get(&path, XATTR).unwrap().unwrap(),
            b"system_u:object_r:svirt_image_t:s0:c1,c2\0"
        );
        assert_eq!(
            file_label(&path).unwrap().as_deref(),
            Some("system_u:object_r:svirt_image_t:s0:c1,c2")
        );
        set_file_label(&path, "").unwrap();
        set_file_label(&path, "").unwrap();
        assert_eq!(file_label(&path).unwrap(), None);
    }
}
