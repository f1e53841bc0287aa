//! Step D: the inbound operator of the weighed hosts — the operator holding most of
//! them, ties by kind precedence (provider, gateway, public shared, ISP, network, own,
//! third party) and then id — and step F's banner rule (an own or uncatalogued MX whose
//! SMTP greeting comes from a global provider's server is that provider's). When the
//! MX hosts belong to several operators, every one is named in the reason and flagged:
//! `mx_split` among the weighed hosts, `mx_backup_other` for backups of another operator.

use super::Decision;
use super::hosts::{HostClass, Via};
use crate::classify::catalog::Scope;
use crate::classify::flag::Flag;
use crate::classify::model::InboundKind;
use crate::scan::domain::HostScan;

/// The outcome of step D.
#[derive(Debug, Clone)]
pub(super) struct Weighed<'c> {
    /// The deciding operator.
    pub(super) inbound: HostClass<'c>,
    /// Number of weighed hosts.
    pub(super) weighed: usize,
    /// The weighed hosts belong to several operators.
    pub(super) split: bool,
    /// What the reason says about other operators (empty when there are none).
    pub(super) operators_note: String,
    /// Names of the deciding operator's hosts, for reasons.
    pub(super) hosts_text: String,
    /// "preferred MX" where preferences are real, else "MX".
    pub(super) mx_word: &'static str,
}

/// Precedence of inbound kinds for ties (spec §7.1 D).
fn precedence(kind: InboundKind) -> u8 {
    match kind {
        InboundKind::Provider => 0,
        InboundKind::Gateway => 1,
        InboundKind::PublicShared => 2,
        InboundKind::Isp => 3,
        InboundKind::Infra => 4,
        InboundKind::Own => 5,
        InboundKind::ThirdParty => 6,
        InboundKind::None => 7,
    }
}

/// How an operator is named in a reason.
pub(super) fn operator_label(class: &HostClass<'_>) -> String {
    match (class.kind, class.entry) {
        (InboundKind::Own, _) => format!("the municipality's own server ({})", class.id),
        (InboundKind::ThirdParty, _) => format!("the third party {}", class.id),
        (_, Some(e)) => e.name.clone(),
        (_, None) => class.id.clone(),
    }
}

