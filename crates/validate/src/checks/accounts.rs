//! `accounts-minimal`: accounts that can log in, beyond root and the platform administrators.
//!
//! Read from `/etc/passwd`, `/etc/group`, `/etc/shells` and `UID_MIN` in `/etc/login.defs`
//! (default 1000). An account can log in when its shell is a login shell (listed in
//! `/etc/shells`, or anything but `nologin`/`false`/`sync`/`shutdown`/`halt` when that file is
//! missing). Administrators are root, the members of `wheel`, `sudo` and `admin` (by list or
//! primary group) and the users allowed with `--allow-user`.

use std::collections::BTreeSet;

use super::Check;
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

/// `accounts-minimal`.
pub static MINIMAL: Check = Check {
    info: CheckInfo {
        id: "accounts-minimal",
        title: "Only platform-management accounts can log in",
        guide: "2.2, 2.2.1",
        rationale:
            "The guide asks to add only the minimum number of user accounts needed for platform \
management and to remove the rest (2.2), and not to let normal users access the host operating \
system: the host is privileged, and an unprivileged account there may compromise it (2.2.1), \
and through it every guest.",
        remediation:
            "Remove accounts that are not needed (`userdel <user>`), or take away their shell \
(`usermod -s /sbin/nologin <user>`); give system accounts a nologin shell; keep uid 0 for root \
alone. Administrators belong in the wheel (or sudo) group; other accepted accounts can be named \
with `moat validate --allow-user NAME`.",
        live_only: false,
    },
    run: minimal,
};

