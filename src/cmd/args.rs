//! Argument groups and value parsers shared by the subcommands. Every parser
//! checks what the user typed before anything is built or sent.

use anyhow::Context;
use clap::Args;
use cue::bgp::mrt::read::{read_routes, MrtOptions};
pub use cue::bgp::route::parse_prefix;
use cue::bgp::route::{ExtCommunity, RouteTable, SortedRoutes};
use cue::bgp::wire::{Community, LargeCommunity};
use cue::bgp::{ExportFilter, Parameters};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;
use std::time::Duration;

/// The addresses of the original tool's demonstration (SPEC section 3),
/// advertised when nothing else is asked for.
pub const SAMPLE_ADDRESSES: [&str; 6] = [
    "192.168.101.0",
    "192.168.101.1",
    "192.168.101.2",
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500",
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6501",
    "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6502",
];

/// An AS number, 1 to 4294967295.
pub fn parse_asn(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("AS 0 is reserved; use 1-4294967295".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not an AS number (1-4294967295)")),
    }
}

/// A router ID: a non-zero IPv4 address.
pub fn parse_router_id(s: &str) -> Result<Ipv4Addr, String> {
    let a: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
    if a.is_unspecified() {
        return Err("0.0.0.0 is not a valid BGP identifier".into());
    }
    Ok(a)
}

/// A peer: an IP address, with `%zone` for a link-local IPv6 one. Returns
/// the socket address with port 0 (the port comes from `--port`).
pub fn parse_peer(s: &str) -> Result<SocketAddr, String> {
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))?;
    match ip {
        IpAddr::V4(_) if zone.is_some() => Err(format!("{s:?}: an IPv4 address takes no zone")),
        IpAddr::V4(a) => {
            if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                return Err(format!("{s:?} cannot be a peer address"));
            }
            Ok(SocketAddr::new(ip, 0))
        }
        IpAddr::V6(a) => {
            let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
            if a.is_unspecified() || a.is_multicast() {
                return Err(format!("{s:?} cannot be a peer address"));
            }
            let scope = match (link_local, zone) {
                (true, None) => {
                    return Err(format!(
                        "{s:?} is link-local: give its interface, e.g. {a}%eth0"
                    ))
                }
                (true, Some(z)) => zone_index(z)?,
                (false, Some(_)) => {
                    return Err(format!("{s:?}: only a link-local address takes a zone"))
                }
                (false, None) => 0,
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope)))
        }
    }
}

/// The interface index of a zone: a number, or an interface name.
fn zone_index(zone: &str) -> Result<u32, String> {
    if let Ok(n) = zone.parse::<u32>() {
        return Ok(n);
    }
    let path = format!("/sys/class/net/{zone}/ifindex");
    if zone.is_empty() || zone.contains('/') {
        return Err(format!("{zone:?} is not an interface name"));
    }
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("no interface named {zone:?}"))
}

/// A hold time: 0, or 3 to 65535 seconds.
pub fn parse_hold_time(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(1 | 2) => Err("a hold time must be 0 or at least 3 seconds".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a number of seconds (0, 3-65535)")),
    }
}

/// A delay between connection attempts: at least 100ms, so that a refused
/// connection is not retried in a tight loop.
pub fn parse_retry(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(100) {
        return Err(format!("{s:?} is too short: at least 100ms"));
    }
    Ok(d)
}

/// A TCP MD5 key: 1 to 80 bytes.
pub fn parse_md5_key(s: &str) -> Result<String, String> {
    match s.len() {
        0 => Err("an empty key".into()),
        n if n > cue::bgp::md5::MAX_KEY_LEN => Err(format!(
            "{n} bytes; a TCP MD5 key holds at most {}",
            cue::bgp::md5::MAX_KEY_LEN
        )),
        _ => Ok(s.to_string()),
    }
}

/// A TCP port, 1 to 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a TCP port (1-65535)")),
        Ok(n) => Ok(n),
    }
}

/// A duration such as `5s`, `1m30s` or `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    cue::script::parse_duration(s).map_err(|e| e.to_string())
}

/// A graceful restart time: whole seconds, 1s to 4095s.
pub fn parse_restart_time(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.subsec_nanos() != 0 || d < Duration::from_secs(1) || d > Duration::from_secs(4095) {
        return Err(format!(
            "{s:?}: a restart time is whole seconds, 1s to 4095s (68m15s)"
        ));
    }
    Ok(d)
}

