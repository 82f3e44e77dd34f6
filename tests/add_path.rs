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
  connect retry time 1;   # a new listen on the port is dialled at once
  error wait time 1, 2;
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
    let dir = Scratch::new("add-path-listen");
    let mrt = dir.path("session.mrt");
    let cue = Cue::listen(
        &port.to_string(),
        &[
            "-m",
            "--add-path",
            "receive",
            "--mrt",
            mrt.to_str().unwrap(),
            "65001",
            "127.0.0.3",
        ],
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
    // The recording has the ADD-PATH subtype (RFC 8050): bgpdump, an
    // independent reader, sees both paths of the prefix.
    if have("bgpdump") {
        let out = std::process::Command::new("bgpdump")
            .args(["-m", mrt.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let announced = text
            .lines()
            .filter(|l| l.contains("|A|") && l.contains("10.30.0.0/24"))
            .count();
        assert!(announced >= 2, "bgpdump: {text}");
    }
}

/// `--expect` names a path by its id, end to end: BIRD's two paths of
/// 10.30.0.0/24 are learnt by a first `listen`; a second one, with one
/// expectation for each path by its id and MED, exits 0 once both are
/// there; a third, which wants the MED of one path under the id of the
/// other, exits 1 at the timeout with the difference.
#[test]
fn expect_names_a_path_by_its_id() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["-m", "--add-path", "receive", "65001", "127.0.0.3"]);
    let bird = bird_with_two_paths(port, "tx");
    let got = wait_for("five paths from BIRD", T, || {
        let r = received_routes(&cue.stdout());
        (r.len() >= 5).then_some(r)
    });
    drop(cue.terminate());
    let id = |med: u64| {
        paths(&got)
            .into_iter()
            .find(|(n, _, m)| n == "10.30.0.0/24" && *m == med)
            .and_then(|(_, id, _)| id)
            .unwrap_or_else(|| panic!("a path with MED {med}: {got:?}"))
    };
    let (one, two) = (id(1), id(2));
    let both = [
        format!("10.30.0.0/24 path-id {one} med 1"),
        format!("10.30.0.0/24 path-id {two} med 2"),
    ];
    let run = |expect: &[String], timeout: &str| {
        let mut args = vec!["-m", "--add-path", "receive", "--timeout", timeout];
        for e in expect {
            args.extend(["--expect", e.as_str()]);
        }
        args.extend(["65001", "127.0.0.3"]);
        Cue::listen(&p, &args).wait(Duration::from_secs(40))
    };
    let done = run(&both, "20s");
    assert_eq!(done.status.code(), Some(0), "{}", done.stdout);
    let crossed = [format!("10.30.0.0/24 path-id {one} med 2")];
    let done = run(&crossed, "15s");
    assert_eq!(done.status.code(), Some(1), "{}", done.stdout);
    let report = done
        .json()
        .into_iter()
        .find(|e| e["event"] == "expect")
        .expect("an expect event");
    assert_eq!(report["result"], "failed", "{report}");
    // Compared with the path of that id, not the closest of the prefix.
    assert_eq!(
        report["different"][0]["differences"],
        serde_json::json!(["med 2, got 1"]),
        "{report}"
    );
    drop(bird);
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

/// A BIRD (AS 65001) on `port` that takes several paths a prefix from
/// cue-bgp at 127.0.0.1 (`add paths rx`) and keeps them all.
fn bird_receiving_paths(port: u16) -> Bird {
    bird_passive_with(
        port,
        "127.0.0.1",
        "127.0.0.1",
        65001,
        65001,
        "add paths rx;",
    )
}

/// BIRD's routes for `prefix` as (next hop, MED), sorted.
fn bird_paths(bird: &Bird, prefix: &str) -> Vec<(String, String)> {
    let out = bird.birdc(&["show", "route", prefix, "all"]);
    let mut v = Vec::new();
    let mut hop = String::new();
    for l in out.lines() {
        let l = l.trim();
        if let Some(h) = l.strip_prefix("BGP.next_hop: ") {
            hop = h.to_string();
        }
        if let Some(m) = l.strip_prefix("BGP.med: ") {
            v.push((hop.clone(), m.to_string()));
        }
    }
    v.sort();
    v
}

#[test]
fn the_speaker_sends_every_path_to_bird() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let bird = bird_receiving_paths(port);
    let dir = Scratch::new("add-path-send");
    let routes = dir.path("routes");
    std::fs::write(
        &routes,
        "10.40.0.0/24 path-id 1 next-hop 10.0.0.1 med 10\n\
         10.40.0.0/24 path-id 2 next-hop 10.0.0.2 med 20\n\
         10.41.0.0/24 med 30\n\
         2001:db8:40::/48 path-id 7 next-hop 2001:db8::7 med 70\n\
         2001:db8:40::/48 path-id 8 next-hop 2001:db8::8 med 80\n",
    )
    .unwrap();
    let routes = routes.to_str().unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "-m",
        "--add-path",
        "send",
        "--json",
        "--advertise-file",
        routes,
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let want = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
    let two = wait_for("both paths of 10.40.0.0/24 at BIRD", T, || {
        let p = bird_paths(&bird, "10.40.0.0/24");
        (p.len() == 2).then_some(p)
    });
    assert_eq!(
        two.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        want("10", "20")
    );
    assert_eq!(
        two.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>(),
        want("10.0.0.1", "10.0.0.2")
    );
    let six = wait_for("both paths of 2001:db8:40::/48", T, || {
        let p = bird_paths(&bird, "2001:db8:40::/48");
        (p.len() == 2).then_some(p)
    });
    assert_eq!(six[0].1, "70");
    assert_eq!(bird_paths(&bird, "10.41.0.0/24").len(), 1);
    drop(cue);
}

