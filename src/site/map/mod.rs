//! Maps without JavaScript: inline SVG drawn by mxmap from the TopoJSON boundaries.
//!
//! Per country: every municipality joined to its polygon (by OSM relation id, else by
//! a unique name), filled with its category colour, linked to its page, with a
//! `<title>` tooltip; a region view coloured by the dominant category; a background of
//! the whole territory; a standalone outline for the locator maps of municipality
//! pages; and `map.geojson` with the verdicts for other tools. For Europe: one shape
//! per country coloured by its US-hyperscaler share. Municipalities without a shape
//! are listed with the reason, never dropped silently.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;

use super::model::{CountryModel, SiteModel, pct};
use crate::classify::Category;
use crate::geo::{self, Frame, Projection};
use crate::seeds::Municipality;

mod europe;
mod files;
mod geometry;
pub mod level_geo;
pub mod levels;
mod stats;
mod svg;
mod widget;

pub use europe::{
    ClassifiedShare, europe_grades_map, europe_share_map, good_class, share_class, share_legend,
};
pub use files::ASSETS;
use geometry::*;
use stats::*;
use svg::*;
pub use widget::MapWidget;

/// ViewBox width of country maps.
const WIDTH: f64 = 1000.0;
/// ViewBox width of locator maps' outline.
const LOCATOR_WIDTH: f64 = 300.0;
/// Largest viewBox of a region map: its municipalities at a scale of their own, so a
/// small region keeps the detail the country map had to simplify away.
const REGION_WIDTH: f64 = 640.0;
const REGION_HEIGHT: f64 = 720.0;
/// Above this many shapes a region map is drawn coarser and its tooltips carry only
/// the name (the colour and the legend carry the category).
const REGION_MANY_SHAPES: usize = 500;
/// Path-data budget of a municipality map: enough detail for small countries, and
/// Germany's ten thousand shapes fit its page budget.
const PATH_BUDGET_PER_SHAPE: usize = 60;
const PATH_BUDGET_MIN: usize = 40_000;
const PATH_BUDGET_MAX: usize = 420_000;
/// Above this many linked shapes, tooltips carry only the name (the colour and the
/// legend carry the category) to keep the page within its size budget.
const SHORT_TITLES_ABOVE: usize = 3000;
/// Countries whose municipality file is known to cover only part of the country: their
/// background and Europe shape come from the region file.
const PARTIAL_MUNICIPALITY_FILES: [&str; 2] = ["it", "es"];
/// Features that are not land (e.g. German coastal waters) and must not be drawn as
/// territory.
const NOT_TERRITORY: [&str; 1] = ["Küstengewässer"];
/// Europe map frame (lon/lat) and projection.
const EUROPE_BBOX: [f64; 4] = [-25.0, 34.0, 50.5, 71.5];
/// Sequential classes of the Europe map (share of US hyperscalers, %).
pub const SHARE_CLASSES: [(f64, &str); 5] = [
    (20.0, "s0"),
    (40.0, "s1"),
    (60.0, "s2"),
    (80.0, "s3"),
    (100.01, "s4"),
];

/// Why a municipality has no shape on its country map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmapped {
    /// No boundary file for the country.
    NoFile,
    /// The seed has no OSM relation id and no feature has its name.
    NoId,
    /// The seed's OSM relation is not in the boundary file.
    NotInFile,
    /// The polygon lies outside the map frame (overseas territory).
    Overseas,
}

impl Unmapped {
    /// Plain-language reason.
    pub fn reason(self) -> &'static str {
        match self {
            Unmapped::NoFile => "no boundary file for this country",
            Unmapped::NoId => "no OSM relation id in the seed, and no boundary with its name",
            Unmapped::NotInFile => "its OSM relation is not in the boundary file",
            Unmapped::Overseas => "outside the mainland map frame (overseas)",
        }
    }
}

/// A region of the region view and its league-table row.
#[derive(Debug, Clone)]
pub struct RegionStat {
    /// Region name (from the seeds).
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Municipalities.
    pub count: usize,
    /// Classified municipalities.
    pub classified: usize,
    /// Municipalities per category (only categories present).
    pub by_category: BTreeMap<Category, usize>,
    /// Dominant category and its count.
    pub dominant: (Category, usize),
    /// US hyperscalers.
    pub us: usize,
    /// Domestic providers.
    pub domestic: usize,
    /// Municipalities with a measured grade.
    pub graded: usize,
    /// Of those, graded B or better.
    pub good: usize,
    /// Record indices, by name.
    pub records: Vec<usize>,
}

