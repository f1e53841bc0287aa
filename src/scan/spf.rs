//! SPF (RFC 7208): parsing one record, and walking a domain's policy tree through
//! `include:` and `redirect=` under the RFC's limits (10 DNS-querying terms, 2 void
//! lookups, loop detection). mxmap does not evaluate SPF for a sending address; it
//! wants the tree — who is authorised to send, at which depth — as classification
//! evidence and as the SPF part of the security grade.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::lookups::Lookups;
use crate::evidence::{Observation, Outcome, RType};
use crate::name::DnsName;

/// RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups.
pub const MAX_LOOKUPS: u32 = 10;
/// RFC 7208 §4.6.4: at most 2 lookups that return no records.
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// Longest record text mxmap parses (a hostile 64 KiB TXT is truncated, not parsed).
const MAX_RECORD_LEN: usize = 4096;

/// Result qualifier of a mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Qualifier {
    /// `+` (default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    /// The qualifier character.
    pub fn symbol(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// Mechanism kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:`.
    Include,
    /// `a`.
    A,
    /// `mx`.
    Mx,
    /// `ptr`.
    Ptr,
    /// `ip4:`.
    Ip4,
    /// `ip6:`.
    Ip6,
    /// `exists:`.
    Exists,
}

impl Mechanism {
    fn from_name(name: &str) -> Option<Mechanism> {
        Some(match name.to_ascii_lowercase().as_str() {
            "all" => Mechanism::All,
            "include" => Mechanism::Include,
            "a" => Mechanism::A,
            "mx" => Mechanism::Mx,
            "ptr" => Mechanism::Ptr,
            "ip4" => Mechanism::Ip4,
            "ip6" => Mechanism::Ip6,
            "exists" => Mechanism::Exists,
            _ => return None,
        })
    }

    /// True for the terms that count against the 10-lookup limit.
    pub fn queries_dns(self) -> bool {
        matches!(
            self,
            Mechanism::Include | Mechanism::A | Mechanism::Mx | Mechanism::Ptr | Mechanism::Exists
        )
    }
}

/// One term of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    /// A mechanism with its qualifier and argument (domain-spec or network).
    Mechanism {
        /// Qualifier.
        qualifier: Qualifier,
        /// Kind.
        kind: Mechanism,
        /// Text after `:` (and any `/cidr`), if present.
        argument: Option<String>,
    },
    /// `name=value`.
    Modifier {
        /// Lower-cased name (`redirect`, `exp`, …).
        name: String,
        /// Value.
        value: String,
    },
    /// Anything else (kept for evidence; makes the record a permerror).
    Unknown(String),
}

/// True when a TXT string is an SPF record (`v=spf1` then a space or the end, any case).
/// A non-ASCII space after the tag (recorded in the wild as `v=spf1\194\160`) is
/// accepted, as receivers' lenient parsers do; [`parse`] then reports a syntax flag.
pub fn is_spf(text: &str) -> bool {
    let text = text.trim_start();
    let bytes = text.as_bytes();
    bytes.len() >= 6
        && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
        && text[6..].chars().next().is_none_or(is_separator)
}

/// Term separators: ASCII whitespace as in RFC 7208, plus the Unicode spaces and
/// zero-width characters that copy-pasted records carry.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
        )
}

/// True when the record separates terms with anything but ASCII spaces (a syntax
/// error strict receivers reject).
pub fn has_odd_separators(record: &str) -> bool {
    record
        .chars()
        .any(|c| is_separator(c) && !c.is_ascii_whitespace())
}

/// Splits a record into terms (the version tag is dropped).
pub fn parse(record: &str) -> Vec<Term> {
    let record = truncate(record, MAX_RECORD_LEN);
    record
        .split(is_separator)
        .filter(|t| !t.is_empty())
        .skip(1)
        .map(parse_term)
        .collect()
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn parse_term(token: &str) -> Term {
    let (qualifier, rest) = match token.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &token[1..]),
        Some(b'-') => (Qualifier::Fail, &token[1..]),
        Some(b'~') => (Qualifier::SoftFail, &token[1..]),
        Some(b'?') => (Qualifier::Neutral, &token[1..]),
        _ => (Qualifier::Pass, token),
    };
    let name_end = rest.find([':', '/', '=']).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(name_end);
    if tail.starts_with('=') && qualifier == Qualifier::Pass && !token.starts_with('+') {
        return Term::Modifier {
            name: name.to_ascii_lowercase(),
            value: tail[1..].to_string(),
        };
    }
    match Mechanism::from_name(name) {
        Some(kind) => {
            let argument = tail
                .strip_prefix(':')
                .map(str::to_string)
                .or_else(|| (!tail.is_empty()).then(|| tail.to_string()));
            Term::Mechanism {
                qualifier,
                kind,
                argument,
            }
        }
        None => Term::Unknown(token.to_string()),
    }
}

/// The domain part of a mechanism argument (`example.org/24` → `example.org`), or
/// `None` when it uses macros, which mxmap does not expand.
pub fn target_domain(argument: &str) -> Option<DnsName> {
    let domain = argument.split('/').next()?;
    if domain.contains('%') || domain.is_empty() {
        return None;
    }
    DnsName::parse(domain).ok()
}

