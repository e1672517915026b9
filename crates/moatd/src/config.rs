//! The daemon's configuration: TOML whose option names follow libvirtd.conf and qemu.conf.
//!
//! Two stages: the text is parsed into a TOML table (syntax errors carry line and column), then
//! [`Config::from_table`] checks every option and reports all problems at once. Values are taken
//! the way libvirtd.conf writes them, so a simple libvirtd.conf parses as it is: booleans as `0`/`1`
//! or `true`/`false`, socket permissions as octal strings (`"0770"`) or integers. libvirtd.conf
//! options that Moat does not act on are accepted and listed as ignored; any other name is an
//! error, so a typo never silently weakens a security setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest configuration file read, in bytes.
pub const CONFIG_MAX_LEN: u64 = 1024 * 1024;

/// How clients on a socket authenticate (`auth_unix_rw`, `auth_unix_ro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// The socket's permissions are the only check.
    None,
    /// The client must pass polkit's `org.libvirt.unix.manage` (read-write socket) or
    /// `org.libvirt.unix.monitor` (read-only socket) with AUTH_POLKIT first; uid 0 is let in
    /// without asking, as libvirtd does.
    Polkit,
}

/// An access control driver name (`access_drivers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDriverName {
    /// No fine-grained checks: every authenticated client may do everything its socket allows.
    None,
    /// Moat's rules file (`access_rules_file`).
    Rules,
    /// polkitd on the system bus, as libvirt's `polkit` driver.
    Polkit,
}

/// Where the `rules` driver reads its file when `access_rules_file` is not set.
pub const DEFAULT_RULES_FILE: &str = "/etc/moat/access-rules.toml";

/// The uids and gids guests get when `guest_uid_min`/`guest_uid_max` are not set: far above
/// any user a host's passwd database normally holds.
pub const DEFAULT_GUEST_IDS: std::ops::RangeInclusive<u32> = 1_000_000..=1_065_535;

/// The image directories when `image_dirs` is not set: Moat's central store and libvirt's.
pub const DEFAULT_IMAGE_DIRS: &[&str] = &["/var/lib/moat/images", "/var/lib/libvirt/images"];

/// libvirt's default server key (`key_file`).
pub const DEFAULT_KEY_FILE: &str = "/etc/pki/libvirt/private/serverkey.pem";
/// libvirt's default server certificate (`cert_file`).
pub const DEFAULT_CERT_FILE: &str = "/etc/pki/libvirt/servercert.pem";
/// libvirt's default CA certificate (`ca_file`).
pub const DEFAULT_CA_FILE: &str = "/etc/pki/CA/cacert.pem";
/// libvirt's default revocation list (`crl_file`); used only if it exists.
pub const DEFAULT_CRL_FILE: &str = "/etc/pki/CA/cacrl.pem";
/// libvirt's TLS port (`tls_port`).
pub const DEFAULT_TLS_PORT: u16 = 16514;

/// The ssh port, open by default when the host firewall is on.
pub const SSH_PORT: u16 = 22;

/// Whether Moat also firewalls the host itself (`host_firewall`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostFirewallMode {
    /// Moat's input chain judges only traffic from its own bridges (the default: Moat never
    /// locks anyone out unasked).
    #[default]
    Off,
    /// Moat's input chain has `policy drop`: besides loopback, replies, essential ICMP and
    /// what the networks serve their guests, the host accepts only the allowed ports. Host-wide,
    /// whatever other firewalls accept.
    DefaultReject,
}

