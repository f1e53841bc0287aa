//! Boundaries for the maps: TopoJSON in, compact SVG path data and GeoJSON out.
//!
//! The site draws its maps without JavaScript, so every municipality becomes one inline
//! `<path>`. This module turns the boundary files of `geodata/` into those paths:
//!
//! - [`load_layer`] reads a `*.topo.json` file (parsed by the `topojson` crate after a
//!   serde_json pass that drops what the crate or the maps cannot use: `null`
//!   geometries, label points, malformed polygons — each skipped and counted, never fatal);
//! - [`Layer::dissolve`] merges polygons into their outline (a region or a country) on
//!   the topology; [`Layer::outline`] also merges borders that are not shared arcs
//!   (files assembled from parts, like Germany's 16 states);
//! - [`Projection`] and [`Frame`] place lon/lat in an SVG viewBox;
//! - [`PathEncoder`] simplifies each shared arc once per map and writes short relative
//!   path data, so neighbours keep identical borders (no gaps, no slivers);
//!   [`fit_budget`] picks the finest detail that fits a byte budget;
//! - [`geojson_geometry`] exports a feature in lon/lat for the downloadable GeoJSON;
//! - [`write_topojson`] writes the per-level TopoJSON files of the interactive map.
//!
//! Geometry stays topological until the last step: a [`Ring`] is a list of arc
//! references, exactly as in TopoJSON, which is what makes dissolving cheap and keeps
//! shared borders shared through simplification.

mod dissolve;
mod geojson;
mod load;
mod outline;
mod project;
mod simplify;
mod svg;
mod topo_write;

#[cfg(test)]
mod data_tests;

use std::fmt;
use std::path::PathBuf;

pub use geojson::{Geometry, geojson_geometry};
pub use load::{load_layer, parse_layer};
pub use outline::{MERGE_TOLERANCE_M, Outline};
pub use project::{Frame, Projection};
pub use svg::{Detail, PathEncoder, fit_budget, path_bytes};
pub use topo_write::{TopoDetail, TopoFeature, write_topojson};

/// A ring as TopoJSON stores it: arc references in drawing order. A negative reference
/// `r` means arc `!r` (that is `-r - 1`) walked backwards.
pub type Ring = Vec<i64>;

/// A polygon: the first ring is the exterior, any further rings are holes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polygon {
    /// Arc-reference rings; `rings[0]` is the exterior.
    pub rings: Vec<Ring>,
}

/// One mappable unit of a layer (a municipality, region or district) with its polygons.
#[derive(Debug, Clone, Default)]
pub struct Feature {
    /// The TopoJSON `id`, e.g. `relation/2631502`; `None` when absent or empty.
    pub id: Option<String>,
    /// The OSM relation id, from `id` or else `properties.osm_id`, when either reads
    /// `relation/<number>` (seeds join on this).
    pub osm_relation: Option<u64>,
    /// `properties.name`, when present and not empty.
    pub name: Option<String>,
    /// All properties as found in the file.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The feature's polygons (a MultiPolygon has several); never empty for a loaded layer.
    pub polygons: Vec<Polygon>,
}

/// Geometries a load left out, by kind. None of them is an error: TopoJSON allows `null`
/// geometries, and the source files carry OSM admin-centre nodes as label points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Geometries whose `type` is `null` or missing.
    pub null: usize,
    /// `Point` and `MultiPoint` geometries (label points).
    pub points: usize,
    /// Other geometry types (lines, empty collections, unknown types, non-objects).
    pub other: usize,
    /// Polygons that cannot be drawn: malformed `arcs`, references to missing arcs,
    /// rings without arcs.
    pub invalid: usize,
}

impl Skipped {
    /// All skipped geometries.
    pub fn total(&self) -> usize {
        self.null + self.points + self.other + self.invalid
    }

    fn add(&mut self, other: &Skipped) {
        self.null += other.null;
        self.points += other.points;
        self.other += other.other;
        self.invalid += other.invalid;
    }
}

