//! SPF state (security spec §7) from the scan's evaluated tree.

use serde::{Deserialize, Serialize};

use crate::evidence::Observation;
use crate::scan::spf::{Qualifier, SpfEvaluation, SpfFlag};

/// What the SPF policy of a domain amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpfState {
    /// No `v=spf1` record.
    None,
    /// Permanent error: several records, more than 10 lookups, a loop, a syntax error,
    /// or an `include:` of a domain without SPF.
    Invalid,
    /// Ends in `-all`.
    Strict,
    /// Ends in `~all`.
    Soft,
    /// Ends in `?all`, or has no `all` at all.
    Neutral,
    /// Ends in `+all` or `all`: any sender passes.
    PassAll,
    /// The TXT lookup at the domain failed: not measured.
    Error,
}

impl SpfState {
    /// Label for pages.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfState::None => "none",
            SpfState::Invalid => "invalid",
            SpfState::Strict => "strict",
            SpfState::Soft => "soft",
            SpfState::Neutral => "neutral",
            SpfState::PassAll => "pass_all",
            SpfState::Error => "error",
        }
    }
}

/// The SPF check of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfCheck {
    /// State.
    pub state: SpfState,
    /// The record (the first, when several).
    pub record: Option<String>,
    /// Qualifier of the effective `all` (`-`, `~`, `?`, `+`).
    pub all: Option<char>,
    /// DNS-querying terms counted.
    pub lookups: u32,
    /// Lookups that returned nothing.
    pub void_lookups: u32,
    /// Why the record is invalid or unmeasured.
    pub errors: Vec<String>,
    /// Findings that do not change the state (void lookups, incomplete tree).
    pub warnings: Vec<String>,
}

