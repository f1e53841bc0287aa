//! Domain discovery (classification spec §9): finds the mail domain of a municipality
//! whose seed has none, or whose seed domain definitely receives no mail (NXDOMAIN, no
//! MX, null MX, only invalid MX hosts). A seed or override domain that receives mail is
//! never replaced, and a failed lookup never starts a discovery.
//!
//! Sources, strongest first: the municipality's website (addresses on its contact and
//! imprint pages, `website`; the target of its redirects, `redirect`), the registered
//! domain above a seed subdomain (`seed_parent`), and guesses from the name per the
//! country's conventions (`guess`). Every candidate must receive mail and pass the
//! rejection rules; each municipality tries at most the table's `max_candidates` names,
//! all through the scan's shared lookup memo. Every record says where its domain came
//! from and which candidates were tried.
//!
//! - [`conventions`]: the per-country convention table (`conventions.toml`, data);
//! - [`normalise`]: municipality name → slug variants;
//! - [`candidates`]: slug variants × domain shapes, bounded;
//! - [`validate`]: mail state, rejection rules, ranking;
//! - [`search`]: the search per municipality and the choice over all of them;
//! - [`web`]: website visits (redirects, contact pages, addresses), loopback-safe;
//! - [`review`]: the review file for maintainers.

pub mod candidates;
pub mod conventions;
pub mod normalise;
pub mod review;
pub mod search;
pub mod validate;
pub mod web;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::seeds::Domain;
use conventions::Conventions;

/// Where a municipality's mail domain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainSource {
    /// The seed list.
    Seed,
    /// A reviewed override (`seeds/overrides.toml`).
    Override,
    /// An address on the municipality's website, or the website's own domain.
    Website,
    /// The target of the website's redirects.
    Redirect,
    /// The registered domain above the seed's subdomain.
    SeedParent,
    /// Guessed from the name per the country's conventions.
    Guess,
    /// No domain.
    None,
}

impl DomainSource {
    /// Stable slug (data files).
    pub fn slug(self) -> &'static str {
        match self {
            DomainSource::Seed => "seed",
            DomainSource::Override => "override",
            DomainSource::Website => "website",
            DomainSource::Redirect => "redirect",
            DomainSource::SeedParent => "seed_parent",
            DomainSource::Guess => "guess",
            DomainSource::None => "none",
        }
    }

    /// True for the sources discovery adds.
    pub fn is_discovered(self) -> bool {
        matches!(
            self,
            DomainSource::Website
                | DomainSource::Redirect
                | DomainSource::SeedParent
                | DomainSource::Guess
        )
    }
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcome {
    /// Taken as the municipality's mail domain.
    Chosen,
    /// Receives mail and passed every rule, but another candidate ranked higher.
    RankedLower,
    /// Receives no mail (NXDOMAIN, no MX, null MX, invalid MX).
    NoMail,
    /// The lookup failed; nothing is known.
    LookupFailed,
    /// Turned down by a rule.
    Rejected,
}

/// One candidate tried for a municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trial {
    /// The candidate (ASCII).
    pub domain: String,
    /// The source that proposed it.
    pub source: DomainSource,
    /// How it was found (shape and slug, or page and address).
    pub how: String,
    /// What became of it.
    pub outcome: TrialOutcome,
    /// The MX answer, or the rejection reason.
    pub detail: String,
}

/// How a municipality's mail domain was found (one per municipality).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    /// Where the domain came from.
    pub source: DomainSource,
    /// The domain classified (`None`: no domain).
    #[serde(skip)]
    pub domain: Option<Domain>,
    /// The seed's (or override's) domain when it receives no mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// What the original domain's MX answer said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_state: Option<String>,
    /// Other sources that found the same domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmed_by: Vec<DomainSource>,
    /// Evidence for the chosen domain (how it was found, its MX answer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Every candidate tried, in the order tried.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Trial>,
}

impl Discovery {
    /// A domain that needed no discovery (or none at all).
    pub fn plain(source: DomainSource, domain: Option<Domain>) -> Discovery {
        Discovery {
            source,
            domain,
            original: None,
            original_state: None,
            confirmed_by: Vec::new(),
            evidence: Vec::new(),
            tried: Vec::new(),
        }
    }

