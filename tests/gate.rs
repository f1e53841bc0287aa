//! The quality gate and last-known-good, end to end with the real binary: a dead
//! resolver never changes the published site, a server that goes away keeps every
//! verdict (marked stale), and each gate threshold fires on its own.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::*;

/// A fixture build in its own scratch folder.
struct Scratch {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        Scratch { _tmp: tmp, dir }
    }

    fn site(&self) -> PathBuf {
        self.dir.join("site")
    }

    fn cache(&self) -> PathBuf {
        self.dir.join("cache.json")
    }

    /// `mxmap build` of the fixture countries with `dns` (how to reach DNS) and `extra`
    /// (which may name its own `--overrides` and `--cache`).
    fn build(&self, dns: &[&str], extra: &[&str]) -> Output {
        let mut cmd = mxmap(&self.dir);
        cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
            .args(dns)
            .arg("--seeds")
            .arg(fixture("seeds"));
        if !extra.contains(&"--overrides") {
            cmd.arg("--overrides").arg(fixture("overrides.toml"));
        }
        if !extra.contains(&"--cache") {
            cmd.arg("--cache").arg(self.cache());
        }
        cmd.arg("--geodata")
            .arg(fixture("geodata"))
            .arg("--out")
            .arg(self.site())
            .args(extra);
        run(cmd, Duration::from_secs(120))
    }

    fn world_build(&self, extra: &[&str]) -> Output {
        let world = fixture("world").display().to_string();
        self.build(&["--world", &world], extra)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_gate_refuses(out: &Output, check: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "the build should fail the gate:\n{err}"
    );
    assert!(err.contains("quality gate failed"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("gate: FAIL") && l.contains(check)),
        "{check} should be the failing check:\n{err}"
    );
}

#[test]
fn dead_resolver_leaves_the_published_site_and_cache_byte_for_byte() {
    let s = Scratch::new();
    ok(&s.world_build(&[]));
    let before = snapshot(&s.site());
    let cache_before = std::fs::read(s.cache()).expect("cache");
    let out = s.build(
        &[
            "--resolver",
            "127.0.0.1:9",
            "--loopback-only",
            "--timeout",
            "150ms",
            "--retries",
            "0",
        ],
        &[],
    );
    assert_gate_refuses(&out, "error_rate");
    assert_eq!(snapshot(&s.site()), before, "the published site changed");
    assert_eq!(
        std::fs::read(s.cache()).expect("cache"),
        cache_before,
        "the last good cache was replaced"
    );
    assert!(s.dir.join("quality-report.json").is_file());
}

#[test]
fn a_server_that_went_away_keeps_every_verdict_marked_stale() {
    let s = Scratch::new();
    let world = WorldProcess::start(&fixture("world"), &s.dir);
    let resolver = world.addr.to_string();
    let dns = [
        "--resolver",
        resolver.as_str(),
        "--loopback-only",
        "--timeout",
        "150ms",
        "--retries",
        "0",
    ];
    ok(&s.build(&dns, &[]));
    let good = data_json(&s.site());
    world.stop();
    // Observation times have one-second resolution: make "older than this run" visible.
    std::thread::sleep(Duration::from_millis(1100));
    // Same source, nothing answers, nothing is fresh (TTL 0): every answer is the last
    // good one.
    ok(&s.build(&dns, &["--cache-ttl", "0"]));
    let after = data_json(&s.site());
    assert_eq!(good.len(), after.len());
    let mut stale = 0;
    for (g, a) in good.iter().zip(&after) {
        assert_eq!(g["id"], a["id"]);
        if g["scan_status"] == "error" {
            continue;
        }
        assert_eq!(g["provider"], a["provider"], "{}", g["id"]);
        assert_eq!(g["rule"], a["rule"], "{}", g["id"]);
        if g["freshness"] == "fresh" && g["domain"].is_string() {
            assert_eq!(a["freshness"], "stale", "{}", g["id"]);
            stale += 1;
        }
    }
    assert!(stale > 10, "only {stale} stale verdicts");
    // The page says so.
    let page = after
        .iter()
        .find(|r| r["freshness"] == "stale")
        .and_then(|r| r["page"].as_str())
        .expect("a stale record");
    let html = std::fs::read_to_string(s.site().join(page).join("index.html")).unwrap();
    assert!(html.contains("stale"), "{page}");
}

#[test]
fn provider_churn_above_the_threshold_blocks_publishing() {
    let s = Scratch::new();
    ok(&s.world_build(&[]));
    let before = snapshot(&s.site());
    // A forced provider override changes one verdict.
    let overrides = s.dir.join("overrides.toml");
    std::fs::write(
        &overrides,
        r#"[[override]]
id = "EE-T00"
kind = "provider"
value = "google"
mode = "force"
reason = "Test: a changed verdict."
source = "test"
reviewed = "2026-11-01"
"#,
    )
    .unwrap();
    let overrides = overrides.display().to_string();
    let out = s.world_build(&["--overrides", &overrides, "--max-churn", "0"]);
    assert_gate_refuses(&out, "provider_churn");
    assert_eq!(snapshot(&s.site()), before);
    // Within the threshold the same run publishes.
    ok(&s.world_build(&["--overrides", &overrides, "--max-churn", "0.5"]));
    assert_ne!(snapshot(&s.site()), before);
}

