//! libvirt network XML (`virsh net-define`, <https://libvirt.org/formatnetwork.html>): the subset
//! Moat runs, parsed strictly, validated and formatted back.
//!
//! Accepted shape (anything else is refused with its path, since an ignored element could be a
//! security setting the user believes is applied):
//!
//! ```text
//! <network>
//!   <name>NAME</name>                       required; [A-Za-z0-9_.+-], no leading '.'
//!   <uuid>UUID</uuid>                       generated when missing
//!   <forward mode='nat'/>                   absent or mode='none' → isolated; 'nat' → NAT
//!   <bridge name='BR' stp='on' delay='0'/>  name ≤ 15 bytes; assigned by the daemon if missing
//!   <mac address='52:54:00:…'/>             the bridge's MAC
//!   <domain name='example.test'/>           DNS domain of the guests
//!   <port isolated='yes'/>                  guests of this network cannot reach each other
//!   <dns enable='yes'>                      <host ip='…'><hostname>…</hostname></host>…
//!   <ip address='A' netmask='M'|prefix='P'> IPv4 only, at most one
//!     <dhcp><range start end/>… <host mac ip name/>…</dhcp>
//!   </ip>
//! </network>
//! ```
//!
//! ```
//! use domxml::network::{parse_network, format_network, ForwardMode};
//!
//! let net = parse_network("<network><name>lab</name><forward mode='nat'/>
//!   <bridge name='moatbr0'/><ip address='192.168.150.1' netmask='255.255.255.0'>
//!   <dhcp><range start='192.168.150.10' end='192.168.150.99'/></dhcp></ip></network>")?;
//! assert_eq!(net.forward, ForwardMode::Nat);
//! assert_eq!(net.ip.as_ref().map(|ip| ip.prefix), Some(24));
//! assert_eq!(parse_network(&format_network(&net))?, net);
//! # Ok::<(), domxml::network::NetworkXmlError>(())
//! ```

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::format::escape;
use crate::model::{MacAddr, Uuid};
use crate::uuid::{generate_uuid, parse_uuid};

/// Largest network XML accepted.
pub const NETWORK_XML_MAX: usize = 1024 * 1024;
/// Longest interface name the kernel takes (`IFNAMSIZ` - 1).
pub const IFNAME_MAX: usize = 15;
/// Most DHCP ranges, hosts or DNS hosts in one network.
const LIST_MAX: usize = 4096;

/// Why network XML was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkXmlError {
    /// Not well-formed XML, or larger than [`NETWORK_XML_MAX`].
    #[error("malformed network XML: {0}")]
    Malformed(String),
    /// An element or attribute Moat does not run.
    #[error("unsupported {what} at {path}")]
    Unsupported {
        /// `element <x>` or `attribute y`.
        what: String,
        /// Where.
        path: String,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid value '{value}' for {path}")]
    Invalid {
        /// Where.
        path: String,
        /// What was given.
        value: String,
    },
    /// Something required is missing.
    #[error("missing {0}")]
    Missing(String),
    /// The parts do not fit together (a range outside the subnet, …).
    #[error("{0}")]
    Inconsistent(String),
}

/// How a network reaches the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardMode {
    /// No forwarding: guests reach each other (unless isolated) and the host's DHCP/DNS only.
    Isolated,
    /// Routed out through the host with source NAT (masquerade).
    Nat,
}

/// One DHCP address range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpRange {
    /// First address.
    pub start: Ipv4Addr,
    /// Last address.
    pub end: Ipv4Addr,
}

/// A fixed DHCP lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpHost {
    /// The guest NIC's MAC.
    pub mac: MacAddr,
    /// The address it always gets.
    pub ip: Ipv4Addr,
    /// Its host name, if any.
    pub name: Option<String>,
}

/// `<dhcp>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dhcp {
    /// `<range>`s.
    pub ranges: Vec<DhcpRange>,
    /// `<host>`s.
    pub hosts: Vec<DhcpHost>,
}

