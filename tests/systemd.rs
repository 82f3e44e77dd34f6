//! systemd's notifications, read from a datagram socket the test binds as
//! `NOTIFY_SOCKET`: `READY=1` once running (after the first health round
//! with a services file), `RELOADING=1` with `MONOTONIC_USEC` and `READY=1`
//! again around SIGHUP, `WATCHDOG=1` at half `WATCHDOG_USEC`, `STOPPING=1`
//! at a stop; nothing at all without `NOTIFY_SOCKET`.

mod common;

use common::*;
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

/// The notification socket, and what came on it so far.
struct Notify {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    fn bind(dir: &Scratch) -> (Notify, String) {
        let path = dir.path("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let notify = Notify {
            socket,
            seen: Vec::new(),
        };
        (notify, path.to_str().unwrap().to_string())
    }

    /// Waits for a datagram with the line `want`; returns that datagram.
    fn expect(&mut self, want: &str, within: Duration) -> String {
        let until = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let d = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(d.clone());
                if d.lines().any(|l| l == want) {
                    return d;
                }
            }
        }
        panic!("no {want} within {within:?}; seen {:?}", self.seen);
    }
}

fn signal(cue: &Cue, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &cue.pid().to_string()])
        .status();
}

#[test]
fn check_says_ready_reloading_watchdog_and_stopping() {
    let dir = Scratch::new("systemd");
    let (mut notify, path) = Notify::bind(&dir);
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = up.local_addr().unwrap().port();
    let services = dir.path("services.json");
    std::fs::write(
        &services,
        format!(
            r#"{{"services": [{{"address": "192.0.2.30", "port": 80, "protocol": "tcp",
              "destinations": [{{"address": "127.0.0.1", "port": {port},
                "checks": [{{"type": "tcp", "interval": "200ms", "window": 3, "rise": 3}}]}}]}}]}}"#
        ),
    )
    .unwrap();
    let started = Instant::now();
    let cue = Cue::start_with_env(
        &["check", "--json", services.to_str().unwrap()],
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "400000")],
    );
    // The watchdog at half its interval, from the start.
    notify.expect("WATCHDOG=1", Duration::from_secs(2));
    // Ready once the check has settled: three probes 200 ms apart at least.
    notify.expect("READY=1", Duration::from_secs(5));
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "ready before the first round: {:?}",
        started.elapsed()
    );
    assert!(
        cue.stdout().contains("\"up\""),
        "the service is up when ready: {}",
        cue.stdout()
    );
    // A reload: RELOADING=1 with the time, then READY=1.
    signal(&cue, "-HUP");
    let reloading = notify.expect("RELOADING=1", Duration::from_secs(3));
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading}"
    );
    notify.expect("READY=1", Duration::from_secs(3));
    notify.expect("WATCHDOG=1", Duration::from_secs(1));
    signal(&cue, "-TERM");
    notify.expect("STOPPING=1", Duration::from_secs(3));
    let done = cue.wait(Duration::from_secs(5));
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn listen_says_ready_and_stopping_and_nothing_without_the_socket() {
    let dir = Scratch::new("systemd-listen");
    let (mut notify, path) = Notify::bind(&dir);
    let port = free_port().to_string();
    let args = [
        "listen",
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "65001",
        "10.0.0.1",
    ];
    let cue = Cue::start_with_env(&args, &[("NOTIFY_SOCKET", &path)]);
    notify.expect("READY=1", Duration::from_secs(5));
    signal(&cue, "-INT");
    notify.expect("STOPPING=1", Duration::from_secs(3));
    let done = cue.wait(Duration::from_secs(5));
    assert!(done.status.success(), "{}", done.stderr);
    // Without NOTIFY_SOCKET: nothing arrives, and nothing is said about it.
    let cue = Cue::start(&args);
    std::thread::sleep(Duration::from_millis(500));
    signal(&cue, "-INT");
    let done = cue.wait(Duration::from_secs(5));
    assert!(done.status.success(), "{}", done.stderr);
    assert!(!done.stderr.contains("systemd"), "{}", done.stderr);
    let mut buf = [0u8; 64];
    assert!(
        notify.socket.recv(&mut buf).is_err(),
        "a notification without NOTIFY_SOCKET"
    );
}
