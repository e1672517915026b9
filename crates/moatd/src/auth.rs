//! Connection-level authentication (guide §2.2.2, the first of its three levels): who may talk to
//! the daemon at all on each socket, before any fine-grained check.
//!
//! `auth_unix_rw` and `auth_unix_ro` name a mode per socket ([`AuthMode`]):
//!
//! - `none`: the socket's mode and group are the authentication; a client is authenticated as
//!   soon as it connects.
//! - `polkit`, libvirtd's steps (`remoteDispatchAuthList`, `remoteDispatchAuthPolkit`):
//!   1. a new client is unauthenticated: every procedure but the auth ones is refused with
//!      "authentication required";
//!   2. AUTH_LIST offers `REMOTE_AUTH_POLKIT`, except to uid 0, which is let in there and then and
//!      offered `REMOTE_AUTH_NONE` (root must not be locked out when polkitd is down);
//!   3. AUTH_POLKIT asks polkitd `CheckAuthorization` for `org.libvirt.unix.manage` (read-write
//!      socket) or `org.libvirt.unix.monitor` (read-only socket), about the peer process (pid,
//!      start time, uid from `SO_PEERCRED`), with no details and with user interaction allowed,
//!      so that an agent may prompt;
//!   4. authorized: the client is authenticated (`complete = 1`); anything else leaves it
//!      unauthenticated and the call fails with libvirt's error (see [`crate::errors::auth_error`]),
//!      so the client may try again or leave, and the connection stays usable.

use std::sync::Arc;

use acl::polkit::{Answer, Authority, PolkitError};
use acl::{UnixAction, UnixProcess};

use crate::config::{AuthMode, Config};
use crate::conn::SocketKind;
use crate::identity::PeerIdentity;

/// Why AUTH_POLKIT did not authenticate a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The client's socket does not use polkit.
    #[error("polkit authentication is not enabled on this socket")]
    NotPolkit,
    /// polkit needs the peer's pid and start time; one of them is unknown.
    #[error("the client's process id or start time is unknown")]
    NoProcess,
    /// polkit's rules said no.
    #[error("access denied by policy")]
    Denied {
        /// The action asked about.
        action: UnixAction,
    },
    /// The rules want the user to authenticate and no agent could ask.
    #[error("no polkit agent available to authenticate action '{}'", .action.action_id())]
    NoAgent {
        /// The action asked about.
        action: UnixAction,
    },
    /// An agent asked and the user dismissed it.
    #[error("user cancelled authentication process")]
    Dismissed {
        /// The action asked about.
        action: UnixAction,
    },
    /// polkitd could not be asked.
    #[error("cannot ask polkit")]
    Polkit(#[source] PolkitError),
}

/// What AUTH_LIST tells a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// `REMOTE_AUTH_NONE`: the client is authenticated.
    None,
    /// `REMOTE_AUTH_POLKIT`: the client must call AUTH_POLKIT.
    Polkit,
}

/// The authentication mode of each socket and polkit to ask.
#[derive(Debug)]
pub struct Authenticator {
    read_write: AuthMode,
    read_only: AuthMode,
    authority: Option<Arc<dyn Authority>>,
}

impl Authenticator {
    /// The modes `config` names; `authority` answers polkit questions (required only when a
    /// socket uses polkit: without it AUTH_POLKIT fails).
    pub fn new(config: &Config, authority: Option<Arc<dyn Authority>>) -> Self {
        Self {
            read_write: config.auth_unix_rw,
            read_only: config.auth_unix_ro,
            authority,
        }
    }

    /// Both sockets open to anyone their mode lets in.
    pub fn none() -> Self {
        Self {
            read_write: AuthMode::None,
            read_only: AuthMode::None,
            authority: None,
        }
    }

    /// Whether any socket uses polkit (so the daemon needs the system bus).
    pub fn uses_polkit(&self) -> bool {
        self.read_write == AuthMode::Polkit || self.read_only == AuthMode::Polkit
    }

