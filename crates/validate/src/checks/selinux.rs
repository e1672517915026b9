//! `selinux-enforcing` and `selinux-virt-booleans`: SELinux itself and the booleans of the
//! guide's table 4.1, read from selinuxfs and the policy store without SELinux's tools.
//!
//! Sources: `/sys/fs/selinux/enforce` (`1` enforcing) and `/sys/fs/selinux/booleans/<name>`
//! (`"<current> <pending>"`) on a live host; `/etc/selinux/config` (`SELINUX=`, `SELINUXTYPE=`);
//! `selinux=0`/`enforcing=0` on `/proc/cmdline` and in `/etc/default/grub`; the persistent
//! boolean overrides of `setsebool -P` in `booleans.local`, wherever the release keeps it.

use super::{assignments, kernel_params, Check};
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

/// `selinux-enforcing`.
pub static ENFORCING: Check = Check {
    info: CheckInfo {
        id: "selinux-enforcing",
        title: "SELinux enabled and enforcing, now and at boot",
        guide: "2.2, 2.2.1",
        rationale: "The guide's first host task is to run SELinux in enforcing mode (2.2) and to enable it \
on the hypervisor (2.2.1). SELinux checks every access after the ordinary permissions and limits \
what a compromised hypervisor or guest process can reach; sVirt builds on it to give each guest's \
QEMU and images their own label, so one guest cannot open another's storage (1.3, 4.2). A host \
whose guests all run in one unconfined domain is one exploit away from losing every guest.",
        remediation: "Install the SELinux policy and enable it: set SELINUX=enforcing (and SELINUXTYPE=targeted) \
in /etc/selinux/config, remove selinux=0 and enforcing=0 from the kernel command line \
(/etc/default/grub, then regenerate the boot loader configuration), relabel with \
`touch /.autorelabel` and reboot. On a running host that is only permissive, run \
`setenforce 1` as the guide says. (On Debian: install selinux-basics selinux-policy-default and \
run selinux-activate.) Until SELinux is on, Moat confines guests with its dac+landlock model.",
        live_only: false,
    },
    run: enforcing,
};

/// `selinux-virt-booleans`.
pub static VIRT_BOOLEANS: Check = Check {
    info: CheckInfo {
        id: "selinux-virt-booleans",
        title: "SELinux booleans that affect KVM (guide table 4.1)",
        guide: "4.3",
        rationale: "SELinux booleans switch parts of the policy on or off (4.3). Each virt boolean of the guide's \
table widens what confined guests or users may do: executable memory for guests, guests \
running as user domains, raw IP sockets, the X server, sys_admin in sandboxes, unprivileged \
and staff users starting sVirt domains. Each one that is on without need gives a compromised \
guest more of the host.",
        remediation: "Turn off what the host does not need, persistently: `setsebool -P <boolean> off`. \
Keep virt_use_nfs, virt_use_samba or virt_use_fusefs only where images really live on such \
storage, and virt_use_usb/virt_use_comm only for guests given such devices. Check the current \
state with `getsebool -a | grep virt`.",
        live_only: false,
    },
    run: virt_booleans,
};

/// A boolean of the guide's table 4.1.
struct Boolean {
    name: &'static str,
    description: &'static str,
    /// Whether being on widens guest or user privileges beyond a device or storage need.
    risky: bool,
}

