//! The `@acl` and `@aclfilter` annotations of libvirt's procedure table, parsed.
//!
//! Syntax (comma-separated rules, all of which must pass):
//! - `object:perm` — always checked;
//! - `object:perm:FLAG|FLAG` — checked when all the named flags are set in the call's flags;
//! - `object:perm:!FLAG|FLAG` — checked when none of them is set;
//! - `object:perm::param:value` — checked when a call parameter has a value;
//! - `none` — no check.
//!
//! A condition that cannot be evaluated (an unknown flag name, a parameter condition) counts as
//! met, so that an unknown case can only ask for more permissions, never fewer.

use crate::perm::{ObjectType, PermError, Permission};

/// Why an annotation did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnotationError {
    /// A rule names an unknown object or permission.
    #[error("invalid ACL rule '{rule}'")]
    Rule {
        /// The rule text.
        rule: String,
        /// Why.
        #[source]
        source: PermError,
    },
    /// Rules of one annotation name different object types.
    #[error("ACL annotation '{text}' names more than one object type")]
    MixedObjects {
        /// The annotation.
        text: String,
    },
}

/// When a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    Always,
    /// When all these flag bits are set.
    AllFlags(u32),
    /// When none of these flag bits is set.
    NoFlags(u32),
    /// A condition that cannot be evaluated here; treated as met.
    Unevaluated(String),
}

impl Condition {
    fn holds(&self, flags: u32) -> bool {
        match self {
            Self::Always | Self::Unevaluated(_) => true,
            Self::AllFlags(mask) => flags & mask == *mask,
            Self::NoFlags(mask) => flags & mask == 0,
        }
    }
}

/// One rule of an annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    /// The permission it asks for.
    pub permission: Permission,
    /// When.
    pub condition: Condition,
}

/// A parsed `@acl` (or `@aclfilter`) annotation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclAnnotation {
    rules: Vec<AclRule>,
}

impl AclAnnotation {
    /// No rules.
    pub const EMPTY: AclAnnotation = AclAnnotation { rules: Vec::new() };

    /// Parses annotation text; `none` and empty text give no rules.
    pub fn parse(text: &str) -> Result<Self, AnnotationError> {
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(Self::default());
        }
        let mut rules = Vec::new();
        for rule in text.split(',').map(str::trim) {
            let mut parts = rule.splitn(3, ':');
            let object = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let permission =
                format!("{object}:{name}")
                    .parse()
                    .map_err(|source| AnnotationError::Rule {
                        rule: rule.to_owned(),
                        source,
                    })?;
            let condition = parse_condition(parts.next());
            rules.push(AclRule {
                permission,
                condition,
            });
        }
        let first = rules.first().map(|r| r.permission.object());
        if rules.iter().any(|r| Some(r.permission.object()) != first) {
            return Err(AnnotationError::MixedObjects {
                text: text.to_owned(),
            });
        }
        Ok(Self { rules })
    }

    /// The rules.
    pub fn rules(&self) -> &[AclRule] {
        &self.rules
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The object type checked, if any.
    pub fn object(&self) -> Option<ObjectType> {
        self.rules.first().map(|r| r.permission.object())
    }

    /// The permissions a call with `flags` needs, in annotation order.
    pub fn required(&self, flags: u32) -> impl Iterator<Item = Permission> + '_ {
        self.rules
            .iter()
            .filter(move |r| r.condition.holds(flags))
            .map(|r| r.permission)
    }

    /// Whether a read-only connection may make the call: everything it needs is
    /// [`Permission::read_only_safe`].
    pub fn read_only_allowed(&self, flags: u32) -> bool {
        self.required(flags).all(Permission::read_only_safe)
    }
}

fn parse_condition(text: Option<&str>) -> Condition {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Condition::Always;
    };
    if text.starts_with(':') {
        return Condition::Unevaluated(text.to_owned());
    }
    let (negated, names) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut mask = 0;
    for name in names.split('|') {
        match flag_value(name.trim()) {
            Some(bit) => mask |= bit,
            None => return Condition::Unevaluated(text.to_owned()),
        }
    }
    if negated {
        Condition::NoFlags(mask)
    } else {
        Condition::AllFlags(mask)
    }
}

/// Values of the flags that appear in conditions of libvirt's annotations.
pub fn flag_value(name: &str) -> Option<u32> {
    Some(match name {
        "VIR_DOMAIN_XML_SECURE" => 1,
        "VIR_DOMAIN_XML_INACTIVE" => 2,
        "VIR_DOMAIN_XML_UPDATE_CPU" => 4,
        "VIR_DOMAIN_XML_MIGRATABLE" => 8,
        "VIR_DOMAIN_AFFECT_LIVE" => 1,
        "VIR_DOMAIN_AFFECT_CONFIG" => 2,
        "VIR_DOMAIN_VCPU_GUEST" => 8,
        "VIR_DOMAIN_REBOOT_GUEST_AGENT" => 2,
        "VIR_DOMAIN_SHUTDOWN_GUEST_AGENT" => 2,
        "VIR_DOMAIN_SNAPSHOT_XML_SECURE" => 1,
        "VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE" => 64,
        "VIR_DOMAIN_SAVE_IMAGE_XML_SECURE" => 1,
        "VIR_DOMAIN_CHECKPOINT_XML_SECURE" => 1,
        "VIR_NETWORK_UPDATE_AFFECT_LIVE" => 1,
        "VIR_NETWORK_UPDATE_AFFECT_CONFIG" => 2,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(a: &AclAnnotation, flags: u32) -> Vec<String> {
        a.required(flags).map(|p| p.to_string()).collect()
    }

    #[test]
    fn flag_conditions() {
        let a = AclAnnotation::parse(
            "domain:read,domain:read_secure:VIR_DOMAIN_XML_SECURE,\
             domain:read_secure:VIR_DOMAIN_XML_MIGRATABLE",
        )
        .unwrap();
        assert_eq!(names(&a, 0), ["domain:read"]);
        assert_eq!(names(&a, 1), ["domain:read", "domain:read_secure"]);
        assert!(a.read_only_allowed(2));
        assert!(!a.read_only_allowed(8));
        let save = AclAnnotation::parse(
            "domain:write,domain:save:!VIR_DOMAIN_AFFECT_CONFIG|VIR_DOMAIN_AFFECT_LIVE,\
             domain:save:VIR_DOMAIN_AFFECT_CONFIG",
        )
        .unwrap();
        assert_eq!(names(&save, 0), ["domain:write", "domain:save"]);
        assert_eq!(names(&save, 1), ["domain:write"]);
        assert_eq!(names(&save, 2), ["domain:write", "domain:save"]);
    }

    #[test]
    fn unknown_conditions_ask_for_more() {
        let a = AclAnnotation::parse("domain:read,domain:write:VIR_NEW_FLAG").unwrap();
        assert_eq!(names(&a, 0), ["domain:read", "domain:write"]);
        let p = AclAnnotation::parse("domain:read,domain:write::param:1").unwrap();
        assert_eq!(names(&p, 0), ["domain:read", "domain:write"]);
    }

    #[test]
    fn none_and_errors() {
        assert!(AclAnnotation::parse("none").unwrap().is_empty());
        assert!(AclAnnotation::parse("").unwrap().is_empty());
        assert!(matches!(
            AclAnnotation::parse("domain:frob"),
            Err(AnnotationError::Rule { .. })
        ));
        assert!(matches!(
            AclAnnotation::parse("domain:read,network:read"),
            Err(AnnotationError::MixedObjects { .. })
        ));
    }
}
