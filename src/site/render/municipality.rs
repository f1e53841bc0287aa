//! The municipality page: facts, verdict, security card, evidence, shared lookups,
//! nearby municipalities, history.

use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;
use rayon::prelude::*;

use super::super::filters;
use super::super::map::Maps;
use super::super::model::{Meta, Record, SiteModel, pct};
use super::super::places::{Places, distance2};
use super::super::shared_dns::SharedDns;
use super::json_ld;
use crate::classify::rules::RuleBook;
use crate::site::text::format_time;

/// An evidence row.
pub struct EvidenceRow<'a> {
    /// Role slug.
    pub role: &'static str,
    /// Signal label.
    pub signal: &'static str,
    /// SPF depth.
    pub depth: Option<u8>,
    /// Query.
    pub query: &'a str,
    /// Raw value.
    pub raw: &'a str,
    /// Catalogue match.
    pub matched: Option<&'a str>,
}

/// An observation row.
pub struct ObservationRow {
    /// Type.
    pub rtype: &'static str,
    /// Name.
    pub name: String,
    /// Outcome label.
    pub outcome: String,
    /// Answers.
    pub answers: Vec<String>,
    /// Lookup failed.
    pub failed: bool,
}

/// What a page's DNS lookups found, compactly: lookups that returned records or failed
/// as table rows; names that have no such record (NXDOMAIN, no data), the bulk of the
/// probes, as one line per outcome; the times as one span. Every lookup stays on the
/// page; the repetition of a per-row time and an empty answer cell goes (issue 14).
#[derive(Default)]
pub struct Observations {
    /// Lookups with answers, and failed ones.
    pub rows: Vec<ObservationRow>,
    /// Per negative outcome ("NXDOMAIN", "no data"): the lookups as "TYPE name".
    pub negatives: Vec<(String, Vec<String>)>,
    /// First and last lookup time (UTC text), when there was any.
    pub span: Option<(String, String)>,
}

impl Observations {
    fn new<'o>(all: impl Iterator<Item = &'o crate::evidence::Observation>) -> Observations {
        use crate::evidence::Outcome;
        let mut out = Observations::default();
        let mut negatives: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let (mut first, mut last) = (None::<i64>, None::<i64>);
        for o in all {
            first = Some(first.map_or(o.at, |t| t.min(o.at)));
            last = Some(last.map_or(o.at, |t| t.max(o.at)));
            if o.answers.is_empty() && matches!(o.outcome, Outcome::NxDomain | Outcome::NoData) {
                negatives
                    .entry(o.outcome.label().to_string())
                    .or_default()
                    .push(format!("{} {}", o.rtype.as_str(), o.name));
                continue;
            }
            out.rows.push(ObservationRow {
                rtype: o.rtype.as_str(),
                name: o.name.to_string(),
                outcome: o.outcome.label().to_string(),
                answers: o.answers.iter().map(|a| a.presentation()).collect(),
                failed: o.failed(),
            });
        }
        out.negatives = negatives.into_iter().collect();
        out.span = first
            .zip(last)
            .map(|(a, b)| (format_time(a), format_time(b)));
        out
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.negatives.is_empty()
    }
}

/// An SPF tree row.
pub struct SpfRow {
    /// Domain.
    pub domain: String,
    /// Depth.
    pub depth: u8,
    /// Via.
    pub via: &'static str,
    /// Record or outcome.
    pub record: String,
    /// Link to the record on the shared lookups page, when it is printed there.
    pub shared: Option<String>,
}

