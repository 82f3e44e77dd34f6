//! BFD (RFC 5880) in asynchronous mode, for BGP sessions (RFC 5882): the
//! control packet codec and the session state machine, sans-IO (packets and
//! time in, packets to send and state changes out, as [`crate::bgp::fsm`]),
//! and in [`driver`] the sockets: single hop (RFC 5881: UDP 3784, TTL 255
//! sent) and multihop (RFC 5883: UDP 4784).
//!
//! No authentication, no demand mode, no echo function: what BIRD, FRR and
//! GoBGP run by default.
//!
//! ```
//! use cue::bgp::bfd::{BfdConfig, BfdSession, BfdState, ControlPacket};
//! use std::time::{Duration, Instant};
//! let config = BfdConfig::default(); // 300 ms x 3
//! let t = Instant::now();
//! let mut ours = BfdSession::new(config, 1, t);
//! let mut theirs = BfdSession::new(config, 2, t);
//! // Three packets each way: Down, Init, Up.
//! for _ in 0..3 {
//!     let p = ours.packet();
//!     theirs.received(&ControlPacket::decode(&p.encode()).unwrap(), t);
//!     let p = theirs.packet();
//!     ours.received(&p, t);
//! }
//! assert_eq!((ours.state(), theirs.state()), (BfdState::Up, BfdState::Up));
//! // Nothing heard for interval x multiplier: down, "control detection time expired".
//! ours.poll(t + Duration::from_secs(5));
//! assert_eq!(ours.state(), BfdState::Down);
//! ```

pub mod driver;

use std::time::{Duration, Instant};

/// UDP port of single-hop BFD control packets (RFC 5881).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// UDP port of multihop BFD control packets (RFC 5883).
pub const MULTIHOP_PORT: u16 = 4784;
/// Length of a control packet without authentication.
pub const PACKET_LEN: usize = 24;
/// The slowest transmission while the session is not up (RFC 5880
/// section 6.8.3: at least one second).
pub const IDLE_INTERVAL: Duration = Duration::from_secs(1);
/// The fastest interval accepted in a configuration.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How a peer's BFD session runs.
///
/// ```
/// use cue::bgp::bfd::BfdConfig;
/// use std::time::Duration;
/// let c = BfdConfig { interval: Duration::from_millis(100), multiplier: 3, multihop: false };
/// assert_eq!(c.detection_time(), Duration::from_millis(300));
/// assert!(c.validate().is_ok());
/// assert!(BfdConfig { multiplier: 0, ..c }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Desired transmit and required receive interval once up.
    pub interval: Duration,
    /// Detection multiplier: packets missed before the peer is declared
    /// down.
    pub multiplier: u8,
    /// RFC 5883 multihop (port 4784, any TTL) rather than RFC 5881 single
    /// hop (port 3784, TTL 255 sent).
    pub multihop: bool,
}

impl Default for BfdConfig {
    fn default() -> Self {
        BfdConfig {
            interval: Duration::from_millis(300),
            multiplier: 3,
            multihop: false,
        }
    }
}

impl BfdConfig {
    /// Interval times multiplier: how long a silent peer takes to be
    /// declared down (when it sends as fast as we receive).
    pub fn detection_time(&self) -> Duration {
        self.interval * u32::from(self.multiplier)
    }

    /// Checks the values: an interval of 10 ms to 60 s (whole
    /// microseconds on the wire) and a multiplier of 1 to 255.
    pub fn validate(&self) -> Result<(), BfdConfigError> {
        if self.multiplier == 0 {
            return Err(BfdConfigError::Multiplier);
        }
        if self.interval < MIN_INTERVAL || self.interval > Duration::from_secs(60) {
            return Err(BfdConfigError::Interval(self.interval));
        }
        Ok(())
    }
}

