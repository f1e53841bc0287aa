//! The site stage: model → pages and data files, written atomically.
//!
//! - [`model`]: records and statistics (computed once; everything renders from it);
//! - [`render`]: askama templates, in parallel, minified;
//! - [`data`]: JSON/CSV downloads and their schemas;
//! - [`write`]: the atomic swap of the output folder;
//! - [`slug`]: stable URL slugs.

pub mod budget;
pub mod changes;
pub mod data;
pub mod escape;
pub mod filters;
pub mod map;
pub mod model;
pub mod pages;
pub mod places;
pub mod render;
pub mod search;
pub mod security;
pub mod security_report;
pub mod shared_dns;
pub mod slug;
pub mod text;
pub mod write;

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use rayon::prelude::*;

use model::SiteModel;
use write::{Staging, write_file, write_page};

/// Shared stylesheet.
const STYLE: &str = include_str!("../../templates/assets/style.css");
/// Client-side search (progressive enhancement).
const SEARCH_JS: &str = include_str!("../../templates/assets/search.js");
/// The site's icon (browsers ask for one on every page; without it, a console error).
const FAVICON: &str = include_str!("../../templates/assets/favicon.svg");
/// Table sorting (progressive enhancement).
const TABLE_JS: &str = include_str!("../../templates/assets/table.js");

/// A rendered file: path relative to the site root, bytes.
type Page = (String, Vec<u8>);

