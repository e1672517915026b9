//! Shared checks of the fuzz targets.
//!
//! The typed procedures come from the rpc crate's generated table, included
//! here with a local `procedure_table!`, so new procedures are fuzzed without
//! edits.

use rpc::payloads::*;
use rpc::xdr::{self, XdrDecode, XdrEncode};

/// If `payload` decodes as a `T`, its encoding must decode again and encode
/// to the same bytes (compared as bytes, so NaN doubles do not trip it).
pub fn check_round_trip<T: XdrEncode + XdrDecode>(payload: &[u8]) {
    if let Ok(value) = xdr::from_bytes::<T>(payload) {
        let bytes = xdr::to_bytes(&value).expect("a decoded value re-encodes");
        let again = xdr::from_bytes::<T>(&bytes).expect("a re-encoded value decodes");
        let bytes_again = xdr::to_bytes(&again).expect("a decoded value re-encodes");
        assert_eq!(bytes, bytes_again);
    }
}

macro_rules! procedure_table {
    (
        all { $( $num:literal $variant:ident $wire:literal $acl:literal $other:literal; )* }
        typed { $( $typed:ident ( $args:ty => $ret:ty ); )* }
    ) => {
        /// Checks `payload` as the args and as the ret of procedure number
        /// `procedure`, when that procedure has payload types.
        pub fn check_payload(procedure: i32, payload: &[u8]) {
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
