//! The `rules` access driver: roles and grants in a TOML file, compiled for fast checks.
//!
//! ```toml
//! [roles]
//! viewer = ["connect:getattr", "connect:read", "connect:search_domains",
//!           "domain:getattr", "domain:read"]
//! operator = ["@viewer", "domain:start", "domain:stop", "domain:init_control"]
//! admin = ["connect:*", "domain:*"]
//!
//! [[grant]]
//! users = ["alice"]           # or groups, uids, x509_dns (globs); any one matches
//! role = "viewer"             # or roles = [...], and/or permissions = [...]
//! domains = ["web-*"]         # name globs; or domain_uuids, pools, networks, all = true
//!
//! [[deny]]                    # denials win over grants
//! users = ["alice"]
//! permissions = ["domain:read_secure"]
//! all = true
//! ```
//!
//! Decision: a matching denial denies; else a matching grant allows; else deny. `connect`
//! permissions need no object selector. A grant that gives permissions on an object type but
//! selects no object of it is an error, so that a forgotten selector is not silently useless.
//!
//! Speed: the rules that concern one subject are found once and cached per subject (bounded);
//! each check then tests a permission bit and the object selectors of those few rules only.

mod glob;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Deserialize;
use uuid::Uuid;

pub use glob::Glob;

use crate::driver::{AccessDriver, Decision};
use crate::perm::{ObjectType, PermError, Permission};
use crate::subject::{Subject, Target};

/// Largest rules file read, in bytes.
pub const RULES_MAX_LEN: u64 = 4 * 1024 * 1024;

/// Subjects whose applicable rules are cached before the cache is cleared.
const SUBJECT_CACHE_MAX: usize = 4096;

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read rules file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is too large.
    #[error("rules file {path} is larger than {RULES_MAX_LEN} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not valid TOML, or a field of the wrong type or name.
    #[error("rules are not valid: {message}")]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A rule or role that does not make sense.
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    roles: BTreeMap<String, toml::Spanned<Vec<String>>>,
    #[serde(default)]
    grant: Vec<toml::Spanned<RawRule>>,
    #[serde(default)]
    deny: Vec<toml::Spanned<RawRule>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    uids: Vec<u32>,
    #[serde(default)]
    x509_dns: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    domain_uuids: Vec<String>,
    #[serde(default)]
    pools: Vec<String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    comment: Option<String>,
}

/// Whether a rule grants or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `[[grant]]`.
    Grant,
    /// `[[deny]]`.
    Deny,
}

#[derive(Debug, Clone, Default)]
struct SubjectSelector {
    uids: Vec<u32>,
    users: Vec<String>,
    groups: Vec<String>,
    dns: Vec<Glob>,
}

impl SubjectSelector {
    fn matches(&self, subject: &Subject) -> bool {
        subject.uid.is_some_and(|uid| self.uids.contains(&uid))
            || subject
                .user
                .as_ref()
                .is_some_and(|u| self.users.iter().any(|x| x == u))
            || subject.groups.iter().any(|g| self.groups.contains(g))
            || subject
                .x509_dn
                .as_ref()
                .is_some_and(|dn| self.dns.iter().any(|glob| glob.matches(dn)))
    }
}

#[derive(Debug, Clone, Default)]
struct ObjectSelector {
    all: bool,
    domains: Vec<Glob>,
    domain_uuids: Vec<Uuid>,
    pools: Vec<Glob>,
    networks: Vec<Glob>,
}

impl ObjectSelector {
    fn any_glob(globs: &[Glob], name: Option<&str>) -> bool {
        name.is_some_and(|name| globs.iter().any(|g| g.matches(name)))
    }

    fn matches(&self, target: &Target<'_>) -> bool {
        if self.all || target.object == ObjectType::Connect {
            return true;
        }
        match target.object {
            ObjectType::Domain => {
                Self::any_glob(&self.domains, Some(target.name))
                    || target.uuid.is_some_and(|u| self.domain_uuids.contains(&u))
            }
            ObjectType::StoragePool => Self::any_glob(&self.pools, Some(target.name)),
            ObjectType::StorageVol => Self::any_glob(&self.pools, target.parent),
            ObjectType::Network => Self::any_glob(&self.networks, Some(target.name)),
            ObjectType::NetworkPort => Self::any_glob(&self.networks, target.parent),
            _ => false,
        }
    }