/// Up to three host names, then a count.
pub(super) fn hosts_text(hosts: &[&HostScan]) -> String {
    let names: Vec<String> = hosts.iter().take(3).map(|h| h.host.to_string()).collect();
    let more = hosts.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// Groups hosts by operator, in order of first appearance.
fn by_operator<'h, 'c>(
    classes: &[(&'h HostScan, HostClass<'c>)],
) -> Vec<(HostClass<'c>, Vec<&'h HostScan>)> {
    let mut groups: Vec<(HostClass<'c>, Vec<&'h HostScan>)> = Vec::new();
    for (host, class) in classes {
        match groups.iter_mut().find(|(c, _)| c.same_operator(class)) {
            Some((_, hosts)) => hosts.push(host),
            None => groups.push((class.clone(), vec![*host])),
        }
    }
    groups
}

fn list_operators(groups: &[(HostClass<'_>, Vec<&HostScan>)]) -> String {
    groups
        .iter()
        .map(|(c, hosts)| format!("{} ({})", operator_label(c), hosts_text(hosts)))
        .collect::<Vec<_>>()
        .join("; ")
}

impl<'a, 'c> Decision<'a, 'c> {
    /// Steps D and F over the classified hosts.
    pub(super) fn weigh(
        &mut self,
        classes: &[(&'a HostScan, HostClass<'c>)],
        primary: &[&'a HostScan],
        trust_preferences: bool,
    ) -> Weighed<'c> {
        let weighed: Vec<(&HostScan, HostClass<'c>)> = classes
            .iter()
            .filter(|(h, _)| primary.iter().any(|p| p.host == h.host))
            .cloned()
            .collect();
        let groups = by_operator(&weighed);
        // Most hosts first; ties by kind precedence, a global provider before a regional
        // one, then id.
        let chosen = groups
            .iter()
            .min_by_key(|(class, hosts)| {
                let regional = class.entry.is_none_or(|e| e.scope != Scope::Global);
                (
                    std::cmp::Reverse(hosts.len()),
                    precedence(class.kind),
                    regional,
                    class.id.clone(),
                )
            })
            .map(|(class, hosts)| (class.clone(), hosts.clone()));
        let Some((chosen, chosen_hosts)) = chosen else {
            // Unreachable: the weighed set is never empty past step A.
            return self.nobody(primary);
        };
        let split = groups.len() > 1;
        let mut operators_note = String::new();
        if split {
            self.flag(Flag::MxSplit);
            let why = if trust_preferences {
                "The preferred MX hosts belong to several operators"
            } else {
                "The MX hosts belong to several operators (the recorded MX preferences are \
                 synthetic, so every host is weighed)"
            };
            operators_note = format!(
                " {why}: {}. The verdict follows {}.",
                list_operators(&groups),
                operator_label(&chosen)
            );
        }
        let backups: Vec<(&HostScan, HostClass<'c>)> = classes
            .iter()
            .filter(|(h, c)| !primary.iter().any(|p| p.host == h.host) && !c.same_operator(&chosen))
            .cloned()
            .collect();
        if !backups.is_empty() {
            self.flag(Flag::MxBackupOther);
            operators_note.push_str(&format!(
                " Backup MX: {}.",
                list_operators(&by_operator(&backups))
            ));
        }
        let inbound = self.banner_reclass(chosen, &chosen_hosts);
        Weighed {
            inbound,
            weighed: weighed.len(),
            split,
            operators_note,
            hosts_text: hosts_text(&chosen_hosts),
            mx_word: if trust_preferences {
                "preferred MX"
            } else {
                "MX"
            },
        }
    }

    /// F: an own or uncatalogued MX whose SMTP greeting comes from a global provider's
    /// server is that provider's (a software string alone is not).
    fn banner_reclass(&self, chosen: HostClass<'c>, primary: &[&HostScan]) -> HostClass<'c> {
        if !matches!(chosen.kind, InboundKind::Own | InboundKind::ThirdParty) {
            return chosen;
        }
        let found = primary
            .iter()
            .find_map(|h| self.banner_identity(&h.host))
            .filter(|(m, _)| m.entry.scope == Scope::Global);
        match found {
            Some((m, name)) => HostClass {
                kind: InboundKind::Provider,
                id: m.entry.id.clone(),
                entry: Some(m.entry),
                via: Via::Banner(name),
                matched: Some(m.describe()),
            },
            None => chosen,
        }
    }

    fn nobody(&self, primary: &[&HostScan]) -> Weighed<'c> {
        Weighed {
            inbound: HostClass {
                kind: InboundKind::None,
                id: self.scan.domain.to_string(),
                entry: None,
                via: Via::Domain,
                matched: None,
            },
            weighed: 0,
            split: false,
            operators_note: String::new(),
            hosts_text: hosts_text(primary),
            mx_word: "MX",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{InboundKind, Rule};

    #[test]
    fn the_operator_of_most_hosts_decides() {
        let v = decide_with(
            &Scan::new("town.de")
                .mx(10, "a.town.de", &[(3320, "DE")])
                .mx(20, "mx01.kvnbw.de", &[(50964, "DE")])
                .mx(30, "mx02.kvnbw.de", &[(50964, "DE")])
                .build(),
            false,
        );
        assert_eq!(v.provider, "komm-one");
        assert!(flags(&v).contains(&"mx_split"));
        assert!(v.reason.contains("own server (town.de)"), "{}", v.reason);
        assert!(v.reason.contains("synthetic"), "{}", v.reason);
    }

    #[test]
    fn ties_go_to_the_kind_with_precedence() {
        // A gateway and an own server, one host each: the gateway filters.
        let v = decide_with(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .mx(20, "mx01.hornetsecurity.com", &[(12676, "DE")])
                .build(),
            false,
        );
        assert_eq!(v.inbound.kind, InboundKind::Gateway);
        assert_eq!(v.rule, Rule::GwUnknown);
        assert_eq!(v.gateway.as_deref(), Some("hornetsecurity"));
    }

    #[test]
    fn a_global_provider_wins_a_tie_with_a_regional_one() {
        let v = decide_with(
            &Scan::new("town.at")
                .mx(10, "town-at.mail.protection.outlook.com", &[(8075, "US")])
                .mx(20, "mxlb.ispgateway.de", &[(20773, "DE")])
                .build(),
            false,
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::Mx));
        assert!(flags(&v).contains(&"mx_split"));
        // The reason names the deciding operator's hosts only, then the others.
        assert!(
            v.reason
                .starts_with("The MX town-at.mail.protection.outlook.com is Microsoft"),
            "{}",
            v.reason
        );
        assert!(v.reason.contains("GoDaddy"), "{}", v.reason);
    }

    #[test]
    fn one_operator_is_not_split() {
        let v = decide_with(
            &Scan::new("town.de")
                .mx(10, "mx00.ionos.de", &[(8560, "DE")])
                .mx(20, "mx01.ionos.de", &[(8560, "DE")])
                .build(),
            false,
        );
        assert!(!flags(&v).contains(&"mx_split"));
        assert!(!v.reason.contains("several operators"));
    }

    #[test]
    fn a_global_providers_banner_claims_an_own_mx() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .probe("mail.town.de", Some("x.mail.protection.outlook.com"), None)
                .build(),
        );
        assert_eq!((v.provider.as_str(), v.rule), ("microsoft", Rule::MxBanner));
        // A regional provider's banner does not.
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .probe("mail.town.de", Some("mx00.ionos.de"), None)
                .build(),
        );
        assert_eq!(v.provider, "self-hosted");
    }
}
