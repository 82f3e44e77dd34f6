//! The interoperability matrix, sending side: BIRD, FRR, GoBGP and ExaBGP
//! each send routes to `cue-bgp listen` over IPv6 transport, eBGP from a
//! 4-octet AS (4200000002), multiprotocol (an IPv4 and an IPv6 route on the
//! one session), with MED, communities, large and extended communities and
//! a prepended path; then withdraw one route; then the daemon is killed and
//! started again and the routes come back. `listen` is driven with
//! `--commands` and answers `expect` for each step.
//!
//! Then iBGP over IPv4 transport: each daemon, in the AS of `listen`, sends
//! routes with LOCAL_PREF and MED over 127.0.0.1 and withdraws one.
//!
//! The receiving side: each daemon takes routes from the speaker the same
//! way (IPv6 transport, eBGP to a 4-octet AS, multiprotocol, routes with
//! every attribute kind from an --advertise-file), then a `withdraw`
//! command, then a restart of the daemon, after which the speaker connects
//! again and the routes are back. More cells of the matrix are in bird.rs,
//! gobgp.rs, samples.rs, attributes.rs and mrt_replay.rs; the README's
//! table names the test of each.

mod common;

use common::*;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// What every daemon sends, as `expect` states it: ext-community included.
const ROUTES: &str = "10.80.0.0/24 med 30 community 65002:1 large-community 4200000002:1:2 \
ext-community rt:65002:7 as-path 4200000002 4200000002 \
10.80.1.0/24 as-path 4200000002 \
2001:db8:80::/48 med 30 community 65002:1 as-path 4200000002 4200000002";

/// `cue-bgp listen` on `[::1]:port` (AS 65001), multiprotocol, taking
/// commands.
fn listen(port: u16) -> Interactive {
    listen_on("::1", port, &["-m"])
}

/// `cue-bgp listen` on `address`:`port` (AS 65001) with `options`, taking
/// commands.
fn listen_on(address: &str, port: u16, options: &[&str]) -> Interactive {
    let p = port.to_string();
    let mut args = vec!["listen", "--bind", address, "--port", &p];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--commands", "65001", "127.0.0.9"]);
    let cue = Interactive::start(&args);
    std::thread::sleep(Duration::from_millis(200));
    cue
}

/// Sends `expect ROUTES 30s` and returns the answer.
fn expect(cue: &mut Interactive, routes: &str) -> String {
    cue.send(&format!("expect {routes} 30s"));
    cue.reply(Duration::from_secs(40))
}

/// Waits for an output line that contains every one of `words`.
fn wait_line(cue: &mut Interactive, words: &[&str]) -> String {
    let start = Instant::now();
    loop {
        let left = T
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("no line with {words:?} within {T:?}"));
        let l = cue.lines.recv_timeout(left).expect("a line from listen");
        if words.iter().all(|w| l.contains(w)) {
            return l;
        }
    }
}

/// The three steps every daemon goes through: all routes with their
/// attributes, one withdrawn, and back after a restart.
fn steps(cue: &mut Interactive, withdraw: impl FnOnce(), restart: impl FnOnce()) {
    assert_eq!(expect(cue, ROUTES), "ok");
    withdraw();
    wait_line(cue, &["withdrawn by peer", "10.80.1.0/24"]);
    assert_eq!(expect(cue, "10.80.0.0/24 2001:db8:80::/48"), "ok");
    restart();
    wait_line(cue, &["session down"]);
    assert_eq!(
        expect(
            cue,
            "10.80.0.0/24 med 30 as-path 4200000002 4200000002 2001:db8:80::/48"
        ),
        "ok"
    );
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
}

