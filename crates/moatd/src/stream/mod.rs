//! libvirt streams: the data that follows a call such as `STORAGE_VOL_UPLOAD`,
//! `STORAGE_VOL_DOWNLOAD` or `DOMAIN_OPEN_CONSOLE`.
//!
//! The wire side (packet types, statuses, who sends what at the end) is in [`rpc::stream`].
//! This module is the daemon side: a procedure handler says what the stream's two ends are, and
//! the connection relays packets between the client and those ends, with bounded memory.
//!
//! # How a handler opens a stream
//!
//! 1. Route the procedure in [`crate::dispatch::route_stream`] to a
//!    [`StreamHandler`](crate::dispatch::StreamHandler): an async function of an
//!    [`OwnedCall`](crate::dispatch::OwnedCall), run in its own task within the client's
//!    `max_client_requests`.
//! 2. The handler decodes its args, checks read-only, existence and ACL exactly as other
//!    handlers do, opens what it streams from or to, and returns a
//!    [`StreamOpen`](crate::dispatch::StreamOpen): the call's OK reply (`call.reply::<P>(&ret)`)
//!    and the [`StreamEnds`]. An `Err` is sent as an ordinary error reply and no stream opens.
//! 3. The ends are:
//!    - a [`StreamSink`] for what the client sends (upload, console keyboard): `write` gets
//!      each data packet (not empty; usually at most 256 KiB, but a client may send up to the
//!      32 MiB frame limit in one), `hole` each STREAM_HOLE (only
//!      with [`Holes::Accept`]), `finish` the client's OK, `abort` an abort, a client that
//!      vanished or a failure; it is then dropped;
//!    - a [`StreamSource`] for what the daemon sends (download, console output): `next(max)`
//!      yields [`Piece::Data`] of at most `max` bytes, [`Piece::Hole`] (sparse downloads) or
//!      [`Piece::End`] (sent as EOF);
//!    - or both, for a duplex stream. Plain tokio halves fit through [`ReaderSource`] and
//!      [`WriterSink`]; a console is
//!      `StreamEnds::duplex(ReaderSource::new(pty_read, "the console of guest g"),
//!      WriterSink::new(pty_write, "the console of guest g"))`.
//!
//!    An end's error ([`StreamError`]) is sent to the client as a STREAM ERROR with the
//!    libvirt error of [`crate::errors::stream_error`] (a [`DriverError`] keeps its usual code)
//!    and ends the stream.
//! 4. The connection registers the stream under the call's serial *before* it sends the reply,
//!    so no packet can overtake it, then starts relaying. Nothing else is needed: the end of the
//!    stream, the confirmation packets and the clean-up are the relay's.
//!
//! `dispatch/storage/transfer.rs` (volume upload and download) is a worked example.
//!
//! # Flow control and limits
//!
//! - Client → daemon: each stream queues at most [`QUEUE_BYTES`] of client data (and at most
//!   [`QUEUE_PACKETS`] packets). When that is reached the connection stops reading from the
//!   client's socket until the sink has taken a packet, so a fast client against a slow disk
//!   makes the daemon hold 1 MiB plus the packet being written (a packet larger than the
//!   budget takes all of it). Other calls on that connection then wait too, as with libvirtd:
//!   they share the socket.
//! - Daemon → client: the source is asked for the next piece only when one of the stream's
//!   [`SEND_CREDITS`] credits is free; a credit comes back when the connection's writer has
//!   written the packet to the socket. A slow client thus holds at most that many packets.
//!   Replies, keepalive and events leave before queued stream packets.
//! - Data packets the daemon sends hold at most [`STREAM_DATA_MAX`] (256 KiB, as libvirtd).
//!   Client packets are bounded by the 32 MiB frame limit only, as libvirtd accepts them
//!   (python-libvirt sends what `stream.send()` was given in one packet).
//! - A bad hole packet, a STREAM_HOLE on a stream that did not ask for holes, and data for a
//!   stream with no sink fail that stream (STREAM ERROR), not the connection.
//! - A connection has at most [`MAX_STREAMS`] streams open; more are refused with an error
//!   reply (and the end just opened is aborted).
//! - A client that vanishes mid-stream: its streams are aborted (the sink's `abort`), their
//!   tasks end, and nothing else is affected. Packets for a stream that has ended are dropped,
//!   as libvirtd does.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use rpc::header::Header;
use rpc::message::Message;
use rpc::stream::StreamPacketError;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::driver::DriverError;

