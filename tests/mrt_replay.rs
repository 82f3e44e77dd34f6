//! `--advertise-mrt FILE`: the routes of an MRT file written by another
//! implementation (GoBGP's `table` and `updates` dumps, BIRD's MRT table
//! dumps, FRR's `routes-mrt` dump) or by `listen --mrt`, announced to BIRD with their original
//! attributes: our AS in front of the recorded path (or the path as it is
//! with `--mrt-as-path keep`), our next hop (or the recorded one with
//! `--mrt-keep-next-hop`).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// BIRD's `show route all` for `prefix`, once BIRD holds it.
fn bird_route(bird: &Bird, prefix: &str) -> String {
    wait_for(&format!("BIRD to hold {prefix}"), T, || {
        let all = bird.birdc(&["show", "route", "all", "for", prefix]);
        all.contains("BGP.as_path").then_some(all)
    })
}

/// A BIRD in AS 65003 that takes every route from cue-bgp (AS 65009) on
/// `port`.
fn receiving_bird(port: u16) -> Bird {
    bird_passive(port, "127.0.0.2", "127.0.0.1", 65003, 65009)
}

/// `cue-bgp` in AS 65009 announcing the routes of `file` to BIRD on
/// `port`, with `extra` options; its standard error, which says what was
/// read.
fn replay(port: u16, file: &std::path::Path, extra: &[&str]) -> Cue {
    let p = port.to_string();
    let mut args = vec!["--port", &p, "-m", "-6", "2001:db8::9", "--advertise-mrt"];
    let f = file.to_str().unwrap();
    args.push(f);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["65009", "127.0.0.1", "127.0.0.2"]);
    Cue::start(&args)
}

/// `cue-bgp` in AS 65001 announcing TABLE (written into `dir`) to the
/// implementation that records it, on `port`, with `next_hops` options
/// (GoBGP and FRR refuse loopback next hops: documentation ones).
fn feeder(port: u16, dir: &Scratch, next_hops: &[&str]) -> Cue {
    let file = dir.path("routes.txt");
    std::fs::write(&file, TABLE).unwrap();
    let p = port.to_string();
    let mut args = vec!["--port", &p, "-m"];
    args.extend_from_slice(next_hops);
    let f = file.to_str().unwrap();
    args.extend_from_slice(&["--advertise-file", f, "65001", "127.0.0.1", "127.0.0.1"]);
    Cue::start(&args)
}

/// Routes with their own attributes, as cue-bgp (AS 65001) sends them to
/// the implementation that records them.
const TABLE: &str = "10.70.0.0/24 med 10 community 65000:1 as-path 65010 65020 \
large-community 65000:1:2 ext-community rt:65000:7\n\
10.70.1.0/24 origin incomplete as-path 4200000001\n\
2001:db8:70::/48 med 20 community 65000:2 as-path 65030\n";

/// Checks that BIRD got TABLE through a file recorded from AS 65001.
fn check_table_at_bird(bird: &Bird) {
    check_table_without_ext_community(bird);
    let a = bird_route(bird, "10.70.0.0/24");
    assert!(a.contains("BGP.ext_community: (rt, 65000, 7)"), "{a}");
}

/// As [`check_table_at_bird`], for a writer that leaves extended
/// communities out of its dumps (FRR's `routes-mrt`).
fn check_table_without_ext_community(bird: &Bird) {
    let a = bird_route(bird, "10.70.0.0/24");
    assert!(a.contains("BGP.as_path: 65009 65001 65010 65020"), "{a}");
    assert!(a.contains("BGP.med: 10"), "{a}");
    assert!(a.contains("BGP.community: (65000,1)"), "{a}");
    assert!(a.contains("BGP.large_community: (65000, 1, 2)"), "{a}");
    assert!(a.contains("BGP.next_hop: 127.0.0.1"), "ours: {a}");
    let a = bird_route(bird, "10.70.1.0/24");
    assert!(a.contains("BGP.as_path: 65009 65001 4200000001"), "{a}");
    assert!(a.contains("BGP.origin: Incomplete"), "{a}");
    let a = bird_route(bird, "2001:db8:70::/48");
    assert!(a.contains("BGP.as_path: 65009 65001 65030"), "{a}");
    assert!(a.contains("BGP.med: 20"), "{a}");
    assert!(a.contains("BGP.next_hop: 2001:db8::9"), "ours: {a}");
}