/// BIRD listens on `listen`, a port of its own: its default, 179, is
/// shared by every BIRD the tests start.
fn bird_config(port: u16, listen: u16, withdrawn: bool) -> String {
    let second = if withdrawn {
        String::new()
    } else {
        "protocol static s4b { ipv4; route 10.80.1.0/24 blackhole; }".to_string()
    };
    format!(
        r#"
log stderr all;
router id 127.0.0.4;
protocol device {{}}
protocol static s4 {{ ipv4; route 10.80.0.0/24 blackhole; }}
{second}
protocol static s6 {{ ipv6; route 2001:db8:80::/48 blackhole; }}
filter attrs {{
  if net != 10.80.1.0/24 then {{
    bgp_med = 30; bgp_community.add((65002,1)); bgp_path.prepend(4200000002);
    if net = 10.80.0.0/24 then {{
      bgp_large_community.add((4200000002,1,2)); bgp_ext_community.add((rt,65002,7));
    }}
  }}
  accept;
}}
protocol bgp to_cue {{
  local ::1 port {listen} as 4200000002;
  neighbor ::1 port {port} as 65001;
  multihop;
  connect retry time 1;
  ipv4 {{ import none; export filter attrs; next hop address 192.0.2.80; }};
  ipv6 {{ import none; export filter attrs; next hop address 2001:db8::80; }};
}}
"#
    )
}

#[test]
fn bird_sends_to_listen() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let mut cue = listen(port);
    let listen = free_port();
    let bird = std::cell::RefCell::new(Bird::start(&bird_config(port, listen, false)));
    let _show = Show(bird.borrow().dir.path("bird.log"));
    steps(
        &mut cue,
        || {
            let b = bird.borrow();
            std::fs::write(b.dir.path("bird.conf"), bird_config(port, listen, true)).unwrap();
            b.birdc(&["configure"]);
        },
        || bird.borrow_mut().restart(),
    );
}

fn frr_config(port: u16, withdrawn: bool) -> String {
    let second = if withdrawn {
        ""
    } else {
        "  network 10.80.1.0/24\n"
    };
    format!(
        r#"
frr defaults traditional
hostname cue-matrix
router bgp 4200000002
 bgp router-id 127.0.0.4
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ::1 remote-as 65001
 neighbor ::1 port {port}
 neighbor ::1 timers connect 1
 address-family ipv4 unicast
  network 10.80.0.0/24 route-map ATTRS
{second}  neighbor ::1 activate
  neighbor ::1 route-map NH4 out
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:80::/48 route-map ATTRS
  neighbor ::1 activate
  neighbor ::1 route-map NH6 out
 exit-address-family
route-map ATTRS permit 10
 set metric 30
 set community 65002:1
 set large-community 4200000002:1:2
 set extcommunity rt 65002:7
 set as-path prepend 4200000002
route-map NH4 permit 10
 set ip next-hop 192.0.2.80
route-map NH6 permit 10
 set ipv6 next-hop global 2001:db8::80
"#
    )
}

#[test]
fn frr_sends_to_listen() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let mut cue = listen(port);
    let frr = std::cell::RefCell::new(Some(Frr::start(&frr_config(port, false), free_port())));
    steps(
        &mut cue,
        || {
            frr.borrow().as_ref().unwrap().vtysh(
                "configure terminal\nrouter bgp 4200000002\naddress-family ipv4 unicast\nno network 10.80.1.0/24",
            );
        },
        || {
            frr.borrow_mut().take();
            *frr.borrow_mut() = Some(Frr::start(&frr_config(port, true), free_port()));
        },
    );
}

fn gobgp_config(port: u16) -> String {
    gobgp_dialling(port, 4200000002, "::1", &["ipv4-unicast", "ipv6-unicast"])
}

/// A GoBGP in `local_as` that dials `listen` (AS 65001) at
/// `address`:`port` with `families`.
fn gobgp_dialling(port: u16, local_as: u32, address: &str, families: &[&str]) -> String {
    let families: String = families
        .iter()
        .map(|f| {
            format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
            )
        })
        .collect();
    format!(
        r#"
[global.config]
  as = {local_as}
  router-id = "127.0.0.4"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{address}"
    peer-as = 65001
  [neighbors.transport.config]
    remote-port = {port}
    local-address = "{address}"
  [neighbors.timers.config]
    connect-retry = 1
{families}"#
    )
}

