//! Hand-built scans for the decision steps' unit tests: a builder that writes the
//! observations a real scan would have made (MX with preferences, addresses with their
//! origin ASN and country, CNAME chains, TXT/SPF, DKIM, autodiscover, SMTP probes), and
//! `decide` with the embedded tables.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::{Options, Tables};
use crate::classify::catalog::Catalog;
use crate::classify::model::Verdict;
use crate::classify::rules::RuleBook;
use crate::evidence::{Answer, Observation, Outcome, RType};
use crate::name::DnsName;
use crate::scan::domain::{AddressScan, CnameChain, DkimProbe, DomainScan, HostScan, Origin};
use crate::scan::probe::{CertInfo, Handshake, SmtpProbe, TlsResult};
use crate::scan::spf::{self, SpfEvaluation, SpfNode, Via};

pub(crate) fn name(text: &str) -> DnsName {
    DnsName::parse(text).expect("test name")
}

fn obs(qname: &DnsName, rtype: RType, outcome: Outcome, answers: Vec<Answer>) -> Arc<Observation> {
    Arc::new(Observation {
        name: qname.clone(),
        rtype,
        outcome,
        answers,
        at: 1_700_000_000,
        authenticated: false,
    })
}

fn answered(qname: &DnsName, rtype: RType, answers: Vec<Answer>) -> Arc<Observation> {
    let outcome = if answers.is_empty() {
        Outcome::NoData
    } else {
        Outcome::Answer
    };
    obs(qname, rtype, outcome, answers)
}

fn chain(start: &DnsName, targets: &[&str]) -> CnameChain {
    let mut steps = Vec::new();
    let mut from = start.clone();
    let mut names = Vec::new();
    for t in targets {
        let target = name(t);
        steps.push(answered(
            &from,
            RType::Cname,
            vec![Answer::Cname {
                owner: from.clone(),
                target: target.clone(),
            }],
        ));
        names.push(target.clone());
        from = target;
    }
    steps.push(answered(&from, RType::Cname, Vec::new()));
    CnameChain {
        steps,
        targets: names,
        looped: false,
        truncated: false,
    }
}

/// A scan under construction.
pub(crate) struct Scan {
    domain: DnsName,
    mx_outcome: Outcome,
    mx: Vec<(u16, Option<DnsName>)>,
    hosts: Vec<HostScan>,
    txt: Vec<String>,
    spf_nodes: Vec<(String, u8, String)>,
    dkim: Vec<DkimProbe>,
    autodiscover: Vec<String>,
    autodiscover_srv: Vec<String>,
    probes: Vec<SmtpProbe>,
    next_address: u32,
}

impl Scan {
    pub(crate) fn new(domain: &str) -> Scan {
        Scan {
            domain: name(domain),
            mx_outcome: Outcome::Answer,
            mx: Vec::new(),
            hosts: Vec::new(),
            txt: Vec::new(),
            spf_nodes: Vec::new(),
            dkim: Vec::new(),
            autodiscover: Vec::new(),
            autodiscover_srv: Vec::new(),
            probes: Vec::new(),
            next_address: 1,
        }
    }

    /// The MX lookup ends this way with no records.
    pub(crate) fn mx_outcome(mut self, outcome: Outcome) -> Scan {
        self.mx_outcome = outcome;
        self
    }

    pub(crate) fn null_mx(mut self) -> Scan {
        self.mx.push((0, None));
        self
    }

    /// An MX host with one address per (ASN, country) pair.
    pub(crate) fn mx(self, preference: u16, host: &str, origins: &[(u32, &str)]) -> Scan {
        self.mx_alias_chain(preference, host, &[], origins)
    }

    /// An MX host that is an alias of `target` (the addresses are the target's).
    pub(crate) fn mx_alias(
        self,
        preference: u16,
        host: &str,
        target: &str,
        origins: &[(u32, &str)],
    ) -> Scan {
        self.mx_alias_chain(preference, host, &[target], origins)
    }