/// A send hold time: a duration of 1s at least.
pub fn parse_send_hold_time(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("{s:?}: a send hold time is 1s at least"));
    }
    Ok(d)
}

/// A BFD interval: 10ms to 60s.
pub fn parse_bfd_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < cue::bgp::bfd::MIN_INTERVAL || d > Duration::from_secs(60) {
        return Err(format!("{s:?}: a BFD interval is 10ms to 60s"));
    }
    Ok(d)
}

/// The headings `--help` and the manual group the options under.
pub const SESSION: &str = "Session";
/// See [`SESSION`].
pub const ROUTES: &str = "Routes and attributes";
/// See [`SESSION`].
pub const MRT: &str = "MRT";
/// See [`SESSION`].
pub const FAILOVER: &str = "Failover and limits";
/// See [`SESSION`].
pub const HEALTH: &str = "Health checks";
/// See [`SESSION`].
pub const OUTPUT: &str = "Output and control";
/// See [`SESSION`].
pub const ASSERTIONS: &str = "Assertions";

/// Path attributes and next hops.
#[derive(Debug, Clone, Args)]
pub struct AttributeArgs {
    /// Next hop for IPv4 routes (default: the local address of an IPv4
    /// session, else the router ID)
    #[arg(help_heading = ROUTES, short = '4', long = "next-hop-4", value_name = "ADDR")]
    pub next_hop_4: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes (default: the local address of an IPv6
    /// session; over IPv4, its IPv4-mapped form, which most peers refuse)
    #[arg(help_heading = ROUTES, short = '6', long = "next-hop-6", value_name = "ADDR")]
    pub next_hop_6: Option<Ipv6Addr>,
    /// MULTI_EXIT_DISC (sent when not 0)
    #[arg(help_heading = ROUTES, long, value_name = "N", default_value_t = 0)]
    pub med: u32,
    /// LOCAL_PREF, sent to internal peers only [default: 100]
    #[arg(help_heading = ROUTES, long = "local-pref", value_name = "N")]
    pub local_pref: Option<u32>,
    /// Community ASN:VALUE or no-export, no-advertise, no-export-subconfed,
    /// blackhole (repeatable)
    #[arg(help_heading = ROUTES, short = 'c', long = "community", value_name = "C", value_parser = parse_community)]
    pub communities: Vec<Community>,
    /// Large community GLOBAL:LOCAL1:LOCAL2 (repeatable)
    #[arg(help_heading = ROUTES, long = "large-community", value_name = "A:B:C", value_parser = parse_large_community)]
    pub large_communities: Vec<LargeCommunity>,
    /// Extended community (RFC 4360): rt:ASN:N, rt:IPV4:N, ro:ASN:N,
    /// ro:IPV4:N, or 0x and 16 hex digits (repeatable)
    #[arg(help_heading = ROUTES, long = "ext-community", value_name = "C", value_parser = parse_ext_community)]
    pub ext_communities: Vec<ExtCommunity>,
}

/// Session timing, run length and output, shared by the speaker and
/// `listen`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Proposed hold time in seconds (0, or 3 and above)
    #[arg(help_heading = SESSION, long = "hold-time", value_name = "SECS", default_value = "10", value_parser = parse_hold_time)]
    pub hold_time: u16,
    /// Stop after this long (withdraw, Cease, exit 0)
    #[arg(help_heading = OUTPUT, long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
    /// Exit with status 3 if no peer reaches ESTABLISHED within this long
    #[arg(help_heading = OUTPUT, long = "wait-established", value_name = "DURATION", value_parser = parse_duration)]
    pub wait_established: Option<Duration>,
    /// Also print every message sent and received, decoded, one line each
    #[arg(help_heading = OUTPUT, long)]
    pub trace: bool,
    /// TCP MD5 signature key (RFC 2385) for every session, at most 80
    /// bytes (with listen, for the --peer addresses)
    #[arg(help_heading = SESSION, long = "md5-password", value_name = "KEY", value_parser = parse_md5_key)]
    pub md5_password: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255 and drop packets from a peer more
    /// than HOPS hops away (1 for a directly connected peer)
    #[arg(help_heading = SESSION, long = "ttl-security", value_name = "HOPS", value_parser = clap::value_parser!(u8).range(1..=255))]
    pub ttl_security: Option<u8>,
    /// Graceful restart (RFC 4724) with this restart time (1s-4095s): peers
    /// keep our routes that long when the session drops (kill -9, a
    /// restart, a stop), End-of-RIB after the first advertisement; routes
    /// of a restarting peer are kept as stale
    #[arg(help_heading = FAILOVER, long = "graceful-restart", value_name = "DURATION", value_parser = parse_restart_time)]
    pub graceful_restart: Option<Duration>,
    /// Close a session (Cease / Maximum Number of Prefixes Reached) when the
    /// peer sends more routes than this
    #[arg(help_heading = FAILOVER, long = "max-prefixes", value_name = "N")]
    pub max_prefixes: Option<usize>,
    /// Offer extended messages (RFC 8654): where the peer does too, UPDATEs
    /// up to 65,535 octets (routes with thousands of communities); without
    /// it, a route that cannot fit 4,096 octets is refused at start
    #[arg(help_heading = SESSION, long = "extended-messages")]
    pub extended_messages: bool,
    /// Offer extended next hop encoding (RFC 8950): over an IPv6 session,
    /// IPv4 routes go with the IPv6 next hop where the peer agrees
    /// ("unnumbered" BGP); implies -m
    #[arg(help_heading = SESSION, long = "extended-next-hop")]
    pub extended_next_hop: bool,
    /// Offer ADD-PATH (RFC 7911) for each family: `send` advertises every
    /// path of a prefix (routes with `path-id N`) where the peer receives
    /// them, the lowest path id alone elsewhere; `receive` keeps several
    /// paths per prefix from the peer, shown with their ids; `both`
    #[arg(help_heading = SESSION, long = "add-path", value_name = "send|receive|both")]
    pub add_path: Option<cue::bgp::wire::AddPathMode>,
    /// Send hold time (RFC 9687): close a session whose peer takes nothing
    /// we write for this long, whatever it sends meanwhile (at least 1s)
    /// [default: 8 minutes, or twice the hold time when longer]
    #[arg(help_heading = FAILOVER, long = "send-hold-time", value_name = "DURATION", value_parser = parse_send_hold_time)]
    pub send_hold_time: Option<Duration>,
    /// BFD (RFC 5880) with each peer: a session waits for BFD to come up,
    /// and is closed (Cease / BFD Down) as soon as BFD loses the peer,
    /// after --bfd-interval x --bfd-multiplier rather than the hold time.
    /// Single hop (RFC 5881: UDP 3784, TTL 255) unless --bfd-multihop
    #[arg(help_heading = FAILOVER, long)]
    pub bfd: bool,
    /// BFD transmit and receive interval once up
    #[arg(help_heading = FAILOVER, long = "bfd-interval", value_name = "DURATION", default_value = "300ms", value_parser = parse_bfd_interval, requires = "bfd")]
    pub bfd_interval: Duration,
    /// BFD detection multiplier: packets missed before the peer is down
    #[arg(help_heading = FAILOVER, long = "bfd-multiplier", value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=255), requires = "bfd")]
    pub bfd_multiplier: u8,
    /// Multihop BFD (RFC 5883: UDP 4784, any TTL) for a peer that is not
    /// on a shared link
    #[arg(help_heading = FAILOVER, long = "bfd-multihop", requires = "bfd")]
    pub bfd_multihop: bool,
    /// Answer every malformed UPDATE with a NOTIFICATION (RFC 4271 alone)
    /// instead of RFC 7606's treat-as-withdraw and attribute discard: for
    /// testing a peer's conformance
    #[arg(help_heading = SESSION, long = "strict-errors")]
    pub strict_errors: bool,
    /// Read commands from standard input while running (announce,
    /// withdraw, set med|local-pref|communities|large-communities|ext-communities, status,
    /// wait established, sleep, send HEX, expect ROUTE..., quit); each is
    /// answered with one line
    #[arg(help_heading = OUTPUT, long)]
    pub commands: bool,
    /// Record every message sent and received into FILE, as MRT BGP4MP
    /// records (RFC 6396; read with bgpdump -m)
    #[arg(help_heading = MRT, long, value_name = "FILE")]
    pub mrt: Option<std::path::PathBuf>,
    /// One JSON object per line instead of text
    #[arg(help_heading = OUTPUT, long)]
    pub json: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics: per peer the
    /// session state, uptime, routes, UPDATEs and NOTIFICATIONs; with
    /// --services the health of services, destinations and VIPs, and probe
    /// durations and failures
    #[arg(help_heading = OUTPUT, long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
}

