//! `cue-bgp decode`: explain BGP messages given as hex.

use super::UsageError;
use clap::Args;
use cue::bgp::wire::{
    describe, frame, parse_hex, DecodeContext, DecodeError, ErrorAction, Message, HEADER_LEN,
};
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;

/// `decode` arguments.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Messages in hex, with or without the 16-byte marker; spaces, colons
    /// and 0x are ignored. Without any, standard input is read.
    #[arg(value_name = "HEX")]
    pub hex: Vec<String>,
    /// AS_PATH holds 2-octet AS numbers (a session without the 4-octet AS
    /// capability); the default is 4-octet
    #[arg(long = "two-octet-as")]
    pub two_octet_as: bool,
    /// NLRI carry ADD-PATH path identifiers (RFC 7911), IPv4 and IPv6
    /// unicast: a session that negotiated them in the message's direction
    #[arg(long = "add-path")]
    pub add_path: bool,
    /// One JSON object per message
    #[arg(long)]
    pub json: bool,
}

/// Splits bytes into messages. A message may come without its marker (the
/// length field still counts it, as on the wire); the marker is put back.
/// Returns the messages, or the bytes that could not be framed.
fn split(bytes: &[u8]) -> Vec<Result<Vec<u8>, Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let with_marker = rest.len() >= 16 && rest[..16].iter().all(|&b| b == 0xff);
        let msg: Vec<u8> = if with_marker {
            rest.to_vec()
        } else {
            let mut m = vec![0xff; 16];
            m.extend_from_slice(rest);
            m
        };
        let skip = if with_marker { 0 } else { 16 };
        match frame(&msg) {
            Ok(Some(len)) => {
                out.push(Ok(msg[..len].to_vec()));
                rest = &rest[len - skip..];
            }
            // Malformed header or short: decode what there is, to report it.
            _ => {
                out.push(Err(msg));
                break;
            }
        }
    }
    out
}

/// The NOTIFICATION that answers a decode error, as JSON.
fn notification_json(e: &DecodeError) -> Value {
    let n = e.notification();
    json!({
        "code": n.code,
        "subcode": n.subcode,
        "reason": describe(n.code, n.subcode),
        "data": cue::bgp::wire::hex(&n.data),
    })
}

/// Explains one message. A malformed one is decoded twice: once as RFC
/// 4271 alone has it (the `notification` it answers with) and once with
/// the revised handling of RFC 7606 (`rfc7606`: the action, and the
/// message as it is then taken, when it is not a session reset).
fn explain(bytes: &[u8], ctx: DecodeContext) -> Value {
    let decode = |strict| {
        if bytes.len() < HEADER_LEN {
            Err(DecodeError::BadLength(bytes.len() as u16))
        } else {
            Message::decode(bytes, DecodeContext { strict, ..ctx })
        }
    };
    let strict = match decode(true) {
        Ok(m) => {
            let mut v = super::explain::message_json(&m);
            v["length"] = json!(bytes.len());
            return v;
        }
        Err(e) => e,
    };
    let mut v = json!({
        "type": "MALFORMED",
        "length": bytes.len(),
        "error": strict.to_string(),
        "notification": notification_json(&strict),
    });
    v["rfc7606"] = match decode(false) {
        Ok(Message::Update(u)) => {
            let action = u.errors.iter().map(|e| e.action).max();
            let errors: Vec<Value> = u
                .errors
                .iter()
                .map(|e| {
                    json!({
                        "action": e.action,
                        "attribute": e.attribute,
                        "error": e.error.to_string(),
                    })
                })
                .collect();
            let withdrawn: Vec<String> = if u.treat_as_withdraw() {
                u.announced().map(|p| p.to_string()).collect()
            } else {
                vec![]
            };
            let mut taken = super::explain::message_json(&Message::Update(u));
            if let Some(o) = taken.as_object_mut() {
                o.remove("type");
            }
            json!({
                "action": action,
                "errors": errors,
                "treated_as_withdrawn": withdrawn,
                "update": taken,
            })
        }
        Ok(_) => json!({ "action": "none" }),
        Err(e) => json!({
            "action": ErrorAction::SessionReset,
            "error": e.to_string(),
            "notification": notification_json(&e),
        }),
    };
    v
}

