//! The threat table's records: each threat test says what it tried, what DESIGN.md expects and
//! what it saw. With `MOAT_THREAT_REPORT` set to a file, one JSON line per attempt is appended
//! to it (O_APPEND: tests in parallel, in several processes, do not mix their lines);
//! `scripts/threats.py` prints the table from it. Without the variable nothing is written.

use std::io::Write;

/// Records one attempt of threat `threat` (`"T1"` … `"T13"`).
pub fn record(threat: &str, attack: &str, expected: &str, observed: &str, passed: bool) {
    let Some(path) = std::env::var_os("MOAT_THREAT_REPORT") else {
        return;
    };
    let line = serde_json::json!({
        "threat": threat,
        "attack": attack,
        "expected": expected,
        "observed": observed,
        "passed": passed,
    });
    let mut text = line.to_string();
    text.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open MOAT_THREAT_REPORT {path:?}: {e}"));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write MOAT_THREAT_REPORT {path:?}: {e}"));
}
