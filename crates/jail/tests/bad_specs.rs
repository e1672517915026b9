//! Bad specs get one clear `moat-jail: <step>: <cause>` line, exit 126 (127
//! for a missing program), and leave nothing mounted on the host and nothing
//! in the guest's cgroups.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::path::Path;

use common::*;
use jail::cgroup::CgroupLimits;
use jail::Bind;

fn stderr_line(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "expected one line:\n{text}");
    text.trim_end().to_owned()
}

#[test]
fn missing_program_exits_127_with_its_name() {
    let s = Scratch::new("noprog");
    let mut spec = python_spec(&s, "noprog", uid(20), "");
    spec.program = "/usr/bin/moat-no-such-program".into();
    let err = jail::command(Path::new(JAIL), &spec).unwrap_err();
    assert!(err.is_program_missing(), "{err}");

    let out = run_raw(&spec.to_json());
    assert_eq!(out.status.code(), Some(127));
    let line = stderr_line(&out);
    assert!(
        line.starts_with("moat-jail: spec: invalid jail spec"),
        "{line}"
    );
    assert!(
        line.contains("program /usr/bin/moat-no-such-program does not exist"),
        "{line}"
    );
}

#[test]
fn program_missing_inside_the_jail_exits_127() {
    let s = Scratch::new("notinside");
    let mut spec = python_spec(&s, "notinside", uid(21), "");
    // Exists on the host, but /etc is not bound.
    spec.program = "/etc/hostname".into();
    let out = run(&spec);
    assert_eq!(out.status.code(), Some(127));
    // The confined line comes first, then the exec failure.
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("moat-jail: confined notinside: "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "moat-jail: exec /etc/hostname: No such file or directory (os error 2)"
    );
}

#[test]
fn missing_bind_source_is_named_and_nothing_is_left() {
    let s = Scratch::new("nobind");
    let id = format!("nobind-{}", std::process::id());
    let cg = CgroupGuard::new(
        &id,
        &CgroupLimits {
            pids: Some(8),
            ..CgroupLimits::default()
        },
    );
    let mut spec = python_spec(&s, "nobind", uid(22), "");
    spec.binds.push(Bind::read_only(s.path("no-such-image")));
    spec.cgroup_procs = cg.0.procs_files();
    let out = run(&spec);
    assert_eq!(out.status.code(), Some(126));
    let line = stderr_line(&out);
    let want = format!(
        "moat-jail: bind {}: No such file or directory (os error 2)",
        s.path("no-such-image").display()
    );
    assert_eq!(line, want);
    assert!(
        !mounted_on_host(&s.path("root")),
        "the tmpfs root leaked to the host"
    );
    assert_eq!(std::fs::read_dir(s.path("root")).unwrap().count(), 0);
    assert!(cg.0.pids().is_empty(), "processes left in the cgroup");
    cg.0.remove().unwrap();
}

#[test]
fn root_ids_and_relative_paths_are_refused() {
    let s = Scratch::new("badids");
    let mut spec = python_spec(&s, "badids", uid(23), "");
    spec.uid = 0;
    spec.new_root = "relative/root".into();
    spec.binds.push(Bind::writable("data/img"));
    let err = jail::command(Path::new(JAIL), &spec).unwrap_err();
    assert!(!err.is_program_missing());

    let out = run_raw(&spec.to_json());
    assert_eq!(out.status.code(), Some(126));
    let line = stderr_line(&out);
    assert!(line.contains("uid 0 is not a guest uid"), "{line}");
    assert!(
        line.contains("new_root: relative/root is not an absolute normal path"),
        "{line}"
    );
    assert!(
        line.contains("bind data/img: data/img is not an absolute normal path"),
        "{line}"
    );
}

#[test]
fn garbage_on_stdin_is_refused() {
    let out = run_raw(b"{\"id\": 5}");
    assert_eq!(out.status.code(), Some(126));
    let line = stderr_line(&out);
    assert!(
        line.starts_with("moat-jail: spec: decode jail spec: "),
        "{line}"
    );
}

#[test]
fn selinux_exec_label_failure_is_reported() {
    // No SELinux on this host: the write must fail and say so, never be ignored.
    let s = Scratch::new("selinux");
    let mut spec = python_spec(&s, "selinux", uid(24), "print('ran')");
    spec.selinux_exec_label = Some("system_u:system_r:svirt_t:s0:c1,c2".into());
    let out = run(&spec);
    assert_eq!(out.status.code(), Some(126));
    assert!(out.stdout.is_empty(), "the program ran without its label");
    let line = stderr_line(&out);
    assert!(
        line.starts_with("moat-jail: set selinux exec label system_u:system_r:svirt_t:s0:c1,c2: ")
            || line.starts_with("moat-jail: open /proc/thread-self/attr/exec: "),
        "{line}"
    );
}

#[test]
fn new_root_must_be_a_root_owned_directory() {
    let s = Scratch::new("badroot");
    let mut spec = python_spec(&s, "badroot", uid(25), "print('ran')");
    chown(&s.path("root"), uid(25));
    let out = run(&spec);
    assert_eq!(out.status.code(), Some(126));
    let line = stderr_line(&out);
    let want = format!(
        "moat-jail: mount tmpfs root at {}: not a root-owned directory",
        s.path("root").display()
    );
    assert_eq!(line, want);
    // A symlink to a root-owned directory is refused too.
    std::os::unix::fs::symlink("/tmp", s.path("link")).unwrap();
    spec.new_root = s.path("link");
    let out = run(&spec);
    assert_eq!(out.status.code(), Some(126));
    assert!(!mounted_on_host(Path::new("/tmp")));
}
