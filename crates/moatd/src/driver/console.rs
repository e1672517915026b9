//! Console sessions: `virDomainOpenConsole` (`virsh console`) brokered by the daemon.
//!
//! A guest's `<serial type='pty'>` (and the `<console type='pty'>` libvirt shows on it) is not a
//! pty here: the jail has no `/dev/pts`, so QEMU listens on a unix socket in the guest's own run
//! directory ([`qemu::paths::RuntimePaths::console_socket`]) and the daemon connects to it for
//! each session. Steps of an open:
//!
//! 1. the guest must be running (libvirt's "domain is not running" otherwise);
//! 2. [`find_console`] picks the chardev as libvirt does: `dev_name` is an alias, consoles first
//!    and then serial ports; without one, the first console if it is a pty, else the first
//!    serial port if it is. A serial port's alias is its own or `serialN` (its index), and a
//!    console on a serial port has that port's alias, as in libvirt's live XML; a chardev that
//!    is not a pty is refused, as libvirt refuses it;
//! 3. one session per guest: a second open is refused with libvirt's "Active console session
//!    exists for this domain", unless `VIR_DOMAIN_CONSOLE_FORCE`, which shuts the old session's
//!    socket down (its stream sees the end of the console) and takes over.
//!    `VIR_DOMAIN_CONSOLE_SAFE` is accepted and changes nothing: sessions are always exclusive;
//! 4. the daemon connects to the socket and checks that the guest's QEMU is the process
//!    listening there (`SO_PEERCRED`): the run directory is the guest's to write, and a
//!    compromised QEMU could put a symlink to another socket (another guest's QMP, the
//!    daemon's own) in the socket's place, which `connect` would follow. The
//!    [`ConsoleStream`]'s two halves then carry the bytes. QEMU accepts one connection at a
//!    time, so a new session's connection waits in the socket's backlog until QEMU has seen the
//!    old one close.
//!
//! The session is held by its reading half: it ends when that is dropped (the client's stream
//! ended or the client vanished: the stream relay drops its source before it confirms the end
//! to the client, so the client's next open never finds its own old session), or when QEMU
//! exits (the socket closes, so reads end); a new open works after either.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use domxml::model::{Chardev, ChardevType};
use domxml::Domain;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use uuid::Uuid;

use super::{Driver, DriverError};

/// `VIR_DOMAIN_CONSOLE_FORCE`: end another session and take over.
pub const CONSOLE_FORCE: u32 = 1;
/// `VIR_DOMAIN_CONSOLE_SAFE`: only when the console can be held exclusively (always here).
pub const CONSOLE_SAFE: u32 = 2;

