//! DNS lookups that many municipality pages would print identically: the A/AAAA/TLSA
//! answers of a large provider's MX hosts, its autodiscover chain, its DKIM targets.
//! On the full site they were the bulk of the bytes (the same answers of Microsoft's
//! and Google's hosts on thousands of pages). Such a lookup is printed once, on
//! `dns/{letter}/`, and every page that relied on it links to its row: the evidence
//! stays one click away, the repetition goes.
//!
//! A lookup is shared only when every municipality that saw it saw the same outcome and
//! the same answers (times may differ): a page never points at an answer it did not get.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use askama::Template;

use super::filters;
use super::model::{Meta, SiteModel};
use crate::evidence::{Observation, RType};

/// A lookup is printed on the shared page when at least this many municipality pages
/// would print it.
pub const SHARED_MIN: usize = 10;

/// One shared lookup.
#[derive(Debug)]
pub struct Shared {
    /// Query name.
    pub name: String,
    /// Query type.
    pub rtype: &'static str,
    /// Outcome label.
    pub outcome: String,
    /// Answers in presentation form.
    pub answers: Vec<String>,
    /// Time of the first observation seen (UTC text).
    pub at: String,
    /// Municipality pages that rely on it.
    pub pages: usize,
    /// Element id on its page.
    pub anchor: String,
    /// Folder under `dns/` (first character of the name).
    pub folder: String,
}

/// The shared lookups of a site.
#[derive(Debug, Default)]
pub struct SharedDns {
    by_key: HashMap<(String, RType), Shared>,
    /// SPF records of included domains (a provider's `include:` target), by domain:
    /// printed once like the lookups, since thousands of SPF trees repeat them.
    spf: HashMap<String, Shared>,
}

/// The facts of an observation that must agree for it to be shared.
fn same(o: &Observation, s: &Shared) -> bool {
    o.outcome.label() == s.outcome
        && o.answers.len() == s.answers.len()
        && o.answers
            .iter()
            .zip(&s.answers)
            .all(|(a, b)| a.presentation() == *b)
}

/// An SPF node's record, or its lookup's outcome in brackets when it has none.
pub fn spf_text(n: &crate::scan::spf::SpfNode) -> String {
    n.record
        .clone()
        .unwrap_or_else(|| format!("({})", n.outcome.label()))
}

/// Folder of a name's shared page: its first letter or digit, else `other`.
fn folder_of(name: &str) -> String {
    match name.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() => c.to_ascii_lowercase().to_string(),
        _ => "other".into(),
    }
}

impl SharedDns {
    /// Counts, over every municipality, the lookups its page prints; keeps those seen by
    /// at least [`SHARED_MIN`] pages with identical answers.
    pub fn collect(model: &SiteModel) -> SharedDns {
        let mut candidates: HashMap<(String, RType), (Shared, bool)> = HashMap::new();
        for r in &model.records {
            let Some(scan) = &r.scan else { continue };
            for o in scan.observations() {
                let key = (o.name.to_string(), o.rtype);
                match candidates.get_mut(&key) {
                    Some((s, agrees)) => {
                        s.pages += 1;
                        if *agrees && !same(o, s) {
                            *agrees = false;
                        }
                    }
                    None => {
                        let name = key.0.clone();
                        let shared = Shared {
                            anchor: format!("{}-{}", name, o.rtype.as_str().to_lowercase()),
                            folder: folder_of(&name),
                            name,
                            rtype: o.rtype.as_str(),
                            outcome: o.outcome.label().to_string(),
                            answers: o.answers.iter().map(|a| a.presentation()).collect(),
                            at: super::text::format_time(o.at),
                            pages: 1,
                        };
                        candidates.insert(key, (shared, true));
                    }
                }
            }
        }
        SharedDns {
            by_key: candidates
                .into_iter()
                .filter(|(_, (s, agrees))| *agrees && s.pages >= SHARED_MIN)
                .map(|(k, (s, _))| (k, s))
                .collect(),
            spf: Self::collect_spf(model),
        }
    }

