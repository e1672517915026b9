//! The host firewall as one nftables script, generated from the running networks and guest
//! ports. Pure: the same input always gives the same text, so a daemon restart that finds the
//! same networks and ports re-creates the ruleset byte for byte ([`super::nft`] applies it).
//!
//! Moat owns exactly two tables, `inet moat` and `bridge moat`, and never touches another. The
//! script opens with `table X` + `delete table X` for both, then declares them whole: `nft -f`
//! runs it as one transaction, so the old rules are replaced atomically or not at all.
//!
//! - `inet moat` / `input`: from a network's bridge the host accepts only replies to its own
//!   connections, DHCP (udp 67) when the network serves DHCP and DNS (53) when it serves DNS;
//!   everything else is logged (rate-limited) and dropped — the guide's default reject (T13).
//! - `inet moat` / `forward`: isolated networks route nothing; nat networks route their subnet
//!   out and replies back in; `postrouting` masquerades nat subnets only. Frames bridged
//!   between ports of one network are accepted here (they reach this hook only with
//!   br_netfilter loaded; the bridge table below filters them).
//! - `bridge moat` / `prerouting`: every guest port jumps to its own chain, which drops (and logs,
//!   rate-limited) frames with another source MAC, ARP with a forged sender, DHCP server
//!   replies, IPv4 from any address but the port's own (DHCP discovery from 0.0.0.0 aside),
//!   all IPv6 (Moat networks are IPv4-only, which also stops forged NDP and router adverts) and
//!   any other ethertype. Ports on a host bridge (`type='bridge'`) have no known address: they
//!   get the MAC, ARP sender-MAC, DHCP-server and IPv6 router-advert checks.
//! - `bridge moat` / `forward`: isolated ports cannot send to each other.
//!
//! With the opt-in host firewall ([`HostRules`], config `host_firewall = "default-reject"`)
//! the `input` chain gets `policy drop` and, after the per-bridge rules above, accepts only
//! loopback, established/related traffic, essential ICMP/ICMPv6 (echo, errors, neighbour
//! discovery, MLD), DHCPv6 replies to the host's own client and the allowed TCP/UDP ports;
//! the rest is logged (`moat-input-drop: `, rate-limited) and dropped. A packet must be
//! accepted by every base chain on the hook, so this drop is host-wide: it applies to all
//! traffic to the host, whatever other tables accept.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use domxml::model::MacAddr;
use domxml::network::ForwardMode;

/// Moat's table name, in both families.
pub const TABLE: &str = "moat";
/// Log prefix of spoofed frames.
pub const SPOOF_PREFIX: &str = "moat-spoof: ";
/// Log prefix of guest traffic to the host that was dropped.
pub const HOST_PREFIX: &str = "moat-host-drop: ";
/// Log prefix of other traffic to the host dropped by the host firewall.
pub const INPUT_PREFIX: &str = "moat-input-drop: ";

/// ICMPv4 types the host firewall accepts (the errors matter for path MTU discovery).
const ICMP_TYPES: &str =
    "{ echo-request, destination-unreachable, time-exceeded, parameter-problem }";
/// ICMPv6 types the host firewall accepts: echo, errors, neighbour discovery and MLD.
const ICMPV6_TYPES: &str = "{ echo-request, destination-unreachable, packet-too-big, \
time-exceeded, parameter-problem, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, \
nd-neighbor-advert, mld-listener-query, mld2-listener-report }";

/// The opt-in host firewall: what the host accepts besides loopback, replies, essential
/// ICMP and what the networks serve their guests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostRules {
    /// TCP ports open to every interface (ssh, libvirt's TLS port, ...).
    pub tcp_ports: Vec<u16>,
    /// UDP ports open to every interface.
    pub udp_ports: Vec<u16>,
}

/// A running network, as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRules {
    /// The bridge device.
    pub bridge: String,
    /// Isolated or nat.
    pub forward: ForwardMode,
    /// Subnet (network address, prefix), if the network has an `<ip>`.
    pub subnet: Option<(Ipv4Addr, u8)>,
    /// The host serves DHCP on it.
    pub dhcp: bool,
    /// The host serves DNS on it.
    pub dns: bool,
}

/// A guest's tap, as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRules {
    /// The tap device.
    pub tap: String,
    /// The guest NIC's MAC.
    pub mac: MacAddr,
    /// The one IPv4 address the guest may send from; `None` on a host bridge.
    pub ipv4: Option<Ipv4Addr>,
    /// `<port isolated='yes'/>`.
    pub isolated: bool,
}

