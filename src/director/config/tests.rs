//! Tests of the director's configuration: parsing, defaults, and each
//! problem named.

use super::*;

/// A JSON error says where in the file's structure it is.
#[test]
fn a_json_error_names_its_path() {
    let e = Config::from_json(
        r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp"},
              {"address": "192.0.2.2", "port": 80, "protocol": "tcp", "destinations": [
                {"address": "10.0.0.1", "port": 80},
                {"address": "10.0.0.300", "port": 80}]}]}"#,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("services[1].destinations[1].address: invalid IP address syntax"),
        "{text}"
    );
    assert_eq!(e.field(), "json");
    let e = Config::from_json(
        r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "sctp"}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("services[0].protocol: unknown variant"), "{e}");
    // Not JSON at all: no path; trailing text after the object too.
    let e = Config::from_json("{").unwrap_err().to_string();
    assert!(e.starts_with("line 1 column 1: EOF"), "{e}");
    let e = Config::from_json(r#"{"services": []} x"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("trailing characters"), "{e}");
}

/// A configuration built in code is the one its JSON reads as, and is
/// checked the same way.
#[test]
fn built_in_code_as_read_from_json() {
    let built = ServiceConfig::new("192.0.2.10".parse().unwrap(), 80, Protocol::Tcp)
        .required(1)
        .destination(
            DestinationConfig::new("10.0.0.1".parse().unwrap(), 8080)
                .weight(2)
                .check(
                    CheckConfig::new(CheckType::Http)
                        .path("/health")
                        .http_method(HttpMethod::Head)
                        .expect([200, 204])
                        .interval(Duration::from_millis(500))
                        .rule(3, 2, 2),
                )
                .check(CheckConfig::command(["/bin/true"]).timeout(Duration::from_secs(1))),
        );
    let read: ServiceConfig = serde_json::from_str(
        r#"{"address": "192.0.2.10", "port": 80, "protocol": "tcp", "destinations": [
              {"address": "10.0.0.1", "port": 8080, "weight": 2, "checks": [
                {"type": "http", "path": "/health", "method": "HEAD", "expect": [200, 204],
                 "interval": "500ms", "window": 3, "rise": 2, "fall": 2},
                {"type": "command", "command": ["/bin/true"], "timeout": "1s"}]}]}"#,
    )
    .unwrap();
    assert_eq!(built, read);
    let bad = Config {
        services: vec![built.destination(
            DestinationConfig::new("10.0.0.2".parse().unwrap(), 80)
                .check(CheckConfig::new(CheckType::Tcp).rule(3, 4, 2)),
        )],
        ..Default::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("10.0.0.2:80"), "{e}");
}

const SAMPLE: &str = r#"{
      "services": [
        {
          "address": "192.168.101.1", "port": 80, "protocol": "tcp",
          "required": 1,
          "destinations": [
            {
              "address": "10.1.2.3", "port": 8080, "weight": 1, "disabled": false,
              "checks": [
                {"type": "http", "path": "/health", "expect": [200],
                 "method": "GET", "host": "www.example.com",
                 "interval": "2s", "timeout": "1s"}
              ]
            }
          ]
        }
      ]
    }"#;

#[test]
fn the_example_files_are_valid() {
    for text in [
        include_str!("../../../examples/services.json"),
        include_str!("../../../examples/services-loopback.json"),
    ] {
        Config::from_json(text).unwrap();
    }
    let c = Config::from_json(include_str!("../../../examples/services.json")).unwrap();
    let backup = c.services[0].down.as_ref().unwrap().overrides();
    assert_eq!(backup.med, Some(1000));
}

#[test]
fn sample_parses() {
    let c = Config::from_json(SAMPLE).unwrap();
    let d = &c.services[0].destinations[0];
    let spec = d.checks[0].spec(d).unwrap();
    assert_eq!(spec.host, "www.example.com");
    assert_eq!(spec.timeout, Duration::from_secs(1));
    assert_eq!(spec.port, 8080);
    assert_eq!(spec.rule, Rule::default());
}

fn err(text: &str) -> String {
    Config::from_json(text).unwrap_err().to_string()
}

#[test]
fn errors_name_the_place() {
    let e = err(&SAMPLE.replace("\"method\": \"GET\"", "\"method\": \"PUT\""));
    assert_eq!(
            e,
            "service 192.168.101.1:80/tcp: destination 10.1.2.3:8080: check 1 (http): method \"PUT\" is not GET or HEAD"
        );
    let e = err(&SAMPLE.replace("\"port\": 80,", "\"port\": 0,"));
    assert!(e.starts_with("service 192.168.101.1:0/tcp: port 0"), "{e}");
    let e = err(&SAMPLE.replace("\"port\": 8080", "\"port\": 0"));
    assert!(e.contains("destination 10.1.2.3:0: port 0"), "{e}");
    let e = err(&SAMPLE.replace("\"tcp\"", "\"sctp\""));
    assert!(e.contains("unknown variant `sctp`"), "{e}");
    let e = err(&SAMPLE.replace("\"2s\"", "\"soon\""));
    assert!(e.contains("not a duration"), "{e}");
    let e = err(&SAMPLE.replace("\"weight\"", "\"wieght\""));
    assert!(e.contains("unknown field `wieght`"), "{e}");
    let e = err(&SAMPLE.replace("[200]", "[700]"));
    assert!(e.contains("700 is not an HTTP status code"), "{e}");
    let e = err(&SAMPLE.replace("\"http\"", "\"dns\""));
    assert!(e.contains("method \"GET\" is not udp or tcp"), "{e}");
    let twice = SAMPLE.replace(
        "\"services\": [",
        "\"services\": [{\"address\": \"192.168.101.1\", \"port\": 80, \"protocol\": \"tcp\"},",
    );
    assert!(err(&twice).contains("listed twice"));
}
