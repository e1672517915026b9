//! Virtual networks and guest ports: define, start and stop networks, give guests their taps,
//! and keep the firewall in step with both.
//!
//! State: persistent definitions in `STATE/networks/<uuid>.xml` (autostart markers in
//! `STATE/network-autostart/`); for each running network `RUN/networks/<name>/` holds its live
//! definition (`live.xml`, with the bridge it got) and dnsmasq's files; each guest port is
//! `RUN/ports/<tap>.json`. After a daemon restart [`Driver::networks_start_up`] takes back the
//! networks whose bridge still exists and the ports whose tap still exists, restarts a missing
//! dnsmasq, then re-applies the firewall: the same networks and ports give the same ruleset.
//!
//! A port on a Moat network is pinned to one IPv4 address, reserved for the guest NIC's MAC
//! before the guest starts (its `<host>` entry, else the lowest free address of the DHCP
//! ranges) and handed to dnsmasq as a fixed lease; the firewall lets the port send from that
//! address only.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use domxml::model::{InterfaceType, MacAddr, YesNo};
use domxml::network::{format_network, parse_network, ForwardMode, Network};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Driver, DriverError};
use crate::audit::Outcome;
use crate::config::{Config, HostFirewallMode};
use crate::errors::chain;
use crate::identity::PeerIdentity;
use crate::network::dnsmasq::{self, DnsmasqFiles, Lease};
use crate::network::ruleset::{Firewall, HostRules, NetRules, PortRules};
use crate::network::{link, nft};
use crate::store::{write_atomic, DomainStore};

/// The unprivileged user dnsmasq drops to.
pub const DNSMASQ_USER: &str = "nobody";

/// A network as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSummary {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: Uuid,
    /// Running.
    pub active: bool,
    /// Has a stored definition.
    pub persistent: bool,
    /// Starts with the daemon.
    pub autostart: bool,
}

/// How a network is looked up.
#[derive(Debug, Clone)]
pub enum NetLookup {
    /// By name.
    Name(String),
    /// By UUID.
    Uuid(Uuid),
}

#[derive(Debug, Clone)]
struct NetObject {
    def: Network,
    live: Option<Network>,
    persistent: bool,
    autostart: bool,
}

impl NetObject {
    fn summary(&self) -> NetSummary {
        NetSummary {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            active: self.live.is_some(),
            persistent: self.persistent,
            autostart: self.autostart,
        }
    }
}

/// A guest's tap, recorded in `RUN/ports/<tap>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// The tap device.
    pub tap: String,
    /// The guest NIC's MAC.
    pub mac: String,
    /// The address it is pinned to (Moat networks with DHCP).
    pub ipv4: Option<Ipv4Addr>,
    /// Isolated from the network's other isolated ports.
    pub isolated: bool,
    /// The Moat network, or `None` on a host bridge.
    pub network: Option<String>,
    /// The bridge.
    pub bridge: String,
    /// The guest.
    pub domain: Uuid,
}

#[derive(Debug, Default)]
struct NetState {
    nets: BTreeMap<Uuid, NetObject>,
    ports: BTreeMap<String, Port>,
}

/// The networks side of the driver.
#[derive(Debug)]
pub struct Networks {
    state: Mutex<NetState>,
    store: Mutex<Option<DomainStore>>,
    state_dir: PathBuf,
    run_dir: PathBuf,
}

impl Networks {
    /// Networks under the daemon's state and run directories (nothing is read yet).
    pub fn new(state_dir: &Path, run_dir: &Path) -> Self {
        Networks {
            state: Mutex::new(NetState::default()),
            store: Mutex::new(None),
            state_dir: state_dir.to_owned(),
            run_dir: run_dir.to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self) -> Result<DomainStore, DriverError> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = &*store {
            return Ok(store.clone());
        }
        let opened = DomainStore::open_in(
            self.state_dir.join("networks"),
            self.state_dir.join("network-autostart"),
        )?;
        *store = Some(opened.clone());
        Ok(opened)
    }

