//! Pure BGP-4 wire codec (RFC 4271 and extensions): no sockets, no clocks.
//!
//! Every message is decoded by [`Message::decode`] after [`frame`] has found
//! its boundaries in a byte stream. Every decode error is a [`DecodeError`]
//! that maps to the NOTIFICATION code and subcode RFC 4271 section 6
//! prescribes, so a caller can answer malformed input precisely. UPDATEs
//! are decoded with the revised error handling of RFC 7606 unless
//! [`DecodeContext::strict`] says otherwise: a malformed attribute that does
//! not need a session reset is an [`AttributeError`] in [`Update::errors`],
//! with its [`ErrorAction`] (treat-as-withdraw or attribute discard).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                           Marker                              +
//! |                    (16 octets, all ones)                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

mod as_path;
mod attributes;
mod builder;
mod codes;
mod communities;
mod error;
mod nlri;
mod notification;
mod open;
mod reader;
mod route_refresh;
mod summary;
mod update;

pub use as_path::{AsPath, AsSegment, AsSegmentKind};
pub(crate) use attributes::next_attribute;
pub use attributes::{MpReach, MpUnreach, Origin, PathAttributes, RawAttribute};
pub use builder::UpdateBuilder;
pub use codes::{
    attribute_name, capability_name, family_name, Afi, AttrType, CapabilityCode, ErrorCode,
    MessageType, Safi, FLAG_EXTENDED, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE,
};
pub use communities::{Community, CommunityError, ExtCommunity, LargeCommunity};
pub use error::{AttributeError, DecodeError, ErrorAction};
pub use nlri::{decode_nlri, decode_prefixes, encode_path, encode_prefix, prefix_wire_len};
pub(crate) use nlri::{split_prefix, PrefixFault};
pub use notification::{
    describe, CeaseSubcode, FsmSubcode, HeaderSubcode, Notification, NotificationKind, OpenSubcode,
    RouteRefreshSubcode, UpdateSubcode,
};
pub use open::{
    AddPathMode, AddPathModeError, Capability, GracefulRestartFamily, Open, MAX_RESTART_TIME,
};
pub(crate) use reader::Reader;
pub use route_refresh::RouteRefresh;
pub use summary::{hex, parse_hex, HexError};
pub use update::{route_octets, Update};

/// Length of the BGP message header.
pub const HEADER_LEN: usize = 19;
/// Largest BGP message (RFC 4271; extended messages are not negotiated).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// AS_TRANS (RFC 6793), sent in 2-octet fields for ASes above 65535.
pub const AS_TRANS: u16 = 23456;

/// An address family this speaker handles (unicast only).
///
/// ```
/// use cue::bgp::wire::Family;
/// assert_eq!(Family::of("2001:db8::1".parse().unwrap()), Family::Ipv6Unicast);
/// assert_eq!(Family::Ipv4Unicast.afi_safi(), (1, 1));
/// assert_eq!(Family::from_afi_safi(2, 1), Some(Family::Ipv6Unicast));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Family {
    /// IPv4 unicast (AFI 1, SAFI 1).
    #[serde(rename = "ipv4-unicast")]
    Ipv4Unicast,
    /// IPv6 unicast (AFI 2, SAFI 1).
    #[serde(rename = "ipv6-unicast")]
    Ipv6Unicast,
}

impl Family {
    /// The family from an AFI/SAFI pair, if it is one we handle.
    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Family> {
        match (afi, safi) {
            (1, 1) => Some(Family::Ipv4Unicast),
            (2, 1) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }

    /// The AFI/SAFI pair of this family.
    pub fn afi_safi(self) -> (u16, u8) {
        match self {
            Family::Ipv4Unicast => (Afi::Ipv4.code(), Safi::Unicast.code()),
            Family::Ipv6Unicast => (Afi::Ipv6.code(), Safi::Unicast.code()),
        }
    }

    /// The family of an address.
    pub fn of(addr: std::net::IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4Unicast
        } else {
            Family::Ipv6Unicast
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        })
    }
}

/// What the decoder needs to know about the session.
///
/// ```
/// use cue::bgp::wire::{DecodeContext, Message};
/// // Before OPENs are exchanged, AS numbers are 2 octets.
/// let ctx = DecodeContext::default();
/// let bytes = Message::Keepalive.to_bytes(ctx);
/// assert_eq!(Message::decode(&bytes, ctx).unwrap(), Message::Keepalive);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeContext {
    /// Both sides advertised the 4-octet AS capability: AS_PATH carries
    /// 4-octet AS numbers.
    pub four_octet_as: bool,
    /// The peer is in another AS (eBGP): a malformed LOCAL_PREF is
    /// discarded and confederation segments in AS_PATH are malformed.
    pub external: bool,
    /// RFC 4271 alone: every malformed UPDATE is an error that resets the
    /// session, instead of the revised handling of RFC 7606 (for those who
    /// test a peer's conformance).
    pub strict: bool,
    /// Both sides advertised extended messages (RFC 8654): messages other
    /// than OPEN and KEEPALIVE may take up to 65,535 octets.
    pub extended_messages: bool,
    /// The families whose NLRI carry a path identifier (ADD-PATH, RFC
    /// 7911): what the peer said it sends and we said we receive.
    pub add_path: AddPathFamilies,
}

