//! HTML pages: askama templates (compiled, auto-escaping) filled with view structs
//! derived from the model, rendered in parallel and minified. Every string that came
//! from DNS goes through askama's HTML escaping; nothing is marked safe.

use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;
use rayon::prelude::*;

use super::map::{CountryMaps, Maps, RegionStat};
use super::model::{CountryModel, Meta, ProviderShare, Record, SiteModel, Stats, pct};
use crate::classify::rules::RuleBook;
use crate::classify::{Category, Jurisdiction, MxLocation};

/// One coloured segment of a category bar.
pub struct Segment {
    /// Category slug (CSS class).
    pub category: &'static str,
    /// Width in percent.
    pub width: String,
    /// Tooltip.
    pub title: String,
}

/// A legend line.
pub struct LegendItem {
    /// Category slug.
    pub slug: &'static str,
    /// Label.
    pub label: &'static str,
    /// Municipalities in the category.
    pub count: usize,
}

/// A row of a share table.
pub struct ShareRow {
    /// Slug (for colours).
    pub slug: &'static str,
    /// Label.
    pub label: &'static str,
    /// Count.
    pub count: usize,
    /// Percent of the denominator in the header.
    pub pct: String,
}

/// A provider row.
pub struct ProviderRow {
    /// Display name.
    pub name: String,
    /// Category slug.
    pub category: &'static str,
    /// Category label.
    pub category_label: &'static str,
    /// Jurisdiction label.
    pub jurisdiction: &'static str,
    /// Municipalities.
    pub count: usize,
    /// Percent.
    pub pct: String,
    /// Population (blank when unknown).
    pub population: String,
}

/// A country row of the overview.
pub struct CountryRow<'a> {
    /// Name.
    pub name: &'static str,
    /// Link.
    pub href: String,
    /// Statistics.
    pub stats: &'a Stats,
    /// Classified percent.
    pub classified_pct: String,
    /// US hyperscaler percent of classified.
    pub us_pct: String,
    /// Domestic percent of classified.
    pub domestic_pct: String,
    /// Grade B or better, percent of graded (`—` when none was graded).
    pub secure_pct: String,
    /// Top provider name.
    pub top_provider: String,
    /// Category bar.
    pub bar: Vec<Segment>,
    /// Text alternative of the bar.
    pub bar_label: String,
}

/// Europe totals for the overview.
pub struct EuropeView<'a> {
    /// Statistics.
    pub stats: &'a Stats,
    /// Municipalities.
    pub municipalities: usize,
    /// With domain.
    pub with_domain: usize,
    /// Classified.
    pub classified: usize,
    /// Scan errors.
    pub scan_errors: usize,
    /// Classified percent.
    pub classified_pct: String,
    /// US percent of classified.
    pub us_pct: String,
    /// Domestic percent of classified.
    pub domestic_pct: String,
    /// Grade B or better, percent of graded.
    pub secure_pct: String,
}

/// "Grade ≥ B" as a percentage of the graded municipalities, `—` when none was graded.
pub fn secure_pct(s: &Stats) -> String {
    if s.graded == 0 {
        "—".into()
    } else {
        format!("{:.1}", pct(s.grade_b_or_better, s.graded))
    }
}

/// One grade distribution row: letter, CSS class, count, percent of all municipalities.
pub type GradeRow = (&'static str, &'static str, usize, String);

/// Grade distribution rows, best letter first.
pub fn grade_rows(s: &Stats) -> Vec<GradeRow> {
    crate::grade::Letter::ALL
        .iter()
        .map(|l| {
            let n = s.by_grade.get(l.as_str()).copied().unwrap_or(0);
            (
                l.as_str(),
                super::security::letter_class(*l),
                n,
                format!("{:.1}", pct(n, s.municipalities)),
            )
        })
        .collect()
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    europe: EuropeView<'a>,
    countries: Vec<CountryRow<'a>>,
    providers: Vec<ProviderRow>,
    legend: Vec<LegendItem>,
    europe_svg: &'a str,
    map: super::map::MapWidget,
    /// The same map by domestic share and by grade ≥ B, behind a toggle.
    europe_domestic_svg: String,
    europe_grades_svg: String,
    missing_note: String,
    share_legend: Vec<(&'static str, String)>,
    good_legend: Vec<(&'static str, String)>,
    jsonld: String,
}

/// A municipality row of a country page.
pub struct MunicipalityRow<'a> {
    /// Link relative to the country page.
    pub href: String,
    /// Name.
    pub name: &'a str,
    /// Region.
    pub region: &'a str,
    /// Domain (Unicode).
    pub domain: String,
    /// Provider display name.
    pub provider: &'a str,
    /// Category slug.
    pub category: &'static str,
    /// Confidence.
    pub confidence: u8,
    /// Rule slug.
    pub rule: &'static str,
    /// Overall grade letter.
    pub grade: &'static str,
    /// Its CSS class.
    pub grade_class: &'static str,
    /// Drawn on the country map.
    pub mapped: bool,
}

#[derive(Template)]
#[template(path = "country.html")]
struct CountryPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    name: &'static str,
    stats: &'a Stats,
    finding: String,
    classified_pct: String,
    us_pct: String,
    domestic_pct: String,
    top_provider: String,
    maps_coverage: &'a str,
    map: super::map::MapWidget,
    unmapped: Vec<UnmappedRow<'a>>,
    unmapped_summary: String,
    regions: Vec<RegionRow<'a>>,
    extremes: Vec<ExtremeCard<'a>>,
    extremes_min: usize,
    bands: Vec<(&'static str, usize, String)>,
    anomalies: usize,
    concentration: Option<(String, String)>,
    compact: bool,
    show_table: bool,
    providers: Vec<ProviderRow>,
    categories: Vec<ShareRow>,
    jurisdictions: Vec<ShareRow>,
    locations: Vec<ShareRow>,
    rows: Vec<MunicipalityRow<'a>>,
    legend: Vec<LegendItem>,
    trend: Option<(String, String)>,
    secure_pct: String,
    grades: Vec<(&'static str, &'static str, usize, String)>,
}

/// A municipality without a map shape.
pub struct UnmappedRow<'a> {
    /// Link.
    pub href: String,
    /// Name.
    pub name: &'a str,
    /// Why it has no shape.
    pub reason: &'static str,
}

