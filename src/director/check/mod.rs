//! Health checks, one file per kind. Each probe is bounded as a whole by the
//! check's timeout (connect, TLS, request and body together).

mod command;
mod dns;
mod http;
mod syn;

pub use command::MAX_RUNNING as MAX_COMMANDS_RUNNING;
pub use syn::SynSockets;
mod tcp;

/// What the fuzz targets (`fuzz/`, built with `--cfg fuzzing` by
/// `scripts/fuzz.sh`) feed with arbitrary bytes: the HTTP response reader
/// and the DNS reply judge, the two places that parse a backend's bytes.
/// Not part of the API: it exists only in fuzzing builds.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads an HTTP response from `bytes`, delivered `chunk` bytes per
    /// read (a request is "sent" first); returns the status and whether
    /// the connection could be kept, or why the response fails the check.
    pub async fn http_response(
        bytes: &[u8],
        chunk: usize,
        head: bool,
    ) -> Result<(u16, bool), super::ProbeError> {
        super::http::read_response(bytes, chunk, head).await
    }

    /// Judges a DNS reply to the query with `id`: `None` when it is not
    /// ours.
    pub fn dns_reply(bytes: &[u8], id: u16) -> Option<Result<String, super::ProbeError>> {
        super::dns::judge(bytes, id)
    }
}

use super::config::{CheckSpec, CheckType};
use std::future::Future;
use std::time::{Duration, Instant};

/// The outcome of one probe.
///
/// ``` no_run
/// # async fn demo(mut prober: cue::director::check::Prober) {
/// let r = prober.probe().await;
/// println!("{} in {:?}: {}", if r.ok { "passed" } else { "failed" }, r.took, r.diagnostic);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeResult {
    /// Passed.
    pub ok: bool,
    /// What was seen: a status code, an error, a diagnostic.
    pub diagnostic: String,
    /// How long the probe took.
    pub took: Duration,
    /// Why it failed, in a few classes (none when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<FailureCause>,
}

impl ProbeResult {
    /// A passed probe.
    pub fn passed(diagnostic: impl Into<String>, took: Duration) -> ProbeResult {
        ProbeResult {
            ok: true,
            diagnostic: diagnostic.into(),
            took,
            cause: None,
        }
    }

    /// A failed probe, its cause read from the diagnostic
    /// ([`FailureCause::of`]).
    pub fn failed(diagnostic: impl Into<String>, took: Duration) -> ProbeResult {
        let diagnostic = diagnostic.into();
        ProbeResult {
            ok: false,
            cause: Some(FailureCause::of(&diagnostic)),
            diagnostic,
            took,
        }
    }
}

/// Why a probe failed: its class, and what was seen (the diagnostic).
///
/// ```
/// use cue::director::check::{FailureCause, ProbeError};
/// let e = ProbeError::new(FailureCause::Status, "status 503 not expected");
/// assert_eq!((e.cause, e.to_string()), (FailureCause::Status, "status 503 not expected".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{diagnostic}")]
pub struct ProbeError {
    /// The class of the failure.
    pub cause: FailureCause,
    /// What was seen, for people.
    pub diagnostic: String,
}

impl ProbeError {
    /// A failure of `cause`, described by `diagnostic`.
    pub fn new(cause: FailureCause, diagnostic: impl Into<String>) -> ProbeError {
        ProbeError {
            cause,
            diagnostic: diagnostic.into(),
        }
    }

    pub(crate) fn connect(diagnostic: impl Into<String>) -> ProbeError {
        ProbeError::new(FailureCause::Connect, diagnostic)
    }

    pub(crate) fn tls(diagnostic: impl Into<String>) -> ProbeError {
        ProbeError::new(FailureCause::Tls, diagnostic)
    }

    pub(crate) fn status(diagnostic: impl Into<String>) -> ProbeError {
        ProbeError::new(FailureCause::Status, diagnostic)
    }

    pub(crate) fn response(diagnostic: impl Into<String>) -> ProbeError {
        ProbeError::new(FailureCause::Response, diagnostic)
    }

