//! Route health injection through the library (`cue::rhi::HealthInjector`),
//! `examples/load_balancer.rs` and `examples/first_program.rs`, against a
//! real BIRD on loopback.

mod common;

use common::*;
use cue::bgp::{Parameters, PeerConfig, Pool, State};
use cue::director::Config;
use cue::rhi::HealthInjector;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// A BIRD waiting for an iBGP speaker on 127.0.0.1 (AS 65001); it logs
/// every route it adds and removes.
fn bird(port: u16) -> Bird {
    bird_passive(port, "127.0.0.1", "127.0.0.1", 65001, 65001)
}

/// A pool with one iBGP peer, the BIRD on `port` (IPv6 routes too when
/// `multiprotocol`, with next hop ::1).
fn speaker(rt: &tokio::runtime::Runtime, port: u16, multiprotocol: bool) -> Pool {
    let (pool, _events) = Pool::new();
    let peer = PeerConfig::builder(
        "127.0.0.1".parse().unwrap(),
        65001,
        "127.0.0.1".parse().unwrap(),
    )
    .port(port)
    .multiprotocol(multiprotocol)
    .connect_retry(Duration::from_millis(500))
    .parameters(Parameters {
        next_hop6: Some("::1".parse().unwrap()),
        ..Default::default()
    })
    .build()
    .unwrap();
    rt.block_on(pool.configure(vec![peer])).unwrap();
    pool
}

fn service(vip: &str, port: u16) -> String {
    format!(
        r#"{{"address": "{vip}", "port": 80, "protocol": "tcp", "destinations": [
          {{"address": "127.0.0.1", "port": {port}, "checks": [{{"type": "tcp", "interval": "100ms", "timeout": "100ms", "window": 3, "rise": 2, "fall": 2}}]}}]}}"#
    )
}