mod relay;

pub use rpc::stream::STREAM_DATA_MAX;

/// Bytes of client data queued per stream before the connection stops reading.
pub const QUEUE_BYTES: usize = 1024 * 1024;
/// Client packets queued per stream (empty and hole packets count here only).
pub const QUEUE_PACKETS: usize = 64;
/// Packets per stream that may wait for the socket at once.
pub const SEND_CREDITS: usize = 4;
/// Most streams open at once on one connection.
pub const MAX_STREAMS: usize = 16;

/// What a failed stream end reports.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A driver step failed (the volume, the guest, the access check).
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// Reading or writing the end failed.
    #[error("{what}")]
    Io {
        /// The step and its subject (path, device).
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The client broke the stream protocol.
    #[error("invalid stream packet")]
    Packet(#[from] StreamPacketError),
    /// A STREAM_HOLE on a stream opened without the sparse flag.
    #[error("unexpected stream hole: the stream was not opened as sparse")]
    UnexpectedHole,
    /// Data from the client on a stream that only sends.
    #[error("this stream does not take data from the client")]
    NotWritable,
    /// The connection has [`MAX_STREAMS`] open.
    #[error("too many open streams on this connection (at most {max})")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// Another stream uses the call's serial.
    #[error("a stream with serial {serial} is already open")]
    SerialInUse {
        /// The serial.
        serial: u32,
    },
}

impl StreamError {
    /// An I/O failure of `what`.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// The future a stream end returns.
pub type StreamFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StreamError>> + Send + 'a>>;

/// The daemon's end for what the client sends.
pub trait StreamSink: Send {
    /// Takes one data packet (not empty).
    fn write(&mut self, data: Bytes) -> StreamFuture<'_, ()>;
    /// Skips `length` bytes (sparse streams; called only with [`Holes::Accept`]).
    fn hole(&mut self, length: u64) -> StreamFuture<'_, ()>;
    /// The client has sent everything: make it durable or report why not. The client gets OK
    /// or this error.
    fn finish(&mut self) -> StreamFuture<'_, ()>;
    /// The stream ends without a finish: the client aborted or vanished, or the stream failed
    /// (`reason` says which). The sink is dropped next.
    fn abort(&mut self, reason: &str) {
        let _ = reason;
    }
}

/// One step of a [`StreamSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes for the client (at most the `max` asked for, not empty).
    Data(Bytes),
    /// A hole of this many bytes (sparse downloads).
    Hole(u64),
    /// Nothing more: the client gets EOF.
    End,
}

/// The daemon's end for what the client receives.
pub trait StreamSource: Send {
    /// The next piece, at most `max` bytes of data. Dropping the future may lose what it
    /// read; that happens only when the stream is ending anyway.
    fn next(&mut self, max: usize) -> StreamFuture<'_, Piece>;
}

/// Whether the client may send STREAM_HOLE packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holes {
    /// The call asked for a sparse stream.
    Accept,
    /// Holes fail the stream.
    Refuse,
}

/// A stream's ends, as a handler hands them to the connection.
pub struct StreamEnds {
    /// Where client data goes (`None`: the stream only sends).
    pub sink: Option<Box<dyn StreamSink>>,
    /// Where data for the client comes from (`None`: the stream only receives).
    pub source: Option<Box<dyn StreamSource>>,
    /// Whether the sink takes holes.
    pub holes: Holes,
}

