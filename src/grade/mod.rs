//! The grade stage: transport-security and anti-spoofing checks over scan data, the
//! A+…F grades of the security specification (§11), and the STARTTLS-Everywhere policy
//! list (§12). Pure functions: nothing here resolves or connects; the inputs are the
//! domain's [`DomainScan`], the SMTP probes of its MX hosts and the MTA-STS policy
//! fetch, all produced by the scan stage.
//!
//! - [`spf`], [`dmarc`], [`tls_rpt`], [`mta_sts`], [`dane`]: one check each;
//! - [`transport`]: per MX host facts and their aggregation over addresses;
//! - [`rules`] + `rules.toml`: the grading model as data; [`grader`] evaluates it;
//! - [`policy`]: the STARTTLS-Everywhere policy list and MTA-STS suggestions.
//!
//! Every check separates "measured and negative" from "could not be measured": a
//! failed lookup or an MX host nobody answers on is `error`/unmeasured and leads to
//! `?`, never to `F`.

pub mod dane;
pub mod dmarc;
pub mod grader;
pub mod mta_sts;
pub mod policy;
pub mod rules;
pub mod spf;
pub mod tls_rpt;
pub mod transport;

use serde::{Deserialize, Serialize};

pub use dane::{DaneDomainState, DaneState, DnssecState, HostDane};
pub use dmarc::{DmarcCheck, DmarcPolicy, DmarcState};
pub use grader::{Grade, Reason};
pub use mta_sts::{MtaStsCheck, MtaStsState, StsMode};
pub use rules::{Letter, RuleTable, rule_table};
pub use spf::{SpfCheck, SpfState};
pub use tls_rpt::{TlsRptCheck, TlsRptState};
pub use transport::{AddressTransport, HostTls, HostTransport, TlsVersion};

use crate::evidence::{Answer, Observation, Outcome, Timestamp};
use crate::name::DnsName;
use crate::scan::domain::DomainScan;
use crate::scan::mta_sts::PolicyFetch;
use crate::scan::probe::SmtpProbe;

/// Everything the grade of one domain is computed from.
#[derive(Debug, Clone, Copy)]
pub struct SecurityInput<'a> {
    /// The domain's DNS scan.
    pub scan: &'a DomainScan,
    /// Every probe of this domain's MX hosts (other hosts' probes are ignored).
    pub probes: &'a [&'a SmtpProbe],
    /// The MTA-STS policy fetch (`None` when not fetched: no `_mta-sts` TXT record,
    /// or a DNS-only run).
    pub mta_sts_policy: Option<&'a PolicyFetch>,
    /// Evaluation time (certificate validity for DANE-TA, suggestion ids).
    pub now: Timestamp,
}

/// One failed check with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCheck {
    /// Check name: `spf`, `dmarc`, `dmarc_policy`, `mta_sts`, `tls_rpt`, `dnssec`,
    /// `starttls`, `tls_version`, `certificate`, `legacy_tls`, `dane`.
    pub check: String,
    /// The MX host concerned.
    pub host: Option<DnsName>,
    /// The failing fact, in words.
    pub evidence: String,
}

/// The security assessment of one mail domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Mail domain.
    pub domain: DnsName,
    /// Evaluation time.
    pub assessed_at: Timestamp,
    /// The domain publishes a null MX (receives no mail).
    pub null_mx: bool,
    /// More MX hosts were published than the scan looked at.
    pub mx_capped: bool,
    /// SPF.
    pub spf: SpfCheck,
    /// DMARC.
    pub dmarc: DmarcCheck,
    /// MTA-STS.
    pub mta_sts: MtaStsCheck,
    /// TLS-RPT.
    pub tls_rpt: TlsRptCheck,
    /// DNSSEC status of the MX RRset.
    pub dnssec: DnssecState,
    /// Every MX host (unreachable ones included, flagged).
    pub hosts: Vec<HostTransport>,
    /// DANE over the measured MX hosts.
    pub dane: DaneDomainState,
    /// Inbound encryption grade.
    pub transport: Grade,
    /// Anti-spoofing grade.
    pub auth: Grade,
    /// The lower of the two.
    pub overall: Grade,
    /// Every failed check with its evidence.
    pub failed_checks: Vec<FailedCheck>,
    /// Fix-it checklist, most important first.
    pub fixes: Vec<String>,
    /// Findings that do not change a grade (unreachable hosts, expiring certificates,
    /// TLSA without DNSSEC, ignored tags).
    pub warnings: Vec<String>,
}