/// A region row.
pub struct RegionRow<'a> {
    /// Link to the region page.
    pub href: String,
    /// Name.
    pub name: &'a str,
    /// Municipalities.
    pub count: usize,
    /// US share of classified.
    pub us_pct: String,
    /// Domestic share of classified.
    pub domestic_pct: String,
    /// Dominant category slug.
    pub category: &'static str,
    /// Its label.
    pub category_label: &'static str,
    /// Its share of the region.
    pub dominant_pct: String,
    /// Graded B or better, percent of graded (`—` when none graded).
    pub good_pct: String,
}

/// Regions with fewer classified municipalities than this are not named as extremes:
/// a region of two municipalities is "100 % domestic" by chance.
const EXTREMES_MIN_CLASSIFIED: usize = 5;

/// A "most domestic" / "most exposed" region card.
pub struct ExtremeCard<'a> {
    /// Card title.
    pub title: &'static str,
    /// Region.
    pub name: &'a str,
    /// Link.
    pub href: String,
    /// The figure, e.g. "83.3 % domestic (25 of 30 classified)".
    pub figure: String,
}

/// The most domestic and the most US-exposed region with enough classified
/// municipalities; ties go to the larger region, then the name.
fn extreme_cards(regions: &[super::map::RegionStat]) -> Vec<ExtremeCard<'_>> {
    let eligible: Vec<_> = regions
        .iter()
        .filter(|r| r.classified >= EXTREMES_MIN_CLASSIFIED)
        .collect();
    let pick = |part: fn(&super::map::RegionStat) -> usize| {
        eligible.iter().copied().max_by(|a, b| {
            pct(part(a), a.classified)
                .total_cmp(&pct(part(b), b.classified))
                .then(a.classified.cmp(&b.classified))
                .then(b.name.cmp(&a.name))
        })
    };
    fn card<'r>(
        title: &'static str,
        r: &'r super::map::RegionStat,
        part: usize,
        what: &str,
    ) -> ExtremeCard<'r> {
        ExtremeCard {
            title,
            name: &r.name,
            href: format!("{}/", r.slug),
            figure: format!(
                "{:.1} % {what} ({part} of {} classified)",
                pct(part, r.classified),
                r.classified
            ),
        }
    }
    let mut cards = Vec::new();
    if let Some(r) = pick(|r| r.domestic) {
        cards.push(card("Most domestic region", r, r.domestic, "domestic"));
    }
    if let Some(r) = pick(|r| r.us) {
        cards.push(card("Most exposed region", r, r.us, "on US hyperscalers"));
    }
    cards
}

/// Market concentration over classified municipalities: the top three providers'
/// share and the Herfindahl–Hirschman index (0–10,000). Self-hosted servers and
/// uncatalogued third parties are many small operators, not one firm, so they count as
/// shares too small to matter rather than as one provider.
fn concentration(s: &Stats) -> Option<(String, String)> {
    let shares: Vec<f64> = s
        .providers
        .iter()
        .filter(|p| {
            p.category != Category::Unknown
                && !matches!(p.id.as_str(), "self-hosted" | "third-party")
        })
        .map(|p| 100.0 * p.count as f64 / s.classified as f64)
        .collect();
    if s.classified == 0 {
        return None;
    }
    let top3: f64 = shares.iter().take(3).sum();
    let hhi: f64 = shares.iter().map(|x| x * x).sum();
    Some((format!("{top3:.1}"), format!("{hhi:.0}")))
}

/// Countries with more municipalities than this get the compact list on their page
/// (the full table moves to the region pages) so the page stays within its budget.
pub const COMPACT_LIST_ABOVE: usize = 3000;

