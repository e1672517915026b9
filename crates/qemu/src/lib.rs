//! QEMU for Moat: the command line for a domain, the QMP client, the pre-exec child, and the
//! supervision of the process.
//!
//! A guest starts in three steps, each in its own module:
//!
//! 1. [`argv::build`] turns a [`domxml::Domain`], the [`argv::HostFacts`] (KVM usable?
//!    `-sandbox`? start paused?) and the guest's [`paths::RuntimePaths`] into a
//!    [`argv::QemuArgv`]. It is pure, and refuses what it cannot express (below).
//! 2. [`supervise::launch`] starts it from a [`supervise::LaunchSpec`] (argv, paths, uuid, tap
//!    fds): log file, new session, passed fds and an optional [`jail::PreExecHook`] in the
//!    child, then waits until QMP answers. It is the one place QEMU is started, so the
//!    isolation work wraps it there.
//! 3. The daemon keeps the [`supervise::RunningQemu`]: the [`supervise::QemuProcess`] (share
//!    it in an `Arc`; [`wait`](supervise::QemuProcess::wait) returns on exit, reaps, and
//!    removes the runtime files), the [`qmp::QmpClient`] (a [`qmp::Monitor`]: `cont`,
//!    `stop`, `system_powerdown`, `system_reset`, `quit`, `query-status`, or any command
//!    with [`execute`](qmp::Monitor::execute)), and the [`qmp::QmpEvents`] channel (`SHUTDOWN`,
//!    `STOP`, `RESUME`, `RESET`, `POWERDOWN`, `GUEST_PANICKED`, … in order).
//!
//! After a daemon restart, [`supervise::reattach`] finds a running QEMU again from its pidfile,
//! `/proc/PID/cmdline` (which must hold the guest's `-uuid`) and its QMP socket, or reports it
//! gone and removes what it left. [`supervise::become_subreaper`] makes the daemon reap
//! orphans itself. [`host`] probes KVM and `-sandbox` support.
//!
//! # What the command line refuses
//!
//! Everything in the model is either expressed or refused with the element's name
//! ([`argv::ArgvError::Refused`] lists every refusal at once). Refused today:
//!
//! - anything the parser kept unknown (`Extra`), `xmlns:qemu` extensions (`<qemu:commandline>`);
//! - `<genid>`, `<sysinfo>`, `<pm>` beyond suspend-to-mem/disk, `<maxMemory>`, a
//!   `<currentMemory>` below `<memory>`, `<blkiotune>`, `<memtune>`, `<numatune>`, `<cputune>`,
//!   `<memoryBacking>`, a `<resource>` partition other than `/machine`,
//!   `<vcpu placement='auto'>` and `cpuset`;
//! - `<os>`: an arch other than x86_64, machines other than `pc*`/`q35*`, firmware/loader/nvram,
//!   `<dtb>`, `<smbios>`, `<boot dev>` together with per-device `<boot order>`;
//! - `<features>`: `hap`, `viridian`, `privnet`, `<hyperv>`, `<kvm>`, `<gic>`, `<ioapic>`,
//!   `<pvspinlock>`, `<vmcoreinfo>`;
//! - `<cpu>`: `host-model`, `host-passthrough` without KVM, `<vendor>`, `<numa>`, `match`,
//!   `check` other than `none`, feature policy `optional`, a topology that does not multiply
//!   to `<vcpu>`;
//! - `<clock>` offsets `timezone`/`variable`, `basis`, `adjustment`, timers other than `rtc`
//!   (catchup), `pit` (delay) and `hpet` (present or not);
//! - lifecycle: `rename-restart`/`coredump-*` anywhere, `preserve` on reboot;
//! - disks: types `dir`/`network`/`volume`, devices `floppy`/`lun`, buses `usb`/`fdc`/`sd`,
//!   IDE on q35 and SATA on pc, formats other than raw/qcow2, `<transient>`, `<wwn>`,
//!   `startupPolicy`, `io='native'` without `cache='none'|'directsync'`, read-only IDE/SATA
//!   hard disks, `removable`, an open tray, a backing store under a raw image;
//! - controllers other than the built-in PCI root, IDE (pc) and SATA (q35) at their fixed
//!   addresses, `pcie-root-port` (q35, target chassis and port only), USB `piix3-uhci`/
//!   `qemu-xhci`/`none`, `virtio-scsi`, `virtio-serial`; controller `<driver>`, ports other than
//!   on qemu-xhci;
//! - interfaces of type `direct`, models other than virtio/e1000/e1000e/rtl8139, `<driver>`,
//!   link state down, an MTU on a non-virtio NIC;
//! - chardevs other than `pty`/`file`/`unix`/`null`, channels other than virtio ports (as the
//!   guest agent's), consoles not on a serial port, serial ports beyond 0–3, a `<protocol>`;
//! - inputs other than PS/2, virtio and USB (with a USB controller), `<source>` passthrough;
//! - graphics other than one VNC, VNC on addresses other than localhost, `passwd`, `keymap`,
//!   ports outside 5900–5999; video models other than vga/cirrus/bochs/virtio/none, more than
//!   one video, QXL sizes, `heads` ≠ 1;
//! - `<memballoon>` statistics, `<rng>` with an EGD backend or a non-virtio model, `<tpm>`,
//!   `<hostdev>`, and every device kept verbatim (`<sound>`, `<watchdog>`, `<filesystem>`,
//!   `<panic>`, …);
//! - device addresses other than PCI domain 0 on bus 0 or on a pcie-root-port (and drive
//!   addresses on the disk buses, virtio-serial addresses on channels).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(domain: &domxml::Domain) -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! use std::sync::Arc;
//! use qemu::argv::{self, HostFacts, StartMode};
//! use qemu::paths::RuntimePaths;
//! use qemu::qmp::{EventKind, Monitor};
//! use qemu::supervise::{self, LaunchOptions, LaunchSpec};
//!
//! let paths = RuntimePaths::for_guest(Path::new("/run/moat"), Path::new("/var/lib/moat"),
//!                                     &domain.name)?;
//! let host = HostFacts {
//!     kvm: qemu::host::probe_kvm(Path::new("/")),
//!     sandbox: qemu::host::probe_sandbox(Path::new(argv::DEFAULT_EMULATOR)),
//!     start: StartMode::Running,
//! };
//! let argv = argv::build(domain, &host, &paths)?;
//! let spec = LaunchSpec::new(argv, paths, domain.uuid);
//! let running = supervise::launch(spec, LaunchOptions::default()).await?;
//!
//! let process = Arc::new(running.process);
//! let watcher = tokio::spawn({
//!     let process = Arc::clone(&process);
//!     async move { process.wait().await }
//! });
//! running.qmp.system_powerdown().await?;
//! let mut events = running.events;
//! while let Some(event) = events.recv().await {
//!     if event.kind() == EventKind::Shutdown {
//!         break;
//!     }
//! }
//! let exit = watcher.await??;
//! println!("QEMU ended: {exit}");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod argv;
pub mod host;
pub mod jail;
pub mod paths;
pub mod qmp;
pub mod supervise;

/// An error and its sources, joined with ": ".
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(next) = source {
        out.push_str(": ");
        out.push_str(&next.to_string());
        source = next.source();
    }
    out
}
