//! `--metrics`: the speaker with services against BIRD, scraped directly
//! (checked with `promtool check metrics`) and by a real Prometheus whose
//! query API must show the session state and a probe histogram; the
//! NOTIFICATION counters; `check --metrics`; an address in use refused
//! before anything starts.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// `GET path` over HTTP/1.0; the status code and the body.
fn get(addr: SocketAddr, path: &str, accept: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The metrics in Prometheus' text format.
fn scrape(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/metrics", "text/plain").expect("a scrape");
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of the sample whose name and labels start with `series`
/// (`name{label="v",...`: the labels in the order they are written).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `promtool check metrics` accepts the exposition.
fn promtool_accepts(metrics: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    p.stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus on loopback scraping `target` every second, with its
/// data in `dir`.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Scratch, target: SocketAddr) -> Prometheus {
        let config = dir.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: cue\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus");
        Prometheus { child, addr }
    }

    /// The value of an instant query's first sample, if there is one.
    fn query(&self, q: &str) -> Option<f64> {
        let mut encoded = String::new();
        for b in q.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                    encoded.push(b as char)
                }
                _ => encoded.push_str(&format!("%{b:02X}")),
            }
        }
        let (status, body) = get(self.addr, &format!("/api/v1/query?query={encoded}"), "*/*")?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn speaker_metrics_pass_promtool_and_a_real_prometheus_scrapes_them() {
    if !have("bird") {
        return;
    }
    if !have("promtool") || !have("prometheus") {
        skip("prometheus and promtool are not installed (Debian's prometheus)");
        return;
    }
    let port = free_port();
    let bird = bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001);
    // One healthy backend, one closed port.
    let healthy = Backend::start("127.0.0.1:0");
    let (closed, _held) = closed_port("127.0.0.1:0");
    let dir = Scratch::new("metrics");
    let file = dir.path("services.json");
    let check = r#"[{"type": "tcp", "interval": "100ms", "timeout": "200ms"}]"#;
    std::fs::write(
        &file,
        format!(
            r#"{{"services": [
          {{"address": "192.0.2.10", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {}, "checks": {check}}}]}},
          {{"address": "192.0.2.20", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {}, "checks": {check}}}]}}
        ]}}"#,
            healthy.addr.port(),
            closed.port()
        ),
    )
    .unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (p, m) = (port.to_string(), metrics.to_string());
    let cue = Cue::start(&[
        "--port",
        &p,
        "-a",
        "10.9.9.9",
        "--services",
        file.to_str().unwrap(),
        "--metrics",
        &m,
        "65001",
        "127.0.0.1",
        "127.0.0.1",
    ]);
    wait_for("the healthy VIP in BIRD", T, || {
        (prefixes(&bird) == sorted(&["10.9.9.9/32", "192.0.2.10/32"])).then_some(())
    });
    let peer = r#"{peer="127.0.0.1""#;
    let text = wait_for("failures of the closed port counted", T, || {
        let text = scrape(metrics);
        let failed = sample(
            &text,
            &format!(
                r#"cue_probe_failures_total{{service="192.0.2.20:80/tcp",destination="{closed}",check="tcp",cause="connect"}}"#
            ),
        )?;
        (failed >= 3.0).then_some(text)
    });
    promtool_accepts(&text);
    let established = r#"cue_bgp_session_state{peer="127.0.0.1",state="ESTABLISHED"}"#;
    assert_eq!(sample(&text, established), Some(1.0), "{text}");
    let idle = r#"cue_bgp_session_state{peer="127.0.0.1",state="IDLE"}"#;
    assert_eq!(sample(&text, idle), Some(0.0), "{text}");
    let advertised = format!("cue_bgp_routes_advertised{peer}");
    assert_eq!(sample(&text, &advertised), Some(2.0), "{text}");
    let sent = format!(r#"cue_bgp_updates_total{peer},direction="sent"}}"#);
    assert!(sample(&text, &sent).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(sample(&text, &format!("cue_bgp_session_uptime_seconds{peer}")).is_some());
    for (series, want) in [
        (r#"cue_vip_announced{vip="192.0.2.10"}"#, 1.0),
        (r#"cue_vip_announced{vip="192.0.2.20"}"#, 0.0),
        (r#"cue_vip_healthy{vip="192.0.2.20"}"#, 0.0),
        (r#"cue_service_up{service="192.0.2.10:80/tcp"}"#, 1.0),
        ("cue_vips_announced", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series}\n{text}");
    }
    // A cause that never happened is not there.
    let timeouts = format!(
        r#"cue_probe_failures_total{{service="192.0.2.20:80/tcp",destination="{closed}",check="tcp",cause="timeout"}}"#
    );
    assert_eq!(sample(&text, &timeouts), None, "{text}");
    let healthy_failures = r#"cue_probe_failures_total{service="192.0.2.10:80/tcp""#;
    assert_eq!(sample(&text, healthy_failures), None, "{text}");
    // OpenMetrics to a scraper that asks for it.
    let (_, om) = get(metrics, "/metrics", "application/openmetrics-text").unwrap();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(get(metrics, "/", "*/*").unwrap().0, 404);

    // A real Prometheus scrapes it: the state and a probe histogram are in
    // its query API.
    let prometheus = Prometheus::start(&dir, metrics);
    let state = wait_for("Prometheus to have the session state", T, || {
        prometheus.query(r#"cue_bgp_session_state{state="ESTABLISHED",peer="127.0.0.1"}"#)
    });
    assert_eq!(state, 1.0);
    let healthy_dest = healthy.addr.to_string();
    let count = wait_for("Prometheus to have the probe histogram", T, || {
        prometheus
            .query(&format!(
                r#"cue_probe_duration_seconds_count{{destination="{healthy_dest}"}}"#
            ))
            .filter(|n| *n > 0.0)
    });
    assert!(count > 0.0);
    let p99 = wait_for("a quantile of probe durations", T, || {
        prometheus
            .query(&format!(
                r#"histogram_quantile(0.99, sum by (le) (cue_probe_duration_seconds_bucket{{destination="{healthy_dest}"}}))"#
            ))
            .filter(|v| v.is_finite())
    });
    assert!(p99 > 0.0 && p99 <= 0.2, "p99 of a loopback connect: {p99}");
    drop(prometheus);

    // BIRD closes the session with a Cease (administrative shutdown): it is
    // counted by code and subcode, and the state follows (the count comes
    // first: a scrape may fall between the two).
    bird.birdc(&["disable", "lb"]);
    let text = wait_for("the Cease counted and the state left", T, || {
        let text = scrape(metrics);
        let n = sample(
            &text,
            r#"cue_bgp_notifications_total{peer="127.0.0.1",direction="received",code="6",subcode="2"}"#,
        )?;
        (n == 1.0 && sample(&text, established) == Some(0.0)).then_some(text)
    });
    assert_eq!(sample(&text, established), Some(0.0), "{text}");
    promtool_accepts(&text);
    assert!(cue.terminate().status.success());
}

#[test]
fn check_serves_metrics_and_an_address_in_use_is_refused_at_once() {
    let backend = Backend::start("127.0.0.1:0");
    let dir = Scratch::new("check-metrics");
    let file = dir.path("services.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"services": [{{"address": "192.0.2.30", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {}, "checks": [{{"type": "tcp", "interval": "100ms"}}]}}]}}]}}"#,
            backend.addr.port()
        ),
    )
    .unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let m = metrics.to_string();
    let cue = Cue::start(&["check", file.to_str().unwrap(), "--metrics", &m]);
    let text = wait_for("the service up in the metrics", T, || {
        let text = get(metrics, "/metrics", "text/plain")?.1;
        (sample(&text, r#"cue_service_up{service="192.0.2.30:80/tcp"}"#)? == 1.0).then_some(text)
    });
    if have("promtool") {
        promtool_accepts(&text);
    }
    // No sessions in `check`.
    assert!(!text.contains("cue_bgp_session_state{"), "{text}");
    // The port is taken now: a second run says so and exits at once.
    let started = std::time::Instant::now();
    let err = refused(&["check", file.to_str().unwrap(), "--metrics", &m]);
    assert!(err.contains(&format!("--metrics {m}")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(cue.terminate().status.success());
}
