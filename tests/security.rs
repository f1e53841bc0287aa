//! The security half end to end: the real `mxmap build` scans a fixture DNS world
//! (`--world`, in-process DNS server on 127.0.0.1) whose MX hosts are a real Postfix on
//! 127.0.4.x (one smtpd per case, certificates from a test CA passed with
//! `--trust-pem`) and whose MTA-STS policy host is an in-process HTTPS server; then it
//! checks the grades in `data.json`, the STARTTLS policy list, the municipality pages
//! and the methodology page, and that `mxmap render` replays the probes from the cache
//! with no server running.
//!
//! The cases (tests/fixtures/security/zones/ee.zone):
//!
//! | id     | domain         | MX                          | expected         |
//! |--------|----------------|-----------------------------|------------------|
//! | EE-S01 | secure.ee      | valid cert, MTA-STS enforce | A+ (A+ / A+)     |
//! | EE-S02 | plain.ee       | no STARTTLS                 | F (F / D)        |
//! | EE-S03 | wrongname.ee   | certificate for other name  | C (C / C)        |
//! | EE-S04 | silent.ee      | nothing listening           | none (? / A+)    |
//! | EE-S05 | nullmx.ee      | null MX                     | none (— / A)     |
//! | EE-S06 | valid.ee       | valid cert, no MTA-STS      | B (B / B)        |
//!
//! Needs Postfix and root (skipped locally without them, a failure under MXMAP_CI).
//! Nothing here contacts anything outside 127.0.0.0/8.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::https::PolicyServer;
use common::pki::{Authority, Leaf};
use common::postfix::{Postfix, Variant, free_port};
use common::*;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

const SECURE: &str = "EE-S01";
const PLAIN: &str = "EE-S02";
const WRONG_NAME: &str = "EE-S03";
const SILENT: &str = "EE-S04";
const NULL_MX: &str = "EE-S05";
const VALID: &str = "EE-S06";

/// The MX addresses of the zone file.
fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 4, n)
}

/// The MTA-STS policy of secure.ee, as served.
const SECURE_POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.secure.ee\nmax_age: 604800\n";

struct Built {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    site: PathBuf,
    cache: PathBuf,
    data: Vec<Value>,
    stderr: String,
}

/// Starts Postfix and the policy host, runs `mxmap build` against them once for all
/// tests of this file, and stops both servers again (also when the build fails: they
/// are locals, dropped while unwinding). `None` when Postfix or root is missing.
fn built() -> Option<&'static Built> {
    static BUILT: OnceLock<Option<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let postfix = common::postfix::prerequisites()?;
            Some(build(postfix))
        })
        .as_ref()
}

