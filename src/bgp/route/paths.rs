//! Changing a Loc-RIB and its attribute map route by route, ADD-PATH
//! aware: a route replaces the path of its prefix that has its path
//! identifier, and leaves the others (what `announce` and `withdraw` do).

use crate::bgp::config::AttributeOverrides;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A prefix's paths by identifier (0 for a route without one): its
/// attribute set and the set's additional paths, or the session's
/// attributes alone (an empty set) for a prefix `held` without a set.
fn paths_of(
    set: Option<&Arc<AttributeOverrides>>,
    held: bool,
) -> BTreeMap<u32, Arc<AttributeOverrides>> {
    let mut paths = BTreeMap::new();
    match set {
        Some(a) => {
            let mut first = (**a).clone();
            let more = std::mem::take(&mut first.additional_paths);
            for p in std::iter::once(Arc::new(first)).chain(more) {
                paths.insert(p.path_id.unwrap_or(0), p);
            }
        }
        None if held => {
            paths.insert(0, Arc::new(AttributeOverrides::default()));
        }
        None => {}
    }
    paths
}

/// Writes back a prefix's paths: gone when there is none, the session's
/// attributes when the one left is a route without attributes of its own,
/// else the lowest identifier carrying the others.
fn store(
    rib: &mut BTreeSet<IpNet>,
    attributes: &mut BTreeMap<IpNet, Arc<AttributeOverrides>>,
    prefix: IpNet,
    paths: BTreeMap<u32, Arc<AttributeOverrides>>,
) {
    let mut paths = paths.into_values();
    let Some(first) = paths.next() else {
        rib.remove(&prefix);
        attributes.remove(&prefix);
        return;
    };
    rib.insert(prefix);
    let more: Vec<_> = paths.collect();
    if more.is_empty() && first.is_empty() {
        attributes.remove(&prefix);
        return;
    }
    let mut first = (*first).clone();
    first.additional_paths = more;
    attributes.insert(prefix, Arc::new(first));
}

/// Adds routes (prefixes with the session's attributes, `own` those with
/// their own, as [`RouteTable::finish`](super::RouteTable::finish) gives
/// them) to a Loc-RIB and its attribute map: each replaces the path of its
/// prefix with its path identifier (0 without one) and keeps the others.
///
/// ```
/// use cue::bgp::route::{add_routes, remove_routes, RouteTable};
/// use std::collections::{BTreeMap, BTreeSet};
/// let (mut rib, mut attributes) = (BTreeSet::new(), BTreeMap::new());
/// for line in ["192.0.2.10/32 path-id 1 med 10", "192.0.2.10/32 path-id 2 med 20"] {
///     let mut t = RouteTable::default();
///     t.parse_lines(line).unwrap();
///     let (prefixes, own) = t.finish();
///     add_routes(&mut rib, &mut attributes, prefixes, &own);
/// }
/// let p = "192.0.2.10/32".parse().unwrap();
/// assert_eq!(attributes[&p].additional_paths.len(), 1, "two paths");
/// remove_routes(&mut rib, &mut attributes, &[(p, Some(1))]);
/// assert_eq!((attributes[&p].path_id, attributes[&p].med), (Some(2), Some(20)));
/// remove_routes(&mut rib, &mut attributes, &[(p, None)]);
/// assert!(rib.is_empty() && attributes.is_empty());
/// ```
pub fn add_routes(
    rib: &mut BTreeSet<IpNet>,
    attributes: &mut BTreeMap<IpNet, Arc<AttributeOverrides>>,
    prefixes: impl IntoIterator<Item = IpNet>,
    own: &BTreeMap<IpNet, Arc<AttributeOverrides>>,
) {
    for p in prefixes {
        let mut paths = paths_of(attributes.get(&p), rib.contains(&p));
        paths.extend(paths_of(own.get(&p), true));
        store(rib, attributes, p, paths);
    }
}

/// Removes routes from a Loc-RIB and its attribute map: a prefix with a
/// path identifier loses that path alone (see [`add_routes`]), one without
/// loses every path.
pub fn remove_routes(
    rib: &mut BTreeSet<IpNet>,
    attributes: &mut BTreeMap<IpNet, Arc<AttributeOverrides>>,
    routes: &[(IpNet, Option<u32>)],
) {
    for (p, id) in routes {
        let p = p.trunc();
        let mut paths = paths_of(attributes.get(&p), rib.contains(&p));
        match id {
            Some(id) => _ = paths.remove(id),
            None => paths.clear(),
        }
        store(rib, attributes, p, paths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::route::RouteTable;

    fn announce(
        rib: &mut BTreeSet<IpNet>,
        attributes: &mut BTreeMap<IpNet, Arc<AttributeOverrides>>,
        lines: &str,
    ) {
        let mut t = RouteTable::default();
        t.parse_lines(lines).unwrap();
        let (prefixes, own) = t.finish();
        add_routes(rib, attributes, prefixes, &own);
    }

    fn meds(attributes: &BTreeMap<IpNet, Arc<AttributeOverrides>>, p: &IpNet) -> Vec<(u32, u32)> {
        let a = &attributes[p];
        std::iter::once(a)
            .chain(&a.additional_paths)
            .map(|x| (x.path_id.unwrap_or(0), x.med.unwrap_or(0)))
            .collect()
    }

    #[test]
    fn paths_are_added_replaced_and_removed_one_by_one() {
        let (mut rib, mut at) = (BTreeSet::new(), BTreeMap::new());
        let p: IpNet = "10.0.0.0/24".parse().unwrap();
        announce(&mut rib, &mut at, "10.0.0.0/24 path-id 2 med 20");
        announce(&mut rib, &mut at, "10.0.0.0/24 path-id 1 med 10");
        assert_eq!(meds(&at, &p), [(1, 10), (2, 20)]);
        // The same id again: that path replaced, the other kept.
        announce(&mut rib, &mut at, "10.0.0.0/24 path-id 2 med 25");
        assert_eq!(meds(&at, &p), [(1, 10), (2, 25)]);
        // A route without an id is path 0: the session's attributes.
        announce(&mut rib, &mut at, "10.0.0.0/24");
        assert_eq!(meds(&at, &p), [(0, 0), (1, 10), (2, 25)]);
        remove_routes(&mut rib, &mut at, &[(p, Some(1)), (p, Some(2))]);
        // Path 0 alone is the prefix with the session's attributes.
        assert!(rib.contains(&p) && !at.contains_key(&p));
        // A plain route replaced by one with attributes of its own.
        announce(&mut rib, &mut at, "10.0.0.0/24 med 5");
        assert_eq!(meds(&at, &p), [(0, 5)]);
        announce(
            &mut rib,
            &mut at,
            "10.0.0.0/24 path-id 3 med 30\n10.1.0.0/24",
        );
        remove_routes(&mut rib, &mut at, &[(p, None)]);
        assert_eq!(
            rib.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["10.1.0.0/24"]
        );
        assert!(at.is_empty());
        // Removing what is not held changes nothing.
        remove_routes(&mut rib, &mut at, &[(p, Some(9))]);
        assert_eq!(rib.len(), 1);
    }
}
