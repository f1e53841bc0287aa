//! Where the scans come from: a live scan (discovery, DNS, the connection stage, with
//! the cache saved in place or beside it) or a replay of the scan cache.

// The commands in the parent module and their stages share one set of imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// The result of a scan (live or replayed from the cache).
pub(super) struct ScanResult {
    pub(super) scans: HashMap<DnsName, Arc<DomainScan>>,
    /// Answers older than this were not observed fresh by the scan behind this result.
    pub(super) fresh_since: Timestamp,
    pub(super) connections: Connections,
    pub(super) source: String,
    pub(super) loopback: bool,
    /// How each municipality's mail domain was found.
    pub(super) discoveries: Discoveries,
    /// The updated cache, written beside the real one until the run may publish.
    pub(super) pending: Option<PendingCache>,
}

/// Where [`scan_live`] writes the updated cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum CacheSave {
    /// In place (`mxmap scan`).
    Now,
    /// Beside it, moved in by [`PendingCache::commit`] once the quality gate passed: a
    /// run the gate refuses leaves the last good cache byte for byte.
    Deferred,
}

/// A scan cache written beside its place (`.<name>.pending`).
pub(super) struct PendingCache {
    pub(super) pending: PathBuf,
    pub(super) target: PathBuf,
}

impl PendingCache {
    pub(super) fn new(target: &Path) -> PendingCache {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scan-cache.json".into());
        PendingCache {
            pending: target.with_file_name(format!(".{name}.pending")),
            target: target.to_path_buf(),
        }
    }

    /// Moves the updated cache into place (once; later calls do nothing).
    pub(super) fn commit(&self) -> Result<()> {
        let _critical = Critical::enter();
        interrupt::unregister_pending(&self.pending);
        if self.pending.exists() {
            std::fs::rename(&self.pending, &self.target).with_context(|| {
                format!(
                    "cannot move the updated cache into {}",
                    self.target.display()
                )
            })?;
        }
        Ok(())
    }

    /// Drops the updated cache (the run did not publish; the last good one stays).
    pub(super) fn discard(&self) {
        interrupt::unregister_pending(&self.pending);
        let _ = std::fs::remove_file(&self.pending);
    }
}

