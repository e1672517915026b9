//! Packet framing: a length word, the header, the payload.
//!
//! ```text
//! +----------------+--------------------+---------------------------+
//! | length: u32 BE | header: 24 bytes   | payload: length - 28      |
//! +----------------+--------------------+---------------------------+
//!   counts itself    6 XDR words          XDR args / ret / event /
//!                                         remote_error; may be empty
//! ```
//!
//! For `CALL_WITH_FDS` / `REPLY_WITH_FDS` a 4-byte fd count sits between the
//! header and the payload.
//!
//! A length below 28 or above `4 + VIR_NET_MESSAGE_MAX` (32 MiB + 4) is a
//! protocol violation: the length is checked before any of the body is read or
//! allocated, and the connection cannot be resynchronised after it.

use thiserror::Error;

use crate::header::HEADER_LEN;
use crate::xdr::XdrError;

/// `VIR_NET_MESSAGE_LEN_MAX`: size of the length word.
pub const LEN_SIZE: usize = 4;
/// `VIR_NET_MESSAGE_MAX`: header plus payload, without the length word.
pub const MESSAGE_MAX: usize = 33_554_432;
/// `VIR_NET_MESSAGE_PAYLOAD_MAX`.
pub const PAYLOAD_MAX: usize = MESSAGE_MAX - HEADER_LEN;
/// `VIR_NET_MESSAGE_INITIAL`: what libvirt's peers allocate up front.
pub const MESSAGE_INITIAL: usize = 65_536;
/// `VIR_NET_MESSAGE_NUM_FDS_MAX`.
pub const NUM_FDS_MAX: u32 = 32;
/// Largest valid value of the length word.
pub const FRAME_MAX: usize = LEN_SIZE + MESSAGE_MAX;
/// Smallest valid value of the length word: length word plus header.
pub const FRAME_MIN: usize = LEN_SIZE + HEADER_LEN;

/// A packet that breaks the framing rules. Every variant is a protocol
/// violation: the daemon logs it and closes the connection.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length word is above [`FRAME_MAX`].
    #[error("frame length {len} exceeds the maximum of {FRAME_MAX}")]
    TooLarge {
        /// The length word.
        len: u32,
    },
    /// The length word is below [`FRAME_MIN`].
    #[error("frame length {len} is below the minimum of {FRAME_MIN}")]
    TooShort {
        /// The length word.
        len: u32,
    },
    /// The buffer ends before the frame its length word announces.
    #[error("frame of {len} bytes truncated to {available}")]
    Truncated {
        /// The length word (or 4 when even that is missing).
        len: usize,
        /// Bytes present.
        available: usize,
    },
    /// The buffer holds more than the one frame its length word announces.
    #[error("{count} bytes after the end of the frame")]
    TrailingBytes {
        /// Bytes after the frame.
        count: usize,
    },
    /// The 24-byte header does not decode (unknown type or status).
    #[error("invalid message header")]
    Header {
        /// What the header decoder found.
        #[source]
        source: XdrError,
    },
    /// A `*_WITH_FDS` message announces more than [`NUM_FDS_MAX`] fds.
    #[error("message carries {count} fds, more than {NUM_FDS_MAX}")]
    TooManyFds {
        /// The announced count.
        count: u32,
    },
    /// An outgoing message's payload does not fit in one frame.
    #[error("payload of {len} bytes does not fit in a frame")]
    PayloadTooLarge {
        /// Payload size.
        len: usize,
    },
}

/// Checks a length word and returns the whole frame's size (including the
/// word itself).
pub fn frame_len(word: [u8; LEN_SIZE]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(word);
    match usize::try_from(len) {
        Ok(n) if n > FRAME_MAX => Err(FrameError::TooLarge { len }),
        Ok(n) if n < FRAME_MIN => Err(FrameError::TooShort { len }),
        Ok(n) => Ok(n),
        Err(_) => Err(FrameError::TooLarge { len }),
    }
}

/// Finds the first frame in `buf`: `Ok(Some(n))` when the first `n` bytes are
/// one complete frame, `Ok(None)` when more bytes are needed, and an error as
/// soon as the length word is invalid.
pub fn complete_frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(word) = buf.first_chunk::<LEN_SIZE>() else {
        return Ok(None);
    };
    let len = frame_len(*word)?;
    Ok((buf.len() >= len).then_some(len))
}

/// Prepends the length word to an encoded header and payload.
pub fn encode_len(message_len: usize) -> Result<[u8; LEN_SIZE], FrameError> {
    let total = message_len + LEN_SIZE;
    if total > FRAME_MAX {
        return Err(FrameError::PayloadTooLarge {
            len: message_len.saturating_sub(HEADER_LEN),
        });
    }
    u32::try_from(total)
        .map(u32::to_be_bytes)
        .map_err(|_| FrameError::PayloadTooLarge { len: message_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert_eq!(frame_len(28u32.to_be_bytes()).unwrap(), 28);
        assert!(matches!(
            frame_len(27u32.to_be_bytes()),
            Err(FrameError::TooShort { len: 27 })
        ));
        assert!(matches!(
            frame_len(0u32.to_be_bytes()),
            Err(FrameError::TooShort { len: 0 })
        ));
        let max = u32::try_from(FRAME_MAX).unwrap();
        assert_eq!(frame_len(max.to_be_bytes()).unwrap(), FRAME_MAX);
        assert!(matches!(
            frame_len((max + 1).to_be_bytes()),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            frame_len(0x4000_0000u32.to_be_bytes()),
            Err(FrameError::TooLarge { len: 0x4000_0000 })
        ));
    }

    #[test]
    fn complete_frame_needs_the_whole_frame() {
        let mut buf = 28u32.to_be_bytes().to_vec();
        assert_eq!(complete_frame_len(&buf[..2]).unwrap(), None);
        assert_eq!(complete_frame_len(&buf).unwrap(), None);
        buf.resize(28, 0);
        assert_eq!(complete_frame_len(&buf).unwrap(), Some(28));
        buf.resize(40, 0);
        assert_eq!(complete_frame_len(&buf).unwrap(), Some(28));
    }

    #[test]
    fn oversize_payload_cannot_be_framed() {
        encode_len(MESSAGE_MAX).unwrap();
        assert!(matches!(
            encode_len(MESSAGE_MAX + 1),
            Err(FrameError::PayloadTooLarge { .. })
        ));
    }
}
