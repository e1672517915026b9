//! The checks, one module per family, and the table of all of them in report order.
//!
//! Each check is a [`CheckInfo`] (stable id, guide section, rationale, remediation) and a
//! function from a [`Host`] to findings. The functions read files only through
//! [`Host::root`](crate::host::Host) and look at live kernel state only when the host is live;
//! checks marked `live_only` are not called at all on an offline root.

pub mod access;
pub mod accounts;
pub mod boot;
pub mod firewall;
pub mod kvm;
mod lvm;
pub mod network;
mod procfs;
pub mod selinux;
pub mod services;
pub mod storage;
pub mod svirt;

use crate::check::{CheckInfo, CheckResult, Finding, Status};
use crate::host::Host;

/// A check: its description and the function that carries it out.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Id, title, guide section, rationale, remediation.
    pub info: CheckInfo,
    /// Looks at the host and returns what it saw (never empty).
    pub run: fn(&Host<'_>) -> Vec<Finding>,
}

/// Every check, in the order of the issue that defines them.
pub static ALL: [&Check; 15] = [
    &selinux::ENFORCING,
    &selinux::VIRT_BOOLEANS,
    &services::UNNEEDED,
    &network::LISTENERS,
    &accounts::MINIMAL,
    &firewall::DEFAULT_REJECT,
    &kvm::HOST_CAPABLE,
    &storage::IMAGES_CENTRAL_STORE,
    &access::CONTROL_ENABLED,
    &boot::FSTAB_UUID,
    &boot::CMDLINE_UUID,
    &storage::NO_WHOLE_DISK,
    &storage::LVM_GLOBAL_FILTER,
    &svirt::CONFINED,
    &svirt::UNIQUE_LABELS,
];

/// The check with id `id`.
pub fn find(id: &str) -> Option<&'static Check> {
    ALL.iter().copied().find(|check| check.info.id == id)
}

/// Runs one check on `host`.
pub fn run(check: &Check, host: &Host<'_>) -> CheckResult {
    if check.info.live_only && !host.is_live() {
        return CheckResult::new(
            &check.info,
            vec![Finding::new(
                Status::NotApplicable,
                "needs the running kernel; an offline --root has none",
            )],
        );
    }
    let mut findings = (check.run)(host);
    if findings.is_empty() {
        findings.push(Finding::new(Status::Pass, "nothing to report"));
    }
    CheckResult::new(&check.info, findings)
}

/// One `KEY=value` assignment of a shell-style file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    /// Line, from 1.
    pub line: usize,
    /// The key.
    pub key: String,
    /// The value with surrounding quotes removed.
    pub value: String,
}

/// The `KEY=value` lines of a shell-style file (`/etc/selinux/config`, `/etc/default/grub`),
/// skipping comments and blank lines.
pub(crate) fn assignments(text: &str) -> Vec<Assignment> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            Some(Assignment {
                line: index + 1,
                key: key.trim().to_owned(),
                value: unquote(value.trim()).to_owned(),
            })
        })
        .collect()
}

/// `value` without one level of surrounding single or double quotes.
pub(crate) fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The `name=value` (or bare `name`) parameters of a kernel command line, honouring double
/// quotes around values with spaces.
pub(crate) fn kernel_params(cmdline: &str) -> Vec<(String, Option<String>)> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in cmdline.chars().chain(std::iter::once(' ')) {
        match ch {
            '"' => quoted = !quoted,
            ch if ch.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    let param = std::mem::take(&mut current);
                    match param.split_once('=') {
                        Some((name, value)) => {
                            params.push((name.to_owned(), Some(value.to_owned())))
                        }
                        None => params.push((param, None)),
                    }
                }
            }
            ch => current.push(ch),
        }
    }
    params
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_the_issue_order() {
        let ids: Vec<&str> = ALL.iter().map(|check| check.info.id).collect();
        assert_eq!(
            ids,
            [
                "selinux-enforcing",
                "selinux-virt-booleans",
                "services-unneeded",
                "network-listeners",
                "accounts-minimal",
                "firewall-default-reject",
                "kvm-host-capable",
                "images-central-store",
                "access-control-enabled",
                "fstab-uuid-not-label",
                "cmdline-uuid-not-label",
                "guest-no-whole-disk",
                "lvm-global-filter",
                "svirt-confined",
                "svirt-unique-labels",
            ]
        );
        for check in ALL {
            assert!(!check.info.rationale.is_empty() && !check.info.remediation.is_empty());
        }
    }

    #[test]
    fn assignments_skip_comments_and_unquote() {
        let parsed = assignments("# c\n\nSELINUX=enforcing\nGRUB_CMDLINE_LINUX=\"a b\"\n");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].line, 3);
        assert_eq!(parsed[1].value, "a b");
    }

    #[test]
    fn kernel_params_split_on_unquoted_spaces() {
        let params = kernel_params("root=LABEL=\"my root\" ro quiet selinux=0");
        assert_eq!(
            params[0],
            ("root".to_owned(), Some("LABEL=my root".to_owned()))
        );
        assert_eq!(params[1], ("ro".to_owned(), None));
        assert_eq!(params[3], ("selinux".to_owned(), Some("0".to_owned())));
    }
}
