//! Loc-RIB to Adj-RIB-Out: family rules, accept/reject filters and deltas;
//! and the Adj-RIB-In of routes a peer sends.

use super::wire::{AsPath, Community, ExtCommunity, Family, LargeCommunity, Origin, Update};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

/// The addresses the embedder wants advertised, shared by every peer.
///
/// ``` no_run
/// use cue::bgp::{LocRib, Pool};
/// # async fn demo() {
/// let (pool, _events) = Pool::new();
/// let rib: LocRib = std::sync::Arc::new(["192.0.2.1/32".parse().unwrap()].into());
/// pool.set_loc_rib(rib.clone()); // shared with every session, not copied
/// assert!(std::sync::Arc::ptr_eq(&pool.loc_rib(), &rib));
/// # }
/// ```
pub type LocRib = Arc<BTreeSet<IpNet>>;

/// Which Loc-RIB entries go to a peer.
///
/// ```
/// use cue::bgp::ExportFilter;
/// let f = ExportFilter {
///     accept: vec!["192.0.2.1/32".parse().unwrap()],
///     reject: vec!["192.0.2.0/24".parse().unwrap()],
/// };
/// assert!(f.allows(&"192.0.2.1/32".parse().unwrap()));
/// assert!(!f.allows(&"192.0.2.2/32".parse().unwrap()));
/// assert!(f.allows(&"198.51.100.1/32".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Prefixes whose addresses are always exported.
    pub accept: Vec<IpNet>,
    /// Prefixes whose addresses are not exported (unless accepted).
    pub reject: Vec<IpNet>,
}

impl ExportFilter {
    /// Whether `net` passes: accepted if any accept prefix contains it,
    /// otherwise rejected if any reject prefix contains it, otherwise
    /// exported.
    pub fn allows(&self, net: &IpNet) -> bool {
        if self.accept.iter().any(|p| p.contains(net)) {
            return true;
        }
        !self.reject.iter().any(|p| p.contains(net))
    }

    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.reject.is_empty()
    }
}

/// Computes the Adj-RIB-Out for a peer: the Loc-RIB entries of the
/// `families` that pass `filter`. When nothing is dropped the Loc-RIB itself
/// is shared, not copied.
pub fn adj_rib_out(loc: &LocRib, families: &[Family], filter: &ExportFilter) -> LocRib {
    let v4 = families.contains(&Family::Ipv4Unicast);
    let v6 = families.contains(&Family::Ipv6Unicast);
    let family_ok = |n: &IpNet| if n.addr().is_ipv4() { v4 } else { v6 };
    // A family is left out only if it has a prefix: the first of each
    // tells, not a walk of them all.
    let every_family = (v4 || family_range(loc, Family::Ipv4Unicast).next().is_none())
        && (v6 || family_range(loc, Family::Ipv6Unicast).next().is_none());
    if filter.is_empty() && every_family {
        return loc.clone();
    }
    Arc::new(
        loc.iter()
            .filter(|n| family_ok(n) && filter.allows(n))
            .copied()
            .collect(),
    )
}

/// The prefixes of one family in a set of prefixes, as a range of it
/// (IPv4 prefixes sort before IPv6 ones): no walk of the other family.
///
/// ```
/// use cue::bgp::rib::family_range;
/// use cue::bgp::wire::Family;
/// let rib = ["10.0.0.1/32".parse().unwrap(), "fd00::1/128".parse().unwrap()].into();
/// let v6: Vec<_> = family_range(&rib, Family::Ipv6Unicast).collect();
/// assert_eq!(v6, [&"fd00::1/128".parse().unwrap()]);
/// ```
pub fn family_range(
    prefixes: &BTreeSet<IpNet>,
    family: Family,
) -> std::collections::btree_set::Range<'_, IpNet> {
    let first_v6 = IpNet::V6(Default::default());
    match family {
        Family::Ipv4Unicast => prefixes.range(..first_v6),
        Family::Ipv6Unicast => prefixes.range(first_v6..),
    }
}

