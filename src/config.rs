//! Flags + config file → one resolved [`Config`]: paths, countries, DNS servers and
//! the loopback policy. Everything is validated here, before any socket exists, so a
//! forbidden resolver is refused before a single packet is sent.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::cli::{CommonArgs, DnsArgs, GateArgs, ProbeArgs, usage};
use crate::countries::{self, Country};
use crate::progress::ProgressMode;
use crate::quality::GateConfig;
use crate::scan::shard::Shard;

/// Default base folder of the data (`seeds/`, `geodata/`, `world/`), relative to the
/// working folder: the repository carries its own copy.
pub const DEFAULT_DATA_DIR: &str = ".";
/// Default scan cache.
pub const DEFAULT_CACHE: &str = ".mxmap/scan-cache.json";
/// Default overrides file (reviewed, in the repository).
pub const DEFAULT_OVERRIDES: &str = "seeds/overrides.toml";
/// Default public address (override with `--site-url` or `site_url` in mxmap.toml).
pub const DEFAULT_SITE_URL: &str = "https://mxmap.github.io/mxmap/";
/// Default target of "report a misclassification".
pub const DEFAULT_REPORT_URL: &str = "https://github.com/mxmap/mxmap/issues/new";
/// Default config file name looked up in the working folder.
pub const DEFAULT_CONFIG: &str = "mxmap.toml";

// Settings of the scan stage live in the stage; re-exported for the callers that
// resolve them here.
pub use crate::scan::loopback::ensure_loopback;
pub use crate::scan::settings::{DnsConfig, Nameservers, ProbeSettings};

impl ProbeSettings {
    fn resolve(args: Option<&ProbeArgs>, loopback_only: bool) -> Result<ProbeSettings> {
        let mut settings = ProbeSettings {
            loopback_only,
            ..ProbeSettings::default()
        };
        let Some(args) = args else {
            return Ok(settings);
        };
        settings.enabled = !args.no_smtp;
        settings.tls_versions = !args.no_tls_versions;
        if let Some(name) = &args.ehlo_name {
            settings.ehlo_name = name.clone();
        }
        let loopback_flag = |flag: &str| -> Result<()> {
            if loopback_only {
                Ok(())
            } else {
                bail!(
                    "{flag} is only allowed with --loopback-only (or --world): real mail servers are probed on their standard ports with Mozilla's roots"
                )
            }
        };
        if let Some(port) = args.smtp_port {
            loopback_flag("--smtp-port")?;
            settings.smtp_port = port;
        }
        if let Some(port) = args.https_port {
            loopback_flag("--https-port")?;
            settings.https_port = port;
        }
        if let Some(port) = args.http_port {
            loopback_flag("--http-port")?;
            settings.http_port = port;
        }
        if let Some(pem) = &args.trust_pem {
            loopback_flag("--trust-pem")?;
            settings.trust_pem = Some(pem.clone());
        }
        if let Some(c) = args.smtp_concurrency {
            if c == 0 {
                bail!("--smtp-concurrency must be at least 1");
            }
            settings.concurrency = c;
        }
        let timeout = |text: &str, flag: &str| -> Result<Duration> {
            let t = parse_duration(text).context(flag.to_string())?;
            if t.is_zero() {
                bail!("{flag} must be more than 0, got {text:?}");
            }
            Ok(t)
        };
        if let Some(t) = &args.smtp_connect_timeout {
            settings.connect_timeout = timeout(t, "--smtp-connect-timeout")?;
        }
        if let Some(t) = &args.smtp_reply_timeout {
            settings.reply_timeout = timeout(t, "--smtp-reply-timeout")?;
        }
        if let Some(pem) = &settings.trust_pem
            && !pem.is_file()
        {
            bail!("--trust-pem: file {} does not exist", pem.display());
        }
        Ok(settings)
    }
}

