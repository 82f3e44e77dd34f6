//! NOTIFICATION message (RFC 4271 section 4.5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{begin_message, finish_message, ErrorCode, MessageType};

/// A NOTIFICATION: error code, subcode and data.
///
/// ```
/// use cue::bgp::wire::Notification;
/// let n = Notification::new(6, 2, b"\x07upgrade".to_vec());
/// assert_eq!(n.reason(), "Cease / Administrative Shutdown: \"upgrade\"");
/// assert_eq!(n.to_string(), "6/2 Cease / Administrative Shutdown: \"upgrade\"");
/// ```
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

    /// A NOTIFICATION of this kind.
    pub fn of(kind: NotificationKind, data: Vec<u8>) -> Self {
        let (code, subcode) = kind.codes();
        Notification::new(code, subcode, data)
    }

    /// The code and subcode, typed.
    pub fn kind(&self) -> NotificationKind {
        NotificationKind::from_codes(self.code, self.subcode)
    }

    /// Cease / Administrative Shutdown (RFC 4486), as sent on stop.
    pub fn admin_shutdown() -> Self {
        Notification::of(
            NotificationKind::Cease(CeaseSubcode::AdministrativeShutdown),
            vec![],
        )
    }

    /// Hold Timer Expired.
    pub fn hold_timer_expired() -> Self {
        Notification::of(NotificationKind::HoldTimerExpired, vec![])
    }

    /// Finite State Machine Error, with the RFC 6608 subcode for the state
    /// the unexpected message arrived in.
    pub fn fsm_error(subcode: u8) -> Self {
        Notification::new(ErrorCode::Fsm.code(), subcode, vec![])
    }

    pub(crate) fn decode_body(body: &[u8]) -> Notification {
        // The header check guarantees at least two bytes.
        Notification {
            code: body.first().copied().unwrap_or(0),
            subcode: body.get(1).copied().unwrap_or(0),
            data: body.get(2..).unwrap_or(&[]).to_vec(),
        }
    }

    /// Writes the message, its data cut to fit `max_len` octets (4,096, or
    /// 65,535 where extended messages were negotiated).
    pub(crate) fn encode(&self, out: &mut Vec<u8>, max_len: usize) {
        let start = begin_message(out, MessageType::Notification);
        out.push(self.code);
        out.push(self.subcode);
        let room = max_len - super::HEADER_LEN - 2;
        out.extend_from_slice(&self.data[..self.data.len().min(room)]);
        finish_message(out, start);
    }

    /// A readable description: code and subcode names, and the data decoded
    /// where the RFCs give it a meaning.
    pub fn reason(&self) -> String {
        let mut s = describe(self.code, self.subcode);
        use ErrorCode as E;
        match (ErrorCode::from_code(self.code), self.subcode) {
            (Some(E::Cease), 2) | (Some(E::Cease), 4) => {
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
            (Some(E::MessageHeader), 2) | (Some(E::RouteRefresh), 1) if self.data.len() == 2 => {
                let len = u16::from_be_bytes([self.data[0], self.data[1]]);
                s.push_str(&format!(" (length {len})"));
            }
            (Some(E::MessageHeader), 3) if self.data.len() == 1 => {
                s.push_str(&format!(" (type {})", self.data[0]));
            }
            (Some(E::Update), 3) if self.data.len() == 1 => {
                s.push_str(&format!(" (attribute {})", self.data[0]));
            }
            (Some(E::Update), 2 | 4..=9) if self.data.len() >= 2 => {
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
pub fn describe(code: u8, subcode: u8) -> String {
    NotificationKind::from_codes(code, subcode).to_string()
}

/// Defines a subcode enum from one table of value, variant and name: the
/// enum, its conversions and its names cannot disagree.
macro_rules! subcodes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $var:ident = $val:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            /// Subcode 0: no specific subcode.
            Unspecific,
            $($(#[$vmeta])* $var,)*
            /// A subcode this implementation does not name.
            Other(u8),
        }

        impl $name {
            /// The subcode of a wire value.
            pub fn from_u8(value: u8) -> Self {
                match value {
                    0 => Self::Unspecific,
                    $($val => Self::$var,)*
                    other => Self::Other(other),
                }
            }

            /// The wire value.
            pub fn to_u8(self) -> u8 {
                match self {
                    Self::Unspecific => 0,
                    $(Self::$var => $val,)*
                    Self::Other(other) => other,
                }
            }

            /// The RFC's name; `None` for 0 and unknown subcodes.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$var => Some($text),)*
                    Self::Unspecific | Self::Other(_) => None,
                }
            }
        }
    };
}

subcodes!(
    /// Message Header Error subcodes (RFC 4271 section 6.1).
    HeaderSubcode {
        /// 1.
        ConnectionNotSynchronized = 1 => "Connection Not Synchronized",
        /// 2.
        BadMessageLength = 2 => "Bad Message Length",
        /// 3.
        BadMessageType = 3 => "Bad Message Type",
    }
);

subcodes!(
    /// OPEN Message Error subcodes (RFC 4271 section 6.2, RFC 5492, RFC 9234).
    OpenSubcode {
        /// 1.
        UnsupportedVersionNumber = 1 => "Unsupported Version Number",
        /// 2.
        BadPeerAs = 2 => "Bad Peer AS",
        /// 3.
        BadBgpIdentifier = 3 => "Bad BGP Identifier",
        /// 4.
        UnsupportedOptionalParameter = 4 => "Unsupported Optional Parameter",
        /// 6.
        UnacceptableHoldTime = 6 => "Unacceptable Hold Time",
        /// 7 (RFC 5492).
        UnsupportedCapability = 7 => "Unsupported Capability",
        /// 11 (RFC 9234).
        RoleMismatch = 11 => "Role Mismatch",
    }
);

subcodes!(
    /// UPDATE Message Error subcodes (RFC 4271 section 6.3).
    UpdateSubcode {
        /// 1.
        MalformedAttributeList = 1 => "Malformed Attribute List",
        /// 2.
        UnrecognizedWellKnownAttribute = 2 => "Unrecognized Well-known Attribute",
        /// 3.
        MissingWellKnownAttribute = 3 => "Missing Well-known Attribute",
        /// 4.
        AttributeFlagsError = 4 => "Attribute Flags Error",
        /// 5.
        AttributeLengthError = 5 => "Attribute Length Error",
        /// 6.
        InvalidOrigin = 6 => "Invalid ORIGIN Attribute",
        /// 8.
        InvalidNextHop = 8 => "Invalid NEXT_HOP Attribute",
        /// 9.
        OptionalAttributeError = 9 => "Optional Attribute Error",
        /// 10.
        InvalidNetworkField = 10 => "Invalid Network Field",
        /// 11.
        MalformedAsPath = 11 => "Malformed AS_PATH",
    }
);

subcodes!(
    /// Finite State Machine Error subcodes (RFC 6608).
    FsmSubcode {
        /// 1.
        UnexpectedInOpenSent = 1 => "Receive Unexpected Message in OpenSent State",
        /// 2.
        UnexpectedInOpenConfirm = 2 => "Receive Unexpected Message in OpenConfirm State",
        /// 3.
        UnexpectedInEstablished = 3 => "Receive Unexpected Message in Established State",
    }
);

subcodes!(
    /// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
    CeaseSubcode {
        /// 1.
        MaximumPrefixesReached = 1 => "Maximum Number of Prefixes Reached",
        /// 2.
        AdministrativeShutdown = 2 => "Administrative Shutdown",
        /// 3.
        PeerDeconfigured = 3 => "Peer De-configured",
        /// 4.
        AdministrativeReset = 4 => "Administrative Reset",
        /// 5.
        ConnectionRejected = 5 => "Connection Rejected",
        /// 6.
        OtherConfigurationChange = 6 => "Other Configuration Change",
        /// 7.
        ConnectionCollisionResolution = 7 => "Connection Collision Resolution",
        /// 8.
        OutOfResources = 8 => "Out of Resources",
        /// 9 (RFC 8538).
        HardReset = 9 => "Hard Reset",
        /// 10 (RFC 9384).
        BfdDown = 10 => "BFD Down",
    }
);

subcodes!(
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313).
    RouteRefreshSubcode {
        /// 1.
        InvalidMessageLength = 1 => "Invalid Message Length",
    }
);