/// The speaker (AS 65001) with `--add-path send --commands`, Established
/// with the peer at `peer` on `port`.
fn sending_paths(port: u16, peer: &str) -> Interactive {
    let p = port.to_string();
    let args = [
        "--commands",
        "--port",
        &p,
        "--add-path",
        "send",
        "65001",
        "127.0.0.1",
        peer,
    ];
    let mut cue = Interactive::start(&args);
    cue.send("wait established 15s");
    assert_eq!(cue.reply(T), "ok");
    cue
}

/// `announce` adds a path to the ones a prefix has and `withdraw P
/// path-id N` takes one away: BIRD's table follows, path by path.
#[test]
fn commands_add_and_withdraw_paths_one_by_one() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let bird = bird_receiving_paths(port);
    let mut cue = sending_paths(port, "127.0.0.1");
    let meds = |n: usize| {
        wait_for(&format!("{n} paths of 10.45.0.0/24 at BIRD"), T, || {
            let p = bird_paths(&bird, "10.45.0.0/24");
            (p.len() == n).then_some(p.into_iter().map(|(_, m)| m).collect::<Vec<_>>())
        })
    };
    cue.send("announce 10.45.0.0/24 path-id 1 next-hop 10.0.0.1 med 10");
    assert_eq!(cue.reply(T), "ok");
    assert_eq!(meds(1), ["10"]);
    cue.send("announce 10.45.0.0/24 path-id 2 next-hop 10.0.0.2 med 20");
    assert_eq!(cue.reply(T), "ok");
    assert_eq!(meds(2), ["10", "20"]);
    cue.send("withdraw 10.45.0.0/24 path-id 1");
    assert_eq!(cue.reply(T), "ok");
    assert_eq!(meds(1), ["20"]);
    cue.send("withdraw 10.45.0.0/24");
    assert_eq!(cue.reply(T), "ok");
    meds(0);
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
}