#[derive(Template)]
#[template(path = "region.html")]
struct RegionPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    name: &'a str,
    country_name: &'static str,
    country_href: String,
    count: usize,
    classified: usize,
    us_pct: String,
    domestic_pct: String,
    graded: usize,
    good: usize,
    good_pct: String,
    rows: Vec<MunicipalityRow<'a>>,
    /// The region's municipalities by provider category, when any has a shape.
    map: super::map::MapWidget,
    /// Categories present in the region.
    legend: Vec<LegendItem>,
}

/// An evidence row.
pub struct EvidenceRow<'a> {
    /// Role slug.
    pub role: &'static str,
    /// Signal label.
    pub signal: &'static str,
    /// SPF depth.
    pub depth: Option<u8>,
    /// Query.
    pub query: &'a str,
    /// Raw value.
    pub raw: &'a str,
    /// Catalogue match.
    pub matched: Option<&'a str>,
}

/// An observation row.
pub struct ObservationRow {
    /// Type.
    pub rtype: &'static str,
    /// Name.
    pub name: String,
    /// Outcome label.
    pub outcome: String,
    /// Answers.
    pub answers: Vec<String>,
    /// Time.
    pub at: String,
    /// Lookup failed.
    pub failed: bool,
}

/// An SPF tree row.
pub struct SpfRow {
    /// Domain.
    pub domain: String,
    /// Depth.
    pub depth: u8,
    /// Via.
    pub via: &'static str,
    /// Record or outcome.
    pub record: String,
}

#[derive(Template)]
#[template(path = "municipality.html")]
struct MunicipalityPage<'a> {
    root: &'a str,
    nearby: Option<Nearby<'a>>,
    path: String,
    meta: &'a Meta,
    r: &'a Record,
    v: &'a crate::classify::Verdict,
    country_name: &'static str,
    country_href: String,
    domain: String,
    domain_ascii: String,
    status: &'static str,
    scanned_at: String,
    category_label: &'static str,
    jurisdiction_label: &'static str,
    mx_location_label: &'static str,
    band: &'static str,
    rule_explains: &'a str,
    flags: String,
    evidence: Vec<EvidenceRow<'a>>,
    spf: Vec<SpfRow>,
    spf_summary: String,
    observations: Vec<ObservationRow>,
    locator: Option<&'a str>,
    sec: Option<super::security::SecurityView>,
    grade: &'static str,
    report_url: String,
    jsonld: String,
    timeline: Vec<(&'a str, &'static str, &'a str, &'a str)>,
    first_run: &'a str,
}

/// JSON for a `<script type="application/ld+json">` block: `<` is escaped so no text
/// from seeds or DNS can close the script element, and C1 controls (which `serde_json`
/// passes through) are escaped like the C0 ones it handles.
pub fn json_ld(value: &serde_json::Value) -> String {
    let json = serde_json::to_string(value).expect("JSON values serialise");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '\u{80}'..='\u{9f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn legend(by_category: &std::collections::BTreeMap<Category, usize>) -> Vec<LegendItem> {
    Category::ALL
        .iter()
        .map(|c| LegendItem {
            slug: c.slug(),
            label: c.label(),
            count: by_category.get(c).copied().unwrap_or(0),
        })
        .collect()
}

fn bar(stats: &Stats) -> (Vec<Segment>, String) {
    let total = stats.municipalities;
    let mut label = Vec::new();
    let segs = Category::ALL
        .iter()
        .filter_map(|c| {
            let n = *stats.by_category.get(c).unwrap_or(&0);
            if n == 0 {
                return None;
            }
            let p = pct(n, total);
            label.push(format!("{}: {n} ({p} %)", c.label()));
            Some(Segment {
                category: c.slug(),
                width: format!("{:.2}", 100.0 * n as f64 / total.max(1) as f64),
                title: format!("{}: {n} of {total} ({p} %)", c.label()),
            })
        })
        .collect();
    (segs, label.join("; "))
}

fn provider_rows(stats: &Stats, limit: usize) -> Vec<ProviderRow> {
    stats
        .providers
        .iter()
        .take(limit)
        .map(|p: &ProviderShare| ProviderRow {
            name: p.name.clone(),
            category: p.category.slug(),
            category_label: p.category.label(),
            jurisdiction: p.jurisdiction.label(),
            count: p.count,
            pct: format!("{:.1}", pct(p.count, stats.municipalities)),
            population: if p.population > 0 {
                p.population.to_string()
            } else {
                String::new()
            },
        })
        .collect()
}

fn share_rows<K: Copy + Ord>(
    map: &std::collections::BTreeMap<K, usize>,
    total: usize,
    describe: impl Fn(K) -> (&'static str, &'static str),
) -> Vec<ShareRow> {
    map.iter()
        .map(|(k, &n)| {
            let (slug, label) = describe(*k);
            ShareRow {
                slug,
                label,
                count: n,
                pct: format!("{:.1}", pct(n, total)),
            }
        })
        .collect()
}