/// A NOTIFICATION's error code and subcode, typed.
///
/// ```
/// use cue::bgp::wire::{CeaseSubcode, Notification, NotificationKind};
/// let n = Notification::admin_shutdown();
/// assert_eq!(n.kind(), NotificationKind::Cease(CeaseSubcode::AdministrativeShutdown));
/// assert_eq!(n.kind().to_string(), "Cease / Administrative Shutdown");
/// assert_eq!(Notification::of(n.kind(), vec![]), n);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// 1: Message Header Error.
    MessageHeader(HeaderSubcode),
    /// 2: OPEN Message Error.
    Open(OpenSubcode),
    /// 3: UPDATE Message Error.
    Update(UpdateSubcode),
    /// 4/0: Hold Timer Expired.
    HoldTimerExpired,
    /// 5: Finite State Machine Error.
    Fsm(FsmSubcode),
    /// 6: Cease.
    Cease(CeaseSubcode),
    /// 7: ROUTE-REFRESH Message Error.
    RouteRefresh(RouteRefreshSubcode),
    /// A code this implementation does not name (or Hold Timer Expired
    /// with a subcode).
    Unknown {
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
    },
}

impl NotificationKind {
    /// The kind of a wire code and subcode.
    pub fn from_codes(c: u8, subcode: u8) -> NotificationKind {
        match ErrorCode::from_code(c) {
            Some(ErrorCode::MessageHeader) => Self::MessageHeader(HeaderSubcode::from_u8(subcode)),
            Some(ErrorCode::Open) => Self::Open(OpenSubcode::from_u8(subcode)),
            Some(ErrorCode::Update) => Self::Update(UpdateSubcode::from_u8(subcode)),
            Some(ErrorCode::HoldTimerExpired) if subcode == 0 => Self::HoldTimerExpired,
            Some(ErrorCode::Fsm) => Self::Fsm(FsmSubcode::from_u8(subcode)),
            Some(ErrorCode::Cease) => Self::Cease(CeaseSubcode::from_u8(subcode)),
            Some(ErrorCode::RouteRefresh) => {
                Self::RouteRefresh(RouteRefreshSubcode::from_u8(subcode))
            }
            _ => Self::Unknown { code: c, subcode },
        }
    }

