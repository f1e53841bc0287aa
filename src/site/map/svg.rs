//! Static SVG of municipality shapes (country, region and security maps): the map
//! without JavaScript, for print and crawlers.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::super::model::{CountryModel, Record, SiteModel, pct};
use super::*;
use crate::classify::Category;
use crate::grade::Letter;

pub(super) fn provider_title(r: &Record, short: bool) -> String {
    if short {
        r.name.clone()
    } else {
        format!(
            "{} — {} ({})",
            r.name,
            r.verdict.provider_name,
            r.verdict.category.label()
        )
    }
}

pub(super) fn municipality_svg(
    model: &SiteModel,
    c: &CountryModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: &str,
    (w, h): (f64, f64),
    short_titles: bool,
) -> String {
    category_svg(
        model,
        joined,
        paths,
        Some(background),
        (&format!("0 0 {w:.0} {h:.0}"), "map"),
        (
            "map-title",
            &format!("Municipalities of {} by provider category", c.country.name),
        ),
        "m/",
        short_titles,
    )
}

/// Municipality shapes grouped and filled by provider category, each linked to
/// `{pages}{slug}/` (`pages`: the way to the country's `m/` folder), over an optional
/// background.
#[allow(clippy::too_many_arguments)]
pub(super) fn category_svg(
    model: &SiteModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: Option<&str>,
    (view_box, class): (&str, &str),
    (title_id, title): (&str, &str),
    pages: &str,
    short_titles: bool,
) -> String {
    let mut by_category: BTreeMap<Category, Vec<(usize, usize)>> = BTreeMap::new();
    for &(i, f) in joined {
        by_category
            .entry(model.records[i].verdict.category)
            .or_default()
            .push((i, f));
    }
    let mut svg = String::with_capacity(joined.len() * 110 + 512);
    let _ = write!(
        svg,
        "<svg class=\"{class}\" viewBox=\"{view_box}\" role=\"group\" aria-labelledby=\"{title_id}\"><title id=\"{title_id}\">{}</title>",
        esc(title)
    );
    if let Some(background) = background {
        let _ = write!(svg, "<path class=\"bg\" d=\"{background}\"/>");
    }
    for (category, shapes) in by_category {
        let _ = write!(
            svg,
            "<g class=\"f-{0}\" data-category=\"{0}\">",
            category.slug()
        );
        for (i, f) in shapes {
            let r = &model.records[i];
            let Some(d) = paths.get(&f) else { continue };
            let _ = write!(
                svg,
                "<a href=\"{pages}{}/\" tabindex=\"-1\"><title>{}</title><path d=\"{d}\"/></a>",
                r.slug,
                esc(&provider_title(r, short_titles)),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// The municipality map again, filled by overall grade (links are relative to
/// `{cc}/security/`).
pub(super) fn grades_svg(
    model: &SiteModel,
    c: &CountryModel,
    joined: &[(usize, usize)],
    paths: &HashMap<usize, String>,
    background: &str,
    (w, h): (f64, f64),
) -> String {
    let mut by_letter: BTreeMap<Letter, Vec<(usize, usize)>> = BTreeMap::new();
    for &(i, f) in joined {
        by_letter
            .entry(model.records[i].grade())
            .or_default()
            .push((i, f));
    }
    let mut svg = String::with_capacity(joined.len() * 90 + background.len() + 512);
    let _ = write!(
        svg,
        "<svg class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"gmap-title\"><title id=\"gmap-title\">Municipalities of {} by security grade</title><path class=\"bg\" d=\"{background}\"/>",
        esc(c.country.name)
    );
    for (letter, shapes) in by_letter {
        let _ = write!(
            svg,
            "<g class=\"f{}\" data-grade=\"{}\">",
            super::super::text::letter_class(letter),
            letter.as_str()
        );
        for (i, f) in shapes {
            let r = &model.records[i];
            let _ = write!(
                svg,
                "<a href=\"../m/{}/\" tabindex=\"-1\"><title>{}</title><path d=\"{}\"/></a>",
                r.slug,
                esc(&format!("{} — grade {}", r.name, letter.as_str())),
                paths[&f]
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

pub(super) fn region_svg(
    c: &CountryModel,
    regions: &[RegionStat],
    region_paths: &HashMap<String, String>,
    (w, h): (f64, f64),
    background: &str,
) -> Option<String> {
    if regions.len() < 2 {
        return None;
    }
    let shapes: Vec<(usize, &String)> = regions
        .iter()
        .enumerate()
        .filter_map(|(k, region)| region_paths.get(&region.name).map(|d| (k, d)))
        .collect();
    if shapes.is_empty() {
        return None;
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"rmap-title\"><title id=\"rmap-title\">Regions of {} by dominant provider category</title><path class=\"bg\" d=\"{background}\"/>",
        esc(c.country.name)
    );
    for (k, d) in shapes {
        let r = &regions[k];
        let (cat, n) = r.dominant;
        let _ = write!(
            svg,
            "<a href=\"{}/\" tabindex=\"-1\"><title>{}</title><path class=\"f-{}\" style=\"fill-opacity:{:.2}\" d=\"{d}\"/></a>",
            r.slug,
            esc(&format!(
                "{}: {} {:.0} % ({n} of {})",
                r.name,
                cat.label(),
                pct(n, r.count),
                r.count
            )),
            cat.slug(),
            0.45 + 0.55 * n as f64 / r.count.max(1) as f64,
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// Category colours for SVG files opened on their own (no page stylesheet).
const STANDALONE_STYLE: &str = "path{stroke:#fff;stroke-width:.3;stroke-linejoin:round}.bg{fill:#e4e4ea;stroke:none}.f-us-hyperscaler{fill:#d55e00}.f-european-provider{fill:#0072b2}.f-local-isp{fill:#56b4e9}.f-independent{fill:#009e73}.f-other-provider{fill:#cc79a7}.f-unknown{fill:#9a9a9a}.small{stroke:#333;stroke-dasharray:2 1}";

/// A level of the country (municipalities, districts or regions) as a static map: each
/// area filled by its (dominant) provider category, linked to its page (`m/{slug}/`
/// for a municipality, the region page for an area) and titled "name — provider —
/// grade" or with the area's shares. Unclassified areas are hatched, never a colour
/// class; areas with fewer than [`super::files::SMALL_SAMPLE`] classified are marked
/// (dashed outline, and said in the title). Links are not tab stops: keyboard users
/// get the tables (and the page's "skip map" link). `standalone`: a file of its own
/// (namespaced, with its own styles).
#[allow(clippy::too_many_arguments)]
pub(super) fn level_svg(
    model: &SiteModel,
    c: &CountryModel,
    level: &super::level_geo::LevelGeo,
    records_by_id: &HashMap<&str, usize>,
    region_slugs: &dyn Fn(&str) -> Option<String>,
    (w, h): (f64, f64),
    background: &str,
    standalone: bool,
) -> String {
    use super::files::{AreaCounts, SMALL_SAMPLE};
    use super::levels::LevelKind;
    let id = format!("lmap-{}", level.kind.slug());
    let hatch = format!("{id}-hatch");
    let mut svg = String::with_capacity(level.areas.len() * 160 + background.len() + 1024);
    let title = format!(
        "{} of {} by provider category",
        level.kind.label(c.country.code),
        c.country.name
    );
    if standalone {
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {h:.0}\"><title>{}</title><style>{STANDALONE_STYLE}</style>",
            esc(&title)
        );
    } else {
        let _ = write!(
            svg,
            "<svg class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{}</title>",
            esc(&title)
        );
    }
    let _ = write!(
        svg,
        "<defs><pattern id=\"{hatch}\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f4f4f6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#8a8a96\" stroke-width=\"1.4\"/></pattern></defs><path class=\"bg\" d=\"{background}\"/>"
    );
    for area in &level.areas {
        let records: Vec<&Record> = area
            .members
            .iter()
            .filter_map(|m| records_by_id.get(m.as_str()).map(|&i| &model.records[i]))
            .collect();
        let Some(first) = records.first() else {
            continue;
        };
        let counts = AreaCounts::of(records.iter().copied());
        let (href, tooltip) = match level.kind {
            LevelKind::Municipalities => {
                let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
                (
                    Some(format!("m/{}/", first.slug)),
                    format!(
                        "{} — {} — grade {}",
                        names.join(", "),
                        first.verdict.provider_name,
                        first.grade().as_str()
                    ),
                )
            }
            kind => {
                let region = if kind == LevelKind::Regions {
                    first.region.clone()
                } else {
                    super::files::majority_region(records.iter().copied())
                };
                let href = region
                    .filter(|_| area.key != super::levels::COUNTRY_KEY)
                    .and_then(|r| region_slugs(&r))
                    .map(|s| format!("{s}/"));
                let mut t = format!(
                    "{}: {} municipalities, {} classified",
                    area.name, counts.n, counts.classified
                );
                if counts.classified > 0 {
                    let _ = write!(
                        t,
                        "; {:.0} % US hyperscalers, {:.0} % domestic",
                        pct(counts.us, counts.classified),
                        pct(counts.domestic, counts.classified)
                    );
                }
                if counts.classified < SMALL_SAMPLE {
                    t.push_str(" (small sample: fewer than 10 classified)");
                }
                (href, t)
            }
        };
        // A municipality's shape takes the colour of the page it links to and names in
        // its tooltip (the first member, when seeds share one boundary); a coarser
        // area the colour of its most common category.
        let own = (level.kind == LevelKind::Municipalities)
            .then_some(first.verdict.category)
            .filter(|c| *c != Category::Unknown)
            .map(|c| (c.slug(), counts.categories.get(c.slug()).unwrap_or(&1)));
        let dominant = if level.kind == LevelKind::Municipalities {
            own
        } else {
            counts
                .categories
                .iter()
                .filter(|(c, _)| **c != Category::Unknown.slug())
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(c, n)| (*c, n))
        };
        let mut class = String::new();
        let mut style = String::new();
        match dominant {
            None => {
                let _ = write!(style, "fill:url(#{hatch})");
            }
            Some((cat, n)) => {
                let _ = write!(class, "f-{cat}");
                if level.kind != LevelKind::Municipalities {
                    let _ = write!(
                        style,
                        "fill-opacity:{:.2}",
                        0.45 + 0.55 * *n as f64 / counts.classified.max(1) as f64
                    );
                }
            }
        }
        if level.kind != LevelKind::Municipalities && counts.classified < SMALL_SAMPLE {
            class.push_str(" small");
        }
        let attrs = format!(
            "{}{}",
            if class.is_empty() {
                String::new()
            } else {
                format!(" class=\"{}\"", class.trim())
            },
            if style.is_empty() {
                String::new()
            } else {
                format!(" style=\"{style}\"")
            }
        );
        match href {
            Some(href) => {
                let _ = write!(
                    svg,
                    "<a href=\"{href}\" tabindex=\"-1\"><title>{}</title><path{attrs} d=\"{}\"/></a>",
                    esc(&tooltip),
                    area.path
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<path{attrs} d=\"{}\"><title>{}</title></path>",
                    area.path,
                    esc(&tooltip)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}
