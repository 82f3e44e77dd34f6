//! The command language of `cue-bgp --commands`: one command per line,
//! parsed here without running anything, so that an embedder (or a test
//! harness) can drive a [`Pool`](crate::bgp::Pool) with the same script
//! the command line takes. Every line is hostile input: a malformed one is
//! an error naming what is wrong, never a panic.
//!
//! ```
//! use cue::script::{parse, Command};
//! assert_eq!(parse("set med 50"), Some(Ok(Command::Med(50))));
//! assert_eq!(parse("  # a comment"), None);
//! assert!(parse("announce 10.0.0.300").unwrap().is_err());
//! ```

use crate::bgp::route::parse_prefix;
use crate::bgp::wire::{self, Community, LargeCommunity};
use ipnet::IpNet;
use std::time::Duration;

/// A duration as the commands and the command line take it (`5s`,
/// `250ms`, `1m30s`).
///
/// ```
/// assert_eq!(cue::script::parse_duration("1m30s"), Ok(std::time::Duration::from_secs(90)));
/// let e = cue::script::parse_duration("soon").unwrap_err();
/// assert_eq!(e.text, "soon");
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(s).map_err(|e| DurationError {
        text: s.to_string(),
        reason: e.to_string(),
    })
}

/// A duration that does not parse: what was written and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a duration like 5s: {reason}")]
pub struct DurationError {
    /// What was written.
    pub text: String,
    /// Why it is not a duration.
    pub reason: String,
}

