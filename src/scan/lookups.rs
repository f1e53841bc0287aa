//! Shared lookups: each distinct question (name, type) is asked at most once per run,
//! however many domains need it (the same MX host, SPF include or address). Also the
//! place where the previous scan cache is reused (fresh entries) or used as last known
//! good (when a live query fails), and where queries in flight are bounded.

use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OnceCell, Semaphore};

use super::cache::ScanCache;
// The counters are filled by the resolver; re-exported where the table lives.
pub use super::resolver::LookupStats;
use super::resolver::{LiveResolver, now};
use crate::evidence::{Observation, Outcome, RType, Timestamp};
use crate::name::DnsName;

type Key = (DnsName, RType);
type Memo = FxHashMap<Key, Arc<OnceCell<Arc<Observation>>>>;

/// Shards of the memo: hundreds of thousands of lookups per run from every worker
/// thread; one lock would serialise them.
const SHARDS: usize = 64;

/// Where answers come from.
pub enum Backend {
    /// Ask DNS servers.
    Live(Box<LiveResolver>),
    /// Only the previous scan cache (for `mxmap render`): nothing is sent.
    CacheOnly,
}

/// The shared lookup table of one run.
pub struct Lookups {
    backend: Backend,
    previous: Option<ScanCache>,
    fresh_for: Duration,
    /// When this run started; observations older than this were reused.
    pub started: Timestamp,
    memo: Vec<Mutex<Memo>>,
    in_flight: Semaphore,
    /// Counters.
    pub stats: LookupStats,
}

impl Lookups {
    /// A lookup table over `backend`, reusing `previous` entries younger than `fresh_for`
    /// and keeping at most `concurrency` queries in flight.
    pub fn new(
        backend: Backend,
        previous: Option<ScanCache>,
        fresh_for: Duration,
        concurrency: usize,
    ) -> Lookups {
        Lookups {
            backend,
            previous,
            fresh_for,
            started: now(),
            memo: (0..SHARDS).map(|_| Mutex::new(Memo::default())).collect(),
            in_flight: Semaphore::new(concurrency.max(1)),
            stats: LookupStats::default(),
        }
    }

    /// The answer to one question, asked at most once per run.
    pub async fn get(&self, name: &DnsName, rtype: RType) -> Arc<Observation> {
        let key = (name.clone(), rtype);
        let shard = {
            use std::hash::BuildHasher;
            (rustc_hash::FxBuildHasher.hash_one(&key) as usize) % SHARDS
        };
        let cell = {
            let mut memo = self.memo[shard].lock().unwrap_or_else(|e| e.into_inner());
            memo.entry(key).or_default().clone()
        };
        cell.get_or_init(|| self.resolve(name, rtype)).await.clone()
    }

    async fn resolve(&self, name: &DnsName, rtype: RType) -> Arc<Observation> {
        self.stats.distinct.fetch_add(1, Ordering::Relaxed);
        let previous = self.previous.as_ref().and_then(|c| c.get(name, rtype));
        let live = match &self.backend {
            Backend::CacheOnly => {
                return match previous {
                    Some(obs) => obs.clone(),
                    None => Arc::new(Observation {
                        name: name.clone(),
                        rtype,
                        outcome: Outcome::Error("not in the scan cache".into()),
                        answers: Vec::new(),
                        at: self.started,
                        authenticated: false,
                    }),
                };
            }
            Backend::Live(live) => live,
        };
        if let Some(obs) = previous
            && !obs.failed()
            && self.is_fresh(obs.at)
        {
            self.stats.reused.fetch_add(1, Ordering::Relaxed);
            return obs.clone();
        }
        let observation = {
            let _permit = self.in_flight.acquire().await;
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            live.query(name, rtype, &self.stats).await
        };
        if observation.failed() {
            if let Some(good) = previous.filter(|o| !o.failed()) {
                self.stats.stale_fallbacks.fetch_add(1, Ordering::Relaxed);
                return good.clone();
            }
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        Arc::new(observation)
    }

    fn is_fresh(&self, at: Timestamp) -> bool {
        let age = self.started.saturating_sub(at).max(0) as u64;
        Duration::from_secs(age) < self.fresh_for
    }

    /// Every observation of this run (asked or reused), for saving into the cache.
    pub fn observations(&self) -> Vec<Arc<Observation>> {
        self.memo
            .iter()
            .flat_map(|shard| {
                let memo = shard.lock().unwrap_or_else(|e| e.into_inner());
                memo.values()
                    .filter_map(|cell| cell.get().cloned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The previous cache, if one from the same source was given.
    pub fn previous(&self) -> Option<&ScanCache> {
        self.previous.as_ref()
    }

    /// Takes the previous cache out (to merge this run's observations into it).
    pub fn take_previous(&mut self) -> Option<ScanCache> {
        self.previous.take()
    }
}
