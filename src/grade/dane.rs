//! DANE for SMTP (RFC 7672, security spec §4) and the DNSSEC status it rests on.
//!
//! # What can be evaluated
//!
//! The probe keeps, for every presented certificate, the SHA-256 of its DER and of its
//! SubjectPublicKeyInfo ([`CertInfo::sha256`], [`CertInfo::spki_sha256`]) but not the
//! DER itself. Records with matching type 1 (SHA-256) are therefore matched exactly,
//! for both selectors; records with matching type 0 (full data) or 2 (SHA-512) cannot
//! be evaluated and make the host [`DaneState::Error`] unless another record matches.
//! For DANE-TA (usage 2) the chain from the leaf to the matching certificate is checked
//! by issuer/subject names only (signatures need the DER), plus the leaf's name match
//! and validity.
//!
//! # DNSSEC
//!
//! `secure` is the AD bit of a validating resolver on the MX answer
//! ([`Observation::authenticated`]). A `bogus` answer cannot be told apart: a validating
//! resolver answers SERVFAIL, which the scan records as a failed lookup, so the MX
//! status is then `unknown` and [`DnssecState::Bogus`] is never produced from scan data
//! (the grade rule exists for a scanner that validates itself).

use serde::{Deserialize, Serialize};

use crate::evidence::{Answer, Observation, Timestamp};
use crate::scan::probe::{CertInfo, Handshake, ProbeOutcome, SmtpProbe};

/// DNSSEC status of the domain's MX RRset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecState {
    /// Validated (AD bit).
    Secure,
    /// Answered without validation (unsigned zone, or a resolver that does not validate).
    Insecure,
    /// Validation failed. Not produced from scan data (see the module documentation).
    Bogus,
    /// The MX lookup failed.
    Unknown,
}

/// DNSSEC status from the MX lookup.
pub fn dnssec_state(mx: &Observation) -> DnssecState {
    if mx.failed() {
        DnssecState::Unknown
    } else if mx.authenticated {
        DnssecState::Secure
    } else {
        DnssecState::Insecure
    }
}

/// DANE outcome for one MX host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaneState {
    /// A usable record matches on every measured address.
    Valid,
    /// Secure usable TLSA but no match, or TLS fails: DANE senders defer mail.
    Broken,
    /// Only unusable records (PKIX-TA/EE or unknown parameters); TLS is still required.
    Unusable,
    /// No secure MX RRset, or no secure TLSA RRset.
    NotApplicable,
    /// Could not be decided (lookup failed, address not measured, or only records
    /// this scan cannot match).
    Error,
}

/// DANE for one MX host, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDane {
    /// Outcome.
    pub state: DaneState,
    /// TLSA records in presentation form (`3 1 1 abcd…`).
    pub records: Vec<String>,
    /// The record that matched.
    pub matched_record: Option<String>,
    /// The failing fact, for reasons.
    pub detail: Option<String>,
    /// Findings (TLSA without DNSSEC, records that cannot be evaluated).
    pub warnings: Vec<String>,
}

/// Domain-level DANE summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaneDomainState {
    /// Valid on every measured MX host.
    All,
    /// Valid on some.
    Some,
    /// Valid on none (or nothing measured).
    None,
    /// Broken on at least one host.
    Broken,
}

/// One TLSA record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlsa<'a> {
    /// Certificate usage.
    pub usage: u8,
    /// Selector.
    pub selector: u8,
    /// Matching type.
    pub matching: u8,
    /// Association data, hex.
    pub data: &'a str,
}

impl Tlsa<'_> {
    /// Usage 2/3, selector 0/1, matching 0/1/2 (RFC 7672 §3.1).
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// Presentation form.
    pub fn presentation(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage, self.selector, self.matching, self.data
        )
    }
}

/// Outcome of matching one record against one presented chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The record matches.
    Yes,
    /// It does not (with why).
    No(String),
    /// This scan cannot tell (with why).
    CannotEvaluate(String),
}

fn hex_eq(a: &str, b: &str) -> bool {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_hexdigit())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let (a, b) = (clean(a), clean(b));
    !a.is_empty() && a == b
}

/// Whether `cert` matches the record's selector and matching type.
fn cert_matches(record: &Tlsa, cert: &CertInfo) -> Result<bool, String> {
    match record.matching {
        1 => Ok(match record.selector {
            0 => hex_eq(record.data, &cert.sha256),
            _ => hex_eq(record.data, &cert.spki_sha256),
        }),
        0 => Err(
            "matching type 0 (full data) needs the certificate DER, which the probe does not keep"
                .into(),
        ),
        _ => Err(
            "matching type 2 (SHA-512) needs the certificate DER, which the probe does not keep"
                .into(),
        ),
    }
}

