//! The complete site, end to end with the real binary on the fixture world: no broken
//! internal link or missing asset anywhere, every page parses as valid HTML, two
//! consecutive builds with a changed verdict show the change on `/changes/`, in the
//! feed and on the municipality's timeline, and the search page finds a municipality by
//! a query without diacritics in headless Chromium.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use scraper::{Html, Selector};

struct Built {
    _tmp: tempfile::TempDir,
    site: PathBuf,
}

/// Builds the fixture twice: the second run forces EE-T00 onto another provider, so
/// the history has one change to show.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let site = dir.join("site");
        let build = |overrides: &Path| {
            let mut cmd = mxmap(&dir);
            cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
                .arg("--world")
                .arg(fixture("world"))
                .arg("--seeds")
                .arg(fixture("seeds"))
                .arg("--overrides")
                .arg(overrides)
                // The shared boundary fixture plus a district file, so region tables
                // have a district column to show.
                .arg("--geodata")
                .arg(fixture("geodata-districts"))
                .arg("--cache")
                .arg(dir.join("cache.json"))
                .args(["--site-url", "https://mxmap.test/", "--max-churn", "0.5"])
                .arg("--out")
                .arg(&site);
            ok(&run(cmd, Duration::from_secs(120)));
        };
        build(&fixture("overrides.toml"));
        // Run times have one-second resolution and name the history files.
        std::thread::sleep(Duration::from_millis(1100));
        let changed = dir.join("overrides.toml");
        let mut text = std::fs::read_to_string(fixture("overrides.toml")).unwrap();
        text.push_str(
            "\n[[override]]\nid = \"EE-T00\"\nkind = \"provider\"\nvalue = \"google\"\nmode = \"force\"\nreason = \"Test: a changed verdict.\"\nsource = \"test\"\nreviewed = \"2026-11-01\"\n",
        );
        std::fs::write(&changed, text).unwrap();
        build(&changed);
        assert!(dir.join("history").is_dir(), "history kept beside the cache");
        Built { _tmp: tmp, site }
    })
}

fn html_files(site: &Path) -> Vec<PathBuf> {
    files_under(site)
        .into_iter()
        .filter(|f| f.extension().and_then(|e| e.to_str()) == Some("html"))
        .collect()
}

/// Resolves a link found in `page` (relative to the site) to a file of the site.
fn target(site: &Path, page: &Path, link: &str) -> Option<PathBuf> {
    let link = link.split(['#', '?']).next().unwrap_or("");
    if link.is_empty() || link.contains("://") || link.starts_with("mailto:") {
        return None;
    }
    let base = if link.starts_with('/') {
        site.to_path_buf()
    } else {
        site.join(page).parent().unwrap().to_path_buf()
    };
    let mut path = base;
    for part in link.trim_start_matches('/').split('/') {
        match part {
            "" | "." => {}
            ".." => {
                path.pop();
            }
            p => path.push(p),
        }
    }
    if link.ends_with('/') || path.is_dir() {
        path.push("index.html");
    }
    Some(path)
}

