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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::name::DnsName;

/// What an operator does for mail. An entry can have several roles (spec §4.6); the first
/// one listed is its primary role, which decides how a match is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Mailbox provider or hoster (its MX proves where mailboxes live).
    Provider,
    /// Security appliance, filtering service or relay in front of the real mailbox host.
    Gateway,
    /// ISP, hoster or academic network (classifies a network, not a mailbox service).
    Isp,
    /// Public IT cooperative, government or provincial shared mail.
    PublicShared,
    /// Sending-only service (newsletters, transactional mail): never votes for a mailbox.
    Sender,
    /// Certified-mail (PEC) host: never evidence of ordinary mail hosting.
    Pec,
}

impl Role {
    /// Tie-break rank between entries matching with equally long patterns (spec §2):
    /// lower wins.
    fn rank(self) -> u8 {
        match self {
            Role::Provider => 0,
            Role::Gateway => 1,
            Role::Isp => 2,
            Role::PublicShared => 3,
            Role::Sender | Role::Pec => 4,
        }
    }

    /// The slug used in the table and in evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Gateway => "gateway",
            Role::Isp => "isp",
            Role::PublicShared => "public_shared",
            Role::Sender => "sender",
            Role::Pec => "pec",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reach of a mailbox provider. Only the global providers of spec §4.1 are `Global`; the
/// look-through of spec §5.2 never replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Microsoft, Google, AWS, Zoho, Yandex.
    Global,
    /// Everything else.
    #[default]
    Regional,
}

/// How a pattern matched (spec §2 item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// The name equals the pattern or ends with `"." + pattern`.
    Suffix,
    /// Some label of the name starts with the pattern.
    LabelPrefix,
    /// The TXT string starts with the pattern, ignoring ASCII case.
    TxtPrefix,
    /// The origin ASN equals the pattern.
    Asn,
}

impl PatternKind {
    /// The slug used in evidence (`suffix`, `label_prefix`, `txt_prefix`, `asn`).
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Suffix => "suffix",
            PatternKind::LabelPrefix => "label_prefix",
            PatternKind::TxtPrefix => "txt_prefix",
            PatternKind::Asn => "asn",
        }
    }
}

impl fmt::Display for PatternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operator: a mailbox provider, gateway, network, public mail service, sender or PEC
/// host, with every signature that identifies it. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Stable slug `[a-z0-9-]`; verdicts and overrides refer to it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// ISO 3166 alpha-2 code of the legal seat (`ZZ`: not established).
    pub hq: String,
    /// Roles, primary first; never empty.
    pub roles: Vec<Role>,
    /// `global` only for the spec §4.1 providers.
    #[serde(default)]
    pub scope: Scope,
    /// MX host suffixes.
    #[serde(default)]
    pub mx: Vec<String>,
    /// MX label prefixes (only where the spec asks for them).
    #[serde(default)]
    pub mx_label_prefix: Vec<String>,
    /// SPF `include:`/`redirect=` domain suffixes.
    #[serde(default)]
    pub spf: Vec<String>,
    /// SPF suffixes that only show sending (matches carry `weak`).
    #[serde(default)]
    pub spf_weak: Vec<String>,
    /// DKIM selector CNAME target suffixes.
    #[serde(default)]
    pub dkim: Vec<String>,
    /// Autodiscover CNAME/SRV target suffixes.
    #[serde(default)]
    pub autodiscover: Vec<String>,
    /// Autodiscover suffixes of weak value (matches carry `weak`).
    #[serde(default)]
    pub autodiscover_weak: Vec<String>,
    /// Verification TXT prefixes (case-insensitive), medium strength.
    #[serde(default)]
    pub txt: Vec<String>,
    /// Verification TXT prefixes of weak value (matches carry `weak`).
    #[serde(default)]
    pub txt_weak: Vec<String>,
    /// Origin ASNs of the operator's network; each ASN belongs to at most one entry.
    #[serde(default)]
    pub asns: Vec<u32>,
    /// Host-name suffixes seen in SMTP banners/EHLO or certificate names.
    #[serde(default)]
    pub banner: Vec<String>,
    /// Where the facts come from (spec section and anchors, or † + world example).
    pub source: String,
    /// Decisions and caveats; an empty string in the table reads as none.
    #[serde(default)]
    pub note: Option<String>,
}

impl Entry {
    /// True when `role` is one of the entry's roles.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The first listed role, which decides how a match is read (validated non-empty).
    pub fn primary_role(&self) -> Role {
        self.roles[0]
    }
}

