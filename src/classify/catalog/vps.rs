//! Names of customer machines at large hosters (spec §8.6), from the entries'
//! `vps_hosts` patterns: `<first-label glob>.<suffix>`, where `*` in the first label
//! stands for any run of characters and the name may lie at any depth under the suffix.

use crate::name::DnsName;

/// One compiled pattern.
#[derive(Debug)]
struct Pattern {
    entry: usize,
    first: String,
    suffix: DnsName,
}

/// All patterns and their exceptions.
#[derive(Debug, Default)]
pub(super) struct VpsPatterns {
    patterns: Vec<Pattern>,
    exceptions: Vec<DnsName>,
}

impl VpsPatterns {
    /// Adds an entry's patterns (already validated, so parsing cannot fail; a pattern
    /// that does is skipped rather than trusted).
    pub(super) fn add(&mut self, entry: usize, patterns: &[String], exceptions: &[String]) {
        for p in patterns {
            let Some((first, suffix)) = p.split_once('.') else {
                continue;
            };
            if let Ok(suffix) = DnsName::parse(suffix) {
                self.patterns.push(Pattern {
                    entry,
                    first: first.to_string(),
                    suffix,
                });
            }
        }
        self.exceptions
            .extend(exceptions.iter().filter_map(|e| DnsName::parse(e).ok()));
    }

    /// The entry whose customer-machine pattern `name` matches.
    pub(super) fn find(&self, name: &DnsName) -> Option<usize> {
        if self.exceptions.contains(name) {
            return None;
        }
        let first = name.label_iter().next()?;
        let first = std::str::from_utf8(first).ok()?;
        self.patterns
            .iter()
            .find(|p| {
                name.len() > p.suffix.len()
                    && name.is_subdomain_of(&p.suffix)
                    && glob(&p.first, first)
            })
            .map(|p| p.entry)
    }
}

/// `*` matches any run of characters (also none); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let Some((head, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    let Some(mut remaining) = text.strip_prefix(head) else {
        return false;
    };
    let Some((tail, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= tail.len() && remaining.ends_with(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("ip-*", "ip-1-2-3-4"));
        assert!(!glob("ip-*", "sip-1"));
        assert!(glob("s*-*-*-*", "s1-2-3-4"));
        assert!(!glob("s*-*-*-*", "s1-2-3"));
        assert!(glob("*vps*", "myvps12"));
        assert!(glob("*vps*", "vps"));
        assert!(!glob("*vps*", "vp-s"));
        assert!(glob("h*", "h123"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("a*b", "ab"));
        assert!(!glob("a*bb", "ab"));
    }

    #[test]
    fn patterns_need_a_name_below_the_suffix_and_respect_exceptions() {
        let mut v = VpsPatterns::default();
        v.add(
            7,
            &["ns*.ovh.net".to_string(), "*.arubabiz.net".to_string()],
            &["ns0.ovh.net".to_string()],
        );
        let n = |s: &str| DnsName::parse(s).unwrap();
        assert_eq!(v.find(&n("ns123.ip-1.eu.ovh.net")), Some(7));
        assert_eq!(v.find(&n("ns0.ovh.net")), None);
        assert_eq!(v.find(&n("mx1.ovh.net")), None);
        assert_eq!(v.find(&n("anything.arubabiz.net")), Some(7));
        assert_eq!(v.find(&n("arubabiz.net")), None);
        assert_eq!(v.find(&n("ns1.notovh.net")), None);
    }
}
