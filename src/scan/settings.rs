//! Settings of the scan stage, resolved from flags and the config file by
//! [`crate::config`]: where DNS questions go ([`DnsConfig`]) and how the connection
//! stage probes ([`ProbeSettings`]). They live with the stage that uses them, so the
//! scan never imports the configuration layer above it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::scan::loopback::ensure_loopback;

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
