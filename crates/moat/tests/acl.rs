//! `moat acl check` end to end: the built binary against a rules file.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

use std::process::Command;

const RULES: &str = r#"
[roles]
viewer = ["connect:getattr", "domain:getattr", "domain:read"]

[[grant]]
comment = "alice sees the web guests"
users = ["alice"]
role = "viewer"
domains = ["web-*"]

[[deny]]
comment = "but not the secret one"
users = ["alice"]
permissions = ["domain:read"]
domains = ["web-secret"]
"#;

fn check(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moat"))
        .args(["acl", "check", "--rules"])
        .arg(&rules)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decisions_are_explained() {
    let base = ["--user", "alice", "--uid", "5000", "--group", "staff"];
    let (code, out, _) = check(&[&base[..], &["domain:read", "--domain", "web-1"]].concat());
    assert_eq!(code, 0);
    assert!(
        out.starts_with("allow: alice domain:read on domain 'web-1': grant at "),
        "{out}"
    );
    assert!(out.contains(":5 (alice sees the web guests)"), "{out}");

    let (code, out, _) = check(&[&base[..], &["domain:read", "--domain", "web-secret"]].concat());
    assert_eq!(code, 1);
    assert!(
        out.starts_with("deny: ") && out.contains("(but not the secret one)"),
        "{out}"
    );

    let (code, out, _) = check(&[&base[..], &["domain:start", "--domain", "web-1"]].concat());
    assert_eq!(code, 1);
    assert!(out.contains("no grant matches (default deny)"), "{out}");

    let (code, out, _) = check(&[&base[..], &["connect:getattr"]].concat());
    assert_eq!(code, 0, "{out}");
}

#[test]
fn bad_requests_are_usage_errors() {
    let (code, _, err) = check(&[
        "--user",
        "alice",
        "--uid",
        "1",
        "domain:fly",
        "--domain",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid permission 'domain:fly'"), "{err}");
    let (code, _, err) = check(&["--uid", "1", "domain:read"]);
    assert_eq!(code, 2);
    assert!(err.contains("--domain"), "{err}");
    let (code, _, err) = check(&["domain:read", "--domain", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("name a subject"), "{err}");
    let (code, _, err) = check(&[
        "--user",
        "no-such-user-here",
        "domain:read",
        "--domain",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no user 'no-such-user-here'"), "{err}");
}
