//! MTA-STS (RFC 8461, security spec §5): the `_mta-sts` TXT record (§5.1), the policy
//! text (§5.3), and its consistency with the domain's MX hosts and their probes (§5.4).

use serde::{Deserialize, Serialize};

use super::transport::HostTransport;
use crate::evidence::Observation;
use crate::name::DnsName;
use crate::scan::mta_sts::PolicyFetch;

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

/// What the MTA-STS setup amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MtaStsState {
    /// No `v=STSv1` TXT record.
    Absent,
    /// TXT or policy unusable (with reasons).
    Invalid,
    /// `mode: none`.
    None,
    /// `mode: testing`.
    Testing,
    /// `mode: enforce`, every MX host covered and authenticated.
    Enforce,
    /// `mode: enforce` with an MX host not covered or not authenticated: enforcing
    /// senders will not deliver to it.
    Broken,
    /// The TXT lookup or the fetch could not be completed by us.
    Error,
}

/// The MTA-STS check of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsCheck {
    /// State.
    pub state: MtaStsState,
    /// The TXT record.
    pub txt: Option<String>,
    /// Its `id`.
    pub id: Option<String>,
    /// Policy URL fetched.
    pub url: Option<String>,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Policy body as served (capped by the fetch).
    pub policy_text: Option<String>,
    /// `mode`.
    pub mode: Option<StsMode>,
    /// `max_age`.
    pub max_age: Option<u64>,
    /// `mx` patterns.
    pub mx_patterns: Vec<String>,
    /// Every MX host matches a pattern (`None` without a parsed policy).
    pub covers_all: Option<bool>,
    /// Every measured MX host passes PKIX validation and name match (`None` when
    /// nothing was measured or there is no policy).
    pub enforce_ok: Option<bool>,
    /// MX hosts no pattern matches.
    pub uncovered: Vec<DnsName>,
    /// Why the setup is invalid, broken or unmeasured.
    pub errors: Vec<String>,
    /// Findings that do not change the state.
    pub warnings: Vec<String>,
}

