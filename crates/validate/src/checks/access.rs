//! `access-control-enabled`: the management daemons' client access control.
//!
//! Reads Moat's `/etc/moat/moatd.toml` (TOML) and, where present, libvirt's
//! `/etc/libvirt/libvirtd.conf` and `/etc/libvirt/virtqemud.conf` (`key = value`, `#` comments,
//! lists `["a", "b"]`). Option names are libvirt's in all three: `access_drivers`,
//! `unix_sock_group`, `unix_sock_ro_perms`, `unix_sock_rw_perms`, `auth_unix_rw`,
//! `auth_unix_ro`, `listen_tcp`, `auth_tcp`.

use super::lvm::{self, LvmValue};
use super::Check;
use crate::check::{CheckInfo, Finding, Location, Status};
use crate::host::Host;
use crate::root::RootError;

/// `access-control-enabled`.
pub static CONTROL_ENABLED: Check = Check {
    info: CheckInfo {
        id: "access-control-enabled",
        title: "Management daemon has client access control enabled",
        guide: "2.2.2",
        rationale: "By default the daemon uses the none access driver, which does no access control checks at all: \
once authenticated, a client on the read-write socket may call every API on every guest (2.2.2). \
The access control framework lets the administrator lock each client down to a minimal set \
of permissions per user, object and API call, and when several drivers are listed all must \
agree. Socket permissions and groups decide who gets that far.",
        remediation: "Set an access driver: in /etc/moat/moatd.toml `access_drivers = [\"rules\"]` (or \
\"polkit\"); in libvirtd.conf/virtqemud.conf `access_drivers = [ \"polkit\" ]` (the guide: \
`augtool -s set '/files/etc/libvirt/libvirtd.conf/access_drivers[1]' polkit`), then restart \
the daemon. Keep unix_sock_rw_perms at 0770 or tighter, give unix_sock_group only to \
administrators, keep auth_unix_rw at polkit/sasl, and never combine listen_tcp with \
auth_tcp = \"none\".",
        live_only: false,
    },
    run: control_enabled,
};

const MOATD_CONF: &str = "/etc/moat/moatd.toml";
const LIBVIRT_CONFS: [&str; 2] = ["/etc/libvirt/libvirtd.conf", "/etc/libvirt/virtqemud.conf"];
/// Where the daemons' binaries are installed.
const DAEMONS: [&str; 6] = [
    "/usr/sbin/moatd",
    "/usr/bin/moatd",
    "/usr/local/sbin/moatd",
    "/usr/local/bin/moatd",
    "/usr/sbin/libvirtd",
    "/usr/sbin/virtqemud",
];

/// A setting's value, whatever the file's syntax.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    List(Vec<String>),
}

impl Value {
    fn text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            Value::List(_) => None,
        }
    }
}

/// A daemon configuration: (key, value, line).
struct DaemonConfig {
    path: &'static str,
    settings: Vec<(String, Value, usize)>,
}

impl DaemonConfig {
    fn get(&self, key: &str) -> Option<(&Value, Location)> {
        self.settings
            .iter()
            .rev()
            .find(|(name, _, _)| name == key)
            .map(|(_, value, line)| (value, Location::line(self.path, *line)))
    }
}

