//! The decision procedure of the classification spec (§7.1), step by step: hard stops
//! (A), primary MX set (B), each MX host (C), inbound operator (D), mailbox provider by
//! look-through (E), jurisdiction and MX location (G), confidence (H, §8.7).
//!
//! Extension to the spec's step C, asked for by the project: a third-party MX host
//! whose addresses all lie in one catalogued ISP's or public operator's network is
//! attributed to that network (rule `asn_isp`, flag `asn_only`), the way step C.7
//! attributes uncatalogued hosts in a global provider's network (`asn_infra`).

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{Catalog, Entry, Match, Role, Scope};
use super::model::*;
use super::org::registered_domain;
use super::rules::RuleBook;
use crate::countries;
use crate::evidence::{Answer, Outcome};
use crate::name::DnsName;
use crate::scan::domain::{DomainScan, HostScan};
use crate::scan::probe::SmtpProbe;
use crate::scan::spf::{Mechanism, Term};

/// Knobs of the classifier that depend on the run, not on the data.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Treat MX hosts whose only addresses are loopback/private as invalid (spec §3.3).
    /// Must be off against a loopback test world, where every address is synthetic.
    pub check_mx_addresses: bool,
}

/// Look-through signal groups (spec §5.2), strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Group {
    /// DKIM selector CNAME into the provider's namespace (or Google's TXT key).
    G1Dkim,
    /// Autodiscover CNAME/SRV.
    G2Autodiscover,
    /// The only mailbox provider included by the depth-0 SPF.
    G3Spf,
    /// Verification token (MS=).
    G4Tenant,
}

/// How a host was attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    /// By its own name.
    Name,
    /// By a name in its CNAME chain.
    Cname(DnsName),
    /// By the origin ASN of all its addresses.
    Asn,
    /// Own domain, or uncatalogued third party.
    Domain,
    /// By a name on its validated TLS certificate.
    Cert(DnsName),
    /// By the host name in its SMTP greeting or EHLO reply.
    Banner(DnsName),
}

/// Step C result for one MX host.
#[derive(Debug, Clone)]
struct HostClass<'c> {
    kind: InboundKind,
    /// Catalogue id, or registered domain (own / third party).
    id: String,
    entry: Option<&'c Entry>,
    via: Via,
    matched: Option<String>,
}

/// Precedence of inbound kinds for ties (spec §7.1 D).
fn precedence(kind: InboundKind) -> u8 {
    match kind {
        InboundKind::Provider => 0,
        InboundKind::Gateway => 1,
        InboundKind::PublicShared => 2,
        InboundKind::Isp => 3,
        InboundKind::Infra => 4,
        InboundKind::Own => 5,
        InboundKind::ThirdParty => 6,
        InboundKind::None => 7,
    }
}

/// Everything the look-through found, per candidate provider.
#[derive(Default)]
struct Backends<'c> {
    groups: BTreeMap<String, (BTreeSet<Group>, &'c Entry)>,
    /// Distinct mailbox providers included at SPF depth 0 (non-weak).
    spf_depth0_providers: BTreeSet<String>,
}

impl<'c> Backends<'c> {
    fn add(&mut self, entry: &'c Entry, group: Group) {
        self.groups
            .entry(entry.id.clone())
            .or_insert_with(|| (BTreeSet::new(), entry))
            .0
            .insert(group);
    }

    fn has(&self, id: &str, group: Group) -> bool {
        self.groups.get(id).is_some_and(|(g, _)| g.contains(&group))
    }

    /// The best candidate per spec §5.2, or `Err(())` on a tie.
    fn best(&self, exclude: Option<&str>) -> Result<Option<(&'c Entry, BTreeSet<Group>)>, ()> {
        let mut ranked: Vec<(&String, &(BTreeSet<Group>, &'c Entry))> = self
            .groups
            .iter()
            .filter(|(id, _)| Some(id.as_str()) != exclude)
            .collect();
        if ranked.is_empty() {
            return Ok(None);
        }
        let key = |groups: &BTreeSet<Group>| {
            let strongest = groups.iter().next().copied().unwrap_or(Group::G4Tenant);
            (std::cmp::Reverse(groups.len()), strongest)
        };
        ranked.sort_by(|a, b| key(&a.1.0).cmp(&key(&b.1.0)).then(a.0.cmp(b.0)));
        if ranked.len() > 1 && key(&ranked[0].1.0) == key(&ranked[1].1.0) {
            return Err(());
        }
        let (_, (groups, entry)) = ranked[0];
        Ok(Some((entry, groups.clone())))
    }
}

/// Acceptance threshold of a look-through candidate (spec §5.2 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threshold {
    /// ≥ 1 group.
    Gateway,
    /// G1 or G2, or ≥ 2 groups.
    Relay,
    /// ≥ 2 groups including G1 or G2.
    Strict,
}

impl Threshold {
    fn accepts(self, groups: &BTreeSet<Group>) -> bool {
        let strong = groups.contains(&Group::G1Dkim) || groups.contains(&Group::G2Autodiscover);
        match self {
            Threshold::Gateway => !groups.is_empty(),
            Threshold::Relay => strong || groups.len() >= 2,
            Threshold::Strict => strong && groups.len() >= 2,
        }
    }
}

/// Classifies one scanned domain for a municipality of country `cc` (ISO, any case).
/// `backend_hint` is a reviewed override that makes one provider acceptable behind a
/// relay at the gateway threshold.
pub fn decide(
    scan: &DomainScan,
    probes: &[&SmtpProbe],
    cc: &str,
    catalog: &Catalog,
    options: &Options,
    backend_hint: Option<&str>,
) -> Verdict {
    let cc = cc.to_ascii_uppercase();
    let mut d = Decision::new(scan, probes, &cc, catalog);
    d.run(options, backend_hint);
    d.finish()
}

/// A verdict without a domain (seed has none or an unusable one).
pub fn no_domain(reason: &str) -> Verdict {
    unknown_verdict(Rule::NoDomain, reason.to_string(), Vec::new(), Vec::new())
}

fn unknown_verdict(
    rule: Rule,
    reason: String,
    evidence: Vec<EvidenceItem>,
    flags: Vec<String>,
) -> Verdict {
    Verdict {
        provider: "unknown".into(),
        provider_name: "Unknown".into(),
        provider_country: None,
        category: Category::Unknown,
        jurisdiction: Jurisdiction::Unknown,
        inbound: Inbound {
            kind: InboundKind::None,
            id: None,
        },
        gateway: None,
        network: None,
        mx_location: MxLocation::Unknown,
        confidence: 0,
        rule,
        reason,
        evidence,
        flags,
        tenant: None,
        override_note: None,
    }
}

struct Decision<'a, 'c> {
    scan: &'a DomainScan,
    probes: &'a [&'a SmtpProbe],
    cc: &'a str,
    catalog: &'c Catalog,
    evidence: Vec<EvidenceItem>,
    flags: Vec<String>,
    verdict: Option<Verdict>,
}

