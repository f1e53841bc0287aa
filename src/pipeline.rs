//! The commands, stage by stage: seeds → scan → classify → site. Each command is a few
//! calls; the stages themselves live in their modules.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::classify::catalog::Catalog;
use crate::classify::decide::Options;
use crate::classify::overrides::{Kind, Overrides};
use crate::classify::rules::RuleBook;
use crate::classify::{self, Category};
use crate::cli::{BuildArgs, Command, MergeArgs, RenderArgs, ScanArgs, ServeWorldArgs};
use crate::config::{Config, Nameservers};
use crate::discover::{self, Discoveries, Discovery};
use crate::evidence::Timestamp;
use crate::grade::{self, Security, SecurityInput};
use crate::interrupt::{self, Critical, Interrupted, Phase};
use crate::name::DnsName;
use crate::progress::Progress;
use crate::scan::cache::ScanCache;
use crate::scan::connect::{Connections, Reusable, connect};
use crate::scan::domain::DomainScan;
use crate::scan::lookups::{Backend, Lookups};
use crate::scan::probe::SmtpProbe;
use crate::scan::resolver::{LiveResolver, now};
use crate::scan::shard::Shard;
use crate::seeds::{self, Domain, Municipality, Seeds};
use crate::site::map::Geometry;
use crate::site::model::{Meta, Record, SiteModel, Stats};
use crate::site::write::OutFolder;
use crate::world::World;
use crate::world::server::WorldServer;

/// Default output folder.
const DEFAULT_OUT: &str = "site";

/// Runs one command.
pub fn run(command: Command) -> Result<()> {
    let result = match command {
        Command::Build(args) => build(args),
        Command::Scan(args) => scan(args),
        Command::Render(args) => render(args),
        Command::ServeWorld(args) => serve_world(args),
        Command::State(command) => crate::state::run(command),
        Command::Merge(args) => merge(args),
    };
    // A run that failed after a signal failed because of it (a write refused, a task
    // stopped), however the error was wrapped on its way up.
    match (result, interrupt::check()) {
        (Err(e), Err(stopped)) if !interrupted(&e) => {
            tracing::debug!("after {}: {e:#}", stopped.signal);
            Err(stopped.into())
        }
        (result, _) => result,
    }
}

/// Seeds with overrides applied, ready to scan.
struct Inputs {
    /// Shared with the map geometry thread.
    seeds: Arc<Seeds>,
    overrides: Overrides,
    /// What the overrides tell domain discovery, by seed id.
    hints: HashMap<String, discover::Hints>,
}

fn load_inputs(config: &Config) -> Result<Inputs> {
    let mut seeds = seeds::load(&config.seeds_dir, Some(&config.countries))
        .with_context(|| format!("loading seeds from {}", config.seeds_dir.display()))?;
    for w in &seeds.warnings {
        tracing::warn!("seed: {w}");
    }
    seeds::check_pages(&seeds, |m| {
        let slug = crate::site::slug::municipality_slug(&m.name, &m.id, m.country.code);
        format!("{}/m/{slug}/", m.country.code)
    })
    .context("two municipalities would share one page")?;
    let seed_rules = classify::seed_check::SeedRules::embedded();
    for (id, problem) in classify::seed_check::apply(&mut seeds.municipalities, seed_rules) {
        tracing::warn!("seed {id}: {problem}; treated as an invalid domain");
    }
    let catalog = Catalog::embedded();
    let today = crate::site::data::iso_time(now())[..10].to_string();
    let overrides = Overrides::load(&config.overrides, &seeds, catalog, &today)?;
    for o in &overrides.expired {
        tracing::warn!(
            "override for {} ({:?}) expired on {}; ignored",
            o.id.get_ref(),
            o.kind,
            o.expires.as_deref().unwrap_or("?")
        );
    }
    for m in &mut seeds.municipalities {
        if let Some(o) = overrides.get(&m.id, Kind::Domain) {
            if o.value.is_empty() {
                m.domain = None;
            } else if let Ok(d) = Domain::parse(&o.value) {
                m.domain = Some(d);
                m.domain_problem = None;
            }
        }
    }
    let hints = discovery_hints(&overrides);
    Ok(Inputs {
        seeds: Arc::new(seeds),
        overrides,
        hints,
    })
}

