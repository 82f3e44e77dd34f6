//! OPEN message (RFC 4271 section 4.2) and capabilities (RFC 5492).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::reader::Reader;
use super::{
    begin_message, finish_message, AddPathFamilies, Afi, CapabilityCode, DecodeError, Family,
    MessageType, AS_TRANS,
};
use std::net::Ipv4Addr;

const PARAM_CAPABILITIES: u8 = 2;

/// Restart Flags of the graceful restart capability: R, the speaker has
/// restarted.
const GR_RESTARTING: u16 = 0x8000;
/// N, graceful restart also for a NOTIFICATION (RFC 8538).
const GR_NOTIFICATION: u16 = 0x4000;
/// Flags for an address family: F, its forwarding state was preserved.
const GR_FORWARDING: u8 = 0x80;
/// The largest restart time the 12-bit field holds, in seconds.
pub const MAX_RESTART_TIME: u16 = 4095;

/// One address family of the graceful restart capability.
///
/// ```
/// use cue::bgp::wire::GracefulRestartFamily;
/// let f = GracefulRestartFamily { afi: 1, safi: 1, forwarding: true };
/// assert!(f.forwarding);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    /// Address family identifier.
    pub afi: u16,
    /// Subsequent address family identifier.
    pub safi: u8,
    /// The forwarding state of this family was preserved across the
    /// restart (F bit): the peer may keep using our routes until End-of-RIB.
    pub forwarding: bool,
}

/// A BGP capability (RFC 5492).
///
/// ```
/// use cue::bgp::wire::{Capability, Family, Open};
/// let open = Open::new(65001, 90, "10.0.0.1".parse().unwrap(), &[Family::Ipv4Unicast]);
/// assert!(open.capabilities.contains(&Capability::RouteRefresh));
/// assert!(open.capabilities.contains(&Capability::FourOctetAs(65001)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Multiprotocol extensions (RFC 4760).
    Multiprotocol {
        /// Address family identifier.
        afi: u16,
        /// Subsequent address family identifier.
        safi: u8,
    },
    /// Route refresh (RFC 2918).
    RouteRefresh,
    /// 4-octet AS numbers (RFC 6793), with the speaker's AS.
    FourOctetAs(u32),
    /// Extended messages (RFC 8654): up to 65,535 octets.
    ExtendedMessage,
    /// Extended next hop encoding (RFC 8950): the families whose routes
    /// may carry a next hop of another address family, as (AFI, SAFI, next
    /// hop AFI).
    ExtendedNextHop(Vec<(u16, u16, u16)>),
    /// ADD-PATH (RFC 7911): per family (AFI, SAFI), 1 to receive several
    /// paths, 2 to send them, 3 both.
    AddPath(Vec<(u16, u8, u8)>),
    /// Graceful restart (RFC 4724).
    GracefulRestart {
        /// R bit: the speaker has restarted.
        restarting: bool,
        /// N bit (RFC 8538): the speaker keeps routes across a session
        /// closed by a NOTIFICATION too. Not offered by this speaker, read
        /// and written back.
        notification: bool,
        /// Seconds the peer should keep our routes after the session drops
        /// (0-4095).
        restart_time: u16,
        /// The families whose routes are kept, with their F bit.
        families: Vec<GracefulRestartFamily>,
    },
    /// Any other capability, kept as it came.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value.
        data: Vec<u8>,
    },
}

/// What a speaker offers for ADD-PATH (RFC 7911) in its OPEN: to send
/// several paths of a prefix, to receive them, or both.
///
/// ```
/// use cue::bgp::wire::AddPathMode;
/// assert_eq!("both".parse::<AddPathMode>().unwrap(), AddPathMode::Both);
/// assert_eq!(AddPathMode::Receive.to_string(), "receive");
/// assert!("sideways".parse::<AddPathMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddPathMode {
    /// Several paths of a prefix go to the peer, each with its identifier.
    Send,
    /// The peer may send several paths of a prefix.
    Receive,
    /// Both.
    Both,
}

