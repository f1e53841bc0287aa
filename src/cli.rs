//! Command-line arguments exactly as typed. [`crate::config`] turns them (plus the
//! optional config file) into one resolved [`crate::config::Config`]; nothing
//! downstream looks at raw flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

// The progress style is the progress module's own type (a lower layer must not import
// the command line); it is re-exported here because it is a flag value.
pub use crate::progress::ProgressMode;
use crate::{interrupt::Interrupted, scan::shard::Shard};

/// Exit status of a failed run (an input, the network, the disk, the quality gate).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a command that cannot be meant (bad flag value, missing explicit
/// path, a dangerous `--out`): nothing was started.
pub const EXIT_USAGE: u8 = 2;

/// A command line (or config file) that asks for something that cannot be meant.
/// Reported before any work; exit status [`EXIT_USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as an `anyhow` error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The exit status for a failed run: 130/143 when a signal stopped it, 2 for usage
/// errors, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(interrupted) = cause.downcast_ref::<Interrupted>() {
            return interrupted.signal.exit_code();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}

/// Who hosts the official email of Europe's municipalities, and how well is it
/// protected in transit? mxmap scans each municipality's mail domain (DNS), classifies
/// the provider with evidence, and renders a static website.
///
/// Live DNS is the default. For offline builds and tests, `--world DIR` serves a
/// recorded DNS world from an in-process server on 127.0.0.1 (loopback-only enforced).
#[derive(Debug, Parser)]
#[command(name = "mxmap", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan every domain, then render the site (scan + render).
    Build(BuildArgs),
    /// Scan every domain and update the scan cache; renders nothing.
    Scan(ScanArgs),
    /// Render the site from the scan cache alone (no DNS server needed).
    Render(RenderArgs),
    /// Serve a recorded DNS world on a loopback address until interrupted.
    ServeWorld(ServeWorldArgs),
    /// Carry the run state (scan cache, history) in the published site and fetch it
    /// back: what lets a nightly workflow go on where the last run stopped.
    #[command(subcommand)]
    State(StateCommand),
    /// Merge scan caches (e.g. the shards of `scan --shard K/N`) into one cache.
    Merge(MergeArgs),
}

/// `mxmap state …`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Write the scan cache and the history into `SITE/state/` (after build/render).
    Export(StateExportArgs),
    /// Fetch a published state back into the cache and the history folder.
    Restore(StateRestoreArgs),
}

/// Arguments of `mxmap state export`.
#[derive(Debug, Args)]
pub struct StateExportArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The built site to add `state/` to.
    #[arg(long, value_name = "DIR", default_value = "site")]
    pub site: PathBuf,
}

/// Arguments of `mxmap state restore`.
#[derive(Debug, Args)]
pub struct StateRestoreArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The published site: its address (`https://…/`, fetched with curl) or a folder.
    #[arg(long, value_name = "URL|DIR")]
    pub from: String,
    /// Also fetch the published `data.json` (the quality gate's reference) into this
    /// folder when it does not exist yet.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Refuse any address outside 127.0.0.0/8.
    #[arg(long)]
    pub loopback_only: bool,
}

/// Arguments of `mxmap build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Quality gate before publishing.
    #[command(flatten)]
    pub gate: GateArgs,
    /// How to reach DNS.
    #[command(flatten)]
    pub dns: DnsArgs,
    /// SMTP probing and MTA-STS policy fetching.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Output folder of the site; replaced atomically when the build succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an --out folder that mxmap did not write (no `.mxmap-site` marker).
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `mxmap scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// How to reach DNS.
    #[command(flatten)]
    pub dns: DnsArgs,
    /// SMTP probing and MTA-STS policy fetching.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Scan only shard K of N: the domains whose hash falls in it (stable across runs
    /// and machines). Merge the N shard caches with `mxmap merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// Arguments of `mxmap merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged cache to write (atomically). A scan cache already there from the same
    /// DNS source is merged in (its answers stay the last known good ones); any other
    /// existing file must be a scan cache, and is replaced.
    #[arg(long, value_name = "OUT")]
    pub cache: PathBuf,
    /// Scan caches to merge: every shard of one split, and any other caches of the
    /// same DNS source.
    #[arg(value_name = "CACHE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Only print warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `mxmap render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Quality gate before publishing.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Output folder of the site; replaced atomically when rendering succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an --out folder that mxmap did not write (no `.mxmap-site` marker).
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `mxmap serve-world`.
#[derive(Debug, Args)]
pub struct ServeWorldArgs {
    /// Folder of the recorded world (its `zones/*.zone` files).
    #[arg(long, value_name = "DIR")]
    pub world: PathBuf,
    /// Loopback address and port to listen on (UDP and TCP).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:5300")]
    pub listen: SocketAddr,
    /// Write the bound address to this file once serving (useful with port 0).
    #[arg(long, value_name = "FILE")]
    pub addr_file: Option<PathBuf>,
}

