//! The speaker against a peer scripted byte by byte: a legacy peer that
//! sends no capabilities (2-octet AS, IPv4 unicast only), hold time 0, and a
//! ROUTE-REFRESH.

use cue::bgp::wire::{
    frame, AsPath, DecodeContext, Family, Message, Notification, Open, RouteRefresh, AS_TRANS,
};
use cue::bgp::{PeerConfig, Pool};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
    ctx: DecodeContext,
}

impl Peer {
    async fn next(&mut self) -> Message {
        loop {
            if let Some(len) = frame(&self.buf).unwrap() {
                let m = Message::decode(&self.buf[..len], self.ctx).unwrap();
                self.buf.drain(..len);
                return m;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut chunk))
                .await
                .expect("a message within 5 s")
                .unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send(&mut self, m: Message) {
        self.s.write_all(&m.to_bytes(self.ctx)).await.unwrap();
    }
}

#[tokio::test]
async fn legacy_two_octet_peer() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pool, _events) = Pool::new();
    let mut p = PeerConfig::new(
        Ipv4Addr::LOCALHOST.into(),
        4_200_000_000,
        Ipv4Addr::new(10, 0, 0, 1),
    );
    p.address = l.local_addr().unwrap();
    p.multiprotocol = true;
    p.parameters.next_hop6 = Some(Ipv6Addr::LOCALHOST);
    pool.set_rib([
        "192.0.2.1/32".parse().unwrap(),
        "2001:db8::1/128".parse().unwrap(),
    ]);
    pool.configure(vec![p]).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let mut peer = Peer {
        s,
        buf: Vec::new(),
        ctx: DecodeContext::default(),
    };

    let Message::Open(open) = peer.next().await else {
        panic!("no OPEN")
    };
    assert_eq!(open.my_as, AS_TRANS);
    assert_eq!(open.asn(), 4_200_000_000);
    assert_eq!(open.hold_time, 10);
    assert_eq!(
        open.mp_families(),
        Some(vec![Family::Ipv4Unicast, Family::Ipv6Unicast])
    );
    assert!(open.route_refresh());

    // No capabilities at all, hold time 0.
    peer.send(Message::Open(Open {
        version: 4,
        my_as: 65002,
        hold_time: 0,
        bgp_id: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: vec![],
    }))
    .await;
    peer.send(Message::Keepalive).await;
    assert_eq!(peer.next().await, Message::Keepalive);

    let Message::Update(u) = peer.next().await else {
        panic!("no UPDATE")
    };
    // IPv4 unicast only: the IPv6 route is not sent to a peer without
    // multiprotocol. The AS travels as AS_TRANS plus AS4_PATH.
    assert_eq!(u.nlri, vec!["192.0.2.1/32".parse().unwrap()]);
    assert!(u.attributes.mp_reach.is_none());
    assert_eq!(
        u.attributes.as_path,
        Some(AsPath::sequence(&[AS_TRANS as u32]))
    );
    assert_eq!(
        u.attributes.as4_path,
        Some(AsPath::sequence(&[4_200_000_000]))
    );
    assert_eq!(
        u.attributes.full_as_path(),
        Some(AsPath::sequence(&[4_200_000_000]))
    );
    assert_eq!(u.attributes.local_pref, None);
    let status = &pool.status()[0];
    assert_eq!(status.hold_time, 0);
    assert_eq!(status.families, vec![Family::Ipv4Unicast]);

    // ROUTE-REFRESH: the IPv4 routes again.
    peer.send(Message::RouteRefresh(RouteRefresh {
        afi: 1,
        subtype: 0,
        safi: 1,
    }))
    .await;
    let Message::Update(again) = peer.next().await else {
        panic!("no UPDATE after ROUTE-REFRESH")
    };
    assert_eq!(again.nlri, u.nlri);

    // Hold time 0: no KEEPALIVE comes while nothing happens.
    let quiet = tokio::time::timeout(Duration::from_millis(500), peer.next()).await;
    assert!(quiet.is_err(), "unexpected message: {quiet:?}");

    // An emptied RIB then a shutdown: the withdrawal goes out before Cease.
    let stop = tokio::spawn(async move {
        pool.set_rib([]);
        pool.shutdown().await
    });
    let Message::Update(w) = peer.next().await else {
        panic!("no withdrawal")
    };
    assert_eq!(w.withdrawn, u.nlri);
    assert_eq!(
        peer.next().await,
        Message::Notification(Notification::admin_shutdown())
    );
    stop.await.unwrap();
}
