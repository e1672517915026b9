//! Launching QEMU, watching it, finding it again after a daemon restart, cleaning up after it.
//!
//! **Launch** ([`launch`]), the one place QEMU is started:
//!
//! 1. refuse if the pidfile names a live QEMU of this guest (call [`reattach`] first after a
//!    restart); remove stale runtime files; create the run directory (0700, owned by the
//!    guest's uid when confined: QEMU makes its sockets there) and the log directory;
//! 2. open the log file for appending (0600) and write a header with the command line;
//! 3. build the [`Command`] from the [`LaunchSpec`] (pure: [`LaunchSpec::command`]): empty
//!    environment but `LC_ALL=C`, stdin `/dev/null`, stdout and stderr to the log;
//!    when the launch is confined ([`Confinement`]), the command is `moat-jail` with the jail's
//!    spec on its stdin: it confines itself and executes QEMU in place, under the same pid;
//! 4. add the pre-exec child steps ([`jail`]): `setsid`, tap fds, the hook;
//! 5. spawn, open a pidfd for the child at once (it cannot be reaped before we do), and write
//!    the pidfile (outside the run directory, which the guest's QEMU can write);
//! 6. poll for the QMP socket every 5 ms until it accepts the handshake, while watching the
//!    pidfd: a QEMU that exits early (bad argument, missing kernel) fails the launch with the
//!    tail of its log; one that does not answer in [`LaunchOptions::ready_timeout`] is killed.
//!
//! QEMU is never started with `-daemonize` and never killed on drop: it outlives the daemon.
//!
//! **Watch**: [`QemuProcess::wait`] waits on the pidfd (readable when the process exits, for
//! children and non-children alike), reaps it when it is our child, and removes the runtime
//! files. It returns within a scheduler tick of the exit; nothing polls.
//!
//! **Reattach** ([`reattach`]), on daemon start-up, for a guest whose run directory exists:
//! read the pidfile, open a pidfd (which pins the pid), check `/proc/PID/cmdline` (under a
//! root parameter, for tests) names this guest's `-uuid`, then connect to the QMP socket. A
//! missing pidfile, a dead process or a pid that now belongs to something else means the guest
//! is gone: its runtime files are removed. A live QEMU whose monitor does not answer is killed,
//! as libvirt does, because it could not be controlled.
//!
//! [`become_subreaper`] makes the daemon the reaper of orphans below it (PID 1 on these hosts
//! reaps only every ~1.6 s).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domxml::model::Uuid;
use rustix::process::{Pid, PidfdFlags, Signal, WaitIdOptions};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;

use crate::argv::QemuArgv;
use crate::jail::{self, PreExecHook};
use crate::paths::RuntimePaths;
use crate::qmp::{QmpClient, QmpError, QmpEvents, QmpOptions};

/// How much of the log an early-exit error quotes.
pub const LOG_TAIL: u64 = 4096;

/// Interval between checks for the QMP socket during a launch.
const READY_POLL: Duration = Duration::from_millis(5);