    /// The mode of `socket`. TLS clients are authenticated by their certificate during the
    /// handshake (`auth_tls = "none"`), so polkit never applies there, as in libvirtd.
    pub fn mode(&self, socket: SocketKind) -> AuthMode {
        match socket {
            SocketKind::ReadWrite => self.read_write,
            SocketKind::ReadOnly => self.read_only,
            SocketKind::Tls => AuthMode::None,
        }
    }

    /// Whether a client on `socket` is authenticated from the start.
    pub fn starts_authenticated(&self, socket: SocketKind) -> bool {
        self.mode(socket) == AuthMode::None
    }

    /// AUTH_LIST's answer for `client` on `socket`. [`Offer::None`] means the client is now
    /// authenticated (a `none` socket, or uid 0 on a polkit one).
    pub fn offer(&self, socket: SocketKind, client: &PeerIdentity) -> Offer {
        match self.mode(socket) {
            AuthMode::None => Offer::None,
            AuthMode::Polkit if matches!(client, PeerIdentity::Unix(peer) if peer.uid == 0) => {
                Offer::None
            }
            AuthMode::Polkit => Offer::Polkit,
        }
    }

    /// The action AUTH_POLKIT asks about on `socket` (a TLS client, which polkit cannot judge,
    /// would be asking for full access).
    pub fn action(socket: SocketKind) -> UnixAction {
        match socket {
            SocketKind::ReadWrite | SocketKind::Tls => UnixAction::Manage,
            SocketKind::ReadOnly => UnixAction::Monitor,
        }
    }

    /// AUTH_POLKIT: asks polkitd whether `client` may use `socket`. Blocks for a D-Bus round
    /// trip, longer if an agent prompts: call it off the async threads.
    pub fn authenticate_polkit(
        &self,
        socket: SocketKind,
        client: &PeerIdentity,
    ) -> Result<UnixAction, AuthError> {
        if self.mode(socket) != AuthMode::Polkit {
            return Err(AuthError::NotPolkit);
        }
        let authority = self.authority.as_ref().ok_or(AuthError::NotPolkit)?;
        let process = unix_process(client).ok_or(AuthError::NoProcess)?;
        let action = Self::action(socket);
        match authority
            .check_authorization(&action.query(process))
            .map_err(AuthError::Polkit)?
        {
            Answer::Authorized => Ok(action),
            Answer::NotAuthorized => Err(AuthError::Denied { action }),
            Answer::Challenge => Err(AuthError::NoAgent { action }),
            Answer::Dismissed => Err(AuthError::Dismissed { action }),
        }
    }
}

