//! Async frame reader and writer over any tokio byte stream.
//!
//! [`FrameReader`] checks each length word as soon as its 4 bytes are in, and
//! so refuses an oversize or undersize frame before reading any of its body.
//! Its buffer grows with the bytes that actually arrive, by at most
//! [`READ_CHUNK`] at a time: a peer that announces 32 MiB and sends 10 bytes
//! costs 10 bytes plus one chunk, not 32 MiB. `read_frame` is cancel-safe (the
//! partial frame stays in the reader), so it can sit in a `tokio::select!`
//! next to a keepalive timer.
//!
//! For a unix socket, split it (`UnixStream::into_split`) and give each half
//! to its own reader or writer.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::frame::{self, FrameError, LEN_SIZE};
use crate::message::{Message, MessageError};

/// Largest amount the read buffer grows by before more bytes have arrived.
pub const READ_CHUNK: usize = 64 * 1024;

/// A failure to move frames over the stream. Every variant ends the
/// connection.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Reading from the stream failed.
    #[error("reading from the peer")]
    Read {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing to the stream failed.
    #[error("writing to the peer")]
    Write {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The peer closed the stream in the middle of a frame.
    #[error("peer closed the connection mid-frame with {buffered} bytes buffered")]
    UnexpectedEof {
        /// Bytes of the incomplete frame received.
        buffered: usize,
    },
    /// The peer broke the framing rules (a protocol violation).
    #[error("invalid frame from the peer")]
    Frame {
        /// Which rule.
        #[source]
        source: FrameError,
    },
    /// An outgoing message could not be framed.
    #[error("framing an outgoing message")]
    Encode {
        /// Why.
        #[source]
        source: MessageError,
    },
}

/// Reads frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: BytesMut::new(),
        }
    }

    /// The next frame without its length word (header and payload), or
    /// `None` when the peer closed the stream between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            let missing = match self.buf.first_chunk::<LEN_SIZE>() {
                None => LEN_SIZE - self.buf.len(),
                Some(word) => {
                    let len = frame::frame_len(*word)
                        .map_err(|source| TransportError::Frame { source })?;
                    if self.buf.len() >= len {
                        let mut frame = self.buf.split_to(len);
                        frame.advance(LEN_SIZE);
                        return Ok(Some(frame.freeze()));
                    }
                    len - self.buf.len()
                }
            };
            self.buf.reserve(missing.min(READ_CHUNK));
            let n = self
                .inner
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| TransportError::Read { source })?;
            if n == 0 {
                return match self.buf.len() {
                    0 => Ok(None),
                    buffered => Err(TransportError::UnexpectedEof { buffered }),
                };
            }
        }
    }

    /// The next message (framing and header checked; payload still
    /// encoded), or `None` at a clean end of stream.
    pub async fn read_message(&mut self) -> Result<Option<Message>, TransportError> {
        match self.read_frame().await? {
            None => Ok(None),
            Some(frame) => Message::decode(frame)
                .map(Some)
                .map_err(|source| TransportError::Frame { source }),
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

/// Writes frames to a byte stream.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer over `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Frames and writes `message`, then flushes.
    pub async fn write_message(&mut self, message: &Message) -> Result<(), TransportError> {
        let bytes = message
            .encode()
            .map_err(|source| TransportError::Encode { source })?;
        self.write_raw(&bytes).await
    }

    /// Writes bytes that are already framed, then flushes.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.inner
            .write_all(bytes)
            .await
            .map_err(|source| TransportError::Write { source })?;
        self.inner
            .flush()
            .await
            .map_err(|source| TransportError::Write { source })
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME_MAX;
    use crate::header::{Header, KeepaliveProcedure};
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reads_frames_split_across_writes_and_back_to_back() {
        let (mut tx, rx) = tokio::io::duplex(16);
        let ping = Message::keepalive(KeepaliveProcedure::Ping)
            .encode()
            .unwrap();
        let call = Message::new(Header::remote_call(3, 9), Bytes::from_static(&[1, 2, 3, 4]))
            .encode()
            .unwrap();
        let mut both = ping.to_vec();
        both.extend_from_slice(&call);
        let writer = tokio::spawn(async move {
            for chunk in both.chunks(5) {
                tx.write_all(chunk).await.unwrap();
            }
        });
        let mut reader = FrameReader::new(rx);
        let first = reader.read_message().await.unwrap().unwrap();
        assert_eq!(first, Message::keepalive(KeepaliveProcedure::Ping));
        let second = reader.read_message().await.unwrap().unwrap();
        assert_eq!(second.header.serial, 9);
        assert_eq!(&second.payload[..], &[1, 2, 3, 4]);
        writer.await.unwrap();
        assert!(reader.read_message().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversize_length_is_refused_before_the_body_arrives() {
        let (mut tx, rx) = tokio::io::duplex(64);
        // 1 GiB claimed; the writer keeps the stream open and sends nothing more.
        tx.write_all(&0x4000_0000u32.to_be_bytes()).await.unwrap();
        let mut reader = FrameReader::new(rx);
        let err = reader.read_frame().await.unwrap_err();
        assert!(matches!(
            err,
            TransportError::Frame {
                source: FrameError::TooLarge { len: 0x4000_0000 }
            }
        ));
        assert!(reader.buf.capacity() < READ_CHUNK);
        drop(tx);
    }

    #[tokio::test]
    async fn just_over_the_limit_is_refused_and_the_limit_itself_is_not() {
        let over = u32::try_from(FRAME_MAX + 1).unwrap();
        let over = over.to_be_bytes();
        let mut reader = FrameReader::new(&over[..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::Frame {
                source: FrameError::TooLarge { .. }
            })
        ));
        // At the limit the reader waits for the body, and the buffer grows
        // with what arrives (plus amortised slack), far below the 32 MiB claimed.
        let at = u32::try_from(FRAME_MAX).unwrap().to_be_bytes();
        let mut input = at.to_vec();
        input.extend_from_slice(&[0; 100]);
        let mut reader = FrameReader::new(&input[..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::UnexpectedEof { buffered: 104 })
        ));
        assert!(reader.buf.capacity() <= 3 * READ_CHUNK);
    }

    #[tokio::test(start_paused = true)]
    async fn read_frame_is_cancel_safe_for_a_stalled_half_frame() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let frame = Message::keepalive(KeepaliveProcedure::Ping)
            .encode()
            .unwrap();
        tx.write_all(&frame[..10]).await.unwrap();
        let mut reader = FrameReader::new(rx);
        // The peer stalls: a timeout cancels the read without losing bytes.
        let stalled =
            tokio::time::timeout(std::time::Duration::from_secs(30), reader.read_frame()).await;
        assert!(stalled.is_err(), "no frame can be complete yet");
        tx.write_all(&frame[10..]).await.unwrap();
        let msg = reader.read_message().await.unwrap().unwrap();
        assert_eq!(msg, Message::keepalive(KeepaliveProcedure::Ping));
    }

    #[tokio::test]
    async fn short_length_is_refused() {
        let short = 27u32.to_be_bytes();
        let mut reader = FrameReader::new(&short[..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::Frame {
                source: FrameError::TooShort { len: 27 }
            })
        ));
    }

    #[tokio::test]
    async fn eof_inside_the_length_word_is_unexpected() {
        let mut reader = FrameReader::new(&[0u8, 0][..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::UnexpectedEof { buffered: 2 })
        ));
    }
}
