//! Municipality name → slug variants (classification spec §9.4): administrative words,
//! parenthesised qualifiers, articles, saints' words and prepositions handled per
//! country; every transliteration scheme of the country spells each variant once.

use super::conventions::{Conventions, CountryConventions, Letters};

/// What kind of variant a slug is (weights in the table's `[variant_weights]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VariantKind {
    /// The whole normalised name.
    Full,
    /// Without its leading article.
    WithoutArticle,
    /// One part of a bilingual name.
    BilingualPart,
    /// A saint's word spelled another way.
    SaintSpelling,
    /// The part before the first preposition (weak).
    Truncated,
    /// Without the prepositions and articles between its words ("Castelo de Paiva" →
    /// castelo-paiva).
    WithoutParticles,
    /// With its qualifier ("Herzberg (Elster)" → herzberg-elster).
    Qualified,
    /// A word ending rewritten to its stem ("Powiat Głogowski" → glogow).
    Stem,
}

impl VariantKind {
    /// Stable slug for evidence.
    pub fn slug(self) -> &'static str {
        match self {
            VariantKind::Full => "full name",
            VariantKind::WithoutArticle => "name without article",
            VariantKind::BilingualPart => "part of a bilingual name",
            VariantKind::SaintSpelling => "saint's name spelled out",
            VariantKind::Truncated => "name before its first preposition",
            VariantKind::WithoutParticles => "name without particles",
            VariantKind::Qualified => "name with its qualifier",
            VariantKind::Stem => "stem of the name",
        }
    }

    /// True for variants that stand for the whole name (not a truncation).
    pub fn is_whole_name(self) -> bool {
        self != VariantKind::Truncated
    }
}

/// One slug of a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Lower-case ASCII `[a-z0-9-]`, hyphens between words.
    pub slug: String,
    /// Kind.
    pub kind: VariantKind,
    /// Kind weight × transliteration weight.
    pub weight: f32,
    /// The transliteration scheme that spelled it.
    pub scheme: String,
}

impl Variant {
    /// The slug without hyphens.
    pub fn joined(&self) -> String {
        self.slug.replace('-', "")
    }
}

/// The slug variants of `name` under a country's conventions, best first, each slug
/// once (with its best weight). Variants shorter than the table's minimum or equal to a
/// generic word are left out.
pub fn variants(name: &str, country: &CountryConventions, table: &Conventions) -> Vec<Variant> {
    let texts = text_variants(name, country, table);
    let schemes = country.letter_schemes();
    let mut out: Vec<Variant> = Vec::new();
    for (text, kind) in texts {
        for scheme in &schemes {
            let slug = slugify(&text, scheme);
            let mut spelled = vec![(slug.clone(), kind)];
            spelled.extend(
                stems(&slug, country)
                    .into_iter()
                    .map(|s| (s, VariantKind::Stem)),
            );
            for (slug, kind) in spelled {
                push_variant(&mut out, slug, kind, scheme, table);
            }
        }
    }
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.slug.cmp(&b.slug)));
    out
}

/// The slug with a country's word endings rewritten (`glogowski` → `glogow`).
fn stems(slug: &str, country: &CountryConventions) -> Vec<String> {
    let mut out = Vec::new();
    for (ending, replacements) in &country.endings {
        if let Some(head) = slug.strip_suffix(ending.as_str())
            && head.len() >= 3
        {
            out.extend(replacements.iter().map(|r| format!("{head}{r}")));
        }
    }
    out
}

/// Adds a variant unless it is too short or generic; a slug seen before keeps its best
/// weight.
fn push_variant(
    out: &mut Vec<Variant>,
    slug: String,
    kind: VariantKind,
    scheme: &Letters,
    table: &Conventions,
) {
    let min = if kind == VariantKind::Truncated {
        table.limits.min_truncated_len
    } else {
        table.limits.min_slug_len
    };
    let joined = slug.replace('-', "");
    if joined.len() < min || table.lists.generic_words.contains(&joined) {
        return;
    }
    let weight = kind_weight(kind, table) * scheme.weight;
    match out.iter_mut().find(|v| v.slug == slug) {
        Some(v) if v.weight >= weight => {}
        Some(v) => {
            v.weight = weight;
            v.kind = kind;
            v.scheme = scheme.name.clone();
        }
        None => out.push(Variant {
            slug,
            kind,
            weight,
            scheme: scheme.name.clone(),
        }),
    }
}

fn kind_weight(kind: VariantKind, table: &Conventions) -> f32 {
    let w = &table.variant_weights;
    match kind {
        VariantKind::Full => w.full,
        VariantKind::WithoutArticle => w.without_article,
        VariantKind::BilingualPart => w.bilingual_part,
        VariantKind::SaintSpelling => w.saint_spelling,
        VariantKind::Truncated => w.truncated,
        VariantKind::WithoutParticles => w.without_particles,
        VariantKind::Qualified => w.qualified,
        VariantKind::Stem => w.stem,
    }
}

