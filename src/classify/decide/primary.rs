//! Step B: the MX hosts that are weighed. With real preferences (spec §3.1) these are
//! the most-preferred hosts that resolve; where the preferences are synthetic (the
//! recorded world lists MX hosts sorted by name, numbered 10, 20, 30 …) the
//! alphabetically first host must not decide alone, so every resolving host is weighed.

use super::Decision;
use crate::classify::flag::Flag;
use crate::scan::domain::HostScan;

impl<'a> Decision<'a, '_> {
    /// The weighed hosts among the valid ones (never empty when `valid` is not).
    pub(super) fn primary_set(
        &mut self,
        valid: &[&'a HostScan],
        trust_preferences: bool,
    ) -> Vec<&'a HostScan> {
        if valid.iter().any(|h| !h.chain.targets.is_empty()) {
            self.flag(Flag::MxIsCname);
        }
        let resolving: Vec<&'a HostScan> = valid.iter().copied().filter(|h| h.resolves()).collect();
        if resolving.is_empty() {
            self.flag(Flag::MxUnresolvable);
            return valid.to_vec();
        }
        if !trust_preferences {
            return resolving;
        }
        let best = resolving
            .iter()
            .map(|h| h.preference)
            .min()
            .unwrap_or_default();
        resolving
            .into_iter()
            .filter(|h| h.preference == best)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::Rule;

    fn two_operators() -> Scan {
        Scan::new("town.de")
            .mx(10, "mail.town.de", &[(3320, "DE")])
            .mx(20, "town-de.mail.protection.outlook.com", &[(8075, "US")])
    }

    #[test]
    fn real_preferences_decide_by_the_preferred_host() {
        let v = decide_with(&two_operators().build(), true);
        assert_eq!(v.provider, "self-hosted");
        assert!(v.flags.iter().any(|f| f.slug() == "mx_backup_other"));
        assert!(v.reason.contains("Backup MX"), "{}", v.reason);
    }

    #[test]
    fn synthetic_preferences_weigh_every_host() {
        let v = decide_with(&two_operators().build(), false);
        // One host each: the provider takes precedence over the own server.
        assert_eq!(v.provider, "microsoft");
        assert_eq!(v.rule, Rule::Mx);
        assert!(v.flags.iter().any(|f| f.slug() == "mx_split"));
        assert!(v.reason.contains("mail.town.de"), "{}", v.reason);
    }

    #[test]
    fn unresolvable_hosts_are_weighed_when_none_resolves() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx1.kvnbw.de", &[])
                .mx(20, "mx2.kvnbw.de", &[])
                .build(),
        );
        assert!(v.flags.iter().any(|f| f.slug() == "mx_unresolvable"));
        assert_eq!(v.provider, "komm-one");
    }
}