/// Why no console session was opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// No chardev has that alias (or, without a name, no console or serial port is a pty).
    #[error("cannot find character device {}", .name.as_deref().unwrap_or("(null)"))]
    NoDevice {
        /// The name asked for; `None` for the default console.
        name: Option<String>,
    },
    /// The chardev is not a pty, so it has no console to open.
    #[error("character device {name} is not using a PTY")]
    NotPty {
        /// The name asked for, or the chardev's alias.
        name: String,
    },
    /// Another session holds the console and the open was not forced.
    #[error("Active console session exists for this domain")]
    Busy,
    /// Something other than the guest's QEMU listens at the console socket's path.
    #[error(
        "the console socket {} of domain '{domain}' is not the guest's QEMU's (listener pid {})",
        .path.display(),
        .peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
    )]
    NotQemu {
        /// The guest.
        domain: String,
        /// The socket.
        path: PathBuf,
        /// The pid of the process that listens there, if the kernel said.
        peer: Option<i32>,
    },
    /// QEMU's console socket did not take the connection.
    #[error("cannot connect to the console of domain '{domain}' at {}", .path.display())]
    Connect {
        /// The guest.
        domain: String,
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A chardev that [`find_console`] chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleDevice {
    /// Its alias as the live XML shows it (`serial0`).
    pub alias: String,
    /// The ISA serial port it is on (the console socket's number).
    pub port: u32,
}

/// The aliases libvirt's live XML gives the serial ports and the consoles: a chardev's own
/// alias, else `serialN` for the Nth serial port, the serial port's alias for a console on it
/// (or `serialP` for a console on port P that no `<serial>` names), and `consoleN` for a
/// console of any other target type.
pub fn chardev_aliases(def: &Domain) -> (Vec<String>, Vec<String>) {
    let devices = &def.devices;
    let serials: Vec<String> = devices
        .serials
        .iter()
        .enumerate()
        .map(|(index, serial)| {
            serial
                .alias
                .clone()
                .unwrap_or_else(|| format!("serial{index}"))
        })
        .collect();
    let consoles = devices
        .consoles
        .iter()
        .enumerate()
        .map(|(index, console)| {
            if let Some(alias) = &console.alias {
                return alias.clone();
            }
            match console_serial_port(console) {
                Some(port) => serial_index(def, port)
                    .and_then(|i| serials.get(i).cloned())
                    .unwrap_or_else(|| format!("serial{port}")),
                None => format!("console{index}"),
            }
        })
        .collect();
    (serials, consoles)
}

/// The port of a serial port: its `<target port>`, else its index (as the command line has it).
fn serial_port(index: usize, serial: &Chardev) -> u32 {
    serial
        .target
        .as_ref()
        .and_then(|t| t.port)
        .unwrap_or_else(|| u32::try_from(index).unwrap_or(u32::MAX))
}

/// The serial port a console sits on, if its target is a serial port.
fn console_serial_port(console: &Chardev) -> Option<u32> {
    let target = console.target.as_ref();
    match target.and_then(|t| t.kind.as_deref()) {
        None | Some("serial") => Some(target.and_then(|t| t.port).unwrap_or(0)),
        Some(_) => None,
    }
}

/// The index of the `<serial>` on `port`.
fn serial_index(def: &Domain, port: u32) -> Option<usize> {
    def.devices
        .serials
        .iter()
        .enumerate()
        .position(|(index, serial)| serial_port(index, serial) == port)
}

/// Picks the chardev a console open means (module doc, step 2).
pub fn find_console(def: &Domain, dev_name: Option<&str>) -> Result<ConsoleDevice, ConsoleError> {
    let (serial_aliases, console_aliases) = chardev_aliases(def);
    let devices = &def.devices;
    // Each candidate: its alias, its effective type and its port (a console on a serial port is
    // that port: the command line gives QEMU the `<serial>`'s backend, not the console's).
    let console = |index: usize| {
        let chardev = &devices.consoles[index];
        let port = console_serial_port(chardev);
        let kind = port
            .and_then(|p| serial_index(def, p))
            .map_or(chardev.kind, |i| devices.serials[i].kind);
        (console_aliases[index].clone(), kind, port)
    };
    let serial = |index: usize| {
        let chardev = &devices.serials[index];
        (
            serial_aliases[index].clone(),
            chardev.kind,
            Some(serial_port(index, chardev)),
        )
    };
    let chosen = match dev_name {
        Some(name) => console_aliases
            .iter()
            .position(|a| a == name)
            .map(console)
            .or_else(|| serial_aliases.iter().position(|a| a == name).map(serial)),
        None => {
            let first_console = (!devices.consoles.is_empty()).then(|| console(0));
            let first_serial = (!devices.serials.is_empty()).then(|| serial(0));
            first_console
                .filter(|(_, kind, _)| *kind == ChardevType::Pty)
                .or_else(|| first_serial.filter(|(_, kind, _)| *kind == ChardevType::Pty))
        }
    };
    let Some((alias, kind, port)) = chosen else {
        return Err(ConsoleError::NoDevice {
            name: dev_name.map(str::to_owned),
        });
    };
    match (kind, port) {
        (ChardevType::Pty, Some(port)) => Ok(ConsoleDevice { alias, port }),
        _ => Err(ConsoleError::NotPty {
            name: dev_name.map_or(alias, str::to_owned),
        }),
    }
}

/// The console sessions of all guests (at most one each).
#[derive(Debug, Default)]
pub struct Consoles {
    sessions: Mutex<HashMap<Uuid, Session>>,
    next_id: AtomicU64,
}

/// The live session of one guest.
#[derive(Debug)]
struct Session {
    id: u64,
    /// A duplicate of the session's socket, to shut it down on a forced takeover; `None`
    /// while the session is still connecting.
    socket: Option<std::os::unix::net::UnixStream>,
}

impl Session {
    fn end(&self) {
        if let Some(socket) = &self.socket {
            // Both directions: the old stream's reads end and its writes fail, so its relay
            // finishes and drops its halves, and QEMU sees the connection close.
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Consoles {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the guest's console for a new session (ending the old one when `force`).
    fn reserve(self: &Arc<Self>, uuid: Uuid, force: bool) -> Result<Lease, ConsoleError> {
        let mut sessions = self.lock();
        if let Some(old) = sessions.get(&uuid) {
            if !force {
                return Err(ConsoleError::Busy);
            }
            tracing::info!(%uuid, "console taken over by a forced open");
            old.end();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        sessions.insert(uuid, Session { id, socket: None });
        Ok(Lease {
            consoles: Arc::clone(self),
            uuid,
            id,
        })
    }

    /// Records the connected socket of the session `lease` holds; if another open took the
    /// console over meanwhile, this session ends at once.
    fn connected(&self, lease: &Lease, socket: std::os::unix::net::UnixStream) {
        let mut sessions = self.lock();
        match sessions.get_mut(&lease.uuid) {
            Some(session) if session.id == lease.id => session.socket = Some(socket),
            _ => {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Whether the guest's console is held by a session.
    pub fn is_held(&self, uuid: &Uuid) -> bool {
        self.lock().contains_key(uuid)
    }
}

/// One session's hold on a guest's console; released when dropped, unless a forced open took
/// the console over already.
#[derive(Debug)]
struct Lease {
    consoles: Arc<Consoles>,
    uuid: Uuid,
    id: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut sessions = self.consoles.lock();
        if sessions.get(&self.uuid).is_some_and(|s| s.id == self.id) {
            sessions.remove(&self.uuid);
        }
    }
}

/// An open console: what the guest prints ([`ConsoleReader`]) and what is typed into it
/// ([`ConsoleWriter`]). The session lasts until the reader is dropped.
#[derive(Debug)]
pub struct ConsoleStream {
    /// The guest's output.
    pub reader: ConsoleReader,
    /// The guest's input.
    pub writer: ConsoleWriter,
    /// The chardev opened.
    pub device: ConsoleDevice,
}

/// The reading half of a [`ConsoleStream`], which holds the session.
#[derive(Debug)]
pub struct ConsoleReader {
    inner: OwnedReadHalf,
    _lease: Lease,
}

/// The writing half of a [`ConsoleStream`].
#[derive(Debug)]
pub struct ConsoleWriter {
    inner: OwnedWriteHalf,
}

impl AsyncRead for ConsoleReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConsoleWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Consoles {
    /// Opens a session on the console socket at `path` for guest `uuid`, whose QEMU runs as
    /// `qemu_pid` (module doc, steps 3 and 4).
    pub async fn open(
        self: &Arc<Self>,
        uuid: Uuid,
        domain: &str,
        device: ConsoleDevice,
        (path, qemu_pid): (PathBuf, i32),
        force: bool,
    ) -> Result<ConsoleStream, ConsoleError> {
        let lease = self.reserve(uuid, force)?;
        let connect_error = |source| ConsoleError::Connect {
            domain: domain.to_owned(),
            path: path.clone(),
            source,
        };
        let stream = UnixStream::connect(&path).await.map_err(connect_error)?;
        let peer = stream.peer_cred().map_err(connect_error)?.pid();
        if peer != Some(qemu_pid) {
            return Err(ConsoleError::NotQemu {
                domain: domain.to_owned(),
                path,
                peer,
            });
        }
        let std_stream = stream.into_std().map_err(connect_error)?;
        let duplicate = std_stream.try_clone().map_err(connect_error)?;
        let stream = UnixStream::from_std(std_stream).map_err(connect_error)?;
        self.connected(&lease, duplicate);
        let (read, write) = stream.into_split();
        Ok(ConsoleStream {
            reader: ConsoleReader {
                inner: read,
                _lease: lease,
            },
            writer: ConsoleWriter { inner: write },
            device,
        })
    }
}

impl Driver {
    /// `virDomainOpenConsole`: a session on the guest's console (module doc).
    pub async fn open_console(
        &self,
        uuid: &Uuid,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleStream, DriverError> {
        if flags & !(CONSOLE_FORCE | CONSOLE_SAFE) != 0 {
            return Err(DriverError::UnsupportedFlags {
                flags: flags & !(CONSOLE_FORCE | CONSOLE_SAFE),
                function: "virDomainOpenConsole",
            });
        }
        let guest = self.running_guest(uuid)?;
        let def = &guest.security.def;
        let device = find_console(def, dev_name)?;
        let path = guest.process.paths().console_socket(device.port);
        Ok(self
            .consoles
            .open(
                *uuid,
                &def.name,
                device,
                (path, guest.process.pid()),
                flags & CONSOLE_FORCE != 0,
            )
            .await?)
    }
}

#[cfg(test)]
mod tests;