/// Everything drawn for one country.
#[derive(Debug, Default)]
pub struct CountryMaps {
    /// Municipality map (inline SVG), when there is a boundary file.
    pub municipalities_svg: Option<String>,
    /// Region map (inline SVG).
    pub regions_svg: Option<String>,
    /// Municipality map coloured by security grade, for `{cc}/security/` (inline SVG).
    pub grades_svg: Option<String>,
    /// Municipalities joined to a boundary (drawn or not).
    pub joined: usize,
    /// Linked municipality shapes drawn.
    pub shapes: usize,
    /// Records without a shape, with the reason.
    pub unmapped: Vec<(usize, Unmapped)>,
    /// What the boundary data covers, in one sentence.
    pub coverage: String,
    /// `file: N polygons, skipped …`.
    pub layer_summary: Option<String>,
    /// `map.geojson` bytes.
    pub geojson: Option<Vec<u8>>,
    /// Standalone outline SVG for locator maps.
    pub outline_svg: Option<String>,
    /// Locator map per record index.
    pub locators: HashMap<usize, String>,
    /// Regions with their statistics.
    pub regions: Vec<RegionStat>,
    /// Map of a region's municipalities by provider category (inline SVG), by region
    /// slug; links are relative to the region page.
    pub region_maps: HashMap<String, String>,
    /// Path of this country's shape on the Europe map (Europe frame).
    pub europe_path: Option<String>,
    /// The page's static map at the level that fits it (see [`level_geo`]).
    pub level_svg: Option<String>,
    /// The finest level as a file of its own (`{cc}/map.svg`), when the page carries a
    /// coarser one.
    pub full_svg: Option<String>,
    /// Which level the map draws and why.
    pub level_note: String,
    /// The interactive map's configuration (paths relative to the site root).
    pub map_config: Option<serde_json::Value>,
    /// The interactive map's data files.
    pub map_files: Vec<(String, Vec<u8>)>,
    /// Municipalities and population on the finest level, and its name.
    pub drawn: Option<(usize, u64, &'static str)>,
    /// Each municipality's district, from the district file (empty without one).
    pub districts: level_geo::Districts,
}

impl CountryMaps {
    /// Record indices without a shape.
    pub fn unmapped_set(&self) -> std::collections::HashSet<usize> {
        self.unmapped.iter().map(|(i, _)| *i).collect()
    }

