//! Checking the routes received against routes expected present or
//! absent (`--expect`, `expect`, `listen --expect`).

use super::syntax::{AttributeSpec, RouteSpec};
use crate::bgp::rib::{AdjRibIn, Journal, RouteAttributes};
use crate::lock;
use ipnet::IpNet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

impl AttributeSpec {
    /// How `route` differs from what is stated here, one line per
    /// attribute (empty when it matches).
    ///
    /// ```
    /// use cue::bgp::route::AttributeSpec;
    /// use cue::bgp::RouteAttributes;
    /// let want: AttributeSpec = "med 10 community 65000:7".parse().unwrap();
    /// let got = RouteAttributes { med: Some(20), ..Default::default() };
    /// assert_eq!(want.differences(&got), vec!["med 10, got 20", "community 65000:7 missing"]);
    /// ```
    pub fn differences(&self, route: &RouteAttributes) -> Vec<String> {
        let mut d = Vec::new();
        self.compare(route, |a| d.push(a.to_string()));
        d
    }

    /// Whether `route` has every attribute stated here (no
    /// [`differences`](Self::differences)), without writing them out.
    ///
    /// ```
    /// use cue::bgp::route::AttributeSpec;
    /// use cue::bgp::RouteAttributes;
    /// let want: AttributeSpec = "med 10".parse().unwrap();
    /// assert!(want.matches(&RouteAttributes { med: Some(10), ..Default::default() }));
    /// assert!(!want.matches(&RouteAttributes::default()));
    /// ```
    pub fn matches(&self, route: &RouteAttributes) -> bool {
        let mut same = true;
        self.compare(route, |_| same = false);
        same
    }

    /// Calls `differ` once per attribute in which `route` differs.
    fn compare(&self, route: &RouteAttributes, mut differ: impl FnMut(std::fmt::Arguments<'_>)) {
        let opt = |v: Option<u32>| v.map_or("none".to_string(), |v| v.to_string());
        if self.path_id.is_some() && self.path_id != route.path_id {
            differ(format_args!(
                "path-id {}, got {}",
                opt(self.path_id),
                opt(route.path_id)
            ));
        }
        if let Some(nh) = self.next_hop {
            if route.next_hop != Some(nh) && route.link_local != Some(nh) {
                let got = route.next_hop.map_or("none".to_string(), |n| n.to_string());
                differ(format_args!("next-hop {nh}, got {got}"));
            }
        }
        if let Some(o) = self.origin {
            if route.origin != Some(o) {
                let got = route.origin.map_or("none".to_string(), |o| o.to_string());
                differ(format_args!("origin {o}, got {got}"));
            }
        }
        if let Some(path) = &self.as_path {
            let got = route.as_path.segments.iter().flat_map(|s| s.asns.iter());
            if !path.iter().eq(got) || route.as_path.segments.len() > 1 {
                let want: Vec<String> = path.iter().map(|a| a.to_string()).collect();
                differ(format_args!(
                    "as-path {}, got {}",
                    want.join(" "),
                    route.as_path
                ));
            }
        }
        if self.med.is_some() && self.med != route.med {
            differ(format_args!(
                "med {}, got {}",
                opt(self.med),
                opt(route.med)
            ));
        }
        if self.local_pref.is_some() && self.local_pref != route.local_pref {
            differ(format_args!(
                "local-pref {}, got {}",
                opt(self.local_pref),
                opt(route.local_pref)
            ));
        }
        for c in &self.communities {
            if !route.communities.contains(c) {
                differ(format_args!("community {c} missing"));
            }
        }
        for c in &self.large_communities {
            if !route.large_communities.contains(c) {
                differ(format_args!("large-community {c} missing"));
            }
        }
        for c in &self.ext_communities {
            if !route.ext_communities.contains(c) {
                differ(format_args!("ext-community {c} missing"));
            }
        }
    }
}

/// What expectations found among the routes received.
///
/// ```
/// use cue::bgp::route::{check_routes, RouteSpec};
/// use cue::bgp::RouteAttributes;
/// use std::sync::Arc;
/// let got = vec![("192.0.2.2".to_string(), "10.0.0.0/24".parse().unwrap(),
///     Arc::new(RouteAttributes { med: Some(10), ..Default::default() }))];
/// let want: Vec<RouteSpec> = vec!["10.0.0.0/24 med 10".parse().unwrap(), "10.1.0.0/24".parse().unwrap()];
/// let report = check_routes(&want, &[], &got);
/// assert_eq!(report.missing, vec!["10.1.0.0/24"]);
/// assert!(!report.is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpectReport {
    /// Expected routes not received at all.
    pub missing: Vec<String>,
    /// Expected routes received with other attributes.
    pub different: Vec<Difference>,
    /// Routes received that were to be absent.
    pub unexpected: Vec<String>,
}