    fn mx_alias_chain(
        mut self,
        preference: u16,
        host: &str,
        targets: &[&str],
        origins: &[(u32, &str)],
    ) -> Scan {
        let host = name(host);
        self.mx.push((preference, Some(host.clone())));
        let mut addresses = Vec::new();
        let mut a_answers = Vec::new();
        for (asn, cc) in origins {
            let n = self.next_address;
            self.next_address += 1;
            let ip = Ipv4Addr::new(127, 9, (n / 250) as u8, (n % 250 + 1) as u8);
            a_answers.push(Answer::A(ip));
            let o = ip.octets();
            let qname = name(&format!(
                "{}.{}.{}.{}.origin.asn.cymru.com",
                o[3], o[2], o[1], o[0]
            ));
            addresses.push(AddressScan {
                ip: IpAddr::V4(ip),
                lookup: answered(&qname, RType::Txt, Vec::new()),
                origin: Some(Origin {
                    asns: vec![*asn],
                    prefix: format!("{ip}/32"),
                    country: Some(cc.to_string()),
                    registry: Some("ripencc".into()),
                }),
            });
        }
        let tlsa = name("_25._tcp.x.invalid");
        self.hosts.push(HostScan {
            chain: chain(&host, targets),
            a: answered(&host, RType::A, a_answers),
            aaaa: answered(&host, RType::Aaaa, Vec::new()),
            addresses,
            tlsa: answered(&tlsa, RType::Tlsa, Vec::new()),
            host,
            preference,
        });
        self
    }

    /// A TXT record at the domain (SPF records become the depth-0 node of the tree).
    pub(crate) fn txt(mut self, text: &str) -> Scan {
        self.txt.push(text.to_string());
        self
    }

    /// A record deeper in the SPF tree, at `domain` and `depth`.
    pub(crate) fn spf_node(mut self, domain: &str, depth: u8, record: &str) -> Scan {
        self.spf_nodes
            .push((domain.to_string(), depth, record.to_string()));
        self
    }

    /// A DKIM selector that is an alias of `target`.
    pub(crate) fn dkim(mut self, selector: &str, target: &str) -> Scan {
        let qname = name(&format!("{selector}._domainkey.{}", self.domain));
        self.dkim.push(DkimProbe {
            selector: selector.to_string(),
            cname: chain(&qname, &[target]).steps[0].clone(),
            txt: None,
        });
        self
    }

    /// A DKIM key published as TXT at `selector`.
    pub(crate) fn dkim_txt(mut self, selector: &str, key: &str) -> Scan {
        let qname = name(&format!("{selector}._domainkey.{}", self.domain));
        self.dkim.push(DkimProbe {
            selector: selector.to_string(),
            cname: answered(&qname, RType::Cname, Vec::new()),
            txt: Some(answered(
                &qname,
                RType::Txt,
                vec![Answer::Txt(vec![key.into()])],
            )),
        });
        self
    }

    pub(crate) fn autodiscover(mut self, target: &str) -> Scan {
        self.autodiscover.push(target.to_string());
        self
    }

    pub(crate) fn autodiscover_srv(mut self, target: &str) -> Scan {
        self.autodiscover_srv.push(target.to_string());
        self
    }

    /// An SMTP probe of `host` whose greeting names `banner` (and, with `cert`, a
    /// STARTTLS certificate with these names, validated or not).
    pub(crate) fn probe(
        mut self,
        host: &str,
        banner: Option<&str>,
        cert: Option<(&[&str], bool)>,
    ) -> Scan {
        let mut p = SmtpProbe::empty(&name(host), IpAddr::V4(Ipv4Addr::LOCALHOST), 25, 0);
        p.banner_host = banner.map(name);
        p.tls = cert.map(|(sans, valid)| TlsResult {
            handshake: Handshake::Ok,
            version: None,
            cipher: None,
            chain: vec![CertInfo {
                sha256: String::new(),
                spki_sha256: String::new(),
                subject: String::new(),
                san: sans.iter().map(|s| s.to_string()).collect(),
                issuer: String::new(),
                issuer_country: None,
                not_before: 0,
                not_after: 0,
                key_alg: String::new(),
                key_bits: 0,
                sig_alg: String::new(),
            }],
            pkix_valid: valid,
            name_match: valid,
            problems: Vec::new(),
            pkix_detail: None,
            expires_soon: false,
            versions_accepted: Vec::new(),
            legacy_accepted: None,
        });
        self.probes.push(p);
        self
    }

