//! `cue-bgp check`: run the director without BGP.

use super::output::Printer;
use super::signals::{hangup, recv_hangup, signal};
use super::UsageError;
use clap::Args;
use cue::director::{Config, Director};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `check` arguments.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Services file (JSON; see examples/services.json)
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
    /// Probe until every check has a settled state, print the table, and
    /// exit 0 when every service is up, 1 otherwise
    #[arg(long)]
    pub once: bool,
    /// Also print every probe result
    #[arg(long)]
    pub probes: bool,
    /// One JSON object per line instead of text
    #[arg(long)]
    pub json: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics: the health of
    /// services, destinations, checks and VIPs, probe durations
    /// (histograms) and failures by cause
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// Reads and checks a services file.
pub fn load(path: &Path) -> Result<Config, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    // Every problem at once, a line each.
    Config::from_json_all(&text).map_err(|all| {
        let lines: Vec<String> = all
            .iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect();
        UsageError(lines.join("\n"))
    })
}

/// How long `--once` may take at most: every check's full window, plus its
/// timeout, plus a second.
pub fn once_limit(config: &Config) -> Duration {
    let mut limit = Duration::ZERO;
    for s in &config.services {
        for d in &s.destinations {
            for c in &d.checks {
                if let Ok(spec) = c.spec(d) {
                    let w = spec.interval * spec.rule.window as u32 + spec.timeout;
                    limit = limit.max(w);
                }
            }
        }
    }
    limit + Duration::from_secs(1)
}

/// Waits until every check has a settled state, `limit` at most.
pub async fn first_round(director: &Director, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while !director.settled() && tokio::time::Instant::now() < deadline {
        tick.tick().await;
    }
}

/// Runs the director.
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    let printer = Printer { json: args.json };
    let limit = once_limit(&config);
    let metrics = super::metrics::bind(args.metrics).await?;
    let (director, mut events) = Director::with_event_buffer(config, super::EVENT_BUFFER)
        .map_err(|e| UsageError(e.to_string()))?;
    director.probe_events(args.probes);
    let metrics = super::metrics::serve(metrics, |m| m.add_director(&director));
    if args.once {
        let deadline = tokio::time::Instant::now() + limit;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                Some(e) = events.recv() => printer.director_event(&e, args.probes),
                _ = tick.tick() => {
                    if director.settled() || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        while let Some(e) = events.try_recv() {
            printer.director_event(&e, args.probes);
        }
        let status = director.status();
        printer.services(&status);
        director.stop();
        if let Some(m) = metrics {
            m.abort();
        }
        return Ok(if status.iter().all(|s| s.up) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut hup = hangup();
    let sig = signal();
    tokio::pin!(sig);
    super::output::stop_on_signal();
    let watchdog = super::systemd::watchdog();
    let round = first_round(&director, limit);
    tokio::pin!(round);
    let mut ready = false;
    loop {
        tokio::select! {
            Some(e) = events.recv() => printer.director_event(&e, args.probes),
            _ = &mut round, if !ready => {
                ready = true;
                super::systemd::ready();
            }
            _ = &mut sig => break,
            _ = super::output::stdout_gone() => break,
            Some(()) = recv_hangup(&mut hup) => reload(&director, &args.config),
        }
    }
    super::systemd::stopping();
    if let Some(w) = watchdog {
        w.abort();
    }
    if let Some(m) = metrics {
        m.abort();
    }
    printer.services(&director.status());
    director.stop();
    Ok(ExitCode::SUCCESS)
}

/// Says READY=1 to systemd when dropped: a reload ends whichever way it
/// went.
struct Ready;

impl Drop for Ready {
    fn drop(&mut self) {
        super::systemd::ready();
    }
}

/// Re-reads the services file; a bad one is reported and the running
/// configuration stays.
pub fn reload(director: &Director, path: &Path) {
    super::systemd::reloading();
    let _ready = Ready;
    match load(path).and_then(|c| {
        director
            .reconfigure(c)
            .map_err(|e| UsageError(e.to_string()))
    }) {
        Ok(()) => eprintln!("cue-bgp: reloaded {}", path.display()),
        Err(e) => eprintln!("cue-bgp: {e}; keeping the running configuration"),
    }
}
