//! One bad input costs only itself, with the real binary on a copy of the fixture
//! world: non-ASCII and invalid UTF-8 at the tag position of one domain's DMARC,
//! TLS-RPT, MTA-STS and SPF records; a panic injected into one domain's scan,
//! classification or grading; a zone file with an unclosed `(`; a country whose
//! domains all disappear after a good build. Every data.json written is checked
//! against the schema's status rules.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The fields that make a verdict (times left out: two runs differ in them).
const VERDICT: [&str; 14] = [
    "provider",
    "provider_name",
    "category",
    "rule",
    "reason",
    "confidence",
    "scan_status",
    "freshness",
    "grade",
    "grade_transport",
    "grade_auth",
    "flags",
    "mx_hosts",
    "evidence",
];

fn verdicts(data: &[Value]) -> BTreeMap<String, Vec<Value>> {
    data.iter()
        .map(|r| {
            let id = r["id"].as_str().expect("id").to_string();
            (id, VERDICT.iter().map(|f| r[*f].clone()).collect())
        })
        .collect()
}

/// Copies the fixture world into `dir/world`.
fn copy_world(dir: &Path) -> PathBuf {
    let world = dir.join("world");
    std::fs::create_dir_all(world.join("zones")).unwrap();
    for entry in std::fs::read_dir(fixture("world/zones")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, world.join("zones").join(path.file_name().unwrap())).unwrap();
    }
    world
}

/// `mxmap build` of the fixture seeds against `world`, into `dir/<name>` with the
/// cache `dir/<name>.json`.
fn build(dir: &Path, world: &Path, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = mxmap(dir);
    cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
        .arg("--world")
        .arg(world);
    fixture_inputs(&mut cmd)
        .arg("--cache")
        .arg(dir.join(format!("{name}.json")))
        .arg("--out")
        .arg(dir.join(name))
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, Duration::from_secs(180))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_schema(data: &[Value]) {
    let errors = schema_errors(data);
    assert!(
        errors.is_empty(),
        "data.json breaks its schema: {errors:#?}"
    );
}

/// The fixture world built once, unchanged: what every other run is compared with.
fn baseline() -> &'static BTreeMap<String, Vec<Value>> {
    static BASE: OnceLock<(tempfile::TempDir, BTreeMap<String, Vec<Value>>)> = OnceLock::new();
    &BASE
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            ok(&build(tmp.path(), &fixture("world"), "site", &[], &[]));
            let data = data_json(&tmp.path().join("site"));
            assert_schema(&data);
            let v = verdicts(&data);
            (tmp, v)
        })
        .1
}

/// Asserts that only `changed` differ from the baseline.
fn assert_only_changed(data: &[Value], changed: &[&str]) {
    let now = verdicts(data);
    let base = baseline();
    assert_eq!(now.len(), base.len());
    for (id, verdict) in base {
        if changed.contains(&id.as_str()) {
            continue;
        }
        assert_eq!(&now[id], verdict, "{id} changed");
    }
}

#[test]
fn non_ascii_and_invalid_utf8_at_tag_positions_cost_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let world = copy_world(tmp.path());
    let zone = world.join("zones/ee.zone");
    let mut text = std::fs::read_to_string(&zone).unwrap();
    // `é` (\195\169) and `€` (\226\130\172) straddle the byte where each tag ends;
    // \255, \254 and a lone \128 are not UTF-8 at all.
    text = text.replace(
        "own.ee. IN TXT \"v=spf1 mx -all\"",
        "own.ee. IN TXT \"v=spf\\195\\169 mx -all\"\n\
         own.ee. IN TXT \"v=spf1\\255 mx -all\"\n\
         own.ee. IN TXT \"\\226\\130\\172v=spf1 mx -all\"",
    );
    text.push_str(
        "_dmarc.own.ee. IN TXT \"v=DMARC\\195\\169; p=reject\"\n\
         _dmarc.own.ee. IN TXT \"v=DMAR\\226\\130\\172; p=none\"\n\
         _dmarc.own.ee. IN TXT \"v=DMARC1\\255\\254; p=reject; rua=mailto:\\128@own.ee\"\n\
         _smtp._tls.own.ee. IN TXT \"v=TLSRPTv\\195\\169; rua=mailto:t@own.ee\"\n\
         _smtp._tls.own.ee. IN TXT \"v=TLSRPT\\226\\130\\172; rua=mailto:t@own.ee\"\n\
         _smtp._tls.own.ee. IN TXT \"\\255v=TLSRPTv1; rua=mailto:\\254@own.ee\"\n\
         _mta-sts.own.ee. IN TXT \"v=STSv\\195\\169; id=1\"\n\
         _mta-sts.own.ee. IN TXT \"v=STS\\226\\130\\172; id=2\"\n\
         _mta-sts.own.ee. IN TXT \"v=STSv1; id=\\255\\128\"\n",
    );
    std::fs::write(&zone, text).unwrap();
    let out = build(tmp.path(), &world, "site", &[], &[]);
    let err = stderr(&out);
    ok(&out);
    assert!(!err.contains("panicked"), "a panic in the output:\n{err}");
    assert!(err.contains("0 problems"), "the records loaded:\n{err}");
    let data = data_json(&tmp.path().join("site"));
    assert_schema(&data);
    let own = record(&data, "EE-T07");
    assert_ne!(own["scan_status"], "error", "{own}");
    assert_eq!(own["provider"], "self-hosted", "{own}");
    assert_only_changed(&data, &["EE-T07"]);
    // The hostile bytes reach the page as text, not as a broken page.
    let page = own["page"].as_str().unwrap();
    let html = std::fs::read_to_string(tmp.path().join("site").join(page).join("index.html"))
        .expect("page of own.ee");
    assert!(html.contains("v=DMARC"), "the DMARC record is shown");
}