fn gobgp_routes(g: &Gobgp) {
    g.gobgp(&[
        "global",
        "rib",
        "-a",
        "ipv4",
        "add",
        "10.80.0.0/24",
        "nexthop",
        "192.0.2.80",
        "med",
        "30",
        "community",
        "65002:1",
        "large-community",
        "4200000002:1:2",
        "rt",
        "65002:7",
        "aspath",
        "4200000002",
    ]);
    g.gobgp(&[
        "global",
        "rib",
        "-a",
        "ipv4",
        "add",
        "10.80.1.0/24",
        "nexthop",
        "192.0.2.80",
    ]);
    g.gobgp(&[
        "global",
        "rib",
        "-a",
        "ipv6",
        "add",
        "2001:db8:80::/48",
        "nexthop",
        "2001:db8::80",
        "med",
        "30",
        "community",
        "65002:1",
        "aspath",
        "4200000002",
    ]);
}

#[test]
fn gobgp_sends_to_listen() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let mut cue = listen(port);
    let g = std::cell::RefCell::new(Some(Gobgp::start(&gobgp_config(port))));
    gobgp_routes(g.borrow().as_ref().unwrap());
    steps(
        &mut cue,
        || {
            g.borrow().as_ref().unwrap().gobgp(&[
                "global",
                "rib",
                "-a",
                "ipv4",
                "del",
                "10.80.1.0/24",
            ]);
        },
        || {
            g.borrow_mut().take();
            let new = Gobgp::start(&gobgp_config(port));
            gobgp_routes(&new);
            *g.borrow_mut() = Some(new);
        },
    );
}

fn exabgp_config(port: u16, script: &std::path::Path) -> String {
    exabgp_neighbor(
        "::1",
        4200000002,
        port,
        script,
        "ipv4 unicast; ipv6 unicast;",
        "route 10.80.0.0/24 next-hop 192.0.2.80 med 30 community [ 65002:1 ] large-community [ 4200000002:1:2 ] extended-community [ target:65002:7 ] as-path [ 4200000002 4200000002 ];
        route 10.80.1.0/24 next-hop 192.0.2.80;
        route 2001:db8:80::/48 next-hop 2001:db8::80 med 30 community [ 65002:1 ] as-path [ 4200000002 4200000002 ];",
    )
}

/// ExaBGP in `local_as` dialling `listen` (AS 65001) at `address`:`port`
/// with `families` and the `routes` of its static section, and the API
/// process `script`.
fn exabgp_neighbor(
    address: &str,
    local_as: u32,
    port: u16,
    script: &std::path::Path,
    families: &str,
    routes: &str,
) -> String {
    let script = script.display();
    format!(
        r#"
process withdraw {{
    run {script};
    encoder text;
}}

neighbor {address} {{
    router-id 127.0.0.4;
    local-address {address};
    local-as {local_as};
    peer-as 65001;
    connect {port};
    family {{
        {families}
    }}
    api {{
        processes [ withdraw ];
    }}
    static {{
        {routes}
    }}
}}
"#
    )
}

/// The API process that sends `line` (a withdrawal) once the file
/// `trigger` exists (ExaBGP runs it in a directory of its own), then stays
/// while ExaBGP runs: a killed ExaBGP does not take its processes along, so
/// the script ends by itself once its parent is gone.
fn withdraw_sh(trigger: &std::path::Path, line: &str) -> String {
    format!(
        "#!/bin/sh\n\
         while [ ! -e '{}' ] && kill -0 $PPID 2>/dev/null; do sleep 0.1; done\n\
         echo '{line}'\n\
         while kill -0 $PPID 2>/dev/null; do sleep 1; done\n",
        trigger.display()
    )
}