#[test]
fn no_broken_internal_link_or_missing_asset() {
    let site = &built().site;
    let links = Selector::parse("a[href], link[href], script[src], img[src]").unwrap();
    let mut checked = 0;
    let mut broken = BTreeSet::new();
    for page in html_files(site) {
        let html = Html::parse_document(&std::fs::read_to_string(site.join(&page)).unwrap());
        for el in html.select(&links) {
            let v = el.value();
            let link = v.attr("href").or_else(|| v.attr("src")).unwrap();
            // The 404 page links absolutely to the public site.
            if let Some(rest) = link.strip_prefix("https://mxmap.test/") {
                let file = target(site, Path::new("index.html"), rest)
                    .unwrap_or_else(|| site.join("index.html"));
                if !file.is_file() {
                    broken.insert(format!("{} → {link}", page.display()));
                }
                checked += 1;
                continue;
            }
            let Some(file) = target(site, &page, link) else {
                continue;
            };
            checked += 1;
            if !file.is_file() {
                broken.insert(format!("{} → {link}", page.display()));
            }
        }
    }
    assert!(checked > 500, "only {checked} links checked");
    assert!(
        broken.is_empty(),
        "{} broken links:\n{}",
        broken.len(),
        broken.into_iter().take(30).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_page_is_valid_html() {
    let site = &built().site;
    let mut kinds = BTreeSet::new();
    for page in html_files(site) {
        let text = std::fs::read_to_string(site.join(&page)).unwrap();
        assert!(
            text.starts_with("<!doctype html>") || text.starts_with("<!DOCTYPE html>"),
            "{}",
            page.display()
        );
        let html = Html::parse_document(&text);
        assert!(
            html.errors.is_empty(),
            "{}: {:?}",
            page.display(),
            html.errors
        );
        let first = page
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        kinds.insert(if page.components().count() > 2 {
            format!("{first}/…")
        } else {
            first
        });
    }
    // Every template was rendered at least once.
    for expected in [
        "index.html",
        "404.html",
        "search",
        "a-z",
        "p",
        "data",
        "changes",
        "methodology",
        "ee",
        "ee/…",
    ] {
        assert!(
            kinds
                .iter()
                .any(|k| k == expected || k.starts_with(expected)),
            "no {expected} page among {kinds:?}"
        );
    }
}

#[test]
fn municipality_pages_list_neighbours_and_country_pages_rank_regions() {
    let site = &built().site;
    let data = data_json(site);
    let region = "Fixture maakond";
    let in_region: Vec<&serde_json::Value> =
        data.iter().filter(|r| r["region"] == region).collect();
    assert!(in_region.len() > 9, "the fixture region has enough members");
    let sel = |css: &str| Selector::parse(css).unwrap();
    for r in &in_region {
        let page = r["page"].as_str().unwrap();
        let html = Html::parse_document(
            &std::fs::read_to_string(site.join(page).join("index.html")).unwrap(),
        );
        let heading: String = html
            .select(&sel("#near-h"))
            .next()
            .unwrap_or_else(|| panic!("{page}: no nearby section"))
            .text()
            .collect();
        assert_eq!(heading, format!("Nearby in {region}"));
        let links: Vec<String> = html
            .select(&sel("ul.nearby a"))
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        assert_eq!(links.len(), 8, "{page}: {links:?}");
        // Structured data: the organisation and its breadcrumb trail through the region.
        let ld: serde_json::Value = serde_json::from_str(
            &html
                .select(&sel("script[type='application/ld+json']"))
                .next()
                .expect("JSON-LD")
                .inner_html(),
        )
        .unwrap();
        let crumbs: Vec<&str> = ld["@graph"][1]["itemListElement"]
            .as_array()
            .expect("BreadcrumbList")
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            crumbs,
            ["Europe", "Estonia", region, r["name"].as_str().unwrap()],
            "{page}"
        );
        // Every neighbour is another member of the same region.
        for link in &links {
            let target = Path::new(page).join(link);
            let target = target.to_string_lossy();
            let slug = target.trim_end_matches('/').rsplit('/').next().unwrap();
            let neighbour = in_region
                .iter()
                .find(|n| {
                    n["page"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches('/')
                        .ends_with(slug)
                })
                .unwrap_or_else(|| panic!("{page}: {link} is not in {region}"));
            assert_ne!(neighbour["id"], r["id"], "{page} lists itself");
        }
    }
    // The country page names its extremes only among regions large enough, and ranks
    // regions with a grade column.
    let country =
        Html::parse_document(&std::fs::read_to_string(site.join("ee/index.html")).unwrap());
    let cards: Vec<String> = country
        .select(&sel(".extremes .kpi"))
        .map(|k| k.text().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert!(
        cards[0].starts_with("Most domestic region") && cards[0].contains(region),
        "{cards:?}"
    );
    assert!(cards[1].starts_with("Most exposed region"), "{cards:?}");
    let headers: Vec<String> = country
        .select(&sel("section[aria-labelledby=reg-h] th"))
        .map(|th| th.text().collect())
        .collect();
    assert!(headers.iter().any(|h| h == "Grade ≥ B %"), "{headers:?}");
}

/// Region tables show each municipality's district from the district file (the
/// fixture's `ee.districts.topo.json` joins EE-T00 and EE-T01 by code) instead of the
/// region every row shares; a country without a district file has no such column.
#[test]
fn region_tables_show_the_district_where_the_boundaries_give_one() {
    let site = &built().site;
    let table = |page: &str| -> (Vec<String>, Vec<Vec<String>>) {
        let html = Html::parse_document(&std::fs::read_to_string(site.join(page)).unwrap());
        let headers = html
            .select(&Selector::parse("table.list thead th").unwrap())
            .map(|th| th.text().collect())
            .collect();
        let rows = html
            .select(&Selector::parse("table.list tbody tr").unwrap())
            .map(|tr| {
                tr.select(&Selector::parse("td").unwrap())
                    .map(|td| td.text().collect::<String>())
                    .collect()
            })
            .collect();
        (headers, rows)
    };
    let (headers, rows) = table("ee/fixture-maakond/index.html");
    assert_eq!(
        headers[..3],
        ["Municipality", "District", "Domain"],
        "{headers:?}"
    );
    let district_of = |name: &str| -> String {
        rows.iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {rows:?}"))[1]
            .clone()
    };
    assert_eq!(district_of("Test Direct"), "Direct vald");
    assert_eq!(district_of("Test Alias"), "Alias vald");
    // Municipalities no district code matches have an empty cell, not a guess.
    assert_eq!(district_of("Test Own"), "");
    assert!(rows.iter().all(|r| r.len() == headers.len()), "{rows:?}");
    // The country page's table keeps the region and adds the district.
    let (headers, _) = table("ee/index.html");
    assert_eq!(
        headers[..4],
        ["Municipality", "Region", "District", "Domain"],
        "{headers:?}"
    );
    // Germany's fixture has no district file: no district column on its region page.
    let (headers, rows) = table("de/fixture/index.html");
    assert!(!rows.is_empty());
    assert!(
        !headers.iter().any(|h| h.starts_with("District")),
        "{headers:?}"
    );
    assert!(!headers.iter().any(|h| h == "Region"), "{headers:?}");
}

#[test]
fn per_country_downloads_match_data_json_and_their_checksums() {
    use sha2::{Digest, Sha256};
    let site = &built().site;
    let data = data_json(site);
    let sums = std::fs::read_to_string(site.join("data/SHA256SUMS")).expect("SHA256SUMS");
    let mut listed = BTreeSet::new();
    for line in sums.lines() {
        let (hash, path) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(site.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), hash, "{path}");
        listed.insert(path.to_string());
    }
    for path in ["data.json", "data.csv", "countries.json", "data/ee.csv"] {
        assert!(
            listed.contains(path),
            "{path} not in SHA256SUMS: {listed:?}"
        );
    }
    for cc in ["ee", "de"] {
        let expected: Vec<&serde_json::Value> = data
            .iter()
            .filter(|r| {
                r["country"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(cc))
            })
            .collect();
        assert!(!expected.is_empty(), "{cc}");
        // The JSON records live once, in data.json (issue 14's budget).
        assert!(
            !site.join(format!("data/{cc}.json")).exists(),
            "{cc}.json repeats data.json"
        );
        let csv = std::fs::read_to_string(site.join(format!("data/{cc}.csv"))).unwrap();
        assert_eq!(
            csv.lines().count(),
            expected.len() + 1,
            "{cc}.csv: header + rows"
        );
    }
    // The DCAT catalogue lists every file with the same checksum.
    let catalog: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("data/catalog.jsonld")).unwrap()).unwrap();
    let distributions = catalog["dcat:dataset"]["dcat:distribution"]
        .as_array()
        .expect("distributions");
    assert_eq!(distributions.len(), listed.len());
    for line in sums.lines() {
        let (hash, path) = line.split_once("  ").unwrap();
        assert!(
            distributions.iter().any(|d| d["dct:title"] == path
                && d["spdx:checksum"]["spdx:checksumValue"] == hash),
            "{path} missing from catalog.jsonld"
        );
    }
    // The downloads page names each file with its rows.
    let page = std::fs::read_to_string(site.join("data/index.html")).unwrap();
    let html = Html::parse_document(&page);
    let rows: Vec<String> = html
        .select(&Selector::parse("tbody tr").unwrap())
        .map(|r| r.text().collect::<Vec<_>>().join(" "))
        .collect();
    let estonia = rows
        .iter()
        .find(|r| r.starts_with("Estonia"))
        .expect("Estonia row");
    let ee = data.iter().filter(|r| r["country"] == "ee").count();
    assert!(ee > 0);
    assert!(estonia.contains(&format!("{ee} rows")), "{estonia}");
}

