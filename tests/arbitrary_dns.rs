//! A property test of the whole per-domain path: arbitrary bytes (non-ASCII, invalid
//! UTF-8, NUL, quotes, separators) at every position of every DNS text the scan
//! interprets — SPF and its includes, DMARC, TLS-RPT, MTA-STS, verification tokens,
//! the origin (ASN) answers, MX and CNAME targets — served by the real in-process DNS
//! server and taken through scan → classify → grade → page by the real binary.
//!
//! The cases are generated, not random: domain `i` carries payload `i mod 12` at
//! position `i / 12` of each of its texts (inserted for even payloads, replacing the
//! byte there for odd ones; texts shorter than that wrap around), so every payload
//! meets every position of the longest text. The build must succeed without a panic,
//! every domain must be scanned (no scan error), and every record must satisfy the
//! schema and have its page.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use common::*;

/// Longest text a case mutates (the SPF and DMARC records, domain included).
const LONGEST: usize = 90;
/// Domains generated: every payload at every position of the longest text.
const CASES: usize = PAYLOADS.len() * (LONGEST + 1);

/// What is put into the texts: broken and valid multi-byte UTF-8, bytes that are
/// never UTF-8, NUL, and the characters the grammars split on.
const PAYLOADS: [&[u8]; 12] = [
    b"\xc3\xa9",         // é
    b"\xe2\x82\xac",     // €
    b"\xf0\x9f\x98\x80", // 4-byte emoji
    b"\xc3",             // lead byte, no continuation
    b"\xa9",             // lone continuation byte
    b"\xff",             // never UTF-8
    b"\xfe\xff",         // a UTF-16 byte-order mark
    b"\xe2\x82",         // truncated 3-byte sequence
    b"\x00",             // NUL
    b"\"",               // a quote
    b";=:",              // separators of tags and mechanisms
    b"\x80\x80\x80",     // continuation bytes only
];

/// `base` with payload `i mod 12` inserted at (even payloads) or replacing the byte
/// at (odd ones) position `i / 12`, wrapped to the length of `base`.
fn mutate(base: &[u8], i: usize) -> Vec<u8> {
    assert!(base.len() <= LONGEST, "{} bytes: raise LONGEST", base.len());
    let k = i % PAYLOADS.len();
    let pos = (i / PAYLOADS.len()) % (base.len() + 1);
    let mut out = base[..pos].to_vec();
    out.extend_from_slice(PAYLOADS[k]);
    let replace = k % 2 == 1 && pos < base.len();
    out.extend_from_slice(&base[pos + usize::from(replace)..]);
    out
}

/// A TXT string in master-file form: printable ASCII as is, everything else `\DDD`.
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:03}");
        }
    }
    out.push('"');
    out
}

/// A name label in master-file form (a `.` inside a label is escaped too).
fn label(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:03}");
        }
    }
    out
}

