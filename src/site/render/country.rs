//! Country, region and anomaly pages, and the municipality tables they share.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::site::map::level_geo::Districts;

/// A municipality row of a country page.
pub struct MunicipalityRow<'a> {
    /// Link relative to the country page.
    pub href: String,
    /// Name.
    pub name: &'a str,
    /// Region.
    pub region: &'a str,
    /// District (name, or official code), empty when unknown.
    pub district: String,
    /// Domain (Unicode).
    pub domain: String,
    /// Provider display name.
    pub provider: &'a str,
    /// Slug of the provider's page under `p/`, when it has one.
    pub provider_slug: Option<String>,
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

/// Which optional columns a municipality table has.
pub struct TableColumns {
    /// The region (not on a region's own page, where it is the same in every row).
    pub region: bool,
    /// The district column's heading, empty for none (the country has no district
    /// file, so no row has one).
    pub district: &'static str,
}

impl TableColumns {
    /// Columns of a table of `districts`' country; `region` as above.
    pub fn new(region: bool, districts: &Districts) -> TableColumns {
        TableColumns {
            region,
            district: districts.heading(),
        }
    }
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
    map: crate::site::map::MapWidget,
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
    code: &'static str,
    has_geojson: bool,
    providers: Vec<ProviderRow>,
    categories: Vec<ShareRow>,
    jurisdictions: Vec<ShareRow>,
    locations: Vec<ShareRow>,
    rows: Vec<MunicipalityRow<'a>>,
    columns: TableColumns,
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
fn extreme_cards(regions: &[crate::site::map::RegionStat]) -> Vec<ExtremeCard<'_>> {
    let eligible: Vec<_> = regions
        .iter()
        .filter(|r| r.classified >= EXTREMES_MIN_CLASSIFIED)
        .collect();
    let pick = |part: fn(&crate::site::map::RegionStat) -> usize| {
        eligible.iter().copied().max_by(|a, b| {
            pct(part(a), a.classified)
                .total_cmp(&pct(part(b), b.classified))
                .then(a.classified.cmp(&b.classified))
                .then(b.name.cmp(&a.name))
        })
    };
    fn card<'r>(
        title: &'static str,
        r: &'r crate::site::map::RegionStat,
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
/// (the full table moves to the region pages): a full row is about 15 DOM nodes, and a
/// country page must stay under 10,000 before the user acts (issue 18).
pub const COMPACT_LIST_ABOVE: usize = 400;

/// Regions with more municipalities than this carry their table closed (a `<details>`
/// the reader opens, with or without JavaScript): laying out a thousand rows on load
/// blocked a phone's main thread for seconds (Lighthouse mobile 71 on Baden-Württemberg),
/// and the map above is what the page opens with. A filter in the address opens it.
pub const COLLAPSE_LIST_ABOVE: usize = 400;

/// Countries with more municipalities than this list none on their page: the region
/// pages and the A–Z pages are the no-JavaScript path to every municipality.
pub const NO_LIST_ABOVE: usize = 1000;

/// At most this many municipalities without a map shape are listed by name on a
/// country page; more are summarised by reason (each is on its region and A–Z page).
pub const UNMAPPED_LIST_MAX: usize = 300;

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
    columns: TableColumns,
    /// The table starts closed (see [`COLLAPSE_LIST_ABOVE`]).
    collapsed: bool,
    /// The region's interactive map over its static SVG.
    map: crate::site::map::MapWidget,
    /// Categories present in the region.
    legend: Vec<LegendItem>,
}

pub fn municipality_rows<'a>(
    model: &'a SiteModel,
    records: &[usize],
    prefix: &str,
    unmapped: &std::collections::HashSet<usize>,
    districts: &Districts,
) -> Vec<MunicipalityRow<'a>> {
    records
        .iter()
        .map(|&i| {
            let r = &model.records[i];
            MunicipalityRow {
                href: format!("{prefix}m/{}/", r.slug),
                name: &r.name,
                region: r.region.as_deref().unwrap_or(""),
                district: districts.of.get(&r.id).cloned().unwrap_or_default(),
                domain: r
                    .domain
                    .as_ref()
                    .map(|d| d.unicode.clone())
                    .unwrap_or_default(),
                provider: &r.verdict.provider_name,
                provider_slug: crate::site::text::provider_page_slug(&r.verdict.provider),
                category: r.verdict.category.slug(),
                confidence: r.verdict.confidence,
                rule: r.verdict.rule.slug(),
                grade: r.grade().as_str(),
                grade_class: crate::site::text::letter_class(r.grade()),
                mapped: !unmapped.contains(&i),
            }
        })
        .collect()
}

/// The country page's map: the level that fits the page inline, the finest level as
/// a file of its own when that is a coarser one.
fn country_map_widget(maps: &CountryMaps) -> crate::site::map::MapWidget {
    let mut map =
        crate::site::map::MapWidget::new(maps.map_config.as_ref(), None, maps.level_svg.clone());
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
    districts: &Districts,
    map: crate::site::map::MapWidget,
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
        rows: municipality_rows(model, &region.records, "../", unmapped, districts),
        columns: TableColumns::new(false, districts),
        collapsed: region.records.len() > COLLAPSE_LIST_ABOVE,
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
            crate::site::model::ScanStatus::Error | crate::site::model::ScanStatus::Partial
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
    columns: TableColumns,
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
        rows: municipality_rows(
            model,
            &members,
            "../",
            &maps.unmapped_set(),
            &maps.districts,
        ),
        columns: TableColumns::new(true, &maps.districts),
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
    let show_table = c.records.len() <= NO_LIST_ABOVE;
    let unmapped_set = maps.unmapped_set();
    let rows = if show_table {
        municipality_rows(model, &c.records, "", &unmapped_set, &maps.districts)
    } else {
        Vec::new()
    };
    // A long list of unmapped municipalities would repeat the table: they are marked
    // there instead, and summarised by reason here.
    let list_unmapped = maps.unmapped.len() <= UNMAPPED_LIST_MAX;
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
        trend: crate::site::changes::sparkline(model, c.country.code),
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
        code: c.country.code,
        has_geojson: maps.geojson.is_some(),
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
        columns: TableColumns::new(true, &maps.districts),
        legend: legend(&s.by_category),
    }
    .render()
    .with_context(|| format!("rendering the page of {}", c.country.name))
}
