//! BFD (RFC 5880/5881) against BIRD's `protocol bfd` and `bfd on`, over a
//! veth pair between two network namespaces the test creates (single hop:
//! TTL 255, UDP 3784). The BGP hold time is 30 s, so anything faster is
//! BFD: the session comes up with BFD; `kill -STOP` of cue-bgp makes BIRD
//! drop the route within about interval x multiplier; a BIRD that stops
//! answering makes cue-bgp close its session (Cease / BFD Down) within the
//! same, and the session comes back with BFD. Then the same against FRR's
//! bfdd and bgpd.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// Two namespaces joined by a veth pair: `a` (10.77.0.1) for cue-bgp, `b`
/// (10.77.0.2) for the daemon.
type Link = Veth;

fn link() -> Option<Link> {
    let v = Veth::new("bfd")?;
    let ok = v.ip(false, &["addr", "add", "10.77.0.1/24", "dev", "va"])
        && v.ip(true, &["addr", "add", "10.77.0.2/24", "dev", "vb"])
        && v.ip(false, &["link", "set", "va", "up"])
        && v.ip(true, &["link", "set", "vb", "up"]);
    ok.then_some(v)
}

/// BIRD in `b`, waiting for cue-bgp at 10.77.0.1 (iBGP, hold time 30 s),
/// with BFD at 100 ms x 3 on the link.
fn bird(link: &Link) -> Bird {
    Bird::start_in(
        r#"
log stderr all;
router id 10.77.0.2;
protocol device {}
protocol bfd {
  interface "vb" { interval 100 ms; multiplier 3; };
}
protocol bgp lb {
  local 10.77.0.2 port 179 as 65001;
  neighbor 10.77.0.1 as 65001;
  passive;
  direct;   # single hop: BIRD takes iBGP as multihop otherwise
  hold time 30;
  bfd on;
  error wait time 1, 2;
  debug { states, routes };
  ipv4 { import all; export none; };
}
"#,
        Some(&link.b),
    )
}

fn speaker(link: &Link) -> Cue {
    Cue::start_in(
        &link.a,
        &[
            "--bfd",
            "--bfd-interval",
            "100ms",
            "--hold-time",
            "30",
            "--connect-retry",
            "500ms",
            "--json",
            "-a",
            "203.0.113.7",
            "65001",
            "10.77.0.1",
            "10.77.0.2",
        ],
    )
}

