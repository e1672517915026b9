//! Running guests: start, stop, pause, and following QEMU until it ends.
//!
//! A start builds the command line from the definition ([`qemu::argv`]), launches QEMU in its
//! own session and waits for QMP ([`qemu::supervise::launch`], the one place QEMU is started),
//! then hands the process and its monitor events to a watcher task. The watcher follows STOP and
//! RESUME events and, when the process ends (seen through its pidfd), marks the guest shut off
//! with the reason — shutdown by the guest, destroyed, or crashed — and emits the event. A
//! transient guest (created, or undefined while running) leaves the registry then.
//!
//! After a daemon restart, [`Driver::reattach_all`] finds running QEMUs again from their pidfile,
//! command line and QMP socket; [`Driver::autostart_all`] then starts the autostart guests that
//! are not running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domxml::model::LifecycleAction;
use qemu::argv::{self, HostFacts, Kvm, Sandbox, StartMode};
use qemu::paths::RuntimePaths;
use qemu::qmp::{EventKind, Monitor, QmpClient, QmpEvents};
use qemu::supervise::{self, LaunchOptions, LaunchSpec, QemuProcess, Reattached};
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::confine;
use super::domain::DomainSummary;
use super::isolation::Confined;
use super::{Driver, DriverError};
use crate::errors::chain;
use crate::identity::PeerIdentity;
use crate::registry::{DomainState, StateReason};

/// `VIR_DOMAIN_EVENT_STARTED` and its detail `BOOTED`.
const EVENT_STARTED: (i32, i32) = (2, 0);
/// `VIR_DOMAIN_EVENT_SUSPENDED` / `PAUSED`.
const EVENT_SUSPENDED: (i32, i32) = (3, 0);
/// `VIR_DOMAIN_EVENT_RESUMED` / `UNPAUSED`.
const EVENT_RESUMED: (i32, i32) = (4, 0);
/// `VIR_DOMAIN_EVENT_STOPPED`.
const EVENT_STOPPED: i32 = 5;

/// `VIR_DOMAIN_RUNNING_BOOTED`.
const RUNNING_BOOTED: StateReason = 1;
/// `VIR_DOMAIN_RUNNING_UNPAUSED`.
const RUNNING_UNPAUSED: StateReason = 5;
/// `VIR_DOMAIN_PAUSED_USER`.
const PAUSED_USER: StateReason = 1;
/// `VIR_DOMAIN_PAUSED_UNKNOWN`: paused by QEMU itself (an emulation error, say).
const PAUSED_UNKNOWN: StateReason = 0;
/// `VIR_DOMAIN_PAUSED_SHUTTING_DOWN`: powered off, kept by `<on_poweroff>preserve`.
const PAUSED_SHUTTING_DOWN: StateReason = 8;

/// `VIR_DOMAIN_CREATE_PAUSED` (also `VIR_DOMAIN_START_PAUSED`).
pub const START_PAUSED: u32 = 1;
/// `VIR_DOMAIN_DESTROY_GRACEFUL`.
pub const DESTROY_GRACEFUL: u32 = 1;

/// How long a destroy waits after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);
/// The same with `VIR_DOMAIN_DESTROY_GRACEFUL`.
const TERM_GRACE_GRACEFUL: Duration = Duration::from_secs(10);

/// Why a guest stopped, as the watcher reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum StopCause {
    /// Not asked to stop: a crash or a kill from outside.
    Unexpected = 0,
    /// `virsh destroy`.
    Destroyed = 1,
}

impl StopCause {
    fn from_u8(value: u8) -> Self {
        if value == StopCause::Destroyed as u8 {
            StopCause::Destroyed
        } else {
            StopCause::Unexpected
        }
    }
}

/// What a running guest was confined with, undone when it stops.
#[derive(Debug)]
pub struct LiveSecurity {
    /// The definition as started (its resources are what was labelled).
    pub def: domxml::Domain,
    /// The labels generated for this run, one per model of the stack.
    pub labels: Vec<domxml::model::Seclabel>,
    /// The guest's cgroup.
    pub cgroup: Option<jail::cgroup::GuestCgroup>,
}

