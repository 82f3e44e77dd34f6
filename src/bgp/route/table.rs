//! A table of routes to advertise, with their attribute sets interned.

use super::syntax::{AttributeSpec, RouteSpec};
use crate::bgp::config::AttributeOverrides;
use crate::bgp::wire::AsPath;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Routes to advertise, each with the attributes written for it: what
/// `--advertise-file` and `announce` build. Attribute sets are interned:
/// routes written with the same attributes share one
/// [`AttributeOverrides`], and so go out in the same UPDATEs.
///
/// ```
/// use cue::bgp::route::RouteTable;
/// let mut t = RouteTable::default();
/// t.parse_lines("10.0.0.0/24 med 10\n10.1.0.0/24 med 10\n192.0.2.1\n").unwrap();
/// let (rib, attributes) = t.finish();
/// assert_eq!(rib.len(), 3);
/// assert_eq!(attributes.len(), 2);
/// let a = &attributes[&"10.0.0.0/24".parse().unwrap()];
/// assert!(std::sync::Arc::ptr_eq(a, &attributes[&"10.1.0.0/24".parse().unwrap()]));
/// let e = RouteTable::default().parse_lines("10.0.0.1\n10.0.0.2 med\n").unwrap_err();
/// assert_eq!(e.to_string(), "line 2, column 10: 10.0.0.2/32: med needs a value");
/// ```
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Routes with the session's attributes.
    pub(super) plain: Vec<IpNet>,
    /// Routes with attributes of their own: the number of their set in
    /// `sets.sets` (a number, not an `Arc`, so that the parser threads
    /// touch no shared counter for each line).
    pub(super) own: Vec<(IpNet, u32)>,
    /// Attribute sets by the text they were written as (looked up once a
    /// line: a fast hash), with the next hop to check a line against.
    pub(super) by_text: Texts,
    pub(super) sets: Sets,
}

/// Attribute sets by the text they were written as (see `RouteTable`).
pub(super) type Texts = HashMap<String, (u32, Option<IpAddr>), foldhash::fast::RandomState>;

/// The distinct attribute sets of a table, numbered, and how to find one
/// by value or by the shared pointer it came as.
#[derive(Debug, Default)]
pub(super) struct Sets {
    pub(super) sets: Vec<Arc<AttributeOverrides>>,
    by_value: HashMap<Arc<AttributeOverrides>, u32, foldhash::fast::RandomState>,
    by_pointer: HashMap<usize, u32, foldhash::fast::RandomState>,
}

impl Sets {
    /// The number of the set equal to `a`, made if there is none.
    pub(super) fn intern(&mut self, a: AttributeOverrides) -> u32 {
        if let Some(&n) = self.by_value.get(&a) {
            return n;
        }
        let n = self.sets.len() as u32;
        let shared = Arc::new(a);
        self.by_value.insert(shared.clone(), n);
        self.sets.push(shared);
        n
    }

    /// The number of a set that is already shared: the same pointer, the
    /// same number.
    pub(super) fn shared(&mut self, a: &Arc<AttributeOverrides>) -> u32 {
        let key = Arc::as_ptr(a) as usize;
        if let Some(&n) = self.by_pointer.get(&key) {
            return n;
        }
        let n = self.sets.len() as u32;
        self.by_pointer.insert(key, n);
        self.sets.push(a.clone());
        n
    }
}

impl RouteTable {
    /// Adds one route. A prefix added more than once takes the attributes
    /// of the last time it was added with any.
    pub fn push(&mut self, prefix: IpNet, attributes: Option<AttributeOverrides>) {
        let prefix = prefix.trunc();
        match attributes.filter(|a| !a.is_empty()) {
            Some(a) => {
                let n = self.sets.intern(a);
                self.own.push((prefix, n));
            }
            None => self.plain.push(prefix),
        }
    }

    /// Adds a route with an attribute set that is already shared (one
    /// read from an MRT file, say): it is taken as it is, not looked up.
    pub fn push_shared(&mut self, prefix: IpNet, attributes: Arc<AttributeOverrides>) {
        let n = self.sets.shared(&attributes);
        self.own.push((prefix.trunc(), n));
    }

    /// Adds routes whose attribute sets are already shared, as
    /// [`push_shared`](Self::push_shared) does one (a run of routes with
    /// the same set is numbered with one lookup).
    pub fn extend_shared(&mut self, routes: Vec<(IpNet, Arc<AttributeOverrides>)>) {
        self.own.reserve(routes.len());
        // Neighbouring routes often share their set: no lookup for those.
        let mut last: Option<(usize, u32)> = None;
        for (prefix, a) in routes {
            let n = match last {
                Some((p, n)) if p == Arc::as_ptr(&a) as usize => n,
                _ => {
                    let n = self.sets.shared(&a);
                    last = Some((Arc::as_ptr(&a) as usize, n));
                    n
                }
            };
            self.own.push((prefix.trunc(), n));
        }
    }

    /// Adds a route written as text ([`RouteSpec`]), checked as
    /// [`RouteTable::parse_lines`] checks a line.
    pub fn push_spec(&mut self, route: &RouteSpec) -> Result<(), super::RouteError> {
        route.check_announce()?;
        let o = AttributeOverrides::from_spec(&route.attributes);
        self.push(route.prefix, Some(o));
        Ok(())
    }

    /// How many routes were added (a prefix added twice counts twice).
    pub fn len(&self) -> usize {
        self.plain.len() + self.own.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many distinct attribute sets the routes have (besides the
    /// session's).
    pub fn attribute_sets(&self) -> usize {
        self.sets.sets.len()
    }
}

/// The attribute set of a route written as text.
impl AttributeOverrides {
    /// The overrides for the attributes written in `spec`: what it states
    /// replaces the session's (communities of a kind included), the rest is
    /// the session's.
    ///
    /// ```
    /// use cue::bgp::AttributeOverrides;
    /// let o = AttributeOverrides::from_spec(&"med 10 as-path 65010".parse().unwrap());
    /// assert_eq!(o.med, Some(10));
    /// assert_eq!(o.as_path.unwrap().to_string(), "65010");
    /// assert_eq!(o.communities, None, "the session's");
    /// ```
    pub fn from_spec(spec: &AttributeSpec) -> AttributeOverrides {
        AttributeOverrides {
            path_id: spec.path_id,
            next_hop: spec.next_hop,
            origin: spec.origin,
            as_path: spec.as_path.as_deref().map(AsPath::sequence),
            med: spec.med,
            local_pref: spec.local_pref,
            communities: (!spec.communities.is_empty()).then(|| spec.communities.clone()),
            large_communities: (!spec.large_communities.is_empty())
                .then(|| spec.large_communities.clone()),
            ext_communities: spec.ext_communities.clone(),
            ..Default::default()
        }
    }
}
