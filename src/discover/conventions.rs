//! The convention table (`conventions.toml`, embedded): per country, how municipality
//! names are normalised and which domain shapes municipalities use, plus the lists that
//! reject candidates (consumer, technical, shared, parked, non-municipal) and the
//! discovery limits. Data, not code: the table is reviewed like the signatures.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::countries;

/// The embedded table's text.
pub const TABLE_TOML: &str = include_str!("conventions.toml");

/// Bounds and confidence caps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Candidate names tried per municipality at most (each is one MX question).
    pub max_candidates: usize,
    /// Confidence cap of a verdict on a guessed domain (spec §8.7).
    pub guess_confidence_cap: u8,
    /// Confidence cap of a verdict on a domain found by one non-guess source.
    pub single_source_confidence_cap: u8,
    /// Shortest slug tried.
    pub min_slug_len: usize,
    /// Shortest slug of a truncated name variant.
    pub min_truncated_len: usize,
}

/// Weights of the kinds of name variants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantWeights {
    /// The whole normalised name.
    pub full: f32,
    /// Without its leading article.
    pub without_article: f32,
    /// One part of a bilingual name.
    pub bilingual_part: f32,
    /// A saint's word spelled differently.
    pub saint_spelling: f32,
    /// The part before the first preposition.
    pub truncated: f32,
    /// Without the particles between its words.
    pub without_particles: f32,
    /// With its qualifier.
    pub qualified: f32,
    /// A word ending rewritten to its stem.
    pub stem: f32,
}

/// Administrative words stripped everywhere.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Prefixes.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Suffixes.
    #[serde(default)]
    pub suffixes: Vec<String>,
}

/// Lists that reject candidates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lists {
    /// Consumer mailbox services (registered domains).
    pub consumer: Vec<String>,
    /// Tracking, framework, hosting and example services (registered domains).
    pub technical: Vec<String>,
    /// Shared municipal platforms (their apex is nobody's own domain).
    pub shared: Vec<String>,
    /// Registered domains of parking MX hosts.
    pub parked_mx: Vec<String>,
    /// Label fragments of other bodies' domains.
    pub non_municipal: Vec<String>,
    /// Words too generic to be a slug on their own.
    pub generic_words: Vec<String>,
}

/// Website scraping vocabulary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebTable {
    /// Paths tried in every country.
    pub paths: Vec<String>,
    /// Words that make a same-site link worth following.
    pub link_words: Vec<String>,
    /// Phrases of parked or for-sale pages (lower case).
    pub parked_phrases: Vec<String>,
}

/// One domain shape and its weight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Pattern with `{j}` (joined slug) or `{s}` (hyphenated slug).
    pub shape: String,
    /// Known seed domains it explains (prior).
    pub weight: u32,
}

/// Shapes that apply only in some regions of a country.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regional {
    /// Case-insensitive substrings of the seed's region.
    pub regions: Vec<String>,
    /// Shapes added for those regions.
    pub shapes: Vec<Shape>,
}

/// One transliteration scheme: its own letters first, then a fold of any script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letters {
    /// Name (for messages).
    pub name: String,
    /// Weight of the variants it spells.
    pub weight: f32,
    /// Letter → replacement, applied before the generic fold.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// One country's conventions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryConventions {
    /// ISO code, lower case.
    pub code: String,
    /// Administrative prefixes (local languages).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Administrative suffixes.
    #[serde(default)]
    pub suffixes: Vec<String>,
    /// Leading articles.
    #[serde(default)]
    pub articles: Vec<String>,
    /// Prepositions: the part of a name before the first is a truncated variant.
    #[serde(default)]
    pub prepositions: Vec<String>,
    /// Separators of bilingual names.
    #[serde(default)]
    pub split: Vec<String>,
    /// Saint's words and their spellings.
    #[serde(default)]
    pub saints: BTreeMap<String, Vec<String>>,
    /// Slug endings and their stems (adjective → town name).
    #[serde(default)]
    pub endings: BTreeMap<String, Vec<String>>,
    /// Transliteration schemes (default: one generic fold).
    #[serde(default)]
    pub letters: Vec<Letters>,
    /// Governmental second-level suffixes.
    #[serde(default)]
    pub government: Vec<String>,
    /// National and regional suffixes.
    #[serde(default)]
    pub national: Vec<String>,
    /// Extra contact paths on websites.
    #[serde(default)]
    pub contact_paths: Vec<String>,
    /// Domain shapes, country-wide.
    pub shapes: Vec<Shape>,
    /// Domain shapes of some regions.
    #[serde(default)]
    pub regional: Vec<Regional>,
}

