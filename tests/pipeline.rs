//! End-to-end: the real `mxmap` binary scans fixture zones served by a real DNS server
//! on 127.0.0.1 (`mxmap serve-world` in its own process, behind a fault-injecting
//! proxy), classifies every decision rule, and renders the site.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use scraper::{Html, Selector};
use serde_json::Value;

struct Built {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    site: PathBuf,
    cache: PathBuf,
    stdout: String,
    stderr: String,
    data: Vec<Value>,
}

/// Builds the fixture site once for all tests of this file.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let world = WorldProcess::start(&fixture("world"), &dir);
        let proxy = FaultProxy::start(
            world.addr,
            HashMap::from([
                ("broken.ee".to_string(), Fault::ServFail),
                ("slow.ee".to_string(), Fault::Drop),
            ]),
        );
        let site = dir.join("site");
        let cache = dir.join("cache.json");
        let mut cmd = mxmap(&dir);
        cmd.args([
            "build",
            "--countries",
            "ee,de",
            "--loopback-only",
            "--timeout",
            "700ms",
            "--retries",
            "1",
        ])
        .arg("--resolver")
        .arg(proxy.addr.to_string())
        .arg("--seeds")
        .arg(fixture("seeds"))
        .arg("--overrides")
        .arg(fixture("overrides.toml"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .arg("--cache")
        .arg(&cache)
        .arg("--out")
        .arg(&site)
        .args(["--progress", "plain"]);
        let out = run(cmd, Duration::from_secs(120));
        let stdout = ok(&out);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The proxy really saw the injected failures, with retries.
        assert!(proxy.count("broken.ee") >= 2, "SERVFAIL name was retried");
        assert!(proxy.count("slow.ee") >= 2, "dropped name was retried");
        drop(proxy);
        world.stop();
        let data = data_json(&site);
        Built {
            _tmp: tmp,
            dir,
            site,
            cache,
            stdout,
            stderr,
            data,
        }
    })
}

fn verdict(id: &str) -> &'static Value {
    record(&built().data, id)
}

fn assert_verdict(id: &str, provider: &str, rule: &str, category: &str) {
    let r = verdict(id);
    assert_eq!(
        (
            r["provider"].as_str(),
            r["rule"].as_str(),
            r["category"].as_str()
        ),
        (Some(provider), Some(rule), Some(category)),
        "{id}: {}",
        serde_json::to_string_pretty(r).unwrap()
    );
}

#[test]
fn each_decision_rule_gets_its_verdict() {
    assert_verdict("EE-T00", "microsoft", "mx", "us-hyperscaler");
    assert_verdict("EE-T01", "microsoft", "mx_cname", "us-hyperscaler");
    assert_verdict("EE-T02", "microsoft", "gw_spf", "us-hyperscaler");
    assert_verdict("EE-T03", "microsoft", "gw_dkim", "us-hyperscaler");
    assert_verdict("EE-T04", "microsoft", "gw_autodiscover", "us-hyperscaler");
    assert_verdict("EE-T05", "microsoft", "gw_tenant", "us-hyperscaler");
    assert_verdict("EE-T06", "unknown", "gw_unknown", "unknown");
    assert_verdict("EE-T07", "self-hosted", "own", "independent");
    assert_verdict("EE-T08", "unknown", "null_mx", "unknown");
    assert_verdict("EE-T09", "unknown", "no_mx", "unknown");
    assert_verdict("EE-T10", "unknown", "nxdomain", "unknown");
    // Issue 16: a third party's MX on a telco network is the third party's, not the telco's.
    assert_verdict("DE-T01", "third-party", "third_party", "independent");
    assert_verdict("DE-T02", "ionos", "mx", "european-provider");

    // Gateways are named, with the backend found behind them.
    assert_eq!(verdict("EE-T02")["gateway"], "hornetsecurity");
    assert_eq!(verdict("EE-T06")["gateway"], "sophos");
    assert_eq!(verdict("EE-T03")["tenant"], "gwdkimtenant.onmicrosoft.com");
    // Self-hosted carries its network and a domestic location.
    assert_eq!(verdict("EE-T07")["jurisdiction"], "domestic");
    assert_eq!(verdict("EE-T07")["mx_location"], "domestic");
    // The third party's network is reported as where its server stands, and decides
    // nothing.
    assert_eq!(verdict("DE-T01")["inbound_id"], "kommunalhost.de");
    assert_eq!(verdict("DE-T01")["network"], "deutsche-telekom");
    assert_eq!(verdict("DE-T01")["mx_location"], "domestic");
    assert!(
        !verdict("DE-T01")["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "asn_only")
    );
}

#[test]
fn every_verdict_carries_its_rule_and_decisive_evidence() {
    for r in &built().data {
        let rule = r["rule"].as_str().unwrap();
        let evidence = r["evidence"].as_array().unwrap();
        if r["category"] != "unknown" && rule != "override" {
            assert!(
                evidence.iter().any(|e| e["role"] == "decisive"),
                "{} has no decisive evidence",
                r["id"]
            );
        }
        let c = r["confidence"].as_u64().unwrap();
        assert!(c <= 100);
        if r["category"] == "unknown" && rule != "gw_unknown" && rule != "third_party" {
            assert_eq!(c, 0, "{}", r["id"]);
        }
    }
    // Decisive DKIM evidence names the selector and its target.
    let dkim = verdict("EE-T03")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["signal"] == "dkim" && e["role"] == "decisive")
        .expect("decisive DKIM evidence");
    assert!(
        dkim["query"]
            .as_str()
            .unwrap()
            .starts_with("selector1._domainkey.gwdkim.ee")
    );
}

