//! Messages: a decoded header plus its still-encoded payload, and what a
//! server makes of an incoming one.
//!
//! A server's path for one packet:
//!
//! 1. [`FrameReader`](crate::transport::FrameReader) yields a [`Message`]
//!    (framing and header already checked: any error there closes the
//!    connection);
//! 2. [`Incoming::classify`] sorts it: a [`Call`] of a known REMOTE
//!    procedure, a keepalive, a packet to reject with libvirt's exact error
//!    (unknown program, version or procedure, unexpected type), or one to
//!    hand to an open stream ([`crate::stream`]);
//! 3. [`Call::args`] decodes the procedure's args; a [`MessageError`] whose
//!    [`disposition`](MessageError::disposition) is
//!    [`Disposition::ErrorReply`] is answered with
//!    [`Call::error_reply`] and the connection kept, one with
//!    [`Disposition::Close`] closes it;
//! 4. [`Call::reply`] builds the REPLY; [`Message::event`] builds an event.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::frame::{self, FrameError, LEN_SIZE, NUM_FDS_MAX};
use crate::header::{Header, KeepaliveProcedure, MessageType, Status, HEADER_LEN};
use crate::procedures::{Procedure, RemoteProcedure};
use crate::types::{error_code, error_domain, RemoteError};
use crate::xdr::{self, Decoder, XdrDecode, XdrEncode, XdrError, XdrErrorKind};

/// What the daemon does with a connection after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A protocol violation (bad framing, over a limit): log the reason and
    /// close this connection.
    Close,
    /// A malformed payload: answer with an error reply and keep serving.
    ErrorReply,
}

/// A payload that could not be decoded or encoded for a procedure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The payload of `procedure` did not decode.
    #[error("decoding the payload of {procedure}")]
    DecodePayload {
        /// The procedure (libvirt name or `prog/proc` numbers).
        procedure: String,
        /// What the decoder found.
        #[source]
        source: XdrError,
    },
    /// A payload did not encode (a value over its declared maximum).
    #[error("encoding the payload of {procedure}")]
    EncodePayload {
        /// The procedure.
        procedure: String,
        /// What the encoder refused.
        #[source]
        source: XdrError,
    },
    /// Args were decoded as one procedure's type, but the call is another's.
    #[error("call is {actual}, not {expected}")]
    WrongProcedure {
        /// The procedure the caller asked for.
        expected: RemoteProcedure,
        /// The call's procedure.
        actual: RemoteProcedure,
    },
    /// The encoded message does not fit in a frame.
    #[error("framing the message")]
    Frame {
        /// Why.
        #[source]
        source: FrameError,
    },
}

impl MessageError {
    /// Whether the connection can be kept after this error.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::DecodePayload { source, .. } => match source.kind() {
                XdrErrorKind::LimitExceeded => Disposition::Close,
                XdrErrorKind::Malformed => Disposition::ErrorReply,
            },
            Self::EncodePayload { .. } | Self::WrongProcedure { .. } => Disposition::ErrorReply,
            Self::Frame { .. } => Disposition::Close,
        }
    }

    /// The `remote_error` to send back for an error that gets a reply:
    /// `VIR_ERR_RPC`/`VIR_FROM_RPC` as libvirtd's payload decoder reports it.
    pub fn to_remote_error(&self) -> RemoteError {
        let text = match self {
            Self::DecodePayload { source, .. } => {
                let path = source.path();
                let at = if path.is_empty() {
                    String::new()
                } else {
                    format!(" at {path}")
                };
                format!(
                    "Unable to decode message payload{at}: {}",
                    source.root_cause()
                )
            }
            other => other.to_string(),
        };
        RemoteError::new(error_code::RPC, error_domain::RPC, text)
    }
}

