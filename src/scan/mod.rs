//! The scan stage: DNS questions for every distinct mail domain, with shared lookups,
//! bounded concurrency, progress output and a persistent cache.
//!
//! - [`client`]: a multiplexed UDP/TCP stub;
//! - [`wire`]: DNS wire format of its queries and answers;
//! - [`resolver`]: one question → one observation, with retries;
//! - [`lookups`]: the run-wide memo, cache reuse and in-flight bound;
//! - [`domain`]: what to ask for one domain;
//! - [`spf`]: SPF parsing and tree walk;
//! - [`cache`]: the scan cache file.

pub mod cache;
pub mod client;
pub mod domain;
pub mod lookups;
pub mod mta_sts;
pub mod probe;
pub mod resolver;
pub mod smtp;
pub mod spf;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::name::DnsName;
use crate::progress::Progress;
use domain::DomainScan;
use lookups::Lookups;

/// Scans each domain once (domains are deduplicated by the caller or here), at most
/// `parallel_domains` at a time, reporting progress per domain.
pub async fn scan_domains(
    lookups: Arc<Lookups>,
    domains: Vec<DnsName>,
    parallel_domains: usize,
    progress: &Progress,
) -> HashMap<DnsName, Arc<DomainScan>> {
    let mut unique = domains;
    unique.sort();
    unique.dedup();
    let permits = Arc::new(Semaphore::new(parallel_domains.max(1)));
    let mut tasks = JoinSet::new();
    let mut results = HashMap::with_capacity(unique.len());
    for domain in unique {
        let lookups = lookups.clone();
        let permit = permits.clone().acquire_owned().await;
        tasks.spawn(async move {
            let _permit = permit;
            let scan = domain::scan_domain(&lookups, &domain).await;
            (domain, scan)
        });
        // Collect finished scans as we go so memory and progress stay current.
        while let Some(done) = tasks.try_join_next() {
            record(done, &mut results, progress);
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(done, &mut results, progress);
    }
    results
}

fn record(
    done: Result<(DnsName, DomainScan), tokio::task::JoinError>,
    results: &mut HashMap<DnsName, Arc<DomainScan>>,
    progress: &Progress,
) {
    match done {
        Ok((domain, scan)) => {
            progress.inc(scan.mx.failed());
            results.insert(domain, Arc::new(scan));
        }
        Err(err) => {
            // A panicking scan task is a bug; report it and keep the rest of the run.
            tracing::error!("a domain scan task failed: {err}");
            progress.inc(true);
        }
    }
}