#[test]
fn servfail_and_timeout_are_scan_errors_not_unknown() {
    for id in ["EE-T11", "EE-T12"] {
        let r = verdict(id);
        assert_eq!(r["scan_status"], "error", "{id}");
        assert_eq!(r["rule"], "dns_error", "{id}");
        assert!(r["reason"].as_str().unwrap().contains("scan error"), "{id}");
    }
    assert!(
        verdict("EE-T11")["reason"]
            .as_str()
            .unwrap()
            .contains("SERVFAIL")
    );
    assert!(
        verdict("EE-T12")["reason"]
            .as_str()
            .unwrap()
            .contains("timeout")
    );
    // The summary counts them as errors for Estonia.
    let ee_line = built()
        .stdout
        .lines()
        .find(|l| l.starts_with("ee "))
        .expect("summary line");
    let fields: Vec<&str> = ee_line.split_whitespace().collect();
    assert_eq!(fields[fields.len() - 2], "2", "{ee_line}");
}

#[test]
fn spf_loops_and_lookup_limits_are_bounded_and_flagged() {
    let flags = |id: &str| -> Vec<String> {
        verdict(id)["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        flags("EE-T13").contains(&"spf_loop".to_string()),
        "{:?}",
        flags("EE-T13")
    );
    assert!(
        flags("EE-T14").contains(&"spf_lookup_limit".to_string()),
        "{:?}",
        flags("EE-T14")
    );
    // Both still get their MX verdict.
    assert_verdict("EE-T13", "microsoft", "mx", "us-hyperscaler");
    assert_verdict("EE-T14", "microsoft", "mx", "us-hyperscaler");
    // Past the limit nothing is expanded: the deepest include is never shown.
    let page = std::fs::read_to_string(
        built()
            .site
            .join(verdict("EE-T14")["page"].as_str().unwrap())
            .join("index.html"),
    )
    .unwrap();
    assert!(page.contains("c9.chain.ee"));
    assert!(!page.contains("c12.chain.ee TXT"));
}

#[test]
fn dns_text_is_escaped_in_every_page() {
    let site = &built().site;
    let script = Selector::parse("script").unwrap();
    let any = Selector::parse("*").unwrap();
    let mut pages = 0;
    for file in files_under(site) {
        if file.extension().and_then(|e| e.to_str()) != Some("html") {
            continue;
        }
        pages += 1;
        let html = Html::parse_document(&std::fs::read_to_string(site.join(&file)).unwrap());
        for s in html.select(&script) {
            // Structured data is ours: JSON in which no `<` can close the element.
            if s.value().attr("type") == Some("application/ld+json") {
                let text = s.inner_html();
                assert!(!text.contains('<'), "{}: {text}", file.display());
                serde_json::from_str::<Value>(&text)
                    .unwrap_or_else(|e| panic!("{}: JSON-LD {e}", file.display()));
                continue;
            }
            let src = s.value().attr("src").unwrap_or("");
            let own = [
                "assets/table.js",
                "assets/map.js",
                "assets/vendor/leaflet.js",
                "assets/vendor/topojson-client.min.js",
            ];
            assert!(
                (own.iter().any(|f| src.ends_with(f)) || src == "search.js") && !src.contains("//"),
                "{}: unexpected script {:?}",
                file.display(),
                s.html()
            );
            assert!(
                s.inner_html().trim().is_empty(),
                "{}: inline script",
                file.display()
            );
        }
        for el in html.select(&any) {
            for (name, _) in el.value().attrs() {
                assert!(
                    !name.starts_with("on"),
                    "{}: event handler attribute {name}",
                    file.display()
                );
            }
        }
    }
    assert!(pages > 20);
    // The hostile strings are shown faithfully, as text.
    let page = site
        .join(verdict("EE-T15")["page"].as_str().unwrap())
        .join("index.html");
    let html = Html::parse_document(&std::fs::read_to_string(page).unwrap());
    let text: String = html.root_element().text().collect();
    assert!(text.contains("<script>alert('xss')</script>"));
    assert!(text.contains("\"onmouseover=alert(1).example"));
}

#[test]
fn site_has_one_page_per_seed_and_country_pages_link_them() {
    let b = built();
    assert!(b.site.join("index.html").is_file());
    assert!(b.site.join("data.csv").is_file());
    assert!(b.site.join("countries.json").is_file());
    assert!(b.site.join("schema/data.schema.json").is_file());
    let seeds = 21 + 2;
    assert_eq!(b.data.len(), seeds);
    let mut pages = HashSet::new();
    for r in &b.data {
        let page = r["page"].as_str().unwrap();
        assert!(b.site.join(page).join("index.html").is_file(), "{page}");
        assert!(pages.insert(page.to_string()), "duplicate page {page}");
    }
    let municipality_pages = files_under(&b.site)
        .into_iter()
        .filter(|f| f.components().nth(1).is_some_and(|c| c.as_os_str() == "m"))
        .count();
    assert_eq!(municipality_pages, seeds);
    assert!(b.stdout.contains(&format!(
        "{seeds} municipality pages (seed municipalities: {seeds})"
    )));
    let link = Selector::parse("a[href]").unwrap();
    for cc in ["ee", "de"] {
        let html = Html::parse_document(
            &std::fs::read_to_string(b.site.join(cc).join("index.html")).unwrap(),
        );
        let links: HashSet<String> = html
            .select(&link)
            .filter_map(|a| a.value().attr("href"))
            .map(|h| format!("{cc}/{h}"))
            .collect();
        for r in b.data.iter().filter(|r| r["country"] == cc) {
            assert!(
                links.contains(r["page"].as_str().unwrap()),
                "{cc} page lacks a link to {}",
                r["page"]
            );
        }
    }
    let countries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(b.site.join("countries.json")).unwrap())
            .unwrap();
    assert_eq!(countries.len(), 2);
    assert_eq!(countries[0]["code"], "ee");
    assert_eq!(countries[0]["municipalities"], 21);
    // CSV has the same rows.
    let csv = std::fs::read_to_string(b.site.join("data.csv")).unwrap();
    assert_eq!(csv.lines().count(), seeds + 1);
    assert!(csv.starts_with("id,name,country,"));
}

