//! The state a nightly run needs from the runs before it, carried by the published site
//! itself, so that a fork's workflow needs no storage of its own (the Actions cache is
//! evicted after 7 days unused; a history that silently starts over is worse than none).
//!
//! `mxmap state export --site DIR` writes `DIR/state/`:
//! - `scan-cache.json.gz` — the scan cache: the last known good answers, probes and
//!   policies that a failing resolver or server falls back to;
//! - `history.json.gz` — every run's change list and the newest snapshot (`/changes/`
//!   and the gate's comparison with the previous run);
//! - `manifest.json` — format, time, and the size and SHA-256 of each file.
//!
//! `mxmap state restore --from URL|DIR` fetches them back (with `curl` for a URL), checks
//! every size and checksum before writing anything, and writes only what is missing or
//! older locally: it never replaces a newer cache, never overwrites a history file, and
//! never touches an existing site folder. The published `data.json` (the quality gate's
//! reference) comes back into `--out` when that folder does not exist yet.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::cli::StateCommand;
use crate::config::Config;
use crate::scan::cache::ScanCache;
use crate::site::budget;

/// Folder of the state inside the site.
pub const STATE_DIR: &str = "state";
/// Format marker of the manifest.
pub const FORMAT: &str = "mxmap-state/1";
const MANIFEST: &str = "manifest.json";
const CACHE_FILE: &str = "scan-cache.json.gz";
const HISTORY_FILE: &str = "history.json.gz";
/// Largest state file accepted, compressed or not (a guard against gzip bombs).
const MAX_BYTES: u64 = 4 << 30;

/// The manifest of a published state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// When it was exported (ISO).
    pub exported: String,
    /// Version of the mxmap that exported it.
    pub mxmap: String,
    /// Runs in the history.
    pub runs: usize,
    /// The files.
    pub files: Vec<FileFacts>,
}

/// Size and checksum of one state file.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileFacts {
    /// File name inside `state/`.
    pub name: String,
    /// Size in bytes (compressed).
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The history folder's files, as one document.
#[derive(Serialize, Deserialize)]
struct HistoryBundle {
    files: Vec<HistoryFile>,
}

#[derive(Serialize, Deserialize)]
struct HistoryFile {
    name: String,
    json: Box<RawValue>,
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

fn gunzip(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("{what} is not a gzip file"))?;
    if out.len() as u64 > MAX_BYTES {
        bail!("{what} unpacks to more than {MAX_BYTES} bytes");
    }
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A history file name we wrote (no folders, no surprises).
fn is_history_name(name: &str) -> bool {
    (name.ends_with(".changes.json") || name.ends_with(".snapshot.json"))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

/// Every change list and the newest snapshot of the history folder.
fn bundle_history(dir: &Path) -> Result<(HistoryBundle, usize)> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| is_history_name(n))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    names.sort();
    let newest_snapshot = names
        .iter()
        .rfind(|n| n.ends_with(".snapshot.json"))
        .cloned();
    let runs = names
        .iter()
        .filter(|n| n.ends_with(".changes.json"))
        .count();
    let mut files = Vec::new();
    for name in names {
        if name.ends_with(".snapshot.json") && Some(&name) != newest_snapshot.as_ref() {
            continue;
        }
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let json = RawValue::from_string(text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        files.push(HistoryFile { name, json });
    }
    Ok((HistoryBundle { files }, runs))
}

/// Writes `bytes` to `path` through a temporary file beside it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    /// The manifest.
    pub manifest: Manifest,
    /// The site with the state, measured.
    pub site: budget::Usage,
}

