//! One open stream's task: client packets into the sink, source pieces out to the client, and
//! the end of the stream.
//!
//! Steps:
//! 1. If the stream has a source, a second task sends its pieces (see [`send_source`]), each
//!    holding one of the stream's credits until the writer has written it.
//! 2. This task takes the client's packets in order: data and holes go to the sink; OK ends
//!    with [`End::Finish`], ERROR with [`End::Abort`]. A failing sink, a bad packet, the source
//!    failing, or the connection going away end it too.
//! 3. The stream leaves the connection's table (later packets are dropped), the source task is
//!    stopped, and the last packet goes out: OK after a finish the sink accepted (or an abort),
//!    ERROR with the reason after a failure, nothing to a client that is gone.

use std::sync::Arc;

use bytes::Bytes;

use rpc::header::Header;
use rpc::message::Message;
use rpc::stream::{StreamPacket, STREAM_DATA_MAX};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::{
    Holes, Outgoing, Piece, Queued, StreamEnds, StreamError, StreamSink, StreamSource, Streams,
    SEND_CREDITS,
};
use crate::errors;

/// How the client side of a stream ended.
enum End {
    /// The client sent OK.
    Finish,
    /// The client sent ERROR.
    Abort,
    /// The connection went away.
    Vanished,
    /// The stream failed here; the client gets this error.
    Failed(StreamError),
    /// The source failed and its task already sent the error.
    ErrorSent,
}

/// How the source task ended.
enum Sent {
    /// EOF went out; the stream waits for the client's OK.
    Eof,
    /// The source failed; its error went out.
    Failed,
    /// The connection's writer is gone, or the stream was stopped.
    Stopped,
}

/// Relays one stream until it ends (see the module doc).
pub(super) async fn run(
    call: Header,
    ends: StreamEnds,
    mut packets: mpsc::Receiver<Queued>,
    out: mpsc::Sender<Outgoing>,
    streams: Arc<Streams>,
) {
    let StreamEnds {
        mut sink,
        source,
        holes,
    } = ends;
    let (stop, stopped) = oneshot::channel::<()>();
    let mut sender: Option<JoinHandle<Sent>> =
        source.map(|source| tokio::spawn(send_source(call, source, out.clone(), stopped)));
    let end = loop {
        tokio::select! {
            packet = packets.recv() => {
                let Some(packet) = packet else { break End::Vanished };
                // The packet's budget share is returned when it drops, after the sink took it.
                match take(&mut sink, holes, &packet.message).await {
                    Ok(None) => {}
                    Ok(Some(end)) => break end,
                    Err(err) => break End::Failed(err),
                }
            }
            sent = wait(&mut sender), if sender.is_some() => {
                sender = None;
                match sent {
                    Sent::Eof => {}
                    Sent::Failed => break End::ErrorSent,
                    Sent::Stopped => break End::Vanished,
                }
            }
        }
    };
    streams.remove(call.serial);
    drop(packets);
    drop(stop);
    if let Some(sender) = sender {
        let _ = sender.await;
    }
    let last = match end {
        End::Finish => match sink.as_mut() {
            Some(sink) => match sink.finish().await {
                Ok(()) => Some(Message::stream_finished(&call)),
                Err(err) => {
                    sink.abort("finish failed");
                    error_packet(&call, &err)
                }
            },
            None => Some(Message::stream_finished(&call)),
        },
        End::Abort => {
            abort(&mut sink, "aborted by the client");
            Some(Message::stream_finished(&call))
        }
        End::Vanished => {
            abort(&mut sink, "the client went away");
            None
        }
        End::Failed(err) => {
            tracing::info!(serial = call.serial, procedure = call.procedure,
                err = %errors::chain(&err), "stream failed");
            abort(&mut sink, "the stream failed");
            error_packet(&call, &err)
        }
        End::ErrorSent => {
            abort(&mut sink, "the stream failed");
            None
        }
    };
    if let Some(message) = last {
        let _ = out
            .send(Outgoing {
                message,
                credit: None,
            })
            .await;
    }
}

