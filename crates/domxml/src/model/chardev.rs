//! Character devices: `<serial>`, `<console>` and `<channel>`.

use super::{Address, DeviceSeclabel, Extra};

/// `type` of a character device: its host-side backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChardevType {
    /// A pseudo terminal.
    Pty,
    /// Output appended to a host file.
    File,
    /// A unix socket (`mode='bind'|'connect'`).
    Unix,
    /// A named pipe pair (`path.in`, `path.out`) or one pipe.
    Pipe,
    /// A host character device.
    Dev,
    /// A TCP socket.
    Tcp,
    /// A UDP socket.
    Udp,
    /// Output discarded.
    Null,
    /// A virtual console.
    Vc,
    /// QEMU's standard input/output.
    Stdio,
    /// A SPICE channel.
    Spicevmc,
    /// A named SPICE port.
    Spiceport,
    /// QEMU's vdagent.
    QemuVdagent,
}

impl ChardevType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChardevType::Pty => "pty",
            ChardevType::File => "file",
            ChardevType::Unix => "unix",
            ChardevType::Pipe => "pipe",
            ChardevType::Dev => "dev",
            ChardevType::Tcp => "tcp",
            ChardevType::Udp => "udp",
            ChardevType::Null => "null",
            ChardevType::Vc => "vc",
            ChardevType::Stdio => "stdio",
            ChardevType::Spicevmc => "spicevmc",
            ChardevType::Spiceport => "spiceport",
            ChardevType::QemuVdagent => "qemu-vdagent",
        }
    }

    /// Whether the backend is a host path the security models label (file, dev, pipe, unix).
    pub fn has_host_path(self) -> bool {
        matches!(
            self,
            ChardevType::File | ChardevType::Dev | ChardevType::Pipe | ChardevType::Unix
        )
    }
}

/// A `<serial>`, `<console>` or `<channel>`; which one is given by the list in
/// [`Devices`](super::Devices) that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// `type`.
    pub kind: ChardevType,
    /// `tty` attribute of a console (live XML).
    pub tty: Option<String>,
    /// `<source>` elements (UDP has a bind and a connect source).
    pub sources: Vec<ChardevSource>,
    /// `<protocol type='raw'|'telnet'|…/>` (TCP).
    pub protocol: Option<String>,
    /// `<log file='…' append='…'/>`, as `(file, append)`.
    pub log: Option<(String, Option<super::OnOff>)>,
    /// `<target>`.
    pub target: Option<ChardevTarget>,
    /// `<alias name='…'/>`.
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
    /// What was not understood.
    pub extra: Extra,
}

impl Chardev {
    /// A chardev of the given type with nothing else set.
    pub fn new(kind: ChardevType) -> Self {
        Chardev {
            kind,
            tty: None,
            sources: Vec::new(),
            protocol: None,
            log: None,
            target: None,
            alias: None,
            address: None,
            extra: Extra::default(),
        }
    }
}

/// Which element a [`Chardev`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChardevRole {
    /// `<serial>`.
    Serial,
    /// `<console>`.
    Console,
    /// `<channel>`.
    Channel,
}

impl ChardevRole {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChardevRole::Serial => "serial",
            ChardevRole::Console => "console",
            ChardevRole::Channel => "channel",
        }
    }
}

/// `<source path=… mode=… host=… service=…>` with optional per-device `<seclabel>`s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChardevSource {
    /// `mode` (`bind`, `connect`).
    pub mode: Option<String>,
    /// `path`.
    pub path: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `service` (port).
    pub service: Option<String>,
    /// `append` (file).
    pub append: Option<super::OnOff>,
    /// `channel` (spiceport).
    pub channel: Option<String>,
    /// Per-device `<seclabel>` overrides.
    pub seclabels: Vec<DeviceSeclabel>,
    /// What was not understood.
    pub extra: Extra,
}

impl ChardevSource {
    /// The per-device override for a security model, if any.
    pub fn seclabel(&self, model: &str) -> Option<&DeviceSeclabel> {
        self.seclabels
            .iter()
            .find(|label| label.model.as_deref() == Some(model))
    }
}

/// `<target type=… port=… name=… state=…>` with an optional `<model name=…/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChardevTarget {
    /// `type` (`isa-serial`, `serial`, `virtio`, `guestfwd`…).
    pub kind: Option<String>,
    /// `port`.
    pub port: Option<u32>,
    /// `name` (virtio channels).
    pub name: Option<String>,
    /// `state` (live XML: `connected`, `disconnected`).
    pub state: Option<String>,
    /// `address` (guestfwd).
    pub address: Option<String>,
    /// `<model name='…'/>`.
    pub model: Option<String>,
    /// What was not understood.
    pub extra: Extra,
}
