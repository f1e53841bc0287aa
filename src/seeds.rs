//! Loading and validating the seed list: one JSON array of municipalities per country
//! (`{cc}.json`). Fatal problems (bad JSON, a missing id or name, duplicate ids) stop the
//! run with an error naming file, line, entry and field; a domain that cannot be used
//! is a warning — the municipality stays on the site as "no usable domain".

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::countries::{self, Country};
use crate::name::DnsName;

/// A mail domain in both spellings: ASCII (IDNA A-labels) for DNS, Unicode for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain {
    /// A-label form used in queries, lower case.
    pub ascii: DnsName,
    /// Unicode form as shown on pages.
    pub unicode: String,
}

impl Domain {
    /// Normalises a seed domain (trim, lower case, strip one trailing dot, IDNA UTS-46)
    /// and checks its syntax. Returns a human-readable reason on failure.
    pub fn parse(text: &str) -> Result<Domain, String> {
        let trimmed = text.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err("empty domain".into());
        }
        let unbracketed = trimmed.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "{trimmed:?} is an IP address, not a domain name (mail domains are names)"
            ));
        }
        if trimmed.contains(|c: char| c.is_whitespace() || "/:@?#\\".contains(c)) {
            return Err(format!(
                "{trimmed:?} is not a domain name (contains a space, URL or address characters)"
            ));
        }
        let ascii = idna::domain_to_ascii(trimmed)
            .map_err(|_| format!("{trimmed:?} is not a valid internationalised domain name"))?;
        if !ascii.contains('.') {
            return Err(format!("{trimmed:?} has no top-level domain"));
        }
        for label in ascii.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(format!("{trimmed:?} has an invalid label {label:?}"));
            }
        }
        let name = DnsName::parse(&ascii).map_err(|e| format!("{trimmed:?}: {e}"))?;
        let (unicode, _) = idna::domain_to_unicode(&ascii);
        Ok(Domain {
            ascii: name,
            unicode,
        })
    }

    /// True when the Unicode spelling differs from the ASCII one (an IDN).
    pub fn is_idn(&self) -> bool {
        self.unicode != self.ascii.to_string()
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unicode)
    }
}

/// One municipality of the seed list.
#[derive(Debug, Clone)]
pub struct Municipality {
    /// Seed id, unique across all countries (e.g. `EE-0130`).
    pub id: String,
    /// Name in local spelling.
    pub name: String,
    /// Covered country.
    pub country: &'static Country,
    /// Region (admin level 1), when known.
    pub region: Option<String>,
    /// Mail domain, when the seed has a usable one.
    pub domain: Option<Domain>,
    /// Why the seed's domain could not be used (kept for the page and the data files).
    pub domain_problem: Option<String>,
    /// The municipality's website (an `http(s)` URL or a host), when the seed gives one:
    /// domain discovery reads it when the domain receives no mail.
    pub website: Option<String>,
    /// OpenStreetMap relation id (joins the map geometry).
    pub osm_relation_id: Option<u64>,
    /// Population, when known.
    pub population: Option<u64>,
    /// Where the entry came from.
    pub origin: SeedOrigin,
}

/// File and line of a seed entry, for messages.
#[derive(Debug, Clone)]
pub struct SeedOrigin {
    /// Seed file.
    pub file: PathBuf,
    /// 1-based line where the entry starts.
    pub line: usize,
    /// 0-based position in the array.
    pub index: usize,
}

impl fmt::Display for SeedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (entry {})",
            self.file.display(),
            self.line,
            self.index
        )
    }
}