/// The resolved configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed folder.
    pub seeds_dir: PathBuf,
    /// Geodata folder.
    pub geodata_dir: PathBuf,
    /// Overrides file (may be absent: then no overrides).
    pub overrides: PathBuf,
    /// Scan cache file.
    pub cache: PathBuf,
    /// The config file read, if any (never overwritten by `--out`).
    pub config_file: Option<PathBuf>,
    /// Countries to process.
    pub countries: Vec<&'static Country>,
    /// True when `--countries` restricted the run.
    pub partial_countries: bool,
    /// DNS settings.
    pub dns: DnsConfig,
    /// Scan a recorded world even when some of its lines cannot be loaded.
    pub allow_world_problems: bool,
    /// SMTP probe and MTA-STS fetch settings.
    pub probe: ProbeSettings,
    /// Public address of the site, ending in `/`.
    pub site_url: String,
    /// Run history folder.
    pub history: PathBuf,
    /// Where "report a misclassification" links point (a new-issue URL; the title and
    /// body are appended as query parameters).
    pub report_issue_url: String,
    /// Quality gate thresholds.
    pub gate: GateConfig,
    /// Whether a failed gate blocks publishing.
    pub gate_enabled: bool,
    /// Progress output.
    pub progress: ProgressMode,
    /// Quiet output.
    pub quiet: bool,
    /// Domain discovery for municipalities without a usable domain (`--no-discover`
    /// turns it off).
    pub discover: bool,
    /// The share of the domains to scan (`mxmap scan --shard K/N`); `None`: all.
    pub shard: Option<Shard>,
}

/// The optional config file. Every value keeps its place in the file, so an error
/// can name the file, the key and the line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<Spanned<PathBuf>>,
    seeds: Option<Spanned<PathBuf>>,
    geodata: Option<Spanned<PathBuf>>,
    overrides: Option<Spanned<PathBuf>>,
    cache: Option<Spanned<PathBuf>>,
    countries: Option<Spanned<Vec<String>>>,
    site_url: Option<Spanned<String>>,
    report_issue_url: Option<Spanned<String>>,
    #[serde(default)]
    dns: FileDns,
    #[serde(default)]
    gate: FileGate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGate {
    allow_collapse: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDns {
    resolvers: Option<Spanned<Vec<String>>>,
    loopback_only: Option<bool>,
    timeout: Option<Spanned<String>>,
    retries: Option<Spanned<u32>>,
    concurrency: Option<Spanned<usize>>,
    cache_ttl: Option<Spanned<String>>,
}

/// The config file as read.
#[derive(Default)]
struct LoadedFile {
    /// `None` without a config file.
    path: Option<PathBuf>,
    text: String,
    /// Folder that relative paths in the file are relative to.
    base: PathBuf,
    values: FileConfig,
}

impl LoadedFile {
    /// `file:line: key`, naming where a value of the file was written.
    fn origin(&self, key: &str, span: std::ops::Range<usize>) -> String {
        let line = line_at(&self.text, span.start);
        let file = self.path.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG));
        format!("{}:{line}: {key}", file.display())
    }

    /// A value given on the command line (named by its flag) or in the file (named
    /// by file, line and key); the flag wins.
    fn pick<T: Clone>(
        &self,
        flag: Option<&T>,
        flag_name: &str,
        file: Option<&Spanned<T>>,
        key: &str,
    ) -> Option<(T, String)> {
        match (flag, file) {
            (Some(v), _) => Some((v.clone(), flag_name.to_string())),
            (None, Some(v)) => Some((v.get_ref().clone(), self.origin(key, v.span()))),
            (None, None) => None,
        }
    }

    /// A path flag or file value (file values are relative to the file's folder).
    fn pick_path(
        &self,
        flag: Option<&PathBuf>,
        flag_name: &str,
        file: Option<&Spanned<PathBuf>>,
        key: &str,
    ) -> Option<(PathBuf, String)> {
        let (path, from) = self.pick(flag, flag_name, file, key)?;
        let path = if flag.is_none() && !path.is_absolute() {
            self.base.join(path)
        } else {
            path
        };
        Some((path, from))
    }
}

