//! The site model: one record per seed municipality and the statistics per country,
//! computed once. Pages, map data, JSON and CSV are all rendered from this model, so
//! they cannot disagree.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::slug::municipality_slug;
use crate::classify::{Category, Jurisdiction, MxLocation, Rule, Verdict};
use crate::countries::Country;
use crate::discover::{Discovery, DomainSource};
use crate::evidence::Timestamp;
use crate::grade::{Letter, Security};
use crate::scan::domain::DomainScan;
use crate::seeds::{Domain, Municipality};

/// How the scan of a municipality went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ScanStatus {
    /// Every lookup answered.
    #[serde(rename = "ok")]
    Ok,
    /// The verdict stands, but some secondary lookups failed.
    #[serde(rename = "partial")]
    Partial,
    /// The MX lookup failed: no verdict (a scan error, not "no email").
    #[serde(rename = "error")]
    Error,
    /// The seed has no domain.
    #[serde(rename = "no-domain")]
    NoDomain,
    /// The seed's domain is not a valid domain name.
    #[serde(rename = "invalid-domain")]
    InvalidDomain,
}

impl ScanStatus {
    /// Stable slug.
    pub fn slug(self) -> &'static str {
        match self {
            ScanStatus::Ok => "ok",
            ScanStatus::Partial => "partial",
            ScanStatus::Error => "error",
            ScanStatus::NoDomain => "no-domain",
            ScanStatus::InvalidDomain => "invalid-domain",
        }
    }
}

/// One municipality with its verdict.
#[derive(Debug, Clone)]
pub struct Record {
    /// Seed id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Country.
    pub country: &'static Country,
    /// Region.
    pub region: Option<String>,
    /// Domain.
    pub domain: Option<Domain>,
    /// Why the seed's domain was unusable.
    pub domain_problem: Option<String>,
    /// Population.
    pub population: Option<u64>,
    /// OSM relation id.
    pub osm_relation_id: Option<u64>,
    /// Scan status.
    pub status: ScanStatus,
    /// Newest observation behind the verdict.
    pub scanned_at: Option<Timestamp>,
    /// The verdict.
    pub verdict: Verdict,
    /// The domain's scan (shared by municipalities with the same domain).
    pub scan: Option<Arc<DomainScan>>,
    /// The verdict rests on answers kept from an earlier scan because this run's
    /// lookups failed (last known good); the date is [`Record::scanned_at`].
    pub stale: bool,
    /// The domain's security assessment (absent without a scanned domain).
    pub security: Option<Arc<Security>>,
    /// Page slug.
    pub slug: String,
    /// Page path relative to the site root, ending in `/`.
    pub page: String,
    /// How the mail domain was found (absent when discovery did not run).
    pub discovery: Option<Arc<Discovery>>,
}

impl Record {
    /// Builds a record; `page` is derived from country, name and id.
    pub fn new(
        m: &Municipality,
        verdict: Verdict,
        scan: Option<Arc<DomainScan>>,
        security: Option<Arc<Security>>,
    ) -> Record {
        let status = match (&m.domain, &m.domain_problem, &scan) {
            (None, Some(_), _) => ScanStatus::InvalidDomain,
            (None, None, _) => ScanStatus::NoDomain,
            // Without an MX answer the domain was not scanned, whatever the verdict
            // (an override may still name the provider): never `ok`.
            (Some(_), _, None) => ScanStatus::Error,
            (Some(_), _, Some(s)) if s.mx.failed() => ScanStatus::Error,
            (Some(_), _, _) if verdict.rule == Rule::DnsError => ScanStatus::Error,
            (Some(_), _, Some(s)) if !s.failures().is_empty() => ScanStatus::Partial,
            _ => ScanStatus::Ok,
        };
        let scanned_at = scan
            .as_ref()
            .and_then(|s| s.observations().iter().map(|o| o.at).max());
        let slug = municipality_slug(&m.name, &m.id, m.country.code);
        Record {
            page: format!("{}/m/{}/", m.country.code, slug),
            id: m.id.clone(),
            name: m.name.clone(),
            country: m.country,
            region: m.region.clone(),
            domain: m.domain.clone(),
            domain_problem: m.domain_problem.clone(),
            population: m.population,
            osm_relation_id: m.osm_relation_id,
            status,
            scanned_at,
            verdict,
            scan,
            security,
            stale: false,
            slug,
            discovery: None,
        }
    }

