//! A QMP client: QEMU's JSON monitor protocol over a unix socket.
//!
//! The wire format is one JSON object per line in each direction:
//!
//! 1. on connect QEMU sends the greeting `{"QMP": {"version": {...}, "capabilities": [...]}}`;
//! 2. the client sends `{"execute": "qmp_capabilities"}` and gets `{"return": {}}`: only then
//!    are other commands accepted;
//! 3. each command is `{"execute": NAME, "arguments": {...}, "id": N}`, answered by
//!    `{"return": VALUE, "id": N}` or `{"error": {"class": C, "desc": D}, "id": N}`;
//! 4. at any time QEMU may send an event `{"event": NAME, "data": {...}, "timestamp": {...}}`;
//!    events may come before the answer of the command that caused them (`POWERDOWN` before
//!    `system_powerdown`'s return), and `SHUTDOWN` comes before the socket closes.
//!
//! [`QmpClient::connect`] does steps 1–2, then a reader task matches answers to waiting
//! commands by id and forwards events, in order, on a bounded channel ([`QmpEvents`]). Each
//! command has a timeout; an answer arriving after it is dropped. Lines longer than
//! [`MAX_LINE`] and malformed JSON end the connection, as does EOF: every waiting command then
//! fails with [`QmpError::Disconnected`] and the event channel closes.
//!
//! Commands go through the [`Monitor`] trait so that callers can be tested against the
//! [`RecordingMonitor`] fake. Values are raw [`serde_json::Value`]s: the schema differs between
//! QEMU 7.2 and later releases, and the daemon needs only a few fields.

mod fake;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use fake::{RecordedCall, RecordingMonitor};

/// Longest line accepted from QEMU (`query-qmp-schema` is about 200 KiB on 7.2).
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// Events buffered before the reader waits for the consumer.
pub const EVENT_BUFFER: usize = 256;

/// Default time a command may take.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QmpError {
    /// The socket could not be connected.
    #[error("cannot connect to QMP socket {path}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("QMP I/O on {path} failed")]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// QEMU sent something that is not QMP.
    #[error("QMP protocol error on {path}: {detail}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The greeting did not come in time.
    #[error("no QMP greeting on {path} within {after:?}")]
    GreetingTimeout {
        /// The socket.
        path: PathBuf,
        /// The time waited.
        after: Duration,
    },
    /// QEMU answered the command with an error.
    #[error("QMP command '{command}' failed: {class}: {desc}")]
    Command {
        /// The command.
        command: String,
        /// QEMU's error class (`GenericError`, `CommandNotFound`, …).
        class: String,
        /// QEMU's description.
        desc: String,
    },
    /// No answer within the command's timeout.
    #[error("QMP command '{command}' got no answer within {after:?}")]
    Timeout {
        /// The command.
        command: String,
        /// The time waited.
        after: Duration,
    },
    /// The connection ended before the answer (QEMU exited or closed the monitor).
    #[error("QMP connection closed before '{command}' was answered")]
    Disconnected {
        /// The command.
        command: String,
    },
}

/// A boxed future of a command's answer, so that [`Monitor`] can be used as a trait object.
pub type MonitorFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, QmpError>> + Send + 'a>>;

/// What the daemon needs from a QEMU monitor: run a command, get its `return` value.
///
/// One real implementation ([`QmpClient`]) and one recording fake ([`RecordingMonitor`]).
/// The provided methods are the commands the lifecycle uses.
pub trait Monitor: Send + Sync {
    /// Runs `command` with optional `arguments` and returns the `return` member of the answer.
    fn execute<'a>(&'a self, command: &'a str, arguments: Option<Value>) -> MonitorFuture<'a>;

    /// `system_powerdown`: presses the ACPI power button (`virsh shutdown`).
    fn system_powerdown(&self) -> MonitorFuture<'_> {
        self.execute("system_powerdown", None)
    }

    /// `system_reset`: hard reset (`virsh reset`).
    fn system_reset(&self) -> MonitorFuture<'_> {
        self.execute("system_reset", None)
    }

    /// `stop`: pauses the vCPUs (`virsh suspend`).
    fn stop(&self) -> MonitorFuture<'_> {
        self.execute("stop", None)
    }

    /// `cont`: resumes the vCPUs (`virsh resume`, and after a paused start).
    fn cont(&self) -> MonitorFuture<'_> {
        self.execute("cont", None)
    }

    /// `quit`: QEMU exits at once, without the guest's cooperation.
    fn quit(&self) -> MonitorFuture<'_> {
        self.execute("quit", None)
    }

    /// `query-status`: the run state (`{"status": "running", "running": true, …}`).
    fn query_status(&self) -> MonitorFuture<'_> {
        self.execute("query-status", None)
    }
}

