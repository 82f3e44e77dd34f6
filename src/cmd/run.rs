//! The run loop shared by the speaker and `listen`: print events, stop on a
//! signal or after --for, enforce --wait-established, and shut down cleanly.

use super::output::Printer;
use super::EXIT_NOT_ESTABLISHED;
use cue::bgp::{Event, LocRib, PeerStatus, Pool, State};
use cue::director::{Config, Director};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

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
    /// --wait-established ran out.
    NotEstablished,
}

pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Prints events until a stop rule fires.
pub async fn until_stopped(
    events: &mut UnboundedReceiver<Event>,
    printer: Printer,
    rules: StopRules,
    quit: tokio::sync::oneshot::Receiver<()>,
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
    let sig = signal();
    // `quit` from --commands; never, when nobody holds the sender.
    let quit = async {
        if quit.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(sig, quit);
    let mut established = false;
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => {
                    if matches!(e, Event::State { state: State::Established, .. }) {
                        established = true;
                    }
                    printer.event(&e);
                }
                None => return Ended::Done,
            },
            _ = &mut sig => return Ended::Done,
            _ = &mut quit => return Ended::Done,
            _ = &mut run_for => return Ended::Done,
            _ = &mut wait, if !established => return Ended::NotEstablished,
        }
    }
}

/// Withdraws everything, stops every session with Cease, prints the
/// remaining events, and returns the final status.
pub async fn shutdown(
    pool: &Pool,
    events: &mut UnboundedReceiver<Event>,
    printer: Printer,
) -> Vec<PeerStatus> {
    pool.set_rib([]);
    let status = pool.shutdown().await;
    while let Ok(e) = events.try_recv() {
        printer.event(&e);
    }
    status
}

/// The exit code for how the run ended, saying why on standard error.
pub fn exit_code(ended: Ended, status: &[PeerStatus], waited: Option<Duration>) -> ExitCode {
    match ended {
        Ended::Done => ExitCode::SUCCESS,
        Ended::NotEstablished => {
            let errors: Vec<String> = status
                .iter()
                .map(|s| {
                    let e = if s.last_error.is_empty() {
                        "no error recorded"
                    } else {
                        &s.last_error
                    };
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

/// A director and what comes with it.
struct Health {
    director: Director,
    events: UnboundedReceiver<cue::director::DirectorEvent>,
    changed: tokio::sync::watch::Receiver<u64>,
    path: PathBuf,
    hup: Option<tokio::signal::unix::Signal>,
}

/// Keeps the pool's Loc-RIB at the `fixed` prefixes plus, with a services
/// file, the VIPs the director finds healthy; SIGHUP reloads that file.
/// Only a change (not every probe) recomputes the RIB.
pub async fn compose_rib(
    pool: Pool,
    mut fixed: tokio::sync::watch::Receiver<LocRib>,
    services: Option<(Config, PathBuf)>,
    printer: Printer,
) {
    let mut health = services.map(|(config, path)| {
        let (director, events) = Director::start(config);
        let changed = director.changed();
        Health {
            director,
            events,
            changed,
            path,
            hup: super::check::hangup(),
        }
    });
    let mut fixed_open = true;
    let mut dirty = true;
    loop {
        if dirty {
            let base = fixed.borrow_and_update().clone();
            let vips = health
                .as_ref()
                .map(|h| h.director.healthy_vips())
                .unwrap_or_default();
            let current = pool.loc_rib();
            if vips.is_empty() {
                // Share the fixed set as it is: no copy of a large RIB.
                if !Arc::ptr_eq(&current, &base) && *current != *base {
                    pool.set_loc_rib(base);
                }
            } else {
                let mut rib: BTreeSet<IpNet> = (*base).clone();
                rib.extend(vips.into_iter().map(IpNet::from));
                if *current != rib {
                    pool.set_loc_rib(Arc::new(rib));
                }
            }
            dirty = false;
        }
        match &mut health {
            None if !fixed_open => std::future::pending::<()>().await,
            None => match fixed.changed().await {
                Ok(()) => dirty = true,
                Err(_) => fixed_open = false,
            },
            Some(h) => tokio::select! {
                r = fixed.changed(), if fixed_open => match r {
                    Ok(()) => dirty = true,
                    Err(_) => fixed_open = false,
                },
                r = h.changed.changed() => match r {
                    Ok(()) => dirty = true,
                    Err(_) => return,
                },
                Some(e) = h.events.recv() => printer.director_event(&e, false),
                Some(()) = super::check::recv_hangup(&mut h.hup) => {
                    super::check::reload(&h.director, &h.path)
                }
            },
        }
    }
}
