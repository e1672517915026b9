//! `fstab-uuid-not-label` and `cmdline-uuid-not-label`: file systems named by label on the
//! host's boot path, where a guest that writes a matching label could take their place.
//!
//! A reference by label is `LABEL=…`, `PARTLABEL=…`, `/dev/disk/by-label/…` or
//! `/dev/disk/by-partlabel/…`. Looked for in:
//! - `/etc/fstab` (field 1), `/etc/crypttab` (field 2) and `/etc/kdump.conf`;
//! - the kernel command line: `/proc/cmdline` (live), `GRUB_CMDLINE_LINUX[_DEFAULT]` in
//!   `/etc/default/grub`, `/etc/kernel/cmdline`, `linux*` lines and `search --label` in
//!   `grub.cfg`, `options` in BLS entries, `kernelopts` in `grubenv`;
//! - the initrd's configuration: dracut's `persistent_policy` and `kernel_cmdline`, and
//!   initramfs-tools' `RESUME`. The initrd images themselves (compressed cpio archives) are
//!   not opened.

use super::{assignments, kernel_params, Check};
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

const LABEL_RATIONALE: &str =
    "The guide warns that the host must not identify file systems by label in fstab, in the \
initrd or on the kernel command line (2.2, block devices): a guest with write access to a whole \
partition or LVM volume can write a file-system label belonging to the host onto its own disk, \
and at the next boot the host may mount the guest's disk as a system disk, which compromises \
it. UUIDs make that attack much less feasible.";

/// `fstab-uuid-not-label`.
pub static FSTAB_UUID: Check = Check {
    info: CheckInfo {
        id: "fstab-uuid-not-label",
        title: "fstab and crypttab name file systems by UUID, not label",
        guide: "2.2",
        rationale: LABEL_RATIONALE,
        remediation:
            "Replace each LABEL=/PARTLABEL= (or /dev/disk/by-label/ path) with UUID=<uuid> (or \
PARTUUID=); `blkid <device>` prints the UUID. Then rebuild the initrd (`dracut -f` or \
`update-initramfs -u`), which embeds a copy of fstab.",
        live_only: false,
    },
    run: fstab,
};

/// `cmdline-uuid-not-label`.
pub static CMDLINE_UUID: Check = Check {
    info: CheckInfo {
        id: "cmdline-uuid-not-label",
        title: "Kernel command line, boot loader and initrd use UUIDs, not labels",
        guide: "2.2",
        rationale: LABEL_RATIONALE,
        remediation:
            "Use root=UUID=<uuid> (and resume=UUID=) in GRUB_CMDLINE_LINUX in /etc/default/grub, \
/etc/kernel/cmdline or the BLS entries (`grubby --update-kernel=ALL --args=root=UUID=…`), \
then regenerate grub.cfg (`grub2-mkconfig -o …` or `update-grub`); use `search --fs-uuid` \
in hand-written grub.cfg; set persistent_policy=\"by-uuid\" in dracut.conf and rebuild the \
initrd.",
        live_only: false,
    },
    run: cmdline,
};

/// Whether `value` names a file system or partition by its label.
pub(crate) fn is_label_reference(value: &str) -> bool {
    let value = super::unquote(value);
    value.starts_with("LABEL=")
        || value.starts_with("PARTLABEL=")
        || value.starts_with("/dev/disk/by-label/")
        || value.starts_with("/dev/disk/by-partlabel/")
}

fn fstab(host: &Host<'_>) -> Vec<Finding> {
    match fstab_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

fn fstab_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    // (file, index of the device field, or None for any word)
    let sources: [(&str, Option<usize>); 3] = [
        ("/etc/fstab", Some(0)),
        ("/etc/crypttab", Some(1)),
        ("/etc/kdump.conf", None),
    ];
    let mut findings = Vec::new();
    let mut read_any = false;
    for (path, field) in sources {
        let Some(text) = host.root.read(path)? else {
            continue;
        };
        read_any = true;
        let mut entries = 0;
        let mut labels = 0;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            entries += 1;
            let hit = match field {
                Some(field) => words
                    .get(field)
                    .copied()
                    .filter(|word| is_label_reference(word)),
                None => words.iter().copied().find(|word| is_label_reference(word)),
            };
            if let Some(word) = hit {
                labels += 1;
                findings.push(Finding::at(
                    Status::Fail,
                    format!("{word} names a file system by label"),
                    Location::line(path, index + 1),
                ));
            }
        }
        if labels == 0 {
            findings.push(Finding::at(
                Status::Pass,
                format!("{entries} entries, none by label"),
                Location::file(path),
            ));
        }
    }
    if !read_any {
        findings.push(Finding::new(
            Status::NotApplicable,
            "no /etc/fstab, /etc/crypttab or /etc/kdump.conf",
        ));
    }
    Ok(findings)
}