/// A gobgpd in AS 65002 that takes routes from cue-bgp at 127.0.0.1 and
/// dumps its table and the updates it receives as MRT into `dir`.
fn recording_gobgp(port: u16, dir: &Scratch) -> Gobgp {
    let dumps = format!(
        r#"
[[mrt-dump]]
  [mrt-dump.config]
    dump-type = "table"
    file-name = "{}"
    dump-interval = 1
[[mrt-dump]]
  [mrt-dump.config]
    dump-type = "updates"
    file-name = "{}"
"#,
        dir.path("table.dump").display(),
        dir.path("updates.dump").display(),
    );
    Gobgp::start(&passive_gobgp_config(
        65002,
        "127.0.0.1",
        port,
        "127.0.0.1",
        65001,
        &dumps,
    ))
}

#[test]
fn gobgp_dumps_replayed_to_bird() {
    if !have("gobgpd") || !have("bird") {
        return;
    }
    // GoBGP takes the dump file names as Go time layouts, where digits
    // stand for the date: a directory name without any.
    let letters: String = std::process::id()
        .to_string()
        .bytes()
        .map(|d| (b'a' + (d - b'0')) as char)
        .collect();
    let dir = Scratch(std::env::temp_dir().join(format!("cue-gobgp-mrt-{letters}")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let gport = free_port();
    let g = recording_gobgp(gport, &dir);
    // Its dumpers start after its API answers: they create their files.
    wait_for("GoBGP's MRT dumpers", T, || {
        (dir.path("table.dump").exists() && dir.path("updates.dump").exists()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let feeder = feeder(gport, &dir, &["-4", "192.0.2.1", "-6", "2001:db8::1"]);
    wait_for("GoBGP to hold the routes", T, || {
        let n4 = g.rib("ipv4").as_object().map_or(0, |m| m.len());
        let n6 = g.rib("ipv6").as_object().map_or(0, |m| m.len());
        (n4 == 2 && n6 == 1).then_some(())
    });
    // The updates dump has them now; the table dump comes at GoBGP's
    // shortest interval, 60 s.
    let updates = dir.path("updates.dump");
    wait_for("GoBGP's updates dump", T, || {
        (std::fs::metadata(&updates).map_or(0, |m| m.len()) > 100).then_some(())
    });
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(port, &updates, &[]);
    check_table_at_bird(&bird);
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(
        done.stderr.contains("3 routes") && done.stderr.contains("1 peers"),
        "{}",
        done.stderr
    );
    drop(bird);

    let table = dir.path("table.dump");
    wait_for("GoBGP's table dump", Duration::from_secs(90), || {
        (std::fs::metadata(&table).map_or(0, |m| m.len()) > 100).then_some(())
    });
    // Give GoBGP the moment to finish writing it.
    std::thread::sleep(Duration::from_millis(500));
    drop(feeder);
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(port, &table, &[]);
    check_table_at_bird(&bird);
    let done = cue.terminate();
    assert!(done.stderr.contains("RIB records"), "{}", done.stderr);
}

#[test]
fn bird_table_dumps_replayed_to_bird() {
    if !have("bird") {
        return;
    }
    // A BIRD in AS 65002 takes TABLE from cue-bgp (AS 65001) and dumps its
    // IPv4 and IPv6 tables as TABLE_DUMP_V2 every second (BIRD's `protocol
    // mrt`), one file per table.
    let dir = Scratch::new("bird-mrt");
    let rport = free_port();
    let recording = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.3;
protocol device {{}}
protocol bgp lb {{
  local 127.0.0.1 port {rport} as 65002;
  neighbor 127.0.0.1 as 65001;
  passive;
  multihop;
  ipv4 {{ import all; export none; }};
  ipv6 {{ import all; export none; }};
}}
protocol mrt {{
  table "master*";
  filename "{}/%N.mrt";
  period 1;
}}
"#,
        dir.0.display()
    ));
    let feeder = feeder(rport, &dir, &["-6", "2001:db8::1"]);
    for prefix in ["10.70.0.0/24", "10.70.1.0/24", "2001:db8:70::/48"] {
        bird_route(&recording, prefix);
    }
    // The next dumps after every route is in.
    std::thread::sleep(Duration::from_millis(2500));
    let (four, six) = (dir.path("master4.mrt"), dir.path("master6.mrt"));
    for f in [&four, &six] {
        assert!(
            std::fs::metadata(f).map_or(0, |m| m.len()) > 50,
            "BIRD wrote no {}: {:?}",
            f.display(),
            std::fs::read_dir(&dir.0).map(|d| d.count())
        );
    }
    drop(feeder);
    drop(recording);
    // Both dumps in one file, as `cat` makes it: two RIB dumps in a row.
    let both = dir.path("both.mrt");
    let mut bytes = std::fs::read(&four).unwrap();
    bytes.extend(std::fs::read(&six).unwrap());
    std::fs::write(&both, bytes).unwrap();
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(port, &both, &[]);
    check_table_at_bird(&bird);
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(done.stderr.contains("RIB records"), "{}", done.stderr);
}

#[test]
fn frr_table_dump_replayed_to_bird() {
    if !have(BGPD) || !have("vtysh") || !have("bird") {
        return;
    }
    // FRR's bgpd in AS 65002 takes TABLE from cue-bgp (AS 65001) and dumps
    // its RIB as TABLE_DUMP_V2 every second (`dump bgp routes-mrt`).
    let dir = Scratch::new("frr-mrt");
    let dump = dir.path("rib.mrt");
    let fport = free_port();
    let frr = Frr::start(
        &format!(
            r#"
frr defaults traditional
hostname cue-frr-mrt
dump bgp routes-mrt {} 1
router bgp 65002
 bgp router-id 127.0.0.3
 no bgp ebgp-requires-policy
 neighbor 127.0.0.1 remote-as 65001
 address-family ipv4 unicast
  neighbor 127.0.0.1 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 127.0.0.1 activate
 exit-address-family
"#,
            dump.display()
        ),
        fport,
    );
    let feeder = feeder(fport, &dir, &["-4", "192.0.2.1", "-6", "2001:db8::1"]);
    wait_for("FRR to hold the routes", T, || {
        (frr.route("ipv4", "10.70.0.0/24").is_some()
            && frr.route("ipv4", "10.70.1.0/24").is_some()
            && frr.route("ipv6", "2001:db8:70::/48").is_some())
        .then_some(())
    });
    // The next dumps after every route is in.
    std::thread::sleep(Duration::from_millis(2500));
    wait_for("FRR's RIB dump", T, || {
        (std::fs::metadata(&dump).map_or(0, |m| m.len()) > 100).then_some(())
    });
    drop(feeder);
    drop(frr);
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(port, &dump, &[]);
    // FRR writes no extended communities into its RIB dumps.
    check_table_without_ext_community(&bird);
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(done.stderr.contains("3 routes"), "{}", done.stderr);
}

#[test]
fn a_listen_recording_replayed_to_bird_keeping_path_and_next_hop() {
    if !have("bird") {
        return;
    }
    let dir = Scratch::new("mrt-listen");
    let file = dir.path("session.mrt");
    // BIRD (AS 65001) sends TABLE's routes to listen, which records them.
    let lport = free_port();
    let lp = lport.to_string();
    let listen = Command::new(cue_bin())
        .args([
            "listen",
            "--bind",
            "127.0.0.1",
            "--port",
            &lp,
            "-m",
            "--mrt",
        ])
        .arg(&file)
        .args([
            "--expect",
            "10.71.0.0/24 med 10",
            "--expect",
            "10.71.1.0/24",
            "--expect",
            "2001:db8:71::/48",
            "--timeout",
            "30s",
            "65009",
            "127.0.0.9",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let sender = Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.4;
protocol device {{}}
protocol static s4 {{ ipv4; route 10.71.0.0/24 blackhole; route 10.71.1.0/24 blackhole; }}
protocol static s6 {{ ipv6; route 2001:db8:71::/48 blackhole; }}
protocol bgp to_cue {{
  local 127.0.0.4 port {} as 65001;
  neighbor 127.0.0.1 port {lport} as 65009;
  multihop;
  connect retry time 1;
  ipv4 {{ import none; export filter {{
    if net = 10.71.0.0/24 then {{
      bgp_med = 10; bgp_community.add((65000,1)); bgp_large_community.add((65000,1,2));
      bgp_ext_community.add((rt,65000,7)); bgp_path.prepend(65020); bgp_path.prepend(65010);
    }}
    accept;
  }}; next hop address 192.0.2.44; }};
  ipv6 {{ import none; export all; next hop address 2001:db8::44; }};
}}
"#,
        free_port()
    ));
    let out = listen.wait_with_output().unwrap();
    assert!(out.status.success(), "the routes did not arrive at listen");
    drop(sender);

    // As recorded: BIRD put its AS in front of 65010 65020.
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(port, &file, &[]);
    let a = bird_route(&bird, "10.71.0.0/24");
    assert!(a.contains("BGP.as_path: 65009 65001 65010 65020"), "{a}");
    assert!(a.contains("BGP.med: 10"), "{a}");
    assert!(a.contains("BGP.ext_community: (rt, 65000, 7)"), "{a}");
    assert!(a.contains("BGP.large_community: (65000, 1, 2)"), "{a}");
    assert!(a.contains("BGP.next_hop: 127.0.0.1"), "{a}");
    let a = bird_route(&bird, "2001:db8:71::/48");
    assert!(a.contains("BGP.as_path: 65009 65001"), "{a}");
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    drop(bird);

    // Kept: the path exactly as recorded, the recorded next hops.
    let port = free_port();
    let bird = receiving_bird(port);
    let cue = replay(
        port,
        &file,
        &["--mrt-as-path", "keep", "--mrt-keep-next-hop"],
    );
    let a = bird_route(&bird, "10.71.0.0/24");
    assert!(a.contains("BGP.as_path: 65001 65010 65020"), "{a}");
    assert!(a.contains("BGP.next_hop: 192.0.2.44"), "{a}");
    let a = bird_route(&bird, "2001:db8:71::/48");
    assert!(a.contains("BGP.next_hop: 2001:db8::44"), "{a}");
    assert!(cue.terminate().status.success());
}

#[test]
fn bad_mrt_files_are_refused_before_anything_is_sent() {
    let dir = Scratch::new("mrt-bad");
    let file = dir.path("bad.mrt");
    // A TABLE_DUMP_V2 RIB record that claims more bytes than the file has.
    std::fs::write(&file, [0, 0, 0, 1, 0, 13, 0, 2, 0, 0, 0, 40, 0, 0]).unwrap();
    let f = file.to_str().unwrap();
    let err = refused(&["--advertise-mrt", f, "65001", "127.0.0.1", "127.0.0.1"]);
    assert!(
        err.contains("record at byte 0") && err.contains("left in the file"),
        "{err}"
    );
    refused(&[
        "--advertise-mrt",
        "/nonexistent.mrt",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
}