impl fmt::Display for Skipped {
    /// `skipped 1 null, 20 points`; the rarer kinds only appear when non-zero, so the
    /// common line stays short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped {} null, {} points", self.null, self.points)?;
        if self.other > 0 {
            write!(f, ", {} other", self.other)?;
        }
        if self.invalid > 0 {
            write!(f, ", {} invalid", self.invalid)?;
        }
        Ok(())
    }
}

/// What one TopoJSON object (e.g. `boundaries_annotated1`) contributed to a layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// The object's name in `objects`.
    pub name: String,
    /// Features with at least one polygon taken from it.
    pub features: usize,
    /// Geometries of it that were left out.
    pub skipped: Skipped,
}

impl fmt::Display for ObjectStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} polygons, {}",
            self.name, self.features, self.skipped
        )
    }
}

/// Decoded arcs of a topology, in lon/lat degrees. Arc `i` is `arcs()[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topo {
    arcs: Vec<Vec<[f64; 2]>>,
}

impl Topo {
    /// No arcs (a stand-in for an absent source).
    pub const fn empty() -> Topo {
        Topo { arcs: Vec::new() }
    }

    /// Wraps already decoded (absolute lon/lat) arcs.
    pub fn new(arcs: Vec<Vec<[f64; 2]>>) -> Topo {
        Topo { arcs }
    }

    /// All arcs.
    pub fn arcs(&self) -> &[Vec<[f64; 2]>] {
        &self.arcs
    }

    /// The points of an arc reference, and whether they must be walked backwards.
    /// `None` for a reference to a missing arc (a loaded layer has none; hand-built
    /// polygons might).
    pub fn arc(&self, reference: i64) -> Option<(&[[f64; 2]], bool)> {
        let (index, reversed) = arc_index(reference);
        self.arcs.get(index).map(|a| (a.as_slice(), reversed))
    }

    /// The points of a ring in drawing order; the shared point between consecutive arcs
    /// appears once, so a closed ring ends on its first point.
    pub fn ring_points(&self, ring: &[i64]) -> Vec<[f64; 2]> {
        let mut points: Vec<[f64; 2]> = Vec::new();
        for &reference in ring {
            let Some((arc, reversed)) = self.arc(reference) else {
                continue;
            };
            let skip = usize::from(!points.is_empty());
            if reversed {
                points.extend(arc.iter().rev().skip(skip));
            } else {
                points.extend(arc.iter().skip(skip));
            }
        }
        points
    }
}

/// Anything that holds arcs polygons refer to: a [`Layer`], an [`Outline`], bare
/// [`Topo`]s. [`PathEncoder`] and [`geojson_geometry`] take any of them.
pub trait Arcs {
    /// The arcs.
    fn topo(&self) -> &Topo;
}

impl Arcs for Topo {
    fn topo(&self) -> &Topo {
        self
    }
}

impl Arcs for Layer {
    fn topo(&self) -> &Topo {
        &self.topo
    }
}

/// Splits an arc reference into arc index and direction (`true` = backwards).
pub fn arc_index(reference: i64) -> (usize, bool) {
    if reference < 0 {
        // `!r` is `-r - 1`, never negative here, and fits in usize on 64-bit targets.
        ((!reference) as usize, true)
    } else {
        (reference as usize, false)
    }
}

/// A loaded boundary file: decoded arcs plus the features that have polygons.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// The shared arcs.
    pub topo: Topo,
    /// Features with polygons, from all objects of the file: objects in name order
    /// (serde_json's map is sorted), features in file order within each.
    pub features: Vec<Feature>,
    /// Geometries left out, summed over all objects.
    pub skipped: Skipped,
    /// Per-object counts, in the order the objects were read.
    pub objects: Vec<ObjectStats>,
    /// The file the layer came from (for messages).
    pub file: PathBuf,
}

