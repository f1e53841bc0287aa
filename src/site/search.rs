//! The search page and its prebuilt index, split into shards by the first two
//! characters of each key so a query loads one small file: names, domains, official
//! codes and other-language names, folded for case, diacritics and script.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use askama::Template;

use super::filters;
use super::model::{Meta, SiteModel};

/// Words that open many official names and mail domains without telling them apart
/// ("Comune di Bolzano", "comune.bolzano.it", "Gemeinde Wien"): keys are indexed
/// without them and `search.js` strips them from the query the same way (its
/// `NOISE` list must equal this one; a unit test checks), so a query for the place
/// itself ranks it first and the shard of such prefixes does not hold a whole country.
pub const NAME_NOISE: [&str; 30] = [
    "comune di ",
    "comune de ",
    "citta di ",
    "gemeinde ",
    "stadt ",
    "markt ",
    "marktgemeinde ",
    "stadtgemeinde ",
    "ville de ",
    "commune de ",
    "municipality of ",
    "city of ",
    "town of ",
    "ayuntamiento de ",
    "concello de ",
    "ajuntament de ",
    "opcina ",
    "obcina ",
    "grad ",
    "miasto ",
    "gmina ",
    "mesto ",
    "obec ",
    "dimos ",
    "comune.",
    "www.",
    "gemeinde.",
    "stadt.",
    "municipio.",
    "mairie-",
];

/// A folded key or query without its leading noise word (see [`NAME_NOISE`]) and
/// without the country prefix of an official code (`it-com-001001` → `001001`).
pub fn strip_noise(key: &str) -> &str {
    let key = NAME_NOISE
        .iter()
        .find_map(|n| key.strip_prefix(n))
        .unwrap_or(key);
    // An official code with its country prefix (`de-01001000`, `it-com-001001`): the
    // last part, which is what people type.
    let bytes = key.as_bytes();
    let coded = bytes.len() > 3
        && bytes[0].is_ascii_lowercase()
        && bytes[1].is_ascii_lowercase()
        && bytes[2] == b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && key
            .rsplit('-')
            .next()
            .is_some_and(|last| last.bytes().any(|b| b.is_ascii_digit()));
    match key.rsplit_once('-') {
        Some((_, last)) if coded && !last.is_empty() => last,
        _ => key,
    }
}

/// Folds a key for the search: transliterated to Latin, lower case, so "Київ", "Kyiv"
/// and "KYÏV" meet; the browser folds the query the same way (`search.js`).
fn search_fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

/// A key in its own script, as the browser folds a query typed in it: lower case,
/// accents removed the way Unicode decomposition removes them (`Αθήνα` → `αθηνα`,
/// `Київ` → `киів`). Latin keys come from [`search_fold`] instead.
fn script_fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'ά' => 'α',
            'έ' => 'ε',
            'ή' => 'η',
            'ί' | 'ϊ' | 'ΐ' => 'ι',
            'ό' => 'ο',
            'ύ' | 'ϋ' | 'ΰ' => 'υ',
            'ώ' => 'ω',
            'й' => 'и',
            'ї' => 'і',
            'ё' => 'е',
            'ў' => 'у',
            'ѓ' => 'г',
            'ќ' => 'к',
            other => other,
        })
        .collect()
}

/// True when `text` has letters outside the Latin script (Cyrillic, Greek, Georgian,
/// Armenian …).
fn has_other_script(text: &str) -> bool {
    text.chars().any(|c| c.is_alphabetic() && c > '\u{024f}')
}

/// The shard a folded key belongs to: its first two letters or digits — as they are
/// when ASCII, else as `u{hex}-{hex}` — or `_` when the key has fewer; a query of two
/// or more characters loads exactly one shard (`search.js` computes the same name).
pub fn search_shard(folded: &str) -> String {
    let chars: Vec<char> = folded
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(2)
        .collect();
    match chars.as_slice() {
        [a, b] if a.is_ascii() && b.is_ascii() => format!("{a}{b}"),
        [a, b] => format!("u{:x}-{:x}", *a as u32, *b as u32),
        _ => "_".into(),
    }
}

