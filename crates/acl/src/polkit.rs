//! The `polkit` access driver: libvirt's real driver, so that rules written for libvirtd keep
//! working.
//!
//! Every check is one `CheckAuthorization` call on `org.freedesktop.PolicyKit1.Authority`:
//!
//! 1. the subject is `("unix-process", {pid: u32, start-time: u64, uid: i32})`; a client without
//!    all three (not on a UNIX socket) is denied without asking;
//! 2. the action id is [`Permission::polkit_action`] (`org.libvirt.api.domain.read-secure`);
//! 3. the details carry libvirt's keys (`connect_driver`, `domain_name`, `domain_uuid`,
//!    `pool_name`, …) for `action.lookup()` in JavaScript rules;
//! 4. flags are 0 (no interaction: an API call cannot wait for an agent) and the cancellation id
//!    is empty;
//! 5. `(is_authorized, is_challenge, details)` comes back: only `is_authorized` allows; a challenge
//!    is a denial, and a D-Bus failure is [`Decision::Error`], which the stack treats as a denial.
//!
//! The same question, with [`Interaction::Allowed`] and no details, authenticates a whole
//! connection when a socket has `auth_unix_rw`/`auth_unix_ro = "polkit"`: [`UnixAction`] names
//! libvirt's two actions, `org.libvirt.unix.manage` and `org.libvirt.unix.monitor`, and
//! [`unix_policy_file`] registers them (`examples/polkit/org.libvirt.unix.policy`).
//!
//! The D-Bus side sits behind the narrow [`Authority`] trait. [`SystemBusAuthority`] (feature
//! `polkit`, on by default) is the real one: one blocking zbus connection to the system bus
//! (`DBUS_SYSTEM_BUS_ADDRESS` when set), re-established after a transport failure. zbus runs
//! that connection on its own executor thread, so a check made from a current-thread tokio
//! runtime blocks the caller for one round trip, as libvirt's does, but cannot deadlock it.
//!
//! [`policy_file`] generates the polkit policy that registers every action (polkitd rejects an
//! unregistered action id); `examples/polkit/org.libvirt.api.policy` is its output.

use std::fmt;
use std::fmt::Write as _;

use crate::driver::{AccessDriver, Decision};
use crate::perm::{ObjectType, Permission};
use crate::subject::{Subject, Target};

/// The process polkit is asked about (subject kind `unix-process`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixProcess {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks since boot, so that a reused pid is not mistaken for the client.
    pub start_time: u64,
    /// UNIX uid.
    pub uid: i32,
}

impl UnixProcess {
    /// The client process, if the subject has a pid, start time and uid that polkit can take.
    pub fn of(subject: &Subject) -> Option<Self> {
        Some(Self {
            pid: u32::try_from(subject.pid?).ok()?,
            start_time: subject.start_time?,
            uid: i32::try_from(subject.uid?).ok()?,
        })
    }
}

/// Whether polkitd may ask an authentication agent to prompt the user
/// (`AllowUserInteraction`, flag 1 of `CheckAuthorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interaction {
    /// Answer from the rules alone: API checks, which cannot wait for a person.
    #[default]
    None,
    /// An agent may prompt: connection-level authentication, as libvirt asks it.
    Allowed,
}

impl Interaction {
    /// The `flags` argument of `CheckAuthorization`.
    pub fn flags(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Allowed => 1,
        }
    }
}

/// One `CheckAuthorization` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Who asks.
    pub subject: UnixProcess,
    /// `org.libvirt.api.<object>.<permission>`, or a [`UnixAction`].
    pub action_id: String,
    /// libvirt's detail keys and their values, in a fixed order.
    pub details: Vec<(&'static str, String)>,
    /// Whether an agent may prompt.
    pub interaction: Interaction,
}

/// polkit's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `is_authorized`.
    Authorized,
    /// Neither authorized nor a challenge.
    NotAuthorized,
    /// Authorization would need an agent to authenticate the user, and none answered (API
    /// checks never let one try).
    Challenge,
    /// An agent asked the user, who dismissed the prompt (`polkit.dismissed` in the details).
    Dismissed,
}

/// libvirt's connection-level actions (`auth_unix_rw`/`auth_unix_ro = "polkit"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixAction {
    /// `org.libvirt.unix.manage`: full access, asked on the read-write socket.
    Manage,
    /// `org.libvirt.unix.monitor`: read-only access, asked on the read-only socket.
    Monitor,
}

