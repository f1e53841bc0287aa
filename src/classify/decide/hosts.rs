//! Step C: who operates each MX host, first match wins —
//!
//! 1. a catalogued provider, gateway or public-shared name (C.1–C.3), then the same on
//!    the host's CNAME chain (C.4), then an ISP/hoster name (C.5);
//! 2. the municipality's own domain (C.6) — unless the alias points into another
//!    registered domain, whose operator then decides;
//! 3. an own-named host whose addresses all lie in a global mail platform's network is
//!    that platform's (C.7, rule `asn_infra`): nothing else names its operator;
//! 4. any other host is its registered domain's: a catalogued operator named by its
//!    validated certificate (C.8, `mx_cert`), else an uncatalogued third party. Its
//!    network never decides — it is reported as where the server stands.
//!
//! Only a host without a registered domain of its own (a bare public suffix) falls back
//! to its network (`asn_isp`/`asn_infra`).

use super::Decision;
use super::network::join_asns;
use crate::classify::catalog::{Entry, Match, Role};
use crate::classify::model::InboundKind;
use crate::name::DnsName;
use crate::name::org::registered_domain;
use crate::scan::domain::HostScan;

/// How a host was attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Via {
    /// By its own name.
    Name,
    /// By a name in its CNAME chain.
    Cname(DnsName),
    /// By the origin ASN of all its addresses.
    Asn,
    /// Own domain, or uncatalogued third party.
    Domain,
    /// By a name on its validated TLS certificate.
    Cert(DnsName),
    /// By the host name in its SMTP greeting or EHLO reply.
    Banner(DnsName),
}

/// Step C result for one MX host.
#[derive(Debug, Clone)]
pub(super) struct HostClass<'c> {
    pub(super) kind: InboundKind,
    /// Catalogue id, or registered domain (own / third party).
    pub(super) id: String,
    pub(super) entry: Option<&'c Entry>,
    pub(super) via: Via,
    pub(super) matched: Option<String>,
}