#[derive(Template)]
#[template(path = "municipality.html")]
struct MunicipalityPage<'a> {
    root: &'a str,
    nearby: Option<Nearby<'a>>,
    path: String,
    meta: &'a Meta,
    r: &'a Record,
    v: &'a crate::classify::Verdict,
    country_name: &'static str,
    country_href: String,
    domain: String,
    domain_ascii: String,
    status: &'static str,
    scanned_at: String,
    category_label: &'static str,
    jurisdiction_label: &'static str,
    mx_location_label: &'static str,
    band: &'static str,
    rule_explains: &'a str,
    flags: String,
    evidence: Vec<EvidenceRow<'a>>,
    spf: Vec<SpfRow>,
    spf_summary: String,
    observations: Observations,
    /// Lookups printed once on the shared page: (label, link).
    shared: Vec<(String, String)>,
    locator: Option<&'a str>,
    sec: Option<crate::site::security::SecurityView>,
    grade: &'static str,
    /// A grade was measured (titles carry a grade only then).
    graded: bool,
    /// Slug of the provider's page under `p/`, when it has one.
    provider_slug: Option<String>,
    report_url: String,
    jsonld: String,
    timeline: Vec<(&'a str, &'static str, &'a str, &'a str)>,
    first_run: &'a str,
}

/// Neighbours on a municipality page: the nearest in the same region by the centres of
/// their boundaries (alphabetically around it when it has no boundary), with the
/// region's domestic share as the comparison.
pub struct Nearby<'a> {
    /// Region name.
    pub region: &'a str,
    /// Link to the region page.
    pub region_href: String,
    /// "12.5 % domestic (3 of 24 classified)".
    pub domestic: String,
    /// Ordered by distance between boundary centres (else by name).
    pub by_distance: bool,
    /// Neighbours: link, name, category slug, grade letter, grade class.
    pub rows: Vec<(String, &'a str, &'static str, &'static str, &'static str)>,
}

/// How many neighbours a municipality page lists.
const NEARBY: usize = 8;

fn nearby<'a>(
    model: &'a SiteModel,
    r: &Record,
    region: &'a crate::site::map::RegionStat,
    places: &Places,
) -> Nearby<'a> {
    let centre = |rec: &Record| {
        places
            .get(rec.country.code, rec.osm_relation_id)
            .and_then(|p| p.centre)
    };
    let others: Vec<usize> = region
        .records
        .iter()
        .copied()
        .filter(|&i| model.records[i].id != r.id)
        .collect();
    // Nearest by the distance between boundary centres when this municipality has a
    // boundary; else (no boundary to measure from) the names around it in the region.
    let (picked, by_distance): (Vec<usize>, bool) = match centre(r) {
        Some(here) => {
            let mut with: Vec<(f64, usize)> = others
                .iter()
                .filter_map(|&i| centre(&model.records[i]).map(|c| (distance2(here, c), i)))
                .collect();
            with.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut picked: Vec<usize> = with.into_iter().take(NEARBY).map(|(_, i)| i).collect();
            // Too few with a boundary: the others of the region follow by name.
            for &i in &others {
                if picked.len() >= NEARBY {
                    break;
                }
                if !picked.contains(&i) {
                    picked.push(i);
                }
            }
            (picked, true)
        }
        None => {
            let at = others.partition_point(|&i| model.records[i].name < r.name);
            let start = at
                .saturating_sub(NEARBY / 2)
                .min(others.len().saturating_sub(NEARBY));
            (
                others[start..(start + NEARBY).min(others.len())].to_vec(),
                false,
            )
        }
    };
    let rows = picked
        .iter()
        .map(|&i| {
            let n = &model.records[i];
            let grade = n.grade();
            (
                format!("../{}/", n.slug),
                n.name.as_str(),
                n.verdict.category.slug(),
                grade.as_str(),
                crate::site::text::letter_class(grade),
            )
        })
        .collect();
    Nearby {
        by_distance,
        region: &region.name,
        region_href: format!("../../{}/", region.slug),
        domestic: format!(
            "{:.1} % domestic ({} of {} classified)",
            pct(region.domestic, region.classified),
            region.domestic,
            region.classified
        ),
        rows,
    }
}

