//! Map levels: which areas a country can be drawn by, which seed municipalities each
//! area holds, and the finest level whose boundaries join.
//!
//! Three levels, each from its own boundary file:
//!
//! - **Municipalities**: a seed joins a feature of `{cc}.topo.json` by its OSM
//!   relation id (or, without one, by a name no other feature has), else a feature of
//!   the supplementary `{cc}.cities.topo.json` (Germany's cities that are their own
//!   district, which the per-state municipality files leave out);
//! - **Districts**: `{cc}.districts.topo.json` by official code: a district whose code
//!   (`DE-01060`, `AT-708`, or Italy's `ref:ISTAT` `084`) is a prefix of the digits of
//!   the seed's id (`DE-01060012`, `AT-70801`, `IT-COM-084001`). The seeds of a region
//!   most of whose municipalities match no district (Italy: Valle d'Aosta has no
//!   province; Sardinia's seeds use the old provinces, the file the new ones) are drawn
//!   by their region's shape instead, so no municipality is left off the level;
//! - **Regions**: the seed's region name against the region file's names (`name`,
//!   `name:*`, `short_name`, ISO 3166-2, with "Province of …" and "… Oblast" folded),
//!   else dissolved from the region's municipality shapes.
//!
//! The finest level is the first of municipalities, districts, regions on which at
//! least [`FINEST_MIN_SHARE`] of the seeds have a shape, else the level with the most.

use std::collections::{BTreeMap, HashMap};

use super::super::slug::slugify;
use crate::geo::{Feature, Layer, Polygon};
use crate::seeds::Municipality;

/// A level is "the finest that joins" when at least this share of the country's
/// municipalities are drawn on it (Italy's 99 of 7,896 on the municipality level are
/// not; Germany's 96 % are).
pub const FINEST_MIN_SHARE: f64 = 0.8;

/// Source layers of a country, by index in [`Sources::layers`].
pub const MUNICIPAL: usize = 0;
/// Supplementary municipality file.
pub const CITIES: usize = 1;
/// District file.
pub const DISTRICTS: usize = 2;
/// Region file.
pub const REGIONS: usize = 3;

/// The level of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelKind {
    /// Regions (admin level 1 of most countries; Spain's seeds: provinces and comarcas).
    Regions,
    /// Districts (Kreise, Bezirke, provinces).
    Districts,
    /// Municipalities.
    Municipalities,
}

impl LevelKind {
    /// URL and file name part.
    pub fn slug(self) -> &'static str {
        match self {
            LevelKind::Regions => "regions",
            LevelKind::Districts => "districts",
            LevelKind::Municipalities => "municipalities",
        }
    }

    /// The level's name in the country's terminology (English).
    pub fn label(self, country: &str) -> &'static str {
        match (self, country) {
            (LevelKind::Regions, "de") => "Länder",
            (LevelKind::Regions, "ua") => "Oblasts",
            (LevelKind::Regions, "es") => "Provinces",
            (LevelKind::Districts, "de") => "Kreise",
            (LevelKind::Districts, "it") => "Provinces",
            (LevelKind::Municipalities, "de") => "Gemeinden",
            (LevelKind::Regions, _) => "Regions",
            (LevelKind::Districts, _) => "Districts",
            (LevelKind::Municipalities, _) => "Municipalities",
        }
    }

    /// Singular noun for the legend footer ("N regions").
    pub fn noun(self) -> &'static str {
        match self {
            LevelKind::Regions => "regions",
            LevelKind::Districts => "districts",
            LevelKind::Municipalities => "municipalities",
        }
    }
}

/// The boundary files of one country.
#[derive(Default)]
pub struct Sources {
    /// `[municipal, cities, districts, regions]`; absent files are `None`.
    pub layers: [Option<Layer>; 4],
}

/// One drawn area of a level.
#[derive(Debug, Clone)]
pub struct Area {
    /// Feature id in the level's TopoJSON (a municipality's seed id, a district code,
    /// `r:` + region slug).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Index of the layer the polygons refer to.
    pub source: usize,
    /// Polygons on that layer's arcs.
    pub polygons: Vec<Polygon>,
    /// Further polygons on other layers' arcs (a region from the region file with its
    /// members' shapes from the cities file, which the region file may leave out).
    pub extra: Vec<(usize, Vec<Polygon>)>,
    /// Members, as indices into the seeds the level was built from.
    pub members: Vec<usize>,
}