/// BFD timers out of range ([`BfdConfig::validate`]).
///
/// ```
/// use cue::bgp::bfd::{BfdConfig, BfdConfigError};
/// let c = BfdConfig { multiplier: 0, ..Default::default() };
/// assert_eq!(c.validate(), Err(BfdConfigError::Multiplier));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BfdConfigError {
    /// A multiplier of 0.
    #[error("the BFD multiplier must be 1 to 255")]
    Multiplier,
    /// An interval below 10 ms or above 60 s.
    #[error("the BFD interval must be 10ms to 60s, not {}", humantime::format_duration(*.0))]
    Interval(Duration),
}

/// A BFD session's state (RFC 5880 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BfdState {
    /// Held down by its own side.
    AdminDown,
    /// Down, or never up.
    Down,
    /// The peer is heard, not yet three-way.
    Init,
    /// Both sides hear each other.
    Up,
}

impl BfdState {
    fn from_bits(b: u8) -> BfdState {
        match b & 3 {
            0 => BfdState::AdminDown,
            1 => BfdState::Down,
            2 => BfdState::Init,
            _ => BfdState::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            BfdState::AdminDown => 0,
            BfdState::Down => 1,
            BfdState::Init => 2,
            BfdState::Up => 3,
        }
    }

    /// The name as status and JSON show it.
    pub fn name(self) -> &'static str {
        match self {
            BfdState::AdminDown => "ADMIN_DOWN",
            BfdState::Down => "DOWN",
            BfdState::Init => "INIT",
            BfdState::Up => "UP",
        }
    }
}

impl std::fmt::Display for BfdState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a session went down (the Diagnostic field, RFC 5880 section 4.1).
///
/// ```
/// use cue::bgp::bfd::Diagnostic;
/// assert_eq!(Diagnostic::from_code(1).to_string(), "control detection time expired");
/// assert_eq!(Diagnostic::from_code(3).code(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diagnostic {
    /// No diagnostic.
    None,
    /// Control detection time expired.
    DetectionTimeExpired,
    /// Echo function failed.
    EchoFailed,
    /// Neighbor signaled session down.
    NeighborDown,
    /// Forwarding plane reset.
    ForwardingReset,
    /// Path down.
    PathDown,
    /// Concatenated path down.
    ConcatenatedPathDown,
    /// Administratively down.
    AdminDown,
    /// Reverse concatenated path down.
    ReverseConcatenatedPathDown,
    /// A value RFC 5880 does not define.
    Other(u8),
}

impl Diagnostic {
    /// From the 5-bit field.
    pub fn from_code(c: u8) -> Diagnostic {
        match c & 0x1f {
            0 => Diagnostic::None,
            1 => Diagnostic::DetectionTimeExpired,
            2 => Diagnostic::EchoFailed,
            3 => Diagnostic::NeighborDown,
            4 => Diagnostic::ForwardingReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdminDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            c => Diagnostic::Other(c),
        }
    }

    /// The 5-bit field.
    pub fn code(self) -> u8 {
        match self {
            Diagnostic::None => 0,
            Diagnostic::DetectionTimeExpired => 1,
            Diagnostic::EchoFailed => 2,
            Diagnostic::NeighborDown => 3,
            Diagnostic::ForwardingReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdminDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Other(c) => c & 0x1f,
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Diagnostic::None => "no diagnostic",
            Diagnostic::DetectionTimeExpired => "control detection time expired",
            Diagnostic::EchoFailed => "echo function failed",
            Diagnostic::NeighborDown => "neighbor signaled session down",
            Diagnostic::ForwardingReset => "forwarding plane reset",
            Diagnostic::PathDown => "path down",
            Diagnostic::ConcatenatedPathDown => "concatenated path down",
            Diagnostic::AdminDown => "administratively down",
            Diagnostic::ReverseConcatenatedPathDown => "reverse concatenated path down",
            Diagnostic::Other(c) => return write!(f, "diagnostic {c}"),
        };
        f.write_str(s)
    }
}

