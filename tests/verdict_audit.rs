//! The issue-16 classification audit ([`common::verdict_audit`]): its own checks on
//! hand-made records, and — on request — over a finished full build:
//!
//! ```sh
//! MXMAP_AUDIT_SITE=/tmp/x MXMAP_AUDIT_LOG=/tmp/x.log \
//!     cargo test --test verdict_audit -- --ignored --nocapture
//! ```
//!
//! (`/tmp/x.log` holds the build's stderr.) The full-world test (`tests/world.rs`) runs
//! the same audit on every CI build.

mod common;

use common::verdict_audit::audit;
use serde_json::{Value, json};

fn record(id: &str, rule: &str, provider: &str, flags: &[&str], evidence: Value) -> Value {
    json!({
        "id": id, "domain_ascii": "town.de", "rule": rule, "provider": provider,
        "flags": flags, "evidence": evidence, "scan_status": "ok",
    })
}

const CLEAN_REPORT: &str = "uncatalogued MX domains serving 3 or more municipalities: none";

#[test]
fn the_audit_accepts_clean_records() {
    let records = vec![
        record(
            "A",
            "asn_infra",
            "microsoft",
            &["asn_only"],
            json!([{"signal": "mx", "role": "decisive", "raw": "10 mail.town.de", "matched": "microsoft: asn 8075"}]),
        ),
        record(
            "B",
            "no_mx",
            "unknown",
            &[],
            json!([{"signal": "mx", "role": "decisive", "raw": "no MX record (NODATA)"}]),
        ),
    ];
    let a = audit(&records, CLEAN_REPORT, std::path::Path::new("/nonexistent"));
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert_eq!(a.network_only, 1);
}

#[test]
fn the_audit_finds_each_violation() {
    let third = |id: &str| {
        record(
            id,
            "third_party",
            "third-party",
            &[],
            json!([{"signal": "mx", "role": "decisive", "raw": "10 mx.portal.de", "matched": "third party portal.de"}]),
        )
    };
    let mut invalid = record("F", "no_domain", "unknown", &[], json!([]));
    invalid["scan_status"] = json!("invalid-domain");
    let records = vec![
        record(
            "A",
            "asn_isp",
            "hetzner",
            &["asn_only"],
            json!([{"signal": "mx", "role": "decisive", "raw": "10 sslmail.portal.de"}]),
        ),
        record(
            "B",
            "own",
            "self-hosted",
            &[],
            json!([{"signal": "autodiscover", "role": "informational", "raw": "cpanelemaildiscovery.cpanel.net"}]),
        ),
        third("C"),
        third("D"),
        third("E"),
        invalid,
        record("G", "no_mx", "unknown", &[], json!([])),
    ];
    let a = audit(
        &records,
        "uncatalogued MX domains serving 3 or more municipalities (1)",
        std::path::Path::new("/nonexistent"),
    );
    let text = a.findings.join("\n");
    for expected in [
        "A: asn_isp decided by the network of sslmail.portal.de",
        "B: self-hosted with autodiscover",
        "portal.de serves 3 municipalities",
        "F: invalid domain without seed evidence",
        "G: no_mx without its MX observation",
        "report is not empty",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
#[ignore = "audits the finished build named by MXMAP_AUDIT_SITE (and MXMAP_AUDIT_LOG)"]
fn audit_a_finished_build() {
    let site = std::env::var_os("MXMAP_AUDIT_SITE").expect("set MXMAP_AUDIT_SITE to a site folder");
    let log = std::env::var_os("MXMAP_AUDIT_LOG")
        .map(|p| std::fs::read_to_string(p).expect("readable build log"))
        .unwrap_or_default();
    let records = common::data_json(std::path::Path::new(&site));
    let world = common::root().join("world");
    let a = audit(&records, &log, &world);
    println!(
        "audited {} records: {} network-only verdicts, {} self-hosted, {} scan errors, {} invalid seed domains, {} uncatalogued shared MX domains",
        records.len(),
        a.network_only,
        a.self_hosted,
        a.scan_errors,
        a.invalid_domains,
        a.shared_uncatalogued.len()
    );
    for f in &a.findings {
        println!("  {f}");
    }
    assert!(a.findings.is_empty(), "{} findings", a.findings.len());
}