/// FRR in the middle, both ways at once: the speaker sends two paths of
/// a prefix to FRR (which offers to receive several by default), FRR holds
/// both and sends them on (`addpath-tx-all-paths`) to a `listen` with
/// identifiers of its own; withdrawing one path at the speaker withdraws
/// it at the far end, by FRR's identifier.
#[test]
fn paths_through_frr() {
    if !have(BGPD) || !have("vtysh") {
        return skip("FRR's bgpd is not installed");
    }
    let (port, listen_port) = (free_port(), free_port());
    let config = format!(
        r#"
frr defaults traditional
hostname cue-add-path
router bgp 65002
 bgp router-id 127.0.0.4
 no bgp ebgp-requires-policy
 neighbor 127.0.0.1 remote-as 65001
 neighbor 127.0.0.5 remote-as 65003
 neighbor 127.0.0.5 port {listen_port}
 neighbor 127.0.0.5 update-source 127.0.0.4
 neighbor 127.0.0.5 timers connect 1
 address-family ipv4 unicast
  neighbor 127.0.0.1 activate
  neighbor 127.0.0.5 activate
  neighbor 127.0.0.5 addpath-tx-all-paths
 exit-address-family
"#
    );
    let lp = listen_port.to_string();
    let listen = Cue::start(&[
        "listen",
        "--bind",
        "127.0.0.5",
        "--port",
        &lp,
        "--add-path",
        "receive",
        "--json",
        "65003",
        "127.0.0.5",
    ]);
    let frr = Frr::start_on(&config, "127.0.0.4", port);
    let mut cue = sending_paths(port, "127.0.0.4");
    cue.send("announce 10.46.0.0/24 path-id 1 next-hop 10.0.0.1 med 10 10.46.0.0/24 path-id 2 next-hop 10.0.0.2 med 20");
    assert_eq!(cue.reply(T), "ok");
    let held = wait_for("both paths at FRR", T, || {
        let text = frr.vtysh("show bgp ipv4 unicast 10.46.0.0/24 json");
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let paths = v["paths"].as_array()?.clone();
        (paths.len() == 2).then_some(paths)
    });
    let mut hops: Vec<_> = held
        .iter()
        .filter_map(|p| p["nexthops"][0]["ip"].as_str())
        .collect();
    hops.sort();
    assert_eq!(hops, ["10.0.0.1", "10.0.0.2"], "{held:?}");
    let ids = wait_for("both paths from FRR at listen", T, || {
        let mut ids: Vec<u64> = received_routes(&listen.stdout())
            .iter()
            .filter(|r| r["prefix"] == "10.46.0.0/24")
            .filter_map(|r| r["path_id"].as_u64())
            .collect();
        ids.sort();
        ids.dedup();
        (ids.len() == 2).then_some(ids)
    });
    cue.send("withdraw 10.46.0.0/24 path-id 1");
    assert_eq!(cue.reply(T), "ok");
    let gone = wait_for("one path withdrawn at listen", T, || {
        let stdout = listen.stdout();
        let mut events = stdout.lines().filter_map(|l| serde_json::from_str(l).ok());
        events.find_map(|e: serde_json::Value| {
            let ids = e["withdraw_path_ids"].as_array()?;
            (e["withdraw"] == serde_json::json!(["10.46.0.0/24"])).then(|| ids[0].as_u64())?
        })
    });
    assert!(ids.contains(&gone), "{gone} of {ids:?}");
    let left = wait_for("one path left at FRR", T, || {
        let v: serde_json::Value =
            serde_json::from_str(&frr.vtysh("show bgp ipv4 unicast 10.46.0.0/24 json")).ok()?;
        let paths = v["paths"].as_array()?.clone();
        (paths.len() == 1).then_some(paths)
    });
    assert_eq!(left[0]["nexthops"][0]["ip"], "10.0.0.2", "{left:?}");
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
    // Every event listen wrote holds to the schema.
    assert!(!listen.terminate().json().is_empty());
}

/// ExaBGP (`add-path send/receive`, passive) and the speaker with
/// `--add-path both` on one session: our two paths of a prefix reach
/// ExaBGP with their ids (its `path-information`), next hops and MEDs, and
/// ExaBGP's two static paths of a prefix reach us with theirs.
#[test]
fn paths_both_ways_with_exabgp() {
    if !have("exabgp") {
        return skip("exabgp is not installed");
    }
    let port = free_port();
    let dir = Scratch::new("add-path-exabgp");
    let received = dir.path("received.json");
    let config = exabgp_logging(
        r#"
neighbor 127.0.0.1 {
    router-id 127.0.0.4;
    local-address 127.0.0.4;
    local-as 65002;
    peer-as 65001;
    passive true;
    capability {
        add-path send/receive;
    }
    family {
        ipv4 unicast;
    }
    api {
        processes [ log-updates ];
        receive {
            parsed;
            update;
        }
    }
    static {
        route 10.48.0.0/24 next-hop 192.0.2.1 path-information 0.0.0.1;
        route 10.48.0.0/24 next-hop 192.0.2.2 path-information 0.0.0.2;
    }
}
"#,
    );
    std::fs::write(dir.path("exabgp.conf"), config).unwrap();
    let mut exabgp = exabgp_listening(&dir, "127.0.0.4", port);
    let routes = dir.path("routes");
    std::fs::write(
        &routes,
        "10.47.0.0/24 path-id 1 next-hop 10.0.0.1 med 10
         10.47.0.0/24 path-id 2 next-hop 10.0.0.2 med 20
",
    )
    .unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--add-path",
        "both",
        "--advertise-file",
        routes.to_str().unwrap(),
        "--json",
        "65001",
        "127.0.0.1",
        "127.0.0.4",
    ]);
    // At ExaBGP: (path-information, next hop, MED) of each path.
    let mut at_exabgp = wait_for("our two paths at ExaBGP", T, || {
        let text = std::fs::read_to_string(&received).unwrap_or_default();
        let mut paths = Vec::new();
        for v in text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        {
            let update = &v["neighbor"]["message"]["update"];
            let med = update["attribute"]["med"].as_u64();
            let Some(hops) = update["announce"]["ipv4 unicast"].as_object() else {
                continue;
            };
            for (hop, nlris) in hops {
                for n in nlris.as_array().into_iter().flatten() {
                    if n["nlri"] == "10.47.0.0/24" {
                        let id = n["path-information"].as_str().unwrap_or("").to_string();
                        paths.push((id, hop.clone(), med));
                    }
                }
            }
        }
        (paths.len() >= 2).then_some(paths)
    });
    at_exabgp.sort();
    assert_eq!(
        at_exabgp,
        [
            ("0.0.0.1".to_string(), "10.0.0.1".to_string(), Some(10)),
            ("0.0.0.2".to_string(), "10.0.0.2".to_string(), Some(20)),
        ]
    );
    // At the speaker: ExaBGP's two paths with their ids.
    let mut ours = wait_for("ExaBGP's two paths at the speaker", T, || {
        let paths: Vec<(u64, String)> = received_routes(&cue.stdout())
            .iter()
            .filter(|r| r["prefix"] == "10.48.0.0/24")
            .filter_map(|r| Some((r["path_id"].as_u64()?, r["next_hop"].as_str()?.to_string())))
            .collect();
        (paths.len() >= 2).then_some(paths)
    });
    ours.sort();
    assert_eq!(
        ours,
        [(1, "192.0.2.1".to_string()), (2, "192.0.2.2".to_string())]
    );
    assert!(cue.terminate().status.success());
    let _ = exabgp.kill();
    let _ = exabgp.wait();
}