fn build(postfix: PathBuf) -> Built {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();

    let root = Authority::new("mxmap Security Test Root", None);
    let mid = Authority::new("mxmap Security Test Intermediate", Some(&root));
    let signed = |name: &str| Leaf::new(&[name], Some(&mid), |_| {}).with(&mid);
    let ca_file = dir.join("test-ca.pem");
    std::fs::write(&ca_file, &root.pem).expect("write CA");

    let variants = vec![
        Variant {
            ip: ip(1),
            host: "mx.secure.ee",
            options: "",
            leaf: Some(signed("mx.secure.ee")),
        },
        Variant {
            ip: ip(2),
            host: "mx.plain.ee",
            options: "-o smtpd_tls_security_level=none",
            leaf: None,
        },
        Variant {
            ip: ip(3),
            host: "mx.wrongname.ee",
            options: "",
            leaf: Some(signed("other.wrongname.ee")),
        },
        Variant {
            ip: ip(5),
            host: "mx.valid.ee",
            options: "",
            leaf: Some(signed("mx.valid.ee")),
        },
    ];
    // Free on the silent address too, so nothing answers there (not even a wildcard
    // listener on the port).
    let mut ips: Vec<Ipv4Addr> = variants.iter().map(|v| v.ip).collect();
    ips.push(ip(4));
    let smtp_port = free_port(&ips);
    let instance = Postfix::start(postfix, &variants, smtp_port);
    let policy = PolicyServer::start(ip(9), 0, &signed("mta-sts.secure.ee"), SECURE_POLICY);

    let site = dir.join("site");
    let cache = dir.join("cache.json");
    let mut cmd = mxmap(&dir);
    cmd.args(["build", "--countries", "ee", "--timeout", "2s"])
        .arg("--world")
        .arg(fixture("security"))
        .arg("--seeds")
        .arg(fixture("security/seeds"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .arg("--cache")
        .arg(&cache)
        .arg("--out")
        .arg(&site)
        .arg("--smtp-port")
        .arg(smtp_port.to_string())
        .arg("--https-port")
        .arg(policy.addr.port().to_string())
        .arg("--trust-pem")
        .arg(&ca_file)
        .args([
            "--ehlo-name",
            "scanner.mxmap.test",
            "--smtp-connect-timeout",
            "3s",
            "--smtp-reply-timeout",
            "10s",
            "--progress",
            "plain",
        ]);
    let out = run(cmd, Duration::from_secs(180));
    if !out.status.success() {
        eprintln!("postfix log:\n{}", instance.log());
    }
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        policy.requests() >= 1,
        "the MTA-STS policy was never fetched\n{stderr}"
    );
    // Postfix saw the probes (three MX hosts with TLS, one without), and none of them
    // tried to send mail.
    let log = instance.log();
    let sessions: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" disconnect from "))
        .collect();
    assert!(sessions.len() >= 4, "postfix log:\n{log}");
    for line in sessions {
        for verb in ["mail=", "rcpt=", "data="] {
            assert!(!line.contains(verb), "{line}");
        }
    }
    drop(policy);
    drop(instance);
    let data = data_json(&site);
    Built {
        _tmp: tmp,
        dir,
        site,
        cache,
        data,
        stderr,
    }
}

fn rec<'a>(b: &'a Built, id: &str) -> &'a Value {
    record(&b.data, id)
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

fn failed_checks(r: &Value) -> Vec<&str> {
    r["failed_checks"]
        .as_array()
        .expect("failed_checks")
        .iter()
        .map(|c| c.as_str().expect("check"))
        .collect()
}

/// id, published grade, transport letter, authentication letter, failed checks.
type Expected = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[test]
fn data_json_has_the_expected_letters() {
    let Some(b) = built() else { return };
    let expected: [Expected; 6] = [
        (SECURE, Some("A+"), "A+", "A+", &[]),
        (
            PLAIN,
            Some("F"),
            "F",
            "D",
            &["starttls", "mta_sts", "tls_rpt", "dmarc"],
        ),
        (
            WRONG_NAME,
            Some("C"),
            "C",
            "C",
            &["certificate", "mta_sts", "tls_rpt", "dmarc_policy"],
        ),
        (SILENT, None, "?", "A+", &["mta_sts", "tls_rpt"]),
        (NULL_MX, None, "—", "A", &[]),
        (VALID, Some("B"), "B", "B", &["mta_sts", "tls_rpt"]),
    ];
    for (id, grade, transport, auth, checks) in expected {
        let r = rec(b, id);
        let pretty = serde_json::to_string_pretty(r).unwrap();
        assert_eq!(text(&r["grade"]), grade, "{id}: {pretty}");
        assert_eq!(
            text(&r["grade_transport"]),
            Some(transport),
            "{id}: {pretty}"
        );
        assert_eq!(text(&r["grade_auth"]), Some(auth), "{id}: {pretty}");
        assert_eq!(failed_checks(r), checks, "{id}: {pretty}");
        assert_eq!(r["scan_status"], "ok", "{id}: {pretty}");
        // A reason exactly when there is no published letter.
        assert_eq!(
            r["grade_reason"].is_null(),
            grade.is_some(),
            "{id}: {pretty}"
        );
    }

    let silent = text(&rec(b, SILENT)["grade_reason"]).unwrap();
    assert!(silent.contains("No SMTP server reachable"), "{silent}");
    assert!(silent.contains("mx.silent.ee"), "{silent}");
    let null = text(&rec(b, NULL_MX)["grade_reason"]).unwrap();
    assert!(null.contains("null MX"), "{null}");
}