/// What changed between two Adj-RIB-Outs.
///
/// ```
/// use cue::bgp::rib::delta;
/// let old = ["10.0.0.1/32".parse().unwrap(), "10.0.0.2/32".parse().unwrap()].into();
/// let new = ["10.0.0.2/32".parse().unwrap(), "10.0.0.3/32".parse().unwrap()].into();
/// let d = delta(&old, &new);
/// assert_eq!(d.announce, vec!["10.0.0.3/32".parse().unwrap()]);
/// assert_eq!(d.withdraw, vec!["10.0.0.1/32".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// New prefixes to announce.
    pub announce: Vec<IpNet>,
    /// Prefixes to withdraw.
    pub withdraw: Vec<IpNet>,
}

impl Delta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }
}

/// The difference from `old` to `new`, in one merge pass over the sorted sets.
/// The same set (one `Arc` given twice) is known unchanged without a walk.
pub fn delta(old: &BTreeSet<IpNet>, new: &BTreeSet<IpNet>) -> Delta {
    let mut d = Delta::default();
    if std::ptr::eq(old, new) {
        return d;
    }
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.cmp(y) {
                std::cmp::Ordering::Less => {
                    d.withdraw.push(**x);
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    d.announce.push(**y);
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    a.next();
                    b.next();
                }
            },
            (Some(x), None) => {
                d.withdraw.push(**x);
                a.next();
            }
            (None, Some(y)) => {
                d.announce.push(**y);
                b.next();
            }
            (None, None) => return d,
        }
    }
}

/// The attributes of a route received from a peer.
///
/// ``` no_run
/// # async fn demo(pool: cue::bgp::Pool) {
/// // What a peer sent, with its attributes (AS4_PATH merged in).
/// for (peer, prefix, attrs) in pool.adj_rib_in() {
///     println!("{peer} {prefix} via {:?} as-path [{}] med {:?}", attrs.next_hop, attrs.as_path, attrs.med);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouteAttributes {
    /// The path identifier the peer gave the route (ADD-PATH, RFC 7911),
    /// when its family carries them: routes of one prefix with different
    /// identifiers are different paths, all held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_id: Option<u32>,
    /// Next hop (NEXT_HOP, or the first MP_REACH_NLRI next hop).
    pub next_hop: Option<IpAddr>,
    /// IPv6 link-local next hop, when the peer sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_local: Option<IpAddr>,
    /// AS path (AS4_PATH merged in).
    pub as_path: AsPath,
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// MULTI_EXIT_DISC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// LOCAL_PREF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// COMMUNITIES.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<LargeCommunity>,
    /// EXTENDED COMMUNITIES (RFC 4360).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ext_communities: Vec<ExtCommunity>,
}

/// Routes received from one peer, by prefix and path identifier (0 where
/// the family carries none).
///
/// ```
/// use cue::bgp::rib::AdjRibIn;
/// use cue::bgp::wire::{AsPath, DecodeContext, Message, Origin, PathAttributes, Update};
/// let u = Update {
///     attributes: PathAttributes {
///         origin: Some(Origin::Igp),
///         as_path: Some(AsPath::sequence(&[65002])),
///         next_hop: Some("10.0.0.2".parse().unwrap()),
///         ..Default::default()
///     },
///     nlri: vec!["192.0.2.0/24".parse().unwrap()],
///     ..Default::default()
/// };
/// let mut rib = AdjRibIn::default();
/// let received = rib.apply(&u);
/// assert_eq!(received.announce.len(), 1);
/// assert_eq!(rib.len(), 1);
/// // With ADD-PATH, two paths of the prefix are two routes.
/// let paths = Update { nlri: vec![u.nlri[0]; 2], nlri_path_ids: vec![1, 2], ..u.clone() };
/// let mut rib = AdjRibIn::default();
/// rib.apply(&paths);
/// assert_eq!(rib.len(), 2);
/// let ids: Vec<_> = rib.paths(&u.nlri[0]).map(|a| a.path_id).collect();
/// assert_eq!(ids, [Some(1), Some(2)]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct AdjRibIn {
    /// Routes without a path identifier, by prefix.
    routes: BTreeMap<IpNet, Arc<RouteAttributes>>,
    /// Routes with one (ADD-PATH), by prefix and identifier: apart, so
    /// that a session without ADD-PATH keeps the smaller map.
    paths: BTreeMap<(IpNet, u32), Arc<RouteAttributes>>,
    /// Routes kept from a session that dropped while the peer restarts
    /// (RFC 4724): replaced when announced again, removed at End-of-RIB or
    /// when the restart time runs out.
    stale: BTreeSet<(IpNet, Option<u32>)>,
    /// For each watcher (a check of expectations), the prefixes changed
    /// since it last looked, with what they became (`None`: gone): what it
    /// has to look at again, instead of every route at every change.
    journals: Vec<(u64, Journal)>,
}

