//! `<volume>`: a volume to create, and a volume as it is.

use super::{
    check_name, child, child_text, document, error_at, escape, format_permissions, permissions,
    size, Permissions, StorageXmlError,
};

/// Image formats Moat creates and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeFormat {
    /// Plain bytes.
    Raw,
    /// QEMU copy-on-write v2, optionally over a backing file.
    Qcow2,
}

impl VolumeFormat {
    /// The `<format type=…>` and `qemu-img -f` name.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFormat::Raw => "raw",
            VolumeFormat::Qcow2 => "qcow2",
        }
    }

    /// The format named `name`, if Moat handles it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "raw" => Some(VolumeFormat::Raw),
            "qcow2" => Some(VolumeFormat::Qcow2),
            _ => None,
        }
    }
}

/// `<backingStore>`: the image a qcow2 volume reads through to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingStore {
    /// `<path>`.
    pub path: String,
    /// `<format type=…>`, when given.
    pub format: Option<VolumeFormat>,
}

/// A volume as a client asks for it (`virStorageVolCreateXML`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeDef {
    /// Name: the file name in the pool's directory.
    pub name: String,
    /// `<capacity>` in bytes (required unless cloning).
    pub capacity: Option<u64>,
    /// `<allocation>` in bytes.
    pub allocation: Option<u64>,
    /// `<target><format>`.
    pub format: Option<VolumeFormat>,
    /// `<backingStore>`.
    pub backing: Option<BackingStore>,
    /// `<target><permissions>`.
    pub permissions: Option<Permissions>,
}

/// What a volume is on the host (`virStorageVolType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeType {
    /// A file (`dir` pools).
    File = 0,
    /// A block device (an LVM logical volume).
    Block = 1,
}

impl VolumeType {
    /// The `type` attribute of `<volume>`.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::File => "file",
            VolumeType::Block => "block",
        }
    }
}

/// A volume as it is on disk, for `virsh vol-dumpxml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeStatus {
    /// File or block device.
    pub kind: VolumeType,
    /// Name.
    pub name: String,
    /// Key (for directory pools, the path).
    pub key: String,
    /// Path.
    pub path: String,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// Bytes allocated on the host.
    pub allocation: u64,
    /// Format.
    pub format: VolumeFormat,
    /// Backing file, for a qcow2 overlay.
    pub backing: Option<BackingStore>,
    /// Mode, owner and group of the file.
    pub permissions: Permissions,
}

/// Parses volume XML.
pub fn parse_volume(text: &str) -> Result<VolumeDef, StorageXmlError> {
    let doc = document(text)?;
    let root = doc.root_element();
    if root.tag_name().name() != "volume" {
        return Err(error_at(root, "expected a <volume> element"));
    }
    if let Some(kind) = root.attribute("type") {
        if kind != "file" && kind != "block" {
            return Err(error_at(
                root,
                format!("volume type '{kind}' is not supported"),
            ));
        }
    }
    let name = child_text(root, "name")?.ok_or_else(|| error_at(root, "missing <name>"))?;
    check_name("volume", &name).map_err(|m| error_at(root, m))?;
    let capacity = size(root, "capacity")?;
    let allocation = size(root, "allocation")?;
    let target = child(root, "target");
    let format = match target.and_then(|t| child(t, "format")) {
        None => None,
        Some(f) => Some(format_attr(f)?),
    };
    let permissions = target.map(permissions).transpose()?.flatten();
    let backing = match child(root, "backingStore") {
        None => None,
        Some(b) => {
            let path = child_text(b, "path")?
                .ok_or_else(|| error_at(b, "missing <path> in <backingStore>"))?;
            if !path.starts_with('/') || path.contains('\0') {
                return Err(error_at(
                    b,
                    format!("backing path '{path}' is not absolute"),
                ));
            }
            let format = child(b, "format").map(format_attr).transpose()?;
            Some(BackingStore { path, format })
        }
    };
    if backing.is_some() && format == Some(VolumeFormat::Raw) {
        return Err(error_at(root, "a raw volume cannot have a backing store"));
    }
    Ok(VolumeDef {
        name,
        capacity,
        allocation,
        format,
        backing,
        permissions,
    })
}

