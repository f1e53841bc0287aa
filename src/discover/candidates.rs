//! Candidate domains from a municipality's name: every slug variant in every shape of
//! its country (and region), ordered by shape weight × variant weight, at most the
//! table's `max_candidates`.

use super::conventions::{Conventions, CountryConventions};
use super::normalise::{VariantKind, variants};

/// One candidate domain and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Lower-case ASCII domain.
    pub domain: String,
    /// The shape that made it (`ayto{j}.es`).
    pub shape: String,
    /// The slug filled in.
    pub slug: String,
    /// The kind of name variant.
    pub kind: VariantKind,
    /// Shape weight × variant weight.
    pub score: f32,
}

/// The candidates for a municipality, best first, each domain once, at most
/// `max_candidates`.
pub fn candidates(
    name: &str,
    region: Option<&str>,
    country: &CountryConventions,
    table: &Conventions,
) -> Vec<Candidate> {
    let shapes = country.shapes_for(region);
    let mut all: Vec<Candidate> = Vec::new();
    for v in variants(name, country, table) {
        let joined = v.joined();
        for shape in &shapes {
            let slug = if shape.shape.contains("{j}") {
                &joined
            } else {
                &v.slug
            };
            let domain = shape.shape.replace("{j}", slug).replace("{s}", slug);
            if !is_dns_name(&domain) {
                continue;
            }
            let score = shape.weight as f32 * v.weight;
            match all.iter_mut().find(|c| c.domain == domain) {
                Some(c) if c.score >= score => {}
                Some(c) => {
                    *c = Candidate {
                        domain,
                        shape: shape.shape.clone(),
                        slug: slug.clone(),
                        kind: v.kind,
                        score,
                    }
                }
                None => all.push(Candidate {
                    domain,
                    shape: shape.shape.clone(),
                    slug: slug.clone(),
                    kind: v.kind,
                    score,
                }),
            }
        }
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.domain.cmp(&b.domain)));
    all.truncate(table.limits.max_candidates);
    all
}

/// Labels of 1–63 characters of `[a-z0-9-]`, not starting or ending with `-`, at least
/// two labels, at most 253 characters.
pub fn is_dns_name(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(cc: &str, name: &str, region: Option<&str>) -> Vec<String> {
        let t = Conventions::embedded();
        candidates(name, region, t.country(cc).unwrap(), t)
            .into_iter()
            .map(|c| c.domain)
            .collect()
    }

    fn has(list: &[String], d: &str) -> bool {
        list.iter().any(|x| x == d)
    }

    #[test]
    fn spain_national_regional_and_prefixed_shapes() {
        let d = domains("es", "A Arnoia", Some("Ourense"));
        assert!(has(&d, "arnoia.es") && has(&d, "arnoia.gal"), "{d:?}");
        let d = domains("es", "Abajas", Some("Province of Burgos"));
        assert_eq!(d[0], "abajas.es");
        assert!(
            has(&d, "aytoabajas.es") && has(&d, "ayuntamientoabajas.es"),
            "{d:?}"
        );
        let d = domains("es", "Savallà del Comtat", Some("Conca de Barberà"));
        assert!(has(&d, "savalladelcomtat.altanet.org"), "{d:?}");
        assert!(has(&d, "savalladelcomtat.cat"), "{d:?}");
        let d = domains("es", "Amusquillo", Some("Valladolid Province"));
        assert!(has(&d, "amusquillo.gob.es"), "{d:?}");
    }

    #[test]
    fn germany_and_austria() {
        let d = domains("de", "Welmbüttel", Some("Schleswig-Holstein"));
        assert_eq!(d[0], "welmbuettel.de");
        assert!(
            has(&d, "gemeinde-welmbuettel.de") && has(&d, "amt-welmbuettel.de"),
            "{d:?}"
        );
        let d = domains("at", "Ampass", Some("Tirol"));
        assert!(
            has(&d, "ampass.at") && has(&d, "ampass.gv.at") && has(&d, "ampass.tirol.gv.at"),
            "{d:?}"
        );
        let d = domains("at", "St. Johann im Pongau", Some("Salzburg"));
        assert!(
            has(&d, "sankt-johann-im-pongau.at") || has(&d, "st-johann-im-pongau.at"),
            "{d:?}"
        );
    }

    #[test]
    fn hungary_bosnia_poland_portugal_croatia() {
        assert_eq!(domains("hu", "Kecskemét District", None)[0], "kecskemet.hu");
        let d = domains("ba", "Banovići Municipality", None);
        assert!(
            has(&d, "banovici.ba") && has(&d, "banovici.gov.ba"),
            "{d:?}"
        );
        let d = domains("pl", "Powiat Limanowski", None);
        assert_eq!(d[0], "limanowski.pl");
        assert!(has(&d, "powiatlimanowski.pl"), "{d:?}");
        let d = domains("pl", "Bytom", None);
        assert!(has(&d, "um.bytom.pl"), "{d:?}");
        assert_eq!(domains("pt", "Sines", None)[0], "cm-sines.pt");
        let d = domains("hr", "Privlaka", None);
        assert!(
            has(&d, "privlaka.hr") && has(&d, "opcina-privlaka.hr"),
            "{d:?}"
        );
    }

    #[test]
    fn other_conventions() {
        assert_eq!(
            domains("no", "Hattfjelldal", None)[0],
            "hattfjelldal.kommune.no"
        );
        assert_eq!(
            domains("gb", "Milton Keynes", None)[0],
            "miltonkeynes.gov.uk"
        );
        assert!(has(
            &domains("gb", "Milton Keynes", None),
            "milton-keynes.gov.uk"
        ));
        assert_eq!(domains("mt", "Żabbar", None)[0], "zabbar.gov.mt");
        assert!(has(
            &domains("it", "Comune di Airasca", None),
            "comune.airasca.it"
        ));
        assert_eq!(
            domains("tr", "Diyarbakır Province", None)[0],
            "diyarbakir.gov.tr"
        );
    }

    #[test]
    fn candidates_are_bounded_unique_and_valid() {
        let t = Conventions::embedded();
        let es = t.country("es").unwrap();
        let d = candidates(
            "San Bartolomé de Pinares/Sant Bartomeu de les Pinedes",
            Some("Province of Ávila"),
            es,
            t,
        );
        assert!(d.len() <= t.limits.max_candidates);
        let mut seen: Vec<&str> = d.iter().map(|c| c.domain.as_str()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), d.len());
        assert!(d.iter().all(|c| is_dns_name(&c.domain)));
        assert!(!is_dns_name("-a.es") && !is_dns_name("a") && !is_dns_name("a..es"));
        // A name with nothing usable gives nothing.
        assert!(candidates("(?)", None, es, t).is_empty());
    }
}
