//! GTSM (RFC 5082) against BIRD's `ttl security`, both ways: the speaker
//! dialling a BIRD that waits, and BIRD dialling `cue-bgp listen`. On
//! loopback nothing decrements the TTL, so a GTSM side sends 255 and
//! requires at least 255 (one hop); a side without GTSM sends the system's
//! 64 and is dropped by the other's kernel. Each pairing is checked with
//! GTSM on both ends (the session comes up and routes flow) and with GTSM
//! on our end only (BIRD's TTL-64 packets are dropped: it never comes up).
//! The third pairing, GTSM at BIRD only, is BIRD's own behaviour and not
//! deterministic: BIRD sets its minimum TTL on a connection after accepting
//! it, so an OPEN that arrives first gets through and the session lives
//! until BIRD's hold timer runs out.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// BIRD waiting on `port` for the speaker at 127.0.0.1 (iBGP, AS 65001).
fn passive_bird(port: u16, ttl_security: bool) -> Bird {
    let ttl = if ttl_security { "ttl security on;" } else { "" };
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol bgp lb {{
  local 127.0.0.1 port {port} as 65001;
  neighbor 127.0.0.1 as 65001;
  passive;
  {ttl}
  error wait time 1, 2;
  ipv4 {{ import all; export none; }};
}}
"#
    ))
}

/// BIRD dialling `cue-bgp listen` on 127.0.0.1:`port` from 127.0.0.2
/// (eBGP, AS 65002), exporting 10.30.0.0/16.
fn active_bird(port: u16, ttl_security: bool) -> Bird {
    let ttl = if ttl_security { "ttl security on;" } else { "" };
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 10.30.0.0/16 blackhole;
}}
protocol bgp to_cue {{
  local 127.0.0.2 port {} as 65002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop 1;
  {ttl}
  connect retry time 1;
  error wait time 1, 2;
  ipv4 {{ import none; export all; next hop self; }};
}}
"#,
        free_port()
    ))
}

fn established(bird: &Bird, protocol: &str) -> bool {
    bird.birdc(&["show", "protocols", protocol])
        .contains("Established")
}

#[test]
fn speaker_with_gtsm_reaches_bird_with_ttl_security() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = passive_bird(port, true);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--ttl-security",
        "1",
        "--port",
        &p,
        "--connect-retry",
        "500ms",
        "-a",
        "192.0.2.30",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the route at BIRD", T, || {
        prefixes(&bird)
            .contains(&"192.0.2.30/32".to_string())
            .then_some(())
    });
    assert!(established(&bird, "lb"));
    assert!(cue.terminate().status.success());
}

#[test]
fn speaker_with_gtsm_drops_bird_without_it() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = passive_bird(port, false);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--ttl-security",
        "1",
        "--port",
        &p,
        "--connect-retry",
        "500ms",
        "--json",
        "-a",
        "192.0.2.30",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    // BIRD answers with TTL 64: below 255, dropped by our kernel.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!established(&bird, "lb"));
    let out = cue.terminate();
    assert!(!out.stdout.contains("ESTABLISHED"), "{}", out.stdout);
}

#[test]
fn listen_with_gtsm_takes_bird_with_ttl_security() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["--ttl-security", "1", "65001", "127.0.0.3"]);
    let bird = active_bird(port, true);
    wait_for("the route from BIRD", T, || {
        received_routes(&cue.stdout())
            .iter()
            .any(|r| r["prefix"] == "10.30.0.0/16")
            .then_some(())
    });
    assert!(established(&bird, "to_cue"));
    assert!(cue.terminate().status.success());
}

#[test]
fn listen_with_gtsm_drops_bird_without_it() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["--ttl-security", "1", "65001", "127.0.0.3"]);
    let bird = active_bird(port, false);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!established(&bird, "to_cue"));
    let out = cue.terminate();
    assert!(!out.stdout.contains("ESTABLISHED"), "{}", out.stdout);
}