/// The TLS listener's files and checks (`listen_tls` and the options after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Whether the daemon listens for TLS clients (`listen_tls`).
    pub listen: bool,
    /// Address to listen on (`listen_addr`); `None` is every interface.
    pub listen_addr: Option<String>,
    /// Port (`tls_port`).
    pub port: u16,
    /// The server's private key, PEM (`key_file`).
    pub key_file: PathBuf,
    /// The server's certificate chain, PEM (`cert_file`).
    pub cert_file: PathBuf,
    /// The CA certificates clients must chain to, PEM (`ca_file`).
    pub ca_file: PathBuf,
    /// Revocation lists, PEM (`crl_file`); a missing file at the default path means none.
    pub crl_file: PathBuf,
    /// Whether `crl_file` was set explicitly (then it must exist).
    pub crl_file_required: bool,
    /// Glob patterns on the client's distinguished name (`tls_allowed_dn_list`); `None` admits
    /// every certificate the CA signed, an empty list admits nobody.
    pub allowed_dn_list: Option<Vec<String>>,
    /// GnuTLS priority string (`tls_priority`); logged and not applied (rustls has its own
    /// fixed set of safe suites).
    pub priority: Option<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            listen: false,
            listen_addr: None,
            port: DEFAULT_TLS_PORT,
            key_file: PathBuf::from(DEFAULT_KEY_FILE),
            cert_file: PathBuf::from(DEFAULT_CERT_FILE),
            ca_file: PathBuf::from(DEFAULT_CA_FILE),
            crl_file: PathBuf::from(DEFAULT_CRL_FILE),
            crl_file_required: false,
            allowed_dn_list: None,
            priority: None,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Group owning both sockets; `None` keeps the daemon's group.
    pub unix_sock_group: Option<String>,
    /// Mode of the read-only socket.
    pub unix_sock_ro_perms: u32,
    /// Mode of the read-write socket.
    pub unix_sock_rw_perms: u32,
    /// Authentication on the read-only socket.
    pub auth_unix_ro: AuthMode,
    /// Authentication on the read-write socket.
    pub auth_unix_rw: AuthMode,
    /// Access drivers, all of which must allow a call.
    pub access_drivers: Vec<AccessDriverName>,
    /// The `rules` driver's file.
    pub access_rules_file: PathBuf,
    /// Most clients connected at once, over both sockets.
    pub max_clients: usize,
    /// Most requests one client may have outstanding.
    pub max_client_requests: usize,
    /// Idle time before the daemon pings a client; `None` never pings (`-1`).
    pub keepalive_interval: Option<Duration>,
    /// Unanswered pings before a client is dropped.
    pub keepalive_count: u32,
    /// Security drivers (qemu.conf `security_driver`); empty means the host's default.
    pub security_driver: Vec<String>,
    /// Guests without a `<seclabel>` are confined (qemu.conf).
    pub security_default_confined: bool,
    /// Unconfined guests are refused (qemu.conf).
    pub security_require_confined: bool,
    /// The daemon changes ownership of guest resources (qemu.conf).
    pub dynamic_ownership: bool,
    /// Original owners and labels are remembered in `trusted.libvirt.security.*` xattrs
    /// (qemu.conf).
    pub remember_owner: bool,
    /// The range each running guest gets its own uid and gid from (`guest_uid_min`,
    /// `guest_uid_max`).
    pub guest_ids: std::ops::RangeInclusive<u32>,
    /// Directories guest disks must lie under (`image_dirs`; guide 2.2, central image store).
    pub image_dirs: Vec<PathBuf>,
    /// Whether a guest may be given a whole host disk writable (`allow_whole_disks`).
    pub allow_whole_disks: bool,
    /// Most processes and threads one guest's QEMU may have (`guest_pids_max`).
    pub guest_pids_max: u64,
    /// The cgroup below which each guest gets its own (`cgroup_parent`).
    pub cgroup_parent: String,
    /// The `moat-jail` program (`jail_binary`); `None` looks beside `moatd`.
    pub jail_binary: Option<PathBuf>,
    /// For tests on hosts without SELinux only (`selinux_test_context`): the SELinux model
    /// runs as if the daemon had this context; files are labelled for real, the process label
    /// of QEMU cannot be.
    pub selinux_test_context: Option<String>,
    /// The TLS listener.
    pub tls: TlsConfig,
    /// The host firewall (`host_firewall`).
    pub host_firewall: HostFirewallMode,
    /// TCP ports the host firewall lets in (`host_allowed_tcp_ports`; default ssh and
    /// `tls_port`).
    pub host_allowed_tcp_ports: Vec<u16>,
    /// UDP ports the host firewall lets in (`host_allowed_udp_ports`; default none).
    pub host_allowed_udp_ports: Vec<u16>,
    /// libvirtd.conf options present in the file that Moat does not act on.
    pub ignored: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            unix_sock_group: None,
            unix_sock_ro_perms: 0o777,
            unix_sock_rw_perms: 0o700,
            auth_unix_ro: AuthMode::None,
            auth_unix_rw: AuthMode::None,
            access_drivers: vec![AccessDriverName::None],
            access_rules_file: PathBuf::from(DEFAULT_RULES_FILE),
            max_clients: 5000,
            max_client_requests: 5,
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_count: 5,
            security_driver: Vec::new(),
            security_default_confined: true,
            security_require_confined: false,
            dynamic_ownership: true,
            remember_owner: true,
            guest_ids: DEFAULT_GUEST_IDS,
            image_dirs: DEFAULT_IMAGE_DIRS.iter().map(PathBuf::from).collect(),
            allow_whole_disks: false,
            guest_pids_max: 1024,
            cgroup_parent: "moat".into(),
            jail_binary: None,
            selinux_test_context: None,
            tls: TlsConfig::default(),
            host_firewall: HostFirewallMode::Off,
            host_allowed_tcp_ports: vec![SSH_PORT, DEFAULT_TLS_PORT],
            host_allowed_udp_ports: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

