//! The scan stage: DNS questions for every distinct mail domain, with shared lookups,
//! bounded concurrency, progress output and a persistent cache.
//!
//! - [`client`]: a multiplexed UDP/TCP stub;
//! - [`wire`]: DNS wire format of its queries and answers;
//! - [`resolver`]: one question → one observation, with retries;
//! - [`lookups`]: the run-wide memo, cache reuse and in-flight bound;
//! - [`domain`]: what to ask for one domain;
//! - [`spf`]: SPF parsing and tree walk;
//! - [`cache`]: the scan cache file;
//! - [`shard`] and [`merge`]: one scan split across machines, and put back together.

pub mod cache;
pub mod client;
pub mod connect;
pub mod domain;
pub mod lookups;
pub mod loopback;
pub mod merge;
pub mod mta_sts;
pub mod policy_fetch;
pub mod probe;
pub mod resolver;
pub mod settings;
pub mod shard;
pub mod smtp;
pub mod spf;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::name::DnsName;
use crate::progress::{Progress, ProgressCounter};
use domain::{DkimSelector, DomainScan};
use lookups::Lookups;

/// Scans each domain once (domains are deduplicated here), at most `parallel_domains`
/// at a time, reporting progress per domain; `selectors` are the DKIM selectors to probe
/// (from the signature table).
///
/// `parallel_domains` long-lived tasks each take the next domain from a shared index
/// until none is left. One task per domain, spawned and joined from the caller (which
/// runs outside the runtime's workers under `block_on`), cost a cross-thread wake-up per
/// domain in both directions — a noticeable share of a scan that shares two cores with
/// its DNS server.
pub async fn scan_domains(
    lookups: Arc<Lookups>,
    domains: Vec<DnsName>,
    parallel_domains: usize,
    progress: &Progress,
    selectors: Arc<[DkimSelector]>,
) -> HashMap<DnsName, Arc<DomainScan>> {
    let mut unique = domains;
    unique.sort();
    unique.dedup();
    let total = unique.len();
    let unique = Arc::new(unique);
    let next = Arc::new(AtomicUsize::new(0));
    // Aborted when this future is dropped (a signal stops the scan): no worker goes on
    // asking questions while the answers so far are saved.
    let mut workers = AbortOnDrop(
        (0..parallel_domains.max(1).min(total.max(1)))
            .map(|_| {
                tokio::spawn(worker(
                    lookups.clone(),
                    unique.clone(),
                    next.clone(),
                    progress.counter(),
                    selectors.clone(),
                ))
            })
            .collect(),
    );
    let mut results = HashMap::with_capacity(total);
    for handle in &mut workers.0 {
        match handle.await {
            Ok(scans) => results.extend(scans),
            // A panicking scan task is a bug (its domains are missing from the result);
            // report it and keep the rest of the run.
            Err(err) => tracing::error!("a domain scan task failed: {err}"),
        }
    }
    results
}

/// Tasks aborted when the owner is dropped.
struct AbortOnDrop<T>(Vec<tokio::task::JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// Scans one domain; a panic while doing so (a bug, e.g. in a parser of hostile DNS
/// text) costs this domain only: it becomes a scan error with the panic message as
/// its evidence, and the worker goes on with the next domain.
async fn scan_one(lookups: &Lookups, domain: &DnsName, selectors: &[DkimSelector]) -> DomainScan {
    use futures::FutureExt;
    let scan = std::panic::AssertUnwindSafe(async {
        crate::faults::maybe_panic("scan", &domain.to_string());
        domain::scan_domain(lookups, domain, selectors).await
    })
    .catch_unwind()
    .await;
    scan.unwrap_or_else(|panic| {
        let message = crate::faults::panic_message(&*panic);
        tracing::error!("scanning {domain} failed: {message}");
        DomainScan::failed(
            domain,
            &format!("internal error while scanning: {message}"),
            resolver::now(),
        )
    })
}

async fn worker(
    lookups: Arc<Lookups>,
    domains: Arc<Vec<DnsName>>,
    next: Arc<AtomicUsize>,
    progress: ProgressCounter,
    selectors: Arc<[DkimSelector]>,
) -> Vec<(DnsName, Arc<DomainScan>)> {
    let mut done = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(domain) = domains.get(i) else {
            return done;
        };
        crate::faults::pause_async(crate::interrupt::Phase::Scan).await;
        let scan = scan_one(&lookups, domain, &selectors).await;
        progress.inc(scan.mx.failed());
        done.push((domain.clone(), Arc::new(scan)));
    }
}
