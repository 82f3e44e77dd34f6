//! NLRI prefixes: a length in bits, then as few octets as hold it.
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet)        |
//! +---------------------------+
//! |   Prefix (variable)       |
//! +---------------------------+
//! ```

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Octets a prefix takes on the wire.
#[inline]
pub fn prefix_wire_len(net: &IpNet) -> usize {
    1 + (net.prefix_len() as usize).div_ceil(8)
}

/// Appends a prefix in NLRI form.
#[inline]
pub fn encode_prefix(out: &mut Vec<u8>, net: &IpNet) {
    let len = net.prefix_len();
    let bytes = (len as usize).div_ceil(8);
    out.push(len);
    match net {
        IpNet::V4(n) => out.extend_from_slice(&n.network().octets()[..bytes]),
        IpNet::V6(n) => out.extend_from_slice(&n.network().octets()[..bytes]),
    }
}

/// Decodes a run of prefixes of one family (`ipv6` selects it). Host bits
/// beyond the prefix length are cleared. The error says what is wrong.
pub fn decode_prefixes(buf: &[u8], ipv6: bool) -> Result<Vec<IpNet>, &'static str> {
    let mut out = Vec::with_capacity(buf.len() / if ipv6 { 17 } else { 5 });
    decode_run(buf, ipv6, None, &mut out)?;
    Ok(out)
}

/// Decodes a run of prefixes of one family as [`decode_prefixes`] does;
/// with `add_path` each is preceded by its 4-octet path identifier (RFC
/// 7911 section 3), returned in the second list (empty without).
///
/// ```
/// use cue::bgp::wire::{decode_nlri, encode_path};
/// let mut out = Vec::new();
/// encode_path(&mut out, &"10.0.0.0/24".parse().unwrap(), Some(7));
/// assert_eq!(out, [0, 0, 0, 7, 24, 10, 0, 0]);
/// let (nets, ids) = decode_nlri(&out, false, true).unwrap();
/// assert_eq!((nets[0].to_string(), ids), ("10.0.0.0/24".to_string(), vec![7]));
/// // Read without ADD-PATH, the same bytes are other prefixes.
/// let (wrong, none) = decode_nlri(&out, false, false).unwrap();
/// assert_eq!((wrong.len(), none.len()), (5, 0));
/// ```
pub fn decode_nlri(
    buf: &[u8],
    ipv6: bool,
    add_path: bool,
) -> Result<(Vec<IpNet>, Vec<u32>), &'static str> {
    let mut nets = Vec::with_capacity(buf.len() / if ipv6 { 17 } else { 5 });
    let mut ids = Vec::new();
    decode_run(buf, ipv6, add_path.then_some(&mut ids), &mut nets)?;
    Ok((nets, ids))
}

fn decode_run(
    mut buf: &[u8],
    ipv6: bool,
    mut ids: Option<&mut Vec<u32>>,
    out: &mut Vec<IpNet>,
) -> Result<(), &'static str> {
    while !buf.is_empty() {
        if let Some(ids) = ids.as_deref_mut() {
            let Some((id, rest)) = buf.split_first_chunk::<4>() else {
                return Err("path identifier runs past the end of its field");
            };
            ids.push(u32::from_be_bytes(*id));
            buf = rest;
        }
        let (net, rest) = split_prefix(buf, ipv6).map_err(|f| match f {
            PrefixFault::Short { left: 0, .. } => "path identifier without a prefix",
            f => f.reason(),
        })?;
        out.push(net);
        buf = rest;
    }
    Ok(())
}

/// Why a prefix cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefixFault {
    /// A length in bits beyond the family's.
    TooLong {
        /// The length written.
        len: u8,
        /// The family's longest.
        max: u8,
    },
    /// Fewer octets than the length needs (or none at all).
    Short {
        /// Octets the prefix needs, its length octet included.
        needed: usize,
        /// Octets there are.
        left: usize,
    },
}

impl PrefixFault {
    /// The reason, as NLRI errors give it.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            PrefixFault::TooLong { .. } => "prefix length too long for its family",
            PrefixFault::Short { .. } => "prefix runs past the end of its field",
        }
    }
}

