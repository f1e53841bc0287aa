//! The pages that help people find things: provider pages, A–Z indexes, the downloads
//! page, the 404 page, and the files for crawlers (`robots.txt`, `sitemap.xml` with
//! one part per country). The search page and its index are in [`super::search`].

use super::filters;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use anyhow::{Context, Result};
use askama::Template;
use rayon::prelude::*;

use super::model::{Meta, Record, SiteModel, pct};
use super::slug::slugify;
use super::text::{has_provider_page, provider_page_slug};
use crate::classify::Category;
use crate::classify::catalog::Catalog;

/// Escapes text for XML (sitemaps, feeds): the same rules as for HTML.
pub use super::map::esc as xml_escape;

/// Every page path of the site (relative to the root), for the sitemap.
fn page_paths(
    model: &SiteModel,
    regions: &[(String, Vec<String>)],
) -> BTreeMap<String, Vec<String>> {
    let mut parts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let site = parts.entry("site".into()).or_default();
    site.extend(
        [
            "",
            "search/",
            "a-z/",
            "p/",
            "methodology/",
            "about/",
            "security/",
            "security/grades/",
            "data/",
            "changes/",
        ]
        .map(String::from),
    );
    site.extend(
        model
            .history
            .runs
            .iter()
            .map(|run| super::changes::run_path(&run.generated)),
    );
    for (id, indices) in providers_of(model) {
        site.push(format!("p/{id}/"));
        let mut countries: Vec<&str> = indices
            .iter()
            .map(|&i| model.records[i].country.code)
            .collect();
        countries.sort_unstable();
        countries.dedup();
        site.extend(countries.into_iter().map(|cc| format!("p/{id}/{cc}/")));
    }
    for c in &model.countries {
        let list = parts.entry(c.country.code.to_string()).or_default();
        list.push(c.page.clone());
        list.push(format!("{}a-z/", c.page));
        list.push(format!("{}security/", c.page));
        list.push(format!("{}anomalies/", c.page));
        if let Some((_, slugs)) = regions.iter().find(|(cc, _)| cc == c.country.code) {
            list.extend(slugs.iter().map(|s| format!("{}{s}/", c.page)));
        }
        list.extend(c.records.iter().map(|&i| model.records[i].page.clone()));
    }
    parts
}

/// `sitemap.xml` (an index) and `sitemaps/{part}.xml` (one per country plus `site`).
/// `regions` lists each country's region page slugs.
pub fn sitemaps(model: &SiteModel, regions: &[(String, Vec<String>)]) -> Vec<(String, Vec<u8>)> {
    let base = &model.meta.site_url;
    let lastmod = &model.meta.generated[..10.min(model.meta.generated.len())];
    let mut files = Vec::new();
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (part, paths) in page_paths(model, regions) {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for p in paths {
            let _ = writeln!(
                xml,
                "<url><loc>{}</loc><lastmod>{lastmod}</lastmod></url>",
                xml_escape(&format!("{base}{p}"))
            );
        }
        xml.push_str("</urlset>\n");
        let _ = writeln!(
            index,
            "<sitemap><loc>{}</loc><lastmod>{lastmod}</lastmod></sitemap>",
            xml_escape(&format!("{base}sitemaps/{part}.xml"))
        );
        files.push((format!("sitemaps/{part}.xml"), xml.into_bytes()));
    }
    index.push_str("</sitemapindex>\n");
    files.push(("sitemap.xml".into(), index.into_bytes()));
    files
}

/// `robots.txt`: everything may be crawled; the sitemap is named.
pub fn robots(meta: &Meta) -> Vec<u8> {
    format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}sitemap.xml\n",
        meta.site_url
    )
    .into_bytes()
}

/// One letter section of an A–Z page.
pub struct Letter<'a> {
    /// The letter (upper case, `#` for digits and others).
    pub letter: String,
    /// Anchor id (and folder name of the letter's own page).
    pub anchor: String,
    /// (name, link, category slug, provider name, provider page slug).
    pub entries: Vec<(&'a str, String, &'static str, &'a str, Option<String>)>,
    /// Municipalities under this letter.
    pub count: usize,
}