/// Websites, reviewed rejections and domain overrides, for domain discovery.
fn discovery_hints(overrides: &Overrides) -> HashMap<String, discover::Hints> {
    overrides
        .ids()
        .map(|id| {
            let hints = discover::Hints {
                website: overrides.get(id, Kind::Website).map(|o| o.value.clone()),
                rejected: overrides
                    .all(id, Kind::RejectDomain)
                    .filter_map(|o| Domain::parse(&o.value).ok())
                    .map(|d| d.ascii.to_string())
                    .collect(),
                overridden: overrides.get(id, Kind::Domain).is_some(),
            };
            (id.to_string(), hints)
        })
        .collect()
}

/// The result of a scan (live or replayed from the cache).
struct ScanResult {
    scans: HashMap<DnsName, Arc<DomainScan>>,
    /// Answers older than this were not observed fresh by the scan behind this result.
    fresh_since: Timestamp,
    connections: Connections,
    source: String,
    loopback: bool,
    /// How each municipality's mail domain was found.
    discoveries: Discoveries,
    /// The updated cache, written beside the real one until the run may publish.
    pending: Option<PendingCache>,
}

/// Where [`scan_live`] writes the updated cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CacheSave {
    /// In place (`mxmap scan`).
    Now,
    /// Beside it, moved in by [`PendingCache::commit`] once the quality gate passed: a
    /// run the gate refuses leaves the last good cache byte for byte.
    Deferred,
}

/// A scan cache written beside its place (`.<name>.pending`).
struct PendingCache {
    pending: PathBuf,
    target: PathBuf,
}

