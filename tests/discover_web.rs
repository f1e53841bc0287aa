//! Website visits of domain discovery against a loopback HTTP fixture (issue 17): a
//! redirect chain to a site whose contact page lists addresses (and whose robots.txt
//! forbids a private page), a parked page, a slow page, a huge page and an endless
//! redirect. Every visit must end within its bounds; only 127.0.0.1 is contacted.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mxmap::discover::DomainSource;
use mxmap::discover::conventions::Conventions;
use mxmap::discover::validate::Rejection;
use mxmap::discover::web::{Resolve, Visit, WebSettings, crawl, proposals_of};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every host is 127.0.0.1 (the fixture routes by `Host`).
struct Loopback;

#[async_trait]
impl Resolve for Loopback {
    async fn addresses(&self, _host: &str) -> Vec<IpAddr> {
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
    }
}

/// A public address, to check the loopback-only refusal.
struct Public;

#[async_trait]
impl Resolve for Public {
    async fn addresses(&self, _host: &str) -> Vec<IpAddr> {
        vec!["192.0.2.7".parse().unwrap()]
    }
}

const KONTAKT: &str = r#"<html><body><h1>Kontakt</h1>
<p>Gemeindeamt: <a href="mailto:amt@gemeinde-ziel.test">amt@gemeinde-ziel.test</a>,
Bürgermeister: buergermeister&#64;gemeinde-ziel.test, Bauamt: bau (at) gemeinde-ziel (dot) test.
Feuerwehr: kommandant@ff-ziel.test; Schule: direktion@vs-ziel.test; Webmaster: info@agentur.test</p>
</body></html>"#;

/// Status, headers and body of a fixture response.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One response per (host, path); `None` means the connection is held open silently.
fn route(host: &str, path: &str) -> Option<Reply> {
    let host = host.split(':').next().unwrap_or_default();
    let redirect = |to: &str| {
        Some((
            301,
            vec![("Location".to_string(), to.to_string())],
            Vec::new(),
        ))
    };
    let page = |body: &str| {
        Some((
            200,
            vec![("Content-Type".into(), "text/html".into())],
            body.as_bytes().to_vec(),
        ))
    };
    match (host, path) {
        (_, "/robots.txt") if host == "gemeinde-ziel.test" => {
            page("User-agent: *\nDisallow: /privat\n")
        }
        (_, "/robots.txt") => Some((404, Vec::new(), Vec::new())),
        ("redirect.test", "/") => redirect("http://www.redirect.test/"),
        ("www.redirect.test", "/") => redirect("http://gemeinde-ziel.test/start"),
        ("gemeinde-ziel.test", "/start") => page(
            r#"<html><a href="/kontakt">Kontakt</a> <a href="/privat/kontakt">intern</a> <a href="/bilder/kontakt.jpg">x</a></html>"#,
        ),
        ("gemeinde-ziel.test", "/kontakt") => page(KONTAKT),
        ("gemeinde-ziel.test", "/privat/kontakt") => page("secret@gemeinde-ziel.test"),
        ("parked.test", "/") => page("<h1>This domain is for sale!</h1> Contact owner@parked.test"),
        ("slow.test", "/") => None,
        ("loop.test", "/") => redirect("/a"),
        ("loop.test", "/a") => redirect("/"),
        _ => Some((404, Vec::new(), b"not found".to_vec())),
    }
}

/// The fixture server: one task per connection, `Connection: close`.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(handle(stream));
    }
}

async fn handle(mut stream: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let host = head
        .lines()
        .find_map(|l| l.strip_prefix("Host: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    let host_only = host.split(':').next().unwrap_or_default().to_string();
    if host_only == "huge.test" {
        // 64 MB announced and streamed until the client hangs up.
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 67108864\r\n\r\n",
            )
            .await;
        let block = vec![b'a'; 64 * 1024];
        for _ in 0..1024 {
            if stream.write_all(&block).await.is_err() {
                return;
            }
        }
        return;
    }
    match route(&host_only, &path) {
        None => {
            // The slow page: headers, then nothing for a minute.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Some((status, headers, body)) => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
    }
}

/// Settings for the fixture: plain HTTP on its port, HTTPS on a closed port (so the
/// HTTPS attempt fails fast and the visit falls back to HTTP), short bounds.
fn settings(port: u16, closed: u16) -> WebSettings {
    WebSettings {
        http_port: port,
        https_port: closed,
        loopback_only: true,
        max_pages: 5,
        max_page_bytes: 256 * 1024,
        max_site_bytes: 512 * 1024,
        site_budget: Duration::from_secs(4),
        request_timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(500),
        max_redirects: 4,
        pause: Duration::from_millis(20),
        ..WebSettings::default()
    }
}

async fn fixture() -> (u16, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener));
    // A port nobody listens on: bind, note, drop.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (port, closed)
}

