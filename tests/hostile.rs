//! Hostile bytes on the wire: a raw TCP client talks to a listening pool and
//! checks that every malformed message is answered with the NOTIFICATION of
//! RFC 4271 section 6 (with `strict_errors`, RFC 4271 alone), or, with the
//! default RFC 7606 handling, that a malformed attribute keeps the session;
//! and that the listener survives for the next peer.

mod common;

use common::{ctx, open_message};
use cue::bgp::wire::Message;
use cue::bgp::{PeerConfig, Pool};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listener() -> (Pool, SocketAddr) {
    listener_with(true).await
}

async fn listener_with(strict_errors: bool) -> (Pool, SocketAddr) {
    let (pool, _events) = Pool::new();
    let mut t = PeerConfig::new(
        Ipv4Addr::UNSPECIFIED.into(),
        65001,
        Ipv4Addr::new(10, 0, 0, 1),
    );
    t.multiprotocol = true;
    t.strict_errors = strict_errors;
    pool.accept_any(Some(t)).unwrap();
    let addr = pool
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .expect("listen");
    (pool, addr)
}

fn open(asn: u32, hold: u16, id: [u8; 4]) -> Vec<u8> {
    open_message(asn, hold, id)
}

fn header(len: u16, kind: u8) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&len.to_be_bytes());
    m.push(kind);
    m
}

fn update(body: &[u8]) -> Vec<u8> {
    let mut m = header((19 + body.len()) as u16, 2);
    m.extend_from_slice(body);
    m
}

