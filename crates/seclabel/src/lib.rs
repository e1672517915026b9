//! SELinux security labels and the sVirt MCS allocator.
//!
//! sVirt (Virtualization Security Guide §1.3 and ch. 4) gives every guest a process label such as
//! `system_u:system_r:svirt_t:s0:c87,c520` and labels its images with the same MCS categories, so
//! that the kernel keeps one guest's QEMU away from every other guest's images. This crate holds
//! the pure logic behind that, with no I/O:
//!
//! - [`CategorySet`], [`Level`], [`Range`] and [`Context`]: parsing, canonical formatting and the
//!   MLS dominance relations (`dom`, `domby`, `eq`, `incomp`);
//! - [`McsSpan`] and [`McsAllocator`]: the category pairs a daemon may hand out, derived from the
//!   daemon's own context, allocated uniformly at random in bounded time, with reservations for
//!   static labels and for guests found running, and a clear error when the space is exhausted;
//! - [`svirt`]: the labels libvirt's `selinux` model generates for each `<seclabel>` type.
//!
//! ```
//! use seclabel::{Context, McsAllocator, McsSpan};
//!
//! let daemon: Context = "system_u:system_r:virtd_t:s0-s0:c0.c1023".parse()?;
//! let mut allocator = McsAllocator::new(McsSpan::from_process_context(&daemon)?);
//! let level = allocator.allocate(&mut rand::thread_rng())?;
//! assert_eq!(level.categories.len(), 2);
//! assert!(daemon.range().unwrap().contains_level(&level));
//! allocator.release(&level)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod category;
pub mod context;
pub mod mcs;
pub mod mls;
pub mod svirt;

#[cfg(test)]
mod proptests;

pub use category::{Category, CategoryError, CategorySet};
pub use context::{Context, ContextError, ContextField, Identifier};
pub use mcs::{McsAllocator, McsError, McsSpan};
pub use mls::{Level, MlsError, Range, Relation, Sensitivity};
