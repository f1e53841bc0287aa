//! The grader: rule rows of [`super::rules`] evaluated top-down over the checks' facts.
//! Each row id has one predicate here that returns the facts making it hold (one per
//! host where a host is involved); the first holding row gives the letter, and the
//! holding rows of the same letter give the reasons.

use serde::{Deserialize, Serialize};

use super::dane::{DaneState, DnssecState};
use super::dmarc::{DmarcCheck, DmarcState};
use super::mta_sts::{MtaStsCheck, MtaStsState};
use super::rules::{Letter, Rule, RuleTable, fill};
use super::spf::{SpfCheck, SpfState};
use super::tls_rpt::{TlsRptCheck, TlsRptState};
use super::transport::{HostTls, HostTransport};
use crate::name::DnsName;

/// Most reasons shown per letter.
pub const MAX_REASONS: usize = 3;

/// Transport rule ids the grader implements, in table order.
pub const TRANSPORT_RULES: [&str; 13] = [
    "T-NULL-MX",
    "T-NO-MX-HOSTS",
    "T-UNMEASURED",
    "T-F-NO-STARTTLS",
    "T-D-STARTTLS-FAILS",
    "T-D-LEGACY-ONLY",
    "T-D-DANE-BROKEN",
    "T-D-MTASTS-BROKEN",
    "T-D-DNSSEC-BOGUS",
    "T-C-UNAUTHENTICATED",
    "T-B-NO-DOWNGRADE-PROTECTION",
    "T-A-PROTECTED",
    "T-APLUS",
];

/// Authentication rule ids the grader implements, in table order.
pub const AUTH_RULES: [&str; 12] = [
    "A-UNMEASURED",
    "A-F-NONE",
    "A-F-PASS-ALL",
    "A-F-SPF-INVALID",
    "A-D-NO-DMARC",
    "A-C-DMARC-NONE",
    "A-C-QUARANTINE-PARTIAL",
    "A-B-QUARANTINE",
    "A-B-REJECT-PARTIAL",
    "A-B-REJECT-WEAK-SPF",
    "A-A-REJECT",
    "A-APLUS",
];

/// Overall rule ids.
pub const OVERALL_RULES: [&str; 4] = ["O-NO-MAIL", "O-UNMEASURED", "O-PARTIAL", "O-LOWER"];

/// One reason behind a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Rule id.
    pub rule: String,
    /// The MX host concerned, if any.
    pub host: Option<DnsName>,
    /// The fact, for users ("MX mx2.example.org accepts mail without encryption").
    pub text: String,
    /// True for a fact in the domain's favour (MTA-STS testing, TLS-RPT under B).
    pub positive: bool,
}

/// A letter with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grade {
    /// Letter.
    pub letter: Letter,
    /// The rule that decided the letter.
    pub rule: String,
    /// 1–3 reasons.
    pub reasons: Vec<Reason>,
    /// Only part of the inputs could be measured (unreachable MX hosts, one axis `?`,
    /// a failed lookup that could have changed the letter).
    pub partial: bool,
    /// For `?` and `—`: why nothing could be graded, in words.
    pub grade_reason: Option<String>,
}

/// The facts a rule holds for: an optional host and the failing fact.
#[derive(Debug, Clone)]
struct Hit {
    host: Option<DnsName>,
    detail: String,
}

fn hit(detail: impl Into<String>) -> Vec<Hit> {
    vec![Hit {
        host: None,
        detail: detail.into(),
    }]
}

fn host_hit(host: &HostTransport, detail: impl Into<String>) -> Hit {
    Hit {
        host: Some(host.host.clone()),
        detail: detail.into(),
    }
}

/// Runs `rows` top-down; returns the deciding row and the reasons.
fn evaluate<'t>(
    rows: &'t [Rule],
    domain: &DnsName,
    positive_letter: Option<Letter>,
    mut hits: impl FnMut(&str) -> Vec<Hit>,
) -> (&'t Rule, Vec<Reason>) {
    let domain_text = domain.to_string();
    let mut decided: Option<&Rule> = None;
    let mut reasons = Vec::new();
    for row in rows {
        if decided.is_some_and(|d| d.letter != row.letter) {
            continue;
        }
        let found = hits(&row.id);
        if found.is_empty() {
            continue;
        }
        decided.get_or_insert(row);
        for h in found {
            if reasons.len() >= MAX_REASONS {
                break;
            }
            let host = h.host.as_ref().map(ToString::to_string);
            reasons.push(Reason {
                rule: row.id.clone(),
                text: fill(&row.reason, host.as_deref(), &domain_text, &h.detail),
                host: h.host,
                positive: Some(row.letter) == positive_letter,
            });
        }
    }
    let row = decided.unwrap_or_else(|| rows.last().expect("rule table has rows"));
    (row, reasons)
}

