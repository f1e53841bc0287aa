//! The security half of the site: the security card of a municipality page (grades
//! with reasons, failed checks with evidence, fix-it list, MX transport table, MTA-STS
//! suggestion), the grade rules of the methodology page rendered from the grader's own
//! rule table, and the STARTTLS-Everywhere policy list `data/starttls-policy.json`.

use serde::Serialize;

use super::model::{Record, SiteModel};
use super::text::letter_class;
use crate::grade::policy::{PolicyEntry, mta_sts_suggestion, starttls_policy, to_text};
use crate::grade::transport::{AddressTransport, HostTls};
use crate::grade::{Grade, Security, rule_table};
use crate::name::DnsName;
use crate::scan::probe::ProbeOutcome;

/// How long a published policy list stays valid: two weeks, so a missed nightly run
/// does not expire it.
const POLICY_LIST_LIFETIME: i64 = 14 * 86_400;

/// One reason line.
pub struct ReasonView {
    /// Text.
    pub text: String,
    /// Rule id.
    pub rule: String,
    /// Methodology anchor.
    pub anchor: String,
    /// In the domain's favour.
    pub positive: bool,
}

/// One letter with its meaning and reasons.
pub struct GradeView {
    /// Axis label.
    pub axis: &'static str,
    /// Printed letter.
    pub letter: &'static str,
    /// CSS class.
    pub class: &'static str,
    /// The rule's one-line meaning.
    pub meaning: String,
    /// Reasons.
    pub reasons: Vec<ReasonView>,
    /// Partially measured.
    pub partial: bool,
}

fn grade_view(axis: &'static str, g: &Grade) -> GradeView {
    let table = rule_table();
    let rule = table.rules().find(|r| r.id == g.rule);
    GradeView {
        axis,
        letter: g.letter.as_str(),
        class: letter_class(g.letter),
        meaning: rule.map(|r| r.meaning.clone()).unwrap_or_default(),
        reasons: g
            .reasons
            .iter()
            .map(|r| ReasonView {
                text: r.text.clone(),
                anchor: table
                    .rules()
                    .find(|row| row.id == r.rule)
                    .map(|row| row.anchor.clone())
                    .unwrap_or_default(),
                rule: r.rule.clone(),
                positive: r.positive,
            })
            .collect(),
        partial: g.partial,
    }
}

/// One failed check.
pub struct FailedView {
    /// Check name.
    pub check: String,
    /// MX host, if any.
    pub host: String,
    /// Evidence.
    pub evidence: String,
}

/// One MX address row of the transport table.
pub struct HostRow {
    /// MX host.
    pub host: String,
    /// Preference.
    pub preference: u16,
    /// Address.
    pub ip: String,
    /// What the probe saw, in words.
    pub smtp: String,
    /// STARTTLS state.
    pub starttls: String,
    /// Negotiated / highest TLS version.
    pub tls: String,
    /// Certificate verdict.
    pub certificate: String,
    /// DANE state.
    pub dane: String,
    /// Measured (else greyed).
    pub measured: bool,
}

/// A label/value line of the DNS-side checks.
pub struct CheckLine {
    /// Check.
    pub label: &'static str,
    /// State.
    pub state: String,
    /// Record or details.
    pub detail: String,
}

/// Everything the security card of a municipality page shows.
pub struct SecurityView {
    /// Overall, transport, authentication.
    pub grades: Vec<GradeView>,
    /// Overall letter.
    pub overall: &'static str,
    /// Overall CSS class.
    pub overall_class: &'static str,
    /// Failed checks.
    pub failed: Vec<FailedView>,
    /// Fix-it list.
    pub fixes: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// MX transport table.
    pub hosts: Vec<HostRow>,
    /// DNS-side checks.
    pub checks: Vec<CheckLine>,
    /// MTA-STS starter policy.
    pub suggestion: Option<String>,
    /// Assessment time.
    pub assessed_at: String,
}

/// Lower-case words of a serde enum value (`not_applicable` → `not applicable`).
fn words<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_else(|| "?".into())
}

