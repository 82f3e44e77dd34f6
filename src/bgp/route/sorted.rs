//! A table sorted: each prefix once, and the routes with attributes of
//! their own grouped by attribute set, ready to send.

use super::table::RouteTable;
use crate::bgp::config::AttributeOverrides;
use crate::bgp::wire::Family;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

impl RouteTable {
    /// The prefixes, and the attributes of those that have their own (for
    /// [`Pool::set_routes`](crate::bgp::Pool::set_routes)).
    pub fn finish(self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        // The trees need no groups.
        self.sorted().into_trees()
    }

    /// The routes sorted, each prefix once with the attributes it was last
    /// given, and grouped by attribute set: what a session sends, ready
    /// before the trees of [`finish`](Self::finish) are built (see
    /// [`Pool::set_table`](crate::bgp::Pool::set_table)).
    ///
    /// ```
    /// use cue::bgp::route::RouteTable;
    /// use cue::bgp::wire::Family;
    /// let mut t = RouteTable::default();
    /// t.parse_lines("10.0.0.2 med 1\n10.0.0.1 med 2\n10.0.0.3 med 1\n192.0.2.1\n").unwrap();
    /// let s = t.sort();
    /// assert_eq!(s.len(), 4);
    /// let groups: Vec<Vec<String>> = s
    ///     .groups(Family::Ipv4Unicast)
    ///     .map(|(_, prefixes)| prefixes.map(|p| p.to_string()).collect())
    ///     .collect();
    /// assert_eq!(groups, [vec!["10.0.0.1/32"], vec!["10.0.0.2/32", "10.0.0.3/32"]]);
    /// assert_eq!(s.plain(Family::Ipv4Unicast), ["192.0.2.1/32".parse().unwrap()]);
    /// ```
    pub fn sort(self) -> SortedRoutes {
        let mut sorted = self.sorted();
        sorted.group();
        sorted
    }

    /// The routes sorted, not yet grouped.
    fn sorted(self) -> SortedRoutes {
        let RouteTable {
            mut plain,
            mut own,
            sets,
            ..
        } = self;
        let sets = sets.sets;
        // Tables are often written in order: then there is nothing to sort.
        if !plain.windows(2).all(|w| w[0] <= w[1]) {
            plain.sort_unstable();
        }
        plain.dedup();
        // The last attributes of a prefix win: a stable sort, then keep
        // the last of each run, or gather its paths (ADD-PATH) when the
        // run has several path identifiers.
        if !own.windows(2).all(|w| w[0].0 <= w[1].0) {
            own.sort_by_key(|r| r.0);
        }
        let mut sets = sets;
        let mut keep = 0;
        let mut start = 0;
        for i in 0..own.len() {
            if i + 1 < own.len() && own[i + 1].0 == own[i].0 {
                continue;
            }
            if i > start {
                own[i].1 = gather_paths(&own[start..=i], &mut sets);
            }
            own.swap(keep, i);
            keep += 1;
            start = i + 1;
        }
        own.truncate(keep);
        // A prefix with attributes of its own is not sent with the
        // session's as well.
        if !own.is_empty() && !plain.is_empty() {
            let mut o = own.iter().map(|r| r.0).peekable();
            plain.retain(|p| {
                while o.next_if(|q| q < p).is_some() {}
                o.peek() != Some(p)
            });
        }
        SortedRoutes {
            plain,
            own,
            sets,
            groups: Default::default(),
            order: Vec::new(),
        }
    }
}

/// The set of a prefix given several times (`run`, in the order given):
/// the last one's when they all have the same path identifier; otherwise
/// a new set, the path with the lowest identifier carrying the others
/// ([`AttributeOverrides::additional_paths`]), the last given of each
/// identifier.
fn gather_paths(run: &[(IpNet, u32)], sets: &mut Vec<Arc<AttributeOverrides>>) -> u32 {
    let id = |n: u32| sets[n as usize].path_id.unwrap_or(0);
    let last = run[run.len() - 1].1;
    if run.iter().all(|r| id(r.1) == id(last)) {
        return last;
    }
    let mut by_id: BTreeMap<u32, u32> = BTreeMap::new();
    for r in run {
        by_id.insert(id(r.1), r.1);
    }
    let mut paths = by_id.values().map(|n| sets[*n as usize].clone());
    let first = paths.next().expect("two identifiers at least");
    let mut primary = (*first).clone();
    primary.additional_paths = paths.collect();
    sets.push(Arc::new(primary));
    sets.len() as u32 - 1
}

/// A [`RouteTable`] sorted ([`RouteTable::sort`]): each prefix once, in
/// order, and the routes of each family with attributes of their own in
/// groups that share them, in the order of their first prefix. A session
/// sends it as it is (one UPDATE run per group) while the Loc-RIB and the
/// attribute map are built from it ([`trees`](Self::trees)).
#[derive(Debug, Default)]
pub struct SortedRoutes {
    /// Routes with the session's attributes, none of them in `own`.
    plain: Vec<IpNet>,
    /// Routes with attributes of their own, by prefix, with the number of
    /// their set in `sets`.
    own: Vec<(IpNet, u32)>,
    sets: Vec<Arc<AttributeOverrides>>,
    /// Per family (IPv4, IPv6): the groups, each a set number and where
    /// its routes are in `order`.
    groups: [Vec<(u32, std::ops::Range<u32>)>; 2],
    /// Places in `own`, group by group.
    order: Vec<u32>,
}

