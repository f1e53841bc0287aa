//! Per-entry checks of the signature table (cross-entry uniqueness is checked while
//! indexing): every rule of `docs/signatures.md`, so a malformed table fails at load time
//! with the entry named.

use std::collections::HashSet;

use super::entry::{Entry, Scope};
use super::error::CatalogError;
use super::role::Role;
use crate::name::DnsName;

/// Every check of one entry.
pub(super) fn validate_entry(e: &Entry) -> Result<(), CatalogError> {
    check_identity(e)?;
    check_roles(e)?;
    check_patterns(e)?;
    check_repeats(e)?;
    check_knowledge(e)?;
    let has_signal = suffix_fields(e).iter().any(|f| !f.is_empty())
        || !e.mx_label_prefix.is_empty()
        || !e.txt.is_empty()
        || !e.txt_weak.is_empty()
        || !e.asns.is_empty();
    if !has_signal {
        return Err(CatalogError::NoSignals(e.id.clone()));
    }
    Ok(())
}

fn suffix_fields(e: &Entry) -> [&Vec<String>; 8] {
    [
        &e.mx,
        &e.spf,
        &e.spf_weak,
        &e.dkim,
        &e.autodiscover,
        &e.autodiscover_weak,
        &e.banner,
        &e.tenant_dkim,
    ]
}

fn check_identity(e: &Entry) -> Result<(), CatalogError> {
    let id_ok = !e.id.is_empty()
        && e.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !e.id.starts_with('-')
        && !e.id.ends_with('-');
    if !id_ok {
        return Err(CatalogError::BadId(e.id.clone()));
    }
    for (field, value) in [("name", &e.name), ("source", &e.source)] {
        if value.trim().is_empty() {
            return Err(CatalogError::MissingText {
                id: e.id.clone(),
                field,
            });
        }
    }
    if !(e.hq.len() == 2 && e.hq.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(CatalogError::BadCountry {
            id: e.id.clone(),
            hq: e.hq.clone(),
        });
    }
    Ok(())
}

fn check_roles(e: &Entry) -> Result<(), CatalogError> {
    if e.roles.is_empty() {
        return Err(CatalogError::EmptyRoles(e.id.clone()));
    }
    let mut seen_roles = HashSet::new();
    for &role in &e.roles {
        if !seen_roles.insert(role) {
            return Err(CatalogError::DuplicateRole {
                id: e.id.clone(),
                role,
            });
        }
    }
    if e.has_role(Role::Gateway) && !e.asns.is_empty() {
        return Err(CatalogError::GatewayAsn(e.id.clone()));
    }
    if e.scope == Scope::Global && e.primary_role() != Role::Provider {
        return Err(CatalogError::GlobalScope(e.id.clone()));
    }
    for &asn in &e.asns {
        if let Some(why) = unusable_asn(asn) {
            return Err(CatalogError::BadAsn {
                id: e.id.clone(),
                asn,
                why,
            });
        }
    }
    let mut asns = HashSet::new();
    for &asn in &e.asns {
        if !asns.insert(asn) {
            return Err(CatalogError::DuplicateAsn(asn, e.id.clone(), e.id.clone()));
        }
    }
    Ok(())
}

fn bad(e: &Entry, pattern: &str, why: impl Into<String>) -> CatalogError {
    CatalogError::BadPattern {
        id: e.id.clone(),
        pattern: pattern.to_string(),
        why: why.into(),
    }
}

/// A canonical plain host name of at least two labels (a one-label pattern would claim
/// a whole top-level domain).
fn check_suffix(e: &Entry, p: &str) -> Result<(), CatalogError> {
    let name = DnsName::parse(p).map_err(|err| bad(e, p, err.to_string()))?;
    if !name.is_plain() {
        return Err(bad(
            e,
            p,
            "not a plain host name (letters, digits, '-', '_')",
        ));
    }
    if name.to_string() != *p {
        return Err(bad(
            e,
            p,
            format!("write it as {name:?} (lower case, no trailing dot)"),
        ));
    }
    if name.len() < 2 {
        return Err(bad(e, p, "a suffix needs at least two labels"));
    }
    Ok(())
}

