//! Step E: the mailbox provider behind the inbound operator, the deciding rule and the
//! reason. Look-through thresholds (spec §5.2, tightened by issue 16):
//!
//! | inbound | accepts a backend *q* when |
//! |---|---|
//! | catalogued gateway | ≥ 1 group (SPF alone is capped at medium confidence) |
//! | own server, ISP/hoster, public service, third party | DKIM or autodiscover (G1/G2): the relay is then the gateway |
//! | regional provider, global platform's network | ≥ 2 groups including G1/G2 |
//! | global provider | never |
//!
//! SPF and tenant tokens alone never look through a relay; they only flag.

use std::collections::BTreeSet;

use super::Decision;
use super::backends::{Backends, Group};
use super::hosting::HostingSigns;
use super::hosts::{HostClass, Via};
use super::inbound::Weighed;
use super::network::Place;
use crate::classify::catalog::{Entry, Scope};
use crate::classify::flag::Flag;
use crate::classify::model::{InboundKind, MxLocation, Rule};

/// Who holds the mailboxes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mailbox<'c> {
    /// A catalogued operator.
    Entry(&'c Entry),
    /// The municipality's own server.
    SelfHosted,
    /// An uncatalogued third party (or hoster).
    ThirdParty,
    /// Not known (gateway without visible backend).
    Unknown,
}

/// The outcome of step E.
#[derive(Debug, Clone)]
pub(super) struct Outcome<'c> {
    pub(super) rule: Rule,
    pub(super) mailbox: Mailbox<'c>,
    pub(super) reason: String,
    /// The look-through groups that decided (empty when none did).
    pub(super) accepted: BTreeSet<Group>,
    /// The gateway or relay in front of the mailbox.
    pub(super) gateway: Option<String>,
    /// Display name for an uncatalogued third party or hoster.
    pub(super) third_party_name: Option<String>,
}

/// Acceptance threshold of a look-through candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threshold {
    /// ≥ 1 group.
    Gateway,
    /// DKIM or autodiscover.
    Relay,
    /// ≥ 2 groups including DKIM or autodiscover.
    Strict,
}

impl Threshold {
    fn of(inbound: &HostClass<'_>) -> Option<Threshold> {
        match inbound.kind {
            InboundKind::Gateway => Some(Threshold::Gateway),
            InboundKind::Provider if inbound.entry.is_some_and(|e| e.scope == Scope::Global) => {
                None
            }
            InboundKind::Provider | InboundKind::Infra => Some(Threshold::Strict),
            _ => Some(Threshold::Relay),
        }
    }

    fn accepts(self, groups: &BTreeSet<Group>) -> bool {
        let strong = groups.iter().any(|g| g.is_strong());
        match self {
            Threshold::Gateway => !groups.is_empty(),
            Threshold::Relay => strong,
            Threshold::Strict => strong && groups.len() >= 2,
        }
    }
}

