//! Scanning one mail domain: every DNS signal of the classification spec (MX with
//! preferences, CNAME chains and addresses of MX hosts, their origin ASN and country,
//! SPF tree, DKIM selectors, autodiscover, verification tokens) plus the records the
//! security checks use (DMARC, MTA-STS, TLS-RPT, TLSA).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::lookups::Lookups;
use super::spf::{self, SpfEvaluation};
use crate::evidence::{Answer, Observation, Outcome, RType};
use crate::name::DnsName;

/// CNAME chains longer than this are cut (RFC 1034 suggests a limit; the anchors use 10).
pub const MAX_CNAME_HOPS: usize = 10;
/// MX hosts scanned per domain at most (a domain with thousands of MX records stays bounded).
pub const MAX_MX_HOSTS: usize = 32;
/// Addresses per MX host at most (classification spec §3.3).
pub const MAX_ADDRESSES: usize = 16;
/// One DKIM selector to probe. The list comes from the signature table
/// (`dkim_selectors` / `dkim_txt_selectors`), so the scan asks exactly what the
/// classifier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSelector {
    /// Selector label (`selector1`, `google`, …).
    pub selector: String,
    /// The provider publishes its key as TXT there (Google): ask for TXT when the
    /// selector is no alias.
    pub txt_key: bool,
}

/// A CNAME chain followed hop by hop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CnameChain {
    /// The CNAME lookups made, first at the start name.
    pub steps: Vec<Arc<Observation>>,
    /// Alias targets in order (empty when the start name is no alias).
    pub targets: Vec<DnsName>,
    /// The chain came back to a name already seen.
    pub looped: bool,
    /// The chain was cut at [`MAX_CNAME_HOPS`].
    pub truncated: bool,
}

impl CnameChain {
    /// The last name of the chain (the start name when there is no alias).
    pub fn final_name<'a>(&'a self, start: &'a DnsName) -> &'a DnsName {
        self.targets.last().unwrap_or(start)
    }

    /// True when a lookup of the chain failed.
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.failed())
    }
}

/// Origin of an address, from a Team Cymru style TXT answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Origin ASNs (several for multi-origin prefixes).
    pub asns: Vec<u32>,
    /// The announced prefix.
    pub prefix: String,
    /// Upper-case country of the allocation (RIR country, not a geolocation).
    pub country: Option<String>,
    /// RIR.
    pub registry: Option<String>,
}

/// Address of an MX host with its origin lookup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressScan {
    /// The address.
    pub ip: IpAddr,
    /// The Cymru TXT lookup.
    pub lookup: Arc<Observation>,
    /// Parsed origin (most specific prefix), if any.
    pub origin: Option<Origin>,
}

/// One MX host of a domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostScan {
    /// Exchange name as published.
    pub host: DnsName,
    /// Preference (lower is preferred).
    pub preference: u16,
    /// CNAME chain of the host (an MX target should not be an alias, but some are).
    pub chain: CnameChain,
    /// A lookup.
    pub a: Arc<Observation>,
    /// AAAA lookup.
    pub aaaa: Arc<Observation>,
    /// Addresses with their origins (capped at [`MAX_ADDRESSES`]).
    pub addresses: Vec<AddressScan>,
    /// TLSA at `_25._tcp.<host>`.
    pub tlsa: Arc<Observation>,
}

impl HostScan {
    /// True when the host resolves to at least one address.
    pub fn resolves(&self) -> bool {
        !self.addresses.is_empty()
    }
}

/// One DKIM selector probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DkimProbe {
    /// Selector label.
    pub selector: String,
    /// CNAME lookup at `<selector>._domainkey.<domain>`.
    pub cname: Arc<Observation>,
    /// TXT lookup (only for selectors whose provider publishes a key there).
    pub txt: Option<Arc<Observation>>,
}

