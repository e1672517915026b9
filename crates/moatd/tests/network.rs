//! T13: guest networks. The firewall Moat generates is loaded into a network namespace made by
//! the test, with namespaces on veth ports playing guests that lie (spoofed MAC, spoofed IP,
//! gratuitous ARP for another guest's address, rogue DHCP offers, connections to a host
//! service); and a real moatd in its own namespace runs a network whose booted guest gets a DHCP
//! lease, with the same ruleset after a daemon restart. Namespaces (and with them bridges,
//! taps and nft tables) are removed however a test ends.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use domxml::model::MacAddr;
use domxml::network::ForwardMode;
use moatd::network::ruleset::{script, Firewall, NetRules, PortRules};

/// A network namespace of this test; deleted on drop (with every device and table in it).
struct Ns(String);

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}{}{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Ns {
    fn new(tag: &str) -> Self {
        let name = unique(tag);
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "ip netns add: {}", stderr(&out));
        let ns = Ns(name);
        ns.sh(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .unwrap()
    }

    #[track_caller]
    fn sh(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.0,
            stderr(&out)
        );
        stdout(&out)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn probe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net_probe.py")
}

/// Starts a sniffer in `ns` on `iface` counting frames that hold `marker`; `finish` returns
/// the count.
struct Sniffer(std::process::Child);

impl Sniffer {
    fn start(ns: &Ns, iface: &str, marker: &str) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0, "/usr/bin/python3"])
            .arg(probe())
            .args(["sniff", iface, "1.5", marker])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Sniffer(child)
    }

    fn finish(self) -> u32 {
        let out = self.0.wait_with_output().unwrap();
        stdout(&out).trim().parse().unwrap()
    }
}

fn send(ns: &Ns, args: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0, "/usr/bin/python3"])
        .arg(probe())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// How many frames sent by `sender` with `args` arrive at `receiver` holding `marker`.
fn delivered(sender: &Ns, receiver: &Ns, args: &[&str], marker: &str) -> u32 {
    let sniffer = Sniffer::start(receiver, "eth0", marker);
    send(sender, args);
    sniffer.finish()
}

/// A TCP connection attempt from `ns`: "ok", "refused" or "timeout".
fn connect(ns: &Ns, addr: &str, port: u16) -> String {
    let code = format!(
        "import socket\ns=socket.socket()\ns.settimeout(2)\ntry:\n s.connect(('{addr}',{port}))\n print('ok')\n\
         except ConnectionRefusedError:\n print('refused')\nexcept OSError:\n print('timeout')"
    );
    ns.sh(&["/usr/bin/python3", "-c", &code]).trim().to_owned()
}

const EXPECTED: &str = "dropped by the host firewall";
const MAC1: &str = "52:54:00:77:00:01";
const MAC2: &str = "52:54:00:77:00:02";

fn port(tap: &str, mac: &str, ip: [u8; 4], isolated: bool) -> PortRules {
    PortRules {
        tap: tap.into(),
        mac: mac.parse::<MacAddr>().unwrap(),
        ipv4: Some(Ipv4Addr::from(ip)),
        isolated,
    }
}

fn load(host: &Ns, fw: &Firewall) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &host.0, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script(fw).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nft: {}", stderr(&out));
}