#[test]
fn an_injected_panic_costs_exactly_one_municipality() {
    for (stage, domain, id) in [
        ("scan", "alias.ee", "EE-T01"),
        ("classify", "gwspf.ee", "EE-T02"),
        ("grade", "own.ee", "EE-T07"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let target = format!("{stage}:{domain}");
        let out = build(
            tmp.path(),
            &fixture("world"),
            "site",
            &[],
            &[("MXMAP_TEST_PANIC", &target)],
        );
        let err = stderr(&out);
        ok(&out);
        assert!(
            err.contains("injected test panic"),
            "{stage}: no panic was injected:\n{err}"
        );
        let data = data_json(&tmp.path().join("site"));
        assert_schema(&data);
        let errors: Vec<&str> = data
            .iter()
            .filter(|r| r["scan_status"] == "error")
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            errors,
            vec![id],
            "{stage}: exactly one municipality is an error"
        );
        let hit = record(&data, id);
        assert_eq!(hit["rule"], "dns_error", "{hit}");
        let evidence = hit["evidence"].to_string();
        assert!(
            evidence.contains(&format!("injected test panic ({stage} of {domain})")),
            "{stage}: the panic message is the evidence: {evidence}"
        );
        assert_only_changed(&data, &[id]);
    }
}

#[test]
fn an_unclosed_parenthesis_fails_the_build_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let world = copy_world(tmp.path());
    let zone = world.join("zones/ee.zone");
    let text = std::fs::read_to_string(&zone).unwrap();
    let line = text
        .lines()
        .position(|l| l == "alias.ee. IN MX 10 mx.alias.ee.")
        .expect("alias MX line")
        + 1;
    std::fs::write(
        &zone,
        text.replace(
            "alias.ee. IN MX 10 mx.alias.ee.",
            "alias.ee. IN MX ( 10 mx.alias.ee.",
        ),
    )
    .unwrap();
    let out = build(tmp.path(), &world, "site", &[], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let at = format!("{}:{line}: unclosed '('", zone.display());
    assert!(err.contains(&at), "{at} not in\n{err}");
    assert!(err.contains("--allow-world-problems"), "{err}");
    assert!(!tmp.path().join("site").exists());
    assert!(!tmp.path().join("site.json").exists(), "no cache written");

    // Allowed explicitly: the loss is printed per file, and only that line is lost.
    let out = build(tmp.path(), &world, "site", &["--allow-world-problems"], &[]);
    let err = stderr(&out);
    ok(&out);
    assert!(
        err.contains(&format!(
            "world: {}: 1 record(s) not loaded (--allow-world-problems), lines {line}",
            zone.display()
        )),
        "{err}"
    );
    let data = data_json(&tmp.path().join("site"));
    assert_schema(&data);
    assert_eq!(record(&data, "EE-T01")["rule"], "no_mx");
    assert_only_changed(&data, &["EE-T01"]);
}

#[test]
fn a_country_gone_dark_after_a_good_build_blocks_publishing() {
    let tmp = tempfile::tempdir().unwrap();
    let world = copy_world(tmp.path());
    ok(&build(tmp.path(), &world, "site", &[], &[]));
    let site = snapshot(&tmp.path().join("site"));
    let cache = std::fs::read(tmp.path().join("site.json")).unwrap();
    // Every name under ee. disappears (only the apex SOA and NS stay): the whole
    // country is "domain does not exist", at a Europe-wide error rate of 0.
    let zone = world.join("zones/ee.zone");
    let apex: String = std::fs::read_to_string(&zone)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('$') || l.starts_with("@ "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&zone, apex).unwrap();
    let out = build(tmp.path(), &world, "site", &["--cache-ttl", "0"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("gate: FAIL country_collapse")
                && l.contains("ee: known verdicts fell from")),
        "{err}"
    );
    assert!(err.contains("quality gate failed"), "{err}");
    assert_eq!(snapshot(&tmp.path().join("site")), site, "the site changed");
    assert_eq!(
        std::fs::read(tmp.path().join("site.json")).unwrap(),
        cache,
        "the cache changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pending") || n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("quality-report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["collapsed_countries"][0]["country"], "ee",
        "{report:#}"
    );

    // Accepted for one run, it publishes.
    ok(&build(
        tmp.path(),
        &world,
        "site",
        &[
            "--cache-ttl",
            "0",
            "--allow-collapse",
            "ee",
            "--max-churn",
            "1",
        ],
        &[],
    ));
    assert_ne!(snapshot(&tmp.path().join("site")), site);
}