/// Matches one usable record against a presented chain (leaf first). `name_match` is
/// the probe's name check of the leaf against the MX host.
pub fn match_record(record: &Tlsa, chain: &[CertInfo], name_match: bool, now: Timestamp) -> Match {
    let Some(leaf) = chain.first() else {
        return Match::No("no certificate presented".into());
    };
    if record.usage == 3 {
        return match cert_matches(record, leaf) {
            Ok(true) => Match::Yes,
            Ok(false) => Match::No("the leaf certificate does not match".into()),
            Err(e) => Match::CannotEvaluate(e),
        };
    }
    // DANE-TA: some certificate of the chain is the trust anchor.
    let mut cannot = None;
    for (i, cert) in chain.iter().enumerate() {
        match cert_matches(record, cert) {
            Ok(true) => {
                let linked = chain[..=i].windows(2).all(|w| w[0].issuer == w[1].subject);
                if !linked {
                    return Match::No(format!(
                        "certificate {i} matches but the chain to it is not linked"
                    ));
                }
                if !name_match {
                    return Match::No("the leaf does not name the MX host".into());
                }
                if now < leaf.not_before || now > leaf.not_after {
                    return Match::No("the leaf is outside its validity period".into());
                }
                return Match::Yes;
            }
            Ok(false) => {}
            Err(e) => cannot = Some(e),
        }
    }
    match cannot {
        Some(e) => Match::CannotEvaluate(e),
        None => Match::No("no certificate of the chain matches".into()),
    }
}

/// True when a probe says something about the server's STARTTLS: the dialogue ran to
/// its end, or broke after TLS was tried.
pub(crate) fn probe_measured(p: &SmtpProbe) -> bool {
    match p.outcome {
        ProbeOutcome::Completed => true,
        ProbeOutcome::ProtocolError => p.tls.is_some(),
        _ => false,
    }
}

/// DANE for one MX host from its TLSA lookup and the probes of its addresses.
pub fn host_dane(
    dnssec: DnssecState,
    tlsa: &Observation,
    probes: &[&SmtpProbe],
    now: Timestamp,
) -> HostDane {
    let records: Vec<Tlsa> = tlsa
        .answers
        .iter()
        .filter_map(|a| match a {
            Answer::Tlsa {
                usage,
                selector,
                matching,
                data,
            } => Some(Tlsa {
                usage: *usage,
                selector: *selector,
                matching: *matching,
                data,
            }),
            _ => None,
        })
        .collect();
    let mut dane = HostDane {
        state: DaneState::NotApplicable,
        records: records.iter().map(Tlsa::presentation).collect(),
        matched_record: None,
        detail: None,
        warnings: Vec::new(),
    };
    if dnssec != DnssecState::Secure {
        if !records.is_empty() {
            dane.warnings.push(
                "TLSA without DNSSEC has no effect (the MX records are not DNSSEC-validated)"
                    .into(),
            );
        }
        return dane;
    }
    if tlsa.failed() {
        dane.state = DaneState::Error;
        dane.detail = Some(format!(
            "TLSA lookup failed ({}); DANE senders defer mail if it is bogus",
            tlsa.outcome.label()
        ));
        return dane;
    }
    if records.is_empty() {
        return dane;
    }
    if !tlsa.authenticated {
        dane.warnings
            .push("TLSA without DNSSEC has no effect (the TLSA records are not validated)".into());
        return dane;
    }
    let usable: Vec<&Tlsa> = records.iter().filter(|r| r.usable()).collect();
    if usable.is_empty() {
        dane.state = DaneState::Unusable;
        dane.detail = Some("only unusable TLSA records (usage 0/1 or unknown parameters)".into());
        return dane;
    }
    let measured: Vec<&&SmtpProbe> = probes.iter().filter(|p| probe_measured(p)).collect();
    if measured.is_empty() {
        dane.state = DaneState::Error;
        dane.detail = Some("no address of the host could be measured".into());
        return dane;
    }
    let mut broken = None;
    let mut undecided = None;
    for probe in measured {
        let tls = probe.tls.as_ref().filter(|t| t.handshake == Handshake::Ok);
        let Some(tls) = tls else {
            broken.get_or_insert(format!(
                "TLS is not established on {} (DANE senders require it)",
                probe.ip
            ));
            continue;
        };
        let mut matched = None;
        let mut last_no = None;
        let mut cannot = None;
        for record in &usable {
            match match_record(record, &tls.chain, tls.name_match, now) {
                Match::Yes => {
                    matched = Some(record.presentation());
                    break;
                }
                Match::No(why) => last_no = Some(why),
                Match::CannotEvaluate(why) => cannot = Some(why),
            }
        }
        match (matched, cannot) {
            (Some(record), _) => {
                dane.matched_record.get_or_insert(record);
            }
            (None, Some(why)) => {
                dane.warnings.push(why.clone());
                undecided.get_or_insert(why);
            }
            (None, None) => {
                broken.get_or_insert(format!(
                    "no TLSA record matches the certificate on {} ({})",
                    probe.ip,
                    last_no.unwrap_or_default()
                ));
            }
        }
    }
    if let Some(why) = broken {
        dane.state = DaneState::Broken;
        dane.detail = Some(why);
    } else if let Some(why) = undecided {
        dane.state = DaneState::Error;
        dane.detail = Some(why);
    } else {
        dane.state = DaneState::Valid;
    }
    dane.warnings.dedup();
    dane
}

