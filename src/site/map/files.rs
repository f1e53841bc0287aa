//! The data files of the interactive map, under `data/map/` with content-hashed names
//! (cacheable forever; the pages name the current ones), and the configuration each
//! page hands to `map.js`.
//!
//! Per country, loaded on demand:
//! - `{level}.{hash}.topo.json`: the level's shapes ([`super::level_geo`]);
//! - `{level}.{hash}.json`: per area (same order as the TopoJSON features) its key,
//!   name and link (aggregated levels; a municipality's are in its summary row) and
//!   member rows; aggregated levels also carry their counts
//!   (`[n, classified, us, domestic, graded, good, population, {category: n}, top
//!   provider, its count]`), so the default region view needs no further file;
//! - `summary.{hash}.json`: one compact row per municipality (`[id, name, slug,
//!   provider, confidence, grade, population, region]`, providers as `[name,
//!   category, jurisdiction]` and region names in tables), loaded for the
//!   municipality level, a popup, or a region page's filter;
//! - `detail.{hash}.json`: domain, MX hosts, rule and reason per municipality, loaded
//!   when the first popup opens.
//!
//! For Europe: `europe.{hash}.topo.json` (country outlines) and `europe.{hash}.json`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::super::model::{CountryModel, Record, SiteModel};
use super::level_geo::{CountryLevels, LevelGeo};
use super::levels::LevelKind;
use crate::classify::{Category, Jurisdiction};
use crate::grade::Letter;

/// Leaflet, topojson-client and the map's own script and styles, embedded in the
/// binary (no CDN: the site makes no third-party request).
pub const ASSETS: [(&str, &[u8]); 7] = [
    (
        "assets/vendor/leaflet.js",
        include_bytes!("../../../templates/assets/vendor/leaflet.js"),
    ),
    (
        "assets/vendor/leaflet.css",
        include_bytes!("../../../templates/assets/vendor/leaflet.css"),
    ),
    (
        "assets/vendor/topojson-client.min.js",
        include_bytes!("../../../templates/assets/vendor/topojson-client.min.js"),
    ),
    (
        "assets/vendor/LICENSE-leaflet.txt",
        include_bytes!("../../../templates/assets/vendor/LICENSE-leaflet.txt"),
    ),
    (
        "assets/vendor/LICENSE-topojson-client.txt",
        include_bytes!("../../../templates/assets/vendor/LICENSE-topojson-client.txt"),
    ),
    (
        "assets/map.js",
        include_bytes!("../../../templates/assets/map.js"),
    ),
    (
        "assets/map.css",
        include_bytes!("../../../templates/assets/map.css"),
    ),
];

/// Countries outside the 47 drawn as labelled context on the Europe map (lon, lat of
/// the label): without them Switzerland is an unexplained hole.
pub const CONTEXT: [(&str, f64, f64); 3] = [
    ("Switzerland", 8.2, 46.8),
    ("Vatican City", 12.45, 41.9),
    ("Russia", 37.0, 56.5),
];

/// Fewer classified municipalities than this and an area's shares are marked as a
/// small sample.
pub const SMALL_SAMPLE: usize = 10;

/// `name.{hash}.ext` under `dir`, with the file's bytes.
pub fn hashed(dir: &str, name: &str, ext: &str, bytes: Vec<u8>) -> (String, Vec<u8>) {
    let digest = Sha256::digest(&bytes);
    let hash = hex::encode(&digest[..5]);
    (format!("{dir}{name}.{hash}.{ext}"), bytes)
}

/// Counts of a set of municipalities, as the aggregated areas carry them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AreaCounts {
    /// Municipalities.
    pub n: usize,
    /// Classified (category known).
    pub classified: usize,
    /// On a US hyperscaler.
    pub us: usize,
    /// With a domestic provider.
    pub domestic: usize,
    /// With a measured grade.
    pub graded: usize,
    /// Graded B or better.
    pub good: usize,
    /// Population.
    pub population: u64,
    /// Per category.
    pub categories: BTreeMap<&'static str, usize>,
    /// Most common provider among the classified, and its count.
    pub top: Option<(String, usize)>,
}

