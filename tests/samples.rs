//! The sample configurations in examples/ for GoBGP, FRR and ExaBGP, each
//! brought up as it is written (the core-router block taken out, the port
//! made free), with `cue-bgp` sending to it: the VIPs and attributes arrive,
//! the import filter holds, and everything goes at exit.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// A sample file, without the lines between `BEGIN core router` and `END
/// core router` (that router is not on loopback), with port 1179 replaced.
fn sample(path: &str, port: u16) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("sample file");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.contains("BEGIN core router") {
            skipping = true;
        } else if line.contains("END core router") {
            skipping = false;
        } else if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!skipping, "unterminated core router block in {path}");
    out.replace("1179", &port.to_string())
}

/// The addresses every sample test announces: two VIPs inside the sample
/// filter and one outside it.
const ANNOUNCE: &str = "192.168.101.7,fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6507,10.7.7.7";

fn speaker(port: u16, loopback_next_hops: bool) -> Cue {
    let p = port.to_string();
    let mut args = vec!["--port", p.as_str(), "-m", "--med", "9", "-c", "65001:3"];
    args.extend(["--large-community", "65001:4:5", "-a", ANNOUNCE]);
    if loopback_next_hops {
        args.extend(["-6", "::1"]);
    } else {
        args.extend(["-4", "192.0.2.1", "-6", "2001:db8::1"]);
    }
    args.extend(["65001", "127.0.0.1", "127.0.0.1"]);
    Cue::start(&args)
}

#[test]
fn gobgp_sample() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let g = Gobgp::start(&sample("examples/gobgp/gobgpd.toml", port));
    let cue = speaker(port, false);
    let attrs = wait_for("the IPv4 VIP in GoBGP", T, || {
        gobgp_attrs(&g.rib("ipv4"), "192.168.101.7/32")
    });
    assert_eq!(gobgp_attr(&attrs, 3).unwrap()["nexthop"], "192.0.2.1");
    assert_eq!(gobgp_attr(&attrs, 4).unwrap()["metric"], 9);
    wait_for("the IPv6 VIP in GoBGP", T, || {
        gobgp_attrs(&g.rib("ipv6"), "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6507/128")
    });
    // The import filter keeps 10.7.7.7 out.
    assert!(gobgp_attrs(&g.rib("ipv4"), "10.7.7.7/32").is_none());
    assert!(cue.terminate().status.success());
    wait_for("GoBGP to drop the routes", T, || {
        gobgp_attrs(&g.rib("ipv4"), "192.168.101.7/32")
            .is_none()
            .then_some(())
    });
}

#[test]
fn frr_sample() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let frr = Frr::start(&sample("examples/frr/bgpd.conf", port), port);
    let cue = speaker(port, false);
    let path = wait_for("the IPv4 VIP in FRR", T, || {
        frr.route("ipv4", "192.168.101.7/32")
    });
    let text = path.to_string();
    assert!(text.contains("192.0.2.1"), "{text}");
    assert_eq!(path["metric"], 9, "{text}");
    assert!(
        text.contains("65001:3") && text.contains("65001:4:5"),
        "{text}"
    );
    let path6 = wait_for("the IPv6 VIP in FRR", T, || {
        frr.route("ipv6", "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6507/128")
    });
    assert!(path6.to_string().contains("2001:db8::1"), "{path6}");
    // The route-map keeps 10.7.7.7 out.
    assert!(frr.route("ipv4", "10.7.7.7/32").is_none());
    assert!(cue.terminate().status.success());
    wait_for("FRR to drop the routes", T, || {
        frr.route("ipv4", "192.168.101.7/32")
            .is_none()
            .then_some(())
    });
}

#[test]
fn exabgp_sample() {
    if !have("exabgp") {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("exabgp");
    std::fs::write(
        dir.path("exabgp.conf"),
        sample("examples/exabgp/exabgp.conf", port),
    )
    .unwrap();
    let script = dir.path("log-updates.py");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exabgp/log-updates.py"),
        &script,
    )
    .unwrap();
    let received = dir.path("received.json");
    let mut exabgp = exabgp_listening(&dir, "127.0.0.1", port);
    let cue = speaker(port, true);
    let updates = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&received)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v["type"] == "update")
            .collect()
    };
    let announced = wait_for("three routes at ExaBGP", T, || {
        let u = updates();
        let n: usize = u
            .iter()
            .filter_map(|v| v["neighbor"]["message"]["update"]["announce"].as_object())
            .flat_map(|fams| fams.values())
            .filter_map(|nh| nh.as_object())
            .flat_map(|nh| nh.values())
            .filter_map(|l| l.as_array())
            .map(|l| l.len())
            .sum();
        (n == 3).then_some(u)
    });
    let text = serde_json::to_string(&announced).unwrap();
    assert!(text.contains("\"192.168.101.7/32\""), "{text}");
    assert!(text.contains("\"10.7.7.7/32\""), "{text}");
    assert!(
        text.contains("fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6507/128"),
        "{text}"
    );
    let attrs = &announced[0]["neighbor"]["message"]["update"]["attribute"];
    assert_eq!(attrs["med"], 9, "{attrs}");
    assert_eq!(attrs["local-preference"], 100, "{attrs}");
    assert_eq!(
        attrs["community"],
        serde_json::json!([[65001, 3]]),
        "{attrs}"
    );
    assert_eq!(
        attrs["large-community"],
        serde_json::json!([[65001, 4, 5]]),
        "{attrs}"
    );
    assert!(cue.terminate().status.success());
    wait_for("the withdrawals at ExaBGP", T, || {
        updates()
            .iter()
            .any(|v| v["neighbor"]["message"]["update"]["withdraw"].is_object())
            .then_some(())
    });
    let _ = exabgp.kill();
    let _ = exabgp.wait();
}