fn abort(sink: &mut Option<Box<dyn StreamSink>>, reason: &str) {
    if let Some(sink) = sink.as_mut() {
        sink.abort(reason);
    }
}

async fn wait(sender: &mut Option<JoinHandle<Sent>>) -> Sent {
    match sender {
        Some(handle) => handle.await.unwrap_or(Sent::Stopped),
        None => std::future::pending().await,
    }
}

/// The STREAM ERROR packet for `err`, if it encodes.
fn error_packet(call: &Header, err: &StreamError) -> Option<Message> {
    match Message::stream_error(call, &errors::stream_error(err)) {
        Ok(message) => Some(message),
        Err(encode) => {
            tracing::error!(err = %errors::chain(&encode), "cannot encode a stream error");
            None
        }
    }
}

/// Hands one client packet to the sink; `Some` when it ends the stream.
async fn take(
    sink: &mut Option<Box<dyn StreamSink>>,
    holes: Holes,
    packet: &Message,
) -> Result<Option<End>, StreamError> {
    match StreamPacket::decode(packet)? {
        StreamPacket::Data(data) if data.is_empty() => Ok(None),
        StreamPacket::Data(data) => {
            let sink = sink.as_mut().ok_or(StreamError::NotWritable)?;
            sink.write(data).await?;
            Ok(None)
        }
        StreamPacket::Hole { length } => {
            if holes == Holes::Refuse {
                return Err(StreamError::UnexpectedHole);
            }
            let sink = sink.as_mut().ok_or(StreamError::NotWritable)?;
            sink.hole(length).await?;
            Ok(None)
        }
        StreamPacket::Finish => Ok(Some(End::Finish)),
        StreamPacket::Abort => Ok(Some(End::Abort)),
    }
}

/// Sends the source's pieces to the client, one credit each, until EOF, an error, or `stop`.
async fn send_source(
    call: Header,
    mut source: Box<dyn StreamSource>,
    out: mpsc::Sender<Outgoing>,
    mut stop: oneshot::Receiver<()>,
) -> Sent {
    let credits = Arc::new(Semaphore::new(SEND_CREDITS));
    loop {
        let credit = tokio::select! {
            _ = &mut stop => return Sent::Stopped,
            credit = Arc::clone(&credits).acquire_owned() => match credit {
                Ok(credit) => credit,
                Err(_) => return Sent::Stopped,
            },
        };
        let piece = tokio::select! {
            _ = &mut stop => return Sent::Stopped,
            piece = source.next(STREAM_DATA_MAX) => piece,
        };
        let (message, last) = match piece {
            Ok(Piece::Data(data)) if data.is_empty() => continue,
            Ok(Piece::Data(data)) if data.len() > STREAM_DATA_MAX => {
                tracing::error!(len = data.len(), "stream source returned more than asked");
                let err = StreamError::io(
                    "stream source",
                    std::io::Error::other("returned more data than asked"),
                );
                (error_packet(&call, &err), Some(Sent::Failed))
            }
            Ok(Piece::Data(data)) => (Some(Message::stream_data(&call, data)), None),
            Ok(Piece::Hole(0)) => continue,
            Ok(Piece::Hole(length)) => (Some(Message::stream_hole(&call, length)), None),
            // EOF is an empty CONTINUE; the client then finishes with OK.
            Ok(Piece::End) => (
                Some(Message::stream_data(&call, Bytes::new())),
                Some(Sent::Eof),
            ),
            Err(err) => {
                tracing::info!(serial = call.serial, err = %errors::chain(&err),
                    "stream source failed");
                (error_packet(&call, &err), Some(Sent::Failed))
            }
        };
        let Some(message) = message else {
            return Sent::Failed;
        };
        let outgoing = Outgoing {
            message,
            credit: Some(credit),
        };
        if out.send(outgoing).await.is_err() {
            return Sent::Stopped;
        }
        if let Some(sent) = last {
            return sent;
        }
    }
}