/// True when the MX answer is the null MX (`0 .`, RFC 7505) and nothing else.
pub fn is_null_mx(mx: &Observation) -> bool {
    let mut exchanges = mx.answers.iter().filter_map(|a| match a {
        Answer::Mx { exchange, .. } => Some(exchange.is_none()),
        _ => None,
    });
    let first = exchanges.next();
    first == Some(true) && exchanges.all(|null| null)
}

fn no_hosts_detail(mx: &Observation) -> String {
    match &mx.outcome {
        o if o.is_failure() => format!("the MX lookup failed ({})", o.label()),
        Outcome::NxDomain => "the domain does not exist (NXDOMAIN)".into(),
        Outcome::NoData => "no MX record (implicit MX is not probed)".into(),
        _ => "no usable MX host".into(),
    }
}

/// Assesses one domain.
pub fn assess(input: &SecurityInput) -> Security {
    let scan = input.scan;
    let table = rule_table();
    let dnssec = dane::dnssec_state(&scan.mx);
    let null_mx = scan.hosts.is_empty() && is_null_mx(&scan.mx);
    let hosts: Vec<HostTransport> = scan
        .hosts
        .iter()
        .map(|h| {
            let probes: Vec<&SmtpProbe> = input
                .probes
                .iter()
                .copied()
                .filter(|p| p.host == h.host)
                .collect();
            transport::host_transport(h, &probes, dnssec, input.now)
        })
        .collect();
    let spf = spf::check(&scan.spf, &scan.txt);
    let dmarc = dmarc::check(&scan.dmarc, scan.dmarc_org.as_deref());
    let mta_sts = mta_sts::check(&scan.mta_sts, input.mta_sts_policy, &hosts);
    let tls_rpt = tls_rpt::check(&scan.tls_rpt);
    let dane = dane::domain_dane(hosts.iter().filter(|h| h.measured).map(|h| &h.dane.state));
    let no_hosts = no_hosts_detail(&scan.mx);
    let transport = grader::grade_transport(
        table,
        &grader::TransportFacts {
            domain: &scan.domain,
            null_mx,
            no_hosts: Some(&no_hosts),
            hosts: &hosts,
            dnssec,
            mta_sts: &mta_sts,
            tls_rpt: &tls_rpt,
        },
    );
    let auth = grader::grade_auth(
        table,
        &grader::AuthFacts {
            domain: &scan.domain,
            spf: &spf,
            dmarc: &dmarc,
        },
    );
    let overall = grader::grade_overall(table, &scan.domain, &transport, &auth);
    let mut security = Security {
        domain: scan.domain.clone(),
        assessed_at: input.now,
        null_mx,
        mx_capped: scan.hosts_capped,
        spf,
        dmarc,
        mta_sts,
        tls_rpt,
        dnssec,
        hosts,
        dane,
        transport,
        auth,
        overall,
        failed_checks: Vec::new(),
        fixes: Vec::new(),
        warnings: Vec::new(),
    };
    if !null_mx
        && scan
            .mx
            .answers
            .iter()
            .any(|a| matches!(a, Answer::Mx { exchange: None, .. }))
    {
        security
            .warnings
            .push("a null MX is mixed with other MX records".into());
    }
    security.failed_checks = failed_checks(&security);
    security.fixes = fixes(&security);
    security.warnings.extend(warnings(&security));
    security
}

fn failed(check: &str, host: Option<&DnsName>, evidence: impl Into<String>) -> FailedCheck {
    FailedCheck {
        check: check.into(),
        host: host.cloned(),
        evidence: evidence.into(),
    }
}

