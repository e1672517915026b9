//! `kvm-host-capable`: what `virt-host-validate qemu` checks, with its levels: hardware
//! virtualization and `/dev/kvm` (fail), `/dev/net/tun` (fail), `/dev/vhost-net` (warn), the
//! cgroup controllers libvirt uses (warn), IOMMU in firmware and kernel (warn).
//!
//! Live only: `/proc/cpuinfo` flags `vmx`/`svm` (x86; other architectures are not judged),
//! the device nodes, `/proc/cgroups` (the `enabled` column, which lists v1 and v2 controllers
//! alike), `/sys/firmware/acpi/tables/{DMAR,IVRS}` and the entries of `/sys/kernel/iommu_groups`.

use super::Check;
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

/// `kvm-host-capable`.
pub static HOST_CAPABLE: Check = Check {
    info: CheckInfo {
        id: "kvm-host-capable",
        title: "Host can run KVM guests (virt-host-validate parity)",
        guide: "-",
        rationale: "Not a guide item but its premise: guests run as KVM-accelerated QEMU processes confined by \
the host (4.1). Without /dev/kvm guests fall back to slow emulation; without cgroup controllers \
the host cannot limit what one guest takes from the others; without an IOMMU, devices cannot \
be assigned to guests safely.",
        remediation: "Enable virtualization in the firmware and load kvm-intel or kvm-amd; load the tun and \
vhost_net modules; enable the memory, cpu, cpuacct, cpuset, devices and blkio cgroup \
controllers; for device assignment enable VT-d/AMD-Vi in the firmware and add intel_iommu=on \
(or iommu=pt) to the kernel command line.",
        live_only: true,
    },
    run: host_capable,
};

const CONTROLLERS: [&str; 6] = ["memory", "cpu", "cpuacct", "cpuset", "devices", "blkio"];

fn host_capable(host: &Host<'_>) -> Vec<Finding> {
    match capable_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

fn device(host: &Host<'_>, path: &str, missing: Status, hint: &str) -> Result<Finding, RootError> {
    let location = Location::Device {
        path: path.to_owned(),
    };
    Ok(if host.root.exists(path)? {
        Finding::at(Status::Pass, format!("{path} exists"), location)
    } else {
        Finding::at(missing, format!("{path} is missing: {hint}"), location)
    })
}

fn capable_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let root = &host.root;
    let mut findings = Vec::new();
    if let Some(cpuinfo) = root.read("/proc/cpuinfo")? {
        let x86 = cpuinfo.lines().any(|line| line.starts_with("vendor_id"));
        let flags = cpuinfo.lines().any(|line| {
            line.starts_with("flags")
                && line
                    .split_whitespace()
                    .any(|flag| flag == "vmx" || flag == "svm")
        });
        if x86 && !flags {
            findings.push(Finding::at(
                Status::Warn,
                "no vmx or svm CPU flag: hardware virtualization is not visible (nested or disabled)",
                Location::file("/proc/cpuinfo"),
            ));
        }
    }
    findings.push(device(
        host,
        "/dev/kvm",
        Status::Fail,
        "load kvm-intel or kvm-amd and enable virtualization in the firmware",
    )?);
    findings.push(device(
        host,
        "/dev/net/tun",
        Status::Fail,
        "load the tun module to give guests networking",
    )?);
    findings.push(device(
        host,
        "/dev/vhost-net",
        Status::Warn,
        "load the vhost_net module for faster guest networking",
    )?);
    match root.read("/proc/cgroups")? {
        Some(text) => {
            for controller in CONTROLLERS {
                let enabled = text.lines().any(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    fields.first() == Some(&controller) && fields.get(3) == Some(&"1")
                });
                if !enabled {
                    findings.push(Finding::at(
                        Status::Warn,
                        format!("cgroup controller {controller} is not enabled"),
                        Location::file("/proc/cgroups"),
                    ));
                }
            }
        }
        None => findings.push(Finding::at(
            Status::Warn,
            "no /proc/cgroups: cgroup controllers cannot be confirmed",
            Location::file("/proc/cgroups"),
        )),
    }
    let firmware = ["DMAR", "IVRS", "IORT"]
        .iter()
        .map(|table| format!("/sys/firmware/acpi/tables/{table}"))
        .map(|path| root.exists(&path))
        .collect::<Result<Vec<bool>, RootError>>()?;
    if !firmware.contains(&true) {
        findings.push(Finding::at(
            Status::Warn,
            "no ACPI DMAR/IVRS/IORT table: IOMMU disabled in the firmware or absent; device assignment is unsafe",
            Location::Device {
                path: "/sys/firmware/acpi/tables".to_owned(),
            },
        ));
    }
    if root.list("/sys/kernel/iommu_groups")?.is_empty() {
        findings.push(Finding::at(
            Status::Warn,
            "no IOMMU groups: the kernel has the IOMMU off (add intel_iommu=on or iommu=pt)",
            Location::Device {
                path: "/sys/kernel/iommu_groups".to_owned(),
            },
        ));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    const CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
cpuset\t0\t1\t1\ncpu\t0\t1\t1\ncpuacct\t0\t1\t1\nblkio\t0\t1\t1\nmemory\t0\t1\t1\ndevices\t0\t1\t1\n";

    fn capable() -> Fixture {
        let fixture = Fixture::live();
        fixture
            .file(
                "/proc/cpuinfo",
                "vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx sse\n",
            )
            .file("/dev/kvm", "")
            .file("/dev/net/tun", "")
            .file("/dev/vhost-net", "")
            .file("/proc/cgroups", CGROUPS)
            .file("/sys/firmware/acpi/tables/DMAR", "")
            .dir("/sys/kernel/iommu_groups/0");
        fixture
    }

    #[test]
    fn full_host_passes() {
        capable().expect(&HOST_CAPABLE, Status::Pass);
    }

    #[test]
    fn missing_kvm_fails_and_missing_extras_warn() {
        let fixture = Fixture::live();
        fixture
            .file(
                "/proc/cgroups",
                &CGROUPS.replace("memory\t0\t1\t1", "memory\t0\t1\t0"),
            )
            .file("/dev/net/tun", "");
        let result = fixture.expect(&HOST_CAPABLE, Status::Fail);
        assert!(has(&result, Status::Fail, "/dev/kvm is missing"));
        assert!(has(&result, Status::Warn, "cgroup controller memory"));
        assert!(has(&result, Status::Warn, "/dev/vhost-net is missing"));
        let fixture = capable();
        std::fs::remove_file(fixture.dir.path().join("sys/firmware/acpi/tables/DMAR")).unwrap();
        let result = fixture.expect(&HOST_CAPABLE, Status::Warn);
        assert!(has(&result, Status::Warn, "no ACPI DMAR"));
    }

    #[test]
    fn offline_root_is_not_applicable() {
        Fixture::offline().expect(&HOST_CAPABLE, Status::NotApplicable);
    }
}
