//! The BGP speaker: wire codec, session state machine, tokio driver, RIBs
//! and the pool of peers.

pub mod bfd;
pub mod config;
pub mod core;
pub mod error;
pub mod event;
pub mod fsm;
pub mod gtsm;
pub mod md5;
pub mod mrt;
pub mod pool;
pub mod rib;
pub mod route;
pub mod session;
pub mod wire;

pub use config::{
    AttributeOverrides, ConfigWarning, Overrides, Parameters, PeerConfig, PeerConfigBuilder,
    PeerConfigError,
};
pub use error::{IoFailure, Refusal, SessionError};
pub use event::{
    event_channel, Counters, Direction, Event, EventSender, Events, Lagged, NotificationCount,
    PeerStatus, PrefixList, ReceivedRoute, DEFAULT_EVENT_BUFFER,
};
pub use fsm::State;
pub use pool::Pool;
pub use pool::PoolConfigError;
pub use rib::{ExportFilter, LocRib, RouteAttributes};
pub use session::{SendRawError, Session, RAW_QUEUE};