fn toml_config(path: &'static str, text: &str) -> Result<DaemonConfig, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| err.message().to_owned())?;
    let line_of = |key: &str| {
        text.lines()
            .position(|line| {
                line.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map_or(1, |index| index + 1)
    };
    let settings = table
        .iter()
        .filter_map(|(key, value)| {
            let value = match value {
                toml::Value::String(text) => Value::Text(text.clone()),
                toml::Value::Integer(number) => Value::Text(number.to_string()),
                toml::Value::Boolean(flag) => Value::Text(if *flag { "1" } else { "0" }.to_owned()),
                toml::Value::Array(items) => Value::List(
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => return None,
            };
            Some((key.clone(), value, line_of(key)))
        })
        .collect();
    Ok(DaemonConfig { path, settings })
}

fn libvirt_config(path: &'static str, text: &str) -> DaemonConfig {
    let settings = lvm::parse(text)
        .into_iter()
        .filter(|setting| setting.section.is_empty())
        .map(|setting| {
            let value = match setting.value {
                LvmValue::Scalar(text) => Value::Text(text),
                LvmValue::List(items) => Value::List(items),
            };
            (setting.key, value, setting.line)
        })
        .collect();
    DaemonConfig { path, settings }
}

fn control_enabled(host: &Host<'_>) -> Vec<Finding> {
    match control_findings(host) {
        Ok(findings) => findings,
        Err(err) => vec![Finding::error(&err)],
    }
}

fn control_findings(host: &Host<'_>) -> Result<Vec<Finding>, RootError> {
    let mut configs = Vec::new();
    let mut findings = Vec::new();
    if let Some(text) = host.root.read(MOATD_CONF)? {
        match toml_config(MOATD_CONF, &text) {
            Ok(config) => configs.push(config),
            Err(message) => findings.push(Finding::at(
                Status::Error,
                format!("cannot parse {MOATD_CONF}: {message}"),
                Location::file(MOATD_CONF),
            )),
        }
    }
    for path in LIBVIRT_CONFS {
        if let Some(text) = host.root.read(path)? {
            configs.push(libvirt_config(path, &text));
        }
    }
    if configs.is_empty() && findings.is_empty() {
        // A daemon without a configuration file runs with its defaults: the none driver.
        for daemon in DAEMONS {
            if host.root.exists(daemon)? {
                findings.push(Finding::at(
                    Status::Fail,
                    format!("{daemon} is installed without a configuration file, so it runs with the none access driver"),
                    Location::file(daemon),
                ));
            }
        }
    }
    if configs.is_empty() && findings.is_empty() {
        findings.push(Finding::new(
            Status::NotApplicable,
            format!(
                "no management daemon or configuration found ({MOATD_CONF}, {})",
                LIBVIRT_CONFS.join(", ")
            ),
        ));
    }
    for config in &configs {
        judge(config, &mut findings);
    }
    Ok(findings)
}

fn octal(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8).ok()
}

fn judge(config: &DaemonConfig, findings: &mut Vec<Finding>) {
    let path = config.path;
    match config.get("access_drivers") {
        None => findings.push(Finding::at(
            Status::Fail,
            format!("{path}: access_drivers is not set, so the none driver lets every authenticated client call every API"),
            Location::file(path),
        )),
        Some((value, location)) => {
            let drivers = match value {
                Value::List(items) => items.clone(),
                Value::Text(text) => vec![text.clone()],
            };
            let real: Vec<&String> = drivers.iter().filter(|driver| *driver != "none").collect();
            if real.is_empty() {
                findings.push(Finding::at(
                    Status::Fail,
                    format!("access_drivers = {drivers:?}: no access control checks at all"),
                    location,
                ));
            } else {
                findings.push(Finding::at(
                    Status::Pass,
                    format!("access_drivers = {drivers:?}"),
                    location,
                ));
            }
        }
    }
    let rw_perms = config.get("unix_sock_rw_perms");
    let group = config.get("unix_sock_group");
    let mut rw_open = false;
    if let Some((value, location)) = &rw_perms {
        match value.text().and_then(octal) {
            Some(mode) if mode & 0o007 != 0 => findings.push(Finding::at(
                Status::Fail,
                format!(
                    "unix_sock_rw_perms = {:04o}: any local user may open the read-write socket",
                    mode
                ),
                location.clone(),
            )),
            Some(mode) => rw_open = mode & 0o070 != 0,
            None => findings.push(Finding::at(
                Status::Error,
                "unix_sock_rw_perms is not an octal mode",
                location.clone(),
            )),
        }
    }
    if let Some((value, location)) = &group {
        let name = value.text().unwrap_or_default();
        findings.push(Finding::at(
            Status::Info,
            format!("unix_sock_group = {name:?}: its members reach the read-write socket"),
            location.clone(),
        ));
        rw_open |= rw_perms.is_none();
    }
    if let Some((value, location)) = config.get("auth_unix_rw") {
        if value.text() == Some("none") && rw_open {
            findings.push(Finding::at(
                Status::Warn,
                "auth_unix_rw = \"none\" with a group on the read-write socket: every member is fully trusted",
                location,
            ));
        }
    }
    let listen_tcp = config
        .get("listen_tcp")
        .is_some_and(|(value, _)| matches!(value.text(), Some("1" | "true")));
    if let Some((value, location)) = config.get("auth_tcp") {
        if listen_tcp && value.text() == Some("none") {
            findings.push(Finding::at(
                Status::Fail,
                "listen_tcp with auth_tcp = \"none\": anyone on the network gets full access",
                location,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{has, Fixture};
    use super::*;

    #[test]
    fn moatd_with_rules_driver_passes() {
        let fixture = Fixture::offline();
        fixture.file(
            MOATD_CONF,
            "# moatd\naccess_drivers = [\"rules\"]\nunix_sock_rw_perms = \"0770\"\nauth_unix_rw = \"polkit\"\n",
        );
        let result = fixture.expect(&CONTROL_ENABLED, Status::Pass);
        assert_eq!(
            result.findings[0].location,
            Some(Location::line(MOATD_CONF, 2))
        );
    }

    #[test]
    fn default_libvirtd_conf_fails() {
        let fixture = Fixture::offline();
        fixture.file(
            "/etc/libvirt/libvirtd.conf",
            "# Master libvirt daemon configuration file\n#access_drivers = [ \"polkit\" ]\n#unix_sock_group = \"libvirt\"\n",
        );
        let result = fixture.expect(&CONTROL_ENABLED, Status::Fail);
        assert!(has(&result, Status::Fail, "access_drivers is not set"));
    }

    #[test]
    fn polkit_in_libvirtd_passes_none_fails() {
        let fixture = Fixture::offline();
        fixture.file(
            "/etc/libvirt/virtqemud.conf",
            "access_drivers = [ \"polkit\" ]\nunix_sock_rw_perms = \"0700\"\n",
        );
        fixture.expect(&CONTROL_ENABLED, Status::Pass);
        fixture.file(
            "/etc/libvirt/virtqemud.conf",
            "access_drivers = [ \"none\" ]\n",
        );
        fixture.expect(&CONTROL_ENABLED, Status::Fail);
    }

    #[test]
    fn world_writable_socket_and_open_tcp_fail() {
        let fixture = Fixture::offline();
        fixture.file(
            MOATD_CONF,
            "access_drivers = [\"rules\"]\nunix_sock_rw_perms = \"0777\"\nlisten_tcp = 1\nauth_tcp = \"none\"\n",
        );
        let result = fixture.expect(&CONTROL_ENABLED, Status::Fail);
        assert!(has(&result, Status::Fail, "any local user"));
        assert!(has(&result, Status::Fail, "anyone on the network"));
    }

    #[test]
    fn group_without_auth_warns() {
        let fixture = Fixture::offline();
        fixture.file(
            "/etc/libvirt/libvirtd.conf",
            "access_drivers = [ \"polkit\" ]\nunix_sock_group = \"libvirt\"\nunix_sock_rw_perms = \"0770\"\nauth_unix_rw = \"none\"\n",
        );
        let result = fixture.expect(&CONTROL_ENABLED, Status::Warn);
        assert!(has(&result, Status::Info, "unix_sock_group = \"libvirt\""));
    }

    #[test]
    fn installed_daemon_without_config_fails() {
        let fixture = Fixture::offline();
        fixture.file("/usr/sbin/virtqemud", "");
        let result = fixture.expect(&CONTROL_ENABLED, Status::Fail);
        assert!(has(
            &result,
            Status::Fail,
            "/usr/sbin/virtqemud is installed without"
        ));
    }

    #[test]
    fn no_daemon_config_is_not_applicable_and_bad_toml_is_an_error() {
        Fixture::offline().expect(&CONTROL_ENABLED, Status::NotApplicable);
        let fixture = Fixture::offline();
        fixture.file(MOATD_CONF, "access_drivers = [\n");
        fixture.expect(&CONTROL_ENABLED, Status::Error);
    }
}
