//! GeoJSON export of features, for the downloadable `map.geojson` of a country.

use serde::Serialize;

use super::simplify::simplify;
use super::{Arcs, Polygon, Topo, signed_area};

/// A GeoJSON geometry of polygons of `source` (a [`Layer`](super::Layer), an
/// [`Outline`](super::Outline)) as a `Polygon`, or a `MultiPolygon` for several, in lon/lat:
/// each arc simplified with Douglas–Peucker at `tolerance_deg` degrees (arc by arc, so
/// neighbours still share borders), coordinates rounded to `decimals` places, rings
/// closed and wound as RFC 7946 asks (outer rings counter-clockwise, holes clockwise).
///
/// A ring that simplification would collapse is written unsimplified; one that is
/// degenerate even then is left out. `None` (serialised as GeoJSON's `null`, "no
/// geometry") when no polygon is left.
pub fn geojson_geometry<S: Arcs + ?Sized>(
    source: &S,
    polygons: &[Polygon],
    tolerance_deg: f64,
    decimals: u8,
) -> Option<Geometry> {
    topo_geometry(source.topo(), polygons, tolerance_deg, decimals)
}

/// A GeoJSON polygon geometry, serialised straight from its coordinates (a
/// `serde_json::Value` per point would cost ~100 bytes each: Germany alone has a
/// million).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "coordinates")]
pub enum Geometry {
    /// One polygon: rings of lon/lat points.
    Polygon(Vec<Vec<[f64; 2]>>),
    /// Several polygons.
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

fn topo_geometry(
    topo: &Topo,
    polygons: &[Polygon],
    tolerance_deg: f64,
    decimals: u8,
) -> Option<Geometry> {
    let factor = 10f64.powi(i32::from(decimals.min(10)));
    let mut out: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
    for polygon in polygons {
        let mut rings = Vec::new();
        for (r, ring) in polygon.rings.iter().enumerate() {
            let points = ring_coordinates(topo, ring, tolerance_deg, factor)
                .or_else(|| ring_coordinates(topo, ring, 0.0, factor));
            match points {
                Some(mut points) => {
                    let outer = r == 0;
                    if (signed_area(&points) > 0.0) != outer {
                        points.reverse();
                    }
                    rings.push(points);
                }
                // Without its outer ring a polygon's holes mean nothing.
                None if r == 0 => break,
                None => {}
            }
        }
        if !rings.is_empty() {
            out.push(rings);
        }
    }
    match out.len() {
        0 => None,
        1 => Some(Geometry::Polygon(out.remove(0))),
        _ => Some(Geometry::MultiPolygon(out)),
    }
}

/// A closed, rounded ring with at least three distinct points, or `None`.
fn ring_coordinates(
    topo: &Topo,
    ring: &[i64],
    tolerance_deg: f64,
    factor: f64,
) -> Option<Vec<[f64; 2]>> {
    let mut points: Vec<[f64; 2]> = Vec::new();
    for &reference in ring {
        let Some((arc, reversed)) = topo.arc(reference) else {
            continue;
        };
        let mut simple = simplify(arc, tolerance_deg);
        if reversed {
            simple.reverse();
        }
        for [x, y] in simple {
            // Dividing the rounded integer by a power of ten gives the double nearest
            // to the decimal, which serde_json prints with exactly those digits.
            let p = [(x * factor).round() / factor, (y * factor).round() / factor];
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
    }
    let first = *points.first()?;
    if points.last() != Some(&first) {
        points.push(first);
    }
    (points.len() >= 4 && signed_area(&points) != 0.0).then_some(points)
}

#[cfg(test)]
mod tests {
    use super::super::svg::tests::grid;
    use super::*;
    use serde_json::Value;

    fn topo_value(topo: &Topo, polygons: &[Polygon], tolerance_deg: f64, decimals: u8) -> Value {
        serde_json::to_value(topo_geometry(topo, polygons, tolerance_deg, decimals)).unwrap()
    }

    #[test]
    fn geometry_is_closed_rounded_and_counter_clockwise() {
        let (topo, polygons) = grid();
        let value = topo_value(&topo, &polygons[0..1], 0.0, 3);
        assert_eq!(value["type"], "Polygon");
        let ring: Vec<[f64; 2]> = serde_json::from_value(value["coordinates"][0].clone()).unwrap();
        assert_eq!(ring.first(), ring.last());
        assert!(
            signed_area(&ring) > 0.0,
            "outer rings run counter-clockwise"
        );
        assert!(ring.contains(&[20.0, 58.0]) && ring.contains(&[21.0, 59.0]));
        assert_eq!(ring.len(), 7, "{ring:?}");
    }

    #[test]
    fn several_polygons_make_a_multipolygon_and_simplification_is_per_arc() {
        let (topo, polygons) = grid();
        let value = topo_value(&topo, &polygons, 0.1, 2);
        assert_eq!(value["type"], "MultiPolygon");
        assert_eq!(value["coordinates"].as_array().map(Vec::len), Some(6));
        // The 0.01° bumps are gone at 0.1°, leaving the four corners.
        assert_eq!(value["coordinates"][0][0].as_array().map(Vec::len), Some(5));
        assert_eq!(topo_value(&topo, &[], 0.1, 2), Value::Null);
    }

    #[test]
    fn holes_run_clockwise() {
        let topo = Topo::new(vec![
            vec![[0.0, 0.0], [0.0, 4.0], [4.0, 4.0], [4.0, 0.0], [0.0, 0.0]],
            vec![[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]],
        ]);
        let polygon = Polygon {
            rings: vec![vec![0], vec![1]],
        };
        let value = topo_value(&topo, &[polygon], 0.0, 1);
        let outer: Vec<[f64; 2]> = serde_json::from_value(value["coordinates"][0].clone()).unwrap();
        let hole: Vec<[f64; 2]> = serde_json::from_value(value["coordinates"][1].clone()).unwrap();
        assert!(signed_area(&outer) > 0.0 && signed_area(&hole) < 0.0);
    }
}
