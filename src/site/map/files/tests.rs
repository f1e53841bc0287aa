use std::path::PathBuf;

use super::*;
use crate::countries::COUNTRIES;
use crate::seeds::{Municipality, SeedOrigin};
use crate::site::map::level_geo::AreaGeo;
use crate::site::model::Meta;

fn record(
    id: &str,
    name: &str,
    region: &str,
    category: Category,
    jurisdiction: Jurisdiction,
) -> Record {
    let m = Municipality {
        id: id.into(),
        name: name.into(),
        country: &COUNTRIES[7], // Estonia
        region: Some(region.into()),
        domain: None,
        domain_problem: None,
        website: None,
        osm_relation_id: None,
        population: Some(1000),
        origin: SeedOrigin {
            file: PathBuf::from("ee.json"),
            line: 1,
            index: 0,
        },
    };
    let mut verdict = crate::classify::decide::testkit_verdict(crate::classify::Rule::Mx);
    verdict.provider = format!("p-{}", category.slug());
    verdict.provider_name = format!("Provider {}", category.slug());
    verdict.category = category;
    verdict.jurisdiction = jurisdiction;
    verdict.confidence = 90;
    Record::new(&m, verdict, None, None)
}

fn model() -> SiteModel {
    let records = vec![
        record(
            "EE-1",
            "Alpha",
            "North",
            Category::UsHyperscaler,
            Jurisdiction::Us,
        ),
        record(
            "EE-2",
            "Beta",
            "North",
            Category::LocalIsp,
            Jurisdiction::Domestic,
        ),
        record(
            "EE-3",
            "Gamma",
            "South",
            Category::Unknown,
            Jurisdiction::Unknown,
        ),
    ];
    let meta = Meta {
        generated: String::new(),
        scanner_version: String::new(),
        catalog_version: String::new(),
        rules_version: String::new(),
        dns_source: String::new(),
        municipalities: 3,
        site_url: String::new(),
        report_issue_url: String::new(),
    };
    SiteModel::new(records, &[&COUNTRIES[7]], meta)
}

fn area(key: &str, name: &str, members: &[&str]) -> AreaGeo {
    AreaGeo {
        key: key.into(),
        name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        path: String::new(),
    }
}

/// The writer names each file by its content, keeps areas in TopoJSON order with
/// their member rows and counts, and points the page at the files it wrote.
#[test]
fn country_files_carry_counts_rows_and_hashed_names() {
    let model = model();
    let c = &model.countries[0];
    let levels = CountryLevels {
        levels: vec![
            LevelGeo {
                kind: LevelKind::Regions,
                areas: vec![
                    area("r:north", "North", &["EE-1", "EE-2"]),
                    area("r:south", "South", &["EE-3"]),
                ],
                topojson: "{\"type\":\"Topology\"}".into(),
                drawn: 3,
                drawn_population: 3000,
            },
            LevelGeo {
                kind: LevelKind::Municipalities,
                areas: vec![
                    area("EE-1", "Alpha", &["EE-1"]),
                    area("EE-3", "Gamma", &["EE-3"]),
                ],
                topojson: "{\"type\":\"Topology\",\"x\":1}".into(),
                drawn: 2,
                drawn_population: 2000,
            },
        ],
        finest: 1,
        inline: 1,
        note: "Drawn by municipality".into(),
    };
    let slug = |name: &str| Some(name.to_lowercase());
    let (files, config) = country_files(&model, c, &levels, &slug);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in &names {
        assert!(name.starts_with("data/map/ee/"), "{name}");
    }
    let file = |path: &str| -> Value {
        let bytes = &files.iter().find(|(p, _)| p == path).expect(path).1;
        serde_json::from_slice(bytes).unwrap()
    };
    // Hashed: the same bytes give the same name, other bytes another.
    assert_eq!(
        hashed("d/", "x", "json", b"1".to_vec()).0,
        hashed("d/", "x", "json", b"1".to_vec()).0
    );
    assert_ne!(
        hashed("d/", "x", "json", b"1".to_vec()).0,
        hashed("d/", "x", "json", b"2".to_vec()).0
    );
    assert_eq!(config["default"], "municipalities");
    assert_eq!(config["levels"][0]["kind"], "regions");
    let regions = file(config["levels"][0]["attrs"].as_str().unwrap());
    let north = &regions["a"][0];
    assert_eq!(north[0], "r:north");
    assert_eq!(north[3], "north/");
    // [n, classified, us, domestic, graded, good, population, categories, top, topN]
    assert_eq!(north[4][0], 2);
    assert_eq!(north[4][1], 2);
    assert_eq!(north[4][2], 1);
    assert_eq!(north[4][3], 1);
    assert_eq!(north[4][6], 2000);
    let south = &regions["a"][1];
    assert_eq!(south[4][1], 0, "unknown is not classified");
    let summary = file(config["summary"].as_str().unwrap());
    let rows = summary["r"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let municipal = file(config["levels"][1]["attrs"].as_str().unwrap());
    let gamma_row = municipal["a"][1][2][0].as_u64().unwrap() as usize;
    assert_eq!(rows[gamma_row][0], "EE-3");
    let provider = &summary["p"][rows[gamma_row][3].as_u64().unwrap() as usize];
    assert_eq!(provider[1], "unknown");
    assert_eq!(
        summary["g"][rows[gamma_row][7].as_u64().unwrap() as usize],
        "South"
    );
    let topo = files
        .iter()
        .find(|(p, _)| p.contains("municipalities") && p.ends_with(".topo.json"))
        .unwrap();
    assert_eq!(topo.1, b"{\"type\":\"Topology\",\"x\":1}");
    let detail = file(config["detail"].as_str().unwrap());
    assert!(detail["EE-1"].is_array());
}

/// The Europe file holds a country without an outline nowhere, and the context
/// countries are labelled.
#[test]
fn europe_files_skip_countries_without_outline() {
    let model = model();
    let (files, config) = europe_files(&model, &[None]);
    assert_eq!(files.len(), 2);
    assert_eq!(config["levels"][0]["areas"], 0);
    assert_eq!(config["context"][0][0], "Switzerland");
}
