//! Accepting clients on the two UNIX sockets and the TLS port.
//!
//! [`run`] takes the listeners and a shutdown future (mini-redis `server::run`): it accepts until
//! the future resolves, identifies each client (socket credentials, or the certificate checked
//! in the TLS handshake, see [`crate::tls`]), refuses clients past `max_clients`, and serves each
//! on its own task. On shutdown every connection is told to close.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;

use crate::audit::Outcome;
use crate::conn::{self, Shared, SocketKind};
use crate::errors;
use crate::identity::PeerIdentity;
use crate::tls::{self, TlsState};

/// Longest a TLS client may take to complete its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The audit log's name for a TLS handshake (not a libvirt procedure).
pub const AUDIT_TLS_HANDSHAKE: &str = "TLS_HANDSHAKE";

/// Refused TLS handshakes logged and audited one by one per second; beyond that they are
/// counted and reported in one record, so that a flood of bad clients cannot fill the disk.
pub const REFUSALS_LOGGED_PER_SECOND: u32 = 20;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefusalRecord {
    /// Log and audit it; `suppressed` refusals of the last full window went unrecorded.
    Record { suppressed: u32 },
    /// Count it only.
    Suppress,
}

/// A one-second window counting refusals (Firecracker's rate-limited logging, simplified).
#[derive(Debug)]
struct RefusalBudget {
    window: std::sync::Mutex<(std::time::Instant, u32, u32)>,
}

impl RefusalBudget {
    fn new(now: std::time::Instant) -> Self {
        Self {
            window: std::sync::Mutex::new((now, 0, 0)),
        }
    }

    fn admit(&self, now: std::time::Instant) -> RefusalRecord {
        let mut guard = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, recorded, suppressed) = &mut *guard;
        let mut carried = 0;
        if now.duration_since(*start) >= Duration::from_secs(1) {
            carried = std::mem::take(suppressed);
            *start = now;
            *recorded = 0;
        }
        if *recorded < REFUSALS_LOGGED_PER_SECOND {
            *recorded += 1;
            RefusalRecord::Record {
                suppressed: carried,
            }
        } else {
            // Reported with the first refusal recorded after this window.
            *suppressed = suppressed.saturating_add(1);
            RefusalRecord::Suppress
        }
    }
}

/// The daemon's listening sockets.
#[derive(Debug)]
pub struct Listeners {
    /// `moat-sock`.
    pub read_write: UnixListener,
    /// `moat-sock-ro`.
    pub read_only: UnixListener,
    /// The TLS port, when `listen_tls` is on.
    pub tls: Option<TlsListener>,
}

/// The TLS port and the configuration its handshakes use.
#[derive(Debug)]
pub struct TlsListener {
    /// The bound port.
    pub listener: TcpListener,
    /// Certificates, key and client checks (reloaded on SIGHUP).
    pub state: Arc<TlsState>,
}

/// A client accepted on any listener.
enum Accepted {
    Unix(UnixStream, SocketKind),
    Tcp(TcpStream, SocketAddr),
}

/// Limits that a configuration reload may change.
#[derive(Debug)]
pub struct Limits {
    /// Most clients at once.
    pub max_clients: AtomicUsize,
}

/// Serves clients until `shutdown` resolves.
pub async fn run(
    listeners: Listeners,
    shared: Arc<Shared>,
    limits: Arc<Limits>,
    proc_root: PathBuf,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let clients = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(RefusalBudget::new(std::time::Instant::now()));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listeners.read_write.accept() => {
                a.map(|(stream, _)| Accepted::Unix(stream, SocketKind::ReadWrite))
            }
            a = listeners.read_only.accept() => {
                a.map(|(stream, _)| Accepted::Unix(stream, SocketKind::ReadOnly))
            }
            a = accept_tcp(listeners.tls.as_ref()) => {
                a.map(|(stream, address)| Accepted::Tcp(stream, address))
            }
        };
        let accepted = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and kin: keep serving the clients we have.
                tracing::warn!(?err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let max = limits.max_clients.load(Ordering::Relaxed);
        if clients.load(Ordering::Relaxed) >= max {
            tracing::warn!(max, "refusing client: max_clients reached");
            drop(accepted);
            continue;
        }
        match accepted {
            Accepted::Unix(stream, socket) => {
                let Some(identity) = identify(&stream, &proc_root) else {
                    tracing::warn!("refusing client: no peer credentials");
                    continue;
                };
                let slot = ClientSlot::take(&clients);
                let shared = Arc::clone(&shared);
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let (read_half, write_half) = stream.into_split();
                    conn::serve(read_half, write_half, identity, socket, shared, stopped).await;
                    drop(slot);
                });
            }
            Accepted::Tcp(stream, address) => {
                let Some(tls) = listeners.tls.as_ref() else {
                    continue;
                };
                let slot = ClientSlot::take(&clients);
                let acceptor = tls.state.acceptor();
                let refusals = Arc::clone(&refusals);
                let shared = Arc::clone(&shared);
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    serve_tls(stream, address, acceptor, shared, stopped, refusals).await;
                    drop(slot);
                });
            }
        }
    }
    let _ = stop.send(true);
}