/// One catalogue hit: which entry, through which pattern, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The matching entry.
    pub entry: &'a Entry,
    /// The pattern as written in the table (for an ASN, its decimal form).
    pub pattern: &'a str,
    /// Kind of pattern.
    pub kind: PatternKind,
    /// True for the `*_weak` fields: evidence that shows a relation, not hosting.
    pub weak: bool,
}

impl Match<'_> {
    /// Short human-readable form for evidence, e.g.
    /// `microsoft: suffix mail.protection.outlook.com` (`… (weak)` for weak patterns).
    pub fn describe(&self) -> String {
        let weak = if self.weak { " (weak)" } else { "" };
        format!("{}: {} {}{weak}", self.entry.id, self.kind, self.pattern)
    }
}

/// Why a signature table was refused. Every message names the offending entry.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The text is not TOML or does not have the table's shape (unknown keys included).
    #[error("signatures.toml: {0}")]
    Toml(#[from] toml::de::Error),
    /// `[meta]` lacks a version.
    #[error("signatures.toml: [meta] version is empty")]
    MissingVersion,
    /// An id that is not a lower-case slug.
    #[error("entry {0:?}: id must be a lower-case slug of [a-z0-9-]")]
    BadId(String),
    /// Two entries with one id.
    #[error("entry {0:?}: id appears more than once")]
    DuplicateId(String),
    /// One ASN in two entries: an ASN names one network operator.
    #[error("ASN {0} is listed by entry {1:?} and again by entry {2:?}")]
    DuplicateAsn(u32, String, String),
    /// An ASN that cannot be an origin on the public Internet (0, AS_TRANS, reserved or
    /// private-use ranges).
    #[error("entry {id:?}: ASN {asn} is {why}")]
    BadAsn {
        /// Entry id.
        id: String,
        /// The ASN.
        asn: u32,
        /// Which range it falls in.
        why: &'static str,
    },
    /// A pattern that is not in canonical form or too broad.
    #[error("entry {id:?}: pattern {pattern:?} rejected: {why}")]
    BadPattern {
        /// Entry id.
        id: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        why: String,
    },
    /// `hq` is not two upper-case ASCII letters.
    #[error("entry {id:?}: hq {hq:?} must be an ISO 3166 alpha-2 code (two upper-case letters)")]
    BadCountry {
        /// Entry id.
        id: String,
        /// The value found.
        hq: String,
    },
    /// `roles = []`.
    #[error("entry {0:?}: roles must not be empty")]
    EmptyRoles(String),
    /// The same role twice.
    #[error("entry {id:?}: role {role} is listed twice")]
    DuplicateRole {
        /// Entry id.
        id: String,
        /// The repeated role.
        role: Role,
    },
    /// A gateway with ASNs: the clouds that host filters are shared (spec §4.5).
    #[error(
        "entry {0:?}: a gateway entry must not list ASNs (an ASN alone never names a gateway vendor, spec §4.5)"
    )]
    GatewayAsn(String),
    /// `scope = "global"` on an entry whose primary role is not provider.
    #[error("entry {0:?}: scope \"global\" is only for entries whose primary role is provider")]
    GlobalScope(String),
    /// An empty `name` or `source`.
    #[error("entry {id:?}: {field} must not be empty")]
    MissingText {
        /// Entry id.
        id: String,
        /// `name` or `source`.
        field: &'static str,
    },
    /// An entry that could never match anything.
    #[error("entry {0:?}: has no patterns and no ASNs")]
    NoSignals(String),
}

/// The table's shape on disk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    meta: Meta,
    #[serde(rename = "entry", default)]
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    version: String,
    #[serde(default)]
    description: String,
}

/// One place a suffix pattern occurs.
#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: usize,
    weak: bool,
}

/// Suffix patterns keyed by their text. A lookup walks the host's suffixes from the
/// longest to the shortest, so the first hit is the longest matching pattern and the cost
/// is one hash probe per label, whatever the size of the table.
#[derive(Debug, Default)]
struct SuffixIndex {
    map: HashMap<String, Vec<Slot>>,
}

/// Prefix patterns (label or TXT), few enough to scan.
#[derive(Debug, Default)]
struct PrefixList {
    /// (entry, pattern as written, pattern folded to lower case, weak)
    items: Vec<(usize, String, String, bool)>,
}

/// The loaded, validated catalogue with its lookup indices.
#[derive(Debug)]
pub struct Catalog {
    version: String,
    description: String,
    entries: Vec<Entry>,
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
}

