//! `dns`: a query for `localhost IN A` over UDP or TCP with a random ID. It
//! passes when a reply with the same ID comes back, and fails on SERVFAIL or
//! REFUSED. Messages are built and parsed with hickory-proto.

use super::super::config::CheckSpec;
use super::ProbeError;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn query(id: u16) -> Result<Vec<u8>, ProbeError> {
    let local =
        |e: hickory_proto::ProtoError| ProbeError::local(format!("encoding the query: {e}"));
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    let name = Name::from_ascii("localhost.").map_err(local)?;
    m.add_query(Query::query(name, RecordType::A));
    m.to_vec().map_err(local)
}

/// Judges a reply: `None` when it is not ours (another ID, not a response).
pub(super) fn judge(bytes: &[u8], id: u16) -> Option<Result<String, ProbeError>> {
    let m = Message::from_vec(bytes).ok()?;
    if m.id() != id || m.message_type() != MessageType::Response {
        return None;
    }
    Some(match m.response_code() {
        ResponseCode::ServFail | ResponseCode::Refused => Err(ProbeError::status(format!(
            "answered {}",
            m.response_code()
        ))),
        code => Ok(format!("answered {code}")),
    })
}

pub(super) async fn probe(spec: &CheckSpec) -> Result<String, ProbeError> {
    let response = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| ProbeError::response(format!("{what}: {e}"))
    };
    let id: u16 = rand::random();
    let q = query(id)?;
    let to = SocketAddr::new(spec.address, spec.port);
    if spec.dns_tcp {
        let mut s = TcpStream::connect(to)
            .await
            .map_err(|e| ProbeError::connect(format!("connect: {e}")))?;
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        s.write_all(&framed).await.map_err(response("send"))?;
        loop {
            let len = s.read_u16().await.map_err(response("read"))? as usize;
            let mut buf = vec![0u8; len];
            s.read_exact(&mut buf).await.map_err(response("read"))?;
            if let Some(r) = judge(&buf, id) {
                return r;
            }
        }
    } else {
        let local: IpAddr = match spec.address {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let sock = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(|e| ProbeError::local(format!("socket: {e}")))?;
        sock.connect(to)
            .await
            .map_err(|e| ProbeError::connect(format!("connect: {e}")))?;
        sock.send(&q).await.map_err(response("send"))?;
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await.map_err(response("receive"))?;
            if let Some(r) = judge(&buf[..n], id) {
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_judge() {
        let q = query(0x1234).unwrap();
        let m = Message::from_vec(&q).unwrap();
        assert_eq!(m.id(), 0x1234);
        assert_eq!(m.queries()[0].name().to_ascii(), "localhost.");
        let mut reply = m.clone();
        reply.set_message_type(MessageType::Response);
        let bytes = reply.to_vec().unwrap();
        assert_eq!(judge(&bytes, 0x1234), Some(Ok("answered No Error".into())));
        assert_eq!(judge(&bytes, 0x9999), None);
        reply.set_response_code(ResponseCode::Refused);
        assert!(matches!(
            judge(&reply.to_vec().unwrap(), 0x1234),
            Some(Err(_))
        ));
        assert_eq!(judge(&q, 0x1234), None, "a query is not a reply");
    }
}
