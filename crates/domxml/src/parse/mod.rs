//! Domain XML text → [`Domain`].
//!
//! Steps:
//! 1. refuse documents over [`Limits::max_document_bytes`];
//! 2. build a read-only tree with `roxmltree`, DTDs refused (so no entity expansion and no
//!    external fetch) and the node count bounded;
//! 3. walk the tree once, iteratively, to bound nesting depth before any recursive code runs;
//! 4. read each known element through an `Elem`, which records the attributes and children it
//!    used; what is left over becomes [`Extra`] (or an error in validate mode);
//! 5. apply libvirt's parse-time defaults and `<seclabel>` rules.
//!
//! Every error carries the line and column (1-based) and the path of the element or attribute,
//! such as `/domain/devices/disk[2]/driver/@cache`.

mod chardev;
mod devices;
mod disk;
mod domain;
mod net;
mod seclabel;

pub(crate) use disk::source_path_attribute;

use std::fmt;
use std::str::FromStr;

use roxmltree::{Document, Node, ParsingOptions};

use crate::limits::Limits;
use crate::model::{Domain, Extra, RawXml};
use crate::seclabel_rules::SeclabelError;

/// How to parse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Validate mode (libvirt's `VIR_DOMAIN_DEFINE_VALIDATE`): unknown elements and attributes
    /// are errors instead of being preserved.
    pub strict: bool,
    /// The input is live (status) XML of a running domain: dynamic labels, image labels and
    /// `labelskip` are read instead of ignored.
    pub live: bool,
    /// The host's primary security model, given to a single model-less `<seclabel>` where
    /// libvirt allows that. `None` when the host has no security driver.
    pub host_security_model: Option<String>,
    /// Bounds on the input.
    pub limits: Limits,
}

/// Where and why the input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// Path of the element or attribute, empty for errors before the tree exists.
    pub path: String,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        write!(f, " (line {}, column {})", self.line, self.column)
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ParseErrorKind::Seclabel(err) => std::error::Error::source(err),
            _ => None,
        }
    }
}

