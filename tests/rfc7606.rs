//! RFC 7606 revised error handling, end to end: a peer scripted byte by
//! byte sends `cue-bgp listen` one malformed UPDATE per case, each for a
//! route it announced well-formed just before. The session must stay up;
//! a route whose UPDATE is treated as withdrawn must leave the listener's
//! table, one whose attribute is discarded must stay; each case is a
//! `malformed` event naming the action and the NOTIFICATION RFC 4271 alone
//! would have sent. With `--strict-errors` the same UPDATE resets the
//! session. Then the other way round: `cue-bgp --commands` sends BIRD a
//! malformed UPDATE with `send`, and BIRD keeps the session.

mod common;

use common::{ctx, free_port, wait_for, Cue, Interactive};
use cue::bgp::wire::{frame, Family, Message, Open};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

/// A scripted iBGP peer (AS 65001, 4-octet AS, IPv4 and IPv6 unicast).
struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    fn connect(port: u16) -> Peer {
        let s = wait_for("the listener", Duration::from_secs(5), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut p = Peer { s, buf: Vec::new() };
        let open = Open::new(
            65001,
            30,
            Ipv4Addr::new(10, 0, 0, 2),
            &[Family::Ipv4Unicast, Family::Ipv6Unicast],
        );
        p.send(&Message::Open(open).to_bytes(ctx()));
        p.send(&Message::Keepalive.to_bytes(ctx()));
        assert!(matches!(p.next(), Some(Message::Open(_))));
        assert!(matches!(p.next(), Some(Message::Keepalive)));
        p
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next message, `None` once the listener closed the connection.
    fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(len) = frame(&self.buf).unwrap() {
                let m = Message::decode(&self.buf[..len], ctx()).unwrap();
                self.buf.drain(..len);
                return Some(m);
            }
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// ORIGIN IGP, AS_PATH 65010, NEXT_HOP 10.0.0.2.
const BASE: [&[u8]; 3] = [
    &[0x40, 1, 1, 0],
    &[0x40, 2, 6, 2, 1, 0, 0, 0xfe, 0x12],
    &[0x40, 3, 4, 10, 0, 0, 2],
];

/// An UPDATE announcing 10.7.N.0/24 with the BASE attributes, `extra`
/// replacing the one of its type.
fn update(n: u8, extra: &[u8]) -> Vec<u8> {
    let attrs: Vec<u8> = BASE
        .iter()
        .filter(|a| extra.get(1) != Some(&a[1]))
        .flat_map(|a| a.iter())
        .chain(extra)
        .copied()
        .collect();
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    body.extend_from_slice(&[24, 10, 7, n]);
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&body);
    m
}

/// (what, malformed attribute, RFC 7606 action, RFC 4271 subcode).
#[rustfmt::skip]
const CASES: &[(&str, &[u8], &str, u8)] = &[
    ("ORIGIN value 3", &[0x40, 1, 1, 3], "treat-as-withdraw", 6),
    ("ORIGIN of 2 octets", &[0x40, 1, 2, 0, 0], "treat-as-withdraw", 5),
    ("AS_PATH segment type 9", &[0x40, 2, 6, 9, 1, 0, 0, 0xfe, 0x12], "treat-as-withdraw", 11),
    ("NEXT_HOP of 3 octets", &[0x40, 3, 3, 10, 0, 0], "treat-as-withdraw", 5),
    ("NEXT_HOP 0.0.0.0", &[0x40, 3, 4, 0, 0, 0, 0], "treat-as-withdraw", 8),
    ("MED of 5 octets", &[0x80, 4, 5, 0, 0, 0, 0, 1], "treat-as-withdraw", 5),
    ("LOCAL_PREF of 2 octets", &[0x40, 5, 2, 0, 1], "treat-as-withdraw", 5),
    ("ATOMIC_AGGREGATE of 1 octet", &[0x40, 6, 1, 0], "attribute-discard", 5),
    ("AGGREGATOR of 5 octets", &[0xc0, 7, 5, 0, 1, 10, 0, 0], "attribute-discard", 5),
    ("COMMUNITIES of 3 octets", &[0xc0, 8, 3, 0, 0, 0], "treat-as-withdraw", 9),
    ("ORIGINATOR_ID of 3 octets", &[0x80, 9, 3, 1, 2, 3], "treat-as-withdraw", 5),
    ("CLUSTER_LIST of 6 octets", &[0x80, 10, 6, 1, 2, 3, 4, 5, 6], "treat-as-withdraw", 9),
    ("EXTENDED COMMUNITIES of 7", &[0xc0, 16, 7, 0, 2, 0, 1, 0, 0, 0], "treat-as-withdraw", 9),
    ("AS4_PATH from a 4-octet speaker", &[0xc0, 17, 6, 2, 1, 0, 0, 0xfe, 0x12], "attribute-discard", 9),
    ("AS4_AGGREGATOR of 6 octets", &[0xc0, 18, 6, 0, 1, 10, 0, 0, 1], "attribute-discard", 5),
    ("LARGE_COMMUNITY of 8 octets", &[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2], "treat-as-withdraw", 9),
    ("MED flagged transitive", &[0xc0, 4, 4, 0, 0, 0, 1], "treat-as-withdraw", 4),
    ("unrecognized well-known", &[0x40, 99, 1, 0], "treat-as-withdraw", 2),
    ("attribute runs past the list", &[0xc0, 8, 200, 0, 0], "treat-as-withdraw", 1),
];

#[test]
fn listen_keeps_the_session_through_every_rfc7606_case() {
    let port = free_port();
    let cue = Cue::listen(&port.to_string(), &["65001", "10.0.0.1"]);
    let mut peer = Peer::connect(port);
    for (n, (_, bad, _, _)) in CASES.iter().enumerate() {
        peer.send(&update(n as u8, &[]));
        peer.send(&update(n as u8, bad));
    }
    // A last well-formed route: once it is in, every case before it was
    // handled.
    peer.send(&update(200, &[]));
    wait_for("the last route", Duration::from_secs(10), || {
        cue.stdout().contains("10.7.200.0/24").then_some(())
    });
    // Still up: a KEEPALIVE goes through and nothing closes.
    peer.send(&Message::Keepalive.to_bytes(ctx()));
    std::thread::sleep(Duration::from_millis(200));
    let out = cue.terminate();
    let events = out.json();
    assert!(
        !events
            .iter()
            .any(|e| e["event"] == "notification" && e["code"] != 6),
        "no NOTIFICATION but the Cease at exit: {}",
        out.stdout
    );
    let held: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "route")
        .map(|e| e["prefix"].as_str().unwrap().to_string())
        .collect();
    let malformed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "malformed")
        .collect();
    assert_eq!(malformed.len(), CASES.len(), "{}", out.stdout);
    for (n, (what, bad, action, subcode)) in CASES.iter().enumerate() {
        let prefix = format!("10.7.{n}.0/24");
        let e = malformed[n];
        assert_eq!(e["action"], *action, "{what}: {e}");
        assert_eq!(e["subcode"], *subcode, "{what}: {e}");
        assert_eq!(e["code"], 3, "{what}");
        if bad[1] != 99 && bad[2] != 200 {
            assert_eq!(e["attribute"], bad[1], "{what}");
        }
        let withdrawn = e["withdrawn"].as_array().unwrap();
        if *action == "treat-as-withdraw" {
            assert_eq!(withdrawn, &[serde_json::json!(prefix)], "{what}");
            assert!(!held.contains(&prefix), "{what}: {prefix} must be gone");
        } else {
            assert!(withdrawn.is_empty(), "{what}");
            assert!(held.contains(&prefix), "{what}: {prefix} must stay");
        }
    }
    assert!(held.contains(&"10.7.200.0/24".to_string()));
    // The listener showed the routes treated as withdrawn as withdrawals.
    let withdrawals: usize = events
        .iter()
        .filter(|e| e["event"] == "update" && e["direction"] == "received")
        .map(|e| e["withdraw"].as_array().map_or(0, |w| w.len()))
        .sum();
    let expected = CASES.iter().filter(|c| c.2 == "treat-as-withdraw").count();
    assert_eq!(withdrawals, expected);
    let status = events.iter().find(|e| e["event"] == "status").unwrap();
    assert_eq!(status["established"], 1, "one session all along");
    assert_eq!(status["updates_malformed"], CASES.len());
}

