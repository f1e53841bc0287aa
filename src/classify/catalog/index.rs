//! Lookup indices of the catalogue: suffix patterns by their text, prefix patterns in a
//! list, and the spec §2 precedence between several hits.

use std::collections::HashMap;

use super::entry::{Entry, Match, PatternKind};
use crate::name::DnsName;

/// One place a suffix pattern occurs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    entry: usize,
    weak: bool,
}

/// Suffix patterns keyed by their text. A lookup walks the host's suffixes from the
/// longest to the shortest, so the first hit is the longest matching pattern and the cost
/// is one hash probe per label, whatever the size of the table.
#[derive(Debug, Default)]
pub(super) struct SuffixIndex {
    pub(super) map: HashMap<String, Vec<Slot>>,
}

/// Prefix patterns (label or TXT), few enough to scan.
#[derive(Debug, Default)]
pub(super) struct PrefixList {
    /// (entry, pattern as written, pattern folded to lower case, weak)
    items: Vec<(usize, String, String, bool)>,
}

/// Spec §2 precedence key: longer pattern first, then the primary role, then the id.
fn precedence<'a>(m: &Match<'a>) -> (std::cmp::Reverse<usize>, u8, &'a str) {
    (
        std::cmp::Reverse(m.pattern.len()),
        m.entry.primary_role().rank(),
        m.entry.id.as_str(),
    )
}

/// Keeps whichever of `best` and `m` wins under [`precedence`].
pub(super) fn keep_best<'a>(best: &mut Option<Match<'a>>, m: Match<'a>) {
    if best.as_ref().is_none_or(|b| precedence(&m) < precedence(b)) {
        *best = Some(m);
    }
}

impl SuffixIndex {
    pub(super) fn add(&mut self, entry: usize, patterns: &[String], weak: bool) {
        for p in patterns {
            self.map
                .entry(p.clone())
                .or_default()
                .push(Slot { entry, weak });
        }
    }

    /// Ids of the entries holding each pattern (for the table's own consistency tests).
    #[cfg(test)]
    pub(super) fn holders<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> impl Iterator<Item = (&'a str, Vec<&'a str>)> + 'a {
        self.map.iter().map(move |(pattern, slots)| {
            let ids = slots.iter().map(|s| entries[s.entry].id.as_str()).collect();
            (pattern.as_str(), ids)
        })
    }

    /// The longest pattern that `name` equals or ends with on a label boundary; among
    /// entries sharing that pattern, the role rank and then the id decide.
    pub(super) fn lookup<'a>(&'a self, entries: &'a [Entry], name: &DnsName) -> Option<Match<'a>> {
        if self.map.is_empty() {
            return None;
        }
        let labels = name.labels();
        // Joined raw labels with the byte offset where each label starts; a suffix is then
        // a slice, so no string is built per candidate.
        let mut joined = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
        let mut starts = Vec::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                joined.push(b'.');
            }
            starts.push(joined.len());
            joined.extend_from_slice(label);
        }
        // A raw label containing '.' (written `\.`) would fake a label boundary; patterns
        // are plain names, so no suffix that includes such a label can match.
        let first_plain = labels
            .iter()
            .rposition(|l| l.contains(&b'.'))
            .map_or(0, |i| i + 1);
        for &start in &starts[first_plain..] {
            let Ok(suffix) = std::str::from_utf8(&joined[start..]) else {
                continue;
            };
            if let Some((key, slots)) = self.map.get_key_value(suffix) {
                let slot = slots.iter().min_by_key(|s| {
                    let e = &entries[s.entry];
                    (e.primary_role().rank(), e.id.as_str(), s.weak)
                })?;
                return Some(Match {
                    entry: &entries[slot.entry],
                    pattern: key,
                    kind: PatternKind::Suffix,
                    weak: slot.weak,
                });
            }
        }
        None
    }
}

impl PrefixList {
    pub(super) fn add(&mut self, entry: usize, patterns: &[String], weak: bool) {
        for p in patterns {
            self.items
                .push((entry, p.clone(), p.to_ascii_lowercase(), weak));
        }
    }

    /// Every entry some label of `host` starts a pattern of, competing with `best`.
    pub(super) fn label_hits<'a>(
        &'a self,
        entries: &'a [Entry],
        host: &DnsName,
        best: &mut Option<Match<'a>>,
    ) {
        for (i, pattern, folded, weak) in &self.items {
            let hit = host.label_iter().any(|l| l.starts_with(folded.as_bytes()));
            if hit {
                let m = Match {
                    entry: &entries[*i],
                    pattern,
                    kind: PatternKind::LabelPrefix,
                    weak: *weak,
                };
                keep_best(best, m);
            }
        }
    }

    /// The best pattern the whole TXT string starts with, ignoring ASCII case.
    pub(super) fn txt_hit<'a>(&'a self, entries: &'a [Entry], txt: &str) -> Option<Match<'a>> {
        let mut best: Option<Match<'a>> = None;
        let bytes = txt.as_bytes();
        for (i, pattern, folded, weak) in &self.items {
            let starts = bytes
                .get(..folded.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(folded.as_bytes()));
            if starts {
                let m = Match {
                    entry: &entries[*i],
                    pattern,
                    kind: PatternKind::TxtPrefix,
                    weak: *weak,
                };
                keep_best(&mut best, m);
            }
        }
        best
    }
}