/// A level of one country: its areas and how many seeds they hold.
#[derive(Debug, Clone)]
pub struct Level {
    /// Which level.
    pub kind: LevelKind,
    /// Areas with at least one member and a shape.
    pub areas: Vec<Area>,
    /// Seeds drawn (members of some area).
    pub drawn: usize,
    /// Population of the drawn seeds.
    pub drawn_population: u64,
}

impl Level {
    fn new(kind: LevelKind, areas: Vec<Area>, places: &[&Municipality]) -> Level {
        let areas: Vec<Area> = areas
            .into_iter()
            .filter(|a| !a.members.is_empty() && !a.polygons.is_empty())
            .collect();
        let drawn = areas.iter().map(|a| a.members.len()).sum();
        let drawn_population = areas
            .iter()
            .flat_map(|a| &a.members)
            .filter_map(|&m| places.get(m).and_then(|p| p.population))
            .sum();
        Level {
            kind,
            areas,
            drawn,
            drawn_population,
        }
    }
}

/// Digits of a seed id after its country prefix (`IT-COM-084001` → `084001`).
pub fn code_digits(id: &str) -> String {
    id.chars().filter(char::is_ascii_digit).collect()
}

/// The official code of a district feature: `ref:ISTAT`, else the digits of a name
/// like `DE-01060`. `None` for a feature named in words (Great Britain's "England").
pub fn district_code(feature: &Feature) -> Option<String> {
    if let Some(code) = feature.properties.get("ref:ISTAT").and_then(|v| v.as_str())
        && !code.is_empty()
        && code.chars().all(|c| c.is_ascii_digit())
    {
        return Some(code.to_string());
    }
    let name = feature.name.as_deref()?;
    let (prefix, digits) = name.split_once('-')?;
    (prefix.len() == 2
        && prefix.chars().all(|c| c.is_ascii_alphabetic())
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit()))
    .then(|| digits.to_string())
}

/// A name folded for joining areas by name: slug without "province of", "… province",
/// "… oblast" and the like, so "Jaén Province", "Province of Jaén" and "Jaén" meet.
pub fn area_name_key(name: &str) -> String {
    let mut slug = slugify(name);
    for prefix in [
        "province-of-",
        "provincia-de-",
        "provincia-di-",
        "oblast-",
        "region-of-",
    ] {
        if let Some(rest) = slug.strip_prefix(prefix) {
            slug = rest.to_string();
        }
    }
    for suffix in ["-province", "-oblast", "-region", "-county"] {
        if let Some(rest) = slug.strip_suffix(suffix) {
            slug = rest.to_string();
        }
    }
    slug
}

