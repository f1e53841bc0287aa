//! The Europe maps: one shape per country, coloured by a share of its classified
//! municipalities; the sequential classes shared with the legends.

use std::fmt::Write as _;

use super::super::model::{CountryModel, SiteModel, pct};
use super::*;
use crate::geo::{Feature, Frame, Layer, MERGE_TOLERANCE_M, PathEncoder};

/// The country's shape on the Europe map.
pub(super) fn europe_shape(
    code: &str,
    layer: &Layer,
    regions: Option<&Layer>,
    europe: &Frame,
) -> Option<String> {
    let source = match regions {
        Some(r) if PARTIAL_MUNICIPALITY_FILES.contains(&code) => r,
        _ => layer,
    };
    let territory: Vec<&Feature> = source.features.iter().filter(|f| is_territory(f)).collect();
    let core = source.core_bbox(territory.iter().copied(), 400.0)?;
    let inside = territory
        .into_iter()
        .filter(|f| overlaps(source.bbox([*f]), core));
    let outline = source.outline(inside, MERGE_TOLERANCE_M * 3.0);
    let d = PathEncoder::new(&outline, europe, 0.6, 0).path(&outline.polygons);
    (!d.is_empty()).then_some(d)
}

/// Legend of a sequential scale of shares (`class` is [`share_class`] or
/// [`good_class`]): CSS class and range per step.
pub fn share_legend(class: fn(f64) -> &'static str) -> Vec<(&'static str, String)> {
    (0..SHARE_CLASSES.len())
        .map(|i| {
            (
                class((i * 20) as f64),
                format!("{}–{} %", i * 20, (i + 1) * 20),
            )
        })
        .collect()
}

/// Class of a share on the sequential scale.
pub fn share_class(share_pct: f64) -> &'static str {
    SHARE_CLASSES
        .iter()
        .find(|(upper, _)| share_pct < *upper)
        .map(|(_, c)| *c)
        .unwrap_or("s4")
}

/// A Europe map with one shape per country, linked to `link(country)`, filled and
/// titled by `measure(country)` (CSS class, tooltip).
pub(super) fn europe_choropleth(
    model: &SiteModel,
    countries: &[CountryMaps],
    (id, title): (&str, &str),
    link: impl Fn(&CountryModel) -> String,
    measure: impl Fn(&CountryModel) -> (&'static str, String),
) -> String {
    let (w, h) = europe_frame().view_box();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"map europe\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"group\" aria-labelledby=\"{id}\"><title id=\"{id}\">{title}</title><defs><pattern id=\"{id}-hatch\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f4f4f6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#8a8a96\" stroke-width=\"1.4\"/></pattern></defs>"
    );
    for (c, maps) in model.countries.iter().zip(countries) {
        let Some(d) = &maps.europe_path else { continue };
        let (class, tooltip) = measure(c);
        // No data is hatched, never a colour class.
        let style = if class == "nodata" {
            format!(" style=\"fill:url(#{id}-hatch)\"")
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            "<a href=\"{}\" tabindex=\"-1\"><title>{}</title><path class=\"{class}\"{style} d=\"{d}\"/></a>",
            link(c),
            esc(&tooltip),
        );
    }
    // Countries outside the 47, labelled so their gap is explained.
    let frame = europe_frame();
    for (name, lon, lat) in super::files::CONTEXT {
        let (x, y) = frame.point(lon, lat);
        let _ = write!(
            svg,
            "<text class=\"context\" x=\"{x:.0}\" y=\"{y:.0}\" text-anchor=\"middle\" font-size=\"11\">{} (not covered)</text>",
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What a Europe share map counts among each country's classified municipalities.
#[derive(Debug, Clone, Copy)]
pub enum ClassifiedShare {
    /// On Microsoft, Google or Amazon (reds: more is worse).
    UsHyperscaler,
    /// With a provider seated in the same country (greens).
    Domestic,
}

/// The Europe map by a share of classified municipalities; links relative to the site
/// root.
pub fn europe_share_map(
    model: &SiteModel,
    countries: &[CountryMaps],
    share: ClassifiedShare,
) -> String {
    type Count = fn(&super::super::model::Stats) -> usize;
    let (id, what, count, class): (&str, &str, Count, fn(f64) -> &'static str) = match share {
        ClassifiedShare::UsHyperscaler => (
            "emap-title",
            "on US hyperscalers",
            |s| s.us_hyperscaler,
            share_class,
        ),
        ClassifiedShare::Domestic => (
            "edmap-title",
            "with a domestic provider",
            |s| s.domestic,
            good_class,
        ),
    };
    let title = format!("Share of classified municipalities {what}, per country");
    europe_choropleth(
        model,
        countries,
        (id, &title),
        |c| c.page.clone(),
        |c| share_of_classified(c, count(&c.stats), what, class),
    )
}

/// Class and tooltip of a country by `count` out of its classified municipalities.
pub(super) fn share_of_classified(
    c: &CountryModel,
    count: usize,
    what: &str,
    class: fn(f64) -> &'static str,
) -> (&'static str, String) {
    // Nothing classified is no share at all: hatched, never the lowest class (Malta).
    if c.stats.classified == 0 {
        return (
            "nodata",
            format!("{}: no municipality classified", c.country.name),
        );
    }
    let share = pct(count, c.stats.classified);
    let small = if c.stats.classified < super::files::SMALL_SAMPLE {
        " — small sample"
    } else {
        ""
    };
    (
        class(share),
        format!(
            "{}: {share:.0} % {what} ({count} of {} classified){small}",
            c.country.name, c.stats.classified
        ),
    )
}

/// The Europe map by the share of graded municipalities with grade B or better;
/// countries where nothing could be graded are left unfilled. Links go to each
/// country's security page, relative to `root` (the page's way back to the site root).
pub fn europe_grades_map(model: &SiteModel, countries: &[CountryMaps], root: &str) -> String {
    europe_choropleth(
        model,
        countries,
        (
            "egmap-title",
            "Share of graded municipalities with security grade B or better, per country",
        ),
        |c| format!("{root}{}security/", c.page),
        |c| {
            let s = &c.stats;
            if s.graded == 0 {
                (
                    "nodata",
                    format!("{}: no municipality could be graded", c.country.name),
                )
            } else {
                let share = pct(s.grade_b_or_better, s.graded);
                (
                    good_class(share),
                    format!(
                        "{}: {share:.0} % graded B or better ({} of {} graded)",
                        c.country.name, s.grade_b_or_better, s.graded
                    ),
                )
            }
        },
    )
}

/// Class of a "good" share (grade ≥ B) on the sequential green scale.
pub fn good_class(share_pct: f64) -> &'static str {
    match share_class(share_pct) {
        "s0" => "q0",
        "s1" => "q1",
        "s2" => "q2",
        "s3" => "q3",
        _ => "q4",
    }
}