fn has_route(bird: &Bird) -> bool {
    prefixes(bird).contains(&"203.0.113.7/32".to_string())
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// Failover both ways with a peer `name` that holds our route while
/// `has_route` says so, and that `stop` sends signals to: cue-bgp is
/// stopped (a hung process), the peer's BFD misses three packets and its
/// BGP session goes with the route, long before the 30 s hold time; the
/// route comes back; then the peer is stopped and cue-bgp's BFD closes the
/// session at once.
fn both_ways(name: &str, cue: &Cue, has_route: impl Fn() -> bool, stop: impl Fn(&str)) {
    signal(cue.pid(), "-STOP");
    let stopped = Instant::now();
    wait_for(&format!("{name} to drop the route"), T, || {
        (!has_route()).then_some(())
    });
    let withdrawn = stopped.elapsed();
    signal(cue.pid(), "-CONT");
    assert!(
        withdrawn < Duration::from_secs(3),
        "{name} withdrew after {withdrawn:?}"
    );
    eprintln!("{name} withdrew the route {withdrawn:?} after cue-bgp stopped (100 ms x 3)");
    wait_for("the route back", T, || has_route().then_some(()));

    let before = cue.stdout().lines().count();
    stop("-STOP");
    let stopped = Instant::now();
    let line = wait_for("cue-bgp to close on BFD down", T, || {
        cue.stdout()
            .lines()
            .skip(before)
            .find(|l| l.contains(r#""event":"down""#) && l.contains("BFD down"))
            .map(str::to_string)
    });
    let closed = stopped.elapsed();
    stop("-CONT");
    assert!(
        closed < Duration::from_secs(3),
        "closed after {closed:?}: {line}"
    );
    assert!(line.contains("control detection time expired"), "{line}");
    eprintln!("cue-bgp closed {closed:?} after {name} stopped: {line}");
}

#[test]
fn bfd_with_bird_fails_over_in_a_fraction_of_the_hold_time() {
    if !have("bird") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(link) = link() else {
        return skip("this machine does not let us create network namespaces");
    };
    let bird = bird(&link);
    let cue = speaker(&link);
    wait_for("the route at BIRD over a session with BFD", T, || {
        has_route(&bird).then_some(())
    });
    wait_for("BIRD's BFD session up", T, || {
        let sessions = bird.birdc(&["show", "bfd", "sessions"]);
        (sessions.contains("10.77.0.1") && sessions.contains(" Up ")).then_some(())
    });

    both_ways("BIRD", &cue, || has_route(&bird), |sig| bird.signal(sig));
    // And it comes back once BFD is up again.
    wait_for("the session back after BIRD resumes", T, || {
        (has_route(&bird)
            && bird
                .birdc(&["show", "protocols", "lb"])
                .contains("Established"))
        .then_some(())
    });
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    // The status at exit says BFD ran.
    assert!(done.stdout.contains(r#""bfd":"#), "{}", done.stdout);
}

#[test]
fn without_bfd_at_the_peer_the_session_never_comes_up() {
    if !have("bird") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(link) = link() else {
        return skip("this machine does not let us create network namespaces");
    };
    // BIRD without BFD: RFC 5882, no BGP session while BFD is down.
    let bird = Bird::start_in(
        r#"
log stderr all;
router id 10.77.0.2;
protocol device {}
protocol bgp lb {
  local 10.77.0.2 port 179 as 65001;
  neighbor 10.77.0.1 as 65001;
  passive;
  ipv4 { import all; export none; };
}
"#,
        Some(&link.b),
    );
    let cue = speaker(&link);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!has_route(&bird));
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(!done.stdout.contains("ESTABLISHED"), "{}", done.stdout);
    assert!(done.stdout.contains(r#""bfd":"DOWN""#), "{}", done.stdout);
}

/// `listen --bfd --bfd-multihop` waits for a BIRD that dials it (iBGP:
/// multihop BFD, UDP 4784, for BIRD too): BFD comes up first, then the
/// session, and BIRD's route arrives.
#[test]
fn listen_with_multihop_bfd_takes_a_bird_that_dials() {
    if !have("bird") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(link) = link() else {
        return skip("this machine does not let us create network namespaces");
    };
    let bird = Bird::start_in(
        r#"
log stderr all;
router id 10.77.0.2;
protocol device {}
protocol bfd {}
protocol static s4 {
  ipv4;
  route 198.51.100.0/24 blackhole;
}
protocol bgp to_cue {
  local 10.77.0.2 as 65001;
  neighbor 10.77.0.1 port 1179 as 65001;
  hold time 30;
  bfd on;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 { import none; export all; next hop self; };
}
"#,
        Some(&link.b),
    );
    let cue = Cue::start_in(
        &link.a,
        &[
            "listen",
            "--bind",
            "10.77.0.1",
            "--port",
            "1179",
            "--peer",
            "10.77.0.2",
            "--bfd",
            "--bfd-multihop",
            "--bfd-interval",
            "200ms",
            "--json",
            "65001",
            "10.77.0.1",
        ],
    );
    wait_for("BIRD's route at listen", T, || {
        received_routes(&cue.stdout())
            .iter()
            .any(|r| r["prefix"] == "198.51.100.0/24")
            .then_some(())
    });
    let sessions = bird.birdc(&["show", "bfd", "sessions"]);
    assert!(
        sessions.contains("10.77.0.1") && sessions.contains(" Up "),
        "{sessions}"
    );
    let done = cue.terminate();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(done.stdout.contains(r#""bfd":"UP""#), "{}", done.stdout);
}

/// FRR in `b`: zebra (for bgpd to reach bfdd; it learns only the
/// namespace's connected routes, bgpd runs with `--no_kernel`), bfdd with
/// a peer at 100 ms x 3, and bgpd with `neighbor 10.77.0.1 bfd`, all in a
/// scratch directory owned by the `frr` user they run as.
struct FrrBfd {
    dir: Scratch,
    children: Vec<std::process::Child>,
}

impl FrrBfd {
    fn start(link: &Link) -> FrrBfd {
        let dir = Scratch::new("frr-bfd");
        let d = dir.0.to_str().unwrap().to_string();
        std::fs::write(dir.path("zebra.conf"), "hostname cue-test\n").unwrap();
        std::fs::write(
            dir.path("bfdd.conf"),
            "bfd\n peer 10.77.0.1 local-address 10.77.0.2\n  receive-interval 100\n  \
             transmit-interval 100\n  detect-multiplier 3\n !\n!\n",
        )
        .unwrap();
        std::fs::write(
            dir.path("bgpd.conf"),
            "router bgp 65002\n bgp router-id 10.77.0.2\n no bgp ebgp-requires-policy\n \
             neighbor 10.77.0.1 remote-as 65001\n neighbor 10.77.0.1 passive\n \
             neighbor 10.77.0.1 timers 10 30\n neighbor 10.77.0.1 bfd\n!\n",
        )
        .unwrap();
        let _ = Command::new("chown").args(["-R", "frr:frr", &d]).status();
        let zserv = format!("{d}/zserv.api");
        let daemon = |name: &str, extra: &[&str]| {
            let log = std::fs::File::create(dir.path(&format!("{name}.log"))).unwrap();
            Command::new("ip")
                .args(["netns", "exec", &link.b, &format!("/usr/lib/frr/{name}")])
                .args(["-z", &zserv, "--vty_socket", &d])
                .arg("-i")
                .arg(dir.path(&format!("{name}.pid")))
                .arg("-f")
                .arg(dir.path(&format!("{name}.conf")))
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap()
        };
        let mut children = vec![daemon("zebra", &[])];
        wait_for("zebra's socket", T, || {
            dir.path("zserv.api").exists().then_some(())
        });
        let bfdctl = format!("{d}/bfdd.sock");
        children.push(daemon("bfdd", &["--bfdctl", &bfdctl]));
        children.push(daemon(
            "bgpd",
            &["-S", "-n", "-l", "10.77.0.2", "-p", "179"],
        ));
        let frr = FrrBfd { dir, children };
        wait_for("bgpd's vty", T, || {
            frr.vtysh("bgpd", "show bgp summary")
                .contains("10.77.0.1")
                .then_some(())
        });
        frr
    }

    fn vtysh(&self, daemon: &str, cmd: &str) -> String {
        Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir.0)
            .args(["-d", daemon, "-c", cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn has_route(&self) -> bool {
        self.vtysh("bgpd", "show bgp ipv4 unicast 203.0.113.7/32 json")
            .contains("\"paths\"")
    }

    /// Sends `sig` to every daemon.
    fn signal(&self, sig: &str) {
        for c in &self.children {
            signal(c.id(), sig);
        }
    }
}

impl Drop for FrrBfd {
    fn drop(&mut self) {
        self.signal("-CONT");
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The same against FRR's bfdd and bgpd (`neighbor ... bfd`).
#[test]
fn bfd_with_frr_fails_over_in_a_fraction_of_the_hold_time() {
    if !have(BGPD) || !have("vtysh") || !have("/usr/lib/frr/bfdd") {
        return;
    }
    if !is_root() || !have("ip") {
        return skip("network namespaces need root and iproute2");
    }
    let Some(link) = link() else {
        return skip("this machine does not let us create network namespaces");
    };
    let frr = FrrBfd::start(&link);
    let cue = speaker(&link);
    wait_for("the route at FRR over a session with BFD", T, || {
        frr.has_route().then_some(())
    });
    wait_for("FRR's BFD session up", T, || {
        frr.vtysh("bfdd", "show bfd peers brief")
            .lines()
            .any(|l| l.contains("10.77.0.1") && l.contains(" up "))
            .then_some(())
    });
    both_ways("FRR", &cue, || frr.has_route(), |sig| frr.signal(sig));
    wait_for("the route back after FRR resumes", T, || {
        frr.has_route().then_some(())
    });
    assert!(cue.terminate().status.success());
}