impl Layer {
    /// The lon/lat bounding box `[west, south, east, north]` of the given features'
    /// polygons, or `None` when they have no points.
    pub fn bbox<'a>(&self, features: impl IntoIterator<Item = &'a Feature>) -> Option<[f64; 4]> {
        let mut seen = vec![false; self.topo.arcs.len()];
        let mut bbox: Option<[f64; 4]> = None;
        for feature in features {
            for polygon in &feature.polygons {
                for ring in &polygon.rings {
                    for &reference in ring {
                        let (index, _) = arc_index(reference);
                        let Some(arc) = self.topo.arcs.get(index) else {
                            continue;
                        };
                        // Shared arcs are walked once: a country's interior borders
                        // would otherwise be visited twice.
                        if std::mem::replace(&mut seen[index], true) {
                            continue;
                        }
                        for &[x, y] in arc {
                            let b = bbox.get_or_insert([x, y, x, y]);
                            b[0] = b[0].min(x);
                            b[1] = b[1].min(y);
                            b[2] = b[2].max(x);
                            b[3] = b[3].max(y);
                        }
                    }
                }
            }
        }
        bbox
    }

    /// The bounding box of the features' main territory: polygons within `reach_km` of
    /// each other form clusters (island chains stay together), and the cluster with the
    /// largest area wins. At 400 km this leaves out Guadeloupe and French Guiana for
    /// France, the Azores and Madeira for Portugal and the Canaries for Spain; framing
    /// a country map on it keeps the map from being mostly ocean.
    pub fn core_bbox<'a>(
        &self,
        features: impl IntoIterator<Item = &'a Feature>,
        reach_km: f64,
    ) -> Option<[f64; 4]> {
        // Per polygon: the bbox and (roughly equal-area) size of its exterior ring.
        let mut parts: Vec<([f64; 4], f64)> = Vec::new();
        for feature in features {
            for polygon in &feature.polygons {
                let Some(exterior) = polygon.rings.first() else {
                    continue;
                };
                let points = self.topo.ring_points(exterior);
                let Some(&[x, y]) = points.first() else {
                    continue;
                };
                let bbox = points.iter().fold([x, y, x, y], |b, &[x, y]| {
                    [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)]
                });
                let k = ((bbox[1] + bbox[3]) / 2.0).to_radians().cos();
                parts.push((bbox, signed_area(&points).abs() * k));
            }
        }
        // Clusters grow from the largest polygon not yet taken; a handful of clusters
        // at most in real files, so repeated passes are cheap.
        let mut by_size: Vec<usize> = (0..parts.len()).collect();
        by_size.sort_by(|&a, &b| parts[b].1.total_cmp(&parts[a].1));
        let mut taken = vec![false; parts.len()];
        let mut best: Option<([f64; 4], f64)> = None;
        for seed in by_size {
            if taken[seed] {
                continue;
            }
            taken[seed] = true;
            let (mut core, mut area) = parts[seed];
            loop {
                let mut grown = false;
                for (i, &(bbox, size)) in parts.iter().enumerate() {
                    if taken[i] || box_gap_km(core, bbox) > reach_km {
                        continue;
                    }
                    taken[i] = true;
                    grown = true;
                    area += size;
                    core = [
                        core[0].min(bbox[0]),
                        core[1].min(bbox[1]),
                        core[2].max(bbox[2]),
                        core[3].max(bbox[3]),
                    ];
                }
                if !grown {
                    break;
                }
            }
            if best.is_none_or(|(_, a)| area > a) {
                best = Some((core, area));
            }
        }
        best.map(|(core, _)| core)
    }

    /// The bounding box of all features of the layer.
    pub fn full_bbox(&self) -> Option<[f64; 4]> {
        self.bbox(&self.features)
    }

    /// The feature with this OSM relation id, if any (a linear scan; build a map when
    /// joining many).
    pub fn feature_by_relation(&self, relation: u64) -> Option<&Feature> {
        self.features
            .iter()
            .find(|f| f.osm_relation == Some(relation))
    }

    /// Ids that more than one feature carries, with the features' indices. Germany's
    /// file has 86: border municipalities that two state files both include.
    pub fn duplicate_ids(&self) -> Vec<(&str, Vec<usize>)> {
        let mut by_id: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, feature) in self.features.iter().enumerate() {
            if let Some(id) = feature.id.as_deref() {
                by_id.entry(id).or_default().push(i);
            }
        }
        by_id.into_iter().filter(|(_, v)| v.len() > 1).collect()
    }

    /// Number of features with polygons.
    pub fn polygon_features(&self) -> usize {
        self.features.len()
    }

    /// One line for logs: `ee.topo.json: 78 polygons, skipped 0 null, 0 points`.
    pub fn summary(&self) -> String {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file.display().to_string());
        format!("{name}: {} polygons, {}", self.features.len(), self.skipped)
    }
}