#[test]
fn provider_by_country_pages_list_exactly_their_municipalities() {
    let site = &built().site;
    let data = data_json(site);
    for cc in ["ee", "de"] {
        let mut expected: Vec<String> = data
            .iter()
            .filter(|r| r["country"] == cc && r["provider"] == "microsoft")
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        let path = site.join(format!("p/microsoft/{cc}/index.html"));
        if expected.is_empty() {
            assert!(!path.exists(), "{} without municipalities", path.display());
            continue;
        }
        let html = Html::parse_document(&std::fs::read_to_string(&path).unwrap());
        let mut listed: Vec<String> = html
            .select(&Selector::parse("table.list tbody tr td:first-child a").unwrap())
            .map(|a| a.text().collect())
            .collect();
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected, "{cc}");
    }
}

#[test]
fn anomalies_pages_list_the_verdicts_to_check() {
    let site = &built().site;
    let data = data_json(site);
    for cc in ["ee", "de"] {
        let mut expected: Vec<String> = data
            .iter()
            .filter(|r| r["country"] == cc)
            .filter(|r| {
                r["category"] == "unknown"
                    || matches!(r["confidence_band"].as_str(), Some("low" | "none"))
                    || matches!(r["scan_status"].as_str(), Some("error" | "partial"))
            })
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        let html = Html::parse_document(
            &std::fs::read_to_string(site.join(format!("{cc}/anomalies/index.html"))).unwrap(),
        );
        let mut listed: Vec<String> = html
            .select(&Selector::parse("table.list tbody tr td:first-child a").unwrap())
            .map(|a| a.text().collect())
            .collect();
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected, "{cc}");
    }
}

