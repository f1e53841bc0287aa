//! The look-through signal groups of spec §5.2 for each candidate mailbox provider:
//! G1 DKIM (a selector aliased into the provider's namespace, or its TXT key at its own
//! selector), G2 autodiscover, G3 the one mailbox provider the depth-0 SPF includes
//! (sending-only services and weak includes never count), G4 a tenant token. Evidence
//! items are recorded as informational; their roles are settled once the verdict is known.

use std::collections::{BTreeMap, BTreeSet};

use super::Decision;
use super::item::{item, truncate_display};
use crate::classify::catalog::{Entry, Match, Role};
use crate::classify::flag::Flag;
use crate::classify::model::{EvidenceRole, Signal};
use crate::evidence::Answer;
use crate::name::DnsName;
use crate::scan::spf::{Mechanism, Term};

/// Look-through signal groups (spec §5.2), strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Group {
    /// DKIM selector CNAME into the provider's namespace (or its TXT key).
    G1Dkim,
    /// Autodiscover CNAME/SRV.
    G2Autodiscover,
    /// The only mailbox provider included by the depth-0 SPF.
    G3Spf,
    /// Verification token (MS=).
    G4Tenant,
}

impl Group {
    /// DKIM and autodiscover: evidence of where the mailboxes are, not who may send.
    pub(super) fn is_strong(self) -> bool {
        matches!(self, Group::G1Dkim | Group::G2Autodiscover)
    }
}

/// Everything the look-through found, per candidate provider.
#[derive(Default)]
pub(super) struct Backends<'c> {
    pub(super) groups: BTreeMap<String, (BTreeSet<Group>, &'c Entry)>,
    /// Distinct mailbox providers included at SPF depth 0 (non-weak).
    pub(super) spf_depth0_providers: BTreeSet<String>,
}

impl<'c> Backends<'c> {
    pub(super) fn add(&mut self, entry: &'c Entry, group: Group) {
        self.groups
            .entry(entry.id.clone())
            .or_insert_with(|| (BTreeSet::new(), entry))
            .0
            .insert(group);
    }

    pub(super) fn has(&self, id: &str, group: Group) -> bool {
        self.groups.get(id).is_some_and(|(g, _)| g.contains(&group))
    }

