//! libvirt storage pool and volume XML (<https://libvirt.org/formatstorage.html>).
//!
//! [`parse_pool`] and [`parse_volume`] turn text into a [`PoolDef`] or a [`VolumeDef`]; errors are a
//! [`StorageXmlError`] with line, column and element path, as for domains. [`format_pool`] and
//! [`format_volume`] write them back in libvirt's element order, with the live figures a daemon
//! fills in (capacity, allocation, key, path) taken from [`PoolStatus`] and [`VolumeStatus`].
//! Like the rest of this crate, nothing here touches the filesystem.
//!
//! ```
//! use domxml::storage::{parse_pool, parse_volume, PoolType, VolumeFormat};
//!
//! let pool = parse_pool("<pool type='dir'><name>images</name>\
//!     <target><path>/var/lib/moat/images</path></target></pool>")?;
//! assert_eq!(pool.kind, PoolType::Dir);
//! let vol = parse_volume("<volume><name>a.qcow2</name><capacity unit='G'>2</capacity>\
//!     <target><format type='qcow2'/></target></volume>")?;
//! assert_eq!(vol.capacity, Some(2 << 30));
//! assert_eq!(vol.format, Some(VolumeFormat::Qcow2));
//! # Ok::<(), domxml::storage::StorageXmlError>(())
//! ```

mod pool;
mod volume;

use std::fmt;

use roxmltree::{Document, Node, ParsingOptions};

pub(crate) use crate::format::escape;
use crate::limits::Limits;

pub use pool::{format_pool, parse_pool, PoolDef, PoolSource, PoolStatus, PoolType};
pub use volume::{
    format_volume, parse_volume, BackingStore, VolumeDef, VolumeFormat, VolumeStatus, VolumeType,
};

/// Where and why storage XML was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageXmlError {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// Path of the element, empty for errors before the tree exists.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for StorageXmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        write!(f, " (line {}, column {})", self.line, self.column)
    }
}

impl std::error::Error for StorageXmlError {}

/// File permissions of a pool directory or volume (`<permissions>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    /// `<mode>`, octal.
    pub mode: Option<u32>,
    /// `<owner>`, a uid.
    pub owner: Option<u32>,
    /// `<group>`, a gid.
    pub group: Option<u32>,
}

/// Parses a document with the domain parser's size rules (4 MiB, no DOCTYPE).
fn document(text: &str) -> Result<Document<'_>, StorageXmlError> {
    if text.len() > Limits::DEFAULT.max_document_bytes {
        return Err(StorageXmlError {
            line: 1,
            column: 1,
            path: String::new(),
            message: format!(
                "document is larger than {} bytes",
                Limits::DEFAULT.max_document_bytes
            ),
        });
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: Limits::DEFAULT.max_nodes,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|err| {
        let pos = err.pos();
        StorageXmlError {
            line: pos.row,
            column: pos.col,
            path: String::new(),
            message: err.to_string(),
        }
    })
}

/// An element path such as `/pool/target/path`.
fn path_of(node: Node<'_, '_>) -> String {
    let mut parts: Vec<&str> = node
        .ancestors()
        .filter(Node::is_element)
        .map(|n| n.tag_name().name())
        .collect();
    parts.reverse();
    format!("/{}", parts.join("/"))
}

/// An error at `node`.
fn error_at(node: Node<'_, '_>, message: impl Into<String>) -> StorageXmlError {
    let pos = node.document().text_pos_at(node.range().start);
    StorageXmlError {
        line: pos.row,
        column: pos.col,
        path: path_of(node),
        message: message.into(),
    }
}

