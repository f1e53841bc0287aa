//! Open data files: `data.json` (one record per seed municipality, with its evidence),
//! `data.csv` (the same scalar columns), `countries.json`, and JSON Schemas for both
//! JSON files under `schema/`. Documented in `docs/data.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Record, SiteModel, Stats, pct};
use super::text::iso_time;
use crate::classify::EvidenceItem;
use crate::discover::{Trial, TrialOutcome};

/// The slug of a candidate's outcome (as in data.json).
fn outcome_slug(outcome: &TrialOutcome) -> &'static str {
    match outcome {
        TrialOutcome::Chosen => "chosen",
        TrialOutcome::RankedLower => "ranked_lower",
        TrialOutcome::NoMail => "no_mail",
        TrialOutcome::LookupFailed => "lookup_failed",
        TrialOutcome::Rejected => "rejected",
    }
}

/// Scalar columns of `data.csv`, in order (also the scalar fields of `data.json`).
pub const CSV_COLUMNS: [&str; 33] = [
    "id",
    "name",
    "country",
    "region",
    "domain",
    "domain_ascii",
    "population",
    "osm_relation_id",
    "provider",
    "provider_name",
    "provider_country",
    "category",
    "jurisdiction",
    "mx_location",
    "inbound_kind",
    "inbound_id",
    "gateway",
    "network",
    "confidence",
    "confidence_band",
    "rule",
    "flags",
    "scan_status",
    "scanned_at",
    "freshness",
    "grade",
    "grade_transport",
    "grade_auth",
    "grade_reason",
    "failed_checks",
    "page",
    "domain_source",
    "domain_candidates",
];

#[derive(Serialize)]
struct DataRecord<'a> {
    id: &'a str,
    name: &'a str,
    country: &'static str,
    region: Option<&'a str>,
    domain: Option<&'a str>,
    domain_ascii: Option<String>,
    population: Option<u64>,
    osm_relation_id: Option<u64>,
    provider: &'a str,
    provider_name: &'a str,
    provider_country: Option<&'a str>,
    category: &'static str,
    jurisdiction: &'static str,
    mx_location: &'static str,
    inbound_kind: &'static str,
    inbound_id: Option<&'a str>,
    gateway: Option<&'a str>,
    network: Option<&'a str>,
    confidence: u8,
    confidence_band: &'static str,
    rule: &'static str,
    reason: &'a str,
    flags: &'a [crate::classify::Flag],
    tenant: Option<&'a str>,
    scan_status: &'static str,
    scanned_at: Option<String>,
    freshness: &'static str,
    grade: Option<&'static str>,
    grade_transport: &'static str,
    grade_auth: &'static str,
    grade_partial: bool,
    grade_reason: Option<String>,
    failed_checks: Vec<&'a str>,
    mx_hosts: Vec<String>,
    evidence: &'a [EvidenceItem],
    page: &'a str,
    domain_source: &'static str,
    domain_evidence: &'a [String],
    domain_candidates: &'a [Trial],
}