/// Everything observed for one mail domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainScan {
    /// The domain (A-label form).
    pub domain: DnsName,
    /// MX lookup.
    pub mx: Arc<Observation>,
    /// Distinct MX hosts sorted by (preference, name), capped at [`MAX_MX_HOSTS`].
    pub hosts: Vec<HostScan>,
    /// More MX hosts than [`MAX_MX_HOSTS`] were published.
    pub hosts_capped: bool,
    /// TXT at the domain (SPF and verification tokens).
    pub txt: Arc<Observation>,
    /// SPF tree.
    pub spf: SpfEvaluation,
    /// DKIM probes.
    pub dkim: Vec<DkimProbe>,
    /// CNAME chain of `autodiscover.<domain>`.
    pub autodiscover: CnameChain,
    /// SRV at `_autodiscover._tcp.<domain>`.
    pub autodiscover_srv: Arc<Observation>,
    /// TXT at `_dmarc.<domain>`.
    pub dmarc: Arc<Observation>,
    /// TXT at `_dmarc.<organisational domain>` when the domain has no DMARC record of
    /// its own and is below its registered domain (RFC 7489 §6.6.3 policy discovery).
    pub dmarc_org: Option<Arc<Observation>>,
    /// TXT at `_mta-sts.<domain>`.
    pub mta_sts: Arc<Observation>,
    /// TXT at `_smtp._tls.<domain>`.
    pub tls_rpt: Arc<Observation>,
}

impl DomainScan {
    /// Every observation behind this scan, once each, in a stable order.
    pub fn observations(&self) -> Vec<&Observation> {
        let mut all: Vec<&Observation> = vec![&self.mx, &self.txt];
        for host in &self.hosts {
            all.extend(host.chain.steps.iter().map(|o| &**o));
            all.push(&host.a);
            all.push(&host.aaaa);
            all.extend(host.addresses.iter().map(|a| &*a.lookup));
            all.push(&host.tlsa);
        }
        for probe in &self.dkim {
            all.push(&probe.cname);
            all.extend(probe.txt.as_deref());
        }
        all.extend(self.autodiscover.steps.iter().map(|o| &**o));
        all.extend([
            &*self.autodiscover_srv,
            &*self.dmarc,
            &*self.mta_sts,
            &*self.tls_rpt,
        ]);
        all.extend(self.dmarc_org.as_deref());
        // Borrowed keys, FxHash: this runs for every page and data record.
        let mut seen = rustc_hash::FxHashSet::default();
        all.retain(|o| seen.insert((&o.name, o.rtype)));
        all
    }

    /// The scan of a domain whose handling failed inside mxmap (a caught panic): the
    /// MX lookup carries `why` as its error, so the domain is a scan error with the
    /// cause as evidence, and nothing else is claimed about it.
    pub fn failed(domain: &DnsName, why: &str, at: crate::evidence::Timestamp) -> DomainScan {
        let error = |name: &DnsName, rtype: RType| {
            Arc::new(Observation {
                name: name.clone(),
                rtype,
                outcome: Outcome::Error(why.to_string()),
                answers: Vec::new(),
                at,
                authenticated: false,
            })
        };
        let under = |prefix: &str| domain.prepend(prefix).unwrap_or_else(|_| domain.clone());
        DomainScan {
            domain: domain.clone(),
            mx: error(domain, RType::Mx),
            hosts: Vec::new(),
            hosts_capped: false,
            txt: error(domain, RType::Txt),
            spf: SpfEvaluation::default(),
            dkim: Vec::new(),
            autodiscover: CnameChain {
                steps: Vec::new(),
                targets: Vec::new(),
                looped: false,
                truncated: false,
            },
            autodiscover_srv: error(&under("_autodiscover._tcp"), RType::Srv),
            dmarc: error(&under("_dmarc"), RType::Txt),
            dmarc_org: None,
            mta_sts: error(&under("_mta-sts"), RType::Txt),
            tls_rpt: error(&under("_smtp._tls"), RType::Txt),
        }
    }

    /// Lookups of this domain that failed (timeouts, SERVFAIL, refusals), SPF tree
    /// included.
    pub fn failures(&self) -> Vec<&Observation> {
        self.observations()
            .into_iter()
            .filter(|o| o.failed())
            .collect()
    }
}