    /// Where the mail domain came from (`seed` or `none` when discovery did not run).
    pub fn domain_source(&self) -> DomainSource {
        match (&self.discovery, &self.domain) {
            (Some(d), _) => d.source,
            (None, Some(_)) => DomainSource::Seed,
            (None, None) => DomainSource::None,
        }
    }

    /// One sentence for the page: how the mail domain was found.
    pub fn domain_sentence(&self) -> String {
        match &self.discovery {
            Some(d) => d.sentence(),
            None if self.domain.is_some() => "The mail domain is the one in the seed list.".into(),
            None => "The seed list has no mail domain for this municipality.".into(),
        }
    }

    /// True when discovery found the domain (a guess, the website, a redirect …).
    pub fn is_discovered(&self) -> bool {
        self.discovery.as_ref().is_some_and(|d| d.is_discovered())
    }

    /// Marks the record stale when its MX answer is older than `fresh_since` (the
    /// answer was kept from an earlier scan, not observed or reused as fresh now).
    pub fn mark_staleness(&mut self, fresh_since: Timestamp) {
        self.stale = self
            .scan
            .as_ref()
            .is_some_and(|s| !s.mx.failed() && s.mx.at < fresh_since);
    }

    /// `fresh`, `stale`, `failed` or `none` (nothing to scan).
    pub fn freshness(&self) -> &'static str {
        match self.status {
            ScanStatus::NoDomain | ScanStatus::InvalidDomain => "none",
            ScanStatus::Error => "failed",
            _ if self.stale => "stale",
            _ => "fresh",
        }
    }

    /// The published grade: the overall letter of the security specification when the
    /// transport could be measured; otherwise the transport's `?` (nothing reachable) or
    /// `—` (null MX). Mail "protected in transit" cannot be graded on SPF/DMARC alone,
    /// so an unreachable server never turns into a letter.
    pub fn grade(&self) -> Letter {
        match &self.security {
            None => Letter::Unknown,
            Some(s) if !s.transport.letter.is_measured() => s.transport.letter,
            Some(s) => s.overall.letter,
        }
    }

    /// The published grade: the letter when one was measured, else `None`.
    pub fn published_grade(&self) -> Option<Letter> {
        Some(self.grade()).filter(|l| l.is_measured())
    }

    /// Why there is no measured grade (`None` when there is one).
    pub fn grade_reason(&self) -> Option<String> {
        if self.grade().is_measured() {
            return None;
        }
        match &self.security {
            Some(s) => Some(
                s.transport
                    .grade_reason
                    .clone()
                    .or_else(|| s.overall.grade_reason.clone())
                    .unwrap_or_else(|| {
                        crate::grade::rule_table()
                            .rule(&s.transport.rule)
                            .meaning
                            .clone()
                    }),
            ),
            None => Some(
                match self.status {
                    ScanStatus::NoDomain => "no domain to scan",
                    ScanStatus::InvalidDomain => "the seed domain is not a valid domain name",
                    _ => "the domain could not be scanned",
                }
                .to_string(),
            ),
        }
    }
}

/// Count of one provider.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderShare {
    /// Provider slug.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// Jurisdiction of the most municipalities with it (it is per-country relative).
    pub jurisdiction: Jurisdiction,
    /// Municipalities.
    pub count: usize,
    /// Sum of known populations.
    pub population: u64,
}

