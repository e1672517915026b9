//! What a check is and what it reports: [`CheckInfo`], [`Status`], [`Finding`], [`Location`]
//! and [`CheckResult`].
//!
//! A check returns findings, each with its own status and, where there is one, the place that
//! proves it (a file and line, a process, a unit, a guest). The check's status is the worst of
//! its findings, in the order `error > fail > warn > info > pass > notapplicable`, so a check that
//! found one failing fstab line and several good ones fails, and one whose live part does not
//! apply offline but whose configuration part passed passes.

use std::fmt;

use serde::Serialize;

/// The outcome of a check or of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// What the guide asks for holds.
    Pass,
    /// The guide's recommendation is broken.
    Fail,
    /// Something is likely wrong or risky, or only partly as the guide asks.
    Warn,
    /// Worth knowing, not a finding.
    Info,
    /// The check does not apply here (offline root for a live-only check, no guests defined).
    #[serde(rename = "notapplicable")]
    NotApplicable,
    /// The check could not be carried out (an unreadable file, a malformed definition).
    Error,
}

impl Status {
    /// Every status, in the order the summary lists them.
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::Info,
        Status::NotApplicable,
        Status::Error,
    ];

    /// The lowercase name used in JSON and SARIF.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Info => "info",
            Status::NotApplicable => "notapplicable",
            Status::Error => "error",
        }
    }

    /// How bad the status is, for taking the worst of several.
    pub fn severity(self) -> u8 {
        match self {
            Status::NotApplicable => 0,
            Status::Pass => 1,
            Status::Info => 2,
            Status::Warn => 3,
            Status::Fail => 4,
            Status::Error => 5,
        }
    }

    /// The worst status among `statuses`; `NotApplicable` for none.
    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses
            .into_iter()
            .max_by_key(|status| status.severity())
            .unwrap_or(Status::NotApplicable)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed description of a check: its stable id, the guide section it comes from, the
/// guide's reason and the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// Stable id (`selinux-enforcing`); an interface, never renamed.
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// Section of the Virtualization Security Guide (`2.2`), or `-` for none.
    pub guide: &'static str,
    /// Why the guide asks for it.
    pub rationale: &'static str,
    /// What to do about a finding.
    pub remediation: &'static str,
    /// Whether the check reads live kernel state only (and so does not apply to `--root`).
    pub live_only: bool,
}

/// Where a finding was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// A file on the host (host path), with the 1-based line where that applies.
    File {
        /// Host path.
        path: String,
        /// Line, from 1.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
    },
    /// A running process.
    Process {
        /// Process id.
        pid: u32,
        /// Its command name.
        name: String,
    },
    /// A systemd unit.
    Unit {
        /// Unit name (`telnet.socket`).
        name: String,
        /// The file that enables it, where one does.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// A guest definition.
    Guest {
        /// Guest name.
        name: String,
        /// The definition's file (host path, or as given with `--domain-xml`).
        path: String,
    },
    /// A network socket.
    Socket {
        /// `tcp`, `tcp6`, `udp` or `udp6`.
        protocol: String,
        /// Local address and port.
        address: String,
    },
    /// A device node or other host path that is not read as a file.
    Device {
        /// Host path.
        path: String,
    },
}

impl Location {
    /// A file location without a line.
    pub fn file(path: impl Into<String>) -> Self {
        Location::File {
            path: path.into(),
            line: None,
        }
    }

    /// A file location at a 1-based line.
    pub fn line(path: impl Into<String>, line: usize) -> Self {
        Location::File {
            path: path.into(),
            line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line: None } => write!(f, "{path}"),
            Location::File {
                path,
                line: Some(line),
            } => write!(f, "{path}:{line}"),
            Location::Process { pid, name } => write!(f, "process {pid} ({name})"),
            Location::Unit { name, path: None } => write!(f, "unit {name}"),
            Location::Unit {
                name,
                path: Some(path),
            } => write!(f, "unit {name} ({path})"),
            Location::Guest { name, path } => write!(f, "guest {name} ({path})"),
            Location::Socket { protocol, address } => write!(f, "{protocol} {address}"),
            Location::Device { path } => write!(f, "{path}"),
        }
    }
}

/// One observation of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Its status.
    pub status: Status,
    /// What was seen, in one sentence without a trailing period.
    pub message: String,
    /// Where, when there is a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Finding {
    /// A finding with no location.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Finding {
            status,
            message: message.into(),
            location: None,
        }
    }

    /// A finding at `location`.
    pub fn at(status: Status, message: impl Into<String>, location: Location) -> Self {
        Finding {
            status,
            message: message.into(),
            location: Some(location),
        }
    }

    /// A finding for a check that could not read what it needed.
    pub fn error(err: &dyn std::error::Error) -> Self {
        Finding::new(Status::Error, error_chain(err))
    }
}

/// `err` and its sources joined with `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Stable id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Guide section.
    pub guide: &'static str,
    /// The worst status of the findings.
    pub status: Status,
    /// What was seen.
    pub findings: Vec<Finding>,
    /// Why the guide asks for it.
    pub rationale: &'static str,
    /// How to fix a finding.
    pub remediation: &'static str,
}

impl CheckResult {
    /// Builds the result of `info` from its findings.
    pub fn new(info: &CheckInfo, findings: Vec<Finding>) -> Self {
        CheckResult {
            id: info.id,
            title: info.title,
            guide: info.guide,
            status: Status::worst(findings.iter().map(|finding| finding.status)),
            findings,
            rationale: info.rationale,
            remediation: info.remediation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_orders_error_over_fail_and_pass_over_notapplicable() {
        assert_eq!(Status::worst([]), Status::NotApplicable);
        assert_eq!(
            Status::worst([Status::NotApplicable, Status::Pass]),
            Status::Pass
        );
        assert_eq!(
            Status::worst([Status::Warn, Status::Fail, Status::Info]),
            Status::Fail
        );
        assert_eq!(Status::worst([Status::Fail, Status::Error]), Status::Error);
    }

    #[test]
    fn statuses_serialise_in_lowercase() {
        let names: Vec<String> = Status::ALL
            .iter()
            .map(|status| serde_json::to_string(status).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"pass\"",
                "\"fail\"",
                "\"warn\"",
                "\"info\"",
                "\"notapplicable\"",
                "\"error\""
            ]
        );
    }
}
