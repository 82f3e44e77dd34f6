//! Framing the byte stream from a peer into messages, in the session's own
//! task: bytes are read into one buffer and each message is decoded where
//! it lies, never copied into a buffer of its own. "Not enough bytes yet"
//! and "malformed" are told apart (a framing error is answered with its
//! NOTIFICATION).

use crate::bgp::wire::{self, DecodeError};
use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

/// The read side of a connection and the bytes read but not yet handled.
pub(super) struct Framer {
    rd: OwnedReadHalf,
    buf: BytesMut,
}

/// Bytes read per read call at most; several messages arrive at once.
const READ_CHUNK: usize = 64 * 1024;

impl Framer {
    pub(super) fn new(rd: OwnedReadHalf) -> Framer {
        Framer {
            rd,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The length of the whole message at the front of the buffer, `None`
    /// when more bytes are needed, or the framing error.
    /// Messages may take up to `max` octets (4,096, or 65,535 with
    /// extended messages).
    pub(super) fn next_len(&self, max: usize) -> Result<Option<usize>, DecodeError> {
        wire::frame_within(&self.buf, max)
    }

    /// The first `len` bytes (a whole message, as [`next_len`](Self::next_len) said).
    pub(super) fn message(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// The first NOTIFICATION among the whole messages not yet handled.
    pub(super) fn notification(&self) -> Option<wire::Notification> {
        let mut rest = &self.buf[..];
        while let Ok(Some(len)) = wire::frame(rest) {
            if let Ok(wire::Message::Notification(n)) =
                wire::Message::decode(&rest[..len], wire::DecodeContext::default())
            {
                return Some(n);
            }
            rest = &rest[len..];
        }
        None
    }

    /// Bytes read and not yet handled.
    pub(super) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops the first `len` bytes (a message handled).
    pub(super) fn consume(&mut self, len: usize) {
        self.buf.advance(len);
    }

    /// Reads more bytes; `Ok(0)` at the end of the stream. Cancel-safe: a
    /// read that does not complete takes nothing from the socket.
    pub(super) async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < wire::MAX_MESSAGE_LEN {
            self.buf.reserve(READ_CHUNK);
        }
        self.rd.read_buf(&mut self.buf).await
    }
}
