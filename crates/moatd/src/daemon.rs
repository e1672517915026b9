//! Start-up and shutdown: directories, configuration, store, sockets, and reload on SIGHUP.

use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::access::{Access, AccessError};
use crate::audit::{AuditError, AuditLog};
use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::conn::Shared;
use crate::driver::lifecycle::Lifecycle;
use crate::driver::node::Emulator;
use crate::driver::{Driver, DriverError};
use crate::hostinfo::HostInfo;
use crate::listen::{self, ListenError};
use crate::server::{self, Limits, Listeners, TlsListener};
use crate::store::{DomainStore, StoreError};
use crate::tls::{TlsError, TlsState};

/// Name of the read-write socket in the run directory.
pub const SOCKET_RW: &str = "moat-sock";
/// Name of the read-only socket in the run directory.
pub const SOCKET_RO: &str = "moat-sock-ro";

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A directory could not be created.
    #[error("cannot create directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state directory is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log cannot be opened.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The access drivers cannot be set up.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The stored definitions cannot be read.
    #[error("cannot load stored definitions")]
    Load(#[source] DriverError),
    /// A socket cannot be set up.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The security stack cannot work on this host as configured.
    #[error("cannot set up the security drivers")]
    Security(#[source] security::StackError),
    /// The TLS certificates, key or revocation lists are unusable.
    #[error("cannot set up TLS (listen_tls)")]
    Tls(#[source] TlsError),
    /// The TLS port cannot be bound.
    #[error("cannot listen for TLS clients on {address} port {port}")]
    BindTls {
        /// `listen_addr`, or "every interface".
        address: String,
        /// `tls_port`.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The jail program is missing.
    #[error(
        "the jail program {path} does not exist; build it (cargo build -p jail) or set jail_binary"
    )]
    NoJail {
        /// Where it was looked for.
        path: PathBuf,
    },
}

/// Builds the security stack the configuration asks for on this host.
fn security_stack(
    config: &Config,
) -> Result<(security::SecurityStack, Option<security::FakeContext>), StartError> {
    let fake = config
        .selinux_test_context
        .as_deref()
        .map(security::FakeContext::new);
    let selinux: Option<Box<dyn security::ProcessContext>> = match &fake {
        Some(fake) => {
            tracing::warn!(context = ?config.selinux_test_context,
                "selinux_test_context is set: SELinux is simulated for tests; \
                QEMU's process label is recorded, not applied");
            Some(Box::new(fake.clone()))
        }
        None => security::KernelContext::probe()
            .map(|c| Box::new(c) as Box<dyn security::ProcessContext>),
    };
    let landlock_abi = jail::landlock_abi();
    let host = security::HostSecurity {
        selinux,
        landlock_abi,
        proc_root: PathBuf::from("/proc"),
        passwd_root: PathBuf::from("/"),
    };
    let settings = security::SecurityConfig {
        drivers: config.security_driver.clone(),
        default_confined: config.security_default_confined,
        require_confined: config.security_require_confined,
        dynamic_ownership: config.dynamic_ownership,
        remember_owner: config.remember_owner,
        guest_ids: config.guest_ids.clone(),
        privileged: rustix::process::geteuid().is_root(),
    };
    let stack = security::SecurityStack::new(&settings, host).map_err(StartError::Security)?;
    tracing::info!(
        primary = stack.primary_model(),
        models = ?stack.models().iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        landlock_abi = ?landlock_abi,
        "security drivers"
    );
    Ok((stack, fake))
}

/// `moat-jail` beside the running `moatd`, else in /usr/libexec.
fn jail_binary(config: &Config) -> Result<PathBuf, StartError> {
    let path = config.jail_binary.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("moat-jail")))
            .filter(|candidate| candidate.exists())
            .unwrap_or_else(|| PathBuf::from("/usr/libexec/moat-jail"))
    });
    if path.exists() {
        Ok(path)
    } else {
        Err(StartError::NoJail { path })
    }
}

/// Where the daemon keeps things.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Sockets (`--run-dir`).
    pub run_dir: PathBuf,
    /// Definitions, audit log (`--state-dir`).
    pub state_dir: PathBuf,
    /// The configuration file (`--config`); `None` uses the embedded defaults.
    pub config: Option<PathBuf>,
}

impl Paths {
    /// Paths from the command line.
    pub fn new(run_dir: PathBuf, state_dir: PathBuf, config: Option<PathBuf>) -> Self {
        Self {
            run_dir,
            state_dir,
            config,
        }
    }

    /// The read-write socket.
    pub fn socket_rw(&self) -> PathBuf {
        self.run_dir.join(SOCKET_RW)
    }

    /// The read-only socket.
    pub fn socket_ro(&self) -> PathBuf {
        self.run_dir.join(SOCKET_RO)
    }
}