/// ExaBGP in `dir` with the configuration `config` makes of the path of its
/// API script, which sends `withdraw` once the file `withdraw` exists.
fn exabgp_with(
    dir: &Scratch,
    config: impl Fn(&std::path::Path) -> String,
    withdraw: &str,
) -> Child {
    let script = dir.path("withdraw.sh");
    std::fs::write(dir.path("exabgp.conf"), config(&script)).unwrap();
    std::fs::write(&script, withdraw_sh(&dir.path("withdraw"), withdraw)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path("exabgp.log"))
        .unwrap();
    Command::new("exabgp")
        .arg("./exabgp.conf")
        .current_dir(&dir.0)
        .env("exabgp.tcp.bind", "")
        .env("exabgp.daemon.user", current_user())
        .env("exabgp.cli.enable", "false")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start exabgp")
}

fn exabgp(dir: &Scratch, port: u16) -> Child {
    exabgp_with(
        dir,
        |script| exabgp_config(port, script),
        "withdraw route 10.80.1.0/24 next-hop 192.0.2.80",
    )
}

#[test]
fn exabgp_sends_to_listen() {
    if !have("exabgp") {
        return;
    }
    let port = free_port();
    let mut cue = listen(port);
    let dir = Scratch::new("matrix-exabgp");
    let child = std::cell::RefCell::new(exabgp(&dir, port));
    let log = dir.path("exabgp.log");
    let _show = Show(log);
    steps(
        &mut cue,
        || std::fs::write(dir.path("withdraw"), "").unwrap(),
        || {
            let mut c = child.borrow_mut();
            let _ = c.kill();
            let _ = c.wait();
            let _ = std::fs::remove_file(dir.path("withdraw"));
            *c = exabgp(&dir, port);
        },
    );
    let mut c = child.borrow_mut();
    let _ = c.kill();
    let _ = c.wait();
}

/// iBGP over IPv4 transport, sending side: each daemon in AS 65001, as
/// `listen` is, sends two routes with LOCAL_PREF 200 (one with MED 10) over
/// 127.0.0.1, then withdraws one.
const IBGP_ROUTES: &str = "10.81.0.0/24 local-pref 200 med 10 10.81.1.0/24 local-pref 200";

/// The routes with their LOCAL_PREF, then one withdrawn.
fn ibgp_steps(cue: &mut Interactive, withdraw: impl FnOnce()) {
    assert_eq!(expect(cue, IBGP_ROUTES), "ok");
    withdraw();
    wait_line(cue, &["withdrawn by peer", "10.81.1.0/24"]);
    assert_eq!(expect(cue, "10.81.0.0/24 local-pref 200 med 10"), "ok");
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
}

fn bird_ibgp_config(port: u16, listen: u16, withdrawn: bool) -> String {
    let second = if withdrawn {
        ""
    } else {
        "protocol static s4b { ipv4; route 10.81.1.0/24 blackhole; }"
    };
    format!(
        r#"
log stderr all;
router id 127.0.0.4;
protocol device {{}}
protocol static s4 {{ ipv4; route 10.81.0.0/24 blackhole; }}
{second}
filter attrs {{
  bgp_local_pref = 200;
  if net = 10.81.0.0/24 then bgp_med = 10;
  accept;
}}
protocol bgp to_cue {{
  local 127.0.0.1 port {listen} as 65001;
  neighbor 127.0.0.1 port {port} as 65001;
  connect retry time 1;
  ipv4 {{ import none; export filter attrs; next hop address 192.0.2.81; }};
}}
"#
    )
}

#[test]
fn bird_sends_to_listen_over_ibgp_and_ipv4() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let mut cue = listen_on("127.0.0.1", port, &[]);
    let listen = free_port();
    let bird = Bird::start(&bird_ibgp_config(port, listen, false));
    let _show = Show(bird.dir.path("bird.log"));
    ibgp_steps(&mut cue, || {
        std::fs::write(
            bird.dir.path("bird.conf"),
            bird_ibgp_config(port, listen, true),
        )
        .unwrap();
        bird.birdc(&["configure"]);
    });
}