/// A fatal problem in the seed files.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read seed file {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a JSON array.
    #[error("{file}: invalid JSON: {source}")]
    Json {
        /// The file.
        file: PathBuf,
        /// Cause (with line and column).
        source: serde_json::Error,
    },
    /// An entry is not an object with the expected fields.
    #[error("{origin}: {message}")]
    Entry {
        /// Where.
        origin: SeedOrigin,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Two entries share an id.
    #[error("{second}: duplicate id {id:?} (first defined at {first})")]
    DuplicateId {
        /// The id.
        id: String,
        /// First occurrence.
        first: SeedOrigin,
        /// Second occurrence.
        second: SeedOrigin,
    },
    /// The seed folder itself is missing.
    #[error(
        "the seeds folder {dir} does not exist; run mxmap in a checkout of the repository, or point at the data with --data DIR or --seeds DIR"
    )]
    MissingFolder {
        /// Seed folder.
        dir: PathBuf,
    },
    /// Two municipalities would get the same page.
    #[error("{second}: gets the page {page}, as does {first}")]
    PageCollision {
        /// The shared page.
        page: String,
        /// The first municipality: id, file and line.
        first: String,
        /// The second: id, file and line.
        second: String,
    },
    /// No seed file for a requested country.
    #[error("no seed file for country {code:?} in {dir}")]
    MissingCountry {
        /// Country code.
        code: String,
        /// Seed folder.
        dir: PathBuf,
    },
}

/// A non-fatal problem, reported and counted.
#[derive(Debug, Clone)]
pub struct SeedWarning {
    /// Where.
    pub origin: SeedOrigin,
    /// Seed id, when known.
    pub id: String,
    /// What is wrong, naming the field.
    pub message: String,
}

impl fmt::Display for SeedWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.origin, self.id, self.message)
    }
}

/// The loaded seed list.
#[derive(Debug, Default)]
pub struct Seeds {
    /// All municipalities, in country order then file order.
    pub municipalities: Vec<Municipality>,
    /// Non-fatal problems.
    pub warnings: Vec<SeedWarning>,
}

#[derive(Deserialize)]
struct RawSeed {
    id: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
    country: Option<String>,
    region: Option<String>,
    domain: Option<String>,
    website: Option<String>,
    osm_relation_id: Option<serde_json::Value>,
    population: Option<serde_json::Value>,
}

