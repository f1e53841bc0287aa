//! The publishing budget: what GitHub Pages (and GitLab Pages) accept. A published site
//! may be at most 1 GB (GitHub) and 200,000 files (GitLab); a larger one is rejected at
//! deployment, after the whole nightly run. So the size is checked before a site is
//! swapped in: above 80 % of a limit the build warns, above a limit it refuses, unless
//! `--allow-oversized-site` says that the site goes somewhere without these limits.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};

/// Limits of a published site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes (sum of file sizes).
    pub bytes: u64,
    /// Most files.
    pub files: u64,
}

/// GitHub Pages' 1 GB (counted in decimal bytes: the stricter reading) and GitLab
/// Pages' 200,000 files.
pub const PAGES: Limits = Limits {
    bytes: 1_000_000_000,
    files: 200_000,
};

/// Share of a limit above which the build warns.
pub const WARN_SHARE: f64 = 0.8;

/// Set from `--allow-oversized-site`: publish even above the limits (warning only).
static ALLOW_OVERSIZED: AtomicBool = AtomicBool::new(false);

/// Lets the next publish go ahead above the limits (`--allow-oversized-site`).
pub fn allow_oversized(allow: bool) {
    ALLOW_OVERSIZED.store(allow, Ordering::Relaxed);
}

/// Bytes and files of a site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Sum of file sizes.
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

impl Usage {
    /// Adds one file of `bytes`.
    pub fn add_file(&mut self, bytes: u64) {
        self.bytes += bytes;
        self.files += 1;
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} MB in {} files",
            self.bytes as f64 / 1e6,
            self.files
        )
    }
}

/// Sums the files under `dir` (symbolic links are not followed).
pub fn measure(dir: &Path) -> Result<Usage> {
    let mut usage = Usage::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot list {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                usage.add_file(entry.metadata()?.len());
            }
        }
    }
    Ok(usage)
}

/// How a site compares with the limits.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Below the warning share of both limits.
    Fine,
    /// Above the warning share of a limit (what, in words).
    Warn(String),
    /// Above a limit (what, in words).
    Over(String),
}

/// Compares `usage` with `limits`.
pub fn assess(usage: Usage, limits: Limits) -> Verdict {
    let bytes_share = usage.bytes as f64 / limits.bytes as f64;
    let files_share = usage.files as f64 / limits.files as f64;
    let describe = || {
        format!(
            "{usage}: {:.0} % of the {:.0} MB and {:.0} % of the {} files a Pages site may have",
            bytes_share * 100.0,
            limits.bytes as f64 / 1e6,
            files_share * 100.0,
            limits.files
        )
    };
    if usage.bytes > limits.bytes || usage.files > limits.files {
        Verdict::Over(describe())
    } else if bytes_share > WARN_SHARE || files_share > WARN_SHARE {
        Verdict::Warn(describe())
    } else {
        Verdict::Fine
    }
}

/// Checks the site in `dir` before it is published: warns above 80 % of a limit,
/// refuses above a limit unless [`allow_oversized`] was set.
pub fn guard(dir: &Path) -> Result<Usage> {
    let usage = measure(dir)?;
    check(usage, PAGES, ALLOW_OVERSIZED.load(Ordering::Relaxed))?;
    Ok(usage)
}

/// The decision of [`guard`] for a measured `usage`.
pub fn check(usage: Usage, limits: Limits, allow_oversized: bool) -> Result<()> {
    match assess(usage, limits) {
        Verdict::Fine => Ok(()),
        Verdict::Warn(what) => {
            eprintln!("warning: the site nears what GitHub/GitLab Pages accept: {what}");
            Ok(())
        }
        Verdict::Over(what) if allow_oversized => {
            eprintln!(
                "warning: the site is larger than Pages accepts ({what}); publishing anyway (--allow-oversized-site)"
            );
            Ok(())
        }
        Verdict::Over(what) => bail!(
            "the site is larger than GitHub/GitLab Pages accept ({what}); nothing was replaced. Publish elsewhere with --allow-oversized-site"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        bytes: 1000,
        files: 10,
    };

    #[test]
    fn warns_above_80_percent_and_refuses_above_the_limit() {
        let u = |bytes, files| Usage { bytes, files };
        assert_eq!(assess(u(800, 8), SMALL), Verdict::Fine);
        assert!(matches!(assess(u(801, 1), SMALL), Verdict::Warn(_)));
        assert!(matches!(assess(u(10, 9), SMALL), Verdict::Warn(_)));
        assert!(matches!(assess(u(1001, 1), SMALL), Verdict::Over(_)));
        assert!(matches!(assess(u(1, 11), SMALL), Verdict::Over(_)));
        let err = check(u(1, 11), SMALL, false).unwrap_err().to_string();
        assert!(err.contains("--allow-oversized-site"), "{err}");
        assert!(check(u(1, 11), SMALL, true).is_ok());
        assert!(check(u(900, 1), SMALL, false).is_ok());
    }

    #[test]
    fn measures_every_file_below_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("index.html"), "12345").unwrap();
        std::fs::write(dir.path().join("a/b/page.html"), "123").unwrap();
        let usage = measure(dir.path()).unwrap();
        assert_eq!(usage, Usage { bytes: 8, files: 2 });
        assert!(matches!(
            assess(usage, Limits { bytes: 7, files: 5 }),
            Verdict::Over(_)
        ));
    }
}
