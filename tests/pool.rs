//! The library's pool: reconfiguration while running (update in place,
//! restart, removal), RIB deltas, and events, with a listening pool as the
//! peer. No daemon needed.

use cue::bgp::{Event, Parameters, PeerConfig, Pool, State};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn drain(rx: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

async fn pair() -> (Pool, Pool, UnboundedReceiver<Event>, PeerConfig) {
    let (listener, _) = Pool::new();
    let mut t = PeerConfig::new(
        Ipv4Addr::UNSPECIFIED.into(),
        65002,
        Ipv4Addr::new(10, 0, 0, 2),
    );
    t.multiprotocol = true;
    listener.accept_any(Some(t)).unwrap();
    let addr: SocketAddr = listener
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (speaker, events) = Pool::new();
    let mut peer = PeerConfig::new(addr.ip(), 65001, Ipv4Addr::new(10, 0, 0, 1));
    peer.address = addr;
    peer.multiprotocol = true;
    peer.connect_retry = Duration::from_millis(200);
    (listener, speaker, events, peer)
}

#[tokio::test]
async fn reconfigure_in_place_restart_and_remove() {
    let (listener, speaker, mut events, mut peer) = pair().await;
    speaker.set_rib([
        "192.0.2.1/32".parse().unwrap(),
        "2001:db8::1/128".parse().unwrap(),
    ]);
    speaker.configure(vec![peer.clone()]).await.unwrap();
    until("2 routes at the listener", || {
        (listener.adj_rib_in().len() == 2).then_some(())
    })
    .await;

    // Attributes change in place: same connection, routes re-advertised.
    peer.parameters = Parameters {
        med: 77,
        ..Default::default()
    };
    speaker.configure(vec![peer.clone()]).await.unwrap();
    until("MED 77", || {
        listener
            .adj_rib_in()
            .iter()
            .all(|(_, _, a)| a.med == Some(77))
            .then_some(())
    })
    .await;
    let s = &speaker.status()[0];
    assert_eq!(
        s.counters.connections, 1,
        "an attribute change must not reconnect"
    );
    assert_eq!(s.counters.advertised, 4);

    // The RIB changes: only the difference goes out.
    speaker.set_rib([
        "192.0.2.1/32".parse().unwrap(),
        "192.0.2.2/32".parse().unwrap(),
    ]);
    until("the delta", || {
        let r = listener.adj_rib_in();
        let p: Vec<String> = r.iter().map(|(_, p, _)| p.to_string()).collect();
        (p == ["192.0.2.1/32", "192.0.2.2/32"]).then_some(())
    })
    .await;
    let s = &speaker.status()[0];
    assert_eq!((s.counters.advertised, s.counters.withdrawn), (5, 1));

    // A hold time change needs a new session.
    peer.hold_time = 30;
    speaker.configure(vec![peer.clone()]).await.unwrap();
    until("the new session", || {
        speaker
            .status()
            .first()
            .filter(|s| s.state == State::Established && s.hold_time == 10)
            .map(|_| ())
    })
    .await;
    drain(&mut events);

    // Removal: Cease to the peer, a Removed event, routes gone.
    speaker.configure(vec![]).await.unwrap();
    assert!(speaker.status().is_empty());
    let evs = drain(&mut events);
    assert!(evs.iter().any(|e| matches!(
        e,
        Event::Notification {
            code: 6,
            subcode: 2,
            ..
        }
    )));
    assert!(evs.iter().any(|e| matches!(e, Event::Removed { .. })));
    until("the listener to forget the routes", || {
        listener.adj_rib_in().is_empty().then_some(())
    })
    .await;
    listener.shutdown().await;
}

#[tokio::test]
async fn reconnects_after_the_peer_goes_away() {
    let (listener, speaker, _events, peer) = pair().await;
    let addr = peer.address;
    speaker.set_rib(["192.0.2.9/32".parse().unwrap()]);
    speaker.configure(vec![peer]).await.unwrap();
    until("the route", || {
        (listener.adj_rib_in().len() == 1).then_some(())
    })
    .await;
    listener.shutdown().await;
    drop(listener);
    until("the session to drop", || {
        (speaker.status()[0].state != State::Established).then_some(())
    })
    .await;
    assert!(
        speaker.status()[0].last_error.contains("Cease"),
        "{}",
        speaker.status()[0].last_error
    );
    // A new listener on the same port: the speaker comes back by itself.
    let (again, _) = Pool::new();
    let mut t = PeerConfig::new(
        Ipv4Addr::UNSPECIFIED.into(),
        65002,
        Ipv4Addr::new(10, 0, 0, 2),
    );
    t.multiprotocol = true;
    again.accept_any(Some(t)).unwrap();
    again.listen(addr).await.unwrap();
    until("the route again", || {
        (again.adj_rib_in().len() == 1).then_some(())
    })
    .await;
    assert_eq!(speaker.status()[0].counters.established, 2);
    speaker.shutdown().await;
    again.shutdown().await;
}