impl PendingCache {
    fn new(target: &Path) -> PendingCache {
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
    fn commit(&self) -> Result<()> {
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
    fn discard(&self) {
        interrupt::unregister_pending(&self.pending);
        let _ = std::fs::remove_file(&self.pending);
    }
}

/// Enters a phase: named in later interrupt messages, and printed so that a log (and
/// the signal tests) can tell where a run is.
fn enter_phase(phase: Phase, config: &Config, detail: &str) {
    interrupt::enter(phase);
    if !config.quiet {
        eprintln!("phase: {phase} ({detail})");
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Discovers missing mail domains, scans live and updates the cache (in place, or
/// pending per `save`).
fn scan_live(config: &Config, inputs: &Inputs, save: CacheSave) -> Result<ScanResult> {
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
        let discoveries = tokio::select! {
            found = discover::run(&lookups, municipalities, &inputs.hints, config, true) => found?,
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
fn save_interrupted(
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
fn scan_from_cache(config: &Config, inputs: &Inputs) -> Result<ScanResult> {
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
        config,
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

fn ttl_secs(config: &Config) -> Timestamp {
    Timestamp::try_from(config.dns.cache_ttl.as_secs()).unwrap_or(Timestamp::MAX)
}

/// True when answers came from loopback servers (the recorded world or a test fixture),
/// where every MX address is synthetic.
fn source_is_loopback(source: &str) -> bool {
    source.starts_with("world:")
        || source
            .strip_prefix("dns:")
            .is_some_and(|list| list.split(',').all(|s| s.starts_with("127.")))
}

/// Grades one domain; a panic (a bug) costs this domain only.
fn grade_one(
    domain: &DnsName,
    result: &ScanResult,
    assessed_at: Timestamp,
) -> Result<Security, String> {
    let scan = &result.scans[domain];
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::faults::maybe_panic("grade", &domain.to_string());
        let probes = result.connections.probes_of(scan);
        let probe_refs: Vec<&SmtpProbe> = probes.iter().map(|p| &**p).collect();
        grade::assess(&SecurityInput {
            scan,
            probes: &probe_refs,
            mta_sts_policy: result.connections.policies.get(domain).map(|p| &**p),
            now: assessed_at,
        })
    }))
    .map_err(|panic| crate::faults::panic_message(&*panic))
}

/// The record of one municipality. A panic while classifying (a bug) costs this
/// municipality only: it becomes a scan error whose evidence is the panic message.
fn record_of(
    m: &Municipality,
    scan: Option<Arc<DomainScan>>,
    security: Option<Arc<Security>>,
    result: &ScanResult,
    inputs: &Inputs,
    options: &Options,
    discovery: Option<&Discovery>,
) -> Record {
    let probes = scan
        .as_deref()
        .map(|s| result.connections.probes_of(s))
        .unwrap_or_default();
    let probe_refs: Vec<&SmtpProbe> = probes.iter().map(|p| &**p).collect();
    let classified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(d) = &m.domain {
            crate::faults::maybe_panic("classify", &d.ascii.to_string());
        }
        classify::classify(
            m,
            scan.as_deref(),
            &probe_refs,
            &inputs.overrides,
            &classify_tables(),
            options,
        )
    }));
    match (classified, &m.domain) {
        (Ok(mut verdict), _) => {
            if let Some(d) = discovery {
                apply_discovery(&mut verdict, d);
            }
            Record::new(m, verdict, scan, security)
        }
        (Err(panic), Some(domain)) => {
            let why = format!(
                "internal error while classifying: {}",
                crate::faults::panic_message(&*panic)
            );
            tracing::error!("{} ({}): {why}", m.id, domain);
            failed_record(m, &domain.ascii, &why, result, inputs, options)
        }
        (Err(panic), None) => std::panic::resume_unwind(panic),
    }
}

/// A municipality whose domain could not be handled (`why`): a scan error with `why`
/// as the evidence of its MX lookup, and no grade.
fn failed_record(
    m: &Municipality,
    domain: &DnsName,
    why: &str,
    result: &ScanResult,
    inputs: &Inputs,
    options: &Options,
) -> Record {
    let scan = Arc::new(DomainScan::failed(domain, why, now()));
    let verdict = classify::classify(
        m,
        Some(&scan),
        &[],
        &inputs.overrides,
        &classify_tables(),
        options,
    );
    let mut record = Record::new(m, verdict, Some(scan), None);
    record.mark_staleness(result.fresh_since);
    record
}

/// The reviewed tables compiled into the binary.
fn classify_tables() -> classify::Tables<'static> {
    classify::Tables {
        catalog: Catalog::embedded(),
        rules: RuleBook::embedded(),
    }
}

fn classify_all(inputs: &Inputs, result: &ScanResult, config: &Config) -> Result<SiteModel> {
    let started = Instant::now();
    enter_phase(
        Phase::Classify,
        config,
        &format!("{} municipalities", inputs.seeds.municipalities.len()),
    );
    let catalog = Catalog::embedded();
    let options = Options {
        check_mx_addresses: !result.loopback,
        // The recorded world lists MX hosts by name with synthetic preferences.
        trust_mx_preferences: !result.source.starts_with("world:"),
    };
    let tables = classify_tables();
    // One assessment per domain: municipalities sharing a domain share it.
    let assessed_at = now();
    let mut domains: Vec<&DnsName> = result.scans.keys().collect();
    domains.sort();
    let graded: Vec<(&DnsName, Result<Security, String>)> = domains
        .par_iter()
        .map(|d| {
            crate::faults::pause(Phase::Classify);
            interrupt::check()?;
            Ok((*d, grade_one(d, result, assessed_at)))
        })
        .collect::<Result<_, Interrupted>>()?;
    let mut securities: HashMap<&DnsName, Arc<Security>> = HashMap::new();
    let mut grading_failed: HashMap<&DnsName, String> = HashMap::new();
    for (d, graded) in graded {
        match graded {
            Ok(security) => {
                securities.insert(d, Arc::new(security));
            }
            Err(message) => {
                tracing::error!("grading {d} failed: {message}");
                grading_failed.insert(d, format!("internal error while grading: {message}"));
            }
        }
    }
    let records: Vec<Record> = inputs
        .seeds
        .municipalities
        .par_iter()
        .map(|seed: &Municipality| {
            crate::faults::pause(Phase::Classify);
            interrupt::check()?;
            let discovery = result.discoveries.get(&seed.id).cloned();
            let m = &with_discovered_domain(seed, discovery.as_deref());
            let domain = m.domain.as_ref().map(|d| &d.ascii);
            if let Some((d, why)) = domain.and_then(|d| grading_failed.get(d).map(|w| (d, w))) {
                return Ok(failed_record(m, d, why, result, inputs, &options));
            }
            let scan = domain.and_then(|d| result.scans.get(d)).cloned();
            if let (Some(d), None) = (domain, &scan) {
                // Every domain of the seeds is scanned: a missing scan is a bug, and is
                // shown as the scan error it is, never as "no domain".
                return Ok(failed_record(
                    m,
                    d,
                    "internal error: no scan result",
                    result,
                    inputs,
                    &options,
                ));
            }
            let security = domain.and_then(|d| securities.get(d)).cloned();
            let mut record = record_of(
                m,
                scan,
                security,
                result,
                inputs,
                &options,
                discovery.as_deref(),
            );
            record.mark_staleness(result.fresh_since);
            record.discovery = discovery;
            Ok(record)
        })
        .collect::<Result<_, Interrupted>>()?;
    let meta = Meta {
        generated: crate::site::data::iso_time(now()),
        scanner_version: env!("CARGO_PKG_VERSION").to_string(),
        catalog_version: catalog.version().to_string(),
        rules_version: RuleBook::embedded().version.clone(),
        dns_source: result.source.clone(),
        municipalities: records.len(),
        site_url: config.site_url.clone(),
        report_issue_url: config.report_issue_url.clone(),
    };
    let model = SiteModel::new(records, &config.countries, meta);
    if !config.quiet {
        eprintln!(
            "classify: {} municipalities in {:.1}s",
            model.records.len(),
            started.elapsed().as_secs_f64()
        );
        eprint!("{}", classify_report(&model, tables.rules));
    }
    tracing::info!("classified, {} MB resident", crate::progress::rss_mb());
    Ok(model)
}

/// The municipality as classified: with the discovered domain when discovery found one.
fn with_discovered_domain<'a>(
    m: &'a Municipality,
    discovery: Option<&Discovery>,
) -> std::borrow::Cow<'a, Municipality> {
    match discovery {
        Some(d) if d.is_discovered() && d.domain != m.domain => {
            std::borrow::Cow::Owned(Municipality {
                domain: d.domain.clone(),
                domain_problem: None,
                ..m.clone()
            })
        }
        _ => std::borrow::Cow::Borrowed(m),
    }
}

