//! `services-unneeded`: the network services the guide names (AutoFS, NFS, FTP, HTTP, NIS,
//! telnetd, sendmail) and their kin, enabled or running.
//!
//! Read the way `systemctl --root` would, without systemd:
//! - *masked*: the unit in `/etc/systemd/system` or `/run/systemd/system` links to `/dev/null`;
//! - *enabled*: a `<unit>` link in some `*.wants/` or `*.requires/` directory of the unit search
//!   path (admin, runtime and vendor), or a SysV `S??name` link in `/etc/rc[2-5].d`;
//! - *installed*: a unit file anywhere on the search path;
//! - *active* (live only): systemd's `/run/systemd/units/invocation:<unit>` marker, or a process
//!   with the daemon's name;
//! - xinetd services with `disable = no` in `/etc/xinetd.d`.
//!
//! Masked or absent passes; enabled or active fails; installed but disabled is `info`, since
//! anything can still pull a disabled unit in as a dependency.

use std::collections::BTreeMap;

use super::procfs::{self, Process};
use super::Check;
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::{FileKind, HostRoot, RootError};

/// `services-unneeded`.
pub static UNNEEDED: Check = Check {
    info: CheckInfo {
        id: "services-unneeded",
        title: "Unneeded network services disabled (AutoFS, NFS, FTP, HTTP, NIS, telnet, sendmail…)",
        guide: "2.2, 2.2.1",
        rationale: "The guide asks to remove or disable every unnecessary service such as AutoFS, NFS, FTP, \
HTTP, NIS, telnetd and sendmail (2.2), and to run only necessary services on the host: the \
fewer processes and services run there, the higher its security and performance (2.2.1). Each \
such daemon is attack surface on the one machine whose compromise exposes every guest.",
        remediation: "Stop, disable and mask each one: `systemctl disable --now <unit>` then \
`systemctl mask <unit>` (for socket-activated ones such as telnet.socket mask the socket too), \
or remove its package. For xinetd services set `disable = yes` in /etc/xinetd.d/<service>.",
        live_only: false,
    },
    run: unneeded,
};

/// A service family the guide names, with its units and daemon process names.
struct Service {
    what: &'static str,
    units: &'static [&'static str],
    processes: &'static [&'static str],
}

const SERVICES: &[Service] = &[
    Service {
        what: "AutoFS automounter",
        units: &["autofs.service"],
        processes: &["automount"],
    },
    Service {
        what: "NFS server",
        units: &[
            "nfs-server.service",
            "nfs.service",
            "nfs-kernel-server.service",
        ],
        processes: &["rpc.mountd", "nfsd"],
    },
    Service {
        what: "RPC portmapper (NFS, NIS)",
        units: &["rpcbind.service", "rpcbind.socket"],
        processes: &["rpcbind"],
    },
    Service {
        what: "FTP server",
        units: &["vsftpd.service", "proftpd.service", "pure-ftpd.service"],
        processes: &["vsftpd", "proftpd", "pure-ftpd"],
    },
    Service {
        what: "HTTP server",
        units: &[
            "httpd.service",
            "apache2.service",
            "nginx.service",
            "lighttpd.service",
        ],
        processes: &["httpd", "apache2", "nginx", "lighttpd"],
    },
    Service {
        what: "NIS",
        units: &["ypbind.service", "ypserv.service", "nis.service"],
        processes: &["ypbind", "ypserv"],
    },
    Service {
        what: "telnet server",
        units: &["telnet.socket", "telnetd.socket", "telnet@.service"],
        processes: &["in.telnetd", "telnetd"],
    },
    Service {
        what: "sendmail",
        units: &["sendmail.service", "sm-client.service"],
        processes: &["sendmail"],
    },
    Service {
        what: "inetd super-server",
        units: &["xinetd.service", "inetd.service", "openbsd-inetd.service"],
        processes: &["xinetd", "inetd"],
    },
    Service {
        what: "r-services (rsh, rlogin, rexec)",
        units: &["rsh.socket", "rlogin.socket", "rexec.socket"],
        processes: &["in.rshd", "in.rlogind", "in.rexecd"],
    },
    Service {
        what: "TFTP server",
        units: &["tftp.socket", "tftp.service", "tftpd-hpa.service"],
        processes: &["in.tftpd"],
    },
    Service {
        what: "Samba file server",
        units: &["smb.service", "smbd.service", "nmb.service", "nmbd.service"],
        processes: &["smbd", "nmbd"],
    },
];