/// A BFD control packet (RFC 5880 section 4.1), without authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    /// Why the sender's last session went down.
    pub diagnostic: Diagnostic,
    /// The sender's state.
    pub state: BfdState,
    /// Poll: the sender changed its parameters and wants a Final.
    pub poll: bool,
    /// Final: the answer to a Poll.
    pub final_: bool,
    /// Control plane independent.
    pub cpi: bool,
    /// Demand mode wanted.
    pub demand: bool,
    /// Detection multiplier.
    pub detect_mult: u8,
    /// The sender's discriminator.
    pub my_discriminator: u32,
    /// The receiver's discriminator, as far as the sender knows (0 when
    /// not yet).
    pub your_discriminator: u32,
    /// Desired min TX interval, microseconds.
    pub desired_min_tx: u32,
    /// Required min RX interval, microseconds (0: send me nothing).
    pub required_min_rx: u32,
    /// Required min echo RX interval, microseconds.
    pub required_min_echo_rx: u32,
}

/// Why a received packet is discarded (RFC 5880 section 6.8.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than 24 octets, or than its Length field.
    #[error("truncated: {0} octets")]
    Truncated(usize),
    /// A version other than 1.
    #[error("version {0}, not 1")]
    Version(u8),
    /// A Length field below 24 (26 with authentication).
    #[error("length field {0}")]
    Length(u8),
    /// Detect Mult of zero.
    #[error("detect multiplier 0")]
    DetectMult,
    /// The Multipoint bit, reserved.
    #[error("multipoint bit set")]
    Multipoint,
    /// My Discriminator of zero.
    #[error("my discriminator 0")]
    MyDiscriminator,
    /// Your Discriminator of zero in a state other than Down or AdminDown.
    #[error("your discriminator 0 in state {0}")]
    YourDiscriminator(BfdState),
    /// Authentication, which is not configured here.
    #[error("authentication present, none configured")]
    Authentication,
}

impl ControlPacket {
    /// Reads a packet, checking what section 6.8.6 has a receiver check
    /// before looking the session up.
    pub fn decode(b: &[u8]) -> Result<ControlPacket, PacketError> {
        if b.len() < PACKET_LEN {
            return Err(PacketError::Truncated(b.len()));
        }
        let version = b[0] >> 5;
        if version != 1 {
            return Err(PacketError::Version(version));
        }
        let flags = b[1];
        let auth = flags & 0x04 != 0;
        let len = b[3];
        if usize::from(len) < PACKET_LEN + if auth { 2 } else { 0 } {
            return Err(PacketError::Length(len));
        }
        if usize::from(len) > b.len() {
            return Err(PacketError::Truncated(b.len()));
        }
        let p = ControlPacket {
            diagnostic: Diagnostic::from_code(b[0]),
            state: BfdState::from_bits(flags >> 6),
            poll: flags & 0x20 != 0,
            final_: flags & 0x10 != 0,
            cpi: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult: b[2],
            my_discriminator: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            your_discriminator: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            desired_min_tx: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            required_min_rx: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
            required_min_echo_rx: u32::from_be_bytes([b[20], b[21], b[22], b[23]]),
        };
        if p.detect_mult == 0 {
            return Err(PacketError::DetectMult);
        }
        if flags & 0x01 != 0 {
            return Err(PacketError::Multipoint);
        }
        if p.my_discriminator == 0 {
            return Err(PacketError::MyDiscriminator);
        }
        if p.your_discriminator == 0 && !matches!(p.state, BfdState::Down | BfdState::AdminDown) {
            return Err(PacketError::YourDiscriminator(p.state));
        }
        if auth {
            return Err(PacketError::Authentication);
        }
        Ok(p)
    }

