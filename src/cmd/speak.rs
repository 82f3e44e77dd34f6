//! The speaker: dial each peer and advertise.

use super::args::{
    parse_asn, parse_duration, parse_peer, parse_port, parse_router_id, AdvertiseArgs,
    AttributeArgs, RunArgs,
};
use super::output::Printer;
use super::run::{exit_code, shutdown, until_stopped};
use super::UsageError;
use clap::Args;
use cue::bgp::{PeerConfig, Pool};
use cue::director::{Config, Director};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    #[arg(short = 'm', long)]
    pub multiprotocol: bool,
    #[command(flatten)]
    pub attributes: AttributeArgs,
    #[command(flatten)]
    pub advertise: AdvertiseArgs,
    /// The peer's TCP port
    #[arg(long, value_name = "N", default_value = "179", value_parser = parse_port)]
    pub port: u16,
    /// Local address to connect from
    #[arg(long, value_name = "IP")]
    pub source: Option<IpAddr>,
    /// The peer's AS: a different one is refused (OPEN error Bad Peer AS)
    #[arg(long = "peer-as", value_name = "ASN", value_parser = parse_asn)]
    pub peer_as: Option<u32>,
    /// Delay between connection attempts (plus a random 0-25%)
    #[arg(long = "connect-retry", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub connect_retry: Duration,
    /// Services file (JSON): advertise the VIPs the director finds healthy,
    /// as they change, together with any --advertise addresses
    #[arg(long, value_name = "CONFIG")]
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
        .transpose()?;
    // The sample addresses stand in only when nothing else is to be advertised.
    let prefixes = args
        .advertise
        .prefixes(services.is_none())
        .map_err(|e| UsageError(format!("{e:#}")))?;
    let printer = Printer {
        json: args.run.json,
    };
    let (pool, mut events) = Pool::new();
    pool.set_rib(prefixes.iter().copied());
    let director = services.map(|config| {
        let path = args.services.clone().unwrap_or_default();
        tokio::spawn(follow_director(
            config,
            path,
            prefixes,
            pool.clone(),
            printer,
        ))
    });
    pool.configure(peers).await;
    let ended = until_stopped(&mut events, printer, args.run.stop_rules()).await;
    if let Some(d) = director {
        d.abort();
        let _ = d.await;
    }
    let status = shutdown(&pool, &mut events, printer).await;
    printer.status(&status);
    Ok(exit_code(ended, &status, args.run.wait_established))
}

/// Route health injection: keeps the Loc-RIB at the healthy VIPs plus the
/// static prefixes, as health changes; SIGHUP reloads the services file.
async fn follow_director(
    config: Config,
    path: PathBuf,
    fixed: BTreeSet<IpNet>,
    pool: Pool,
    printer: Printer,
) {
    let (director, mut events) = Director::start(config);
    let mut changed = director.changed();
    let mut hup = super::check::hangup();
    let mut dirty = true;
    loop {
        // Only a state change (not every probe) recomputes the RIB.
        if dirty {
            let mut rib = fixed.clone();
            rib.extend(director.healthy_vips().into_iter().map(IpNet::from));
            if *pool.loc_rib() != rib {
                pool.set_loc_rib(std::sync::Arc::new(rib));
            }
            dirty = false;
        }
        tokio::select! {
            r = changed.changed() => match r {
                Ok(()) => dirty = true,
                Err(_) => return,
            },
            Some(e) = events.recv() => printer.director_event(&e, false),
            Some(()) = super::check::recv_hangup(&mut hup) => super::check::reload(&director, &path),
        }
    }
}