/// What is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The document is over the size limit.
    #[error("document is {size} bytes, more than the limit of {limit}")]
    DocumentTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A DOCTYPE declaration (and with it entities) was given.
    #[error("DOCTYPE declarations are not allowed")]
    Doctype,
    /// The document has more nodes than allowed.
    #[error("document has more than {0} XML nodes")]
    TooManyNodes(u32),
    /// Elements nest deeper than allowed.
    #[error("elements are nested deeper than {0} levels")]
    TooDeep(usize),
    /// The text is not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The root element is not `<domain>`.
    #[error("expected root element <domain>, found <{0}>")]
    WrongRoot(String),
    /// An element has too many attributes.
    #[error("<{element}> has more than {limit} attributes")]
    TooManyAttributes {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// An element is repeated more often than allowed.
    #[error("more than {limit} <{element}> elements")]
    TooManyElements {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// A value is longer than allowed.
    #[error("value of {what} is longer than {limit} bytes")]
    StringTooLong {
        /// The attribute (`'name' in <x>`) or element (`<x>`).
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A required element is absent.
    #[error("missing <{element}> in <{parent}>")]
    MissingElement {
        /// The missing element.
        element: String,
        /// Where it was expected.
        parent: String,
    },
    /// A required attribute is absent.
    #[error("missing attribute '{attribute}' in <{element}>")]
    MissingAttribute {
        /// The attribute.
        attribute: String,
        /// The element.
        element: String,
    },
    /// An element that may appear once appears again.
    #[error("<{element}> appears more than once in <{parent}>")]
    Duplicate {
        /// The element.
        element: String,
        /// Its parent.
        parent: String,
    },
    /// An attribute value is not one of the accepted ones or does not parse.
    #[error("invalid value '{value}' for attribute '{attribute}' in <{element}>")]
    InvalidAttribute {
        /// The attribute.
        attribute: String,
        /// The element.
        element: String,
        /// The value as written.
        value: String,
    },
    /// An element's text does not parse.
    #[error("invalid value '{value}' in <{element}>")]
    InvalidText {
        /// The element.
        element: String,
        /// The text as written.
        value: String,
    },
    /// A memory unit libvirt does not know.
    #[error("unknown memory unit '{unit}' in <{element}>")]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The element.
        element: String,
    },
    /// A memory size that is not a non-negative integer.
    #[error("invalid memory size '{value}' in <{element}>")]
    InvalidSize {
        /// The text.
        value: String,
        /// The element.
        element: String,
    },
    /// A memory size over `i64::MAX` bytes.
    #[error("memory size '{value}' is too large in <{element}>")]
    SizeTooLarge {
        /// The text.
        value: String,
        /// The element.
        element: String,
    },
    /// A UUID in neither accepted form.
    #[error("invalid UUID '{value}' in <{element}>")]
    InvalidUuid {
        /// The text.
        value: String,
        /// The element.
        element: String,
    },
    /// A value that only libvirt's other drivers accept (`<domain type='xen'>`).
    #[error("unsupported {what} '{value}'")]
    Unsupported {
        /// What it is (`domain type`, `os type`).
        what: &'static str,
        /// The value.
        value: String,
    },
    /// Validate mode: an element this parser does not know.
    #[error("unknown element <{element}> in <{parent}>")]
    UnknownElement {
        /// The element.
        element: String,
        /// Its parent.
        parent: String,
    },
    /// Validate mode: an attribute this parser does not know.
    #[error("unknown attribute '{attribute}' in <{element}>")]
    UnknownAttribute {
        /// The attribute.
        attribute: String,
        /// The element.
        element: String,
    },
    /// A `<seclabel>` against libvirt's rules.
    #[error(transparent)]
    Seclabel(SeclabelError),
}

/// Parses a domain definition.
pub fn parse(xml: &str, options: &ParseOptions) -> Result<Domain, ParseError> {
    let limits = &options.limits;
    if xml.len() > limits.max_document_bytes {
        return Err(ParseError {
            line: 1,
            column: 1,
            path: String::new(),
            kind: ParseErrorKind::DocumentTooLarge {
                size: xml.len(),
                limit: limits.max_document_bytes,
            },
        });
    }
    let parsing = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, parsing).map_err(|err| {
        let mut pos = err.pos();
        let kind = match err {
            roxmltree::Error::DtdDetected => {
                // roxmltree reports no position for this one; point at the declaration.
                if let Some(offset) = xml.find("<!DOCTYPE") {
                    pos = text_pos(xml, offset);
                }
                ParseErrorKind::Doctype
            }
            roxmltree::Error::NodesLimitReached => ParseErrorKind::TooManyNodes(limits.max_nodes),
            other => {
                let text = other.to_string();
                let suffix = format!(" at {pos}");
                ParseErrorKind::Malformed(text.strip_suffix(&suffix).unwrap_or(&text).to_owned())
            }
        };
        ParseError {
            line: pos.row,
            column: pos.col,
            path: String::new(),
            kind,
        }
    })?;
    check_depth(&doc, limits.max_depth)?;
    let ctx = Ctx { doc: &doc, options };
    let root = doc.root_element();
    if root.tag_name().name() != "domain" || root.tag_name().namespace().is_some() {
        return Err(ctx.error_at(
            root.range().start,
            "/".to_owned(),
            ParseErrorKind::WrongRoot(root.tag_name().name().to_owned()),
        ));
    }
    domain::parse_domain(Elem::new(&ctx, root)?)
}

