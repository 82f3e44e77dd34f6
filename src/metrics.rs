//! Prometheus metrics (feature `metrics`): what the sessions of a
//! [`Pool`] and the checks of a [`Director`] count, read at each scrape and
//! served at `/metrics` in the OpenMetrics text format (or Prometheus' own
//! text format 0.0.4 for a scraper that does not ask for OpenMetrics).
//!
//! Nothing is counted twice: the collectors read the counters that the
//! library keeps anyway ([`crate::bgp::Counters`],
//! [`crate::director::ProbeStats`]), so metrics cost nothing between
//! scrapes. They hold the pool and the director weakly: serving metrics
//! never keeps a stopped speaker alive.
//!
//! Sessions, by `peer`:
//!
//! | metric | type | |
//! |---|---|---|
//! | `cue_bgp_session_state{state}` | gauge | 1 for the current state, 0 for the others |
//! | `cue_bgp_session_uptime_seconds` | gauge | since Established (0 when not) |
//! | `cue_bgp_routes_advertised` | gauge | prefixes advertised now |
//! | `cue_bgp_routes_received` | gauge | prefixes held from the peer (Adj-RIB-In) |
//! | `cue_bgp_prefixes_announced_total`, `_withdrawn_total` | counter | over the peer's life |
//! | `cue_bgp_updates_total{direction}` | counter | UPDATE messages sent and received |
//! | `cue_bgp_updates_malformed_total` | counter | handled by RFC 7606 without a reset |
//! | `cue_bgp_notifications_total{direction,code,subcode}` | counter | NOTIFICATIONs |
//! | `cue_bgp_connection_attempts_total`, `cue_bgp_connections_total`, `cue_bgp_sessions_established_total` | counter | |
//!
//! Health checks, by `service` (`VIP:PORT/PROTOCOL`), `destination` and
//! `check` (its kind, `http`; kind and target, `http 10.0.0.1:8081`, when it
//! probes another port than the destination's):
//!
//! | metric | type | |
//! |---|---|---|
//! | `cue_service_up` | gauge | at least the required destinations healthy |
//! | `cue_service_destinations_available`, `_required` | gauge | |
//! | `cue_destination_up` | gauge | enabled, weight above 0, every check up |
//! | `cue_check_up` | gauge | the check counts as up |
//! | `cue_probe_duration_seconds` | histogram | every probe |
//! | `cue_probe_failures_total{cause}` | counter | by [`FailureCause`], once one happened |
//! | `cue_vip_healthy`, `cue_vip_announced`, `cue_vip_draining` (by `vip`) | gauge | |
//! | `cue_vips_announced` | gauge | VIPs announced, healthy or as a backup |
//!
//! ```no_run
//! # async fn demo(rhi: cue::rhi::HealthInjector) -> std::io::Result<()> {
//! let mut metrics = cue::metrics::Metrics::new();
//! metrics.add_health_injector(&rhi);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9179").await?;
//! tokio::spawn(metrics.serve(listener));
//! # Ok(()) }
//! ```

use crate::bgp::pool::WeakPool;
use crate::bgp::{Direction, PeerStatus, Pool, State};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Error;
use std::sync::Arc;
use std::time::SystemTime;

#[cfg(feature = "director")]
use crate::director::{check::FailureCause, Director, DirectorView, ServiceStatus};

/// The metrics of some pools and directors, ready to be encoded or served.
pub struct Metrics {
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The text format of an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text (ends with `# EOF`).
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    Prometheus,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics
    /// when it names it, Prometheus' text format otherwise.
    ///
    /// ```
    /// use cue::metrics::Format;
    /// let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    /// assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
    /// assert_eq!(Format::from_accept(None), Format::Prometheus);
    /// ```
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

impl Metrics {
    /// No metrics but `cue_build_info`.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(BuildInfo));
        Metrics {
            registry: Arc::new(registry),
        }
    }

