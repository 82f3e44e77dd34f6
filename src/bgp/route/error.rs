//! What is wrong with a route written as text: typed, with where it is.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// An error in a route written as text ([`RouteSpec`](super::RouteSpec),
/// a line of a route file): what is wrong, and where: the line (for routes
/// read from lines), the column where the word at fault starts, and the
/// prefix of the route once it was read.
///
/// ```
/// use cue::bgp::route::{RouteErrorKind, RouteTable};
/// let e = RouteTable::default().parse_lines("10.0.0.1\n10.0.0.2 med ten\n").unwrap_err();
/// assert_eq!((e.line, e.column), (Some(2), Some(14)));
/// assert_eq!(e.kind, RouteErrorKind::NotANumber { what: "med", value: "ten".into() });
/// assert_eq!(e.to_string(), r#"line 2, column 14: 10.0.0.2/32: med: "ten" is not a number 0-4294967295"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// The line (from 1), for a route read from lines.
    pub line: Option<usize>,
    /// The column (from 1, in bytes) where the word at fault starts in its
    /// line or text, when known.
    pub column: Option<usize>,
    /// The route's prefix, when the fault is in what follows it.
    pub prefix: Option<IpNet>,
    /// What is wrong.
    pub kind: RouteErrorKind,
}

/// What is wrong with a route written as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteErrorKind {
    /// An empty route.
    #[error("a route needs a prefix")]
    NoPrefix,
    /// A word that should be an address or a prefix is not.
    #[error("{0:?} is not an address or prefix")]
    NotAPrefix(String),
    /// A keyword without its value.
    #[error("{0} needs a value")]
    NeedsValue(&'static str),
    /// A value that should be a 32-bit number is not.
    #[error("{what}: {value:?} is not a number 0-4294967295")]
    NotANumber {
        /// The keyword.
        what: &'static str,
        /// The value written.
        value: String,
    },
    /// A next hop that is not an address.
    #[error("next-hop: {0:?} is not an address")]
    NotAnAddress(String),
    /// An origin other than igp, egp or incomplete.
    #[error("origin: {0:?} is not igp, egp or incomplete")]
    NotAnOrigin(String),
    /// A keyword that is not an attribute.
    #[error(
        "unknown attribute {0:?}: path-id, next-hop, origin, as-path, med, local-pref, \
         community, large-community or ext-community"
    )]
    UnknownAttribute(String),
    /// A community (of any kind) that does not parse.
    #[error(transparent)]
    Community(#[from] crate::bgp::wire::CommunityError),
    /// Attributes that leave no room for a prefix in any UPDATE.
    #[error(
        "path attributes of up to {octets} octets with the prefix: more than the {max} of an \
         UPDATE even with extended messages (fewer communities, or a shorter AS path)"
    )]
    TooLarge {
        /// Octets an UPDATE of the route would take at most.
        octets: usize,
        /// The largest UPDATE.
        max: usize,
    },
    /// A next hop of the other address family than the prefix.
    #[error("next-hop {0} is not of the prefix's address family")]
    NextHopFamily(IpAddr),
    /// A next hop that no router takes.
    #[error("next-hop {0} is unspecified, multicast or broadcast")]
    NextHopUnusable(IpAddr),
    /// Bytes that are not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The text could not be read.
    #[error("reading: {0}")]
    Read(String),
}

impl RouteError {
    /// An error of `kind` with no place yet.
    pub fn new(kind: RouteErrorKind) -> RouteError {
        RouteError {
            line: None,
            column: None,
            prefix: None,
            kind,
        }
    }

    /// The same error in line `line` (from 1).
    pub(crate) fn at_line(mut self, line: usize) -> RouteError {
        self.line = Some(line);
        self
    }

    /// The same error, for the route of `prefix`.
    pub(crate) fn of(mut self, prefix: IpNet) -> RouteError {
        self.prefix = Some(prefix);
        self
    }

    /// The same error with its column moved `by` bytes to the right (a
    /// part of a line parsed alone).
    pub(crate) fn shifted(mut self, by: usize) -> RouteError {
        self.column = self.column.map(|c| c + by);
        self
    }
}

impl From<RouteErrorKind> for RouteError {
    fn from(kind: RouteErrorKind) -> RouteError {
        RouteError::new(kind)
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        if let Some(p) = self.prefix {
            write!(f, "{p}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for RouteError {}

/// Where `word` (a slice of `text`) starts in it, from 1.
pub(crate) fn column_of(text: &str, word: &str) -> Option<usize> {
    let at = (word.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    (at <= text.len()).then_some(at + 1)
}
