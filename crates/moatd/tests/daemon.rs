//! The daemon process: configuration, socket modes, signals, refusing bad set-ups.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn signal(daemon: &TestDaemon, sig: nix::sys::signal::Signal) {
    let pid = daemon.child.as_ref().unwrap().id();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.try_into().unwrap()), sig).unwrap();
}

#[test]
fn sockets_get_the_configured_modes_and_sighup_reloads_them() {
    let daemon = TestDaemon::start();
    assert_eq!(mode(&daemon.socket()), 0o700);
    assert_eq!(mode(&daemon.socket_ro()), 0o777);
    drop(daemon);

    let mut daemon = TestDaemon::start_with_config(Some(
        "unix_sock_rw_perms = \"0770\"\nunix_sock_ro_perms = \"0775\"\nunix_sock_group = \"root\"\n",
    ));
    assert_eq!(mode(&daemon.socket()), 0o770);
    assert_eq!(mode(&daemon.socket_ro()), 0o775);
    std::fs::write(
        daemon.config.as_ref().unwrap(),
        "unix_sock_rw_perms = \"0700\"\nunix_sock_ro_perms = \"0755\"\n",
    )
    .unwrap();
    signal(&daemon, nix::sys::signal::Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mode(&daemon.socket()) != 0o700 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not apply the new mode"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(mode(&daemon.socket_ro()), 0o755);
    // A broken configuration on reload keeps the running one.
    std::fs::write(
        daemon.config.as_ref().unwrap(),
        "unix_sock_rw_perms = 12345678\n",
    )
    .unwrap();
    signal(&daemon, nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(daemon.alive());
    assert_eq!(mode(&daemon.socket()), 0o700);
    ok(daemon.virsh(&["list", "--all"]));
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_sockets() {
    let mut daemon = TestDaemon::start();
    signal(&daemon, nix::sys::signal::Signal::SIGTERM);
    let status = daemon.child.as_mut().unwrap().wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!daemon.socket().exists());
    assert!(!daemon.socket_ro().exists());
    daemon.child = None;
}

fn moatd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_moatd"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bad_configurations_are_refused_with_every_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let with_config = |config: &std::path::Path| {
        moatd(&[
            "--run-dir",
            dir.path().join("run").to_str().unwrap(),
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
    };
    let config = write_file(
        dir.path(),
        "bad.toml",
        "access_drivers = [\"selinux\"]\nmax_clients = 0\nunix_sock_rw_perm = \"0700\"\n",
    );
    let out = with_config(&config);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("option 'access_drivers'"), "{err}");
    assert!(err.contains("option 'max_clients'"), "{err}");
    assert!(
        err.contains("option 'unix_sock_rw_perm': unknown option"),
        "{err}"
    );
    let syntax = write_file(dir.path(), "syntax.toml", "max_clients = = 1\n");
    let out = with_config(&syntax);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not valid TOML"), "{}", stderr(&out));
    let out = with_config(std::path::Path::new("/nonexistent/moatd.toml"));
    assert!(stderr(&out).contains("cannot read configuration file /nonexistent/moatd.toml"));
}

#[test]
fn a_second_daemon_on_the_same_sockets_is_refused() {
    let daemon = TestDaemon::start();
    let out = moatd(&[
        "--run-dir",
        daemon.run_dir().to_str().unwrap(),
        "--state-dir",
        daemon.dir.path().join("other-state").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another daemon is already listening"),
        "{}",
        stderr(&out)
    );
    ok(daemon.virsh(&["list", "--all"]));
}

#[tokio::test]
async fn max_clients_is_enforced_and_others_recover() {
    let daemon = TestDaemon::start_with_config(Some("max_clients = 3\n"));
    // Clients that completed a call are surely counted (the start-up probe's may not be gone).
    // A refusal here can only come from the start-up probe still holding a slot: retry.
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < 3 {
        assert!(Instant::now() < deadline, "could not open 3 clients");
        if let Ok(client) = rpc::client::Client::open(daemon.socket(), "qemu:///system", 0).await {
            held.push(client);
        }
    }
    // The fourth is accepted and closed at once.
    let out = daemon.virsh(&["list"]);
    assert!(!out.status.success());
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if daemon.virsh(&["list"]).status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "slots were not given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}
