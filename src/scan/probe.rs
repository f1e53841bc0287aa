//! What an SMTP/STARTTLS probe of one mail server address observed: plain data shared
//! by the prober ([`super::smtp`]), the scan cache, the classifier (banner and
//! certificate names) and the grader (transport security).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::Timestamp;
use crate::name::DnsName;

/// How far a probe got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The TCP connection was refused (nothing listens).
    Refused,
    /// No TCP connection within the connect timeout (filtered, host down).
    Unreachable,
    /// Connected, but no complete greeting within the timeout (tarpit, silent server).
    NoGreeting,
    /// The server greeted with a refusal (`554`) or a temporary failure (`421`).
    Rejected,
    /// The server broke the protocol (reply too long, garbage, connection reset).
    ProtocolError,
    /// The SMTP dialogue ran to its end (with or without TLS; see [`SmtpProbe::tls`]).
    Completed,
    /// The prober refused to connect (loopback-only policy, opt-out list).
    NotAllowed,
}

impl ProbeOutcome {
    /// True when a greeting was read: the server could be measured.
    pub fn reached(&self) -> bool {
        matches!(self, ProbeOutcome::Rejected | ProbeOutcome::Completed)
    }
}

/// One SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Three-digit code.
    pub code: u16,
    /// Text of each line without the code and separator (capped).
    pub lines: Vec<String>,
}

/// How the TLS handshake ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    /// A TLS session was established.
    Ok,
    /// The STARTTLS command was refused (`454`, `5xx`).
    StarttlsRefused,
    /// The handshake failed; the error text says how.
    Failed(String),
    /// No answer in time.
    Timeout,
}

/// One certificate of the presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (DANE selector 1).
    pub spki_sha256: String,
    /// Subject, RFC 4514 text.
    pub subject: String,
    /// dNSName subject alternative names.
    pub san: Vec<String>,
    /// Issuer, RFC 4514 text.
    pub issuer: String,
    /// Issuer organisation's country, if present.
    pub issuer_country: Option<String>,
    /// Validity start.
    pub not_before: Timestamp,
    /// Validity end.
    pub not_after: Timestamp,
    /// Public key algorithm (`RSA`, `EC`, `Ed25519`, …).
    pub key_alg: String,
    /// Key size in bits (RSA modulus, EC field size).
    pub key_bits: u32,
    /// Signature algorithm.
    pub sig_alg: String,
}

/// Certificate problems, each its own code (security spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    /// Past its `not_after`.
    Expired,
    /// Before its `not_before`.
    NotYetValid,
    /// Issued by itself and not a trusted root.
    SelfSigned,
    /// No path to a trusted root.
    UnknownIssuer,
    /// The served chain lacks an intermediate (validating MTAs do not fetch AIA).
    IncompleteChain,
    /// No dNSName (or CN without SANs) matches the MX host name.
    NameMismatch,
    /// RSA key below 2048 bits.
    WeakKey,
    /// SHA-1 signature.
    Sha1Signature,
    /// Any other validation error (text in [`TlsResult::pkix_detail`]).
    Other,
}

/// Result of the TLS part of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsResult {
    /// Handshake outcome.
    pub handshake: Handshake,
    /// Negotiated protocol version (`TLSv1.3`, `TLSv1.2`).
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher: Option<String>,
    /// Presented chain, leaf first.
    pub chain: Vec<CertInfo>,
    /// Chain validates against the trust store, within validity.
    pub pkix_valid: bool,
    /// The leaf's names match the MX host name.
    pub name_match: bool,
    /// Every problem found.
    pub problems: Vec<CertProblem>,
    /// The validator's own error text.
    pub pkix_detail: Option<String>,
    /// Leaf expires within 14 days.
    pub expires_soon: bool,
    /// Protocol versions the server accepted in separate short connections
    /// (`TLSv1.3`, `TLSv1.2`, `TLSv1.1`, `TLSv1.0`); empty when not enumerated.
    pub versions_accepted: Vec<String>,
    /// Whether the server accepts TLS 1.1 or older; `None` when not measured.
    pub legacy_accepted: Option<bool>,
}

impl TlsResult {
    /// True when TLS was established and the certificate authenticates the MX host
    /// (PKIX valid and name match).
    pub fn authenticated(&self) -> bool {
        self.handshake == Handshake::Ok && self.pkix_valid && self.name_match
    }
}

impl SmtpProbe {
    /// A probe of `host` at `ip` that has observed nothing yet (outcome: protocol
    /// error until the session says otherwise).
    pub fn empty(host: &DnsName, ip: IpAddr, port: u16, at: Timestamp) -> SmtpProbe {
        SmtpProbe {
            host: host.clone(),
            ip,
            port,
            at,
            elapsed_ms: 0,
            outcome: ProbeOutcome::ProtocolError,
            greeting: None,
            ehlo: None,
            ehlo_keywords: Vec::new(),
            starttls_advertised: false,
            possibly_stripped: false,
            starttls_reply: None,
            tls: None,
            banner_host: None,
            ehlo_host: None,
            software: None,
            error: None,
        }
    }
}

/// Everything observed about one (MX host, address) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpProbe {
    /// MX host name (used for SNI and name checks).
    pub host: DnsName,
    /// Address probed.
    pub ip: IpAddr,
    /// Port (25 in live mode).
    pub port: u16,
    /// When the probe started.
    pub at: Timestamp,
    /// Wall time of the whole session.
    pub elapsed_ms: u64,
    /// How far it got.
    pub outcome: ProbeOutcome,
    /// Greeting (`220 …`).
    pub greeting: Option<Reply>,
    /// EHLO reply (before TLS).
    pub ehlo: Option<Reply>,
    /// EHLO keywords, upper case (`STARTTLS`, `SIZE`, `PIPELINING`, …).
    pub ehlo_keywords: Vec<String>,
    /// STARTTLS was advertised.
    pub starttls_advertised: bool,
    /// A keyword looks like a STARTTLS masked by a middlebox (`XXXXXXXA`).
    pub possibly_stripped: bool,
    /// Reply to STARTTLS.
    pub starttls_reply: Option<Reply>,
    /// TLS, when STARTTLS was tried.
    pub tls: Option<TlsResult>,
    /// Host name from the greeting (first token after the code), when it is a valid FQDN.
    pub banner_host: Option<DnsName>,
    /// Host name from the EHLO reply's first line.
    pub ehlo_host: Option<DnsName>,
    /// MTA software named in the greeting (`Postfix`, `Microsoft ESMTP MAIL Service`, …).
    pub software: Option<String>,
    /// What went wrong, in words (connection errors, timeouts, protocol violations).
    pub error: Option<String>,
}
