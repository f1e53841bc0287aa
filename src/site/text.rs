//! Small text helpers every page kind shares: times, grade classes, provider links,
//! the report link and URL query escaping. A leaf of `site/`: it depends on the model
//! and the grade letters only, so the page modules that use it form no cycle.

use std::fmt::Write as _;

use super::model::{Meta, Record};
use super::slug::slugify;
use crate::grade::Letter;

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn format_time(ts: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(ts);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// ISO 8601 UTC time (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn iso_time(ts: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(ts);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Date and time of day of a Unix time, in UTC.
fn civil(ts: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// CSS class of a letter (`g-aplus`, `g-a`, … `g-unknown`, `g-na`).
pub fn letter_class(letter: Letter) -> &'static str {
    match letter {
        Letter::APlus => "g-aplus",
        Letter::A => "g-a",
        Letter::B => "g-b",
        Letter::C => "g-c",
        Letter::D => "g-d",
        Letter::F => "g-f",
        Letter::Unknown => "g-unknown",
        Letter::NotApplicable => "g-na",
    }
}

/// Verdicts that name no operator (nobody found, the municipality itself, an
/// uncatalogued third party) have no provider page.
pub fn has_provider_page(id: &str) -> bool {
    !matches!(id, "unknown" | "self-hosted" | "third-party")
}

/// The slug of a provider's page under `p/`, when it has one: every provider name on
/// the site links there.
pub fn provider_page_slug(id: &str) -> Option<String> {
    has_provider_page(id).then(|| slugify(id))
}

/// Percent-encodes a URL query value.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The prefilled "report a misclassification" link of a municipality.
pub fn report_link(meta: &Meta, r: &Record) -> String {
    let title = format!("Misclassification: {} ({})", r.name, r.id);
    // Short on purpose: it is on every page. The page link carries the evidence.
    let body = format!(
        "{}{}\nmxmap: {} ({})\nWhat is wrong, and your source:\n",
        meta.site_url,
        r.page,
        r.verdict.provider,
        r.verdict.rule.slug(),
    );
    format!(
        "{}?title={}&body={}",
        meta.report_issue_url,
        query_escape(&title),
        query_escape(&body)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_910_400), "2026-11-29 00:00:00");
        assert_eq!(iso_time(1_795_910_400 + 3_723), "2026-11-29T01:02:03Z");
    }
}
