//! `http` and `https`: connect to the destination address whatever the Host
//! header says, send SNI for a host name (never for an address), do not
//! follow redirects, verify certificates only when asked, read the body,
//! then judge the status code.
//!
//! The connection is kept alive between probes. Between probes a check holds
//! only its socket (and TLS state): the read buffer lives for one probe, so
//! that ten thousand idle kept-alive checks cost little memory. Response
//! heads are parsed with `httparse`; bodies are read by Content-Length,
//! chunked encoding, or to the end of the connection.

use super::super::config::{CheckSpec, CheckType, HttpMethod};
use super::ProbeError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Bodies larger than this fail the check rather than fill memory.
const MAX_BODY: usize = 1 << 20;
/// Response heads larger than this fail the check.
const MAX_HEAD: usize = 64 << 10;
/// Headers parsed at most.
const MAX_HEADERS: usize = 64;

/// A kept-alive connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

pub(super) struct HttpProber {
    conn: Option<Conn>,
    request: Vec<u8>,
}

/// Why a request failed, and whether a fresh connection may fix it (the
/// server closed a kept-alive connection before we used it).
struct Failure {
    error: ProbeError,
    retry: bool,
}

impl HttpProber {
    pub(super) fn new(spec: &CheckSpec) -> HttpProber {
        let method = match spec.method {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        };
        let request = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: cue/{}\r\nAccept: */*\r\n\r\n",
            spec.path,
            spec.host,
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes();
        HttpProber {
            conn: None,
            request,
        }
    }

    pub(super) fn reset(&mut self) {
        self.conn = None;
    }

    pub(super) async fn probe(&mut self, spec: &CheckSpec) -> Result<String, ProbeError> {
        let reused = self.conn.is_some();
        let status = match self.exchange(spec).await {
            Ok(s) => s,
            Err(f) if f.retry && reused => self.exchange(spec).await.map_err(|f| f.error)?,
            Err(f) => return Err(f.error),
        };
        let expected = if spec.expect.is_empty() {
            status == 200
        } else {
            spec.expect.iter().any(|&c| c == 0 || c == status)
        };
        if expected {
            Ok(format!("{status}"))
        } else {
            Err(ProbeError::status(format!("status {status} not expected")))
        }
    }

    /// One request and response; the connection is kept when the response
    /// allows it.
    async fn exchange(&mut self, spec: &CheckSpec) -> Result<u16, Failure> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            // Boxed: connecting (a TLS handshake above all) takes a large
            // state machine, needed once per connection, not in every probe.
            None => Box::pin(connect(spec)).await.map_err(|error| Failure {
                error,
                retry: false,
            })?,
        };
        let head = spec.method == HttpMethod::Head;
        let result = match &mut conn {
            Conn::Plain(s) => request(s, &self.request, head).await,
            Conn::Tls(s) => request(s.as_mut(), &self.request, head).await,
        };
        let (status, keep) = result?;
        if keep {
            self.conn = Some(conn);
        }
        Ok(status)
    }
}

/// Writes the request and reads the whole response. Returns the status and
/// whether the connection may be used again.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
    head_request: bool,
) -> Result<(u16, bool), Failure> {
    let early = |e: std::io::Error| Failure {
        error: ProbeError::response(format!("request: {e}")),
        retry: true,
    };
    s.write_all(req).await.map_err(early)?;
    s.flush().await.map_err(early)?;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let (status, keep_alive, framing) = read_head(s, &mut buf, head_request).await?;
    let whole = read_body(s, &mut buf, framing)
        .await
        .map_err(|error| Failure {
            error,
            retry: false,
        })?;
    Ok((status, keep_alive && whole))
}

/// Reads the response head into `buf` and takes it out: the status,
/// whether the connection may be kept, and how the body is framed.
async fn read_head<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> Result<(u16, bool, Framing), Failure> {
    let fail = |error: ProbeError| Failure {
        error,
        retry: false,
    };
    loop {
        let n = read_more(s, buf).await.map_err(|e| Failure {
            error: ProbeError::response(format!("reading response: {e}")),
            retry: buf.is_empty(),
        })?;
        if n == 0 {
            return Err(Failure {
                error: ProbeError::response("connection closed before a response"),
                retry: buf.is_empty(),
            });
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                let head = framing_of(&resp, head_request).map_err(fail)?;
                buf.drain(..len);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(fail(ProbeError::response("response head too large")));
                }
            }
            Err(e) => return Err(fail(ProbeError::response(format!("bad response: {e}")))),
        }
    }
}

/// A parsed response head's status, whether the connection may be kept,
/// and how its body is framed.
fn framing_of(
    resp: &httparse::Response<'_, '_>,
    head_request: bool,
) -> Result<(u16, bool, Framing), ProbeError> {
    let status = resp.code.unwrap_or(0);
    let mut keep = resp.version.unwrap_or(0) == 1;
    let mut framing = Framing::UntilClose;
    for h in resp.headers.iter() {
        let v = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("connection") {
            if v.eq_ignore_ascii_case("close") {
                keep = false;
            } else if v.eq_ignore_ascii_case("keep-alive") {
                keep = true;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if v.to_ascii_lowercase().ends_with("chunked") {
                framing = Framing::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let n: usize = v
                .parse()
                .map_err(|_| ProbeError::response(format!("bad Content-Length {v:?}")))?;
            framing = Framing::Length(n);
        }
    }
    if head_request || status / 100 == 1 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok((status, keep, framing))
}

/// Reads the body (and drops it); returns whether it ended where its
/// framing says, so that the connection may be used again.
async fn read_body<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    framing: Framing,
) -> Result<bool, ProbeError> {
    let reading = |e: std::io::Error| ProbeError::response(format!("reading body: {e}"));
    match framing {
        Framing::Length(n) => {
            if n > MAX_BODY {
                return Err(ProbeError::response(format!(
                    "body of {n} bytes is too large"
                )));
            }
            while buf.len() < n {
                if read_more(s, buf).await.map_err(reading)? == 0 {
                    return Err(ProbeError::response("connection closed in the body"));
                }
            }
            Ok(buf.len() == n)
        }
        Framing::Chunked => {
            read_chunked(s, buf).await?;
            Ok(true)
        }
        Framing::UntilClose => {
            // What was read with the head, then each read: counted, dropped.
            let mut total = buf.len();
            loop {
                if total > MAX_BODY {
                    return Err(ProbeError::response("body too large"));
                }
                buf.clear();
                let n = read_more(s, buf).await.map_err(reading)?;
                if n == 0 {
                    return Ok(false);
                }
                total += n;
            }
        }
    }
}

/// A backend that answers with `bytes`, `chunk` bytes per read, and
/// swallows what is written to it (for the fuzz targets).
#[cfg(fuzzing)]
struct Replay<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

#[cfg(fuzzing)]
impl AsyncRead for Replay<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.chunk.max(1).min(self.bytes.len()).min(buf.remaining());
        buf.put_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(fuzzing)]
impl AsyncWrite for Replay<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Reads a response replayed from `bytes` (see [`super::fuzzing`]).
#[cfg(fuzzing)]
pub(super) async fn read_response(
    bytes: &[u8],
    chunk: usize,
    head: bool,
) -> Result<(u16, bool), ProbeError> {
    let mut backend = Replay { bytes, chunk };
    request(&mut backend, b"GET / HTTP/1.1\r\n\r\n", head)
        .await
        .map_err(|f| f.error)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

async fn read_more<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(buf.capacity().max(1024));
    }
    s.read_buf(buf).await
}

/// Reads a chunked body to its end (trailers included), keeping only what
/// is not yet parsed.
async fn read_chunked<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Result<(), ProbeError> {
    let mut total = 0usize;
    loop {
        // Chunk size line.
        let (size, used) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => break (size as usize, used),
                Ok(httparse::Status::Partial) => {
                    if buf.len() > 1024 {
                        return Err(ProbeError::response("bad chunk size line"));
                    }
                    if read_more(s, buf)
                        .await
                        .map_err(|e| ProbeError::response(format!("reading body: {e}")))?
                        == 0
                    {
                        return Err(ProbeError::response("connection closed in the body"));
                    }
                }
                Err(_) => return Err(ProbeError::response("bad chunk size")),
            }
        };
        buf.drain(..used);
        total = total.saturating_add(size);
        if total > MAX_BODY {
            return Err(ProbeError::response("body too large"));
        }
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                if let Some(at) = find_crlf(buf) {
                    if at == 0 {
                        buf.drain(..2);
                        return Ok(());
                    }
                    buf.drain(..at + 2);
                    continue;
                }
                if buf.len() > MAX_HEAD {
                    return Err(ProbeError::response("trailers too large"));
                }
                if read_more(s, buf)
                    .await
                    .map_err(|e| ProbeError::response(format!("reading body: {e}")))?
                    == 0
                {
                    return Err(ProbeError::response("connection closed in the trailers"));
                }
            }
        }
        // Chunk data and its CRLF.
        while buf.len() < size + 2 {
            if read_more(s, buf)
                .await
                .map_err(|e| ProbeError::response(format!("reading body: {e}")))?
                == 0
            {
                return Err(ProbeError::response("connection closed in the body"));
            }
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(ProbeError::response("chunk not followed by CRLF"));
        }
        buf.drain(..size + 2);
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

async fn connect(spec: &CheckSpec) -> Result<Conn, ProbeError> {
    let tcp = TcpStream::connect(SocketAddr::new(spec.address, spec.port))
        .await
        .map_err(|e| ProbeError::connect(format!("connect: {e}")))?;
    let _ = tcp.set_nodelay(true);
    if spec.kind == CheckType::Https {
        let name = server_name(&spec.host)?;
        let tls = TlsConnector::from(tls_config(spec.verify))
            .connect(name, tcp)
            .await
            .map_err(|e| ProbeError::tls(format!("TLS: {e}")))?;
        Ok(Conn::Tls(Box::new(tls)))
    } else {
        Ok(Conn::Plain(tcp))
    }
}

/// The TLS server name: a DNS name (sent as SNI), or an address (no SNI).
fn server_name(host: &str) -> Result<ServerName<'static>, ProbeError> {
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
    ServerName::try_from(bare.to_string())
        .map_err(|_| ProbeError::tls(format!("{host:?} is not a TLS server name")))
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

    async fn parse(response: &'static [u8], head: bool) -> Result<(u16, bool), ProbeError> {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let srv = tokio::spawn(async move {
            let mut req = vec![0u8; 100];
            let _ = server.read(&mut req).await;
            // Byte by byte: every parser state sees a partial read.
            for b in response {
                server.write_all(&[*b]).await.unwrap();
            }
            // Dropping the server end closes the stream.
        });
        let r = request(&mut client, b"GET / HTTP/1.1\r\n\r\n", head)
            .await
            .map_err(|f| f.error);
        let _ = srv.await;
        r
    }

    #[tokio::test]
    async fn response_framing() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).await,
            Ok((200, true))
        );
        assert_eq!(
            parse(b"HTTP/1.1 503 Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", false).await,
            Ok((503, true))
        );
        assert_eq!(
            parse(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                false
            )
            .await,
            Ok((200, false))
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true).await,
            Ok((200, true)),
            "HEAD has no body whatever Content-Length says"
        );
        assert_eq!(
            parse(b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nmoved", false).await,
            Ok((302, false))
        );
        let short = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", false).await;
        assert_eq!(
            short.unwrap_err().cause,
            super::super::FailureCause::Response
        );
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n", false).await.is_err());
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false)
                .await
                .is_err()
        );
        assert!(parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .await
        .is_err());
    }
}
