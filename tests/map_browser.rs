//! The interactive map in headless Chromium over the DevTools protocol, on a small
//! build of real German municipalities (Flensburg, Kiel, Kreis Segeberg, Hamburg,
//! Bremen) with the recorded world, the real boundaries and a loopback HTTP server:
//! zoom in, hover a municipality (tooltip), click it (popup, its link works), switch
//! level and colour mode, reload with the URL hash and get the same state; with
//! JavaScript disabled the page still shows the SVG map and the tables.
//!
//! Needs the recorded world (`world/`), Debian's Chromium and a loopback-only network
//! namespace (`unshare -n`); under `MXMAP_CI=1` a missing prerequisite fails.

#[path = "map_browser/cdp.rs"]
mod cdp;
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::json;

/// Real seeds of a few districts: three Länder (so there is a region level), two
/// cities that are their own district (drawn from the cities file), a Kreis.
fn subset_seeds(data: &Path, dir: &Path) {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(data.join("seeds/de.json")).unwrap())
            .unwrap();
    let keep: Vec<&serde_json::Value> = all
        .iter()
        .filter(|m| {
            let id = m["id"].as_str().unwrap_or("");
            ["DE-01001", "DE-01002", "DE-01060", "DE-02", "DE-04"]
                .iter()
                .any(|p| id.starts_with(p))
        })
        .collect();
    assert!(keep.len() > 50, "{}", keep.len());
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("de.json"),
        serde_json::to_string_pretty(&keep).unwrap(),
    )
    .unwrap();
}

fn build(data: &Path, tmp: &Path) -> PathBuf {
    let seeds = tmp.join("seeds");
    subset_seeds(data, &seeds);
    let site = tmp.join("site");
    let mut cmd = mxmap(tmp);
    cmd.args([
        "build",
        "--countries",
        "de",
        "--progress",
        "none",
        "--no-smtp",
    ])
    .arg("--world")
    .arg(data.join("world"))
    .arg("--seeds")
    .arg(&seeds)
    .arg("--geodata")
    .arg(data.join("geodata"))
    .arg("--cache")
    .arg(tmp.join("cache.json"))
    .args(["--site-url", "https://mxmap.test/"])
    .arg("--out")
    .arg(&site);
    ok(&run(cmd, Duration::from_secs(600)));
    site
}

