//! Regions of a country: grouping of the seeds by region name (with URL slugs), their
//! statistics, and the coverage sentence of the country page.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::super::model::{CountryModel, SiteModel, pct};
use super::super::slug::slugify;
use super::*;
use crate::classify::Category;
use crate::countries::Country;
use crate::grade::Letter;
use crate::seeds::Municipality;

pub(super) fn coverage(
    country: &Country,
    maps: &CountryMaps,
    total: usize,
    partial: bool,
) -> String {
    let rate = pct(maps.shapes, total);
    let mut text = format!(
        "{} of {} municipalities ({rate:.1} %) are drawn on the map.",
        maps.shapes, total
    );
    let overseas = maps.joined - maps.shapes;
    if overseas > 0 {
        let _ = write!(
            text,
            " {overseas} lie outside the mainland frame (overseas)."
        );
    }
    let note = match country.code {
        "it" | "es" => Some(
            "The boundary file covers only an older, shorter list of municipalities; the background shows the regions.",
        ),
        "ua" => Some(
            "The boundary file holds oblasts while the seed lists raions, so raions cannot be placed.",
        ),
        "az" => Some("The boundary file holds a single polygon for the whole country."),
        "rs" | "am" => Some(
            "Most seed entries carry no OpenStreetMap relation id; they are joined by name where the name is unique.",
        ),
        _ if partial => Some("The boundary file covers only part of the country."),
        _ => None,
    };
    if let Some(note) = note {
        text.push(' ');
        text.push_str(note);
    }
    if !maps.unmapped.is_empty() {
        text.push_str(" Municipalities without a shape are listed below the map.");
    }
    text
}

/// Groups items by region name (sorted by name) and gives each group its URL slug:
/// the same slugs for the geometry (from the seeds) and the statistics (from the
/// model), so region shapes and pages line up.
pub(in crate::site::map) fn region_groups<'a, T>(
    items: impl IntoIterator<Item = (&'a str, T)>,
) -> Vec<(String, String, Vec<T>)> {
    let mut regions: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (region, item) in items {
        regions.entry(region).or_default().push(item);
    }
    let mut groups: Vec<(String, String, Vec<T>)> = regions
        .into_iter()
        .map(|(name, items)| {
            let mut slug = slugify(name);
            if matches!(slug.as_str(), "m" | "a-z" | "security" | "anomalies" | "") {
                slug = format!("region-{slug}");
            }
            (name.to_string(), slug, items)
        })
        .collect();
    // Distinct names can fold to one slug; keep URLs unique.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, slug, _) in &mut groups {
        let n = seen.entry(slug.clone()).or_default();
        *n += 1;
        if *n > 1 {
            *slug = format!("{slug}-{n}");
        }
    }
    groups
}

/// A region of the seeds: name, slug, members.
pub(super) type RegionGroup<'a> = (String, String, Vec<&'a Municipality>);

pub(super) fn region_stats(model: &SiteModel, c: &CountryModel) -> Vec<RegionStat> {
    let groups = region_groups(
        c.records
            .iter()
            .filter_map(|&i| model.records[i].region.as_deref().map(|r| (r, i))),
    );
    groups
        .into_iter()
        .map(|(name, slug, records)| {
            let mut counts: BTreeMap<Category, usize> = BTreeMap::new();
            let (mut us, mut domestic, mut classified) = (0, 0, 0);
            let (mut graded, mut good) = (0, 0);
            for &i in &records {
                if let Some(rank) = model.records[i].grade().rank() {
                    graded += 1;
                    good += usize::from(rank >= Letter::B.rank().unwrap_or(u8::MAX));
                }
                let v = &model.records[i].verdict;
                *counts.entry(v.category).or_default() += 1;
                if v.category != Category::Unknown {
                    classified += 1;
                }
                if v.category == Category::UsHyperscaler {
                    us += 1;
                }
                if v.jurisdiction == crate::classify::Jurisdiction::Domestic {
                    domestic += 1;
                }
            }
            let dominant = counts
                .iter()
                .map(|(&c, &n)| (c, n))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((Category::Unknown, 0));
            RegionStat {
                slug,
                name,
                count: records.len(),
                classified,
                by_category: counts,
                dominant,
                us,
                domestic,
                graded,
                good,
                records,
            }
        })
        .collect()
}
