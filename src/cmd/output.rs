//! What the commands print: event lines (text or JSON) and tables.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, ContentArrangement, Table};
use cue::bgp::{Direction, Event, PeerStatus, RouteAttributes};
use ipnet::IpNet;
use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

/// How many prefixes a text line lists before it abbreviates.
const SHOWN_PREFIXES: usize = 8;

/// Prints events and tables as text or as one JSON object per line.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// JSON lines instead of text.
    pub json: bool,
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Writes a line to standard output; a closed pipe is not an error worth
/// dying noisily for, so write errors are ignored.
/// Set once standard output is gone (`| head -1` exited): a closed pipe is
/// the reader's way of saying it has seen enough.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn closed_notify() -> &'static tokio::sync::Notify {
    static N: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    N.get_or_init(tokio::sync::Notify::new)
}

/// Whether standard output was found closed.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Resolves once standard output is found closed (at a write): the run
/// then ends as it does at a signal, successfully.
pub async fn stdout_gone() {
    loop {
        let notified = closed_notify().notified();
        if stdout_closed() {
            return;
        }
        notified.await;
    }
}

/// Set once a stop was asked for (SIGINT, SIGTERM): lines that find the
/// queue to standard output full are dropped instead of waited for.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lines queued for standard output at most; beyond, a line waits (the
/// reader is slow) or, once stopping, is dropped (nobody reads).
const QUEUED_LINES: usize = 4096;

/// What the writer thread is given.
enum Line {
    Text(String),
    /// Answered once every line before it was written.
    Drained(std::sync::mpsc::Sender<()>),
}

/// The queue to the thread that writes standard output: a reader that
/// stops reading blocks that thread, never the run, so a signal still
/// ends it.
fn queue() -> &'static std::sync::mpsc::SyncSender<Line> {
    static Q: std::sync::OnceLock<std::sync::mpsc::SyncSender<Line>> = std::sync::OnceLock::new();
    Q.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUED_LINES);
        let _ = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || write_lines(rx));
        tx
    })
}