impl LoadedFile {
    /// An explicitly given path (flag or file), which must exist: a typo must not
    /// silently become "no overrides" or an empty seed list. `None` when not given.
    fn existing(
        &self,
        flag: Option<&PathBuf>,
        flag_name: &str,
        file: Option<&Spanned<PathBuf>>,
        key: &str,
        folder: bool,
    ) -> Result<Option<PathBuf>> {
        match self.pick_path(flag, flag_name, file, key) {
            Some((path, from)) => {
                must_exist(&path, &from, folder)?;
                Ok(Some(path))
            }
            None => Ok(None),
        }
    }
}

/// The dotted key (`dns.timeout`) of the `key = value` line holding byte offset `at`
/// of a TOML text, with the table it is in; `None` when that line is no assignment.
fn key_at(text: &str, at: usize) -> Option<String> {
    let mut table = String::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let trimmed = line.trim();
        if at < end || end == text.len() {
            let (key, _) = trimmed.split_once('=')?;
            let key = key.trim().trim_matches('"');
            return Some(if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            });
        }
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            table = header.trim().to_string();
        }
        start = end;
    }
    None
}

/// 1-based line of byte offset `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    let end = at.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Most retries accepted: each retry waits a whole timeout, so more only slows a
/// failing scan down.
pub const MAX_RETRIES: u32 = 10;
/// Longest DNS timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Requires an explicitly given path to exist.
fn must_exist(path: &Path, from: &str, folder: bool) -> Result<()> {
    let ok = if folder {
        path.is_dir()
    } else {
        path.is_file()
    };
    if ok {
        return Ok(());
    }
    let what = if folder { "folder" } else { "file" };
    let problem = if path.exists() {
        format!("{} is not a {what}", path.display())
    } else {
        format!("{what} {} does not exist", path.display())
    };
    Err(usage(format!("{from}: {problem}")))
}