impl AddPathMode {
    /// The Send/Receive field of the capability: 1 receive, 2 send, 3 both.
    pub fn bits(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
        }
    }

    /// Whether this mode sends several paths.
    pub fn sends(self) -> bool {
        self.bits() & 2 != 0
    }

    /// Whether this mode receives several paths.
    pub fn receives(self) -> bool {
        self.bits() & 1 != 0
    }
}

impl std::fmt::Display for AddPathMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddPathMode::Send => "send",
            AddPathMode::Receive => "receive",
            AddPathMode::Both => "both",
        })
    }
}

impl std::str::FromStr for AddPathMode {
    type Err = AddPathModeError;

    fn from_str(s: &str) -> Result<Self, AddPathModeError> {
        match s {
            "send" => Ok(AddPathMode::Send),
            "receive" => Ok(AddPathMode::Receive),
            "both" => Ok(AddPathMode::Both),
            _ => Err(AddPathModeError(s.to_string())),
        }
    }
}

/// A word that is not an [`AddPathMode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: ADD-PATH is send, receive or both")]
pub struct AddPathModeError(pub String);

impl Capability {
    /// The capability's code.
    ///
    /// ```
    /// use cue::bgp::wire::{Capability, CapabilityCode};
    /// assert_eq!(Capability::RouteRefresh.code(), CapabilityCode::RouteRefresh.code());
    /// assert_eq!(Capability::Unknown { code: 75, data: vec![] }.code(), 75);
    /// ```
    pub fn code(&self) -> u8 {
        use CapabilityCode as C;
        match self {
            Capability::Multiprotocol { .. } => C::Multiprotocol.code(),
            Capability::RouteRefresh => C::RouteRefresh.code(),
            Capability::FourOctetAs(_) => C::FourOctetAs.code(),
            Capability::ExtendedMessage => C::ExtendedMessage.code(),
            Capability::ExtendedNextHop(_) => C::ExtendedNextHop.code(),
            Capability::AddPath(_) => C::AddPath.code(),
            Capability::GracefulRestart { .. } => C::GracefulRestart.code(),
            Capability::Unknown { code, .. } => *code,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        use CapabilityCode as C;
        match self {
            Capability::Multiprotocol { afi, safi } => {
                out.extend_from_slice(&[C::Multiprotocol.code(), 4]);
                out.extend_from_slice(&afi.to_be_bytes());
                out.extend_from_slice(&[0, *safi]);
            }
            Capability::RouteRefresh => out.extend_from_slice(&[C::RouteRefresh.code(), 0]),
            Capability::ExtendedMessage => out.extend_from_slice(&[C::ExtendedMessage.code(), 0]),
            Capability::AddPath(families) => {
                let families = &families[..families.len().min(63)];
                out.extend_from_slice(&[C::AddPath.code(), (4 * families.len()) as u8]);
                for (afi, safi, send_receive) in families {
                    out.extend_from_slice(&afi.to_be_bytes());
                    out.extend_from_slice(&[*safi, *send_receive]);
                }
            }
            Capability::ExtendedNextHop(families) => {
                // At most 42 entries fit the one-octet capability length.
                let families = &families[..families.len().min(42)];
                out.extend_from_slice(&[C::ExtendedNextHop.code(), (6 * families.len()) as u8]);
                for (afi, safi, nh_afi) in families {
                    out.extend_from_slice(&afi.to_be_bytes());
                    out.extend_from_slice(&safi.to_be_bytes());
                    out.extend_from_slice(&nh_afi.to_be_bytes());
                }
            }
            Capability::FourOctetAs(asn) => {
                out.extend_from_slice(&[C::FourOctetAs.code(), 4]);
                out.extend_from_slice(&asn.to_be_bytes());
            }
            Capability::GracefulRestart {
                restarting,
                notification,
                restart_time,
                families,
            } => {
                // At most 63 families fit the one-octet capability length.
                let families = &families[..families.len().min(63)];
                out.extend_from_slice(&[C::GracefulRestart.code(), (2 + 4 * families.len()) as u8]);
                let flags = if *restarting { GR_RESTARTING } else { 0 }
                    | if *notification { GR_NOTIFICATION } else { 0 };
                let word = flags | (*restart_time).min(MAX_RESTART_TIME);
                out.extend_from_slice(&word.to_be_bytes());
                for f in families {
                    out.extend_from_slice(&f.afi.to_be_bytes());
                    out.push(f.safi);
                    out.push(if f.forwarding { GR_FORWARDING } else { 0 });
                }
            }
            Capability::Unknown { code, data } => {
                out.push(*code);
                out.push(data.len().min(255) as u8);
                out.extend_from_slice(&data[..data.len().min(255)]);
            }
        }
    }

    fn decode(code: u8, value: &[u8]) -> Result<Capability, DecodeError> {
        use CapabilityCode as C;
        Ok(match C::from_code(code) {
            Some(C::Multiprotocol) => {
                if value.len() != 4 {
                    return Err(DecodeError::MalformedOpen(
                        "multiprotocol capability length is not 4",
                    ));
                }
                Capability::Multiprotocol {
                    afi: u16::from_be_bytes([value[0], value[1]]),
                    safi: value[3],
                }
            }
            Some(C::RouteRefresh) => {
                if !value.is_empty() {
                    return Err(DecodeError::MalformedOpen(
                        "route refresh capability length is not 0",
                    ));
                }
                Capability::RouteRefresh
            }
            Some(C::ExtendedMessage) => {
                if !value.is_empty() {
                    return Err(DecodeError::MalformedOpen(
                        "extended message capability length is not 0",
                    ));
                }
                Capability::ExtendedMessage
            }
            Some(C::ExtendedNextHop) => extended_next_hop(value)?,
            Some(C::AddPath) => {
                if value.len() % 4 != 0 {
                    return Err(DecodeError::MalformedOpen(
                        "ADD-PATH capability length is not a multiple of 4",
                    ));
                }
                let entry = |c: &[u8]| (u16::from_be_bytes([c[0], c[1]]), c[2], c[3]);
                Capability::AddPath(value.chunks_exact(4).map(entry).collect())
            }
            Some(C::FourOctetAs) => {
                if value.len() != 4 {
                    return Err(DecodeError::MalformedOpen(
                        "4-octet AS capability length is not 4",
                    ));
                }
                Capability::FourOctetAs(u32::from_be_bytes([
                    value[0], value[1], value[2], value[3],
                ]))
            }
            Some(C::GracefulRestart) => {
                if value.len() < 2 || (value.len() - 2) % 4 != 0 {
                    return Err(DecodeError::MalformedOpen(
                        "graceful restart capability length is not 2 plus a multiple of 4",
                    ));
                }
                let word = u16::from_be_bytes([value[0], value[1]]);
                Capability::GracefulRestart {
                    restarting: word & GR_RESTARTING != 0,
                    notification: word & GR_NOTIFICATION != 0,
                    restart_time: word & MAX_RESTART_TIME,
                    families: value[2..]
                        .chunks_exact(4)
                        .map(|c| GracefulRestartFamily {
                            afi: u16::from_be_bytes([c[0], c[1]]),
                            safi: c[2],
                            forwarding: c[3] & GR_FORWARDING != 0,
                        })
                        .collect(),
                }
            }
            _ => Capability::Unknown {
                code,
                data: value.to_vec(),
            },
        })
    }
}

/// The extended next hop capability's (AFI, SAFI, next hop AFI) entries.
fn extended_next_hop(value: &[u8]) -> Result<Capability, DecodeError> {
    if value.len() % 6 != 0 {
        return Err(DecodeError::MalformedOpen(
            "extended next hop capability length is not a multiple of 6",
        ));
    }
    let entry = |c: &[u8]| {
        (
            u16::from_be_bytes([c[0], c[1]]),
            u16::from_be_bytes([c[2], c[3]]),
            u16::from_be_bytes([c[4], c[5]]),
        )
    };
    Ok(Capability::ExtendedNextHop(
        value.chunks_exact(6).map(entry).collect(),
    ))
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capability::Multiprotocol { afi, safi } => match Family::from_afi_safi(*afi, *safi) {
                Some(family) => write!(f, "multiprotocol {family}"),
                None => write!(f, "multiprotocol afi {afi} safi {safi}"),
            },
            Capability::RouteRefresh => f.write_str("route-refresh"),
            Capability::ExtendedMessage => f.write_str("extended-message"),
            Capability::AddPath(families) => {
                f.write_str("add-path")?;
                for (afi, safi, send_receive) in families {
                    match Family::from_afi_safi(*afi, *safi) {
                        Some(family) => write!(f, " {family}")?,
                        None => write!(f, " afi {afi} safi {safi}")?,
                    }
                    match send_receive {
                        1 => f.write_str(" receive")?,
                        2 => f.write_str(" send")?,
                        3 => f.write_str(" send-receive")?,
                        v => write!(f, " ({v})")?,
                    }
                }
                Ok(())
            }
            Capability::ExtendedNextHop(families) => {
                f.write_str("extended-next-hop")?;
                for (afi, safi, nh_afi) in families {
                    match u8::try_from(*safi)
                        .ok()
                        .and_then(|s| Family::from_afi_safi(*afi, s))
                    {
                        Some(family) => write!(f, " {family}")?,
                        None => write!(f, " afi {afi} safi {safi}")?,
                    }
                    match *nh_afi {
                        1 => f.write_str(" via ipv4")?,
                        2 => f.write_str(" via ipv6")?,
                        a => write!(f, " via afi {a}")?,
                    }
                }
                Ok(())
            }
            Capability::FourOctetAs(asn) => write!(f, "4-octet-as {asn}"),
            Capability::GracefulRestart {
                restarting,
                notification,
                restart_time,
                families,
            } => {
                write!(f, "graceful-restart {restart_time}s")?;
                if *restarting {
                    f.write_str(" restarting")?;
                }
                if *notification {
                    f.write_str(" notification")?;
                }
                for fam in families {
                    match Family::from_afi_safi(fam.afi, fam.safi) {
                        Some(family) => write!(f, " {family}")?,
                        None => write!(f, " afi {} safi {}", fam.afi, fam.safi)?,
                    }
                    if fam.forwarding {
                        f.write_str("(forwarding)")?;
                    }
                }
                Ok(())
            }
            Capability::Unknown { code, data } => match CapabilityCode::from_code(*code) {
                Some(name) => write!(f, "{name} ({code}, {} bytes)", data.len()),
                None => write!(f, "capability {code} ({} bytes)", data.len()),
            },
        }
    }
}

