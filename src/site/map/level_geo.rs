//! The levels of a country drawn once, before any verdict is known: per level the
//! TopoJSON file of the interactive map and an SVG path per area for the static map.

use std::path::Path;

use super::levels::{self, Level, LevelKind, Sources};
use super::stats::region_groups;
use crate::geo::{self, Arcs, Frame, Layer, PathEncoder, TopoDetail, TopoFeature};
use crate::seeds::Municipality;

/// Above this many areas the page carries a coarser level inline and links the full
/// map as a file of its own (Germany's 10,700 municipalities: 33,000 DOM nodes).
pub const INLINE_MAX_AREAS: usize = 1200;

/// One area of a prepared level.
#[derive(Debug, Clone)]
pub struct AreaGeo {
    /// Feature id in the TopoJSON.
    pub key: String,
    /// Name.
    pub name: String,
    /// Seed ids of the members.
    pub members: Vec<String>,
    /// SVG path in the country frame.
    pub path: String,
}

/// One prepared level.
#[derive(Debug, Clone)]
pub struct LevelGeo {
    /// Which level.
    pub kind: LevelKind,
    /// Areas in TopoJSON order.
    pub areas: Vec<AreaGeo>,
    /// The level's TopoJSON.
    pub topojson: String,
    /// Seeds in a drawn area, and their population.
    pub drawn: usize,
    /// Population of those.
    pub drawn_population: u64,
}

/// Every level of a country.
#[derive(Debug, Clone, Default)]
pub struct CountryLevels {
    /// Coarse to fine.
    pub levels: Vec<LevelGeo>,
    /// Index of the finest level that joins.
    pub finest: usize,
    /// Index of the level drawn inline on the page.
    pub inline: usize,
    /// Which level is drawn and why, for the page.
    pub note: String,
}

impl CountryLevels {
    /// The finest level, if any.
    pub fn finest(&self) -> Option<&LevelGeo> {
        self.levels.get(self.finest)
    }

    /// Each seed's district on the district level, by seed id, for the region tables
    /// (two "Adelshofen" of Bavaria differ by their district). The seeds carry no
    /// district: it comes from the district file, joined by official code (see
    /// [`levels`]). A district named only by its code (Germany's, Austria's and
    /// Belgium's files: `DE-09179`) is shown by that code; seeds of a region drawn whole
    /// (no district matched) have none. Empty without a district level.
    pub fn districts(&self) -> Districts {
        let mut districts = Districts::default();
        let Some(level) = self.levels.iter().find(|l| l.kind == LevelKind::Districts) else {
            return districts;
        };
        for area in level.areas.iter().filter(|a| !a.key.starts_with("r:")) {
            let coded = area.name.is_empty()
                || area
                    .name
                    .split_once('-')
                    .is_some_and(|(_, digits)| digits == area.key);
            let label = if coded { &area.key } else { &area.name };
            districts.by_codes |= coded;
            for id in &area.members {
                districts.of.insert(id.clone(), label.clone());
            }
        }
        districts
    }
}

/// The district of each seed (see [`CountryLevels::districts`]).
#[derive(Debug, Clone, Default)]
pub struct Districts {
    /// District name (or official code) by seed id.
    pub of: std::collections::HashMap<String, String>,
    /// Some district is known only by its official code.
    pub by_codes: bool,
}

impl Districts {
    /// The table column's heading, empty when no seed has a district.
    pub fn heading(&self) -> &'static str {
        match (self.of.is_empty(), self.by_codes) {
            (true, _) => "",
            (false, true) => "District code",
            (false, false) => "District",
        }
    }
}

fn load(path: &Path) -> Option<Layer> {
    path.is_file().then(|| geo::load_layer(path).ok()).flatten()
}

