//! Seed domains that cannot be a municipality's mail domain — a top-level domain that
//! does not exist (a letter missing: `bernuyzapardiel.e`), a generic TLD cut short
//! (`barasoain.ne`), a free URL-redirection alias (`escorihuela.ar.vg`). They become
//! `invalid-domain` with the seed problem as evidence instead of a failed scan (issue
//! 16). The lists live in `seed_domains.toml`.

use std::sync::OnceLock;

use serde::Deserialize;

use super::model::{EvidenceItem, EvidenceRole, Signal};
use crate::name::DnsName;
use crate::seeds::Municipality;

/// The reviewed lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRules {
    meta: Meta,
    /// Domains of URL-redirection services.
    pub redirect_services: Vec<String>,
    /// Generic TLDs.
    pub generic_tlds: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    version: String,
}

impl SeedRules {
    /// Parses the lists.
    pub fn from_toml(text: &str) -> Result<SeedRules, String> {
        let rules: SeedRules =
            toml::from_str(text).map_err(|e| format!("seed_domains.toml: {e}"))?;
        if rules.meta.version.trim().is_empty() {
            return Err("seed_domains.toml: [meta] version is empty".into());
        }
        for d in &rules.redirect_services {
            DnsName::parse(d).map_err(|e| format!("seed_domains.toml: {d:?}: {e}"))?;
        }
        Ok(rules)
    }

    /// The lists compiled into the binary (checked by a unit test).
    pub fn embedded() -> &'static SeedRules {
        static RULES: OnceLock<SeedRules> = OnceLock::new();
        RULES.get_or_init(|| {
            SeedRules::from_toml(include_str!("seed_domains.toml"))
                .expect("embedded seed_domains.toml is valid (checked by a unit test)")
        })
    }

    /// Why `domain` (of a municipality of `country`, lower-case ISO code) cannot be a
    /// mail domain, or `None`.
    pub fn problem(&self, domain: &DnsName, country: &str) -> Option<String> {
        let text = domain.to_string();
        let tld = text.rsplit('.').next().unwrap_or_default();
        if !crate::name::org::is_top_level_domain(tld) {
            return Some(format!(
                "{text:?}: the top-level domain .{tld} does not exist (a letter missing?)"
            ));
        }
        if let Some(service) = self
            .redirect_services
            .iter()
            .find(|s| DnsName::parse(s).is_ok_and(|s| domain.is_subdomain_of(&s)))
        {
            return Some(format!(
                "{text:?} is under {service}, a URL-redirection service, not a mail domain"
            ));
        }
        let generic = self.generic_tlds.iter().any(|g| g == tld);
        let truncated = (tld.len() == 2 && tld != country && !generic)
            .then(|| {
                self.generic_tlds
                    .iter()
                    .find(|g| g.len() > tld.len() && g.starts_with(tld))
            })
            .flatten();
        if let Some(generic) = truncated {
            return Some(format!(
                "{text:?}: .{tld} is another country's domain; probably .{generic} cut short"
            ));
        }
        None
    }
}

/// Marks malformed seed domains: no domain to scan, the problem kept (status
/// `invalid-domain`). Returns the ids and problems, for the log.
pub fn apply(municipalities: &mut [Municipality], rules: &SeedRules) -> Vec<(String, String)> {
    let mut marked = Vec::new();
    for m in municipalities.iter_mut() {
        let Some(domain) = &m.domain else { continue };
        if let Some(problem) = rules.problem(&domain.ascii, m.country.code) {
            marked.push((m.id.clone(), problem.clone()));
            m.domain = None;
            m.domain_problem = Some(problem);
        }
    }
    marked
}

/// The evidence of a seed problem.
pub fn evidence(municipality: &Municipality, problem: &str) -> EvidenceItem {
    EvidenceItem {
        signal: Signal::Seed,
        query: format!("seed {} domain", municipality.id),
        raw: problem.to_string(),
        matched: None,
        provider: None,
        role: EvidenceRole::Decisive,
        depth: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(domain: &str, cc: &str) -> Option<String> {
        SeedRules::embedded().problem(&DnsName::parse(domain).unwrap(), cc)
    }

    #[test]
    fn malformed_seed_domains_are_named() {
        assert!(
            problem("bernuyzapardiel.e", "es")
                .unwrap()
                .contains(".e does not exist")
        );
        assert!(
            problem("escorihuela.ar.vg", "es")
                .unwrap()
                .contains("ar.vg")
        );
        assert!(
            problem("valdunquillo.es.vg", "es")
                .unwrap()
                .contains("es.vg")
        );
        assert!(problem("come.to", "es").is_some());
        assert!(problem("barasoain.ne", "es").unwrap().contains(".net"));
        assert!(problem("x.ca", "es").unwrap().contains(".cat"));
    }

    #[test]
    fn real_domains_pass() {
        for (d, cc) in [
            ("gemeinde.de", "de"),
            ("kommune.no", "no"),
            ("wroclaw.pl", "pl"),
            ("ha.no", "no"),
            ("brando.ax", "fi"),
            ("saint-andre.re", "fr"),
            ("anger.st", "at"),
            ("oldenswort.sh", "de"),
            ("comune.roma.it", "it"),
            ("gmina.gov.pl", "pl"),
            ("ajuntament.cat", "es"),
            ("concello.gal", "es"),
            ("xn--jgeva-test-q8a.ee", "ee"),
            ("stadt.berlin", "de"),
            ("example.co.uk", "gb"),
            ("example.ne", "ne"),
            ("zillingtal.eu", "at"),
            ("praha.eu", "cz"),
            ("courcelles.eu", "be"),
        ] {
            assert_eq!(problem(d, cc), None, "{d}");
        }
    }
}