/// A set of the families this crate parses, for ADD-PATH (RFC 7911): the
/// ones whose NLRI carry a 4-octet path identifier before each prefix.
///
/// ```
/// use cue::bgp::wire::{AddPathFamilies, Family};
/// let f = AddPathFamilies::of(&[Family::Ipv6Unicast]);
/// assert!(f.has(Family::Ipv6Unicast) && !f.has(Family::Ipv4Unicast));
/// assert!(AddPathFamilies::default().is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AddPathFamilies(u8);

impl AddPathFamilies {
    fn bit(family: Family) -> u8 {
        match family {
            Family::Ipv4Unicast => 1,
            Family::Ipv6Unicast => 2,
        }
    }

    /// The set of `families`.
    pub fn of(families: &[Family]) -> AddPathFamilies {
        AddPathFamilies(families.iter().fold(0, |b, f| b | Self::bit(*f)))
    }

    /// Whether `family` is in the set.
    pub fn has(self, family: Family) -> bool {
        self.0 & Self::bit(family) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The largest message with extended messages (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

impl DecodeContext {
    /// The largest message the session takes: 4,096 octets, or 65,535
    /// with extended messages.
    pub fn max_message_len(&self) -> usize {
        if self.extended_messages {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// A context for a session with (or without) 4-octet AS numbers.
    pub fn with_four_octet_as(four_octet_as: bool) -> DecodeContext {
        DecodeContext {
            four_octet_as,
            ..Default::default()
        }
    }
}

/// A decoded BGP message.
///
/// ```
/// use cue::bgp::wire::{frame, DecodeContext, Message, Notification};
/// let ctx = DecodeContext::default();
/// let bytes = Message::Notification(Notification::admin_shutdown()).to_bytes(ctx);
/// // A stream is cut into messages by `frame`, then each is decoded.
/// let len = frame(&bytes).unwrap().unwrap();
/// let m = Message::decode(&bytes[..len], ctx).unwrap();
/// assert_eq!(m.kind(), "NOTIFICATION");
/// assert_eq!(m.summary(), "NOTIFICATION 6/2 Cease / Administrative Shutdown");
/// ```
// An UPDATE is the large variant and also the common one: boxing it would
// add an allocation to every received UPDATE for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// Decodes one whole message, header included. `buf` must hold exactly
    /// one message (use [`frame`] to find its length in a stream).
    pub fn decode(buf: &[u8], ctx: DecodeContext) -> Result<Message, DecodeError> {
        let (len, kind) = check_header(buf, ctx.max_message_len())?;
        if buf.len() != len {
            return Err(DecodeError::BadLength(len as u16));
        }
        let body = &buf[HEADER_LEN..];
        match kind {
            MessageType::Open => Open::decode_body(body).map(Message::Open),
            MessageType::Update => Update::decode_body(body, ctx).map(Message::Update),
            MessageType::Notification => Ok(Message::Notification(Notification::decode_body(body))),
            MessageType::Keepalive => Ok(Message::Keepalive),
            MessageType::RouteRefresh => RouteRefresh::decode_body(body).map(Message::RouteRefresh),
        }
    }

    /// Encodes the message, header included, appending to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, ctx: DecodeContext) {
        match self {
            Message::Open(open) => open.encode(out),
            Message::Update(update) => update.encode(out, ctx),
            Message::Notification(n) => n.encode(out, ctx.max_message_len()),
            Message::Keepalive => {
                let start = begin_message(out, MessageType::Keepalive);
                finish_message(out, start);
            }
            Message::RouteRefresh(rr) => rr.encode(out),
        }
    }

    /// Encodes the message into a new buffer.
    pub fn to_bytes(&self, ctx: DecodeContext) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out, ctx);
        out
    }

    /// The message type name, as RFC 4271 spells it.
    pub fn kind(&self) -> &'static str {
        self.message_type().name()
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }
}

/// Checks a message header: marker, length and type. Returns the message
/// length and type once at least [`HEADER_LEN`] bytes are available.
fn check_header(buf: &[u8], max: usize) -> Result<(usize, MessageType), DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::BadLength(buf.len() as u16));
    }
    if buf[..16].iter().any(|&b| b != 0xff) {
        return Err(DecodeError::BadMarker);
    }
    let len = u16::from_be_bytes([buf[16], buf[17]]);
    let Some(kind) = MessageType::from_code(buf[18]) else {
        if (HEADER_LEN..=max).contains(&(len as usize)) {
            return Err(DecodeError::BadType(buf[18]));
        }
        return Err(DecodeError::BadLength(len));
    };
    // OPEN and KEEPALIVE stay within 4,096 octets (RFC 8654 section 4).
    let max = if kind.never_extended() {
        MAX_MESSAGE_LEN
    } else {
        max
    };
    if !kind.length_fits(len) || len as usize > max {
        return Err(DecodeError::BadLength(len));
    }
    Ok((len as usize, kind))
}

