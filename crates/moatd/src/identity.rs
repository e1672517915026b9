//! Who is on the other end of a connection: a local process on a UNIX socket, or a remote
//! client that proved a certificate over TLS.
//!
//! For a UNIX peer the kernel tells the uid, gid and pid (`SO_PEERCRED`); the process start time comes from
//! `/proc/<pid>/stat` (field 22, in clock ticks since boot), so that a pid reused by another process
//! is not mistaken for the caller; user, group and supplementary groups come from the host's user
//! database. Reads of `/proc` go through a root path so tests can use a fixture tree.
//!
//! A TLS peer has no uid or pid: its identity is the distinguished name of the certificate it
//! presented (in libvirt's string form, see [`crate::tls::distinguished_name`]) and its address.

use std::ffi::CString;
use std::net::SocketAddr;
use std::path::Path;

use serde_json::{json, Value};

/// The identity of a connected client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    /// A local process on a UNIX socket.
    Unix(UnixPeer),
    /// A client on the network (TLS).
    Remote(RemotePeer),
}

/// A client on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    /// Its address and port.
    pub address: SocketAddr,
    /// The distinguished name of its verified certificate; `None` before (or without) one, as
    /// for a client refused during the handshake.
    pub x509_dn: Option<String>,
}

/// A local process, from its socket credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixPeer {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
    /// Process id, when the kernel knows it.
    pub pid: Option<i32>,
    /// Process start time in clock ticks since boot, when readable.
    pub start_time: Option<u64>,
    /// User name, when the uid has one.
    pub user: Option<String>,
    /// Primary group name, when the gid has one.
    pub group: Option<String>,
    /// Supplementary groups (gids) from the group database, including `gid`.
    pub groups: Vec<u32>,
    /// Names of those groups (those that have one).
    pub group_names: Vec<String>,
}

impl PeerIdentity {
    /// Completes the kernel's credentials with start time and names.
    pub fn from_credentials(uid: u32, gid: u32, pid: Option<i32>, proc_root: &Path) -> Self {
        Self::Unix(UnixPeer::from_credentials(uid, gid, pid, proc_root))
    }

    /// The daemon itself, for what it does on its own (autostart), as the audit log records it.
    pub fn daemon() -> Self {
        Self::Unix(UnixPeer {
            user: Some("moatd".into()),
            ..UnixPeer::bare(
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
                i32::try_from(std::process::id()).unwrap_or(0),
            )
        })
    }

    /// A UNIX identity with no names, for tests.
    pub fn for_tests(uid: u32, gid: u32, pid: i32) -> Self {
        Self::Unix(UnixPeer::bare(uid, gid, pid))
    }

    /// A client on the network.
    pub fn remote(address: SocketAddr, x509_dn: Option<String>) -> Self {
        Self::Remote(RemotePeer { address, x509_dn })
    }

    /// The identity as the audit log records it.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Unix(peer) => json!({
                "uid": peer.uid,
                "gid": peer.gid,
                "pid": peer.pid,
                "start_time": peer.start_time,
                "user": peer.user,
                "group": peer.group,
            }),
            Self::Remote(peer) => json!({
                "address": peer.address.to_string(),
                "x509_dn": peer.x509_dn,
            }),
        }
    }
}

impl UnixPeer {
    fn bare(uid: u32, gid: u32, pid: i32) -> Self {
        Self {
            uid,
            gid,
            pid: Some(pid),
            start_time: None,
            user: None,
            group: None,
            groups: vec![gid],
            group_names: Vec::new(),
        }
    }

    /// Completes the kernel's credentials with start time and names.
    pub fn from_credentials(uid: u32, gid: u32, pid: Option<i32>, proc_root: &Path) -> Self {
        let start_time = pid.and_then(|pid| process_start_time(proc_root, pid));
        let user = nix::unistd::User::from_uid(uid.into()).ok().flatten();
        let group = nix::unistd::Group::from_gid(gid.into())
            .ok()
            .flatten()
            .map(|g| g.name);
        let groups = user
            .as_ref()
            .and_then(|u| CString::new(u.name.clone()).ok())
            .and_then(|name| nix::unistd::getgrouplist(&name, gid.into()).ok())
            .map(|gids| gids.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_else(|| vec![gid]);
        let group_names = groups
            .iter()
            .filter_map(|&g| nix::unistd::Group::from_gid(g.into()).ok().flatten())
            .map(|g| g.name)
            .collect();
        Self {
            uid,
            gid,
            pid,
            start_time,
            user: user.map(|u| u.name),
            group,
            groups,
            group_names,
        }
    }
}

impl std::fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(peer) => peer.fmt(f),
            Self::Remote(RemotePeer { address, x509_dn }) => match x509_dn {
                Some(dn) => write!(f, "'{dn}' ({address})"),
                None => write!(f, "{address}"),
            },
        }
    }
}

impl std::fmt::Display for UnixPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.user {
            Some(user) => write!(f, "{user}")?,
            None => write!(f, "uid {}", self.uid)?,
        }
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        Ok(())
    }
}

/// Field 22 of `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn process_start_time(proc_root: &Path, pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    parse_start_time(&text)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // after_comm starts with field 3 (state); field 22 is the 20th from there.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_skips_odd_command_names() {
        let stat = "4242 (we (i) rd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1000 200 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("garbage"), None);
        assert_eq!(parse_start_time("1 (x) S 1 2"), None);
    }

    #[test]
    fn reads_from_a_proc_fixture() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("77")).unwrap();
        std::fs::write(
            dir.path().join("77/stat"),
            "77 (virsh) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0",
        )
        .unwrap();
        assert_eq!(process_start_time(dir.path(), 77), Some(5555));
        assert_eq!(process_start_time(dir.path(), 78), None);
    }

    #[test]
    fn own_identity_has_names() {
        let me = UnixPeer::from_credentials(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
            Some(std::process::id().try_into().unwrap()),
            Path::new("/proc"),
        );
        assert!(me.start_time.is_some());
        assert!(me.user.is_some());
        assert!(me.groups.contains(&me.gid));
    }
}