/// Evaluates the scan's SPF tree; `txt` is the TXT lookup at the domain.
pub fn check(eval: &SpfEvaluation, txt: &Observation) -> SpfCheck {
    let mut check = SpfCheck {
        state: SpfState::None,
        record: eval.records.first().cloned(),
        all: eval.all.map(Qualifier::symbol),
        lookups: eval.lookups,
        void_lookups: eval.void_lookups,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    if !eval.present() {
        if txt.failed() {
            check.state = SpfState::Error;
            check.errors.push(format!(
                "TXT lookup at {} failed ({})",
                txt.name,
                txt.outcome.label()
            ));
        }
        return check;
    }
    for flag in &eval.flags {
        match flag {
            SpfFlag::SpfMultiple => check.errors.push(format!(
                "{} SPF records published (exactly one is allowed)",
                eval.records.len()
            )),
            SpfFlag::SpfLookupLimit => check.errors.push(
                "more than 10 DNS-querying terms (include, a, mx, ptr, exists, redirect)".into(),
            ),
            SpfFlag::SpfLoop => check.errors.push("include/redirect loop".into()),
            SpfFlag::SpfSyntax => check.errors.push(
                "syntax error (unknown term, or terms separated by other than ASCII spaces)".into(),
            ),
            SpfFlag::SpfIncludeWithoutRecord => check
                .errors
                .push("an include: or redirect= target publishes no SPF record".into()),
            SpfFlag::SpfVoidLimit => check.warnings.push(format!(
                "{} void lookups (more than 2; strict receivers return permerror)",
                eval.void_lookups
            )),
            SpfFlag::SpfLookupFailed => check
                .warnings
                .push("a lookup in the include tree failed; the tree is incomplete".into()),
        }
    }
    check.state = if !check.errors.is_empty() {
        SpfState::Invalid
    } else {
        match eval.all {
            Some(Qualifier::Fail) => SpfState::Strict,
            Some(Qualifier::SoftFail) => SpfState::Soft,
            Some(Qualifier::Neutral) | None => SpfState::Neutral,
            Some(Qualifier::Pass) => SpfState::PassAll,
        }
    };
    check
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evidence::{Answer, Outcome, RType};
    use crate::name::DnsName;
    use crate::scan::spf::{self, Mechanism, SpfNode, Term, Via};

    /// A TXT observation at `name`.
    pub(crate) fn txt(name: &str, outcome: Outcome, records: &[&str]) -> Observation {
        Observation {
            name: DnsName::parse(name).unwrap(),
            rtype: RType::Txt,
            outcome,
            answers: records
                .iter()
                .map(|r| Answer::Txt(vec![r.to_string()]))
                .collect(),
            at: 0,
            authenticated: false,
        }
    }

    /// A one-node evaluation of `records` as the scan would produce it (no includes
    /// followed).
    pub(crate) fn evaluation(records: &[&str]) -> SpfEvaluation {
        let mut eval = SpfEvaluation::default();
        let mut spf: Vec<String> = records
            .iter()
            .filter(|r| spf::is_spf(r))
            .map(|r| r.to_string())
            .collect();
        spf.sort();
        eval.records = spf.clone();
        if spf.len() > 1 {
            eval.flags.push(SpfFlag::SpfMultiple);
        }
        if let Some(root) = spf.first() {
            let terms = spf::parse(root);
            for t in &terms {
                match t {
                    Term::Mechanism {
                        kind: Mechanism::All,
                        qualifier,
                        ..
                    } => eval.all = Some(*qualifier),
                    Term::Mechanism { kind, .. } if kind.queries_dns() => eval.lookups += 1,
                    Term::Unknown(_) => eval.flags.push(SpfFlag::SpfSyntax),
                    _ => {}
                }
            }
            eval.nodes.push(SpfNode {
                domain: DnsName::parse("example.org").unwrap(),
                depth: 0,
                via: Via::Root,
                parent: None,
                record: Some(root.clone()),
                terms,
                outcome: Outcome::Answer,
            });
        }
        eval
    }

    fn state_of(records: &[&str]) -> SpfState {
        let obs = txt("example.org", Outcome::Answer, records);
        check(&evaluation(records), &obs).state
    }

    #[test]
    fn states_follow_the_terminal_qualifier() {
        assert_eq!(state_of(&["v=spf1 mx -all"]), SpfState::Strict);
        assert_eq!(state_of(&["v=spf1 mx ~all"]), SpfState::Soft);
        assert_eq!(state_of(&["v=spf1 mx ?all"]), SpfState::Neutral);
        assert_eq!(state_of(&["v=spf1 mx"]), SpfState::Neutral);
        assert_eq!(state_of(&["v=spf1 +all"]), SpfState::PassAll);
        assert_eq!(state_of(&["v=spf1 a all"]), SpfState::PassAll);
        assert_eq!(state_of(&["google-site-verification=x"]), SpfState::None);
    }

    #[test]
    fn upper_case_version_tag_counts() {
        assert_eq!(state_of(&["V=spf1 ip4:192.0.2.1 -all"]), SpfState::Strict);
        assert_eq!(state_of(&["V=SPF1 ~all"]), SpfState::Soft);
    }

    #[test]
    fn permerrors_are_invalid() {
        assert_eq!(state_of(&["v=spf1 -all", "v=spf1 ~all"]), SpfState::Invalid);
        assert_eq!(state_of(&["v=spf1 foo:bar -all"]), SpfState::Invalid);
        for flag in [
            SpfFlag::SpfLookupLimit,
            SpfFlag::SpfLoop,
            SpfFlag::SpfIncludeWithoutRecord,
        ] {
            let mut eval = evaluation(&["v=spf1 include:a.example -all"]);
            eval.flags.push(flag);
            let c = check(&eval, &txt("example.org", Outcome::Answer, &[]));
            assert_eq!(c.state, SpfState::Invalid, "{flag:?}");
            assert_eq!(c.errors.len(), 1);
        }
    }

    #[test]
    fn void_lookups_only_warn() {
        let mut eval = evaluation(&["v=spf1 include:a.example -all"]);
        eval.void_lookups = 3;
        eval.flags.push(SpfFlag::SpfVoidLimit);
        let c = check(&eval, &txt("example.org", Outcome::Answer, &[]));
        assert_eq!(c.state, SpfState::Strict);
        assert!(c.warnings[0].contains("3 void lookups"));
    }

    #[test]
    fn failed_lookup_is_an_error_not_none() {
        let obs = txt("example.org", Outcome::ServFail, &[]);
        let c = check(&SpfEvaluation::default(), &obs);
        assert_eq!(c.state, SpfState::Error);
        let obs = txt("example.org", Outcome::NxDomain, &[]);
        assert_eq!(check(&SpfEvaluation::default(), &obs).state, SpfState::None);
    }
}