#[test]
fn a_changed_verdict_shows_on_changes_feed_and_timeline() {
    let site = &built().site;
    let changes = std::fs::read_to_string(site.join("changes/index.html")).unwrap();
    let html = Html::parse_document(&changes);
    let rows = Selector::parse("table tbody tr").unwrap();
    let row = html
        .select(&rows)
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .find(|t| t.contains("Test Direct"))
        .expect("the changed municipality is listed");
    assert!(
        row.contains("provider switch") && row.contains("Google"),
        "{row}"
    );
    // The newest run has a page of its own, linked from the list, with the change.
    let run_link = html
        .select(&Selector::parse("section h2 a").unwrap())
        .next()
        .and_then(|a| a.value().attr("href"))
        .expect("the newest run links to its page")
        .to_string();
    let run_page = std::fs::read_to_string(site.join("changes").join(&run_link).join("index.html"))
        .unwrap_or_else(|e| panic!("changes/{run_link}: {e}"));
    let run_html = Html::parse_document(&run_page);
    assert!(
        run_html
            .select(&rows)
            .map(|r| r.text().collect::<String>())
            .any(|t| t.contains("Test Direct") && t.contains("provider switch")),
        "changes/{run_link} lists the switch"
    );
    assert!(
        run_html
            .select(&Selector::parse("a[rel=prev]").unwrap())
            .next()
            .is_some(),
        "the second run links to the first"
    );
    let feed = std::fs::read_to_string(site.join("changes/feed.xml")).unwrap();
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert_eq!(feed.matches("<entry>").count(), 2, "one entry per run");
    assert!(feed.contains("Test Direct — provider switch"), "{feed}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("changes/feed.json")).unwrap()).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    let items = json["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "one item per run");
    assert!(
        items[0]["content_text"]
            .as_str()
            .is_some_and(|t| t.contains("Test Direct — provider switch")),
        "{items:?}"
    );
    let data = data_json(site);
    let page = data
        .iter()
        .find(|r| r["id"] == "EE-T00")
        .and_then(|r| r["page"].as_str())
        .unwrap();
    let municipality = std::fs::read_to_string(site.join(page).join("index.html")).unwrap();
    let html = Html::parse_document(&municipality);
    let timeline = Selector::parse("ol.timeline li").unwrap();
    let events: Vec<String> = html.select(&timeline).map(|e| e.text().collect()).collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("provider switch") && e.contains("Google")),
        "{events:?}"
    );
    // The sitemap lists the pages under the configured address.
    let sitemap = std::fs::read_to_string(site.join("sitemaps/ee.xml")).unwrap();
    assert!(sitemap.contains(&format!("<loc>https://mxmap.test/{page}</loc>")));
    assert!(
        std::fs::read_to_string(site.join("robots.txt"))
            .unwrap()
            .contains("Sitemap: https://mxmap.test/sitemap.xml")
    );
}