/// DKIM, autodiscover, SPF and a tenant token, in words.
fn groups_text(groups: &BTreeSet<Group>) -> String {
    let parts: Vec<&str> = groups
        .iter()
        .map(|g| match g {
            Group::G1Dkim => "DKIM",
            Group::G2Autodiscover => "autodiscover",
            Group::G3Spf => "SPF",
            Group::G4Tenant => "a tenant verification token",
        })
        .collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl<'a, 'c> Decision<'a, 'c> {
    /// Step E.
    pub(super) fn mailbox(
        &mut self,
        weighed: &Weighed<'c>,
        backends: &Backends<'c>,
        hosting: &HostingSigns<'c>,
        place: &Place<'c>,
        backend_hint: Option<&str>,
    ) -> Outcome<'c> {
        let inbound = &weighed.inbound;
        let accepted = self.look_through(inbound, backends, backend_hint);
        let mut outcome = match inbound.kind {
            InboundKind::Provider => self.provider_outcome(weighed, backends, accepted),
            InboundKind::Gateway => self.gateway_outcome(weighed, accepted),
            InboundKind::Own => self.own_outcome(weighed, accepted, hosting, place),
            _ => self.relay_outcome(weighed, accepted),
        };
        if matches!(outcome.rule, Rule::RelayBackend) {
            // The relay in front of the mailbox provider acts as its gateway.
            outcome.gateway = Some(inbound.id.clone());
        }
        if inbound.via == Via::Asn {
            self.flag(Flag::AsnOnly);
        }
        outcome.reason.push_str(&weighed.operators_note);
        outcome
    }

    /// The accepted backend, flagging conflicts and evidence that did not suffice.
    fn look_through(
        &mut self,
        inbound: &HostClass<'c>,
        backends: &Backends<'c>,
        backend_hint: Option<&str>,
    ) -> Option<(&'c Entry, BTreeSet<Group>)> {
        let threshold = Threshold::of(inbound)?;
        let exclude = inbound.entry.map(|e| e.id.as_str());
        let (entry, groups) = match backends.best(exclude) {
            Err(()) => {
                self.flag(Flag::LookthroughConflict);
                return None;
            }
            Ok(None) => return None,
            Ok(Some(found)) => found,
        };
        let hinted = backend_hint == Some(entry.id.as_str());
        let threshold = if hinted {
            Threshold::Gateway
        } else {
            threshold
        };
        // A regional provider's MX only yields to a global provider (spec §7.1 E.2).
        let allowed = inbound.kind != InboundKind::Provider || entry.scope == Scope::Global;
        if allowed && threshold.accepts(&groups) {
            return Some((entry, groups));
        }
        if groups.iter().all(|g| *g == Group::G3Spf) {
            self.flag(Flag::CloudSendingAuthorised);
        } else {
            self.flag(Flag::CloudTenantWithoutCloudMx);
        }
        None
    }

    fn via_text(inbound: &HostClass<'_>) -> String {
        match &inbound.via {
            Via::Cname(t) => format!(" (via the alias {t})"),
            Via::Cert(n) => format!(" (its TLS certificate names {n})"),
            Via::Banner(n) => format!(" (its SMTP greeting names {n})"),
            _ => String::new(),
        }
    }

    fn provider_outcome(
        &mut self,
        weighed: &Weighed<'c>,
        backends: &Backends<'c>,
        accepted: Option<(&'c Entry, BTreeSet<Group>)>,
    ) -> Outcome<'c> {
        let inbound = &weighed.inbound;
        let name = inbound
            .entry
            .map_or(inbound.id.as_str(), |e| e.name.as_str());
        let hosts = &weighed.hosts_text;
        let rule = match inbound.via {
            Via::Cname(_) => Rule::MxCname,
            Via::Cert(_) => Rule::MxCert,
            Via::Banner(_) => Rule::MxBanner,
            _ => Rule::Mx,
        };
        let global = inbound.entry.is_some_and(|e| e.scope == Scope::Global);
        let exclude = inbound.entry.map(|e| e.id.as_str());
        // A global provider's MX is authoritative; other strong signals are conflicts.
        let conflict = global
            && backends.groups.iter().any(|(id, (g, _))| {
                Some(id.as_str()) != exclude && g.iter().any(|g| g.is_strong())
            });
        if conflict {
            self.flag(Flag::LookthroughConflict);
        }
        if let Some((q, groups)) = accepted {
            self.flag(Flag::Hybrid);
            return Outcome {
                rule: Rule::RelayBackend,
                mailbox: Mailbox::Entry(q),
                reason: format!(
                    "Mail arrives at {name} ({hosts}), but {} shows the mailboxes are at {}.",
                    groups_text(&groups),
                    q.name
                ),
                accepted: groups,
                gateway: None,
                third_party_name: None,
            };
        }
        Outcome {
            rule,
            mailbox: inbound.entry.map_or(Mailbox::Unknown, Mailbox::Entry),
            reason: format!(
                "The {} {hosts} is {name}'s mail service{}.",
                weighed.mx_word,
                Self::via_text(inbound)
            ),
            accepted: BTreeSet::new(),
            gateway: None,
            third_party_name: None,
        }
    }

    fn gateway_outcome(
        &mut self,
        weighed: &Weighed<'c>,
        accepted: Option<(&'c Entry, BTreeSet<Group>)>,
    ) -> Outcome<'c> {
        self.flag(Flag::Gateway);
        let inbound = &weighed.inbound;
        let name = inbound
            .entry
            .map_or(inbound.id.as_str(), |e| e.name.as_str());
        let hosts = &weighed.hosts_text;
        let gateway = Some(inbound.id.clone());
        match accepted {
            Some((q, groups)) => Outcome {
                rule: match groups.iter().next() {
                    Some(Group::G1Dkim) => Rule::GwDkim,
                    Some(Group::G2Autodiscover) => Rule::GwAutodiscover,
                    Some(Group::G3Spf) => Rule::GwSpf,
                    _ => Rule::GwTenant,
                },
                mailbox: Mailbox::Entry(q),
                reason: format!(
                    "Mail is filtered by the {name} gateway ({hosts}){}; {} shows the mailboxes are at {}.",
                    Self::via_text(inbound),
                    groups_text(&groups),
                    q.name
                ),
                accepted: groups,
                gateway,
                third_party_name: None,
            },
            None => Outcome {
                rule: Rule::GwUnknown,
                mailbox: Mailbox::Unknown,
                reason: format!(
                    "Mail is filtered by the {name} gateway ({hosts}){}; no DNS evidence shows the mailbox provider behind it.",
                    Self::via_text(inbound)
                ),
                accepted: BTreeSet::new(),
                gateway,
                third_party_name: None,
            },
        }
    }

    /// Public services, ISPs/hosters, global-platform networks and third parties.
    fn relay_outcome(
        &mut self,
        weighed: &Weighed<'c>,
        accepted: Option<(&'c Entry, BTreeSet<Group>)>,
    ) -> Outcome<'c> {
        let inbound = &weighed.inbound;
        let hosts = &weighed.hosts_text;
        let name = match inbound.kind {
            InboundKind::ThirdParty => format!("the third party {}", inbound.id),
            _ => inbound.entry.map_or(inbound.id.clone(), |e| e.name.clone()),
        };
        if let Some((q, groups)) = accepted {
            if matches!(inbound.kind, InboundKind::Isp | InboundKind::Infra) {
                self.flag(Flag::Hybrid);
            }
            return Outcome {
                rule: Rule::RelayBackend,
                mailbox: Mailbox::Entry(q),
                reason: format!(
                    "Mail arrives at {name} ({hosts}), which relays it: {} shows the mailboxes are at {}.",
                    groups_text(&groups),
                    q.name
                ),
                accepted: groups,
                gateway: None,
                third_party_name: None,
            };
        }
        let by_asn = inbound.via == Via::Asn;
        let (rule, reason) = match inbound.kind {
            InboundKind::Infra => (
                Rule::AsnInfra,
                format!(
                    "The MX {hosts} carries the municipality's own name, and all its addresses are in {name}'s network: its mail service or a server on its cloud."
                ),
            ),
            InboundKind::ThirdParty => {
                self.flag(Flag::UncataloguedThirdParty);
                (
                    Rule::ThirdParty,
                    format!(
                        "The MX {hosts} belongs to {}, a third party not in the catalogue; the mailbox provider is unknown.",
                        inbound.id
                    ),
                )
            }
            _ if by_asn => (
                Rule::AsnIsp,
                format!(
                    "The MX {hosts} has no registered domain of its own; all its addresses are in the network of {name}."
                ),
            ),
            InboundKind::PublicShared => (
                Rule::MxPublic,
                format!(
                    "The {} {hosts} is {name}'s mail service{}.",
                    weighed.mx_word,
                    Self::via_text(inbound)
                ),
            ),
            _ => (
                Rule::MxIsp,
                format!(
                    "The {} {hosts} is {name}'s mail service{}.",
                    weighed.mx_word,
                    Self::via_text(inbound)
                ),
            ),
        };
        let mailbox = match (inbound.kind, inbound.entry) {
            (InboundKind::ThirdParty, _) | (_, None) => Mailbox::ThirdParty,
            (_, Some(e)) => Mailbox::Entry(e),
        };
        Outcome {
            rule,
            mailbox,
            reason,
            accepted: BTreeSet::new(),
            gateway: None,
            third_party_name: (inbound.kind == InboundKind::ThirdParty)
                .then(|| format!("Uncatalogued third party ({})", inbound.id)),
        }
    }

    /// The municipality's own domain: a relay in front of a backend, a hosting package,
    /// or an own server.
    fn own_outcome(
        &mut self,
        weighed: &Weighed<'c>,
        accepted: Option<(&'c Entry, BTreeSet<Group>)>,
        hosting: &HostingSigns<'c>,
        place: &Place<'c>,
    ) -> Outcome<'c> {
        let hosts = &weighed.hosts_text;
        if hosting.panel.is_some() {
            self.flag(Flag::HostingPanel);
        }
        if let Some((q, groups)) = accepted.as_ref().filter(|(q, _)| !q.hosting) {
            self.flag(Flag::Hybrid);
            return Outcome {
                rule: Rule::RelayBackend,
                mailbox: Mailbox::Entry(q),
                reason: format!(
                    "Mail arrives at the municipality's own server ({hosts}), but {} shows the mailboxes are at {}.",
                    groups_text(groups),
                    q.name
                ),
                accepted: groups.clone(),
                gateway: None,
                third_party_name: None,
            };
        }
        if hosting.any() || accepted.is_some() {
            return self.hosting_outcome(weighed, accepted, hosting, place);
        }
        let net = place
            .network_name
            .as_ref()
            .map(|name| format!(", in the network of {name}"))
            .unwrap_or_default();
        Outcome {
            rule: if place.mx_location == MxLocation::Unknown {
                Rule::OwnUnlocated
            } else {
                Rule::Own
            },
            mailbox: Mailbox::SelfHosted,
            reason: format!(
                "The MX {hosts} is in the municipality's own domain: it runs its own mail server{net}."
            ),
            accepted: BTreeSet::new(),
            gateway: None,
            third_party_name: None,
        }
    }
}