    fn registry(&mut self) -> &mut Registry {
        Arc::get_mut(&mut self.registry).expect("the registry is shared only once served")
    }

    /// The sessions of `pool` (held weakly: once the pool is dropped, its
    /// metrics are gone).
    pub fn add_pool(&mut self, pool: &Pool) {
        let sessions = Sessions(pool.downgrade());
        self.registry().register_collector(Box::new(sessions));
    }

    /// The services, destinations, checks and VIPs of `director` (held
    /// weakly).
    #[cfg(feature = "director")]
    pub fn add_director(&mut self, director: &Director) {
        let checks = Checks(director.view());
        self.registry().register_collector(Box::new(checks));
    }

    /// The sessions and the director of a route health injector.
    #[cfg(feature = "director")]
    pub fn add_health_injector(&mut self, rhi: &crate::rhi::HealthInjector) {
        self.add_pool(rhi.pool());
        self.add_director(rhi.director());
    }

    /// The exposition as it would be scraped now.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::with_capacity(4096);
        self.encode_into(&mut out, format);
        out
    }

    /// Writes the exposition into `out` (which may stop it by failing).
    fn encode_into(&self, out: &mut impl std::fmt::Write, format: Format) {
        let written = match format {
            Format::OpenMetrics => prometheus_client::encoding::text::encode(out, &self.registry),
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(out, &self.registry)
            }
        };
        if let Err(e) = written {
            tracing::debug!(error = %e, "metrics: encoding stopped");
        }
    }

    /// Serves `GET /metrics` (HTTP/1.1) on `listener` until the future is
    /// dropped; other paths get 404, other methods 405. Connections are
    /// served concurrently, each until it closes.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let registry = self.registry;
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                // Out of descriptors or a connection reset before it was
                // taken: not a reason to stop serving.
                Err(e) => {
                    tracing::debug!(error = %e, "metrics: accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let metrics = Arc::new(Metrics {
                registry: registry.clone(),
            });
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, std::convert::Infallible>(metrics.answer(&req)) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10))
                    .serve_connection(io, service);
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "metrics: connection");
                }
            });
        }
    }

    fn answer<B>(self: &Arc<Self>, req: &hyper::Request<B>) -> hyper::Response<Chunks> {
        use hyper::{Method, StatusCode};
        let respond = |status: StatusCode, body: Chunks, ctype: &'static str| {
            hyper::Response::builder()
                .status(status)
                .header(hyper::header::CONTENT_TYPE, ctype)
                .body(body)
                .expect("a valid response")
        };
        let text = |status, body: &str, ctype| {
            respond(
                status,
                Chunks::one(bytes::Bytes::from(body.to_string())),
                ctype,
            )
        };
        let plain = "text/plain; charset=utf-8";
        if req.uri().path() != "/metrics" {
            return text(StatusCode::NOT_FOUND, "metrics are at /metrics\n", plain);
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n", plain);
        }
        let accept = req
            .headers()
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let format = Format::from_accept(accept);
        // Encoded on a blocking thread, sent as it is made: the text of ten
        // thousand checks is tens of megabytes, never held whole.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let metrics = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = ChunkWriter {
                buf: String::with_capacity(CHUNK),
                tx,
            };
            metrics.encode_into(&mut out, format);
            out.flush();
        });
        respond(StatusCode::OK, Chunks(rx), format.content_type())
    }
}

/// The size of the chunks of a response.
const CHUNK: usize = 64 << 10;

/// Writes into chunks sent to a response body; fails once the scraper is
/// gone, which stops the encoding.
struct ChunkWriter {
    buf: String,
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
}

impl ChunkWriter {
    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK));
        self.tx.blocking_send(bytes::Bytes::from(chunk)).is_ok()
    }
}

impl std::fmt::Write for ChunkWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK && !self.flush() {
            return Err(Error);
        }
        Ok(())
    }
}