/// Everything the firewall is generated from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firewall {
    /// Running networks.
    pub networks: Vec<NetRules>,
    /// Guest ports.
    pub ports: Vec<PortRules>,
    /// The host firewall (`policy drop` on input), when turned on.
    pub host: Option<HostRules>,
}

impl Firewall {
    /// Whether there is nothing to enforce (Moat's tables are then removed).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.ports.is_empty() && self.host.is_none()
    }
}

fn chain_name(tap: &str) -> String {
    let safe: String = tap
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("port_{safe}")
}

/// `{ 22, 16514 }`, sorted and without repeats; `None` for no ports.
fn port_set(ports: &[u16]) -> Option<String> {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return None;
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    Some(format!("{{ {} }}", list.join(", ")))
}

/// The host firewall's part of the input chain, after the per-bridge rules.
fn host_input(s: &mut String, host: &HostRules) {
    s.push_str("    iifname \"lo\" accept\n");
    s.push_str("    ct state invalid drop\n");
    s.push_str("    ct state established,related accept\n");
    let _ = writeln!(s, "    icmp type {ICMP_TYPES} accept");
    let _ = writeln!(s, "    icmpv6 type {ICMPV6_TYPES} accept");
    s.push_str("    ip6 daddr fe80::/64 udp sport 547 udp dport 546 accept\n");
    if let Some(set) = port_set(&host.tcp_ports) {
        let _ = writeln!(s, "    tcp dport {set} accept");
    }
    if let Some(set) = port_set(&host.udp_ports) {
        let _ = writeln!(s, "    udp dport {set} accept");
    }
    let _ = writeln!(
        s,
        "    limit rate 5/second burst 10 packets log prefix \"{INPUT_PREFIX}\""
    );
}

fn quoted_set(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("{{ {} }}", quoted.join(", "))
}

/// The script that replaces Moat's tables with `fw`'s rules.
pub fn script(fw: &Firewall) -> String {
    let mut networks: Vec<&NetRules> = fw.networks.iter().collect();
    networks.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    let mut ports: Vec<&PortRules> = fw.ports.iter().collect();
    ports.sort_by(|a, b| a.tap.cmp(&b.tap));

    let mut s = String::new();
    for family in ["inet", "bridge"] {
        let _ = writeln!(s, "table {family} {TABLE}");
        let _ = writeln!(s, "delete table {family} {TABLE}");
    }

    let _ = writeln!(s, "table inet {TABLE} {{");
    let policy = if fw.host.is_some() { "drop" } else { "accept" };
    let _ = writeln!(
        s,
        "  chain input {{\n    type filter hook input priority filter; policy {policy};"
    );
    for net in &networks {
        let br = &net.bridge;
        let _ = writeln!(
            s,
            "    iifname \"{br}\" ct state established,related accept"
        );
        if net.dhcp {
            let _ = writeln!(s, "    iifname \"{br}\" udp sport 68 udp dport 67 accept");
        }
        if net.dns {
            let _ = writeln!(
                s,
                "    iifname \"{br}\" meta l4proto {{ tcp, udp }} th dport 53 accept"
            );
        }
        let _ = writeln!(
            s,
            "    iifname \"{br}\" limit rate 5/second burst 10 packets log prefix \"{HOST_PREFIX}\""
        );
        let _ = writeln!(s, "    iifname \"{br}\" drop");
    }
    if let Some(host) = &fw.host {
        host_input(&mut s, host);
    }
    s.push_str("  }\n");
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    for net in &networks {
        let br = &net.bridge;
        // Bridged traffic between the network's own ports; only seen here when br_netfilter
        // is loaded, and the bridge table has already filtered it.
        let _ = writeln!(s, "    iifname \"{br}\" oifname \"{br}\" accept");
        if let (ForwardMode::Nat, Some((addr, prefix))) = (net.forward, net.subnet) {
            let _ = writeln!(s, "    iifname \"{br}\" ip saddr {addr}/{prefix} accept");
            let _ = writeln!(
                s,
                "    oifname \"{br}\" ip daddr {addr}/{prefix} ct state established,related accept"
            );
        }
        let _ = writeln!(s, "    iifname \"{br}\" drop");
        let _ = writeln!(s, "    oifname \"{br}\" drop");
    }
    s.push_str("  }\n");
    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n",
    );
    for net in &networks {
        if let (ForwardMode::Nat, Some((addr, prefix))) = (net.forward, net.subnet) {
            let sub = format!("{addr}/{prefix}");
            let _ = writeln!(s, "    ip saddr {sub} ip daddr 224.0.0.0/24 return");
            let _ = writeln!(s, "    ip saddr {sub} ip daddr 255.255.255.255 return");
            let _ = writeln!(s, "    ip saddr {sub} ip daddr != {sub} masquerade");
        }
    }
    s.push_str("  }\n}\n");

    let _ = writeln!(s, "table bridge {TABLE} {{");
    let _ = writeln!(
        s,
        "  chain spoofed {{\n    limit rate 10/second burst 20 packets log prefix \"{SPOOF_PREFIX}\"\n    drop\n  }}"
    );
    s.push_str(
        "  chain prerouting {\n    type filter hook prerouting priority filter; policy accept;\n",
    );
    for port in &ports {
        let _ = writeln!(
            s,
            "    iifname \"{}\" jump {}",
            port.tap,
            chain_name(&port.tap)
        );
    }
    s.push_str("  }\n");
    for port in &ports {
        let mac = port.mac;
        let _ = writeln!(s, "  chain {} {{", chain_name(&port.tap));
        let _ = writeln!(s, "    ether saddr != {mac} goto spoofed");
        let _ = writeln!(s, "    arp saddr ether != {mac} goto spoofed");
        match port.ipv4 {
            Some(ip) => {
                let _ = writeln!(s, "    arp saddr ip != {{ 0.0.0.0, {ip} }} goto spoofed");
                s.push_str("    ether type arp accept\n");
                s.push_str("    ether type ip udp sport 67 goto spoofed\n");
                s.push_str(
                    "    ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept\n",
                );
                let _ = writeln!(s, "    ip saddr != {ip} goto spoofed");
                s.push_str("    ether type ip accept\n");
                s.push_str("    ether type ip6 drop\n");
                s.push_str("    drop\n");
            }
            None => {
                s.push_str("    ether type ip udp sport 67 goto spoofed\n");
                s.push_str("    ether type ip6 udp sport 547 goto spoofed\n");
                s.push_str("    icmpv6 type nd-router-advert goto spoofed\n");
            }
        }
        s.push_str("  }\n");
    }
    let isolated: Vec<&str> = ports
        .iter()
        .filter(|p| p.isolated)
        .map(|p| p.tap.as_str())
        .collect();
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    if !isolated.is_empty() {
        let set = quoted_set(&isolated);
        let _ = writeln!(s, "    iifname {set} oifname {set} drop");
    }
    s.push_str("  }\n}\n");
    s
}