    /// The best candidate other than `exclude` per spec §5.2 (most groups, then the
    /// strongest group), or `Err(())` on a tie.
    #[allow(clippy::type_complexity)]
    pub(super) fn best(
        &self,
        exclude: Option<&str>,
    ) -> Result<Option<(&'c Entry, BTreeSet<Group>)>, ()> {
        let mut ranked: Vec<(&String, &(BTreeSet<Group>, &'c Entry))> = self
            .groups
            .iter()
            .filter(|(id, _)| Some(id.as_str()) != exclude)
            .collect();
        let key = |groups: &BTreeSet<Group>| {
            let strongest = groups.iter().next().copied().unwrap_or(Group::G4Tenant);
            (std::cmp::Reverse(groups.len()), strongest)
        };
        ranked.sort_by(|a, b| key(&a.1.0).cmp(&key(&b.1.0)).then(a.0.cmp(b.0)));
        match ranked.as_slice() {
            [] => Ok(None),
            [first, second, ..] if key(&first.1.0) == key(&second.1.0) => Err(()),
            [first, ..] => Ok(Some((first.1.1, first.1.0.clone()))),
        }
    }
}

/// Who may be a look-through candidate: mailbox providers by any group; ISPs, hosters
/// and public services only by DKIM/autodiscover patterns of their own.
fn candidate_ok(m: &Match<'_>, strong_group: bool) -> bool {
    match m.entry.primary_role() {
        Role::Provider => true,
        Role::Isp | Role::PublicShared => strong_group,
        _ => false,
    }
}

impl<'a, 'c> Decision<'a, 'c> {
    /// Collects G1–G4 and records their evidence.
    pub(super) fn collect_backends(&mut self) -> Backends<'c> {
        let mut backends = Backends::default();
        self.dkim_groups(&mut backends);
        self.autodiscover_groups(&mut backends);
        self.spf_groups(&mut backends);
        self.token_groups(&mut backends);
        backends
    }

    fn dkim_groups(&mut self, backends: &mut Backends<'c>) {
        let catalog = self.catalog;
        for probe in &self.scan.dkim {
            let query = format!("{} CNAME", probe.cname.name);
            for target in probe.cname.cname_targets() {
                let m = catalog.match_dkim(target);
                if let Some(m) = m.as_ref().filter(|m| !m.weak && candidate_ok(m, true)) {
                    backends.add(m.entry, Group::G1Dkim);
                }
                self.push(Signal::Dkim, &query, &target.to_string(), m.as_ref());
            }
            let Some(txt) = &probe.txt else { continue };
            let owner = catalog.dkim_txt_owner(&probe.selector);
            for record in txt.txt_records() {
                let lower = record.to_ascii_lowercase();
                if !(lower.contains("v=dkim1") || lower.contains("p=")) {
                    continue;
                }
                if let Some(owner) = owner {
                    backends.add(owner, Group::G1Dkim);
                }
                self.evidence.push(item(
                    Signal::Dkim,
                    &format!("{} TXT", txt.name),
                    &truncate_display(&record, 120),
                    owner.map(|o| format!("{}: DKIM key at selector {}", o.id, probe.selector)),
                    owner.map(|o| o.id.clone()),
                    EvidenceRole::Informational,
                ));
            }
        }
    }

    /// Targets of the autodiscover CNAME chain and SRV records, with their question.
    pub(super) fn autodiscover_targets(&self) -> Vec<(String, DnsName)> {
        let scan = self.scan;
        let mut targets: Vec<(String, DnsName)> = Vec::new();
        for (i, target) in scan.autodiscover.targets.iter().enumerate() {
            let from = match i {
                0 => scan.autodiscover.steps.first().map(|s| s.name.to_string()),
                _ => scan.autodiscover.targets.get(i - 1).map(|t| t.to_string()),
            };
            targets.push((
                format!("{} CNAME", from.unwrap_or_default()),
                target.clone(),
            ));
        }
        for answer in &scan.autodiscover_srv.answers {
            if let Answer::Srv { target, .. } = answer {
                targets.push((
                    format!("{} SRV", scan.autodiscover_srv.name),
                    target.clone(),
                ));
            }
        }
        targets
    }

    fn autodiscover_groups(&mut self, backends: &mut Backends<'c>) {
        for (query, target) in self.autodiscover_targets() {
            let m = self.catalog.match_autodiscover(&target);
            if let Some(m) = m.as_ref().filter(|m| !m.weak && candidate_ok(m, true)) {
                backends.add(m.entry, Group::G2Autodiscover);
            }
            let panel = if m.is_none() {
                self.catalog.match_panel(&target, &self.scan.domain)
            } else {
                None
            };
            match panel {
                Some(panel) => self.evidence.push(item(
                    Signal::Autodiscover,
                    &query,
                    &target.to_string(),
                    Some(format!("hosting control panel {}", panel.name)),
                    None,
                    EvidenceRole::Informational,
                )),
                None => self.push(
                    Signal::Autodiscover,
                    &query,
                    &target.to_string(),
                    m.as_ref(),
                ),
            }
        }
    }

    /// G3: include/redirect targets with the depth of the record naming them.
    fn spf_groups(&mut self, backends: &mut Backends<'c>) {
        let mut depth0: BTreeMap<String, &'c Entry> = BTreeMap::new();
        for node in &self.scan.spf.nodes {
            for term in &node.terms {
                let (target, is_redirect) = match term {
                    Term::Mechanism {
                        kind: Mechanism::Include,
                        argument: Some(arg),
                        ..
                    } => (arg.as_str(), false),
                    Term::Modifier { name, value } if name == "redirect" => (value.as_str(), true),
                    _ => continue,
                };
                let Some(target) = crate::scan::spf::target_domain(target) else {
                    continue;
                };
                let m = self.catalog.match_spf(&target);
                if let Some(m) = &m
                    && node.depth == 0
                    && !m.weak
                    && m.entry.primary_role() == Role::Provider
                {
                    depth0.insert(m.entry.id.clone(), m.entry);
                }
                let how = if is_redirect { "redirect=" } else { "include:" };
                self.push(
                    Signal::Spf,
                    &format!("{} TXT", node.domain),
                    &format!("{how}{target}"),
                    m.as_ref(),
                );
                if let Some(last) = self.evidence.last_mut() {
                    last.depth = Some(node.depth);
                }
            }
        }
        backends.spf_depth0_providers = depth0.keys().cloned().collect();
        if depth0.len() >= 2 {
            self.flag(Flag::MultiProviderSpf);
        }
        if let [(_, entry)] = depth0.into_iter().collect::<Vec<_>>().as_slice() {
            backends.add(entry, Group::G3Spf);
        }
    }

    /// G4: verification tokens of mailbox providers (weak tokens only inform).
    fn token_groups(&mut self, backends: &mut Backends<'c>) {
        let domain = self.scan.domain.to_string();
        for record in self.scan.txt.txt_records() {
            if crate::scan::spf::is_spf(&record) {
                continue;
            }
            let Some(m) = self.catalog.match_txt(&record) else {
                continue;
            };
            if !m.weak && m.entry.primary_role() == Role::Provider {
                backends.add(m.entry, Group::G4Tenant);
            }
            self.push(
                Signal::Txt,
                &format!("{domain} TXT"),
                &truncate_display(&record, 120),
                Some(&m),
            );
        }
    }

    fn push(&mut self, signal: Signal, query: &str, raw: &str, m: Option<&Match<'_>>) {
        self.evidence.push(item(
            signal,
            query,
            raw,
            m.map(Match::describe),
            m.map(|m| m.entry.id.clone()),
            EvidenceRole::Informational,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{EvidenceRole, Rule, Signal};

    fn behind_gateway() -> Scan {
        Scan::new("town.de").mx(10, "mx01.hornetsecurity.com", &[(12676, "DE")])
    }

    #[test]
    fn dkim_into_a_tenant_is_g1_and_names_the_tenant() {
        let v = decide(
            &behind_gateway()
                .dkim(
                    "selector1",
                    "selector1-town-de._domainkey.towntenant.onmicrosoft.com",
                )
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::GwDkim));
        assert_eq!(v.tenant.as_deref(), Some("towntenant.onmicrosoft.com"));
        let e = v
            .evidence
            .iter()
            .find(|e| e.signal == Signal::Dkim)
            .unwrap();
        assert_eq!(e.role, EvidenceRole::Decisive);
    }

    #[test]
    fn googles_txt_key_at_its_selector_is_g1() {
        let v = decide(
            &behind_gateway()
                .dkim_txt("google", "v=DKIM1; k=rsa; p=MIIBIjANBg")
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("google", Rule::GwDkim));
        // The same key at another selector names nobody.
        let v = decide(
            &behind_gateway()
                .dkim_txt("selector1", "v=DKIM1; k=rsa; p=MIIBIjANBg")
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
    }

    #[test]
    fn autodiscover_is_g2_and_googles_is_weak() {
        let v = decide(
            &behind_gateway()
                .autodiscover("autodiscover.outlook.com")
                .build(),
        );
        assert_eq!(
            (v.provider.as_str(), v.rule),
            ("microsoft", Rule::GwAutodiscover)
        );
        let v = decide(&behind_gateway().autodiscover_srv("google.com").build());
        assert_eq!(v.rule, Rule::GwUnknown);
    }

    #[test]
    fn spf_counts_only_one_mailbox_provider_at_depth_zero() {
        let v = decide(
            &behind_gateway()
                .txt("v=spf1 include:spf.protection.outlook.com -all")
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::GwSpf));
        // Two providers at depth 0: neither, and flagged.
        let v = decide(
            &behind_gateway()
                .txt("v=spf1 include:spf.protection.outlook.com include:_spf.google.com -all")
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
        assert!(flags(&v).contains(&"multi_provider_spf"));
        // Deeper includes inform only.
        let v = decide(
            &behind_gateway()
                .txt("v=spf1 include:spf.relay-x.de -all")
                .spf_node(
                    "spf.relay-x.de",
                    1,
                    "v=spf1 include:spf.protection.outlook.com -all",
                )
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
    }

    #[test]
    fn sending_only_services_and_ses_never_become_the_mailbox() {
        for spf in [
            "v=spf1 include:servers.mcsv.net -all",
            "v=spf1 include:sendgrid.net -all",
            "v=spf1 include:amazonses.com -all",
        ] {
            let v = decide(&behind_gateway().txt(spf).build());
            assert_eq!(v.rule, Rule::GwUnknown, "{spf}");
            assert_eq!(v.provider, "unknown", "{spf}");
        }
        // A sender beside the one mailbox provider does not split the vote.
        let v = decide(
            &behind_gateway()
                .txt("v=spf1 include:sendgrid.net include:spf.protection.outlook.com -all")
                .build(),
        );
        assert_eq!(v.rule, Rule::GwSpf);
    }

    #[test]
    fn tenant_tokens_are_g4_and_site_verification_is_not() {
        let v = decide(&behind_gateway().txt("MS=ms12345678").build());
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::GwTenant));
        let v = decide(&behind_gateway().txt("google-site-verification=abc").build());
        assert_eq!(v.rule, Rule::GwUnknown);
    }

    #[test]
    fn a_tie_between_candidates_is_a_conflict() {
        let v = decide(
            &behind_gateway()
                .dkim(
                    "selector1",
                    "selector1-town-de._domainkey.t.onmicrosoft.com",
                )
                .dkim("google", "google.domainkey.google.com")
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
        assert!(flags(&v).contains(&"lookthrough_conflict"));
    }
}