impl<'c> HostClass<'c> {
    fn of_match(m: &Match<'c>, via: Via) -> HostClass<'c> {
        let kind = match m.entry.primary_role() {
            // A certified-mail (PEC) host as the MX still names who holds the mail.
            Role::Provider | Role::Pec => InboundKind::Provider,
            Role::Gateway => InboundKind::Gateway,
            Role::PublicShared => InboundKind::PublicShared,
            _ => InboundKind::Isp,
        };
        HostClass {
            kind,
            id: m.entry.id.clone(),
            entry: Some(m.entry),
            via,
            matched: Some(m.describe()),
        }
    }

    fn of_network(entry: &'c Entry) -> HostClass<'c> {
        let kind = match entry.primary_role() {
            Role::Provider if entry.network_decides => InboundKind::Infra,
            Role::PublicShared => InboundKind::PublicShared,
            _ => InboundKind::Isp,
        };
        HostClass {
            kind,
            id: entry.id.clone(),
            entry: Some(entry),
            via: Via::Asn,
            matched: Some(format!(
                "{}: all addresses in AS {}",
                entry.id,
                join_asns(&entry.asns)
            )),
        }
    }

    fn unnamed(kind: InboundKind, id: String) -> HostClass<'c> {
        HostClass {
            kind,
            id,
            entry: None,
            via: Via::Domain,
            matched: None,
        }
    }

    /// Same operator (kind and id).
    pub(super) fn same_operator(&self, other: &HostClass<'_>) -> bool {
        self.kind == other.kind && self.id == other.id
    }
}

/// Registered domains of the uncatalogued third parties among the hosts, once each.
pub(super) fn third_parties(classes: &[(&HostScan, HostClass<'_>)]) -> Vec<String> {
    let mut out: Vec<String> = classes
        .iter()
        .filter(|(_, c)| c.kind == InboundKind::ThirdParty)
        .map(|(_, c)| c.id.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

impl<'a, 'c> Decision<'a, 'c> {
    /// Step C for every valid host, in the scan's order.
    pub(super) fn classify_hosts(
        &self,
        valid: &[&'a HostScan],
    ) -> Vec<(&'a HostScan, HostClass<'c>)> {
        let domain_org = registered_domain(&self.scan.domain);
        valid
            .iter()
            .map(|h| (*h, self.classify_host(h, domain_org.as_ref())))
            .collect()
    }

    fn classify_host(&self, host: &HostScan, domain_org: Option<&DnsName>) -> HostClass<'c> {
        let own_id = || domain_org.unwrap_or(&self.scan.domain).to_string();
        if let Some(class) = self.by_name(host) {
            // A dynamic-DNS or dial-up name is the customer's own machine.
            if class.entry.is_some_and(|e| e.customer_hosts) {
                return HostClass {
                    kind: InboundKind::Own,
                    id: own_id(),
                    entry: None,
                    matched: class.matched.map(|m| format!("customer host ({m})")),
                    via: class.via,
                };
            }
            return class;
        }
        let own = |name: &DnsName| {
            name.is_subdomain_of(&self.scan.domain)
                || registered_domain(name).is_some_and(|o| Some(&o) == domain_org)
        };
        // The name that identifies the operator: an own-named alias of a foreign host is
        // that host's.
        let operator_name = match host.chain.targets.last() {
            Some(target) if own(&host.host) && !own(target) => target,
            _ => &host.host,
        };
        if own(operator_name) {
            if let Some(entry) = self.single_network(host).filter(|e| e.network_decides) {
                return HostClass::of_network(entry);
            }
            return HostClass::unnamed(InboundKind::Own, own_id());
        }
        let Some(operator) = registered_domain(operator_name) else {
            // No registered domain names the operator: the network is all there is.
            return match self.single_network(host) {
                Some(entry) => HostClass::of_network(entry),
                None => HostClass::unnamed(InboundKind::ThirdParty, operator_name.to_string()),
            };
        };
        if let Some((m, name)) = self.certificate_identity(host) {
            return HostClass::of_match(&m, Via::Cert(name));
        }
        HostClass::unnamed(InboundKind::ThirdParty, operator.to_string())
    }

    /// C.1–C.5: the host's name or a name in its CNAME chain in the catalogue.
    /// Sending-only services never name an inbound operator.
    fn by_name(&self, host: &HostScan) -> Option<HostClass<'c>> {
        let catalog = self.catalog;
        let usable = |m: &Match<'c>| m.entry.primary_role() != Role::Sender;
        let strong = |m: &Match<'c>| {
            matches!(
                m.entry.primary_role(),
                Role::Provider | Role::Pec | Role::Gateway | Role::PublicShared
            )
        };
        let direct = catalog.match_mx(&host.host).filter(usable);
        let chain: Vec<(Match<'c>, &DnsName)> = host
            .chain
            .targets
            .iter()
            .filter_map(|t| catalog.match_mx(t).filter(usable).map(|m| (m, t)))
            .collect();
        if let Some(m) = direct.as_ref().filter(|m| strong(m)) {
            return Some(HostClass::of_match(m, Via::Name));
        }
        if let Some((m, t)) = chain.iter().find(|(m, _)| strong(m)) {
            return Some(HostClass::of_match(m, Via::Cname((*t).clone())));
        }
        if let Some(m) = &direct {
            return Some(HostClass::of_match(m, Via::Name));
        }
        chain
            .first()
            .map(|(m, t)| HostClass::of_match(m, Via::Cname((*t).clone())))
    }

    /// The one catalogue entry whose ASNs contain every address of `host`.
    pub(super) fn single_network(&self, host: &HostScan) -> Option<&'c Entry> {
        if host.addresses.is_empty() {
            return None;
        }
        let mut found: Option<&'c Entry> = None;
        for addr in &host.addresses {
            let origin = addr.origin.as_ref()?;
            let mut here: Option<&'c Entry> = None;
            for asn in &origin.asns {
                if let Some(m) = self.catalog.match_asn(*asn) {
                    if here.is_some_and(|e| e.id != m.entry.id) {
                        return None;
                    }
                    here = Some(m.entry);
                }
            }
            let here = here?;
            if found.is_some_and(|e| e.id != here.id) {
                return None;
            }
            found = Some(here);
        }
        // Gateways never get an ASN (shared networks), so only providers and networks remain.
        found.filter(|e| !matches!(e.primary_role(), Role::Gateway | Role::Sender | Role::Pec))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{Category, InboundKind, Rule};

    #[test]
    fn a_catalogued_name_decides_and_its_own_network_agrees() {
        // The hoster's own mail service on its own network still gets the hoster.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx00.ionos.de", &[(8560, "DE")])
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("ionos", Rule::Mx));
        assert_eq!(v.network, None, "the network only repeats the operator");
    }

    #[test]
    fn a_third_party_host_on_a_hosting_network_is_the_third_party() {
        // Pattern 1 of issue 16: the landlord is not the mail provider.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.kommunalportal-x.de", &[(24940, "DE")])
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        assert_eq!(v.provider, "third-party");
        assert_eq!(v.inbound.kind, InboundKind::ThirdParty);
        assert_eq!(v.inbound.id.as_deref(), Some("kommunalportal-x.de"));
        assert_eq!(
            v.network.as_deref(),
            Some("hetzner"),
            "where the server stands"
        );
        assert!(!v.flags.iter().any(|f| f.slug() == "asn_only"));
        assert_eq!(v.third_party_mx, ["kommunalportal-x.de"]);
    }

    #[test]
    fn an_operator_catalogued_from_the_world_decides_on_a_label_boundary() {
        // Issue 16 pattern 3: a shared MX domain gets an entry; a lookalike does not match.
        let v = decide(
            &Scan::new("town.hu")
                .mx(10, "smx1.spamzabalo.eu", &[(29278, "HU")])
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
        assert_eq!(v.gateway.as_deref(), Some("spamzabalo"));
        let v = decide(
            &Scan::new("town.hu")
                .mx(10, "smx1.notspamzabalo.eu", &[(29278, "HU")])
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        assert_eq!(v.third_party_mx, ["notspamzabalo.eu"]);
    }

    #[test]
    fn a_third_party_host_in_a_cloud_is_not_the_cloud() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx.forwarder-x.io", &[(16509, "DE")])
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        assert_eq!(v.network.as_deref(), Some("aws"));
        assert_ne!(v.category, Category::UsHyperscaler);
    }

    #[test]
    fn an_own_named_host_in_microsofts_network_is_microsofts() {
        // Microsoft's own MX still decides by its network: nothing else names it.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(8075, "US")])
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::AsnInfra));
        assert!(v.flags.iter().any(|f| f.slug() == "asn_only"));
        assert_eq!(v.category, Category::UsHyperscaler);
    }

    #[test]
    fn an_own_named_host_on_an_access_isp_is_self_hosted() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("self-hosted", Rule::Own));
        assert_eq!(v.network.as_deref(), Some("deutsche-telekom"));
    }

