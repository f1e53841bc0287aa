//! The classify stage: who handles a municipality's mail, by which rule, on which
//! evidence, with what confidence.
//!
//! - [`catalog`]: the provider/gateway/ISP signature table (`signatures.toml`, data);
//! - [`rules`]: base confidences and adjustments (`rules.toml`, data);
//! - [`decide`]: the decision procedure over one domain's scan;
//! - [`overrides`]: reviewed manual overrides;
//! - [`model`]: the verdict types;
//! - [`org`]: registered domains (Public Suffix List, ICANN section).

pub mod catalog;
pub mod decide;
pub mod model;
pub mod org;
pub mod overrides;
pub mod rules;

pub use model::*;

use catalog::Catalog;
use decide::Options;
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
    catalog: &Catalog,
    options: &Options,
) -> Verdict {
    let cc = municipality.country.code;
    let hint = overrides
        .get(&municipality.id, Kind::BackendHint)
        .map(|o| o.value.as_str());
    let mut verdict = match scan {
        Some(scan) => decide::decide(scan, probes, cc, catalog, options, hint),
        None => decide::no_domain(&match &municipality.domain_problem {
            Some(problem) => format!("The seed's domain cannot be used: {problem}."),
            None => "The seed list has no mail domain for this municipality.".to_string(),
        }),
    };
    if let Some(o) = overrides.get(&municipality.id, Kind::Domain) {
        verdict.flags.push("override".into());
        verdict.override_note = Some(note(o));
    }
    if let Some(o) = overrides.get(&municipality.id, Kind::Status) {
        verdict.flags.push(format!("status_{}", o.value));
        verdict.reason = format!(
            "{} Status: {} ({}).",
            verdict.reason,
            o.value.replace('_', " "),
            o.reason
        );
        verdict.override_note = Some(note(o));
    }
    if let Some(o) = overrides.get(&municipality.id, Kind::Provider) {
        let automatic_unknown = matches!(
            verdict.rule,
            Rule::GwUnknown | Rule::ThirdParty | Rule::NoMx | Rule::NoDomain | Rule::Nxdomain
        ) || verdict.provider == "unknown";
        let applies = o.mode == Mode::Force || automatic_unknown;
        if applies && let Some(entry) = catalog.entry(&o.value) {
            let contradicted = !automatic_unknown && verdict.provider != entry.id;
            if contradicted {
                verdict.flags.push("override_contradicted".into());
            }
            let automatic = format!("{} ({})", verdict.provider_name, verdict.rule);
            verdict.provider = entry.id.clone();
            verdict.provider_name = entry.name.clone();
            verdict.provider_country = Some(entry.hq.clone());
            verdict.category = decide::category_for(entry);
            verdict.jurisdiction = decide::jurisdiction_of(&entry.hq, cc);
            verdict.rule = Rule::Override;
            verdict.confidence = rules::RuleBook::embedded().row(Rule::Override).base;
            verdict.reason = format!(
                "Manual override: {} ({}; source: {}). The automatic verdict was {automatic}.",
                entry.name, o.reason, o.source
            );
            verdict.flags.push("override".into());
            verdict.override_note = Some(note(o));
        } else {
            verdict.flags.push("override_not_applied".into());
        }
    }
    verdict.flags.sort();
    verdict.flags.dedup();
    verdict
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