impl Config {
    /// Resolves the configuration from flags and the config file. Every error is a
    /// [`crate::cli::UsageError`]: nothing has been started yet.
    pub fn resolve(
        common: &CommonArgs,
        dns: Option<&DnsArgs>,
        probe: Option<&ProbeArgs>,
    ) -> Result<Config> {
        let file = load_file(common.config.as_deref())?;
        let f = &file.values;

        let data = file
            .existing(
                common.data.as_ref(),
                "--data",
                f.data.as_ref(),
                "data",
                true,
            )?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let seeds_dir = match file.existing(
            common.seeds.as_ref(),
            "--seeds",
            f.seeds.as_ref(),
            "seeds",
            true,
        )? {
            Some(seeds) => seeds,
            None => {
                let seeds = data.join("seeds");
                if !seeds.is_dir() {
                    return Err(usage(format!(
                        "the seeds folder {} is missing: run mxmap in a checkout of the repository (it holds seeds/, geodata/ and world/), or point at the data with --data DIR or --seeds DIR",
                        seeds.display()
                    )));
                }
                seeds
            }
        };
        let geodata_dir = file
            .existing(
                common.geodata.as_ref(),
                "--geodata",
                f.geodata.as_ref(),
                "geodata",
                true,
            )?
            .unwrap_or_else(|| data.join("geodata"));
        let overrides = file
            .existing(
                common.overrides.as_ref(),
                "--overrides",
                f.overrides.as_ref(),
                "overrides",
                false,
            )?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OVERRIDES));
        let cache = file
            .pick_path(common.cache.as_ref(), "--cache", f.cache.as_ref(), "cache")
            .map(|(p, _)| p)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE));

        let flag_countries = (!common.countries.is_empty()).then_some(&common.countries);
        let (countries, partial_countries) = match file.pick(
            flag_countries,
            "--countries",
            f.countries.as_ref(),
            "countries",
        ) {
            Some((requested, from)) => (
                parse_countries(&requested).map_err(|e| usage(format!("{from}: {e}")))?,
                true,
            ),
            None => (countries::COUNTRIES.iter().collect(), false),
        };

        let dns_config = resolve_dns(&file, dns)?;
        let world = dns.and_then(|d| d.world.as_ref());
        if let Some(world) = world {
            must_exist(world, "--world", true)?;
        }
        let probe = ProbeSettings::resolve(probe, dns_config.loopback_only)
            .map_err(|e| usage(format!("{e:#}")))?;
        let history = common.history.clone().unwrap_or_else(|| {
            cache
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
                .join("history")
        });
        let (mut site_url, from) = file
            .pick(
                common.site_url.as_ref(),
                "--site-url",
                f.site_url.as_ref(),
                "site_url",
            )
            .unwrap_or_else(|| (DEFAULT_SITE_URL.to_string(), String::new()));
        if !is_http_url(&site_url) {
            return Err(usage(format!(
                "{from}: must be an http(s) URL, got {site_url:?}"
            )));
        }
        if !site_url.ends_with('/') {
            site_url.push('/');
        }
        let report_issue_url = match &f.report_issue_url {
            Some(url) if !is_http_url(url.get_ref()) => {
                return Err(usage(format!(
                    "{}: must be an http(s) URL, got {:?}",
                    file.origin("report_issue_url", url.span()),
                    url.get_ref()
                )));
            }
            Some(url) => url.get_ref().clone(),
            None => DEFAULT_REPORT_URL.to_string(),
        };

        let mut gate = GateConfig::default();
        if let Some(list) = &f.gate.allow_collapse {
            let from = file.origin("gate.allow_collapse", list.span());
            gate.allow_collapse =
                collapse_list(list.get_ref()).map_err(|e| usage(format!("{from}: {e}")))?;
        }

        Ok(Config {
            seeds_dir,
            geodata_dir,
            overrides,
            cache,
            config_file: file.path.clone(),
            countries,
            partial_countries,
            dns: dns_config,
            allow_world_problems: dns.is_some_and(|d| d.allow_world_problems),
            probe,
            site_url,
            history,
            report_issue_url,
            gate,
            gate_enabled: true,
            progress: common.progress,
            quiet: common.quiet,
            discover: !common.no_discover,
            shard: None,
        })
    }
}

