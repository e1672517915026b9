//! JSON for scripts: one document per run, whatever the exit status.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "tool": {"name": "moat", "version": "0.1.0"},
//!   "root": "/", "mode": "live",
//!   "results": [{"id": "fstab-uuid-not-label", "title": "…", "guide": "2.2", "status": "fail",
//!                "findings": [{"status": "fail", "message": "…",
//!                              "location": {"kind": "file", "path": "/etc/fstab", "line": 3}}],
//!                "rationale": "…", "remediation": "…"}],
//!   "skipped": [],
//!   "summary": {"total": 15, "pass": 6, "fail": 3, "warn": 2, "info": 1, "notapplicable": 3, "error": 0}
//! }
//! ```
//!
//! The schema is `crates/validate/schema/report.schema.json` ([`SCHEMA`]); `format_version`
//! changes only when a field is removed or changes meaning.

use serde_json::json;

use crate::Report;

/// The document's format version.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON schema of the document.
pub const SCHEMA: &str = include_str!("../../schema/report.schema.json");

/// The report as a JSON value.
pub fn to_value(report: &Report) -> serde_json::Value {
    json!({
        "format_version": FORMAT_VERSION,
        "tool": {"name": "moat", "version": env!("CARGO_PKG_VERSION")},
        "root": report.root,
        "mode": report.mode.as_str(),
        "results": report.results,
        "skipped": report.skipped,
        "summary": report.summary(),
    })
}

/// The report as a pretty-printed JSON document with a final newline.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(&to_value(report))
        .unwrap_or_else(|err| format!("{{\"error\": {:?}}}", err.to_string()));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check ids are an interface: the schema's list must be the table's.
    #[test]
    fn schema_lists_exactly_the_check_ids() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let ids: Vec<&str> = schema["definitions"]["check_id"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap())
            .collect();
        let table: Vec<&str> = crate::checks::ALL
            .iter()
            .map(|check| check.info.id)
            .collect();
        assert_eq!(ids, table);
    }
}
