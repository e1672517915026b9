//! Whole runs on offline fixture roots and on the live host, and the JSON and SARIF outputs
//! validated against their schemas.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use serde_json::Value;
use validate::format::{json, sarif};
use validate::{run, Options, Report, ScriptedCommands, Status, SystemCommands};

fn status_of(report: &Report, id: &str) -> Status {
    report
        .results
        .iter()
        .find(|result| result.id == id)
        .map(|result| result.status)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

fn offline(setup: fn(&std::path::Path)) -> (tempfile::TempDir, Report) {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let report = run(&Options::offline(dir.path()), &ScriptedCommands::none()).unwrap();
    (dir, report)
}

fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect()
}

fn sarif_schema() -> Value {
    serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap()
}

fn report_schema() -> Value {
    serde_json::from_str(json::SCHEMA).unwrap()
}

fn assert_valid(report: &Report) {
    let document: Value = serde_json::from_str(&json::render(report)).unwrap();
    let errors = schema_errors(&report_schema(), &document);
    assert!(errors.is_empty(), "JSON report: {errors:#?}");
    let log: Value = serde_json::from_str(&sarif::render(report)).unwrap();
    let errors = schema_errors(&sarif_schema(), &log);
    assert!(errors.is_empty(), "SARIF log: {errors:#?}");
}

#[test]
fn bad_host_fails_what_files_can_show() {
    let (_dir, report) = offline(common::bad_host);
    for (id, expected) in [
        ("selinux-enforcing", Status::Fail),
        ("selinux-virt-booleans", Status::Warn),
        ("services-unneeded", Status::Fail),
        ("network-listeners", Status::NotApplicable),
        ("accounts-minimal", Status::Fail),
        ("firewall-default-reject", Status::Fail),
        ("kvm-host-capable", Status::NotApplicable),
        ("images-central-store", Status::Fail),
        ("access-control-enabled", Status::Fail),
        ("fstab-uuid-not-label", Status::Fail),
        ("cmdline-uuid-not-label", Status::Fail),
        ("guest-no-whole-disk", Status::Fail),
        ("lvm-global-filter", Status::Fail),
        ("svirt-confined", Status::Fail),
        ("svirt-unique-labels", Status::NotApplicable),
    ] {
        assert_eq!(status_of(&report, id), expected, "{id}");
    }
    assert_eq!(report.exit_code(validate::FailOn::Fail), 1);
    assert_valid(&report);
}

#[test]
fn good_host_passes_what_files_can_show() {
    let (_dir, report) = offline(common::good_host);
    for result in &report.results {
        assert!(
            matches!(result.status, Status::Pass | Status::NotApplicable),
            "{}: {:#?}",
            result.id,
            result.findings
        );
    }
    assert_eq!(status_of(&report, "selinux-virt-booleans"), Status::Pass);
    assert_eq!(report.exit_code(validate::FailOn::Warn), 0);
    assert_valid(&report);
}

#[test]
fn empty_root_reports_every_check_and_validates() {
    let (_dir, report) = offline(|_| {});
    assert_eq!(report.results.len(), 15);
    assert_valid(&report);
    // The schemas do reject what is wrong.
    let mut log = sarif::to_value(&report);
    log["runs"][0]["results"][0]["kind"] = Value::from("bogus");
    assert!(!schema_errors(&sarif_schema(), &log).is_empty());
    let mut document = json::to_value(&report);
    document["results"][0]["status"] = Value::from("maybe");
    assert!(!schema_errors(&report_schema(), &document).is_empty());
}

#[test]
fn errors_are_reported_as_tool_notifications() {
    let (_dir, report) = offline(|root| {
        common::write(root, "/etc/libvirt/qemu/broken.xml", "<domain type='kvm'>");
    });
    assert_eq!(status_of(&report, "guest-no-whole-disk"), Status::Error);
    assert_eq!(report.exit_code(validate::FailOn::Fail), 2);
    assert_valid(&report);
    let log = sarif::to_value(&report);
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(notifications
        .iter()
        .any(|note| note["associatedRule"]["id"] == "guest-no-whole-disk"));
}

#[test]
fn domain_xml_files_replace_discovered_guests() {
    let dir = tempfile::tempdir().unwrap();
    common::good_host(dir.path());
    let file = dir.path().join("given.xml");
    std::fs::write(
        &file,
        "<domain type='kvm'><name>given</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices><disk type='block' device='disk'><source dev='/dev/sdc'/><target dev='vdb'/></disk></devices></domain>",
    )
    .unwrap();
    let mut options = Options::offline(dir.path());
    options.domain_xml = vec![file];
    options.only = vec!["guest-no-whole-disk".to_owned()];
    let report = run(&options, &ScriptedCommands::none()).unwrap();
    assert_eq!(report.results[0].status, Status::Fail);
    assert!(report.results[0].findings[0]
        .message
        .contains("guest given has /dev/sdc"));
}

#[test]
fn selection_rejects_unknown_ids_and_lists_skipped() {
    let mut options = Options::offline("/nonexistent");
    options.skip = vec!["no-such-check".to_owned()];
    let err = run(&options, &ScriptedCommands::none()).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("unknown check id \"no-such-check\""));
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::offline(dir.path());
    options.skip = vec!["kvm-host-capable".to_owned()];
    let report = run(&options, &ScriptedCommands::none()).unwrap();
    assert_eq!(report.results.len(), 14);
    assert_eq!(report.skipped, ["kvm-host-capable"]);
    let options = Options::offline(dir.path().join("missing"));
    let err = run(&options, &ScriptedCommands::none()).unwrap_err();
    assert!(err.to_string().ends_with("is not a directory"));
}

/// The live host of the development machines has no SELinux: every check must run to
/// completion, and selinux-enforcing must fail with the guide's remediation. Nothing else about
/// the machine is assumed.
#[test]
fn live_host_runs_to_completion_and_reports_selinux_absent() {
    let report = run(&Options::live(), &SystemCommands).unwrap();
    assert_eq!(report.results.len(), 15);
    let selinux = report
        .results
        .iter()
        .find(|result| result.id == "selinux-enforcing")
        .unwrap();
    assert_eq!(selinux.status, Status::Fail);
    assert!(selinux
        .findings
        .iter()
        .any(|finding| finding.status == Status::Fail
            && finding
                .message
                .contains("not enabled in the running kernel")));
    assert!(selinux.remediation.contains("setenforce 1"));
    assert!(selinux.remediation.contains("SELINUX=enforcing"));
    assert_eq!(
        status_of(&report, "selinux-virt-booleans"),
        Status::NotApplicable
    );
    for result in &report.results {
        assert!(!result.findings.is_empty(), "{}", result.id);
    }
    assert_ne!(report.exit_code(validate::FailOn::Fail), 0);
    assert_valid(&report);
}
