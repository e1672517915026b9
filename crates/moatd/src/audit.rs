//! The audit log: one JSON object per line for every state-changing call and security decision.
//!
//! It is separate from the debug log (tracing) so that it can be kept, shipped and parsed on its
//! own. Each line has `time` (UTC, RFC 3339 with milliseconds), `client` (the caller's identity),
//! `procedure`, `object` (what was acted on) and `result` (`ok` or `error`, with `error` text).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::identity::PeerIdentity;

/// Why the audit log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open audit log {path}")]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// What a call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// It succeeded.
    Ok,
    /// It failed with this message.
    Error(&'a str),
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<File>,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (creating with mode 0600) the log at `path` for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| AuditError {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            file: Mutex::new(file),
            path: path.to_owned(),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. A failed write is reported to the debug log; it never fails the call
    /// it records, which has already happened.
    pub fn record(&self, client: &PeerIdentity, procedure: &str, object: Value, outcome: Outcome) {
        let mut line = json!({
            "time": rfc3339_now(),
            "client": client.to_json(),
            "procedure": procedure,
            "object": object,
        });
        match outcome {
            Outcome::Ok => line["result"] = "ok".into(),
            Outcome::Error(message) => {
                line["result"] = "error".into();
                line["error"] = message.into();
            }
        }
        let mut text = line.to_string();
        text.push('\n');
        let mut file = match self.file.lock() {
            Ok(file) => file,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(err) = file.write_all(text.as_bytes()) {
            tracing::error!(?err, path = %self.path.display(), "audit log write failed");
        }
    }
}

impl AuditLog {
    /// Appends the record of a call that returned `result`.
    pub fn record_result<T, E: std::fmt::Display>(
        &self,
        client: &PeerIdentity,
        procedure: &str,
        object: Value,
        result: &Result<T, E>,
    ) {
        match result {
            Ok(_) => self.record(client, procedure, object, Outcome::Ok),
            Err(err) => self.record(client, procedure, object, Outcome::Error(&err.to_string())),
        }
    }
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_millis())
}

fn rfc3339(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_866_096, 123), "2026-11-28T11:41:36.123Z");
    }

    #[test]
    fn records_are_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("audit.log")).unwrap();
        let who = PeerIdentity::for_tests(1000, 1000, 42);
        log.record(
            &who,
            "DOMAIN_DEFINE_XML",
            json!({"domain": "a"}),
            Outcome::Ok,
        );
        log.record(
            &who,
            "DOMAIN_UNDEFINE",
            json!({"domain": "b"}),
            Outcome::Error("no"),
        );
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["result"], "ok");
        assert_eq!(lines[0]["client"]["uid"], 1000);
        assert_eq!(lines[1]["error"], "no");
        assert_eq!(lines[1]["object"]["domain"], "b");
    }
}
