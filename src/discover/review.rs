//! The review file (`data/review.csv`): every discovered domain with its evidence and
//! the candidates tried, so a maintainer can confirm it (a `domain` override) or reject
//! it (a `reject_domain` override, after which it is never tried again) in
//! `seeds/overrides.toml`.

use std::io::Write;

use super::{Discovery, TrialOutcome};

/// Columns of the review file, in order.
pub const COLUMNS: [&str; 14] = [
    "id",
    "name",
    "country",
    "domain",
    "domain_source",
    "confirmed_by",
    "evidence",
    "seed_domain",
    "seed_domain_state",
    "provider",
    "confidence",
    "other_candidates",
    "confirm_or_reject",
    "page",
];

/// One municipality with a discovered domain.
pub struct ReviewRow<'a> {
    /// Seed id.
    pub id: &'a str,
    /// Name.
    pub name: &'a str,
    /// Country code.
    pub country: &'a str,
    /// Headline provider of the verdict on the discovered domain.
    pub provider: &'a str,
    /// Confidence of that verdict (after the cap).
    pub confidence: u8,
    /// Page path.
    pub page: &'a str,
    /// How the domain was found.
    pub discovery: &'a Discovery,
}

/// Writes the review file: a header, then one row per discovered domain (RFC 4180,
/// UTF-8). Cells a spreadsheet would run as formulas get a leading `'`.
pub fn write_csv<'a>(
    rows: impl IntoIterator<Item = ReviewRow<'a>>,
    out: impl Write,
) -> anyhow::Result<usize> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer.write_record(COLUMNS)?;
    let mut n = 0;
    for r in rows {
        let d = r.discovery;
        let Some(domain) = &d.domain else { continue };
        if !d.is_discovered() {
            continue;
        }
        let others: Vec<String> = d
            .tried
            .iter()
            .filter(|t| t.outcome != TrialOutcome::Chosen)
            .map(|t| format!("{} ({}: {})", t.domain, outcome_word(&t.outcome), t.detail))
            .collect();
        let confirmed: Vec<&str> = d.confirmed_by.iter().map(|s| s.slug()).collect();
        let ascii = domain.ascii.to_string();
        writer.write_record(
            [
                r.id.to_string(),
                r.name.to_string(),
                r.country.to_string(),
                domain.unicode.clone(),
                d.source.slug().to_string(),
                confirmed.join(";"),
                d.evidence.join(" | "),
                d.original.clone().unwrap_or_default(),
                d.original_state.clone().unwrap_or_default(),
                r.provider.to_string(),
                r.confidence.to_string(),
                others.join("; "),
                format!(
                    "confirm: kind = \"domain\", value = \"{ascii}\" | reject: kind = \"reject_domain\", value = \"{ascii}\""
                ),
                r.page.to_string(),
            ]
            .map(defuse),
        )?;
        n += 1;
    }
    writer.flush()?;
    Ok(n)
}

/// The word for a candidate's outcome in the review file and on pages.
pub fn outcome_word(outcome: &TrialOutcome) -> &'static str {
    match outcome {
        TrialOutcome::Chosen => "chosen",
        TrialOutcome::RankedLower => "receives mail, ranked lower",
        TrialOutcome::NoMail => "no mail",
        TrialOutcome::LookupFailed => "lookup failed",
        TrialOutcome::Rejected => "rejected",
    }
}

/// Seed names and page text are not ours to trust in a spreadsheet.
fn defuse(text: String) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{DomainSource, Trial};
    use crate::seeds::Domain;

    #[test]
    fn rows_list_discovered_domains_with_evidence() {
        let guessed = Discovery {
            source: DomainSource::Guess,
            domain: Some(Domain::parse("abajas.es").unwrap()),
            original: None,
            original_state: None,
            confirmed_by: vec![],
            evidence: vec![
                "shape {j}.es".into(),
                "abajas.es MX → MX mx.abajas.es".into(),
            ],
            tried: vec![
                Trial {
                    domain: "abajas.es".into(),
                    source: DomainSource::Guess,
                    how: "shape {j}.es".into(),
                    outcome: TrialOutcome::Chosen,
                    detail: "MX mx.abajas.es".into(),
                },
                Trial {
                    domain: "aytoabajas.es".into(),
                    source: DomainSource::Guess,
                    how: "shape ayto{j}.es".into(),
                    outcome: TrialOutcome::NoMail,
                    detail: "does not exist (NXDOMAIN)".into(),
                },
            ],
        };
        let seed = Discovery::plain(DomainSource::Seed, Domain::parse("x.es").ok());
        let row = |id: &'static str, d: &'static Discovery| ReviewRow {
            id,
            name: "=Abajas",
            country: "es",
            provider: "google",
            confidence: 60,
            page: "es/m/abajas/",
            discovery: d,
        };
        let guessed: &'static Discovery = Box::leak(Box::new(guessed));
        let seed: &'static Discovery = Box::leak(Box::new(seed));
        let mut out = Vec::new();
        let n = write_csv([row("ES-1", guessed), row("ES-2", seed)], &mut out).unwrap();
        assert_eq!(n, 1);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("id,name,country,domain,domain_source"));
        assert!(text.contains("ES-1,'=Abajas,es,abajas.es,guess"), "{text}");
        assert!(
            text.contains("aytoabajas.es (no mail: does not exist (NXDOMAIN))"),
            "{text}"
        );
        assert!(!text.contains("ES-2"));
    }
}
