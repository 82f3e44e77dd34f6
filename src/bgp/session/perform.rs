//! Carrying out the core's [`Step`]s on a connection: messages written
//! (traced, recorded, logged), the Adj-RIB-Out sent, what the peer sent
//! reported, each write within the core's bound.

use super::connection::{Advertised, Connection, WriteGuard, Writer};
use super::driver::{Driver, Sync};
use super::lock;
use crate::bgp::config::Overrides;
use crate::bgp::core::Step;
use crate::bgp::error::SessionError;
use crate::bgp::event::{Direction, Event, ReceivedRoute};
use crate::bgp::fsm::Negotiated;
use crate::bgp::rib::Received;
use crate::bgp::wire::{self, Message};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

impl Driver {
    /// A bound for the next write to the peer: the core's, and a stop
    /// unless this is the stop's own write.
    fn guard(&self, w: &Writer) -> WriteGuard {
        WriteGuard {
            stop: (!self.core.stopping()).then(|| self.stop.clone()),
            bound: self.core.write_bound(),
            progress: w.wr.progress(),
        }
    }

    /// Why a write cut short by its bound ends the connection.
    fn cut_short(&self, e: SessionError) -> SessionError {
        match self.core.stopping() {
            true => SessionError::LocalStop,
            false => e,
        }
    }

    /// Carries out `steps` within the write bound; returns why the
    /// connection must end, when it must.
    pub(super) async fn bounded(
        &mut self,
        conn: &mut Connection,
        steps: Vec<Step>,
    ) -> Option<SessionError> {
        if steps.is_empty() {
            return None;
        }
        let guard = self.guard(&conn.writer);
        let Connection { reader, writer } = conn;
        match guard.run(reader, self.perform(steps, writer)).await {
            Ok(closed) => closed,
            Err(e) => Some(self.cut_short(e)),
        }
    }

    /// Sends what changed in the Adj-RIB-Out within the write bound.
    pub(super) async fn sync_bounded(
        &mut self,
        conn: &mut Connection,
        what: Sync,
    ) -> Option<SessionError> {
        let guard = self.guard(&conn.writer);
        let Connection { reader, writer } = conn;
        match guard.run(reader, self.sync(writer, what)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(SessionError::Write(e.into())),
            Err(e) => Some(self.cut_short(e)),
        }
    }

    /// Writes raw bytes ([`Session::send_raw`](super::Session::send_raw))
    /// within the write bound.
    pub(super) async fn write_raw(
        &mut self,
        conn: &mut Connection,
        bytes: Vec<u8>,
    ) -> Option<SessionError> {
        if self.config.trace {
            self.trace(Direction::Sent, format!("raw {}", wire::hex(&bytes)));
        }
        tracing::info!(peer = %self.name, len = bytes.len(), "raw bytes sent");
        conn.writer.record(true, &bytes, self.core.negotiated());
        let guard = self.guard(&conn.writer);
        match guard
            .run(&mut conn.reader, conn.writer.wr.write_all(&bytes))
            .await
        {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(SessionError::Write(e.into())),
            Err(e) => Some(self.cut_short(e)),
        }
    }

    /// The context for decoding the peer's messages: RFC 7606 error
    /// handling unless the configuration asks for RFC 4271 alone.
    fn decode_context(&self) -> wire::DecodeContext {
        wire::DecodeContext {
            strict: self.config.strict_errors,
            ..self.core.decode_context()
        }
    }

    /// Decodes the message of `len` bytes at the front of the read buffer
    /// and hands it to the core.
    pub(super) fn received(&mut self, conn: &mut Connection, len: usize) -> Vec<Step> {
        let bytes = conn.reader.message(len);
        conn.writer.record(false, bytes, self.core.negotiated());
        let msg = Message::decode(bytes, self.decode_context());
        if self.config.trace {
            let summary = match &msg {
                Ok(m) => m.summary(),
                Err(e) => format!("malformed ({e}): {}", wire::hex(bytes)),
            };
            self.trace(Direction::Received, summary);
        }
        match &msg {
            Ok(Message::Notification(n)) => {
                self.notified(Direction::Received, n);
            }
            Err(e) => {
                tracing::warn!(peer = %self.name, error = %e, "malformed message received");
            }
            _ => {}
        }
        self.core.received(msg, Instant::now())
    }