/// Renders the overview page.
pub fn index(model: &SiteModel, maps: &Maps) -> Result<String> {
    let e = &model.europe;
    let europe_svg = maps.europe_svg.as_str();
    let missing: Vec<&str> = model
        .countries
        .iter()
        .zip(&maps.countries)
        .filter(|(_, m)| m.europe_path.is_none())
        .map(|(c, _)| c.country.name)
        .collect();
    let missing_note = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "Not drawn for lack of boundary data: {}.",
            missing.join(", ")
        )
    };
    let countries = model
        .countries
        .iter()
        .map(|c| {
            let (bar, bar_label) = bar(&c.stats);
            CountryRow {
                name: c.country.name,
                href: c.page.clone(),
                stats: &c.stats,
                classified_pct: format!("{:.1}", pct(c.stats.classified, c.stats.municipalities)),
                us_pct: format!("{:.1}", pct(c.stats.us_hyperscaler, c.stats.classified)),
                domestic_pct: format!("{:.1}", pct(c.stats.domestic, c.stats.classified)),
                secure_pct: secure_pct(&c.stats),
                top_provider: c
                    .stats
                    .top_provider()
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| "—".into()),
                bar,
                bar_label,
            }
        })
        .collect();
    IndexPage {
        root: "",
        path: String::new(),
        meta: &model.meta,
        europe: EuropeView {
            stats: e,
            municipalities: e.municipalities,
            with_domain: e.with_domain,
            classified: e.classified,
            scan_errors: e.scan_errors,
            classified_pct: format!("{:.1}", pct(e.classified, e.municipalities)),
            us_pct: format!("{:.1}", pct(e.us_hyperscaler, e.classified)),
            domestic_pct: format!("{:.1}", pct(e.domestic, e.classified)),
            secure_pct: secure_pct(e),
        },
        countries,
        providers: provider_rows(e, 30),
        legend: legend(&e.by_category),
        europe_svg,
        map: {
            let mut map = super::map::MapWidget::new(Some(&maps.europe_config), None, None);
            map.note = "Countries without a single classified municipality are hatched, never coloured; countries outside the 47 covered are labelled for context.".into();
            map
        },
        europe_domestic_svg: super::map::europe_share_map(
            model,
            &maps.countries,
            super::map::ClassifiedShare::Domestic,
        ),
        europe_grades_svg: super::map::europe_grades_map(model, &maps.countries, ""),
        missing_note,
        share_legend: super::map::share_legend(super::map::share_class),
        good_legend: super::map::share_legend(super::map::good_class),
        jsonld: json_ld(&serde_json::json!({
            "@context": "https://schema.org",
            "@type": "Dataset",
            "name": "mxmap: who hosts the email of Europe's municipalities",
            "description": format!(
                "Mail provider, jurisdiction and transport-security grade of {} municipalities in {} European countries, with the DNS and SMTP evidence behind each verdict.",
                e.municipalities,
                model.countries.len()
            ),
            "url": model.meta.site_url,
            "dateModified": model.meta.generated,
            "version": model.meta.scanner_version,
            "spatialCoverage": "Europe",
            "isAccessibleForFree": true,
            "distribution": [
                {"@type": "DataDownload", "encodingFormat": "application/json", "contentUrl": format!("{}data.json", model.meta.site_url)},
                {"@type": "DataDownload", "encodingFormat": "text/csv", "contentUrl": format!("{}data.csv", model.meta.site_url)},
            ],
        })),
    }
    .render()
    .context("rendering the overview")
}

pub(super) fn municipality_rows<'a>(
    model: &'a SiteModel,
    records: &[usize],
    prefix: &str,
    unmapped: &std::collections::HashSet<usize>,
) -> Vec<MunicipalityRow<'a>> {
    records
        .iter()
        .map(|&i| {
            let r = &model.records[i];
            MunicipalityRow {
                href: format!("{prefix}m/{}/", r.slug),
                name: &r.name,
                region: r.region.as_deref().unwrap_or(""),
                domain: r
                    .domain
                    .as_ref()
                    .map(|d| d.unicode.clone())
                    .unwrap_or_default(),
                provider: &r.verdict.provider_name,
                category: r.verdict.category.slug(),
                confidence: r.verdict.confidence,
                rule: r.verdict.rule.slug(),
                grade: r.grade().as_str(),
                grade_class: super::security::letter_class(r.grade()),
                mapped: !unmapped.contains(&i),
            }
        })
        .collect()
}

/// The country page's map: the level that fits the page inline, the finest level as
/// a file of its own when that is a coarser one.
fn country_map_widget(maps: &CountryMaps) -> super::map::MapWidget {
    let mut map =
        super::map::MapWidget::new(maps.map_config.as_ref(), None, maps.level_svg.clone());
    map.note = maps.level_note.clone();
    map.caption = "Each area is filled with its (most common) provider category and links to its page; hatched = no municipality classified, dashed = fewer than 10 classified. The tables below are the text alternative.".into();
    map.full_href = maps.full_svg.as_ref().map(|_| "map.svg".to_string());
    map
}