/// Discovers missing mail domains, scans live and updates the cache (in place, or
/// pending per `save`).
pub(super) fn scan_live(config: &Config, inputs: &Inputs, save: CacheSave) -> Result<ScanResult> {
    let rt = runtime()?;
    rt.block_on(async {
        let mut server = None;
        let (resolver, source) = match &config.dns.nameservers {
            Nameservers::World(dir) => {
                let started = Instant::now();
                let world = World::load(dir).with_context(|| format!("loading the recorded world {}", dir.display()))?;
                world.require_clean(dir, config.allow_world_problems)?;
                if !config.quiet {
                    eprintln!(
                        "world: {} zones, {} records, {} problems, loaded in {:.1}s",
                        world.zones.len(),
                        world.record_count(),
                        world.problems.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
                let srv = WorldServer::start(world, "127.0.0.1:0".parse()?).await?;
                let addr = srv.addr();
                server = Some(srv);
                let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
                (
                    LiveResolver::explicit(&[addr], &config.dns).await?,
                    format!("world:{}", canonical.display()),
                )
            }
            Nameservers::Explicit(servers) => {
                let r = LiveResolver::explicit(servers, &config.dns).await?;
                let source = r.source.clone();
                (r, source)
            }
            Nameservers::System => {
                let r = LiveResolver::system(&config.dns).await?;
                let source = r.source.clone();
                (r, source)
            }
        };
        let mut replaces_other_source = false;
        let previous = match ScanCache::load(&config.cache)? {
            Some(cache) if cache.source == source => Some(cache),
            Some(cache) => {
                replaces_other_source = true;
                tracing::warn!(
                    "scan cache {} holds answers from {}, not {}; starting a fresh cache",
                    config.cache.display(),
                    cache.source,
                    source
                );
                None
            }
            None => None,
        };
        let scan_started = now();
        let reuse = previous
            .as_ref()
            .map(|c| Reusable::fresh(c, config.dns.cache_ttl, now()))
            .unwrap_or_default();
        let lookups = Arc::new(Lookups::new(
            Backend::Live(Box::new(resolver)),
            previous,
            config.dns.cache_ttl,
            config.dns.concurrency,
        ));
        // Discovery asks before the scan, through the same memo; its questions and time
        // count in the scan's figures below (and its own line says how many were its).
        let started = Instant::now();
        let municipalities = &inputs.seeds.municipalities;
        enter_phase(
            Phase::Scan,
            config,
            &format!("{} municipalities", municipalities.len()),
        );
        // Discovery is the scan's first part: a signal keeps its answers too.
        let settings = discover_settings(config);
        let discoveries = tokio::select! {
            found = discover::run(&lookups, municipalities, &inputs.hints, &settings, true) => found?,
            interrupted = interrupt::wait() => {
                save_interrupted(&lookups, None, config, &source)?;
                return Err(interrupted.into());
            }
        };
        let domains = discoveries.domains();
        let total = domains.len();
        let progress = Progress::new(config.progress, config.quiet, "scan", total as u64);
        // A signal stops the scan, keeps every answer so far in the cache and exits: the
        // next run reuses them (they are fresh) and so resumes where this one stopped.
        let scans = tokio::select! {
            scans = crate::scan::scan_domains(lookups.clone(), domains, config.dns.concurrency, &progress, Catalog::embedded().dkim_selectors().into()) => scans,
            interrupted = interrupt::wait() => {
                progress.finish();
                save_interrupted(&lookups, None, config, &source)?;
                return Err(interrupted.into());
            }
        };
        progress.finish();
        let dns_elapsed = started.elapsed().as_secs_f64();
        let connected = if config.probe.enabled {
            let started = Instant::now();
            enter_phase(Phase::Probe, config, "SMTP and MTA-STS");
            let (connections, cs) = connect(
                &scans,
                &lookups,
                &config.probe,
                &reuse,
                (config.progress, config.quiet),
            )
            .await?;
            if let Some(interrupted) = cs.interrupted {
                eprintln!(
                    "smtp: stopped with {} of {} probes done, {} reused from the cache",
                    cs.probed,
                    cs.pairs - cs.reused,
                    cs.reused
                );
                save_interrupted(&lookups, Some(&connections), config, &source)?;
                return Err(interrupted.into());
            }
            if !config.quiet {
                eprintln!(
                    "smtp: {} MX addresses, {} probed ({} reached an SMTP server), {} reused from cache; MTA-STS: {} policies fetched, {} reused; in {:.1}s",
                    cs.pairs,
                    cs.probed,
                    cs.reached,
                    cs.reused,
                    cs.fetched,
                    cs.fetches_reused,
                    started.elapsed().as_secs_f64()
                );
            }
            Some(connections)
        } else {
            None
        };
        // Every scan task has been joined, so this is the last reference.
        let mut lookups = Arc::try_unwrap(lookups)
            .map_err(|_| anyhow::anyhow!("scan tasks still hold the lookup table"))?;
        let elapsed = dns_elapsed;
        if config.discover && !config.quiet {
            let added = discoveries.added(&scans);
            eprintln!(
                "discover: added {} DNS questions: {} candidate names, {} MX host addresses, {} for scanning the {} discovered domains",
                added.total(),
                added.candidates,
                added.hosts,
                added.scan_questions,
                added.domains
            );
        }
        let stats = &lookups.stats;
        use std::sync::atomic::Ordering::Relaxed;
        if !config.quiet {
            eprintln!(
                "scan: {total} domains in {elapsed:.1}s ({:.0} domains/s); {} distinct questions, {} queries sent ({:.0}/s), {} reused from cache, {} failures, {} answered by the last good cache entry; {} timeouts, {} retries",
                total as f64 / elapsed.max(0.001),
                stats.distinct.load(Relaxed),
                stats.sent.load(Relaxed),
                stats.sent.load(Relaxed) as f64 / elapsed.max(0.001),
                stats.reused.load(Relaxed),
                stats.failures.load(Relaxed),
                stats.stale_fallbacks.load(Relaxed),
                stats.timeouts.load(Relaxed),
                stats.retries.load(Relaxed),
            );
        }
        let saving = Instant::now();
        let mut cache = lookups.take_previous().unwrap_or_else(|| ScanCache::new(source.clone()));
        cache.merge(lookups.observations());
        cache.shard = config.shard;
        let connections = match connected {
            Some(connections) => {
                cache.merge_probes(connections.probes.values().flatten().cloned());
                cache.merge_policies(
                    connections
                        .policies
                        .iter()
                        .map(|(d, p)| (d.clone(), p.clone())),
                );
                connections
            }
            // Not probing now: the last probes on record still describe the servers.
            None => Connections::from_cache(&cache),
        };
        // A cache from another DNS source is only replaced by a scan that mostly
        // worked: a dead resolver must not wipe the last good answers.
        let mx_failed = scans.values().filter(|s| s.mx.failed()).count();
        let failed_share = mx_failed as f64 / scans.len().max(1) as f64;
        let mut pending = None;
        if replaces_other_source && failed_share > config.gate.max_error_rate {
            eprintln!(
                "cache: not replacing {} (answers from another source) with a scan whose MX lookups failed for {mx_failed} of {} domains",
                config.cache.display(),
                scans.len()
            );
        } else {
            let _critical = Critical::enter();
            match save {
                CacheSave::Now => cache.save(&config.cache, now())?,
                CacheSave::Deferred => {
                    let later = PendingCache::new(&config.cache);
                    cache.save(&later.pending, now())?;
                    interrupt::register_pending(&later.pending, &later.target);
                    pending = Some(later);
                }
            }
        }
        if !config.quiet {
            eprintln!(
                "cache: {} observations written to {} in {:.1}s",
                cache.len(),
                config.cache.display(),
                saving.elapsed().as_secs_f64()
            );
        }
        if let Some(srv) = server {
            srv.shutdown().await?;
        }
        Ok(ScanResult {
            scans,
            fresh_since: scan_started.saturating_sub(ttl_secs(config)),
            connections,
            loopback: config.dns.loopback_only,
            source,
            pending,
            discoveries,
        })
    })
}

/// Saves what an interrupted scan has learnt: the cache on disk (when it is from the
/// same source) merged with every answer of this run and the probes that finished,
/// and says so.
pub(super) fn save_interrupted(
    lookups: &Lookups,
    connections: Option<&Connections>,
    config: &Config,
    source: &str,
) -> Result<()> {
    let _critical = Critical::enter();
    // The cache this run started from is the one on disk (same source); without one,
    // a file there holds another source's answers, which a partial scan never replaces.
    let mut cache = match lookups.previous() {
        Some(previous) => previous.clone(),
        None if config.cache.exists() => {
            eprintln!(
                "cache: {} holds answers from another source; this partial scan is not saved",
                config.cache.display()
            );
            return Ok(());
        }
        None => ScanCache::new(source.to_string()),
    };
    let observations = lookups.observations();
    let n = observations.len();
    cache.merge(observations);
    let mut probes = 0;
    if let Some(c) = connections {
        let finished: Vec<_> = c.probes.values().flatten().cloned().collect();
        probes = finished.len();
        cache.merge_probes(finished);
        cache.merge_policies(c.policies.iter().map(|(d, p)| (d.clone(), p.clone())));
    }
    cache.shard = config.shard;
    cache.save(&config.cache, now())?;
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!(
        "cache: {n} answers ({} reused from the cache, {} asked now) and {probes} SMTP probes saved to {}; run the same command again to resume",
        lookups.stats.reused.load(Relaxed),
        lookups.stats.sent.load(Relaxed),
        config.cache.display()
    );
    Ok(())
}

/// Replays discovery and the scan from the caches only (no network).
pub(super) fn scan_from_cache(config: &Config, inputs: &Inputs) -> Result<ScanResult> {
    let started = Instant::now();
    let cache = ScanCache::load(&config.cache)?.with_context(|| {
        format!(
            "no scan cache at {}; run `mxmap scan` or `mxmap build` first (or pass --cache)",
            config.cache.display()
        )
    })?;
    tracing::info!(
        "cache loaded in {:.1}s, {} MB resident",
        started.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    let connections = Connections::from_cache(&cache);
    // The last scan ended about when its cache was written.
    let written_at = cache.written_at;
    let source = cache.source.clone();
    let loopback = source_is_loopback(&source);
    let rt = runtime()?;
    let lookups = Arc::new(Lookups::new(
        Backend::CacheOnly,
        Some(cache),
        config.dns.cache_ttl,
        64,
    ));
    let municipalities = &inputs.seeds.municipalities;
    let discoveries = rt.block_on(discover::run(
        &lookups,
        municipalities,
        &inputs.hints,
        &discover_settings(config),
        false,
    ))?;
    let domains = discoveries.domains();
    enter_phase(
        Phase::Scan,
        config,
        &format!("{} domains replayed from the cache", domains.len()),
    );
    let progress = Progress::new(
        config.progress,
        config.quiet,
        "replay",
        domains.len() as u64,
    );
    let scans = rt.block_on(async {
        tokio::select! {
            scans = crate::scan::scan_domains(lookups.clone(), domains, 512, &progress, Catalog::embedded().dkim_selectors().into()) => Ok(scans),
            interrupted = interrupt::wait() => Err(interrupted),
        }
    })?;
    progress.finish();
    let missing = lookups
        .stats
        .distinct
        .load(std::sync::atomic::Ordering::Relaxed);
    tracing::debug!("replayed {missing} questions from the cache");
    Ok(ScanResult {
        scans,
        fresh_since: written_at.saturating_sub(ttl_secs(config)),
        connections,
        source,
        loopback,
        pending: None,
        discoveries,
    })
}

pub(super) fn ttl_secs(config: &Config) -> Timestamp {
    Timestamp::try_from(config.dns.cache_ttl.as_secs()).unwrap_or(Timestamp::MAX)
}

/// True when answers came from loopback servers (the recorded world or a test fixture),
/// where every MX address is synthetic.
pub(super) fn source_is_loopback(source: &str) -> bool {
    source.starts_with("world:")
        || source
            .strip_prefix("dns:")
            .is_some_and(|list| list.split(',').all(|s| s.starts_with("127.")))
}
