//! DMARC (RFC 7489, security spec §8): record selection at `_dmarc.<domain>` with the
//! organisational-domain fallback, tag parsing, and the resulting state.

use serde::{Deserialize, Serialize};

use crate::evidence::Observation;
use crate::name::DnsName;
use crate::scan::domain::is_dmarc;

/// A DMARC policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// `none`: monitoring only.
    None,
    /// `quarantine`.
    Quarantine,
    /// `reject`.
    Reject,
}

impl DmarcPolicy {
    fn parse(value: &str) -> Option<DmarcPolicy> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Some(DmarcPolicy::None),
            "quarantine" => Some(DmarcPolicy::Quarantine),
            "reject" => Some(DmarcPolicy::Reject),
            _ => None,
        }
    }

    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

/// What the DMARC setup of a domain amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcState {
    /// No record at the domain nor at its organisational domain.
    Missing,
    /// Several records, or a record without a valid `p=` and without a valid `rua=`.
    Invalid,
    /// `p=none` (explicit, or implied by a record that only has `rua=`).
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
    /// The lookup failed: not measured.
    Error,
}

impl DmarcState {
    /// Label for pages.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcState::Missing => "missing",
            DmarcState::Invalid => "invalid",
            DmarcState::None => "none",
            DmarcState::Quarantine => "quarantine",
            DmarcState::Reject => "reject",
            DmarcState::Error => "error",
        }
    }

    /// True for missing and invalid (no policy a receiver can apply).
    pub fn is_absent(self) -> bool {
        matches!(self, DmarcState::Missing | DmarcState::Invalid)
    }
}

/// The tags of one record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DmarcRecord {
    /// `p=` (or `none` when only `rua=` is valid).
    pub p: Option<DmarcPolicy>,
    /// `sp=` (subdomain policy).
    pub sp: Option<DmarcPolicy>,
    /// `pct=`, 0–100; 100 when absent or invalid.
    pub pct: u8,
    /// Valid `rua=` URIs.
    pub rua: Vec<String>,
    /// Valid `ruf=` URIs.
    pub ruf: Vec<String>,
    /// `adkim=` (`r`/`s`).
    pub adkim: Option<String>,
    /// `aspf=` (`r`/`s`).
    pub aspf: Option<String>,
    /// `fo=` as written.
    pub fo: Option<String>,
    /// DMARCbis `t=`: `Some(true)` for `t=y` (testing).
    pub t: Option<bool>,
    /// Tags that were ignored or defaulted.
    pub warnings: Vec<String>,
}

/// Parses one `v=DMARC1` record. `Err` when the record cannot be applied (no valid
/// `p=` and no valid `rua=`, or no version tag).
pub fn parse_record(text: &str) -> Result<DmarcRecord, String> {
    let mut record = DmarcRecord {
        pct: 100,
        ..DmarcRecord::default()
    };
    let mut tags = text.split(';').map(str::trim).filter(|t| !t.is_empty());
    match tags.next().and_then(|t| t.split_once('=')) {
        Some((v, value)) if v.trim() == "v" && value.trim() == "DMARC1" => {}
        Some((v, value))
            if v.trim().eq_ignore_ascii_case("v")
                && value.trim().eq_ignore_ascii_case("DMARC1") =>
        {
            record
                .warnings
                .push("version tag should be written v=DMARC1".into());
        }
        _ => return Err("the record does not start with v=DMARC1".into()),
    }
    let mut p_invalid = None;
    for tag in tags {
        let Some((name, value)) = tag.split_once('=') else {
            record.warnings.push(format!("ignored {tag:?}: no '='"));
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "p" => match DmarcPolicy::parse(value) {
                Some(p) => record.p = Some(p),
                None => p_invalid = Some(value.to_string()),
            },
            "sp" => match DmarcPolicy::parse(value) {
                Some(p) => record.sp = Some(p),
                None => record.warnings.push(format!(
                    "ignored sp={value}: not none, quarantine or reject"
                )),
            },
            "pct" => match value.parse::<u8>() {
                Ok(pct) if pct <= 100 => record.pct = pct,
                _ => record.warnings.push(format!(
                    "ignored pct={value}: not an integer 0–100; 100 applies"
                )),
            },
            "rua" | "ruf" => {
                let mut valid = Vec::new();
                for uri in value.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                    if report_uri_ok(uri) {
                        valid.push(uri.to_string());
                    } else {
                        record.warnings.push(format!("ignored {name} URI {uri:?}"));
                    }
                }
                if name == "rua" {
                    record.rua = valid;
                } else {
                    record.ruf = valid;
                }
            }
            "adkim" | "aspf" => {
                let v = value.to_ascii_lowercase();
                if v == "r" || v == "s" {
                    if name == "adkim" {
                        record.adkim = Some(v);
                    } else {
                        record.aspf = Some(v);
                    }
                } else {
                    record
                        .warnings
                        .push(format!("ignored {name}={value}: not r or s"));
                }
            }
            "fo" => record.fo = Some(value.to_string()),
            "t" => match value.to_ascii_lowercase().as_str() {
                "y" => record.t = Some(true),
                "n" => record.t = Some(false),
                _ => record
                    .warnings
                    .push(format!("ignored t={value}: not y or n")),
            },
            _ => {}
        }
    }
    if record.p.is_none() {
        let missing = match &p_invalid {
            Some(v) => format!("p={v} is not a valid policy"),
            None => "no p= tag".to_string(),
        };
        if record.rua.is_empty() {
            return Err(format!("{missing} and no valid rua="));
        }
        record.warnings.push(format!(
            "{missing}; treated as p=none because rua= is valid"
        ));
        record.p = Some(DmarcPolicy::None);
    }
    Ok(record)
}