#[derive(Template)]
#[template(path = "az.html")]
struct AzPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    title: String,
    /// (link, name) of the country, for the breadcrumb.
    country: Option<(String, &'static str)>,
    /// The letter this page lists (letter pages only), for the breadcrumb.
    current: Option<String>,
    /// Letters link to their own pages instead of sections of this page.
    letter_pages: bool,
    letters: Vec<Letter<'a>>,
    countries: Vec<(&'static str, String, usize)>,
}

fn first_letter(name: &str) -> String {
    let folded = deunicode::deunicode(name);
    match folded.chars().find(|c| c.is_alphanumeric()) {
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_uppercase().to_string(),
        _ => "#".into(),
    }
}

/// Above this many municipalities a country's A–Z is one page per letter (Germany's
/// single page was 1.5 MB); below, one page is lighter than a dozen.
pub const AZ_SPLIT_ABOVE: usize = 1000;

/// `{cc}/a-z/` (and `{cc}/a-z/{letter}/` for large countries): every municipality of a
/// country by initial letter (Latin transliteration of the name, so Cyrillic and Greek
/// names are found too). Returns (path, html) of every page.
pub fn country_az(model: &SiteModel, cc_index: usize) -> Result<Vec<(String, String)>> {
    let c = &model.countries[cc_index];
    let mut by_letter: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for &i in &c.records {
        let r = &model.records[i];
        by_letter.entry(first_letter(&r.name)).or_default().push(r);
    }
    let split = c.records.len() > AZ_SPLIT_ABOVE;
    // Links in entries are relative to the page they are on.
    let prefix = if split { "../../" } else { "../" };
    let letters: Vec<Letter> = by_letter
        .into_iter()
        .map(|(letter, records)| Letter {
            anchor: if letter == "#" {
                "other".into()
            } else {
                letter.to_lowercase()
            },
            letter,
            count: records.len(),
            entries: records
                .into_iter()
                .map(|r| {
                    (
                        r.name.as_str(),
                        format!("{prefix}m/{}/", r.slug),
                        r.verdict.category.slug(),
                        r.verdict.provider_name.as_str(),
                        provider_page_slug(&r.verdict.provider),
                    )
                })
                .collect(),
        })
        .collect();
    let title = format!("{}: municipalities A–Z", c.country.name);
    let render = |page: AzPage| {
        page.render()
            .with_context(|| format!("rendering the A–Z pages of {}", c.country.code))
    };
    if !split {
        let html = render(AzPage {
            root: "../../",
            path: format!("{}a-z/", c.page),
            meta: &model.meta,
            title,
            country: Some(("../".into(), c.country.name)),
            current: None,
            letter_pages: false,
            letters,
            countries: Vec::new(),
        })?;
        return Ok(vec![(format!("{}a-z/index.html", c.page), html)]);
    }
    let mut pages = Vec::with_capacity(letters.len() + 1);
    // The index: the letters with their counts, each linking to its page.
    let index: Vec<Letter> = letters
        .iter()
        .map(|l| Letter {
            letter: l.letter.clone(),
            anchor: l.anchor.clone(),
            entries: Vec::new(),
            count: l.count,
        })
        .collect();
    pages.push((
        format!("{}a-z/index.html", c.page),
        render(AzPage {
            root: "../../",
            path: format!("{}a-z/", c.page),
            meta: &model.meta,
            title: title.clone(),
            country: Some(("../".into(), c.country.name)),
            current: None,
            letter_pages: true,
            letters: index,
            countries: Vec::new(),
        })?,
    ));
    let nav: Vec<Letter> = letters
        .iter()
        .map(|l| Letter {
            letter: l.letter.clone(),
            anchor: l.anchor.clone(),
            entries: Vec::new(),
            count: l.count,
        })
        .collect();
    for l in letters {
        let anchor = l.anchor.clone();
        let letter = l.letter.clone();
        let mut shown: Vec<Letter> = nav
            .iter()
            .map(|n| Letter {
                letter: n.letter.clone(),
                anchor: n.anchor.clone(),
                entries: Vec::new(),
                count: n.count,
            })
            .collect();
        // The page's own letter carries its entries; the others only link.
        if let Some(own) = shown.iter_mut().find(|n| n.anchor == anchor) {
            own.entries = l.entries;
        }
        pages.push((
            format!("{}a-z/{anchor}/index.html", c.page),
            render(AzPage {
                root: "../../../",
                path: format!("{}a-z/{anchor}/", c.page),
                meta: &model.meta,
                title: format!("{title}: {letter}"),
                country: Some(("../../".into(), c.country.name)),
                current: Some(letter),
                letter_pages: true,
                letters: shown,
                countries: Vec::new(),
            })?,
        ));
    }
    Ok(pages)
}

/// `a-z/`: the countries, each linking to its A–Z page.
pub fn az_root(model: &SiteModel) -> Result<String> {
    AzPage {
        root: "../",
        path: "a-z/".into(),
        meta: &model.meta,
        title: "Municipalities A–Z".into(),
        country: None,
        current: None,
        letter_pages: false,
        letters: Vec::new(),
        countries: model
            .countries
            .iter()
            .map(|c| {
                (
                    c.country.name,
                    format!("../{}a-z/", c.page),
                    c.records.len(),
                )
            })
            .collect(),
    }
    .render()
    .context("rendering the A–Z root")
}

/// Providers with their municipalities (indices), most municipalities first. Only real
/// providers: `unknown`, `self-hosted` and `third-party` are not providers.
/// A signature note as the public may read it: the catalogue's notes are written for
/// its maintainers and cite the specification ("spec §8.6", "[A5]") and mark unverified
/// facts with "†". Sentences citing the specification are left out, the marks removed.
pub fn public_note(note: &str) -> String {
    let internal = |s: &str| {
        s.contains('§')
            || s.contains("spec")
            || s.contains("[A")
            || s.contains("ASN")
            || s.contains("world")
    };
    let mut out: Vec<String> = Vec::new();
    // Sentences end at ". " (the notes use no abbreviations with a space after them).
    for sentence in note.split_inclusive(". ") {
        let sentence = sentence.trim();
        if sentence.is_empty() || internal(sentence) {
            continue;
        }
        out.push(sentence.replace('†', ""));
    }
    out.join(" ")
}

fn providers_of(model: &SiteModel) -> Vec<(String, Vec<usize>)> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in model.records.iter().enumerate() {
        let id = r.verdict.provider.as_str();
        if !has_provider_page(id) {
            continue;
        }
        by.entry(id).or_default().push(i);
    }
    let mut list: Vec<(String, Vec<usize>)> =
        by.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    list.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    list
}

