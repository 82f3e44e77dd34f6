//! The tokio driver of one BGP session: socket, timers and channels around
//! the sans-IO [`Fsm`].

use super::config::{is_link_local, Parameters, PeerConfig, PeerConfigError};
use super::event::{Direction, Event, PeerStatus, PrefixList, ReceivedRoute};
use super::fsm::{Action, CloseReason, Fsm, FsmConfig, Negotiated};
use super::rib::{adj_rib_out, delta, AdjRibIn, LocRib, RouteAttributes};
use super::wire::{
    self, AsPath, DecodeError, Family, Message, Notification, Origin, PathAttributes, UpdateBuilder,
};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};

/// Where events go: the embedder holds the receiving end.
pub type EventSender = mpsc::UnboundedSender<Event>;

/// A running session: dials (or waits for) its peer, reconnects after
/// failures, and advertises the shared Loc-RIB.
#[derive(Debug)]
pub struct Session {
    config: PeerConfig,
    status: Arc<Mutex<PeerStatus>>,
    adj_rib_in: Arc<Mutex<AdjRibIn>>,
    parameters: watch::Sender<Parameters>,
    stop: watch::Sender<bool>,
    incoming: mpsc::Sender<TcpStream>,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Starts a session, once `config` passes [`PeerConfig::validate`].
    /// `loc_rib` is the shared Loc-RIB; events go to `events`. Must be
    /// called within a tokio runtime.
    pub fn spawn(
        config: PeerConfig,
        loc_rib: watch::Receiver<LocRib>,
        events: EventSender,
    ) -> Result<Session, PeerConfigError> {
        config.validate()?;
        let name = config.name();
        let status = Arc::new(Mutex::new(PeerStatus::new(name.clone(), config.local_as)));
        let adj_rib_in = Arc::new(Mutex::new(AdjRibIn::default()));
        let (parameters, params_rx) = watch::channel(config.parameters.clone());
        let (stop, stop_rx) = watch::channel(false);
        let (incoming, incoming_rx) = mpsc::channel(1);
        let fsm = Fsm::new(FsmConfig {
            local_as: config.local_as,
            router_id: config.router_id,
            hold_time: config.hold_time,
            peer_as: config.peer_as,
            families: config.families(),
        });
        let driver = Driver {
            name,
            config: config.clone(),
            fsm,
            status: status.clone(),
            adj_rib_in: adj_rib_in.clone(),
            loc_rib,
            params: params_rx,
            stop: stop_rx,
            incoming: incoming_rx,
            events,
        };
        let task = tokio::spawn(driver.run());
        Ok(Session {
            config,
            status,
            adj_rib_in,
            parameters,
            stop,
            incoming,
            task,
        })
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// A snapshot of the status.
    pub fn status(&self) -> PeerStatus {
        lock(&self.status).clone()
    }

    /// The routes the peer advertised to us, in prefix order.
    pub fn adj_rib_in(&self) -> Vec<(IpNet, Arc<RouteAttributes>)> {
        lock(&self.adj_rib_in)
            .routes()
            .map(|(p, a)| (*p, a.clone()))
            .collect()
    }

    /// Changes attributes, next hops or filters; an established session
    /// sends the difference at once. Refused parameters change nothing.
    pub fn set_parameters(&mut self, parameters: Parameters) -> Result<(), PeerConfigError> {
        parameters.validate()?;
        self.config.parameters = parameters.clone();
        self.parameters.send_replace(parameters);
        Ok(())
    }

    /// Hands an accepted connection to a passive session. Returns the
    /// stream back when the session cannot take it now.
    pub fn offer(&self, stream: TcpStream) -> Result<(), TcpStream> {
        self.incoming.try_send(stream).map_err(|e| match e {
            mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s) => s,
        })
    }

