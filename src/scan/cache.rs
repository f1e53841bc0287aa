//! The persistent scan cache: every observation of the last scans, with its time.
//!
//! `mxmap render` replays the scanner against it (no network), and a later scan
//! reuses entries younger than the freshness TTL. Merging never replaces a good answer
//! with a failure: a resolver outage keeps the last known good observation. The same
//! holds for SMTP probes (keyed by MX host and address) and MTA-STS policy fetches
//! (keyed by mail domain): a probe that reached no server does not replace one that did.

use rustc_hash::FxHashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use std::net::IpAddr;

use crate::evidence::{Observation, RType, Timestamp};
use crate::name::DnsName;
use crate::scan::policy_fetch::PolicyFetch;
use crate::scan::probe::SmtpProbe;
use crate::scan::shard::Shard;

/// Format version of the cache file; bump on incompatible changes. Format 1 (DNS
/// observations only) is still read.
pub const FORMAT: u32 = 2;

/// The cache in memory (cloning shares the entries).
#[derive(Debug, Default, Clone)]
pub struct ScanCache {
    /// Where the answers came from (e.g. `world:/path` or `dns:127.0.0.1:5300`).
    pub source: String,
    /// When the cache was last written.
    pub written_at: Timestamp,
    /// The file format it was read in ([`FORMAT`] for a new cache).
    pub format: u32,
    /// The share of the domains the last scan covered (`mxmap scan --shard K/N`);
    /// `None` for a whole scan or a merged cache.
    pub shard: Option<Shard>,
    entries: FxHashMap<(DnsName, RType), Arc<Observation>>,
    probes: FxHashMap<(DnsName, IpAddr), Arc<SmtpProbe>>,
    policies: FxHashMap<DnsName, Arc<PolicyFetch>>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: u32,
    source: &'a str,
    written_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<Shard>,
    observations: Vec<&'a Observation>,
    probes: Vec<&'a SmtpProbe>,
    policies: Vec<PolicyOut<'a>>,
}

/// One policy fetch with the mail domain it belongs to.
#[derive(Serialize)]
struct PolicyOut<'a> {
    domain: &'a DnsName,
    #[serde(flatten)]
    fetch: &'a PolicyFetch,
}

#[derive(Deserialize)]
struct PolicyIn {
    domain: DnsName,
    #[serde(flatten)]
    fetch: PolicyFetch,
}

#[derive(Deserialize)]
struct FileIn {
    format: u32,
    source: String,
    written_at: Timestamp,
    #[serde(default)]
    shard: Option<Shard>,
    observations: Vec<Observation>,
    #[serde(default)]
    probes: Vec<SmtpProbe>,
    #[serde(default)]
    policies: Vec<PolicyIn>,
}

impl ScanCache {
    /// An empty cache for answers from `source`.
    pub fn new(source: impl Into<String>) -> ScanCache {
        ScanCache {
            source: source.into(),
            written_at: 0,
            format: FORMAT,
            shard: None,
            entries: FxHashMap::default(),
            probes: FxHashMap::default(),
            policies: FxHashMap::default(),
        }
    }