/// Spec §2 precedence key: longer pattern first, then the primary role, then the id.
fn precedence<'a>(m: &Match<'a>) -> (std::cmp::Reverse<usize>, u8, &'a str) {
    (
        std::cmp::Reverse(m.pattern.len()),
        m.entry.primary_role().rank(),
        m.entry.id.as_str(),
    )
}

/// Keeps whichever of `best` and `m` wins under [`precedence`].
fn keep_best<'a>(best: &mut Option<Match<'a>>, m: Match<'a>) {
    if best.as_ref().is_none_or(|b| precedence(&m) < precedence(b)) {
        *best = Some(m);
    }
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
            entries: Vec::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            if catalog.by_id.insert(e.id.clone(), i).is_some() {
                return Err(CatalogError::DuplicateId(e.id.clone()));
            }
            for &asn in &e.asns {
                if let Some((other, _)) = catalog.asns.insert(asn, (i, asn.to_string())) {
                    return Err(CatalogError::DuplicateAsn(
                        asn,
                        entries[other].id.clone(),
                        e.id.clone(),
                    ));
                }
            }
            catalog.mx.add(i, &e.mx, false);
            catalog.spf.add(i, &e.spf, false);
            catalog.spf.add(i, &e.spf_weak, true);
            catalog.dkim.add(i, &e.dkim, false);
            catalog.autodiscover.add(i, &e.autodiscover, false);
            catalog.autodiscover.add(i, &e.autodiscover_weak, true);
            catalog.banner.add(i, &e.banner, false);
            catalog.mx_prefix.add(i, &e.mx_label_prefix, false);
            catalog.txt.add(i, &e.txt, false);
            catalog.txt.add(i, &e.txt_weak, true);
        }
        catalog.entries = entries;
        Ok(catalog)
    }

    /// The table compiled into the binary, parsed on first use. The unit test
    /// `embedded_table_is_valid` guarantees the `expect` cannot fire.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_toml(include_str!("signatures.toml"))
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

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// The operator of an MX host (or of a name in its CNAME chain): `mx` suffixes and
    /// `mx_label_prefix` label prefixes compete under the precedence rule.
    pub fn match_mx(&self, host: &DnsName) -> Option<Match<'_>> {
        let mut best = self.mx.lookup(self, host);
        for (i, pattern, folded, weak) in &self.mx_prefix.items {
            let hit = host
                .labels()
                .iter()
                .any(|l| l.starts_with(folded.as_bytes()));
            if hit {
                let m = Match {
                    entry: &self.entries[*i],
                    pattern,
                    kind: PatternKind::LabelPrefix,
                    weak: *weak,
                };
                keep_best(&mut best, m);
            }
        }
        best
    }

    /// The operator named by an SPF `include:`/`redirect=` domain; `spf_weak` hits carry
    /// `weak` (they show sending only, spec §4.4).
    pub fn match_spf(&self, domain: &DnsName) -> Option<Match<'_>> {
        self.spf.lookup(self, domain)
    }

    /// The signing platform named by a DKIM selector CNAME target.
    pub fn match_dkim(&self, target: &DnsName) -> Option<Match<'_>> {
        self.dkim.lookup(self, target)
    }

    /// The mailbox host named by an autodiscover CNAME or SRV target; weak patterns (e.g.
    /// Google, which offers no Autodiscover) carry `weak`.
    pub fn match_autodiscover(&self, target: &DnsName) -> Option<Match<'_>> {
        self.autodiscover.lookup(self, target)
    }

    /// A verification token: the TXT string starts with a catalogued prefix, ignoring
    /// ASCII case (spec §3.8: `MS=ms…`, `google-site-verification=`, …).
    pub fn match_txt(&self, txt: &str) -> Option<Match<'_>> {
        let mut best: Option<Match<'_>> = None;
        let bytes = txt.as_bytes();
        for (i, pattern, folded, weak) in &self.txt.items {
            if bytes.len() >= folded.len()
                && bytes[..folded.len()].eq_ignore_ascii_case(folded.as_bytes())
            {
                let m = Match {
                    entry: &self.entries[*i],
                    pattern,
                    kind: PatternKind::TxtPrefix,
                    weak: *weak,
                };
                keep_best(&mut best, m);
            }
        }
        best
    }

    /// The operator named by a host name in an SMTP banner/EHLO line or a certificate.
    pub fn match_banner(&self, host: &DnsName) -> Option<Match<'_>> {
        self.banner.lookup(self, host)
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
}

