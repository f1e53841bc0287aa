//! The grade stage end to end: MTA-STS policy fetches against an in-process HTTPS server
//! (rcgen test CA, tokio-rustls, 127.0.0.1), address resolution through a real lookup
//! table over the in-process DNS world, whole-domain assessments from hand-built scans
//! and probes, and the STARTTLS-Everywhere policy list checked against its JSON Schema.
//! Nothing here contacts anything outside 127.0.0.0/8.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use mxmap::config::DnsConfig;
use mxmap::evidence::{Answer, Observation, Outcome, RType};
use mxmap::grade::mta_sts::{self as sts_check, MtaStsState};
use mxmap::grade::policy::{self, PolicyEntry};
use mxmap::grade::{self, Letter, Security, SecurityInput};
use mxmap::name::DnsName;
use mxmap::scan::domain::{AddressScan, CnameChain, DomainScan, HostScan};
use mxmap::scan::lookups::{Backend, Lookups};
use mxmap::scan::mta_sts::{
    FetchConfig, PolicyFetch, fetch_policy, fetch_policy_at, roots_from_pem,
};
use mxmap::scan::probe::{
    CertInfo, CertProblem, Handshake, ProbeOutcome, Reply, SmtpProbe, TlsResult,
};
use mxmap::scan::resolver::LiveResolver;
use mxmap::scan::spf::{self, Mechanism, SpfEvaluation, SpfNode, Term, Via};
use mxmap::world::{World, WorldServer};

/// Bound on every async test.
const TEST_LIMIT: Duration = Duration::from_secs(30);
/// A fixed evaluation time: 2025-01-01T00:00:00Z.
const NOW: i64 = 1_735_689_600;

fn name(s: &str) -> DnsName {
    DnsName::parse(s).unwrap()
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/grade")
        .join(path)
}

// ---------------------------------------------------------------------------------
// Test PKI and HTTPS server

struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "mxmap test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Pki {
        ca_der: cert.der().clone(),
        ca_pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn leaf(pki: &Pki, host: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, host);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![cert.der().clone(), pki.ca_der.clone()], key)
}

/// What the server saw: (SNI, Host header) per request.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// Serves `response` (raw HTTP bytes) over TLS on 127.0.0.1 at a free port to every
/// connection; returns the port and the requests seen. The task ends with the runtime.
async fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    response: Vec<u8>,
) -> (u16, Seen) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let seen_task = seen.clone();
    tokio::spawn(async move {
        // Bounded: a test makes at most a handful of requests.
        for _ in 0..16 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let response = response.clone();
            let seen = seen_task.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) =
                    tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await
                else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                    match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let host = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Host: "))
                    .map(str::to_string);
                let sni = tls.get_ref().1.server_name().map(str::to_string);
                seen.lock().unwrap().push((sni, host));
                let _ = tls.write_all(&response).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok_plain(body: &str) -> Vec<u8> {
    http(
        "200 OK",
        &[
            ("Content-Type", "text/plain"),
            ("Content-Length", &body.len().to_string()),
            ("Connection", "close"),
        ],
        body.as_bytes(),
    )
}

const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmx: *.backup.example.org\r\nmax_age: 604800\r\n";
const TESTING: &str = "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n";

fn config(pki: &Pki, port: u16) -> FetchConfig {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let mut c = FetchConfig::with_roots(roots);
    c.port = port;
    c.connect_timeout = Duration::from_secs(2);
    c.total_timeout = Duration::from_secs(5);
    c.loopback_only = true;
    c
}

const LOCAL: [IpAddr; 1] = [IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];

async fn fetch_variant(pki: &Pki, cert_name: &str, response: Vec<u8>) -> (PolicyFetch, Seen) {
    let (chain, key) = leaf(pki, cert_name);
    let (port, seen) = serve(chain, key, response).await;
    let fetch = fetch_policy_at(&LOCAL, &name("example.org"), &config(pki, port)).await;
    (fetch, seen)
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test exceeded its time limit")
}

// ---------------------------------------------------------------------------------
// MTA-STS fetch variants

#[tokio::test]
async fn fetch_valid_enforce_policy() {
    bounded(async {
        let pki = pki();
        let (f, seen) = fetch_variant(&pki, "mta-sts.example.org", ok_plain(ENFORCE)).await;
        assert!(f.usable(), "{f:?}");
        assert!(f.tls_valid && !f.redirected);
        assert_eq!(f.status, Some(200));
        assert_eq!(f.content_type.as_deref(), Some("text/plain"));
        assert_eq!(f.body.as_deref(), Some(ENFORCE));
        assert_eq!(f.address, Some(LOCAL[0]));
        assert_eq!(f.url, "https://mta-sts.example.org/.well-known/mta-sts.txt");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![(
                Some("mta-sts.example.org".to_string()),
                Some("mta-sts.example.org".to_string())
            )]
        );
        let policy = sts_check::parse_policy(f.body.as_deref().unwrap()).unwrap();
        assert_eq!(policy.mode, sts_check::StsMode::Enforce);
        assert_eq!(policy.mx, vec!["mx.example.org", "*.backup.example.org"]);
    })
    .await
}

