//! dnsmasq, one per network with DHCP or DNS: its configuration (pure), its lease file, and
//! starting, finding and stopping it.
//!
//! Confinement: dnsmasq starts as root only to bind port 67 and 53 on the network's bridge and
//! to open its lease file, with `no_new_privs` set and in its own session; it then drops to the
//! configured unprivileged user (`nobody` by default) itself, keeping only `CAP_NET_ADMIN` (which
//! it needs to answer DHCP on a bridge without an address lease). It listens only on its bridge
//! (`bind-dynamic`, `interface=`, `except-interface=lo`), and the firewall admits only DHCP and
//! DNS from guests to it. It is not put in moat-jail: the jail requires a non-root start.
//!
//! Files under `RUN/networks/<name>/`: `dnsmasq.conf`, `dnsmasq.pid`, `dnsmasq.log`, `leases`
//! (dnsmasq's), `hosts` (`MAC,IP` per fixed or reserved lease; re-read on SIGHUP), `dns-hosts`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use domxml::model::MacAddr;
use domxml::network::Network;

/// The dnsmasq program.
pub const DNSMASQ: &str = "dnsmasq";

/// Why dnsmasq could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsmasqError {
    /// A file of its could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It could not be started.
    #[error("cannot start dnsmasq for network {network}: {detail}")]
    Start {
        /// The network.
        network: String,
        /// Why (its own words when it said any).
        detail: String,
    },
}

/// The paths of one network's dnsmasq.
#[derive(Debug, Clone)]
pub struct DnsmasqFiles {
    /// The network's run directory.
    pub dir: PathBuf,
}

impl DnsmasqFiles {
    /// The files under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        DnsmasqFiles { dir }
    }
    /// `dnsmasq.conf`.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("dnsmasq.conf")
    }
    /// `dnsmasq.pid`.
    pub fn pid(&self) -> PathBuf {
        self.dir.join("dnsmasq.pid")
    }
    /// `leases`.
    pub fn leases(&self) -> PathBuf {
        self.dir.join("leases")
    }
    /// `hosts`.
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    /// `dns-hosts`.
    pub fn dns_hosts(&self) -> PathBuf {
        self.dir.join("dns-hosts")
    }
    /// `dnsmasq.log`.
    pub fn log(&self) -> PathBuf {
        self.dir.join("dnsmasq.log")
    }
}

/// Whether a network needs dnsmasq at all.
pub fn wanted(net: &Network) -> bool {
    net.dns.enabled || net.ip.as_ref().is_some_and(|ip| ip.dhcp.is_some())
}

/// dnsmasq's configuration for a running network whose bridge is `bridge`.
pub fn config(net: &Network, bridge: &str, files: &DnsmasqFiles, user: &str) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# written by moatd for network {}; do not edit",
        net.name
    );
    c.push_str(
        "strict-order\nkeep-in-foreground\nlog-facility=-\nbind-dynamic\nexcept-interface=lo\n",
    );
    let _ = writeln!(c, "interface={bridge}");
    let _ = writeln!(c, "user={user}");
    let _ = writeln!(c, "pid-file={}", files.pid().display());
    if net.dns.enabled {
        let _ = writeln!(c, "addn-hosts={}", files.dns_hosts().display());
        if let Some(domain) = &net.domain {
            let _ = writeln!(c, "domain={domain}\nlocal=/{domain}/\nexpand-hosts");
        }
    } else {
        c.push_str("port=0\n");
    }
    if let Some(ip) = &net.ip {
        if let Some(dhcp) = &ip.dhcp {
            let netmask = ip.netmask();
            if dhcp.ranges.is_empty() {
                let _ = writeln!(c, "dhcp-range={},static,{netmask}", ip.network());
            }
            for range in &dhcp.ranges {
                let _ = writeln!(c, "dhcp-range={},{},{netmask}", range.start, range.end);
            }
            c.push_str("dhcp-no-override\ndhcp-authoritative\n");
            let _ = writeln!(c, "dhcp-leasefile={}", files.leases().display());
            let _ = writeln!(c, "dhcp-hostsfile={}", files.hosts().display());
            if net.forward == domxml::network::ForwardMode::Isolated {
                // No default route through a host that routes nothing.
                c.push_str("dhcp-option=3\n");
            }
        }
    }
    c
}

/// The `dhcp-hostsfile`: one `MAC,IP[,name]` per fixed or reserved address.
pub fn hosts_file(entries: &[(MacAddr, Ipv4Addr, Option<String>)]) -> String {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by_key(|(mac, ip, _)| (*ip, mac.0));
    let mut out = String::new();
    for (mac, ip, name) in sorted {
        match name {
            Some(name) => {
                let _ = writeln!(out, "{mac},{ip},{name}");
            }
            None => {
                let _ = writeln!(out, "{mac},{ip}");
            }
        }
    }
    out
}

/// The `addn-hosts` file of the network's `<dns><host>` records.
pub fn dns_hosts_file(net: &Network) -> String {
    let mut out = String::new();
    for host in &net.dns.hosts {
        let _ = writeln!(out, "{} {}", host.ip, host.hostnames.join(" "));
    }
    out
}

