//! Tests on the real boundary files of the repository's `geodata/` (or
//! `$MXMAP_DATA/geodata`); each skips cleanly when the folder is absent.
//!
//! `cargo test --release geo::data_tests -- --nocapture` prints per-file counts,
//! timings and byte sizes. With `MXMAP_GEO_SVG_DIR` set, debug SVGs of Estonia, Germany
//! and a Europe overview are written there for a look.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;

fn geodata() -> Option<PathBuf> {
    let dir = match std::env::var_os("MXMAP_DATA") {
        Some(base) => PathBuf::from(base).join("geodata"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} not found", dir.display());
        None
    }
}

fn topo_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("geodata is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".topo.json"))
        .collect();
    files.sort();
    files
}

impl Outline {
    fn topo_layer(&self) -> Layer {
        Layer {
            topo: self.topo.clone(),
            ..Layer::default()
        }
    }
}

/// Area of polygons in the frame (outer minus holes), from unsimplified points.
fn projected_area(layer: &Layer, frame: &Frame, polygons: &[Polygon]) -> f64 {
    let mut total = 0.0;
    for polygon in polygons {
        for (r, ring) in polygon.rings.iter().enumerate() {
            let points: Vec<[f64; 2]> = layer
                .topo
                .ring_points(ring)
                .into_iter()
                .map(|[lon, lat]| {
                    let (x, y) = frame.point(lon, lat);
                    [x, y]
                })
                .collect();
            let area = signed_area(&points).abs();
            total += if r == 0 { area } else { -area };
        }
    }
    total
}