/// Loads `{cc}.json` for each requested country (all 47 when `only` is `None`) from `dir`.
pub fn load(dir: &Path, only: Option<&[&'static Country]>) -> Result<Seeds, SeedError> {
    let wanted: Vec<&'static Country> = match only {
        Some(list) => list.to_vec(),
        None => countries::COUNTRIES.iter().collect(),
    };
    if !dir.is_dir() {
        return Err(SeedError::MissingFolder {
            dir: dir.to_path_buf(),
        });
    }
    let mut seeds = Seeds::default();
    let mut seen: HashMap<String, SeedOrigin> = HashMap::new();
    for country in wanted {
        let file = dir.join(format!("{}.json", country.code));
        if !file.exists() {
            return Err(SeedError::MissingCountry {
                code: country.code.to_string(),
                dir: dir.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(&file).map_err(|source| SeedError::Io {
            file: file.clone(),
            source,
        })?;
        let parsed = parse_file(&text, &file, country)?;
        for m in parsed.municipalities {
            if let Some(first) = seen.get(&m.id) {
                return Err(SeedError::DuplicateId {
                    id: m.id.clone(),
                    first: first.clone(),
                    second: m.origin.clone(),
                });
            }
            seen.insert(m.id.clone(), m.origin.clone());
            seeds.municipalities.push(m);
        }
        seeds.warnings.extend(parsed.warnings);
    }
    Ok(seeds)
}

/// Checks that no two municipalities get the same page (`page_of` is the site's
/// slug rule), naming both ids with their file and line: found while the seeds load,
/// not after a whole scan.
pub fn check_pages(
    seeds: &Seeds,
    page_of: impl Fn(&Municipality) -> String,
) -> Result<(), SeedError> {
    let mut pages: HashMap<String, &Municipality> = HashMap::new();
    for m in &seeds.municipalities {
        if let Some(first) = pages.insert(page_of(m), m) {
            return Err(SeedError::PageCollision {
                page: page_of(m),
                first: format!("id {:?} ({})", first.id, first.origin),
                second: format!("id {:?} ({})", m.id, m.origin),
            });
        }
    }
    Ok(())
}

/// Parses one seed file's text; `file` is only used in messages. A UTF-8 byte-order
/// mark (which some editors write) is accepted with a warning.
pub fn parse_file(text: &str, file: &Path, country: &'static Country) -> Result<Seeds, SeedError> {
    let (text, bom) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let entries: Vec<&RawValue> = serde_json::from_str(text).map_err(|source| SeedError::Json {
        file: file.to_path_buf(),
        source,
    })?;
    let mut out = Seeds::default();
    if bom {
        out.warnings.push(SeedWarning {
            origin: SeedOrigin {
                file: file.to_path_buf(),
                line: 1,
                index: 0,
            },
            id: first_id(&entries).unwrap_or_default(),
            message: "the file starts with a UTF-8 byte-order mark; ignored (save it as UTF-8 without BOM)".into(),
        });
    }
    let mut lines = LineCounter::default();
    for (index, raw) in entries.into_iter().enumerate() {
        let origin = SeedOrigin {
            file: file.to_path_buf(),
            line: lines.line_of(text, raw.get()),
            index,
        };
        let entry_error = |message: String| SeedError::Entry {
            origin: origin.clone(),
            message,
        };
        let seed: RawSeed = serde_json::from_str(raw.get())
            .map_err(|e| entry_error(format!("not a seed object: {e}")))?;
        let id = required_string(seed.id, "id").map_err(entry_error)?;
        let name = required_string(seed.name, "name").map_err(entry_error)?;
        let mut warn = |message: String| {
            out.warnings.push(SeedWarning {
                origin: origin.clone(),
                id: id.clone(),
                message,
            })
        };
        if let Some(cc) = &seed.country
            && !cc.eq_ignore_ascii_case(country.code)
        {
            warn(format!(
                "field \"country\" is {cc:?} but the file is for {}; using {}",
                country.code.to_uppercase(),
                country.code.to_uppercase()
            ));
        }
        let (domain, domain_problem) = match seed.domain.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(text) => match Domain::parse(text) {
                Ok(d) => (Some(d), None),
                Err(why) => {
                    warn(format!("field \"domain\": {why}; treated as no domain"));
                    (None, Some(why))
                }
            },
        };
        let osm_relation_id = optional_u64(seed.osm_relation_id, "osm_relation_id", &mut warn);
        let population = optional_u64(seed.population, "population", &mut warn);
        out.municipalities.push(Municipality {
            id,
            name,
            country,
            region: seed.region.filter(|r| !r.trim().is_empty()),
            domain,
            domain_problem,
            website: seed
                .website
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty()),
            osm_relation_id,
            population,
            origin,
        });
    }
    Ok(out)
}

/// The id of the first entry, for a warning about the whole file.
fn first_id(entries: &[&RawValue]) -> Option<String> {
    let first: RawSeed = serde_json::from_str(entries.first()?.get()).ok()?;
    required_string(first.id, "id").ok()
}

fn required_string(value: Option<serde_json::Value>, field: &str) -> Result<String, String> {
    match value {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) if field == "id" => Ok(n.to_string()),
        Some(serde_json::Value::Null) | None => Err(format!("missing required field {field:?}")),
        Some(other) => Err(format!(
            "field {field:?} must be a non-empty string, found {other}"
        )),
    }
}

fn optional_u64(
    value: Option<serde_json::Value>,
    field: &str,
    warn: &mut impl FnMut(String),
) -> Option<u64> {
    match value {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(serde_json::Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
            s.trim().parse().ok()
        }
        Some(other) => {
            warn(format!(
                "field {field:?} is not a non-negative integer ({other}); ignored"
            ));
            None
        }
    }
}

/// Line numbers of slices of one text, asked in increasing order (so a file is scanned
/// once, not once per entry).
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: usize,
}

impl LineCounter {
    /// 1-based line of `slice` inside `text` (`slice` must point into `text`).
    fn line_of(&mut self, text: &str, slice: &str) -> usize {
        let target = (slice.as_ptr() as usize)
            .saturating_sub(text.as_ptr() as usize)
            .min(text.len());
        if target < self.offset {
            *self = LineCounter::default();
        }
        self.line += text.as_bytes()[self.offset..target]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = target;
        self.line + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ee() -> &'static Country {
        countries::by_code("ee").unwrap()
    }

    #[test]
    fn idn_domains_become_punycode_and_stay_unicode_for_display() {
        let d = Domain::parse("Neustift-bei-Güssing.at.").unwrap();
        assert_eq!(d.ascii.to_string(), "xn--neustift-bei-gssing-jbc.at");
        assert_eq!(d.unicode, "neustift-bei-güssing.at");
        assert!(d.is_idn());
    }