impl SuffixIndex {
    fn add(&mut self, entry: usize, patterns: &[String], weak: bool) {
        for p in patterns {
            self.map
                .entry(p.clone())
                .or_default()
                .push(Slot { entry, weak });
        }
    }

    /// The longest pattern that `name` equals or ends with on a label boundary; among
    /// entries sharing that pattern, the role rank and then the id decide.
    fn lookup<'a>(&'a self, catalog: &'a Catalog, name: &DnsName) -> Option<Match<'a>> {
        if self.map.is_empty() {
            return None;
        }
        let labels = name.labels();
        // Joined raw labels with the byte offset where each label starts; a suffix is then
        // a slice, so no string is built per candidate.
        let mut joined = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
        let mut starts = Vec::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                joined.push(b'.');
            }
            starts.push(joined.len());
            joined.extend_from_slice(label);
        }
        // A raw label containing '.' (written `\.`) would fake a label boundary; patterns
        // are plain names, so no suffix that includes such a label can match.
        let first_plain = labels
            .iter()
            .rposition(|l| l.contains(&b'.'))
            .map_or(0, |i| i + 1);
        for &start in &starts[first_plain..] {
            let Ok(suffix) = std::str::from_utf8(&joined[start..]) else {
                continue;
            };
            if let Some((key, slots)) = self.map.get_key_value(suffix) {
                let entries = &catalog.entries;
                let slot = slots
                    .iter()
                    .min_by_key(|s| {
                        let e = &entries[s.entry];
                        (e.primary_role().rank(), e.id.as_str(), s.weak)
                    })
                    .expect("index slots are never empty");
                return Some(Match {
                    entry: &entries[slot.entry],
                    pattern: key,
                    kind: PatternKind::Suffix,
                    weak: slot.weak,
                });
            }
        }
        None
    }
}

impl PrefixList {
    fn add(&mut self, entry: usize, patterns: &[String], weak: bool) {
        for p in patterns {
            self.items
                .push((entry, p.clone(), p.to_ascii_lowercase(), weak));
        }
    }
}

/// Per-entry checks (cross-entry uniqueness is checked while indexing).
fn validate_entry(e: &Entry) -> Result<(), CatalogError> {
    let id_ok = !e.id.is_empty()
        && e.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !e.id.starts_with('-')
        && !e.id.ends_with('-');
    if !id_ok {
        return Err(CatalogError::BadId(e.id.clone()));
    }
    for (field, value) in [("name", &e.name), ("source", &e.source)] {
        if value.trim().is_empty() {
            return Err(CatalogError::MissingText {
                id: e.id.clone(),
                field,
            });
        }
    }
    if !(e.hq.len() == 2 && e.hq.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(CatalogError::BadCountry {
            id: e.id.clone(),
            hq: e.hq.clone(),
        });
    }
    if e.roles.is_empty() {
        return Err(CatalogError::EmptyRoles(e.id.clone()));
    }
    let mut seen_roles = HashSet::new();
    for &role in &e.roles {
        if !seen_roles.insert(role) {
            return Err(CatalogError::DuplicateRole {
                id: e.id.clone(),
                role,
            });
        }
    }
    if e.has_role(Role::Gateway) && !e.asns.is_empty() {
        return Err(CatalogError::GatewayAsn(e.id.clone()));
    }
    if e.scope == Scope::Global && e.primary_role() != Role::Provider {
        return Err(CatalogError::GlobalScope(e.id.clone()));
    }
    for &asn in &e.asns {
        if let Some(why) = unusable_asn(asn) {
            return Err(CatalogError::BadAsn {
                id: e.id.clone(),
                asn,
                why,
            });
        }
    }

    let bad = |pattern: &str, why: String| CatalogError::BadPattern {
        id: e.id.clone(),
        pattern: pattern.to_string(),
        why,
    };
    let suffix_fields = [
        &e.mx,
        &e.spf,
        &e.spf_weak,
        &e.dkim,
        &e.autodiscover,
        &e.autodiscover_weak,
        &e.banner,
    ];
    for field in suffix_fields {
        for p in field {
            let name = DnsName::parse(p).map_err(|err| bad(p, err.to_string()))?;
            if !name.is_plain() {
                return Err(bad(
                    p,
                    "not a plain host name (letters, digits, '-', '_')".into(),
                ));
            }
            if name.to_string() != *p {
                return Err(bad(
                    p,
                    format!("write it as {name:?} (lower case, no trailing dot)"),
                ));
            }
            // A one-label pattern would claim a whole top-level domain.
            if name.len() < 2 {
                return Err(bad(p, "a suffix needs at least two labels".into()));
            }
        }
    }
    for p in &e.mx_label_prefix {
        let ok = !p.is_empty()
            && p.len() <= 63
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(bad(
                p,
                "a label prefix is one lower-case label of [a-z0-9-]".into(),
            ));
        }
    }
    for p in e.txt.iter().chain(&e.txt_weak) {
        let ok = p.len() >= 3 && p.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(bad(
                p,
                "a TXT prefix is at least 3 printable ASCII characters, no spaces".into(),
            ));
        }
    }
    // Repeats inside one entry are typos; across entries the precedence rule decides.
    let mut seen = HashSet::new();
    for (field, list) in [
        ("mx", &e.mx),
        ("spf", &e.spf),
        ("spf", &e.spf_weak),
        ("dkim", &e.dkim),
        ("autodiscover", &e.autodiscover),
        ("autodiscover", &e.autodiscover_weak),
        ("banner", &e.banner),
        ("mx_label_prefix", &e.mx_label_prefix),
        ("txt", &e.txt),
        ("txt", &e.txt_weak),
    ] {
        for p in list {
            if !seen.insert((field, p.to_ascii_lowercase())) {
                return Err(bad(p, format!("listed twice in {field}")));
            }
        }
    }
    let mut asns = HashSet::new();
    for &asn in &e.asns {
        if !asns.insert(asn) {
            return Err(CatalogError::DuplicateAsn(asn, e.id.clone(), e.id.clone()));
        }
    }
    let has_signal = suffix_fields.iter().any(|f| !f.is_empty())
        || !e.mx_label_prefix.is_empty()
        || !e.txt.is_empty()
        || !e.txt_weak.is_empty()
        || !e.asns.is_empty();
    if !has_signal {
        return Err(CatalogError::NoSignals(e.id.clone()));
    }
    Ok(())
}

