//! Reading a TopoJSON file into a [`Layer`].
//!
//! The `topojson` crate (0.5) does the parsing, but it rejects a whole file for one
//! geometry it cannot type (TopoJSON allows `"type": null`, and `al.topo.json` has one)
//! and panics on a `transform` with short arrays. So the JSON goes through serde_json
//! first: every geometry that is not a well-formed polygon is removed and counted, and
//! the top-level members the crate indexes blindly are checked. What reaches the crate
//! can then only fail for a broken `arcs` array, which is a broken file.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value};
use topojson::{Geometry, Topology, Value as TopoValue};

use super::{Feature, Layer, ObjectStats, Polygon, Skipped, Topo};

/// Reads and decodes a TopoJSON file; all objects are merged into one layer.
///
/// Geometries that are not polygons (`null`, label points, lines) or whose arcs are
/// malformed are skipped and counted in [`Layer::skipped`] and [`Layer::objects`];
/// only an unreadable file, invalid JSON or a broken topology (no `arcs`, a bad
/// `transform`) is an error, and the error names the file.
pub fn load_layer(path: &Path) -> Result<Layer> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_layer(&bytes, path)
}

/// [`load_layer`] on bytes already read; `file` is only used for messages and
/// [`Layer::file`].
pub fn parse_layer(bytes: &[u8], file: &Path) -> Result<Layer> {
    parse(bytes)
        .with_context(|| format!("invalid TopoJSON in {}", file.display()))
        .map(|mut layer| {
            layer.file = file.to_path_buf();
            layer
        })
}

fn parse(bytes: &[u8]) -> Result<Layer> {
    let root: Value = serde_json::from_slice(bytes).context("not JSON")?;
    let Value::Object(mut root) = root else {
        bail!("the top level is not a JSON object");
    };
    ensure!(
        root.get("type").and_then(Value::as_str) == Some("Topology"),
        "the top level is not a Topology"
    );
    let arc_count = match root.get("arcs") {
        Some(Value::Array(arcs)) => arcs.len(),
        _ => bail!("no \"arcs\" array"),
    };
    if root.get("transform").is_some_and(Value::is_null) {
        // Not allowed by the spec, but it can only mean "not quantized".
        root.remove("transform");
    }
    let quantized = check_transform(&root)?;
    // A malformed bbox would make the crate reject the file, and bboxes are recomputed
    // from the arcs anyway.
    root.remove("bbox");

    let Some(Value::Object(objects)) = root.get_mut("objects") else {
        bail!("no \"objects\" member");
    };
    let mut stats = Vec::with_capacity(objects.len());
    let names: Vec<String> = objects.keys().cloned().collect();
    for name in names {
        let mut skipped = Skipped::default();
        let cleaned = objects
            .remove(&name)
            .and_then(|object| clean_object(object, arc_count, &mut skipped));
        if let Some(object) = cleaned {
            objects.insert(name.clone(), object);
        }
        stats.push(ObjectStats {
            name,
            features: 0,
            skipped,
        });
    }

    let topology = Topology::from_json_object(root).context("the topojson crate rejected it")?;
    let topo = decode_arcs(&topology, quantized)?;

    let mut features = Vec::new();
    for named in topology.objects {
        let before = features.len();
        match named.geometry.value {
            TopoValue::GeometryCollection(members) => {
                features.extend(members.into_iter().filter_map(feature_from))
            }
            _ => features.extend(feature_from(named.geometry)),
        }
        if let Some(stat) = stats.iter_mut().find(|s| s.name == named.name) {
            stat.features = features.len() - before;
        }
    }
    let mut skipped = Skipped::default();
    for stat in &stats {
        skipped.add(&stat.skipped);
    }
    Ok(Layer {
        topo,
        features,
        skipped,
        objects: stats,
        file: Default::default(),
    })
}

