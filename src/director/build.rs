//! Director configurations written in code: constructors and builder
//! methods for the file's types, checked by
//! [`Config::validate`](super::Config::validate) like a file.

use super::config::{
    Backup, CheckConfig, CheckType, DestinationConfig, HttpMethod, Protocol, ServiceConfig,
};
use std::net::IpAddr;
use std::time::Duration;

impl CheckConfig {
    /// A check of `kind` with every default (written in code rather than
    /// read from a file; [`Config::validate`](super::Config::validate) checks it like the rest).
    ///
    /// ```
    /// use cue::director::{CheckConfig, CheckType, Config, DestinationConfig, HttpMethod, Protocol, ServiceConfig};
    /// use std::time::Duration;
    /// let service = ServiceConfig::new("192.0.2.10".parse().unwrap(), 80, Protocol::Tcp)
    ///     .destination(DestinationConfig::new("10.0.0.1".parse().unwrap(), 8080)
    ///         .check(CheckConfig::new(CheckType::Http)
    ///             .path("/health")
    ///             .http_method(HttpMethod::Head)
    ///             .interval(Duration::from_millis(500))
    ///             .rule(3, 2, 2)));
    /// let config = Config { services: vec![service], ..Default::default() };
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn new(kind: CheckType) -> CheckConfig {
        CheckConfig {
            kind,
            port: None,
            host: None,
            path: None,
            expect: Vec::new(),
            method: None,
            interval: None,
            timeout: None,
            window: None,
            rise: None,
            fall: None,
            verify: false,
            command: Vec::new(),
        }
    }

    /// A command check running `argv` (no shell).
    pub fn command(argv: impl IntoIterator<Item = impl Into<String>>) -> CheckConfig {
        CheckConfig {
            command: argv.into_iter().map(Into::into).collect(),
            ..CheckConfig::new(CheckType::Command)
        }
    }

    /// Probes this port rather than the destination's.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// HTTP Host header and TLS server name.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// HTTP path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Accepted HTTP status codes (0 accepts any).
    pub fn expect(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        self.expect = codes.into_iter().collect();
        self
    }

    /// The HTTP method (http and https checks).
    pub fn http_method(mut self, method: HttpMethod) -> Self {
        self.method = Some(method.as_str().into());
        self
    }

    /// DNS over TCP rather than UDP (dns checks).
    pub fn dns_over_tcp(mut self, tcp: bool) -> Self {
        self.method = Some(if tcp { "tcp" } else { "udp" }.into());
        self
    }

    /// Time between probes.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Time a probe may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Results kept, passes to come up, and the passes below which an up
    /// check goes down.
    pub fn rule(mut self, window: u8, rise: u8, fall: u8) -> Self {
        (self.window, self.rise, self.fall) = (Some(window), Some(rise), Some(fall));
        self
    }

    /// Verify the TLS certificate (https checks).
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }
}

impl DestinationConfig {
    /// A destination of weight 1, enabled, without checks yet.
    pub fn new(address: IpAddr, port: u16) -> DestinationConfig {
        DestinationConfig {
            address,
            port,
            weight: 1,
            disabled: false,
            checks: Vec::new(),
        }
    }

    /// Adds a check (every check must pass).
    pub fn check(mut self, check: CheckConfig) -> Self {
        self.checks.push(check);
        self
    }

    /// Sets the weight (0 takes it out of service).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }
}

impl ServiceConfig {
    /// A service on `address`:`port`/`protocol` that needs one healthy
    /// destination, without destinations yet.
    pub fn new(address: IpAddr, port: u16, protocol: Protocol) -> ServiceConfig {
        ServiceConfig {
            address,
            port,
            protocol,
            required: 1,
            scheduler: None,
            persist: None,
            sticky: false,
            reset: false,
            destinations: Vec::new(),
            down: None,
            drain_file: None,
            drain_time: None,
        }
    }

    /// Adds a destination.
    pub fn destination(mut self, destination: DestinationConfig) -> Self {
        self.destinations.push(destination);
        self
    }

    /// Healthy destinations needed for the service to be up.
    pub fn required(mut self, required: u32) -> Self {
        self.required = required;
        self
    }

    /// Keeps the VIP announced with these attributes while the service is
    /// down.
    pub fn backup(mut self, down: Backup) -> Self {
        self.down = Some(down);
        self
    }
}