/// Renders one region page (`{cc}/{region}/`).
pub fn region<'a>(
    model: &'a SiteModel,
    c: &CountryModel,
    region: &'a RegionStat,
    unmapped: &std::collections::HashSet<usize>,
    map: super::map::MapWidget,
) -> Result<String> {
    RegionPage {
        root: "../../",
        path: format!("{}{}/", c.page, region.slug),
        meta: &model.meta,
        name: &region.name,
        country_name: c.country.name,
        country_href: c.page.clone(),
        count: region.count,
        classified: region.classified,
        us_pct: format!("{:.1}", pct(region.us, region.classified)),
        domestic_pct: format!("{:.1}", pct(region.domestic, region.classified)),
        graded: region.graded,
        good: region.good,
        good_pct: if region.graded == 0 {
            "—".into()
        } else {
            format!("{:.1}", pct(region.good, region.graded))
        },
        rows: municipality_rows(model, &region.records, "../", unmapped),
        map,
        legend: legend(&region.by_category)
            .into_iter()
            .filter(|l| l.count > 0)
            .collect(),
    }
    .render()
    .with_context(|| format!("rendering the page of region {}", region.name))
}

/// A municipality whose verdict deserves a second look: unclassified, low or no
/// confidence, or a failed or partial scan.
pub fn is_anomaly(r: &Record) -> bool {
    r.verdict.category == Category::Unknown
        || matches!(r.verdict.band(), "low" | "none")
        || matches!(
            r.status,
            super::model::ScanStatus::Error | super::model::ScanStatus::Partial
        )
}

#[derive(Template)]
#[template(path = "anomalies.html")]
struct AnomaliesPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    country_name: &'static str,
    total: usize,
    rows: Vec<MunicipalityRow<'a>>,
    /// Municipalities whose mail domain discovery found, with its evidence.
    discovered: Vec<(String, &'a Record)>,
    /// Uncatalogued MX domains serving `shared_mx_min` or more municipalities that
    /// serve some here: (domain, here, all countries).
    shared_mx: Vec<(String, usize, usize)>,
    shared_mx_min: usize,
}

/// `{cc}/anomalies/`: the municipalities of a country whose verdict deserves a second
/// look (site spec 3.2 item 10).
pub fn anomalies(model: &SiteModel, c: &CountryModel, maps: &CountryMaps) -> Result<String> {
    let shared_mx_min = RuleBook::embedded().report.uncatalogued_shared_mx;
    let members: Vec<usize> = c
        .records
        .iter()
        .copied()
        .filter(|&i| is_anomaly(&model.records[i]))
        .collect();
    AnomaliesPage {
        root: "../../",
        path: format!("{}anomalies/", c.page),
        meta: &model.meta,
        country_name: c.country.name,
        total: c.records.len(),
        rows: municipality_rows(model, &members, "../", &maps.unmapped_set()),
        discovered: c
            .records
            .iter()
            .map(|&i| &model.records[i])
            .filter(|r| r.is_discovered())
            .map(|r| (format!("../m/{}/", r.slug), r))
            .collect(),
        shared_mx: uncatalogued_shared_mx_in(model, c.country.code, shared_mx_min),
        shared_mx_min,
    }
    .render()
    .with_context(|| format!("rendering {}anomalies/", c.page))
}

/// The uncatalogued MX domains the build reports (issue 16) that serve municipalities
/// of country `cc`: (domain, municipalities here, municipalities in all countries).
fn uncatalogued_shared_mx_in(
    model: &SiteModel,
    cc: &str,
    min: usize,
) -> Vec<(String, usize, usize)> {
    let all = crate::classify::report::uncatalogued_shared_mx(
        model.records.iter().map(|r| (&r.verdict, r.country.code)),
        min,
    );
    all.into_iter()
        .filter_map(|s| {
            let here = s.by_country.get(cc).copied()?;
            Some((s.domain, here, s.municipalities))
        })
        .collect()
}

/// Confidence bands over all municipalities: (band, count, percent).
fn band_rows<'a>(
    model: &SiteModel,
    records: impl Iterator<Item = &'a usize>,
) -> Vec<(&'static str, usize, String)> {
    let mut counts = [0usize; 4];
    let mut total = 0;
    for &i in records {
        total += 1;
        let slot = match model.records[i].verdict.band() {
            "high" => 0,
            "medium" => 1,
            "low" => 2,
            _ => 3,
        };
        counts[slot] += 1;
    }
    ["high", "medium", "low", "none"]
        .into_iter()
        .zip(counts)
        .map(|(band, n)| (band, n, format!("{:.1}", pct(n, total))))
        .collect()
}

