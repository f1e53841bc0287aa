//! Step F: what the SMTP probes add — host names in greetings and EHLO replies, names on
//! validated STARTTLS certificates, software strings. Corroborating or contradicting
//! evidence; decisive only for the banner rule (step D) and the certificate rule (C.8).

use super::Decision;
use super::hosts::{HostClass, Via};
use super::item::item;
use crate::classify::catalog::{Match, Role};
use crate::classify::flag::Flag;
use crate::classify::model::{EvidenceRole, Signal};
use crate::name::DnsName;
use crate::scan::domain::HostScan;
use crate::scan::probe::SmtpProbe;

impl<'a, 'c> Decision<'a, 'c> {
    /// Probes of one MX host (all its addresses).
    fn probes_of<'p>(&'p self, host: &'p DnsName) -> impl Iterator<Item = &'a SmtpProbe> + 'p {
        self.probes.iter().copied().filter(move |p| &p.host == host)
    }

    /// A catalogued operator named by a validated certificate of the host
    /// (unvalidated certificates prove nothing: anyone can put any name in one).
    pub(super) fn certificate_identity(&self, host: &HostScan) -> Option<(Match<'c>, DnsName)> {
        for probe in self.probes_of(&host.host) {
            let Some(tls) = probe.tls.as_ref().filter(|t| t.pkix_valid) else {
                continue;
            };
            let Some(leaf) = tls.chain.first() else {
                continue;
            };
            for san in &leaf.san {
                let Ok(name) = DnsName::parse(san.trim_start_matches("*.")) else {
                    continue;
                };
                if let Some(m) = self.identify(&name) {
                    return Some((m, name));
                }
            }
        }
        None
    }

    /// A catalogued operator named by the host name in the greeting or EHLO reply.
    pub(super) fn banner_identity(&self, host: &DnsName) -> Option<(Match<'c>, DnsName)> {
        self.probes_of(host)
            .flat_map(|p| [p.banner_host.as_ref(), p.ehlo_host.as_ref()])
            .flatten()
            .find_map(|name| self.identify(name).map(|m| (m, name.clone())))
    }

    fn identify(&self, name: &DnsName) -> Option<Match<'c>> {
        self.catalog
            .match_banner(name)
            .or_else(|| self.catalog.match_mx(name))
            .filter(|m| !matches!(m.entry.primary_role(), Role::Sender | Role::Pec))
    }

    /// Banner and certificate evidence of the weighed hosts.
    pub(super) fn smtp_evidence(&mut self, primary: &[&HostScan], inbound: &HostClass<'c>) {
        let inbound_id = inbound.entry.map(|e| e.id.clone());
        for host in primary {
            for probe in self.probes_of(&host.host).collect::<Vec<_>>() {
                let endpoint = format!("{} [{}]:{}", probe.host, probe.ip, probe.port);
                if let Some(software) = &probe.software {
                    self.flag(Flag::SmtpSoftware);
                    self.evidence.push(item(
                        Signal::Banner,
                        &format!("{endpoint} greeting"),
                        &format!("software: {software}"),
                        None,
                        None,
                        EvidenceRole::Informational,
                    ));
                }
                for name in [&probe.banner_host, &probe.ehlo_host].into_iter().flatten() {
                    let m = self.identify(name);
                    let decisive = inbound.via == Via::Banner(name.clone());
                    let role = identity_role(m.as_ref(), inbound_id.as_deref(), decisive);
                    self.evidence.push(item(
                        Signal::Banner,
                        &format!("{endpoint} greeting"),
                        &name.to_string(),
                        m.as_ref().map(Match::describe),
                        m.as_ref().map(|m| m.entry.id.clone()),
                        role,
                    ));
                }
                self.certificate_evidence(probe, &endpoint, inbound, inbound_id.as_deref());
                let vps = [&probe.banner_host, &probe.ehlo_host]
                    .into_iter()
                    .flatten()
                    .any(|n| self.catalog.vps_operator(n).is_some());
                if vps && matches!(inbound.via, Via::Banner(_) | Via::Cert(_)) {
                    self.flag(Flag::VpsSuspect);
                }
            }
        }
    }

    fn certificate_evidence(
        &mut self,
        probe: &SmtpProbe,
        endpoint: &str,
        inbound: &HostClass<'c>,
        inbound_id: Option<&str>,
    ) {
        let Some(tls) = &probe.tls else { return };
        let Some(leaf) = tls.chain.first() else {
            return;
        };
        let names: Vec<DnsName> = leaf
            .san
            .iter()
            .filter_map(|s| DnsName::parse(s.trim_start_matches("*.")).ok())
            .collect();
        let m = if tls.pkix_valid {
            names.iter().find_map(|n| self.identify(n))
        } else {
            None
        };
        let decisive = names.iter().any(|n| inbound.via == Via::Cert(n.clone()));
        let role = identity_role(m.as_ref(), inbound_id, decisive);
        let mut raw = leaf.san.join(" ");
        if !tls.pkix_valid {
            raw.push_str(" (certificate not validated: not used as evidence)");
        }
        self.evidence.push(item(
            Signal::Cert,
            &format!("{endpoint} certificate"),
            &raw,
            m.as_ref().map(Match::describe),
            m.as_ref().map(|m| m.entry.id.clone()),
            role,
        ));
    }
}

