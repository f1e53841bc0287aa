//! Geometry of one country from its boundary files and seeds alone: joins, projected
//! paths, outlines, region shapes, locator maps, GeoJSON, and the levels of the
//! interactive map. Depends on no verdict, so it is prepared while the scan runs.

use std::collections::HashMap;
use std::path::Path;

use super::super::model::SiteModel;
use super::super::slug::slugify;
use super::europe::europe_shape;
use super::*;
use crate::geo::{
    self, Feature, Frame, Layer, MERGE_TOLERANCE_M, PathEncoder, Polygon, Projection,
};
use crate::seeds::Municipality;

pub(super) fn load(path: &Path) -> Option<Layer> {
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

pub(super) fn is_territory(f: &Feature) -> bool {
    !f.name
        .as_deref()
        .is_some_and(|n| NOT_TERRITORY.iter().any(|p| n.starts_with(p)))
}

pub(super) fn country_geometry(
    code: &'static str,
    places: &[&Municipality],
    geodata: &Path,
    europe: &Frame,
) -> CountryGeometry {
    let mut geometry = CountryGeometry {
        layer_summary: None,
        status: Drawable::NoFile,
        europe_path: None,
        levels: Default::default(),
        europe_outline: None,
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
    geometry.levels = super::level_geo::prepare(
        code,
        places,
        geodata,
        &frame,
        (detail.tolerance, detail.decimals),
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
            // 4 decimals (about 11 m) are finer than the 0.0005° (about 50 m) the
            // shapes are simplified to; a fifth digit only added bytes (issue 14).
            let geometry = geo::geojson_geometry(&layer, &layer.features[f].polygons, 0.0005, 4)?;
            Some((f, serde_json::value::to_raw_value(&geometry).ok()?))
        })
        .collect();
    geometry.europe_path = europe_shape(code, &layer, regions_layer.as_ref(), europe);
    geometry.europe_outline = Some(outline);
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

pub(super) fn overlaps(bbox: Option<[f64; 4]>, frame: [f64; 4]) -> bool {
    bbox.is_some_and(|b| {
        b[0] <= frame[2] && b[2] >= frame[0] && b[1] <= frame[3] && b[3] >= frame[1]
    })
}

/// Feature index by slugified name; `None` marks ambiguous names (never joined).
pub(super) fn name_index(layer: &Layer) -> HashMap<String, Option<usize>> {
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

/// The shape of every region with two or more regions in the country: from the region
/// file where its name matches, else dissolved from its members' boundaries. Keyed by
/// region name.
pub(super) fn region_paths(
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
pub(super) fn region_views(
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

pub(super) fn geojson(
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