/// A response body: the chunks as they come.
struct Chunks(tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl Chunks {
    /// A body of one chunk.
    fn one(b: bytes::Bytes) -> Chunks {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.try_send(b);
        Chunks(rx)
    }
}

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// `cue_build_info{version}`.
#[derive(Debug)]
struct BuildInfo;

impl Collector for BuildInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        let mut m = encoder.encode_descriptor(
            "cue_build_info",
            "The version of cue that serves these metrics.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(m.encode_family(&labels)?)
    }
}

/// One metric family: its descriptor, then a sample per label set.
fn family<'a>(
    encoder: &'a mut DescriptorEncoder,
    name: &'a str,
    help: &str,
    kind: MetricType,
) -> Result<prometheus_client::encoding::MetricEncoder<'a>, Error> {
    encoder.encode_descriptor(name, help, None, kind)
}

fn gauge(
    m: &mut prometheus_client::encoding::MetricEncoder,
    labels: &[(&str, &str)],
    v: impl Into<f64>,
) -> Result<(), Error> {
    ConstGauge::new(v.into()).encode(m.encode_family(&labels)?)
}

fn counter(
    m: &mut prometheus_client::encoding::MetricEncoder,
    labels: &[(&str, &str)],
    v: u64,
) -> Result<(), Error> {
    ConstCounter::new(v).encode(m.encode_family(&labels)?)
}

/// The sessions of a pool.
struct Sessions(WeakPool);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

const STATES: [State; 6] = [
    State::Idle,
    State::Connect,
    State::Active,
    State::OpenSent,
    State::OpenConfirm,
    State::Established,
];

/// A gauge per peer.
type PeerGauge = (&'static str, &'static str, fn(&PeerStatus) -> f64);
/// A counter per peer.
type PeerCounter = (&'static str, &'static str, fn(&PeerStatus) -> u64);

const PEER_GAUGES: [PeerGauge; 3] = [
    (
        "cue_bgp_session_uptime_seconds",
        "How long the session has been Established (0 when it is not).",
        |p| match p.state {
            State::Established => SystemTime::now()
                .duration_since(p.since)
                .unwrap_or_default()
                .as_secs_f64(),
            _ => 0.0,
        },
    ),
    (
        "cue_bgp_routes_advertised",
        "Prefixes advertised to the peer now.",
        |p| p.counters.current as f64,
    ),
    (
        "cue_bgp_routes_received",
        "Prefixes held from the peer (its Adj-RIB-In).",
        |p| p.received as f64,
    ),
];

const PEER_COUNTERS: [PeerCounter; 6] = [
    (
        "cue_bgp_prefixes_announced",
        "Prefixes announced to the peer, over its life.",
        |p| p.counters.advertised,
    ),
    (
        "cue_bgp_prefixes_withdrawn",
        "Prefixes withdrawn from the peer, over its life.",
        |p| p.counters.withdrawn,
    ),
    (
        "cue_bgp_updates_malformed",
        "Malformed UPDATEs handled by RFC 7606 (treat-as-withdraw, attribute discard) without a reset.",
        |p| p.counters.updates_malformed,
    ),
    (
        "cue_bgp_connection_attempts",
        "Connections tried.",
        |p| p.counters.attempts,
    ),
    (
        "cue_bgp_connections",
        "TCP connections made or accepted.",
        |p| p.counters.connections,
    ),
    (
        "cue_bgp_sessions_established",
        "Times the session reached Established.",
        |p| p.counters.established,
    ),
];