#[test]
fn search_finds_a_municipality_without_diacritics_in_chromium() {
    let site = &built().site;
    let Some(browser) = chromium() else {
        skip_missing("Debian's chromium (browser checks)");
        return;
    };
    let server = StaticServer::start(site);
    let shots = artifacts();
    for (page, shot) in [
        ("", "site-overview.png"),
        ("ee/", "site-country.png"),
        ("search/?q=Jogeva", "site-search.png"),
    ] {
        let seen = visit(
            &browser,
            &format!("{}{page}", server.base),
            &shots.join(shot),
        );
        let errors: Vec<&String> = seen
            .console
            .iter()
            .filter(|l| l.contains("ERROR") || l.contains("Uncaught"))
            .collect();
        assert!(errors.is_empty(), "{page}: console errors {errors:?}");
        if page.starts_with("search") {
            let dom = Html::parse_document(&seen.dom);
            let hits = Selector::parse("#results li a").unwrap();
            let names: Vec<String> = dom.select(&hits).map(|a| a.text().collect()).collect();
            assert!(
                names.iter().any(|n| n == "Jõgeva Test"),
                "search found {names:?}"
            );
        }
    }
    // Filters are progressive enhancement with their state in the address: the region
    // table filtered by a query without diacritics keeps only the matching rows.
    let seen = visit(
        &browser,
        &format!("{}ee/fixture-maakond/?filter=jogeva", server.base),
        &shots.join("site-region-filtered.png"),
    );
    let dom = Html::parse_document(&seen.dom);
    let rows = Selector::parse("table.filterable tbody tr").unwrap();
    let visible: Vec<String> = dom
        .select(&rows)
        .filter(|r| r.value().attr("hidden").is_none())
        .map(|r| r.text().collect())
        .collect();
    let total = dom.select(&rows).count();
    assert!(total > 10, "{total}");
    assert!(
        !visible.is_empty() && visible.iter().all(|r| r.contains("Jõgeva")),
        "{visible:?}"
    );
    let counter = Selector::parse(".filters output").unwrap();
    let counted: String = dom
        .select(&counter)
        .next()
        .expect("counter")
        .text()
        .collect();
    assert_eq!(counted.trim(), format!("{} of {total} rows", visible.len()));
    let seen = visit(
        &browser,
        &format!("{}ee/security/", server.base),
        &shots.join("site-security.png"),
    );
    assert!(
        !seen
            .console
            .iter()
            .any(|l| l.contains("ERROR") || l.contains("Uncaught")),
        "{:?}",
        seen.console
    );
    let data = data_json(site);
    let page = data[0]["page"].as_str().unwrap();
    let seen = visit(
        &browser,
        &format!("{}{page}", server.base),
        &shots.join("site-municipality.png"),
    );
    assert!(
        !seen.console.iter().any(|l| l.contains("ERROR")),
        "{:?}",
        seen.console
    );
}