/// Why an ASN cannot be a public origin (RFC 6996, RFC 7300, RFC 6793, RFC 5398), or
/// `None` when it can.
fn unusable_asn(asn: u32) -> Option<&'static str> {
    match asn {
        0 => Some("reserved (AS0)"),
        23456 => Some("AS_TRANS"),
        64496..=64511 | 65536..=65551 => Some("reserved for documentation"),
        64512..=65534 | 4_200_000_000..=4_294_967_294 => Some("private use"),
        65535 | 4_294_967_295 => Some("reserved"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    fn cat() -> &'static Catalog {
        Catalog::embedded()
    }

    fn mx_id(host: &str) -> Option<String> {
        cat().match_mx(&name(host)).map(|m| m.entry.id.clone())
    }

    /// A minimal valid table with `extra` appended as further TOML.
    fn table(extra: &str) -> String {
        format!(
            "[meta]\nversion = \"t\"\n\n[[entry]]\nid = \"base\"\nname = \"Base\"\nhq = \"DE\"\n\
             roles = [\"provider\"]\nmx = [\"base.example\"]\nsource = \"test\"\n{extra}"
        )
    }

    fn entry(id: &str, role: &str, body: &str) -> String {
        format!(
            "\n[[entry]]\nid = \"{id}\"\nname = \"{id}\"\nhq = \"DE\"\nroles = [\"{role}\"]\n\
             source = \"test\"\n{body}\n"
        )
    }

    fn error(extra: &str) -> String {
        Catalog::from_toml(&table(extra)).unwrap_err().to_string()
    }

    #[test]
    fn embedded_table_is_valid() {
        let c = Catalog::from_toml(include_str!("signatures.toml")).unwrap();
        assert!(!c.version().is_empty());
        assert!(c.entries().len() > 100);
        for id in ["microsoft", "google", "aws", "zoho", "yandex"] {
            let e = c.entry(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(e.scope, Scope::Global, "{id}");
            assert_eq!(e.primary_role(), Role::Provider, "{id}");
        }
        let global: Vec<_> = c
            .entries()
            .iter()
            .filter(|e| e.scope == Scope::Global)
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(global, ["microsoft", "google", "aws", "zoho", "yandex"]);
    }

    /// Exactness guard: in the reviewed table no suffix pattern is claimed by two entries
    /// within one signal, so precedence never has to pick between identical patterns.
    #[test]
    fn embedded_table_has_no_shared_patterns() {
        let c = cat();
        for (what, index) in [
            ("mx", &c.mx),
            ("spf", &c.spf),
            ("dkim", &c.dkim),
            ("autodiscover", &c.autodiscover),
            ("banner", &c.banner),
        ] {
            for (pattern, slots) in &index.map {
                let ids: Vec<_> = slots
                    .iter()
                    .map(|s| c.entries[s.entry].id.as_str())
                    .collect();
                assert_eq!(slots.len(), 1, "{what} pattern {pattern} shared by {ids:?}");
            }
        }
    }

    #[test]
    fn mx_hosts_of_the_global_providers() {
        assert_eq!(
            mx_id("x-de.mail.protection.outlook.com").as_deref(),
            Some("microsoft")
        );
        assert_eq!(
            mx_id("aalsmeer-nl.e-v1.mx.microsoft").as_deref(),
            Some("microsoft")
        );
        assert_eq!(mx_id("aspmx.l.google.com").as_deref(), Some("google"));
        assert_eq!(mx_id("ALT1.ASPMX.L.GOOGLE.COM.").as_deref(), Some("google"));
        assert_eq!(
            mx_id("\\032alt2.aspmx.l.google.com").as_deref(),
            Some("google")
        );
        assert_eq!(
            mx_id("inbound-smtp.eu-west-1.amazonaws.com").as_deref(),
            Some("aws")
        );
        let m = cat()
            .match_mx(&name("x-de.mail.protection.outlook.com"))
            .unwrap();
        assert_eq!(m.kind, PatternKind::Suffix);
        assert_eq!(m.pattern, "mail.protection.outlook.com");
        assert_eq!(
            m.describe(),
            "microsoft: suffix mail.protection.outlook.com"
        );
    }

    #[test]
    fn suffixes_respect_label_boundaries() {
        assert_eq!(mx_id("mailgw01.host.it").as_deref(), Some("host-it"));
        assert_eq!(mx_id("host.it").as_deref(), Some("host-it"));
        assert_eq!(mx_id("ghost.it"), None);
        assert_eq!(mx_id("mail.ghost.it"), None);
        assert_eq!(mx_id("myhost.it"), None);
        // A label that contains a literal dot must not fake a boundary: only the real
        // suffix outlook.com matches here, not mail.protection.outlook.com.
        let m = cat()
            .match_mx(&name("x.mail\\.protection.outlook.com"))
            .unwrap();
        assert_eq!(m.pattern, "outlook.com");
        assert_eq!(mx_id("mail\\.ghost.host.it").as_deref(), Some("host-it"));
    }

    #[test]
    fn label_prefix_matches_libraesva_and_fortimail() {
        let m = cat().match_mx(&name("esva.foo.it")).unwrap();
        assert_eq!(m.entry.id, "libraesva");
        assert_eq!(m.kind, PatternKind::LabelPrefix);
        assert_eq!(m.pattern, "esva");
        assert_eq!(
            mx_id("mx.esva-cloud.example.com").as_deref(),
            Some("libraesva")
        );
        assert_eq!(mx_id("fortimail.esicloud.be").as_deref(), Some("fortimail"));
        // Only a label *prefix*: "vesva" and "myfortimail" do not count.
        assert_eq!(mx_id("vesva.example.it"), None);
        assert_eq!(mx_id("myfortimail.example.it"), None);
    }

    #[test]
    fn longest_pattern_wins() {
        // pec.aruba.it (PEC) is longer than aruba.it (provider).
        assert_eq!(mx_id("mx.pec.aruba.it").as_deref(), Some("aruba-pec"));
        assert_eq!(mx_id("in.arubabusiness.it").as_deref(), Some("aruba"));
        assert_eq!(mx_id("smtp.aruba.it").as_deref(), Some("aruba"));
        // An explicit host beats a label prefix when it is longer …
        assert_eq!(mx_id("fortimail.lapit.fi").as_deref(), Some("lapit"));
        // … and the longer suffix wins within one entry too.
        let m = cat()
            .match_mx(&name("a.mail.protection.outlook.com"))
            .unwrap();
        assert_eq!(m.pattern, "mail.protection.outlook.com");
    }

    #[test]
    fn role_precedence_breaks_equal_length_ties() {
        let toml = table(
            &[
                entry("zz-provider", "provider", "mx = [\"shared.example\"]"),
                entry(
                    "aa-gateway",
                    "gateway",
                    "mx = [\"shared.example\", \"gw.example\"]",
                ),
                entry("isp-b", "isp", "mx = [\"gw.example\", \"net.example\"]"),
                entry("isp-a", "isp", "mx = [\"net.example\"]"),
                entry("pub", "public_shared", "mx = [\"pub.example\"]"),
                entry("send", "sender", "mx = [\"pub.example\"]"),
                // Label prefix and suffix of equal length (12 characters).
                entry("pfx", "gateway", "mx_label_prefix = [\"abcdefghijkl\"]"),
                entry("sfx", "provider", "mx = [\"abcdefgh.org\"]"),
            ]
            .concat(),
        );
        let c = Catalog::from_toml(&toml).unwrap();
        let id = |h: &str| c.match_mx(&name(h)).map(|m| m.entry.id.clone());
        assert_eq!(id("mx.shared.example").as_deref(), Some("zz-provider"));
        assert_eq!(id("mx.gw.example").as_deref(), Some("aa-gateway"));
        assert_eq!(id("mx.net.example").as_deref(), Some("isp-a"));
        assert_eq!(id("mx.pub.example").as_deref(), Some("pub"));
        assert_eq!(id("abcdefghijkl.abcdefgh.org").as_deref(), Some("sfx"));
        assert_eq!(id("abcdefghijklm.example.net").as_deref(), Some("pfx"));
    }

    #[test]
    fn txt_tokens_ignore_case() {
        let m = cat().match_txt("ms=ms123").unwrap();
        assert_eq!(m.entry.id, "microsoft");
        assert_eq!(m.kind, PatternKind::TxtPrefix);
        assert!(!m.weak);
        assert_eq!(m.describe(), "microsoft: txt_prefix MS=ms");
        assert_eq!(cat().match_txt("MS=MS98765").unwrap().entry.id, "microsoft");
        let g = cat().match_txt("google-site-verification=abc").unwrap();
        assert_eq!(g.entry.id, "google");
        assert!(g.weak);
        assert_eq!(
            g.describe(),
            "google: txt_prefix google-site-verification= (weak)"
        );
        assert!(cat().match_txt("v=spf1 include:ms=ms1 -all").is_none());
        assert!(cat().match_txt("ms=").is_none());
    }

    #[test]
    fn asns_name_networks() {
        let m = cat().match_asn(8075).unwrap();
        assert_eq!(m.entry.id, "microsoft");
        assert_eq!(m.kind, PatternKind::Asn);
        assert_eq!(m.pattern, "8075");
        assert_eq!(m.describe(), "microsoft: asn 8075");
        for (asn, id) in [(50964, "komm-one"), (33846, "dataport")] {
            let m = cat().match_asn(asn).unwrap();
            assert_eq!(m.entry.id, id);
            assert_eq!(m.entry.primary_role(), Role::PublicShared);
        }
        assert_eq!(
            cat().match_asn(3320).unwrap().entry.primary_role(),
            Role::Isp
        );
        assert!(cat().match_asn(64512).is_none());
        // No gateway ever answers for an ASN.
        assert!(
            cat()
                .entries()
                .iter()
                .filter(|e| e.has_role(Role::Gateway))
                .all(|e| e.asns.is_empty())
        );
    }

    #[test]
    fn other_signals() {
        let spf = cat()
            .match_spf(&name("spf.protection.outlook.com"))
            .unwrap();
        assert_eq!((spf.entry.id.as_str(), spf.weak), ("microsoft", false));
        let ses = cat().match_spf(&name("amazonses.com")).unwrap();
        assert_eq!((ses.entry.id.as_str(), ses.weak), ("aws", true));
        assert_eq!(
            cat()
                .match_spf(&name("servers.mcsv.net"))
                .unwrap()
                .entry
                .primary_role(),
            Role::Sender
        );
        let dkim = name("selector1-x-de._domainkey.tenant.onmicrosoft.com");
        assert_eq!(cat().match_dkim(&dkim).unwrap().entry.id, "microsoft");
        let dkim = name("selector1-a-at._domainkey.mson1.y-v1.dkim.mail.microsoft");
        assert_eq!(cat().match_dkim(&dkim).unwrap().entry.id, "microsoft");
        let ad = cat()
            .match_autodiscover(&name("autodiscover.outlook.com"))
            .unwrap();
        assert_eq!((ad.entry.id.as_str(), ad.weak), ("microsoft", false));
        let ad = cat().match_autodiscover(&name("google.com")).unwrap();
        assert_eq!((ad.entry.id.as_str(), ad.weak), ("google", true));
        assert_eq!(
            cat().match_banner(&name("mx.google.com")).unwrap().entry.id,
            "google"
        );
        assert!(cat().match_banner(&name("vm1.google.com")).is_none());
    }

    #[test]
    fn every_validation_error_names_the_entry() {
        let cases: Vec<(String, &str)> = vec![
            (entry("Bad_Id", "isp", "asns = [1]"), "\"Bad_Id\""),
            (
                entry("base", "isp", "asns = [1]"),
                "entry \"base\": id appears more than once",
            ),
            (
                entry("x1", "isp", "asns = [8075]") + &entry("x2", "isp", "asns = [8075]"),
                "ASN 8075 is listed by entry \"x1\" and again by entry \"x2\"",
            ),
            (
                entry("priv", "isp", "asns = [65050]"),
                "entry \"priv\": ASN 65050 is private use",
            ),
            (
                entry("upper", "isp", "mx = [\"Mail.Example.com\"]"),
                "entry \"upper\": pattern \"Mail.Example.com\"",
            ),
            (
                entry("dot", "isp", "mx = [\"example.com.\"]"),
                "entry \"dot\": pattern \"example.com.\"",
            ),
            (
                entry("tld", "isp", "spf = [\"com\"]"),
                "entry \"tld\": pattern \"com\"",
            ),
            (
                entry("empty", "isp", "dkim = [\"a..b\"]"),
                "entry \"empty\": pattern \"a..b\"",
            ),
            (
                entry("odd", "isp", "banner = [\"a b.example\"]"),
                "entry \"odd\": pattern \"a b.example\"",
            ),
            (
                entry("pfx", "gateway", "mx_label_prefix = [\"esva.x\"]"),
                "entry \"pfx\": pattern \"esva.x\"",
            ),
            (
                entry("tx", "provider", "txt = [\"ms \"]"),
                "entry \"tx\": pattern \"ms \"",
            ),
            (
                entry("twice", "isp", "mx = [\"a.example\", \"a.example\"]"),
                "entry \"twice\": pattern",
            ),
            (
                entry("cc", "isp", "asns = [1]").replace("hq = \"DE\"", "hq = \"de\""),
                "entry \"cc\": hq \"de\"",
            ),
            (
                entry("cc3", "isp", "asns = [1]").replace("hq = \"DE\"", "hq = \"DEU\""),
                "entry \"cc3\": hq \"DEU\"",
            ),
            (
                entry("noroles", "isp", "asns = [1]").replace("roles = [\"isp\"]", "roles = []"),
                "entry \"noroles\": roles must not be empty",
            ),
            (
                entry("tworoles", "isp", "asns = [1]").replace("[\"isp\"]", "[\"isp\", \"isp\"]"),
                "entry \"tworoles\": role isp is listed twice",
            ),
            (
                entry("gw", "gateway", "asns = [16509]"),
                "entry \"gw\": a gateway entry must not list ASNs",
            ),
            (
                entry("gw2", "provider", "asns = [7]")
                    .replace("[\"provider\"]", "[\"provider\", \"gateway\"]"),
                "entry \"gw2\": a gateway entry must not list ASNs",
            ),
            (
                entry("glob", "isp", "scope = \"global\"\nasns = [1]"),
                "entry \"glob\": scope \"global\"",
            ),
            (
                entry("nothing", "isp", ""),
                "entry \"nothing\": has no patterns and no ASNs",
            ),
            (
                entry("noname", "isp", "asns = [1]").replace("name = \"noname\"", "name = \" \""),
                "entry \"noname\": name must not be empty",
            ),
        ];
        for (extra, expected) in cases {
            let msg = error(&extra);
            assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
        }
        // Shape errors come from TOML, with the key named.
        let msg = error(&entry("typo", "isp", "asn = [1]"));
        assert!(msg.contains("asn"), "{msg}");
        let msg = error(&entry("role", "isp", "asns = [1]").replace("\"isp\"]", "\"hoster\"]"));
        assert!(msg.contains("hoster"), "{msg}");
        assert!(matches!(
            Catalog::from_toml("[meta]\nversion = \"\"\n"),
            Err(CatalogError::MissingVersion)
        ));
    }

    #[test]
    fn empty_note_reads_as_none() {
        let c = Catalog::from_toml(&table("note = \"\"\n")).unwrap();
        assert_eq!(c.entry("base").unwrap().note, None);
    }
}
