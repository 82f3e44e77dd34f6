//! The scenario file (TOML): read, checked whole before anything starts,
//! and turned into a [`Scenario`]. Every fault names its line and key.

use super::error::{ScenarioError, ScenarioFault, ValueError};
use super::{Group, Limits, Observer, PeerRoutes, Router, Routes, Scenario, Step, Wait};
use crate::bgp::route::{parse_route_lines, AttributeSpec};
use crate::bgp::AttributeOverrides;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    router: Spanned<RouterSpec>,
    #[serde(default)]
    peers: Vec<Spanned<GroupSpec>>,
    #[serde(default)]
    observers: Vec<Spanned<ObserverSpec>>,
    #[serde(default)]
    steps: Vec<Spanned<StepSpec>>,
    #[serde(default)]
    limits: Option<Spanned<LimitsSpec>>,
    /// Hold time offered by every session (seconds).
    #[serde(default)]
    hold_time: Option<u16>,
    /// How long sessions get to come up.
    #[serde(default)]
    establish_timeout: Option<String>,
    /// How long a `wait = "converged"` waits at most.
    #[serde(default)]
    converge_timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterSpec {
    address: IpAddr,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(rename = "as")]
    asn: u32,
}

fn default_port() -> u16 {
    179
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    #[serde(default)]
    count: Option<u32>,
    local: IpAddr,
    #[serde(rename = "as")]
    asn: u32,
    #[serde(default = "one")]
    as_step: u32,
    #[serde(default)]
    routes: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    mrt: Option<String>,
    #[serde(default)]
    attributes: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObserverSpec {
    local: IpAddr,
    #[serde(rename = "as")]
    asn: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    announce: Option<String>,
    withdraw: Option<String>,
    wait: Option<String>,
    flap: Option<String>,
    reset: Option<String>,
    rate: Option<u64>,
    count: Option<usize>,
    cycles: Option<u32>,
    period: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    announce_p50: Option<String>,
    announce_p90: Option<String>,
    announce_p99: Option<String>,
    announce_max: Option<String>,
    withdraw_p50: Option<String>,
    withdraw_p90: Option<String>,
    withdraw_p99: Option<String>,
    withdraw_max: Option<String>,
    converge: Option<String>,
    missing: Option<u64>,
}

/// The line of a byte offset in `text` (from 1).
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// Checks a scenario file and builds the [`Scenario`]; the route files it
/// names are read relative to `dir`.
pub(super) fn parse(text: &str, dir: &Path) -> Result<Scenario, ScenarioError> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    let at = |span: Range<usize>, key: String| {
        let line = Some(line_of(text, span.start));
        move |fault: ScenarioFault| ScenarioError::new(line, key.clone(), fault)
    };
    let router = router(&file.router, at(file.router.span(), "router".into()))?;
    let mut groups = Vec::new();
    let mut next_index = 0;
    for (i, g) in file.peers.iter().enumerate() {
        let err = at(g.span(), format!("peers[{i}]"));
        let group = group(g.get_ref(), next_index, dir, err)?;
        next_index += group.count;
        groups.push(group);
    }
    if file.observers.len() > super::measure::MAX_OBSERVERS {
        let err = at(file.observers[0].span(), "observers".into());
        return Err(err(ScenarioFault::TooManyObservers {
            count: file.observers.len(),
            max: super::measure::MAX_OBSERVERS,
        }));
    }
    let mut observers = Vec::new();
    for (i, o) in file.observers.iter().enumerate() {
        let err = at(o.span(), format!("observers[{i}]"));
        let spec = o.get_ref();
        if spec.asn == 0 {
            return Err(err(ScenarioFault::Zero("as")));
        }
        observers.push(Observer {
            local: spec.local,
            asn: spec.asn,
        });
    }
    check_addresses(&groups, &observers, &file, text)?;
    check_prefixes(&groups, &file, text)?;
    let mut steps = Vec::new();
    for (i, s) in file.steps.iter().enumerate() {
        let err = at(s.span(), format!("steps[{i}]"));
        steps.push(step(s.get_ref(), next_index, err)?);
    }
    let limits = match &file.limits {
        Some(l) => limits(l.get_ref(), at(l.span(), "limits".into()))?,
        None => Limits::default(),
    };
    let whole = |key: &str| at(0..0, key.into());
    let duration_or = |v: &Option<String>, key: &str, default: u64| match v {
        Some(v) => {
            duration(v).map_err(|error| whole(key)(ScenarioFault::Value { field: "", error }))
        }
        None => Ok(Duration::from_secs(default)),
    };
    let hold_time = file.hold_time.unwrap_or(90);
    if (1..3).contains(&hold_time) {
        return Err(whole("hold_time")(ScenarioFault::HoldTime));
    }
    Ok(Scenario {
        router,
        groups,
        observers,
        steps,
        limits,
        hold_time,
        establish_timeout: duration_or(&file.establish_timeout, "establish_timeout", 30)?,
        converge_timeout: duration_or(&file.converge_timeout, "converge_timeout", 60)?,
    })
}

