//! The director's configuration: JSON read with serde, then checked as a
//! whole. A bad configuration is rejected with an error that names the
//! service, the destination, the check and the field.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// Kinds of health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    /// HTTP request; the status code is judged.
    Http,
    /// HTTP over TLS.
    Https,
    /// Half-open TCP: SYN, wait for SYN-ACK (raw socket, CAP_NET_RAW).
    Syn,
    /// DNS query for `localhost IN A`.
    Dns,
    /// Plain TCP connect.
    Tcp,
}

impl fmt::Display for CheckType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckType::Http => "http",
            CheckType::Https => "https",
            CheckType::Syn => "syn",
            CheckType::Dns => "dns",
            CheckType::Tcp => "tcp",
        })
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| {
        humantime::parse_duration(&s)
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like 2s: {e}")))
    })
    .transpose()
}

/// A health check as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// http, https, syn, dns or tcp.
    #[serde(rename = "type")]
    pub kind: CheckType,
    /// Port to probe (default: the destination's).
    #[serde(default)]
    pub port: Option<u16>,
    /// HTTP Host header and TLS SNI name (default: the destination address).
    #[serde(default)]
    pub host: Option<String>,
    /// HTTP path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Accepted HTTP status codes: empty means 200; 0 accepts any.
    #[serde(default)]
    pub expect: Vec<u16>,
    /// GET or HEAD for http(s); udp or tcp for dns.
    #[serde(default)]
    pub method: Option<String>,
    /// Time between probes (default 2s).
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    /// Time a whole probe may take (default 2s; 1s for dns).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// How many recent results are kept (default 5).
    #[serde(default)]
    pub window: Option<u8>,
    /// Passes within the window for a down check to come up (default 5).
    #[serde(default)]
    pub rise: Option<u8>,
    /// An up check goes down when fewer than this many of the window passed
    /// (default 4).
    #[serde(default)]
    pub fall: Option<u8>,
    /// Verify the TLS certificate (https; default false).
    #[serde(default)]
    pub verify: bool,
}

/// A destination (backend) as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// Backend address.
    pub address: IpAddr,
    /// Backend port.
    pub port: u16,
    /// Weight; 0 takes the destination out of service.
    #[serde(default = "one")]
    pub weight: u32,
    /// Administratively out of service.
    #[serde(default)]
    pub disabled: bool,
    /// Health checks; all must pass.
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
}

fn one() -> u32 {
    1
}

/// A service as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The VIP.
    pub address: IpAddr,
    /// Service port.
    pub port: u16,
    /// tcp or udp.
    pub protocol: Protocol,
    /// Healthy destinations needed for the service to be up (default 1).
    #[serde(default = "one")]
    pub required: u32,
    /// Scheduler name, kept for the embedder.
    #[serde(default)]
    pub scheduler: Option<String>,
    /// Persistence timeout in seconds, kept for the embedder.
    #[serde(default)]
    pub persist: Option<u32>,
    /// Sticky flag, kept for the embedder.
    #[serde(default)]
    pub sticky: bool,
    /// Reset flag, kept for the embedder.
    #[serde(default)]
    pub reset: bool,
    /// Backends.
    #[serde(default)]
    pub destinations: Vec<DestinationConfig>,
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Services.
    pub services: Vec<ServiceConfig>,
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// HTTP methods a check may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// HEAD.
    Head,
}

/// What a check probes, fully resolved: the key under which identical probes
/// are shared between services.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CheckSpec {
    /// Kind of check.
    pub kind: CheckType,
    /// Address probed (always the destination's).
    pub address: IpAddr,
    /// Port probed.
    pub port: u16,
    /// Host header / SNI name.
    pub host: String,
    /// HTTP path.
    pub path: String,
    /// Accepted status codes (empty: 200; 0: any).
    pub expect: Vec<u16>,
    /// HTTP method.
    pub method: HttpMethod,
    /// DNS over TCP instead of UDP.
    pub dns_tcp: bool,
    /// Verify TLS certificates.
    pub verify: bool,
    /// Time between probes.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// Time a probe may take.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Rise/fall rule.
    pub rule: Rule,
}

mod humantime_serde_compat {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }
}

/// The rise/fall rule of a check: the last `window` results are kept; an up
/// check goes down when fewer than `fall` of them passed; a down check comes
/// up when at least `rise` of them passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Rule {
    /// Results kept (1-32).
    pub window: u8,
    /// Passes needed to come up.
    pub rise: u8,
    /// Fewer passes than this take it down.
    pub fall: u8,
}

impl Default for Rule {
    /// The original's rule: 5 kept, down below 4 passes, up at 5 of 5.
    fn default() -> Self {
        Rule {
            window: 5,
            rise: 5,
            fall: 4,
        }
    }
}

