//! Decode errors, each mapped to the NOTIFICATION that RFC 4271 section 6
//! (and RFC 5492, RFC 7313) prescribe for it.

use super::{attribute_name, Notification, NotificationKind};
use std::net::Ipv4Addr;

/// A received message that is malformed or unacceptable.
///
/// [`DecodeError::notification`] gives the NOTIFICATION to answer it with.
///
/// ```
/// use cue::bgp::wire::{DecodeContext, DecodeError, Message};
/// let mut bytes = vec![0xff; 16];
/// bytes.extend_from_slice(&[0, 19, 9]); // type 9 does not exist
/// let e = Message::decode(&bytes, DecodeContext::default()).unwrap_err();
/// assert_eq!(e, DecodeError::BadType(9));
/// let n = e.notification();
/// assert_eq!((n.code, n.subcode, n.data), (1, 3, vec![9]));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The marker is not all ones (1/1).
    #[error("connection not synchronized: the marker is not all ones")]
    BadMarker,
    /// The length field is out of range for the message type (1/2).
    #[error("bad message length {0}")]
    BadLength(u16),
    /// Unknown message type (1/3).
    #[error("bad message type {0}")]
    BadType(u8),
    /// OPEN version other than 4 (2/1).
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    /// The peer's AS is not the one expected (2/2).
    #[error("bad peer AS {0}")]
    BadPeerAs(u32),
    /// The BGP identifier is zero or equal to ours (2/3).
    #[error("bad BGP identifier {0}")]
    BadBgpIdentifier(Ipv4Addr),
    /// OPEN optional parameter other than capabilities (2/4).
    #[error("unsupported optional parameter {0}")]
    UnsupportedOptionalParameter(u8),
    /// Hold time 1 or 2 seconds (2/6).
    #[error("unacceptable hold time {0}")]
    UnacceptableHoldTime(u16),
    /// OPEN whose parameters do not add up (2/0).
    #[error("malformed OPEN: {0}")]
    MalformedOpen(&'static str),
    /// UPDATE whose lengths do not add up, or a duplicate attribute (3/1).
    #[error("malformed attribute list: {0}")]
    MalformedAttributeList(&'static str),
    /// A well-known attribute we do not know (3/2).
    #[error("unrecognized well-known attribute {type_code}")]
    UnrecognizedWellKnown {
        /// The attribute type code.
        type_code: u8,
        /// The whole attribute (type, length and value).
        data: Vec<u8>,
    },
    /// A mandatory well-known attribute is missing (3/3).
    #[error("missing well-known attribute {}", attribute_name(*.0))]
    MissingWellKnown(u8),
    /// Attribute flags conflict with the type code (3/4).
    #[error("attribute flags error in {}", attribute_name(*type_code))]
    AttributeFlags {
        /// The attribute type code.
        type_code: u8,
        /// The whole attribute.
        data: Vec<u8>,
    },
    /// Attribute length wrong for its type (3/5).
    #[error("attribute length error in {}", attribute_name(*type_code))]
    AttributeLength {
        /// The attribute type code.
        type_code: u8,
        /// The whole attribute.
        data: Vec<u8>,
    },
    /// ORIGIN value undefined (3/6).
    #[error("invalid ORIGIN attribute")]
    InvalidOrigin {
        /// The whole attribute.
        data: Vec<u8>,
    },
    /// NEXT_HOP syntactically invalid (3/8).
    #[error("invalid NEXT_HOP attribute")]
    InvalidNextHop {
        /// The whole attribute.
        data: Vec<u8>,
    },
    /// A recognised optional attribute is malformed (3/9).
    #[error("optional attribute error in {}: {reason}", attribute_name(*type_code))]
    OptionalAttribute {
        /// The attribute type code.
        type_code: u8,
        /// What is wrong.
        reason: &'static str,
        /// The whole attribute.
        data: Vec<u8>,
    },
    /// NLRI or withdrawn routes field is malformed (3/10).
    #[error("invalid network field: {0}")]
    InvalidNetworkField(&'static str),
    /// AS_PATH is malformed (3/11).
    #[error("malformed AS_PATH")]
    MalformedAsPath,
    /// ROUTE-REFRESH of the wrong length (7/1).
    #[error("invalid ROUTE-REFRESH message length {0}")]
    BadRouteRefreshLength(u16),
}

impl DecodeError {
    /// The NOTIFICATION that answers this error: its kind (RFC 4271 section
    /// 6, through the typed subcodes) and data.
    pub fn notification(&self) -> Notification {
        use super::{HeaderSubcode as H, OpenSubcode as O, UpdateSubcode as U};
        use DecodeError::*;
        use NotificationKind as K;
        let (kind, data): (NotificationKind, Vec<u8>) = match self {
            BadMarker => (K::MessageHeader(H::ConnectionNotSynchronized), vec![]),
            BadLength(len) => (
                K::MessageHeader(H::BadMessageLength),
                len.to_be_bytes().to_vec(),
            ),
            BadType(t) => (K::MessageHeader(H::BadMessageType), vec![*t]),
            // The data is the highest version we speak.
            UnsupportedVersion(_) => (
                K::Open(O::UnsupportedVersionNumber),
                4u16.to_be_bytes().to_vec(),
            ),
            BadPeerAs(_) => (K::Open(O::BadPeerAs), vec![]),
            BadBgpIdentifier(_) => (K::Open(O::BadBgpIdentifier), vec![]),
            UnsupportedOptionalParameter(_) => (K::Open(O::UnsupportedOptionalParameter), vec![]),
            UnacceptableHoldTime(_) => (K::Open(O::UnacceptableHoldTime), vec![]),
            MalformedOpen(_) => (K::Open(O::Unspecific), vec![]),
            MalformedAttributeList(_) => (K::Update(U::MalformedAttributeList), vec![]),
            UnrecognizedWellKnown { data, .. } => {
                (K::Update(U::UnrecognizedWellKnownAttribute), data.clone())
            }
            MissingWellKnown(t) => (K::Update(U::MissingWellKnownAttribute), vec![*t]),
            AttributeFlags { data, .. } => (K::Update(U::AttributeFlagsError), data.clone()),
            AttributeLength { data, .. } => (K::Update(U::AttributeLengthError), data.clone()),
            InvalidOrigin { data } => (K::Update(U::InvalidOrigin), data.clone()),
            InvalidNextHop { data } => (K::Update(U::InvalidNextHop), data.clone()),
            OptionalAttribute { data, .. } => (K::Update(U::OptionalAttributeError), data.clone()),
            InvalidNetworkField(_) => (K::Update(U::InvalidNetworkField), vec![]),
            MalformedAsPath => (K::Update(U::MalformedAsPath), vec![]),
            BadRouteRefreshLength(len) => (
                K::RouteRefresh(super::RouteRefreshSubcode::InvalidMessageLength),
                len.to_be_bytes().to_vec(),
            ),
        };
        Notification::of(kind, data)
    }
}

/// What RFC 7606 does with a malformed part of an UPDATE, weakest first:
/// when several parts are malformed, the strongest action is taken.
///
/// ```
/// use cue::bgp::wire::ErrorAction;
/// assert!(ErrorAction::TreatAsWithdraw > ErrorAction::AttributeDiscard);
/// assert_eq!(ErrorAction::TreatAsWithdraw.to_string(), "treat-as-withdraw");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ErrorAction {
    /// The attribute is dropped and the routes stand (RFC 7606 section 2).
    #[serde(rename = "attribute-discard")]
    AttributeDiscard,
    /// The UPDATE's routes are handled as withdrawn; the session stays.
    #[serde(rename = "treat-as-withdraw")]
    TreatAsWithdraw,
    /// NOTIFICATION and the session closes (RFC 4271's only answer).
    #[serde(rename = "session-reset")]
    SessionReset,
}

impl std::fmt::Display for ErrorAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorAction::AttributeDiscard => "attribute-discard",
            ErrorAction::TreatAsWithdraw => "treat-as-withdraw",
            ErrorAction::SessionReset => "session-reset",
        })
    }
}

