//! Bridges and taps. Bridges are made with `ip` (iproute2); taps are opened on `/dev/net/tun`
//! by the daemon and passed to QEMU as fds, then enslaved to their bridge. A tap is not made
//! persistent: it disappears when the last fd (QEMU's) closes, that is with the guest.

use std::fs::OpenOptions;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use domxml::model::MacAddr;

use super::{run, CommandError};

/// The `ip` program.
const IP: &str = "ip";

/// Why a tap could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapError {
    /// `/dev/net/tun` could not be opened.
    #[error("cannot open /dev/net/tun")]
    Open(#[source] std::io::Error),
    /// `TUNSETIFF` failed.
    #[error("cannot create tap {name}")]
    SetIff {
        /// The tap name.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tap could not be attached or brought up.
    #[error("cannot attach tap {name} to bridge {bridge}")]
    Attach {
        /// The tap.
        name: String,
        /// The bridge.
        bridge: String,
        /// Why.
        #[source]
        source: CommandError,
    },
}

/// Whether a network device exists (in the daemon's network namespace).
pub fn exists(name: &str) -> bool {
    run(IP, &["link", "show", "dev", name], None).is_ok()
}

/// Creates `name` as a bridge with `address/prefix` and brings it up; undone on failure.
pub fn create_bridge(
    name: &str,
    mac: Option<MacAddr>,
    address: Option<(Ipv4Addr, u8)>,
) -> Result<(), CommandError> {
    let mut args = vec!["link", "add", "name", name];
    let mac_text = mac.map(|m| m.to_string());
    if let Some(mac) = &mac_text {
        args.extend(["address", mac.as_str()]);
    }
    args.extend(["type", "bridge", "stp_state", "0", "forward_delay", "0"]);
    run(IP, &args, None)?;
    let rest = (|| {
        if let Some((addr, prefix)) = address {
            let cidr = format!("{addr}/{prefix}");
            run(IP, &["addr", "add", &cidr, "dev", name], None)?;
        }
        run(IP, &["link", "set", "dev", name, "up"], None)
    })();
    if rest.is_err() {
        let _ = delete(name);
    }
    rest.map(drop)
}

/// Deletes a device (bridge or tap).
pub fn delete(name: &str) -> Result<(), CommandError> {
    run(IP, &["link", "del", "dev", name], None).map(drop)
}

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Fail instead of attaching to a tap of that name that already exists (someone else's).
const IFF_TUN_EXCL: libc::c_short = -0x8000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags, padded to 40 bytes.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    pad: [u8; 22],
}

/// Creates tap `name` and returns its fd (for QEMU), then enslaves it to `bridge` and brings it
/// up. The tap vanishes when the fd and every duplicate of it are closed.
pub fn create_tap(name: &str, bridge: &str) -> Result<OwnedFd, TapError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(TapError::Open)?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL,
        pad: [0; 22],
    };
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(TapError::SetIff {
            name: name.to_owned(),
            source: std::io::ErrorKind::InvalidInput.into(),
        });
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: the fd is an open /dev/net/tun we own for the whole call, and TUNSETIFF reads and
    // writes exactly one `struct ifreq`, which `IfReq` lays out (16-byte name, short flags,
    // padding to the kernel's 40-byte union) and which lives on our stack until it returns.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(TapError::SetIff {
            name: name.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    let attach = run(IP, &["link", "set", "dev", name, "master", bridge], None)
        .and_then(|_| run(IP, &["link", "set", "dev", name, "up"], None));
    attach.map_err(|source| TapError::Attach {
        name: name.to_owned(),
        bridge: bridge.to_owned(),
        source,
    })?;
    Ok(OwnedFd::from(file))
}