    #[test]
    fn an_own_alias_of_a_foreign_host_is_the_foreign_operator() {
        let v = decide(
            &Scan::new("town.de")
                .mx_alias(10, "mx.town.de", "town.dyn-x.org", &[(3320, "DE")])
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        assert_eq!(v.inbound.id.as_deref(), Some("dyn-x.org"));
    }

    #[test]
    fn aliases_into_a_catalogued_provider_decide_by_the_alias() {
        let v = decide(
            &Scan::new("town.de")
                .mx_alias(
                    10,
                    "mx.town.de",
                    "town-de.mail.protection.outlook.com",
                    &[(8075, "US")],
                )
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::MxCname));
    }

    #[test]
    fn a_dynamic_dns_name_is_the_customers_own_server() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "townhall.dyndns.org", &[(3320, "DE")])
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("self-hosted", Rule::Own));
        assert_eq!(v.inbound.id.as_deref(), Some("town.de"));
        assert_eq!(v.network.as_deref(), Some("deutsche-telekom"));
        let mx = v
            .evidence
            .iter()
            .find(|e| e.raw.ends_with("dyndns.org"))
            .unwrap();
        assert!(
            mx.matched
                .as_deref()
                .unwrap_or("")
                .contains("customer host"),
            "{mx:?}"
        );
        assert!(v.third_party_mx.is_empty());
    }

    #[test]
    fn sending_only_services_never_name_the_inbound_operator() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mxa.eu.mailgun.org", &[(396982, "US")])
                .build(),
        );
        assert_ne!(v.provider, "mailgun");
        assert_ne!(v.provider, "google");
        assert_ne!(v.inbound.kind, InboundKind::Provider);
    }
}
