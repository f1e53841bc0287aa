//! Fault injection, end to end: the real binary scans the fixture world through a proxy
//! that drops, delays, truncates and SERVFAILs queries at random, or goes away
//! mid-scan. Retries absorb what they can; whatever is left is a visible scan error or
//! a stale last-known-good verdict, never a silent "unknown".

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// `mxmap build` of the fixture through `resolver`, with its own cache and site.
fn command(dir: &std::path::Path, resolver: &str, cache: &str, extra: &[&str]) -> Command {
    let mut cmd = mxmap(dir);
    cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
        .args(["--resolver", resolver, "--loopback-only"]);
    fixture_inputs(&mut cmd)
        .args(["--cache", cache])
        .arg("--out")
        .arg(site_of(dir, cache))
        .args(extra);
    cmd
}

fn build(dir: &std::path::Path, resolver: &str, cache: &str, extra: &[&str]) -> Output {
    run(
        command(dir, resolver, cache, extra),
        Duration::from_secs(180),
    )
}

fn site_of(dir: &std::path::Path, cache: &str) -> PathBuf {
    dir.join(format!("site-{}", cache.replace(['/', '.'], "_")))
}

fn by_id(data: &[Value]) -> std::collections::HashMap<String, &Value> {
    data.iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn random_loss_servfail_truncation_and_delay_change_no_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = WorldProcess::start(&fixture("world"), dir);
    // The clean run goes through a proxy without faults, so the broken/slow fixture
    // domains are not failing here: every difference below comes from the faults.
    let clean_proxy = FaultProxy::start_random(world.addr, RandomFaults::default());
    let clean_resolver = clean_proxy.addr.to_string();
    ok(&build(
        dir,
        &clean_resolver,
        "clean.json",
        &["--timeout", "500ms"],
    ));
    let clean = data_json(&site_of(dir, "clean.json"));

    let faulty_proxy = FaultProxy::start_random(
        world.addr,
        RandomFaults {
            loss: 0.10,
            servfail: 0.05,
            truncate: 0.05,
            delay: 0.05,
            delay_ms: 80,
            seed: 7,
        },
    );
    let resolver = faulty_proxy.addr.to_string();
    let out = build(
        dir,
        &resolver,
        "faulty.json",
        &[
            "--timeout",
            "250ms",
            "--retries",
            "4",
            "--max-error-rate",
            "1",
        ],
    );
    ok(&out);
    let faulty = data_json(&site_of(dir, "faulty.json"));
    let clean = by_id(&clean);
    let mut same = 0;
    for r in &faulty {
        let id = r["id"].as_str().unwrap();
        let c = clean[id];
        match r["scan_status"].as_str().unwrap() {
            "ok" => {
                assert_eq!(
                    (&r["provider"], &r["rule"], &r["category"]),
                    (&c["provider"], &c["rule"], &c["category"]),
                    "{id} changed verdict under faults"
                );
                same += 1;
            }
            // A failed secondary lookup is flagged, never hidden.
            "partial" => assert!(
                r["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f == "partial_scan"),
                "{id}"
            ),
            "error" => assert_eq!(r["freshness"], "failed", "{id}"),
            _ => assert_eq!(r["scan_status"], c["scan_status"], "{id}"),
        }
        if r["provider"] == "unknown" && c["provider"] != "unknown" {
            assert!(
                matches!(r["scan_status"].as_str(), Some("error" | "partial")),
                "{id} silently turned unknown"
            );
        }
    }
    assert!(
        same * 10 >= faulty.len() * 8,
        "only {same} of {} unchanged",
        faulty.len()
    );
    // The faults really happened: more queries than questions reached the proxy.
    let total: usize = faulty_proxy.seen.lock().unwrap().values().sum();
    let clean_total: usize = clean_proxy.seen.lock().unwrap().values().sum();
    assert!(
        total > clean_total,
        "{total} queries under faults vs {clean_total} clean"
    );
    world.stop();
}

#[test]
fn a_server_that_goes_away_mid_scan_leaves_failed_or_stale_never_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = WorldProcess::start(&fixture("world"), dir);
    let proxy = FaultProxy::start_random(world.addr, RandomFaults::default());
    let resolver = proxy.addr.to_string();
    ok(&build(
        dir,
        &resolver,
        "cache.json",
        &["--timeout", "500ms"],
    ));
    let good = data_json(&site_of(dir, "cache.json"));
    std::thread::sleep(Duration::from_millis(1100));
    // Rescan everything (TTL 0); the server disappears after a few answers.
    let mut cmd = mxmap(dir);
    cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
        .args([
            "--resolver",
            &resolver,
            "--loopback-only",
            "--cache-ttl",
            "0",
        ])
        .args(["--timeout", "200ms", "--retries", "1"])
        .arg("--seeds")
        .arg(fixture("seeds"))
        .arg("--overrides")
        .arg(fixture("overrides.toml"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .args(["--cache", "cache.json"])
        .arg("--out")
        .arg(site_of(dir, "cache.json"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    proxy.go_away_after(20);
    let out = cmd.output().unwrap();
    ok(&out);
    let after = data_json(&site_of(dir, "cache.json"));
    let good = by_id(&good);
    let mut stale = 0;
    for r in &after {
        let id = r["id"].as_str().unwrap();
        let g = good[id];
        if g["scan_status"] == "error" || r["domain"].is_null() {
            continue;
        }
        // Every earlier verdict is kept: fresh (answered before the server left) or
        // stale (the last good answer).
        assert_eq!(r["provider"], g["provider"], "{id}");
        assert!(
            matches!(r["freshness"].as_str(), Some("fresh" | "stale")),
            "{id}: {}",
            r["freshness"]
        );
        if r["freshness"] == "stale" {
            stale += 1;
        }
    }
    assert!(
        stale > 0,
        "the server left before any domain was scanned again"
    );
    world.stop();
}
