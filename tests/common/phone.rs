//! Phone-width checks of built pages (issue 18, "phones first"): each page is loaded
//! at 360 px in headless Chromium, inside an iframe of a probe page written into the
//! site, and the probe reports every element that reaches past the right edge without
//! a scroll container (`overflow-x: auto|scroll|hidden`) around it. The page itself
//! must never scroll sideways; a wide table may, inside its own container.

use std::path::Path;
use std::time::Duration;

use super::{StaticServer, run};

/// Width of the phone viewport, in CSS pixels.
pub const PHONE: u32 = 360;

/// The probe: loads each page in turn and writes one JSON line per page into `#out`.
const PROBE: &str = r#"<!doctype html><meta charset="utf-8"><title>probe</title>
<iframe id="f" style="width:360px;height:700px;border:0"></iframe><pre id="out"></pre>
<script>
const pages = PAGES;
const out = document.getElementById('out');
const f = document.getElementById('f');
let i = 0;
function next() {
  if (i >= pages.length) { out.setAttribute('data-done', '1'); return; }
  f.onload = () => {
    const d = f.contentDocument;
    const vw = d.documentElement.clientWidth;
    const bad = [];
    for (const e of d.body.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.right <= vw + 0.5) continue;
      let contained = false;
      for (let a = e.parentElement; a && a !== d.body; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') { contained = true; break; }
      }
      if (!contained && getComputedStyle(e).position !== 'absolute') {
        bad.push(e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '') + ' ' + Math.round(r.right) + 'px');
      }
    }
    out.textContent += JSON.stringify({page: pages[i], scroll: d.documentElement.scrollWidth, viewport: vw, bad: bad.slice(0, 5)}) + '\n';
    i++;
    next();
  };
  f.src = pages[i];
}
next();
</script>"#;

/// One page's result.
#[derive(Debug)]
pub struct PhoneFit {
    /// Path of the page.
    pub page: String,
    /// The page's scroll width at 360 px.
    pub scroll: u64,
    /// Elements past the right edge outside a scroll container (at most five).
    pub bad: Vec<String>,
}

impl PhoneFit {
    /// True when nothing sticks out and the page does not scroll sideways.
    pub fn fits(&self) -> bool {
        self.scroll <= u64::from(PHONE) && self.bad.is_empty()
    }
}

/// Loads `pages` (paths relative to the site root, e.g. `de/`) at 360 px in
/// `browser`, serving `site` on loopback; returns one result per page.
pub fn check(browser: &Path, site: &Path, pages: &[String]) -> Vec<PhoneFit> {
    let probe = site.join("phone-probe.html");
    let list = serde_json::to_string(&pages.iter().map(|p| format!("/{p}")).collect::<Vec<_>>())
        .expect("page list");
    std::fs::write(&probe, PROBE.replace("PAGES", &list)).expect("probe page");
    let server = StaticServer::start(site);
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = std::process::Command::new(browser);
    cmd.args(super::CHROMIUM_OFFLINE)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!(
            "--virtual-time-budget={}",
            10_000 + 3_000 * pages.len()
        ))
        .arg("--dump-dom")
        .arg(format!("{}phone-probe.html", server.base));
    let out = run(cmd, Duration::from_secs(120 + 10 * pages.len() as u64));
    let _ = std::fs::remove_file(&probe);
    let dom = String::from_utf8_lossy(&out.stdout);
    let text = dom
        .split_once("<pre id=\"out\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(text, _)| text.replace("&quot;", "\"").replace("&amp;", "&"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| PhoneFit {
            page: v["page"].as_str().unwrap_or_default().to_string(),
            scroll: v["scroll"].as_u64().unwrap_or(u64::MAX),
            bad: v["bad"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|b| b.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
