//! `--commands`: drive a running speaker or listener from standard input,
//! one command per line, each answered with one line (`ok` or
//! `error: reason`). A refused command changes nothing.

use super::args::parse_duration;
use super::output::Printer;
use cue::bgp::rib::parse_prefix;
use cue::bgp::wire::{self, Community, LargeCommunity};
use cue::bgp::{Parameters, Pool};
use cue::rhi::HealthInjector;
use ipnet::IpNet;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `announce PREFIX...`
    Announce(Vec<IpNet>),
    /// `withdraw PREFIX...`
    Withdraw(Vec<IpNet>),
    /// `set med N`
    Med(u32),
    /// `set local-pref N`
    LocalPref(u32),
    /// `set communities C...` (none: clear)
    Communities(Vec<Community>),
    /// `set large-communities C...` (none: clear)
    LargeCommunities(Vec<LargeCommunity>),
    /// `status`
    Status,
    /// `wait established [TIMEOUT]`
    WaitEstablished(Option<Duration>),
    /// `sleep DURATION`
    Sleep(Duration),
    /// `send HEX`: a message written as it is to every Established peer
    Send(Vec<u8>),
    /// `quit`
    Quit,
}

/// The commands, for `help` and errors.
pub const USAGE: &str = "announce PREFIX..., withdraw PREFIX..., set med N, set local-pref N, \
set communities C..., set large-communities C..., status, wait established [TIMEOUT], \
sleep DURATION, send HEX, quit";

fn number(what: &str, s: Option<&str>) -> Result<u32, String> {
    let s = s.ok_or_else(|| format!("{what} needs a number"))?;
    s.parse()
        .map_err(|_| format!("{what}: {s:?} is not a number 0-4294967295"))
}

