//! One bounded HTTP/1.1 GET (plain or over TLS) of a website page, with the response
//! reader of the MTA-STS fetch. The host's addresses come from the caller's resolver;
//! in loopback-only mode any address outside 127.0.0.0/8 is refused before a socket
//! exists. Certificates are not checked: scraping only looks for addresses (spec §9.2
//! allows it; nothing fetched here is ever classification evidence).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::WebSettings;
use crate::scan::loopback::ensure_loopback;
use crate::scan::mta_sts::{RecordingVerifier, Response, read_response};

/// A parsed `http(s)://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub https: bool,
    /// Lower-case host (IDNA A-labels).
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses an absolute URL; a bare host (`www.x.de`) means `https://www.x.de/`.
    pub fn parse(text: &str) -> Option<Url> {
        let text = text.trim();
        let (https, rest) = if let Some(r) = strip_ci(text, "https://") {
            (true, r)
        } else if let Some(r) = strip_ci(text, "http://") {
            (false, r)
        } else if text.contains("://") {
            return None;
        } else {
            (true, text)
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (authority, None),
        };
        let host = idna::domain_to_ascii(host.trim_end_matches('.')).ok()?;
        if host.is_empty() || !host.contains('.') && host != "localhost" {
            return None;
        }
        let path = path.split('#').next().unwrap_or_default();
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Some(Url {
            https,
            host,
            port,
            path,
        })
    }

    /// Resolves a link found on this page (absolute, scheme-relative, root-relative or
    /// relative).
    pub fn join(&self, link: &str) -> Option<Url> {
        let link = link.trim();
        if strip_ci(link, "http://").is_some() || strip_ci(link, "https://").is_some() {
            return Url::parse(link);
        }
        if let Some(rest) = link.strip_prefix("//") {
            let scheme = if self.https { "https://" } else { "http://" };
            return Url::parse(&format!("{scheme}{rest}"));
        }
        if link.contains(':') && !link.starts_with('/') {
            return None; // mailto:, javascript:, tel: …
        }
        let path = if link.starts_with('/') {
            link.to_string()
        } else {
            let dir = self.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            format!("{dir}/{link}")
        };
        Some(Url {
            path: path.split('#').next().unwrap_or("/").to_string(),
            ..self.clone()
        })
    }

    /// The URL as text.
    pub fn text(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.port {
            Some(p) => format!("{scheme}://{}:{p}{}", self.host, self.path),
            None => format!("{scheme}://{}{}", self.host, self.path),
        }
    }

    /// The port to connect to: the URL's, else the configured one for its scheme.
    fn port_for(&self, settings: &WebSettings) -> u16 {
        self.port.unwrap_or(if self.https {
            settings.https_port
        } else {
            settings.http_port
        })
    }
}

fn strip_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// GETs `url` from the first of `addresses` that accepts a connection, within
/// `settings.request_timeout`, keeping at most `max_body` body bytes.
pub(crate) async fn get(
    url: &Url,
    addresses: &[IpAddr],
    settings: &WebSettings,
    max_body: usize,
) -> Result<Response> {
    let allowed: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(|ip| !settings.loopback_only || ensure_loopback(*ip).is_ok())
        .collect();
    if allowed.is_empty() {
        match addresses.first() {
            Some(ip) if settings.loopback_only => ensure_loopback(*ip)?,
            _ => bail!("{}: no address", url.host),
        }
    }
    let port = url.port_for(settings);
    let attempt = async {
        let mut last = None;
        for ip in &allowed {
            let addr = SocketAddr::new(*ip, port);
            match tokio::time::timeout(settings.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return exchange(tcp, url, settings, max_body).await,
                Ok(Err(e)) => last = Some(format!("connect to {addr}: {e}")),
                Err(_) => last = Some(format!("connect to {addr}: timed out")),
            }
        }
        bail!("{}", last.unwrap_or_else(|| "no address".into()))
    };
    match tokio::time::timeout(settings.request_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => bail!(
            "{}: timed out after {:.1} s",
            url.text(),
            settings.request_timeout.as_secs_f64()
        ),
    }
}

async fn exchange(
    tcp: TcpStream,
    url: &Url,
    settings: &WebSettings,
    max_body: usize,
) -> Result<Response> {
    if !url.https {
        return request(tcp, url, settings, max_body).await;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS configuration")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier { provider }))
        .with_no_client_auth();
    let name = ServerName::try_from(url.host.clone())
        .with_context(|| format!("{} is not usable as a TLS server name", url.host))?;
    let tls = TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {}", url.host))?;
    request(tls, url, settings, max_body).await
}

async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    url: &Url,
    settings: &WebSettings,
    max_body: usize,
) -> Result<Response> {
    let host = match url.port {
        Some(p) => format!("{}:{p}", url.host),
        None => url.host.clone(),
    };
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nAccept: text/html,text/plain;q=0.8\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.path, settings.user_agent
    );
    stream
        .write_all(head.as_bytes())
        .await
        .context("sending the request")?;
    stream.flush().await.context("sending the request")?;
    read_response(&mut stream, max_body).await
}

/// Default per-request bound.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_join() {
        let u = Url::parse("www.Gemeinde-X.de").unwrap();
        assert_eq!(u.text(), "https://www.gemeinde-x.de/");
        let u = Url::parse("http://127.0.0.1.nip.example:8080/a/b?c#d").unwrap();
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path, "/a/b?c");
        assert_eq!(u.join("kontakt").unwrap().path, "/a/kontakt");
        assert_eq!(u.join("/impressum#x").unwrap().path, "/impressum");
        assert_eq!(u.join("//other.de/x").unwrap().host, "other.de");
        assert!(u.join("mailto:a@b.de").is_none());
        assert!(Url::parse("ftp://x.de/").is_none());
        assert!(Url::parse("http://x.de:99999/").is_none());
        assert_eq!(
            Url::parse("https://gemeinde-müllheim.de/").unwrap().host,
            "xn--gemeinde-mllheim-szb.de"
        );
    }
}