/// kpi.json holds the numbers the pages print: the key figures of the overview and of
/// every country page, read from the rendered HTML.
#[test]
fn kpi_json_equals_what_the_pages_print() {
    let site = &built().site;
    let kpi: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("data/kpi.json")).unwrap()).unwrap();
    let figures = |page: &str| -> Vec<String> {
        let html = Html::parse_document(&std::fs::read_to_string(site.join(page)).unwrap());
        html.select(&Selector::parse("div.kpi span.v").unwrap())
            .map(|v| v.text().collect::<String>().trim().to_string())
            .collect()
    };
    let printed = |scope: &serde_json::Value, id: &str| -> String {
        let index = scope["indices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("index {id}"));
        assert!(kpi["definitions"][id].is_string(), "{id} has a definition");
        // The grade figure is `—` when nothing was graded.
        if id == "grade_b_or_better_share" && index["denominator"] == 0 {
            return "—".into();
        }
        format!("{:.1} %", index["pct"].as_f64().unwrap())
    };
    // The key figures of `page` are those of `scope`.
    let check = |page: &str, scope: &serde_json::Value| {
        let shown = figures(page);
        for id in [
            "us_hyperscaler_share",
            "domestic_share",
            "grade_b_or_better_share",
        ] {
            assert!(
                shown.contains(&printed(scope, id)),
                "{page} {id}: {shown:?}"
            );
        }
    };
    let europe = &kpi["europe"];
    check("index.html", europe);
    let countries = kpi["countries"].as_object().unwrap();
    assert!(!countries.is_empty());
    let mut total = 0;
    for (code, scope) in countries {
        check(&format!("{code}/index.html"), scope);
        total += scope["totals"]["municipalities"].as_u64().unwrap();
        let buckets: u64 = scope["buckets"]["category"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            buckets,
            scope["totals"]["municipalities"].as_u64().unwrap(),
            "{code}"
        );
    }
    assert_eq!(Some(total), europe["totals"]["municipalities"].as_u64());
}

/// The overview's Europe map comes three ways (US hyperscaler share, domestic share,
/// grade ≥ B), switched by radio buttons and CSS alone; every country shape links to
/// its report or its security report.
#[test]
fn overview_map_toggles_between_three_measures_without_javascript() {
    let site = &built().site;
    let html = Html::parse_document(&std::fs::read_to_string(site.join("index.html")).unwrap());
    let radios: Vec<_> = html
        .select(&Selector::parse(".maptabs > input[type=radio][name=emap]").unwrap())
        .collect();
    assert_eq!(radios.len(), 3);
    assert_eq!(
        radios
            .iter()
            .filter(|r| r.value().attr("checked").is_some())
            .count(),
        1,
        "one measure is shown by default"
    );
    for (panel, href_end) in [("p-us", "/"), ("p-dom", "/"), ("p-sec", "/security/")] {
        let selector =
            Selector::parse(&format!(".maptabs > .mappanel.{panel} svg.map.europe")).unwrap();
        let svg = html
            .select(&selector)
            .next()
            .unwrap_or_else(|| panic!("{panel} holds a Europe map"));
        let links: Vec<&str> = svg
            .select(&Selector::parse("a").unwrap())
            .filter_map(|a| a.value().attr("href"))
            .collect();
        assert!(!links.is_empty(), "{panel}");
        for link in links {
            assert!(
                link.len() > 2 && link.ends_with(href_end) && !link.starts_with(".."),
                "{panel}: {link}"
            );
        }
    }
}

/// Region pages carry a map of their own municipalities (those with a boundary), each
/// shape linked to the municipality's page, and nothing from outside the region.
#[test]
fn region_pages_map_exactly_their_municipalities() {
    let site = &built().site;
    let mut mapped_regions = 0;
    for entry in std::fs::read_dir(site.join("ee")).unwrap() {
        let page = entry.unwrap().path().join("index.html");
        let Ok(text) = std::fs::read_to_string(&page) else {
            continue;
        };
        let html = Html::parse_document(&text);
        let Some(map) = html
            .select(&Selector::parse("svg.map.zoomed").unwrap())
            .next()
        else {
            continue;
        };
        mapped_regions += 1;
        let listed: std::collections::HashSet<String> = html
            .select(&Selector::parse("table tbody tr td:first-child a").unwrap())
            .filter_map(|a| a.value().attr("href").map(str::to_string))
            .collect();
        let shapes: Vec<String> = map
            .select(&Selector::parse("a").unwrap())
            .filter_map(|a| a.value().attr("href").map(str::to_string))
            .collect();
        assert!(!shapes.is_empty(), "{}", page.display());
        for href in &shapes {
            assert!(
                listed.contains(href),
                "{}: {href} is not in the region's list",
                page.display()
            );
        }
    }
    assert!(mapped_regions > 0, "some Estonian region has a map");
}

