//! Transport facts per MX host (security spec §11.1) and their aggregation over the
//! host's addresses (§3.4).
//!
//! An address is *measured* when the probe read a greeting and got far enough to say
//! whether STARTTLS works. Nothing listening, no route, no greeting, a `554`/`421`
//! greeting (the server refuses *us*), or an address the prober was not allowed to
//! contact are *unmeasured*: they say something about our vantage point, not about
//! the server, and never count as "no encryption". A host is `unreachable` when none
//! of its addresses was measured; it is listed but excluded from grading.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::dane::{self, DnssecState, HostDane};
use crate::evidence::Timestamp;
use crate::name::DnsName;
use crate::scan::domain::HostScan;
use crate::scan::probe::{CertProblem, Handshake, ProbeOutcome, SmtpProbe};

/// A TLS protocol version, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// Reads `TLSv1.3`, `TLSv1_3`, `TLS 1.3`, `TLS13`, `SSLv3` and the like.
    pub fn parse(text: &str) -> Option<TlsVersion> {
        let t: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match t.as_str() {
            "sslv3" | "ssl3" | "ssl30" => TlsVersion::Ssl3,
            "tlsv10" | "tls10" | "tlsv1" | "tls1" => TlsVersion::Tls10,
            "tlsv11" | "tls11" => TlsVersion::Tls11,
            "tlsv12" | "tls12" => TlsVersion::Tls12,
            "tlsv13" | "tls13" => TlsVersion::Tls13,
            _ => return None,
        })
    }

    /// `TLSv1.2` style name.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    /// SSLv3, TLS 1.0 or TLS 1.1.
    pub fn is_legacy(self) -> bool {
        self <= TlsVersion::Tls11
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TlsVersion::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown TLS version {text:?}")))
    }
}

/// STARTTLS state of an address or host; ordered worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostTls {
    /// STARTTLS not offered: plaintext only.
    None,
    /// STARTTLS offered but refused, or the handshake fails.
    Broken,
    /// A TLS session is established (possibly only with a legacy version).
    Ok,
}

/// What one address of an MX host showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressTransport {
    /// Address.
    pub ip: IpAddr,
    /// How far the probe got (`None`: not probed).
    pub outcome: Option<ProbeOutcome>,
    /// The address counts for grading.
    pub measured: bool,
    /// STARTTLS state (measured addresses only).
    pub tls: Option<HostTls>,
    /// Negotiated version of the main probe.
    pub version: Option<TlsVersion>,
    /// Highest version accepted (negotiated or enumerated).
    pub version_max: Option<TlsVersion>,
    /// Accepts SSLv3/TLS 1.0/TLS 1.1 (`None`: not enumerated).
    pub legacy_accepted: Option<bool>,
    /// Chain validates (PKIX).
    pub pkix_valid: bool,
    /// Leaf names the MX host.
    pub name_match: bool,
    /// Certificate problems.
    pub problems: Vec<CertProblem>,
    /// Leaf expires within 14 days.
    pub expires_soon: bool,
    /// dNSName SANs of the leaf.
    pub leaf_san: Vec<String>,
    /// A keyword looks like a STARTTLS masked by a middlebox.
    pub possibly_stripped: bool,
    /// What happened, in words (failures and unmeasured causes).
    pub detail: Option<String>,
}

/// Transport facts of one MX host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostTransport {
    /// MX host.
    pub host: DnsName,
    /// MX preference.
    pub preference: u16,
    /// Per address.
    pub addresses: Vec<AddressTransport>,
    /// At least one address was measured.
    pub measured: bool,
    /// No address was measured (listed, not graded).
    pub unreachable: bool,
    /// Measured addresses disagree (TLS state or authentication).
    pub inconsistent: bool,
    /// Worst STARTTLS state over measured addresses.
    pub tls: Option<HostTls>,
    /// Some measured address establishes TLS.
    pub tls_any_ok: bool,
    /// Lowest of the addresses' highest accepted versions.
    pub version_max: Option<TlsVersion>,
    /// Some address accepts a legacy version (`None`: not measured everywhere).
    pub legacy_accepted: Option<bool>,
    /// Every measured address: TLS, PKIX-valid chain and name match.
    pub pkix_authenticated: bool,
    /// PKIX-authenticated, or DANE valid.
    pub authenticated: bool,
    /// Certificate problems over all addresses.
    pub problems: Vec<CertProblem>,
    /// Some leaf expires within 14 days.
    pub expires_soon: bool,
    /// DANE.
    pub dane: HostDane,
    /// The failing fact or why the host is unmeasured.
    pub detail: Option<String>,
}