/// Reads messages until a NOTIFICATION arrives (or the connection closes);
/// returns (code, subcode, data).
async fn notification(s: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Ok(Some(len)) = cue::bgp::wire::frame(&buf) {
            let msg = Message::decode(&buf[..len], ctx());
            buf.drain(..len);
            if let Ok(Message::Notification(n)) = msg {
                return Some((n.code, n.subcode, n.data));
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Connects, optionally brings the session up, sends `bad`, and returns the
/// NOTIFICATION the listener answered with.
async fn answer(addr: SocketAddr, establish: bool, bad: &[u8]) -> (u8, u8, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    if establish {
        s.write_all(&open(65002, 30, [10, 0, 0, 2])).await.unwrap();
        s.write_all(&Message::Keepalive.to_bytes(ctx()))
            .await
            .unwrap();
        // Let the OPEN and KEEPALIVE be processed first.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.write_all(bad).await.unwrap();
    notification(&mut s).await.expect("a NOTIFICATION")
}

#[tokio::test]
async fn malformed_messages_get_their_notification() {
    let (pool, addr) = listener().await;

    let mut bad_marker = Message::Keepalive.to_bytes(ctx());
    bad_marker[0] = 0;
    assert_eq!(answer(addr, false, &bad_marker).await, (1, 1, vec![]));

    assert_eq!(
        answer(addr, false, &header(5000, 4)).await,
        (1, 2, 5000u16.to_be_bytes().to_vec())
    );
    assert_eq!(answer(addr, false, &header(19, 9)).await, (1, 3, vec![9]));

    let mut v3 = open(65002, 30, [10, 0, 0, 2]);
    v3[19] = 3;
    assert_eq!(answer(addr, false, &v3).await, (2, 1, vec![0, 4]));

    assert_eq!(
        answer(addr, false, &open(65002, 2, [10, 0, 0, 2])).await,
        (2, 6, vec![])
    );
    assert_eq!(
        answer(addr, false, &open(65002, 30, [10, 0, 0, 1])).await,
        (2, 3, vec![])
    );
    // An UPDATE before the OPEN: FSM error in OpenSent.
    assert_eq!(
        answer(addr, false, &update(&[0, 0, 0, 0])).await,
        (5, 1, vec![])
    );

    // After Established: attribute errors.
    let bad_origin = update(&[0, 0, 0, 4, 0x40, 1, 1, 7]);
    assert_eq!(
        answer(addr, true, &bad_origin).await,
        (3, 6, vec![0x40, 1, 1, 7])
    );
    let missing_next_hop = update(&[0, 0, 0, 7, 0x40, 1, 1, 0, 0x40, 2, 0, 8, 10]);
    assert_eq!(answer(addr, true, &missing_next_hop).await, (3, 3, vec![3]));
    let overrun = update(&[0, 0, 0, 200, 0x40, 1, 1, 0]);
    assert_eq!(answer(addr, true, &overrun).await, (3, 1, vec![]));
    let flags = update(&[0, 0, 0, 4, 0x80, 1, 1, 0]);
    assert_eq!(
        answer(addr, true, &flags).await,
        (3, 4, vec![0x80, 1, 1, 0])
    );
    let bad_path = update(&[0, 0, 0, 7, 0x40, 2, 4, 7, 1, 0, 1]);
    assert_eq!(answer(addr, true, &bad_path).await, (3, 11, vec![]));
    let bad_nlri = update(&[0, 0, 0, 0, 40, 1, 2, 3, 4, 5]);
    assert_eq!(answer(addr, true, &bad_nlri).await, (3, 10, vec![]));
    // A second OPEN in Established.
    assert_eq!(
        answer(addr, true, &open(65002, 30, [10, 0, 0, 2])).await,
        (5, 3, vec![])
    );

    // After all that, a well-behaved peer still gets a session.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&open(65002, 30, [10, 0, 0, 2])).await.unwrap();
    s.write_all(&Message::Keepalive.to_bytes(ctx()))
        .await
        .unwrap();
    let established = async {
        loop {
            if pool
                .status()
                .iter()
                .any(|st| st.state == cue::bgp::State::Established)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), established)
        .await
        .expect("the listener still establishes sessions");
    pool.shutdown().await;
}

/// With RFC 7606 (the default), the attribute errors above keep the
/// session: a KEEPALIVE sent after them is answered by nothing but the
/// listener's own KEEPALIVEs, and the session stays Established. What
/// cannot be parsed still resets it.
#[tokio::test]
async fn rfc7606_keeps_the_session_for_attribute_errors() {
    let (pool, addr) = listener_with(false).await;
    let kept = [
        update(&[0, 0, 0, 4, 0x40, 1, 1, 7]),
        update(&[0, 0, 0, 7, 0x40, 1, 1, 0, 0x40, 2, 0, 8, 10]),
        update(&[0, 0, 0, 4, 0x80, 1, 1, 0]),
        update(&[0, 0, 0, 7, 0x40, 2, 4, 7, 1, 0, 1]),
    ];
    for (i, bad) in kept.iter().enumerate() {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(&open(65002, 30, [10, 0, 0, 2])).await.unwrap();
        s.write_all(&Message::Keepalive.to_bytes(ctx()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(bad).await.unwrap();
        let none = tokio::time::timeout(Duration::from_millis(500), notification(&mut s)).await;
        assert!(none.is_err(), "no NOTIFICATION and no close for {bad:?}");
        assert!(pool
            .status()
            .iter()
            .any(|st| st.state == cue::bgp::State::Established));
        // Each connection is a session of its own (an accepted peer's
        // leaves the table with its connection): one malformed UPDATE.
        let status = pool.status();
        assert_eq!(
            status.len(),
            1,
            "the earlier connections are gone: {status:?}"
        );
        assert_eq!(status[0].counters.updates_malformed, 1, "case {i}");
        drop(s);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A total path attribute length past the message, or an NLRI of /40,
    // cannot be parsed: session reset.
    let overrun = update(&[0, 0, 0, 200, 0x40, 1, 1, 0]);
    assert_eq!(answer(addr, true, &overrun).await, (3, 1, vec![]));
    let bad_nlri = update(&[0, 0, 0, 0, 40, 1, 2, 3, 4, 5]);
    assert_eq!(answer(addr, true, &bad_nlri).await, (3, 10, vec![]));
    pool.shutdown().await;
}

#[tokio::test]
async fn random_garbage_never_kills_the_listener() {
    let (pool, addr) = listener().await;
    // A deterministic byte soup, after a valid OPEN and KEEPALIVE.
    let mut x: u32 = 0x1234_5678;
    for round in 0..20 {
        let mut junk = Vec::new();
        if round % 2 == 0 {
            junk.extend_from_slice(&[0xff; 16]);
        }
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk.push(x as u8);
        }
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&open(65002, 30, [10, 0, 0, 2])).await.unwrap();
        s.write_all(&Message::Keepalive.to_bytes(ctx()))
            .await
            .unwrap();
        let _ = s.write_all(&junk).await;
        // Either a NOTIFICATION or a close: never a hang.
        let _ = notification(&mut s).await;
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&open(65002, 30, [10, 0, 0, 2])).await.unwrap();
    let mut buf = [0u8; 19];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .expect("an OPEN back")
        .unwrap();
    assert_eq!(buf[18], 1, "the listener answers with OPEN");
    pool.shutdown().await;
}
