//! libvirt's remote protocol, so that `virsh` and python-libvirt can drive
//! Moat unchanged.
//!
//! The crate holds the wire format and nothing else: no OS access besides the
//! sockets of [`transport`] and [`client`]. Modules follow one packet's path:
//!
//! | module | holds |
//! |---|---|
//! | [`xdr`] | the XDR codec ([`XdrEncode`](xdr::XdrEncode), [`XdrDecode`](xdr::XdrDecode), [`XdrError`](xdr::XdrError)), `char`/`short` as 4 bytes |
//! | [`frame`] | length word rules and limits ([`FrameError`](frame::FrameError)) |
//! | [`header`] | the 24-byte [`Header`](header::Header), message types, statuses, program numbers, keepalive |
//! | [`message`] | [`Message`](message::Message), [`Incoming`](message::Incoming) (what a server does with a packet), [`Call`](message::Call), reply/error/event builders |
//! | [`stream`] | STREAM / STREAM_HOLE packets ([`StreamPacket`](stream::StreamPacket)), their builders and the 256 KiB data limit |
//! | [`types`] | `remote_nonnull_domain`, `remote_error` ([`RemoteError`](types::RemoteError)), limits, libvirt error codes |
//! | [`payloads`] | the `*_args`/`*_ret`/`*_msg` structs of the implemented procedures |
//! | [`procedures`] | the procedure table ([`RemoteProcedure`](procedures::RemoteProcedure), [`Procedure`](procedures::Procedure)), generated from libvirt 9.0's list |
//! | [`transport`] | async [`FrameReader`](transport::FrameReader) / [`FrameWriter`](transport::FrameWriter) |
//! | [`client`] | a one-call-at-a-time [`Client`](client::Client) for tests and the CLI |
//!
//! `examples/toy_server.rs` is a minimal server made of these pieces; it was
//! checked by hand against virsh and python3-libvirt 9.0.
//!
//! # Errors and what they do to a connection
//!
//! A frame over 32 MiB + 4 or under 28 bytes, a bad header, a string over
//! 4 MiB or an array over its `*_MAX` is a protocol violation: the server logs
//! it and closes that connection ([`message::Disposition::Close`]). A payload
//! that is merely malformed (truncated, trailing bytes, bad padding, bad
//! UTF-8) gets an error reply and the connection stays
//! ([`message::Disposition::ErrorReply`]).
//!
//! # Example
//!
//! A server answering a client's AUTH_LIST, in memory:
//!
//! ```
//! use rpc::message::{Incoming, Message};
//! use rpc::payloads::AuthListRet;
//! use rpc::procedures::AuthList;
//! use rpc::types::AuthType;
//!
//! // What virsh sends first: AUTH_LIST (66), serial 0, no payload.
//! let frame = Message::call::<AuthList>(0, &())?.encode()?;
//! assert_eq!(frame.len(), 28);
//!
//! let request = Message::decode_frame(&frame)?;
//! let Incoming::Call(call) = Incoming::classify(request) else {
//!     panic!("not a call");
//! };
//! let () = call.args::<AuthList>()?;
//! let reply = call.reply::<AuthList>(&AuthListRet { types: vec![AuthType::None] })?;
//! assert_eq!(reply.encode()?.len(), 36);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod frame;
pub mod header;
pub mod message;
pub mod payloads;
pub mod procedures;
pub mod stream;
pub mod transport;
pub mod types;
pub mod xdr;
