//! Bringing a peer's Adj-RIB-Out up to date: the difference from what was
//! sent, packed into UPDATEs and written in bounded buffers.

use super::connection::{Advertised, PathRib, Recording, Wr, Writer};
use super::driver::{Driver, Sync};
use super::policy::{export, export_with, ExportContext};
use super::{lock, Staged};
use crate::bgp::config::{AttributeOverrides, Overrides, Parameters};
use crate::bgp::event::{Direction, Event, EventSender, PrefixList};
use crate::bgp::rib::{adj_rib_out, delta, family_range, LocRib};
use crate::bgp::wire::{self, Family, Message, UpdateBuilder};
use ipnet::IpNet;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// Prefixes encoded per write, so that a large RIB is sent in bounded
/// buffers.
const PREFIXES_PER_WRITE: usize = 16 * 1024;

impl Driver {
    /// Brings the peer's Adj-RIB-Out up to date.
    pub(super) async fn sync(&mut self, w: &mut Writer, what: Sync) -> std::io::Result<()> {
        let Writer {
            wr, adv, recording, ..
        } = w;
        let Some(adv) = adv.as_mut() else {
            return Ok(());
        };
        if !adv.negotiated.add_path_send.is_empty() {
            return self.sync_paths(wr, recording, adv, what).await;
        }
        if what == Sync::Full {
            // A table whose trees are being built goes from its lists.
            let staged = self.staged.borrow().clone();
            if let Some(staged) = staged {
                return self.full_from_table(wr, recording, adv, &staged).await;
            }
        }
        let started = Instant::now();
        let params = self.params.borrow_and_update().clone();
        let loc = self.loc_rib.borrow_and_update().clone();
        let overrides = self.overrides.borrow_and_update().clone();
        let new = match what {
            Sync::WithdrawAll => LocRib::default(),
            _ => adj_rib_out(&loc, &adv.negotiated.families, &params.filter),
        };
        let attrs_changed = !params.same_attributes(&adv.params);
        let (announce, withdraw) = difference(what, adv, &new, attrs_changed, &overrides);
        if announce.is_empty() && withdraw.is_empty() {
            adv.rib = new;
            adv.params = params;
            adv.overrides = overrides;
            self.synced(&loc);
            return Ok(());
        }
        let tracer = self.tracer();
        let out = Out {
            tracer: tracer.as_ref(),
            recording: self.recording(recording),
        };
        let mut messages = write_chunked(wr, out, &withdraw, |family, chunk, buf| {
            UpdateBuilder::withdraw(family, chunk.iter().copied(), buf)
        })
        .await?;
        // The routes with the session's attributes, then each group of
        // routes with attributes of their own.
        let builder = self.builder(adv, &params, None);
        self.check_room(&builder, &adv.negotiated.families);
        if overrides.is_empty() {
            messages += write_chunked(wr, out, &announce, |family, chunk, buf| {
                builder.announce(family, chunk.iter().copied(), buf)
            })
            .await?;
        } else {
            // One family at a time: the peer takes the first family's
            // UPDATEs while the second is grouped (an UPDATE carries one
            // family, so nothing is less tightly packed for it).
            for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
                let (plain, groups) = group_by_attributes(of_family(&announce, family), &overrides);
                let plain = PrefixList::List(plain);
                messages += write_chunked(wr, out, &plain, |family, chunk, buf| {
                    builder.announce(family, chunk.iter().copied(), buf)
                })
                .await?;
                let groups = groups.iter().map(|(o, prefixes)| (*o, prefixes.iter()));
                messages += self
                    .write_groups(wr, out, (adv, &params), family, groups)
                    .await?;
            }
        }
        self.core.sent(Instant::now());
        let sent = Sent {
            started,
            messages,
            announce,
            withdraw,
        };
        self.advertised(adv, (new, overrides, params), sent);
        self.synced(&loc);
        Ok(())
    }

    /// Brings up to date a peer that receives several paths of a prefix
    /// (ADD-PATH): the paths of its Adj-RIB-Out by prefix and identifier,
    /// against those sent; each written with its identifier in the
    /// families where sending them was negotiated (the others get the
    /// first path of each prefix, without).
    async fn sync_paths(
        &mut self,
        wr: &mut Wr,
        recording: &mut Option<Recording>,
        adv: &mut Advertised,
        what: Sync,
    ) -> std::io::Result<()> {
        let started = Instant::now();
        let params = self.params.borrow_and_update().clone();
        let loc = self.loc_rib.borrow_and_update().clone();
        let overrides = self.overrides.borrow_and_update().clone();
        let new = match what {
            Sync::WithdrawAll => LocRib::default(),
            _ => adj_rib_out(&loc, &adv.negotiated.families, &params.filter),
        };
        let send = adv.negotiated.add_path_send;
        let paths = path_rib(&new, &overrides, send);
        let again = |k: &(IpNet, u32)| match what {
            Sync::Full => true,
            Sync::Family(f) => Family::of(k.0.addr()) == f,
            _ => !params.same_attributes(&adv.params),
        };
        let withdraw: Vec<(IpNet, u32)> = adv
            .paths
            .keys()
            .filter(|k| !paths.contains_key(k))
            .copied()
            .collect();
        let announce: Vec<PathEntry> = paths
            .iter()
            .filter(|(k, o)| again(k) || adv.paths.get(k) != Some(o))
            .collect();
        let tracer = self.tracer();
        let out = Out {
            tracer: tracer.as_ref(),
            recording: self.recording(recording),
        };
        let id = |k: &(IpNet, u32)| send.has(Family::of(k.0.addr())).then_some(k.1);
        let mut buf = Vec::new();
        let mut messages = 0;
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let gone = withdraw.iter().map(|k| (&k.0, id(k)));
            messages += UpdateBuilder::withdraw_paths(family, gone, &mut buf);
            let groups = path_groups(&announce, family, id);
            for (o, routes) in groups {
                let builder = self.builder(adv, &params, o);
                self.check_room(&builder, &[family]);
                messages += builder.announce_paths(family, routes, &mut buf);
                if buf.len() >= WRITE_SIZE {
                    out.write(wr, &buf).await?;
                    buf.clear();
                }
            }
        }
        out.write(wr, &buf).await?;
        self.core.sent(Instant::now());
        let prefixes = |list: Vec<IpNet>| {
            let mut list = list;
            list.dedup();
            PrefixList::List(list)
        };
        let sent = Sent {
            started,
            messages,
            announce: prefixes(announce.iter().map(|(k, _)| k.0).collect()),
            withdraw: prefixes(withdraw.iter().map(|k| k.0).collect()),
        };
        adv.paths = paths;
        self.advertised(adv, (new, overrides, params), sent);
        self.synced(&loc);
        Ok(())
    }

    /// The Adj-RIB-Out is up to date with the pool's `loc` (unless the
    /// session is stopping: then it was withdrawn).
    fn synced(&self, loc: &LocRib) {
        let mut s = lock(&self.status);
        s.synced = Some(loc.clone());
        drop(s);
        self.changed();
    }

    /// Sends a table whose Loc-RIB is still being built
    /// ([`Pool::set_table`](crate::bgp::Pool::set_table)) from its sorted
    /// lists, family by family: the routes with the session's attributes,
    /// then each group with attributes of its own, the export filter
    /// applied as [`adj_rib_out`] applies it. Then waits for the trees,
    /// which are what was sent.
    async fn full_from_table(
        &mut self,
        wr: &mut Wr,
        recording: &mut Option<Recording>,
        adv: &mut Advertised,
        staged: &Staged,
    ) -> std::io::Result<()> {
        let started = Instant::now();
        let params = self.params.borrow_and_update().clone();
        let tracer = self.tracer();
        let out = Out {
            tracer: tracer.as_ref(),
            recording: self.recording(recording),
        };
        let table = &staged.routes;
        let allowed = |p: &&IpNet| params.filter.allows(p);
        let mut messages = 0;
        let mut buf = Vec::new();
        let builder = self.builder(adv, &params, None);
        self.check_room(&builder, &adv.negotiated.families);
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            if !adv.negotiated.families.contains(&family) {
                continue;
            }
            for chunk in table.plain(family).chunks(PREFIXES_PER_WRITE) {
                messages += builder.announce(family, chunk.iter().filter(allowed), &mut buf);
                out.write(wr, &buf).await?;
                buf.clear();
            }
            let groups = table
                .groups(family)
                .map(|(o, prefixes)| (&**o, prefixes.filter(allowed)));
            messages += self
                .write_groups(wr, out, (adv, &params), family, groups)
                .await?;
        }
        self.core.sent(Instant::now());
        let Some((loc, overrides)) = super::built(staged.built.clone()).await else {
            return Err(std::io::Error::other(
                "the Loc-RIB of the table was not built",
            ));
        };
        let new = adj_rib_out(&loc, &adv.negotiated.families, &params.filter);
        let sent = Sent {
            started,
            messages,
            announce: PrefixList::Rib(new.clone()),
            withdraw: PrefixList::List(vec![]),
        };
        self.advertised(adv, (new, overrides, params), sent);
        self.synced(&loc);
        Ok(())
    }

    /// Writes groups of routes of `family` that share attributes of their
    /// own, each group's UPDATEs encoded with the policy for the session
    /// (`to`: what it negotiated, its parameters) and those attributes, in
    /// writes of about [`WRITE_SIZE`]. Returns how many UPDATEs went.
    async fn write_groups<'p, P: Iterator<Item = &'p IpNet>>(
        &self,
        wr: &mut Wr,
        out: Out<'_>,
        to: (&Advertised, &Parameters),
        family: Family,
        groups: impl Iterator<Item = (&'p AttributeOverrides, P)>,
    ) -> std::io::Result<usize> {
        let mut messages = 0;
        let mut buf = Vec::new();
        for (o, prefixes) in groups {
            let builder = self.builder(to.0, to.1, Some(o));
            self.check_room(&builder, &[family]);
            messages += builder.announce(family, prefixes, &mut buf);
            if buf.len() >= WRITE_SIZE {
                out.write(wr, &buf).await?;
                buf.clear();
            }
        }
        out.write(wr, &buf).await?;
        Ok(messages)
    }

    /// The trace of what is written, when asked for.
    fn tracer(&self) -> Option<Tracer> {
        let ctx = self.core.decode_context();
        // What we send carries path identifiers where we send several
        // paths, not where the peer does.
        let add_path = self.core.negotiated().map(|n| n.add_path_send);
        self.config.trace.then(|| Tracer {
            events: self.events.clone(),
            peer: self.name.clone(),
            ctx: wire::DecodeContext {
                add_path: add_path.unwrap_or_default(),
                ..ctx
            },
        })
    }

    /// The MRT recording of the connection, when on, with the negotiated
    /// AS.
    fn recording<'r>(&self, recording: &'r mut Option<Recording>) -> Option<&'r Recording> {
        if let (Some((_, peers)), Some(n)) = (recording.as_mut(), self.core.negotiated()) {
            peers.peer_as = n.peer_as;
            peers.four_octet_as = n.four_octet_as;
            peers.add_path_sent = !n.add_path_send.is_empty();
            peers.add_path_received = !n.add_path_receive.is_empty();
        }
        recording.as_ref()
    }

    /// Records what was sent: the Adj-RIB-Out (`now`: the routes, their
    /// own attributes, the parameters), the counters and the event.
    fn advertised(
        &mut self,
        adv: &mut Advertised,
        now: (LocRib, Overrides, Parameters),
        sent: Sent,
    ) {
        let (new, overrides, params) = now;
        let Sent {
            started,
            messages,
            announce,
            withdraw,
        } = sent;
        {
            let mut s = lock(&self.status);
            s.counters.advertised += announce.len() as u64;
            s.counters.withdrawn += withdraw.len() as u64;
            s.counters.current = new.len() as u64;
            s.counters.updates_sent += messages as u64;
            s.adj_rib_out = PrefixList::Rib(new.clone());
            s.update_duration = started.elapsed();
        }
        tracing::debug!(
            peer = %self.name,
            announced = announce.len(),
            withdrawn = withdraw.len(),
            updates = messages,
            "Adj-RIB-Out sent"
        );
        adv.rib = new;
        adv.params = params;
        adv.overrides = overrides;
        self.emit(Event::Sent {
            peer: self.name.clone(),
            direction: Direction::Sent,
            announce,
            withdraw,
            written: started,
        });
        self.changed();
    }

    /// The UPDATE builder of the export policy for this session, for routes
    /// with `overrides` or with the session's attributes.
    fn builder(
        &self,
        adv: &Advertised,
        params: &Parameters,
        overrides: Option<&AttributeOverrides>,
    ) -> UpdateBuilder {
        let ctx = ExportContext {
            local_as: self.config.local_as,
            router_id: self.config.router_id,
            peer_as: adv.negotiated.peer_as,
            four_octet_as: adv.negotiated.four_octet_as,
            local_ip: adv.local.ip(),
        };
        let e = match overrides {
            Some(o) => export_with(&ctx, params, o),
            None => export(&ctx, params),
        };
        UpdateBuilder::new(
            &e.attributes,
            e.next_hop4,
            &e.next_hops6,
            self.core.decode_context(),
        )
        .with_ipv4_via_ipv6(adv.negotiated.extended_next_hop)
    }
}