    fn selects(&self, object: ObjectType) -> bool {
        self.all
            || match object {
                ObjectType::Connect => true,
                ObjectType::Domain => !self.domains.is_empty() || !self.domain_uuids.is_empty(),
                ObjectType::StoragePool | ObjectType::StorageVol => !self.pools.is_empty(),
                ObjectType::Network | ObjectType::NetworkPort => !self.networks.is_empty(),
                _ => false,
            }
    }
}

/// Permission bits per object type.
type PermMask = [u64; 11];

fn type_index(object: ObjectType) -> usize {
    ObjectType::ALL
        .iter()
        .position(|t| *t == object)
        .expect("every type is in ALL")
}

#[derive(Debug, Clone)]
struct Rule {
    kind: RuleKind,
    line: usize,
    comment: Option<Arc<str>>,
    subject: SubjectSelector,
    permissions: PermMask,
    objects: ObjectSelector,
}

/// A rule that decided a check, for explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidingRule {
    /// Grant or denial.
    pub kind: RuleKind,
    /// Its line in the rules file.
    pub line: usize,
    /// Its `comment`, if it has one (shared with the rule: a decision allocates nothing).
    pub comment: Option<Arc<str>>,
}

/// A decision and what made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Allowed?
    pub allowed: bool,
    /// The rule that decided; `None` for the default denial.
    pub rule: Option<DecidingRule>,
}

/// A compiled rules file.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Denials first, then grants, each in file order.
    rules: Vec<Rule>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// Permissions named by a role entry or a rule: `object:perm`, `object:*`, `@role`.
fn expand(
    items: &[String],
    roles: &BTreeMap<String, PermMask>,
    line: usize,
) -> Result<PermMask, RulesError> {
    let invalid = |message: String| RulesError::Invalid { line, message };
    let mut mask = [0u64; 11];
    for item in items {
        if let Some(role) = item.strip_prefix('@') {
            let other = roles
                .get(role)
                .ok_or_else(|| invalid(format!("unknown role '{role}'")))?;
            for (m, o) in mask.iter_mut().zip(other) {
                *m |= o;
            }
        } else if let Some(object) = item.strip_suffix(":*") {
            let object: ObjectType = object
                .parse()
                .map_err(|e: PermError| invalid(e.to_string()))?;
            mask[type_index(object)] |= object.all_mask();
        } else {
            let perm: Permission = item
                .parse()
                .map_err(|e: PermError| invalid(e.to_string()))?;
            mask[type_index(perm.object())] |= perm.bit();
        }
    }
    Ok(mask)
}