/// The textual variants (still Unicode, lower case) with their kinds.
fn text_variants(
    name: &str,
    country: &CountryConventions,
    table: &Conventions,
) -> Vec<(String, VariantKind)> {
    let (main, qualifiers) = clean(name, &country.split);
    let cleaned = strip_admin(&main, country, table);
    let mut bases: Vec<(String, VariantKind)> = vec![(cleaned.clone(), VariantKind::Full)];
    let parts = split_parts(&cleaned, &country.split);
    if parts.len() > 1 {
        bases = parts
            .into_iter()
            .map(|p| (strip_admin(&p, country, table), VariantKind::BilingualPart))
            .collect();
    }
    for q in &qualifiers {
        bases.push((format!("{cleaned} {q}"), VariantKind::Qualified));
    }
    let mut out = Vec::new();
    for (base, kind) in bases {
        if base.is_empty() {
            continue;
        }
        out.push((base.clone(), kind));
        // A derived variant of a weaker base stays as weak as its base.
        let derived = |k: VariantKind| if kind == VariantKind::Full { k } else { kind };
        if let Some(rest) = without_article(&base, &country.articles) {
            out.push((rest, derived(VariantKind::WithoutArticle)));
        }
        for spelled in saint_spellings(&base, country) {
            out.push((spelled, derived(VariantKind::SaintSpelling)));
        }
        if let Some(short) = without_particles(&base, country) {
            out.push((short.clone(), derived(VariantKind::WithoutParticles)));
            for spelled in saint_spellings(&short, country) {
                out.push((spelled, derived(VariantKind::WithoutParticles)));
            }
        }
        if let Some(head) = before_preposition(&base, &country.prepositions) {
            out.push((head, VariantKind::Truncated));
        }
    }
    out
}

/// Lower case, whitespace collapsed, typographic apostrophes folded to `'`; qualifiers
/// taken out and returned apart: parenthesised or bracketed text, text after a comma, and
/// text after `/` where `/` does not separate the parts of a bilingual name.
pub fn clean(name: &str, split: &[String]) -> (String, Vec<String>) {
    let mut main = String::with_capacity(name.len());
    let mut qualifiers = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in name.to_lowercase().chars() {
        let c = match c {
            '’' | '‘' | '`' | '´' | 'ʼ' => '\'',
            '–' | '—' => '-',
            c => c,
        };
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    qualifiers.push(std::mem::take(&mut current));
                }
            }
            _ if depth > 0 => current.push(c),
            _ => main.push(c),
        }
    }
    let slash_is_split = split.iter().any(|s| s.trim() == "/");
    for sep in [",", "/"] {
        if sep == "/" && slash_is_split {
            continue;
        }
        if let Some((head, tail)) = main.split_once(sep) {
            qualifiers.push(tail.to_string());
            main = head.to_string();
        }
    }
    let tidy = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let qualifiers = qualifiers
        .iter()
        .map(|q| tidy(q.trim_matches(|c: char| !c.is_alphanumeric())))
        .filter(|q| !q.is_empty())
        .collect();
    (tidy(&main), qualifiers)
}

/// Strips administrative prefixes and suffixes (country's and defaults, longest first)
/// until none applies; never down to nothing.
pub fn strip_admin(text: &str, country: &CountryConventions, table: &Conventions) -> String {
    let mut prefixes: Vec<&str> = country
        .prefixes
        .iter()
        .chain(&table.defaults.prefixes)
        .map(String::as_str)
        .collect();
    let mut suffixes: Vec<&str> = country
        .suffixes
        .iter()
        .chain(&table.defaults.suffixes)
        .map(String::as_str)
        .collect();
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    suffixes.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut current = text.trim().to_string();
    loop {
        let before = current.clone();
        for p in &prefixes {
            if let Some(rest) = strip_word_prefix(&current, p) {
                current = rest;
                break;
            }
        }
        for s in &suffixes {
            if let Some(rest) = current.strip_suffix(s)
                && (rest.ends_with(' ') || rest.ends_with('-'))
                && !rest.trim_end_matches([' ', '-']).is_empty()
            {
                current = rest.trim_end_matches([' ', '-', ',']).to_string();
                break;
            }
        }
        if current == before {
            return current;
        }
    }
}

