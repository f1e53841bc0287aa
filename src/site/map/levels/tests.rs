use std::path::PathBuf;

use super::*;
use crate::countries::COUNTRIES;
use crate::geo::Topo;
use crate::seeds::SeedOrigin;

fn place(id: &str, name: &str, region: &str, rel: Option<u64>, pop: u64) -> Municipality {
    Municipality {
        id: id.into(),
        name: name.into(),
        country: &COUNTRIES[0],
        region: Some(region.into()),
        domain: None,
        domain_problem: None,
        website: None,
        osm_relation_id: rel,
        population: Some(pop),
        origin: SeedOrigin {
            file: PathBuf::from("test.json"),
            line: 1,
            index: 0,
        },
    }
}

/// A unit square at `x` as its own closed arc `arc`.
fn square(x: f64) -> Vec<[f64; 2]> {
    vec![[x, 0.0], [x + 1.0, 0.0], [x + 1.0, 1.0], [x, 1.0], [x, 0.0]]
}

fn feature(arc: i64, props: serde_json::Value, rel: Option<u64>) -> Feature {
    let properties = props.as_object().cloned().unwrap_or_default();
    Feature {
        id: rel.map(|r| format!("relation/{r}")),
        osm_relation: rel,
        name: properties
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        properties,
        polygons: vec![Polygon {
            rings: vec![vec![arc]],
        }],
    }
}

fn layer(features: Vec<Feature>) -> Layer {
    let n = features.len();
    Layer {
        topo: Topo::new((0..n).map(|i| square(i as f64)).collect()),
        features,
        ..Layer::default()
    }
}

#[test]
fn codes_and_names_fold_for_joining() {
    assert_eq!(code_digits("IT-COM-084001"), "084001");
    assert_eq!(code_digits("DE-01060012"), "01060012");
    let f = feature(0, serde_json::json!({"name": "DE-01060"}), None);
    assert_eq!(district_code(&f).as_deref(), Some("01060"));
    let f = feature(
        0,
        serde_json::json!({"name": "Agrigento", "ref:ISTAT": "084"}),
        None,
    );
    assert_eq!(district_code(&f).as_deref(), Some("084"));
    let f = feature(0, serde_json::json!({"name": "England"}), None);
    assert_eq!(district_code(&f), None);
    assert_eq!(
        area_name_key("Province of Jaén"),
        area_name_key("Jaén Province")
    );
    assert_eq!(area_name_key("Kyiv Oblast"), "kyiv");
}

/// Germany: a city that is its own district is missing from the municipality file and
/// joins the supplementary cities file by its relation; a seed without relation joins
/// by a unique name; one whose relation is in no file stays undrawn.
#[test]
fn municipality_level_uses_the_cities_file_and_unique_names() {
    let seeds = [
        place("DE-01060001", "Dorf", "Schleswig-Holstein", Some(1), 100),
        place(
            "DE-01001000",
            "Flensburg",
            "Schleswig-Holstein",
            Some(27020),
            90_000,
        ),
        place("DE-01060002", "Namedorf", "Schleswig-Holstein", None, 50),
        place(
            "DE-01060003",
            "Verschwunden",
            "Schleswig-Holstein",
            Some(99),
            10,
        ),
    ];
    let places: Vec<&Municipality> = seeds.iter().collect();
    let sources = Sources {
        layers: [
            Some(layer(vec![
                feature(0, serde_json::json!({"name": "Dorf"}), Some(1)),
                feature(1, serde_json::json!({"name": "Namedorf"}), Some(2)),
            ])),
            Some(layer(vec![feature(
                0,
                serde_json::json!({"name": "Flensburg"}),
                Some(27020),
            )])),
            None,
            None,
        ],
    };
    let level = municipality_level(&places, &sources).unwrap();
    assert_eq!(level.drawn, 3);
    assert_eq!(level.drawn_population, 90_150);
    let flensburg = level.areas.iter().find(|a| a.key == "DE-01001000").unwrap();
    assert_eq!(flensburg.source, CITIES);
    assert!(level.areas.iter().any(|a| a.key == "DE-01060002"));
    assert!(!level.areas.iter().any(|a| a.members.contains(&3)));
}