impl AreaCounts {
    /// Counts of `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> AreaCounts {
        let mut c = AreaCounts::default();
        let mut providers: HashMap<&str, usize> = HashMap::new();
        for r in records {
            let v = &r.verdict;
            c.n += 1;
            c.population += r.population.unwrap_or(0);
            *c.categories.entry(v.category.slug()).or_default() += 1;
            if v.category != Category::Unknown {
                c.classified += 1;
                *providers.entry(v.provider_name.as_str()).or_default() += 1;
            }
            c.us += usize::from(v.category == Category::UsHyperscaler);
            c.domestic += usize::from(v.jurisdiction == Jurisdiction::Domestic);
            if let Some(rank) = r.grade().rank() {
                c.graded += 1;
                c.good += usize::from(rank >= Letter::B.rank().unwrap_or(u8::MAX));
            }
        }
        c.top = providers
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(p, n)| (p.to_string(), n));
        c
    }

    /// The compact JSON row.
    pub fn row(&self) -> Value {
        let (top, top_n) = self.top.clone().unwrap_or_default();
        json!([
            self.n,
            self.classified,
            self.us,
            self.domestic,
            self.graded,
            self.good,
            self.population,
            self.categories,
            top,
            top_n
        ])
    }
}

/// Everything the map of one country needs: its files and its page configuration
/// (paths relative to the site root).
pub fn country_files(
    model: &SiteModel,
    c: &CountryModel,
    levels: &CountryLevels,
    region_slug: &dyn Fn(&str) -> Option<String>,
) -> (Vec<(String, Vec<u8>)>, Value) {
    let dir = format!("data/map/{}/", c.country.code);
    let row_of: HashMap<&str, usize> = c
        .records
        .iter()
        .enumerate()
        .map(|(k, &i)| (model.records[i].id.as_str(), k))
        .collect();
    let mut files = Vec::new();
    let (summary, detail) = summary_and_detail(model, c);
    let summary = hashed(&dir, "summary", "json", summary);
    let detail = hashed(&dir, "detail", "json", detail);
    let mut level_configs = Vec::new();
    for level in &levels.levels {
        let attrs = level_attrs(model, c, level, &row_of, region_slug);
        let topo = hashed(
            &dir,
            level.kind.slug(),
            "topo.json",
            level.topojson.clone().into_bytes(),
        );
        let attrs = hashed(&dir, level.kind.slug(), "json", attrs);
        level_configs.push(json!({
            "kind": level.kind.slug(),
            "label": level.kind.label(c.country.code),
            "noun": level.kind.noun(),
            "topo": topo.0,
            "attrs": attrs.0,
            "areas": level.areas.len(),
        }));
        files.push(topo);
        files.push(attrs);
    }
    // Spec: the region level first for countries with more than 2,000 municipalities.
    let default = if c.records.len() > 2000 {
        0
    } else {
        levels.finest
    };
    let config = json!({
        "cc": c.country.code,
        "name": c.country.name,
        "page": c.page,
        "levels": level_configs,
        "default": level_configs.get(default).map(|l| l["kind"].clone()),
        "summary": summary.0,
        "detail": detail.0,
        "note": levels.note,
    });
    files.push(summary);
    files.push(detail);
    (files, config)
}

fn level_attrs(
    model: &SiteModel,
    c: &CountryModel,
    level: &LevelGeo,
    row_of: &HashMap<&str, usize>,
    region_slug: &dyn Fn(&str) -> Option<String>,
) -> Vec<u8> {
    let areas: Vec<Value> = level
        .areas
        .iter()
        .map(|a| {
            let rows: Vec<usize> = a
                .members
                .iter()
                .filter_map(|id| row_of.get(id.as_str()).copied())
                .collect();
            let records = rows.iter().map(|&k| &model.records[c.records[k]]);
            match level.kind {
                // Names and links come from the summary rows.
                LevelKind::Municipalities => json!([a.key, null, rows]),
                kind => {
                    let counts = AreaCounts::of(records.clone());
                    let href = match kind {
                        LevelKind::Regions => a.key.strip_prefix("r:").map(|s| format!("{s}/")),
                        _ => majority_region(records)
                            .and_then(|r| region_slug(&r))
                            .map(|s| format!("{s}/")),
                    };
                    json!([a.key, a.name, rows, href, counts.row()])
                }
            }
        })
        .collect();
    serde_json::to_vec(&json!({"kind": level.kind.slug(), "a": areas})).unwrap_or_default()
}

pub(super) fn majority_region<'a>(records: impl Iterator<Item = &'a Record>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        if let Some(region) = r.region.as_deref() {
            *counts.entry(region).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(r, _)| r.to_string())
}

