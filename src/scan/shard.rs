//! Splitting a scan across machines: `mxmap scan --shard K/N` scans the domains whose
//! hash falls in shard K of N, so that N jobs (a CI matrix) each take a stable,
//! balanced share and `mxmap merge` puts their caches back together.
//!
//! The hash is SHA-256 of the domain's lower-case wire form: it does not depend on the
//! Rust version, the platform or the order of the seeds, so a rerun of shard K asks
//! exactly the same domains, and the same domain lands in the same shard everywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::name::DnsName;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 1 to `count`.
    pub index: u32,
    /// How many shards the domains are split into.
    pub count: u32,
}

/// Most shards accepted: far more than any CI matrix runs, small enough that every
/// shard still has domains to scan.
pub const MAX_SHARDS: u32 = 1024;

impl Shard {
    /// The shard (1-based) a domain belongs to when the domains are split `count` ways.
    pub fn of(domain: &DnsName, count: u32) -> u32 {
        let digest = Sha256::digest(domain.wire());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    /// True when `domain` is scanned by this shard.
    pub fn contains(&self, domain: &DnsName) -> bool {
        Shard::of(domain, self.count) == self.index
    }

    /// True when a municipality without a seed domain, known by its seed `id`, is
    /// this shard's to discover a domain for (SHA-256 of the id's bytes, as stable).
    pub fn contains_id(&self, id: &str) -> bool {
        let digest = Sha256::digest(id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(self.count.max(1))) as u32 + 1 == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with 1 ≤ K ≤ N ≤ [`MAX_SHARDS`], e.g. `2/4`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let invalid = || {
            format!("invalid shard {text:?}: expected K/N with 1 ≤ K ≤ N ≤ {MAX_SHARDS}, e.g. 2/4")
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(invalid)?;
        let index: u32 = index.trim().parse().map_err(|_| invalid())?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(invalid());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(i: usize) -> DnsName {
        DnsName::parse(&format!("gemeinde-{i}.example.de")).unwrap()
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            " 1 / 1 ".parse::<Shard>().map(|s| s.to_string()),
            Ok("1/1".into())
        );
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "-1/4", "1/2000", ""] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("K/N"), "{bad}: {error}");
        }
    }

    #[test]
    fn every_domain_is_in_exactly_one_shard_and_shards_are_balanced() {
        let domains: Vec<DnsName> = (0..20_000).map(name).collect();
        let shards: Vec<Shard> = (1..=4).map(|index| Shard { index, count: 4 }).collect();
        let mut sizes = [0usize; 4];
        for d in &domains {
            let holders: Vec<&Shard> = shards.iter().filter(|s| s.contains(d)).collect();
            assert_eq!(holders.len(), 1, "{d}");
            sizes[holders[0].index as usize - 1] += 1;
        }
        for size in sizes {
            // 5,000 expected; a binomial spread of a few standard deviations (~61).
            assert!((4_700..=5_300).contains(&size), "{sizes:?}");
        }
    }

    #[test]
    fn the_shard_of_a_domain_is_stable_and_ignores_case() {
        let upper = DnsName::parse("Gemeinde-7.Example.DE").unwrap();
        assert_eq!(Shard::of(&upper, 4), Shard::of(&name(7), 4));
        // Pinned: a change here would move domains between shards of running matrices.
        let pinned: Vec<u32> = (0..8).map(|i| Shard::of(&name(i), 4)).collect();
        assert_eq!(pinned, PINNED);
        assert_eq!(Shard::of(&name(3), 1), 1);
    }

    const PINNED: [u32; 8] = [2, 3, 2, 4, 2, 4, 4, 3];
}