impl fmt::Debug for StreamEnds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamEnds")
            .field("sink", &self.sink.is_some())
            .field("source", &self.source.is_some())
            .field("holes", &self.holes)
            .finish()
    }
}

impl StreamEnds {
    /// A stream from the client to `sink` (an upload).
    pub fn upload(sink: impl StreamSink + 'static, holes: Holes) -> Self {
        Self {
            sink: Some(Box::new(sink)),
            source: None,
            holes,
        }
    }

    /// A stream from `source` to the client (a download).
    pub fn download(source: impl StreamSource + 'static) -> Self {
        Self {
            sink: None,
            source: Some(Box::new(source)),
            holes: Holes::Refuse,
        }
    }

    /// Both ways at once (a console): `source` to the client, the client to `sink`.
    pub fn duplex(source: impl StreamSource + 'static, sink: impl StreamSink + 'static) -> Self {
        Self {
            sink: Some(Box::new(sink)),
            source: Some(Box::new(source)),
            holes: Holes::Refuse,
        }
    }
}

/// A [`StreamSource`] over any [`AsyncRead`]: data as it comes, EOF at its end.
#[derive(Debug)]
pub struct ReaderSource<R> {
    reader: R,
    what: String,
}

impl<R: AsyncRead + Send + Unpin> ReaderSource<R> {
    /// Reads from `reader`; `what` names it in errors.
    pub fn new(reader: R, what: impl Into<String>) -> Self {
        Self {
            reader,
            what: what.into(),
        }
    }
}

impl<R: AsyncRead + Send + Unpin> StreamSource for ReaderSource<R> {
    fn next(&mut self, max: usize) -> StreamFuture<'_, Piece> {
        Box::pin(async move {
            let mut buf = BytesMut::zeroed(max.clamp(1, STREAM_DATA_MAX));
            let n = self
                .reader
                .read(&mut buf)
                .await
                .map_err(|source| StreamError::io(format!("reading {}", self.what), source))?;
            if n == 0 {
                return Ok(Piece::End);
            }
            buf.truncate(n);
            Ok(Piece::Data(buf.freeze()))
        })
    }
}

/// A [`StreamSink`] over any [`AsyncWrite`]: data written in order, shut down at finish.
/// Holes are refused (open such streams with [`Holes::Refuse`]).
#[derive(Debug)]
pub struct WriterSink<W> {
    writer: W,
    what: String,
}

impl<W: AsyncWrite + Send + Unpin> WriterSink<W> {
    /// Writes to `writer`; `what` names it in errors.
    pub fn new(writer: W, what: impl Into<String>) -> Self {
        Self {
            writer,
            what: what.into(),
        }
    }
}

impl<W: AsyncWrite + Send + Unpin> StreamSink for WriterSink<W> {
    fn write(&mut self, data: Bytes) -> StreamFuture<'_, ()> {
        Box::pin(async move {
            self.writer
                .write_all(&data)
                .await
                .map_err(|source| StreamError::io(format!("writing {}", self.what), source))
        })
    }

    fn hole(&mut self, _length: u64) -> StreamFuture<'_, ()> {
        Box::pin(async { Err(StreamError::UnexpectedHole) })
    }

    fn finish(&mut self) -> StreamFuture<'_, ()> {
        Box::pin(async move {
            self.writer
                .shutdown()
                .await
                .map_err(|source| StreamError::io(format!("closing {}", self.what), source))
        })
    }
}

/// A packet for the connection's writer, with the stream credit it holds until written.
#[derive(Debug)]
pub struct Outgoing {
    /// The packet (or the reply that opened the stream).
    pub message: Message,
    /// Returned when the packet has been written.
    pub credit: Option<OwnedSemaphorePermit>,
}

/// A client packet in a stream's queue, with its share of the queue's byte budget.
#[derive(Debug)]
struct Queued {
    message: Message,
    _budget: Option<OwnedSemaphorePermit>,
}

