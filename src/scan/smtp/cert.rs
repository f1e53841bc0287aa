//! Certificate evidence and validation, done by our own code after the handshake so that
//! invalid certificates are still recorded (security spec §3.3).
//!
//! Path building and signatures are webpki's (through rustls' `WebPkiServerVerifier`,
//! given only the intermediates the server served: validating MTAs do not fetch AIA).
//! webpki stops at the first error it meets, so what it cannot tell apart is measured
//! here: validity of the leaf at the scan time, the RFC 6125 name match (webpki ignores
//! the CN), weak RSA keys, SHA-1 signatures, and whether an unknown issuer is a
//! self-signed leaf or a chain that lacks an intermediate.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::evidence::Timestamp;
use crate::name::DnsName;
use crate::scan::probe::{CertInfo, CertProblem};

/// A leaf expiring within this many seconds is flagged `expires_soon`.
const EXPIRES_SOON: i64 = 14 * 24 * 3600;
/// RSA keys below this many bits are weak.
const MIN_RSA_BITS: u32 = 2048;

/// Signature algorithms built on SHA-1 (RSA, ECDSA, DSA).
const SHA1_SIGNATURES: &[&str] = &[
    "1.2.840.113549.1.1.5",
    "1.2.840.10045.4.1",
    "1.2.840.10040.4.3",
    "1.3.14.3.2.29",
];

/// The trust store and the verifier built on it.
pub(super) struct Trust {
    verifier: Arc<WebPkiServerVerifier>,
    /// Subjects of the trust anchors (DER contents of the Name, without its header),
    /// to tell "issued by a trusted root" from "issuer missing".
    anchor_subjects: HashSet<Vec<u8>>,
}

/// What the certificate checks found, ready for [`crate::scan::probe::TlsResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Evaluation {
    /// Every certificate that could be read, leaf first.
    pub chain: Vec<CertInfo>,
    /// Chain to a trusted root, within validity, at the scan time.
    pub pkix_valid: bool,
    /// The leaf names the MX host.
    pub name_match: bool,
    /// Every problem, each once, in a stable order.
    pub problems: Vec<CertProblem>,
    /// The validator's error text.
    pub pkix_detail: Option<String>,
    /// The leaf expires within 14 days.
    pub expires_soon: bool,
}

impl Trust {
    /// Builds the verifier over `roots`.
    pub fn new(roots: RootCertStore, provider: Arc<CryptoProvider>) -> anyhow::Result<Self> {
        let anchor_subjects = roots
            .roots
            .iter()
            .map(|a| a.subject.as_ref().to_vec())
            .collect();
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the certificate verifier: {e}"))?;
        Ok(Trust {
            verifier,
            anchor_subjects,
        })
    }

    /// Evaluates a served chain (leaf first) for `host` at `now` (Unix seconds).
    pub fn evaluate(
        &self,
        host: &DnsName,
        served: &[CertificateDer<'_>],
        now: Timestamp,
    ) -> Evaluation {
        let parsed: Vec<Result<Parsed, String>> = served.iter().map(|c| Parsed::new(c)).collect();
        let chain: Vec<CertInfo> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.info.clone()))
            .collect();
        let unreadable = |detail: String| Evaluation {
            chain: chain.clone(),
            pkix_valid: false,
            name_match: false,
            problems: vec![CertProblem::Other],
            pkix_detail: Some(detail),
            expires_soon: false,
        };
        let (Some(leaf_der), Some(first)) = (served.first(), parsed.first()) else {
            return unreadable("the server presented no certificate".to_string());
        };
        let leaf = match first {
            Ok(leaf) => leaf,
            Err(e) => return unreadable(format!("unreadable leaf certificate: {e}")),
        };
        let readable: Vec<&Parsed> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();