/// An expected route received with other attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The route as expected.
    pub route: String,
    /// The peer that sent it.
    pub peer: String,
    /// How it differs, one entry per attribute.
    pub differences: Vec<String>,
}

impl ExpectReport {
    /// Whether every expectation holds.
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.different.is_empty() && self.unexpected.is_empty()
    }

    /// The report as lines of text (none when it holds).
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .missing
            .iter()
            .map(|r| format!("missing {r}"))
            .collect();
        for d in &self.different {
            out.push(format!(
                "{} from {}: {}",
                d.route,
                d.peer,
                d.differences.join("; ")
            ));
        }
        out.extend(self.unexpected.iter().map(|r| format!("unexpected {r}")));
        out
    }
}

/// Checks `routes` (peer, prefix, attributes: what
/// [`Pool::adj_rib_in`](crate::bgp::Pool::adj_rib_in) gives) against routes
/// expected present (from any peer, with every stated attribute) and
/// routes expected absent (no peer sends the prefix with the stated
/// attributes).
pub fn check_routes(
    expect: &[RouteSpec],
    absent: &[RouteSpec],
    routes: &[(String, IpNet, std::sync::Arc<RouteAttributes>)],
) -> ExpectReport {
    let mut by_prefix: std::collections::BTreeMap<&IpNet, Vec<(&String, &RouteAttributes)>> =
        Default::default();
    for (peer, prefix, attrs) in routes {
        by_prefix.entry(prefix).or_default().push((peer, attrs));
    }
    let mut report = ExpectReport::default();
    for want in expect {
        // A path named by its id is compared with that path alone.
        let id = want.attributes.path_id;
        let mut got = by_prefix
            .get(&want.prefix)
            .into_iter()
            .flatten()
            .filter(|(_, a)| id.is_none() || a.path_id == id)
            .peekable();
        if got.peek().is_none() {
            report.missing.push(want.to_string());
            continue;
        }
        let mut closest: Option<(&String, Vec<String>)> = None;
        for (peer, attrs) in got {
            let d = want.attributes.differences(attrs);
            if d.is_empty() {
                closest = None;
                break;
            }
            if closest.as_ref().map_or(true, |(_, c)| d.len() < c.len()) {
                closest = Some((peer, d));
            }
        }
        if let Some((peer, differences)) = closest {
            report.different.push(Difference {
                route: want.to_string(),
                peer: peer.clone(),
                differences,
            });
        }
    }
    for not in absent {
        if let Some(got) = by_prefix.get(&not.prefix) {
            if got
                .iter()
                .any(|(_, a)| not.attributes.differences(a).is_empty())
            {
                report.unexpected.push(not.to_string());
            }
        }
    }
    report
}

/// A peer's Adj-RIB-In, as a [`Tracker`] watches it.
pub(crate) type WatchedRib = Arc<Mutex<AdjRibIn>>;

