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
    ) -> Result<(u16, bool), String> {
        super::http::read_response(bytes, chunk, head).await
    }

    /// Judges a DNS reply to the query with `id`: `None` when it is not
    /// ours.
    pub fn dns_reply(bytes: &[u8], id: u16) -> Option<Result<String, String>> {
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
        let (ok, diagnostic) = match outcome {
            Some(Ok(diag)) => (true, diag),
            Some(Err(diag)) => (false, diag),
            None => {
                // A half-used connection cannot be trusted after a timeout.
                self.http.reset();
                (
                    false,
                    format!(
                        "timed out after {}",
                        humantime::format_duration(spec.timeout)
                    ),
                )
            }
        };
        ProbeResult {
            ok,
            diagnostic,
            took: start.elapsed(),
        }
    }
}