#[tokio::test]
async fn fetch_testing_policy_close_delimited_and_chunked() {
    bounded(async {
        let pki = pki();
        let close_delimited = http(
            "200 OK",
            &[("Content-Type", "text/plain; charset=utf-8")],
            TESTING.as_bytes(),
        );
        let (f, _) = fetch_variant(&pki, "mta-sts.example.org", close_delimited).await;
        assert!(f.usable(), "{f:?}");
        assert_eq!(f.body.as_deref(), Some(TESTING));
        let mut chunked = format!("{:x}\r\n", 10).into_bytes();
        chunked.extend_from_slice(&TESTING.as_bytes()[..10]);
        chunked.extend_from_slice(format!("\r\n{:x}\r\n", TESTING.len() - 10).as_bytes());
        chunked.extend_from_slice(&TESTING.as_bytes()[10..]);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        let response = http(
            "200 OK",
            &[
                ("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked"),
            ],
            &chunked,
        );
        let (f, _) = fetch_variant(&pki, "mta-sts.example.org", response).await;
        assert!(f.usable(), "{f:?}");
        assert_eq!(f.body.as_deref(), Some(TESTING));
        let p = sts_check::parse_policy(f.body.as_deref().unwrap()).unwrap();
        assert_eq!(p.mode, sts_check::StsMode::Testing);
    })
    .await
}

