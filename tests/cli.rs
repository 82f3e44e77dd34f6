//! The command line without any daemon: arguments, exit codes, the demo,
//! and the speaker against `cue-bgp listen`.

mod common;

use common::*;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn run(args: &[&str]) -> Finished {
    Cue::start(args).wait(T)
}

#[test]
fn bad_arguments_exit_2_with_one_line_and_send_nothing() {
    // A listener that must never see a connection.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["0", "10.0.0.1", "127.0.0.1"], "AS_NUMBER"),
        (&["4294967296", "10.0.0.1", "127.0.0.1"], "AS_NUMBER"),
        (&["65001", "10.0.0.256", "127.0.0.1"], "ROUTER_ID"),
        (&["65001", "10.0.0.1", "fe80::1"], "link-local"),
        (&["65001", "10.0.0.1", "not-an-ip"], "PEER"),
        (
            &["-a", "192.168.1.0/33", "65001", "10.0.0.1", "127.0.0.1"],
            "--advertise",
        ),
        (
            &["-c", "65001:70000", "65001", "10.0.0.1", "127.0.0.1"],
            "--community",
        ),
        (
            &["--large-community", "1:2", "65001", "10.0.0.1", "127.0.0.1"],
            "--large-community",
        ),
        (
            &["--hold-time", "1", "65001", "10.0.0.1", "127.0.0.1"],
            "--hold-time",
        ),
        (
            &["--accept", "nonsense", "65001", "10.0.0.1", "127.0.0.1"],
            "--accept",
        ),
        (
            &["--connect-retry", "soon", "65001", "10.0.0.1", "127.0.0.1"],
            "--connect-retry",
        ),
        (
            &["--connect-retry", "0s", "65001", "10.0.0.1", "127.0.0.1"],
            "--connect-retry",
        ),
        (
            &["--source", "::1", "65001", "10.0.0.1", "127.0.0.1"],
            "--source",
        ),
    ];
    for (args, names) in cases {
        let mut all = vec!["--port", &port];
        all.extend_from_slice(args);
        let done = run(&all);
        assert_eq!(done.status.code(), Some(2), "{args:?}: {}", done.stderr);
        let first = done.stderr.lines().next().unwrap_or("");
        assert!(first.contains(names), "{args:?}: {first}");
        assert!(done.stdout.is_empty(), "{args:?}: {}", done.stdout);
    }
    assert!(
        l.accept().is_err(),
        "a bad invocation connected to the peer"
    );
}