#[test]
fn gobgp_sends_to_listen_over_ibgp_and_ipv4() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let mut cue = listen_on("127.0.0.1", port, &[]);
    let g = Gobgp::start(&gobgp_dialling(port, 65001, "127.0.0.1", &["ipv4-unicast"]));
    g.gobgp(&[
        "global",
        "rib",
        "-a",
        "ipv4",
        "add",
        "10.81.0.0/24",
        "nexthop",
        "192.0.2.81",
        "local-pref",
        "200",
        "med",
        "10",
    ]);
    g.gobgp(&[
        "global",
        "rib",
        "-a",
        "ipv4",
        "add",
        "10.81.1.0/24",
        "nexthop",
        "192.0.2.81",
        "local-pref",
        "200",
    ]);
    ibgp_steps(&mut cue, || {
        g.gobgp(&["global", "rib", "-a", "ipv4", "del", "10.81.1.0/24"]);
    });
}

#[test]
fn frr_sends_to_listen_over_ibgp_and_ipv4() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let mut cue = listen_on("127.0.0.1", port, &[]);
    let frr = Frr::start(
        &format!(
            r#"
frr defaults traditional
hostname cue-matrix-ibgp
router bgp 65001
 bgp router-id 127.0.0.4
 no bgp network import-check
 neighbor 127.0.0.1 remote-as 65001
 neighbor 127.0.0.1 port {port}
 neighbor 127.0.0.1 timers connect 1
 address-family ipv4 unicast
  network 10.81.0.0/24 route-map MED
  network 10.81.1.0/24 route-map LP
  neighbor 127.0.0.1 activate
  neighbor 127.0.0.1 route-map NH4 out
 exit-address-family
route-map MED permit 10
 set metric 10
 set local-preference 200
route-map LP permit 10
 set local-preference 200
route-map NH4 permit 10
 set ip next-hop 192.0.2.81
"#
        ),
        free_port(),
    );
    ibgp_steps(&mut cue, || {
        frr.vtysh(
            "configure terminal\nrouter bgp 65001\naddress-family ipv4 unicast\nno network 10.81.1.0/24",
        );
    });
}

#[test]
fn exabgp_sends_to_listen_over_ibgp_and_ipv4() {
    if !have("exabgp") {
        return;
    }
    let port = free_port();
    let mut cue = listen_on("127.0.0.1", port, &[]);
    let dir = Scratch::new("matrix-exabgp-ibgp");
    let mut child = exabgp_with(
        &dir,
        |script| {
            exabgp_neighbor(
                "127.0.0.1",
                65001,
                port,
                script,
                "ipv4 unicast;",
                "route 10.81.0.0/24 next-hop 192.0.2.81 local-preference 200 med 10;
        route 10.81.1.0/24 next-hop 192.0.2.81 local-preference 200;",
            )
        },
        "withdraw route 10.81.1.0/24 next-hop 192.0.2.81",
    );
    let _show = Show(dir.path("exabgp.log"));
    ibgp_steps(&mut cue, || {
        std::fs::write(dir.path("withdraw"), "").unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
}

/// Prints a daemon's log if the test fails, for the reason it gives.
struct Show(std::path::PathBuf);

impl Drop for Show {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.0).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("{}:", self.0.display());
            for l in tail.into_iter().rev() {
                eprintln!("  {l}");
            }
        }
    }
}

/// What the speaker announces in the receiving half: its AS 65001 goes in
/// front of each path at the daemon.
const TABLE: &str = "10.80.0.0/24 med 30 community 65001:1 large-community 65001:1:2 \
ext-community rt:65001:7 as-path 65010\n\
10.80.1.0/24\n\
2001:db8:80::/48 med 40 community 65001:2 as-path 65020\n";

/// The speaker (AS 65001) dialling [::1]:port with TABLE, taking commands.
/// GoBGP and FRR refuse loopback next hops: documentation ones.
fn speaker(port: u16, dir: &Scratch) -> Interactive {
    let file = dir.path("table.txt");
    std::fs::write(&file, TABLE).unwrap();
    let p = port.to_string();
    Interactive::start(&[
        "--port",
        &p,
        "--commands",
        "--connect-retry",
        "1s",
        "-m",
        "-4",
        "192.0.2.1",
        "-6",
        "2001:db8::1",
        "--advertise-file",
        file.to_str().unwrap(),
        "65001",
        "127.0.0.1",
        "::1",
    ])
}

