//! The replay DNS world: recorded DNS as master files, served on loopback.
//!
//! `europe/world/zones/` holds one RFC 1035 master file per top-level domain plus a Team
//! Cymru style `origin.asn.cymru.com.` zone. Loading them into an in-process authoritative
//! server lets the scanner and the tests run offline against exactly the answers that were
//! recorded, with no packet leaving 127.0.0.1.
//!
//! # Why a reader of our own
//!
//! hickory-server's zone-file loader rejects 11 of the 117 zones: real recorded names carry
//! `_` inside labels, `\032` (space) and `\@` escapes (`\032alt1.aspmx.l.google.com.`,
//! `autoconfig.dreamhost.com\@.`), or a bare `~.` MX target, and it reads `\DDD` as *octal*
//! whereas RFC 1035 §5.1 says *decimal* (so `\194\160` in an SPF string would come back as
//! the wrong bytes). NSD serves every one of these lines. [`zonefile`] therefore reads master
//! files itself, building every name with [`crate::name::DnsName`] (raw label bytes, decimal
//! escapes), and hands hickory ready-made records. A line it cannot load is reported as a
//! [`Problem`] instead of failing the whole zone.
//!
//! [`server`] then serves the zones with hickory-server's catalog, answering like NSD does:
//! authoritative, NXDOMAIN inside served zones, REFUSED outside them, truncation over UDP.

mod fast;
pub mod server;
mod udp;
pub mod zonefile;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;

pub use server::WorldServer;
pub use zonefile::{Problem, Zone};

/// Every zone of a world folder, with the lines that could not be loaded.
#[derive(Debug, Clone)]
pub struct World {
    /// Zones sorted by file name.
    pub zones: Vec<Zone>,
    /// Per-line problems of all zones, in zone order then line order.
    pub problems: Vec<Problem>,
}

impl World {
    /// Loads every `*.zone` file of `dir/zones/` (or of `dir` itself if it has no `zones/`
    /// subfolder), sorted by file name, parsing files in parallel. Each zone's origin comes
    /// from its `$ORIGIN` line, else from its file name.
    ///
    /// Fails only on I/O errors or when the folder holds no zone file; lines that cannot be
    /// loaded end up in [`World::problems`] and the rest of their zone still loads.
    pub fn load(dir: &Path) -> anyhow::Result<World> {
        let zones_dir = dir.join("zones");
        let folder = if zones_dir.is_dir() {
            zones_dir
        } else {
            dir.to_path_buf()
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot list zone folder {}", folder.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("cannot list zone folder {}", folder.display()))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "zone") && p.is_file())
            .collect();
        if files.is_empty() {
            bail!("no *.zone file in {}", folder.display());
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

        // Zones are independent, so parse them on all cores; `collect` keeps file order.
        let loaded = files
            .par_iter()
            .map(|path| {
                zonefile::read_zone(path, None)
                    .with_context(|| format!("cannot read zone file {}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        let mut zones = Vec::with_capacity(loaded.len());
        let mut problems = Vec::new();
        for (zone, zone_problems) in loaded {
            zones.push(zone);
            problems.extend(zone_problems);
        }
        Ok(World { zones, problems })
    }

    /// Total number of records over all zones (SOA and NS included).
    pub fn record_count(&self) -> usize {
        self.zones.iter().map(|z| z.records.len()).sum()
    }

    /// What the problems cost, per file: records not loaded (one per problem line)
    /// and the lines; whole-file problems (line 0) lose no record but are listed.
    pub fn losses(&self) -> Vec<FileLoss> {
        let mut out: Vec<FileLoss> = Vec::new();
        for p in &self.problems {
            if out.last().is_none_or(|l| l.file != p.file) {
                out.push(FileLoss {
                    file: p.file.clone(),
                    records: 0,
                    lines: Vec::new(),
                });
            }
            if let Some(loss) = out.last_mut() {
                if p.line > 0 {
                    loss.records += 1;
                }
                loss.lines.push(p.line);
            }
        }
        out
    }

    /// A world with problems is refused: a scan against it would publish the records it
    /// lost as "domain does not exist". With `allow`, the losses are printed per file
    /// and the scan goes on.
    pub fn require_clean(&self, dir: &Path, allow: bool) -> anyhow::Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let losses = self.losses();
        if !allow {
            let shown: Vec<String> = self
                .problems
                .iter()
                .take(10)
                .map(|p| format!("  {p}"))
                .collect();
            let more = self.problems.len().saturating_sub(shown.len());
            bail!(
                "the recorded world {} has {} problem(s) in {} file(s); its scan would show the records lost as missing domains:\n{}{}\nfix the zone files, or pass --allow-world-problems to scan without those records",
                dir.display(),
                self.problems.len(),
                losses.len(),
                shown.join("\n"),
                if more > 0 {
                    format!("\n  … and {more} more")
                } else {
                    String::new()
                }
            );
        }
        for p in &self.problems {
            eprintln!("world: {p}");
        }
        for loss in &losses {
            eprintln!(
                "world: {}: {} record(s) not loaded (--allow-world-problems), lines {}",
                loss.file.display(),
                loss.records,
                loss.lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(())
    }
}

/// Records of one zone file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLoss {
    /// The zone file.
    pub file: PathBuf,
    /// Records not loaded.
    pub records: usize,
    /// Lines of the problems (0: the whole file).
    pub lines: Vec<usize>,
}