    /// True when discovery chose the domain.
    pub fn is_discovered(&self) -> bool {
        self.source.is_discovered() && self.domain.is_some()
    }

    /// True for a domain found by guessing alone (flag `guessed_domain`).
    pub fn is_guess_only(&self) -> bool {
        self.source == DomainSource::Guess && self.confirmed_by.is_empty()
    }

    /// The cap on the verdict's confidence (spec §8.7): guess only → 60; one other
    /// source → 80; two or more sources agreeing, or no discovery → none.
    pub fn confidence_cap(&self, table: &Conventions) -> Option<u8> {
        if !self.is_discovered() {
            return None;
        }
        if self.is_guess_only() {
            Some(table.limits.guess_confidence_cap)
        } else if self.confirmed_by.is_empty() {
            Some(table.limits.single_source_confidence_cap)
        } else {
            None
        }
    }

    /// One sentence for the municipality page: how the mail domain was found.
    pub fn sentence(&self) -> String {
        let domain = self
            .domain
            .as_ref()
            .map(|d| d.unicode.as_str())
            .unwrap_or("");
        let how = self.evidence.first().map(String::as_str).unwrap_or("");
        let before = match (&self.original, &self.original_state) {
            (Some(o), Some(state)) => format!("the seed's domain {o} {state}, so "),
            _ => String::new(),
        };
        let tried = self.tried.len();
        let kept = |whose: &str| match (&self.original, &self.original_state, tried) {
            (Some(o), Some(state), 0) => format!("The mail domain is {whose} ({o}); it {state}."),
            (Some(o), Some(state), n) => format!(
                "The mail domain is {whose} ({o}); it {state}, and none of {n} candidate domain{} checked (see domain_candidates in data.json) receives mail or passes the rules.",
                if n == 1 { "" } else { "s" }
            ),
            _ => format!("The mail domain is {whose}."),
        };
        match self.source {
            DomainSource::Seed => kept("the one in the seed list"),
            DomainSource::Override => kept("set by a reviewed override in seeds/overrides.toml"),
            DomainSource::None if tried == 0 => match &self.original {
                Some(o) => format!("The seed's domain {o} was kept: no other domain was looked for."),
                None => "The seed list has no mail domain for this municipality, and none was looked for.".into(),
            },
            DomainSource::None => format!(
                "No mail domain was found: {before}{tried} candidate domain{} {} checked (see domain_candidates in data.json) and none receives mail or passes the rules.",
                if tried == 1 { "" } else { "s" },
                if tried == 1 { "was" } else { "were" }
            ),
            DomainSource::Website => capitalise(&format!(
                "{before}the mail domain {domain} was found on the municipality's website ({how})."
            )),
            DomainSource::Redirect => capitalise(&format!(
                "{before}the mail domain {domain} is where the municipality's website redirects ({how}), and it receives mail."
            )),
            DomainSource::SeedParent => capitalise(&format!(
                "{before}the mail domain {domain} is the registered domain above it, and it receives mail."
            )),
            DomainSource::Guess => capitalise(&format!(
                "{before}the mail domain {domain} was guessed from the name (shape {how}) and accepted because it receives mail; it is unconfirmed, so the verdict's confidence is capped."
            )),
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What the reviewed overrides say about one municipality's discovery.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Its website (an override's, else the seed's).
    pub website: Option<String>,
    /// Candidates a maintainer rejected (ASCII domains): never tried again.
    pub rejected: Vec<String>,
    /// The domain comes from a domain override.
    pub overridden: bool,
}

/// Counters of one discovery run, for the build output and the benchmark.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Municipalities whose seed has no domain or one that receives no mail.
    pub needed: usize,
    /// Of them, with a discovered domain.
    pub found: usize,
    /// Found, per source.
    pub by_source: BTreeMap<&'static str, usize>,
    /// Candidate names asked (one MX question each).
    pub candidate_lookups: usize,
    /// Address questions for the MX hosts of surviving candidates.
    pub host_lookups: usize,
    /// Websites visited (fetched now or reused from the web cache).
    pub websites: usize,
    /// Municipalities not searched because their domain's lookup failed.
    pub lookup_failed: usize,
}

/// The discovery of every municipality.
#[derive(Debug, Default)]
pub struct Discoveries {
    /// By seed id.
    pub by_id: HashMap<String, Arc<Discovery>>,
    /// Counters.
    pub stats: Stats,
    /// Hashes of the questions discovery asked (candidates and their MX hosts).
    pub asked: rustc_hash::FxHashSet<u64>,
    /// The seed (and override) domains: what a run without discovery scans.
    pub seed_domains: std::collections::HashSet<crate::name::DnsName>,
}

/// DNS questions a run asked because of discovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Added {
    /// Candidate names (MX).
    pub candidates: usize,
    /// Addresses of surviving candidates' MX hosts.
    pub hosts: usize,
    /// Domains scanned only because discovery chose them.
    pub domains: usize,
    /// Questions of those scans that no seed domain's scan and no candidate check asked.
    pub scan_questions: usize,
}