impl SortedRoutes {
    /// The first route (by family, then attribute set) whose UPDATE would
    /// take more than `max` octets with the session's `params` and its own
    /// attributes ([`route_octets`](crate::bgp::wire::route_octets)), with
    /// those octets: such a route cannot be sent.
    ///
    /// ```
    /// use cue::bgp::route::RouteTable;
    /// use cue::bgp::Parameters;
    /// let mut t = RouteTable::default();
    /// let many: String = (0..1100).map(|i| format!(" community 65000:{i}")).collect();
    /// t.parse_lines(&format!("10.0.0.0/24\n10.0.1.0/24{many}\n")).unwrap();
    /// let routes = t.sort();
    /// let (prefix, octets) = routes.too_large(&Parameters::default(), 4096).unwrap();
    /// assert_eq!((prefix.to_string(), octets > 4096), ("10.0.1.0/24".to_string(), true));
    /// assert!(routes.too_large(&Parameters::default(), 65535).is_none());
    /// ```
    pub fn too_large(&self, params: &crate::bgp::Parameters, max: usize) -> Option<(IpNet, usize)> {
        let plain = route_octets_with(params, &AttributeOverrides::default());
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            if let Some(p) = self.plain(family).first().filter(|_| plain > max) {
                return Some((*p, plain));
            }
            for (o, mut prefixes) in self.groups(family) {
                let octets = route_octets_with(params, o);
                if octets > max {
                    if let Some(p) = prefixes.next() {
                        return Some((*p, octets));
                    }
                }
            }
        }
        None
    }

    /// Groups the routes of `own` by set, family by family, in one
    /// counting pass and one placing pass.
    fn group(&mut self) {
        const NONE: u32 = u32::MAX;
        let mut slot = vec![NONE; self.sets.len()];
        self.order = vec![0; self.own.len()];
        let split = self.own_of(Family::Ipv4Unicast).len();
        for (f, range) in [0..split, split..self.own.len()].into_iter().enumerate() {
            let groups = &mut self.groups[f];
            // How many routes each set has, in order of first appearance.
            let mut counts: Vec<u32> = Vec::new();
            for &(_, n) in &self.own[range.clone()] {
                let s = &mut slot[n as usize];
                if *s == NONE {
                    *s = counts.len() as u32;
                    counts.push(0);
                    groups.push((n, 0..0));
                }
                counts[*s as usize] += 1;
            }
            let mut at = range.start as u32;
            for (g, c) in groups.iter_mut().zip(&counts) {
                g.1 = at..at;
                at += c;
            }
            for i in range {
                let n = self.own[i].1 as usize;
                let g = &mut groups[slot[n] as usize].1;
                self.order[g.end as usize] = i as u32;
                g.end += 1;
            }
            for &(n, _) in groups.iter() {
                slot[n as usize] = NONE;
            }
        }
    }

    /// How many routes (distinct prefixes).
    pub fn len(&self) -> usize {
        self.plain.len() + self.own.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many routes have attributes of their own.
    pub fn with_own_attributes(&self) -> usize {
        self.own.len()
    }

    /// The lowest prefix of `family`, if any.
    pub fn first(&self, family: Family) -> Option<IpNet> {
        let own = self.own_of(family).first().map(|r| r.0);
        let plain = self.plain(family).first().copied();
        own.into_iter().chain(plain).min()
    }

    /// The routes of `family` with the session's attributes, in order.
    pub fn plain(&self, family: Family) -> &[IpNet] {
        of_family(&self.plain, family, |p| p)
    }

    fn own_of(&self, family: Family) -> &[(IpNet, u32)] {
        of_family(&self.own, family, |r| &r.0)
    }

    /// The routes of `family` with attributes of their own, in groups that
    /// share them: each group's prefixes in order, the groups in the order
    /// of their first prefix.
    pub fn groups(
        &self,
        family: Family,
    ) -> impl Iterator<
        Item = (
            &Arc<AttributeOverrides>,
            impl Iterator<Item = &IpNet> + Clone,
        ),
    > + '_ {
        let f = match family {
            Family::Ipv4Unicast => 0,
            Family::Ipv6Unicast => 1,
        };
        self.groups[f].iter().map(|(n, range)| {
            let at = &self.order[range.start as usize..range.end as usize];
            (
                &self.sets[*n as usize],
                at.iter().map(|&i| &self.own[i as usize].0),
            )
        })
    }

    /// As [`trees`](Self::trees), taking the lists: a table without routes
    /// of attributes of their own becomes its Loc-RIB without a copy.
    pub fn into_trees(self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        if self.own.is_empty() {
            return (self.plain.into_iter().collect(), BTreeMap::new());
        }
        self.trees()
    }

    /// The Loc-RIB (every prefix) and the attributes of the routes that
    /// have their own, by prefix, as [`Pool::set_routes`](crate::bgp::Pool::set_routes)
    /// takes them. A large table's two trees are built on two threads.
    pub fn trees(&self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        // Two trees of a million entries each: one per core when the
        // table is large and there is a second core.
        let parallel = self.own.len() >= PARALLEL_TREES
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        self.trees_on(parallel)
    }

    /// The trees, on two threads or on this one.
    pub(crate) fn trees_on(
        &self,
        two_threads: bool,
    ) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        let (plain, own, sets) = (&self.plain, &self.own, &self.sets);
        let rib = || {
            let mut a = plain.iter().peekable();
            let mut b = own.iter().map(|(p, _)| p).peekable();
            // Two sorted lists without a common prefix.
            let merged = std::iter::from_fn(|| match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (_, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            });
            merged.copied().collect::<BTreeSet<IpNet>>()
        };
        let attributes = || {
            own.iter()
                .map(|&(p, n)| (p, sets[n as usize].clone()))
                .collect::<BTreeMap<_, _>>()
        };
        if !two_threads {
            return (rib(), attributes());
        }
        std::thread::scope(|scope| {
            // Without a thread to spare, both here.
            let Ok(map) = std::thread::Builder::new().spawn_scoped(scope, attributes) else {
                return (rib(), attributes());
            };
            let rib = rib();
            let map = map.join().unwrap_or_else(|_| attributes());
            (rib, map)
        })
    }
}

