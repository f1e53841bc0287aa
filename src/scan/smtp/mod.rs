//! The SMTP/STARTTLS prober (security spec §3, §13, §14): one bounded session per
//! (MX host, IP) that reads the greeting, says EHLO, starts TLS when offered, records the
//! presented chain and validates it with our own code, then says QUIT. Never `MAIL`,
//! `RCPT`, `DATA`, `VRFY` or `EXPN`; nothing is sent before the greeting is complete,
//! and commands are never pipelined.
//!
//! - `reply`: bounded line and reply reading (RFC 5321 §4.2);
//! - `banner`: host names, software and EHLO keywords from replies;
//! - `cert`: certificate evidence, chain validation, RFC 6125 name matching;
//! - `legacy`: TLS 1.0/1.1 detection with a hand-built ClientHello;
//! - `politeness`: global, per-IP and per-subnet limits and spacing.
//!
//! Every wait is bounded: connect, each reply, the handshake, and the whole session.

mod banner;
mod capture;
mod cert;
mod legacy;
mod outcome;
mod politeness;
mod reply;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use tokio_rustls::TlsConnector;

use crate::evidence::Timestamp;
use crate::name::DnsName;
use crate::scan::probe::{CertProblem, Handshake, ProbeOutcome, SmtpProbe, TlsResult};
use capture::CaptureOnly;
use outcome::{
    blank, command_error_text, fail, secs, server_name, session_expired, tls_result, unix_now,
    version_name,
};
pub use politeness::relax_for_loopback;
use politeness::{Politeness, Turn};
use reply::{Limits, RawReply, Wire, WireError};

/// Where trusted roots come from.
#[derive(Debug, Clone)]
pub enum RootStore {
    /// Mozilla's roots as shipped by webpki-roots (live mode).
    Mozilla,
    /// PEM text with one or more CA certificates (a test CA in fixture mode).
    Pem(Vec<u8>),
}

/// Everything a prober needs to know; [`ProbeConfig::new`] gives the spec's defaults.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// TCP port; anything but 25 only in loopback-only mode (security spec §14).
    pub port: u16,
    /// Name announced in EHLO/HELO: a real FQDN of the scanning host in live mode.
    pub ehlo_name: String,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each of: greeting, each command reply, TLS handshake.
    pub reply_timeout: Duration,
    /// Hard cap on one session (each enumeration connection has its own).
    pub session_timeout: Duration,
    /// Timeout for the reply to QUIT.
    pub quit_timeout: Duration,
    /// Longest reply line accepted, in bytes (RFC 5321 §4.5.3.1.5 asks for 512).
    pub max_line: usize,
    /// Longest reply accepted, in bytes.
    pub max_reply: usize,
    /// Most lines in one reply.
    pub max_reply_lines: usize,
    /// Most concurrent sessions overall.
    pub global_concurrency: usize,
    /// Least time between the end of one session and the start of the next to one IP.
    pub per_ip_spacing: Duration,
    /// Most concurrent sessions per /24 (IPv4) or /64 (IPv6).
    pub per_subnet_concurrency: usize,
    /// Refuse any target outside 127.0.0.0/8 before creating a socket.
    pub loopback_only: bool,
    /// After a main probe whose STARTTLS was accepted, test TLS versions in separate
    /// short connections (security spec §3.1).
    pub enumerate_versions: bool,
    /// Trusted roots for chain validation.
    pub roots: RootStore,
    /// "Now" for certificate validity (Unix seconds); the clock when `None`.
    pub now: Option<Timestamp>,
}

impl ProbeConfig {
    /// The spec's defaults (§13, §14) with `ehlo_name` as identity. Loopback-only is on:
    /// a live scan has to switch it off explicitly.
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        ProbeConfig {
            port: 25,
            ehlo_name: ehlo_name.into(),
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(30),
            session_timeout: Duration::from_secs(90),
            quit_timeout: Duration::from_secs(2),
            max_line: 2048,
            max_reply: 16 * 1024,
            max_reply_lines: 100,
            global_concurrency: 16,
            per_ip_spacing: Duration::from_secs(2),
            per_subnet_concurrency: 4,
            loopback_only: true,
            enumerate_versions: true,
            roots: RootStore::Mozilla,
            now: None,
        }
    }
}