/// Label of a certificate problem for reasons.
pub fn problem_label(p: CertProblem) -> &'static str {
    match p {
        CertProblem::Expired => "expired",
        CertProblem::NotYetValid => "not yet valid",
        CertProblem::SelfSigned => "self-signed",
        CertProblem::UnknownIssuer => "unknown issuer",
        CertProblem::IncompleteChain => "incomplete chain",
        CertProblem::NameMismatch => "name mismatch",
        CertProblem::WeakKey => "RSA key below 2048 bits",
        CertProblem::Sha1Signature => "SHA-1 signature",
        CertProblem::Other => "invalid",
    }
}

impl HostTransport {
    /// Why the certificate does not authenticate the host, in words.
    pub fn certificate_detail(&self) -> String {
        let mut parts: Vec<&str> = self.problems.iter().map(|p| problem_label(*p)).collect();
        if parts.is_empty() {
            parts.push(if self.tls != Some(HostTls::Ok) {
                "no TLS"
            } else {
                "not validated"
            });
        }
        parts.join(", ")
    }
}

fn address_from_probe(ip: IpAddr, probe: Option<&SmtpProbe>) -> AddressTransport {
    let mut a = AddressTransport {
        ip,
        outcome: probe.map(|p| p.outcome.clone()),
        measured: false,
        tls: None,
        version: None,
        version_max: None,
        legacy_accepted: None,
        pkix_valid: false,
        name_match: false,
        problems: Vec::new(),
        expires_soon: false,
        leaf_san: Vec::new(),
        possibly_stripped: false,
        detail: None,
    };
    let Some(p) = probe else {
        a.detail = Some(format!("{ip} not probed"));
        return a;
    };
    a.possibly_stripped = p.possibly_stripped;
    let why = |what: &str| match &p.error {
        Some(e) => format!("{what} on {ip} ({e})"),
        None => format!("{what} on {ip}"),
    };
    match p.outcome {
        ProbeOutcome::Refused => a.detail = Some(why("connection refused")),
        ProbeOutcome::Unreachable => a.detail = Some(why("no connection")),
        ProbeOutcome::NoGreeting => a.detail = Some(why("no greeting")),
        ProbeOutcome::NotAllowed => a.detail = Some(why("not contacted (policy)")),
        ProbeOutcome::Rejected => {
            let code = p.greeting.as_ref().map(|g| g.code).unwrap_or_default();
            a.detail = Some(why(&format!("greeting {code}: our probe was refused")));
        }
        ProbeOutcome::ProtocolError if p.tls.is_none() => {
            a.detail = Some(why("SMTP protocol error"));
        }
        ProbeOutcome::ProtocolError | ProbeOutcome::Completed => {
            a.measured = true;
            fill_tls(&mut a, p);
        }
    }
    a
}

