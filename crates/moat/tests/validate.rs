//! End-to-end tests of `moat validate`: exit statuses, formats, selection and colour, run with
//! the built binary on fixture roots and on the live host.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn moat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moat"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run moat")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

fn write(root: &Path, path: &str, text: &str) {
    let real = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(real, text).unwrap();
}

fn root_with_fstab(fstab: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "/etc/fstab", fstab);
    dir
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

fn validate_against(schema: &str, instance: &Value) {
    let schema: Value = serde_json::from_str(schema).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|err| format!("{err} at {}", err.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

const REPORT_SCHEMA: &str = include_str!("../../validate/schema/report.schema.json");
const SARIF_SCHEMA: &str = include_str!("../../validate/tests/data/sarif-schema-2.1.0.json");

#[test]
fn nothing_failing_exits_0() {
    let dir = root_with_fstab("UUID=1 / xfs defaults 0 0\n");
    let output = moat(&[
        "validate",
        "--root",
        path(&dir),
        "--only",
        "fstab-uuid-not-label",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("PASS   fstab-uuid-not-label"), "{text}");
    assert!(text.contains("(offline)"));
}

#[test]
fn relative_roots_are_made_absolute() {
    let dir = root_with_fstab("UUID=1 / xfs defaults 0 0\n");
    let output = Command::new(env!("CARGO_BIN_EXE_moat"))
        .args([
            "validate",
            "--root",
            ".",
            "--format",
            "sarif",
            "--only",
            "fstab-uuid-not-label",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let log: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let base = log["runs"][0]["originalUriBaseIds"]["ROOT"]["uri"]
        .as_str()
        .unwrap();
    let real = fs::canonicalize(dir.path()).unwrap();
    assert_eq!(base, format!("file://{}/", real.display()));
}

#[test]
fn a_failing_check_exits_1_in_every_format() {
    let dir = root_with_fstab("LABEL=root / xfs defaults 0 0\n");
    let args = [
        "validate",
        "--root",
        path(&dir),
        "--only",
        "fstab-uuid-not-label",
    ];
    let text = moat(&args);
    assert_eq!(code(&text), 1);
    assert!(
        stdout(&text).contains("  fail  LABEL=root names a file system by label [/etc/fstab:1]")
    );
    assert!(stdout(&text).contains("  fix   Replace each LABEL="));

    let json = moat(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code(&json), 1);
    let document: Value = serde_json::from_str(&stdout(&json)).unwrap();
    validate_against(REPORT_SCHEMA, &document);
    assert_eq!(document["results"][0]["status"], "fail");
    assert_eq!(document["results"][0]["findings"][0]["location"]["line"], 1);
    assert_eq!(document["summary"]["fail"], 1);
    assert_eq!(document["skipped"].as_array().unwrap().len(), 14);

    let sarif = moat(&[&args[..], &["--format", "sarif"]].concat());
    assert_eq!(code(&sarif), 1);
    let log: Value = serde_json::from_str(&stdout(&sarif)).unwrap();
    validate_against(SARIF_SCHEMA, &log);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "fstab-uuid-not-label");
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "etc/fstab");
    assert_eq!(location["region"]["startLine"], 1);
}

#[test]
fn fail_on_warn_turns_warnings_into_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104::/var/lib/postgresql:/bin/bash\n",
    );
    let args = [
        "validate",
        "--root",
        path(&dir),
        "--only",
        "accounts-minimal",
    ];
    assert_eq!(code(&moat(&args)), 0);
    assert_eq!(
        code(&moat(&[&args[..], &["--fail-on", "warn"]].concat())),
        1
    );
    assert_eq!(
        code(&moat(&[&args[..], &["--fail-on", "fail"]].concat())),
        0
    );
}

#[test]
fn usage_and_internal_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = moat(&["validate", "--root", path(&dir), "--only", "no-such-check"]);
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("unknown check id \"no-such-check\""));
    assert_eq!(code(&moat(&["validate", "--format", "yaml"])), 2);
    assert_eq!(code(&moat(&["validate", "--bogus"])), 2);
    assert_eq!(code(&moat(&[])), 2);
    let missing = moat(&["validate", "--root", "/nonexistent/moat-root"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).starts_with("moat: error: cannot find root /nonexistent/moat-root: "));
    // A check that cannot be carried out (a broken guest definition) is an error too.
    write(
        dir.path(),
        "/etc/libvirt/qemu/bad.xml",
        "<domain type='kvm'>",
    );
    let broken = moat(&[
        "validate",
        "--root",
        path(&dir),
        "--only",
        "guest-no-whole-disk",
    ]);
    assert_eq!(code(&broken), 2);
    assert!(stdout(&broken).contains("ERROR  guest-no-whole-disk"));
}