/// A malformed part of an UPDATE that RFC 7606 let the UPDATE through with:
/// what was done, and the error RFC 4271 alone would have answered with a
/// NOTIFICATION.
///
/// ```
/// use cue::bgp::wire::{DecodeContext, ErrorAction, Message, Update};
/// // An UPDATE whose COMMUNITIES attribute is 3 octets long.
/// let mut m = vec![0xff; 16];
/// m.extend_from_slice(&[0, 47, 2, 0, 0, 0, 20,
///     0x40, 1, 1, 0,  0x40, 2, 0,  0x40, 3, 4, 10, 0, 0, 1,  0xc0, 8, 3, 0, 0, 0,
///     24, 192, 0, 2]);
/// let Ok(Message::Update(u)) = Message::decode(&m, DecodeContext::default()) else { panic!() };
/// assert!(u.treat_as_withdraw());
/// let e = &u.errors[0];
/// assert_eq!((e.action, e.attribute), (ErrorAction::TreatAsWithdraw, Some(8)));
/// assert_eq!(e.error.notification().subcode, 9, "RFC 4271: Optional Attribute Error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError {
    /// What was done.
    pub action: ErrorAction,
    /// The type code of the malformed attribute, when one is to blame.
    pub attribute: Option<u8>,
    /// What is wrong; its NOTIFICATION is what RFC 4271 alone would send.
    pub error: DecodeError,
}

