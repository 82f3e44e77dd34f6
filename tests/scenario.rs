//! `cue-bgp scenario` against BIRD, FRR and GoBGP as the router under test: 100 emulated
//! peers x 1,000 routes and an observer, every prefix measured once each
//! way, flap cycles counted at the observer, a reset peer's routes
//! withdrawn by the router and measured, a limit that must fail failing;
//! the sample of `examples/scenarios/` run as written; files refused with
//! their line and key before anything starts.

mod common;

use common::*;
use std::time::Duration;

/// BIRD with the example configuration, on `port`.
fn start_bird(port: u16) -> Bird {
    let conf = include_str!("../examples/scenarios/bird.conf");
    assert!(conf.contains("port 1179"));
    Bird::start(&conf.replace("port 1179", &format!("port {port}")))
}

/// Runs `cue-bgp scenario FILE --json` on `text`; the exit status and the
/// report (checked against schema/scenario.schema.json).
fn run(text: &str, timeout: Duration) -> (Option<i32>, serde_json::Value, String) {
    run_with(text, timeout, &[])
}

/// As [`run`], with more arguments.
fn run_with(
    text: &str,
    timeout: Duration,
    args: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let dir = Scratch::new("scenario");
    let file = dir.path("s.toml");
    std::fs::write(&file, text).unwrap();
    let mut all = vec!["scenario", "--json"];
    all.extend_from_slice(args);
    all.push(file.to_str().unwrap());
    let done = Cue::start(&all).wait(timeout);
    let report: serde_json::Value = serde_json::from_str(done.stdout.trim())
        .unwrap_or_else(|e| panic!("no report ({e}): {} {}", done.stdout, done.stderr));
    check_report_schema(&report);
    (done.status.code(), report, done.stderr)
}

fn check_report_schema(report: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/scenario.schema.json")).unwrap();
    let v = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = v.iter_errors(report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "report against the schema: {errors:?}");
}

fn stats<'a>(report: &'a serde_json::Value, step: usize, kind: &str) -> &'a serde_json::Value {
    &report["steps"][step][kind]
}

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn a_hundred_peers_through_bird_each_prefix_measured() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let _bird = start_bird(port);
    let text = format!(
        r#"
router = {{ address = "127.0.0.1", port = {port}, as = 65000 }}
[[peers]]
count = 100
local = "127.0.1.1"
as = 65100
routes = "10.0.0.0/8 /26 1000"
[[observers]]
local = "127.0.0.250"
as = 65200
[[steps]]
announce = "all"
[[steps]]
wait = "converged"
[[steps]]
flap = "0-9"
count = 100
cycles = 3
period = "1s"
[[steps]]
wait = "converged"
[[steps]]
reset = "3"
[[steps]]
wait = "converged"
[[steps]]
withdraw = "all"
[[steps]]
wait = "converged"
[limits]
announce_p99 = "10s"
withdraw_p99 = "10s"
"#
    );
    let (code, r, stderr) = run(&text, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}\n{r}");
    assert_eq!(r["peers"], 100);
    assert_eq!(r["passed"], true);
    // Every prefix once each way.
    let a = stats(&r, 0, "announce");
    assert_eq!(
        (count(a, "sent"), count(a, "received"), count(a, "missing")),
        (100_000, 100_000, 0)
    );
    assert!(a["p50_ms"].as_f64().unwrap() > 0.0);
    let w = stats(&r, 6, "withdraw");
    assert_eq!(
        (count(w, "sent"), count(w, "received"), count(w, "missing")),
        (100_000, 100_000, 0)
    );
    // The flap: 10 peers x 100 routes x 3 cycles, each way, all seen.
    for kind in ["announce", "withdraw"] {
        let f = stats(&r, 2, kind);
        assert_eq!(
            (count(f, "sent"), count(f, "received")),
            (3000, 3000),
            "{kind}: {f}"
        );
    }
    // The reset: BIRD withdrew peer 3's 1,000 routes, and had them again
    // when the session came back.
    for kind in ["withdraw", "announce"] {
        let s = stats(&r, 4, kind);
        assert_eq!(
            (count(s, "sent"), count(s, "received")),
            (1000, 1000),
            "{kind}: {s}"
        );
    }
    for wait in [1, 3, 5, 7] {
        assert!(
            r["steps"][wait]["converged_s"].as_f64().is_some(),
            "step {wait}"
        );
    }
    // The observer held everything, then nothing.
    let held: Vec<u64> = r["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1][0].as_u64().unwrap())
        .collect();
    assert!(held.contains(&100_000), "{held:?}");
    assert_eq!(held.last(), Some(&0));
}

