//! What changed between runs: `changes/` (per run, newest first), its Atom feed
//! `changes/feed.xml`, the timeline on each municipality page and the trend line on
//! each country page — all from [`crate::history`].

use super::filters;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use askama::Template;

use super::map::esc as xml_escape;
use super::model::{Meta, SiteModel, pct};
use crate::history::{ChangeKind, History, Run};

/// Changes shown per run on the changes page (the feed and data keep counts).
const SHOWN_PER_RUN: usize = 500;
/// Runs in the feed.
const FEED_RUNS: usize = 50;

/// One run on the changes page.
pub struct RunView<'a> {
    /// ISO time.
    pub generated: &'a str,
    /// Anchor.
    pub anchor: String,
    /// First run.
    pub baseline: bool,
    /// Counts per kind (label, count).
    pub counts: Vec<(&'static str, usize)>,
    /// (kind label, name, page, before, after).
    pub changes: Vec<(&'static str, &'a str, &'a str, &'a str, &'a str)>,
    /// Changes not shown.
    pub more: usize,
    /// The run's own page, relative to `changes/`.
    pub href: String,
}

/// Folder of a run's own page under `changes/`: `{date}-{hhmmss}` (several runs a day
/// stay apart; the name never changes once published).
fn run_slug(generated: &str) -> String {
    let digits: String = generated.chars().filter(char::is_ascii_digit).collect();
    match (
        digits.get(..4),
        digits.get(4..6),
        digits.get(6..8),
        digits.get(8..14),
    ) {
        (Some(y), Some(m), Some(d), Some(time)) => format!("{y}-{m}-{d}-{time}"),
        _ => format!("run-{digits}"),
    }
}

/// Path of a run's own page from the site root: `changes/{date}-{hhmmss}/`.
pub fn run_path(generated: &str) -> String {
    format!("changes/{}/", run_slug(generated))
}

/// A run as shown, with at most `limit` of its changes.
fn view(run: &Run, limit: usize) -> RunView<'_> {
    RunView {
        generated: &run.generated,
        anchor: anchor(&run.generated),
        baseline: run.baseline,
        counts: counts(run),
        changes: run
            .changes
            .iter()
            .take(limit)
            .map(|c| {
                (
                    c.kind.label(),
                    c.name.as_str(),
                    c.page.as_str(),
                    c.before.as_str(),
                    c.after.as_str(),
                )
            })
            .collect(),
        more: run.changes.len().saturating_sub(limit),
        href: format!("{}/", run_slug(&run.generated)),
    }
}

fn counts(run: &Run) -> Vec<(&'static str, usize)> {
    [
        ChangeKind::Provider,
        ChangeKind::Grade,
        ChangeKind::Mx,
        ChangeKind::New,
        ChangeKind::Removed,
    ]
    .into_iter()
    .map(|k| {
        (
            k.label(),
            run.changes.iter().filter(|c| c.kind == k).count(),
        )
    })
    .collect()
}

fn anchor(generated: &str) -> String {
    format!("run-{}", generated.replace([':', '-'], "").to_lowercase())
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    runs: Vec<RunView<'a>>,
}

/// `changes/index.html`.
pub fn page(model: &SiteModel) -> Result<String> {
    let runs = model
        .history
        .runs
        .iter()
        .rev()
        .map(|run| view(run, SHOWN_PER_RUN))
        .collect();
    ChangesPage {
        root: "../",
        path: "changes/".into(),
        meta: &model.meta,
        runs,
    }
    .render()
    .context("rendering the changes page")
}

#[derive(Template)]
#[template(path = "changes_run.html")]
struct RunPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    run: RunView<'a>,
    /// The run before and the run after (link relative to this page, time).
    older: Option<(String, &'a str)>,
    newer: Option<(String, &'a str)>,
}

/// `changes/{run}/index.html` for every run on record: all of its changes, with links
/// to the runs before and after. (path of the page, HTML).
pub fn run_pages(model: &SiteModel) -> Result<Vec<(String, String)>> {
    let runs = &model.history.runs;
    fn link(run: &Run) -> (String, &str) {
        (
            format!("../{}/", run_slug(&run.generated)),
            run.generated.as_str(),
        )
    }
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let path = run_path(&run.generated);
            let html = RunPage {
                root: "../../",
                path: path.clone(),
                meta: &model.meta,
                run: view(run, usize::MAX),
                older: i.checked_sub(1).map(|k| link(&runs[k])),
                newer: runs.get(i + 1).map(link),
            }
            .render()
            .with_context(|| format!("rendering {path}"))?;
            Ok((format!("{path}index.html"), html))
        })
        .collect()
}

/// Title and plain-text body of one run's feed entry (Atom and JSON Feed).
fn entry_text(run: &crate::history::Run) -> (String, String) {
    let summary: Vec<String> = counts(run)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| format!("{n} × {label}"))
        .collect();
    let title = if run.baseline {
        "First run on record".to_string()
    } else if summary.is_empty() {
        "No changes".to_string()
    } else {
        summary.join(", ")
    };
    let mut body = String::new();
    for c in run.changes.iter().take(SHOWN_PER_RUN) {
        let _ = writeln!(
            body,
            "{} — {}: {} → {}",
            c.name,
            c.kind.label(),
            if c.before.is_empty() {
                "—"
            } else {
                &c.before
            },
            if c.after.is_empty() { "—" } else { &c.after }
        );
    }
    (title, body)
}