fn fill_tls(a: &mut AddressTransport, p: &SmtpProbe) {
    let Some(tls) = &p.tls else {
        if p.starttls_advertised {
            let code = p.starttls_reply.as_ref().map(|r| r.code);
            a.tls = Some(HostTls::Broken);
            a.detail = Some(match code {
                Some(c) if c != 220 => format!("STARTTLS refused ({c}) on {}", a.ip),
                _ => format!("TLS not established on {}", a.ip),
            });
        } else {
            a.tls = Some(HostTls::None);
            a.detail = Some(if p.possibly_stripped {
                format!(
                    "STARTTLS not advertised on {} (possibly stripped on the path)",
                    a.ip
                )
            } else {
                format!("STARTTLS not advertised on {}", a.ip)
            });
        }
        return;
    };
    let accepted: Vec<TlsVersion> = tls
        .versions_accepted
        .iter()
        .filter_map(|v| TlsVersion::parse(v))
        .collect();
    a.version = tls.version.as_deref().and_then(TlsVersion::parse);
    a.version_max = accepted.iter().copied().chain(a.version).max();
    a.legacy_accepted = tls
        .legacy_accepted
        .or_else(|| (!accepted.is_empty()).then(|| accepted.iter().any(|v| v.is_legacy())));
    a.expires_soon = tls.expires_soon;
    a.problems = tls.problems.clone();
    a.leaf_san = tls.chain.first().map(|c| c.san.clone()).unwrap_or_default();
    match &tls.handshake {
        Handshake::Ok => {
            a.tls = Some(HostTls::Ok);
            a.pkix_valid = tls.pkix_valid;
            a.name_match = tls.name_match;
        }
        // rustls speaks only TLS 1.2/1.3: a server that accepts nothing newer than
        // TLS 1.1 fails our handshake, yet legacy senders do encrypt with it.
        Handshake::Failed(_) if !accepted.is_empty() && accepted.iter().all(|v| v.is_legacy()) => {
            a.tls = Some(HostTls::Ok);
            a.detail = Some(format!(
                "only legacy TLS on {} (at most {})",
                a.ip,
                a.version_max.map(TlsVersion::as_str).unwrap_or("?")
            ));
        }
        Handshake::Failed(e) => {
            a.tls = Some(HostTls::Broken);
            a.detail = Some(format!("TLS handshake failed on {}: {e}", a.ip));
        }
        Handshake::StarttlsRefused => {
            a.tls = Some(HostTls::Broken);
            let code = p
                .starttls_reply
                .as_ref()
                .map(|r| format!(" ({})", r.code))
                .unwrap_or_default();
            a.detail = Some(format!("STARTTLS refused{code} on {}", a.ip));
        }
        Handshake::Timeout => {
            a.tls = Some(HostTls::Broken);
            a.detail = Some(format!("TLS handshake timed out on {}", a.ip));
        }
    }
}

/// Transport facts of one MX host from its scan and the probes of its addresses.
/// Addresses come from the scan, plus any probed address the scan did not list; when
/// an address has several probes the latest one that reached the server is used.
pub fn host_transport(
    scan: &HostScan,
    probes: &[&SmtpProbe],
    dnssec: DnssecState,
    now: Timestamp,
) -> HostTransport {
    let mut ips: Vec<IpAddr> = scan.addresses.iter().map(|a| a.ip).collect();
    for p in probes {
        if !ips.contains(&p.ip) {
            ips.push(p.ip);
        }
    }
    let addresses: Vec<AddressTransport> = ips
        .iter()
        .map(|ip| {
            let best = probes
                .iter()
                .filter(|p| p.ip == *ip)
                .max_by_key(|p| (p.outcome.reached(), p.at))
                .copied();
            address_from_probe(*ip, best)
        })
        .collect();
    let dane = dane::host_dane(dnssec, &scan.tlsa, probes, now);
    aggregate(scan.host.clone(), scan.preference, addresses, dane)
}

