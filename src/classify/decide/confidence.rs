//! Step H: confidence (spec §8.7) — the rule's base, each evidence adjustment at most
//! once (for adjustable rules), then the caps of the rule book: a mailbox provider that
//! rests on SPF alone is at most medium.

use super::Decision;
use super::backends::{Backends, Group};
use super::hosts::Via;
use super::inbound::Weighed;
use super::mailbox::Outcome;
use crate::classify::flag::Flag;
use crate::classify::model::{EvidenceRole, Signal, Verdict};
use crate::name::DnsName;
use crate::scan::domain::HostScan;
use crate::scan::spf::{Mechanism, Term};

impl<'a, 'c> Decision<'a, 'c> {
    /// The verdict's confidence, 0–100.
    pub(super) fn confidence(
        &self,
        verdict: &Verdict,
        weighed: &Weighed<'c>,
        backends: &Backends<'c>,
        outcome: &Outcome<'c>,
        primary: &[&HostScan],
    ) -> u8 {
        let row = self.rules.row(verdict.rule);
        let mut confidence = i16::from(row.base);
        if row.adjustable {
            confidence += self.adjustments(verdict, weighed, backends, outcome, primary);
        }
        let mut confidence = confidence.clamp(0, 100) as u8;
        let spf_alone =
            !outcome.accepted.is_empty() && outcome.accepted.iter().all(|g| *g == Group::G3Spf);
        if spf_alone {
            confidence = confidence.min(self.rules.caps.spf_only);
        }
        confidence
    }

    /// Depth-0 SPF authorises the verdict: for an own server its `mx`, `a` or the host
    /// names; else an include of the verdict's provider or the inbound operator.
    fn spf_authorises(
        &self,
        verdict: &Verdict,
        weighed: &Weighed<'c>,
        primary: &[&HostScan],
    ) -> bool {
        if verdict.provider == "self-hosted" {
            let hosts: Vec<&DnsName> = primary.iter().map(|h| &h.host).collect();
            return self.scan.spf.depth0_terms().any(|t| match t {
                Term::Mechanism {
                    kind: Mechanism::Mx | Mechanism::A,
                    argument: None,
                    ..
                } => true,
                Term::Mechanism {
                    kind: Mechanism::A,
                    argument: Some(arg),
                    ..
                } => crate::scan::spf::target_domain(arg).is_some_and(|d| hosts.contains(&&d)),
                _ => false,
            });
        }
        let ids = [
            Some(verdict.provider.as_str()),
            weighed.inbound.entry.map(|e| e.id.as_str()),
        ];
        self.evidence.iter().any(|e| {
            e.signal == Signal::Spf
                && e.depth == Some(0)
                && e.provider.is_some()
                && ids.contains(&e.provider.as_deref())
        })
    }

    fn adjustments(
        &self,
        verdict: &Verdict,
        weighed: &Weighed<'c>,
        backends: &Backends<'c>,
        outcome: &Outcome<'c>,
        primary: &[&HostScan],
    ) -> i16 {
        let adjust = &self.rules.adjust;
        let provider = verdict.provider.as_str();
        let decisive = &outcome.accepted;
        let inbound = &weighed.inbound;
        let mut delta = 0;
        let mut add = |applies: bool, by: i16| {
            if applies {
                delta += by;
            }
        };
        add(
            self.spf_authorises(verdict, weighed, primary) && !decisive.contains(&Group::G3Spf),
            adjust.spf_authorises,
        );
        for (group, by) in [
            (Group::G1Dkim, adjust.dkim_consistent),
            (Group::G2Autodiscover, adjust.autodiscover_consistent),
            (Group::G4Tenant, adjust.tenant_consistent),
        ] {
            add(
                backends.has(provider, group) && !decisive.contains(&group),
                by,
            );
        }
        let asn_consistent = inbound.via != Via::Asn
            && inbound.entry.is_some_and(|entry| {
                primary.iter().flat_map(|h| h.addresses.iter()).any(|a| {
                    a.origin
                        .as_ref()
                        .is_some_and(|o| o.asns.iter().any(|asn| entry.asns.contains(asn)))
                })
            });
        add(asn_consistent, adjust.asn_consistent);
        let smtp_consistent = self.evidence.iter().any(|e| {
            matches!(e.signal, Signal::Banner | Signal::Cert)
                && e.role == EvidenceRole::Corroborating
        });
        add(smtp_consistent, adjust.banner_consistent);
        add(self.has_flag(Flag::VpsSuspect), adjust.vps_suspect);
        add(
            weighed.weighed >= 2 && !weighed.split,
            adjust.all_primary_agree,
        );
        add(
            backends.spf_depth0_providers.len() >= 2,
            adjust.spf_multi_provider,
        );
        let contradicting = self
            .evidence
            .iter()
            .any(|e| e.role == EvidenceRole::Contradicting);
        add(contradicting, adjust.contradicting_signal);
        add(weighed.split, adjust.mx_split);
        add(
            self.has_flag(Flag::LookthroughConflict),
            adjust.lookthrough_conflict,
        );
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::Rule;
    use crate::classify::rules::RuleBook;

    #[test]
    fn spf_authorising_the_provider_adds_to_the_base() {
        let base = RuleBook::embedded().row(Rule::Mx).base;
        let scan = Scan::new("town.de").mx(10, "x.mail.protection.outlook.com", &[(8075, "US")]);
        let plain = decide(&scan.build());
        // +2: the MX address is in the provider's network.
        assert_eq!(plain.confidence, base + 2);
        let scan = Scan::new("town.de")
            .mx(10, "x.mail.protection.outlook.com", &[(8075, "US")])
            .txt("v=spf1 include:spf.protection.outlook.com -all")
            .txt("MS=ms1234");
        let v = decide(&scan.build());
        assert_eq!(v.confidence, base + 2 + 10 + 2);
        assert_eq!(v.band(), "high");
    }

    #[test]
    fn spf_alone_behind_a_gateway_is_at_most_medium() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.hornetsecurity.com", &[(12676, "DE")])
                .mx(20, "mx02.hornetsecurity.com", &[(12676, "DE")])
                .txt("v=spf1 include:spf.protection.outlook.com -all")
                .build(),
        );
        assert_eq!(v.rule, Rule::GwSpf);
        assert!(v.confidence <= RuleBook::embedded().caps.spf_only);
        assert_ne!(v.band(), "high");
    }

    #[test]
    fn hard_stops_and_gateways_without_backend_are_not_adjusted() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx01.hornetsecurity.com", &[(12676, "DE")])
                .mx(20, "mx02.hornetsecurity.com", &[(12676, "DE")])
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
        assert_eq!(v.confidence, RuleBook::embedded().row(Rule::GwUnknown).base);
    }

    #[test]
    fn a_split_costs_confidence() {
        let split = decide_with(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .mx(20, "x.mail.protection.outlook.com", &[(8075, "US")])
                .build(),
            false,
        );
        let whole = decide(
            &Scan::new("town.de")
                .mx(10, "x.mail.protection.outlook.com", &[(8075, "US")])
                .build(),
        );
        assert_eq!(split.confidence + 15, whole.confidence);
    }
}