/// Expectations checked as routes change: the prefixes that changed since
/// the last look, not every route held, are looked at again (what checking
/// a million expected routes while they arrive needs).
pub(crate) struct Tracker<'a> {
    present: &'a [RouteSpec],
    absent: &'a [RouteSpec],
    /// (prefix, spec) in prefix order; a spec below `present.len()` is
    /// one of `present`, the others are `absent`'s after it. Changes are
    /// looked up in it in prefix order too, each search going on from
    /// where the last one ended (routes mostly come in order: a step or
    /// two, and no cache miss of a hash table).
    order: Vec<(IpNet, u32)>,
    /// Per spec (present, then absent): whether a route held matches it.
    held: Vec<bool>,
    /// Present specs held.
    met: usize,
    /// Absent specs held.
    hit: usize,
    /// The journal id this tracker reads the Adj-RIBs-In with.
    watcher: u64,
    ribs: Vec<WatchedRib>,
}

/// The slot of a change of an Adj-RIB-In no longer watched.
const GONE: u32 = u32::MAX;

impl<'a> Tracker<'a> {
    pub(crate) fn new(present: &'a [RouteSpec], absent: &'a [RouteSpec]) -> Self {
        static WATCHERS: AtomicU64 = AtomicU64::new(1);
        let mut order: Vec<(IpNet, u32)> = present
            .iter()
            .chain(absent)
            .enumerate()
            .map(|(i, r)| (r.prefix, i as u32))
            .collect();
        order.sort_unstable();
        Tracker {
            present,
            absent,
            order,
            held: vec![false; present.len() + absent.len()],
            met: 0,
            hit: 0,
            watcher: WATCHERS.fetch_add(1, Ordering::Relaxed),
            ribs: Vec::new(),
        }
    }

    /// Whether the check is over: every route expected present is, or a
    /// route expected absent is not.
    pub(crate) fn done(&self) -> bool {
        self.hit > 0 || (!self.present.is_empty() && self.met == self.present.len())
    }

    /// How many routes expected absent are held.
    pub(crate) fn hit(&self) -> usize {
        self.hit
    }

    /// Looks at what changed in `ribs` (the peers' now) since the last
    /// call: every route of a peer new to it, every route of a peer gone,
    /// the journal of the others.
    pub(crate) fn refresh(&mut self, ribs: Vec<WatchedRib>) {
        let id = self.watcher;
        // (slot in `self.ribs`, its changes)
        let mut changed: Vec<(u32, Journal)> = Vec::new();
        self.ribs.retain(|rib| {
            if ribs.iter().any(|n| Arc::ptr_eq(n, rib)) {
                return true;
            }
            // Gone: what it held is to be looked at again, without it.
            let mut r = lock(rib);
            let mut gone = Journal::default();
            for (p, _) in r.changes(id).changes {
                gone.gone(p);
            }
            r.routes().for_each(|(p, _)| gone.gone(*p));
            r.unwatch(id);
            changed.push((GONE, gone));
            false
        });
        for (slot, rib) in self.ribs.iter().enumerate() {
            changed.push((slot as u32, lock(rib).changes(id)));
        }
        for rib in ribs {
            if !self.ribs.iter().any(|o| Arc::ptr_eq(o, &rib)) {
                changed.push((self.ribs.len() as u32, lock(&rib).watch(id)));
                self.ribs.push(rib);
            }
        }
        self.reevaluate(changed);
    }

    /// Where the specs of `prefix` start in `order` (or would), searched
    /// from `from` on (`prefix` is not before it): the distance found by
    /// doubling steps, then halving.
    fn seek(&self, prefix: &IpNet, from: usize) -> usize {
        let mut step = 1;
        while from + step < self.order.len() && self.order[from + step].0 < *prefix {
            step *= 2;
        }
        let end = (from + step + 1).min(self.order.len());
        from + self.order[from..end].partition_point(|(p, _)| p < prefix)
    }