/// Why a launch, watch or reattach failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuperviseError {
    /// A runtime or log directory could not be created.
    #[error("cannot create directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The log file could not be opened or written.
    #[error("cannot write QEMU log {path}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Tap fds could not be prepared for the child.
    #[error("cannot prepare the fds passed to QEMU")]
    PassFds {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The process could not be started (missing binary, or a pre-exec step failed).
    #[error("cannot start {program}")]
    Spawn {
        /// The emulator.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No pidfd could be opened for the process.
    #[error("cannot open a pidfd for process {pid}")]
    Pidfd {
        /// The process.
        pid: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Waiting for the process failed.
    #[error("cannot wait for QEMU process {pid}")]
    Wait {
        /// The process.
        pid: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A signal could not be sent.
    #[error("cannot signal QEMU process {pid}")]
    Signal {
        /// The process.
        pid: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A QEMU of this guest already runs (found from its pidfile); starting a second one would
    /// share its disks.
    #[error("a QEMU of this guest already runs as process {pid}")]
    AlreadyRunning {
        /// The running process.
        pid: i32,
    },
    /// QEMU exited before its monitor answered.
    #[error("QEMU exited during start-up ({status}); log {log}: {tail}")]
    EarlyExit {
        /// How it ended.
        status: QemuExit,
        /// The log file.
        log: PathBuf,
        /// The end of the log.
        tail: String,
    },
    /// QEMU's monitor did not answer in time; the process was killed.
    #[error("QEMU's monitor {path} did not answer within {after:?}; QEMU was killed")]
    NotReady {
        /// The QMP socket.
        path: PathBuf,
        /// The time waited.
        after: Duration,
    },
    /// A QMP exchange during launch or reattach failed.
    #[error("cannot talk to QEMU's monitor")]
    Monitor {
        /// Why.
        #[source]
        source: QmpError,
    },
    /// A reattached QEMU's monitor did not answer; the process was killed.
    #[error("QEMU process {pid} of a running guest has no working monitor; it was killed")]
    Unreachable {
        /// The process.
        pid: i32,
        /// Why.
        #[source]
        source: QmpError,
    },
    /// A file under /proc or the pidfile could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A runtime file could not be removed.
    #[error("cannot remove {path}")]
    Cleanup {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The jail's spec was refused or could not be handed over.
    #[error("cannot prepare the jail {program}: {reason}")]
    Jail {
        /// The jail program.
        program: PathBuf,
        /// Why.
        reason: String,
    },
    /// The run directory could not be handed to the guest's uid.
    #[error("cannot give {path} to uid {uid}")]
    Chown {
        /// The directory.
        path: PathBuf,
        /// The guest's uid.
        uid: u32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The pidfile could not be written.
    #[error("cannot write pidfile {path}")]
    Pidfile {
        /// The pidfile.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The daemon could not become a child subreaper.
    #[error("cannot become a child subreaper")]
    Subreaper {
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// How a QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QemuExit {
    /// It exited with this status (0 after a guest power-off or `quit`).
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It was not our child (found by [`reattach`] after a daemon restart), so its status is
    /// not ours to read.
    Unknown,
}

impl std::fmt::Display for QemuExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QemuExit::Exited(code) => write!(f, "exit status {code}"),
            QemuExit::Signaled(signal) => write!(f, "killed by signal {signal}"),
            QemuExit::Unknown => f.write_str("exit status unknown"),
        }
    }
}

/// Everything needed to start one QEMU, built purely before anything is spawned.
#[derive(Debug)]
pub struct LaunchSpec {
    /// The command line.
    pub argv: QemuArgv,
    /// The guest's runtime and log paths (the same ones given to [`crate::argv::build`]).
    pub paths: RuntimePaths,
    /// The guest's UUID (on the command line; checked on reattach).
    pub uuid: Uuid,
    /// One open tap per [`QemuArgv::tap_interfaces`] entry, in that order.
    pub tap_fds: Vec<OwnedFd>,
    /// The environment QEMU gets (the daemon's is not inherited).
    pub env: Vec<(OsString, OsString)>,
    /// How QEMU is confined; `None` starts it directly (only for tests of the plain path).
    pub confinement: Option<Confinement>,
}

/// QEMU started through `moat-jail`, which confines itself as its [`::jail::JailSpec`] says and
/// then executes QEMU in place (same pid).
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The `moat-jail` program.
    pub jail_binary: PathBuf,
    /// What the jail does. Its `program`, `args`, `env` and `passed_fds` are filled in from the
    /// launch spec; the rest (uid, binds, devices, cgroups, Landlock, seccomp) is the caller's.
    pub spec: ::jail::JailSpec,
}

impl LaunchSpec {
    /// A spec with no taps and the environment `LC_ALL=C`.
    pub fn new(argv: QemuArgv, paths: RuntimePaths, uuid: Uuid) -> Self {
        LaunchSpec {
            argv,
            paths,
            uuid,
            tap_fds: Vec::new(),
            env: vec![("LC_ALL".into(), "C".into())],
            confinement: None,
        }
    }

    /// The command to spawn: QEMU itself, or `moat-jail` with the full spec on its stdin.
    fn spawn_command(&self) -> Result<Command, SuperviseError> {
        let Some(confinement) = &self.confinement else {
            return Ok(self.command());
        };
        let mut spec = confinement.spec.clone();
        spec.program = self.argv.program.clone();
        spec.args = self.argv.args.clone();
        spec.env = self
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        spec.passed_fds = u32::try_from(self.tap_fds.len()).unwrap_or(u32::MAX);
        let mut command = ::jail::command(&confinement.jail_binary, &spec).map_err(|err| {
            SuperviseError::Jail {
                program: confinement.jail_binary.clone(),
                reason: crate::error_chain(&err),
            }
        })?;
        command.current_dir("/");
        Ok(command)
    }

    /// The command, without stdout/stderr (the log) and the pre-exec steps that [`launch`]
    /// adds. Pure: nothing is opened or spawned.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.argv.program);
        command
            .args(&self.argv.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::null());
        command
    }
}

/// Knobs of a launch.
#[derive(Debug, Default)]
pub struct LaunchOptions {
    /// QMP timeouts for the connection handed back.
    pub qmp: QmpOptions,
    /// How long QEMU may take to answer on its monitor (default 10 s; TCG on a loaded
    /// 2-core host answers in well under a second).
    pub ready_timeout: Option<Duration>,
    /// The confinement step for the child (isolation, issue 6).
    pub pre_exec: Option<PreExecHook>,
    /// Where `/proc` is, for the check that no QEMU of this guest runs yet (default `/proc`).
    pub proc_root: Option<PathBuf>,
}

/// A started (or found again) QEMU: its process and its monitor.
#[derive(Debug)]
pub struct RunningQemu {
    /// The process.
    pub process: QemuProcess,
    /// The monitor connection.
    pub qmp: QmpClient,
    /// Its events.
    pub events: QmpEvents,
}

/// What [`reattach`] found.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Reattached {
    /// QEMU is running and its monitor answered.
    Running(RunningQemu),
    /// No QEMU of this guest runs; stale runtime files were removed.
    Gone,
}

/// A QEMU process watched through a pidfd.
///
/// Share it (`Arc`) between the task that [`wait`](Self::wait)s and the code that kills it.
/// Dropping it neither kills nor reaps QEMU.
#[derive(Debug)]
pub struct QemuProcess {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    paths: RuntimePaths,
    exit: Mutex<Option<QemuExit>>,
}

impl QemuProcess {
    fn watch(pid: i32, paths: RuntimePaths) -> Result<Self, SuperviseError> {
        let pidfd_error = |source| SuperviseError::Pidfd { pid, source };
        let raw = Pid::from_raw(pid)
            .ok_or_else(|| pidfd_error(io::Error::from_raw_os_error(libc::ESRCH)))?;
        let fd = rustix::process::pidfd_open(raw, PidfdFlags::NONBLOCK)
            .map_err(|err| pidfd_error(err.into()))?;
        // SAFETY: `fd` is an OwnedFd moved into the AsyncFd: it is open, nothing else can close
        // it, and its raw number stays the same until the AsyncFd (and with it the fd) drops.
        let pidfd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|err| pidfd_error(err.into()))?;
        Ok(QemuProcess {
            pid,
            pidfd,
            paths,
            exit: Mutex::new(None),
        })
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The guest's runtime paths.
    pub fn paths(&self) -> &RuntimePaths {
        &self.paths
    }

    /// Waits until QEMU has exited, reaps it if it is our child, and removes its runtime files.
    /// Calling it again returns the same answer.
    pub async fn wait(&self) -> Result<QemuExit, SuperviseError> {
        if let Some(exit) = *lock(&self.exit) {
            return Ok(exit);
        }
        let mut guard = self
            .pidfd
            .readable()
            .await
            .map_err(|source| SuperviseError::Wait {
                pid: self.pid,
                source,
            })?;
        // The pidfd stays readable once the process has exited; keep the readiness.
        guard.retain_ready();
        drop(guard);
        let exit = self.reap()?;
        cleanup(&self.paths)?;
        Ok(exit)
    }

    /// Whether QEMU has exited (without waiting).
    pub fn has_exited(&self) -> bool {
        if lock(&self.exit).is_some() {
            return true;
        }
        let mut fds = [rustix::event::PollFd::new(
            self.pidfd.get_ref(),
            rustix::event::PollFlags::IN,
        )];
        matches!(rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default())), Ok(n) if n > 0)
    }

    fn reap(&self) -> Result<QemuExit, SuperviseError> {
        let mut slot = lock(&self.exit);
        if let Some(exit) = *slot {
            return Ok(exit);
        }
        let status = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.pidfd.get_ref().as_fd()),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        );
        let exit = match status {
            Ok(Some(status)) => {
                if let Some(code) = status.exit_status() {
                    QemuExit::Exited(code)
                } else if let Some(signal) = status.terminating_signal() {
                    QemuExit::Signaled(signal)
                } else {
                    QemuExit::Unknown
                }
            }
            // Exited but not yet collectable should not happen after readiness; treat it and
            // "not our child" alike: the status is not ours.
            Ok(None) => QemuExit::Unknown,
            Err(rustix::io::Errno::CHILD) => QemuExit::Unknown,
            Err(err) => {
                return Err(SuperviseError::Wait {
                    pid: self.pid,
                    source: err.into(),
                })
            }
        };
        *slot = Some(exit);
        Ok(exit)
    }

    /// Sends SIGKILL (through the pidfd, so never to a recycled pid).
    pub fn kill(&self) -> Result<(), SuperviseError> {
        self.signal(Signal::KILL)
    }

    /// Sends SIGTERM: QEMU stops the guest and exits (`virsh destroy --graceful`).
    pub fn terminate(&self) -> Result<(), SuperviseError> {
        self.signal(Signal::TERM)
    }

    fn signal(&self, signal: Signal) -> Result<(), SuperviseError> {
        match rustix::process::pidfd_send_signal(self.pidfd.get_ref(), signal) {
            // Already gone: nothing to do.
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(err) => Err(SuperviseError::Signal {
                pid: self.pid,
                source: err.into(),
            }),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts QEMU as described in the module doc and waits until its monitor answers.
pub async fn launch(
    spec: LaunchSpec,
    options: LaunchOptions,
) -> Result<RunningQemu, SuperviseError> {
    let paths = &spec.paths;
    let proc_root = options.proc_root.as_deref().unwrap_or(Path::new("/proc"));
    if let Some(running) = find_live(paths, spec.uuid, proc_root)? {
        return Err(SuperviseError::AlreadyRunning { pid: running.pid });
    }
    if let Some(parent) = paths.pidfile.parent() {
        create_dir(parent, 0o755)?;
    }
    remove_runtime_files(paths)?;
    create_dir(&paths.run_dir, 0o700)?;
    if let Some(confinement) = &spec.confinement {
        let (uid, gid) = (confinement.spec.uid, confinement.spec.gid);
        std::os::unix::fs::chown(&paths.run_dir, Some(uid), Some(gid)).map_err(|source| {
            SuperviseError::Chown {
                path: paths.run_dir.clone(),
                uid,
                source,
            }
        })?;
    }
    if let Some(parent) = paths.log_file.parent() {
        create_dir(parent, 0o700)?;
    }
    let log_error = |source| SuperviseError::Log {
        path: paths.log_file.clone(),
        source,
    };
    let mut log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&paths.log_file)
        .map_err(log_error)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    writeln!(log, "moat: starting QEMU at unix time {now}: {}", spec.argv).map_err(log_error)?;
    let stderr = log.try_clone().map_err(log_error)?;

    let passed = jail::prepare_passed_fds(&spec.tap_fds)
        .map_err(|source| SuperviseError::PassFds { source })?;
    let mut command = match spec.spawn_command() {
        Ok(command) => command,
        Err(err) => {
            cleanup(paths)?;
            return Err(err);
        }
    };
    command.stdout(log).stderr(stderr);
    jail::install(&mut command, &passed, options.pre_exec);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            cleanup(paths)?;
            return Err(SuperviseError::Spawn {
                program: spec.argv.program.clone(),
                source,
            });
        }
    };
    drop(command);
    drop(passed);
    let raw_pid = Pid::from_child(&child);
    let pid = raw_pid.as_raw_nonzero().get();
    // Dropping a std Child neither kills nor reaps; the pidfd below does the watching.
    drop(child);
    if let Err(source) = write_pidfile(&paths.pidfile, pid) {
        let _ = rustix::process::kill_process(raw_pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(raw_pid), rustix::process::WaitOptions::empty());
        cleanup(paths)?;
        return Err(SuperviseError::Pidfile {
            path: paths.pidfile.clone(),
            source,
        });
    }
    let process = match QemuProcess::watch(pid, spec.paths.clone()) {
        Ok(process) => process,
        Err(err) => {
            // Unwatched, it could not be controlled: stop it now. It is our child and
            // unreaped, so the pid is still its own.
            let _ = rustix::process::kill_process(raw_pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(raw_pid), rustix::process::WaitOptions::empty());
            cleanup(paths)?;
            return Err(err);
        }
    };
    tracing::info!(pid, qemu = %spec.argv, "QEMU started");

    let ready_timeout = options.ready_timeout.unwrap_or(Duration::from_secs(10));
    let deadline = Instant::now() + ready_timeout;
    loop {
        if process.has_exited() {
            let status = process.wait().await?;
            return Err(SuperviseError::EarlyExit {
                status,
                log: paths.log_file.clone(),
                tail: log_tail(&paths.log_file),
            });
        }
        if paths.qmp_socket.exists() {
            match QmpClient::connect(&paths.qmp_socket, options.qmp).await {
                Ok((qmp, events)) => {
                    return Ok(RunningQemu {
                        process,
                        qmp,
                        events,
                    })
                }
                // Not listening yet, or closing because QEMU is exiting: look again.
                Err(
                    QmpError::Connect { .. }
                    | QmpError::Io { .. }
                    | QmpError::Protocol { .. }
                    | QmpError::Disconnected { .. },
                ) => {}
                Err(source) => {
                    process.kill()?;
                    process.wait().await?;
                    return Err(SuperviseError::Monitor { source });
                }
            }
        }
        if Instant::now() >= deadline {
            process.kill()?;
            process.wait().await?;
            return Err(SuperviseError::NotReady {
                path: paths.qmp_socket.clone(),
                after: ready_timeout,
            });
        }
        tokio::select! {
            ready = process.pidfd.readable() => match ready {
                Ok(mut guard) => guard.retain_ready(),
                Err(_) => tokio::time::sleep(READY_POLL).await,
            },
            () = tokio::time::sleep(READY_POLL) => {}
        }
    }
}

