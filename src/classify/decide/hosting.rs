//! The signs that an MX with the municipality's own name is a shared web-hosting package
//! rather than an own server (issue 16, pattern 2): autodiscover answered by a hosting
//! control panel (cPanel), autodiscover pointing at a hoster's own service, or every
//! address in a web hoster's network. "Self-hosted" needs none of them.

use super::Decision;
use crate::classify::catalog::{Entry, Panel};
use crate::scan::domain::HostScan;

/// What points to a hoster.
#[derive(Debug, Clone, Default)]
pub(super) struct HostingSigns<'c> {
    /// A control panel answers autodiscover.
    pub(super) panel: Option<&'c Panel>,
    /// A catalogued hoster answers autodiscover.
    pub(super) hoster_autodiscover: Option<&'c Entry>,
    /// Every address of the weighed hosts is in one catalogued hosting network.
    pub(super) hosting_network: Option<&'c Entry>,
}

impl<'c> HostingSigns<'c> {
    /// Any sign at all.
    pub(super) fn any(&self) -> bool {
        self.panel.is_some() || self.hoster_autodiscover.is_some() || self.hosting_network.is_some()
    }

    /// The hoster to name: the one autodiscover names, else the network's.
    pub(super) fn hoster(&self) -> Option<&'c Entry> {
        self.hoster_autodiscover.or(self.hosting_network)
    }

    /// The signs in words, for the reason.
    pub(super) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.panel {
            parts.push(format!(
                "autodiscover is answered by the {} control panel",
                p.name
            ));
        }
        if let Some(e) = self.hoster_autodiscover {
            parts.push(format!("autodiscover points to {}", e.name));
        }
        if let Some(e) = self.hosting_network {
            parts.push(format!("its addresses are in {}'s hosting network", e.name));
        }
        parts.join(", ")
    }
}

impl<'a, 'c> Decision<'a, 'c> {
    /// The hosting signs of the domain and its weighed hosts.
    pub(super) fn hosting_signs(&self, primary: &[&HostScan]) -> HostingSigns<'c> {
        let mut signs = HostingSigns::default();
        for (_, target) in self.autodiscover_targets() {
            if signs.panel.is_none() {
                signs.panel = self.catalog.match_panel(&target, &self.scan.domain);
            }
            if signs.hoster_autodiscover.is_none() {
                signs.hoster_autodiscover = self
                    .catalog
                    .match_autodiscover(&target)
                    .filter(|m| !m.weak && m.entry.hosting)
                    .map(|m| m.entry);
            }
        }
        let networks: Vec<&'c Entry> = primary
            .iter()
            .filter_map(|h| self.single_network(h))
            .collect();
        if networks.len() == primary.len()
            && let Some(first) = networks.first()
            && first.hosting
            && networks.iter().all(|e| e.id == first.id)
        {
            signs.hosting_network = Some(first);
        }
        signs
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{Category, Rule};

    #[test]
    fn a_cpanel_autodiscover_makes_an_own_mx_shared_hosting() {
        let v = decide(
            &Scan::new("town.es")
                .mx(10, "mail.town.es", &[(187456, "ES")])
                .autodiscover_srv("cpanelemaildiscovery.cpanel.net")
                .build(),
        );
        assert_eq!(v.rule, Rule::SharedHosting);
        assert_ne!(v.provider, "self-hosted");
        assert!(flags(&v).contains(&"hosting_panel"));
        assert!(v.reason.contains("cPanel"), "{}", v.reason);
    }

    #[test]
    fn every_cpanel_discovery_name_is_the_panel_and_an_own_autodiscover_is_not() {
        // The recorded world also has the variant without the leading "c".
        let v = decide(
            &Scan::new("comune.it")
                .mx(10, "mail.comune.it", &[(187456, "IT")])
                .autodiscover_srv("panelemaildiscovery.cpanel.net")
                .build(),
        );
        assert_eq!(v.rule, Rule::SharedHosting);
        assert!(flags(&v).contains(&"hosting_panel"));
        let own = decide(
            &Scan::new("comune.it")
                .mx(10, "mail.comune.it", &[(187456, "IT")])
                .autodiscover_srv("mail.comune.it")
                .build(),
        );
        assert_eq!(
            (own.provider.as_str(), own.rule),
            ("self-hosted", Rule::Own)
        );
        assert!(!flags(&own).contains(&"hosting_panel"));
        // cPanel's proxy name in the domain itself is the panel too.
        let proxy = decide(
            &Scan::new("comune.it")
                .mx(10, "mail.comune.it", &[(187456, "IT")])
                .autodiscover("cpanel.comune.it")
                .build(),
        );
        assert_eq!(proxy.rule, Rule::SharedHosting);
        assert!(flags(&proxy).contains(&"hosting_panel"));
    }

    #[test]
    fn a_hosting_network_names_the_hoster() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(24940, "DE")])
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("hetzner", Rule::SharedHosting)
        );
        assert_ne!(v.category, Category::Independent);
    }

    #[test]
    fn a_hosters_autodiscover_names_the_hoster() {
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
    }

    #[test]
    fn an_own_server_in_a_public_or_access_network_stays_self_hosted() {
        for asn in [50964, 3320] {
            let v = decide(
                &Scan::new("town.de")
                    .mx(10, "mail.town.de", &[(asn, "DE")])
                    .build(),
            );
            assert_eq!(
                (v.provider.as_str(), v.rule),
                ("self-hosted", Rule::Own),
                "AS{asn}"
            );
        }
    }

    #[test]
    fn dkim_into_a_tenant_beats_the_hosting_package() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(24940, "DE")])
                .dkim(
                    "selector1",
                    "selector1-town-de._domainkey.town.onmicrosoft.com",
                )
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::RelayBackend)
        );
    }
}
