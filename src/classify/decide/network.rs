//! Where the weighed MX servers stand: their network (a catalogued ISP, hoster or
//! cloud, else the bare ASN) and the country of their addresses relative to the
//! municipality's (spec §7.1 G, site spec §5.3). Reported, never deciding.

use std::collections::BTreeMap;

use super::Decision;
use crate::classify::catalog::Entry;
use crate::classify::model::MxLocation;
use crate::scan::domain::HostScan;

/// The network and location of the weighed hosts.
#[derive(Debug, Clone)]
pub(super) struct Place<'c> {
    /// The one catalogued network of every address, or `AS<n>` when all addresses share
    /// one uncatalogued ASN.
    pub(super) network: Option<String>,
    /// The catalogued network entry, when there is one.
    pub(super) network_entry: Option<&'c Entry>,
    /// Display name of the network.
    pub(super) network_name: Option<String>,
    pub(super) mx_location: MxLocation,
    /// Most common foreign country of the addresses.
    pub(super) foreign_country: Option<String>,
}

impl<'c> Decision<'_, 'c> {
    pub(super) fn place(&self, primary: &[&HostScan]) -> Place<'c> {
        let mut entries: BTreeMap<String, &'c Entry> = BTreeMap::new();
        let mut asns: BTreeMap<u32, usize> = BTreeMap::new();
        let mut uncatalogued = false;
        for addr in primary.iter().flat_map(|h| h.addresses.iter()) {
            let Some(origin) = &addr.origin else {
                uncatalogued = true;
                continue;
            };
            match origin.asns.iter().find_map(|a| self.catalog.match_asn(*a)) {
                Some(m) => {
                    entries.insert(m.entry.id.clone(), m.entry);
                }
                None => uncatalogued = true,
            }
            if let Some(first) = origin.asns.first() {
                *asns.entry(*first).or_default() += 1;
            }
        }
        let (network, network_entry, network_name) = if entries.len() == 1 && !uncatalogued {
            let (id, entry) = entries
                .into_iter()
                .next()
                .map_or_else(|| (String::new(), None), |(id, e)| (id, Some(e)));
            (Some(id), entry, entry.map(|e| e.name.clone()))
        } else if entries.is_empty() && asns.len() == 1 {
            let asn = asns.keys().next().copied().unwrap_or_default();
            (Some(format!("AS{asn}")), None, Some(format!("AS {asn}")))
        } else {
            (None, None, None)
        };
        Place {
            network,
            network_entry,
            network_name,
            mx_location: self.mx_location(primary),
            foreign_country: self.foreign_country(primary),
        }
    }

    fn countries<'h>(&self, primary: &[&'h HostScan]) -> Vec<&'h str> {
        primary
            .iter()
            .flat_map(|h| h.addresses.iter())
            .filter_map(|a| a.origin.as_ref().and_then(|o| o.country.as_deref()))
            .collect()
    }

    fn mx_location(&self, primary: &[&HostScan]) -> MxLocation {
        let countries = self.countries(primary);
        if countries.is_empty() {
            return MxLocation::Unknown;
        }
        let domestic = countries.iter().filter(|c| **c == self.cc).count();
        match domestic {
            0 => MxLocation::Foreign,
            n if n == countries.len() => MxLocation::Domestic,
            _ => MxLocation::Mixed,
        }
    }

    fn foreign_country(&self, primary: &[&HostScan]) -> Option<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in self
            .countries(primary)
            .into_iter()
            .filter(|c| *c != self.cc)
        {
            *counts.entry(c).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.to_string())
    }
}

/// ASNs as `"1 2 3"`.
pub(super) fn join_asns(asns: &[u32]) -> String {
    asns.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{Jurisdiction, MxLocation};

    #[test]
    fn an_uncatalogued_network_is_named_by_its_asn() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.someone-x.de", &[(64000 + 123_456, "DE")])
                .build(),
        );
        assert_eq!(v.network.as_deref(), Some("AS187456"));
        assert_eq!(v.mx_location, MxLocation::Domestic);
        assert_eq!(v.jurisdiction, Jurisdiction::Domestic);
    }

    #[test]
    fn locations_are_domestic_foreign_or_mixed() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE"), (3320, "NL")])
                .build(),
        );
        assert_eq!(v.mx_location, MxLocation::Mixed);
        assert!(v.flags.iter().any(|f| f.slug() == "mx_mixed"));
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "AT")])
                .build(),
        );
        assert_eq!(v.mx_location, MxLocation::Foreign);
        assert_eq!(v.jurisdiction, Jurisdiction::EuEea);
        let v = decide(&Scan::new("town.de").mx(10, "mail.town.de", &[]).build());
        assert_eq!(v.mx_location, MxLocation::Unknown);
    }
}