impl Collector for Sessions {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let Some(pool) = self.0.upgrade() else {
            return Ok(());
        };
        let peers = pool.status();
        let mut m = family(
            &mut encoder,
            "cue_bgp_session_state",
            "The session's state: 1 for the state it is in.",
            MetricType::Gauge,
        )?;
        for p in &peers {
            for s in STATES {
                let labels = [("peer", p.peer.as_str()), ("state", s.name())];
                gauge(&mut m, &labels, u8::from(p.state == s))?;
            }
        }
        for (name, help, value) in PEER_GAUGES {
            let mut m = family(&mut encoder, name, help, MetricType::Gauge)?;
            for p in &peers {
                gauge(&mut m, &[("peer", p.peer.as_str())], value(p))?;
            }
        }
        for (name, help, value) in PEER_COUNTERS {
            let mut m = family(&mut encoder, name, help, MetricType::Counter)?;
            for p in &peers {
                counter(&mut m, &[("peer", p.peer.as_str())], value(p))?;
            }
        }
        let mut m = family(
            &mut encoder,
            "cue_bgp_updates",
            "UPDATE messages sent and received.",
            MetricType::Counter,
        )?;
        for p in &peers {
            let c = &p.counters;
            for (direction, n) in [("sent", c.updates_sent), ("received", c.updates_received)] {
                let labels = [("peer", p.peer.as_str()), ("direction", direction)];
                counter(&mut m, &labels, n)?;
            }
        }
        let mut m = family(
            &mut encoder,
            "cue_bgp_notifications",
            "NOTIFICATION messages sent and received, by error code and subcode.",
            MetricType::Counter,
        )?;
        for p in &peers {
            for n in &p.counters.notifications {
                let (code, subcode) = (n.code.to_string(), n.subcode.to_string());
                let direction = match n.direction {
                    Direction::Sent => "sent",
                    Direction::Received => "received",
                };
                let labels = [
                    ("peer", p.peer.as_str()),
                    ("direction", direction),
                    ("code", code.as_str()),
                    ("subcode", subcode.as_str()),
                ];
                counter(&mut m, &labels, n.count)?;
            }
        }
        Ok(())
    }
}

/// The checks of a director.
#[cfg(feature = "director")]
struct Checks(DirectorView);

#[cfg(feature = "director")]
impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checks")
    }
}

#[cfg(feature = "director")]
impl Collector for Checks {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let Some(status) = self.0.status() else {
            return Ok(());
        };
        encode_services(&mut encoder, &status)?;
        encode_checks(&mut encoder, &status)?;
        if let Some((healthy, announced, draining, all)) = self.0.vips() {
            let mut m = family(
                &mut encoder,
                "cue_vips_announced",
                "VIPs announced now, healthy or as a backup path.",
                MetricType::Gauge,
            )?;
            m.encode_gauge(&(announced.len() as i64))?;
            for (name, help, set) in [
                (
                    "cue_vip_healthy",
                    "1 when every service of the VIP is up.",
                    &healthy,
                ),
                (
                    "cue_vip_announced",
                    "1 when the VIP is announced (healthy, or as a backup path, or while it drains).",
                    &announced,
                ),
                (
                    "cue_vip_draining",
                    "1 while the VIP is drained (RFC 8326 GRACEFUL_SHUTDOWN, then withdrawn).",
                    &draining,
                ),
            ] {
                let mut m = family(&mut encoder, name, help, MetricType::Gauge)?;
                for vip in &all {
                    let v = vip.to_string();
                    gauge(&mut m, &[("vip", v.as_str())], u8::from(set.contains(vip)))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "director")]
fn encode_services(encoder: &mut DescriptorEncoder, status: &[ServiceStatus]) -> Result<(), Error> {
    type ServiceGauge = (&'static str, &'static str, fn(&ServiceStatus) -> f64);
    const SERVICE: [ServiceGauge; 3] = [
        (
            "cue_service_up",
            "1 when at least the required destinations are healthy.",
            |s| f64::from(u8::from(s.up)),
        ),
        (
            "cue_service_destinations_available",
            "Healthy destinations.",
            |s| f64::from(s.available),
        ),
        (
            "cue_service_destinations_required",
            "Healthy destinations needed for the service to be up.",
            |s| f64::from(s.required),
        ),
    ];
    let names: Vec<String> = status
        .iter()
        .map(|s| crate::director::config::service_name(s.address, s.port, s.protocol))
        .collect();
    for (name, help, value) in SERVICE {
        let mut m = family(encoder, name, help, MetricType::Gauge)?;
        for (s, n) in status.iter().zip(&names) {
            gauge(&mut m, &[("service", n.as_str())], value(s))?;
        }
    }
    let mut m = family(
        encoder,
        "cue_destination_up",
        "1 when the destination is healthy: enabled, weight above 0, every check up.",
        MetricType::Gauge,
    )?;
    for (s, n) in status.iter().zip(&names) {
        for d in &s.destinations {
            let dn = crate::director::config::socket_name(d.address, d.port);
            let labels = [("service", n.as_str()), ("destination", dn.as_str())];
            gauge(&mut m, &labels, u8::from(d.ok))?;
        }
    }
    Ok(())
}

#[cfg(feature = "director")]
type Labelled<'a> = (
    String,
    String,
    &'a str,
    &'a crate::director::state::CheckStatus,
);

/// A check's labels.
#[cfg(feature = "director")]
fn labels<'a>((s, d, check, _): &'a Labelled) -> [(&'static str, &'a str); 3] {
    [
        ("service", s.as_str()),
        ("destination", d.as_str()),
        ("check", check),
    ]
}

