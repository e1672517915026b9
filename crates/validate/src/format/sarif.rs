//! SARIF 2.1.0 for code-scanning tools: one run, a rule per check, a result per finding.
//!
//! Mapping (SARIF §3.27.9–10: a `kind` other than `fail` requires `level` `none`):
//!
//! | moat status     | `kind`          | `level`   |
//! |-----------------|-----------------|-----------|
//! | `fail`          | `fail`          | `error`   |
//! | `warn`          | `fail`          | `warning` |
//! | `info`          | `informational` | `none`    |
//! | `error`         | `review`        | `none`, plus a tool execution notification |
//! | `pass`          | `pass`          | `none`, one result per passing check |
//! | `notapplicable` | `notApplicable` | `none`, one result per such check |
//!
//! Files are located relative to the `ROOT` base id (`originalUriBaseIds`), which is
//! `file:///` on the live host and the `--root` directory offline; processes, units and
//! sockets are logical locations. Each finding has a partial fingerprint made of the check id,
//! the place and the message, so that a code-scanning service can follow it across runs.

use serde_json::{json, Value};

use crate::check::{CheckResult, Finding, Location, Status};
use crate::Report;

/// The schema URI written into the document.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

fn rule_name(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Percent-encodes what may not stand in a URI path.
fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn artifact(path: &str) -> Value {
    match path.strip_prefix('/') {
        Some(relative) => json!({"uri": uri_path(relative), "uriBaseId": "ROOT"}),
        None => json!({"uri": uri_path(path)}),
    }
}

fn physical(path: &str, line: Option<u32>) -> Value {
    let mut location = json!({"artifactLocation": artifact(path)});
    if let Some(line) = line {
        location["region"] = json!({"startLine": line});
    }
    json!({"physicalLocation": location})
}

fn logical(name: String, kind: &str) -> Value {
    json!({"logicalLocations": [{"name": name, "kind": kind}]})
}

fn location(location: &Location) -> Value {
    match location {
        Location::File { path, line } => physical(path, *line),
        Location::Device { path } => physical(path, None),
        Location::Guest { name, path } => {
            let mut value = physical(path, None);
            value["logicalLocations"] = json!([{"name": name, "kind": "guest"}]);
            value
        }
        Location::Unit {
            name,
            path: Some(path),
        } => {
            let mut value = physical(path, None);
            value["logicalLocations"] = json!([{"name": name, "kind": "unit"}]);
            value
        }
        Location::Unit { name, path: None } => logical(name.clone(), "unit"),
        Location::Process { pid, name } => logical(format!("{name} (pid {pid})"), "process"),
        Location::Socket { protocol, address } => {
            logical(format!("{protocol} {address}"), "socket")
        }
    }
}

fn kind_level(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Fail => ("fail", "error"),
        Status::Warn => ("fail", "warning"),
        Status::Info => ("informational", "none"),
        Status::Error => ("review", "none"),
        Status::Pass => ("pass", "none"),
        Status::NotApplicable => ("notApplicable", "none"),
    }
}

fn sarif_result(index: usize, check: &CheckResult, finding: &Finding) -> Value {
    let (kind, level) = kind_level(finding.status);
    let subject = finding
        .location
        .as_ref()
        .map_or(String::new(), ToString::to_string);
    let mut result = json!({
        "ruleId": check.id,
        "ruleIndex": index,
        "kind": kind,
        "level": level,
        "message": {"text": finding.message},
        "partialFingerprints": {
            "moatFinding/v1": format!("{}|{}|{}", check.id, subject, finding.message)
        },
        "properties": {"status": finding.status.as_str()}
    });
    if let Some(place) = &finding.location {
        result["locations"] = json!([location(place)]);
    }
    result
}

/// The report as a SARIF 2.1.0 log.
pub fn to_value(report: &Report) -> Value {
    let rules: Vec<Value> = report
        .results
        .iter()
        .map(|check| {
            json!({
                "id": check.id,
                "name": rule_name(check.id),
                "shortDescription": {"text": check.title},
                "fullDescription": {"text": check.rationale},
                "help": {"text": check.remediation},
                "defaultConfiguration": {"level": "error"},
                "properties": {
                    "guide": check.guide,
                    "tags": ["security", "virtualization", format!("vsg-{}", check.guide)]
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for (index, check) in report.results.iter().enumerate() {
        let reported: Vec<&Finding> = check
            .findings
            .iter()
            .filter(|finding| {
                matches!(
                    finding.status,
                    Status::Fail | Status::Warn | Status::Info | Status::Error
                )
            })
            .collect();
        for finding in &reported {
            results.push(sarif_result(index, check, finding));
            if finding.status == Status::Error {
                notifications.push(json!({
                    "level": "error",
                    "message": {"text": finding.message},
                    "associatedRule": {"id": check.id, "index": index}
                }));
            }
        }
        if reported.is_empty() {
            let summary = check
                .findings
                .iter()
                .map(|finding| finding.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let finding = Finding::new(check.status, summary);
            results.push(sarif_result(index, check, &finding));
        }
    }
    let base = if report.root.ends_with('/') {
        report.root.clone()
    } else {
        format!("{}/", report.root)
    };
    let base_uri = match base.strip_prefix('/') {
        Some(rest) => format!("file:///{}", uri_path(rest)),
        None => uri_path(&base),
    };
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "moat",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications
            }],
            "originalUriBaseIds": {"ROOT": {"uri": base_uri}},
            "results": results,
            "properties": {
                "root": report.root,
                "mode": report.mode.as_str(),
                "summary": report.summary(),
                "skipped": report.skipped
            }
        }]
    })
}

/// The SARIF log as pretty-printed JSON with a final newline.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(&to_value(report))
        .unwrap_or_else(|err| format!("{{\"error\": {:?}}}", err.to_string()));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(rule_name("svirt-unique-labels"), "SvirtUniqueLabels");
        assert_eq!(uri_path("/var/lib/a b.qcow2"), "/var/lib/a%20b.qcow2");
        assert_eq!(
            artifact("/etc/fstab"),
            json!({"uri": "etc/fstab", "uriBaseId": "ROOT"})
        );
        assert_eq!(artifact("guest.xml"), json!({"uri": "guest.xml"}));
    }

    #[test]
    fn statuses_map_to_kind_and_level_per_the_spec() {
        for status in Status::ALL {
            let (kind, level) = kind_level(status);
            if kind != "fail" {
                assert_eq!(level, "none", "{status}");
            }
        }
    }
}
