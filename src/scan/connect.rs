//! The connection stage of a scan, after DNS: one SMTP probe of every distinct
//! (MX host, address) pair over all domains, and one MTA-STS policy fetch for every
//! domain that publishes an `_mta-sts` TXT record.
//!
//! Probes and fetches younger than the cache freshness TTL are reused instead of
//! repeated, so a rerun within the TTL does not knock on the same servers again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;
use tokio::task::JoinSet;

use crate::evidence::Timestamp;
use crate::name::DnsName;
use crate::progress::Progress;
use crate::records::mta_sts::parse_txt;
use crate::scan::cache::ScanCache;
use crate::scan::domain::DomainScan;
use crate::scan::lookups::Lookups;
use crate::scan::mta_sts::{FetchConfig, PolicyFetch, fetch_policy, mozilla_roots, roots_from_pem};
use crate::scan::probe::SmtpProbe;
use crate::scan::settings::ProbeSettings;
use crate::scan::smtp::{ProbeConfig, Prober, RootStore};

/// MTA-STS policy fetches in flight at most.
const FETCH_CONCURRENCY: usize = 16;

/// What the connection stage observed, ready for the classifier and the grader.
#[derive(Debug, Default, Clone)]
pub struct Connections {
    /// Probes by MX host name (one per address).
    pub probes: FxHashMap<DnsName, Vec<Arc<SmtpProbe>>>,
    /// MTA-STS policy fetches by mail domain.
    pub policies: FxHashMap<DnsName, Arc<PolicyFetch>>,
    /// False when no probe ran and none was reused (`--no-smtp`, or a cache without
    /// probes): transport grades then say "not probed".
    pub probed: bool,
}

impl Connections {
    /// The probes of `scan`'s MX hosts.
    pub fn probes_of(&self, scan: &DomainScan) -> Vec<Arc<SmtpProbe>> {
        scan.hosts
            .iter()
            .filter_map(|h| self.probes.get(&h.host))
            .flatten()
            .cloned()
            .collect()
    }

    /// Everything the cache holds (for `mxmap render`).
    pub fn from_cache(cache: &ScanCache) -> Connections {
        let mut connections = Connections::default();
        for probe in cache.probes() {
            connections
                .probes
                .entry(probe.host.clone())
                .or_default()
                .push(probe.clone());
        }
        connections.policies = cache
            .policies()
            .map(|(d, p)| (d.clone(), p.clone()))
            .collect();
        connections.probed = !connections.probes.is_empty();
        connections
    }
}

/// Probes and fetches reusable from the previous cache (taken before the cache moves
/// into the lookup table).
#[derive(Default)]
pub struct Reusable {
    probes: FxHashMap<(DnsName, IpAddr), Arc<SmtpProbe>>,
    policies: FxHashMap<DnsName, Arc<PolicyFetch>>,
}

impl Reusable {
    /// The entries of `cache` younger than `ttl` at `now`.
    pub fn fresh(cache: &ScanCache, ttl: Duration, now: Timestamp) -> Reusable {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let fresh = |at: Timestamp| now.saturating_sub(at) < ttl;
        Reusable {
            probes: cache
                .probes()
                .filter(|p| fresh(p.at))
                .map(|p| ((p.host.clone(), p.ip), p.clone()))
                .collect(),
            policies: cache
                .policies()
                .filter(|(_, p)| fresh(p.at))
                .map(|(d, p)| (d.clone(), p.clone()))
                .collect(),
        }
    }
}

/// Counts for the run summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnectStats {
    /// Distinct (host, address) pairs.
    pub pairs: usize,
    /// Probes run now.
    pub probed: usize,
    /// Probes reused from the cache.
    pub reused: usize,
    /// Probes (run now) that reached an SMTP server.
    pub reached: usize,
    /// Policy fetches run now.
    pub fetched: usize,
    /// Policy fetches reused.
    pub fetches_reused: usize,
    /// A signal stopped the stage: the connections hold what finished before it.
    pub interrupted: Option<crate::interrupt::Interrupted>,
}

