//! Whether a candidate domain counts (classification spec §9.3, §9.6): it must receive
//! mail and not be a consumer, technical, shared, parked or other body's domain, nor
//! another municipality's seed domain; and how survivors are ranked.

use std::cmp::Reverse;

use serde::Serialize;

use super::conventions::{Conventions, CountryConventions, ends_with_label, registered_domain};
use crate::evidence::{Answer, Observation, Outcome};
use crate::name::DnsName;

/// What an MX answer says about mail delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailState {
    /// At least one MX host with a usable name.
    Receives(Vec<DnsName>),
    /// The name does not exist.
    Nxdomain,
    /// No MX record.
    NoMx,
    /// Null MX (RFC 7505): accepts no mail.
    NullMx,
    /// Only MX hosts that cannot be mail servers (`localhost`, IP literals, `.invalid`).
    InvalidMx,
    /// The lookup failed (timeout, SERVFAIL, refused): nothing is known.
    Failed(String),
}

impl MailState {
    /// Reads one MX observation. Hosts that cannot be mail servers are left out, the
    /// same names the classifier calls `invalid_mx` (spec §3.3).
    pub fn of(mx: &Observation) -> MailState {
        match &mx.outcome {
            Outcome::NxDomain => return MailState::Nxdomain,
            o if o.is_failure() => return MailState::Failed(o.label().to_string()),
            _ => {}
        }
        let exchanges: Vec<Option<&DnsName>> = mx
            .answers
            .iter()
            .filter_map(|a| match a {
                Answer::Mx { exchange, .. } => Some(exchange.as_ref()),
                _ => None,
            })
            .collect();
        if exchanges.is_empty() {
            return MailState::NoMx;
        }
        if exchanges.iter().all(Option::is_none) {
            return MailState::NullMx;
        }
        let usable: Vec<DnsName> = exchanges
            .into_iter()
            .flatten()
            .filter(|h| !is_invalid_exchange(h))
            .cloned()
            .collect();
        if usable.is_empty() {
            MailState::InvalidMx
        } else {
            MailState::Receives(usable)
        }
    }

    /// True when the domain receives mail.
    pub fn receives(&self) -> bool {
        matches!(self, MailState::Receives(_))
    }

    /// True when the answer is definite (a failed lookup proves nothing, so it never
    /// starts a discovery that could replace the seed).
    pub fn is_definite(&self) -> bool {
        !matches!(self, MailState::Failed(_))
    }

