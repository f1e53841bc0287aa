//! The verdict types: typed states (category, jurisdiction, rule, …) with the stable
//! lower-case slugs used in the data files.

use serde::{Deserialize, Serialize};

use super::flag::Flag;
use super::slug::slug_enum;

slug_enum! {
    /// Provider category shown on maps and in shares.
    Category {
        /// Microsoft, Google, Amazon.
        UsHyperscaler => "us-hyperscaler", "US hyperscaler";
        /// Commercial or public provider seated in Europe (incl. national public IT).
        EuropeanProvider => "european-provider", "European / national provider";
        /// An ISP's or hoster's network or mail service.
        LocalIsp => "local-isp", "Local ISP / hoster";
        /// Own mail server, or an uncatalogued third party.
        Independent => "independent", "Self-hosted / independent";
        /// Provider seated outside Europe other than the hyperscalers.
        OtherProvider => "other-provider", "Other non-European provider";
        /// No verdict (no domain, no MX, gateway without visible backend, scan error).
        Unknown => "unknown", "Unknown";
    }
}

slug_enum! {
    /// Legal seat of the provider relative to the municipality's country (site spec §5.2).
    Jurisdiction {
        /// US-headquartered.
        Us => "us", "United States";
        /// Same country as the municipality.
        Domestic => "domestic", "Domestic";
        /// Another EU/EEA country.
        EuEea => "eu_eea", "Other EU/EEA";
        /// European country outside the EU/EEA.
        EuropeOther => "europe_other", "Other European";
        /// Anywhere else.
        OtherForeign => "other_foreign", "Other foreign";
        /// Unknown.
        Unknown => "unknown", "Unknown";
    }
}

slug_enum! {
    /// Country of the primary MX addresses relative to the municipality's (site spec §5.3).
    MxLocation {
        /// All in the country.
        Domestic => "domestic", "Domestic";
        /// None in the country.
        Foreign => "foreign", "Foreign";
        /// Some in the country.
        Mixed => "mixed", "Mixed";
        /// No country data.
        Unknown => "unknown", "Unknown";
    }
}

slug_enum! {
    /// What operates the primary MX set (spec §1 `inbound.kind`).
    InboundKind {
        /// A mailbox provider's own MX.
        Provider => "provider", "Mail provider";
        /// A filtering gateway.
        Gateway => "gateway", "Filtering gateway";
        /// An ISP's or hoster's mail service.
        Isp => "isp", "ISP / hoster";
        /// Public IT cooperative or government mail.
        PublicShared => "public_shared", "Public shared infrastructure";
        /// Uncatalogued name, addresses in a provider's network.
        Infra => "infra", "Provider network";
        /// The municipality's own domain.
        Own => "own", "Own server";
        /// An uncatalogued third party's domain.
        ThirdParty => "third_party", "Third party";
        /// No MX.
        None => "none", "None";
    }
}

slug_enum! {
    /// The rule that decided a verdict (see `rules.toml`).
    Rule {
        /// Manual override.
        Override => "override", "Manual override";
        /// Provider MX.
        Mx => "mx", "MX host of a known provider";
        /// Provider MX via CNAME.
        MxCname => "mx_cname", "MX alias of a known provider";
        /// SMTP banner.
        MxBanner => "mx_banner", "SMTP banner";
        /// TLS certificate.
        MxCert => "mx_cert", "TLS certificate";
        /// Gateway + DKIM.
        GwDkim => "gw_dkim", "Gateway, mailbox by DKIM";
        /// Gateway + autodiscover.
        GwAutodiscover => "gw_autodiscover", "Gateway, mailbox by autodiscover";
        /// Gateway + SPF.
        GwSpf => "gw_spf", "Gateway, mailbox by SPF";
        /// Gateway + tenant token.
        GwTenant => "gw_tenant", "Gateway, mailbox by tenant token";
        /// Gateway, backend unknown.
        GwUnknown => "gw_unknown", "Gateway, mailbox unknown";
        /// Relay with backend.
        RelayBackend => "relay_backend", "Relay, mailbox behind it";
        /// Public shared MX.
        MxPublic => "mx_public", "Public shared infrastructure";
        /// ISP MX.
        MxIsp => "mx_isp", "ISP / hoster mail service";
        /// Provider network by ASN.
        AsnInfra => "asn_infra", "Provider network (ASN)";
        /// ISP/public network by ASN.
        AsnIsp => "asn_isp", "ISP / public network (ASN)";
        /// Own server.
        Own => "own", "Self-hosted";
        /// Own server, no location.
        OwnUnlocated => "own_unlocated", "Self-hosted, location unknown";
        /// Own-named MX of a web-hosting package.
        SharedHosting => "shared_hosting", "Shared web hosting";
        /// Uncatalogued third party.
        ThirdParty => "third_party", "Uncatalogued third party";
        /// NXDOMAIN.
        Nxdomain => "nxdomain", "Domain does not exist";
        /// Null MX.
        NullMx => "null_mx", "Null MX";
        /// No MX.
        NoMx => "no_mx", "No MX";
        /// Dead domain.
        DeadDomain => "dead_domain", "No valid mail server";
        /// MX lookup failed.
        DnsError => "dns_error", "DNS scan error";
        /// No usable domain in the seed.
        NoDomain => "no_domain", "No mail domain known";
    }
}