/// The first child element named `name`.
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of child `name`, if present and not empty.
fn child_text(node: Node<'_, '_>, name: &str) -> Result<Option<String>, StorageXmlError> {
    let Some(c) = child(node, name) else {
        return Ok(None);
    };
    let text = c.text().unwrap_or("").trim();
    if text.len() > Limits::DEFAULT.max_string_bytes {
        return Err(error_at(c, "text is too long"));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// A size element (`<capacity unit='G'>2</capacity>`) in bytes; libvirt's default unit is bytes.
fn size(node: Node<'_, '_>, name: &str) -> Result<Option<u64>, StorageXmlError> {
    let Some(c) = child(node, name) else {
        return Ok(None);
    };
    let text = c.text().unwrap_or("").trim();
    let scale = match c.attribute("unit") {
        None => 1,
        Some(unit) => crate::units::unit_scale(unit)
            .ok_or_else(|| error_at(c, format!("unknown size unit '{unit}'")))?,
    };
    parse_size(text, scale)
        .map(Some)
        .ok_or_else(|| error_at(c, format!("invalid size '{text}'")))
}

/// `text` × `scale` if `text` is a decimal integer and the product fits in `i64`.
pub fn parse_size(text: &str, scale: u64) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = text.parse().ok()?;
    value
        .checked_mul(scale)
        .filter(|&bytes| i64::try_from(bytes).is_ok())
}

/// `<permissions>` under `node`.
fn permissions(node: Node<'_, '_>) -> Result<Option<Permissions>, StorageXmlError> {
    let Some(p) = child(node, "permissions") else {
        return Ok(None);
    };
    let number = |name: &str, radix: u32| -> Result<Option<u32>, StorageXmlError> {
        let Some(text) = child_text(p, name)? else {
            return Ok(None);
        };
        // libvirt writes -1 for "unchanged".
        if text == "-1" {
            return Ok(None);
        }
        u32::from_str_radix(&text, radix)
            .ok()
            .filter(|&v| radix != 8 || v <= 0o7777)
            .map(Some)
            .ok_or_else(|| error_at(p, format!("invalid {name} '{text}'")))
    };
    Ok(Some(Permissions {
        mode: number("mode", 8)?,
        owner: number("owner", 10)?,
        group: number("group", 10)?,
    }))
}

/// Writes `<permissions>` at `indent`.
fn format_permissions(out: &mut String, indent: &str, perms: &Permissions) {
    out.push_str(&format!("{indent}<permissions>\n"));
    if let Some(mode) = perms.mode {
        out.push_str(&format!("{indent}  <mode>{mode:04o}</mode>\n"));
    }
    if let Some(owner) = perms.owner {
        out.push_str(&format!("{indent}  <owner>{owner}</owner>\n"));
    }
    if let Some(group) = perms.group {
        out.push_str(&format!("{indent}  <group>{group}</group>\n"));
    }
    out.push_str(&format!("{indent}</permissions>\n"));
}

/// Checks the name of a pool or volume: not empty, at most 255 bytes, no `/`, no NUL, not `.`
/// or `..`. Volume names become file names in the pool's directory, so this is what keeps a
/// volume inside its pool.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} name is empty"));
    }
    if name.len() > Limits::DEFAULT.max_name_bytes {
        return Err(format!("{kind} name is longer than 255 bytes"));
    }
    if name == "." || name == ".." {
        return Err(format!("{kind} name '{name}' would escape its directory"));
    }
    if name.contains('/') {
        return Err(format!("{kind} name '{name}' contains '/'"));
    }
    if name.contains('\0') {
        return Err(format!("{kind} name contains a NUL byte"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{kind} name contains a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\0b", "a\nb"] {
            check_name("volume", bad).unwrap_err();
        }
        check_name("volume", &"x".repeat(256)).unwrap_err();
        for good in ["disk.qcow2", "..hidden", "a..b", "x y", "ü"] {
            check_name("volume", good).unwrap();
        }
    }

    #[test]
    fn sizes_scale_and_stay_in_range() {
        assert_eq!(parse_size("10", 1024), Some(10240));
        assert_eq!(parse_size("", 1), None);
        assert_eq!(parse_size("-1", 1), None);
        assert_eq!(parse_size("1.5", 1), None);
        assert_eq!(parse_size("9223372036854775808", 1), None);
        assert_eq!(parse_size("8", 1 << 60), None);
    }
}
