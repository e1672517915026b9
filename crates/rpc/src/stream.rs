//! Stream packets: the data that follows a call which opened a stream.
//!
//! A procedure such as `STORAGE_VOL_UPLOAD` or `DOMAIN_OPEN_CONSOLE` is first answered with an
//! ordinary REPLY. From then on, packets of type STREAM (3) or STREAM_HOLE (6) with the call's
//! procedure and serial carry the stream, in either direction (libvirt 9.0,
//! `virnetserverprogram.c`, `remote_daemon_stream.c`, `virnetclientstream.c`):
//!
//! ```text
//! type         status    payload            meaning
//! STREAM       CONTINUE  raw bytes          data; from the daemon, an empty payload is EOF
//! STREAM_HOLE  CONTINUE  virNetStreamHole    a hole of `length` bytes (sparse streams only)
//! STREAM       OK        empty              client: "finish"; daemon: confirms a finish or abort
//! STREAM       ERROR     remote_error       daemon: the stream failed; client (empty): "abort"
//! ```
//!
//! An upload ends with the client's OK, which the daemon answers with its own OK once the data
//! is safely written (or with ERROR). A download ends with the daemon's empty CONTINUE (EOF);
//! the client then sends OK and the daemon confirms with OK. After the daemon has sent ERROR it
//! forgets the stream: the client raises the error without sending OK or ERROR, and packets it
//! had already sent are dropped. Data packets are never acknowledged; flow control is the
//! transport's.

use bytes::Bytes;
use thiserror::Error;

use crate::header::{Header, MessageType, Status};
use crate::message::Message;
use crate::types::RemoteError;
use crate::xdr::{self, XdrError};
use crate::xdr_struct;

/// `VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`: the most data the daemon puts in one STREAM packet, as
/// libvirtd. Clients may send more in one packet (libvirt's client sends what the application
/// passed to `virStreamSend`, up to the frame limit), and libvirtd accepts that, so a server
/// must too.
pub const STREAM_DATA_MAX: usize = 262_144;

xdr_struct! {
    /// `virNetStreamHole`: the payload of a STREAM_HOLE packet.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct StreamHole("virNetStreamHole") {
        /// Bytes of the hole.
        pub length: i64,
        /// Always 0 in libvirt 9.0.
        pub flags: u32,
    }
}

/// What a client's STREAM or STREAM_HOLE packet asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamPacket {
    /// CONTINUE: bytes for the daemon's end of the stream.
    Data(Bytes),
    /// STREAM_HOLE: skip `length` bytes.
    Hole {
        /// Bytes of the hole (checked non-negative).
        length: u64,
    },
    /// OK: the client has sent everything and waits for the daemon's confirmation.
    Finish,
    /// ERROR: the client gives up; the daemon confirms with OK.
    Abort,
}

/// A stream packet that breaks the protocol.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StreamPacketError {
    /// A STREAM_HOLE payload that does not decode.
    #[error("decoding a stream hole")]
    Hole {
        /// What the decoder found.
        #[source]
        source: XdrError,
    },
    /// A hole of negative length.
    #[error("stream hole of negative length {length}")]
    NegativeHole {
        /// The length sent.
        length: i64,
    },
    /// A STREAM_HOLE whose status is not CONTINUE, or a packet of another type.
    #[error("unexpected stream packet: type {message_type}, status {status}")]
    Unexpected {
        /// `virNetMessageType`.
        message_type: i32,
        /// `virNetMessageStatus`.
        status: i32,
    },
}

impl StreamPacket {
    /// Sorts a STREAM or STREAM_HOLE message received from a client.
    pub fn decode(message: &Message) -> Result<Self, StreamPacketError> {
        let header = &message.header;
        match (header.message_type, header.status) {
            (MessageType::Stream, Status::Continue) => Ok(Self::Data(message.payload.clone())),
            (MessageType::Stream, Status::Ok) => Ok(Self::Finish),
            (MessageType::Stream, Status::Error) => Ok(Self::Abort),
            (MessageType::StreamHole, Status::Continue) => {
                let hole: StreamHole = xdr::from_bytes(&message.payload)
                    .map_err(|source| StreamPacketError::Hole { source })?;
                let length =
                    u64::try_from(hole.length).map_err(|_| StreamPacketError::NegativeHole {
                        length: hole.length,
                    })?;
                Ok(Self::Hole { length })
            }
            (other, status) => Err(StreamPacketError::Unexpected {
                message_type: other.as_i32(),
                status: status.as_i32(),
            }),
        }
    }
}