fn format_attr(node: roxmltree::Node<'_, '_>) -> Result<VolumeFormat, StorageXmlError> {
    let name = node
        .attribute("type")
        .ok_or_else(|| error_at(node, "missing format type"))?;
    VolumeFormat::from_name(name).ok_or_else(|| {
        error_at(
            node,
            format!("volume format '{name}' is not supported (Moat knows raw and qcow2)"),
        )
    })
}

/// Writes volume XML as `virsh vol-dumpxml` shows it.
pub fn format_volume(vol: &VolumeStatus) -> String {
    let mut out = format!("<volume type='{}'>\n", vol.kind.as_str());
    out.push_str(&format!("  <name>{}</name>\n", escape(&vol.name)));
    out.push_str(&format!("  <key>{}</key>\n", escape(&vol.key)));
    out.push_str("  <source>\n  </source>\n");
    out.push_str(&format!(
        "  <capacity unit='bytes'>{}</capacity>\n",
        vol.capacity
    ));
    out.push_str(&format!(
        "  <allocation unit='bytes'>{}</allocation>\n",
        vol.allocation
    ));
    out.push_str("  <target>\n");
    out.push_str(&format!("    <path>{}</path>\n", escape(&vol.path)));
    out.push_str(&format!("    <format type='{}'/>\n", vol.format.as_str()));
    format_permissions(&mut out, "    ", &vol.permissions);
    out.push_str("  </target>\n");
    if let Some(backing) = &vol.backing {
        out.push_str("  <backingStore>\n");
        out.push_str(&format!("    <path>{}</path>\n", escape(&backing.path)));
        if let Some(format) = backing.format {
            out.push_str(&format!("    <format type='{}'/>\n", format.as_str()));
        }
        out.push_str("  </backingStore>\n");
    }
    out.push_str("</volume>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_vol_create_as_parses() {
        let def = parse_volume(
            "<volume>\n  <name>top.qcow2</name>\n  <capacity>1048576</capacity>\n  <target>\n    \
             <format type='qcow2'/>\n  </target>\n  <backingStore>\n    <path>/p/base.img</path>\n\
             \x20   <format type='raw'/>\n  </backingStore>\n</volume>\n",
        )
        .unwrap();
        assert_eq!(def.capacity, Some(1 << 20));
        assert_eq!(def.format, Some(VolumeFormat::Qcow2));
        assert_eq!(
            def.backing,
            Some(BackingStore {
                path: "/p/base.img".into(),
                format: Some(VolumeFormat::Raw)
            })
        );
    }

    #[test]
    fn formatted_status_parses_back() {
        let status = VolumeStatus {
            kind: VolumeType::File,
            name: "a&b.img".into(),
            key: "/p/a&b.img".into(),
            path: "/p/a&b.img".into(),
            capacity: 10,
            allocation: 4096,
            format: VolumeFormat::Qcow2,
            backing: Some(BackingStore {
                path: "/p/base".into(),
                format: None,
            }),
            permissions: Permissions {
                mode: Some(0o600),
                owner: Some(0),
                group: Some(0),
            },
        };
        let text = format_volume(&status);
        let def = parse_volume(&text).unwrap();
        assert_eq!(def.name, "a&b.img");
        assert_eq!(def.capacity, Some(10));
        assert_eq!(def.format, Some(VolumeFormat::Qcow2));
        assert_eq!(def.backing.unwrap().path, "/p/base");
    }

    #[test]
    fn bad_volumes_are_refused_with_positions() {
        let err = parse_volume("<volume>\n<name>../../etc/shadow</name></volume>").unwrap_err();
        assert!(err.message.contains("contains '/'"), "{err}");
        let err = parse_volume("<volume><name>a</name>\n<capacity unit='QB'>1</capacity></volume>")
            .unwrap_err();
        assert_eq!((err.line, err.path.as_str()), (2, "/volume/capacity"));
        parse_volume("<volume><name>..</name></volume>").unwrap_err();
        parse_volume("<volume><name>a</name><capacity>-5</capacity></volume>").unwrap_err();
        parse_volume("<volume><name>a</name><target><format type='vmdk'/></target></volume>")
            .unwrap_err();
        parse_volume(
            "<volume><name>a</name><target><format type='raw'/></target>\
             <backingStore><path>/b</path></backingStore></volume>",
        )
        .unwrap_err();
        parse_volume(
            "<volume><name>a</name><backingStore><path>rel</path></backingStore></volume>",
        )
        .unwrap_err();
    }
}
