//! Graceful restart (RFC 4724) against BIRD, both roles. As the restarting
//! speaker: `cue-bgp --graceful-restart` killed with SIGKILL and started
//! again within the restart time, while BIRD's table is polled: no route
//! is ever missing, and BIRD's log shows the graceful restart. A stop with
//! graceful restart still withdraws (BIRD drops the routes at once); a
//! planned restart (SIGUSR1) leaves them at BIRD as stale until the
//! restart time runs out. As the receiving side: `cue-bgp listen
//! --graceful-restart` keeps a killed BIRD's routes as stale, takes them
//! back from the restarted BIRD, and drops them when BIRD stays away past
//! its restart time.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);
const ROUTES: [&str; 2] = ["192.0.2.40/32", "192.0.2.41/32"];

/// A BIRD waiting for the speaker (iBGP), graceful restart on.
fn helper_bird(port: u16) -> Bird {
    ibgp_bird_with(port, "graceful restart on;")
}

fn speaker(port: &str, restart_time: &str) -> Cue {
    Cue::start(&[
        "--graceful-restart",
        restart_time,
        "--port",
        port,
        "--connect-retry",
        "200ms",
        "--json",
        "--trace",
        "-a",
        ROUTES[0],
        "-a",
        ROUTES[1],
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ])
}

fn holds_both(bird: &Bird) -> bool {
    let p = prefixes(bird);
    ROUTES.iter().all(|r| p.contains(&r.to_string()))
}

#[test]
fn bird_keeps_every_route_while_the_speaker_restarts_after_sigkill() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let bird = Arc::new(helper_bird(port));
    let first = speaker(&p, "30s");
    wait_for("both routes at BIRD", T, || holds_both(&bird).then_some(()));
    // End-of-RIB went with the first advertisement.
    wait_for("End-of-RIB sent", T, || {
        first
            .stdout()
            .lines()
            .any(|l| l.contains("sent") && l.contains("End-of-RIB ipv4-unicast"))
            .then_some(())
    });

    // Poll BIRD's table throughout the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let (polls, misses) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let poller = {
        let (bird, stop, polls, misses) =
            (bird.clone(), stop.clone(), polls.clone(), misses.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if !holds_both(&bird) {
                    misses.fetch_add(1, Ordering::Relaxed);
                }
                polls.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status();
    drop(first);
    std::thread::sleep(Duration::from_secs(1));
    let second = speaker(&p, "30s");
    wait_for("BIRD's graceful restart to finish", T, || {
        bird.log()
            .contains("Neighbor graceful restart done")
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    assert!(polls.load(Ordering::Relaxed) > 20, "BIRD was polled");
    assert_eq!(
        misses.load(Ordering::Relaxed),
        0,
        "a route was missing at BIRD during the restart:\n{}",
        bird.log()
    );
    let log = bird.log();
    assert!(log.contains("Neighbor graceful restart detected"), "{log}");
    assert_eq!(removals(&bird, ROUTES[0]), 0, "never removed: {log}");
    assert!(holds_both(&bird));
    drop(second);
}

#[test]
fn a_restart_leaves_stale_routes_for_the_restart_time_and_a_stop_withdraws() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let bird = helper_bird(port);
    // A stop (SIGTERM), graceful restart negotiated: withdrawn and Cease,
    // and BIRD drops the routes at once, not after the restart time.
    let cue = speaker(&p, "30s");
    wait_for("both routes at BIRD", T, || holds_both(&bird).then_some(()));
    let out = cue.terminate();
    assert!(out.status.success());
    assert!(
        out.stdout.contains("\"notification\""),
        "a Cease: {}",
        out.stdout
    );
    wait_for("the routes to go at once", Duration::from_secs(3), || {
        prefixes(&bird).is_empty().then_some(())
    });
    // A planned restart (SIGUSR1): closed without a NOTIFICATION, the
    // routes kept as stale for the restart time.
    let cue = speaker(&p, "3s");
    wait_for("both routes at BIRD", T, || holds_both(&bird).then_some(()));
    let _ = std::process::Command::new("kill")
        .args(["-USR1", &cue.pid().to_string()])
        .status();
    let out = cue.wait(Duration::from_secs(5));
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        !out.stdout.contains("\"notification\""),
        "no Cease for a restart: {}",
        out.stdout
    );
    // Right after the stop, BIRD still forwards to us...
    std::thread::sleep(Duration::from_millis(500));
    assert!(holds_both(&bird), "{}", bird.log());
    // ...and drops the routes once the restart time is over.
    let started = Instant::now();
    wait_for("the stale routes to go", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
    assert!(started.elapsed() > Duration::from_secs(1));
}

/// A BIRD dialling `cue-bgp listen` on `port`, graceful restart on with
/// `restart_time`, exporting 10.40.0.0/16 and 10.41.0.0/16.
fn restarting_bird(port: u16, restart_time: u32) -> Bird {
    Bird::start(&format!(
        r#"
log stderr all;
router id 127.0.0.2;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 10.40.0.0/16 blackhole;
  route 10.41.0.0/16 blackhole;
}}
protocol bgp to_cue {{
  local 127.0.0.2 port {} as 65002;
  neighbor 127.0.0.1 port {port} as 65001;
  multihop;
  graceful restart on;
  graceful restart time {restart_time};
  connect retry time 1;
  error wait time 1, 2;
  ipv4 {{ import none; export all; next hop self; }};
}}
"#,
        free_port()
    ))
}

