//! Communities: standard (RFC 1997), large (RFC 8092) and extended
//! (RFC 4360), with their text forms.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A community of any kind, written as text, that does not parse.
///
/// ```
/// use cue::bgp::wire::{Community, CommunityError};
/// assert_eq!("65000".parse::<Community>(), Err(CommunityError::NotCommunity("65000".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommunityError {
    /// Neither `ASN:VALUE` nor a well-known name.
    #[error("community {0:?} is not ASN:VALUE or a well-known name")]
    NotCommunity(String),
    /// An AS number above 65535.
    #[error("community {text:?}: ASN {part:?} is not 0-65535")]
    Asn {
        /// The community written.
        text: String,
        /// Its AS number.
        part: String,
    },
    /// A value above 65535.
    #[error("community {text:?}: value {part:?} is not 0-65535")]
    Value {
        /// The community written.
        text: String,
        /// Its value.
        part: String,
    },
    /// A large community that is not three numbers.
    #[error("large community {0:?} is not A:B:C")]
    NotLarge(String),
    /// A part of a large community that is not a 32-bit number.
    #[error("large community {text:?}: {part:?} is not a number 0-4294967295")]
    LargeNumber {
        /// The community written.
        text: String,
        /// The part.
        part: String,
    },
    /// An extended community in hex that is not hex.
    #[error("extended community {0:?}: {1}")]
    ExtHex(String, super::HexError),
    /// An extended community in hex that is not 8 octets.
    #[error("extended community {0:?}: 16 hex digits, 8 octets")]
    ExtLength(String),
    /// An extended community in none of the forms taken.
    #[error(
        "extended community {0:?} is not rt:ASN:N, rt:IPV4:N, ro:..., or 0x and 16 hex digits"
    )]
    NotExt(String),
}

/// A standard community (RFC 1997), shown as `ASN:VALUE`.
///
/// ```
/// use cue::bgp::wire::Community;
/// let c: Community = "65000:7".parse().unwrap();
/// assert_eq!(c.0, 65000 << 16 | 7);
/// assert_eq!("no-export".parse::<Community>().unwrap().to_string(), "no-export");
/// assert!("65536:1".parse::<Community>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// NO_EXPORT.
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);

    const NAMES: [(&'static str, Community); 4] = [
        ("no-export", Community::NO_EXPORT),
        ("no-advertise", Community::NO_ADVERTISE),
        ("no-export-subconfed", Community::NO_EXPORT_SUBCONFED),
        ("blackhole", Community::BLACKHOLE),
    ];
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((name, _)) = Community::NAMES.iter().find(|(_, c)| c == self) {
            return f.write_str(name);
        }
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

impl FromStr for Community {
    type Err = CommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if let Some((_, c)) = Community::NAMES.iter().find(|(n, _)| *n == lower) {
            return Ok(*c);
        }
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| CommunityError::NotCommunity(s.to_string()))?;
        let (text, part) = (s.to_string(), a.to_string());
        let a: u16 = a.parse().map_err(|_| CommunityError::Asn { text, part })?;
        let (text, part) = (s.to_string(), b.to_string());
        let b: u16 = b
            .parse()
            .map_err(|_| CommunityError::Value { text, part })?;
        Ok(Community(((a as u32) << 16) | b as u32))
    }
}

impl serde::Serialize for Community {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A large community (RFC 8092), shown as `GLOBAL:LOCAL1:LOCAL2`.
///
/// ```
/// use cue::bgp::wire::LargeCommunity;
/// let c: LargeCommunity = "4200000000:1:2".parse().unwrap();
/// assert_eq!((c.global, c.local1, c.local2), (4_200_000_000, 1, 2));
/// assert_eq!(c.to_string(), "4200000000:1:2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (an AS number).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = CommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [g, l1, l2] = parts[..] else {
            return Err(CommunityError::NotLarge(s.to_string()));
        };
        let num = |p: &str| {
            p.parse::<u32>().map_err(|_| CommunityError::LargeNumber {
                text: s.to_string(),
                part: p.to_string(),
            })
        };
        Ok(LargeCommunity {
            global: num(g)?,
            local1: num(l1)?,
            local2: num(l2)?,
        })
    }
}