/// Runs the connection stage over `scans`.
pub async fn connect(
    scans: &HashMap<DnsName, Arc<DomainScan>>,
    lookups: &Arc<Lookups>,
    settings: &ProbeSettings,
    reuse: &Reusable,
    progress: (crate::progress::ProgressMode, bool),
) -> Result<(Connections, ConnectStats)> {
    let mut stats = ConnectStats::default();
    let mut connections = Connections {
        probed: true,
        ..Connections::default()
    };

    // Every distinct pair, in a stable order (sorted domains, then MX order).
    let mut domains: Vec<&DnsName> = scans.keys().collect();
    domains.sort();
    let mut seen: rustc_hash::FxHashSet<(DnsName, IpAddr)> = Default::default();
    let mut to_probe: Vec<(DnsName, IpAddr)> = Vec::new();
    for domain in &domains {
        for host in &scans[*domain].hosts {
            for address in &host.addresses {
                let key = (host.host.clone(), address.ip);
                if !seen.insert(key.clone()) {
                    continue;
                }
                match reuse.probes.get(&key) {
                    Some(probe) => {
                        stats.reused += 1;
                        connections
                            .probes
                            .entry(key.0)
                            .or_default()
                            .push(probe.clone());
                    }
                    None => to_probe.push(key),
                }
            }
        }
    }
    stats.pairs = seen.len();

    let pem = trust_pem(settings)?;
    let prober = Prober::new(probe_config(settings, pem.as_deref()))
        .context("cannot set up the SMTP prober")?;
    let bar = Progress::new(progress.0, progress.1, "smtp", to_probe.len() as u64);
    // Probes finished so far, kept for the cache should a signal stop the stage.
    let finished: std::sync::Mutex<Vec<SmtpProbe>> = Default::default();
    let probes = tokio::select! {
        probes = prober.probe_all(to_probe, |p| {
            bar.inc(!p.outcome.reached());
            finished.lock().unwrap_or_else(|e| e.into_inner()).push(p.clone());
        }) => probes,
        interrupted = crate::interrupt::wait() => {
            stats.interrupted = Some(interrupted);
            std::mem::take(&mut *finished.lock().unwrap_or_else(|e| e.into_inner()))
        }
    };
    drop(finished);
    bar.finish();
    stats.probed = probes.len();
    stats.reached = probes.iter().filter(|p| p.outcome.reached()).count();
    for probe in probes {
        connections
            .probes
            .entry(probe.host.clone())
            .or_default()
            .push(Arc::new(probe));
    }

    if stats.interrupted.is_some() {
        return Ok((connections, stats));
    }
    let fetch_config = Arc::new(fetch_config(settings, pem.as_deref())?);
    let wanted: Vec<DnsName> = domains
        .iter()
        .filter(|d| parse_txt(&scans[**d].mta_sts).is_some())
        .map(|d| (*d).clone())
        .collect();
    let mut tasks = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(FETCH_CONCURRENCY));
    for domain in wanted {
        if let Some(fetch) = reuse.policies.get(&domain) {
            stats.fetches_reused += 1;
            connections.policies.insert(domain, fetch.clone());
            continue;
        }
        let (lookups, config, limit) = (lookups.clone(), fetch_config.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let fetch = fetch_policy(&lookups, &domain, &config).await;
            (domain, fetch)
        });
    }
    loop {
        let done = tokio::select! {
            done = tasks.join_next() => done,
            interrupted = crate::interrupt::wait() => {
                stats.interrupted = Some(interrupted);
                break;
            }
        };
        match done {
            Some(Ok((domain, fetch))) => {
                stats.fetched += 1;
                connections.policies.insert(domain, Arc::new(fetch));
            }
            Some(Err(e)) => tracing::error!("an MTA-STS fetch task failed: {e}"),
            None => break,
        }
    }
    Ok((connections, stats))
}

/// The `--trust-pem` file, read once for both the prober and the policy fetcher.
fn trust_pem(settings: &ProbeSettings) -> Result<Option<Vec<u8>>> {
    settings
        .trust_pem
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .with_context(|| format!("cannot read trust anchors {}", path.display()))
        })
        .transpose()
}

fn probe_config(settings: &ProbeSettings, pem: Option<&[u8]>) -> ProbeConfig {
    let mut config = ProbeConfig::new(settings.ehlo_name.clone());
    config.port = settings.smtp_port;
    config.loopback_only = settings.loopback_only;
    config.global_concurrency = settings.concurrency;
    config.connect_timeout = settings.connect_timeout;
    config.reply_timeout = settings.reply_timeout;
    config.enumerate_versions = settings.tls_versions;
    config.roots = pem.map_or(RootStore::Mozilla, |p| RootStore::Pem(p.to_vec()));
    if settings.loopback_only {
        crate::scan::smtp::relax_for_loopback(&mut config);
    }
    config
}

fn fetch_config(settings: &ProbeSettings, pem: Option<&[u8]>) -> Result<FetchConfig> {
    let roots = match pem {
        Some(pem) => roots_from_pem(pem).context("no trust anchors in --trust-pem")?,
        None => mozilla_roots(),
    };
    let mut config = FetchConfig::with_roots(roots);
    config.port = settings.https_port;
    config.loopback_only = settings.loopback_only;
    Ok(config)
}
