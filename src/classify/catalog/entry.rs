//! The catalogue's record types: an operator entry with its roles and signatures, and
//! a match of one signature.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::CatalogError;
use super::role::Role;
use crate::classify::model::Category;
use crate::name::DnsName;

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
    /// Headline category when it is not the one the role and seat give (the US
    /// hyperscalers are `us-hyperscaler`).
    #[serde(default)]
    pub category: Option<Category>,
    /// A global mail platform whose network alone may name the operator of an MX host
    /// that carries the municipality's own name (spec §7.1 C.7): its addresses there are
    /// the platform's mail service or a server on its cloud, both under its jurisdiction.
    #[serde(default)]
    pub network_decides: bool,
    /// The operator sells web hosting: an MX host with the municipality's own name whose
    /// addresses all lie in this network is a hosting package, not an own server.
    #[serde(default)]
    pub hosting: bool,
    /// Every MX host name the entry's `mx` patterns match names a customer's own machine
    /// (dynamic DNS, dial-up address pools): an MX there is the municipality's own
    /// server, and the entry only names the namespace.
    #[serde(default)]
    pub customer_hosts: bool,
    /// Names of customer machines (VPS, dedicated servers) in the operator's namespace:
    /// `<first-label glob>.<suffix>`, `*` standing for any run of characters in the first
    /// label, the rest a plain suffix (spec §8.6). A banner naming one shows who runs the
    /// machine, not who runs the mail.
    #[serde(default)]
    pub vps_hosts: Vec<String>,
    /// Exact host names that `vps_hosts` would match but that are the operator's own
    /// mail service.
    #[serde(default)]
    pub vps_exceptions: Vec<String>,
    /// DKIM selectors the provider's customers publish (probed by the scan).
    #[serde(default)]
    pub dkim_selectors: Vec<String>,
    /// Selectors at which the provider publishes its DKIM key as TXT rather than as a
    /// CNAME (Google, spec §3.6): the scan asks for TXT there, and a key found is this
    /// provider's DKIM evidence.
    #[serde(default)]
    pub dkim_txt_selectors: Vec<String>,
    /// DKIM target suffixes whose label just left of the suffix names the customer's
    /// tenant (`<tenant>.onmicrosoft.com`).
    #[serde(default)]
    pub tenant_dkim: Vec<String>,
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

/// A web-hosting control panel whose mail-client autodiscover service answers for its
/// customers' domains (cPanel's `cpanelemaildiscovery.cpanel.net`): seeing it behind an
/// MX with the municipality's own name marks a shared hosting package (issue 16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// Stable slug `[a-z0-9-]`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Autodiscover CNAME/SRV target suffixes.
    pub autodiscover: Vec<String>,
    /// First labels of the service names the panel creates in each customer's own domain
    /// (cPanel's proxy `cpanel.<domain>`): an autodiscover alias to such a name is the
    /// panel's too.
    #[serde(default)]
    pub service_labels: Vec<String>,
    /// Where the facts come from.
    pub source: String,
    /// Decisions and caveats.
    #[serde(default)]
    pub note: Option<String>,
}

impl Panel {
    /// True when `target` equals or lies under one of the panel's suffixes, or is one of
    /// its service names under `domain` (the customer's domain).
    pub fn matches(&self, target: &DnsName, domain: &DnsName) -> bool {
        let service = target.is_subdomain_of(domain)
            && target.len() == domain.len() + 1
            && target
                .to_string()
                .split('.')
                .next()
                .is_some_and(|label| self.service_labels.iter().any(|l| l == label));
        service
            || self
                .autodiscover
                .iter()
                .filter_map(|p| DnsName::parse(p).ok())
                .any(|p| target.is_subdomain_of(&p))
    }

    /// Load-time checks: a slug id, a name, a source and canonical suffixes.
    pub(super) fn validate(&self) -> Result<(), CatalogError> {
        let bad = |pattern: &str, why: &str| CatalogError::BadPattern {
            id: self.id.clone(),
            pattern: pattern.to_string(),
            why: why.to_string(),
        };
        let slug = !self.id.is_empty()
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug {
            return Err(CatalogError::BadId(self.id.clone()));
        }
        if self.name.trim().is_empty() || self.source.trim().is_empty() {
            return Err(CatalogError::MissingText {
                id: self.id.clone(),
                field: "name/source",
            });
        }
        if self.autodiscover.is_empty() {
            return Err(CatalogError::NoSignals(self.id.clone()));
        }
        for l in &self.service_labels {
            let label = !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !label {
                return Err(bad(l, "not a lower-case host-name label"));
            }
        }
        for p in &self.autodiscover {
            match DnsName::parse(p) {
                Ok(n) if n.is_plain() && n.len() >= 2 && n.to_string() == *p => {}
                _ => {
                    return Err(bad(
                        p,
                        "not a canonical host-name suffix of two or more labels",
                    ));
                }
            }
        }
        Ok(())
    }
}