/// Country codes (or `all`) whose collapse the quality gate accepts, lower case.
fn collapse_list(codes: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for code in codes.iter().map(|c| c.trim().to_ascii_lowercase()) {
        if code.is_empty() {
            continue;
        }
        if code != "all" && countries::by_code(&code).is_none() {
            bail!("unknown country {code:?}; expected ISO codes (e.g. ee,lv) or all");
        }
        out.push(code);
    }
    Ok(out)
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The DNS settings from flags and the file's `[dns]` table, each checked for a value
/// that cannot be meant (a zero timeout fails every lookup).
fn resolve_dns(file: &LoadedFile, dns: Option<&DnsArgs>) -> Result<DnsConfig> {
    let fd = &file.values.dns;
    let mut config = DnsConfig::default();
    let flag = |get: fn(&DnsArgs) -> Option<&String>| dns.and_then(get);
    if let Some((t, from)) = file.pick(
        flag(|d| d.timeout.as_ref()),
        "--timeout",
        fd.timeout.as_ref(),
        "dns.timeout",
    ) {
        let timeout = parse_duration(&t).map_err(|e| usage(format!("{from}: {e:#}")))?;
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(usage(format!(
                "{from}: the DNS timeout must be more than 0 and at most {}s, got {t:?}",
                MAX_TIMEOUT.as_secs()
            )));
        }
        config.timeout = timeout;
    }
    if let Some((t, from)) = file.pick(
        flag(|d| d.cache_ttl.as_ref()),
        "--cache-ttl",
        fd.cache_ttl.as_ref(),
        "dns.cache_ttl",
    ) {
        config.cache_ttl = parse_duration(&t).map_err(|e| usage(format!("{from}: {e:#}")))?;
    }
    if let Some((r, from)) = file.pick(
        dns.and_then(|d| d.retries.as_ref()),
        "--retries",
        fd.retries.as_ref(),
        "dns.retries",
    ) {
        if r > MAX_RETRIES {
            return Err(usage(format!(
                "{from}: at most {MAX_RETRIES} retries, got {r}"
            )));
        }
        config.retries = r;
    }
    if let Some((c, from)) = file.pick(
        dns.and_then(|d| d.concurrency.as_ref()),
        "--concurrency",
        fd.concurrency.as_ref(),
        "dns.concurrency",
    ) {
        if c == 0 {
            return Err(usage(format!("{from}: must be at least 1")));
        }
        config.concurrency = c;
    }
    let flag_resolvers = dns.map(|d| &d.resolvers).filter(|r| !r.is_empty());
    let resolvers = file.pick(
        flag_resolvers,
        "--resolver",
        fd.resolvers.as_ref(),
        "dns.resolvers",
    );
    let world = dns.and_then(|d| d.world.clone());
    config.loopback_only = dns.is_some_and(|d| d.loopback_only)
        || fd.loopback_only.unwrap_or(false)
        || world.is_some();
    config.nameservers = match (world, resolvers) {
        (Some(_), Some((list, _))) if !list.is_empty() => {
            return Err(usage("--world and --resolver exclude each other"));
        }
        (Some(dir), _) => Nameservers::World(dir),
        (None, Some((list, from))) if !list.is_empty() => Nameservers::Explicit(
            list.iter()
                .map(|t| parse_resolver(t).map_err(|e| usage(format!("{from}: {e:#}"))))
                .collect::<Result<_>>()?,
        ),
        (None, _) => Nameservers::System,
    };
    config
        .check_loopback()
        .map_err(|e| usage(format!("{e:#}")))?;
    Ok(config)
}

impl Config {
    /// Applies the quality gate flags.
    pub fn with_gate(mut self, args: &GateArgs) -> Result<Config> {
        let share = |v: Option<f64>, flag: &str, into: &mut f64| -> Result<()> {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    return Err(usage(format!("{flag} is a share between 0 and 1, got {v}")));
                }
                *into = v;
            }
            Ok(())
        };
        share(
            args.max_error_rate,
            "--max-error-rate",
            &mut self.gate.max_error_rate,
        )?;
        share(args.max_churn, "--max-churn", &mut self.gate.max_churn)?;
        share(
            args.min_high_confidence,
            "--min-high-confidence",
            &mut self.gate.min_high_confidence_share,
        )?;
        if let Some(m) = args.min_mean_confidence {
            if !(0.0..=100.0).contains(&m) {
                return Err(usage(format!(
                    "--min-mean-confidence is between 0 and 100, got {m}"
                )));
            }
            self.gate.min_mean_confidence = m;
        }
        let flagged = collapse_list(&args.allow_collapse)
            .map_err(|e| usage(format!("--allow-collapse: {e}")))?;
        self.gate.allow_collapse.extend(flagged);
        self.gate.confidence_blocks = args.confidence_blocks;
        self.gate_enabled = !args.no_quality_gate;
        Ok(self)
    }
}

