//! One client connection: the state machine of guide §2.2.2 and the message loop.
//!
//! States and checks, in the order each CALL meets them (libvirtd's order):
//! 1. program and version known, procedure implemented — else "unknown procedure: N";
//! 2. authenticated, or the procedure is one of the auth ones — else "authentication required"
//!    (with `auth_unix_* = "none"` a client is authenticated as soon as it connects; with
//!    `"polkit"` it must pass AUTH_POLKIT first, see [`crate::auth`]);
//! 3. connection-level procedures (auth list, polkit, open, close, features, callbacks) are
//!    answered here;
//! 4. hypervisor calls need CONNECT_OPEN first — else "hypervisor connection not open";
//! 5. a read-only connection (read-only socket, or opened with `VIR_CONNECT_RO`) is refused any
//!    call that needs more than read access (see [`crate::readonly`]);
//! 6. quick in-memory calls run in the connection's task; calls that write to disk run on the
//!    blocking pool, at most `max_client_requests` at once for this client. Replies go through
//!    the connection's writer task, as do keepalive pings and events;
//! 7. calls that open a stream (upload, download, console) run in their own task; once answered,
//!    their STREAM packets go to [`crate::stream`], which relays them with flow control. The
//!    writer sends replies, keepalive and events ahead of queued stream packets.
//!
//! A frame that breaks the protocol (bad length, over a limit) closes this connection with a
//! logged reason; a malformed payload gets an error reply and the connection stays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rpc::header::{Header, KeepaliveProcedure};
use rpc::message::{Call, Disposition, Incoming, Message};
use rpc::payloads::*;
use rpc::procedures::{self as p, RemoteProcedure};
use rpc::transport::{FrameReader, FrameWriter};
use rpc::types::{AuthType, RemoteError};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, watch, Semaphore};
use tokio::time::Instant;
use uuid::Uuid;

use acl::{ObjectType, Subject, Target};

use crate::access::{self, procedure_acl, Access};
use crate::audit::Outcome;
use crate::auth::{Authenticator, Offer};
use crate::dispatch::{self, run as reply, CallContext, Failure, OwnedCall, StreamOpen};
use crate::driver::node::Emulator;
use crate::driver::{Driver, DriverError, LifecycleEvent};
use crate::errors;
use crate::identity::PeerIdentity;
use crate::readonly;
use crate::stream::{Outgoing, Streams};

/// The URI this daemon answers to.
pub const URI: &str = "qemu:///system";

/// Outgoing messages queued per connection before the sender waits.
const OUTBOX: usize = 64;
/// Stream packets (of all streams of a connection) queued for the writer; each stream also
/// holds at most [`crate::stream::SEND_CREDITS`] of them.
const STREAM_OUTBOX: usize = 16;

/// `VIR_DOMAIN_EVENT_ID_LIFECYCLE`.
const EVENT_ID_LIFECYCLE: i32 = 0;
/// Event ids libvirt 9.0 defines (`VIR_DOMAIN_EVENT_ID_LAST`).
const EVENT_ID_LAST: i32 = 27;
/// Most event callbacks one client may register.
const MAX_CALLBACKS: usize = 256;
/// Refused AUTH_POLKIT calls after which a connection's further attempts are refused without
/// asking polkitd (virsh retries on a new connection, so this never limits it).
const MAX_AUTH_FAILURES: u32 = 5;

/// Which socket a client came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `moat-sock`: full access.
    ReadWrite,
    /// `moat-sock-ro`: monitoring only.
    ReadOnly,
    /// The TLS port: full access, as libvirt's TLS socket, subject to the access drivers.
    Tls,
}

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The hypervisor side.
    pub driver: Arc<Driver>,
    /// The access drivers.
    pub access: Arc<Access>,
    /// Connection-level authentication of each socket.
    pub auth: Arc<Authenticator>,
    /// The emulator found at start-up.
    pub emulator: Arc<Emulator>,
    /// Most calls one client may have running.
    pub max_client_requests: usize,
    /// Idle time before a ping, if the client negotiated keepalive; `None` disables pings.
    pub keepalive_interval: Option<Duration>,
    /// Unanswered pings before the client is dropped.
    pub keepalive_count: u32,
}

/// An event callback a client registered.
#[derive(Debug, Clone, Copy)]
struct Callback {
    event_id: i32,
    domain: Option<Uuid>,
}