#[test]
fn error_rate_mean_and_high_confidence_thresholds_fire() {
    let s = Scratch::new();
    ok(&s.world_build(&[]));
    let before = snapshot(&s.site());
    // Two of the fixture's domains fail (SERVFAIL, timeout) behind the fault proxy: a
    // zero tolerance for scan errors refuses the run.
    let world = WorldProcess::start(&fixture("world"), &s.dir);
    let proxy = FaultProxy::start(
        world.addr,
        std::collections::HashMap::from([
            ("broken.ee".to_string(), Fault::ServFail),
            ("slow.ee".to_string(), Fault::Drop),
        ]),
    );
    let resolver = proxy.addr.to_string();
    let faulty = [
        "--resolver",
        resolver.as_str(),
        "--loopback-only",
        "--timeout",
        "300ms",
        "--retries",
        "0",
    ];
    // A separate cache: the faulty source must not mix with the world's.
    let other_cache = s.dir.join("faulty-cache.json").display().to_string();
    assert_gate_refuses(
        &s.build(&faulty, &["--cache", &other_cache, "--max-error-rate", "0"]),
        "error_rate",
    );
    drop(proxy);
    world.stop();
    assert_gate_refuses(
        &s.world_build(&["--confidence-blocks", "--min-mean-confidence", "100"]),
        "mean_confidence",
    );
    assert_gate_refuses(
        &s.world_build(&["--confidence-blocks", "--min-high-confidence", "1"]),
        "high_confidence_share",
    );
    assert_eq!(snapshot(&s.site()), before);
    // Not blocking unless asked: reported as a warning, and the site is published.
    let out = s.world_build(&["--min-mean-confidence", "100"]);
    ok(&out);
    assert!(stderr(&out).contains("gate: warn mean_confidence"));
}

/// Sends SIGINT to a running child.
fn interrupt(child: &std::process::Child) {
    // SAFETY: kill(2) on a child we started; no memory is involved.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}

#[test]
fn ctrl_c_keeps_a_consistent_cache_and_the_next_run_resumes() {
    let s = Scratch::new();
    let world = WorldProcess::start(&fixture("world"), &s.dir);
    // One domain never answers and has a long timeout, so the scan is still running
    // when it is interrupted; everything else has been answered by then.
    let proxy = FaultProxy::start(
        world.addr,
        std::collections::HashMap::from([("slow.ee".to_string(), Fault::Drop)]),
    );
    let resolver = proxy.addr.to_string();
    let dns = [
        "--resolver",
        resolver.as_str(),
        "--loopback-only",
        "--timeout",
        "20s",
        "--retries",
        "0",
    ];
    let mut cmd = mxmap(&s.dir);
    // Without discovery, whose seed-domain check would wait for slow.ee before the
    // scan begins: this test is about answers of the scan itself being kept.
    cmd.args([
        "scan",
        "--countries",
        "ee,de",
        "--progress",
        "none",
        "--no-discover",
    ])
    .args(dns);
    fixture_inputs(&mut cmd)
        .arg("--cache")
        .arg(s.cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn mxmap");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while proxy.count("direct.ee") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert!(!out.status.success(), "an interrupted scan exits non-zero");
    assert!(err.contains("interrupted:"), "{err}");
    let cache: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.cache()).expect("cache written"))
            .expect("cache is valid JSON");
    let saved = cache["observations"].as_array().unwrap().len();
    assert!(saved > 20, "only {saved} answers saved");
    // The next run reuses them instead of asking again.
    let before = proxy.count("direct.ee");
    // Same resolver (the cache is per source), a short timeout for the silent domain.
    let out = s.build(
        &[
            "--resolver",
            &resolver,
            "--loopback-only",
            "--timeout",
            "300ms",
            "--retries",
            "0",
        ],
        &[],
    );
    let err = stderr(&out);
    ok(&out);
    let reused: usize = err
        .split("queries sent")
        .nth(1)
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        reused >= saved / 2,
        "resumed with only {reused} answers reused of {saved}:\n{err}"
    );
    assert_eq!(
        proxy.count("direct.ee"),
        before,
        "direct.ee was asked again instead of reused"
    );
    drop(proxy);
    world.stop();
}

#[test]
fn killing_a_render_midway_leaves_the_previous_site_intact() {
    let s = Scratch::new();
    ok(&s.world_build(&[]));
    let mut before = snapshot(&s.site());
    let mut killed = 0;
    for _ in 0..20 {
        let mut cmd = mxmap(&s.dir);
        cmd.args(["render", "--countries", "ee,de", "--progress", "none"]);
        fixture_inputs(&mut cmd)
            .arg("--cache")
            .arg(s.cache())
            .arg("--out")
            .arg(s.site())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("spawn mxmap");
        // Kill as soon as the staging folder has pages in it.
        let staging = s.dir.join(format!(".site.tmp-{}", child.id()));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = false;
        while std::time::Instant::now() < deadline {
            if staging.join("ee").is_dir() {
                seen = true;
                break;
            }
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if seen {
            child.kill().expect("kill");
        }
        let status = child.wait().expect("wait");
        if status.success() {
            // Finished before the kill: that is the published site now.
            before = snapshot(&s.site());
            continue;
        }
        if seen {
            killed += 1;
            assert_eq!(
                snapshot(&s.site()),
                before,
                "a killed render changed the site"
            );
            if killed >= 3 {
                break;
            }
        }
    }
    assert!(
        killed > 0,
        "the render always finished before it could be killed"
    );
    // The leftovers of killed runs do not stop the next build.
    ok(&s.world_build(&[]));
}
