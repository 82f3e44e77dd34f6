//! Backends that misbehave, checked by `cue-bgp check` at the same time as
//! a healthy one: a server that accepts and never answers, one that drips
//! a byte a second, one that sends a body without end (a gigabyte, were
//! it read), one that answers with something that is not HTTP, a TLS
//! server that never finishes its handshake, and a DNS server that answers
//! with garbage. Each must fail every probe within its timeout, and the
//! healthy backend must never miss a probe while they do.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// A TCP server on 127.0.0.1: each connection handled by `serve` on a
/// thread of its own.
fn server(serve: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    addr
}

/// Reads up to the end of a request head (or the end of the stream).
fn read_head(s: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return false,
        }
    }
    true
}

fn healthy(mut s: TcpStream) {
    while read_head(&mut s) {
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

fn hang(mut s: TcpStream) {
    read_head(&mut s);
    std::thread::sleep(Duration::from_secs(30));
}

fn drip(mut s: TcpStream) {
    read_head(&mut s);
    for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
        if s.write_all(&[*b]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn endless_body(mut s: TcpStream) {
    read_head(&mut s);
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n");
    let zeros = [0u8; 65536];
    while s.write_all(&zeros).is_ok() {}
}

fn endless_until_close(mut s: TcpStream) {
    read_head(&mut s);
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    let zeros = [0u8; 65536];
    while s.write_all(&zeros).is_ok() {}
}

fn not_http(mut s: TcpStream) {
    read_head(&mut s);
    let _ = s.write_all(b"\x00\x01SSH-2.0-nonsense\r\n\r\n\xff\xfe");
}

/// Accepts the TLS connection and reads the ClientHello, never answering.
fn tls_stall(mut s: TcpStream) {
    let mut b = [0u8; 4096];
    let _ = s.read(&mut b);
    std::thread::sleep(Duration::from_secs(30));
}

/// A UDP "DNS server" that answers every query with garbage, once with
/// the query's ID and once with another.
fn garbage_dns() -> SocketAddr {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = u.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 512];
        let mut x: u32 = 0x9e37_79b9;
        while let Ok((n, from)) = u.recv_from(&mut b) {
            let mut reply: Vec<u8> = (0..40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = u.send_to(&reply, from);
            if n >= 2 {
                reply[..2].copy_from_slice(&b[..2]);
                reply[2] = 0x80; // a response, and then nonsense
                let _ = u.send_to(&reply, from);
            }
        }
    });
    addr
}

#[test]
fn hostile_backends_fail_in_time_and_the_healthy_one_never_misses() {
    let ok = server(healthy);
    let cases = [
        ("hang", server(hang), "http"),
        ("drip", server(drip), "http"),
        ("endless", server(endless_body), "http"),
        ("until-close", server(endless_until_close), "http"),
        ("not-http", server(not_http), "http"),
        ("tls-stall", server(tls_stall), "https"),
        ("dns", garbage_dns(), "dns"),
    ];
    let check =
        |kind: &str| format!(r#"{{"type": "{kind}", "interval": "200ms", "timeout": "500ms"}}"#);
    let dest = |addr: SocketAddr, kind: &str| {
        format!(
            r#"{{"address": "127.0.0.1", "port": {}, "checks": [{}]}}"#,
            addr.port(),
            check(kind)
        )
    };
    let mut services = vec![format!(
        r#"{{"address": "192.0.2.1", "port": 80, "protocol": "tcp", "destinations": [{}]}}"#,
        dest(ok, "http")
    )];
    for (i, (_, addr, kind)) in cases.iter().enumerate() {
        let protocol = if *kind == "dns" { "udp" } else { "tcp" };
        services.push(format!(
            r#"{{"address": "192.0.2.{}", "port": 80, "protocol": "{protocol}", "destinations": [{}]}}"#,
            i + 10,
            dest(*addr, kind)
        ));
    }
    let dir = Scratch::new("hostile");
    let file = dir.path("services.json");
    std::fs::write(
        &file,
        format!(r#"{{"services": [{}]}}"#, services.join(",")),
    )
    .unwrap();
    let cue = Cue::start(&["check", "--probes", "--json", file.to_str().unwrap()]);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let out = cue.terminate();
    assert!(out.status.success(), "{}", out.stderr);
    let probes: Vec<serde_json::Value> = out
        .json()
        .into_iter()
        .filter(|e| e["event"] == "probe")
        .collect();
    let of = |addr: SocketAddr| -> Vec<&serde_json::Value> {
        let target = addr.to_string();
        probes.iter().filter(|p| p["target"] == target).collect()
    };
    // The healthy backend: every probe passed, one every 200 ms (plus up
    // to a quarter of jitter), none missing.
    let healthy_probes = of(ok);
    assert!(
        healthy_probes.len() >= 18,
        "{} probes of the healthy backend in {:?}",
        healthy_probes.len(),
        started.elapsed()
    );
    for p in &healthy_probes {
        assert_eq!(p["ok"], true, "{p}");
    }
    let times: Vec<std::time::SystemTime> = healthy_probes
        .iter()
        .map(|p| humantime::parse_rfc3339(p["time"].as_str().unwrap()).unwrap())
        .collect();
    for w in times.windows(2) {
        let gap = w[1].duration_since(w[0]).unwrap_or_default();
        assert!(
            gap < Duration::from_millis(450),
            "the healthy backend missed a probe: {gap:?}"
        );
    }
    for (what, addr, _) in cases {
        let ps = of(addr);
        assert!(ps.len() >= 3, "{what}: {} probes", ps.len());
        for p in &ps {
            assert_eq!(p["ok"], false, "{what}: {p}");
            let took = p["took"].as_f64().unwrap();
            assert!(took <= 700.0, "{what} took {took} ms: {p}");
        }
        // A body without end is cut off at the limit, not read until the
        // timeout.
        if what == "endless" || what == "until-close" {
            assert!(
                ps.iter()
                    .all(|p| p["diagnostic"].as_str().unwrap().contains("too large")),
                "{what}: {:?}",
                ps[0]
            );
        }
    }
}