/// Per-connection protocol state.
#[derive(Debug)]
struct ConnState {
    identity: PeerIdentity,
    subject: Subject,
    socket: SocketKind,
    authenticated: bool,
    auth_failures: u32,
    open: bool,
    read_only: bool,
    keepalive: bool,
    close_callback: bool,
    callbacks: BTreeMap<i32, Callback>,
    next_callback_id: i32,
}

/// What the loop does after a message.
enum Next {
    Continue,
    Close(&'static str),
}

/// Serves one client until it leaves, breaks the protocol, or the daemon shuts down. The two
/// halves are those of a UNIX socket or of a TLS stream.
pub async fn serve<R, W>(
    read_half: R,
    write_half: W,
    identity: PeerIdentity,
    socket: SocketKind,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut reader = FrameReader::new(read_half);
    let (outbox, outgoing) = mpsc::channel::<Message>(OUTBOX);
    let (stream_outbox, stream_outgoing) = mpsc::channel::<Outgoing>(STREAM_OUTBOX);
    let streams = Streams::new(stream_outbox);
    let writer = tokio::spawn(write_loop(
        FrameWriter::new(write_half),
        outgoing,
        stream_outgoing,
    ));
    let mut state = ConnState {
        subject: access::subject(&identity),
        identity,
        socket,
        authenticated: shared.auth.starts_authenticated(socket),
        auth_failures: 0,
        open: false,
        read_only: socket == SocketKind::ReadOnly,
        keepalive: false,
        close_callback: false,
        callbacks: BTreeMap::new(),
        next_callback_id: 0,
    };
    let requests = Arc::new(Semaphore::new(shared.max_client_requests));
    let mut events: Option<broadcast::Receiver<LifecycleEvent>> = None;
    let mut last_seen = Instant::now();
    let mut unanswered = 0u32;
    tracing::debug!(client = %state.identity, ?socket, "client connected");

    let reason = loop {
        let ping_at = state
            .keepalive
            .then_some(shared.keepalive_interval)
            .flatten()
            .map(|interval| last_seen + interval * (unanswered + 1));
        tokio::select! {
            _ = shutdown.changed() => break "daemon shutting down",
            read = reader.read_message() => match read {
                Ok(None) => break "client closed the connection",
                // libvirt clients close a TLS connection without close_notify; a reset is
                // likewise a client leaving, not a protocol violation.
                Err(rpc::transport::TransportError::Read { source })
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ) => break "client closed the connection",
                Err(err) => {
                    tracing::warn!(client = %state.identity, err = %errors::chain(&err),
                        "closing connection: protocol violation");
                    break "protocol violation";
                }
                Ok(Some(message)) => {
                    last_seen = Instant::now();
                    unanswered = 0;
                    let handled =
                        handle_message(message, &mut state, &shared, &outbox, &requests, &streams);
                    match handled.await {
                        Next::Continue => {}
                        Next::Close(why) => break why,
                    }
                    if events.is_none() && !state.callbacks.is_empty() {
                        events = Some(shared.driver.subscribe());
                    }
                }
            },
            _ = sleep_until(ping_at) => {
                if unanswered >= shared.keepalive_count {
                    tracing::info!(client = %state.identity, "closing connection: keepalive timeout");
                    break "keepalive timeout";
                }
                unanswered += 1;
                if outbox.send(Message::keepalive(KeepaliveProcedure::Ping)).await.is_err() {
                    break "writer gone";
                }
            }
            event = recv_event(&mut events) => match event {
                Ok(event) => forward_event(&state, &shared.access, &event, &outbox).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(client = %state.identity, missed, "client missed events");
                }
                Err(broadcast::error::RecvError::Closed) => events = None,
            },
        }
    };
    tracing::debug!(client = %state.identity, reason, "client disconnected");
    streams.close_all();
    drop(outbox);
    // Let queued replies (CONNECT_CLOSE's, say) go out before the socket closes.
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// The connection's writer: replies, keepalive and events first, then stream packets, whose
/// credit is returned once they are written.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: FrameWriter<W>,
    mut outgoing: mpsc::Receiver<Message>,
    mut stream_outgoing: mpsc::Receiver<Outgoing>,
) {
    let mut streams_open = true;
    loop {
        let (message, credit) = tokio::select! {
            biased;
            message = outgoing.recv() => match message {
                Some(message) => (message, None),
                None => break,
            },
            packet = stream_outgoing.recv(), if streams_open => match packet {
                Some(packet) => (packet.message, packet.credit),
                None => {
                    streams_open = false;
                    continue;
                }
            },
        };
        if let Err(err) = writer.write_message(&message).await {
            tracing::debug!(?err, "client write failed");
            break;
        }
        drop(credit);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn recv_event(
    events: &mut Option<broadcast::Receiver<LifecycleEvent>>,
) -> Result<LifecycleEvent, broadcast::error::RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn forward_event(
    state: &ConnState,
    access: &Access,
    event: &LifecycleEvent,
    outbox: &mpsc::Sender<Message>,
) {
    let target = Target::domain(&event.domain.name, event.domain.uuid);
    if !access.filter(
        &state.subject,
        RemoteProcedure::ConnectDomainEventCallbackRegisterAny,
        &target,
    ) {
        return;
    }
    for (&callback_id, callback) in &state.callbacks {
        if callback.event_id != EVENT_ID_LIFECYCLE
            || callback
                .domain
                .is_some_and(|uuid| uuid != event.domain.uuid)
        {
            continue;
        }
        let msg = DomainEventCallbackLifecycleMsg {
            callback_id,
            msg: DomainEventLifecycleMsg {
                dom: rpc::types::NonnullDomain {
                    name: event.domain.name.clone(),
                    uuid: rpc::types::Uuid(*event.domain.uuid.as_bytes()),
                    id: event.domain.id,
                },
                event: event.event,
                detail: event.detail,
            },
        };
        match Message::event::<p::DomainEventCallbackLifecycle>(&msg) {
            Ok(message) => {
                let _ = outbox.send(message).await;
            }
            Err(err) => tracing::error!(err = %errors::chain(&err), "cannot encode event"),
        }
    }
}

async fn handle_message(
    message: Message,
    state: &mut ConnState,
    shared: &Arc<Shared>,
    outbox: &mpsc::Sender<Message>,
    requests: &Arc<Semaphore>,
    streams: &Arc<Streams>,
) -> Next {
    match Incoming::classify(message) {
        Incoming::Keepalive(KeepaliveProcedure::Ping) => {
            let _ = outbox
                .send(Message::keepalive(KeepaliveProcedure::Pong))
                .await;
            Next::Continue
        }
        Incoming::Keepalive(_) => Next::Continue,
        Incoming::Stream(packet) => {
            streams.deliver(packet).await;
            Next::Continue
        }
        Incoming::Reject { header, error } => send_error(outbox, &header, &error).await,
        Incoming::Call(call) => handle_call(call, state, shared, outbox, requests, streams).await,
    }
}

async fn send_error(outbox: &mpsc::Sender<Message>, header: &Header, error: &RemoteError) -> Next {
    match Message::error_reply(header, error) {
        Ok(reply) => {
            let _ = outbox.send(reply).await;
            Next::Continue
        }
        Err(_) => Next::Close("cannot encode an error reply"),
    }
}

/// Procedures answered by the connection itself.
fn is_connection_procedure(procedure: RemoteProcedure) -> bool {
    use RemoteProcedure as R;
    matches!(
        procedure,
        R::AuthList
            | R::AuthPolkit
            | R::ConnectOpen
            | R::ConnectClose
            | R::ConnectSupportsFeature
            | R::ConnectGetUri
            | R::ConnectIsSecure
            | R::ConnectRegisterCloseCallback
            | R::ConnectUnregisterCloseCallback
            | R::ConnectDomainEventCallbackRegisterAny
            | R::ConnectDomainEventCallbackDeregisterAny
    )
}

/// Connection-level procedures that work before CONNECT_OPEN.
fn works_before_open(procedure: RemoteProcedure) -> bool {
    use RemoteProcedure as R;
    matches!(
        procedure,
        R::AuthList | R::AuthPolkit | R::ConnectOpen | R::ConnectClose | R::ConnectSupportsFeature
    )
}

async fn handle_call(
    call: Call,
    state: &mut ConnState,
    shared: &Arc<Shared>,
    outbox: &mpsc::Sender<Message>,
    requests: &Arc<Semaphore>,
    streams: &Arc<Streams>,
) -> Next {
    let procedure = call.procedure;
    let connection_level = is_connection_procedure(procedure);
    let (handler, waiting, opener) = if connection_level {
        (None, None, None)
    } else {
        (
            dispatch::route(procedure),
            dispatch::route_async(procedure),
            dispatch::route_stream(procedure),
        )
    };
    if !connection_level && handler.is_none() && waiting.is_none() && opener.is_none() {
        return send_error(
            outbox,
            &call.header,
            &RemoteError::unknown_procedure(procedure.number()),
        )
        .await;
    }
    if !state.authenticated && !procedure.allowed_before_auth() {
        return send_error(
            outbox,
            &call.header,
            &RemoteError::authentication_required(),
        )
        .await;
    }
    if !state.open && !works_before_open(procedure) {
        return send_error(outbox, &call.header, &RemoteError::connection_not_open()).await;
    }
    if state.read_only && !readonly::allowed(procedure, 0) {
        let api = readonly::api_name(procedure.name());
        shared.driver.audit().record(
            &state.identity,
            procedure.name(),
            json!({}),
            Outcome::Error("denied: read-only connection"),
        );
        return send_error(outbox, &call.header, &errors::read_only_denied(&api)).await;
    }
    if procedure_acl(procedure).check.object() == Some(ObjectType::Connect) {
        let target = Target::connect(access::DRIVER_NAME);
        if let Err(denied) = shared.access.ensure(&state.subject, procedure, 0, &target) {
            shared.driver.audit().record(
                &state.identity,
                procedure.name(),
                json!({"object": "connect"}),
                Outcome::Error(&format!("denied: {}", denied.detail())),
            );
            let error = errors::driver_error(&DriverError::Denied(denied));
            return send_error(outbox, &call.header, &error).await;
        }
    }
    if procedure == RemoteProcedure::AuthPolkit {
        return authenticate_polkit(&call, state, shared, outbox).await;
    }
    if connection_level {
        let (result, next) = connection_call(&call, state, &shared.auth);
        return match result {
            Ok(reply) => {
                let _ = outbox.send(reply).await;
                next
            }
            Err(failure) => reply_failure(outbox, &call.header, call.procedure, failure).await,
        };
    }
    if let Some(opener) = opener {
        let Ok(permit) = requests.clone().acquire_owned().await else {
            return Next::Close("request limiter closed");
        };
        let owned = owned_call(call, state, shared);
        let header = owned.call.header;
        let outbox = outbox.clone();
        let streams = Arc::clone(streams);
        tokio::spawn(async move {
            let failure = match opener(owned).await {
                Ok(StreamOpen { reply, ends }) => match streams.open(header, reply, ends).await {
                    Ok(()) => None,
                    Err(err) => Some(Failure::remote(errors::stream_error(&err))),
                },
                Err(failure) => Some(failure),
            };
            drop(permit);
            if let Some(failure) = failure {
                let _ = reply_failure(&outbox, &header, procedure, failure).await;
            }
        });
        return Next::Continue;
    }
    if let Some(waiting) = waiting {
        // Lifecycle calls wait on QEMU: their own task, within the client's request limit.
        let Ok(permit) = requests.clone().acquire_owned().await else {
            return Next::Close("request limiter closed");
        };
        let owned = owned_call(call, state, shared);
        let header = owned.call.header;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let result = waiting(owned).await;
            match result {
                Ok(reply) => {
                    let _ = outbox.send(reply).await;
                }
                Err(failure) => {
                    let _ = reply_failure(&outbox, &header, procedure, failure).await;
                }
            }
            drop(permit);
        });
        return Next::Continue;
    }
    let Some(handler) = handler else {
        return Next::Continue;
    };
    if !dispatch::is_blocking(procedure) {
        // Quick in-memory calls run right here: no task, no wake-up, replies stay in order.
        let ctx = CallContext {
            identity: &state.identity,
            subject: &state.subject,
            access: &shared.access,
            read_only: state.read_only,
            emulator: &shared.emulator,
        };
        return match handler(&shared.driver, &ctx, &call) {
            Ok(reply) => {
                let _ = outbox.send(reply).await;
                Next::Continue
            }
            Err(failure) => reply_failure(outbox, &call.header, procedure, failure).await,
        };
    }
    // Backpressure: stop reading from this client while it has too many calls running.
    let Ok(permit) = requests.clone().acquire_owned().await else {
        return Next::Close("request limiter closed");
    };
    let shared = Arc::clone(shared);
    let outbox = outbox.clone();
    let identity = state.identity.clone();
    let subject = state.subject.clone();
    let read_only = state.read_only;
    let header = call.header;
    tokio::spawn(async move {
        let run = move || {
            let ctx = CallContext {
                identity: &identity,
                subject: &subject,
                access: &shared.access,
                read_only,
                emulator: &shared.emulator,
            };
            handler(&shared.driver, &ctx, &call)
        };
        let result = match tokio::task::spawn_blocking(run).await {
            Ok(result) => result,
            Err(err) => {
                tracing::error!(?err, %procedure, "call panicked");
                Err(Failure::remote(RemoteError::new(
                    rpc::types::error_code::INTERNAL_ERROR,
                    rpc::types::error_domain::RPC,
                    format!("internal error: {procedure} failed unexpectedly"),
                )))
            }
        };
        match result {
            Ok(reply) => {
                let _ = outbox.send(reply).await;
            }
            Err(failure) => {
                if let Next::Close(why) = reply_failure(&outbox, &header, procedure, failure).await
                {
                    tracing::warn!(why, "dropping reply");
                }
            }
        }
        drop(permit);
    });
    Next::Continue
}