/// The script that removes Moat's tables (and nothing else).
pub fn removal_script() -> String {
    let mut s = String::new();
    for family in ["inet", "bridge"] {
        let _ = writeln!(s, "table {family} {TABLE}");
        let _ = writeln!(s, "delete table {family} {TABLE}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Firewall {
        Firewall {
            networks: vec![
                NetRules {
                    bridge: "moatbr1".into(),
                    forward: ForwardMode::Nat,
                    subnet: Some((Ipv4Addr::new(10, 1, 0, 0), 24)),
                    dhcp: true,
                    dns: true,
                },
                NetRules {
                    bridge: "moatbr0".into(),
                    forward: ForwardMode::Isolated,
                    subnet: None,
                    dhcp: false,
                    dns: false,
                },
            ],
            ports: vec![
                PortRules {
                    tap: "mtb".into(),
                    mac: MacAddr([0x52, 0x54, 0, 0, 0, 2]),
                    ipv4: None,
                    isolated: true,
                },
                PortRules {
                    tap: "mta".into(),
                    mac: MacAddr([0x52, 0x54, 0, 0, 0, 1]),
                    ipv4: Some(Ipv4Addr::new(10, 1, 0, 5)),
                    isolated: true,
                },
            ],
            host: None,
        }
    }

    fn input_chain(text: &str) -> &str {
        let chain = text.split("  chain input {\n").nth(1).unwrap();
        &chain[..chain.find("\n  }\n").unwrap()]
    }

    #[test]
    fn host_firewall_off_leaves_other_input_alone() {
        let text = script(&sample());
        let input = input_chain(&text);
        assert!(input.contains("policy accept;"), "{input}");
        assert!(!input.contains("policy drop"), "{input}");
        assert!(!input.contains("iifname \"lo\""), "{input}");
        assert!(!input.contains(INPUT_PREFIX), "{input}");
        // Every rule of the chain is about one of Moat's bridges.
        for rule in input.lines().skip(1) {
            assert!(rule.trim().starts_with("iifname \"moatbr"), "{rule}");
        }
        assert!(Firewall::default().is_empty());
    }

    #[test]
    fn host_firewall_on_drops_by_default_after_the_bridge_rules() {
        let mut fw = sample();
        fw.host = Some(HostRules {
            tcp_ports: vec![16514, 22, 22],
            udp_ports: Vec::new(),
        });
        let text = script(&fw);
        let input = input_chain(&text);
        assert!(
            input.starts_with("    type filter hook input priority filter; policy drop;\n"),
            "{input}"
        );
        for rule in [
            "iifname \"lo\" accept",
            "ct state invalid drop",
            "ct state established,related accept",
            "icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } accept",
            "nd-neighbor-solicit, nd-neighbor-advert",
            "ip6 daddr fe80::/64 udp sport 547 udp dport 546 accept",
            "tcp dport { 22, 16514 } accept",
            "limit rate 5/second burst 10 packets log prefix \"moat-input-drop: \"",
        ] {
            assert!(input.contains(rule), "{rule} missing from {input}");
        }
        assert!(!input.contains("udp dport {"), "{input}");
        // Guests are judged by their bridge's rules first: they never reach the open ports.
        let bridge_drop = input.find("iifname \"moatbr1\" drop").unwrap();
        assert!(bridge_drop < input.find("iifname \"lo\" accept").unwrap());
        assert!(bridge_drop < input.find("tcp dport").unwrap());
        // The rest of the ruleset is as without the host firewall.
        let without = script(&sample());
        assert_eq!(
            text.split("  chain forward {").nth(1),
            without.split("  chain forward {").nth(1)
        );
    }

    #[test]
    fn host_firewall_alone_is_enforced_and_ports_are_optional() {
        let fw = Firewall {
            host: Some(HostRules {
                tcp_ports: Vec::new(),
                udp_ports: vec![123, 53],
            }),
            ..Firewall::default()
        };
        assert!(!fw.is_empty());
        let text = script(&fw);
        let input = input_chain(&text);
        assert!(input.contains("policy drop;"), "{input}");
        assert!(input.contains("udp dport { 53, 123 } accept"), "{input}");
        assert!(!input.contains("tcp dport"), "{input}");
        assert!(!input.contains("iifname \"moatbr"), "{input}");
    }

    #[test]
    fn order_of_input_does_not_change_the_script() {
        let a = sample();
        let mut b = sample();
        b.networks.reverse();
        b.ports.reverse();
        assert_eq!(script(&a), script(&b));
    }

    #[test]
    fn script_replaces_only_moats_tables_and_pins_each_port() {
        let text = script(&sample());
        assert!(text.starts_with(
            "table inet moat\ndelete table inet moat\ntable bridge moat\ndelete table bridge moat\n"
        ));
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("table ") || line.starts_with("delete table ") {
                assert!(line.contains(" moat"), "{line}");
            }
            assert!(!line.starts_with("flush"), "{line}");
        }
        assert!(text.contains("iifname \"mta\" jump port_mta"));
        assert!(text.contains("ether saddr != 52:54:00:00:00:01 goto spoofed"));
        assert!(text.contains("arp saddr ip != { 0.0.0.0, 10.1.0.5 } goto spoofed"));
        assert!(text.contains("ip saddr != 10.1.0.5 goto spoofed"));
        assert!(text.contains("iifname { \"mta\", \"mtb\" } oifname { \"mta\", \"mtb\" } drop"));
        // Default reject to the host, DHCP/DNS only where served.
        assert!(text.contains("iifname \"moatbr1\" udp sport 68 udp dport 67 accept"));
        assert!(!text.contains("iifname \"moatbr0\" udp sport 68"));
        assert!(text.contains("iifname \"moatbr0\" drop"));
        // NAT only for the nat network.
        assert!(text.contains("ip saddr 10.1.0.0/24 ip daddr != 10.1.0.0/24 masquerade"));
        assert_eq!(text.matches("masquerade").count(), 1);
        // The unpinned port still gets the MAC and rogue-DHCP checks but no IP pin.
        let mtb = text.split("chain port_mtb {").nth(1).unwrap();
        let mtb = &mtb[..mtb.find("  }").unwrap()];
        assert!(mtb.contains("ether saddr != 52:54:00:00:00:02"));
        assert!(mtb.contains("udp sport 67 goto spoofed"));
        assert!(!mtb.contains("ip saddr !="));
    }

    #[test]
    fn removal_touches_only_moats_tables() {
        assert_eq!(
            removal_script(),
            "table inet moat\ndelete table inet moat\ntable bridge moat\ndelete table bridge moat\n"
        );
    }
}