/// One running QEMU.
#[derive(Debug)]
pub struct Guest {
    pub(super) process: Arc<QemuProcess>,
    qmp: QmpClient,
    pub(super) security: LiveSecurity,
    stop_cause: AtomicU8,
    /// Becomes true once the watcher has recorded the end.
    ended: watch::Receiver<bool>,
}

/// The host facts and running guests of the lifecycle side.
#[derive(Debug)]
pub struct Lifecycle {
    kvm: Kvm,
    sandbox: Sandbox,
    security: security::SecurityStack,
    /// With `selinux_test_context` (tests on hosts without SELinux): where the process label
    /// each QEMU would have been given is recorded, as the kernel would report it.
    selinux_fake: Option<security::FakeContext>,
    jail_binary: std::path::PathBuf,
    guests: std::sync::Mutex<HashMap<Uuid, Arc<Guest>>>,
    starting: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    next_id: AtomicU32,
}

impl Lifecycle {
    /// Probes KVM and `-sandbox` support once; `security` is the stack every guest is
    /// confined with, `jail_binary` the `moat-jail` program.
    pub fn probe(
        emulator: Option<&std::path::Path>,
        (security, selinux_fake): (security::SecurityStack, Option<security::FakeContext>),
        jail_binary: std::path::PathBuf,
    ) -> Self {
        let sandbox = emulator.map_or(Sandbox::Unsupported, qemu::host::probe_sandbox);
        Self {
            kvm: qemu::host::probe_kvm(std::path::Path::new("/")),
            sandbox,
            security,
            selinux_fake,
            jail_binary,
            guests: std::sync::Mutex::new(HashMap::new()),
            starting: std::sync::Mutex::new(std::collections::HashSet::new()),
            next_id: AtomicU32::new(1),
        }
    }

    pub(super) fn guest(&self, uuid: &Uuid) -> Option<Arc<Guest>> {
        lock(&self.guests).get(uuid).cloned()
    }

    /// Records the SELinux process label of a QEMU when SELinux is simulated (see
    /// `selinux_fake`); does nothing on real hosts, where the kernel knows it.
    pub(super) fn record_process_label(&self, pid: i32, labels: &[domxml::model::Seclabel]) {
        if let (Some(fake), Some(label)) = (&self.selinux_fake, self.security.exec_label(labels)) {
            fake.set_pid(pid, &label);
        }
    }

    /// The `moat-jail` program.
    pub fn jail_binary(&self) -> &std::path::Path {
        &self.jail_binary
    }

    /// The security stack.
    pub fn security(&self) -> &security::SecurityStack {
        &self.security
    }
}

fn monitor_error(err: qemu::qmp::QmpError) -> DriverError {
    DriverError::Launch(chain(&err))
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a guest from the "starting" set however the start ends.
struct Starting<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<Uuid>>,
    uuid: Uuid,
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        lock(self.set).remove(&self.uuid);
    }
}

impl Driver {
    /// Whether guests of type `kvm` run with KVM here.
    pub fn lifecycle_kvm_usable(&self) -> bool {
        self.lifecycle.kvm == Kvm::Usable
    }

    pub(super) fn running_guest(&self, uuid: &Uuid) -> Result<Arc<Guest>, DriverError> {
        self.lifecycle
            .guest(uuid)
            .ok_or_else(|| self.not_running(uuid))
    }

    fn not_running(&self, uuid: &Uuid) -> DriverError {
        let name = self
            .read()
            .get(uuid)
            .map(|o| o.def.name.clone())
            .unwrap_or_default();
        DriverError::OperationInvalid(format!("domain '{name}' is not running"))
    }

    /// Starts a defined guest; returns it with its new id.
    pub async fn start(
        self: &Arc<Self>,
        uuid: &Uuid,
        flags: u32,
        who: &PeerIdentity,
    ) -> Result<DomainSummary, DriverError> {
        let result = self.start_inner(uuid, flags, who).await;
        self.audit.record_result(
            who,
            "DOMAIN_CREATE",
            json!({"uuid": uuid.to_string()}),
            &result,
        );
        result
    }