/// One problem with one option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option '{key}': {message}")]
pub struct OptionProblem {
    /// The option name.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`CONFIG_MAX_LEN`].
    #[error("configuration file {path} is larger than {CONFIG_MAX_LEN} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The text is not TOML.
    #[error("configuration is not valid TOML")]
    Syntax(#[source] Box<toml::de::Error>),
    /// Options with bad values; all of them are listed.
    #[error("invalid configuration: {}", list(.0))]
    Invalid(Vec<OptionProblem>),
}

fn list(problems: &[OptionProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// libvirtd.conf/virtqemud.conf/qemu.conf options accepted and ignored.
const IGNORED: &[&str] = &[
    "unix_sock_admin_perms",
    "unix_sock_dir",
    "tcp_port",
    "mdns_adv",
    "mdns_name",
    "auth_tcp",
    "tcp_min_ssf",
    "tls_no_sanity_certificate",
    "sasl_allowed_username_list",
    "max_queued_clients",
    "max_anonymous_clients",
    "min_workers",
    "max_workers",
    "prio_workers",
    "admin_min_workers",
    "admin_max_workers",
    "admin_max_clients",
    "admin_max_queued_clients",
    "admin_max_client_requests",
    "admin_keepalive_interval",
    "admin_keepalive_count",
    "keepalive_required",
    "admin_keepalive_required",
    "log_level",
    "log_filters",
    "log_outputs",
    "audit_level",
    "audit_logging",
    "host_uuid",
    "host_uuid_source",
    "ovs_timeout",
];

impl Config {
    /// Loads a file; `None` gives the embedded defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > CONFIG_MAX_LEN {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text)
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = text.parse().map_err(|e| ConfigError::Syntax(Box::new(e)))?;
        Self::from_table(&table)
    }

    /// Checks every option of a parsed table.
    pub fn from_table(table: &toml::Table) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let mut problems = Vec::new();
        let (mut guest_min, mut guest_max) = (None, None);
        let mut rw_perms_set = false;
        let mut tcp_ports = None;
        let values: BTreeMap<&str, &toml::Value> =
            table.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for (&key, &value) in &values {
            let mut problem = |message: String| {
                problems.push(OptionProblem {
                    key: key.to_owned(),
                    message,
                })
            };
            match key {
                "unix_sock_group" => match value.as_str() {
                    Some(group) if valid_group_name(group) => {
                        config.unix_sock_group = Some(group.to_owned())
                    }
                    _ => problem("expected a group name".into()),
                },
                "unix_sock_ro_perms" => match perms(value) {
                    Ok(mode) => config.unix_sock_ro_perms = mode,
                    Err(m) => problem(m),
                },
                "unix_sock_rw_perms" => match perms(value) {
                    Ok(mode) => {
                        config.unix_sock_rw_perms = mode;
                        rw_perms_set = true;
                    }
                    Err(m) => problem(m),
                },
                "auth_unix_ro" => match auth(value) {
                    Ok(mode) => config.auth_unix_ro = mode,
                    Err(m) => problem(m),
                },
                "auth_unix_rw" => match auth(value) {
                    Ok(mode) => config.auth_unix_rw = mode,
                    Err(m) => problem(m),
                },
                "access_drivers" => match access_drivers(value) {
                    Ok(drivers) => config.access_drivers = drivers,
                    Err(m) => problem(m),
                },
                "access_rules_file" => match value.as_str() {
                    Some(path) if path.starts_with('/') => {
                        config.access_rules_file = PathBuf::from(path)
                    }
                    _ => problem("expected an absolute path".into()),
                },
                "max_clients" => match count(value, 1, 100_000) {
                    Ok(n) => config.max_clients = n,
                    Err(m) => problem(m),
                },
                "max_client_requests" => match count(value, 1, 1_000) {
                    Ok(n) => config.max_client_requests = n,
                    Err(m) => problem(m),
                },
                "keepalive_interval" => match value.as_integer() {
                    Some(-1) => config.keepalive_interval = None,
                    Some(secs @ 1..=3600) => {
                        config.keepalive_interval = Some(Duration::from_secs(secs.unsigned_abs()))
                    }
                    _ => problem("expected -1 or seconds from 1 to 3600".into()),
                },
                "keepalive_count" => match count(value, 0, 1_000) {
                    Ok(n) => config.keepalive_count = u32::try_from(n).expect("bounded by 1000"),
                    Err(m) => problem(m),
                },
                "security_driver" => match string_list(value) {
                    Some(list) => config.security_driver = list,
                    None => problem("expected a driver name or a list of them".into()),
                },
                "security_default_confined" => match boolean(value) {
                    Some(b) => config.security_default_confined = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "security_require_confined" => match boolean(value) {
                    Some(b) => config.security_require_confined = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "dynamic_ownership" => match boolean(value) {
                    Some(b) => config.dynamic_ownership = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "remember_owner" => match boolean(value) {
                    Some(b) => config.remember_owner = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "guest_uid_min" => match count(value, 1000, u32::MAX as usize) {
                    Ok(n) => guest_min = u32::try_from(n).ok(),
                    Err(m) => problem(m),
                },
                "guest_uid_max" => match count(value, 1000, u32::MAX as usize - 1) {
                    Ok(n) => guest_max = u32::try_from(n).ok(),
                    Err(m) => problem(m),
                },
                "image_dirs" => match string_list(value) {
                    Some(list) if list.iter().all(|d| d.starts_with('/')) => {
                        config.image_dirs = list.into_iter().map(PathBuf::from).collect()
                    }
                    _ => problem("expected a list of absolute directory paths".into()),
                },
                "allow_whole_disks" => match boolean(value) {
                    Some(b) => config.allow_whole_disks = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "guest_pids_max" => match count(value, 16, 1_000_000) {
                    Ok(n) => config.guest_pids_max = u64::try_from(n).unwrap_or(u64::MAX),
                    Err(m) => problem(m),
                },
                "cgroup_parent" => match value.as_str() {
                    Some(name) if valid_group_name(name) => config.cgroup_parent = name.to_owned(),
                    _ => {
                        problem("expected one cgroup name (letters, digits, '_', '-', '.')".into())
                    }
                },
                "jail_binary" => match value.as_str() {
                    Some(path) if path.starts_with('/') => {
                        config.jail_binary = Some(PathBuf::from(path))
                    }
                    _ => problem("expected an absolute path".into()),
                },
                "selinux_test_context" => match value.as_str() {
                    Some(context) if context.parse::<seclabel::Context>().is_ok() => {
                        config.selinux_test_context = Some(context.to_owned())
                    }
                    _ => problem("expected an SELinux context (user:role:type:level)".into()),
                },
                "listen_tls" => match boolean(value) {
                    Some(b) => config.tls.listen = b,
                    None => problem("expected 0, 1, true or false".into()),
                },
                "listen_tcp" => match boolean(value) {
                    Some(false) => config.ignored.push(key.to_owned()),
                    Some(true) => problem(
                        "plain TCP needs an authentication mechanism (auth_tcp = \"sasl\") and \
                         moatd has none, so it would give anyone on the network full control; \
                         use listen_tls (client certificates) instead"
                            .into(),
                    ),
                    None => problem("expected 0, 1, true or false".into()),
                },
                "auth_tls" => match value.as_str() {
                    Some("none") => {}
                    _ => problem(
                        "expected \"none\" (the client certificate is the authentication)".into(),
                    ),
                },
                "listen_addr" => match value.as_str() {
                    Some(addr) if !addr.is_empty() && !addr.contains(char::is_whitespace) => {
                        config.tls.listen_addr = Some(addr.to_owned())
                    }
                    _ => problem("expected an address or host name".into()),
                },
                "tls_port" => match port(value) {
                    Some(port) => config.tls.port = port,
                    None => problem("expected a port number from 1 to 65535".into()),
                },
                "key_file" | "cert_file" | "ca_file" | "crl_file" => match value.as_str() {
                    Some(path) if path.starts_with('/') => {
                        let path = PathBuf::from(path);
                        match key {
                            "key_file" => config.tls.key_file = path,
                            "cert_file" => config.tls.cert_file = path,
                            "ca_file" => config.tls.ca_file = path,
                            _ => {
                                config.tls.crl_file = path;
                                config.tls.crl_file_required = true;
                            }
                        }
                    }
                    _ => problem("expected an absolute path".into()),
                },
                "tls_no_verify_certificate" => match boolean(value) {
                    Some(false) => {}
                    _ => problem("certificate verification cannot be turned off".into()),
                },
                "tls_allowed_dn_list" => match string_list(value) {
                    Some(list) => config.tls.allowed_dn_list = Some(list),
                    None => problem("expected a list of distinguished name patterns".into()),
                },
                "tls_priority" => match value.as_str() {
                    Some(priority) => config.tls.priority = Some(priority.to_owned()),
                    None => problem("expected a GnuTLS priority string".into()),
                },
                "host_firewall" => match value.as_str() {
                    Some("off") => config.host_firewall = HostFirewallMode::Off,
                    Some("default-reject") => {
                        config.host_firewall = HostFirewallMode::DefaultReject
                    }
                    _ => problem("expected \"off\" or \"default-reject\"".into()),
                },
                "host_allowed_tcp_ports" => match port_list(value) {
                    Some(ports) => tcp_ports = Some(ports),
                    None => problem("expected a list of port numbers from 1 to 65535".into()),
                },
                "host_allowed_udp_ports" => match port_list(value) {
                    Some(ports) => config.host_allowed_udp_ports = ports,
                    None => problem("expected a list of port numbers from 1 to 65535".into()),
                },
                _ if IGNORED.contains(&key) => config.ignored.push(key.to_owned()),
                _ => problem("unknown option".into()),
            }
        }
        if config.auth_unix_rw == AuthMode::Polkit && !rw_perms_set {
            // libvirtd's default: polkit, not the socket's mode, decides who may manage.
            config.unix_sock_rw_perms = 0o777;
        }
        config.host_allowed_tcp_ports =
            tcp_ports.unwrap_or_else(|| vec![SSH_PORT, config.tls.port]);
        let (min, max) = (
            guest_min.unwrap_or(*DEFAULT_GUEST_IDS.start()),
            guest_max.unwrap_or(*DEFAULT_GUEST_IDS.end()),
        );
        if min > max {
            problems.push(OptionProblem {
                key: "guest_uid_min".into(),
                message: format!("{min} is above guest_uid_max {max}"),
            });
        } else {
            config.guest_ids = min..=max;
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Socket permissions: an octal string as libvirtd.conf writes them, or an integer.
fn perms(value: &toml::Value) -> Result<u32, String> {
    let mode = match value {
        toml::Value::String(s) => u32::from_str_radix(s, 8).ok(),
        toml::Value::Integer(i) => u32::try_from(*i).ok(),
        _ => None,
    };
    match mode {
        Some(mode) if mode <= 0o777 => Ok(mode),
        _ => Err("expected an octal mode such as \"0770\" (at most 0777)".into()),
    }
}

fn auth(value: &toml::Value) -> Result<AuthMode, String> {
    match value.as_str() {
        Some("none") => Ok(AuthMode::None),
        Some("polkit") => Ok(AuthMode::Polkit),
        Some("sasl") => {
            Err("authentication 'sasl' is not supported yet; use \"none\" or \"polkit\"".into())
        }
        _ => Err("expected \"none\" or \"polkit\"".into()),
    }
}

fn access_drivers(value: &toml::Value) -> Result<Vec<AccessDriverName>, String> {
    let names = string_list(value).ok_or("expected a list of driver names")?;
    if names.is_empty() {
        return Err("the list is empty; use [\"none\"] for no access control".into());
    }
    names
        .iter()
        .map(|name| match name.as_str() {
            "none" => Ok(AccessDriverName::None),
            "rules" => Ok(AccessDriverName::Rules),
            "polkit" => Ok(AccessDriverName::Polkit),
            other => Err(format!(
                "access driver '{other}' is not available (available: none, rules, polkit)"
            )),
        })
        .collect()
}

fn count(value: &toml::Value, min: usize, max: usize) -> Result<usize, String> {
    value
        .as_integer()
        .and_then(|i| usize::try_from(i).ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expected a whole number from {min} to {max}"))
}

/// A port as libvirtd.conf writes it (a string) or as an integer.
fn port(value: &toml::Value) -> Option<u16> {
    match value {
        toml::Value::String(s) => s.parse().ok(),
        toml::Value::Integer(i) => u16::try_from(*i).ok(),
        _ => None,
    }
    .filter(|&port| port != 0)
}

/// A list of ports; an empty list is allowed.
fn port_list(value: &toml::Value) -> Option<Vec<u16>> {
    value.as_array()?.iter().map(port).collect()
}

fn boolean(value: &toml::Value) -> Option<bool> {
    match value {
        toml::Value::Boolean(b) => Some(*b),
        toml::Value::Integer(0) => Some(false),
        toml::Value::Integer(1) => Some(true),
        _ => None,
    }
}

fn string_list(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_libvirts_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.unix_sock_ro_perms, 0o777);
        assert_eq!(config.unix_sock_rw_perms, 0o700);
        assert_eq!(config.max_client_requests, 5);
    }

    #[test]
    fn a_libvirtd_conf_parses() {
        let text = r#"
# libvirtd.conf excerpt
listen_tls = 0
listen_tcp = 0
unix_sock_group = "libvirt"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
access_drivers = [ "none" ]
max_clients = 5000
max_workers = 20
max_client_requests = 5
keepalive_interval = 5
keepalive_count = 5
log_level = 3
log_outputs = "3:syslog:libvirtd"
"#;
        let config = Config::parse(text).unwrap();
        assert_eq!(config.unix_sock_group.as_deref(), Some("libvirt"));
        assert_eq!(config.unix_sock_rw_perms, 0o770);
        assert!(config.ignored.contains(&"log_outputs".to_owned()));
        assert!(config.ignored.contains(&"max_workers".to_owned()));
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
unix_sock_rw_perms = "0999"
auth_unix_rw = "sasl"
access_drivers = ["selinux"]
max_clients = 0
keepalive_interval = 0
security_require_confined = "yes"
listen_tcp = 1
unix_sock_grup = "libvirt"
"#;
        let Err(ConfigError::Invalid(problems)) = Config::parse(text) else {
            panic!("expected problems");
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "access_drivers",
                "auth_unix_rw",
                "keepalive_interval",
                "listen_tcp",
                "max_clients",
                "security_require_confined",
                "unix_sock_grup",
                "unix_sock_rw_perms",
            ]
        );
        let text = problems[7].to_string();
        assert_eq!(
            text,
            "option 'unix_sock_rw_perms': expected an octal mode such as \"0770\" (at most 0777)"
        );
        assert_eq!(problems[6].message, "unknown option");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = Config::parse("max_clients = = 3").unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("line 1"), "{source}");
    }

    #[test]
    fn tls_options_have_libvirts_defaults_and_names() {
        let config = Config::parse("").unwrap();
        assert!(!config.tls.listen);
        assert_eq!(config.tls.port, 16514);
        assert_eq!(config.tls.ca_file, Path::new("/etc/pki/CA/cacert.pem"));
        assert_eq!(
            config.tls.key_file,
            Path::new("/etc/pki/libvirt/private/serverkey.pem")
        );
        let text = r#"
listen_tls = 1
listen_addr = "127.0.0.1"
tls_port = "16600"
auth_tls = "none"
cert_file = "/srv/pki/server.pem"
crl_file = "/srv/pki/crl.pem"
tls_allowed_dn_list = ["C=GB,O=Example,CN=*"]
tls_no_verify_certificate = 0
tls_priority = "NORMAL"
"#;
        let tls = Config::parse(text).unwrap().tls;
        assert!(tls.listen);
        assert_eq!(tls.listen_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(tls.port, 16600);
        assert_eq!(tls.cert_file, Path::new("/srv/pki/server.pem"));
        assert!(tls.crl_file_required);
        assert_eq!(
            tls.allowed_dn_list,
            Some(vec!["C=GB,O=Example,CN=*".to_owned()])
        );
        assert_eq!(tls.priority.as_deref(), Some("NORMAL"));
    }

    #[test]
    fn unsafe_network_options_are_refused_with_the_reason() {
        let text =
            "listen_tcp = 1\ntls_no_verify_certificate = 1\ntls_port = 0\nauth_tls = \"sasl\"";
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(
            err.contains("option 'listen_tcp': plain TCP needs an authentication mechanism"),
            "{err}"
        );
        assert!(
            err.contains(
                "option 'tls_no_verify_certificate': certificate verification cannot be turned off"
            ),
            "{err}"
        );
        assert!(err.contains("option 'tls_port'"), "{err}");
        assert!(err.contains("option 'auth_tls'"), "{err}");
    }

    #[test]
    fn polkit_authentication_opens_the_read_write_socket_unless_told_otherwise() {
        let config = Config::parse("auth_unix_rw = \"polkit\"").unwrap();
        assert_eq!(config.auth_unix_rw, AuthMode::Polkit);
        assert_eq!(config.auth_unix_ro, AuthMode::None);
        assert_eq!(config.unix_sock_rw_perms, 0o777);
        let config = Config::parse(
            "auth_unix_rw = \"polkit\"\nauth_unix_ro = \"polkit\"\nunix_sock_rw_perms = \"0770\"",
        )
        .unwrap();
        assert_eq!(config.auth_unix_ro, AuthMode::Polkit);
        assert_eq!(config.unix_sock_rw_perms, 0o770);
        let Err(ConfigError::Invalid(problems)) = Config::parse("auth_unix_ro = \"kerberos\"")
        else {
            panic!("expected a problem");
        };
        assert_eq!(problems[0].message, "expected \"none\" or \"polkit\"");
    }

    #[test]
    fn host_firewall_is_off_unless_asked_and_opens_ssh_and_tls() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.host_firewall, HostFirewallMode::Off);
        assert_eq!(config.host_allowed_tcp_ports, [22, 16514]);
        assert!(config.host_allowed_udp_ports.is_empty());
        let config = Config::parse("host_firewall = \"default-reject\"\ntls_port = 16600").unwrap();
        assert_eq!(config.host_firewall, HostFirewallMode::DefaultReject);
        assert_eq!(config.host_allowed_tcp_ports, [22, 16600]);
        let text = "host_firewall = \"default-reject\"\nhost_allowed_tcp_ports = [2222]\n\
                    host_allowed_udp_ports = [\"123\", 53]";
        let config = Config::parse(text).unwrap();
        assert_eq!(config.host_allowed_tcp_ports, [2222]);
        assert_eq!(config.host_allowed_udp_ports, [123, 53]);
        assert!(Config::parse("host_allowed_tcp_ports = []")
            .unwrap()
            .host_allowed_tcp_ports
            .is_empty());
        let text =
            "host_firewall = \"on\"\nhost_allowed_tcp_ports = [0]\nhost_allowed_udp_ports = 53";
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(
            err.contains("option 'host_firewall': expected \"off\" or \"default-reject\""),
            "{err}"
        );
        assert!(err.contains("option 'host_allowed_tcp_ports'"), "{err}");
        assert!(err.contains("option 'host_allowed_udp_ports'"), "{err}");
    }

    #[test]
    fn keepalive_can_be_disabled() {
        let config = Config::parse("keepalive_interval = -1\nkeepalive_count = 0").unwrap();
        assert_eq!(config.keepalive_interval, None);
        assert_eq!(config.keepalive_count, 0);
    }

    #[test]
    fn missing_and_huge_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        let err = Config::load(Some(&missing)).unwrap_err();
        assert!(err.to_string().contains("none.toml"));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2 * 1024 * 1024]).unwrap();
        assert!(matches!(
            Config::load(Some(&big)),
            Err(ConfigError::TooLarge { .. })
        ));
    }
}

/// A configuration file is outside input: any text gives a configuration or an error naming
/// the problem, never a panic.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    const SAMPLE: &str = "unix_sock_group = \"libvirt\"\nunix_sock_rw_perms = \"0770\"\n\
        access_drivers = [\"rules\"]\nmax_clients = 20\nkeepalive_interval = 5\n\
        security_driver = \"selinux\"\nguest_uid_min = 1000000\nimage_dirs = [\"/srv/images\"]\n";

    proptest! {
        #[test]
        fn any_text_loads_or_fails_cleanly(text in ".{0,300}") {
            if let Err(err) = Config::parse(&text) {
                prop_assert!(!err.to_string().is_empty());
            }
        }

        #[test]
        fn damaged_configs_load_or_fail_cleanly(
            cut in 1usize..SAMPLE.len(),
            junk in "[\\[\\]=\"0-9a-z_ -]{0,10}",
        ) {
            let mut text = SAMPLE[..cut].to_owned();
            text.push_str(&junk);
            let _ = Config::parse(&text);
        }

        #[test]
        fn any_integer_for_a_numeric_option_is_taken_or_refused(n in any::<i64>()) {
            for key in ["max_clients", "guest_uid_min", "guest_uid_max", "guest_pids_max", "keepalive_count"] {
                let _ = Config::parse(&format!("{key} = {n}\n"));
            }
        }
    }
}
