//! Each check type against real servers that the test starts on loopback
//! (IPv4 and IPv6): an HTTP server, an HTTPS server with a self-signed
//! certificate, DNS servers over UDP and TCP, TCP listeners, a hung server
//! that accepts and never answers, and closed ports.

mod common;

use bytes::Bytes;
use common::closed_port;
use cue::director::check::{FailureCause, Prober};
use cue::director::config::DestinationConfig;
use cue::director::{CheckSpec, ProbeResult};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};

fn spec(addr: SocketAddr, check: &str) -> CheckSpec {
    let d: DestinationConfig = serde_json::from_str(&format!(
        r#"{{"address": "{}", "port": {}, "checks": [{check}]}}"#,
        addr.ip(),
        addr.port()
    ))
    .unwrap();
    d.checks[0].spec(&d).unwrap()
}

async fn probe(addr: SocketAddr, check: &str) -> ProbeResult {
    Prober::new(spec(addr, check)).probe().await
}

/// What the HTTP(S) servers saw: Host headers and TLS server names.
#[derive(Default, Clone)]
struct Seen {
    hosts: Arc<Mutex<Vec<String>>>,
    sni: Arc<Mutex<Vec<Option<String>>>>,
    connections: Arc<Mutex<u32>>,
}

async fn respond(
    req: Request<Incoming>,
    seen: Seen,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if let Some(h) = req.headers().get("host") {
        seen.hosts
            .lock()
            .unwrap()
            .push(h.to_str().unwrap_or("").to_string());
    }
    let (status, location) = match req.uri().path() {
        "/ok" | "/" => (200, None),
        "/fail" => (500, None),
        "/redirect" => (302, Some("/ok")),
        "/created" => (201, None),
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (200, None)
        }
        _ => (404, None),
    };
    let mut r = Response::builder().status(status);
    if let Some(l) = location {
        r = r.header("location", l);
    }
    Ok(r.body(Full::new(Bytes::from_static(b"body text\n")))
        .unwrap())
}

async fn http_server(bind: &str) -> (SocketAddr, Seen) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            *s.connections.lock().unwrap() += 1;
            let s = s.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(tcp),
                        service_fn(move |r| respond(r, s.clone())),
                    )
                    .await;
            });
        }
    });
    (addr, seen)
}

#[derive(Debug)]
struct RecordSni {
    key: Arc<rustls::sign::CertifiedKey>,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl rustls::server::ResolvesServerCert for RecordSni {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.seen
            .lock()
            .unwrap()
            .push(hello.server_name().map(str::to_string));
        Some(self.key.clone())
    }
}