/// Renders one country page.
pub fn country(model: &SiteModel, c: &CountryModel, maps: &CountryMaps) -> Result<String> {
    let s = &c.stats;
    let top = s.top_provider();
    let finding = if s.classified == 0 {
        format!("No municipality of {} could be classified.", c.country.name)
    } else {
        format!(
            "{:.0} % of {}'s classified municipalities ({} of {}) have their mail handled by US hyperscalers{}; {:.0} % by a domestic provider.",
            pct(s.us_hyperscaler, s.classified),
            c.country.name,
            s.us_hyperscaler,
            s.classified,
            if s.us_via_gateway > 0 {
                format!(" ({} of them behind a filtering gateway)", s.us_via_gateway)
            } else {
                String::new()
            },
            pct(s.domestic, s.classified)
        )
    };
    let show_table = c.records.len() <= COMPACT_LIST_ABOVE || maps.shapes <= COMPACT_LIST_ABOVE;
    let unmapped_set = maps.unmapped_set();
    let rows = if show_table {
        municipality_rows(model, &c.records, "", &unmapped_set)
    } else {
        Vec::new()
    };
    // A long list of unmapped municipalities would repeat the table: they are marked
    // there instead, and summarised by reason here.
    let list_unmapped = !show_table || maps.unmapped.len() <= 300;
    let unmapped_summary = if list_unmapped || maps.unmapped.is_empty() {
        String::new()
    } else {
        let mut reasons: std::collections::BTreeMap<&str, usize> =
            std::collections::BTreeMap::new();
        for (_, why) in &maps.unmapped {
            *reasons.entry(why.reason()).or_default() += 1;
        }
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n}: {r}")).collect();
        format!(
            "{} municipalities have no map shape ({}); they are marked ◌ in the table below.",
            maps.unmapped.len(),
            parts.join("; ")
        )
    };
    let unmapped = maps
        .unmapped
        .iter()
        .filter(|_| list_unmapped)
        .map(|&(i, why)| UnmappedRow {
            href: format!("m/{}/", model.records[i].slug),
            name: &model.records[i].name,
            reason: why.reason(),
        })
        .collect();
    let regions = maps
        .regions
        .iter()
        .map(|r| RegionRow {
            href: format!("{}/", r.slug),
            name: &r.name,
            count: r.count,
            us_pct: format!("{:.1}", pct(r.us, r.classified)),
            domestic_pct: format!("{:.1}", pct(r.domestic, r.classified)),
            category: r.dominant.0.slug(),
            category_label: r.dominant.0.label(),
            dominant_pct: format!("{:.0}", pct(r.dominant.1, r.count)),
            good_pct: if r.graded == 0 {
                "—".into()
            } else {
                format!("{:.1}", pct(r.good, r.graded))
            },
        })
        .collect();
    CountryPage {
        root: "../",
        path: c.page.clone(),
        trend: super::changes::sparkline(model, c.country.code),
        secure_pct: secure_pct(s),
        grades: grade_rows(s),
        meta: &model.meta,
        name: c.country.name,
        stats: s,
        finding,
        classified_pct: format!("{:.1}", pct(s.classified, s.municipalities)),
        us_pct: format!("{:.1}", pct(s.us_hyperscaler, s.classified)),
        domestic_pct: format!("{:.1}", pct(s.domestic, s.classified)),
        top_provider: top.map(|p| p.name.clone()).unwrap_or_else(|| "—".into()),
        maps_coverage: &maps.coverage,
        map: country_map_widget(maps),
        unmapped,
        regions,
        extremes: extreme_cards(&maps.regions),
        bands: band_rows(model, c.records.iter()),
        anomalies: c
            .records
            .iter()
            .filter(|&&i| is_anomaly(&model.records[i]))
            .count(),
        extremes_min: EXTREMES_MIN_CLASSIFIED,
        concentration: concentration(s),
        compact: c.records.len() > COMPACT_LIST_ABOVE,
        // With thousands of linked shapes on the map, the list would double the page:
        // the tables move to the region pages.
        show_table,
        unmapped_summary,
        providers: provider_rows(s, usize::MAX),
        categories: share_rows(&s.by_category, s.municipalities, |k: Category| {
            (k.slug(), k.label())
        }),
        jurisdictions: share_rows(&s.by_jurisdiction, s.municipalities, |k: Jurisdiction| {
            (k.slug(), k.label())
        }),
        locations: share_rows(&s.by_mx_location, s.municipalities, |k: MxLocation| {
            (k.slug(), k.label())
        }),
        rows,
        legend: legend(&s.by_category),
    }
    .render()
    .with_context(|| format!("rendering the page of {}", c.country.name))
}

/// Neighbours on a municipality page: the same region, alphabetically around it (the
/// seeds carry no coordinates), with the region's domestic share as the comparison.
pub struct Nearby<'a> {
    /// Region name.
    pub region: &'a str,
    /// Link to the region page.
    pub region_href: String,
    /// "12.5 % domestic (3 of 24 classified)".
    pub domestic: String,
    /// Neighbours: link, name, category slug, grade letter, grade class.
    pub rows: Vec<(String, &'a str, &'static str, &'static str, &'static str)>,
}

/// How many neighbours a municipality page lists.
const NEARBY: usize = 8;

