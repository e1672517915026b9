//! Accepting clients on the two sockets.
//!
//! [`run`] takes the listeners and a shutdown future (mini-redis `server::run`): it accepts until
//! the future resolves, identifies each client from its socket credentials, refuses clients past
//! `max_clients`, and serves each on its own task. On shutdown every connection is told to close.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::conn::{self, Shared, SocketKind};
use crate::identity::PeerIdentity;

/// The daemon's listening sockets.
#[derive(Debug)]
pub struct Listeners {
    /// `moat-sock`.
    pub read_write: UnixListener,
    /// `moat-sock-ro`.
    pub read_only: UnixListener,
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
    tokio::pin!(shutdown);
    loop {
        let (accepted, socket) = tokio::select! {
            _ = &mut shutdown => break,
            a = listeners.read_write.accept() => (a, SocketKind::ReadWrite),
            a = listeners.read_only.accept() => (a, SocketKind::ReadOnly),
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
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
            drop(stream);
            continue;
        }
        let Some(identity) = identify(&stream, &proc_root) else {
            tracing::warn!("refusing client: no peer credentials");
            continue;
        };
        clients.fetch_add(1, Ordering::Relaxed);
        let guard = ClientSlot(Arc::clone(&clients));
        let shared = Arc::clone(&shared);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            conn::serve(stream, identity, socket, shared, stopped).await;
            drop(guard);
        });
    }
    let _ = stop.send(true);
}

/// Gives the client's slot back when its task ends, however it ends.
struct ClientSlot(Arc<AtomicUsize>);

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
