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
use std::fmt::Write as _;
use std::path::Path;

use rayon::prelude::*;

use super::model::{CountryModel, Record, SiteModel, pct};
use super::slug::slugify;
use crate::classify::Category;
use crate::countries::Country;
use crate::geo::{
    self, Feature, Frame, Layer, MERGE_TOLERANCE_M, PathEncoder, Polygon, Projection,
};
use crate::grade::Letter;
use crate::seeds::Municipality;

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
    let prepared: Vec<Option<CountryGeometry>> = model
        .countries
        .iter()
        .map(|c| geometry.countries.remove(c.country.code))
        .collect();
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
    }
}

fn load(path: &Path) -> Option<Layer> {
    if !path.is_file() {
        return None;
    }
    match geo::load_layer(path) {
        Ok(layer) => Some(layer),
        Err(e) => {
            tracing::warn!("map: cannot use {}: {e:#}", path.display());
            None
        }
    }
}

fn is_territory(f: &Feature) -> bool {
    !f.name
        .as_deref()
        .is_some_and(|n| NOT_TERRITORY.iter().any(|p| n.starts_with(p)))
}

fn country_geometry(
    code: &'static str,
    places: &[&Municipality],
    geodata: &Path,
    europe: &Frame,
) -> CountryGeometry {
    let mut geometry = CountryGeometry {
        layer_summary: None,
        status: Drawable::NoFile,
        europe_path: None,
    };
    let Some(layer) = load(&geodata.join(format!("{code}.topo.json"))) else {
        return geometry;
    };
    geometry.layer_summary = Some(layer.summary());
    let regions_layer = load(&geodata.join(format!("{code}.regions.topo.json")));

    // Background (whole territory) and the frame around it: the region file covers
    // what the municipality file misses (Germany's kreisfreie Städte, most of Italy).
    let partial = PARTIAL_MUNICIPALITY_FILES.contains(&code);
    let background_layer = regions_layer.as_ref().unwrap_or(&layer);
    let territory: Vec<&Feature> = background_layer
        .features
        .iter()
        .filter(|f| is_territory(f))
        .collect();
    let Some(frame_bbox) = background_layer.core_bbox(territory.iter().copied(), 400.0) else {
        geometry.status = Drawable::NoPolygon;
        return geometry;
    };
    let frame = Frame::fit(Projection::lambert_for(frame_bbox), frame_bbox, WIDTH, 6.0);
    let inside: Vec<&Feature> = territory
        .iter()
        .copied()
        .filter(|f| overlaps(background_layer.bbox([*f]), frame_bbox))
        .collect();
    let outline = background_layer.outline(inside.iter().copied(), MERGE_TOLERANCE_M);
    let background = PathEncoder::new(&outline, &frame, 1.0, 0).path(&outline.polygons);

    // Join seeds to features.
    let by_name = name_index(&layer);
    let by_relation: HashMap<u64, usize> = layer
        .features
        .iter()
        .enumerate()
        .rev() // the first feature of a relation wins
        .filter_map(|(i, f)| f.osm_relation.map(|r| (r, i)))
        .collect();
    let mut joins: HashMap<String, Result<usize, Unmapped>> = HashMap::new();
    for place in places {
        let feature = match place.osm_relation_id {
            Some(rel) => by_relation.get(&rel).copied().ok_or(Unmapped::NotInFile),
            None => by_name
                .get(&slugify(&place.name))
                .copied()
                .flatten()
                .ok_or(Unmapped::NoId),
        };
        let joined = match feature {
            Ok(f) if overlaps(layer.bbox([&layer.features[f]]), frame_bbox) => Ok(f),
            Ok(_) => Err(Unmapped::Overseas),
            Err(why) => Err(why),
        };
        joins.insert(place.id.clone(), joined);
    }

    // Municipality paths, one per feature, at the detail the budget allows.
    let mut features: Vec<usize> = joins.values().filter_map(|j| j.ok()).collect();
    features.sort_unstable();
    features.dedup();
    let budget = (features.len() * PATH_BUDGET_PER_SHAPE).clamp(PATH_BUDGET_MIN, PATH_BUDGET_MAX);
    let detail = geo::fit_budget(
        &layer,
        &frame,
        features.iter().map(|&f| &layer.features[f]),
        budget,
    );
    let mut encoder = PathEncoder::new(&layer, &frame, detail.tolerance, detail.decimals);
    let paths: HashMap<usize, String> = features
        .iter()
        .map(|&f| (f, encoder.feature_path(&layer.features[f])))
        .collect();
    let regions = region_groups(
        places
            .iter()
            .filter_map(|p| p.region.as_deref().map(|r| (r, *p))),
    );
    let region_paths = region_paths(&regions, &layer, regions_layer.as_ref(), &frame);
    let region_views = region_views(&regions, &joins, &layer);

    // Locator maps share one outline file per country.
    let locator = Frame::fit(
        Projection::lambert_for(frame_bbox),
        frame_bbox,
        LOCATOR_WIDTH,
        3.0,
    );
    let (lw, lh) = locator.view_box();
    let outline_path = PathEncoder::new(&outline, &locator, 0.8, 0).path(&outline.polygons);
    let outline_svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {lw:.0} {lh:.0}\"><path fill=\"#d9d9e0\" stroke=\"#9a9aa6\" stroke-width=\".6\" d=\"{outline_path}\"/></svg>"
    );
    let mut small = PathEncoder::new(&layer, &locator, 0.4, 1);
    let locator_paths: HashMap<usize, String> = features
        .iter()
        .map(|&f| (f, small.feature_path(&layer.features[f])))
        .collect();
    // Serialising plain coordinates cannot fail; a feature without geometry is
    // written as `null`.
    let geojson = features
        .iter()
        .filter_map(|&f| {
            let geometry = geo::geojson_geometry(&layer, &layer.features[f].polygons, 0.0005, 5)?;
            Some((f, serde_json::value::to_raw_value(&geometry).ok()?))
        })
        .collect();
    geometry.europe_path = europe_shape(code, &layer, regions_layer.as_ref(), europe);
    geometry.status = Drawable::Drawn(Box::new(Drawn {
        joins,
        view_box: frame.view_box(),
        background,
        paths,
        region_paths,
        region_views,
        locator_box: (lw, lh),
        outline_svg,
        locator_paths,
        geojson,
        partial,
    }));
    geometry
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
    let (status, layer_summary, europe_path) = match geometry {
        Some(g) => (g.status, g.layer_summary, g.europe_path),
        None => (Drawable::NoFile, None, None),
    };
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
    maps
}