/// Finds the QEMU of a guest again after a daemon restart (see the module doc).
///
/// `proc_root` is `/proc` outside tests. Another client must not hold the QMP connection:
/// QEMU serves one at a time, so a second one waits until the handshake times out.
pub async fn reattach(
    paths: RuntimePaths,
    uuid: Uuid,
    proc_root: &Path,
    qmp: QmpOptions,
) -> Result<Reattached, SuperviseError> {
    let Some(process) = find_live(&paths, uuid, proc_root)? else {
        cleanup(&paths)?;
        return Ok(Reattached::Gone);
    };
    match QmpClient::connect(&paths.qmp_socket, qmp).await {
        Ok((qmp, events)) => Ok(Reattached::Running(RunningQemu {
            process,
            qmp,
            events,
        })),
        Err(source) => {
            process.kill()?;
            process.wait().await?;
            Err(SuperviseError::Unreachable {
                pid: process.pid,
                source,
            })
        }
    }
}

/// The live QEMU of this guest named by its pidfile, if any: the pidfile holds a pid, a pidfd
/// opens for it (which pins the pid: it cannot be recycled while we look), its cmdline holds
/// `-uuid UUID`, and it has not exited.
fn find_live(
    paths: &RuntimePaths,
    uuid: Uuid,
    proc_root: &Path,
) -> Result<Option<QemuProcess>, SuperviseError> {
    let text = match fs::read_to_string(&paths.pidfile) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SuperviseError::Read {
                path: paths.pidfile.clone(),
                source,
            })
        }
    };
    let Some(pid) = text.trim().parse::<i32>().ok().filter(|pid| *pid > 0) else {
        tracing::warn!(pidfile = %paths.pidfile.display(), "garbage in pidfile; guest is gone");
        return Ok(None);
    };
    let process = match QemuProcess::watch(pid, paths.clone()) {
        Ok(process) => process,
        Err(SuperviseError::Pidfd { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => {
            return Ok(None)
        }
        Err(err) => return Err(err),
    };
    let cmdline_path = proc_root.join(pid.to_string()).join("cmdline");
    let cmdline = match fs::read(&cmdline_path) {
        Ok(cmdline) => cmdline,
        Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(SuperviseError::Read {
                path: cmdline_path,
                source,
            })
        }
    };
    if !cmdline_names_uuid(&cmdline, uuid) || process.has_exited() {
        tracing::info!(pid, "pidfile names no live QEMU of this guest");
        return Ok(None);
    }
    Ok(Some(process))
}