fn finish(row: &Rule, reasons: Vec<Reason>, partial: bool) -> Grade {
    let grade_reason = (!row.letter.is_measured())
        .then(|| reasons.first().map(|r| r.text.clone()))
        .flatten();
    Grade {
        letter: row.letter,
        rule: row.id.clone(),
        reasons,
        partial: partial && row.letter.is_measured(),
        grade_reason,
    }
}

/// What the transport grade looks at.
#[derive(Debug, Clone, Copy)]
pub struct TransportFacts<'a> {
    /// Mail domain.
    pub domain: &'a DnsName,
    /// The domain publishes a null MX.
    pub null_mx: bool,
    /// Why there is no MX host, when there is none.
    pub no_hosts: Option<&'a str>,
    /// Every MX host.
    pub hosts: &'a [HostTransport],
    /// DNSSEC status of the MX RRset.
    pub dnssec: DnssecState,
    /// MTA-STS.
    pub mta_sts: &'a MtaStsCheck,
    /// TLS-RPT.
    pub tls_rpt: &'a TlsRptCheck,
}

impl TransportFacts<'_> {
    fn measured(&self) -> impl Iterator<Item = &HostTransport> {
        self.hosts.iter().filter(|h| h.measured)
    }

    fn dane_all(&self) -> bool {
        self.measured().count() > 0 && self.measured().all(|h| h.dane.state == DaneState::Valid)
    }

    fn downgrade_protected(&self) -> bool {
        self.dane_all() || self.mta_sts.state == MtaStsState::Enforce
    }

    fn hits(&self, id: &str) -> Vec<Hit> {
        let per_host = |pred: &dyn Fn(&HostTransport) -> Option<String>| -> Vec<Hit> {
            self.measured()
                .filter_map(|h| pred(h).map(|d| host_hit(h, d)))
                .collect()
        };
        match id {
            "T-NULL-MX" if self.null_mx => hit(""),
            "T-NULL-MX" => vec![],
            "T-NO-MX-HOSTS" if !self.null_mx && self.hosts.is_empty() => {
                hit(self.no_hosts.unwrap_or("no MX record"))
            }
            "T-NO-MX-HOSTS" => vec![],
            "T-UNMEASURED" if !self.hosts.is_empty() && self.measured().count() == 0 => {
                let why: Vec<String> = self
                    .hosts
                    .iter()
                    .take(MAX_REASONS)
                    .map(|h| {
                        format!(
                            "{}: {}",
                            h.host,
                            h.detail.as_deref().unwrap_or("not probed")
                        )
                    })
                    .collect();
                hit(why.join("; "))
            }
            "T-UNMEASURED" => vec![],
            "T-F-NO-STARTTLS" if self.measured().all(|h| !h.tls_any_ok) => {
                per_host(&|h| Some(h.detail.clone().unwrap_or_else(|| "no STARTTLS".into())))
            }
            "T-F-NO-STARTTLS" => vec![],
            "T-D-STARTTLS-FAILS" => per_host(&|h| {
                (h.tls != Some(HostTls::Ok))
                    .then(|| h.detail.clone().unwrap_or_else(|| "STARTTLS fails".into()))
            }),
            "T-D-LEGACY-ONLY" => per_host(&|h| {
                h.version_max
                    .filter(|v| v.is_legacy())
                    .map(|v| v.as_str().to_string())
            }),
            "T-D-DANE-BROKEN" => per_host(&|h| {
                (h.dane.state == DaneState::Broken)
                    .then(|| h.dane.detail.clone().unwrap_or_default())
            }),
            "T-D-MTASTS-BROKEN" if self.mta_sts.state == MtaStsState::Broken => {
                hit(self.mta_sts.errors.first().cloned().unwrap_or_default())
            }
            "T-D-MTASTS-BROKEN" => vec![],
            "T-D-DNSSEC-BOGUS" if self.dnssec == DnssecState::Bogus => hit(""),
            "T-D-DNSSEC-BOGUS" => vec![],
            "T-C-UNAUTHENTICATED" => {
                per_host(&|h| (!h.authenticated).then(|| h.certificate_detail()))
            }
            "T-B-NO-DOWNGRADE-PROTECTION" if !self.downgrade_protected() => {
                hit(self.missing_downgrade_protection())
            }
            "T-B-NO-DOWNGRADE-PROTECTION" => vec![],
            "T-A-PROTECTED" => {
                let mut why = Vec::new();
                if self.tls_rpt.state != TlsRptState::Present {
                    why.push(Hit {
                        host: None,
                        detail: "no TLS-RPT record".into(),
                    });
                }
                why.extend(per_host(&|h| match h.legacy_accepted {
                    Some(true) => Some(format!("MX {} accepts SSLv3/TLS 1.0/TLS 1.1", h.host)),
                    Some(false) => None,
                    None => Some(format!(
                        "legacy protocol support of MX {} was not measured",
                        h.host
                    )),
                }));
                why
            }
            "T-APLUS" => {
                let how = if self.dane_all() {
                    "DANE valid on every MX host"
                } else {
                    "MTA-STS enforce covering every MX host"
                };
                hit(format!(
                    "{how}, TLS-RPT reports requested, no legacy TLS versions"
                ))
            }
            other => panic!("no transport predicate for rule {other}"),
        }
    }

    fn missing_downgrade_protection(&self) -> String {
        let measured = self.measured().count();
        let dane = self
            .measured()
            .filter(|h| h.dane.state == DaneState::Valid)
            .count();
        let dane_text = if dane == 0 {
            "no DANE".to_string()
        } else {
            format!("DANE valid on {dane} of {measured} MX hosts")
        };
        let sts = match self.mta_sts.state {
            MtaStsState::Absent => "no MTA-STS policy",
            MtaStsState::Testing => "MTA-STS in testing mode",
            MtaStsState::None => "MTA-STS mode none",
            MtaStsState::Invalid => "MTA-STS invalid",
            MtaStsState::Error => "MTA-STS not measured",
            MtaStsState::Enforce | MtaStsState::Broken => "MTA-STS enforce",
        };
        format!("{dane_text}, {sts}")
    }
}