/// Every name of a feature a region may be called by, folded by [`area_name_key`].
fn feature_name_keys(feature: &Feature) -> Vec<String> {
    let mut keys: Vec<String> = feature
        .properties
        .iter()
        .filter(|(k, _)| {
            k.starts_with("name")
                || matches!(
                    k.as_str(),
                    "short_name" | "official_name" | "ISO3166-2" | "int_name" | "alt_name"
                )
        })
        .filter_map(|(_, v)| v.as_str())
        .flat_map(|v| v.split(';'))
        .map(area_name_key)
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Index from name (as slug, `exact`, else folded by [`area_name_key`]) to feature,
/// leaving out names two features share ("Cuenca" and "Cuenca Province" fold to one).
fn name_index(layer: &Layer, exact: bool) -> HashMap<String, Option<usize>> {
    let mut index: HashMap<String, Option<usize>> = HashMap::new();
    for (i, f) in layer.features.iter().enumerate() {
        let keys: Vec<String> = if exact {
            let mut k: Vec<String> = f
                .properties
                .iter()
                .filter(|(k, _)| k.starts_with("name"))
                .filter_map(|(_, v)| v.as_str())
                .map(slugify)
                .collect();
            k.sort();
            k.dedup();
            k
        } else {
            feature_name_keys(f)
        };
        for key in keys {
            index
                .entry(key)
                .and_modify(|e| {
                    if *e != Some(i) {
                        *e = None;
                    }
                })
                .or_insert(Some(i));
        }
    }
    index
}

fn relation_index(layer: &Layer) -> HashMap<u64, usize> {
    let mut index = HashMap::new();
    for (i, f) in layer.features.iter().enumerate() {
        if let Some(r) = f.osm_relation {
            // The first feature of a relation wins (Germany's border municipalities
            // appear in two state files).
            index.entry(r).or_insert(i);
        }
    }
    index
}

/// Municipality level: one area per joined feature, keyed by its first member's id.
pub fn municipality_level(places: &[&Municipality], sources: &Sources) -> Option<Level> {
    let main = sources.layers[MUNICIPAL].as_ref()?;
    let by_relation = relation_index(main);
    let by_name: HashMap<String, Option<usize>> = {
        let mut index: HashMap<String, Option<usize>> = HashMap::new();
        for (i, f) in main.features.iter().enumerate() {
            if let Some(n) = &f.name {
                index
                    .entry(slugify(n))
                    .and_modify(|e| *e = None)
                    .or_insert(Some(i));
            }
        }
        index
    };
    let extra = sources.layers[CITIES].as_ref();
    let extra_by_relation = extra.map(relation_index).unwrap_or_default();
    let mut areas: BTreeMap<(usize, usize), Area> = BTreeMap::new();
    for (k, place) in places.iter().enumerate() {
        let joined = match place.osm_relation_id {
            Some(rel) => by_relation
                .get(&rel)
                .map(|&f| (MUNICIPAL, f))
                .or_else(|| extra_by_relation.get(&rel).map(|&f| (CITIES, f))),
            None => by_name
                .get(&slugify(&place.name))
                .copied()
                .flatten()
                .map(|f| (MUNICIPAL, f)),
        };
        let Some((source, f)) = joined else { continue };
        let layer = if source == MUNICIPAL {
            Some(main)
        } else {
            extra
        };
        let Some(feature) = layer.and_then(|l| l.features.get(f)) else {
            continue;
        };
        areas
            .entry((source, f))
            .or_insert_with(|| Area {
                key: place.id.clone(),
                name: place.name.clone(),
                source,
                polygons: feature.polygons.clone(),
                extra: Vec::new(),
                members: Vec::new(),
            })
            .members
            .push(k);
    }
    Some(Level::new(
        LevelKind::Municipalities,
        areas.into_values().collect(),
        places,
    ))
}

/// Region level: seeds grouped by region name (`groups`: name, slug, member indices),
/// each drawn by the region file's feature of that name, else dissolved from the
/// members' municipality shapes (`municipal`: that level, when there is one).
pub fn region_level(
    places: &[&Municipality],
    groups: &[(String, String, Vec<usize>)],
    sources: &Sources,
    municipal: Option<&Level>,
) -> Option<Level> {
    if groups.is_empty() {
        return None;
    }
    let regions = sources.layers[REGIONS].as_ref();
    let exact = regions.map(|r| name_index(r, true)).unwrap_or_default();
    let folded = regions.map(|r| name_index(r, false)).unwrap_or_default();
    // The seed's name as written, then folded, then each part of a bilingual name
    // ("Sardigna/Sardegna", "Valle d'Aosta / Vallée d'Aoste").
    let lookup = |name: &str| -> Option<usize> {
        exact
            .get(&slugify(name))
            .copied()
            .flatten()
            .or_else(|| folded.get(&area_name_key(name)).copied().flatten())
            .or_else(|| {
                name.split('/')
                    .map(str::trim)
                    .filter(|p| !p.is_empty() && *p != name)
                    .find_map(|p| {
                        exact
                            .get(&slugify(p))
                            .or_else(|| folded.get(&area_name_key(p)))
                            .copied()
                            .flatten()
                    })
            })
    };
    let main = sources.layers[MUNICIPAL].as_ref();
    // Member → its municipality-level feature on the main layer.
    let mut own_shape: HashMap<usize, &Area> = HashMap::new();
    let mut city_shape: HashMap<usize, &Area> = HashMap::new();
    if let Some(level) = municipal {
        for area in level.areas.iter().filter(|a| a.source == CITIES) {
            for &m in &area.members {
                city_shape.insert(m, area);
            }
        }
        for area in level.areas.iter().filter(|a| a.source == MUNICIPAL) {
            for &m in &area.members {
                own_shape.insert(m, area);
            }
        }
    }
    let mut areas = Vec::new();
    for (name, slug, members) in groups {
        let from_file = lookup(name).and_then(|i| regions.and_then(|r| r.features.get(i)));
        let (source, polygons) = match (from_file, main) {
            // Without holes: region files dissolved from municipality files that lack
            // some (Germany's cities that are their own district) have holes there;
            // real enclaves (Berlin in Brandenburg) are drawn on top, smallest last.
            (Some(feature), _) => (
                REGIONS,
                feature
                    .polygons
                    .iter()
                    .map(|p| Polygon {
                        rings: p.rings.iter().take(1).cloned().collect(),
                    })
                    .collect(),
            ),
            (None, Some(main)) => {
                let mut seen = std::collections::HashSet::new();
                let mut polygons: Vec<&Polygon> = Vec::new();
                for m in members {
                    if let Some(area) = own_shape.get(m)
                        && seen.insert(area.key.as_str())
                    {
                        polygons.extend(area.polygons.iter());
                    }
                }
                if polygons.is_empty() {
                    continue;
                }
                (MUNICIPAL, main.topo.dissolve(polygons))
            }
            (None, None) => continue,
        };
        // A dissolved region holds only its members with a shape; one from the file
        // holds them all.
        let group_members = members;
        let members: Vec<usize> = if source == REGIONS {
            members.clone()
        } else {
            members
                .iter()
                .copied()
                .filter(|m| own_shape.contains_key(m))
                .collect()
        };
        // Members drawn from the cities file join their region's shape: the region
        // file (or the dissolve of the main file) leaves them out.
        let cities: Vec<Polygon> = members
            .iter()
            .filter_map(|m| city_shape.get(m))
            .flat_map(|a| a.polygons.iter().cloned())
            .collect();
        let extra = if cities.is_empty() {
            Vec::new()
        } else {
            vec![(CITIES, cities)]
        };
        let members: Vec<usize> = if source == REGIONS {
            members
        } else {
            let cities: Vec<usize> = group_members
                .iter()
                .copied()
                .filter(|m| city_shape.contains_key(m) && !members.contains(m))
                .collect();
            let mut all = members;
            all.extend(cities);
            all
        };
        areas.push(Area {
            key: format!("r:{slug}"),
            name: name.clone(),
            source,
            polygons,
            extra,
            members,
        });
    }
    // Largest first, so enclaves are drawn (and hit) above the region around them.
    let size = |a: &Area| {
        let layer = if a.source == REGIONS { regions } else { main };
        let Some(topo) = layer.map(|l| &l.topo) else {
            return 0.0;
        };
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for p in &a.polygons {
            for pt in p
                .rings
                .first()
                .map(|r| topo.ring_points(r))
                .unwrap_or_default()
            {
                b = [
                    b[0].min(pt[0]),
                    b[1].min(pt[1]),
                    b[2].max(pt[0]),
                    b[3].max(pt[1]),
                ];
            }
        }
        ((b[2] - b[0]) * (b[3] - b[1])).max(0.0)
    };
    areas.sort_by(|a, b| size(b).total_cmp(&size(a)));
    // A single region is no level of its own.
    let level = Level::new(LevelKind::Regions, areas, places);
    (level.areas.len() >= 2 || municipal.is_none()).then_some(level)
}

/// District level by official code (see the module docs), with a region's shape for
/// the seeds of regions most of whose seeds match no district.
pub fn district_level(
    places: &[&Municipality],
    sources: &Sources,
    regions: Option<&Level>,
) -> Option<Level> {
    let districts = sources.layers[DISTRICTS].as_ref()?;
    let mut by_code: HashMap<String, usize> = HashMap::new();
    for (i, f) in districts.features.iter().enumerate() {
        if let Some(code) = district_code(f) {
            by_code.entry(code).or_insert(i);
        }
    }
    let mut lengths: Vec<usize> = by_code.keys().map(String::len).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut areas: BTreeMap<usize, Area> = BTreeMap::new();
    let mut unmatched: Vec<usize> = Vec::new();
    for (k, place) in places.iter().enumerate() {
        let digits = code_digits(&place.id);
        let hit = lengths
            .iter()
            .filter_map(|&n| digits.get(..n))
            .find_map(|prefix| by_code.get(prefix).map(|&f| (prefix.to_string(), f)));
        let Some((code, f)) = hit else {
            unmatched.push(k);
            continue;
        };
        let feature = &districts.features[f];
        areas
            .entry(f)
            .or_insert_with(|| Area {
                key: code,
                name: feature
                    .properties
                    .get("name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                source: DISTRICTS,
                polygons: feature.polygons.clone(),
                extra: Vec::new(),
                members: Vec::new(),
            })
            .members
            .push(k);
    }
    if areas.is_empty() {
        return None;
    }
    let mut areas: Vec<Area> = areas.into_values().collect();
    // Regions most of whose seeds match no district are drawn whole, with all their
    // seeds (Sardinia: one comune matches an old province code, 376 do not).
    if let Some(regions) = regions {
        let mut matched: HashMap<&str, (usize, usize)> = HashMap::new();
        for a in &areas {
            for &m in &a.members {
                if let Some(r) = places[m].region.as_deref() {
                    matched.entry(r).or_default().0 += 1;
                }
            }
        }
        for &m in &unmatched {
            if let Some(r) = places[m].region.as_deref() {
                matched.entry(r).or_default().1 += 1;
            }
        }
        let whole_region = |m: usize| {
            places[m]
                .region
                .as_deref()
                .and_then(|r| matched.get(r))
                .is_some_and(|&(hit, miss)| hit < miss)
        };
        let region_of: HashMap<usize, &Area> = regions
            .areas
            .iter()
            .flat_map(|a| a.members.iter().map(move |&m| (m, a)))
            .collect();
        let mut whole: BTreeMap<String, Area> = BTreeMap::new();
        let mut moved = std::collections::HashSet::new();
        for m in (0..places.len()).filter(|&m| whole_region(m)) {
            let Some(area) = region_of.get(&m) else {
                continue;
            };
            moved.insert(m);
            whole
                .entry(area.key.clone())
                .or_insert_with(|| Area {
                    members: Vec::new(),
                    ..(*area).clone()
                })
                .members
                .push(m);
        }
        for a in &mut areas {
            a.members.retain(|m| !moved.contains(m));
        }
        areas.extend(whole.into_values());
    }
    Some(Level::new(LevelKind::Districts, areas, places))
}

/// The whole country as one area with every seed, from all features of the
/// municipality file (or the region file), for a country where nothing else joins.
pub fn country_level(code: &str, places: &[&Municipality], sources: &Sources) -> Option<Level> {
    let (source, layer) = [MUNICIPAL, REGIONS]
        .into_iter()
        .find_map(|s| sources.layers[s].as_ref().map(|l| (s, l)))?;
    let polygons = layer.dissolve(layer.features.iter());
    let area = Area {
        extra: Vec::new(),
        key: COUNTRY_KEY.to_string(),
        name: places
            .first()
            .map(|p| p.country.name.to_string())
            .unwrap_or_else(|| code.to_uppercase()),
        source,
        polygons,
        members: (0..places.len()).collect(),
    };
    Some(Level::new(LevelKind::Regions, vec![area], places))
}

/// Key of the area that is the whole country ([`country_level`]); it links nowhere.
pub const COUNTRY_KEY: &str = "country";

/// Index of the finest level in `levels` (ordered coarse to fine) that draws at least
/// [`FINEST_MIN_SHARE`] of `total` seeds, else of the one drawing the most (the finer
/// on a tie).
pub fn finest(levels: &[Level], total: usize) -> Option<usize> {
    let share = |l: &Level| l.drawn as f64 / total.max(1) as f64;
    levels
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| share(l) >= FINEST_MIN_SHARE)
        .or_else(|| {
            levels
                .iter()
                .enumerate()
                .rev()
                .max_by(|a, b| a.1.drawn.cmp(&b.1.drawn))
        })
        .map(|(i, _)| i)
}

/// Why the finest level is what it is, in one sentence for the page.
pub fn level_note(levels: &[Level], finest: usize, total: usize) -> String {
    let Some(level) = levels.get(finest) else {
        return String::new();
    };
    let pct = |n: usize| 100.0 * n as f64 / total.max(1) as f64;
    let drawn = format!(
        "{} of {total} municipalities ({:.1} %)",
        level.drawn,
        pct(level.drawn)
    );
    if level.areas.len() == 1 && level.areas[0].key == COUNTRY_KEY {
        return format!(
            "Drawn as one area: neither a municipality nor a region of the seeds joins the boundary file, so the whole country is coloured by the shares of its {total} municipalities."
        );
    }
    match level.kind {
        LevelKind::Municipalities => format!(
            "Drawn by municipality: {drawn} have a boundary of their own (OpenStreetMap relation)."
        ),
        kind => {
            let municipal = levels
                .iter()
                .find(|l| l.kind == LevelKind::Municipalities)
                .map(|l| l.drawn)
                .unwrap_or(0);
            format!(
                "Drawn by {}: the boundary file has a shape for only {municipal} of {total} municipalities ({:.1} %), so each area is coloured by the shares of its municipalities; {drawn} lie in a drawn area.",
                kind.noun(),
                pct(municipal)
            )
        }
    }
}

#[cfg(test)]
mod tests;
