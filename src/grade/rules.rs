//! The rule table (`rules.toml`, embedded): grade letters, rule rows of both axes and
//! the overall letter, fix-it lines and the provider pools used as policy aliases.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The embedded rule table text.
pub const RULES_TOML: &str = include_str!("rules.toml");

/// A grade letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Letter {
    /// `A+`.
    APlus,
    /// `A`.
    A,
    /// `B`.
    B,
    /// `C`.
    C,
    /// `D`.
    D,
    /// `F`.
    F,
    /// `?`: not measured.
    Unknown,
    /// `—`: not applicable (null MX).
    NotApplicable,
}

impl Letter {
    /// Every letter, best first, then `?` and `—`.
    pub const ALL: [Letter; 8] = [
        Letter::APlus,
        Letter::A,
        Letter::B,
        Letter::C,
        Letter::D,
        Letter::F,
        Letter::Unknown,
        Letter::NotApplicable,
    ];

    /// The printed letter: `A+`, `A`, …, `F`, `?`, `—`.
    pub fn as_str(self) -> &'static str {
        match self {
            Letter::APlus => "A+",
            Letter::A => "A",
            Letter::B => "B",
            Letter::C => "C",
            Letter::D => "D",
            Letter::F => "F",
            Letter::Unknown => "?",
            Letter::NotApplicable => "—",
        }
    }

    /// Reads a printed letter (`-` is accepted for `—`).
    pub fn parse(text: &str) -> Option<Letter> {
        match text {
            "-" => Some(Letter::NotApplicable),
            t => Letter::ALL.into_iter().find(|l| l.as_str() == t),
        }
    }

    /// Rank of a measured letter (A+ = 6 … F = 1); `None` for `?` and `—`.
    pub fn rank(self) -> Option<u8> {
        match self {
            Letter::APlus => Some(6),
            Letter::A => Some(5),
            Letter::B => Some(4),
            Letter::C => Some(3),
            Letter::D => Some(2),
            Letter::F => Some(1),
            Letter::Unknown | Letter::NotApplicable => None,
        }
    }

    /// True for `A+` … `F`.
    pub fn is_measured(self) -> bool {
        self.rank().is_some()
    }
}

impl fmt::Display for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Letter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Letter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Letter::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown grade letter {text:?}")))
    }
}

/// One rule row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier (`T-D-LEGACY-ONLY`).
    pub id: String,
    /// Letter the rule gives.
    pub letter: Letter,
    /// What the grader checks (methodology page).
    pub condition: String,
    /// One line shown to users for this letter.
    pub meaning: String,
    /// Reason template: `{host}`, `{domain}`, `{detail}`.
    pub reason: String,
    /// Methodology page anchor.
    pub anchor: String,
}

/// One fix-it checklist line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// Identifier.
    pub id: String,
    /// Template: `{host}`, `{domain}`, `{detail}`.
    pub text: String,
}

/// A shared provider pool referenced by name in the STARTTLS policy list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyAlias {
    /// Alias name (`outlook`, `google`).
    pub name: String,
    /// Provider, for humans.
    pub provider: String,
    /// Patterns: exact names or `.suffix` (one extra label).
    pub mxs: Vec<String>,
}

/// The whole table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// Transport rows, top-down.
    pub transport: Vec<Rule>,
    /// Authentication rows, top-down.
    pub auth: Vec<Rule>,
    /// Overall rows.
    pub overall: Vec<Rule>,
    /// Fix-it lines.
    pub fix: Vec<Fix>,
    /// Provider pools.
    pub policy_alias: Vec<PolicyAlias>,
}

impl RuleTable {
    /// Parses a table (the embedded one, or a test variant).
    pub fn parse(text: &str) -> Result<RuleTable, toml::de::Error> {
        toml::from_str(text)
    }

    /// Every row of every axis.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.transport.iter().chain(&self.auth).chain(&self.overall)
    }

    /// The row with this id. Panics on an unknown id: ids used by the grader are
    /// checked against the embedded table by the tests.
    pub fn rule(&self, id: &str) -> &Rule {
        self.rules()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("rule {id} is not in rules.toml"))
    }

    /// The fix-it line `id` with its placeholders filled.
    pub fn fix(&self, id: &str, host: Option<&str>, domain: &str, detail: &str) -> String {
        let fix = self
            .fix
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("fix {id} is not in rules.toml"));
        fill(&fix.text, host, domain, detail)
    }
}

/// Fills `{host}`, `{domain}` and `{detail}`.
pub fn fill(template: &str, host: Option<&str>, domain: &str, detail: &str) -> String {
    template
        .replace("{host}", host.unwrap_or(domain))
        .replace("{domain}", domain)
        .replace("{detail}", detail)
}

/// The embedded rule table.
pub fn rule_table() -> &'static RuleTable {
    static TABLE: OnceLock<RuleTable> = OnceLock::new();
    TABLE.get_or_init(|| RuleTable::parse(RULES_TOML).expect("embedded rules.toml is valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_loads_with_unique_ids() {
        let t = rule_table();
        let mut ids: Vec<&str> = t.rules().map(|r| r.id.as_str()).collect();
        ids.extend(t.fix.iter().map(|f| f.id.as_str()));
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids in rules.toml");
        assert!(
            t.rules()
                .all(|r| !r.meaning.is_empty() && !r.anchor.is_empty())
        );
    }

    #[test]
    fn letters_print_and_parse() {
        for l in Letter::ALL {
            assert_eq!(Letter::parse(l.as_str()), Some(l));
        }
        assert_eq!(Letter::parse("-"), Some(Letter::NotApplicable));
        assert!(Letter::A.rank() > Letter::B.rank());
        assert!(!Letter::Unknown.is_measured());
        assert_eq!(
            serde_json::to_string(&Letter::APlus).unwrap(),
            "\"A+\"".to_string()
        );
    }

    #[test]
    fn templates_fill() {
        assert_eq!(
            fill(
                "MX {host} of {domain}: {detail}",
                Some("mx.a.org"),
                "a.org",
                "x"
            ),
            "MX mx.a.org of a.org: x"
        );
    }
}
