//! Step A: hard stops — the MX lookup failed, the domain does not exist, publishes no
//! MX or a null MX, or has no valid mail server. Each stop carries the MX observation as
//! its decisive evidence.

use super::item::item;
use super::{Decision, Options, verdict};
use crate::classify::flag::Flag;
use crate::classify::model::{EvidenceRole, Rule, Signal, Verdict};
use crate::evidence::{Answer, Outcome};
use crate::name::DnsName;
use crate::scan::domain::HostScan;

impl<'a> Decision<'a, '_> {
    /// The valid MX hosts, or the verdict of a hard stop.
    pub(super) fn hard_stops(
        &mut self,
        options: &Options,
    ) -> Result<Vec<&'a HostScan>, Box<Verdict>> {
        let scan = self.scan;
        let mx = &scan.mx;
        let domain = &scan.domain;
        if mx.failed() {
            self.mx_observation(mx.outcome.label(), EvidenceRole::Decisive);
            return Err(self.stop(
                Rule::DnsError,
                format!(
                    "The MX lookup for {domain} failed ({}); this is a scan error, not a finding.",
                    mx.outcome.label()
                ),
            ));
        }
        if mx.outcome == Outcome::NxDomain {
            self.mx_observation("NXDOMAIN", EvidenceRole::Decisive);
            return Err(self.stop(
                Rule::Nxdomain,
                format!("The domain {domain} does not exist in DNS."),
            ));
        }
        let records = mx_records(&mx.answers);
        if records.is_empty() {
            let what = match mx.outcome {
                Outcome::NoData => "no MX record (NODATA)".to_string(),
                ref other => format!("no MX record ({})", other.label()),
            };
            self.mx_observation(&what, EvidenceRole::Decisive);
            return Err(self.stop(
                Rule::NoMx,
                format!("The domain {domain} publishes no MX record."),
            ));
        }
        for (pref, host) in &records {
            let raw = match host {
                Some(h) => format!("{pref} {h}"),
                None => format!("{pref} ."),
            };
            let role = if host.is_none() && records.iter().all(|(_, h)| h.is_none()) {
                EvidenceRole::Decisive
            } else {
                EvidenceRole::Informational
            };
            self.mx_observation(&raw, role);
        }
        if records.iter().all(|(_, h)| h.is_none()) {
            self.flag(Flag::NullMx);
            return Err(self.stop(
                Rule::NullMx,
                format!("The domain {domain} publishes a null MX: it accepts no mail."),
            ));
        }
        if records.iter().any(|(_, h)| h.is_none()) {
            self.flag(Flag::InvalidMx);
        }
        if scan.hosts_capped {
            self.flag(Flag::MxCapped);
        }
        let valid: Vec<&'a HostScan> = scan
            .hosts
            .iter()
            .filter(|h| !is_invalid_host(h, options))
            .collect();
        if valid.len() < scan.hosts.len() {
            self.flag(Flag::InvalidMx);
        }
        let deny_all = self.spf_denies_all();
        let any_resolves = valid.iter().any(|h| h.resolves());
        if valid.is_empty() || (!any_resolves && deny_all) {
            let spf = if deny_all {
                " and SPF forbids all mail"
            } else {
                ""
            };
            return Err(self.stop(
                Rule::DeadDomain,
                format!("No MX host of {domain} is a valid mail server{spf}."),
            ));
        }
        Ok(valid)
    }

    fn stop(&self, rule: Rule, reason: String) -> Box<Verdict> {
        Box::new(verdict::unknown(rule, reason, self.rules))
    }

    fn mx_observation(&mut self, raw: &str, role: EvidenceRole) {
        let query = format!("{} MX", self.scan.domain);
        self.evidence
            .push(item(Signal::Mx, &query, raw, None, None, role));
    }

    /// SPF is exactly `v=spf1 -all`.
    fn spf_denies_all(&self) -> bool {
        let records = &self.scan.spf.records;
        records.len() == 1
            && records[0].split_ascii_whitespace().collect::<Vec<_>>() == ["v=spf1", "-all"]
    }
}

