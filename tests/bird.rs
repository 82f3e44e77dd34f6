//! `cue-bgp` against a real BIRD 2 on loopback.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

const SAMPLES4: [&str; 3] = ["192.168.101.0/32", "192.168.101.1/32", "192.168.101.2/32"];
const SAMPLES6: [&str; 3] = [
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500/128",
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6501/128",
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6502/128",
];

/// An iBGP BIRD (AS 65001) waiting for cue-bgp on 127.0.0.1, and its port
/// for `--port`; `None` (the test skips) when BIRD is not installed.
fn ibgp_bird() -> Option<(Bird, String)> {
    if !have("bird") {
        return None;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    Some((bird, port.to_string()))
}

#[test]
fn readme_example_ibgp_multiprotocol_with_attributes() {
    let Some((bird, p)) = ibgp_bird() else {
        return;
    };
    let cue = Cue::start(&[
        "--port",
        &p,
        "--json",
        "--med",
        "123",
        "--local-pref",
        "200",
        "-c",
        "65001:100",
        "-c",
        "no-export",
        "--large-community",
        "65001:1:2",
        "-6",
        "::1",
        "-m",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let all: Vec<&str> = SAMPLES4.iter().chain(&SAMPLES6).copied().collect();
    wait_for("BIRD to hold the six sample routes", T, || {
        (prefixes(&bird) == sorted(&all)).then_some(())
    });
    let r = bird.route("192.168.101.1/32").unwrap();
    assert!(r.contains("BGP.origin: IGP"), "{r}");
    assert!(
        r.lines().any(|l| l.trim() == "BGP.as_path:"),
        "iBGP AS_PATH must be empty: {r}"
    );
    assert!(r.contains("BGP.next_hop: 127.0.0.1"), "{r}");
    assert!(r.contains("BGP.med: 123"), "{r}");
    assert!(r.contains("BGP.local_pref: 200"), "{r}");
    assert!(r.contains("(65001,100)"), "{r}");
    assert!(r.contains("(65535,65281)"), "no-export: {r}");
    assert!(r.contains("(65001, 1, 2)"), "{r}");
    let r6 = bird.route(SAMPLES6[0]).unwrap();
    assert!(r6.contains("BGP.next_hop: ::1"), "{r6}");
    assert!(r6.contains("BGP.med: 123"), "{r6}");

    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    wait_for("BIRD to lose the routes", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
    wait_for("BIRD to log the Cease", T, || {
        bird.log().contains("Administrative shutdown").then_some(())
    });
    // JSON lines: state, update and status events.
    let events = done.json();
    let kind = |e: &serde_json::Value, k: &str| e["event"] == k;
    assert!(events
        .iter()
        .all(|e| e["time"].is_string() && e["peer"] == "127.0.0.1"));
    assert!(events
        .iter()
        .any(|e| kind(e, "state") && e["state"] == "ESTABLISHED"));
    let update = events
        .iter()
        .find(|e| kind(e, "update") && e["announce"].as_array().is_some_and(|a| a.len() == 6))
        .expect("an update event announcing six prefixes");
    assert_eq!(update["direction"], "sent");
    assert!(events
        .iter()
        .any(|e| kind(e, "update") && e["withdraw"].as_array().is_some_and(|a| a.len() == 6)));
    assert!(events.iter().any(|e| kind(e, "notification")
        && e["direction"] == "sent"
        && e["code"] == 6
        && e["subcode"] == 2));
    let status = events.iter().find(|e| kind(e, "status")).expect("status");
    assert_eq!(status["advertised"], 6);
    assert_eq!(status["established"], 1);
    assert_eq!(status["hold_time"], 10);
    assert_eq!(status["remote_as"], 65001);
}

#[test]
fn ebgp_four_octet_as_path_and_no_local_pref() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65002, 4_200_000_001);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--local-pref",
        "300",
        "-a",
        "10.9.9.9",
        "--peer-as",
        "65002",
        "4200000001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let r = wait_for("BIRD to hold 10.9.9.9/32", T, || bird.route("10.9.9.9/32"));
    assert!(r.contains("BGP.as_path: 4200000001"), "{r}");
    // BIRD fills in its default LOCAL_PREF for eBGP routes; ours must not
    // have been taken (300 would show).
    assert!(!r.contains("BGP.local_pref: 300"), "{r}");
    let done = cue.terminate();
    assert!(done.status.success());
}

#[test]
fn ipv6_transport_without_multiprotocol_sends_ipv6_only() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "::1", "::1", 65001, 65001);
    let p = port.to_string();
    let cue = Cue::start(&["--port", &p, "65001", "127.0.0.1", "::1"]);
    wait_for("BIRD to hold the IPv6 samples", T, || {
        (prefixes(&bird) == sorted(&SAMPLES6)).then_some(())
    });
    let r = bird.route(SAMPLES6[1]).unwrap();
    assert!(r.contains("BGP.next_hop: ::1"), "{r}");
    // Still only IPv6 a moment later: the IPv4 samples are never sent.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(prefixes(&bird), sorted(&SAMPLES6));
    assert!(cue.terminate().status.success());
}