/// No page shows the build machine's paths or the specification's section marks, every
/// page has the icon, the 404 page's stylesheet is root-relative, and counts read well.
#[test]
fn pages_show_no_internals_and_small_defects_are_fixed() {
    let site = &built().site;
    let local = root().display().to_string();
    let mut offenders = BTreeSet::new();
    for page in html_files(site) {
        let text = std::fs::read_to_string(site.join(&page)).unwrap();
        for needle in [local.as_str(), "§", "[A5]", "/tmp/", "signatures.toml"] {
            if text.contains(needle) {
                offenders.insert(format!("{} contains {needle:?}", page.display()));
            }
        }
        if page.file_name().is_some_and(|n| n == "index.html") {
            assert!(
                text.contains("rel=\"icon\"") || text.contains("rel=icon"),
                "{}: no icon",
                page.display()
            );
        }
        // "1 municipalities" is never printed.
        assert!(
            !text.contains(">1 municipalities") && !text.contains(" 1 municipalities"),
            "{}",
            page.display()
        );
    }
    assert!(offenders.is_empty(), "{offenders:?}");
    assert!(site.join("favicon.svg").is_file());
    let not_found = std::fs::read_to_string(site.join("404.html")).unwrap();
    let html = Html::parse_document(&not_found);
    let css = Selector::parse("link[rel=stylesheet]").unwrap();
    let href = html
        .select(&css)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap();
    assert_eq!(href, "/assets/style.css", "root-relative, host-independent");
    // The about page states the licences and the OpenStreetMap attribution.
    let about = std::fs::read_to_string(site.join("about/index.html")).unwrap();
    for needed in ["ODbL", "OpenStreetMap contributors", "id=licences"] {
        assert!(about.contains(needed), "about page lacks {needed}");
    }
}

