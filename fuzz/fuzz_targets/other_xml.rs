//! Network, storage pool and storage volume XML on arbitrary input: the first byte picks the
//! kind, the rest is the document.
//!
//! Properties:
//! - nothing panics while parsing, validating or formatting;
//! - a network that parses and validates formats to XML that parses to the same network.

#![no_main]

use domxml::network::{format_network, parse_network, validate_network};
use domxml::storage::{parse_pool, parse_volume};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(xml) = std::str::from_utf8(rest) else {
        return;
    };
    match kind % 3 {
        0 => {
            let Ok(net) = parse_network(xml) else {
                return;
            };
            if validate_network(&net).is_err() {
                return;
            }
            let text = format_network(&net);
            let again = match parse_network(&text) {
                Ok(again) => again,
                Err(err) => panic!("formatted network does not parse: {err}\n{text}"),
            };
            assert_eq!(again, net, "parse of format changed the network:\n{text}");
        }
        1 => {
            let _ = parse_pool(xml);
        }
        _ => {
            let _ = parse_volume(xml);
        }
    }
});