    /// Carries out the core's steps; returns why the connection must end,
    /// when it must.
    async fn perform(&mut self, steps: Vec<Step>, w: &mut Writer) -> Option<SessionError> {
        let mut close = None;
        for step in steps {
            let written = match step {
                Step::Send(msg) => self.send(w, msg).await,
                Step::Established(n) => {
                    self.established(w, *n);
                    self.sync(w, Sync::Full).await
                }
                Step::RouteRefresh(family) => {
                    tracing::debug!(peer = %self.name, %family, "route refresh");
                    self.sync(w, Sync::Family(family)).await
                }
                Step::WithdrawAll => self.sync(w, Sync::WithdrawAll).await,
                Step::Received {
                    update,
                    change,
                    held,
                } => {
                    self.routes_received(&update, change, held);
                    Ok(())
                }
                Step::Close(reason) => {
                    close = Some(reason);
                    Ok(())
                }
                other => {
                    self.idle_steps(vec![other]);
                    Ok(())
                }
            };
            if let Err(e) = written {
                return Some(SessionError::Write(e.into()));
            }
        }
        close
    }

    /// Writes one message. A failed write of a NOTIFICATION must not hide
    /// why we are closing: it is not an error.
    async fn send(&mut self, w: &mut Writer, msg: Message) -> std::io::Result<()> {
        let bytes = msg.to_bytes(self.core.decode_context());
        if self.config.trace {
            self.trace(Direction::Sent, msg.summary());
        }
        let notification = matches!(msg, Message::Notification(_));
        if let Message::Notification(n) = &msg {
            self.notified(Direction::Sent, n);
        }
        w.record(true, &bytes, self.core.negotiated());
        match w.wr.write_all(&bytes).await {
            Err(_) if notification => Ok(()),
            Err(e) => Err(e),
            Ok(()) => {
                self.core.sent(Instant::now());
                Ok(())
            }
        }
    }

    /// The session came up: the status says so, and the connection's
    /// Adj-RIB-Out starts empty.
    fn established(&mut self, w: &mut Writer, n: Negotiated) {
        {
            let mut s = lock(&self.status);
            s.counters.established += 1;
            s.hold_time = n.hold_time;
            s.remote_as = n.peer_as;
            s.remote_id = Some(n.peer_id);
            s.families = n.families.clone();
        }
        tracing::info!(
            peer = %self.name,
            remote_as = n.peer_as,
            hold_time = n.hold_time,
            "session established"
        );
        w.adv = Some(Advertised {
            negotiated: n,
            local: w.local,
            rib: Arc::default(),
            overrides: Overrides::default(),
            params: self.params.borrow().clone(),
            paths: Default::default(),
        });
    }

    /// An UPDATE applied to the Adj-RIB-In: what RFC 7606 did with its
    /// malformed parts, the counters, and an event when routes changed.
    fn routes_received(&self, update: &wire::Update, change: Received, held: usize) {
        self.report_malformed(update);
        {
            let mut s = lock(&self.status);
            s.counters.updates_received += 1;
            s.counters.updates_malformed += !update.errors.is_empty() as u64;
            s.received = held as u64;
        }
        if change.announce.is_empty() && change.withdraw.is_empty() {
            return;
        }
        self.emit(Event::Received {
            peer: self.name.clone(),
            direction: Direction::Received,
            announce: change
                .announce
                .into_iter()
                .map(|(prefix, attributes)| ReceivedRoute { prefix, attributes })
                .collect(),
            withdraw: change.withdraw,
            withdraw_path_ids: change.withdraw_path_ids,
        });
        self.changed();
    }

    /// Says what RFC 7606 did with a malformed UPDATE: an event and a log
    /// line per malformed part.
    fn report_malformed(&self, update: &wire::Update) {
        for e in &update.errors {
            tracing::warn!(
                peer = %self.name,
                action = %e.action,
                attribute = e.attribute,
                error = %e.error,
                "malformed UPDATE handled without a session reset (RFC 7606)"
            );
            let withdrawn = match e.action {
                wire::ErrorAction::TreatAsWithdraw => update.announced().copied().collect(),
                _ => Vec::new(),
            };
            self.emit(Event::malformed(&self.name, e, withdrawn));
        }
    }
}