/// The header of a stream packet of the call with header `call`.
fn stream_header(call: &Header, message_type: MessageType, status: Status) -> Header {
    Header {
        message_type,
        status,
        ..*call
    }
}

impl Message {
    /// A CONTINUE packet carrying `data` (at most [`STREAM_DATA_MAX`] bytes; empty is EOF) for
    /// the stream opened by the call with header `call`.
    pub fn stream_data(call: &Header, data: Bytes) -> Self {
        Self::new(
            stream_header(call, MessageType::Stream, Status::Continue),
            data,
        )
    }

    /// A STREAM_HOLE packet of `length` bytes.
    pub fn stream_hole(call: &Header, length: u64) -> Self {
        let hole = StreamHole {
            length: i64::try_from(length).unwrap_or(i64::MAX),
            flags: 0,
        };
        // Two fixed-size fields: the encoder writes them as they are.
        let mut enc = xdr::Encoder::from_vec(Vec::with_capacity(12));
        enc.put_i64(hole.length);
        enc.put_u32(hole.flags);
        Self::new(
            stream_header(call, MessageType::StreamHole, Status::Continue),
            Bytes::from(enc.into_inner()),
        )
    }

    /// The empty OK that confirms a client's finish or abort.
    pub fn stream_finished(call: &Header) -> Self {
        Self::new(
            stream_header(call, MessageType::Stream, Status::Ok),
            Bytes::new(),
        )
    }

    /// An ERROR packet: the stream failed with `error`.
    pub fn stream_error(
        call: &Header,
        error: &RemoteError,
    ) -> Result<Self, crate::message::MessageError> {
        Self::with_payload(
            stream_header(call, MessageType::Stream, Status::Error),
            error,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{error_code, error_domain};

    fn call() -> Header {
        Header::remote_call(208, 7)
    }

    #[test]
    fn packets_echo_the_call_and_round_trip() {
        let data = Message::stream_data(&call(), Bytes::from_static(b"abc"));
        assert_eq!(data.header.message_type, MessageType::Stream);
        assert_eq!(data.header.status, Status::Continue);
        assert_eq!((data.header.procedure, data.header.serial), (208, 7));
        let wire = Message::decode_frame(&data.encode().unwrap()).unwrap();
        assert_eq!(
            StreamPacket::decode(&wire).unwrap(),
            StreamPacket::Data(Bytes::from_static(b"abc"))
        );

        let hole = Message::stream_hole(&call(), 1 << 40);
        assert_eq!(hole.payload.len(), 12);
        assert_eq!(
            StreamPacket::decode(&hole).unwrap(),
            StreamPacket::Hole { length: 1 << 40 }
        );

        let done = Message::stream_finished(&call());
        assert_eq!(StreamPacket::decode(&done).unwrap(), StreamPacket::Finish);

        let err = RemoteError::new(error_code::RPC, error_domain::RPC, "boom");
        let failed = Message::stream_error(&call(), &err).unwrap();
        assert_eq!(failed.header.status, Status::Error);
        assert_eq!(failed.decode_payload::<RemoteError>().unwrap(), err);
        assert_eq!(StreamPacket::decode(&failed).unwrap(), StreamPacket::Abort);
    }

    #[test]
    fn bad_packets_are_refused() {
        let mut negative = Message::stream_hole(&call(), 0);
        negative.payload = Bytes::from_static(&[0xff; 8])
            .into_iter()
            .chain([0; 4])
            .collect();
        assert!(matches!(
            StreamPacket::decode(&negative),
            Err(StreamPacketError::NegativeHole { length: -1 })
        ));

        let mut short = Message::stream_hole(&call(), 5);
        short.payload = short.payload.slice(..8);
        assert!(matches!(
            StreamPacket::decode(&short),
            Err(StreamPacketError::Hole { .. })
        ));

        let mut hole_ok = Message::stream_hole(&call(), 5);
        hole_ok.header.status = Status::Ok;
        assert!(matches!(
            StreamPacket::decode(&hole_ok),
            Err(StreamPacketError::Unexpected {
                message_type: 6,
                status: 0
            })
        ));
    }
}