async fn https_server(bind: &str) -> (SocketAddr, Seen) {
    let cert = rcgen::generate_simple_self_signed(vec!["www.example.com".into()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let signing = provider.key_provider.load_private_key(key_der).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.cert.der().clone()],
        signing,
    ));
    let seen = Seen::default();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(RecordSni {
            key: certified,
            seen: seen.sni.clone(),
        }));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(tls),
                        service_fn(move |r| respond(r, s.clone())),
                    )
                    .await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn http_status_host_and_keepalive() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let (addr, seen) = http_server(bind).await;
        let r = probe(addr, r#"{"type": "http", "path": "/ok"}"#).await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.diagnostic, "200");
        // The Host header defaults to the destination address.
        let expected_host = match addr.ip() {
            IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        };
        assert_eq!(seen.hosts.lock().unwrap().last().unwrap(), &expected_host);

        let r = probe(addr, r#"{"type": "http", "path": "/fail"}"#).await;
        assert!(!r.ok);
        assert_eq!(r.diagnostic, "status 500 not expected");
        assert_eq!(r.cause, Some(FailureCause::Status));
        // Redirects are not followed: 302 is judged as it is.
        let r = probe(addr, r#"{"type": "http", "path": "/redirect"}"#).await;
        assert!(!r.ok, "{r:?}");
        let r = probe(
            addr,
            r#"{"type": "http", "path": "/redirect", "expect": [302]}"#,
        )
        .await;
        assert!(r.ok, "{r:?}");
        let r = probe(addr, r#"{"type": "http", "path": "/fail", "expect": [0]}"#).await;
        assert!(r.ok, "expect 0 accepts any status");
        let r = probe(
            addr,
            r#"{"type": "http", "path": "/created", "method": "HEAD", "expect": [200, 201]}"#,
        )
        .await;
        assert!(r.ok, "{r:?}");
        // The Host header is what the check says, the address is the destination's.
        let r = probe(
            addr,
            r#"{"type": "http", "path": "/ok", "host": "www.example.com"}"#,
        )
        .await;
        assert!(r.ok);
        assert_eq!(
            seen.hosts.lock().unwrap().last().unwrap(),
            "www.example.com"
        );

        // Keep-alive: several probes of one check use one connection.
        let before = *seen.connections.lock().unwrap();
        let mut p = Prober::new(spec(addr, r#"{"type": "http", "path": "/ok"}"#));
        for _ in 0..5 {
            assert!(p.probe().await.ok);
        }
        assert_eq!(*seen.connections.lock().unwrap(), before + 1);
    }
}

#[tokio::test]
async fn https_sni_for_names_only_and_self_signed_accepted() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let (addr, seen) = https_server(bind).await;
        let r = probe(
            addr,
            r#"{"type": "https", "path": "/ok", "host": "www.example.com"}"#,
        )
        .await;
        assert!(r.ok, "{r:?}");
        assert_eq!(
            seen.sni.lock().unwrap().last().unwrap().as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            seen.hosts.lock().unwrap().last().unwrap(),
            "www.example.com"
        );
        // An address as host: no SNI.
        let r = probe(addr, r#"{"type": "https", "path": "/ok"}"#).await;
        assert!(r.ok, "{r:?}");
        assert_eq!(seen.sni.lock().unwrap().last().unwrap(), &None);
        let r = probe(addr, r#"{"type": "https", "path": "/fail"}"#).await;
        assert!(!r.ok);
        // Verification on: a self-signed certificate fails.
        let r = probe(
            addr,
            r#"{"type": "https", "path": "/ok", "host": "www.example.com", "verify": true}"#,
        )
        .await;
        assert!(!r.ok);
        assert!(r.diagnostic.starts_with("TLS:"), "{r:?}");
        assert_eq!(r.cause, Some(FailureCause::Tls));
    }
}

#[tokio::test]
async fn a_hung_server_times_out_without_delaying_other_checks() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    // Accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = silent.accept().await.unwrap();
            held.push(s);
        }
    });
    let start = Instant::now();
    let hung = probe(silent_addr, r#"{"type": "http", "timeout": "500ms"}"#);
    let slow_body = probe(
        addr,
        r#"{"type": "http", "path": "/hang", "timeout": "500ms"}"#,
    );
    let fast = async {
        let r = probe(addr, r#"{"type": "http", "path": "/ok"}"#).await;
        (r, start.elapsed())
    };
    let (hung, slow_body, (fast, fast_at)) = tokio::join!(hung, slow_body, fast);
    assert!(
        !hung.ok && hung.diagnostic.contains("timed out"),
        "{hung:?}"
    );
    assert!(!slow_body.ok && slow_body.diagnostic.contains("timed out"));
    assert!(hung.took >= Duration::from_millis(500) && hung.took < Duration::from_secs(2));
    assert!(fast.ok);
    assert!(fast_at < Duration::from_millis(400), "{fast_at:?}");
}

#[tokio::test]
async fn tcp_open_and_closed() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let l = TcpListener::bind(bind).await.unwrap();
        let addr = l.local_addr().unwrap();
        let r = probe(addr, r#"{"type": "tcp"}"#).await;
        assert!(r.ok, "{r:?}");
        let (closed, _held) = closed_port(bind);
        let r = probe(closed, r#"{"type": "tcp"}"#).await;
        assert!(!r.ok);
        assert!(r.diagnostic.contains("refused"), "{r:?}");
        assert_eq!(r.cause, Some(FailureCause::Connect));
    }
}

/// A DNS server over UDP that answers with `code`, after first sending a
/// reply with a wrong ID (which must be ignored).
async fn dns_udp(bind: &str, code: hickory_proto::op::ResponseCode) -> SocketAddr {
    use hickory_proto::op::{Message, MessageType};
    let s = UdpSocket::bind(bind).await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = q.clone();
            r.set_message_type(MessageType::Response)
                .set_response_code(code);
            let mut wrong = r.clone();
            wrong.set_id(q.id().wrapping_add(1));
            s.send_to(&wrong.to_vec().unwrap(), from).await.unwrap();
            s.send_to(&r.to_vec().unwrap(), from).await.unwrap();
        }
    });
    addr
}