/// Line and column (both from 1, columns in characters) of a byte offset.
fn text_pos(xml: &str, offset: usize) -> roxmltree::TextPos {
    let before = xml.get(..offset).unwrap_or(xml);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let row = before.matches('\n').count() + 1;
    let col = before[line_start..].chars().count() + 1;
    roxmltree::TextPos::new(
        u32::try_from(row).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

fn check_depth(doc: &Document<'_>, limit: usize) -> Result<(), ParseError> {
    // Elements come in document order; the stack holds the end offsets of the open ancestors.
    let mut open: Vec<usize> = Vec::new();
    for node in doc.descendants().filter(Node::is_element) {
        let range = node.range();
        while open.last().is_some_and(|end| *end <= range.start) {
            open.pop();
        }
        open.push(range.end);
        if open.len() > limit {
            let pos = doc.text_pos_at(range.start);
            return Err(ParseError {
                line: pos.row,
                column: pos.col,
                path: String::new(),
                kind: ParseErrorKind::TooDeep(limit),
            });
        }
    }
    Ok(())
}

/// The document and the options, shared by every [`Elem`].
pub(crate) struct Ctx<'a, 'input> {
    doc: &'a Document<'input>,
    options: &'a ParseOptions,
}

impl Ctx<'_, '_> {
    fn error_at(&self, offset: usize, path: String, kind: ParseErrorKind) -> ParseError {
        let pos = self.doc.text_pos_at(offset);
        ParseError {
            line: pos.row,
            column: pos.col,
            path,
            kind,
        }
    }
}

/// One element being read. It remembers which attributes and children were used, so that
/// [`Elem::finish`] can collect the rest. Paths for messages are computed only when an error is
/// reported, so reading a valid document allocates nothing here.
pub(crate) struct Elem<'a, 'input> {
    ctx: &'a Ctx<'a, 'input>,
    node: Node<'a, 'input>,
    used_attributes: Marks,
    used_children: Marks,
    /// Child elements with their local names (`None` for namespaced ones), built on first use.
    kids: Option<Vec<(Option<&'input str>, Node<'a, 'input>)>>,
    skip_namespaces: bool,
}

/// A set of small indices: a bit mask, with a vector for indices past 63.
#[derive(Default)]
struct Marks {
    low: u64,
    high: Vec<bool>,
}

impl Marks {
    fn set(&mut self, index: usize) {
        if index < 64 {
            self.low |= 1 << index;
        } else {
            let index = index - 64;
            if self.high.len() <= index {
                self.high.resize(index + 1, false);
            }
            self.high[index] = true;
        }
    }

    fn get(&self, index: usize) -> bool {
        if index < 64 {
            self.low >> index & 1 == 1
        } else {
            self.high.get(index - 64).copied().unwrap_or(false)
        }
    }
}

/// The element's name as written, with its prefix.
fn qualified_name<'input>(node: Node<'_, 'input>) -> &'input str {
    let text = &node.document().input_text()[node.range()];
    text.trim_start_matches('<')
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or_default()
}

/// The path of an element: names from the root, with a 1-based index where the parent has
/// several children of that name (`/domain/devices/disk[2]/source`).
fn node_path(node: Node<'_, '_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(node);
    while let Some(element) = current.filter(Node::is_element) {
        let name = qualified_name(element);
        let same = |n: &Node<'_, '_>| n.is_element() && qualified_name(*n) == name;
        let part = match element.parent() {
            Some(parent) if parent.children().filter(same).count() > 1 => {
                let position = element.prev_siblings().filter(same).count();
                format!("{name}[{position}]")
            }
            _ => name.to_owned(),
        };
        parts.push(part);
        current = element.parent();
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

impl<'a, 'input> Elem<'a, 'input> {
    fn new(ctx: &'a Ctx<'a, 'input>, node: Node<'a, 'input>) -> PResult<Self> {
        let limits = &ctx.options.limits;
        if node.attributes().len() > limits.max_attributes {
            return Err(ctx.error_at(
                node.range().start,
                node_path(node),
                ParseErrorKind::TooManyAttributes {
                    element: node.tag_name().name().to_owned(),
                    limit: limits.max_attributes,
                },
            ));
        }
        Ok(Elem {
            ctx,
            node,
            used_attributes: Marks::default(),
            used_children: Marks::default(),
            kids: None,
            skip_namespaces: false,
        })
    }

    fn element_children(&self) -> impl Iterator<Item = Node<'a, 'input>> {
        self.node.children().filter(Node::is_element)
    }

    /// The element's local name.
    pub(crate) fn name(&self) -> &'input str {
        self.node.tag_name().name()
    }

    pub(crate) fn options(&self) -> &'a ParseOptions {
        self.ctx.options
    }

    pub(crate) fn path(&self) -> String {
        node_path(self.node)
    }

    /// An error positioned at this element.
    pub(crate) fn error(&self, kind: ParseErrorKind) -> ParseError {
        self.ctx
            .error_at(self.node.range().start, self.path(), kind)
    }

    /// An error positioned at one of this element's attributes (or the element if absent).
    pub(crate) fn attr_error(&self, attribute: &str, kind: ParseErrorKind) -> ParseError {
        let offset = self
            .find_attribute(attribute)
            .map_or(self.node.range().start, |(_, attr)| attr.range().start);
        self.ctx
            .error_at(offset, format!("{}/@{attribute}", self.path()), kind)
    }

    fn find_attribute(&self, name: &str) -> Option<(usize, roxmltree::Attribute<'a, 'input>)> {
        self.node
            .attributes()
            .enumerate()
            .find(|(_, attr)| attr.namespace().is_none() && attr.name() == name)
    }

    /// An optional attribute, length-checked.
    pub(crate) fn attr(&mut self, name: &str) -> PResult<Option<&'a str>> {
        let Some((index, attr)) = self.find_attribute(name) else {
            return Ok(None);
        };
        self.used_attributes.set(index);
        let value = attr.value();
        self.check_len(name, value)?;
        Ok(Some(value))
    }

    fn check_len(&self, name: &str, value: &str) -> PResult<()> {
        let limit = self.ctx.options.limits.max_string_bytes;
        if value.len() > limit {
            return Err(self.attr_error(
                name,
                ParseErrorKind::StringTooLong {
                    what: format!("'{name}' in <{}>", self.name()),
                    limit,
                },
            ));
        }
        Ok(())
    }

    /// An optional attribute as an owned string.
    pub(crate) fn attr_string(&mut self, name: &str) -> PResult<Option<String>> {
        Ok(self.attr(name)?.map(str::to_owned))
    }

    /// A required attribute.
    pub(crate) fn req_attr(&mut self, name: &str) -> PResult<&'a str> {
        match self.attr(name)? {
            Some(value) => Ok(value),
            None => Err(self.error(ParseErrorKind::MissingAttribute {
                attribute: name.to_owned(),
                element: self.name().to_owned(),
            })),
        }
    }

    /// The error for an attribute value that is not accepted.
    pub(crate) fn invalid_attr(&self, name: &str, value: &str) -> ParseError {
        self.attr_error(
            name,
            ParseErrorKind::InvalidAttribute {
                attribute: name.to_owned(),
                element: self.name().to_owned(),
                value: value.to_owned(),
            },
        )
    }

    /// An optional attribute mapped through `convert`, which returns `None` for bad values.
    pub(crate) fn attr_with<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(&str) -> Option<T>,
    ) -> PResult<Option<T>> {
        match self.attr(name)? {
            None => Ok(None),
            Some(value) => convert(value)
                .map(Some)
                .ok_or_else(|| self.invalid_attr(name, value)),
        }
    }

    /// An optional attribute parsed with `FromStr`.
    pub(crate) fn attr_parse<T: FromStr>(&mut self, name: &str) -> PResult<Option<T>> {
        self.attr_with(name, |value| value.trim().parse().ok())
    }

    /// The element's text: its text children joined (CDATA included), length-checked.
    pub(crate) fn text(&self) -> PResult<String> {
        let mut text = String::new();
        for child in self.node.children().filter(Node::is_text) {
            text.push_str(child.text().unwrap_or_default());
        }
        let limit = self.ctx.options.limits.max_string_bytes;
        if text.len() > limit {
            return Err(self.error(ParseErrorKind::StringTooLong {
                what: format!("<{}>", self.name()),
                limit,
            }));
        }
        Ok(text)
    }

    /// The element's text, trimmed, as a `FromStr` value.
    pub(crate) fn text_parse<T: FromStr>(&self) -> PResult<T> {
        let text = self.text()?;
        text.trim().parse().map_err(|_| {
            self.error(ParseErrorKind::InvalidText {
                element: self.name().to_owned(),
                value: text.clone(),
            })
        })
    }

    /// All child elements called `name`, marked used.
    pub(crate) fn children(&mut self, name: &str) -> PResult<Vec<Elem<'a, 'input>>> {
        let kids = self.kids.get_or_insert_with(|| {
            self.node
                .children()
                .filter(Node::is_element)
                .map(|child| {
                    let tag = child.tag_name();
                    (tag.namespace().is_none().then(|| tag.name()), child)
                })
                .collect()
        });
        let mut found: Vec<(usize, Node<'a, 'input>)> = Vec::new();
        for (index, (kid_name, child)) in kids.iter().enumerate() {
            if *kid_name == Some(name) {
                found.push((index, *child));
            }
        }
        let limit = self.ctx.options.limits.max_list_len;
        if let Some((_, extra)) = found.get(limit) {
            return Err(self.ctx.error_at(
                extra.range().start,
                format!("{}/{name}", self.path()),
                ParseErrorKind::TooManyElements {
                    element: name.to_owned(),
                    limit,
                },
            ));
        }
        let mut result = Vec::with_capacity(found.len());
        for (index, child) in found {
            self.used_children.set(index);
            result.push(Elem::new(self.ctx, child)?);
        }
        Ok(result)
    }

    /// The child element called `name`, if any; an error if it appears twice.
    pub(crate) fn child(&mut self, name: &str) -> PResult<Option<Elem<'a, 'input>>> {
        let mut found = self.children(name)?;
        if found.len() > 1 {
            return Err(found[1].error(ParseErrorKind::Duplicate {
                element: name.to_owned(),
                parent: self.name().to_owned(),
            }));
        }
        Ok(found.pop())
    }

    /// The text of the child element called `name`.
    pub(crate) fn child_text(&mut self, name: &str) -> PResult<Option<String>> {
        match self.child(name)? {
            None => Ok(None),
            Some(child) => {
                let text = child.text()?;
                child.finish()?;
                Ok(Some(text))
            }
        }
    }

    /// Whether the empty flag element `name` (`<readonly/>`) is present.
    pub(crate) fn flag(&mut self, name: &str) -> PResult<bool> {
        match self.child(name)? {
            None => Ok(false),
            Some(child) => {
                child.finish()?;
                Ok(true)
            }
        }
    }

    /// The required child element called `name`.
    pub(crate) fn req_child(&mut self, name: &str) -> PResult<Elem<'a, 'input>> {
        match self.child(name)? {
            Some(child) => Ok(child),
            None => Err(self.error(ParseErrorKind::MissingElement {
                element: name.to_owned(),
                parent: self.name().to_owned(),
            })),
        }
    }

    /// This element, verbatim.
    pub(crate) fn raw(&self) -> RawXml {
        raw_of(self.node)
    }

    /// Ends reading: unused attributes and children become [`Extra`], or errors in validate
    /// mode.
    pub(crate) fn finish(self) -> PResult<Extra> {
        let mut extra = Extra::default();
        let declared = if self.skip_namespaces {
            Vec::new()
        } else {
            declared_namespaces(self.node)
        };
        for (prefix, uri) in declared {
            // Prefixes declared here may be used by unknown children kept verbatim.
            let qname = format!("xmlns:{prefix}");
            if self.ctx.options.strict {
                return Err(self.error(ParseErrorKind::UnknownAttribute {
                    attribute: qname,
                    element: self.name().to_owned(),
                }));
            }
            extra.attributes.push((qname, uri));
        }
        for (index, attr) in self.node.attributes().enumerate() {
            if self.used_attributes.get(index) {
                continue;
            }
            let qname = &self.ctx.doc.input_text()[attr.range_qname()];
            if self.ctx.options.strict {
                return Err(self.ctx.error_at(
                    attr.range().start,
                    format!("{}/@{qname}", self.path()),
                    ParseErrorKind::UnknownAttribute {
                        attribute: qname.to_owned(),
                        element: self.name().to_owned(),
                    },
                ));
            }
            self.check_len(qname, attr.value())?;
            extra
                .attributes
                .push((qname.to_owned(), attr.value().to_owned()));
        }
        for (index, child) in self.element_children().enumerate() {
            if self.used_children.get(index) {
                continue;
            }
            if self.ctx.options.strict {
                return Err(self.ctx.error_at(
                    child.range().start,
                    node_path(child),
                    ParseErrorKind::UnknownElement {
                        element: qualified_name(child).to_owned(),
                        parent: self.name().to_owned(),
                    },
                ));
            }
            extra.elements.push(raw_of(child));
        }
        Ok(extra)
    }
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// Prefixed namespace declarations made on `node` itself (not inherited), as `(prefix, uri)`.
pub(crate) fn declared_namespaces(node: Node<'_, '_>) -> Vec<(String, String)> {
    let parent = node.parent_element();
    let unchanged = parent.is_some_and(|parent| {
        node.namespaces()
            .map(|ns| (ns.name(), ns.uri()))
            .eq(parent.namespaces().map(|ns| (ns.name(), ns.uri())))
    });
    if unchanged {
        return Vec::new();
    }
    let inherited: Vec<(Option<&str>, &str)> = parent
        .map(|parent| {
            parent
                .namespaces()
                .map(|ns| (ns.name(), ns.uri()))
                .collect()
        })
        .unwrap_or_default();
    node.namespaces()
        .filter(|ns| !inherited.contains(&(ns.name(), ns.uri())))
        .filter_map(|ns| Some((ns.name()?.to_owned(), ns.uri().to_owned())))
        .filter(|(prefix, _)| prefix != "xml")
        .collect()
}

fn raw_of(node: Node<'_, '_>) -> RawXml {
    RawXml {
        name: node.tag_name().name().to_owned(),
        xml: node.document().input_text()[node.range()].to_owned(),
    }
}

/// An unsigned integer in decimal, or hex with a `0x` prefix (libvirt reads PCI addresses and USB
/// IDs with base 0).
pub(crate) fn parse_uint(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(hex, 16).ok();
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