slug_enum! {
    /// The part an evidence item played.
    EvidenceRole {
        /// Decided the verdict.
        Decisive => "decisive", "decisive";
        /// Agrees with the verdict.
        Corroborating => "corroborating", "corroborating";
        /// Points elsewhere.
        Contradicting => "contradicting", "contradicting";
        /// Recorded for context.
        Informational => "informational", "informational";
    }
}

slug_enum! {
    /// Kind of signal behind an evidence item.
    Signal {
        /// MX record.
        Mx => "mx", "MX";
        /// CNAME chain of an MX host.
        MxCname => "mx_cname", "MX alias";
        /// Origin ASN/country of an MX address.
        MxAsn => "mx_asn", "MX network";
        /// SPF include/redirect or mechanism.
        Spf => "spf", "SPF";
        /// DKIM selector.
        Dkim => "dkim", "DKIM";
        /// Autodiscover CNAME/SRV.
        Autodiscover => "autodiscover", "Autodiscover";
        /// Verification TXT token.
        Txt => "txt", "TXT token";
        /// SMTP banner/EHLO.
        Banner => "banner", "SMTP banner";
        /// TLS certificate.
        Cert => "cert", "TLS certificate";
        /// Manual override.
        Override => "override", "Override";
        /// The seed list's entry (a domain that cannot be a mail domain).
        Seed => "seed", "Seed list";
    }
}

slug_enum! {
    /// Confidence band (spec §1), from the rule book's thresholds.
    Band {
        /// At or above the high threshold.
        High => "high", "high";
        /// At or above the medium threshold.
        Medium => "medium", "medium";
        /// Above zero.
        Low => "low", "low";
        /// Zero.
        None => "none", "none";
    }
}

/// One piece of evidence behind a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Signal kind.
    pub signal: Signal,
    /// Question (`name TYPE`).
    pub query: String,
    /// The raw value observed.
    pub raw: String,
    /// Catalogue entry and pattern that matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Provider it points to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Part it played.
    pub role: EvidenceRole,
    /// SPF depth, for SPF items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u8>,
}

/// The operator of the primary MX set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    /// Kind.
    pub kind: InboundKind,
    /// Catalogue id, or the registered domain for third parties / own servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// An applied manual override, shown as such.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideNote {
    /// What was overridden (`provider`, `domain`, `status`, `backend_hint`).
    pub kind: String,
    /// The value set.
    pub value: String,
    /// Why.
    pub reason: String,
    /// Source.
    pub source: String,
    /// Review date.
    pub reviewed: String,
}

/// The classification of one municipality's mail domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// Headline provider slug: a catalogue id, `self-hosted`, `third-party`, or `unknown`.
    pub provider: String,
    /// Display name of the provider.
    pub provider_name: String,
    /// Legal seat of the provider (ISO upper case), if known.
    pub provider_country: Option<String>,
    /// Category.
    pub category: Category,
    /// Jurisdiction bucket.
    pub jurisdiction: Jurisdiction,
    /// Operator of the primary MX set.
    pub inbound: Inbound,
    /// Gateway id when a primary MX is a catalogued gateway.
    pub gateway: Option<String>,
    /// Network (ISP/hoster) of a self-hosted server, by ASN.
    pub network: Option<String>,
    /// Location of the primary MX addresses.
    pub mx_location: MxLocation,
    /// 0–100.
    pub confidence: u8,
    /// Band of `confidence` (rule-book thresholds).
    pub band: Band,
    /// Deciding rule.
    pub rule: Rule,
    /// Plain-language explanation.
    pub reason: String,
    /// Evidence, decisive items first.
    pub evidence: Vec<EvidenceItem>,
    /// Flags (spec §1).
    pub flags: Vec<Flag>,
    /// Microsoft tenant (`<name>.onmicrosoft.com`) when visible.
    pub tenant: Option<String>,
    /// Applied override.
    pub override_note: Option<OverrideNote>,
    /// Registered domains of this domain's MX hosts (or their alias targets) that are
    /// uncatalogued third parties, for the run's uncatalogued-shared-MX report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub third_party_mx: Vec<String>,
}

impl Verdict {
    /// Confidence band, as set with the confidence.
    pub fn band(&self) -> &'static str {
        self.band.slug()
    }

    /// True for Microsoft, Google and Amazon.
    pub fn is_us_hyperscaler(&self) -> bool {
        self.category == Category::UsHyperscaler
    }
}