/// A started daemon, listening.
#[derive(Debug)]
pub struct Daemon {
    paths: Paths,
    listeners: Listeners,
    shared: Arc<Shared>,
    limits: Arc<Limits>,
    tls: Option<Arc<TlsState>>,
}

/// Reads the TLS files and binds the TLS port, when `listen_tls` is on.
async fn bind_tls(settings: &crate::config::TlsConfig) -> Result<Option<TlsListener>, StartError> {
    if !settings.listen {
        return Ok(None);
    }
    if let Some(priority) = &settings.priority {
        tracing::info!(
            priority,
            "tls_priority is not applied: rustls offers TLS 1.3 and 1.2 \
            with its own fixed set of safe cipher suites"
        );
    }
    let state = Arc::new(TlsState::load(settings).map_err(StartError::Tls)?);
    let port = settings.port;
    let listener = match &settings.listen_addr {
        Some(addr) => tokio::net::TcpListener::bind((addr.as_str(), port)).await,
        // Every interface, IPv6 and IPv4; IPv4 alone where IPv6 is off.
        None => match tokio::net::TcpListener::bind(("::", port)).await {
            Ok(listener) => Ok(listener),
            Err(_) => tokio::net::TcpListener::bind(("0.0.0.0", port)).await,
        },
    }
    .map_err(|source| StartError::BindTls {
        address: settings
            .listen_addr
            .clone()
            .unwrap_or_else(|| "every interface".into()),
        port,
        source,
    })?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, ca = %settings.ca_file.display(),
            cert = %settings.cert_file.display(), "moatd listening for TLS clients");
    }
    Ok(Some(TlsListener { listener, state }))
}

fn make_dir(path: &Path, mode: u32) -> Result<(), StartError> {
    let fail = |source| StartError::Dir {
        path: path.to_owned(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

impl Daemon {
    /// Reads the configuration and stored definitions and binds the sockets.
    pub async fn start(paths: Paths) -> Result<Self, StartError> {
        let config = Config::load(paths.config.as_deref())?;
        for option in &config.ignored {
            tracing::info!(
                option,
                "configuration option accepted but not used by moatd"
            );
        }
        make_dir(&paths.run_dir, 0o755)?;
        make_dir(&paths.state_dir, 0o700)?;
        let store = DomainStore::open(&paths.state_dir)?;
        let audit = AuditLog::open(&paths.state_dir.join("audit.log"))?;
        let emulator = Emulator::probe(&std::env::var("PATH").unwrap_or_default());
        match &emulator.path {
            Some(path) => tracing::info!(emulator = %path.display(), version = emulator.version),
            None => tracing::warn!("no QEMU emulator found on PATH"),
        }
        if let Err(err) = qemu::supervise::become_subreaper() {
            tracing::warn!(err = %crate::errors::chain(&err), "QEMU exits may be noticed late");
        }
        let driver = Driver::new(
            config.clone(),
            store,
            audit,
            HostInfo::new("/"),
            (paths.run_dir.clone(), paths.state_dir.clone()),
            Lifecycle::probe(
                emulator.path.as_deref(),
                security_stack(&config)?,
                jail_binary(&config)?,
            ),
        );
        let report = driver.load().map_err(StartError::Load)?;
        for skipped in &report.skipped {
            tracing::error!(path = %skipped.path.display(), reason = %skipped.reason,
                "stored definition skipped (left in place)");
        }
        tracing::info!(
            loaded = report.loaded,
            skipped = report.skipped.len(),
            "definitions loaded"
        );
        if let Err(err) = driver.networks_start_up() {
            tracing::error!(err = %crate::errors::chain(&err), "networks could not all be restored");
        }
        let storage = driver
            .storage()
            .load(config.image_dirs.first().map(PathBuf::as_path))
            .map_err(|e| StartError::Load(e.into()))?;
        for skipped in &storage.skipped {
            tracing::error!(path = %skipped.path.display(), reason = %skipped.reason,
                "stored pool definition skipped (left in place)");
        }
        for (pool, reason) in &storage.not_started {
            tracing::warn!(pool = %pool, reason = %reason, "storage pool not started");
        }
        let driver = Arc::new(driver);
        driver.reattach_all().await;
        let gid = config
            .unix_sock_group
            .as_deref()
            .map(listen::group_id)
            .transpose()?;
        // The TLS port first: once the UNIX socket answers, every listener is ready.
        let tls = bind_tls(&config.tls).await?;
        let listeners = Listeners {
            read_write: listen::bind(&paths.socket_rw(), config.unix_sock_rw_perms, gid)?,
            read_only: listen::bind(&paths.socket_ro(), config.unix_sock_ro_perms, gid)?,
            tls,
        };
        // One polkit client (it connects on first use) for both connection authentication and
        // the polkit access driver.
        let authority: Arc<dyn acl::polkit::Authority> =
            Arc::new(acl::polkit::SystemBusAuthority::new());
        let access = Arc::new(Access::from_config(&config, &authority)?);
        if access.enabled() {
            tracing::info!(rules = %config.access_rules_file.display(), "access control on");
        }
        let auth = Arc::new(Authenticator::new(&config, Some(authority)));
        if auth.uses_polkit() {
            tracing::info!(rw = ?config.auth_unix_rw, ro = ?config.auth_unix_ro,
                "polkit authentication on");
        }
        let shared = Arc::new(Shared {
            driver,
            access,
            auth,
            emulator: Arc::new(emulator),
            max_client_requests: config.max_client_requests,
            keepalive_interval: config.keepalive_interval,
            keepalive_count: config.keepalive_count,
        });
        let limits = Arc::new(Limits {
            max_clients: config.max_clients.into(),
        });
        tracing::info!(socket = %paths.socket_rw().display(), "moatd listening");
        let tls = listeners.tls.as_ref().map(|tls| Arc::clone(&tls.state));
        Ok(Self {
            paths,
            listeners,
            shared,
            limits,
            tls,
        })
    }

    /// The bound TLS address, when `listen_tls` is on.
    pub fn tls_address(&self) -> Option<std::net::SocketAddr> {
        self.listeners
            .tls
            .as_ref()
            .and_then(|tls| tls.listener.local_addr().ok())
    }

    /// The driver, for in-process use.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.shared.driver
    }

    /// A handle that reloads the configuration (SIGHUP).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            paths: self.paths.clone(),
            limits: Arc::clone(&self.limits),
            access: Arc::clone(&self.shared.access),
            tls: self.tls.clone(),
            driver: Arc::clone(&self.shared.driver),
        }
    }

    /// Serves until `shutdown` resolves, then removes the sockets. Autostart guests are started
    /// as the daemon begins to serve. Running guests are left running (a restarted daemon finds
    /// them again).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let driver = Arc::clone(&self.shared.driver);
        tokio::spawn(async move { driver.autostart_all().await });
        server::run(
            self.listeners,
            self.shared,
            self.limits,
            PathBuf::from("/proc"),
            shutdown,
        )
        .await;
        for socket in [self.paths.socket_rw(), self.paths.socket_ro()] {
            let _ = std::fs::remove_file(socket);
        }
        tracing::info!("moatd stopped");
    }
}