/// The one place discovery touches a verdict (spec §8.7): a domain found by guessing
/// alone carries the flag `guessed_domain`, and a discovered domain caps the confidence
/// (guess only 60, one other source 80; the caps are in the convention table). Manual
/// provider overrides keep theirs.
fn apply_discovery(verdict: &mut classify::Verdict, d: &Discovery) {
    if verdict.rule == classify::Rule::Override {
        return;
    }
    if let Some(cap) = d.confidence_cap(discover::conventions::Conventions::embedded()) {
        verdict.confidence = verdict.confidence.min(cap);
    }
    if d.is_guess_only() {
        verdict.flags.push(classify::Flag::GuessedDomain);
        classify::flag::normalise(&mut verdict.flags);
    }
}

/// Verdicts per rule and the uncatalogued MX domains serving several municipalities.
fn classify_report(model: &SiteModel, rules: &RuleBook) -> String {
    use classify::report;
    let min = rules.report.uncatalogued_shared_mx;
    let counts = report::rule_counts(model.records.iter().map(|r| &r.verdict));
    let shared = report::uncatalogued_shared_mx(
        model.records.iter().map(|r| (&r.verdict, r.country.code)),
        min,
    );
    report::summary(&counts, &shared, min)
}

fn print_summary(model: &SiteModel, quiet: bool) {
    if quiet {
        return;
    }
    let mut out = std::io::stdout().lock();
    let cats: Vec<Category> = Category::ALL.to_vec();
    let _ = write!(
        out,
        "{:<4} {:<24} {:>7} {:>7}",
        "cc", "country", "munis", "domain"
    );
    for c in &cats {
        let _ = write!(out, " {:>9}", short(*c));
    }
    let _ = writeln!(out, " {:>7} {:>7}", "errors", "partial");
    let line = |out: &mut std::io::StdoutLock, code: &str, name: &str, s: &Stats| {
        let _ = write!(
            out,
            "{:<4} {:<24} {:>7} {:>7}",
            code, name, s.municipalities, s.with_domain
        );
        for c in &cats {
            let _ = write!(out, " {:>9}", s.by_category.get(c).copied().unwrap_or(0));
        }
        let _ = writeln!(out, " {:>7} {:>7}", s.scan_errors, s.partial);
    };
    for c in &model.countries {
        line(&mut out, c.country.code, c.country.name, &c.stats);
    }
    line(&mut out, "all", "Total", &model.europe);
}