/// A country block of a provider page.
pub struct ProviderCountry<'a> {
    /// Country code (its page is `p/{provider}/{cc}/`).
    pub code: &'static str,
    /// Country name.
    pub name: &'static str,
    /// Municipalities on this provider.
    pub count: usize,
    /// Share of the country's municipalities.
    pub pct: String,
    /// (name, link, rule, confidence, grade).
    pub municipalities: Vec<(&'a str, String, &'static str, u8, &'static str)>,
}

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    id: &'a str,
    name: &'a str,
    category: &'static str,
    category_label: &'static str,
    seat: String,
    roles: String,
    total: usize,
    signatures: Vec<(&'static str, String)>,
    countries: Vec<ProviderCountry<'a>>,
    grades: Vec<(&'static str, &'static str, usize)>,
    /// Adoption of each security check among these municipalities.
    adoption: Vec<super::security_report::AdoptionRow>,
    /// For a filtering gateway: the mailbox providers found behind it (name, count).
    backends: Vec<(String, usize)>,
}

/// Mailbox providers of the municipalities whose mail passes the gateway `id`, most
/// common first.
fn backends_behind(model: &SiteModel, id: &str) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &model.records {
        if r.verdict.gateway.as_deref() == Some(id) {
            *counts.entry(r.verdict.provider_name.as_str()).or_default() += 1;
        }
    }
    let mut rows: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(name, n)| (name.to_string(), n))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

#[derive(Template)]
#[template(path = "provider_country.html")]
struct ProviderCountryPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    name: &'a str,
    country_name: &'static str,
    country_href: String,
    count: usize,
    pct: String,
    of: usize,
    rows: Vec<super::render::MunicipalityRow<'a>>,
    columns: super::render::TableColumns,
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    rows: Vec<ProviderRow>,
}

/// `p/` and `p/{id}/`: one page per provider, gateway or ISP found in this run.
pub fn provider_pages(model: &SiteModel, catalog: &Catalog) -> Result<Vec<(String, Vec<u8>)>> {
    let providers = providers_of(model);
    let total = model.records.len();
    // Position of each record in its country's list (the order of country tables).
    let mut position = vec![0; model.records.len()];
    for c in &model.countries {
        for (k, &i) in c.records.iter().enumerate() {
            position[i] = k;
        }
    }
    // Hundreds of providers, each rendered on its own: in parallel, then in order.
    let rendered: Vec<Result<ProviderFiles>> = providers
        .par_iter()
        .map(|(id, indices)| provider_files(model, catalog, id, indices, &position, total))
        .collect();
    let mut files = Vec::new();
    let mut rows = Vec::new();
    for r in rendered {
        let (pages, row) = r?;
        files.extend(pages);
        rows.push(row);
    }
    let index = ProvidersPage {
        root: "../",
        path: "p/".into(),
        meta: &model.meta,
        rows,
    }
    .render()
    .context("rendering the providers index")?;
    files.push(("p/index.html".into(), index.into_bytes()));
    Ok(files)
}

