//! `svirt-confined` and `svirt-unique-labels`: every guest's QEMU confined, and no two guests
//! able to reach each other's resources.
//!
//! Running QEMUs are found in `/proc` (`comm` `qemu-kvm` or `qemu-system-*`; the guest's name
//! from `-name guest=NAME,…`). Their confinement is read from `/proc/<pid>/attr/current` (an
//! SELinux context such as `system_u:system_r:svirt_t:s0:c87,c520`, or an AppArmor profile
//! with its mode) and, without a MAC label, from `/proc/<pid>/status` (`Uid`, `NoNewPrivs`,
//! `CapEff`): Moat's `dac` model gives each guest its own uid, no capabilities and
//! `no_new_privs` (its Landlock ruleset is not visible in `/proc`). Image labels are the
//! `security.selinux` attribute of each disk source.
//!
//! MCS isolation needs more than distinct pairs: a process may access files whose category
//! set is equal to or a subset of its own, so two guests are isolated only when neither level
//! dominates the other ([`seclabel::Level::comparable`]).

use seclabel::{Context, Level};

use super::lvm::{self, LvmValue};
use super::procfs::{self, Process};
use super::Check;
use crate::check::{error_chain, CheckInfo, Finding, Location, Status};
use crate::guests::GuestDef;
use crate::host::Host;
use crate::root::RootError;

/// `svirt-confined`.
pub static CONFINED: Check = Check {
    info: CheckInfo {
        id: "svirt-confined",
        title: "Every guest's QEMU runs confined (svirt_t, or Moat's dac+landlock)",
        guide: "4, 4.4",
        rationale: "sVirt treats each guest as a process and confines it with mandatory access control, so that a \
guest that exploits a flaw in the hypervisor is contained and cannot attack the host or other \
guests (4.1, 4.2). Guest processes run as system_u:system_r:svirt_t with their own MCS label \
(4.4.2). A QEMU outside such confinement has every permission of its user on the host.",
        remediation: "Keep confinement on: remove <seclabel type='none'/> from guest definitions, set \
security_driver to \"selinux\" (or leave it unset) and security_default_confined = 1 in \
/etc/libvirt/qemu.conf (consider security_require_confined = 1), and restart the guests. On \
hosts without SELinux run the guests under moatd, whose dac+landlock model gives each guest \
its own uid, no capabilities and no_new_privs.",
        live_only: false,
    },
    run: confined,
};

/// `svirt-unique-labels`.
pub static UNIQUE_LABELS: Check = Check {
    info: CheckInfo {
        id: "svirt-unique-labels",
        title: "No two guests share an MCS label or uid; images carry their guest's label",
        guide: "4.4",
        rationale: "sVirt gives each guest a unique MCS label and applies the same label to its images; only \
svirt_t processes with the same MCS fields can read and write those images (4.4.1, 4.4.2). Two \
guests with equal labels, or where one's category set contains the other's, can open each \
other's disks; an image that does not carry its guest's label is either unreachable or shared.",
        remediation: "Use dynamic labels (<seclabel type='dynamic' model='selinux' relabel='yes'/>) so that the \
daemon picks a unique pair per guest; give static labels distinct, non-overlapping category \
pairs (never a single category); relabel images with relabel='yes' or `chcon -l s0:cX,cY`. \
Under Moat's dac model give each guest its own uid.",
        live_only: false,
    },
    run: unique_labels,
};

/// A running QEMU and the guest it serves.
struct Qemu {
    process: Process,
    guest: Option<String>,
}

impl Qemu {
    fn location(&self) -> Location {
        Location::Process {
            pid: self.process.pid,
            name: self.process.comm.clone(),
        }
    }

    fn who(&self) -> String {
        match &self.guest {
            Some(guest) => format!("guest {guest} (pid {})", self.process.pid),
            None => format!("QEMU pid {}", self.process.pid),
        }
    }
}

fn is_qemu(process: &Process) -> bool {
    let program = process.program();
    // `-machine none` is a capability probe (libvirt runs them as root): no guest, no disks.
    let probe = process
        .cmdline
        .windows(2)
        .any(|pair| pair[0] == "-machine" && pair[1].split(',').next() == Some("none"));
    !probe
        && (process.comm == "qemu-kvm"
            || process.comm.starts_with("qemu-system-")
            || program == "qemu-kvm"
            || program.starts_with("qemu-system-"))
}