fn short(c: Category) -> &'static str {
    match c {
        Category::UsHyperscaler => "us-hyper",
        Category::EuropeanProvider => "european",
        Category::LocalIsp => "local-isp",
        Category::Independent => "indep",
        Category::OtherProvider => "other",
        Category::Unknown => "unknown",
    }
}

/// The maps' geometry, drawn on a thread of its own from the seeds and the boundary
/// files while the scan, the cache replay or the classification runs: none of it
/// depends on a verdict, and it is the longest single task of a render.
struct PendingGeometry(std::thread::JoinHandle<(Geometry, crate::site::places::Places)>);

impl PendingGeometry {
    fn start(inputs: &Inputs, config: &Config) -> PendingGeometry {
        let seeds = Arc::clone(&inputs.seeds);
        let geodata = config.geodata_dir.clone();
        PendingGeometry(std::thread::spawn(move || {
            let started = Instant::now();
            let geometry = Geometry::prepare(&seeds.municipalities, &geodata);
            tracing::info!(
                "map geometry drawn in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            // Centres and other-language names for "nearby" and the search.
            let places = crate::site::places::Places::load(&seeds.municipalities, &geodata);
            (geometry, places)
        }))
    }

    fn wait(self) -> Result<(Geometry, crate::site::places::Places)> {
        self.0
            .join()
            .map_err(|_| anyhow::anyhow!("drawing the map geometry failed (panic)"))
    }
}

fn render_site(
    model: &SiteModel,
    out: &Path,
    config: &Config,
    geometry: PendingGeometry,
) -> Result<()> {
    let (geometry, places) = geometry.wait()?;
    let report = crate::site::build(model, out, geometry, &places)?;
    if !config.quiet {
        for line in &report.map_lines {
            println!("{line}");
        }
        let mut sizes: Vec<usize> = report.country_page_bytes.iter().map(|(_, b)| *b).collect();
        sizes.sort_unstable();
        if let Some((largest, bytes)) = report.country_page_bytes.iter().max_by_key(|(_, b)| *b) {
            println!(
                "maps: drawn in {:.1}s; country pages: largest {largest} {:.0} KB (budget 2048 KB), median {:.0} KB (budget 300 KB)",
                report.map_seconds,
                *bytes as f64 / 1024.0,
                sizes[sizes.len() / 2] as f64 / 1024.0
            );
        }
        println!(
            "site: {} country pages, {} region pages, {} municipality pages (seed municipalities: {}), {:.1} MB, in {:.1}s → {}",
            report.country_pages,
            report.region_pages,
            report.municipality_pages,
            model.records.len(),
            report.bytes as f64 / 1e6,
            report.seconds,
            out.display()
        );
    }
    if report.municipality_pages != model.records.len() {
        bail!(
            "{} municipality pages for {} seed municipalities",
            report.municipality_pages,
            model.records.len()
        );
    }
    Ok(())
}

/// Resolves the configuration and checks `--out` (before any work): errors here are
/// usage errors.
fn resolved(
    common: &crate::cli::CommonArgs,
    dns: Option<&crate::cli::DnsArgs>,
    probe: Option<&crate::cli::ProbeArgs>,
    gate: &crate::cli::GateArgs,
) -> Result<Config> {
    Config::resolve(common, dns, probe)?.with_gate(gate)
}

/// Checks that `out` may be replaced by this run, before the scan starts: the run's
/// own inputs are never in it.
fn check_out(out: &Path, config: &Config, force: bool) -> Result<OutFolder> {
    let mut inputs: Vec<(&Path, &str)> = vec![
        (config.cache.as_path(), "scan cache"),
        (config.history.as_path(), "run history"),
        (config.seeds_dir.as_path(), "seed list"),
        (config.geodata_dir.as_path(), "boundary data"),
        (config.overrides.as_path(), "overrides file"),
    ];
    if let Some(file) = &config.config_file {
        inputs.push((file.as_path(), "config file"));
    }
    if let Nameservers::World(dir) = &config.dns.nameservers {
        inputs.push((dir.as_path(), "recorded world"));
    }
    crate::site::write::check_out(out, &inputs, force)
}

fn build(args: BuildArgs) -> Result<()> {
    let config = resolved(&args.common, Some(&args.dns), Some(&args.probe), &args.gate)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    let folder = check_out(&out, &config, args.force)?;
    crate::clock::apply(args.common.clock.as_deref(), config.dns.loopback_only)?;
    crate::site::budget::allow_oversized(args.common.allow_oversized_site);
    let inputs = load_inputs(&config)?;
    let result = scan_live(&config, &inputs, CacheSave::Deferred)?;
    // Not during the scan: it would take a core from the scanner and the DNS server.
    let geometry = PendingGeometry::start(&inputs, &config);
    let published = classify_all(&inputs, &result, &config).and_then(|mut model| {
        print_summary(&model, config.quiet);
        let published = publish(
            &mut model,
            &out,
            folder,
            &config,
            geometry,
            result.pending.as_ref(),
        );
        exit_without_freeing(model);
        published
    });
    if let Some(pending) = &result.pending {
        match &published {
            // Interrupted: the answers received are kept, as in every phase.
            Err(e) if interrupted(e) => pending.commit()?,
            _ => pending.discard(),
        }
    }
    exit_without_freeing((inputs, result));
    published
}

fn interrupted(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.downcast_ref::<Interrupted>().is_some())
}

