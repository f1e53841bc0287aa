//! The SMTP prober against servers on loopback (security spec §16.3):
//!
//! - in-process stub servers that misbehave on purpose — silence, endless banners,
//!   refused or broken STARTTLS, bad certificates, rejections — each test bounded by a
//!   timeout and checking how long the verdict took;
//! - the politeness rules (one session per IP, spacing, the /24 cap) measured on the
//!   server side;
//! - a real Postfix with one personality per address (valid, wrong name, self-signed,
//!   plaintext, legacy-only, expired, incomplete chain), when Postfix is installed and
//!   the test runs as root.
//!
//! Every server binds 127.0.0.x or 127.0.2.x and every connection goes there.

mod common;

use common::pki::{Authority, Leaf};
use common::postfix::{Postfix, Variant, free_port};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mxmap::name::DnsName;
use mxmap::scan::probe::{CertProblem, Handshake, ProbeOutcome, SmtpProbe};
use mxmap::scan::smtp::{ProbeConfig, Prober, RootStore};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------------------------------
// Stub SMTP servers.

/// What a stub saw, shared between its connections (and between stubs when the test
/// wants totals across addresses).
#[derive(Default)]
struct Log {
    active: AtomicUsize,
    max_active: AtomicUsize,
    /// (start, end) of every connection.
    sessions: Mutex<Vec<(Instant, Instant)>>,
    /// Every command line received, in order.
    commands: Mutex<Vec<String>>,
    /// The client sent something before the greeting was complete.
    early_talker: Mutex<bool>,
}

impl Log {
    fn commands(&self) -> Vec<String> {
        self.commands.lock().expect("log").clone()
    }
    fn max_active(&self) -> usize {
        self.max_active.load(Ordering::SeqCst)
    }
}

/// How STARTTLS is answered.
#[derive(Clone)]
enum Starttls {
    /// `454 TLS not available`.
    Refuse,
    /// `220`, then plaintext garbage in the same write, then close.
    Garbage,
    /// `220`, then close without a byte.
    Close,
    /// `220`, then a real TLS server with this certificate.
    Tls(TlsAcceptor),
}

/// A scripted server.
#[derive(Clone)]
enum Behaviour {
    /// Accept and never say a word.
    Silent,
    /// `220-aaaa…` lines without end.
    EndlessBanner,
    /// One line without end of line, without end.
    EndlessLine,
    /// A greeting line every `interval`, never the final one.
    Drip(Duration),
    /// Send this text and close.
    SayAndClose(&'static str),
    /// A dialogue.
    Smtp(Script),
}

#[derive(Clone)]
struct Script {
    /// Greeting chunks, each sent after a short pause.
    greeting: Vec<&'static str>,
    /// Pause before the greeting (to make sessions overlap in concurrency tests).
    hold: Duration,
    /// EHLO reply (before TLS); `None`: never answer EHLO.
    ehlo: Option<&'static str>,
    starttls: Option<Starttls>,
}

impl Script {
    fn plain() -> Script {
        Script {
            greeting: vec!["220 mx.stub.test ESMTP Postfix\r\n"],
            hold: Duration::ZERO,
            ehlo: Some("250-mx.stub.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
            starttls: None,
        }
    }

    fn tls(starttls: Starttls) -> Script {
        Script {
            ehlo: Some(
                "250-mx.stub.test Hello\r\n250-SIZE 1000000\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
            ),
            starttls: Some(starttls),
            ..Script::plain()
        }
    }
}

/// A running stub; stops when dropped.
struct Stub {
    addr: SocketAddr,
    log: Arc<Log>,
    task: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    /// A stub on 127.0.0.1 and a fresh port.
    async fn start(behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Stub::serve(listener, behaviour, Arc::new(Log::default()))
    }