/// `<ip>`: the bridge's address and the guests' subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    /// The bridge's (gateway's) address.
    pub address: Ipv4Addr,
    /// Prefix length of the subnet.
    pub prefix: u8,
    /// DHCP service, if any.
    pub dhcp: Option<Dhcp>,
}

impl IpConfig {
    /// The subnet mask.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix))
    }

    /// The subnet's network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & prefix_mask(self.prefix))
    }

    /// Whether `ip` is in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & prefix_mask(self.prefix) == u32::from(self.network())
    }
}

fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// A static DNS record (`<dns><host>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    /// The address.
    pub ip: Ipv4Addr,
    /// Names resolving to it.
    pub hostnames: Vec<String>,
}

/// `<dns>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    /// `enable`: whether the network answers DNS at all.
    pub enabled: bool,
    /// Static records.
    pub hosts: Vec<DnsHost>,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            enabled: true,
            hosts: Vec::new(),
        }
    }
}

/// A virtual network definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`.
    pub uuid: Uuid,
    /// `<forward mode>`.
    pub forward: ForwardMode,
    /// `<bridge name>`; the daemon assigns one when missing.
    pub bridge: Option<String>,
    /// `<mac address>` of the bridge.
    pub mac: Option<MacAddr>,
    /// `<domain name>`.
    pub domain: Option<String>,
    /// `<port isolated='yes'/>`.
    pub port_isolated: bool,
    /// `<dns>`.
    pub dns: Dns,
    /// `<ip>`.
    pub ip: Option<IpConfig>,
}

type Node<'a, 'input> = roxmltree::Node<'a, 'input>;

fn path_of(node: Node<'_, '_>) -> String {
    let mut parts: Vec<&str> = node
        .ancestors()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    parts.reverse();
    format!("/{}", parts.join("/"))
}

/// Refuses attributes outside `allowed`.
fn only_attrs(node: Node<'_, '_>, allowed: &[&str]) -> Result<(), NetworkXmlError> {
    match node
        .attributes()
        .find(|a| !allowed.contains(&a.name()) || a.namespace().is_some())
    {
        Some(attr) => Err(NetworkXmlError::Unsupported {
            what: format!("attribute {}", attr.name()),
            path: path_of(node),
        }),
        None => Ok(()),
    }
}

/// The element children, refusing any whose name is outside `allowed`.
fn children<'a, 'input>(
    node: Node<'a, 'input>,
    allowed: &[&str],
) -> Result<Vec<Node<'a, 'input>>, NetworkXmlError> {
    let mut out = Vec::new();
    for child in node.children().filter(|n| n.is_element()) {
        if !allowed.contains(&child.tag_name().name()) || child.tag_name().namespace().is_some() {
            return Err(NetworkXmlError::Unsupported {
                what: format!("element <{}>", child.tag_name().name()),
                path: path_of(child),
            });
        }
        out.push(child);
    }
    if out.len() > LIST_MAX {
        return Err(NetworkXmlError::Inconsistent(format!(
            "more than {LIST_MAX} elements in {}",
            path_of(node)
        )));
    }
    Ok(out)
}

fn invalid(node: Node<'_, '_>, attr: &str, value: &str) -> NetworkXmlError {
    NetworkXmlError::Invalid {
        path: format!("{}/@{attr}", path_of(node)),
        value: value.to_owned(),
    }
}

fn req<'a>(node: Node<'a, '_>, attr: &str) -> Result<&'a str, NetworkXmlError> {
    node.attribute(attr)
        .ok_or_else(|| NetworkXmlError::Missing(format!("{}/@{attr}", path_of(node))))
}

fn parse_attr<T: std::str::FromStr>(node: Node<'_, '_>, attr: &str) -> Result<T, NetworkXmlError> {
    let value = req(node, attr)?;
    value.trim().parse().map_err(|_| invalid(node, attr, value))
}

fn yes_no(node: Node<'_, '_>, attr: &str, default: bool) -> Result<bool, NetworkXmlError> {
    match node.attribute(attr) {
        None => Ok(default),
        Some("yes" | "on") => Ok(true),
        Some("no" | "off") => Ok(false),
        Some(other) => Err(invalid(node, attr, other)),
    }
}