/// Domain DANE over the measured hosts' states.
pub fn domain_dane<'a>(states: impl IntoIterator<Item = &'a DaneState>) -> DaneDomainState {
    let states: Vec<&DaneState> = states.into_iter().collect();
    if states.iter().any(|s| **s == DaneState::Broken) {
        return DaneDomainState::Broken;
    }
    let valid = states.iter().filter(|s| ***s == DaneState::Valid).count();
    match valid {
        0 => DaneDomainState::None,
        n if n == states.len() => DaneDomainState::All,
        _ => DaneDomainState::Some,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evidence::{Outcome, RType};
    use crate::name::DnsName;

    pub(crate) fn cert(name: &str, sha: &str, spki: &str, issuer: &str) -> CertInfo {
        CertInfo {
            sha256: sha.into(),
            spki_sha256: spki.into(),
            subject: format!("CN={name}"),
            san: vec![name.into()],
            issuer: issuer.into(),
            issuer_country: None,
            not_before: 1_000,
            not_after: 2_000_000_000,
            key_alg: "EC".into(),
            key_bits: 256,
            sig_alg: "ecdsa-with-SHA256".into(),
        }
    }

    fn chain() -> Vec<CertInfo> {
        vec![
            cert("mx.example.org", "aa01", "bb01", "CN=Test CA"),
            cert("Test CA", "aa02", "bb02", "CN=Test CA"),
        ]
    }

    fn tlsa(records: &[(u8, u8, u8, &str)], authenticated: bool) -> Observation {
        Observation {
            name: DnsName::parse("_25._tcp.mx.example.org").unwrap(),
            rtype: RType::Tlsa,
            outcome: if records.is_empty() {
                Outcome::NoData
            } else {
                Outcome::Answer
            },
            answers: records
                .iter()
                .map(|(u, s, m, d)| Answer::Tlsa {
                    usage: *u,
                    selector: *s,
                    matching: *m,
                    data: d.to_string(),
                })
                .collect(),
            at: 0,
            authenticated,
        }
    }

    #[test]
    fn dane_ee_matches_spki_or_full_certificate_hashes() {
        let c = chain();
        let r = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "BB01",
        };
        assert_eq!(match_record(&r, &c, false, 5_000), Match::Yes);
        let r = Tlsa {
            usage: 3,
            selector: 0,
            matching: 1,
            data: "aa01",
        };
        assert_eq!(match_record(&r, &c, false, 5_000), Match::Yes);
        let r = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "ffff",
        };
        assert!(matches!(match_record(&r, &c, true, 5_000), Match::No(_)));
        let r = Tlsa {
            usage: 3,
            selector: 1,
            matching: 2,
            data: "ffff",
        };
        assert!(matches!(
            match_record(&r, &c, true, 5_000),
            Match::CannotEvaluate(_)
        ));
    }

    #[test]
    fn dane_ta_needs_name_validity_and_a_linked_chain() {
        let c = chain();
        let r = Tlsa {
            usage: 2,
            selector: 0,
            matching: 1,
            data: "aa02",
        };
        assert_eq!(match_record(&r, &c, true, 5_000), Match::Yes);
        assert!(matches!(match_record(&r, &c, false, 5_000), Match::No(_)));
        assert!(matches!(match_record(&r, &c, true, 10), Match::No(_)));
        let mut unlinked = c.clone();
        unlinked[0].issuer = "CN=Other".into();
        assert!(matches!(
            match_record(&r, &unlinked, true, 5_000),
            Match::No(_)
        ));
    }

    #[test]
    fn applicability() {
        let obs = tlsa(&[(3, 1, 1, "bb01")], false);
        let d = host_dane(DnssecState::Secure, &obs, &[], 5_000);
        assert_eq!(d.state, DaneState::NotApplicable);
        assert!(d.warnings[0].contains("TLSA without DNSSEC has no effect"));
        let obs = tlsa(&[(3, 1, 1, "bb01")], true);
        let d = host_dane(DnssecState::Insecure, &obs, &[], 5_000);
        assert_eq!(d.state, DaneState::NotApplicable);
        assert!(d.warnings[0].contains("TLSA without DNSSEC has no effect"));
        let d = host_dane(DnssecState::Secure, &tlsa(&[], true), &[], 5_000);
        assert_eq!(d.state, DaneState::NotApplicable);
        assert!(d.warnings.is_empty());
        let d = host_dane(
            DnssecState::Secure,
            &tlsa(&[(1, 1, 1, "bb01"), (3, 2, 1, "x")], true),
            &[],
            5_000,
        );
        assert_eq!(d.state, DaneState::Unusable);
    }

    fn probe(ip: &str, chain: Option<Vec<CertInfo>>) -> SmtpProbe {
        use crate::scan::probe::TlsResult;
        SmtpProbe {
            host: DnsName::parse("mx.example.org").unwrap(),
            ip: ip.parse().unwrap(),
            port: 25,
            at: 0,
            elapsed_ms: 1,
            outcome: ProbeOutcome::Completed,
            greeting: None,
            ehlo: None,
            ehlo_keywords: vec![],
            starttls_advertised: chain.is_some(),
            possibly_stripped: false,
            starttls_reply: None,
            tls: chain.map(|chain| TlsResult {
                handshake: Handshake::Ok,
                version: Some("TLSv1.3".into()),
                cipher: None,
                chain,
                pkix_valid: false,
                name_match: true,
                problems: vec![],
                pkix_detail: None,
                expires_soon: false,
                versions_accepted: vec![],
                legacy_accepted: None,
            }),
            banner_host: None,
            ehlo_host: None,
            software: None,
            error: None,
        }
    }

    #[test]
    fn host_outcomes_over_addresses() {
        let secure = |records: &[(u8, u8, u8, &str)]| tlsa(records, true);
        let a = probe("127.0.2.1", Some(chain()));
        let b = probe("127.0.2.2", Some(chain()));
        let d = host_dane(
            DnssecState::Secure,
            &secure(&[(3, 1, 1, "bb01")]),
            &[&a, &b],
            5_000,
        );
        assert_eq!(d.state, DaneState::Valid);
        assert_eq!(d.matched_record.as_deref(), Some("3 1 1 bb01"));

        let mut other = chain();
        other[0].spki_sha256 = "cc01".into();
        let b2 = probe("127.0.2.2", Some(other));
        let d = host_dane(
            DnssecState::Secure,
            &secure(&[(3, 1, 1, "bb01")]),
            &[&a, &b2],
            5_000,
        );
        assert_eq!(d.state, DaneState::Broken);
        assert!(d.detail.unwrap().contains("127.0.2.2"));

        let plain = probe("127.0.2.3", None);
        let d = host_dane(
            DnssecState::Secure,
            &secure(&[(3, 1, 1, "bb01")]),
            &[&plain],
            5_000,
        );
        assert_eq!(d.state, DaneState::Broken);

        let d = host_dane(
            DnssecState::Secure,
            &secure(&[(3, 1, 2, "abcd")]),
            &[&a],
            5_000,
        );
        assert_eq!(d.state, DaneState::Error);
        assert!(d.detail.unwrap().contains("SHA-512"));

        // A SHA-512 record that cannot be checked does not hide a matching SHA-256 one.
        let d = host_dane(
            DnssecState::Secure,
            &secure(&[(3, 1, 2, "abcd"), (2, 0, 1, "aa02")]),
            &[&a],
            5_000,
        );
        assert_eq!(d.state, DaneState::Valid);

        let mut failed = tlsa(&[], true);
        failed.outcome = Outcome::ServFail;
        assert_eq!(
            host_dane(DnssecState::Secure, &failed, &[&a], 5_000).state,
            DaneState::Error
        );
    }

    #[test]
    fn dnssec_from_the_mx_answer() {
        let mut mx = tlsa(&[(3, 1, 1, "x")], true);
        assert_eq!(dnssec_state(&mx), DnssecState::Secure);
        mx.authenticated = false;
        assert_eq!(dnssec_state(&mx), DnssecState::Insecure);
        mx.outcome = Outcome::ServFail;
        assert_eq!(dnssec_state(&mx), DnssecState::Unknown);
    }

    #[test]
    fn domain_summary() {
        use DaneState::*;
        assert_eq!(domain_dane(&[Valid, Valid]), DaneDomainState::All);
        assert_eq!(domain_dane(&[Valid, NotApplicable]), DaneDomainState::Some);
        assert_eq!(domain_dane(&[NotApplicable]), DaneDomainState::None);
        assert_eq!(domain_dane(&[Valid, Broken]), DaneDomainState::Broken);
        assert_eq!(domain_dane(&[]), DaneDomainState::None);
    }
}