/// How a node was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The domain itself.
    Root,
    /// `include:` of the parent.
    Include,
    /// `redirect=` of the parent.
    Redirect,
}

/// One domain of the policy tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpfNode {
    /// Domain whose TXT was read.
    pub domain: DnsName,
    /// 0 for the domain and its redirects; include targets of a depth-k record are k+1.
    pub depth: u8,
    /// How it was reached.
    pub via: Via,
    /// Index of the parent node.
    pub parent: Option<usize>,
    /// The SPF record found there, if any.
    pub record: Option<String>,
    /// Parsed terms of `record`.
    pub terms: Vec<Term>,
    /// How the TXT lookup ended.
    pub outcome: Outcome,
}

/// Findings about the whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpfFlag {
    /// More than one SPF record at the domain (permerror).
    SpfMultiple,
    /// More than 10 DNS-querying terms; expansion stopped.
    SpfLookupLimit,
    /// A domain was reached twice; not expanded again.
    SpfLoop,
    /// More than 2 void lookups.
    SpfVoidLimit,
    /// A lookup in the tree failed (timeout, SERVFAIL): the tree is incomplete.
    SpfLookupFailed,
    /// An include target has no SPF record (permerror).
    SpfIncludeWithoutRecord,
    /// A term mxmap could not parse (permerror).
    SpfSyntax,
}

/// The evaluated policy of one domain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SpfEvaluation {
    /// Every SPF record published at the domain.
    pub records: Vec<String>,
    /// The tree, in evaluation order; empty without SPF.
    pub nodes: Vec<SpfNode>,
    /// DNS-querying terms counted (RFC 7208 §4.6.4).
    pub lookups: u32,
    /// Lookups that returned nothing.
    pub void_lookups: u32,
    /// Findings.
    pub flags: Vec<SpfFlag>,
    /// Qualifier of the effective `all` (root record, or its redirect target).
    pub all: Option<Qualifier>,
}

impl SpfEvaluation {
    /// True when the domain publishes SPF.
    pub fn present(&self) -> bool {
        !self.records.is_empty()
    }

    /// Include/redirect nodes with their depth (the root is skipped).
    pub fn referenced(&self) -> impl Iterator<Item = &SpfNode> {
        self.nodes.iter().filter(|n| n.via != Via::Root)
    }

    /// Terms of the depth-0 records (root and its redirect chain).
    pub fn depth0_terms(&self) -> impl Iterator<Item = &Term> {
        self.nodes
            .iter()
            .filter(|n| n.depth == 0)
            .flat_map(|n| n.terms.iter())
    }

    fn flag(&mut self, flag: SpfFlag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
    }
}

/// Walks the SPF tree of `domain`, whose TXT answer is `root_txt`.
pub async fn evaluate(
    lookups: &Lookups,
    domain: &DnsName,
    root_txt: &Observation,
) -> SpfEvaluation {
    let mut eval = SpfEvaluation::default();
    let mut records: Vec<String> = root_txt.txt_records().filter(|t| is_spf(t)).collect();
    records.sort();
    eval.records = records.clone();
    let Some(root) = records.first() else {
        return eval;
    };
    if records.len() > 1 {
        eval.flag(SpfFlag::SpfMultiple);
    }
    let mut walk = Walk { lookups, eval };
    walk.eval.nodes.push(node(
        domain.clone(),
        0,
        Via::Root,
        None,
        Some(root),
        root_txt.outcome.clone(),
    ));
    walk.expand(0).await;
    let mut all = None;
    for n in walk.eval.nodes.iter().filter(|n| n.depth == 0) {
        for t in &n.terms {
            if let Term::Mechanism {
                kind: Mechanism::All,
                qualifier,
                ..
            } = t
            {
                all = Some(*qualifier);
            }
        }
    }
    walk.eval.all = all;
    walk.eval
}

fn node(
    domain: DnsName,
    depth: u8,
    via: Via,
    parent: Option<usize>,
    record: Option<&String>,
    outcome: Outcome,
) -> SpfNode {
    SpfNode {
        terms: record.map(|r| parse(r)).unwrap_or_default(),
        record: record.map(|r| truncate(r, MAX_RECORD_LEN).to_string()),
        domain,
        depth,
        via,
        parent,
        outcome,
    }
}

struct Walk<'a> {
    lookups: &'a Lookups,
    eval: SpfEvaluation,
}

