//! `schema/events.schema.json` is the documented promise of `--json`: the
//! schema itself is checked, and a run that makes most kinds of event (a
//! speaker with --trace and --commands against `listen --expect`, both
//! `cue-bgp`, and `check` with its probes) must match it line by line.
//! Every other test that reads JSON output checks it against the schema
//! too (tests/common).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

fn schema() -> serde_json::Value {
    serde_json::from_str(include_str!("../schema/events.schema.json")).unwrap()
}

fn kinds(lines: &str) -> BTreeSet<String> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .inspect(check_schema)
        .map(|v| match v["direction"].as_str() {
            Some(d) if v["event"] == "update" => format!("update_{d}"),
            _ => v["event"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

#[test]
fn every_kind_is_described_and_the_schema_refuses_what_is_not() {
    let s = schema();
    let defs = s["$defs"].as_object().unwrap();
    let listed: BTreeSet<String> = s["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["$ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("#/$defs/")
                .to_string()
        })
        .collect();
    for k in &listed {
        assert!(defs.contains_key(k), "{k} is listed but not defined");
    }
    // Wrong lines are refused: the schema can fail.
    let refused = std::panic::catch_unwind(|| {
        check_schema(
            &serde_json::json!({"time": "2026-01-01T00:00:00.000Z", "event": "state",
            "peer": "192.0.2.1", "state": "UP"}),
        )
    });
    assert!(refused.is_err(), "an unknown state passed");
    let refused = std::panic::catch_unwind(|| {
        check_schema(
            &serde_json::json!({"time": "2026-01-01T00:00:00.000Z", "event": "route",
            "peer": "192.0.2.1", "prefix": "10.0.0.0/24", "as_path": "65001"}),
        )
    });
    assert!(refused.is_err(), "a string as_path passed");
    let refused = std::panic::catch_unwind(|| {
        check_schema(&serde_json::json!({"time": "2026-01-01T00:00:00.000Z", "event": "nonsense"}))
    });
    assert!(refused.is_err(), "an unknown event passed");
}

#[test]
fn a_speaker_and_a_listener_write_what_the_schema_describes() {
    let port = free_port();
    let p = port.to_string();
    let listen = Cue::listen(
        &p,
        &[
            "-m",
            "--trace",
            "--expect",
            "10.9.0.0/24 med 5 as-path 65001 65010",
            "--expect",
            "10.9.1.0/24 med 99",
            "--timeout",
            "4s",
            "65002",
            "127.0.0.2",
        ],
    );
    let mut speaker = Command::new(cue_bin())
        .args([
            "--json",
            "--trace",
            "--commands",
            "--port",
            &p,
            "-m",
            "-6",
            "::1",
        ])
        .args([
            "--connect-retry",
            "200ms",
            "65001",
            "127.0.0.1",
            "127.0.0.1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = speaker.stdin.as_mut().unwrap();
        writeln!(stdin, "wait established 10s").unwrap();
        writeln!(
            stdin,
            "announce 10.9.0.0/24 med 5 as-path 65010 community 65000:1 ext-community rt:1:1 \
             large-community 1:2:3 10.9.1.0/24 2001:db8:9::/48"
        )
        .unwrap();
        writeln!(stdin, "sleep 500ms").unwrap();
        writeln!(stdin, "withdraw 2001:db8:9::/48").unwrap();
        writeln!(stdin, "status").unwrap();
        writeln!(stdin, "set med x").unwrap();
        writeln!(stdin, "sleep 6s").unwrap();
        writeln!(stdin, "quit").unwrap();
    }
    let done = listen.wait(Duration::from_secs(20));
    assert_eq!(
        done.status.code(),
        Some(1),
        "one route differs: {}",
        done.stdout
    );
    let out = speaker.wait_with_output().unwrap();
    let speaker_out = String::from_utf8_lossy(&out.stdout).into_owned();
    let seen: BTreeSet<String> = kinds(&done.stdout)
        .union(&kinds(&speaker_out))
        .cloned()
        .collect();
    for k in [
        "added",
        "removed",
        "state",
        "notification",
        "update_sent",
        "update_received",
        "down",
        "message",
        "status",
        "route",
        "expect",
        "reply",
    ] {
        assert!(seen.contains(k), "no {k} line: {seen:?}");
    }
    let failed = done
        .json()
        .into_iter()
        .find(|v| v["event"] == "expect")
        .unwrap();
    assert_eq!(failed["result"], "failed");
    assert_eq!(failed["different"][0]["route"], "10.9.1.0/24 med 99");
}

#[test]
fn the_director_writes_what_the_schema_describes() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = backend.local_addr().unwrap().port();
    let dir = Scratch::new("schema");
    let config = dir.path("services.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"services": [{{"address": "192.0.2.10", "port": 80, "protocol": "tcp",
            "destinations": [{{"address": "127.0.0.1", "port": {port},
              "checks": [{{"type": "tcp", "interval": "100ms", "timeout": "1s"}}]}}]}}]}}"#
        ),
    )
    .unwrap();
    let out = Command::new(cue_bin())
        .args(["check", "--json", "--probes", "--once"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let seen = kinds(&text);
    assert!(seen.contains("service_status"), "{text}");
    assert!(seen.len() >= 2, "{seen:?}: {text}");
}