    pub(crate) fn local(diagnostic: impl Into<String>) -> ProbeError {
        ProbeError::new(FailureCause::Local, diagnostic)
    }
}

/// Why a probe failed, in the classes an operator counts and alerts on
/// (`cue_probe_failures_total{cause=...}`).
///
/// ```
/// use cue::director::check::FailureCause;
/// assert_eq!(FailureCause::of("status 503 not expected"), FailureCause::Status);
/// assert_eq!(FailureCause::of("connect: Connection refused (os error 111)"), FailureCause::Connect);
/// assert_eq!(FailureCause::Timeout.as_str(), "timeout");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureCause {
    /// No answer within the check's timeout.
    Timeout,
    /// The connection was refused, reset or unreachable (a SYN check's
    /// RST too).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The service answered, but not as healthy: an HTTP status not
    /// expected, a DNS response code, a command's exit status or signal.
    Status,
    /// The answer was broken: a malformed or oversized response, a
    /// connection that closed or failed in the middle of it.
    Response,
    /// The check could not be carried out here: no raw socket, a program
    /// that cannot be run, no route to the destination.
    Local,
}

impl FailureCause {
    /// Every cause, in order.
    pub const ALL: [FailureCause; 6] = [
        FailureCause::Timeout,
        FailureCause::Connect,
        FailureCause::Tls,
        FailureCause::Status,
        FailureCause::Response,
        FailureCause::Local,
    ];

    /// Its name, as in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::Timeout => "timeout",
            FailureCause::Connect => "connect",
            FailureCause::Tls => "tls",
            FailureCause::Status => "status",
            FailureCause::Response => "response",
            FailureCause::Local => "local",
        }
    }

    /// The cause of a failure from its diagnostic, as the checks of this
    /// crate word them (each kind's messages are tested against this).
    pub fn of(diagnostic: &str) -> FailureCause {
        const CLASSES: &[(&str, FailureCause)] = &[
            ("timed out", FailureCause::Timeout),
            ("connect:", FailureCause::Connect),
            ("RST:", FailureCause::Connect),
            ("TLS:", FailureCause::Tls),
            ("status ", FailureCause::Status),
            ("answered ", FailureCause::Status),
            ("exit ", FailureCause::Status),
            ("killed by signal", FailureCause::Status),
            ("raw socket:", FailureCause::Local),
            ("syn checks need", FailureCause::Local),
            ("socket:", FailureCause::Local),
            ("no route to", FailureCause::Local),
            ("cannot run", FailureCause::Local),
            ("no program", FailureCause::Local),
            ("encoding the query", FailureCause::Local),
        ];
        for (prefix, cause) in CLASSES {
            if diagnostic.starts_with(prefix) {
                return *cause;
            }
        }
        if diagnostic.ends_with("is not a TLS server name") {
            return FailureCause::Tls;
        }
        FailureCause::Response
    }
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs the probes of one check, keeping what may be reused between them
/// (an HTTP connection kept alive).
///
/// ``` no_run
/// # async fn demo() {
/// use cue::director::check::Prober;
/// use cue::director::config::DestinationConfig;
/// let d: DestinationConfig = serde_json::from_str(r#"{"address": "127.0.0.1", "port": 8080,
///     "checks": [{"type": "http", "path": "/health"}]}"#).unwrap();
/// let mut prober = Prober::new(d.checks[0].spec(&d).unwrap());
/// let first = prober.probe().await; // connects
/// let second = prober.probe().await; // the same connection, kept alive
/// # }
/// ```
pub struct Prober {
    spec: std::sync::Arc<CheckSpec>,
    http: http::HttpProber,
    syn: std::sync::Arc<SynSockets>,
    syn_source: Option<std::net::IpAddr>,
}

impl Prober {
    /// A prober for `spec` (with raw sockets of its own for a SYN check).
    pub fn new(spec: CheckSpec) -> Prober {
        Prober::with_syn_sockets(spec, std::sync::Arc::default())
    }