        let mut problems = Vec::new();
        let host_text = host.to_string();
        let name_match = name_matches(&host_text, &leaf.dns_names, &leaf.common_names);
        let expired = now > leaf.info.not_after;
        let not_yet = now < leaf.info.not_before;
        let expires_soon = !expired && leaf.info.not_after - now < EXPIRES_SOON;
        if expired {
            problems.push(CertProblem::Expired);
        }
        if not_yet {
            problems.push(CertProblem::NotYetValid);
        }

        // A served root's own key and self-signature do not matter (anchors come from
        // the trust store); the leaf's and intermediates' do.
        let signed: Vec<&&Parsed> = readable
            .iter()
            .enumerate()
            .filter(|(i, p)| *i == 0 || !p.self_issued())
            .map(|(_, p)| p)
            .collect();
        let sha1 = signed.iter().any(|p| p.sha1);
        let weak = signed
            .iter()
            .any(|p| p.rsa_bits.is_some_and(|b| b < MIN_RSA_BITS));

        let intermediates = served.get(1..).unwrap_or_default();
        let name = ServerName::try_from(host_text.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()));
        let verify = |at: Timestamp| {
            let at = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0).unsigned_abs()));
            match self
                .verifier
                .verify_server_cert(leaf_der, intermediates, &name, &[], at)
            {
                Ok(_) => Ok(()),
                // The name is judged by our own RFC 6125 code (webpki ignores the CN);
                // webpki checks it only after the chain, so the chain is fine.
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(()),
                Err(e) => Err(e),
            }
        };

        let mut pkix_detail = None;
        let pkix_valid = match verify(now) {
            Ok(()) => true,
            Err(first) => {
                pkix_detail = Some(first.to_string());
                let validity = self.classify(&first, &readable, sha1);
                problems.extend(validity);
                // webpki reports validity before trust: look again at a moment the leaf
                // was valid, so an expired certificate from an unknown issuer shows both.
                if matches!(
                    validity,
                    Some(CertProblem::Expired | CertProblem::NotYetValid)
                ) {
                    let span = (leaf.info.not_after - leaf.info.not_before).max(0);
                    let inside = leaf.info.not_before + span / 2;
                    if let Err(again) = verify(inside) {
                        problems.extend(self.classify(&again, &readable, sha1));
                        if let Some(detail) = pkix_detail.as_mut() {
                            detail.push_str(&format!("; within the leaf's validity: {again}"));
                        }
                    }
                }
                false
            }
        };
        if !name_match {
            problems.push(CertProblem::NameMismatch);
        }
        if weak {
            problems.push(CertProblem::WeakKey);
        }
        if sha1 {
            problems.push(CertProblem::Sha1Signature);
        }
        let mut seen = HashSet::new();
        problems.retain(|p| seen.insert(*p));

        Evaluation {
            chain,
            pkix_valid,
            name_match,
            problems,
            pkix_detail,
            expires_soon,
        }
    }

    /// Maps a webpki error to a problem code (`None` when our own checks say it all).
    fn classify(
        &self,
        error: &rustls::Error,
        served: &[&Parsed],
        sha1: bool,
    ) -> Option<CertProblem> {
        let rustls::Error::InvalidCertificate(error) = error else {
            return Some(CertProblem::Other);
        };
        Some(match error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertProblem::NotYetValid
            }
            CertificateError::UnknownIssuer => self.issuer_problem(served),
            // webpki has no SHA-1: its refusal is the SHA-1 problem already recorded.
            CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
                if sha1 =>
            {
                return None;
            }
            // A self-signed leaf made with `openssl req -x509` carries CA:TRUE, which
            // webpki reports as "CA used as end entity": the problem is that it signed
            // itself, unless it is itself a trusted root.
            _ if served.first().is_some_and(|leaf| {
                leaf.self_issued()
                    && !self
                        .anchor_subjects
                        .contains(der_contents(&leaf.subject_raw))
            }) =>
            {
                CertProblem::SelfSigned
            }
            _ => CertProblem::Other,
        })
    }

    /// Why no path to a root was found: walks from the leaf through the served
    /// certificates by issuer name. A self-signed leaf is `SelfSigned`; a served chain
    /// ending in an untrusted self-signed root, or at an issuer that is a trusted root
    /// (so the signature or constraints failed), is `UnknownIssuer`; a chain ending at
    /// an issuer nobody served is `IncompleteChain` (security spec §3.3: validating MTAs
    /// do not fetch the missing intermediate).
    fn issuer_problem(&self, served: &[&Parsed]) -> CertProblem {
        let mut at = 0;
        let mut visited = vec![0];
        loop {
            let Some(cert) = served.get(at) else {
                return CertProblem::UnknownIssuer;
            };
            if cert.self_issued() {
                return if at == 0 {
                    CertProblem::SelfSigned
                } else {
                    CertProblem::UnknownIssuer
                };
            }
            if self
                .anchor_subjects
                .contains(der_contents(&cert.issuer_raw))
            {
                return CertProblem::UnknownIssuer;
            }
            let next = served
                .iter()
                .enumerate()
                .find(|(i, c)| !visited.contains(i) && c.subject_raw == cert.issuer_raw);
            match next {
                Some((i, _)) => {
                    visited.push(i);
                    at = i;
                }
                None => return CertProblem::IncompleteChain,
            }
        }
    }
}