#[tokio::test]
async fn fetch_redirect_is_recorded_not_followed() {
    bounded(async {
        let pki = pki();
        let response = http(
            "301 Moved Permanently",
            &[
                ("Location", "https://www.example.org/mta-sts.txt"),
                ("Content-Length", "0"),
            ],
            b"",
        );
        let (f, seen) = fetch_variant(&pki, "mta-sts.example.org", response).await;
        assert!(f.redirected);
        assert_eq!(f.status, Some(301));
        assert!(!f.usable());
        assert!(
            f.error.as_deref().unwrap().contains("not followed"),
            "{f:?}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1, "exactly one request");
    })
    .await
}

#[tokio::test]
async fn fetch_wrong_content_type_is_a_warning() {
    bounded(async {
        let pki = pki();
        let response = http(
            "200 OK",
            &[
                ("Content-Type", "text/html"),
                ("Content-Length", &ENFORCE.len().to_string()),
            ],
            ENFORCE.as_bytes(),
        );
        let (f, _) = fetch_variant(&pki, "mta-sts.example.org", response).await;
        assert!(f.usable(), "{f:?}");
        let txt = txt_obs("_mta-sts.example.org", &["v=STSv1; id=20250101"]);
        let check = sts_check::check(&txt, Some(&f), &[]);
        assert_eq!(check.state, MtaStsState::Enforce);
        assert!(check.warnings.iter().any(|w| w.contains("not text/plain")));
    })
    .await
}

#[tokio::test]
async fn fetch_oversized_body_is_capped() {
    bounded(async {
        let pki = pki();
        let mut body = ENFORCE.as_bytes().to_vec();
        body.resize(100 * 1024, b'#');
        for with_length in [true, false] {
            let length = body.len().to_string();
            let mut headers = vec![("Content-Type", "text/plain")];
            if with_length {
                headers.push(("Content-Length", length.as_str()));
            }
            let (f, _) =
                fetch_variant(&pki, "mta-sts.example.org", http("200 OK", &headers, &body)).await;
            assert_eq!(f.body.as_ref().unwrap().len(), 64 * 1024);
            assert!(f.error.as_deref().unwrap().contains("larger than 65536"));
            assert!(!f.usable());
        }
    })
    .await
}

#[tokio::test]
async fn fetch_wrong_name_certificate_is_not_valid() {
    bounded(async {
        let pki = pki();
        let (f, _) = fetch_variant(&pki, "mta-sts.other.org", ok_plain(ENFORCE)).await;
        assert!(!f.tls_valid);
        assert!(!f.usable());
        assert!(
            f.error
                .as_deref()
                .unwrap()
                .starts_with("certificate not valid for mta-sts.example.org"),
            "{f:?}"
        );
        // The body is still evidence.
        assert_eq!(f.body.as_deref(), Some(ENFORCE));
        let txt = txt_obs("_mta-sts.example.org", &["v=STSv1; id=1"]);
        assert_eq!(
            sts_check::check(&txt, Some(&f), &[]).state,
            MtaStsState::Invalid
        );
    })
    .await
}

#[tokio::test]
async fn fetch_unknown_ca_is_not_valid() {
    bounded(async {
        let trusted = pki();
        let other = pki();
        let (chain, key) = leaf(&other, "mta-sts.example.org");
        let (port, _) = serve(chain, key, ok_plain(ENFORCE)).await;
        let f = fetch_policy_at(&LOCAL, &name("example.org"), &config(&trusted, port)).await;
        assert!(!f.tls_valid);
        assert!(f.error.unwrap().contains("certificate not valid"));
    })
    .await
}

#[tokio::test]
async fn fetch_404_is_invalid() {
    bounded(async {
        let pki = pki();
        let response = http(
            "404 Not Found",
            &[("Content-Type", "text/html"), ("Content-Length", "9")],
            b"not found",
        );
        let (f, _) = fetch_variant(&pki, "mta-sts.example.org", response).await;
        assert_eq!(f.status, Some(404));
        assert!(f.tls_valid);
        assert!(!f.usable() && !f.unmeasured());
        let txt = txt_obs("_mta-sts.example.org", &["v=STSv1; id=1"]);
        let check = sts_check::check(&txt, Some(&f), &[]);
        assert_eq!(check.state, MtaStsState::Invalid);
        assert!(check.errors[0].contains("HTTP 404"));
    })
    .await
}

#[tokio::test]
async fn fetch_from_a_closed_port_fails_cleanly() {
    bounded(async {
        let pki = pki();
        // Bind and drop to find a port nothing listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let f = fetch_policy_at(&LOCAL, &name("example.org"), &config(&pki, port)).await;
        assert_eq!(f.status, None);
        assert!(f.error.as_deref().unwrap().contains("connect to 127.0.0.1"));
        assert!(!f.unmeasured());
    })
    .await
}

#[tokio::test]
async fn fetch_from_a_silent_server_times_out() {
    bounded(async {
        let pki = pki();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and then says nothing (a tarpit).
        let held = tokio::spawn(async move {
            let conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(conn);
        });
        let mut config = config(&pki, port);
        config.total_timeout = Duration::from_millis(500);
        let started = std::time::Instant::now();
        let f = fetch_policy_at(&LOCAL, &name("example.org"), &config).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(f.error.as_deref().unwrap().contains("timed out"), "{f:?}");
        assert!(f.unmeasured());
        held.abort();
    })
    .await
}

#[tokio::test]
async fn loopback_only_refuses_other_addresses_without_a_socket() {
    bounded(async {
        let pki = pki();
        let far: [IpAddr; 2] = ["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let f = fetch_policy_at(&far, &name("example.org"), &config(&pki, 443)).await;
        let error = f.error.as_deref().unwrap();
        assert!(
            error.contains("loopback-only mode refuses 192.0.2.1")
                && error.contains("loopback-only mode refuses 2001:db8::1"),
            "{error}"
        );
        assert_eq!(f.status, None);
        assert!(f.unmeasured());
    })
    .await
}

#[test]
fn roots_load_from_pem() {
    let pki = pki();
    let store = roots_from_pem(pki.ca_pem.as_bytes()).unwrap();
    assert_eq!(store.len(), 1);
    assert!(roots_from_pem(b"no pem here").is_err());
    assert!(!FetchConfig::live().roots.is_empty());
}

/// Address resolution through the run's lookup table over the in-process DNS world.
#[tokio::test]
async fn fetch_resolves_through_the_lookup_table() {
    bounded(async {
        let pki = pki();
        let (chain, key) = leaf(&pki, "mta-sts.example.org");
        let (port, _) = serve(chain, key, ok_plain(ENFORCE)).await;

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("org.zone"),
            "$ORIGIN org.\n$TTL 300\n\
             @ IN SOA ns.fixture.invalid. hostmaster.fixture.invalid. 1 3600 900 604800 300\n\
             @ IN NS ns.fixture.invalid.\n\
             mta-sts.example.org. IN A 127.0.0.1\n\
             mta-sts.far.org. IN A 192.0.2.1\n\
             _mta-sts.example.org. IN TXT \"v=STSv1; id=1\"\n",
        )
        .unwrap();
        let world = World::load(dir.path()).unwrap();
        let server = WorldServer::start(world, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dns = DnsConfig {
            loopback_only: true,
            timeout: Duration::from_secs(2),
            retries: 1,
            ..DnsConfig::default()
        };
        let resolver = LiveResolver::explicit(&[server.addr()], &dns)
            .await
            .unwrap();
        let lookups = Lookups::new(Backend::Live(Box::new(resolver)), None, Duration::ZERO, 8);
        let config = config(&pki, port);

        let f = fetch_policy(&lookups, &name("example.org"), &config).await;
        assert!(f.usable(), "{f:?}");
        assert_eq!(f.body.as_deref(), Some(ENFORCE));

        let f = fetch_policy(&lookups, &name("far.org"), &config).await;
        assert!(
            f.error
                .as_deref()
                .unwrap()
                .contains("loopback-only mode refuses 192.0.2.1"),
            "{f:?}"
        );
        assert_eq!(f.address, Some("192.0.2.1".parse().unwrap()));

        let f = fetch_policy(&lookups, &name("nothere.org"), &config).await;
        assert!(
            f.error
                .as_deref()
                .unwrap()
                .starts_with("mta-sts.nothere.org: no address"),
            "{f:?}"
        );
        server.shutdown().await.unwrap();
    })
    .await
}

// ---------------------------------------------------------------------------------
// Whole-domain assessments from hand-built scan data

fn obs(n: &str, rtype: RType, answers: Vec<Answer>) -> Arc<Observation> {
    Arc::new(Observation {
        name: name(n),
        rtype,
        outcome: if answers.is_empty() {
            Outcome::NoData
        } else {
            Outcome::Answer
        },
        answers,
        at: NOW,
        authenticated: false,
    })
}

fn txt_obs(n: &str, records: &[&str]) -> Arc<Observation> {
    obs(
        n,
        RType::Txt,
        records
            .iter()
            .map(|r| Answer::Txt(vec![r.to_string()]))
            .collect(),
    )
}

fn spf_eval(domain: &str, records: &[&str]) -> SpfEvaluation {
    let mut eval = SpfEvaluation {
        records: records
            .iter()
            .filter(|r| spf::is_spf(r))
            .map(|r| r.to_string())
            .collect(),
        ..SpfEvaluation::default()
    };
    if let Some(root) = eval.records.first().cloned() {
        let terms = spf::parse(&root);
        for t in &terms {
            if let Term::Mechanism {
                kind: Mechanism::All,
                qualifier,
                ..
            } = t
            {
                eval.all = Some(*qualifier);
            }
        }
        eval.nodes.push(SpfNode {
            domain: name(domain),
            depth: 0,
            via: Via::Root,
            parent: None,
            record: Some(root),
            terms,
            outcome: Outcome::Answer,
        });
    }
    eval
}

fn host_scan(host: &str, preference: u16, ip: &str) -> HostScan {
    let ip: IpAddr = ip.parse().unwrap();
    HostScan {
        host: name(host),
        preference,
        chain: CnameChain {
            steps: vec![],
            targets: vec![],
            looped: false,
            truncated: false,
        },
        a: obs(
            host,
            RType::A,
            vec![Answer::A(ip.to_string().parse().unwrap())],
        ),
        aaaa: obs(host, RType::Aaaa, vec![]),
        addresses: vec![AddressScan {
            ip,
            lookup: obs("origin.invalid", RType::Txt, vec![]),
            origin: None,
        }],
        tlsa: obs(&format!("_25._tcp.{host}"), RType::Tlsa, vec![]),
    }
}

struct Dom<'a> {
    domain: &'a str,
    mx: Vec<(u16, &'a str, &'a str)>,
    null_mx: bool,
    spf: &'a [&'a str],
    dmarc: &'a [&'a str],
    mta_sts: &'a [&'a str],
    tls_rpt: &'a [&'a str],
}