/// What a build wrote.
#[derive(Debug, Default)]
pub struct SiteReport {
    /// Country pages.
    pub country_pages: usize,
    /// Municipality pages.
    pub municipality_pages: usize,
    /// Region pages.
    pub region_pages: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Size of each country page (path, bytes).
    pub country_page_bytes: Vec<(String, usize)>,
    /// Per-country map join lines, for the build log.
    pub map_lines: Vec<String>,
    /// Seconds spent drawing maps.
    pub map_seconds: f64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Renders the whole site into `out` (atomically replaced), its maps from `geometry`
/// (see [`map::Geometry::prepare`]).
pub fn build(
    model: &SiteModel,
    out: &Path,
    geometry: map::Geometry,
    places: &places::Places,
) -> Result<SiteReport> {
    let start = Instant::now();
    check_integrity(model)?;
    let mut report = SiteReport::default();
    let staging = Staging::new(out)?;
    let dir = staging.dir.clone();

    // Every file is written as soon as it is rendered: holding the big ones (data.json,
    // GeoJSON) until the end would add a few hundred MB to the peak.
    let mut out = Out {
        dir: &dir,
        bytes: 0,
        downloads: Vec::new(),
    };
    // Colouring the maps is mostly one long task (Germany); the data files need no map
    // and are written on the other core meanwhile.
    let (maps, written) = rayon::join(
        || {
            let started = Instant::now();
            (map::build(model, geometry), started.elapsed().as_secs_f64())
        },
        || write_data_files(model, &mut out),
    );
    let (maps, map_seconds) = maps;
    written?;
    report.map_seconds = map_seconds;
    tracing::info!(
        "maps drawn and data files written at {:.1}s, {} MB resident",
        start.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    for (c, m) in model.countries.iter().zip(&maps.countries) {
        report.map_lines.push(format!(
            "map {}: {}/{} joined ({:.1} %), {} drawn{}",
            c.country.code,
            m.joined,
            c.records.len(),
            m.join_rate(c.records.len()),
            m.shapes,
            m.layer_summary
                .as_deref()
                .map(|s| format!("; {s}"))
                .unwrap_or_else(|| "; no boundary file".into())
        ));
        if m.join_rate(c.records.len()) < 95.0 {
            report
                .map_lines
                .push(format!("    below 95 %: {}", m.coverage));
        }
        if let Some(geojson) = &m.geojson {
            out.put_download(&format!("{}map.geojson", c.page), geojson, Some(m.shapes))?;
        }
        if let Some((drawn, population, level)) = m.drawn {
            let total_population: u64 = c
                .records
                .iter()
                .filter_map(|&i| model.records[i].population)
                .sum();
            report.map_lines.push(format!(
                "    drawn by {level}: {drawn}/{} municipalities ({:.1} %), population {:.1} %",
                c.records.len(),
                model::pct(drawn, c.records.len()),
                100.0 * population as f64 / total_population.max(1) as f64
            ));
        }
        // The interactive map's data files and the full-resolution static map.
        for (path, bytes) in &m.map_files {
            out.put(path, bytes)?;
        }
        if let Some(svg) = &m.full_svg {
            out.put(&format!("{}map.svg", c.page), svg.as_bytes())?;
        }
    }
    for (path, bytes) in map::ASSETS.iter().map(|(p, b)| (p.to_string(), b.to_vec())) {
        out.put(&path, &bytes)?;
    }
    for (path, bytes) in &maps.europe_files {
        out.put(path, bytes)?;
    }
    let sums = data::sha256sums(&out.downloads);
    out.put("data/SHA256SUMS", sums.as_bytes())?;
    out.put(
        "data/catalog.jsonld",
        &data::catalog_jsonld(model, &out.downloads),
    )?;
    out.put(
        "security/index.html",
        &render::minify(&security_report::europe(model, &maps)?),
    )?;
    out.put(
        "security/grades/index.html",
        &render::minify(&security_report::grades(model)?),
    )?;
    out.put(
        "methodology/index.html",
        &render::minify(&render::methodology(model)?),
    )?;
    for (path, bytes) in finding_pages(model, &maps, &out.downloads, places)? {
        out.put(&path, &bytes)?;
    }
    tracing::info!(
        "data files at {:.1}s, {} MB resident",
        start.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    out.put("index.html", &render::minify(&render::index(model, &maps)?))?;
    let country_pages: Vec<Result<[Page; 3]>> = model
        .countries
        .par_iter()
        .zip(&maps.countries)
        .map(|(c, m)| {
            Ok([
                (
                    format!("{}index.html", c.page),
                    render::minify(&render::country(model, c, m)?),
                ),
                (
                    format!("{}security/index.html", c.page),
                    render::minify(&security_report::country(model, c, m)?),
                ),
                (
                    format!("{}anomalies/index.html", c.page),
                    render::minify(&render::anomalies(model, c, m)?),
                ),
            ])
        })
        .collect();
    for pages in country_pages {
        let [(path, bytes), security, anomalies] = pages?;
        report.country_page_bytes.push((path.clone(), bytes.len()));
        out.put(&path, &bytes)?;
        for (path, bytes) in [security, anomalies] {
            out.put(&path, &bytes)?;
        }
        report.country_pages += 1;
    }
    for (c, m) in model.countries.iter().zip(&maps.countries) {
        if let Some(svg) = &m.outline_svg {
            out.put(&format!("{}outline.svg", c.page), svg.as_bytes())?;
        }
        let unmapped = m.unmapped_set();
        let pages: Vec<Result<(String, Vec<u8>)>> = m
            .regions
            .par_iter()
            .map(|region| {
                let mut map = map::MapWidget::new(
                    m.map_config.as_ref(),
                    Some((&region.slug, &region.name)),
                    m.region_maps.get(&region.slug).cloned(),
                );
                map.caption = "Each shape links to the municipality's page; the colour is its provider category. Municipalities without a boundary are only in the list below.".into();
                let html = render::minify(&render::region(model, c, region, &unmapped, &m.districts, map)?);
                Ok((format!("{}{}/index.html", c.page, region.slug), html))
            })
            .collect();
        for page in pages {
            let (path, bytes) = page?;
            out.put(&path, &bytes)?;
            report.region_pages += 1;
        }
    }
    report.bytes += out.bytes;
    tracing::info!(
        "overview, country and region pages at {:.1}s",
        start.elapsed().as_secs_f64()
    );
    // Lookups many pages would repeat are printed once under dns/ (see shared_dns).
    let shared = shared_dns::SharedDns::collect(model);
    let before = out.bytes;
    for (path, html) in shared.pages(&model.meta)? {
        out.put(&path, &render::minify(&html))?;
    }
    report.bytes += out.bytes - before;
    tracing::info!(
        "{} shared DNS lookups printed once under dns/",
        shared.len()
    );
    let (pages, bytes) = render::write_municipality_pages(model, &maps, &dir, &shared, places)?;
    tracing::info!(
        "municipality pages at {:.1}s",
        start.elapsed().as_secs_f64()
    );
    report.municipality_pages = pages;
    report.bytes += bytes;

    // Every page in data.json must exist before the site is published.
    let missing: Vec<&str> = model
        .records
        .iter()
        .filter(|r| !dir.join(&r.page).join("index.html").is_file())
        .map(|r| r.page.as_str())
        .take(5)
        .collect();
    if !missing.is_empty() {
        bail!("pages missing after rendering, e.g. {missing:?}");
    }
    staging.commit()?;
    tracing::info!(
        "swapped in at {:.1}s, {} MB resident",
        start.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The assets, schemas and data files (everything that needs no map), streamed.
fn write_data_files(model: &SiteModel, out: &mut Out) -> Result<()> {
    for (path, bytes) in [
        ("assets/style.css", STYLE.as_bytes()),
        ("favicon.svg", FAVICON.as_bytes()),
        ("assets/table.js", TABLE_JS.as_bytes()),
        ("schema/data.schema.json", data::DATA_SCHEMA.as_bytes()),
        (
            "schema/countries.schema.json",
            data::COUNTRIES_SCHEMA.as_bytes(),
        ),
        ("schema/index.html", schema_index().as_bytes()),
        (".nojekyll", b""),
    ] {
        out.put(path, bytes)?;
    }
    // Every data file is streamed by its own task; they are recorded in a fixed order.
    type Fill<'a> = Box<dyn Fn(&mut dyn std::io::Write) -> Result<()> + Send + Sync + 'a>;
    let mut jobs: Vec<(String, usize, Fill)> = vec![
        (
            "data.json".into(),
            model.records.len(),
            Box::new(|w| Ok(data::write_data_json(&model.records, w)?)),
        ),
        (
            "data.csv".into(),
            model.records.len(),
            Box::new(|w| data::write_data_csv(&model.records, w)),
        ),
    ];
    // Per country: the rows of data.csv. The JSON records are in data.json only: a
    // second copy per country was a ninth of the site (issue 14's budget), and
    // site.md's per-country download is the CSV.
    for c in &model.countries {
        let code = c.country.code;
        let records = move || c.records.iter().map(|&i| &model.records[i]);
        let n = c.records.len();
        jobs.push((
            format!("data/{code}.csv"),
            n,
            Box::new(move |w| data::write_data_csv(records(), w)),
        ));
    }
    // Every discovered domain with its evidence, for maintainers to confirm or reject.
    let review_rows = model.records.iter().filter(|r| r.is_discovered()).count();
    jobs.push((
        "data/review.csv".into(),
        review_rows,
        Box::new(|w| data::write_review_csv(&model.records, w)),
    ));
    let dir = out.dir;
    let written: Vec<Result<data::Download>> = jobs
        .par_iter()
        .map(|(path, rows, fill)| stream_file(dir, path, Some(*rows), fill))
        .collect();
    // The downloads page lists Europe's files first, then the countries'.
    let mut written = written.into_iter();
    for download in written.by_ref().take(2) {
        out.record(download?);
    }
    out.put_download(
        "countries.json",
        &data::countries_json(model),
        Some(model.countries.len()),
    )?;
    out.put_download(
        "data/kpi.json",
        &data::kpi_json(model),
        Some(model.countries.len() + 1),
    )?;
    // The list's timestamp is the newest observation, so an unchanged scan gives a
    // byte-identical list.
    let scanned = model
        .records
        .iter()
        .filter_map(|r| r.scanned_at)
        .max()
        .unwrap_or(0);
    out.put_download(
        "data/starttls-policy.json",
        security::starttls_policy_json(model, scanned).as_bytes(),
        None,
    )?;
    for download in written {
        out.record(download?);
    }
    Ok(())
}

/// Writes files into the staging folder as they are produced, and keeps the facts of
/// the data files (size, SHA-256, rows) for the downloads page.
struct Out<'a> {
    dir: &'a Path,
    bytes: u64,
    downloads: Vec<data::Download>,
}

impl Out<'_> {
    /// Writes `bytes` at `path` (relative to the site root).
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.bytes += bytes.len() as u64;
        match path.strip_suffix("index.html") {
            Some(page) if page.ends_with('/') => write_page(self.dir, page, bytes),
            _ => write_file(&self.dir.join(path), bytes),
        }
    }

    /// Writes a data file whole and lists it as a download.
    fn put_download(&mut self, path: &str, bytes: &[u8], rows: Option<usize>) -> Result<()> {
        use sha2::{Digest, Sha256};
        self.put(path, bytes)?;
        self.downloads.push(data::Download {
            path: path.to_string(),
            rows,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
        Ok(())
    }

    /// Lists a data file written by [`stream_file`] as a download.
    fn record(&mut self, download: data::Download) {
        self.bytes += download.bytes;
        self.downloads.push(download);
    }
}

/// Writes the data file at `path` (relative to `dir`) through `fill`, buffered, without
/// holding it whole; returns its facts for the downloads page.
fn stream_file(
    dir: &Path,
    path: &str,
    rows: Option<usize>,
    fill: impl Fn(&mut dyn std::io::Write) -> Result<()>,
) -> Result<data::Download> {
    use anyhow::Context;
    use sha2::{Digest, Sha256};
    use std::io::Write;
    /// Hashes and counts what passes through.
    struct Hashing<W> {
        inner: W,
        hasher: Sha256,
        bytes: u64,
    }
    impl<W: Write> Write for Hashing<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.bytes += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let file_path = dir.join(path);
    if let Some(parent) = file_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = std::fs::File::create(&file_path)
        .with_context(|| format!("cannot create {}", file_path.display()))?;
    let mut writer = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    fill(&mut writer).with_context(|| format!("cannot write {}", file_path.display()))?;
    writer
        .flush()
        .with_context(|| format!("cannot write {}", file_path.display()))?;
    Ok(data::Download {
        path: path.to_string(),
        rows,
        bytes: writer.bytes,
        sha256: hex::encode(writer.hasher.finalize()),
    })
}

/// Search, A–Z, providers, downloads, 404, robots.txt and the sitemaps.
fn finding_pages(
    model: &SiteModel,
    maps: &map::Maps,
    downloads: &[data::Download],
    places: &places::Places,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![
        (
            "search/index.html".to_string(),
            render::minify(&search::search(model)?),
        ),
        ("search/search.js".into(), SEARCH_JS.as_bytes().to_vec()),
        (
            "a-z/index.html".into(),
            render::minify(&pages::az_root(model)?),
        ),
        ("404.html".into(), render::minify(&pages::not_found(model)?)),
        (
            "about/index.html".into(),
            render::minify(&pages::about(model)?),
        ),
        ("robots.txt".into(), pages::robots(&model.meta)),
        (
            "changes/index.html".into(),
            render::minify(&changes::page(model)?),
        ),
        ("changes/feed.xml".into(), changes::feed(model)),
        ("changes/feed.json".into(), changes::json_feed(model)),
    ];
    files.extend(search::search_shards(model, places));
    for (path, html) in changes::run_pages(model)? {
        files.push((path, render::minify(&html)));
    }
    files.push((
        "data/index.html".into(),
        render::minify(&pages::downloads(model, downloads)?),
    ));
    let az: Vec<Result<Vec<(String, String)>>> = (0..model.countries.len())
        .into_par_iter()
        .map(|i| pages::country_az(model, i))
        .collect();
    for pages in az {
        files.extend(
            pages?
                .into_iter()
                .map(|(path, html)| (path, render::minify(&html))),
        );
    }
    let providers = pages::provider_pages(model, crate::classify::catalog::Catalog::embedded())?;
    files.par_extend(
        providers
            .into_par_iter()
            .map(|(path, html)| (path, render::minify(&String::from_utf8_lossy(&html)))),
    );
    let regions: Vec<(String, Vec<String>)> = model
        .countries
        .iter()
        .zip(&maps.countries)
        .map(|(c, m)| {
            (
                c.country.code.to_string(),
                m.regions.iter().map(|r| r.slug.clone()).collect(),
            )
        })
        .collect();
    files.extend(pages::sitemaps(model, &regions));
    Ok(files)
}

/// Build-time integrity: unique pages, counts that add up.
fn check_integrity(model: &SiteModel) -> Result<()> {
    let mut pages = HashSet::new();
    for r in &model.records {
        if !pages.insert(r.page.as_str()) {
            bail!(
                "two municipalities would share the page {} (id {})",
                r.page,
                r.id
            );
        }
    }
    for c in &model.countries {
        let s = &c.stats;
        let by_cat: usize = s.by_category.values().sum();
        let by_provider: usize = s.providers.iter().map(|p| p.count).sum();
        if by_cat != s.municipalities
            || by_provider != s.municipalities
            || c.records.len() != s.municipalities
        {
            bail!(
                "counts of {} do not add up ({by_cat} by category, {by_provider} by provider, {} total)",
                c.country.code,
                s.municipalities
            );
        }
    }
    Ok(())
}

fn schema_index() -> String {
    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"../favicon.svg\" type=\"image/svg+xml\"><title>mxmap schemas</title>\
     <h1>JSON Schemas</h1><ul><li><a href=\"data.schema.json\">data.schema.json</a> (data.json)</li>\
     <li><a href=\"countries.schema.json\">countries.schema.json</a> (countries.json)</li></ul></html>"
        .to_string()
}