/// `mailto:` with an address, or an `https:` URI, optionally followed by `!size`.
fn report_uri_ok(uri: &str) -> bool {
    let uri = uri.split('!').next().unwrap_or_default();
    let lower = uri.to_ascii_lowercase();
    if let Some(addr) = lower.strip_prefix("mailto:") {
        let addr = addr.split('?').next().unwrap_or_default();
        matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.'))
    } else {
        lower.starts_with("https://") && lower.len() > "https://".len()
    }
}

/// The DMARC check of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcCheck {
    /// State, from the policy that applies to the domain.
    pub state: DmarcState,
    /// The record used (the first, when several).
    pub record: Option<String>,
    /// The organisational domain whose record applies, when the domain has none.
    pub inherited_from: Option<DnsName>,
    /// `p=`.
    pub p: Option<DmarcPolicy>,
    /// `sp=`.
    pub sp: Option<DmarcPolicy>,
    /// The policy applying to this domain (`p`, or `sp` then `p` when inherited).
    pub policy: Option<DmarcPolicy>,
    /// `pct=` (100 when absent).
    pub pct: u8,
    /// Aggregate report URIs.
    pub rua: Vec<String>,
    /// Failure report URIs.
    pub ruf: Vec<String>,
    /// `adkim=`.
    pub adkim: Option<String>,
    /// `aspf=`.
    pub aspf: Option<String>,
    /// `fo=`.
    pub fo: Option<String>,
    /// DMARCbis `t=` (testing).
    pub t: Option<bool>,
    /// Why it is invalid or unmeasured.
    pub errors: Vec<String>,
    /// Ignored tags and similar findings.
    pub warnings: Vec<String>,
}