#[test]
fn the_classifier_sees_the_probed_certificates() {
    let Some(b) = built() else { return };
    let certificate_evidence = |id: &str| -> Vec<(String, String)> {
        rec(b, id)["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["signal"] == "cert")
            .map(|e| {
                (
                    e["query"].as_str().unwrap_or_default().to_string(),
                    e["raw"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let secure = certificate_evidence(SECURE);
    assert!(
        secure
            .iter()
            .any(|(q, raw)| q.starts_with("mx.secure.ee [127.0.4.1]") && raw == "mx.secure.ee"),
        "{secure:?}"
    );
    let wrong = certificate_evidence(WRONG_NAME);
    assert!(
        wrong
            .iter()
            .any(|(_, raw)| raw.contains("other.wrongname.ee")),
        "{wrong:?}"
    );
    // No TLS, no certificate; nothing reached, nothing seen.
    assert!(certificate_evidence(PLAIN).is_empty());
    assert!(certificate_evidence(SILENT).is_empty());
    // The greeting names the software.
    let plain = rec(b, PLAIN)["evidence"].as_array().unwrap();
    assert!(
        plain
            .iter()
            .any(|e| e["signal"] == "banner" && e["raw"] == "software: Postfix"),
        "{plain:?}"
    );
}

fn policy_list(site: &Path) -> Value {
    let text = std::fs::read_to_string(site.join("data/starttls-policy.json"))
        .expect("data/starttls-policy.json");
    serde_json::from_str(&text).expect("policy list parses")
}

#[test]
fn starttls_policy_lists_exactly_the_valid_starttls_domains() {
    let Some(b) = built() else { return };
    let list = policy_list(&b.site);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("grade/policy-0.1.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&list)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{list:#}");

    let policies = list["policies"].as_object().unwrap();
    let listed: BTreeSet<&str> = policies.keys().map(String::as_str).collect();
    assert_eq!(
        listed,
        BTreeSet::from(["secure.ee", "valid.ee"]),
        "{list:#}"
    );
    assert_eq!(policies["secure.ee"]["mode"], "enforce");
    assert_eq!(
        policies["secure.ee"]["mxs"],
        serde_json::json!(["mx.secure.ee"])
    );
    assert_eq!(policies["valid.ee"]["mode"], "testing");
    assert_eq!(
        policies["valid.ee"]["mxs"],
        serde_json::json!(["mx.valid.ee"])
    );
    assert_eq!(list["policy-aliases"], serde_json::json!({}));
}

fn page(b: &Built, id: &str) -> Html {
    let path = b
        .site
        .join(rec(b, id)["page"].as_str().unwrap())
        .join("index.html");
    Html::parse_document(&std::fs::read_to_string(&path).expect("municipality page"))
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

fn inner_text(e: ElementRef) -> String {
    e.text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The security card of a page: headline letter, the three letters (overall,
/// transport, authentication), failed-check rows (check, host, evidence), MX table rows
/// and the MTA-STS suggestion.
struct Card {
    headline: String,
    letters: Vec<String>,
    failed: Vec<(String, String, String)>,
    hosts: Vec<Vec<String>>,
    rule_links: Vec<String>,
    suggestion: Option<String>,
}

fn card(html: &Html) -> Card {
    let section = html
        .select(&sel("section.security"))
        .next()
        .expect("security card");
    // Each table of the card follows its h3 heading.
    let mut heading = String::new();
    let mut tables: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for child in section.children().filter_map(ElementRef::wrap) {
        match child.value().name() {
            "h3" => heading = inner_text(child),
            "table" => tables.push((
                heading.clone(),
                child
                    .select(&sel("tbody tr"))
                    .map(|row| row.select(&sel("td")).map(inner_text).collect())
                    .collect(),
            )),
            _ => {}
        }
    }
    let table_after = |title: &str| -> Vec<Vec<String>> {
        tables
            .iter()
            .find(|(h, _)| h == title)
            .map(|(_, rows)| rows.clone())
            .unwrap_or_default()
    };
    Card {
        headline: section
            .select(&sel("h2 .grade"))
            .next()
            .map(inner_text)
            .unwrap_or_default(),
        letters: section
            .select(&sel(".gradebox .grade"))
            .map(inner_text)
            .collect(),
        failed: table_after("Failed checks")
            .into_iter()
            .map(|c| (c[0].clone(), c[1].clone(), c[2].clone()))
            .collect(),
        hosts: table_after("Mail servers"),
        rule_links: section
            .select(&sel(".gradebox li a code"))
            .map(inner_text)
            .collect(),
        suggestion: html
            .select(&sel("#mta-sts-suggestion + p + pre"))
            .next()
            .map(|e| e.text().collect()),
    }
}

#[test]
fn municipality_pages_show_the_security_card() {
    let Some(b) = built() else { return };
    let expect = [
        (SECURE, "A+", ["A+", "A+", "A+"]),
        (PLAIN, "F", ["F", "F", "D"]),
        (WRONG_NAME, "C", ["C", "C", "C"]),
        (SILENT, "?", ["?", "?", "A+"]),
        (NULL_MX, "—", ["—", "—", "A"]),
        (VALID, "B", ["B", "B", "B"]),
    ];
    for (id, headline, letters) in expect {
        let c = card(&page(b, id));
        assert_eq!(c.headline, headline, "{id}");
        assert_eq!(c.letters, letters, "{id}");
        // The failed checks of the page are those of data.json, in order.
        let checks: Vec<String> = c.failed.iter().map(|f| f.0.clone()).collect();
        let mut want: Vec<String> = failed_checks(rec(b, id))
            .into_iter()
            .map(str::to_string)
            .collect();
        want.dedup();
        let mut got = checks.clone();
        got.dedup();
        assert_eq!(got, want, "{id}");
    }

    // Evidence names the host and what was seen there.
    let plain = card(&page(b, PLAIN));
    let starttls = plain
        .failed
        .iter()
        .find(|f| f.0 == "starttls")
        .expect("starttls row");
    assert_eq!(starttls.1, "mx.plain.ee");
    assert!(!starttls.2.is_empty(), "{starttls:?}");
    assert!(
        plain.rule_links.iter().any(|r| r == "T-F-NO-STARTTLS"),
        "{:?}",
        plain.rule_links
    );
    assert_eq!(plain.hosts.len(), 1);
    assert_eq!(plain.hosts[0][1], "mx.plain.ee");
    assert_eq!(plain.hosts[0][2], "127.0.4.2");
    // Columns: preference, host, address, SMTP, STARTTLS, TLS, certificate, DANE. A
    // plaintext host has no certificate to judge.
    assert_eq!(plain.hosts[0][4], "none", "{:?}", plain.hosts);
    assert_eq!(plain.hosts[0][6], "—", "{:?}", plain.hosts);

    let wrong = card(&page(b, WRONG_NAME));
    let cert = wrong
        .failed
        .iter()
        .find(|f| f.0 == "certificate")
        .expect("certificate row");
    assert_eq!(cert.1, "mx.wrongname.ee");
    assert!(cert.2.contains("mx.wrongname.ee"), "{cert:?}");
    assert_eq!(wrong.hosts[0][6], "name mismatch", "{:?}", wrong.hosts);
    assert!(
        wrong.rule_links.iter().any(|r| r == "T-C-UNAUTHENTICATED"),
        "{:?}",
        wrong.rule_links
    );

    let silent = card(&page(b, SILENT));
    assert!(
        silent.rule_links.iter().any(|r| r == "T-UNMEASURED"),
        "{:?}",
        silent.rule_links
    );
    assert_eq!(silent.hosts.len(), 1);
    assert_eq!(
        silent.hosts[0][3], "connection refused",
        "{:?}",
        silent.hosts
    );

    let secure = card(&page(b, SECURE));
    assert!(secure.failed.is_empty(), "{:?}", secure.failed);
    assert!(secure.rule_links.iter().any(|r| r == "T-APLUS"));
    assert!(
        secure.hosts[0].iter().any(|c| c == "valid, name matches"),
        "{:?}",
        secure.hosts
    );

    let null = card(&page(b, NULL_MX));
    assert!(null.hosts.is_empty());
    assert!(null.rule_links.iter().any(|r| r == "T-NULL-MX"));
}

#[test]
fn mta_sts_suggestion_only_where_it_qualifies() {
    let Some(b) = built() else { return };
    // Every MX host has valid STARTTLS and there is no MTA-STS policy yet: only valid.ee.
    for id in [SECURE, PLAIN, WRONG_NAME, SILENT, NULL_MX] {
        assert!(card(&page(b, id)).suggestion.is_none(), "{id}");
    }
    let suggestion = card(&page(b, VALID)).suggestion.expect("suggestion");
    for line in [
        "_mta-sts.valid.ee. 3600 IN TXT \"v=STSv1; id=",
        "https://mta-sts.valid.ee/.well-known/mta-sts.txt",
        "mode: testing",
        "mx: mx.valid.ee",
        "max_age: 604800",
    ] {
        assert!(suggestion.contains(line), "{line:?} not in\n{suggestion}");
    }
}

#[test]
fn methodology_lists_every_grade_rule() {
    let Some(b) = built() else { return };
    let rules: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("src/grade/rules.toml")).expect("rules.toml"),
    )
    .expect("rules.toml parses");
    let html = Html::parse_document(
        &std::fs::read_to_string(b.site.join("methodology/index.html")).expect("methodology"),
    );
    let codes: BTreeSet<String> = html.select(&sel("code")).map(inner_text).collect();
    let mut ids = 0;
    for axis in ["transport", "auth", "overall"] {
        for rule in rules[axis].as_array().expect(axis) {
            let id = rule["id"].as_str().expect("id");
            ids += 1;
            assert!(codes.contains(id), "{id} is not on the methodology page");
        }
    }
    assert!(ids >= 29, "{ids}");
    // Every anchor a municipality page links to exists.
    let anchors: BTreeSet<&str> = html
        .select(&sel("[id]"))
        .filter_map(|e| e.value().attr("id"))
        .collect();
    for id in [SECURE, PLAIN, WRONG_NAME, SILENT, NULL_MX, VALID] {
        for link in page(b, id).select(&sel(".gradebox li a")) {
            let href = link.value().attr("href").unwrap();
            let anchor = href.rsplit_once('#').map(|(_, a)| a).unwrap();
            assert!(anchors.contains(anchor), "{id}: {href}");
        }
    }
}

/// The rows of the first table after the heading with id `heading`, as cell texts.
fn table_after(html: &Html, heading: &str) -> Vec<Vec<String>> {
    let section = html
        .select(&sel(&format!("section[aria-labelledby={heading}]")))
        .next()
        .unwrap_or_else(|| panic!("no section {heading}"));
    section
        .select(&sel("tbody tr"))
        .map(|tr| tr.select(&sel("td")).map(inner_text).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == first)
        .unwrap_or_else(|| panic!("no row {first:?} in {rows:?}"))
}

#[test]
fn security_reports_count_the_fixture() {
    let Some(b) = built() else { return };
    let read = |path: &str| {
        Html::parse_document(
            &std::fs::read_to_string(b.site.join(path)).unwrap_or_else(|e| panic!("{path}: {e}")),
        )
    };
    for path in ["security/index.html", "ee/security/index.html"] {
        let html = read(path);
        // One municipality per letter; percentages of all six.
        let grades = table_after(&html, "dist-h");
        for (letter, n, pct) in [
            ("A+", "1", "16.7"),
            ("A", "0", "0.0"),
            ("B", "1", "16.7"),
            ("C", "1", "16.7"),
            ("F", "1", "16.7"),
            ("?", "1", "16.7"),
            ("—", "1", "16.7"),
        ] {
            assert_eq!(row(&grades, letter)[1..], [n, pct], "{path}: {letter}");
        }
        // Transport checks over the four measured domains, MTA-STS and TLS-RPT over the
        // five that receive mail, DMARC over all six.
        let adoption = table_after(&html, "adopt-h");
        let cells = |check: &str| row(&adoption, check)[1..].join(" | ");
        assert_eq!(
            cells("STARTTLS on every MX host"),
            "3 | 4 with a measured MX | 75.0",
            "{path}"
        );
        assert_eq!(
            cells("Valid certificate on every MX host"),
            "2 | 4 with a measured MX | 50.0",
            "{path}"
        );
        assert_eq!(
            cells("MTA-STS enforce"),
            "1 | 5 receiving mail | 20.0",
            "{path}"
        );
        assert_eq!(cells("TLS-RPT"), "1 | 5 receiving mail | 20.0", "{path}");
        assert_eq!(
            cells("DMARC p=reject").split(" | ").nth(1),
            Some("6 domains checked")
        );
        let lead = html.select(&sel("p.lead")).map(inner_text).next().unwrap();
        assert!(
            lead.starts_with("50.0 % of the 4 graded municipalities (2)"),
            "{path}: {lead}"
        );
        // The fixture has no DANE, MTA-STS or DNSSEC breakage.
        let broken: Vec<String> = html
            .select(&sel("section[aria-labelledby=broken-h] p"))
            .map(inner_text)
            .collect();
        assert!(
            broken.iter().any(|p| p == "None found."),
            "{path}: {broken:?}"
        );
    }
    // Countries are ranked on the Europe page, regions on the country page.
    let europe = table_after(&read("security/index.html"), "league-h");
    assert_eq!(
        row(&europe, "Estonia")[1..4],
        ["6", "4", "50.0"],
        "{europe:?}"
    );
    let regions = table_after(&read("ee/security/index.html"), "league-h");
    // p=reject at secure.ee, silent.ee and nullmx.ee (ee.zone): 3 of 6.
    assert_eq!(
        row(&regions, "Fixture maakond")[1..],
        ["6", "4", "50.0", "75.0", "50.0", "20.0"][..],
        "{regions:?}"
    );
    // The explainer lists every rule, and every adoption link lands on one of its rows.
    let explainer = read("security/grades/index.html");
    let anchors: BTreeSet<&str> = explainer
        .select(&sel("[id]"))
        .filter_map(|e| e.value().attr("id"))
        .collect();
    let codes: BTreeSet<String> = explainer.select(&sel("code")).map(inner_text).collect();
    assert!(
        codes.contains("T-APLUS") && codes.contains("A-UNMEASURED"),
        "{codes:?}"
    );
    for link in read("security/index.html").select(&sel("section[aria-labelledby=adopt-h] a")) {
        let href = link.value().attr("href").unwrap();
        let anchor = href.rsplit_once('#').map(|(_, a)| a).unwrap();
        assert!(anchors.contains(anchor), "{href}");
    }
}

#[test]
fn render_replays_the_probes_from_the_cache() {
    let Some(b) = built() else { return };
    // Postfix and the policy host are gone; only the cache is left.
    let out = b.dir.join("site-from-cache");
    let mut cmd = mxmap(&b.dir);
    cmd.args(["render", "--countries", "ee"])
        .arg("--seeds")
        .arg(fixture("security/seeds"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .arg("--cache")
        .arg(&b.cache)
        .arg("--out")
        .arg(&out)
        .args(["--progress", "none"]);
    ok(&run(cmd, Duration::from_secs(60)));
    let again = data_json(&out);
    assert_eq!(again.len(), b.data.len());
    for (first, second) in b.data.iter().zip(&again) {
        for field in [
            "id",
            "grade",
            "grade_transport",
            "grade_auth",
            "grade_partial",
            "grade_reason",
            "failed_checks",
            "evidence",
        ] {
            assert_eq!(first[field], second[field], "{}: {field}", first["id"]);
        }
    }
    assert_eq!(
        std::fs::read(b.site.join("data.json")).unwrap(),
        std::fs::read(out.join("data.json")).unwrap(),
        "data.json differs"
    );
    assert_eq!(policy_list(&b.site), policy_list(&out));
    assert!(b.stderr.contains("smtp:"), "{}", b.stderr);
}