#[test]
fn skip_and_only_take_lists() {
    let dir = tempfile::tempdir().unwrap();
    let only = moat(&[
        "validate",
        "--root",
        path(&dir),
        "--format",
        "json",
        "--only",
        "fstab-uuid-not-label,kvm-host-capable",
    ]);
    let document: Value = serde_json::from_str(&stdout(&only)).unwrap();
    assert_eq!(document["summary"]["total"], 2);
    let skip = moat(&[
        "validate",
        "--root",
        path(&dir),
        "--format",
        "json",
        "--skip",
        "kvm-host-capable",
        "network-listeners",
    ]);
    let document: Value = serde_json::from_str(&stdout(&skip)).unwrap();
    assert_eq!(document["summary"]["total"], 13);
    assert_eq!(document["skipped"][0], "network-listeners");
}

#[test]
fn colour_only_on_a_terminal_or_when_asked() {
    let dir = root_with_fstab("LABEL=root / xfs defaults 0 0\n");
    let args = [
        "validate",
        "--root",
        path(&dir),
        "--only",
        "fstab-uuid-not-label",
    ];
    assert!(!stdout(&moat(&args)).contains('\x1b'));
    let coloured = moat(&[&args[..], &["--color", "always"]].concat());
    assert!(stdout(&coloured).contains("\x1b[1;31mFAIL"));
}

/// `script` (util-linux, essential on Debian) runs moat on a pseudo-terminal: auto colours there.
#[test]
fn auto_colour_on_a_terminal() {
    let dir = root_with_fstab("LABEL=root / xfs defaults 0 0\n");
    let command = format!(
        "{} validate --root {} --only fstab-uuid-not-label",
        env!("CARGO_BIN_EXE_moat"),
        path(&dir)
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .output()
        .expect("run script");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("\x1b[1;31mFAIL"),
        "{}",
        stdout(&output)
    );
    let plain = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run script");
    assert!(!stdout(&plain).contains('\x1b'));
}

#[test]
fn domain_xml_files_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "/usr/sbin/lvm", "");
    let file = dir.path().join("guest.xml");
    fs::write(
        &file,
        "<domain type='kvm'><name>g</name><memory>1024</memory><os><type>hvm</type></os><devices>\
         <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdb'/></disk>\
         <disk type='block' device='disk'><source dev='/dev/sdc1'/><target dev='vdc'/></disk>\
         </devices></domain>",
    )
    .unwrap();
    let output = moat(&[
        "validate",
        "--root",
        path(&dir),
        "--only",
        "guest-no-whole-disk,lvm-global-filter",
        "--domain-xml",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.contains("FAIL   guest-no-whole-disk"), "{text}");
    assert!(text.contains("FAIL   lvm-global-filter"), "{text}");
    assert!(text.contains("guest g has /dev/sdb as vdb writable"));
}

#[test]
fn list_checks_and_help() {
    let list = moat(&["validate", "--list-checks"]);
    assert_eq!(code(&list), 0);
    assert_eq!(stdout(&list).lines().count(), 15);
    assert!(stdout(&list).starts_with("selinux-enforcing "));
    let help = moat(&["validate", "--help"]);
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("--fail-on"));
}

/// The live host here has no SELinux; nothing else about it is assumed.
#[test]
fn live_host_reports_selinux_absent_as_fail() {
    let output = moat(&["validate", "--format", "json"]);
    let status = code(&output);
    assert!(
        status == 1 || status == 2,
        "exit {status}: {}",
        stderr(&output)
    );
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    validate_against(REPORT_SCHEMA, &document);
    assert_eq!(document["mode"], "live");
    assert_eq!(document["summary"]["total"], 15);
    let selinux = &document["results"][0];
    assert_eq!(selinux["id"], "selinux-enforcing");
    assert_eq!(selinux["status"], "fail");
    assert!(selinux["remediation"]
        .as_str()
        .unwrap()
        .contains("setenforce 1"));
    let sarif = moat(&["validate", "--format", "sarif"]);
    // Processes come and go between runs (other tests start QEMUs), so only the range is fixed.
    assert!(matches!(code(&sarif), 1 | 2));
    validate_against(
        SARIF_SCHEMA,
        &serde_json::from_str(&stdout(&sarif)).unwrap(),
    );
    let text = moat(&["validate"]);
    assert!(stdout(&text).contains("FAIL   selinux-enforcing"));
}