#[test]
fn every_geodata_file_loads() {
    let Some(dir) = geodata() else { return };
    let files = topo_files(&dir);
    assert!(files.len() >= 80, "only {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        match load_layer(file) {
            Ok(layer) => {
                let objects: Vec<String> = layer.objects.iter().map(|o| o.to_string()).collect();
                println!("{}  [{}]", layer.summary(), objects.join("; "));
                if let (Some(full), Some(core)) =
                    (layer.full_bbox(), layer.core_bbox(&layer.features, 400.0))
                    && full != core
                {
                    println!("    core bbox {core:.1?} of {full:.1?}");
                }
                assert!(layer.full_bbox().is_some() || layer.features.is_empty());
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                match name.as_deref() {
                    Some("al.topo.json") => {
                        assert_eq!(layer.skipped.null, 1);
                        assert_eq!(layer.features.len(), 61);
                    }
                    Some("ee.topo.json") => assert_eq!(layer.features.len(), 78),
                    Some("de.topo.json") => {
                        assert_eq!(layer.features.len(), 10_936);
                        assert!(layer.features.iter().all(|f| f.osm_relation.is_some()));
                    }
                    Some("gr.topo.json") => {
                        assert_eq!(layer.features.len(), 332);
                        assert_eq!(layer.skipped.points, 321);
                    }
                    _ => {}
                }
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn germany_dissolves_to_its_outline_and_fits_the_budget() {
    let Some(dir) = geodata() else { return };
    let started = Instant::now();
    let layer = load_layer(&dir.join("de.topo.json")).expect("de loads");
    let load = started.elapsed();

    let started = Instant::now();
    let dissolved = layer.dissolve(&layer.features);
    let dissolve = started.elapsed();
    let started = Instant::now();
    let outline = layer.outline(&layer.features, MERGE_TOLERANCE_M);
    let outline_time = started.elapsed();

    let bbox = layer.full_bbox().expect("de has points");
    let frame = Frame::fit(Projection::lambert_for(bbox), bbox, 1000.0, 4.0);
    // Each municipality once (86 are in two state files).
    let unique: Vec<Polygon> = dissolve::unique(&layer.features)
        .flat_map(|f| f.polygons.clone())
        .collect();
    let parts = projected_area(&layer, &frame, &unique);
    let whole = projected_area(&layer, &frame, &dissolved);
    let merged = projected_area(&outline.topo_layer(), &frame, &outline.polygons);
    let rings: usize = dissolved.iter().map(|p| p.rings.len()).sum();
    println!(
        "DE: dissolve: {} polygons, {rings} rings, area {:+.3}% of the municipalities'; outline: {} polygons, {} pieces joined, area {:+.3}%",
        dissolved.len(),
        (whole / parts - 1.0) * 100.0,
        outline.polygons.len(),
        outline.joined,
        (merged / parts - 1.0) * 100.0,
    );
    assert!((whole / parts - 1.0).abs() < 0.01);
    assert!((merged / parts - 1.0).abs() < 0.01);
    // The plain dissolve keeps the 16 state outlines (their files share no arcs); the
    // outline merges them: the mainland is one ring with nearly all the area.
    let mainland = projected_area(&outline.topo_layer(), &frame, &outline.polygons[..1]);
    assert!(mainland / merged > 0.95, "{mainland} of {merged}");

    let started = Instant::now();
    let mut encoder = PathEncoder::new(&layer, &frame, 1.0, 0);
    let bytes: usize = layer
        .features
        .iter()
        .map(|f| encoder.feature_path(f).len())
        .sum();
    let outline_bytes = PathEncoder::new(&outline, &frame, 1.0, 0)
        .path(&outline.polygons)
        .len();
    let encode = started.elapsed();
    let started = Instant::now();
    let detail = fit_budget(&layer, &frame, &layer.features, 400_000);
    let fit = started.elapsed();
    println!(
        "DE: load {load:.2?}, dissolve {dissolve:.2?}, outline {outline_time:.2?}, encode {encode:.2?} ({bytes} bytes at 1.0/0, {:.1} per feature; outline {outline_bytes}), fit_budget {fit:.2?} -> {detail:?}",
        bytes as f64 / layer.features.len() as f64
    );
    for (tolerance, decimals) in [(0.5, 0), (0.7, 0), (1.0, 0), (1.4, 0), (0.25, 1)] {
        let features: Vec<&Feature> = layer.features.iter().collect();
        let b = svg::path_bytes(&layer, &frame, &features, tolerance, decimals);
        println!("DE: tolerance {tolerance} decimals {decimals}: {b} bytes");
    }
    if !cfg!(debug_assertions) {
        assert!(dissolve.as_secs_f64() < 0.5, "dissolve took {dissolve:?}");
        assert!(
            outline_time.as_secs_f64() < 0.8,
            "outline took {outline_time:?}"
        );
    }
    assert!(detail.bytes <= 400_000, "{detail:?}");
}

#[test]
fn estonia_sizes_and_debug_maps() {
    let Some(dir) = geodata() else { return };
    let layer = load_layer(&dir.join("ee.topo.json")).expect("ee loads");
    let bbox = layer.full_bbox().expect("ee has points");
    let frame = Frame::fit(Projection::lambert_for(bbox), bbox, 1000.0, 4.0);
    let detail = fit_budget(&layer, &frame, &layer.features, 60_000);
    println!("EE: {detail:?}");
    for (tolerance, decimals) in [(0.1, 1), (0.25, 1), (0.5, 0), (1.0, 0)] {
        let features: Vec<&Feature> = layer.features.iter().collect();
        let b = svg::path_bytes(&layer, &frame, &features, tolerance, decimals);
        println!("EE: tolerance {tolerance} decimals {decimals}: {b} bytes");
    }
    let Some(out) = std::env::var_os("MXMAP_GEO_SVG_DIR") else {
        return;
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("debug dir");
    write_debug_svg(&layer, &frame, detail, &out.join("ee.svg"));
    let de = load_layer(&dir.join("de.topo.json")).expect("de loads");
    let bbox = de.full_bbox().expect("de has points");
    let frame = Frame::fit(Projection::lambert_for(bbox), bbox, 1000.0, 4.0);
    let detail = fit_budget(&de, &frame, &de.features, 400_000);
    write_debug_svg(&de, &frame, detail, &out.join("de.svg"));
    write_europe_svg(&dir, &out.join("europe.svg"));
}

/// Municipalities in alternating colours without strokes (gaps would show as white)
/// and the merged outline on top in red.
fn write_debug_svg(layer: &Layer, frame: &Frame, detail: Detail, file: &Path) {
    let (w, h) = frame.view_box();
    let mut encoder = PathEncoder::new(layer, frame, detail.tolerance, detail.decimals);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
    );
    let colours = [
        "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
    ];
    for (i, feature) in layer.features.iter().enumerate() {
        let colour = colours[(feature.osm_relation.unwrap_or(i as u64) % 6) as usize];
        svg += &format!(
            "<path fill=\"{colour}\" d=\"{}\"/>",
            encoder.feature_path(feature)
        );
    }
    let outline = layer.outline(&layer.features, MERGE_TOLERANCE_M);
    svg += &format!(
        "<path fill=\"none\" stroke=\"red\" stroke-width=\"1\" d=\"{}\"/></svg>",
        PathEncoder::new(&outline, frame, detail.tolerance, detail.decimals)
            .path(&outline.polygons)
    );
    std::fs::write(file, svg).expect("debug svg written");
}

/// Every country's municipality file merged into its outline, in one LAEA frame.
fn write_europe_svg(dir: &Path, file: &Path) {
    let bbox = [-25.0, 34.0, 45.0, 71.0];
    let frame = Frame::fit(Projection::EUROPE, bbox, 1000.0, 4.0);
    let (w, h) = frame.view_box();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
    );
    let started = Instant::now();
    let mut bytes = 0;
    for path in topo_files(dir) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.matches('.').count() != 2 {
            continue;
        }
        let layer = load_layer(&path).expect("loads");
        let outline = layer.outline(&layer.features, MERGE_TOLERANCE_M);
        let d = PathEncoder::new(&outline, &frame, 0.5, 0).path(&outline.polygons);
        bytes += d.len();
        svg += &format!("<path fill=\"#9ab\" stroke=\"#345\" stroke-width=\".5\" d=\"{d}\"/>");
    }
    println!(
        "Europe: {bytes} bytes of outline paths, load+dissolve+encode {:.2?}",
        started.elapsed()
    );
    svg += "</svg>";
    std::fs::write(file, svg).expect("debug svg written");
}