/// `text` without the word prefix `p` (followed by a space, or ending in an apostrophe).
fn strip_word_prefix(text: &str, p: &str) -> Option<String> {
    let rest = text.strip_prefix(p)?;
    let rest = if p.ends_with('\'') {
        rest
    } else {
        rest.strip_prefix(' ')?
    };
    let rest = rest.trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

fn split_parts(text: &str, separators: &[String]) -> Vec<String> {
    let mut parts = vec![text.to_string()];
    for sep in separators {
        parts = parts
            .iter()
            .flat_map(|p| p.split(sep.as_str()).map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect();
    }
    parts
}

/// The name without a leading article (`"a arnoia"` → `"arnoia"`, `"l'ametlla"` →
/// `"ametlla"`).
fn without_article(text: &str, articles: &[String]) -> Option<String> {
    articles
        .iter()
        .find_map(|a| strip_word_prefix(text, a))
        .filter(|rest| rest.chars().any(char::is_alphanumeric))
}

/// The name without the prepositions and articles between its words (never the first
/// word): "castelo de paiva" → "castelo paiva".
fn without_particles(text: &str, country: &CountryConventions) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let particle = |w: &str| {
        country.prepositions.iter().any(|p| p == w) || country.articles.iter().any(|a| a == w)
    };
    let mut kept: Vec<String> = vec![words.first()?.to_string()];
    let mut i = 1;
    while i < words.len() {
        // Two-word particles ("an der", "de la") go as one.
        let pair = words.get(i + 1).map(|n| format!("{} {n}", words[i]));
        if pair.as_deref().is_some_and(&particle) {
            i += 2;
            continue;
        }
        if particle(words[i]) {
            i += 1;
            continue;
        }
        // Elided particles ("d'ebre", "l'ametlla") lose their prefix.
        let word = country
            .prepositions
            .iter()
            .chain(&country.articles)
            .filter(|p| p.ends_with('\''))
            .find_map(|p| words[i].strip_prefix(p.as_str()))
            .unwrap_or(words[i]);
        kept.push(word.to_string());
        i += 1;
    }
    (kept.len() < words.len() || kept.join(" ") != text).then(|| kept.join(" "))
}

/// Every other spelling of the saint's words of the name.
fn saint_spellings(text: &str, country: &CountryConventions) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let key = w.trim_end_matches('.');
        let spellings = country
            .saints
            .get(*w)
            .or_else(|| country.saints.get(key))
            .or_else(|| country.saints.get(&format!("{key}.")));
        let Some(spellings) = spellings else { continue };
        for s in spellings {
            if s == w {
                continue;
            }
            let mut copy: Vec<&str> = words.clone();
            copy[i] = s;
            out.push(copy.join(" "));
        }
    }
    out
}

/// The words before the first preposition (never the first word itself).
fn before_preposition(text: &str, prepositions: &[String]) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    for i in 1..words.len() {
        let rest = words[i..].join(" ");
        let hit = prepositions.iter().any(|p| {
            rest == *p
                || rest.starts_with(&format!("{p} "))
                || (p.ends_with('\'') && rest.starts_with(p.as_str()))
        });
        if hit {
            return Some(words[..i].join(" "));
        }
    }
    None
}