impl MtaStsCheck {
    fn new(state: MtaStsState) -> MtaStsCheck {
        MtaStsCheck {
            state,
            txt: None,
            id: None,
            url: None,
            http_status: None,
            content_type: None,
            policy_text: None,
            mode: None,
            max_age: None,
            mx_patterns: Vec::new(),
            covers_all: None,
            enforce_ok: None,
            uncovered: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// True for a parsed policy in testing or enforce mode (broken included).
    pub fn has_policy(&self) -> bool {
        matches!(
            self.state,
            MtaStsState::Testing | MtaStsState::Enforce | MtaStsState::Broken
        )
    }
}

/// Evaluates the TXT lookup, the fetched policy (`None`: not fetched) and the policy's
/// consistency with `hosts` (every MX host of the domain).
pub fn check(
    txt: &Observation,
    fetch: Option<&PolicyFetch>,
    hosts: &[HostTransport],
) -> MtaStsCheck {
    if txt.failed() {
        let mut c = MtaStsCheck::new(MtaStsState::Error);
        c.errors.push(format!(
            "TXT lookup at {} failed ({})",
            txt.name,
            txt.outcome.label()
        ));
        return c;
    }
    let Some(parsed) = parse_txt(txt) else {
        return MtaStsCheck::new(MtaStsState::Absent);
    };
    let mut c = MtaStsCheck::new(MtaStsState::Invalid);
    c.txt = Some(parsed.record);
    c.id = parsed.id;
    c.errors.extend(parsed.error);
    let Some(fetch) = fetch else {
        if c.errors.is_empty() {
            c.state = MtaStsState::Error;
            c.errors.push("policy not fetched".into());
        }
        return c;
    };
    c.url = Some(fetch.url.clone());
    c.http_status = fetch.status;
    c.content_type = fetch.content_type.clone();
    c.policy_text = fetch.body.clone();
    if let Some(ct) = &fetch.content_type {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("text/plain") {
            c.warnings
                .push(format!("policy served as {ct:?}, not text/plain"));
        }
    }
    if !fetch.usable() {
        if fetch.unmeasured() && c.errors.is_empty() {
            c.state = MtaStsState::Error;
        }
        if let Some(status) = fetch.status.filter(|s| *s != 200 && !fetch.redirected) {
            c.errors
                .push(format!("{} answered HTTP {status}", fetch.url));
        }
        if !fetch.tls_valid && fetch.status.is_some() && fetch.error.is_none() {
            c.errors
                .push("the policy host's certificate is not valid".into());
        }
        c.errors.extend(fetch.error.clone());
        return c;
    }
    let body = fetch.body.as_deref().unwrap_or_default();
    let policy = match parse_policy(body) {
        Ok(p) => p,
        Err(errors) => {
            c.errors.extend(errors);
            return c;
        }
    };
    c.warnings.extend(policy.warnings.iter().cloned());
    c.mode = Some(policy.mode);
    c.max_age = Some(policy.max_age);
    c.mx_patterns = policy.mx.clone();
    if !c.errors.is_empty() {
        // The TXT record is unusable: senders never fetch the policy.
        return c;
    }
    if policy.mode == StsMode::None {
        c.state = MtaStsState::None;
        return c;
    }
    c.uncovered = hosts
        .iter()
        .filter(|h| !policy.mx.iter().any(|p| pattern_matches(p, &h.host)))
        .map(|h| h.host.clone())
        .collect();
    c.covers_all = Some(c.uncovered.is_empty());
    let measured: Vec<&HostTransport> = hosts.iter().filter(|h| h.measured).collect();
    c.enforce_ok = (!measured.is_empty()).then(|| measured.iter().all(|h| h.pkix_authenticated));
    let failing: Vec<String> = measured
        .iter()
        .filter(|h| !h.pkix_authenticated)
        .map(|h| {
            format!(
                "MX {} fails certificate validation ({})",
                h.host,
                h.certificate_detail()
            )
        })
        .collect();
    let uncovered: Vec<String> = c
        .uncovered
        .iter()
        .map(|h| format!("MX {h} matches no mx pattern"))
        .collect();
    match policy.mode {
        StsMode::Enforce if !uncovered.is_empty() || !failing.is_empty() => {
            c.state = MtaStsState::Broken;
            c.errors.extend(uncovered);
            c.errors.extend(failing);
        }
        StsMode::Enforce => c.state = MtaStsState::Enforce,
        _ => {
            c.state = MtaStsState::Testing;
            c.warnings.extend(uncovered);
            c.warnings.extend(failing);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Outcome;
    use crate::grade::spf::tests::txt;
    use crate::grade::transport::tests::{address, no_dane};
    use crate::grade::transport::{HostTls, TlsVersion, aggregate};

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

    #[test]
    fn txt_records() {
        let ok = txt(
            "_mta-sts.example.org",
            Outcome::Answer,
            &["v=STSv1; id=20240101T000000"],
        );
        assert_eq!(
            parse_txt(&ok).unwrap().id.as_deref(),
            Some("20240101T000000")
        );
        let two = txt(
            "_mta-sts.example.org",
            Outcome::Answer,
            &["v=STSv1; id=1", "v=STSv1; id=2"],
        );
        assert!(
            parse_txt(&two)
                .unwrap()
                .error
                .unwrap()
                .contains("2 v=STSv1")
        );
        let no_id = txt("_mta-sts.example.org", Outcome::Answer, &["v=STSv1;"]);
        assert!(parse_txt(&no_id).unwrap().error.is_some());
        let long = txt(
            "_mta-sts.example.org",
            Outcome::Answer,
            &["v=STSv1; id=123456789012345678901234567890123"],
        );
        assert!(parse_txt(&long).unwrap().error.is_some());
        let none = txt("_mta-sts.example.org", Outcome::Answer, &["v=spf1"]);
        assert!(parse_txt(&none).is_none());
    }

    fn fetch(body: &str) -> PolicyFetch {
        PolicyFetch {
            url: "https://mta-sts.example.org/.well-known/mta-sts.txt".into(),
            at: 0,
            address: None,
            status: Some(200),
            content_type: Some("text/plain".into()),
            body: Some(body.into()),
            error: None,
            tls_valid: true,
            redirected: false,
        }
    }

    fn host(n: &str, authenticated: bool) -> HostTransport {
        aggregate(
            name(n),
            10,
            vec![address(
                "127.0.2.1",
                HostTls::Ok,
                Some(TlsVersion::Tls13),
                authenticated,
                Some(false),
            )],
            no_dane(),
        )
    }

    const TXT: &str = "v=STSv1; id=1";

    #[test]
    fn consistency_with_mx_hosts() {
        let t = txt("_mta-sts.example.org", Outcome::Answer, &[TXT]);
        let enforce = fetch("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 604800\n");
        let c = check(&t, Some(&enforce), &[host("mx1.example.org", true)]);
        assert_eq!(c.state, MtaStsState::Enforce);
        assert_eq!(c.covers_all, Some(true));
        assert_eq!(c.enforce_ok, Some(true));

        let c = check(
            &t,
            Some(&enforce),
            &[host("mx1.example.org", true), host("mx.other.net", true)],
        );
        assert_eq!(c.state, MtaStsState::Broken);
        assert_eq!(c.covers_all, Some(false));
        assert!(c.errors[0].contains("mx.other.net matches no mx pattern"));

        let c = check(&t, Some(&enforce), &[host("mx1.example.org", false)]);
        assert_eq!(c.state, MtaStsState::Broken);
        assert_eq!(c.enforce_ok, Some(false));

        let testing = fetch("version: STSv1\nmode: testing\nmx: *.example.org\nmax_age: 604800\n");
        let c = check(&t, Some(&testing), &[host("mx.other.net", true)]);
        assert_eq!(c.state, MtaStsState::Testing);
        assert_eq!(c.covers_all, Some(false));
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn fetch_failures_and_txt_problems() {
        let t = txt("_mta-sts.example.org", Outcome::Answer, &[TXT]);
        let hosts = [host("mx1.example.org", true)];
        let mut f = fetch("");
        f.status = Some(404);
        let c = check(&t, Some(&f), &hosts);
        assert_eq!(c.state, MtaStsState::Invalid);
        assert!(c.errors[0].contains("404"));

        let mut f = fetch("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 1\n");
        f.content_type = Some("text/html; charset=utf-8".into());
        let c = check(&t, Some(&f), &hosts);
        assert_eq!(c.state, MtaStsState::Enforce);
        assert!(c.warnings[0].contains("not text/plain"));

        let mut f = fetch("");
        f.status = None;
        f.body = None;
        f.error = Some("connect to 127.0.3.1:443: timed out after 10 s".into());
        assert_eq!(check(&t, Some(&f), &hosts).state, MtaStsState::Error);

        assert_eq!(check(&t, None, &hosts).state, MtaStsState::Error);

        let two = txt(
            "_mta-sts.example.org",
            Outcome::Answer,
            &["v=STSv1; id=1", "v=STSv1; id=2"],
        );
        let f = fetch("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 1\n");
        assert_eq!(check(&two, Some(&f), &hosts).state, MtaStsState::Invalid);

        let absent = txt("_mta-sts.example.org", Outcome::NxDomain, &[]);
        assert_eq!(check(&absent, None, &hosts).state, MtaStsState::Absent);
        let failed = txt("_mta-sts.example.org", Outcome::ServFail, &[]);
        assert_eq!(check(&failed, None, &hosts).state, MtaStsState::Error);
    }
}