fn guest_name(cmdline: &[String]) -> Option<String> {
    let position = cmdline.iter().position(|arg| arg == "-name")?;
    let value = cmdline.get(position + 1)?;
    let first = value.split(',').next()?;
    Some(first.strip_prefix("guest=").unwrap_or(first).to_owned())
}

fn running_qemus(host: &Host<'_>) -> Result<Vec<Qemu>, RootError> {
    Ok(procfs::processes(&host.root)?
        .into_iter()
        .filter(is_qemu)
        .map(|process| Qemu {
            guest: guest_name(&process.cmdline),
            process,
        })
        .collect())
}

/// Confinement settings in libvirt's `/etc/libvirt/qemu.conf` and Moat's TOML config.
fn qemu_conf_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let mut findings = moatd_conf_findings(host)?;
    let path = "/etc/libvirt/qemu.conf";
    if let Some(text) = host.root.read(path)? {
        for setting in lvm::parse(&text)
            .into_iter()
            .filter(|setting| setting.section.is_empty())
        {
            let location = Location::line(path, setting.line);
            let value = match &setting.value {
                LvmValue::Scalar(value) => vec![value.clone()],
                LvmValue::List(items) => items.clone(),
            };
            match setting.key.as_str() {
                "security_driver" if value.iter().all(|driver| driver == "none") => {
                    findings.push(Finding::at(
                        Status::Fail,
                        "security_driver = \"none\": guests run without sVirt confinement",
                        location,
                    ));
                }
                "security_default_confined" if value == ["0"] => findings.push(Finding::at(
                    Status::Fail,
                    "security_default_confined = 0: guests without a <seclabel> run unconfined",
                    location,
                )),
                _ => {}
            }
        }
    }
    Ok(findings)
}

/// `security_driver` and `security_default_confined` in `/etc/moat/moatd.toml`.
fn moatd_conf_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let path = "/etc/moat/moatd.toml";
    let Some(text) = host.root.read(path)? else {
        return Ok(Vec::new());
    };
    // A malformed file is reported by access-control-enabled; here it only has no settings.
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(Vec::new());
    };
    let line_of = |key: &str| {
        text.lines()
            .position(|line| line.trim_start().starts_with(key))
            .map_or(Location::file(path), |index| {
                Location::line(path, index + 1)
            })
    };
    let mut findings = Vec::new();
    let none_driver = match table.get("security_driver") {
        Some(toml::Value::String(driver)) => driver == "none",
        Some(toml::Value::Array(drivers)) => {
            drivers.iter().all(|driver| driver.as_str() == Some("none"))
        }
        _ => false,
    };
    if none_driver {
        findings.push(Finding::at(
            Status::Fail,
            "moatd security_driver = \"none\": guests run without confinement",
            line_of("security_driver"),
        ));
    }
    let unconfined_default = matches!(
        table.get("security_default_confined"),
        Some(toml::Value::Boolean(false)) | Some(toml::Value::Integer(0))
    );
    if unconfined_default {
        findings.push(Finding::at(
            Status::Fail,
            "moatd security_default_confined is off: guests without a <seclabel> run unconfined",
            line_of("security_default_confined"),
        ));
    }
    Ok(findings)
}

fn definition_findings(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for guest in &host.guests.defs {
        let name = &guest.domain.name;
        let mut unconfined = false;
        for label in &guest.domain.seclabels {
            let model = label.model.as_deref().unwrap_or("default");
            match label.kind {
                domxml::model::SeclabelType::None => {
                    unconfined = true;
                    findings.push(Finding::at(
                        Status::Fail,
                        format!("guest {name} asks to run unconfined (<seclabel type='none' model='{model}'>)"),
                        guest.location(),
                    ));
                }
                domxml::model::SeclabelType::Static if !label.relabel => findings.push(Finding::at(
                    Status::Info,
                    format!("guest {name} has a static {model} label without relabelling: its images must be labelled by hand"),
                    guest.location(),
                )),
                _ => {}
            }
        }
        if !unconfined {
            findings.push(Finding::at(
                Status::Pass,
                format!("guest {name} is defined confined"),
                guest.location(),
            ));
        }
    }
    findings
}