/// Lower-case ASCII slug: the scheme's letters, then a fold of any script; apostrophes
/// vanish (`l'ametlla` → `lametlla`), other runs of non-alphanumerics become one `-`.
pub fn slugify(text: &str, scheme: &Letters) -> String {
    let mut mapped = text.to_lowercase();
    for (from, to) in &scheme.map {
        mapped = mapped.replace(from.as_str(), to);
    }
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if c == '\'' {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii() {
            out.push('-');
        } else {
            let folded = deunicode::deunicode_char(c).unwrap_or("-");
            for f in folded.chars() {
                if f.is_ascii_alphanumeric() {
                    out.push(f.to_ascii_lowercase());
                } else if f != '\'' {
                    out.push('-');
                }
            }
        }
    }
    let mut slug = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '-' && (slug.is_empty() || slug.ends_with('-')) {
            continue;
        }
        slug.push(c);
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs(cc: &str, name: &str) -> Vec<String> {
        let t = Conventions::embedded();
        variants(name, t.country(cc).unwrap(), t)
            .into_iter()
            .map(|v| v.slug)
            .collect()
    }

    #[test]
    fn spanish_articles_and_administrative_words() {
        let s = slugs("es", "A Arnoia");
        assert_eq!(s[0], "a-arnoia");
        assert!(s.contains(&"arnoia".to_string()), "{s:?}");
        assert_eq!(slugs("es", "Ayuntamiento de Abajas")[0], "abajas");
        let s = slugs("es", "L'Ametlla de Mar");
        assert!(s.contains(&"lametlla-de-mar".to_string()), "{s:?}");
        assert!(s.contains(&"ametlla-de-mar".to_string()), "{s:?}");
        // Bilingual names give each part.
        let s = slugs("es", "Abaurrepea/Abaurrea Baja");
        assert!(
            s.contains(&"abaurrepea".to_string()) && s.contains(&"abaurrea-baja".to_string()),
            "{s:?}"
        );
        // ñ folds to n.
        assert_eq!(slugs("es", "A Gudiña")[0], "a-gudina");
    }

    #[test]
    fn german_umlauts_expand_and_fold() {
        let s = slugs("de", "Welmbüttel");
        assert_eq!(s[0], "welmbuettel");
        assert!(s.contains(&"welmbuttel".to_string()), "{s:?}");
        assert_eq!(slugs("de", "Gemeinde Raisdorf")[0], "raisdorf");
        assert_eq!(slugs("de", "Bergstadt Bad Grund (Harz)")[0], "bad-grund");
        let s = slugs("de", "Rade b. Hohenwestedt");
        assert!(s.contains(&"rade-b-hohenwestedt".to_string()), "{s:?}");
        assert_eq!(slugs("de", "Großenhain")[0], "grossenhain");
    }

    #[test]
    fn austrian_saints_and_prepositions() {
        let s = slugs("at", "St. Bernhard-Frauenhofen");
        assert!(
            s.contains(&"sankt-bernhard-frauenhofen".to_string()),
            "{s:?}"
        );
        assert!(s.contains(&"st-bernhard-frauenhofen".to_string()), "{s:?}");
        let s = slugs("at", "Breitenbrunn am Neusiedler See");
        assert_eq!(s[0], "breitenbrunn-am-neusiedler-see");
        assert!(s.contains(&"breitenbrunn".to_string()), "{s:?}");
        assert_eq!(
            slugs("at", "Marktgemeinde Mörbisch am See")[0],
            "moerbisch-am-see"
        );
    }

    #[test]
    fn hungarian_districts_and_accents() {
        assert_eq!(slugs("hu", "Makó District")[0], "mako");
        assert_eq!(
            slugs("hu", "Hódmezővásárhely District")[0],
            "hodmezovasarhely"
        );
        assert_eq!(slugs("hu", "Balmazújváros District")[0], "balmazujvaros");
    }

    #[test]
    fn bosnian_and_serbian_names() {
        assert_eq!(slugs("ba", "Bileća Municipality")[0], "bileca");
        assert_eq!(slugs("ba", "City of Gradiška")[0], "gradiska");
        let s = slugs("ba", "Đurđevac");
        assert!(
            s.contains(&"durdevac".to_string()) && s.contains(&"djurdjevac".to_string()),
            "{s:?}"
        );
        assert_eq!(
            slugs("rs", "City municipality of Požarevac")[0],
            "pozarevac"
        );
    }

    #[test]
    fn polish_powiats_and_cities() {
        assert_eq!(slugs("pl", "Powiat Limanowski")[0], "limanowski");
        assert_eq!(slugs("pl", "Łomża")[0], "lomza");
        assert_eq!(slugs("pl", "Wrocław")[0], "wroclaw");
    }

    #[test]
    fn other_countries() {
        assert_eq!(slugs("it", "Comune di Aglie'")[0], "aglie");
        assert_eq!(
            slugs("it", "Comune di Albiano d'Ivrea")[0],
            "albiano-divrea"
        );
        assert_eq!(slugs("no", "Aarborte - Hattfjelldal").len(), 2);
        assert!(slugs("no", "Sørfold - Fuolldá").contains(&"sorfold".to_string()));
        assert!(slugs("dk", "Brønderslev").contains(&"broenderslev".to_string()));
        assert_eq!(slugs("mt", "Birżebbuġa")[0], "birzebbuga");
        assert_eq!(slugs("xk", "Fushë Kosovë Municipality")[0], "fushe-kosove");
        assert_eq!(
            slugs("ua", "Bilhorod-Dnistrovskyi Raion")[0],
            "bilhorod-dnistrovskyi"
        );
        assert_eq!(slugs("al", "Bashkia Cërrik")[0], "cerrik");
        assert_eq!(
            slugs("gb", "London Borough of Barking and Dagenham")[0],
            "barking-and-dagenham"
        );
        assert_eq!(
            slugs("cy", "Σύμπλεγμα Κοινοτήτων Δεκέλειας")[0],
            "dekeleias"
        );
    }

    #[test]
    fn generic_and_short_slugs_are_dropped() {
        assert!(slugs("at", "Bad").is_empty());
        assert!(!slugs("no", "Hå").contains(&"ha".to_string()));
        // Truncated variants need six letters.
        assert!(!slugs("es", "Oña de Arriba").contains(&"ona".to_string()));
    }
}
