//! Every invalid configuration is refused by the library with a typed error
//! naming the field, whichever way it was built: the builder, a struct
//! written by hand and given to `Pool::configure`, `Session::spawn`,
//! `Pool::accept_any` or `Pool::set_parameters`; and for the director,
//! JSON, `Director::start`, `Director::reconfigure` and `HealthInjector`.

use cue::bgp::{Parameters, PeerConfig, PeerConfigError, Pool, PoolConfigError, Session};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

fn good() -> PeerConfig {
    PeerConfig::new(
        "127.0.0.1".parse().unwrap(),
        65001,
        Ipv4Addr::new(10, 0, 0, 1),
    )
}

/// Each refused configuration, the field its error names, and how it was
/// made from a good one.
fn refused() -> Vec<(&'static str, &'static str, PeerConfig)> {
    let with = |f: &dyn Fn(&mut PeerConfig)| {
        let mut c = good();
        f(&mut c);
        c
    };
    let at = |ip: &str| with(&|c| c.address = SocketAddr::new(ip.parse().unwrap(), 179));
    vec![
        ("hold time 1", "hold_time", with(&|c| c.hold_time = 1)),
        ("hold time 2", "hold_time", with(&|c| c.hold_time = 2)),
        ("local AS 0", "local_as", with(&|c| c.local_as = 0)),
        ("peer AS 0", "peer_as", with(&|c| c.peer_as = Some(0))),
        (
            "router ID 0.0.0.0",
            "router_id",
            with(&|c| c.router_id = Ipv4Addr::UNSPECIFIED),
        ),
        ("unspecified IPv4 peer", "address", at("0.0.0.0")),
        ("unspecified IPv6 peer", "address", at("::")),
        ("multicast IPv4 peer", "address", at("224.0.0.5")),
        ("multicast IPv6 peer", "address", at("ff02::5")),
        ("broadcast peer", "address", at("255.255.255.255")),
        ("link-local without zone", "address", at("fe80::1")),
        (
            "zone on a global address",
            "address",
            with(&|c| {
                c.address =
                    SocketAddr::V6(SocketAddrV6::new("2001:db8::1".parse().unwrap(), 179, 0, 2))
            }),
        ),
        (
            "port 0 when dialling",
            "address",
            with(&|c| c.address.set_port(0)),
        ),
        (
            "retry below 100ms",
            "connect_retry",
            with(&|c| c.connect_retry = Duration::from_millis(10)),
        ),
        (
            "empty MD5 key",
            "md5_key",
            with(&|c| c.md5_key = Some(String::new())),
        ),
        (
            "MD5 key of 81 bytes",
            "md5_key",
            with(&|c| c.md5_key = Some("k".repeat(81))),
        ),
        (
            "max prefixes 0",
            "max_prefixes",
            with(&|c| c.max_prefixes = Some(0)),
        ),
        (
            "graceful restart time of 0",
            "graceful_restart",
            with(&|c| c.graceful_restart = Some(Duration::ZERO)),
        ),
        (
            "graceful restart time over 4095 s",
            "graceful_restart",
            with(&|c| c.graceful_restart = Some(Duration::from_secs(4096))),
        ),
        (
            "GTSM for 0 hops",
            "ttl_security",
            with(&|c| c.ttl_security = Some(0)),
        ),
        (
            "source of the other family",
            "source",
            with(&|c| c.source = Some("::1".parse().unwrap())),
        ),
        (
            "multicast source",
            "source",
            with(&|c| c.source = Some("224.0.0.1".parse().unwrap())),
        ),
        (
            "multicast IPv4 next hop",
            "parameters.next_hop4",
            with(&|c| c.parameters.next_hop4 = Some("224.0.0.1".parse().unwrap())),
        ),
        (
            "unspecified IPv6 next hop",
            "parameters.next_hop6",
            with(&|c| c.parameters.next_hop6 = Some("::".parse().unwrap())),
        ),
    ]
}

#[test]
fn every_refused_peer_configuration_names_its_field() {
    assert_eq!(good().validate(), Ok(()));
    for (what, field, config) in refused() {
        let e = config.validate().unwrap_err();
        assert_eq!(e.field(), field, "{what}: {e}");
        assert!(e.to_string().starts_with(field), "{what}: {e}");
    }
}

#[test]
fn the_builder_refuses_what_validate_refuses() {
    let b = || {
        PeerConfig::builder(
            "127.0.0.1".parse().unwrap(),
            65001,
            Ipv4Addr::new(10, 0, 0, 1),
        )
    };
    assert!(b()
        .port(1179)
        .hold_time(0)
        .multiprotocol(true)
        .build()
        .is_ok());
    assert_eq!(b().hold_time(2).build(), Err(PeerConfigError::HoldTime(2)));
    assert_eq!(b().port(0).build(), Err(PeerConfigError::PortZero));
    assert!(
        b().port(0).passive(true).build().is_ok(),
        "a passive peer takes any port"
    );
    assert_eq!(b().peer_as(0).build(), Err(PeerConfigError::PeerAsZero));
    assert_eq!(
        b().md5_key("").build(),
        Err(PeerConfigError::Md5KeyLength(0))
    );
    assert_eq!(
        b().max_prefixes(0).build(),
        Err(PeerConfigError::MaxPrefixesZero)
    );
    assert_eq!(
        b().ttl_security(0).build(),
        Err(PeerConfigError::TtlSecurityZero)
    );
    let short = Duration::from_millis(500);
    let e = b().send_hold_time(short).build().unwrap_err();
    assert_eq!(e, PeerConfigError::SendHoldTime(short));
    assert_eq!(e.field(), "send_hold_time");
    assert!(b().send_hold_time(Duration::from_secs(1)).build().is_ok());
    assert!(b().ttl_security(1).build().is_ok());
    let ll: IpAddr = "fe80::1".parse().unwrap();
    let e = PeerConfig::builder(ll, 65001, Ipv4Addr::new(10, 0, 0, 1))
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "address");
}