impl Dom<'_> {
    fn scan(&self) -> DomainScan {
        let mx_answers: Vec<Answer> = if self.null_mx {
            vec![Answer::Mx {
                preference: 0,
                exchange: None,
            }]
        } else {
            self.mx
                .iter()
                .map(|(p, h, _)| Answer::Mx {
                    preference: *p,
                    exchange: Some(name(h)),
                })
                .collect()
        };
        let d = self.domain;
        DomainScan {
            domain: name(d),
            mx: obs(d, RType::Mx, mx_answers),
            hosts: self
                .mx
                .iter()
                .map(|(p, h, ip)| host_scan(h, *p, ip))
                .collect(),
            hosts_capped: false,
            txt: txt_obs(d, self.spf),
            spf: spf_eval(d, self.spf),
            dkim: vec![],
            autodiscover: CnameChain {
                steps: vec![],
                targets: vec![],
                looped: false,
                truncated: false,
            },
            autodiscover_srv: obs(&format!("_autodiscover._tcp.{d}"), RType::Srv, vec![]),
            dmarc: txt_obs(&format!("_dmarc.{d}"), self.dmarc),
            dmarc_org: None,
            mta_sts: txt_obs(&format!("_mta-sts.{d}"), self.mta_sts),
            tls_rpt: txt_obs(&format!("_smtp._tls.{d}"), self.tls_rpt),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Valid,
    Plain,
    SelfSigned,
    Refused,
    LegacyOnly,
}

fn cert(host: &str, san: &[&str]) -> CertInfo {
    CertInfo {
        sha256: format!("{:064x}", host.len()),
        spki_sha256: format!("{:064x}", host.len() + 1),
        subject: format!("CN={host}"),
        san: san.iter().map(|s| s.to_string()).collect(),
        issuer: "CN=mxmap test CA".into(),
        issuer_country: None,
        not_before: NOW - 86_400,
        not_after: NOW + 90 * 86_400,
        key_alg: "EC".into(),
        key_bits: 256,
        sig_alg: "ecdsa-with-SHA256".into(),
    }
}

fn probe(host: &str, ip: &str, server: Server, san: &[&str]) -> SmtpProbe {
    let reply = |code: u16, text: &str| Reply {
        code,
        lines: vec![text.to_string()],
    };
    let mut p = SmtpProbe {
        host: name(host),
        ip: ip.parse().unwrap(),
        port: 25,
        at: NOW,
        elapsed_ms: 30,
        outcome: ProbeOutcome::Completed,
        greeting: Some(reply(220, &format!("{host} ESMTP"))),
        ehlo: Some(reply(250, host)),
        ehlo_keywords: vec!["STARTTLS".into(), "SIZE".into()],
        starttls_advertised: true,
        possibly_stripped: false,
        starttls_reply: Some(reply(220, "ready")),
        tls: None,
        banner_host: Some(name(host)),
        ehlo_host: Some(name(host)),
        software: None,
        error: None,
    };
    let tls = |pkix: bool, problems: Vec<CertProblem>| TlsResult {
        handshake: Handshake::Ok,
        version: Some("TLSv1.3".into()),
        cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
        chain: vec![cert(host, san)],
        pkix_valid: pkix,
        name_match: pkix,
        problems,
        pkix_detail: None,
        expires_soon: false,
        versions_accepted: vec!["TLSv1.3".into(), "TLSv1.2".into()],
        legacy_accepted: Some(false),
    };
    match server {
        Server::Valid => p.tls = Some(tls(true, vec![])),
        Server::SelfSigned => p.tls = Some(tls(false, vec![CertProblem::SelfSigned])),
        Server::Plain => {
            p.ehlo_keywords = vec!["SIZE".into()];
            p.starttls_advertised = false;
            p.starttls_reply = None;
        }
        Server::Refused => {
            p.outcome = ProbeOutcome::Refused;
            p.greeting = None;
            p.ehlo = None;
            p.ehlo_keywords = vec![];
            p.starttls_advertised = false;
            p.starttls_reply = None;
            p.error = Some("Connection refused (os error 111)".into());
        }
        Server::LegacyOnly => {
            let mut t = tls(false, vec![]);
            t.handshake = Handshake::Failed("peer is incompatible: protocol version".into());
            t.version = None;
            t.chain = vec![];
            t.versions_accepted = vec!["TLSv1.1".into(), "TLSv1.0".into()];
            t.legacy_accepted = Some(true);
            p.tls = Some(t);
        }
    }
    p
}

fn probes_of(dom: &Dom, servers: &[Server]) -> Vec<SmtpProbe> {
    dom.mx
        .iter()
        .zip(servers)
        .map(|((_, h, ip), s)| probe(h, ip, *s, &[h]))
        .collect()
}

fn enforce_fetch(domain: &str, body: &str) -> PolicyFetch {
    PolicyFetch {
        url: format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"),
        at: NOW,
        address: Some(LOCAL[0]),
        status: Some(200),
        content_type: Some("text/plain".into()),
        body: Some(body.into()),
        error: None,
        tls_valid: true,
        redirected: false,
    }
}

fn assess(dom: &Dom, servers: &[Server], fetch: Option<&PolicyFetch>) -> Security {
    let scan = dom.scan();
    let probes = probes_of(dom, servers);
    let probes: Vec<&SmtpProbe> = probes.iter().collect();
    grade::assess(&SecurityInput {
        scan: &scan,
        probes: &probes,
        mta_sts_policy: fetch,
        now: NOW,
    })
}

const SPF_STRICT: &[&str] = &["v=spf1 mx -all"];
const DMARC_REJECT: &[&str] = &["v=DMARC1; p=reject; rua=mailto:dmarc@example.org"];

fn best_domain() -> (Dom<'static>, PolicyFetch) {
    (
        Dom {
            domain: "best.example.org",
            mx: vec![(10, "mx.best.example.org", "127.0.2.1")],
            null_mx: false,
            spf: SPF_STRICT,
            dmarc: DMARC_REJECT,
            mta_sts: &["v=STSv1; id=20250101"],
            tls_rpt: &["v=TLSRPTv1; rua=mailto:tls@example.org"],
        },
        enforce_fetch(
            "best.example.org",
            "version: STSv1\nmode: enforce\nmx: *.best.example.org\nmax_age: 10886400\n",
        ),
    )
}

#[test]
fn best_domain_gets_a_plus_everywhere() {
    let (dom, fetch) = best_domain();
    let s = assess(&dom, &[Server::Valid], Some(&fetch));
    assert_eq!(s.transport.letter, Letter::APlus, "{:?}", s.transport);
    assert_eq!(s.auth.letter, Letter::APlus, "{:?}", s.auth);
    assert_eq!(s.overall.letter, Letter::APlus);
    assert!(!s.overall.partial);
    assert_eq!(s.mta_sts.state, MtaStsState::Enforce);
    assert!(s.failed_checks.is_empty(), "{:?}", s.failed_checks);
    assert!(s.fixes.is_empty(), "{:?}", s.fixes);
    assert!(policy::mta_sts_suggestion(&s.domain, &[name("mx.best.example.org")], &s).is_none());
}

#[test]
fn two_mx_one_plaintext_is_d_with_the_host_named() {
    let dom = Dom {
        domain: "mixed.example.org",
        mx: vec![
            (10, "mx1.mixed.example.org", "127.0.2.2"),
            (20, "mx2.mixed.example.org", "127.0.2.3"),
        ],
        null_mx: false,
        spf: SPF_STRICT,
        dmarc: &["v=DMARC1; p=none"],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let s = assess(&dom, &[Server::Valid, Server::Plain], None);
    assert_eq!(s.transport.letter, Letter::D);
    let r = &s.transport.reasons[0];
    assert_eq!(r.rule, "T-D-STARTTLS-FAILS");
    assert_eq!(r.host, Some(name("mx2.mixed.example.org")));
    assert!(
        r.text
            .starts_with("MX mx2.mixed.example.org accepts mail without encryption"),
        "{}",
        r.text
    );
    assert_eq!(s.auth.letter, Letter::C);
    assert_eq!(s.overall.letter, Letter::D);
    assert!(
        s.failed_checks
            .iter()
            .any(|f| f.check == "starttls" && f.host == Some(name("mx2.mixed.example.org")))
    );
    assert!(
        s.fixes
            .contains(&"Enable STARTTLS on MX mx2.mixed.example.org".to_string())
    );
    assert!(s.fixes.iter().any(|f| f.contains("TLS-RPT")));
}

#[test]
fn nothing_listening_is_unmeasured_never_f() {
    let dom = Dom {
        domain: "quiet.example.org",
        mx: vec![
            (10, "mx1.quiet.example.org", "127.0.2.4"),
            (20, "mx2.quiet.example.org", "127.0.2.5"),
        ],
        null_mx: false,
        spf: &["v=spf1 ~all"],
        dmarc: &["v=DMARC1; p=quarantine"],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let s = assess(&dom, &[Server::Refused, Server::Refused], None);
    assert_eq!(s.transport.letter, Letter::Unknown);
    assert_eq!(s.transport.rule, "T-UNMEASURED");
    let why = s.transport.grade_reason.as_deref().unwrap();
    assert!(why.starts_with("No SMTP server reachable"), "{why}");
    assert!(s.hosts.iter().all(|h| h.unreachable));
    assert_eq!(s.auth.letter, Letter::B);
    assert_eq!(s.overall.letter, Letter::B);
    assert!(s.overall.partial);
    assert!(s.failed_checks.iter().all(|f| f.check != "starttls"));
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("could not be measured"))
    );
    // A scan that never probed at all is unmeasured too.
    let scan = dom.scan();
    let s = grade::assess(&SecurityInput {
        scan: &scan,
        probes: &[],
        mta_sts_policy: None,
        now: NOW,
    });
    assert_eq!(s.transport.letter, Letter::Unknown);
}

#[test]
fn null_mx_is_not_applicable() {
    let dom = Dom {
        domain: "nomail.example.org",
        mx: vec![],
        null_mx: true,
        spf: &["v=spf1 -all"],
        dmarc: &["v=DMARC1; p=reject"],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let s = assess(&dom, &[], None);
    assert!(s.null_mx);
    assert_eq!(s.transport.letter, Letter::NotApplicable);
    assert_eq!(s.transport.letter.as_str(), "—");
    assert_eq!(s.auth.letter, Letter::A);
    assert_eq!(s.overall.letter, Letter::A);
    assert_eq!(s.overall.rule, "O-NO-MAIL");
    assert!(s.failed_checks.iter().all(|f| f.check != "mta_sts"));
}

#[test]
fn self_signed_is_c_and_legacy_only_is_d() {
    let dom = Dom {
        domain: "self.example.org",
        mx: vec![(10, "mx.self.example.org", "127.0.2.6")],
        null_mx: false,
        spf: &[],
        dmarc: &[],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let s = assess(&dom, &[Server::SelfSigned], None);
    assert_eq!(s.transport.letter, Letter::C);
    assert_eq!(
        s.transport.reasons[0].text,
        "The certificate of MX mx.self.example.org is not valid: self-signed"
    );
    assert_eq!(s.auth.letter, Letter::F);
    assert_eq!(s.auth.rule, "A-F-NONE");
    assert!(
        s.fixes
            .iter()
            .any(|f| f.starts_with("Install a certificate"))
    );
    let s = assess(&dom, &[Server::LegacyOnly], None);
    assert_eq!(s.transport.letter, Letter::D);
    assert_eq!(s.transport.rule, "T-D-LEGACY-ONLY");
    assert_eq!(s.hosts[0].legacy_accepted, Some(true));
}

#[test]
fn valid_without_downgrade_protection_is_b_and_gets_a_suggestion() {
    let dom = Dom {
        domain: "plainb.example.org",
        mx: vec![
            (10, "mx1.plainb.example.org", "127.0.2.7"),
            (20, "mx2.plainb.example.org", "127.0.2.8"),
        ],
        null_mx: false,
        spf: SPF_STRICT,
        dmarc: DMARC_REJECT,
        mta_sts: &[],
        tls_rpt: &[],
    };
    let s = assess(&dom, &[Server::Valid, Server::Valid], None);
    assert_eq!(s.transport.letter, Letter::B);
    assert!(
        s.fixes
            .contains(&"Publish an MTA-STS policy in testing mode".to_string())
    );
    let hosts = [
        name("mx1.plainb.example.org"),
        name("mx2.plainb.example.org"),
    ];
    let text = policy::mta_sts_suggestion(&s.domain, &hosts, &s).unwrap();
    assert!(text.contains("_mta-sts.plainb.example.org. 3600 IN TXT \"v=STSv1; id=20250101\""));
    let policy_part: String = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('_'))
        .map(|l| format!("{l}\n"))
        .collect();
    let parsed = sts_check::parse_policy(&policy_part).unwrap();
    assert_eq!(parsed.mode, sts_check::StsMode::Testing);
    assert_eq!(parsed.max_age, 604_800);
    assert_eq!(
        parsed.mx,
        vec!["mx1.plainb.example.org", "mx2.plainb.example.org"]
    );
    // Not for a domain whose MX fails.
    let s = assess(&dom, &[Server::Valid, Server::SelfSigned], None);
    assert!(policy::mta_sts_suggestion(&s.domain, &hosts, &s).is_none());
}

#[test]
fn security_serialises_with_printed_letters() {
    let (dom, fetch) = best_domain();
    let s = assess(&dom, &[Server::Valid], Some(&fetch));
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["transport"]["letter"], "A+");
    assert_eq!(v["hosts"][0]["version_max"], "TLSv1.3");
    assert_eq!(v["mta_sts"]["state"], "enforce");
    let back: Security = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
}

// ---------------------------------------------------------------------------------
// STARTTLS-Everywhere policy list

fn list_inputs() -> Vec<Security> {
    let (best, best_fetch) = best_domain();
    let b = Dom {
        domain: "b.example.net",
        mx: vec![
            (10, "mx1.b.example.net", "127.0.2.9"),
            (20, "mx2.b.example.net", "127.0.2.10"),
        ],
        null_mx: false,
        spf: SPF_STRICT,
        dmarc: DMARC_REJECT,
        mta_sts: &[],
        tls_rpt: &[],
    };
    let b_scan = b.scan();
    let b_probes: Vec<SmtpProbe> =
        b.mx.iter()
            .map(|(_, h, ip)| probe(h, ip, Server::Valid, &[h, "*.b.example.net"]))
            .collect();
    let b_probes: Vec<&SmtpProbe> = b_probes.iter().collect();
    let b_sec = grade::assess(&SecurityInput {
        scan: &b_scan,
        probes: &b_probes,
        mta_sts_policy: None,
        now: NOW,
    });
    let m365 = Dom {
        domain: "town.example.org",
        mx: vec![(
            0,
            "town-example-org.mail.protection.outlook.com",
            "127.0.2.11",
        )],
        null_mx: false,
        spf: &["v=spf1 include:spf.protection.outlook.com -all"],
        dmarc: &[],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let exact = Dom {
        domain: "exact.example.com",
        mx: vec![
            (10, "mail.exact.example.com", "127.0.2.12"),
            (20, "backup.provider.example", "127.0.2.13"),
        ],
        null_mx: false,
        spf: SPF_STRICT,
        dmarc: &[],
        mta_sts: &[],
        tls_rpt: &[],
    };
    let mixed = Dom {
        domain: "mixed.example.org",
        mx: vec![
            (10, "mx1.mixed.example.org", "127.0.2.2"),
            (20, "mx2.mixed.example.org", "127.0.2.3"),
        ],
        null_mx: false,
        spf: SPF_STRICT,
        dmarc: &[],
        mta_sts: &[],
        tls_rpt: &[],
    };
    vec![
        assess(&best, &[Server::Valid], Some(&best_fetch)),
        b_sec,
        assess(&m365, &[Server::Valid], None),
        assess(&exact, &[Server::Valid, Server::Valid], None),
        assess(&mixed, &[Server::Valid, Server::Plain], None),
    ]
}

fn list(securities: &[Security], streak: &[bool]) -> Value {
    let entries: Vec<PolicyEntry> = securities
        .iter()
        .zip(streak.iter().chain(std::iter::repeat(&true)))
        .map(|(s, ok)| PolicyEntry {
            domain: &s.domain,
            security: s,
            streak_ok: *ok,
        })
        .collect();
    policy::starttls_policy(
        &entries,
        NOW,
        policy::DEFAULT_EXPIRES_IN,
        Some("mxmap tests"),
    )
}

#[test]
fn policy_list_content() {
    let inputs = list_inputs();
    let v = list(&inputs, &[]);
    assert_eq!(v["version"], "0.1");
    assert_eq!(v["timestamp"], "2025-01-01T00:00:00Z");
    assert_eq!(v["expires"], "2025-01-15T00:00:00Z");
    assert_eq!(v["author"], "mxmap tests");
    let policies = v["policies"].as_object().unwrap();
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        vec![
            "b.example.net",
            "best.example.org",
            "exact.example.com",
            "town.example.org"
        ]
    );
    assert_eq!(
        v["policies"]["best.example.org"],
        serde_json::json!({"mode": "enforce", "mxs": [".best.example.org"]})
    );
    assert_eq!(
        v["policies"]["b.example.net"],
        serde_json::json!({"mode": "testing", "mxs": [".b.example.net"]})
    );
    assert_eq!(
        v["policies"]["exact.example.com"],
        serde_json::json!({"mode": "testing", "mxs": ["backup.provider.example", "mail.exact.example.com"]})
    );
    assert_eq!(
        v["policies"]["town.example.org"],
        serde_json::json!({"policy-alias": "outlook"})
    );
    assert_eq!(
        v["policy-aliases"],
        serde_json::json!({"outlook": {"mode": "testing", "mxs": [".mail.protection.outlook.com"]}})
    );
    let not_listed = policy::policy_decision(&PolicyEntry::new(&inputs[4].domain, &inputs[4]));
    assert!(!not_listed.eligible);
    assert!(not_listed.reasons[0].contains("mx2.mixed.example.org"));
    // The history streak keeps a domain out until it has passed long enough.
    let v = list(&inputs, &[false]);
    assert!(v["policies"].get("best.example.org").is_none());
}

#[test]
fn policy_list_is_byte_identical_for_identical_input() {
    let inputs = list_inputs();
    let a = policy::to_text(&list(&inputs, &[]));
    let b = policy::to_text(&list(&list_inputs(), &[]));
    assert_eq!(a, b);
    let mut reversed = inputs.clone();
    reversed.reverse();
    assert_eq!(a, policy::to_text(&list(&reversed, &[])));
    assert!(a.ends_with("}\n"));
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("policy-0.1.schema.json")).unwrap())
        .unwrap()
}