impl Rules {
    /// Parses and compiles rules text.
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| RulesError::Syntax {
            message: e.to_string(),
        })?;
        // Roles may include roles defined before or after them; resolve in passes.
        let mut roles: BTreeMap<String, PermMask> = BTreeMap::new();
        let mut pending: Vec<(&String, &toml::Spanned<Vec<String>>)> = raw.roles.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut still = Vec::new();
            for (name, items) in pending {
                let ready = items
                    .get_ref()
                    .iter()
                    .filter_map(|i| i.strip_prefix('@'))
                    .all(|r| roles.contains_key(r) || !raw.roles.contains_key(r));
                if ready {
                    let line = line_of(text, items.span().start);
                    roles.insert(name.clone(), expand(items.get_ref(), &roles, line)?);
                } else {
                    still.push((name, items));
                }
            }
            if still.len() == before {
                let (name, items) = still[0];
                return Err(RulesError::Invalid {
                    line: line_of(text, items.span().start),
                    message: format!("role '{name}' includes itself through other roles"),
                });
            }
            pending = still;
        }
        let mut rules = Vec::new();
        for (kind, list) in [(RuleKind::Deny, &raw.deny), (RuleKind::Grant, &raw.grant)] {
            for spanned in list {
                let line = line_of(text, spanned.span().start);
                rules.push(compile_rule(kind, spanned.get_ref(), &roles, line)?);
            }
        }
        Ok(Self { rules })
    }

    /// Reads and compiles a rules file.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let read = |source| RulesError::Read {
            path: path.to_owned(),
            source,
        };
        if std::fs::metadata(path).map_err(read)?.len() > RULES_MAX_LEN {
            return Err(RulesError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    /// Number of grants and denials.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule (everything is denied).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn for_subject(&self, subject: &Subject) -> Vec<u32> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.subject.matches(subject))
            .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
            .collect()
    }

    fn decide(&self, applicable: &[u32], target: &Target<'_>, perm: Permission) -> Explanation {
        let slot = type_index(perm.object());
        // Denials come first in `rules`, so the first match decides.
        for &i in applicable {
            let Some(rule) = self.rules.get(i as usize) else {
                continue;
            };
            if rule.permissions[slot] & perm.bit() != 0 && rule.objects.matches(target) {
                return Explanation {
                    allowed: rule.kind == RuleKind::Grant,
                    rule: Some(DecidingRule {
                        kind: rule.kind,
                        line: rule.line,
                        comment: rule.comment.clone(),
                    }),
                };
            }
        }
        Explanation {
            allowed: false,
            rule: None,
        }
    }

    /// The decision for one subject, target and permission, with the rule that made it.
    pub fn explain(&self, subject: &Subject, target: &Target<'_>, perm: Permission) -> Explanation {
        self.decide(&self.for_subject(subject), target, perm)
    }
}

fn compile_rule(
    kind: RuleKind,
    raw: &RawRule,
    roles: &BTreeMap<String, PermMask>,
    line: usize,
) -> Result<Rule, RulesError> {
    let invalid = |message: String| RulesError::Invalid { line, message };
    let subject = SubjectSelector {
        uids: raw.uids.clone(),
        users: raw.users.clone(),
        groups: raw.groups.clone(),
        dns: raw.x509_dns.iter().map(|d| Glob::new(d)).collect(),
    };
    if subject.uids.is_empty()
        && subject.users.is_empty()
        && subject.groups.is_empty()
        && subject.dns.is_empty()
    {
        return Err(invalid(
            "the rule names no subject (users, groups, uids or x509_dns)".into(),
        ));
    }
    let mut items: Vec<String> = raw.roles.iter().map(|r| format!("@{r}")).collect();
    items.extend(raw.role.iter().map(|r| format!("@{r}")));
    items.extend(raw.permissions.iter().cloned());
    if items.is_empty() {
        return Err(invalid("the rule names no role or permission".into()));
    }
    let permissions = expand(&items, roles, line)?;
    let domain_uuids = raw
        .domain_uuids
        .iter()
        .map(|u| Uuid::parse_str(u).map_err(|_| invalid(format!("'{u}' is not a UUID"))))
        .collect::<Result<_, _>>()?;
    let objects = ObjectSelector {
        all: raw.all,
        domains: raw.domains.iter().map(|d| Glob::new(d)).collect(),
        domain_uuids,
        pools: raw.pools.iter().map(|d| Glob::new(d)).collect(),
        networks: raw.networks.iter().map(|d| Glob::new(d)).collect(),
    };
    for object in ObjectType::ALL {
        if permissions[type_index(object)] != 0 && !objects.selects(object) {
            return Err(invalid(format!(
                "the rule gives {object} permissions but selects no {object} \
                 (add a selector such as domains = [\"*\"], or all = true)"
            )));
        }
    }
    Ok(Rule {
        kind,
        line,
        comment: raw.comment.as_deref().map(Arc::from),
        subject,
        permissions,
        objects,
    })
}