/// The peer as polkit's `unix-process` subject; `None` for a remote peer or without a pid or
/// start time.
fn unix_process(client: &PeerIdentity) -> Option<UnixProcess> {
    let PeerIdentity::Unix(peer) = client else {
        return None;
    };
    Some(UnixProcess {
        pid: u32::try_from(peer.pid?).ok()?,
        start_time: peer.start_time?,
        uid: i32::try_from(peer.uid).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use acl::polkit::{Interaction, ScriptedAuthority};

    use super::*;

    fn polkit_config(rw: AuthMode, ro: AuthMode) -> Config {
        Config {
            auth_unix_rw: rw,
            auth_unix_ro: ro,
            ..Config::default()
        }
    }

    fn user() -> PeerIdentity {
        let PeerIdentity::Unix(mut peer) = PeerIdentity::for_tests(1000, 1000, 321) else {
            unreachable!("for_tests makes a UNIX peer");
        };
        peer.start_time = Some(4711);
        PeerIdentity::Unix(peer)
    }

    #[test]
    fn none_sockets_start_authenticated_and_polkit_ones_do_not() {
        let auth = Authenticator::new(&polkit_config(AuthMode::Polkit, AuthMode::None), None);
        assert!(!auth.starts_authenticated(SocketKind::ReadWrite));
        assert!(auth.starts_authenticated(SocketKind::ReadOnly));
        assert!(auth.uses_polkit());
        assert!(!Authenticator::none().uses_polkit());
        assert_eq!(auth.offer(SocketKind::ReadWrite, &user()), Offer::Polkit);
        assert_eq!(auth.offer(SocketKind::ReadOnly, &user()), Offer::None);
        // TLS clients authenticated with their certificate; polkit never applies there.
        let both = Authenticator::new(&polkit_config(AuthMode::Polkit, AuthMode::Polkit), None);
        assert!(both.starts_authenticated(SocketKind::Tls));
        assert_eq!(both.offer(SocketKind::Tls, &user()), Offer::None);
        assert!(matches!(
            both.authenticate_polkit(SocketKind::Tls, &user()),
            Err(AuthError::NotPolkit)
        ));
    }

    #[test]
    fn root_is_let_in_without_asking() {
        let auth = Authenticator::new(&polkit_config(AuthMode::Polkit, AuthMode::Polkit), None);
        let root = PeerIdentity::for_tests(0, 0, 1);
        assert_eq!(auth.offer(SocketKind::ReadWrite, &root), Offer::None);
        assert_eq!(auth.offer(SocketKind::ReadOnly, &root), Offer::None);
    }

    #[test]
    fn each_socket_asks_for_its_action_with_interaction() {
        let fake =
            ScriptedAuthority::answering(vec![Ok(Answer::Authorized), Ok(Answer::Authorized)]);
        let auth = Authenticator::new(
            &polkit_config(AuthMode::Polkit, AuthMode::Polkit),
            Some(std::sync::Arc::new(fake.clone())),
        );
        assert_eq!(
            auth.authenticate_polkit(SocketKind::ReadWrite, &user())
                .unwrap(),
            UnixAction::Manage
        );
        assert_eq!(
            auth.authenticate_polkit(SocketKind::ReadOnly, &user())
                .unwrap(),
            UnixAction::Monitor
        );
        let queries = fake.queries();
        assert_eq!(queries[0].action_id, "org.libvirt.unix.manage");
        assert_eq!(queries[1].action_id, "org.libvirt.unix.monitor");
        assert_eq!(
            queries[0].subject,
            UnixProcess {
                pid: 321,
                start_time: 4711,
                uid: 1000
            }
        );
        assert!(queries[0].details.is_empty());
        assert_eq!(queries[0].interaction, Interaction::Allowed);
    }

    #[test]
    fn every_other_answer_refuses() {
        let fake = ScriptedAuthority::answering(vec![
            Ok(Answer::NotAuthorized),
            Ok(Answer::Challenge),
            Ok(Answer::Dismissed),
            Err("bus down".into()),
        ]);
        let auth = Authenticator::new(
            &polkit_config(AuthMode::Polkit, AuthMode::None),
            Some(std::sync::Arc::new(fake.clone())),
        );
        let mut errors = Vec::new();
        for _ in 0..4 {
            errors.push(
                auth.authenticate_polkit(SocketKind::ReadWrite, &user())
                    .unwrap_err()
                    .to_string(),
            );
        }
        assert_eq!(
            errors,
            [
                "access denied by policy",
                "no polkit agent available to authenticate action 'org.libvirt.unix.manage'",
                "user cancelled authentication process",
                "cannot ask polkit",
            ]
        );
    }

    #[test]
    fn polkit_is_not_asked_on_a_none_socket_or_without_a_start_time() {
        let fake = ScriptedAuthority::answering(vec![]);
        let auth = Authenticator::new(
            &polkit_config(AuthMode::Polkit, AuthMode::None),
            Some(std::sync::Arc::new(fake.clone())),
        );
        assert!(matches!(
            auth.authenticate_polkit(SocketKind::ReadOnly, &user()),
            Err(AuthError::NotPolkit)
        ));
        let no_start = PeerIdentity::for_tests(1000, 1000, 321);
        assert!(matches!(
            auth.authenticate_polkit(SocketKind::ReadWrite, &no_start),
            Err(AuthError::NoProcess)
        ));
        assert!(fake.queries().is_empty());
    }
}
