//! Client access control with libvirt's model (guide §2.2.2): after a client authenticates, every
//! call is checked against fine-grained rules per user, object and API.
//!
//! - [`perm`]: the 11 object types and their permissions, with libvirt's exact names and polkit
//!   action ids;
//! - [`annotation`]: a procedure's `@acl`/`@aclfilter` annotation, parsed, with flag conditions;
//! - [`subject`]: who asks ([`Subject`]) and about what ([`Target`]);
//! - [`driver`]: the [`AccessDriver`] trait, the `none` driver and the [`AccessStack`] in which
//!   every configured driver must allow;
//! - [`rules`]: Moat's own driver, roles and grants in a TOML file, compiled;
//! - [`polkit`]: libvirt's driver, asking polkitd over the system D-Bus, and the policy file.
//!
//! ```
//! use acl::{AccessStack, AclAnnotation, Rules, RulesDriver, Subject, Target};
//! use std::sync::Arc;
//!
//! let rules = Rules::parse(r#"
//!     [[grant]]
//!     users = ["alice"]
//!     permissions = ["domain:getattr", "domain:read"]
//!     domains = ["web-*"]
//! "#)?;
//! let stack = AccessStack::new(vec![Arc::new(RulesDriver::new(rules))]);
//! let alice = Subject { user: Some("alice".into()), ..Subject::default() };
//! let dumpxml = AclAnnotation::parse(
//!     "domain:read,domain:read_secure:VIR_DOMAIN_XML_SECURE")?;
//! let web = Target::domain("web-1", uuid::Uuid::nil());
//! assert!(stack.ensure(&alice, &dumpxml, 0, &web).is_ok());
//! assert!(stack.ensure(&alice, &dumpxml, 1, &web).is_err()); // needs read_secure
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod annotation;
pub mod driver;
pub mod perm;
pub mod polkit;
pub mod rules;
pub mod subject;

pub use annotation::{AclAnnotation, AnnotationError};
pub use driver::{AccessDenied, AccessDriver, AccessStack, Decision, NoneDriver};
pub use perm::{ObjectType, PermError, Permission};
pub use polkit::{PolkitDriver, UnixAction, UnixProcess};
pub use rules::{Explanation, Rules, RulesDriver, RulesError};
pub use subject::{Subject, Target};