    /// Short label for evidence.
    pub fn label(&self) -> String {
        match self {
            MailState::Receives(hosts) => format!(
                "MX {}",
                hosts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            MailState::Nxdomain => "does not exist (NXDOMAIN)".into(),
            MailState::NoMx => "has no MX record".into(),
            MailState::NullMx => "has a null MX (accepts no mail)".into(),
            MailState::InvalidMx => "has only invalid MX hosts".into(),
            MailState::Failed(why) => format!("could not be looked up ({why})"),
        }
    }
}

/// `localhost`, `*.invalid`, `*.localhost` and IP literals written as host names.
fn is_invalid_exchange(host: &DnsName) -> bool {
    let text = host.to_string();
    let last = text.rsplit('.').next().unwrap_or_default();
    text == "localhost"
        || last == "localhost"
        || last == "invalid"
        || text.parse::<std::net::Ipv4Addr>().is_ok()
        || text
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a candidate was turned down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// A consumer mailbox service.
    Consumer,
    /// A tracking, framework, hosting or example service.
    Technical,
    /// The apex of a shared municipal platform.
    Shared,
    /// Another body's domain (fire brigade, school, hotel …).
    NonMunicipal {
        /// The fragment that matched.
        word: String,
    },
    /// Its MX hosts only park domains.
    Parked {
        /// The parking MX host.
        host: String,
    },
    /// Another municipality's seed domain.
    OtherMunicipality {
        /// That municipality's id.
        id: String,
    },
    /// Rejected by a maintainer (`reject_domain` override).
    Reviewed,
    /// A better claim by another municipality (its whole name, this one's truncation).
    ClaimedBy {
        /// That municipality's id.
        id: String,
    },
    /// Equally claimed by several municipalities (namesakes).
    Ambiguous {
        /// The other claimants.
        ids: Vec<String>,
    },
    /// No MX host has an address.
    MxUnresolvable,
    /// Not related to the municipality's name or website.
    Unrelated,
    /// A parked or for-sale page was served at the website.
    ParkedPage,
}

impl Rejection {
    /// One line for pages and the review file.
    pub fn describe(&self) -> String {
        match self {
            Rejection::Consumer => "a consumer mailbox service".into(),
            Rejection::Technical => "a tracking, hosting or example service".into(),
            Rejection::Shared => "the apex of a shared municipal platform".into(),
            Rejection::NonMunicipal { word } => format!("another body's domain ({word:?})"),
            Rejection::Parked { host } => format!("parked (MX {host})"),
            Rejection::OtherMunicipality { id } => format!("the seed domain of {id}"),
            Rejection::Reviewed => "rejected in seeds/overrides.toml".into(),
            Rejection::ClaimedBy { id } => format!("a better match for {id}"),
            Rejection::Ambiguous { ids } => format!("also matches {}", ids.join(", ")),
            Rejection::MxUnresolvable => "no MX host has an address".into(),
            Rejection::Unrelated => "not related to the name or the website".into(),
            Rejection::ParkedPage => "its website is a parked page".into(),
        }
    }
}

/// Rejections that need no DNS: the lists of the table (checked before any lookup, so a
/// listed domain costs no query). The non-municipal words only apply to domains that
/// were not made from the municipality's own name (`from_name`): "Sanchotello" is no
/// hotel.
pub fn listed_rejection(domain: &str, table: &Conventions, from_name: bool) -> Option<Rejection> {
    let registered = registered_domain(domain).unwrap_or(domain);
    let lists = &table.lists;
    let in_list = |list: &[String]| list.iter().any(|l| registered == l || domain == l);
    if in_list(&lists.consumer)
        || lists
            .consumer
            .iter()
            .any(|c| consumer_family(registered, c))
    {
        return Some(Rejection::Consumer);
    }
    if in_list(&lists.technical) || ends_with_any(domain, &lists.technical) {
        return Some(Rejection::Technical);
    }
    if lists.shared.iter().any(|s| s == domain) {
        return Some(Rejection::Shared);
    }
    if from_name {
        return None;
    }
    let label = domain.split('.').next().unwrap_or_default();
    // A word counts at the start of the label or of one of its hyphenated parts; a
    // word written with its hyphen (`sv-`) only as a whole part.
    let starts = |w: &str| match w.strip_suffix('-') {
        Some(bare) => label.starts_with(w) || label.split('-').any(|part| part == bare),
        None => label.starts_with(w) || label.split('-').any(|part| part.starts_with(w)),
    };
    if let Some(word) = lists.non_municipal.iter().find(|w| starts(w)) {
        return Some(Rejection::NonMunicipal { word: word.clone() });
    }
    None
}

/// `gmx.*`, `hotmail.*`, `yahoo.*`: a consumer brand under another TLD.
fn consumer_family(registered: &str, listed: &str) -> bool {
    let brand = |d: &str| d.split('.').next().unwrap_or_default().to_string();
    matches!(
        brand(listed).as_str(),
        "gmx" | "hotmail" | "yahoo" | "outlook" | "protonmail"
    ) && brand(registered) == brand(listed)
}

fn ends_with_any(domain: &str, list: &[String]) -> bool {
    list.iter().any(|l| ends_with_label(domain, l))
}

/// A parking service among the MX hosts.
pub fn parked_rejection(hosts: &[DnsName], table: &Conventions) -> Option<Rejection> {
    hosts.iter().find_map(|h| {
        let text = h.to_string();
        table
            .lists
            .parked_mx
            .iter()
            .any(|p| ends_with_label(&text, p))
            .then_some(Rejection::Parked { host: text })
    })
}

/// How well a candidate's name matches the municipality (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameMatch {
    /// The registered label is the whole name's slug.
    Exact,
    /// The whole name with a prefix or under a platform (`ayto…`, `….altanet.org`).
    Prefixed,
    /// A truncation of the name, or not derived from it (website sources).
    Partial,
}

/// The rank key of a survivor: governmental suffix first, then the better name match,
/// national suffix before generic TLDs, fewer labels, shorter, alphabetical.
pub fn rank_key(
    domain: &str,
    name_match: NameMatch,
    country: Option<&CountryConventions>,
) -> impl Ord + use<> {
    let governmental = country.is_some_and(|c| c.is_governmental(domain));
    let national = country.is_some_and(|c| c.is_national(domain));
    (
        Reverse(governmental),
        name_match,
        Reverse(national),
        domain.split('.').count(),
        domain.len(),
        domain.to_string(),
    )
}