fn events_of(cue: &Cue, kind: &str) -> Vec<serde_json::Value> {
    cue.stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == kind)
        .collect()
}

fn withdrawn(cue: &Cue) -> Vec<String> {
    events_of(cue, "update")
        .iter()
        .filter(|e| e["direction"] == "received")
        .flat_map(|e| e["withdraw"].as_array().cloned().unwrap_or_default())
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn listen_keeps_a_restarting_birds_routes_as_stale() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(
        &p,
        &["--trace", "--graceful-restart", "30s", "65001", "127.0.0.3"],
    );
    // (with --trace: BIRD's OPENs and End-of-RIB are in the output)
    let mut bird = restarting_bird(port, 30);
    wait_for("the two routes from BIRD", T, || {
        (received_routes(&cue.stdout()).len() >= 2).then_some(())
    });
    bird.restart_gracefully();
    let restarting = wait_for("the restarting event", T, || {
        events_of(&cue, "restarting").first().cloned()
    });
    assert_eq!(restarting["stale"], 2, "{restarting}");
    assert_eq!(restarting["restart_time"], 30);
    // BIRD comes back and announces both again: nothing was withdrawn.
    wait_for("the routes again", T, || {
        (received_routes(&cue.stdout()).len() >= 4).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(withdrawn(&cue).is_empty(), "{}", cue.stdout());
    let out = cue.stdout();
    assert!(
        out.contains("graceful-restart 30s restarting ipv4-unicast(forwarding)"),
        "BIRD said it restarted and kept forwarding: {out}"
    );
    assert!(out.contains("End-of-RIB"), "{out}");
    let out = cue.terminate();
    let held: Vec<_> = out
        .json()
        .into_iter()
        .filter(|e| e["event"] == "route")
        .collect();
    assert_eq!(held.len(), 2, "{}", out.stdout);
}

/// `listen --graceful-restart` with the two routes of a BIRD (restart time
/// `restart_time`) that is then killed with SIGKILL (no NOTIFICATION):
/// returned once the listener says BIRD is restarting.
fn killed_bird(restart_time: u32) -> (Cue, Bird) {
    let port = free_port();
    let p = port.to_string();
    let cue = Cue::listen(&p, &["--graceful-restart", "30s", "65001", "127.0.0.3"]);
    let bird = restarting_bird(port, restart_time);
    wait_for("the two routes from BIRD", T, || {
        (received_routes(&cue.stdout()).len() >= 2).then_some(())
    });
    bird.signal("-KILL");
    wait_for("the restarting event", T, || {
        events_of(&cue, "restarting").first().cloned()
    });
    (cue, bird)
}

#[test]
fn listen_drops_stale_routes_when_the_restart_time_runs_out() {
    if !have("bird") {
        return;
    }
    // BIRD does not come back within its restart time of 2 s.
    let (cue, bird) = killed_bird(2);
    let at = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    assert!(withdrawn(&cue).is_empty(), "kept while BIRD restarts");
    wait_for("the stale routes withdrawn", T, || {
        (withdrawn(&cue).len() == 2).then_some(())
    });
    assert!(
        at.elapsed() >= Duration::from_secs(1),
        "after the restart time"
    );
    drop(bird);
}

#[test]
fn listen_shows_stale_routes_as_stale() {
    if !have("bird") {
        return;
    }
    let (cue, bird) = killed_bird(30);
    let out = cue.terminate();
    let held: Vec<_> = out
        .json()
        .into_iter()
        .filter(|e| e["event"] == "route")
        .collect();
    assert_eq!(held.len(), 2, "{}", out.stdout);
    assert!(held.iter().all(|r| r["stale"] == true), "{held:?}");
    drop(bird);
}
