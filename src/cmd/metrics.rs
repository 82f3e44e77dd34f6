//! `--metrics ADDR:PORT`: Prometheus metrics at `/metrics`
//! ([`cue::metrics`]). The socket is bound before anything starts, so that
//! an address in use is an error at once, not after the sessions are up.

use super::UsageError;
use cue::metrics::Metrics;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Binds the metrics socket, if one was asked for.
pub async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, UsageError> {
    let Some(addr) = addr else { return Ok(None) };
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|e| UsageError(format!("--metrics {addr}: {e}")))
}

/// Serves the metrics that `add` registers on `listener`, until the task
/// is aborted.
pub fn serve(
    listener: Option<TcpListener>,
    add: impl FnOnce(&mut Metrics),
) -> Option<JoinHandle<()>> {
    let listener = listener?;
    let mut metrics = Metrics::new();
    add(&mut metrics);
    if let Ok(a) = listener.local_addr() {
        tracing::info!(address = %a, "serving metrics at /metrics");
    }
    Some(tokio::spawn(async move {
        let _ = metrics.serve(listener).await;
    }))
}
