//! `cue-bgp listen`: the passive side, for seeing what a router sends.

use super::args::{parse_asn, parse_duration, parse_port, parse_router_id};
use super::args::{AdvertiseArgs, AttributeArgs, RunArgs};
use super::UsageError;
use clap::Args;
use cue::bgp::route::{parse_route_lines, RouteSpec};
use cue::bgp::{PeerConfig, Pool};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `listen` arguments.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Local AS number (1-4294967295)
    #[arg(value_name = "AS_NUMBER", value_parser = parse_asn)]
    pub as_number: u32,
    /// Router ID: an IPv4 address
    #[arg(value_name = "ROUTER_ID", value_parser = parse_router_id)]
    pub router_id: Ipv4Addr,
    /// Address to listen on [default: all addresses]
    #[arg(help_heading = super::args::SESSION, long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// TCP port to listen on
    #[arg(help_heading = super::args::SESSION, long, value_name = "N", default_value = "179", value_parser = parse_port)]
    pub port: u16,
    /// Accept only this peer (repeatable) [default: any peer]
    #[arg(help_heading = super::args::SESSION, long = "peer", value_name = "ADDR")]
    pub peers: Vec<IpAddr>,
    /// The peers' AS: a different one is refused (OPEN error Bad Peer AS)
    #[arg(help_heading = super::args::SESSION, long = "peer-as", value_name = "ASN", value_parser = parse_asn)]
    pub peer_as: Option<u32>,
    /// Multiprotocol: IPv4 and IPv6 unicast on every session
    #[arg(help_heading = super::args::SESSION, short = 'm', long)]
    pub multiprotocol: bool,
    /// Exit 0 as soon as this route is received with the attributes stated,
    /// quoted when it has some ("10.0.0.0/24 med 10 community 65000:7");
    /// repeatable. At --timeout, exit 1 with the difference
    #[arg(help_heading = super::args::ASSERTIONS, long = "expect", value_name = "ROUTE", value_parser = parse_route)]
    pub expect: Vec<RouteSpec>,
    /// Routes to expect, one per line, in the syntax of --expect
    #[arg(help_heading = super::args::ASSERTIONS, long = "expect-file", value_name = "PATH")]
    pub expect_file: Option<PathBuf>,
    /// A route that must not be received (with the attributes stated, if
    /// any); repeatable. Exit 1 as soon as it is
    #[arg(help_heading = super::args::ASSERTIONS, long = "expect-absent", value_name = "ROUTE", value_parser = parse_route)]
    pub expect_absent: Vec<RouteSpec>,
    /// How long the expectations may take [default: 30s]
    #[arg(help_heading = super::args::ASSERTIONS, long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub attributes: AttributeArgs,
    #[command(flatten)]
    pub advertise: AdvertiseArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

fn parse_route(s: &str) -> Result<RouteSpec, String> {
    s.parse()
        .map_err(|e: cue::bgp::route::RouteError| e.to_string())
}

/// The expectations of --expect, --expect-file and --expect-absent.
fn expectations(args: &ListenArgs) -> Result<Option<super::speak::Expectations>, UsageError> {
    let mut present = args.expect.clone();
    if let Some(path) = &args.expect_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--expect-file {}: {e}", path.display())))?;
        present.extend(
            parse_route_lines(&text)
                .map_err(|e| UsageError(format!("--expect-file {}: {e}", path.display())))?,
        );
    }
    if present.is_empty() && args.expect_absent.is_empty() {
        if args.timeout.is_some() {
            return Err(UsageError(
                "--timeout needs --expect, --expect-file or --expect-absent".into(),
            ));
        }
        return Ok(None);
    }
    Ok(Some(super::speak::Expectations {
        present,
        absent: args.expect_absent.clone(),
        timeout: args.timeout.unwrap_or(Duration::from_secs(30)),
    }))
}

/// Listens on `bind` (or every address: dual-stack IPv6 where the system
/// has it, else IPv4) and `port`; the address bound.
async fn bind(pool: &Pool, bind: Option<IpAddr>, port: u16) -> anyhow::Result<SocketAddr> {
    let bound = match bind {
        Some(ip) => pool.listen(SocketAddr::new(ip, port)).await,
        None => match pool
            .listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))
            .await
        {
            Ok(a) => Ok(a),
            Err(_) => {
                pool.listen(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port))
                    .await
            }
        },
    };
    bound.map_err(|e| {
        let hint = if port < 1024 {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 1179)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on port {port}: {e}{hint}")
    })
}

/// Runs the listener.
pub async fn run(args: ListenArgs) -> anyhow::Result<ExitCode> {
    if args.run.bfd && args.peers.is_empty() {
        return Err(UsageError(
            "--bfd needs --peer: BFD runs with a known peer before its session comes up".into(),
        )
        .into());
    }
    if args.run.md5_password.is_some() && args.peers.is_empty() {
        return Err(UsageError(
            "--md5-password needs --peer: a TCP MD5 key belongs to a peer address".into(),
        )
        .into());
    }
    let expectations = expectations(&args)?;
    // Only what the user asked for is advertised: no sample addresses here.
    let routes = args
        .advertise
        .routes(false)
        .map_err(|e| UsageError(format!("{e:#}")))?;
    let template = |peer: IpAddr| PeerConfig {
        address: SocketAddr::new(peer, 0),
        local_as: args.as_number,
        router_id: args.router_id,
        hold_time: args.run.hold_time,
        peer_as: args.peer_as,
        source: None,
        multiprotocol: args.multiprotocol,
        connect_retry: Duration::from_secs(30),
        passive: true,
        trace: args.run.trace,
        md5_key: args.run.md5_password.clone(),
        ttl_security: args.run.ttl_security,
        graceful_restart: args.run.graceful_restart,
        max_prefixes: args.run.max_prefixes,
        send_hold_time: args.run.send_hold_time,
        bfd: args.run.bfd(),
        extended_next_hop: args.run.extended_next_hop,
        add_path: args.run.add_path,
        extended_messages: args.run.extended_messages,
        strict_errors: args.run.strict_errors,
        parameters: args.attributes.parameters(args.advertise.filter()),
    };
    let max = template(IpAddr::V4(Ipv4Addr::UNSPECIFIED)).max_message_len();
    super::speak::check_sizes(
        &routes,
        &args.attributes.parameters(args.advertise.filter()),
        max,
    )?;
    if !routes.is_empty() {
        let configs: Vec<PeerConfig> = args.peers.iter().map(|p| template(*p)).collect();
        super::speak::warn_about(&configs);
    }
    let metrics = super::metrics::bind(args.run.metrics).await?;
    let (pool, events) = Pool::with_event_buffer(super::EVENT_BUFFER);
    let built = pool.set_table(routes);
    args.run.record_mrt(&pool)?;
    if args.peers.is_empty() {
        pool.accept_any(Some(template(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
            .map_err(|e| UsageError(e.to_string()))?;
    } else {
        pool.configure(args.peers.iter().map(|p| template(*p)).collect())
            .await
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let bound = bind(&pool, args.bind, args.port).await?;
    if !args.run.json {
        super::output::raw(&format!("listening on {bound}"));
    }
    let parameters = args.attributes.parameters(args.advertise.filter());
    let setup = super::speak::Setup {
        services: None,
        parameters,
        listening: Some(super::speak::Listening {
            expect: expectations,
        }),
        metrics,
    };
    super::speak::drive(pool, events, built, setup, &args.run).await
}
