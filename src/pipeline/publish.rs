//! The end of a run: the map geometry drawn beside the other stages, the quality gate,
//! the history snapshot of the site model, and the site written only when the gate
//! passes.

// The commands in the parent module and their stages share one set of imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// The maps' geometry, drawn on a thread of its own from the seeds and the boundary
/// files while the scan, the cache replay or the classification runs: none of it
/// depends on a verdict, and it is the longest single task of a render.
pub(super) struct PendingGeometry(std::thread::JoinHandle<(Geometry, crate::site::places::Places)>);

impl PendingGeometry {
    pub(super) fn start(inputs: &Inputs, config: &Config) -> PendingGeometry {
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

    pub(super) fn wait(self) -> Result<(Geometry, crate::site::places::Places)> {
        self.0
            .join()
            .map_err(|_| anyhow::anyhow!("drawing the map geometry failed (panic)"))
    }
}

pub(super) fn render_site(
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

/// Gate, history, site: the site is only replaced, the scan cache only updated, and
/// the run only enters the history, when the gate passes (and, for the site and the
/// history, rendering succeeds).
pub(super) fn publish(
    model: &mut SiteModel,
    out: &Path,
    folder: OutFolder,
    config: &Config,
    geometry: PendingGeometry,
    pending: Option<&PendingCache>,
) -> Result<()> {
    let started = Instant::now();
    enter_phase(Phase::Render, config, "quality gate, pages and data files");
    model.history =
        crate::history::History::prepare(&config.history, snapshot(model), country_points(model))?;
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
pub(super) fn quality_gate(
    model: &SiteModel,
    out: &Path,
    folder: OutFolder,
    config: &Config,
) -> Result<()> {
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

/// The history snapshot of this run: what it remembers of every municipality.
pub(super) fn snapshot(model: &SiteModel) -> Snapshot {
    Snapshot {
        generated: model.meta.generated.clone(),
        entries: model
            .records
            .iter()
            .map(|r| (r.id.clone(), entry_of(r)))
            .collect(),
    }
}

/// What the history remembers of one municipality.
pub(super) fn entry_of(r: &Record) -> Entry {
    let mut mx: Vec<String> = r
        .scan
        .as_ref()
        .map(|s| s.hosts.iter().map(|h| h.host.to_string()).collect())
        .unwrap_or_default();
    mx.sort();
    mx.dedup();
    Entry {
        name: r.name.clone(),
        country: r.country.code.to_string(),
        page: r.page.clone(),
        provider: r.verdict.provider.clone(),
        provider_name: r.verdict.provider_name.clone(),
        grade: r.grade().as_str().to_string(),
        mx: mx.join(" "),
    }
}

/// The shares of every country in this run, for the history's trend lines.
pub(super) fn country_points(model: &SiteModel) -> BTreeMap<String, CountryPoint> {
    model
        .countries
        .iter()
        .map(|c| {
            let s = &c.stats;
            (
                c.country.code.to_string(),
                CountryPoint {
                    municipalities: s.municipalities,
                    classified: s.classified,
                    us_hyperscaler: s
                        .by_category
                        .get(&Category::UsHyperscaler)
                        .copied()
                        .unwrap_or(0),
                    graded: s.graded,
                    grade_b_or_better: s.grade_b_or_better,
                    with_domain: s.with_domain,
                    nxdomain: s
                        .by_rule
                        .get(&classify::Rule::Nxdomain)
                        .copied()
                        .unwrap_or(0),
                    failed: s.scan_errors,
                },
            )
        })
        .collect()
}
