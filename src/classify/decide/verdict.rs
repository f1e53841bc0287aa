//! Step G: the verdict's provider, category and jurisdiction. A catalogued provider
//! carries its seat; an own server, a third party or an uncatalogued hoster take the
//! location of the MX addresses (spec §7.1 G).

use super::Decision;
use super::inbound::Weighed;
use super::mailbox::{Mailbox, Outcome};
use super::network::Place;
use crate::classify::catalog::{Entry, Role};
use crate::classify::flag::Flag;
use crate::classify::model::{
    Band, Category, Inbound, InboundKind, Jurisdiction, MxLocation, Rule, Verdict,
};
use crate::classify::rules::RuleBook;
use crate::countries;

/// A verdict of no provider (hard stops, no domain).
pub(super) fn unknown(rule: Rule, reason: String, rules: &RuleBook) -> Verdict {
    let confidence = rules.row(rule).base;
    Verdict {
        provider: "unknown".into(),
        provider_name: "Unknown".into(),
        provider_country: None,
        category: Category::Unknown,
        jurisdiction: Jurisdiction::Unknown,
        inbound: Inbound {
            kind: InboundKind::None,
            id: None,
        },
        gateway: None,
        network: None,
        mx_location: MxLocation::Unknown,
        confidence,
        band: rules.bands.of(confidence),
        rule,
        reason,
        evidence: Vec::new(),
        flags: Vec::new(),
        tenant: None,
        override_note: None,
        third_party_mx: Vec::new(),
    }
}

/// Category of a catalogue entry used as the headline provider: the table's own
/// category when it names one (the US hyperscalers), else by role and seat.
pub fn category_for(entry: &Entry) -> Category {
    if let Some(category) = entry.category {
        return category;
    }
    match entry.primary_role() {
        Role::Isp => Category::LocalIsp,
        _ if countries::is_eu_eea(&entry.hq)
            || countries::is_europe_other(&entry.hq)
            || entry.hq == "CH" =>
        {
            Category::EuropeanProvider
        }
        _ => Category::OtherProvider,
    }
}

/// Jurisdiction bucket of a seat country relative to the municipality's country.
pub fn jurisdiction_of(hq: &str, cc: &str) -> Jurisdiction {
    let hq = hq.to_ascii_uppercase();
    // `ZZ` marks a seat the catalogue does not know.
    if hq == "ZZ" || hq.is_empty() {
        Jurisdiction::Unknown
    } else if hq == cc.to_ascii_uppercase() {
        Jurisdiction::Domestic
    } else if hq == "US" {
        Jurisdiction::Us
    } else if countries::is_eu_eea(&hq) {
        Jurisdiction::EuEea
    } else if countries::is_europe_other(&hq) {
        Jurisdiction::EuropeOther
    } else {
        Jurisdiction::OtherForeign
    }
}

impl<'a, 'c> Decision<'a, 'c> {
    /// The verdict without its confidence (step H fills it).
    pub(super) fn assemble(
        &mut self,
        weighed: &Weighed<'c>,
        outcome: &Outcome<'c>,
        place: &Place<'c>,
    ) -> Verdict {
        let inbound = &weighed.inbound;
        let (provider, provider_name, provider_country, category, jurisdiction) =
            match outcome.mailbox {
                Mailbox::Entry(entry) => (
                    entry.id.clone(),
                    entry.name.clone(),
                    Some(entry.hq.clone()),
                    category_for(entry),
                    jurisdiction_of(&entry.hq, self.cc),
                ),
                Mailbox::SelfHosted => (
                    "self-hosted".to_string(),
                    "Self-hosted (own mail server)".to_string(),
                    None,
                    Category::Independent,
                    self.located_jurisdiction(place),
                ),
                Mailbox::ThirdParty => (
                    "third-party".to_string(),
                    outcome
                        .third_party_name
                        .clone()
                        .unwrap_or_else(|| format!("Uncatalogued third party ({})", inbound.id)),
                    None,
                    Category::Independent,
                    self.located_jurisdiction(place),
                ),
                Mailbox::Unknown => (
                    "unknown".to_string(),
                    "Unknown".to_string(),
                    None,
                    Category::Unknown,
                    Jurisdiction::Unknown,
                ),
            };
        Verdict {
            provider,
            provider_name,
            provider_country,
            category,
            jurisdiction,
            inbound: Inbound {
                kind: inbound.kind,
                id: Some(inbound.id.clone()),
            },
            gateway: outcome.gateway.clone(),
            network: self.reported_network(outcome, inbound.entry, place),
            mx_location: place.mx_location,
            confidence: 0,
            band: Band::None,
            rule: outcome.rule,
            reason: outcome.reason.clone(),
            evidence: Vec::new(),
            flags: Vec::new(),
            tenant: self.tenant(),
            override_note: None,
            third_party_mx: Vec::new(),
        }
    }

