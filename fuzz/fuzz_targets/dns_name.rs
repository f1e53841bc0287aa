//! DNS names in presentation form (used by every name the scan reads from text): never
//! panics; an accepted name prints as printable ASCII only, prints and re-parses to the
//! same name, and converts to hickory's form and back without loss.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxmap::name::DnsName;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = DnsName::parse(text) else {
        return;
    };
    let shown = name.to_string();
    assert!(
        shown.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{shown:?} is not printable ASCII"
    );
    let again = DnsName::parse(&shown).expect("printed name re-parses");
    assert_eq!(again, name, "{shown:?}");
    let hickory = name.to_hickory();
    assert_eq!(DnsName::from_hickory(&hickory).expect("from hickory"), name);
    if let Some(parent) = name.parent(1) {
        assert!(name.is_subdomain_of(&parent));
    }
});
