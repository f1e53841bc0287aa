//! Tests of [`super`] (zonefile.rs), kept beside it so the module stays readable.

use super::*;

fn parse(text: &str) -> (Zone, Vec<Problem>) {
    parse_zone(text, Path::new("test.zone"), None)
}

const HEAD: &str = "$ORIGIN ee.\n$TTL 3600\n@ IN SOA ns.replay.invalid. hostmaster.replay.invalid. 2026070101 3600 900 604800 300\n@ IN NS ns.replay.invalid.\n";

fn only(zone: &Zone, owner: &str, rtype: RecordType) -> Vec<RData> {
    let name = DnsName::parse(owner).unwrap().to_hickory();
    zone.records
        .iter()
        .filter(|r| r.name == name && r.record_type() == rtype)
        .map(|r| r.data.clone())
        .collect()
}

fn first_label(name: &Name) -> Vec<u8> {
    name.iter().next().unwrap().to_vec()
}

#[test]
fn ordinary_records_load() {
    let text = format!(
        "{HEAD}alutagusevald.ee. IN MX 10 alutagusevald-ee.mail.protection.outlook.com.\n\
             alutagusevald.ee. IN TXT \"v=spf1 a mx include:spf.protection.outlook.com ~all\"\n\
             selector1._domainkey.anija.ee. IN CNAME selector1-anija-ee._domainkey.anija.onmicrosoft.com.\n\
             _autodiscover._tcp.antsla.ee. IN SRV 0 0 443 mailconfig.zone.eu.\n\
             mh1.elkdata.ee. IN A 127.1.39.199\n\
             v6.elkdata.ee. 60 IN AAAA ::1\n\
             _25._tcp.mx.ee. IN TLSA 3 1 1 0123456789abcdef 0123456789ABCDEF\n\
             ee. IN CAA 0 issue \"letsencrypt.org\"\n\
             1.0.0.127.ee. IN PTR localhost.\n"
    );
    let (zone, problems) = parse(&text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(zone.origin, DnsName::parse("ee").unwrap());
    assert_eq!(zone.records.len(), 11);
    let mx = only(&zone, "alutagusevald.ee", RecordType::MX);
    let RData::MX(mx) = &mx[0] else { panic!() };
    assert_eq!(mx.preference, 10);
    assert_eq!(
        mx.exchange.to_ascii(),
        "alutagusevald-ee.mail.protection.outlook.com."
    );
    let srv = only(&zone, "_autodiscover._tcp.antsla.ee", RecordType::SRV);
    let RData::SRV(srv) = &srv[0] else { panic!() };
    assert_eq!((srv.priority, srv.weight, srv.port), (0, 0, 443));
    let tlsa = only(&zone, "_25._tcp.mx.ee", RecordType::TLSA);
    let RData::TLSA(tlsa) = &tlsa[0] else {
        panic!()
    };
    assert_eq!(tlsa.cert_data.len(), 16);
    assert_eq!(
        zone.records
            .iter()
            .find(|r| r.record_type() == RecordType::AAAA)
            .unwrap()
            .ttl,
        60
    );
    assert_eq!(only(&zone, "ee", RecordType::CAA).len(), 1);
}

#[test]
fn txt_decimal_escapes_and_several_strings() {
    let text = format!(
        "{HEAD}a.ee. IN TXT \"v=spf1\\194\\160 include:x.ee ~all\"\n\
             b.ee. IN TXT \"tab\\009nl\\010cr\\013q\\\"end\"\n\
             c.ee. IN TXT \"abc\" \"def\" unquoted\\032word\n\
             d.ee. IN TXT \"semi;colon (paren)\" ; real comment\n"
    );
    let (zone, problems) = parse(&text);
    assert!(problems.is_empty(), "{problems:?}");
    let txt = |owner: &str| -> Vec<Vec<u8>> {
        let RData::TXT(t) = &only(&zone, owner, RecordType::TXT)[0] else {
            panic!()
        };
        t.txt_data.iter().map(|s| s.to_vec()).collect()
    };
    assert_eq!(
        txt("a.ee"),
        vec![b"v=spf1\xc2\xa0 include:x.ee ~all".to_vec()]
    );
    assert_eq!(txt("b.ee"), vec![b"tab\tnl\ncr\rq\"end".to_vec()]);
    assert_eq!(
        txt("c.ee"),
        vec![b"abc".to_vec(), b"def".to_vec(), b"unquoted word".to_vec()]
    );
    assert_eq!(txt("d.ee"), vec![b"semi;colon (paren)".to_vec()]);
}

#[test]
fn odd_names_keep_their_bytes() {
    let text = format!(
        "{HEAD}comune.ziano.tn.ee. IN MX 10 \\032alt1.aspmx.l.google.com.\n\
             _autodiscover._tcp.x.ee. IN SRV 0 0 443 autoconfig.dreamhost.com\\@.\n\
             selector1._domainkey.y.ee. IN CNAME s._domainkey.y.onmicrosoft.com\\032.\n\
             fornoles.ee. IN MX 10 ~.\n\
             nullmx.ee. IN MX 0 .\n\
             spf1_spf55440.spf-protect.ee. IN TXT \"v=spf1 -all\"\n"
    );
    let (zone, problems) = parse(&text);
    assert!(problems.is_empty(), "{problems:?}");
    let mx = |owner: &str| -> Name {
        let RData::MX(mx) = &only(&zone, owner, RecordType::MX)[0] else {
            panic!()
        };
        mx.exchange.clone()
    };
    assert_eq!(first_label(&mx("comune.ziano.tn.ee")), b" alt1");
    assert_eq!(first_label(&mx("fornoles.ee")), b"~");
    assert_eq!(mx("fornoles.ee").num_labels(), 1);
    assert!(mx("nullmx.ee").is_root());
    let RData::SRV(srv) = &only(&zone, "_autodiscover._tcp.x.ee", RecordType::SRV)[0] else {
        panic!()
    };
    assert_eq!(srv.target.iter().nth(2).unwrap(), b"com@");
    let RData::CNAME(cname) = &only(&zone, "selector1._domainkey.y.ee", RecordType::CNAME)[0]
    else {
        panic!()
    };
    assert_eq!(cname.0.iter().next_back().unwrap(), b"com ");
    assert_eq!(
        only(&zone, "spf1_spf55440.spf-protect.ee", RecordType::TXT).len(),
        1
    );
}

#[test]
fn decimal_not_octal() {
    // \065 is 'A' (65 decimal), which folds to 'a'; octal would give '5'.
    let (zone, problems) = parse(&format!("{HEAD}x\\065y.ee. IN A 127.0.0.1\n"));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(first_label(&zone.records[2].name), b"xay");
}

#[test]
fn relative_names_blank_owner_ttl_class_order() {
    let text = "$ORIGIN origin.asn.cymru.com.\n\
                    @ 3600 IN SOA ns hostmaster 1 2h 15m 1w 300\n\
                    1.0.1.127 IN TXT \"3301 | 127.1.0.1/32 | SE | ripencc | 2000-01-01\"\n\
                    \x20         60 TXT \"second\"\n\
                    2.0.1.127 IN 120 A 127.0.0.2\n\
                    \tNS ns.other.\n\
                    mx MX 10 mail\n";
    let (zone, problems) = parse_zone(text, Path::new("origin.asn.cymru.com.zone"), None);
    assert!(problems.is_empty(), "{problems:?}");
    let owner = DnsName::parse("1.0.1.127.origin.asn.cymru.com")
        .unwrap()
        .to_hickory();
    let at_owner: Vec<_> = zone.records.iter().filter(|r| r.name == owner).collect();
    assert_eq!(at_owner.len(), 2);
    assert_eq!(at_owner[1].ttl, 60);
    let a = zone
        .records
        .iter()
        .find(|r| r.record_type() == RecordType::A)
        .unwrap();
    assert_eq!(a.ttl, 120);
    assert_eq!(a.name.to_ascii(), "2.0.1.127.origin.asn.cymru.com.");
    let ns = zone
        .records
        .iter()
        .find(|r| r.record_type() == RecordType::NS)
        .unwrap();
    assert_eq!(ns.name, a.name);
    let RData::SOA(soa) = &zone.records[0].data else {
        panic!()
    };
    assert_eq!(soa.mname.to_ascii(), "ns.origin.asn.cymru.com.");
    assert_eq!(
        (soa.refresh, soa.retry, soa.expire, soa.minimum),
        (7200, 900, 604_800, 300)
    );
    let RData::MX(mx) = &zone.records.last().unwrap().data else {
        panic!()
    };
    assert_eq!(mx.exchange.to_ascii(), "mail.origin.asn.cymru.com.");
    // $TTL absent: the last explicit TTL carries over.
    assert_eq!(zone.records.last().unwrap().ttl, 120);
}

#[test]
fn origin_from_default_or_file_name() {
    let body = "@ IN SOA ns.x. h.x. 1 1 1 1 1\nwww IN A 127.0.0.1\n";
    let (zone, _) = parse_zone(body, Path::new("/tmp/zones/de.zone"), None);
    assert_eq!(zone.origin.to_string(), "de");
    assert_eq!(zone.records[1].name.to_ascii(), "www.de.");
    let (zone, _) = parse_zone(body, Path::new("origin.asn.cymru.com.zone"), None);
    assert_eq!(zone.origin.to_string(), "origin.asn.cymru.com");
    let default = DnsName::parse("example.org").unwrap();
    let (zone, _) = parse_zone(body, Path::new("de.zone"), Some(&default));
    assert_eq!(zone.origin, default);
    let (zone, _) = parse_zone(
        &format!("$ORIGIN it.\n{body}"),
        Path::new("de.zone"),
        Some(&default),
    );
    assert_eq!(zone.origin.to_string(), "it");
}

#[test]
fn parentheses_span_lines() {
    let text = "$ORIGIN example.org.\n\
                    @ IN SOA ns.example.org. hostmaster.example.org. ( ; comment\n\
                    \x20   2026070101 ; serial\n\
                    \x20   3600 900\n\
                    \x20   604800 300 )\n\
                    www IN TXT ( \"one\"\n\
                    \x20  \"two\" )\n\
                    www2 IN A 127.0.0.9\n";
    let (zone, problems) = parse_zone(text, Path::new("x.zone"), None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(zone.records.len(), 3);
    let RData::SOA(soa) = &zone.records[0].data else {
        panic!()
    };
    assert_eq!((soa.serial, soa.minimum), (2026070101, 300));
    let RData::TXT(txt) = &zone.records[1].data else {
        panic!()
    };
    assert_eq!(txt.txt_data.len(), 2);
    assert_eq!(zone.records[2].name.to_ascii(), "www2.example.org.");
}

#[test]
fn bad_lines_are_reported_and_the_rest_loads() {
    let text = format!(
        "{HEAD}good1.ee. IN A 127.0.0.1\n\
             bad1.ee. IN A 999.0.0.1\n\
             bad2.ee. IN MX ten mx.ee.\n\
             \n\
             ; comment\n\
             bad3.ee. IN TXT \"unterminated\n\
             bad4.ee. IN HINFO \"cpu\" \"os\"\n\
             bad5.other. IN A 127.0.0.1\n\
             bad6.ee. IN TXT \"{}\"\n\
             bad7.ee. IN A 127.0.0.1 127.0.0.2\n\
             bad8..ee. IN A 127.0.0.1\n\
             $INCLUDE other.zone\n\
             alias.ee. IN CNAME good1.ee.\n\
             alias.ee. IN TXT \"not allowed next to a CNAME\"\n\
             good2.ee. IN A 127.0.0.2\n\
             bad9.ee. IN SOA ns. h. 1 1 1 1 1\n\
             bad10.ee. IN TXT \"x\\256\"\n",
        "x".repeat(256)
    );
    let (zone, problems) = parse(&text);
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![6, 7, 10, 11, 12, 13, 14, 15, 16, 18, 20, 21],
        "{problems:#?}"
    );
    assert!(
        problems[0].to_string().starts_with("test.zone:6: bad IPv4"),
        "{}",
        problems[0]
    );
    let names: Vec<String> = zone.records.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(
        names,
        vec!["ee.", "ee.", "good1.ee.", "alias.ee.", "good2.ee."]
    );
}

#[test]
fn unbalanced_parentheses_and_missing_soa() {
    // An unclosed '(' loses its own line only; the record after it still loads.
    let text = "$ORIGIN a.\nx IN TXT ( \"open\"\ny IN A 127.0.0.1\n";
    let (zone, problems) = parse_zone(text, Path::new("a.zone"), None);
    assert_eq!(zone.records.len(), 1, "{:?}", zone.records);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].line, 2);
    assert!(problems[0].message.contains("unclosed"));
    assert!(problems[0].to_string().starts_with("a.zone:2: "));
    assert_eq!(problems[1].line, 0);
    assert!(problems[1].message.contains("no SOA"));

    // A later ')' would have closed it and swallowed the records in between.
    let text = "$ORIGIN a.\n@ IN SOA ns. h. 1 1 1 1 1\nx IN TXT ( \"open\"\ny IN A 127.0.0.1\nz IN A 127.0.0.2 )\nw IN A 127.0.0.3\n";
    let (zone, problems) = parse_zone(text, Path::new("a.zone"), None);
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![3, 5], "{problems:?}");
    assert!(problems[0].message.contains("line 4 starts a new record"));
    let names: Vec<String> = zone.records.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(names, vec!["a.", "y.a.", "w.a."]);

    // Continuation lines that are not records are fine, indented or not.
    let text = "$ORIGIN a.\n@ IN SOA ns. h. (\n1 ; serial\n  1 1 1 1 )\n";
    let (zone, problems) = parse_zone(text, Path::new("a.zone"), None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(zone.records.len(), 1);

    // Many unclosed parentheses: bounded work, the rest given up with a count.
    let text = format!(
        "$ORIGIN a.\n{}",
        "x IN TXT ( \"a\"\n".repeat(MAX_REWINDS + 5)
    );
    let (_, problems) = parse_zone(&text, Path::new("a.zone"), None);
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("were not loaded"))
    );

    let text = "$ORIGIN a.\n@ IN SOA ns. h. 1 1 1 1 1\nx IN A 127.0.0.1 )\ny IN A 127.0.0.2\n";
    let (zone, problems) = parse_zone(text, Path::new("a.zone"), None);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, 3);
    assert_eq!(zone.records.len(), 2);
}

#[test]
fn generic_rfc3597_form() {
    let text = format!("{HEAD}g.ee. IN TYPE65280 \\# 3 abcdef\nh.ee. IN A \\# 4 7f000001\n");
    let (zone, problems) = parse(&text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(zone.records[2].record_type(), RecordType::Unknown(65280));
    assert_eq!(zone.records[3].data, RData::A(A::new(127, 0, 0, 1)));
}

#[test]
fn ttl_units() {
    assert_eq!(parse_ttl("3600"), Ok(3600));
    assert_eq!(parse_ttl("1h30m"), Ok(5400));
    assert_eq!(parse_ttl("1W"), Ok(604_800));
    assert!(parse_ttl("1x").is_err());
    assert!(parse_ttl("h").is_err());
    assert!(parse_ttl("99999999999").is_err());
    // Many large units in one token used to overflow the running sum (a panic in
    // debug builds, a wrapped TTL in release).
    assert!(parse_ttl(&"4294967295w".repeat(8000)).is_err());
}
