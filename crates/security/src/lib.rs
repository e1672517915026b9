//! Moat's security models for one guest: what confines a guest's QEMU and labels its files.
//!
//! sVirt (Virtualization Security Guide ch. 4) isolates guests from each other and from the
//! host with labels: every guest's process and its resources share a label nobody else has. This
//! crate holds the models that do it and the [`SecurityStack`] that combines them:
//!
//! - [`selinux`]: MCS-labelled processes and images (generation from [`seclabel::svirt`]);
//! - [`dac`]: a uid and gid per guest ([`ids`]), with its own files handed to it and read-only
//!   ones shared through POSIX ACL entries ([`posix_acl`]);
//! - [`landlock`]: a label naming the guest's path allow-list, enforced by the jail;
//! - [`remember`]: the original owner and label of every file kept in its xattrs, libvirt's way;
//! - [`resources`]: every host path a guest needs, shared with the jail and Landlock rules;
//! - [`context`]: the narrow trait for SELinux process contexts, with a fake for tests.
//!
//! ```
//! use domxml::model::{Domain, DomainType, Uuid};
//! use security::{FakeContext, HostSecurity, SecurityConfig, SecurityStack};
//!
//! let proc_root = tempfile::tempdir()?;
//! std::fs::write(proc_root.path().join("stat"), "btime 1700000000\n")?;
//! let host = HostSecurity {
//!     selinux: Some(Box::new(FakeContext::new("system_u:system_r:virtd_t:s0-s0:c0.c1023"))),
//!     landlock_abi: None,
//!     proc_root: proc_root.path().to_owned(),
//!     passwd_root: proc_root.path().to_owned(),
//! };
//! let stack = SecurityStack::new(&SecurityConfig::default(), host)?;
//! assert_eq!(stack.primary_model(), "selinux");
//!
//! let guest = Domain::new(DomainType::Kvm, "demo", Uuid::nil(), 65536);
//! let labels = stack.generate(&guest)?;
//! assert!(stack.exec_label(&labels).unwrap().starts_with("system_u:system_r:svirt_t:s0:c"));
//! assert_eq!(stack.credentials(&labels).unwrap().uid, 1_000_000);
//! stack.release(&labels);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod context;
pub mod dac;
pub mod ids;
pub mod landlock;
pub mod posix_acl;
pub mod relabel;
pub mod remember;
pub mod resources;
pub mod selinux;
pub mod stack;

pub use context::{FakeContext, KernelContext, ProcessContext};
pub use dac::Credentials;
pub use relabel::{Action, Applied, AppliedItem, RelabelError, RestoreWarning};
pub use resources::{Access, Layer, Resource, ResourceKind};
pub use stack::{
    HostSecurity, LabelError, ModelInfo, ProcessLabel, SecurityConfig, SecurityStack, StackError,
};