fn data_record(r: &Record) -> DataRecord<'_> {
    let v = &r.verdict;
    DataRecord {
        id: &r.id,
        name: &r.name,
        country: r.country.code,
        region: r.region.as_deref(),
        domain: r.domain.as_ref().map(|d| d.unicode.as_str()),
        domain_ascii: r.domain.as_ref().map(|d| d.ascii.to_string()),
        population: r.population,
        osm_relation_id: r.osm_relation_id,
        provider: &v.provider,
        provider_name: &v.provider_name,
        provider_country: v.provider_country.as_deref(),
        category: v.category.slug(),
        jurisdiction: v.jurisdiction.slug(),
        mx_location: v.mx_location.slug(),
        inbound_kind: v.inbound.kind.slug(),
        inbound_id: v.inbound.id.as_deref(),
        gateway: v.gateway.as_deref(),
        network: v.network.as_deref(),
        confidence: v.confidence,
        confidence_band: v.band(),
        rule: v.rule.slug(),
        reason: &v.reason,
        flags: &v.flags,
        tenant: v.tenant.as_deref(),
        scan_status: r.status.slug(),
        scanned_at: r.scanned_at.map(iso_time),
        freshness: r.freshness(),
        grade: r.published_grade().map(|l| l.as_str()),
        grade_transport: r
            .security
            .as_ref()
            .map_or("?", |s| s.transport.letter.as_str()),
        grade_auth: r.security.as_ref().map_or("?", |s| s.auth.letter.as_str()),
        grade_partial: r.security.as_ref().is_some_and(|s| s.overall.partial),
        grade_reason: r.grade_reason(),
        failed_checks: r
            .security
            .as_ref()
            .map(|s| {
                let mut checks: Vec<&str> =
                    s.failed_checks.iter().map(|f| f.check.as_str()).collect();
                checks.dedup();
                checks
            })
            .unwrap_or_default(),
        mx_hosts: r
            .scan
            .as_ref()
            .map(|s| {
                s.hosts
                    .iter()
                    .map(|h| format!("{} {}", h.preference, h.host))
                    .collect()
            })
            .unwrap_or_default(),
        evidence: &v.evidence,
        page: &r.page,
        domain_source: r.domain_source().slug(),
        domain_evidence: r.discovery.as_ref().map_or(&[], |d| &d.evidence),
        domain_candidates: r.discovery.as_ref().map_or(&[], |d| &d.tried),
    }
}

/// One published data file, for the downloads page and `data/SHA256SUMS`.
#[derive(Debug, Clone)]
pub struct Download {
    /// Path relative to the site root.
    pub path: String,
    /// Records in it, where that means something.
    pub rows: Option<usize>,
    /// Size.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

impl Download {
    /// "1.2 MB", "830 kB", "312 B".
    pub fn size(&self) -> String {
        match self.bytes {
            b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
            b if b >= 1_000 => format!("{:.0} kB", b as f64 / 1e3),
            b => format!("{b} B"),
        }
    }
}

/// `data/SHA256SUMS` in the format `sha256sum -c` reads (paths relative to the site
/// root: run it there).
pub fn sha256sums(downloads: &[Download]) -> String {
    downloads
        .iter()
        .map(|d| format!("{}  {}\n", d.sha256, d.path))
        .collect()
}

/// `data/catalog.jsonld`: a DCAT-AP style catalogue of the downloads (one dataset, one
/// distribution per file with its size, media type and SHA-256), for data portals.
pub fn catalog_jsonld(model: &SiteModel, downloads: &[Download]) -> Vec<u8> {
    let base = &model.meta.site_url;
    let media = |path: &str| match path.rsplit('.').next() {
        Some("csv") => "text/csv",
        Some("geojson") => "application/geo+json",
        _ => "application/json",
    };
    let distributions: Vec<serde_json::Value> = downloads
        .iter()
        .map(|d| {
            serde_json::json!({
                "@type": "dcat:Distribution",
                "dct:title": d.path,
                "dcat:downloadURL": {"@id": format!("{base}{}", d.path)},
                "dcat:mediaType": media(&d.path),
                "dcat:byteSize": d.bytes,
                "spdx:checksum": {
                    "@type": "spdx:Checksum",
                    "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                    "spdx:checksumValue": d.sha256,
                },
            })
        })
        .collect();
    let catalog = serde_json::json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "spdx": "http://spdx.org/rdf/terms#",
        },
        "@type": "dcat:Catalog",
        "@id": format!("{base}data/catalog.jsonld"),
        "dct:title": "mxmap open data",
        "dcat:dataset": {
            "@type": "dcat:Dataset",
            "@id": format!("{base}data/"),
            "dct:title": "Email providers and transport security of European municipalities",
            "dct:description": format!(
                "Who hosts the official email of {} municipalities in {} countries, with the evidence and a transport-security grade per municipality.",
                model.meta.municipalities,
                model.countries.len()
            ),
            "dct:modified": model.meta.generated,
            "dct:provenance": format!(
                "mxmap {}, signatures {}, rules {}, DNS source {}",
                model.meta.scanner_version,
                model.meta.catalog_version,
                model.meta.rules_version,
                model.meta.public_dns_source()
            ),
            "dcat:landingPage": {"@id": format!("{base}data/")},
            "dcat:distribution": distributions,
        },
    });
    serde_json::to_vec_pretty(&catalog).unwrap_or_default()
}