#[test]
fn ipv6_transport_multiprotocol_ipv4_next_hop_is_router_id() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "::1", "::1", 65001, 65001);
    let p = port.to_string();
    let cue = Cue::start(&["--port", &p, "-m", "65001", "127.0.0.9", "::1"]);
    let all: Vec<&str> = SAMPLES4.iter().chain(&SAMPLES6).copied().collect();
    wait_for("BIRD to hold the six samples", T, || {
        (prefixes(&bird) == sorted(&all)).then_some(())
    });
    let r = bird.route(SAMPLES4[0]).unwrap();
    assert!(r.contains("BGP.next_hop: 127.0.0.9"), "{r}");
    assert!(cue.terminate().status.success());
}

#[test]
fn accept_and_reject_filters() {
    let Some((bird, p)) = ibgp_bird() else {
        return;
    };
    let cue = Cue::start(&[
        "--port",
        &p,
        "-m",
        "-6",
        "::1",
        "--reject",
        "192.168.101.0/24",
        "--reject",
        "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500/128",
        "--accept",
        "192.168.101.1",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let expected = [
        "192.168.101.1/32",
        "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6501/128",
        "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6502/128",
    ];
    wait_for("BIRD to hold the filtered routes", T, || {
        (prefixes(&bird) == sorted(&expected)).then_some(())
    });
    assert!(cue.terminate().status.success());
}

#[test]
fn readvertises_after_bird_restarts() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let mut bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--connect-retry",
        "1s",
        "-a",
        "10.1.1.1,10.1.1.2",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let want = sorted(&["10.1.1.1/32", "10.1.1.2/32"]);
    wait_for("the routes", T, || (prefixes(&bird) == want).then_some(()));
    bird.restart();
    wait_for("the routes after the restart", T, || {
        (prefixes(&bird) == want).then_some(())
    });
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(
        done.stdout.matches("state ESTABLISHED").count() >= 2,
        "{}",
        done.stdout
    );
}

#[test]
fn bad_peer_as_is_refused_with_open_error() {
    let Some((bird, p)) = ibgp_bird() else {
        return;
    };
    let cue = Cue::start(&[
        "--port",
        &p,
        "--json",
        "--peer-as",
        "65099",
        "--wait-established",
        "2s",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let done = cue.wait(T);
    assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
    assert!(done.stderr.contains("Bad Peer AS"), "{}", done.stderr);
    assert!(done.json().iter().any(|e| e["event"] == "notification"
        && e["direction"] == "sent"
        && e["code"] == 2
        && e["subcode"] == 2));
    wait_for("BIRD to log the error", T, || {
        bird.log().contains("Bad peer AS").then_some(())
    });
}

#[test]
fn large_advertise_file_is_split_and_received_whole() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    let dir = Scratch::new("file");
    let file = dir.path("vips.txt");
    let mut text = String::from("# 5000 IPv4 and 5000 IPv6 host routes\n");
    for i in 0..5000u32 {
        text.push_str(&format!("10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
        text.push_str(&format!("fd00::{i:x}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-m",
        "-6",
        "::1",
        "--advertise-file",
        file.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("BIRD to count 10000 routes", T, || {
        let s = bird.birdc(&["show", "route", "count"]);
        s.contains("10000 of 10000 routes").then_some(())
    });
    assert!(cue.terminate().status.success());
}

#[test]
fn listen_shows_routes_bird_sends() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["-m", "65001", "127.0.0.3"]);
    let _bird = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 10.20.0.0/16 blackhole;
  route 10.21.1.0/24 blackhole;
}}
protocol static s6 {{
  ipv6;
  route 2001:db8:20::/48 blackhole;
}}
protocol bgp to_cue {{
  local 127.0.0.2 as 65002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop;
  ipv4 {{ import none; export filter {{ bgp_med = 55; bgp_community.add((65002,7)); bgp_large_community.add((65002,8,9)); accept; }}; next hop self; }};
  ipv6 {{ import none; export filter {{ bgp_med = 66; accept; }}; next hop address 2001:db8::2; }};
}}
"#
    ));
    let routes = wait_for("the three routes from BIRD", T, || {
        let a = received_routes(&cue.stdout());
        (a.len() >= 3).then_some(a)
    });
    let find = |p: &str| {
        routes
            .iter()
            .find(|r| r["prefix"] == p)
            .unwrap_or_else(|| panic!("{p} not received: {routes:?}"))
            .clone()
    };
    let r = find("10.20.0.0/16");
    assert_eq!(r["next_hop"], "127.0.0.2");
    assert_eq!(
        r["as_path"],
        serde_json::json!([{"type": "sequence", "asns": [65002]}])
    );
    assert_eq!(r["origin"], "igp");
    assert_eq!(r["med"], 55);
    assert_eq!(r["communities"][0], "65002:7");
    assert_eq!(r["large_communities"][0], "65002:8:9");
    let r6 = find("2001:db8:20::/48");
    assert_eq!(r6["next_hop"], "2001:db8::2");
    assert_eq!(r6["med"], 66);
    let done = cue.terminate();
    assert!(done.status.success());
    // The Adj-RIB-In at exit, one `route` line per route.
    let table: Vec<_> = done
        .json()
        .into_iter()
        .filter(|e| e["event"] == "route")
        .collect();
    assert_eq!(table.len(), 3, "{}", done.stdout);
}

#[test]
fn route_refresh_from_bird_resends_the_family() {
    let Some((bird, p)) = ibgp_bird() else {
        return;
    };
    let cue = Cue::start(&[
        "--port",
        &p,
        "--json",
        "-a",
        "10.1.1.1",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the route", T, || bird.route("10.1.1.1/32"));
    let sent = |out: &str| {
        out.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| {
                e["event"] == "update" && e["announce"] == serde_json::json!(["10.1.1.1/32"])
            })
            .count()
    };
    // BIRD may hold the route before the event line is printed.
    wait_for("the update event", T, || {
        (sent(&cue.stdout()) >= 1).then_some(())
    });
    assert_eq!(sent(&cue.stdout()), 1);
    // `reload in` makes BIRD send ROUTE-REFRESH for IPv4 unicast.
    let reply = bird.birdc(&["reload", "in", "lb"]);
    assert!(reply.contains("reload"), "{reply}");
    wait_for("the routes to be sent again", T, || {
        (sent(&cue.stdout()) == 2).then_some(())
    });
    assert!(cue.terminate().status.success());
}

#[test]
fn hold_timer_expires_when_bird_stops_talking_and_session_recovers() {
    let Some((bird, p)) = ibgp_bird() else {
        return;
    };
    let cue = Cue::start(&[
        "--port",
        &p,
        "--hold-time",
        "3",
        "--connect-retry",
        "1s",
        "-a",
        "10.1.1.1",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the route", T, || bird.route("10.1.1.1/32"));
    bird.signal("-STOP");
    wait_for("Hold Timer Expired", T, || {
        cue.stdout()
            .contains("notification sent 4/0: Hold Timer Expired")
            .then_some(())
    });
    bird.signal("-CONT");
    wait_for("the session to come back", T, || {
        (cue.stdout().matches("state ESTABLISHED").count() >= 2).then_some(())
    });
    wait_for("the route again", T, || bird.route("10.1.1.1/32"));
    assert!(cue.terminate().status.success());
}

#[test]
fn services_advertise_healthy_vips_and_withdraw_failed_ones() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    // Two backends; the VIP 192.0.2.50 needs its one service up, the IPv6
    // VIP follows the other backend.
    let mut a = Backend::start("127.0.0.1:0");
    let pa = a.addr.port();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pb = b.local_addr().unwrap().port();
    let dir = Scratch::new("rhi");
    let file = dir.path("services.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"services": [
          {{"address": "192.0.2.50", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {pa}, "checks": [{{"type": "tcp", "interval": "100ms", "timeout": "100ms"}}]}}]}},
          {{"address": "2001:db8::50", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {pb}, "checks": [{{"type": "http", "interval": "100ms", "timeout": "100ms"}}]}}]}}
        ]}}"#
        ),
    )
    .unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-m",
        "-6",
        "::1",
        "-a",
        "10.9.9.9",
        "--services",
        file.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    // The static address and the healthy VIP; the IPv6 VIP's backend does
    // not speak HTTP (a bare listener), so it stays down.
    let want = sorted(&["10.9.9.9/32", "192.0.2.50/32"]);
    wait_for("the healthy VIP in BIRD", T, || {
        (prefixes(&bird) == want).then_some(())
    });
    assert!(bird.route("2001:db8::50/128").is_none());

    // Stop the backend: the VIP is withdrawn within an interval or two.
    a.stop();
    let stopped = std::time::Instant::now();
    wait_for("the VIP to be withdrawn", T, || {
        (prefixes(&bird) == sorted(&["10.9.9.9/32"])).then_some(())
    });
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(2), "withdrawn after {took:?}");

    // Start it again: the VIP comes back after five passing probes.
    a.resume();
    wait_for("the VIP to come back", T, || {
        (prefixes(&bird) == want).then_some(())
    });
    drop(b);
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(
        done.stdout.contains("service 192.0.2.50:80/tcp down"),
        "{}",
        done.stdout
    );
    wait_for("everything withdrawn", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
}

#[test]
fn tcp_md5_signatures_with_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = ibgp_bird_with(port, r#"password "s3cret-key";"#);
    let p = port.to_string();
    // The right key: the session comes up.
    let cue = Cue::start(&[
        "--port",
        &p,
        "--md5-password",
        "s3cret-key",
        "-a",
        "10.3.3.3",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the route over an MD5-signed session", T, || {
        bird.route("10.3.3.3/32")
    });
    assert!(cue.terminate().status.success());
    // A wrong key, or none: the kernel drops the segments, nothing comes up.
    for args in [&["--md5-password", "wrong"][..], &[]] {
        let mut all = vec![
            "--port",
            p.as_str(),
            "--connect-retry",
            "1s",
            "--wait-established",
            "2s",
        ];
        all.extend_from_slice(args);
        all.extend(["65001", "127.0.0.1", "127.0.0.1"]);
        let done = Cue::start(&all).wait(T);
        assert_eq!(done.status.code(), Some(3), "{args:?}: {}", done.stderr);
    }
}