/// One lower-case label of `[a-z0-9-]` (plus `_` where `underscore`).
fn is_label(p: &str, underscore: bool) -> bool {
    !p.is_empty()
        && p.len() <= 63
        && p.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (underscore && b == b'_')
        })
}

fn check_patterns(e: &Entry) -> Result<(), CatalogError> {
    for field in suffix_fields(e) {
        for p in field {
            check_suffix(e, p)?;
        }
    }
    for p in &e.mx_label_prefix {
        if !is_label(p, false) {
            return Err(bad(
                e,
                p,
                "a label prefix is one lower-case label of [a-z0-9-]",
            ));
        }
    }
    for p in e.txt.iter().chain(&e.txt_weak) {
        let ok = p.len() >= 3 && p.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(bad(
                e,
                p,
                "a TXT prefix is at least 3 printable ASCII characters, no spaces",
            ));
        }
    }
    Ok(())
}

/// Repeats inside one entry are typos; across entries the precedence rule decides.
fn check_repeats(e: &Entry) -> Result<(), CatalogError> {
    let mut seen = HashSet::new();
    for (field, list) in [
        ("mx", &e.mx),
        ("spf", &e.spf),
        ("spf", &e.spf_weak),
        ("dkim", &e.dkim),
        ("autodiscover", &e.autodiscover),
        ("autodiscover", &e.autodiscover_weak),
        ("banner", &e.banner),
        ("mx_label_prefix", &e.mx_label_prefix),
        ("txt", &e.txt),
        ("txt", &e.txt_weak),
        ("vps_hosts", &e.vps_hosts),
        ("dkim_selectors", &e.dkim_selectors),
        ("dkim_txt_selectors", &e.dkim_txt_selectors),
        ("tenant_dkim", &e.tenant_dkim),
    ] {
        for p in list {
            if !seen.insert((field, p.to_ascii_lowercase())) {
                return Err(bad(e, p, format!("listed twice in {field}")));
            }
        }
    }
    Ok(())
}

/// The knowledge fields beyond patterns: who may decide by network, customer-machine
/// names, DKIM selectors, tenant namespaces.
fn check_knowledge(e: &Entry) -> Result<(), CatalogError> {
    if e.network_decides && (e.scope != Scope::Global || e.asns.is_empty()) {
        return Err(bad(
            e,
            "network_decides",
            "only a global provider with ASNs may decide by its network (spec §7.1 C.7)",
        ));
    }
    for p in &e.vps_hosts {
        let (first, suffix) = p.split_once('.').unwrap_or((p.as_str(), ""));
        let first_ok = !first.is_empty()
            && first
                .bytes()
                .all(|b| b == b'*' || b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !first_ok || suffix.contains('*') {
            return Err(bad(
                e,
                p,
                "a VPS host pattern is <first-label glob>.<suffix>, '*' only in the first label",
            ));
        }
        check_suffix(e, suffix)?;
    }
    for p in &e.vps_exceptions {
        check_suffix(e, p)?;
    }
    for p in e.dkim_selectors.iter().chain(&e.dkim_txt_selectors) {
        if !is_label(p, true) {
            return Err(bad(e, p, "a DKIM selector is one lower-case label"));
        }
    }
    if let Some(p) = e
        .dkim_txt_selectors
        .iter()
        .find(|s| !e.dkim_selectors.contains(s))
    {
        return Err(bad(
            e,
            p,
            "a TXT-key selector must also be in dkim_selectors",
        ));
    }
    if let Some(p) = e.tenant_dkim.iter().find(|t| !e.dkim.contains(t)) {
        return Err(bad(e, p, "a tenant namespace must also be a dkim pattern"));
    }
    Ok(())
}

/// Why an ASN cannot be a public origin (RFC 6996, RFC 7300, RFC 6793, RFC 5398), or
/// `None` when it can.
fn unusable_asn(asn: u32) -> Option<&'static str> {
    match asn {
        0 => Some("reserved (AS0)"),
        23456 => Some("AS_TRANS"),
        64496..=64511 | 65536..=65551 => Some("reserved for documentation"),
        64512..=65534 | 4_200_000_000..=4_294_967_294 => Some("private use"),
        65535 | 4_294_967_295 => Some("reserved"),
        _ => None,
    }
}
