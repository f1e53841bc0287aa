//! Tests of [`super`] (cert.rs), kept beside it so the module stays readable.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;

/// A test CA (or intermediate when `parent` is given), with its own subject name.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

fn ca(name: &str, parent: Option<&Ca>) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.distinguished_name.push(DnType::CountryName, "CH");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("key");
    let cert = match parent {
        None => params.self_signed(&key),
        Some(p) => params.signed_by(&key, &Issuer::from_params(&p.params, &p.key)),
    }
    .expect("ca cert");
    Ca {
        params,
        key,
        der: cert.der().clone(),
    }
}

fn leaf(
    sans: &[&str],
    cn: &str,
    issuer: Option<&Ca>,
    edit: impl FnOnce(&mut CertificateParams),
) -> CertificateDer<'static> {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    edit(&mut params);
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        None => params.self_signed(&key),
        Some(ca) => params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key)),
    }
    .expect("leaf");
    cert.der().clone()
}

fn trust(root: &Ca) -> Trust {
    let mut store = RootCertStore::empty();
    store.add(root.der.clone()).expect("root");
    Trust::new(store, Arc::new(rustls::crypto::ring::default_provider())).expect("trust")
}

fn host(name: &str) -> DnsName {
    DnsName::parse(name).expect("name")
}

/// 2030-01-01, well inside rcgen's default validity.
const NOW: Timestamp = 1_893_456_000;

#[test]
fn valid_chain_through_intermediate() {
    let root = ca("Test Root", None);
    let mid = ca("Test Intermediate", Some(&root));
    let leaf = leaf(&["mx.example.org"], "mx.example.org", Some(&mid), |_| {});
    let eval = trust(&root).evaluate(&host("mx.example.org"), &[leaf, mid.der.clone()], NOW);
    assert!(eval.pkix_valid, "{eval:?}");
    assert!(eval.name_match);
    assert!(eval.problems.is_empty(), "{:?}", eval.problems);
    assert_eq!(eval.chain.len(), 2);
    let info = &eval.chain[0];
    assert_eq!(info.subject, "CN=mx.example.org");
    assert_eq!(info.issuer, "C=CH,CN=Test Intermediate");
    assert_eq!(info.issuer_country.as_deref(), Some("CH"));
    assert_eq!(info.san, vec!["mx.example.org"]);
    assert_eq!((info.key_alg.as_str(), info.key_bits), ("EC", 256));
    assert_eq!(info.sig_alg, "ecdsa-with-SHA256");
    assert_eq!(info.sha256.len(), 64);
    assert_ne!(info.sha256, info.spki_sha256);
}

#[test]
fn missing_intermediate_is_incomplete_chain() {
    let root = ca("Test Root", None);
    let mid = ca("Test Intermediate", Some(&root));
    let leaf = leaf(&["mx.example.org"], "mx.example.org", Some(&mid), |_| {});
    let eval = trust(&root).evaluate(&host("mx.example.org"), &[leaf], NOW);
    assert!(!eval.pkix_valid);
    assert_eq!(eval.problems, vec![CertProblem::IncompleteChain]);
    assert!(eval.pkix_detail.is_some());
}

#[test]
fn self_signed_and_unknown_root() {
    let root = ca("Test Root", None);
    let own = leaf(&["mx.example.org"], "mx.example.org", None, |_| {});
    let eval = trust(&root).evaluate(&host("mx.example.org"), &[own], NOW);
    assert_eq!(eval.problems, vec![CertProblem::SelfSigned]);

    // A whole chain up to a served root that is not trusted.
    let other = ca("Other Root", None);
    let leaf = leaf(&["mx.example.org"], "mx.example.org", Some(&other), |_| {});
    let eval = trust(&root).evaluate(&host("mx.example.org"), &[leaf, other.der.clone()], NOW);
    assert_eq!(eval.problems, vec![CertProblem::UnknownIssuer]);
}