fn failed_checks(s: &Security) -> Vec<FailedCheck> {
    let mut out = Vec::new();
    if !s.null_mx {
        for h in s.hosts.iter().filter(|h| h.measured) {
            let host = Some(&h.host);
            if h.tls != Some(HostTls::Ok) {
                out.push(failed(
                    "starttls",
                    host,
                    h.detail.clone().unwrap_or_else(|| "STARTTLS fails".into()),
                ));
            }
            if let Some(v) = h.version_max.filter(|v| v.is_legacy()) {
                out.push(failed(
                    "tls_version",
                    host,
                    format!("highest TLS version {}", v.as_str()),
                ));
            }
            if h.tls_any_ok && !h.pkix_authenticated {
                out.push(failed(
                    "certificate",
                    host,
                    format!(
                        "certificate not valid for {}: {}",
                        h.host,
                        h.certificate_detail()
                    ),
                ));
            }
            if h.legacy_accepted == Some(true) {
                out.push(failed(
                    "legacy_tls",
                    host,
                    "accepts SSLv3, TLS 1.0 or TLS 1.1",
                ));
            }
            if h.dane.state == DaneState::Broken {
                out.push(failed(
                    "dane",
                    host,
                    h.dane.detail.clone().unwrap_or_default(),
                ));
            }
        }
        if s.dnssec == DnssecState::Bogus {
            out.push(failed(
                "dnssec",
                None,
                "the MX RRset fails DNSSEC validation",
            ));
        }
        match s.mta_sts.state {
            MtaStsState::Absent => out.push(failed(
                "mta_sts",
                None,
                format!("no v=STSv1 TXT record at _mta-sts.{}", s.domain),
            )),
            MtaStsState::Invalid | MtaStsState::Broken => {
                out.push(failed("mta_sts", None, s.mta_sts.errors.join("; ")))
            }
            _ => {}
        }
        match s.tls_rpt.state {
            TlsRptState::Absent => out.push(failed(
                "tls_rpt",
                None,
                format!("no v=TLSRPTv1 TXT record at _smtp._tls.{}", s.domain),
            )),
            TlsRptState::Invalid => out.push(failed("tls_rpt", None, s.tls_rpt.errors.join("; "))),
            _ => {}
        }
    }
    match s.spf.state {
        SpfState::None => out.push(failed(
            "spf",
            None,
            format!("no SPF record at {}", s.domain),
        )),
        SpfState::Invalid => out.push(failed("spf", None, s.spf.errors.join("; "))),
        SpfState::PassAll => out.push(failed(
            "spf",
            None,
            format!(
                "SPF allows every sender: {}",
                s.spf.record.as_deref().unwrap_or_default()
            ),
        )),
        _ => {}
    }
    match s.dmarc.state {
        DmarcState::Missing => out.push(failed(
            "dmarc",
            None,
            format!("no DMARC record at _dmarc.{}", s.domain),
        )),
        DmarcState::Invalid => out.push(failed("dmarc", None, s.dmarc.errors.join("; "))),
        DmarcState::None => out.push(failed(
            "dmarc_policy",
            None,
            "p=none: spoofed mail is delivered",
        )),
        DmarcState::Quarantine | DmarcState::Reject if s.dmarc.pct < 100 => out.push(failed(
            "dmarc_policy",
            None,
            format!(
                "pct={}: the policy applies to part of the mail only",
                s.dmarc.pct
            ),
        )),
        _ => {}
    }
    out
}

fn fixes(s: &Security) -> Vec<String> {
    let t = rule_table();
    let domain = s.domain.to_string();
    let mut out: Vec<String> = Vec::new();
    let mut push = |id: &str, host: Option<&DnsName>, detail: &str| {
        let host = host.map(ToString::to_string);
        let line = t.fix(id, host.as_deref(), &domain, detail);
        if !out.contains(&line) {
            out.push(line);
        }
    };
    if !s.null_mx {
        let measured: Vec<&HostTransport> = s.hosts.iter().filter(|h| h.measured).collect();
        for h in &measured {
            if !h.tls_any_ok || h.tls != Some(HostTls::Ok) {
                push("FIX-STARTTLS", Some(&h.host), "");
            }
            if h.version_max.is_some_and(|v| v.is_legacy()) {
                push("FIX-TLS12", Some(&h.host), "");
            }
        }
        for h in &measured {
            if h.tls_any_ok && !h.pkix_authenticated {
                push("FIX-CERT", Some(&h.host), &h.certificate_detail());
            }
            if h.dane.state == DaneState::Broken {
                push(
                    "FIX-DANE-BROKEN",
                    Some(&h.host),
                    h.dane.detail.as_deref().unwrap_or(""),
                );
            }
        }
        match s.mta_sts.state {
            MtaStsState::Broken => push("FIX-MTASTS-BROKEN", None, &s.mta_sts.errors.join("; ")),
            MtaStsState::Invalid => push("FIX-MTASTS-INVALID", None, &s.mta_sts.errors.join("; ")),
            _ => {}
        }
        let all_authenticated = !measured.is_empty()
            && measured.len() == s.hosts.len()
            && measured.iter().all(|h| h.pkix_authenticated);
        match s.mta_sts.state {
            MtaStsState::Absent | MtaStsState::None if all_authenticated => {
                push("FIX-MTASTS-PUBLISH", None, "")
            }
            MtaStsState::Testing
                if s.mta_sts.covers_all == Some(true) && s.mta_sts.enforce_ok == Some(true) =>
            {
                push("FIX-MTASTS-ENFORCE", None, "")
            }
            _ => {}
        }
        if !s.hosts.is_empty()
            && matches!(s.tls_rpt.state, TlsRptState::Absent | TlsRptState::Invalid)
        {
            push("FIX-TLSRPT", None, "");
        }
        for h in &measured {
            if h.legacy_accepted == Some(true) {
                push("FIX-LEGACY", Some(&h.host), "");
            }
            if h.expires_soon {
                push("FIX-CERT-RENEW", Some(&h.host), "");
            }
        }
    }
    match s.spf.state {
        SpfState::None => push("FIX-SPF-PUBLISH", None, ""),
        SpfState::Invalid => push("FIX-SPF-INVALID", None, &s.spf.errors.join("; ")),
        SpfState::Soft | SpfState::Neutral | SpfState::PassAll => {
            let all = s
                .spf
                .all
                .map(|q| format!("{q}all"))
                .unwrap_or_else(|| "no all".into());
            push("FIX-SPF-STRICT", None, &all)
        }
        _ => {}
    }
    match s.dmarc.state {
        DmarcState::Missing => push("FIX-DMARC-PUBLISH", None, ""),
        DmarcState::Invalid => push("FIX-DMARC-INVALID", None, &s.dmarc.errors.join("; ")),
        DmarcState::None => push("FIX-DMARC-ENFORCE", None, ""),
        DmarcState::Quarantine => push("FIX-DMARC-REJECT", None, ""),
        _ => {}
    }
    if matches!(s.dmarc.state, DmarcState::Quarantine | DmarcState::Reject) && s.dmarc.pct < 100 {
        push("FIX-DMARC-PCT", None, "");
    }
    if matches!(
        s.dmarc.state,
        DmarcState::None | DmarcState::Quarantine | DmarcState::Reject
    ) && s.dmarc.rua.is_empty()
    {
        push("FIX-DMARC-RUA", None, "");
    }
    out
}

