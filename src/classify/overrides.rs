//! Reviewed manual overrides (classification spec §10.2), one TOML file in `seeds/`.
//! An override never hides evidence: domain overrides change what is scanned, provider
//! overrides change the headline (and are shown as such), status overrides explain.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::catalog::Catalog;
use crate::seeds::{Domain, Seeds};

/// What an override changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The mail domain to scan.
    Domain,
    /// The provider verdict.
    Provider,
    /// A provider acceptable behind a relay at the gateway threshold.
    BackendHint,
    /// Administrative status.
    Status,
    /// The municipality's website (read by domain discovery when its domain receives
    /// no mail).
    Website,
    /// A discovered candidate domain a maintainer rejected: never tried again.
    RejectDomain,
}

/// When a provider override applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Only when the automatic verdict is unknown (or a gateway without backend).
    #[default]
    Fill,
    /// Always; contradictions are flagged.
    Force,
}

/// Administrative status values.
pub const STATUSES: [&str; 4] = ["merged", "dissolved", "no_email", "shared_domain"];

/// One override.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Municipality id of the seed.
    pub id: toml::Spanned<String>,
    /// What it changes.
    pub kind: Kind,
    /// New value.
    pub value: String,
    /// Provider overrides only.
    #[serde(default)]
    pub mode: Mode,
    /// Why (one sentence).
    pub reason: String,
    /// URL, document or correspondence.
    pub source: String,
    /// ISO date of the last review.
    pub reviewed: String,
    /// ISO date after which the override is ignored.
    pub expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "override")]
    overrides: Vec<Override>,
}

/// Overrides by municipality id.
#[derive(Debug, Default)]
pub struct Overrides {
    by_id: HashMap<String, Vec<Override>>,
    /// Overrides past their expiry date (ignored, reported).
    pub expired: Vec<Override>,
}

impl Overrides {
    /// Loads and validates the overrides file against the seeds and the catalogue.
    /// A missing file means no overrides. `today` is an ISO date.
    pub fn load(path: &Path, seeds: &Seeds, catalog: &Catalog, today: &str) -> Result<Overrides> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Overrides::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read overrides {}", path.display()));
            }
        };
        Self::parse(&text, path, seeds, catalog, today)
    }

    /// Parses overrides text; `path` is used in messages.
    pub fn parse(
        text: &str,
        path: &Path,
        seeds: &Seeds,
        catalog: &Catalog,
        today: &str,
    ) -> Result<Overrides> {
        let file: File = toml::from_str(text)
            .with_context(|| format!("invalid overrides file {}", path.display()))?;
        let known: HashMap<&str, ()> = seeds
            .municipalities
            .iter()
            .map(|m| (m.id.as_str(), ()))
            .collect();
        let mut out = Overrides::default();
        for o in file.overrides {
            let line = text[..o.id.span().start.min(text.len())]
                .matches('\n')
                .count()
                + 1;
            let at = format!("{}:{line}", path.display());
            let id = o.id.get_ref().clone();
            // Overrides for countries outside this run are skipped, not errors.
            if !known.contains_key(id.as_str())
                && seeds
                    .municipalities
                    .iter()
                    .any(|m| same_country(&m.id, &id))
            {
                bail!("{at}: override for unknown municipality id {id:?}");
            }
            for (field, value) in [
                ("reason", &o.reason),
                ("source", &o.source),
                ("reviewed", &o.reviewed),
            ] {
                if value.trim().is_empty() {
                    bail!("{at}: override for {id:?} has an empty {field:?}");
                }
            }
            if !is_iso_date(&o.reviewed) {
                bail!(
                    "{at}: \"reviewed\" must be an ISO date (YYYY-MM-DD), found {:?}",
                    o.reviewed
                );
            }
            match o.kind {
                Kind::Domain => {
                    if !o.value.is_empty() {
                        Domain::parse(&o.value)
                            .map_err(|why| anyhow::anyhow!("{at}: override domain: {why}"))?;
                    }
                }
                Kind::Provider | Kind::BackendHint => {
                    if catalog.entry(&o.value).is_none() {
                        bail!(
                            "{at}: override for {id:?} names provider {:?}, which is not in the catalogue",
                            o.value
                        );
                    }
                }
                Kind::Website => {
                    if !is_website(&o.value) {
                        bail!(
                            "{at}: website override for {id:?} must be an http(s) URL or a host name, found {:?}",
                            o.value
                        );
                    }
                }
                Kind::RejectDomain => {
                    Domain::parse(&o.value)
                        .map_err(|why| anyhow::anyhow!("{at}: rejected domain: {why}"))?;
                }
                Kind::Status => {
                    if !STATUSES.contains(&o.value.as_str()) {
                        bail!(
                            "{at}: status must be one of {STATUSES:?}, found {:?}",
                            o.value
                        );
                    }
                }
            }
            if let Some(expires) = &o.expires {
                if !is_iso_date(expires) {
                    bail!("{at}: \"expires\" must be an ISO date, found {expires:?}");
                }
                if expires.as_str() < today {
                    out.expired.push(o);
                    continue;
                }
            }
            out.by_id.entry(id).or_default().push(o);
        }
        Ok(out)
    }

    /// The override of `kind` for a municipality.
    pub fn get(&self, id: &str, kind: Kind) -> Option<&Override> {
        self.by_id.get(id)?.iter().find(|o| o.kind == kind)
    }

    /// Every override of `kind` for a municipality (several `reject_domain` entries may
    /// name one municipality).
    pub fn all(&self, id: &str, kind: Kind) -> impl Iterator<Item = &Override> {
        self.by_id
            .get(id)
            .into_iter()
            .flatten()
            .filter(move |o| o.kind == kind)
    }

    /// Every municipality id with active overrides.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Number of active overrides.
    pub fn len(&self) -> usize {
        self.by_id.values().map(Vec::len).sum()
    }

    /// True without active overrides.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// An `http(s)://host[/…]` URL or a bare host name.
