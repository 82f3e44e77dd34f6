//! Draining a service before maintenance (RFC 8326): while its drain file
//! exists (or a drain is asked for), its VIP is announced with the
//! GRACEFUL_SHUTDOWN community and LOCAL_PREF 0 for the drain time, so
//! that routers move the traffic to other paths first; then it is
//! withdrawn. When the file goes, the VIP is back (if healthy).

use super::config::Config;
use crate::bgp::wire::Community;
use crate::bgp::AttributeOverrides;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// GRACEFUL_SHUTDOWN (RFC 8326), 65535:0.
pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);

/// How long a drained VIP is announced before it is withdrawn, when the
/// file does not say.
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(30);

/// How often the drain files are looked at.
pub(super) const POLL: Duration = Duration::from_millis(250);

/// What is drained, and since when.
#[derive(Debug, Default)]
pub(super) struct Drains {
    /// Drain files seen present, since when.
    files: BTreeMap<PathBuf, Instant>,
    /// A drain asked for through the API, since when.
    manual: Option<Instant>,
    /// The VIPs drained at the last look, with when each is withdrawn.
    pub(super) vips: BTreeMap<IpAddr, Instant>,
}

impl Drains {
    /// Starts or ends a drain asked for through the API.
    pub(super) fn set_manual(&mut self, on: bool, now: Instant) {
        match (on, self.manual) {
            (true, None) => self.manual = Some(now),
            (false, _) => self.manual = None,
            _ => {}
        }
    }

    /// Looks at the drain files of `config` (`exists` tells whether one is
    /// there) and works out which VIPs drain until when; whether that
    /// changed what is announced (a VIP drained or back, or one's drain
    /// time over since the last look).
    pub(super) fn update(
        &mut self,
        config: &Config,
        now: Instant,
        last: Instant,
        exists: impl Fn(&PathBuf) -> bool,
    ) -> bool {
        let files: BTreeSet<&PathBuf> = config
            .services
            .iter()
            .filter_map(|s| s.drain_file.as_ref().or(config.drain_file.as_ref()))
            .collect();
        self.files.retain(|f, _| files.contains(f) && exists(f));
        for f in files {
            if !self.files.contains_key(f) && exists(f) {
                self.files.insert(f.clone(), now);
            }
        }
        let mut vips: BTreeMap<IpAddr, Instant> = BTreeMap::new();
        for s in &config.services {
            let file = s.drain_file.as_ref().or(config.drain_file.as_ref());
            let since = [file.and_then(|f| self.files.get(f).copied()), self.manual]
                .into_iter()
                .flatten()
                .min();
            if let Some(since) = since {
                let time = s
                    .drain_time
                    .or(config.drain_time)
                    .unwrap_or(DEFAULT_DRAIN_TIME);
                let until = since + time;
                vips.entry(s.address)
                    .and_modify(|u| *u = (*u).min(until))
                    .or_insert(until);
            }
        }
        let over = |v: &BTreeMap<IpAddr, Instant>, at: Instant| -> BTreeSet<IpAddr> {
            v.iter()
                .filter(|(_, u)| **u <= at)
                .map(|(a, _)| *a)
                .collect()
        };
        let changed =
            vips.keys().ne(self.vips.keys()) || over(&vips, now) != over(&self.vips, last);
        self.vips = vips;
        changed
    }

