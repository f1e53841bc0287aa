//! The rule book: base confidence per rule and the evidence adjustments, read from the
//! reviewed table `rules.toml` (embedded at build time) so that numbers live in data,
//! and the methodology page renders exactly what the classifier uses.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::model::Rule;

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
        Ok(RuleBook {
            version: file.meta.version,
            rules: file.rule,
            by_id,
            adjust: file.adjust,
            bands: file.bands,
        })
    }

    /// The embedded table (checked by a unit test, so this cannot fail at run time).
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
    fn missing_rows_are_refused() {
        let text = include_str!("rules.toml").replace("id = \"gw_spf\"", "id = \"gw_spf_typo\"");
        assert!(
            RuleBook::from_toml(&text)
                .unwrap_err()
                .contains("gw_spf_typo")
        );
    }
}
