//! Domain XML parsing, validation and formatting on arbitrary input.
//!
//! Properties:
//! - nothing panics, in default and in validate (strict) mode, live or not, and `validate`
//!   never panics on whatever parsed;
//! - whatever parses formats to XML that parses again to the same model, and formatting that
//!   model gives the same text (parse ∘ format ∘ parse is stable).
//!
//! Seed it with the crate's corpus; the first directory is where libFuzzer writes new inputs:
//! `cargo +nightly fuzz run domxml_parse corpus/domxml_parse ../crates/domxml/tests/corpus`

#![no_main]

use domxml::{format, parse, validate, FormatOptions, ParseOptions, ValidateOptions};
use libfuzzer_sys::fuzz_target;

const SECURE: FormatOptions = FormatOptions {
    include_secrets: true,
    migratable: false,
};

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    // The length picks the mode, so seeds stay well-formed and mutations still reach every
    // mode.
    let mode = data.len() % 8;
    let options = ParseOptions {
        strict: mode & 1 == 1,
        live: mode & 2 == 2,
        host_security_model: (mode & 4 == 4).then(|| "selinux".to_owned()),
        ..ParseOptions::default()
    };
    let Ok(domain) = parse(xml, &options) else {
        return;
    };
    let _ = validate(
        &domain,
        &ValidateOptions {
            live: options.live,
            ..ValidateOptions::default()
        },
    );
    let text = format(&domain, &SECURE);
    let again = match parse(&text, &options) {
        Ok(again) => again,
        Err(err) => panic!("formatted output does not parse: {err}\n{text}"),
    };
    assert_eq!(again, domain, "parse of format changed the model:\n{text}");
    assert_eq!(format(&again, &SECURE), text, "formatting is not stable");
});