impl UnixAction {
    /// The polkit action id.
    pub fn action_id(self) -> &'static str {
        match self {
            Self::Manage => "org.libvirt.unix.manage",
            Self::Monitor => "org.libvirt.unix.monitor",
        }
    }

    /// The question libvirt asks to authenticate `process` for this action: no details, and an
    /// agent may prompt.
    pub fn query(self, process: UnixProcess) -> Query {
        Query {
            subject: process,
            action_id: self.action_id().to_owned(),
            details: Vec::new(),
            interaction: Interaction::Allowed,
        }
    }
}

/// Why polkit could not be asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolkitError {
    /// No connection to the system bus.
    #[cfg(feature = "polkit")]
    #[error("cannot connect to the system bus")]
    Connect(#[source] Box<zbus::Error>),
    /// The call failed or polkitd returned an error (an unregistered action id is one).
    #[cfg(feature = "polkit")]
    #[error("CheckAuthorization of '{action_id}' failed")]
    Call {
        /// The action asked about.
        action_id: String,
        /// The D-Bus error (boxed: zbus's error is large and checks return this often).
        #[source]
        source: Box<zbus::Error>,
    },
    /// Another authority's failure (fakes and wrappers).
    #[error("{0}")]
    Other(String),
}

/// Something that answers `CheckAuthorization`: polkitd on the system bus, or a fake.
pub trait Authority: Send + Sync + fmt::Debug {
    /// Asks one question.
    fn check_authorization(&self, query: &Query) -> Result<Answer, PolkitError>;
}

/// One authority shared by several users (the access driver and connection authentication use
/// one bus connection).
impl<T: Authority + ?Sized> Authority for std::sync::Arc<T> {
    fn check_authorization(&self, query: &Query) -> Result<Answer, PolkitError> {
        (**self).check_authorization(query)
    }
}

/// The `polkit` access driver.
#[derive(Debug)]
pub struct PolkitDriver {
    authority: Box<dyn Authority>,
    connect_driver: String,
}

impl PolkitDriver {
    /// A driver that asks `authority`, naming the hypervisor driver `connect_driver` (`QEMU`) in
    /// every query.
    pub fn new(authority: Box<dyn Authority>, connect_driver: impl Into<String>) -> Self {
        Self {
            authority,
            connect_driver: connect_driver.into(),
        }
    }

    /// A driver that asks polkitd on the system bus; it connects on the first check.
    #[cfg(feature = "polkit")]
    pub fn system_bus(connect_driver: impl Into<String>) -> Self {
        Self::new(Box::new(SystemBusAuthority::new()), connect_driver)
    }

    /// The question a check asks, or `None` for a subject polkit cannot judge.
    pub fn query(
        &self,
        subject: &Subject,
        target: &Target<'_>,
        permission: Permission,
    ) -> Option<Query> {
        Some(Query {
            subject: UnixProcess::of(subject)?,
            action_id: permission.polkit_action(),
            details: details(&self.connect_driver, target),
            interaction: Interaction::None,
        })
    }
}

impl AccessDriver for PolkitDriver {
    fn name(&self) -> &str {
        "polkit"
    }

    fn check(&self, subject: &Subject, target: &Target<'_>, permission: Permission) -> Decision {
        let Some(query) = self.query(subject, target, permission) else {
            return Decision::Deny;
        };
        match self.authority.check_authorization(&query) {
            Ok(Answer::Authorized) => Decision::Allow,
            Ok(Answer::NotAuthorized | Answer::Challenge | Answer::Dismissed) => Decision::Deny,
            Err(err) => Decision::Error(error_chain(&err)),
        }
    }
}

/// The error and its sources, joined, for a [`Decision::Error`] that has to stand alone.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        let _ = write!(text, ": {err}");
        source = err.source();
    }
    text
}