#[tokio::test]
async fn the_pool_and_sessions_refuse_them_and_keep_what_runs() {
    let (pool, _events) = Pool::new();
    // A running, valid configuration (passive: nothing is dialled).
    let mut running = good();
    running.passive = true;
    pool.configure(vec![running.clone()]).await.unwrap();
    for (what, field, config) in refused() {
        let mut other = config.clone();
        other.address = SocketAddr::new("127.0.0.9".parse().unwrap(), other.address.port());
        let list = if field == "address" {
            vec![running.clone(), config.clone()]
        } else {
            vec![running.clone(), other]
        };
        match pool.configure(list).await {
            Err(PoolConfigError::Peer { error, .. }) => assert_eq!(error.field(), field, "{what}"),
            r => panic!("{what}: {r:?}"),
        }
        // Nothing of the refused list was applied.
        let status = pool.status();
        assert_eq!(status.len(), 1, "{what}");
        assert_eq!(status[0].peer, "127.0.0.1");
        let (_tx, rx) = tokio::sync::watch::channel(Default::default());
        let (events, _) = cue::bgp::event_channel(16);
        assert_eq!(
            Session::spawn(config.clone(), rx, events)
                .err()
                .map(|e| e.field()),
            Some(field),
            "{what}"
        );
        // The template's address is each peer's: the family of a source
        // cannot be judged against it.
        if field != "address" && what != "source of the other family" {
            assert!(
                matches!(
                    pool.accept_any(Some(config.clone())),
                    Err(PoolConfigError::Template(_))
                ),
                "{what}"
            );
        }
    }
    // Two configurations for one address.
    assert_eq!(
        pool.configure(vec![running.clone(), running.clone()]).await,
        Err(PoolConfigError::Duplicate("127.0.0.1".parse().unwrap()))
    );
    // The accept-any template's own address is not checked (each peer
    // brings its own), the rest is.
    let mut template = good();
    template.address = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    assert!(pool.accept_any(Some(template)).is_ok());
    // Parameters changed at run time are checked too.
    let bad = Parameters {
        next_hop4: Some(Ipv4Addr::BROADCAST),
        ..Default::default()
    };
    assert!(matches!(
        pool.set_parameters(bad),
        Err(PoolConfigError::Parameters(PeerConfigError::NextHop(_)))
    ));
    pool.shutdown().await;
}

#[cfg(feature = "director")]
mod director {
    use cue::director::{
        CheckProblem, Config, ConfigError, DestinationProblem, Director, ServiceProblem,
    };
    use cue::rhi::HealthInjector;

