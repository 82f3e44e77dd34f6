//! Routes with attributes of their own (`--advertise-file` lines and
//! `announce ROUTE...`), as BIRD and GoBGP receive them: each attribute as
//! written, the command line's for the rest, grouped into few UPDATEs.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The number of UPDATEs the speaker sent, from its final JSON status.
fn updates_sent(done: &Finished) -> u64 {
    done.json()
        .iter()
        .find(|e| e["event"] == "status")
        .and_then(|s| s["updates_sent"].as_u64())
        .expect("a final status with updates_sent")
}

/// The lines of BIRD's `show route all` block for a route: its attributes.
fn bird_attrs(bird: &Bird, prefix: &str) -> String {
    wait_for(&format!("BIRD to hold {prefix}"), T, || {
        let all = bird.birdc(&["show", "route", "all", "for", prefix]);
        all.contains("BGP.as_path").then_some(all)
    })
}

#[test]
fn file_routes_carry_their_own_attributes_to_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.2", "127.0.0.1", 65002, 65001);
    let dir = Scratch::new("attrs-bird");
    let file = dir.path("routes.txt");
    // 1,000 routes over 10 attribute sets, then some written one by one.
    let mut text = String::from("# lab table\n");
    for i in 0..1000u32 {
        text.push_str(&format!(
            "10.{}.{}.0/24 med {} community 65000:{} as-path 65010 {}\n",
            100 + i / 256,
            i % 256,
            i % 10,
            i % 10,
            65100 + i % 10
        ));
    }
    text.push_str(
        "10.200.1.0/24 origin incomplete as-path 4200000001 65020 large-community 65000:1:2 \
         ext-community rt:65000:7 ext-community ro:192.0.2.9:3\n\
         10.200.2.0/24 next-hop 192.0.2.77 community no-export\n\
         10.200.3.0/24\n\
         2001:db8:10::/48 med 20 as-path 65030\n",
    );
    std::fs::write(&file, text).unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--json",
        "-m",
        "-6",
        "2001:db8::1",
        "--med",
        "5",
        "-c",
        "65001:9",
        "--ext-community",
        "rt:65001:1",
        "--advertise-file",
        file.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "127.0.0.2",
    ]);
    wait_for("BIRD to hold 1004 routes", T, || {
        let s = bird.birdc(&["show", "route", "count"]);
        (s.contains("1003 of 1003 routes") && s.contains("1 of 1 routes")).then_some(())
    });
    let a = bird_attrs(&bird, "10.100.3.0/24");
    assert!(a.contains("BGP.as_path: 65001 65010 65103"), "{a}");
    assert!(a.contains("BGP.med: 3"), "{a}");
    assert!(a.contains("BGP.community: (65000,3)"), "replaces -c: {a}");
    assert!(a.contains("BGP.ext_community: (rt, 65001, 1)"), "{a}");
    assert!(a.contains("BGP.origin: IGP"), "{a}");
    let a = bird_attrs(&bird, "10.200.1.0/24");
    assert!(
        a.contains("BGP.as_path: 65001 4200000001 65020"),
        "4-octet AS in the path: {a}"
    );
    assert!(a.contains("BGP.origin: Incomplete"), "{a}");
    assert!(a.contains("BGP.med: 5"), "the command line's: {a}");
    assert!(
        a.contains("BGP.community: (65001,9)"),
        "the command line's: {a}"
    );
    assert!(a.contains("BGP.large_community: (65000, 1, 2)"), "{a}");
    assert!(a.contains("(rt, 65000, 7)"), "{a}");
    assert!(a.contains("(ro, 192.0.2.9, 3)"), "{a}");
    assert!(
        a.contains("(rt, 65001, 1)"),
        "added to the command line's: {a}"
    );
    let a = bird_attrs(&bird, "10.200.2.0/24");
    assert!(a.contains("BGP.next_hop: 192.0.2.77"), "{a}");
    assert!(a.contains("BGP.community: (65535,65281)"), "no-export: {a}");
    let a = bird_attrs(&bird, "10.200.3.0/24");
    assert!(
        a.contains("BGP.as_path: 65001\n") || a.contains("BGP.as_path: 65001 \n"),
        "{a}"
    );
    assert!(a.contains("BGP.community: (65001,9)"), "{a}");
    let a = bird_attrs(&bird, "2001:db8:10::/48");
    assert!(a.contains("BGP.as_path: 65001 65030"), "{a}");
    assert!(a.contains("BGP.med: 20"), "{a}");
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stdout);
    // 10 groups of 100 routes, the 4 single ones, and the withdrawals at
    // the stop: far from one UPDATE per route.
    let n = updates_sent(&done);
    assert!(n <= 24, "{n} UPDATEs for 1004 routes in 15 attribute sets");
}

