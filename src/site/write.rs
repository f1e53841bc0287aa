//! Atomic output: the site is built in a sibling temporary folder and swapped in only
//! when complete, so a failed or interrupted build leaves the previous site intact.
//!
//! Ownership: every site carries a marker file ([`MARKER`]), and `--out` may only
//! replace a folder that does not exist, is empty, or carries the marker; anything else
//! is refused before the scan starts ([`check_out`]). `--force` overrides that, but
//! never for the [never-list](check_out): the working folder and its ancestors, the
//! home folder, `/`, a git checkout, or a folder holding one of the run's inputs.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::usage;
use crate::interrupt;

/// The marker file in the root of every site mxmap writes.
pub const MARKER: &str = ".mxmap-site";
/// First line of [`MARKER`]: what makes a folder mxmap's.
const MARKER_HEAD: &str = "mxmap site";
/// Foreign entries named in a refusal.
const NAMED_ENTRIES: usize = 5;

/// What `--out` is now, once [`check_out`] accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFolder {
    /// Not there yet, or empty.
    New,
    /// A site mxmap wrote (it carries the marker).
    Site,
    /// A folder mxmap did not write, replaced because of `--force`.
    Forced,
}

/// Decides whether `out` may be replaced, before any work starts. `inputs` are the
/// run's own files and folders (cache, config, seeds, geodata, world, …) with what
/// they are; a folder holding any of them is never replaced.
pub fn check_out(out: &Path, inputs: &[(&Path, &str)], force: bool) -> Result<OutFolder> {
    let shown = out.display();
    if out.is_symlink() {
        return Err(usage(format!(
            "refusing --out {shown}: it is a symbolic link; give the folder itself"
        )));
    }
    let target = resolved(out)?;
    if let Some(why) = never_replaced(&target, inputs)? {
        return Err(usage(format!(
            "refusing --out {shown}: it is {why}. mxmap replaces the whole --out folder, so it never writes there, not even with --force; give the site a folder of its own, e.g. --out site"
        )));
    }
    if !target.exists() {
        return Ok(OutFolder::New);
    }
    if !target.is_dir() {
        return Err(usage(format!(
            "refusing --out {shown}: it exists and is not a folder"
        )));
    }
    if has_marker(&target) {
        return Ok(OutFolder::Site);
    }
    let mut entries: Vec<String> = std::fs::read_dir(&target)
        .with_context(|| format!("cannot list --out {shown}"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() {
        return Ok(OutFolder::New);
    }
    if force {
        tracing::warn!("--force: replacing {shown}, which mxmap did not write");
        return Ok(OutFolder::Forced);
    }
    entries.sort();
    let more = entries.len().saturating_sub(NAMED_ENTRIES);
    entries.truncate(NAMED_ENTRIES);
    let mut named = entries.join(", ");
    if more > 0 {
        named.push_str(&format!(" and {more} more"));
    }
    Err(usage(format!(
        "refusing --out {shown}: the folder holds files mxmap did not write ({named}) and no {MARKER} marker; choose a new or empty folder, or pass --force to replace it and everything in it"
    )))
}

/// Why `target` (resolved) is on the never-list, if it is.
fn never_replaced(target: &Path, inputs: &[(&Path, &str)]) -> Result<Option<String>> {
    if target.parent().is_none() {
        return Ok(Some("the root folder /".into()));
    }
    let cwd = std::env::current_dir().context("cannot tell the working folder")?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    if cwd == target {
        return Ok(Some("the working folder".into()));
    }
    if cwd.starts_with(target) {
        return Ok(Some(format!(
            "an ancestor of the working folder {}",
            cwd.display()
        )));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let home = resolved(Path::new(&home))?;
        if home == target {
            return Ok(Some("the home folder".into()));
        }
        if home.starts_with(target) {
            return Ok(Some(format!(
                "an ancestor of the home folder {}",
                home.display()
            )));
        }
    }
    if target.join(".git").exists() {
        return Ok(Some("a git checkout (it holds .git)".into()));
    }
    for (path, what) in inputs {
        if resolved(path)?.starts_with(target) {
            return Ok(Some(format!("where the {what} is ({})", path.display())));
        }
    }
    Ok(None)
}

/// `path` made absolute, `.` and `..` removed, and symbolic links resolved as far as
/// the path exists (the rest may not exist yet).
fn resolved(path: &Path) -> Result<PathBuf> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let mut clean = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    let mut existing = clean.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    Ok(out)
}

/// Writes the marker into `dir`: a folder of mxmap's (e.g. the published `data.json`
/// restored into `--out`), which a later build may replace.
pub fn mark(dir: &Path) -> Result<()> {
    write_file(&dir.join(MARKER), marker_text().as_bytes())
}

/// True when `dir` holds mxmap's marker file.
fn has_marker(dir: &Path) -> bool {
    let marker = dir.join(MARKER);
    !marker.is_symlink()
        && std::fs::read_to_string(&marker).is_ok_and(|text| text.starts_with(MARKER_HEAD))
}

/// The marker's text: what wrote the site, and when.
fn marker_text() -> String {
    format!(
        "{MARKER_HEAD}\nversion = {}\nbuilt = {}\n# mxmap replaces this folder on the next build; delete this file to keep it.\n",
        env!("CARGO_PKG_VERSION"),
        crate::site::text::iso_time(crate::scan::resolver::now())
    )
}

/// A site being built next to its final place.
pub struct Staging {
    /// Temporary folder being filled.
    pub dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `.<out>.tmp-<pid>` beside `out` (same file system, so the swap is a
    /// rename), with the marker written first; removes what killed runs left there.
    pub fn new(out: &Path) -> Result<Staging> {
        let name = out
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .with_context(|| format!("--out {} must name a folder", out.display()))?;
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        remove_leftovers(&parent, name);
        let dir = parent.join(format!("{}{}", staging_prefix(name), std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        interrupt::register_staging(&dir);
        let staging = Staging {
            dir,
            target: out.to_path_buf(),
            committed: false,
        };
        mark(&staging.dir)?;
        Ok(staging)
    }

    /// Swaps the finished folder into place. On Linux the swap is one atomic
    /// `renameat2(RENAME_EXCHANGE)`; elsewhere (or if unsupported) two renames.
    /// Refused once a signal has arrived: an interrupted run publishes nothing.
    pub fn commit(mut self) -> Result<()> {
        // A site Pages would reject must not replace the published one.
        super::budget::guard(&self.dir)?;
        // The watchdog must not remove the staging folder halfway through the swap.
        let _critical = interrupt::Critical::enter();
        interrupt::check()?;
        if self.target.exists() {
            if !self.target.is_dir() {
                bail!("--out {} exists and is not a folder", self.target.display());
            }
            if !exchange(&self.dir, &self.target) {
                let mut old = self.dir.clone().into_os_string();
                old.push(".old");
                let old = PathBuf::from(old);
                std::fs::rename(&self.target, &old).with_context(|| {
                    format!("cannot move the old site {} aside", self.target.display())
                })?;
                std::fs::rename(&self.dir, &self.target).with_context(|| {
                    format!("cannot move the new site into {}", self.target.display())
                })?;
                let _ = std::fs::remove_dir_all(&old);
                self.committed = true;
                return Ok(());
            }
            // After the exchange, the staging path holds the previous site.
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            std::fs::rename(&self.dir, &self.target).with_context(|| {
                format!("cannot move the new site into {}", self.target.display())
            })?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        interrupt::unregister_staging(&self.dir);
    }
}

/// `.<name>.tmp-`: staging folders of `<name>` are this plus a process id.
fn staging_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Removes the staging folders (and swapped-out old sites) of `name` in `parent` that
/// runs killed with SIGKILL left behind: only folders mxmap wrote (marker inside, or
/// empty) of processes that are gone.
fn remove_leftovers(parent: &Path, name: &str) {
    let prefix = staging_prefix(name);
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid_text = rest.strip_suffix(".old").unwrap_or(rest);
        let Ok(pid) = pid_text.parse::<u32>() else {
            continue;
        };
        let path = entry.path();
        let ours = path.is_dir()
            && !path.is_symlink()
            && (has_marker(&path)
                || std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()));
        if !ours || pid == std::process::id() || process_alive(pid) {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::warn!(
                "removed {}, left by an interrupted run (pid {pid})",
                path.display()
            ),
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
}

/// True when a process with this id exists (it may be another build of the same site).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (Ok(a), Ok(b)) = (
        CString::new(a.as_os_str().as_bytes()),
        CString::new(b.as_os_str().as_bytes()),
    ) else {
        return false;
    };
    // SAFETY: both paths are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> bool {
    false
}

/// Writes `bytes` to `dir/<page>index.html` (`page` ends with `/`, or is empty for the
/// root), creating folders. Stops with an error once a signal has arrived.
pub fn write_page(dir: &Path, page: &str, bytes: &[u8]) -> Result<()> {
    crate::faults::pause(interrupt::Phase::Render);
    interrupt::check()?;
    let folder = dir.join(page.trim_end_matches('/'));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    write_file(&folder.join("index.html"), bytes)
}

/// Writes a file with one buffered write. Stops with an error once a signal has
/// arrived.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    interrupt::check()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    file.write_all(bytes)
        .and_then(|_| file.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_replaces_and_failure_keeps_the_old_site() {
        let base = std::env::temp_dir().join(format!("mxmap-write-{}", std::process::id()));
        let out = base.join("site");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("index.html"), "old").unwrap();
        {
            let staging = Staging::new(&out).unwrap();
            std::fs::write(staging.dir.join("index.html"), "half").unwrap();
            // dropped without commit: a failed build
        }
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "old"
        );
        let staging = Staging::new(&out).unwrap();
        std::fs::write(staging.dir.join("index.html"), "new").unwrap();
        staging.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("index.html")).unwrap(),
            "new"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&base).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "staging folders are cleaned up");
        std::fs::remove_dir_all(&base).ok();
    }
}
