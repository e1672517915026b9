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
}

impl Firewall {
    /// Whether there is nothing to enforce (Moat's tables are then removed).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.ports.is_empty()
    }
}

fn chain_name(tap: &str) -> String {
    let safe: String = tap
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("port_{safe}")
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
    s.push_str("  chain input {\n    type filter hook input priority filter; policy accept;\n");
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
        }
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
