//! Hostile DNS data end to end: the real `mxmap build` scans a fixture world
//! (`tests/fixtures/hostile/`, written by its `generate.py`) whose every DNS-derived
//! field carries markup, attribute breakers, control characters and invalid UTF-8, plus
//! CNAME chains and loops, SPF include bombs and loops, a 60 KiB TXT record and 2,000 MX
//! records. The build must finish in bounded time, every page must parse as HTML5 with
//! no injected script, event handler or image, the payloads must be shown as text, and
//! the data files must keep the raw strings.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use scraper::{Html, Selector};
use serde_json::Value;

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTR: &str = "\"onmouseover=alert(1) x=\"";
const IMG: &str = "'><img src=x onerror=alert(1)>";

struct Built {
    _tmp: tempfile::TempDir,
    site: PathBuf,
    data: Vec<Value>,
}

/// Builds the hostile site once for all tests of this file.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let site = dir.join("site");
        let mut cmd = mxmap(dir);
        cmd.args(["build", "--countries", "ee", "--timeout", "700ms"])
            .args(["--retries", "1", "--progress", "plain"])
            .arg("--world")
            .arg(fixture("hostile"))
            .arg("--seeds")
            .arg(fixture("hostile/seeds"))
            .arg("--geodata")
            .arg(fixture("geodata"))
            .arg("--cache")
            .arg(dir.join("cache.json"))
            .arg("--out")
            .arg(&site);
        ok(&run(cmd, Duration::from_secs(180)));
        let data = data_json(&site);
        Built {
            _tmp: tmp,
            site,
            data,
        }
    })
}

fn page_of(id: &str) -> Html {
    let b = built();
    let page = record(&b.data, id)["page"]
        .as_str()
        .expect("page")
        .to_string();
    let html = std::fs::read_to_string(b.site.join(page).join("index.html")).expect("page");
    Html::parse_document(&html)
}

/// Every text node of the document, joined (what a reader sees, markup decoded).
fn text_of(doc: &Html) -> String {
    doc.root_element().text().collect()
}

fn html_files(site: &Path) -> Vec<PathBuf> {
    files_under(site)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .map(|p| site.join(p))
        .collect()
}

#[test]
fn every_seed_gets_a_record() {
    let data = &built().data;
    assert_eq!(data.len(), 14, "one record per seed");
    for r in data {
        assert!(r["page"].is_string(), "{r}");
    }
}

#[test]
fn no_page_carries_injected_markup() {
    let site = &built().site;
    let files = html_files(site);
    assert!(files.len() > 14, "municipality, country and index pages");
    let any = Selector::parse("*").unwrap();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read page");
        let doc = Html::parse_document(&text);
        for el in doc.select(&any) {
            let v = el.value();
            match v.name() {
                // The site's own structured data: JSON in which no `<` can end the element.
                "script" if v.attr("type") == Some("application/ld+json") => {
                    let json: String = el.text().collect();
                    assert!(!json.contains('<'), "{}: {json}", file.display());
                    serde_json::from_str::<serde_json::Value>(&json)
                        .unwrap_or_else(|e| panic!("{}: JSON-LD {e}", file.display()));
                }
                "script" => {
                    let src = v.attr("src").unwrap_or_default();
                    // Only the site's own scripts, by file name: the tables, the
                    // search, the map and the two vendored map libraries.
                    let own = [
                        "assets/table.js",
                        "assets/map.js",
                        "assets/vendor/leaflet.js",
                        "assets/vendor/topojson-client.min.js",
                    ];
                    assert!(
                        (own.iter().any(|f| src.ends_with(f)) || src == "search.js")
                            && !src.contains("//")
                            && el.text().next().is_none(),
                        "{}: foreign script {}",
                        file.display(),
                        el.html()
                    );
                }
                "img" | "iframe" | "object" | "embed" => {
                    panic!("{}: injected element {}", file.display(), el.html())
                }
                _ => {}
            }
            for (name, value) in v.attrs() {
                assert!(
                    !name.to_ascii_lowercase().starts_with("on"),
                    "{}: event handler attribute {name}={value:?} on <{}>",
                    file.display(),
                    v.name()
                );
                assert!(
                    !value
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("javascript:"),
                    "{}: javascript: URL in {name}",
                    file.display()
                );
            }
        }
    }
}

/// Raw C0 controls are HTML parse errors (not an injection): seed names and TXT strings
/// that carry them should be shown escaped, e.g. as `\007`.
#[test]
fn no_page_carries_raw_control_characters() {
    for file in html_files(&built().site) {
        let text = std::fs::read_to_string(&file).expect("read page");
        let control = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
        assert!(
            control.is_none(),
            "{}: raw control character {control:?}",
            file.display()
        );
    }
}

#[test]
fn seed_markup_is_shown_as_text() {
    for (id, name) in [("EE-H01", SCRIPT), ("EE-H02", IMG), ("EE-H03", ATTR)] {
        let doc = page_of(id);
        let h1 = Selector::parse("h1").unwrap();
        let heading: String = doc.select(&h1).next().expect("h1").text().collect();
        assert_eq!(heading, name, "{id}");
        let title = Selector::parse("title").unwrap();
        let title: String = doc.select(&title).next().expect("title").text().collect();
        assert!(title.starts_with(name), "{id}: {title:?}");
    }
    // The region of EE-H01 is an attribute breaker, shown as text.
    assert!(text_of(&page_of("EE-H01")).contains(ATTR));
    assert!(text_of(&page_of("EE-H04")).contains(SCRIPT), "region");
}