/// Structured data of a municipality page: the organisation with its verdict and
/// grade, and the breadcrumb trail Europe › country › region › municipality.
fn municipality_json_ld(
    model: &SiteModel,
    r: &Record,
    region: Option<&crate::site::map::RegionStat>,
) -> serde_json::Value {
    let v = &r.verdict;
    let base = &model.meta.site_url;
    let mut crumbs = vec![
        ("Europe".to_string(), base.to_string()),
        (
            r.country.name.to_string(),
            format!("{base}{}/", r.country.code),
        ),
    ];
    if let Some(g) = region {
        crumbs.push((
            g.name.clone(),
            format!("{base}{}/{}/", r.country.code, g.slug),
        ));
    }
    crumbs.push((r.name.clone(), format!("{base}{}", r.page)));
    serde_json::json!({
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "GovernmentOrganization",
                "name": r.name,
                "identifier": r.id,
                "url": r.domain.as_ref().map(|d| format!("https://{}", d.unicode)),
                "address": {
                    "@type": "PostalAddress",
                    "addressLocality": r.name,
                    "addressRegion": r.region,
                    "addressCountry": r.country.code.to_uppercase(),
                },
                "additionalProperty": [
                    {"@type": "PropertyValue", "name": "mail provider", "value": v.provider_name},
                    {"@type": "PropertyValue", "name": "jurisdiction", "value": v.jurisdiction.slug()},
                    {"@type": "PropertyValue", "name": "security grade", "value": r.grade().as_str()},
                    {"@type": "PropertyValue", "name": "confidence", "value": v.confidence},
                ],
            },
            {
                "@type": "BreadcrumbList",
                "itemListElement": crumbs
                    .iter()
                    .enumerate()
                    .map(|(i, (name, url))| serde_json::json!({
                        "@type": "ListItem",
                        "position": i + 1,
                        "name": name,
                        "item": url,
                    }))
                    .collect::<Vec<_>>(),
            },
        ],
    })
}

