//! The search: for each municipality whose domain receives no mail, propose candidates
//! (website, redirect, seed parent, then name guesses), check each one once through the
//! shared lookup memo, settle names claimed by several municipalities, and choose.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use super::candidates::candidates;
use super::conventions::{Conventions, registered_domain};
use super::normalise::VariantKind;
use super::validate::{
    MailState, NameMatch, Rejection, listed_rejection, name_match, parked_rejection, rank_key,
};
use super::web::{self, WebContext};
use super::{Discoveries, Discovery, DomainSource, Hints, Stats, Trial, TrialOutcome};
use crate::evidence::RType;
use crate::name::DnsName;
use crate::scan::lookups::Lookups;
use crate::seeds::{Domain, Municipality};

/// Municipalities searched at the same time (lookups have their own in-flight bound).
const PARALLEL: usize = 256;
/// MX hosts whose addresses are looked up per surviving candidate at most.
const HOSTS_CHECKED: usize = 2;

/// How discovery runs.
#[derive(Clone, Default)]
pub struct Settings {
    /// Off: every municipality keeps its seed (or override) domain.
    pub enabled: bool,
    /// Website visits (none: websites are not fetched, and earlier visits are not used).
    pub web: Option<Arc<WebContext>>,
}

/// A candidate proposed by one source.
#[derive(Debug, Clone)]
struct Proposal {
    domain: String,
    source: DomainSource,
    how: String,
    name_match: NameMatch,
    /// May be another municipality's seed domain (the parent of the own seed domain, or
    /// the website's own domain: a shared administration).
    may_be_shared: bool,
    /// Turned down before any lookup by its source (parked page, unrelated address).
    rejected: Option<Rejection>,
}

/// A candidate that receives mail and passed every rule.
#[derive(Debug, Clone)]
struct Survivor {
    proposal: Proposal,
    mx: String,
    trial: usize,
}

/// One municipality's search, before the choice.
struct Pending {
    id: String,
    country: &'static str,
    original: Option<(Domain, MailState)>,
    origin: DomainSource,
    tried: Vec<Trial>,
    survivors: Vec<Survivor>,
    /// Every name guess of the municipality (tried or not), for agreement between sources.
    guesses: HashSet<String>,
}

/// Shared state of one run.
struct Ctx<'a> {
    lookups: &'a Lookups,
    table: &'static Conventions,
    /// Seed domain (ASCII) → ids of the municipalities whose seed names it.
    seed_domains: HashMap<String, Vec<String>>,
    web: Option<Arc<WebContext>>,
    asked: Mutex<HashSet<(DnsName, RType)>>,
    candidate_lookups: AtomicUsize,
    host_lookups: AtomicUsize,
}

impl Ctx<'_> {
    async fn ask(&self, name: &DnsName, rtype: RType) -> Arc<crate::evidence::Observation> {
        let first = self
            .asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name.clone(), rtype));
        if first {
            let counter = if rtype == RType::Mx {
                &self.candidate_lookups
            } else {
                &self.host_lookups
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.lookups.get(name, rtype).await
    }
}