/// Gate, history, site: the site is only replaced, the scan cache only updated, and
/// the run only enters the history, when the gate passes (and, for the site and the
/// history, rendering succeeds).
fn publish(
    model: &mut SiteModel,
    out: &Path,
    folder: OutFolder,
    config: &Config,
    geometry: PendingGeometry,
    pending: Option<&PendingCache>,
) -> Result<()> {
    let started = Instant::now();
    enter_phase(Phase::Render, config, "quality gate, pages and data files");
    model.history = crate::history::History::prepare(&config.history, model)?;
    tracing::info!(
        "history prepared at {:.1}s, {} MB resident",
        started.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    quality_gate(model, out, folder, config)?;
    tracing::info!(
        "quality gate in {:.1}s, {} MB resident",
        started.elapsed().as_secs_f64(),
        crate::progress::rss_mb()
    );
    interrupt::check()?;
    if let Some(pending) = pending {
        pending.commit()?;
    }
    render_site(model, out, config, geometry)?;
    let _critical = Critical::enter();
    model.history.commit()
}

/// Runs the quality gate against the published site in `out` (a site mxmap wrote; a
/// folder replaced with `--force` has no run to compare with) and the history; a
/// blocking failure is an error, so the site is left as it is.
fn quality_gate(model: &SiteModel, out: &Path, folder: OutFolder, config: &Config) -> Result<()> {
    let published = match folder {
        OutFolder::Site => crate::quality::Published::load(out)?,
        OutFolder::New | OutFolder::Forced => None,
    };
    let report = crate::quality::evaluate(
        model,
        published.as_ref(),
        model.history.previous_countries(),
        &config.gate,
    );
    let report_path = config
        .cache
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("quality-report.json");
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let json = serde_json::to_vec_pretty(&report).context("serialising the gate report")?;
    std::fs::write(&report_path, json)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    let failures = report.failures();
    if !config.quiet {
        for c in &report.checks {
            eprintln!(
                "gate: {} {} — {}",
                if c.passed {
                    "ok  "
                } else if c.blocking {
                    "FAIL"
                } else {
                    "warn"
                },
                c.id,
                c.detail
            );
        }
    }
    if report.passed() {
        return Ok(());
    }
    if !config.gate_enabled {
        eprintln!("gate: failed, publishing anyway (--no-quality-gate)");
        return Ok(());
    }
    bail!(
        "quality gate failed; {} and the scan cache are left unchanged (report: {}):\n  {}",
        out.display(),
        report_path.display(),
        failures.join("\n  ")
    )
}

fn scan(args: ScanArgs) -> Result<()> {
    let mut config = Config::resolve(&args.common, Some(&args.dns), Some(&args.probe))?;
    crate::clock::apply(args.common.clock.as_deref(), config.dns.loopback_only)?;
    config.shard = args.shard;
    let mut inputs = load_inputs(&config)?;
    if let Some(shard) = config.shard {
        keep_shard(&mut inputs, shard, config.quiet)?;
    }
    let result = scan_live(&config, &inputs, CacheSave::Now)?;
    let model = classify_all(&inputs, &result, &config)?;
    print_summary(&model, config.quiet);
    Ok(())
}

/// Keeps the municipalities whose domain falls in `shard`: the scan asks only their
/// domains, and the summary describes them.
fn keep_shard(inputs: &mut Inputs, shard: Shard, quiet: bool) -> Result<()> {
    // Nothing else holds the seeds yet; scanning all of them instead would be wrong.
    let seeds = Arc::get_mut(&mut inputs.seeds).context("the seeds are already shared")?;
    let before = seeds.municipalities.len();
    seeds.municipalities.retain(|m| match &m.domain {
        Some(d) => shard.contains(&d.ascii),
        // Discovery looks for their domain: one shard does it for each of them.
        None => shard.contains_id(&m.id),
    });
    if !quiet {
        eprintln!(
            "shard {shard}: {} of {before} municipalities",
            seeds.municipalities.len()
        );
    }
    Ok(())
}

/// `mxmap merge --cache OUT CACHE…`.
fn merge(args: MergeArgs) -> Result<()> {
    let report = crate::scan::merge::merge_files(&args.inputs, &args.cache)?;
    if !args.quiet {
        let shards = report
            .shards
            .map(|n| format!(" ({n} shards)"))
            .unwrap_or_default();
        let base = match report.base {
            crate::scan::merge::Base::None => "",
            crate::scan::merge::Base::Kept => " (merged into the cache already there)",
            crate::scan::merge::Base::Replaced => " (replacing a cache from another DNS source)",
        };
        eprintln!(
            "merge: {} caches{shards} → {}{base}: {} observations, {} SMTP probes, {} MTA-STS policies",
            report.inputs,
            args.cache.display(),
            report.observations,
            report.probes,
            report.policies
        );
    }
    Ok(())
}

fn render(args: RenderArgs) -> Result<()> {
    let config = resolved(&args.common, None, None, &args.gate)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    let folder = check_out(&out, &config, args.force)?;
    let inputs = load_inputs(&config)?;
    let geometry = PendingGeometry::start(&inputs, &config);
    let result = scan_from_cache(&config, &inputs)?;
    // The cache tells whether this is a loopback run, so the clock is set only now
    // (before the run's time is taken for the site and the history).
    crate::clock::apply(args.common.clock.as_deref(), result.loopback)?;
    crate::site::budget::allow_oversized(args.common.allow_oversized_site);
    let published = classify_all(&inputs, &result, &config).and_then(|mut model| {
        print_summary(&model, config.quiet);
        let published = publish(&mut model, &out, folder, &config, geometry, None);
        exit_without_freeing(model);
        published
    });
    exit_without_freeing((inputs, result));
    published
}

/// Hands the run's data (hundreds of thousands of small allocations) back to the
/// operating system at exit instead of freeing it object by object: the process is
/// about to end, and freeing took a noticeable part of a second.
fn exit_without_freeing<T>(data: T) {
    std::mem::forget(data);
}

fn serve_world(args: ServeWorldArgs) -> Result<()> {
    crate::config::ensure_loopback(args.listen.ip())?;
    let rt = runtime()?;
    rt.block_on(async {
        let started = Instant::now();
        let world = World::load(&args.world)
            .with_context(|| format!("loading the recorded world {}", args.world.display()))?;
        for p in &world.problems {
            eprintln!("world: {p}");
        }
        let zones = world.zones.len();
        let records = world.record_count();
        let server = WorldServer::start(world, args.listen).await?;
        eprintln!(
            "serving {zones} zones ({records} records) on {} (UDP and TCP), loaded in {:.1}s; Ctrl-C stops",
            server.addr(),
            started.elapsed().as_secs_f64()
        );
        if let Some(file) = &args.addr_file {
            std::fs::write(file, server.addr().to_string())
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let stopped = interrupt::wait().await;
        eprintln!("{}: stopping the server", stopped.signal);
        let (fast, slow) = server.answered();
        eprintln!(
            "answered {} queries ({fast} from the index, {slow} through hickory's catalog)",
            fast + slow
        );
        server.shutdown().await
    })
}
