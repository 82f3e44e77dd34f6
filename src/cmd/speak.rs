//! The speaker: dial each peer and advertise.

use super::args::{
    parse_asn, parse_peer, parse_port, parse_retry, parse_router_id, AdvertiseArgs, AttributeArgs,
    RunArgs,
};
use super::output::Printer;
use super::run::{exit_code, follow_health, shutdown, until_stopped, Ended};
use super::UsageError;
use clap::Args;
use cue::bgp::wire::Family;
use cue::bgp::{LocRib, Overrides, Parameters};
use cue::bgp::{PeerConfig, Pool};
use cue::director::Config;
use cue::rhi::HealthInjector;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::oneshot;

/// Speaker arguments.
#[derive(Debug, Clone, Args)]
pub struct SpeakArgs {
    /// Local AS number (1-4294967295; 4-octet AS numbers are supported)
    #[arg(value_name = "AS_NUMBER", required = true, value_parser = parse_asn)]
    pub as_number: Option<u32>,
    /// Router ID: an IPv4 address
    #[arg(value_name = "ROUTER_ID", required = true, value_parser = parse_router_id)]
    pub router_id: Option<Ipv4Addr>,
    /// Peer IPv4 or IPv6 address (link-local IPv6 needs %zone); several
    /// peers form a pool
    #[arg(value_name = "PEER", required = true, value_parser = parse_peer)]
    pub peers: Vec<SocketAddr>,
    /// Multiprotocol: advertise IPv4 and IPv6 unicast on every session
    #[arg(help_heading = super::args::SESSION, short = 'm', long)]
    pub multiprotocol: bool,
    #[command(flatten)]
    pub attributes: AttributeArgs,
    #[command(flatten)]
    pub advertise: AdvertiseArgs,
    /// The peer's TCP port
    #[arg(help_heading = super::args::SESSION, long, value_name = "N", default_value = "179", value_parser = parse_port)]
    pub port: u16,
    /// Local address to connect from
    #[arg(help_heading = super::args::SESSION, long, value_name = "IP")]
    pub source: Option<IpAddr>,
    /// The peer's AS: a different one is refused (OPEN error Bad Peer AS)
    #[arg(help_heading = super::args::SESSION, long = "peer-as", value_name = "ASN", value_parser = parse_asn)]
    pub peer_as: Option<u32>,
    /// Delay between connection attempts (plus a random 0-25%)
    #[arg(help_heading = super::args::SESSION, long = "connect-retry", value_name = "DURATION", default_value = "30s", value_parser = parse_retry)]
    pub connect_retry: Duration,
    /// Services file (JSON): advertise the VIPs the director finds healthy,
    /// as they change, together with any --advertise addresses
    #[arg(help_heading = super::args::HEALTH, long, value_name = "CONFIG")]
    pub services: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

impl SpeakArgs {
    /// One configuration per peer.
    pub fn peer_configs(&self) -> Result<Vec<PeerConfig>, UsageError> {
        let (Some(asn), Some(router_id)) = (self.as_number, self.router_id) else {
            return Err(UsageError("AS_NUMBER and ROUTER_ID are required".into()));
        };
        if let Some(src) = self.source {
            if let Some(p) = self.peers.iter().find(|p| p.is_ipv4() != src.is_ipv4()) {
                return Err(UsageError(format!(
                    "--source {src} and peer {} are of different address families",
                    p.ip()
                )));
            }
        }
        let parameters = self.attributes.parameters(self.advertise.filter());
        Ok(self
            .peers
            .iter()
            .map(|addr| {
                let mut address = *addr;
                address.set_port(self.port);
                PeerConfig {
                    address,
                    local_as: asn,
                    router_id,
                    hold_time: self.run.hold_time,
                    peer_as: self.peer_as,
                    source: self.source,
                    multiprotocol: self.multiprotocol,
                    connect_retry: self.connect_retry,
                    passive: false,
                    trace: self.run.trace,
                    md5_key: self.run.md5_password.clone(),
                    ttl_security: self.run.ttl_security,
                    graceful_restart: self.run.graceful_restart,
                    max_prefixes: self.run.max_prefixes,
                    send_hold_time: self.run.send_hold_time,
                    bfd: self.run.bfd(),
                    extended_next_hop: self.run.extended_next_hop,
                    add_path: self.run.add_path,
                    extended_messages: self.run.extended_messages,
                    strict_errors: self.run.strict_errors,
                    parameters: parameters.clone(),
                }
            })
            .collect())
    }
}

/// Runs the speaker.
pub async fn run(args: SpeakArgs) -> anyhow::Result<ExitCode> {
    let peers = args.peer_configs()?;
    let services = args
        .services
        .as_deref()
        .map(super::check::load)
        .transpose()?
        .map(|c| (c, args.services.clone().unwrap_or_default()));
    // The sample addresses stand in only when nothing else is to be advertised.
    let routes = args
        .advertise
        .routes(services.is_none() && !args.run.commands)
        .map_err(|e| UsageError(format!("{e:#}")))?;
    let parameters = peers
        .first()
        .map(|p| p.parameters.clone())
        .unwrap_or_default();
    let max = peers.iter().map(PeerConfig::max_message_len).min();
    check_sizes(
        &routes,
        &parameters,
        max.unwrap_or(cue::bgp::wire::MAX_MESSAGE_LEN),
    )?;
    warn_about(&peers);
    // Routes of a family no session carries are never sent: when that is
    // everything there is to send, nothing sensible can be done.
    let carried = |p: &ipnet::IpNet| {
        peers.iter().any(|c| {
            c.multiprotocol || c.extended_next_hop || c.address.is_ipv4() == p.addr().is_ipv4()
        })
    };
    // Whether a route is carried depends on its family only: the first
    // prefix of each is enough (the Loc-RIB sorts IPv4 before IPv6), not a
    // walk of a million.
    let first_v4 = routes.first(Family::Ipv4Unicast);
    let first_v6 = routes.first(Family::Ipv6Unicast);
    let uncarried = first_v4
        .filter(|p| !carried(p))
        .or(first_v6.filter(|p| !carried(p)));
    if let Some(p) = uncarried {
        let more_to_come = services.is_some() || args.run.commands;
        if !more_to_come && !first_v4.iter().chain(first_v6.iter()).any(carried) {
            return Err(UsageError(format!(
                "no session can carry {p} or any other route given: a session carries only \
                 its own address family unless -m is given"
            ))
            .into());
        }
        eprintln!(
            "cue-bgp: warning: {p} (and any route of its family) is sent to no peer: a session \
             carries only its own address family unless -m is given"
        );
    }
    let metrics = super::metrics::bind(args.run.metrics).await?;
    let (pool, events) = Pool::with_event_buffer(super::EVENT_BUFFER);
    // The sessions send the table as soon as they come up, while its
    // Loc-RIB is built; what follows needs the Loc-RIB.
    let built = pool.set_table(routes);
    args.run.record_mrt(&pool)?;
    pool.configure(peers)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    let setup = Setup {
        services,
        parameters,
        listening: None,
        metrics,
    };
    drive(pool, events, built, setup, &args.run).await
}

/// Refuses routes that no UPDATE of `max` octets can carry.
pub fn check_sizes(
    routes: &cue::bgp::route::SortedRoutes,
    parameters: &Parameters,
    max: usize,
) -> Result<(), UsageError> {
    let Some((prefix, octets)) = routes.too_large(parameters, max) else {
        return Ok(());
    };
    let hint = if max < cue::bgp::wire::MAX_EXTENDED_MESSAGE_LEN {
        " (--extended-messages allows up to 65535 where the peer agrees)"
    } else {
        ""
    };
    Err(UsageError(format!(
        "{prefix}: path attributes of up to {octets} octets with the prefix: more than the \
         {max} of an UPDATE{hint}"
    )))
}

/// Says on standard error what the peers are known to refuse (each once).
pub fn warn_about(peers: &[PeerConfig]) {
    let mut said = std::collections::BTreeSet::new();
    for w in peers.iter().flat_map(|p| p.warnings()) {
        let line = w.to_string();
        if said.insert(line.clone()) {
            eprintln!("cue-bgp: warning: {line}");
        }
    }
}

/// Received routes shown as a table at exit at most (`--json` prints them
/// all).
const TABLE_ROUTES: u64 = 10_000;

/// Checks the expectations, if any, in a task of their own: whether they
/// held, and the report.
fn spawn_expectations(
    pool: &Pool,
    expect: Option<Expectations>,
) -> (
    Option<tokio::task::JoinHandle<()>>,
    oneshot::Receiver<bool>,
    oneshot::Receiver<cue::bgp::route::ExpectReport>,
) {
    let (expected_tx, expected_rx) = oneshot::channel();
    let (report_tx, report_rx) = oneshot::channel();
    let task = expect.map(|e| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let report = pool.expect_routes(&e.present, &e.absent, e.timeout).await;
            let _ = expected_tx.send(report.is_ok());
            let _ = report_tx.send(report);
        })
    });
    (task, expected_rx, report_rx)
}