#[test]
fn idn_domains_are_queried_as_punycode_and_shown_in_unicode() {
    let r = verdict("EE-T90");
    assert_eq!(r["domain"], "jõgeva-test.ee");
    assert_eq!(r["domain_ascii"], "xn--jgeva-test-2bb.ee");
    assert_eq!(r["provider"], "microsoft");
    assert_eq!(verdict("EE-T91")["scan_status"], "no-domain");
    assert_eq!(verdict("EE-T92")["scan_status"], "invalid-domain");
    assert!(
        built().stderr.contains("EE-T92"),
        "the invalid seed domain is reported: {}",
        built().stderr
    );
    // Shared domains share one scan and one verdict.
    assert_eq!(verdict("EE-T93")["provider"], verdict("EE-T00")["provider"]);
}

#[test]
fn overrides_are_applied_and_shown() {
    let r = verdict("EE-T16");
    assert_eq!(r["provider"], "microsoft");
    assert_eq!(r["rule"], "override");
    assert!(
        r["reason"].as_str().unwrap().contains("gw_unknown"),
        "the automatic verdict stays visible"
    );
    let page = std::fs::read_to_string(
        built()
            .site
            .join(r["page"].as_str().unwrap())
            .join("index.html"),
    )
    .unwrap();
    assert!(page.contains("Manual override"));
}

