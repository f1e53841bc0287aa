//! Where municipalities are and what else they are called, read from the boundary files
//! through the geo module: the centre of each municipality's boundary (for "nearby"
//! by distance) and the names its boundary carries in other languages and scripts
//! (`name:en`, `name:de`, `int_name`, …: Vienna for Wien, Bozen for Bolzano, Kyiv for
//! Київ), which the search finds.
//!
//! Seeds join boundaries by OSM relation id, as the maps do. A seed without a relation
//! or a country without a boundary file simply has no place: pages then say that their
//! neighbours are listed by name, and search knows only the seed's name.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::seeds::Municipality;

/// Boundary facts of one municipality.
#[derive(Debug, Clone, Default)]
pub struct Place {
    /// Centre of the boundary's bounding box, `[lon, lat]`.
    pub centre: Option<[f64; 2]>,
    /// Other names (other languages and scripts), without the seed's name.
    pub other_names: Vec<String>,
}

/// Places by (country code, OSM relation id).
#[derive(Debug, Default)]
pub struct Places {
    by_relation: HashMap<(&'static str, u64), Place>,
}

/// Most other names kept per municipality (the search index carries each).
const MAX_OTHER_NAMES: usize = 6;

/// Whether a boundary property holds a name worth searching.
fn is_name_key(key: &str) -> bool {
    key.starts_with("name:")
        || matches!(
            key,
            "int_name" | "alt_name" | "official_name" | "short_name"
        )
}

impl Places {
    /// Reads `geodata/{cc}.topo.json` of every country with seeds (in parallel); a
    /// missing or unreadable file leaves that country without places (the maps report
    /// such files; nothing here fails a build).
    pub fn load(municipalities: &[Municipality], geodata: &Path) -> Places {
        let mut wanted: HashMap<&'static str, Vec<(u64, &str)>> = HashMap::new();
        for m in municipalities {
            if let Some(rel) = m.osm_relation_id {
                wanted
                    .entry(m.country.code)
                    .or_default()
                    .push((rel, m.name.as_str()));
            }
        }
        let found: Vec<Vec<((&'static str, u64), Place)>> = wanted
            .into_par_iter()
            .map(|(cc, seeds)| {
                let path = geodata.join(format!("{cc}.topo.json"));
                let Ok(layer) = crate::geo::load_layer(&path) else {
                    return Vec::new();
                };
                seeds
                    .into_iter()
                    .filter_map(|(rel, seed_name)| {
                        let feature = layer.feature_by_relation(rel)?;
                        let centre = layer
                            .bbox([feature])
                            .map(|b| [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]);
                        let mut other_names: Vec<String> = Vec::new();
                        let seed_folded = fold(seed_name);
                        for (key, value) in &feature.properties {
                            let Some(name) = value.as_str().map(str::trim) else {
                                continue;
                            };
                            if (key == "name" || is_name_key(key))
                                && !name.is_empty()
                                && fold(name) != seed_folded
                                && !other_names.iter().any(|n| fold(n) == fold(name))
                                && other_names.len() < MAX_OTHER_NAMES
                            {
                                other_names.push(name.to_string());
                            }
                        }
                        Some((
                            (cc, rel),
                            Place {
                                centre,
                                other_names,
                            },
                        ))
                    })
                    .collect()
            })
            .collect();
        Places {
            by_relation: found.into_iter().flatten().collect(),
        }
    }

    /// The place of a municipality of country `cc` (its static code, as in
    /// [`crate::countries::Country::code`]) with OSM relation `relation`.
    pub fn get(&self, cc: &'static str, relation: Option<u64>) -> Option<&Place> {
        self.by_relation.get(&(cc, relation?))
    }

    /// Number of municipalities with a place.
    pub fn len(&self) -> usize {
        self.by_relation.len()
    }

    /// True when no boundary was read.
    pub fn is_empty(&self) -> bool {
        self.by_relation.is_empty()
    }
}

/// Case- and diacritic-insensitive form of a name (as the search folds it).
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

/// Squared distance on a small patch of the earth (longitudes shrunk by the cosine of
/// the latitude): enough to order neighbours.
pub fn distance2(a: [f64; 2], b: [f64; 2]) -> f64 {
    let k = ((a[1] + b[1]) / 2.0).to_radians().cos();
    let dx = (a[0] - b[0]) * k;
    let dy = a[1] - b[1];
    dx * dx + dy * dy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_other_languages_are_name_keys() {
        assert!(is_name_key("name:en"));
        assert!(is_name_key("int_name"));
        assert!(!is_name_key("admin_level"));
    }

    #[test]
    fn distances_shrink_longitudes_towards_the_poles() {
        // One degree of longitude at 60° N is half a degree of latitude.
        let d = distance2([10.0, 60.0], [11.0, 60.0]);
        assert!((d - 0.25).abs() < 0.01, "{d}");
        assert!(distance2([0.0, 0.0], [0.0, 1.0]) > distance2([0.0, 0.0], [0.5, 0.0]));
    }
}