/// A route held from a peer: the peer, the prefix and its attributes.
type HeldRoute = (
    String,
    ipnet::IpNet,
    std::sync::Arc<cue::bgp::RouteAttributes>,
);

/// The routes `listen` received, taken before the sessions close: all of
/// them, or (more than [`TABLE_ROUTES`] without `--json`) their count
/// only, not copied before the Cease goes.
enum Received {
    Routes(Vec<HeldRoute>, super::output::Stale),
    Count(u64),
}

impl Received {
    fn take(pool: &Pool, printer: Printer) -> Received {
        let held: u64 = pool.status().iter().map(|s| s.received).sum();
        if printer.json || held <= TABLE_ROUTES {
            Received::Routes(pool.adj_rib_in(), pool.stale_routes())
        } else {
            Received::Count(held)
        }
    }

    fn print(self, printer: Printer) {
        match self {
            Received::Routes(routes, stale) => printer.routes(&routes, &stale),
            Received::Count(held) => super::output::raw(&format!(
                "{held} routes received: too many for a table (more than {TABLE_ROUTES}); \
                 --json prints each"
            )),
        }
    }
}

/// Routes `listen` waits for (`--expect`, `--expect-file`) and routes it
/// must not see (`--expect-absent`), within a timeout.
pub struct Expectations {
    /// Routes to receive, with the attributes stated.
    pub present: Vec<cue::bgp::route::RouteSpec>,
    /// Routes not to receive.
    pub absent: Vec<cue::bgp::route::RouteSpec>,
    /// How long to wait.
    pub timeout: std::time::Duration,
}

