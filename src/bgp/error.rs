//! Why a session failed or ended, typed: what [`PeerStatus::last_error`]
//! and [`Event::Down`] carry. Text is made only for display.
//!
//! [`PeerStatus::last_error`]: super::PeerStatus::last_error
//! [`Event::Down`]: super::Event::Down

use super::wire::{Notification, NotificationKind};
use std::net::SocketAddr;

/// An I/O failure, kept as its kind and text (so that errors can be cloned
/// into status snapshots and events).
///
/// ```
/// use cue::bgp::IoFailure;
/// let e = IoFailure::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(e.kind, std::io::ErrorKind::ConnectionRefused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoFailure {
    /// The kind of failure.
    pub kind: std::io::ErrorKind,
    /// The operating system's text.
    pub message: String,
}

impl From<&std::io::Error> for IoFailure {
    fn from(e: &std::io::Error) -> Self {
        IoFailure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl From<std::io::Error> for IoFailure {
    fn from(e: std::io::Error) -> Self {
        IoFailure::from(&e)
    }
}

impl std::fmt::Display for IoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a connection from a peer was not taken.
///
/// ```
/// use cue::bgp::{Refusal, SessionError};
/// let e = SessionError::Refused { remote: "192.0.2.9:40000".parse().unwrap(), reason: Refusal::NotConfigured };
/// assert_eq!(e.to_string(), "connection from 192.0.2.9:40000 refused: not a configured peer");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The address is not a configured peer (and no template accepts any).
    NotConfigured,
    /// The pool already holds [`MAX_ACCEPTED_PEERS`](super::config::MAX_ACCEPTED_PEERS).
    TooManyPeers,
}

/// Something that went wrong with a session, or why it ended.
///
/// ```
/// use cue::bgp::SessionError;
/// use cue::bgp::wire::Notification;
/// let e = SessionError::NotificationReceived(Notification::admin_shutdown());
/// assert_eq!(e.to_string(), "received Cease / Administrative Shutdown");
/// assert!(!e.is_local_stop());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The TCP connection to the peer could not be made.
    #[error("connect to {address}: {error}")]
    Connect {
        /// The peer's address.
        address: SocketAddr,
        /// Why.
        error: IoFailure,
    },
    /// A local socket operation failed (local address, socket options).
    #[error("socket: {0}")]
    Socket(IoFailure),
    /// Reading from the peer failed (a reset, for instance).
    #[error("read error: {0}")]
    Read(IoFailure),
    /// Writing to the peer failed.
    #[error("write error: {0}")]
    Write(IoFailure),
    /// The peer closed the connection without a NOTIFICATION.
    #[error("connection closed by peer")]
    PeerClosed,
    /// The peer sent nothing within the hold time; we sent Hold Timer
    /// Expired.
    #[error("sent Hold Timer Expired")]
    HoldTimerExpired,
    /// Routes not sent: with the session's attributes and their own, their
    /// path attributes leave no room for a prefix in an UPDATE.
    #[error("routes not sent: their UPDATE would take {octets} octets before the first prefix, of the 4096 an UPDATE holds")]
    AttributesTooLarge {
        /// The octets before the first prefix.
        octets: usize,
    },
    /// The peer took nothing we wrote for the send hold time (RFC 9687),
    /// whatever it sent meanwhile. No NOTIFICATION could follow: the
    /// socket takes nothing, and a message is half written on it.
    #[error("send hold timer expired: the peer stopped reading")]
    SendHoldTimerExpired,
    /// BFD said the peer is gone (RFC 5882): closed with Cease / BFD Down.
    #[error("BFD down: {0}")]
    BfdDown(crate::bgp::bfd::Diagnostic),
    /// We sent this NOTIFICATION (a malformed or unexpected message, a
    /// prefix limit, ...).
    #[error("sent {}", .0.reason())]
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    #[error("received {}", .0.reason())]
    NotificationReceived(Notification),
    /// The embedder stopped the session (Cease / Administrative Shutdown
    /// was sent).
    #[error("stopped")]
    LocalStop,
    /// A connection from this address was closed at once.
    #[error("connection from {remote} refused: {}", match .reason {
        Refusal::NotConfigured => "not a configured peer".to_string(),
        Refusal::TooManyPeers => format!("already {} peers", super::config::MAX_ACCEPTED_PEERS),
    })]
    Refused {
        /// Who connected.
        remote: SocketAddr,
        /// Why it was refused.
        reason: Refusal,
    },
    /// The TCP MD5 key of a peer could not be set on a listening socket.
    #[error("TCP MD5 key on {local}: {error}")]
    Md5Key {
        /// The listening address.
        local: SocketAddr,
        /// Why.
        error: IoFailure,
    },
}

impl SessionError {
    /// Whether the embedder asked for the end of the session.
    pub fn is_local_stop(&self) -> bool {
        matches!(self, SessionError::LocalStop)
    }

    /// The NOTIFICATION sent or received, if the session ended with one.
    pub fn notification(&self) -> Option<&Notification> {
        match self {
            SessionError::NotificationSent(n) | SessionError::NotificationReceived(n) => Some(n),
            _ => None,
        }
    }

    /// The typed code and subcode of the NOTIFICATION, if any.
    pub fn notification_kind(&self) -> Option<NotificationKind> {
        match self {
            SessionError::HoldTimerExpired => Some(NotificationKind::HoldTimerExpired),
            _ => self.notification().map(Notification::kind),
        }
    }
}

/// Serialises as its text: the JSON of events and status stays a string.
impl serde::Serialize for SessionError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
