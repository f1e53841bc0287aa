//! SPF record parser: never panics, output is bounded by the 4 KiB parse cap, every
//! term's text comes from the record, and terms survive the cache's JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxmap::scan::spf::{self, Term};

/// `spf::parse` reads at most this many bytes of a record.
const PARSE_CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = spf::is_spf(text);
    let _ = spf::has_odd_separators(text);
    let terms = spf::parse(text);
    // Every term is at least one byte followed by a separator; the version tag is dropped.
    assert!(terms.len() <= PARSE_CAP / 2, "{} terms", terms.len());
    let mut kept = 0;
    for term in &terms {
        match term {
            Term::Mechanism { argument, .. } => {
                if let Some(argument) = argument {
                    kept += argument.len();
                    assert!(text.contains(argument.as_str()));
                    if let Some(domain) = spf::target_domain(argument) {
                        assert!(!domain.is_empty());
                    }
                }
            }
            Term::Modifier { name, value } => {
                kept += name.len() + value.len();
                assert!(text.contains(value.as_str()));
            }
            Term::Unknown(token) => {
                kept += token.len();
                assert!(!token.is_empty() && text.contains(token.as_str()));
            }
        }
    }
    assert!(kept <= PARSE_CAP, "{kept} bytes kept from a capped record");
    let json = serde_json::to_string(&terms).expect("terms serialise");
    let back: Vec<Term> = serde_json::from_str(&json).expect("terms deserialise");
    assert_eq!(back, terms);
});
