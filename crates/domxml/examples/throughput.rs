//! Parse + validate + format of a typical definition (the 143-line virt-install Q35 guest from
//! the test corpus), reported in µs per definition. Run with
//! `cargo run --release -p domxml --example throughput [ITERATIONS]`.
//!
//! Times are CPU time of the measuring thread (wall time alongside), so other load on a shared
//! machine does not inflate them.
//!
//! Cases: building the XML tree alone (the floor); parse alone; parse + validate; parse + validate + format (what the daemon does on
//! every define and dumpxml).

use std::hint::black_box;
use std::time::Instant;

use domxml::{format, parse, validate, FormatOptions, ParseOptions, ValidateOptions};

const XML: &str = include_str!("../tests/corpus/03-virt-install-q35.xml");

/// CPU time of this thread in seconds: on a shared machine wall time also counts the time other
/// processes had the core.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is supported by every Linux kernel this runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

fn measure(label: &str, iterations: u32, mut step: impl FnMut()) {
    for _ in 0..iterations / 10 {
        step();
    }
    let wall = Instant::now();
    let cpu = thread_cpu_seconds();
    for _ in 0..iterations {
        step();
    }
    let per = |seconds: f64| seconds * 1e6 / f64::from(iterations);
    let cpu_micros = per(thread_cpu_seconds() - cpu);
    let wall_micros = per(wall.elapsed().as_secs_f64());
    println!("{label:<28} {cpu_micros:8.2} µs CPU {wall_micros:8.2} µs wall per definition");
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
    measure("roxmltree tree only", iterations, || {
        black_box(roxmltree::Document::parse(black_box(XML)).is_ok());
    });
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
