//! The full recorded world with a real MTA behind every MX address: one Postfix on
//! `0.0.0.0:25` inside the loopback-only network namespace answers on all of the
//! world's ~16,000 MX addresses with STARTTLS and certificates from a test CA
//! (`--trust-pem`), so the 47-country build probes every one of them over SMTP, as on
//! the internet, and every municipality page carries a complete security card.
//!
//! Needs root, Postfix and the namespace (`.ci/run` runs the tests inside `unshare -n`);
//! skipped locally without them, a failure under MXMAP_CI.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::world_mta::{WorldMta, loopback_only_namespace};
use common::*;
use scraper::{Html, Selector};
use serde_json::Value;

/// Municipality pages checked in the browser-free HTML pass (every Nth).
const PAGE_SAMPLE_EVERY: usize = 25;

/// `smtp: P MX addresses, M probed (R reached an SMTP server), … in S s` → (P, M, R, S).
fn smtp_line(stderr: &str) -> Option<(usize, usize, usize, f64)> {
    // The summary, not the progress lines (`smtp: 0/16439 (0.0%), …`).
    let line = stderr
        .lines()
        .find(|l| l.starts_with("smtp: ") && l.contains(" MX addresses, "))?;
    let nums: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.trim_matches('.').parse().ok())
        .collect();
    let secs = line
        .rsplit_once(" in ")
        .and_then(|(_, s)| s.trim_end_matches('s').parse().ok())?;
    Some((nums[0] as usize, nums[1] as usize, nums[2] as usize, secs))
}

#[test]
fn every_mx_of_the_world_answers_and_every_page_has_a_complete_security_card() {
    let Some(data) = europe_data() else {
        skip_missing("the recorded world (world/)");
        return;
    };
    let Some(postfix) = common::postfix::prerequisites() else {
        return;
    };
    if !loopback_only_namespace() {
        skip_missing("a loopback-only network namespace (run the tests inside `unshare -n`)");
        return;
    }
    let started = Instant::now();
    let mta = WorldMta::start(postfix, &data.join("world"), 25);
    eprintln!(
        "world MTA: {} MX hosts, {} SNI certificates, up in {:.1}s",
        mta.hosts,
        mta.certificates,
        started.elapsed().as_secs_f64()
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let site = dir.join("site");
    let mut cmd = mxmap(dir);
    cmd.arg("build")
        .arg("--data")
        .arg(&data)
        .arg("--overrides")
        .arg(data.join("seeds/overrides.toml"))
        .arg("--world")
        .arg(data.join("world"))
        .arg("--trust-pem")
        .arg(&mta.ca_pem)
        .args(["--smtp-concurrency", "64", "--progress", "plain"])
        // No MX is recorded for Malta, San Marino and Kosovo (see mxmap.toml).
        .args(["--allow-collapse", "mt,sm,xk"])
        .arg("--cache")
        .arg(dir.join("cache.json"))
        .arg("--out")
        .arg(&site)
        .env("RUST_LOG", "warn");
    let out = run(cmd, Duration::from_secs(40 * 60));
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (pairs, probed, reached, secs) =
        smtp_line(&stderr).unwrap_or_else(|| panic!("no smtp summary line in:\n{stderr}"));
    eprintln!(
        "probe phase: {pairs} MX addresses, {probed} probed, {reached} reached, in {secs:.1}s"
    );
    assert!(pairs > 15_000, "{pairs} MX addresses in the world");
    assert_eq!(probed, pairs, "every address probed (none reused)");
    assert_eq!(
        reached, probed,
        "every MX address reached a real SMTP server"
    );

    let records: Vec<Value> =
        serde_json::from_slice(&std::fs::read(site.join("data.json")).unwrap()).unwrap();
    assert_eq!(records.len(), 35_843);
    let mut grades: BTreeMap<String, usize> = BTreeMap::new();
    let (mut with_mx, mut measured) = (0usize, 0usize);
    let mut unmeasured: Vec<String> = Vec::new();
    for r in &records {
        let grade = r["grade"].as_str().unwrap_or("null").to_string();
        *grades.entry(grade).or_default() += 1;
        let transport = r["grade_transport"].as_str().unwrap_or("?");
        // A domain without any MX host (no MX record, NXDOMAIN) has nothing to probe,
        // here or on the internet: it is not one "with MX".
        let no_mx_host = r["mx_hosts"]
            .as_array()
            .is_none_or(|hosts| hosts.is_empty());
        if r["domain"].is_null() || r["scan_status"] != "ok" || transport == "—" || no_mx_host {
            continue;
        }
        with_mx += 1;
        if transport != "?" && r["grade_partial"] != true {
            measured += 1;
        } else if unmeasured.len() < 12 {
            unmeasured.push(format!(
                "{} {} transport {transport} partial {} reason {} mx {}",
                r["id"], r["domain"], r["grade_partial"], r["grade_reason"], r["mx_hosts"]
            ));
        }
    }
    eprintln!("grades: {grades:?}; {measured} of {with_mx} with MX fully measured");
    let graded: usize = grades
        .iter()
        .filter(|(g, _)| g.as_str() != "null")
        .map(|(_, n)| n)
        .sum();
    assert!(
        graded * 2 > records.len(),
        "most municipalities graded: {grades:?}"
    );
    // One Postfix stands behind every MX and no MTA-STS policy host or DNSSEC exists
    // offline, so the letters spread over D (STARTTLS, valid certificate) and F (the
    // one in ten names without a matching certificate); never a single letter.
    assert!(
        grades.keys().filter(|g| g.as_str() != "null").count() >= 2,
        "a grade distribution, not one letter: {grades:?}"
    );
    // MX hosts whose name has no address cannot be probed, on the internet either.
    assert!(
        measured as f64 >= with_mx as f64 * 0.97,
        "only {measured} of {with_mx} municipalities with MX fully measured, e.g. {unmeasured:#?}"
    );

    // The pages: every MX row of the security card was measured.
    let section = Selector::parse("section.security").unwrap();
    let rows = Selector::parse("tbody tr").unwrap();
    let mut checked = 0;
    for r in records.iter().step_by(PAGE_SAMPLE_EVERY) {
        if r["grade_transport"] == "?" || r["grade_transport"] == "—" || r["domain"].is_null() {
            continue;
        }
        let page = r["page"].as_str().unwrap();
        let html = std::fs::read_to_string(site.join(page).join("index.html")).unwrap();
        let doc = Html::parse_document(&html);
        let card = doc
            .select(&section)
            .next()
            .unwrap_or_else(|| panic!("{page}: no security card"));
        let host_rows: Vec<_> = card.select(&rows).collect();
        assert!(
            !host_rows.is_empty(),
            "{page}: no rows in the security card"
        );
        let unmeasured = host_rows
            .iter()
            .filter(|row| row.value().classes().any(|c| c == "unmeasured"))
            .count();
        assert_eq!(unmeasured, 0, "{page}: unmeasured MX rows in the card");
        checked += 1;
    }
    assert!(checked > 500, "{checked} pages checked");
    drop(mta);
}