/// Checks `transform` (the crate indexes `scale[1]` without looking) and tells whether
/// the arcs are quantized.
fn check_transform(root: &Map<String, Value>) -> Result<bool> {
    let Some(transform) = root.get("transform") else {
        return Ok(false);
    };
    for member in ["scale", "translate"] {
        let ok = transform
            .get(member)
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.len() == 2 && a.iter().all(|v| v.as_f64().is_some_and(f64::is_finite))
            });
        ensure!(ok, "\"transform\" needs \"{member}\" as two numbers");
    }
    Ok(true)
}

/// Cleans one member of `objects`: a GeometryCollection keeps its usable members, a
/// single geometry stays if usable. `None` when nothing is left.
fn clean_object(object: Value, arc_count: usize, skipped: &mut Skipped) -> Option<Value> {
    if object.get("type").and_then(Value::as_str) == Some("GeometryCollection") {
        let Value::Object(mut map) = object else {
            return None;
        };
        let members = match map.remove("geometries") {
            Some(Value::Array(members)) => members,
            _ => Vec::new(),
        };
        let kept: Vec<Value> = members
            .into_iter()
            .filter_map(|g| clean_geometry(g, arc_count, skipped))
            .collect();
        map.insert("geometries".into(), Value::Array(kept));
        strip_for_crate(&mut map);
        Some(Value::Object(map))
    } else {
        clean_geometry(object, arc_count, skipped)
    }
}

/// Keeps a geometry only if it is a well-formed Polygon or MultiPolygon, or a
/// GeometryCollection (a feature made of parts) with at least one such member.
fn clean_geometry(geometry: Value, arc_count: usize, skipped: &mut Skipped) -> Option<Value> {
    let Value::Object(mut map) = geometry else {
        skipped.other += 1;
        return None;
    };
    let kind = match map.get("type") {
        None | Some(Value::Null) => {
            skipped.null += 1;
            return None;
        }
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => {
            skipped.other += 1;
            return None;
        }
    };
    match kind.as_str() {
        "Polygon" | "MultiPolygon" => {
            let depth = if kind == "Polygon" { 2 } else { 3 };
            let ok = map
                .get("arcs")
                .is_some_and(|arcs| valid_arcs(arcs, depth, arc_count));
            if !ok {
                skipped.invalid += 1;
                return None;
            }
        }
        "Point" | "MultiPoint" => {
            skipped.points += 1;
            return None;
        }
        "GeometryCollection" => {
            let members = match map.remove("geometries") {
                Some(Value::Array(members)) => members,
                _ => Vec::new(),
            };
            let kept: Vec<Value> = members
                .into_iter()
                .filter_map(|g| clean_geometry(g, arc_count, skipped))
                .collect();
            if kept.is_empty() {
                // Its members were counted; an empty collection is counted itself.
                return None;
            }
            map.insert("geometries".into(), Value::Array(kept));
        }
        _ => {
            skipped.other += 1;
            return None;
        }
    }
    strip_for_crate(&mut map);
    Some(Value::Object(map))
}

/// Removes members the crate would reject but the maps do not need: a malformed
/// `bbox`, `properties` that are not an object.
fn strip_for_crate(map: &mut Map<String, Value>) {
    map.remove("bbox");
    if map.get("properties").is_some_and(|p| !p.is_object()) {
        map.remove("properties");
    }
}

/// True when `arcs` is nested `depth` arrays deep with integer references to existing
/// arcs at the bottom, and no level is empty (an empty ring or polygon cannot be drawn).
fn valid_arcs(arcs: &Value, depth: usize, arc_count: usize) -> bool {
    if depth == 0 {
        return arcs.as_i64().is_some_and(|r| {
            // The crate stores references as i32.
            let index = if r < 0 { -(r + 1) } else { r };
            i32::try_from(r).is_ok() && (index as u64) < arc_count as u64
        });
    }
    arcs.as_array().is_some_and(|items| {
        !items.is_empty()
            && items
                .iter()
                .all(|item| valid_arcs(item, depth - 1, arc_count))
    })
}