/// Statistics of a set of records (a country, or Europe).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Municipalities.
    pub municipalities: usize,
    /// With a usable domain.
    pub with_domain: usize,
    /// With a known provider (not `unknown`).
    pub classified: usize,
    /// MX lookup failed.
    pub scan_errors: usize,
    /// Some secondary lookups failed.
    pub partial: usize,
    /// Verdicts kept from an earlier scan (last known good).
    pub stale: usize,
    /// On Microsoft, Google or Amazon.
    pub us_hyperscaler: usize,
    /// With a domestic provider.
    pub domestic: usize,
    /// Known population total.
    pub population: u64,
    /// Municipalities with a population figure.
    pub with_population: usize,
    /// Per category (every category present).
    pub by_category: BTreeMap<Category, usize>,
    /// Per jurisdiction (every bucket present).
    pub by_jurisdiction: BTreeMap<Jurisdiction, usize>,
    /// Per MX location (every bucket present).
    pub by_mx_location: BTreeMap<MxLocation, usize>,
    /// Per rule.
    pub by_rule: BTreeMap<Rule, usize>,
    /// Per provider, most common first.
    pub providers: Vec<ProviderShare>,
    /// Behind a gateway with a US hyperscaler mailbox.
    pub us_via_gateway: usize,
    /// Overall grade per printed letter (every letter present, `?` and `—` included).
    pub by_grade: BTreeMap<String, usize>,
    /// With a measured overall grade (A+ … F).
    pub graded: usize,
    /// With an overall grade of B or better.
    pub grade_b_or_better: usize,
    /// Measured municipalities whose every measured MX completes STARTTLS.
    pub starttls_all: usize,
    /// With DMARC `p=reject`.
    pub dmarc_reject: usize,
}

impl Stats {
    /// Computes statistics over `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Stats {
        let mut s = Stats::default();
        for c in Category::ALL {
            s.by_category.insert(*c, 0);
        }
        for j in Jurisdiction::ALL {
            s.by_jurisdiction.insert(*j, 0);
        }
        for l in MxLocation::ALL {
            s.by_mx_location.insert(*l, 0);
        }
        for l in Letter::ALL {
            s.by_grade.insert(l.as_str().to_string(), 0);
        }
        let mut providers: HashMap<String, (ProviderShare, HashMap<Jurisdiction, usize>)> =
            HashMap::new();
        for r in records {
            let v = &r.verdict;
            s.municipalities += 1;
            if r.domain.is_some() {
                s.with_domain += 1;
            }
            if v.category != Category::Unknown {
                s.classified += 1;
            }
            if r.stale {
                s.stale += 1;
            }
            match r.status {
                ScanStatus::Error => s.scan_errors += 1,
                ScanStatus::Partial => s.partial += 1,
                _ => {}
            }
            if v.category == Category::UsHyperscaler {
                s.us_hyperscaler += 1;
                if v.gateway.is_some() {
                    s.us_via_gateway += 1;
                }
            }
            if v.jurisdiction == Jurisdiction::Domestic {
                s.domestic += 1;
            }
            if let Some(p) = r.population {
                s.population += p;
                s.with_population += 1;
            }
            let grade = r.grade();
            *s.by_grade.entry(grade.as_str().to_string()).or_default() += 1;
            if let Some(rank) = grade.rank() {
                s.graded += 1;
                if rank >= 4 {
                    s.grade_b_or_better += 1;
                }
            }
            if let Some(sec) = &r.security {
                if sec.transport.letter.is_measured()
                    && sec
                        .hosts
                        .iter()
                        .filter(|h| h.measured)
                        .all(|h| h.tls == Some(crate::grade::HostTls::Ok))
                {
                    s.starttls_all += 1;
                }
                if sec.dmarc.state == crate::grade::DmarcState::Reject {
                    s.dmarc_reject += 1;
                }
            }
            *s.by_category.entry(v.category).or_default() += 1;
            *s.by_jurisdiction.entry(v.jurisdiction).or_default() += 1;
            *s.by_mx_location.entry(v.mx_location).or_default() += 1;
            *s.by_rule.entry(v.rule).or_default() += 1;
            let entry = providers.entry(v.provider.clone()).or_insert_with(|| {
                (
                    ProviderShare {
                        id: v.provider.clone(),
                        name: provider_label(v),
                        category: v.category,
                        jurisdiction: v.jurisdiction,
                        count: 0,
                        population: 0,
                    },
                    HashMap::new(),
                )
            });
            entry.0.count += 1;
            entry.0.population += r.population.unwrap_or(0);
            *entry.1.entry(v.jurisdiction).or_default() += 1;
        }
        s.providers = providers
            .into_values()
            .map(|(mut share, juris)| {
                share.jurisdiction = juris
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(j, _)| j)
                    .unwrap_or(Jurisdiction::Unknown);
                share
            })
            .collect();
        s.providers
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        s
    }

    /// The most common provider other than `unknown`.
    pub fn top_provider(&self) -> Option<&ProviderShare> {
        self.providers.iter().find(|p| p.id != "unknown")
    }
}