impl serde::Serialize for LargeCommunity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An extended community (RFC 4360): eight octets. Written `rt:ASN:N` or
/// `rt:IPV4:N` (route target), `ro:ASN:N` or `ro:IPV4:N` (route origin),
/// or as 16 hex digits (`0x0002fde800000001`).
///
/// ```
/// use cue::bgp::wire::ExtCommunity;
/// let rt: ExtCommunity = "rt:65000:100".parse().unwrap();
/// assert_eq!(rt.0, [0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100]);
/// assert_eq!(rt.to_string(), "rt:65000:100");
/// let big: ExtCommunity = "ro:4200000000:7".parse().unwrap();
/// assert_eq!(big.0[..2], [0x02, 0x03]);
/// assert_eq!("0x0002fde800000064".parse::<ExtCommunity>().unwrap(), rt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

const SUB_RT: u8 = 0x02;
const SUB_RO: u8 = 0x03;

impl FromStr for ExtCommunity {
    type Err = CommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            let bytes =
                super::parse_hex(hex).map_err(|e| CommunityError::ExtHex(s.to_string(), e))?;
            return <[u8; 8]>::try_from(bytes.as_slice())
                .map(ExtCommunity)
                .map_err(|_| CommunityError::ExtLength(s.to_string()));
        }
        let bad = || CommunityError::NotExt(s.to_string());
        let mut parts = s.splitn(3, ':');
        let (Some(kind), Some(admin), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let sub = match kind.to_ascii_lowercase().as_str() {
            "rt" | "target" => SUB_RT,
            "ro" | "origin" | "soo" => SUB_RO,
            _ => return Err(bad()),
        };
        let mut b = [0u8; 8];
        b[1] = sub;
        if let Ok(ip) = admin.parse::<Ipv4Addr>() {
            let n: u16 = value.parse().map_err(|_| bad())?;
            b[0] = 0x01;
            b[2..6].copy_from_slice(&ip.octets());
            b[6..8].copy_from_slice(&n.to_be_bytes());
        } else {
            let asn: u32 = admin.parse().map_err(|_| bad())?;
            match u16::try_from(asn) {
                Ok(a) => {
                    let n: u32 = value.parse().map_err(|_| bad())?;
                    b[0] = 0x00;
                    b[2..4].copy_from_slice(&a.to_be_bytes());
                    b[4..8].copy_from_slice(&n.to_be_bytes());
                }
                Err(_) => {
                    let n: u16 = value.parse().map_err(|_| bad())?;
                    b[0] = 0x02;
                    b[2..6].copy_from_slice(&asn.to_be_bytes());
                    b[6..8].copy_from_slice(&n.to_be_bytes());
                }
            }
        }
        Ok(ExtCommunity(b))
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let kind = match b[1] {
            SUB_RT => "rt",
            SUB_RO => "ro",
            _ => "",
        };
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match (b[0], kind) {
            (0x00, k) if !k.is_empty() => write!(f, "{k}:{}:{}", u16_at(2), u32_at(4)),
            (0x01, k) if !k.is_empty() => {
                write!(f, "{k}:{}:{}", Ipv4Addr::from(u32_at(2)), u16_at(6))
            }
            (0x02, k) if !k.is_empty() => write!(f, "{k}:{}:{}", u32_at(2), u16_at(6)),
            _ => write!(f, "0x{}", super::hex(b).replace(' ', "")),
        }
    }
}

impl serde::Serialize for ExtCommunity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_community_forms() {
        for s in [
            "rt:65000:100",
            "rt:192.0.2.1:7",
            "ro:4200000000:9",
            "0x030c000000000008",
        ] {
            let c: ExtCommunity = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
    }
}
