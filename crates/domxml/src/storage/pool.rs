//! `<pool>`: the definition of a storage pool.

use roxmltree::Node;
use uuid::Uuid;

use super::{
    check_name, child, child_text, document, error_at, escape, format_permissions, permissions,
    Permissions, StorageXmlError,
};

/// The pool types Moat knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolType {
    /// A directory of image files.
    Dir,
    /// An LVM volume group; volumes are logical volumes.
    Logical,
}

impl PoolType {
    /// The `type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolType::Dir => "dir",
            PoolType::Logical => "logical",
        }
    }
}

/// `<source>` of a pool: what backs it (a volume group and its devices for `logical`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolSource {
    /// `<name>`: the volume group.
    pub name: Option<String>,
    /// `<device path=…/>` entries.
    pub devices: Vec<String>,
}

/// A pool definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDef {
    /// Pool type.
    pub kind: PoolType,
    /// Name.
    pub name: String,
    /// UUID, when the XML gives one (the daemon generates one otherwise).
    pub uuid: Option<Uuid>,
    /// `<source>`.
    pub source: PoolSource,
    /// `<target><path>`: the directory (or `/dev/VG`) volumes live in; absolute and free of
    /// `.`/`..` components.
    pub target: String,
    /// `<target><permissions>` for the directory.
    pub permissions: Option<Permissions>,
}

/// The live figures written into a running pool's XML (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Size of the file system or volume group.
    pub capacity: u64,
    /// Bytes in use.
    pub allocation: u64,
    /// Bytes free for new volumes.
    pub available: u64,
}

/// Parses pool XML.
pub fn parse_pool(text: &str) -> Result<PoolDef, StorageXmlError> {
    let doc = document(text)?;
    let root = doc.root_element();
    if root.tag_name().name() != "pool" {
        return Err(error_at(root, "expected a <pool> element"));
    }
    let kind = match root.attribute("type") {
        Some("dir") => PoolType::Dir,
        Some("logical") => PoolType::Logical,
        Some(other) => {
            return Err(error_at(
                root,
                format!("pool type '{other}' is not supported (Moat knows dir and logical)"),
            ))
        }
        None => return Err(error_at(root, "missing pool type")),
    };
    let name = child_text(root, "name")?.ok_or_else(|| error_at(root, "missing <name>"))?;
    check_name("pool", &name).map_err(|m| error_at(root, m))?;
    let uuid = match child_text(root, "uuid")? {
        None => None,
        Some(text) => Some(
            crate::uuid::parse_uuid(&text)
                .map_err(|_| error_at(root, format!("invalid uuid '{text}'")))?,
        ),
    };
    let mut source = match child(root, "source") {
        None => PoolSource::default(),
        Some(s) => pool_source(s)?,
    };
    if kind == PoolType::Logical && source.name.is_none() {
        // libvirt names the volume group after the pool when <source><name> is absent.
        source.name = Some(name.clone());
    }
    let target_node = child(root, "target");
    let target = match target_node
        .map(|t| child_text(t, "path"))
        .transpose()?
        .flatten()
    {
        Some(path) => path,
        None => match (kind, &source.name) {
            (PoolType::Logical, Some(vg)) => format!("/dev/{vg}"),
            (PoolType::Logical, None) => format!("/dev/{name}"),
            (PoolType::Dir, _) => return Err(error_at(root, "missing <target><path>")),
        },
    };
    let at = target_node.unwrap_or(root);
    check_target(&target).map_err(|m| error_at(at, m))?;
    let permissions = target_node.map(permissions).transpose()?.flatten();
    Ok(PoolDef {
        kind,
        name,
        uuid,
        source,
        target,
        permissions,
    })
}

fn pool_source(node: Node<'_, '_>) -> Result<PoolSource, StorageXmlError> {
    let name = child_text(node, "name")?;
    if let Some(format) = child(node, "format") {
        match format.attribute("type") {
            None | Some("auto" | "lvm2") => {}
            Some(other) => {
                return Err(error_at(
                    format,
                    format!("pool source format '{other}' is not supported (Moat knows lvm2)"),
                ))
            }
        }
    }
    if let Some(vg) = &name {
        check_name("volume group", vg).map_err(|m| error_at(node, m))?;
    }
    let mut devices = Vec::new();
    for device in node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "device")
    {
        let path = device
            .attribute("path")
            .ok_or_else(|| error_at(device, "missing device path"))?;
        check_target(path).map_err(|m| error_at(device, m))?;
        devices.push(path.to_owned());
    }
    Ok(PoolSource { name, devices })
}