/// One line of dnsmasq's lease file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Expiry, seconds since the epoch (0: never).
    pub expiry: i64,
    /// Client MAC.
    pub mac: String,
    /// Leased address.
    pub ip: Ipv4Addr,
    /// Host name the client sent, if any.
    pub hostname: Option<String>,
    /// Client id, if any.
    pub client_id: Option<String>,
}

/// Parses dnsmasq's lease file (`expiry mac ip hostname clientid`, `*` for none); bad lines are
/// skipped, IPv6 lines ignored.
pub fn parse_leases(text: &str) -> Vec<Lease> {
    let none = |v: &str| (v != "*").then(|| v.to_owned());
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let expiry = f.next()?.parse().ok()?;
            let mac = f.next()?;
            mac.parse::<MacAddr>().ok()?;
            let ip = f.next()?.parse().ok()?;
            let hostname = f.next().and_then(none);
            let client_id = f.next().and_then(none);
            Some(Lease {
                expiry,
                mac: mac.to_owned(),
                ip,
                hostname,
                client_id,
            })
        })
        .collect()
}

fn write(path: &Path, text: &str) -> Result<(), DnsmasqError> {
    std::fs::write(path, text).map_err(|source| DnsmasqError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Writes the hosts file and asks a running dnsmasq to re-read it.
pub fn update_hosts(files: &DnsmasqFiles, text: &str) -> Result<(), DnsmasqError> {
    write(&files.hosts(), text)?;
    if let Some(pid) = running_pid(files) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
    }
    Ok(())
}

/// Writes the configuration and starts dnsmasq; returns once it has bound its sockets
/// (written its pid file).
pub fn start(
    net: &Network,
    bridge: &str,
    files: &DnsmasqFiles,
    user: &str,
    hosts: &str,
) -> Result<(), DnsmasqError> {
    let fail = |detail: String| DnsmasqError::Start {
        network: net.name.clone(),
        detail,
    };
    write(&files.conf(), &config(net, bridge, files, user))?;
    write(&files.hosts(), hosts)?;
    write(&files.dns_hosts(), &dns_hosts_file(net))?;
    let _ = std::fs::remove_file(files.pid());
    let log = std::fs::File::create(files.log()).map_err(|source| DnsmasqError::Write {
        path: files.log(),
        source,
    })?;
    let log_err = log.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut cmd = Command::new(DNSMASQ);
    cmd.arg(format!("--conf-file={}", files.conf().display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: between fork and exec the closure calls only setsid(2) and prctl(2), which are
    // async-signal-safe, and touches no memory shared with other threads.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let said = std::fs::read_to_string(files.log()).unwrap_or_default();
            return Err(fail(format!("{status}: {}", said.trim())));
        }
        if running_pid(files).is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail("it did not write its pid file within 10 s".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Reap it whenever it ends; after a daemon restart it is found by its pid file instead.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// The pid of this network's dnsmasq if it runs (the pid file names a live dnsmasq whose
/// command line holds this configuration).
pub fn running_pid(files: &DnsmasqFiles) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(files.pid())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let want = format!("--conf-file={}", files.conf().display());
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == want.as_bytes())
        .then_some(pid)
}

/// Stops this network's dnsmasq, if it runs.
pub fn stop(files: &DnsmasqFiles) {
    if let Some(pid) = running_pid(files) {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while running_pid(files).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if running_pid(files).is_some() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(files.pid());
}

#[cfg(test)]
mod tests {
    use super::*;
    use domxml::network::parse_network;

    #[test]
    fn config_binds_only_the_bridge_and_drops_root() {
        let net = parse_network(
            "<network><name>n</name><domain name='lab.test'/><ip address='10.9.0.1' prefix='24'>\
             <dhcp><range start='10.9.0.10' end='10.9.0.20'/></dhcp></ip></network>",
        )
        .unwrap();
        let files = DnsmasqFiles::new("/run/moat/networks/n".into());
        let text = config(&net, "moatbr9", &files, "nobody");
        for line in [
            "interface=moatbr9",
            "bind-dynamic",
            "except-interface=lo",
            "user=nobody",
            "dhcp-range=10.9.0.10,10.9.0.20,255.255.255.0",
            "dhcp-hostsfile=/run/moat/networks/n/hosts",
            "dhcp-option=3",
            "local=/lab.test/",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn leases_parse_and_bad_lines_are_skipped() {
        let text = "1700000000 52:54:00:00:00:01 10.9.0.10 guest 01:52:54:00:00:00:01\n\
                    garbage\n0 52:54:00:00:00:02 10.9.0.11 * *\n";
        let leases = parse_leases(text);
        assert_eq!(leases.len(), 2);
        assert_eq!(leases[0].hostname.as_deref(), Some("guest"));
        assert_eq!(leases[1].hostname, None);
        assert_eq!(leases[1].ip, Ipv4Addr::new(10, 9, 0, 11));
    }

    #[test]
    fn hosts_file_is_sorted() {
        let a = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
        let b = MacAddr([0x52, 0x54, 0, 0, 0, 2]);
        let text = hosts_file(&[
            (b, Ipv4Addr::new(10, 0, 0, 9), None),
            (a, Ipv4Addr::new(10, 0, 0, 5), Some("web".into())),
        ]);
        assert_eq!(
            text,
            "52:54:00:00:00:01,10.0.0.5,web\n52:54:00:00:00:02,10.0.0.9\n"
        );
    }
}