fn owned_call(call: Call, state: &ConnState, shared: &Shared) -> OwnedCall {
    OwnedCall {
        driver: Arc::clone(&shared.driver),
        access: Arc::clone(&shared.access),
        emulator: Arc::clone(&shared.emulator),
        identity: state.identity.clone(),
        subject: state.subject.clone(),
        read_only: state.read_only,
        call,
    }
}

/// AUTH_POLKIT: polkitd decides, off the async thread (an agent may take a while to answer);
/// the decision is audited either way.
async fn authenticate_polkit(
    call: &Call,
    state: &mut ConnState,
    shared: &Arc<Shared>,
    outbox: &mpsc::Sender<Message>,
) -> Next {
    let action = Authenticator::action(state.socket).action_id();
    let result = if state.auth_failures >= MAX_AUTH_FAILURES {
        Err(Failure::remote(errors::auth_refused(
            "too many failed attempts on this connection",
        )))
    } else {
        let auth = Arc::clone(&shared.auth);
        let identity = state.identity.clone();
        let socket = state.socket;
        match tokio::task::spawn_blocking(move || auth.authenticate_polkit(socket, &identity)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(Failure::remote(errors::auth_error(&err))),
            Err(err) => {
                tracing::error!(?err, "AUTH_POLKIT panicked");
                Err(Failure::remote(errors::auth_refused("internal error")))
            }
        }
    };
    let object = json!({"action": action});
    let audit = shared.driver.audit();
    match result {
        Ok(()) => {
            state.authenticated = true;
            audit.record(&state.identity, call.procedure.name(), object, Outcome::Ok);
            tracing::info!(client = %state.identity, action, "polkit authenticated the client");
            match reply::<p::AuthPolkit>(call, |()| Ok(AuthPolkitRet { complete: 1 })) {
                Ok(reply) => {
                    let _ = outbox.send(reply).await;
                    Next::Continue
                }
                Err(failure) => reply_failure(outbox, &call.header, call.procedure, failure).await,
            }
        }
        Err(failure) => {
            state.auth_failures = state.auth_failures.saturating_add(1);
            if let Failure::Remote(error) = &failure {
                let text = error.message.as_deref().unwrap_or("refused");
                audit.record(
                    &state.identity,
                    call.procedure.name(),
                    object,
                    Outcome::Error(text),
                );
                tracing::info!(client = %state.identity, action, error = text,
                    "polkit refused the client");
            }
            reply_failure(outbox, &call.header, call.procedure, failure).await
        }
    }
}

