//! `moat acl check`: one decision of the rules driver, explained (like polkit's pkcheck, but
//! saying which rule decided).

use std::path::PathBuf;

use acl::rules::RuleKind;
use acl::{ObjectType, Permission, Rules, Subject, Target};
use anyhow::{bail, Context as _};
use uuid::Uuid;

/// What to decide.
#[derive(Debug)]
pub struct Request {
    pub rules: PathBuf,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub groups: Vec<String>,
    pub x509_dn: Option<String>,
    pub permission: String,
    pub domain: Option<String>,
    pub uuid: Option<String>,
    pub pool: Option<String>,
    pub network: Option<String>,
}

/// The subject: names given, completed from the user database.
fn subject(req: &Request) -> anyhow::Result<Subject> {
    if req.user.is_none() && req.uid.is_none() && req.groups.is_empty() && req.x509_dn.is_none() {
        bail!("name a subject: --user, --uid, --group or --x509-dn");
    }
    let account = match (&req.user, req.uid) {
        (Some(name), _) => nix::unistd::User::from_name(name).ok().flatten(),
        (None, Some(uid)) => nix::unistd::User::from_uid(uid.into()).ok().flatten(),
        (None, None) => None,
    };
    if let (Some(name), None) = (&req.user, &account) {
        if req.uid.is_none() && req.groups.is_empty() {
            bail!("no user '{name}' in the user database; give --uid and --group too");
        }
    }
    let groups = if req.groups.is_empty() {
        account
            .as_ref()
            .and_then(|a| {
                let name = std::ffi::CString::new(a.name.clone()).ok()?;
                nix::unistd::getgrouplist(&name, a.gid).ok()
            })
            .unwrap_or_default()
            .into_iter()
            .filter_map(|gid| nix::unistd::Group::from_gid(gid).ok().flatten())
            .map(|g| g.name)
            .collect()
    } else {
        req.groups.clone()
    };
    Ok(Subject {
        uid: req.uid.or(account.as_ref().map(|a| a.uid.as_raw())),
        gid: account.as_ref().map(|a| a.gid.as_raw()),
        user: req.user.clone().or(account.map(|a| a.name)),
        groups,
        x509_dn: req.x509_dn.clone(),
        ..Subject::default()
    })
}

/// Prints the decision; returns the exit status (0 allowed, 1 denied).
pub fn run(req: &Request) -> anyhow::Result<u8> {
    let permission: Permission = req
        .permission
        .parse()
        .with_context(|| format!("invalid permission '{}'", req.permission))?;
    let rules = Rules::load(&req.rules)?;
    let subject = subject(req)?;
    let uuid = req
        .uuid
        .as_deref()
        .map(|u| Uuid::parse_str(u).with_context(|| format!("'{u}' is not a UUID")))
        .transpose()?;
    let (name, parent) = match permission.object() {
        ObjectType::Connect => ("QEMU", None),
        ObjectType::Domain => (
            req.domain
                .as_deref()
                .context("give the guest: --domain NAME")?,
            None,
        ),
        ObjectType::StoragePool => (
            req.pool.as_deref().context("give the pool: --pool NAME")?,
            None,
        ),
        ObjectType::StorageVol => (
            "",
            Some(
                req.pool
                    .as_deref()
                    .context("give the volume's pool: --pool NAME")?,
            ),
        ),
        ObjectType::Network => (
            req.network
                .as_deref()
                .context("give the network: --network NAME")?,
            None,
        ),
        ObjectType::NetworkPort => (
            "",
            Some(
                req.network
                    .as_deref()
                    .context("give the port's network: --network NAME")?,
            ),
        ),
        _ => ("", None),
    };
    let target = Target {
        object: permission.object(),
        name,
        uuid,
        parent,
    };
    let explanation = rules.explain(&subject, &target, permission);
    let who = subject
        .user
        .clone()
        .or(subject.uid.map(|u| format!("uid {u}")))
        .or(subject.x509_dn.clone())
        .unwrap_or_else(|| format!("groups {}", subject.groups.join(",")));
    let on = if name.is_empty() {
        permission.object().name().to_owned()
    } else {
        format!("{} '{name}'", permission.object())
    };
    let verdict = if explanation.allowed { "allow" } else { "deny" };
    let because = match &explanation.rule {
        Some(rule) => {
            let kind = match rule.kind {
                RuleKind::Grant => "grant",
                RuleKind::Deny => "deny",
            };
            let comment = rule
                .comment
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!("{kind} at {}:{}{comment}", req.rules.display(), rule.line)
        }
        None => "no grant matches (default deny)".to_owned(),
    };
    println!("{verdict}: {who} {permission} on {on}: {because}");
    Ok(if explanation.allowed { 0 } else { 1 })
}
