//! The system under check: a [`HostRoot`], whether its kernel is live, the settings that tune
//! the checks, the guests defined on it and the one thing no file can stand in for, the
//! output of firewall commands ([`Commands`]).

use std::fmt;
use std::io;
use std::process::{Command, Stdio};

use crate::guests::Guests;
use crate::root::HostRoot;

/// Whether the root's kernel state (`/proc`, `/sys`, `/dev`, loaded firewall rules) is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The running system (or a test's fixture of one): live-only checks run.
    Live,
    /// A mounted root checked offline: live-only checks report `notapplicable`.
    Offline,
}

impl Mode {
    /// `live` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Offline => "offline",
        }
    }
}

/// A listener that `network-listeners` accepts on any address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedPort {
    /// `tcp` or `udp` (covers IPv4 and IPv6).
    pub protocol: Protocol,
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl AllowedPort {
    /// One TCP port.
    pub const fn tcp(port: u16) -> Self {
        AllowedPort {
            protocol: Protocol::Tcp,
            first: port,
            last: port,
        }
    }

    /// Whether this entry covers `port` over `protocol`.
    pub fn covers(&self, protocol: Protocol, port: u16) -> bool {
        self.protocol == protocol && (self.first..=self.last).contains(&port)
    }
}

impl std::str::FromStr for AllowedPort {
    type Err = String;

    /// `22`, `22/tcp`, `5900-5999/tcp`, `53/udp`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (ports, protocol) = match text.split_once('/') {
            Some((ports, "tcp")) => (ports, Protocol::Tcp),
            Some((ports, "udp")) => (ports, Protocol::Udp),
            Some((_, other)) => return Err(format!("unknown protocol {other:?} (tcp or udp)")),
            None => (text, Protocol::Tcp),
        };
        let port = |text: &str| {
            text.parse::<u16>()
                .map_err(|_| format!("bad port {text:?} (0-65535)"))
        };
        let (first, last) = match ports.split_once('-') {
            Some((first, last)) => (port(first)?, port(last)?),
            None => (port(ports)?, port(ports)?),
        };
        if last < first {
            return Err(format!("empty port range {ports:?}"));
        }
        Ok(AllowedPort {
            protocol,
            first,
            last,
        })
    }
}

/// What the checks accept beyond their built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Moat's state directory (host path), whose `domains/` holds guest definitions and whose
    /// `images/` is an image directory.
    pub state_dir: String,
    /// Image directories besides `/var/lib/libvirt/images` and `<state_dir>/images`.
    pub image_dirs: Vec<String>,
    /// Listeners accepted beyond loopback, besides the defaults (ssh, libvirt TLS, consoles).
    pub allowed_ports: Vec<AllowedPort>,
    /// Accounts accepted as platform management besides root and the admin groups.
    pub allowed_users: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            state_dir: "/var/lib/moat".to_owned(),
            image_dirs: Vec::new(),
            allowed_ports: Vec::new(),
            allowed_users: Vec::new(),
        }
    }
}

/// A failure to run a probe command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The program could not be started.
    #[error("cannot run {program}")]
    Spawn {
        /// Program name.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The program ran and failed.
    #[error("{program} exited with {status}: {stderr}")]
    Failed {
        /// Program name.
        program: String,
        /// Its exit status.
        status: String,
        /// The first line of its standard error.
        stderr: String,
    },
}

/// Runs read-only commands whose output has no file to stand in for it (the firewall rules
/// loaded in the kernel).
pub trait Commands: fmt::Debug {
    /// The standard output of `program args…`, or `None` when the program is not installed.
    fn output(&self, program: &str, args: &[&str]) -> Result<Option<String>, CommandError>;
}

/// Runs the real programs found in `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemCommands;

impl Commands for SystemCommands {
    fn output(&self, program: &str, args: &[&str]) -> Result<Option<String>, CommandError> {
        let output = match Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
        {
            Ok(output) => output,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CommandError::Spawn {
                    program: program.to_owned(),
                    source,
                })
            }
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(CommandError::Failed {
                program: program.to_owned(),
                status: output.status.to_string(),
                stderr: stderr.lines().next().unwrap_or("").to_owned(),
            });
        }
        Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()))
    }
}

