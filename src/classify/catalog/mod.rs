//! The signature catalogue: who runs a mail host, judged from its names and networks.
//!
//! The data lives in `signatures.toml` (reviewed, embedded at build time, described in
//! `docs/signatures.md`); this module loads it, refuses anything ambiguous or malformed,
//! and answers "which catalogue entry does this name / TXT string / ASN belong to?".
//!
//! Matching follows spec §2: names match by *label-boundary suffix* (`host == p` or
//! `host` ends with `"." + p`), never by substring, so `ghost.it` is not `host.it`. The
//! only other name kind is `label_prefix` (some label of the host starts with `p`), kept
//! for the two vendors whose hosts need it (Libraesva `esva…`, FortiMail `fortimail…`).
//! When several entries match one name, the longest pattern wins; equal length falls back
//! to the entry's primary role (provider, gateway, isp, public_shared, then sender/pec)
//! and then to the lexicographically smaller id — so every answer is deterministic.
//!
//! Submodules: [`entry`] (the record types), `role` ([`Role`]), `error` ([`CatalogError`]), `index` (the
//! lookup indices), `validate` (per-entry checks), `vps` (customer-machine names).

mod entry;
mod error;
mod index;
mod role;
#[cfg(test)]
mod tests;
mod validate;
mod vps;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use entry::{Entry, Match, Panel, PatternKind, Scope};
pub use error::CatalogError;
use index::{PrefixList, SuffixIndex};
pub use role::Role;
use validate::validate_entry;
use vps::VpsPatterns;

use crate::name::DnsName;
use crate::scan::domain::DkimSelector;

/// The table's shape on disk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    meta: Meta,
    #[serde(rename = "entry", default)]
    entries: Vec<Entry>,
    #[serde(rename = "panel", default)]
    panels: Vec<Panel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    version: String,
    #[serde(default)]
    description: String,
}

/// The loaded, validated catalogue with its lookup indices.
#[derive(Debug)]
pub struct Catalog {
    version: String,
    description: String,
    entries: Vec<Entry>,
    panels: Vec<Panel>,
    by_id: HashMap<String, usize>,
    mx: SuffixIndex,
    mx_prefix: PrefixList,
    spf: SuffixIndex,
    dkim: SuffixIndex,
    autodiscover: SuffixIndex,
    banner: SuffixIndex,
    txt: PrefixList,
    /// ASN → (entry, decimal text kept so a [`Match`] can borrow it).
    asns: HashMap<u32, (usize, String)>,
    vps: VpsPatterns,
}