/// The receiving steps: `check(all)` until it holds (all routes, or the
/// one withdrawn gone), then a withdrawal, then a restart.
fn receiving_steps(cue: &mut Interactive, check: impl Fn(bool) -> bool, restart: impl FnOnce()) {
    wait_for("the routes with their attributes", T, || {
        check(true).then_some(())
    });
    cue.send("withdraw 10.80.1.0/24");
    assert_eq!(cue.reply(T), "ok");
    wait_for("the withdrawal", T, || check(false).then_some(()));
    restart();
    wait_for("the routes after the restart", T, || {
        check(false).then_some(())
    });
    cue.send("quit");
    assert_eq!(cue.reply(T), "ok");
}

#[test]
fn bird_receives_from_the_speaker() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = std::cell::RefCell::new(bird_passive(port, "::1", "::1", 4_200_000_002, 65001));
    let dir = Scratch::new("matrix-bird-rx");
    let mut cue = speaker(port, &dir);
    let check = |all: bool| {
        let b = bird.borrow();
        let a = b.birdc(&["show", "route", "all", "for", "10.80.0.0/24"]);
        let six = b.birdc(&["show", "route", "all", "for", "2001:db8:80::/48"]);
        let second = b
            .birdc(&["show", "route", "for", "10.80.1.0/24"])
            .contains("10.80.1.0/24");
        a.contains("BGP.as_path: 65001 65010")
            && a.contains("BGP.med: 30")
            && a.contains("BGP.community: (65001,1)")
            && a.contains("BGP.large_community: (65001, 1, 2)")
            && a.contains("BGP.ext_community: (rt, 65001, 7)")
            && six.contains("BGP.as_path: 65001 65020")
            && six.contains("BGP.med: 40")
            && second == all
    };
    receiving_steps(&mut cue, check, || bird.borrow_mut().restart());
}

#[test]
fn gobgp_receives_from_the_speaker() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let config = passive_gobgp_config(4_200_000_002, "::1", port, "::1", 65001, "");
    let g = std::cell::RefCell::new(Some(Gobgp::start(&config)));
    let dir = Scratch::new("matrix-gobgp-rx");
    let mut cue = speaker(port, &dir);
    let check = |all: bool| {
        let g = g.borrow();
        let Some(g) = g.as_ref() else { return false };
        let v4 = g.rib("ipv4");
        let v6 = g.rib("ipv6");
        let Some(a) = gobgp_attrs(&v4, "10.80.0.0/24") else {
            return false;
        };
        let Some(a6) = gobgp_attrs(&v6, "2001:db8:80::/48") else {
            return false;
        };
        let text = serde_json::to_string(&a).unwrap();
        gobgp_attr(&a, 2)
            .is_some_and(|p| p["as_paths"][0]["asns"] == serde_json::json!([65001, 65010]))
            && gobgp_attr(&a, 4).is_some_and(|m| m["metric"] == 30)
            && gobgp_attr(&a, 8)
                .is_some_and(|c| c["communities"] == serde_json::json!([65001u32 << 16 | 1]))
            && gobgp_attr(&a, 16).is_some()
            && text.contains("\"LocalData2\":2")
            && gobgp_attr(&a6, 4).is_some_and(|m| m["metric"] == 40)
            && gobgp_attrs(&v4, "10.80.1.0/24").is_some() == all
    };
    // The old one goes first: the new one takes its port.
    receiving_steps(&mut cue, check, || {
        g.borrow_mut().take();
        *g.borrow_mut() = Some(Gobgp::start(&config));
    });
}

#[test]
fn frr_receives_from_the_speaker() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let config = r#"
frr defaults traditional
hostname cue-matrix-rx
router bgp 4200000002
 bgp router-id 127.0.0.4
 no bgp ebgp-requires-policy
 neighbor ::1 remote-as 65001
 address-family ipv4 unicast
  neighbor ::1 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ::1 activate
 exit-address-family