/// Decodes the crate's arcs into absolute lon/lat: delta-decoded and scaled when the
/// topology is quantized, as stored otherwise.
fn decode_arcs(topology: &Topology, quantized: bool) -> Result<Topo> {
    let transform = topology.transform.as_ref().filter(|_| quantized);
    let mut arcs = Vec::with_capacity(topology.arcs.len());
    for (a, arc) in topology.arcs.iter().enumerate() {
        let mut points = Vec::with_capacity(arc.len());
        let (mut x, mut y) = (0.0_f64, 0.0_f64);
        for (p, position) in arc.iter().enumerate() {
            let (&px, &py) = match position.as_slice() {
                [px, py, ..] => (px, py),
                _ => bail!("arc {a}, position {p}: fewer than two coordinates"),
            };
            ensure!(
                px.is_finite() && py.is_finite(),
                "arc {a}, position {p}: coordinate is not a finite number"
            );
            match transform {
                Some(t) => {
                    // Quantized positions are integers, so the running sum is exact.
                    x += px;
                    y += py;
                    points.push([
                        x * t.scale[0] + t.translate[0],
                        y * t.scale[1] + t.translate[1],
                    ]);
                }
                None => points.push([px, py]),
            }
        }
        arcs.push(points);
    }
    Ok(Topo::new(arcs))
}