impl Added {
    /// All added questions.
    pub fn total(&self) -> usize {
        self.candidates + self.hosts + self.scan_questions
    }
}

/// A hash of one question, for the set of questions asked.
pub fn question_hash(name: &crate::name::DnsName, rtype: crate::evidence::RType) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one((name, rtype))
}

impl Discoveries {
    /// The discovery of a municipality.
    pub fn get(&self, id: &str) -> Option<&Arc<Discovery>> {
        self.by_id.get(id)
    }

    /// The distinct domains to scan: every municipality's effective domain.
    pub fn domains(&self) -> Vec<crate::name::DnsName> {
        let mut out: Vec<_> = self
            .by_id
            .values()
            .filter_map(|d| d.domain.as_ref().map(|d| d.ascii.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The questions discovery added to a run: its own, and those of scanning the
    /// domains it chose that the seed domains' scans did not ask anyway.
    pub fn added(
        &self,
        scans: &HashMap<crate::name::DnsName, Arc<crate::scan::domain::DomainScan>>,
    ) -> Added {
        let seed_domains = &self.seed_domains;
        let mut seen: rustc_hash::FxHashSet<u64> = rustc_hash::FxHashSet::default();
        for (domain, scan) in scans {
            if seed_domains.contains(domain) {
                seen.extend(
                    scan.observations()
                        .iter()
                        .map(|o| question_hash(&o.name, o.rtype)),
                );
            }
        }
        let mut added = Added {
            candidates: self.stats.candidate_lookups,
            hosts: self.stats.host_lookups,
            ..Added::default()
        };
        for (domain, scan) in scans {
            if seed_domains.contains(domain) {
                continue;
            }
            added.domains += 1;
            for o in scan.observations() {
                let h = question_hash(&o.name, o.rtype);
                if !self.asked.contains(&h) && seen.insert(h) {
                    added.scan_questions += 1;
                }
            }
        }
        added
    }

    /// One line for the build output.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        let sources: Vec<String> = s
            .by_source
            .iter()
            .map(|(k, v)| format!("{v} by {k}"))
            .collect();
        format!(
            "discover: {} municipalities without a usable mail domain in the seeds; {} found ({}), {} still without; {} candidate names and {} MX host addresses asked{}{}",
            s.needed,
            s.found,
            if sources.is_empty() {
                "none".into()
            } else {
                sources.join(", ")
            },
            s.needed - s.found,
            s.candidate_lookups,
            s.host_lookups,
            if s.websites > 0 {
                format!(", {} websites visited", s.websites)
            } else {
                String::new()
            },
            if s.lookup_failed > 0 {
                format!(
                    "; {} not searched (their domain's lookup failed)",
                    s.lookup_failed
                )
            } else {
                String::new()
            },
        )
    }
}

pub use search::{Settings, discover_all};

/// What [`run`] needs of the resolved configuration (the pipeline fills it in;
/// discovery does not import the configuration layer above it).
#[derive(Debug, Clone, Copy)]
pub struct RunSettings<'a> {
    /// The scan cache; the web cache lives beside it.
    pub cache: &'a std::path::Path,
    /// Ports and loopback policy of the connection stage.
    pub probe: &'a crate::scan::settings::ProbeSettings,
    /// Loopback policy and cache freshness of the DNS stage.
    pub dns: &'a crate::scan::settings::DnsConfig,
    /// Discovery is switched on.
    pub enabled: bool,
    /// No summary line.
    pub quiet: bool,
}

/// Runs discovery for the pipeline: website visits read the web cache beside the scan
/// cache (`fetch`: also fetch stale or missing visits, then save the cache), ports and
/// loopback policy as configured. Prints the summary unless quiet.
pub async fn run(
    lookups: &Arc<crate::scan::lookups::Lookups>,
    municipalities: &[crate::seeds::Municipality],
    hints: &HashMap<String, Hints>,
    config: &RunSettings<'_>,
    fetch: bool,
) -> anyhow::Result<Discoveries> {
    let started = std::time::Instant::now();
    let store_path = web::store::WebStore::path_for(config.cache);
    let store = web::store::WebStore::load(&store_path)?;
    let settings = web::WebSettings {
        http_port: config.probe.http_port,
        https_port: config.probe.https_port,
        loopback_only: config.dns.loopback_only,
        fetch,
        reuse_for: config.dns.cache_ttl,
        ..web::WebSettings::default()
    };
    let resolver = Arc::new(web::LookupResolver(lookups.clone()));
    let context = Arc::new(web::WebContext::new(settings, resolver, store));
    let found = discover_all(
        lookups,
        municipalities,
        hints,
        &Settings {
            enabled: config.enabled,
            web: Some(context.clone()),
        },
    )
    .await;
    let fetched = context.fetched();
    // The context holds a reference to the lookup table; it must go before the
    // pipeline takes the table back.
    if let Ok(context) = Arc::try_unwrap(context)
        && fetch
        && fetched > 0
    {
        context.into_store().save(&store_path)?;
    }
    if !config.quiet && config.enabled {
        eprintln!(
            "{} in {:.1}s",
            found.summary(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: DomainSource, confirmed: Vec<DomainSource>) -> Discovery {
        Discovery {
            source,
            domain: Some(Domain::parse("abajas.es").unwrap()),
            original: None,
            original_state: None,
            confirmed_by: confirmed,
            evidence: vec!["shape {j}.es from \"abajas\"".into()],
            tried: Vec::new(),
        }
    }

    #[test]
    fn confidence_caps_follow_the_spec() {
        let t = Conventions::embedded();
        assert_eq!(
            found(DomainSource::Guess, vec![]).confidence_cap(t),
            Some(60)
        );
        assert_eq!(
            found(DomainSource::Website, vec![]).confidence_cap(t),
            Some(80)
        );
        assert_eq!(
            found(DomainSource::Website, vec![DomainSource::Guess]).confidence_cap(t),
            None
        );
        assert!(!found(DomainSource::Guess, vec![DomainSource::Website]).is_guess_only());
        let seed = Discovery::plain(DomainSource::Seed, Domain::parse("x.es").ok());
        assert_eq!(seed.confidence_cap(t), None);
        assert!(!seed.is_discovered());
    }

    #[test]
    fn sentences_say_how_the_domain_was_found() {
        let g = found(DomainSource::Guess, vec![]);
        let s = g.sentence();
        assert!(
            s.starts_with("The mail domain abajas.es was guessed"),
            "{s}"
        );
        let mut none = Discovery::plain(DomainSource::None, None);
        assert!(
            none.sentence().contains("no mail domain"),
            "{}",
            none.sentence()
        );
        none.tried.push(Trial {
            domain: "x.es".into(),
            source: DomainSource::Guess,
            how: String::new(),
            outcome: TrialOutcome::NoMail,
            detail: String::new(),
        });
        assert!(none.sentence().contains("1 candidate domain was checked"));
        let mut w = found(DomainSource::Website, vec![]);
        w.original = Some("gemeinde-x.de".into());
        w.original_state = Some("does not exist (NXDOMAIN)".into());
        assert!(
            w.sentence()
                .starts_with("The seed's domain gemeinde-x.de does not exist")
        );
    }
}