impl RunArgs {
    /// The BFD configuration of `--bfd` and company.
    pub fn bfd(&self) -> Option<cue::bgp::bfd::BfdConfig> {
        self.bfd.then_some(cue::bgp::bfd::BfdConfig {
            interval: self.bfd_interval,
            multiplier: self.bfd_multiplier,
            multihop: self.bfd_multihop,
        })
    }

    /// Starts recording the pool's messages into the `--mrt` file, if one
    /// was given (before any session is configured, so that nothing is
    /// missed).
    pub fn record_mrt(&self, pool: &cue::bgp::Pool) -> Result<(), super::UsageError> {
        if let Some(path) = &self.mrt {
            let recorder = cue::bgp::mrt::MrtRecorder::create(path)
                .map_err(|e| super::UsageError(format!("--mrt {}: {e}", path.display())))?;
            pool.record_mrt(Some(std::sync::Arc::new(recorder)));
        }
        Ok(())
    }

    /// When the run stops.
    pub fn stop_rules(&self) -> super::run::StopRules {
        super::run::StopRules {
            run_for: self.run_for,
            wait_established: self.wait_established,
        }
    }
}

/// What to advertise and which addresses to export.
#[derive(Debug, Clone, Args)]
pub struct AdvertiseArgs {
    /// Address or prefix to advertise; a bare address means /32 or /128
    /// (repeatable, or comma-separated)
    #[arg(help_heading = ROUTES, short = 'a', long = "advertise", value_name = "PREFIX", value_delimiter = ',', value_parser = parse_prefix)]
    pub advertise: Vec<IpNet>,
    /// File of routes, one per line: a prefix (a bare address means /32
    /// or /128) and its own attributes if any, "PREFIX [path-id N]
    /// [next-hop ADDR] [origin igp|egp|incomplete] [as-path ASN...] [med N] [local-pref N]
    /// [community C]... [large-community A:B:C]... [ext-community C]...";
    /// what a line does not state is the command line's; # comments; - for
    /// standard input
    #[arg(help_heading = ROUTES, long = "advertise-file", value_name = "PATH")]
    pub advertise_file: Option<PathBuf>,
    /// MRT file whose routes to advertise, with their original attributes:
    /// a TABLE_DUMP_V2 RIB dump or BGP4MP messages (an updates dump, a
    /// --mrt recording), replayed in order; the next hop is ours unless
    /// --mrt-keep-next-hop
    #[arg(help_heading = MRT, long = "advertise-mrt", value_name = "FILE")]
    pub advertise_mrt: Option<PathBuf>,
    /// Announce the next hops recorded in the --advertise-mrt file
    #[arg(help_heading = MRT, long = "mrt-keep-next-hop")]
    pub mrt_keep_next_hop: bool,
    /// The recorded AS_PATHs: `prepend` puts our AS in front towards
    /// external peers, `keep` sends them exactly as recorded
    #[arg(help_heading = MRT, long = "mrt-as-path", value_name = "HOW", default_value = "prepend", value_parser = ["prepend", "keep"])]
    pub mrt_as_path: String,
    /// Take only the routes of this peer of the --advertise-mrt file (by
    /// default each prefix's first)
    #[arg(help_heading = MRT, long = "mrt-peer", value_name = "ADDR")]
    pub mrt_peer: Option<IpAddr>,
    /// Export addresses within PREFIX even when a --reject prefix holds them
    /// (repeatable)
    #[arg(help_heading = ROUTES, long, value_name = "PREFIX", value_parser = parse_prefix)]
    pub accept: Vec<IpNet>,
    /// Do not export addresses within PREFIX (repeatable)
    #[arg(help_heading = ROUTES, long, value_name = "PREFIX", value_parser = parse_prefix)]
    pub reject: Vec<IpNet>,
}

