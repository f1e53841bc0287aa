//! `mxmap merge`: the caches of several scans (the shards of a CI matrix, or a previous
//! run and a new one) become one cache that `mxmap render` builds the site from.
//!
//! Only caches that describe the same world merge: same DNS source (a shard that asked
//! another resolver would mix two worlds in one site) and same file format (written by
//! the same mxmap). Shard caches must all be there: a missing shard would silently turn
//! its domains into scan errors. Entries combine by the cache's own rules (a good answer
//! beats a failure, then the newer one wins), so the order of the inputs does not matter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::cache::ScanCache;
use super::shard::Shard;

/// What a merge did, for the summary line.
#[derive(Debug)]
pub struct MergeReport {
    /// Caches read.
    pub inputs: usize,
    /// Shard count of the shard caches among them, if any.
    pub shards: Option<u32>,
    /// What became of a cache that was already at the output path.
    pub base: Base,
    /// Observations, probes and policy fetches in the merged cache.
    pub observations: usize,
    pub probes: usize,
    pub policies: usize,
}

/// A cache found at the output path before the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// None there, or it is one of the inputs.
    None,
    /// Same DNS source: merged in, so its answers stay the last known good ones of the
    /// domains this merge has no (good) answer for.
    Kept,
    /// Another DNS source: replaced, as a whole scan replaces it.
    Replaced,
}

/// Merges `inputs` into the cache at `out` (written atomically). An existing cache at
/// `out` of the same DNS source is merged in too (the nightly workflow merges the
/// shards into the cache restored from the published state); one of another source is
/// replaced; an existing `out` that is not a scan cache is never overwritten. `out` may
/// be one of the inputs. Nothing is written when any check fails.
pub fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<MergeReport> {
    if inputs.is_empty() {
        bail!("nothing to merge: name at least one scan cache");
    }
    let existing = if inputs.iter().any(|i| same_file(i, out)) {
        None
    } else {
        // Fails on a file that exists but is no scan cache (or is unreadable).
        ScanCache::load(out).with_context(|| {
            format!(
                "refusing to overwrite {}: it is not a scan cache mxmap can read",
                out.display()
            )
        })?
    };
    let mut merged: Option<(PathBuf, ScanCache)> = None;
    let mut shards: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut shard_count: Option<(u32, PathBuf)> = None;
    for path in inputs {
        let cache = ScanCache::load(path)?
            .with_context(|| format!("no scan cache at {}", path.display()))?;
        if let Some(shard) = cache.shard {
            check_shard(shard, path, &mut shards, &mut shard_count)?;
        }
        match &mut merged {
            None => merged = Some((path.clone(), cache)),
            Some((first, into)) => {
                check_compatible(first, into, path, &cache)?;
                into.absorb(cache);
            }
        }
    }
    if let Some((count, _)) = &shard_count {
        check_every_shard(*count, &shards)?;
    }
    let (_, mut cache) = merged.context("at least one input was read")?;
    let base = match existing {
        None => Base::None,
        Some(previous) if previous.source == cache.source => {
            cache.absorb(previous);
            Base::Kept
        }
        Some(_) => Base::Replaced,
    };
    cache.shard = None;
    let written_at = cache.written_at;
    cache.save(out, written_at)?;
    Ok(MergeReport {
        inputs: inputs.len(),
        shards: shard_count.map(|(count, _)| count),
        base,
        observations: cache.len(),
        probes: cache.probe_count(),
        policies: cache.policy_count(),
    })
}