async fn visit(site: &str, s: &WebSettings, resolver: &dyn Resolve) -> (Visit, Duration) {
    let started = Instant::now();
    let v = crawl(site, resolver, s, Conventions::embedded()).await;
    (v, started.elapsed())
}

#[tokio::test]
async fn redirect_chain_to_a_contact_page_with_addresses() {
    let (port, closed) = fixture().await;
    let s = settings(port, closed);
    let (v, took) = visit("http://redirect.test/", &s, &Loopback).await;
    assert!(took < s.site_budget + Duration::from_secs(1), "{took:?}");
    assert_eq!(v.redirects.len(), 2, "{v:#?}");
    assert_eq!(
        v.final_url.as_deref(),
        Some("http://gemeinde-ziel.test/start")
    );
    let found: Vec<&str> = v.addresses.iter().map(|a| a.address.as_str()).collect();
    for a in [
        "amt@gemeinde-ziel.test",
        "buergermeister@gemeinde-ziel.test",
        "bau@gemeinde-ziel.test",
    ] {
        assert!(found.contains(&a), "{a} missing: {found:?}");
    }
    assert!(
        !found.contains(&"secret@gemeinde-ziel.test"),
        "robots.txt was ignored"
    );
    assert!(
        v.notes.iter().any(|n| n.contains("robots.txt disallows")),
        "{:?}",
        v.notes
    );
    assert!(v.pages.iter().all(|p| !p.url.ends_with(".jpg")));
    // The proposals: the contact page's domain first (related to the redirect target),
    // other bodies' domains ruled out, then the redirect target and the website's own.
    let p = proposals_of(&v, &["ziel".to_string()]);
    assert_eq!(p[0].domain, "gemeinde-ziel.test");
    assert_eq!(p[0].source, DomainSource::Website);
    assert!(p[0].rejected.is_none());
    let agentur = p.iter().find(|x| x.domain == "agentur.test").unwrap();
    assert_eq!(agentur.rejected, Some(Rejection::Unrelated));
    assert!(
        p.iter()
            .any(|x| x.source == DomainSource::Redirect && x.domain == "gemeinde-ziel.test")
    );
}

#[tokio::test]
async fn parked_slow_huge_and_endless_pages_stay_within_bounds() {
    let (port, closed) = fixture().await;
    let s = settings(port, closed);
    let bound = s.site_budget + Duration::from_secs(1);

    let (v, took) = visit("http://parked.test/", &s, &Loopback).await;
    assert!(took < bound && v.parked, "{v:#?}");
    assert!(v.addresses.is_empty());
    let p = proposals_of(&v, &[]);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].rejected, Some(Rejection::ParkedPage));

    let (v, took) = visit("http://slow.test/", &s, &Loopback).await;
    assert!(took < bound, "slow page took {took:?}");
    assert!(
        v.pages
            .iter()
            .any(|p| p.note.as_deref().is_some_and(|n| n.contains("timed out"))),
        "{v:#?}"
    );

    let (v, took) = visit("http://huge.test/", &s, &Loopback).await;
    assert!(took < bound, "huge page took {took:?}");
    let first = v
        .pages
        .iter()
        .find(|p| p.status == Some(200))
        .expect("the huge page answered");
    assert!(
        first.bytes <= s.max_page_bytes,
        "{} bytes kept",
        first.bytes
    );
    assert!(
        first.note.as_deref().is_some_and(|n| n.contains("cut")),
        "{first:?}"
    );

    let (v, took) = visit("http://loop.test/", &s, &Loopback).await;
    assert!(took < bound, "endless redirect took {took:?}");
    assert!(
        v.notes.iter().any(|n| n.contains("more than 4 redirects")),
        "{:?}",
        v.notes
    );
    assert!(v.final_url.is_none());
}

#[tokio::test]
async fn loopback_only_refuses_public_addresses_before_connecting() {
    let (port, closed) = fixture().await;
    let s = settings(port, closed);
    let (v, took) = visit("http://www.example-gemeinde.test/", &s, &Public).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        v.pages.iter().all(|p| p
            .note
            .as_deref()
            .is_some_and(|n| n.contains("loopback-only mode refuses 192.0.2.7"))),
        "{v:#?}"
    );
    assert!(v.addresses.is_empty() && v.final_url.is_none());
}