/// A community: `ASN:VALUE` or a well-known name.
pub fn parse_community(s: &str) -> Result<Community, String> {
    s.parse()
        .map_err(|e: cue::bgp::wire::CommunityError| e.to_string())
}

/// An extended community: `rt:ASN:N`, `ro:IPV4:N`, `0x...`.
pub fn parse_ext_community(s: &str) -> Result<ExtCommunity, String> {
    s.parse()
        .map_err(|e: cue::bgp::wire::CommunityError| e.to_string())
}

/// A large community: `GLOBAL:LOCAL1:LOCAL2`.
pub fn parse_large_community(s: &str) -> Result<LargeCommunity, String> {
    s.parse()
        .map_err(|e: cue::bgp::wire::CommunityError| e.to_string())
}

impl AttributeArgs {
    /// The session parameters these arguments and `filter` describe.
    pub fn parameters(&self, filter: ExportFilter) -> Parameters {
        Parameters {
            med: self.med,
            local_pref: self.local_pref,
            communities: self.communities.clone(),
            large_communities: self.large_communities.clone(),
            ext_communities: self.ext_communities.clone(),
            next_hop4: self.next_hop_4,
            next_hop6: self.next_hop_6,
            filter,
        }
    }
}

impl AdvertiseArgs {
    /// The export filter.
    pub fn filter(&self) -> ExportFilter {
        ExportFilter {
            accept: self.accept.clone(),
            reject: self.reject.clone(),
        }
    }