/// One open stream, as the connection's reader sees it.
#[derive(Debug)]
struct Entry {
    procedure: i32,
    packets: mpsc::Sender<Queued>,
    budget: Arc<Semaphore>,
}

/// The open streams of one connection, by serial.
#[derive(Debug)]
pub struct Streams {
    open: Mutex<HashMap<u32, Entry>>,
    out: mpsc::Sender<Outgoing>,
}

impl Streams {
    /// No streams yet; packets leave through `out` (the connection writer's stream queue).
    pub fn new(out: mpsc::Sender<Outgoing>) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            out,
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Entry>> {
        // The map holds no invariant a panicking holder could break halfway.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens the stream of the call with header `call`: registers it, queues `reply` (the
    /// call's OK) ahead of any stream packet, and starts relaying. On error nothing is
    /// registered or sent and the ends are aborted; the caller sends the error reply.
    pub async fn open(
        self: &Arc<Self>,
        call: Header,
        reply: Message,
        mut ends: StreamEnds,
    ) -> Result<(), StreamError> {
        let (packets, incoming) = mpsc::channel(QUEUE_PACKETS);
        let registered = {
            let mut table = self.table();
            let full = table.len() >= MAX_STREAMS;
            match table.entry(call.serial) {
                _ if full => Err(StreamError::TooMany { max: MAX_STREAMS }),
                std::collections::hash_map::Entry::Occupied(_) => Err(StreamError::SerialInUse {
                    serial: call.serial,
                }),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(Entry {
                        procedure: call.procedure,
                        packets,
                        budget: Arc::new(Semaphore::new(QUEUE_BYTES)),
                    });
                    Ok(())
                }
            }
        };
        if let Err(err) = registered {
            if let Some(sink) = ends.sink.as_mut() {
                sink.abort("refused");
            }
            return Err(err);
        }
        if self
            .out
            .send(Outgoing {
                message: reply,
                credit: None,
            })
            .await
            .is_err()
        {
            // The connection is closing; the relay below sees its queue closed and aborts.
            self.table().remove(&call.serial);
        }
        tokio::spawn(relay::run(
            call,
            ends,
            incoming,
            self.out.clone(),
            Arc::clone(self),
        ));
        Ok(())
    }

    /// Hands a STREAM or STREAM_HOLE packet to its stream. Waits while that stream's queue is
    /// full (this is the upload flow control). A packet for no open stream is dropped.
    pub async fn deliver(&self, message: Message) {
        let found = {
            let table = self.table();
            table
                .get(&message.header.serial)
                .filter(|entry| entry.procedure == message.header.procedure)
                .map(|entry| (entry.packets.clone(), Arc::clone(&entry.budget)))
        };
        let Some((sender, budget)) = found else {
            tracing::debug!(
                serial = message.header.serial,
                procedure = message.header.procedure,
                "dropping a packet for no open stream"
            );
            return;
        };
        let share = message.payload.len().min(QUEUE_BYTES);
        let permit = match u32::try_from(share) {
            Ok(0) | Err(_) => None,
            // A closed budget means the stream just ended: drop the packet.
            Ok(n) => match budget.acquire_many_owned(n).await {
                Ok(permit) => Some(permit),
                Err(_) => return,
            },
        };
        // A closed queue means the stream just ended: drop the packet.
        let _ = sender
            .send(Queued {
                message,
                _budget: permit,
            })
            .await;
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the stream with `serial` (its relay ends it).
    fn remove(&self, serial: u32) {
        self.table().remove(&serial);
    }

    /// The connection is gone: every open stream is aborted.
    pub fn close_all(&self) {
        self.table().clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use rpc::header::{MessageType, Status};
    use rpc::types::RemoteError;

    use super::*;

    /// What a test sink saw, in order.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Log {
        fn push(&self, event: String) {
            self.0.lock().unwrap().push(event);
        }
        fn events(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    struct RecordingSink(Log);

    impl StreamSink for RecordingSink {
        fn write(&mut self, data: Bytes) -> StreamFuture<'_, ()> {
            self.0
                .push(format!("data {}", String::from_utf8_lossy(&data)));
            Box::pin(async { Ok(()) })
        }
        fn hole(&mut self, length: u64) -> StreamFuture<'_, ()> {
            self.0.push(format!("hole {length}"));
            Box::pin(async { Ok(()) })
        }
        fn finish(&mut self) -> StreamFuture<'_, ()> {
            self.0.push("finish".into());
            Box::pin(async { Ok(()) })
        }
        fn abort(&mut self, reason: &str) {
            self.0.push(format!("abort: {reason}"));
        }
    }