/// The unit search path, most specific first.
const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// The enablement links and unit files found on the search path.
#[derive(Default)]
struct UnitTree {
    /// Unit name → the first `.wants/`/`.requires/` link that enables it.
    enabled_by: BTreeMap<String, String>,
    /// Unit name → the first unit file.
    files: BTreeMap<String, String>,
    /// Unit names masked in /etc or /run.
    masked: BTreeMap<String, String>,
}

fn unit_tree(root: &HostRoot) -> Result<UnitTree, RootError> {
    let mut tree = UnitTree::default();
    for dir in UNIT_DIRS {
        for entry in root.list(dir)? {
            if entry.kind == FileKind::Dir
                && (entry.name.ends_with(".wants") || entry.name.ends_with(".requires"))
            {
                for link in root.list(&entry.path)? {
                    tree.enabled_by
                        .entry(link.name.clone())
                        .or_insert(link.path);
                }
                continue;
            }
            if dir.starts_with("/etc") || dir.starts_with("/run") {
                if let Some(target) = root.link_target(&entry.path)? {
                    if target == "/dev/null" {
                        tree.masked.entry(entry.name.clone()).or_insert(entry.path);
                        continue;
                    }
                }
            }
            tree.files.entry(entry.name).or_insert(entry.path);
        }
    }
    Ok(tree)
}

/// The link that enables `unit` (and it is not masked), if any.
pub(crate) fn enabled_link(root: &HostRoot, unit: &str) -> Result<Option<String>, RootError> {
    let tree = unit_tree(root)?;
    if tree.masked.contains_key(unit) {
        return Ok(None);
    }
    Ok(tree.enabled_by.get(unit).cloned())
}

/// SysV start links: `/etc/rcN.d/S??name` → name.
fn sysv_links(root: &HostRoot) -> Result<BTreeMap<String, String>, RootError> {
    let mut links = BTreeMap::new();
    for level in 2..=5 {
        for entry in root.list(&format!("/etc/rc{level}.d"))? {
            if let Some(rest) = entry.name.strip_prefix('S') {
                let name = rest.trim_start_matches(|ch: char| ch.is_ascii_digit());
                links.entry(name.to_owned()).or_insert(entry.path);
            }
        }
    }
    Ok(links)
}

fn unneeded(host: &Host<'_>) -> Vec<Finding> {
    match unneeded_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

fn unneeded_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    let tree = unit_tree(root)?;
    let sysv = sysv_links(root)?;
    let running: Vec<Process> = if host.is_live() {
        procfs::processes(root)?
    } else {
        Vec::new()
    };
    let mut findings = Vec::new();
    for service in SERVICES {
        for unit in service.units {
            findings.extend(judge_unit(host, &tree, &sysv, service, unit)?);
        }
        for name in service.processes {
            if let Some(process) = running.iter().find(|process| process.comm == *name) {
                findings.push(Finding::at(
                    Status::Fail,
                    format!("{} is running ({name})", service.what),
                    Location::Process {
                        pid: process.pid,
                        name: process.comm.clone(),
                    },
                ));
            }
        }
    }
    findings.extend(xinetd(root)?);
    if !findings
        .iter()
        .any(|finding| finding.status != Status::Pass)
    {
        let names: Vec<&str> = SERVICES.iter().map(|service| service.what).collect();
        findings.push(Finding::new(
            Status::Pass,
            format!("none enabled or running: {}", names.join(", ")),
        ));
    }
    Ok(findings)
}

fn judge_unit(
    host: &Host<'_>,
    tree: &UnitTree,
    sysv: &BTreeMap<String, String>,
    service: &Service,
    unit: &str,
) -> Result<Vec<Finding>, RootError> {
    let unit_location = |path: Option<&String>| Location::Unit {
        name: unit.to_owned(),
        path: path.cloned(),
    };
    if let Some(path) = tree.masked.get(unit) {
        return Ok(vec![Finding::at(
            Status::Pass,
            format!("{unit} is masked"),
            unit_location(Some(path)),
        )]);
    }
    let mut findings = Vec::new();
    let base = unit
        .strip_suffix(".service")
        .filter(|base| !base.ends_with('@'));
    if let Some(link) = tree.enabled_by.get(unit) {
        findings.push(Finding::at(
            Status::Fail,
            format!("{} is enabled: {unit}", service.what),
            unit_location(Some(link)),
        ));
    } else if let Some(link) = base.and_then(|base| sysv.get(base)) {
        findings.push(Finding::at(
            Status::Fail,
            format!("{} is enabled by a SysV start link: {unit}", service.what),
            unit_location(Some(link)),
        ));
    }
    if host.is_live()
        && host
            .root
            .exists(&format!("/run/systemd/units/invocation:{unit}"))?
    {
        findings.push(Finding::at(
            Status::Fail,
            format!("{} is active: {unit}", service.what),
            unit_location(None),
        ));
    }
    if findings.is_empty() {
        if let Some(path) = tree.files.get(unit) {
            findings.push(Finding::at(
                Status::Info,
                format!("{unit} is installed but disabled: mask it or remove its package"),
                unit_location(Some(path)),
            ));
        }
    }
    Ok(findings)
}