#[test]
fn render_rebuilds_the_same_site_from_the_cache_without_a_server() {
    let b = built();
    let out = b.dir.join("site-from-cache");
    let mut cmd = mxmap(&b.dir);
    cmd.args(["render", "--countries", "ee,de"])
        .arg("--seeds")
        .arg(fixture("seeds"))
        .arg("--overrides")
        .arg(fixture("overrides.toml"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .arg("--cache")
        .arg(&b.cache)
        .arg("--out")
        .arg(&out)
        .args(["--progress", "none"]);
    ok(&run(cmd, Duration::from_secs(60)));
    // The render is a run of its own in the history: it may add its page under
    // changes/ (unless it falls in the build's second); every other file is the same.
    let is_run_page = |f: &PathBuf| {
        f.starts_with("changes") && f.components().count() == 3 && f.ends_with("index.html")
    };
    let (built_runs, built_files): (Vec<PathBuf>, Vec<PathBuf>) =
        files_under(&b.site).into_iter().partition(is_run_page);
    let (rendered_runs, rendered_files): (Vec<PathBuf>, Vec<PathBuf>) =
        files_under(&out).into_iter().partition(is_run_page);
    assert_eq!(built_files, rendered_files);
    assert!(
        built_runs.iter().all(|r| rendered_runs.contains(r))
            && rendered_runs.len() <= built_runs.len() + 1,
        "{built_runs:?} → {rendered_runs:?}"
    );
    for file in ["data.json", "data.csv", "countries.json"] {
        assert_eq!(
            std::fs::read(b.site.join(file)).unwrap(),
            std::fs::read(out.join(file)).unwrap(),
            "{file} differs"
        );
    }
}

#[test]
fn loopback_only_refuses_a_public_resolver_before_sending_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = mxmap(tmp.path());
    cmd.args([
        "scan",
        "--countries",
        "ee",
        "--loopback-only",
        "--resolver",
        // Reaches only this host, yet is outside 127.0.0.0/8: refused all the same.
        "0.0.0.0:53",
    ])
    .arg("--seeds")
    .arg(fixture("seeds"))
    .arg("--cache")
    .arg(tmp.path().join("cache.json"));
    let out = run(cmd, Duration::from_secs(10));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("loopback-only mode refuses 0.0.0.0"),
        "{stderr}"
    );
    // Refused while resolving the configuration: no scan started, no cache written.
    assert!(!stderr.contains("scan:"), "{stderr}");
    assert!(!tmp.path().join("cache.json").exists());
}

#[test]
fn country_map_has_one_linked_shape_per_joined_municipality_in_its_category_colour() {
    let b = built();
    let html =
        Html::parse_document(&std::fs::read_to_string(b.site.join("ee/index.html")).unwrap());
    let map = html
        .select(&Selector::parse("svg.map").unwrap())
        .next()
        .expect("a municipality map");
    let links: Vec<_> = map.select(&Selector::parse("a[href]").unwrap()).collect();
    // 4 joined by OSM relation id, 1 by its unique name.
    assert_eq!(links.len(), 5, "{}", map.html());
    let mut joined = HashSet::new();
    for a in links {
        let href = a.value().attr("href").unwrap();
        let page = format!("ee/{href}");
        let r = b
            .data
            .iter()
            .find(|r| r["page"] == page.as_str())
            .unwrap_or_else(|| panic!("map links to {page}, which is not in data.json"));
        // The shape's fill is its category's class on the path (the static layer of
        // the interactive map draws one path per area).
        let path = a
            .select(&Selector::parse("path[d]").unwrap())
            .next()
            .unwrap_or_else(|| panic!("{page}: a shape"));
        let class = path.value().attr("class").unwrap_or_default();
        // An unclassified municipality is hatched: no category fill.
        let category = r["category"].as_str().unwrap();
        assert!(
            class
                .split_whitespace()
                .any(|c| c == format!("f-{category}"))
                || (category == "unknown" && !class.contains("f-")),
            "{page}: colour {class:?} disagrees with data.json's {}",
            r["category"]
        );
        assert!(
            a.select(&Selector::parse("title").unwrap())
                .next()
                .is_some(),
            "{page} has a tooltip"
        );
        assert!(
            a.select(&Selector::parse("path[d]").unwrap())
                .next()
                .is_some()
        );
        joined.insert(r["id"].as_str().unwrap().to_string());
    }
    for id in ["EE-T00", "EE-T01", "EE-T02", "EE-T06", "EE-T07"] {
        assert!(joined.contains(id), "{id} is drawn");
    }
    // The others are listed with the reason, not dropped.
    let text: String = html.root_element().text().collect();
    assert!(
        text.contains("16 municipalities without a map shape"),
        "{text}"
    );
    assert!(text.contains("its OSM relation is not in the boundary file"));
    assert!(b.stdout.contains("map ee: 5/21 joined"), "{}", b.stdout);
    assert!(
        b.stdout.contains("skipped 1 null, 1 points"),
        "{}",
        b.stdout
    );
    // Map data for other tools, and the locator outline.
    let geojson: Value =
        serde_json::from_str(&std::fs::read_to_string(b.site.join("ee/map.geojson")).unwrap())
            .unwrap();
    assert_eq!(geojson["features"].as_array().unwrap().len(), 5);
    assert!(
        geojson["features"][0]["properties"]["category"]
            .as_str()
            .is_some()
    );
    assert!(b.site.join("ee/outline.svg").is_file());
    let page = std::fs::read_to_string(
        b.site
            .join(verdict("EE-T00")["page"].as_str().unwrap())
            .join("index.html"),
    )
    .unwrap();
    assert!(page.contains("class=locator") || page.contains("class=\"locator\""));
    // No boundary file for the German fixture: the page says so.
    let de = std::fs::read_to_string(b.site.join("de/index.html")).unwrap();
    assert!(de.contains("There is no boundary file for Germany"));
}