/// The prober: configuration, trust store and the politeness state shared by every
/// session it runs. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProbeConfig,
    limits: Limits,
    provider: Arc<CryptoProvider>,
    trust: cert::Trust,
    politeness: Politeness,
}

/// How far one session has got, for the verdict when the session cap cuts it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    Greeting,
    Ehlo,
    Starttls,
    Handshake,
    AfterTls,
    /// The verdict is recorded; only QUIT is left.
    Closing,
}

/// Why a command got no reply.
enum CommandError {
    Timeout,
    Wire(WireError),
}

/// Protocol versions rustls can test.
static TLS13_AND_12: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

impl Prober {
    /// Checks the configuration and loads the trust store.
    pub fn new(config: ProbeConfig) -> anyhow::Result<Prober> {
        let name = config.ehlo_name.as_str();
        if name.is_empty()
            || name.len() > 255
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            bail!("EHLO name {name:?} is not a host name");
        }
        if config.port != 25 && !config.loopback_only {
            bail!(
                "the SMTP port can only be changed in loopback-only mode (got {})",
                config.port
            );
        }
        if config.max_line < 512
            || config.max_reply < config.max_line
            || config.max_reply_lines == 0
        {
            bail!(
                "reply limits too small: max_line {} (at least 512), max_reply {}, max_reply_lines {}",
                config.max_line,
                config.max_reply,
                config.max_reply_lines
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match &config.roots {
            RootStore::Mozilla => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            RootStore::Pem(pem) => {
                let mut store = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.context("cannot read the PEM trust store")?;
                    store
                        .add(cert)
                        .context("a trust store certificate is not a usable root")?;
                }
                if store.is_empty() {
                    bail!("the PEM trust store holds no certificate");
                }
                store
            }
        };
        let trust = cert::Trust::new(roots, provider.clone())?;
        let limits = Limits {
            max_line: config.max_line,
            max_reply: config.max_reply,
            max_reply_lines: config.max_reply_lines,
        };
        let politeness = Politeness::new(
            config.global_concurrency,
            config.per_subnet_concurrency,
            config.per_ip_spacing,
        );
        Ok(Prober {
            inner: Arc::new(Inner {
                config,
                limits,
                provider,
                trust,
                politeness,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ProbeConfig {
        &self.inner.config
    }

    /// One probe of (host, ip): waits for its turn (one session per IP, spacing, subnet
    /// and global caps), runs the session — connect, complete greeting, EHLO (HELO on
    /// 5xx), STARTTLS if advertised, a TLS 1.3/1.2 handshake with SNI = host, chain
    /// capture and our own validation, EHLO over TLS, QUIT — and, when configured and
    /// STARTTLS was accepted, the version enumeration connections.
    pub async fn probe(&self, host: &DnsName, ip: IpAddr) -> SmtpProbe {
        let config = &self.inner.config;
        let mut probe = blank(host, ip, config.port);
        if config.loopback_only
            && let Err(e) = crate::scan::loopback::ensure_loopback(ip)
        {
            probe.outcome = ProbeOutcome::NotAllowed;
            probe.error = Some(e.to_string());
            return probe;
        }
        let mut turn = self.inner.politeness.turn(ip).await;
        crate::faults::pause_async(crate::interrupt::Phase::Probe).await;
        probe.at = unix_now();
        let started = Instant::now();
        let mut stage = Stage::Connect;
        let session = timeout(
            config.session_timeout,
            self.session(host, ip, &mut probe, &mut stage),
        )
        .await;
        if session.is_err() {
            session_expired(&mut probe, stage, config.session_timeout);
        }
        probe.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        turn.pause();
        if config.enumerate_versions {
            self.enumerate(host, ip, &mut probe, &mut turn).await;
        }
        probe
    }

    /// Probes many pairs, each distinct (host, ip) once, at most as concurrently as the
    /// limits allow; `on_done` is called as each distinct pair finishes. Results come
    /// back in input order (duplicates share one result).
    pub async fn probe_all(
        &self,
        pairs: Vec<(DnsName, IpAddr)>,
        on_done: impl Fn(&SmtpProbe) + Send + Sync,
    ) -> Vec<SmtpProbe> {
        let mut index: HashMap<(DnsName, IpAddr), usize> = HashMap::new();
        let mut unique: Vec<(DnsName, IpAddr)> = Vec::new();
        let slots: Vec<usize> = pairs
            .into_iter()
            .map(|pair| {
                *index.entry(pair.clone()).or_insert_with(|| {
                    unique.push(pair);
                    unique.len() - 1
                })
            })
            .collect();

        let mut results: Vec<Option<SmtpProbe>> = vec![None; unique.len()];
        let mut tasks = JoinSet::new();
        let mut task_slot = HashMap::new();
        for (i, (host, ip)) in unique.iter().cloned().enumerate() {
            let prober = self.clone();
            let handle = tasks.spawn(async move { (i, prober.probe(&host, ip).await) });
            task_slot.insert(handle.id(), i);
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, probe)) => {
                    on_done(&probe);
                    results[i] = Some(probe);
                }
                Err(e) => {
                    // A panicking probe is a bug; keep the others and say what happened.
                    tracing::error!("an SMTP probe task failed: {e}");
                    if let Some(&i) = task_slot.get(&e.id()) {
                        let (host, ip) = &unique[i];
                        let mut probe = blank(host, *ip, self.inner.config.port);
                        probe.error = Some(format!("probe task failed: {e}"));
                        on_done(&probe);
                        results[i] = Some(probe);
                    }
                }
            }
        }
        slots
            .into_iter()
            .map(|i| {
                results[i].clone().unwrap_or_else(|| {
                    let (host, ip) = &unique[i];
                    blank(host, *ip, self.inner.config.port)
                })
            })
            .collect()
    }

    /// The main session; records everything into `probe` as it goes, so that what was
    /// seen survives the session cap.
    async fn session(&self, host: &DnsName, ip: IpAddr, probe: &mut SmtpProbe, stage: &mut Stage) {
        let config = &self.inner.config;
        let Some(tcp) = self.open(ip, probe, stage).await else {
            return;
        };
        *stage = Stage::Handshake;
        let capture = Arc::new(CaptureOnly::new(&self.inner.provider));
        let connector = match self.connector(capture.clone(), TLS13_AND_12) {
            Ok(c) => c,
            Err(e) => {
                probe.tls = Some(tls_result(Handshake::Failed(e.to_string())));
                return;
            }
        };
        let handshake = timeout(
            config.reply_timeout,
            connector.connect(server_name(host, ip), tcp),
        )
        .await;
        let stream = match handshake {
            Err(_) => {
                probe.tls = Some(tls_result(Handshake::Timeout));
                probe.error = Some(format!(
                    "no TLS handshake within {}",
                    secs(config.reply_timeout)
                ));
                return;
            }
            Ok(Err(e)) => {
                probe.tls = Some(tls_result(Handshake::Failed(e.to_string())));
                return;
            }
            Ok(Ok(stream)) => stream,
        };
        let (_, conn) = stream.get_ref();
        let version = conn.protocol_version().map(version_name);
        let cipher = conn.negotiated_cipher_suite().map(|s| {
            let suite = s.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_string)
        });
        let served = conn.peer_certificates().unwrap_or_default();
        let now = config.now.unwrap_or_else(unix_now);
        let eval = self.inner.trust.evaluate(host, served, now);
        let mut result = tls_result(Handshake::Ok);
        result.version = version;
        result.cipher = cipher;
        result.chain = eval.chain;
        result.pkix_valid = eval.pkix_valid;
        result.name_match = eval.name_match;
        result.problems = eval.problems;
        result.pkix_detail = eval.pkix_detail;
        result.expires_soon = eval.expires_soon;
        if let Some(bad) = capture.signature_error() {
            // The server did not prove it holds the certificate's key: not authenticated,
            // whatever the chain says.
            result.pkix_valid = false;
            if !result.problems.contains(&CertProblem::Other) {
                result.problems.push(CertProblem::Other);
            }
            let detail = format!("handshake signature does not verify: {bad}");
            result.pkix_detail = Some(match result.pkix_detail.take() {
                Some(d) => format!("{d}; {detail}"),
                None => detail,
            });
        }
        probe.tls = Some(result);

        *stage = Stage::AfterTls;
        let mut wire = Wire::new(stream, self.inner.limits);
        let ehlo = format!("EHLO {}", config.ehlo_name);
        match self.command(&mut wire, &ehlo).await {
            Ok(reply) if reply.class() == 2 => {}
            Ok(reply) => {
                probe.error = Some(format!("EHLO over TLS answered {}", reply.code));
            }
            Err(e) => {
                probe.error = Some(format!(
                    "EHLO over TLS: {}",
                    command_error_text(&e, config.reply_timeout)
                ));
                return;
            }
        }
        self.quit(&mut wire).await;
    }

    /// Steps 1–5: connect, greeting, EHLO (or HELO), STARTTLS. Records into `probe` and
    /// returns the connection ready for TLS when the server answered 220 to STARTTLS;
    /// otherwise ends the dialogue politely and returns `None`.
    async fn open(
        &self,
        ip: IpAddr,
        probe: &mut SmtpProbe,
        stage: &mut Stage,
    ) -> Option<TcpStream> {
        let config = &self.inner.config;
        *stage = Stage::Connect;
        let addr = SocketAddr::new(ip, config.port);
        let tcp = match timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                let text = format!(
                    "no TCP connection to {addr} within {}",
                    secs(config.connect_timeout)
                );
                return fail(probe, ProbeOutcome::Unreachable, text);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return fail(
                    probe,
                    ProbeOutcome::Refused,
                    format!("connection to {addr} refused"),
                );
            }
            Ok(Err(e)) => {
                return fail(
                    probe,
                    ProbeOutcome::Unreachable,
                    format!("cannot connect to {addr}: {e}"),
                );
            }
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        let mut wire = Wire::new(tcp, self.inner.limits);

        *stage = Stage::Greeting;
        let greeting = match timeout(config.reply_timeout, wire.read_reply()).await {
            Err(_) => {
                let text = format!("no complete greeting within {}", secs(config.reply_timeout));
                return fail(probe, ProbeOutcome::NoGreeting, text);
            }
            Ok(Err(e)) => {
                return fail(probe, ProbeOutcome::ProtocolError, format!("greeting: {e}"));
            }
            Ok(Ok(reply)) => reply,
        };
        probe.greeting = Some(greeting.record());
        probe.banner_host = greeting.lines.first().and_then(|l| banner::host_token(l));
        probe.software = banner::software(&greeting.lines);
        match greeting.class() {
            2 if greeting.code == 220 => {}
            4 | 5 => {
                let text = format!("the server refused the session with {}", greeting.code);
                fail::<()>(probe, ProbeOutcome::Rejected, text);
                return self.close(&mut wire, stage).await;
            }
            _ => {
                let text = format!("unexpected greeting code {}", greeting.code);
                return fail(probe, ProbeOutcome::ProtocolError, text);
            }
        }

        *stage = Stage::Ehlo;
        let ehlo = match self
            .command(&mut wire, &format!("EHLO {}", config.ehlo_name))
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                let text = format!("EHLO: {}", command_error_text(&e, config.reply_timeout));
                return fail(probe, ProbeOutcome::ProtocolError, text);
            }
        };
        probe.ehlo = Some(ehlo.record());
        let esmtp = match ehlo.class() {
            2 => true,
            5 => {
                // RFC 5321 §4.1.4: fall back to HELO; no ESMTP means no STARTTLS.
                let helo = match self
                    .command(&mut wire, &format!("HELO {}", config.ehlo_name))
                    .await
                {
                    Ok(reply) => reply,
                    Err(e) => {
                        let text =
                            format!("HELO: {}", command_error_text(&e, config.reply_timeout));
                        return fail(probe, ProbeOutcome::ProtocolError, text);
                    }
                };
                if helo.class() != 2 {
                    let text = format!(
                        "EHLO refused with {} and HELO with {}",
                        ehlo.code, helo.code
                    );
                    fail::<()>(probe, ProbeOutcome::Rejected, text);
                    return self.close(&mut wire, stage).await;
                }
                probe.ehlo_host = helo.lines.first().and_then(|l| banner::host_token(l));
                false
            }
            4 => {
                let text = format!("EHLO refused with {}", ehlo.code);
                fail::<()>(probe, ProbeOutcome::Rejected, text);
                return self.close(&mut wire, stage).await;
            }
            _ => {
                let text = format!("unexpected EHLO reply code {}", ehlo.code);
                return fail(probe, ProbeOutcome::ProtocolError, text);
            }
        };
        probe.outcome = ProbeOutcome::Completed;
        if esmtp {
            probe.ehlo_host = ehlo.lines.first().and_then(|l| banner::host_token(l));
            probe.ehlo_keywords = banner::ehlo_keywords(&ehlo.lines);
            probe.starttls_advertised = probe.ehlo_keywords.iter().any(|k| k == "STARTTLS");
            probe.possibly_stripped = banner::looks_stripped(&probe.ehlo_keywords);
        }
        if !probe.starttls_advertised {
            return self.close(&mut wire, stage).await;
        }

        *stage = Stage::Starttls;
        let reply = match self.command(&mut wire, "STARTTLS").await {
            Ok(reply) => reply,
            Err(CommandError::Timeout) => {
                probe.tls = Some(tls_result(Handshake::Timeout));
                probe.error = Some(format!(
                    "no reply to STARTTLS within {}",
                    secs(config.reply_timeout)
                ));
                return None;
            }
            Err(CommandError::Wire(e)) => {
                probe.tls = Some(tls_result(Handshake::Failed(format!("STARTTLS: {e}"))));
                return None;
            }
        };
        probe.starttls_reply = Some(reply.record());
        if reply.code != 220 {
            let handshake = if matches!(reply.class(), 4 | 5) {
                Handshake::StarttlsRefused
            } else {
                Handshake::Failed(format!("unexpected STARTTLS reply code {}", reply.code))
            };
            probe.tls = Some(tls_result(handshake));
            return self.close(&mut wire, stage).await;
        }
        if wire.buffered() > 0 {
            // Plaintext after the 220 would be taken for TLS records, and accepting it is
            // how STARTTLS command injection works: refuse to start TLS on it.
            let text = format!(
                "the server sent {} bytes after its STARTTLS reply",
                wire.buffered()
            );
            probe.tls = Some(tls_result(Handshake::Failed(text)));
            return None;
        }
        Some(wire.into_inner())
    }

    /// Sends one command and reads its reply, both within the reply timeout.
    async fn command<S>(&self, wire: &mut Wire<S>, line: &str) -> Result<RawReply, CommandError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let exchange = async {
            wire.send(line).await?;
            wire.read_reply().await
        };
        match timeout(self.inner.config.reply_timeout, exchange).await {
            Err(_) => Err(CommandError::Timeout),
            Ok(Err(e)) => Err(CommandError::Wire(e)),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    /// Ends a dialogue whose verdict is already recorded; `None` for the caller to return.
    async fn close<S, T>(&self, wire: &mut Wire<S>, stage: &mut Stage) -> Option<T>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        *stage = Stage::Closing;
        self.quit(wire).await;
        None
    }

    /// QUIT, its reply within the QUIT timeout, and close; failures do not matter.
    async fn quit<S>(&self, wire: &mut Wire<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let limit = self.inner.config.quit_timeout;
        let _ = timeout(limit, async {
            wire.send("QUIT").await?;
            wire.read_reply().await
        })
        .await;
        let _ = timeout(limit, wire.shutdown()).await;
    }

    /// A TLS connector that captures the chain and checks only handshake signatures.
    fn connector(
        &self,
        verifier: Arc<CaptureOnly>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Result<TlsConnector, rustls::Error> {
        let mut config = ClientConfig::builder_with_provider(self.inner.provider.clone())
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // Each session stands alone: a resumed session would show no certificate.
        config.resumption = Resumption::disabled();
        Ok(TlsConnector::from(Arc::new(config)))
    }

    /// Version enumeration (security spec §3.1) after a main probe whose STARTTLS was
    /// accepted. The main handshake (1.3 and 1.2 offered) already says whether 1.3 is
    /// accepted; 1.2 is tested alone when 1.3 won, then 1.1 and 1.0 with a hand-built
    /// ClientHello, each in its own connection, spaced like any session to the IP.
    async fn enumerate(
        &self,
        host: &DnsName,
        ip: IpAddr,
        probe: &mut SmtpProbe,
        turn: &mut Turn<'_>,
    ) {
        let Some(tls) = probe.tls.as_ref() else {
            return;
        };
        let (tls13, mut tls12) = match (&tls.handshake, tls.version.as_deref()) {
            (Handshake::Ok, Some("TLSv1.3")) => (Some(true), None),
            (Handshake::Ok, Some("TLSv1.2")) => (Some(false), Some(true)),
            // Neither modern version could be agreed on with a server that accepted
            // STARTTLS: the interesting question is whether it speaks an old one.
            (Handshake::Failed(_), _)
                if probe.starttls_reply.as_ref().is_some_and(|r| r.code == 220) =>
            {
                (Some(false), Some(false))
            }
            _ => return,
        };
        let session_cap = self.inner.config.session_timeout;
        if tls12.is_none() {
            turn.resume().await;
            tls12 = timeout(session_cap, self.try_modern(host, ip, TLS12_ONLY))
                .await
                .ok()
                .flatten();
            turn.pause();
        }
        let mut legacy = [None, None];
        for (slot, version) in legacy.iter_mut().zip([legacy::TLS11, legacy::TLS10]) {
            turn.resume().await;
            *slot = timeout(session_cap, self.try_legacy(host, ip, version))
                .await
                .ok()
                .flatten();
            turn.pause();
        }
        let accepted = [
            ("TLSv1.3", tls13),
            ("TLSv1.2", tls12),
            ("TLSv1.1", legacy[0]),
            ("TLSv1.0", legacy[1]),
        ];
        let Some(tls) = probe.tls.as_mut() else {
            return;
        };
        tls.versions_accepted = accepted
            .iter()
            .filter(|(_, ok)| *ok == Some(true))
            .map(|(name, _)| name.to_string())
            .collect();
        tls.legacy_accepted = match legacy {
            [Some(true), _] | [_, Some(true)] => Some(true),
            [Some(false), Some(false)] => Some(false),
            _ => None,
        };
    }

    /// One rustls handshake limited to `versions`. `None` when it could not be measured
    /// (STARTTLS not reached, timeout).
    async fn try_modern(
        &self,
        host: &DnsName,
        ip: IpAddr,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Option<bool> {
        let mut scratch = blank(host, ip, self.inner.config.port);
        let mut stage = Stage::Connect;
        let tcp = self.open(ip, &mut scratch, &mut stage).await?;
        let capture = Arc::new(CaptureOnly::new(&self.inner.provider));
        let connector = self.connector(capture, versions).ok()?;
        let handshake = timeout(
            self.inner.config.reply_timeout,
            connector.connect(server_name(host, ip), tcp),
        )
        .await
        .ok()?;
        match handshake {
            Ok(stream) => {
                let mut wire = Wire::new(stream, self.inner.limits);
                self.quit(&mut wire).await;
                Some(true)
            }
            Err(_) => Some(false),
        }
    }

    /// One hand-built ClientHello for TLS 1.1 or 1.0; reads only the first record of the
    /// answer. `None` when it could not be measured.
    async fn try_legacy(&self, host: &DnsName, ip: IpAddr, version: u16) -> Option<bool> {
        let mut scratch = blank(host, ip, self.inner.config.port);
        let mut stage = Stage::Connect;
        let mut tcp = self.open(ip, &mut scratch, &mut stage).await?;
        let hello = legacy::client_hello(version, Some(&host.to_string()));
        let limit = self.inner.config.reply_timeout;
        timeout(limit, tcp.write_all(&hello)).await.ok()?.ok()?;
        let answer = timeout(limit, legacy::read_answer(&mut tcp)).await.ok()?;
        tracing::debug!(
            "{host} {ip}: {} hello answered {answer:?}",
            legacy::version_name(version)
        );
        // Closing here, without finishing the handshake, is all the politeness a
        // half-open TLS session allows.
        let _ = tcp.shutdown().await;
        match answer {
            legacy::HelloAnswer::ServerHello(_) => Some(answer.accepts(version)),
            legacy::HelloAnswer::Alert(..) | legacy::HelloAnswer::Closed => Some(false),
            legacy::HelloAnswer::Garbage(_) => None,
        }
    }
}