/// (preference, exchange) of every MX answer; `None` is the null MX.
fn mx_records(answers: &[Answer]) -> Vec<(u16, Option<&DnsName>)> {
    answers
        .iter()
        .filter_map(|a| match a {
            Answer::Mx {
                preference,
                exchange,
            } => Some((*preference, exchange.as_ref())),
            _ => None,
        })
        .collect()
}

/// Spec §3.3: `localhost`, IP literals written as host names, `.invalid` names; in live
/// mode also hosts whose only addresses are loopback/private.
pub(super) fn is_invalid_host(host: &HostScan, options: &Options) -> bool {
    let text = host.host.to_string();
    let labels = host.host.labels();
    let first = labels.first().copied().unwrap_or_default();
    let last = labels.last().copied().unwrap_or_default();
    if first == b"localhost" && host.host.len() == 1 || last == b"localhost" || last == b"invalid" {
        return true;
    }
    let literal = text.trim_start_matches('[').trim_end_matches(']');
    if literal.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if options.check_mx_addresses && !host.addresses.is_empty() {
        return host.addresses.iter().all(|a| match a.ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_loopback() || v4.is_private() || v4.is_unspecified() || v4.is_link_local()
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
            }
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{EvidenceRole, Rule, Signal};
    use crate::evidence::Outcome;

    #[test]
    fn a_failed_mx_lookup_is_a_scan_error() {
        let v = decide(&Scan::new("x.de").mx_outcome(Outcome::ServFail).build());
        assert_eq!(v.rule, Rule::DnsError);
        assert_eq!(v.confidence, 0);
        assert!(v.reason.contains("scan error"));
        assert_eq!(v.evidence[0].raw, "SERVFAIL");
    }

    #[test]
    fn nxdomain_stops_with_its_evidence() {
        let v = decide(&Scan::new("x.de").mx_outcome(Outcome::NxDomain).build());
        assert_eq!(v.rule, Rule::Nxdomain);
        assert_eq!(v.evidence[0].raw, "NXDOMAIN");
    }

    #[test]
    fn no_mx_carries_the_mx_observation_as_evidence() {
        let v = decide(&Scan::new("x.de").mx_outcome(Outcome::NoData).build());
        assert_eq!(v.rule, Rule::NoMx);
        assert_eq!(v.provider, "unknown");
        let e = &v.evidence[0];
        assert_eq!((e.signal, e.role), (Signal::Mx, EvidenceRole::Decisive));
        assert_eq!(e.query, "x.de MX");
        assert!(e.raw.contains("NODATA"), "{}", e.raw);
    }

    #[test]
    fn null_mx_accepts_no_mail() {
        let v = decide(&Scan::new("x.de").null_mx().build());
        assert_eq!(v.rule, Rule::NullMx);
        assert!(v.flags.iter().any(|f| f.slug() == "null_mx"));
        assert_eq!(v.evidence[0].role, EvidenceRole::Decisive);
    }

    #[test]
    fn only_invalid_hosts_make_a_dead_domain() {
        let v = decide(&Scan::new("x.de").mx(10, "localhost", &[]).build());
        assert_eq!(v.rule, Rule::DeadDomain);
        let v = decide(&Scan::new("x.de").mx(10, "127.0.0.1", &[]).build());
        assert_eq!(v.rule, Rule::DeadDomain);
        let v = decide(&Scan::new("x.de").mx(10, "a.msv1.invalid", &[]).build());
        assert_eq!(v.rule, Rule::DeadDomain);
        // An unresolvable host with SPF that forbids all mail.
        let v = decide(
            &Scan::new("x.de")
                .mx(10, "mail.x.de", &[])
                .txt("v=spf1 -all")
                .build(),
        );
        assert_eq!(v.rule, Rule::DeadDomain);
        assert!(v.reason.contains("SPF forbids"));
    }

    #[test]
    fn an_invalid_host_beside_a_valid_one_is_flagged_not_fatal() {
        let v = decide(
            &Scan::new("x.de")
                .mx(10, "localhost", &[])
                .mx(20, "x-de.mail.protection.outlook.com", &[(8075, "US")])
                .build(),
        );
        assert_eq!(v.provider, "microsoft");
        assert!(v.flags.iter().any(|f| f.slug() == "invalid_mx"));
    }
}