impl Config {
    /// Parses and checks a JSON configuration.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_json::from_str(text).map_err(|e| {
            ConfigError(format!(
                "line {} column {}: {}",
                e.line(),
                e.column(),
                e.to_string().split(" at line ").next().unwrap_or_default()
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the whole configuration; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        for s in &self.services {
            let name = format!("service {}", service_name(s.address, s.port, s.protocol));
            let err = |m: String| ConfigError(format!("{name}: {m}"));
            if s.port == 0 {
                return Err(err("port 0 is not a service port".into()));
            }
            if !seen.insert((s.address, s.port, s.protocol)) {
                return Err(err("listed twice".into()));
            }
            let mut dests = BTreeSet::new();
            for d in &s.destinations {
                let dname = format!("destination {}", socket_name(d.address, d.port));
                let err = |m: String| ConfigError(format!("{name}: {dname}: {m}"));
                if d.port == 0 {
                    return Err(err("port 0 is not a destination port".into()));
                }
                if !dests.insert((d.address, d.port)) {
                    return Err(err("listed twice".into()));
                }
                for (i, c) in d.checks.iter().enumerate() {
                    c.spec(d).map_err(|m| {
                        ConfigError(format!(
                            "{name}: {dname}: check {} ({}): {m}",
                            i + 1,
                            c.kind
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }
}

impl CheckConfig {
    /// Resolves the check against its destination, applying defaults.
    pub fn spec(&self, d: &DestinationConfig) -> Result<CheckSpec, String> {
        let http = matches!(self.kind, CheckType::Http | CheckType::Https);
        let method = match (
            self.kind,
            self.method.as_deref().map(str::to_ascii_uppercase),
        ) {
            (_, None) => HttpMethod::Get,
            (CheckType::Http | CheckType::Https, Some(m)) if m == "GET" => HttpMethod::Get,
            (CheckType::Http | CheckType::Https, Some(m)) if m == "HEAD" => HttpMethod::Head,
            (CheckType::Http | CheckType::Https, Some(m)) => {
                return Err(format!("method {m:?} is not GET or HEAD"))
            }
            (CheckType::Dns, Some(m)) if m == "UDP" || m == "TCP" => HttpMethod::Get,
            (CheckType::Dns, Some(m)) => return Err(format!("method {m:?} is not udp or tcp")),
            (k, Some(_)) => return Err(format!("a {k} check takes no method")),
        };
        let dns_tcp = self.kind == CheckType::Dns
            && self
                .method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("tcp"));
        if !http && (self.path.is_some() || !self.expect.is_empty() || self.host.is_some()) {
            return Err(format!(
                "host, path and expect are for http and https, not {}",
                self.kind
            ));
        }
        if let Some(&code) = self
            .expect
            .iter()
            .find(|&&c| c != 0 && !(100..=599).contains(&c))
        {
            return Err(format!("expect: {code} is not an HTTP status code"));
        }
        let path = self.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "path {path:?} must start with / and hold no spaces"
            ));
        }
        let host = match &self.host {
            Some(h) if h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(format!("host {h:?} is not a host name"))
            }
            Some(h) => h.clone(),
            None => match d.address {
                IpAddr::V6(a) => format!("[{a}]"),
                a => a.to_string(),
            },
        };
        let port = self.port.unwrap_or(d.port);
        if port == 0 {
            return Err("port 0".into());
        }
        let default_timeout = if self.kind == CheckType::Dns {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(2)
        };
        let interval = self.interval.unwrap_or(Duration::from_secs(2));
        let timeout = self.timeout.unwrap_or(default_timeout);
        if interval < Duration::from_millis(10) {
            return Err("interval below 10ms".into());
        }
        if timeout.is_zero() {
            return Err("timeout 0".into());
        }
        let def = Rule::default();
        let window = self.window.unwrap_or(def.window);
        let rule = Rule {
            window,
            rise: self.rise.unwrap_or(def.rise.min(window)),
            fall: self.fall.unwrap_or(def.fall.min(window)),
        };
        if !(1..=32).contains(&rule.window) {
            return Err(format!("window {} is not 1-32", rule.window));
        }
        if rule.rise == 0 || rule.rise > rule.window {
            return Err(format!("rise {} is not 1-{}", rule.rise, rule.window));
        }
        if rule.fall == 0 || rule.fall > rule.window {
            return Err(format!("fall {} is not 1-{}", rule.fall, rule.window));
        }
        if rule.fall > rule.rise {
            return Err(format!(
                "fall {} above rise {}: a check that just came up would go down again",
                rule.fall, rule.rise
            ));
        }
        Ok(CheckSpec {
            kind: self.kind,
            address: d.address,
            port,
            host,
            path,
            expect: self.expect.clone(),
            method,
            dns_tcp,
            verify: self.verify,
            interval,
            timeout,
            rule,
        })
    }
}

/// `addr:port` with brackets for IPv6.
pub fn socket_name(a: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(a, port).to_string()
}

/// `addr:port/proto`.
pub fn service_name(a: IpAddr, port: u16, p: Protocol) -> String {
    format!("{}/{p}", socket_name(a, port))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        Config::from_json(text).unwrap_err().0
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
}