fn is_website(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .unwrap_or(value);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    !value.contains(char::is_whitespace) && Domain::parse(host).is_ok()
}

fn same_country(a: &str, b: &str) -> bool {
    a.split('-').next() == b.split('-').next()
}

fn is_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_override_status_has_a_flag() {
        for s in STATUSES {
            assert!(crate::classify::flag::Flag::status(s).is_some(), "{s}");
        }
        assert_eq!(crate::classify::flag::Flag::status("bogus"), None);
    }

    fn seeds() -> Seeds {
        let text = r#"[{"id": "EE-1", "name": "A"}, {"id": "EE-2", "name": "B"}]"#;
        crate::seeds::parse_file(
            text,
            Path::new("ee.json"),
            crate::countries::by_code("ee").unwrap(),
        )
        .unwrap()
    }

    fn parse(body: &str) -> Result<Overrides> {
        Overrides::parse(
            body,
            Path::new("o.toml"),
            &seeds(),
            Catalog::embedded(),
            "2026-01-01",
        )
    }

    const TAIL: &str = "reason = \"r\"\nsource = \"s\"\nreviewed = \"2026-01-01\"\n";

    #[test]
    fn websites_and_rejected_domains() {
        let text = format!(
            "[[override]]\nid = \"EE-1\"\nkind = \"website\"\nvalue = \"https://www.a.ee/kontakt\"\n{TAIL}\
             [[override]]\nid = \"EE-1\"\nkind = \"reject_domain\"\nvalue = \"a.ee\"\n{TAIL}\
             [[override]]\nid = \"EE-1\"\nkind = \"reject_domain\"\nvalue = \"avald.ee\"\n{TAIL}"
        );
        let o = parse(&text).unwrap();
        assert_eq!(
            o.get("EE-1", Kind::Website).unwrap().value,
            "https://www.a.ee/kontakt"
        );
        let rejected: Vec<&str> = o
            .all("EE-1", Kind::RejectDomain)
            .map(|o| o.value.as_str())
            .collect();
        assert_eq!(rejected, ["a.ee", "avald.ee"]);
        assert_eq!(o.ids().collect::<Vec<_>>(), ["EE-1"]);
    }

    #[test]
    fn bad_websites_and_rejections_name_file_and_line() {
        let text = format!(
            "[[override]]\nid = \"EE-2\"\nkind = \"website\"\nvalue = \"not a url\"\n{TAIL}"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("o.toml:2") && err.contains("website"), "{err}");
        let text = format!(
            "[[override]]\nid = \"EE-2\"\nkind = \"reject_domain\"\nvalue = \"x..ee\"\n{TAIL}"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("rejected domain"), "{err}");
    }
}