/// What peers are known to refuse is said at start; what cannot be sent at
/// all is refused before anything goes on the wire.
#[test]
fn known_refusals_are_said_at_start() {
    let port = free_port().to_string();
    // -m over IPv4 without -6: the IPv4-mapped next hop BIRD refuses.
    let done = run(&[
        "--port",
        &port,
        "--for",
        "300ms",
        "-m",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("warning: IPv6 routes to 127.0.0.1 would get the IPv4-mapped next hop"),
        "{}",
        done.stderr
    );
    // With -6, nothing to say.
    let done = run(&[
        "--port",
        &port,
        "--for",
        "300ms",
        "-m",
        "-6",
        "::1",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert!(!done.stderr.contains("warning"), "{}", done.stderr);
    // Only IPv6 routes, an IPv4 session without -m: nothing can be sent.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = l.local_addr().unwrap().port().to_string();
    l.set_nonblocking(true).unwrap();
    let done = run(&[
        "--port",
        &lport,
        "-a",
        "2001:db8::1",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("no session can carry 2001:db8::1/128"),
        "{}",
        done.stderr
    );
    assert!(l.accept().is_err(), "refused before connecting");
    // Some of them can go: a warning for the others.
    let done = run(&[
        "--port",
        &port,
        "--for",
        "300ms",
        "-a",
        "2001:db8::1",
        "-a",
        "192.0.2.7",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("2001:db8::1/128 (and any route of its family) is sent to no peer"),
        "{}",
        done.stderr
    );
}

#[test]
fn bad_advertise_file_line_exits_2() {
    let dir = Scratch::new("badfile");
    let f = dir.path("vips");
    std::fs::write(&f, "10.0.0.1\n# fine\n10.0.0.300\n").unwrap();
    let done = run(&[
        "--advertise-file",
        f.to_str().unwrap(),
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert_eq!(done.status.code(), Some(2));
    assert!(done.stderr.contains("line 3"), "{}", done.stderr);
}

#[test]
fn wait_established_exits_3_with_the_reason() {
    let port = free_port().to_string();
    let done = run(&[
        "--port",
        &port,
        "--connect-retry",
        "1s",
        "--wait-established",
        "1500ms",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("no peer reached ESTABLISHED within 1s 500ms"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("refused"), "{}", done.stderr);
}

#[test]
fn help_and_version() {
    let o = Command::new(cue_bin()).arg("--help").output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    // Grouped under headings, each option under its own.
    let under = |heading: &str, flag: &str| {
        let section: Vec<&str> = help
            .lines()
            .skip_while(|l| *l != format!("{heading}:"))
            .skip(1)
            .take_while(|l| !(l.ends_with(':') && l.starts_with(|c: char| c.is_ascii_uppercase())))
            .collect();
        assert!(!section.is_empty(), "no {heading} heading: {help}");
        assert!(
            section
                .iter()
                .any(|l| l.trim_start().starts_with(flag) || l.contains(&format!(", {flag}"))),
            "{flag} not under {heading}"
        );
    };
    for (heading, flag) in [
        ("Session", "--hold-time"),
        ("Session", "--md5-password"),
        ("Routes and attributes", "--advertise-file"),
        ("MRT", "--advertise-mrt"),
        ("Failover and limits", "--send-hold-time"),
        ("Health checks", "--services"),
        ("Output and control", "--json"),
    ] {
        under(heading, flag);
    }
    for flag in [
        "--multiprotocol",
        "--next-hop-4",
        "--next-hop-6",
        "--med",
        "--local-pref",
        "--community",
        "--large-community",
        "--advertise",
        "--advertise-file",
        "--accept",
        "--reject",
        "--hold-time",
        "--port",
        "--source",
        "--peer-as",
        "--connect-retry",
        "--for",
        "--wait-established",
        "--json",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let o = Command::new(cue_bin()).arg("--version").output().unwrap();
    assert!(o.status.success());
}

#[test]
fn demo_runs_and_exits_0() {
    let done = run(&["demo"]);
    assert!(done.status.success(), "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("state ESTABLISHED"));
    assert!(done.stdout.contains("withdrew 4"));
    assert!(done.stdout.contains("Cease / Administrative Shutdown"));
}

#[test]
fn speaker_to_listen_ebgp() {
    let port = free_port().to_string();
    let listen = Cue::listen(
        &port,
        &[
            "--peer",
            "127.0.0.1",
            "--peer-as",
            "4200000000",
            "-m",
            "65002",
            "10.0.0.2",
        ],
    );
    let speaker = Cue::start(&[
        "--port",
        &port,
        "--connect-retry",
        "1s",
        "-m",
        "-6",
        "2001:db8::1",
        "--local-pref",
        "300",
        "--med",
        "9",
        "-c",
        "blackhole",
        "-a",
        "198.51.100.7,2001:db8:7::7",
        "--for",
        "2s",
        "4200000000",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    let done = speaker.wait(T);
    assert!(done.status.success(), "{}", done.stderr);
    wait_for("the listener to see the Cease", T, || {
        listen.stdout().contains("\"notification\"").then_some(())
    });
    let out = listen.terminate();
    let routes = received_routes(&out.stdout);
    assert_eq!(routes.len(), 2, "{}", out.stdout);
    let v4 = routes
        .iter()
        .find(|r| r["prefix"] == "198.51.100.7/32")
        .unwrap();
    assert_eq!(
        v4["as_path"],
        serde_json::json!([{"type": "sequence", "asns": [4200000000u32]}])
    );
    assert_eq!(v4["next_hop"], "127.0.0.1");
    assert_eq!(v4["med"], 9);
    assert!(
        v4.get("local_pref").is_none(),
        "LOCAL_PREF sent over eBGP: {v4}"
    );
    assert_eq!(v4["communities"], serde_json::json!(["blackhole"]));
    let v6 = routes
        .iter()
        .find(|r| r["prefix"] == "2001:db8:7::7/128")
        .unwrap();
    assert_eq!(v6["next_hop"], "2001:db8::1");
    // The speaker withdrew everything before its Cease.
    let withdrawn: usize = out
        .json()
        .iter()
        .filter(|e| e["event"] == "update")
        .map(|e| e["withdraw"].as_array().map_or(0, |w| w.len()))
        .sum();
    assert_eq!(withdrawn, 2, "{}", out.stdout);
    assert!(
        out.json().iter().any(|e| e["event"] == "notification"
            && e["direction"] == "received"
            && e["subcode"] == 2),
        "{}",
        out.stdout
    );
}

fn services_file(dir: &Scratch, name: &str, body: &str) -> String {
    let p = dir.path(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn check_once_exit_codes_and_table() {
    let dir = Scratch::new("check");
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_port = up.local_addr().unwrap().port();
    let (down, _held) = closed_port("127.0.0.1:0");
    let down_port = down.port();
    let svc = |port: u16| {
        format!(
            r#"{{"services": [{{"address": "192.0.2.10", "port": 80, "protocol": "tcp",
              "destinations": [{{"address": "127.0.0.1", "port": {port},
                "checks": [{{"type": "tcp", "interval": "100ms"}}]}}]}}]}}"#
        )
    };
    let good = services_file(&dir, "good.json", &svc(up_port));
    let done = run(&["check", "--once", &good]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}{}",
        done.stdout,
        done.stderr
    );
    assert!(done.stdout.contains("192.0.2.10:80/tcp"), "{}", done.stdout);
    assert!(done.stdout.contains("127.0.0.1:"), "{}", done.stdout);

    let bad = services_file(&dir, "bad.json", &svc(down_port));
    let done = run(&["check", "--once", "--json", &bad]);
    assert_eq!(done.status.code(), Some(1), "{}", done.stdout);
    let status: Vec<_> = done
        .json()
        .into_iter()
        .filter(|e| e["event"] == "service_status")
        .collect();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["up"], false);
    assert!(status[0]["destinations"][0]["diagnostic"]
        .as_str()
        .unwrap()
        .contains("refused"));

    let broken = services_file(
        &dir,
        "broken.json",
        &svc(up_port).replace("\"tcp\",", "\"sctp\","),
    );
    let done = run(&["check", "--once", &broken]);
    assert_eq!(done.status.code(), Some(2));
    assert!(
        done.stderr.contains("unknown variant `sctp`"),
        "{}",
        done.stderr
    );

    // Every problem of a file that parses, at once, a line each.
    let many = services_file(
        &dir,
        "many.json",
        &svc(0).replace("\"port\": 80,", "\"port\": 80, \"required\": 0,"),
    );
    let done = run(&["check", "--once", &many]);
    assert_eq!(done.status.code(), Some(2));
    for problem in [
        "required",
        "destination 127.0.0.1:0: port 0",
        "check 1 (tcp)",
    ] {
        assert!(done.stderr.contains(problem), "{problem}: {}", done.stderr);
    }
    assert!(done.stderr.lines().count() >= 3, "{}", done.stderr);
}

#[test]
fn check_reloads_on_sighup_and_keeps_running_on_a_bad_file() {
    let dir = Scratch::new("hup");
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = up.local_addr().unwrap().port();
    let svc = |vip: &str| {
        format!(
            r#"{{"address": "{vip}", "port": 80, "protocol": "tcp",
              "destinations": [{{"address": "127.0.0.1", "port": {port},
                "checks": [{{"type": "tcp", "interval": "100ms"}}]}}]}}"#
        )
    };
    let file = services_file(
        &dir,
        "s.json",
        &format!(r#"{{"services": [{}]}}"#, svc("192.0.2.20")),
    );
    let cue = Cue::start(&["check", &file]);
    wait_for("192.0.2.20 up", T, || {
        cue.stdout()
            .contains("service 192.0.2.20:80/tcp up")
            .then_some(())
    });
    std::fs::write(
        &file,
        format!(
            r#"{{"services": [{}, {}]}}"#,
            svc("192.0.2.20"),
            svc("192.0.2.21")
        ),
    )
    .unwrap();
    let hup = |c: &Cue| {
        Command::new("kill")
            .args(["-HUP", &c.pid().to_string()])
            .status()
            .unwrap()
    };
    hup(&cue);
    wait_for("192.0.2.21 up after the reload", T, || {
        cue.stdout()
            .contains("service 192.0.2.21:80/tcp up")
            .then_some(())
    });
    std::fs::write(&file, "{ not json").unwrap();
    hup(&cue);
    std::thread::sleep(Duration::from_millis(300));
    let done = cue.terminate();
    assert!(done.status.success());
    assert!(
        done.stderr.contains("keeping the running configuration"),
        "{}",
        done.stderr
    );
    // The table at exit still holds both services.
    assert!(done.stdout.contains("192.0.2.21:80/tcp"));
}

#[test]
fn decode_add_path_reads_path_identifiers() {
    // An UPDATE announcing 10.0.0.0/24 with path id 7 (RFC 7911).
    let update = "002D020000000E400101004002004003040A00000100000007180A0000";
    let done = run(&["decode", "--json", "--add-path", update]);
    assert!(done.status.success(), "{}", done.stderr);
    let v = done.json();
    assert_eq!(v[0]["nlri"], serde_json::json!(["10.0.0.0/24"]));
    assert_eq!(v[0]["nlri_path_ids"], serde_json::json!([7]));
    // Read without ADD-PATH, the identifier is taken for prefixes.
    let v = run(&["decode", "--json", update]).json();
    assert_ne!(v[0]["nlri"], serde_json::json!(["10.0.0.0/24"]));
    assert!(v[0].get("nlri_path_ids").is_none());
}

#[test]
fn decode_explains_messages_and_malformed_ones() {
    let marker = "ff".repeat(16);
    // An OPEN captured from BIRD, then a KEEPALIVE without its marker.
    let open = format!("{marker}003b0104fdea00f07f0000021e021c01040001000101040002000102004002007841040000fdea46004700");
    let done = run(&["decode", "--json", &open, "001304"]);
    assert!(done.status.success(), "{}", done.stderr);
    let v = done.json();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["type"], "OPEN");
    assert_eq!(v[0]["asn"], 65002);
    assert_eq!(v[0]["capabilities"][3]["name"], "graceful-restart");
    assert_eq!(v[1]["type"], "KEEPALIVE");

    // Text, from standard input, colons allowed.
    let mut c = Command::new(cue_bin())
        .args(["decode"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin
        .take()
        .unwrap()
        .write_all(b"# a Cease\nff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:00:15:03:06:02\n")
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("reason: Cease / Administrative Shutdown"),
        "{text}"
    );

    // A malformed UPDATE: exit 1 and the NOTIFICATION a speaker would send.
    let done = run(&[
        "decode",
        "--json",
        &format!("{marker}001b020000000440010107"),
    ]);
    assert_eq!(done.status.code(), Some(1));
    let v = &done.json()[0];
    assert_eq!(v["type"], "MALFORMED");
    assert_eq!(
        (
            v["notification"]["code"].clone(),
            v["notification"]["subcode"].clone()
        ),
        (serde_json::json!(3), serde_json::json!(6))
    );

    // A flowspec withdrawal: routes of a family not parsed, kept as bytes
    // and shown, not taken for End-of-RIB.
    let done = run(&[
        "decode",
        "--json",
        &format!("{marker}0025020000000E900F000A0001850601200A000001"),
    ]);
    let v = &done.json()[0];
    assert!(v.get("end_of_rib").is_none(), "{v}");
    let unreach = &v["attributes"]["mp_unreach_nlri"];
    assert_eq!(unreach["unparsed"], "0601200a000001", "{v}");
    let done = run(&[
        "decode",
        &format!("{marker}0025020000000E900F000A0001850601200A000001"),
    ]);
    let text = done.stdout;
    assert!(
        text.contains("unparsed: 0601200a000001") && !text.contains("end_of_rib"),
        "{text}"
    );

    // Not hex at all: exit 2.
    assert_eq!(run(&["decode", "xyz"]).status.code(), Some(2));
}

#[test]
fn trace_prints_every_message() {
    let port = free_port().to_string();
    let listen = Cue::listen(&port, &["--trace", "65002", "10.0.0.2"]);
    let speaker = Cue::start(&[
        "--port",
        &port,
        "--trace",
        "--connect-retry",
        "1s",
        "-a",
        "198.51.100.1",
        "--for",
        "1s",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    let done = speaker.wait(T);
    assert!(done.status.success());
    for line in [
        "sent OPEN AS 65001 hold 10 id 10.0.0.1",
        "received OPEN AS 65002",
        "sent KEEPALIVE",
        "sent UPDATE announce 198.51.100.1/32 next-hop 127.0.0.1 as-path [65001] origin IGP",
        "sent UPDATE withdraw 198.51.100.1/32",
        "sent NOTIFICATION 6/2 Cease / Administrative Shutdown",
    ] {
        assert!(
            done.stdout.contains(line),
            "missing {line:?} in\n{}",
            done.stdout
        );
    }
    wait_for("the listener's trace of the Cease", T, || {
        listen.stdout().contains("NOTIFICATION 6/2").then_some(())
    });
    let out = listen.terminate();
    let messages: Vec<_> = out
        .json()
        .into_iter()
        .filter(|e| e["event"] == "message" && e["direction"] == "received")
        .collect();
    assert!(messages.iter().any(|m| m["message"]
        .as_str()
        .unwrap()
        .starts_with("UPDATE announce 198.51.100.1/32")));
}

#[test]
fn completions_and_manpage() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(cue_bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("multiprotocol") && text.contains("listen"),
            "{shell}"
        );
    }
    assert!(!Command::new(cue_bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap()
        .status
        .success());
    let o = Command::new(cue_bin()).arg("manpage").output().unwrap();
    assert!(o.status.success());
    let man = String::from_utf8_lossy(&o.stdout);
    assert!(man.contains(".TH cue-bgp 1"), "{man}");
    assert!(man.contains("advertise\\-file"), "{man}");
}

#[test]
fn commands_drive_a_session_step_by_step() {
    let port = free_port().to_string();
    let listen = Cue::listen(&port, &["-m", "65002", "10.0.0.2"]);
    let mut speaker = Interactive::start(&[
        "--port",
        &port,
        "--commands",
        "--connect-retry",
        "1s",
        "-m",
        "-6",
        "2001:db8::9",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    // Sends a command and returns its answer (skipping event lines).
    let mut ask = |cmd: &str| -> String {
        speaker.send(cmd);
        loop {
            let line = speaker.lines.recv_timeout(T).expect("an answer");
            if line == "ok" || line.starts_with("error: ") {
                return line;
            }
        }
    };
    assert_eq!(ask("wait established 5s"), "ok");
    assert_eq!(ask("announce 198.51.100.7 2001:db8:7::/48"), "ok");
    assert_eq!(ask("set med 7"), "ok");
    assert_eq!(ask("set communities 65001:9 no-export"), "ok");
    let routes = || received_routes(&listen.stdout());
    wait_for("MED 7 at the listener", T, || {
        let r = routes();
        r.iter()
            .any(|x| {
                x["prefix"] == "2001:db8:7::/48"
                    && x["med"] == 7
                    && x["communities"][1] == "no-export"
            })
            .then_some(())
    });
    assert_eq!(ask("withdraw 198.51.100.7"), "ok");
    assert!(ask("set med lots").starts_with("error: set med"));
    assert!(ask("announce 300.1.1.1").starts_with("error: "));
    assert!(ask("reboot").starts_with("error: unknown command"));
    assert_eq!(ask("status"), "ok");
    assert_eq!(ask("sleep 10ms"), "ok");
    wait_for("the withdrawal at the listener", T, || {
        listen
            .stdout()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| {
                e["event"] == "update" && e["withdraw"] == serde_json::json!(["198.51.100.7/32"])
            })
            .then_some(())
    });
    assert_eq!(ask("quit"), "ok");
    let status = speaker.child.wait().unwrap();
    assert!(status.success());
    let out = listen.terminate();
    assert!(out.status.success());
}

/// `restart` from --commands: the session closes without withdrawing and
/// without a NOTIFICATION; a listener with graceful restart keeps the
/// routes as stale (the peer is restarting).
#[test]
fn the_restart_command_leaves_the_routes_at_the_peer() {
    let port = free_port().to_string();
    let listen = Cue::listen(&port, &["--graceful-restart", "30s", "65002", "10.0.0.2"]);
    let mut speaker = Interactive::start(&[
        "--port",
        &port,
        "--commands",
        "--graceful-restart",
        "30s",
        "--advertise",
        "198.51.100.8",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    speaker.send("wait established 5s");
    assert_eq!(speaker.reply(T), "ok");
    wait_for("the route at the listener", T, || {
        received_routes(&listen.stdout())
            .iter()
            .any(|r| r["prefix"] == "198.51.100.8/32")
            .then_some(())
    });
    speaker.send("restart");
    assert_eq!(speaker.reply(T), "ok");
    assert!(speaker.child.wait().unwrap().success());
    let restarting = wait_for("the listener to see a restart", T, || {
        listen
            .stdout()
            .lines()
            .find(|l| l.contains("\"restarting\""))
            .map(str::to_string)
    });
    assert!(restarting.contains("\"stale\":1"), "{restarting}");
    let out = listen.terminate();
    assert!(
        !out.stdout.contains("\"withdraw\":[\"198.51.100.8/32\"]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("\"notification\""), "{}", out.stdout);
}

#[test]
fn syn_checks_without_cap_net_raw_say_why_and_the_rest_works() {
    // Run as an unprivileged user when we are root and can drop privileges;
    // as an unprivileged user already, run as we are.
    let root = is_root();
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file());
    if root && setpriv.is_none() {
        return skip("no setpriv to drop root privileges");
    }
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = up.local_addr().unwrap().port();
    let config = format!(
        r#"{{"services": [
          {{"address": "192.0.2.30", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {port}, "checks": [{{"type": "syn", "interval": "100ms"}}]}}]}},
          {{"address": "192.0.2.31", "port": 80, "protocol": "tcp", "destinations": [
            {{"address": "127.0.0.1", "port": {port}, "checks": [{{"type": "tcp", "interval": "100ms"}}]}}]}}]}}"#
    );
    // A file the unprivileged user can read.
    let path = std::env::temp_dir().join(format!("cue-syn-{}.json", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let mut cmd = match (root, setpriv) {
        (true, Some(sp)) => {
            let mut c = Command::new(sp);
            c.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--inh-caps=-all",
            ]);
            c.arg(cue_bin());
            c
        }
        _ => Command::new(cue_bin()),
    };
    let o = cmd
        .args(["check", "--once", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The SYN service is down with the reason; the TCP one is up.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let status: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["event"] == "service_status")
        .collect();
    let syn = status
        .iter()
        .find(|s| s["address"] == "192.0.2.30")
        .unwrap();
    assert_eq!(syn["up"], false);
    assert!(
        syn["destinations"][0]["diagnostic"]
            .as_str()
            .unwrap()
            .contains("CAP_NET_RAW"),
        "{syn}"
    );
    let tcp = status
        .iter()
        .find(|s| s["address"] == "192.0.2.31")
        .unwrap();
    assert_eq!(tcp["up"], true, "{tcp}");
}

#[test]
fn tcp_md5_between_speaker_and_listen() {
    let port = free_port().to_string();
    let listen = Cue::listen(
        &port,
        &[
            "--peer",
            "127.0.0.1",
            "--md5-password",
            "k3y",
            "65002",
            "10.0.0.2",
        ],
    );
    let done = Cue::start(&[
        "--port",
        &port,
        "--md5-password",
        "k3y",
        "--connect-retry",
        "1s",
        "-a",
        "198.51.100.9",
        "--for",
        "1s",
        "--wait-established",
        "5s",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ])
    .wait(T);
    assert!(done.status.success(), "{}", done.stderr);
    wait_for("the route at the listener", T, || {
        (!received_routes(&listen.stdout()).is_empty()).then_some(())
    });
    assert!(listen.terminate().status.success());
    // listen needs --peer for a key, and a key is at most 80 bytes.
    let done = run(&["listen", "--md5-password", "k", "65002", "10.0.0.2"]);
    assert_eq!(done.status.code(), Some(2));
    assert!(done.stderr.contains("--peer"), "{}", done.stderr);
    let long = "x".repeat(81);
    let done = run(&["--md5-password", &long, "65001", "10.0.0.1", "127.0.0.1"]);
    assert_eq!(done.status.code(), Some(2));
}

#[test]
fn advertise_file_from_standard_input_and_commands_in_listen() {
    use std::io::Write;
    let port = free_port().to_string();
    // listen takes commands: it feeds a route to whoever connects.
    let mut listen = Interactive::start(&[
        "listen",
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "--json",
        "--commands",
        "65002",
        "10.0.0.2",
    ]);
    std::thread::sleep(Duration::from_millis(200));
    // The speaker reads its addresses from standard input.
    let mut speaker = Command::new(cue_bin())
        .args([
            "--port",
            &port,
            "--advertise-file",
            "-",
            "--connect-retry",
            "1s",
            "--for",
            "3s",
            "65001",
            "10.0.0.1",
            "127.0.0.1",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    speaker
        .stdin
        .take()
        .unwrap()
        .write_all(b"# from a pipe\n198.51.100.50\n198.51.100.0/28 # a prefix\n")
        .unwrap();
    listen.send("wait established 5s");
    listen.send("announce 203.0.113.5");
    let mut replies = Vec::new();
    let mut received = Vec::new();
    let deadline = std::time::Instant::now() + T;
    while (replies.len() < 2 || received.len() < 2) && std::time::Instant::now() < deadline {
        let Ok(line) = listen.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["event"] == "reply" {
            replies.push(v["result"].clone());
        } else if v["event"] == "update" && v["direction"] == "received" {
            for r in v["announce"].as_array().cloned().unwrap_or_default() {
                received.push(r["prefix"].as_str().unwrap_or("").to_string());
            }
        }
    }
    assert_eq!(replies, ["ok", "ok"]);
    received.sort();
    assert_eq!(received, ["198.51.100.0/28", "198.51.100.50/32"]);
    let out = speaker.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("received 203.0.113.5/32"), "{text}");
    listen.send("quit");
    assert!(listen.child.wait().unwrap().success());
}

#[test]
fn max_prefixes_closes_the_session() {
    let port = free_port().to_string();
    let listen = Cue::listen(&port, &["--max-prefixes", "2", "65002", "10.0.0.2"]);
    let speaker = Cue::start(&[
        "--port",
        &port,
        "--connect-retry",
        "1s",
        "-a",
        "198.51.100.1,198.51.100.2,198.51.100.3",
        "--for",
        "2s",
        "65001",
        "10.0.0.1",
        "127.0.0.1",
    ]);
    let done = speaker.wait(T);
    assert!(done.status.success());
    assert!(
        done.stdout
            .contains("notification received 6/1: Cease / Maximum Number of Prefixes Reached"),
        "{}",
        done.stdout
    );
    let out = listen.terminate();
    let n = out
        .json()
        .into_iter()
        .find(|e| e["event"] == "notification" && e["direction"] == "sent")
        .expect("a NOTIFICATION sent");
    assert_eq!(
        (n["code"].clone(), n["subcode"].clone()),
        (serde_json::json!(6), serde_json::json!(1))
    );
}