/// Display name for provider shares: third parties are grouped.
fn provider_label(v: &Verdict) -> String {
    match v.provider.as_str() {
        "third-party" => "Uncatalogued third parties".to_string(),
        "self-hosted" => "Self-hosted (own server)".to_string(),
        _ => v.provider_name.clone(),
    }
}

/// One country's slice of the model.
#[derive(Debug, Clone)]
pub struct CountryModel {
    /// The country.
    pub country: &'static Country,
    /// Page path (`ee/`).
    pub page: String,
    /// Indices into [`SiteModel::records`], sorted by name.
    pub records: Vec<usize>,
    /// Statistics.
    pub stats: Stats,
}

/// Run metadata shown on pages and in the data files.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// ISO time of the build.
    pub generated: String,
    /// mxmap version.
    pub scanner_version: String,
    /// Signature table version.
    pub catalog_version: String,
    /// Rule table version.
    pub rules_version: String,
    /// Where the DNS answers came from (the build's own description, which may hold a
    /// local path: published only as [`Meta::public_dns_source`]).
    #[serde(serialize_with = "serialize_public_source")]
    pub dns_source: String,
    /// Seed records.
    pub municipalities: usize,
    /// Public address of the site, ending in `/`.
    pub site_url: String,
    /// New-issue URL for "report a misclassification".
    pub report_issue_url: String,
}

impl Meta {
    /// The DNS source as the public may read it: its kind, never the build machine's
    /// paths or resolver addresses.
    pub fn public_dns_source(&self) -> &'static str {
        public_source(&self.dns_source)
    }
}

/// See [`Meta::public_dns_source`].
fn public_source(source: &str) -> &'static str {
    if source.starts_with("world:") {
        "a recorded DNS world (offline build)"
    } else if source.is_empty() {
        "unknown"
    } else {
        "live DNS"
    }
}

fn serialize_public_source<S: serde::Serializer>(source: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(public_source(source))
}

/// Everything the site is rendered from.
#[derive(Debug)]
pub struct SiteModel {
    /// All records, by country (overview order) then id.
    pub records: Vec<Record>,
    /// Countries processed, in overview order.
    pub countries: Vec<CountryModel>,
    /// Totals.
    pub europe: Stats,
    /// Metadata.
    pub meta: Meta,
    /// Earlier runs and what changed (empty until the pipeline loads it).
    pub history: crate::history::History,
}

impl SiteModel {
    /// Assembles the model; records are grouped by country in the given country order.
    pub fn new(mut records: Vec<Record>, countries: &[&'static Country], meta: Meta) -> SiteModel {
        let order: HashMap<&str, usize> = countries
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code, i))
            .collect();
        records.sort_by(|a, b| {
            order
                .get(a.country.code)
                .cmp(&order.get(b.country.code))
                .then(a.id.cmp(&b.id))
        });
        let mut models = Vec::new();
        for country in countries {
            let mut idx: Vec<usize> = records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.country.code == country.code)
                .map(|(i, _)| i)
                .collect();
            idx.sort_by(|&a, &b| {
                records[a]
                    .name
                    .to_lowercase()
                    .cmp(&records[b].name.to_lowercase())
                    .then(records[a].id.cmp(&records[b].id))
            });
            let stats = Stats::of(idx.iter().map(|&i| &records[i]));
            models.push(CountryModel {
                country,
                page: format!("{}/", country.code),
                records: idx,
                stats,
            });
        }
        let europe = Stats::of(records.iter());
        SiteModel {
            records,
            countries: models,
            europe,
            meta,
            history: crate::history::History::default(),
        }
    }
}

/// Percentage with one decimal, `0.0` for an empty denominator.
pub fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}
