//! Facts about the host for `virsh nodeinfo`, `capabilities`, `sysinfo` and `hostname`.
//!
//! Everything is read under a root directory (`/` on a live host, a fixture tree in tests):
//! `proc/cpuinfo`, `proc/meminfo`, `sys/devices/system/node`, `sys/class/dmi/id`, `dev/kvm`.
//! Parsing is separate from reading so that it can be tested on text.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Escapes text for XML content and attributes (domxml's escaper).
pub use domxml::format::escape;

/// Node information as `NODE_GET_INFO` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// CPU architecture (`x86_64`).
    pub model: String,
    /// Memory in KiB.
    pub memory_kib: u64,
    /// Online CPUs.
    pub cpus: u32,
    /// CPU frequency in MHz.
    pub mhz: u32,
    /// NUMA nodes.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// Reads host facts under a root.
#[derive(Debug, Clone)]
pub struct HostInfo {
    root: PathBuf,
}

impl HostInfo {
    /// Host facts read under `root` (`/` for the live host).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn read(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(relative)).ok()
    }

    /// The host name.
    pub fn hostname(&self) -> String {
        if self.root == Path::new("/") {
            if let Ok(name) = nix::unistd::gethostname() {
                return name.to_string_lossy().into_owned();
            }
        }
        self.read("proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "localhost".into())
    }

    /// Node information.
    pub fn node_info(&self) -> NodeInfo {
        let cpuinfo = self.read("proc/cpuinfo").unwrap_or_default();
        let meminfo = self.read("proc/meminfo").unwrap_or_default();
        let nodes = self.numa_nodes().max(1);
        let mut info = parse_cpuinfo(&cpuinfo, std::env::consts::ARCH);
        info.memory_kib = parse_mem_total(&meminfo);
        info.nodes = nodes;
        info.sockets = (info.sockets / nodes).max(1);
        info
    }

    fn numa_nodes(&self) -> u32 {
        let Ok(entries) = std::fs::read_dir(self.root.join("sys/devices/system/node")) else {
            return 1;
        };
        let count = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.strip_prefix("node")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// `MemAvailable` in KiB (0 when unreadable).
    pub fn available_memory_kib(&self) -> u64 {
        meminfo_field(
            &self.read("proc/meminfo").unwrap_or_default(),
            "MemAvailable:",
        )
    }

    /// Whether `/dev/kvm` exists.
    pub fn has_kvm(&self) -> bool {
        self.root.join("dev/kvm").exists()
    }

    /// The host's SMBIOS data as libvirt's `<sysinfo type='smbios'>`.
    pub fn sysinfo_xml(&self) -> String {
        let dmi = |name: &str| {
            self.read(&format!("sys/class/dmi/id/{name}"))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let mut out = String::from("<sysinfo type='smbios'>\n");
        let sections: [(&str, &[(&str, &str)]); 4] = [
            (
                "bios",
                &[
                    ("vendor", "bios_vendor"),
                    ("version", "bios_version"),
                    ("date", "bios_date"),
                ],
            ),
            (
                "system",
                &[
                    ("manufacturer", "sys_vendor"),
                    ("product", "product_name"),
                    ("version", "product_version"),
                    ("serial", "product_serial"),
                    ("uuid", "product_uuid"),
                    ("family", "product_family"),
                ],
            ),
            (
                "baseBoard",
                &[
                    ("manufacturer", "board_vendor"),
                    ("product", "board_name"),
                    ("version", "board_version"),
                    ("serial", "board_serial"),
                ],
            ),
            (
                "chassis",
                &[
                    ("manufacturer", "chassis_vendor"),
                    ("version", "chassis_version"),
                    ("serial", "chassis_serial"),
                ],
            ),
        ];
        for (section, entries) in sections {
            let values: Vec<(&str, String)> = entries
                .iter()
                .filter_map(|(name, file)| dmi(file).map(|v| (*name, v)))
                .collect();
            if values.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  <{section}>");
            for (name, value) in values {
                let _ = writeln!(out, "    <entry name='{name}'>{}</entry>", escape(&value));
            }
            let _ = writeln!(out, "  </{section}>");
        }
        out.push_str("</sysinfo>\n");
        out
    }

    /// The host UUID from SMBIOS, when readable.
    pub fn host_uuid(&self) -> Option<String> {
        self.read("sys/class/dmi/id/product_uuid")
            .map(|s| s.trim().to_lowercase())
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
    }
}

fn parse_mem_total(meminfo: &str) -> u64 {
    meminfo_field(meminfo, "MemTotal:")
}

/// A `/proc/meminfo` value in KiB.
fn meminfo_field(meminfo: &str, field: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// CPU count, frequency and topology from `/proc/cpuinfo` (x86 layout; other architectures
/// fall back to one socket of single-thread cores).
fn parse_cpuinfo(cpuinfo: &str, arch: &str) -> NodeInfo {
    let mut cpus = 0u32;
    let mut mhz = 0u32;
    let mut packages = BTreeSet::new();
    let mut cores_per_socket = 0u32;
    let mut siblings = 0u32;
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => cpus += 1,
            "cpu MHz" if mhz == 0 => {
                mhz = value
                    .split('.')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            }
            "physical id" => {
                packages.insert(value.to_owned());
            }
            "cpu cores" => cores_per_socket = value.parse().unwrap_or(0),
            "siblings" => siblings = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let cpus = cpus.max(1);
    let sockets = u32::try_from(packages.len()).unwrap_or(1).max(1);
    let cores = if cores_per_socket > 0 {
        cores_per_socket
    } else {
        (cpus / sockets).max(1)
    };
    let threads = if siblings > 0 && cores > 0 {
        (siblings / cores).max(1)
    } else {
        1
    };
    NodeInfo {
        model: arch.to_owned(),
        memory_kib: 0,
        cpus,
        mhz,
        nodes: 1,
        sockets,
        cores,
        threads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2999.998\n\
physical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\nprocessor\t: 1\ncpu MHz\t\t: 2999.998\n\
physical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\nprocessor\t: 2\nphysical id\t: 0\n\n\
processor\t: 3\nphysical id\t: 0\n";

    #[test]
    fn topology_from_cpuinfo() {
        let info = parse_cpuinfo(CPUINFO, "x86_64");
        assert_eq!(info.cpus, 4);
        assert_eq!(info.mhz, 2999);
        assert_eq!((info.sockets, info.cores, info.threads), (1, 2, 2));
        let bare = parse_cpuinfo("processor : 0\nprocessor : 1\n", "aarch64");
        assert_eq!(
            (bare.cpus, bare.sockets, bare.cores, bare.threads),
            (2, 1, 2, 1)
        );
        let empty = parse_cpuinfo("", "x86_64");
        assert_eq!(empty.cpus, 1);
    }

    #[test]
    fn reads_a_fixture_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(root.join("sys/devices/system/node/node0")).unwrap();
        std::fs::create_dir_all(root.join("sys/devices/system/node/node1")).unwrap();
        std::fs::create_dir_all(root.join("sys/class/dmi/id")).unwrap();
        std::fs::write(root.join("proc/cpuinfo"), CPUINFO).unwrap();
        std::fs::write(
            root.join("proc/meminfo"),
            "MemTotal:       24576000 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n",
        )
        .unwrap();
        std::fs::write(root.join("proc/sys/kernel/hostname"), "kvm-host-1\n").unwrap();
        std::fs::write(root.join("sys/class/dmi/id/sys_vendor"), "QEMU & Co\n").unwrap();
        std::fs::write(
            root.join("sys/class/dmi/id/product_uuid"),
            "8A8E0FD3-0D9F-4B67-A7C2-0B2C44E3A001\n",
        )
        .unwrap();
        let host = HostInfo::new(root);
        let info = host.node_info();
        assert_eq!(info.memory_kib, 24_576_000);
        assert_eq!(host.available_memory_kib(), 20_000_000);
        assert_eq!(info.nodes, 2);
        assert_eq!(host.hostname(), "kvm-host-1");
        assert!(!host.has_kvm());
        let sysinfo = host.sysinfo_xml();
        assert!(sysinfo.contains("<entry name='manufacturer'>QEMU &amp; Co</entry>"));
        assert_eq!(
            host.host_uuid().as_deref(),
            Some("8a8e0fd3-0d9f-4b67-a7c2-0b2c44e3a001")
        );
    }
}
