//! A small client of the REMOTE program over a unix socket, for tests and the
//! `moat` CLI.
//!
//! It makes one call at a time. Serials start at 0, as libvirt's client
//! numbers them. While it waits for a reply it answers keepalive PINGs with
//! PONGs and queues event MESSAGEs for [`Client::next_event`]. Error replies
//! become [`ClientError::Remote`] carrying the server's `remote_error`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::header::{KeepaliveProcedure, MessageType, Status};
use crate::message::{Message, MessageError};
use crate::payloads::ConnectOpenArgs;
use crate::procedures::{
    AuthList, AuthPolkit, ConnectClose, ConnectOpen, Procedure, RemoteProcedure,
};
use crate::transport::{FrameReader, FrameWriter, TransportError};
use crate::types::{AuthType, RemoteError};

/// A failed client operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("connecting to {path}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Frames could not be moved.
    #[error("calling {procedure}")]
    Transport {
        /// The call in progress.
        procedure: RemoteProcedure,
        /// What failed.
        #[source]
        source: TransportError,
    },
    /// The args could not be encoded.
    #[error("encoding the args of {procedure}")]
    Encode {
        /// The call.
        procedure: RemoteProcedure,
        /// What failed.
        #[source]
        source: MessageError,
    },
    /// The reply's payload could not be decoded.
    #[error("decoding the reply to {procedure}")]
    Decode {
        /// The call.
        procedure: RemoteProcedure,
        /// What failed.
        #[source]
        source: MessageError,
    },
    /// The server answered with an error.
    #[error("{procedure} failed: {error}")]
    Remote {
        /// The call.
        procedure: RemoteProcedure,
        /// The server's error.
        error: Box<RemoteError>,
    },
    /// The server closed the connection before replying.
    #[error("connection closed while waiting for the reply to {procedure}")]
    Closed {
        /// The call.
        procedure: RemoteProcedure,
    },
    /// A REPLY did not match the outstanding call.
    #[error("unexpected reply (procedure {got_procedure}, serial {got_serial}) to {procedure} serial {serial}")]
    UnexpectedReply {
        /// The call.
        procedure: RemoteProcedure,
        /// Its serial.
        serial: u32,
        /// The reply's procedure number.
        got_procedure: i32,
        /// The reply's serial.
        got_serial: u32,
    },
    /// AUTH_LIST offered nothing this client can do (it does NONE and POLKIT).
    #[error("server requires authentication this client lacks: {offered:?}")]
    NoUsableAuth {
        /// What the server offered.
        offered: Vec<AuthType>,
    },
}

impl ClientError {
    /// The server's error, when the server answered with one.
    pub fn remote_error(&self) -> Option<&RemoteError> {
        match self {
            Self::Remote { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A connection to a libvirt-protocol server.
#[derive(Debug)]
pub struct Client {
    reader: FrameReader<OwnedReadHalf>,
    writer: FrameWriter<OwnedWriteHalf>,
    next_serial: u32,
    events: VecDeque<Message>,
}

impl Client {
    /// Connects to the unix socket at `path`. No RPC is made yet.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| ClientError::Connect {
                path: path.to_owned(),
                source,
            })?;
        let (read, write) = stream.into_split();
        Ok(Self {
            reader: FrameReader::new(read),
            writer: FrameWriter::new(write),
            next_serial: 0,
            events: VecDeque::new(),
        })
    }

    /// Connects and opens `name` (e.g. `qemu:///system`) as virsh does
    /// without an event loop: AUTH_LIST ("not supported" is taken as no
    /// authentication; the first type offered is used, as libvirt's client
    /// does: NONE, or POLKIT with an AUTH_POLKIT call), then CONNECT_OPEN
    /// with `flags` (1 = read-only).
    pub async fn open(path: impl AsRef<Path>, name: &str, flags: u32) -> Result<Self, ClientError> {
        let mut client = Self::connect(path).await?;
        match client.call::<AuthList>(&()).await {
            Ok(ret) => match ret.types.first() {
                None | Some(AuthType::None) => {}
                Some(AuthType::Polkit) => {
                    client.call::<AuthPolkit>(&()).await?;
                }
                Some(_) => return Err(ClientError::NoUsableAuth { offered: ret.types }),
            },
            Err(err) if err.remote_error().is_some_and(RemoteError::is_no_support) => {}
            Err(err) => return Err(err),
        }
        client
            .call::<ConnectOpen>(&ConnectOpenArgs {
                name: Some(name.to_owned()),
                flags,
            })
            .await?;
        Ok(client)
    }

    /// Calls `P` and waits for its reply.
    pub async fn call<P: Procedure>(&mut self, args: &P::Args) -> Result<P::Ret, ClientError> {
        let procedure = P::PROCEDURE;
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let call = Message::call::<P>(serial, args)
            .map_err(|source| ClientError::Encode { procedure, source })?;
        self.send(procedure, &call).await?;
        loop {
            let Some(msg) = self
                .reader
                .read_message()
                .await
                .map_err(|source| ClientError::Transport { procedure, source })?
            else {
                return Err(ClientError::Closed { procedure });
            };
            if !self.absorb(procedure, msg.clone()).await? {
                continue;
            }
            let h = msg.header;
            if h.serial != serial || h.procedure != procedure.number() || !h.is_remote() {
                return Err(ClientError::UnexpectedReply {
                    procedure,
                    serial,
                    got_procedure: h.procedure,
                    got_serial: h.serial,
                });
            }
            return match h.status {
                Status::Error => {
                    let error: RemoteError = msg
                        .decode_payload()
                        .map_err(|source| ClientError::Decode { procedure, source })?;
                    Err(ClientError::Remote {
                        procedure,
                        error: Box::new(error),
                    })
                }
                Status::Ok | Status::Continue => msg
                    .decode_payload()
                    .map_err(|source| ClientError::Decode { procedure, source }),
            };
        }
    }

    /// Waits for the next event MESSAGE of the REMOTE program (answering
    /// PINGs meanwhile); `None` when the server closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<Message>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        let procedure = RemoteProcedure::ConnectOpen;
        loop {
            let Some(msg) = self
                .reader
                .read_message()
                .await
                .map_err(|source| ClientError::Transport { procedure, source })?
            else {
                return Ok(None);
            };
            // A REPLY with no call outstanding is dropped.
            let _ = self.absorb(procedure, msg).await?;
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
        }
    }

    /// Sends CONNECT_CLOSE and waits for its reply.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.call::<ConnectClose>(&()).await
    }

    async fn send(&mut self, procedure: RemoteProcedure, msg: &Message) -> Result<(), ClientError> {
        self.writer
            .write_message(msg)
            .await
            .map_err(|source| ClientError::Transport { procedure, source })
    }

    /// Handles keepalive and events; true when `msg` is a REPLY for the
    /// caller to match.
    async fn absorb(
        &mut self,
        procedure: RemoteProcedure,
        msg: Message,
    ) -> Result<bool, ClientError> {
        if let Some(ka) = msg.header.keepalive_procedure() {
            if ka == KeepaliveProcedure::Ping {
                self.send(procedure, &Message::keepalive(KeepaliveProcedure::Pong))
                    .await?;
            }
            return Ok(false);
        }
        match msg.header.message_type {
            MessageType::Reply | MessageType::ReplyWithFds => Ok(true),
            MessageType::Message if msg.header.is_remote() => {
                self.events.push_back(msg);
                Ok(false)
            }
            _ => Ok(false),
        }
    }
}