/// The part of a sorted list of one family (IPv4 prefixes sort before
/// IPv6 ones).
fn of_family<T>(list: &[T], family: Family, prefix: impl Fn(&T) -> &IpNet) -> &[T] {
    let split = list.partition_point(|r| prefix(r).addr().is_ipv4());
    match family {
        Family::Ipv4Unicast => &list[..split],
        Family::Ipv6Unicast => &list[split..],
    }
}

/// The number of routes with attributes of their own from which the
/// Loc-RIB and the attribute map are built on two threads.
const PARALLEL_TREES: usize = 100_000;

/// [`route_octets`](crate::bgp::wire::route_octets) of a route with the
/// session's `params` and its own attributes `o` (those it adds counted on
/// top of the session's).
fn route_octets_with(params: &crate::bgp::Parameters, o: &AttributeOverrides) -> usize {
    let communities = o
        .communities
        .as_ref()
        .map_or(params.communities.len(), Vec::len);
    let large = o
        .large_communities
        .as_ref()
        .map_or(params.large_communities.len(), Vec::len);
    let asns: usize = o
        .as_path
        .as_ref()
        .map_or(0, |p| p.segments.iter().map(|s| s.asns.len()).sum());
    crate::bgp::wire::route_octets(
        communities + o.add_communities.len(),
        large + o.add_large_communities.len(),
        params.ext_communities.len() + o.ext_communities.len(),
        asns + usize::from(o.prepend),
        o.other.iter().map(|r| 4 + r.value.len()).sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of random routes, some written twice, some with the
    /// session's attributes and with their own, sorted and grouped: the
    /// groups and the plain lists are the trees, family by family.
    #[test]
    fn sorted_groups_are_the_trees() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let mut text = String::new();
        for _ in 0..20_000 {
            let v4 = next(2) == 0;
            let host = next(3_000);
            let prefix = if v4 {
                format!("10.0.{}.{}", host / 256, host % 256)
            } else {
                format!("fd00::{host:x}")
            };
            match next(4) {
                0 => text.push_str(&format!("{prefix}\n")),
                k => text.push_str(&format!("{prefix} med {}\n", next(40) * k)),
            }
        }
        let table = || {
            let mut t = RouteTable::default();
            t.parse_lines(&text).unwrap();
            t
        };
        let sorted = table().sort();
        let (rib, map) = sorted.trees();
        assert_eq!((rib.clone(), map.clone()), table().finish());
        assert_eq!(sorted.len(), rib.len());
        assert_eq!(sorted.with_own_attributes(), map.len());
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let of_family: Vec<IpNet> = crate::bgp::rib::family_range(&rib, family)
                .copied()
                .collect();
            assert_eq!(sorted.first(family), of_family.first().copied());
            let mut seen: Vec<IpNet> = sorted.plain(family).to_vec();
            assert!(seen.iter().all(|p| !map.contains_key(p)));
            assert!(seen.windows(2).all(|w| w[0] < w[1]));
            let mut sets = Vec::new();
            let mut firsts = Vec::new();
            for (o, prefixes) in sorted.groups(family) {
                let prefixes: Vec<IpNet> = prefixes.copied().collect();
                firsts.push(prefixes[0]);
                assert!(prefixes.windows(2).all(|w| w[0] < w[1]));
                for p in &prefixes {
                    assert!(Arc::ptr_eq(&map[p], o), "{p}");
                }
                sets.push(Arc::as_ptr(o));
                seen.extend(prefixes);
            }
            // One group per set, in the order of their first prefix.
            let mut distinct = sets.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), sets.len());
            assert!(firsts.windows(2).all(|w| w[0] < w[1]));
            seen.sort();
            assert_eq!(seen, of_family);
        }
    }
}
