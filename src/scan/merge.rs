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
    /// Observations, probes and policy fetches in the merged cache.
    pub observations: usize,
    pub probes: usize,
    pub policies: usize,
}

/// Merges `inputs` into a new cache at `out` (written atomically). `out` may be one of
/// the inputs; an existing `out` that is not a scan cache is never overwritten.
pub fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<MergeReport> {
    if inputs.is_empty() {
        bail!("nothing to merge: name at least one scan cache");
    }
    if !inputs.iter().any(|i| same_file(i, out)) {
        // Fails on a file that exists but is no scan cache (or is unreadable).
        ScanCache::load(out).with_context(|| {
            format!(
                "refusing to overwrite {}: it is not a scan cache mxmap can read",
                out.display()
            )
        })?;
    }
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
        let missing: Vec<String> = (1..=*count)
            .filter(|k| !shards.contains_key(k))
            .map(|k| Shard { index: k, count: *count }.to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "shard {} missing: a merge needs the cache of every shard (given: {}); a missing shard's domains would show as scan errors",
                missing.join(", "),
                shards
                    .keys()
                    .map(|k| Shard { index: *k, count: *count }.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let (_, mut cache) = merged.expect("at least one input was read");
    cache.shard = None;
    let written_at = cache.written_at;
    cache.save(out, written_at)?;
    Ok(MergeReport {
        inputs: inputs.len(),
        shards: shard_count.map(|(count, _)| count),
        observations: cache.len(),
        probes: cache.probe_count(),
        policies: cache.policy_count(),
    })
}

/// Same DNS source and same file format, or a clear error naming both files.
fn check_compatible(
    first: &Path,
    into: &ScanCache,
    path: &Path,
    cache: &ScanCache,
) -> Result<()> {
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
            vec![obs("a.ee", Outcome::Answer, 100), obs("shared.ee", Outcome::Answer, 100)],
            150,
        );
        let b = write(
            dir.path(),
            "b.json",
            "dns:127.0.0.1:53",
            Some("2/2"),
            vec![obs("b.ee", Outcome::Answer, 120), obs("shared.ee", Outcome::Timeout, 130)],
            160,
        );
        let one = dir.path().join("one.json");
        let two = dir.path().join("two.json");
        let report = merge_files(&[a.clone(), b.clone()], &one).unwrap();
        assert_eq!((report.inputs, report.shards, report.observations), (2, Some(2), 3));
        merge_files(&[b, a], &two).unwrap();
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
        let merged = ScanCache::load(&one).unwrap().unwrap();
        assert_eq!((merged.written_at, merged.shard), (160, None));
        let shared = merged.get(&DnsName::parse("shared.ee").unwrap(), RType::Mx).unwrap();
        assert_eq!(shared.outcome, Outcome::Answer, "the good answer beats the later timeout");
    }

    #[test]
    fn incompatible_caches_are_refused_with_both_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = write(d, "a.json", "dns:127.0.0.1:53", Some("1/2"), vec![], 1);
        let other = write(d, "other.json", "world:/x", Some("2/2"), vec![], 1);
        let error = format!("{:#}", merge_files(&[a.clone(), other], &d.join("o.json")).unwrap_err());
        assert!(error.contains("different DNS sources"), "{error}");
        assert!(error.contains("a.json") && error.contains("other.json"), "{error}");

        let old = d.join("old.json");
        std::fs::write(
            &old,
            r#"{"format":1,"source":"dns:127.0.0.1:53","written_at":1,"observations":[]}"#,
        )
        .unwrap();
        let error = format!("{:#}", merge_files(&[a.clone(), old], &d.join("o.json")).unwrap_err());
        assert!(error.contains("different cache formats (1 and 2)"), "{error}");

        let error = format!("{:#}", merge_files(&[a.clone()], &d.join("o.json")).unwrap_err());
        assert!(error.contains("shard 2/2 missing"), "{error}");

        let again = write(d, "again.json", "dns:127.0.0.1:53", Some("1/2"), vec![], 1);
        let error = format!("{:#}", merge_files(&[a.clone(), again], &d.join("o.json")).unwrap_err());
        assert!(error.contains("shard 1/2 given twice"), "{error}");

        let three = write(d, "three.json", "dns:127.0.0.1:53", Some("2/3"), vec![], 1);
        let error = format!("{:#}", merge_files(&[a.clone(), three], &d.join("o.json")).unwrap_err());
        assert!(error.contains("one split"), "{error}");

        let error = format!("{:#}", merge_files(&[d.join("none.json")], &d.join("o.json")).unwrap_err());
        assert!(error.contains("no scan cache at"), "{error}");
    }

    #[test]
    fn never_overwrites_a_file_that_is_not_a_scan_cache() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.json", "s", None, vec![], 1);
        let precious = dir.path().join("notes.txt");
        std::fs::write(&precious, "my notes").unwrap();
        let error = format!("{:#}", merge_files(&[a.clone()], &precious).unwrap_err());
        assert!(error.contains("refusing to overwrite"), "{error}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "my notes");
        // Merging into one of the inputs is fine: it is a cache.
        merge_files(&[a.clone()], &a).unwrap();
    }
}
