//! `network-listeners`: sockets listening beyond loopback, less an allow list.
//!
//! Read from `/proc/net/{tcp,tcp6,udp,udp6}` (live only). Each line is
//! `sl local_address rem_address st … uid timeout inode`; `st` `0A` is a listening TCP socket
//! and `07` an unconnected UDP one. An IPv4 address is 8 hex digits of a host-endian `u32`, an
//! IPv6 one four such words, the port 4 hex digits. The owning process is found through the
//! socket inode in `/proc/<pid>/fd/*`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::procfs;
use super::Check;
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::{AllowedPort, Host, Protocol};

/// `network-listeners`.
pub static LISTENERS: Check = Check {
    info: CheckInfo {
        id: "network-listeners",
        title: "No network-facing services beyond the allowed ones",
        guide: "2.2.1",
        rationale: "The guide asks to run only necessary services on the host and to limit network-facing \
services (2.2.1): the fewer processes listen on the host's addresses, the less an attacker on \
the network, or on a guest's network, can reach on the machine that holds every guest.",
        remediation: "Stop or reconfigure each listed service so that it listens on loopback only, or remove it; \
block what must stay with the host firewall. Ports that are meant to be open (ssh 22, libvirt \
TLS 16514 and guest consoles 5900-5999 are accepted by default) can be allowed with \
`moat validate --allow-port PORT[-LAST][/tcp|udp]`.",
        live_only: true,
    },
    run: listeners,
};

/// Listeners accepted without being asked: ssh, libvirt's TLS port, VNC/SPICE consoles.
const DEFAULT_ALLOWED: [AllowedPort; 3] = [
    AllowedPort::tcp(22),
    AllowedPort::tcp(16514),
    AllowedPort {
        protocol: Protocol::Tcp,
        first: 5900,
        last: 5999,
    },
];

/// A socket from `/proc/net/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Socket {
    pub table: &'static str,
    pub address: IpAddr,
    pub port: u16,
    pub inode: u64,
}

impl Socket {
    fn protocol(&self) -> Protocol {
        if self.table.starts_with("tcp") {
            Protocol::Tcp
        } else {
            Protocol::Udp
        }
    }

    fn endpoint(&self) -> String {
        match self.address {
            IpAddr::V4(address) => format!("{address}:{}", self.port),
            IpAddr::V6(address) => format!("[{address}]:{}", self.port),
        }
    }
}

/// The listening sockets of one `/proc/net` table.
pub(crate) fn parse_table(table: &'static str, text: &str) -> Vec<Socket> {
    let listen_state = if table.starts_with("tcp") { "0A" } else { "07" };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if !state.eq_ignore_ascii_case(listen_state) {
                return None;
            }
            let (address, port) = local.split_once(':')?;
            Some(Socket {
                table,
                address: parse_address(address)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: inode.parse().ok()?,
            })
        })
        .collect()
}

