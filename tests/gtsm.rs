//! GTSM (RFC 5082) against BIRD's `ttl security`, both ways: the speaker
//! dialling a BIRD that waits, and BIRD dialling `cue-bgp listen`. On
//! loopback nothing decrements the TTL, so a GTSM side sends 255 and
//! requires at least 255 (one hop); a side without GTSM sends the system's
//! 64 and is dropped by the other's kernel. Each pairing is checked with
//! GTSM on both ends (the session comes up and routes flow) and with GTSM
//! on our end only (BIRD's TTL-64 packets are dropped: it never comes up).
//! Then hop counts for real, through a router in network namespaces.
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
    ibgp_bird_with(port, ttl)
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

/// `cue-bgp --ttl-security 1 --json` announcing 192.0.2.30 to the BIRD on
/// `port`.
fn gtsm_speaker(port: u16) -> Cue {
    let p = port.to_string();
    Cue::start(&[
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
    ])
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
    let cue = gtsm_speaker(port);
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
    let cue = gtsm_speaker(port);
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

/// Three network namespaces the test creates, `cue-bgp` two hops from
/// BIRD through a router between them (which takes one off the TTL).
struct TwoHops {
    names: [String; 3],
}

impl TwoHops {
    /// `a` (192.0.2.1) -- `r` (192.0.2.2, 198.51.100.2) -- `b` (198.51.100.1).
    fn new() -> Option<TwoHops> {
        let id = std::process::id() % 100_000;
        let names = [format!("gt{id}a"), format!("gt{id}r"), format!("gt{id}b")];
        let [a, r, b] = [names[0].as_str(), names[1].as_str(), names[2].as_str()];
        let hops = TwoHops {
            names: names.clone(),
        };
        let ok = ip(&["netns", "add", a])
            && ip(&["netns", "add", r])
            && ip(&["netns", "add", b])
            && ip(&[
                "link", "add", "ga", "netns", a, "type", "veth", "peer", "name", "gr1", "netns", r,
            ])
            && ip(&[
                "link", "add", "gb", "netns", b, "type", "veth", "peer", "name", "gr2", "netns", r,
            ])
            && ip(&["-n", a, "addr", "add", "192.0.2.1/24", "dev", "ga"])
            && ip(&["-n", r, "addr", "add", "192.0.2.2/24", "dev", "gr1"])
            && ip(&["-n", r, "addr", "add", "198.51.100.2/24", "dev", "gr2"])
            && ip(&["-n", b, "addr", "add", "198.51.100.1/24", "dev", "gb"])
            && [a, r, b]
                .iter()
                .all(|n| ip(&["-n", n, "link", "set", "lo", "up"]))
            && ip(&["-n", a, "link", "set", "ga", "up"])
            && ip(&["-n", r, "link", "set", "gr1", "up"])
            && ip(&["-n", r, "link", "set", "gr2", "up"])
            && ip(&["-n", b, "link", "set", "gb", "up"])
            && ip(&["-n", a, "route", "add", "default", "via", "192.0.2.2"])
            && ip(&["-n", b, "route", "add", "default", "via", "198.51.100.2"])
            && ip(&["netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        ok.then_some(hops)
    }
}

impl Drop for TwoHops {
    fn drop(&mut self) {
        for n in &self.names {
            ip(&["netns", "del", n]);
        }
    }
}

/// Two hops apart: `--ttl-security 2` matches BIRD's `ttl security on;
/// multihop 2` (both sides' packets arrive with TTL 254); `--ttl-security
/// 1` wants 255 and drops BIRD's packets, so the session never comes up.
#[test]
fn gtsm_hop_counts_through_a_router() {
    if !have("bird") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(net) = TwoHops::new() else {
        return skip("this machine does not let us create network namespaces");
    };
    let bird = Bird::start_in(
        r#"
log stderr all;
router id 198.51.100.1;
protocol device {}
protocol bgp lb {
  local 198.51.100.1 port 1179 as 65002;
  neighbor 192.0.2.1 as 65001;
  multihop 2;
  ttl security on;
  passive;
  error wait time 1, 2;
  ipv4 { import all; export none; };
}
"#,
        Some(&net.names[2]),
    );
    let speaker = |hops: &str| {
        std::process::Command::new("ip")
            .args(["netns", "exec", &net.names[0], cue_bin()])
            .args([
                "--ttl-security",
                hops,
                "--port",
                "1179",
                "--connect-retry",
                "500ms",
                "-a",
                "203.0.113.5",
                "--for",
                "4s",
                "65001",
                "10.0.0.1",
                "198.51.100.1",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The wrong count: BIRD's packets arrive with 254 and are dropped.
    let wrong = speaker("1");
    std::thread::sleep(Duration::from_secs(3));
    assert!(prefixes(&bird).is_empty());
    let out = wrong.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ESTABLISHED"));
    // The right one.
    let right = speaker("2");
    wait_for("the route two hops away", T, || {
        prefixes(&bird)
            .contains(&"203.0.113.5/32".to_string())
            .then_some(())
    });
    let out = right.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ESTABLISHED"));
}