impl<'c> Decision<'_, 'c> {
    /// An own-named MX that is a shared web-hosting package: the hoster named by
    /// autodiscover or the network, or an uncatalogued hoster.
    fn hosting_outcome(
        &mut self,
        weighed: &Weighed<'c>,
        accepted: Option<(&'c Entry, BTreeSet<Group>)>,
        hosting: &HostingSigns<'c>,
        place: &Place<'c>,
    ) -> Outcome<'c> {
        let hosts = &weighed.hosts_text;
        let by_autodiscover = accepted.as_ref().map(|(q, _)| *q);
        let hoster = by_autodiscover.or(hosting.hoster());
        let (mailbox, named, third_party_name) = match hoster {
            Some(h) => (Mailbox::Entry(h), h.name.clone(), None),
            None => {
                let net = place
                    .network_name
                    .as_deref()
                    .unwrap_or("an unknown network");
                let name = format!("Shared web hosting (uncatalogued hoster, {net})");
                (
                    Mailbox::ThirdParty,
                    "an uncatalogued hoster".to_string(),
                    Some(name),
                )
            }
        };
        let mut reason = format!(
            "The MX {hosts} carries the municipality's own name, but {}: a shared web-hosting package at {named}, not an own server.",
            hosting.describe_or_autodiscover(by_autodiscover)
        );
        // Autodiscover names one hoster, the addresses lie in another catalogued network.
        if let (Some(h), Some(net)) = (hoster, place.network_entry)
            && h.id != net.id
        {
            self.flag(Flag::LookthroughConflict);
            reason.push_str(&format!(
                " Its MX addresses are in the network of {}, not {}'s.",
                net.name, h.name
            ));
        }
        Outcome {
            rule: Rule::SharedHosting,
            mailbox,
            reason,
            accepted: accepted.map(|(_, g)| g).unwrap_or_default(),
            gateway: None,
            third_party_name,
        }
    }
}