const BOOLEANS: [Boolean; 15] = [
    Boolean {
        name: "staff_use_svirt",
        description: "staff users may create and transition to sVirt domains",
        risky: true,
    },
    Boolean {
        name: "unprivuser_use_svirt",
        description: "unprivileged users may create and transition to sVirt domains",
        risky: true,
    },
    Boolean {
        name: "virt_sandbox_use_audit",
        description: "sandbox containers may send audit messages",
        risky: false,
    },
    Boolean {
        name: "virt_sandbox_use_netlink",
        description: "sandbox containers may use netlink system calls",
        risky: false,
    },
    Boolean {
        name: "virt_sandbox_use_sys_admin",
        description: "sandbox containers may use sys_admin system calls such as mount",
        risky: true,
    },
    Boolean {
        name: "virt_transition_userdomain",
        description: "virtual processes may run as user domains",
        risky: true,
    },
    Boolean {
        name: "virt_use_comm",
        description: "virt may use serial/parallel communication ports",
        risky: false,
    },
    Boolean {
        name: "virt_use_execmem",
        description: "confined guests may use executable memory and executable stack",
        risky: true,
    },
    Boolean {
        name: "virt_use_fusefs",
        description: "virt may read FUSE mounted files",
        risky: false,
    },
    Boolean {
        name: "virt_use_nfs",
        description: "virt may manage NFS mounted files",
        risky: false,
    },
    Boolean {
        name: "virt_use_rawip",
        description: "virt may interact with rawip sockets",
        risky: true,
    },
    Boolean {
        name: "virt_use_samba",
        description: "virt may manage CIFS mounted files",
        risky: false,
    },
    Boolean {
        name: "virt_use_sanlock",
        description: "confined guests may interact with sanlock",
        risky: false,
    },
    Boolean {
        name: "virt_use_usb",
        description: "virt may use USB devices",
        risky: false,
    },
    Boolean {
        name: "virt_use_xserver",
        description: "guests may interact with the X Window System",
        risky: true,
    },
];

const CONFIG: &str = "/etc/selinux/config";
const SELINUXFS: [&str; 2] = ["/sys/fs/selinux", "/selinux"];

/// What `/etc/selinux/config` says.
struct SelinuxConfig {
    mode: Option<(String, usize)>,
    policy_type: String,
}

fn read_config(host: &Host<'_>) -> Result<Option<SelinuxConfig>, RootError> {
    let Some(text) = host.root.read(CONFIG)? else {
        return Ok(None);
    };
    let mut config = SelinuxConfig {
        mode: None,
        policy_type: "targeted".to_owned(),
    };
    for assignment in assignments(&text) {
        match assignment.key.as_str() {
            "SELINUX" => config.mode = Some((assignment.value, assignment.line)),
            "SELINUXTYPE" => config.policy_type = assignment.value,
            _ => {}
        }
    }
    Ok(Some(config))
}

/// The mounted selinuxfs, if any.
fn selinuxfs(host: &Host<'_>) -> Result<Option<&'static str>, RootError> {
    for mount in SELINUXFS {
        if host.root.exists(&format!("{mount}/enforce"))? {
            return Ok(Some(mount));
        }
    }
    Ok(None)
}

fn enforcing(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if host.is_live() {
        match live_state(host) {
            Ok(finding) => findings.push(finding),
            Err(err) => findings.push(Finding::error(&err)),
        }
        match host.root.read("/proc/cmdline") {
            Ok(Some(cmdline)) => {
                findings.extend(boot_overrides(&cmdline, Location::file("/proc/cmdline")))
            }
            Ok(None) => {}
            Err(err) => findings.push(Finding::error(&err)),
        }
    }
    match read_config(host) {
        Ok(None) => findings.push(Finding::at(
            Status::Fail,
            "SELinux is not configured: /etc/selinux/config does not exist",
            Location::file(CONFIG),
        )),
        Ok(Some(config)) => match config.mode {
            Some((mode, line)) if mode == "enforcing" => findings.push(Finding::at(
                Status::Pass,
                format!("SELINUX=enforcing at boot (policy {})", config.policy_type),
                Location::line(CONFIG, line),
            )),
            Some((mode, line)) => findings.push(Finding::at(
                Status::Fail,
                format!("SELINUX={mode} at boot: SELinux will not enforce after a reboot"),
                Location::line(CONFIG, line),
            )),
            None => findings.push(Finding::at(
                Status::Fail,
                "no SELINUX= line: the boot mode is not set to enforcing",
                Location::file(CONFIG),
            )),
        },
        Err(err) => findings.push(Finding::error(&err)),
    }
    match boot_config_overrides(host) {
        Ok(found) => findings.extend(found),
        Err(err) => findings.push(Finding::error(&err)),
    }
    findings
}

/// `selinux=0`/`enforcing=0` in the boot configuration: `/etc/default/grub`,
/// `/etc/kernel/cmdline`, BLS entries and grubenv's `kernelopts`.
fn boot_config_overrides(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    let mut findings = Vec::new();
    for (path, key) in [
        ("/etc/default/grub", "GRUB_CMDLINE_LINUX"),
        ("/boot/grub2/grubenv", "kernelopts"),
        ("/boot/grub/grubenv", "kernelopts"),
    ] {
        let Some(text) = root.read(path)? else {
            continue;
        };
        for assignment in assignments(&text) {
            if assignment.key.starts_with(key) {
                findings.extend(boot_overrides(
                    &assignment.value,
                    Location::line(path, assignment.line),
                ));
            }
        }
    }
    if let Some(text) = root.read("/etc/kernel/cmdline")? {
        findings.extend(boot_overrides(&text, Location::file("/etc/kernel/cmdline")));
    }
    for entry in root.list("/boot/loader/entries")? {
        let Some(text) = root.read(&entry.path)? else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            if let Some(options) = line.trim().strip_prefix("options") {
                findings.extend(boot_overrides(
                    options,
                    Location::line(entry.path.clone(), index + 1),
                ));
            }
        }
    }
    Ok(findings)
}