#[test]
fn expired_and_not_yet_valid_keep_the_trust_verdict() {
    let root = ca("Test Root", None);
    let t = trust(&root);
    let old = leaf(&["mx.example.org"], "mx.example.org", Some(&root), |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let eval = t.evaluate(&host("mx.example.org"), &[old], NOW);
    assert!(!eval.pkix_valid);
    assert!(!eval.expires_soon);
    assert_eq!(eval.problems, vec![CertProblem::Expired]);

    let old_self = leaf(&["mx.example.org"], "mx.example.org", None, |p| {
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let eval = t.evaluate(&host("mx.example.org"), &[old_self], NOW);
    assert_eq!(
        eval.problems,
        vec![CertProblem::Expired, CertProblem::SelfSigned]
    );

    let future = leaf(&["mx.example.org"], "mx.example.org", Some(&root), |p| {
        p.not_before = rcgen::date_time_ymd(2031, 1, 1);
    });
    let eval = t.evaluate(&host("mx.example.org"), &[future], NOW);
    assert_eq!(eval.problems, vec![CertProblem::NotYetValid]);
}

#[test]
fn expires_soon_within_fourteen_days() {
    let root = ca("Test Root", None);
    let soon = leaf(&["mx.example.org"], "mx.example.org", Some(&root), |p| {
        p.not_after = rcgen::date_time_ymd(2030, 1, 10);
    });
    let eval = trust(&root).evaluate(&host("mx.example.org"), &[soon], NOW);
    assert!(eval.pkix_valid);
    assert!(eval.expires_soon);
    assert!(eval.problems.is_empty());
}

#[test]
fn names_are_ours_not_webpkis() {
    let root = ca("Test Root", None);
    let t = trust(&root);
    let wrong = leaf(
        &["other.example.org"],
        "mx.example.org",
        Some(&root),
        |_| {},
    );
    let eval = t.evaluate(&host("mx.example.org"), &[wrong], NOW);
    assert!(eval.pkix_valid, "the chain itself is fine");
    assert!(!eval.name_match);
    assert_eq!(eval.problems, vec![CertProblem::NameMismatch]);

    // No SAN at all: the CN counts (webpki alone would refuse the name).
    let cn_only = leaf(&[], "mx.example.org", Some(&root), |_| {});
    let eval = t.evaluate(&host("mx.example.org"), &[cn_only], NOW);
    assert!(eval.name_match && eval.pkix_valid, "{eval:?}");

    let wild = leaf(&["*.example.org"], "wild", Some(&root), |_| {});
    let eval = t.evaluate(&host("MX.example.org"), &[wild], NOW);
    assert!(eval.name_match && eval.pkix_valid);
}

#[test]
fn weak_key_and_sha1_are_flagged() {
    let pem = include_bytes!("../../../tests/fixtures/smtp/weak-rsa1024-sha1.pem");
    let der = CertificateDer::from_pem_slice(pem).expect("fixture");
    let root = ca("Test Root", None);
    let eval = trust(&root).evaluate(&host("weak.mx.test"), &[der], NOW);
    assert!(!eval.pkix_valid);
    assert!(eval.name_match);
    let info = &eval.chain[0];
    assert_eq!((info.key_alg.as_str(), info.key_bits), ("RSA", 1024));
    assert_eq!(info.sig_alg, "sha1WithRSAEncryption");
    assert_eq!(info.subject, "CN=weak.mx.test,O=Weak Test,C=CH");
    for p in [
        CertProblem::SelfSigned,
        CertProblem::WeakKey,
        CertProblem::Sha1Signature,
    ] {
        assert!(
            eval.problems.contains(&p),
            "{p:?} in {:?} {:?}",
            eval.problems,
            eval.pkix_detail
        );
    }
}

#[test]
fn no_or_unreadable_certificate() {
    let root = ca("Test Root", None);
    let t = trust(&root);
    let eval = t.evaluate(&host("mx.example.org"), &[], NOW);
    assert_eq!(eval.problems, vec![CertProblem::Other]);
    let junk = CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
    let eval = t.evaluate(&host("mx.example.org"), &[junk], NOW);
    assert_eq!(eval.problems, vec![CertProblem::Other]);
    assert!(eval.pkix_detail.is_some_and(|d| d.contains("unreadable")));
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn exact_and_case_insensitive() {
    assert!(name_matches("mx.example.org", &s(&["MX.Example.ORG"]), &[]));
    assert!(name_matches(
        "mx.example.org.",
        &s(&["other.org", "mx.example.org."]),
        &[]
    ));
    assert!(!name_matches(
        "mx.example.org",
        &s(&["mx2.example.org"]),
        &[]
    ));
}

#[test]
fn wildcards_only_as_whole_leftmost_label() {
    let w = s(&["*.example.org"]);
    assert!(name_matches("mx.example.org", &w, &[]));
    assert!(!name_matches("a.mx.example.org", &w, &[]), "one label only");
    assert!(!name_matches("example.org", &w, &[]));
    assert!(!name_matches(
        "mx.example.org",
        &s(&["m*.example.org"]),
        &[]
    ));
    assert!(!name_matches("mx.example.org", &s(&["mx.*.org"]), &[]));
    assert!(!name_matches("mx.org", &s(&["*.org"]), &[]));
    assert!(!name_matches("mx.example.org", &s(&["*"]), &[]));
}

#[test]
fn cn_only_without_dns_sans() {
    let cn = s(&["mx.example.org"]);
    assert!(name_matches("mx.example.org", &[], &cn));
    assert!(!name_matches(
        "mx.example.org",
        &s(&["other.example.org"]),
        &cn
    ));
    assert!(name_matches("mx.example.org", &[], &s(&["*.example.org"])));
    assert!(!name_matches("mx.example.org", &[], &[]));
}

#[test]
fn rfc4514_escaping() {
    assert_eq!(escape_rfc4514("Acme, Inc."), "Acme\\, Inc.");
    assert_eq!(escape_rfc4514("#1 "), "\\#1\\ ");
    assert_eq!(escape_rfc4514(" a+b"), "\\ a\\+b");
}

#[test]
fn der_header_is_stripped() {
    assert_eq!(der_contents(&[0x30, 0x02, 0x31, 0x00]), &[0x31, 0x00]);
    let long = [&[0x30u8, 0x81, 0x01][..], &[0xaa]].concat();
    assert_eq!(der_contents(&long), &[0xaa]);
    assert_eq!(der_contents(&[0x30]), &[0x30]);
}
