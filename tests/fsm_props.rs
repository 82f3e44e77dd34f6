//! The session state machine under random event sequences: it never
//! panics, every close leaves it Idle, it never sends an UPDATE itself, and
//! a NOTIFICATION it sends is always followed by a close.

use cue::bgp::fsm::{Action, Fsm, FsmConfig, State};
use cue::bgp::wire::{DecodeContext, DecodeError, Family, Message, Open, RouteRefresh};
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Ev {
    Connected,
    Open(u32, u16, [u8; 4]),
    Keepalive,
    Update(Vec<u8>),
    RouteRefresh(u16),
    Notification(u8, u8),
    DecodeError,
    Tick(u16),
    Closed,
    Stop,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        Just(Ev::Connected),
        (
            prop_oneof![Just(65001u32), Just(65002), any::<u32>()],
            prop_oneof![Just(0u16), Just(3), Just(90), any::<u16>()],
            prop_oneof![Just([10, 0, 0, 1]), Just([10, 0, 0, 2]), Just([0, 0, 0, 0])]
        )
            .prop_map(|(a, h, id)| Ev::Open(a, h, id)),
        Just(Ev::Keepalive),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Ev::Update),
        prop_oneof![Just(1u16), Just(2), any::<u16>()].prop_map(Ev::RouteRefresh),
        (any::<u8>(), any::<u8>()).prop_map(|(c, s)| Ev::Notification(c, s)),
        Just(Ev::DecodeError),
        any::<u16>().prop_map(Ev::Tick),
        Just(Ev::Closed),
        Just(Ev::Stop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_sequences(events in prop::collection::vec(ev(), 1..60)) {
        let mut fsm = Fsm::new(FsmConfig {
            local_as: 65001,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            hold_time: 9,
            peer_as: Some(65002),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            graceful_restart: None,
        });
        let mut now = Instant::now();
        for e in events {
            let actions = match e {
                Ev::Connected => {
                    if fsm.state() == State::Idle || fsm.state() == State::Connect || fsm.state() == State::Active {
                        fsm.connected(now)
                    } else {
                        vec![]
                    }
                }
                Ev::Open(a, h, id) => {
                    let open = Open::new(a, h, Ipv4Addr::from(id), &[Family::Ipv4Unicast]);
                    // What the decoder would let through.
                    let bytes = Message::Open(open).to_bytes(DecodeContext::default());
                    fsm.received(Message::decode(&bytes, DecodeContext::default()), now)
                }
                Ev::Keepalive => fsm.received(Ok(Message::Keepalive), now),
                Ev::Update(body) => {
                    let mut m = vec![0xff; 16];
                    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
                    m.push(2);
                    m.extend_from_slice(&body);
                    fsm.received(Message::decode(&m, fsm.decode_context()), now)
                }
                Ev::RouteRefresh(afi) => fsm.received(Ok(Message::RouteRefresh(RouteRefresh { afi, subtype: 0, safi: 1 })), now),
                Ev::Notification(c, s) => fsm.received(Ok(Message::Notification(cue::bgp::wire::Notification::new(c, s, vec![]))), now),
                Ev::DecodeError => fsm.received(Err(DecodeError::MalformedAsPath), now),
                Ev::Tick(ms) => {
                    now += Duration::from_millis(ms as u64 * 10);
                    fsm.poll_timers(now)
                }
                Ev::Closed => fsm.closed(),
                Ev::Stop => fsm.stop(),
            };
            let mut sent_notification = false;
            for a in &actions {
                match a {
                    Action::Send(Message::Update(_)) => prop_assert!(false, "the FSM never sends UPDATEs"),
                    Action::Send(Message::Notification(_)) => sent_notification = true,
                    _ => {}
                }
            }
            let closed = actions.iter().any(|a| matches!(a, Action::Close(_)));
            if sent_notification {
                prop_assert!(closed, "a NOTIFICATION without a close: {actions:?}");
            }
            if closed {
                prop_assert_eq!(fsm.state(), State::Idle);
                prop_assert!(fsm.next_deadline().is_none());
            }
            if fsm.state() == State::Established {
                prop_assert!(fsm.negotiated().is_some());
            }
        }
    }
}
