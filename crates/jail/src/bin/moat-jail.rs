//! `moat-jail`: reads a `JailSpec` (JSON) on stdin, confines itself and execs
//! the spec's program in place. On failure it prints one line,
//! `moat-jail: <step>: <causes>`, on stderr (QEMU's log) and exits 126, or
//! 127 when the program is missing.

use std::error::Error;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Err(err) = jail::confine::run_from_stdin();
    let mut line = format!("moat-jail: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    ExitCode::from(err.exit_status())
}
