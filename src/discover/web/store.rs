//! The web cache: website visits by URL, in a JSON file next to the scan cache
//! (`<cache stem>.web.json`), so `mxmap render` replays the visits of the last build and
//! a rerun within the TTL does not fetch again. Written atomically (temporary file,
//! then rename); a missing file is an empty cache, a damaged one an error naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Visit;

/// Format version of the file.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    visits: BTreeMap<String, Visit>,
}

/// Visits by website URL.
#[derive(Debug, Default, Clone)]
pub struct WebStore {
    visits: BTreeMap<String, Arc<Visit>>,
}

impl WebStore {
    /// The web cache that belongs to the scan cache `cache`.
    pub fn path_for(cache: &Path) -> PathBuf {
        let stem = cache
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scan-cache".into());
        cache.with_file_name(format!("{stem}.web.json"))
    }

    /// Loads `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<WebStore> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WebStore::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the web cache {}", path.display()));
            }
        };
        let file: File = serde_json::from_str(&text).with_context(|| {
            format!(
                "the web cache {} is damaged (delete it to start afresh)",
                path.display()
            )
        })?;
        anyhow::ensure!(
            file.version == VERSION,
            "the web cache {} has format {} (expected {VERSION}); delete it to start afresh",
            path.display(),
            file.version
        );
        Ok(WebStore {
            visits: file
                .visits
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect(),
        })
    }

    /// Writes the store to `path` atomically. An empty store writes nothing (no file
    /// appears for runs without websites).
    pub fn save(&self, path: &Path) -> Result<()> {
        if self.visits.is_empty() {
            return Ok(());
        }
        let file = File {
            version: VERSION,
            visits: self
                .visits
                .iter()
                .map(|(k, v)| (k.clone(), (**v).clone()))
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file).context("serialising the web cache")?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    }

    /// The visit of a URL.
    pub fn get(&self, url: &str) -> Option<&Arc<Visit>> {
        self.visits.get(url)
    }

    /// Records a visit.
    pub fn insert(&mut self, url: String, visit: Arc<Visit>) {
        self.visits.insert(url, visit);
    }

    /// Number of visits.
    pub fn len(&self) -> usize {
        self.visits.len()
    }

    /// True without visits.
    pub fn is_empty(&self) -> bool {
        self.visits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("d.json");
        let path = WebStore::path_for(&cache);
        assert_eq!(path, dir.path().join("d.web.json"));
        assert!(WebStore::load(&path).unwrap().is_empty());
        let mut s = WebStore::default();
        s.save(&path).unwrap();
        assert!(!path.exists(), "an empty store writes no file");
        s.insert(
            "https://x.de/".into(),
            Arc::new(Visit {
                url: "https://x.de/".into(),
                at: 5,
                final_url: None,
                redirects: vec![],
                pages: vec![],
                addresses: vec![],
                parked: false,
                notes: vec!["n".into()],
            }),
        );
        s.save(&path).unwrap();
        let back = WebStore::load(&path).unwrap();
        assert_eq!(back.get("https://x.de/").unwrap().notes, ["n"]);
        std::fs::write(&path, "{").unwrap();
        let err = WebStore::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("d.web.json") && err.contains("damaged"),
            "{err}"
        );
    }
}