fn overlaps(bbox: Option<[f64; 4]>, frame: [f64; 4]) -> bool {
    bbox.is_some_and(|b| {
        b[0] <= frame[2] && b[2] >= frame[0] && b[1] <= frame[3] && b[3] >= frame[1]
    })
}

/// Feature index by slugified name; `None` marks ambiguous names (never joined).
fn name_index(layer: &Layer) -> HashMap<String, Option<usize>> {
    let mut index: HashMap<String, Option<usize>> = HashMap::new();
    for (i, f) in layer.features.iter().enumerate() {
        let mut names: Vec<String> = Vec::new();
        for key in [
            "name",
            "name:en",
            "name_en",
            "int_name",
            "name:sr-Latn",
            "name:hy",
            "alt_name",
        ] {
            if let Some(v) = f.properties.get(key).and_then(|v| v.as_str())
                && !v.is_empty()
            {
                names.push(slugify(v));
            }
        }
        names.sort();
        names.dedup();
        for n in names {
            index
                .entry(n)
                .and_modify(|e| {
                    if *e != Some(i) {
                        *e = None;
                    }
                })
                .or_insert(Some(i));
        }
    }
    index
}

fn coverage(country: &Country, maps: &CountryMaps, total: usize, partial: bool) -> String {
    let rate = pct(maps.shapes, total);
    let mut text = format!(
        "{} of {} municipalities ({rate:.1} %) are drawn on the map.",
        maps.shapes, total
    );
    let overseas = maps.joined - maps.shapes;
    if overseas > 0 {
        let _ = write!(
            text,
            " {overseas} lie outside the mainland frame (overseas)."
        );
    }
    let note = match country.code {
        "it" | "es" => Some(
            "The boundary file covers only an older, shorter list of municipalities; the background shows the regions.",
        ),
        "ua" => Some(
            "The boundary file holds oblasts while the seed lists raions, so raions cannot be placed.",
        ),
        "az" => Some("The boundary file holds a single polygon for the whole country."),
        "rs" | "am" => Some(
            "Most seed entries carry no OpenStreetMap relation id; they are joined by name where the name is unique.",
        ),
        _ if partial => Some("The boundary file covers only part of the country."),
        _ => None,
    };
    if let Some(note) = note {
        text.push(' ');
        text.push_str(note);
    }
    if !maps.unmapped.is_empty() {
        text.push_str(" Municipalities without a shape are listed below the map.");
    }
    text
}