fn cmdline(host: &Host<'_>) -> Vec<Finding> {
    match cmdline_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

/// Findings for the label references among kernel parameters.
fn params_findings(params: &str, location: &Location, out: &mut Vec<Finding>) -> bool {
    let mut found = false;
    for (name, value) in kernel_params(params) {
        if let Some(value) = value.filter(|value| is_label_reference(value)) {
            found = true;
            out.push(Finding::at(
                Status::Fail,
                format!("{name}={value} names a file system by label"),
                location.clone(),
            ));
        }
    }
    found
}

/// The grub.cfg files the boot loader may read.
fn grub_configs(host: &Host<'_>) -> Result<Vec<String>, RootError> {
    let mut paths = vec![
        "/boot/grub2/grub.cfg".to_owned(),
        "/boot/grub/grub.cfg".to_owned(),
    ];
    for vendor in host.root.list("/boot/efi/EFI")? {
        paths.push(format!("{}/grub.cfg", vendor.path));
    }
    Ok(paths)
}

fn cmdline_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    if host.is_live() {
        if let Some(text) = root.read("/proc/cmdline")? {
            params_findings(&text, &Location::file("/proc/cmdline"), &mut findings);
            sources.push("/proc/cmdline".to_owned());
        }
    }
    if let Some(text) = root.read("/etc/default/grub")? {
        sources.push("/etc/default/grub".to_owned());
        for assignment in assignments(&text) {
            if assignment.key.starts_with("GRUB_CMDLINE_LINUX") {
                let location = Location::line("/etc/default/grub", assignment.line);
                params_findings(&assignment.value, &location, &mut findings);
            }
        }
    }
    if let Some(text) = root.read("/etc/kernel/cmdline")? {
        sources.push("/etc/kernel/cmdline".to_owned());
        params_findings(&text, &Location::file("/etc/kernel/cmdline"), &mut findings);
    }
    for path in grub_configs(host)? {
        let Some(text) = root.read(&path)? else {
            continue;
        };
        sources.push(path.clone());
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            let location = Location::line(path.clone(), index + 1);
            let mut words = line.split_whitespace();
            match words.next() {
                Some("linux" | "linux16" | "linuxefi") => {
                    let rest: Vec<&str> = words.skip(1).collect();
                    params_findings(&rest.join(" "), &location, &mut findings);
                }
                Some("search")
                    if line
                        .split_whitespace()
                        .any(|word| word == "--label" || word == "-l") =>
                {
                    findings.push(Finding::at(
                        Status::Fail,
                        "grub finds its file system by label (search --label)",
                        location,
                    ));
                }
                _ => {}
            }
        }
    }
    for entry in root.list("/boot/loader/entries")? {
        let Some(text) = root.read(&entry.path)? else {
            continue;
        };
        sources.push(entry.path.clone());
        for (index, line) in text.lines().enumerate() {
            if let Some(options) = line.trim().strip_prefix("options") {
                let location = Location::line(entry.path.clone(), index + 1);
                params_findings(options, &location, &mut findings);
            }
        }
    }
    for path in ["/boot/grub2/grubenv", "/boot/grub/grubenv"] {
        let Some(text) = root.read(path)? else {
            continue;
        };
        sources.push(path.to_owned());
        for assignment in assignments(&text) {
            if assignment.key == "kernelopts" {
                params_findings(
                    &assignment.value,
                    &Location::line(path, assignment.line),
                    &mut findings,
                );
            }
        }
    }
    initrd_config(host, &mut sources, &mut findings)?;
    if sources.is_empty() {
        findings.push(Finding::new(
            Status::NotApplicable,
            "no kernel command line, boot loader or initrd configuration found",
        ));
    } else if findings.is_empty() {
        findings.push(Finding::new(
            Status::Pass,
            format!("no label references in {}", sources.join(", ")),
        ));
    }
    Ok(findings)
}

