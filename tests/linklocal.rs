//! A session over IPv6 link-local addresses, between two network namespaces
//! the test creates (a veth pair, nothing else): `cue-bgp` in one dials
//! `fe80::2%va` where BIRD listens, and sends a global next hop together
//! with its link-local one (RFC 2545). The addresses exist only inside the
//! two namespaces. Needs root (namespaces); skipped otherwise.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// Two namespaces joined by a veth pair, with link-local, global and IPv4
/// addresses on it.
fn link() -> Option<Veth> {
    let v = Veth::new("cue")?;
    let ok = // Only the addresses we give: no automatic link-local one.
        v.ip(false, &["link", "set", "va", "addrgenmode", "none"])
        && v.ip(true, &["link", "set", "vb", "addrgenmode", "none"])
        && v.ip(false, &["addr", "add", "fe80::1/64", "dev", "va", "nodad"])
        && v.ip(true, &["addr", "add", "fe80::2/64", "dev", "vb", "nodad"])
        && v.ip(false, &["addr", "add", "2001:db8:ff::1/64", "dev", "va", "nodad"])
        && v.ip(true, &["addr", "add", "2001:db8:ff::2/64", "dev", "vb", "nodad"])
        && v.ip(false, &["addr", "add", "192.0.2.1/24", "dev", "va"])
        && v.ip(true, &["addr", "add", "192.0.2.2/24", "dev", "vb"])
        && v.ip(false, &["link", "set", "va", "up"])
        && v.ip(true, &["link", "set", "vb", "up"]);
    ok.then_some(v)
}

#[test]
fn link_local_session_with_global_and_link_local_next_hops() {
    if !have("bird") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(link) = link() else {
        return skip("this machine does not let us create network namespaces");
    };
    let port = 1179;
    let bird = Bird::start_in(
        &format!(
            r#"
log stderr all;
router id 10.0.0.2;
protocol device {{}}
protocol bgp lb {{
  local fe80::2 port {port} as 65001;
  neighbor fe80::1 as 65001;
  interface "vb";
  direct;            # iBGP is multihop by default; link-local needs direct
  passive;
  ipv4 {{ import all; export none; }};
  ipv6 {{ import all; export none; }};
}}
"#
        ),
        Some(&link.b),
    );
    let p = port.to_string();
    let cue = Command::new("ip")
        .args(["netns", "exec", &link.a, cue_bin()])
        .args([
            "--port",
            &p,
            "-m",
            "-4",
            "192.0.2.1",
            "-6",
            "2001:db8:ff::1",
            "--connect-retry",
            "1s",
            "-a",
            "192.168.101.9,fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6509",
            "--for",
            "6s",
            "65001",
            "10.0.0.1",
            "fe80::2%va",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let r6 = wait_for("the IPv6 route in BIRD", T, || {
        bird.route("fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6509/128")
    });
    // Global next hop first, then our link-local address.
    assert!(r6.contains("BGP.next_hop: 2001:db8:ff::1 fe80::1"), "{r6}");
    // IPv4 over the same link-local session, with an IPv4 next hop on the
    // link (BIRD refuses one that is not directly reachable, such as the
    // router ID fallback, on a direct session).
    let start = std::time::Instant::now();
    let r4 = loop {
        if let Some(r) = bird.route("192.168.101.9/32") {
            break r;
        }
        assert!(
            start.elapsed() < T,
            "no IPv4 route in BIRD:
{}
{}",
            bird.birdc(&["show", "protocols", "all", "lb"]),
            bird.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(r4.contains("BGP.next_hop: 192.0.2.1"), "{r4}");
    let out = cue.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fe80::2%"),
        "the peer is named with its zone: {text}"
    );
}