/// The prefix at the start of `buf` (a length in bits, then as few octets
/// as hold it; host bits cleared) and what follows it: the one reader of
/// prefixes, for NLRI and for MRT's RIB entries.
#[inline(always)]
pub(crate) fn split_prefix(buf: &[u8], ipv6: bool) -> Result<(IpNet, &[u8]), PrefixFault> {
    let max = if ipv6 { 128 } else { 32 };
    let Some((&len, rest)) = buf.split_first() else {
        return Err(PrefixFault::Short { needed: 1, left: 0 });
    };
    if len > max {
        return Err(PrefixFault::TooLong { len, max });
    }
    let n = (len as usize).div_ceil(8);
    let Some(bytes) = rest.get(..n) else {
        return Err(PrefixFault::Short {
            needed: 1 + n,
            left: buf.len(),
        });
    };
    // The length is within the family: the constructors cannot fail.
    let net = if ipv6 {
        let mut o = [0u8; 16];
        o[..n].copy_from_slice(bytes);
        Ipv6Net::new(Ipv6Addr::from(o), len).map(|n| IpNet::V6(n.trunc()))
    } else {
        let mut o = [0u8; 4];
        o[..n].copy_from_slice(bytes);
        Ipv4Net::new(Ipv4Addr::from(o), len).map(|n| IpNet::V4(n.trunc()))
    };
    let net = net.map_err(|_| PrefixFault::TooLong { len, max })?;
    Ok((net, &rest[n..]))
}

/// Appends a prefix in NLRI form, preceded by its path identifier when
/// it has one (ADD-PATH, RFC 7911).
#[inline]
pub fn encode_path(out: &mut Vec<u8>, net: &IpNet, path_id: Option<u32>) {
    if let Some(id) = path_id {
        out.extend_from_slice(&id.to_be_bytes());
    }
    encode_prefix(out, net);
}

/// Appends prefixes, each preceded by its identifier in `ids` when `ids`
/// is not empty (a decoded list and its identifiers, written back).
pub(crate) fn encode_nlri(out: &mut Vec<u8>, nets: &[IpNet], ids: &[u32]) {
    for (i, p) in nets.iter().enumerate() {
        encode_path(out, p, ids.get(i).copied());
    }
}

/// The prefixes of a list with their path identifiers (`None` for all
/// when `ids` is empty).
pub(crate) fn with_ids<'a>(
    nets: &'a [IpNet],
    ids: &'a [u32],
) -> impl Iterator<Item = (&'a IpNet, Option<u32>)> + 'a {
    nets.iter()
        .enumerate()
        .map(move |(i, p)| (p, ids.get(i).copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let nets: Vec<IpNet> = [
            "10.0.0.0/8",
            "192.168.101.1/32",
            "0.0.0.0/0",
            "10.1.128.0/17",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut buf = Vec::new();
        for n in &nets {
            encode_prefix(&mut buf, n);
        }
        assert_eq!(buf, [8, 10, 32, 192, 168, 101, 1, 0, 17, 10, 1, 128]);
        assert_eq!(decode_prefixes(&buf, false).unwrap(), nets);
        let v6: IpNet = "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500/128".parse().unwrap();
        let mut buf = Vec::new();
        encode_prefix(&mut buf, &v6);
        assert_eq!(buf.len(), prefix_wire_len(&v6));
        assert_eq!(decode_prefixes(&buf, true).unwrap(), vec![v6]);
    }

    #[test]
    fn errors() {
        assert!(decode_prefixes(&[33, 1, 2, 3, 4, 5], false).is_err());
        assert!(decode_prefixes(&[24, 1, 2], false).is_err());
        assert!(decode_prefixes(&[129], true).is_err());
        assert_eq!(
            decode_prefixes(&[33, 1, 2, 3, 4, 5], false),
            Err("prefix length too long for its family")
        );
        assert_eq!(
            decode_prefixes(&[24, 1, 2], false),
            Err("prefix runs past the end of its field")
        );
        assert_eq!(
            decode_nlri(&[0, 0, 0, 1], false, true),
            Err("path identifier without a prefix")
        );
        assert_eq!(
            decode_nlri(&[0, 0, 1], false, true),
            Err("path identifier runs past the end of its field")
        );
        assert_eq!(
            split_prefix(&[24, 1, 2], false),
            Err(PrefixFault::Short { needed: 4, left: 3 })
        );
        // host bits are cleared
        assert_eq!(
            decode_prefixes(&[8, 10], false).unwrap(),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            decode_prefixes(&[7, 11], false).unwrap(),
            vec!["10.0.0.0/7".parse::<IpNet>().unwrap()]
        );
    }
}