/// A row of the providers index: link, name, category slug and label, municipalities,
/// their share, countries.
type ProviderRow = (
    String,
    String,
    &'static str,
    &'static str,
    usize,
    String,
    usize,
);

/// A provider's pages (path, bytes) and its row of the index.
type ProviderFiles = (Vec<(String, Vec<u8>)>, ProviderRow);

/// The page of one provider and its per-country pages, with its index row.
fn provider_files(
    model: &SiteModel,
    catalog: &Catalog,
    id: &str,
    indices: &[usize],
    position: &[usize],
    total: usize,
) -> Result<ProviderFiles> {
    let mut files = Vec::new();
    let mut by_country: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in indices {
        by_country
            .entry(model.records[i].country.code)
            .or_default()
            .push(i);
    }
    for members in by_country.values_mut() {
        members.sort_by_key(|&i| position[i]);
    }
    let first = &model.records[indices[0]];
    let entry = catalog.entry(id);
    let name = first.verdict.provider_name.as_str();
    let category: Category = first.verdict.category;
    let mut countries: Vec<ProviderCountry> = Vec::new();
    for c in &model.countries {
        let Some(members) = by_country.get(c.country.code) else {
            continue;
        };
        let mut list: Vec<&Record> = members.iter().map(|&i| &model.records[i]).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        countries.push(ProviderCountry {
            code: c.country.code,
            name: c.country.name,
            count: list.len(),
            pct: format!("{:.1}", pct(list.len(), c.records.len())),
            municipalities: list
                .into_iter()
                .map(|r| {
                    (
                        r.name.as_str(),
                        format!("../../{}", r.page),
                        r.verdict.rule.slug(),
                        r.verdict.confidence,
                        r.grade().as_str(),
                    )
                })
                .collect(),
        });
    }
    countries.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(b.name)));
    let mut grades = Vec::new();
    for l in crate::grade::Letter::ALL {
        let n = indices
            .iter()
            .filter(|&&i| model.records[i].grade() == l)
            .count();
        if n > 0 {
            grades.push((l.as_str(), super::text::letter_class(l), n));
        }
    }
    let signatures = entry
        .map(|e| {
            [
                ("MX host names", e.mx.join(", ")),
                ("MX first labels", e.mx_label_prefix.join(", ")),
                ("SPF includes", e.spf.join(", ")),
                ("SPF includes (weak)", e.spf_weak.join(", ")),
                ("DKIM CNAME targets", e.dkim.join(", ")),
                ("Autodiscover targets", e.autodiscover.join(", ")),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect()
        })
        .unwrap_or_default();
    let html = ProviderPage {
        root: "../../",
        path: format!("p/{id}/"),
        meta: &model.meta,
        id,
        name,
        category: category.slug(),
        category_label: category.label(),
        seat: entry
            .map(|e| e.hq.clone())
            .or_else(|| first.verdict.provider_country.clone())
            .unwrap_or_else(|| "unknown".into()),
        roles: entry
            .map(|e| {
                let roles: Vec<&str> = e.roles.iter().map(|r| r.as_str()).collect();
                match e.note.as_deref().map(public_note) {
                    Some(note) if !note.is_empty() => format!("{} — {note}", roles.join(", ")),
                    _ => roles.join(", "),
                }
            })
            .unwrap_or_default(),
        total: indices.len(),
        signatures,
        countries,
        grades,
        adoption: super::security_report::Adoption::of(indices.iter().map(|&i| &model.records[i]))
            .rows(),
        backends: backends_behind(model, id),
    }
    .render()
    .with_context(|| format!("rendering the provider page of {id}"))?;
    files.push((format!("p/{}/index.html", slugify(id)), html.into_bytes()));
    for c in &model.countries {
        let Some(members) = by_country.get(c.country.code) else {
            continue;
        };
        let page = ProviderCountryPage {
            root: "../../../",
            path: format!("p/{}/{}/", slugify(id), c.country.code),
            meta: &model.meta,
            name,
            country_name: c.country.name,
            country_href: format!("../../../{}", c.page),
            count: members.len(),
            pct: format!("{:.1}", pct(members.len(), c.records.len())),
            of: c.records.len(),
            rows: super::render::municipality_rows(
                model,
                members,
                &format!("../../../{}", c.page),
                &std::collections::HashSet::new(),
                &Default::default(),
            ),
            // A provider's list spans the country; no district is at hand here.
            columns: super::render::TableColumns {
                region: true,
                district: "",
            },
        }
        .render()
        .with_context(|| format!("rendering p/{id}/{}/", c.country.code))?;
        files.push((
            format!("p/{}/{}/index.html", slugify(id), c.country.code),
            page.into_bytes(),
        ));
    }
    let row = (
        format!("{}/", slugify(id)),
        name.to_string(),
        category.slug(),
        category.label(),
        indices.len(),
        format!("{:.1}", pct(indices.len(), total)),
        by_country.len(),
    );
    Ok((files, row))
}