#[test]
fn policy_list_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let v = list(&list_inputs(), &[]);
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // An empty list is valid too.
    let empty = policy::starttls_policy(&[], NOW, 60, None);
    assert!(validator.is_valid(&empty));
    // The schema has teeth.
    let bad = [
        serde_json::json!({"timestamp": "x", "expires": 1, "version": "0.1", "policy-aliases": {}, "policies": {}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.2", "policy-aliases": {}, "policies": {}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {}, "policies": {}, "extra": 1}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"mode": "testing", "mxs": []}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"mode": "testing", "mxs": ["mx.a.org", "mx.a.org"]}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"mode": "strict", "mxs": ["mx.a.org"]}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"*.a.org": {"mode": "testing", "mxs": ["mx.a.org"]}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"mode": "testing", "mxs": ["*.a.org"]}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"mode": "testing", "mxs": ["mx.a.org"], "extra": true}}}),
        serde_json::json!({"timestamp": 1, "expires": 1, "version": "0.1", "policy-aliases": {},
            "policies": {"a.org": {"policy-alias": "google", "mode": "testing"}}}),
    ];
    for b in &bad {
        assert!(!validator.is_valid(b), "schema accepted {b}");
    }
}

/// The schema's rules asserted directly, independent of the validator.
#[test]
fn policy_list_follows_the_format_rules() {
    let v = list(&list_inputs(), &[]);
    let top = v.as_object().unwrap();
    let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "author",
            "expires",
            "policies",
            "policy-aliases",
            "timestamp",
            "version"
        ]
    );
    let aliases = top["policy-aliases"].as_object().unwrap();
    let check_policy = |p: &Value| {
        let p = p.as_object().unwrap();
        let mut k: Vec<&str> = p.keys().map(String::as_str).collect();
        k.sort();
        assert_eq!(k, vec!["mode", "mxs"]);
        assert!(matches!(p["mode"].as_str(), Some("testing" | "enforce")));
        let mxs: Vec<&str> = p["mxs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert!(!mxs.is_empty());
        let mut unique = mxs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), mxs.len(), "mxs not unique: {mxs:?}");
        for m in mxs {
            let bare = m.strip_prefix('.').unwrap_or(m);
            assert!(!bare.contains('*') && bare.contains('.') && !bare.ends_with('.'));
            assert!(
                bare.split('.').all(|l| !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')),
                "bad pattern {m}"
            );
        }
    };
    for p in aliases.values() {
        check_policy(p);
    }
    for (domain, p) in top["policies"].as_object().unwrap() {
        assert!(!domain.contains('*') && !domain.starts_with('.'));
        match p.get("policy-alias") {
            Some(alias) => {
                assert_eq!(p.as_object().unwrap().len(), 1);
                assert!(
                    aliases.contains_key(alias.as_str().unwrap()),
                    "alias {alias} undefined"
                );
            }
            None => check_policy(p),
        }
    }
}

/// Re-checks every listed domain's own MTA-STS patterns against its MX hosts under the
/// strict one-label reading.
#[test]
fn listed_patterns_cover_every_mx_host() {
    let inputs = list_inputs();
    let v = list(&inputs, &[]);
    for s in &inputs {
        let Some(p) = v["policies"].get(s.domain.to_string()) else {
            continue;
        };
        let patterns: Vec<String> = match p.get("policy-alias") {
            Some(a) => v["policy-aliases"][a.as_str().unwrap()]["mxs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect(),
            None => p["mxs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect(),
        };
        for h in &s.hosts {
            assert!(
                patterns
                    .iter()
                    .any(|p| policy::list_pattern_matches(p, &h.host)),
                "{} not covered by {patterns:?}",
                h.host
            );
        }
    }
}