/// What `listen` adds to the run: the received routes printed at exit, and
/// the expectations, if any.
pub struct Listening {
    /// `--expect` and company.
    pub expect: Option<Expectations>,
}

/// What a run has besides its sessions.
pub struct Setup {
    /// The services file (`--services`), read, and its path.
    pub services: Option<(Config, PathBuf)>,
    /// The parameters of the sessions (for the commands).
    pub parameters: Parameters,
    /// `listen`'s own.
    pub listening: Option<Listening>,
    /// The `--metrics` socket, bound.
    pub metrics: Option<tokio::net::TcpListener>,
}

/// The run shared by the speaker and `listen`: compose the RIB, take
/// commands, print events until a stop, then withdraw, Cease, and print the
/// received routes (`listen`) and the status.
/// `routes` gives the Loc-RIB and the attributes of the routes with their
/// own once built ([`Pool::set_table`]): the events of sessions that come
/// up meanwhile are printed as they come.
pub async fn drive(
    pool: Pool,
    mut events: cue::bgp::Events,
    routes: impl std::future::Future<Output = (LocRib, Overrides)>,
    setup: Setup,
    run: &RunArgs,
) -> anyhow::Result<ExitCode> {
    super::output::stop_on_signal();
    let show_received = setup.listening.is_some();
    let expect = setup.listening.and_then(|l| l.expect);
    let printer = Printer { json: run.json };
    let ((rib, attributes), established) =
        super::run::printing_while(&mut events, printer, routes).await;
    // Route health injection: the fixed prefixes plus the VIPs the director
    // finds healthy (none without a services file).
    let path = setup.services.as_ref().map(|(_, p)| p.clone());
    let config = setup.services.map(|(c, _)| c).unwrap_or_default();
    let first_round = super::check::once_limit(&config);
    let (rhi, health_events) =
        HealthInjector::start_with_routes(pool.clone(), config, rib, attributes)
            .map_err(|e| UsageError(e.to_string()))?;
    // Tasks beside the sessions, ended with the run.
    let mut beside: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    beside.extend(super::metrics::serve(setup.metrics, |m| {
        m.add_health_injector(&rhi)
    }));
    let health = rhi.clone();
    beside.push(tokio::spawn(super::systemd::duties(async move {
        // Ready once the first health round is done (at once without a
        // services file: the sessions are configured).
        super::check::first_round(health.director(), first_round).await;
    })));
    let follower = tokio::spawn(follow_health(rhi.clone(), health_events, path, printer));
    let (quit, quit_rx) = oneshot::channel();
    beside.extend(run.commands.then(|| {
        tokio::spawn(super::commands::serve(
            super::commands::Targets {
                pool: pool.clone(),
                rib: rhi.clone(),
                parameters: setup.parameters,
                printer,
            },
            quit,
        ))
    }));
    let (expecting, expected_rx, report_rx) = spawn_expectations(&pool, expect);
    let ended = until_stopped(
        &mut events,
        printer,
        run.stop_rules(),
        quit_rx,
        expected_rx,
        established,
    )
    .await;
    super::systemd::stopping();
    beside.iter().for_each(|t| t.abort());
    if let Some(t) = expecting {
        if let Ended::Expected(_) = ended {
            if let Ok(report) = report_rx.await {
                printer.expect(&report);
            }
        }
        t.abort();
    }
    follower.abort();
    let _ = follower.await;
    // The routes held are forgotten as the sessions close: take them first.
    let received = show_received.then(|| Received::take(&pool, printer));
    let restart = matches!(ended, Ended::Restart);
    let status = shutdown(&pool, &mut events, printer, restart).await;
    if let Some(r) = received {
        r.print(printer);
    }
    printer.status(&status);
    Ok(exit_code(ended, &status, run.wait_established))
}