/// A scripted [`Commands`] for tests: answers from a table and records what was asked.
#[derive(Debug, Default)]
pub struct ScriptedCommands {
    answers: Vec<(String, Result<Option<String>, String>)>,
    asked: std::sync::Mutex<Vec<String>>,
}

impl ScriptedCommands {
    /// No program is installed.
    pub fn none() -> Self {
        ScriptedCommands::default()
    }

    /// `program` (matched by name, arguments ignored) prints `stdout`.
    pub fn with_output(mut self, program: &str, stdout: &str) -> Self {
        self.answers
            .push((program.to_owned(), Ok(Some(stdout.to_owned()))));
        self
    }

    /// `program` fails with `stderr`.
    pub fn with_failure(mut self, program: &str, stderr: &str) -> Self {
        self.answers
            .push((program.to_owned(), Err(stderr.to_owned())));
        self
    }

    /// The command lines asked for so far.
    pub fn asked(&self) -> Vec<String> {
        self.asked
            .lock()
            .map(|asked| asked.clone())
            .unwrap_or_default()
    }
}

impl Commands for ScriptedCommands {
    fn output(&self, program: &str, args: &[&str]) -> Result<Option<String>, CommandError> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(
                std::iter::once(program)
                    .chain(args.iter().copied())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        match self.answers.iter().find(|(name, _)| name == program) {
            None => Ok(None),
            Some((_, Ok(stdout))) => Ok(stdout.clone()),
            Some((_, Err(stderr))) => Err(CommandError::Failed {
                program: program.to_owned(),
                status: "exit status: 1".to_owned(),
                stderr: stderr.clone(),
            }),
        }
    }
}

/// Everything a check may look at.
#[derive(Debug)]
pub struct Host<'a> {
    /// Where host paths are read.
    pub root: HostRoot,
    /// Whether kernel state under the root is live.
    pub mode: Mode,
    /// Tuning.
    pub settings: &'a Settings,
    /// Guest definitions found (or given).
    pub guests: Guests,
    /// Probe commands (live mode only).
    pub commands: &'a dyn Commands,
}

impl Host<'_> {
    /// Whether live kernel state can be read.
    pub fn is_live(&self) -> bool {
        self.mode == Mode::Live
    }

    /// The image directories the checks accept, as host paths.
    pub fn image_dirs(&self) -> Vec<String> {
        let mut dirs = vec![
            "/var/lib/libvirt/images".to_owned(),
            format!("{}/images", self.settings.state_dir.trim_end_matches('/')),
        ];
        dirs.extend(self.settings.image_dirs.iter().cloned());
        dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_ports_parse_ranges_and_protocols() {
        let port: AllowedPort = "5900-5999/tcp".parse().unwrap();
        assert!(port.covers(Protocol::Tcp, 5901));
        assert!(!port.covers(Protocol::Udp, 5901));
        let dns: AllowedPort = "53/udp".parse().unwrap();
        assert!(dns.covers(Protocol::Udp, 53));
        assert_eq!("22".parse::<AllowedPort>().unwrap(), AllowedPort::tcp(22));
        assert_eq!(
            "70000".parse::<AllowedPort>().unwrap_err(),
            "bad port \"70000\" (0-65535)"
        );
        assert_eq!(
            "22/sctp".parse::<AllowedPort>().unwrap_err(),
            "unknown protocol \"sctp\" (tcp or udp)"
        );
        assert_eq!(
            "30-20".parse::<AllowedPort>().unwrap_err(),
            "empty port range \"30-20\""
        );
    }

    #[test]
    fn scripted_commands_answer_and_record() {
        let commands = ScriptedCommands::none()
            .with_output("nft", "table inet filter {}")
            .with_failure("iptables-save", "permission denied");
        assert_eq!(commands.output("ip6tables-save", &[]).unwrap(), None);
        assert!(commands
            .output("nft", &["list", "ruleset"])
            .unwrap()
            .is_some());
        let err = commands.output("iptables-save", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "iptables-save exited with exit status: 1: permission denied"
        );
        assert_eq!(
            commands.asked(),
            ["ip6tables-save", "nft list ruleset", "iptables-save"]
        );
    }
}