    /// The error code, where it is one this crate names.
    pub fn code(self) -> Option<ErrorCode> {
        Some(match self {
            Self::MessageHeader(_) => ErrorCode::MessageHeader,
            Self::Open(_) => ErrorCode::Open,
            Self::Update(_) => ErrorCode::Update,
            Self::HoldTimerExpired => ErrorCode::HoldTimerExpired,
            Self::Fsm(_) => ErrorCode::Fsm,
            Self::Cease(_) => ErrorCode::Cease,
            Self::RouteRefresh(_) => ErrorCode::RouteRefresh,
            Self::Unknown { code, .. } => return ErrorCode::from_code(code),
        })
    }

    /// The wire code and subcode.
    pub fn codes(self) -> (u8, u8) {
        let subcode = match self {
            Self::MessageHeader(s) => s.to_u8(),
            Self::Open(s) => s.to_u8(),
            Self::Update(s) => s.to_u8(),
            Self::HoldTimerExpired => 0,
            Self::Fsm(s) => s.to_u8(),
            Self::Cease(s) => s.to_u8(),
            Self::RouteRefresh(s) => s.to_u8(),
            Self::Unknown { code, subcode } => return (code, subcode),
        };
        (self.code().map_or(0, ErrorCode::code), subcode)
    }

    /// The name of the error code.
    pub fn code_name(self) -> Option<&'static str> {
        self.code().map(ErrorCode::name)
    }

    /// The name of the subcode: `None` for 0 (no subcode), `Err` with the
    /// number for one this implementation does not name.
    fn subcode_name(self) -> Result<Option<&'static str>, u8> {
        let (named, value) = match self {
            Self::MessageHeader(s) => (s.name(), s.to_u8()),
            Self::Open(s) => (s.name(), s.to_u8()),
            Self::Update(s) => (s.name(), s.to_u8()),
            Self::HoldTimerExpired => (None, 0),
            Self::Fsm(s) => (s.name(), s.to_u8()),
            Self::Cease(s) => (s.name(), s.to_u8()),
            Self::RouteRefresh(s) => (s.name(), s.to_u8()),
            Self::Unknown { subcode, .. } => (None, subcode),
        };
        match (named, value) {
            (Some(n), _) => Ok(Some(n)),
            (None, 0) => Ok(None),
            (None, v) => Err(v),
        }
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(code_name) = self.code_name() else {
            let (c, s) = self.codes();
            return write!(f, "unknown error code {c} subcode {s}");
        };
        match self.subcode_name() {
            Ok(Some(sub)) => write!(f, "{code_name} / {sub}"),
            Ok(None) => f.write_str(code_name),
            Err(v) => write!(f, "{code_name} / unknown subcode {v}"),
        }
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
        assert_eq!(describe(4, 1), "Hold Timer Expired / unknown subcode 1");
        assert_eq!(describe(6, 0), "Cease");
        assert_eq!(describe(2, 5), "OPEN Message Error / unknown subcode 5");
        assert_eq!(describe(99, 1), "unknown error code 99 subcode 1");
    }

    #[test]
    fn kinds_round_trip_every_code_and_subcode() {
        for c in 0..=u8::MAX {
            for sub in 0..=u8::MAX {
                assert_eq!(NotificationKind::from_codes(c, sub).codes(), (c, sub));
            }
        }
        assert_eq!(
            Notification::new(2, 2, vec![]).kind(),
            NotificationKind::Open(OpenSubcode::BadPeerAs)
        );
    }
}
