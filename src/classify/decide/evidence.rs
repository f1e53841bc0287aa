//! Evidence items: one per MX host (with the operator it was attributed to), its alias
//! chain and addresses, and the roles of the look-through evidence once the verdict is
//! known — decisive, corroborating, contradicting or informational.

use super::Decision;
use super::hosts::{HostClass, Via};
use super::item::item;
use super::mailbox::{Mailbox, Outcome};
use super::network::join_asns;
use crate::classify::catalog::Role;
use crate::classify::model::{EvidenceRole, InboundKind, Signal};
use crate::scan::domain::HostScan;

impl<'a, 'c> Decision<'a, 'c> {
    /// Evidence of every valid host: the deciding operator's hosts among the weighed
    /// ones are decisive, other weighed hosts corroborating, backups informational.
    pub(super) fn host_evidence(
        &mut self,
        classes: &[(&'a HostScan, HostClass<'c>)],
        primary: &[&'a HostScan],
        inbound: &HostClass<'c>,
    ) {
        for (host, class) in classes {
            let weighed = primary.iter().any(|p| p.host == host.host);
            let role = match (weighed, class.same_operator(inbound)) {
                (true, true) => EvidenceRole::Decisive,
                (true, false) => EvidenceRole::Corroborating,
                _ => EvidenceRole::Informational,
            };
            self.host_items(host, class, weighed, role);
        }
    }

    fn host_items(
        &mut self,
        host: &HostScan,
        class: &HostClass<'c>,
        weighed: bool,
        role: EvidenceRole,
    ) {
        let mx_query = format!("{} MX", self.scan.domain);
        let raw = format!("{} {}", host.preference, host.host);
        let provider = class.entry.map(|e| e.id.clone());
        // Replace the plain MX line of step A with the attributed one.
        self.evidence.retain(|e| {
            !(e.signal == Signal::Mx
                && e.raw == raw
                && e.matched.is_none()
                && e.role == EvidenceRole::Informational)
        });
        let secondary = if weighed {
            EvidenceRole::Corroborating
        } else {
            EvidenceRole::Informational
        };
        let (matched, mx_role) = match (&class.via, class.kind) {
            (_, InboundKind::Own) => (
                class
                    .matched
                    .clone()
                    .or_else(|| Some(format!("own domain {}", class.id))),
                role,
            ),
            (_, InboundKind::ThirdParty) => (Some(format!("third party {}", class.id)), role),
            (Via::Name, _) => (class.matched.clone(), role),
            _ => (None, secondary),
        };
        self.evidence.push(item(
            Signal::Mx,
            &mx_query,
            &raw,
            matched,
            provider.clone(),
            mx_role,
        ));
        for (i, target) in host.chain.targets.iter().enumerate() {
            let from = if i == 0 {
                &host.host
            } else {
                &host.chain.targets[i - 1]
            };
            let hit = matches!(&class.via, Via::Cname(t) if t == target);
            self.evidence.push(item(
                Signal::MxCname,
                &format!("{from} CNAME"),
                &target.to_string(),
                if hit { class.matched.clone() } else { None },
                if hit { provider.clone() } else { None },
                if hit {
                    role
                } else {
                    EvidenceRole::Informational
                },
            ));
        }
        self.address_items(host, class, weighed, role);
    }

    fn address_items(
        &mut self,
        host: &HostScan,
        class: &HostClass<'c>,
        weighed: bool,
        role: EvidenceRole,
    ) {
        for addr in &host.addresses {
            let query = format!("{} TXT", addr.lookup.name);
            let raw = match &addr.origin {
                Some(o) => format!(
                    "{} {} → AS{} {} {}",
                    host.host,
                    addr.ip,
                    join_asns(&o.asns),
                    o.country.as_deref().unwrap_or("??"),
                    o.prefix
                ),
                None => format!(
                    "{} {} → {}",
                    host.host,
                    addr.ip,
                    addr.lookup.outcome.label()
                ),
            };
            let network = addr
                .origin
                .as_ref()
                .and_then(|o| o.asns.iter().find_map(|a| self.catalog.match_asn(*a)));
            let consistent = network
                .is_some_and(|m| Some(m.entry.id.as_str()) == class.entry.map(|e| e.id.as_str()));
            let asn_role = if class.via == Via::Asn && role == EvidenceRole::Decisive {
                EvidenceRole::Decisive
            } else if consistent && weighed {
                EvidenceRole::Corroborating
            } else {
                EvidenceRole::Informational
            };
            self.evidence.push(item(
                Signal::MxAsn,
                &query,
                &raw,
                network.map(|m| m.describe()),
                network.map(|m| m.entry.id.clone()),
                asn_role,
            ));
        }
        if host.addresses.is_empty() {
            self.evidence.push(item(
                Signal::MxAsn,
                &format!("{} A", host.host),
                &format!("{} has no address ({})", host.host, host.a.outcome.label()),
                None,
                None,
                EvidenceRole::Informational,
            ));
        }
    }

    /// Roles of the DKIM/autodiscover/SPF/TXT items relative to the verdict.
    pub(super) fn settle_roles(&mut self, outcome: &Outcome<'c>, inbound: &HostClass<'c>) {
        let verdict = match outcome.mailbox {
            Mailbox::Entry(e) => Some(e.id.as_str()),
            _ => None,
        };
        let inbound = inbound.entry.map(|e| e.id.as_str());
        let hosting_decides = outcome.rule == crate::classify::model::Rule::SharedHosting;
        let decisive_signal = |s: Signal, matched: Option<&str>| match s {
            Signal::Dkim => outcome.accepted.contains(&super::backends::Group::G1Dkim),
            Signal::Autodiscover => {
                outcome
                    .accepted
                    .contains(&super::backends::Group::G2Autodiscover)
                    || (hosting_decides
                        && matched.is_some_and(|m| m.starts_with("hosting control panel")))
            }
            Signal::Spf => outcome.accepted.contains(&super::backends::Group::G3Spf),
            Signal::Txt => outcome.accepted.contains(&super::backends::Group::G4Tenant),
            _ => false,
        };
        let catalog = self.catalog;
        for e in &mut self.evidence {
            if !matches!(
                e.signal,
                Signal::Dkim | Signal::Autodiscover | Signal::Spf | Signal::Txt
            ) {
                continue;
            }
            let deep = e.signal == Signal::Spf && e.depth.unwrap_or(0) > 0;
            let p = e.provider.as_deref();
            let decisive = decisive_signal(e.signal, e.matched.as_deref())
                && !deep
                && (p == verdict || (p.is_none() && hosting_decides));
            e.role = if decisive {
                EvidenceRole::Decisive
            } else if p.is_some() && (p == verdict || p == inbound) && !deep {
                EvidenceRole::Corroborating
            } else if !deep
                && matches!(e.signal, Signal::Dkim | Signal::Autodiscover)
                && p.and_then(|p| catalog.entry(p))
                    .is_some_and(|x| x.primary_role() == Role::Provider)
            {
                EvidenceRole::Contradicting
            } else {
                EvidenceRole::Informational
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{EvidenceRole, Signal};

    #[test]
    fn every_host_has_attributed_mx_evidence_and_addresses() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx00.ionos.de", &[(8560, "DE")])
                .mx(20, "backup.relay-x.de", &[(3320, "DE")])
                .build(),
        );
        let mx: Vec<_> = v
            .evidence
            .iter()
            .filter(|e| e.signal == Signal::Mx)
            .collect();
        assert_eq!(mx.len(), 2);
        assert_eq!(mx[0].role, EvidenceRole::Decisive);
        assert_eq!(mx[0].matched.as_deref(), Some("ionos: suffix ionos.de"));
        let backup = mx.iter().find(|e| e.raw == "20 backup.relay-x.de").unwrap();
        assert_eq!(backup.matched.as_deref(), Some("third party relay-x.de"));
        assert_eq!(backup.role, EvidenceRole::Informational);
        let asn = v
            .evidence
            .iter()
            .find(|e| e.signal == Signal::MxAsn)
            .unwrap();
        assert!(asn.raw.contains("AS8560 DE"), "{}", asn.raw);
        assert_eq!(asn.role, EvidenceRole::Corroborating);
    }

    #[test]
    fn decisive_evidence_comes_first() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.hornetsecurity.com", &[(12676, "DE")])
                .txt("v=spf1 include:spf.protection.outlook.com -all")
                .build(),
        );
        assert_eq!(v.evidence[0].role, EvidenceRole::Decisive);
        let spf = v.evidence.iter().find(|e| e.signal == Signal::Spf).unwrap();
        assert_eq!(spf.role, EvidenceRole::Decisive);
        assert_eq!(spf.depth, Some(0));
    }
}