impl std::fmt::Display for AttributeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.error.notification();
        write!(
            f,
            "{} ({}; RFC 4271 alone: NOTIFICATION {}/{})",
            self.action, self.error, n.code, n.subcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each decode error answers with the code and subcode RFC 4271 section
    /// 6 (and RFC 7313) gives it: the numbers are written here, the code
    /// names them.
    #[test]
    fn each_error_has_its_rfc_code_and_subcode() {
        let data = vec![0x40, 1, 1, 9];
        for (e, want) in [
            (DecodeError::BadMarker, (1, 1)),
            (DecodeError::BadLength(5), (1, 2)),
            (DecodeError::BadType(9), (1, 3)),
            (DecodeError::UnsupportedVersion(3), (2, 1)),
            (DecodeError::BadPeerAs(0), (2, 2)),
            (DecodeError::BadBgpIdentifier(Ipv4Addr::UNSPECIFIED), (2, 3)),
            (DecodeError::UnsupportedOptionalParameter(9), (2, 4)),
            (DecodeError::UnacceptableHoldTime(1), (2, 6)),
            (DecodeError::MalformedOpen("short"), (2, 0)),
            (DecodeError::MalformedAttributeList("short"), (3, 1)),
            (
                DecodeError::UnrecognizedWellKnown {
                    type_code: 99,
                    data: data.clone(),
                },
                (3, 2),
            ),
            (DecodeError::MissingWellKnown(1), (3, 3)),
            (
                DecodeError::AttributeFlags {
                    type_code: 1,
                    data: data.clone(),
                },
                (3, 4),
            ),
            (
                DecodeError::AttributeLength {
                    type_code: 1,
                    data: data.clone(),
                },
                (3, 5),
            ),
            (DecodeError::InvalidOrigin { data: data.clone() }, (3, 6)),
            (DecodeError::InvalidNextHop { data: data.clone() }, (3, 8)),
            (
                DecodeError::OptionalAttribute {
                    type_code: 8,
                    reason: "short",
                    data: data.clone(),
                },
                (3, 9),
            ),
            (DecodeError::InvalidNetworkField("short"), (3, 10)),
            (DecodeError::MalformedAsPath, (3, 11)),
            (DecodeError::BadRouteRefreshLength(5), (7, 1)),
        ] {
            let n = e.notification();
            assert_eq!((n.code, n.subcode), want, "{e}");
        }
        assert_eq!(
            DecodeError::UnsupportedVersion(3).notification().data,
            [0, 4]
        );
        assert_eq!(DecodeError::MissingWellKnown(2).notification().data, [2]);
    }
}