/// Scans one domain, probing the given DKIM selectors.
pub async fn scan_domain(
    lookups: &Lookups,
    domain: &DnsName,
    selectors: &[DkimSelector],
) -> DomainScan {
    let under = |prefix: &str| domain.prepend(prefix).ok();
    let dkim_names: Vec<(&DkimSelector, Option<DnsName>)> = selectors
        .iter()
        .map(|s| (s, under(&format!("{}._domainkey", s.selector))))
        .collect();
    let autodiscover_name = under("autodiscover");
    let (mx, txt, dmarc, mta_sts, tls_rpt, autodiscover_srv) = tokio::join!(
        lookups.get(domain, RType::Mx),
        lookups.get(domain, RType::Txt),
        get_under(lookups, under("_dmarc"), RType::Txt),
        get_under(lookups, under("_mta-sts"), RType::Txt),
        get_under(lookups, under("_smtp._tls"), RType::Txt),
        get_under(lookups, under("_autodiscover._tcp"), RType::Srv),
    );
    let dkim_fut = join_all(dkim_names.iter().map(|(selector, name)| async move {
        let cname = get_under(lookups, name.clone(), RType::Cname).await;
        let txt = if selector.txt_key && cname.answers.is_empty() {
            Some(get_under(lookups, name.clone(), RType::Txt).await)
        } else {
            None
        };
        DkimProbe {
            selector: selector.selector.clone(),
            cname,
            txt,
        }
    }));
    let autodiscover_fut = async {
        match &autodiscover_name {
            Some(name) => follow_cnames(lookups, name).await,
            None => CnameChain {
                steps: Vec::new(),
                targets: Vec::new(),
                looped: false,
                truncated: false,
            },
        }
    };

    let mut exchanges: BTreeMap<DnsName, u16> = BTreeMap::new();
    for answer in &mx.answers {
        if let Answer::Mx {
            preference,
            exchange: Some(host),
        } = answer
        {
            let pref = exchanges.entry(host.clone()).or_insert(*preference);
            *pref = (*pref).min(*preference);
        }
    }
    let mut ordered: Vec<(u16, DnsName)> = exchanges.into_iter().map(|(h, p)| (p, h)).collect();
    ordered.sort();
    let hosts_capped = ordered.len() > MAX_MX_HOSTS;
    ordered.truncate(MAX_MX_HOSTS);
    let hosts_fut = join_all(
        ordered
            .into_iter()
            .map(|(pref, host)| scan_host(lookups, host, pref)),
    );

    let dmarc_org_fut = async {
        let has_own = dmarc.txt_records().any(|t| is_dmarc(&t));
        let org = crate::name::org::registered_domain(domain).filter(|o| o != domain);
        match org {
            Some(org) if !has_own && !dmarc.failed() => {
                Some(get_under(lookups, org.prepend("_dmarc").ok(), RType::Txt).await)
            }
            _ => None,
        }
    };
    let (dkim, autodiscover, hosts, spf, dmarc_org) = tokio::join!(
        dkim_fut,
        autodiscover_fut,
        hosts_fut,
        spf::evaluate(lookups, domain, &txt),
        dmarc_org_fut
    );
    DomainScan {
        domain: domain.clone(),
        mx,
        hosts,
        hosts_capped,
        txt,
        spf,
        dkim,
        autodiscover,
        autodiscover_srv,
        dmarc,
        dmarc_org,
        mta_sts,
        tls_rpt,
    }
}

/// True when a TXT string is a DMARC record (`v=DMARC1`, case-insensitive tag value).
/// Compares bytes: the text comes from the network, and a non-ASCII character across
/// the tag position must not be sliced through.
pub fn is_dmarc(text: &str) -> bool {
    text.trim_start()
        .as_bytes()
        .get(..8)
        .is_some_and(|tag| tag.eq_ignore_ascii_case(b"v=DMARC1"))
}

/// A lookup under the domain; a name that would be too long yields an error observation.
async fn get_under(lookups: &Lookups, name: Option<DnsName>, rtype: RType) -> Arc<Observation> {
    match name {
        Some(name) => lookups.get(&name, rtype).await,
        None => Arc::new(Observation {
            name: DnsName::parse("invalid").expect("static name"),
            rtype,
            outcome: Outcome::Error("name too long".into()),
            answers: Vec::new(),
            at: lookups.started,
            authenticated: false,
        }),
    }
}

async fn scan_host(lookups: &Lookups, host: DnsName, preference: u16) -> HostScan {
    let tlsa_name = host.prepend("_25._tcp").ok();
    let (chain, a, aaaa, tlsa) = tokio::join!(
        follow_cnames(lookups, &host),
        lookups.get(&host, RType::A),
        lookups.get(&host, RType::Aaaa),
        get_under(lookups, tlsa_name, RType::Tlsa),
    );
    let mut ips: Vec<IpAddr> = a.addresses().chain(aaaa.addresses()).collect();
    ips.dedup();
    ips.truncate(MAX_ADDRESSES);
    let addresses = join_all(ips.into_iter().map(|ip| async move {
        let lookup = match origin_query_name(ip) {
            Some(name) => lookups.get(&name, RType::Txt).await,
            None => get_under(lookups, None, RType::Txt).await,
        };
        let origin = best_origin(&lookup);
        AddressScan { ip, lookup, origin }
    }))
    .await;
    HostScan {
        host,
        preference,
        chain,
        a,
        aaaa,
        addresses,
        tlsa,
    }
}

