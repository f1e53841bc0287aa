//! Registered domains ("organisational domains") from the Public Suffix List, ICANN
//! section only: the private section would split provider domains such as
//! `amazonaws.com` into per-customer suffixes, hiding who runs a host.

use crate::name::DnsName;

/// The registered domain of `name` (public suffix + one label), or `None` when the
/// name is itself a public suffix.
pub fn registered_domain(name: &DnsName) -> Option<DnsName> {
    let labels = name.labels();
    let suffix_len = icann_suffix_len(&labels);
    if labels.len() <= suffix_len {
        return None;
    }
    name.parent(labels.len() - suffix_len - 1)
}

/// True when `tld` (one label, A-label form, any case) is a top-level domain of the
/// ICANN section of the Public Suffix List — i.e. it exists in the root zone.
pub fn is_top_level_domain(tld: &str) -> bool {
    let lower = tld.to_ascii_lowercase();
    !lower.is_empty()
        && !lower.contains('.')
        && psl::suffix(lower.as_bytes())
            .is_some_and(|s| s.typ() == Some(psl::Type::Icann) && s.as_bytes() == lower.as_bytes())
}

/// Number of labels of the longest ICANN public suffix of `labels` (at least 1: the
/// default rule `*` makes any unlisted TLD a suffix).
fn icann_suffix_len(labels: &[&[u8]]) -> usize {
    let mut best = 1;
    let mut candidate: Vec<u8> = Vec::new();
    for k in 1..=labels.len() {
        let label = &labels[labels.len() - k];
        if k > 1 {
            candidate.insert(0, b'.');
        }
        candidate.splice(0..0, label.iter().copied());
        if let Some(suffix) = psl::suffix(&candidate)
            && suffix.typ() == Some(psl::Type::Icann)
            && suffix.as_bytes() == candidate.as_slice()
        {
            best = k;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(text: &str) -> String {
        registered_domain(&DnsName::parse(text).unwrap())
            .map(|d| d.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn icann_suffixes() {
        assert_eq!(org("x-de.mail.protection.outlook.com"), "outlook.com");
        assert_eq!(org("comune.ziano.tn.it"), "ziano.tn.it");
        assert_eq!(org("mail.council.gov.uk"), "council.gov.uk");
        assert_eq!(org("mx.gemeinde.gv.at"), "gemeinde.gv.at");
        assert_eq!(org("gv.at"), "");
    }

    #[test]
    fn private_section_is_ignored() {
        assert_eq!(
            org("ec2-1-2-3-4.eu-west-1.compute.amazonaws.com"),
            "amazonaws.com"
        );
        assert_eq!(org("foo.blogspot.com"), "blogspot.com");
    }

    #[test]
    fn top_level_domains_exist_or_not() {
        for tld in ["de", "com", "cat", "berlin", "xn--p1ai", "ne", "vg", "EU"] {
            assert!(is_top_level_domain(tld), "{tld}");
        }
        for tld in ["e", "invalidtld", "", "co.uk", "localhost"] {
            assert!(!is_top_level_domain(tld), "{tld}");
        }
    }

    #[test]
    fn unlisted_tlds_use_the_default_rule() {
        assert_eq!(org("mx.example.invalidtld"), "example.invalidtld");
    }
}