#[test]
fn t13_spoofing_and_host_access_are_dropped() {
    let host = Ns::new("mth");
    let g1 = Ns::new("mtg");
    let g2 = Ns::new("mtg");
    host.sh(&["ip", "link", "add", "br0", "type", "bridge"]);
    host.sh(&["ip", "addr", "add", "10.77.0.1/24", "dev", "br0"]);
    host.sh(&["ip", "link", "set", "br0", "up"]);
    for (guest, port_name, mac, ip) in [
        (&g1, "p1", MAC1, "10.77.0.11/24"),
        (&g2, "p2", MAC2, "10.77.0.12/24"),
    ] {
        host.sh(&[
            "ip", "link", "add", port_name, "type", "veth", "peer", "name", "eth0", "netns",
            &guest.0,
        ]);
        host.sh(&["ip", "link", "set", port_name, "master", "br0", "up"]);
        guest.sh(&["ip", "link", "set", "eth0", "address", mac]);
        guest.sh(&["ip", "addr", "add", ip, "dev", "eth0"]);
        guest.sh(&["ip", "link", "set", "eth0", "up"]);
    }
    let network = NetRules {
        bridge: "br0".into(),
        forward: ForwardMode::Isolated,
        subnet: Some((Ipv4Addr::new(10, 77, 0, 0), 24)),
        dhcp: true,
        dns: true,
    };
    let mut fw = Firewall {
        networks: vec![network],
        ports: vec![
            port("p1", MAC1, [10, 77, 0, 11], false),
            port("p2", MAC2, [10, 77, 0, 12], false),
        ],
        host: None,
    };
    load(&host, &fw);

    // Legitimate traffic passes (once the new ports forward).
    wait_for(
        "the guests to reach each other",
        Duration::from_secs(10),
        || {
            g1.run(&["ping", "-c", "1", "-W", "1", "10.77.0.12"])
                .status
                .success()
        },
    );
    let legit = [
        "send-udp",
        "eth0",
        MAC1,
        "10.77.0.11",
        "5000",
        "5001",
        "LEGITIP",
    ];
    assert!(
        delivered(&g1, &g2, &legit, "LEGITIP") > 0,
        "legitimate frame lost"
    );
    let own_garp = ["send-arp", "eth0", MAC1, MAC1, "10.77.0.11"];
    assert!(delivered(&g1, &g2, &own_garp, "hex:5254007700010a4d000b") > 0);

    // Spoofed source IP, spoofed source MAC (frame and ARP), gratuitous ARP for the other
    // guest's address, a rogue DHCP offer: all dropped at the port.
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "IPv4 with a spoofed source address",
            &[
                "send-udp",
                "eth0",
                MAC1,
                "10.77.0.99",
                "5000",
                "5001",
                "SPOOFIP",
            ],
            "SPOOFIP",
        ),
        (
            "a frame with a spoofed source MAC",
            &[
                "send-udp",
                "eth0",
                "52:54:00:77:00:99",
                "10.77.0.11",
                "5000",
                "5001",
                "SPOOFMAC",
            ],
            "SPOOFMAC",
        ),
        (
            "gratuitous ARP for another guest's address",
            &["send-arp", "eth0", MAC1, MAC1, "10.77.0.12"],
            "hex:5254007700010a4d000c",
        ),
        (
            "ARP with a forged sender MAC",
            &["send-arp", "eth0", MAC1, "52:54:00:77:00:99", "10.77.0.11"],
            "hex:5254007700990a4d000b",
        ),
        (
            "a rogue DHCP offer (udp 67 -> 68)",
            &[
                "send-udp",
                "eth0",
                MAC1,
                "10.77.0.11",
                "67",
                "68",
                "ROGUEDHCP",
            ],
            "ROGUEDHCP",
        ),
    ];
    for (attack, args, marker) in cases {
        let n = delivered(&g1, &g2, args, marker);
        threats::record(
            "T13",
            attack,
            EXPECTED,
            &format!("{n} of 3 frames reached the other guest (legitimate ones do)"),
            n == 0,
        );
        assert_eq!(n, 0, "{args:?} got through");
    }

    // A service on the bridge address is unreachable from guests; DNS is let through (no
    // server: refused, not dropped).
    let mut listener = Command::new("ip")
        .args(["netns", "exec", &host.0, "/usr/bin/python3", "-c"])
        .arg("import socket,time\ns=socket.socket()\ns.bind(('10.77.0.1',8080))\ns.listen()\nprint('up',flush=True)\ntime.sleep(30)")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(listener.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        connect(&host, "10.77.0.1", 8080),
        "ok",
        "the listener is not up"
    );
    let seen = connect(&g1, "10.77.0.1", 8080);
    threats::record(
        "T13",
        "TCP connection to a host service on the bridge address",
        EXPECTED,
        &format!("{seen} (the host itself connects)"),
        seen == "timeout",
    );
    assert_eq!(seen, "timeout");
    assert_eq!(connect(&g1, "10.77.0.1", 53), "refused");
    let _ = listener.kill();
    let _ = listener.wait();

    // Isolated ports cannot reach each other.
    for port in &mut fw.ports {
        port.isolated = true;
    }
    load(&host, &fw);
    let pinged = g1
        .run(&["ping", "-c", "1", "-W", "2", "10.77.0.12"])
        .status
        .success();
    let n = delivered(&g1, &g2, &legit, "LEGITIP");
    threats::record(
        "T13",
        "an isolated port sends to another isolated port",
        EXPECTED,
        &format!("ping answered: {pinged}; {n} of 3 frames arrived"),
        !pinged && n == 0,
    );
    assert!(!pinged);
    assert_eq!(n, 0);
}