    fn serve(listener: TcpListener, behaviour: Behaviour, log: Arc<Log>) -> Stub {
        let addr = listener.local_addr().expect("addr");
        assert!(addr.ip().is_loopback());
        let shared = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = shared.clone();
                let behaviour = behaviour.clone();
                tokio::spawn(async move {
                    let start = Instant::now();
                    let now = log.active.fetch_add(1, Ordering::SeqCst) + 1;
                    log.max_active.fetch_max(now, Ordering::SeqCst);
                    serve_one(stream, &behaviour, &log).await;
                    log.active.fetch_sub(1, Ordering::SeqCst);
                    log.sessions
                        .lock()
                        .expect("log")
                        .push((start, Instant::now()));
                });
            }
        });
        Stub { addr, log, task }
    }
}

/// Stubs on several loopback addresses sharing one port (the prober has one port) and
/// one log.
async fn stubs_on(ips: &[Ipv4Addr], behaviour: Behaviour) -> (Vec<Stub>, Arc<Log>) {
    let log = Arc::new(Log::default());
    'retry: for _ in 0..20 {
        let first = TcpListener::bind((ips[0], 0)).await.expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut listeners = vec![first];
        for ip in &ips[1..] {
            match TcpListener::bind((*ip, port)).await {
                Ok(l) => listeners.push(l),
                Err(_) => continue 'retry,
            }
        }
        let stubs = listeners
            .into_iter()
            .map(|l| Stub::serve(l, behaviour.clone(), log.clone()))
            .collect();
        return (stubs, log);
    }
    panic!("no common free port on {ips:?}");
}