/// Prints a JSON value as indented `key: value` lines.
fn text(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(_) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        text(val, indent + 1, out);
                    }
                    Value::Array(a) if a.iter().any(|x| x.is_object()) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for x in a {
                            out.push_str(&format!("{pad}  -\n"));
                            text(x, indent + 2, out);
                        }
                    }
                    Value::Array(a) => {
                        let items: Vec<String> = a.iter().map(scalar).collect();
                        out.push_str(&format!("{pad}{k}: [{}]\n", items.join(", ")));
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(val))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs `decode`: exit 0 when every message decodes, 1 when one is
/// malformed, 2 when the input is not hex.
pub async fn run(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let inputs: Vec<String> = if args.hex.is_empty() {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| UsageError(format!("reading standard input: {e}")))?;
        s.lines()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect()
    } else {
        args.hex.clone()
    };
    let mut ctx = DecodeContext::with_four_octet_as(!args.two_octet_as);
    if args.add_path {
        use cue::bgp::wire::{AddPathFamilies, Family};
        ctx.add_path = AddPathFamilies::of(&[Family::Ipv4Unicast, Family::Ipv6Unicast]);
    }
    let mut malformed = false;
    let mut first = true;
    for input in inputs {
        let bytes = parse_hex(&input).map_err(|e| UsageError(format!("{input:?}: {e}")))?;
        for part in split(&bytes) {
            let v = match part {
                Ok(m) | Err(m) => explain(&m, ctx),
            };
            malformed |= v["type"] == "MALFORMED";
            let mut s = String::new();
            if args.json {
                s = v.to_string();
            } else {
                if !first {
                    s.push('\n');
                }
                text(&v, 0, &mut s);
            }
            super::output::raw(&s);
            if super::output::stdout_closed() {
                return Ok(ExitCode::SUCCESS);
            }
            first = false;
        }
    }
    Ok(if malformed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("ff:ff 0x00 13"), Ok(vec![0xff, 0xff, 0, 0x13]));
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("abc").is_err());
    }

    #[test]
    fn with_and_without_marker() {
        let keepalive = parse_hex(&format!("{}001304", "ff".repeat(16))).unwrap();
        let parts = split(&keepalive);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].is_ok());
        // Two messages, the second without its marker.
        let mut two = keepalive.clone();
        two.extend_from_slice(&[0x00, 0x15, 0x03, 0x06, 0x02]);
        let parts = split(&two);
        assert_eq!(parts.len(), 2);
        let v = explain(parts[1].as_ref().unwrap(), DecodeContext::default());
        assert_eq!(v["reason"], "Cease / Administrative Shutdown");
    }

    #[test]
    fn malformed_reports_the_notification() {
        // UPDATE with ORIGIN 7.
        let m = parse_hex(&format!("{}001b02 0000 0004 40010107", "ff".repeat(16))).unwrap();
        let v = explain(&m, DecodeContext::default());
        assert_eq!(v["type"], "MALFORMED");
        assert_eq!(v["notification"]["code"], 3);
        assert_eq!(v["notification"]["subcode"], 6);
        assert_eq!(
            v["notification"]["reason"],
            "UPDATE Message Error / Invalid ORIGIN Attribute"
        );
        assert_eq!(v["rfc7606"]["action"], "treat-as-withdraw");
        assert_eq!(v["rfc7606"]["errors"][0]["attribute"], 1);
    }

    #[test]
    fn session_reset_named_next_to_the_notification() {
        // UPDATE whose NLRI prefix length is 33: nothing can be withdrawn.
        let m = parse_hex(&format!(
            "{}002402 0000 0007 400101 00 400200 21 0a000000 01",
            "ff".repeat(16)
        ))
        .unwrap();
        let v = explain(&m, DecodeContext::default());
        assert_eq!(v["type"], "MALFORMED");
        assert_eq!(v["notification"]["subcode"], 10);
        assert_eq!(v["rfc7606"]["action"], "session-reset");
    }
}
