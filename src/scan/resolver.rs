//! The DNS client: one question in, one [`Observation`] out. Protocol details (the
//! multiplexed stub in [`super::client`], TCP fallback on truncation, timeouts,
//! retries) stay here; what to ask and how to share answers is the business of
//! [`super::lookups`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_proto::op::ResponseCode;

use super::client::{Exchange, StubClient};
use super::wire::Reply;
use crate::evidence::{Answer, Observation, Outcome, RType, Timestamp};
use crate::name::DnsName;
use crate::scan::loopback::ensure_loopback;
use crate::scan::settings::DnsConfig;

/// Counters of one run, for the summary and the benchmark.
#[derive(Debug, Default)]
pub struct LookupStats {
    /// Distinct questions asked of the backend or the cache.
    pub distinct: AtomicU64,
    /// Questions sent to DNS servers (each once, however often it was retried).
    pub sent: AtomicU64,
    /// Attempts that got no answer in time (each retry counts again).
    pub timeouts: AtomicU64,
    /// Attempts after the first, following a timeout, SERVFAIL or network error.
    pub retries: AtomicU64,
    /// Answers taken from the previous cache because they were still fresh.
    pub reused: AtomicU64,
    /// Live failures answered by the last known good cache entry instead.
    pub stale_fallbacks: AtomicU64,
    /// Failures that had no good answer to fall back on.
    pub failures: AtomicU64,
}

/// A live DNS client.
pub struct LiveResolver {
    client: Arc<StubClient>,
    retries: u32,
    /// Human-readable description of where questions go (for logs and the cache).
    pub source: String,
}

impl LiveResolver {
    /// Builds a client for explicit servers, enforcing the loopback policy before any
    /// socket is opened.
    pub async fn explicit(servers: &[SocketAddr], dns: &DnsConfig) -> Result<LiveResolver> {
        if dns.loopback_only {
            for s in servers {
                ensure_loopback(s.ip()).with_context(|| format!("resolver {s}"))?;
            }
        }
        let source = servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(LiveResolver {
            client: Arc::new(StubClient::connect(servers, dns.timeout).await?),
            retries: dns.retries,
            source: format!("dns:{source}"),
        })
    }

    /// Builds a client for the operating system's resolvers (read by hickory-resolver
    /// from `/etc/resolv.conf` or the platform's equivalent).
    pub async fn system(dns: &DnsConfig) -> Result<LiveResolver> {
        anyhow::ensure!(
            !dns.loopback_only,
            "loopback-only mode refuses the system resolver configuration"
        );
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .context("cannot read the system's DNS configuration")?;
        let mut servers: Vec<SocketAddr> = Vec::new();
        for ns in config.name_servers() {
            let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
            let addr = SocketAddr::new(ns.ip, port);
            if !servers.contains(&addr) {
                servers.push(addr);
            }
        }
        anyhow::ensure!(!servers.is_empty(), "the system configures no DNS server");
        Ok(LiveResolver {
            client: Arc::new(StubClient::connect(&servers, dns.timeout).await?),
            retries: dns.retries,
            source: "dns:system".to_string(),
        })
    }

    /// Asks one question, retrying failures (timeout, SERVFAIL, network errors) up to
    /// the configured number of times with a short back-off, rotating servers. Counts
    /// timeouts and retries in `tally`.
    pub async fn query(&self, name: &DnsName, rtype: RType, tally: &LookupStats) -> Observation {
        let mut attempt = 0;
        loop {
            let (outcome, answers, authenticated) =
                match self.client.exchange(name, rtype, attempt).await {
                    Exchange::Response(reply) => {
                        let authenticated = reply.authentic_data;
                        let (outcome, answers) = interpret(reply, rtype);
                        (outcome, answers, authenticated)
                    }
                    Exchange::Timeout => {
                        tally.timeouts.fetch_add(1, Ordering::Relaxed);
                        (Outcome::Timeout, Vec::new(), false)
                    }
                    Exchange::Error(e) => (Outcome::Error(e), Vec::new(), false),
                };
            if !outcome.is_failure() || attempt >= self.retries {
                return Observation {
                    name: name.clone(),
                    rtype,
                    outcome,
                    answers,
                    at: now(),
                    authenticated,
                };
            }
            attempt += 1;
            tally.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
    }
}

/// Reads an answer: the response code decides negative answers and failures; records
/// of the asked type (and CNAMEs on the way) become answers.
fn interpret(reply: Reply, rtype: RType) -> (Outcome, Vec<Answer>) {
    let answers = reply.answers;
    // A CNAME alone does not answer a question for another type.
    let has_asked_type = answers
        .iter()
        .any(|a| rtype == RType::Cname || !matches!(a, Answer::Cname { .. }));
    let outcome = match reply.rcode {
        ResponseCode::NoError if !has_asked_type => Outcome::NoData,
        ResponseCode::NoError => Outcome::Answer,
        ResponseCode::NXDomain => Outcome::NxDomain,
        ResponseCode::ServFail => Outcome::ServFail,
        ResponseCode::Refused => Outcome::Refused,
        other => Outcome::Error(format!("response code {other}")),
    };
    (outcome, answers)
}

/// The current time as a [`Timestamp`] (the run's clock: see [`crate::clock`]).
pub fn now() -> Timestamp {
    crate::clock::now()
}