    /// The routes to advertise: `--advertise` and `--advertise-file`
    /// together (a file's line with attributes gives its route its own), or
    /// the sample addresses when `samples` and neither is given.
    pub fn routes(&self, samples: bool) -> anyhow::Result<SortedRoutes> {
        let mut table = RouteTable::default();
        for p in &self.advertise {
            table.push(*p, None);
        }
        if let Some(path) = &self.advertise_file {
            // Parsed while it is read (a large table on every core).
            let parsed = if path.as_os_str() == "-" {
                table.parse_reader(std::io::stdin().lock())
            } else {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("--advertise-file {}", path.display()))?;
                table.parse_reader(file)
            };
            parsed
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("--advertise-file {}", path.display()))?;
        }
        if let Some(path) = &self.advertise_mrt {
            let data = std::fs::read(path)
                .with_context(|| format!("--advertise-mrt {}", path.display()))?;
            let options = MrtOptions {
                keep_next_hop: self.mrt_keep_next_hop,
                as_path_exact: self.mrt_as_path == "keep",
                peer: self.mrt_peer,
                include_local: false,
            };
            let read = read_routes(&data, &options)
                .map_err(|e| anyhow::anyhow!("--advertise-mrt {}: {e}", path.display()))?;
            // The routes own their attributes: the dump is not needed again.
            drop(data);
            if read.routes.is_empty() {
                anyhow::bail!(
                    "--advertise-mrt {}: no routes{}",
                    path.display(),
                    match self.mrt_peer {
                        Some(p) => format!(" of peer {p}"),
                        None => String::new(),
                    }
                );
            }
            eprintln!(
                "cue-bgp: {}: {} routes in {} attribute sets, from {} peers ({} RIB records, {} UPDATEs; \
                 {} records skipped, {} messages that do not decode)",
                path.display(),
                read.routes.len(),
                read.attribute_sets,
                read.peers.len(),
                read.rib_records,
                read.updates,
                read.skipped,
                read.undecodable
            );
            table.extend_shared(read.routes);
        }
        if samples && table.is_empty() && self.advertise_file.is_none() {
            for s in SAMPLE_ADDRESSES {
                table.push(parse_prefix(s).expect("sample"), None);
            }
        }
        // Sorted and grouped: the sessions send from this while the
        // Loc-RIB is built (`Pool::set_table`).
        Ok(table.sort())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_numbers() {
        assert_eq!(parse_asn("65001"), Ok(65001));
        assert_eq!(parse_asn("4294967295"), Ok(u32::MAX));
        assert!(parse_asn("0").is_err());
        assert!(parse_asn("4294967296").is_err());
        assert!(parse_asn("-1").is_err());
    }

    #[test]
    fn peers() {
        assert_eq!(parse_peer("127.0.0.1"), Ok("127.0.0.1:0".parse().unwrap()));
        assert!(parse_peer("::1").is_ok());
        let e = parse_peer("fe80::1").unwrap_err();
        assert!(e.contains("link-local"), "{e}");
        assert!(parse_peer("fe80::1%lo").is_ok());
        assert_eq!(
            parse_peer("fe80::1%7"),
            Ok(SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                0,
                0,
                7
            )))
        );
        assert!(parse_peer("fe80::1%nosuchif0").is_err());
        assert!(parse_peer("127.0.0.1%lo").is_err());
        assert!(parse_peer("256.0.0.1").is_err());
        assert!(parse_peer("0.0.0.0").is_err());
    }

    #[test]
    fn hold_times() {
        assert_eq!(parse_hold_time("0"), Ok(0));
        assert!(parse_hold_time("2").is_err());
        assert_eq!(parse_hold_time("3"), Ok(3));
    }
}