    /// Yields `count` pieces of 1 KiB, counting how many it has produced.
    struct CountingSource {
        made: Arc<AtomicUsize>,
        count: usize,
    }

    impl StreamSource for CountingSource {
        fn next(&mut self, _max: usize) -> StreamFuture<'_, Piece> {
            Box::pin(async move {
                let made = self.made.fetch_add(1, Ordering::SeqCst);
                Ok(if made < self.count {
                    Piece::Data(Bytes::from(vec![b'x'; 1024]))
                } else {
                    Piece::End
                })
            })
        }
    }

    fn call() -> Header {
        Header::remote_call(208, 9)
    }

    fn reply() -> Message {
        Message::new(call().reply(Status::Ok), Bytes::new())
    }

    fn packet(status: Status, data: &'static [u8]) -> Message {
        let mut message = Message::stream_data(&call(), Bytes::from_static(data));
        message.header.status = status;
        message
    }

    async fn next(out: &mut mpsc::Receiver<Outgoing>) -> Message {
        tokio::time::timeout(Duration::from_secs(5), out.recv())
            .await
            .expect("a packet in time")
            .expect("writer queue open")
            .message
    }

    async fn open(ends: StreamEnds) -> (Arc<Streams>, mpsc::Receiver<Outgoing>) {
        let (tx, mut rx) = mpsc::channel(16);
        let streams = Streams::new(tx);
        streams.open(call(), reply(), ends).await.unwrap();
        assert_eq!(next(&mut rx).await.header.message_type, MessageType::Reply);
        (streams, rx)
    }

    #[tokio::test]
    async fn an_upload_reaches_the_sink_in_order_and_is_confirmed() {
        let log = Log::default();
        let (streams, mut out) = open(StreamEnds::upload(
            RecordingSink(log.clone()),
            Holes::Accept,
        ))
        .await;
        streams.deliver(packet(Status::Continue, b"ab")).await;
        streams.deliver(Message::stream_hole(&call(), 7)).await;
        streams.deliver(packet(Status::Continue, b"cd")).await;
        streams.deliver(packet(Status::Ok, b"")).await;
        let done = next(&mut out).await;
        assert_eq!(
            (done.header.message_type, done.header.status),
            (MessageType::Stream, Status::Ok)
        );
        assert_eq!(log.events(), ["data ab", "hole 7", "data cd", "finish"]);
        assert!(streams.is_empty());
        // A packet after the end is dropped, not an error.
        streams.deliver(packet(Status::Continue, b"late")).await;
        assert_eq!(log.events().len(), 4);
    }

    #[tokio::test]
    async fn a_hole_without_the_sparse_flag_fails_the_stream() {
        let log = Log::default();
        let (streams, mut out) = open(StreamEnds::upload(
            RecordingSink(log.clone()),
            Holes::Refuse,
        ))
        .await;
        streams.deliver(Message::stream_hole(&call(), 7)).await;
        let failed = next(&mut out).await;
        assert_eq!(failed.header.status, Status::Error);
        let error: RemoteError = failed.decode_payload().unwrap();
        assert!(error.message.unwrap().contains("unexpected stream hole"));
        assert_eq!(log.events(), ["abort: the stream failed"]);
        assert!(streams.is_empty());
    }

    #[tokio::test]
    async fn bad_packets_fail_the_stream_not_the_connection() {
        // A hole of negative length on a sparse upload.
        let log = Log::default();
        let ends = StreamEnds::upload(RecordingSink(log.clone()), Holes::Accept);
        let (streams, mut out) = open(ends).await;
        let mut hole = Message::stream_hole(&call(), 0);
        hole.payload =
            Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        streams.deliver(hole).await;
        let failed = next(&mut out).await;
        assert_eq!(failed.header.status, Status::Error);
        let error: RemoteError = failed.decode_payload().unwrap();
        assert!(error.message.unwrap().contains("negative length"));
        assert_eq!(log.events(), ["abort: the stream failed"]);

        // Data sent to a stream that only sends.
        let made = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            made,
            count: 1_000_000,
        };
        let (streams, mut out) = open(StreamEnds::download(source)).await;
        streams.deliver(packet(Status::Continue, b"nope")).await;
        let failed = loop {
            let packet = next(&mut out).await;
            if packet.header.status == Status::Error {
                break packet;
            }
        };
        let error: RemoteError = failed.decode_payload().unwrap();
        assert!(error.message.unwrap().contains("does not take data"));
        assert!(streams.is_empty());
    }

    #[tokio::test]
    async fn abort_and_a_vanished_client_abort_the_sink() {
        let log = Log::default();
        let (streams, mut out) = open(StreamEnds::upload(
            RecordingSink(log.clone()),
            Holes::Refuse,
        ))
        .await;
        streams.deliver(packet(Status::Error, b"")).await;
        assert_eq!(next(&mut out).await.header.status, Status::Ok);
        assert_eq!(log.events(), ["abort: aborted by the client"]);

        let log = Log::default();
        let (streams, _out) = open(StreamEnds::upload(
            RecordingSink(log.clone()),
            Holes::Refuse,
        ))
        .await;
        streams.close_all();
        for _ in 0..100 {
            if !log.events().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(log.events(), ["abort: the client went away"]);
    }

    #[tokio::test]
    async fn a_download_waits_for_the_writer_and_ends_with_eof_then_ok() {
        let made = Arc::new(AtomicUsize::new(0));
        let source = CountingSource {
            made: Arc::clone(&made),
            count: 20,
        };
        let (streams, mut out) = open(StreamEnds::download(source)).await;
        // Nothing is written yet: the source stops at the stream's credits.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(made.load(Ordering::SeqCst), SEND_CREDITS);
        let mut received = 0;
        loop {
            let packet = next(&mut out).await;
            assert_eq!(packet.header.status, Status::Continue);
            if packet.payload.is_empty() {
                break;
            }
            received += packet.payload.len();
        }
        assert_eq!(received, 20 * 1024);
        streams.deliver(packet(Status::Ok, b"")).await;
        assert_eq!(next(&mut out).await.header.status, Status::Ok);
        assert!(streams.is_empty());
    }

    #[tokio::test]
    async fn streams_per_connection_are_bounded() {
        let (tx, _rx) = mpsc::channel(64);
        let streams = Streams::new(tx);
        for serial in 0..MAX_STREAMS {
            let header = Header::remote_call(208, u32::try_from(serial).unwrap());
            let ends = StreamEnds::upload(RecordingSink(Log::default()), Holes::Refuse);
            streams.open(header, reply(), ends).await.unwrap();
        }
        let log = Log::default();
        let ends = StreamEnds::upload(RecordingSink(log.clone()), Holes::Refuse);
        let err = streams
            .open(Header::remote_call(208, 999), reply(), ends)
            .await
            .unwrap_err();
        assert!(matches!(err, StreamError::TooMany { .. }));
        assert_eq!(log.events(), ["abort: refused"]);
        streams.close_all();
    }
}
