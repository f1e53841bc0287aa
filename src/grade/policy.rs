//! STARTTLS-Everywhere policy list, format 0.1 (security spec §12), and MTA-STS
//! suggestions for domains that qualify.
//!
//! Eligibility (§12.2 (1)–(3) and §12.3) is decided from this run's assessment. The
//! "passes in the previous N runs" streak needs scan history, which the grade stage
//! does not have: callers pass [`PolicyEntry::streak_ok`] (true until history exists).
//! Output is deterministic: keys sorted, arrays sorted, times from the caller.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Security;
use super::dane::{DaneDomainState, DnssecState};
use super::mta_sts::MtaStsState;
use super::rules::{PolicyAlias, rule_table};
use super::transport::{HostTls, HostTransport, TlsVersion};
use crate::evidence::Timestamp;
use crate::name::DnsName;

/// Format version written.
pub const VERSION: &str = "0.1";
/// Default validity of a published list (EFF: 14 days).
pub const DEFAULT_EXPIRES_IN: i64 = 14 * 24 * 3600;
/// `max_age` of suggested MTA-STS policies (one week).
pub const SUGGESTED_MAX_AGE: u64 = 604_800;

/// Policy mode in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// Report failures, deliver anyway.
    Testing,
    /// Do not deliver when the requirements fail.
    Enforce,
}

impl PolicyMode {
    /// Value in the list.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Testing => "testing",
            PolicyMode::Enforce => "enforce",
        }
    }
}

/// One domain offered to the list.
#[derive(Debug, Clone, Copy)]
pub struct PolicyEntry<'a> {
    /// Mail domain.
    pub domain: &'a DnsName,
    /// Its assessment (MX hosts come from [`Security::hosts`]).
    pub security: &'a Security,
    /// The domain passed the requirements in the previous runs as well.
    pub streak_ok: bool,
}

impl<'a> PolicyEntry<'a> {
    /// An entry with `streak_ok = true` (no history yet).
    pub fn new(domain: &'a DnsName, security: &'a Security) -> PolicyEntry<'a> {
        PolicyEntry {
            domain,
            security,
            streak_ok: true,
        }
    }
}

/// The list decision for one domain (also shown per domain as `starttls_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Listed.
    pub eligible: bool,
    /// Mode when listed.
    pub mode: Option<PolicyMode>,
    /// `mxs` patterns when listed (empty when an alias is used).
    pub mxs: Vec<String>,
    /// Provider alias used instead of `mxs`.
    pub alias: Option<String>,
    /// Why the domain is not listed.
    pub reasons: Vec<String>,
}

/// True when `host` matches a list pattern under the strict reading: an exact name, or
/// `.suffix` with exactly one extra label.
pub fn list_pattern_matches(pattern: &str, host: &DnsName) -> bool {
    let host = host.to_string();
    match pattern.strip_prefix('.') {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => host == pattern,
    }
}

fn host_meets_requirements(h: &HostTransport) -> Option<String> {
    if !h.measured {
        return Some(format!("MX {} could not be measured", h.host));
    }
    if h.tls != Some(HostTls::Ok) {
        return Some(format!("MX {} does not complete STARTTLS", h.host));
    }
    if h.version_max.is_none_or(|v| v < TlsVersion::Tls12) {
        return Some(format!("MX {} does not negotiate TLS 1.2 or newer", h.host));
    }
    if !h.pkix_authenticated {
        return Some(format!(
            "MX {} has no valid certificate for its name ({})",
            h.host,
            h.certificate_detail()
        ));
    }
    None
}