/// Every shard of a split into `count` is among the inputs.
fn check_every_shard(count: u32, shards: &BTreeMap<u32, PathBuf>) -> Result<()> {
    let name = |index: u32| Shard { index, count }.to_string();
    let missing: Vec<String> = (1..=count)
        .filter(|k| !shards.contains_key(k))
        .map(name)
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard {} missing: a merge needs the cache of every shard (given: {}); a missing shard's domains would show as scan errors",
            missing.join(", "),
            shards
                .keys()
                .map(|k| name(*k))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Same DNS source and same file format, or a clear error naming both files.
fn check_compatible(first: &Path, into: &ScanCache, path: &Path, cache: &ScanCache) -> Result<()> {
    if cache.source != into.source {
        bail!(
            "cannot merge {} into {}: their answers come from different DNS sources ({} and {}); every shard must scan the same source",
            path.display(),
            first.display(),
            cache.source,
            into.source
        );
    }
    if cache.format != into.format {
        bail!(
            "cannot merge {} into {}: they are in different cache formats ({} and {}), written by different mxmap versions; rescan with one version",
            path.display(),
            first.display(),
            cache.format,
            into.format
        );
    }
    Ok(())
}

/// Every shard cache of one split (same N), each shard once.
fn check_shard(
    shard: Shard,
    path: &Path,
    shards: &mut BTreeMap<u32, PathBuf>,
    count: &mut Option<(u32, PathBuf)>,
) -> Result<()> {
    match count {
        Some((n, other)) if *n != shard.count => bail!(
            "cannot merge {} (shard {shard}) with {} (a split into {n}): all shards must come from one split",
            path.display(),
            other.display()
        ),
        Some(_) => {}
        None => *count = Some((shard.count, path.to_path_buf())),
    }
    if let Some(other) = shards.insert(shard.index, path.to_path_buf()) {
        bail!(
            "shard {shard} given twice: {} and {}",
            other.display(),
            path.display()
        );
    }
    Ok(())
}

/// True when both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::evidence::{Answer, Observation, Outcome, RType, Timestamp};
    use crate::name::DnsName;

    fn obs(name: &str, outcome: Outcome, at: Timestamp) -> Arc<Observation> {
        Arc::new(Observation {
            name: DnsName::parse(name).unwrap(),
            rtype: RType::Mx,
            answers: if outcome == Outcome::Answer {
                vec![Answer::Mx {
                    preference: 10,
                    exchange: Some(DnsName::parse("mx.example.org").unwrap()),
                }]
            } else {
                vec![]
            },
            outcome,
            at,
            authenticated: false,
        })
    }

    fn write(
        dir: &Path,
        file: &str,
        source: &str,
        shard: Option<&str>,
        observations: Vec<Arc<Observation>>,
        at: Timestamp,
    ) -> PathBuf {
        let mut cache = ScanCache::new(source);
        cache.shard = shard.map(|s| s.parse().unwrap());
        cache.merge(observations);
        let path = dir.join(file);
        cache.save(&path, at).unwrap();
        path
    }

    #[test]
    fn shards_merge_in_any_order_and_good_answers_win() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.json",
            "dns:127.0.0.1:53",
            Some("1/2"),
            vec![
                obs("a.ee", Outcome::Answer, 100),
                obs("shared.ee", Outcome::Answer, 100),
            ],
            150,
        );
        let b = write(
            dir.path(),
            "b.json",
            "dns:127.0.0.1:53",
            Some("2/2"),
            vec![
                obs("b.ee", Outcome::Answer, 120),
                obs("shared.ee", Outcome::Timeout, 130),
            ],
            160,
        );
        let one = dir.path().join("one.json");
        let two = dir.path().join("two.json");
        let report = merge_files(&[a.clone(), b.clone()], &one).unwrap();
        assert_eq!(
            (report.inputs, report.shards, report.observations),
            (2, Some(2), 3)
        );
        merge_files(&[b, a], &two).unwrap();
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
        let merged = ScanCache::load(&one).unwrap().unwrap();
        assert_eq!((merged.written_at, merged.shard), (160, None));
        let shared = merged
            .get(&DnsName::parse("shared.ee").unwrap(), RType::Mx)
            .unwrap();
        assert_eq!(
            shared.outcome,
            Outcome::Answer,
            "the good answer beats the later timeout"
        );
    }

    #[test]
    fn incompatible_caches_are_refused_with_both_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = write(d, "a.json", "dns:127.0.0.1:53", Some("1/2"), vec![], 1);
        let other = write(d, "other.json", "world:/x", Some("2/2"), vec![], 1);
        let error = format!(
            "{:#}",
            merge_files(&[a.clone(), other], &d.join("o.json")).unwrap_err()
        );
        assert!(error.contains("different DNS sources"), "{error}");
        assert!(
            error.contains("a.json") && error.contains("other.json"),
            "{error}"
        );

        let old = d.join("old.json");
        std::fs::write(
            &old,
            r#"{"format":1,"source":"dns:127.0.0.1:53","written_at":1,"observations":[]}"#,
        )
        .unwrap();
        let error = format!(
            "{:#}",
            merge_files(&[a.clone(), old], &d.join("o.json")).unwrap_err()
        );
        assert!(
            error.contains("different cache formats (1 and 2)"),
            "{error}"
        );

        let error = format!(
            "{:#}",
            merge_files(std::slice::from_ref(&a), &d.join("o.json")).unwrap_err()
        );
        assert!(error.contains("shard 2/2 missing"), "{error}");

        let again = write(d, "again.json", "dns:127.0.0.1:53", Some("1/2"), vec![], 1);
        let error = format!(
            "{:#}",
            merge_files(&[a.clone(), again], &d.join("o.json")).unwrap_err()
        );
        assert!(error.contains("shard 1/2 given twice"), "{error}");

        let three = write(d, "three.json", "dns:127.0.0.1:53", Some("2/3"), vec![], 1);
        let error = format!(
            "{:#}",
            merge_files(&[a.clone(), three], &d.join("o.json")).unwrap_err()
        );
        assert!(error.contains("one split"), "{error}");

        let error = format!(
            "{:#}",
            merge_files(&[d.join("none.json")], &d.join("o.json")).unwrap_err()
        );
        assert!(error.contains("no scan cache at"), "{error}");
    }

    #[test]
    fn never_overwrites_a_file_that_is_not_a_scan_cache() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.json", "s", None, vec![], 1);
        let precious = dir.path().join("notes.txt");
        std::fs::write(&precious, "my notes").unwrap();
        let error = format!(
            "{:#}",
            merge_files(std::slice::from_ref(&a), &precious).unwrap_err()
        );
        assert!(error.contains("refusing to overwrite"), "{error}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "my notes");
        // Merging into one of the inputs is fine: it is a cache.
        merge_files(std::slice::from_ref(&a), &a).unwrap();
    }

    #[test]
    fn an_existing_cache_of_the_same_source_is_the_base_of_the_merge() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let source = "dns:127.0.0.1:53";
        // The restored state: last night's answers, one of them for a domain that
        // times out tonight.
        let out = write(
            d,
            "scan-cache.json",
            source,
            None,
            vec![
                obs("kept.ee", Outcome::Answer, 10),
                obs("flaky.ee", Outcome::Answer, 10),
            ],
            10,
        );
        let one = write(
            d,
            "s1.json",
            source,
            Some("1/2"),
            vec![obs("flaky.ee", Outcome::Timeout, 50)],
            50,
        );
        let two = write(
            d,
            "s2.json",
            source,
            Some("2/2"),
            vec![obs("new.ee", Outcome::Answer, 60)],
            60,
        );
        let report = merge_files(&[one.clone(), two.clone()], &out).unwrap();
        assert_eq!((report.base, report.observations), (Base::Kept, 3));
        let merged = ScanCache::load(&out).unwrap().unwrap();
        let flaky = merged
            .get(&DnsName::parse("flaky.ee").unwrap(), RType::Mx)
            .unwrap();
        assert_eq!(
            (flaky.outcome.clone(), flaky.at),
            (Outcome::Answer, 10),
            "last known good"
        );
        assert!(
            merged
                .get(&DnsName::parse("kept.ee").unwrap(), RType::Mx)
                .is_some()
        );

        // A cache of another source is replaced, as a whole scan would replace it.
        let other = write(
            d,
            "other.json",
            "world:/x",
            None,
            vec![obs("x.ee", Outcome::Answer, 1)],
            1,
        );
        let report = merge_files(&[one, two], &other).unwrap();
        assert_eq!((report.base, report.observations), (Base::Replaced, 2));
    }
}