/// Aggregates address facts into host facts (worst state over measured addresses).
pub fn aggregate(
    host: DnsName,
    preference: u16,
    addresses: Vec<AddressTransport>,
    dane: HostDane,
) -> HostTransport {
    let measured: Vec<&AddressTransport> = addresses.iter().filter(|a| a.measured).collect();
    let tls = measured.iter().filter_map(|a| a.tls).min();
    let tls_any_ok = measured.iter().any(|a| a.tls == Some(HostTls::Ok));
    let version_max = measured
        .iter()
        .filter(|a| a.tls == Some(HostTls::Ok))
        .filter_map(|a| a.version_max)
        .min();
    let legacy_accepted = if measured.iter().any(|a| a.legacy_accepted == Some(true)) {
        Some(true)
    } else if !measured.is_empty() && measured.iter().all(|a| a.legacy_accepted == Some(false)) {
        Some(false)
    } else {
        None
    };
    let address_auth =
        |a: &AddressTransport| a.tls == Some(HostTls::Ok) && a.pkix_valid && a.name_match;
    let pkix_authenticated = !measured.is_empty() && measured.iter().all(|a| address_auth(a));
    let inconsistent = measured
        .windows(2)
        .any(|w| w[0].tls != w[1].tls || address_auth(w[0]) != address_auth(w[1]));
    let mut problems: Vec<CertProblem> = Vec::new();
    for p in measured.iter().flat_map(|a| &a.problems) {
        if !problems.contains(p) {
            problems.push(*p);
        }
    }
    let authenticated = !measured.is_empty()
        && (pkix_authenticated || dane.state == dane::DaneState::Valid)
        && tls == Some(HostTls::Ok);
    let detail = if measured.is_empty() {
        let why: Vec<&str> = addresses
            .iter()
            .filter_map(|a| a.detail.as_deref())
            .collect();
        Some(if why.is_empty() {
            "no address".to_string()
        } else {
            why.join("; ")
        })
    } else {
        measured
            .iter()
            .filter(|a| a.tls != Some(HostTls::Ok) || a.detail.is_some())
            .find_map(|a| a.detail.clone())
    };
    HostTransport {
        host,
        preference,
        measured: !measured.is_empty(),
        unreachable: measured.is_empty(),
        inconsistent,
        tls,
        tls_any_ok,
        version_max,
        legacy_accepted,
        pkix_authenticated,
        authenticated,
        expires_soon: measured.iter().any(|a| a.expires_soon),
        problems,
        dane,
        detail,
        addresses,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::grade::dane::{DaneState, HostDane};

    pub(crate) fn no_dane() -> HostDane {
        HostDane {
            state: DaneState::NotApplicable,
            records: Vec::new(),
            matched_record: None,
            detail: None,
            warnings: Vec::new(),
        }
    }

    /// A measured address with the given facts.
    pub(crate) fn address(
        ip: &str,
        tls: HostTls,
        version: Option<TlsVersion>,
        authenticated: bool,
        legacy: Option<bool>,
    ) -> AddressTransport {
        AddressTransport {
            ip: ip.parse().unwrap(),
            outcome: Some(ProbeOutcome::Completed),
            measured: true,
            tls: Some(tls),
            version,
            version_max: version,
            legacy_accepted: legacy,
            pkix_valid: authenticated,
            name_match: authenticated,
            problems: if authenticated || tls != HostTls::Ok {
                Vec::new()
            } else {
                vec![CertProblem::SelfSigned]
            },
            expires_soon: false,
            leaf_san: Vec::new(),
            possibly_stripped: false,
            detail: match tls {
                HostTls::Ok => None,
                HostTls::None => Some(format!("STARTTLS not advertised on {ip}")),
                HostTls::Broken => Some(format!("TLS handshake failed on {ip}")),
            },
        }
    }

    /// An address nothing listens on.
    pub(crate) fn refused(ip: &str) -> AddressTransport {
        let mut a = address(ip, HostTls::None, None, false, None);
        a.measured = false;
        a.tls = None;
        a.outcome = Some(ProbeOutcome::Refused);
        a.detail = Some(format!("connection refused on {ip}"));
        a
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(TlsVersion::parse("TLSv1.3"), Some(TlsVersion::Tls13));
        assert_eq!(TlsVersion::parse("TLSv1_2"), Some(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse("TLS 1.0"), Some(TlsVersion::Tls10));
        assert_eq!(TlsVersion::parse("SSLv3"), Some(TlsVersion::Ssl3));
        assert!(TlsVersion::Tls11.is_legacy());
        assert!(!TlsVersion::Tls12.is_legacy());
        assert!(TlsVersion::Tls11 < TlsVersion::Tls12);
    }

    #[test]
    fn host_state_is_the_worst_over_measured_addresses() {
        let h = aggregate(
            DnsName::parse("mx.example.org").unwrap(),
            10,
            vec![
                address(
                    "127.0.2.1",
                    HostTls::Ok,
                    Some(TlsVersion::Tls13),
                    true,
                    Some(false),
                ),
                address("127.0.2.2", HostTls::None, None, false, None),
                refused("127.0.2.3"),
            ],
            no_dane(),
        );
        assert!(h.measured && !h.unreachable && h.inconsistent);
        assert_eq!(h.tls, Some(HostTls::None));
        assert!(h.tls_any_ok);
        assert!(!h.authenticated);
        assert_eq!(
            h.detail.as_deref(),
            Some("STARTTLS not advertised on 127.0.2.2")
        );
    }

    #[test]
    fn unreachable_hosts_are_unmeasured() {
        let h = aggregate(
            DnsName::parse("mx.example.org").unwrap(),
            10,
            vec![refused("127.0.2.1")],
            no_dane(),
        );
        assert!(h.unreachable && !h.measured);
        assert_eq!(h.tls, None);
        assert!(h.detail.unwrap().contains("connection refused"));
    }
}