/// The guest-loading errors (definitions that would not load), which both checks report.
fn preamble_errors(host: &Host<'_>) -> Vec<Finding> {
    host.guests
        .preamble()
        .into_iter()
        .filter(|finding| finding.status == Status::Error)
        .collect()
}

fn confined(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = preamble_errors(host);
    findings.extend(definition_findings(host));
    match qemu_conf_findings(host) {
        Ok(found) => findings.extend(found),
        Err(err) => findings.push(Finding::error(&err)),
    }
    if host.is_live() {
        match running_qemus(host) {
            Ok(qemus) => {
                for qemu in &qemus {
                    match process_confinement(host, qemu) {
                        Ok(finding) => findings.push(finding),
                        Err(err) => findings.push(Finding::error(&err)),
                    }
                }
                if qemus.is_empty() && !findings.is_empty() {
                    findings.push(Finding::new(Status::Pass, "no QEMU process is running"));
                }
            }
            Err(err) => findings.push(Finding::error(&err)),
        }
    }
    if findings.is_empty() {
        findings.push(Finding::new(
            Status::NotApplicable,
            "no guests are defined or running",
        ));
    }
    findings
}

fn process_confinement(host: &Host<'_>, qemu: &Qemu) -> Result<Finding, RootError> {
    let who = qemu.who();
    let location = qemu.location();
    if let Some(label) = procfs::selinux_context(&host.root, qemu.process.pid)? {
        if let Some(profile) = label.strip_suffix(" (enforce)") {
            return Ok(Finding::at(
                Status::Pass,
                format!("{who} is confined by AppArmor profile {profile}"),
                location,
            ));
        }
        if label.ends_with(" (complain)") {
            return Ok(Finding::at(
                Status::Fail,
                format!("{who} runs under an AppArmor profile in complain mode: {label}"),
                location,
            ));
        }
        let kind = label.split(':').nth(2).unwrap_or_default();
        return Ok(if kind.starts_with("svirt_") {
            Finding::at(Status::Pass, format!("{who} runs as {label}"), location)
        } else {
            Finding::at(
                Status::Fail,
                format!("{who} runs as {label}, not svirt_t: it is not confined by sVirt"),
                location,
            )
        });
    }
    let pid = qemu.process.pid;
    let uid = procfs::status_field(&host.root, pid, "Uid")?.unwrap_or_default();
    let uids: Vec<&str> = uid.split_whitespace().collect();
    let no_new_privs = procfs::status_field(&host.root, pid, "NoNewPrivs")?.as_deref() == Some("1");
    let caps = procfs::status_field(&host.root, pid, "CapEff")?.unwrap_or_default();
    let no_caps = !caps.is_empty() && caps.chars().all(|ch| ch == '0');
    if uids.is_empty() || uids.contains(&"0") {
        return Ok(Finding::at(
            Status::Fail,
            format!("{who} runs as root with no MAC label"),
            location,
        ));
    }
    let mut missing = Vec::new();
    if !no_new_privs {
        missing.push("no_new_privs");
    }
    if !no_caps {
        missing.push("an empty capability set");
    }
    Ok(if missing.is_empty() {
        Finding::at(
            Status::Pass,
            format!(
                "{who} runs as uid {} with no_new_privs and no capabilities (dac model)",
                uids.first().copied().unwrap_or_default()
            ),
            location,
        )
    } else {
        Finding::at(
            Status::Warn,
            format!("{who} has no MAC label and lacks {}", missing.join(" and ")),
            location,
        )
    })
}

/// A label to compare: whose, the level, where seen.
struct Labelled {
    who: String,
    level: Level,
    text: String,
    location: Location,
}

fn level_of(label: &str) -> Option<Level> {
    let context: Context = label.parse().ok()?;
    context.range().map(|range| *range.low())
}

fn overlap_findings(labels: &[Labelled]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, first) in labels.iter().enumerate() {
        for second in &labels[index + 1..] {
            if first.level.comparable(&second.level) {
                findings.push(Finding::at(
                    Status::Fail,
                    format!(
                        "{} ({}) and {} ({}) are not isolated: one level dominates the other",
                        first.who, first.text, second.who, second.text
                    ),
                    second.location.clone(),
                ));
            }
        }
    }
    findings
}

