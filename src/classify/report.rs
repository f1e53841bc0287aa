//! The run's classification reports: verdicts per rule (printed by every build, so a
//! change of the rules can be reviewed by its counts) and the MX registered domains that
//! are not in the catalogue yet serve several municipalities (spec §5.3, §11 item 14) —
//! each is a catalogue entry waiting to be written.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::{Rule, Verdict};

/// An uncatalogued MX registered domain and whom it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedMx {
    /// Registered domain of the MX hosts (or of their alias targets).
    pub domain: String,
    /// Municipalities served, all countries.
    pub municipalities: usize,
    /// Municipalities served per country (lower-case ISO code).
    pub by_country: BTreeMap<String, usize>,
}

/// Verdicts per rule, in the rule table's order, rules without verdicts left out.
pub fn rule_counts<'v>(verdicts: impl IntoIterator<Item = &'v Verdict>) -> Vec<(Rule, usize)> {
    let mut counts: BTreeMap<Rule, usize> = BTreeMap::new();
    for v in verdicts {
        *counts.entry(v.rule).or_default() += 1;
    }
    Rule::ALL
        .iter()
        .filter_map(|r| counts.get(r).map(|n| (*r, *n)))
        .collect()
}

/// Uncatalogued MX registered domains serving at least `min` municipalities, most
/// served first (then by name). `items` pairs each municipality's verdict with its
/// country code.
pub fn uncatalogued_shared_mx<'v>(
    items: impl IntoIterator<Item = (&'v Verdict, &'v str)>,
    min: usize,
) -> Vec<SharedMx> {
    let mut by_domain: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for (verdict, cc) in items {
        for domain in &verdict.third_party_mx {
            *by_domain
                .entry(domain.as_str())
                .or_default()
                .entry(cc.to_ascii_lowercase())
                .or_default() += 1;
        }
    }
    let mut out: Vec<SharedMx> = by_domain
        .into_iter()
        .map(|(domain, by_country)| SharedMx {
            domain: domain.to_string(),
            municipalities: by_country.values().sum(),
            by_country,
        })
        .filter(|s| s.municipalities >= min)
        .collect();
    out.sort_by(|a, b| {
        b.municipalities
            .cmp(&a.municipalities)
            .then(a.domain.cmp(&b.domain))
    });
    out
}

/// The build's text: one line per rule, then the uncatalogued shared MX domains.
pub fn summary(rules: &[(Rule, usize)], shared: &[SharedMx], min: usize) -> String {
    let mut out = String::from("verdicts per rule:");
    for (rule, n) in rules {
        let _ = write!(out, " {}={n}", rule.slug());
    }
    out.push('\n');
    if shared.is_empty() {
        let _ = writeln!(
            out,
            "uncatalogued MX domains serving {min} or more municipalities: none"
        );
    } else {
        let _ = writeln!(
            out,
            "uncatalogued MX domains serving {min} or more municipalities ({}), to catalogue in signatures.toml:",
            shared.len()
        );
        for s in shared {
            let countries: Vec<String> = s
                .by_country
                .iter()
                .map(|(cc, n)| format!("{cc} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "  {:<40} {:>5}  ({})",
                s.domain,
                s.municipalities,
                countries.join(", ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::decide::testkit_verdict;

    fn verdict(rule: Rule, third: &[&str]) -> Verdict {
        let mut v = testkit_verdict(rule);
        v.third_party_mx = third.iter().map(|s| s.to_string()).collect();
        v
    }

    #[test]
    fn rules_are_counted_in_table_order() {
        let vs = [
            verdict(Rule::ThirdParty, &[]),
            verdict(Rule::Mx, &[]),
            verdict(Rule::Mx, &[]),
        ];
        assert_eq!(rule_counts(&vs), [(Rule::Mx, 2), (Rule::ThirdParty, 1)]);
    }

    #[test]
    fn shared_domains_count_municipalities_per_country() {
        let a = verdict(Rule::ThirdParty, &["portal.de"]);
        let b = verdict(Rule::ThirdParty, &["portal.de", "other.de"]);
        let c = verdict(Rule::Mx, &["portal.de"]);
        let items = [(&a, "de"), (&b, "DE"), (&c, "at")];
        let shared = uncatalogued_shared_mx(items, 3);
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].domain, "portal.de");
        assert_eq!(shared[0].municipalities, 3);
        assert_eq!(shared[0].by_country["de"], 2);
        let text = summary(&rule_counts([&a, &b, &c]), &shared, 3);
        assert!(text.contains("mx=1 third_party=2"), "{text}");
        assert!(text.contains("portal.de"), "{text}");
        assert!(uncatalogued_shared_mx(items, 4).is_empty());
        assert!(summary(&[], &[], 3).contains("none"));
    }
}
