//! NOTIFICATION message (RFC 4271 section 4.5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::error::code;
use super::{begin_message, finish_message, msg_type};

/// A NOTIFICATION: error code, subcode and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Diagnostic data.
    pub data: Vec<u8>,
}

impl Notification {
    /// A NOTIFICATION with the given code, subcode and data.
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Self {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// Cease / Administrative Shutdown (RFC 4486), as sent on stop.
    pub fn admin_shutdown() -> Self {
        Notification::new(code::CEASE, 2, vec![])
    }

    /// Hold Timer Expired.
    pub fn hold_timer_expired() -> Self {
        Notification::new(code::HOLD_TIMER, 0, vec![])
    }

    /// Finite State Machine Error, with the RFC 6608 subcode for the state
    /// the unexpected message arrived in.
    pub fn fsm_error(subcode: u8) -> Self {
        Notification::new(code::FSM, subcode, vec![])
    }

    pub(crate) fn decode_body(body: &[u8]) -> Notification {
        // The header check guarantees at least two bytes.
        Notification {
            code: body.first().copied().unwrap_or(0),
            subcode: body.get(1).copied().unwrap_or(0),
            data: body.get(2..).unwrap_or(&[]).to_vec(),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_message(out, msg_type::NOTIFICATION);
        out.push(self.code);
        out.push(self.subcode);
        let room = super::MAX_MESSAGE_LEN - super::HEADER_LEN - 2;
        out.extend_from_slice(&self.data[..self.data.len().min(room)]);
        finish_message(out, start);
    }

    /// A readable description: code and subcode names, and the data decoded
    /// where the RFCs give it a meaning.
    pub fn reason(&self) -> String {
        let mut s = describe(self.code, self.subcode);
        match (self.code, self.subcode) {
            (code::CEASE, 2) | (code::CEASE, 4) => {
                // RFC 8203 shutdown communication: length byte, UTF-8 text.
                if let Some((&len, text)) = self.data.split_first() {
                    if let Some(text) = text.get(..len as usize) {
                        if let Ok(text) = std::str::from_utf8(text) {
                            if !text.is_empty() {
                                s.push_str(&format!(": \"{}\"", text.escape_debug()));
                            }
                        }
                    }
                }
            }
            (code::HEADER, 2) | (code::ROUTE_REFRESH, 1) if self.data.len() == 2 => {
                let len = u16::from_be_bytes([self.data[0], self.data[1]]);
                s.push_str(&format!(" (length {len})"));
            }
            (code::HEADER, 3) if self.data.len() == 1 => {
                s.push_str(&format!(" (type {})", self.data[0]));
            }
            (code::UPDATE, 3) if self.data.len() == 1 => {
                s.push_str(&format!(" (attribute {})", self.data[0]));
            }
            (code::UPDATE, 2 | 4..=9) if self.data.len() >= 2 => {
                s.push_str(&format!(" (attribute {})", self.data[1]));
            }
            _ => {}
        }
        s
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {}", self.code, self.subcode, self.reason())
    }
}

/// The names of a NOTIFICATION code and subcode, e.g.
/// "Cease / Administrative Shutdown".
pub fn describe(c: u8, subcode: u8) -> String {
    let code_name = match c {
        code::HEADER => "Message Header Error",
        code::OPEN => "OPEN Message Error",
        code::UPDATE => "UPDATE Message Error",
        code::HOLD_TIMER => "Hold Timer Expired",
        code::FSM => "Finite State Machine Error",
        code::CEASE => "Cease",
        code::ROUTE_REFRESH => "ROUTE-REFRESH Message Error",
        _ => return format!("unknown error code {c} subcode {subcode}"),
    };
    let sub = match (c, subcode) {
        (_, 0) => None,
        (code::HEADER, 1) => Some("Connection Not Synchronized"),
        (code::HEADER, 2) => Some("Bad Message Length"),
        (code::HEADER, 3) => Some("Bad Message Type"),
        (code::OPEN, 1) => Some("Unsupported Version Number"),
        (code::OPEN, 2) => Some("Bad Peer AS"),
        (code::OPEN, 3) => Some("Bad BGP Identifier"),
        (code::OPEN, 4) => Some("Unsupported Optional Parameter"),
        (code::OPEN, 6) => Some("Unacceptable Hold Time"),
        (code::OPEN, 7) => Some("Unsupported Capability"),
        (code::OPEN, 11) => Some("Role Mismatch"),
        (code::UPDATE, 1) => Some("Malformed Attribute List"),
        (code::UPDATE, 2) => Some("Unrecognized Well-known Attribute"),
        (code::UPDATE, 3) => Some("Missing Well-known Attribute"),
        (code::UPDATE, 4) => Some("Attribute Flags Error"),
        (code::UPDATE, 5) => Some("Attribute Length Error"),
        (code::UPDATE, 6) => Some("Invalid ORIGIN Attribute"),
        (code::UPDATE, 8) => Some("Invalid NEXT_HOP Attribute"),
        (code::UPDATE, 9) => Some("Optional Attribute Error"),
        (code::UPDATE, 10) => Some("Invalid Network Field"),
        (code::UPDATE, 11) => Some("Malformed AS_PATH"),
        (code::FSM, 1) => Some("Receive Unexpected Message in OpenSent State"),
        (code::FSM, 2) => Some("Receive Unexpected Message in OpenConfirm State"),
        (code::FSM, 3) => Some("Receive Unexpected Message in Established State"),
        (code::CEASE, 1) => Some("Maximum Number of Prefixes Reached"),
        (code::CEASE, 2) => Some("Administrative Shutdown"),
        (code::CEASE, 3) => Some("Peer De-configured"),
        (code::CEASE, 4) => Some("Administrative Reset"),
        (code::CEASE, 5) => Some("Connection Rejected"),
        (code::CEASE, 6) => Some("Other Configuration Change"),
        (code::CEASE, 7) => Some("Connection Collision Resolution"),
        (code::CEASE, 8) => Some("Out of Resources"),
        (code::CEASE, 9) => Some("Hard Reset"),
        (code::CEASE, 10) => Some("BFD Down"),
        (code::ROUTE_REFRESH, 1) => Some("Invalid Message Length"),
        _ => return format!("{code_name} / unknown subcode {subcode}"),
    };
    match sub {
        Some(sub) => format!("{code_name} / {sub}"),
        None => code_name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeContext, Message};
    use super::*;

    #[test]
    fn admin_shutdown_bytes() {
        let bytes = Message::Notification(Notification::admin_shutdown())
            .to_bytes(DecodeContext::default());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 21, 3, 6, 2]);
        assert_eq!(bytes, expected);
        let decoded = Message::decode(&expected, DecodeContext::default()).unwrap();
        assert_eq!(
            decoded,
            Message::Notification(Notification::admin_shutdown())
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(
            Notification::admin_shutdown().reason(),
            "Cease / Administrative Shutdown"
        );
        let n = Notification::new(6, 2, b"\x04bye!".to_vec());
        assert_eq!(n.reason(), "Cease / Administrative Shutdown: \"bye!\"");
        assert_eq!(
            Notification::new(1, 2, vec![0x10, 0x01]).reason(),
            "Message Header Error / Bad Message Length (length 4097)"
        );
        assert_eq!(describe(4, 0), "Hold Timer Expired");
        assert_eq!(describe(99, 1), "unknown error code 99 subcode 1");
    }
}