fn unique_labels(host: &Host<'_>) -> Vec<Finding> {
    let mut findings = preamble_errors(host);
    let mut compared = 0;
    // Static labels in the definitions: they hold whether or not the guests run.
    let mut statics = Vec::new();
    let mut dac_statics: Vec<(&GuestDef, &str)> = Vec::new();
    for guest in &host.guests.defs {
        for label in &guest.domain.seclabels {
            if label.kind != domxml::model::SeclabelType::Static {
                continue;
            }
            let Some(text) = label.label.as_deref() else {
                continue;
            };
            match label.model.as_deref() {
                Some("dac") => dac_statics.push((guest, text)),
                _ => match level_of(text) {
                    Some(level) => statics.push(Labelled {
                        who: format!("guest {}", guest.domain.name),
                        level,
                        text: text.to_owned(),
                        location: guest.location(),
                    }),
                    None => findings.push(Finding::at(
                        Status::Warn,
                        format!(
                            "guest {} has a static label without MLS range: {text}",
                            guest.domain.name
                        ),
                        guest.location(),
                    )),
                },
            }
        }
    }
    compared += statics.len() + dac_statics.len();
    findings.extend(overlap_findings(&statics));
    for (index, (first, label)) in dac_statics.iter().enumerate() {
        for (second, other) in &dac_statics[index + 1..] {
            if label == other {
                findings.push(Finding::at(
                    Status::Fail,
                    format!(
                        "guests {} and {} have the same static dac label {label}",
                        first.domain.name, second.domain.name
                    ),
                    second.location(),
                ));
            }
        }
    }
    if host.is_live() {
        match live_labels(host, &mut findings) {
            Ok(count) => compared += count,
            Err(err) => findings.push(Finding::new(Status::Error, error_chain(&err))),
        }
    }
    if compared == 0 {
        findings.push(Finding::new(
            Status::NotApplicable,
            "no running guests or static labels to compare",
        ));
    } else if !findings
        .iter()
        .any(|finding| finding.status != Status::Pass)
    {
        findings.push(Finding::new(
            Status::Pass,
            format!("{compared} labels compared, all isolated from each other"),
        ));
    }
    findings
}

/// Compares the running QEMUs' labels (or uids) and their images'; returns how many were seen.
fn live_labels(host: &Host<'_>, findings: &mut Vec<Finding>) -> Result<usize, RootError> {
    let qemus = running_qemus(host)?;
    let mut labelled = Vec::new();
    let mut by_uid: Vec<(&Qemu, String)> = Vec::new();
    for qemu in &qemus {
        let pid = qemu.process.pid;
        match procfs::selinux_context(&host.root, pid)?
            .and_then(|text| Some((level_of(&text)?, text)))
        {
            Some((level, text)) => {
                findings.extend(image_findings(host, qemu, &level)?);
                labelled.push(Labelled {
                    who: qemu.who(),
                    level,
                    text,
                    location: qemu.location(),
                });
            }
            None => {
                let uid = procfs::status_field(&host.root, pid, "Uid")?
                    .and_then(|uids| uids.split_whitespace().nth(1).map(str::to_owned))
                    .unwrap_or_default();
                by_uid.push((qemu, uid));
            }
        }
    }
    findings.extend(overlap_findings(&labelled));
    for (index, (first, uid)) in by_uid.iter().enumerate() {
        for (second, other) in &by_uid[index + 1..] {
            if uid == other {
                findings.push(Finding::at(
                    Status::Fail,
                    format!(
                        "{} and {} run without MAC labels as the same uid {uid}: nothing keeps them apart",
                        first.who(),
                        second.who()
                    ),
                    second.location(),
                ));
            }
        }
    }
    Ok(qemus.len())
}