/// Discovers the mail domain of every municipality that needs one (see the module
/// documentation). `hints` come from the reviewed overrides, by seed id.
pub async fn discover_all(
    lookups: &Lookups,
    municipalities: &[Municipality],
    hints: &HashMap<String, Hints>,
    settings: &Settings,
) -> Discoveries {
    if !settings.enabled {
        return seeds_as_they_are(municipalities, hints);
    }
    let table = Conventions::embedded();
    let mut seed_domains: HashMap<String, Vec<String>> = HashMap::new();
    for m in municipalities {
        if let Some(d) = &m.domain {
            seed_domains
                .entry(d.ascii.to_string())
                .or_default()
                .push(m.id.clone());
        }
    }
    let ctx = Ctx {
        lookups,
        table,
        seed_domains,
        web: settings.web.clone(),
        asked: Mutex::new(HashSet::new()),
        candidate_lookups: AtomicUsize::new(0),
        host_lookups: AtomicUsize::new(0),
    };
    let no_hints = Hints::default();
    let ctx_ref = &ctx;
    let enabled = settings.enabled;
    let mut pending: Vec<Pending> = futures::stream::iter(municipalities)
        .map(|m| {
            let h = hints.get(&m.id).unwrap_or(&no_hints);
            async move { search_one(ctx_ref, m, h, enabled).await }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    pending.sort_by(|a, b| a.id.cmp(&b.id));
    settle_claims(&mut pending);
    let mut out = Discoveries::default();
    let mut stats = Stats {
        candidate_lookups: ctx.candidate_lookups.load(Ordering::Relaxed),
        host_lookups: ctx.host_lookups.load(Ordering::Relaxed),
        websites: ctx.web.as_ref().map_or(0, |w| w.visited()),
        ..Stats::default()
    };
    for p in pending {
        let discovery = choose(p, &mut stats);
        out.by_id.insert(discovery.0, Arc::new(discovery.1));
    }
    out.stats = stats;
    out.seed_domains = municipalities
        .iter()
        .filter_map(|m| m.domain.as_ref().map(|d| d.ascii.clone()))
        .collect();
    out.asked = ctx
        .asked
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(name, rtype)| super::question_hash(name, *rtype))
        .collect();
    out
}

/// Discovery switched off (`--no-discover`): every seed domain as it is, without a
/// question asked, so the scan starts at once.
fn seeds_as_they_are(
    municipalities: &[Municipality],
    hints: &HashMap<String, Hints>,
) -> Discoveries {
    let mut out = Discoveries::default();
    for m in municipalities {
        let source = match (&m.domain, hints.get(&m.id).is_some_and(|h| h.overridden)) {
            (None, _) => DomainSource::None,
            (Some(_), true) => DomainSource::Override,
            (Some(_), false) => DomainSource::Seed,
        };
        out.by_id.insert(
            m.id.clone(),
            Arc::new(Discovery::plain(source, m.domain.clone())),
        );
    }
    out.seed_domains = municipalities
        .iter()
        .filter_map(|m| m.domain.as_ref().map(|d| d.ascii.clone()))
        .collect();
    out
}

/// Phase 1: the municipality's own domain, then (when it receives no mail) the
/// candidates of each source, checked.
async fn search_one(ctx: &Ctx<'_>, m: &Municipality, hints: &Hints, enabled: bool) -> Pending {
    let origin = match (&m.domain, hints.overridden) {
        (None, _) => DomainSource::None,
        (Some(_), true) => DomainSource::Override,
        (Some(_), false) => DomainSource::Seed,
    };
    let mut pending = Pending {
        id: m.id.clone(),
        country: m.country.code,
        original: None,
        origin,
        tried: Vec::new(),
        survivors: Vec::new(),
        guesses: HashSet::new(),
    };
    if let Some(d) = &m.domain {
        let state = MailState::of(&*ctx.lookups.get(&d.ascii, RType::Mx).await);
        let stop = state.receives() || !state.is_definite();
        pending.original = Some((d.clone(), state));
        if stop {
            return pending;
        }
    }
    // Overrides that set a domain are a maintainer's decision: never second-guessed.
    if !enabled || hints.overridden {
        return pending;
    }
    let country = ctx.table.country(m.country.code);
    let guesses = country
        .map(|c| candidates(&m.name, m.region.as_deref(), c, ctx.table))
        .unwrap_or_default();
    pending.guesses = guesses.iter().map(|c| c.domain.clone()).collect();
    let mut budget = ctx.table.limits.max_candidates;
    let website = hints.website.as_deref().or(m.website.as_deref());
    let mut first: Vec<Proposal> = Vec::new();
    if let (Some(site), Some(web)) = (website, &ctx.web) {
        let slugs: Vec<String> = country
            .map(|c| super::normalise::variants(&m.name, c, ctx.table))
            .unwrap_or_default()
            .iter()
            .map(|v| v.joined())
            .collect();
        for w in web::proposals(web, site, &slugs).await {
            let shared = w.how.starts_with("the domain of the website");
            first.push(Proposal {
                domain: w.domain,
                source: w.source,
                how: w.how,
                name_match: NameMatch::Partial,
                may_be_shared: shared,
                rejected: w.rejected,
            });
        }
    }
    if let Some((d, _)) = &pending.original
        && let Some(parent) = seed_parent(&d.ascii.to_string())
    {
        first.push(Proposal {
            domain: parent,
            source: DomainSource::SeedParent,
            how: format!("registered domain above {}", d.unicode),
            name_match: NameMatch::Partial,
            may_be_shared: true,
            rejected: None,
        });
    }
    check_all(ctx, &mut pending, first, &hints.rejected, &mut budget).await;
    if pending.survivors.is_empty() {
        let proposals = guesses
            .into_iter()
            .map(|c| Proposal {
                name_match: name_match(&c.domain, &c.slug.replace('-', ""), c.kind.is_whole_name()),
                how: match c.kind {
                    VariantKind::Full => format!("{} with {}", c.shape, c.slug),
                    kind => format!("{} with {} ({})", c.shape, c.slug, kind.slug()),
                },
                domain: c.domain,
                source: DomainSource::Guess,
                may_be_shared: false,
                rejected: None,
            })
            .collect();
        check_all(ctx, &mut pending, proposals, &hints.rejected, &mut budget).await;
    }
    pending
}

/// The registered domain above a subdomain (`x.amt-mittelholstein.de` →
/// `amt-mittelholstein.de`); `None` when the domain is registered itself.
fn seed_parent(domain: &str) -> Option<String> {
    let parent = registered_domain(domain)?;
    (parent != domain).then(|| parent.to_string())
}

/// Checks proposals in order, each domain once, while the budget of MX questions lasts.
async fn check_all(
    ctx: &Ctx<'_>,
    pending: &mut Pending,
    proposals: Vec<Proposal>,
    rejected: &[String],
    budget: &mut usize,
) {
    let mut to_ask = Vec::new();
    for p in proposals {
        let seen = pending.tried.iter().any(|t| t.domain == p.domain)
            || to_ask.iter().any(|q: &Proposal| q.domain == p.domain);
        if seen {
            continue;
        }
        if let Some(reason) = rule_out(ctx, &pending.id, &p, rejected) {
            pending
                .tried
                .push(trial(&p, TrialOutcome::Rejected, reason.describe()));
            continue;
        }
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        to_ask.push(p);
    }
    let checked =
        futures::future::join_all(to_ask.iter().map(|p| check_mail(ctx, &p.domain))).await;
    for (p, result) in to_ask.into_iter().zip(checked) {
        match result {
            Ok(mx) => {
                pending.survivors.push(Survivor {
                    proposal: p.clone(),
                    mx: mx.clone(),
                    trial: pending.tried.len(),
                });
                pending.tried.push(trial(&p, TrialOutcome::RankedLower, mx));
            }
            Err((outcome, detail)) => pending.tried.push(trial(&p, outcome, detail)),
        }
    }
}

/// Rules that need no DNS: reviewed rejections, the table's lists, other
/// municipalities' seed domains.
fn rule_out(ctx: &Ctx<'_>, id: &str, p: &Proposal, rejected: &[String]) -> Option<Rejection> {
    if let Some(r) = &p.rejected {
        return Some(r.clone());
    }
    if rejected.iter().any(|r| r == &p.domain) {
        return Some(Rejection::Reviewed);
    }
    if let Some(r) = listed_rejection(&p.domain, ctx.table, p.source == DomainSource::Guess) {
        return Some(r);
    }
    if !p.may_be_shared
        && let Some(ids) = ctx.seed_domains.get(&p.domain)
        && let Some(other) = ids.iter().find(|o| *o != id)
    {
        return Some(Rejection::OtherMunicipality { id: other.clone() });
    }
    None
}

/// Receives mail, not parked, and an MX host resolves: `Ok(MX summary)`; else the
/// outcome and its detail.
async fn check_mail(ctx: &Ctx<'_>, domain: &str) -> Result<String, (TrialOutcome, String)> {
    let name = DnsName::parse(domain)
        .map_err(|e| (TrialOutcome::Rejected, format!("not a domain name: {e}")))?;
    let state = MailState::of(&*ctx.ask(&name, RType::Mx).await);
    let hosts = match &state {
        MailState::Receives(hosts) => hosts.clone(),
        MailState::Failed(_) => return Err((TrialOutcome::LookupFailed, state.label())),
        _ => return Err((TrialOutcome::NoMail, state.label())),
    };
    if let Some(r) = parked_rejection(&hosts, ctx.table) {
        return Err((TrialOutcome::Rejected, r.describe()));
    }
    for host in hosts.iter().take(HOSTS_CHECKED) {
        let a = ctx.ask(host, RType::A).await;
        if a.addresses().next().is_some() {
            return Ok(state.label());
        }
        let aaaa = ctx.ask(host, RType::Aaaa).await;
        if aaaa.addresses().next().is_some() {
            return Ok(state.label());
        }
    }
    Err((TrialOutcome::Rejected, Rejection::MxUnresolvable.describe()))
}

fn trial(p: &Proposal, outcome: TrialOutcome, detail: String) -> Trial {
    Trial {
        domain: p.domain.clone(),
        source: p.source,
        how: p.how.clone(),
        outcome,
        detail,
    }
}

/// Phase 2: a guessed domain that survives for several municipalities belongs to the
/// one whose whole name it matches best; equal claims are namesakes and nobody gets it.
fn settle_claims(pending: &mut [Pending]) {
    let mut claims: HashMap<String, Vec<(usize, NameMatch)>> = HashMap::new();
    for (i, p) in pending.iter().enumerate() {
        for s in &p.survivors {
            if s.proposal.source == DomainSource::Guess {
                claims
                    .entry(s.proposal.domain.clone())
                    .or_default()
                    .push((i, s.proposal.name_match));
            }
        }
    }
    for (domain, claimants) in claims {
        if claimants.len() < 2 {
            continue;
        }
        let best = claimants
            .iter()
            .map(|(_, m)| *m)
            .min()
            .unwrap_or(NameMatch::Partial);
        let winners: Vec<usize> = claimants
            .iter()
            .filter(|(_, m)| *m == best)
            .map(|(i, _)| *i)
            .collect();
        for (i, _) in &claimants {
            let reason = if winners.len() > 1 {
                let ids = winners
                    .iter()
                    .filter(|w| *w != i)
                    .map(|w| pending[*w].id.clone())
                    .collect();
                Rejection::Ambiguous { ids }
            } else if winners[0] != *i {
                Rejection::ClaimedBy {
                    id: pending[winners[0]].id.clone(),
                }
            } else {
                continue;
            };
            let p = &mut pending[*i];
            if let Some(pos) = p.survivors.iter().position(|s| s.proposal.domain == domain) {
                let s = p.survivors.remove(pos);
                p.tried[s.trial].outcome = TrialOutcome::Rejected;
                p.tried[s.trial].detail = format!("{}; {}", s.mx, reason.describe());
            }
        }
    }
}

/// Phase 3: the best survivor (stronger source first, then the rank of spec §9.6), or
/// the original domain, or none.
fn choose(mut p: Pending, stats: &mut Stats) -> (String, Discovery) {
    let original_domain = p.original.as_ref().map(|(d, _)| d.clone());
    let needed = !p
        .original
        .as_ref()
        .is_some_and(|(_, s)| s.receives() || !s.is_definite());
    if p.original.as_ref().is_some_and(|(_, s)| !s.is_definite()) {
        stats.lookup_failed += 1;
    }
    if !needed {
        return (p.id, Discovery::plain(p.origin, original_domain));
    }
    stats.needed += 1;
    let country = Conventions::embedded().country(p.country);
    p.survivors.sort_by_key(|s| {
        (
            tier(s.proposal.source),
            rank_key(&s.proposal.domain, s.proposal.name_match, country),
        )
    });
    let (original, original_state) = match &p.original {
        Some((d, s)) => (Some(d.unicode.clone()), Some(s.label())),
        None => (None, None),
    };
    let Some(best) = p.survivors.first() else {
        let mut d = Discovery::plain(DomainSource::None, original_domain);
        if d.domain.is_some() {
            d.source = p.origin;
        }
        d.original = original;
        d.original_state = original_state;
        d.tried = p.tried;
        return (p.id, d);
    };
    let Ok(domain) = Domain::parse(&best.proposal.domain) else {
        return (p.id, Discovery::plain(p.origin, original_domain));
    };
    let source = best.proposal.source;
    let mut confirmed_by: Vec<DomainSource> = p
        .survivors
        .iter()
        .filter(|s| s.proposal.domain == best.proposal.domain && s.proposal.source != source)
        .map(|s| s.proposal.source)
        .collect();
    if source != DomainSource::Guess && p.guesses.contains(&best.proposal.domain) {
        confirmed_by.push(DomainSource::Guess);
    }
    confirmed_by.sort();
    confirmed_by.dedup();
    p.tried[best.trial].outcome = TrialOutcome::Chosen;
    let evidence = vec![
        best.proposal.how.clone(),
        format!("{} MX → {}", best.proposal.domain, best.mx),
    ];
    stats.found += 1;
    *stats.by_source.entry(source.slug()).or_default() += 1;
    let discovery = Discovery {
        source,
        domain: Some(domain),
        original,
        original_state,
        confirmed_by,
        evidence,
        tried: p.tried,
    };
    (p.id, discovery)
}

/// Evidence first: the website and its redirect, then the seed's parent, then guesses.
fn tier(source: DomainSource) -> u8 {
    match source {
        DomainSource::Website => 0,
        DomainSource::Redirect => 1,
        DomainSource::SeedParent => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::lookups::Backend;

    fn lookups() -> Lookups {
        Lookups::new(Backend::CacheOnly, None, std::time::Duration::ZERO, 1)
    }

    fn ctx(lookups: &Lookups) -> Ctx<'_> {
        Ctx {
            lookups,
            table: Conventions::embedded(),
            seed_domains: HashMap::from([
                ("kolmas.ee".to_string(), vec!["EE-2".to_string()]),
                (
                    "amet.ee".to_string(),
                    vec!["EE-3".to_string(), "EE-4".to_string()],
                ),
            ]),
            web: None,
            asked: Mutex::new(HashSet::new()),
            candidate_lookups: AtomicUsize::new(0),
            host_lookups: AtomicUsize::new(0),
        }
    }

    fn guess(domain: &str) -> Proposal {
        Proposal {
            domain: domain.into(),
            source: DomainSource::Guess,
            how: String::new(),
            name_match: NameMatch::Exact,
            may_be_shared: false,
            rejected: None,
        }
    }

    #[test]
    fn another_municipalitys_domain_reviewed_and_listed_ones_are_ruled_out() {
        let l = lookups();
        let c = ctx(&l);
        assert_eq!(
            rule_out(&c, "EE-1", &guess("kolmas.ee"), &[]),
            Some(Rejection::OtherMunicipality { id: "EE-2".into() })
        );
        // Its own seed domain is no other municipality's.
        assert_eq!(rule_out(&c, "EE-2", &guess("kolmas.ee"), &[]), None);
        // The parent of the own seed domain may be shared by an administration.
        let parent = Proposal {
            source: DomainSource::SeedParent,
            may_be_shared: true,
            ..guess("amet.ee")
        };
        assert_eq!(rule_out(&c, "EE-1", &parent, &[]), None);
        assert_eq!(
            rule_out(&c, "EE-1", &guess("arva.ee"), &["arva.ee".to_string()]),
            Some(Rejection::Reviewed)
        );
        assert_eq!(
            rule_out(&c, "EE-1", &guess("gmail.com"), &[]),
            Some(Rejection::Consumer)
        );
        assert_eq!(rule_out(&c, "EE-1", &guess("arva.ee"), &[]), None);
    }

    fn pending(id: &str, survivors: &[(&str, NameMatch)]) -> Pending {
        let mut p = Pending {
            id: id.into(),
            country: "es",
            original: None,
            origin: DomainSource::None,
            tried: Vec::new(),
            survivors: Vec::new(),
            guesses: HashSet::new(),
        };
        for (domain, m) in survivors {
            let proposal = Proposal {
                name_match: *m,
                ..guess(domain)
            };
            p.survivors.push(Survivor {
                proposal: proposal.clone(),
                mx: "MX mx.x".into(),
                trial: p.tried.len(),
            });
            p.tried.push(trial(
                &proposal,
                TrialOutcome::RankedLower,
                "MX mx.x".into(),
            ));
        }
        p
    }

    #[test]
    fn namesakes_and_truncations_are_settled() {
        let mut all = vec![
            pending("ES-1", &[("pozuelo.es", NameMatch::Exact)]),
            pending(
                "ES-2",
                &[
                    ("pozuelo.es", NameMatch::Partial),
                    ("pozuelodearagon.es", NameMatch::Exact),
                ],
            ),
            pending("ES-3", &[("sama.es", NameMatch::Exact)]),
            pending("ES-4", &[("sama.es", NameMatch::Exact)]),
        ];
        settle_claims(&mut all);
        // The whole name wins over a truncation.
        assert_eq!(all[0].survivors.len(), 1);
        assert_eq!(all[1].survivors.len(), 1);
        assert_eq!(all[1].survivors[0].proposal.domain, "pozuelodearagon.es");
        assert!(all[1].tried[0].detail.contains("a better match for ES-1"));
        // Equal claims: nobody.
        assert!(all[2].survivors.is_empty() && all[3].survivors.is_empty());
        assert!(all[2].tried[0].detail.contains("also matches ES-4"));
        assert_eq!(all[3].tried[0].outcome, TrialOutcome::Rejected);
    }

    #[test]
    fn the_choice_prefers_evidence_then_rank() {
        let mut p = pending(
            "ES-1",
            &[
                ("abajas.com", NameMatch::Exact),
                ("abajas.es", NameMatch::Exact),
            ],
        );
        let web = Proposal {
            source: DomainSource::Website,
            name_match: NameMatch::Partial,
            ..guess("ayto-abajas.org")
        };
        p.survivors.push(Survivor {
            proposal: web.clone(),
            mx: "MX mx.y".into(),
            trial: p.tried.len(),
        });
        p.tried
            .push(trial(&web, TrialOutcome::RankedLower, "MX mx.y".into()));
        let mut stats = Stats::default();
        let (_, d) = choose(p, &mut stats);
        assert_eq!(d.source, DomainSource::Website);
        assert_eq!(
            d.domain.as_ref().unwrap().ascii.to_string(),
            "ayto-abajas.org"
        );
        assert_eq!(stats.found, 1);
        let p = pending(
            "ES-2",
            &[
                ("abajas.com", NameMatch::Exact),
                ("abajas.es", NameMatch::Exact),
            ],
        );
        let (_, d) = choose(p, &mut stats);
        assert_eq!(d.domain.as_ref().unwrap().ascii.to_string(), "abajas.es");
        assert!(d.is_guess_only());
        assert_eq!(d.tried[1].outcome, TrialOutcome::Chosen);
    }
}