/// The transport letter (spec §11.1).
pub fn grade_transport(table: &RuleTable, facts: &TransportFacts) -> Grade {
    let (row, mut reasons) = evaluate(&table.transport, facts.domain, Some(Letter::APlus), |id| {
        facts.hits(id)
    });
    if row.letter == Letter::B {
        let mut positives = Vec::new();
        if facts.mta_sts.state == MtaStsState::Testing {
            positives.push("MTA-STS policy in testing mode: failures are reported");
        }
        if facts.tls_rpt.state == TlsRptState::Present {
            positives.push("TLS-RPT reports are requested");
        }
        for text in positives {
            if reasons.len() < MAX_REASONS {
                reasons.push(Reason {
                    rule: row.id.clone(),
                    host: None,
                    text: text.into(),
                    positive: true,
                });
            }
        }
    }
    let partial = facts.hosts.iter().any(|h| !h.measured);
    finish(row, reasons, partial)
}

/// What the authentication grade looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthFacts<'a> {
    /// Mail domain.
    pub domain: &'a DnsName,
    /// SPF.
    pub spf: &'a SpfCheck,
    /// DMARC.
    pub dmarc: &'a DmarcCheck,
}

impl AuthFacts<'_> {
    fn hits(&self, id: &str) -> Vec<Hit> {
        let spf = self.spf.state;
        let dmarc = self.dmarc.state;
        let pct = self.dmarc.pct;
        let holds = |cond: bool, detail: String| if cond { hit(detail) } else { vec![] };
        match id {
            "A-UNMEASURED" => {
                let why = match (spf, dmarc) {
                    (SpfState::Error, DmarcState::Error) => Some("SPF and DMARC lookups failed"),
                    (SpfState::PassAll, DmarcState::Error) => None,
                    (_, DmarcState::Error) => Some("the DMARC lookup failed"),
                    (SpfState::Error, d) if d.is_absent() => {
                        Some("the SPF lookup failed and there is no valid DMARC record")
                    }
                    _ => None,
                };
                why.map(hit).unwrap_or_default()
            }
            "A-F-NONE" => holds(spf == SpfState::None && dmarc.is_absent(), String::new()),
            "A-F-PASS-ALL" => holds(
                spf == SpfState::PassAll,
                format!("{}all", self.spf.all.unwrap_or('+')),
            ),
            "A-F-SPF-INVALID" => holds(
                spf == SpfState::Invalid && dmarc.is_absent(),
                self.spf.errors.first().cloned().unwrap_or_default(),
            ),
            "A-D-NO-DMARC" => holds(dmarc.is_absent(), self.dmarc_absence()),
            "A-C-DMARC-NONE" => holds(
                dmarc == DmarcState::None,
                if self.dmarc.rua.is_empty() {
                    String::new()
                } else {
                    " (reports are collected)".to_string()
                },
            ),
            "A-C-QUARANTINE-PARTIAL" => holds(
                dmarc == DmarcState::Quarantine && pct < 100,
                pct.to_string(),
            ),
            "A-B-QUARANTINE" => holds(dmarc == DmarcState::Quarantine && pct == 100, String::new()),
            "A-B-REJECT-PARTIAL" => {
                holds(dmarc == DmarcState::Reject && pct < 100, pct.to_string())
            }
            "A-B-REJECT-WEAK-SPF" => holds(
                dmarc == DmarcState::Reject
                    && matches!(
                        spf,
                        SpfState::None | SpfState::Neutral | SpfState::Invalid | SpfState::Error
                    ),
                match spf {
                    SpfState::None => "missing".into(),
                    SpfState::Neutral => "neutral (?all or no all)".into(),
                    SpfState::Invalid => "invalid".into(),
                    _ => "not measured (lookup failed)".into(),
                },
            ),
            "A-A-REJECT" => {
                let a = dmarc == DmarcState::Reject
                    && pct == 100
                    && matches!(spf, SpfState::Strict | SpfState::Soft);
                let mut why = Vec::new();
                if a && spf == SpfState::Soft {
                    why.push("SPF ends in ~all, not -all".to_string());
                }
                if a && self.dmarc.rua.is_empty() {
                    why.push("DMARC has no rua= for aggregate reports".to_string());
                }
                why.into_iter()
                    .map(|d| Hit {
                        host: None,
                        detail: d,
                    })
                    .collect()
            }
            "A-APLUS" => hit(self.dmarc.rua.join(", ")),
            other => panic!("no authentication predicate for rule {other}"),
        }
    }

    fn dmarc_absence(&self) -> String {
        match self.dmarc.state {
            DmarcState::Invalid => self
                .dmarc
                .errors
                .first()
                .cloned()
                .unwrap_or_else(|| "invalid record".into()),
            _ => format!("no record at _dmarc.{}", self.domain),
        }
    }
}

