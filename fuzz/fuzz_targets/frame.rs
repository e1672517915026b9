//! Frame + header + payload decoding of the libvirt remote protocol.
//!
//! Properties, on arbitrary bytes:
//! - nothing panics or allocates beyond the input (libFuzzer's -rss_limit and
//!   -malloc_limit catch the latter);
//! - a frame that decodes re-encodes to the same bytes (the header and framing
//!   are lossless);
//! - a payload that decodes as a procedure's args or ret re-encodes to a value
//!   that decodes back to the same value.
//!
//! The typed procedures come from the crate's generated table, included here
//! with a local `procedure_table!`, so new procedures are fuzzed without edits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rpc::message::{Incoming, Message};
use rpc::payloads::*;
use rpc::xdr::{self, XdrDecode, XdrEncode};

fn check_round_trip<T: XdrEncode + XdrDecode + PartialEq + std::fmt::Debug>(payload: &[u8]) {
    if let Ok(value) = xdr::from_bytes::<T>(payload) {
        let bytes = xdr::to_bytes(&value).expect("a decoded value re-encodes");
        let again = xdr::from_bytes::<T>(&bytes).expect("a re-encoded value decodes");
        assert_eq!(again, value);
    }
}

macro_rules! procedure_table {
    (
        all { $( $num:literal $variant:ident $wire:literal $acl:literal $other:literal; )* }
        typed { $( $typed:ident ( $args:ty => $ret:ty ); )* }
    ) => {
        fn check_payload(procedure: i32, payload: &[u8]) {
            use rpc::procedures::Procedure;
            $(
                if procedure == rpc::procedures::$typed::PROCEDURE.number() {
                    check_round_trip::<$args>(payload);
                    check_round_trip::<$ret>(payload);
                    return;
                }
            )*
        }
    };
}

include!("../../crates/rpc/generated/procedures.rs");

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::decode_frame(data) else {
        return;
    };
    let encoded = message.encode().expect("a decoded frame re-encodes");
    assert_eq!(&encoded[..], data);
    match Incoming::classify(message) {
        Incoming::Call(call) => check_payload(call.procedure.number(), &call.payload),
        Incoming::Reject { header, error } => {
            let reply = Message::error_reply(&header, &error).expect("error replies encode");
            reply.encode().expect("error replies frame");
        }
        Incoming::Keepalive(_) | Incoming::Ignore { .. } => {}
    }
    // Any payload might also be a remote_error.
    check_round_trip::<rpc::types::RemoteError>(data.get(28..).unwrap_or_default());
});
