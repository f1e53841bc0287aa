//! From scans to the site model: the classifier's verdict and the security grade of
//! every municipality, the per-country statistics, and the summary printed after it.

// The commands in the parent module and their stages share one set of imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// Grades one domain; a panic (a bug) costs this domain only.
pub(super) fn grade_one(
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
pub(super) fn record_of(
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
pub(super) fn failed_record(
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
pub(super) fn classify_tables() -> classify::Tables<'static> {
    classify::Tables {
        catalog: Catalog::embedded(),
        rules: RuleBook::embedded(),
    }
}

pub(super) fn classify_all(
    inputs: &Inputs,
    result: &ScanResult,
    config: &Config,
) -> Result<SiteModel> {
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
        generated: crate::site::text::iso_time(now()),
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
pub(super) fn with_discovered_domain<'a>(
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
pub(super) fn apply_discovery(verdict: &mut classify::Verdict, d: &Discovery) {
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
pub(super) fn classify_report(model: &SiteModel, rules: &RuleBook) -> String {
    use classify::report;
    let min = rules.report.uncatalogued_shared_mx;
    let counts = report::rule_counts(model.records.iter().map(|r| &r.verdict));
    let shared = report::uncatalogued_shared_mx(
        model.records.iter().map(|r| (&r.verdict, r.country.code)),
        min,
    );
    report::summary(&counts, &shared, min)
}

pub(super) fn print_summary(model: &SiteModel, quiet: bool) {
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

pub(super) fn short(c: Category) -> &'static str {
    match c {
        Category::UsHyperscaler => "us-hyper",
        Category::EuropeanProvider => "european",
        Category::LocalIsp => "local-isp",
        Category::Independent => "indep",
        Category::OtherProvider => "other",
        Category::Unknown => "unknown",
    }
}