/// Writable, private images of the guest served by `qemu` must carry its categories.
fn image_findings(host: &Host<'_>, qemu: &Qemu, level: &Level) -> Result<Vec<Finding>, RootError> {
    let mut findings = Vec::new();
    let Some(guest) = qemu
        .guest
        .as_ref()
        .and_then(|name| host.guests.defs.iter().find(|def| &def.domain.name == name))
    else {
        return Ok(findings);
    };
    for disk in guest.writable_disks().filter(|disk| !disk.shareable) {
        let Some(path) = disk
            .source
            .as_ref()
            .and_then(|source| source.path.as_deref())
        else {
            continue;
        };
        let Some(raw) = host.root.xattr(path, "security.selinux")? else {
            continue;
        };
        let text = String::from_utf8_lossy(&raw)
            .trim_end_matches('\0')
            .to_owned();
        let matches = level_of(&text).is_some_and(|image| image.categories == level.categories);
        if !matches {
            findings.push(Finding::at(
                Status::Fail,
                format!(
                    "image {path} of {} is labelled {text}, not with its guest's categories {level}",
                    qemu.who()
                ),
                Location::file(path),
            ));
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    fn qemu(fixture: &Fixture, pid: u32, guest: &str, context: Option<&str>, status: &str) {
        fixture
            .file(&format!("/proc/{pid}/comm"), "qemu-system-x86\n")
            .file(
                &format!("/proc/{pid}/cmdline"),
                &format!("/usr/bin/qemu-system-x86_64\0-name\0guest={guest},debug-threads=on\0"),
            )
            .file(&format!("/proc/{pid}/status"), status);
        if let Some(context) = context {
            fixture.file(
                &format!("/proc/{pid}/attr/current"),
                &format!("{context}\0"),
            );
        }
    }

    const JAILED: &str = "Name:\tqemu\nUid:\t200001\t200001\t200001\t200001\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n";
    const ROOT: &str = "Name:\tqemu\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\nNoNewPrivs:\t0\n";

    fn define(fixture: &Fixture, name: &str, seclabel: &str) {
        fixture.file(
            &format!("/etc/libvirt/qemu/{name}.xml"),
            &format!(
                "<domain type='kvm'><name>{name}</name><memory>1024</memory><os><type>hvm</type></os>{seclabel}</domain>"
            ),
        );
    }

    #[test]
    fn svirt_t_and_dac_jailed_qemus_pass() {
        let fixture = Fixture::live();
        qemu(
            &fixture,
            10,
            "a",
            Some("system_u:system_r:svirt_t:s0:c1,c2"),
            JAILED,
        );
        qemu(&fixture, 11, "b", None, JAILED);
        let result = fixture.expect(&CONFINED, Status::Pass);
        assert!(has(
            &result,
            Status::Pass,
            "guest a (pid 10) runs as system_u:system_r:svirt_t"
        ));
        assert!(has(&result, Status::Pass, "dac model"));
    }

    #[test]
    fn capability_probes_are_not_guests() {
        let fixture = Fixture::live();
        fixture
            .file("/proc/20/comm", "qemu-system-x86\n")
            .file(
                "/proc/20/cmdline",
                "/usr/bin/qemu-system-x86_64\0-S\0-machine\0none,accel=kvm:tcg\0-qmp\0unix:/tmp/q\0",
            )
            .file("/proc/20/status", ROOT);
        fixture.expect(&CONFINED, Status::NotApplicable);
    }

    #[test]
    fn unconfined_qemus_fail() {
        let fixture = Fixture::live();
        qemu(
            &fixture,
            10,
            "a",
            Some("unconfined_u:unconfined_r:unconfined_t:s0"),
            JAILED,
        );
        fixture.expect(&CONFINED, Status::Fail);
        let fixture = Fixture::live();
        qemu(&fixture, 12, "c", None, ROOT);
        let result = fixture.expect(&CONFINED, Status::Fail);
        assert!(has(&result, Status::Fail, "runs as root"));
    }

    #[test]
    fn definitions_and_qemu_conf_asking_for_no_confinement_fail_offline() {
        let fixture = Fixture::offline();
        define(&fixture, "open", "<seclabel type='none' model='selinux'/>");
        let result = fixture.expect(&CONFINED, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "guest open asks to run unconfined"
        ));
        let fixture = Fixture::offline();
        define(&fixture, "ok", "<seclabel type='dynamic' model='selinux'/>");
        fixture.expect(&CONFINED, Status::Pass);
        fixture.file("/etc/libvirt/qemu.conf", "security_driver = \"none\"\n");
        fixture.expect(&CONFINED, Status::Fail);
        let fixture = Fixture::offline();
        define(&fixture, "ok", "<seclabel type='dynamic' model='selinux'/>");
        fixture.file("/etc/moat/moatd.toml", "security_driver = \"dac\"\n");
        fixture.expect(&CONFINED, Status::Pass);
        fixture.file(
            "/etc/moat/moatd.toml",
            "security_driver = \"none\"\nsecurity_default_confined = false\n",
        );
        let result = fixture.expect(&CONFINED, Status::Fail);
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.location == Some(Location::line("/etc/moat/moatd.toml", 2))));
    }

    #[test]
    fn nothing_defined_or_running_is_not_applicable() {
        Fixture::offline().expect(&CONFINED, Status::NotApplicable);
        Fixture::live().expect(&UNIQUE_LABELS, Status::NotApplicable);
    }

    #[test]
    fn distinct_pairs_pass_shared_and_subset_fail() {
        let fixture = Fixture::live();
        qemu(
            &fixture,
            10,
            "a",
            Some("system_u:system_r:svirt_t:s0:c1,c2"),
            JAILED,
        );
        qemu(
            &fixture,
            11,
            "b",
            Some("system_u:system_r:svirt_t:s0:c3,c4"),
            JAILED,
        );
        fixture.expect(&UNIQUE_LABELS, Status::Pass);
        qemu(
            &fixture,
            12,
            "c",
            Some("system_u:system_r:svirt_t:s0:c2"),
            JAILED,
        );
        let result = fixture.expect(&UNIQUE_LABELS, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "guest a (pid 10) (system_u:system_r:svirt_t:s0:c1,c2) and guest c"
        ));
    }

    #[test]
    fn images_must_carry_their_guests_categories() {
        let fixture = Fixture::live();
        fixture.file(
            "/etc/libvirt/qemu/a.xml",
            "<domain type='kvm'><name>a</name><memory>1024</memory><os><type>hvm</type></os><devices>\
             <disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.img'/><target dev='vda'/></disk>\
             <disk type='file' device='disk'><source file='/var/lib/libvirt/images/shared.img'/><target dev='vdb'/><shareable/></disk>\
             </devices></domain>",
        );
        fixture
            .file("/var/lib/libvirt/images/a.img", "")
            .file("/var/lib/libvirt/images/shared.img", "")
            .label(
                "/var/lib/libvirt/images/shared.img",
                "system_u:object_r:svirt_image_t:s0",
            )
            .label(
                "/var/lib/libvirt/images/a.img",
                "system_u:object_r:svirt_image_t:s0:c1,c2",
            );
        qemu(
            &fixture,
            10,
            "a",
            Some("system_u:system_r:svirt_t:s0:c1,c2"),
            JAILED,
        );
        fixture.expect(&UNIQUE_LABELS, Status::Pass);
        fixture.label(
            "/var/lib/libvirt/images/a.img",
            "system_u:object_r:svirt_image_t:s0:c3,c4",
        );
        let result = fixture.expect(&UNIQUE_LABELS, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "image /var/lib/libvirt/images/a.img of guest a (pid 10)"
        ));
    }

    #[test]
    fn shared_uid_without_labels_fails() {
        let fixture = Fixture::live();
        qemu(&fixture, 10, "a", None, JAILED);
        qemu(&fixture, 11, "b", None, JAILED);
        let result = fixture.expect(&UNIQUE_LABELS, Status::Fail);
        assert!(has(&result, Status::Fail, "same uid 200001"));
        let fixture = Fixture::live();
        qemu(&fixture, 10, "a", None, JAILED);
        qemu(&fixture, 11, "b", None, &JAILED.replace("200001", "200002"));
        fixture.expect(&UNIQUE_LABELS, Status::Pass);
    }

    #[test]
    fn static_labels_that_overlap_fail_offline() {
        let fixture = Fixture::offline();
        define(
            &fixture,
            "a",
            "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c10,c20</label></seclabel>",
        );
        define(
            &fixture,
            "b",
            "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c30,c40</label></seclabel>",
        );
        fixture.expect(&UNIQUE_LABELS, Status::Pass);
        define(
            &fixture,
            "c",
            "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c10,c20</label></seclabel>",
        );
        fixture.expect(&UNIQUE_LABELS, Status::Fail);
    }

    #[test]
    fn guest_name_comes_from_the_name_option() {
        let args = |list: &[&str]| list.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            guest_name(&args(&["q", "-name", "guest=vm1,debug-threads=on"])).as_deref(),
            Some("vm1")
        );
        assert_eq!(
            guest_name(&args(&["q", "-name", "vm2"])).as_deref(),
            Some("vm2")
        );
        assert_eq!(guest_name(&args(&["q"])), None);
    }
}
