//! libvirt domain XML for Moat: a typed model, a parser that says where the input is wrong,
//! semantic validation and a formatter whose output reads like `virsh dumpxml`.
//!
//! Guests are defined in libvirt's domain XML (<https://libvirt.org/formatdomain.html>), so that
//! the definitions people already have work unchanged. The daemon runs every definition through
//! three steps:
//!
//! - [`parse()`] turns text into a [`Domain`]. Malformed XML, bad values and libvirt's parse-time
//!   `<seclabel>` rules give a [`ParseError`] with line, column and the element/attribute path.
//!   Input is bounded by [`Limits`] (4 MiB, nesting, counts, string lengths); DOCTYPEs and with
//!   them entities are refused. What the model does not know is kept in [`model::Extra`] and
//!   written back, unless [`ParseOptions::strict`] (libvirt's validate flag) asks for an error.
//! - [`validate()`] checks what spans elements (names, sizes, unique targets and boot orders,
//!   required sources, label overrides, static SELinux contexts) and reports every problem as a
//!   [`ValidateErrors`].
//! - [`format()`] writes the model back in libvirt's element order with 2-space indentation.
//!
//! The security models read [`Domain::seclabels`] (one per model) and the per-device overrides in
//! each disk's [`DiskSource::seclabels`](model::DiskSource) and chardev
//! [`ChardevSource::seclabels`](model::ChardevSource); [`Disk::chain`](model::Disk::chain) walks a
//! disk's backing chain. This crate never touches the filesystem: paths are only values.
//!
//! ```
//! use domxml::{format, parse, validate, FormatOptions, ParseOptions, ValidateOptions};
//!
//! let xml = "<domain type='kvm'>
//!   <name>demo</name>
//!   <memory unit='GiB'>1</memory>
//!   <os><type arch='x86_64'>hvm</type></os>
//!   <devices>
//!     <disk type='file' device='disk'>
//!       <source file='/var/lib/moat/images/demo.qcow2'/>
//!       <target dev='vda' bus='virtio'/>
//!     </disk>
//!   </devices>
//!   <seclabel type='dynamic' model='selinux'/>
//! </domain>";
//! let domain = parse(xml, &ParseOptions::default())?;
//! validate(&domain, &ValidateOptions::default())?;
//! assert_eq!(domain.memory.kib, 1024 * 1024);
//! assert!(domain.seclabel("selinux").is_some_and(|label| label.relabel));
//!
//! let text = format(&domain, &FormatOptions::default());
//! assert!(text.contains("  <memory unit='KiB'>1048576</memory>\n"));
//! assert_eq!(parse(&text, &ParseOptions::default())?, domain);
//!
//! let err = parse("<domain type='kvm'>\n  <memory unit='QB'>1</memory>\n</domain>",
//!                 &ParseOptions::default()).unwrap_err();
//! assert_eq!(err.to_string(), "missing <name> in <domain> at /domain (line 1, column 1)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod format;
pub mod limits;
pub mod model;
pub mod network;
pub mod parse;
pub mod seclabel_rules;
pub mod storage;
pub mod units;
pub mod uuid;
pub mod validate;

pub use format::{format, FormatOptions};
pub use limits::Limits;
pub use model::Domain;
pub use parse::{parse, ParseError, ParseErrorKind, ParseOptions};
pub use seclabel_rules::SeclabelError;
pub use validate::{validate, ValidateError, ValidateErrors, ValidateOptions};