/// Re-reads the configuration and applies what can change while running.
#[derive(Debug, Clone)]
pub struct Reloader {
    paths: Paths,
    limits: Arc<Limits>,
    access: Arc<Access>,
    tls: Option<Arc<TlsState>>,
    driver: Arc<Driver>,
}

impl Reloader {
    /// Applies socket modes and group and `max_clients`, re-reads the access rules and the
    /// TLS certificates, key and CRLs (with the TLS file options of the new configuration if it
    /// loads), and re-installs Moat's firewall tables (which a host firewall reload may have
    /// flushed); other options take effect at the next start. A bad configuration, rules or
    /// certificate file is reported and the running one kept.
    pub fn reload(&self) {
        if let Err(err) = self.driver.reapply_firewall() {
            tracing::error!(err = %crate::errors::chain(&err), "cannot re-install the firewall");
        }
        match self.access.reload_rules() {
            Ok(()) => tracing::info!("access rules reloaded"),
            Err(err) => tracing::error!(err = %crate::errors::chain(&err),
                "access rules reload failed; keeping the rules in force"),
        }
        let loaded = Config::load(self.paths.config.as_deref());
        if let Some(tls) = &self.tls {
            let settings = loaded.as_ref().ok().map(|config| &config.tls);
            match tls.reload(settings) {
                Ok(()) => tracing::info!("TLS certificates reloaded"),
                Err(err) => tracing::error!(err = %crate::errors::chain(&err),
                    "TLS certificate reload failed; keeping the certificates in force"),
            }
        }
        let config = match loaded {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(err = %crate::errors::chain(&err),
                    "configuration reload failed; keeping the running configuration");
                return;
            }
        };
        let gid = match config
            .unix_sock_group
            .as_deref()
            .map(listen::group_id)
            .transpose()
        {
            Ok(gid) => gid,
            Err(err) => {
                tracing::error!(%err, "configuration reload failed; keeping the running configuration");
                return;
            }
        };
        for (path, mode) in [
            (self.paths.socket_rw(), config.unix_sock_rw_perms),
            (self.paths.socket_ro(), config.unix_sock_ro_perms),
        ] {
            if let Err(err) = listen::apply_mode(&path, mode, gid) {
                tracing::error!(err = %crate::errors::chain(&err), "cannot apply socket mode");
            }
        }
        self.limits
            .max_clients
            .store(config.max_clients, Ordering::Relaxed);
        tracing::info!("configuration reloaded (socket modes, group, max_clients)");
    }
}
