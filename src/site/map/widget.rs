//! What a page's map section shows: the interactive map's configuration (read by
//! `map.js`) over the static SVG it replaces when JavaScript runs.

use serde_json::Value;

/// The map section of the overview, a country or a region page
/// (`templates/map_widget.html`).
#[derive(Debug, Clone, Default)]
pub struct MapWidget {
    /// Configuration for `map.js`, JSON (empty: no interactive map).
    pub config: String,
    /// The static map (inline SVG).
    pub svg: Option<String>,
    /// The static map's caption.
    pub caption: String,
    /// Which level is drawn and why.
    pub note: String,
    /// The full-resolution static map, when the page carries a coarser one.
    pub full_href: Option<String>,
}

impl MapWidget {
    /// A widget for `config` (with the page's region, if any) over `svg`.
    pub fn new(
        config: Option<&Value>,
        region: Option<(&str, &str)>,
        svg: Option<String>,
    ) -> MapWidget {
        let config = config
            .map(|c| {
                let mut c = c.clone();
                if let (Some((slug, name)), Some(obj)) = (region, c.as_object_mut()) {
                    obj.insert("region".into(), serde_json::json!([slug, name]));
                }
                c.to_string()
            })
            .unwrap_or_default();
        MapWidget {
            config,
            svg,
            ..MapWidget::default()
        }
    }
}