/// libvirt's detail keys for `target` (`viraccessdriverpolkit.c`). Keys whose value Moat does not
/// carry on a [`Target`] (`interface_macaddr`, `vol_key`, a port's network UUID) are left out.
pub fn details(connect_driver: &str, target: &Target<'_>) -> Vec<(&'static str, String)> {
    let name = target.name.to_owned();
    let uuid = target.uuid.map(|u| u.hyphenated().to_string());
    let parent = target.parent.map(str::to_owned);
    let mut details = vec![("connect_driver", connect_driver.to_owned())];
    let (name_key, uuid_key, parent_key) = match target.object {
        ObjectType::Connect => (None, None, None),
        ObjectType::Domain => (Some("domain_name"), Some("domain_uuid"), None),
        ObjectType::Interface => (Some("interface_name"), None, None),
        ObjectType::Network => (Some("network_name"), Some("network_uuid"), None),
        ObjectType::NetworkPort => (None, Some("port_uuid"), Some("network_name")),
        ObjectType::NodeDevice => (Some("node_device_name"), None, None),
        ObjectType::Nwfilter => (Some("nwfilter_name"), Some("nwfilter_uuid"), None),
        ObjectType::NwfilterBinding => (Some("nwfilter_binding_portdev"), None, None),
        ObjectType::Secret => (None, Some("secret_uuid"), None),
        ObjectType::StoragePool => (Some("pool_name"), Some("pool_uuid"), None),
        ObjectType::StorageVol => (Some("vol_name"), None, Some("pool_name")),
    };
    if let (Some(key), Some(value)) = (parent_key, parent) {
        details.push((key, value));
    }
    if let Some(key) = name_key {
        details.push((key, name));
    }
    if let (Some(key), Some(value)) = (uuid_key, uuid) {
        details.push((key, value));
    }
    details
}

#[cfg(feature = "polkit")]
pub use system_bus::SystemBusAuthority;

#[cfg(feature = "polkit")]
mod system_bus {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use zbus::blocking::Connection;
    use zbus::zvariant::Value;

    use super::{Answer, Authority, PolkitError, Query};

    const DESTINATION: &str = "org.freedesktop.PolicyKit1";
    const PATH: &str = "/org/freedesktop/PolicyKit1/Authority";
    const INTERFACE: &str = "org.freedesktop.PolicyKit1.Authority";
    /// Far beyond a healthy polkitd's answer, short enough that a stuck one does not hang clients.
    const CALL_TIMEOUT: Duration = Duration::from_secs(10);

    /// polkitd on the system bus, over one shared connection.
    #[derive(Debug, Default)]
    pub struct SystemBusAuthority {
        connection: Mutex<Option<Connection>>,
    }

    impl SystemBusAuthority {
        /// An authority that connects on first use.
        pub fn new() -> Self {
            Self::default()
        }

        fn connection(&self) -> Result<Connection, PolkitError> {
            let mut slot = self
                .connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(connection) = slot.as_ref() {
                return Ok(connection.clone());
            }
            let connection = zbus::blocking::connection::Builder::system()
                .and_then(|b| b.method_timeout(CALL_TIMEOUT).build())
                .map_err(|e| PolkitError::Connect(Box::new(e)))?;
            *slot = Some(connection.clone());
            Ok(connection)
        }

        /// Forgets `broken` so that the next check connects again (unless another caller already
        /// replaced it).
        fn forget(&self, broken: &Connection) {
            let mut slot = self
                .connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slot.as_ref().and_then(|c| c.unique_name()) == broken.unique_name() {
                *slot = None;
            }
        }

        fn call(connection: &Connection, query: &Query) -> zbus::Result<Answer> {
            let subject: HashMap<&str, Value<'_>> = HashMap::from([
                ("pid", Value::U32(query.subject.pid)),
                ("start-time", Value::U64(query.subject.start_time)),
                ("uid", Value::I32(query.subject.uid)),
            ]);
            let details: HashMap<&str, &str> = query
                .details
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            let reply = connection.call_method(
                Some(DESTINATION),
                PATH,
                Some(INTERFACE),
                "CheckAuthorization",
                &(
                    ("unix-process", subject),
                    query.action_id.as_str(),
                    details,
                    query.interaction.flags(),
                    "",
                ),
            )?;
            let (authorized, challenge, details): (bool, bool, HashMap<String, String>) =
                reply.body().deserialize()?;
            let dismissed = details.get("polkit.dismissed").map(String::as_str) == Some("true");
            Ok(match (authorized, dismissed, challenge) {
                (true, _, _) => Answer::Authorized,
                (false, true, _) => Answer::Dismissed,
                (false, false, true) => Answer::Challenge,
                (false, false, false) => Answer::NotAuthorized,
            })
        }
    }

    impl Authority for SystemBusAuthority {
        fn check_authorization(&self, query: &Query) -> Result<Answer, PolkitError> {
            let connection = self.connection()?;
            let result = match Self::call(&connection, query) {
                // The bus went away (dbus-daemon restarted): one more try on a new connection.
                Err(zbus::Error::InputOutput(_)) => {
                    self.forget(&connection);
                    Self::call(&self.connection()?, query)
                }
                other => other,
            };
            result.map_err(|source| {
                if !matches!(source, zbus::Error::MethodError(..)) {
                    self.forget(&connection);
                }
                PolkitError::Call {
                    action_id: query.action_id.clone(),
                    source: Box::new(source),
                }
            })
        }
    }
}

