//! `cue-bgp listen --expect`: assertions for CI against real export
//! policies. BIRD exports routes with attributes set by its filter; the
//! listener exits 0 as soon as the expected routes are there with the
//! stated attributes, and 1 at the timeout with a diff (text and JSON);
//! `--expect-absent` fails as soon as a route that must not come does; the
//! `expect` command answers `ok` or `error:` with the difference.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A BIRD that dials `listen` on `port` (eBGP, AS 65002) and exports
/// 10.60.0.0/16 with MED 55, community 65002:7, large community
/// 65002:8:9, and 10.61.0.0/16 plain.
fn exporting_bird(port: u16) -> Bird {
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 10.60.0.0/16 blackhole;
  route 10.61.0.0/16 blackhole;
}}
protocol bgp to_cue {{
  local 127.0.0.2 port {} as 65002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop;
  connect retry time 1;
  error wait time 1, 2;   # BIRD's default keeps a failed session down 60 s
  ipv4 {{ import none; export filter {{
    if net = 10.60.0.0/16 then {{
      bgp_med = 55; bgp_community.add((65002,7)); bgp_large_community.add((65002,8,9));
    }}
    accept;
  }}; next hop self; }};
}}
"#,
        free_port()
    ))
}

/// Runs `cue-bgp listen` with `args` to its end, with a fresh exporting
/// BIRD started right after it; returns (status, stdout, time taken).
fn listen(port: u16, args: &[&str]) -> (Option<i32>, String, Duration) {
    listen_with(port, args, || have("bird").then(|| exporting_bird(port)))
}

/// Runs `cue-bgp listen` with `args` to its end, with the peer that
/// `peer` starts right after it.
fn listen_with<T>(
    port: u16,
    args: &[&str],
    peer: impl FnOnce() -> T,
) -> (Option<i32>, String, Duration) {
    let p = port.to_string();
    let started = Instant::now();
    let child = Command::new(cue_bin())
        .args(["listen", "--bind", "127.0.0.1", "--port", &p])
        .args(args)
        .args(["65001", "127.0.0.3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let peer = peer();
    let out = child.wait_with_output().unwrap();
    drop(peer);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn expect_passes_at_once_and_fails_with_a_diff_at_the_timeout() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    // Everything as BIRD's policy says: exit 0 long before the timeout.
    let (code, out, took) = listen(
        port,
        &[
            "--expect",
            "10.60.0.0/16 med 55 community 65002:7 large-community 65002:8:9 as-path 65002 origin igp next-hop 127.0.0.2",
            "--expect",
            "10.61.0.0/16",
            "--timeout",
            "20s",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(out.contains("expect: ok"), "{out}");
    // A MED BIRD does not set and a route it does not have: exit 1 at the
    // timeout, with the diff. (A fresh BIRD each time: one whose session
    // just ended waits before it dials again.)
    let (code, out, took) = listen(
        port,
        &[
            "--expect",
            "10.60.0.0/16 med 56",
            "--expect",
            "10.62.0.0/16",
            "--timeout",
            "12s",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(took >= Duration::from_secs(12), "{took:?}");
    assert!(
        out.contains("expect: 10.60.0.0/16 med 56 from 127.0.0.2: med 56, got 55"),
        "{out}"
    );
    assert!(out.contains("expect: missing 10.62.0.0/16"), "{out}");
    assert!(out.contains("expect: failed"), "{out}");
    // The same as JSON.
    let (code, out, _) = listen(
        port,
        &[
            "--json",
            "--expect",
            "10.60.0.0/16 community 65002:99",
            "--timeout",
            "12s",
        ],
    );
    assert_eq!(code, Some(1));
    let report: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "expect")
        .expect("an expect event");
    assert_eq!(report["result"], "failed");
    assert_eq!(
        report["different"][0]["route"],
        "10.60.0.0/16 community 65002:99"
    );
    assert_eq!(
        report["different"][0]["differences"][0],
        "community 65002:99 missing"
    );
    assert!(report["missing"].as_array().unwrap().is_empty());
}

#[test]
fn expect_absent_and_expect_file() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    // 10.61.0.0/16 must not come, but does: exit 1 as soon as it does.
    let (code, out, took) = listen(
        port,
        &["--expect-absent", "10.61.0.0/16", "--timeout", "20s"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(out.contains("expect: unexpected 10.61.0.0/16"), "{out}");
    // With attributes, absent means: not with these.
    let dir = Scratch::new("expect");
    let file = dir.path("routes");
    std::fs::write(
        &file,
        "# what BIRD exports\n10.60.0.0/16 med 55\n10.61.0.0/16\n",
    )
    .unwrap();
    let (code, out, _) = listen(
        port,
        &[
            "--expect-file",
            file.to_str().unwrap(),
            "--expect-absent",
            "10.61.0.0/16 med 1",
            "--timeout",
            "20s",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    // A malformed file is refused with its line, before listening.
    std::fs::write(&file, "10.60.0.0/16\n10.61.0.0/16 med x\n").unwrap();
    let (code, _, _) = listen(port, &["--expect-file", file.to_str().unwrap()]);
    assert_eq!(code, Some(2));
}

#[test]
fn the_expect_command() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let mut cue = Interactive::start(&[
        "listen",
        "--bind",
        "127.0.0.1",
        "--port",
        &p,
        "--commands",
        "65001",
        "127.0.0.3",
    ]);
    let _bird = exporting_bird(port);
    let reply = |cue: &mut Interactive| cue.reply(Duration::from_secs(30));
    cue.send("expect 10.60.0.0/16 med 55 10.61.0.0/16 20s");
    assert_eq!(reply(&mut cue), "ok");
    cue.send("expect 10.60.0.0/16 med 1 1s");
    let r = reply(&mut cue);
    assert!(
        r.starts_with("error:") && r.contains("med 1, got 55"),
        "{r}"
    );
    cue.send("quit");
    assert_eq!(reply(&mut cue), "ok");
}

/// FRR's export policy: a route-map sets MED 77 and community 65002:70 on
/// 10.70.0.0/16; FRR dials `listen` (eBGP).
#[test]
fn expect_against_frr() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let run = |args: &[&str]| {
        listen_with(port, args, || {
            Frr::start(
                &format!(
                    r#"
frr defaults traditional
hostname cue-expect
router bgp 65002
 bgp router-id 127.0.0.4
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 127.0.0.1 remote-as 65001
 neighbor 127.0.0.1 port {port}
 neighbor 127.0.0.1 timers connect 1
 address-family ipv4 unicast
  network 10.70.0.0/16 route-map EXPORT
 exit-address-family
route-map EXPORT permit 10
 set metric 77
 set community 65002:70
"#
                ),
                free_port(),
            )
        })
    };
    let (code, out, took) = run(&[
        "--expect",
        "10.70.0.0/16 med 77 community 65002:70 as-path 65002",
        "--timeout",
        "20s",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(took < Duration::from_secs(18), "{took:?}");
    let (code, out, _) = run(&[
        "--json",
        "--expect",
        "10.70.0.0/16 med 78",
        "--timeout",
        "10s",
    ]);
    assert_eq!(code, Some(1), "{out}");
    let report: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "expect")
        .expect("an expect event");
    assert_eq!(report["different"][0]["differences"][0], "med 78, got 77");
}
