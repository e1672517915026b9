//! Access drivers and the stack that asks all of them.
//!
//! As in libvirt, every configured driver is asked and all must allow (`access_drivers`).

use std::fmt;
use std::sync::Arc;

use crate::annotation::AclAnnotation;
use crate::perm::Permission;
use crate::subject::{Subject, Target};

/// One driver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
    /// The driver could not decide (treated as a denial).
    Error(String),
}

/// Something that decides whether a subject has a permission on a target.
pub trait AccessDriver: Send + Sync + fmt::Debug {
    /// The name used in `access_drivers` and in denial messages.
    fn name(&self) -> &str;
    /// The decision.
    fn check(&self, subject: &Subject, target: &Target<'_>, permission: Permission) -> Decision;
}

/// The `none` driver: allows everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneDriver;

impl AccessDriver for NoneDriver {
    fn name(&self) -> &str {
        "none"
    }

    fn check(&self, _: &Subject, _: &Target<'_>, _: Permission) -> Decision {
        Decision::Allow
    }
}

/// A call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{driver}' denied access: {permission} on {object} '{name}'")]
pub struct AccessDenied {
    /// The driver that said no.
    pub driver: String,
    /// The permission it refused.
    pub permission: Permission,
    /// The object type.
    pub object: String,
    /// The object's name.
    pub name: String,
    /// Why, when the driver failed rather than denied.
    pub error: Option<String>,
}

impl AccessDenied {
    /// The refusal with the driver's failure, if there was one, for logs.
    pub fn detail(&self) -> String {
        match &self.error {
            Some(error) => format!("{self}: {error}"),
            None => self.to_string(),
        }
    }
}

/// Every configured driver; all must allow.
#[derive(Debug, Clone)]
pub struct AccessStack {
    drivers: Vec<Arc<dyn AccessDriver>>,
}

impl AccessStack {
    /// A stack of drivers, asked in order.
    pub fn new(drivers: Vec<Arc<dyn AccessDriver>>) -> Self {
        Self { drivers }
    }

    /// A stack with only the `none` driver.
    pub fn none() -> Self {
        Self::new(vec![Arc::new(NoneDriver)])
    }

    /// Whether every driver is `none`, so checks can be skipped.
    pub fn allows_everything(&self) -> bool {
        self.drivers.iter().all(|d| d.name() == "none")
    }

    /// The drivers.
    pub fn drivers(&self) -> &[Arc<dyn AccessDriver>] {
        &self.drivers
    }

    /// Checks one permission with every driver.
    pub fn check(
        &self,
        subject: &Subject,
        target: &Target<'_>,
        permission: Permission,
    ) -> Result<(), AccessDenied> {
        for driver in &self.drivers {
            let decision = driver.check(subject, target, permission);
            if decision != Decision::Allow {
                return Err(AccessDenied {
                    driver: driver.name().to_owned(),
                    permission,
                    object: target.object.name().to_owned(),
                    name: target.name.to_owned(),
                    error: match decision {
                        Decision::Error(e) => Some(e),
                        _ => None,
                    },
                });
            }
        }
        Ok(())
    }

    /// Checks everything a call's `@acl` annotation asks for, given its flags. Permissions on
    /// another object type than `target`'s are not this target's to check and are skipped.
    pub fn ensure(
        &self,
        subject: &Subject,
        annotation: &AclAnnotation,
        flags: u32,
        target: &Target<'_>,
    ) -> Result<(), AccessDenied> {
        for permission in annotation.required(flags) {
            if permission.object() == target.object {
                self.check(subject, target, permission)?;
            }
        }
        Ok(())
    }

    /// Whether an item passes an `@aclfilter` (lists, counts and events drop those that fail).
    pub fn filter(
        &self,
        subject: &Subject,
        annotation: &AclAnnotation,
        target: &Target<'_>,
    ) -> bool {
        self.ensure(subject, annotation, 0, target).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(&'static str, Decision);

    impl AccessDriver for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn check(&self, _: &Subject, _: &Target<'_>, _: Permission) -> Decision {
            self.1.clone()
        }
    }

    #[test]
    fn all_drivers_must_allow() {
        let subject = Subject::default();
        let target = Target::connect("QEMU");
        let perm: Permission = "connect:getattr".parse().unwrap();
        let yes = Arc::new(Fixed("yes", Decision::Allow));
        let no = Arc::new(Fixed("no", Decision::Deny));
        let broken = Arc::new(Fixed("broken", Decision::Error("bus down".into())));
        AccessStack::new(vec![yes.clone()])
            .check(&subject, &target, perm)
            .unwrap();
        let err = AccessStack::new(vec![yes.clone(), no])
            .check(&subject, &target, perm)
            .unwrap_err();
        assert_eq!(err.driver, "no");
        assert_eq!(
            err.to_string(),
            "'no' denied access: connect:getattr on connect 'QEMU'"
        );
        let err = AccessStack::new(vec![broken, yes])
            .check(&subject, &target, perm)
            .unwrap_err();
        assert_eq!(err.error.as_deref(), Some("bus down"));
        assert!(AccessStack::none().allows_everything());
    }
}