fn load_file(explicit: Option<&Path>) -> Result<LoadedFile> {
    let path = match explicit {
        Some(p) => {
            must_exist(p, "--config", false)?;
            p.to_path_buf()
        }
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG);
            if !default.exists() {
                return Ok(LoadedFile {
                    base: PathBuf::from("."),
                    ..LoadedFile::default()
                });
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
    let values: FileConfig = toml::from_str(&text).map_err(|e| {
        // toml's own text spans several lines with a source excerpt; one line that
        // names file, line and key is what the log and the user need.
        let at = e.span().map_or(0, |span| span.start);
        let key = key_at(&text, at)
            .map(|k| format!("{k}: "))
            .unwrap_or_default();
        usage(format!(
            "{}:{}: {key}{}",
            path.display(),
            line_at(&text, at),
            e.message().trim_end()
        ))
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(LoadedFile {
        path: Some(path),
        text,
        base,
        values,
    })
}

/// The countries of a `--countries` list; a list that selects none (`--countries ''`)
/// is an error, never "an empty site".
fn parse_countries(codes: &[String]) -> Result<Vec<&'static Country>> {
    let mut out: Vec<&'static Country> = Vec::new();
    for code in codes {
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let Some(country) = countries::by_code(code) else {
            bail!(
                "unknown country {code:?}; expected ISO codes of the 47 covered countries, e.g. ee,lv,de"
            );
        };
        if !out.contains(&country) {
            out.push(country);
        }
    }
    if out.is_empty() {
        bail!("the list {codes:?} selects no country; give ISO codes such as ee,lv,de");
    }
    // Keep the overview's order regardless of how the list was typed.
    out.sort_by_key(|c| countries::COUNTRIES.iter().position(|x| x.code == c.code));
    Ok(out)
}

/// Parses `IP:PORT` (or a bare IP, port 53).
pub fn parse_resolver(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!("invalid resolver {text:?}: expected IP:PORT, e.g. 127.0.0.1:5300")
}

/// Parses durations such as `3s`, `500ms`, `20h`, `1d`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => bail!("invalid duration {text:?}: use ms, s, m, h or d"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_refuses_every_resolver_outside_127_before_any_socket() {
        // Addresses that reach only this host even if the guard broke, yet lie outside
        // 127.0.0.0/8: the rule is the prefix, not "is it local".
        for (server, shown) in [("0.0.0.0:53", "0.0.0.0"), ("[::1]:53", "::1")] {
            let dns = DnsArgs {
                resolvers: vec![server.into()],
                loopback_only: true,
                ..Default::default()
            };
            let err = Config::resolve(&CommonArgs::default(), Some(&dns), None).unwrap_err();
            assert!(
                format!("{err:#}").contains(&format!("refuses {shown}")),
                "{err:#}"
            );
        }
    }

    #[test]
    fn loopback_only_refuses_the_system_resolver() {
        let dns = DnsArgs {
            loopback_only: true,
            ..Default::default()
        };
        assert!(Config::resolve(&CommonArgs::default(), Some(&dns), None).is_err());
    }

    #[test]
    fn loopback_resolvers_are_accepted() {
        let dns = DnsArgs {
            resolvers: vec!["127.0.0.1:5300".into(), "127.9.9.9".into()],
            loopback_only: true,
            ..Default::default()
        };
        let config = Config::resolve(&CommonArgs::default(), Some(&dns), None).unwrap();
        assert_eq!(
            config.dns.nameservers,
            Nameservers::Explicit(vec![
                "127.0.0.1:5300".parse().unwrap(),
                "127.9.9.9:53".parse().unwrap()
            ])
        );
    }

    #[test]
    fn file_errors_name_the_key_of_their_line() {
        let text = "data = \".\"\n\n[dns]\nretries = \"two\"\n";
        let at = text.find("\"two").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("dns.retries"));
        assert_eq!(key_at(text, 0).as_deref(), Some("data"));
        assert_eq!(key_at(text, text.find("[dns]").unwrap()), None);
        assert_eq!(line_at(text, at), 4);
    }

    #[test]
    fn durations_and_countries() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("20h").unwrap(), Duration::from_secs(72000));
        assert!(parse_duration("5 parsecs").is_err());
        let list = parse_countries(&["LV".into(), "ee".into()]).unwrap();
        assert_eq!(
            list.iter().map(|c| c.code).collect::<Vec<_>>(),
            ["ee", "lv"]
        );
        assert!(parse_countries(&["zz".into()]).is_err());
    }
}