    fn spf(&self) -> SpfEvaluation {
        let mut eval = SpfEvaluation::default();
        for record in self.txt.iter().filter(|t| spf::is_spf(t)) {
            eval.records.push(record.clone());
            eval.nodes
                .push(node(&self.domain.to_string(), 0, record, None));
        }
        for (domain, depth, record) in &self.spf_nodes {
            eval.nodes.push(node(domain, *depth, record, Some(0)));
        }
        eval
    }

    /// The scan and its probes.
    pub(crate) fn build(self) -> (DomainScan, Vec<SmtpProbe>) {
        let d = &self.domain;
        let mx_answers: Vec<Answer> = self
            .mx
            .iter()
            .map(|(preference, exchange)| Answer::Mx {
                preference: *preference,
                exchange: exchange.clone(),
            })
            .collect();
        let mx = if self.mx_outcome == Outcome::Answer {
            answered(d, RType::Mx, mx_answers)
        } else {
            obs(d, RType::Mx, self.mx_outcome.clone(), Vec::new())
        };
        let txt_answers = self
            .txt
            .iter()
            .map(|t| Answer::Txt(vec![t.clone()]))
            .collect();
        let under = |p: &str| name(&format!("{p}.{d}"));
        let ad_name = under("autodiscover");
        let targets: Vec<&str> = self.autodiscover.iter().map(String::as_str).collect();
        let srv_name = under("_autodiscover._tcp");
        let srv = self
            .autodiscover_srv
            .iter()
            .map(|t| Answer::Srv {
                priority: 0,
                weight: 0,
                port: 443,
                target: name(t),
            })
            .collect();
        let mut hosts = self.hosts.clone();
        hosts.sort_by(|a, b| (a.preference, &a.host).cmp(&(b.preference, &b.host)));
        let spf = self.spf();
        let scan = DomainScan {
            domain: d.clone(),
            mx,
            hosts,
            hosts_capped: false,
            txt: answered(d, RType::Txt, txt_answers),
            spf,
            dkim: self.dkim,
            autodiscover: chain(&ad_name, &targets),
            autodiscover_srv: answered(&srv_name, RType::Srv, srv),
            dmarc: answered(&under("_dmarc"), RType::Txt, Vec::new()),
            dmarc_org: None,
            mta_sts: answered(&under("_mta-sts"), RType::Txt, Vec::new()),
            tls_rpt: answered(&under("_smtp._tls"), RType::Txt, Vec::new()),
        };
        (scan, self.probes)
    }
}

fn node(domain: &str, depth: u8, record: &str, parent: Option<usize>) -> SpfNode {
    SpfNode {
        domain: name(domain),
        depth,
        via: if depth == 0 { Via::Root } else { Via::Include },
        parent,
        record: Some(record.to_string()),
        terms: spf::parse(record),
        outcome: Outcome::Answer,
    }
}

/// The tables the tests decide with.
pub(crate) fn tables() -> Tables<'static> {
    Tables {
        catalog: Catalog::embedded(),
        rules: RuleBook::embedded(),
    }
}

/// Decides a built scan for a German municipality, preferences trusted.
pub(crate) fn decide(built: &(DomainScan, Vec<SmtpProbe>)) -> Verdict {
    decide_with(built, true)
}

/// Decides with or without trusted MX preferences.
pub(crate) fn decide_with(built: &(DomainScan, Vec<SmtpProbe>), trust: bool) -> Verdict {
    decide_in(built, trust, "DE", None)
}

/// Decides for a municipality of `cc`, with an optional backend hint.
pub(crate) fn decide_in(
    built: &(DomainScan, Vec<SmtpProbe>),
    trust: bool,
    cc: &str,
    hint: Option<&str>,
) -> Verdict {
    let probes: Vec<&SmtpProbe> = built.1.iter().collect();
    let options = Options {
        check_mx_addresses: false,
        trust_mx_preferences: trust,
    };
    super::decide(&built.0, &probes, cc, &tables(), &options, hint)
}

/// The slugs of a verdict's flags.
pub(crate) fn flags(v: &Verdict) -> Vec<&'static str> {
    v.flags.iter().map(|f| f.slug()).collect()
}