"#;
    let frr = std::cell::RefCell::new(Some(Frr::start_on(config, "::1", port)));
    let dir = Scratch::new("matrix-frr-rx");
    let mut cue = speaker(port, &dir);
    let check = |all: bool| {
        let f = frr.borrow();
        let Some(f) = f.as_ref() else { return false };
        let (Some(a), Some(a6)) = (
            f.route("ipv4", "10.80.0.0/24"),
            f.route("ipv6", "2001:db8:80::/48"),
        ) else {
            return false;
        };
        let text = a.to_string();
        a["aspath"]["string"] == "65001 65010"
            && a["metric"] == 30
            && text.contains("65001:1")
            && text.contains("65001:1:2")
            && text.contains("RT:65001:7")
            && a6["metric"] == 40
            && f.route("ipv4", "10.80.1.0/24").is_some() == all
    };
    receiving_steps(&mut cue, check, || {
        frr.borrow_mut().take();
        *frr.borrow_mut() = Some(Frr::start_on(config, "::1", port));
    });
}

#[test]
fn exabgp_receives_from_the_speaker() {
    if !have("exabgp") {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("matrix-exabgp-rx");
    let received = dir.path("received.json");
    let config = exabgp_logging(
        r#"
neighbor ::1 {
    router-id 127.0.0.4;
    local-address ::1;
    local-as 4200000002;
    peer-as 65001;
    passive true;
    family {
        ipv4 unicast;
        ipv6 unicast;
    }
    api {
        processes [ log-updates ];
        receive {
            parsed;
            update;
        }
    }
}
"#,
    );
    std::fs::write(dir.path("exabgp.conf"), config).unwrap();
    let start = || exabgp_listening(&dir, "::1", port);
    let child = std::cell::RefCell::new(start());
    let _show = Show(dir.path("exabgp.log"));
    let mut cue = speaker(port, &dir);
    // What ExaBGP was last told of each prefix: announced with these
    // attributes, or withdrawn.
    let state = || {
        let mut routes: std::collections::BTreeMap<String, Option<serde_json::Value>> =
            Default::default();
        for l in std::fs::read_to_string(&received)
            .unwrap_or_default()
            .lines()
        {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            let u = &v["neighbor"]["message"]["update"];
            if let Some(fams) = u["withdraw"].as_object() {
                for list in fams.values().filter_map(|l| l.as_array()) {
                    for p in list {
                        routes.insert(p["nlri"].as_str().unwrap_or("").to_string(), None);
                    }
                }
            }
            if let Some(fams) = u["announce"].as_object() {
                for nhs in fams.values().filter_map(|n| n.as_object()) {
                    for list in nhs.values().filter_map(|l| l.as_array()) {
                        for p in list {
                            let nlri = p["nlri"].as_str().unwrap_or("").to_string();
                            routes.insert(nlri, Some(u["attribute"].clone()));
                        }
                    }
                }
            }
        }
        routes
    };
    let check = |all: bool| {
        let r = state();
        let Some(Some(a)) = r.get("10.80.0.0/24") else {
            return false;
        };
        let Some(Some(a6)) = r.get("2001:db8:80::/48") else {
            return false;
        };
        a["as-path"] == serde_json::json!([65001, 65010])
            && a["med"] == 30
            && a["community"] == serde_json::json!([[65001, 1]])
            && a["large-community"] == serde_json::json!([[65001, 1, 2]])
            && a.to_string().contains("target:65001:7")
            && a6["med"] == 40
            && matches!(r.get("10.80.1.0/24"), Some(Some(_))) == all
    };
    receiving_steps(&mut cue, check, || {
        let mut c = child.borrow_mut();
        let _ = c.kill();
        let _ = c.wait();
        let _ = std::fs::remove_file(&received);
        *c = start();
    });
    let mut c = child.borrow_mut();
    let _ = c.kill();
    let _ = c.wait();
}