/// GET over loopback; status line and body.
fn get(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn germany_map_zooms_hovers_opens_switches_and_restores_from_the_hash() {
    let Some(data) = europe_data() else {
        skip_missing("the recorded world (world/zones)");
        return;
    };
    let Some(chromium) = chromium() else {
        skip_missing("Debian's chromium (browser checks)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let site = build(&data, tmp.path());
    let server = StaticServer::start(&site);
    let de = format!("{}de/", server.base);

    let mut browser = cdp::Browser::start(&chromium);
    let mut page = browser.page();
    page.goto(&de);
    page.wait_for(
        "document.querySelector('.lmap[data-ready]')",
        "the interactive map",
    );
    // The static map gave way to Leaflet, drawn on canvas.
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('.static-map')).display"),
        json!("none")
    );
    assert_eq!(
        page.eval("!!document.querySelector('.lmap canvas')"),
        json!(true)
    );
    assert_eq!(
        page.eval("document.querySelector('.lmap').getAttribute('data-ready')"),
        json!("municipalities")
    );
    let attribution =
        page.eval("document.querySelector('.leaflet-control-attribution').textContent");
    assert!(
        attribution.as_str().unwrap().contains("OpenStreetMap"),
        "{attribution}"
    );

    // Zoom in with the control, twice.
    let z0 = page.eval("mxmap.map.getZoom()").as_f64().unwrap();
    let (x, y) = page.centre_of(".leaflet-control-zoom-in");
    for step in 1..=2 {
        page.click(x, y);
        page.wait_for(
            &format!("mxmap.map.getZoom() >= {}", z0 + f64::from(step)),
            "zoom in",
        );
        std::thread::sleep(Duration::from_millis(400));
    }
    // Bring Flensburg into view, then hover it: the tooltip names it, its provider
    // and grade.
    page.eval(
        "(() => { let l; mxmap.map.eachLayer(x => { if (x.area && x.area[0] === 'DE-01001000') l = x; }); window.flensburg = l.getCenter(); mxmap.map.eachLayer(x => { if (x.area && x.area[0].startsWith('DE-01060') && !window.inland) window.inland = x.getCenter(); }); mxmap.map.setView(l.getCenter(), mxmap.map.getZoom(), {animate: false}); return true; })()",
    );
    page.eval("document.querySelector('.lmap').scrollIntoView({block: 'center', behavior: 'instant'}) || true");
    std::thread::sleep(Duration::from_millis(400));
    let p = page.eval("mxmap.point('DE-01001000')");
    let (px, py) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
    page.hover(px - 3.0, py);
    page.hover(px, py);
    page.wait_for("document.querySelector('.leaflet-tooltip')", "tooltip");
    let tip = page.eval("document.querySelector('.leaflet-tooltip').textContent");
    let tip = tip.as_str().unwrap();
    assert!(tip.contains("Flensburg"), "{tip}");
    assert!(tip.contains("grade"), "{tip}");

    // Click: the popup with verdict, confidence, MX and a link to the page.
    page.click(px, py);
    page.wait_for(
        "document.querySelector('.leaflet-popup-content .mx')",
        "popup details",
    );
    let popup = page.eval("document.querySelector('.leaflet-popup-content').textContent");
    let popup = popup.as_str().unwrap();
    for part in [
        "Flensburg",
        "Confidence",
        "Incoming mail handled by (MX)",
        "Verdict",
        "Full page",
    ] {
        assert!(popup.contains(part), "{part} missing in popup: {popup}");
    }
    assert!(
        page.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("m=DE-01001000")
    );
    let href = page.eval("document.querySelector('.leaflet-popup-content a.more').href");
    let (status, body) = get(href.as_str().unwrap());
    assert!(status.contains("200"), "{href}: {status}");
    assert!(body.contains("Flensburg"), "{href}");

    // Switch level and colour mode; the hash follows.
    page.eval("(mxmap.map.closePopup(), true)");
    let (bx, by) = page.centre_of(".lmap-levels button[data-level=regions]");
    page.click(bx, by);
    page.wait_for(
        "document.querySelector('.lmap').getAttribute('data-ready') === 'regions'",
        "region level",
    );
    page.eval(
        "(() => { const s = document.querySelector('.lmap-mode'); s.value = 'us'; s.dispatchEvent(new Event('change')); return true; })()",
    );
    let legend = page.eval("document.querySelector('.lmap-legend strong').textContent");
    assert_eq!(legend, json!("US-hyperscaler share"));
    // A region's popup lists its municipalities, searchable, each linked.
    // Where a municipality of Kreis Segeberg lies, inside Schleswig-Holstein's shape
    // (the region file leaves the coastal cities that are their own district out).
    page.eval("(mxmap.map.setView(window.inland, mxmap.map.getZoom(), {animate: false}), true)");
    std::thread::sleep(Duration::from_millis(400));
    let p = page.eval(
        "(() => { const p = mxmap.map.latLngToContainerPoint(window.inland); const r = document.querySelector('.lmap').getBoundingClientRect(); return {x: r.left + p.x, y: r.top + p.y}; })()",
    );
    page.click(p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
    page.wait_for(
        "document.querySelectorAll('.leaflet-popup-content .members li a').length > 10",
        "the region's municipality list",
    );
    page.eval(
        "(() => { const b = document.querySelector('.member-search'); b.value = 'flensb'; b.dispatchEvent(new Event('input')); return true; })()",
    );
    let shown = page.eval(
        "[...document.querySelectorAll('.members li')].filter(li => !li.hidden).map(li => li.textContent)",
    );
    let shown = shown.as_array().unwrap();
    assert!(
        shown.len() == 1 && shown[0].as_str().unwrap().starts_with("Flensburg"),
        "{shown:?}"
    );
    page.eval("(mxmap.map.closePopup(), true)");
    let hash = page.eval("location.hash");
    let hash = hash.as_str().unwrap().to_string();
    assert!(
        hash.contains("level=regions") && hash.contains("color=us"),
        "{hash}"
    );
    let zoom = page.eval("mxmap.map.getZoom()");

    // Reload with the hash: the same level, mode and view.
    page.call("Page.reload", json!({}));
    std::thread::sleep(Duration::from_millis(300));
    page.wait_for(
        "document.querySelector('.lmap[data-ready]')",
        "the map after reload",
    );
    assert_eq!(
        page.eval("document.querySelector('.lmap').getAttribute('data-ready')"),
        json!("regions")
    );
    assert_eq!(
        page.eval("document.querySelector('.lmap-mode').value"),
        json!("us")
    );
    assert_eq!(
        page.eval("document.querySelector('.lmap-levels button[data-level=regions]').getAttribute('aria-pressed')"),
        json!("true")
    );
    assert_eq!(page.eval("mxmap.map.getZoom()"), zoom);

    // A permalink to a municipality opens its popup.
    page.goto(&format!("{de}#level=municipalities&m=DE-01002000"));
    page.call("Page.reload", json!({}));
    std::thread::sleep(Duration::from_millis(300));
    page.wait_for(
        "document.querySelector('.leaflet-popup-content')",
        "permalink popup",
    );
    let popup = page.eval("document.querySelector('.leaflet-popup-content').textContent");
    assert!(popup.as_str().unwrap().contains("Kiel"), "{popup}");

    // The SVG shapes are no tab stops; the skip link is there.
    assert_eq!(
        page.eval("[...document.querySelectorAll('svg a')].every(a => a.getAttribute('tabindex') === '-1')"),
        json!(true)
    );
    assert_eq!(
        page.eval("!!document.querySelector('a.skipmap[href=\"#map-end\"]')"),
        json!(true)
    );
    drop(page);

    // Without JavaScript: the SVG map and the tables.
    let mut page = browser.page();
    page.call(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
    );
    page.call("Page.navigate", json!({"url": de}));
    std::thread::sleep(Duration::from_secs(3));
    let html = page.html();
    let dom = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert!(
        dom.select(&sel(".static-map svg.map path")).count() > 1,
        "no static map without JavaScript"
    );
    assert!(dom.select(&sel("section.js-map")).next().is_none());
    assert!(dom.select(&sel(".lmap-wrap[hidden]")).next().is_some());
    assert!(dom.select(&sel("table tbody tr")).count() > 3);
}

/// Over a finished build (`MXMAP_MAP_SITE=/path/to/site cargo test --test map_browser
/// -- --ignored --nocapture`, e.g. the full world): every country page has a map (the
/// interactive one's configuration and a static one, or the sentence why none), every
/// map names the OpenStreetMap attribution, and the weight of each country page is
/// printed (bytes, gzipped bytes, DOM elements) with its map's share.
#[test]
#[ignore = "needs MXMAP_MAP_SITE, a built site"]
fn every_country_page_has_a_map_within_the_page_budget() {
    let site = PathBuf::from(std::env::var_os("MXMAP_MAP_SITE").expect("MXMAP_MAP_SITE"));
    let countries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(site.join("countries.json")).unwrap())
            .unwrap();
    let countries = countries.as_slice();
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let mut without = Vec::new();
    for c in countries {
        let code = c["code"]
            .as_str()
            .or_else(|| c["country"].as_str())
            .unwrap_or("")
            .to_lowercase();
        let page = site.join(&code).join("index.html");
        let Ok(text) = std::fs::read_to_string(&page) else {
            continue;
        };
        let dom = scraper::Html::parse_document(&text);
        let interactive = dom.select(&sel(".lmap[data-config]")).next().is_some();
        let static_map = dom.select(&sel(".static-map svg path")).next().is_some();
        let attribution = text.contains("OpenStreetMap");
        let elements = dom.select(&sel("*")).count();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gzipped = gz.finish().unwrap().len();
        let note = dom
            .select(&sel(".maplevel"))
            .next()
            .map(|n| n.text().collect::<String>())
            .unwrap_or_default();
        println!(
            "{code}: {} bytes, {gzipped} gzipped, {elements} elements; interactive {interactive}, static {static_map}; {note}",
            text.len()
        );
        assert!(attribution, "{code}: no OpenStreetMap attribution");
        if !(interactive && static_map) {
            without.push(code);
        }
    }
    // Monaco has no boundary at all; every other country has both maps.
    assert!(
        without.iter().all(|c| c == "mc"),
        "country pages without a map: {without:?}"
    );
}