    async fn start_inner(
        self: &Arc<Self>,
        uuid: &Uuid,
        flags: u32,
        who: &PeerIdentity,
    ) -> Result<DomainSummary, DriverError> {
        if flags & !START_PAUSED != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !START_PAUSED,
                function: "virDomainCreateWithFlags",
            });
        }
        let def = {
            let registry = self.read();
            let object = registry.get(uuid).ok_or_else(|| DriverError::NoDomain {
                what: format!("uuid '{uuid}'"),
            })?;
            if object.state.is_active() {
                return Err(DriverError::OperationInvalid(format!(
                    "domain '{}' is already running",
                    object.def.name
                )));
            }
            let mut def = confine::resolve_paths(&self.storage.with_volume_files(&object.def)?);
            for (index, iface) in def.devices.interfaces.iter_mut().enumerate() {
                if iface.mac.is_none() {
                    iface.mac = Some(super::network::default_mac(uuid, index));
                }
            }
            def
        };
        if !lock(&self.lifecycle.starting).insert(*uuid) {
            return Err(DriverError::OperationInvalid(format!(
                "domain '{}' is already being started",
                def.name
            )));
        }
        let _starting = Starting {
            set: &self.lifecycle.starting,
            uuid: *uuid,
        };
        let paths = RuntimePaths::for_guest(&self.run_dir, &self.state_dir, &def.name)
            .map_err(|e| DriverError::InvalidArg(chain(&e)))?;
        let paused = flags & START_PAUSED != 0;
        let host = HostFacts {
            kvm: self.lifecycle.kvm,
            sandbox: self.lifecycle.sandbox,
            start: if paused {
                StartMode::Paused
            } else {
                StartMode::Running
            },
        };
        let argv =
            argv::build(&def, &host, &paths).map_err(|e| DriverError::Unsupported(chain(&e)))?;
        confine::check_disks(&def, &self.config).map_err(DriverError::Policy)?;
        let labels = self
            .lifecycle
            .security
            .generate(&def)
            .map_err(|e| DriverError::Security(chain(&e)))?;
        // Labelling files and making the cgroup is blocking I/O: off the connection thread.
        let mut started = Confined::new(Arc::clone(self), def.clone(), labels, who.clone());
        let (paths_copy, program) = (paths.clone(), argv.program.clone());
        let (mut started, confinement) = tokio::task::spawn_blocking(move || {
            let confinement = started.prepare(&paths_copy, &program);
            (started, confinement)
        })
        .await
        .map_err(|err| DriverError::Security(format!("the confinement step failed: {err}")))?;
        let confinement = confinement?;
        // Taps, fixed leases and firewall rules: blocking too.
        let ports = {
            let driver = Arc::clone(self);
            let (def_copy, taps) = (def.clone(), argv.tap_interfaces.clone());
            tokio::task::spawn_blocking(move || driver.attach_ports(&def_copy, &taps))
                .await
                .map_err(|err| DriverError::Network(format!("the network step failed: {err}")))
                .and_then(|attached| attached)
        };
        let ports = match ports {
            Ok(ports) => ports,
            Err(err) => {
                let _ = tokio::task::spawn_blocking(move || started.undo()).await;
                return Err(err);
            }
        };
        let mut spec = LaunchSpec::new(argv, paths, *uuid);
        spec.confinement = Some(confinement);
        // QEMU holds the only fds of the taps: they vanish with it.
        spec.tap_fds = ports.fds;
        let running = match supervise::launch(spec, LaunchOptions::default()).await {
            Ok(running) => running,
            Err(err) => {
                let _ = tokio::task::spawn_blocking(move || started.undo()).await;
                let (driver, stopped) = (Arc::clone(self), *uuid);
                let _ = tokio::task::spawn_blocking(move || driver.release_ports(&stopped)).await;
                return Err(DriverError::Launch(chain(&err)));
            }
        };
        let security = started.finish();
        self.lifecycle
            .record_process_label(running.process.pid(), &security.labels);
        let (state, reason) = if paused {
            (DomainState::Paused, PAUSED_USER)
        } else {
            (DomainState::Running, RUNNING_BOOTED)
        };
        let summary = self.adopt(
            *uuid,
            running.process,
            running.qmp,
            running.events,
            security,
            (state, reason),
        );
        if let Some(summary) = &summary {
            self.emit(summary.clone(), EVENT_STARTED.0, EVENT_STARTED.1);
            if paused {
                self.emit(summary.clone(), EVENT_SUSPENDED.0, EVENT_SUSPENDED.1);
            }
        }
        summary.ok_or_else(|| DriverError::NoDomain {
            what: format!("uuid '{uuid}'"),
        })
    }

    /// Records a running QEMU for a guest and starts its watcher. `None` if the guest vanished
    /// meanwhile (the QEMU is then stopped).
    fn adopt(
        self: &Arc<Self>,
        uuid: Uuid,
        process: QemuProcess,
        qmp: QmpClient,
        events: QmpEvents,
        security: LiveSecurity,
        (state, reason): (DomainState, StateReason),
    ) -> Option<DomainSummary> {
        let process = Arc::new(process);
        let id = self.lifecycle.next_id.fetch_add(1, Ordering::Relaxed);
        let summary = {
            let mut registry = self.write();
            match registry.get_mut(&uuid) {
                Some(object) => {
                    object.state = state;
                    object.reason = reason;
                    object.id = Some(id);
                    Some(DomainSummary::from(&*object))
                }
                None => None,
            }
        };
        let (ended_tx, ended) = watch::channel(false);
        let guest = Arc::new(Guest {
            process: Arc::clone(&process),
            qmp,
            security,
            stop_cause: AtomicU8::new(StopCause::Unexpected as u8),
            ended,
        });
        if summary.is_none() {
            // The guest vanished meanwhile: stop the QEMU; the watcher undoes its confinement.
            let _ = process.kill();
        }
        lock(&self.lifecycle.guests).insert(uuid, Arc::clone(&guest));
        let driver = Arc::clone(self);
        tokio::spawn(async move {
            driver.watch(uuid, guest, events).await;
            let _ = ended_tx.send(true);
        });
        summary
    }

    /// Follows a guest's events until its QEMU ends, then records the end.
    async fn watch(self: Arc<Self>, uuid: Uuid, guest: Arc<Guest>, mut events: QmpEvents) {
        let mut guest_shutdown = false;
        let mut panicked = false;
        let exit = loop {
            tokio::select! {
                exit = guest.process.wait() => break exit,
                event = events.recv() => match event {
                    Some(event) => match event.kind() {
                        EventKind::Shutdown => {
                            let by_guest = event.by_guest().unwrap_or(false);
                            guest_shutdown |= by_guest;
                            if by_guest {
                                self.after_guest_poweroff(&uuid, &guest).await;
                            }
                        }
                        EventKind::GuestPanicked => panicked = true,
                        EventKind::Stop => self.set_paused(&uuid, PAUSED_UNKNOWN),
                        EventKind::Resume => self.set_running(&uuid, RUNNING_UNPAUSED),
                        _ => {}
                    },
                    // The monitor closed: QEMU is ending; the pidfd says when.
                    None => break guest.process.wait().await,
                },
            }
        };
        let cause = StopCause::from_u8(guest.stop_cause.load(Ordering::Relaxed));
        // virDomainShutoffReason and the STOPPED event's detail.
        let (reason, detail) = match cause {
            StopCause::Destroyed => (2, 1),
            StopCause::Unexpected if guest_shutdown && !panicked => (1, 0),
            StopCause::Unexpected => (3, 2),
        };
        match &exit {
            Ok(how) => tracing::info!(%uuid, exit = %how, reason, "guest stopped"),
            Err(err) => tracing::warn!(%uuid, err = %chain(err), "guest stopped; exit unknown"),
        }
        // Restoring files and draining the cgroup is blocking I/O: keep it off the thread that
        // serves every connection.
        {
            let driver = Arc::clone(&self);
            let guest = Arc::clone(&guest);
            let released = tokio::task::spawn_blocking(move || {
                driver.release_confinement(&guest.security, &PeerIdentity::daemon());
                driver.release_ports(&uuid);
            })
            .await;
            if let Err(err) = released {
                tracing::error!(%uuid, %err, "releasing the guest's confinement failed");
            }
        }
        lock(&self.lifecycle.guests).remove(&uuid);
        let summary = {
            let mut registry = self.write();
            let transient = registry.get(&uuid).is_some_and(|o| !o.persistent);
            let summary = registry.get_mut(&uuid).map(|object| {
                object.state = DomainState::Shutoff;
                object.reason = reason;
                object.id = None;
                DomainSummary::from(&*object)
            });
            if transient {
                registry.remove(&uuid);
            }
            summary
        };
        if let Some(summary) = summary {
            self.emit(summary, EVENT_STOPPED, detail);
        }
    }

    /// `<on_poweroff>` when QEMU was told not to exit (`-no-shutdown`): `restart` resets and
    /// resumes the guest; `preserve` keeps it paused, shutting down. For `destroy` QEMU exits by
    /// itself and the watcher records the end.
    async fn after_guest_poweroff(&self, uuid: &Uuid, guest: &Guest) {
        let action = self.read().get(uuid).map(|o| o.def.on_poweroff);
        match action {
            Some(LifecycleAction::Restart) => {
                let restarted = async {
                    guest.qmp.system_reset().await?;
                    guest.qmp.cont().await
                };
                match restarted.await {
                    Ok(_) => tracing::info!(%uuid, "guest powered off; restarted (on_poweroff)"),
                    Err(err) => {
                        tracing::warn!(%uuid, err = %chain(&err), "on_poweroff restart failed")
                    }
                }
            }
            Some(LifecycleAction::Preserve) => self.set_paused(uuid, PAUSED_SHUTTING_DOWN),
            _ => {}
        }
    }

    fn set_paused(&self, uuid: &Uuid, reason: StateReason) {
        let changed = {
            let mut registry = self.write();
            registry.get_mut(uuid).and_then(|object| {
                (object.state == DomainState::Running).then(|| {
                    object.state = DomainState::Paused;
                    object.reason = reason;
                    DomainSummary::from(&*object)
                })
            })
        };
        if let Some(summary) = changed {
            self.emit(summary, EVENT_SUSPENDED.0, EVENT_SUSPENDED.1);
        }
    }

    fn set_running(&self, uuid: &Uuid, reason: StateReason) {
        let changed = {
            let mut registry = self.write();
            registry.get_mut(uuid).and_then(|object| {
                (object.state == DomainState::Paused).then(|| {
                    object.state = DomainState::Running;
                    object.reason = reason;
                    DomainSummary::from(&*object)
                })
            })
        };
        if let Some(summary) = changed {
            self.emit(summary, EVENT_RESUMED.0, EVENT_RESUMED.1);
        }
    }

    /// Stops a guest at once: SIGTERM, then SIGKILL after a grace time. Returns when the guest
    /// is recorded as shut off.
    pub async fn destroy(
        &self,
        uuid: &Uuid,
        flags: u32,
        who: &PeerIdentity,
    ) -> Result<(), DriverError> {
        let result = self.destroy_inner(uuid, flags).await;
        self.audit.record_result(
            who,
            "DOMAIN_DESTROY",
            json!({"uuid": uuid.to_string()}),
            &result,
        );
        result
    }

    async fn destroy_inner(&self, uuid: &Uuid, flags: u32) -> Result<(), DriverError> {
        if flags & !DESTROY_GRACEFUL != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !DESTROY_GRACEFUL,
                function: "virDomainDestroyFlags",
            });
        }
        let guest = self.running_guest(uuid)?;
        guest
            .stop_cause
            .store(StopCause::Destroyed as u8, Ordering::Relaxed);
        let _ = guest.process.terminate();
        let grace = if flags & DESTROY_GRACEFUL != 0 {
            TERM_GRACE_GRACEFUL
        } else {
            TERM_GRACE
        };
        let mut ended = guest.ended.clone();
        if tokio::time::timeout(grace, ended.wait_for(|done| *done))
            .await
            .is_err()
        {
            if flags & DESTROY_GRACEFUL != 0 {
                return Err(DriverError::OperationInvalid(
                    "the guest did not stop within the grace time".into(),
                ));
            }
            guest
                .process
                .kill()
                .map_err(|e| DriverError::Launch(chain(&e)))?;
            let _ = ended.wait_for(|done| *done).await;
        }
        Ok(())
    }

    /// Presses the guest's ACPI power button; the guest shuts down by itself.
    pub async fn shutdown(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let guest = self.running_guest(uuid)?;
        guest
            .qmp
            .system_powerdown()
            .await
            .map(drop)
            .map_err(monitor_error)
    }

    /// Resets the guest (`virsh reboot` and `virsh reset`).
    pub async fn reset(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let guest = self.running_guest(uuid)?;
        guest
            .qmp
            .system_reset()
            .await
            .map(drop)
            .map_err(monitor_error)
    }

    /// Pauses the guest's vCPUs.
    pub async fn suspend(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let guest = self.running_guest(uuid)?;
        // Record the pause first, so the STOP event it causes finds it paused by the user.
        self.set_paused(uuid, PAUSED_USER);
        if let Err(err) = guest.qmp.stop().await {
            self.set_running(uuid, RUNNING_UNPAUSED);
            return Err(monitor_error(err));
        }
        Ok(())
    }

    /// Resumes the guest's vCPUs.
    pub async fn resume(&self, uuid: &Uuid) -> Result<(), DriverError> {
        let guest = self.running_guest(uuid)?;
        let was = self.state(uuid)?;
        self.set_running(uuid, RUNNING_UNPAUSED);
        if let Err(err) = guest.qmp.cont().await {
            if was.0 == DomainState::Paused {
                self.set_paused(uuid, was.1);
            }
            return Err(monitor_error(err));
        }
        Ok(())
    }

    /// CPU time used by a running guest's QEMU, in ns.
    pub fn cpu_time_ns(&self, uuid: &Uuid) -> u64 {
        self.lifecycle
            .guest(uuid)
            .and_then(|guest| {
                let stat =
                    std::fs::read_to_string(format!("/proc/{}/stat", guest.process.pid())).ok()?;
                let fields: Vec<&str> = stat
                    .get(stat.rfind(')')? + 2..)?
                    .split_whitespace()
                    .collect();
                let ticks: u64 =
                    fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
                let hz =
                    u64::try_from(nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??)
                        .ok()?;
                Some(ticks * 1_000_000_000 / hz.max(1))
            })
            .unwrap_or(0)
    }

    /// Finds the QEMUs of guests that were running when the daemon stopped.
    pub async fn reattach_all(self: &Arc<Self>) {
        self.recover_transient();
        let guests: Vec<(Uuid, String)> = self
            .read()
            .iter()
            .map(|o| (o.def.uuid, o.def.name.clone()))
            .collect();
        for (uuid, name) in guests {
            let Ok(paths) = RuntimePaths::for_guest(&self.run_dir, &self.state_dir, &name) else {
                continue;
            };
            match supervise::reattach(
                paths,
                uuid,
                std::path::Path::new("/proc"),
                Default::default(),
            )
            .await
            {
                Ok(Reattached::Running(running)) => {
                    let Some(security) =
                        self.reclaim_confinement(&uuid, &name, running.process.pid())
                    else {
                        let _ = running.process.kill();
                        let _ = running.process.wait().await;
                        continue;
                    };
                    let status = running.qmp.query_status().await.ok();
                    let paused = status
                        .as_ref()
                        .and_then(|s| s.get("running"))
                        .and_then(serde_json::Value::as_bool)
                        == Some(false);
                    let (state, reason) = if paused {
                        (DomainState::Paused, PAUSED_UNKNOWN)
                    } else {
                        (DomainState::Running, RUNNING_BOOTED)
                    };
                    self.adopt(
                        uuid,
                        running.process,
                        running.qmp,
                        running.events,
                        security,
                        (state, reason),
                    );
                    tracing::info!(domain = %name, "running guest found again");
                }
                Ok(Reattached::Gone) => {
                    self.release_stale(&uuid, &name);
                    self.forget_transient(&uuid);
                    self.release_ports(&uuid);
                }
                Err(err) => tracing::warn!(domain = %name, err = %chain(&err), "cannot reattach"),
            }
        }
    }

    /// Starts every autostart guest that is not running.
    pub async fn autostart_all(self: &Arc<Self>) {
        let wanted: Vec<(Uuid, String)> = self
            .read()
            .iter()
            .filter(|o| o.autostart && !o.state.is_active())
            .map(|o| (o.def.uuid, o.def.name.clone()))
            .collect();
        let daemon = PeerIdentity::daemon();
        for (uuid, name) in wanted {
            match self.start(&uuid, 0, &daemon).await {
                Ok(_) => tracing::info!(domain = %name, "autostarted"),
                Err(err) => tracing::error!(domain = %name, err = %chain(&err), "autostart failed"),
            }
        }
    }
}