    /// The SPF records below a domain's own (include and redirect targets) that at
    /// least [`SHARED_MIN`] pages print identically.
    fn collect_spf(model: &SiteModel) -> HashMap<String, Shared> {
        let mut candidates: HashMap<String, (Shared, bool)> = HashMap::new();
        for r in &model.records {
            let Some(scan) = &r.scan else { continue };
            let mut seen = std::collections::HashSet::new();
            for n in scan.spf.nodes.iter().filter(|n| n.depth > 0) {
                let name = n.domain.to_string();
                if !seen.insert(name.clone()) {
                    continue; // one page counts once
                }
                let record = spf_text(n);
                match candidates.get_mut(&name) {
                    Some((s, agrees)) => {
                        s.pages += 1;
                        if *agrees && s.answers.first() != Some(&record) {
                            *agrees = false;
                        }
                    }
                    None => {
                        let shared = Shared {
                            anchor: format!("{name}-spf"),
                            folder: folder_of(&name),
                            name: name.clone(),
                            rtype: "SPF",
                            outcome: n.outcome.label().to_string(),
                            answers: vec![record],
                            at: String::new(),
                            pages: 1,
                        };
                        candidates.insert(name, (shared, true));
                    }
                }
            }
        }
        candidates
            .into_iter()
            .filter(|(_, (s, agrees))| *agrees && s.pages >= SHARED_MIN)
            .map(|(k, (s, _))| (k, s))
            .collect()
    }

    /// The shared row standing for an SPF node below the domain's own record, when its
    /// record is printed on the shared page.
    pub fn spf(&self, node: &crate::scan::spf::SpfNode) -> Option<&Shared> {
        if node.depth == 0 {
            return None;
        }
        self.spf
            .get(node.domain.to_string().as_str())
            .filter(|s| s.answers.first() == Some(&spf_text(node)))
    }

    /// The shared row standing for `o`, when `o` is printed on the shared page.
    pub fn lookup(&self, o: &Observation) -> Option<&Shared> {
        self.by_key
            .get(&(o.name.to_string(), o.rtype))
            .filter(|s| same(o, s))
    }

    /// Number of shared lookups (SPF records included).
    pub fn len(&self) -> usize {
        self.by_key.len() + self.spf.len()
    }

    /// True when nothing is shared.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.spf.is_empty()
    }

    /// The pages `dns/` and `dns/{folder}/`: (path, html).
    pub fn pages(&self, meta: &Meta) -> Result<Vec<(String, String)>> {
        let mut folders: BTreeMap<&str, Vec<&Shared>> = BTreeMap::new();
        for s in self.by_key.values().chain(self.spf.values()) {
            folders.entry(s.folder.as_str()).or_default().push(s);
        }
        for rows in folders.values_mut() {
            rows.sort_by(|a, b| (&a.name, a.rtype).cmp(&(&b.name, b.rtype)));
        }
        let index: Vec<(&str, usize)> = folders.iter().map(|(f, r)| (*f, r.len())).collect();
        let mut out = vec![(
            "dns/index.html".to_string(),
            SharedPage {
                root: "../",
                path: "dns/".into(),
                meta,
                folder: None,
                index: &index,
                rows: Vec::new(),
                min: SHARED_MIN,
            }
            .render()
            .context("rendering the shared DNS lookups page")?,
        )];
        for (folder, rows) in folders {
            out.push((
                format!("dns/{folder}/index.html"),
                SharedPage {
                    root: "../../",
                    path: format!("dns/{folder}/"),
                    meta,
                    folder: Some(folder),
                    index: &index,
                    rows,
                    min: SHARED_MIN,
                }
                .render()
                .with_context(|| format!("rendering the shared DNS lookups under {folder}"))?,
            ));
        }
        Ok(out)
    }
}

#[derive(Template)]
#[template(path = "shared_dns.html")]
struct SharedPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    folder: Option<&'a str>,
    index: &'a [(&'a str, usize)],
    rows: Vec<&'a Shared>,
    min: usize,
}

#[cfg(test)]
mod tests {
    use super::folder_of;

    #[test]
    fn names_fall_into_folders_by_first_character() {
        assert_eq!(folder_of("aspmx.l.google.com"), "a");
        assert_eq!(folder_of("1.example"), "1");
        assert_eq!(folder_of("_dmarc.example"), "other");
    }
}
