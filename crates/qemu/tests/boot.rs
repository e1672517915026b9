//! The real test guest under TCG: boot to the serial marker, power off on the ACPI button,
//! notice a SIGKILL, reattach after a "restart", and fail a launch with QEMU's own words.
//!
//! The guest (Debian cloud kernel + busybox initramfs) is built once by
//! `scripts/test-guest/build.sh` into `target/test-guest`; the script installs
//! qemu-system-x86 when it is missing. If either cannot be had, the tests fail with the
//! script's message: they never skip.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use qemu::argv::{self, HostFacts, Kvm, Sandbox, StartMode};
use qemu::paths::RuntimePaths;
use qemu::qmp::{EventKind, Monitor, QmpError, QmpEvents, QmpOptions};
use qemu::supervise::{self, LaunchOptions, LaunchSpec, QemuExit, Reattached, RunningQemu};

const UUID: &str = "5e0c5a1e-0000-4000-8000-00000000beef";
const MARKER: &str = "MOAT-GUEST-BOOTED";
/// Boots take ~2 s alone, several times that on a loaded 2-core host.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

fn guest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = root.join("target/test-guest");
        let status = std::process::Command::new("bash")
            .arg(root.join("scripts/test-guest/build.sh"))
            .arg(&out)
            .status()
            .expect("cannot run scripts/test-guest/build.sh");
        assert!(
            status.success(),
            "scripts/test-guest/build.sh failed ({status}): the test guest or QEMU is missing"
        );
        assert!(
            Path::new(argv::DEFAULT_EMULATOR).exists(),
            "{} is missing after the build script",
            argv::DEFAULT_EMULATOR
        );
        out
    })
}

struct Guest {
    _dir: tempfile::TempDir,
    serial: PathBuf,
    paths: RuntimePaths,
    domain: domxml::Domain,
}

fn guest(name: &str, kernel: Option<&Path>) -> Guest {
    let images = guest_dir();
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let kernel = kernel.map_or_else(|| images.join("vmlinuz"), Path::to_owned);
    let xml = format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <uuid>{UUID}</uuid>
  <memory unit='MiB'>256</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
    <console type='file'><source path='{serial}'/><target type='serial' port='0'/></console>
    <serial type='pty'><target port='1'/></serial>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>",
        kernel = kernel.display(),
        initrd = images.join("initrd.cpio.gz").display(),
        serial = serial.display(),
    );
    let domain = domxml::parse(&xml, &domxml::ParseOptions::default()).unwrap();
    let paths =
        RuntimePaths::for_guest(&dir.path().join("run"), &dir.path().join("state"), name).unwrap();
    Guest {
        _dir: dir,
        serial,
        paths,
        domain,
    }
}

async fn start(guest: &Guest, mode: StartMode) -> RunningQemu {
    let host = HostFacts {
        kvm: Kvm::Unavailable,
        sandbox: qemu::host::probe_sandbox(Path::new(argv::DEFAULT_EMULATOR)),
        start: mode,
    };
    let argv = argv::build(&guest.domain, &host, &guest.paths).unwrap();
    let spec = LaunchSpec::new(argv, guest.paths.clone(), guest.domain.uuid);
    supervise::launch(spec, LaunchOptions::default())
        .await
        .unwrap()
}

async fn wait_for_serial(path: &Path, marker: &str) -> Duration {
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(path).is_ok_and(|text| text.contains(marker)) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < BOOT_TIMEOUT,
            "no {marker} in {} after {BOOT_TIMEOUT:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_event(events: &mut QmpEvents, kind: EventKind) -> qemu::qmp::QmpEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} event within 30 s"))
            .unwrap_or_else(|| panic!("event channel closed before {kind:?}"));
        if event.kind() == kind {
            return event;
        }
    }
}