#[derive(Template)]
#[template(path = "downloads.html")]
struct DownloadsPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    /// data.json, data.csv, countries.json, the policy list.
    main: Vec<&'a super::data::Download>,
    /// Per country: code, name, CSV, GeoJSON (when there is a map).
    countries: Vec<CountryDownloads<'a>>,
    graded: usize,
}

/// The downloads of one country.
struct CountryDownloads<'a> {
    code: &'static str,
    name: &'static str,
    csv: Option<&'a super::data::Download>,
    geojson: Option<&'a super::data::Download>,
}

/// `data/`: every download with its rows, size and SHA-256, what it holds and its
/// schema, from the files as written.
pub fn downloads(model: &SiteModel, files: &[super::data::Download]) -> Result<String> {
    let file = |path: &str| files.iter().find(|d| d.path == path);
    DownloadsPage {
        root: "../",
        path: "data/".into(),
        meta: &model.meta,
        main: [
            "data.json",
            "data.csv",
            "countries.json",
            "data/kpi.json",
            "data/starttls-policy.json",
        ]
        .into_iter()
        .filter_map(file)
        .collect(),
        countries: model
            .countries
            .iter()
            .map(|c| CountryDownloads {
                code: c.country.code,
                name: c.country.name,
                csv: file(&format!("data/{}.csv", c.country.code)),
                geojson: file(&format!("{}map.geojson", c.page)),
            })
            .collect(),
        graded: model.europe.graded,
    }
    .render()
    .context("rendering the downloads page")
}

#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    per_subnet: usize,
    global: usize,
    connect: u64,
    reply: u64,
    session: u64,
}

/// `about/`: what mxmap does, how politely it scans (from the prober's own defaults),
/// corrections and opting out.
pub fn about(model: &SiteModel) -> Result<String> {
    let probe = crate::scan::smtp::ProbeConfig::new("");
    AboutPage {
        root: "../",
        path: "about/".into(),
        meta: &model.meta,
        per_subnet: probe.per_subnet_concurrency,
        global: probe.global_concurrency,
        connect: probe.connect_timeout.as_secs(),
        reply: probe.reply_timeout.as_secs(),
        session: probe.session_timeout.as_secs(),
    }
    .render()
    .context("rendering the about page")
}

#[derive(Template)]
#[template(path = "404.html")]
struct NotFoundPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
}

/// `404.html`: GitHub Pages serves it for any missing path, so its links are absolute.
pub fn not_found(model: &SiteModel) -> Result<String> {
    NotFoundPage {
        root: site_root_path(&model.meta.site_url),
        path: "404.html".into(),
        meta: &model.meta,
    }
    .render()
    .context("rendering the 404 page")
}

/// The path part of the site's address (`https://x.github.io/mxmap/` → `/mxmap/`):
/// GitHub Pages serves `404.html` at whatever depth was asked for, so its links must
/// be root-relative, and an absolute URL would tie the stylesheet to one host.
pub fn site_root_path(site_url: &str) -> &str {
    let after_scheme = site_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(site_url);
    match after_scheme.find('/') {
        Some(at) => &after_scheme[at..],
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            xml_escape("a<b>&\"'\u{1}"),
            "a&lt;b&gt;&amp;&#34;&#39;\u{2401}"
        );
        assert_eq!(
            crate::site::text::query_escape("Jõgeva vald/1"),
            "J%C3%B5geva%20vald%2F1"
        );
    }

    #[test]
    fn initials_fold_scripts() {
        assert_eq!(first_letter("Õismäe"), "O");
        assert_eq!(first_letter("Київ"), "K");
        assert_eq!(first_letter("'s-Hertogenbosch"), "S");
        assert_eq!(first_letter("1. Bezirk"), "#");
    }
}

#[cfg(test)]
mod note_tests {
    use super::public_note;

    #[test]
    fn notes_lose_spec_references_and_marks() {
        assert_eq!(
            public_note("beget.tech names are customer VPS (spec §8.6)."),
            ""
        );
        assert_eq!(
            public_note(
                "Municipal IT service company of Lower Austria†; [A3] treats it as a named provider."
            ),
            ""
        );
        assert_eq!(
            public_note("Hosted mail of a regional ISP. HQ AU†. [A5] ASNs 11403 are colocation."),
            "Hosted mail of a regional ISP. HQ AU."
        );
        assert_eq!(public_note("A plain note."), "A plain note.");
    }
}