#[test]
fn text_output_says_what_was_done() {
    let port = free_port();
    let mut args = vec!["listen", "--bind", "127.0.0.1", "--port"];
    let p = port.to_string();
    args.extend_from_slice(&[&p, "65001", "10.0.0.1"]);
    let cue = Cue::start(&args);
    let mut peer = Peer::connect(port);
    peer.send(&update(1, &[0xc0, 8, 3, 0, 0, 0]));
    let line = wait_for("the malformed line", Duration::from_secs(5), || {
        cue.stdout()
            .lines()
            .find(|l| l.contains("malformed UPDATE"))
            .map(str::to_string)
    });
    assert!(line.contains("treat-as-withdraw"), "{line}");
    assert!(line.contains("NOTIFICATION 3/9"), "{line}");
    assert!(line.contains("10.7.1.0/24"), "{line}");
}

#[test]
fn strict_errors_reset_the_session() {
    let port = free_port();
    let cue = Cue::listen(&port.to_string(), &["--strict-errors", "65001", "10.0.0.1"]);
    let mut peer = Peer::connect(port);
    peer.send(&update(1, &[0xc0, 8, 3, 0, 0, 0]));
    let n = loop {
        match peer.next() {
            Some(Message::Notification(n)) => break n,
            Some(_) => continue,
            None => panic!("closed without a NOTIFICATION"),
        }
    };
    assert_eq!((n.code, n.subcode), (3, 9));
    assert_eq!(n.data, vec![0xc0, 8, 3, 0, 0, 0], "the attribute");
    drop(cue);
}