/// Decides whether and how `entry` goes into the list.
pub fn policy_decision(entry: &PolicyEntry) -> PolicyDecision {
    let s = entry.security;
    let mut reasons = Vec::new();
    if s.null_mx {
        reasons.push("null MX: the domain receives no mail".to_string());
    }
    if s.hosts.is_empty() && !s.null_mx {
        reasons.push("no MX host".to_string());
    }
    if s.mx_capped {
        reasons.push("more MX hosts than scanned".to_string());
    }
    reasons.extend(s.hosts.iter().filter_map(host_meets_requirements));
    if s.dnssec == DnssecState::Bogus {
        reasons.push("the MX RRset fails DNSSEC validation".into());
    }
    if s.dane == DaneDomainState::Broken {
        reasons.push("DANE is broken on an MX host".into());
    }
    if s.mta_sts.state == MtaStsState::Broken {
        reasons.push("the MTA-STS enforce policy is broken".into());
    }
    if s.mta_sts.state == MtaStsState::None {
        reasons.push("MTA-STS mode none asks for removal".into());
    }
    if !entry.streak_ok {
        reasons.push("did not meet the requirements in the previous runs".into());
    }
    if !reasons.is_empty() {
        return PolicyDecision {
            eligible: false,
            mode: None,
            mxs: Vec::new(),
            alias: None,
            reasons,
        };
    }
    let mode = if s.mta_sts.state == MtaStsState::Enforce || s.dane == DaneDomainState::All {
        PolicyMode::Enforce
    } else {
        PolicyMode::Testing
    };
    let alias = (mode == PolicyMode::Testing)
        .then(|| alias_for(&s.hosts, &rule_table().policy_alias))
        .flatten();
    PolicyDecision {
        eligible: true,
        mode: Some(mode),
        mxs: if alias.is_some() {
            Vec::new()
        } else {
            mx_patterns(s)
        },
        alias,
        reasons,
    }
}

/// The provider pool containing every MX host, if any. Aliased policies are published
/// in testing mode; a domain that earns enforce keeps its own entry.
fn alias_for(hosts: &[HostTransport], aliases: &[PolicyAlias]) -> Option<String> {
    aliases
        .iter()
        .find(|a| {
            !hosts.is_empty()
                && hosts
                    .iter()
                    .all(|h| a.mxs.iter().any(|p| list_pattern_matches(p, &h.host)))
        })
        .map(|a| a.name.clone())
}

/// `mxs` for a domain (§12.3): the MTA-STS patterns when its policy is valid and covers
/// every MX host (`*.x` → `.x`); else a shared `.parent` when every MX host sits one
/// label below the same parent and every certificate carries `*.parent`; else the
/// exact MX host names.
fn mx_patterns(s: &Security) -> Vec<String> {
    let sts_usable = matches!(s.mta_sts.state, MtaStsState::Testing | MtaStsState::Enforce)
        && s.mta_sts.covers_all == Some(true);
    let mut out: BTreeSet<String> = BTreeSet::new();
    if sts_usable {
        for p in &s.mta_sts.mx_patterns {
            out.insert(match p.strip_prefix("*.") {
                Some(suffix) => format!(".{suffix}"),
                None => p.clone(),
            });
        }
        return out.into_iter().collect();
    }
    let parents: BTreeSet<Option<DnsName>> = s.hosts.iter().map(|h| h.host.parent(1)).collect();
    if s.hosts.len() >= 2
        && parents.len() == 1
        && let Some(Some(parent)) = parents.first()
        && parent.len() >= 2
    {
        let wildcard = format!("*.{parent}");
        let covered = s.hosts.iter().all(|h| {
            h.addresses
                .iter()
                .filter(|a| a.measured)
                .all(|a| a.leaf_san.iter().any(|n| n.eq_ignore_ascii_case(&wildcard)))
        });
        if covered {
            return vec![format!(".{parent}")];
        }
    }
    out.extend(s.hosts.iter().map(|h| h.host.to_string()));
    out.into_iter().collect()
}