    /// Whether the session task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Sends any Loc-RIB change still pending, then Cease / Administrative
    /// Shutdown when connected; closes, waits for the task to end and
    /// returns the final status.
    pub async fn stop(self) -> PeerStatus {
        self.stop.send_replace(true);
        let _ = self.task.await;
        lock(&self.status).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Driver {
    name: String,
    config: PeerConfig,
    fsm: Fsm,
    status: Arc<Mutex<PeerStatus>>,
    adj_rib_in: Arc<Mutex<AdjRibIn>>,
    loc_rib: watch::Receiver<LocRib>,
    params: watch::Receiver<Parameters>,
    stop: watch::Receiver<bool>,
    incoming: mpsc::Receiver<TcpStream>,
    events: EventSender,
}

/// What an established connection has sent so far.
struct Advertised {
    negotiated: Negotiated,
    local: SocketAddr,
    rib: LocRib,
    params: Parameters,
}

/// Prefixes encoded per write, so that a large RIB is sent in bounded
/// buffers.
const PREFIXES_PER_WRITE: usize = 16 * 1024;

impl Driver {
    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    fn trace(&self, direction: Direction, message: String) {
        self.emit(Event::Message {
            peer: self.name.clone(),
            direction,
            message,
        });
    }

    fn set_error(&self, error: String) {
        lock(&self.status).last_error = error;
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        loop {
            if self.stopping() {
                break;
            }
            let actions = self.fsm.connecting(!self.config.passive);
            self.apply_states(&actions);
            let stream = if self.config.passive {
                tokio::select! {
                    s = self.incoming.recv() => match s {
                        Some(s) => s,
                        None => break,
                    },
                    _ = self.stop.changed() => break,
                }
            } else {
                lock(&self.status).counters.attempts += 1;
                let result = tokio::select! {
                    r = connect(&self.config) => r,
                    _ = self.stop.changed() => break,
                };
                match result {
                    Ok(s) => s,
                    Err(e) => {
                        let msg = format!("connect to {}: {e}", self.config.address);
                        self.set_error(msg.clone());
                        self.emit(Event::Error {
                            peer: self.name.clone(),
                            error: msg,
                        });
                        let actions = self.fsm.reset();
                        self.apply_states(&actions);
                        if !self.retry_wait().await {
                            break;
                        }
                        continue;
                    }
                }
            };
            lock(&self.status).counters.connections += 1;
            let (reason, requested) = match self.run_connection(stream).await {
                Ok(r) => r,
                Err(e) => (format!("connection error: {e}"), false),
            };
            let actions = self.fsm.reset();
            self.apply_states(&actions);
            lock(&self.adj_rib_in).clear();
            {
                let mut s = lock(&self.status);
                s.received = 0;
                s.counters.current = 0;
                s.adj_rib_out = PrefixList::List(vec![]);
                if !requested {
                    s.last_error = reason.clone();
                }
            }
            self.emit(Event::Down {
                peer: self.name.clone(),
                requested,
                reason,
            });
            if requested || self.stopping() {
                break;
            }
            if !self.config.passive && !self.retry_wait().await {
                break;
            }
        }
        let actions = self.fsm.reset();
        self.apply_states(&actions);
    }

    /// Waits the connect-retry delay plus jitter; false when stopped.
    async fn retry_wait(&mut self) -> bool {
        // Never a tight loop, whatever the embedder configured.
        let base = self
            .config
            .connect_retry
            .max(super::config::MIN_CONNECT_RETRY);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
        tokio::select! {
            _ = tokio::time::sleep(base + jitter) => true,
            _ = self.stop.changed() => false,
        }
    }

    fn apply_states(&self, actions: &[Action]) {
        for a in actions {
            if let Action::StateChange(state) = a {
                {
                    let mut s = lock(&self.status);
                    s.state = *state;
                    s.since = SystemTime::now();
                }
                self.emit(Event::State {
                    peer: self.name.clone(),
                    state: *state,
                });
            }
        }
    }

    /// Runs one connection until it closes. Returns why, and whether the
    /// embedder asked for it.
    async fn run_connection(&mut self, stream: TcpStream) -> std::io::Result<(String, bool)> {
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr()?;
        lock(&self.status).local_ip = Some(local.ip());
        let (rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel(256);
        let reader = tokio::spawn(read_frames(rd, tx));
        let mut adv: Option<Advertised> = None;
        let mut requested = false;
        let actions = self.fsm.connected(Instant::now());
        let mut closed = self.perform(actions, &mut wr, &mut adv, local).await?;
        let mut params = self.params.clone();
        let mut loc = self.loc_rib.clone();
        params.mark_unchanged();
        loc.mark_unchanged();
        while closed.is_none() {
            let deadline = self.fsm.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            let established = adv.is_some();
            let actions = tokio::select! {
                biased;
                frame = rx.recv() => match frame {
                    Some(Ok(bytes)) => {
                        let msg = Message::decode(&bytes, self.fsm.decode_context());
                        if self.config.trace {
                            let summary = match &msg {
                                Ok(m) => m.summary(),
                                Err(e) => format!("malformed ({e}): {}", wire::hex(&bytes)),
                            };
                            self.trace(Direction::Received, summary);
                        }
                        if let Ok(Message::Notification(n)) = &msg {
                            self.emit(Event::notification(&self.name, Direction::Received, n));
                        }
                        self.fsm.received(msg, Instant::now())
                    }
                    Some(Err(e)) => {
                        if self.config.trace {
                            self.trace(Direction::Received, format!("malformed header ({e})"));
                        }
                        self.fsm.received(Err(e), Instant::now())
                    }
                    None => self.fsm.closed(),
                },
                _ = self.stop.changed() => {
                    requested = true;
                    // Send what changed just before the stop (an emptied
                    // Loc-RIB is withdrawn), then Cease.
                    self.sync(&mut wr, adv.as_mut(), None).await?;
                    self.fsm.stop()
                }
                _ = loc.changed(), if established => {
                    self.sync(&mut wr, adv.as_mut(), None).await?;
                    vec![]
                }
                _ = params.changed(), if established => {
                    self.sync(&mut wr, adv.as_mut(), None).await?;
                    vec![]
                }
                _ = sleep => self.fsm.poll_timers(Instant::now()),
            };
            closed = self.perform(actions, &mut wr, &mut adv, local).await?;
        }
        reader.abort();
        let _ = wr.shutdown().await;
        Ok((closed.map(|c| c.to_string()).unwrap_or_default(), requested))
    }

    /// Carries out the FSM's actions; returns the close reason when the
    /// connection must end.
    async fn perform(
        &mut self,
        actions: Vec<Action>,
        wr: &mut OwnedWriteHalf,
        adv: &mut Option<Advertised>,
        local: SocketAddr,
    ) -> std::io::Result<Option<CloseReason>> {
        let mut close = None;
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(msg) => {
                    let bytes = msg.to_bytes(self.fsm.decode_context());
                    if self.config.trace {
                        self.trace(Direction::Sent, msg.summary());
                    }
                    if let Message::Notification(n) = &msg {
                        self.emit(Event::notification(&self.name, Direction::Sent, n));
                    }
                    // A failed write of a NOTIFICATION must not hide why we
                    // are closing.
                    let r = wr.write_all(&bytes).await;
                    if !matches!(msg, Message::Notification(_)) {
                        r?;
                    }
                    self.fsm.sent(Instant::now());
                }
                Action::StateChange(_) => self.apply_states(std::slice::from_ref(&action)),
                Action::Established(n) => {
                    {
                        let mut s = lock(&self.status);
                        s.counters.established += 1;
                        s.hold_time = n.hold_time;
                        s.remote_as = n.peer_as;
                        s.remote_id = Some(n.peer_id);
                        s.families = n.families.clone();
                    }
                    *adv = Some(Advertised {
                        negotiated: *n,
                        local,
                        rib: Arc::default(),
                        params: self.params.borrow().clone(),
                    });
                    self.sync(wr, adv.as_mut(), Some(None)).await?;
                }
                Action::Received(update) => {
                    let received = lock(&self.adj_rib_in).apply(&update);
                    let held = lock(&self.adj_rib_in).len();
                    {
                        let mut s = lock(&self.status);
                        s.counters.updates_received += 1;
                        s.received = held as u64;
                    }
                    if let Some(max) = self.config.max_prefixes.filter(|&m| held > m) {
                        // RFC 4486: Cease / Maximum Number of Prefixes Reached,
                        // with the family and the limit.
                        let family = received
                            .announce
                            .first()
                            .map_or(Family::Ipv4Unicast, |(p, _)| Family::of(p.addr()));
                        let (afi, safi) = family.afi_safi();
                        let mut data = afi.to_be_bytes().to_vec();
                        data.push(safi);
                        data.extend_from_slice(&(max.min(u32::MAX as usize) as u32).to_be_bytes());
                        queue.extend(self.fsm.fail(Notification::new(6, 1, data)));
                    }
                    if !received.announce.is_empty() || !received.withdraw.is_empty() {
                        self.emit(Event::Received {
                            peer: self.name.clone(),
                            direction: Direction::Received,
                            announce: received
                                .announce
                                .into_iter()
                                .map(|(prefix, attributes)| ReceivedRoute { prefix, attributes })
                                .collect(),
                            withdraw: received.withdraw,
                        });
                    }
                }
                Action::RouteRefresh(family) => {
                    self.sync(wr, adv.as_mut(), Some(Some(family))).await?;
                }
                Action::Close(reason) => {
                    if let CloseReason::NotificationSent(_) | CloseReason::NotificationReceived(_) =
                        &reason
                    {
                        self.set_error(reason.to_string());
                    }
                    close = Some(reason);
                }
            }
        }
        Ok(close)
    }

    /// Brings the peer's Adj-RIB-Out up to date. `full` is `Some(None)` to
    /// advertise everything, `Some(Some(family))` to re-send one family
    /// (route refresh), `None` for the difference only.
    async fn sync(
        &mut self,
        wr: &mut OwnedWriteHalf,
        adv: Option<&mut Advertised>,
        full: Option<Option<Family>>,
    ) -> std::io::Result<()> {
        let Some(adv) = adv else { return Ok(()) };
        let started = Instant::now();
        let params = self.params.borrow_and_update().clone();
        let loc = self.loc_rib.borrow_and_update().clone();
        let new = adj_rib_out(&loc, &adv.negotiated.families, &params.filter);
        let attrs_changed = !params.same_attributes(&adv.params);
        let (announce, withdraw) = match full {
            Some(None) => (PrefixList::Rib(new.clone()), PrefixList::List(vec![])),
            Some(Some(family)) => (
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
            None if new.is_empty() => (PrefixList::List(vec![]), PrefixList::Rib(adv.rib.clone())),
            None if attrs_changed => (
                PrefixList::Rib(new.clone()),
                PrefixList::List(delta(&adv.rib, &new).withdraw),
            ),
            None => {
                let d = delta(&adv.rib, &new);
                (PrefixList::List(d.announce), PrefixList::List(d.withdraw))
            }
        };
        if announce.is_empty() && withdraw.is_empty() {
            adv.rib = new;
            adv.params = params;
            return Ok(());
        }
        let builder = self.builder(adv, &params);
        let tracer = self.config.trace.then(|| Tracer {
            events: self.events.clone(),
            peer: self.name.clone(),
            ctx: self.fsm.decode_context(),
        });
        let tracer = tracer.as_ref();
        let mut messages = write_chunked(wr, tracer, &withdraw, |family, chunk, buf| {
            UpdateBuilder::withdraw(family, chunk.iter().copied(), buf)
        })
        .await?;
        messages += write_chunked(wr, tracer, &announce, |family, chunk, buf| {
            builder.announce(family, chunk.iter().copied(), buf)
        })
        .await?;
        self.fsm.sent(Instant::now());
        {
            let mut s = lock(&self.status);
            s.counters.advertised += announce.len() as u64;
            s.counters.withdrawn += withdraw.len() as u64;
            s.counters.current = new.len() as u64;
            s.counters.updates_sent += messages as u64;
            s.adj_rib_out = PrefixList::Rib(new.clone());
            s.update_duration = started.elapsed();
        }
        adv.rib = new;
        adv.params = params;
        self.emit(Event::Sent {
            peer: self.name.clone(),
            direction: Direction::Sent,
            announce,
            withdraw,
        });
        Ok(())
    }

    fn builder(&self, adv: &Advertised, params: &Parameters) -> UpdateBuilder {
        let n = &adv.negotiated;
        let ibgp = n.peer_as == self.config.local_as;
        let local_ip = adv.local.ip();
        let next_hop4 = params.next_hop4.unwrap_or(match local_ip {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => self.config.router_id,
        });
        let next_hop6 = params.next_hop6.unwrap_or(match local_ip {
            IpAddr::V6(a) => a,
            IpAddr::V4(a) => a.to_ipv6_mapped(),
        });
        let as_path = if ibgp {
            AsPath::default()
        } else {
            AsPath::sequence(&[self.config.local_as])
        };
        // A 2-octet peer sees AS_TRANS in AS_PATH and the real AS in AS4_PATH.
        let as4_path = (!n.four_octet_as && as_path.has_large_as()).then(|| as_path.clone());
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(as_path),
            med: (params.med != 0).then_some(params.med),
            local_pref: ibgp.then(|| params.local_pref.unwrap_or(100)),
            communities: params.communities.clone(),
            large_communities: params.large_communities.clone(),
            as4_path,
            ..Default::default()
        };
        // Over a link-local session, a global next hop travels with our
        // link-local address (RFC 2545 section 3).
        let next_hops6: Vec<Ipv6Addr> = match local_ip {
            IpAddr::V6(ll) if is_link_local(ll) && ll != next_hop6 => vec![next_hop6, ll],
            _ => vec![next_hop6],
        };
        UpdateBuilder::new(&attrs, next_hop4, &next_hops6, self.fsm.decode_context())
    }
}

/// Encodes `list` in chunks of [`PREFIXES_PER_WRITE`] prefixes (IPv4 then
/// IPv6 within each chunk) and writes each chunk's UPDATEs, so that a large
/// RIB goes out in bounded buffers. Returns how many UPDATEs were written.
async fn write_chunked(
    wr: &mut OwnedWriteHalf,
    tracer: Option<&Tracer>,
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
        if let Some(t) = tracer {
            t.messages(&buf);
        }
        wr.write_all(&buf).await?;
    }
    Ok(messages)
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
            let _ = self.events.send(Event::Message {
                peer: self.peer.clone(),
                direction: Direction::Sent,
                message: summary,
            });
            buf = &buf[len..];
        }
    }
}