fn assert_cleaned(paths: &RuntimePaths) {
    for file in paths.runtime_files() {
        assert!(!file.exists(), "{} left behind", file.display());
    }
    assert!(!paths.run_dir.exists(), "run dir left behind");
    assert!(paths.log_file.exists(), "the log must stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_to_the_marker_and_powers_off_on_the_acpi_button() {
    let guest = guest("boot", None);
    let started = Instant::now();
    let RunningQemu {
        process,
        qmp,
        mut events,
    } = start(&guest, StartMode::Running).await;
    let qmp_ready = started.elapsed();
    assert!(qmp.greeting().version.major >= 7);
    let boot = wait_for_serial(&guest.serial, MARKER).await;

    let process = Arc::new(process);
    let waiter = tokio::spawn({
        let process = Arc::clone(&process);
        async move { process.wait().await }
    });
    // A press before acpid holds the input device is lost: press until SHUTDOWN comes.
    let pressed = Instant::now();
    let mut presses = 0;
    let shutdown = loop {
        match qmp.system_powerdown().await {
            Ok(_) | Err(QmpError::Disconnected { .. }) => presses += 1,
            Err(err) => panic!("system_powerdown: {err}"),
        }
        let found = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match events.recv().await {
                    Some(event) if event.kind() == EventKind::Shutdown => return Some(event),
                    Some(_) => {}
                    None => return None,
                }
            }
        })
        .await;
        match found {
            Ok(Some(event)) => break event,
            Ok(None) => panic!("events ended without SHUTDOWN"),
            Err(_) => assert!(pressed.elapsed() < Duration::from_secs(30), "no SHUTDOWN"),
        }
    };
    let to_shutdown = pressed.elapsed();
    assert_eq!(shutdown.by_guest(), Some(true));
    assert_eq!(shutdown.reason(), Some("guest-shutdown"));
    let exit = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("QEMU did not exit after SHUTDOWN")
        .unwrap()
        .unwrap();
    let to_exit = pressed.elapsed();
    assert_eq!(exit, QemuExit::Exited(0));
    assert!(events.recv().await.is_none(), "events must end with QEMU");
    assert_cleaned(&guest.paths);
    let serial = std::fs::read_to_string(&guest.serial).unwrap();
    assert!(serial.contains("MOAT-GUEST-POWEROFF"), "{serial}");
    eprintln!(
        "timings: QMP ready {qmp_ready:?}, marker {boot:?} after that, SHUTDOWN {to_shutdown:?} \
         and exit {to_exit:?} after the first of {presses} press(es)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_qemu_is_noticed_within_a_second() {
    let guest = guest("killed", None);
    let RunningQemu {
        process,
        qmp,
        mut events,
    } = start(&guest, StartMode::Running).await;
    assert_eq!(qmp.query_status().await.unwrap()["running"], true);
    let process = Arc::new(process);
    let waiter = tokio::spawn({
        let process = Arc::clone(&process);
        async move { process.wait().await }
    });
    // Killed from outside, as the OOM killer or an administrator would.
    let pid = rustix::process::Pid::from_raw(process.pid()).unwrap();
    let killed = Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("the exit was not noticed within a second")
        .unwrap()
        .unwrap();
    let noticed = killed.elapsed();
    assert_eq!(exit, QemuExit::Signaled(9));
    assert_cleaned(&guest.paths);
    assert!(events.recv().await.is_none());
    assert!(matches!(
        qmp.query_status().await,
        Err(QmpError::Disconnected { .. })
    ));
    eprintln!("timings: SIGKILL noticed after {noticed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_guest_is_found_again_after_a_daemon_restart() {
    let guest = guest("reattach", None);
    let first = start(&guest, StartMode::Paused).await;
    let pid = first.process.pid();
    assert_eq!(
        first.qmp.query_status().await.unwrap()["status"],
        "prelaunch"
    );
    // The "daemon" goes away: its handles drop, QEMU stays.
    drop(first);
    let pidfile = std::fs::read_to_string(&guest.paths.pidfile).unwrap();
    assert_eq!(pidfile.trim(), pid.to_string());

    let found = supervise::reattach(
        guest.paths.clone(),
        guest.domain.uuid,
        Path::new("/proc"),
        QmpOptions::default(),
    )
    .await
    .unwrap();
    let Reattached::Running(RunningQemu {
        process,
        qmp,
        mut events,
    }) = found
    else {
        panic!("running QEMU not found again");
    };
    assert_eq!(process.pid(), pid);
    let agent = guest.paths.channel_socket("org.qemu.guest_agent.0");
    assert!(agent.exists(), "{} missing", agent.display());
    // While it runs, a second QEMU for the same guest is refused.
    let host = HostFacts {
        kvm: Kvm::Unavailable,
        sandbox: Sandbox::Unsupported,
        start: StartMode::Running,
    };
    let argv = argv::build(&guest.domain, &host, &guest.paths).unwrap();
    let spec = LaunchSpec::new(argv, guest.paths.clone(), guest.domain.uuid);
    let err = supervise::launch(spec, LaunchOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, supervise::SuperviseError::AlreadyRunning { pid: p } if p == pid),
        "{err}"
    );
    // The pty serial port is a console socket in the run directory, not a host pty.
    let chardevs = qmp.execute("query-chardev", None).await.unwrap();
    let console = guest.paths.console_socket(1);
    let serial1 = chardevs
        .as_array()
        .and_then(|all| all.iter().find(|c| c["label"] == "charserial1"))
        .unwrap_or_else(|| panic!("no charserial1 in {chardevs}"));
    let filename = serial1["filename"].as_str().unwrap_or_default();
    // "disconnected:unix:PATH,server=on" until a console connects.
    assert!(
        filename.contains(&format!("unix:{},server=on", console.display())),
        "{chardevs}"
    );
    assert!(!chardevs.to_string().contains("pty:"), "{chardevs}");
    std::os::unix::net::UnixStream::connect(&console).unwrap();
    qmp.cont().await.unwrap();
    next_event(&mut events, EventKind::Resume).await;
    assert_eq!(qmp.query_status().await.unwrap()["status"], "running");
    wait_for_serial(&guest.serial, MARKER).await;

    qmp.quit().await.ok();
    let shutdown = next_event(&mut events, EventKind::Shutdown).await;
    assert_eq!(shutdown.reason(), Some("host-qmp-quit"));
    let exit = tokio::time::timeout(Duration::from_secs(10), process.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, QemuExit::Exited(0));
    assert_cleaned(&guest.paths);
    let again = supervise::reattach(
        guest.paths.clone(),
        guest.domain.uuid,
        Path::new("/proc"),
        QmpOptions::default(),
    )
    .await
    .unwrap();
    assert!(matches!(again, Reattached::Gone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_kernel_fails_the_launch_with_qemus_message() {
    let guest = guest("nokernel", Some(Path::new("/nonexistent/vmlinuz")));
    let host = HostFacts {
        kvm: Kvm::Unavailable,
        sandbox: Sandbox::Supported,
        start: StartMode::Running,
    };
    let argv = argv::build(&guest.domain, &host, &guest.paths).unwrap();
    let spec = LaunchSpec::new(argv, guest.paths.clone(), guest.domain.uuid);
    let err = supervise::launch(spec, LaunchOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("QEMU exited during start-up (exit status 1)"),
        "{text}"
    );
    assert!(text.contains("/nonexistent/vmlinuz"), "{text}");
    assert_cleaned(&guest.paths);
}
