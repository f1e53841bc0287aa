//! MTA-STS policy fetch (RFC 8461 §3.3, security spec §5.2): one HTTPS GET of
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`, written by hand so that every
//! detail a sender depends on is observable — the certificate's validity for
//! `mta-sts.<domain>`, the status, redirects (never followed), the media type and the
//! body (capped).
//!
//! The caller fetches only for domains whose `_mta-sts` TXT lookup returned a record
//! (spec §1 step 4): without that record senders never fetch the policy either, and a
//! scan must not make HTTPS connections a sender would not make.
//!
//! The address of `mta-sts.<domain>` comes from the run's shared [`Lookups`] (same
//! resolver, same memo); in loopback-only mode any address outside 127.0.0.0/8 is
//! refused before a socket exists. The certificate is checked *after* the handshake
//! (the handshake itself accepts any chain but still verifies the server's signature),
//! so an invalid certificate is recorded as `tls_valid: false` together with the body
//! the server would have served — evidence for the page, never a usable policy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::lookups::Lookups;
use crate::clock::now;
// The record and the policy path are the grammar's; re-exported for the callers here.
use crate::evidence::{RType, Timestamp};
use crate::name::DnsName;
pub use crate::records::mta_sts::WELL_KNOWN_PATH;
use crate::scan::loopback::ensure_loopback;
pub use crate::scan::policy_fetch::PolicyFetch;

/// Longest status line plus headers read.
const MAX_HEAD: usize = 16 * 1024;

/// How to fetch policies.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// TCP port (443 in live mode; fixtures use high ports).
    pub port: u16,
    /// TCP connect timeout per address.
    pub connect_timeout: Duration,
    /// Bound on the whole fetch from the first connect to the last body byte.
    pub total_timeout: Duration,
    /// Longest body kept; a longer body is cut and reported as an error.
    pub max_body: usize,
    /// Refuse every address outside 127.0.0.0/8.
    pub loopback_only: bool,
    /// Trust anchors: Mozilla's (webpki-roots) live, a test CA in fixtures.
    pub roots: Arc<RootCertStore>,
    /// Validation time (`--now`); the clock when `None`.
    pub now: Option<Timestamp>,
}

impl FetchConfig {
    /// Live defaults (spec §13): port 443, connect 10 s, total 30 s, 64 KiB, Mozilla roots.
    pub fn live() -> FetchConfig {
        FetchConfig::with_roots(mozilla_roots())
    }

    /// The live defaults with other trust anchors (a test CA).
    pub fn with_roots(roots: RootCertStore) -> FetchConfig {
        FetchConfig {
            port: 443,
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body: 64 * 1024,
            loopback_only: false,
            roots: Arc::new(roots),
            now: None,
        }
    }
}

/// Mozilla's trust anchors as shipped by webpki-roots.
pub fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Trust anchors from PEM text (a test CA file): every `CERTIFICATE` block.
pub fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.context("reading a PEM certificate")?;
        store
            .add(cert)
            .context("a PEM certificate is not usable as a trust anchor")?;
    }
    anyhow::ensure!(!store.is_empty(), "no certificate in the PEM text");
    Ok(store)
}

/// Fetches the MTA-STS policy of `domain`. Call only when `_mta-sts.<domain>` has a TXT
/// record (see the module documentation).
pub async fn fetch_policy(
    lookups: &Lookups,
    domain: &DnsName,
    config: &FetchConfig,
) -> PolicyFetch {
    let at = config.now.unwrap_or_else(now);
    let host = match domain.prepend("mta-sts") {
        Ok(h) => h,
        Err(e) => {
            let mut fetch = PolicyFetch::new(domain, at);
            fetch.error = Some(format!("no policy host name: {e}"));
            return fetch;
        }
    };
    let (a, aaaa) = tokio::join!(
        lookups.get(&host, RType::A),
        lookups.get(&host, RType::Aaaa)
    );
    let addresses: Vec<IpAddr> = a.addresses().chain(aaaa.addresses()).collect();
    if addresses.is_empty() {
        let mut fetch = PolicyFetch::new(domain, at);
        fetch.error = Some(if a.failed() {
            format!("{host}: address lookup failed ({})", a.outcome.label())
        } else {
            format!("{host}: no address ({})", a.outcome.label())
        });
        return fetch;
    }
    fetch_policy_at(&addresses, domain, config).await
}

/// Fetches the policy of `domain` from the given addresses of `mta-sts.<domain>`, in
/// order, using the first one that accepts a TCP connection. Refused addresses (the
/// loopback-only rule) are skipped without opening a socket.
pub async fn fetch_policy_at(
    addresses: &[IpAddr],
    domain: &DnsName,
    config: &FetchConfig,
) -> PolicyFetch {
    let at = config.now.unwrap_or_else(now);
    let mut fetch = PolicyFetch::new(domain, at);
    let host = format!("mta-sts.{domain}");
    let mut errors = Vec::new();
    let allowed: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(|ip| {
            if !config.loopback_only {
                return true;
            }
            match ensure_loopback(*ip) {
                Ok(()) => true,
                Err(e) => {
                    errors.push(e.to_string());
                    false
                }
            }
        })
        .collect();
    if allowed.is_empty() {
        if errors.is_empty() {
            errors.push(format!("{host}: no address"));
        }
        fetch.address = addresses.first().copied();
        fetch.error = Some(errors.join("; "));
        return fetch;
    }
    let attempt = fetch_from(&allowed, &host, at, config, &mut fetch);
    match tokio::time::timeout(config.total_timeout, attempt).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => push_error(&mut fetch, format!("{e:#}")),
        Err(_) => push_error(
            &mut fetch,
            format!(
                "timed out after {} s (whole fetch)",
                config.total_timeout.as_secs_f64()
            ),
        ),
    }
    fetch
}

/// Connect, handshake, verify, request, read. Fills `fetch` as far as it gets.
async fn fetch_from(
    addresses: &[IpAddr],
    host: &str,
    at: Timestamp,
    config: &FetchConfig,
    fetch: &mut PolicyFetch,
) -> Result<()> {
    let mut tcp = None;
    let mut connect_errors = Vec::new();
    for ip in addresses {
        let addr = SocketAddr::new(*ip, config.port);
        fetch.address = Some(*ip);
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(e)) => connect_errors.push(format!("connect to {addr}: {e}")),
            Err(_) => connect_errors.push(format!(
                "connect to {addr}: timed out after {} s",
                config.connect_timeout.as_secs_f64()
            )),
        }
    }
    let Some(tcp) = tcp else {
        anyhow::bail!("{}", connect_errors.join("; "));
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS configuration")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier {
            provider: provider.clone(),
        }))
        .with_no_client_auth();
    let server_name = ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not usable as a TLS server name"))?;
    let mut tls = TlsConnector::from(Arc::new(client))
        .connect(server_name.clone(), tcp)
        .await
        .with_context(|| format!("TLS handshake with {host}"))?;

    let chain: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    match verify_chain(&chain, &server_name, at, &config.roots, provider) {
        Ok(()) => fetch.tls_valid = true,
        Err(e) => fetch.error = Some(format!("certificate not valid for {host}: {e}")),
    }

    let request = format!(
        "GET {WELL_KNOWN_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mxmap (MTA-STS policy check)\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .await
        .context("sending the request")?;
    tls.flush().await.context("sending the request")?;

    let response = read_response(&mut tls, config.max_body).await?;
    fetch.status = Some(response.status);
    fetch.content_type = response.header("content-type").map(str::to_string);
    if (300..400).contains(&response.status) {
        fetch.redirected = true;
        let target = response.header("location").unwrap_or("(no Location)");
        push_error(
            fetch,
            format!("redirect ({}) to {target} not followed", response.status),
        );
    }
    if response.oversized {
        push_error(
            fetch,
            format!("body larger than {} bytes; cut", config.max_body),
        );
    }
    if let Some(problem) = response.framing_problem {
        push_error(fetch, problem);
    }
    fetch.body = Some(String::from_utf8_lossy(&response.body).into_owned());
    Ok(())
}

fn push_error(fetch: &mut PolicyFetch, text: String) {
    fetch.error = Some(match fetch.error.take() {
        Some(previous) => format!("{previous}; {text}"),
        None => text,
    });
}

/// PKIX validation of the presented chain for `server_name` at time `at`.
fn verify_chain(
    chain: &[CertificateDer<'static>],
    server_name: &ServerName<'_>,
    at: Timestamp,
    roots: &Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
) -> Result<()> {
    let (leaf, intermediates) = chain
        .split_first()
        .context("the server presented no certificate")?;
    let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
        .build()
        .context("no usable trust anchors")?;
    let when = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
    verifier.verify_server_cert(leaf, intermediates, server_name, &[], when)?;
    Ok(())
}

/// Accepts any certificate during the handshake (it is validated afterwards, so the
/// failure can be recorded) but still checks the handshake signatures.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    pub(crate) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A parsed HTTP/1.x response (also read by the website visits of domain discovery).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) oversized: bool,
    pub(crate) framing_problem: Option<String>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads status line, headers and body: `Content-Length`, chunked, or delimited by the
/// close. At most [`MAX_HEAD`] header bytes and `max_body` body bytes are kept; reading
/// stops there.
pub(crate) async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_body: usize,
) -> Result<Response> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        anyhow::ensure!(
            buf.len() <= MAX_HEAD,
            "HTTP header longer than {MAX_HEAD} bytes"
        );
        let n = read_some(stream, &mut buf).await?;
        anyhow::ensure!(
            n > 0,
            "connection closed before the end of the HTTP header ({} bytes read)",
            buf.len()
        );
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)
        .with_context(|| format!("malformed HTTP status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: buf[head_end + 4..].to_vec(),
        oversized: false,
        framing_problem: None,
    };
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length = response
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok());
    if chunked {
        // The raw chunked stream carries framing overhead; allow some on top of the cap.
        let raw_cap = max_body + max_body / 4 + 1024;
        let closed = read_until(stream, &mut response.body, raw_cap, None).await?;
        let (decoded, complete) = decode_chunked(&response.body);
        response.body = decoded;
        if !complete {
            response.framing_problem = Some(if closed {
                "chunked body ended early".to_string()
            } else {
                "chunked body larger than allowed; cut".to_string()
            });
        }
    } else if let Some(length) = length {
        let want = length.min(max_body + 1);
        let closed = read_until(stream, &mut response.body, want, Some(want)).await?;
        response.body.truncate(want);
        if closed && response.body.len() < length.min(max_body) {
            response.framing_problem = Some(format!(
                "body shorter than its Content-Length ({} < {length})",
                response.body.len()
            ));
        }
    } else {
        read_until(stream, &mut response.body, max_body + 1, None).await?;
    }
    if response.body.len() > max_body {
        response.body.truncate(max_body);
        response.oversized = true;
    }
    Ok(response)
}

/// Reads into `buf` until `stop_at` bytes are there, `cap` is exceeded, or the peer
/// closes. Returns true when the peer closed.
async fn read_until<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
    stop_at: Option<usize>,
) -> Result<bool> {
    loop {
        if stop_at.is_some_and(|s| buf.len() >= s) || buf.len() > cap {
            return Ok(false);
        }
        if read_some(stream, buf).await? == 0 {
            return Ok(true);
        }
    }
}

/// One read; a TLS peer that closes without `close_notify` counts as a close (many
/// HTTP servers do that with `Connection: close`).
async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(e).context("reading the response"),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3)
        .then(|| code.parse().ok())
        .flatten()
        .filter(|c| (100..600).contains(c))
}

/// Decodes a chunked body; returns the data and whether the final chunk was seen.
fn decode_chunked(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return (out, false);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (out, false);
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (out, true);
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        if take < size || rest.len() < size + 2 {
            return (out, false);
        }
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.0 301 Moved"), Some(301));
        assert_eq!(parse_status_line("HTTP/2 200"), None);
        assert_eq!(parse_status_line("HTTP/1.1 20"), None);
        assert_eq!(parse_status_line("garbage"), None);
    }

    #[test]
    fn chunked_bodies_decode() {
        let (body, complete) = decode_chunked(b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n");
        assert_eq!(body, b"hello, world");
        assert!(complete);
        let (body, complete) = decode_chunked(b"5\r\nhel");
        assert_eq!(body, b"hel");
        assert!(!complete);
    }

    #[tokio::test]
    async fn responses_parse_with_each_framing() {
        let mut data: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        let r = read_response(&mut data, 100).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(r.body, b"hello");

        let mut data: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n0123456789";
        let r = read_response(&mut data, 4).await.unwrap();
        assert!(r.oversized);
        assert_eq!(r.body, b"0123");

        let mut data: &[u8] =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let r = read_response(&mut data, 100).await.unwrap();
        assert_eq!(r.body, b"abc");
        assert!(r.framing_problem.is_none());

        let mut data: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort";
        let r = read_response(&mut data, 100).await.unwrap();
        assert!(r.framing_problem.is_some());
    }

    #[test]
    fn unmeasured_fetches_are_told_apart() {
        let domain = DnsName::parse("example.org").unwrap();
        let mut f = PolicyFetch::new(&domain, 0);
        f.error = Some("connect to 127.0.0.1:443: timed out after 10 s".into());
        assert!(f.unmeasured());
        f.error = Some("connect to 127.0.0.1:443: Connection refused".into());
        assert!(!f.unmeasured());
        assert!(!f.usable());
        assert_eq!(f.url, "https://mta-sts.example.org/.well-known/mta-sts.txt");
    }
}
