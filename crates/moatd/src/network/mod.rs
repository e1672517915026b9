//! Host side of guest networking: bridges, taps, dnsmasq and the nftables firewall.
//!
//! A running network is a Linux bridge with the network's gateway address ([`link`]), a dnsmasq
//! serving DHCP and DNS on it ([`dnsmasq`]), and its share of Moat's firewall ([`ruleset`],
//! applied by [`nft`]). Guests join through taps that the daemon creates and hands to QEMU as
//! file descriptors ([`link::create_tap`]), so QEMU never holds `CAP_NET_ADMIN`. What the
//! driver does with these is in [`crate::driver::network`]; design notes in docs/network.md.

pub mod dnsmasq;
pub mod link;
pub mod nft;
pub mod ruleset;

use std::io::Write;
use std::process::{Command, Stdio};

/// A host command that failed.
#[derive(Debug, thiserror::Error)]
#[error("{program} {args} failed: {detail}")]
pub struct CommandError {
    /// The program.
    pub program: String,
    /// Its arguments, joined.
    pub args: String,
    /// Exit status and stderr, or why it could not run.
    pub detail: String,
}

/// Runs `program args`, feeding `stdin`; an error holds its stderr.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, CommandError> {
    let fail = |detail: String| CommandError {
        program: program.to_owned(),
        args: args.join(" "),
        detail,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| fail(format!("cannot write its input: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot wait: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