/// `changes/feed.json`: the same entries as the Atom feed, as JSON Feed 1.1.
pub fn json_feed(model: &SiteModel) -> Vec<u8> {
    let base = &model.meta.site_url;
    let items: Vec<serde_json::Value> = model
        .history
        .runs
        .iter()
        .rev()
        .take(FEED_RUNS)
        .map(|run| {
            let (title, body) = entry_text(run);
            // The id stays what it was before runs had pages of their own.
            let id = format!("{base}changes/#{}", anchor(&run.generated));
            serde_json::json!({
                "id": id,
                "url": format!("{base}{}", run_path(&run.generated)),
                "title": format!("{title} ({})", run.generated),
                "content_text": body,
                "date_published": run.generated,
            })
        })
        .collect();
    let feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "mxmap: changes per run",
        "home_page_url": format!("{base}changes/"),
        "feed_url": format!("{base}changes/feed.json"),
        "items": items,
    });
    serde_json::to_vec_pretty(&feed).unwrap_or_default()
}

/// `changes/feed.xml`: one Atom entry per run.
pub fn feed(model: &SiteModel) -> Vec<u8> {
    let base = &model.meta.site_url;
    let history: &History = &model.history;
    let updated = history
        .runs
        .last()
        .map(|r| r.generated.as_str())
        .unwrap_or(model.meta.generated.as_str());
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let _ = writeln!(xml, "<title>mxmap: changes per run</title>");
    let _ = writeln!(xml, "<id>{}changes/</id>", xml_escape(base));
    let _ = writeln!(
        xml,
        "<link rel=\"self\" href=\"{}changes/feed.xml\"/>\n<link href=\"{}changes/\"/>",
        xml_escape(base),
        xml_escape(base)
    );
    let _ = writeln!(xml, "<updated>{}</updated>", xml_escape(updated));
    let _ = writeln!(xml, "<author><name>mxmap</name></author>");
    for run in history.runs.iter().rev().take(FEED_RUNS) {
        let a = anchor(&run.generated);
        let (title, body) = entry_text(run);
        let _ = writeln!(
            xml,
            "<entry><title>{} ({})</title><id>{}changes/#{a}</id><link href=\"{}{}\"/><updated>{}</updated><content type=\"text\">{}</content></entry>",
            xml_escape(&title),
            xml_escape(&run.generated),
            xml_escape(base),
            xml_escape(base),
            xml_escape(&run_path(&run.generated)),
            xml_escape(&run.generated),
            xml_escape(&body)
        );
    }
    xml.push_str("</feed>\n");
    xml.into_bytes()
}

/// A municipality's timeline: (run time, kind, before, after), oldest first.
pub fn timeline<'a>(
    model: &'a SiteModel,
    id: &str,
) -> Vec<(&'a str, &'static str, &'a str, &'a str)> {
    model
        .history
        .timeline(id)
        .into_iter()
        .map(|(run, c)| {
            (
                run.generated.as_str(),
                c.kind.label(),
                c.before.as_str(),
                c.after.as_str(),
            )
        })
        .collect()
}

/// Inline SVG trend line of a country's US-hyperscaler share over the runs (percent of
/// classified), with a text alternative; `None` with fewer than two runs.
pub fn sparkline(model: &SiteModel, cc: &str) -> Option<(String, String)> {
    let points: Vec<(&str, f64)> = model
        .history
        .runs
        .iter()
        .filter_map(|r| {
            r.countries
                .get(cc)
                .map(|p| (r.generated.as_str(), pct(p.us_hyperscaler, p.classified)))
        })
        .collect();
    if points.len() < 2 {
        return None;
    }
    let (w, h) = (160.0, 32.0);
    let step = w / (points.len() - 1) as f64;
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", i as f64 * step, h - (v / 100.0) * h))
        .collect();
    let text = points
        .iter()
        .map(|(t, v)| format!("{}: {v:.1} %", &t[..10.min(t.len())]))
        .collect::<Vec<_>>()
        .join("; ");
    let svg = format!(
        "<svg class=\"spark\" viewBox=\"-2 -2 {} {}\" width=\"164\" height=\"36\" role=\"img\" aria-label=\"US-hyperscaler share per run: {}\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        w + 4.0,
        h + 4.0,
        xml_escape(&text),
        coords.join(" ")
    );
    Some((svg, text))
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_paths_are_stable_and_distinct_within_a_day() {
        assert_eq!(
            super::run_path("2026-12-03T07:31:20Z"),
            "changes/2026-12-03-073120/"
        );
        assert_ne!(
            super::run_path("2026-12-03T07:31:20Z"),
            super::run_path("2026-12-03T19:02:00Z")
        );
    }
}