/// The prefixes that changed in an Adj-RIB-In, each with the number of
/// what it holds now in `sets` ([`Journal::GONE`]: nothing). An UPDATE's
/// routes share one set: it is kept once, not once per prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    pub(crate) changes: Vec<(IpNet, u32)>,
    pub(crate) sets: Vec<Arc<RouteAttributes>>,
}

impl Journal {
    /// A prefix that holds nothing.
    pub(crate) const GONE: u32 = u32::MAX;
    /// A prefix whose paths (ADD-PATH) changed: what it holds now is to be
    /// read from the Adj-RIB-In (one set cannot say it).
    pub(crate) const PATHS: u32 = u32::MAX - 1;

    /// A path of `prefix` changed (ADD-PATH).
    pub(crate) fn paths(&mut self, prefix: IpNet) {
        self.changes.push((prefix, Self::PATHS));
    }

    /// `prefix` holds nothing now.
    pub(crate) fn gone(&mut self, prefix: IpNet) {
        self.changes.push((prefix, Self::GONE));
    }

    /// `prefix` holds `attributes` now.
    pub(crate) fn held(&mut self, prefix: IpNet, attributes: &Arc<RouteAttributes>) {
        if !self.sets.last().is_some_and(|l| Arc::ptr_eq(l, attributes)) {
            self.sets.push(attributes.clone());
        }
        self.changes.push((prefix, self.sets.len() as u32 - 1));
    }
}

/// What one received UPDATE changed.
///
/// ```
/// # use cue::bgp::rib::AdjRibIn;
/// # use cue::bgp::wire::{PathAttributes, Update};
/// let mut rib = AdjRibIn::default();
/// let withdraw = Update { withdrawn: vec!["192.0.2.0/24".parse().unwrap()], ..Default::default() };
/// let r = rib.apply(&withdraw);
/// assert_eq!(r.withdraw.len(), 1);
/// assert!(r.announce.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// Announced prefixes with their attributes.
    pub announce: Vec<(IpNet, Arc<RouteAttributes>)>,
    /// Withdrawn prefixes: those with a path identifier first.
    pub withdraw: Vec<IpNet>,
    /// The path identifiers (ADD-PATH) of the first
    /// `withdraw_path_ids.len()` of `withdraw`, in the same order; the
    /// prefixes after them came without one (a family without ADD-PATH).
    pub withdraw_path_ids: Vec<u32>,
}

impl Received {
    /// Withdrawals of prefixes with or without a path identifier, those
    /// with one first (see [`withdraw_path_ids`](Self::withdraw_path_ids)).
    fn withdrawals(gone: impl Iterator<Item = (IpNet, Option<u32>)>) -> Received {
        let mut r = Received::default();
        let mut with_ids = Vec::new();
        for (p, id) in gone {
            match id {
                Some(id) => {
                    with_ids.push(p);
                    r.withdraw_path_ids.push(id);
                }
                None => r.withdraw.push(p),
            }
        }
        if !with_ids.is_empty() {
            with_ids.append(&mut r.withdraw);
            r.withdraw = with_ids;
        }
        r
    }
}

impl AdjRibIn {
    /// Applies an UPDATE; returns what it announced and withdrew. The
    /// announcements of an UPDATE that RFC 7606 treats as withdrawn
    /// ([`Update::treat_as_withdraw`]) are withdrawals.
    pub fn apply(&mut self, u: &Update) -> Received {
        let r = self.apply_update(u);
        let paths =
            !r.withdraw_path_ids.is_empty() || r.announce.iter().any(|a| a.1.path_id.is_some());
        for (_, j) in &mut self.journals {
            if paths {
                // Another path of a prefix may still be held: the
                // watcher reads them all.
                r.withdraw.iter().for_each(|p| j.paths(*p));
                r.announce.iter().for_each(|(p, _)| j.paths(*p));
            } else {
                r.withdraw.iter().for_each(|p| j.gone(*p));
                r.announce.iter().for_each(|(p, a)| j.held(*p, a));
            }
        }
        r
    }

