//! The decision procedure of the classification spec (§7.1), one file per step:
//!
//! - [`stops`] — A: hard stops (failed lookup, NXDOMAIN, no MX, null MX, dead domain);
//! - [`primary`] — B: the MX hosts that are weighed;
//! - [`hosts`] — C: who operates each MX host (name, alias, own domain, network, third
//!   party, certificate);
//! - [`inbound`] — D and F: the operator of the weighed hosts, mixed operators, banner;
//! - [`backends`] — the look-through signal groups G1–G4 (§5.2);
//! - [`hosting`] — the signs of a shared web-hosting package behind an own-named MX;
//! - [`mailbox`] — E: the mailbox provider and the deciding rule;
//! - [`smtp`] — banner and certificate evidence (F);
//! - [`evidence`] — evidence items and their roles;
//! - [`item`] — the constructor of one evidence item (shared by the steps);
//! - [`network`] — where the servers stand (network, MX location);
//! - [`verdict`] — G: provider, category, jurisdiction;
//! - [`confidence`] — H: base, adjustments and caps (§8.7).
//!
//! Decisions taken beyond the spec (issue 16): an MX host under another registered
//! domain than the municipality's is decided by that domain's operator, never by its
//! address's network (which is reported as where the server stands); the network decides
//! only for an own-named host in a global mail platform's network; an own-named MX with a
//! hosting control panel, a hoster's autodiscover or a hosting network is shared hosting;
//! DKIM delegation or autodiscover looks through any relay; when the recorded world's MX
//! preferences are synthetic, every MX host is weighed.

mod backends;
mod confidence;
mod evidence;
mod hosting;
mod hosts;
mod inbound;
mod item;
mod mailbox;
mod network;
mod primary;
mod smtp;
mod stops;
#[cfg(test)]
mod testkit;
mod verdict;

use super::catalog::Catalog;
use super::flag::Flag;
use super::model::{EvidenceItem, EvidenceRole, Rule, Verdict};
use super::rules::RuleBook;
use crate::scan::domain::DomainScan;
use crate::scan::probe::SmtpProbe;

pub use verdict::{category_for, jurisdiction_of};

/// Knobs of the classifier that depend on the run, not on the data.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Treat MX hosts whose only addresses are loopback/private as invalid (spec §3.3).
    /// Must be off against a loopback test world, where every address is synthetic.
    pub check_mx_addresses: bool,
    /// MX preferences are real. The recorded world lists each domain's MX hosts sorted
    /// by name with synthetic preferences; there every MX host is weighed alike.
    pub trust_mx_preferences: bool,
}

/// The reviewed tables the classifier reads, passed down from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'c> {
    /// Signature catalogue.
    pub catalog: &'c Catalog,
    /// Rules, adjustments, bands and caps.
    pub rules: &'c RuleBook,
}

/// Classifies one scanned domain for a municipality of country `cc` (ISO, any case).
/// `backend_hint` is a reviewed override that makes one provider acceptable behind a
/// relay at the gateway threshold.
pub fn decide(
    scan: &DomainScan,
    probes: &[&SmtpProbe],
    cc: &str,
    tables: &Tables<'_>,
    options: &Options,
    backend_hint: Option<&str>,
) -> Verdict {
    let cc = cc.to_ascii_uppercase();
    let mut d = Decision {
        scan,
        probes,
        cc: &cc,
        catalog: tables.catalog,
        rules: tables.rules,
        evidence: Vec::new(),
        flags: Vec::new(),
    };
    let verdict = d.run(options, backend_hint);
    d.finish(verdict)
}

/// A verdict without a domain (the seed has none or an unusable one); `seed` is the
/// seed's evidence item when there was something to show.
pub fn no_domain(reason: &str, seed: Option<EvidenceItem>, rules: &RuleBook) -> Verdict {
    let mut v = verdict::unknown(Rule::NoDomain, reason.to_string(), rules);
    v.evidence.extend(seed);
    v
}

/// The state of one decision: inputs, and the evidence and flags gathered so far.
struct Decision<'a, 'c> {
    scan: &'a DomainScan,
    probes: &'a [&'a SmtpProbe],
    cc: &'a str,
    catalog: &'c Catalog,
    rules: &'c RuleBook,
    evidence: Vec<EvidenceItem>,
    flags: Vec<Flag>,
}

impl<'a, 'c> Decision<'a, 'c> {
    fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
    }

    fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// Steps A–H in order.
    fn run(&mut self, options: &Options, backend_hint: Option<&str>) -> Verdict {
        let valid = match self.hard_stops(options) {
            Ok(valid) => valid,
            Err(verdict) => return *verdict,
        };
        let primary = self.primary_set(&valid, options.trust_mx_preferences);
        let classes = self.classify_hosts(&valid);
        let weighed = self.weigh(&classes, &primary, options.trust_mx_preferences);
        self.smtp_evidence(&primary, &weighed.inbound);
        self.host_evidence(&classes, &primary, &weighed.inbound);
        let place = self.place(&primary);
        let backends = self.collect_backends();
        let hosting = self.hosting_signs(&primary);
        let outcome = self.mailbox(&weighed, &backends, &hosting, &place, backend_hint);
        self.settle_roles(&outcome, &weighed.inbound);
        let mut verdict = self.assemble(&weighed, &outcome, &place);
        verdict.confidence = self.confidence(&verdict, &weighed, &backends, &outcome, &primary);
        verdict.band = self.rules.bands.of(verdict.confidence);
        verdict.third_party_mx = hosts::third_parties(&classes);
        verdict
    }

    /// Moves the gathered evidence and flags into the verdict: decisive evidence first,
    /// flags sorted by name.
    fn finish(mut self, mut verdict: Verdict) -> Verdict {
        if !self.scan.failures().is_empty() && verdict.rule != Rule::DnsError {
            self.flag(Flag::PartialScan);
        }
        for &f in &self.scan.spf.flags {
            self.flag(f.into());
        }
        let mut evidence = std::mem::take(&mut self.evidence);
        // Decisive first, then corroborating, contradicting, informational; stable within.
        evidence.sort_by_key(|e| match e.role {
            EvidenceRole::Decisive => 0,
            EvidenceRole::Corroborating => 1,
            EvidenceRole::Contradicting => 2,
            EvidenceRole::Informational => 3,
        });
        evidence.append(&mut verdict.evidence);
        verdict.evidence = evidence;
        let mut flags = std::mem::take(&mut self.flags);
        flags.append(&mut verdict.flags);
        super::flag::normalise(&mut flags);
        verdict.flags = flags;
        verdict
    }
}

/// A plain verdict of `rule` for other modules' tests.
#[cfg(test)]
pub(crate) fn testkit_verdict(rule: Rule) -> Verdict {
    verdict::unknown(rule, String::new(), RuleBook::embedded())
}