    fn net_dir(&self, name: &str) -> PathBuf {
        self.run_dir.join("networks").join(name)
    }

    fn files(&self, name: &str) -> DnsmasqFiles {
        DnsmasqFiles::new(self.net_dir(name))
    }

    fn ports_dir(&self) -> PathBuf {
        self.run_dir.join("ports")
    }
}

fn host_err(err: &dyn std::error::Error) -> DriverError {
    DriverError::Network(chain(err))
}

fn no_network(lookup: &NetLookup) -> DriverError {
    DriverError::NoNetwork {
        what: match lookup {
            NetLookup::Name(name) => format!("name '{name}'"),
            NetLookup::Uuid(uuid) => format!("uuid '{uuid}'"),
        },
    }
}

fn find<'a>(state: &'a NetState, lookup: &NetLookup) -> Result<&'a NetObject, DriverError> {
    match lookup {
        NetLookup::Uuid(uuid) => state.nets.get(uuid),
        NetLookup::Name(name) => state.nets.values().find(|o| &o.def.name == name),
    }
    .ok_or_else(|| no_network(lookup))
}

/// The host firewall `config` asks for, if any.
fn host_rules(config: &Config) -> Option<HostRules> {
    match config.host_firewall {
        HostFirewallMode::Off => None,
        HostFirewallMode::DefaultReject => Some(HostRules {
            tcp_ports: config.host_allowed_tcp_ports.clone(),
            udp_ports: config.host_allowed_udp_ports.clone(),
        }),
    }
}

/// The firewall for `state`, with the host firewall `config` asks for.
fn firewall(state: &NetState, config: &Config) -> Firewall {
    let networks = state
        .nets
        .values()
        .filter_map(|o| o.live.as_ref())
        .map(|live| NetRules {
            bridge: live.bridge.clone().unwrap_or_default(),
            forward: live.forward,
            subnet: live.ip.as_ref().map(|ip| (ip.network(), ip.prefix)),
            dhcp: live.ip.as_ref().is_some_and(|ip| ip.dhcp.is_some()),
            dns: live.dns.enabled,
        })
        .collect();
    let ports = state
        .ports
        .values()
        .filter_map(|p| {
            Some(PortRules {
                tap: p.tap.clone(),
                mac: p.mac.parse().ok()?,
                ipv4: p.ipv4,
                isolated: p.isolated,
            })
        })
        .collect();
    Firewall {
        networks,
        ports,
        host: host_rules(config),
    }
}