async fn reply_failure(
    outbox: &mpsc::Sender<Message>,
    header: &Header,
    procedure: RemoteProcedure,
    failure: Failure,
) -> Next {
    match failure {
        Failure::Remote(error) => send_error(outbox, header, &error).await,
        Failure::Message(err) => match err.disposition() {
            Disposition::ErrorReply => send_error(outbox, header, &err.to_remote_error()).await,
            Disposition::Close => {
                tracing::warn!(%procedure, err = %errors::chain(&err),
                    "closing connection: payload over a protocol limit");
                Next::Close("payload over a protocol limit")
            }
        },
    }
}

/// Whether CONNECT_OPEN's name is this daemon's URI (`qemu:///system`, any query), or empty.
fn accepts_uri(name: &str) -> bool {
    let base = name.split('?').next().unwrap_or_default();
    name.is_empty() || base == URI || base == "qemu:/system"
}

/// `remote_connect_open_args.flags` bit 0: `VIR_CONNECT_RO`.
const CONNECT_RO: u32 = 1;

fn connection_call(
    call: &Call,
    state: &mut ConnState,
    auth: &Authenticator,
) -> (Result<Message, Failure>, Next) {
    use RemoteProcedure as R;
    let mut next = Next::Continue;
    let result = match call.procedure {
        R::AuthList => reply::<p::AuthList>(call, |()| {
            let offer = auth.offer(state.socket, &state.identity);
            let types = match offer {
                Offer::None => {
                    if !state.authenticated {
                        tracing::info!(client = %state.identity,
                            "polkit authentication bypassed for uid 0");
                    }
                    state.authenticated = true;
                    vec![AuthType::None]
                }
                Offer::Polkit => vec![AuthType::Polkit],
            };
            Ok(AuthListRet { types })
        }),
        R::ConnectOpen => reply::<p::ConnectOpen>(call, |args| {
            let name = args.name.unwrap_or_default();
            if !accepts_uri(&name) {
                return Err(Failure::remote(errors::no_connect(&name)));
            }
            state.open = true;
            state.read_only = state.socket == SocketKind::ReadOnly || args.flags & CONNECT_RO != 0;
            tracing::debug!(client = %state.identity, read_only = state.read_only, "connection opened");
            Ok(())
        }),
        R::ConnectClose => {
            next = Next::Close("client closed the connection");
            reply::<p::ConnectClose>(call, |()| Ok(()))
        }
        R::ConnectSupportsFeature => reply::<p::ConnectSupportsFeature>(call, |args| {
            // 9 typed param strings, 10 keepalive, 14 event callbacks, 15 close callbacks.
            let supported = matches!(args.feature, 9 | 10 | 14 | 15);
            if args.feature == 10 {
                state.keepalive = true;
            }
            Ok(ConnectSupportsFeatureRet {
                supported: i32::from(supported),
            })
        }),
        R::ConnectGetUri => {
            reply::<p::ConnectGetUri>(call, |()| Ok(ConnectGetUriRet { uri: URI.into() }))
        }
        R::ConnectIsSecure => {
            reply::<p::ConnectIsSecure>(call, |()| Ok(ConnectIsSecureRet { secure: 1 }))
        }
        R::ConnectRegisterCloseCallback => reply::<p::ConnectRegisterCloseCallback>(call, |()| {
            state.close_callback = true;
            Ok(())
        }),
        R::ConnectUnregisterCloseCallback => {
            reply::<p::ConnectUnregisterCloseCallback>(call, |()| {
                state.close_callback = false;
                Ok(())
            })
        }
        R::ConnectDomainEventCallbackRegisterAny => {
            reply::<p::ConnectDomainEventCallbackRegisterAny>(call, |args| {
                if !(0..EVENT_ID_LAST).contains(&args.event_id) {
                    return Err(Failure::remote(errors::invalid_arg(&format!(
                        "unsupported event ID {}",
                        args.event_id
                    ))));
                }
                if state.callbacks.len() >= MAX_CALLBACKS {
                    return Err(Failure::remote(errors::invalid_arg(
                        "too many event callbacks on this connection",
                    )));
                }
                let callback_id = state.next_callback_id;
                state.next_callback_id = state.next_callback_id.wrapping_add(1);
                state.callbacks.insert(
                    callback_id,
                    Callback {
                        event_id: args.event_id,
                        domain: args.dom.map(|d| Uuid::from_bytes(d.uuid.0)),
                    },
                );
                Ok(ConnectDomainEventCallbackRegisterAnyRet { callback_id })
            })
        }
        R::ConnectDomainEventCallbackDeregisterAny => {
            reply::<p::ConnectDomainEventCallbackDeregisterAny>(call, |args| {
                match state.callbacks.remove(&args.callback_id) {
                    Some(_) => Ok(()),
                    None => Err(Failure::remote(errors::invalid_arg(&format!(
                        "callback ID {} not registered",
                        args.callback_id
                    )))),
                }
            })
        }
        other => Err(Failure::remote(RemoteError::unknown_procedure(
            other.number(),
        ))),
    };
    (result, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert!(accepts_uri("qemu:///system"));
        assert!(accepts_uri("qemu:///system?foo=bar"));
        assert!(accepts_uri(""));
        assert!(!accepts_uri("qemu:///session"));
        assert!(!accepts_uri("test:///default"));
    }

    #[test]
    fn connection_procedures_are_not_routed_twice() {
        for procedure in RemoteProcedure::ALL {
            if is_connection_procedure(*procedure) {
                assert!(dispatch::route(*procedure).is_none(), "{procedure:?}");
                assert!(RemoteProcedure::TYPED.contains(procedure), "{procedure:?}");
            }
        }
    }
}