/// A pool's target must be an absolute path without `.`/`..` components or NUL bytes.
fn check_target(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path '{path}' is not absolute"));
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if path.split('/').any(|part| part == "." || part == "..") {
        return Err(format!("path '{path}' contains '.' or '..'"));
    }
    Ok(())
}

/// Writes pool XML as `virsh pool-dumpxml` shows it; `status` fills the size elements.
pub fn format_pool(def: &PoolDef, uuid: &Uuid, status: &PoolStatus) -> String {
    let mut out = format!("<pool type='{}'>\n", def.kind.as_str());
    out.push_str(&format!("  <name>{}</name>\n", escape(&def.name)));
    out.push_str(&format!("  <uuid>{}</uuid>\n", uuid.hyphenated()));
    out.push_str(&format!(
        "  <capacity unit='bytes'>{}</capacity>\n",
        status.capacity
    ));
    out.push_str(&format!(
        "  <allocation unit='bytes'>{}</allocation>\n",
        status.allocation
    ));
    out.push_str(&format!(
        "  <available unit='bytes'>{}</available>\n",
        status.available
    ));
    if def.source.name.is_none() && def.source.devices.is_empty() {
        out.push_str("  <source>\n  </source>\n");
    } else {
        out.push_str("  <source>\n");
        for device in &def.source.devices {
            out.push_str(&format!("    <device path='{}'/>\n", escape(device)));
        }
        if let Some(name) = &def.source.name {
            out.push_str(&format!("    <name>{}</name>\n", escape(name)));
        }
        if def.kind == PoolType::Logical {
            out.push_str("    <format type='lvm2'/>\n");
        }
        out.push_str("  </source>\n");
    }
    out.push_str("  <target>\n");
    out.push_str(&format!("    <path>{}</path>\n", escape(&def.target)));
    if let Some(perms) = &def.permissions {
        format_permissions(&mut out, "    ", perms);
    }
    out.push_str("  </target>\n</pool>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_pool_define_as_parses_and_round_trips() {
        let def = parse_pool(
            "<pool type='dir'>\n  <name>images</name>\n  <target>\n    <path>/srv/img</path>\n  \
             </target>\n</pool>\n",
        )
        .unwrap();
        assert_eq!(def.kind, PoolType::Dir);
        assert_eq!(def.target, "/srv/img");
        let uuid = Uuid::nil();
        let text = format_pool(&def, &uuid, &PoolStatus::default());
        assert!(text.contains("<path>/srv/img</path>"));
        let back = parse_pool(&text).unwrap();
        assert_eq!(back.uuid, Some(uuid));
        assert_eq!(PoolDef { uuid: None, ..back }, def);
    }

    #[test]
    fn permissions_and_logical_sources_are_kept() {
        let def = parse_pool(
            "<pool type='logical'><name>vg0</name><source><device path='/dev/loop0'/></source>\
             <target><permissions><mode>0711</mode><owner>0</owner></permissions></target></pool>",
        )
        .unwrap();
        assert_eq!(def.source.name.as_deref(), Some("vg0"));
        assert_eq!(def.source.devices, ["/dev/loop0"]);
        assert_eq!(def.target, "/dev/vg0");
        let perms = def.permissions.unwrap();
        assert_eq!(
            (perms.mode, perms.owner, perms.group),
            (Some(0o711), Some(0), None)
        );
        let text = format_pool(&def, &Uuid::nil(), &PoolStatus::default());
        assert!(text.contains("<mode>0711</mode>"));
        assert!(text.contains("<format type='lvm2'/>"), "{text}");
        assert_eq!(parse_pool(&text).unwrap().source, def.source);
    }

    #[test]
    fn bad_pools_say_where() {
        let err = parse_pool("<pool type='dir'>\n<name>a/b</name></pool>").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("contains '/'"), "{err}");
        let err =
            parse_pool("<pool type='dir'><name>a</name>\n<target><path>rel</path></target></pool>")
                .unwrap_err();
        assert_eq!((err.line, err.path.as_str()), (2, "/pool/target"));
        assert!(err.to_string().contains("not absolute"));
        parse_pool("<pool type='dir'><name>a</name><target><path>/a/../b</path></target></pool>")
            .unwrap_err();
        parse_pool("<pool type='dir'><name>a</name></pool>").unwrap_err();
        let err = parse_pool("<pool type='rbd'><name>a</name></pool>").unwrap_err();
        assert!(err.message.contains("not supported"));
        parse_pool("<pool type='dir'><name>a</name>").unwrap_err();
        parse_pool("<!DOCTYPE x [<!ENTITY a 'b'>]><pool/>").unwrap_err();
        parse_pool(
            "<pool type='dir'><name>a</name><target><path>/a</path><permissions>\
             <mode>99999</mode></permissions></target></pool>",
        )
        .unwrap_err();
    }
}
