//! `cue-bgp` against a real GoBGP (gobgpd) on loopback. GoBGP refuses
//! loopback next hops, so the speaker is given documentation-range ones.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A gobgpd on `port` that waits for cue-bgp at 127.0.0.1 (AS `peer_as`).
fn gobgp_passive(port: u16, local_as: u32, peer_as: u32) -> Gobgp {
    Gobgp::start(&passive_gobgp_config(
        local_as,
        "127.0.0.1",
        port,
        "127.0.0.1",
        peer_as,
        "",
    ))
}

fn count(rib: &serde_json::Value) -> usize {
    rib.as_object().map(|m| m.len()).unwrap_or(0)
}

#[test]
fn ebgp_multiprotocol_attributes() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let g = gobgp_passive(port, 65002, 65001);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-m",
        "-4",
        "192.0.2.1",
        "-6",
        "2001:db8::1",
        "--med",
        "7",
        "--local-pref",
        "250",
        "-c",
        "65001:5",
        "--large-community",
        "65001:2:3",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("GoBGP to hold 3 IPv4 and 3 IPv6 routes", T, || {
        (count(&g.rib("ipv4")) == 3 && count(&g.rib("ipv6")) == 3).then_some(())
    });
    let attrs = gobgp_attrs(&g.rib("ipv4"), "192.168.101.1/32").unwrap();
    assert_eq!(gobgp_attr(&attrs, 1).unwrap()["value"], 0, "ORIGIN IGP");
    assert_eq!(
        gobgp_attr(&attrs, 2).unwrap()["as_paths"][0]["asns"],
        json!([65001])
    );
    assert_eq!(gobgp_attr(&attrs, 3).unwrap()["nexthop"], "192.0.2.1");
    assert_eq!(gobgp_attr(&attrs, 4).unwrap()["metric"], 7);
    assert!(
        gobgp_attr(&attrs, 5).is_none(),
        "no LOCAL_PREF to an external peer"
    );
    assert_eq!(
        gobgp_attr(&attrs, 8).unwrap()["communities"],
        json!([65001u32 << 16 | 5])
    );
    let lc = &gobgp_attr(&attrs, 32).unwrap()["value"][0];
    assert_eq!(
        (
            lc["ASN"].clone(),
            lc["LocalData1"].clone(),
            lc["LocalData2"].clone()
        ),
        (json!(65001), json!(2), json!(3))
    );
    let attrs6 = gobgp_attrs(&g.rib("ipv6"), "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6501/128").unwrap();
    let mp = gobgp_attr(&attrs6, 14).unwrap();
    assert_eq!(mp["nexthop"], "2001:db8::1", "{mp}");
    assert_eq!(gobgp_attr(&attrs6, 4).unwrap()["metric"], 7);

    let done = cue.terminate();
    assert!(done.status.success());
    wait_for("GoBGP to drop the routes", T, || {
        (count(&g.rib("ipv4")) == 0 && count(&g.rib("ipv6")) == 0).then_some(())
    });
    assert!(g.log().contains("received notification"), "{}", g.log());
}

#[test]
fn ibgp_local_pref_and_default() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let g = gobgp_passive(port, 65001, 65001);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-4",
        "192.0.2.1",
        "-a",
        "10.5.5.5",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let attrs = wait_for("10.5.5.5/32 in GoBGP", T, || {
        gobgp_attrs(&g.rib("ipv4"), "10.5.5.5/32")
    });
    assert_eq!(
        gobgp_attr(&attrs, 5).unwrap()["value"],
        100,
        "default LOCAL_PREF"
    );
    assert!(gobgp_attr(&attrs, 4).is_none(), "MED 0 is not sent");
    let path = gobgp_attr(&attrs, 2).unwrap();
    assert!(
        path["as_paths"].as_array().is_none_or(|a| a.is_empty()),
        "empty AS_PATH to an internal peer: {path}"
    );
    assert!(cue.terminate().status.success());
}

#[test]
fn four_octet_as() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let g = gobgp_passive(port, 65002, 4_200_000_001);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-4",
        "192.0.2.1",
        "-a",
        "10.6.6.6",
        "4200000001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let attrs = wait_for("10.6.6.6/32 in GoBGP", T, || {
        gobgp_attrs(&g.rib("ipv4"), "10.6.6.6/32")
    });
    assert_eq!(
        gobgp_attr(&attrs, 2).unwrap()["as_paths"][0]["asns"],
        json!([4_200_000_001u32])
    );
    assert!(cue.terminate().status.success());
}

#[test]
fn listen_shows_routes_gobgp_sends() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["-m", "65001", "127.0.0.5"]);
    let g = Gobgp::start(&format!(
        r#"
[global.config]
  as = 65002
  router-id = "127.0.0.3"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65001
  [neighbors.transport.config]
    remote-port = {port}
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
    ));
    g.gobgp(&[
        "global",
        "rib",
        "add",
        "10.30.0.0/24",
        "nexthop",
        "192.0.2.30",
        "med",
        "10",
        "community",
        "65002:1",
        "large-community",
        "65002:3:4",
        "-a",
        "ipv4",
    ]);
    g.gobgp(&[
        "global",
        "rib",
        "add",
        "2001:db8:30::/48",
        "nexthop",
        "2001:db8::30",
        "-a",
        "ipv6",
    ]);
    let routes = wait_for("two routes from GoBGP", T, || {
        let a = received_routes(&cue.stdout());
        (a.len() >= 2).then_some(a)
    });
    let r = routes
        .iter()
        .find(|r| r["prefix"] == "10.30.0.0/24")
        .unwrap();
    assert_eq!(r["next_hop"], "192.0.2.30");
    assert_eq!(r["as_path"], json!([{"type": "sequence", "asns": [65002]}]));
    assert_eq!(r["med"], 10);
    assert_eq!(r["communities"], json!(["65002:1"]));
    assert_eq!(r["large_communities"], json!(["65002:3:4"]));
    let r6 = routes
        .iter()
        .find(|r| r["prefix"] == "2001:db8:30::/48")
        .unwrap();
    assert_eq!(r6["next_hop"], "2001:db8::30");
    // A withdrawal from GoBGP reaches the listener too.
    g.gobgp(&["global", "rib", "del", "10.30.0.0/24", "-a", "ipv4"]);
    wait_for("the withdrawal", T, || {
        cue.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["event"] == "update" && e["withdraw"] == json!(["10.30.0.0/24"]))
            .then_some(())
    });
    assert!(cue.terminate().status.success());
}

/// `--extended-next-hop` with GoBGP, which offers IPv4 via IPv6 on an IPv6
/// session by itself: our IPv4 route arrives in MP_REACH_NLRI with the IPv6
/// next hop.
#[test]
fn extended_next_hop_to_gobgp() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let g = Gobgp::start(&passive_gobgp_config(65002, "::1", port, "::1", 65001, ""));
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--extended-next-hop",
        "-6",
        "2001:db8::41",
        "-a",
        "192.0.2.41",
        "65001",
        "127.0.0.1",
        "::1",
    ]);
    let attrs = wait_for("GoBGP to hold the IPv4 route", T, || {
        gobgp_attrs(&g.rib("ipv4"), "192.0.2.41/32")
    });
    let mp = gobgp_attr(&attrs, 14).expect("MP_REACH_NLRI");
    assert_eq!(mp["nexthop"], "2001:db8::41", "{mp}");
    assert!(gobgp_attr(&attrs, 3).is_none(), "no NEXT_HOP attribute");
    assert!(cue.terminate().status.success());
}
