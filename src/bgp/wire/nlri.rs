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
pub fn decode_prefixes(mut buf: &[u8], ipv6: bool) -> Result<Vec<IpNet>, &'static str> {
    let max = if ipv6 { 128 } else { 32 };
    let mut out = Vec::with_capacity(buf.len() / if ipv6 { 17 } else { 5 });
    while let Some((&len, rest)) = buf.split_first() {
        if len > max {
            return Err("prefix length too long for its family");
        }
        let n = (len as usize).div_ceil(8);
        let Some(bytes) = rest.get(..n) else {
            return Err("prefix runs past the end of its field");
        };
        let net = if ipv6 {
            let mut o = [0u8; 16];
            o[..n].copy_from_slice(bytes);
            IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(o), len)
                    .map_err(|_| "bad prefix length")?
                    .trunc(),
            )
        } else {
            let mut o = [0u8; 4];
            o[..n].copy_from_slice(bytes);
            IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(o), len)
                    .map_err(|_| "bad prefix length")?
                    .trunc(),
            )
        };
        out.push(net);
        buf = &rest[n..];
    }
    Ok(out)
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