/// One packet: its header and raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The decoded header.
    pub header: Header,
    /// The fd count of a `*_WITH_FDS` message (0 otherwise). The fds
    /// themselves travel out of band and are not handled by this crate.
    pub num_fds: u32,
    /// The XDR payload (args, ret, event or `remote_error`).
    pub payload: Bytes,
}

impl Message {
    /// A message with `payload` already encoded.
    pub fn new(header: Header, payload: Bytes) -> Self {
        Self {
            header,
            num_fds: 0,
            payload,
        }
    }

    /// A message whose payload is `value`.
    pub fn with_payload<T: XdrEncode + ?Sized>(
        header: Header,
        value: &T,
    ) -> Result<Self, MessageError> {
        let payload = xdr::to_bytes(value).map_err(|source| MessageError::EncodePayload {
            procedure: describe(&header),
            source,
        })?;
        Ok(Self::new(header, payload.into()))
    }

    /// A CALL of `P` with serial `serial`.
    pub fn call<P: Procedure>(serial: u32, args: &P::Args) -> Result<Self, MessageError> {
        Self::with_payload(Header::remote_call(P::PROCEDURE.number(), serial), args)
    }

    /// An event MESSAGE of `P` (e.g. [`crate::procedures::DomainEventCallbackLifecycle`]).
    /// The serial is 1, as libvirtd sends it; clients ignore it.
    pub fn event<P: Procedure>(msg: &P::Args) -> Result<Self, MessageError> {
        let header = Header {
            message_type: MessageType::Message,
            ..Header::remote_call(P::PROCEDURE.number(), 1)
        };
        Self::with_payload(header, msg)
    }

    /// A keepalive PING or PONG.
    pub fn keepalive(procedure: KeepaliveProcedure) -> Self {
        Self::new(Header::keepalive(procedure), Bytes::new())
    }

    /// An ERROR reply to the call with header `call`.
    pub fn error_reply(call: &Header, error: &RemoteError) -> Result<Self, MessageError> {
        Self::with_payload(call.reply(Status::Error), error)
    }

    /// Decodes one frame without its length word (as
    /// [`FrameReader`](crate::transport::FrameReader) hands it over).
    pub fn decode(frame: Bytes) -> Result<Self, FrameError> {
        let mut dec = Decoder::new(&frame);
        let header = Header::decode(&mut dec).map_err(|source| FrameError::Header { source })?;
        let num_fds = if header.message_type.has_fds() {
            let count = dec.u32().map_err(|source| FrameError::Header { source })?;
            if count > NUM_FDS_MAX {
                return Err(FrameError::TooManyFds { count });
            }
            count
        } else {
            0
        };
        let payload = frame.slice(dec.position()..);
        Ok(Self {
            header,
            num_fds,
            payload,
        })
    }

    /// Decodes a whole frame, length word included; the buffer must hold
    /// exactly one frame.
    pub fn decode_frame(buf: &[u8]) -> Result<Self, FrameError> {
        let Some(word) = buf.first_chunk::<LEN_SIZE>() else {
            return Err(FrameError::Truncated {
                len: LEN_SIZE,
                available: buf.len(),
            });
        };
        let len = frame::frame_len(*word)?;
        if buf.len() < len {
            return Err(FrameError::Truncated {
                len,
                available: buf.len(),
            });
        }
        if buf.len() > len {
            return Err(FrameError::TrailingBytes {
                count: buf.len() - len,
            });
        }
        Self::decode(Bytes::copy_from_slice(&buf[LEN_SIZE..]))
    }

    /// Encodes the message as one frame, length word included.
    pub fn encode(&self) -> Result<Bytes, MessageError> {
        let fds_len = if self.header.message_type.has_fds() {
            4
        } else {
            0
        };
        let len = HEADER_LEN + fds_len + self.payload.len();
        let word = frame::encode_len(len).map_err(|source| MessageError::Frame { source })?;
        let mut enc = xdr::Encoder::from_vec(Vec::with_capacity(LEN_SIZE + HEADER_LEN + fds_len));
        self.header
            .encode(&mut enc)
            .map_err(|source| MessageError::EncodePayload {
                procedure: describe(&self.header),
                source,
            })?;
        if fds_len > 0 {
            enc.put_u32(self.num_fds);
        }
        let mut out = BytesMut::with_capacity(LEN_SIZE + len);
        out.put_slice(&word);
        out.put_slice(enc.as_slice());
        out.put_slice(&self.payload);
        Ok(out.freeze())
    }

