//! Checking the routes received against routes expected present or
//! absent (`--expect`, `expect`, `listen --expect`).

use super::syntax::{AttributeSpec, RouteSpec};
use crate::bgp::rib::RouteAttributes;
use ipnet::IpNet;

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
        let opt = |v: Option<u32>| v.map_or("none".to_string(), |v| v.to_string());
        if let Some(nh) = self.next_hop {
            if route.next_hop != Some(nh) && route.link_local != Some(nh) {
                let got = route.next_hop.map_or("none".to_string(), |n| n.to_string());
                d.push(format!("next-hop {nh}, got {got}"));
            }
        }
        if let Some(o) = self.origin {
            if route.origin != Some(o) {
                let got = route.origin.map_or("none".to_string(), |o| o.to_string());
                d.push(format!("origin {o}, got {got}"));
            }
        }
        if let Some(path) = &self.as_path {
            let got: Vec<u32> = route
                .as_path
                .segments
                .iter()
                .flat_map(|s| s.asns.iter().copied())
                .collect();
            if *path != got || route.as_path.segments.len() > 1 {
                let want: Vec<String> = path.iter().map(|a| a.to_string()).collect();
                d.push(format!("as-path {}, got {}", want.join(" "), route.as_path));
            }
        }
        if self.med.is_some() && self.med != route.med {
            d.push(format!("med {}, got {}", opt(self.med), opt(route.med)));
        }
        if self.local_pref.is_some() && self.local_pref != route.local_pref {
            d.push(format!(
                "local-pref {}, got {}",
                opt(self.local_pref),
                opt(route.local_pref)
            ));
        }
        for c in &self.communities {
            if !route.communities.contains(c) {
                d.push(format!("community {c} missing"));
            }
        }
        for c in &self.large_communities {
            if !route.large_communities.contains(c) {
                d.push(format!("large-community {c} missing"));
            }
        }
        for c in &self.ext_communities {
            if !route.ext_communities.contains(c) {
                d.push(format!("ext-community {c} missing"));
            }
        }
        d
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
        let Some(got) = by_prefix.get(&want.prefix) else {
            report.missing.push(want.to_string());
            continue;
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::wire::{AsPath, Origin};

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