/// The polkit policy registering every `org.libvirt.api.*` action, as libvirt's `genpolkit`
/// makes it: anonymous permissions default to `yes`, all others to `no`.
pub fn policy_file() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE policyconfig PUBLIC \"-//freedesktop//DTD polkit Policy Configuration 1.0//EN\"\n    \
         \"http://www.freedesktop.org/software/polkit/policyconfig-1.dtd\">\n\
         <!-- Generated by acl::polkit::policy_file(); do not edit. -->\n\
         <policyconfig>\n  <vendor>Moat</vendor>\n",
    );
    for object in ObjectType::ALL {
        for name in object.permissions() {
            let permission = Permission::new(object, name).expect("listed by its object type");
            let default = if permission.is_anonymous() {
                "yes"
            } else {
                "no"
            };
            let _ = write!(
                out,
                "  <action id=\"{id}\">\n    <description>{desc}</description>\n    \
                 <message>Permission {permission} requires authorization</message>\n    \
                 <defaults>\n      <allow_any>{default}</allow_any>\n      \
                 <allow_inactive>{default}</allow_inactive>\n      \
                 <allow_active>{default}</allow_active>\n    </defaults>\n  </action>\n",
                id = permission.polkit_action(),
                desc = xml_escape(description(permission)),
            );
        }
    }
    out.push_str("</policyconfig>\n");
    out
}

/// The polkit policy registering libvirt's two connection-level actions ([`UnixAction`]), with
/// libvirt's defaults: monitoring is allowed to anyone, managing needs an administrator's
/// password (kept for a while). Hosts that have libvirt's own `org.libvirt.unix.policy`
/// installed need neither; `examples/polkit/org.libvirt.unix.policy` is this output.
pub fn unix_policy_file() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE policyconfig PUBLIC \"-//freedesktop//DTD polkit Policy Configuration 1.0//EN\"\n    \
         \"http://www.freedesktop.org/software/polkit/policyconfig-1.dtd\">\n\
         <!-- Generated by acl::polkit::unix_policy_file(); do not edit. -->\n\
         <policyconfig>\n  <vendor>Moat</vendor>\n",
    );
    for (action, desc, message, default) in [
        (
            UnixAction::Monitor,
            "Connect read-only to the virtualization daemon",
            "Monitoring virtual machines requires authorization",
            "yes",
        ),
        (
            UnixAction::Manage,
            "Connect read-write to the virtualization daemon",
            "Managing virtual machines requires authorization",
            "auth_admin_keep",
        ),
    ] {
        let _ = write!(
            out,
            "  <action id=\"{id}\">\n    <description>{desc}</description>\n    \
             <message>{message}</message>\n    \
             <defaults>\n      <allow_any>{default}</allow_any>\n      \
             <allow_inactive>{default}</allow_inactive>\n      \
             <allow_active>{default}</allow_active>\n    </defaults>\n  </action>\n",
            id = action.action_id(),
        );
    }
    out.push_str("</policyconfig>\n");
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// libvirt's `@desc` of a permission (`viraccessperm.h`).
pub fn description(permission: Permission) -> &'static str {
    let key = permission.to_string();
    DESCRIPTIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, desc)| desc)
}