    fn apply_update(&mut self, u: &Update) -> Received {
        if !self.stale.is_empty() {
            for (p, id) in u.withdrawn_paths().chain(u.announced_paths()) {
                self.stale.remove(&(*p, id));
            }
        }
        let withdrawn = u.withdrawn_paths();
        let treated = u.announced_paths().filter(|_| u.treat_as_withdraw());
        let gone = withdrawn.chain(treated).map(|(p, id)| {
            self.remove(*p, id);
            (*p, id)
        });
        let mut r = Received::withdrawals(gone);
        if u.treat_as_withdraw() {
            return r;
        }
        let a = &u.attributes;
        let make = |next_hop: Option<IpAddr>, link_local: Option<IpAddr>| {
            Arc::new(RouteAttributes {
                path_id: None,
                next_hop,
                link_local,
                as_path: a.full_as_path().unwrap_or_default(),
                origin: a.origin,
                med: a.med,
                local_pref: a.local_pref,
                communities: a.communities.clone(),
                large_communities: a.large_communities.clone(),
                ext_communities: a
                    .other
                    .iter()
                    .filter(|r| r.type_code == super::wire::AttrType::ExtendedCommunities.code())
                    .flat_map(|r| r.value.chunks_exact(8))
                    .map(|c| ExtCommunity(c.try_into().expect("8 octets")))
                    .collect(),
            })
        };
        if !u.nlri.is_empty() {
            let attrs = make(a.next_hop.map(IpAddr::V4), None);
            self.insert(&u.nlri, &u.nlri_path_ids, attrs, &mut r);
        }
        if let Some(mp) = a.mp_reach.as_ref().filter(|m| !m.nlri.is_empty()) {
            let attrs = make(mp.next_hops.first().copied(), mp.next_hops.get(1).copied());
            self.insert(&mp.nlri, &mp.path_ids, attrs, &mut r);
        }
        r
    }

    /// Holds `nets` (with their path identifiers `ids`, if any) with
    /// `attrs`: one shared set, or with ADD-PATH one per identifier.
    fn insert(
        &mut self,
        nets: &[IpNet],
        ids: &[u32],
        attrs: Arc<RouteAttributes>,
        r: &mut Received,
    ) {
        if ids.is_empty() {
            for p in nets {
                self.routes.insert(*p, attrs.clone());
                r.announce.push((*p, attrs.clone()));
            }
            return;
        }
        let mut last: Option<Arc<RouteAttributes>> = None;
        for (p, id) in nets.iter().zip(ids) {
            let a = match &last {
                Some(l) if l.path_id == Some(*id) => l.clone(),
                _ => {
                    let a = Arc::new(RouteAttributes {
                        path_id: Some(*id),
                        ..(*attrs).clone()
                    });
                    last = Some(a.clone());
                    a
                }
            };
            self.paths.insert((*p, *id), a.clone());
            r.announce.push((*p, a));
        }
    }

    /// Removes the route of `prefix` with path identifier `id` (none: the
    /// one without).
    fn remove(&mut self, prefix: IpNet, id: Option<u32>) {
        match id {
            None => self.routes.remove(&prefix),
            Some(id) => self.paths.remove(&(prefix, id)),
        };
    }

    /// Routes in prefix order (a prefix's route without a path identifier,
    /// then its paths by identifier).
    pub fn routes(&self) -> impl Iterator<Item = (&IpNet, &Arc<RouteAttributes>)> {
        let mut plain = self.routes.iter().peekable();
        let mut paths = self.paths.iter().map(|((p, _), a)| (p, a)).peekable();
        std::iter::from_fn(move || match (plain.peek(), paths.peek()) {
            (Some(a), Some(b)) if b.0 < a.0 => paths.next(),
            (Some(_), _) => plain.next(),
            (None, _) => paths.next(),
        })
    }