/// The authentication letter (spec §11.2).
pub fn grade_auth(table: &RuleTable, facts: &AuthFacts) -> Grade {
    let (row, reasons) = evaluate(&table.auth, facts.domain, Some(Letter::APlus), |id| {
        facts.hits(id)
    });
    // A letter reached although SPF was not measured could have been higher.
    let partial = facts.spf.state == SpfState::Error && row.id == "A-B-REJECT-WEAK-SPF";
    finish(row, reasons, partial)
}

/// The overall letter (spec §11.3).
pub fn grade_overall(
    table: &RuleTable,
    domain: &DnsName,
    transport: &Grade,
    auth: &Grade,
) -> Grade {
    let domain_text = domain.to_string();
    let row = |id: &str| table.rule(id);
    let reason = |rule: &Rule, detail: &str| Reason {
        rule: rule.id.clone(),
        host: None,
        text: fill(&rule.reason, None, &domain_text, detail),
        positive: false,
    };
    let (rule, letter, partial, detail) = match (transport.letter, auth.letter) {
        (Letter::NotApplicable, a) => (row("O-NO-MAIL"), a, auth.partial, String::new()),
        (Letter::Unknown, Letter::Unknown) => {
            (row("O-UNMEASURED"), Letter::Unknown, false, String::new())
        }
        (Letter::Unknown, a) => (row("O-PARTIAL"), a, true, "authentication".into()),
        (t, Letter::Unknown) => (row("O-PARTIAL"), t, true, "transport".into()),
        (t, a) => {
            let lower = if t.rank() <= a.rank() { t } else { a };
            (
                row("O-LOWER"),
                lower,
                transport.partial || auth.partial,
                format!("transport {t}, authentication {a}"),
            )
        }
    };
    let reasons = vec![reason(rule, &detail)];
    let grade_reason = (!letter.is_measured()).then(|| {
        auth.grade_reason
            .clone()
            .unwrap_or_else(|| reasons[0].text.clone())
    });
    Grade {
        letter,
        rule: rule.id.clone(),
        reasons,
        partial,
        grade_reason,
    }
}

#[cfg(test)]
#[path = "grader_tests.rs"]
mod tests;