/// A QMP event, as sent by QEMU.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// The event name (`SHUTDOWN`, `STOP`, …).
    pub name: String,
    /// The `data` member, or `null`.
    pub data: Value,
    /// The `timestamp` as `(seconds, microseconds)`, when present.
    pub timestamp: Option<(i64, i64)>,
}

/// The lifecycle events the daemon follows; everything else is [`EventKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `SHUTDOWN`: the guest powered off or QEMU was asked to quit.
    Shutdown,
    /// `STOP`: vCPUs paused (also on an emulation failure).
    Stop,
    /// `RESUME`: vCPUs running again.
    Resume,
    /// `RESET`: the machine was reset (guest reboot or `system_reset`).
    Reset,
    /// `POWERDOWN`: the ACPI power button was pressed.
    Powerdown,
    /// `GUEST_PANICKED`: a panic device reported a guest crash.
    GuestPanicked,
    /// Any other event.
    Other,
}

impl QmpEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self.name.as_str() {
            "SHUTDOWN" => EventKind::Shutdown,
            "STOP" => EventKind::Stop,
            "RESUME" => EventKind::Resume,
            "RESET" => EventKind::Reset,
            "POWERDOWN" => EventKind::Powerdown,
            "GUEST_PANICKED" => EventKind::GuestPanicked,
            _ => EventKind::Other,
        }
    }

    /// `data.guest` of `SHUTDOWN`/`RESET`: whether the guest asked for it.
    pub fn by_guest(&self) -> Option<bool> {
        self.data.get("guest").and_then(Value::as_bool)
    }

    /// `data.reason` of `SHUTDOWN`/`RESET` (`guest-shutdown`, `host-qmp-quit`, `guest-reset`…).
    pub fn reason(&self) -> Option<&str> {
        self.data.get("reason").and_then(Value::as_str)
    }
}

/// The receiving end of a connection's events; closes when the connection ends.
///
/// Keep draining it (or drop it): once [`EVENT_BUFFER`] events wait unread, the reader waits
/// too, and with it the answers to commands.
pub type QmpEvents = mpsc::Receiver<QmpEvent>;

/// QEMU's version from the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QemuVersion {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Micro.
    pub micro: u64,
}

/// The greeting QEMU sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// QEMU's version.
    pub version: QemuVersion,
    /// The distribution's package string (`Debian 1:7.2+dfsg-7+deb12u18+b3`).
    pub package: String,
    /// Offered capabilities (`oob`); none are enabled.
    pub capabilities: Vec<String>,
}

/// Timeouts of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmpOptions {
    /// How long to wait for the greeting and the capabilities negotiation.
    pub handshake_timeout: Duration,
    /// Default time a command may take ([`QmpClient::execute_with_timeout`] overrides it).
    pub command_timeout: Duration,
}

impl Default for QmpOptions {
    fn default() -> Self {
        QmpOptions {
            handshake_timeout: Duration::from_secs(5),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

type Reply = Result<Value, (String, String)>;
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Reply>>>>>;

/// A live QMP connection (the real [`Monitor`]).
///
/// Dropping it stops the reader task and closes the socket; QEMU keeps running.
#[derive(Debug)]
pub struct QmpClient {
    path: PathBuf,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    options: QmpOptions,
    greeting: Greeting,
    reader: JoinHandle<()>,
}

impl Drop for QmpClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl QmpClient {
    /// Connects to the socket at `path`, reads the greeting and negotiates capabilities.
    pub async fn connect(
        path: &Path,
        options: QmpOptions,
    ) -> Result<(QmpClient, QmpEvents), QmpError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| QmpError::Connect {
                path: path.to_owned(),
                source,
            })?;
        Self::handshake(stream, path, options).await
    }

    /// Runs the handshake on an already connected stream (`path` is for messages).
    pub async fn handshake(
        stream: UnixStream,
        path: &Path,
        options: QmpOptions,
    ) -> Result<(QmpClient, QmpEvents), QmpError> {
        let (read, write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let greeting =
            tokio::time::timeout(options.handshake_timeout, read_greeting(&mut reader, path))
                .await
                .map_err(|_| QmpError::GreetingTimeout {
                    path: path.to_owned(),
                    after: options.handshake_timeout,
                })??;
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(read_loop(
            reader,
            path.to_owned(),
            Arc::clone(&pending),
            events_tx,
        ));
        let client = QmpClient {
            path: path.to_owned(),
            writer: tokio::sync::Mutex::new(write),
            pending,
            next_id: AtomicU64::new(1),
            options,
            greeting,
            reader: task,
        };
        client
            .execute_with_timeout("qmp_capabilities", None, options.handshake_timeout)
            .await?;
        Ok((client, events))
    }

    /// The greeting QEMU sent.
    pub fn greeting(&self) -> &Greeting {
        &self.greeting
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a command with its own timeout.
    pub async fn execute_with_timeout(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            let Some(map) = pending.as_mut() else {
                return Err(QmpError::Disconnected {
                    command: command.to_owned(),
                });
            };
            map.insert(id, tx);
        }
        let mut request = json!({"execute": command, "id": id});
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut line = request.to_string();
        line.push('\n');
        let exchange = async {
            {
                let mut writer = self.writer.lock().await;
                writer
                    .write_all(line.as_bytes())
                    .await
                    .map_err(|source| QmpError::Io {
                        path: self.path.clone(),
                        source,
                    })?;
            }
            match rx.await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err((class, desc))) => Err(QmpError::Command {
                    command: command.to_owned(),
                    class,
                    desc,
                }),
                Err(_) => Err(QmpError::Disconnected {
                    command: command.to_owned(),
                }),
            }
        };
        let result = tokio::time::timeout(timeout, exchange).await;
        if let Some(map) = lock(&self.pending).as_mut() {
            map.remove(&id);
        }
        result.map_err(|_| QmpError::Timeout {
            command: command.to_owned(),
            after: timeout,
        })?
    }
}