async fn dns_tcp(bind: &str) -> SocketAddr {
    use hickory_proto::op::{Message, MessageType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let len = s.read_u16().await.unwrap() as usize;
                let mut buf = vec![0u8; len];
                s.read_exact(&mut buf).await.unwrap();
                let mut r = Message::from_vec(&buf).unwrap();
                r.set_message_type(MessageType::Response);
                let bytes = r.to_vec().unwrap();
                s.write_all(&(bytes.len() as u16).to_be_bytes())
                    .await
                    .unwrap();
                s.write_all(&bytes).await.unwrap();
            });
        }
    });
    addr
}

#[tokio::test]
async fn dns_over_udp_and_tcp() {
    use hickory_proto::op::ResponseCode;
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let ok = dns_udp(bind, ResponseCode::NoError).await;
        let r = probe(ok, r#"{"type": "dns"}"#).await;
        assert!(r.ok, "{r:?}");
        let refused = dns_udp(bind, ResponseCode::Refused).await;
        let r = probe(refused, r#"{"type": "dns", "method": "udp"}"#).await;
        assert!(!r.ok);
        assert!(r.diagnostic.contains("Refused"), "{r:?}");
        assert_eq!(r.cause, Some(FailureCause::Status));
        let servfail = dns_udp(bind, ResponseCode::ServFail).await;
        assert!(!probe(servfail, r#"{"type": "dns"}"#).await.ok);
        let tcp = dns_tcp(bind).await;
        let r = probe(tcp, r#"{"type": "dns", "method": "tcp"}"#).await;
        assert!(r.ok, "{r:?}");
    }
    // Nobody answers: fails within the 1 s default timeout.
    let mute = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let r = probe(mute.local_addr().unwrap(), r#"{"type": "dns"}"#).await;
    assert!(
        !r.ok && r.diagnostic.contains("timed out after 1s"),
        "{r:?}"
    );
    assert_eq!(r.cause, Some(FailureCause::Timeout));
}

fn can_use_raw_sockets() -> bool {
    socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::TCP),
    )
    .is_ok()
}

#[tokio::test]
async fn syn_open_closed_and_without_privilege() {
    if !can_use_raw_sockets() {
        // Without CAP_NET_RAW the check must fail and say why.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = probe(l.local_addr().unwrap(), r#"{"type": "syn"}"#).await;
        assert!(!r.ok);
        assert!(r.diagnostic.contains("CAP_NET_RAW"), "{r:?}");
        assert_eq!(r.cause, Some(FailureCause::Local));
        return;
    }
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let l = TcpListener::bind(bind).await.unwrap();
        let addr = l.local_addr().unwrap();
        let r = probe(addr, r#"{"type": "syn"}"#).await;
        assert!(r.ok, "{bind}: {r:?}");
        assert_eq!(r.diagnostic, "SYN-ACK");
        let (closed, _held) = closed_port(bind);
        let r = probe(closed, r#"{"type": "syn", "timeout": "1s"}"#).await;
        assert!(!r.ok, "{r:?}");
        assert!(r.diagnostic.contains("RST"), "{bind}: {r:?}");
        assert_eq!(r.cause, Some(FailureCause::Connect));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_syn_checks_share_two_raw_sockets() {
    if !can_use_raw_sockets() {
        return;
    }
    // 100 open ports and 100 closed ones, IPv4 and IPv6, probed at once
    // through one shared pair of raw sockets: every reply reaches its probe.
    let shared = std::sync::Arc::new(cue::director::check::SynSockets::default());
    let mut listeners = Vec::new();
    let mut probes = Vec::new();
    for i in 0..100 {
        let bind = if i % 2 == 0 { "127.0.0.1:0" } else { "[::1]:0" };
        let open = TcpListener::bind(bind).await.unwrap();
        let open_addr = open.local_addr().unwrap();
        let (closed_addr, held) = closed_port(bind);
        listeners.push((open, held));
        for (addr, expect) in [(open_addr, true), (closed_addr, false)] {
            let mut p = Prober::with_syn_sockets(spec(addr, r#"{"type": "syn"}"#), shared.clone());
            probes.push(tokio::spawn(async move { (addr, expect, p.probe().await) }));
        }
    }
    for p in probes {
        let (addr, expect, r) = p.await.unwrap();
        assert_eq!(r.ok, expect, "{addr}: {r:?}");
    }
}

/// A command check as a JSON check object, for a destination on
/// 127.0.0.1:8080.
fn command(argv: &[&str], timeout: &str) -> CheckSpec {
    let argv = serde_json::to_string(argv).unwrap();
    let check = format!(r#"{{"type": "command", "command": {argv}, "timeout": "{timeout}"}}"#);
    spec("127.0.0.1:8080".parse().unwrap(), &check)
}

/// Whether a process whose command line holds `marker` runs.
fn running(marker: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_checks_run_programs_directly() {
    // Exit 0 is healthy; what the program said is the diagnostic.
    let ok = Prober::new(command(&["/bin/sh", "-c", "echo all good"], "2s"))
        .probe()
        .await;
    assert!(ok.ok, "{ok:?}");
    assert_eq!(ok.diagnostic, "exit 0: all good");
    // Another exit status is not; standard error first.
    let bad = Prober::new(command(
        &["/bin/sh", "-c", "echo out; echo broken >&2; exit 3"],
        "2s",
    ))
    .probe()
    .await;
    assert!(!bad.ok);
    assert_eq!(bad.diagnostic, "exit 3: broken");
    assert_eq!(bad.cause, Some(FailureCause::Status));
    // The destination's address and port in the environment; no shell
    // between: the argument is given as it is, $ and all.
    let env = Prober::new(command(
        &[
            "/bin/sh",
            "-c",
            r#"test "$CUE_ADDRESS:$CUE_PORT" = 127.0.0.1:8080 && test "$1" = '$HOME'"#,
            "sh",
            "$HOME",
        ],
        "2s",
    ))
    .probe()
    .await;
    assert!(env.ok, "{env:?}");
    // A program that does not exist.
    let none = Prober::new(command(&["/nonexistent/check"], "2s"))
        .probe()
        .await;
    assert!(!none.ok);
    assert!(
        none.diagnostic.starts_with("cannot run /nonexistent/check"),
        "{none:?}"
    );
    assert_eq!(none.cause, Some(FailureCause::Local));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_command_is_killed_at_the_timeout_with_its_children() {
    let marker = format!("97.{}", std::process::id() % 1000 + 1000);
    let script = format!("sleep {marker} & sleep {marker}1; wait");
    let started = Instant::now();
    let r = Prober::new(command(&["/bin/sh", "-c", &script], "300ms"))
        .probe()
        .await;
    assert!(!r.ok);
    assert!(r.diagnostic.starts_with("timed out"), "{r:?}");
    assert_eq!(r.cause, Some(FailureCause::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The shell and both of its sleeps are gone.
    let mut gone = false;
    for _ in 0..50 {
        if !running(&format!("sleep {marker}")) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "a child of the command outlived its timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_checks_run_a_bounded_number_at_a_time() {
    // Twice as many 300 ms programs as may run at once: two waves, not one.
    let n = cue::director::check::MAX_COMMANDS_RUNNING * 2;
    let started = Instant::now();
    let probes: Vec<_> = (0..n)
        .map(|_| {
            let mut p = Prober::new(command(&["/bin/sleep", "0.3"], "10s"));
            tokio::spawn(async move { p.probe().await })
        })
        .collect();
    for p in probes {
        let r = p.await.unwrap();
        assert!(r.ok, "{r:?}");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{n} programs ran at once: {:?}",
        started.elapsed()
    );
}

#[test]
fn command_checks_are_checked_when_read() {
    let d = |check: &str| -> DestinationConfig {
        serde_json::from_str(&format!(
            r#"{{"address": "10.0.0.1", "port": 80, "checks": [{check}]}}"#
        ))
        .unwrap()
    };
    let problem = |check: &str| {
        let d = d(check);
        d.checks[0].spec(&d).unwrap_err()
    };
    use cue::director::config::CheckProblem;
    assert_eq!(
        problem(r#"{"type": "command"}"#),
        CheckProblem::CommandMissing
    );
    assert_eq!(
        problem(r#"{"type": "command", "command": [""]}"#),
        CheckProblem::CommandMissing
    );
    assert_eq!(
        problem(r#"{"type": "tcp", "command": ["/bin/true"]}"#),
        CheckProblem::CommandOnly(cue::director::CheckType::Tcp)
    );
    assert_eq!(
        problem(r#"{"type": "command", "command": ["/bin/true"], "path": "/x"}"#),
        CheckProblem::HttpOnly(cue::director::CheckType::Command)
    );
    assert_eq!(problem(r#"{"type": "command"}"#).field(), "command");
}