const DESCRIPTIONS: &[(&str, &str)] = &[
    ("connect:getattr", "Access connection"),
    ("connect:read", "Read host"),
    ("connect:write", "Write host"),
    ("connect:search_domains", "List domains"),
    ("connect:search_networks", "List networks"),
    ("connect:search_storage_pools", "List storage pools"),
    ("connect:search_node_devices", "List node devices"),
    ("connect:search_interfaces", "List interfaces"),
    ("connect:search_secrets", "List secrets"),
    ("connect:search_nwfilters", "List network filters"),
    (
        "connect:search_nwfilter_bindings",
        "List network filter bindings",
    ),
    ("connect:detect_storage_pools", "Detect storage pools"),
    ("connect:pm_control", "Use host power management"),
    ("connect:interface_transaction", "Interface transactions"),
    ("domain:getattr", "Access domain"),
    ("domain:read", "Read domain"),
    ("domain:write", "Write domain"),
    ("domain:read_secure", "Read secure domain"),
    ("domain:start", "Start domain"),
    ("domain:stop", "Stop domain"),
    ("domain:reset", "Reset domain"),
    ("domain:save", "Save domain"),
    ("domain:delete", "Delete domain"),
    ("domain:migrate", "Migrate domain"),
    ("domain:checkpoint", "Checkpoint domain"),
    ("domain:snapshot", "Snapshot domain"),
    ("domain:suspend", "Suspend domain"),
    ("domain:hibernate", "Hibernate domain"),
    ("domain:core_dump", "Dump domain"),
    ("domain:pm_control", "Use domain power management"),
    ("domain:init_control", "Domain init control"),
    ("domain:inject_nmi", "Inject domain NMI"),
    ("domain:send_input", "Send domain input"),
    ("domain:send_signal", "Send domain signal"),
    ("domain:fs_trim", "Trim domain filesystems"),
    ("domain:fs_freeze", "Freeze and thaw domain filesystems"),
    ("domain:block_read", "Read domain block"),
    ("domain:block_write", "Write domain block"),
    ("domain:mem_read", "Read domain memory"),
    ("domain:open_graphics", "Open domain graphics"),
    ("domain:open_device", "Open domain device"),
    ("domain:screenshot", "Take domain screenshot"),
    ("domain:open_namespace", "Open domain namespace"),
    ("domain:set_time", "Write domain time"),
    (
        "domain:set_password",
        "Set password of the domain's account",
    ),
    ("interface:getattr", "Access interface"),
    ("interface:read", "Read interface"),
    ("interface:write", "Write interface"),
    ("interface:save", "Save interface"),
    ("interface:delete", "Delete interface"),
    ("interface:start", "Start interface"),
    ("interface:stop", "Stop interface"),
    ("network:getattr", "Access network"),
    ("network:read", "Read network"),
    ("network:write", "Write network"),
    ("network:save", "Save network"),
    ("network:delete", "Delete network"),
    ("network:start", "Start network"),
    ("network:stop", "Stop network"),
    ("network:search_ports", "List network ports"),
    ("network_port:getattr", "Access network port"),
    ("network_port:read", "Read network port"),
    ("network_port:write", "Read network port"),
    ("network_port:create", "Create network port"),
    ("network_port:delete", "Delete network port"),
    ("node_device:getattr", "Access node device"),
    ("node_device:read", "Read node device"),
    ("node_device:write", "Write node device"),
    ("node_device:start", "Start node device"),
    ("node_device:stop", "Stop node device"),
    ("node_device:detach", "Detach node device"),
    ("node_device:delete", "Delete node device"),
    ("node_device:save", "Save node device"),
    ("nwfilter:getattr", "Access network filter"),
    ("nwfilter:read", "Read network filter"),
    ("nwfilter:write", "Write network filter"),
    ("nwfilter:save", "Save network filter"),
    ("nwfilter:delete", "Delete network filter"),
    ("nwfilter_binding:getattr", "Access network filter"),
    ("nwfilter_binding:read", "Read network filter binding"),
    ("nwfilter_binding:create", "Create network filter binding"),
    ("nwfilter_binding:delete", "Delete network filter binding"),
    ("secret:getattr", "Access secret"),
    ("secret:read", "Read secret"),
    ("secret:write", "Write secret"),
    ("secret:read_secure", "Read secure secret"),
    ("secret:save", "Save secret"),
    ("secret:delete", "Delete secret"),
    ("storage_pool:getattr", "Access storage pool"),
    ("storage_pool:read", "Read storage pool"),
    ("storage_pool:write", "Write storage pool"),
    ("storage_pool:save", "Save storage pool"),
    ("storage_pool:delete", "Delete storage pool"),
    ("storage_pool:start", "Start storage pool"),
    ("storage_pool:stop", "Stop storage pool"),
    ("storage_pool:refresh", "Refresh storage pool"),
    (
        "storage_pool:search_storage_vols",
        "List storage pool volumes",
    ),
    ("storage_pool:format", "Format storage pool"),
    ("storage_vol:getattr", "Access storage volume"),
    ("storage_vol:read", "Read storage volume"),
    ("storage_vol:create", "Create storage volume"),
    ("storage_vol:delete", "Delete storage volume"),
    ("storage_vol:format", "Format storage volume"),
    ("storage_vol:resize", "Resize storage volume"),
    ("storage_vol:data_read", "Read storage volume data"),
    ("storage_vol:data_write", "Write storage volume data"),
];