fn warnings(s: &Security) -> Vec<String> {
    let mut out = Vec::new();
    for h in &s.hosts {
        if h.unreachable {
            out.push(format!(
                "MX {} could not be measured ({}); not graded",
                h.host,
                h.detail.as_deref().unwrap_or("no address")
            ));
            continue;
        }
        if h.inconsistent {
            out.push(format!("MX {}: its addresses disagree", h.host));
        }
        for a in h.addresses.iter().filter(|a| !a.measured) {
            if let Some(d) = &a.detail {
                out.push(format!("MX {}: {d}; address not graded", h.host));
            }
        }
        if h.expires_soon {
            out.push(format!("MX {}: certificate expires within 14 days", h.host));
        }
        if h.addresses.iter().any(|a| a.possibly_stripped) {
            out.push(format!(
                "MX {}: STARTTLS may be stripped on our network path",
                h.host
            ));
        }
        for w in &h.dane.warnings {
            out.push(format!("MX {}: {w}", h.host));
        }
    }
    if s.mx_capped {
        out.push("more MX hosts than scanned; the rest are not graded".into());
    }
    let prefixed = |name: &str, list: &[String]| -> Vec<String> {
        list.iter().map(|w| format!("{name}: {w}")).collect()
    };
    out.extend(prefixed("SPF", &s.spf.warnings));
    out.extend(prefixed("DMARC", &s.dmarc.warnings));
    out.extend(prefixed("MTA-STS", &s.mta_sts.warnings));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RType;

    fn mx(answers: Vec<Answer>) -> Observation {
        Observation {
            name: DnsName::parse("example.org").unwrap(),
            rtype: RType::Mx,
            outcome: Outcome::Answer,
            answers,
            at: 0,
            authenticated: false,
        }
    }

    #[test]
    fn null_mx_is_recognised() {
        let null = Answer::Mx {
            preference: 0,
            exchange: None,
        };
        let real = Answer::Mx {
            preference: 10,
            exchange: Some(DnsName::parse("mx.example.org").unwrap()),
        };
        assert!(is_null_mx(&mx(vec![null.clone()])));
        assert!(!is_null_mx(&mx(vec![null, real.clone()])));
        assert!(!is_null_mx(&mx(vec![real])));
        assert!(!is_null_mx(&mx(vec![])));
    }

    #[test]
    fn missing_mx_hosts_are_explained() {
        let mut o = mx(vec![]);
        o.outcome = Outcome::NoData;
        assert!(no_hosts_detail(&o).contains("implicit MX is not probed"));
        o.outcome = Outcome::ServFail;
        assert_eq!(no_hosts_detail(&o), "the MX lookup failed (SERVFAIL)");
    }
}