/// Parses one line. Blank lines and `#` comments are `None`.
pub fn parse(line: &str) -> Option<Result<Command, String>> {
    let line = line.split('#').next().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let rest: Vec<&str> = words.collect();
    let prefixes = |rest: &[&str]| -> Result<Vec<IpNet>, String> {
        if rest.is_empty() {
            return Err(format!("{first} needs at least one prefix"));
        }
        rest.iter()
            .flat_map(|w| w.split(','))
            .filter(|w| !w.is_empty())
            .map(parse_prefix)
            .collect()
    };
    let extra = |n: usize| -> Result<(), String> {
        if rest.len() > n {
            Err(format!("unexpected {:?}", rest[n]))
        } else {
            Ok(())
        }
    };
    Some(
        match (first.to_ascii_lowercase().as_str(), rest.as_slice()) {
            ("announce", r) => prefixes(r).map(Command::Announce),
            ("withdraw", r) => prefixes(r).map(Command::Withdraw),
            ("set", ["med", ..]) => {
                extra(2).and(number("set med", rest.get(1).copied()).map(Command::Med))
            }
            ("set", ["local-pref", ..]) => {
                extra(2).and(number("set local-pref", rest.get(1).copied()).map(Command::LocalPref))
            }
            ("set", ["communities", cs @ ..]) => cs
                .iter()
                .map(|c| c.parse::<Community>())
                .collect::<Result<_, _>>()
                .map(Command::Communities),
            ("set", ["large-communities", cs @ ..]) => cs
                .iter()
                .map(|c| c.parse::<LargeCommunity>())
                .collect::<Result<_, _>>()
                .map(Command::LargeCommunities),
            ("set", _) => Err("set what? med, local-pref, communities or large-communities".into()),
            ("status", _) => extra(0).map(|_| Command::Status),
            ("wait", ["established"]) => Ok(Command::WaitEstablished(None)),
            ("wait", ["established", t]) => {
                parse_duration(t).map(|d| Command::WaitEstablished(Some(d)))
            }
            ("wait", _) => Err("wait established [TIMEOUT]".into()),
            ("sleep", [t]) => parse_duration(t).map(Command::Sleep),
            ("sleep", _) => Err("sleep DURATION".into()),
            ("send", []) => Err("send HEX: a message in hex, the marker may be left out".into()),
            ("send", hex) => super::decode::parse_hex(&hex.concat()).and_then(|bytes| {
                let message = with_marker(bytes);
                if message.len() < wire::HEADER_LEN || message.len() > wire::MAX_MESSAGE_LEN {
                    return Err(format!(
                        "send: a message is {}-{} octets, marker included; this is {}",
                        wire::HEADER_LEN,
                        wire::MAX_MESSAGE_LEN,
                        message.len()
                    ));
                }
                Ok(Command::Send(message))
            }),
            ("quit" | "exit", []) => Ok(Command::Quit),
            (other, _) => Err(format!("unknown command {other:?}; commands: {USAGE}")),
        },
    )
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

/// What the commands change.
pub struct Targets {
    /// The pool.
    pub pool: Pool,
    /// The prefixes advertised besides any healthy VIPs.
    pub rib: HealthInjector,
    /// The attributes in force.
    pub parameters: Parameters,
    /// How to print.
    pub printer: Printer,
}

fn reply(printer: Printer, line: &str, result: Result<(), String>) {
    if printer.json {
        let v = match &result {
            Ok(()) => serde_json::json!({"event": "reply", "command": line, "result": "ok"}),
            Err(e) => {
                serde_json::json!({"event": "reply", "command": line, "result": "error", "error": e})
            }
        };
        printer.line(&v);
    } else {
        match result {
            Ok(()) => printer.text("ok"),
            Err(e) => printer.text(&format!("error: {e}")),
        }
    }
}

impl Targets {
    async fn run(&mut self, cmd: Command) -> Result<(), String> {
        match cmd {
            Command::Announce(p) => {
                self.rib
                    .update_fixed(|r| r.extend(p.iter().map(|x| x.trunc())));
                Ok(())
            }
            Command::Withdraw(p) => {
                self.rib.update_fixed(|r| {
                    for x in &p {
                        r.remove(&x.trunc());
                    }
                });
                Ok(())
            }
            Command::Med(v) => self.set(|p| p.med = v),
            Command::LocalPref(v) => self.set(|p| p.local_pref = Some(v)),
            Command::Communities(c) => self.set(|p| p.communities = c),
            Command::LargeCommunities(c) => self.set(|p| p.large_communities = c),
            Command::Status => {
                self.printer.status(&self.pool.status());
                Ok(())
            }
            Command::WaitEstablished(timeout) => {
                let wait = self.pool.wait_established();
                match timeout {
                    None => {
                        wait.await;
                        Ok(())
                    }
                    Some(t) => tokio::time::timeout(t, wait).await.map(drop).map_err(|_| {
                        format!(
                            "no peer reached ESTABLISHED within {}",
                            humantime::format_duration(t)
                        )
                    }),
                }
            }
            Command::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Command::Send(bytes) => match self.pool.send_raw(&bytes) {
                0 => Err("no peer is established".into()),
                _ => Ok(()),
            },
            Command::Quit => Ok(()),
        }
    }

    fn set(&mut self, f: impl FnOnce(&mut Parameters)) -> Result<(), String> {
        let mut p = self.parameters.clone();
        f(&mut p);
        self.pool
            .set_parameters(p.clone())
            .map_err(|e| e.to_string())?;
        self.parameters = p;
        Ok(())
    }
}

/// Reads commands from standard input until `quit` (then `quit` fires) or
/// the end of input (then the session goes on).
pub async fn serve(mut targets: Targets, quit: oneshot::Sender<()>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(parsed) = parse(&line) else { continue };
        let line = line.trim().to_string();
        match parsed {
            Err(e) => reply(targets.printer, &line, Err(e)),
            Ok(Command::Quit) => {
                reply(targets.printer, &line, Ok(()));
                let _ = quit.send(());
                return;
            }
            Ok(cmd) => {
                let r = targets.run(cmd).await;
                reply(targets.printer, &line, r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line).unwrap().unwrap()
    }

    fn err(line: &str) -> String {
        parse(line).unwrap().unwrap_err()
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
        assert_eq!(
            ok("withdraw 10.0.0.1 # gone"),
            Command::Withdraw(vec!["10.0.0.1/32".parse().unwrap()])
        );
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