/// Every provider name on municipality pages, country tables and the A–Z list links to
/// the provider's page (those without one — unknown, self-hosted, third party — stay
/// plain text); rule codes link to their row on the methodology page; a municipality
/// links its record in its country's downloads.
#[test]
fn provider_names_and_rule_codes_link_to_their_pages() {
    let site = &built().site;
    let data = data_json(site);
    let sel = |css: &str| Selector::parse(css).unwrap();
    let methodology = std::fs::read_to_string(site.join("methodology/index.html")).unwrap();
    let mut linked = 0;
    for r in &data {
        let page = r["page"].as_str().unwrap();
        let html = Html::parse_document(
            &std::fs::read_to_string(site.join(page).join("index.html")).unwrap(),
        );
        let provider = r["provider"].as_str().unwrap();
        let link = html
            .select(&sel("section.verdict p.provider strong a"))
            .next()
            .map(|a| a.value().attr("href").unwrap().to_string());
        if matches!(provider, "unknown" | "self-hosted" | "third-party") {
            assert!(link.is_none(), "{page}: {provider} has no page to link");
        } else {
            let link = link.unwrap_or_else(|| panic!("{page}: provider {provider} not linked"));
            assert!(link.ends_with(&format!("p/{provider}/")), "{page}: {link}");
            linked += 1;
        }
        let rule = r["rule"].as_str().unwrap();
        assert!(
            html.select(&sel(&format!("a[href$='methodology/#rule-{rule}']")))
                .next()
                .is_some(),
            "{page}: rule {rule} not linked"
        );
        assert!(
            methodology.contains(&format!("id=rule-{rule}"))
                || methodology.contains(&format!("id=\"rule-{rule}\""))
        );
        let cc = r["country"].as_str().unwrap();
        assert!(
            html.select(&sel(&format!("a[href$='data/{cc}.csv']")))
                .next()
                .is_some(),
            "{page}: no link to its record"
        );
    }
    assert!(linked > 10, "{linked}");
    // The country page links its downloads and A–Z; its provider table links pages.
    let country =
        Html::parse_document(&std::fs::read_to_string(site.join("ee/index.html")).unwrap());
    for href in ["a-z/", "../data/ee.csv", "../data.json"] {
        assert!(
            country
                .select(&sel(&format!("a[href='{href}']")))
                .next()
                .is_some(),
            "ee/ lacks a link to {href}"
        );
    }
    // The A–Z breadcrumb names the country.
    let az =
        Html::parse_document(&std::fs::read_to_string(site.join("ee/a-z/index.html")).unwrap());
    let crumbs: String = az
        .select(&sel("nav[aria-label=Breadcrumb]"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(crumbs.contains("Estonia"), "{crumbs}");
}

/// Phones first: at 360 px no page scrolls sideways, and nothing sticks out but inside
/// its own scroll container (tables); checked in headless Chromium on one page of every
/// kind.
#[test]
fn every_page_kind_fits_a_360_px_phone_in_chromium() {
    let site = &built().site;
    let Some(browser) = chromium() else {
        skip_missing("Debian's chromium (phone-width checks)");
        return;
    };
    let data = data_json(site);
    let mut pages: Vec<String> = [
        "",
        "ee/",
        "de/",
        "ee/a-z/",
        "ee/security/",
        "ee/anomalies/",
        "p/",
        "security/",
        "security/grades/",
        "methodology/",
        "data/",
        "changes/",
        "about/",
        "search/",
        "404.html",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    pages.push(data[0]["page"].as_str().unwrap().to_string());
    pages.push(data[data.len() - 1]["page"].as_str().unwrap().to_string());
    pages.push("ee/fixture-maakond/".into());
    let provider = data
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .find(|p| !matches!(*p, "unknown" | "self-hosted" | "third-party"))
        .unwrap();
    pages.push(format!("p/{provider}/"));
    let fits = common::phone::check(&browser, site, &pages);
    assert_eq!(fits.len(), pages.len(), "probe reported {fits:?}");
    let wide: Vec<&common::phone::PhoneFit> = fits.iter().filter(|f| !f.fits()).collect();
    assert!(wide.is_empty(), "wider than 360 px: {wide:#?}");
}

/// The split search finds a municipality by its mail domain and by its official code,
/// shows region and provider, and loads one small shard per query; arrow keys move
/// from the field into the results.
#[test]
fn search_finds_domains_and_codes_from_one_shard_in_chromium() {
    let site = &built().site;
    assert!(
        !site.join("search/index.json").exists(),
        "no whole index any more"
    );
    let shards: Vec<PathBuf> = files_under(&site.join("search"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(shards.len() > 10, "{shards:?}");
    let Some(browser) = chromium() else {
        skip_missing("Debian's chromium (browser checks)");
        return;
    };
    let data = data_json(site);
    let r = data
        .iter()
        .find(|r| r["domain"].is_string() && r["region"].is_string())
        .expect("a record with domain and region");
    let server = StaticServer::start(site);
    let name = r["name"].as_str().unwrap();
    let id = r["id"].as_str().unwrap();
    for query in [r["domain"].as_str().unwrap(), id] {
        let seen = visit(
            &browser,
            &format!("{}search/?q={query}", server.base),
            &artifacts().join("site-search-key.png"),
        );
        let dom = Html::parse_document(&seen.dom);
        let hits = Selector::parse("#results li").unwrap();
        let rows: Vec<String> = dom.select(&hits).map(|li| li.text().collect()).collect();
        assert!(
            rows.iter().any(|t| t.starts_with(name)
                && t.contains(r["region"].as_str().unwrap())
                && t.contains(r["provider_name"].as_str().unwrap())),
            "{query}: {rows:?}"
        );
    }
    // Keyboard: the results listen for arrow keys (no mouse needed).
    let js = std::fs::read_to_string(site.join("search/search.js")).unwrap();
    assert!(js.contains("ArrowDown") && js.contains("ArrowUp"));
}