#[test]
fn without_add_path_the_lowest_path_id_goes_alone() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    let p = port.to_string();
    let dir = Scratch::new("add-path-lowest");
    let routes = dir.path("routes");
    std::fs::write(
        &routes,
        "10.50.0.0/24 path-id 5 med 5\n10.50.0.0/24 path-id 3 med 3\n",
    )
    .unwrap();
    let _cue = Cue::start(&[
        "--port",
        &p,
        "--add-path",
        "send",
        "--advertise-file",
        routes.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the route at BIRD", T, || bird.route("10.50.0.0/24"));
    std::thread::sleep(Duration::from_millis(500));
    let out = bird.birdc(&["show", "route", "10.50.0.0/24", "all"]);
    assert_eq!(out.matches("BGP.med:").count(), 1, "{out}");
    assert!(out.contains("BGP.med: 3"), "{out}");
}

/// A passive gobgpd (AS 65002) on `port` for cue-bgp at 127.0.0.1 that
/// sends up to 8 paths a prefix and receives several (`add-paths`).
fn gobgp_with_add_paths(port: u16) -> Gobgp {
    let add_paths = r#"
  [neighbors.add-paths.config]
    receive = true
    send-max = 8"#;
    let config = passive_gobgp_config(65002, "127.0.0.1", port, "127.0.0.1", 65001, "");
    Gobgp::start(&format!("{}{add_paths}\n", config.trim_end()))
}

/// The next hops of the paths of `prefix` in a `gobgp global rib -j`
/// answer, sorted.
fn gobgp_next_hops(rib: &serde_json::Value, prefix: &str) -> Vec<String> {
    let mut hops: Vec<String> = rib[prefix]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|path| {
            let attrs = path["attrs"].as_array()?;
            let nh = gobgp_attr(attrs, 3)?;
            nh["nexthop"].as_str().map(str::to_string)
        })
        .collect();
    hops.sort();
    hops
}

#[test]
fn paths_both_ways_with_gobgp() {
    if !have("gobgpd") {
        return skip("gobgpd is not installed");
    }
    let port = free_port();
    let g = gobgp_with_add_paths(port);
    // GoBGP's two paths of 10.61.0.0/24, told apart by their identifiers.
    for (hop, id) in [("10.9.9.1", "1"), ("10.9.9.2", "2")] {
        g.gobgp(&[
            "global",
            "rib",
            "add",
            "10.61.0.0/24",
            "nexthop",
            hop,
            "identifier",
            id,
            "-a",
            "ipv4",
        ]);
    }
    let dir = Scratch::new("add-path-gobgp");
    let routes = dir.path("routes");
    std::fs::write(
        &routes,
        "10.60.0.0/24 path-id 1 next-hop 10.0.0.1\n10.60.0.0/24 path-id 2 next-hop 10.0.0.2\n",
    )
    .unwrap();
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--add-path",
        "both",
        "--json",
        "--advertise-file",
        routes.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    let hops = wait_for("both paths of 10.60.0.0/24 at GoBGP", T, || {
        let h = gobgp_next_hops(&g.rib("ipv4"), "10.60.0.0/24");
        (h.len() == 2).then_some(h)
    });
    assert_eq!(hops, ["10.0.0.1", "10.0.0.2"]);
    let got = wait_for("both of GoBGP's paths", T, || {
        let r: Vec<_> = received_routes(&cue.stdout())
            .into_iter()
            .filter(|r| r["prefix"] == "10.61.0.0/24")
            .collect();
        (r.len() >= 2).then_some(r)
    });
    let mut ids: Vec<_> = got.iter().map(|r| r["path_id"].as_u64()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "two paths, two ids: {got:?}");
    assert!(ids.iter().all(Option::is_some), "{got:?}");
    assert!(cue.terminate().status.success());
}