    /// Applies the drains at `now` to what would be announced: a drained
    /// VIP goes as a backup path with GRACEFUL_SHUTDOWN and LOCAL_PREF 0
    /// (its backup attributes kept, if it had some), and not at all once
    /// its drain time is over.
    pub(super) fn apply(
        &self,
        now: Instant,
        healthy: &mut BTreeSet<IpAddr>,
        backup: &mut BTreeMap<IpAddr, AttributeOverrides>,
    ) {
        for (vip, until) in &self.vips {
            let was_healthy = healthy.remove(vip);
            let base = backup.remove(vip);
            if now >= *until || (!was_healthy && base.is_none()) {
                continue;
            }
            let mut o = base.unwrap_or_default();
            if !o.add_communities.contains(&GRACEFUL_SHUTDOWN) {
                o.add_communities.push(GRACEFUL_SHUTDOWN);
            }
            o.local_pref = Some(0);
            backup.insert(*vip, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        Config::from_json(json).unwrap()
    }

    const TWO: &str = r#"{"drain_time": "10s", "services": [
      {"address": "192.0.2.1", "port": 80, "protocol": "tcp", "drain_file": "/run/a", "drain_time": "5s",
       "destinations": [{"address": "10.0.0.1", "port": 80, "checks": [{"type": "tcp"}]}]},
      {"address": "192.0.2.2", "port": 80, "protocol": "tcp", "drain_file": "/run/b",
       "destinations": [{"address": "10.0.0.1", "port": 80, "checks": [{"type": "tcp"}]}]}]}"#;

    #[test]
    fn a_drain_file_drains_its_vip_then_withdraws_it() {
        let c = config(TWO);
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut d = Drains::default();
        let mut present: BTreeSet<PathBuf> = BTreeSet::new();
        assert!(!d.update(&c, s(0), s(0), |f| present.contains(f)));
        present.insert("/run/a".into());
        assert!(d.update(&c, s(1), s(0), |f| present.contains(f)), "drained");
        let vip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(d.vips[&vip], s(6), "its own drain time");
        // Announced with GRACEFUL_SHUTDOWN and LOCAL_PREF 0 meanwhile.
        let mut healthy: BTreeSet<IpAddr> = [vip, "192.0.2.2".parse().unwrap()].into();
        let mut backup = BTreeMap::new();
        d.apply(s(2), &mut healthy, &mut backup);
        assert_eq!(healthy.len(), 1);
        assert_eq!(backup[&vip].add_communities, vec![GRACEFUL_SHUTDOWN]);
        assert_eq!(backup[&vip].local_pref, Some(0));
        // Nothing new until the drain time is over; then withdrawn.
        assert!(!d.update(&c, s(3), s(2), |f| present.contains(f)));
        assert!(
            d.update(&c, s(6), s(3), |f| present.contains(f)),
            "time over"
        );
        let (mut healthy, mut backup) = ([vip].into(), BTreeMap::new());
        d.apply(s(6), &mut healthy, &mut backup);
        assert!(healthy.is_empty() && backup.is_empty());
        // The file goes: back.
        present.clear();
        assert!(d.update(&c, s(7), s(6), |f| present.contains(f)));
        assert!(d.vips.is_empty());
    }

    #[test]
    fn a_drain_asked_for_drains_every_service_and_keeps_backup_attributes() {
        let c = config(TWO);
        let t0 = Instant::now();
        let mut d = Drains::default();
        d.set_manual(true, t0);
        assert!(d.update(&c, t0, t0, |_| false));
        assert_eq!(d.vips.len(), 2);
        assert_eq!(
            d.vips[&"192.0.2.2".parse().unwrap()],
            t0 + Duration::from_secs(10)
        );
        // A VIP down with a backup path keeps its attributes, drained.
        let vip: IpAddr = "192.0.2.2".parse().unwrap();
        let mut backup: BTreeMap<IpAddr, AttributeOverrides> = [(
            vip,
            AttributeOverrides {
                med: Some(500),
                ..Default::default()
            },
        )]
        .into();
        let mut healthy = BTreeSet::new();
        d.apply(t0, &mut healthy, &mut backup);
        assert_eq!(backup[&vip].med, Some(500));
        assert_eq!(backup[&vip].local_pref, Some(0));
        // A VIP neither healthy nor a backup stays away.
        assert!(!backup.contains_key(&"192.0.2.1".parse().unwrap()));
        d.set_manual(false, t0);
        assert!(d.update(&c, t0, t0, |_| false));
        assert!(d.vips.is_empty());
    }
}