#[test]
fn a_limit_that_cannot_hold_fails_with_how_much() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let _bird = start_bird(port);
    let text = format!(
        r#"
router = {{ address = "127.0.0.1", port = {port}, as = 65000 }}
[[peers]]
count = 2
local = "127.0.1.1"
as = 65100
as_step = 0
routes = "10.200.0.0/16 /24 10"
[[observers]]
local = "127.0.0.250"
as = 65200
[[steps]]
announce = "all"
rate = 100
[[steps]]
wait = "converged"
[limits]
announce_p50 = "1us"
withdraw_p99 = "1s"
"#
    );
    let (code, r, stderr) = run(&text, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(r["passed"], false);
    let a = stats(&r, 0, "announce");
    assert_eq!(count(a, "received"), 20, "paced: {a}");
    // Paced at 100 routes a second: 20 routes take about 0.2 s.
    assert!(r["steps"][0]["duration_s"].as_f64().unwrap() >= 0.15, "{r}");
    assert!(stderr.contains("limit failed: announce_p50:"), "{stderr}");
    assert!(stderr.contains("ms over"), "{stderr}");
    // Nothing was withdrawn: a limit on it has nothing to measure, and fails.
    assert!(
        stderr.contains("withdraw_p99: nothing was measured"),
        "{stderr}"
    );
}

/// An MRT file of BGP4MP messages: two recorded peers, 50 routes each,
/// one prefix (10.99.0.0/24) in both.
fn two_peer_mrt() -> Vec<u8> {
    use cue::bgp::mrt::{encode_bgp4mp, Bgp4mpPeers};
    use cue::bgp::wire::{AsPath, DecodeContext, Message, Origin, PathAttributes, Update};
    let ctx = DecodeContext::with_four_octet_as(true);
    let mut out = Vec::new();
    for (n, asn) in [(1u8, 64601u32), (2, 64602)] {
        let mut nlri: Vec<ipnet::IpNet> = (0..49)
            .map(|i| format!("10.9{n}.{i}.0/24").parse().unwrap())
            .collect();
        nlri.push("10.99.0.0/24".parse().unwrap());
        let update = Message::Update(Update {
            withdrawn: vec![],
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(&[asn, 64700])),
                next_hop: Some("192.0.2.9".parse().unwrap()),
                ..Default::default()
            },
            nlri,
            ..Default::default()
        });
        let peers = Bgp4mpPeers {
            peer_as: asn,
            local_as: 65000,
            peer: format!("192.0.2.{n}").parse().unwrap(),
            local: "192.0.2.100".parse().unwrap(),
            four_octet_as: true,
            add_path_sent: false,
            add_path_received: false,
        };
        let at = std::time::SystemTime::UNIX_EPOCH;
        encode_bgp4mp(&peers, false, at, &update.to_bytes(ctx), &mut out);
    }
    out
}

#[test]
fn routes_from_a_file_and_from_an_mrt_dump_through_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = start_bird(port);
    let dir = Scratch::new("scenario-sources");
    // 300 routes for 3 peers, some with attributes of their own.
    let mut table = String::from("# the table\n");
    for i in 0..300 {
        let own = match i % 3 {
            0 => " community 65000:7",
            1 => " as-path 64999",
            _ => "",
        };
        table.push_str(&format!("10.50.{}.{}/30{own}\n", i / 64, (i % 64) * 4));
    }
    std::fs::write(dir.path("table.txt"), table).unwrap();
    std::fs::write(dir.path("rib.mrt"), two_peer_mrt()).unwrap();
    let text = format!(
        r#"
router = {{ address = "127.0.0.1", port = {port}, as = 65000 }}
[[peers]]
count = 3
local = "127.0.1.1"
as = 65100
file = "table.txt"
[[peers]]
local = "127.0.1.10"
as = 65300
mrt = "rib.mrt"
[[observers]]
local = "127.0.0.250"
as = 65200
[[steps]]
announce = "all"
[[steps]]
wait = "converged"
[[steps]]
wait = "4s"
[[steps]]
withdraw = "all"
[[steps]]
wait = "converged"
"#
    );
    let file = dir.path("s.toml");
    std::fs::write(&file, text).unwrap();
    // Run from elsewhere: the route files are the scenario file's neighbours.
    let cue = Cue::start(&["scenario", "--json", file.to_str().unwrap()]);
    // While announced: a route's own attributes reach BIRD.
    let own = wait_for("10.50.0.0/30 at BIRD", Duration::from_secs(30), || {
        bird.route("10.50.0.0/30")
    });
    assert!(own.contains("(65000,7)"), "{own}");
    let path = wait_for("10.50.0.4/30 at BIRD", Duration::from_secs(10), || {
        bird.route("10.50.0.4/30")
    });
    assert!(path.contains("65100 64999"), "{path}");
    // The MRT dump's routes, with the recorded path behind ours; the
    // prefix both recorded peers had is the first one's.
    let mrt = bird.route("10.99.0.0/24").expect("10.99.0.0/24 at BIRD");
    assert!(mrt.contains("65300 64601 64700"), "{mrt}");
    let second = bird.route("10.92.0.0/24").expect("10.92.0.0/24 at BIRD");
    assert!(second.contains("65301 64602 64700"), "{second}");
    let done = cue.wait(Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let r: serde_json::Value = serde_json::from_str(done.stdout.trim()).unwrap();
    check_report_schema(&r);
    assert_eq!(r["peers"], 5);
    let a = stats(&r, 0, "announce");
    let w = stats(&r, 3, "withdraw");
    for s in [a, w] {
        assert_eq!(
            (count(s, "sent"), count(s, "received"), count(s, "missing")),
            (399, 399, 0),
            "{s}"
        );
    }
}