/// The summary rows and the popup details of a country's municipalities.
fn summary_and_detail(model: &SiteModel, c: &CountryModel) -> (Vec<u8>, Vec<u8>) {
    let mut providers: Vec<Value> = Vec::new();
    let mut provider_index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut rows = Vec::with_capacity(c.records.len());
    let mut regions: Vec<&str> = Vec::new();
    let mut region_index: HashMap<&str, usize> = HashMap::new();
    let mut detail = serde_json::Map::new();
    for &i in &c.records {
        let r = &model.records[i];
        let v = &r.verdict;
        let p = *provider_index
            .entry((v.provider.as_str(), v.provider_name.as_str()))
            .or_insert_with(|| {
                providers.push(json!([
                    v.provider_name,
                    v.category.slug(),
                    v.jurisdiction.slug()
                ]));
                providers.len() - 1
            });
        let grade = r.grade();
        let region = r.region.as_deref().map(|name| {
            *region_index.entry(name).or_insert_with(|| {
                regions.push(name);
                regions.len() - 1
            })
        });
        rows.push(json!([
            r.id,
            r.name,
            r.slug,
            p,
            v.confidence,
            grade.as_str(),
            r.population,
            region
        ]));
        let mx: Vec<Value> = r
            .scan
            .as_ref()
            .map(|s| {
                s.hosts
                    .iter()
                    .map(|h| json!([h.preference, h.host.to_string()]))
                    .collect()
            })
            .unwrap_or_default();
        let reason: String = v.reason.chars().take(240).collect();
        detail.insert(
            r.id.clone(),
            json!([
                r.domain.as_ref().map(|d| d.unicode.as_str()),
                mx,
                v.rule.label(),
                reason,
                v.band(),
                v.gateway
            ]),
        );
    }
    (
        serde_json::to_vec(&json!({"p": providers, "g": regions, "r": rows})).unwrap_or_default(),
        serde_json::to_vec(&Value::Object(detail)).unwrap_or_default(),
    )
}

/// The Europe map's files and configuration: one outline per country with its
/// counts, and the context countries.
pub fn europe_files(
    model: &SiteModel,
    outlines: &[Option<&crate::geo::Outline>],
) -> (Vec<(String, Vec<u8>)>, Value) {
    let mut sources: Vec<&dyn crate::geo::Arcs> = Vec::new();
    // Exterior rings only: a country's outline has holes where its boundary file has
    // gaps (Germany's region file around the cities that are their own district).
    let exteriors: Vec<Vec<crate::geo::Polygon>> = outlines
        .iter()
        .map(|o| {
            o.map(|o| {
                o.polygons
                    .iter()
                    .map(|p| crate::geo::Polygon {
                        rings: p.rings.iter().take(1).cloned().collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
        })
        .collect();
    let mut features = Vec::new();
    let mut rows = Vec::new();
    for ((c, outline), polygons) in model.countries.iter().zip(outlines).zip(&exteriors) {
        let Some(outline) = outline else { continue };
        sources.push(*outline as &dyn crate::geo::Arcs);
        features.push(crate::geo::TopoFeature {
            id: c.country.code.to_string(),
            source: sources.len() - 1,
            polygons,
            extra: &[],
        });
        let counts = AreaCounts::of(c.records.iter().map(|&i| &model.records[i]));
        rows.push(json!([
            c.country.code,
            c.country.name,
            [],
            c.page,
            counts.row()
        ]));
    }
    let topo = crate::geo::write_topojson(
        &sources,
        &features,
        crate::geo::TopoDetail {
            tolerance_deg: 0.02,
            step_deg: 0.005,
        },
    );
    let topo = hashed("data/map/", "europe", "topo.json", topo.into_bytes());
    let attrs = hashed(
        "data/map/",
        "europe",
        "json",
        serde_json::to_vec(&json!({"kind": "countries", "a": rows})).unwrap_or_default(),
    );
    let config = json!({
        "cc": "europe",
        "name": "Europe",
        "page": "",
        "levels": [{
            "kind": "countries",
            "label": "Countries",
            "noun": "countries",
            "topo": topo.0,
            "attrs": attrs.0,
            "areas": features.len(),
        }],
        "default": "countries",
        "context": CONTEXT.iter().map(|(n, lon, lat)| json!([n, lon, lat])).collect::<Vec<_>>(),
        "note": "",
    });
    (vec![topo, attrs], config)
}

#[cfg(test)]
mod tests;