    fn reevaluate(&mut self, journals: Vec<(u32, Journal)>) {
        // (prefix, slot, its set in `sets`)
        let mut changed: Vec<(IpNet, u32, u32)> = Vec::new();
        let mut sets: Vec<Arc<RouteAttributes>> = Vec::new();
        for (slot, j) in journals {
            let base = sets.len() as u32;
            sets.extend(j.sets);
            changed.extend(j.changes.into_iter().map(|(p, set)| {
                let set = match set {
                    Journal::GONE | Journal::PATHS => set,
                    _ => base + set,
                };
                (p, slot, set)
            }));
        }
        if changed.is_empty() {
            return;
        }
        // By prefix; a stable sort keeps the order of one prefix's
        // changes: the last of a slot is what its Adj-RIB-In holds.
        changed.sort_by_key(|a| a.0);
        // What a peer's journal did not say is looked up in its Adj-RIB-In,
        // under the locks: only with more than one peer, one gone, or
        // several paths of a prefix (ADD-PATH).
        let lookups =
            self.ribs.len() > 1 || changed.iter().any(|c| c.1 == GONE || c.2 == Journal::PATHS);
        let guards: Option<Vec<_>> = lookups.then(|| self.ribs.iter().map(|r| lock(r)).collect());
        // Not said, or several paths (ADD-PATH): read from the Adj-RIB-In.
        const UNKNOWN: u32 = Journal::PATHS;
        let mut known = vec![UNKNOWN; self.ribs.len()];
        let mut routes: Vec<&RouteAttributes> = Vec::new();
        let mut updates = Vec::new();
        let mut at = 0;
        for one in changed.chunk_by(|a, b| a.0 == b.0) {
            let prefix = one[0].0;
            at = self.seek(&prefix, at);
            if !self.order.get(at).is_some_and(|(p, _)| *p == prefix) {
                continue;
            }
            for &(_, slot, set) in one {
                if let Some(k) = known.get_mut(slot as usize) {
                    *k = set;
                }
            }
            routes.clear();
            for (slot, k) in known.iter_mut().enumerate() {
                match std::mem::replace(k, UNKNOWN) {
                    UNKNOWN => {
                        if let Some(g) = &guards {
                            routes.extend(g[slot].paths(&prefix).map(|a| a.as_ref()));
                        }
                    }
                    Journal::GONE => {}
                    set => routes.push(&sets[set as usize]),
                }
            }
            let specs = self.order[at..].iter().take_while(|(p, _)| *p == prefix);
            for (_, spec) in specs {
                let spec = *spec as usize;
                let attributes = match spec.checked_sub(self.present.len()) {
                    None => &self.present[spec].attributes,
                    Some(a) => &self.absent[a].attributes,
                };
                updates.push((spec, routes.iter().any(|r| attributes.matches(r))));
            }
        }
        drop(guards);
        self.note(updates);
    }

    /// Takes whether each spec is held now, keeping the counts.
    fn note(&mut self, updates: Vec<(usize, bool)>) {
        for (spec, now) in updates {
            if self.held[spec] != now {
                self.held[spec] = now;
                let count = if spec < self.present.len() {
                    &mut self.met
                } else {
                    &mut self.hit
                };
                if now {
                    *count += 1;
                } else {
                    *count -= 1;
                }
            }
        }
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        for rib in &self.ribs {
            lock(rib).unwatch(self.watcher);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::wire::{AsPath, Origin};

    fn update(announce: &[&str], withdraw: &[&str], med: Option<u32>) -> crate::bgp::wire::Update {
        use crate::bgp::wire::PathAttributes;
        crate::bgp::wire::Update {
            withdrawn: withdraw.iter().map(|p| p.parse().unwrap()).collect(),
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(&[65002])),
                next_hop: Some("10.0.0.2".parse().unwrap()),
                med,
                ..Default::default()
            },
            nlri: announce.iter().map(|p| p.parse().unwrap()).collect(),
            ..Default::default()
        }
    }