impl CountryConventions {
    /// The transliteration schemes, with the generic fold when none is listed.
    pub fn letter_schemes(&self) -> Vec<Letters> {
        if self.letters.is_empty() {
            vec![Letters {
                name: "strip".into(),
                weight: 1.0,
                map: BTreeMap::new(),
            }]
        } else {
            self.letters.clone()
        }
    }

    /// Country-wide shapes plus those of every regional block matching `region`.
    pub fn shapes_for(&self, region: Option<&str>) -> Vec<&Shape> {
        let mut shapes: Vec<&Shape> = self.shapes.iter().collect();
        if let Some(region) = region {
            let region = region.to_lowercase();
            for block in &self.regional {
                if block
                    .regions
                    .iter()
                    .any(|r| region.contains(&r.to_lowercase()))
                {
                    shapes.extend(&block.shapes);
                }
            }
        }
        shapes
    }

    /// True when `domain` ends in one of the governmental suffixes.
    pub fn is_governmental(&self, domain: &str) -> bool {
        self.government.iter().any(|s| ends_with_label(domain, s))
    }

    /// True when `domain` ends in a national or regional suffix.
    pub fn is_national(&self, domain: &str) -> bool {
        ends_with_label(domain, &self.code)
            || self.national.iter().any(|s| ends_with_label(domain, s))
    }
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conventions {
    /// Version (date of the last review).
    pub version: String,
    /// Bounds and caps.
    pub limits: Limits,
    /// Variant weights.
    pub variant_weights: VariantWeights,
    /// Administrative words stripped everywhere.
    pub defaults: Defaults,
    /// Rejection lists.
    pub lists: Lists,
    /// Website scraping vocabulary.
    pub web: WebTable,
    /// Per country.
    #[serde(rename = "country")]
    pub countries: Vec<CountryConventions>,
}

/// A problem in the table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Not valid TOML or not the expected fields.
    #[error("conventions table: {0}")]
    Parse(#[from] toml::de::Error),
    /// A rule that cannot work.
    #[error("conventions table, country {country:?}: {message}")]
    Invalid {
        /// Country code.
        country: String,
        /// What is wrong.
        message: String,
    },
}

impl Conventions {
    /// Parses and checks a table.
    pub fn parse(text: &str) -> Result<Conventions, TableError> {
        let table: Conventions = toml::from_str(text)?;
        table.check()?;
        Ok(table)
    }

    /// The embedded table (parsed once; a broken table is a build defect caught by the
    /// unit tests, so it panics with the parser's message).
    pub fn embedded() -> &'static Conventions {
        static TABLE: OnceLock<Conventions> = OnceLock::new();
        TABLE.get_or_init(|| match Conventions::parse(TABLE_TOML) {
            Ok(t) => t,
            Err(e) => panic!("embedded conventions.toml: {e}"),
        })
    }