fn identity_role(m: Option<&Match<'_>>, inbound: Option<&str>, decisive: bool) -> EvidenceRole {
    match m {
        _ if decisive => EvidenceRole::Decisive,
        Some(m) if Some(m.entry.id.as_str()) == inbound => EvidenceRole::Corroborating,
        Some(m) if m.entry.primary_role() == Role::Provider => EvidenceRole::Contradicting,
        _ => EvidenceRole::Informational,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::classify::model::{EvidenceRole, Rule, Signal};

    #[test]
    fn a_validated_certificate_names_a_third_partys_operator() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.relay-x.de", &[(3320, "DE")])
                .probe(
                    "mail.relay-x.de",
                    None,
                    Some((&["x.hornetsecurity.com"], true)),
                )
                .build(),
        );
        assert_eq!(v.rule, Rule::GwUnknown);
        assert_eq!(v.gateway.as_deref(), Some("hornetsecurity"));
        let cert = v
            .evidence
            .iter()
            .find(|e| e.signal == Signal::Cert)
            .unwrap();
        assert_eq!(cert.role, EvidenceRole::Decisive);
    }

    #[test]
    fn an_unvalidated_certificate_proves_nothing() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.relay-x.de", &[(3320, "DE")])
                .probe(
                    "mail.relay-x.de",
                    None,
                    Some((&["x.hornetsecurity.com"], false)),
                )
                .build(),
        );
        assert_eq!(v.rule, Rule::ThirdParty);
        let cert = v
            .evidence
            .iter()
            .find(|e| e.signal == Signal::Cert)
            .unwrap();
        assert!(cert.raw.contains("not validated"));
    }

    #[test]
    fn a_banner_of_another_provider_contradicts_and_costs_confidence() {
        let plain = decide(
            &Scan::new("town.de")
                .mx(10, "mx00.ionos.de", &[(8560, "DE")])
                .build(),
        );
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mx00.ionos.de", &[(8560, "DE")])
                .probe("mx00.ionos.de", Some("mx.google.com"), None)
                .build(),
        );
        let e = v
            .evidence
            .iter()
            .find(|e| e.signal == Signal::Banner)
            .unwrap();
        assert_eq!(e.role, EvidenceRole::Contradicting);
        assert!(v.confidence < plain.confidence);
    }

    #[test]
    fn a_vps_banner_behind_a_banner_verdict_is_suspect() {
        let v = decide(
            &Scan::new("town.de")
                .mx(10, "mail.town.de", &[(3320, "DE")])
                .probe("mail.town.de", Some("mx.google.com"), None)
                .probe("mail.town.de", Some("vps123.ovh.net"), None)
                .build(),
        );
        assert_eq!(v.rule, Rule::MxBanner);
        assert!(flags(&v).contains(&"vps_suspect"));
    }
}
