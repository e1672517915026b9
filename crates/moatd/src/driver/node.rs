//! Host-level calls: version, hostname, node info, capabilities, sysinfo, security model.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Driver, DriverError};
use crate::hostinfo::{escape, NodeInfo};

/// What a domain-capabilities query names (each may be left out).
#[derive(Debug, Clone, Copy, Default)]
pub struct DomainCapsRequest<'a> {
    /// Emulator path.
    pub emulatorbin: Option<&'a str>,
    /// Architecture.
    pub arch: Option<&'a str>,
    /// Machine type.
    pub machine: Option<&'a str>,
    /// `kvm` or `qemu`.
    pub virttype: Option<&'a str>,
}

/// The libvirt version whose protocol Moat speaks (9.0.0), reported as the library version.
pub const LIBVIRT_COMPAT_VERSION: u64 = 9_000_000;

/// The QEMU emulator found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Emulator {
    /// Path of `qemu-system-<arch>`, if installed.
    pub path: Option<PathBuf>,
    /// Its version as major·10⁶ + minor·10³ + micro; 0 when unknown.
    pub version: u64,
    /// Machine types it reports (`-machine help`), first the default.
    pub machines: Vec<String>,
}

impl Emulator {
    /// Looks for `qemu-system-<arch>` on `search_path` and asks it its version and machines.
    pub fn probe(search_path: &str) -> Self {
        let binary = format!("qemu-system-{}", std::env::consts::ARCH);
        let Some(path) = search_path
            .split(':')
            .map(|dir| Path::new(dir).join(&binary))
            .find(|p| p.is_file())
        else {
            return Self::default();
        };
        let run = |arg: &[&str]| {
            Command::new(&path)
                .args(arg)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let version = run(&["--version"]).map_or(0, |text| parse_qemu_version(&text));
        let machines = run(&["-machine", "help"]).map_or_else(Vec::new, |t| parse_machines(&t));
        Self {
            path: Some(path),
            version,
            machines,
        }
    }
}

/// `QEMU emulator version 7.2.22 (Debian …)` → 7002022.
fn parse_qemu_version(text: &str) -> u64 {
    let Some(rest) = text.split("version ").nth(1) else {
        return 0;
    };
    let numbers: Vec<u64> = rest
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    match numbers.as_slice() {
        [major, minor, micro, ..] => major * 1_000_000 + minor * 1_000 + micro,
        [major, minor] => major * 1_000_000 + minor * 1_000,
        _ => 0,
    }
}

/// Machine names from `-machine help`, the one marked `(default)` first.
fn parse_machines(text: &str) -> Vec<String> {
    let mut machines = Vec::new();
    for line in text.lines().skip(1) {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if line.contains("(default)") {
            machines.insert(0, name.to_owned());
        } else {
            machines.push(name.to_owned());
        }
    }
    machines
}

impl Driver {
    /// The node's hardware facts.
    pub fn node_info(&self) -> NodeInfo {
        self.host.node_info()
    }

    /// libvirt's capabilities XML for this host.
    pub fn capabilities(&self, emulator: &Emulator) -> String {
        let info = self.host.node_info();
        let arch = std::env::consts::ARCH;
        let mut out = String::from("<capabilities>\n\n  <host>\n");
        if let Some(uuid) = self.host.host_uuid() {
            let _ = writeln!(out, "    <uuid>{uuid}</uuid>");
        }
        let _ = writeln!(out, "    <cpu>\n      <arch>{arch}</arch>");
        let _ = writeln!(
            out,
            "      <topology sockets='{}' dies='1' cores='{}' threads='{}'/>\n    </cpu>",
            info.sockets, info.cores, info.threads
        );
        out.push_str("    <power_management/>\n    <iommu support='no'/>\n");
        let _ = writeln!(
            out,
            "    <topology>\n      <cells num='1'>\n        <cell id='0'>\n          \
             <memory unit='KiB'>{}</memory>\n          <cpus num='{}'/>\n        </cell>\n      \
             </cells>\n    </topology>",
            info.memory_kib, info.cpus
        );
        for model in self.security().models() {
            let _ = writeln!(
                out,
                "    <secmodel>\n      <model>{}</model>\n      <doi>{}</doi>",
                escape(&model.name),
                escape(&model.doi)
            );
            for (virt_type, label) in &model.base_labels {
                let _ = writeln!(
                    out,
                    "      <baselabel type='{}'>{}</baselabel>",
                    escape(virt_type),
                    escape(label)
                );
            }
            out.push_str("    </secmodel>\n");
        }
        out.push_str("  </host>\n\n");
        if let Some(path) = &emulator.path {
            let _ = writeln!(
                out,
                "  <guest>\n    <os_type>hvm</os_type>\n    <arch name='{arch}'>\n      \
                 <wordsize>64</wordsize>\n      <emulator>{}</emulator>",
                escape(&path.to_string_lossy())
            );
            for machine in &emulator.machines {
                let _ = writeln!(out, "      <machine>{}</machine>", escape(machine));
            }
            out.push_str("      <domain type='qemu'/>\n");
            if self.host.has_kvm() {
                out.push_str("      <domain type='kvm'/>\n");
            }
            out.push_str("    </arch>\n  </guest>\n\n");
        }
        out.push_str("</capabilities>\n");
        out
    }

