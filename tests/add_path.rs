//! ADD-PATH (RFC 7911) against BIRD 2 and GoBGP on loopback: several paths
//! of a prefix received by `listen`, and sent by the speaker.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A BIRD (AS 65002) that holds two paths of 10.30.0.0/24 and of
/// 2001:db8:30::/48 (one per static protocol, told apart by their MED) and
/// sends them to a `listen` on `port`, with `add paths` set to `mode`.
fn bird_with_two_paths(port: u16, mode: &str) -> Bird {
    // BIRD's own listening port is one of its own (not 179: tests run
    // side by side).
    let own = free_port();
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static a4 {{ ipv4; route 10.30.0.0/24 blackhole; }}
protocol static b4 {{ ipv4; route 10.30.0.0/24 blackhole; route 10.31.0.0/24 blackhole; }}
protocol static a6 {{ ipv6; route 2001:db8:30::/48 blackhole; }}
protocol static b6 {{ ipv6; route 2001:db8:30::/48 blackhole; }}
filter mark {{
  if proto = "a4" || proto = "a6" then bgp_med = 1; else bgp_med = 2;
  accept;
}}
protocol bgp to_cue {{
  local 127.0.0.2 port {own} as 65002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop;
  ipv4 {{ import none; export filter mark; next hop self; add paths {mode}; }};
  ipv6 {{ import none; export filter mark; next hop address 2001:db8::2; add paths {mode}; }};
}}
"#
    ))
}

/// The (prefix, path id, MED) of each route in `routes`.
fn paths(routes: &[serde_json::Value]) -> Vec<(String, Option<u64>, u64)> {
    let mut v: Vec<_> = routes
        .iter()
        .map(|r| {
            (
                r["prefix"].as_str().unwrap_or_default().to_string(),
                r["path_id"].as_u64(),
                r["med"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn listen_receives_every_path_bird_sends() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let cue = Cue::listen(
        &port.to_string(),
        &["-m", "--add-path", "receive", "65001", "127.0.0.3"],
    );
    let bird = bird_with_two_paths(port, "tx");
    let got = wait_for("five paths from BIRD", T, || {
        let r = received_routes(&cue.stdout());
        (r.len() >= 5).then_some(r)
    });
    let p = paths(&got);
    let meds: Vec<_> = p.iter().map(|(n, _, m)| (n.as_str(), *m)).collect();
    assert_eq!(
        meds,
        [
            ("10.30.0.0/24", 1),
            ("10.30.0.0/24", 2),
            ("10.31.0.0/24", 2),
            ("2001:db8:30::/48", 1),
            ("2001:db8:30::/48", 2),
        ]
        .iter()
        .map(|(n, m)| (*n, *m as u64))
        .collect::<Vec<_>>(),
        "sorted by prefix then path id, so by MED: {got:?}"
    );
    assert!(p.iter().all(|(_, id, _)| id.is_some()), "{p:?}");
    assert_ne!(p[0].1, p[1].1, "two paths, two ids: {p:?}");
    // One path goes: the other stays, and the withdrawal names its id.
    bird.birdc(&["disable", "a4"]);
    let gone = p[0].1.unwrap();
    wait_for("the withdrawal of one path", T, || {
        cue.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| {
                e["event"] == "update"
                    && e["withdraw"] == serde_json::json!(["10.30.0.0/24"])
                    && e["withdraw_path_ids"] == serde_json::json!([gone])
            })
            .then_some(())
    });
    let done = cue.terminate();
    let table: Vec<_> = done
        .json()
        .into_iter()
        .filter(|e| e["event"] == "route")
        .collect();
    let left = paths(&table);
    assert_eq!(left.len(), 4, "{}", done.stdout);
    assert_eq!(
        left.iter().filter(|(n, _, _)| n == "10.30.0.0/24").count(),
        1,
        "{left:?}"
    );
}

#[test]
fn without_add_path_bird_sends_one_path_a_prefix() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let cue = Cue::listen(&port.to_string(), &["-m", "65001", "127.0.0.3"]);
    let _bird = bird_with_two_paths(port, "tx");
    let got = wait_for("three routes from BIRD", T, || {
        let r = received_routes(&cue.stdout());
        (r.len() >= 3).then_some(r)
    });
    std::thread::sleep(Duration::from_millis(500));
    let p = paths(&received_routes(&cue.stdout()));
    assert_eq!(p.len(), 3, "{got:?}");
    assert!(p.iter().all(|(_, id, _)| id.is_none()), "{p:?}");
}
