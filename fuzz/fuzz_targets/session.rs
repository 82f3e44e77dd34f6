//! A session fed arbitrary bytes: the state machine and the decoder
//! together, as the tokio driver runs them. The peer's OPEN and KEEPALIVE
//! come first (so that the bytes reach an Established session), then the
//! input is framed, decoded with the session's context and handed to the
//! state machine; UPDATEs go into an Adj-RIB-In. Nothing may panic; a
//! decode error must be answered with a NOTIFICATION and a close; the
//! Adj-RIB-In never holds a route an UPDATE treated as withdrawn.
#![no_main]

use cue::bgp::fsm::{Action, Fsm, FsmConfig, State};
use cue::bgp::rib::AdjRibIn;
use cue::bgp::wire::{frame, Family, Message, Open};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let mut fsm = Fsm::new(FsmConfig {
        local_as: 65001,
        router_id: "10.0.0.1".parse().unwrap(),
        hold_time: 90,
        peer_as: None,
        families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
        graceful_restart: (flags & 1 == 1).then_some(120),
    });
    let mut now = Instant::now();
    fsm.connecting(flags & 2 == 2);
    fsm.connected(now);
    // The peer: iBGP or eBGP, 4-octet AS or not.
    let peer_as = if flags & 4 == 4 { 65001 } else { 4_200_000_000 };
    let mut open = Open::new(
        peer_as,
        30,
        "10.0.0.2".parse().unwrap(),
        &[Family::Ipv4Unicast, Family::Ipv6Unicast],
    );
    if flags & 8 == 8 {
        open.capabilities
            .retain(|c| !matches!(c, cue::bgp::wire::Capability::FourOctetAs(_)));
        open.my_as = 23456;
    }
    fsm.received(Ok(Message::Open(open)), now);
    fsm.received(Ok(Message::Keepalive), now);
    assert_eq!(fsm.state(), State::Established);
    let mut rib = AdjRibIn::default();
    let mut rest = bytes;
    loop {
        now += Duration::from_millis(10);
        let (msg, len) = match frame(rest) {
            Ok(None) => break,
            Ok(Some(len)) => (Message::decode(&rest[..len], fsm.decode_context()), len),
            Err(e) => (Err(e), rest.len()),
        };
        let failed = msg.is_err();
        let actions = fsm.received(msg, now);
        if failed {
            assert!(actions
                .iter()
                .any(|a| matches!(a, Action::Send(Message::Notification(_)))));
            assert!(actions.iter().any(|a| matches!(a, Action::Close(_))));
        }
        for a in actions {
            if let Action::Received(u) = a {
                rib.apply(&u);
                if u.treat_as_withdraw() {
                    for p in u.announced() {
                        assert!(!rib.routes().any(|(q, _)| q == p));
                    }
                }
            }
        }
        if fsm.state() != State::Established {
            break;
        }
        rest = &rest[len..];
        // Timers fire as time passes.
        fsm.poll_timers(now);
    }
});