/// A path of a [`PathRib`].
type PathEntry<'a> = (&'a (IpNet, u32), &'a Option<Arc<AttributeOverrides>>);

/// The routes of one attribute set (`None`: the session's), each with
/// the path identifier it is written with.
type PathGroup<'a> = (
    Option<&'a AttributeOverrides>,
    Vec<(&'a IpNet, Option<u32>)>,
);

/// The paths of `announce` of `family` grouped by attribute set, in order
/// of first appearance; `id` gives the identifier each is written with.
fn path_groups<'a>(
    announce: &[PathEntry<'a>],
    family: Family,
    id: impl Fn(&(IpNet, u32)) -> Option<u32>,
) -> Vec<PathGroup<'a>> {
    let mut groups: Vec<PathGroup> = Vec::new();
    let mut index: std::collections::HashMap<usize, usize> = Default::default();
    let of_family = announce
        .iter()
        .filter(|(k, _)| Family::of(k.0.addr()) == family);
    for (k, o) in of_family {
        let o = o.as_deref();
        let key = o.map_or(0, |a| a as *const AttributeOverrides as usize);
        let at = *index.entry(key).or_insert_with(|| {
            groups.push((o, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push((&k.0, id(k)));
    }
    groups
}

/// The paths of an Adj-RIB-Out: each prefix's first path (the route's
/// own identifier, 0 without), and in the families of `send` the
/// additional paths of its attribute set.
fn path_rib(rib: &LocRib, overrides: &Overrides, send: wire::AddPathFamilies) -> PathRib {
    let mut paths = PathRib::new();
    for p in rib.iter() {
        let o = overrides.get(p);
        paths.insert((*p, o.and_then(|o| o.path_id).unwrap_or(0)), o.cloned());
        if let Some(o) = o.filter(|_| send.has(Family::of(p.addr()))) {
            for more in &o.additional_paths {
                paths.insert((*p, more.path_id.unwrap_or(0)), Some(more.clone()));
            }
        }
    }
    paths
}

/// What a sync sends (announce, withdraw): everything for a full sync or
/// one family again (route refresh); what was sent, when nothing is left
/// (shared, not copied); everything again with the withdrawals when the
/// session's attributes changed; else the difference, with the routes that
/// stay whose own attributes changed.
fn difference(
    what: Sync,
    adv: &Advertised,
    new: &LocRib,
    attrs_changed: bool,
    overrides: &Overrides,
) -> (PrefixList, PrefixList) {
    let (mut announce, withdraw) = match what {
        Sync::Full => (PrefixList::Rib(new.clone()), PrefixList::List(vec![])),
        Sync::Family(family) => (
            PrefixList::List(
                new.iter()
                    .filter(|p| Family::of(p.addr()) == family)
                    .copied()
                    .collect(),
            ),
            PrefixList::List(vec![]),
        ),
        // Everything goes (an emptied Loc-RIB, or a stop): withdraw what
        // was sent, shared rather than copied.
        Sync::Delta | Sync::WithdrawAll if new.is_empty() => {
            (PrefixList::List(vec![]), PrefixList::Rib(adv.rib.clone()))
        }
        Sync::Delta | Sync::WithdrawAll if attrs_changed => (
            PrefixList::Rib(new.clone()),
            PrefixList::List(delta(&adv.rib, new).withdraw),
        ),
        Sync::Delta | Sync::WithdrawAll => {
            let d = delta(&adv.rib, new);
            (PrefixList::List(d.announce), PrefixList::List(d.withdraw))
        }
    };
    // Routes that stay whose own attributes changed go again.
    if let PrefixList::List(list) = &mut announce {
        let again = changed_overrides(&adv.overrides, overrides, &adv.rib, new);
        if !again.is_empty() {
            list.extend(again);
            list.sort_unstable();
            list.dedup();
        }
    }
    (announce, withdraw)
}

/// Prefixes advertised before and still advertised whose attributes of
/// their own changed (given, taken away or replaced).
fn changed_overrides(
    old: &Overrides,
    new: &Overrides,
    old_rib: &LocRib,
    new_rib: &LocRib,
) -> Vec<IpNet> {
    if std::sync::Arc::ptr_eq(old, new) || (old.is_empty() && new.is_empty()) {
        return Vec::new();
    }
    old.keys()
        .chain(new.keys())
        .filter(|p| old.get(*p) != new.get(*p))
        .filter(|p| old_rib.contains(*p) && new_rib.contains(*p))
        .copied()
        .collect()
}

/// The prefixes of `list` of one family, in order (a range of the tree
/// when it is the Loc-RIB: IPv4 prefixes sort before IPv6 ones).
fn of_family(list: &PrefixList, family: Family) -> Box<dyn Iterator<Item = &IpNet> + Send + '_> {
    match list {
        PrefixList::Rib(r) => Box::new(family_range(r, family)),
        PrefixList::List(l) => Box::new(l.iter().filter(move |p| Family::of(p.addr()) == family)),
    }
}

/// The prefixes of `list` with the session's attributes, and those with
/// attributes of their own in groups that share them (one group per shared
/// `Arc`, in order of first appearance). One pass over both sorted lists.
fn group_by_attributes<'a, 'l>(
    list: impl Iterator<Item = &'l IpNet>,
    overrides: &'a Overrides,
) -> (Vec<IpNet>, Vec<(&'a AttributeOverrides, Vec<IpNet>)>) {
    let mut plain = Vec::new();
    let mut groups: Vec<(&AttributeOverrides, Vec<IpNet>)> = Vec::new();
    let mut index: std::collections::HashMap<
        *const AttributeOverrides,
        usize,
        foldhash::fast::RandomState,
    > = Default::default();
    let mut list = list.peekable();
    // The walk of the attribute map starts where the list does.
    let Some(&&first) = list.peek() else {
        return (plain, groups);
    };
    let mut own = overrides.range(first..).peekable();
    let mut last: Option<&IpNet> = None;
    // Neighbouring routes often share a set: no lookup for those.
    let mut last_group: Option<(*const AttributeOverrides, usize)> = None;
    for p in list {
        if last.is_some_and(|l| p < l) {
            // Not in order (never so far): start the walk again from here.
            own = overrides.range(*p..).peekable();
        }
        last = Some(p);
        while own.next_if(|(k, _)| *k < p).is_some() {}
        match own.peek() {
            Some((k, o)) if *k == p => {
                let key = Arc::as_ptr(o);
                let at = match last_group {
                    Some((k, at)) if k == key => at,
                    _ => {
                        let at = *index.entry(key).or_insert_with(|| {
                            groups.push((o, Vec::new()));
                            groups.len() - 1
                        });
                        last_group = Some((key, at));
                        at
                    }
                };
                groups[at].1.push(*p);
            }
            _ => plain.push(*p),
        }
    }
    (plain, groups)
}

/// Bytes encoded before a write, for routes written in groups.
const WRITE_SIZE: usize = 256 * 1024;

/// Encodes the prefixes of `list` in chunks of [`PREFIXES_PER_WRITE`]
/// (IPv4 then IPv6 within each chunk) and writes each chunk's UPDATEs, so
/// that a large RIB goes out in bounded buffers. Returns how many UPDATEs
/// were written.
async fn write_chunked(
    wr: &mut Wr,
    out: Out<'_>,
    list: &PrefixList,
    mut encode: impl FnMut(Family, &[&IpNet], &mut Vec<u8>) -> usize,
) -> std::io::Result<usize> {
    let mut messages = 0;
    let mut buf = Vec::new();
    let mut chunk: Vec<&IpNet> = Vec::with_capacity(PREFIXES_PER_WRITE.min(list.len()));
    let mut it = list.iter().peekable();
    while it.peek().is_some() {
        chunk.clear();
        chunk.extend(it.by_ref().take(PREFIXES_PER_WRITE));
        buf.clear();
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            messages += encode(family, &chunk, &mut buf);
        }
        out.write(wr, &buf).await?;
    }
    Ok(messages)
}

impl Driver {
    /// Says when routes with `builder`'s attributes cannot be sent: they
    /// leave no room for a prefix in an UPDATE (the session's attributes
    /// and a route's own together; each alone is refused when given).
    fn check_room(&self, builder: &UpdateBuilder, families: &[Family]) {
        for family in families {
            if !builder.fits(*family) {
                let error = crate::bgp::SessionError::AttributesTooLarge {
                    octets: builder.overhead(*family),
                };
                tracing::error!(peer = %self.name, %error, "routes not sent");
                self.emit(Event::Error {
                    peer: self.name.clone(),
                    error,
                });
            }
        }
    }
}

impl Out<'_> {
    /// Shows `buf` to the trace and the recording, and writes it.
    async fn write(&self, wr: &mut Wr, buf: &[u8]) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(t) = self.tracer {
            t.messages(buf);
        }
        if let Some((recorder, peers)) = self.recording {
            recorder.record(peers, true, buf);
        }
        wr.write_all(buf).await
    }
}

/// Who else sees what is written: the trace, the MRT recording.
#[derive(Clone, Copy)]
struct Out<'a> {
    tracer: Option<&'a Tracer>,
    recording: Option<&'a Recording>,
}

/// What one sync sent.
struct Sent {
    started: Instant,
    messages: usize,
    announce: PrefixList,
    withdraw: PrefixList,
}

/// Reports the UPDATEs of an encoded buffer, one event per message.
struct Tracer {
    events: EventSender,
    peer: String,
    ctx: wire::DecodeContext,
}

impl Tracer {
    fn messages(&self, mut buf: &[u8]) {
        while let Ok(Some(len)) = wire::frame(buf) {
            let summary = match Message::decode(&buf[..len], self.ctx) {
                Ok(m) => m.summary(),
                Err(e) => format!("malformed ({e})"),
            };
            self.events.send(Event::Message {
                peer: self.peer.clone(),
                direction: Direction::Sent,
                message: summary,
            });
            buf = &buf[len..];
        }
    }
}
