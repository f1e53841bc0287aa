//! The commands, stage by stage: seeds → scan → classify → site. Each command is a few
//! calls; the stages themselves live in their modules.

use std::collections::{BTreeMap, HashMap};
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
use crate::history::{CountryPoint, Entry, Snapshot};
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

mod publish;
mod scans;
mod verdicts;

use publish::{PendingGeometry, publish};
use scans::{CacheSave, PendingCache, ScanResult, scan_from_cache, scan_live};
use verdicts::{classify_all, print_summary};

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
    let today = crate::site::text::iso_time(now())[..10].to_string();
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

/// What discovery needs of the configuration.
fn discover_settings(config: &Config) -> discover::RunSettings<'_> {
    discover::RunSettings {
        cache: &config.cache,
        probe: &config.probe,
        dns: &config.dns,
        enabled: config.discover,
        quiet: config.quiet,
    }
}
