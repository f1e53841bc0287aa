//! Run history: every published run leaves a compact snapshot (provider, grade and MX
//! set per municipality, shares per country) and the list of what changed since the
//! run before — provider switches, grade changes, new and removed municipalities.
//!
//! The history lives beside the scan cache (`.mxmap/history/` by default), never in the
//! site's source repository. Change files are small and kept for every run; only the
//! latest full snapshot is needed to compute the next diff, so older snapshots are
//! pruned.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Full snapshots kept (the newest is the base of the next diff).
const SNAPSHOTS_KEPT: usize = 3;

/// What a snapshot remembers of one municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Name.
    pub name: String,
    /// Country code.
    pub country: String,
    /// Page path.
    pub page: String,
    /// Provider slug.
    pub provider: String,
    /// Provider display name.
    pub provider_name: String,
    /// Published grade letter (`?`/`—` when none).
    pub grade: String,
    /// MX hosts, sorted, joined with spaces.
    pub mx: String,
}

/// Shares of one country in one run, for trend lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CountryPoint {
    /// Municipalities.
    pub municipalities: usize,
    /// Classified (denominator of the US share).
    pub classified: usize,
    /// On US hyperscalers.
    pub us_hyperscaler: usize,
    /// With a measured grade.
    pub graded: usize,
    /// Graded B or better.
    pub grade_b_or_better: usize,
    /// With a domain (0 in histories written before it was kept).
    #[serde(default)]
    pub with_domain: usize,
    /// Whose domain does not exist (for the quality gate's collapse rule).
    #[serde(default)]
    pub nxdomain: usize,
    /// Whose scan failed.
    #[serde(default)]
    pub failed: usize,
}

/// A full snapshot of one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// ISO time of the run.
    pub generated: String,
    /// Municipalities by seed id.
    pub entries: BTreeMap<String, Entry>,
}

/// Kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The provider changed.
    Provider,
    /// The published grade changed.
    Grade,
    /// The MX set changed (same provider).
    Mx,
    /// A municipality appeared in the seeds.
    New,
    /// A municipality left the seeds.
    Removed,
}

impl ChangeKind {
    /// Label for pages.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Provider => "provider switch",
            ChangeKind::Grade => "grade change",
            ChangeKind::Mx => "MX change",
            ChangeKind::New => "new municipality",
            ChangeKind::Removed => "removed municipality",
        }
    }
}

/// One change of one municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Seed id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Country code.
    pub country: String,
    /// Page path (of the current run, or the last one for removed municipalities).
    pub page: String,
    /// Kind.
    pub kind: ChangeKind,
    /// Before (display text).
    pub before: String,
    /// After (display text).
    pub after: String,
}

/// What one run changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Run {
    /// ISO time of the run.
    pub generated: String,
    /// The first run on record: nothing to compare with.
    pub baseline: bool,
    /// Changes since the previous run.
    pub changes: Vec<Change>,
    /// Country shares in this run.
    pub countries: BTreeMap<String, CountryPoint>,
}

/// Every run on record, oldest first, the current one last.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Runs.
    pub runs: Vec<Run>,
    /// Where it is kept.
    pub dir: PathBuf,
    /// The snapshot of the current run, written by [`History::commit`].
    pending: Option<Snapshot>,
    /// Changes by seed id over all runs: (run index, change index).
    by_id: HashMap<String, Vec<(usize, usize)>>,
}

/// The changes from `before` to `after`, in seed id order.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    let change = |id: &str, e: &Entry, kind, before: &str, after: &str| Change {
        id: id.to_string(),
        name: e.name.clone(),
        country: e.country.clone(),
        page: e.page.clone(),
        kind,
        before: before.to_string(),
        after: after.to_string(),
    };
    for (id, now) in &after.entries {
        match before.entries.get(id) {
            None => changes.push(change(id, now, ChangeKind::New, "", &now.provider_name)),
            Some(old) => {
                if old.provider != now.provider {
                    changes.push(change(
                        id,
                        now,
                        ChangeKind::Provider,
                        &old.provider_name,
                        &now.provider_name,
                    ));
                } else if old.mx != now.mx {
                    changes.push(change(id, now, ChangeKind::Mx, &old.mx, &now.mx));
                }
                if old.grade != now.grade {
                    changes.push(change(id, now, ChangeKind::Grade, &old.grade, &now.grade));
                }
            }
        }
    }
    for (id, old) in &before.entries {
        if !after.entries.contains_key(id) {
            changes.push(change(id, old, ChangeKind::Removed, &old.provider_name, ""));
        }
    }
    changes
}

/// File-name stem of a run: its time with `:` replaced (portable file names).
fn stem(generated: &str) -> String {
    generated.replace(':', "-")
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a history file of mxmap", path.display()))
}

fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(value).context("serialising history")?;
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

