//! The director as a library, with real backends on loopback and fast
//! intervals: VIPs follow the health of their backends, reconfiguration
//! keeps what stays, a bad configuration is refused whole.

mod common;

use common::Backend;
use cue::director::{Config, Director, DirectorEvent};
use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener};
use std::time::{Duration, Instant};

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn config(services: &str) -> Config {
    Config::from_json(&format!(r#"{{"services": [{services}]}}"#)).unwrap()
}

fn service(vip: &str, port: u16) -> String {
    format!(
        r#"{{"address": "{vip}", "port": 80, "protocol": "tcp", "destinations": [
          {{"address": "127.0.0.1", "port": {port},
            "checks": [{{"type": "tcp", "interval": "50ms", "timeout": "200ms"}}]}}]}}"#
    )
}

fn vips(v: &[&str]) -> BTreeSet<IpAddr> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vips_follow_backend_health() {
    let mut backend = Backend::start("127.0.0.1:0");
    let port = backend.addr.port();
    let (director, mut events) = Director::start(config(&service("192.0.2.1", port))).unwrap();
    director.probe_events(true);
    assert!(director.healthy_vips().is_empty(), "a new VIP starts down");
    assert_eq!(director.all_vips(), vips(&["192.0.2.1"]));
    let d = &director;
    tokio::task::block_in_place(|| {
        wait("the VIP to come up", || {
            d.healthy_vips() == vips(&["192.0.2.1"])
        })
    });
    // The backend goes away: two failed probes (4 of 5 rule) take it down.
    backend.stop();
    let down_at = Instant::now();
    tokio::task::block_in_place(|| wait("the VIP to go down", || d.healthy_vips().is_empty()));
    assert!(down_at.elapsed() < Duration::from_secs(2));
    let status = director.status();
    assert!(
        status[0].destinations[0].diagnostic.contains("refused"),
        "{status:?}"
    );
    // Events: probes, destination and service changes.
    let mut seen = Vec::new();
    while let Some(e) = events.try_recv() {
        seen.push(e);
    }
    assert!(seen
        .iter()
        .any(|e| matches!(e, DirectorEvent::Probe { ok: true, .. })));
    assert!(seen
        .iter()
        .any(|e| matches!(e, DirectorEvent::Destination { up: false, .. })));
    assert!(seen
        .iter()
        .any(|e| matches!(e, DirectorEvent::Service { up: false, .. })));
    // It comes back when the backend does.
    backend.resume();
    tokio::task::block_in_place(|| {
        wait("the VIP to come back", || {
            d.healthy_vips() == vips(&["192.0.2.1"])
        })
    });
    director.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguration_keeps_state_and_refuses_bad_configs() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let pa = a.local_addr().unwrap().port();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let pb = b.local_addr().unwrap().port();
    let (director, _events) = Director::start(config(&service("192.0.2.1", pa))).unwrap();
    let d = &director;
    tokio::task::block_in_place(|| wait("up", || d.healthy_vips().len() == 1));

    // Add a second VIP; the first one stays up throughout (its probe history
    // carries over), the new one starts down and comes up.
    director
        .reconfigure(config(&format!(
            "{},{}",
            service("192.0.2.1", pa),
            service("192.0.2.2", pb)
        )))
        .unwrap();
    assert_eq!(director.healthy_vips(), vips(&["192.0.2.1"]));
    tokio::task::block_in_place(|| wait("both up", || d.healthy_vips().len() == 2));

    // A bad configuration is refused and changes nothing.
    let mut bad = config(&service("192.0.2.9", pa));
    bad.services[0].port = 0;
    let err = director.reconfigure(bad).unwrap_err();
    assert_eq!(err.field(), "port", "{err}");
    assert_eq!(director.all_vips(), vips(&["192.0.2.1", "192.0.2.2"]));
    assert_eq!(director.healthy_vips().len(), 2);

    // Removing a service removes its VIP.
    director
        .reconfigure(config(&service("192.0.2.2", pb)))
        .unwrap();
    assert_eq!(director.all_vips(), vips(&["192.0.2.2"]));
    assert_eq!(director.healthy_vips(), vips(&["192.0.2.2"]));
    director.stop();
}
