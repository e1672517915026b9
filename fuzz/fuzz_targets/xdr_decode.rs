//! XDR payload decoding without framing: the first two bytes pick a
//! procedure (number modulo 512), the rest is decoded as its args and ret.
//! Reaches every payload decoder directly; same round-trip property as
//! `frame`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_fuzz::check_payload;

fuzz_target!(|data: &[u8]| {
    let Some((selector, payload)) = data.split_first_chunk::<2>() else {
        return;
    };
    let procedure = i32::from(u16::from_be_bytes(*selector) % 512);
    check_payload(procedure, payload);
});