    /// libvirt's domain capabilities XML: what a guest of `virttype` on `machine` may use here.
    /// The device lists are what the command-line builder accepts.
    pub fn domain_capabilities(
        &self,
        emulator: &Emulator,
        request: &DomainCapsRequest<'_>,
    ) -> Result<String, DriverError> {
        let unsupported = |what: String| Err(DriverError::Unsupported(what));
        let Some(path) = &emulator.path else {
            return unsupported("no QEMU emulator is installed".into());
        };
        if let Some(bin) = request
            .emulatorbin
            .filter(|b| Path::new(b) != path.as_path())
        {
            return unsupported(format!(
                "emulator '{bin}' is not the one this daemon runs ({})",
                path.display()
            ));
        }
        let arch = std::env::consts::ARCH;
        if let Some(other) = request.arch.filter(|a| *a != arch) {
            return unsupported(format!(
                "architecture '{other}' is not supported on this {arch} host"
            ));
        }
        let kvm = self.lifecycle_kvm_usable();
        let virttype = match request.virttype {
            None if kvm => "kvm",
            None | Some("qemu") => "qemu",
            Some("kvm") if kvm => "kvm",
            Some("kvm") => {
                return unsupported("KVM is not usable on this host; use type 'qemu'".into())
            }
            Some(other) => return unsupported(format!("virttype '{other}' is not supported")),
        };
        let machine = match request.machine {
            Some(m) if emulator.machines.iter().any(|known| known == m) => m.to_owned(),
            Some(m) => {
                return unsupported(format!("machine '{m}' is not known to {}", path.display()))
            }
            None => emulator
                .machines
                .first()
                .cloned()
                .unwrap_or_else(|| "pc".into()),
        };
        let q35 = machine.starts_with("pc-q35") || machine == "q35";
        let buses: &[&str] = if q35 {
            &["sata", "scsi", "virtio"]
        } else {
            &["ide", "scsi", "virtio"]
        };
        let enumeration = |name: &str, values: &[&str]| {
            let mut text = format!("      <enum name='{name}'>\n");
            for v in values {
                let _ = writeln!(text, "        <value>{v}</value>");
            }
            text.push_str("      </enum>\n");
            text
        };
        let mut out = String::from("<domainCapabilities>\n");
        let _ = writeln!(out, "  <path>{}</path>", escape(&path.to_string_lossy()));
        let _ = writeln!(out, "  <domain>{virttype}</domain>");
        let _ = writeln!(out, "  <machine>{}</machine>", escape(&machine));
        let _ = writeln!(out, "  <arch>{arch}</arch>");
        let _ = writeln!(out, "  <vcpu max='{}'/>", crate::dispatch::MAX_VCPUS);
        out.push_str("  <iothreads supported='no'/>\n");
        out.push_str("  <os supported='yes'>\n    <enum name='firmware'/>\n    <loader supported='no'/>\n  </os>\n");
        out.push_str("  <cpu>\n");
        let _ = writeln!(
            out,
            "    <mode name='host-passthrough' supported='{}'/>",
            if virttype == "kvm" { "yes" } else { "no" }
        );
        out.push_str("    <mode name='maximum' supported='no'/>\n    <mode name='host-model' supported='no'/>\n    <mode name='custom' supported='yes'/>\n  </cpu>\n");
        out.push_str("  <devices>\n    <disk supported='yes'>\n");
        out.push_str(&enumeration("diskDevice", &["disk", "cdrom"]));
        out.push_str(&enumeration("bus", buses));
        out.push_str(&enumeration("model", &["virtio"]));
        out.push_str("    </disk>\n    <graphics supported='yes'>\n");
        out.push_str(&enumeration("type", &["vnc"]));
        out.push_str("    </graphics>\n    <video supported='yes'>\n");
        out.push_str(&enumeration(
            "modelType",
            &["vga", "cirrus", "bochs", "virtio", "none"],
        ));
        out.push_str("    </video>\n    <hostdev supported='no'/>\n    <rng supported='yes'>\n");
        out.push_str(&enumeration("model", &["virtio"]));
        out.push_str(&enumeration("backendModel", &["random"]));
        out.push_str("    </rng>\n    <filesystem supported='no'/>\n    <tpm supported='no'/>\n  </devices>\n");
        out.push_str("  <features>\n    <gic supported='no'/>\n    <vmcoreinfo supported='no'/>\n    <genid supported='no'/>\n    <sev supported='no'/>\n  </features>\n");
        out.push_str("</domainCapabilities>\n");
        Ok(out)
    }

    /// The host's SMBIOS data.
    pub fn sysinfo(&self) -> String {
        self.host.sysinfo_xml()
    }

    /// The host name.
    pub fn hostname(&self) -> String {
        self.host.hostname()
    }

    /// Free memory in bytes (`MemAvailable`).
    pub fn free_memory(&self) -> u64 {
        self.host.available_memory_kib() * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_versions_parse() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u17)\n"),
            7_002_022
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 10.0.2\n"),
            10_000_002
        );
        assert_eq!(parse_qemu_version("nonsense"), 0);
    }

    #[test]
    fn machines_parse_default_first() {
        let text = "Supported machines are:\npc-i440fx-7.2  Standard PC\n\
                    q35  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n\
                    pc   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2) (default)\n";
        assert_eq!(parse_machines(text), ["pc", "pc-i440fx-7.2", "q35"]);
    }
}