    /// The 24 octets on the wire.
    pub fn encode(&self) -> [u8; PACKET_LEN] {
        let mut b = [0u8; PACKET_LEN];
        b[0] = (1 << 5) | self.diagnostic.code();
        b[1] = (self.state.bits() << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.final_) << 4)
            | (u8::from(self.cpi) << 3)
            | (u8::from(self.demand) << 1);
        b[2] = self.detect_mult;
        b[3] = PACKET_LEN as u8;
        b[4..8].copy_from_slice(&self.my_discriminator.to_be_bytes());
        b[8..12].copy_from_slice(&self.your_discriminator.to_be_bytes());
        b[12..16].copy_from_slice(&self.desired_min_tx.to_be_bytes());
        b[16..20].copy_from_slice(&self.required_min_rx.to_be_bytes());
        b[20..24].copy_from_slice(&self.required_min_echo_rx.to_be_bytes());
        b
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// A state change of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: BfdState,
    /// The state now.
    pub to: BfdState,
    /// Why, when it went down.
    pub diagnostic: Diagnostic,
}

/// One BFD session (RFC 5880 section 6.8.1's variables), asynchronous
/// mode, active role. Sans-IO: [`BfdSession::received`] takes a packet,
/// [`BfdSession::poll`] the time; both say what changed, and
/// [`BfdSession::due`] whether a packet is to be sent now.
#[derive(Debug, Clone)]
pub struct BfdSession {
    config: BfdConfig,
    state: BfdState,
    remote_state: BfdState,
    local_discr: u32,
    remote_discr: u32,
    diagnostic: Diagnostic,
    /// The peer's Required Min RX (how fast it takes our packets).
    remote_min_rx: Duration,
    /// The peer's Desired Min TX.
    remote_min_tx: Duration,
    remote_detect_mult: u8,
    /// The Desired Min TX we advertise now (one second while not up).
    desired_min_tx: Duration,
    /// A Poll Sequence is on: our packets carry P until a Final comes.
    polling: bool,
    /// A Final is owed for the peer's Poll.
    final_due: bool,
    /// The state changed: the peer is told at once, not at the next tick.
    changed: bool,
    next_tx: Instant,
    /// When the peer is declared down, if nothing comes (Init and Up).
    detect_at: Option<Instant>,
}

impl BfdSession {
    /// A session in Down with local discriminator `discriminator` (not 0),
    /// sending its first packet at `now`.
    pub fn new(config: BfdConfig, discriminator: u32, now: Instant) -> BfdSession {
        BfdSession {
            config,
            state: BfdState::Down,
            remote_state: BfdState::Down,
            local_discr: discriminator.max(1),
            remote_discr: 0,
            diagnostic: Diagnostic::None,
            remote_min_rx: Duration::from_micros(1),
            remote_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            desired_min_tx: IDLE_INTERVAL.max(config.interval),
            polling: false,
            final_due: false,
            changed: false,
            next_tx: now,
            detect_at: None,
        }
    }

    /// The state.
    pub fn state(&self) -> BfdState {
        self.state
    }

    /// The peer's state, as last heard.
    pub fn remote_state(&self) -> BfdState {
        self.remote_state
    }

    /// Why the session last went down.
    pub fn diagnostic(&self) -> Diagnostic {
        self.diagnostic
    }