fn write_lines(rx: std::sync::mpsc::Receiver<Line>) {
    let stdout = std::io::stdout();
    for line in rx {
        match line {
            Line::Text(_) if stdout_closed() => {}
            Line::Text(t) => {
                let mut lock = stdout.lock();
                if let Err(e) = writeln!(lock, "{t}").and_then(|()| lock.flush()) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                        closed_notify().notify_waiters();
                    }
                }
            }
            Line::Drained(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// From the first SIGINT or SIGTERM on (for the commands that end at
/// one), output that cannot be queued is dropped: the stop goes on even
/// while nobody reads.
pub fn stop_on_signal() {
    tokio::spawn(async {
        super::signals::signal().await;
        STOPPING.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// Queues `line`, waiting while the queue is full, unless stopping.
fn send(mut line: Line) {
    use std::sync::mpsc::TrySendError;
    loop {
        match queue().try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(l)) => {
                if STOPPING.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                line = l;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

/// Waits until every line queued is written: for as long as it takes, or
/// half a second once stopping (a reader that does not read would hold the
/// exit for ever).
pub fn drain() {
    let (tx, rx) = std::sync::mpsc::channel();
    send(Line::Drained(tx));
    if STOPPING.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = rx.recv_timeout(std::time::Duration::from_millis(500));
    } else {
        let _ = rx.recv();
    }
}

fn out(line: &str) {
    if stdout_closed() {
        return;
    }
    send(Line::Text(line.to_string()));
}

/// Prints text as it is (several lines, or none), as [`out`] does.
pub fn raw(text: &str) {
    if let Some(t) = text.strip_suffix('\n') {
        out(t);
    } else if !text.is_empty() {
        out(text);
    }
}

/// A JSON line: `time`, `event` and `peer`, then the fields of `value`.
fn json_line(event: &str, peer: &str, value: serde_json::Value) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("time".into(), now().into());
    obj.insert("event".into(), event.into());
    obj.insert("peer".into(), peer.into());
    if let serde_json::Value::Object(m) = value {
        for (k, v) in m {
            if k != "event" && k != "peer" {
                obj.insert(k, v);
            }
        }
    }
    serde_json::Value::Object(obj).to_string()
}

fn list(prefixes: &mut dyn Iterator<Item = String>, total: usize) -> String {
    let mut s: Vec<String> = prefixes.take(SHOWN_PREFIXES).collect();
    if total > SHOWN_PREFIXES {
        s.push(format!("... {} more", total - SHOWN_PREFIXES));
    }
    s.join(" ")
}

/// A route's attributes in one line.
pub fn describe_route(a: &RouteAttributes) -> String {
    let mut s = Vec::new();
    if let Some(id) = a.path_id {
        s.push(format!("path-id {id}"));
    }
    if let Some(nh) = a.next_hop {
        s.push(format!("next-hop {nh}"));
    }
    if let Some(ll) = a.link_local {
        s.push(format!("link-local {ll}"));
    }
    s.push(format!("as-path [{}]", a.as_path));
    if let Some(o) = a.origin {
        s.push(format!("origin {o}"));
    }
    if let Some(m) = a.med {
        s.push(format!("med {m}"));
    }
    if let Some(l) = a.local_pref {
        s.push(format!("local-pref {l}"));
    }
    if !a.communities.is_empty() {
        let c: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
        s.push(format!("communities {}", c.join(",")));
    }
    if !a.large_communities.is_empty() {
        let c: Vec<String> = a.large_communities.iter().map(|c| c.to_string()).collect();
        s.push(format!("large-communities {}", c.join(",")));
    }
    s.join(" ")
}

impl Printer {
    /// Prints a JSON object with `time` put first.
    pub fn line(&self, v: &serde_json::Value) {
        let mut obj = serde_json::Map::new();
        obj.insert("time".into(), now().into());
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                obj.insert(k.clone(), v.clone());
            }
        }
        out(&serde_json::Value::Object(obj).to_string());
    }

    /// Prints a bare line (a command's answer).
    pub fn text(&self, line: &str) {
        out(line);
    }

    /// Prints one event.
    pub fn event(&self, e: &Event) {
        if let Event::Lagged { missed } = e {
            // The output could not keep up; state and tables stay whole.
            if self.json {
                out(
                    &serde_json::json!({"time": now(), "event": "lagged", "missed": missed})
                        .to_string(),
                );
            } else {
                eprintln!("cue-bgp: {missed} events not shown: the output could not keep up");
            }
            return;
        }
        if self.json {
            match serde_json::to_value(e) {
                Ok(v) => {
                    // The kind's name is the library's (its serde tag).
                    let kind = v["event"].as_str().unwrap_or_default().to_string();
                    out(&json_line(&kind, e.peer(), v))
                }
                Err(err) => eprintln!("cue-bgp: cannot encode event: {err}"),
            }
            return;
        }
        let (t, peer) = (now(), e.peer());
        for l in event_lines(e) {
            out(&format!("{t} {peer} {l}"));
        }
    }

    /// Prints the status of every peer: a table, or one `status` JSON line
    /// per peer.
    pub fn status(&self, status: &[PeerStatus]) {
        if self.json {
            for s in status {
                match serde_json::to_value(s) {
                    Ok(v) => out(&json_line("status", &s.peer, v)),
                    Err(err) => eprintln!("cue-bgp: cannot encode status: {err}"),
                }
            }
            return;
        }
        out(&status_table(status).to_string());
    }

    /// Prints routes received from peers: a table, or one `route` JSON line
    /// per route; those in `stale` (kept while their peer restarts) are
    /// marked.
    pub fn routes(&self, routes: &[(String, IpNet, Arc<RouteAttributes>)], stale: &Stale) {
        if self.json {
            for (peer, prefix, attrs) in routes {
                let mut v = serde_json::to_value(attrs.as_ref()).unwrap_or_default();
                if let serde_json::Value::Object(m) = &mut v {
                    m.insert("prefix".into(), prefix.to_string().into());
                    if stale.contains(&(peer.clone(), *prefix)) {
                        m.insert("stale".into(), true.into());
                    }
                }
                out(&json_line("route", peer, v));
            }
            return;
        }
        out(&routes_table(routes, stale).to_string());
    }
}

impl Printer {
    /// Prints what `listen --expect` found: one `expect` JSON object
    /// (`result`, `missing`, `different`, `unexpected`), or `expect:` lines.
    pub fn expect(&self, report: &cue::bgp::route::ExpectReport) {
        let result = if report.is_ok() { "ok" } else { "failed" };
        if self.json {
            let mut v = serde_json::to_value(report).unwrap_or_default();
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("time".into(), now().into());
                m.insert("event".into(), "expect".into());
                m.insert("result".into(), result.into());
            }
            out(&v.to_string());
            return;
        }
        for l in report.lines() {
            out(&format!("expect: {l}"));
        }
        out(&format!("expect: {result}"));
    }
}

/// Routes kept as stale, by peer and prefix.
pub type Stale = std::collections::BTreeSet<(String, IpNet)>;

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    t
}

/// The status of the peers as a table.
pub fn status_table(status: &[PeerStatus]) -> Table {
    let mut t = table(&[
        "Peer",
        "State",
        "Since",
        "AS local/remote",
        "Hold",
        "Families",
        "Routes out",
        "Adv/Wdr",
        "Received",
        "Attempts/Conn/Est",
        "Last error",
    ]);
    for s in status {
        let since = humantime::format_rfc3339_seconds(s.since).to_string();
        let families: Vec<String> = s.families.iter().map(|f| f.to_string()).collect();
        let c = &s.counters;
        t.add_row(vec![
            s.peer.clone(),
            s.state.to_string(),
            since,
            format!("{}/{}", s.local_as, s.remote_as),
            s.hold_time.to_string(),
            families.join(" "),
            c.current.to_string(),
            format!("{}/{}", c.advertised, c.withdrawn),
            s.received.to_string(),
            format!("{}/{}/{}", c.attempts, c.connections, c.established),
            s.last_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ]);
    }
    t
}

/// An event as lines of text (none for those not shown as text).
fn event_lines(e: &Event) -> Vec<String> {
    let line = match e {
        Event::Added { .. } | Event::Removed { .. } | Event::Lagged { .. } => return vec![],
        Event::State { state, .. } => format!("state {state}"),
        Event::Notification {
            direction,
            code,
            subcode,
            reason,
            ..
        } => {
            let dir = match direction {
                Direction::Sent => "sent",
                Direction::Received => "received",
            };
            format!("notification {dir} {code}/{subcode}: {reason}")
        }
        Event::Sent {
            announce, withdraw, ..
        } => sent_text(announce, withdraw),
        Event::Received {
            announce,
            withdraw,
            withdraw_path_ids,
            ..
        } => return received_lines(announce, withdraw, withdraw_path_ids),
        Event::Malformed {
            action,
            reason,
            code,
            subcode,
            withdrawn,
            ..
        } => {
            let mut line = format!(
                "malformed UPDATE: {action}, session kept (RFC 7606): {reason} \
                 (RFC 4271 alone: NOTIFICATION {code}/{subcode})"
            );
            if !withdrawn.is_empty() {
                line.push_str(&format!(
                    "; treated as withdrawn {}: {}",
                    withdrawn.len(),
                    list(
                        &mut withdrawn.iter().map(|p| p.to_string()),
                        withdrawn.len()
                    )
                ));
            }
            line
        }
        Event::Restarting {
            stale,
            restart_time,
            ..
        } => format!(
            "peer restarting (graceful restart): {stale} routes kept as stale for up to {restart_time}s"
        ),
        Event::Down {
            requested: true, ..
        } => "session closed".to_string(),
        Event::Down { reason, .. } => format!("session down: {reason}"),
        Event::Error { error, .. } => format!("error: {error}"),
        Event::Message {
            direction, message, ..
        } => match direction {
            Direction::Sent => format!("sent {message}"),
            Direction::Received => format!("received {message}"),
        },
    };
    vec![line]
}

/// What a sync sent, in one line.
fn sent_text(announce: &cue::bgp::PrefixList, withdraw: &cue::bgp::PrefixList) -> String {
    let mut parts = Vec::new();
    if !announce.is_empty() {
        parts.push(format!(
            "announced {}: {}",
            announce.len(),
            list(&mut announce.iter().map(|p| p.to_string()), announce.len())
        ));
    }
    if !withdraw.is_empty() {
        parts.push(format!(
            "withdrew {}: {}",
            withdraw.len(),
            list(&mut withdraw.iter().map(|p| p.to_string()), withdraw.len())
        ));
    }
    parts.join("; ")
}

/// What an UPDATE from the peer changed: a line per route (up to
/// [`SHOWN_PREFIXES`]), then the withdrawals, with their path ids.
fn received_lines(
    announce: &[cue::bgp::ReceivedRoute],
    withdraw: &[IpNet],
    withdraw_path_ids: &[u32],
) -> Vec<String> {
    let mut lines = Vec::new();
    for r in announce.iter().take(SHOWN_PREFIXES) {
        lines.push(format!(
            "received {} {}",
            r.prefix,
            describe_route(&r.attributes)
        ));
    }
    if announce.len() > SHOWN_PREFIXES {
        lines.push(format!(
            "received ... {} more",
            announce.len() - SHOWN_PREFIXES
        ));
    }
    if !withdraw.is_empty() {
        let mut each = withdraw
            .iter()
            .enumerate()
            .map(|(i, p)| match withdraw_path_ids.get(i) {
                Some(id) => format!("{p} path-id {id}"),
                None => p.to_string(),
            });
        lines.push(format!(
            "withdrawn by peer {}: {}",
            withdraw.len(),
            list(&mut each, withdraw.len())
        ));
    }
    lines
}

/// Received routes as a table (with a path id column when a route has an
/// ADD-PATH identifier).
pub fn routes_table(routes: &[(String, IpNet, Arc<RouteAttributes>)], stale: &Stale) -> Table {
    let paths = routes.iter().any(|(_, _, a)| a.path_id.is_some());
    let mut header = vec!["Peer", "Prefix"];
    header.extend(paths.then_some("Path id"));
    header.extend([
        "Next hop",
        "AS path",
        "Origin",
        "MED",
        "Local pref",
        "Communities",
        "Large communities",
    ]);
    let mut t = table(&header);
    for (peer, prefix, a) in routes {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let communities: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
        let large: Vec<String> = a.large_communities.iter().map(|c| c.to_string()).collect();
        let mut nh = a.next_hop.map(|n| n.to_string()).unwrap_or_default();
        if let Some(ll) = a.link_local {
            nh.push_str(&format!(" {ll}"));
        }
        let mut row = vec![
            peer.clone(),
            if stale.contains(&(peer.clone(), *prefix)) {
                format!("{prefix} (stale)")
            } else {
                prefix.to_string()
            },
        ];
        row.extend(paths.then(|| opt(a.path_id)));
        row.extend([
            nh,
            a.as_path.to_string(),
            a.origin.map(|o| o.to_string()).unwrap_or_default(),
            opt(a.med),
            opt(a.local_pref),
            communities.join(" "),
            large.join(" "),
        ]);
        t.add_row(row);
    }
    t
}

impl Printer {
    /// Prints a director event (probe results only when `probes`).
    pub fn director_event(&self, e: &cue::director::DirectorEvent, probes: bool) {
        use cue::director::DirectorEvent as D;
        if matches!(e, D::Probe { .. }) && !probes {
            return;
        }
        if self.json {
            match serde_json::to_value(e) {
                Ok(serde_json::Value::Object(m)) => {
                    let mut obj = serde_json::Map::new();
                    obj.insert("time".into(), now().into());
                    for (k, v) in m {
                        obj.insert(k, v);
                    }
                    out(&serde_json::Value::Object(obj).to_string());
                }
                Ok(_) => {}
                Err(err) => eprintln!("cue-bgp: cannot encode event: {err}"),
            }
            return;
        }
        let updown = |up: bool| if up { "up" } else { "down" };
        let text = match e {
            D::Probe {
                target,
                check,
                ok,
                diagnostic,
                took,
            } => format!(
                "probe {check} {target} {} in {:.1} ms: {diagnostic}",
                if *ok { "passed" } else { "failed" },
                took.as_secs_f64() * 1000.0
            ),
            D::Destination {
                service,
                destination,
                up,
                diagnostic,
            } => {
                let why = if diagnostic.is_empty() {
                    String::new()
                } else {
                    format!(" ({diagnostic})")
                };
                format!(
                    "service {service} destination {destination} {}{why}",
                    updown(*up)
                )
            }
            D::Service {
                service,
                up,
                available,
                required,
            } => format!(
                "service {service} {} ({available} of {required} required destinations healthy)",
                updown(*up)
            ),
            D::Lagged { missed } => {
                eprintln!(
                    "cue-bgp: {missed} health events not shown: the output could not keep up"
                );
                return;
            }
        };
        out(&format!("{} {text}", now()));
    }

    /// Prints the director's status: a table, or one `service` JSON line per
    /// service.
    pub fn services(&self, status: &[cue::director::ServiceStatus]) {
        if self.json {
            for s in status {
                if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(s) {
                    let mut obj = serde_json::Map::new();
                    obj.insert("time".into(), now().into());
                    obj.insert("event".into(), "service_status".into());
                    for (k, v) in m {
                        obj.insert(k, v);
                    }
                    out(&serde_json::Value::Object(obj).to_string());
                }
            }
            return;
        }
        out(&services_table(status).to_string());
    }
}

/// Services and their destinations as a table.
pub fn services_table(status: &[cue::director::ServiceStatus]) -> Table {
    let mut t = table(&[
        "Service",
        "State",
        "Available",
        "Destination",
        "Status",
        "Diagnostic",
        "Probe time",
        "Last probe",
    ]);
    for s in status {
        let name = cue::director::config::service_name(s.address, s.port, s.protocol);
        let state = if s.up { "up" } else { "down" };
        let avail = format!("{}/{}", s.available, s.required);
        if s.destinations.is_empty() {
            t.add_row(vec![name, state.into(), avail]);
            continue;
        }
        for (i, d) in s.destinations.iter().enumerate() {
            let first = i == 0;
            t.add_row(vec![
                if first { name.clone() } else { String::new() },
                if first { state.into() } else { String::new() },
                if first { avail.clone() } else { String::new() },
                cue::director::config::socket_name(d.address, d.port),
                if d.ok { "up".into() } else { "down".into() },
                d.diagnostic.clone(),
                format!("{:.1} ms", d.took.as_secs_f64() * 1000.0),
                d.last_probe
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_default(),
            ]);
        }
    }
    t
}
