//! `<interface>`: guest network cards.

use std::fmt;
use std::str::FromStr;

use super::{Address, Extra};

/// `type` of an interface: how it reaches the host's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterfaceType {
    /// A libvirt virtual network (`<source network=…>`).
    Network,
    /// A host bridge (`<source bridge=…>`).
    Bridge,
    /// User-mode networking (slirp/passt).
    User,
    /// A tap device the host sets up itself.
    Ethernet,
    /// macvtap on a host NIC (`<source dev=… mode=…>`).
    Direct,
}

impl InterfaceType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceType::Network => "network",
            InterfaceType::Bridge => "bridge",
            InterfaceType::User => "user",
            InterfaceType::Ethernet => "ethernet",
            InterfaceType::Direct => "direct",
        }
    }
}

/// An `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `type`.
    pub kind: InterfaceType,
    /// `<mac address='…'/>`.
    pub mac: Option<MacAddr>,
    /// `<source>`.
    pub source: Option<InterfaceSource>,
    /// `<target dev='…'/>`: the host-side device name.
    pub target_dev: Option<String>,
    /// `<model type='…'/>` (`virtio`, `e1000e`, `rtl8139`).
    pub model: Option<String>,
    /// `<driver>`, verbatim.
    pub driver: Option<super::RawXml>,
    /// `<link state='…'/>`.
    pub link_state: Option<String>,
    /// `<mtu size='…'/>`.
    pub mtu: Option<u32>,
    /// `<port isolated='yes|no'/>`: kept apart from the network's other isolated ports.
    pub port_isolated: Option<super::YesNo>,
    /// `<boot order='N'/>`.
    pub boot_order: Option<u32>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

/// `<source network=… bridge=… dev=… mode=… portgroup=…/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceSource {
    /// `network`.
    pub network: Option<String>,
    /// `portgroup`.
    pub portgroup: Option<String>,
    /// `bridge`.
    pub bridge: Option<String>,
    /// `dev` (direct).
    pub dev: Option<String>,
    /// `mode` (direct: `vepa`, `bridge`, `private`, `passthrough`).
    pub mode: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}

/// A MAC address, written lowercase with colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

/// Why a MAC address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected six hex octets separated by ':'")]
pub struct MacAddrError;

impl MacAddr {
    /// Whether the multicast bit is set (not allowed for a NIC).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl FromStr for MacAddr {
    type Err = MacAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut octets = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or(MacAddrError)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(MacAddrError);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| MacAddrError)?;
        }
        if parts.next().is_some() {
            return Err(MacAddrError);
        }
        Ok(MacAddr(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