impl HostingSigns<'_> {
    /// The signs in words, or the hoster's autodiscover when that was the only one.
    fn describe_or_autodiscover(&self, via_autodiscover: Option<&Entry>) -> String {
        let text = self.describe();
        match (text.is_empty(), via_autodiscover) {
            (true, Some(e)) => format!("autodiscover points to {}", e.name),
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{InboundKind, Rule};

    const TENANT_DKIM: &str = "selector1-town-de._domainkey.town.onmicrosoft.com";

    #[test]
    fn dkim_delegation_behind_an_own_relay_is_decisive() {
        // Pattern 4 of issue 16.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .dkim("selector1", TENANT_DKIM)
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
        assert_eq!(v.inbound.kind, InboundKind::Own);
        assert_eq!(
            v.gateway.as_deref(),
            Some("town.de"),
            "the relay is the gateway"
        );
        assert!(flags(&v).contains(&"hybrid"));
    }

    #[test]
    fn autodiscover_behind_an_isp_relay_is_decisive() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.nol-is.de", &[(24961, "DE")])
                .autodiscover("autodiscover.outlook.com")
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
        assert_eq!(v.gateway.as_deref(), Some("myloc"));
    }

    #[test]
    fn spf_and_a_token_do_not_look_through_a_relay() {
        // Pattern 5 of issue 16: SPF says who may send.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.relay-x.de", &[(3320, "DE")])
                .txt("v=spf1 include:spf.protection.outlook.com -all")
                .txt("MS=ms123456")
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        assert!(flags(&v).contains(&"cloud_tenant_without_cloud_mx"));
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .txt("v=spf1 include:spf.protection.outlook.com -all")
                .build(),
        );
        assert_eq!(v.rule, Rule::Own);
        assert!(flags(&v).contains(&"cloud_sending_authorised"));
    }

    #[test]
    fn a_catalogued_public_service_keeps_its_mail_without_strong_evidence() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.kvnbw.de", &[(50964, "DE")])
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("komm-one", Rule::MxPublic));
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.kvnbw.de", &[(50964, "DE")])
                .dkim("selector1", TENANT_DKIM)
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
        assert_eq!(v.gateway.as_deref(), Some("komm-one"));
        assert!(!flags(&v).contains(&"hybrid"));
    }

    #[test]
    fn a_global_providers_mx_is_never_looked_through() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "aspmx.l.google.com", &[(15169, "US")])
                .dkim("selector1", TENANT_DKIM)
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("google", Rule::Mx));
        assert!(flags(&v).contains(&"lookthrough_conflict"));
    }

    #[test]
    fn a_regional_provider_yields_only_to_two_groups() {
        let scan = Scan::new("town.de")
            .mx(10, "mx00.ionos.de", &[(8560, "DE")])
            .dkim("selector1", TENANT_DKIM);
        assert_eq!(decide(&scan.build()).rule, Rule::Mx);
        let scan = Scan::new("town.de")
            .mx(10, "mx00.ionos.de", &[(8560, "DE")])
            .dkim("selector1", TENANT_DKIM)
            .autodiscover("autodiscover.outlook.com");
        let v = decide(&scan.build());
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
    }

    #[test]
    fn a_hosters_autodiscover_against_another_network_is_a_conflict() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .autodiscover_srv("autoconfigure.strato.de")
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("strato", Rule::SharedHosting)
        );
        assert!(flags(&v).contains(&"lookthrough_conflict"));
        assert!(v.reason.contains("Deutsche Telekom"), "{}", v.reason);
        let agreeing = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(6724, "DE")])
                .autodiscover_srv("autoconfigure.strato.de")
                .build(),
        );
        assert!(!flags(&agreeing).contains(&"lookthrough_conflict"));
        assert!(agreeing.confidence > v.confidence);
    }

    #[test]
    fn a_backend_hint_lowers_the_threshold() {
        let scan = Scan::new("town.de")
            .mx(10, "mail.relay-x.de", &[(3320, "DE")])
            .txt("MS=ms123456")
            .build();
        assert_eq!(decide(&scan).rule, Rule::ThirdParty);
        let v = decide_in(&scan, true, "DE", Some("microsoft"));
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
    }
}