/// `cue-bgp --commands` announces two routes to BIRD, then `send`s an
/// UPDATE for one of them whose COMMUNITIES attribute is 3 octets long:
/// BIRD treats it as withdrawn and keeps the session.
#[test]
fn bird_keeps_the_session_for_a_route_it_treats_as_withdrawn() {
    if !common::have("bird") {
        return;
    }
    let port = free_port();
    let bird = common::bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    let p = port.to_string();
    let mut cue =
        Interactive::start(&["--commands", "--port", &p, "65001", "10.0.0.1", "127.0.0.1"]);
    cue.send("wait established 20s");
    cue.send("announce 10.7.1.0/24 10.7.2.0/24");
    wait_for("both routes at BIRD", Duration::from_secs(10), || {
        let p = common::prefixes(&bird);
        (p.contains(&"10.7.1.0/24".to_string()) && p.contains(&"10.7.2.0/24".to_string()))
            .then_some(())
    });
    // The next hop the speaker itself sends: its own address.
    let mut bad = update(1, &[0xc0, 8, 3, 0, 0, 0]);
    let nh = bad.windows(7).position(|w| w == BASE[2]).expect("NEXT_HOP");
    bad[nh + 3..nh + 7].copy_from_slice(&[127, 0, 0, 1]);
    let hex: String = bad.iter().map(|b| format!("{b:02x}")).collect();
    cue.send(&format!("send {hex}"));
    wait_for(
        "10.7.1.0/24 withdrawn at BIRD",
        Duration::from_secs(10),
        || (!common::prefixes(&bird).contains(&"10.7.1.0/24".to_string())).then_some(()),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        common::prefixes(&bird).contains(&"10.7.2.0/24".to_string()),
        "the other route stays: the session was kept"
    );
    let proto = bird.birdc(&["show", "protocols", "all", "lb"]);
    assert!(proto.contains("Established"), "{proto}");
    let log = bird.log();
    assert!(
        log.contains("Malformed COMMUNITY attribute")
            && log.contains("Invalid route 10.7.1.0/24 withdrawn"),
        "BIRD says why: {log}"
    );
    assert!(
        !log.contains("Received: Update message error"),
        "no reset: {log}"
    );
}