/// One served certificate, read.
#[derive(Debug, Clone)]
struct Parsed {
    info: CertInfo,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    dns_names: Vec<String>,
    common_names: Vec<String>,
    rsa_bits: Option<u32>,
    sha1: bool,
}

impl Parsed {
    fn new(der: &CertificateDer<'_>) -> Result<Parsed, String> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let dns_names: Vec<String> = match cert.subject_alternative_name() {
            Ok(Some(ext)) => ext
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect(),
            // A malformed or duplicated SAN extension names nothing.
            Ok(None) | Err(_) => Vec::new(),
        };
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect();
        let spki = cert.public_key();
        let key_oid = spki.algorithm.algorithm.to_id_string();
        let (key_alg, key_bits, rsa_bits) = match key_oid.as_str() {
            "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
                let bits = rsa_modulus_bits(spki.subject_public_key.data.as_ref());
                let name = if key_oid.ends_with(".1") {
                    "RSA"
                } else {
                    "RSA-PSS"
                };
                (name.to_string(), bits, Some(bits))
            }
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                let bits = curve.as_deref().map_or(0, curve_bits);
                ("EC".to_string(), bits, None)
            }
            "1.3.101.112" => ("Ed25519".to_string(), 256, None),
            "1.3.101.113" => ("Ed448".to_string(), 456, None),
            "1.2.840.10040.4.1" => ("DSA".to_string(), 0, None),
            other => (other.to_string(), 0, None),
        };
        let sig_oid = &cert.signature_algorithm.algorithm;
        let sig_dotted = sig_oid.to_id_string();
        let sig_alg = x509_parser::objects::oid2sn(sig_oid, x509_parser::objects::oid_registry())
            .map_or_else(|_| sig_dotted.clone(), str::to_string);
        let info = CertInfo {
            sha256: hex::encode(Sha256::digest(der.as_ref()).as_slice()),
            spki_sha256: hex::encode(Sha256::digest(spki.raw).as_slice()),
            subject: rfc4514(cert.subject()),
            san: dns_names.clone(),
            issuer: rfc4514(cert.issuer()),
            issuer_country: cert
                .issuer()
                .iter_country()
                .find_map(|a| a.as_str().ok().map(str::to_string)),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key_alg,
            key_bits,
            sig_alg,
        };
        Ok(Parsed {
            info,
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            dns_names,
            common_names,
            rsa_bits,
            sha1: SHA1_SIGNATURES.contains(&sig_dotted.as_str()),
        })
    }

    /// Issuer and subject are the same name.
    fn self_issued(&self) -> bool {
        self.issuer_raw == self.subject_raw
    }
}

