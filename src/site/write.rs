//! Atomic output: the site is built in a sibling temporary folder and swapped in only
//! when complete, so a failed or interrupted build leaves the previous site intact.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A site being built next to its final place.
pub struct Staging {
    /// Temporary folder being filled.
    pub dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `<out>.tmp-<pid>` beside `out` (same file system, so the swap is a rename).
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
        let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staging {
            dir,
            target: out.to_path_buf(),
            committed: false,
        })
    }

    /// Swaps the finished folder into place. On Linux the swap is one atomic
    /// `renameat2(RENAME_EXCHANGE)`; elsewhere (or if unsupported) two renames.
    pub fn commit(mut self) -> Result<()> {
        // A site Pages would reject must not replace the published one.
        super::budget::guard(&self.dir)?;
        if self.target.exists() {
            if !self.target.is_dir() {
                bail!("--out {} exists and is not a folder", self.target.display());
            }
            if !exchange(&self.dir, &self.target) {
                let old = self.dir.with_extension("old");
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
    }
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
/// root), creating folders.
pub fn write_page(dir: &Path, page: &str, bytes: &[u8]) -> Result<()> {
    let folder = dir.join(page.trim_end_matches('/'));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    write_file(&folder.join("index.html"), bytes)
}

/// Writes a file with one buffered write.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
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