fn guest_xml(name: &str, serial: &Path, network: &str) -> String {
    guest_xml_with(name, serial, network, "")
}

/// The test guest on `network`, with `more` devices after its first NIC.
fn guest_xml_with(name: &str, serial: &Path, network: &str, more: &str) -> String {
    let dir = test_guest_dir();
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{d}/vmlinuz</kernel>\
         <initrd>{d}/initrd.cpio.gz</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline></os>\
         <features><acpi/></features><devices>\
         <interface type='network'><source network='{network}'/><model type='virtio'/></interface>{more}\
         <serial type='file'><source path='{s}'/><target port='0'/></serial></devices></domain>",
        d = dir.display(),
        s = serial.display()
    )
}

#[track_caller]
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn moat_tables(ns: &Ns) -> String {
    ns.sh(&["nft", "list", "table", "inet", "moat"])
        + &ns.sh(&["nft", "list", "table", "bridge", "moat"])
}

/// Kills the dnsmasqs a daemon left (they are not in its process group).
fn kill_dnsmasqs(daemon: &TestDaemon) {
    if let Ok(dirs) = std::fs::read_dir(daemon.run_dir().join("networks")) {
        for dir in dirs.flatten() {
            if let Ok(pid) = std::fs::read_to_string(dir.path().join("dnsmasq.pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

struct Cleanup<'a>(&'a mut TestDaemon);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.virsh(&["destroy", "ng"]);
        self.0.kill();
        kill_dnsmasqs(self.0);
    }
}

#[test]
fn t13_guest_gets_a_lease_and_rules_survive_restart() {
    let ns = Ns::new("mtd");
    let mut daemon = TestDaemon::start_in(None, Some(&ns.0));
    let daemon = Cleanup(&mut daemon);
    let bridge = unique("mbr");
    let net_xml = format!(
        "<network><name>lab</name><bridge name='{bridge}'/><domain name='lab.test'/>\
         <dns><host ip='10.213.0.77'><hostname>db</hostname></host></dns>\
         <ip address='10.213.0.1' netmask='255.255.255.0'><dhcp>\
         <range start='10.213.0.10' end='10.213.0.50'/></dhcp></ip></network>"
    );
    let file = write_file(daemon.0.dir.path(), "lab.xml", &net_xml);
    ok(daemon.0.virsh(&["net-define", file.to_str().unwrap()]));
    let list = ok(daemon.0.virsh(&["net-list", "--all"]));
    assert!(list.contains("lab") && list.contains("inactive"), "{list}");
    ok(daemon.0.virsh(&["net-start", "lab"]));
    ok(daemon.0.virsh(&["net-autostart", "lab"]));
    let info = ok(daemon.0.virsh(&["net-info", "lab"]));
    assert!(
        info.contains(&bridge) && info.contains("Active:         yes"),
        "{info}"
    );
    assert!(
        ok(daemon.0.virsh(&["net-dumpxml", "lab"])).contains(&format!("<bridge name='{bridge}'"))
    );
    ns.sh(&["ip", "link", "show", "dev", &bridge]);
    // dnsmasq runs unprivileged, without new privileges, and answers the network's records.
    let pid = std::fs::read_to_string(daemon.0.run_dir().join("networks/lab/dnsmasq.pid")).unwrap();
    let status = proc_status(&pid);
    let field = |name: &str| proc_field(&status, name.trim_end_matches(':'));
    assert_ne!(field("Uid:"), "0", "{status:?}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status:?}");
    let query = "import socket\nq=b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x02db\\x00\\x00\\x01\\x00\\x01'\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(3)\n\
                 s.sendto(q,('10.213.0.1',53))\nr=s.recv(512)\nprint(r[-4:]==bytes([10,213,0,77]))";
    wait_for("dnsmasq to answer DNS", Duration::from_secs(10), || {
        ns.run(&["/usr/bin/python3", "-c", query])
            .stdout
            .starts_with(b"True")
    });

    // A nat network adds forwarding and masquerade for its subnet only; it goes with it.
    let out_bridge = unique("mbr");
    let nat_xml = format!(
        "<network><name>out</name><forward mode='nat'/><bridge name='{out_bridge}'/>\
         <ip address='10.214.0.1' prefix='24'/></network>"
    );
    let nat_file = write_file(daemon.0.dir.path(), "out.xml", &nat_xml);
    ok(daemon.0.virsh(&["net-create", nat_file.to_str().unwrap()]));
    let rules = moat_tables(&ns);
    assert!(
        rules.contains("ip saddr 10.214.0.0/24 ip daddr != 10.214.0.0/24 masquerade"),
        "{rules}"
    );
    assert!(!rules.contains("10.213.0.0/24 masquerade"), "{rules}");
    assert_eq!(ns.sh(&["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(), "1");
    ok(daemon.0.virsh(&["net-destroy", "out"]));
    assert!(!moat_tables(&ns).contains("masquerade"));
    assert!(!ok(daemon.0.virsh(&["net-list", "--all"])).contains("out"));

    // A second start and an unknown network are refused; the daemon stays up.
    assert!(fails(daemon.0.virsh(&["net-start", "lab"])).contains("already active"));
    assert!(fails(daemon.0.virsh(&["net-info", "nope"])).contains("Network not found"));

    // Bad network XML and a guest on a network that does not run: clear errors, nothing left.
    let bad = write_file(
        daemon.0.dir.path(),
        "bad.xml",
        "<network><name>x</name><forward mode='bridge'/></network>",
    );
    let err = fails(daemon.0.virsh(&["net-define", bad.to_str().unwrap()]));
    assert!(err.contains("forward mode 'bridge'"), "{err}");
    let lost = daemon.0.dir.path().join("lost.serial");
    let lfile = write_file(
        daemon.0.dir.path(),
        "lost.xml",
        &guest_xml("lost", &lost, "nope"),
    );
    ok(daemon.0.virsh(&["define", lfile.to_str().unwrap()]));
    let err = fails(daemon.0.virsh(&["start", "lost"]));
    assert!(err.contains("network 'nope' is not active"), "{err}");
    assert_eq!(ok(daemon.0.virsh(&["domstate", "lost"])).trim(), "shut off");
    assert!(!ns.sh(&["ip", "-o", "link"]).contains(": mt"));

    let serial = daemon.0.dir.path().join("ng.serial");
    // A second NIC on a host bridge the test made, isolated per interface.
    let host_bridge = unique("hbr");
    ns.sh(&["ip", "link", "add", &host_bridge, "type", "bridge"]);
    ns.sh(&["ip", "link", "set", &host_bridge, "up"]);
    let second = format!(
        "<interface type='bridge'><source bridge='{host_bridge}'/><mac address='52:54:00:aa:00:02'/>\
         <model type='virtio'/><port isolated='yes'/></interface>"
    );
    let gfile = write_file(
        daemon.0.dir.path(),
        "ng.xml",
        &guest_xml_with("ng", &serial, "lab", &second),
    );
    ok(daemon.0.virsh(&["define", gfile.to_str().unwrap()]));
    ok(daemon.0.virsh(&["start", "ng"]));
    let read = || std::fs::read_to_string(&serial).unwrap_or_default();
    wait_for("the guest's DHCP lease", Duration::from_secs(120), || {
        read().contains("MOAT-GUEST-NET 10.213.0.")
    });
    let console = read();
    let addr = console
        .lines()
        .find_map(|l| l.split("MOAT-GUEST-NET ").nth(1))
        .unwrap()
        .trim()
        .trim_end_matches("/24")
        .to_owned();
    let leases = ok(daemon.0.virsh(&["net-dhcp-leases", "lab"]));
    assert!(leases.contains(&addr), "{leases}");
    // The host reaches the guest at its pinned address.
    ns.sh(&["ping", "-c", "1", "-W", "5", &addr]);

    assert!(ok(daemon.0.virsh(&["dumpxml", "ng"])).contains("<port isolated='yes'/>"));
    let members = ns.sh(&["ip", "-o", "link", "show", "master", &host_bridge]);
    let bridge_tap = members
        .split(": ")
        .nth(1)
        .unwrap_or_else(|| panic!("no tap on {host_bridge}: {members}"))
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    assert!(bridge_tap.starts_with("mt"), "{members}");

    let before = moat_tables(&ns);
    let chain = before
        .split(&format!("chain port_{bridge_tap} {{"))
        .nth(1)
        .unwrap();
    let chain = &chain[..chain.find('}').unwrap()];
    assert!(
        chain.contains("ether saddr != 52:54:00:aa:00:02"),
        "{chain}"
    );
    assert!(
        !chain.contains("ip saddr !="),
        "a host-bridge port has no pinned address: {chain}"
    );
    assert!(
        before.contains(&format!(
            "iifname \"{bridge_tap}\" oifname \"{bridge_tap}\" drop"
        )),
        "{before}"
    );
    assert!(
        before.contains(&format!("ip saddr != {addr} goto spoofed")),
        "{before}"
    );
    daemon.0.kill();
    daemon.0.spawn();
    let after = moat_tables(&ns);
    assert_eq!(before, after, "the ruleset changed across a restart");
    // A firewall reload that flushes everything: SIGHUP puts Moat's tables back as they were.
    ns.sh(&["nft", "flush", "ruleset"]);
    let pid = daemon.0.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("the firewall to come back", Duration::from_secs(10), || {
        ns.run(&["nft", "list", "table", "bridge", "moat"])
            .status
            .success()
    });
    assert_eq!(
        before,
        moat_tables(&ns),
        "the ruleset changed across a reload"
    );
    assert!(ok(daemon.0.virsh(&["net-dhcp-leases", "lab"])).contains(&addr));
    ns.sh(&["ping", "-c", "1", "-W", "5", &addr]);

    // The tap and its rules go with the guest; the bridge with the network.
    ok(daemon.0.virsh(&["destroy", "ng"]));
    let rules = moat_tables(&ns);
    assert!(!rules.contains("jump port_"), "{rules}");
    let links = ns.sh(&["ip", "-o", "link"]);
    assert!(!links.contains(": mt"), "a tap is left: {links}");
    ok(daemon.0.virsh(&["net-destroy", "lab"]));
    assert!(!ns
        .run(&["ip", "link", "show", "dev", &bridge])
        .status
        .success());
    assert!(!ns
        .run(&["nft", "list", "table", "inet", "moat"])
        .status
        .success());
    ok(daemon.0.virsh(&["net-undefine", "lab"]));
    assert!(!ok(daemon.0.virsh(&["net-list", "--all"])).contains("lab"));
}

const NET_RULES: &str = r#"
[roles]
viewer = ["connect:getattr", "connect:read", "connect:search_networks",
          "network:getattr", "network:read"]
admin = ["connect:*", "network:*", "domain:*"]

[[grant]]
users = ["moat-t-netview"]
role = "viewer"
networks = ["lab-*"]

[[grant]]
uids = [0]
role = "admin"
all = true
"#;

#[test]
fn network_acls_filter_lists_and_refuse_changes() {
    use std::os::unix::fs::PermissionsExt;
    const VIEWER: &str = "moat-t-netview";
    ensure_user(VIEWER, None);
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(rules_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rules = rules_dir.path().join("rules.toml");
    std::fs::write(&rules, NET_RULES).unwrap();
    let config = format!(
        "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\nunix_sock_rw_perms = \"0777\"\n",
        rules.display()
    );
    let daemon = TestDaemon::start_with_config(Some(&config));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["lab-1", "other-1"] {
        let xml = format!(
            "<network><name>{name}</name><bridge name='{}'/></network>",
            unique("mbr")
        );
        let file = write_file(daemon.dir.path(), &format!("{name}.xml"), &xml);
        ok(daemon.virsh(&["net-define", file.to_str().unwrap()]));
    }
    let uri = daemon.uri();
    let list = ok(virsh_as(&uri, VIEWER, &["net-list", "--all", "--name"]));
    assert_eq!(sorted_names(&list), ["lab-1"]);
    assert!(ok(virsh_as(&uri, VIEWER, &["net-dumpxml", "lab-1"])).contains("<name>lab-1</name>"));
    fails(virsh_as(&uri, VIEWER, &["net-dumpxml", "other-1"]));
    let err = fails(virsh_as(&uri, VIEWER, &["net-start", "lab-1"]));
    assert!(err.contains("access denied"), "{err}");
    let err = fails(virsh_as(&uri, VIEWER, &["net-undefine", "lab-1"]));
    assert!(err.contains("access denied"), "{err}");
    let xml = write_file(
        daemon.dir.path(),
        "lab-2.xml",
        "<network><name>lab-2</name></network>",
    );
    let err = fails(virsh_as(
        &uri,
        VIEWER,
        &["net-define", xml.to_str().unwrap()],
    ));
    assert!(err.contains("access denied"), "{err}");
    // A read-only connection can look but not start.
    assert!(ok(daemon.virsh_ro(&["net-list", "--all", "--name"])).contains("lab-1"));
    let err = fails(daemon.virsh_ro(&["net-start", "lab-1"]));
    assert!(err.contains("read only"), "{err}");
    // Root still sees both, and the refused calls changed nothing.
    let list = ok(daemon.virsh(&["net-list", "--all", "--name"]));
    assert_eq!(sorted_names(&list), ["lab-1", "other-1"]);
}

/// `moat validate --only firewall-default-reject` run in `ns`: (exit code, report).
fn validate_firewall(ns: &Ns) -> (Option<i32>, String) {
    let moat = Path::new(env!("CARGO_BIN_EXE_moatd")).with_file_name("moat");
    assert!(
        moat.exists(),
        "{} is missing: build it with `cargo build -p moat`",
        moat.display()
    );
    let moat = moat.to_str().unwrap();
    let out = ns.run(&[
        moat,
        "validate",
        "--only",
        "firewall-default-reject",
        "--color",
        "never",
    ]);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

/// A TCP listener in `ns` on `addr:port`; killed on drop.
struct Listener(std::process::Child);

impl Listener {
    fn start(ns: &Ns, addr: &str, port: u16) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0, "/usr/bin/python3", "-c"])
            .arg(format!(
                "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('{addr}',{port}))\ns.listen()\nprint('up',flush=True)\ntime.sleep(60)"
            ))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "up", "listener on {port} did not start");
        Listener(child)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn host_firewall_default_reject_stands_alone() {
    let host = Ns::new("mtf");
    let peer = Ns::new("mtp");
    host.sh(&[
        "ip", "link", "add", "h0", "type", "veth", "peer", "name", "eth0", "netns", &peer.0,
    ]);
    host.sh(&["ip", "addr", "add", "10.79.0.1/24", "dev", "h0"]);
    host.sh(&["ip", "link", "set", "h0", "up"]);
    peer.sh(&["ip", "addr", "add", "10.79.0.2/24", "dev", "eth0"]);
    peer.sh(&["ip", "link", "set", "eth0", "up"]);
    let _ssh = Listener::start(&host, "10.79.0.1", 22);
    let _other = Listener::start(&host, "10.79.0.1", 8080);
    assert_eq!(connect(&peer, "10.79.0.1", 8080), "ok", "no firewall yet");

    let mut daemon =
        TestDaemon::start_in(Some("host_firewall = \"default-reject\"\n"), Some(&host.0));
    let daemon = Cleanup(&mut daemon);
    // No network runs; Moat's two tables are the only ones, and its input chain drops.
    let mut tables: Vec<String> = host
        .sh(&["nft", "list", "tables"])
        .lines()
        .map(str::to_owned)
        .collect();
    tables.sort();
    assert_eq!(tables, ["table bridge moat", "table inet moat"]);
    let rules = host.sh(&["nft", "list", "ruleset"]);
    assert!(rules.contains("policy drop;"), "{rules}");

    let (code, report) = validate_firewall(&host);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("PASS   firewall-default-reject") && report.contains("1 pass, 0 fail"),
        "{report}"
    );

    // The allowed port answers from the peer, another port does not; both from the host.
    assert_eq!(connect(&peer, "10.79.0.1", 22), "ok");
    let seen = connect(&peer, "10.79.0.1", 8080);
    threats::record(
        "T13",
        "TCP connection to a host port not in host_allowed_tcp_ports (host_firewall on)",
        "dropped by the host firewall",
        &format!("{seen} (port 22 answers)"),
        seen == "timeout",
    );
    assert_eq!(seen, "timeout");
    assert_eq!(connect(&host, "10.79.0.1", 8080), "ok");
    peer.sh(&["ping", "-c", "1", "-W", "2", "10.79.0.1"]);

    // SIGHUP after a flush puts it back.
    host.sh(&["nft", "flush", "ruleset"]);
    let pid = daemon.0.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for(
        "the host firewall to come back",
        Duration::from_secs(10),
        || {
            host.run(&["nft", "list", "table", "inet", "moat"])
                .status
                .success()
        },
    );
    assert_eq!(rules, host.sh(&["nft", "list", "ruleset"]));

    // Turned off: the next start removes Moat's tables and the check fails as before.
    daemon.0.kill();
    let config = daemon.0.config.clone().unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "host_firewall = \"default-reject\"",
            "host_firewall = \"off\"",
        ),
    )
    .unwrap();
    daemon.0.spawn();
    assert_eq!(host.sh(&["nft", "list", "tables"]).trim(), "");
    let (code, report) = validate_firewall(&host);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("FAIL   firewall-default-reject") && report.contains("1 fail"),
        "{report}"
    );
    assert_eq!(connect(&peer, "10.79.0.1", 8080), "ok");
}