/// Turns a cleaned geometry into a feature; `None` if it holds no polygon.
fn feature_from(geometry: Geometry) -> Option<Feature> {
    let mut polygons = Vec::new();
    collect_polygons(&geometry.value, &mut polygons);
    if polygons.is_empty() {
        return None;
    }
    let properties = geometry.properties.unwrap_or_default();
    let id = match geometry.id {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let osm_relation = id.as_deref().and_then(relation_id).or_else(|| {
        properties
            .get("osm_id")
            .and_then(Value::as_str)
            .and_then(relation_id)
    });
    let name = properties
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    Some(Feature {
        id,
        osm_relation,
        name,
        properties,
        polygons,
    })
}

fn collect_polygons(value: &TopoValue, out: &mut Vec<Polygon>) {
    let ring = |r: &Vec<i32>| r.iter().map(|&a| i64::from(a)).collect();
    match value {
        TopoValue::Polygon(rings) => out.push(Polygon {
            rings: rings.iter().map(ring).collect(),
        }),
        TopoValue::MultiPolygon(polygons) => out.extend(polygons.iter().map(|rings| Polygon {
            rings: rings.iter().map(ring).collect(),
        })),
        TopoValue::GeometryCollection(members) => {
            for member in members {
                collect_polygons(&member.value, out);
            }
        }
        _ => {}
    }
}

/// `relation/123` → 123; other OSM types (`way/`, `node/`) are not municipalities.
fn relation_id(text: &str) -> Option<u64> {
    text.trim().strip_prefix("relation/")?.parse().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse_str(text: &str) -> Result<Layer> {
        parse_layer(text.as_bytes(), &PathBuf::from("test.topo.json"))
    }

    /// Two unit squares side by side, quantized: arc 0 is the shared edge x=1 going up,
    /// arc 1 the rest of the left square, arc 2 the rest of the right one.
    pub(crate) const TWO_SQUARES: &str = r#"{
        "type": "Topology",
        "transform": {"scale": [0.5, 0.25], "translate": [10, 50]},
        "arcs": [
            [[2, 0], [0, 4]],
            [[2, 4], [-2, 0], [0, -4], [2, 0]],
            [[2, 0], [2, 0], [0, 4], [-2, 0]]
        ],
        "objects": {
            "munis": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "id": "relation/11",
                 "properties": {"name": "West"}},
                {"type": "Polygon", "arcs": [[2, -1]], "id": "",
                 "properties": {"name": "East", "osm_id": "relation/22"}}
            ]},
            "labels": {"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [1, 2], "id": "node/5"},
                {"type": null, "id": "way/7"},
                {"type": "LineString", "arcs": [0]},
                {"type": "Polygon", "arcs": [[9]]},
                {"type": "GeometryCollection", "geometries": [
                    {"type": "Point", "coordinates": [1, 2]},
                    {"type": "Polygon", "arcs": [[0, 1]], "properties": {"name": "part"}}
                ], "id": "relation/33"}
            ]}
        }
    }"#;

    #[test]
    fn quantized_arcs_are_delta_decoded_and_scaled() {
        let layer = parse_str(TWO_SQUARES).unwrap();
        let arcs = layer.topo.arcs();
        assert_eq!(arcs[0], vec![[11.0, 50.0], [11.0, 51.0]]);
        assert_eq!(
            arcs[1],
            vec![[11.0, 51.0], [10.0, 51.0], [10.0, 50.0], [11.0, 50.0]]
        );
        assert_eq!(
            arcs[2],
            vec![[11.0, 50.0], [12.0, 50.0], [12.0, 51.0], [11.0, 51.0]]
        );
        assert_eq!(layer.full_bbox(), Some([10.0, 50.0, 12.0, 51.0]));
    }

    #[test]
    fn non_quantized_arcs_are_taken_as_is() {
        let text = r#"{"type": "Topology",
            "arcs": [[[10.5, 50.25], [11.5, 50.25], [11.5, 51.0], [10.5, 50.25]]],
            "objects": {"a": {"type": "Polygon", "arcs": [[0]], "id": 42}}}"#;
        let layer = parse_str(text).unwrap();
        assert_eq!(layer.topo.arcs()[0][1], [11.5, 50.25]);
        assert_eq!(layer.features.len(), 1);
        // A numeric id is kept as text but is not an OSM relation.
        assert_eq!(layer.features[0].id.as_deref(), Some("42"));
        assert_eq!(layer.features[0].osm_relation, None);
    }

    #[test]
    fn null_points_lines_and_bad_references_are_skipped_and_counted() {
        let layer = parse_str(TWO_SQUARES).unwrap();
        assert_eq!(
            layer.skipped,
            Skipped {
                null: 1,
                points: 2,
                other: 1,
                invalid: 1
            }
        );
        assert_eq!(layer.features.len(), 3);
        let labels = layer.objects.iter().find(|o| o.name == "labels").unwrap();
        assert_eq!(labels.features, 1);
        assert_eq!(labels.skipped.total(), 5);
        assert_eq!(
            layer.summary(),
            "test.topo.json: 3 polygons, skipped 1 null, 2 points, 1 other, 1 invalid"
        );
    }

    #[test]
    fn ids_names_and_relations_come_from_id_or_osm_id() {
        let layer = parse_str(TWO_SQUARES).unwrap();
        let west = layer.feature_by_relation(11).unwrap();
        assert_eq!(west.name.as_deref(), Some("West"));
        assert_eq!(
            west.polygons,
            vec![Polygon {
                rings: vec![vec![0, 1]]
            }]
        );
        let east = layer.feature_by_relation(22).unwrap();
        assert_eq!(east.id, None);
        assert_eq!(east.polygons[0].rings[0], vec![2, -1]);
        // A collection feature keeps its polygon members under its own id.
        let part = layer.feature_by_relation(33).unwrap();
        assert_eq!(part.polygons.len(), 1);
    }

    #[test]
    fn broken_files_are_errors_that_name_the_file() {
        for text in [
            "not json",
            r#"{"type": "FeatureCollection", "features": []}"#,
            r#"{"type": "Topology", "objects": {}}"#,
            r#"{"type": "Topology", "arcs": [], "objects": {}, "transform": {"scale": [1], "translate": [0, 0]}}"#,
            r#"{"type": "Topology", "arcs": [[[1]]], "objects": {}}"#,
        ] {
            let err = parse_str(text).unwrap_err();
            let message = format!("{err:#}");
            assert!(message.contains("test.topo.json"), "{message}");
        }
    }

    #[test]
    fn missing_files_are_errors_that_name_the_file() {
        let err = load_layer(Path::new("/nonexistent/xx.topo.json")).unwrap_err();
        assert!(err.to_string().contains("xx.topo.json"));
    }
}