/// Dials the peer, from the source address when one is set.
async fn connect(config: &PeerConfig) -> std::io::Result<TcpStream> {
    let socket = match config.address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(src) = config.source {
        let local = match (src, config.address) {
            // A link-local source takes the peer's zone.
            (IpAddr::V6(a), SocketAddr::V6(peer)) if is_link_local(a) => {
                SocketAddr::V6(std::net::SocketAddrV6::new(a, 0, 0, peer.scope_id()))
            }
            _ => SocketAddr::new(src, 0),
        };
        socket.bind(local)?;
    }
    if let Some(key) = &config.md5_key {
        super::md5::set_key(&socket, config.address.ip(), key.as_bytes())?;
    }
    let timeout = config
        .connect_retry
        .clamp(Duration::from_secs(1), Duration::from_secs(30));
    match tokio::time::timeout(timeout, socket.connect(config.address)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection timed out",
        )),
    }
}

/// Reads the stream and forwards whole messages (or the first framing
/// error). Ends on end of stream or a read error.
async fn read_frames(mut rd: OwnedReadHalf, tx: mpsc::Sender<Result<Vec<u8>, DecodeError>>) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut start = 0;
    loop {
        loop {
            match wire::frame(&buf[start..]) {
                Ok(Some(len)) => {
                    if tx.send(Ok(buf[start..start + len].to_vec())).await.is_err() {
                        return;
                    }
                    start += len;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
        buf.drain(..start);
        start = 0;
        if buf.capacity() - buf.len() < wire::MAX_MESSAGE_LEN {
            buf.reserve(wire::MAX_MESSAGE_LEN * 4);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