impl<'a, 'c> Decision<'a, 'c> {
    fn new(
        scan: &'a DomainScan,
        probes: &'a [&'a SmtpProbe],
        cc: &'a str,
        catalog: &'c Catalog,
    ) -> Self {
        Decision {
            scan,
            probes,
            cc,
            catalog,
            evidence: Vec::new(),
            flags: Vec::new(),
            verdict: None,
        }
    }

    fn flag(&mut self, flag: &str) {
        if !self.flags.iter().any(|f| f == flag) {
            self.flags.push(flag.to_string());
        }
    }

    fn finish(mut self) -> Verdict {
        let mut verdict = self.verdict.take().unwrap_or_else(|| {
            unknown_verdict(
                Rule::DnsError,
                "No decision was reached.".into(),
                Vec::new(),
                Vec::new(),
            )
        });
        if !self.scan.failures().is_empty() && verdict.rule != Rule::DnsError {
            self.flag("partial_scan");
        }
        for f in &self.scan.spf.flags {
            let text = serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.flag(&text);
        }
        let mut evidence = std::mem::take(&mut self.evidence);
        // Decisive first, then corroborating, contradicting, informational; stable within.
        evidence.sort_by_key(|e| match e.role {
            EvidenceRole::Decisive => 0,
            EvidenceRole::Corroborating => 1,
            EvidenceRole::Contradicting => 2,
            EvidenceRole::Informational => 3,
        });
        verdict.evidence = evidence;
        let mut flags = std::mem::take(&mut self.flags);
        flags.append(&mut verdict.flags);
        flags.sort();
        flags.dedup();
        verdict.flags = flags;
        verdict
    }

    fn stop(&mut self, rule: Rule, reason: String) {
        self.verdict = Some(unknown_verdict(rule, reason, Vec::new(), Vec::new()));
    }

    fn run(&mut self, options: &Options, backend_hint: Option<&str>) {
        let scan = self.scan;
        let mx = &scan.mx;
        let mx_query = format!("{} MX", scan.domain);

        // A. Hard stops.
        if mx.failed() {
            self.evidence.push(item(
                Signal::Mx,
                &mx_query,
                mx.outcome.label(),
                None,
                None,
                EvidenceRole::Decisive,
            ));
            self.stop(
                Rule::DnsError,
                format!(
                    "The MX lookup for {} failed ({}); this is a scan error, not a finding.",
                    scan.domain,
                    mx.outcome.label()
                ),
            );
            return;
        }
        if mx.outcome == Outcome::NxDomain {
            self.evidence.push(item(
                Signal::Mx,
                &mx_query,
                "NXDOMAIN",
                None,
                None,
                EvidenceRole::Decisive,
            ));
            self.stop(
                Rule::Nxdomain,
                format!("The domain {} does not exist in DNS.", scan.domain),
            );
            return;
        }
        let mx_records: Vec<(u16, Option<&DnsName>)> = mx
            .answers
            .iter()
            .filter_map(|a| match a {
                Answer::Mx {
                    preference,
                    exchange,
                } => Some((*preference, exchange.as_ref())),
                _ => None,
            })
            .collect();
        for (pref, host) in &mx_records {
            let raw = match host {
                Some(h) => format!("{pref} {h}"),
                None => format!("{pref} ."),
            };
            self.evidence.push(item(
                Signal::Mx,
                &mx_query,
                &raw,
                None,
                None,
                EvidenceRole::Informational,
            ));
        }
        if mx_records.is_empty() {
            self.stop(
                Rule::NoMx,
                format!("The domain {} publishes no MX record.", scan.domain),
            );
            return;
        }
        if mx_records.iter().all(|(_, h)| h.is_none()) {
            self.flag("null_mx");
            self.stop(
                Rule::NullMx,
                format!(
                    "The domain {} publishes a null MX: it accepts no mail.",
                    scan.domain
                ),
            );
            return;
        }
        if mx_records.iter().any(|(_, h)| h.is_none()) {
            self.flag("invalid_mx");
        }
        if scan.hosts_capped {
            self.flag("mx_capped");
        }

        let valid: Vec<&HostScan> = scan
            .hosts
            .iter()
            .filter(|h| !is_invalid_host(h, options))
            .collect();
        if valid.len() < scan.hosts.len() {
            self.flag("invalid_mx");
        }
        let spf_deny_all = scan.spf.records.len() == 1
            && scan.spf.records[0]
                .split_ascii_whitespace()
                .collect::<Vec<_>>()
                == ["v=spf1", "-all"];
        let any_resolves = valid.iter().any(|h| h.resolves());
        if valid.is_empty() || (!any_resolves && spf_deny_all) {
            self.stop(
                Rule::DeadDomain,
                format!(
                    "No MX host of {} is a valid mail server{}.",
                    scan.domain,
                    if spf_deny_all {
                        " and SPF forbids all mail"
                    } else {
                        ""
                    }
                ),
            );
            return;
        }

        // B. Primary MX set.
        let primary: Vec<&HostScan> = if any_resolves {
            let best = valid
                .iter()
                .filter(|h| h.resolves())
                .map(|h| h.preference)
                .min()
                .unwrap_or_default();
            valid
                .iter()
                .copied()
                .filter(|h| h.resolves() && h.preference == best)
                .collect()
        } else {
            self.flag("mx_unresolvable");
            valid.clone()
        };
        if valid.iter().any(|h| !h.chain.targets.is_empty()) {
            self.flag("mx_is_cname");
        }

        // C. Each host.
        let domain_org = registered_domain(&scan.domain);
        let classes: Vec<(&HostScan, HostClass<'c>)> = valid
            .iter()
            .map(|h| (*h, self.classify_host(h, domain_org.as_ref())))
            .collect();
        let primary_classes: Vec<&HostClass<'c>> = classes
            .iter()
            .filter(|(h, _)| primary.iter().any(|p| p.host == h.host))
            .map(|(_, c)| c)
            .collect();

        // D. Inbound operator.
        let mut tally: BTreeMap<(u8, String), (usize, &HostClass<'c>)> = BTreeMap::new();
        for class in &primary_classes {
            tally
                .entry((precedence(class.kind), class.id.clone()))
                .or_insert((0, class))
                .0 += 1;
        }
        // Most hosts first; ties by kind precedence, then id (the map's key order).
        let inbound: HostClass<'c> = tally
            .values()
            .enumerate()
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(&a.0)))
            .map(|(_, (_, class))| (*class).clone())
            .expect("the primary set is not empty");
        let split = tally.len() > 1;
        if split {
            self.flag("mx_split");
        }
        // F: an own or uncatalogued MX whose SMTP greeting comes from a global
        // provider's server is that provider's (a software string alone is not).
        let mut inbound = inbound;
        if matches!(inbound.kind, InboundKind::Own | InboundKind::ThirdParty)
            && let Some((m, name)) = primary
                .iter()
                .find_map(|h| self.banner_identity(&h.host))
                .filter(|(m, _)| m.entry.scope == Scope::Global)
        {
            inbound = HostClass {
                kind: InboundKind::Provider,
                id: m.entry.id.clone(),
                entry: Some(m.entry),
                via: Via::Banner(name),
                matched: Some(m.describe()),
            };
        }
        self.smtp_evidence(&primary, &inbound);

        // Evidence for hosts.
        for (host, class) in &classes {
            let is_primary = primary.iter().any(|p| p.host == host.host);
            let decides = is_primary && class.kind == inbound.kind && class.id == inbound.id;
            self.host_evidence(host, class, is_primary, decides);
        }

        // Network of the primary hosts, for self-hosted servers.
        let network = self.network_of(&primary);
        let mx_location = self.mx_location(&primary);

        // E. Look-through evidence.
        let backends = self.collect_backends(&inbound);
        let tenant = self.tenant();

        let mut rule;
        let mut mailbox: Option<&'c Entry> = inbound.entry;
        let mut special: Option<&str> = None; // self-hosted / third-party / unknown
        let mut reason;
        let mut accepted_groups: BTreeSet<Group> = BTreeSet::new();
        let inbound_name = inbound
            .entry
            .map(|e| e.name.clone())
            .unwrap_or_else(|| inbound.id.clone());
        let via_text = match &inbound.via {
            Via::Cname(t) => format!(" (via the alias {t})"),
            Via::Cert(n) => format!(" (its TLS certificate names {n})"),
            Via::Banner(n) => format!(" (its SMTP greeting names {n})"),
            _ => String::new(),
        };
        let hosts_text = primary_hosts_text(&primary);

        let threshold = |kind: InboundKind, entry: Option<&Entry>| -> Option<Threshold> {
            match kind {
                InboundKind::Gateway => Some(Threshold::Gateway),
                InboundKind::PublicShared | InboundKind::ThirdParty => Some(Threshold::Relay),
                InboundKind::Provider if entry.is_some_and(|e| e.scope == Scope::Global) => None,
                _ => Some(Threshold::Strict),
            }
        };
        let exclude = inbound.entry.map(|e| e.id.as_str());
        let candidate = match threshold(inbound.kind, inbound.entry) {
            None => Ok(None),
            Some(_) => backends.best(exclude),
        };
        let mut accepted: Option<(&'c Entry, BTreeSet<Group>)> = None;
        if let Err(()) = candidate {
            self.flag("lookthrough_conflict");
        }
        if let (Some(th), Ok(Some((entry, groups)))) =
            (threshold(inbound.kind, inbound.entry), &candidate)
        {
            let hinted = backend_hint == Some(entry.id.as_str());
            let th = if hinted { Threshold::Gateway } else { th };
            // A regional provider's MX only yields to a global provider (spec §7.1 E.2).
            let allowed = inbound.kind != InboundKind::Provider || entry.scope == Scope::Global;
            if allowed && th.accepts(groups) {
                accepted = Some((entry, groups.clone()));
            } else if !groups.is_empty() {
                if entry.id == "microsoft"
                    && (groups.contains(&Group::G4Tenant) || groups.contains(&Group::G1Dkim))
                {
                    self.flag("cloud_tenant_without_cloud_mx");
                } else if groups.iter().all(|g| *g == Group::G3Spf) {
                    self.flag("cloud_sending_authorised");
                } else {
                    self.flag("cloud_tenant_without_cloud_mx");
                }
            }
        }
        match inbound.kind {
            InboundKind::Provider => {
                rule = match inbound.via {
                    Via::Cname(_) => Rule::MxCname,
                    Via::Cert(_) => Rule::MxCert,
                    Via::Banner(_) => Rule::MxBanner,
                    _ => Rule::Mx,
                };
                reason = format!(
                    "The preferred MX {hosts_text} is {inbound_name}'s mail service{via_text}."
                );
                if let Some((q, groups)) = &accepted {
                    mailbox = Some(q);
                    accepted_groups = groups.clone();
                    rule = Rule::RelayBackend;
                    self.flag("hybrid");
                    reason = format!(
                        "Mail arrives at {inbound_name} ({hosts_text}), but {} shows the mailboxes are at {}.",
                        groups_text(groups),
                        q.name
                    );
                }
                // A global provider's MX is authoritative; other strong signals are conflicts.
                if inbound.entry.is_some_and(|e| e.scope == Scope::Global)
                    && backends.groups.iter().any(|(id, (g, _))| {
                        Some(id.as_str()) != exclude
                            && (g.contains(&Group::G1Dkim) || g.contains(&Group::G2Autodiscover))
                    })
                {
                    self.flag("lookthrough_conflict");
                }
            }
            InboundKind::Gateway => {
                self.flag("gateway");
                match &accepted {
                    Some((q, groups)) => {
                        mailbox = Some(q);
                        accepted_groups = groups.clone();
                        rule = match groups.iter().next() {
                            Some(Group::G1Dkim) => Rule::GwDkim,
                            Some(Group::G2Autodiscover) => Rule::GwAutodiscover,
                            Some(Group::G3Spf) => Rule::GwSpf,
                            _ => Rule::GwTenant,
                        };
                        reason = format!(
                            "Mail is filtered by the {inbound_name} gateway ({hosts_text}); {} shows the mailboxes are at {}.",
                            groups_text(groups),
                            q.name
                        );
                    }
                    None => {
                        mailbox = None;
                        special = Some("unknown");
                        rule = Rule::GwUnknown;
                        reason = format!(
                            "Mail is filtered by the {inbound_name} gateway ({hosts_text}); no DNS evidence shows the mailbox provider behind it."
                        );
                    }
                }
            }
            InboundKind::PublicShared | InboundKind::Isp => {
                let by_asn = inbound.via == Via::Asn;
                match &accepted {
                    Some((q, groups)) => {
                        mailbox = Some(q);
                        accepted_groups = groups.clone();
                        rule = Rule::RelayBackend;
                        if inbound.kind == InboundKind::Isp {
                            self.flag("hybrid");
                        }
                        reason = format!(
                            "Mail arrives at {inbound_name} ({hosts_text}), and {} shows the mailboxes are at {}.",
                            groups_text(groups),
                            q.name
                        );
                    }
                    None => {
                        rule = match (by_asn, inbound.kind) {
                            (true, _) => Rule::AsnIsp,
                            (false, InboundKind::PublicShared) => Rule::MxPublic,
                            _ => Rule::MxIsp,
                        };
                        reason = if by_asn {
                            format!(
                                "The MX {hosts_text} is a third party's server in the network of {inbound_name} (origin ASN)."
                            )
                        } else {
                            format!(
                                "The preferred MX {hosts_text} is {inbound_name}'s mail service{via_text}."
                            )
                        };
                    }
                }
            }
            InboundKind::Infra => match &accepted {
                Some((q, groups)) => {
                    mailbox = Some(q);
                    accepted_groups = groups.clone();
                    rule = Rule::RelayBackend;
                    self.flag("hybrid");
                    reason = format!(
                        "The MX {hosts_text} runs in {inbound_name}'s network, and {} shows the mailboxes are at {}.",
                        groups_text(groups),
                        q.name
                    );
                }
                None => {
                    rule = Rule::AsnInfra;
                    reason = format!(
                        "The MX {hosts_text} has an uncatalogued name, but all its addresses are in {inbound_name}'s network (origin ASN)."
                    );
                }
            },
            InboundKind::Own => match &accepted {
                Some((q, groups)) => {
                    mailbox = Some(q);
                    accepted_groups = groups.clone();
                    rule = Rule::RelayBackend;
                    self.flag("hybrid");
                    reason = format!(
                        "Mail arrives at the municipality's own server ({hosts_text}), but {} shows the mailboxes are at {}.",
                        groups_text(groups),
                        q.name
                    );
                }
                None => {
                    mailbox = None;
                    special = Some("self-hosted");
                    rule = if mx_location == MxLocation::Unknown {
                        Rule::OwnUnlocated
                    } else {
                        Rule::Own
                    };
                    let net = network
                        .as_ref()
                        .map(|(_, name)| format!(", in the network of {name}"))
                        .unwrap_or_default();
                    reason = format!(
                        "The MX {hosts_text} is in the municipality's own domain: it runs its own mail server{net}."
                    );
                }
            },
            InboundKind::ThirdParty | InboundKind::None => match &accepted {
                Some((q, groups)) => {
                    mailbox = Some(q);
                    accepted_groups = groups.clone();
                    rule = Rule::RelayBackend;
                    reason = format!(
                        "Mail arrives at the third party {} ({hosts_text}), and {} shows the mailboxes are at {}.",
                        inbound.id,
                        groups_text(groups),
                        q.name
                    );
                }
                None => {
                    mailbox = None;
                    special = Some("third-party");
                    rule = Rule::ThirdParty;
                    self.flag("uncatalogued_third_party");
                    reason = format!(
                        "The MX {hosts_text} belongs to {}, a third party not in the catalogue; the mailbox provider is unknown.",
                        inbound.id
                    );
                }
            },
        }
        if inbound.via == Via::Asn {
            self.flag("asn_only");
        }

        // Roles of look-through evidence now that the verdict is known.
        let verdict_id = mailbox.map(|e| e.id.clone());
        self.settle_roles(
            verdict_id.as_deref(),
            &accepted_groups,
            inbound.entry.map(|e| e.id.as_str()),
        );

        // G. Provider, category, jurisdiction.
        let (provider, provider_name, provider_country, category, mut jurisdiction) =
            match (mailbox, special) {
                (Some(entry), _) => (
                    entry.id.clone(),
                    entry.name.clone(),
                    Some(entry.hq.clone()),
                    category_for(entry),
                    jurisdiction_of(&entry.hq, self.cc),
                ),
                (None, Some("self-hosted")) => (
                    "self-hosted".to_string(),
                    "Self-hosted (own mail server)".to_string(),
                    None,
                    Category::Independent,
                    Jurisdiction::Unknown,
                ),
                (None, Some("third-party")) => (
                    "third-party".to_string(),
                    format!("Uncatalogued third party ({})", inbound.id),
                    None,
                    Category::Independent,
                    Jurisdiction::Unknown,
                ),
                _ => (
                    "unknown".to_string(),
                    "Unknown".to_string(),
                    None,
                    Category::Unknown,
                    Jurisdiction::Unknown,
                ),
            };
        if matches!(special, Some("self-hosted") | Some("third-party")) {
            jurisdiction = match mx_location {
                MxLocation::Domestic => Jurisdiction::Domestic,
                MxLocation::Mixed => {
                    self.flag("mx_mixed");
                    Jurisdiction::Domestic
                }
                MxLocation::Foreign => self
                    .foreign_country(&primary)
                    .map(|c| jurisdiction_of(&c, self.cc))
                    .unwrap_or(Jurisdiction::Unknown),
                MxLocation::Unknown => Jurisdiction::Unknown,
            };
        }

        // H. Confidence.
        let book = RuleBook::embedded();
        let row = book.row(rule);
        let mut confidence = i16::from(row.base);
        if row.adjustable {
            confidence += self.adjustments(
                &provider,
                &inbound,
                &primary,
                &primary_classes,
                &backends,
                &accepted_groups,
                split,
                rule,
            );
        }
        let confidence = confidence.clamp(0, 100) as u8;

        let gateway = (inbound.kind == InboundKind::Gateway).then(|| inbound.id.clone());
        self.verdict = Some(Verdict {
            provider,
            provider_name,
            provider_country,
            category,
            jurisdiction,
            inbound: Inbound {
                kind: inbound.kind,
                id: Some(inbound.id.clone()),
            },
            gateway,
            // The network says where a server of the municipality's (or a third
            // party's) own runs; for a provider's service it would only repeat it.
            network: network
                .filter(|_| matches!(special, Some("self-hosted") | Some("third-party")))
                .map(|(id, _)| id),
            mx_location,
            confidence,
            rule,
            reason,
            evidence: Vec::new(),
            flags: Vec::new(),
            tenant,
            override_note: None,
        });
    }

    /// Step C for one host.
    fn classify_host(&self, host: &HostScan, domain_org: Option<&DnsName>) -> HostClass<'c> {
        let catalog = self.catalog;
        // Sending-only services never name an inbound operator.
        let usable = |m: &Match<'c>| m.entry.primary_role() != Role::Sender;
        let direct = catalog.match_mx(&host.host).filter(usable);
        let as_class = |m: &Match<'c>, via: Via| -> HostClass<'c> {
            let kind = match m.entry.primary_role() {
                // A certified-mail (PEC) host as the MX still names who holds the mail.
                Role::Provider | Role::Pec => InboundKind::Provider,
                Role::Gateway => InboundKind::Gateway,
                Role::PublicShared => InboundKind::PublicShared,
                _ => InboundKind::Isp,
            };
            HostClass {
                kind,
                id: m.entry.id.clone(),
                entry: Some(m.entry),
                via,
                matched: Some(m.describe()),
            }
        };
        // C.1–C.3 on the host name.
        if let Some(m) = &direct
            && matches!(
                m.entry.primary_role(),
                Role::Provider | Role::Pec | Role::Gateway | Role::PublicShared
            )
        {
            return as_class(m, Via::Name);
        }
        // C.4 on the CNAME chain.
        for target in &host.chain.targets {
            if let Some(m) = catalog.match_mx(target).filter(usable)
                && matches!(
                    m.entry.primary_role(),
                    Role::Provider | Role::Pec | Role::Gateway | Role::PublicShared
                )
            {
                return as_class(&m, Via::Cname(target.clone()));
            }
        }
        // C.5 ISP/hoster MX pattern (host, then chain).
        if let Some(m) = &direct {
            return as_class(m, Via::Name);
        }
        for target in &host.chain.targets {
            if let Some(m) = catalog.match_mx(target).filter(usable) {
                return as_class(&m, Via::Cname(target.clone()));
            }
        }
        // C.6 own domain.
        let host_org = registered_domain(&host.host);
        let own = host.host.is_subdomain_of(&self.scan.domain)
            || (host_org.is_some() && host_org.as_ref() == domain_org);
        if own {
            return HostClass {
                kind: InboundKind::Own,
                id: domain_org
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| self.scan.domain.to_string()),
                entry: None,
                via: Via::Domain,
                matched: None,
            };
        }
        // C.7 (and the asn_isp extension): all addresses in one catalogued network.
        if let Some(entry) = self.single_network(host) {
            let kind = match entry.primary_role() {
                Role::Provider => InboundKind::Infra,
                Role::PublicShared => InboundKind::PublicShared,
                _ => InboundKind::Isp,
            };
            return HostClass {
                kind,
                id: entry.id.clone(),
                entry: Some(entry),
                via: Via::Asn,
                matched: Some(format!(
                    "{}: all addresses in AS {}",
                    entry.id,
                    join_asns(&entry.asns)
                )),
            };
        }
        // C.8 third party — unless its validated certificate names a catalogued operator.
        if let Some((m, name)) = self.certificate_identity(host) {
            let kind = match m.entry.primary_role() {
                Role::Gateway => InboundKind::Gateway,
                Role::PublicShared => InboundKind::PublicShared,
                Role::Isp => InboundKind::Isp,
                _ => InboundKind::Provider,
            };
            return HostClass {
                kind,
                id: m.entry.id.clone(),
                entry: Some(m.entry),
                via: Via::Cert(name),
                matched: Some(m.describe()),
            };
        }
        HostClass {
            kind: InboundKind::ThirdParty,
            id: host_org.unwrap_or_else(|| host.host.clone()).to_string(),
            entry: None,
            via: Via::Domain,
            matched: None,
        }
    }

    /// Probes of one MX host (all its addresses).
    fn probes_of<'p>(&'p self, host: &'p DnsName) -> impl Iterator<Item = &'a SmtpProbe> + 'p {
        self.probes.iter().copied().filter(move |p| &p.host == host)
    }

    /// A catalogued operator named by a validated certificate of the host
    /// (unvalidated certificates prove nothing: anyone can put any name in one).
    fn certificate_identity(&self, host: &HostScan) -> Option<(Match<'c>, DnsName)> {
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
    fn banner_identity(&self, host: &DnsName) -> Option<(Match<'c>, DnsName)> {
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

    /// Banner and certificate evidence of the primary hosts (spec §7.1 F).
    fn smtp_evidence(&mut self, primary: &[&HostScan], inbound: &HostClass<'c>) {
        let inbound_id = inbound.entry.map(|e| e.id.clone());
        for host in primary {
            for probe in self.probes_of(&host.host).collect::<Vec<_>>() {
                let endpoint = format!("{} [{}]:{}", probe.host, probe.ip, probe.port);
                if let Some(software) = &probe.software {
                    self.flag("smtp_software");
                    self.evidence.push(item(
                        Signal::Banner,
                        &format!("{endpoint} greeting"),
                        &format!("software: {software}"),
                        None,
                        None,
                        EvidenceRole::Informational,
                    ));
                }
                let names = [probe.banner_host.clone(), probe.ehlo_host.clone()];
                for name in names.into_iter().flatten() {
                    let m = self.identify(&name);
                    let decisive = inbound.via == Via::Banner(name.clone());
                    let role = self.identity_role(m.as_ref(), inbound_id.as_deref(), decisive);
                    self.evidence.push(item(
                        Signal::Banner,
                        &format!("{endpoint} greeting"),
                        &name.to_string(),
                        m.as_ref().map(Match::describe),
                        m.as_ref().map(|m| m.entry.id.clone()),
                        role,
                    ));
                }
                if let Some(tls) = &probe.tls
                    && let Some(leaf) = tls.chain.first()
                {
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
                    let role = self.identity_role(m.as_ref(), inbound_id.as_deref(), decisive);
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
                let vps = [probe.banner_host.as_ref(), probe.ehlo_host.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(looks_like_vps);
                if vps && matches!(inbound.via, Via::Banner(_) | Via::Cert(_)) {
                    self.flag("vps_suspect");
                }
            }
        }
    }

    fn identity_role(
        &self,
        m: Option<&Match<'c>>,
        inbound: Option<&str>,
        decisive: bool,
    ) -> EvidenceRole {
        match m {
            _ if decisive => EvidenceRole::Decisive,
            Some(m) if Some(m.entry.id.as_str()) == inbound => EvidenceRole::Corroborating,
            Some(m) if m.entry.primary_role() == Role::Provider => EvidenceRole::Contradicting,
            _ => EvidenceRole::Informational,
        }
    }

    /// The one catalogue entry whose ASNs contain every address of `host`.
    fn single_network(&self, host: &HostScan) -> Option<&'c Entry> {
        if host.addresses.is_empty() {
            return None;
        }
        let mut found: Option<&'c Entry> = None;
        for addr in &host.addresses {
            let origin = addr.origin.as_ref()?;
            let mut here: Option<&'c Entry> = None;
            for asn in &origin.asns {
                if let Some(m) = self.catalog.match_asn(*asn) {
                    if here.is_some_and(|e| e.id != m.entry.id) {
                        return None;
                    }
                    here = Some(m.entry);
                }
            }
            let here = here?;
            if found.is_some_and(|e| e.id != here.id) {
                return None;
            }
            found = Some(here);
        }
        // Gateways never get an ASN (shared networks), so only providers and networks remain.
        found.filter(|e| !matches!(e.primary_role(), Role::Gateway | Role::Sender | Role::Pec))
    }

    fn host_evidence(
        &mut self,
        host: &HostScan,
        class: &HostClass<'c>,
        primary: bool,
        decides: bool,
    ) {
        let role = if decides {
            EvidenceRole::Decisive
        } else if primary {
            EvidenceRole::Corroborating
        } else {
            EvidenceRole::Informational
        };
        let mx_query = format!("{} MX", self.scan.domain);
        let raw = format!("{} {}", host.preference, host.host);
        let provider = class.entry.map(|e| e.id.clone());
        // Replace the plain MX line with the attributed one.
        self.evidence.retain(|e| {
            !(e.signal == Signal::Mx
                && e.raw == raw
                && e.matched.is_none()
                && e.role == EvidenceRole::Informational)
        });
        let (matched, signal_role) = match &class.via {
            Via::Name => (class.matched.clone(), role),
            _ => (
                None,
                if primary {
                    EvidenceRole::Corroborating
                } else {
                    EvidenceRole::Informational
                },
            ),
        };
        let mut mx_item = item(
            Signal::Mx,
            &mx_query,
            &raw,
            matched,
            provider.clone(),
            signal_role,
        );
        if class.kind == InboundKind::Own {
            mx_item.matched = Some(format!("own domain {}", class.id));
            mx_item.role = role;
        } else if class.kind == InboundKind::ThirdParty {
            mx_item.matched = Some(format!("third party {}", class.id));
            mx_item.role = role;
        }
        self.evidence.push(mx_item);
        for (i, target) in host.chain.targets.iter().enumerate() {
            let query = format!(
                "{} CNAME",
                if i == 0 {
                    &host.host
                } else {
                    &host.chain.targets[i - 1]
                }
            );
            let hit = matches!(&class.via, Via::Cname(t) if t == target);
            self.evidence.push(item(
                Signal::MxCname,
                &query,
                &target.to_string(),
                if hit { class.matched.clone() } else { None },
                if hit { provider.clone() } else { None },
                if hit {
                    role
                } else {
                    EvidenceRole::Informational
                },
            ));
        }
        for addr in &host.addresses {
            let query = addr.lookup.name.to_string() + " TXT";
            let raw = match &addr.origin {
                Some(o) => format!(
                    "{} {} → AS{} {} {}",
                    host.host,
                    addr.ip,
                    join_asns(&o.asns),
                    o.country.as_deref().unwrap_or("??"),
                    o.prefix
                ),
                None => format!(
                    "{} {} → {}",
                    host.host,
                    addr.ip,
                    addr.lookup.outcome.label()
                ),
            };
            let network = addr
                .origin
                .as_ref()
                .and_then(|o| o.asns.iter().find_map(|a| self.catalog.match_asn(*a)));
            let consistent = network
                .is_some_and(|m| Some(m.entry.id.as_str()) == class.entry.map(|e| e.id.as_str()));
            let asn_role = if class.via == Via::Asn && decides {
                EvidenceRole::Decisive
            } else if consistent && primary {
                EvidenceRole::Corroborating
            } else {
                EvidenceRole::Informational
            };
            self.evidence.push(item(
                Signal::MxAsn,
                &query,
                &raw,
                network.map(|m| m.describe()),
                network.map(|m| m.entry.id.clone()),
                asn_role,
            ));
        }
        if host.addresses.is_empty() {
            let query = format!("{} A", host.host);
            self.evidence.push(item(
                Signal::MxAsn,
                &query,
                &format!("{} has no address ({})", host.host, host.a.outcome.label()),
                None,
                None,
                EvidenceRole::Informational,
            ));
        }
    }

    /// Network (ISP/hoster) of the primary hosts by ASN, as (id, name).
    fn network_of(&self, primary: &[&HostScan]) -> Option<(String, String)> {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for host in primary {
            for addr in &host.addresses {
                if let Some(m) = addr
                    .origin
                    .as_ref()
                    .and_then(|o| o.asns.iter().find_map(|a| self.catalog.match_asn(*a)))
                {
                    names.insert(m.entry.id.clone(), m.entry.name.clone());
                }
            }
        }
        if names.len() == 1 {
            names.into_iter().next()
        } else {
            None
        }
    }

    fn mx_location(&self, primary: &[&HostScan]) -> MxLocation {
        let countries: Vec<&str> = primary
            .iter()
            .flat_map(|h| h.addresses.iter())
            .filter_map(|a| a.origin.as_ref().and_then(|o| o.country.as_deref()))
            .collect();
        if countries.is_empty() {
            return MxLocation::Unknown;
        }
        let domestic = countries.iter().filter(|c| **c == self.cc).count();
        match domestic {
            0 => MxLocation::Foreign,
            n if n == countries.len() => MxLocation::Domestic,
            _ => MxLocation::Mixed,
        }
    }

    /// Most common foreign country of the primary addresses.
    fn foreign_country(&self, primary: &[&HostScan]) -> Option<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in primary
            .iter()
            .flat_map(|h| h.addresses.iter())
            .filter_map(|a| a.origin.as_ref().and_then(|o| o.country.as_deref()))
            .filter(|c| *c != self.cc)
        {
            *counts.entry(c).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.to_string())
    }

    /// Collects look-through groups and records DKIM/autodiscover/SPF/TXT evidence
    /// (roles are settled once the verdict is known).
    fn collect_backends(&mut self, inbound: &HostClass<'c>) -> Backends<'c> {
        let scan = self.scan;
        let catalog = self.catalog;
        let mut backends = Backends::default();
        let candidate_ok = |m: &Match<'c>, strong_group: bool| -> bool {
            match m.entry.primary_role() {
                Role::Provider => true,
                // ISPs/hosters only through DKIM/autodiscover patterns of their own.
                Role::Isp | Role::PublicShared => strong_group,
                _ => false,
            }
        };

        // G1 DKIM.
        for probe in &scan.dkim {
            let query = format!("{} CNAME", probe.cname.name);
            for target in probe.cname.cname_targets() {
                let m = catalog.match_dkim(target);
                if let Some(m) = &m
                    && !m.weak
                    && candidate_ok(m, true)
                {
                    backends.add(m.entry, Group::G1Dkim);
                }
                self.evidence.push(item(
                    Signal::Dkim,
                    &query,
                    &target.to_string(),
                    m.as_ref().map(|m| m.describe()),
                    m.as_ref().map(|m| m.entry.id.clone()),
                    EvidenceRole::Informational,
                ));
            }
            if let Some(txt) = &probe.txt {
                for record in txt.txt_records() {
                    let lower = record.to_ascii_lowercase();
                    if lower.contains("v=dkim1") || lower.contains("p=") {
                        let google = catalog.entry("google");
                        if let Some(google) = google
                            && probe.selector == "google"
                        {
                            backends.add(google, Group::G1Dkim);
                        }
                        self.evidence.push(item(
                            Signal::Dkim,
                            &format!("{} TXT", txt.name),
                            &truncate_display(&record, 120),
                            google.map(|g| format!("{}: DKIM key at selector google", g.id)),
                            google.map(|g| g.id.clone()),
                            EvidenceRole::Informational,
                        ));
                    }
                }
            }
        }

        // G2 autodiscover (CNAME chain and SRV targets).
        let mut autodiscover_targets: Vec<(String, DnsName)> = Vec::new();
        for (i, target) in scan.autodiscover.targets.iter().enumerate() {
            let from = if i == 0 {
                scan.autodiscover
                    .steps
                    .first()
                    .map(|s| s.name.to_string())
                    .unwrap_or_default()
            } else {
                scan.autodiscover.targets[i - 1].to_string()
            };
            autodiscover_targets.push((format!("{from} CNAME"), target.clone()));
        }
        for answer in &scan.autodiscover_srv.answers {
            if let Answer::Srv { target, .. } = answer {
                autodiscover_targets.push((
                    format!("{} SRV", scan.autodiscover_srv.name),
                    target.clone(),
                ));
            }
        }
        for (query, target) in autodiscover_targets {
            let m = catalog.match_autodiscover(&target);
            if let Some(m) = &m
                && !m.weak
                && candidate_ok(m, true)
            {
                backends.add(m.entry, Group::G2Autodiscover);
            }
            self.evidence.push(item(
                Signal::Autodiscover,
                &query,
                &target.to_string(),
                m.as_ref().map(|m| m.describe()),
                m.as_ref().map(|m| m.entry.id.clone()),
                EvidenceRole::Informational,
            ));
        }

        // G3 SPF: include/redirect targets with the depth of the record naming them.
        let mut depth0: BTreeMap<String, &'c Entry> = BTreeMap::new();
        for node in &scan.spf.nodes {
            for term in &node.terms {
                let (target, is_redirect) = match term {
                    Term::Mechanism {
                        kind: Mechanism::Include,
                        argument: Some(arg),
                        ..
                    } => (arg.as_str(), false),
                    Term::Modifier { name, value } if name == "redirect" => (value.as_str(), true),
                    _ => continue,
                };
                let Some(target) = crate::scan::spf::target_domain(target) else {
                    continue;
                };
                let m = catalog.match_spf(&target);
                let query = format!("{} TXT", node.domain);
                let raw = format!(
                    "{}{}",
                    if is_redirect { "redirect=" } else { "include:" },
                    target
                );
                if let Some(m) = &m
                    && node.depth == 0
                    && !m.weak
                    && m.entry.primary_role() == Role::Provider
                {
                    depth0.insert(m.entry.id.clone(), m.entry);
                }
                let mut it = item(
                    Signal::Spf,
                    &query,
                    &raw,
                    m.as_ref().map(|m| m.describe()),
                    m.as_ref().map(|m| m.entry.id.clone()),
                    EvidenceRole::Informational,
                );
                it.depth = Some(node.depth);
                self.evidence.push(it);
            }
        }
        backends.spf_depth0_providers = depth0.keys().cloned().collect();
        if depth0.len() >= 2 {
            self.flag("multi_provider_spf");
        }
        if depth0.len() == 1
            && let Some((_, entry)) = depth0.into_iter().next()
        {
            backends.add(entry, Group::G3Spf);
        }

        // G4 verification tokens.
        for record in scan.txt.txt_records() {
            if crate::scan::spf::is_spf(&record) {
                continue;
            }
            let m = catalog.match_txt(&record);
            if let Some(m) = &m
                && !m.weak
                && m.entry.primary_role() == Role::Provider
            {
                backends.add(m.entry, Group::G4Tenant);
            }
            if m.is_some() {
                self.evidence.push(item(
                    Signal::Txt,
                    &format!("{} TXT", scan.domain),
                    &truncate_display(&record, 120),
                    m.as_ref().map(|m| m.describe()),
                    m.as_ref().map(|m| m.entry.id.clone()),
                    EvidenceRole::Informational,
                ));
            }
        }
        let _ = inbound;
        backends
    }

    /// Sets the roles of DKIM/autodiscover/SPF/TXT items relative to the verdict.
    fn settle_roles(
        &mut self,
        verdict: Option<&str>,
        decisive_groups: &BTreeSet<Group>,
        inbound: Option<&str>,
    ) {
        let decisive_signal = |s: Signal| match s {
            Signal::Dkim => decisive_groups.contains(&Group::G1Dkim),
            Signal::Autodiscover => decisive_groups.contains(&Group::G2Autodiscover),
            Signal::Spf => decisive_groups.contains(&Group::G3Spf),
            Signal::Txt => decisive_groups.contains(&Group::G4Tenant),
            _ => false,
        };
        for e in &mut self.evidence {
            if !matches!(
                e.signal,
                Signal::Dkim | Signal::Autodiscover | Signal::Spf | Signal::Txt
            ) {
                continue;
            }
            let Some(p) = e.provider.as_deref() else {
                continue;
            };
            let same = Some(p) == verdict || Some(p) == inbound;
            let deep = e.signal == Signal::Spf && e.depth.unwrap_or(0) > 0;
            e.role = if Some(p) == verdict && decisive_signal(e.signal) && !deep {
                EvidenceRole::Decisive
            } else if same && !deep {
                EvidenceRole::Corroborating
            } else if !deep
                && matches!(e.signal, Signal::Dkim | Signal::Autodiscover)
                && self
                    .catalog
                    .entry(p)
                    .is_some_and(|x| x.primary_role() == Role::Provider)
            {
                EvidenceRole::Contradicting
            } else {
                EvidenceRole::Informational
            };
        }
    }

    fn tenant(&self) -> Option<String> {
        let suffix = DnsName::parse("onmicrosoft.com").ok()?;
        self.scan
            .dkim
            .iter()
            .flat_map(|p| p.cname.cname_targets())
            .find(|t| t.is_subdomain_of(&suffix) && t.len() >= 3)
            .and_then(|t| t.parent(t.len() - 3))
            .map(|t| t.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    fn adjustments(
        &mut self,
        provider: &str,
        inbound: &HostClass<'c>,
        primary: &[&HostScan],
        primary_classes: &[&HostClass<'c>],
        backends: &Backends<'c>,
        decisive_groups: &BTreeSet<Group>,
        split: bool,
        rule: Rule,
    ) -> i16 {
        let adjust = &RuleBook::embedded().adjust;
        let mut delta = 0;
        // +SPF authorises the verdict.
        let spf_authorises = if provider == "self-hosted" {
            let hosts: Vec<&DnsName> = primary.iter().map(|h| &h.host).collect();
            self.scan.spf.depth0_terms().any(|t| match t {
                Term::Mechanism {
                    kind: Mechanism::Mx | Mechanism::A,
                    argument: None,
                    ..
                } => true,
                Term::Mechanism {
                    kind: Mechanism::A,
                    argument: Some(arg),
                    ..
                } => crate::scan::spf::target_domain(arg).is_some_and(|d| hosts.contains(&&d)),
                _ => false,
            })
        } else {
            let ids = [Some(provider), inbound.entry.map(|e| e.id.as_str())];
            self.evidence.iter().any(|e| {
                e.signal == Signal::Spf
                    && e.depth == Some(0)
                    && e.provider.is_some()
                    && ids.contains(&e.provider.as_deref())
            })
        };
        if spf_authorises && !decisive_groups.contains(&Group::G3Spf) {
            delta += adjust.spf_authorises;
        }
        if backends.has(provider, Group::G1Dkim) && !decisive_groups.contains(&Group::G1Dkim) {
            delta += adjust.dkim_consistent;
        }
        if backends.has(provider, Group::G2Autodiscover)
            && !decisive_groups.contains(&Group::G2Autodiscover)
        {
            delta += adjust.autodiscover_consistent;
        }
        if provider == "microsoft"
            && backends.has("microsoft", Group::G4Tenant)
            && !decisive_groups.contains(&Group::G4Tenant)
        {
            delta += adjust.tenant_consistent;
        }
        let asn_consistent = inbound.via != Via::Asn
            && inbound.entry.is_some_and(|entry| {
                primary.iter().flat_map(|h| h.addresses.iter()).any(|a| {
                    a.origin
                        .as_ref()
                        .is_some_and(|o| o.asns.iter().any(|asn| entry.asns.contains(asn)))
                })
            });
        if asn_consistent {
            delta += adjust.asn_consistent;
        }
        let smtp_consistent = self.evidence.iter().any(|e| {
            matches!(e.signal, Signal::Banner | Signal::Cert)
                && e.role == EvidenceRole::Corroborating
        });
        if smtp_consistent {
            delta += adjust.banner_consistent;
        }
        if self.flags.iter().any(|f| f == "vps_suspect") {
            delta += adjust.vps_suspect;
        }
        if primary_classes.len() >= 2 && !split {
            delta += adjust.all_primary_agree;
        }
        if backends.spf_depth0_providers.len() >= 2 {
            delta += adjust.spf_multi_provider;
        }
        let contradicting = self
            .evidence
            .iter()
            .any(|e| e.role == EvidenceRole::Contradicting);
        if contradicting {
            delta += adjust.contradicting_signal;
        }
        if split {
            delta += adjust.mx_split;
        }
        if self.flags.iter().any(|f| f == "lookthrough_conflict") {
            delta += adjust.lookthrough_conflict;
        }
        let _ = rule;
        delta
    }
}

/// Spec §3.3: `localhost`, empty names, IP literals written as host names, `.invalid`
/// names; in live mode also hosts whose only addresses are loopback/private.
fn is_invalid_host(host: &HostScan, options: &Options) -> bool {
    let text = host.host.to_string();
    let labels = host.host.labels();
    let first = labels.first().copied().unwrap_or_default();
    let last = labels.last().copied().unwrap_or_default();
    if first == b"localhost" && host.host.len() == 1 || last == b"localhost" || last == b"invalid" {
        return true;
    }
    if text.parse::<std::net::Ipv4Addr>().is_ok() || looks_like_ip_literal(&text) {
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

/// Host names of customer servers at large hosters (spec §8.6): a banner naming the
/// hoster then says who runs the machine, not who runs the mail.
fn looks_like_vps(name: &DnsName) -> bool {
    let text = name.to_string();
    let first = text.split('.').next().unwrap_or_default();
    let under = |suffix: &str| text.ends_with(&format!(".{suffix}"));
    (under("secureserver.net")
        && (first.starts_with("ip-")
            || (first.starts_with('s') && first.matches('-').count() >= 3)))
        || (under("ovh.net")
            && (first.contains("vps") || (first.starts_with("ns") && first != "ns0")))
        || (under("stratoserver.net") && first.starts_with('h'))
        || (under("hosteurope.de") && ["lvps", "pvcl", "vps"].iter().any(|p| first.starts_with(p)))
        || (under("webhostbox.net") && first.contains("vps"))
        || under("arubabiz.net")
        || under("beget.tech")
}

fn looks_like_ip_literal(text: &str) -> bool {
    let t = text.trim_start_matches('[').trim_end_matches(']');
    t.parse::<std::net::IpAddr>().is_ok()
}

/// Category of a catalogue entry used as the headline provider.
pub fn category_for(entry: &Entry) -> Category {
    if matches!(entry.id.as_str(), "microsoft" | "google" | "aws") {
        return Category::UsHyperscaler;
    }
    match entry.primary_role() {
        Role::Isp => Category::LocalIsp,
        _ if countries::is_eu_eea(&entry.hq)
            || countries::is_europe_other(&entry.hq)
            || entry.hq == "CH" =>
        {
            Category::EuropeanProvider
        }
        _ => Category::OtherProvider,
    }
}

/// Jurisdiction bucket of a seat country relative to the municipality's country.
pub fn jurisdiction_of(hq: &str, cc: &str) -> Jurisdiction {
    let hq = hq.to_ascii_uppercase();
    // `ZZ` marks a seat the catalogue does not know.
    if hq == "ZZ" || hq.is_empty() {
        Jurisdiction::Unknown
    } else if hq == cc.to_ascii_uppercase() {
        Jurisdiction::Domestic
    } else if hq == "US" {
        Jurisdiction::Us
    } else if countries::is_eu_eea(&hq) {
        Jurisdiction::EuEea
    } else if countries::is_europe_other(&hq) {
        Jurisdiction::EuropeOther
    } else {
        Jurisdiction::OtherForeign
    }
}

fn item(
    signal: Signal,
    query: &str,
    raw: &str,
    matched: Option<String>,
    provider: Option<String>,
    role: EvidenceRole,
) -> EvidenceItem {
    EvidenceItem {
        signal,
        query: query.to_string(),
        raw: raw.to_string(),
        matched,
        provider,
        role,
        depth: None,
    }
}

fn join_asns(asns: &[u32]) -> String {
    asns.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn primary_hosts_text(primary: &[&HostScan]) -> String {
    let names: Vec<String> = primary.iter().take(3).map(|h| h.host.to_string()).collect();
    let more = primary.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

fn groups_text(groups: &BTreeSet<Group>) -> String {
    let parts: Vec<&str> = groups
        .iter()
        .map(|g| match g {
            Group::G1Dkim => "DKIM",
            Group::G2Autodiscover => "autodiscover",
            Group::G3Spf => "SPF",
            Group::G4Tenant => "a tenant verification token",
        })
        .collect();
    match parts.len() {
        0 => String::new(),
        1 => parts[0].to_string(),
        _ => format!(
            "{} and {}",
            parts[..parts.len() - 1].join(", "),
            parts[parts.len() - 1]
        ),
    }
}

fn truncate_display(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