    /// The conventions of a country (`None` for a country without a block).
    pub fn country(&self, code: &str) -> Option<&CountryConventions> {
        self.countries
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(code))
    }

    fn check(&self) -> Result<(), TableError> {
        let invalid = |country: &str, message: String| TableError::Invalid {
            country: country.to_string(),
            message,
        };
        if self.limits.max_candidates == 0 || self.limits.max_candidates > 64 {
            return Err(invalid("*", "limits.max_candidates must be 1–64".into()));
        }
        let mut seen = Vec::new();
        for c in &self.countries {
            if countries::by_code(&c.code).is_none() {
                return Err(invalid(&c.code, "not a covered country".into()));
            }
            if seen.contains(&c.code.as_str()) {
                return Err(invalid(&c.code, "listed twice".into()));
            }
            seen.push(c.code.as_str());
            let shapes = c
                .shapes
                .iter()
                .chain(c.regional.iter().flat_map(|r| &r.shapes));
            for s in shapes {
                check_shape(&s.shape).map_err(|m| invalid(&c.code, m))?;
            }
            for l in &c.letters {
                if !(l.weight > 0.0 && l.weight <= 1.0) {
                    return Err(invalid(
                        &c.code,
                        format!("letters {:?}: weight must be in (0, 1]", l.name),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A shape must name its slug exactly once and otherwise be lower-case DNS text.
fn check_shape(shape: &str) -> Result<(), String> {
    let slots = shape.matches("{j}").count() + shape.matches("{s}").count();
    if slots != 1 {
        return Err(format!(
            "shape {shape:?} must contain exactly one {{j}} or {{s}}"
        ));
    }
    let rest = shape.replace("{j}", "x").replace("{s}", "x");
    let ok = rest.contains('.')
        && rest.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "shape {shape:?} is not a lower-case domain pattern"
        ))
    }
}

/// True when `domain` is `suffix` or ends in `.suffix` (label-aligned).
pub fn ends_with_label(domain: &str, suffix: &str) -> bool {
    domain == suffix
        || domain
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.'))
}

/// The registered domain of a lower-case ASCII domain (Public Suffix List, ICANN
/// section), or `None` when it is itself a public suffix.
pub fn registered_domain(domain: &str) -> Option<&str> {
    let d = psl::domain(domain.as_bytes())?;
    if d.suffix().typ() != Some(psl::Type::Icann) {
        // A private-section suffix (blogspot.com …): fall back to the ICANN part.
        return icann_registered(domain);
    }
    std::str::from_utf8(d.as_bytes()).ok()
}

fn icann_registered(domain: &str) -> Option<&str> {
    let labels: Vec<&str> = domain.split('.').collect();
    for k in (1..labels.len()).rev() {
        let candidate = labels[labels.len() - k..].join(".");
        if let Some(s) = psl::suffix(candidate.as_bytes())
            && s.typ() == Some(psl::Type::Icann)
            && s.as_bytes() == candidate.as_bytes()
        {
            let start = labels.len() - k - 1;
            let offset: usize = labels[..start].iter().map(|l| l.len() + 1).sum();
            return domain.get(offset..);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_loads_and_covers_the_countries_with_unusable_domains() {
        let t = Conventions::embedded();
        for cc in [
            "es", "de", "at", "hu", "ba", "pl", "it", "pt", "hr", "gb", "no", "fr",
        ] {
            let c = t.country(cc).unwrap_or_else(|| panic!("{cc} missing"));
            assert!(!c.shapes.is_empty(), "{cc}");
        }
        assert!(t.limits.max_candidates >= 8);
        assert_eq!(t.limits.guess_confidence_cap, 60);
    }

    #[test]
    fn bad_tables_are_refused_with_the_country() {
        let base = TABLE_TOML.replace("code = \"li\"", "code = \"zz\"");
        let err = Conventions::parse(&base).unwrap_err().to_string();
        assert!(
            err.contains("\"zz\"") && err.contains("not a covered"),
            "{err}"
        );
        let two_slots = TABLE_TOML.replace("{ shape = \"{s}.li\"", "{ shape = \"{s}{j}.li\"");
        let err = Conventions::parse(&two_slots).unwrap_err().to_string();
        assert!(err.contains("exactly one"), "{err}");
        assert!(Conventions::parse("version = 1").is_err());
    }

    #[test]
    fn regional_shapes_apply_by_region_substring() {
        let es = Conventions::embedded().country("es").unwrap();
        let has = |region: Option<&str>, shape: &str| {
            es.shapes_for(region).iter().any(|s| s.shape == shape)
        };
        assert!(has(Some("Palencia Province"), "{j}.dip-palencia.es"));
        assert!(!has(Some("Soria Province"), "{j}.dip-palencia.es"));
        assert!(!has(None, "{j}.cat"));
        assert!(has(Some("Alt Empordà"), "{j}.cat"));
    }

    #[test]
    fn registered_domains_use_the_icann_section() {
        assert_eq!(registered_domain("comune.aglie.to.it"), Some("aglie.to.it"));
        assert_eq!(
            registered_domain("x.amt-mittelholstein.de"),
            Some("amt-mittelholstein.de")
        );
        assert_eq!(registered_domain("foo.blogspot.com"), Some("blogspot.com"));
        assert_eq!(registered_domain("wien.gv.at"), Some("wien.gv.at"));
        assert_eq!(registered_domain("gv.at"), None);
        assert!(ends_with_label("a.gv.at", "gv.at"));
        assert!(!ends_with_label("agv.at", "gv.at"));
    }
}