/// What is wrong with a command line ([`parse`]).
///
/// ```
/// use cue::script::{parse, CommandError};
/// assert_eq!(parse("set med 1 2"), Some(Err(CommandError::Unexpected("2".into()))));
/// let Some(Err(CommandError::Route(e))) = parse("announce 10.0.0.0/24 med x") else { panic!() };
/// assert_eq!(e.to_string(), r#"10.0.0.0/24: med: "x" is not a number 0-4294967295"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// No such command.
    #[error("unknown command {0:?}; commands: {USAGE}")]
    Unknown(String),
    /// A command that takes prefixes, without any.
    #[error("{0} needs at least one prefix")]
    NeedsPrefixes(String),
    /// A word after everything the command takes.
    #[error("unexpected {0:?}")]
    Unexpected(String),
    /// A command that needs a number, without it.
    #[error("{0} needs a number")]
    NeedsNumber(&'static str),
    /// A number that is not one.
    #[error("{what}: {value:?} is not a number 0-4294967295")]
    NotANumber {
        /// The command.
        what: &'static str,
        /// What was written.
        value: String,
    },
    /// A route or prefix that does not parse, or cannot be announced.
    #[error(transparent)]
    Route(#[from] crate::bgp::route::RouteError),
    /// A community that does not parse.
    #[error(transparent)]
    Community(#[from] wire::CommunityError),
    /// A duration that does not parse.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// Hex that does not parse.
    #[error("send: {0}")]
    Hex(#[from] wire::HexError),
    /// A message to send that is too short or too long.
    #[error(
        "send: a message is {min}-{max} octets, marker included; this is {0}",
        min = wire::HEADER_LEN,
        max = wire::MAX_MESSAGE_LEN
    )]
    SendLength(usize),
    /// A command written the wrong way: how it is written.
    #[error("{0}")]
    Usage(&'static str),
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `announce ROUTE...`: prefixes, each followed by its own attributes
    /// if it has any (`announce 10.0.0.0/24 med 10 as-path 65010
    /// 10.1.0.0/24`, see [`crate::bgp::route`]); the others have the
    /// session's
    Announce(Vec<crate::bgp::route::RouteSpec>),
    /// `withdraw PREFIX [path-id N]...`: a prefix with `path-id` loses
    /// that path (ADD-PATH), one without every path
    Withdraw(Vec<(IpNet, Option<u32>)>),
    /// `set med N`
    Med(u32),
    /// `set local-pref N`
    LocalPref(u32),
    /// `set communities C...` (none: clear)
    Communities(Vec<Community>),
    /// `set large-communities C...` (none: clear)
    LargeCommunities(Vec<LargeCommunity>),
    /// `set ext-communities C...` (none: clear)
    ExtCommunities(Vec<crate::bgp::route::ExtCommunity>),
    /// `status`
    Status,
    /// `wait established [TIMEOUT]`
    WaitEstablished(Option<Duration>),
    /// `sleep DURATION`
    Sleep(Duration),
    /// `send HEX`: a message written as it is to every Established peer
    Send(Vec<u8>),
    /// `expect ROUTE... [TIMEOUT]`: answer once every route is received
    /// with the attributes stated (see [`crate::bgp::route`]), or an error
    /// with the difference after TIMEOUT (default 10 s)
    Expect(Vec<crate::bgp::route::RouteSpec>, Option<Duration>),
    /// `quit`
    Quit,
    /// `drain`: every service drained (RFC 8326), as a drain file does;
    /// `undrain` ends it
    Drain(bool),
    /// `restart`: end the run for a planned restart (the sessions close
    /// without withdrawing; peers with graceful restart keep the routes)
    Restart,
}

/// The commands, for `help` and errors.
pub const USAGE: &str = "announce ROUTE..., withdraw PREFIX [path-id N]..., set med N, set local-pref N, \
set communities C..., set large-communities C..., set ext-communities C..., status, wait established [TIMEOUT], \
sleep DURATION, send HEX, expect ROUTE... [TIMEOUT], drain, undrain, quit, restart";

fn number(what: &'static str, s: Option<&str>) -> Result<u32, CommandError> {
    let s = s.ok_or(CommandError::NeedsNumber(what))?;
    s.parse().map_err(|_| CommandError::NotANumber {
        what,
        value: s.to_string(),
    })
}

/// Parses one line. Blank lines and `#` comments are `None`.
pub fn parse(line: &str) -> Option<Result<Command, CommandError>> {
    let line = line.split('#').next().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let rest: Vec<&str> = words.collect();
    let extra = |n: usize| match rest.get(n) {
        Some(w) => Err(CommandError::Unexpected(w.to_string())),
        None => Ok(()),
    };
    Some(
        match (first.to_ascii_lowercase().as_str(), rest.as_slice()) {
            ("announce", r) => announce(r),
            ("withdraw", []) => Err(CommandError::NeedsPrefixes(first.to_string())),
            ("withdraw", r) => withdrawals(r).map(Command::Withdraw),
            ("set", r) => set(r),
            ("status", _) => extra(0).map(|_| Command::Status),
            ("wait", ["established"]) => Ok(Command::WaitEstablished(None)),
            ("wait", ["established", t]) => parse_duration(t)
                .map(|d| Command::WaitEstablished(Some(d)))
                .map_err(Into::into),
            ("wait", _) => Err(CommandError::Usage("wait established [TIMEOUT]")),
            ("sleep", [t]) => parse_duration(t).map(Command::Sleep).map_err(Into::into),
            ("sleep", _) => Err(CommandError::Usage("sleep DURATION")),
            ("send", hex) => send(hex),
            ("expect", words) => expect(words),
            ("quit" | "exit", []) => Ok(Command::Quit),
            ("restart", []) => Ok(Command::Restart),
            ("drain", []) => Ok(Command::Drain(true)),
            ("undrain", []) => Ok(Command::Drain(false)),
            (other, _) => Err(CommandError::Unknown(other.to_string())),
        },
    )
}

/// Prefixes, some of them comma-separated.
fn prefixes(words: &[&str]) -> Result<Vec<IpNet>, CommandError> {
    let prefixes = words.iter().flat_map(|w| w.split(','));
    let parsed = prefixes.filter(|w| !w.is_empty()).map(parse_prefix);
    Ok(parsed.collect::<Result<_, _>>()?)
}

/// `withdraw PREFIX [path-id N]...` (comma-separated prefixes too).
fn withdrawals(words: &[&str]) -> Result<Vec<(IpNet, Option<u32>)>, CommandError> {
    let mut out: Vec<(IpNet, Option<u32>)> = Vec::new();
    let mut words = words.iter();
    while let Some(w) = words.next() {
        if *w == "path-id" {
            let id = number("withdraw ... path-id", words.next().copied())?;
            match out.last_mut() {
                Some((_, slot @ None)) => *slot = Some(id),
                _ => return Err(CommandError::Unexpected("path-id".into())),
            }
            continue;
        }
        out.extend(prefixes(&[w])?.into_iter().map(|p| (p, None)));
    }
    Ok(out)
}

/// `announce ROUTE...`: comma-separated prefixes too, as --advertise
/// takes them.
fn announce(words: &[&str]) -> Result<Command, CommandError> {
    if words.is_empty() {
        return Err(CommandError::NeedsPrefixes("announce".into()));
    }
    fn split(w: &str) -> Vec<&str> {
        let all = w
            .split(',')
            .all(|p| p.is_empty() || parse_prefix(p).is_ok());
        match w.contains(',') && all {
            true => w.split(',').filter(|p| !p.is_empty()).collect(),
            false => vec![w],
        }
    }
    let words: Vec<&str> = words.iter().flat_map(|w| split(w)).collect();
    let routes = crate::bgp::route::RouteSpec::parse_many(&words)?;
    routes.iter().try_for_each(|r| r.check_announce())?;
    Ok(Command::Announce(routes))
}

/// `set WHAT VALUE...`.
fn set(rest: &[&str]) -> Result<Command, CommandError> {
    fn all<T: std::str::FromStr<Err = wire::CommunityError>>(
        cs: &[&str],
    ) -> Result<Vec<T>, CommandError> {
        cs.iter()
            .map(|c| c.parse::<T>().map_err(CommandError::Community))
            .collect()
    }
    let only = |n: usize| match rest.get(n) {
        Some(w) => Err(CommandError::Unexpected(w.to_string())),
        None => Ok(()),
    };
    match rest {
        ["med", ..] => only(2).and(number("set med", rest.get(1).copied()).map(Command::Med)),
        ["local-pref", ..] => {
            only(2).and(number("set local-pref", rest.get(1).copied()).map(Command::LocalPref))
        }
        ["communities", cs @ ..] => all(cs).map(Command::Communities),
        ["large-communities", cs @ ..] => all(cs).map(Command::LargeCommunities),
        ["ext-communities", cs @ ..] => all(cs).map(Command::ExtCommunities),
        _ => Err(CommandError::Usage(
            "set what? med, local-pref, communities, large-communities or ext-communities",
        )),
    }
}

/// `send HEX`.
fn send(hex: &[&str]) -> Result<Command, CommandError> {
    if hex.is_empty() {
        return Err(CommandError::Usage(
            "send HEX: a message in hex, the marker may be left out",
        ));
    }
    let message = with_marker(wire::parse_hex(&hex.concat())?);
    if message.len() < wire::HEADER_LEN || message.len() > wire::MAX_MESSAGE_LEN {
        return Err(CommandError::SendLength(message.len()));
    }
    Ok(Command::Send(message))
}

/// `expect ROUTE... [TIMEOUT]`: a last word that is a duration (and not a
/// prefix) is the timeout.
fn expect(words: &[&str]) -> Result<Command, CommandError> {
    if words.is_empty() {
        return Err(CommandError::Usage("expect ROUTE... [TIMEOUT]"));
    }
    let (routes, timeout) = match words.split_last() {
        Some((last, rest))
            if !rest.is_empty() && parse_prefix(last).is_err() && parse_duration(last).is_ok() =>
        {
            (rest, parse_duration(last).ok())
        }
        _ => (words, None),
    };
    let routes = crate::bgp::route::RouteSpec::parse_many(routes)?;
    Ok(Command::Expect(routes, timeout))
}

/// The message with the 16-octet marker in front, unless it has one.
fn with_marker(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 16 && bytes[..16].iter().all(|&b| b == 0xff) {
        return bytes;
    }
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&bytes);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line).unwrap().unwrap()
    }

    fn err(line: &str) -> String {
        parse(line).unwrap().unwrap_err().to_string()
    }

    #[test]
    fn commands() {
        assert_eq!(
            ok("announce 10.0.0.1 fd00::/64,192.0.2.0/24"),
            Command::Announce(vec![
                "10.0.0.1/32".parse().unwrap(),
                "fd00::/64".parse().unwrap(),
                "192.0.2.0/24".parse().unwrap()
            ])
        );
        let Command::Announce(r) =
            ok("announce 10.0.0.0/24 med 10 as-path 65010 65020 10.1.0.0/24")
        else {
            panic!()
        };
        assert_eq!(r[0].attributes.med, Some(10));
        assert_eq!(r[0].attributes.as_path, Some(vec![65010, 65020]));
        assert!(r[1].attributes.is_empty());
        assert!(err("announce 10.0.0.0/24 next-hop 2001:db8::1").contains("address family"));
        assert!(err("announce 10.0.0.0/24 med").contains("med needs a value"));
        assert_eq!(
            ok("withdraw 10.0.0.1 # gone"),
            Command::Withdraw(vec![("10.0.0.1/32".parse().unwrap(), None)])
        );
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(
            ok("withdraw 10.0.0.0/24 path-id 2 10.1.0.0/24,10.2.0.0/24"),
            Command::Withdraw(vec![
                (net("10.0.0.0/24"), Some(2)),
                (net("10.1.0.0/24"), None),
                (net("10.2.0.0/24"), None)
            ])
        );
        assert!(err("withdraw path-id 2").contains("unexpected"));
        assert!(err("withdraw 10.0.0.0/24 path-id 1 path-id 2").contains("unexpected"));
        assert!(err("withdraw 10.0.0.0/24 path-id x").contains("not a number"));
        assert_eq!(ok("set med 5"), Command::Med(5));
        assert_eq!(ok("SET local-pref 200"), Command::LocalPref(200));
        assert_eq!(
            ok("set communities 65001:1 no-export"),
            Command::Communities(vec![Community(65001 << 16 | 1), Community::NO_EXPORT])
        );
        assert_eq!(ok("set communities"), Command::Communities(vec![]));
        assert_eq!(
            ok("set large-communities 1:2:3").clone(),
            Command::LargeCommunities(vec!["1:2:3".parse().unwrap()])
        );
        assert_eq!(ok("status"), Command::Status);
        assert_eq!(ok("wait established"), Command::WaitEstablished(None));
        assert_eq!(
            ok("wait established 5s"),
            Command::WaitEstablished(Some(Duration::from_secs(5)))
        );
        assert_eq!(
            ok("sleep 250ms"),
            Command::Sleep(Duration::from_millis(250))
        );
        assert_eq!(ok("quit"), Command::Quit);
        assert_eq!(ok("restart"), Command::Restart);
        assert_eq!(ok("drain"), Command::Drain(true));
        assert_eq!(ok("undrain"), Command::Drain(false));
        let Command::Expect(r, t) =
            ok("expect 10.0.0.0/24 med 10 community 65000:1 10.1.0.0/24 5s")
        else {
            panic!()
        };
        assert_eq!((r.len(), t), (2, Some(Duration::from_secs(5))));
        assert_eq!(r[0].attributes.med, Some(10));
        assert!(matches!(ok("expect 192.0.2.1"), Command::Expect(r, None) if r.len() == 1));
        assert!(err("expect 10.0.0.0/24 med").contains("med needs a value"));
        let keepalive = ok("send 0013 04");
        assert_eq!(
            keepalive,
            Command::Send([vec![0xff; 16], vec![0, 19, 4]].concat())
        );
        assert_eq!(ok(&format!("send {}001304", "ff".repeat(16))), keepalive);
        assert!(err("send 00").contains("19-4096 octets"));
        assert!(err("send zz").contains("hex digit"));
        assert!(parse("   ").is_none());
        assert!(parse("# comment").is_none());
    }

    #[test]
    fn refusals() {
        assert!(err("announce").contains("needs at least one prefix"));
        assert!(err("announce 10.0.0.300").contains("not an address"));
        assert!(err("set med -1").contains("not a number"));
        assert!(err("set med 1 2").contains("unexpected"));
        assert!(err("set colour blue").contains("set what"));
        assert!(err("set communities 70000:1").contains("70000"));
        assert!(err("wait for godot").contains("wait established"));
        assert!(err("sleep forever").contains("duration"));
        assert!(err("reboot").contains("unknown command"));
    }
}