#[test]
fn a_bad_line_is_refused_with_its_number_and_nothing_is_announced() {
    let dir = Scratch::new("attrs-bad");
    let file = dir.path("routes.txt");
    std::fs::write(
        &file,
        "10.0.0.0/24 med 10\n10.0.1.0/24 med ten\n10.0.2.0/24\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let err = refused(&[
        "--advertise-file",
        f,
        "--port",
        "1",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    // The line, and the column where "ten" starts.
    assert!(err.contains("line 2, column 17:"), "{err}");
    assert!(err.contains("med"), "{err}");
    std::fs::write(&file, "10.0.0.0/24 next-hop 2001:db8::1\n").unwrap();
    let err = refused(&["--advertise-file", f, "65001", "127.0.0.1", "127.0.0.1"]);
    assert!(
        err.contains("line 1:") && err.contains("address family"),
        "{err}"
    );
    // Attributes that leave no room for the prefix in an UPDATE: refused
    // at start, not silently dropped (nor sent for ever).
    let many: String = (0..1100).map(|i| format!(" community 65000:{i}")).collect();
    std::fs::write(&file, format!("10.0.0.0/24\n10.0.3.0/24{many}\n")).unwrap();
    let err = refused(&["--advertise-file", f, "65001", "127.0.0.1", "127.0.0.1"]);
    assert!(
        err.contains("10.0.3.0/24: path attributes")
            && err.contains("more than the 4096 of an UPDATE"),
        "{err}"
    );
    assert!(err.contains("--extended-messages"), "{err}");
    let mut args: Vec<String> = (0..1100).map(|i| format!("-c65000:{i}")).collect();
    args.extend(["65001", "127.0.0.1", "127.0.0.1"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = refused(&args);
    assert!(
        err.contains("path attributes of up to") && err.contains("4096"),
        "{err}"
    );
}

#[test]
fn announce_commands_carry_attributes_to_gobgp() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    // iBGP: LOCAL_PREF goes, the path goes as written.
    let g = Gobgp::start(&passive_gobgp_config(
        65001,
        "127.0.0.1",
        port,
        "127.0.0.1",
        65001,
        "",
    ));
    let p = port.to_string();
    let mut cue = Interactive::start(&[
        "--port",
        &p,
        "--commands",
        "-4",
        "192.0.2.1",
        "--local-pref",
        "150",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    cue.send("wait established 15s");
    assert_eq!(cue.reply(T), "ok");
    cue.send(
        "announce 10.30.0.0/24 local-pref 300 med 40 as-path 65010 65020 \
         large-community 65001:7:7 10.30.1.0/24",
    );
    assert_eq!(cue.reply(T), "ok");
    let rib = wait_for("GoBGP to hold both routes", T, || {
        let r = g.rib("ipv4");
        (r.as_object().map_or(0, |m| m.len()) == 2).then_some(r)
    });
    let a = gobgp_attrs(&rib, "10.30.0.0/24").unwrap();
    assert_eq!(gobgp_attr(&a, 5).unwrap()["value"], 300);
    assert_eq!(gobgp_attr(&a, 4).unwrap()["metric"], 40);
    assert_eq!(
        gobgp_attr(&a, 2).unwrap()["as_paths"][0]["asns"],
        json!([65010, 65020])
    );
    assert_eq!(gobgp_attr(&a, 32).unwrap()["value"][0]["ASN"], 65001);
    let b = gobgp_attrs(&rib, "10.30.1.0/24").unwrap();
    assert_eq!(
        gobgp_attr(&b, 5).unwrap()["value"],
        150,
        "the command line's"
    );
    assert!(gobgp_attr(&b, 4).is_none());
    // Announced again without attributes: the session's.
    cue.send("announce 10.30.0.0/24");
    assert_eq!(cue.reply(T), "ok");
    wait_for("GoBGP to see the session's attributes", T, || {
        let a = gobgp_attrs(&g.rib("ipv4"), "10.30.0.0/24")?;
        (gobgp_attr(&a, 5)?["value"] == 150 && gobgp_attr(&a, 4).is_none()).then_some(())
    });
    // A bad route is refused whole; what was there stays.
    cue.send("announce 10.30.2.0/24 10.30.3.0/24 med x");
    assert!(cue.reply(T).starts_with("error:"));
    cue.send("withdraw 10.30.1.0/24");
    assert_eq!(cue.reply(T), "ok");
    wait_for("GoBGP to hold one route", T, || {
        (g.rib("ipv4").as_object().map_or(0, |m| m.len()) == 1).then_some(())
    });
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
}

/// Extended messages (RFC 8654) with BIRD (`enable extended messages`): a
/// route with 2,000 communities (8 KB of attributes) arrives whole; without
/// `--extended-messages` the same route file is refused at start.
#[test]
fn extended_messages_carry_a_route_with_two_thousand_communities_to_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = ibgp_bird_with(port, "enable extended messages on;");
    let dir = Scratch::new("extended");
    let file = dir.path("routes.txt");
    let many: String = (0..2000).map(|i| format!(" community 65000:{i}")).collect();
    std::fs::write(&file, format!("10.60.0.0/24{many}\n10.61.0.0/24\n")).unwrap();
    let f = file.to_str().unwrap();
    let p = port.to_string();
    let err = refused(&[
        "--advertise-file",
        f,
        "--port",
        &p,
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    assert!(err.contains("--extended-messages"), "{err}");
    let cue = Cue::start(&[
        "--extended-messages",
        "--advertise-file",
        f,
        "--port",
        &p,
        "--json",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let route = wait_for("the big route at BIRD", Duration::from_secs(15), || {
        bird.route("10.60.0.0/24")
    });
    assert!(
        route.contains("(65000,0)") && route.contains("(65000,1999)"),
        "{route}"
    );
    assert!(bird.route("10.61.0.0/24").is_some());
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(!done.stdout.contains("\"error\""), "{}", done.stdout);
    // And received: `listen --extended-messages` takes the big UPDATE.
    let lport = free_port().to_string();
    let listen = Cue::listen(
        &lport,
        &[
            "--extended-messages",
            "--expect",
            "10.60.0.0/24 community 65000:1999",
            "--timeout",
            "10s",
            "65002",
            "10.0.0.2",
        ],
    );
    let speaker = Cue::start(&[
        "--extended-messages",
        "--advertise-file",
        f,
        "--port",
        &lport,
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    let heard = listen.wait(Duration::from_secs(15));
    assert!(heard.status.success(), "{} {}", heard.stdout, heard.stderr);
    speaker.terminate();
}

/// `--extended-next-hop` (RFC 8950) over an IPv6 session with BIRD
/// (`extended next hop on`): IPv4 routes go with the IPv6 next hop, in
/// MP_REACH_NLRI. Without it, BIRD gets the IPv4 next hop as before. Then
/// BIRD sends IPv4 routes with its IPv6 next hop to `listen
/// --extended-next-hop`.
#[test]
fn extended_next_hop_carries_ipv4_routes_with_an_ipv6_next_hop_both_ways() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol bgp lb {{
  local ::1 port {port} as 65001;
  neighbor ::1 as 65001;
  passive;
  ipv4 {{ import all; export none; extended next hop on; }};
  ipv6 {{ import all; export none; }};
}}
"#
    ));
    let p = port.to_string();
    let cue = Cue::start(&[
        "--extended-next-hop",
        "-6",
        "::1",
        "-a",
        "192.0.2.40,2001:db8::40",
        "--port",
        &p,
        "--json",
        "65001",
        "127.0.0.1",
        "::1",
    ]);
    let v4 = bird_attrs(&bird, "192.0.2.40/32");
    assert!(v4.contains("BGP.next_hop: ::1"), "{v4}");
    assert!(bird.route("2001:db8::40/128").is_some());
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    let status = done
        .json()
        .into_iter()
        .find(|e| e["event"] == "status")
        .unwrap();
    assert_eq!(status["families"], json!(["ipv4-unicast", "ipv6-unicast"]));

    // BIRD sends: an IPv4 route with its IPv6 next hop arrives at listen.
    let lport = free_port();
    let sender = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 198.51.100.0/24 blackhole;
}}
protocol bgp to_cue {{
  local ::1 port {} as 65002;
  neighbor ::1 port {lport} as 65001;
  multihop;
  connect retry time 1;
  ipv4 {{ import none; export all; extended next hop on; next hop address 2001:db8::1; }};
  ipv6 {{ import none; export none; }};
}}
"#,
        free_port()
    ));
    let l = lport.to_string();
    let listen = Cue::start(&[
        "listen",
        "--bind",
        "::1",
        "--port",
        &l,
        "--extended-next-hop",
        "--json",
        "65001",
        "10.0.0.1",
    ]);
    let route = wait_for("BIRD's IPv4 route at listen", T, || {
        received_routes(&listen.stdout())
            .into_iter()
            .find(|r| r["prefix"] == "198.51.100.0/24")
    });
    assert_eq!(route["next_hop"], "2001:db8::1", "{route}");
    drop(sender);
    assert!(listen.terminate().status.success());
}

/// Extended next hop (RFC 8950) with FRR over an IPv6 session, as an
/// "unnumbered" fabric has it: FRR (`capability extended-nexthop`) holds
/// the speaker's IPv4 route with its IPv6 next hop, and sends its own IPv4
/// route with an IPv6 next hop on the same session.
#[test]
fn extended_next_hop_with_frr_both_ways() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let config = r#"
frr defaults traditional
hostname cue-enh
router bgp 4200000002
 bgp router-id 127.0.0.4
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ::1 remote-as 65001
 neighbor ::1 capability extended-nexthop
 address-family ipv4 unicast
  network 198.51.100.0/24
  neighbor ::1 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ::1 activate
 exit-address-family
"#;
    let frr = Frr::start_on(config, "::1", port);
    let p = port.to_string();
    let cue = Cue::start(&[
        "--extended-next-hop",
        "-6",
        "2001:db8::41",
        "-a",
        "192.0.2.41",
        "--port",
        &p,
        "--json",
        "65001",
        "127.0.0.1",
        "::1",
    ]);
    let path = wait_for("FRR to hold the IPv4 route", T, || {
        frr.route("ipv4", "192.0.2.41/32")
    });
    let hops: Vec<&str> = path["nexthops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["ip"].as_str())
        .collect();
    assert!(hops.contains(&"2001:db8::41"), "{path}");
    assert!(
        path["nexthops"].to_string().contains("ipv6"),
        "an IPv6 next hop: {path}"
    );
    let route = wait_for("FRR's IPv4 route at the speaker", T, || {
        received_routes(&cue.stdout())
            .into_iter()
            .find(|r| r["prefix"] == "198.51.100.0/24")
    });
    let nh: std::net::IpAddr = route["next_hop"].as_str().unwrap().parse().unwrap();
    assert!(nh.is_ipv6(), "{route}");
    assert!(cue.terminate().status.success());
}