    fn specs(v: &[&str]) -> Vec<RouteSpec> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_path_named_by_its_id_is_compared_with_that_path_alone() {
        let path = |id: u32, med: u32| {
            let a = RouteAttributes {
                path_id: Some(id),
                med: Some(med),
                ..Default::default()
            };
            (
                "peer".to_string(),
                "10.0.0.0/24".parse().unwrap(),
                Arc::new(a),
            )
        };
        let routes = [path(1, 10), path(2, 20)];
        let r = check_routes(
            &specs(&[
                "10.0.0.0/24 path-id 2 med 10",
                "10.0.0.0/24 path-id 3",
                "10.0.0.0/24 med 20",
                "10.0.0.0/24 path-id 1 med 10",
            ]),
            &[],
            &routes,
        );
        assert_eq!(r.missing, ["10.0.0.0/24 path-id 3"]);
        assert_eq!(r.different.len(), 1, "{r:?}");
        assert_eq!(r.different[0].differences, ["med 10, got 20"]);
    }

    #[test]
    fn tracker_tells_paths_of_a_prefix_apart() {
        // ADD-PATH: two paths of one prefix, each with its MED.
        let paths = |ids: &[u32], med: u32| crate::bgp::wire::Update {
            nlri_path_ids: ids.to_vec(),
            ..update(&vec!["10.0.0.0/24"; ids.len()], &[], Some(med))
        };
        let gone = |id: u32| crate::bgp::wire::Update {
            withdrawn: vec!["10.0.0.0/24".parse().unwrap()],
            withdrawn_path_ids: vec![id],
            ..Default::default()
        };
        let present = specs(&["10.0.0.0/24 path-id 2 med 20", "10.0.0.0/24 med 10"]);
        let absent = specs(&["10.0.0.0/24 path-id 1 med 20"]);
        let mut t = Tracker::new(&present, &absent);
        let a: WatchedRib = Default::default();
        t.refresh(vec![a.clone()]);
        lock(&a).apply(&paths(&[1], 10));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.hit), (1, 0), "path 1 has MED 10");
        lock(&a).apply(&paths(&[2], 20));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.hit), (2, 0), "path 2 beside path 1, not instead");
        // Path 1 goes: the spec without a path id is no longer met.
        lock(&a).apply(&gone(1));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.hit), (1, 0));
        // Path 1 comes back with path 2's attributes: expected absent.
        lock(&a).apply(&paths(&[1], 20));
        t.refresh(vec![a.clone()]);
        assert_eq!(t.hit, 1);
    }

    #[test]
    fn tracker_follows_changes() {
        let present = specs(&["10.0.0.0/24 med 10", "10.0.1.0/24"]);
        let absent = specs(&["10.9.0.0/24"]);
        let mut t = Tracker::new(&present, &absent);
        let a: WatchedRib = Default::default();
        // Routes held before the tracker looks count too.
        lock(&a).apply(&update(&["10.0.1.0/24"], &[], None));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.hit, t.done()), (1, 0, false));
        // Other attributes than expected: not met.
        lock(&a).apply(&update(&["10.0.0.0/24"], &[], Some(20)));
        t.refresh(vec![a.clone()]);
        assert_eq!(t.met, 1);
        lock(&a).apply(&update(&["10.0.0.0/24"], &[], Some(10)));
        t.refresh(vec![a.clone()]);
        assert!(t.done());
        // Withdrawn again: no longer met.
        lock(&a).apply(&update(&[], &["10.0.1.0/24"], None));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.done()), (1, false));
        // A second peer holds it; the first one's session drops (cleared).
        let b: WatchedRib = Default::default();
        lock(&b).apply(&update(&["10.0.1.0/24", "10.0.0.0/24"], &[], Some(10)));
        t.refresh(vec![a.clone(), b.clone()]);
        assert!(t.done());
        lock(&a).clear();
        t.refresh(vec![a.clone(), b.clone()]);
        assert!(t.done());
        // The second peer is removed from the pool: its routes are gone.
        t.refresh(vec![a.clone()]);
        assert_eq!((t.met, t.done()), (0, false));
        assert_eq!(lock(&b).watchers(), 0, "a peer gone is no longer watched");
        // A route expected absent arrives.
        lock(&a).apply(&update(&["10.9.0.0/24"], &[], None));
        t.refresh(vec![a.clone()]);
        assert_eq!((t.hit, t.done()), (1, true));
        drop(t);
        assert_eq!(lock(&a).watchers(), 0, "a tracker dropped stops watching");
    }

    #[test]
    fn tracker_agrees_with_a_whole_check_whatever_the_order() {
        // 300 expected prefixes (every third also expected absent with a
        // med), announced and withdrawn by two peers in a scrambled order.
        let net = |i: u32| format!("10.{}.{}.0/24", i / 256, i % 256);
        let present: Vec<RouteSpec> = (0..300).map(|i| net(i * 2).parse().unwrap()).collect();
        let absent: Vec<RouteSpec> = (0..100)
            .map(|i| format!("{} med 7", net(i * 6)).parse().unwrap())
            .collect();
        let ribs: [WatchedRib; 2] = Default::default();
        let mut t = Tracker::new(&present, &absent);
        let mut x: u32 = 12345;
        for round in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let prefix = net((x >> 8) % 700);
            let rib = &ribs[(x >> 4) as usize % 2];
            match (x >> 20) % 3 {
                0 => lock(rib).apply(&update(&[&prefix], &[], None)),
                1 => lock(rib).apply(&update(&[&prefix], &[], Some(7))),
                _ => lock(rib).apply(&update(&[], &[&prefix], None)),
            };
            if round % 7 == 0 {
                t.refresh(ribs.to_vec());
                let mut all = Vec::new();
                for (i, r) in ribs.iter().enumerate() {
                    let peer = i.to_string();
                    all.extend(lock(r).routes().map(|(p, a)| (peer.clone(), *p, a.clone())));
                }
                let whole = check_routes(&present, &absent, &all);
                assert_eq!(
                    t.met,
                    present.len() - whole.missing.len() - whole.different.len()
                );
                assert_eq!(t.hit, whole.unexpected.len(), "round {round}");
            }
        }
        assert!(t.met > 0 && t.hit > 0, "both kinds were seen");
    }

    #[test]
    fn trackers_side_by_side_each_see_every_change() {
        let present = specs(&["10.0.0.0/24"]);
        let rib: WatchedRib = Default::default();
        let mut one = Tracker::new(&present, &[]);
        let mut two = Tracker::new(&present, &[]);
        one.refresh(vec![rib.clone()]);
        two.refresh(vec![rib.clone()]);
        lock(&rib).apply(&update(&["10.0.0.0/24"], &[], None));
        one.refresh(vec![rib.clone()]);
        two.refresh(vec![rib.clone()]);
        assert!(one.done() && two.done());
    }

    #[test]
    fn matches_is_no_differences() {
        let got = RouteAttributes {
            as_path: AsPath::sequence(&[65002, 65003]),
            med: Some(5),
            ..Default::default()
        };
        for want in [
            "as-path 65002 65003",
            "as-path 65002",
            "med 5",
            "med 6 local-pref 1",
            "community 1:1",
            "origin igp",
            "",
        ] {
            let want: AttributeSpec = want.parse().unwrap();
            assert_eq!(
                want.matches(&got),
                want.differences(&got).is_empty(),
                "{want:?}"
            );
        }
    }

    #[test]
    fn differences_name_each_attribute() {
        let want: AttributeSpec =
            "as-path 65002 origin igp large-community 1:2:3 ext-community rt:1:1"
                .parse()
                .unwrap();
        let got = RouteAttributes {
            as_path: AsPath::sequence(&[65002]),
            origin: Some(Origin::Igp),
            large_communities: vec!["1:2:3".parse().unwrap()],
            ext_communities: vec!["rt:1:1".parse().unwrap()],
            ..Default::default()
        };
        assert!(want.differences(&got).is_empty());
        let other = RouteAttributes {
            as_path: AsPath::sequence(&[65003, 65002]),
            ..Default::default()
        };
        assert_eq!(want.differences(&other).len(), 4);
    }
}