async fn serve_one(mut stream: TcpStream, behaviour: &Behaviour, log: &Log) {
    match behaviour {
        Behaviour::Silent => tokio::time::sleep(Duration::from_secs(60)).await,
        Behaviour::EndlessBanner => {
            let line = format!("220-{}\r\n", "a".repeat(70));
            while stream.write_all(line.as_bytes()).await.is_ok() {}
        }
        Behaviour::EndlessLine => {
            let _ = stream.write_all(b"220 ").await;
            let chunk = [b'x'; 1024];
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Behaviour::Drip(every) => loop {
            if stream.write_all(b"220-still here\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(*every).await;
        },
        Behaviour::SayAndClose(text) => {
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Smtp(script) => {
            tokio::time::sleep(script.hold).await;
            for (i, chunk) in script.greeting.iter().enumerate() {
                if i > 0 {
                    // Anything arriving while the greeting is incomplete is early talk.
                    let mut peek = [0u8; 1];
                    let waited =
                        tokio::time::timeout(Duration::from_millis(100), stream.peek(&mut peek))
                            .await;
                    if matches!(waited, Ok(Ok(n)) if n > 0) {
                        *log.early_talker.lock().expect("log") = true;
                    }
                }
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            let Some(stream) = dialogue(stream, script, log, false).await else {
                return;
            };
            let Some(Starttls::Tls(acceptor)) = &script.starttls else {
                return;
            };
            if let Ok(tls) = acceptor.accept(stream).await {
                dialogue(tls, script, log, true).await;
            }
        }
    }
}

/// Answers commands until QUIT or close; returns the stream when TLS is to start.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    script: &Script,
    log: &Log,
    tls: bool,
) -> Option<S> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        log.commands.lock().expect("log").push(command.clone());
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer: &str = match verb.as_str() {
            "EHLO" if tls => "250-mx.stub.test\r\n250 8BITMIME\r\n",
            "EHLO" => match script.ehlo {
                Some(reply) => reply,
                None => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return None;
                }
            },
            "HELO" => "250 mx.stub.test\r\n",
            "QUIT" => {
                let _ = reader.get_mut().write_all(b"221 2.0.0 Bye\r\n").await;
                return None;
            }
            "STARTTLS" if !tls => match &script.starttls {
                None => "502 5.5.1 not here\r\n",
                Some(Starttls::Refuse) => "454 4.7.0 TLS not available due to local problem\r\n",
                Some(Starttls::Garbage) => {
                    let _ = reader
                        .get_mut()
                        .write_all(b"220 2.0.0 Ready\r\nthis is not a TLS record at all\r\n")
                        .await;
                    return None;
                }
                Some(Starttls::Close) => {
                    let _ = reader.get_mut().write_all(b"220 2.0.0 Ready\r\n").await;
                    let _ = reader.get_mut().shutdown().await;
                    return None;
                }
                Some(Starttls::Tls(_)) => {
                    reader
                        .get_mut()
                        .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                        .await
                        .ok()?;
                    return Some(reader.into_inner());
                }
            },
            _ => "502 5.5.2 Error: command not recognized\r\n",
        };
        if reader.get_mut().write_all(answer.as_bytes()).await.is_err() {
            return None;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Prober helpers.

/// Short timeouts for stubs; the port of `stub`.
fn config(port: u16) -> ProbeConfig {
    ProbeConfig {
        port,
        connect_timeout: Duration::from_secs(2),
        reply_timeout: Duration::from_millis(400),
        session_timeout: Duration::from_secs(5),
        quit_timeout: Duration::from_millis(300),
        per_ip_spacing: Duration::from_millis(10),
        enumerate_versions: false,
        ..ProbeConfig::new("scanner.mxmap.test")
    }
}

fn name(text: &str) -> DnsName {
    DnsName::parse(text).expect("name")
}

/// Probes one stub and checks the verdict came within `limit`; returns it and the time.
async fn probe_within(
    prober: &Prober,
    host: &str,
    ip: IpAddr,
    limit: Duration,
) -> (SmtpProbe, Duration) {
    let start = Instant::now();
    let probe = tokio::time::timeout(limit, prober.probe(&name(host), ip))
        .await
        .unwrap_or_else(|_| panic!("no verdict for {host} within {limit:?}"));
    let took = start.elapsed();
    println!(
        "{host} {ip}: {:?} in {took:?}: {:?}",
        probe.outcome, probe.error
    );
    (probe, took)
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The commands a scanner must never send (security spec §3).
fn assert_no_mail_commands(commands: &[String]) {
    for c in commands {
        let verb = c.split(' ').next().unwrap_or("").to_ascii_uppercase();
        assert!(
            ["EHLO", "HELO", "STARTTLS", "QUIT"].contains(&verb.as_str()),
            "unexpected command {c:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Hostile and odd servers.

#[tokio::test]
async fn silent_server_is_no_greeting_within_the_reply_timeout() {
    let stub = Stub::start(Behaviour::Silent).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::NoGreeting);
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(p.error.is_some_and(|e| e.contains("greeting")));
    assert!(
        stub.log.commands().is_empty(),
        "nothing is said before a greeting"
    );
}

#[tokio::test]
async fn endless_banner_is_a_protocol_error_fast_and_bounded() {
    for behaviour in [Behaviour::EndlessBanner, Behaviour::EndlessLine] {
        let stub = Stub::start(behaviour).await;
        let prober = Prober::new(config(stub.addr.port())).expect("prober");
        let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
        assert_eq!(p.outcome, ProbeOutcome::ProtocolError);
        assert!(
            took < Duration::from_millis(400),
            "cut off by the caps, not the timeout: {took:?}"
        );
        let error = p.error.unwrap_or_default();
        assert!(
            error.contains("more than 100 lines") || error.contains("longer than 2048 bytes"),
            "{error}"
        );
        assert!(p.greeting.is_none());
    }
}

#[tokio::test]
async fn session_cap_stops_a_dripping_tarpit() {
    let stub = Stub::start(Behaviour::Drip(Duration::from_millis(50))).await;
    let prober = Prober::new(ProbeConfig {
        reply_timeout: Duration::from_secs(30),
        session_timeout: Duration::from_millis(600),
        ..config(stub.addr.port())
    })
    .expect("prober");
    let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::NoGreeting);
    assert!(took < Duration::from_millis(1200), "{took:?}");
    assert!(p.error.is_some_and(|e| e.contains("session exceeded")));
}

#[tokio::test]
async fn starttls_refused_with_454() {
    let stub = Stub::start(Behaviour::Smtp(Script::tls(Starttls::Refuse))).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::Completed);
    assert!(p.starttls_advertised);
    assert_eq!(p.starttls_reply.as_ref().map(|r| r.code), Some(454));
    let tls = p.tls.expect("tls");
    assert_eq!(tls.handshake, Handshake::StarttlsRefused);
    assert!(!tls.authenticated());
    assert!(took < Duration::from_millis(500), "{took:?}");
    // Politely ended with QUIT; never anything but the allowed commands.
    let commands = stub.log.commands();
    assert_eq!(
        commands,
        vec!["EHLO scanner.mxmap.test", "STARTTLS", "QUIT"]
    );
}

#[tokio::test]
async fn starttls_220_then_garbage_or_close_is_a_failed_handshake() {
    for (starttls, words) in [
        (Starttls::Garbage, "after its STARTTLS reply"),
        (Starttls::Close, ""),
    ] {
        let stub = Stub::start(Behaviour::Smtp(Script::tls(starttls))).await;
        let prober = Prober::new(config(stub.addr.port())).expect("prober");
        let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
        assert_eq!(p.outcome, ProbeOutcome::Completed);
        let tls = p.tls.expect("tls");
        match &tls.handshake {
            Handshake::Failed(text) => assert!(text.contains(words), "{text}"),
            other => panic!("expected a failed handshake, got {other:?}"),
        }
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
}

#[tokio::test]
async fn greeting_421_and_554_are_rejected() {
    for (text, code) in [
        ("421 4.3.2 mx.stub.test too busy, try later\r\n", 421),
        ("554 5.7.1 mx.stub.test no SMTP service here\r\n", 554),
    ] {
        let stub = Stub::start(Behaviour::SayAndClose(text)).await;
        let prober = Prober::new(config(stub.addr.port())).expect("prober");
        let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
        assert_eq!(p.outcome, ProbeOutcome::Rejected);
        assert!(p.outcome.reached());
        assert_eq!(p.greeting.as_ref().map(|g| g.code), Some(code));
        assert_eq!(
            p.banner_host.map(|h| h.to_string()).as_deref(),
            Some("mx.stub.test")
        );
        assert!(took < Duration::from_millis(800), "{took:?}");
    }
}

#[tokio::test]
async fn garbage_greeting_is_a_protocol_error() {
    let stub = Stub::start(Behaviour::SayAndClose("SSH-2.0-OpenSSH_9.2\r\n")).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::ProtocolError);
    assert!(p.error.is_some_and(|e| e.contains("malformed")));
}

#[tokio::test]
async fn multi_line_greeting_is_read_whole_before_ehlo() {
    let script = Script {
        greeting: vec![
            "220-mx.stub.test ESMTP Exim 4.96 first line\r\n",
            "220-second line\r\n",
            "220 ready\r\n",
        ],
        ..Script::plain()
    };
    let stub = Stub::start(Behaviour::Smtp(script)).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::Completed);
    let greeting = p.greeting.expect("greeting");
    assert_eq!(greeting.code, 220);
    assert_eq!(greeting.lines.len(), 3);
    assert_eq!(p.software.as_deref(), Some("Exim"));
    assert_eq!(
        p.banner_host.map(|h| h.to_string()).as_deref(),
        Some("mx.stub.test")
    );
    assert_eq!(
        p.ehlo_host.map(|h| h.to_string()).as_deref(),
        Some("mx.stub.test")
    );
    assert_eq!(p.ehlo_keywords, vec!["PIPELINING", "8BITMIME"]);
    assert!(!p.starttls_advertised && p.tls.is_none(), "plaintext only");
    assert!(
        !*stub.log.early_talker.lock().expect("log"),
        "nothing sent before the greeting ended"
    );
    assert_eq!(stub.log.commands(), vec!["EHLO scanner.mxmap.test", "QUIT"]);
}

#[tokio::test]
async fn masked_starttls_is_flagged() {
    let script = Script {
        ehlo: Some("250-mx.stub.test\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n"),
        ..Script::plain()
    };
    let stub = Stub::start(Behaviour::Smtp(script)).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert!(p.possibly_stripped);
    assert!(!p.starttls_advertised);
    assert_eq!(p.outcome, ProbeOutcome::Completed);
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let script = Script {
        ehlo: Some("502 5.5.2 Error: command not recognized\r\n"),
        ..Script::plain()
    };
    let stub = Stub::start(Behaviour::Smtp(script)).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::Completed);
    assert_eq!(p.ehlo.as_ref().map(|r| r.code), Some(502));
    assert!(p.ehlo_keywords.is_empty() && p.tls.is_none());
    assert_eq!(
        stub.log.commands(),
        vec!["EHLO scanner.mxmap.test", "HELO scanner.mxmap.test", "QUIT"]
    );
}

#[tokio::test]
async fn unanswered_ehlo_is_a_protocol_error_within_the_reply_timeout() {
    let script = Script {
        ehlo: None,
        ..Script::plain()
    };
    let stub = Stub::start(Behaviour::Smtp(script)).await;
    let prober = Prober::new(config(stub.addr.port())).expect("prober");
    let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(3)).await;
    assert_eq!(p.outcome, ProbeOutcome::ProtocolError);
    assert!(p.greeting.is_some());
    assert!(p.error.is_some_and(|e| e.contains("EHLO")));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn valid_certificate_from_the_test_ca_authenticates() {
    let root = Authority::new("mxmap Test Root", None);
    let mid = Authority::new("mxmap Test Intermediate", Some(&root));
    let leaf = Leaf::new(&["mx.stub.test"], Some(&mid), |_| {}).with(&mid);
    let stub = Stub::start(Behaviour::Smtp(Script::tls(Starttls::Tls(
        leaf.tls_acceptor(),
    ))))
    .await;
    let prober = Prober::new(ProbeConfig {
        roots: RootStore::Pem(root.pem.clone().into_bytes()),
        enumerate_versions: true,
        ..config(stub.addr.port())
    })
    .expect("prober");
    let (p, took) = probe_within(&prober, "MX.stub.test", LOCAL, Duration::from_secs(5)).await;
    assert_eq!(p.outcome, ProbeOutcome::Completed);
    let tls = p.tls.expect("tls");
    assert_eq!(tls.handshake, Handshake::Ok);
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert!(tls.cipher.is_some());
    assert!(tls.pkix_valid && tls.name_match, "{tls:?}");
    assert!(tls.problems.is_empty());
    assert!(tls.authenticated());
    assert_eq!(tls.chain.len(), 2);
    assert_eq!(tls.chain[0].san, vec!["mx.stub.test"]);
    assert_eq!(
        tls.chain[0].issuer,
        "CN=mxmap Test Intermediate,O=mxmap test,C=CH"
    );
    // rustls' server speaks 1.3 and 1.2 and refuses the hand-built 1.1/1.0 hellos.
    assert_eq!(tls.versions_accepted, vec!["TLSv1.3", "TLSv1.2"]);
    assert_eq!(tls.legacy_accepted, Some(false));
    // Main session + 1.2-only + 1.1 + 1.0, one at a time.
    assert_eq!(stub.log.sessions.lock().expect("log").len(), 4);
    assert_eq!(stub.log.max_active(), 1);
    assert!(took < Duration::from_secs(3), "{took:?}");
    let commands = stub.log.commands();
    assert_no_mail_commands(&commands);
    assert_eq!(
        &commands[..4],
        [
            "EHLO scanner.mxmap.test",
            "STARTTLS",
            "EHLO scanner.mxmap.test",
            "QUIT"
        ],
        "EHLO again over TLS, then QUIT"
    );
}

#[tokio::test]
async fn expired_certificate_is_recorded_not_refused() {
    let root = Authority::new("mxmap Test Root", None);
    let leaf = Leaf::new(&["mx.stub.test"], Some(&root), |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let stub = Stub::start(Behaviour::Smtp(Script::tls(Starttls::Tls(
        leaf.tls_acceptor(),
    ))))
    .await;
    let prober = Prober::new(ProbeConfig {
        roots: RootStore::Pem(root.pem.clone().into_bytes()),
        ..config(stub.addr.port())
    })
    .expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(5)).await;
    let tls = p.tls.expect("tls");
    assert_eq!(tls.handshake, Handshake::Ok);
    assert!(!tls.pkix_valid);
    assert!(tls.name_match);
    assert_eq!(tls.problems, vec![CertProblem::Expired]);
    assert!(tls.pkix_detail.is_some());
    assert_eq!(tls.chain.len(), 1);
    assert!(
        tls.versions_accepted.is_empty() && tls.legacy_accepted.is_none(),
        "not enumerated"
    );

    // With "now" set inside its validity the same certificate is fine.
    let prober = Prober::new(ProbeConfig {
        roots: RootStore::Pem(root.pem.clone().into_bytes()),
        now: Some(1_593_561_600), // 2020-07-01
        ..config(stub.addr.port())
    })
    .expect("prober");
    let (p, _) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(5)).await;
    assert!(p.tls.expect("tls").authenticated());
}

#[tokio::test]
async fn refused_connection_is_refused_fast() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let prober = Prober::new(config(port)).expect("prober");
    let (p, took) = probe_within(&prober, "mx.stub.test", LOCAL, Duration::from_secs(2)).await;
    assert_eq!(p.outcome, ProbeOutcome::Refused);
    assert!(!p.outcome.reached());
    assert!(took < Duration::from_millis(200), "{took:?}");
}