#[test]
fn dns_markup_is_shown_as_text() {
    // MX target names (presentation form: parentheses and spaces escaped).
    let mx = text_of(&page_of("EE-H01"));
    for host in [
        "<script>alert\\(1\\)</script>.xss-mx.ee",
        "\\\"onmouseover=alert\\(1\\)\\032x=\\\".xss-mx.ee",
        "'><img\\032src=x\\032onerror=alert\\(1\\)>.xss-mx.ee",
        "ctl\\007\\027\\000\\127.xss-mx.ee",
        "bad\\255\\254\\192\\128utf8.xss-mx.ee",
    ] {
        assert!(mx.contains(host), "MX host {host} not shown");
    }
    // Cymru origin TXT with markup in country and registry.
    assert!(mx.contains(&format!("64500 | 127.3.0.1/32 | {SCRIPT} | {IMG}")));

    // SPF, verification and policy TXT records.
    let txt = text_of(&page_of("EE-H02"));
    for shown in [
        format!("include:{SCRIPT}.example"),
        format!("MS={SCRIPT}"),
        format!("google-site-verification={IMG}"),
        format!("apple-domain-verification={ATTR}"),
        format!("v=DMARC1; p={SCRIPT}"),
        format!("v=STSv1; id={ATTR}"),
        format!("v=TLSRPTv1; rua=mailto:{SCRIPT}@x.ee"),
        // Invalid UTF-8 is shown as decimal escapes.
        "bad\\255\\254\\192\\128utf8".to_string(),
    ] {
        assert!(txt.contains(&shown), "TXT {shown:?} not shown");
    }

    // DKIM CNAME targets.
    let dkim = text_of(&page_of("EE-H03"));
    assert!(dkim.contains("selector1-<script>alert\\(1\\)</script>._domainkey"));
    assert!(dkim.contains("'><img\\032src=x\\032onerror=alert\\(1\\)>.onmicrosoft.com"));

    // Autodiscover CNAME and SRV targets.
    let ad = text_of(&page_of("EE-H04"));
    assert!(ad.contains("<script>alert\\(1\\)</script>.outlook.com"));
    assert!(ad.contains("'><img\\032src=x\\032onerror=alert\\(1\\)>.outlook.com"));
}

#[test]
fn idn_homograph_shows_its_ascii_form() {
    let r = record(&built().data, "EE-H12");
    assert_eq!(r["domain"], "\u{430}pple.ee");
    assert_eq!(r["domain_ascii"], "xn--pple-43d.ee");
    let text = text_of(&page_of("EE-H12"));
    assert!(
        text.contains("xn--pple-43d.ee"),
        "the A-label form tells it apart"
    );
}

#[test]
fn hostile_structures_stay_bounded() {
    let data = &built().data;
    let flags = |id: &str| -> Vec<String> {
        record(data, id)["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .map(|f| f.as_str().unwrap_or_default().to_string())
            .collect()
    };
    for id in ["EE-H07", "EE-H08", "EE-H10"] {
        assert!(
            flags(id).iter().any(|f| f == "spf_lookup_limit"),
            "{id}: {:?}",
            flags(id)
        );
    }
    assert!(flags("EE-H09").iter().any(|f| f == "spf_loop"), "spf loop");
    let mx_hosts = record(data, "EE-H11")["mx_hosts"]
        .as_array()
        .expect("mx_hosts")
        .len();
    assert!(
        mx_hosts > 0 && mx_hosts <= 2000,
        "{mx_hosts} MX hosts recorded"
    );
    assert!(flags("EE-H11").iter().any(|f| f == "mx_capped"));
    for id in ["EE-H05", "EE-H06"] {
        assert_ne!(record(data, id)["scan_status"], "error", "{id}");
    }
    // A seed domain with markup is refused, and says why.
    let bad = record(data, "EE-H13");
    assert_eq!(bad["scan_status"], "invalid-domain");
    assert!(text_of(&page_of("EE-H13")).contains(SCRIPT));
}

#[test]
fn data_files_keep_the_raw_strings() {
    let b = built();
    for (id, name) in [("EE-H01", SCRIPT), ("EE-H02", IMG), ("EE-H03", ATTR)] {
        assert_eq!(record(&b.data, id)["name"], name);
    }
    assert_eq!(
        record(&b.data, "EE-H04")["name"],
        "Ctl\u{7}\u{1b}[31m\u{0} Vald"
    );
    let mx: Vec<&str> = record(&b.data, "EE-H01")["mx_hosts"]
        .as_array()
        .expect("mx_hosts")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mx.contains(&"10 <script>alert\\(1\\)</script>.xss-mx.ee"),
        "{mx:?}"
    );

    let mut csv = csv::Reader::from_path(b.site.join("data.csv")).expect("data.csv");
    let headers = csv.headers().expect("header").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (id_col, name_col) = (column("id"), column("name"));
    let mut names = std::collections::HashMap::new();
    for row in csv.records() {
        let row = row.expect("RFC 4180 row");
        assert_eq!(row.len(), headers.len());
        names.insert(row[id_col].to_string(), row[name_col].to_string());
    }
    assert_eq!(names.len(), 14);
    assert_eq!(names["EE-H01"], SCRIPT);
    assert_eq!(names["EE-H03"], ATTR);
    assert_eq!(names["EE-H04"], "Ctl\u{7}\u{1b}[31m\u{0} Vald");
}