fn live_state(host: &Host<'_>) -> Result<Finding, RootError> {
    let Some(mount) = selinuxfs(host)? else {
        return Ok(Finding::at(
            Status::Fail,
            "SELinux is not enabled in the running kernel: no selinuxfs is mounted at /sys/fs/selinux",
            Location::Device {
                path: "/sys/fs/selinux".to_owned(),
            },
        ));
    };
    let path = format!("{mount}/enforce");
    let value = host.root.read(&path)?.unwrap_or_default();
    Ok(match value.trim() {
        "1" => Finding::at(
            Status::Pass,
            "SELinux is enforcing now",
            Location::file(path),
        ),
        "0" => Finding::at(
            Status::Fail,
            "SELinux is permissive now: denials are logged, not enforced",
            Location::file(path),
        ),
        other => Finding::at(
            Status::Error,
            format!("unexpected enforce value {other:?}"),
            Location::file(path),
        ),
    })
}

fn boot_overrides(cmdline: &str, location: Location) -> Vec<Finding> {
    kernel_params(cmdline)
        .into_iter()
        .filter_map(|(name, value)| match (name.as_str(), value.as_deref()) {
            ("selinux", Some("0")) => Some("selinux=0 on the kernel command line disables SELinux"),
            ("enforcing", Some("0")) => {
                Some("enforcing=0 on the kernel command line boots SELinux permissive")
            }
            _ => None,
        })
        .map(|message| Finding::at(Status::Fail, message, location.clone()))
        .collect()
}

/// Where `setsebool -P` keeps its overrides, by release.
fn booleans_local_paths(policy_type: &str) -> [String; 3] {
    [
        format!("/var/lib/selinux/{policy_type}/active/booleans.local"),
        format!("/etc/selinux/{policy_type}/active/booleans.local"),
        format!("/etc/selinux/{policy_type}/modules/active/booleans.local"),
    ]
}

/// A persistent override: value and where it is set.
struct Override {
    on: bool,
    location: Location,
}

fn persistent_overrides(
    host: &Host<'_>,
    policy_type: &str,
) -> Result<Vec<(String, Override)>, RootError> {
    let mut overrides = Vec::new();
    for path in booleans_local_paths(policy_type) {
        let Some(text) = host.root.read(&path)? else {
            continue;
        };
        for assignment in assignments(&text) {
            let on = matches!(assignment.value.as_str(), "1" | "true" | "on");
            overrides.push((
                assignment.key,
                Override {
                    on,
                    location: Location::line(path.clone(), assignment.line),
                },
            ));
        }
    }
    Ok(overrides)
}