/// dracut's and initramfs-tools' configuration, which decide what the initrd looks for.
fn initrd_config(
    host: &Host<'_>,
    sources: &mut Vec<String>,
    findings: &mut Vec<Finding>,
) -> Result<(), RootError> {
    let root = &host.root;
    let mut files = vec!["/etc/dracut.conf".to_owned()];
    for dir in ["/etc/dracut.conf.d", "/etc/initramfs-tools/conf.d"] {
        files.extend(root.list(dir)?.into_iter().map(|entry| entry.path));
    }
    files.push("/etc/initramfs-tools/initramfs.conf".to_owned());
    for path in files {
        let Some(text) = root.read(&path)? else {
            continue;
        };
        sources.push(path.clone());
        for assignment in assignments(&text) {
            let location = Location::line(path.clone(), assignment.line);
            match assignment.key.as_str() {
                "persistent_policy"
                    if matches!(assignment.value.as_str(), "by-label" | "by-partlabel") =>
                {
                    findings.push(Finding::at(
                        Status::Fail,
                        format!(
                            "persistent_policy={} makes the initrd name devices by label",
                            assignment.value
                        ),
                        location,
                    ));
                }
                "kernel_cmdline" => {
                    params_findings(&assignment.value, &location, findings);
                }
                "RESUME" | "ROOT" if is_label_reference(&assignment.value) => {
                    findings.push(Finding::at(
                        Status::Fail,
                        format!(
                            "{}={} names a file system by label",
                            assignment.key, assignment.value
                        ),
                        location,
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    const FSTAB_UUID_ONLY: &str = "# /etc/fstab\n\
UUID=0a3407de-014b-458b-b5c1-848e92a327a3 / xfs defaults 0 0\n\
/dev/mapper/rhel-swap swap swap defaults 0 0\n";

    #[test]
    fn fstab_with_uuids_passes() {
        let fixture = Fixture::offline();
        fixture.file("/etc/fstab", FSTAB_UUID_ONLY);
        let result = fixture.expect(&FSTAB_UUID, Status::Pass);
        assert!(has(&result, Status::Pass, "2 entries, none by label"));
    }

    #[test]
    fn fstab_and_crypttab_labels_fail_at_their_lines() {
        let fixture = Fixture::offline();
        fixture
            .file(
                "/etc/fstab",
                &format!("{FSTAB_UUID_ONLY}LABEL=data /srv xfs defaults 0 0\n"),
            )
            .file("/etc/crypttab", "luks-home PARTLABEL=home none luks\n");
        let result = fixture.expect(&FSTAB_UUID, Status::Fail);
        assert!(result.findings.iter().any(|finding| finding.location
            == Some(Location::line("/etc/fstab", 4))
            && finding.message.starts_with("LABEL=data")));
        assert!(result
            .findings
            .iter()
            .any(|finding| finding.location == Some(Location::line("/etc/crypttab", 1))));
        let fixture = Fixture::offline();
        fixture.file(
            "/etc/fstab",
            "/dev/disk/by-label/boot /boot ext4 defaults 0 0\n",
        );
        fixture.expect(&FSTAB_UUID, Status::Fail);
    }

    #[test]
    fn fstab_absent_is_not_applicable() {
        Fixture::offline().expect(&FSTAB_UUID, Status::NotApplicable);
    }

    #[test]
    fn cmdline_with_uuids_passes() {
        let fixture = Fixture::live();
        fixture
            .file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=UUID=0a34 ro quiet")
            .file(
                "/etc/default/grub",
                "GRUB_CMDLINE_LINUX=\"resume=UUID=1 rd.lvm.lv=rhel/root\"\n",
            )
            .file(
                "/boot/grub2/grub.cfg",
                "search --no-floppy --fs-uuid --set=root 0a34\n\tlinux16 /vmlinuz root=UUID=0a34 ro\n",
            )
            .file("/etc/dracut.conf.d/01.conf", "persistent_policy=\"by-uuid\"\n");
        fixture.expect(&CMDLINE_UUID, Status::Pass);
    }

    #[test]
    fn labels_on_the_boot_path_fail_each_where_written() {
        let fixture = Fixture::live();
        fixture
            .file("/proc/cmdline", "root=LABEL=root ro")
            .file(
                "/etc/default/grub",
                "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"root=LABEL=root quiet\"\n",
            )
            .file(
                "/boot/grub2/grub.cfg",
                "search --no-floppy --label --set=root boot\nlinuxefi /vmlinuz root=PARTLABEL=sys\n",
            )
            .file(
                "/boot/loader/entries/abc.conf",
                "title x\noptions root=/dev/disk/by-label/root ro\n",
            )
            .file("/etc/dracut.conf", "persistent_policy=\"by-label\"\n")
            .file("/etc/initramfs-tools/conf.d/resume", "RESUME=LABEL=swap\n");
        let result = fixture.expect(&CMDLINE_UUID, Status::Fail);
        let locations: Vec<String> = result
            .findings
            .iter()
            .filter_map(|finding| finding.location.as_ref().map(ToString::to_string))
            .collect();
        for expected in [
            "/proc/cmdline",
            "/etc/default/grub:2",
            "/boot/grub2/grub.cfg:1",
            "/boot/grub2/grub.cfg:2",
            "/boot/loader/entries/abc.conf:2",
            "/etc/dracut.conf:1",
            "/etc/initramfs-tools/conf.d/resume:1",
        ] {
            assert!(
                locations.iter().any(|location| location == expected),
                "{expected} in {locations:?}"
            );
        }
    }

    #[test]
    fn offline_ignores_proc_and_empty_root_is_not_applicable() {
        let fixture = Fixture::offline();
        fixture.file("/proc/cmdline", "root=LABEL=x");
        fixture.expect(&CMDLINE_UUID, Status::NotApplicable);
    }
}
