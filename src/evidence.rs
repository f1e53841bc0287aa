//! What the scan observed: plain data shared by the scanner, the cache, the classifier
//! and the site. Every DNS answer mxmap uses is kept as an [`Observation`] (record type,
//! name, outcome, answers, time), so each verdict can show the exact evidence behind it
//! and `mxmap render` can rebuild everything from the cache without a network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::name::DnsName;

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

/// The record types mxmap asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Mail exchanger.
    Mx,
    /// Text (SPF, verification tokens, DMARC, MTA-STS, TLS-RPT, Cymru).
    Txt,
    /// Alias.
    Cname,
    /// Service locator (autodiscover).
    Srv,
    /// DANE certificate association.
    Tlsa,
}

impl RType {
    /// Upper-case mnemonic, as in zone files.
    pub fn as_str(self) -> &'static str {
        match self {
            RType::A => "A",
            RType::Aaaa => "AAAA",
            RType::Mx => "MX",
            RType::Txt => "TXT",
            RType::Cname => "CNAME",
            RType::Srv => "SRV",
            RType::Tlsa => "TLSA",
        }
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one lookup ended. Failures (`ServFail`, `Refused`, `Timeout`, `Error`) are kept
/// apart from the negative answers (`NxDomain`, `NoData`): a server that did not answer
/// must never read as "this domain has no mail".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// At least one record (of the asked type or a CNAME) came back.
    Answer,
    /// The name exists but has no record of this type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The server answered SERVFAIL.
    ServFail,
    /// The server refused the query (e.g. a zone it does not serve).
    Refused,
    /// No answer within the timeout, after all retries.
    Timeout,
    /// Any other failure (network error, malformed answer, …).
    Error(String),
}

impl Outcome {
    /// True when the lookup did not produce a trustworthy answer (positive or negative).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::ServFail | Outcome::Refused | Outcome::Timeout | Outcome::Error(_)
        )
    }

    /// Short label for pages and CSV.
    pub fn label(&self) -> &str {
        match self {
            Outcome::Answer => "answer",
            Outcome::NoData => "no data",
            Outcome::NxDomain => "NXDOMAIN",
            Outcome::ServFail => "SERVFAIL",
            Outcome::Refused => "REFUSED",
            Outcome::Timeout => "timeout",
            Outcome::Error(e) => e,
        }
    }
}

/// One record of an answer, in a form the classifier can use directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Mail exchanger with its preference.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// Exchange host; `None` for the null MX (`.`, RFC 7505).
        exchange: Option<DnsName>,
    },
    /// The character-strings of one TXT record, each decoded by [`decode_text`].
    Txt(Vec<String>),
    /// Alias target, with the alias owner (so chains stay readable).
    Cname {
        /// The alias.
        owner: DnsName,
        /// Where it points.
        target: DnsName,
    },
    /// Service record.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: DnsName,
    },
    /// DANE TLSA record.
    Tlsa {
        /// Certificate usage.
        usage: u8,
        /// Selector.
        selector: u8,
        /// Matching type.
        matching: u8,
        /// Association data, lower-case hex.
        data: String,
    },
}

impl Answer {
    /// The joined text of a TXT record (RFC 7208 §3.3: strings are concatenated
    /// without separator).
    pub fn txt_joined(&self) -> Option<String> {
        match self {
            Answer::Txt(parts) => Some(parts.concat()),
            _ => None,
        }
    }

    /// The record in zone-file-like presentation, for evidence tables.
    pub fn presentation(&self) -> String {
        match self {
            Answer::A(ip) => ip.to_string(),
            Answer::Aaaa(ip) => ip.to_string(),
            Answer::Mx {
                preference,
                exchange: Some(host),
            } => format!("{preference} {host}"),
            Answer::Mx {
                preference,
                exchange: None,
            } => format!("{preference} ."),
            Answer::Txt(parts) => parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(" "),
            Answer::Cname { owner, target } => format!("{owner} → {target}"),
            Answer::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {target}"),
            Answer::Tlsa {
                usage,
                selector,
                matching,
                data,
            } => format!("{usage} {selector} {matching} {data}"),
        }
    }

    /// The address, for A/AAAA records.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Answer::A(ip) => Some(IpAddr::V4(*ip)),
            Answer::Aaaa(ip) => Some(IpAddr::V6(*ip)),
            _ => None,
        }
    }
}

/// The result of one DNS lookup, as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Query name.
    pub name: DnsName,
    /// Query type.
    pub rtype: RType,
    /// How it ended.
    pub outcome: Outcome,
    /// Records of the answer section (the asked type, plus CNAMEs on the way).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// When it was observed.
    pub at: Timestamp,
    /// The resolver vouched for the answer with DNSSEC (the AD bit of a validating
    /// resolver; always false from an authoritative server).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticated: bool,
}

impl Observation {
    /// True when the lookup failed (see [`Outcome::is_failure`]).
    pub fn failed(&self) -> bool {
        self.outcome.is_failure()
    }

    /// The joined strings of every TXT record in the answer.
    pub fn txt_records(&self) -> impl Iterator<Item = String> + '_ {
        self.answers.iter().filter_map(Answer::txt_joined)
    }

    /// CNAME targets in the answer, in order.
    pub fn cname_targets(&self) -> impl Iterator<Item = &DnsName> + '_ {
        self.answers.iter().filter_map(|a| match a {
            Answer::Cname { target, .. } => Some(target),
            _ => None,
        })
    }

    /// Addresses in the answer.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.answers.iter().filter_map(Answer::ip)
    }

    /// One line for evidence tables: `name TYPE → answer | answer` or the outcome.
    pub fn summary(&self) -> String {
        if self.answers.is_empty() {
            format!("{} {} → {}", self.name, self.rtype, self.outcome.label())
        } else {
            let answers: Vec<String> = self.answers.iter().map(Answer::presentation).collect();
            format!("{} {} → {}", self.name, self.rtype, answers.join(" | "))
        }
    }
}

/// Decodes one DNS character-string for display and matching: valid UTF-8 is kept as
/// is; every byte that is not part of valid UTF-8 becomes `\DDD` (decimal, as in zone
/// files), so nothing is lost and nothing invalid reaches a page or a JSON file.
pub fn decode_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = err.error_len().unwrap_or(after.len());
                for b in &after[..bad] {
                    out.push_str(&format!("\\{b:03}"));
                }
                rest = &after[bad..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_escaped_not_lost() {
        assert_eq!(decode_text(b"v=spf1 \xff-all"), "v=spf1 \\255-all");
        assert_eq!(
            decode_text("zero\u{200b}width".as_bytes()),
            "zero\u{200b}width"
        );
        assert_eq!(decode_text(b"\xe2\x80"), "\\226\\128");
    }

    #[test]
    fn failures_are_not_negative_answers() {
        assert!(Outcome::Timeout.is_failure());
        assert!(Outcome::ServFail.is_failure());
        assert!(!Outcome::NxDomain.is_failure());
        assert!(!Outcome::NoData.is_failure());
    }
}