#[test]
fn the_example_runs_as_written_against_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let _bird = start_bird(port);
    let text = include_str!("../examples/scenarios/bird.toml")
        .replace("port = 1179", &format!("port = {port}"));
    let dir = Scratch::new("plot");
    let svg = dir.path("run.svg");
    let plot = ["--plot", svg.to_str().unwrap()];
    let (code, r, stderr) = run_with(&text, Duration::from_secs(120), &plot);
    assert_eq!(code, Some(0), "{stderr}\n{r}");
    assert_eq!(
        count(&r["announce"], "missing") + count(&r["withdraw"], "missing"),
        0
    );
    assert_eq!(
        r["distribution"]["announce_ms"].as_array().unwrap().len(),
        101
    );
    // The plot: both panels, the observer's line, the steps marked.
    let svg = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for want in [
        "Routes held at the observers",
        "Latency through the router",
        "observer 0",
        "announce",
        "withdraw",
    ] {
        assert!(svg.contains(want), "{want} not in the plot");
    }
    // The observer's line (first colour) runs through the whole run, with
    // a point every 100 ms; the withdrawals' distribution has its own
    // colour.
    let observer = svg
        .split("<polyline")
        .find(|l| l.contains("stroke=\"#1F77B4\"") && l.contains("stroke-width=\"2\""))
        .expect("the observer's line");
    let points = observer
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(points.split_whitespace().count() > 20, "{points}");
    assert!(svg.contains("stroke=\"#D62728\""), "the withdrawals' line");
}

/// Runs an example scenario (`examples/scenarios/NAME.toml`, on `port`)
/// against a router already started: exit 0, and every change of the
/// example through the router each way, none folded away, the reset
/// peer's 1,000 routes withdrawn by the router.
fn example_through_the_router(example: &str, port: u16, router: &str) {
    let text = example.replace("port = 1179", &format!("port = {port}"));
    let (code, r, stderr) = run(&text, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}\n{r}");
    for kind in ["announce", "withdraw"] {
        let s = &r[kind];
        let counts = (count(s, "sent"), count(s, "received"), count(s, "missing"));
        assert_eq!(counts, (12_500, 12_500, 0), "{router}, {kind}: {s}");
    }
    let reset = stats(&r, 4, "withdraw");
    let withdrawn = count(reset, "received");
    assert_eq!(
        withdrawn, 1000,
        "{router} withdrew the reset peer's routes: {reset}"
    );
}

/// FRR's bgpd (no zebra) as the router: `bgp listen range` for the peers,
/// the example as written.
#[test]
fn the_frr_example_runs_as_written_against_frr() {
    if !have(BGPD) || !have("vtysh") {
        return;
    }
    let port = free_port();
    let _frr = Frr::start(include_str!("../examples/scenarios/frr.conf"), port);
    let example = include_str!("../examples/scenarios/frr.toml");
    example_through_the_router(example, port, "FRR");
}