    /// Decodes the whole payload as a `T`; trailing bytes are an error.
    pub fn decode_payload<T: XdrDecode>(&self) -> Result<T, MessageError> {
        xdr::from_bytes(&self.payload).map_err(|source| MessageError::DecodePayload {
            procedure: describe(&self.header),
            source,
        })
    }
}

/// A name for the procedure in a header, for error messages.
fn describe(header: &Header) -> String {
    if header.is_remote() {
        if let Some(p) = RemoteProcedure::from_number(header.procedure) {
            return p.to_string();
        }
    }
    format!(
        "procedure {} of program {:#x} version {}",
        header.procedure, header.program, header.version
    )
}

/// A CALL of a known procedure of the REMOTE program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its header (type CALL or CALL_WITH_FDS).
    pub header: Header,
    /// The procedure.
    pub procedure: RemoteProcedure,
    /// The encoded args.
    pub payload: Bytes,
}

impl Call {
    /// Decodes the args as those of `P`.
    pub fn args<P: Procedure>(&self) -> Result<P::Args, MessageError> {
        if P::PROCEDURE != self.procedure {
            return Err(MessageError::WrongProcedure {
                expected: P::PROCEDURE,
                actual: self.procedure,
            });
        }
        xdr::from_bytes(&self.payload).map_err(|source| MessageError::DecodePayload {
            procedure: self.procedure.to_string(),
            source,
        })
    }

    /// The OK reply carrying `ret`.
    pub fn reply<P: Procedure>(&self, ret: &P::Ret) -> Result<Message, MessageError> {
        if P::PROCEDURE != self.procedure {
            return Err(MessageError::WrongProcedure {
                expected: P::PROCEDURE,
                actual: self.procedure,
            });
        }
        Message::with_payload(self.header.reply(Status::Ok), ret)
    }

    /// The ERROR reply carrying `error`.
    pub fn error_reply(&self, error: &RemoteError) -> Result<Message, MessageError> {
        Message::error_reply(&self.header, error)
    }
}

/// What a server should do with an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A CALL of a REMOTE procedure in the table.
    Call(Call),
    /// A keepalive MESSAGE: answer PING with PONG; a PONG only proves the
    /// peer is alive.
    Keepalive(KeepaliveProcedure),
    /// Answer with an ERROR reply carrying `error` (libvirtd's exact text).
    Reject {
        /// The offending header; the reply echoes it.
        header: Header,
        /// The error to send.
        error: RemoteError,
    },
    /// A STREAM or STREAM_HOLE packet of the REMOTE program: for the stream opened by the call
    /// with the same procedure and serial, if one is open (see [`crate::stream`]); libvirtd
    /// drops one that matches no open stream.
    Stream(Message),
}