    /// Reads a cache file; `Ok(None)` when it does not exist. A file that exists but
    /// cannot be read is an error (it is never silently replaced).
    pub fn load(path: &Path) -> Result<Option<ScanCache>> {
        // Read whole, then parsed from the slice: serde_json's reader path copies every
        // string through a scratch buffer and took twice as long on a 60 MB cache.
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot open scan cache {}", path.display()));
            }
        };
        let parsed: FileIn = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "scan cache {} is unreadable; move it away or pass another --cache",
                path.display()
            )
        })?;
        drop(bytes);
        if !(1..=FORMAT).contains(&parsed.format) {
            bail!(
                "scan cache {} has format {} but this mxmap writes format {FORMAT}; move it away or pass another --cache",
                path.display(),
                parsed.format
            );
        }
        let entries = parsed
            .observations
            .into_iter()
            .map(|o| ((o.name.clone(), o.rtype), Arc::new(o)))
            .collect();
        let probes = parsed
            .probes
            .into_iter()
            .map(|p| ((p.host.clone(), p.ip), Arc::new(p)))
            .collect();
        let policies = parsed
            .policies
            .into_iter()
            .map(|p| (p.domain, Arc::new(p.fetch)))
            .collect();
        Ok(Some(ScanCache {
            source: parsed.source,
            written_at: parsed.written_at,
            format: parsed.format,
            shard: parsed.shard,
            entries,
            probes,
            policies,
        }))
    }

    /// The cached observation for a question.
    pub fn get(&self, name: &DnsName, rtype: RType) -> Option<&Arc<Observation>> {
        self.entries.get(&(name.clone(), rtype))
    }

    /// The cached probe of `host` at `ip`.
    pub fn probe(&self, host: &DnsName, ip: IpAddr) -> Option<&Arc<SmtpProbe>> {
        self.probes.get(&(host.clone(), ip))
    }

    /// Every cached probe.
    pub fn probes(&self) -> impl Iterator<Item = &Arc<SmtpProbe>> {
        self.probes.values()
    }

    /// Every cached MTA-STS policy fetch with its mail domain.
    pub fn policies(&self) -> impl Iterator<Item = (&DnsName, &Arc<PolicyFetch>)> {
        self.policies.iter()
    }

    /// The cached MTA-STS policy fetch of `domain`.
    pub fn policy(&self, domain: &DnsName) -> Option<&Arc<PolicyFetch>> {
        self.policies.get(domain)
    }

    /// Adds probes; a probe that reached no server never replaces one that did.
    pub fn merge_probes(&mut self, probes: impl IntoIterator<Item = Arc<SmtpProbe>>) {
        for probe in probes {
            let key = (probe.host.clone(), probe.ip);
            let replace = match self.probes.get(&key) {
                Some(old) => better(
                    (probe.outcome.reached(), probe.at),
                    (old.outcome.reached(), old.at),
                ),
                None => true,
            };
            if replace {
                self.probes.insert(key, probe);
            }
        }
    }

    /// Adds policy fetches of `(domain, fetch)`; a fetch that measured nothing (our own
    /// timeout, a failed lookup) never replaces one that did.
    pub fn merge_policies(
        &mut self,
        fetches: impl IntoIterator<Item = (DnsName, Arc<PolicyFetch>)>,
    ) {
        for (domain, fetch) in fetches {
            let replace = match self.policies.get(&domain) {
                Some(old) => better((!fetch.unmeasured(), fetch.at), (!old.unmeasured(), old.at)),
                None => true,
            };
            if replace {
                self.policies.insert(domain, fetch);
            }
        }
    }

    /// Adds everything of `other` (another run's or another shard's cache) by the rules
    /// of [`ScanCache::merge`], [`ScanCache::merge_probes`] and
    /// [`ScanCache::merge_policies`]: the result does not depend on the order in which
    /// caches are merged.
    pub fn absorb(&mut self, other: ScanCache) {
        self.merge(other.entries.into_values());
        self.merge_probes(other.probes.into_values());
        self.merge_policies(other.policies);
        self.written_at = self.written_at.max(other.written_at);
    }

    /// Number of cached probes.
    pub fn probe_count(&self) -> usize {
        self.probes.len()
    }

    /// Number of cached MTA-STS policy fetches.
    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// Number of cached observations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds new observations. A failed observation never replaces a good one: the last
    /// known good answer stays (its older timestamp shows its age).
    pub fn merge(&mut self, observations: impl IntoIterator<Item = Arc<Observation>>) {
        for obs in observations {
            let key = (obs.name.clone(), obs.rtype);
            let replace = match self.entries.get(&key) {
                Some(old) => better((!obs.failed(), obs.at), (!old.failed(), old.at)),
                None => true,
            };
            if replace {
                self.entries.insert(key, obs);
            }
        }
    }

    /// Writes the cache atomically (temporary file in the same folder, then rename),
    /// so an interrupted write never leaves a truncated cache behind.
    pub fn save(&mut self, path: &Path, now: Timestamp) -> Result<()> {
        self.written_at = now;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
            std::process::id()
        ));
        let mut observations: Vec<&Observation> = self.entries.values().map(|o| &**o).collect();
        // Sorted output keeps the file diffable and runs reproducible.
        observations.sort_by(|a, b| (&a.name, a.rtype).cmp(&(&b.name, b.rtype)));
        let mut probes: Vec<&SmtpProbe> = self.probes.values().map(|p| &**p).collect();
        probes.sort_by(|a, b| (&a.host, a.ip).cmp(&(&b.host, b.ip)));
        let mut policies: Vec<PolicyOut> = self
            .policies
            .iter()
            .map(|(domain, fetch)| PolicyOut { domain, fetch })
            .collect();
        policies.sort_by(|a, b| a.domain.cmp(b.domain));
        let out = FileOut {
            format: FORMAT,
            source: &self.source,
            written_at: now,
            shard: self.shard,
            observations,
            probes,
            policies,
        };
        let write = || -> Result<()> {
            let file = std::fs::File::create(&tmp)?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            serde_json::to_writer(&mut writer, &out)?;
            writer.flush()?;
            writer
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write scan cache {}", path.display()));
        }
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the new scan cache into {}", path.display()))?;
        Ok(())
    }
}