fn parse_address(hex: &str) -> Option<IpAddr> {
    // Each 32-bit word was printed from memory as a host-endian integer.
    let word = |index: usize| {
        let chunk = hex.get(index * 8..index * 8 + 8)?;
        u32::from_str_radix(chunk, 16).ok().map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for index in 0..4 {
                bytes[index * 4..index * 4 + 4].copy_from_slice(&word(index)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

fn is_local_only(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn listeners(host: &Host<'_>) -> Vec<Finding> {
    let mut sockets = Vec::new();
    let mut findings = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        match host.root.read(&format!("/proc/net/{table}")) {
            Ok(Some(text)) => sockets.extend(parse_table(table, &text)),
            Ok(None) => {}
            Err(err) => findings.push(Finding::error(&err)),
        }
    }
    let exposed: Vec<&Socket> = sockets
        .iter()
        .filter(|socket| !is_local_only(&socket.address))
        .collect();
    let owners = owners(host);
    for socket in &exposed {
        let allowed = DEFAULT_ALLOWED
            .iter()
            .chain(&host.settings.allowed_ports)
            .any(|allowed| allowed.covers(socket.protocol(), socket.port));
        let owner = owners
            .get(&socket.inode)
            .map_or(String::new(), |owner| format!(" by {owner}"));
        let (status, verb) = if allowed {
            (Status::Pass, "allowed")
        } else {
            (Status::Warn, "listening beyond loopback")
        };
        findings.push(Finding::at(
            status,
            format!(
                "{} {}{owner}: {verb}",
                socket.protocol().as_str(),
                socket.endpoint()
            ),
            Location::Socket {
                protocol: socket.table.to_owned(),
                address: socket.endpoint(),
            },
        ));
    }
    if exposed.is_empty() {
        findings.push(Finding::new(
            Status::Pass,
            format!(
                "no sockets listen beyond loopback ({} on loopback)",
                sockets.len()
            ),
        ));
    }
    findings
}

/// Socket inode → "process NAME (pid N)", best effort: processes we may not inspect are skipped.
fn owners(host: &Host<'_>) -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    let Ok(processes) = procfs::processes(&host.root) else {
        return owners;
    };
    for process in processes {
        let Ok(inodes) = procfs::socket_inodes(&host.root, process.pid) else {
            continue;
        };
        for inode in inodes {
            owners
                .entry(inode)
                .or_insert_with(|| format!("{} (pid {})", process.comm, process.pid));
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn tcp_line(local: &str, state: &str, inode: u64) -> String {
        format!("   0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n")
    }

    #[test]
    fn parses_v4_and_v6_addresses() {
        let text = format!(
            "{HEADER}{}{}",
            tcp_line("0100007F:0CEA", "0A", 1),
            tcp_line("00000000:0016", "0A", 2)
        );
        let sockets = parse_table("tcp", &text);
        assert_eq!(sockets[0].endpoint(), "127.0.0.1:3306");
        assert_eq!(sockets[1].endpoint(), "0.0.0.0:22");
        let v6 = format!(
            "{HEADER}{}",
            tcp_line("00000000000000000000000001000000:0050", "0A", 3)
        );
        assert_eq!(parse_table("tcp6", &v6)[0].endpoint(), "[::1]:80");
        let established = format!("{HEADER}{}", tcp_line("00000000:0016", "01", 4));
        assert!(parse_table("tcp", &established).is_empty());
    }

    #[test]
    fn loopback_and_allowed_listeners_pass() {
        let fixture = Fixture::live();
        fixture.file(
            "/proc/net/tcp",
            &format!(
                "{HEADER}{}{}",
                tcp_line("0100007F:0CEA", "0A", 1),
                tcp_line("00000000:0016", "0A", 2)
            ),
        );
        fixture.expect(&LISTENERS, Status::Pass);
    }

    #[test]
    fn exposed_listeners_warn_with_their_process() {
        let fixture = Fixture::live();
        fixture
            .file(
                "/proc/net/tcp",
                &format!("{HEADER}{}", tcp_line("00000000:0CEA", "0A", 99)),
            )
            .file(
                "/proc/net/udp6",
                &format!(
                    "{HEADER}{}",
                    tcp_line("00000000000000000000000000000000:0801", "07", 100)
                ),
            )
            .file("/proc/55/comm", "mysqld\n")
            .link("/proc/55/fd/7", "socket:[99]");
        let result = fixture.expect(&LISTENERS, Status::Warn);
        assert!(has(
            &result,
            Status::Warn,
            "tcp 0.0.0.0:3306 by mysqld (pid 55)"
        ));
        assert!(has(&result, Status::Warn, "udp [::]:2049"));
    }

    #[test]
    fn allow_list_from_settings_is_honoured() {
        let mut fixture = Fixture::live();
        fixture.settings.allowed_ports = vec!["3306/tcp".parse().unwrap()];
        fixture.file(
            "/proc/net/tcp",
            &format!("{HEADER}{}", tcp_line("00000000:0CEA", "0A", 99)),
        );
        fixture.expect(&LISTENERS, Status::Pass);
    }

    #[test]
    fn offline_root_is_not_applicable() {
        Fixture::offline().expect(&LISTENERS, Status::NotApplicable);
    }
}