/// The recording fake of [`Authority`], for tests (of this crate and of the daemon): it records
/// every query and answers from a script, in order. An exhausted script answers an error.
#[derive(Debug, Default, Clone)]
pub struct ScriptedAuthority {
    queries: std::sync::Arc<std::sync::Mutex<Vec<Query>>>,
    answers: std::sync::Arc<std::sync::Mutex<Vec<Result<Answer, String>>>>,
}

impl ScriptedAuthority {
    /// A fake that gives `answers` in order (`Err(text)` becomes [`PolkitError::Other`]).
    pub fn answering(answers: Vec<Result<Answer, String>>) -> Self {
        let fake = Self::default();
        *lock(&fake.answers) = answers.into_iter().rev().collect();
        fake
    }

    /// The queries asked so far.
    pub fn queries(&self) -> Vec<Query> {
        lock(&self.queries).clone()
    }
}

impl Authority for ScriptedAuthority {
    fn check_authorization(&self, query: &Query) -> Result<Answer, PolkitError> {
        lock(&self.queries).push(query.clone());
        lock(&self.answers)
            .pop()
            .unwrap_or_else(|| Err("no scripted answer left".to_owned()))
            .map_err(PolkitError::Other)
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn local_client() -> Subject {
        Subject {
            uid: Some(1000),
            gid: Some(1000),
            user: Some("alice".into()),
            pid: Some(4242),
            start_time: Some(123_456),
            ..Subject::default()
        }
    }

    #[test]
    fn a_check_asks_for_the_action_with_libvirts_details() {
        let fake = ScriptedAuthority::answering(vec![Ok(Answer::Authorized)]);
        let driver = PolkitDriver::new(Box::new(fake.clone()), "QEMU");
        let uuid = uuid::Uuid::parse_str("10000000-0000-4000-8000-000000000001").unwrap();
        let perm: Permission = "domain:read_secure".parse().unwrap();
        let decision = driver.check(&local_client(), &Target::domain("demo", uuid), perm);
        assert_eq!(decision, Decision::Allow);
        let queries = fake.queries();
        assert_eq!(
            queries[..],
            [Query {
                subject: UnixProcess {
                    pid: 4242,
                    start_time: 123_456,
                    uid: 1000
                },
                action_id: "org.libvirt.api.domain.read-secure".into(),
                details: vec![
                    ("connect_driver", "QEMU".into()),
                    ("domain_name", "demo".into()),
                    ("domain_uuid", "10000000-0000-4000-8000-000000000001".into()),
                ],
                interaction: Interaction::None,
            }]
        );
    }

    #[test]
    fn volumes_name_their_pool() {
        let target = Target {
            object: ObjectType::StorageVol,
            name: "disk.qcow2",
            uuid: None,
            parent: Some("default"),
        };
        assert_eq!(
            details("QEMU", &target),
            [
                ("connect_driver", "QEMU".to_owned()),
                ("pool_name", "default".to_owned()),
                ("vol_name", "disk.qcow2".to_owned()),
            ]
        );
        assert_eq!(
            details("QEMU", &Target::connect("QEMU")),
            [("connect_driver", "QEMU".to_owned())]
        );
    }

    #[test]
    fn denials_challenges_and_errors_all_refuse() {
        let fake = ScriptedAuthority::answering(vec![
            Ok(Answer::NotAuthorized),
            Ok(Answer::Challenge),
            Ok(Answer::Dismissed),
            Err("bus down".into()),
        ]);
        let driver = PolkitDriver::new(Box::new(fake), "QEMU");
        let target = Target::connect("QEMU");
        let perm: Permission = "connect:getattr".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(driver.check(&local_client(), &target, perm), Decision::Deny);
        }
        assert_eq!(
            driver.check(&local_client(), &target, perm),
            Decision::Error("bus down".into())
        );
    }