/// Finds the next message in a byte stream. Returns `Ok(None)` when more
/// bytes are needed, `Ok(Some(len))` when `buf[..len]` is a whole message, and
/// an error as soon as the header is malformed (without waiting for the body).
pub fn frame(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    frame_within(buf, MAX_MESSAGE_LEN)
}

/// As [`frame`], for a session whose messages may take up to `max` octets
/// ([`DecodeContext::max_message_len`]).
pub fn frame_within(buf: &[u8], max: usize) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        // A wrong marker can be seen early, but RFC 4271 judges the header as a
        // whole: wait for all of it.
        return Ok(None);
    }
    let (len, _) = check_header(buf, max)?;
    if buf.len() < len {
        Ok(None)
    } else {
        Ok(Some(len))
    }
}

/// Writes a header with a placeholder length; returns the message start.
pub(crate) fn begin_message(out: &mut Vec<u8>, kind: MessageType) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, kind.code()]);
    start
}

/// A two-octet length field: written as a placeholder, filled in with the
/// number of octets written after it once they are. Every length that
/// precedes what it counts (withdrawn routes, path attributes, an extended
/// attribute) is written this way.
#[must_use = "a length field must be finished"]
pub(crate) struct LengthField(usize);

impl LengthField {
    /// Writes the placeholder.
    pub(crate) fn begin(out: &mut Vec<u8>) -> LengthField {
        let at = out.len();
        out.extend_from_slice(&[0, 0]);
        LengthField(at)
    }

    /// Fills in how many octets follow the field.
    pub(crate) fn finish(self, out: &mut [u8]) {
        let len = (out.len() - self.0 - 2) as u16;
        out[self.0..self.0 + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// Fills in the length of the message that starts at `start`.
pub(crate) fn finish_message(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_round_trip() {
        let bytes = Message::Keepalive.to_bytes(DecodeContext::default());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 19, 4]);
        assert_eq!(bytes, expected);
        assert_eq!(
            Message::decode(&bytes, DecodeContext::default()),
            Ok(Message::Keepalive)
        );
    }

    #[test]
    fn header_errors() {
        let mut bad = vec![0xff; 16];
        bad.extend_from_slice(&[0, 19, 4]);
        bad[3] = 0;
        assert_eq!(frame(&bad), Err(DecodeError::BadMarker));
        let mut long = vec![0xff; 16];
        long.extend_from_slice(&[0x10, 0x01, 2]);
        assert_eq!(frame(&long), Err(DecodeError::BadLength(4097)));
        let mut short = vec![0xff; 16];
        short.extend_from_slice(&[0, 18, 4]);
        assert_eq!(frame(&short), Err(DecodeError::BadLength(18)));
        let mut ka = vec![0xff; 16];
        ka.extend_from_slice(&[0, 20, 4, 0]);
        assert_eq!(frame(&ka), Err(DecodeError::BadLength(20)));
        let mut kind = vec![0xff; 16];
        kind.extend_from_slice(&[0, 19, 9]);
        assert_eq!(frame(&kind), Err(DecodeError::BadType(9)));
        assert_eq!(frame(&kind[..10]), Ok(None));
    }

    #[test]
    fn extended_messages_frame_up_to_65535_octets_but_keepalives_stay_small() {
        let message = |kind: u8, len: usize| {
            let mut m = vec![0xff; 16];
            m.extend_from_slice(&(len as u16).to_be_bytes());
            m.push(kind);
            m.resize(len, 0);
            m
        };
        let update = message(MessageType::Update.code(), 5000);
        assert!(
            frame(&update).is_err(),
            "4,096 octets without extended messages"
        );
        assert_eq!(
            frame_within(&update, MAX_EXTENDED_MESSAGE_LEN),
            Ok(Some(5000))
        );
        let keepalive = message(MessageType::Keepalive.code(), 5000);
        assert!(frame_within(&keepalive, MAX_EXTENDED_MESSAGE_LEN).is_err());
        let ctx = DecodeContext {
            extended_messages: true,
            ..DecodeContext::default()
        };
        assert_eq!(ctx.max_message_len(), 65535);
        assert_eq!(DecodeContext::default().max_message_len(), 4096);
    }

    #[test]
    fn frame_waits_for_body() {
        let bytes = Message::Keepalive.to_bytes(DecodeContext::default());
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes[..5]);
        assert_eq!(frame(&two), Ok(Some(19)));
        assert_eq!(frame(&two[19..]), Ok(None));
    }
}
