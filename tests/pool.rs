//! The library's pool: reconfiguration while running (update in place,
//! restart, removal), RIB deltas, and events, with a listening pool as the
//! peer. No daemon needed.

use cue::bgp::wire::{CeaseSubcode, NotificationKind};
use cue::bgp::{Event, Events, Parameters, PeerConfig, Pool, SessionError, State};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

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

fn drain(rx: &mut Events) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

async fn pair() -> (Pool, Pool, Events, PeerConfig) {
    pair_with_buffer(cue::bgp::DEFAULT_EVENT_BUFFER).await
}

/// A listening pool accepting any peer, and a speaker pool whose events are
/// buffered up to `events`, with its configuration for the listener.
async fn pair_with_buffer(events: usize) -> (Pool, Pool, Events, PeerConfig) {
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
    let (speaker, events) = Pool::with_event_buffer(events);
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
    // Typed: the peer's NOTIFICATION, Cease / Administrative Shutdown.
    let last = speaker.status()[0].last_error.clone();
    assert_eq!(
        last.as_ref().and_then(|e| e.notification_kind()),
        Some(NotificationKind::Cease(
            CeaseSubcode::AdministrativeShutdown
        )),
        "{last:?}"
    );
    assert!(matches!(last, Some(SessionError::NotificationReceived(_))));
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

#[tokio::test]
async fn wait_established_awaits_without_polling_and_status_changes_wake() {
    let (listener, speaker, _events, peer) = pair().await;
    let mut changes = speaker.status_changes();
    speaker.configure(vec![peer]).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), speaker.wait_established())
        .await
        .expect("established within 5 s");
    assert_eq!(status[0].state, State::Established);
    assert!(changes.has_changed().unwrap(), "the watch saw the changes");
    // A change of routes wakes a waiter too.
    changes.borrow_and_update();
    speaker.set_rib(["192.0.2.77/32".parse().unwrap()]);
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("a status change")
        .unwrap();
    let s = speaker.wait_for(|s| s[0].counters.current == 1).await;
    assert_eq!(s[0].counters.advertised, 1);
    listener.shutdown().await;
    speaker.shutdown().await;
}

#[tokio::test]
async fn an_embedder_that_falls_behind_is_told_how_many_events_it_lost() {
    // Room for 4 events only, and nobody reading while routes change.
    let (listener, speaker, mut events, peer) = pair_with_buffer(4).await;
    speaker.configure(vec![peer]).await.unwrap();
    speaker.wait_established().await;
    for i in 0..50u8 {
        speaker.set_rib([format!("192.0.2.{i}/32").parse().unwrap()]);
        speaker
            .wait_for(|s| {
                s[0].adj_rib_out.iter().next().map(|p| p.addr().to_string())
                    == Some(format!("192.0.2.{i}"))
            })
            .await;
    }
    // The first thing read says what was lost; then the buffered events.
    match events.recv().await {
        Some(Event::Lagged { missed }) => assert!(missed >= 40, "{missed}"),
        e => panic!("expected Lagged first, got {e:?}"),
    }
    let rest = drain(&mut events);
    assert!(rest.len() <= 4, "{rest:?}");
    // The state itself is whole.
    assert_eq!(speaker.status()[0].counters.advertised, 50);
    listener.shutdown().await;
    speaker.shutdown().await;
}

#[tokio::test]
async fn a_reset_is_a_read_error_and_a_close_is_peer_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pool, mut events) = Pool::new();
    let mut p = PeerConfig::new(
        Ipv4Addr::LOCALHOST.into(),
        65001,
        Ipv4Addr::new(10, 0, 0, 1),
    );
    p.address = l.local_addr().unwrap();
    p.connect_retry = Duration::from_millis(100);
    pool.configure(vec![p]).await.unwrap();
    let mut downs = Vec::new();
    for reset in [false, true] {
        let (mut s, _) = l.accept().await.unwrap();
        // Read its OPEN, then go away: cleanly, or with a reset (linger 0).
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await.unwrap();
        if reset {
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        } else {
            s.shutdown().await.unwrap();
        }
        drop(s);
        let reason = loop {
            match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
                Ok(Some(Event::Down { reason, .. })) => break reason,
                Ok(Some(_)) => continue,
                other => panic!("no Down event: {other:?}"),
            }
        };
        downs.push(reason);
    }
    assert_eq!(downs[0], SessionError::PeerClosed);
    match &downs[1] {
        SessionError::Read(e) => assert_eq!(e.kind, std::io::ErrorKind::ConnectionReset, "{e}"),
        other => panic!("a reset gave {other:?}"),
    }
    pool.shutdown().await;
}