const PASSWD: &str = "/etc/passwd";
const ADMIN_GROUPS: [&str; 3] = ["wheel", "sudo", "admin"];
/// Groups whose members get full access to libvirt's or Moat's read-write socket.
const DAEMON_GROUPS: [&str; 3] = ["libvirt", "moat", "kvm"];
const NON_LOGIN_SHELLS: [&str; 6] = ["nologin", "false", "sync", "shutdown", "halt", "null"];

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn groups(text: &str) -> Vec<Group> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some(Group {
                name: (*fields.first()?).to_owned(),
                gid: fields.get(2)?.parse().ok()?,
                members: fields
                    .get(3)
                    .map(|members| {
                        members
                            .split(',')
                            .filter(|member| !member.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn in_group(group: &Group, user: &str, primary_gid: u32) -> bool {
    group.gid == primary_gid || group.members.iter().any(|member| member == user)
}

fn minimal(host: &Host<'_>) -> Vec<Finding> {
    match minimal_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

fn minimal_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    let Some(passwd) = root.read(PASSWD)? else {
        return Ok(vec![Finding::at(
            Status::Error,
            "no /etc/passwd to read accounts from",
            Location::file(PASSWD),
        )]);
    };
    let uid_min = root
        .read("/etc/login.defs")?
        .and_then(|text| {
            text.lines()
                .filter_map(|line| {
                    let mut words = line.split_whitespace();
                    (words.next() == Some("UID_MIN"))
                        .then(|| words.next()?.parse::<u32>().ok())
                        .flatten()
                })
                .next_back()
        })
        .unwrap_or(1000);
    let shells: Option<BTreeSet<String>> = root.read("/etc/shells")?.map(|text| {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect()
    });
    let groups = groups(&root.read("/etc/group")?.unwrap_or_default());
    let is_login_shell = |shell: &str| {
        let name = shell.rsplit('/').next().unwrap_or(shell);
        !shell.is_empty()
            && !NON_LOGIN_SHELLS.contains(&name)
            && shells
                .as_ref()
                .map_or(true, |shells| shells.contains(shell))
    };
    let mut findings = Vec::new();
    let mut admins = Vec::new();
    for (index, line) in passwd.lines().enumerate() {
        let fields: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(uid), Some(gid), Some(shell)) = (
            fields.first(),
            fields.get(2).and_then(|uid| uid.parse::<u32>().ok()),
            fields.get(3).and_then(|gid| gid.parse::<u32>().ok()),
            fields.get(6),
        ) else {
            continue;
        };
        let location = Location::line(PASSWD, index + 1);
        if uid == 0 && *name != "root" {
            findings.push(Finding::at(
                Status::Fail,
                format!("{name} has uid 0: a second root account"),
                location.clone(),
            ));
            continue;
        }
        for group in groups
            .iter()
            .filter(|group| DAEMON_GROUPS.contains(&group.name.as_str()))
        {
            if group.members.iter().any(|member| member == name) {
                findings.push(Finding::at(
                    Status::Info,
                    format!(
                        "{name} is in group {}: full access to the virtualization daemon's socket where it owns it",
                        group.name
                    ),
                    location.clone(),
                ));
            }
        }
        if uid == 0 || !is_login_shell(shell) {
            continue;
        }
        let admin = ADMIN_GROUPS.iter().find_map(|admin_group| {
            groups
                .iter()
                .find(|group| group.name == *admin_group && in_group(group, name, gid))
        });
        if let Some(group) = admin {
            admins.push(format!("{name} ({})", group.name));
        } else if host.settings.allowed_users.iter().any(|user| user == name) {
            admins.push(format!("{name} (allowed)"));
        } else if uid >= uid_min && uid != 65534 {
            findings.push(Finding::at(
                Status::Fail,
                format!("normal user {name} (uid {uid}) can log in with {shell}"),
                location,
            ));
        } else {
            findings.push(Finding::at(
                Status::Warn,
                format!("system account {name} (uid {uid}) has a login shell {shell}"),
                location,
            ));
        }
    }
    let admin_text = if admins.is_empty() {
        "root".to_owned()
    } else {
        format!("root, {}", admins.join(", "))
    };
    findings.push(Finding::at(
        Status::Pass,
        format!("platform-management accounts that can log in: {admin_text}"),
        Location::file(PASSWD),
    ));
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    const BASE: &str = "root:x:0:0:root:/root:/bin/bash\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        sync:x:4:65534:sync:/bin:/bin/sync\n\
        qemu:x:107:107:qemu user:/:/sbin/nologin\n\
        admin1:x:1000:1000::/home/admin1:/bin/bash\n";

    fn host(passwd: &str) -> Fixture {
        let fixture = Fixture::offline();
        fixture
            .file(PASSWD, passwd)
            .file(
                "/etc/group",
                "root:x:0:\nwheel:x:10:admin1\nadmin1:x:1000:\n",
            )
            .file("/etc/shells", "/bin/sh\n/bin/bash\n")
            .file("/etc/login.defs", "UID_MIN                  1000\n");
        fixture
    }

    #[test]
    fn root_and_wheel_admins_pass() {
        let result = host(BASE).expect(&MINIMAL, Status::Pass);
        assert!(has(&result, Status::Pass, "root, admin1 (wheel)"));
    }

    #[test]
    fn extra_login_users_fail_at_their_line() {
        let passwd = format!("{BASE}alice:x:1001:1001::/home/alice:/bin/bash\n");
        let result = host(&passwd).expect(&MINIMAL, Status::Fail);
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.status == Status::Fail
                && finding.message.contains("normal user alice")
                && finding.location == Some(Location::line(PASSWD, 6))));
    }

    #[test]
    fn allowed_users_pass_and_second_root_fails() {
        let passwd = format!("{BASE}alice:x:1001:1001::/home/alice:/bin/bash\n");
        let mut fixture = host(&passwd);
        fixture.settings.allowed_users = vec!["alice".to_owned()];
        fixture.expect(&MINIMAL, Status::Pass);
        let passwd = format!("{BASE}toor:x:0:0::/root:/bin/sh\n");
        let result = host(&passwd).expect(&MINIMAL, Status::Fail);
        assert!(has(&result, Status::Fail, "toor has uid 0"));
    }

    #[test]
    fn system_accounts_with_shells_warn() {
        let passwd = format!("{BASE}postgres:x:101:104::/var/lib/postgresql:/bin/bash\n");
        let result = host(&passwd).expect(&MINIMAL, Status::Warn);
        assert!(has(&result, Status::Warn, "system account postgres"));
    }

    #[test]
    fn missing_passwd_is_an_error() {
        Fixture::offline().expect(&MINIMAL, Status::Error);
    }
}
