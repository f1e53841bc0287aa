//! The rule book: base confidence per rule and the evidence adjustments, read from the
//! reviewed table `rules.toml` (embedded at build time) so that numbers live in data,
//! and the methodology page renders exactly what the classifier uses.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::model::{Band, Rule};

/// One rule's row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRow {
    /// Rule id (a [`Rule`] slug).
    pub id: String,
    /// Base confidence.
    pub base: u8,
    /// Whether evidence adjustments apply.
    pub adjustable: bool,
    /// Short title.
    pub title: String,
    /// Plain-language explanation.
    pub explains: String,
}

/// Evidence adjustments (spec §8.7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustments {
    /// Depth-0 SPF authorises the verdict.
    pub spf_authorises: i16,
    /// DKIM of the verdict provider (not decisive).
    pub dkim_consistent: i16,
    /// Autodiscover of the verdict provider (not decisive).
    pub autodiscover_consistent: i16,
    /// MS= token with a Microsoft verdict.
    pub tenant_consistent: i16,
    /// Banner/certificate consistent with the inbound operator.
    pub banner_consistent: i16,
    /// MX ASN consistent with the inbound operator.
    pub asn_consistent: i16,
    /// All primary hosts agree and there are at least two.
    pub all_primary_agree: i16,
    /// Depth-0 SPF names two or more mailbox providers.
    pub spf_multi_provider: i16,
    /// A decisive-class signal points to another provider.
    pub contradicting_signal: i16,
    /// Primary hosts split between operators.
    pub mx_split: i16,
    /// The identifying name looks like a customer VPS.
    pub vps_suspect: i16,
    /// Look-through candidates tied.
    pub lookthrough_conflict: i16,
}

/// Confidence bands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Lowest confidence of the high band.
    pub high: u8,
    /// Lowest confidence of the medium band.
    pub medium: u8,
}

impl Bands {
    /// The band of a confidence.
    pub fn of(&self, confidence: u8) -> Band {
        match confidence {
            0 => Band::None,
            c if c >= self.high => Band::High,
            c if c >= self.medium => Band::Medium,
            _ => Band::Low,
        }
    }
}

/// Upper limits on confidence for verdicts that rest on weak evidence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// The mailbox provider rests on SPF alone (SPF says who may send, not where
    /// mailboxes are): at most this, the top of the medium band.
    pub spf_only: u8,
}

/// Thresholds of the run reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// An uncatalogued MX registered domain serving at least this many municipalities
    /// is reported (build output, country "verdicts to check" page).
    pub uncatalogued_shared_mx: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    meta: Meta,
    rule: Vec<RuleRow>,
    adjust: Adjustments,
    bands: Bands,
    caps: Caps,
    report: Reports,
}

/// The loaded rule book.
#[derive(Debug)]
pub struct RuleBook {
    /// Version of the table.
    pub version: String,
    /// Rows in table order.
    pub rules: Vec<RuleRow>,
    by_id: HashMap<Rule, usize>,
    /// Adjustments.
    pub adjust: Adjustments,
    /// Bands.
    pub bands: Bands,
    /// Confidence caps.
    pub caps: Caps,
    /// Report thresholds.
    pub report: Reports,
}

impl RuleBook {
    /// Parses and checks a rule table: every [`Rule`] has exactly one row.
    pub fn from_toml(text: &str) -> Result<RuleBook, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("rules.toml: {e}"))?;
        let mut by_id = HashMap::new();
        for (i, row) in file.rule.iter().enumerate() {
            let rule = Rule::from_slug(&row.id)
                .ok_or_else(|| format!("rules.toml: unknown rule id {:?}", row.id))?;
            if row.base > 100 {
                return Err(format!(
                    "rules.toml: rule {:?} has base {} > 100",
                    row.id, row.base
                ));
            }
            if by_id.insert(rule, i).is_some() {
                return Err(format!("rules.toml: rule {:?} appears twice", row.id));
            }
        }
        if let Some(missing) = Rule::ALL.iter().find(|r| !by_id.contains_key(r)) {
            return Err(format!("rules.toml: no row for rule {:?}", missing.slug()));
        }
        let bands = &file.bands;
        if !(0 < bands.medium && bands.medium < bands.high && bands.high <= 100) {
            return Err("rules.toml: bands need 0 < medium < high <= 100".into());
        }
        if file.caps.spf_only > 100 {
            return Err("rules.toml: caps.spf_only > 100".into());
        }
        Ok(RuleBook {
            version: file.meta.version,
            rules: file.rule,
            by_id,
            adjust: file.adjust,
            bands: file.bands,
            caps: file.caps,
            report: file.report,
        })
    }

    /// The embedded table (checked by a unit test, so this cannot fail at run time).
    /// Callers take it once and pass it down.
    pub fn embedded() -> &'static RuleBook {
        static BOOK: OnceLock<RuleBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            RuleBook::from_toml(include_str!("rules.toml")).expect("embedded rules.toml is valid")
        })
    }

    /// The row of a rule.
    pub fn row(&self, rule: Rule) -> &RuleRow {
        &self.rules[self.by_id[&rule]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_covers_every_rule() {
        let book = RuleBook::embedded();
        assert_eq!(book.row(Rule::Mx).base, 80);
        assert_eq!(book.row(Rule::GwUnknown).base, 25);
        assert!(!book.row(Rule::Override).adjustable);
    }

    #[test]
    fn bands_and_caps_come_from_the_table() {
        let book = RuleBook::embedded();
        assert_eq!(book.bands.of(0), Band::None);
        assert_eq!(book.bands.of(1), Band::Low);
        assert_eq!(book.bands.of(59), Band::Low);
        assert_eq!(book.bands.of(60), Band::Medium);
        assert_eq!(book.bands.of(79), Band::Medium);
        assert_eq!(book.bands.of(80), Band::High);
        assert!(book.caps.spf_only < book.bands.high);
        assert_eq!(book.report.uncatalogued_shared_mx, 3);
    }

    #[test]
    fn missing_rows_are_refused() {
        let text = include_str!("rules.toml").replace("id = \"gw_spf\"", "id = \"gw_spf_typo\"");
        assert!(
            RuleBook::from_toml(&text)
                .unwrap_err()
                .contains("gw_spf_typo")
        );
    }
}