/// `data.json`: an array with one object per municipality.
///
/// Streamed record by record: the whole array in memory at once would add a few hundred
/// MB to the build's peak.
pub fn write_data_json<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    out.write_all(b"[")?;
    for (i, r) in records.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, &data_record(r))?;
    }
    out.write_all(b"]")
}

/// A CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first) gets a leading `'`, the usual guard; seed names and DNS text
/// are not ours to trust. data.json keeps the raw text.
fn csv_cell(text: String) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text,
    }
}

/// `data.csv`: RFC 4180, UTF-8, header row, one row per municipality, streamed row by
/// row.
pub fn write_data_csv<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    out: impl std::io::Write,
) -> anyhow::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for r in records {
        let d = data_record(r);
        let opt = |s: Option<&str>| s.unwrap_or("").to_string();
        let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        writer.write_record(
            [
                d.id.to_string(),
                d.name.to_string(),
                d.country.to_string(),
                opt(d.region),
                opt(d.domain),
                d.domain_ascii.clone().unwrap_or_default(),
                num(d.population),
                num(d.osm_relation_id),
                d.provider.to_string(),
                d.provider_name.to_string(),
                opt(d.provider_country),
                d.category.to_string(),
                d.jurisdiction.to_string(),
                d.mx_location.to_string(),
                d.inbound_kind.to_string(),
                opt(d.inbound_id),
                opt(d.gateway),
                opt(d.network),
                d.confidence.to_string(),
                d.confidence_band.to_string(),
                d.rule.to_string(),
                crate::classify::join_flags(d.flags, ";"),
                d.scan_status.to_string(),
                d.scanned_at.clone().unwrap_or_default(),
                d.freshness.to_string(),
                opt(d.grade),
                d.grade_transport.to_string(),
                d.grade_auth.to_string(),
                d.grade_reason.clone().unwrap_or_default(),
                d.failed_checks.join(";"),
                d.page.to_string(),
                d.domain_source.to_string(),
                d.domain_candidates
                    .iter()
                    .map(|c| format!("{}={}", c.domain, outcome_slug(&c.outcome)))
                    .collect::<Vec<_>>()
                    .join(";"),
            ]
            .map(csv_cell),
        )?;
    }
    writer.flush()?;
    Ok(())
}

/// `data/review.csv`: every discovered domain with its evidence (see
/// [`crate::discover::review`]).
pub fn write_review_csv<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    out: impl std::io::Write,
) -> anyhow::Result<()> {
    let rows = records.into_iter().filter_map(|r| {
        Some(crate::discover::review::ReviewRow {
            id: &r.id,
            name: &r.name,
            country: r.country.code,
            provider: &r.verdict.provider,
            confidence: r.verdict.confidence,
            page: &r.page,
            discovery: r.discovery.as_deref()?,
        })
    });
    crate::discover::review::write_csv(rows, out)?;
    Ok(())
}

#[cfg(test)]
mod csv_tests {
    use super::csv_cell;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(csv_cell("Tallinn".into()), "Tallinn");
        assert_eq!(csv_cell(String::new()), "");
    }
}