/// Renders one municipality page.
pub fn municipality(
    model: &SiteModel,
    r: &Record,
    locator: Option<&str>,
    region: Option<&crate::site::map::RegionStat>,
    shared_dns: &SharedDns,
    places: &Places,
) -> Result<String> {
    let root = "../../../";
    let mut shared = Vec::new();
    let v = &r.verdict;
    let book = RuleBook::embedded();
    // An item the classifier recorded twice (the same banner name from the greeting and
    // from EHLO) is one row.
    let mut seen = std::collections::HashSet::new();
    let evidence = v
        .evidence
        .iter()
        .filter(|e| seen.insert((e.role, e.signal, e.depth, &e.query, &e.raw, &e.matched)))
        .map(|e| EvidenceRow {
            role: e.role.slug(),
            signal: e.signal.label(),
            depth: e.depth,
            query: &e.query,
            raw: &e.raw,
            matched: e.matched.as_deref(),
        })
        .collect();
    let (spf, spf_summary, observations) = match &r.scan {
        Some(scan) => {
            let spf = scan
                .spf
                .nodes
                .iter()
                .map(|n| SpfRow {
                    domain: n.domain.to_string(),
                    depth: n.depth,
                    via: match n.via {
                        crate::scan::spf::Via::Root => "domain",
                        crate::scan::spf::Via::Include => "include",
                        crate::scan::spf::Via::Redirect => "redirect",
                    },
                    shared: shared_dns
                        .spf(n)
                        .map(|s| format!("{root}dns/{}/#{}", s.folder, s.anchor)),
                    record: crate::site::shared_dns::spf_text(n),
                })
                .collect();
            let flags: Vec<String> = scan
                .spf
                .flags
                .iter()
                .filter_map(|f| {
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .collect();
            let summary = format!(
                "{} DNS-querying terms (limit 10), {} void lookups, final qualifier {}{}.",
                scan.spf.lookups,
                scan.spf.void_lookups,
                scan.spf
                    .all
                    .map(|q| format!("{}all", q.symbol()))
                    .unwrap_or_else(|| "none".into()),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("; findings: {}", flags.join(", "))
                }
            );
            let observations = Observations::new(scan.observations().into_iter().filter(|o| {
                match shared_dns.lookup(o) {
                    Some(s) => {
                        shared.push((
                            format!("{} {}", s.name, s.rtype),
                            format!("{root}dns/{}/#{}", s.folder, s.anchor),
                        ));
                        false
                    }
                    None => true,
                }
            }));
            (spf, summary, observations)
        }
        None => (Vec::new(), String::new(), Observations::default()),
    };
    MunicipalityPage {
        root,
        shared,
        nearby: region.map(|g| nearby(model, r, g, places)),
        path: r.page.clone(),
        meta: &model.meta,
        r,
        v,
        country_name: r.country.name,
        country_href: format!("{}/", r.country.code),
        domain: r
            .domain
            .as_ref()
            .map(|d| d.unicode.clone())
            .unwrap_or_else(|| match &r.domain_problem {
                Some(p) => format!("none usable ({p})"),
                None => "none known".into(),
            }),
        domain_ascii: r
            .domain
            .as_ref()
            .map(|d| d.ascii.to_string())
            .unwrap_or_default(),
        status: r.status.slug(),
        scanned_at: r
            .scanned_at
            .map(format_time)
            .unwrap_or_else(|| "never".into()),
        category_label: v.category.label(),
        jurisdiction_label: v.jurisdiction.label(),
        mx_location_label: v.mx_location.label(),
        band: v.band(),
        rule_explains: &book.row(v.rule).explains,
        flags: crate::classify::join_flags(&v.flags, ", "),
        evidence,
        spf,
        spf_summary,
        observations,
        locator,
        sec: r
            .security
            .as_deref()
            .map(|s| crate::site::security::security_view(s, &crate::site::security::mx_hosts(r))),
        grade: r.grade().as_str(),
        graded: r.grade().is_measured(),
        provider_slug: crate::site::text::provider_page_slug(&v.provider),
        report_url: crate::site::text::report_link(&model.meta, r),
        timeline: crate::site::changes::timeline(model, &r.id),
        first_run: model
            .history
            .first_run()
            .map(|run| run.generated.as_str())
            .unwrap_or(model.meta.generated.as_str()),
        jsonld: json_ld(&municipality_json_ld(model, r, region)),
    }
    .render()
    .with_context(|| format!("rendering the page of {}", r.id))
}

/// Renders and writes every municipality page under `dir` in parallel; returns
/// (pages, bytes).
pub fn write_municipality_pages(
    model: &SiteModel,
    maps: &Maps,
    dir: &Path,
    shared: &SharedDns,
    places: &Places,
) -> Result<(usize, u64)> {
    let locators: std::collections::HashMap<usize, &str> = maps
        .countries
        .iter()
        .flat_map(|m| m.locators.iter().map(|(i, s)| (*i, s.as_str())))
        .collect();
    let region_of: std::collections::HashMap<usize, &crate::site::map::RegionStat> = maps
        .countries
        .iter()
        .flat_map(|m| &m.regions)
        .flat_map(|region| region.records.iter().map(move |&i| (i, region)))
        .collect();
    let results: Vec<Result<u64>> = model
        .records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            // The bulk of the site: askama's whitespace minimisation already makes these
            // compact, and a minify-html pass (3.6 s of a 9 s render for 7 % fewer bytes)
            // is reserved for the few large pages.
            let bytes = municipality(
                model,
                r,
                locators.get(&i).copied(),
                region_of.get(&i).copied(),
                shared,
                places,
            )?
            .into_bytes();
            crate::site::write::write_page(dir, &r.page, &bytes)?;
            Ok(bytes.len() as u64)
        })
        .collect();
    let mut total = 0;
    for r in &results {
        match r {
            Ok(n) => total += n,
            Err(e) => return Err(anyhow::anyhow!("{e:#}")),
        }
    }
    Ok((results.len(), total))
}