/// The policy list (format 0.1) over `entries`: eligible domains only, `policy-aliases`
/// for the provider pools referenced. `timestamp` is the scan completion time;
/// `expires` = `timestamp + expires_in` seconds.
pub fn starttls_policy(
    entries: &[PolicyEntry],
    timestamp: Timestamp,
    expires_in: i64,
    author: Option<&str>,
) -> Value {
    let mut policies: BTreeMap<String, Value> = BTreeMap::new();
    let mut used_aliases: BTreeSet<String> = BTreeSet::new();
    for entry in entries {
        let decision = policy_decision(entry);
        if !decision.eligible {
            continue;
        }
        let key = entry.domain.to_string();
        if policies.contains_key(&key) {
            continue;
        }
        let policy = match (&decision.alias, decision.mode) {
            (Some(alias), _) => {
                used_aliases.insert(alias.clone());
                object([("policy-alias", Value::String(alias.clone()))])
            }
            (None, Some(mode)) => policy_object(mode, &decision.mxs),
            (None, None) => continue,
        };
        policies.insert(key, policy);
    }
    let aliases: BTreeMap<String, Value> = rule_table()
        .policy_alias
        .iter()
        .filter(|a| used_aliases.contains(&a.name))
        .map(|a| {
            let mxs: BTreeSet<String> = a.mxs.iter().cloned().collect();
            let mxs: Vec<String> = mxs.into_iter().collect();
            (a.name.clone(), policy_object(PolicyMode::Testing, &mxs))
        })
        .collect();
    let mut top: BTreeMap<&str, Value> = BTreeMap::new();
    if let Some(author) = author {
        top.insert("author", Value::String(author.to_string()));
    }
    top.insert("expires", Value::String(rfc3339(timestamp + expires_in)));
    top.insert("policies", Value::Object(policies.into_iter().collect()));
    top.insert(
        "policy-aliases",
        Value::Object(aliases.into_iter().collect()),
    );
    top.insert("timestamp", Value::String(rfc3339(timestamp)));
    top.insert("version", Value::String(VERSION.to_string()));
    Value::Object(top.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The list as text: pretty-printed, keys in sorted order, ending in a newline.
pub fn to_text(list: &Value) -> String {
    let mut text = serde_json::to_string_pretty(list).expect("JSON values serialise");
    text.push('\n');
    text
}

fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    let mut sorted: Vec<(&str, Value)> = pairs.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in sorted {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

fn policy_object(mode: PolicyMode, mxs: &[String]) -> Value {
    object([
        ("mode", Value::String(mode.as_str().to_string())),
        (
            "mxs",
            Value::Array(mxs.iter().map(|m| Value::String(m.clone())).collect()),
        ),
    ])
}

/// The DNS record and policy file a domain could publish to start with MTA-STS, when
/// every MX host offers STARTTLS with TLS ≥ 1.2 and a valid certificate and the domain
/// has no MTA-STS policy in testing or enforce mode yet. `mx_hosts` are listed as exact
/// patterns in the given order.
pub fn mta_sts_suggestion(
    domain: &DnsName,
    mx_hosts: &[DnsName],
    security: &Security,
) -> Option<String> {
    if security.null_mx || mx_hosts.is_empty() || security.hosts.is_empty() {
        return None;
    }
    if !matches!(
        security.mta_sts.state,
        MtaStsState::Absent | MtaStsState::Invalid | MtaStsState::None
    ) {
        return None;
    }
    if security
        .hosts
        .iter()
        .any(|h| host_meets_requirements(h).is_some())
    {
        return None;
    }
    let (y, m, d, ..) = civil(security.assessed_at);
    let id = format!("{y:04}{m:02}{d:02}");
    let mut text = format!(
        "; DNS: a TXT record (change the id whenever the policy changes)\n\
         _mta-sts.{domain}. 3600 IN TXT \"v=STSv1; id={id}\"\n\
         \n\
         # HTTPS: serve this file as text/plain at\n\
         # https://mta-sts.{domain}/.well-known/mta-sts.txt\n\
         # with a certificate valid for mta-sts.{domain}\n\
         version: STSv1\n\
         mode: testing\n"
    );
    let mut seen = BTreeSet::new();
    for host in mx_hosts {
        if seen.insert(host.to_string()) {
            text.push_str(&format!("mx: {host}\n"));
        }
    }
    text.push_str(&format!("max_age: {SUGGESTED_MAX_AGE}\n"));
    Some(text)
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Civil UTC date and time of a Unix timestamp (H. Hinnant's days-from-civil inverse).
fn civil(ts: Timestamp) -> (i64, u32, u32, u32, u32, u32) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_590_000_000), "2020-05-20T18:40:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn list_patterns_match_one_extra_label() {
        let h = DnsName::parse("contoso-com.mail.protection.outlook.com").unwrap();
        assert!(list_pattern_matches(".mail.protection.outlook.com", &h));
        assert!(!list_pattern_matches(".protection.outlook.com", &h));
        assert!(list_pattern_matches(
            "contoso-com.mail.protection.outlook.com",
            &h
        ));
    }
}
