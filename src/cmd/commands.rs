//! `--commands`: drive a running speaker or listener from standard input,
//! one command per line (parsed by [`cue::script`]), each answered with one
//! line (`ok` or `error: reason`). A refused command changes nothing.

use super::output::Printer;
use cue::bgp::route::{add_routes, remove_routes, RouteTable};
use cue::bgp::{Parameters, Pool};
use cue::rhi::HealthInjector;
use cue::script::{parse, Command};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

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
            Command::Announce(routes) => {
                let mut table = RouteTable::default();
                for r in &routes {
                    table.push_spec(r).map_err(|e| e.to_string())?;
                }
                let (prefixes, own) = table.finish();
                self.rib.update_fixed_routes(|rib, attributes| {
                    add_routes(rib, attributes, prefixes, &own)
                });
                Ok(())
            }
            Command::Withdraw(routes) => {
                self.rib
                    .update_fixed_routes(|rib, attributes| remove_routes(rib, attributes, &routes));
                Ok(())
            }
            Command::Med(v) => self.set(|p| p.med = v),
            Command::LocalPref(v) => self.set(|p| p.local_pref = Some(v)),
            Command::Communities(c) => self.set(|p| p.communities = c),
            Command::LargeCommunities(c) => self.set(|p| p.large_communities = c),
            Command::ExtCommunities(c) => self.set(|p| p.ext_communities = c),
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
            Command::Expect(routes, timeout) => {
                let t = timeout.unwrap_or(Duration::from_secs(10));
                let report = self.pool.expect_routes(&routes, &[], t).await;
                if report.is_ok() {
                    Ok(())
                } else {
                    Err(report.lines().join("; "))
                }
            }
            Command::Drain(on) => {
                self.rib.director().drain(on);
                Ok(())
            }
            Command::Quit | Command::Restart => Ok(()),
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

/// Reads commands from standard input until `quit` or `restart` (then
/// `quit` fires, with true for a restart) or the end of input (then the
/// session goes on).
pub async fn serve(mut targets: Targets, quit: oneshot::Sender<bool>) {
    let mut input = BufReader::new(tokio::io::stdin());
    loop {
        let line = match read_line(&mut input).await {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(refused))) => {
                reply(targets.printer, &refused.echo, Err(refused.reason));
                continue;
            }
            Ok(None) | Err(_) => return,
        };
        let Some(parsed) = parse(&line) else { continue };
        let line = line.trim().to_string();
        match parsed {
            Err(e) => reply(targets.printer, &line, Err(e.to_string())),
            Ok(c @ (Command::Quit | Command::Restart)) => {
                reply(targets.printer, &line, Ok(()));
                let _ = quit.send(c == Command::Restart);
                return;
            }
            Ok(cmd) => {
                let r = targets.run(cmd).await;
                reply(targets.printer, &line, r);
            }
        }
    }
}

/// The longest command line taken; longer ones are refused whole.
const MAX_LINE: usize = 64 * 1024;

/// A line that is refused before it is parsed: what to echo, and why.
struct Refused {
    echo: String,
    reason: String,
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at the end of
/// input. A longer line is skipped to its end and refused, and so is one
/// that is not UTF-8: neither is ever held whole in memory or taken apart.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    input: &mut R,
) -> std::io::Result<Option<Result<String, Refused>>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            if line.is_empty() && !too_long {
                return Ok(None);
            }
            break;
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        input.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Some(Err(Refused {
            echo: "(a line over 64 KiB)".into(),
            reason: format!("a command line holds at most {} KiB", MAX_LINE / 1024),
        })));
    }
    match String::from_utf8(line) {
        Ok(s) => Ok(Some(Ok(s.trim_end_matches(['\n', '\r']).to_string()))),
        Err(e) => Ok(Some(Err(Refused {
            echo: String::from_utf8_lossy(e.as_bytes()).trim().to_string(),
            reason: "a command line must be UTF-8 text".into(),
        }))),
    }
}
