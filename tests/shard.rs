//! One scan split into shards and merged again (`mxmap scan --shard K/N`, `mxmap merge`,
//! `mxmap render`: the path a CI matrix takes) gives the same site data as one scan of
//! everything: `data.json` byte for byte.
//!
//! It runs on a few small countries of the recorded world (`world/`, the repository's
//! seeds and overrides), served in process by `--world`, so it is quick.
//!
//! What may legitimately differ between two scans of the same world is time: every
//! answer, probe and the site itself carry when they were made. Every run here stops
//! the clock at the same instant (`--clock` with `MXMAP_CLOCK_FROZEN=1`) instead of the
//! comparison ignoring anything, so every other byte (verdicts, evidence, grades,
//! staleness, `scanned_at`, the DNS source) must agree.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// The stopped clock of every run here.
const CLOCK: &str = "2026-08-30T02:17:00Z";
/// Small countries of the recorded world: about a hundred municipalities.
const COUNTRIES: &str = "lv,me,ie";
const SEED_FILES: [&str; 3] = ["lv.json", "me.json", "ie.json"];
const SHARDS: usize = 4;

fn command(dir: &Path, data: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = mxmap(dir);
    cmd.env("MXMAP_CLOCK_FROZEN", "1")
        .args(args)
        .args([
            "--countries",
            COUNTRIES,
            "--progress",
            "none",
            "--clock",
            CLOCK,
        ])
        .arg("--data")
        .arg(data)
        .arg("--overrides")
        .arg(data.join("seeds/overrides.toml"));
    cmd
}

/// `mxmap scan` against the recorded world served in process; returns stderr.
fn scan(dir: &Path, data: &Path, cache: &Path, shard: Option<&str>) -> String {
    let mut cmd = command(dir, data, &["scan"]);
    cmd.arg("--world")
        .arg(data.join("world"))
        .arg("--cache")
        .arg(cache);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let out = run(cmd, Duration::from_secs(180));
    ok(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `mxmap render` of a cache into `dir/<name>/site`; returns the site folder.
fn render(dir: &Path, data: &Path, cache: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let site = dir.join(name).join("site");
    let mut cmd = command(dir, data, &["render"]);
    cmd.args(extra);
    cmd.arg("--cache")
        .arg(cache)
        .arg("--out")
        .arg(&site)
        .arg("--history")
        .arg(dir.join(name).join("history"));
    ok(&run(cmd, Duration::from_secs(180)));
    site
}

fn merge(dir: &Path, out: &Path, inputs: &[PathBuf]) -> std::process::Output {
    let mut cmd = mxmap(dir);
    cmd.args(["merge", "--cache"]).arg(out).args(inputs);
    run(cmd, Duration::from_secs(60))
}

/// The seed domains whose MX question a cache answers.
fn mx_domains(data: &Path, cache: &Path) -> Vec<String> {
    let seeds: Vec<String> = SEED_FILES
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(data.join("seeds").join(file)).unwrap();
            let seeds: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            seeds
                .into_iter()
                .filter_map(|s| s["domain"].as_str().map(str::to_string))
        })
        .collect();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(cache).unwrap()).unwrap();
    let mut domains: Vec<String> = json["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["rtype"] == "MX")
        .filter_map(|o| o["name"].as_str())
        .filter(|name| seeds.iter().any(|s| s == name))
        .map(str::to_string)
        .collect();
    domains.sort();
    domains
}

#[test]
fn four_shards_merged_render_the_same_data_json_as_one_scan() {
    let Some(data) = europe_data() else {
        return skip_missing("the recorded world (world/)");
    };
    let data = data.as_path();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let whole = dir.join("whole.json");
    scan(dir, data, &whole, None);
    let whole_site = render(dir, data, &whole, "whole", &[]);

    let shards: Vec<PathBuf> = (1..=SHARDS)
        .map(|k| {
            let cache = dir.join(format!("shard-{k}.json"));
            let stderr = scan(dir, data, &cache, Some(&format!("{k}/{SHARDS}")));
            assert!(
                stderr.contains(&format!("shard {k}/{SHARDS}: ")),
                "{stderr}"
            );
            cache
        })
        .collect();

    // The shards split the domains: each asks only its own, none is empty, none is
    // asked twice, and together they ask every domain the whole scan asked.
    let per_shard: Vec<Vec<String>> = shards.iter().map(|c| mx_domains(data, c)).collect();
    let mut union: Vec<String> = per_shard.iter().flatten().cloned().collect();
    union.sort();
    let total = union.len();
    union.dedup();
    assert_eq!(union.len(), total, "a domain was scanned by two shards");
    assert_eq!(union, mx_domains(data, &whole));
    assert!(per_shard.iter().all(|d| !d.is_empty()), "{per_shard:?}");

    let merged = dir.join("merged.json");
    let out = merge(dir, &merged, &shards);
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("4 caches (4 shards)"), "{summary}");
    let merged_site = render(dir, data, &merged, "merged", &[]);

    let a = std::fs::read(whole_site.join("data.json")).unwrap();
    let b = std::fs::read(merged_site.join("data.json")).unwrap();
    assert!(a.len() > 1000, "data.json has records");
    assert!(
        a == b,
        "data.json differs between one scan and 4 merged shards:\n{}",
        first_difference(&a, &b)
    );
    assert_eq!(
        std::fs::read(whole_site.join("data.csv")).unwrap(),
        std::fs::read(merged_site.join("data.csv")).unwrap()
    );

    // The comparison can fail: one shard alone renders other data (the other shards'
    // domains are missing from its cache, which the quality gate would refuse to
    // publish as a collapse of their countries).
    let lone_site = render(dir, data, &shards[0], "lone", &["--no-quality-gate"]);
    assert_ne!(std::fs::read(lone_site.join("data.json")).unwrap(), a);

    // A merge without every shard is refused, and writes nothing.
    let partial = dir.join("partial.json");
    let out = merge(dir, &partial, &shards[..SHARDS - 1]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("shard 4/4 missing"), "{error}");
    assert!(!partial.exists());
}

/// Where two byte strings first differ, with some context.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |s: &[u8]| {
        String::from_utf8_lossy(&s[at.saturating_sub(200)..(at + 200).min(s.len())]).into_owned()
    };
    format!(
        "at byte {at}:\n  one scan: …{}…\n  merged:   …{}…",
        show(a),
        show(b)
    )
}