/// A table of 200,000 routes in 100 attribute sets and 1,000 routes with
/// the session's attributes.
fn big_table() -> cue::bgp::route::RouteTable {
    let mut t = cue::bgp::route::RouteTable::default();
    for i in 0..200_000u32 {
        let prefix = if i % 2 == 0 {
            ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                0x0a00_0000 + i,
            )))
        } else {
            ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::from(
                0xfd00u128 << 112 | i as u128,
            )))
        };
        let own = cue::bgp::AttributeOverrides {
            med: Some(i % 100),
            ..Default::default()
        };
        t.push(prefix, Some(own));
    }
    for i in 0..1_000u32 {
        t.push(
            std::net::IpAddr::from(std::net::Ipv4Addr::from(0xc000_0000 + i)).into(),
            None,
        );
    }
    t
}

#[tokio::test]
async fn a_table_goes_out_while_its_loc_rib_is_built() {
    let (listener, speaker, mut events, peer) = pair().await;
    let built = speaker.set_table(big_table().sort());
    // Nothing waits for the trees: the Loc-RIB is the old one until built.
    assert!(speaker.loc_rib().is_empty());
    speaker.configure(vec![peer]).await.unwrap();
    let (rib, attributes) = built.await;
    assert_eq!((rib.len(), attributes.len()), (201_000, 200_000));
    assert!(std::sync::Arc::ptr_eq(&speaker.loc_rib(), &rib));
    assert!(std::sync::Arc::ptr_eq(&speaker.overrides(), &attributes));
    let got = until("every route at the listener", || {
        let r = listener.adj_rib_in();
        (r.len() == 201_000).then_some(r)
    })
    .await;
    for (_, prefix, a) in &got {
        let want = attributes.get(prefix).and_then(|o| o.med).unwrap_or(0);
        assert_eq!(a.med.unwrap_or(0), want, "{prefix}");
    }
    // Sent once: the trees taking over sends nothing again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = &speaker.status()[0];
    assert_eq!(s.counters.advertised, 201_000);
    assert_eq!(s.counters.withdrawn, 0);
    let sent: Vec<usize> = drain(&mut events)
        .iter()
        .filter_map(|e| match e {
            Event::Sent { announce, .. } => Some(announce.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [201_000]);
    listener.shutdown().await;
}

#[tokio::test]
async fn what_is_set_after_a_table_replaces_it_even_before_it_is_built() {
    let (listener, speaker, _events, peer) = pair().await;
    let built = speaker.set_table(big_table().sort());
    speaker.configure(vec![peer]).await.unwrap();
    speaker.set_rib(["192.0.2.1/32".parse().unwrap()]);
    let (rib, _) = built.await;
    assert_eq!(rib.len(), 201_000);
    assert_eq!(speaker.loc_rib().len(), 1);
    assert!(speaker.overrides().is_empty());
    until("the one route left at the listener", || {
        let r = listener.adj_rib_in();
        (r.len() == 1 && r[0].1.to_string() == "192.0.2.1/32").then_some(())
    })
    .await;
    listener.shutdown().await;
}

#[tokio::test]
async fn a_table_sent_before_its_loc_rib_keeps_to_the_families_and_the_filter() {
    let (listener, speaker, _events, mut peer) = pair().await;
    // IPv4 only, and 10.0.0.0/24 (128 of the table's IPv4 routes) held back.
    peer.multiprotocol = false;
    peer.parameters.filter = cue::bgp::ExportFilter {
        accept: vec![],
        reject: vec!["10.0.0.0/24".parse().unwrap()],
    };
    let built = speaker.set_table(big_table().sort());
    speaker.configure(vec![peer]).await.unwrap();
    let (rib, _) = built.await;
    let want = 100_000 + 1_000 - 128;
    let got = until("the IPv4 routes at the listener", || {
        let r = listener.adj_rib_in();
        (r.len() == want).then_some(r)
    })
    .await;
    assert!(got.iter().all(|(_, p, _)| p.addr().is_ipv4()));
    assert!(!got
        .iter()
        .any(|(_, p, _)| "10.0.0.0/24".parse::<ipnet::IpNet>().unwrap().contains(p)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = &speaker.status()[0];
    assert_eq!(s.counters.advertised, want as u64);
    assert_eq!(s.adj_rib_out.len(), want);
    assert_eq!(rib.len(), 201_000);
    listener.shutdown().await;
}

/// A route whose own communities, added to the session's, leave no room
/// for its prefix in an UPDATE: not sent, and said (an error event), while
/// the other routes go.
#[tokio::test]
async fn a_route_too_large_for_an_update_is_said_not_sent() {
    use cue::bgp::wire::Community;
    use cue::bgp::AttributeOverrides;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let (listener, speaker, mut events, mut peer) = pair().await;
    // 980 communities of the session's: valid alone.
    peer.parameters = Parameters {
        communities: (0..980).map(Community).collect(),
        ..Default::default()
    };
    let (big, small): (ipnet::IpNet, ipnet::IpNet) = (
        "10.0.0.0/24".parse().unwrap(),
        "10.0.1.0/24".parse().unwrap(),
    );
    let more = AttributeOverrides {
        add_communities: (1000..1060).map(Community).collect(),
        ..Default::default()
    };
    speaker.set_overrides(Arc::new(BTreeMap::from([(big, Arc::new(more))])));
    speaker.set_loc_rib(Arc::new([big, small].into()));
    speaker.configure(vec![peer]).await.unwrap();
    let error = until("the error event", || {
        drain(&mut events).into_iter().find_map(|e| match e {
            Event::Error {
                error: SessionError::AttributesTooLarge { octets },
                ..
            } => Some(octets),
            _ => None,
        })
    })
    .await;
    assert!(error > 4096, "{error}");
    let got = until("the other route", || {
        let r = listener.adj_rib_in();
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, small);
    speaker.shutdown().await;
    listener.shutdown().await;
}

/// The embedder's first program: announce two prefixes, wait until they
/// are sent (not only Established), withdraw one, wait again, shut down:
/// the listener saw both, then one. Announce and withdraw are incremental.
#[tokio::test]
async fn announce_withdraw_and_wait_until_sent() {
    let (listener, speaker, _events, peer) = pair().await;
    speaker.announce(["192.0.2.1/32".parse().unwrap()]);
    speaker.configure(vec![peer]).await.unwrap();
    speaker.wait_established().await;
    speaker.announce(["192.0.2.2/32".parse().unwrap()]);
    let status = speaker.wait_sent().await;
    assert_eq!(status[0].counters.current, 2, "{status:?}");
    until("both at the listener", || {
        (listener.adj_rib_in().len() == 2).then_some(())
    })
    .await;
    speaker.withdraw(["192.0.2.1/32".parse().unwrap()]);
    let status = speaker.wait_sent().await;
    assert_eq!(status[0].counters.current, 1);
    assert_eq!(
        speaker.loc_rib().iter().collect::<Vec<_>>(),
        vec![&"192.0.2.2/32".parse::<ipnet::IpNet>().unwrap()]
    );
    until("one left at the listener", || {
        (listener.adj_rib_in().len() == 1).then_some(())
    })
    .await;
    // Nothing changes: sent at once.
    speaker.withdraw(["192.0.2.99/32".parse().unwrap()]);
    tokio::time::timeout(Duration::from_secs(1), speaker.wait_sent())
        .await
        .expect("nothing to send");
    speaker.shutdown().await;
}

/// A bounded wait for Established: no peer fails at once, a refusal that
/// retrying will not mend (Bad Peer AS) fails as soon as it is seen, and a
/// peer that never answers times out.
#[tokio::test]
async fn wait_established_within_fails_fast_when_it_cannot_succeed() {
    use cue::bgp::pool::WaitError;
    let (empty, _) = Pool::new();
    let r = empty.wait_established_within(Duration::from_secs(5)).await;
    assert!(matches!(r, Err(WaitError::NoPeers)), "{r:?}");

    let (_listener, speaker, _events, mut peer) = pair().await;
    peer.peer_as = Some(64999); // the listener is AS 65002
    speaker.configure(vec![peer]).await.unwrap();
    let started = std::time::Instant::now();
    let r = speaker
        .wait_established_within(Duration::from_secs(20))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    match r {
        Err(WaitError::Refused { error, .. }) => {
            assert!(error.to_string().contains("Bad Peer AS"), "{error}")
        }
        r => panic!("{r:?}"),
    }
    speaker.shutdown().await;

    let (silent, _) = Pool::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut p = PeerConfig::new(
        "127.0.0.1".parse().unwrap(),
        65001,
        Ipv4Addr::new(10, 0, 0, 1),
    );
    p.address = closed.local_addr().unwrap();
    silent.configure(vec![p]).await.unwrap();
    let r = silent
        .wait_established_within(Duration::from_millis(500))
        .await;
    assert!(
        matches!(r, Err(WaitError::TimedOut(ref s)) if s.len() == 1),
        "{r:?}"
    );
    silent.shutdown().await;
}
