//! Flags + config file → one resolved [`Config`]: paths, countries, DNS servers and
//! the loopback policy. Everything is validated here, before any socket exists, so a
//! forbidden resolver is refused before a single packet is sent.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cli::{CommonArgs, DnsArgs, GateArgs, ProbeArgs, ProgressMode};
use crate::countries::{self, Country};
use crate::quality::GateConfig;

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

/// Where DNS questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nameservers {
    /// The operating system's resolver configuration (real users' default).
    System,
    /// Explicit servers.
    Explicit(Vec<SocketAddr>),
    /// The in-process server of a recorded world (address known once it runs).
    World(PathBuf),
}

/// Resolved DNS settings.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Servers to ask.
    pub nameservers: Nameservers,
    /// Refuse anything outside 127.0.0.0/8.
    pub loopback_only: bool,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Retries after a failed query.
    pub retries: u32,
    /// Queries in flight at most.
    pub concurrency: usize,
    /// Cached answers younger than this are reused.
    pub cache_ttl: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Nameservers::System,
            loopback_only: false,
            timeout: Duration::from_secs(3),
            retries: 2,
            concurrency: 256,
            cache_ttl: Duration::from_secs(20 * 3600),
        }
    }
}

/// Resolved settings of the connection stage: SMTP probes and MTA-STS fetches.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Probe at all (`--no-smtp` switches it off).
    pub enabled: bool,
    /// EHLO identity.
    pub ehlo_name: String,
    /// SMTP port (25 unless loopback-only).
    pub smtp_port: u16,
    /// HTTPS port of MTA-STS policy hosts and websites (443 unless loopback-only).
    pub https_port: u16,
    /// HTTP port of websites visited by domain discovery (80 unless loopback-only).
    pub http_port: u16,
    /// Global cap on concurrent SMTP sessions.
    pub concurrency: usize,
    /// SMTP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of the greeting and each reply.
    pub reply_timeout: Duration,
    /// PEM trust anchors replacing Mozilla's (tests).
    pub trust_pem: Option<PathBuf>,
    /// Test which TLS versions each server accepts.
    pub tls_versions: bool,
    /// Refuse targets outside 127.0.0.0/8 (follows the DNS loopback policy).
    pub loopback_only: bool,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            enabled: true,
            ehlo_name: default_ehlo_name(),
            smtp_port: 25,
            https_port: 443,
            http_port: 80,
            concurrency: 16,
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(30),
            trust_pem: None,
            tls_versions: true,
            loopback_only: false,
        }
    }
}

/// The machine's host name (what EHLO should announce), or a reserved name.
fn default_ehlo_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "mxmap.invalid".into())
}

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
        if let Some(t) = &args.smtp_connect_timeout {
            settings.connect_timeout = parse_duration(t).context("--smtp-connect-timeout")?;
        }
        if let Some(t) = &args.smtp_reply_timeout {
            settings.reply_timeout = parse_duration(t).context("--smtp-reply-timeout")?;
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
    /// Countries to process.
    pub countries: Vec<&'static Country>,
    /// True when `--countries` restricted the run.
    pub partial_countries: bool,
    /// DNS settings.
    pub dns: DnsConfig,
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
}

/// The optional config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    seeds: Option<PathBuf>,
    geodata: Option<PathBuf>,
    overrides: Option<PathBuf>,
    cache: Option<PathBuf>,
    countries: Option<Vec<String>>,
    site_url: Option<String>,
    report_issue_url: Option<String>,
    #[serde(default)]
    dns: FileDns,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDns {
    resolvers: Option<Vec<String>>,
    loopback_only: Option<bool>,
    timeout: Option<String>,
    retries: Option<u32>,
    concurrency: Option<usize>,
    cache_ttl: Option<String>,
}

impl Config {
    /// Resolves the configuration from flags and the config file.
    pub fn resolve(
        common: &CommonArgs,
        dns: Option<&DnsArgs>,
        probe: Option<&ProbeArgs>,
    ) -> Result<Config> {
        let (file, base) = load_file(common.config.as_deref())?;
        let rel = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };

        let data = common
            .data
            .clone()
            .or_else(|| file.data.as_ref().map(rel))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let seeds_dir = common
            .seeds
            .clone()
            .or_else(|| file.seeds.as_ref().map(rel))
            .unwrap_or_else(|| data.join("seeds"));
        let geodata_dir = common
            .geodata
            .clone()
            .or_else(|| file.geodata.as_ref().map(rel))
            .unwrap_or_else(|| data.join("geodata"));
        let overrides = common
            .overrides
            .clone()
            .or_else(|| file.overrides.as_ref().map(rel))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OVERRIDES));
        let cache = common
            .cache
            .clone()
            .or_else(|| file.cache.as_ref().map(rel))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE));

        let requested: Vec<String> = if !common.countries.is_empty() {
            common.countries.clone()
        } else {
            file.countries.clone().unwrap_or_default()
        };
        let partial_countries = !requested.is_empty();
        let countries = parse_countries(&requested)?;

        let mut dns_config = DnsConfig::default();
        let fd = &file.dns;
        if let Some(t) = dns
            .and_then(|d| d.timeout.clone())
            .or_else(|| fd.timeout.clone())
        {
            dns_config.timeout = parse_duration(&t).context("--timeout")?;
        }
        if let Some(t) = dns
            .and_then(|d| d.cache_ttl.clone())
            .or_else(|| fd.cache_ttl.clone())
        {
            dns_config.cache_ttl = parse_duration(&t).context("--cache-ttl")?;
        }
        if let Some(r) = dns.and_then(|d| d.retries).or(fd.retries) {
            dns_config.retries = r;
        }
        if let Some(c) = dns.and_then(|d| d.concurrency).or(fd.concurrency) {
            if c == 0 {
                bail!("--concurrency must be at least 1");
            }
            dns_config.concurrency = c;
        }
        let resolver_texts: Vec<String> = match dns {
            Some(d) if !d.resolvers.is_empty() => d.resolvers.clone(),
            _ => fd.resolvers.clone().unwrap_or_default(),
        };
        let world = dns.and_then(|d| d.world.clone());
        dns_config.loopback_only = dns.is_some_and(|d| d.loopback_only)
            || fd.loopback_only.unwrap_or(false)
            || world.is_some();
        dns_config.nameservers = match (world, resolver_texts.is_empty()) {
            (Some(_), false) => bail!("--world and --resolver exclude each other"),
            (Some(dir), true) => Nameservers::World(dir),
            (None, false) => Nameservers::Explicit(
                resolver_texts
                    .iter()
                    .map(|t| parse_resolver(t))
                    .collect::<Result<_>>()?,
            ),
            (None, true) => Nameservers::System,
        };
        dns_config.check_loopback()?;
        let probe = ProbeSettings::resolve(probe, dns_config.loopback_only)?;
        let history = common.history.clone().unwrap_or_else(|| {
            cache
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
                .join("history")
        });
        let mut site_url = common
            .site_url
            .clone()
            .or_else(|| file.site_url.clone())
            .unwrap_or_else(|| DEFAULT_SITE_URL.to_string());
        if !(site_url.starts_with("https://") || site_url.starts_with("http://")) {
            bail!("--site-url must be an http(s) URL, got {site_url:?}");
        }
        if !site_url.ends_with('/') {
            site_url.push('/');
        }

        Ok(Config {
            seeds_dir,
            geodata_dir,
            overrides,
            cache,
            countries,
            partial_countries,
            dns: dns_config,
            probe,
            site_url,
            history,
            report_issue_url: file
                .report_issue_url
                .clone()
                .unwrap_or_else(|| DEFAULT_REPORT_URL.to_string()),
            gate: GateConfig::default(),
            gate_enabled: true,
            progress: common.progress,
            quiet: common.quiet,
            discover: !common.no_discover,
        })
    }
}

impl Config {
    /// Applies the quality gate flags.
    pub fn with_gate(mut self, args: &GateArgs) -> Result<Config> {
        let share = |v: Option<f64>, flag: &str, into: &mut f64| -> Result<()> {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    bail!("{flag} is a share between 0 and 1, got {v}");
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
                bail!("--min-mean-confidence is between 0 and 100, got {m}");
            }
            self.gate.min_mean_confidence = m;
        }
        self.gate.confidence_blocks = args.confidence_blocks;
        self.gate_enabled = !args.no_quality_gate;
        Ok(self)
    }
}

impl DnsConfig {
    /// Enforces the loopback policy on the configured servers. Called before any
    /// resolver or socket is created.
    pub fn check_loopback(&self) -> Result<()> {
        if !self.loopback_only {
            return Ok(());
        }
        match &self.nameservers {
            Nameservers::System => bail!(
                "loopback-only mode needs explicit DNS servers (--resolver 127.0.0.1:PORT) or --world DIR; \
                 the system resolver configuration is refused"
            ),
            Nameservers::Explicit(servers) => {
                for s in servers {
                    ensure_loopback(s.ip()).with_context(|| format!("resolver {s}"))?;
                }
                Ok(())
            }
            Nameservers::World(_) => Ok(()),
        }
    }
}

/// The loopback rule: only 127.0.0.0/8 may be contacted in loopback-only mode.
pub fn ensure_loopback(ip: IpAddr) -> Result<()> {
    match ip {
        IpAddr::V4(v4) if v4.octets()[0] == 127 => Ok(()),
        _ => bail!("loopback-only mode refuses {ip}: only 127.0.0.0/8 may be contacted"),
    }
}

fn load_file(explicit: Option<&Path>) -> Result<(FileConfig, PathBuf)> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG);
            if !default.exists() {
                return Ok((FileConfig::default(), PathBuf::from(".")));
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let file: FileConfig =
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((file, base))
}

fn parse_countries(codes: &[String]) -> Result<Vec<&'static Country>> {
    if codes.is_empty() {
        return Ok(countries::COUNTRIES.iter().collect());
    }
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
    fn loopback_only_refuses_public_resolvers_before_any_socket() {
        let dns = DnsArgs {
            resolvers: vec!["192.0.2.1:53".into()],
            loopback_only: true,
            ..Default::default()
        };
        let err = Config::resolve(&CommonArgs::default(), Some(&dns), None).unwrap_err();
        assert!(format!("{err:#}").contains("refuses 192.0.2.1"), "{err:#}");
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