impl Walk<'_> {
    /// Expands node `index` depth-first, in term order, as an evaluator would.
    fn expand(&mut self, index: usize) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let terms = self.eval.nodes[index].terms.clone();
            let depth = self.eval.nodes[index].depth;
            let has_all = terms.iter().any(|t| {
                matches!(
                    t,
                    Term::Mechanism {
                        kind: Mechanism::All,
                        ..
                    }
                )
            });
            let mut redirect = None;
            if self.eval.nodes[index]
                .record
                .as_deref()
                .is_some_and(has_odd_separators)
            {
                self.eval.flag(SpfFlag::SpfSyntax);
            }
            for term in &terms {
                match term {
                    Term::Mechanism { kind, argument, .. } if kind.queries_dns() => {
                        if !self.count_lookup() {
                            return;
                        }
                        if *kind == Mechanism::Include
                            && let Some(target) = argument.as_deref().and_then(target_domain)
                        {
                            self.follow(index, target, depth.saturating_add(1), Via::Include)
                                .await;
                        }
                    }
                    Term::Modifier { name, value } if name == "redirect" => {
                        redirect = Some(value.clone());
                    }
                    Term::Unknown(_) => self.eval.flag(SpfFlag::SpfSyntax),
                    _ => {}
                }
            }
            // RFC 7208 §6.1: redirect is ignored when the record has an `all`.
            if let Some(value) = redirect.filter(|_| !has_all) {
                if !self.count_lookup() {
                    return;
                }
                if let Some(target) = target_domain(&value) {
                    self.follow(index, target, depth, Via::Redirect).await;
                }
            }
        })
    }

    fn count_lookup(&mut self) -> bool {
        self.eval.lookups += 1;
        if self.eval.lookups > MAX_LOOKUPS {
            self.eval.flag(SpfFlag::SpfLookupLimit);
            return false;
        }
        true
    }

    /// True when `name` is `index` or one of its ancestors: following it would loop.
    /// (The same include reached on two branches is no loop; an evaluator expands it
    /// twice, and the lookup limit bounds the work.)
    fn in_ancestry(&self, mut index: usize, name: &DnsName) -> bool {
        loop {
            if self.eval.nodes[index].domain == *name {
                return true;
            }
            match self.eval.nodes[index].parent {
                Some(parent) => index = parent,
                None => return false,
            }
        }
    }

    async fn follow(&mut self, parent: usize, target: DnsName, depth: u8, via: Via) {
        if self.in_ancestry(parent, &target) {
            self.eval.flag(SpfFlag::SpfLoop);
            return;
        }
        let txt: Arc<Observation> = self.lookups.get(&target, RType::Txt).await;
        let record = txt.txt_records().filter(|t| is_spf(t)).min();
        match &txt.outcome {
            Outcome::NxDomain | Outcome::NoData => {
                self.eval.void_lookups += 1;
                if self.eval.void_lookups > MAX_VOID_LOOKUPS {
                    self.eval.flag(SpfFlag::SpfVoidLimit);
                }
            }
            o if o.is_failure() => self.eval.flag(SpfFlag::SpfLookupFailed),
            _ => {}
        }
        if record.is_none() && !txt.failed() {
            self.eval.flag(SpfFlag::SpfIncludeWithoutRecord);
        }
        self.eval.nodes.push(node(
            target,
            depth,
            via,
            Some(parent),
            record.as_ref(),
            txt.outcome.clone(),
        ));
        let index = self.eval.nodes.len() - 1;
        if record.is_some() {
            self.expand(index).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tag_is_case_insensitive_and_exact() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1 include:x.org ~all"));
        assert!(is_spf("v=spf1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("spf2.0/pra"));
        assert!(is_spf(
            "v=spf1\u{a0} include:spf.protection.outlook.com ~all"
        ));
        assert!(has_odd_separators("v=spf1\u{a0} include:x.org"));
        let terms = parse("v=spf1 include:a.org \u{200b}\u{200b}include:b.org\u{a0}-all");
        assert_eq!(terms.len(), 3);
    }

    #[test]
    fn terms_parse_with_qualifiers_and_modifiers() {
        let terms = parse(
            "v=spf1 +a mx/24 ip4:192.0.2.0/24 Include:spf.protection.outlook.com ~all redirect=_spf.x.org exp=e.x.org foo:bar",
        );
        assert_eq!(
            terms[0],
            Term::Mechanism {
                qualifier: Qualifier::Pass,
                kind: Mechanism::A,
                argument: None
            }
        );
        assert_eq!(
            terms[1],
            Term::Mechanism {
                qualifier: Qualifier::Pass,
                kind: Mechanism::Mx,
                argument: Some("/24".into())
            }
        );
        assert_eq!(
            terms[3],
            Term::Mechanism {
                qualifier: Qualifier::Pass,
                kind: Mechanism::Include,
                argument: Some("spf.protection.outlook.com".into())
            }
        );
        assert_eq!(
            terms[4],
            Term::Mechanism {
                qualifier: Qualifier::SoftFail,
                kind: Mechanism::All,
                argument: None
            }
        );
        assert_eq!(
            terms[5],
            Term::Modifier {
                name: "redirect".into(),
                value: "_spf.x.org".into()
            }
        );
        assert_eq!(terms[7], Term::Unknown("foo:bar".into()));
    }

    #[test]
    fn macros_are_not_expanded() {
        assert!(target_domain("%{i}._spf.example.org").is_none());
        assert_eq!(
            target_domain("a.example.org/24").unwrap().to_string(),
            "a.example.org"
        );
    }
}