fn virt_booleans(host: &Host<'_>) -> Vec<Finding> {
    let config = match read_config(host) {
        Ok(config) => config,
        Err(err) => return vec![Finding::error(&err)],
    };
    let live_fs = if host.is_live() {
        match selinuxfs(host) {
            Ok(mount) => mount,
            Err(err) => return vec![Finding::error(&err)],
        }
    } else {
        None
    };
    let policy_type = config
        .as_ref()
        .map_or("targeted", |config| config.policy_type.as_str());
    if live_fs.is_none() && (host.is_live() || config.is_none()) {
        return vec![Finding::new(
            Status::NotApplicable,
            "SELinux is not enabled, so its booleans have no effect (see selinux-enforcing)",
        )];
    }
    let overrides = match persistent_overrides(host, policy_type) {
        Ok(overrides) => overrides,
        Err(err) => return vec![Finding::error(&err)],
    };
    let mut findings = Vec::new();
    for boolean in &BOOLEANS {
        let persistent = overrides
            .iter()
            .rev()
            .find(|(name, _)| name == boolean.name)
            .map(|(_, value)| value);
        match live_fs {
            Some(mount) => {
                let path = format!("{mount}/booleans/{}", boolean.name);
                match host.root.read(&path) {
                    Ok(Some(state)) => {
                        findings.extend(judge_live(boolean, &state, &path, persistent))
                    }
                    Ok(None) => findings.push(Finding::new(
                        Status::Info,
                        format!("{} is not in the loaded policy", boolean.name),
                    )),
                    Err(err) => findings.push(Finding::error(&err)),
                }
            }
            None => findings.push(judge_offline(boolean, persistent)),
        }
    }
    findings
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn judge_live(
    boolean: &Boolean,
    state: &str,
    path: &str,
    persistent: Option<&Override>,
) -> Vec<Finding> {
    let mut bytes = state.split_whitespace();
    let current = bytes.next() == Some("1");
    let pending = bytes.next().map_or(current, |pending| pending == "1");
    let mut findings = Vec::new();
    let status = match (current, boolean.risky) {
        (true, true) => Status::Warn,
        (true, false) => Status::Info,
        (false, _) => Status::Pass,
    };
    findings.push(Finding::at(
        status,
        format!(
            "{} is {} ({})",
            boolean.name,
            on_off(current),
            boolean.description
        ),
        Location::file(path),
    ));
    if pending != current {
        findings.push(Finding::at(
            Status::Warn,
            format!(
                "{} has a pending change to {} that is not committed",
                boolean.name,
                on_off(pending)
            ),
            Location::file(path),
        ));
    }
    if let Some(persistent) = persistent {
        if persistent.on != current {
            let status = if persistent.on && boolean.risky {
                Status::Warn
            } else {
                Status::Info
            };
            findings.push(Finding::at(
                status,
                format!(
                    "{} is {} now but set {} persistently: it changes at the next boot",
                    boolean.name,
                    on_off(current),
                    on_off(persistent.on)
                ),
                persistent.location.clone(),
            ));
        }
    }
    findings
}

fn judge_offline(boolean: &Boolean, persistent: Option<&Override>) -> Finding {
    match persistent {
        None => Finding::new(
            Status::Pass,
            format!(
                "{} is not overridden (the policy default applies; not readable offline)",
                boolean.name
            ),
        ),
        Some(value) => {
            let status = match (value.on, boolean.risky) {
                (true, true) => Status::Warn,
                (true, false) => Status::Info,
                (false, _) => Status::Pass,
            };
            Finding::at(
                status,
                format!(
                    "{} is set {} persistently ({})",
                    boolean.name,
                    on_off(value.on),
                    boolean.description
                ),
                value.location.clone(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    fn enforcing_host(fixture: &Fixture) {
        fixture
            .file("/sys/fs/selinux/enforce", "1")
            .file("/proc/cmdline", "ro quiet")
            .file(CONFIG, "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
    }

    #[test]
    fn enforcing_live_and_configured_passes() {
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        fixture.file("/etc/default/grub", "GRUB_CMDLINE_LINUX=\"rhgb quiet\"\n");
        fixture.expect(&ENFORCING, Status::Pass);
    }

    #[test]
    fn selinux_absent_fails_with_the_guides_remediation() {
        let fixture = Fixture::live();
        fixture.file("/proc/cmdline", "ro quiet");
        let result = fixture.expect(&ENFORCING, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "not enabled in the running kernel"
        ));
        assert!(has(
            &result,
            Status::Fail,
            "/etc/selinux/config does not exist"
        ));
        assert!(result.remediation.contains("setenforce 1"));
    }

    #[test]
    fn permissive_now_fails() {
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        fixture.file("/sys/fs/selinux/enforce", "0");
        let result = fixture.expect(&ENFORCING, Status::Fail);
        assert!(has(&result, Status::Fail, "permissive now"));
    }

    #[test]
    fn permissive_config_and_boot_overrides_fail_with_lines() {
        let fixture = Fixture::offline();
        fixture
            .file(CONFIG, "# comment\nSELINUX=permissive\n")
            .file(
                "/etc/default/grub",
                "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"selinux=0 quiet\"\n",
            );
        let result = fixture.expect(&ENFORCING, Status::Fail);
        assert!(result.findings.iter().any(|finding| finding.location
            == Some(Location::line(CONFIG, 2))
            && finding.message.contains("SELINUX=permissive")));
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.location == Some(Location::line("/etc/default/grub", 2))));
    }

    #[test]
    fn bls_entries_and_grubenv_overrides_fail() {
        let fixture = Fixture::offline();
        fixture
            .file(CONFIG, "SELINUX=enforcing\n")
            .file(
                "/boot/loader/entries/a.conf",
                "title a\noptions root=UUID=1 enforcing=0\n",
            )
            .file(
                "/boot/grub2/grubenv",
                "# GRUB Environment Block\nkernelopts=root=UUID=1 selinux=0\n",
            );
        let result = fixture.expect(&ENFORCING, Status::Fail);
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.location
                == Some(Location::line("/boot/loader/entries/a.conf", 2))));
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.location == Some(Location::line("/boot/grub2/grubenv", 2))));
    }

    #[test]
    fn offline_enforcing_config_passes_without_live_state() {
        let fixture = Fixture::offline();
        fixture.file(CONFIG, "SELINUX=enforcing\n");
        fixture.expect(&ENFORCING, Status::Pass);
    }

    fn all_booleans(fixture: &Fixture, on: &[&str]) {
        for boolean in &BOOLEANS {
            let value = if on.contains(&boolean.name) {
                "1 1"
            } else {
                "0 0"
            };
            fixture.file(&format!("/sys/fs/selinux/booleans/{}", boolean.name), value);
        }
    }

    #[test]
    fn booleans_all_off_pass_and_are_all_listed() {
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        all_booleans(&fixture, &[]);
        let result = fixture.expect(&VIRT_BOOLEANS, Status::Pass);
        assert_eq!(result.findings.len(), BOOLEANS.len());
    }

    #[test]
    fn storage_booleans_on_are_info_and_risky_ones_warn() {
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        all_booleans(&fixture, &["virt_use_nfs"]);
        fixture.expect(&VIRT_BOOLEANS, Status::Info);
        all_booleans(&fixture, &["virt_use_nfs", "virt_use_execmem"]);
        let result = fixture.expect(&VIRT_BOOLEANS, Status::Warn);
        assert!(has(&result, Status::Warn, "virt_use_execmem is on"));
    }

    #[test]
    fn pending_and_persistent_differences_warn() {
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        all_booleans(&fixture, &[]);
        fixture.file("/sys/fs/selinux/booleans/virt_use_usb", "0 1");
        let result = fixture.expect(&VIRT_BOOLEANS, Status::Warn);
        assert!(has(&result, Status::Warn, "pending change"));
        let fixture = Fixture::live();
        enforcing_host(&fixture);
        all_booleans(&fixture, &[]);
        fixture.file(
            "/var/lib/selinux/targeted/active/booleans.local",
            "virt_transition_userdomain=1\n",
        );
        let result = fixture.expect(&VIRT_BOOLEANS, Status::Warn);
        assert!(has(&result, Status::Warn, "next boot"));
    }

    #[test]
    fn booleans_without_selinux_do_not_apply() {
        let fixture = Fixture::live();
        fixture.expect(&VIRT_BOOLEANS, Status::NotApplicable);
        let fixture = Fixture::offline();
        fixture.expect(&VIRT_BOOLEANS, Status::NotApplicable);
    }

    #[test]
    fn offline_booleans_read_persistent_overrides() {
        let fixture = Fixture::offline();
        fixture
            .file(CONFIG, "SELINUX=enforcing\nSELINUXTYPE=targeted\n")
            .file(
                "/etc/selinux/targeted/active/booleans.local",
                "virt_use_xserver=1\nvirt_use_nfs=0\n",
            );
        let result = fixture.expect(&VIRT_BOOLEANS, Status::Warn);
        assert!(has(
            &result,
            Status::Warn,
            "virt_use_xserver is set on persistently"
        ));
        let fixture = Fixture::offline();
        fixture.file(CONFIG, "SELINUX=enforcing\n");
        fixture.expect(&VIRT_BOOLEANS, Status::Pass);
    }
}
