//! Frame + header + payload decoding of the libvirt remote protocol.
//!
//! Properties, on arbitrary bytes:
//! - nothing panics or allocates beyond the input (libFuzzer's -rss_limit and
//!   -malloc_limit catch the latter);
//! - a frame that decodes re-encodes to the same bytes (header and framing
//!   are lossless);
//! - a CALL's payload that decodes as its procedure's args or ret survives
//!   encode -> decode -> encode unchanged; so does any payload as remote_error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_fuzz::{check_payload, check_round_trip};
use rpc::message::{Incoming, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::decode_frame(data) else {
        return;
    };
    let encoded = message.encode().expect("a decoded frame re-encodes");
    assert_eq!(&encoded[..], data);
    check_round_trip::<rpc::types::RemoteError>(&message.payload);
    match Incoming::classify(message) {
        Incoming::Call(call) => check_payload(call.procedure.number(), &call.payload),
        Incoming::Reject { header, error } => {
            let reply = Message::error_reply(&header, &error).expect("error replies encode");
            reply.encode().expect("error replies frame");
        }
        Incoming::Stream(packet) => {
            let _ = rpc::stream::StreamPacket::decode(&packet);
        }
        Incoming::Keepalive(_) => {}
    }
});
