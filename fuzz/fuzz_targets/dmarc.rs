//! DMARC record parser: never panics; an accepted record always has a policy, a
//! percentage within 0–100 and only report URIs taken verbatim from the record; warnings
//! are bounded by the number of tags and URIs; the record survives a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxmap::grade::dmarc::{self, DmarcRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match dmarc::parse_record(text) {
        Ok(record) => {
            assert!(record.p.is_some(), "accepted without a policy");
            assert!(record.pct <= 100);
            for uri in record.rua.iter().chain(&record.ruf) {
                assert!(!uri.is_empty());
                assert!(!uri.contains([',', ';']), "URI {uri:?} spans a separator");
                assert!(text.contains(uri.as_str()));
            }
            let pieces = text.matches([';', ',']).count();
            assert!(
                record.warnings.len() <= pieces + 2,
                "{} warnings for {pieces} separators",
                record.warnings.len()
            );
            let json = serde_json::to_string(&record).expect("record serialises");
            let back: DmarcRecord = serde_json::from_str(&json).expect("record deserialises");
            assert_eq!(back, record);
        }
        Err(why) => assert!(!why.is_empty()),
    }
});
