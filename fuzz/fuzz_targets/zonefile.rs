//! Zone-file reader: never panics on any text; problems point at lines that exist;
//! there are never more records than lines; every record lies inside the zone and can
//! be written to the wire (what the in-process DNS server will do with it).
#![no_main]

use std::path::Path;

use hickory_proto::serialize::binary::BinEncodable;
use libfuzzer_sys::fuzz_target;
use mxmap::name::DnsName;
use mxmap::world::zonefile;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let default_origin = DnsName::parse("fuzz.example").expect("constant name");
    let origin = (pick & 1 == 1).then_some(&default_origin);
    let (zone, problems) = zonefile::parse_zone(text, Path::new("fuzz.test.zone"), origin);
    let lines = text.split('\n').count();
    for problem in &problems {
        assert!(problem.line <= lines, "{problem}");
        assert!(!problem.message.is_empty());
    }
    assert!(zone.records.len() <= lines);
    for record in &zone.records {
        let owner = DnsName::from_hickory(&record.name).expect("owner converts back");
        assert!(
            owner.is_subdomain_of(&zone.origin),
            "{owner} outside {}",
            zone.origin
        );
        record.to_bytes().expect("record encodes to wire form");
    }
});
