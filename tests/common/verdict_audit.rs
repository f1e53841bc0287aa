//! The classification audit of issue 16 over a build's `data.json` (and its build
//! output), independent of the classifier's own bookkeeping:
//!
//! 1. no verdict whose MX host lies under another registered domain than the
//!    municipality's is decided by the address's network alone;
//! 2. no "self-hosted" verdict has a hosting control panel's autodiscover;
//! 3. no uncatalogued MX registered domain serves three or more municipalities (counted
//!    here from the MX evidence, and the build's own report says "none");
//! 4. no record is a scan error because its seed domain is malformed (its top-level
//!    domain absent from the recorded world), and every invalid seed domain carries the
//!    seed problem as evidence; every `no_mx` verdict carries its MX observation.
//!
//! Returns the findings (empty when the audit passes) and the counts it looked at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mxmap::name::DnsName;
use mxmap::name::org::registered_domain;
use serde_json::Value;

/// What the audit found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Human-readable violations.
    pub findings: Vec<String>,
    /// Verdicts decided by the network alone (all of them, own-named hosts included).
    pub network_only: usize,
    /// Self-hosted verdicts checked.
    pub self_hosted: usize,
    /// Uncatalogued MX domains serving three or more municipalities.
    pub shared_uncatalogued: BTreeMap<String, usize>,
    /// Scan errors.
    pub scan_errors: usize,
    /// Invalid seed domains.
    pub invalid_domains: usize,
}

fn org(text: &str) -> Option<String> {
    let name = DnsName::parse(text.trim_end_matches('.')).ok()?;
    registered_domain(&name).map(|d| d.to_string())
}

fn evidence(r: &Value) -> &[Value] {
    r["evidence"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn flags(r: &Value) -> Vec<&str> {
    r["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The MX host of an MX evidence item (`"<pref> <host>"`).
fn mx_host(e: &Value) -> Option<&str> {
    let raw = e["raw"].as_str()?;
    raw.split_once(' ').map(|(_, h)| h)
}

/// Audits the records; `build_output` is the build's stderr (its report), `world` the
/// recorded world (for the zones it serves).
pub fn audit(records: &[Value], build_output: &str, world: &Path) -> Audit {
    let mut a = Audit::default();
    let served: BTreeSet<String> = std::fs::read_dir(world.join("zones"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".zone")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut third: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for r in records {
        let id = r["id"].as_str().unwrap_or("?");
        let domain = r["domain_ascii"].as_str().unwrap_or("");
        let own = org(domain);
        // 1. Network-only verdicts (by flag or by rule) must be own-named (or have no
        //    registered domain).
        let by_network = matches!(r["rule"].as_str(), Some("asn_infra" | "asn_isp"));
        if by_network || flags(r).contains(&"asn_only") {
            a.network_only += 1;
            for e in evidence(r) {
                if e["signal"] != "mx" || e["role"] != "decisive" {
                    continue;
                }
                let Some(host) = mx_host(e) else { continue };
                let host_org = org(host);
                let under_own =
                    !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")));
                if host_org.is_some() && host_org != own && !under_own {
                    a.findings.push(format!(
                        "{id}: {} decided by the network of {host}, under {}",
                        r["rule"].as_str().unwrap_or("?"),
                        host_org.unwrap_or_default()
                    ));
                }
            }
        }
        // 2. Self-hosted with a control panel's autodiscover.
        if r["provider"] == "self-hosted" {
            a.self_hosted += 1;
            for e in evidence(r) {
                let raw = e["raw"].as_str().unwrap_or("");
                let panel = raw.trim_end_matches('.').ends_with("cpanel.net")
                    || raw.starts_with("cpanel.")
                    || e["matched"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("hosting control panel"));
                if e["signal"] == "autodiscover" && panel {
                    a.findings
                        .push(format!("{id}: self-hosted with autodiscover {raw}"));
                }
            }
        }
        // 3. Uncatalogued third-party MX domains, from the evidence.
        for e in evidence(r) {
            if e["signal"] != "mx" {
                continue;
            }
            if let Some(party) = e["matched"]
                .as_str()
                .and_then(|m| m.strip_prefix("third party "))
            {
                third.entry(party.to_string()).or_default().insert(id);
            }
        }
        // 4. Malformed seed domains are invalid-domain with their evidence.
        match r["scan_status"].as_str() {
            Some("error") => {
                a.scan_errors += 1;
                let tld = domain.rsplit('.').next().unwrap_or("");
                if !served.is_empty() && !served.contains(tld) {
                    a.findings.push(format!(
                        "{id}: scan error for {domain:?}, whose top-level domain the world does not serve"
                    ));
                }
            }
            Some("invalid-domain") => {
                a.invalid_domains += 1;
                let seed = evidence(r)
                    .iter()
                    .any(|e| e["signal"] == "seed" && e["role"] == "decisive");
                if !seed {
                    a.findings
                        .push(format!("{id}: invalid domain without seed evidence"));
                }
            }
            _ => {}
        }
        if r["rule"] == "no_mx" && !evidence(r).iter().any(|e| e["signal"] == "mx") {
            a.findings
                .push(format!("{id}: no_mx without its MX observation"));
        }
    }
    for (party, ids) in third {
        if ids.len() >= 3 {
            a.findings.push(format!(
                "uncatalogued MX domain {party} serves {} municipalities",
                ids.len()
            ));
            a.shared_uncatalogued.insert(party, ids.len());
        }
    }
    if !build_output.contains("uncatalogued MX domains serving 3 or more municipalities: none") {
        a.findings
            .push("the build's uncatalogued-shared-MX report is not empty (or missing)".into());
    }
    a
}
