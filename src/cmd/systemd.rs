//! systemd's service notifications (`sd_notify`, for `Type=notify` and
//! `Type=notify-reload` units): `READY=1` once running, `RELOADING=1`
//! (with `MONOTONIC_USEC`) and `READY=1` again around a SIGHUP reload,
//! `WATCHDOG=1` at half `WATCHDOG_USEC`, `STOPPING=1` when a stop begins.
//! Without `NOTIFY_SOCKET` in the environment, nothing is sent.

use sd_notify::NotifyState;
use std::time::Duration;

/// Sends `states`; a failure is said once on standard error (the service
/// manager then believes what it likes; the run goes on).
fn notify(states: &[NotifyState]) {
    static SAID: std::sync::Once = std::sync::Once::new();
    if let Err(e) = sd_notify::notify(false, states) {
        SAID.call_once(|| eprintln!("cue-bgp: warning: cannot notify systemd: {e}"));
    }
}

/// The service is up: sessions configured, the first health round done.
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// A reload begins (end it with [`ready`]).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// A stop begins.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Half the watchdog interval asked for (`WATCHDOG_USEC`; `WATCHDOG_PID`,
/// when set, naming this process, as sd_watchdog_enabled(3) reads them).
fn watchdog_every() -> Option<Duration> {
    let var = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let usec = var("WATCHDOG_USEC").filter(|u| *u > 0)?;
    if var("WATCHDOG_PID").is_some_and(|p| p != u64::from(std::process::id())) {
        return None;
    }
    Some(Duration::from_micros(usec) / 2)
}

/// Says `WATCHDOG=1` every `every`, for ever.
async fn watchdog_loop(every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        notify(&[NotifyState::Watchdog]);
    }
}

/// With a watchdog asked for, a task that says `WATCHDOG=1` at half its
/// interval while the runtime runs.
pub fn watchdog() -> Option<tokio::task::JoinHandle<()>> {
    watchdog_every().map(|every| tokio::spawn(watchdog_loop(every)))
}

/// What a run owes systemd until it stops (abort the task then):
/// `READY=1` once `up` is over, `WATCHDOG=1` throughout when asked for.
pub async fn duties(up: impl std::future::Future<Output = ()>) {
    let watchdog = async {
        match watchdog_every() {
            Some(every) => watchdog_loop(every).await,
            None => std::future::pending().await,
        }
    };
    let ready = async {
        up.await;
        ready();
    };
    tokio::join!(ready, watchdog);
}
