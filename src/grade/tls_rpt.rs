//! TLS-RPT (RFC 8460, security spec §6): the `_smtp._tls.<domain>` TXT record.

use serde::{Deserialize, Serialize};

use crate::evidence::Observation;

/// What the TLS-RPT setup amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsRptState {
    /// No record.
    Absent,
    /// Several records, no usable `rua=`, or a reporting record without `v=TLSRPTv1`.
    Invalid,
    /// One record with at least one `mailto:` or `https:` URI.
    Present,
    /// The lookup failed: not measured.
    Error,
}

/// The TLS-RPT check of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRptCheck {
    /// State.
    pub state: TlsRptState,
    /// The record (the first, when several).
    pub txt: Option<String>,
    /// Valid report URIs.
    pub rua: Vec<String>,
    /// Why it is invalid or unmeasured.
    pub errors: Vec<String>,
}

/// Compares bytes: a non-ASCII character across the tag position must not be sliced.
fn is_tlsrpt(text: &str) -> bool {
    text.trim_start()
        .as_bytes()
        .get(..10)
        .is_some_and(|tag| tag.eq_ignore_ascii_case(b"v=TLSRPTv1"))
}

/// Evaluates the TXT lookup at `_smtp._tls.<domain>`.
pub fn check(obs: &Observation) -> TlsRptCheck {
    let mut c = TlsRptCheck {
        state: TlsRptState::Absent,
        txt: None,
        rua: Vec::new(),
        errors: Vec::new(),
    };
    if obs.failed() {
        c.state = TlsRptState::Error;
        c.errors.push(format!(
            "TXT lookup at {} failed ({})",
            obs.name,
            obs.outcome.label()
        ));
        return c;
    }
    let mut records: Vec<String> = obs.txt_records().filter(|t| is_tlsrpt(t)).collect();
    records.sort();
    if records.is_empty() {
        // A record that only lacks its version tag is a broken attempt, not an absence.
        if let Some(bare) = obs
            .txt_records()
            .find(|t| t.to_ascii_lowercase().contains("rua="))
        {
            c.state = TlsRptState::Invalid;
            c.txt = Some(bare);
            c.errors
                .push("the record does not start with v=TLSRPTv1".into());
        }
        return c;
    }
    c.txt = records.first().cloned();
    if records.len() > 1 {
        c.state = TlsRptState::Invalid;
        c.errors.push(format!(
            "{} v=TLSRPTv1 records published (exactly one is allowed)",
            records.len()
        ));
        return c;
    }
    let rua = records[0]
        .split(';')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("rua"))
        .map(|(_, v)| v.trim().to_string());
    let Some(rua) = rua else {
        c.state = TlsRptState::Invalid;
        c.errors.push("no rua= field".into());
        return c;
    };
    for uri in rua.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let lower = uri.to_ascii_lowercase();
        let ok = match lower.strip_prefix("mailto:") {
            Some(addr) => {
                matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.'))
            }
            None => lower.starts_with("https://") && lower.len() > 8,
        };
        if ok {
            c.rua.push(uri.to_string());
        } else {
            c.errors
                .push(format!("rua URI {uri:?} is neither mailto: nor https:"));
        }
    }
    c.state = if c.rua.is_empty() {
        TlsRptState::Invalid
    } else {
        TlsRptState::Present
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Outcome;
    use crate::grade::spf::tests::txt;

    fn state(records: &[&str]) -> TlsRptState {
        check(&txt("_smtp._tls.example.org", Outcome::Answer, records)).state
    }

    #[test]
    fn variants() {
        assert_eq!(
            state(&["v=TLSRPTv1; rua=mailto:tls@example.org"]),
            TlsRptState::Present
        );
        assert_eq!(
            state(&["v=TLSRPTv1;rua=https://reports.example.org/tlsrpt"]),
            TlsRptState::Present
        );
        assert_eq!(
            state(&[
                "v=TLSRPTv1; rua=mailto:a@example.org",
                "v=TLSRPTv1; rua=mailto:b@example.org"
            ]),
            TlsRptState::Invalid
        );
        assert_eq!(state(&["rua=mailto:tls@example.org"]), TlsRptState::Invalid);
        assert_eq!(state(&["v=TLSRPTv1; rua=ftp://x"]), TlsRptState::Invalid);
        assert_eq!(state(&["v=TLSRPTv1"]), TlsRptState::Invalid);
        assert_eq!(state(&[]), TlsRptState::Absent);
        let failed = txt("_smtp._tls.example.org", Outcome::Timeout, &[]);
        assert_eq!(check(&failed).state, TlsRptState::Error);
    }

    #[test]
    fn several_uris_are_kept() {
        let c = check(&txt(
            "_smtp._tls.example.org",
            Outcome::Answer,
            &["v=TLSRPTv1; rua=mailto:a@example.org,https://r.example.org/x"],
        ));
        assert_eq!(c.rua.len(), 2);
    }
}