#[tokio::test]
async fn loopback_only_refuses_other_addresses_without_a_socket() {
    let prober = Prober::new(ProbeConfig {
        // A connect attempt would hang for this long; refusal is immediate.
        connect_timeout: Duration::from_secs(30),
        ..config(2525)
    })
    .expect("prober");
    let target: IpAddr = "192.0.2.1".parse().expect("ip");
    let (p, took) = probe_within(&prober, "mx.example.org", target, Duration::from_secs(1)).await;
    assert_eq!(p.outcome, ProbeOutcome::NotAllowed);
    let error = p.error.unwrap_or_default();
    assert!(
        error.contains("loopback-only mode refuses 192.0.2.1"),
        "{error}"
    );
    assert!(took < Duration::from_millis(50), "{took:?}");
    assert_eq!(p.elapsed_ms, 0);

    // Only loopback mode may change the port.
    let live = ProbeConfig {
        loopback_only: false,
        ..config(2525)
    };
    assert!(Prober::new(live).is_err());
}

#[tokio::test]
async fn one_session_per_ip_with_spacing() {
    let script = Script {
        hold: Duration::from_millis(30),
        ..Script::plain()
    };
    let stub = Stub::start(Behaviour::Smtp(script)).await;
    let spacing = Duration::from_millis(80);
    let prober = Prober::new(ProbeConfig {
        per_ip_spacing: spacing,
        ..config(stub.addr.port())
    })
    .expect("prober");
    let hosts = [
        "a.stub.test",
        "b.stub.test",
        "c.stub.test",
        "d.stub.test",
        "a.stub.test",
    ];
    let pairs: Vec<(DnsName, IpAddr)> = hosts.iter().map(|h| (name(h), LOCAL)).collect();
    let done = AtomicUsize::new(0);
    let results = tokio::time::timeout(
        Duration::from_secs(5),
        prober.probe_all(pairs, |_| {
            done.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .await
    .expect("in time");
    // Input order kept, duplicates probed once and answered twice.
    let order: Vec<String> = results.iter().map(|p| p.host.to_string()).collect();
    assert_eq!(order, hosts);
    assert_eq!(results[0], results[4]);
    assert_eq!(done.load(Ordering::SeqCst), 4);
    assert!(results.iter().all(|p| p.outcome == ProbeOutcome::Completed));

    assert_eq!(stub.log.max_active(), 1, "one session at a time per IP");
    let mut sessions = stub.log.sessions.lock().expect("log").clone();
    sessions.sort();
    assert_eq!(sessions.len(), 4);
    for pair in sessions.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].1);
        assert!(gap >= spacing.mul_f32(0.9), "gap {gap:?} < {spacing:?}");
    }
}

