//! A router under test: many emulated peers, each with its own routes,
//! and observers that receive what the router sends, run through a
//! timeline of steps (announce, withdraw, flap, reset, wait); every prefix
//! is timed from the moment its UPDATE was written to the router to the
//! moment each observer received the router's UPDATE for it.
//!
//! | file | what |
//! |---|---|
//! | `file.rs` | the TOML file, checked whole, line and key named |
//! | `error.rs` | what is wrong with a file (`ScenarioError`, `ScenarioFault`, `ValueError`) |
//! | `run.rs` | the sessions and the timeline |
//! | `measure.rs` | per-prefix timing and convergence |
//! | `report.rs` | the report: per-step figures, limits |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cue::scenario::Scenario;
//! let scenario = Scenario::from_toml(r#"
//! router = { address = "127.0.0.1", port = 1179, as = 65000 }
//! [[peers]]
//! count = 10
//! local = "127.0.1.1"
//! as = 65100
//! routes = "10.0.0.0/8 /24 100"
//! [[observers]]
//! local = "127.0.0.250"
//! as = 65200
//! [[steps]]
//! announce = "all"
//! [[steps]]
//! wait = "converged"
//! [limits]
//! announce_p99 = "2s"
//! "#)?;
//! let report = scenario.run().await?;
//! println!("announce p99 {:?} ms; limits held: {}", report.announce.p99_ms, report.passed);
//! # Ok(()) }
//! ```

mod error;
mod file;
mod measure;
mod report;
mod run;

pub use error::{ScenarioError, ScenarioFault, ValueError};
pub use file::indexes;
pub use report::{Distribution, LimitCheck, Report, Stats, StepReport};
pub use run::RunError;

use crate::bgp::route::AttributeSpec;
use crate::bgp::AttributeOverrides;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A scenario: the router, the emulated peers and observers, the steps and
/// the limits. Made from a file with [`from_toml`](Self::from_toml), which
/// checks everything before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The router under test.
    pub router: Router,
    /// Groups of emulated peers, in order: peer indexes run through them.
    pub groups: Vec<Group>,
    /// Sessions that only receive.
    pub observers: Vec<Observer>,
    /// The timeline.
    pub steps: Vec<Step>,
    /// What must hold for the run to pass.
    pub limits: Limits,
    /// Hold time offered by every session (0, or at least 3 seconds).
    pub hold_time: u16,
    /// How long the sessions get to come up.
    pub establish_timeout: Duration,
    /// How long `wait = "converged"` waits at most.
    pub converge_timeout: Duration,
}

/// The router under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Router {
    /// Its address.
    pub address: IpAddr,
    /// Its BGP port.
    pub port: u16,
    /// Its AS.
    pub asn: u32,
}

/// A group of emulated peers, each with its own routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The index of the group's first peer among all peers.
    pub first: usize,
    /// How many peers.
    pub count: usize,
    /// The first peer's local address; each next peer takes the next one.
    pub local: IpAddr,
    /// The first peer's AS.
    pub asn: u32,
    /// What each next peer adds to the AS (0: all the same).
    pub as_step: u32,
    /// The peers' routes.
    pub routes: Routes,
    /// The attributes of every route of the group (a route's own, from a
    /// file or an MRT dump, go before them).
    pub attributes: AttributeSpec,
}

/// Where the routes of a group's peers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routes {
    /// `per_peer` prefixes of length `len` out of `base` for each peer:
    /// peer k of the group has the k-th run of them.
    Block {
        /// The block the routes come from.
        base: IpNet,
        /// The routes' prefix length.
        len: u8,
        /// Routes per peer.
        per_peer: usize,
    },
    /// Each peer's own routes, with attributes of their own (`None`: the
    /// group's): from a route file split among the peers, or from an MRT
    /// dump, one peer per recorded peer.
    Listed(Arc<Vec<PeerRoutes>>),
}

/// One peer's routes of [`Routes::Listed`], in the order they are sent.
pub type PeerRoutes = Vec<(IpNet, Option<Arc<AttributeOverrides>>)>;

impl Group {
    /// The local address of the group's peer `k`.
    pub fn local_of(&self, k: usize) -> Option<IpAddr> {
        add(self.local, k as u128, 0)
    }

    /// The AS of the group's peer `k`.
    pub fn asn_of(&self, k: usize) -> u32 {
        self.asn + self.as_step * k as u32
    }

