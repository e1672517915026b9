//! Bounds on untrusted input.
//!
//! Definitions arrive from clients over the remote protocol, whose strings are at most 4 MiB; the
//! parser refuses anything larger, and bounds nesting, node count, attributes per element,
//! string lengths and list sizes, so hostile input costs bounded time and memory and ends in a
//! clear error.

/// The limits the parser enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Document size in bytes (the remote protocol's string limit).
    pub max_document_bytes: usize,
    /// Element nesting depth (a backing chain adds one level per layer).
    pub max_depth: usize,
    /// Nodes (elements, text, comments) in the document.
    pub max_nodes: u32,
    /// Attributes on one element.
    pub max_attributes: usize,
    /// Length in bytes of one attribute value or element text.
    pub max_string_bytes: usize,
    /// Devices of one kind (disks, interfaces…) and other repeated elements.
    pub max_list_len: usize,
    /// Length in bytes of the domain name.
    pub max_name_bytes: usize,
}

impl Limits {
    /// The defaults: 4 MiB document, depth 128, 200,000 nodes, 64 attributes, 64 KiB strings,
    /// 1,024 items per list, 255-byte name.
    pub const DEFAULT: Limits = Limits {
        max_document_bytes: 4 * 1024 * 1024,
        max_depth: 128,
        max_nodes: 200_000,
        max_attributes: 64,
        max_string_bytes: 64 * 1024,
        max_list_len: 1024,
        max_name_bytes: 255,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
