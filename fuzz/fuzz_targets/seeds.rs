//! Seed file parser: the first byte picks the country, the rest is the file. Never
//! panics; every municipality has a trimmed non-empty id and name and a line number
//! inside the file; every accepted domain is already normal (parsing its ASCII or its
//! Unicode form again gives the same name).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mxmap::countries::{COUNTRIES, Country};
use mxmap::seeds::{self, Domain};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let all: &'static [Country; 47] = &COUNTRIES;
    let country = &all[usize::from(pick) % all.len()];
    let Ok(parsed) = seeds::parse_file(text, Path::new("fuzz.json"), country) else {
        return;
    };
    let lines = text.split('\n').count();
    for (index, m) in parsed.municipalities.iter().enumerate() {
        assert_eq!(m.origin.index, index);
        assert!(
            m.origin.line >= 1 && m.origin.line <= lines,
            "line {}",
            m.origin.line
        );
        assert!(!m.id.is_empty() && m.id.trim() == m.id);
        assert!(!m.name.is_empty() && m.name.trim() == m.name);
        assert_eq!(m.country.code, country.code);
        assert!(m.domain.is_none() || m.domain_problem.is_none());
        if let Some(domain) = &m.domain {
            let again = Domain::parse(&domain.ascii.to_string()).expect("ASCII form re-parses");
            assert_eq!(again.ascii, domain.ascii);
            let from_unicode = Domain::parse(&domain.unicode).expect("Unicode form re-parses");
            assert_eq!(from_unicode.ascii, domain.ascii, "{:?}", domain.unicode);
        }
    }
    // Country mismatch, domain, osm_relation_id and population: at most four per entry.
    assert!(parsed.warnings.len() <= 4 * parsed.municipalities.len());
});