    /// The routes of the group's peer `k`, in order.
    pub fn routes_of(&self, k: usize) -> Box<dyn Iterator<Item = IpNet> + '_> {
        match &self.routes {
            &Routes::Block {
                base,
                len,
                per_peer,
            } => {
                let first = (k * per_peer) as u128;
                let bits = if base.addr().is_ipv4() { 32 } else { 128 };
                Box::new((0..per_peer as u128).filter_map(move |i| {
                    let a = add(base.addr(), first + i, bits - u32::from(len))?;
                    IpNet::new(a, len).ok()
                }))
            }
            Routes::Listed(peers) => Box::new(
                peers
                    .get(k)
                    .into_iter()
                    .flat_map(|r| r.iter().map(|(p, _)| *p)),
            ),
        }
    }

    /// How many routes the group's peers have in all.
    pub fn total_routes(&self) -> usize {
        match &self.routes {
            Routes::Block { per_peer, .. } => per_peer * self.count,
            Routes::Listed(peers) => peers.iter().take(self.count).map(Vec::len).sum(),
        }
    }
}

impl Routes {
    /// A block's family (IPv4 or not), prefix length, first and last
    /// address as numbers; none for listed routes.
    pub(crate) fn range(&self, count: usize) -> Option<(bool, u8, u128, u128)> {
        let &Routes::Block {
            base,
            len,
            per_peer,
        } = self
        else {
            return None;
        };
        let v4 = base.addr().is_ipv4();
        let shift = if v4 { 32 } else { 128 } - u32::from(len);
        let start = number(base.addr());
        let n = (per_peer * count) as u128;
        let end = start.saturating_add((n << shift).saturating_sub(1));
        Some((v4, len, start, end))
    }
}

/// An address as a number.
fn number(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `a` plus `n` times 2^`shift`, within its family.
fn add(a: IpAddr, n: u128, shift: u32) -> Option<IpAddr> {
    let step = n.checked_shl(shift)?;
    if shift >= 128 || (n != 0 && step >> shift != n) {
        return None;
    }
    match a {
        IpAddr::V4(v4) => {
            let v = u128::from(u32::from(v4)).checked_add(step)?;
            u32::try_from(v).ok().map(|v| IpAddr::V4(v.into()))
        }
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(step)
            .map(|v| IpAddr::V6(v.into())),
    }
}

/// A session that receives what the router sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observer {
    /// Its local address.
    pub local: IpAddr,
    /// Its AS.
    pub asn: u32,
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// These peers announce all their routes, at `rate` routes per second
    /// over them (0: at once, as fast as the router takes them).
    Announce {
        /// Peer indexes.
        peers: Vec<usize>,
        /// Routes per second, 0 for at once.
        rate: u64,
    },
    /// These peers withdraw all their routes, at `rate` as above.
    Withdraw {
        /// Peer indexes.
        peers: Vec<usize>,
        /// Routes per second, 0 for at once.
        rate: u64,
    },
    /// Wait.
    Wait(Wait),
    /// The first `count` routes of each of these peers are withdrawn and
    /// announced again, `cycles` times, one cycle a `period` (withdrawn at
    /// its start, announced at its middle).
    Flap {
        /// Peer indexes.
        peers: Vec<usize>,
        /// Routes per peer.
        count: usize,
        /// How many times.
        cycles: u32,
        /// One cycle.
        period: Duration,
    },
    /// These peers' sessions are closed with Cease / Administrative Reset,
    /// without withdrawing first; they come back on their own.
    Reset {
        /// Peer indexes.
        peers: Vec<usize>,
    },
}

/// What a wait step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Every route announced is at every observer, every route withdrawn
    /// gone from it.
    Converged,
    /// A fixed time.
    For(Duration),
}

/// Limits on the whole run: latencies of announcements and withdrawals
/// through the router (p50, p90, p99, max), the longest convergence, and
/// how many routes may never arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Announcements: p50, p90, p99, max.
    pub announce: [Option<Duration>; 4],
    /// Withdrawals: p50, p90, p99, max.
    pub withdraw: [Option<Duration>; 4],
    /// Each `wait = "converged"` within this.
    pub converge: Option<Duration>,
    /// Changes that never reached an observer, at most.
    pub missing: u64,
}

impl Scenario {
    /// Reads a scenario file's text; every fault names its line and key.
    /// Route files it names (`file`, `mrt`) are read relative to the
    /// current directory.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        file::parse(text, std::path::Path::new(""))
    }

    /// Reads a scenario file's text; route files it names are read
    /// relative to `dir`.
    pub fn from_toml_in(text: &str, dir: &std::path::Path) -> Result<Scenario, ScenarioError> {
        file::parse(text, dir)
    }

    /// Reads a scenario file; route files it names are read relative to
    /// the directory it is in.
    pub fn from_path(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let error = ValueError::Read {
                path: path.to_path_buf(),
                reason: e.to_string(),
            };
            ScenarioError::new(None, "file", ScenarioFault::Value { field: "", error })
        })?;
        file::parse(&text, path.parent().unwrap_or(std::path::Path::new("")))
    }

    /// How many emulated peers.
    pub fn peers(&self) -> usize {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// The group of peer `index` and the peer's place in it.
    pub fn peer(&self, index: usize) -> Option<(&Group, usize)> {
        self.groups
            .iter()
            .find(|g| (g.first..g.first + g.count).contains(&index))
            .map(|g| (g, index - g.first))
    }
}