    #[cfg(feature = "polkit")]
    #[test]
    fn a_failed_call_names_the_action_and_the_bus_error() {
        let err = PolkitError::Call {
            action_id: "org.libvirt.api.connect.getattr".into(),
            source: Box::new(zbus::Error::Failure("polkitd is gone".into())),
        };
        assert_eq!(
            error_chain(&err),
            "CheckAuthorization of 'org.libvirt.api.connect.getattr' failed: polkitd is gone"
        );
    }

    #[test]
    fn a_client_that_is_not_a_local_process_is_denied_without_asking() {
        let fake = ScriptedAuthority::answering(vec![]);
        let driver = PolkitDriver::new(Box::new(fake.clone()), "QEMU");
        let perm: Permission = "connect:getattr".parse().unwrap();
        let remote = Subject {
            x509_dn: Some("CN=client".into()),
            ..Subject::default()
        };
        let no_start_time = Subject {
            start_time: None,
            ..local_client()
        };
        for subject in [remote, no_start_time] {
            assert_eq!(
                driver.check(&subject, &Target::connect("QEMU"), perm),
                Decision::Deny
            );
        }
        assert!(fake.queries().is_empty());
    }

    #[test]
    fn every_permission_has_a_description() {
        assert_eq!(DESCRIPTIONS.len(), 106);
        for object in ObjectType::ALL {
            for name in object.permissions() {
                let perm = Permission::new(object, name).unwrap();
                assert!(!description(perm).is_empty(), "{perm}");
            }
        }
    }

    #[test]
    fn connection_actions_allow_interaction_and_carry_no_details() {
        let process = UnixProcess {
            pid: 7,
            start_time: 99,
            uid: 1000,
        };
        let query = UnixAction::Monitor.query(process);
        assert_eq!(query.action_id, "org.libvirt.unix.monitor");
        assert!(query.details.is_empty());
        assert_eq!(query.interaction.flags(), 1);
        assert_eq!(
            UnixAction::Manage.query(process).action_id,
            "org.libvirt.unix.manage"
        );
        // One authority behind an Arc serves both the driver and connection authentication.
        let fake = Arc::new(ScriptedAuthority::answering(vec![Ok(Answer::Authorized)]));
        let shared: Arc<dyn Authority> = fake.clone();
        assert_eq!(
            shared.check_authorization(&query).unwrap(),
            Answer::Authorized
        );
        assert_eq!(fake.queries()[..], [query]);
    }

    /// The shipped connection policy is what [`unix_policy_file`] generates; regenerate it with
    /// `MOAT_BLESS=1 cargo test -p acl shipped_unix_policy`.
    #[test]
    fn shipped_unix_policy_matches_the_generator() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/polkit/org.libvirt.unix.policy"
        );
        let generated = unix_policy_file();
        if std::env::var_os("MOAT_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let shipped = std::fs::read_to_string(path).unwrap();
        assert!(
            shipped == generated,
            "{path} is stale: run MOAT_BLESS=1 cargo test -p acl shipped_unix_policy"
        );
        assert!(generated.contains("<action id=\"org.libvirt.unix.manage\">"));
        assert!(generated.contains("<allow_any>auth_admin_keep</allow_any>"));
    }

    /// The shipped policy file is what the permission table generates. After changing the table,
    /// regenerate it with `MOAT_BLESS=1 cargo test -p acl shipped_policy`.
    #[test]
    fn shipped_policy_matches_the_permission_table() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/polkit/org.libvirt.api.policy"
        );
        let generated = policy_file();
        if std::env::var_os("MOAT_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let shipped = std::fs::read_to_string(path).unwrap();
        assert!(
            shipped == generated,
            "{path} is stale: run MOAT_BLESS=1 cargo test -p acl shipped_policy"
        );
        assert_eq!(generated.matches("<action id=").count(), 106);
        assert!(
            generated.contains("<action id=\"org.libvirt.api.storage-pool.search-storage-vols\">")
        );
    }
}