fn config(services: &[String]) -> Config {
    Config::from_json(&format!(r#"{{"services": [{}]}}"#, services.join(","))).unwrap()
}

#[test]
fn health_injector_follows_backends_keeps_fixed_prefixes_and_reconfigures_without_a_flap() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird(port);
    let mut a = Backend::start("127.0.0.1:0");
    let b = Backend::start("127.0.0.1:0");
    let c = Backend::start("127.0.0.1:0");
    let (pa, pb, pc) = (a.addr.port(), b.addr.port(), c.addr.port());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();

    let pool = speaker(&rt, port, true);
    let (rhi, _health) = HealthInjector::start_with_fixed(
        pool.clone(),
        config(&[service("192.0.2.50", pa), service("2001:db8::51", pb)]),
        std::sync::Arc::new(["10.9.9.0/24".parse().unwrap()].into()),
    )
    .unwrap();

    // The fixed prefix and both VIPs, once their backends are proven.
    let all = sorted(&["10.9.9.0/24", "192.0.2.50/32", "2001:db8::51/128"]);
    wait_for("fixed prefix and VIPs in BIRD", T, || {
        (prefixes(&bird) == all).then_some(())
    });
    assert_eq!(pool.status()[0].state, State::Established);

    // A backend stops: its VIP leaves, the rest stays.
    a.stop();
    wait_for("192.0.2.50 withdrawn", T, || {
        (prefixes(&bird) == sorted(&["10.9.9.0/24", "2001:db8::51/128"])).then_some(())
    });
    // BIRD logs what it removes (what the no-flap checks below count).
    wait_for("BIRD to log the removal", T, || {
        (removals(&bird, "192.0.2.50/32") > 0).then_some(())
    });
    a.resume();
    wait_for("192.0.2.50 back", T, || {
        (prefixes(&bird) == all).then_some(())
    });

    // Reconfigure: a new VIP on a third backend, the IPv6 one kept with a
    // changed check. Poll BIRD throughout: 2001:db8::51 never leaves.
    let removed_before = removals(&bird, "2001:db8::51/128");
    rhi.reconfigure(config(&[
        service("192.0.2.50", pa),
        service("2001:db8::51", pb).replace("\"window\": 3", "\"window\": 4"),
        service("192.0.2.52", pc),
    ]))
    .unwrap();
    let with_new = sorted(&[
        "10.9.9.0/24",
        "192.0.2.50/32",
        "192.0.2.52/32",
        "2001:db8::51/128",
    ]);
    let started = Instant::now();
    loop {
        let now = prefixes(&bird);
        assert!(
            now.contains(&"2001:db8::51/128".to_string())
                && now.contains(&"192.0.2.50/32".to_string()),
            "a healthy VIP left BIRD during the reconfiguration: {now:?}"
        );
        if now == with_new {
            break;
        }
        assert!(started.elapsed() < T, "the new VIP never came: {now:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A refused configuration changes nothing.
    let mut bad = config(&[service("192.0.2.60", pa)]);
    bad.services[0].destinations[0].checks.clear();
    assert_eq!(rhi.reconfigure(bad).unwrap_err().field(), "checks");

    // New fixed prefixes: the old one goes, the VIPs stay.
    rhi.set_fixed(["10.8.8.0/24".parse().unwrap()]);
    let refixed = sorted(&[
        "10.8.8.0/24",
        "192.0.2.50/32",
        "192.0.2.52/32",
        "2001:db8::51/128",
    ]);
    wait_for("new fixed prefix", T, || {
        (prefixes(&bird) == refixed).then_some(())
    });
    assert_eq!(
        removals(&bird, "2001:db8::51/128"),
        removed_before,
        "{}",
        bird.log()
    );
    assert_eq!(removals(&bird, "192.0.2.52/32"), 0);

    // Shutdown withdraws everything and closes with Cease.
    let status = rt.block_on(rhi.shutdown());
    assert_eq!(status.len(), 1);
    wait_for("everything withdrawn", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
    drop((b, c));
}

#[test]
fn a_down_service_with_a_backup_keeps_its_vip_with_other_attributes() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird(port);
    let mut a = Backend::start("127.0.0.1:0");
    let pa = a.addr.port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let pool = speaker(&rt, port, false);
    // Two VIPs on one backend: .80 has a backup path, .81 has none.
    let backup = service("192.0.2.80", pa).replace(
        "\"protocol\": \"tcp\",",
        "\"protocol\": \"tcp\", \"down\": {\"med\": 500, \"local_pref\": 50, \"communities\": [\"65000:666\"]},",
    );
    let (_rhi, _health) =
        HealthInjector::start(pool.clone(), config(&[backup, service("192.0.2.81", pa)])).unwrap();
    let both = sorted(&["192.0.2.80/32", "192.0.2.81/32"]);
    wait_for("both VIPs", T, || (prefixes(&bird) == both).then_some(()));
    let healthy = bird.route("192.0.2.80/32").unwrap();
    assert!(!healthy.contains("BGP.med"), "{healthy}");
    assert!(healthy.contains("BGP.local_pref: 100"), "{healthy}");

    // The backend stops: .81 is withdrawn, .80 stays as the backup path.
    a.stop();
    wait_for("the backup path", T, || {
        let r = bird.route("192.0.2.80/32")?;
        (prefixes(&bird) == ["192.0.2.80/32"] && r.contains("BGP.med: 500")).then_some(())
    });
    let down = bird.route("192.0.2.80/32").unwrap();
    assert!(down.contains("BGP.local_pref: 50"), "{down}");
    assert!(down.contains("(65000,666)"), "{down}");

    // Back: the session's own attributes again.
    a.resume();
    wait_for("the healthy path again", T, || {
        let r = bird.route("192.0.2.80/32")?;
        (prefixes(&bird) == both && !r.contains("BGP.med")).then_some(())
    });
    // .80 was replaced twice, never removed; .81 was.
    assert_eq!(removals(&bird, "192.0.2.80/32"), 0, "{}", bird.log());
    assert!(removals(&bird, "192.0.2.81/32") > 0, "{}", bird.log());
}

/// Draining (RFC 8326): while the service's drain file exists, its VIP is
/// announced with GRACEFUL_SHUTDOWN and LOCAL_PREF 0, then withdrawn at the
/// end of the drain time; when the file goes, it is back. A drain asked
/// for through the library does the same.
#[test]
fn a_drained_service_goes_with_graceful_shutdown_then_away_then_back() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird(port);
    let a = Backend::start("127.0.0.1:0");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let pool = speaker(&rt, port, false);
    let dir = Scratch::new("drain");
    let file = dir.path("drain");
    let drained = service("192.0.2.90", a.addr.port()).replace(
        "\"protocol\": \"tcp\",",
        &format!(
            "\"protocol\": \"tcp\", \"drain_file\": {:?}, \"drain_time\": \"2s\",",
            file.to_str().unwrap()
        ),
    );
    let (rhi, _health) = HealthInjector::start(pool.clone(), config(&[drained])).unwrap();
    let vip = "192.0.2.90/32";
    let plain = wait_for("the VIP", T, || bird.route(vip));
    assert!(!plain.contains("(65535,0)"), "{plain}");
    assert!(plain.contains("BGP.local_pref: 100"), "{plain}");

    // The drain file: GRACEFUL_SHUTDOWN and LOCAL_PREF 0, then withdrawn.
    std::fs::write(&file, "").unwrap();
    let started = Instant::now();
    let shut = wait_for("GRACEFUL_SHUTDOWN", T, || {
        bird.route(vip).filter(|r| r.contains("(65535,0)"))
    });
    assert!(shut.contains("BGP.local_pref: 0"), "{shut}");
    wait_for("the withdrawal", T, || {
        bird.route(vip).is_none().then_some(())
    });
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "withdrawn before the drain time: {:?}",
        started.elapsed()
    );
    // The file goes: back, with the session's attributes.
    std::fs::remove_file(&file).unwrap();
    let back = wait_for("the VIP back", T, || bird.route(vip));
    assert!(!back.contains("(65535,0)"), "{back}");

    // The same through the library, ended before its drain time.
    rhi.director().drain(true);
    wait_for("GRACEFUL_SHUTDOWN again", T, || {
        bird.route(vip).filter(|r| r.contains("(65535,0)"))
    });
    rhi.director().drain(false);
    wait_for("the plain VIP again", T, || {
        bird.route(vip).filter(|r| !r.contains("(65535,0)"))
    });
    drop(a);
}

/// The embedder's first program (announce two, await sent, withdraw one,
/// await sent, stop), stepped through from its standard input: BIRD holds
/// both routes, then one, then none, and the program exits 0.
#[test]
fn first_program_example_runs_against_bird() {
    if !have("bird") {
        return skip("bird is not installed");
    }
    use std::io::{BufRead, Write};
    let port = free_port();
    let bird = bird(port);
    let mut child = Command::new(example("first_program"))
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, said) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    assert_eq!(
        said.recv_timeout(T).unwrap(),
        "announced 192.0.2.10/32 192.0.2.11/32"
    );
    // Sent means sent: BIRD holds both once it has read them.
    let both = sorted(&["192.0.2.10/32", "192.0.2.11/32"]);
    wait_for("both routes in BIRD", T, || {
        (prefixes(&bird) == both).then_some(())
    });
    writeln!(stdin).unwrap();
    assert_eq!(said.recv_timeout(T).unwrap(), "withdrew 192.0.2.11/32");
    let one = sorted(&["192.0.2.10/32"]);
    wait_for("one route in BIRD", T, || {
        (prefixes(&bird) == one).then_some(())
    });
    drop(stdin);
    assert_eq!(said.recv_timeout(T).unwrap(), "stopped");
    let status = wait_for("the example to exit", T, || child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    wait_for("nothing left in BIRD", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
}

#[test]
fn load_balancer_example_runs_against_bird() {
    if !have("bird") {
        return;
    }
    let port = free_port();
    let bird = bird(port);
    let backend = Backend::start("127.0.0.1:0");
    let dir = Scratch::new("lb");
    let file = dir.path("services.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"services": [{}, {}]}}"#,
            service("192.0.2.70", backend.addr.port()),
            service("2001:db8::70", backend.addr.port())
        ),
    )
    .unwrap();
    let bin = example("load_balancer");
    assert!(bin.exists(), "{} not built", bin.display());
    let out = dir.path("out.txt");
    let mut child = Command::new(&bin)
        .arg(&file)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let want = sorted(&["192.0.2.70/32", "2001:db8::70/128"]);
    wait_for("the example's VIPs in BIRD", T, || {
        (prefixes(&bird) == want).then_some(())
    });
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = wait_for("the example to exit", T, || child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    wait_for("everything withdrawn", T, || {
        prefixes(&bird).is_empty().then_some(())
    });
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("service 192.0.2.70:80/tcp up"), "{text}");
    assert!(text.contains("announced 192.0.2.70/32"), "{text}");
    assert!(text.contains("peer 127.0.0.1: ESTABLISHED"), "{text}");
    let log = bird.log();
    assert!(
        log.contains("Administrative shutdown") || log.contains("Cease"),
        "{log}"
    );
}