/// xinetd services switched on with `disable = no`.
fn xinetd(root: &HostRoot) -> Result<Vec<Finding>, RootError> {
    let mut findings = Vec::new();
    for entry in root.list("/etc/xinetd.d")? {
        let Some(text) = root.read(&entry.path)? else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let mut words = line.split('=').map(str::trim);
            if words.next() == Some("disable") && words.next() == Some("no") {
                findings.push(Finding::at(
                    Status::Fail,
                    format!("xinetd service {} is enabled", entry.name),
                    Location::line(entry.path.clone(), index + 1),
                ));
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    #[test]
    fn wants_links_for_autofs_and_telnet_socket_fail() {
        let fixture = Fixture::offline();
        fixture
            .file("/usr/lib/systemd/system/autofs.service", "[Install]\n")
            .link(
                "/etc/systemd/system/multi-user.target.wants/autofs.service",
                "/usr/lib/systemd/system/autofs.service",
            )
            .link(
                "/etc/systemd/system/sockets.target.wants/telnet.socket",
                "/usr/lib/systemd/system/telnet.socket",
            );
        let result = fixture.expect(&UNNEEDED, Status::Fail);
        assert!(has(&result, Status::Fail, "AutoFS automounter is enabled"));
        assert!(has(
            &result,
            Status::Fail,
            "telnet server is enabled: telnet.socket"
        ));
        assert!(result.findings.iter().any(|finding| finding.location
            == Some(Location::Unit {
                name: "telnet.socket".to_owned(),
                path: Some("/etc/systemd/system/sockets.target.wants/telnet.socket".to_owned())
            })));
    }

    #[test]
    fn masked_and_absent_units_pass() {
        let fixture = Fixture::offline();
        fixture
            .file("/usr/lib/systemd/system/autofs.service", "[Install]\n")
            .link("/etc/systemd/system/autofs.service", "/dev/null")
            .link("/etc/systemd/system/telnet.socket", "/dev/null")
            .dir("/etc/systemd/system/multi-user.target.wants");
        let result = fixture.expect(&UNNEEDED, Status::Pass);
        assert!(has(&result, Status::Pass, "autofs.service is masked"));
        Fixture::offline().expect(&UNNEEDED, Status::Pass);
    }

    #[test]
    fn installed_but_disabled_is_info() {
        let fixture = Fixture::offline();
        fixture.file("/lib/systemd/system/vsftpd.service", "[Install]\n");
        fixture.expect(&UNNEEDED, Status::Info);
    }

    #[test]
    fn running_daemons_and_active_units_fail_live() {
        let fixture = Fixture::live();
        fixture
            .file("/proc/300/comm", "sendmail\n")
            .file("/proc/300/cmdline", "sendmail: accepting connections\0");
        let result = fixture.expect(&UNNEEDED, Status::Fail);
        assert!(has(&result, Status::Fail, "sendmail is running"));
        let fixture = Fixture::live();
        fixture.file("/run/systemd/units/invocation:nfs-server.service", "");
        let result = fixture.expect(&UNNEEDED, Status::Fail);
        assert!(has(&result, Status::Fail, "NFS server is active"));
    }

    #[test]
    fn sysv_links_and_xinetd_services_fail() {
        let fixture = Fixture::offline();
        fixture.link("/etc/rc3.d/S20httpd", "../init.d/httpd");
        let result = fixture.expect(&UNNEEDED, Status::Fail);
        assert!(has(&result, Status::Fail, "SysV start link"));
        let fixture = Fixture::offline();
        fixture.file(
            "/etc/xinetd.d/telnet",
            "service telnet\n{\n\tdisable\t= no\n}\n",
        );
        let result = fixture.expect(&UNNEEDED, Status::Fail);
        assert_eq!(
            result.findings[0].location,
            Some(Location::line("/etc/xinetd.d/telnet", 3))
        );
    }
}