/// The label values of every check: service, destination, check. The
/// check is named by its kind (`http`) when it probes the destination's own
/// address and port, and by kind and target (`http 10.0.0.1:8081`) when not.
#[cfg(feature = "director")]
fn check_labels(status: &[ServiceStatus]) -> Vec<Labelled<'_>> {
    let mut out = Vec::new();
    for s in status {
        let sn = crate::director::config::service_name(s.address, s.port, s.protocol);
        for d in &s.destinations {
            let dn = crate::director::config::socket_name(d.address, d.port);
            for c in &d.checks {
                let name = match c.check.split_once(' ') {
                    Some((kind, target)) if target == dn => kind,
                    _ => c.check.as_str(),
                };
                out.push((sn.clone(), dn.clone(), name, c));
            }
        }
    }
    out
}

#[cfg(feature = "director")]
fn encode_checks(encoder: &mut DescriptorEncoder, status: &[ServiceStatus]) -> Result<(), Error> {
    let checks = check_labels(status);
    let mut m = family(
        encoder,
        "cue_check_up",
        "1 when the check counts as up (its rise/fall window).",
        MetricType::Gauge,
    )?;
    for c in &checks {
        gauge(&mut m, &labels(c), u8::from(c.3.up))?;
    }
    let mut m = encoder.encode_descriptor(
        "cue_probe_duration_seconds",
        "How long each probe took, failed or passed.",
        None,
        MetricType::Histogram,
    )?;
    for c in &checks {
        let stats = &c.3.stats;
        let mut buckets: Vec<(f64, u64)> = crate::director::state::PROBE_DURATION_BUCKETS
            .iter()
            .zip(stats.buckets)
            .map(|(b, n)| (b.as_secs_f64(), n))
            .collect();
        let within: u64 = stats.buckets.iter().sum();
        buckets.push((f64::INFINITY, stats.probes - within));
        let l = labels(c);
        let mut e = m.encode_family(&l)?;
        e.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            stats.duration_sum.as_secs_f64(),
            stats.probes,
            &buckets,
            None,
        )?;
    }
    let mut m = family(
        encoder,
        "cue_probe_failures",
        "Probes that failed, by cause.",
        MetricType::Counter,
    )?;
    for c in &checks {
        let [s, d, k] = labels(c);
        // A cause appears once it has happened (ten thousand healthy
        // checks would otherwise make sixty thousand zeros a scrape).
        for cause in FailureCause::ALL {
            let n = c.3.stats.failures_by(cause);
            if n > 0 {
                counter(&mut m, &[s, d, k, ("cause", cause.as_str())], n)?;
            }
        }
    }
    Ok(())
}