/// Inputs, cache and output verbosity shared by every command.
#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// Config file (TOML). Default: `mxmap.toml` in the current folder, if present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base folder of the reference data (holds `seeds/`, `geodata/`, `world/`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Folder of the seed files `{cc}.json`. Default: `<data>/seeds`.
    #[arg(long, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
    /// Folder of the TopoJSON boundaries. Default: `<data>/geodata`.
    #[arg(long, value_name = "DIR")]
    pub geodata: Option<PathBuf>,
    /// Reviewed manual overrides (TOML). Default: `seeds/overrides.toml`.
    #[arg(long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
    /// Scan cache (JSON). Default: `.mxmap/scan-cache.json`.
    #[arg(long, value_name = "PATH")]
    pub cache: Option<PathBuf>,
    /// Countries to process, comma-separated ISO codes (default: all 47).
    #[arg(long, value_name = "CC,CC,…", value_delimiter = ',')]
    pub countries: Vec<String>,
    /// Progress output: a bar on a terminal, periodic lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Only print warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Public address of the published site, for canonical URLs, the sitemap and feeds
    /// (e.g. `https://example.github.io/mxmap/`).
    #[arg(long, value_name = "URL")]
    pub site_url: Option<String>,
    /// Folder of run snapshots and change lists (default: `history/` beside the cache).
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Run as if it started at this UTC time (e.g. `2026-03-01T02:17:00Z`): simulates
    /// nightly runs offline. Loopback mode only (--world, --loopback-only, or a render
    /// from such a cache).
    #[arg(long, value_name = "TIME")]
    pub clock: Option<String>,
    /// Publish even a site larger than GitHub/GitLab Pages accept (1 GB, 200,000
    /// files); by default such a site is refused and the published one kept.
    #[arg(long)]
    pub allow_oversized_site: bool,
    /// Keep every seed domain as it is: no domain discovery for municipalities whose
    /// seed has no domain or one that receives no mail.
    #[arg(long)]
    pub no_discover: bool,
}

/// How to reach DNS.
#[derive(Debug, Args, Default)]
pub struct DnsArgs {
    /// DNS server to query (repeatable). Default: the system's resolvers.
    #[arg(long = "resolver", value_name = "IP:PORT")]
    pub resolvers: Vec<String>,
    /// Refuse any DNS server or connection target outside 127.0.0.0/8.
    #[arg(long)]
    pub loopback_only: bool,
    /// Serve this recorded DNS world from an in-process server on 127.0.0.1 and scan
    /// against it (implies --loopback-only).
    #[arg(long, value_name = "DIR")]
    pub world: Option<PathBuf>,
    /// Scan a --world whose zone files have lines that cannot be loaded (the records
    /// lost are listed per file); by default such a world is refused.
    #[arg(long)]
    pub allow_world_problems: bool,
    /// Per-query timeout, e.g. `3s` or `500ms`.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Retries after a failed query (timeout, SERVFAIL).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Maximum DNS queries in flight.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Reuse cached answers younger than this (e.g. `20h`; `0` rescans everything).
    #[arg(long, value_name = "DURATION")]
    pub cache_ttl: Option<String>,
}

/// The quality gate that decides whether a run may replace the published site.
#[derive(Debug, Args, Default, Clone)]
pub struct GateArgs {
    /// Publish even when the quality gate fails (the report is still printed).
    #[arg(long)]
    pub no_quality_gate: bool,
    /// Most scan errors, as a share of municipalities with a domain (default 0.10).
    #[arg(long, value_name = "SHARE")]
    pub max_error_rate: Option<f64>,
    /// Most provider changes vs the published site's data.json (default 0.05).
    #[arg(long, value_name = "SHARE")]
    pub max_churn: Option<f64>,
    /// Least mean confidence (default 70).
    #[arg(long, value_name = "N")]
    pub min_mean_confidence: Option<f64>,
    /// Least share with confidence ≥ 80 (default 0.80).
    #[arg(long, value_name = "SHARE")]
    pub min_high_confidence: Option<f64>,
    /// Make the two confidence checks block publishing (they are reported only by
    /// default).
    #[arg(long)]
    pub confidence_blocks: bool,
    /// Publish even though these countries collapsed (comma-separated ISO codes, or
    /// `all`): known verdicts fell by more than 5 % since the previous run, or most
    /// domains fail or do not exist.
    #[arg(long, value_name = "CC,CC,…", value_delimiter = ',')]
    pub allow_collapse: Vec<String>,
}

/// How to probe mail servers (SMTP/STARTTLS) and fetch MTA-STS policies.
#[derive(Debug, Args, Default, Clone)]
pub struct ProbeArgs {
    /// Skip the SMTP probe and the MTA-STS policy fetch: DNS only. Transport grades
    /// become `?` ("not probed").
    #[arg(long)]
    pub no_smtp: bool,
    /// Name announced in EHLO; should be this host's real FQDN on a live scan.
    /// Default: the machine's host name.
    #[arg(long, value_name = "FQDN")]
    pub ehlo_name: Option<String>,
    /// SMTP port to probe (only with --loopback-only; real MX hosts listen on 25).
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// HTTPS port for MTA-STS policy fetches and website visits (only with
    /// --loopback-only; 443 otherwise).
    #[arg(long, value_name = "PORT")]
    pub https_port: Option<u16>,
    /// HTTP port for the website visits of domain discovery (only with --loopback-only;
    /// 80 otherwise).
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// SMTP sessions in flight at most (each address still gets one at a time).
    #[arg(long, value_name = "N")]
    pub smtp_concurrency: Option<usize>,
    /// SMTP connect timeout, e.g. `10s`.
    #[arg(long, value_name = "DURATION")]
    pub smtp_connect_timeout: Option<String>,
    /// Timeout for the greeting and each SMTP reply, e.g. `30s`.
    #[arg(long, value_name = "DURATION")]
    pub smtp_reply_timeout: Option<String>,
    /// Trust these PEM CA certificates instead of Mozilla's roots (a test CA; only with
    /// --loopback-only).
    #[arg(long, value_name = "FILE")]
    pub trust_pem: Option<PathBuf>,
    /// Skip the extra connections that test which TLS versions a server accepts.
    #[arg(long)]
    pub no_tls_versions: bool,
}
