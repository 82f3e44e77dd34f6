//! ROUTE-REFRESH message (RFC 2918, RFC 7313).
//!
//! ```text
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Res.  | SAFI  |
//! +-------+-------+-------+-------+
//! ```

use super::{begin_message, finish_message, DecodeError, MessageType, HEADER_LEN};

/// A ROUTE-REFRESH request for one address family.
///
/// ```
/// use cue::bgp::wire::{DecodeContext, Message, RouteRefresh};
/// let rr = Message::RouteRefresh(RouteRefresh { afi: 2, safi: 1, subtype: 0 });
/// let ctx = DecodeContext::default();
/// assert_eq!(Message::decode(&rr.to_bytes(ctx), ctx).unwrap(), rr);
/// assert_eq!(rr.summary(), "ROUTE-REFRESH ipv6-unicast");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    /// Address family identifier.
    pub afi: u16,
    /// Message subtype (RFC 7313): 0 request, 1 BoRR, 2 EoRR.
    pub subtype: u8,
    /// Subsequent address family identifier.
    pub safi: u8,
}

impl RouteRefresh {
    pub(crate) fn decode_body(body: &[u8]) -> Result<RouteRefresh, DecodeError> {
        match body {
            [a, b, subtype, safi] => Ok(RouteRefresh {
                afi: u16::from_be_bytes([*a, *b]),
                subtype: *subtype,
                safi: *safi,
            }),
            _ => Err(DecodeError::BadRouteRefreshLength(
                (body.len() + HEADER_LEN) as u16,
            )),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_message(out, MessageType::RouteRefresh);
        out.extend_from_slice(&self.afi.to_be_bytes());
        out.extend_from_slice(&[self.subtype, self.safi]);
        finish_message(out, start);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeContext, Message};
    use super::*;

    #[test]
    fn golden_route_refresh() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 23, 5, 0, 2, 0, 1]);
        let rr = RouteRefresh {
            afi: 2,
            subtype: 0,
            safi: 1,
        };
        let ctx = DecodeContext::default();
        assert_eq!(Message::RouteRefresh(rr).to_bytes(ctx), bytes);
        assert_eq!(Message::decode(&bytes, ctx), Ok(Message::RouteRefresh(rr)));
    }
}
