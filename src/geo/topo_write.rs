//! TopoJSON out: the per-level boundary files of the interactive map.
//!
//! The browser map (Leaflet + topojson-client) draws what the static SVG draws, from a
//! file per country and level written here. Features may come from several layers (a
//! German municipality map takes the cities that are their own district from the
//! district file); arcs are keyed by (source, arc) so each source's shared borders stay
//! shared. Each used arc is simplified once (Douglas–Peucker, so neighbours keep one
//! common border), quantized to a fixed grid and delta-encoded as TopoJSON asks: the
//! file is a fraction of the GeoJSON of the same shapes.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::simplify::simplify;
use super::{Arcs, Polygon, arc_index};

/// One feature to write: its id (what the attribute file keys on), the source of its
/// arcs and its polygons on them.
pub struct TopoFeature<'a> {
    /// Feature `id` in the file.
    pub id: String,
    /// Index into the `sources` given to [`write_topojson`].
    pub source: usize,
    /// Polygons referring to the source's arcs.
    pub polygons: &'a [Polygon],
    /// Further polygons on other sources' arcs (a German Land with its cities that are
    /// their own district, which its region file leaves out).
    pub extra: &'a [(usize, Vec<Polygon>)],
}

impl<'a> TopoFeature<'a> {
    /// Every (source, polygon) of the feature.
    fn parts(&self) -> impl Iterator<Item = (usize, &'a Polygon)> + '_ {
        let source = self.source;
        self.polygons.iter().map(move |p| (source, p)).chain(
            self.extra
                .iter()
                .flat_map(|(s, ps)| ps.iter().map(move |p| (*s, p))),
        )
    }
}

/// Detail of a written file.
#[derive(Debug, Clone, Copy)]
pub struct TopoDetail {
    /// Douglas–Peucker tolerance, degrees.
    pub tolerance_deg: f64,
    /// Grid step of the quantization, degrees.
    pub step_deg: f64,
}

/// Writes `features` as one TopoJSON object `a` (a GeometryCollection), arcs taken from
/// `sources`. Features without any polygon are written with a `null` type so their id
/// still reaches the browser (it draws them as "no shape").
pub fn write_topojson(
    sources: &[&dyn Arcs],
    features: &[TopoFeature<'_>],
    detail: TopoDetail,
) -> String {
    // Bounding box of every used arc: the transform's origin.
    let mut used: Vec<(usize, usize)> = Vec::new();
    let mut index: HashMap<(usize, usize), usize> = HashMap::new();
    for f in features {
        for (source, polygon) in f.parts() {
            for ring in &polygon.rings {
                for &reference in ring {
                    let (arc, _) = arc_index(reference);
                    index.entry((source, arc)).or_insert_with(|| {
                        used.push((source, arc));
                        used.len() - 1
                    });
                }
            }
        }
    }
    let step = detail.step_deg.max(1e-9);
    let mut x0 = f64::INFINITY;
    let mut y0 = f64::INFINITY;
    let arcs: Vec<Vec<[f64; 2]>> = used
        .iter()
        .map(|&(s, a)| {
            let points = sources
                .get(s)
                .and_then(|src| src.topo().arcs().get(a))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let simplified = simplify(points, detail.tolerance_deg);
            for p in &simplified {
                x0 = x0.min(p[0]);
                y0 = y0.min(p[1]);
            }
            simplified
        })
        .collect();
    if !x0.is_finite() {
        x0 = 0.0;
        y0 = 0.0;
    }
    let mut out = String::with_capacity(arcs.iter().map(|a| a.len() * 10).sum::<usize>() + 256);
    let _ = write!(
        out,
        "{{\"type\":\"Topology\",\"transform\":{{\"scale\":[{step},{step}],\"translate\":[{x0},{y0}]}},\"objects\":{{\"a\":{{\"type\":\"GeometryCollection\",\"geometries\":["
    );
    for (n, f) in features.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let id = serde_json::to_string(&f.id).unwrap_or_else(|_| "\"\"".into());
        let polygons: Vec<String> = f
            .parts()
            .filter(|(_, p)| !p.rings.is_empty())
            .map(|(source, p)| {
                let rings: Vec<String> = p
                    .rings
                    .iter()
                    .map(|ring| {
                        let refs: Vec<String> = ring
                            .iter()
                            .filter_map(|&r| {
                                let (arc, reversed) = arc_index(r);
                                let i = *index.get(&(source, arc))? as i64;
                                Some(if reversed { !i } else { i }.to_string())
                            })
                            .collect();
                        format!("[{}]", refs.join(","))
                    })
                    .collect();
                format!("[{}]", rings.join(","))
            })
            .collect();
        match polygons.len() {
            0 => {
                let _ = write!(out, "{{\"type\":null,\"id\":{id}}}");
            }
            1 => {
                let _ = write!(
                    out,
                    "{{\"type\":\"Polygon\",\"id\":{id},\"arcs\":{}}}",
                    polygons[0]
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "{{\"type\":\"MultiPolygon\",\"id\":{id},\"arcs\":[{}]}}",
                    polygons.join(",")
                );
            }
        }
    }
    out.push_str("]}},\"arcs\":[");
    for (n, arc) in arcs.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        let (mut px, mut py) = (0i64, 0i64);
        let mut first = true;
        for (k, p) in arc.iter().enumerate() {
            let qx = ((p[0] - x0) / step).round() as i64;
            let qy = ((p[1] - y0) / step).round() as i64;
            let (dx, dy) = (qx - px, qy - py);
            // Repeated grid points add nothing; an arc keeps at least its two ends so
            // rings stay closed.
            if !first && dx == 0 && dy == 0 && k + 1 < arc.len() {
                continue;
            }
            if !first {
                out.push(',');
            }
            let _ = write!(out, "[{dx},{dy}]");
            (px, py, first) = (qx, qy, false);
        }
        out.push(']');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Topo;

    /// Two squares sharing one border: the shared arc is written once, referenced by
    /// both (once backwards), and decoding the deltas gives back the corners.
    #[test]
    fn shared_arcs_are_written_once_and_decode_to_the_input() {
        let topo = Topo::new(vec![
            vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]],
            vec![[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0]],
            vec![[1.0, 1.0], [1.0, 0.0]],
        ]);
        let left = [Polygon {
            rings: vec![vec![0]],
        }];
        let right = [Polygon {
            rings: vec![vec![1, 2]],
        }];
        let missing: [Polygon; 0] = [];
        let text = write_topojson(
            &[&topo],
            &[
                TopoFeature {
                    id: "L".into(),
                    source: 0,
                    polygons: &left,
                    extra: &[],
                },
                TopoFeature {
                    id: "R".into(),
                    source: 0,
                    polygons: &right,
                    extra: &[],
                },
                TopoFeature {
                    id: "none".into(),
                    source: 0,
                    polygons: &missing,
                    extra: &[],
                },
            ],
            TopoDetail {
                tolerance_deg: 0.0,
                step_deg: 0.5,
            },
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let geoms = v["objects"]["a"]["geometries"].as_array().unwrap();
        assert_eq!(geoms[0]["id"], "L");
        assert_eq!(geoms[0]["arcs"], serde_json::json!([[0]]));
        assert_eq!(geoms[1]["arcs"], serde_json::json!([[1, 2]]));
        assert!(geoms[2]["type"].is_null());
        let arcs = v["arcs"].as_array().unwrap();
        assert_eq!(arcs.len(), 3);
        // Arc 1 decodes to (1,0) (2,0) (2,1) (1,1) on the 0.5° grid from (0,0).
        let mut at = (0i64, 0i64);
        let mut decoded = Vec::new();
        for d in arcs[1].as_array().unwrap() {
            at.0 += d[0].as_i64().unwrap();
            at.1 += d[1].as_i64().unwrap();
            decoded.push((at.0 as f64 * 0.5, at.1 as f64 * 0.5));
        }
        assert_eq!(
            decoded,
            vec![(1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0)]
        );
    }

    /// Arcs of two sources are kept apart, even with the same index.
    #[test]
    fn features_from_two_sources_do_not_share_arcs() {
        let a = Topo::new(vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]);
        let b = Topo::new(vec![vec![[5.0, 5.0], [6.0, 5.0], [5.0, 6.0], [5.0, 5.0]]]);
        let p = [Polygon {
            rings: vec![vec![0]],
        }];
        let text = write_topojson(
            &[&a, &b],
            &[
                TopoFeature {
                    id: "a".into(),
                    source: 0,
                    polygons: &p,
                    extra: &[],
                },
                TopoFeature {
                    id: "b".into(),
                    source: 1,
                    polygons: &p,
                    extra: &[],
                },
            ],
            TopoDetail {
                tolerance_deg: 0.0,
                step_deg: 0.01,
            },
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["arcs"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["objects"]["a"]["geometries"][1]["arcs"],
            serde_json::json!([[1]])
        );
    }
}