    /// Share of the country's municipalities joined to a boundary.
    pub fn join_rate(&self, municipalities: usize) -> f64 {
        pct(self.joined, municipalities)
    }
}

/// All maps of a build.
pub struct Maps {
    /// Per country, in model order.
    pub countries: Vec<CountryMaps>,
    /// The Europe map (inline SVG).
    pub europe_svg: String,
    /// The Europe map coloured by the share graded B or better, for `security/`.
    pub europe_grades_svg: String,
    /// The interactive Europe map's configuration.
    pub europe_config: serde_json::Value,
    /// The interactive Europe map's data files.
    pub europe_files: Vec<(String, Vec<u8>)>,
}

/// Everything of the maps that comes from the boundary files and the seed list alone:
/// projected, simplified and encoded paths, outlines, joins. It is the expensive part
/// (Germany's eleven thousand shapes) and depends on no verdict, so the pipeline draws
/// it on its own thread while the scan or the cache replay runs; [`build`] then only
/// colours and links it.
pub struct Geometry {
    countries: HashMap<&'static str, CountryGeometry>,
}

/// The geometry of one country.
struct CountryGeometry {
    /// `file: N polygons, skipped …`.
    layer_summary: Option<String>,
    /// What could be drawn.
    status: Drawable,
    /// The country's shape on the Europe map.
    europe_path: Option<String>,
    /// The levels of the interactive map and the page's static map.
    levels: level_geo::CountryLevels,
    /// The country's outline in lon/lat, for the interactive Europe map.
    europe_outline: Option<geo::Outline>,
}

enum Drawable {
    /// No (usable) boundary file.
    NoFile,
    /// A boundary file without polygons in the frame.
    NoPolygon,
    /// Drawn.
    Drawn(Box<Drawn>),
}

struct Drawn {
    /// Per seed id: the feature it is joined to and drawn as, or why not.
    joins: HashMap<String, Result<usize, Unmapped>>,
    /// ViewBox of the country maps.
    view_box: (f64, f64),
    /// The whole territory, under the municipalities.
    background: String,
    /// Path per drawn feature, at the detail the page budget allows.
    paths: HashMap<usize, String>,
    /// Path per region name (from the region file, or dissolved from its members).
    region_paths: HashMap<String, String>,
    /// Per region slug: its municipalities drawn in a frame of their own.
    region_views: HashMap<String, RegionView>,
    /// ViewBox of the locator maps.
    locator_box: (f64, f64),
    /// Standalone outline for the locator maps.
    outline_svg: String,
    /// Path per drawn feature at locator scale.
    locator_paths: HashMap<usize, String>,
    /// GeoJSON geometry per drawn feature, serialised.
    geojson: HashMap<usize, Box<serde_json::value::RawValue>>,
    /// The municipality file covers only part of the country.
    partial: bool,
}

/// A region's municipalities in a frame fitted to them.
struct RegionView {
    view_box: (f64, f64),
    /// Path per feature.
    paths: HashMap<usize, String>,
}

impl Geometry {
    /// Loads the boundary files of every country of `municipalities` (the seeds: only
    /// their ids, names, regions and OSM relations are used) from `geodata` and draws
    /// their geometry, in parallel over countries.
    pub fn prepare(municipalities: &[Municipality], geodata: &Path) -> Geometry {
        let mut by_country: BTreeMap<&'static str, Vec<&Municipality>> = BTreeMap::new();
        for m in municipalities {
            by_country.entry(m.country.code).or_default().push(m);
        }
        let europe = europe_frame();
        let countries = by_country
            .into_par_iter()
            .map(|(code, places)| (code, country_geometry(code, &places, geodata, &europe)))
            .collect();
        Geometry { countries }
    }
}

fn europe_frame() -> Frame {
    Frame::fit(Projection::EUROPE, EUROPE_BBOX, WIDTH, 4.0)
}

/// Colours and links the prepared geometry by the model's verdicts: every map of the
/// site. Countries the geometry was not prepared for are drawn without a map.
pub fn build(model: &SiteModel, mut geometry: Geometry) -> Maps {
    let mut prepared: Vec<Option<CountryGeometry>> = model
        .countries
        .iter()
        .map(|c| geometry.countries.remove(c.country.code))
        .collect();
    let outlines: Vec<Option<geo::Outline>> = prepared
        .iter_mut()
        .map(|g| g.as_mut().and_then(|g| g.europe_outline.take()))
        .collect();
    let outline_refs: Vec<Option<&geo::Outline>> = outlines.iter().map(Option::as_ref).collect();
    let (europe_files, europe_config) = files::europe_files(model, &outline_refs);
    let countries: Vec<CountryMaps> = model
        .countries
        .par_iter()
        .zip(prepared)
        .map(|(c, g)| country_maps(model, c, g))
        .collect();
    let europe_svg = europe_share_map(model, &countries, ClassifiedShare::UsHyperscaler);
    let europe_grades_svg = europe_grades_map(model, &countries, "../");
    Maps {
        countries,
        europe_svg,
        europe_grades_svg,
        europe_config,
        europe_files,
    }
}

fn country_maps(
    model: &SiteModel,
    c: &CountryModel,
    geometry: Option<CountryGeometry>,
) -> CountryMaps {
    let mut maps = CountryMaps {
        regions: region_stats(model, c),
        ..CountryMaps::default()
    };
    let (status, layer_summary, europe_path, levels) = match geometry {
        Some(g) => (g.status, g.layer_summary, g.europe_path, g.levels),
        None => (Drawable::NoFile, None, None, Default::default()),
    };
    let region_slugs: HashMap<&str, &str> = maps
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.slug.as_str()))
        .collect();
    let region_slug = |name: &str| region_slugs.get(name).map(|s| s.to_string());
    if !levels.levels.is_empty() {
        let (files, config) = files::country_files(model, c, &levels, &region_slug);
        maps.map_files = files;
        maps.map_config = Some(config);
        maps.level_note = levels.note.clone();
        maps.districts = levels.districts();
        maps.drawn = levels
            .finest()
            .map(|l| (l.drawn, l.drawn_population, l.kind.slug()));
    }
    maps.layer_summary = layer_summary;
    maps.europe_path = europe_path;
    let g = match status {
        Drawable::NoFile => {
            maps.unmapped = c.records.iter().map(|&i| (i, Unmapped::NoFile)).collect();
            maps.coverage = format!(
                "There is no boundary file for {}, so no map can be drawn; the table lists every municipality.",
                c.country.name
            );
            return maps;
        }
        Drawable::NoPolygon => {
            maps.unmapped = c.records.iter().map(|&i| (i, Unmapped::NoFile)).collect();
            maps.coverage = format!("The boundary file of {} holds no polygon.", c.country.name);
            return maps;
        }
        Drawable::Drawn(g) => g,
    };

    let mut joined: Vec<(usize, usize)> = Vec::new(); // (record, feature)
    for &i in &c.records {
        // A record the geometry was not prepared for (not in the seed list it was
        // drawn from) cannot be placed.
        match g
            .joins
            .get(&model.records[i].id)
            .copied()
            .unwrap_or(Err(Unmapped::NotInFile))
        {
            Ok(f) => joined.push((i, f)),
            Err(why) => maps.unmapped.push((i, why)),
        }
    }
    maps.shapes = joined.len();
    maps.joined = joined.len()
        + maps
            .unmapped
            .iter()
            .filter(|(_, why)| *why == Unmapped::Overseas)
            .count();

    let short_titles = joined.len() > SHORT_TITLES_ABOVE;
    maps.municipalities_svg = Some(municipality_svg(
        model,
        c,
        &joined,
        &g.paths,
        &g.background,
        g.view_box,
        short_titles,
    ));
    maps.grades_svg = Some(grades_svg(
        model,
        c,
        &joined,
        &g.paths,
        &g.background,
        g.view_box,
    ));
    maps.regions_svg = region_svg(c, &maps.regions, &g.region_paths, g.view_box, &g.background);
    let feature_of: HashMap<usize, usize> = joined.iter().copied().collect();
    for region in &maps.regions {
        let Some(view) = g.region_views.get(&region.slug) else {
            continue;
        };
        let members: Vec<(usize, usize)> = region
            .records
            .iter()
            .filter_map(|&i| feature_of.get(&i).map(|&f| (i, f)))
            .collect();
        if members.is_empty() {
            continue;
        }
        let (w, h) = view.view_box;
        let title = format!("Municipalities of {} by provider category", region.name);
        maps.region_maps.insert(
            region.slug.clone(),
            category_svg(
                model,
                &members,
                &view.paths,
                None,
                (&format!("0 0 {w:.0} {h:.0}"), "map zoomed"),
                ("rgmap-title", &title),
                "../m/",
                members.len() > REGION_MANY_SHAPES,
            ),
        );
    }
    maps.coverage = coverage(c.country, &maps, c.records.len(), g.partial);

    let (lw, lh) = g.locator_box;
    for &(i, f) in &joined {
        let r = &model.records[i];
        maps.locators.insert(
            i,
            format!(
                "<svg class=\"locator\" viewBox=\"0 0 {lw:.0} {lh:.0}\" role=\"img\" aria-label=\"{}\"><image href=\"../../outline.svg\" width=\"{lw:.0}\" height=\"{lh:.0}\"/><path class=\"hl\" d=\"{}\"/></svg>",
                esc(&format!("Location of {} in {}", r.name, c.country.name)),
                g.locator_paths[&f]
            ),
        );
    }
    maps.geojson = Some(geojson(model, &g.geojson, &joined));
    maps.outline_svg = Some(g.outline_svg);
    let by_id: HashMap<&str, usize> = c
        .records
        .iter()
        .map(|&i| (model.records[i].id.as_str(), i))
        .collect();
    let draw = |level: &level_geo::LevelGeo, standalone: bool| {
        level_svg(
            model,
            c,
            level,
            &by_id,
            &region_slug,
            g.view_box,
            &g.background,
            standalone,
        )
    };
    if let Some(inline) = levels.levels.get(levels.inline) {
        maps.level_svg = Some(draw(inline, false));
        if levels.inline != levels.finest
            && let Some(finest) = levels.finest()
        {
            maps.full_svg = Some(draw(finest, true));
        }
    }
    maps
}

/// Escapes text for SVG/HTML content and attribute values, with the same rules as the
/// templates (controls made visible, see [`super::escape`]).
pub fn esc(text: &str) -> String {
    use askama::filters::Escaper;
    let mut out = String::with_capacity(text.len());
    // Writing into a String cannot fail.
    let _ = super::escape::Html.write_escaped_str(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_share_classes() {
        assert_eq!(
            esc("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&#34;x&#34;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
        assert_eq!(share_class(0.0), "s0");
        assert_eq!(share_class(39.9), "s1");
        assert_eq!(share_class(100.0), "s4");
    }
}