/// Follows CNAMEs from `start` hop by hop (each hop is a shared lookup).
pub async fn follow_cnames(lookups: &Lookups, start: &DnsName) -> CnameChain {
    let mut chain = CnameChain {
        steps: Vec::new(),
        targets: Vec::new(),
        looped: false,
        truncated: false,
    };
    let mut seen = std::collections::HashSet::from([start.clone()]);
    let mut current = start.clone();
    loop {
        let step = lookups.get(&current, RType::Cname).await;
        let next = step.cname_targets().last().cloned();
        chain.steps.push(step);
        let Some(next) = next else { break };
        if !seen.insert(next.clone()) {
            chain.looped = true;
            break;
        }
        chain.targets.push(next.clone());
        if chain.targets.len() >= MAX_CNAME_HOPS {
            chain.truncated = true;
            break;
        }
        current = next;
    }
    chain
}

/// `d.c.b.a.origin.asn.cymru.com` for IPv4, nibbles under `origin6.asn.cymru.com` for IPv6.
pub fn origin_query_name(ip: IpAddr) -> Option<DnsName> {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.origin.asn.cymru.com", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            let nibbles: Vec<String> = hex.chars().rev().map(|c| c.to_string()).collect();
            format!("{}.origin6.asn.cymru.com", nibbles.join("."))
        }
    };
    DnsName::parse(&text).ok()
}

/// Parses `ASN [ASN…] | prefix | CC | registry | date` answers and keeps the most
/// specific prefix.
pub fn best_origin(lookup: &Observation) -> Option<Origin> {
    lookup
        .txt_records()
        .filter_map(|text| parse_origin(&text))
        .max_by_key(|o| {
            o.prefix
                .rsplit_once('/')
                .and_then(|(_, len)| len.parse::<u8>().ok())
                .unwrap_or(0)
        })
}

fn parse_origin(text: &str) -> Option<Origin> {
    let fields: Vec<&str> = text.split('|').map(str::trim).collect();
    let asns: Vec<u32> = fields
        .first()?
        .split_whitespace()
        .filter_map(|a| a.trim_start_matches("AS").parse().ok())
        .collect();
    if asns.is_empty() {
        return None;
    }
    let non_empty = |i: usize| {
        fields
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    Some(Origin {
        asns,
        prefix: non_empty(1).unwrap_or_default(),
        country: non_empty(2).map(|c| c.to_ascii_uppercase()),
        registry: non_empty(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmarc_tag_with_non_ascii_at_the_tag_position() {
        assert!(is_dmarc("  v=dmarc1; p=none"));
        assert!(!is_dmarc("v=DMARCé; p=none"));
        assert!(!is_dmarc("v=DMARé"));
        assert!(!is_dmarc("ééééé"));
        assert!(!is_dmarc(""));
    }

    #[test]
    fn origin_names() {
        assert_eq!(
            origin_query_name("127.1.0.1".parse().unwrap())
                .unwrap()
                .to_string(),
            "1.0.1.127.origin.asn.cymru.com"
        );
        let v6 = origin_query_name("2001:db8::1".parse().unwrap())
            .unwrap()
            .to_string();
        assert!(
            v6.starts_with("1.0.0.0.") && v6.ends_with("8.b.d.0.1.0.0.2.origin6.asn.cymru.com")
        );
    }

    #[test]
    fn origins_keep_all_asns_and_the_most_specific_prefix() {
        let obs = Observation {
            name: DnsName::parse("1.0.1.127.origin.asn.cymru.com").unwrap(),
            rtype: RType::Txt,
            outcome: Outcome::Answer,
            answers: vec![
                Answer::Txt(vec!["3303 | 193.0.0.0/8 | CH | ripencc |".into()]),
                Answer::Txt(vec![
                    "8075 16509 | 193.135.252.0/24 | US | arin | 2000-01-01".into(),
                ]),
            ],
            at: 0,
            authenticated: false,
        };
        let o = best_origin(&obs).unwrap();
        assert_eq!(o.asns, vec![8075, 16509]);
        assert_eq!(o.country.as_deref(), Some("US"));
        assert_eq!(o.prefix, "193.135.252.0/24");
    }
}
