//! Fine-grained access control in front of every procedure (guide §2.2.2).
//!
//! Each procedure's checks come from its `@acl` and `@aclfilter` annotations in the procedure
//! table, parsed once. Connection-level calls are checked against the `connect` object before they
//! run; calls on a guest are checked against that guest's definition after it is looked up (or,
//! for define, after its XML is parsed) and before anything changes; lists, counts and events drop
//! the guests the client may not `getattr`. Every denial is audited.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use acl::polkit::Authority;
use acl::{
    AccessDenied, AccessDriver, AccessStack, AclAnnotation, NoneDriver, PolkitDriver, Rules,
    RulesDriver, RulesError, Subject, Target,
};
use rpc::procedures::RemoteProcedure;

use crate::config::{AccessDriverName, Config};
use crate::identity::PeerIdentity;

/// The name access checks use for this daemon's hypervisor driver.
pub const DRIVER_NAME: &str = "QEMU";

/// A procedure's checks.
#[derive(Debug, Default)]
pub struct ProcedureAcl {
    /// `@acl`: what the call needs.
    pub check: AclAnnotation,
    /// `@aclfilter`: what each listed or announced object needs.
    pub filter: AclAnnotation,
}

/// The parsed annotations of every procedure.
pub fn procedure_acl(procedure: RemoteProcedure) -> &'static ProcedureAcl {
    static TABLE: OnceLock<HashMap<RemoteProcedure, ProcedureAcl>> = OnceLock::new();
    static EMPTY: ProcedureAcl = ProcedureAcl {
        check: AclAnnotation::EMPTY,
        filter: AclAnnotation::EMPTY,
    };
    TABLE
        .get_or_init(|| {
            RemoteProcedure::ALL
                .iter()
                .map(|&p| {
                    // An annotation that does not parse checks the most restrictive thing we can
                    // name: connect:write, which no read-only or viewer grant carries.
                    let check = AclAnnotation::parse(p.acl()).unwrap_or_else(|err| {
                        tracing::error!(procedure = %p, %err, "unparsable ACL annotation");
                        AclAnnotation::parse("connect:write").unwrap_or_default()
                    });
                    let filter = p
                        .annotations()
                        .split(',')
                        .find_map(|a| a.trim().strip_prefix("aclfilter="))
                        .and_then(|text| AclAnnotation::parse(text).ok())
                        .unwrap_or_default();
                    (p, ProcedureAcl { check, filter })
                })
                .collect()
        })
        .get(&procedure)
        .unwrap_or(&EMPTY)
}

/// Why the access drivers could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The rules file is unusable.
    #[error("cannot load access rules")]
    Rules(#[from] RulesError),
}

/// The configured access drivers.
#[derive(Debug)]
pub struct Access {
    stack: AccessStack,
    /// Whether any driver can deny, computed once: it is asked on every call.
    enabled: bool,
    rules: Option<(Arc<RulesDriver>, PathBuf)>,
}

impl Access {
    /// The drivers named by `access_drivers`, with the rules file loaded if `rules` is one; the
    /// `polkit` driver asks `authority` (shared with connection authentication).
    pub fn from_config(
        config: &Config,
        authority: &Arc<dyn Authority>,
    ) -> Result<Self, AccessError> {
        let mut drivers: Vec<Arc<dyn AccessDriver>> = Vec::new();
        let mut rules = None;
        for name in &config.access_drivers {
            match name {
                AccessDriverName::None => drivers.push(Arc::new(NoneDriver)),
                AccessDriverName::Rules => {
                    let driver =
                        Arc::new(RulesDriver::new(Rules::load(&config.access_rules_file)?));
                    rules = Some((Arc::clone(&driver), config.access_rules_file.clone()));
                    drivers.push(driver);
                }
                AccessDriverName::Polkit => drivers.push(Arc::new(PolkitDriver::new(
                    Box::new(Arc::clone(authority)),
                    DRIVER_NAME,
                ))),
            }
        }
        let stack = AccessStack::new(drivers);
        Ok(Self {
            enabled: !stack.allows_everything(),
            stack,
            rules,
        })
    }

    /// No checks at all (`access_drivers = ["none"]`).
    pub fn none() -> Self {
        Self {
            stack: AccessStack::none(),
            enabled: false,
            rules: None,
        }
    }

    /// Whether any check can fail.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Re-reads the rules file; on error the rules in force stay.
    pub fn reload_rules(&self) -> Result<(), RulesError> {
        if let Some((driver, path)) = &self.rules {
            driver.replace(Rules::load(path)?);
        }
        Ok(())
    }

    /// Checks a call on `target`.
    pub fn ensure(
        &self,
        subject: &Subject,
        procedure: RemoteProcedure,
        flags: u32,
        target: &Target<'_>,
    ) -> Result<(), AccessDenied> {
        if !self.enabled() {
            return Ok(());
        }
        self.stack
            .ensure(subject, &procedure_acl(procedure).check, flags, target)
    }

    /// Whether an object may appear in the results or events of `procedure`.
    pub fn filter(
        &self,
        subject: &Subject,
        procedure: RemoteProcedure,
        target: &Target<'_>,
    ) -> bool {
        !self.enabled()
            || self
                .stack
                .filter(subject, &procedure_acl(procedure).filter, target)
    }
}

/// The identity as access drivers see it: a UNIX peer by its credentials, a TLS peer by its
/// certificate's distinguished name only (so polkit, which needs a local process, denies it).
pub fn subject(identity: &PeerIdentity) -> Subject {
    match identity {
        PeerIdentity::Unix(peer) => Subject {
            uid: Some(peer.uid),
            gid: Some(peer.gid),
            user: peer.user.clone(),
            groups: peer.group_names.clone(),
            pid: peer.pid,
            start_time: peer.start_time,
            x509_dn: None,
        },
        PeerIdentity::Remote(peer) => Subject {
            x509_dn: peer.x509_dn.clone(),
            ..Subject::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_procedure_has_a_parsable_annotation() {
        for p in RemoteProcedure::ALL {
            AclAnnotation::parse(p.acl()).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn list_filters_come_from_the_table() {
        let acl = procedure_acl(RemoteProcedure::ConnectListAllDomains);
        assert_eq!(
            acl.check
                .required(0)
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            ["connect:search_domains"]
        );
        assert_eq!(
            acl.filter
                .required(0)
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            ["domain:getattr"]
        );
    }
}