fn outcome_words(o: &ProbeOutcome) -> &'static str {
    match o {
        ProbeOutcome::Refused => "connection refused",
        ProbeOutcome::Unreachable => "unreachable",
        ProbeOutcome::NoGreeting => "no greeting",
        ProbeOutcome::Rejected => "greeting refused our probe",
        ProbeOutcome::ProtocolError => "protocol error",
        ProbeOutcome::Completed => "SMTP dialogue completed",
        ProbeOutcome::NotAllowed => "not contacted (policy)",
    }
}

/// The certificate column of an MX address row. A host that offers no STARTTLS shows
/// no certificate: there is none to validate.
fn certificate_cell(a: &AddressTransport) -> String {
    if !a.measured || matches!(a.tls, None | Some(HostTls::None)) {
        "—".into()
    } else if a.pkix_valid && a.name_match {
        "valid, name matches".into()
    } else if a.problems.is_empty() {
        "not validated".into()
    } else {
        a.problems
            .iter()
            .map(|p| crate::grade::transport::problem_label(*p))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The card of one assessment.
pub fn security_view(s: &Security, mx_hosts: &[DnsName]) -> SecurityView {
    let mut hosts = Vec::new();
    for h in &s.hosts {
        for a in &h.addresses {
            hosts.push(HostRow {
                host: h.host.to_string(),
                preference: h.preference,
                ip: a.ip.to_string(),
                smtp: match &a.outcome {
                    Some(o) => outcome_words(o).to_string(),
                    None => "not probed".to_string(),
                },
                starttls: a.tls.map(|t| words(&t)).unwrap_or_else(|| "—".into()),
                tls: match (a.version, a.version_max) {
                    (Some(v), Some(m)) if v != m => {
                        format!("{} (up to {})", v.as_str(), m.as_str())
                    }
                    (Some(v), _) => v.as_str().to_string(),
                    (None, Some(m)) => m.as_str().to_string(),
                    (None, None) => "—".into(),
                },
                certificate: certificate_cell(a),
                dane: words(&h.dane.state),
                measured: a.measured,
            });
        }
    }
    let mut checks = vec![
        CheckLine {
            label: "SPF",
            state: words(&s.spf.state),
            detail: s.spf.record.clone().unwrap_or_default(),
        },
        CheckLine {
            label: "DMARC",
            state: words(&s.dmarc.state),
            detail: match (&s.dmarc.record, &s.dmarc.inherited_from) {
                (Some(r), Some(from)) => format!("{r} (inherited from {from})"),
                (Some(r), None) => r.clone(),
                _ => String::new(),
            },
        },
        CheckLine {
            label: "MTA-STS",
            state: words(&s.mta_sts.state),
            detail: [
                s.mta_sts.txt.clone(),
                s.mta_sts.mode.map(|m| format!("mode {}", words(&m))),
                (!s.mta_sts.mx_patterns.is_empty())
                    .then(|| format!("mx {}", s.mta_sts.mx_patterns.join(", "))),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        },
        CheckLine {
            label: "TLS-RPT",
            state: words(&s.tls_rpt.state),
            detail: s.tls_rpt.txt.clone().unwrap_or_default(),
        },
        CheckLine {
            label: "DNSSEC (MX)",
            state: words(&s.dnssec),
            detail: String::new(),
        },
    ];
    checks.push(CheckLine {
        label: "DANE",
        state: words(&s.dane),
        detail: String::new(),
    });
    // Without a measured transport there is no overall letter (see Record::grade).
    let headline = if s.transport.letter.is_measured() {
        &s.overall
    } else {
        &s.transport
    };
    SecurityView {
        grades: vec![
            grade_view("Overall", headline),
            grade_view("Transport (inbound encryption)", &s.transport),
            grade_view("Authentication (spoofing)", &s.auth),
        ],
        overall: headline.letter.as_str(),
        overall_class: letter_class(headline.letter),
        failed: s
            .failed_checks
            .iter()
            .map(|f| FailedView {
                check: f.check.clone(),
                host: f.host.as_ref().map(ToString::to_string).unwrap_or_default(),
                evidence: f.evidence.clone(),
            })
            .collect(),
        fixes: s.fixes.clone(),
        warnings: s.warnings.clone(),
        hosts,
        checks,
        suggestion: mta_sts_suggestion(&s.domain, mx_hosts, s),
        assessed_at: super::text::format_time(s.assessed_at),
    }
}

/// The MX host names of a record's scan, in preference order.
pub fn mx_hosts(r: &Record) -> Vec<DnsName> {
    let mut hosts: Vec<(u16, DnsName)> = r
        .scan
        .as_ref()
        .map(|s| {
            s.hosts
                .iter()
                .map(|h| (h.preference, h.host.clone()))
                .collect()
        })
        .unwrap_or_default();
    hosts.sort();
    hosts.into_iter().map(|(_, h)| h).collect()
}

/// `data/starttls-policy.json`: the STARTTLS-Everywhere list (format 0.1) of every
/// domain whose MX hosts all offer valid STARTTLS; each domain once.
pub fn starttls_policy_json(model: &SiteModel, timestamp: i64) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let entries: Vec<PolicyEntry> = model
        .records
        .iter()
        .filter_map(|r| {
            let security = r.security.as_deref()?;
            let domain = &r.domain.as_ref()?.ascii;
            seen.insert(domain.clone())
                .then(|| PolicyEntry::new(domain, security))
        })
        .collect();
    to_text(&starttls_policy(
        &entries,
        timestamp,
        POLICY_LIST_LIFETIME,
        Some("mxmap"),
    ))
}

/// One rule row for the methodology page.
pub struct RuleRow {
    /// Rule id.
    pub id: String,
    /// Printed letter.
    pub letter: &'static str,
    /// CSS class.
    pub class: &'static str,
    /// Condition.
    pub condition: String,
    /// Meaning.
    pub meaning: String,
    /// Anchor.
    pub anchor: String,
    /// First row with this anchor (carries the `id` attribute).
    pub first_of_anchor: bool,
}

/// The grade rule tables (transport, authentication, overall) with their fix lines,
/// exactly as the grader evaluates them.
pub fn rule_rows() -> Vec<(&'static str, Vec<RuleRow>)> {
    let table = rule_table();
    let mut anchors = std::collections::HashSet::new();
    let mut rows = |rules: &[crate::grade::rules::Rule]| -> Vec<RuleRow> {
        rules
            .iter()
            .map(|r| RuleRow {
                id: r.id.clone(),
                letter: r.letter.as_str(),
                class: letter_class(r.letter),
                condition: r.condition.clone(),
                meaning: r.meaning.clone(),
                first_of_anchor: anchors.insert(r.anchor.clone()),
                anchor: r.anchor.clone(),
            })
            .collect()
    };
    vec![
        (
            "Transport grade: inbound encryption",
            rows(&table.transport),
        ),
        (
            "Authentication grade: spoofing of the domain",
            rows(&table.auth),
        ),
        ("Overall grade", rows(&table.overall)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::transport::TlsVersion;
    use crate::grade::transport::tests::{address, refused};

    #[test]
    fn certificate_cell_shows_no_certificate_without_starttls() {
        let v13 = Some(TlsVersion::Tls13);
        // Plaintext only: there is no certificate, so nothing "not validated" either.
        let plain = address("192.0.2.1", HostTls::None, None, false, None);
        assert_eq!(certificate_cell(&plain), "—");
        assert_eq!(certificate_cell(&refused("192.0.2.2")), "—");
        let valid = address("192.0.2.3", HostTls::Ok, v13, true, Some(false));
        assert_eq!(certificate_cell(&valid), "valid, name matches");
        let own = address("192.0.2.4", HostTls::Ok, v13, false, Some(false));
        assert_eq!(certificate_cell(&own), "self-signed");
        // A failed handshake may still have shown a certificate: it was not validated.
        let broken = address("192.0.2.5", HostTls::Broken, None, false, None);
        assert_eq!(certificate_cell(&broken), "not validated");
    }
}
