//! Parse + validate + format of a typical definition (the 143-line virt-install Q35 guest from
//! the test corpus), reported in µs per definition. Run with
//! `cargo run --release -p domxml --example throughput [ITERATIONS]`.
//!
//! Cases: parse alone; parse + validate; parse + validate + format (what the daemon does on
//! every define and dumpxml).

use std::hint::black_box;
use std::time::Instant;

use domxml::{format, parse, validate, FormatOptions, ParseOptions, ValidateOptions};

const XML: &str = include_str!("../tests/corpus/03-virt-install-q35.xml");

fn measure(label: &str, iterations: u32, mut step: impl FnMut()) {
    for _ in 0..iterations / 10 {
        step();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        step();
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!("{label:<28} {micros:8.2} µs/definition");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 20_000,
    };
    let parse_options = ParseOptions::default();
    let validate_options = ValidateOptions::default();
    let format_options = FormatOptions::default();
    // Fail early, outside the timed loops, if the sample does not go through.
    let domain = parse(XML, &parse_options)?;
    validate(&domain, &validate_options)?;

    println!(
        "{} bytes, {} lines, {iterations} iterations",
        XML.len(),
        XML.lines().count()
    );
    measure("parse", iterations, || {
        black_box(parse(black_box(XML), &parse_options).ok());
    });
    measure("parse + validate", iterations, || {
        if let Ok(domain) = parse(black_box(XML), &parse_options) {
            black_box(validate(&domain, &validate_options).is_ok());
        }
    });
    measure("parse + validate + format", iterations, || {
        if let Ok(domain) = parse(black_box(XML), &parse_options) {
            let valid = validate(&domain, &validate_options).is_ok();
            black_box((valid, format(&domain, &format_options)));
        }
    });
    measure("format", iterations, || {
        black_box(format(black_box(&domain), &format_options));
    });
    Ok(())
}