    /// A prober for `spec` that shares the raw sockets of SYN checks with
    /// other probers (as a director does).
    pub fn with_syn_sockets(spec: CheckSpec, syn: std::sync::Arc<SynSockets>) -> Prober {
        Prober::shared(std::sync::Arc::new(spec), syn)
    }

    /// A prober for a check held elsewhere too (as a director holds each
    /// check once), sharing the raw sockets of SYN checks.
    pub fn shared(spec: std::sync::Arc<CheckSpec>, syn: std::sync::Arc<SynSockets>) -> Prober {
        Prober {
            http: http::HttpProber::new(&spec),
            spec,
            syn,
            syn_source: None,
        }
    }

    /// Runs one probe, bounded by the check's timeout.
    pub async fn probe(&mut self) -> ProbeResult {
        let timeout = self.spec.timeout;
        self.probe_until(tokio::time::sleep(timeout)).await
    }

    /// Runs one probe, until it ends or `timed_out` does (which counts as
    /// the check's timeout: a director bounds thousands of probes with one
    /// schedule of deadlines rather than a timer each).
    pub(crate) async fn probe_until(&mut self, timed_out: impl Future<Output = ()>) -> ProbeResult {
        let start = Instant::now();
        let spec = &self.spec;
        let fut = async {
            // The other kinds boxed: the future of every probe is as large
            // as its largest kind, and an HTTP probe on a kept-alive
            // connection needs only a small one.
            match spec.kind {
                CheckType::Http | CheckType::Https => self.http.probe(spec).await,
                CheckType::Tcp => Box::pin(tcp::probe(spec)).await,
                CheckType::Dns => Box::pin(dns::probe(spec)).await,
                CheckType::Syn => Box::pin(self.syn.probe(spec, &mut self.syn_source)).await,
                CheckType::Command => Box::pin(command::probe(spec)).await,
            }
        };
        let outcome = tokio::select! {
            biased;
            outcome = fut => Some(outcome),
            () = timed_out => None,
        };
        match outcome {
            Some(Ok(diag)) => ProbeResult::passed(diag, start.elapsed()),
            Some(Err(e)) => ProbeResult {
                ok: false,
                diagnostic: e.diagnostic,
                took: start.elapsed(),
                cause: Some(e.cause),
            },
            None => {
                // A half-used connection cannot be trusted after a timeout.
                self.http.reset();
                let timeout = humantime::format_duration(spec.timeout);
                ProbeResult {
                    ok: false,
                    diagnostic: format!("timed out after {timeout}"),
                    took: start.elapsed(),
                    cause: Some(FailureCause::Timeout),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureCause::{self, *};

    /// Every kind's failure messages (as the probes word them) fall in the
    /// class an operator expects.
    #[test]
    fn each_kind_of_failure_has_its_cause() {
        for (diagnostic, cause) in [
            ("timed out after 2s", Timeout),
            ("connect: Connection refused (os error 111)", Connect),
            ("RST: port closed", Connect),
            ("TLS: invalid peer certificate: UnknownIssuer", Tls),
            ("\"bad name\" is not a TLS server name", Tls),
            ("status 503 not expected", Status),
            ("answered SERVFAIL", Status),
            ("exit 3: broken", Status),
            ("killed by signal 9", Status),
            (
                "reading response: Connection reset by peer (os error 104)",
                Response,
            ),
            ("connection closed before a response", Response),
            ("bad response: invalid HTTP version", Response),
            ("body of 2000000 bytes is too large", Response),
            ("request: Broken pipe (os error 32)", Response),
            ("read: early eof", Response),
            ("raw socket: Operation not permitted (os error 1)", Local),
            (
                "syn checks need CAP_NET_RAW (raw socket: permission denied)",
                Local,
            ),
            ("socket: Address family not supported", Local),
            ("no route to 192.0.2.1:80: Network is unreachable", Local),
            (
                "cannot run /nonexistent/check: No such file or directory",
                Local,
            ),
            ("no program to run", Local),
        ] {
            assert_eq!(FailureCause::of(diagnostic), cause, "{diagnostic}");
        }
    }
}