#[derive(Serialize)]
struct CountryRecord<'a> {
    code: &'static str,
    name: &'static str,
    page: &'a str,
    municipalities: usize,
    with_domain: usize,
    classified: usize,
    scan_errors: usize,
    partial_scans: usize,
    us_hyperscaler: usize,
    us_hyperscaler_pct_of_classified: f64,
    domestic: usize,
    domestic_pct_of_classified: f64,
    by_category: std::collections::BTreeMap<&'static str, usize>,
    by_jurisdiction: std::collections::BTreeMap<&'static str, usize>,
    by_mx_location: std::collections::BTreeMap<&'static str, usize>,
    by_grade: &'a std::collections::BTreeMap<String, usize>,
    graded: usize,
    grade_b_or_better: usize,
    grade_b_or_better_pct_of_graded: f64,
    top_providers: Vec<TopProvider<'a>>,
}

#[derive(Serialize)]
struct TopProvider<'a> {
    provider: &'a str,
    name: &'a str,
    category: &'static str,
    count: usize,
}

/// `countries.json`: one record per country with its counts.
pub fn countries_json(model: &SiteModel) -> Vec<u8> {
    let records: Vec<CountryRecord<'_>> = model
        .countries
        .iter()
        .map(|c| country_record(c.country.code, c.country.name, &c.page, &c.stats))
        .collect();
    serde_json::to_vec_pretty(&records).expect("countries serialise")
}

fn country_record<'a>(
    code: &'static str,
    name: &'static str,
    page: &'a str,
    s: &'a Stats,
) -> CountryRecord<'a> {
    CountryRecord {
        code,
        name,
        page,
        municipalities: s.municipalities,
        with_domain: s.with_domain,
        classified: s.classified,
        scan_errors: s.scan_errors,
        partial_scans: s.partial,
        us_hyperscaler: s.us_hyperscaler,
        us_hyperscaler_pct_of_classified: pct(s.us_hyperscaler, s.classified),
        domestic: s.domestic,
        domestic_pct_of_classified: pct(s.domestic, s.classified),
        by_category: s.by_category.iter().map(|(k, v)| (k.slug(), *v)).collect(),
        by_jurisdiction: s
            .by_jurisdiction
            .iter()
            .map(|(k, v)| (k.slug(), *v))
            .collect(),
        by_mx_location: s
            .by_mx_location
            .iter()
            .map(|(k, v)| (k.slug(), *v))
            .collect(),
        by_grade: &s.by_grade,
        graded: s.graded,
        grade_b_or_better: s.grade_b_or_better,
        grade_b_or_better_pct_of_graded: pct(s.grade_b_or_better, s.graded),
        top_providers: s
            .providers
            .iter()
            .take(10)
            .map(|p| TopProvider {
                provider: &p.id,
                name: &p.name,
                category: p.category.slug(),
                count: p.count,
            })
            .collect(),
    }
}

/// JSON Schema of `data.json`.
pub const DATA_SCHEMA: &str = include_str!("schema/data.schema.json");
/// JSON Schema of `countries.json`.
pub const COUNTRIES_SCHEMA: &str = include_str!("schema/countries.schema.json");

/// One headline figure: numerator over denominator, with the id of its definition
/// (`definitions` in kpi.json).
#[derive(Serialize)]
struct Index {
    id: &'static str,
    numerator: usize,
    denominator: usize,
    /// Percent with one decimal, as the pages print it; 0 for an empty denominator
    /// (where the grade figure prints `—`).
    pct: f64,
}

/// One bucket of a breakdown; `pct` is of all municipalities in scope.
#[derive(Serialize)]
struct Bucket {
    id: &'static str,
    label: &'static str,
    count: usize,
    pct: f64,
}

#[derive(Serialize)]
struct KpiProvider<'a> {
    id: &'a str,
    name: &'a str,
    category: &'static str,
    count: usize,
    /// Percent of all municipalities in scope.
    pct: f64,
}

#[derive(Serialize)]
struct KpiScope<'a> {
    name: &'a str,
    totals: BTreeMap<&'static str, usize>,
    indices: Vec<Index>,
    buckets: BTreeMap<&'static str, Vec<Bucket>>,
    top_providers: Vec<KpiProvider<'a>>,
}