/// Italy: comuni join their province by the first digits of the ISTAT code; a region
/// without any matching province (Valle d'Aosta) is drawn whole; the finest level is
/// the province level, as the municipality file covers too few.
#[test]
fn italy_is_drawn_by_province_with_whole_regions_where_no_province_matches() {
    let seeds = [
        place("IT-COM-084001", "Agrigento", "Sicilia", Some(10), 1),
        place(
            "IT-COM-084002",
            "Alessandria della Rocca",
            "Sicilia",
            Some(11),
            1,
        ),
        place("IT-COM-007001", "Allein", "Valle d'Aosta", Some(12), 1),
        place("IT-COM-007002", "Antey", "Valle d'Aosta", Some(13), 1),
        place("IT-COM-001001", "Agliè", "Piemonte", Some(14), 1),
    ];
    let places: Vec<&Municipality> = seeds.iter().collect();
    let sources = Sources {
        layers: [
            Some(layer(vec![feature(
                0,
                serde_json::json!({"name": "Agrigento"}),
                Some(10),
            )])),
            None,
            Some(layer(vec![
                feature(
                    0,
                    serde_json::json!({"name": "Agrigento", "ref:ISTAT": "084"}),
                    None,
                ),
                feature(
                    1,
                    serde_json::json!({"name": "Torino", "ref:ISTAT": "001"}),
                    None,
                ),
            ])),
            Some(layer(vec![
                feature(
                    0,
                    serde_json::json!({"name": "Sicilia", "name:en": "Sicily"}),
                    None,
                ),
                feature(
                    1,
                    serde_json::json!({"name": "Valle d'Aosta/Vallée d'Aoste", "name:it": "Valle d'Aosta"}),
                    None,
                ),
                feature(2, serde_json::json!({"name": "Piemonte"}), None),
            ])),
        ],
    };
    let groups = vec![
        ("Piemonte".to_string(), "piemonte".to_string(), vec![4]),
        ("Sicilia".to_string(), "sicilia".to_string(), vec![0, 1]),
        (
            "Valle d'Aosta".to_string(),
            "valle-d-aosta".to_string(),
            vec![2, 3],
        ),
    ];
    let municipal = municipality_level(&places, &sources).unwrap();
    let regions = region_level(&places, &groups, &sources, Some(&municipal)).unwrap();
    assert_eq!(regions.drawn, 5);
    let districts = district_level(&places, &sources, Some(&regions)).unwrap();
    assert_eq!(districts.drawn, 5, "{:?}", districts.areas);
    let keys: Vec<&str> = districts.areas.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["084", "001", "r:valle-d-aosta"]);
    let levels = [regions, districts, municipal];
    assert_eq!(finest(&levels, 5), Some(1));
    let note = level_note(&levels, 1, 5);
    assert!(note.starts_with("Drawn by districts"), "{note}");
    assert!(note.contains("only 1 of 5 municipalities"), "{note}");
}

/// Spain's seed regions are provinces under varying names: "Province of X", "X
/// Province" and "X" all join; a region no feature is named after is dissolved from
/// its members' own shapes (only those with a shape count as drawn).
#[test]
fn regions_join_by_folded_names_or_dissolve() {
    let seeds = [
        place("ES-1", "A", "Province of Jaén", Some(1), 1),
        place("ES-2", "B", "Ourense", Some(2), 1),
        place("ES-3", "C", "Comarca sin fichero", Some(3), 1),
        place("ES-4", "D", "Comarca sin fichero", Some(4), 1),
    ];
    let places: Vec<&Municipality> = seeds.iter().collect();
    let sources = Sources {
        layers: [
            Some(layer(vec![feature(
                0,
                serde_json::json!({"name": "C"}),
                Some(3),
            )])),
            None,
            None,
            Some(layer(vec![
                feature(0, serde_json::json!({"name": "Jaén Province"}), None),
                feature(1, serde_json::json!({"name": "Ourense Province"}), None),
            ])),
        ],
    };
    let groups = vec![
        (
            "Comarca sin fichero".into(),
            "comarca-sin-fichero".into(),
            vec![2, 3],
        ),
        ("Ourense".into(), "ourense".into(), vec![1]),
        (
            "Province of Jaén".into(),
            "province-of-jaen".into(),
            vec![0],
        ),
    ];
    let municipal = municipality_level(&places, &sources).unwrap();
    let regions = region_level(&places, &groups, &sources, Some(&municipal)).unwrap();
    assert_eq!(regions.areas.len(), 3);
    assert_eq!(regions.drawn, 3);
    let dissolved = &regions.areas[0];
    assert_eq!(dissolved.source, MUNICIPAL);
    assert_eq!(dissolved.members, vec![2]);
    assert_eq!(finest(&[regions, municipal], 4), Some(0));
}

