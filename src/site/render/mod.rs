//! HTML pages: askama templates (compiled, auto-escaping) filled with view structs
//! derived from the model, rendered in parallel and minified. Every string that came
//! from DNS goes through askama's HTML escaping; nothing is marked safe.

mod country;
mod municipality;

pub use country::{
    COMPACT_LIST_ABOVE, MunicipalityRow, TableColumns, anomalies, country, is_anomaly,
    municipality_rows, region,
};
pub use municipality::{municipality, write_municipality_pages};

use crate::site::filters;

use anyhow::{Context, Result};
use askama::Template;

use crate::classify::rules::RuleBook;
use crate::classify::{Category, Jurisdiction, MxLocation};
use crate::site::map::{CountryMaps, Maps, RegionStat};
use crate::site::model::{CountryModel, Meta, ProviderShare, Record, SiteModel, Stats, pct};

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
    /// Slug of its page under `p/` (none for unknown, self-hosted, third party).
    pub slug: Option<String>,
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
                crate::site::text::letter_class(*l),
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
    map: crate::site::map::MapWidget,
    /// The same map by domestic share and by grade ≥ B, behind a toggle.
    europe_domestic_svg: String,
    europe_grades_svg: String,
    missing_note: String,
    share_legend: Vec<(&'static str, String)>,
    good_legend: Vec<(&'static str, String)>,
    jsonld: String,
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
            slug: crate::site::text::provider_page_slug(&p.id),
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
            let mut map =
                crate::site::map::MapWidget::new(Some(&maps.europe_config), None, None);
            map.note = "Countries without a single classified municipality are hatched, never coloured; countries outside the 47 covered are labelled for context.".into();
            map
        },
        europe_domestic_svg: crate::site::map::europe_share_map(
            model,
            &maps.countries,
            crate::site::map::ClassifiedShare::Domestic,
        ),
        europe_grades_svg: crate::site::map::europe_grades_map(model, &maps.countries, ""),
        missing_note,
        share_legend: crate::site::map::share_legend(crate::site::map::share_class),
        good_legend: crate::site::map::share_legend(crate::site::map::good_class),
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

#[derive(Template)]
#[template(path = "methodology.html")]
struct MethodologyPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    grade_tables: Vec<(&'static str, Vec<crate::site::security::RuleRow>)>,
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
        grade_tables: crate::site::security::rule_rows(),
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