/// What each index of kpi.json counts.
const KPI_DEFINITIONS: [(&str, &str); 5] = [
    (
        "us_hyperscaler_share",
        "municipalities whose mail is hosted by Microsoft, Google or Amazon, of the classified municipalities (provider known)",
    ),
    (
        "domestic_share",
        "municipalities whose mail provider is seated in their own country (self-hosted, public IT, local ISPs included), of the classified municipalities",
    ),
    (
        "classified_share",
        "municipalities with a known provider, of all municipalities",
    ),
    (
        "grade_b_or_better_share",
        "municipalities with an overall transport-security grade of B or better, of those with a measured grade (A+ … F)",
    ),
    (
        "dmarc_reject_share",
        "municipalities whose domain publishes DMARC p=reject, of the municipalities with a usable domain",
    ),
];

fn index(id: &'static str, numerator: usize, denominator: usize) -> Index {
    Index {
        id,
        numerator,
        denominator,
        pct: pct(numerator, denominator),
    }
}

fn kpi_scope<'a>(name: &'a str, s: &'a Stats) -> KpiScope<'a> {
    let n = s.municipalities;
    let bucket = |id, label, count| Bucket {
        id,
        label,
        count,
        pct: pct(count, n),
    };
    let mut buckets = BTreeMap::new();
    buckets.insert(
        "category",
        s.by_category
            .iter()
            .map(|(k, &v)| bucket(k.slug(), k.label(), v))
            .collect(),
    );
    buckets.insert(
        "jurisdiction",
        s.by_jurisdiction
            .iter()
            .map(|(k, &v)| bucket(k.slug(), k.label(), v))
            .collect(),
    );
    buckets.insert(
        "mx_location",
        s.by_mx_location
            .iter()
            .map(|(k, &v)| bucket(k.slug(), k.label(), v))
            .collect(),
    );
    buckets.insert(
        "grade",
        crate::grade::Letter::ALL
            .iter()
            .map(|l| {
                let v = s.by_grade.get(l.as_str()).copied().unwrap_or(0);
                bucket(l.as_str(), l.as_str(), v)
            })
            .collect(),
    );
    KpiScope {
        name,
        totals: BTreeMap::from([
            ("municipalities", n),
            ("with_domain", s.with_domain),
            ("classified", s.classified),
            ("graded", s.graded),
            ("scan_errors", s.scan_errors),
        ]),
        indices: vec![
            index("us_hyperscaler_share", s.us_hyperscaler, s.classified),
            index("domestic_share", s.domestic, s.classified),
            index("classified_share", s.classified, n),
            index("grade_b_or_better_share", s.grade_b_or_better, s.graded),
            index("dmarc_reject_share", s.dmarc_reject, s.with_domain),
        ],
        buckets,
        top_providers: s
            .providers
            .iter()
            .take(10)
            .map(|p| KpiProvider {
                id: &p.id,
                name: &p.name,
                category: p.category.slug(),
                count: p.count,
                pct: pct(p.count, n),
            })
            .collect(),
    }
}

/// `data/kpi.json`: the headline numbers of Europe and each country — totals, indices
/// (numerator, denominator, definition), breakdowns and top providers — computed from
/// the same statistics the pages print.
pub fn kpi_json(model: &SiteModel) -> Vec<u8> {
    #[derive(Serialize)]
    struct Kpi<'a> {
        generated: &'a str,
        definitions: BTreeMap<&'static str, &'static str>,
        europe: KpiScope<'a>,
        countries: BTreeMap<&'static str, KpiScope<'a>>,
    }
    let kpi = Kpi {
        generated: &model.meta.generated,
        definitions: KPI_DEFINITIONS.into_iter().collect(),
        europe: kpi_scope("Europe", &model.europe),
        countries: model
            .countries
            .iter()
            .map(|c| (c.country.code, kpi_scope(c.country.name, &c.stats)))
            .collect(),
    };
    serde_json::to_vec_pretty(&kpi).expect("plain numbers and strings serialise")
}