    /// How many routes are held.
    pub fn len(&self) -> usize {
        self.routes.len() + self.paths.len()
    }

    /// Whether no route is held.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.paths.is_empty()
    }

    /// Forget every route (the session went down).
    pub fn clear(&mut self) {
        for (_, j) in &mut self.journals {
            self.routes.keys().for_each(|p| j.gone(*p));
            self.paths.keys().for_each(|(p, _)| j.gone(*p));
        }
        self.routes.clear();
        self.paths.clear();
        self.stale.clear();
    }

    /// Marks every route stale (the peer restarts); returns how many.
    ///
    /// ```
    /// # use cue::bgp::rib::AdjRibIn;
    /// # use cue::bgp::wire::{AsPath, Family, Origin, PathAttributes, Update};
    /// # let u = Update { attributes: PathAttributes { origin: Some(Origin::Igp),
    /// #     as_path: Some(AsPath::default()), next_hop: Some("10.0.0.2".parse().unwrap()), ..Default::default() },
    /// #     nlri: vec!["192.0.2.0/24".parse().unwrap(), "198.51.100.0/24".parse().unwrap()], ..Default::default() };
    /// let mut rib = AdjRibIn::default();
    /// rib.apply(&u); // two routes
    /// assert_eq!(rib.mark_stale(), 2);
    /// // The peer is back and announces one of them again.
    /// let again = Update { nlri: vec!["192.0.2.0/24".parse().unwrap()], ..u.clone() };
    /// rib.apply(&again);
    /// // End-of-RIB: what is still stale goes.
    /// let gone = rib.remove_stale(Some(Family::Ipv4Unicast));
    /// assert_eq!(gone.withdraw, vec!["198.51.100.0/24".parse().unwrap()]);
    /// assert_eq!(rib.len(), 1);
    /// ```
    pub fn mark_stale(&mut self) -> usize {
        self.stale.extend(self.routes.keys().map(|p| (*p, None)));
        self.stale
            .extend(self.paths.keys().map(|(p, id)| (*p, Some(*id))));
        self.stale.len()
    }

    /// Removes the routes still stale, of one family or of all; returns
    /// them as withdrawn (with their path identifiers, ADD-PATH).
    pub fn remove_stale(&mut self, family: Option<Family>) -> Received {
        let gone: Vec<(IpNet, Option<u32>)> = self
            .stale
            .iter()
            .filter(|(p, _)| family.map_or(true, |f| Family::of(p.addr()) == f))
            .copied()
            .collect();
        for key in &gone {
            self.stale.remove(key);
            self.remove(key.0, key.1);
        }
        for (_, j) in &mut self.journals {
            for (p, id) in &gone {
                match id {
                    None => j.gone(*p),
                    Some(_) => j.paths(*p),
                }
            }
        }
        Received::withdrawals(gone.into_iter())
    }

    /// The attributes held for `prefix` (of its path with the lowest
    /// identifier, with ADD-PATH).
    pub fn get(&self, prefix: &IpNet) -> Option<&Arc<RouteAttributes>> {
        self.paths(prefix).next()
    }

    /// Every path held for `prefix`, by identifier (one without ADD-PATH).
    pub fn paths(&self, prefix: &IpNet) -> impl Iterator<Item = &Arc<RouteAttributes>> {
        let paths = self.paths.range((*prefix, 0)..=(*prefix, u32::MAX));
        self.routes
            .get(prefix)
            .into_iter()
            .chain(paths.map(|(_, a)| a))
    }

    /// Starts keeping, for watcher `id`, the prefixes that change from now
    /// on (see [`changes`](Self::changes)); returns the routes held now.
    pub(crate) fn watch(&mut self, id: u64) -> Journal {
        self.journals.push((id, Journal::default()));
        let mut now = Journal::default();
        self.routes.iter().for_each(|(p, a)| now.held(*p, a));
        self.paths.keys().for_each(|(p, _)| now.paths(*p));
        now
    }

    /// The prefixes announced, withdrawn or dropped since watcher `id`
    /// last asked, with what they became (in order, a prefix as often as
    /// it changed).
    pub(crate) fn changes(&mut self, id: u64) -> Journal {
        self.journals
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, j)| std::mem::take(j))
            .unwrap_or_default()
    }

    /// How many watchers keep changes.
    #[cfg(test)]
    pub(crate) fn watchers(&self) -> usize {
        self.journals.len()
    }

    /// Stops keeping changes for watcher `id`.
    pub(crate) fn unwatch(&mut self, id: u64) {
        self.journals.retain(|(i, _)| *i != id);
    }

    /// The routes kept as stale, in prefix order.
    pub fn stale(&self) -> impl Iterator<Item = &IpNet> {
        self.stale.iter().map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// IPv6 with path identifiers and IPv4 without in one UPDATE: the
    /// withdrawals with an identifier come first, each with its own (the
    /// IPv4 prefix, withdrawn first on the wire, takes none); a graceful
    /// restart's stale removal keeps them too.
    #[test]
    fn withdrawals_keep_each_path_id_with_its_prefix() {
        use crate::bgp::wire::{AsPath, MpReach, MpUnreach, Origin, PathAttributes};
        let v4: IpNet = "10.0.0.0/24".parse().unwrap();
        let v6: IpNet = "2001:db8::/48".parse().unwrap();
        let announce = Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                next_hop: Some("10.0.0.2".parse().unwrap()),
                mp_reach: Some(MpReach {
                    afi: 2,
                    safi: 1,
                    next_hops: vec!["2001:db8::2".parse().unwrap()],
                    nlri: vec![v6, v6],
                    path_ids: vec![5, 6],
                    ..Default::default()
                }),
                ..Default::default()
            },
            nlri: vec![v4],
            ..Default::default()
        };
        let mut rib = AdjRibIn::default();
        rib.apply(&announce);
        assert_eq!(rib.len(), 3);
        let withdraw = Update {
            withdrawn: vec![v4],
            attributes: PathAttributes {
                mp_unreach: Some(MpUnreach {
                    afi: 2,
                    safi: 1,
                    withdrawn: vec![v6],
                    path_ids: vec![6],
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = rib.apply(&withdraw);
        assert_eq!((r.withdraw, r.withdraw_path_ids), (vec![v6, v4], vec![6]));
        assert_eq!(rib.len(), 1, "path 5 of the IPv6 prefix stays");
        // The peer restarts; at the end of its restart time what it held
        // goes, each path with its identifier.
        rib.apply(&announce);
        rib.mark_stale();
        let gone = rib.remove_stale(None);
        assert_eq!(gone.withdraw, [v6, v6, v4]);
        assert_eq!(gone.withdraw_path_ids, [5, 6]);
        assert_eq!(rib.len(), 0);
    }

    #[test]
    fn filter_semantics() {
        let f = ExportFilter {
            accept: nets(&["192.168.101.1/32"]),
            reject: nets(&["192.168.101.0/24", "::/0"]),
        };
        assert!(f.allows(&"192.168.101.1/32".parse().unwrap()));
        assert!(!f.allows(&"192.168.101.2/32".parse().unwrap()));
        assert!(f.allows(&"10.0.0.1/32".parse().unwrap()));
        assert!(!f.allows(&"fd00::1/128".parse().unwrap()));
    }

    #[test]
    fn family_rule_and_sharing() {
        let loc: LocRib = Arc::new(set(&["10.0.0.1/32", "fd00::1/128"]));
        let both = adj_rib_out(
            &loc,
            &[Family::Ipv4Unicast, Family::Ipv6Unicast],
            &ExportFilter::default(),
        );
        assert!(Arc::ptr_eq(&both, &loc));
        let v4 = adj_rib_out(&loc, &[Family::Ipv4Unicast], &ExportFilter::default());
        assert_eq!(*v4, set(&["10.0.0.1/32"]));
    }

    #[test]
    fn deltas() {
        let old = set(&["10.0.0.1/32", "10.0.0.2/32", "fd00::1/128"]);
        let new = set(&["10.0.0.2/32", "10.0.0.3/32", "fd00::2/128"]);
        let d = delta(&old, &new);
        assert_eq!(d.announce, nets(&["10.0.0.3/32", "fd00::2/128"]));
        assert_eq!(d.withdraw, nets(&["10.0.0.1/32", "fd00::1/128"]));
        assert!(delta(&new, &new).is_empty());
    }
}