    const GOOD: &str = r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
      "destinations": [{"address": "127.0.0.1", "port": 9, "checks": [CHECK]}]}]}"#;

    fn with_check(check: &str) -> String {
        GOOD.replace("CHECK", check)
    }

    fn tcp() -> String {
        with_check(r#"{"type": "tcp"}"#)
    }

    fn check_problem(check: &str) -> CheckProblem {
        match Config::from_json(&with_check(check)) {
            Err(ConfigError::Check {
                problem, index: 1, ..
            }) => problem,
            r => panic!("{check}: {r:?}"),
        }
    }

    #[test]
    fn every_refused_check_names_its_field() {
        assert!(Config::from_json(&with_check(r#"{"type": "tcp"}"#)).is_ok());
        for (check, field) in [
            (r#"{"type": "http", "method": "PUT"}"#, "method"),
            (r#"{"type": "dns", "method": "quic"}"#, "method"),
            (r#"{"type": "tcp", "method": "GET"}"#, "method"),
            (r#"{"type": "tcp", "path": "/"}"#, "type"),
            (r#"{"type": "http", "expect": [99]}"#, "expect"),
            (r#"{"type": "http", "path": "health"}"#, "path"),
            (r#"{"type": "http", "host": "a b"}"#, "host"),
            (r#"{"type": "tcp", "port": 0}"#, "port"),
            (r#"{"type": "tcp", "interval": "1ms"}"#, "interval"),
            (r#"{"type": "tcp", "timeout": "0s"}"#, "timeout"),
            (r#"{"type": "tcp", "window": 0}"#, "window"),
            (r#"{"type": "tcp", "window": 33}"#, "window"),
            (r#"{"type": "tcp", "rise": 6}"#, "rise"),
            (r#"{"type": "tcp", "fall": 0}"#, "fall"),
            (r#"{"type": "tcp", "rise": 2, "fall": 3}"#, "fall"),
        ] {
            assert_eq!(check_problem(check).field(), field, "{check}");
        }
    }

    #[test]
    fn services_and_destinations() {
        let e = Config::from_json(&tcp().replace("\"port\": 80", "\"port\": 0")).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Service {
                    problem: ServiceProblem::PortZero,
                    ..
                }
            ),
            "{e}"
        );
        let e = Config::from_json(&tcp().replace(
            "\"protocol\": \"tcp\",",
            "\"protocol\": \"tcp\", \"required\": 0,",
        ))
        .unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Service {
                    problem: ServiceProblem::RequiredZero,
                    ..
                }
            ),
            "{e}"
        );
        let e = Config::from_json(
            &GOOD
                .replace("\"port\": 9", "\"port\": 0")
                .replace("CHECK", r#"{"type": "tcp"}"#),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Destination {
                    problem: DestinationProblem::PortZero,
                    ..
                }
            ),
            "{e}"
        );
        // No checks: refused, unless the destination is out of service.
        let none = GOOD.replace("CHECK", "");
        let e = Config::from_json(&none).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Destination {
                    problem: DestinationProblem::NoChecks,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.field(), "checks");
        assert!(Config::from_json(
            &none.replace("\"port\": 9,", "\"port\": 9, \"disabled\": true,")
        )
        .is_ok());
        assert!(
            Config::from_json(&none.replace("\"port\": 9,", "\"port\": 9, \"weight\": 0,")).is_ok()
        );
        // A backup path must set something apart, with communities that parse.
        let down = |d: &str| {
            tcp().replace(
                "\"protocol\": \"tcp\",",
                &format!("\"protocol\": \"tcp\", \"down\": {d},"),
            )
        };
        let e = Config::from_json(&down("{}")).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Service {
                    problem: ServiceProblem::EmptyBackup,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.field(), "down");
        let e = Config::from_json(&down(r#"{"communities": ["65536:1"]}"#)).unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        let ok =
            Config::from_json(&down(r#"{"prepend": 3, "large_communities": ["1:2:3"]}"#)).unwrap();
        assert_eq!(ok.services[0].down.as_ref().unwrap().overrides().prepend, 3);
        let e = Config::from_json("{\"services\": [}").unwrap_err();
        assert_eq!(e.field(), "json");
        assert!(matches!(e, ConfigError::Syntax { line: 1, .. }));
    }

    #[tokio::test]
    async fn configurations_built_in_code_are_checked_at_start_and_reload() {
        let good = Config::from_json(&with_check(r#"{"type": "tcp", "interval": "1s"}"#)).unwrap();
        let mut no_checks = good.clone();
        no_checks.services[0].destinations[0].checks.clear();
        let mut bad_check = good.clone();
        bad_check.services[0].destinations[0].checks[0].rise = Some(0);

        for bad in [&no_checks, &bad_check] {
            assert!(Director::start(bad.clone()).is_err());
            let (pool, _) = cue::bgp::Pool::new();
            assert!(HealthInjector::start(pool, bad.clone()).is_err());
        }
        let (director, _events) = Director::start(good.clone()).unwrap();
        assert_eq!(
            director.reconfigure(no_checks).unwrap_err().field(),
            "checks"
        );
        assert_eq!(director.reconfigure(bad_check).unwrap_err().field(), "rise");
        assert_eq!(
            director.status()[0].destinations.len(),
            1,
            "the running configuration stays"
        );
        director.stop();
    }
}

/// Valid, but known to be refused by peers: said by `warnings`, not refused.
#[test]
fn warnings_for_what_peers_refuse() {
    use cue::bgp::ConfigWarning;
    let id = Ipv4Addr::new(10, 0, 0, 1);
    let v4 = PeerConfig::builder("192.0.2.1".parse().unwrap(), 65001, id)
        .multiprotocol(true)
        .build()
        .unwrap();
    assert_eq!(
        v4.warnings(),
        vec![ConfigWarning::MappedNextHop6 {
            peer: "192.0.2.1".parse().unwrap()
        }]
    );
    let mut v6 = PeerConfig::builder("2001:db8::1".parse().unwrap(), 65001, id)
        .multiprotocol(true)
        .build()
        .unwrap();
    assert!(matches!(
        v6.warnings()[..],
        [ConfigWarning::RouterIdNextHop4 { .. }]
    ));
    v6.parameters.next_hop4 = Some(Ipv4Addr::LOCALHOST);
    assert!(matches!(
        v6.warnings()[..],
        [ConfigWarning::LoopbackNextHop { .. }]
    ));
    v6.parameters.next_hop4 = Some(Ipv4Addr::new(192, 0, 2, 9));
    assert!(v6.warnings().is_empty());
    // A peer on loopback may have a loopback next hop.
    let mut lo = PeerConfig::new(Ipv4Addr::LOCALHOST.into(), 65001, id);
    lo.parameters.next_hop4 = Some(Ipv4Addr::LOCALHOST);
    assert!(lo.warnings().is_empty());
}