    /// Own servers, third parties and uncatalogued hosters take the MX location.
    fn located_jurisdiction(&mut self, place: &Place<'c>) -> Jurisdiction {
        match place.mx_location {
            MxLocation::Domestic => Jurisdiction::Domestic,
            MxLocation::Mixed => {
                self.flag(Flag::MxMixed);
                Jurisdiction::Domestic
            }
            MxLocation::Foreign => place
                .foreign_country
                .as_deref()
                .map_or(Jurisdiction::Unknown, |c| jurisdiction_of(c, self.cc)),
            MxLocation::Unknown => Jurisdiction::Unknown,
        }
    }

    /// Where the servers stand, when that is not the operator itself: a catalogued
    /// network other than the verdict's and the inbound operator's; for own servers,
    /// hosting packages and third parties also a bare ASN.
    fn reported_network(
        &self,
        outcome: &Outcome<'c>,
        inbound: Option<&'c Entry>,
        place: &Place<'c>,
    ) -> Option<String> {
        let network = place.network.clone()?;
        let mailbox = match outcome.mailbox {
            Mailbox::Entry(e) => Some(e.id.as_str()),
            _ => None,
        };
        match place.network_entry {
            Some(net) => {
                let repeats = Some(net.id.as_str()) == mailbox
                    || Some(net.id.as_str()) == inbound.map(|e| e.id.as_str());
                (!repeats).then_some(network)
            }
            None => matches!(
                outcome.rule,
                Rule::Own | Rule::OwnUnlocated | Rule::SharedHosting | Rule::ThirdParty
            )
            .then_some(network),
        }
    }

    /// The customer tenant a DKIM selector names (`<name>.onmicrosoft.com`).
    fn tenant(&self) -> Option<String> {
        self.scan
            .dkim
            .iter()
            .flat_map(|p| p.cname.cname_targets())
            .find_map(|t| self.catalog.tenant_of(t))
            .map(|(tenant, _)| tenant.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::classify::catalog::Catalog;

    #[test]
    fn categories_come_from_the_table_and_the_seat() {
        let c = Catalog::embedded();
        let cat = |id: &str| category_for(c.entry(id).unwrap());
        assert_eq!(cat("microsoft"), Category::UsHyperscaler);
        assert_eq!(cat("google"), Category::UsHyperscaler);
        assert_eq!(cat("aws"), Category::UsHyperscaler);
        assert_eq!(cat("zoho"), Category::OtherProvider);
        assert_eq!(cat("ionos"), Category::EuropeanProvider);
        assert_eq!(cat("deutsche-telekom"), Category::LocalIsp);
    }

    #[test]
    fn jurisdictions_relative_to_the_municipality() {
        assert_eq!(jurisdiction_of("DE", "de"), Jurisdiction::Domestic);
        assert_eq!(jurisdiction_of("US", "DE"), Jurisdiction::Us);
        assert_eq!(jurisdiction_of("AT", "DE"), Jurisdiction::EuEea);
        assert_eq!(jurisdiction_of("CH", "DE"), Jurisdiction::EuropeOther);
        assert_eq!(jurisdiction_of("IN", "DE"), Jurisdiction::OtherForeign);
        assert_eq!(jurisdiction_of("ZZ", "DE"), Jurisdiction::Unknown);
    }

    #[test]
    fn a_provider_verdict_carries_the_providers_seat() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "x.mail.protection.outlook.com", &[(8075, "US")])
                .build(),
        );
        assert_eq!(v.jurisdiction, Jurisdiction::Us);
        assert_eq!(v.provider_country.as_deref(), Some("US"));
        assert_eq!(v.inbound.kind, InboundKind::Provider);
        assert_eq!(v.network, None);
    }
}