fn text_of(node: Node<'_, '_>) -> String {
    node.text().unwrap_or("").trim().to_owned()
}

/// Whether `name` is a usable network name (it also names files and log lines).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
}

/// Whether `name` is a usable interface name.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name != "."
        && name != ".."
}

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Parses and validates network XML.
pub fn parse_network(xml: &str) -> Result<Network, NetworkXmlError> {
    if xml.len() > NETWORK_XML_MAX {
        return Err(NetworkXmlError::Malformed(format!(
            "larger than {NETWORK_XML_MAX} bytes"
        )));
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options)
        .map_err(|e| NetworkXmlError::Malformed(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "network" {
        return Err(NetworkXmlError::Unsupported {
            what: format!("root element <{}>", root.tag_name().name()),
            path: "/".into(),
        });
    }
    // ipv6='no' and trustGuestRxFilters='no' are libvirt's defaults, harmless to accept.
    only_attrs(root, &["ipv6", "trustGuestRxFilters", "connections"])?;
    if yes_no(root, "ipv6", false)? {
        return Err(invalid(root, "ipv6", "yes"));
    }
    if yes_no(root, "trustGuestRxFilters", false)? {
        return Err(invalid(root, "trustGuestRxFilters", "yes"));
    }
    let mut net = Network {
        name: String::new(),
        uuid: Uuid::nil(),
        forward: ForwardMode::Isolated,
        bridge: None,
        mac: None,
        domain: None,
        port_isolated: false,
        dns: Dns::default(),
        ip: None,
    };
    let mut uuid = None;
    let mut seen: Vec<&str> = Vec::new();
    for child in children(
        root,
        &[
            "name", "uuid", "forward", "bridge", "mac", "domain", "port", "dns", "ip",
        ],
    )? {
        let tag = child.tag_name().name();
        if seen.contains(&tag) {
            return Err(NetworkXmlError::Unsupported {
                what: format!("second element <{tag}>"),
                path: path_of(child),
            });
        }
        seen.push(tag);
        match tag {
            "name" => net.name = text_of(child),
            "uuid" => {
                let text = text_of(child);
                uuid = Some(parse_uuid(&text).map_err(|_| NetworkXmlError::Invalid {
                    path: path_of(child),
                    value: text.clone(),
                })?);
            }
            "forward" => {
                only_attrs(child, &["mode"])?;
                children(child, &[])?;
                net.forward = match child.attribute("mode") {
                    None | Some("nat") => ForwardMode::Nat,
                    Some("none") => ForwardMode::Isolated,
                    Some(other) => {
                        return Err(NetworkXmlError::Unsupported {
                            what: format!("forward mode '{other}'"),
                            path: path_of(child),
                        })
                    }
                };
            }
            "bridge" => {
                only_attrs(child, &["name", "stp", "delay"])?;
                children(child, &[])?;
                if let Some(name) = child.attribute("name") {
                    if !valid_ifname(name) {
                        return Err(invalid(child, "name", name));
                    }
                    net.bridge = Some(name.to_owned());
                }
                yes_no(child, "stp", true)?;
                if child.attribute("delay").is_some() {
                    parse_attr::<u32>(child, "delay")?;
                }
            }
            "mac" => {
                only_attrs(child, &["address"])?;
                children(child, &[])?;
                let value = req(child, "address")?;
                let mac: MacAddr = value
                    .parse()
                    .map_err(|_| invalid(child, "address", value))?;
                if mac.is_multicast() {
                    return Err(invalid(child, "address", value));
                }
                net.mac = Some(mac);
            }
            "domain" => {
                only_attrs(child, &["name", "localOnly"])?;
                children(child, &[])?;
                let name = req(child, "name")?;
                if !valid_dns_name(name) {
                    return Err(invalid(child, "name", name));
                }
                net.domain = Some(name.to_owned());
            }
            "port" => {
                only_attrs(child, &["isolated"])?;
                children(child, &[])?;
                net.port_isolated = yes_no(child, "isolated", false)?;
            }
            "dns" => net.dns = dns_of(child)?,
            "ip" => net.ip = Some(ip_of(child)?),
            _ => {}
        }
    }
    if net.name.is_empty() {
        return Err(NetworkXmlError::Missing("/network/name".into()));
    }
    if !valid_name(&net.name) {
        return Err(NetworkXmlError::Invalid {
            path: "/network/name".into(),
            value: net.name,
        });
    }
    net.uuid = uuid.unwrap_or_else(generate_uuid);
    validate_network(&net)?;
    Ok(net)
}

fn dns_of(node: Node<'_, '_>) -> Result<Dns, NetworkXmlError> {
    only_attrs(node, &["enable"])?;
    let mut dns = Dns {
        enabled: yes_no(node, "enable", true)?,
        hosts: Vec::new(),
    };
    for host in children(node, &["host"])? {
        only_attrs(host, &["ip"])?;
        let ip = parse_attr(host, "ip")?;
        let mut hostnames = Vec::new();
        for name in children(host, &["hostname"])? {
            only_attrs(name, &[])?;
            let text = text_of(name);
            if !valid_dns_name(&text) {
                return Err(NetworkXmlError::Invalid {
                    path: path_of(name),
                    value: text,
                });
            }
            hostnames.push(text);
        }
        if hostnames.is_empty() {
            return Err(NetworkXmlError::Missing(format!(
                "{}/hostname",
                path_of(host)
            )));
        }
        dns.hosts.push(DnsHost { ip, hostnames });
    }
    Ok(dns)
}

fn ip_of(node: Node<'_, '_>) -> Result<IpConfig, NetworkXmlError> {
    only_attrs(node, &["address", "netmask", "prefix", "family"])?;
    if let Some(family) = node.attribute("family") {
        if family != "ipv4" {
            return Err(NetworkXmlError::Unsupported {
                what: format!("address family '{family}'"),
                path: path_of(node),
            });
        }
    }
    let address: Ipv4Addr = parse_attr(node, "address")?;
    let prefix = match (node.attribute("netmask"), node.attribute("prefix")) {
        (Some(_), Some(_)) => {
            return Err(NetworkXmlError::Inconsistent(format!(
                "{} has both netmask and prefix",
                path_of(node)
            )))
        }
        (Some(mask), None) => {
            let bits = u32::from(
                mask.trim()
                    .parse::<Ipv4Addr>()
                    .map_err(|_| invalid(node, "netmask", mask))?,
            );
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(invalid(node, "netmask", mask));
            }
            u8::try_from(bits.leading_ones()).map_err(|_| invalid(node, "netmask", mask))?
        }
        (None, Some(_)) => parse_attr::<u8>(node, "prefix")?,
        (None, None) => 24,
    };
    if !(8..=30).contains(&prefix) {
        return Err(NetworkXmlError::Inconsistent(format!(
            "prefix /{prefix} at {}: Moat takes /8 to /30",
            path_of(node)
        )));
    }
    let mut ip = IpConfig {
        address,
        prefix,
        dhcp: None,
    };
    for child in children(node, &["dhcp"])? {
        only_attrs(child, &[])?;
        let mut dhcp = Dhcp::default();
        for entry in children(child, &["range", "host"])? {
            if entry.tag_name().name() == "range" {
                only_attrs(entry, &["start", "end"])?;
                children(entry, &[])?;
                dhcp.ranges.push(DhcpRange {
                    start: parse_attr(entry, "start")?,
                    end: parse_attr(entry, "end")?,
                });
            } else {
                only_attrs(entry, &["mac", "ip", "name"])?;
                children(entry, &[])?;
                let value = req(entry, "mac")?;
                let mac: MacAddr = value.parse().map_err(|_| invalid(entry, "mac", value))?;
                let name = entry.attribute("name").map(str::to_owned);
                if let Some(name) = &name {
                    if !valid_dns_name(name) {
                        return Err(invalid(entry, "name", name));
                    }
                }
                dhcp.hosts.push(DhcpHost {
                    mac,
                    ip: parse_attr(entry, "ip")?,
                    name,
                });
            }
        }
        ip.dhcp = Some(dhcp);
    }
    Ok(ip)
}

/// Checks what spans elements: addresses inside the subnet, no overlaps.
pub fn validate_network(net: &Network) -> Result<(), NetworkXmlError> {
    if net.forward == ForwardMode::Nat && net.ip.is_none() {
        return Err(NetworkXmlError::Inconsistent(
            "a nat network needs an <ip> address to route from".into(),
        ));
    }
    let Some(ip) = &net.ip else {
        return Ok(());
    };
    let addr = u32::from(ip.address);
    let net_addr = u32::from(ip.network());
    let broadcast = net_addr | !prefix_mask(ip.prefix);
    if addr == net_addr || addr == broadcast {
        return Err(NetworkXmlError::Inconsistent(format!(
            "{} is the network or broadcast address of its subnet",
            ip.address
        )));
    }
    let usable =
        |a: Ipv4Addr| ip.contains(a) && u32::from(a) != net_addr && u32::from(a) != broadcast;
    if let Some(dhcp) = &ip.dhcp {
        for range in &dhcp.ranges {
            if !usable(range.start) || !usable(range.end) || range.start > range.end {
                return Err(NetworkXmlError::Inconsistent(format!(
                    "DHCP range {}-{} is not an ordered range inside {}/{}",
                    range.start,
                    range.end,
                    ip.network(),
                    ip.prefix
                )));
            }
            if range.start <= ip.address && ip.address <= range.end {
                return Err(NetworkXmlError::Inconsistent(format!(
                    "DHCP range {}-{} holds the bridge address {}",
                    range.start, range.end, ip.address
                )));
            }
        }
        for (i, host) in dhcp.hosts.iter().enumerate() {
            if !usable(host.ip) || host.ip == ip.address {
                return Err(NetworkXmlError::Inconsistent(format!(
                    "DHCP host {} has address {} outside {}/{} or the bridge's",
                    host.mac,
                    host.ip,
                    ip.network(),
                    ip.prefix
                )));
            }
            if host.mac.is_multicast() {
                return Err(NetworkXmlError::Inconsistent(format!(
                    "DHCP host MAC {} is a multicast address",
                    host.mac
                )));
            }
            if dhcp.hosts[..i]
                .iter()
                .any(|h| h.mac == host.mac || h.ip == host.ip)
            {
                return Err(NetworkXmlError::Inconsistent(format!(
                    "DHCP host {} / {} is given twice",
                    host.mac, host.ip
                )));
            }
        }
    }
    Ok(())
}

/// Formats a network as `virsh net-dumpxml` shows it.
pub fn format_network(net: &Network) -> String {
    let mut out = String::from("<network>\n");
    let _ = writeln!(out, "  <name>{}</name>", escape(&net.name));
    let _ = writeln!(out, "  <uuid>{}</uuid>", net.uuid.hyphenated());
    if net.forward == ForwardMode::Nat {
        out.push_str("  <forward mode='nat'/>\n");
    }
    if let Some(bridge) = &net.bridge {
        let _ = writeln!(
            out,
            "  <bridge name='{}' stp='on' delay='0'/>",
            escape(bridge)
        );
    }
    if let Some(mac) = net.mac {
        let _ = writeln!(out, "  <mac address='{mac}'/>");
    }
    if let Some(domain) = &net.domain {
        let _ = writeln!(out, "  <domain name='{}'/>", escape(domain));
    }
    if net.port_isolated {
        out.push_str("  <port isolated='yes'/>\n");
    }
    if !net.dns.enabled {
        out.push_str("  <dns enable='no'/>\n");
    } else if !net.dns.hosts.is_empty() {
        out.push_str("  <dns>\n");
        for host in &net.dns.hosts {
            let _ = writeln!(out, "    <host ip='{}'>", host.ip);
            for name in &host.hostnames {
                let _ = writeln!(out, "      <hostname>{}</hostname>", escape(name));
            }
            out.push_str("    </host>\n");
        }
        out.push_str("  </dns>\n");
    }
    if let Some(ip) = &net.ip {
        let _ = write!(
            out,
            "  <ip address='{}' netmask='{}'",
            ip.address,
            ip.netmask()
        );
        match &ip.dhcp {
            None => out.push_str("/>\n"),
            Some(dhcp) => {
                out.push_str(">\n    <dhcp>\n");
                for range in &dhcp.ranges {
                    let _ = writeln!(
                        out,
                        "      <range start='{}' end='{}'/>",
                        range.start, range.end
                    );
                }
                for host in &dhcp.hosts {
                    let _ = write!(out, "      <host mac='{}'", host.mac);
                    if let Some(name) = &host.name {
                        let _ = write!(out, " name='{}'", escape(name));
                    }
                    let _ = writeln!(out, " ip='{}'/>", host.ip);
                }
                out.push_str("    </dhcp>\n  </ip>\n");
            }
        }
    }
    out.push_str("</network>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "<network>
  <name>lab</name>
  <uuid>11111111-2222-4333-8444-555555555555</uuid>
  <forward mode='nat'/>
  <bridge name='moatbr7' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <domain name='lab.test'/>
  <port isolated='yes'/>
  <dns><host ip='10.7.0.5'><hostname>db</hostname><hostname>db.lab.test</hostname></host></dns>
  <ip address='10.7.0.1' prefix='24'>
    <dhcp>
      <range start='10.7.0.100' end='10.7.0.200'/>
      <host mac='52:54:00:00:00:01' name='web' ip='10.7.0.10'/>
    </dhcp>
  </ip>
</network>";

    #[test]
    fn full_network_round_trips() {
        let net = parse_network(FULL).unwrap();
        assert_eq!(net.name, "lab");
        assert_eq!(net.forward, ForwardMode::Nat);
        assert_eq!(net.bridge.as_deref(), Some("moatbr7"));
        assert!(net.port_isolated);
        let ip = net.ip.as_ref().unwrap();
        assert_eq!(ip.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(
            ip.dhcp.as_ref().unwrap().hosts[0].ip,
            Ipv4Addr::new(10, 7, 0, 10)
        );
        let text = format_network(&net);
        assert!(
            text.contains("<ip address='10.7.0.1' netmask='255.255.255.0'>"),
            "{text}"
        );
        assert_eq!(parse_network(&text).unwrap(), net);
    }

    #[test]
    fn minimal_network_is_isolated_with_a_new_uuid() {
        let net = parse_network("<network><name>iso</name></network>").unwrap();
        assert_eq!(net.forward, ForwardMode::Isolated);
        assert!(!net.uuid.is_nil());
        assert!(net.ip.is_none());
        let net =
            parse_network("<network><name>iso</name><forward mode='none'/></network>").unwrap();
        assert_eq!(net.forward, ForwardMode::Isolated);
    }

    #[test]
    fn unknown_or_unsafe_input_is_refused() {
        let cases = [
            ("<network><name>a</name><forward mode='bridge'/></network>", "forward mode 'bridge'"),
            ("<network><name>a</name><virtualport/></network>", "element <virtualport>"),
            ("<network><name>a</name><ip address='10.0.0.1' family='ipv6'/></network>", "family"),
            ("<network ipv6='yes'><name>a</name></network>", "ipv6"),
            ("<network><name>../x</name></network>", "name"),
            ("<network><name>a</name><bridge name='this-name-is-too-long'/></network>", "bridge"),
            ("<network><name>a</name><forward mode='nat'/></network>", "nat network needs"),
            (
                "<network><name>a</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
                "not an ordered range",
            ),
            (
                "<network><name>a</name><ip address='10.0.0.5' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'/></dhcp></ip></network>",
                "bridge address",
            ),
            ("<network><name>a</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>", "netmask"),
            ("<!DOCTYPE x [<!ENTITY e 'x'>]><network><name>a</name></network>", "malformed"),
            ("<network><name>a</name><name>b</name></network>", "second element"),
        ];
        for (xml, needle) in cases {
            let err = parse_network(xml).unwrap_err().to_string();
            assert!(err.contains(needle), "{xml}: {err}");
        }
    }
}
