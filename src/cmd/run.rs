//! The run loop shared by the speaker and `listen`: print events, stop on a
//! signal or after --for, enforce --wait-established, and shut down cleanly.

use super::output::Printer;
use super::EXIT_NOT_ESTABLISHED;
use cue::bgp::Events;
use cue::bgp::{Event, PeerStatus, Pool, State};
use cue::director::DirectorEvent;
use cue::rhi::HealthInjector;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// When to stop.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopRules {
    /// Stop after this long.
    pub run_for: Option<Duration>,
    /// Exit with status 3 when no peer is Established within this long.
    pub wait_established: Option<Duration>,
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A signal or --for.
    Done,
    /// A planned restart (`restart`, SIGUSR1): the sessions close without
    /// withdrawing, and peers with graceful restart keep the routes.
    Restart,
    /// --wait-established ran out.
    NotEstablished,
    /// `listen --expect`: the expectations held (true) or the timeout came
    /// first (false).
    Expected(bool),
}

/// Prints an event; whether it is a session coming up.
fn shown(e: &Event, printer: Printer) -> bool {
    printer.event(e);
    matches!(
        e,
        Event::State {
            state: State::Established,
            ..
        }
    )
}

/// Prints events while `work` runs (sessions come up while the Loc-RIB of
/// a large table is built): its output, and whether a session came up.
pub async fn printing_while<T>(
    events: &mut Events,
    printer: Printer,
    work: impl std::future::Future<Output = T>,
) -> (T, bool) {
    tokio::pin!(work);
    let mut established = false;
    loop {
        tokio::select! {
            biased;
            done = &mut work => return (done, established),
            Some(e) = events.recv() => established |= shown(&e, printer),
        }
    }
}

/// Prints events until a stop rule fires (`established`: a session came
/// up before).
pub async fn until_stopped(
    events: &mut Events,
    printer: Printer,
    rules: StopRules,
    quit: tokio::sync::oneshot::Receiver<bool>,
    expected: tokio::sync::oneshot::Receiver<bool>,
    mut established: bool,
) -> Ended {
    let sleep_or_never = |d: Option<Duration>| async move {
        match d {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let run_for = sleep_or_never(rules.run_for);
    let wait = sleep_or_never(rules.wait_established);
    tokio::pin!(run_for, wait);
    let sig = super::signals::signal();
    // `quit` (false) or `restart` (true) from --commands; never, when
    // nobody holds the sender.
    let quit = async {
        match quit.await {
            Ok(restart) => restart,
            Err(_) => std::future::pending().await,
        }
    };
    let restart = super::signals::restart();
    // The expectations' outcome; never, without expectations.
    let expected = async {
        match expected.await {
            Ok(held) => held,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::pin!(sig, quit, expected, restart);
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => established |= shown(&e, printer),
                None => return Ended::Done,
            },
            _ = &mut sig => return Ended::Done,
            _ = super::output::stdout_gone() => return Ended::Done,
            restart = &mut quit => return if restart { Ended::Restart } else { Ended::Done },
            _ = &mut restart => return Ended::Restart,
            _ = &mut run_for => return Ended::Done,
            held = &mut expected => return Ended::Expected(held),
            _ = &mut wait, if !established => return Ended::NotEstablished,
        }
    }
}

/// Stops every session (each withdraws everything and sends Cease; for a
/// restart, each just closes), prints the remaining events, and returns
/// the final status.
pub async fn shutdown(
    pool: &Pool,
    events: &mut Events,
    printer: Printer,
    restart: bool,
) -> Vec<PeerStatus> {
    let status = match restart {
        true => pool.shutdown_keeping_routes().await,
        false => pool.shutdown().await,
    };
    while let Some(e) = events.try_recv() {
        printer.event(&e);
    }
    status
}

/// The exit code for how the run ended, saying why on standard error.
pub fn exit_code(ended: Ended, status: &[PeerStatus], waited: Option<Duration>) -> ExitCode {
    match ended {
        Ended::Done | Ended::Restart | Ended::Expected(true) => ExitCode::SUCCESS,
        Ended::Expected(false) => ExitCode::FAILURE,
        Ended::NotEstablished => {
            let errors: Vec<String> = status
                .iter()
                .map(|s| {
                    let e = s
                        .last_error
                        .as_ref()
                        .map_or("no error recorded".to_string(), ToString::to_string);
                    format!("{}: {e}", s.peer)
                })
                .collect();
            eprintln!(
                "cue-bgp: no peer reached ESTABLISHED within {}: {}",
                humantime::format_duration(waited.unwrap_or_default()),
                errors.join("; ")
            );
            ExitCode::from(EXIT_NOT_ESTABLISHED)
        }
    }
}

/// Prints the director's events and reloads the services file on SIGHUP
/// (a bad file is reported and the running configuration stays).
pub async fn follow_health(
    rhi: HealthInjector,
    mut events: cue::bgp::Events<DirectorEvent>,
    path: Option<PathBuf>,
    printer: Printer,
) {
    let mut hup = path.as_ref().and_then(|_| super::signals::hangup());
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => printer.director_event(&e, false),
                None => return,
            },
            Some(()) = super::signals::recv_hangup(&mut hup) => {
                if let Some(path) = &path {
                    super::check::reload(rhi.director(), path);
                }
            }
        }
    }
}