/// On the repository's seeds and boundaries: the drawn share per country at its finest
/// level, printed (`cargo test --lib drawn_share -- --nocapture`). Germany draws at
/// least 99 % of its municipalities or population by municipality (the cities that are
/// their own district from the cities file); Italy draws every comune by province.
#[test]
fn drawn_share_per_country_on_the_real_boundaries() {
    let base = std::env::var_os("MXMAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let (seeds_dir, geodata) = (base.join("seeds"), base.join("geodata"));
    if !seeds_dir.is_dir() || !geodata.is_dir() {
        eprintln!("skipped: no seeds or geodata under {}", base.display());
        return;
    }
    let seeds = crate::seeds::load(&seeds_dir, None).expect("seeds");
    let mut by_country: std::collections::BTreeMap<&str, Vec<&Municipality>> = Default::default();
    for m in &seeds.municipalities {
        by_country.entry(m.country.code).or_default().push(m);
    }
    let load = |cc: &str, suffix: &str| {
        let p = geodata.join(format!("{cc}{suffix}.topo.json"));
        p.is_file()
            .then(|| crate::geo::load_layer(&p).ok())
            .flatten()
    };
    let mut shares = std::collections::BTreeMap::new();
    for (cc, places) in &by_country {
        let sources = Sources {
            layers: [
                load(cc, ""),
                load(cc, ".cities"),
                load(cc, ".districts"),
                load(cc, ".regions"),
            ],
        };
        let groups = super::super::stats::region_groups(
            places
                .iter()
                .enumerate()
                .filter_map(|(k, p)| p.region.as_deref().map(|r| (r, k))),
        );
        let municipal = municipality_level(places, &sources);
        let regions = region_level(places, &groups, &sources, municipal.as_ref());
        let districts = district_level(places, &sources, regions.as_ref());
        let all: Vec<Level> = [regions, districts, municipal]
            .into_iter()
            .flatten()
            .collect();
        let total_pop: u64 = places.iter().filter_map(|p| p.population).sum();
        let Some(f) = finest(&all, places.len()) else {
            println!("{cc}: no map ({} municipalities)", places.len());
            shares.insert(*cc, (LevelKind::Regions, 0.0, 0.0));
            continue;
        };
        let l = &all[f];
        let share = 100.0 * l.drawn as f64 / places.len() as f64;
        let pop = 100.0 * l.drawn_population as f64 / total_pop.max(1) as f64;
        println!(
            "{cc}: {} {}/{} municipalities ({share:.1} %), population {pop:.1} %",
            l.kind.slug(),
            l.drawn,
            places.len()
        );
        shares.insert(*cc, (l.kind, share, pop));
    }
    let (kind, share, pop) = shares["de"];
    assert_eq!(kind, LevelKind::Municipalities);
    assert!(
        share >= 99.0 || pop >= 99.0,
        "Germany {share:.1} % / {pop:.1} %"
    );
    let (kind, share, _) = shares["it"];
    assert_eq!(kind, LevelKind::Districts);
    assert!(share >= 100.0, "Italy {share:.1} %");
    // Spain by the seeds' provinces: 112 seeds name a municipality or comarca the
    // region file lacks instead of their province, and stay off the map.
    let (kind, share, _) = shares["es"];
    assert_eq!(kind, LevelKind::Regions);
    assert!(share >= 98.5, "Spain {share:.1} %");
}

/// A country where nothing joins (Azerbaijan: one polygon for the whole country) is
/// drawn as one area holding every municipality, and the page says so.
#[test]
fn a_country_without_joins_is_one_area() {
    let seeds = [
        place("AZ-1", "A", "X", Some(1), 1),
        place("AZ-2", "B", "Y", None, 1),
    ];
    let places: Vec<&Municipality> = seeds.iter().collect();
    let sources = Sources {
        layers: [
            Some(layer(vec![feature(
                0,
                serde_json::json!({"name": "Azerbaijan"}),
                Some(9),
            )])),
            None,
            None,
            None,
        ],
    };
    let municipal = municipality_level(&places, &sources).unwrap();
    assert_eq!(municipal.drawn, 0);
    let whole = country_level("az", &places, &sources).unwrap();
    assert_eq!(whole.drawn, 2);
    assert_eq!(whole.areas[0].key, COUNTRY_KEY);
    let note = level_note(&[whole], 0, 2);
    assert!(note.starts_with("Drawn as one area"), "{note}");
}

/// A Land from the region file takes its members' shapes from the cities file along
/// (the region file leaves Flensburg out), so the city is inside its region's area.
#[test]
fn regions_carry_their_cities_from_the_cities_file() {
    let seeds = [
        place("DE-01060001", "Dorf", "Schleswig-Holstein", Some(1), 100),
        place(
            "DE-01001000",
            "Flensburg",
            "Schleswig-Holstein",
            Some(27020),
            90_000,
        ),
        place("DE-02000000", "Hamburg", "Hamburg", Some(62782), 1_800_000),
    ];
    let places: Vec<&Municipality> = seeds.iter().collect();
    let sources = Sources {
        layers: [
            Some(layer(vec![feature(
                0,
                serde_json::json!({"name": "Dorf"}),
                Some(1),
            )])),
            Some(layer(vec![
                feature(0, serde_json::json!({"name": "Flensburg"}), Some(27020)),
                feature(1, serde_json::json!({"name": "Hamburg"}), Some(62782)),
            ])),
            None,
            Some(layer(vec![
                feature(0, serde_json::json!({"name": "Schleswig-Holstein"}), None),
                feature(1, serde_json::json!({"name": "Hamburg"}), None),
            ])),
        ],
    };
    let groups = vec![
        ("Hamburg".to_string(), "hamburg".to_string(), vec![2]),
        (
            "Schleswig-Holstein".to_string(),
            "schleswig-holstein".to_string(),
            vec![0, 1],
        ),
    ];
    let municipal = municipality_level(&places, &sources).unwrap();
    let regions = region_level(&places, &groups, &sources, Some(&municipal)).unwrap();
    let sh = regions
        .areas
        .iter()
        .find(|a| a.key == "r:schleswig-holstein")
        .unwrap();
    assert_eq!(sh.source, REGIONS);
    assert_eq!(sh.extra.len(), 1);
    assert_eq!(sh.extra[0].0, CITIES);
    assert_eq!(sh.extra[0].1.len(), 1, "Flensburg's polygon");
    assert_eq!(regions.drawn, 3);
}
