//! Tests of the catalogue: loading, validation, matching and the embedded table.

use super::*;
use crate::name::DnsName;

fn name(text: &str) -> DnsName {
    DnsName::parse(text).unwrap()
}

fn cat() -> &'static Catalog {
    Catalog::embedded()
}

fn mx_id(host: &str) -> Option<String> {
    cat().match_mx(&name(host)).map(|m| m.entry.id.clone())
}

/// A minimal valid table with `extra` appended as further TOML.
fn table(extra: &str) -> String {
    format!(
        "[meta]\nversion = \"t\"\n\n[[entry]]\nid = \"base\"\nname = \"Base\"\nhq = \"DE\"\n\
         roles = [\"provider\"]\nmx = [\"base.example\"]\nsource = \"test\"\n{extra}"
    )
}

fn entry(id: &str, role: &str, body: &str) -> String {
    format!(
        "\n[[entry]]\nid = \"{id}\"\nname = \"{id}\"\nhq = \"DE\"\nroles = [\"{role}\"]\n\
         source = \"test\"\n{body}\n"
    )
}

fn error(extra: &str) -> String {
    Catalog::from_toml(&table(extra)).unwrap_err().to_string()
}

#[test]
fn embedded_table_is_valid() {
    let c = Catalog::from_toml(include_str!("../signatures.toml")).unwrap();
    assert!(!c.version().is_empty());
    assert!(c.entries().len() > 100);
    for id in ["microsoft", "google", "aws", "zoho", "yandex"] {
        let e = c.entry(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(e.scope, Scope::Global, "{id}");
        assert_eq!(e.primary_role(), Role::Provider, "{id}");
    }
    let global: Vec<_> = c
        .entries()
        .iter()
        .filter(|e| e.scope == Scope::Global)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(global, ["microsoft", "google", "aws", "zoho", "yandex"]);
}

/// Exactness guard: in the reviewed table no suffix pattern is claimed by two entries
/// within one signal, so precedence never has to pick between identical patterns.
#[test]
fn embedded_table_has_no_shared_patterns() {
    let c = cat();
    for (what, index) in [
        ("mx", &c.mx),
        ("spf", &c.spf),
        ("dkim", &c.dkim),
        ("autodiscover", &c.autodiscover),
        ("banner", &c.banner),
    ] {
        for (pattern, ids) in index.holders(&c.entries) {
            assert_eq!(ids.len(), 1, "{what} pattern {pattern} shared by {ids:?}");
        }
    }
}

#[test]
fn mx_hosts_of_the_global_providers() {
    assert_eq!(
        mx_id("x-de.mail.protection.outlook.com").as_deref(),
        Some("microsoft")
    );
    assert_eq!(
        mx_id("aalsmeer-nl.e-v1.mx.microsoft").as_deref(),
        Some("microsoft")
    );
    assert_eq!(mx_id("aspmx.l.google.com").as_deref(), Some("google"));
    assert_eq!(mx_id("ALT1.ASPMX.L.GOOGLE.COM.").as_deref(), Some("google"));
    assert_eq!(
        mx_id("\\032alt2.aspmx.l.google.com").as_deref(),
        Some("google")
    );
    assert_eq!(
        mx_id("inbound-smtp.eu-west-1.amazonaws.com").as_deref(),
        Some("aws")
    );
    let m = cat()
        .match_mx(&name("x-de.mail.protection.outlook.com"))
        .unwrap();
    assert_eq!(m.kind, PatternKind::Suffix);
    assert_eq!(m.pattern, "mail.protection.outlook.com");
    assert_eq!(
        m.describe(),
        "microsoft: suffix mail.protection.outlook.com"
    );
}

#[test]
fn suffixes_respect_label_boundaries() {
    assert_eq!(mx_id("mailgw01.host.it").as_deref(), Some("host-it"));
    assert_eq!(mx_id("host.it").as_deref(), Some("host-it"));
    assert_eq!(mx_id("ghost.it"), None);
    assert_eq!(mx_id("mail.ghost.it"), None);
    assert_eq!(mx_id("myhost.it"), None);
    // A label that contains a literal dot must not fake a boundary: only the real
    // suffix outlook.com matches here, not mail.protection.outlook.com.
    let m = cat()
        .match_mx(&name("x.mail\\.protection.outlook.com"))
        .unwrap();
    assert_eq!(m.pattern, "outlook.com");
    assert_eq!(mx_id("mail\\.ghost.host.it").as_deref(), Some("host-it"));
}

#[test]
fn label_prefix_matches_libraesva_and_fortimail() {
    let m = cat().match_mx(&name("esva.foo.it")).unwrap();
    assert_eq!(m.entry.id, "libraesva");
    assert_eq!(m.kind, PatternKind::LabelPrefix);
    assert_eq!(m.pattern, "esva");
    assert_eq!(
        mx_id("mx.esva-cloud.example.com").as_deref(),
        Some("libraesva")
    );
    assert_eq!(mx_id("fortimail.esicloud.be").as_deref(), Some("fortimail"));
    // Only a label *prefix*: "vesva" and "myfortimail" do not count.
    assert_eq!(mx_id("vesva.example.it"), None);
    assert_eq!(mx_id("myfortimail.example.it"), None);
}

#[test]
fn longest_pattern_wins() {
    // pec.aruba.it (PEC) is longer than aruba.it (provider).
    assert_eq!(mx_id("mx.pec.aruba.it").as_deref(), Some("aruba-pec"));
    assert_eq!(mx_id("in.arubabusiness.it").as_deref(), Some("aruba"));
    assert_eq!(mx_id("smtp.aruba.it").as_deref(), Some("aruba"));
    // An explicit host beats a label prefix when it is longer …
    assert_eq!(mx_id("fortimail.lapit.fi").as_deref(), Some("lapit"));
    // … and the longer suffix wins within one entry too.
    let m = cat()
        .match_mx(&name("a.mail.protection.outlook.com"))
        .unwrap();
    assert_eq!(m.pattern, "mail.protection.outlook.com");
}

#[test]
fn role_precedence_breaks_equal_length_ties() {
    let toml = table(
        &[
            entry("zz-provider", "provider", "mx = [\"shared.example\"]"),
            entry(
                "aa-gateway",
                "gateway",
                "mx = [\"shared.example\", \"gw.example\"]",
            ),
            entry("isp-b", "isp", "mx = [\"gw.example\", \"net.example\"]"),
            entry("isp-a", "isp", "mx = [\"net.example\"]"),
            entry("pub", "public_shared", "mx = [\"pub.example\"]"),
            entry("send", "sender", "mx = [\"pub.example\"]"),
            // Label prefix and suffix of equal length (12 characters).
            entry("pfx", "gateway", "mx_label_prefix = [\"abcdefghijkl\"]"),
            entry("sfx", "provider", "mx = [\"abcdefgh.org\"]"),
        ]
        .concat(),
    );
    let c = Catalog::from_toml(&toml).unwrap();
    let id = |h: &str| c.match_mx(&name(h)).map(|m| m.entry.id.clone());
    assert_eq!(id("mx.shared.example").as_deref(), Some("zz-provider"));
    assert_eq!(id("mx.gw.example").as_deref(), Some("aa-gateway"));
    assert_eq!(id("mx.net.example").as_deref(), Some("isp-a"));
    assert_eq!(id("mx.pub.example").as_deref(), Some("pub"));
    assert_eq!(id("abcdefghijkl.abcdefgh.org").as_deref(), Some("sfx"));
    assert_eq!(id("abcdefghijklm.example.net").as_deref(), Some("pfx"));
}

#[test]
fn txt_tokens_ignore_case() {
    let m = cat().match_txt("ms=ms123").unwrap();
    assert_eq!(m.entry.id, "microsoft");
    assert_eq!(m.kind, PatternKind::TxtPrefix);
    assert!(!m.weak);
    assert_eq!(m.describe(), "microsoft: txt_prefix MS=ms");
    assert_eq!(cat().match_txt("MS=MS98765").unwrap().entry.id, "microsoft");
    let g = cat().match_txt("google-site-verification=abc").unwrap();
    assert_eq!(g.entry.id, "google");
    assert!(g.weak);
    assert_eq!(
        g.describe(),
        "google: txt_prefix google-site-verification= (weak)"
    );
    assert!(cat().match_txt("v=spf1 include:ms=ms1 -all").is_none());
    assert!(cat().match_txt("ms=").is_none());
}

#[test]
fn asns_name_networks() {
    let m = cat().match_asn(8075).unwrap();
    assert_eq!(m.entry.id, "microsoft");
    assert_eq!(m.kind, PatternKind::Asn);
    assert_eq!(m.pattern, "8075");
    assert_eq!(m.describe(), "microsoft: asn 8075");
    for (asn, id) in [(50964, "komm-one"), (33846, "dataport")] {
        let m = cat().match_asn(asn).unwrap();
        assert_eq!(m.entry.id, id);
        assert_eq!(m.entry.primary_role(), Role::PublicShared);
    }
    assert_eq!(
        cat().match_asn(3320).unwrap().entry.primary_role(),
        Role::Isp
    );
    assert!(cat().match_asn(64512).is_none());
    // No gateway ever answers for an ASN.
    assert!(
        cat()
            .entries()
            .iter()
            .filter(|e| e.has_role(Role::Gateway))
            .all(|e| e.asns.is_empty())
    );
}

#[test]
fn other_signals() {
    let spf = cat()
        .match_spf(&name("spf.protection.outlook.com"))
        .unwrap();
    assert_eq!((spf.entry.id.as_str(), spf.weak), ("microsoft", false));
    let ses = cat().match_spf(&name("amazonses.com")).unwrap();
    assert_eq!((ses.entry.id.as_str(), ses.weak), ("aws", true));
    assert_eq!(
        cat()
            .match_spf(&name("servers.mcsv.net"))
            .unwrap()
            .entry
            .primary_role(),
        Role::Sender
    );
    let dkim = name("selector1-x-de._domainkey.tenant.onmicrosoft.com");
    assert_eq!(cat().match_dkim(&dkim).unwrap().entry.id, "microsoft");
    let dkim = name("selector1-a-at._domainkey.mson1.y-v1.dkim.mail.microsoft");
    assert_eq!(cat().match_dkim(&dkim).unwrap().entry.id, "microsoft");
    let ad = cat()
        .match_autodiscover(&name("autodiscover.outlook.com"))
        .unwrap();
    assert_eq!((ad.entry.id.as_str(), ad.weak), ("microsoft", false));
    let ad = cat().match_autodiscover(&name("google.com")).unwrap();
    assert_eq!((ad.entry.id.as_str(), ad.weak), ("google", true));
    assert_eq!(
        cat().match_banner(&name("mx.google.com")).unwrap().entry.id,
        "google"
    );
    assert!(cat().match_banner(&name("vm1.google.com")).is_none());
}

#[test]
fn every_validation_error_names_the_entry() {
    let cases: Vec<(String, &str)> = vec![
        (entry("Bad_Id", "isp", "asns = [1]"), "\"Bad_Id\""),
        (
            entry("base", "isp", "asns = [1]"),
            "entry \"base\": id appears more than once",
        ),
        (
            entry("x1", "isp", "asns = [8075]") + &entry("x2", "isp", "asns = [8075]"),
            "ASN 8075 is listed by entry \"x1\" and again by entry \"x2\"",
        ),
        (
            entry("priv", "isp", "asns = [65050]"),
            "entry \"priv\": ASN 65050 is private use",
        ),
        (
            entry("upper", "isp", "mx = [\"Mail.Example.com\"]"),
            "entry \"upper\": pattern \"Mail.Example.com\"",
        ),
        (
            entry("dot", "isp", "mx = [\"example.com.\"]"),
            "entry \"dot\": pattern \"example.com.\"",
        ),
        (
            entry("tld", "isp", "spf = [\"com\"]"),
            "entry \"tld\": pattern \"com\"",
        ),
        (
            entry("empty", "isp", "dkim = [\"a..b\"]"),
            "entry \"empty\": pattern \"a..b\"",
        ),
        (
            entry("odd", "isp", "banner = [\"a b.example\"]"),
            "entry \"odd\": pattern \"a b.example\"",
        ),
        (
            entry("pfx", "gateway", "mx_label_prefix = [\"esva.x\"]"),
            "entry \"pfx\": pattern \"esva.x\"",
        ),
        (
            entry("tx", "provider", "txt = [\"ms \"]"),
            "entry \"tx\": pattern \"ms \"",
        ),
        (
            entry("twice", "isp", "mx = [\"a.example\", \"a.example\"]"),
            "entry \"twice\": pattern",
        ),
        (
            entry("cc", "isp", "asns = [1]").replace("hq = \"DE\"", "hq = \"de\""),
            "entry \"cc\": hq \"de\"",
        ),
        (
            entry("cc3", "isp", "asns = [1]").replace("hq = \"DE\"", "hq = \"DEU\""),
            "entry \"cc3\": hq \"DEU\"",
        ),
        (
            entry("noroles", "isp", "asns = [1]").replace("roles = [\"isp\"]", "roles = []"),
            "entry \"noroles\": roles must not be empty",
        ),
        (
            entry("tworoles", "isp", "asns = [1]").replace("[\"isp\"]", "[\"isp\", \"isp\"]"),
            "entry \"tworoles\": role isp is listed twice",
        ),
        (
            entry("gw", "gateway", "asns = [16509]"),
            "entry \"gw\": a gateway entry must not list ASNs",
        ),
        (
            entry("gw2", "provider", "asns = [7]")
                .replace("[\"provider\"]", "[\"provider\", \"gateway\"]"),
            "entry \"gw2\": a gateway entry must not list ASNs",
        ),
        (
            entry("glob", "isp", "scope = \"global\"\nasns = [1]"),
            "entry \"glob\": scope \"global\"",
        ),
        (
            entry("nothing", "isp", ""),
            "entry \"nothing\": has no patterns and no ASNs",
        ),
        (
            entry("noname", "isp", "asns = [1]").replace("name = \"noname\"", "name = \" \""),
            "entry \"noname\": name must not be empty",
        ),
    ];
    for (extra, expected) in cases {
        let msg = error(&extra);
        assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
    }
    // Shape errors come from TOML, with the key named.
    let msg = error(&entry("typo", "isp", "asn = [1]"));
    assert!(msg.contains("asn"), "{msg}");
    let msg = error(&entry("role", "isp", "asns = [1]").replace("\"isp\"]", "\"hoster\"]"));
    assert!(msg.contains("hoster"), "{msg}");
    assert!(matches!(
        Catalog::from_toml("[meta]\nversion = \"\"\n"),
        Err(CatalogError::MissingVersion)
    ));
}

#[test]
fn empty_note_reads_as_none() {
    let c = Catalog::from_toml(&table("note = \"\"\n")).unwrap();
    assert_eq!(c.entry("base").unwrap().note, None);
}