async fn accept_tcp(tls: Option<&TlsListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match tls {
        Some(tls) => tls.listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Completes the handshake (the certificate checks run inside it), sends libvirt's one-byte
/// confirmation, and serves the connection. A refusal is logged and audited with its reason.
async fn serve_tls(
    stream: TcpStream,
    address: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
    refusals: Arc<RefusalBudget>,
) {
    let _ = stream.set_nodelay(true);
    let refuse = |reason: String, dn: Option<String>| {
        let RefusalRecord::Record { suppressed } = refusals.admit(std::time::Instant::now()) else {
            return;
        };
        let who = PeerIdentity::remote(address, dn);
        tracing::warn!(client = %who, reason, suppressed, "TLS client refused");
        let mut object = json!({"transport": "tls"});
        if suppressed > 0 {
            object["refusals_not_recorded"] = suppressed.into();
        }
        shared.driver.audit().record(
            &who,
            AUDIT_TLS_HANDSHAKE,
            object,
            Outcome::Error(&format!("refused: {reason}")),
        );
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
    let mut stream = match handshake {
        Err(_) => return refuse("handshake timed out".into(), None),
        Ok(Err(err)) => {
            let (reason, dn) = handshake_failure(&err);
            return refuse(reason, dn);
        }
        Ok(Ok(stream)) => stream,
    };
    let dn = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| tls::distinguished_name(cert));
    let Some(dn) = dn else {
        // The verifier parsed the certificate already; this cannot happen short of a bug.
        return refuse(
            "no readable client certificate after the handshake".into(),
            None,
        );
    };
    let identity = PeerIdentity::remote(address, Some(dn));
    if let Err(err) = confirm(&mut stream).await {
        tracing::debug!(client = %identity, ?err, "TLS client left before the confirmation");
        return;
    }
    tracing::info!(client = %identity, "TLS client accepted");
    shared.driver.audit().record(
        &identity,
        AUDIT_TLS_HANDSHAKE,
        json!({"transport": "tls"}),
        Outcome::Ok,
    );
    let (read_half, write_half) = tokio::io::split(stream);
    conn::serve(
        read_half,
        write_half,
        identity,
        SocketKind::Tls,
        shared,
        stopped,
    )
    .await;
}

/// libvirt's check byte: after a successful handshake and certificate check the server writes
/// `1` to the TLS stream, and the client reads it before anything else.
async fn confirm<S: AsyncWriteExt + Unpin>(stream: &mut S) -> std::io::Result<()> {
    stream.write_all(&[1]).await?;
    stream.flush().await
}

/// The reason a handshake failed, and the certificate's name if the failure was a refusal of a
/// certificate that could be read.
fn handshake_failure(err: &std::io::Error) -> (String, Option<String>) {
    let refused = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|tls| match tls {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                other.0.downcast_ref::<tls::ClientRefused>()
            }
            _ => None,
        });
    match refused {
        Some(refused) => (errors::chain(&refused.reason), Some(refused.dn.clone())),
        None => (errors::chain(err), None),
    }
}

/// Gives the client's slot back when its task ends, however it ends.
struct ClientSlot(Arc<AtomicUsize>);

impl ClientSlot {
    fn take(clients: &Arc<AtomicUsize>) -> Self {
        clients.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(clients))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn identify(stream: &UnixStream, proc_root: &std::path::Path) -> Option<PeerIdentity> {
    let cred = stream.peer_cred().ok()?;
    Some(PeerIdentity::from_credentials(
        cred.uid(),
        cred.gid(),
        cred.pid(),
        proc_root,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn refusals_past_the_budget_are_counted_and_reported_with_the_next_one() {
        let start = Instant::now();
        let budget = RefusalBudget::new(start);
        for _ in 0..REFUSALS_LOGGED_PER_SECOND {
            assert_eq!(budget.admit(start), RefusalRecord::Record { suppressed: 0 });
        }
        for _ in 0..5 {
            assert_eq!(budget.admit(start), RefusalRecord::Suppress);
        }
        let later = start + Duration::from_millis(1500);
        assert_eq!(budget.admit(later), RefusalRecord::Record { suppressed: 5 });
        assert_eq!(budget.admit(later), RefusalRecord::Record { suppressed: 0 });
    }
}