    #[test]
    fn bad_domains_are_rejected_with_a_reason() {
        for bad in [
            "www.example .com",
            "http://x.ee",
            "localhost",
            "a..b",
            "-x.ee",
            "mail@x.ee",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entry_errors_name_file_line_and_field() {
        let text = "[\n{\"id\": \"EE-1\", \"name\": \"A\", \"domain\": null},\n{\"id\": \"EE-2\", \"domain\": \"b.ee\"}\n]";
        let err = parse_file(text, Path::new("ee.json"), ee())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ee.json:3"), "{err}");
        assert!(err.contains("entry 1"), "{err}");
        assert!(err.contains("\"name\""), "{err}");
    }

    #[test]
    fn bad_json_names_the_file() {
        let err = parse_file("[{\"id\": ]", Path::new("lv.json"), ee())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("lv.json: invalid JSON"), "{err}");
    }

    #[test]
    fn invalid_domain_is_a_warning_and_keeps_the_municipality() {
        let text = r#"[{"id": "EE-1", "name": "A", "country": "EE", "domain": "not a domain"}]"#;
        let seeds = parse_file(text, Path::new("ee.json"), ee()).unwrap();
        assert_eq!(seeds.municipalities.len(), 1);
        assert!(seeds.municipalities[0].domain.is_none());
        assert!(seeds.warnings[0].message.contains("\"domain\""));
    }

    #[test]
    fn ip_literals_are_no_domains() {
        for ip in ["192.0.2.1", "[192.0.2.1]", "2001:db8::1", "[2001:db8::1]"] {
            let why = Domain::parse(ip).unwrap_err();
            assert!(why.contains("IP address"), "{ip}: {why}");
        }
        let text = r#"[{"id": "EE-1", "name": "A", "domain": "192.0.2.1"}]"#;
        let seeds = parse_file(text, Path::new("ee.json"), ee()).unwrap();
        assert!(seeds.municipalities[0].domain.is_none());
        let warning = seeds.warnings[0].to_string();
        assert!(
            warning.starts_with("ee.json:1 (entry 0) [EE-1]: field \"domain\"")
                && warning.contains("IP address"),
            "{warning}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_accepted_with_a_warning() {
        let text = "\u{feff}[{\"id\": \"EE-1\", \"name\": \"A\", \"domain\": \"a.ee\"}]";
        let seeds = parse_file(text, Path::new("ee.json"), ee()).unwrap();
        assert_eq!(seeds.municipalities.len(), 1);
        let warning = seeds.warnings[0].to_string();
        assert!(
            warning.starts_with("ee.json:1 (entry 0) [EE-1]:")
                && warning.contains("byte-order mark"),
            "{warning}"
        );
    }

    #[test]
    fn page_collisions_name_both_ids_files_and_lines() {
        let text =
            "[\n{\"id\": \"EE-1\", \"name\": \"Aa\"},\n{\"id\": \"EE-2\", \"name\": \"Bb\"}\n]";
        let seeds = parse_file(text, Path::new("ee.json"), ee()).unwrap();
        let err = check_pages(&seeds, |_| "ee/m/same/".to_string())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"EE-1\"") && err.contains("\"EE-2\""),
            "{err}"
        );
        assert!(
            err.contains("ee.json:2") && err.contains("ee.json:3"),
            "{err}"
        );
        assert!(check_pages(&seeds, |m| m.id.clone()).is_ok());
    }

    #[test]
    fn a_missing_seed_folder_says_so() {
        let err = load(Path::new("/nonexistent/seeds"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("seeds folder /nonexistent/seeds does not exist"),
            "{err}"
        );
        assert!(err.contains("--seeds"), "{err}");
    }

    #[test]
    fn duplicate_ids_across_files_are_fatal() {
        let dir = std::env::temp_dir().join(format!("mxmap-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ee.json"), r#"[{"id": "X-1", "name": "A"}]"#).unwrap();
        std::fs::write(dir.join("lv.json"), r#"[{"id": "X-1", "name": "B"}]"#).unwrap();
        let list = [ee(), countries::by_code("lv").unwrap()];
        let err = load(&dir, Some(&list)).unwrap_err().to_string();
        assert!(err.contains("duplicate id \"X-1\""), "{err}");
        assert!(
            err.contains("lv.json:1") && err.contains("ee.json:1"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