impl Incoming {
    /// Sorts a message received by a server, in libvirtd's order: program
    /// and version first, then the message type, then the procedure number.
    pub fn classify(message: Message) -> Self {
        let header = message.header;
        if let Some(procedure) = header.keepalive_procedure() {
            return Self::Keepalive(procedure);
        }
        if !header.is_remote() {
            return Self::Reject {
                header,
                error: RemoteError::unknown_program(header.program, header.version),
            };
        }
        match header.message_type {
            MessageType::Call | MessageType::CallWithFds => {}
            MessageType::Stream | MessageType::StreamHole => return Self::Stream(message),
            other => {
                return Self::Reject {
                    header,
                    error: RemoteError::new(
                        error_code::RPC,
                        error_domain::RPC,
                        format!("Unexpected message type {}", other.as_i32()),
                    ),
                }
            }
        }
        match RemoteProcedure::from_number(header.procedure) {
            Some(procedure) => Self::Call(Call {
                header,
                procedure,
                payload: message.payload,
            }),
            None => Self::Reject {
                header,
                error: RemoteError::unknown_procedure(header.procedure),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{KEEPALIVE_PROGRAM, QEMU_PROGRAM};
    use crate::payloads::{ConnectOpenArgs, DomainLookupByNameArgs};
    use crate::procedures::{AuthList, ConnectOpen, DomainLookupByName};

    /// CONNECT_OPEN as virsh sends it for `qemu:///system` at serial 2
    /// (reference §3.1): header, then remote_string name, flags 0.
    const VIRSH_CONNECT_OPEN: &[u8] = &[
        0x00, 0x00, 0x00, 0x38, // length 56
        0x20, 0x00, 0x80, 0x86, // REMOTE_PROGRAM
        0x00, 0x00, 0x00, 0x01, // version 1
        0x00, 0x00, 0x00, 0x01, // proc 1 CONNECT_OPEN
        0x00, 0x00, 0x00, 0x00, // CALL
        0x00, 0x00, 0x00, 0x02, // serial 2
        0x00, 0x00, 0x00, 0x00, // OK
        0x00, 0x00, 0x00, 0x01, // name present
        0x00, 0x00, 0x00, 0x0e, // 14 bytes
        b'q', b'e', b'm', b'u', b':', b'/', b'/', b'/', b's', b'y', b's', b't', b'e', b'm', 0, 0,
        0x00, 0x00, 0x00, 0x00, // flags 0
    ];

    /// AUTH_LIST call as observed (reference §1.2), and its 36-byte reply.
    const AUTH_LIST_CALL: &[u8] = &[
        0x00, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 0x42, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0,
    ];
    const AUTH_LIST_REPLY: &[u8] = &[
        0x00, 0x00, 0x00, 0x24, 0x20, 0x00, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 0x42, 0, 0, 0, 1, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ];

    #[test]
    fn golden_connect_open_decodes_and_re_encodes() {
        let msg = Message::decode_frame(VIRSH_CONNECT_OPEN).unwrap();
        let Incoming::Call(call) = Incoming::classify(msg.clone()) else {
            panic!("not a call");
        };
        assert_eq!(call.procedure, RemoteProcedure::ConnectOpen);
        assert_eq!(call.header.serial, 2);
        assert_eq!(
            call.args::<ConnectOpen>().unwrap(),
            ConnectOpenArgs {
                name: Some("qemu:///system".into()),
                flags: 0
            }
        );
        let built = Message::call::<ConnectOpen>(
            2,
            &ConnectOpenArgs {
                name: Some("qemu:///system".into()),
                flags: 0,
            },
        )
        .unwrap();
        assert_eq!(built.encode().unwrap(), VIRSH_CONNECT_OPEN);
    }

    #[test]
    fn golden_auth_list_round_trip() {
        let msg = Message::decode_frame(AUTH_LIST_CALL).unwrap();
        let Incoming::Call(call) = Incoming::classify(msg) else {
            panic!("not a call");
        };
        call.args::<AuthList>().unwrap();
        let reply = call
            .reply::<AuthList>(&crate::payloads::AuthListRet {
                types: vec![crate::types::AuthType::None],
            })
            .unwrap();
        assert_eq!(reply.encode().unwrap(), AUTH_LIST_REPLY);
    }

    #[test]
    fn unknown_procedure_and_program_are_rejected_like_libvirtd() {
        let msg = Message::new(Header::remote_call(9999, 4), Bytes::new());
        match Incoming::classify(msg) {
            Incoming::Reject { header, error } => {
                assert_eq!(header.serial, 4);
                assert_eq!(error.message.as_deref(), Some("unknown procedure: 9999"));
                assert!(error.is_no_support());
            }
            other => panic!("{other:?}"),
        }
        let msg = Message::new(
            Header {
                program: QEMU_PROGRAM,
                ..Header::remote_call(1, 0)
            },
            Bytes::new(),
        );
        assert!(matches!(
            Incoming::classify(msg),
            Incoming::Reject { error, .. }
                if error.message.as_deref() == Some("Cannot find program 536903815 version 1")
        ));
        let msg = Message::new(
            Header {
                version: 2,
                ..Header::remote_call(1, 0)
            },
            Bytes::new(),
        );
        assert!(matches!(Incoming::classify(msg), Incoming::Reject { .. }));
    }

    #[test]
    fn keepalive_ping_is_classified_and_pong_is_empty() {
        let ping = Message::keepalive(KeepaliveProcedure::Ping);
        assert_eq!(
            Incoming::classify(ping),
            Incoming::Keepalive(KeepaliveProcedure::Ping)
        );
        let pong = Message::keepalive(KeepaliveProcedure::Pong)
            .encode()
            .unwrap();
        assert_eq!(pong.len(), 28);
        assert_eq!(&pong[4..8], &KEEPALIVE_PROGRAM.to_be_bytes());
        assert_eq!(&pong[12..16], &2u32.to_be_bytes());
        assert_eq!(&pong[16..20], &2u32.to_be_bytes()); // MESSAGE
    }

    #[test]
    fn stream_data_is_handed_over_and_replies_are_rejected() {
        let header = Header {
            message_type: MessageType::Stream,
            ..Header::remote_call(1, 0)
        };
        assert!(matches!(
            Incoming::classify(Message::new(header, Bytes::new())),
            Incoming::Stream(_)
        ));
        let header = Header::remote_call(1, 0).reply(Status::Ok);
        assert!(matches!(
            Incoming::classify(Message::new(header, Bytes::new())),
            Incoming::Reject { .. }
        ));
    }

    fn lookup_call(payload: &[u8]) -> Call {
        Call {
            header: Header::remote_call(23, 1),
            procedure: RemoteProcedure::DomainLookupByName,
            payload: Bytes::copy_from_slice(payload),
        }
    }

    #[test]
    fn truncated_args_get_an_error_reply() {
        let err = lookup_call(&[0, 0, 0, 5, b'd'])
            .args::<DomainLookupByName>()
            .unwrap_err();
        assert_eq!(err.disposition(), Disposition::ErrorReply);
        let remote = err.to_remote_error();
        assert_eq!((remote.code, remote.domain), (39, 7));
        assert!(remote
            .message
            .unwrap()
            .contains("remote_domain_lookup_by_name_args.name"));
    }

    #[test]
    fn trailing_garbage_after_args_gets_an_error_reply() {
        let err = lookup_call(&[0, 0, 0, 1, b'd', 0, 0, 0, 0xde, 0xad, 0xbe, 0xef])
            .args::<DomainLookupByName>()
            .unwrap_err();
        assert!(matches!(
            &err,
            MessageError::DecodePayload {
                source: XdrError::TrailingBytes { count: 4 },
                ..
            }
        ));
        assert_eq!(err.disposition(), Disposition::ErrorReply);
    }

    #[test]
    fn oversize_string_in_args_closes_the_connection() {
        // A name claiming REMOTE_STRING_MAX + 1 bytes.
        let err = lookup_call(&0x0040_0001u32.to_be_bytes())
            .args::<DomainLookupByName>()
            .unwrap_err();
        assert_eq!(err.disposition(), Disposition::Close);
    }

    #[test]
    fn args_of_the_wrong_procedure_are_refused() {
        let err = lookup_call(&[]).args::<ConnectOpen>().unwrap_err();
        assert!(matches!(err, MessageError::WrongProcedure { .. }));
        let _ = DomainLookupByNameArgs {
            name: String::new(),
        };
    }

    #[test]
    fn frame_errors() {
        assert!(matches!(
            Message::decode_frame(&[0, 0, 0]),
            Err(FrameError::Truncated { .. })
        ));
        assert!(matches!(
            Message::decode_frame(&[0, 0, 0, 27]),
            Err(FrameError::TooShort { len: 27 })
        ));
        assert!(matches!(
            Message::decode_frame(&[0x40, 0, 0, 0]),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            Message::decode_frame(&AUTH_LIST_CALL[..20]),
            Err(FrameError::Truncated {
                len: 28,
                available: 20
            })
        ));
        let mut long = AUTH_LIST_CALL.to_vec();
        long.push(0);
        assert!(matches!(
            Message::decode_frame(&long),
            Err(FrameError::TrailingBytes { count: 1 })
        ));
        let mut bad_type = AUTH_LIST_CALL.to_vec();
        bad_type[19] = 7;
        assert!(matches!(
            Message::decode_frame(&bad_type),
            Err(FrameError::Header { .. })
        ));
    }

    use proptest::prelude::*;

    proptest! {
        /// The fuzz target's properties, on mutations of real frames, so
        /// stable `cargo test` exercises them too.
        #[test]
        fn mutated_frames_never_panic_and_re_encode_exactly(
            base in prop::sample::select(vec![VIRSH_CONNECT_OPEN, AUTH_LIST_CALL, AUTH_LIST_REPLY]),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            truncate: bool,
        ) {
            let mut bytes = base.to_vec();
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            if let Ok(msg) = Message::decode_frame(&bytes) {
                prop_assert_eq!(&msg.encode().unwrap()[..], &bytes[..]);
                if let Incoming::Call(call) = Incoming::classify(msg) {
                    if let Ok(args) = call.args::<ConnectOpen>() {
                        let again = xdr::to_bytes(&args).unwrap();
                        prop_assert_eq!(xdr::from_bytes::<ConnectOpenArgs>(&again).unwrap(), args);
                    }
                }
            }
        }

        #[test]
        fn headers_round_trip(
            program: u32, version: u32, procedure: i32, ty in 0i32..7, serial: u32, status in 0i32..3,
        ) {
            let header = Header {
                program,
                version,
                procedure,
                message_type: MessageType::from_i32(ty).unwrap(),
                serial,
                status: Status::from_i32(status).unwrap(),
            };
            let msg = Message::new(header, Bytes::from_static(&[0, 0, 0, 1]));
            let bytes = msg.encode().unwrap();
            prop_assert_eq!(Message::decode_frame(&bytes).unwrap(), msg);
        }

        #[test]
        fn remote_errors_round_trip(
            code: i32, domain: i32, message: Option<String>, level in 0i32..3,
            str1: Option<String>, str2: Option<String>, int1: i32, int2: i32,
        ) {
            let err = RemoteError {
                code, domain, message, level, dom: None, str1, str2, str3: None, int1, int2, net: None,
            };
            let msg = Message::error_reply(&Header::remote_call(1, 1), &err).unwrap();
            prop_assert_eq!(msg.decode_payload::<RemoteError>().unwrap(), err);
        }
    }

    #[test]
    fn with_fds_messages_carry_a_count_word() {
        let header = Header {
            message_type: MessageType::CallWithFds,
            ..Header::remote_call(1, 0)
        };
        let msg = Message {
            header,
            num_fds: 2,
            payload: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]),
        };
        let bytes = msg.encode().unwrap();
        assert_eq!(bytes.len(), 4 + 24 + 4 + 8);
        assert_eq!(Message::decode_frame(&bytes).unwrap(), msg);
        let mut many = bytes.to_vec();
        many[28..32].copy_from_slice(&33u32.to_be_bytes());
        assert!(matches!(
            Message::decode_frame(&many),
            Err(FrameError::TooManyFds { count: 33 })
        ));
    }
}