#[tokio::test]
async fn different_ips_run_in_parallel_within_the_subnet_cap() {
    let ips: Vec<Ipv4Addr> = (2..=6).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect();
    let script = Script {
        hold: Duration::from_millis(150),
        ..Script::plain()
    };
    for cap in [2, 16] {
        let (stubs, log) = stubs_on(&ips, Behaviour::Smtp(script.clone())).await;
        let prober = Prober::new(ProbeConfig {
            per_subnet_concurrency: cap,
            ..config(stubs[0].addr.port())
        })
        .expect("prober");
        let pairs = ips
            .iter()
            .map(|ip| (name("mx.stub.test"), IpAddr::V4(*ip)))
            .collect();
        let started = Instant::now();
        let results = tokio::time::timeout(Duration::from_secs(5), prober.probe_all(pairs, |_| {}))
            .await
            .expect("in time");
        let took = started.elapsed();
        println!("cap {cap}: {took:?}, at most {} at once", log.max_active());
        assert!(results.iter().all(|p| p.outcome == ProbeOutcome::Completed));
        if cap == 2 {
            // All five are in one /24: two at a time, so at least three rounds of holds.
            assert!(log.max_active() <= 2, "{}", log.max_active());
            assert!(took >= script.hold * 3, "{took:?}");
        } else {
            assert!(log.max_active() >= 3, "sessions to different IPs overlap");
        }
    }
}