/// Whether a NUL-separated command line holds `-uuid UUID`.
fn cmdline_names_uuid(cmdline: &[u8], uuid: Uuid) -> bool {
    let wanted = uuid.to_string();
    let mut args = cmdline.split(|&b| b == 0);
    while let Some(arg) = args.next() {
        if arg == b"-uuid" {
            return args.next() == Some(wanted.as_bytes());
        }
    }
    false
}

/// Removes a guest's runtime files, its pidfile and its run directory with whatever the guest's
/// QEMU left in it (symlinks are removed, never followed); keeps the log.
pub fn cleanup(paths: &RuntimePaths) -> Result<(), SuperviseError> {
    remove_runtime_files(paths)?;
    match fs::remove_dir_all(&paths.run_dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SuperviseError::Cleanup {
            path: paths.run_dir.clone(),
            source,
        }),
    }
}

fn remove_runtime_files(paths: &RuntimePaths) -> Result<(), SuperviseError> {
    for file in paths.runtime_files() {
        match fs::remove_file(file) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SuperviseError::Cleanup {
                    path: file.to_owned(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Writes `pid` to `path` atomically (a temporary file renamed over it), mode 0644.
fn write_pidfile(path: &Path, pid: i32) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    writeln!(file, "{pid}")?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

fn create_dir(path: &Path, mode: u32) -> Result<(), SuperviseError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|source| SuperviseError::CreateDir {
            path: path.to_owned(),
            source,
        })
}

/// The last [`LOG_TAIL`] bytes of the log, lossily decoded; empty if unreadable.
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// Makes the calling process the reaper of orphaned descendants (`PR_SET_CHILD_SUBREAPER`),
/// so QEMUs whose intermediate parent died are reaped by the daemon at once rather than by
/// PID 1, which on these hosts reaps only every ~1.6 s.
pub fn become_subreaper() -> Result<(), SuperviseError> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|err| SuperviseError::Subreaper { source: err.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, RuntimePaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths =
            RuntimePaths::for_guest(&dir.path().join("run"), &dir.path().join("state"), "g")
                .unwrap();
        fs::create_dir_all(&paths.run_dir).unwrap();
        (dir, paths)
    }

    const UUID: &str = "c7a5fdbd-edaf-9455-926a-d65c16db1809";

    fn uuid() -> Uuid {
        UUID.parse().unwrap()
    }

    #[test]
    fn cmdline_must_hold_the_uuid_after_dash_uuid() {
        let good = format!("qemu-system-x86_64\0-name\0guest=g\0-uuid\0{UUID}\0-m\0size=1k\0");
        assert!(cmdline_names_uuid(good.as_bytes(), uuid()));
        let other = good.replace("c7a5", "0000");
        assert!(!cmdline_names_uuid(other.as_bytes(), uuid()));
        let elsewhere = format!("bash\0-c\0echo {UUID}\0");
        assert!(!cmdline_names_uuid(elsewhere.as_bytes(), uuid()));
        assert!(!cmdline_names_uuid(b"", uuid()));
    }

    #[tokio::test]
    async fn reattach_without_pidfile_is_gone_and_cleans_up() {
        let (_dir, paths) = fixture();
        fs::write(&paths.qmp_socket, "").unwrap();
        let channel = std::os::unix::net::UnixListener::bind(paths.channel_socket("x")).unwrap();
        drop(channel);
        let found = reattach(
            paths.clone(),
            uuid(),
            Path::new("/proc"),
            QmpOptions::default(),
        )
        .await
        .unwrap();
        assert!(matches!(found, Reattached::Gone));
        assert!(!paths.qmp_socket.exists());
        assert!(!paths.run_dir.exists());
    }

    #[tokio::test]
    async fn reattach_to_a_recycled_pid_is_gone_and_leaves_the_process_alone() {
        let (dir, paths) = fixture();
        // The pidfile names a live process (this test) whose cmdline is not this guest's QEMU.
        let me = std::process::id();
        fs::write(&paths.pidfile, format!("{me}\n")).unwrap();
        fs::write(&paths.qmp_socket, "").unwrap();
        let proc_root = dir.path().join("proc");
        fs::create_dir_all(proc_root.join(me.to_string())).unwrap();
        fs::write(
            proc_root.join(me.to_string()).join("cmdline"),
            "/usr/bin/sleep\x00100\x00",
        )
        .unwrap();
        let found = reattach(paths.clone(), uuid(), &proc_root, QmpOptions::default())
            .await
            .unwrap();
        assert!(matches!(found, Reattached::Gone));
        assert!(!paths.pidfile.exists() && !paths.qmp_socket.exists());
    }

    #[tokio::test]
    async fn reattach_to_a_dead_pid_or_garbage_is_gone() {
        let (_dir, paths) = fixture();
        // pid_max is at most 2^22, so this pid never exists.
        fs::write(&paths.pidfile, "99999999\n").unwrap();
        let found = reattach(
            paths.clone(),
            uuid(),
            Path::new("/proc"),
            QmpOptions::default(),
        )
        .await
        .unwrap();
        assert!(matches!(found, Reattached::Gone));
        fs::create_dir_all(&paths.run_dir).unwrap();
        fs::write(&paths.pidfile, "not a pid").unwrap();
        let found = reattach(
            paths.clone(),
            uuid(),
            Path::new("/proc"),
            QmpOptions::default(),
        )
        .await
        .unwrap();
        assert!(matches!(found, Reattached::Gone));
        assert!(!paths.run_dir.exists());
    }

    #[tokio::test]
    async fn exit_status_of_a_child_is_reaped_and_files_removed() {
        let (_dir, paths) = fixture();
        fs::write(&paths.pidfile, "1").unwrap();
        let child = Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let process =
            QemuProcess::watch(i32::try_from(child.id()).unwrap(), paths.clone()).unwrap();
        // Reaped through the pidfd, not through `child`.
        drop(child);
        assert_eq!(process.wait().await.unwrap(), QemuExit::Exited(7));
        assert_eq!(process.wait().await.unwrap(), QemuExit::Exited(7));
        assert!(process.has_exited());
        assert!(!paths.pidfile.exists() && !paths.run_dir.exists());
    }

    #[tokio::test]
    async fn a_killed_child_reports_the_signal() {
        let (_dir, paths) = fixture();
        let child = Command::new("/bin/sleep").arg("100").spawn().unwrap();
        let process = QemuProcess::watch(i32::try_from(child.id()).unwrap(), paths).unwrap();
        drop(child);
        assert!(!process.has_exited());
        process.kill().unwrap();
        assert_eq!(process.wait().await.unwrap(), QemuExit::Signaled(9));
        // Signalling an exited process is not an error.
        process.kill().unwrap();
    }

    #[tokio::test]
    async fn a_second_launch_of_a_running_guest_is_refused() {
        let (dir, paths) = fixture();
        // The pidfile names a live process (this test) whose cmdline holds the guest's uuid.
        let me = std::process::id();
        fs::write(&paths.pidfile, me.to_string()).unwrap();
        fs::write(&paths.qmp_socket, "").unwrap();
        let proc_root = dir.path().join("proc");
        fs::create_dir_all(proc_root.join(me.to_string())).unwrap();
        fs::write(
            proc_root.join(me.to_string()).join("cmdline"),
            format!("qemu-system-x86_64\0-uuid\0{UUID}\0"),
        )
        .unwrap();
        let argv = QemuArgv {
            program: "/bin/true".into(),
            args: vec![],
            accel: crate::argv::Accel::Tcg,
            tap_interfaces: vec![],
        };
        let options = LaunchOptions {
            proc_root: Some(proc_root),
            ..LaunchOptions::default()
        };
        let err = launch(LaunchSpec::new(argv, paths.clone(), uuid()), options)
            .await
            .unwrap_err();
        let expected = format!("a QEMU of this guest already runs as process {me}");
        assert_eq!(err.to_string(), expected);
        assert!(
            paths.qmp_socket.exists(),
            "the running QEMU's files must stay"
        );
    }

    #[tokio::test]
    async fn a_qemu_that_never_answers_is_killed_after_the_ready_timeout() {
        let (_dir, paths) = fixture();
        let argv = QemuArgv {
            program: "/bin/sleep".into(),
            args: vec!["100".into()],
            accel: crate::argv::Accel::Tcg,
            tap_interfaces: vec![],
        };
        let options = LaunchOptions {
            ready_timeout: Some(Duration::from_millis(200)),
            ..LaunchOptions::default()
        };
        let err = launch(LaunchSpec::new(argv, paths.clone(), uuid()), options)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SuperviseError::NotReady { ref path, .. } if *path == paths.qmp_socket),
            "{err}"
        );
        assert!(!paths.run_dir.exists());
    }

    #[test]
    fn the_command_gets_the_argv_and_nothing_of_the_daemons_environment() {
        let (_dir, paths) = fixture();
        let argv = QemuArgv {
            program: "/usr/bin/qemu-system-x86_64".into(),
            args: vec!["-name".into(), "guest=g".into()],
            accel: crate::argv::Accel::Tcg,
            tap_interfaces: vec![],
        };
        let command = LaunchSpec::new(argv, paths, uuid()).command();
        assert_eq!(command.get_program(), "/usr/bin/qemu-system-x86_64");
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["-name", "guest=g"]);
        let env: Vec<_> = command.get_envs().collect();
        assert_eq!(
            env,
            [(
                std::ffi::OsStr::new("LC_ALL"),
                Some(std::ffi::OsStr::new("C"))
            )]
        );
        assert_eq!(command.get_current_dir(), Some(Path::new("/")));
    }

    #[test]
    fn the_daemon_can_become_a_subreaper() {
        become_subreaper().unwrap();
        assert!(rustix::process::child_subreaper().unwrap().is_some());
    }

    #[tokio::test]
    async fn a_missing_emulator_fails_the_launch_by_name() {
        let (_dir, paths) = fixture();
        let argv = QemuArgv {
            program: "/nonexistent/qemu".into(),
            args: vec![],
            accel: crate::argv::Accel::Tcg,
            tap_interfaces: vec![],
        };
        let err = launch(
            LaunchSpec::new(argv, paths, uuid()),
            LaunchOptions::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "cannot start /nonexistent/qemu");
    }

    #[tokio::test]
    async fn an_early_exit_quotes_the_log() {
        let (_dir, paths) = fixture();
        let argv = QemuArgv {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "echo 'qemu: bad option' >&2; exit 1".into()],
            accel: crate::argv::Accel::Tcg,
            tap_interfaces: vec![],
        };
        let log = paths.log_file.clone();
        let err = launch(
            LaunchSpec::new(argv, paths, uuid()),
            LaunchOptions::default(),
        )
        .await
        .unwrap_err();
        match err {
            SuperviseError::EarlyExit { status, tail, .. } => {
                assert_eq!(status, QemuExit::Exited(1));
                assert!(tail.ends_with("qemu: bad option"), "{tail}");
                assert!(tail.starts_with("moat: starting QEMU"), "{tail}");
            }
            other => panic!("unexpected {other}"),
        }
        assert!(log.exists());
    }
}