fn nearby<'a>(model: &'a SiteModel, r: &Record, region: &'a super::map::RegionStat) -> Nearby<'a> {
    let others: Vec<usize> = region
        .records
        .iter()
        .copied()
        .filter(|&i| model.records[i].id != r.id)
        .collect();
    // The NEARBY names around this one in the alphabetical list of the region.
    let at = others.partition_point(|&i| model.records[i].name < r.name);
    let start = at
        .saturating_sub(NEARBY / 2)
        .min(others.len().saturating_sub(NEARBY));
    let rows = others[start..(start + NEARBY).min(others.len())]
        .iter()
        .map(|&i| {
            let n = &model.records[i];
            let grade = n.grade();
            (
                format!("../{}/", n.slug),
                n.name.as_str(),
                n.verdict.category.slug(),
                grade.as_str(),
                super::security::letter_class(grade),
            )
        })
        .collect();
    Nearby {
        region: &region.name,
        region_href: format!("../../{}/", region.slug),
        domestic: format!(
            "{:.1} % domestic ({} of {} classified)",
            pct(region.domestic, region.classified),
            region.domestic,
            region.classified
        ),
        rows,
    }
}

/// Structured data of a municipality page: the organisation with its verdict and
/// grade, and the breadcrumb trail Europe › country › region › municipality.
fn municipality_json_ld(
    model: &SiteModel,
    r: &Record,
    region: Option<&super::map::RegionStat>,
) -> serde_json::Value {
    let v = &r.verdict;
    let base = &model.meta.site_url;
    let mut crumbs = vec![
        ("Europe".to_string(), base.to_string()),
        (
            r.country.name.to_string(),
            format!("{base}{}/", r.country.code),
        ),
    ];
    if let Some(g) = region {
        crumbs.push((
            g.name.clone(),
            format!("{base}{}/{}/", r.country.code, g.slug),
        ));
    }
    crumbs.push((r.name.clone(), format!("{base}{}", r.page)));
    serde_json::json!({
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "GovernmentOrganization",
                "name": r.name,
                "identifier": r.id,
                "url": r.domain.as_ref().map(|d| format!("https://{}", d.unicode)),
                "address": {
                    "@type": "PostalAddress",
                    "addressLocality": r.name,
                    "addressRegion": r.region,
                    "addressCountry": r.country.code.to_uppercase(),
                },
                "additionalProperty": [
                    {"@type": "PropertyValue", "name": "mail provider", "value": v.provider_name},
                    {"@type": "PropertyValue", "name": "jurisdiction", "value": v.jurisdiction.slug()},
                    {"@type": "PropertyValue", "name": "security grade", "value": r.grade().as_str()},
                    {"@type": "PropertyValue", "name": "confidence", "value": v.confidence},
                ],
            },
            {
                "@type": "BreadcrumbList",
                "itemListElement": crumbs
                    .iter()
                    .enumerate()
                    .map(|(i, (name, url))| serde_json::json!({
                        "@type": "ListItem",
                        "position": i + 1,
                        "name": name,
                        "item": url,
                    }))
                    .collect::<Vec<_>>(),
            },
        ],
    })
}