/// Rules plus the per-subject cache that goes with them.
#[derive(Debug)]
struct Compiled {
    rules: Rules,
    by_subject: RwLock<HashMap<Subject, Arc<[u32]>>>,
}

/// The `rules` driver. [`RulesDriver::replace`] swaps in new rules atomically (SIGHUP).
#[derive(Debug)]
pub struct RulesDriver {
    current: RwLock<Arc<Compiled>>,
}

impl RulesDriver {
    /// A driver with these rules.
    pub fn new(rules: Rules) -> Self {
        Self {
            current: RwLock::new(Arc::new(Compiled {
                rules,
                by_subject: RwLock::new(HashMap::new()),
            })),
        }
    }

    /// Replaces the rules; checks already running finish with the old ones.
    pub fn replace(&self, rules: Rules) {
        let compiled = Arc::new(Compiled {
            rules,
            by_subject: RwLock::new(HashMap::new()),
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = compiled;
    }

    fn compiled(&self) -> Arc<Compiled> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The decision and the rule that made it.
    pub fn explain(&self, subject: &Subject, target: &Target<'_>, perm: Permission) -> Explanation {
        let compiled = self.compiled();
        let cached = compiled
            .by_subject
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .cloned();
        let applicable = match cached {
            Some(list) => list,
            None => {
                let list: Arc<[u32]> = compiled.rules.for_subject(subject).into();
                let mut cache = compiled
                    .by_subject
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if cache.len() >= SUBJECT_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(subject.clone(), Arc::clone(&list));
                list
            }
        };
        compiled.rules.decide(&applicable, target, perm)
    }
}

impl AccessDriver for RulesDriver {
    fn name(&self) -> &str {
        "rules"
    }

    fn check(&self, subject: &Subject, target: &Target<'_>, permission: Permission) -> Decision {
        if self.explain(subject, target, permission).allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[roles]
viewer = ["connect:getattr", "connect:read", "connect:search_domains",
          "domain:getattr", "domain:read"]
operator = ["@viewer", "domain:start", "domain:stop"]
admin = ["connect:*", "domain:*"]

[[grant]]
users = ["alice"]
role = "viewer"
domains = ["web-*"]

[[grant]]
groups = ["ops"]
role = "operator"
domain_uuids = ["6f2b7d1e-2c3a-4e8f-9b1a-0c2d3e4f5a6b"]

[[grant]]
uids = [0]
role = "admin"
all = true

[[deny]]
users = ["alice"]
permissions = ["domain:read"]
domains = ["web-secret"]
"#;

    fn alice() -> Subject {
        Subject {
            uid: Some(1001),
            user: Some("alice".into()),
            groups: vec!["alice".into()],
            ..Subject::default()
        }
    }

    fn perm(text: &str) -> Permission {
        text.parse().unwrap()
    }

    #[test]
    fn grants_denials_and_default_deny() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        let web = Target::domain("web-1", Uuid::nil());
        let db = Target::domain("db-1", Uuid::nil());
        let a = alice();
        let e = rules.explain(&a, &web, perm("domain:read"));
        assert!(e.allowed);
        assert_eq!(e.rule.as_ref().unwrap().line, 8);
        assert!(!rules.explain(&a, &db, perm("domain:read")).allowed);
        assert_eq!(rules.explain(&a, &db, perm("domain:read")).rule, None);
        assert!(!rules.explain(&a, &web, perm("domain:start")).allowed);
        let secret = Target::domain("web-secret", Uuid::nil());
        let e = rules.explain(&a, &secret, perm("domain:read"));
        assert!(!e.allowed);
        assert_eq!(e.rule.as_ref().unwrap().kind, RuleKind::Deny);
        assert!(rules.explain(&a, &secret, perm("domain:getattr")).allowed);
        assert!(
            rules
                .explain(&a, &Target::connect("QEMU"), perm("connect:getattr"))
                .allowed
        );
        assert!(
            !rules
                .explain(&a, &Target::connect("QEMU"), perm("connect:write"))
                .allowed
        );
    }

    #[test]
    fn groups_uuids_and_roles_including_roles() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        let bob = Subject {
            uid: Some(1002),
            user: Some("bob".into()),
            groups: vec!["bob".into(), "ops".into()],
            ..Subject::default()
        };
        let uuid = Uuid::parse_str("6f2b7d1e-2c3a-4e8f-9b1a-0c2d3e4f5a6b").unwrap();
        let mine = Target::domain("anything", uuid);
        assert!(rules.explain(&bob, &mine, perm("domain:start")).allowed);
        assert!(rules.explain(&bob, &mine, perm("domain:read")).allowed);
        assert!(!rules.explain(&bob, &mine, perm("domain:delete")).allowed);
        let root = Subject {
            uid: Some(0),
            ..Subject::default()
        };
        assert!(rules.explain(&root, &mine, perm("domain:delete")).allowed);
    }

    #[test]
    fn errors_have_lines() {
        let cases = [
            (
                "[[grant]]\nrole = \"x\"\nall = true\n",
                "line 1: the rule names no subject",
            ),
            (
                "[[grant]]\nusers = [\"a\"]\nrole = \"nope\"\nall = true\n",
                "line 1: unknown role 'nope'",
            ),
            (
                "\n[[grant]]\nusers = [\"a\"]\npermissions = [\"domain:read\"]\n",
                "line 2: the rule gives domain permissions but selects no domain",
            ),
            (
                "[[grant]]\nusers = [\"a\"]\npermissions = [\"domain:fly\"]\nall = true\n",
                "line 1: object type 'domain' has no permission 'fly'",
            ),
            (
                "[roles]\na = [\"@b\"]\nb = [\"@a\"]\n",
                "includes itself through other roles",
            ),
            ("[[grant]]\nusers = \"a\"\n", "rules are not valid"),
            ("[[grant]]\nuserz = [\"a\"]\n", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = Rules::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn driver_caches_per_subject_and_reloads() {
        let driver = RulesDriver::new(Rules::parse(EXAMPLE).unwrap());
        let web = Target::domain("web-1", Uuid::nil());
        assert_eq!(
            driver.check(&alice(), &web, perm("domain:read")),
            Decision::Allow
        );
        assert_eq!(
            driver.check(&alice(), &web, perm("domain:read")),
            Decision::Allow
        );
        driver.replace(Rules::default());
        assert_eq!(
            driver.check(&alice(), &web, perm("domain:read")),
            Decision::Deny
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_shipped_example_parses_and_means_what_it_says() {
        let rules = Rules::parse(include_str!("../../../../examples/access-rules.toml")).unwrap();
        let root = Subject {
            uid: Some(0),
            ..Subject::default()
        };
        let target = Target::domain("any", Uuid::nil());
        let delete: Permission = "domain:delete".parse().unwrap();
        assert!(rules.explain(&root, &target, delete).allowed);
        let stranger = Subject {
            uid: Some(4242),
            user: Some("stranger".into()),
            ..Subject::default()
        };
        assert!(!rules.explain(&stranger, &target, delete).allowed);
    }
}

/// The rules file comes from an administrator, but a typo or a truncated copy must never take
/// the daemon down: any text gives a decision or an error, never a panic.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    const EXAMPLE: &str = include_str!("../../../../examples/access-rules.toml");

    proptest! {
        #[test]
        fn any_text_parses_or_fails_cleanly(text in ".{0,400}") {
            let _ = Rules::parse(&text);
        }

        #[test]
        fn damaged_examples_parse_or_fail_cleanly(
            cut in 0usize..EXAMPLE.len(),
            at in 0usize..EXAMPLE.len(),
            junk in "[\\[\\]=\"*,.a-z0-9 \n]{0,12}",
        ) {
            let mut text: String = EXAMPLE.chars().take(cut.max(1)).collect();
            let at = text.char_indices().map(|(i, _)| i).find(|&i| i >= at.min(text.len())).unwrap_or(text.len());
            text.insert_str(at, &junk);
            if let Err(err) = Rules::parse(&text) {
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }
}
