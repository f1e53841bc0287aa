//! MTA-STS (RFC 8461, security spec §5): the `_mta-sts` TXT record (§5.1), the policy
//! text (§5.3), and its consistency with the domain's MX hosts and their probes (§5.4).

use serde::{Deserialize, Serialize};

use super::transport::HostTransport;
use crate::evidence::Observation;
use crate::name::DnsName;
use crate::scan::mta_sts::PolicyFetch;

// The grammars are shared with the scan; the checks of this module build on them.
pub use crate::records::mta_sts::{
    MAX_AGE_LIMIT, StsMode, StsPolicy, StsTxt, parse_policy, parse_txt, pattern_matches,
    pattern_valid,
};

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