/// Whether a new entry `(good, at)` replaces the one on record: a good one (an answer,
/// a reached server, a measured policy) beats a failed one whatever their ages, then
/// the newer one wins; on a tie the one on record stays. The same rule either way
/// round, so merging caches gives the same result in any order.
fn better(new: (bool, Timestamp), old: (bool, Timestamp)) -> bool {
    new > old
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Answer, Outcome};

    fn obs(outcome: Outcome, at: Timestamp) -> Observation {
        Observation {
            name: DnsName::parse("example.org").unwrap(),
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
        }
    }

    #[test]
    fn failures_never_replace_good_answers() {
        let mut cache = ScanCache::new("test");
        cache.merge([Arc::new(obs(Outcome::Answer, 100))]);
        cache.merge([Arc::new(obs(Outcome::Timeout, 200))]);
        let kept = cache
            .get(&DnsName::parse("example.org").unwrap(), RType::Mx)
            .unwrap();
        assert_eq!((kept.outcome.clone(), kept.at), (Outcome::Answer, 100));
        cache.merge([Arc::new(obs(Outcome::NxDomain, 300))]);
        let kept = cache
            .get(&DnsName::parse("example.org").unwrap(), RType::Mx)
            .unwrap();
        assert_eq!(kept.outcome, Outcome::NxDomain);
    }

    #[test]
    fn round_trip_and_corrupt_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("mxmap-cache-{}", std::process::id()));
        let path = dir.join("cache.json");
        let mut cache = ScanCache::new("world:test");
        cache.merge([Arc::new(obs(Outcome::Answer, 100))]);
        cache.save(&path, 123).unwrap();
        let back = ScanCache::load(&path).unwrap().unwrap();
        assert_eq!(
            (back.source.as_str(), back.written_at, back.len()),
            ("world:test", 123, 1)
        );
        std::fs::write(&path, "{not json").unwrap();
        assert!(ScanCache::load(&path).is_err());
        assert!(
            ScanCache::load(&dir.join("missing.json"))
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    fn probe(outcome: crate::scan::probe::ProbeOutcome, at: Timestamp) -> Arc<SmtpProbe> {
        let host = DnsName::parse("mx.example.org").unwrap();
        let mut probe = SmtpProbe::empty(&host, "127.0.0.5".parse().unwrap(), 25, at);
        probe.outcome = outcome;
        Arc::new(probe)
    }

    #[test]
    fn probes_keep_the_last_reached_server_and_round_trip() {
        use crate::scan::probe::ProbeOutcome;
        let host = DnsName::parse("mx.example.org").unwrap();
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        let mut cache = ScanCache::new("test");
        cache.merge_probes([probe(ProbeOutcome::Completed, 100)]);
        cache.merge_probes([probe(ProbeOutcome::Unreachable, 200)]);
        assert_eq!(
            cache.probe(&host, ip).unwrap().outcome,
            ProbeOutcome::Completed
        );
        cache.merge_probes([probe(ProbeOutcome::Completed, 300)]);
        assert_eq!(cache.probe(&host, ip).unwrap().at, 300);

        let dir = std::env::temp_dir().join(format!("mxmap-cache-p-{}", std::process::id()));
        let path = dir.join("cache.json");
        cache.save(&path, 1).unwrap();
        let back = ScanCache::load(&path).unwrap().unwrap();
        assert_eq!(back.probes().count(), 1);
        // A format-1 file (DNS only) still loads, with no probes.
        std::fs::write(
            &path,
            r#"{"format":1,"source":"s","written_at":1,"observations":[]}"#,
        )
        .unwrap();
        let old = ScanCache::load(&path).unwrap().unwrap();
        assert_eq!((old.len(), old.probes().count()), (0, 0));
        std::fs::write(
            &path,
            r#"{"format":9,"source":"s","written_at":1,"observations":[]}"#,
        )
        .unwrap();
        assert!(ScanCache::load(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