/// gobgpd as the router: dynamic neighbours in one peer group (one AS),
/// the example as written.
#[test]
fn the_gobgp_example_runs_as_written_against_gobgp() {
    if !have("gobgpd") {
        return;
    }
    let port = free_port();
    let conf = include_str!("../examples/scenarios/gobgpd.toml");
    assert!(conf.contains("port = 1179"));
    let _gobgp = Gobgp::start(&conf.replace("port = 1179", &format!("port = {port}")));
    let example = include_str!("../examples/scenarios/gobgp.toml");
    example_through_the_router(example, port, "gobgpd");
}

#[test]
fn sessions_that_do_not_come_up_exit_3() {
    let port = free_port(); // nothing listens there
    let text = format!(
        "router = {{ address = \"127.0.0.1\", port = {port}, as = 65000 }}\n\
         establish_timeout = \"1s\"\n\
         [[peers]]\nlocal = \"127.0.1.1\"\nas = 65100\nroutes = \"10.0.0.0/8 /24 1\"\n"
    );
    let dir = Scratch::new("scenario");
    let file = dir.path("s.toml");
    std::fs::write(&file, text).unwrap();
    let done = Cue::start(&["scenario", file.to_str().unwrap()]).wait(Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("1 of 1 sessions not established within 1s"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("peer 0 (127.0.1.1, AS 65100)"),
        "{}",
        done.stderr
    );
}

/// A file that is wrong is refused with status 2, naming its line and key,
/// before anything starts (the router address here is never dialled: no
/// port is open there, and nothing waits for a timeout).
#[test]
fn wrong_files_are_refused_with_line_and_key() {
    let head = "router = { address = \"127.0.0.1\", port = 1, as = 65000 }\n";
    let peers = "[[peers]]\ncount = 10\nlocal = \"127.0.1.1\"\nas = 65100\nroutes = \"10.0.0.0/8 /24 10\"\n";
    let cases: &[(&str, &str)] = &[
        (
            "[[peers]]\nlocal = \"127.0.1.1\"\nas = 65100\nroutes = \"10.0.0.0/8 /24 1\"\ncolour = \"red\"\n",
            "line 6: colour: unknown field `colour`",
        ),
        (
            &format!("{peers}[[steps]]\nannounce = \"5-12\"\n"),
            "line 7: steps[0]: announce: no peer 12: there are 10 (0 to 9)",
        ),
        (
            &format!("{peers}[[observers]]\nlocal = \"127.0.1.5\"\nas = 65200\n"),
            "line 7: observers[0]: local address 127.0.1.5 is also peers[0]'s",
        ),
        (
            &format!("{peers}[[peers]]\nlocal = \"127.0.2.1\"\nas = 65300\nroutes = \"10.0.0.0/16 /24 5\"\n"),
            "line 7: peers[1].routes: overlap the routes of peers[0]",
        ),
        (
            "[[peers]]\nlocal = \"127.0.1.1\"\nas = 65100\nroutes = \"10.0.0.0/24 /25 3\"\n",
            "line 2: peers[0]: routes: 10.0.0.0/24 holds 2 /25s, 3 wanted",
        ),
        (
            &format!("{peers}[[steps]]\nwait = \"soon\"\n"),
            "line 7: steps[0]: wait: \"soon\" is not a duration",
        ),
        (
            &format!("{peers}[[steps]]\nannounce = \"all\"\nwithdraw = \"all\"\n"),
            "line 7: steps[0]: a step has one of announce, withdraw, wait, flap or reset",
        ),
        (
            &format!("{peers}[[steps]]\nreset = \"1\"\nrate = 10\n"),
            "line 7: steps[0]: rate does not go with this step",
        ),
        (
            &format!("{peers}[limits]\nannounce_p99 = 2\n"),
            "line 8: announce_p99: invalid type: integer `2`, expected a string",
        ),
    ];
    let dir = Scratch::new("scenario");
    for (i, (body, want)) in cases.iter().enumerate() {
        let file = dir.path(&format!("bad{i}.toml"));
        std::fs::write(&file, format!("{head}{body}")).unwrap();
        let stderr = refused(&["scenario", file.to_str().unwrap()]);
        assert!(
            stderr.contains(want),
            "case {i}: want {want:?}, got {stderr:?}"
        );
    }
    // A good file passes --check without starting anything.
    let file = dir.path("good.toml");
    std::fs::write(&file, format!("{head}{peers}")).unwrap();
    let done =
        Cue::start(&["scenario", "--check", file.to_str().unwrap()]).wait(Duration::from_secs(10));
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stdout.contains("10 peers, 0 observers, 0 steps"),
        "{}",
        done.stdout
    );
}