/// Bits of an RSA modulus from the DER `RSAPublicKey` (the leading zero octet and
/// leading zero bits do not count).
fn rsa_modulus_bits(der: &[u8]) -> u32 {
    let Ok((_, key)) = x509_parser::public_key::RSAPublicKey::from_der(der) else {
        return 0;
    };
    let modulus = key.modulus;
    let Some(start) = modulus.iter().position(|&b| b != 0) else {
        return 0;
    };
    let significant = &modulus[start..];
    let bits = significant.len() * 8 - significant[0].leading_zeros() as usize;
    u32::try_from(bits).unwrap_or(u32::MAX)
}

/// Field size of a named curve.
fn curve_bits(oid: &str) -> u32 {
    match oid {
        "1.2.840.10045.3.1.7" | "1.3.132.0.10" | "1.3.36.3.3.2.8.1.1.7" => 256,
        "1.3.132.0.34" | "1.3.36.3.3.2.8.1.1.11" => 384,
        "1.3.132.0.35" => 521,
        "1.3.36.3.3.2.8.1.1.13" => 512,
        "1.2.840.10045.3.1.1" => 192,
        "1.3.132.0.33" => 224,
        _ => 0,
    }
}

/// The contents of a DER TLV (the Name without its SEQUENCE header), as webpki keeps
/// trust-anchor subjects.
fn der_contents(der: &[u8]) -> &[u8] {
    let Some(&len) = der.get(1) else {
        return der;
    };
    let header = if len < 0x80 {
        2
    } else {
        2 + usize::from(len & 0x7f)
    };
    der.get(header..).unwrap_or(der)
}

/// A distinguished name as RFC 4514 text: RDNs last to first, `,` between them, `+`
/// within one, attribute types by short name (`CN`, `O`, `C`) or dotted OID.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type();
                    let key =
                        x509_parser::objects::oid2abbrev(oid, x509_parser::objects::oid_registry())
                            .map_or_else(|_| oid.to_id_string(), str::to_string);
                    format!("{key}={}", attribute_value(attr))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// One attribute value: strings escaped per RFC 4514 §2.4, anything else as `#` and the
/// hex of its content octets.
fn attribute_value(attr: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    let value = attr.attr_value();
    let text = match value.tag() {
        Tag::BmpString => {
            let units: Vec<u16> = value
                .data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(value.data.iter().map(|&b| char::from(b)).collect()),
        _ => attr.as_str().ok().map(str::to_string),
    };
    match text {
        Some(text) => escape_rfc4514(&text),
        None => format!("#{}", hex::encode(value.data)),
    }
}

/// Escapes one attribute value (RFC 4514 §2.4).
fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let count = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == count => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// RFC 6125 matching of `host` against the certificate's identifiers: dNSName SANs
/// only, the CN only when there is no dNSName SAN, case-insensitive, a wildcard only
/// as the entire left-most label and matching exactly one label.
pub(super) fn name_matches(host: &str, dns_sans: &[String], common_names: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ids = if dns_sans.is_empty() {
        common_names
    } else {
        dns_sans
    };
    ids.iter().any(|id| matches_id(&host, id))
}

/// One presented identifier against the (lower-case) host name.
fn matches_id(host: &str, id: &str) -> bool {
    let id = id.trim().trim_end_matches('.').to_ascii_lowercase();
    if id.is_empty() || host.is_empty() {
        return false;
    }
    match id.strip_prefix("*.") {
        Some(base) => {
            // `*.org` would cover a whole top-level domain: never a valid identifier.
            if base.contains('*') || !base.contains('.') {
                return false;
            }
            host.split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == base)
        }
        None => !id.contains('*') && id == host,
    }
}

#[cfg(test)]
#[path = "cert_tests.rs"]
mod tests;
