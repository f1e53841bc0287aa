//! The classify stage: who handles a municipality's mail, by which rule, on which
//! evidence, with what confidence.
//!
//! - [`catalog`]: the provider/gateway/ISP signature table (`signatures.toml`, data);
//! - [`rules`]: base confidences, adjustments, caps (`rules.toml`, data);
//! - [`decide`]: the decision procedure over one domain's scan, one file per step;
//! - [`overrides`]: reviewed manual overrides;
//! - [`model`], [`flag`]: the verdict types and its flags;
//! - [`org`]: registered domains (Public Suffix List, ICANN section);
//! - [`seed_check`]: seed domains that cannot be mail domains;
//! - [`report`]: the run's rule counts and uncatalogued shared MX domains.
//!
//! The tables are passed down as [`Tables`]; nothing here reaches for the embedded
//! copies, so a test can swap either.

pub mod catalog;
pub mod decide;
pub mod flag;
pub mod model;
pub mod overrides;
pub mod report;
pub mod rules;
pub mod seed_check;
mod slug;

pub use decide::{Options, Tables};
pub use flag::{Flag, join_flags};
pub use model::*;

use overrides::{Kind, Mode, Overrides};

use crate::scan::domain::DomainScan;
use crate::scan::probe::SmtpProbe;
use crate::seeds::Municipality;

/// Classifies one municipality: its domain's scan (if it has a domain) plus overrides.
pub fn classify(
    municipality: &Municipality,
    scan: Option<&DomainScan>,
    probes: &[&SmtpProbe],
    overrides: &Overrides,
    tables: &Tables<'_>,
    options: &Options,
) -> Verdict {
    let cc = municipality.country.code;
    let hint = overrides
        .get(&municipality.id, Kind::BackendHint)
        .map(|o| o.value.as_str());
    let mut verdict = match scan {
        Some(scan) => decide::decide(scan, probes, cc, tables, options, hint),
        None => match &municipality.domain_problem {
            Some(problem) => decide::no_domain(
                &format!("The seed's domain cannot be used: {problem}."),
                Some(seed_check::evidence(municipality, problem)),
                tables.rules,
            ),
            None => decide::no_domain(
                "The seed list has no mail domain for this municipality.",
                None,
                tables.rules,
            ),
        },
    };
    apply_overrides(&mut verdict, municipality, overrides, tables);
    flag::normalise(&mut verdict.flags);
    verdict
}

/// Domain, status and provider overrides (spec §10.2), each shown as such.
fn apply_overrides(
    verdict: &mut Verdict,
    municipality: &Municipality,
    overrides: &Overrides,
    tables: &Tables<'_>,
) {
    let cc = municipality.country.code;
    if let Some(o) = overrides.get(&municipality.id, Kind::Domain) {
        verdict.flags.push(Flag::Override);
        verdict.override_note = Some(note(o));
    }
    if let Some(o) = overrides.get(&municipality.id, Kind::Status) {
        verdict.flags.extend(Flag::status(&o.value));
        verdict.reason = format!(
            "{} Status: {} ({}).",
            verdict.reason,
            o.value.replace('_', " "),
            o.reason
        );
        verdict.override_note = Some(note(o));
    }
    let Some(o) = overrides.get(&municipality.id, Kind::Provider) else {
        return;
    };
    let automatic_unknown = matches!(
        verdict.rule,
        Rule::GwUnknown | Rule::ThirdParty | Rule::NoMx | Rule::NoDomain | Rule::Nxdomain
    ) || verdict.provider == "unknown";
    let applies = o.mode == Mode::Force || automatic_unknown;
    let entry = tables.catalog.entry(&o.value).filter(|_| applies);
    let Some(entry) = entry else {
        verdict.flags.push(Flag::OverrideNotApplied);
        return;
    };
    if !automatic_unknown && verdict.provider != entry.id {
        verdict.flags.push(Flag::OverrideContradicted);
    }
    let automatic = format!("{} ({})", verdict.provider_name, verdict.rule);
    verdict.provider = entry.id.clone();
    verdict.provider_name = entry.name.clone();
    verdict.provider_country = Some(entry.hq.clone());
    verdict.category = decide::category_for(entry);
    verdict.jurisdiction = decide::jurisdiction_of(&entry.hq, cc);
    verdict.rule = Rule::Override;
    verdict.confidence = tables.rules.row(Rule::Override).base;
    verdict.band = tables.rules.bands.of(verdict.confidence);
    verdict.reason = format!(
        "Manual override: {} ({}; source: {}). The automatic verdict was {automatic}.",
        entry.name, o.reason, o.source
    );
    verdict.flags.push(Flag::Override);
    verdict.override_note = Some(note(o));
}

fn note(o: &overrides::Override) -> OverrideNote {
    OverrideNote {
        kind: match o.kind {
            Kind::Domain => "domain",
            Kind::Provider => "provider",
            Kind::BackendHint => "backend_hint",
            Kind::Status => "status",
            Kind::Website => "website",
            Kind::RejectDomain => "reject_domain",
        }
        .to_string(),
        value: o.value.clone(),
        reason: o.reason.clone(),
        source: o.source.clone(),
        reviewed: o.reviewed.clone(),
    }
}