/// How the candidate's first label relates to the slug it was made from.
pub fn name_match(domain: &str, slug_joined: &str, whole_name: bool) -> NameMatch {
    if !whole_name {
        return NameMatch::Partial;
    }
    let registered = registered_domain(domain).unwrap_or(domain);
    let label = registered
        .split('.')
        .next()
        .unwrap_or_default()
        .replace('-', "");
    if label == slug_joined && registered == domain {
        NameMatch::Exact
    } else {
        NameMatch::Prefixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RType;

    fn mx(outcome: Outcome, hosts: &[Option<&str>]) -> Observation {
        Observation {
            name: DnsName::parse("x.es").unwrap(),
            rtype: RType::Mx,
            outcome,
            answers: hosts
                .iter()
                .enumerate()
                .map(|(i, h)| Answer::Mx {
                    preference: 10 * i as u16,
                    exchange: h.map(|h| DnsName::parse(h).unwrap()),
                })
                .collect(),
            at: 0,
            authenticated: false,
        }
    }

    #[test]
    fn mail_states() {
        assert!(MailState::of(&mx(Outcome::Answer, &[Some("mx.x.es")])).receives());
        assert_eq!(
            MailState::of(&mx(Outcome::NxDomain, &[])),
            MailState::Nxdomain
        );
        assert_eq!(MailState::of(&mx(Outcome::Answer, &[])), MailState::NoMx);
        assert_eq!(
            MailState::of(&mx(Outcome::Answer, &[None])),
            MailState::NullMx
        );
        assert_eq!(
            MailState::of(&mx(
                Outcome::Answer,
                &[Some("localhost"), Some("127.0.0.1")]
            )),
            MailState::InvalidMx
        );
        let failed = MailState::of(&mx(Outcome::Timeout, &[]));
        assert!(!failed.is_definite() && !failed.receives());
    }

    #[test]
    fn listed_domains_are_rejected_before_any_lookup() {
        let t = Conventions::embedded();
        let scraped = |d: &str| listed_rejection(d, t, false);
        assert_eq!(scraped("gmail.com"), Some(Rejection::Consumer));
        assert_eq!(scraped("gmx.ch"), Some(Rejection::Consumer));
        assert_eq!(scraped("hotmail.de"), Some(Rejection::Consumer));
        assert_eq!(scraped("x.blogspot.com"), Some(Rejection::Technical));
        // A shared platform's apex is nobody's; a municipality's subdomain there is.
        assert_eq!(scraped("altanet.org"), Some(Rejection::Shared));
        assert_eq!(scraped("savalla.altanet.org"), None);
        assert_eq!(
            listed_rejection("kormanyhivatal.hu", t, true),
            Some(Rejection::Shared)
        );
        // Other bodies' domains on a website; a name that merely contains the word is fine.
        assert!(matches!(
            scraped("ff-abtenau.at"),
            Some(Rejection::NonMunicipal { .. })
        ));
        assert!(matches!(
            scraped("hotel-post-abtenau.at"),
            Some(Rejection::NonMunicipal { .. })
        ));
        assert!(matches!(
            scraped("feuerwehr-x.de"),
            Some(Rejection::NonMunicipal { .. })
        ));
        assert_eq!(scraped("abtenau.at"), None);
        assert_eq!(scraped("sanchotello.es"), None);
        assert_eq!(listed_rejection("sv-sanchotello.es", t, true), None);
        assert_eq!(scraped("sveti-nikola.hr"), None);
    }

    #[test]
    fn parking_mx_hosts_are_rejected() {
        let t = Conventions::embedded();
        let parked = [DnsName::parse("mx76.sedoparking.com").unwrap()];
        assert!(matches!(
            parked_rejection(&parked, t),
            Some(Rejection::Parked { .. })
        ));
        // Aftermarket.pl's sink for the domains it parks (guessed Polish powiat names).
        let sink = [DnsName::parse("blackhole.aftermarket.pl").unwrap()];
        assert!(matches!(
            parked_rejection(&sink, t),
            Some(Rejection::Parked { .. })
        ));
        let fine = [DnsName::parse("mx.arnoia.es").unwrap()];
        assert_eq!(parked_rejection(&fine, t), None);
    }

    #[test]
    fn ranking_prefers_government_then_name_then_national_then_short() {
        let at = Conventions::embedded().country("at");
        let mut list = [
            ("ampass.at", NameMatch::Exact),
            ("ampass.gv.at", NameMatch::Exact),
            ("gemeinde-ampass.at", NameMatch::Prefixed),
            ("ampass.com", NameMatch::Exact),
        ];
        list.sort_by_key(|(d, m)| rank_key(d, *m, at));
        let order: Vec<&str> = list.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            order,
            [
                "ampass.gv.at",
                "ampass.at",
                "ampass.com",
                "gemeinde-ampass.at"
            ]
        );
        let es = Conventions::embedded().country("es");
        let mut list = [
            ("villanueva.es", NameMatch::Partial),
            ("villanuevadelasierra.com", NameMatch::Exact),
            ("villanuevadelasierra.es", NameMatch::Exact),
        ];
        list.sort_by_key(|(d, m)| rank_key(d, *m, es));
        assert_eq!(list[0].0, "villanuevadelasierra.es");
        assert_eq!(list[2].0, "villanueva.es");
    }

    #[test]
    fn name_matches() {
        assert_eq!(name_match("arnoia.es", "arnoia", true), NameMatch::Exact);
        assert_eq!(
            name_match("aytoabajas.es", "abajas", true),
            NameMatch::Prefixed
        );
        assert_eq!(
            name_match("savalla.altanet.org", "savalla", true),
            NameMatch::Prefixed
        );
        assert_eq!(
            name_match("villanueva.es", "villanueva", false),
            NameMatch::Partial
        );
    }
}