impl History {
    /// Loads the history in `dir` and adds the current run — its snapshot and country
    /// figures, made from the site model by the pipeline — diffed against the newest
    /// snapshot on record. Nothing is written until [`History::commit`].
    pub fn prepare(
        dir: &Path,
        current: Snapshot,
        countries: BTreeMap<String, CountryPoint>,
    ) -> Result<History> {
        let mut runs: Vec<Run> = Vec::new();
        let mut snapshots: Vec<PathBuf> = Vec::new();
        if dir.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("cannot list {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            names.sort();
            for path in names {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".changes.json") {
                    runs.push(read_json(&path)?);
                } else if name.ends_with(".snapshot.json") {
                    snapshots.push(path);
                }
            }
        }
        let run = match snapshots.last() {
            Some(path) => {
                let previous: Snapshot = read_json(path)?;
                Run {
                    generated: current.generated.clone(),
                    baseline: false,
                    changes: diff(&previous, &current),
                    countries,
                }
            }
            None => Run {
                generated: current.generated.clone(),
                baseline: true,
                changes: Vec::new(),
                countries,
            },
        };
        runs.retain(|r| r.generated != run.generated);
        runs.push(run);
        let mut history = History {
            runs,
            dir: dir.to_path_buf(),
            pending: Some(current),
            by_id: HashMap::new(),
        };
        history.index();
        Ok(history)
    }

    fn index(&mut self) {
        self.by_id.clear();
        for (ri, run) in self.runs.iter().enumerate() {
            for (ci, change) in run.changes.iter().enumerate() {
                self.by_id
                    .entry(change.id.clone())
                    .or_default()
                    .push((ri, ci));
            }
        }
    }

    /// The changes of one municipality over all runs, oldest first, with their run.
    pub fn timeline(&self, id: &str) -> Vec<(&Run, &Change)> {
        self.by_id
            .get(id)
            .map(|list| {
                list.iter()
                    .map(|&(r, c)| (&self.runs[r], &self.runs[r].changes[c]))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The country figures of the run before the current one, if any.
    pub fn previous_countries(&self) -> Option<&BTreeMap<String, CountryPoint>> {
        let n = self.runs.len();
        (n >= 2).then(|| &self.runs[n - 2].countries)
    }

    /// The first run on record.
    pub fn first_run(&self) -> Option<&Run> {
        self.runs.first()
    }

    /// Writes the current run's snapshot and change list; prunes old snapshots. Call
    /// once the site is published.
    pub fn commit(&mut self) -> Result<()> {
        let Some(snapshot) = self.pending.take() else {
            return Ok(());
        };
        let Some(run) = self.runs.last() else {
            return Ok(());
        };
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let s = stem(&snapshot.generated);
        write_json_atomically(&self.dir.join(format!("{s}.changes.json")), run)?;
        write_json_atomically(&self.dir.join(format!("{s}.snapshot.json")), &snapshot)?;
        let mut snapshots: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".snapshot.json"))
            })
            .collect();
        snapshots.sort();
        let excess = snapshots.len().saturating_sub(SNAPSHOTS_KEPT);
        for old in &snapshots[..excess] {
            std::fs::remove_file(old).ok();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: &str, grade: &str, mx: &str) -> Entry {
        Entry {
            name: "Test".into(),
            country: "ee".into(),
            page: "ee/m/test-1/".into(),
            provider: provider.into(),
            provider_name: provider.to_uppercase(),
            grade: grade.into(),
            mx: mx.into(),
        }
    }

    fn snapshot(entries: &[(&str, Entry)]) -> Snapshot {
        Snapshot {
            generated: "2026-11-23T00:00:00Z".into(),
            entries: entries
                .iter()
                .map(|(id, e)| (id.to_string(), e.clone()))
                .collect(),
        }
    }

    #[test]
    fn diff_lists_switches_grades_mx_new_and_removed() {
        let before = snapshot(&[
            ("a", entry("google", "B", "mx.g")),
            ("b", entry("own", "?", "mx.b")),
            ("c", entry("x", "C", "mx.c")),
            ("gone", entry("y", "?", "")),
        ]);
        let after = snapshot(&[
            ("a", entry("microsoft", "B", "mx.m")),
            ("b", entry("own", "D", "mx.b2")),
            ("c", entry("x", "C", "mx.c")),
            ("new", entry("z", "?", "")),
        ]);
        let kinds: Vec<(String, ChangeKind)> = diff(&before, &after)
            .into_iter()
            .map(|c| (c.id, c.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("a".into(), ChangeKind::Provider),
                ("b".into(), ChangeKind::Mx),
                ("b".into(), ChangeKind::Grade),
                ("new".into(), ChangeKind::New),
                ("gone".into(), ChangeKind::Removed),
            ]
        );
    }
}