fn provider_title(r: &Record, short: bool) -> String {
    if short {
        r.name.clone()
    } else {
        format!(
            "{} — {} ({})",
            r.name,
            r.verdict.provider_name,
            r.verdict.category.label()
        )
    }
}

fn municipality_svg(
    model: &SiteModel,
    c: &CountryModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: &str,
    (w, h): (f64, f64),
    short_titles: bool,
) -> String {
    category_svg(
        model,
        joined,
        paths,
        Some(background),
        (&format!("0 0 {w:.0} {h:.0}"), "map"),
        (
            "map-title",
            &format!("Municipalities of {} by provider category", c.country.name),
        ),
        "m/",
        short_titles,
    )
}

/// Municipality shapes grouped and filled by provider category, each linked to
/// `{pages}{slug}/` (`pages`: the way to the country's `m/` folder), over an optional
/// background.
#[allow(clippy::too_many_arguments)]
fn category_svg(
    model: &SiteModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: Option<&str>,
    (view_box, class): (&str, &str),
    (title_id, title): (&str, &str),
    pages: &str,
    short_titles: bool,
) -> String {
    let mut by_category: BTreeMap<Category, Vec<(usize, usize)>> = BTreeMap::new();
    for &(i, f) in joined {
        by_category
            .entry(model.records[i].verdict.category)
            .or_default()
            .push((i, f));
    }
    let mut svg = String::with_capacity(joined.len() * 110 + 512);
    let _ = write!(
        svg,
        "<svg class=\"{class}\" viewBox=\"{view_box}\" role=\"group\" aria-labelledby=\"{title_id}\"><title id=\"{title_id}\">{}</title>",
        esc(title)
    );
    if let Some(background) = background {
        let _ = write!(svg, "<path class=\"bg\" d=\"{background}\"/>");
    }
    for (category, shapes) in by_category {
        let _ = write!(
            svg,
            "<g class=\"f-{0}\" data-category=\"{0}\">",
            category.slug()
        );
        for (i, f) in shapes {
            let r = &model.records[i];
            let Some(d) = paths.get(&f) else { continue };
            let _ = write!(
                svg,
                "<a href=\"{pages}{}/\"><title>{}</title><path d=\"{d}\"/></a>",
                r.slug,
                esc(&provider_title(r, short_titles)),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// The municipality map again, filled by overall grade (links are relative to
/// `{cc}/security/`).
fn grades_svg(
    model: &SiteModel,
    c: &CountryModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: &str,
    (w, h): (f64, f64),
) -> String {
    let mut by_letter: BTreeMap<Letter, Vec<(usize, usize)>> = BTreeMap::new();
    for &(i, f) in joined {
        by_letter
            .entry(model.records[i].grade())
            .or_default()
            .push((i, f));
    }
    let mut svg = String::with_capacity(joined.len() * 90 + background.len() + 512);
    let _ = write!(
        svg,
        "<svg class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"gmap-title\"><title id=\"gmap-title\">Municipalities of {} by security grade</title><path class=\"bg\" d=\"{background}\"/>",
        esc(c.country.name)
    );
    for (letter, shapes) in by_letter {
        let _ = write!(
            svg,
            "<g class=\"f{}\" data-grade=\"{}\">",
            super::security::letter_class(letter),
            letter.as_str()
        );
        for (i, f) in shapes {
            let r = &model.records[i];
            let _ = write!(
                svg,
                "<a href=\"../m/{}/\"><title>{}</title><path d=\"{}\"/></a>",
                r.slug,
                esc(&format!("{} — grade {}", r.name, letter.as_str())),
                paths[&f]
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// Groups items by region name (sorted by name) and gives each group its URL slug:
/// the same slugs for the geometry (from the seeds) and the statistics (from the
/// model), so region shapes and pages line up.
fn region_groups<'a, T>(
    items: impl IntoIterator<Item = (&'a str, T)>,
) -> Vec<(String, String, Vec<T>)> {
    let mut regions: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (region, item) in items {
        regions.entry(region).or_default().push(item);
    }
    let mut groups: Vec<(String, String, Vec<T>)> = regions
        .into_iter()
        .map(|(name, items)| {
            let mut slug = slugify(name);
            if matches!(slug.as_str(), "m" | "a-z" | "security" | "anomalies" | "") {
                slug = format!("region-{slug}");
            }
            (name.to_string(), slug, items)
        })
        .collect();
    // Distinct names can fold to one slug; keep URLs unique.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, slug, _) in &mut groups {
        let n = seen.entry(slug.clone()).or_default();
        *n += 1;
        if *n > 1 {
            *slug = format!("{slug}-{n}");
        }
    }
    groups
}

/// A region of the seeds: name, slug, members.
type RegionGroup<'a> = (String, String, Vec<&'a Municipality>);

fn region_stats(model: &SiteModel, c: &CountryModel) -> Vec<RegionStat> {
    let groups = region_groups(
        c.records
            .iter()
            .filter_map(|&i| model.records[i].region.as_deref().map(|r| (r, i))),
    );
    groups
        .into_iter()
        .map(|(name, slug, records)| {
            let mut counts: BTreeMap<Category, usize> = BTreeMap::new();
            let (mut us, mut domestic, mut classified) = (0, 0, 0);
            let (mut graded, mut good) = (0, 0);
            for &i in &records {
                if let Some(rank) = model.records[i].grade().rank() {
                    graded += 1;
                    good += usize::from(rank >= Letter::B.rank().unwrap_or(u8::MAX));
                }
                let v = &model.records[i].verdict;
                *counts.entry(v.category).or_default() += 1;
                if v.category != Category::Unknown {
                    classified += 1;
                }
                if v.category == Category::UsHyperscaler {
                    us += 1;
                }
                if v.jurisdiction == crate::classify::Jurisdiction::Domestic {
                    domestic += 1;
                }
            }
            let dominant = counts
                .iter()
                .map(|(&c, &n)| (c, n))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((Category::Unknown, 0));
            RegionStat {
                slug,
                name,
                count: records.len(),
                classified,
                by_category: counts,
                dominant,
                us,
                domestic,
                graded,
                good,
                records,
            }
        })
        .collect()
}

/// The shape of every region with two or more regions in the country: from the region
/// file where its name matches, else dissolved from its members' boundaries. Keyed by
/// region name.
fn region_paths(
    groups: &[RegionGroup],
    layer: &Layer,
    regions_layer: Option<&Layer>,
    frame: &Frame,
) -> HashMap<String, String> {
    let mut paths = HashMap::new();
    if groups.len() < 2 {
        return paths;
    }
    let region_names: HashMap<String, usize> = regions_layer
        .map(|rl| {
            rl.features
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.name.as_deref().map(|n| (slugify(n), i)))
                .collect()
        })
        .unwrap_or_default();
    let mut region_encoder = regions_layer.map(|rl| PathEncoder::new(rl, frame, 1.0, 0));
    let mut municipal_encoder = PathEncoder::new(layer, frame, 1.0, 0);
    let relation_index: HashMap<u64, usize> = layer
        .features
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.osm_relation.map(|r| (r, i)))
        .collect();
    for (name, slug, members) in groups {
        let from_file = region_names.get(slug).copied();
        let d = match (from_file, regions_layer, region_encoder.as_mut()) {
            (Some(i), Some(rl), Some(enc)) => enc.feature_path(&rl.features[i]),
            _ => {
                let members: Vec<&Feature> = members
                    .iter()
                    .filter_map(|m| m.osm_relation_id)
                    .filter_map(|rel| relation_index.get(&rel).map(|&f| &layer.features[f]))
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let polygons: Vec<Polygon> = layer.dissolve(members);
                municipal_encoder.path(&polygons)
            }
        };
        if !d.is_empty() {
            paths.insert(name.clone(), d);
        }
    }
    paths
}

/// Every region's municipalities in a frame fitted to them, keyed by region slug.
fn region_views(
    groups: &[RegionGroup],
    joins: &HashMap<String, Result<usize, Unmapped>>,
    layer: &Layer,
) -> HashMap<String, RegionView> {
    let mut views = HashMap::new();
    for (_, slug, members) in groups {
        let mut features: Vec<usize> = members
            .iter()
            .filter_map(|m| joins.get(&m.id).and_then(|j| j.ok()))
            .collect();
        features.sort_unstable();
        features.dedup();
        let Some(bbox) = layer.bbox(features.iter().map(|&f| &layer.features[f])) else {
            continue;
        };
        let frame = Frame::fit_within(
            Projection::lambert_for(bbox),
            bbox,
            REGION_WIDTH,
            REGION_HEIGHT,
            4.0,
        );
        // Coarser for regions with many shapes (Bavaria has two thousand): the page
        // also lists every municipality. A fixed level, as fitting a byte budget would
        // encode every region several times.
        let tolerance = if features.len() > REGION_MANY_SHAPES {
            1.5
        } else {
            0.8
        };
        let mut encoder = PathEncoder::new(layer, &frame, tolerance, 0);
        let paths = features
            .iter()
            .map(|&f| (f, encoder.feature_path(&layer.features[f])))
            .collect();
        views.insert(
            slug.clone(),
            RegionView {
                view_box: frame.view_box(),
                paths,
            },
        );
    }
    views
}

fn region_svg(
    c: &CountryModel,
    regions: &[RegionStat],
    region_paths: &HashMap<String, String>,
    (w, h): (f64, f64),
    background: &str,
) -> Option<String> {
    if regions.len() < 2 {
        return None;
    }
    let shapes: Vec<(usize, &String)> = regions
        .iter()
        .enumerate()
        .filter_map(|(k, region)| region_paths.get(&region.name).map(|d| (k, d)))
        .collect();
    if shapes.is_empty() {
        return None;
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"rmap-title\"><title id=\"rmap-title\">Regions of {} by dominant provider category</title><path class=\"bg\" d=\"{background}\"/>",
        esc(c.country.name)
    );
    for (k, d) in shapes {
        let r = &regions[k];
        let (cat, n) = r.dominant;
        let _ = write!(
            svg,
            "<a href=\"{}/\"><title>{}</title><path class=\"f-{}\" style=\"fill-opacity:{:.2}\" d=\"{d}\"/></a>",
            r.slug,
            esc(&format!(
                "{}: {} {:.0} % ({n} of {})",
                r.name,
                cat.label(),
                pct(n, r.count),
                r.count
            )),
            cat.slug(),
            0.45 + 0.55 * n as f64 / r.count.max(1) as f64,
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn geojson(
    model: &SiteModel,
    geometries: &HashMap<usize, Box<serde_json::value::RawValue>>,
    joined: &[(usize, usize)],
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Properties<'a> {
        id: &'a str,
        name: &'a str,
        osm_relation_id: Option<u64>,
        domain: Option<&'a str>,
        provider: &'a str,
        provider_name: &'a str,
        category: &'static str,
        jurisdiction: &'static str,
        mx_location: &'static str,
        confidence: u8,
        rule: &'static str,
        scan_status: &'static str,
        page: &'a str,
    }
    #[derive(serde::Serialize)]
    struct GeoFeature<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a str,
        properties: Properties<'a>,
        geometry: Option<&'a serde_json::value::RawValue>,
    }
    // Written feature by feature: the collection as one JSON value would cost hundreds
    // of MB for Germany.
    let mut out = br#"{"type":"FeatureCollection","features":["#.to_vec();
    for (n, &(i, f)) in joined.iter().enumerate() {
        let r = &model.records[i];
        let v = &r.verdict;
        if n > 0 {
            out.push(b',');
        }
        let feature = GeoFeature {
            kind: "Feature",
            id: &r.id,
            properties: Properties {
                id: &r.id,
                name: &r.name,
                osm_relation_id: r.osm_relation_id,
                domain: r.domain.as_ref().map(|d| d.unicode.as_str()),
                provider: &v.provider,
                provider_name: &v.provider_name,
                category: v.category.slug(),
                jurisdiction: v.jurisdiction.slug(),
                mx_location: v.mx_location.slug(),
                confidence: v.confidence,
                rule: v.rule.slug(),
                scan_status: r.status.slug(),
                page: &r.page,
            },
            geometry: geometries.get(&f).map(|g| &**g),
        };
        // Serialising plain structs into memory cannot fail.
        let _ = serde_json::to_writer(&mut out, &feature);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The country's shape on the Europe map.
fn europe_shape(
    code: &str,
    layer: &Layer,
    regions: Option<&Layer>,
    europe: &Frame,
) -> Option<String> {
    let source = match regions {
        Some(r) if PARTIAL_MUNICIPALITY_FILES.contains(&code) => r,
        _ => layer,
    };
    let territory: Vec<&Feature> = source.features.iter().filter(|f| is_territory(f)).collect();
    let core = source.core_bbox(territory.iter().copied(), 400.0)?;
    let inside = territory
        .into_iter()
        .filter(|f| overlaps(source.bbox([*f]), core));
    let outline = source.outline(inside, MERGE_TOLERANCE_M * 3.0);
    let d = PathEncoder::new(&outline, europe, 0.6, 0).path(&outline.polygons);
    (!d.is_empty()).then_some(d)
}

/// Legend of a sequential scale of shares (`class` is [`share_class`] or
/// [`good_class`]): CSS class and range per step.
pub fn share_legend(class: fn(f64) -> &'static str) -> Vec<(&'static str, String)> {
    (0..SHARE_CLASSES.len())
        .map(|i| {
            (
                class((i * 20) as f64),
                format!("{}–{} %", i * 20, (i + 1) * 20),
            )
        })
        .collect()
}

/// Class of a share on the sequential scale.
pub fn share_class(share_pct: f64) -> &'static str {
    SHARE_CLASSES
        .iter()
        .find(|(upper, _)| share_pct < *upper)
        .map(|(_, c)| *c)
        .unwrap_or("s4")
}

/// A Europe map with one shape per country, linked to `link(country)`, filled and
/// titled by `measure(country)` (CSS class, tooltip).
fn europe_choropleth(
    model: &SiteModel,
    countries: &[CountryMaps],
    (id, title): (&str, &str),
    link: impl Fn(&CountryModel) -> String,
    measure: impl Fn(&CountryModel) -> (&'static str, String),
) -> String {
    let (w, h) = europe_frame().view_box();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"map europe\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"{id}\"><title id=\"{id}\">{title}</title>"
    );
    for (c, maps) in model.countries.iter().zip(countries) {
        let Some(d) = &maps.europe_path else { continue };
        let (class, tooltip) = measure(c);
        let _ = write!(
            svg,
            "<a href=\"{}\"><title>{}</title><path class=\"{class}\" d=\"{d}\"/></a>",
            link(c),
            esc(&tooltip),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What a Europe share map counts among each country's classified municipalities.
#[derive(Debug, Clone, Copy)]
pub enum ClassifiedShare {
    /// On Microsoft, Google or Amazon (reds: more is worse).
    UsHyperscaler,
    /// With a provider seated in the same country (greens).
    Domestic,
}

/// The Europe map by a share of classified municipalities; links relative to the site
/// root.
pub fn europe_share_map(
    model: &SiteModel,
    countries: &[CountryMaps],
    share: ClassifiedShare,
) -> String {
    type Count = fn(&super::model::Stats) -> usize;
    let (id, what, count, class): (&str, &str, Count, fn(f64) -> &'static str) = match share {
        ClassifiedShare::UsHyperscaler => (
            "emap-title",
            "on US hyperscalers",
            |s| s.us_hyperscaler,
            share_class,
        ),
        ClassifiedShare::Domestic => (
            "edmap-title",
            "with a domestic provider",
            |s| s.domestic,
            good_class,
        ),
    };
    let title = format!("Share of classified municipalities {what}, per country");
    europe_choropleth(
        model,
        countries,
        (id, &title),
        |c| c.page.clone(),
        |c| share_of_classified(c, count(&c.stats), what, class),
    )
}

/// Class and tooltip of a country by `count` out of its classified municipalities.
fn share_of_classified(
    c: &CountryModel,
    count: usize,
    what: &str,
    class: fn(f64) -> &'static str,
) -> (&'static str, String) {
    let share = pct(count, c.stats.classified);
    (
        class(share),
        format!(
            "{}: {share:.0} % {what} ({count} of {} classified)",
            c.country.name, c.stats.classified
        ),
    )
}

/// The Europe map by the share of graded municipalities with grade B or better;
/// countries where nothing could be graded are left unfilled. Links go to each
/// country's security page, relative to `root` (the page's way back to the site root).
pub fn europe_grades_map(model: &SiteModel, countries: &[CountryMaps], root: &str) -> String {
    europe_choropleth(
        model,
        countries,
        (
            "egmap-title",
            "Share of graded municipalities with security grade B or better, per country",
        ),
        |c| format!("{root}{}security/", c.page),
        |c| {
            let s = &c.stats;
            if s.graded == 0 {
                (
                    "nodata",
                    format!("{}: no municipality could be graded", c.country.name),
                )
            } else {
                let share = pct(s.grade_b_or_better, s.graded);
                (
                    good_class(share),
                    format!(
                        "{}: {share:.0} % graded B or better ({} of {} graded)",
                        c.country.name, s.grade_b_or_better, s.graded
                    ),
                )
            }
        },
    )
}

/// Class of a "good" share (grade ≥ B) on the sequential green scale.
pub fn good_class(share_pct: f64) -> &'static str {
    match share_class(share_pct) {
        "s0" => "q0",
        "s1" => "q1",
        "s2" => "q2",
        "s3" => "q3",
        _ => "q4",
    }
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
