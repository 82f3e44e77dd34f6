//! `http` and `https`: connect to the destination address whatever the Host
//! header says, send SNI for a host name (never for an address), do not
//! follow redirects, verify certificates only when asked, read the body,
//! then judge the status code. The connection is kept alive between probes.

use super::super::config::{CheckSpec, CheckType, HttpMethod};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Bodies larger than this fail the check rather than fill memory.
const MAX_BODY: usize = 1 << 20;

pub(super) struct HttpProber {
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl HttpProber {
    pub(super) fn new(_spec: &CheckSpec) -> HttpProber {
        HttpProber { sender: None }
    }

    pub(super) fn reset(&mut self) {
        self.sender = None;
    }

    pub(super) async fn probe(&mut self, spec: &CheckSpec) -> Result<String, String> {
        let result = self.request(spec).await;
        if result.is_err() {
            self.sender = None;
        }
        let status = result?;
        let expected = if spec.expect.is_empty() {
            status == 200
        } else {
            spec.expect.iter().any(|&c| c == 0 || c == status)
        };
        if expected {
            Ok(format!("{status}"))
        } else {
            Err(format!("status {status} not expected"))
        }
    }

    async fn request(&mut self, spec: &CheckSpec) -> Result<u16, String> {
        let mut sender = match self.sender.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => connect(spec).await?,
            },
            None => connect(spec).await?,
        };
        let method = match spec.method {
            HttpMethod::Get => hyper::Method::GET,
            HttpMethod::Head => hyper::Method::HEAD,
        };
        let req = hyper::Request::builder()
            .method(method)
            .uri(&spec.path)
            .header(hyper::header::HOST, &spec.host)
            .header(
                hyper::header::USER_AGENT,
                concat!("cue/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let keep = !resp
            .headers()
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading body: {e}"))?;
        if keep {
            self.sender = Some(sender);
        }
        Ok(status)
    }
}

async fn connect(spec: &CheckSpec) -> Result<SendRequest<Empty<Bytes>>, String> {
    let tcp = TcpStream::connect(SocketAddr::new(spec.address, spec.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if spec.kind == CheckType::Https {
        let name = server_name(&spec.host)?;
        let tls = TlsConnector::from(tls_config(spec.verify))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        handshake(TokioIo::new(tls)).await
    } else {
        handshake(TokioIo::new(tcp)).await
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Empty<Bytes>>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The TLS server name: a DNS name (sent as SNI), or an address (no SNI).
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    // A Host header may carry a port: it is not part of the name.
    let bare = match (bare.parse::<IpAddr>(), bare.rsplit_once(':')) {
        (Ok(_), _) => bare,
        (Err(_), Some((h, p))) if p.parse::<u16>().is_ok() && !h.contains(':') => h,
        _ => bare,
    };
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_string()).map_err(|_| format!("{host:?} is not a TLS server name"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(verify: bool) -> Arc<ClientConfig> {
    static VERIFYING: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static TRUSTING: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if verify {
        VERIFYING
            .get_or_init(|| {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                Arc::new(
                    ClientConfig::builder_with_provider(provider())
                        .with_safe_default_protocol_versions()
                        .expect("ring supports the default versions")
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )
            })
            .clone()
    } else {
        TRUSTING
            .get_or_init(|| {
                let p = provider();
                Arc::new(
                    ClientConfig::builder_with_provider(p.clone())
                        .with_safe_default_protocol_versions()
                        .expect("ring supports the default versions")
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyCertificate(p)))
                        .with_no_client_auth(),
                )
            })
            .clone()
    }
}

/// Accepts any certificate (health checks of backends with self-signed or
/// internal certificates), while still checking the handshake signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("www.example.com"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("www.example.com:8443"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("10.1.2.3"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(server_name("bad name").is_err());
    }
}
