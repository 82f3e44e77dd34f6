//! `--mrt FILE`: every message sent and received, recorded as MRT BGP4MP
//! (RFC 6396, 4-octet AS, IPv4 and IPv6) and read back by another
//! implementation, `bgpdump -m`: each route BIRD sent, with its attributes,
//! and each route the speaker announced and withdrew.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bgpdump(file: &std::path::Path) -> Vec<String> {
    let out = Command::new("bgpdump")
        .arg("-m")
        .arg(file)
        .stderr(Stdio::null())
        .output()
        .expect("bgpdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            // BGP4MP|TIME|A|...: drop the timestamp.
            let mut f: Vec<&str> = l.split('|').collect();
            if f.len() > 1 {
                f.remove(1);
            }
            f.join("|")
        })
        .collect()
}

#[test]
fn bgpdump_reads_what_listen_recorded_from_bird() {
    if !have("bird") || !have("bgpdump") {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("mrt");
    let file = dir.path("session.mrt");
    let p = port.to_string();
    let cue = Command::new(cue_bin())
        .args(["listen", "--bind", "127.0.0.1", "--port", &p, "-m", "--mrt"])
        .arg(&file)
        .args([
            "--expect",
            "10.60.0.0/16 med 55",
            "--expect",
            "10.61.0.0/16",
            "--expect",
            "2001:db8:60::/48",
            "--timeout",
            "30s",
            "65001",
            "127.0.0.3",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _bird = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{ ipv4; route 10.60.0.0/16 blackhole; route 10.61.0.0/16 blackhole; }}
protocol static s6 {{ ipv6; route 2001:db8:60::/48 blackhole; }}
protocol bgp to_cue {{
  local 127.0.0.2 port {} as 4200000002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop;
  connect retry time 1;
  ipv4 {{ import none; export filter {{
    if net = 10.60.0.0/16 then {{ bgp_med = 55; bgp_community.add((65002,7)); }}
    accept;
  }}; next hop self; }};
  ipv6 {{ import none; export all; next hop address 2001:db8::2; }};
}}
"#,
        free_port()
    ));
    let out = cue.wait_with_output().unwrap();
    assert!(out.status.success(), "the routes did not arrive");
    let lines = bgpdump(&file);
    for want in [
        "BGP4MP|A|127.0.0.2|4200000002|10.60.0.0/16|4200000002|IGP|127.0.0.2|0|55|65002:7|NAG||",
        "BGP4MP|A|127.0.0.2|4200000002|10.61.0.0/16|4200000002|IGP|127.0.0.2|0|0||NAG||",
        "BGP4MP|A|127.0.0.2|4200000002|2001:db8:60::/48|4200000002|IGP|2001:db8::2|0|0||NAG||",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} not in:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn bgpdump_reads_what_the_speaker_sent() {
    if !have("bgpdump") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let listener = Cue::listen(&p, &["65001", "10.0.0.2"]);
    let dir = Scratch::new("mrt");
    let file = dir.path("speaker.mrt");
    let out = Command::new(cue_bin())
        .args(["--port", &p, "--connect-retry", "100ms", "--mrt"])
        .arg(&file)
        .args([
            "-a",
            "192.0.2.9",
            "--med",
            "7",
            "-c",
            "65001:3",
            "--for",
            "1s",
            "65001",
            "10.0.0.1",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    drop(listener);
    let lines = bgpdump(&file);
    assert!(
        lines.contains(
            &"BGP4MP_LOCAL|A|127.0.0.1|65001|192.0.2.9/32||IGP|127.0.0.1|100|7|65001:3|NAG||"
                .to_string()
        ),
        "{}",
        lines.join("\n")
    );
    assert!(lines.contains(&"BGP4MP_LOCAL|W|127.0.0.1|65001|192.0.2.9/32".to_string()));
}