impl DmarcCheck {
    fn empty(state: DmarcState) -> DmarcCheck {
        DmarcCheck {
            state,
            record: None,
            inherited_from: None,
            p: None,
            sp: None,
            policy: None,
            pct: 100,
            rua: Vec::new(),
            ruf: Vec::new(),
            adkim: None,
            aspf: None,
            fo: None,
            t: None,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Evaluates `_dmarc.<domain>` (`own`) and, when it has no record, the organisational
/// domain's (`org`, looked up by the scan only in that case).
pub fn check(own: &Observation, org: Option<&Observation>) -> DmarcCheck {
    if own.failed() {
        let mut c = DmarcCheck::empty(DmarcState::Error);
        c.errors.push(format!(
            "TXT lookup at {} failed ({})",
            own.name,
            own.outcome.label()
        ));
        return c;
    }
    let records: Vec<String> = own.txt_records().filter(|t| is_dmarc(t)).collect();
    if !records.is_empty() {
        return from_records(records, None);
    }
    let Some(org) = org else {
        return DmarcCheck::empty(DmarcState::Missing);
    };
    let org_domain = org.name.parent(1);
    if org.failed() {
        let mut c = DmarcCheck::empty(DmarcState::Error);
        c.errors.push(format!(
            "no record at {}; TXT lookup at {} failed ({})",
            own.name,
            org.name,
            org.outcome.label()
        ));
        return c;
    }
    let records: Vec<String> = org.txt_records().filter(|t| is_dmarc(t)).collect();
    if records.is_empty() {
        return DmarcCheck::empty(DmarcState::Missing);
    }
    from_records(records, org_domain)
}

fn from_records(mut records: Vec<String>, inherited_from: Option<DnsName>) -> DmarcCheck {
    records.sort();
    let mut c = DmarcCheck::empty(DmarcState::Invalid);
    c.record = records.first().cloned();
    c.inherited_from = inherited_from;
    if records.len() > 1 {
        c.errors.push(format!(
            "{} v=DMARC1 records published (exactly one is allowed)",
            records.len()
        ));
        return c;
    }
    match parse_record(&records[0]) {
        Err(e) => c.errors.push(e),
        Ok(r) => {
            c.policy = if c.inherited_from.is_some() {
                r.sp.or(r.p)
            } else {
                r.p
            };
            c.state = match c.policy {
                Some(DmarcPolicy::Reject) => DmarcState::Reject,
                Some(DmarcPolicy::Quarantine) => DmarcState::Quarantine,
                _ => DmarcState::None,
            };
            c.p = r.p;
            c.sp = r.sp;
            c.pct = r.pct;
            c.rua = r.rua;
            c.ruf = r.ruf;
            c.adkim = r.adkim;
            c.aspf = r.aspf;
            c.fo = r.fo;
            c.t = r.t;
            c.warnings = r.warnings;
            if c.t == Some(true) {
                c.warnings
                    .push("t=y: the policy is in testing mode (DMARCbis)".into());
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Outcome;
    use crate::grade::spf::tests::txt;

    fn own(records: &[&str]) -> Observation {
        txt("_dmarc.town.example.org", Outcome::Answer, records)
    }

    #[test]
    fn tags_parse() {
        let r = parse_record(
            "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:d@example.org,mailto:x@y.org!10m; ruf=mailto:f@example.org; adkim=s; aspf=r; fo=1; t=y",
        )
        .unwrap();
        assert_eq!(r.p, Some(DmarcPolicy::Reject));
        assert_eq!(r.sp, Some(DmarcPolicy::Quarantine));
        assert_eq!(r.pct, 50);
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.ruf, vec!["mailto:f@example.org"]);
        assert_eq!(r.adkim.as_deref(), Some("s"));
        assert_eq!(r.aspf.as_deref(), Some("r"));
        assert_eq!(r.fo.as_deref(), Some("1"));
        assert_eq!(r.t, Some(true));
    }

    #[test]
    fn pct_defaults_and_bounds() {
        assert_eq!(parse_record("v=DMARC1; p=none").unwrap().pct, 100);
        assert_eq!(parse_record("v=DMARC1; p=none; pct=0").unwrap().pct, 0);
        let r = parse_record("v=DMARC1; p=none; pct=101").unwrap();
        assert_eq!(r.pct, 100);
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn rua_only_counts_as_p_none_otherwise_invalid() {
        let r = parse_record("v=DMARC1; rua=mailto:r@example.org").unwrap();
        assert_eq!(r.p, Some(DmarcPolicy::None));
        let r = parse_record("v=DMARC1; p=block; rua=mailto:r@example.org").unwrap();
        assert_eq!(r.p, Some(DmarcPolicy::None));
        assert!(parse_record("v=DMARC1; p=block").is_err());
        assert!(parse_record("v=DMARC1; rua=r@example.org").is_err());
        assert!(parse_record("p=reject").is_err());
        let c = check(&own(&["v=DMARC1; pct=100"]), None);
        assert_eq!(c.state, DmarcState::Invalid);
        assert!(c.errors[0].contains("no p= tag"));
    }

    #[test]
    fn several_records_are_invalid() {
        let c = check(
            &own(&["v=DMARC1; p=reject", "v=DMARC1; p=none", "unrelated"]),
            None,
        );
        assert_eq!(c.state, DmarcState::Invalid);
        assert!(c.errors[0].contains("2 v=DMARC1 records"));
    }

    #[test]
    fn own_record_uses_p() {
        let c = check(&own(&["v=DMARC1; p=quarantine; sp=none"]), None);
        assert_eq!(c.state, DmarcState::Quarantine);
        assert_eq!(c.inherited_from, None);
    }

    #[test]
    fn organisational_record_uses_sp_then_p() {
        let empty = txt("_dmarc.town.example.org", Outcome::NxDomain, &[]);
        let org = txt(
            "_dmarc.example.org",
            Outcome::Answer,
            &["v=DMARC1; p=reject; sp=none; rua=mailto:a@example.org"],
        );
        let c = check(&empty, Some(&org));
        assert_eq!(c.state, DmarcState::None);
        assert_eq!(c.policy, Some(DmarcPolicy::None));
        assert_eq!(c.p, Some(DmarcPolicy::Reject));
        assert_eq!(
            c.inherited_from,
            Some(DnsName::parse("example.org").unwrap())
        );
        let org = txt(
            "_dmarc.example.org",
            Outcome::Answer,
            &["v=DMARC1; p=reject"],
        );
        assert_eq!(check(&empty, Some(&org)).state, DmarcState::Reject);
        let org = txt("_dmarc.example.org", Outcome::NoData, &[]);
        assert_eq!(check(&empty, Some(&org)).state, DmarcState::Missing);
        let org = txt("_dmarc.example.org", Outcome::Timeout, &[]);
        assert_eq!(check(&empty, Some(&org)).state, DmarcState::Error);
    }

    #[test]
    fn failed_lookup_is_error_and_absence_is_missing() {
        let failed = txt("_dmarc.example.org", Outcome::ServFail, &[]);
        assert_eq!(check(&failed, None).state, DmarcState::Error);
        assert_eq!(check(&own(&[]), None).state, DmarcState::Missing);
        assert_eq!(
            check(&own(&["v=spf1 -all"]), None).state,
            DmarcState::Missing
        );
    }
}
