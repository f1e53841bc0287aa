//! MTA-STS record grammars (RFC 8461): the `_mta-sts` TXT record (§3.1) and the policy
//! text (§3.2), with the MX patterns of a policy. Read by the scan (does a domain
//! publish a policy worth fetching?) and by the grade (is it valid, does it cover the
//! MX hosts?), so it lives below both.

use serde::{Deserialize, Serialize};

use crate::evidence::Observation;
use crate::name::DnsName;

/// Path of the policy file (RFC 8461 §3.3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/mta-sts.txt";

/// Longest allowed `max_age` (RFC 8461 §3.2: about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// Policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StsMode {
    /// Senders must not deliver when TLS or the MX match fails.
    Enforce,
    /// Senders report failures and deliver anyway.
    Testing,
    /// The domain withdraws its policy.
    None,
}

impl StsMode {
    /// The value as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            StsMode::Enforce => "enforce",
            StsMode::Testing => "testing",
            StsMode::None => "none",
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsPolicy {
    /// `version` (always `STSv1` once parsed).
    pub version: String,
    /// `mode`.
    pub mode: StsMode,
    /// Valid `mx` patterns, lower case, in order.
    pub mx: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: u64,
    /// Ignored lines and patterns.
    pub warnings: Vec<String>,
}

/// True for an `mx` pattern RFC 8461 §4.1 allows: a host name, or `*.` followed by one
/// (the wildcard only as the entire left-most label).
pub fn pattern_valid(pattern: &str) -> bool {
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && name.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// True when `host` matches `pattern`: equal (case-insensitive), or for `*.suffix` exactly
/// one label in front of `suffix`.
pub fn pattern_matches(pattern: &str, host: &DnsName) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.to_string().to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => host == pattern,
    }
}

/// Parses a policy file (`key: value` lines, CRLF or LF). `Err` lists every reason the
/// policy is unusable.
pub fn parse_policy(text: &str) -> Result<StsPolicy, Vec<String>> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            warnings.push(format!("line {} ignored: no ':'", n + 1));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let slot = match key {
            "version" => Some(&mut version),
            "mode" => Some(&mut mode),
            "max_age" => Some(&mut max_age),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.is_some() {
                warnings.push(format!("line {}: second {key} ignored", n + 1));
            } else {
                *slot = Some(value.to_string());
            }
            continue;
        }
        // Unknown keys are ignored (RFC 8461 §3.2).
        if key == "mx" {
            let p = value.trim_end_matches('.').to_ascii_lowercase();
            if !pattern_valid(&p) {
                warnings.push(format!("mx pattern {value:?} is not valid; ignored"));
            } else if !mx.contains(&p) {
                mx.push(p);
            }
        }
    }
    match version.as_deref() {
        Some("STSv1") => {}
        Some(v) => errors.push(format!("version {v:?} is not STSv1")),
        None => errors.push("no version field".into()),
    }
    let mode = match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("enforce") => Some(StsMode::Enforce),
        Some("testing") => Some(StsMode::Testing),
        Some("none") => Some(StsMode::None),
        Some(_) => {
            errors.push(format!(
                "mode {:?} is not enforce, testing or none",
                mode.unwrap_or_default()
            ));
            None
        }
        None => {
            errors.push("no mode field".into());
            None
        }
    };
    let max_age = match max_age.as_deref() {
        Some(v) if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u64 = v.parse().unwrap_or(u64::MAX);
            if n > MAX_AGE_LIMIT {
                errors.push(format!("max_age {n} exceeds {MAX_AGE_LIMIT}"));
            }
            Some(n)
        }
        Some(v) => {
            errors.push(format!("max_age {v:?} is not a non-negative integer"));
            None
        }
        None => {
            errors.push("no max_age field".into());
            None
        }
    };
    if mx.is_empty() && mode != Some(StsMode::None) {
        errors.push("no valid mx pattern".into());
    }
    match (mode, max_age) {
        (Some(mode), Some(max_age)) if errors.is_empty() => Ok(StsPolicy {
            version: "STSv1".into(),
            mode,
            mx,
            max_age,
            warnings,
        }),
        _ => Err(errors),
    }
}

/// The `v=STSv1` TXT record of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsTxt {
    /// The record (the first, when several).
    pub record: String,
    /// Its `id`, when valid.
    pub id: Option<String>,
    /// Why the record is unusable.
    pub error: Option<String>,
}

/// Reads the `_mta-sts` TXT answer: exactly one `v=STSv1` record with an `id` of 1–32
/// alphanumerics. `None` when there is no such record.
pub fn parse_txt(obs: &Observation) -> Option<StsTxt> {
    let mut records: Vec<String> = obs
        .txt_records()
        .filter(|t| {
            t.split(';')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("v=STSv1"))
        })
        .collect();
    records.sort();
    let record = records.first()?.clone();
    let mut txt = StsTxt {
        record,
        id: None,
        error: None,
    };
    if records.len() > 1 {
        txt.error = Some(format!(
            "{} v=STSv1 TXT records (exactly one is allowed)",
            records.len()
        ));
        return Some(txt);
    }
    let id = txt
        .record
        .split(';')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim() == "id")
        .map(|(_, v)| v.trim().to_string());
    match id {
        Some(id)
            if (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            txt.id = Some(id)
        }
        Some(id) => txt.error = Some(format!("id {id:?} is not 1–32 letters and digits")),
        None => txt.error = Some("no id field".into()),
    }
    Some(txt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    #[test]
    fn wildcards_match_exactly_one_label() {
        assert!(pattern_matches("*.example.net", &name("mx1.example.net")));
        assert!(!pattern_matches("*.example.net", &name("example.net")));
        assert!(!pattern_matches(
            "*.example.net",
            &name("a.mx1.example.net")
        ));
        assert!(pattern_matches("MX.Example.net.", &name("mx.example.net")));
        assert!(pattern_valid("*.example.net"));
        assert!(!pattern_valid("mx.*.example.net"));
        assert!(!pattern_valid("*example.net"));
        assert!(!pattern_valid("*.*.example.net"));
        assert!(!pattern_valid("localhost"));
    }

    #[test]
    fn policies_parse_with_crlf_or_lf() {
        let p = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.backup.example.org\r\nmax_age: 604800\r\nextension: ignored\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, StsMode::Enforce);
        assert_eq!(p.mx, vec!["mx1.example.org", "*.backup.example.org"]);
        assert_eq!(p.max_age, 604800);
        let p = parse_policy("version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n")
            .unwrap();
        assert_eq!(p.mode, StsMode::Testing);
        let p = parse_policy("version: STSv1\nmode: none\nmax_age: 0").unwrap();
        assert_eq!(p.mode, StsMode::None);
    }

    #[test]
    fn bad_policies_are_rejected_with_reasons() {
        let base = |max_age: &str| {
            format!("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: {max_age}\n")
        };
        assert!(parse_policy(&base("31557600")).is_ok());
        let e = parse_policy(&base("31557601")).unwrap_err();
        assert!(e[0].contains("exceeds"));
        assert!(parse_policy(&base("-1")).is_err());
        assert!(parse_policy(&base("1w")).is_err());
        assert!(parse_policy(&base("")).is_err());
        assert!(parse_policy("version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1").is_err());
        assert!(parse_policy("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1").is_err());
        assert!(parse_policy("<html>not found</html>").is_err());
    }
}