/// Renders one municipality page.
pub fn municipality(
    model: &SiteModel,
    r: &Record,
    locator: Option<&str>,
    region: Option<&super::map::RegionStat>,
) -> Result<String> {
    let v = &r.verdict;
    let book = RuleBook::embedded();
    let evidence = v
        .evidence
        .iter()
        .map(|e| EvidenceRow {
            role: e.role.slug(),
            signal: e.signal.label(),
            depth: e.depth,
            query: &e.query,
            raw: &e.raw,
            matched: e.matched.as_deref(),
        })
        .collect();
    let (spf, spf_summary, observations) = match &r.scan {
        Some(scan) => {
            let spf = scan
                .spf
                .nodes
                .iter()
                .map(|n| SpfRow {
                    domain: n.domain.to_string(),
                    depth: n.depth,
                    via: match n.via {
                        crate::scan::spf::Via::Root => "domain",
                        crate::scan::spf::Via::Include => "include",
                        crate::scan::spf::Via::Redirect => "redirect",
                    },
                    record: n
                        .record
                        .clone()
                        .unwrap_or_else(|| format!("({})", n.outcome.label())),
                })
                .collect();
            let flags: Vec<String> = scan
                .spf
                .flags
                .iter()
                .filter_map(|f| {
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .collect();
            let summary = format!(
                "{} DNS-querying terms (limit 10), {} void lookups, final qualifier {}{}.",
                scan.spf.lookups,
                scan.spf.void_lookups,
                scan.spf
                    .all
                    .map(|q| format!("{}all", q.symbol()))
                    .unwrap_or_else(|| "none".into()),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("; findings: {}", flags.join(", "))
                }
            );
            let observations = scan
                .observations()
                .into_iter()
                .map(|o| ObservationRow {
                    rtype: o.rtype.as_str(),
                    name: o.name.to_string(),
                    outcome: o.outcome.label().to_string(),
                    answers: o.answers.iter().map(|a| a.presentation()).collect(),
                    at: format_time(o.at),
                    failed: o.failed(),
                })
                .collect();
            (spf, summary, observations)
        }
        None => (Vec::new(), String::new(), Vec::new()),
    };
    MunicipalityPage {
        root: "../../../",
        nearby: region.map(|g| nearby(model, r, g)),
        path: r.page.clone(),
        meta: &model.meta,
        r,
        v,
        country_name: r.country.name,
        country_href: format!("{}/", r.country.code),
        domain: r
            .domain
            .as_ref()
            .map(|d| d.unicode.clone())
            .unwrap_or_else(|| match &r.domain_problem {
                Some(p) => format!("none usable ({p})"),
                None => "none known".into(),
            }),
        domain_ascii: r
            .domain
            .as_ref()
            .map(|d| d.ascii.to_string())
            .unwrap_or_default(),
        status: r.status.slug(),
        scanned_at: r
            .scanned_at
            .map(format_time)
            .unwrap_or_else(|| "never".into()),
        category_label: v.category.label(),
        jurisdiction_label: v.jurisdiction.label(),
        mx_location_label: v.mx_location.label(),
        band: v.band(),
        rule_explains: &book.row(v.rule).explains,
        flags: crate::classify::join_flags(&v.flags, ", "),
        evidence,
        spf,
        spf_summary,
        observations,
        locator,
        sec: r
            .security
            .as_deref()
            .map(|s| super::security::security_view(s, &super::security::mx_hosts(r))),
        grade: r.grade().as_str(),
        report_url: super::pages::report_link(&model.meta, r),
        timeline: super::changes::timeline(model, &r.id),
        first_run: model
            .history
            .first_run()
            .map(|run| run.generated.as_str())
            .unwrap_or(model.meta.generated.as_str()),
        jsonld: json_ld(&municipality_json_ld(model, r, region)),
    }
    .render()
    .with_context(|| format!("rendering the page of {}", r.id))
}

#[derive(Template)]
#[template(path = "methodology.html")]
struct MethodologyPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    grade_tables: Vec<(&'static str, Vec<super::security::RuleRow>)>,
    fixes: Vec<(String, String)>,
    classification: Vec<(String, u8, String, String)>,
}

/// `methodology/`: the grading rules and the classification rules, rendered from the
/// same tables the grader and the classifier use.
pub fn methodology(model: &SiteModel) -> Result<String> {
    let book = RuleBook::embedded();
    MethodologyPage {
        root: "../",
        path: "methodology/".into(),
        meta: &model.meta,
        grade_tables: super::security::rule_rows(),
        fixes: crate::grade::rule_table()
            .fix
            .iter()
            .map(|f| (f.id.clone(), f.text.clone()))
            .collect(),
        classification: book
            .rules
            .iter()
            .map(|r| (r.id.clone(), r.base, r.title.clone(), r.explains.clone()))
            .collect(),
    }
    .render()
    .context("rendering the methodology page")
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn format_time(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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

/// Minifies one HTML page.
pub fn minify(html: &str) -> Vec<u8> {
    let mut cfg = minify_html::Cfg::new();
    // The only inline CSS is single-declaration style attributes, already minimal; the
    // stylesheet is a hand-written file. No inline JavaScript either.
    cfg.minify_css = false;
    cfg.minify_js = false;
    cfg.keep_html_and_head_opening_tags = true;
    minify_html::minify(html.as_bytes(), &cfg)
}

/// Renders and writes every municipality page under `dir` in parallel; returns
/// (pages, bytes).
pub fn write_municipality_pages(
    model: &SiteModel,
    maps: &Maps,
    dir: &Path,
) -> Result<(usize, u64)> {
    let locators: std::collections::HashMap<usize, &str> = maps
        .countries
        .iter()
        .flat_map(|m| m.locators.iter().map(|(i, s)| (*i, s.as_str())))
        .collect();
    let region_of: std::collections::HashMap<usize, &super::map::RegionStat> = maps
        .countries
        .iter()
        .flat_map(|m| &m.regions)
        .flat_map(|region| region.records.iter().map(move |&i| (i, region)))
        .collect();
    let results: Vec<Result<u64>> = model
        .records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            // The bulk of the site: askama's whitespace minimisation already makes these
            // compact, and a minify-html pass (3.6 s of a 9 s render for 7 % fewer bytes)
            // is reserved for the few large pages.
            let bytes = municipality(
                model,
                r,
                locators.get(&i).copied(),
                region_of.get(&i).copied(),
            )?
            .into_bytes();
            super::write::write_page(dir, &r.page, &bytes)?;
            Ok(bytes.len() as u64)
        })
        .collect();
    let mut total = 0;
    for r in &results {
        match r {
            Ok(n) => total += n,
            Err(e) => return Err(anyhow::anyhow!("{e:#}")),
        }
    }
    Ok((results.len(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_910_400), "2026-11-29 00:00:00");
    }
}