    /// Our discriminator.
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }

    /// The peer's discriminator (0 until heard).
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }

    /// How long a silent peer takes to be declared down now: its
    /// multiplier times the slower of our receive and its transmit
    /// interval (section 6.8.4).
    pub fn detection_time(&self) -> Duration {
        let rx = self.config.interval.max(self.remote_min_tx);
        rx * u32::from(self.remote_detect_mult.max(1))
    }

    /// The packet to send now (and a Final owed is paid with it).
    pub fn packet(&mut self) -> ControlPacket {
        let final_ = std::mem::take(&mut self.final_due);
        self.changed = false;
        ControlPacket {
            diagnostic: self.diagnostic,
            state: self.state,
            // Never P and F together (section 6.8.7).
            poll: self.polling && !final_,
            final_,
            cpi: false,
            demand: false,
            detect_mult: self.config.multiplier,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote_discr,
            desired_min_tx: micros(self.desired_min_tx),
            required_min_rx: micros(self.config.interval),
            required_min_echo_rx: 0,
        }
    }

    /// The interval between our packets: the slower of what we want and
    /// what the peer takes (section 6.8.7).
    fn tx_interval(&self) -> Duration {
        self.desired_min_tx.max(self.remote_min_rx)
    }

    /// Whether a packet is due at `now` (periodic, a Final owed, or a
    /// state change to tell).
    pub fn due(&self, now: Instant) -> bool {
        self.final_due || self.changed || now >= self.next_tx
    }

    /// Marks a packet sent at `now`; the next is due after the interval
    /// times `jitter`, which the caller draws from 0.75 to 1.0 (to 0.9
    /// with a multiplier of 1; section 6.8.7).
    pub fn sent(&mut self, now: Instant, jitter: f64) {
        let jitter = if self.config.multiplier == 1 {
            jitter.clamp(0.75, 0.9)
        } else {
            jitter.clamp(0.75, 1.0)
        };
        self.next_tx = now + self.tx_interval().mul_f64(jitter);
    }

    /// When something is next due: a packet, or the detection time.
    pub fn next_deadline(&self) -> Instant {
        match self.detect_at {
            Some(d) => d.min(self.next_tx),
            None => self.next_tx,
        }
    }

    fn set_state(&mut self, to: BfdState, diagnostic: Diagnostic) -> Option<Transition> {
        if to == self.state {
            return None;
        }
        let from = self.state;
        self.state = to;
        self.changed = true;
        if to != BfdState::Up {
            self.diagnostic = diagnostic;
        }
        // One second between packets while not up; the configured
        // interval once up, announced with a Poll Sequence (section 6.8.3).
        let desired = if to == BfdState::Up {
            self.config.interval
        } else {
            IDLE_INTERVAL.max(self.config.interval)
        };
        if desired != self.desired_min_tx {
            self.desired_min_tx = desired;
            self.polling = true;
        }
        if to == BfdState::Down {
            self.detect_at = None;
        }
        Some(Transition {
            from,
            to,
            diagnostic,
        })
    }

    /// A packet for this session arrived at `now` (section 6.8.6, after
    /// [`ControlPacket::decode`]'s checks).
    pub fn received(&mut self, p: &ControlPacket, now: Instant) -> Option<Transition> {
        if p.your_discriminator != 0 && p.your_discriminator != self.local_discr {
            return None;
        }
        self.remote_discr = p.my_discriminator;
        self.remote_state = p.state;
        self.remote_min_rx = Duration::from_micros(u64::from(p.required_min_rx));
        self.remote_min_tx = Duration::from_micros(u64::from(p.desired_min_tx));
        self.remote_detect_mult = p.detect_mult;
        if p.final_ {
            self.polling = false;
        }
        if p.poll {
            self.final_due = true;
        }
        if self.state == BfdState::AdminDown {
            return None;
        }
        let change = match (p.state, self.state) {
            (BfdState::AdminDown, BfdState::Down) => None,
            (BfdState::AdminDown, _) => self.set_state(BfdState::Down, Diagnostic::NeighborDown),
            (BfdState::Down, BfdState::Down) => self.set_state(BfdState::Init, Diagnostic::None),
            (BfdState::Init, BfdState::Down) => self.set_state(BfdState::Up, Diagnostic::None),
            (BfdState::Init | BfdState::Up, BfdState::Init) => {
                self.set_state(BfdState::Up, Diagnostic::None)
            }
            (BfdState::Down, BfdState::Up) => {
                self.set_state(BfdState::Down, Diagnostic::NeighborDown)
            }
            _ => None,
        };
        // A packet heard: the detection time starts again (Init and Up).
        self.detect_at = matches!(self.state, BfdState::Init | BfdState::Up)
            .then(|| now + self.detection_time());
        change
    }

    /// The time is `now`: declares the peer down when nothing came within
    /// the detection time (and makes a packet due, to tell it).
    pub fn poll(&mut self, now: Instant) -> Option<Transition> {
        match self.detect_at {
            Some(at) if now >= at => {
                self.remote_discr = 0;
                self.remote_state = BfdState::Down;
                // The peer's pace is forgotten with it: our packets go at
                // the idle pace until it is heard again.
                self.remote_min_rx = Duration::from_micros(1);
                let t = self.set_state(BfdState::Down, Diagnostic::DetectionTimeExpired);
                self.next_tx = self.next_tx.min(now);
                t
            }
            _ => None,
        }
    }

    /// Holds the session down (AdminDown) or lets it come up again.
    pub fn set_admin_down(&mut self, down: bool, now: Instant) -> Option<Transition> {
        self.next_tx = now;
        if down {
            self.detect_at = None;
            self.set_state(BfdState::AdminDown, Diagnostic::AdminDown)
        } else if self.state == BfdState::AdminDown {
            self.set_state(BfdState::Down, Diagnostic::AdminDown)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pair(interval: Duration, mult: u8) -> (BfdSession, BfdSession, Instant) {
        let c = BfdConfig {
            interval,
            multiplier: mult,
            multihop: false,
        };
        let t = Instant::now();
        (BfdSession::new(c, 11, t), BfdSession::new(c, 22, t), t)
    }

    /// Carries one packet from `a` to `b` through the codec.
    fn carry(a: &mut BfdSession, b: &mut BfdSession, now: Instant) -> Option<Transition> {
        let p = ControlPacket::decode(&a.packet().encode()).unwrap();
        a.sent(now, 1.0);
        b.received(&p, now)
    }

    #[test]
    fn three_way_handshake_then_the_fast_interval_by_a_poll_sequence() {
        let (mut a, mut b, t) = pair(100 * MS, 3);
        assert_eq!(
            a.packet().desired_min_tx,
            1_000_000,
            "one second while down"
        );
        let ab = carry(&mut a, &mut b, t).unwrap();
        assert_eq!((ab.from, ab.to), (BfdState::Down, BfdState::Init));
        let ba = carry(&mut b, &mut a, t).unwrap();
        assert_eq!(ba.to, BfdState::Up, "Init heard while Down: Up");
        let ab = carry(&mut a, &mut b, t).unwrap();
        assert_eq!(ab.to, BfdState::Up);
        // Up: 100 ms advertised, with P until the peer answers with F.
        let p = a.packet();
        assert!(p.poll && p.desired_min_tx == 100_000, "{p:?}");
        b.received(&p, t);
        let f = b.packet();
        assert!(f.final_ && !f.poll, "{f:?}");
        a.received(&f, t);
        assert!(!a.packet().poll, "the Final ends the Poll Sequence");
        // Both at 100 ms now: packets every 75-100 ms, detection in 300 ms.
        let q = b.packet();
        a.received(&q, t);
        a.sent(t, 0.75);
        assert_eq!(a.next_deadline(), t + 75 * MS);
        assert_eq!(a.detection_time(), 300 * MS);
    }

    #[test]
    fn silence_for_the_detection_time_brings_it_down_and_it_comes_back() {
        let (mut a, mut b, t) = pair(100 * MS, 3);
        for _ in 0..3 {
            carry(&mut a, &mut b, t);
            carry(&mut b, &mut a, t);
        }
        // b's next packets say 100 ms: a detects in 3 x 100 ms.
        carry(&mut b, &mut a, t);
        assert_eq!(a.state(), BfdState::Up);
        assert!(a.poll(t + 299 * MS).is_none());
        let down = a.poll(t + 300 * MS).unwrap();
        assert_eq!(down.to, BfdState::Down);
        assert_eq!(down.diagnostic, Diagnostic::DetectionTimeExpired);
        assert_eq!(a.remote_discriminator(), 0);
        assert!(a.due(t + 300 * MS), "the peer is told at once");
        // a says Down (with its diagnostic): b, still Up, goes down too.
        let p = a.packet();
        assert_eq!(p.diagnostic, Diagnostic::DetectionTimeExpired);
        let t2 = t + 310 * MS;
        let bd = b.received(&p, t2).unwrap();
        assert_eq!(
            (bd.to, bd.diagnostic),
            (BfdState::Down, Diagnostic::NeighborDown)
        );
        // And both come up again.
        for _ in 0..3 {
            carry(&mut a, &mut b, t2);
            carry(&mut b, &mut a, t2);
        }
        assert_eq!((a.state(), b.state()), (BfdState::Up, BfdState::Up));
    }

    #[test]
    fn admin_down_from_the_peer_is_neighbor_down_and_holds_us_down() {
        let (mut a, mut b, t) = pair(300 * MS, 3);
        for _ in 0..3 {
            carry(&mut a, &mut b, t);
            carry(&mut b, &mut a, t);
        }
        let d = b.set_admin_down(true, t).unwrap();
        assert_eq!(d.to, BfdState::AdminDown);
        let ad = carry(&mut b, &mut a, t).unwrap();
        assert_eq!(
            (ad.to, ad.diagnostic),
            (BfdState::Down, Diagnostic::NeighborDown)
        );
        // While the peer says AdminDown, we stay Down.
        assert!(carry(&mut b, &mut a, t).is_none());
        assert_eq!(a.state(), BfdState::Down);
        // A session held AdminDown ignores the peer.
        assert!(carry(&mut a, &mut b, t).is_none());
        assert_eq!(b.state(), BfdState::AdminDown);
    }

    #[test]
    fn a_packet_for_another_discriminator_is_ignored_and_a_slow_peer_sets_the_pace() {
        let (mut a, _, t) = pair(100 * MS, 3);
        let mut p = a.packet();
        p.my_discriminator = 99;
        p.your_discriminator = 12345;
        p.state = BfdState::Up;
        assert!(a.received(&p, t).is_none());
        assert_eq!(a.remote_discriminator(), 0);
        // A peer that takes one packet a second and sends every 500 ms,
        // multiplier 5: we send at its pace and detect in 5 x 500 ms.
        let (mut a, mut b, _) = pair(100 * MS, 3);
        b.received(&a.packet(), t);
        let mut slow = b.packet();
        slow.required_min_rx = 1_000_000;
        slow.desired_min_tx = 500_000;
        slow.detect_mult = 5;
        a.received(&slow, t);
        assert_eq!(a.state(), BfdState::Up);
        assert_eq!(a.detection_time(), 2_500 * MS);
        a.sent(t, 1.0);
        assert_eq!(a.next_deadline(), t + 1_000 * MS);
    }

    #[test]
    fn malformed_packets_are_refused() {
        let good = BfdSession::new(BfdConfig::default(), 7, Instant::now())
            .packet()
            .encode();
        assert!(ControlPacket::decode(&good).is_ok());
        let with = |i: usize, v: u8| {
            let mut b = good;
            b[i] = v;
            ControlPacket::decode(&b)
        };
        assert_eq!(
            ControlPacket::decode(&good[..20]),
            Err(PacketError::Truncated(20))
        );
        assert_eq!(with(0, 2 << 5), Err(PacketError::Version(2)));
        assert_eq!(with(2, 0), Err(PacketError::DetectMult));
        assert_eq!(with(3, 20), Err(PacketError::Length(20)));
        assert_eq!(with(3, 30), Err(PacketError::Truncated(24)));
        assert_eq!(with(1, (1 << 6) | 1), Err(PacketError::Multipoint));
        assert_eq!(with(1, (1 << 6) | 4), Err(PacketError::Length(24)));
        assert_eq!(
            with(1, 3 << 6),
            Err(PacketError::YourDiscriminator(BfdState::Up))
        );
        let mut zero = good;
        zero[4..8].copy_from_slice(&[0; 4]);
        assert_eq!(
            ControlPacket::decode(&zero),
            Err(PacketError::MyDiscriminator)
        );
        // Every byte string of the length: an answer, never a panic.
        for i in 0..=255u8 {
            let mut b = good;
            b[1] = i;
            let _ = ControlPacket::decode(&b);
        }
    }
}