/// Loads the country's boundary files, builds its levels and draws them in `frame`
/// (`municipal_tolerance`: the page budget's detail for municipality shapes).
pub fn prepare(
    code: &str,
    places: &[&Municipality],
    geodata: &Path,
    frame: &Frame,
    municipal_detail: (f64, u8),
) -> CountryLevels {
    let file = |suffix: &str| load(&geodata.join(format!("{code}{suffix}.topo.json")));
    let sources = Sources {
        layers: [
            file(""),
            file(".cities"),
            file(".districts"),
            file(".regions"),
        ],
    };
    let municipal = levels::municipality_level(places, &sources);
    let groups: Vec<(String, String, Vec<usize>)> = region_groups(
        places
            .iter()
            .enumerate()
            .filter_map(|(k, p)| p.region.as_deref().map(|r| (r, k))),
    );
    let regions = levels::region_level(places, &groups, &sources, municipal.as_ref());
    let districts = levels::district_level(places, &sources, regions.as_ref());
    let mut all: Vec<Level> = [regions, districts, municipal]
        .into_iter()
        .flatten()
        .filter(|l| !l.areas.is_empty())
        .collect();
    // A district level coarser than or as fine as the region level adds nothing.
    if all.len() >= 2
        && all[0].kind == LevelKind::Regions
        && all[1].kind == LevelKind::Districts
        && all[1].areas.len() <= all[0].areas.len()
    {
        all.remove(1);
    }
    // Nothing joins at any level (Azerbaijan: one polygon for the whole country): the
    // country is drawn as one area holding every municipality.
    if all.is_empty()
        && let Some(whole) = levels::country_level(code, places, &sources)
    {
        all.push(whole);
    }
    let Some(finest) = levels::finest(&all, places.len()) else {
        return CountryLevels::default();
    };
    // Levels finer than the finest that joins are left out: they would draw a few
    // scattered shapes (Italy's 99 comuni).
    let note = levels::level_note(&all, finest, places.len());
    all.truncate(finest + 1);
    let bbox = sources.layers.iter().flatten().find_map(|l| l.full_bbox());
    let width = bbox.map(|b| (b[2] - b[0]).abs().max(0.5)).unwrap_or(5.0);
    let arcs: Vec<&dyn Arcs> = sources
        .layers
        .iter()
        .map(|l| match l {
            Some(l) => l as &dyn Arcs,
            None => &EMPTY as &dyn Arcs,
        })
        .collect();
    let prepared: Vec<LevelGeo> = all
        .iter()
        .map(|level| {
            // Finer levels are looked at closer: more detail per degree.
            let pixels = match level.kind {
                LevelKind::Municipalities if level.areas.len() > 5000 => 4000.0,
                LevelKind::Municipalities => 6000.0,
                LevelKind::Districts => 3000.0,
                LevelKind::Regions => 1500.0,
            };
            let tolerance = width / pixels;
            let features: Vec<TopoFeature> = level
                .areas
                .iter()
                .map(|a| TopoFeature {
                    id: a.key.clone(),
                    source: a.source,
                    polygons: &a.polygons,
                    extra: &a.extra,
                })
                .collect();
            let topojson = geo::write_topojson(
                &arcs,
                &features,
                TopoDetail {
                    tolerance_deg: tolerance,
                    step_deg: tolerance / 2.0,
                },
            );
            let mut encoders: Vec<PathEncoder> = arcs
                .iter()
                .enumerate()
                .map(|(s, a)| {
                    let (tol, decimals) =
                        if s == levels::MUNICIPAL && level.kind == LevelKind::Municipalities {
                            municipal_detail
                        } else {
                            (1.0, 0)
                        };
                    PathEncoder::new(*a, frame, tol, decimals)
                })
                .collect();
            let areas = level
                .areas
                .iter()
                .map(|a| AreaGeo {
                    key: a.key.clone(),
                    name: a.name.clone(),
                    members: a.members.iter().map(|&m| places[m].id.clone()).collect(),
                    path: {
                        let mut d = encoders[a.source].path(&a.polygons);
                        for (source, polygons) in &a.extra {
                            d.push_str(&encoders[*source].path(polygons));
                        }
                        d
                    },
                })
                .collect();
            LevelGeo {
                kind: level.kind,
                areas,
                topojson,
                drawn: level.drawn,
                drawn_population: level.drawn_population,
            }
        })
        .collect();
    let inline = (0..=finest)
        .rev()
        .find(|&i| {
            let l = &prepared[i];
            l.areas.len() <= INLINE_MAX_AREAS && (l.drawn >= prepared[finest].drawn || i == 0)
        })
        .unwrap_or(0);
    CountryLevels {
        levels: prepared,
        finest,
        inline,
        note,
    }
}

static EMPTY: geo::Topo = geo::Topo::empty();

#[cfg(test)]
mod tests {
    use super::*;

    fn level(areas: &[(&str, &str, &[&str])]) -> CountryLevels {
        CountryLevels {
            levels: vec![LevelGeo {
                kind: LevelKind::Districts,
                areas: areas
                    .iter()
                    .map(|(key, name, members)| AreaGeo {
                        key: key.to_string(),
                        name: name.to_string(),
                        members: members.iter().map(|m| m.to_string()).collect(),
                        path: String::new(),
                    })
                    .collect(),
                topojson: String::new(),
                drawn: 0,
                drawn_population: 0,
            }],
            ..CountryLevels::default()
        }
    }

    #[test]
    fn districts_by_name_by_code_and_none_for_regions_drawn_whole() {
        // Germany's file names its Kreise only by code; a region drawn whole is no
        // district.
        let de = level(&[
            ("09179", "DE-09179", &["DE-09179111"]),
            ("r:saarland", "Saarland", &["DE-10041100"]),
        ])
        .districts();
        assert_eq!(de.of.get("DE-09179111").map(String::as_str), Some("09179"));
        assert!(!de.of.contains_key("DE-10041100"));
        assert_eq!(de.heading(), "District code");
        // Italy's provinces have names.
        let it = level(&[("084", "Agrigento", &["IT-COM-084001"])]).districts();
        assert_eq!(it.of["IT-COM-084001"], "Agrigento");
        assert_eq!(it.heading(), "District");
        // No district level: no column.
        assert_eq!(CountryLevels::default().districts().heading(), "");
    }
}