/// Writes the world (`zones/ee.zone`, `zones/origin.asn.cymru.com.zone`) and the
/// seeds (`ee.json`) of the generated cases into `dir`.
fn generate(dir: &Path) {
    let mut ee = String::from(
        "$ORIGIN ee.\n$TTL 300\n@ IN SOA ns.test.invalid. hostmaster.test.invalid. 1 3600 900 604800 300\n@ IN NS ns.test.invalid.\n",
    );
    let mut origin = String::from(
        "$ORIGIN origin.asn.cymru.com.\n$TTL 300\n@ IN SOA ns.test.invalid. hostmaster.test.invalid. 1 3600 900 604800 300\n@ IN NS ns.test.invalid.\n",
    );
    let mut seeds = Vec::new();
    for i in 0..CASES {
        let d = format!("p{i:03}.ee.");
        let text = |base: String| quoted(&mutate(base.as_bytes(), i));
        let mx = format!("{}.{d}", label(&mutate(b"mail-host", i)));
        let octet = i % 250 + 1;
        let third = 200 + i / 250;
        let _ = writeln!(ee, "{d} IN MX 10 {mx}");
        let _ = writeln!(ee, "{mx} IN A 127.1.{third}.{octet}");
        let _ = writeln!(
            ee,
            "{d} IN TXT {}",
            text(format!(
                "v=spf1 include:_spf.{d} a mx ip4:127.1.0.1 redirect=_spf.{d} ~all"
            ))
        );
        let _ = writeln!(
            ee,
            "_spf.{d} IN TXT {}",
            text("v=spf1 ip4:127.1.0.2 include:spf.protection.outlook.com -all".into())
        );
        let _ = writeln!(ee, "{d} IN TXT {}", text("MS=ms12345678".into()));
        let _ = writeln!(
            ee,
            "{d} IN TXT {}",
            text("google-site-verification=abcDEF123_-xyz".into())
        );
        let _ = writeln!(
            ee,
            "_dmarc.{d} IN TXT {}",
            text(format!(
                "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:dmarc@{d}; adkim=s; fo=1"
            ))
        );
        let _ = writeln!(
            ee,
            "_smtp._tls.{d} IN TXT {}",
            text(format!("v=TLSRPTv1; rua=mailto:tls@{d},https://r.{d}r"))
        );
        let _ = writeln!(
            ee,
            "_mta-sts.{d} IN TXT {}",
            text("v=STSv1; id=20240101T000000".into())
        );
        let _ = writeln!(
            ee,
            "autodiscover.{d} IN CNAME {}.{d}",
            label(&mutate(b"autodiscover-target", i))
        );
        let _ = writeln!(
            ee,
            "selector1._domainkey.{d} IN CNAME {}.{d}",
            label(&mutate(b"selector1-p-ee._domainkey.tenant", i))
        );
        let _ = writeln!(
            origin,
            "{octet}.{third}.1.127.origin.asn.cymru.com. IN TXT {}",
            text(format!(
                "8075 16509 | 127.1.{third}.0/24 | EE | ripencc | 2020-01-01"
            ))
        );
        seeds.push(serde_json::json!({
            "id": format!("EE-P{i:03}"),
            "name": format!("Property {i}"),
            "domain": format!("p{i:03}.ee"),
        }));
    }
    std::fs::create_dir_all(dir.join("world/zones")).unwrap();
    std::fs::create_dir_all(dir.join("seeds")).unwrap();
    std::fs::write(dir.join("world/zones/ee.zone"), ee).unwrap();
    std::fs::write(dir.join("world/zones/origin.asn.cymru.com.zone"), origin).unwrap();
    std::fs::write(
        dir.join("seeds/ee.json"),
        serde_json::to_string_pretty(&seeds).unwrap(),
    )
    .unwrap();
}

#[test]
fn every_payload_meets_every_position() {
    let base = [b'x'; LONGEST];
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..CASES {
        let out = mutate(&base, i);
        let at = out.iter().position(|&b| b != b'x').unwrap_or(out.len());
        seen.insert((i % PAYLOADS.len(), at));
    }
    assert_eq!(seen.len(), CASES, "every (payload, position) pair once");
    // A multi-byte character straddles the end of the DMARC tag in some case.
    assert!((0..CASES).any(|i| {
        let m = mutate(b"v=DMARC1; p=none", i);
        std::str::from_utf8(&m).is_ok_and(|t| !t.is_char_boundary(8))
    }));
}

#[test]
fn arbitrary_bytes_in_every_dns_text_never_break_a_verdict_or_a_page() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(dir);
    let site = dir.join("site");
    let mut cmd = mxmap(dir);
    cmd.args(["build", "--countries", "ee", "--progress", "none"])
        .arg("--world")
        .arg(dir.join("world"))
        .arg("--seeds")
        .arg(dir.join("seeds"))
        .arg("--geodata")
        .arg(fixture("geodata"))
        .arg("--cache")
        .arg(dir.join("cache.json"))
        .arg("--out")
        .arg(&site);
    let out = run(cmd, Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    assert!(
        stderr.contains(" 0 problems"),
        "every record loaded:\n{stderr}"
    );
    let data = data_json(&site);
    assert_eq!(data.len(), CASES);
    let errors = schema_errors(&data);
    assert!(errors.is_empty(), "{errors:#?}");
    for r in &data {
        assert_ne!(r["scan_status"], "error", "{r}");
        assert!(r["category"].is_string(), "{r}");
        let page = site.join(r["page"].as_str().unwrap()).join("index.html");
        let html =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            html.contains(r["domain"].as_str().unwrap()),
            "{} does not name its domain",
            page.display()
        );
    }
}