/// A TOML or type error with its line and key (the key written on that
/// line, where the error points at a value).
fn toml_error(text: &str, e: &toml::de::Error) -> ScenarioError {
    let line = e.span().map(|s| line_of(text, s.start));
    let key = line
        .and_then(|l| text.lines().nth(l - 1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && k.len() < 64 && !k.starts_with('['))
        .unwrap_or_else(|| "file".into());
    ScenarioError::new(
        line,
        key,
        ScenarioFault::Syntax(e.message().trim().to_string()),
    )
}

fn router(
    spec: &Spanned<RouterSpec>,
    err: impl Fn(ScenarioFault) -> ScenarioError,
) -> Result<Router, ScenarioError> {
    let r = spec.get_ref();
    if r.asn == 0 {
        return Err(err(ScenarioFault::Zero("as")));
    }
    if r.port == 0 {
        return Err(err(ScenarioFault::Zero("port")));
    }
    if r.address.is_unspecified() || r.address.is_multicast() {
        return Err(err(ScenarioFault::RouterAddress(r.address)));
    }
    Ok(Router {
        address: r.address,
        port: r.port,
        asn: r.asn,
    })
}

/// A group of peers, the first numbered `first`.
fn group(
    spec: &GroupSpec,
    first: usize,
    dir: &Path,
    err: impl Fn(ScenarioFault) -> ScenarioError,
) -> Result<Group, ScenarioError> {
    if spec.count == Some(0) {
        return Err(err(ScenarioFault::NoPeers));
    }
    if spec.asn == 0 {
        return Err(err(ScenarioFault::Zero("as")));
    }
    let attributes = match &spec.attributes {
        Some(a) => a
            .parse::<AttributeSpec>()
            .map_err(|e| err(ScenarioFault::Attributes(Box::new(e))))?,
        None => AttributeSpec::default(),
    };
    let (routes, count) = match (&spec.routes, &spec.file, &spec.mrt) {
        (Some(r), None, None) => {
            let count = spec.count.unwrap_or(1);
            (block(r, count, &attributes).map_err(&err)?, count)
        }
        (None, Some(f), None) => {
            let count = spec.count.unwrap_or(1);
            let list = route_file(&dir.join(f), count as usize).map_err(|error| {
                err(ScenarioFault::Value {
                    field: "file",
                    error,
                })
            })?;
            (Routes::Listed(Arc::new(list)), count)
        }
        (None, None, Some(m)) => {
            let list = mrt_file(&dir.join(m), spec.count).map_err(|error| {
                err(ScenarioFault::Value {
                    field: "mrt",
                    error,
                })
            })?;
            let count = list.len() as u32;
            (Routes::Listed(Arc::new(list)), count)
        }
        _ => return Err(err(ScenarioFault::RouteSource)),
    };
    let last_as = u64::from(spec.asn) + u64::from(spec.as_step) * u64::from(count - 1);
    if last_as > u64::from(u32::MAX) {
        return Err(err(ScenarioFault::AsOverflow(spec.asn)));
    }
    Ok(Group {
        first,
        count: count as usize,
        local: spec.local,
        asn: spec.asn,
        as_step: spec.as_step,
        routes,
        attributes,
    })
}

/// The routes of a peer group, in `BASE /LEN COUNT` form, for `count`
/// peers of `attributes`.
fn block(r: &str, count: u32, attributes: &AttributeSpec) -> Result<Routes, ScenarioFault> {
    let (base, len, per_peer) =
        routes(r).map_err(|error| ScenarioFault::Value { field: "", error })?;
    let room = 1u128
        .checked_shl(u32::from(len - base.prefix_len()))
        .unwrap_or(u128::MAX);
    let wanted = per_peer as u128 * u128::from(count);
    if wanted > room {
        return Err(ScenarioFault::TooManyRoutes {
            base,
            room,
            len,
            wanted,
            per_peer,
            count,
        });
    }
    if let Some(nh) = attributes
        .next_hop
        .filter(|nh| nh.is_ipv4() != base.addr().is_ipv4())
    {
        return Err(ScenarioFault::NextHopFamily(nh));
    }
    Ok(Routes::Block {
        base,
        len,
        per_peer,
    })
}

/// The routes of a route file (the `--advertise-file` syntax), split among
/// `peers` peers in runs, in the file's order (the first peers take one
/// more when they do not divide evenly).
fn route_file(path: &Path, peers: usize) -> Result<Vec<PeerRoutes>, ValueError> {
    let text = std::fs::read_to_string(path).map_err(|e| ValueError::Read {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let specs = parse_route_lines(&text).map_err(|error| ValueError::Routes {
        path: path.into(),
        error: Box::new(error),
    })?;
    if specs.len() < peers {
        return Err(ValueError::TooFewRoutes {
            path: path.into(),
            routes: specs.len(),
            peers,
        });
    }
    // One shared set per distinct set of attributes written.
    let mut sets: HashMap<&AttributeSpec, Arc<AttributeOverrides>> = HashMap::new();
    let mut routes = Vec::with_capacity(specs.len());
    for s in &specs {
        let own = (s.attributes != AttributeSpec::default()).then(|| {
            sets.entry(&s.attributes)
                .or_insert_with(|| Arc::new(AttributeOverrides::from_spec(&s.attributes)))
                .clone()
        });
        routes.push((s.prefix, own));
    }
    let (per, extra) = (routes.len() / peers, routes.len() % peers);
    let mut rest = routes.into_iter();
    Ok((0..peers)
        .map(|k| rest.by_ref().take(per + usize::from(k < extra)).collect())
        .collect())
}

/// The routes of an MRT file, one peer per recorded peer (the first
/// `count` of them, if given): each prefix is its first recorded peer's,
/// with the attributes recorded (the next hop is the session's).
fn mrt_file(path: &Path, count: Option<u32>) -> Result<Vec<PeerRoutes>, ValueError> {
    let data = std::fs::read(path).map_err(|e| ValueError::Read {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let read = crate::bgp::mrt::read::read_routes(&data, &Default::default()).map_err(|error| {
        ValueError::Mrt {
            path: path.into(),
            error: Box::new(error),
        }
    })?;
    let recorded = read.peers.len();
    let peers = match count {
        Some(count) if count as usize > recorded => {
            return Err(ValueError::TooFewRecorded {
                path: path.into(),
                count,
                recorded,
            })
        }
        Some(c) => c as usize,
        None => recorded,
    };
    if peers == 0 {
        return Err(ValueError::NoPeerRecorded(path.into()));
    }
    let mut out: Vec<PeerRoutes> = vec![Vec::new(); peers];
    for ((p, a), s) in read.routes.into_iter().zip(read.sources) {
        if let Some(routes) = out.get_mut(s as usize) {
            routes.push((p, Some(a)));
        }
    }
    Ok(out)
}

/// `BASE /LEN COUNT`: COUNT prefixes of length LEN out of BASE per peer.
fn routes(text: &str) -> Result<(IpNet, u8, usize), ValueError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [base, len, count] = words[..] else {
        return Err(ValueError::RoutesSyntax(text.to_string()));
    };
    let base: IpNet = base
        .parse()
        .map_err(|_| ValueError::RoutesBase(base.to_string()))?;
    let max = if base.addr().is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .strip_prefix('/')
        .and_then(|l| l.parse().ok())
        .filter(|l| (base.prefix_len()..=max).contains(l))
        .ok_or_else(|| ValueError::RoutesLength {
            len: len.to_string(),
            min: base.prefix_len(),
            max,
        })?;
    let count: usize = count
        .parse()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| ValueError::RoutesCount(count.to_string()))?;
    Ok((base.trunc(), len, count))
}

/// Peers and observers each need an address of their own.
fn check_addresses(
    groups: &[Group],
    observers: &[Observer],
    file: &File,
    text: &str,
) -> Result<(), ScenarioError> {
    let mut seen: std::collections::HashMap<IpAddr, String> = Default::default();
    for (i, g) in groups.iter().enumerate() {
        let line = Some(line_of(text, file.peers[i].span().start));
        for k in 0..g.count {
            let key = format!("peers[{i}]");
            let Some(a) = g.local_of(k) else {
                let (local, count) = (g.local, g.count);
                let fault = ScenarioFault::AddressesRunOut { local, count };
                return Err(ScenarioError::new(line, key, fault));
            };
            if let Some(other) = seen.insert(a, key.clone()) {
                let fault = ScenarioFault::SharedAddress { address: a, other };
                return Err(ScenarioError::new(line, key, fault));
            }
        }
    }
    for (i, o) in observers.iter().enumerate() {
        let key = format!("observers[{i}]");
        if let Some(other) = seen.insert(o.local, key.clone()) {
            let line = Some(line_of(text, file.observers[i].span().start));
            let fault = ScenarioFault::SharedAddress {
                address: o.local,
                other,
            };
            return Err(ScenarioError::new(line, key, fault));
        }
    }
    Ok(())
}

/// The prefixes of two groups must not overlap: each prefix is measured
/// as one peer's.
fn check_prefixes(groups: &[Group], file: &File, text: &str) -> Result<(), ScenarioError> {
    let err = |i: usize, key: &str, fault: ScenarioFault| {
        let line = Some(line_of(text, file.peers[i].span().start));
        ScenarioError::new(line, format!("peers[{i}]{key}"), fault)
    };
    for (i, a) in groups.iter().enumerate() {
        for (j, b) in groups.iter().enumerate().take(i) {
            let (Some(ra), Some(rb)) = (a.routes.range(a.count), b.routes.range(b.count)) else {
                continue;
            };
            if ra.0 == rb.0 && ra.2 <= rb.3 && rb.2 <= ra.3 {
                return Err(err(i, ".routes", ScenarioFault::Overlap(j)));
            }
        }
    }
    // A listed route once in the scenario, and not one of a block's.
    let blocks: Vec<Group> = groups
        .iter()
        .filter(|g| matches!(g.routes, Routes::Block { .. }))
        .cloned()
        .collect();
    let blocks = super::measure::Universe::of(&blocks);
    let mut listed: Vec<(IpNet, usize)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if let Routes::Listed(peers) = &g.routes {
            for (p, _) in peers.iter().flatten() {
                if blocks.id(p).is_some() {
                    return Err(err(i, "", ScenarioFault::RouteInBlock(*p)));
                }
                listed.push((*p, i));
            }
        }
    }
    listed.sort_unstable();
    if let Some(w) = listed.windows(2).find(|w| w[0].0 == w[1].0) {
        let (p, i) = w[1];
        return Err(err(i, "", ScenarioFault::RouteTwice(p)));
    }
    Ok(())
}

fn step(
    s: &StepSpec,
    peers: usize,
    err: impl Fn(ScenarioFault) -> ScenarioError,
) -> Result<Step, ScenarioError> {
    let actions = [&s.announce, &s.withdraw, &s.wait, &s.flap, &s.reset];
    if actions.iter().filter(|a| a.is_some()).count() != 1 {
        return Err(err(ScenarioFault::StepAction));
    }
    let value = |field, error| err(ScenarioFault::Value { field, error });
    let set = |v: &str, field| indexes(v, peers).map_err(|e| value(field, e));
    let only = |allowed: &[&str]| -> Result<(), ScenarioError> {
        let given = [
            ("rate", s.rate.is_some()),
            ("count", s.count.is_some()),
            ("cycles", s.cycles.is_some()),
            ("period", s.period.is_some()),
        ];
        match given.iter().find(|(k, g)| *g && !allowed.contains(k)) {
            Some((k, _)) => Err(err(ScenarioFault::StepField(k))),
            None => Ok(()),
        }
    };
    if let Some(v) = &s.announce {
        only(&["rate"])?;
        return Ok(Step::Announce {
            peers: set(v, "announce")?,
            rate: s.rate.unwrap_or(0),
        });
    }
    if let Some(v) = &s.withdraw {
        only(&["rate"])?;
        return Ok(Step::Withdraw {
            peers: set(v, "withdraw")?,
            rate: s.rate.unwrap_or(0),
        });
    }
    if let Some(v) = &s.reset {
        only(&[])?;
        return Ok(Step::Reset {
            peers: set(v, "reset")?,
        });
    }
    if let Some(v) = &s.wait {
        only(&[])?;
        let wait = match v.as_str() {
            "converged" => Wait::Converged,
            d => Wait::For(duration(d).map_err(|e| value("wait", e))?),
        };
        return Ok(Step::Wait(wait));
    }
    let v = s.flap.as_deref().unwrap_or_default();
    only(&["count", "cycles", "period"])?;
    let period = match &s.period {
        Some(p) => duration(p).map_err(|e| value("period", e))?,
        None => Duration::from_secs(2),
    };
    if period.is_zero() {
        return Err(err(ScenarioFault::ZeroPeriod));
    }
    Ok(Step::Flap {
        peers: set(v, "flap")?,
        count: s.count.unwrap_or(usize::MAX),
        cycles: s.cycles.unwrap_or(1),
        period,
    })
}

fn limits(
    l: &LimitsSpec,
    err: impl Fn(ScenarioFault) -> ScenarioError,
) -> Result<Limits, ScenarioError> {
    let d = |v: &Option<String>, field| -> Result<Option<Duration>, ScenarioError> {
        v.as_deref()
            .map(|v| duration(v).map_err(|error| err(ScenarioFault::Value { field, error })))
            .transpose()
    };
    Ok(Limits {
        announce: [
            d(&l.announce_p50, "announce_p50")?,
            d(&l.announce_p90, "announce_p90")?,
            d(&l.announce_p99, "announce_p99")?,
            d(&l.announce_max, "announce_max")?,
        ],
        withdraw: [
            d(&l.withdraw_p50, "withdraw_p50")?,
            d(&l.withdraw_p90, "withdraw_p90")?,
            d(&l.withdraw_p99, "withdraw_p99")?,
            d(&l.withdraw_max, "withdraw_max")?,
        ],
        converge: d(&l.converge, "converge")?,
        missing: l.missing.unwrap_or(0),
    })
}

/// A duration as humantime writes it (`2s`, `500ms`, `1m 30s`).
fn duration(v: &str) -> Result<Duration, ValueError> {
    humantime::parse_duration(v).map_err(|e| ValueError::Duration {
        text: v.to_string(),
        reason: e.to_string(),
    })
}

/// Peer indexes: `all`, `5`, `0-9`, or a comma-separated list of those.
///
/// ```
/// # use cue::scenario::indexes;
/// assert_eq!(indexes("0-2,5", 10).unwrap(), vec![0, 1, 2, 5]);
/// assert_eq!(indexes("all", 3).unwrap(), vec![0, 1, 2]);
/// assert!(indexes("3", 3).unwrap_err().to_string().contains("no peer 3"));
/// ```
pub fn indexes(v: &str, peers: usize) -> Result<Vec<usize>, ValueError> {
    if v.trim() == "all" {
        return Ok((0..peers).collect());
    }
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim) {
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| ValueError::Index(s.to_string()))
        };
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if a > b {
            return Err(ValueError::Backwards(part.to_string()));
        }
        if b >= peers {
            return Err(ValueError::NoSuchPeer { index: b, peers });
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "router = { address = \"127.0.0.1\", as = 65000 }\n";

    /// A directory of its own for a test's files.
    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cue-scenario-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_route_file_is_split_among_the_peers() {
        let dir = scratch("file");
        std::fs::write(
            dir.join("t.txt"),
            "10.0.0.0/24 med 5\n10.0.1.0/24\n# a comment\n10.0.2.0/24 med 5\n10.0.3.0/24 as-path 65001\n10.0.4.0/24\n",
        )
        .unwrap();
        let text = format!(
            "{HEAD}[[peers]]\ncount = 2\nlocal = \"127.0.1.1\"\nas = 65100\nfile = \"t.txt\"\n"
        );
        let s = parse(&text, &dir).unwrap();
        let g = &s.groups[0];
        assert_eq!(g.total_routes(), 5);
        let first: Vec<String> = g.routes_of(0).map(|p| p.to_string()).collect();
        assert_eq!(first, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]);
        assert_eq!(g.routes_of(1).count(), 2);
        let Routes::Listed(peers) = &g.routes else {
            panic!("listed")
        };
        let (a, b) = (
            peers[0][0].1.as_ref().unwrap(),
            peers[0][2].1.as_ref().unwrap(),
        );
        assert_eq!(a.med, Some(5));
        assert!(Arc::ptr_eq(a, b), "one set per set written");
        assert!(peers[0][1].1.is_none());
        // Fewer routes than peers; a route twice (in a block); no source.
        let many = text.replace("count = 2", "count = 6");
        let e = parse(&many, &dir).unwrap_err();
        assert!(
            matches!(
                &*e.fault,
                ScenarioFault::Value {
                    field: "file",
                    error: ValueError::TooFewRoutes {
                        routes: 5,
                        peers: 6,
                        ..
                    }
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("5 routes for 6 peers"), "{e}");
        let twice = format!(
            "{text}[[peers]]\nlocal = \"127.0.2.1\"\nas = 65200\nroutes = \"10.0.0.0/16 /24 10\"\n"
        );
        let e = parse(&twice, &dir).unwrap_err();
        let net = "10.0.0.0/24".parse().unwrap();
        assert_eq!(*e.fault, ScenarioFault::RouteInBlock(net), "{e}");
        assert_eq!(e.line, Some(2));
        let none = format!("{HEAD}[[peers]]\nlocal = \"127.0.1.1\"\nas = 65100\n");
        assert_eq!(
            *parse(&none, &dir).unwrap_err().fault,
            ScenarioFault::RouteSource
        );
        let both = format!("{text}routes = \"10.0.0.0/8 /24 1\"\n");
        assert_eq!(
            *parse(&both, &dir).unwrap_err().fault,
            ScenarioFault::RouteSource
        );
        let missing = text.replace("t.txt", "absent.txt");
        let e = parse(&missing, &dir).unwrap_err();
        assert_eq!(e.key, "peers[0]");
        assert!(
            matches!(
                &*e.fault,
                ScenarioFault::Value {
                    field: "file",
                    error: ValueError::Read { .. }
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("peers[0]: file: "), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_mrt_dump_gives_a_peer_per_recorded_peer() {
        use crate::bgp::mrt::{encode_bgp4mp, Bgp4mpPeers};
        use crate::bgp::wire::{AsPath, DecodeContext, Message, Origin, PathAttributes, Update};
        let dir = scratch("mrt");
        let ctx = DecodeContext::with_four_octet_as(true);
        let update = |path: &[u32], nlri: &[&str]| {
            Message::Update(Update {
                withdrawn: vec![],
                attributes: PathAttributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::sequence(path)),
                    next_hop: Some("192.0.2.9".parse().unwrap()),
                    ..Default::default()
                },
                nlri: nlri.iter().map(|p| p.parse().unwrap()).collect(),
                ..Default::default()
            })
            .to_bytes(ctx)
        };
        let peers = |address: &str, asn: u32| Bgp4mpPeers {
            peer_as: asn,
            local_as: 65000,
            peer: address.parse().unwrap(),
            local: "192.0.2.100".parse().unwrap(),
            four_octet_as: true,
            add_path_sent: false,
            add_path_received: false,
        };
        let mut f = Vec::new();
        let at = std::time::SystemTime::UNIX_EPOCH;
        let one = update(&[65001], &["10.1.0.0/24", "10.9.0.0/24"]);
        encode_bgp4mp(&peers("192.0.2.1", 65001), false, at, &one, &mut f);
        let two = update(&[65002, 65003], &["10.2.0.0/24", "10.9.0.0/24"]);
        encode_bgp4mp(&peers("192.0.2.2", 65002), false, at, &two, &mut f);
        std::fs::write(dir.join("rib.mrt"), f).unwrap();
        let text =
            format!("{HEAD}[[peers]]\nlocal = \"127.0.1.1\"\nas = 65100\nmrt = \"rib.mrt\"\n");
        let s = parse(&text, &dir).unwrap();
        let g = &s.groups[0];
        assert_eq!(g.count, 2, "one peer per recorded peer");
        let of = |k| g.routes_of(k).map(|p| p.to_string()).collect::<Vec<_>>();
        // 10.9.0.0/24 is the first recorded peer's.
        assert_eq!(of(0), ["10.1.0.0/24", "10.9.0.0/24"]);
        assert_eq!(of(1), ["10.2.0.0/24"]);
        let Routes::Listed(list) = &g.routes else {
            panic!("listed")
        };
        let own = list[1][0].1.as_ref().unwrap();
        assert_eq!(own.as_path, Some(AsPath::sequence(&[65002, 65003])));
        assert_eq!(own.next_hop, None, "the session's next hop");
        // The first peer only; more than recorded is refused.
        let one = text.replace("mrt =", "count = 1\nmrt =");
        assert_eq!(parse(&one, &dir).unwrap().groups[0].count, 1);
        let three = text.replace("mrt =", "count = 3\nmrt =");
        let e = parse(&three, &dir).unwrap_err();
        assert!(
            matches!(
                &*e.fault,
                ScenarioFault::Value {
                    field: "mrt",
                    error: ValueError::TooFewRecorded {
                        count: 3,
                        recorded: 2,
                        ..
                    }
                }
            ),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