/// `search/{shard}.json`: the search index split by the first two characters of each
/// key, so one query loads one small file. Keys of a municipality: its name (and the
/// name without an official prefix), its mail domain, its official code, and the names
/// its boundary carries in other languages and scripts. A row is
/// `[key, name, cc, slug, category, provider, region]`; the page is `{cc}/m/{slug}/`.
pub fn search_shards(model: &SiteModel, places: &super::places::Places) -> Vec<(String, Vec<u8>)> {
    type Row<'a> = (String, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
    let mut shards: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for r in &model.records {
        let mut keys: Vec<String> = vec![search_fold(&r.name)];
        if has_other_script(&r.name) {
            keys.push(script_fold(&r.name));
        }
        if let Some(d) = &r.domain {
            keys.push(d.ascii.to_string().to_lowercase());
            keys.push(search_fold(&d.unicode));
        }
        keys.push(r.id.to_lowercase());
        if let Some(place) = places.get(r.country.code, r.osm_relation_id) {
            for n in &place.other_names {
                keys.push(search_fold(n));
                if has_other_script(n) {
                    keys.push(script_fold(n));
                }
            }
        }
        let mut keys: Vec<String> = keys.iter().map(|k| strip_noise(k).to_string()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if key.is_empty() {
                continue;
            }
            shards.entry(search_shard(&key)).or_default().push((
                key,
                r.name.as_str(),
                r.country.code,
                r.slug.as_str(),
                r.verdict.category.slug(),
                r.verdict.provider_name.as_str(),
                r.region.as_deref().unwrap_or(""),
            ));
        }
    }
    shards
        .into_iter()
        .map(|(shard, mut rows)| {
            rows.sort();
            (
                format!("search/{shard}.json"),
                serde_json::to_vec(&rows).expect("search rows serialise"),
            )
        })
        .collect()
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    countries: Vec<(&'static str, &'static str)>,
}

/// `search/`: a form that filters the prebuilt index in the browser; without
/// JavaScript it points to the A–Z indexes.
pub fn search(model: &SiteModel) -> Result<String> {
    SearchPage {
        root: "../",
        path: "search/".into(),
        meta: &model.meta,
        countries: model
            .countries
            .iter()
            .map(|c| (c.country.code, c.country.name))
            .collect(),
    }
    .render()
    .context("rendering the search page")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_to_latin_and_keep_their_script() {
        assert_eq!(search_fold("Jõgeva"), "jogeva");
        assert_eq!(script_fold("Αθήνα"), "αθηνα");
        assert_eq!(script_fold("Київ"), "киів");
        assert!(has_other_script("Київ") && !has_other_script("Jõgeva"));
        assert_eq!(search_shard("flensburg.de"), "fl");
        assert_eq!(search_shard("01001000"), "01");
        assert_eq!(search_shard("αθηνα"), "u3b1-3b8");
        assert_eq!(search_shard("x"), "_");
        assert_eq!(strip_noise("comune di bolzano"), "bolzano");
        assert_eq!(strip_noise("comune.bolzano.it"), "bolzano.it");
        assert_eq!(strip_noise("de-01001000"), "01001000");
        assert_eq!(strip_noise("de bilt"), "de bilt");
        assert_eq!(strip_noise("it-com-001001"), "001001");
        assert_eq!(strip_noise("ee-t00"), "t00");
        assert_eq!(strip_noise("de-bilt"), "de-bilt");
    }

    #[test]
    fn the_browser_strips_the_same_noise() {
        let js = include_str!("../../templates/assets/search.js");
        for noise in NAME_NOISE {
            assert!(
                js.contains(&format!("\"{noise}\"")),
                "search.js lacks {noise:?}"
            );
        }
    }
}