/// An OPEN message.
///
/// ```
/// use cue::bgp::wire::{Family, Open};
/// let open = Open::new(4_200_000_000, 90, "10.0.0.1".parse().unwrap(), &[Family::Ipv4Unicast, Family::Ipv6Unicast]);
/// assert_eq!(open.my_as, 23456, "AS_TRANS in the 2-octet field");
/// assert_eq!(open.asn(), 4_200_000_000, "the 4-octet AS capability");
/// assert!(open.four_octet_as() && open.route_refresh());
/// assert_eq!(open.mp_families().unwrap().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// BGP version; always 4 once decoded.
    pub version: u8,
    /// The 2-octet "My Autonomous System" field (AS_TRANS for large ASes).
    pub my_as: u16,
    /// Proposed hold time in seconds.
    pub hold_time: u16,
    /// BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// Capabilities, in the order they came.
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for `asn` (AS_TRANS in the 2-octet field above 65535; the
    /// 4-octet AS capability is always added) with the given families.
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, families: &[Family]) -> Open {
        let mut capabilities: Vec<Capability> = families
            .iter()
            .map(|f| {
                let (afi, safi) = f.afi_safi();
                Capability::Multiprotocol { afi, safi }
            })
            .collect();
        capabilities.push(Capability::RouteRefresh);
        capabilities.push(Capability::FourOctetAs(asn));
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The speaker's AS: from the 4-octet AS capability when present.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(self.my_as as u32)
    }

    /// Whether the 4-octet AS capability is present.
    pub fn four_octet_as(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    }

    /// The graceful restart capability (RFC 4724), when present: restart
    /// time and families.
    pub fn graceful_restart(&self) -> Option<(u16, &[GracefulRestartFamily])> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart {
                restart_time,
                families,
                ..
            } => Some((*restart_time, families.as_slice())),
            _ => None,
        })
    }

    /// Adds the graceful restart capability: `restart_time` seconds, and
    /// every family of the OPEN with its forwarding state preserved (a load
    /// balancer's VIPs keep working while its BGP process restarts).
    pub fn with_graceful_restart(mut self, restart_time: u16) -> Open {
        let families = self
            .mp_families()
            .unwrap_or_else(|| vec![Family::Ipv4Unicast])
            .into_iter()
            .map(|f| {
                let (afi, safi) = f.afi_safi();
                GracefulRestartFamily {
                    afi,
                    safi,
                    forwarding: true,
                }
            })
            .collect();
        self.capabilities.push(Capability::GracefulRestart {
            restarting: false,
            notification: false,
            restart_time: restart_time.min(MAX_RESTART_TIME),
            families,
        });
        self
    }

    /// Whether the route refresh capability is present.
    pub fn route_refresh(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::RouteRefresh))
    }

    /// Whether IPv4 unicast routes may carry an IPv6 next hop (RFC 8950's
    /// capability lists AFI 1, SAFI 1, next hop AFI 2).
    pub fn extended_next_hop_ipv4(&self) -> bool {
        self.capabilities.iter().any(
            |c| matches!(c, Capability::ExtendedNextHop(f) if f.contains(&(Afi::Ipv4.code(), 1, Afi::Ipv6.code()))),
        )
    }

    /// The families for which this OPEN's ADD-PATH capability says its
    /// sender can `mode` (send, receive or both: both says either).
    ///
    /// ```
    /// use cue::bgp::wire::{AddPathMode, Capability, Family, Open};
    /// let mut open = Open::new(65001, 90, "10.0.0.1".parse().unwrap(), &[Family::Ipv4Unicast]);
    /// open.capabilities.push(Capability::AddPath(vec![(1, 1, 3), (2, 1, 1)]));
    /// assert!(open.add_path(AddPathMode::Send).has(Family::Ipv4Unicast));
    /// assert!(!open.add_path(AddPathMode::Send).has(Family::Ipv6Unicast));
    /// assert!(open.add_path(AddPathMode::Receive).has(Family::Ipv6Unicast));
    /// ```
    pub fn add_path(&self, mode: AddPathMode) -> AddPathFamilies {
        let mut families = Vec::new();
        for c in &self.capabilities {
            if let Capability::AddPath(entries) = c {
                families.extend(
                    entries
                        .iter()
                        .filter(|(_, _, sr)| sr & mode.bits() != 0)
                        .filter_map(|(afi, safi, _)| Family::from_afi_safi(*afi, *safi)),
                );
            }
        }
        AddPathFamilies::of(&families)
    }

    /// Whether the extended message capability (RFC 8654) is present.
    pub fn extended_messages(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::ExtendedMessage))
    }

    /// The multiprotocol families advertised, or `None` when no
    /// multiprotocol capability was sent at all (then IPv4 unicast is
    /// implied, RFC 4760 section 8).
    pub fn mp_families(&self) -> Option<Vec<Family>> {
        let mut any = false;
        let mut families = Vec::new();
        for c in &self.capabilities {
            if let Capability::Multiprotocol { afi, safi } = c {
                any = true;
                if let Some(f) = Family::from_afi_safi(*afi, *safi) {
                    families.push(f);
                }
            }
        }
        any.then_some(families)
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body);
        let short = DecodeError::BadLength((body.len() + super::HEADER_LEN) as u16);
        let version = r.u8().ok_or(short.clone())?;
        if version != 4 {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let my_as = r.u16().ok_or(short.clone())?;
        let hold_time = r.u16().ok_or(short.clone())?;
        let id = r.u32().ok_or(short.clone())?;
        let opt_len = r.u8().ok_or(short)? as usize;
        if opt_len != r.remaining() {
            return Err(DecodeError::MalformedOpen(
                "optional parameters length does not match the message length",
            ));
        }
        if hold_time == 1 || hold_time == 2 {
            return Err(DecodeError::UnacceptableHoldTime(hold_time));
        }
        let mut capabilities = Vec::new();
        while !r.is_empty() {
            let (Some(kind), Some(len)) = (r.u8(), r.u8()) else {
                return Err(DecodeError::MalformedOpen("truncated optional parameter"));
            };
            let value = r
                .take(len as usize)
                .ok_or(DecodeError::MalformedOpen("truncated optional parameter"))?;
            if kind != PARAM_CAPABILITIES {
                return Err(DecodeError::UnsupportedOptionalParameter(kind));
            }
            let mut caps = Reader::new(value);
            while !caps.is_empty() {
                let (Some(code), Some(len)) = (caps.u8(), caps.u8()) else {
                    return Err(DecodeError::MalformedOpen("truncated capability"));
                };
                let value = caps
                    .take(len as usize)
                    .ok_or(DecodeError::MalformedOpen("truncated capability"))?;
                capabilities.push(Capability::decode(code, value)?);
            }
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_message(out, MessageType::Open);
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        let opt_len_at = out.len();
        out.push(0);
        if !self.capabilities.is_empty() {
            out.extend_from_slice(&[PARAM_CAPABILITIES, 0]);
            let param_start = out.len();
            for c in &self.capabilities {
                c.encode(out);
            }
            let param_len = (out.len() - param_start).min(255) as u8;
            out[param_start - 1] = param_len;
            out[opt_len_at] = param_len + 2;
        }
        finish_message(out, start);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeContext, Message};
    use super::*;

    #[test]
    fn the_extended_message_capability_round_trips() {
        let mut open = Open::new(
            65001,
            90,
            "10.0.0.1".parse().unwrap(),
            &[Family::Ipv4Unicast],
        );
        assert!(!open.extended_messages());
        open.capabilities.push(Capability::ExtendedMessage);
        let bytes = Message::Open(open.clone()).to_bytes(DecodeContext::default());
        let Ok(Message::Open(back)) = Message::decode(&bytes, DecodeContext::default()) else {
            panic!("did not decode");
        };
        assert!(back.extended_messages());
        assert_eq!(Capability::ExtendedMessage.to_string(), "extended-message");
    }

    #[test]
    fn the_add_path_capability_is_read_and_shown() {
        let mut open = Open::new(
            65001,
            90,
            "10.0.0.1".parse().unwrap(),
            &[Family::Ipv4Unicast],
        );
        let cap = Capability::AddPath(vec![(1, 1, 3), (2, 1, 1)]);
        open.capabilities.push(cap.clone());
        let bytes = Message::Open(open).to_bytes(DecodeContext::default());
        let at = bytes
            .windows(2)
            .position(|w| w == [69, 8])
            .expect("capability 69");
        assert_eq!(&bytes[at + 2..at + 10], &[0, 1, 1, 3, 0, 2, 1, 1]);
        let Ok(Message::Open(back)) = Message::decode(&bytes, DecodeContext::default()) else {
            panic!("did not decode");
        };
        assert!(back.capabilities.contains(&cap));
        assert_eq!(
            cap.to_string(),
            "add-path ipv4-unicast send-receive ipv6-unicast receive"
        );
        assert!(matches!(
            Capability::decode(CapabilityCode::AddPath.code(), &[0, 1, 1]),
            Err(DecodeError::MalformedOpen(_))
        ));
    }

    #[test]
    fn the_extended_next_hop_capability_round_trips_and_is_checked() {
        let mut open = Open::new(
            65001,
            90,
            "10.0.0.1".parse().unwrap(),
            &[Family::Ipv4Unicast],
        );
        let cap = Capability::ExtendedNextHop(vec![(1, 1, 2), (1, 128, 2)]);
        open.capabilities.push(cap.clone());
        let bytes = Message::Open(open).to_bytes(DecodeContext::default());
        // Code 5, length 12, two (AFI, SAFI, next hop AFI) entries.
        let at = bytes
            .windows(2)
            .position(|w| w == [5, 12])
            .expect("capability 5");
        assert_eq!(
            &bytes[at + 2..at + 14],
            &[0, 1, 0, 1, 0, 2, 0, 1, 0, 128, 0, 2]
        );
        let Ok(Message::Open(back)) = Message::decode(&bytes, DecodeContext::default()) else {
            panic!("did not decode");
        };
        assert!(back.capabilities.contains(&cap));
        assert!(back.extended_next_hop_ipv4());
        assert_eq!(
            cap.to_string(),
            "extended-next-hop ipv4-unicast via ipv6 afi 1 safi 128 via ipv6"
        );
        assert!(matches!(
            Capability::decode(CapabilityCode::ExtendedNextHop.code(), &[0, 1, 0, 1, 0]),
            Err(DecodeError::MalformedOpen(_))
        ));
    }

    /// OPEN for AS 65001, hold time 10, id 127.0.0.1, IPv6 and IPv4 unicast.
    const OPEN_BYTES: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x33, 0x01, // header: length 51, OPEN
        0x04, 0xfd, 0xe9, 0x00, 0x0a, 0x7f, 0x00, 0x00, 0x01, // v4, AS, hold, id
        0x16, 0x02, 0x14, // opt len 22, capabilities param len 20
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // MP IPv6 unicast
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // MP IPv4 unicast
        0x02, 0x00, // route refresh
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS 65001
    ];

    #[test]
    fn golden_open() {
        let open = Open::new(
            65001,
            10,
            Ipv4Addr::LOCALHOST,
            &[Family::Ipv6Unicast, Family::Ipv4Unicast],
        );
        let ctx = DecodeContext::default();
        assert_eq!(Message::Open(open.clone()).to_bytes(ctx), OPEN_BYTES);
        assert_eq!(
            Message::decode(OPEN_BYTES, ctx),
            Ok(Message::Open(open.clone()))
        );
        assert_eq!(open.asn(), 65001);
        assert_eq!(
            open.mp_families(),
            Some(vec![Family::Ipv6Unicast, Family::Ipv4Unicast])
        );
    }

    #[test]
    fn graceful_restart_capability() {
        let open = Open::new(65001, 10, Ipv4Addr::LOCALHOST, &[Family::Ipv4Unicast])
            .with_graceful_restart(120);
        let bytes = Message::Open(open.clone()).to_bytes(DecodeContext::default());
        // Code 64, length 6: restart time 120, IPv4 unicast with F set.
        let at = bytes.windows(2).position(|w| w == [64, 6]).unwrap();
        assert_eq!(&bytes[at + 2..at + 8], &[0x00, 0x78, 0, 1, 1, 0x80]);
        assert_eq!(
            Message::decode(&bytes, DecodeContext::default()),
            Ok(Message::Open(open.clone()))
        );
        let (time, families) = open.graceful_restart().unwrap();
        assert_eq!(
            (time, families.len(), families[0].forwarding),
            (120, 1, true)
        );
        // The R bit and a restart time of 4095, no families (a helper only).
        let cap = Capability::decode(64, &[0x8f, 0xff]).unwrap();
        assert_eq!(
            cap,
            Capability::GracefulRestart {
                restarting: true,
                notification: false,
                restart_time: 4095,
                families: vec![]
            }
        );
        assert!(Capability::decode(64, &[0, 1, 0]).is_err());
        assert_eq!(cap.to_string(), "graceful-restart 4095s restarting");
        // FRR's R and N bits (RFC 8538) with 120 s come back as they were.
        let frr = Capability::decode(64, &[0xc0, 0x78]).unwrap();
        assert_eq!(
            frr.to_string(),
            "graceful-restart 120s restarting notification"
        );
        let mut out = Vec::new();
        frr.encode(&mut out);
        assert_eq!(out, [64, 2, 0xc0, 0x78]);
    }

    #[test]
    fn large_as_uses_as_trans() {
        let open = Open::new(4_200_000_000, 90, Ipv4Addr::new(1, 2, 3, 4), &[]);
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_000);
        let bytes = Message::Open(open.clone()).to_bytes(DecodeContext::default());
        assert_eq!(
            Message::decode(&bytes, DecodeContext::default()),
            Ok(Message::Open(open))
        );
    }

    fn body_with(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = OPEN_BYTES.to_vec();
        f(&mut b);
        let len = b.len() as u16;
        b[16..18].copy_from_slice(&len.to_be_bytes());
        b
    }

    #[test]
    fn open_errors() {
        let ctx = DecodeContext::default();
        let v3 = body_with(|b| b[19] = 3);
        let err = Message::decode(&v3, ctx).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedVersion(3));
        let n = err.notification();
        assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));

        let hold = body_with(|b| b[23] = 2);
        assert_eq!(
            Message::decode(&hold, ctx)
                .unwrap_err()
                .notification()
                .subcode,
            6
        );

        let param = body_with(|b| b[29] = 1);
        assert_eq!(
            Message::decode(&param, ctx).unwrap_err(),
            DecodeError::UnsupportedOptionalParameter(1)
        );

        let optlen = body_with(|b| b[28] = 30);
        assert!(matches!(
            Message::decode(&optlen, ctx),
            Err(DecodeError::MalformedOpen(_))
        ));

        let caplen = body_with(|b| b[32] = 9);
        assert!(matches!(
            Message::decode(&caplen, ctx),
            Err(DecodeError::MalformedOpen(_))
        ));
    }

    #[test]
    fn unknown_capability_is_kept() {
        let b = body_with(|b| {
            // Capability 73 (FQDN), not interpreted.
            b.extend_from_slice(&[0x02, 0x04, 0x49, 0x02, 0x00, 0x78]);
            b[28] += 6;
        });
        let Message::Open(open) = Message::decode(&b, DecodeContext::default()).unwrap() else {
            panic!("not an OPEN");
        };
        let fqdn = open.capabilities.last().unwrap();
        assert_eq!(
            fqdn,
            &Capability::Unknown {
                code: 73,
                data: vec![0x00, 0x78]
            }
        );
        // Named from the registry, though not interpreted.
        assert_eq!(fqdn.to_string(), "fqdn (73, 2 bytes)");
        let private = Capability::Unknown {
            code: 240,
            data: vec![],
        };
        assert_eq!(private.to_string(), "capability 240 (0 bytes)");
        // Every capability this crate decodes has a code in the registry,
        // which the encoder writes.
        for c in Open::new(1, 90, Ipv4Addr::LOCALHOST, &[Family::Ipv4Unicast])
            .with_graceful_restart(120)
            .capabilities
        {
            let mut out = Vec::new();
            c.encode(&mut out);
            assert_eq!(out[0], c.code());
            assert!(CapabilityCode::from_code(c.code()).is_some());
        }
    }
}