impl Monitor for QmpClient {
    fn execute<'a>(&'a self, command: &'a str, arguments: Option<Value>) -> MonitorFuture<'a> {
        Box::pin(self.execute_with_timeout(command, arguments, self.options.command_timeout))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock leaves the map consistent (single inserts and removes).
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn read_greeting(
    reader: &mut BufReader<OwnedReadHalf>,
    path: &Path,
) -> Result<Greeting, QmpError> {
    let protocol = |detail: String| QmpError::Protocol {
        path: path.to_owned(),
        detail,
    };
    let mut buf = Vec::new();
    let line = read_line(reader, &mut buf, path)
        .await?
        .ok_or_else(|| protocol("connection closed before the greeting".into()))?;
    let value: Value = serde_json::from_slice(line)
        .map_err(|err| protocol(format!("greeting is not JSON: {err}")))?;
    let qmp = value
        .get("QMP")
        .ok_or_else(|| protocol("first message is not a greeting".into()))?;
    let number = |key: &str| {
        qmp.pointer(&format!("/version/qemu/{key}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok(Greeting {
        version: QemuVersion {
            major: number("major"),
            minor: number("minor"),
            micro: number("micro"),
        },
        package: qmp
            .pointer("/version/package")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        capabilities: qmp
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|caps| {
                caps.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes; `None` on a clean EOF.
async fn read_line<'b>(
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &'b mut Vec<u8>,
    path: &Path,
) -> Result<Option<&'b [u8]>, QmpError> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await.map_err(|source| QmpError::Io {
            path: path.to_owned(),
            source,
        })?;
        if available.is_empty() {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(QmpError::Protocol {
                    path: path.to_owned(),
                    detail: "connection closed in the middle of a message".into(),
                })
            };
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..=end], true),
            None => (available, false),
        };
        if buf.len() + chunk.len() > MAX_LINE {
            return Err(QmpError::Protocol {
                path: path.to_owned(),
                detail: format!("message longer than {MAX_LINE} bytes"),
            });
        }
        buf.extend_from_slice(chunk);
        let used = chunk.len();
        reader.consume(used);
        if done {
            return Ok(Some(buf.as_slice()));
        }
    }
}

async fn read_loop(
    mut reader: BufReader<OwnedReadHalf>,
    path: PathBuf,
    pending: Pending,
    events: mpsc::Sender<QmpEvent>,
) {
    let mut buf = Vec::new();
    loop {
        let line = match read_line(&mut reader, &mut buf, &path).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(err) => {
                tracing::warn!(%err, "closing QMP connection");
                break;
            }
        };
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_slice(text) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "QMP message is not JSON; closing");
                break;
            }
        };
        if let Some(name) = message.get("event").and_then(Value::as_str) {
            let timestamp = message.get("timestamp").and_then(|t| {
                Some((
                    t.get("seconds")?.as_i64()?,
                    t.get("microseconds")?.as_i64()?,
                ))
            });
            let event = QmpEvent {
                name: name.to_owned(),
                data: message.get("data").cloned().unwrap_or(Value::Null),
                timestamp,
            };
            // A dropped receiver means nobody follows events; keep serving commands.
            let _ = events.send(event).await;
            continue;
        }
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            tracing::warn!(path = %path.display(), "QMP answer without a known id; ignored");
            continue;
        };
        let reply = if let Some(value) = message.get("return") {
            Ok(value.clone())
        } else if let Some(error) = message.get("error") {
            let field = |key: &str| {
                error
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Err((field("class"), field("desc")))
        } else {
            tracing::warn!(path = %path.display(), id, "QMP answer without return or error");
            continue;
        };
        let waiter = lock(&pending).as_mut().and_then(|map| map.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(reply);
        }
    }
    // Dropping the senders fails every waiting command with Disconnected.
    lock(&pending).take();
}

#[cfg(test)]
mod tests;