impl Catalog {
    /// Parses and validates a table. Every rule of `docs/signatures.md` is checked here,
    /// so a malformed table fails at load time with the entry named, never at match time.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: File = toml::from_str(text)?;
        if file.meta.version.trim().is_empty() {
            return Err(CatalogError::MissingVersion);
        }
        let mut entries = file.entries;
        for entry in &mut entries {
            // An empty note in the table means "no note".
            if entry.note.as_deref().is_some_and(|n| n.trim().is_empty()) {
                entry.note = None;
            }
            validate_entry(entry)?;
        }
        for panel in &file.panels {
            panel.validate()?;
        }
        let mut catalog = Catalog {
            version: file.meta.version,
            description: file.meta.description,
            by_id: HashMap::with_capacity(entries.len()),
            mx: SuffixIndex::default(),
            mx_prefix: PrefixList::default(),
            spf: SuffixIndex::default(),
            dkim: SuffixIndex::default(),
            autodiscover: SuffixIndex::default(),
            banner: SuffixIndex::default(),
            txt: PrefixList::default(),
            asns: HashMap::new(),
            vps: VpsPatterns::default(),
            entries: Vec::new(),
            panels: file.panels,
        };
        for (i, e) in entries.iter().enumerate() {
            catalog.index(i, e, &entries)?;
        }
        catalog.entries = entries;
        Ok(catalog)
    }

    /// Adds entry `i` to every index; `entries` names the holder of a repeated ASN.
    fn index(&mut self, i: usize, e: &Entry, entries: &[Entry]) -> Result<(), CatalogError> {
        if self.by_id.insert(e.id.clone(), i).is_some() {
            return Err(CatalogError::DuplicateId(e.id.clone()));
        }
        for &asn in &e.asns {
            if let Some((other, _)) = self.asns.insert(asn, (i, asn.to_string())) {
                return Err(CatalogError::DuplicateAsn(
                    asn,
                    entries[other].id.clone(),
                    e.id.clone(),
                ));
            }
        }
        self.mx.add(i, &e.mx, false);
        self.spf.add(i, &e.spf, false);
        self.spf.add(i, &e.spf_weak, true);
        self.dkim.add(i, &e.dkim, false);
        self.autodiscover.add(i, &e.autodiscover, false);
        self.autodiscover.add(i, &e.autodiscover_weak, true);
        self.banner.add(i, &e.banner, false);
        self.mx_prefix.add(i, &e.mx_label_prefix, false);
        self.txt.add(i, &e.txt, false);
        self.txt.add(i, &e.txt_weak, true);
        self.vps.add(i, &e.vps_hosts, &e.vps_exceptions);
        Ok(())
    }

    /// The table compiled into the binary, parsed on first use. The unit test
    /// `embedded_table_is_valid` guarantees the `expect` cannot fire. Callers take it
    /// once and pass it down.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_toml(include_str!("../signatures.toml"))
                .expect("embedded signatures.toml is valid (checked by a unit test)")
        })
    }

    /// `[meta] version` of the table (shown with the data so results name their table).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `[meta] description` of the table.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// All entries in table order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The hosting control panels, in table order.
    pub fn panels(&self) -> &[Panel] {
        &self.panels
    }

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// The operator of an MX host (or of a name in its CNAME chain): `mx` suffixes and
    /// `mx_label_prefix` label prefixes compete under the precedence rule.
    pub fn match_mx(&self, host: &DnsName) -> Option<Match<'_>> {
        let mut best = self.mx.lookup(&self.entries, host);
        self.mx_prefix.label_hits(&self.entries, host, &mut best);
        best
    }

    /// The operator named by an SPF `include:`/`redirect=` domain; `spf_weak` hits carry
    /// `weak` (they show sending only, spec §4.4).
    pub fn match_spf(&self, domain: &DnsName) -> Option<Match<'_>> {
        self.spf.lookup(&self.entries, domain)
    }

    /// The signing platform named by a DKIM selector CNAME target.
    pub fn match_dkim(&self, target: &DnsName) -> Option<Match<'_>> {
        self.dkim.lookup(&self.entries, target)
    }

    /// The mailbox host named by an autodiscover CNAME or SRV target; weak patterns (e.g.
    /// Google, which offers no Autodiscover) carry `weak`.
    pub fn match_autodiscover(&self, target: &DnsName) -> Option<Match<'_>> {
        self.autodiscover.lookup(&self.entries, target)
    }

    /// A verification token: the TXT string starts with a catalogued prefix, ignoring
    /// ASCII case (spec §3.8: `MS=ms…`, `google-site-verification=`, …).
    pub fn match_txt(&self, txt: &str) -> Option<Match<'_>> {
        self.txt.txt_hit(&self.entries, txt)
    }

    /// The operator named by a host name in an SMTP banner/EHLO line or a certificate.
    pub fn match_banner(&self, host: &DnsName) -> Option<Match<'_>> {
        self.banner.lookup(&self.entries, host)
    }

    /// The network operator of an origin ASN (each ASN is in at most one entry).
    pub fn match_asn(&self, asn: u32) -> Option<Match<'_>> {
        self.asns.get(&asn).map(|(i, text)| Match {
            entry: &self.entries[*i],
            pattern: text,
            kind: PatternKind::Asn,
            weak: false,
        })
    }

    /// The hosting control panel an autodiscover target belongs to.
    pub fn match_panel(&self, target: &DnsName, domain: &DnsName) -> Option<&Panel> {
        self.panels.iter().find(|p| p.matches(target, domain))
    }

    /// The operator whose customer machines (VPS, dedicated servers) carry this name.
    pub fn vps_operator(&self, name: &DnsName) -> Option<&Entry> {
        self.vps.find(name).map(|i| &self.entries[i])
    }

    /// Every DKIM selector of the table, once, in table order, with whether a TXT key
    /// is expected there (the scan's DKIM questions come from here).
    pub fn dkim_selectors(&self) -> Vec<DkimSelector> {
        let mut out: Vec<DkimSelector> = Vec::new();
        for e in &self.entries {
            for s in &e.dkim_selectors {
                if out.iter().all(|d| &d.selector != s) {
                    out.push(DkimSelector {
                        selector: s.clone(),
                        txt_key: self.dkim_txt_owner(s).is_some(),
                    });
                }
            }
        }
        out
    }

    /// The provider whose DKIM key a TXT record at this selector is (Google's
    /// `google._domainkey`, spec §3.6).
    pub fn dkim_txt_owner(&self, selector: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.dkim_txt_selectors.iter().any(|s| s == selector))
    }

    /// The customer tenant a DKIM target names (`<tenant>.onmicrosoft.com`), with the
    /// entry that runs the tenant platform.
    pub fn tenant_of(&self, target: &DnsName) -> Option<(DnsName, &Entry)> {
        let m = self.match_dkim(target)?;
        if !m.entry.tenant_dkim.iter().any(|t| t == m.pattern) {
            return None;
        }
        let suffix_len = m.pattern.split('.').count();
        if target.len() <= suffix_len {
            return None;
        }
        let tenant = target.parent(target.len() - suffix_len - 1)?;
        Some((tenant, m.entry))
    }
}