/// Approximate distance in km between two lon/lat boxes (0 where they overlap).
fn box_gap_km(a: [f64; 4], b: [f64; 4]) -> f64 {
    let k = ((a[1] + a[3]) / 2.0).to_radians().cos();
    let dx = (b[0] - a[2]).max(a[0] - b[2]).max(0.0) * k;
    let dy = (b[1] - a[3]).max(a[1] - b[3]).max(0.0);
    dx.hypot(dy) * 111.32
}

/// Signed area of a closed point sequence (shoelace; positive = counter-clockwise with
/// y pointing up). The closing point may or may not be repeated.
pub(crate) fn signed_area(points: &[[f64; 2]]) -> f64 {
    let Some(&[x0, y0]) = points.first() else {
        return 0.0;
    };
    let mut sum = 0.0;
    for pair in points.windows(2) {
        let ([ax, ay], [bx, by]) = (pair[0], pair[1]);
        // Relative to the first point keeps the products small and the sum precise.
        sum += (ax - x0) * (by - y0) - (bx - x0) * (ay - y0);
    }
    sum / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_references_decode_sign_and_index() {
        assert_eq!(arc_index(0), (0, false));
        assert_eq!(arc_index(5), (5, false));
        assert_eq!(arc_index(-1), (0, true));
        assert_eq!(arc_index(-6), (5, true));
    }

    #[test]
    fn ring_points_join_arcs_and_reverse_negative_references() {
        let topo = Topo::new(vec![
            vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
            vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        ]);
        let points = topo.ring_points(&[0, -2]);
        assert_eq!(
            points,
            vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
        );
        // Counter-clockwise with y up.
        assert!((signed_area(&points) - 1.0).abs() < 1e-12);
        // A reference to a missing arc is ignored, not a panic.
        assert_eq!(topo.ring_points(&[7]), Vec::<[f64; 2]>::new());
    }

    #[test]
    fn core_bbox_keeps_the_largest_cluster_and_its_islands() {
        let square = |x: f64, y: f64, size: f64| {
            vec![
                [x, y],
                [x + size, y],
                [x + size, y + size],
                [x, y + size],
                [x, y],
            ]
        };
        // A 1° mainland, an island 0.5° of longitude (≈28 km at 60°N) off it, and a
        // territory far away that is larger than either alone (in true area, so after
        // shrinking longitudes) but smaller than both: the cluster sum decides.
        let topo = Topo::new(vec![
            square(10.0, 60.0, 1.0),
            square(11.5, 60.0, 0.9),
            square(-50.0, 5.0, 0.8),
        ]);
        let feature = |arc: i64| Feature {
            polygons: vec![Polygon {
                rings: vec![vec![arc]],
            }],
            ..Feature::default()
        };
        let layer = Layer {
            topo,
            features: vec![feature(0), feature(1), feature(2)],
            ..Layer::default()
        };
        assert_eq!(
            layer.core_bbox(&layer.features, 100.0),
            Some([10.0, 60.0, 12.4, 61.0])
        );
        // With a short reach the island is its own cluster and the far square wins.
        assert_eq!(
            layer.core_bbox(&layer.features, 10.0),
            Some([-50.0, 5.0, -49.2, 5.8])
        );
        assert_eq!(layer.full_bbox(), Some([-50.0, 5.0, 12.4, 61.0]));
    }

    #[test]
    fn skipped_display_is_short_unless_rare_kinds_occur() {
        let mut s = Skipped {
            null: 1,
            points: 20,
            ..Skipped::default()
        };
        assert_eq!(s.to_string(), "skipped 1 null, 20 points");
        s.invalid = 2;
        assert_eq!(s.to_string(), "skipped 1 null, 20 points, 2 invalid");
        assert_eq!(s.total(), 23);
    }
}