/// Writes `site/state/` from the cache file and the history folder; refuses when
/// `site/state` exists and is not a state folder of mxmap, or when the site with the
/// state would be larger than Pages accepts (unless `allow_oversized`).
pub fn export(
    site: &Path,
    cache: &Path,
    history: &Path,
    exported: &str,
    allow_oversized: bool,
) -> Result<Exported> {
    if !site.join("index.html").is_file() {
        bail!(
            "{} holds no built site (no index.html); run `mxmap build` or `mxmap render` first",
            site.display()
        );
    }
    let target = site.join(STATE_DIR);
    if target.exists() && !target.join(MANIFEST).is_file() {
        bail!(
            "{} exists and is not a state folder of mxmap (no {MANIFEST}); left untouched",
            target.display()
        );
    }
    let cache_bytes = std::fs::read(cache).with_context(|| {
        format!(
            "cannot read the scan cache {} (export needs it)",
            cache.display()
        )
    })?;
    let cache_gz = gzip(&cache_bytes)?;
    drop(cache_bytes);
    let (bundle, runs) = bundle_history(history)?;
    let history_gz = gzip(&serde_json::to_vec(&bundle)?)?;
    let files: Vec<(&str, &[u8])> = vec![(CACHE_FILE, &cache_gz), (HISTORY_FILE, &history_gz)];
    let manifest = Manifest {
        format: FORMAT.to_string(),
        exported: exported.to_string(),
        mxmap: env!("CARGO_PKG_VERSION").to_string(),
        runs,
        files: files
            .iter()
            .map(|(name, bytes)| FileFacts {
                name: name.to_string(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;

    // The site as it will be published: without any old state, with the new one.
    let mut usage = budget::measure(site)?;
    if target.is_dir() {
        let old = budget::measure(&target)?;
        usage.bytes -= old.bytes.min(usage.bytes);
        usage.files -= old.files.min(usage.files);
    }
    for (_, bytes) in &files {
        usage.add_file(bytes.len() as u64);
    }
    usage.add_file(manifest_json.len() as u64);
    budget::check(usage, budget::PAGES, allow_oversized)?;

    let staging = site.join(format!(".{STATE_DIR}.tmp-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).ok();
    }
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let written = (|| -> Result<()> {
        for (name, bytes) in &files {
            std::fs::write(staging.join(name), bytes)?;
        }
        std::fs::write(staging.join(MANIFEST), &manifest_json)?;
        if target.exists() {
            let old = site.join(format!(".{STATE_DIR}.old-{}", std::process::id()));
            std::fs::rename(&target, &old)?;
            std::fs::rename(&staging, &target)?;
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&staging, &target)?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        std::fs::remove_dir_all(&staging).ok();
        return Err(e).with_context(|| format!("cannot write {}", target.display()));
    }
    Ok(Exported {
        manifest,
        site: usage,
    })
}

/// Where a published state is read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The site's address (`http://` or `https://`, ending in `/`), fetched with curl.
    Url(String),
    /// A site folder on disk.
    Dir(PathBuf),
}

impl Source {
    /// A URL when `text` starts with `http://` or `https://`, else a folder.
    /// `loopback_only` refuses any URL whose host is not in 127.0.0.0/8.
    pub fn parse(text: &str, loopback_only: bool) -> Result<Source> {
        let Some(rest) = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
        else {
            return Ok(Source::Dir(PathBuf::from(text)));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        if loopback_only
            && !host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
        {
            bail!("--from {text}: only 127.0.0.0/8 addresses are allowed with --loopback-only");
        }
        let mut url = text.to_string();
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(Source::Url(url))
    }

    /// The file at `path` (relative to the site root), or `None` when it does not
    /// exist there (HTTP 404).
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Dir(dir) => match std::fs::read(dir.join(path)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => {
                    Err(e).with_context(|| format!("cannot read {}", dir.join(path).display()))
                }
            },
            Source::Url(base) => curl(&format!("{base}{path}")),
        }
    }
}

/// GETs `url` with curl (redirects followed, retried on transient failures). `None` on
/// 404; any other failure is an error, so that an unreachable site never looks like a
/// site without state.
fn curl(url: &str) -> Result<Option<Vec<u8>>> {
    let body = tempfile_path("body");
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--location",
            "--proto",
            "=http,https",
        ])
        .args([
            "--retry",
            "3",
            "--connect-timeout",
            "20",
            "--max-time",
            "900",
        ])
        .args(["--max-filesize", &MAX_BYTES.to_string()])
        .args(["--write-out", "%{http_code}", "--output"])
        .arg(&body)
        .arg(url)
        .output()
        .context("cannot run curl (needed to fetch the published state)")?;
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let result = if !out.status.success() {
        Err(anyhow::anyhow!(
            "cannot fetch {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    } else if code == "404" {
        Ok(None)
    } else if code == "200" {
        std::fs::read(&body)
            .map(Some)
            .with_context(|| format!("cannot read what curl fetched from {url}"))
    } else {
        Err(anyhow::anyhow!("cannot fetch {url}: HTTP {code}"))
    };
    std::fs::remove_file(&body).ok();
    result
}

fn tempfile_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mxmap-state-{}-{what}", std::process::id()))
}

/// What `restore` did.
#[derive(Debug, Default)]
pub struct Restored {
    /// False when the site has published no state (first run).
    pub found: bool,
    /// The cache was written (false: absent from the state, or the local one is newer).
    pub cache_written: bool,
    /// History files written (those already present locally are kept).
    pub history_files: usize,
    /// Runs in the published history.
    pub runs: usize,
    /// The published data.json was written into `--out`.
    pub data_json: bool,
}

/// Fetches the state published at `source` into the cache file, the history folder and
/// (the published `data.json`) the folder `out` when it does not exist yet.
pub fn restore(
    source: &Source,
    cache: &Path,
    history: &Path,
    out: Option<&Path>,
) -> Result<Restored> {
    let mut restored = Restored::default();
    if let Some(out) = out.filter(|o| !o.exists())
        && let Some(data) = source.get("data.json")?
    {
        serde_json::from_slice::<Vec<&RawValue>>(&data)
            .context("the published data.json is not a list of records")?;
        write_atomically(&out.join("data.json"), &data)?;
        // The folder holds mxmap's published site (its data.json): the next build may
        // replace it and compares with it.
        crate::site::write::mark(out)?;
        restored.data_json = true;
    }
    let Some(manifest) = source.get(&format!("{STATE_DIR}/{MANIFEST}"))? else {
        return Ok(restored);
    };
    let manifest: Manifest =
        serde_json::from_slice(&manifest).context("the published state manifest is not valid")?;
    if manifest.format != FORMAT {
        bail!(
            "the published state is in format {:?}; this mxmap reads {FORMAT:?}",
            manifest.format
        );
    }
    restored.found = true;
    restored.runs = manifest.runs;
    // Everything is fetched and checked before anything is written.
    let mut fetched = Vec::new();
    for facts in &manifest.files {
        let bytes = source
            .get(&format!("{STATE_DIR}/{}", facts.name))?
            .with_context(|| {
                format!(
                    "the state lists {} but the site has no such file",
                    facts.name
                )
            })?;
        if bytes.len() as u64 != facts.bytes || sha256_hex(&bytes) != facts.sha256 {
            bail!(
                "state file {} does not match its manifest (size or SHA-256); nothing restored",
                facts.name
            );
        }
        fetched.push((facts.name.as_str(), gunzip(&bytes, &facts.name)?));
    }
    let mut history_files = Vec::new();
    let mut cache_json = None;
    for (name, bytes) in fetched {
        match name {
            HISTORY_FILE => {
                let bundle: HistoryBundle =
                    serde_json::from_slice(&bytes).context("the published history is not valid")?;
                for f in bundle.files {
                    if !is_history_name(&f.name) {
                        bail!(
                            "the published history names an unexpected file {:?}",
                            f.name
                        );
                    }
                    history_files.push((f.name, f.json.get().as_bytes().to_vec()));
                }
            }
            CACHE_FILE => cache_json = Some(bytes),
            other => tracing::warn!("state file {other} is unknown to this mxmap; skipped"),
        }
    }
    if let Some(json) = cache_json {
        restored.cache_written = restore_cache(cache, &json)?;
    }
    for (name, json) in history_files {
        let path = history.join(&name);
        if !path.exists() {
            write_atomically(&path, &json)?;
            restored.history_files += 1;
        }
    }
    Ok(restored)
}

/// Writes the published cache unless the local one is as new or newer.
fn restore_cache(cache: &Path, json: &[u8]) -> Result<bool> {
    let tmp = cache.with_extension(format!("restored-{}", std::process::id()));
    write_atomically(&tmp, json)?;
    let published = match ScanCache::load(&tmp) {
        Ok(Some(c)) => c.written_at,
        Ok(None) | Err(_) => {
            std::fs::remove_file(&tmp).ok();
            bail!("the published scan cache cannot be read by this mxmap");
        }
    };
    let local = ScanCache::load(cache).ok().flatten().map(|c| c.written_at);
    if local.is_some_and(|l| l >= published) {
        std::fs::remove_file(&tmp).ok();
        return Ok(false);
    }
    std::fs::rename(&tmp, cache).with_context(|| format!("cannot write {}", cache.display()))?;
    Ok(true)
}

/// Runs `mxmap state export|restore`.
pub fn run(command: StateCommand) -> Result<()> {
    match command {
        StateCommand::Export(args) => {
            let config = Config::resolve(&args.common, None, None)?;
            let exported = crate::site::text::iso_time(crate::clock::now());
            let done = export(
                &args.site,
                &config.cache,
                &config.history,
                &exported,
                args.common.allow_oversized_site,
            )?;
            if !config.quiet {
                let sizes: Vec<String> = done
                    .manifest
                    .files
                    .iter()
                    .map(|f| format!("{} {:.1} MB", f.name, f.bytes as f64 / 1e6))
                    .collect();
                eprintln!(
                    "state: {} runs of history and the scan cache written to {} ({}); the site is now {}",
                    done.manifest.runs,
                    args.site.join(STATE_DIR).display(),
                    sizes.join(", "),
                    done.site
                );
            }
            Ok(())
        }
        StateCommand::Restore(args) => {
            let config = Config::resolve(&args.common, None, None)?;
            let source = Source::parse(&args.from, args.loopback_only)?;
            let done = restore(&source, &config.cache, &config.history, args.out.as_deref())?;
            if !done.found {
                eprintln!(
                    "state: {} has published no state (a first run, or a site from before state/ existed); starting with an empty history{}",
                    args.from,
                    if done.data_json {
                        " (its data.json fetched for the quality gate)"
                    } else {
                        ""
                    }
                );
                return Ok(());
            }
            if !config.quiet {
                eprintln!(
                    "state: fetched from {}: {} runs of history ({} files written, the others were here), scan cache {}{}",
                    args.from,
                    done.runs,
                    done.history_files,
                    if done.cache_written {
                        format!("written to {}", config.cache.display())
                    } else {
                        "kept (the local one is as new)".to_string()
                    },
                    if done.data_json {
                        ", data.json fetched for the quality gate"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_names_are_plain_file_names() {
        assert!(is_history_name("2026-03-01T02-17-00Z.changes.json"));
        assert!(is_history_name("2026-03-01T02-17-00Z.snapshot.json"));
        for bad in [
            "../x.changes.json",
            "a/b.changes.json",
            ".changes.json",
            "x.json",
            "",
        ] {
            assert!(!is_history_name(bad), "{bad}");
        }
    }

    #[test]
    fn only_loopback_urls_in_loopback_mode() {
        assert!(matches!(
            Source::parse("http://127.0.0.1:8080/site", true).unwrap(),
            Source::Url(u) if u == "http://127.0.0.1:8080/site/"
        ));
        assert!(Source::parse("https://example.github.io/mxmap/", true).is_err());
        assert!(Source::parse("https://example.github.io/mxmap/", false).is_ok());
        assert!(matches!(
            Source::parse("site", true).unwrap(),
            Source::Dir(_)
        ));
    }

    #[test]
    fn gzip_round_trips_and_rejects_garbage() {
        let data = b"{\"a\":1}".repeat(100);
        assert_eq!(gunzip(&gzip(&data).unwrap(), "x").unwrap(), data);
        assert!(gunzip(b"not gzip", "x").is_err());
    }
}