#[test]
fn real_postfix_variants() {
    let Some(postfix) = common::postfix::prerequisites() else {
        return;
    };
    let root = Authority::new("mxmap Test Root", None);
    let mid = Authority::new("mxmap Test Intermediate", Some(&root));
    let ip = |n| Ipv4Addr::new(127, 0, 2, n);
    let variants = vec![
        Variant {
            ip: ip(1),
            host: "mx-valid.smtp.test",
            options: "",
            leaf: Some(Leaf::new(&["mx-valid.smtp.test"], Some(&mid), |_| {}).with(&mid)),
        },
        Variant {
            ip: ip(2),
            host: "mx-wrong.smtp.test",
            options: "",
            leaf: Some(Leaf::new(&["other.smtp.test"], Some(&mid), |_| {}).with(&mid)),
        },
        Variant {
            ip: ip(3),
            host: "mx-self.smtp.test",
            options: "",
            leaf: Some(Leaf::new(&["mx-self.smtp.test"], None, |_| {})),
        },
        Variant {
            ip: ip(4),
            host: "mx-plain.smtp.test",
            options: "-o smtpd_tls_security_level=none",
            leaf: None,
        },
        Variant {
            ip: ip(5),
            host: "mx-legacy.smtp.test",
            // OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
            options: "-o smtpd_tls_protocols=<=TLSv1.1 -o smtpd_tls_mandatory_protocols=<=TLSv1.1 \
                      -o tls_medium_cipherlist=DEFAULT:@SECLEVEL=0",
            leaf: Some(Leaf::new(&["mx-legacy.smtp.test"], Some(&mid), |_| {}).with(&mid)),
        },
        Variant {
            ip: ip(6),
            host: "mx-expired.smtp.test",
            options: "",
            leaf: Some(
                Leaf::new(&["mx-expired.smtp.test"], Some(&mid), |p| {
                    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                    p.not_after = rcgen::date_time_ymd(2021, 1, 1);
                })
                .with(&mid),
            ),
        },
        Variant {
            ip: ip(7),
            host: "mx-incomplete.smtp.test",
            options: "",
            // The intermediate is not served.
            leaf: Some(Leaf::new(&["mx-incomplete.smtp.test"], Some(&mid), |_| {})),
        },
    ];
    let ips: Vec<Ipv4Addr> = variants.iter().map(|v| v.ip).collect();
    let port = free_port(&ips);
    let instance = Postfix::start(postfix, &variants, port);

    let prober = Prober::new(ProbeConfig {
        port,
        connect_timeout: Duration::from_secs(3),
        reply_timeout: Duration::from_secs(10),
        session_timeout: Duration::from_secs(30),
        quit_timeout: Duration::from_secs(2),
        per_ip_spacing: Duration::from_millis(50),
        enumerate_versions: true,
        roots: RootStore::Pem(root.pem.clone().into_bytes()),
        ..ProbeConfig::new("scanner.mxmap.test")
    })
    .expect("prober");
    let pairs = variants
        .iter()
        .map(|v| (name(v.host), IpAddr::V4(v.ip)))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let results = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(90), prober.probe_all(pairs, |_| {}))
            .await
            .expect("all probes within 90 s")
    });
    println!("7 Postfix variants probed in {:?}", started.elapsed());
    for p in &results {
        println!("{}", serde_json::to_string(p).expect("json"));
    }
    let by_host = |host: &str| {
        results
            .iter()
            .find(|p| p.host.to_string() == host)
            .unwrap_or_else(|| panic!("no result for {host}"))
    };
    let tls = |host: &str| {
        let p = by_host(host);
        assert_eq!(p.outcome, ProbeOutcome::Completed, "{host}: {:?}", p.error);
        assert_eq!(p.software.as_deref(), Some("Postfix"), "{host}");
        assert_eq!(
            p.banner_host.as_ref().map(|h| h.to_string()).as_deref(),
            Some(host)
        );
        p.tls.clone().unwrap_or_else(|| panic!("{host}: no TLS"))
    };

    let valid = tls("mx-valid.smtp.test");
    assert_eq!(valid.handshake, Handshake::Ok);
    assert!(matches!(
        valid.version.as_deref(),
        Some("TLSv1.3" | "TLSv1.2")
    ));
    assert!(valid.authenticated(), "{valid:?}");
    assert!(valid.problems.is_empty());
    assert_eq!(valid.chain.len(), 2);
    assert!(valid.versions_accepted.contains(&"TLSv1.2".to_string()));
    assert!(
        !valid
            .versions_accepted
            .iter()
            .any(|v| v == "TLSv1.1" || v == "TLSv1.0")
    );
    assert_eq!(valid.legacy_accepted, Some(false));

    let wrong = tls("mx-wrong.smtp.test");
    assert_eq!(wrong.handshake, Handshake::Ok);
    assert!(wrong.pkix_valid && !wrong.name_match);
    assert_eq!(wrong.problems, vec![CertProblem::NameMismatch]);
    assert!(!wrong.authenticated());

    let own = tls("mx-self.smtp.test");
    assert!(!own.pkix_valid && own.name_match);
    assert_eq!(own.problems, vec![CertProblem::SelfSigned]);

    let plain = by_host("mx-plain.smtp.test");
    assert_eq!(plain.outcome, ProbeOutcome::Completed);
    assert!(!plain.starttls_advertised && plain.tls.is_none());
    assert!(plain.ehlo_keywords.contains(&"PIPELINING".to_string()));

    let legacy = tls("mx-legacy.smtp.test");
    assert!(
        matches!(legacy.handshake, Handshake::Failed(_)),
        "{:?}",
        legacy.handshake
    );
    assert_eq!(legacy.legacy_accepted, Some(true));
    assert_eq!(legacy.versions_accepted, vec!["TLSv1.1", "TLSv1.0"]);

    let expired = tls("mx-expired.smtp.test");
    assert_eq!(expired.handshake, Handshake::Ok);
    assert!(!expired.pkix_valid);
    assert_eq!(expired.problems, vec![CertProblem::Expired]);

    let incomplete = tls("mx-incomplete.smtp.test");
    assert!(!incomplete.pkix_valid && incomplete.name_match);
    assert_eq!(incomplete.problems, vec![CertProblem::IncompleteChain]);

    // Postfix counts every command of every session: only EHLO, STARTTLS and QUIT.
    let log = instance.log();
    for line in log
        .lines()
        .filter(|l| l.contains("warning:") || l.contains("fatal:"))
    {
        println!("postfix: {line}");
    }
    let disconnects: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" disconnect from "))
        .collect();
    assert!(!disconnects.is_empty(), "log:\n{log}");
    for line in disconnects {
        for verb in ["mail=", "rcpt=", "data=", "vrfy=", "expn=", "bdat="] {
            assert!(!line.contains(verb), "{line}");
        }
    }
    drop(instance);
}