/// The fixed leases of a running network: its `<host>`s and its ports' reservations.
fn hosts_of(state: &NetState, live: &Network) -> String {
    let mut entries: Vec<(MacAddr, Ipv4Addr, Option<String>)> = live
        .ip
        .as_ref()
        .and_then(|ip| ip.dhcp.as_ref())
        .map(|d| {
            d.hosts
                .iter()
                .map(|h| (h.mac, h.ip, h.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    for port in state.ports.values() {
        if port.network.as_deref() == Some(&live.name) {
            if let (Some(ip), Ok(mac)) = (port.ipv4, port.mac.parse::<MacAddr>()) {
                if !entries.iter().any(|(m, _, _)| *m == mac) {
                    entries.push((mac, ip, None));
                }
            }
        }
    }
    dnsmasq::hosts_file(&entries)
}

/// The address a NIC on `live` is pinned to: its `<host>` entry, else the lowest free address
/// of the DHCP ranges. `None` when the network serves no DHCP.
fn reserve(
    state: &NetState,
    live: &Network,
    mac: MacAddr,
) -> Result<Option<Ipv4Addr>, DriverError> {
    let Some(dhcp) = live.ip.as_ref().and_then(|ip| ip.dhcp.as_ref()) else {
        return Ok(None);
    };
    if let Some(host) = dhcp.hosts.iter().find(|h| h.mac == mac) {
        return Ok(Some(host.ip));
    }
    let taken: Vec<Ipv4Addr> = dhcp
        .hosts
        .iter()
        .map(|h| h.ip)
        .chain(
            state
                .ports
                .values()
                .filter(|p| p.network.as_deref() == Some(&live.name))
                .filter_map(|p| p.ipv4),
        )
        .collect();
    for range in &dhcp.ranges {
        for n in u32::from(range.start)..=u32::from(range.end) {
            let ip = Ipv4Addr::from(n);
            if !taken.contains(&ip) {
                return Ok(Some(ip));
            }
        }
    }
    Err(DriverError::Network(format!(
        "network '{}' has no free address left in its DHCP ranges",
        live.name
    )))
}

/// A MAC for a NIC that has none: 52:54:00 and three bytes from the guest's UUID and the
/// NIC's index, so that it is the same at every start.
pub fn default_mac(uuid: &Uuid, index: usize) -> MacAddr {
    let b = uuid.as_bytes();
    let i = u8::try_from(index % 256).unwrap_or(0);
    MacAddr([
        0x52,
        0x54,
        0x00,
        b[13] ^ b[0],
        b[14] ^ b[1],
        b[15].wrapping_add(i),
    ])
}

/// What a guest start got: the taps' fds in `tap_interfaces` order, and their names.
#[derive(Debug, Default)]
pub struct GuestPorts {
    /// One fd per tap, for QEMU.
    pub fds: Vec<OwnedFd>,
    /// The tap names (for undo).
    pub taps: Vec<String>,
}

impl Driver {
    /// Replaces Moat's tables with the rules of `state`, and audits it.
    fn apply_firewall(&self, state: &NetState) -> Result<(), DriverError> {
        let fw = firewall(state, &self.config);
        let result = nft::apply(&fw);
        let record = serde_json::json!({
            "networks": fw.networks.iter().map(|n| n.bridge.clone()).collect::<Vec<_>>(),
            "ports": fw.ports.iter().map(|p| serde_json::json!({
                "tap": p.tap, "mac": p.mac.to_string(),
                "ipv4": p.ipv4.map(|ip| ip.to_string()), "isolated": p.isolated,
            })).collect::<Vec<_>>(),
            "host": fw.host.as_ref().map(|h| serde_json::json!({
                "policy": "drop", "tcp_ports": h.tcp_ports, "udp_ports": h.udp_ports,
            })),
        });
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err(err) => Outcome::Error(&err.detail),
        };
        self.audit
            .record(&PeerIdentity::daemon(), "NETWORK_FIREWALL", record, outcome);
        result.map_err(|e| host_err(&e))
    }

    /// Reads stored networks, takes back running ones and their ports, restarts what is
    /// missing and re-applies the firewall. Called once at start-up, before guests are found.
    pub fn networks_start_up(&self) -> Result<(), DriverError> {
        let nets = &self.networks;
        let store = nets.store()?;
        let (stored, skipped) = store.load_all()?;
        for file in skipped {
            tracing::error!(path = %file.path.display(), reason = %file.reason, "stored network skipped");
        }
        let mut state = nets.lock();
        for def in stored {
            match parse_network(&def.xml) {
                Ok(net) if net.uuid == def.uuid => {
                    state.nets.insert(
                        net.uuid,
                        NetObject {
                            def: net,
                            live: None,
                            persistent: true,
                            autostart: def.autostart,
                        },
                    );
                }
                Ok(_) => {
                    tracing::error!(path = %def.path.display(), "stored network uuid mismatch")
                }
                Err(err) => {
                    tracing::error!(path = %def.path.display(), err = %err, "stored network unreadable")
                }
            }
        }
        // Running networks: their live definition, if their bridge is still there.
        if let Ok(entries) = std::fs::read_dir(nets.run_dir.join("networks")) {
            for entry in entries.flatten() {
                let live_path = entry.path().join("live.xml");
                let Ok(live) = std::fs::read_to_string(&live_path)
                    .map_err(|e| e.to_string())
                    .and_then(|x| parse_network(&x).map_err(|e| e.to_string()))
                else {
                    continue;
                };
                let bridge = live.bridge.clone().unwrap_or_default();
                if !link::exists(&bridge) {
                    let _ = std::fs::remove_dir_all(entry.path());
                    continue;
                }
                let object = state.nets.entry(live.uuid).or_insert_with(|| NetObject {
                    def: live.clone(),
                    live: None,
                    persistent: false,
                    autostart: false,
                });
                object.live = Some(live);
            }
        }
        if let Ok(entries) = std::fs::read_dir(nets.ports_dir()) {
            for entry in entries.flatten() {
                let port: Option<Port> = std::fs::read(entry.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                match port {
                    Some(port) if link::exists(&port.tap) => {
                        state.ports.insert(port.tap.clone(), port);
                    }
                    _ => {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
        // Autostart networks, and dnsmasq for running ones that lost it.
        let uuids: Vec<Uuid> = state.nets.keys().copied().collect();
        for uuid in uuids {
            let Some(object) = state.nets.get(&uuid).cloned() else {
                continue;
            };
            match &object.live {
                Some(live) => {
                    let files = nets.files(&live.name);
                    if dnsmasq::wanted(live) && dnsmasq::running_pid(&files).is_none() {
                        let hosts = hosts_of(&state, live);
                        let bridge = live.bridge.clone().unwrap_or_default();
                        if let Err(err) =
                            dnsmasq::start(live, &bridge, &files, DNSMASQ_USER, &hosts)
                        {
                            tracing::error!(network = %live.name, err = %chain(&err), "cannot restart dnsmasq");
                        }
                    }
                }
                None if object.autostart => {
                    if let Err(err) = self.start_network_locked(&mut state, &uuid) {
                        tracing::error!(network = %object.def.name, err = %chain(&err), "network autostart failed");
                    }
                }
                None => {}
            }
        }
        // With nothing to enforce nftables is left alone, except to take away the tables a
        // previous run left (a host firewall since turned off, say).
        if !firewall(&state, &self.config).is_empty() || nft::tables_present() {
            self.apply_firewall(&state)?;
        }
        Ok(())
    }

    /// Installs Moat's firewall tables again from the running networks and ports (after a
    /// host firewall reload flushed them, say); nothing is done when there is nothing to enforce.
    pub fn reapply_firewall(&self) -> Result<(), DriverError> {
        let state = self.networks.lock();
        if firewall(&state, &self.config).is_empty() {
            return Ok(());
        }
        self.apply_firewall(&state)
    }

    /// Every network.
    pub fn net_list(&self) -> Vec<NetSummary> {
        self.networks
            .lock()
            .nets
            .values()
            .map(NetObject::summary)
            .collect()
    }

    /// One network.
    pub fn net_lookup(&self, lookup: &NetLookup) -> Result<NetSummary, DriverError> {
        Ok(find(&self.networks.lock(), lookup)?.summary())
    }

    fn parse_for_define(&self, xml: &str, state: &NetState) -> Result<Network, DriverError> {
        let mut net = parse_network(xml).map_err(DriverError::NetworkXml)?;
        for other in state.nets.values() {
            if other.def.uuid != net.uuid && other.def.name == net.name {
                return Err(DriverError::OperationInvalid(format!(
                    "network '{}' already exists with uuid {}",
                    net.name, other.def.uuid
                )));
            }
            if other.def.uuid == net.uuid && other.def.name != net.name {
                return Err(DriverError::OperationInvalid(format!(
                    "network uuid {} is already used by network '{}'",
                    net.uuid, other.def.name
                )));
            }
        }
        if net.bridge.is_none() {
            let used: Vec<&str> = state
                .nets
                .values()
                .filter(|o| o.def.uuid != net.uuid)
                .filter_map(|o| o.def.bridge.as_deref())
                .collect();
            let free = (0..10_000)
                .map(|n| format!("moatbr{n}"))
                .find(|name| !used.contains(&name.as_str()) && !link::exists(name));
            net.bridge = free;
        }
        if let Some(bridge) = &net.bridge {
            if let Some(other) = state.nets.values().find(|o| {
                o.def.uuid != net.uuid && o.def.bridge.as_deref() == Some(bridge.as_str())
            }) {
                return Err(DriverError::OperationInvalid(format!(
                    "bridge '{bridge}' is already used by network '{}'",
                    other.def.name
                )));
            }
        }
        Ok(net)
    }

    /// Defines (or redefines) a persistent network; `authorize` sees it before anything changes.
    pub fn net_define(
        &self,
        xml: &str,
        authorize: impl FnOnce(&Network) -> Result<(), DriverError>,
    ) -> Result<NetSummary, DriverError> {
        let store = self.networks.store()?;
        let mut state = self.networks.lock();
        let net = self.parse_for_define(xml, &state)?;
        authorize(&net)?;
        store.save(&net.uuid, &format_network(&net))?;
        let object = state.nets.entry(net.uuid).or_insert_with(|| NetObject {
            def: net.clone(),
            live: None,
            persistent: true,
            autostart: false,
        });
        object.def = net;
        object.persistent = true;
        Ok(object.summary())
    }

    /// Defines a transient network and starts it.
    pub fn net_create_xml(
        &self,
        xml: &str,
        authorize: impl FnOnce(&Network) -> Result<(), DriverError>,
    ) -> Result<NetSummary, DriverError> {
        let mut state = self.networks.lock();
        let net = self.parse_for_define(xml, &state)?;
        authorize(&net)?;
        if state.nets.contains_key(&net.uuid) {
            return Err(DriverError::OperationInvalid(format!(
                "network '{}' is already defined",
                net.name
            )));
        }
        let uuid = net.uuid;
        state.nets.insert(
            uuid,
            NetObject {
                def: net,
                live: None,
                persistent: false,
                autostart: false,
            },
        );
        if let Err(err) = self.start_network_locked(&mut state, &uuid) {
            state.nets.remove(&uuid);
            return Err(err);
        }
        find(&state, &NetLookup::Uuid(uuid)).map(NetObject::summary)
    }

    /// Removes a network's definition; a running one becomes transient.
    pub fn net_undefine(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let store = self.networks.store()?;
        let mut state = self.networks.lock();
        let object = find(&state, &NetLookup::Uuid(*uuid))?;
        if !object.persistent {
            return Err(DriverError::OperationInvalid(format!(
                "network '{}' is not persistent",
                object.def.name
            )));
        }
        store.remove(uuid)?;
        if object.live.is_some() {
            if let Some(o) = state.nets.get_mut(uuid) {
                o.persistent = false;
                o.autostart = false;
            }
        } else {
            state.nets.remove(uuid);
        }
        Ok(())
    }

    /// Starts a defined network.
    pub fn net_start(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let mut state = self.networks.lock();
        self.start_network_locked(&mut state, uuid)
    }

    fn start_network_locked(&self, state: &mut NetState, uuid: &Uuid) -> Result<(), DriverError> {
        let object = find(state, &NetLookup::Uuid(*uuid))?.clone();
        if object.live.is_some() {
            return Err(DriverError::OperationInvalid(format!(
                "network '{}' is already active",
                object.def.name
            )));
        }
        let live = object.def.clone();
        let bridge = live
            .bridge
            .clone()
            .ok_or_else(|| DriverError::Network("no free bridge name".into()))?;
        if link::exists(&bridge) {
            return Err(DriverError::Network(format!(
                "bridge '{bridge}' already exists on the host"
            )));
        }
        let dir = self.networks.net_dir(&live.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| DriverError::Network(format!("cannot create {}: {e}", dir.display())))?;
        link::create_bridge(
            &bridge,
            live.mac,
            live.ip.as_ref().map(|ip| (ip.address, ip.prefix)),
        )
        .map_err(|e| host_err(&e))?;
        let undo = |state: &mut NetState| {
            if let Some(o) = state.nets.get_mut(uuid) {
                o.live = None;
            }
            dnsmasq::stop(&self.networks.files(&live.name));
            let _ = link::delete(&bridge);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = self.apply_firewall(state);
        };
        if let Some(o) = state.nets.get_mut(uuid) {
            o.live = Some(live.clone());
        }
        // The default reject is in place before dnsmasq listens or any guest joins.
        if let Err(err) = self.apply_firewall(state) {
            undo(state);
            return Err(err);
        }
        if live.forward == ForwardMode::Nat {
            if let Err(err) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
                undo(state);
                return Err(DriverError::Network(format!(
                    "cannot enable IPv4 forwarding: {err}"
                )));
            }
        }
        if dnsmasq::wanted(&live) {
            let hosts = hosts_of(state, &live);
            let files = self.networks.files(&live.name);
            if let Err(err) = dnsmasq::start(&live, &bridge, &files, DNSMASQ_USER, &hosts) {
                undo(state);
                return Err(host_err(&err));
            }
        }
        if let Err(err) = write_atomic(&dir.join("live.xml"), format_network(&live).as_bytes()) {
            undo(state);
            return Err(err.into());
        }
        tracing::info!(network = %live.name, %bridge, "network started");
        Ok(())
    }

    /// Stops a running network: dnsmasq, bridge and its rules go; a transient one is forgotten.
    pub fn net_destroy(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let mut state = self.networks.lock();
        let object = find(&state, &NetLookup::Uuid(*uuid))?.clone();
        let Some(live) = &object.live else {
            return Err(DriverError::OperationInvalid(format!(
                "network '{}' is not active",
                object.def.name
            )));
        };
        dnsmasq::stop(&self.networks.files(&live.name));
        if let Some(bridge) = &live.bridge {
            if let Err(err) = link::delete(bridge) {
                tracing::warn!(network = %live.name, err = %chain(&err), "cannot delete bridge");
            }
        }
        let _ = std::fs::remove_dir_all(self.networks.net_dir(&live.name));
        if object.persistent {
            if let Some(o) = state.nets.get_mut(uuid) {
                o.live = None;
            }
        } else {
            state.nets.remove(uuid);
        }
        self.apply_firewall(&state)
    }

    /// The network's XML: live while it runs unless `inactive`.
    pub fn net_xml(&self, uuid: &Uuid, inactive: bool) -> Result<String, DriverError> {
        let state = self.networks.lock();
        let object = find(&state, &NetLookup::Uuid(*uuid))?;
        let def = match (&object.live, inactive) {
            (Some(live), false) => live,
            _ => &object.def,
        };
        Ok(format_network(def))
    }

    /// The network's bridge name.
    pub fn net_bridge(&self, uuid: &Uuid) -> Result<String, DriverError> {
        let state = self.networks.lock();
        let object = find(&state, &NetLookup::Uuid(*uuid))?;
        object
            .live
            .as_ref()
            .unwrap_or(&object.def)
            .bridge
            .clone()
            .ok_or_else(|| DriverError::Network("the network has no bridge".into()))
    }

    /// Turns autostart on or off.
    pub fn net_set_autostart(&self, uuid: &Uuid, on: bool) -> Result<(), DriverError> {
        let store = self.networks.store()?;
        let mut state = self.networks.lock();
        let object = state
            .nets
            .get_mut(uuid)
            .ok_or_else(|| no_network(&NetLookup::Uuid(*uuid)))?;
        if !object.persistent {
            return Err(DriverError::OperationInvalid(
                "cannot set autostart for transient network".into(),
            ));
        }
        store.set_autostart(uuid, on)?;
        object.autostart = on;
        Ok(())
    }

    /// The DHCP leases of a running network (all, or one MAC's), with its bridge and prefix.
    pub fn net_leases(
        &self,
        uuid: &Uuid,
        mac: Option<&str>,
    ) -> Result<(String, u8, Vec<Lease>), DriverError> {
        let state = self.networks.lock();
        let object = find(&state, &NetLookup::Uuid(*uuid))?;
        let Some(live) = &object.live else {
            return Err(DriverError::OperationInvalid(format!(
                "network '{}' is not active",
                object.def.name
            )));
        };
        let text =
            std::fs::read_to_string(self.networks.files(&live.name).leases()).unwrap_or_default();
        let wanted = mac.map(str::to_ascii_lowercase);
        let leases = dnsmasq::parse_leases(&text)
            .into_iter()
            .filter(|l| {
                wanted
                    .as_deref()
                    .map_or(true, |m| l.mac.eq_ignore_ascii_case(m))
            })
            .collect();
        let prefix = live.ip.as_ref().map_or(0, |ip| ip.prefix);
        Ok((live.bridge.clone().unwrap_or_default(), prefix, leases))
    }

    /// Creates the taps of a starting guest (`def`'s interfaces at `indices`, whose MACs are
    /// set), records its ports and updates dnsmasq and the firewall. Undone on failure.
    pub fn attach_ports(
        &self,
        def: &domxml::Domain,
        indices: &[usize],
    ) -> Result<GuestPorts, DriverError> {
        let mut out = GuestPorts::default();
        if indices.is_empty() {
            return Ok(out);
        }
        let mut state = self.networks.lock();
        let result = self.attach_locked(&mut state, def, indices, &mut out);
        if result.is_err() {
            out.fds.clear();
            self.forget_ports_locked(&mut state, &out.taps);
            out.taps.clear();
        }
        result.map(|()| out)
    }

    fn attach_locked(
        &self,
        state: &mut NetState,
        def: &domxml::Domain,
        indices: &[usize],
        out: &mut GuestPorts,
    ) -> Result<(), DriverError> {
        std::fs::create_dir_all(self.networks.ports_dir())
            .map_err(|e| DriverError::Network(format!("cannot create the ports directory: {e}")))?;
        let mut touched: Vec<String> = Vec::new();
        for &index in indices {
            let iface = def
                .devices
                .interfaces
                .get(index)
                .ok_or_else(|| DriverError::Network(format!("no interface {index}")))?;
            let mac = iface.mac.unwrap_or_else(|| default_mac(&def.uuid, index));
            let source = iface.source.clone().unwrap_or_default();
            let (network, bridge, ipv4, isolated) = match iface.kind {
                InterfaceType::Network => {
                    let name = source.network.clone().ok_or_else(|| {
                        DriverError::InvalidArg(format!("interface {index} names no network"))
                    })?;
                    let live = state
                        .nets
                        .values()
                        .find(|o| o.def.name == name)
                        .and_then(|o| o.live.clone())
                        .ok_or_else(|| {
                            DriverError::OperationInvalid(format!("network '{name}' is not active"))
                        })?;
                    let ipv4 = reserve(state, &live, mac)?;
                    (
                        Some(name),
                        live.bridge.clone().unwrap_or_default(),
                        ipv4,
                        iface
                            .port_isolated
                            .map_or(live.port_isolated, |choice| choice == YesNo::Yes),
                    )
                }
                InterfaceType::Bridge => {
                    let bridge = source.bridge.clone().ok_or_else(|| {
                        DriverError::InvalidArg(format!("interface {index} names no bridge"))
                    })?;
                    if !link::exists(&bridge) {
                        return Err(DriverError::OperationInvalid(format!(
                            "bridge '{bridge}' does not exist"
                        )));
                    }
                    let isolated = iface.port_isolated == Some(YesNo::Yes);
                    (None, bridge, None, isolated)
                }
                other => {
                    return Err(DriverError::Unsupported(format!(
                        "interface type '{}' is not supported with a daemon-made tap",
                        other.as_str()
                    )))
                }
            };
            let tap = format!("mt{:012x}", rand_u64() & 0xffff_ffff_ffff);
            let fd = link::create_tap(&tap, &bridge).map_err(|e| host_err(&e))?;
            out.fds.push(fd);
            out.taps.push(tap.clone());
            let port = Port {
                tap: tap.clone(),
                mac: mac.to_string(),
                ipv4,
                isolated,
                network: network.clone(),
                bridge,
                domain: def.uuid,
            };
            let json = serde_json::to_vec(&port).unwrap_or_default();
            write_atomic(
                &self.networks.ports_dir().join(format!("{tap}.json")),
                &json,
            )?;
            state.ports.insert(tap, port);
            if let Some(name) = network {
                touched.push(name);
            }
        }
        self.refresh_hosts(state, &touched);
        self.apply_firewall(state)
    }

    fn refresh_hosts(&self, state: &NetState, networks: &[String]) {
        for object in state.nets.values() {
            if let Some(live) = &object.live {
                if networks.contains(&live.name) && dnsmasq::wanted(live) {
                    let files = self.networks.files(&live.name);
                    if let Err(err) = dnsmasq::update_hosts(&files, &hosts_of(state, live)) {
                        tracing::warn!(network = %live.name, err = %chain(&err), "cannot update fixed leases");
                    }
                }
            }
        }
    }

    fn forget_ports_locked(&self, state: &mut NetState, taps: &[String]) {
        let mut touched = Vec::new();
        for tap in taps {
            if let Some(port) = state.ports.remove(tap) {
                touched.extend(port.network);
            }
            let _ = std::fs::remove_file(self.networks.ports_dir().join(format!("{tap}.json")));
            if link::exists(tap) {
                let _ = link::delete(tap);
            }
        }
        self.refresh_hosts(state, &touched);
        if let Err(err) = self.apply_firewall(state) {
            tracing::error!(err = %chain(&err), "cannot update the firewall after removing ports");
        }
    }

    /// Forgets a stopped guest's ports (their taps went with its QEMU) and their rules.
    pub fn release_ports(&self, domain: &Uuid) {
        let mut state = self.networks.lock();
        let taps: Vec<String> = state
            .ports
            .values()
            .filter(|p| p.domain == *domain)
            .map(|p| p.tap.clone())
            .collect();
        if !taps.is_empty() {
            self.forget_ports_locked(&mut state, &taps);
        }
    }

    /// The ports of a guest (for tests and the live XML).
    pub fn ports_of(&self, domain: &Uuid) -> Vec<Port> {
        self.networks
            .lock()
            .ports
            .values()
            .filter(|p| p.domain == *domain)
            .cloned()
            .collect()
    }
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&Uuid::new_v4().as_bytes()[..8]);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_skip_fixed_hosts_and_other_ports() {
        let live = parse_network(
            "<network><name>n</name><bridge name='b'/><ip address='10.0.0.1' prefix='24'><dhcp>\
             <range start='10.0.0.10' end='10.0.0.12'/>\
             <host mac='52:54:00:00:00:aa' ip='10.0.0.10'/></dhcp></ip></network>",
        )
        .unwrap();
        let mut state = NetState::default();
        let fixed = MacAddr([0x52, 0x54, 0, 0, 0, 0xaa]);
        let other = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
        assert_eq!(
            reserve(&state, &live, fixed).unwrap(),
            Some(Ipv4Addr::new(10, 0, 0, 10))
        );
        assert_eq!(
            reserve(&state, &live, other).unwrap(),
            Some(Ipv4Addr::new(10, 0, 0, 11))
        );
        state.ports.insert(
            "t1".into(),
            Port {
                tap: "t1".into(),
                mac: other.to_string(),
                ipv4: Some(Ipv4Addr::new(10, 0, 0, 11)),
                isolated: false,
                network: Some("n".into()),
                bridge: "b".into(),
                domain: Uuid::nil(),
            },
        );
        let third = MacAddr([0x52, 0x54, 0, 0, 0, 2]);
        assert_eq!(
            reserve(&state, &live, third).unwrap(),
            Some(Ipv4Addr::new(10, 0, 0, 12))
        );
        assert_eq!(
            hosts_of(&state, &live),
            "52:54:00:00:00:aa,10.0.0.10\n52:54:00:00:00:01,10.0.0.11\n"
        );
    }

    #[test]
    fn default_macs_are_stable_and_unicast() {
        let uuid = Uuid::new_v4();
        assert_eq!(default_mac(&uuid, 0), default_mac(&uuid, 0));
        assert_ne!(default_mac(&uuid, 0), default_mac(&uuid, 1));
        assert!(!default_mac(&uuid, 0).is_multicast());
    }
}
