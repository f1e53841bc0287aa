//! Command-line arguments exactly as typed. [`crate::config`] turns them (plus the
//! optional config file) into one resolved [`crate::config::Config`]; nothing
//! downstream looks at raw flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
}

/// Arguments of `mxmap build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// How to reach DNS.
    #[command(flatten)]
    pub dns: DnsArgs,
    /// Output folder of the site; replaced atomically when the build succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
}

/// Arguments of `mxmap render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Inputs and cache.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output folder of the site; replaced atomically when rendering succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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

/// Progress output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always a bar.
    Bar,
    /// Plain periodic lines (CI logs).
    Plain,
    /// Nothing.
    None,
}
