//! SIGINT and SIGTERM in each phase of a build against the full recorded world
//! (`--world world`): the exit status is 130 or 143, no staging folder is left, the
//! published site is untouched, and the next run resumes from the answers and probes
//! the interrupted one saved.
//!
//! By default the seeds of five countries are scanned ([`DEFAULT_COUNTRIES`]); the
//! chain below makes eleven runs, and with all 47 countries each needs minutes of CPU
//! in a debug build. `MXMAP_SIGNAL_COUNTRIES=all` (or a list of codes) runs it on more.
//!
//! The runs form one chain over one cache, so that each run is also the "next run" of
//! the one before it and only the first scan is cold. The test never sleeps to guess
//! where a run is: it reads the phase from the binary's own output (`phase: scan`,
//! progress lines) and, for the render phase, from the staging folder. A debug-only
//! hook (`MXMAP_TEST_SLOW`) pauses at each item of the phase under test, so a busy
//! machine cannot finish the phase before the signal lands; stopping it is still up to
//! the phase's own interrupt checks.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;

/// Countries scanned unless `MXMAP_SIGNAL_COUNTRIES` says otherwise.
const DEFAULT_COUNTRIES: &str = "ee,lv,lt,lu,si";

/// Generous limits for a loaded 2-core machine: they only turn a hang into a failure.
const PHASE_LIMIT: Duration = Duration::from_secs(1800);
const EXIT_LIMIT: Duration = Duration::from_secs(120);

/// A running `mxmap` whose stderr is read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mxmap");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
            reader: Some(reader),
        }
    }

    fn tail(&self) -> String {
        let from = self.log.len().saturating_sub(40);
        self.log[from..].join("\n")
    }

    /// Reads lines until one satisfies `wanted`; fails if the process ends first.
    fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("mxmap ended before {what}:\n{}", self.tail())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if start.elapsed() > PHASE_LIMIT {
                let _ = self.child.kill();
                panic!("no {what} within {PHASE_LIMIT:?}:\n{}", self.tail());
            }
        }
    }

    /// Waits (reading output) until `ready` holds, e.g. a file exists.
    fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            while let Ok(line) = self.lines.try_recv() {
                self.log.push(line);
            }
            if self.child.try_wait().expect("try_wait").is_some() {
                panic!("mxmap ended before {what}:\n{}", self.tail());
            }
            assert!(start.elapsed() < PHASE_LIMIT, "no {what}:\n{}", self.tail());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on a child we started and have not reaped.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the exit; returns the status, the time it took and the whole stderr.
    fn finish(mut self) -> (ExitStatus, Duration, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > EXIT_LIMIT {
                let _ = self.child.kill();
                panic!("mxmap did not stop within {EXIT_LIMIT:?}:\n{}", self.tail());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        (status, took, self.log.join("\n"))
    }
}

/// The integer right before `suffix` in `line` (e.g. `12 reused` → 12).
fn number_before(line: &str, suffix: &str) -> Option<u64> {
    let head = &line[..line.find(suffix)?];
    let digits: String = head
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// The first line of `log` starting with `prefix` (and not a progress line).
fn line<'a>(log: &'a str, prefix: &str) -> &'a str {
    log.lines()
        .find(|l| l.starts_with(prefix) && !l.contains("%), "))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{log}"))
}

/// The scan's summary line (`scan: N domains in …`).
fn scan_summary(log: &str) -> &str {
    log.lines()
        .find(|l| l.starts_with("scan: ") && l.contains(" domains in "))
        .unwrap_or_else(|| panic!("no scan summary in:\n{log}"))
}

/// Size and modification time of every file: any rewrite of the site changes them.
fn manifest(site: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    files_under(site)
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(site.join(&f)).expect("metadata");
            (f, (meta.len(), meta.modified().expect("mtime")))
        })
        .collect()
}

/// Staging folders of `site` left in its parent.
fn staging_left(site: &Path) -> Vec<String> {
    std::fs::read_dir(site.parent().expect("parent"))
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".site.tmp-"))
        .collect()
}

struct Chain {
    data: PathBuf,
    dir: PathBuf,
    site: PathBuf,
    cache: PathBuf,
    /// `--countries` value, or `None` for all 47.
    countries: Option<String>,
}

impl Chain {
    /// `mxmap build` of the full world into the chain's site and cache; `slow` pauses
    /// each item of one phase (debug-only hook).
    fn build(&self, extra: &[&str], slow: Option<(&str, u64)>) -> Command {
        self.build_with(None, extra, slow)
    }

    /// [`Chain::build`] with another cache.
    fn build_with(
        &self,
        cache: Option<&Path>,
        extra: &[&str],
        slow: Option<(&str, u64)>,
    ) -> Command {
        let mut cmd = mxmap(&self.dir);
        cmd.arg("build")
            .arg("--world")
            .arg(self.data.join("world"))
            .arg("--data")
            .arg(&self.data)
            .arg("--overrides")
            .arg(root().join("seeds/overrides.toml"))
            .arg("--cache")
            .arg(cache.unwrap_or(&self.cache))
            .arg("--out")
            .arg(&self.site)
            .args(["--progress", "plain"])
            // No MX is recorded for Malta, San Marino and Kosovo (see mxmap.toml).
            .args(["--allow-collapse", "mt,sm,xk"]);
        if let Some(list) = &self.countries
            && !extra.contains(&"--countries")
        {
            cmd.args(["--countries", list]);
        }
        cmd.args(extra);
        if let Some((phase, ms)) = slow {
            cmd.env("MXMAP_TEST_SLOW", phase)
                .env("MXMAP_TEST_SLOW_MS", ms.to_string());
        }
        cmd
    }

    /// Starts a build slowed in `phase`, waits until it is inside `phase` (per
    /// `inside`), sends `signal`, and checks what every interrupted run must hold.
    /// Returns its stderr.
    fn interrupt(
        &self,
        phase: &str,
        signal: i32,
        extra: &[&str],
        pause_ms: u64,
        inside: impl FnOnce(&mut Running),
    ) -> String {
        let published = manifest(&self.site);
        let mut run = Running::start(self.build(extra, Some((phase, pause_ms))));
        let marker = format!("phase: {phase} (");
        run.wait_line(&marker, |l| l.starts_with(&marker));
        inside(&mut run);
        run.signal(signal);
        let (status, took, log) = run.finish();
        let (name, code) = match signal {
            libc::SIGINT => ("SIGINT", 130),
            _ => ("SIGTERM", 143),
        };
        eprintln!("{name} during {phase}: exit {status:?} {took:?} after the signal");
        assert_eq!(status.code(), Some(code), "{name} during {phase}:\n{log}");
        assert!(
            log.contains(&format!("interrupted: stopped by {name} during {phase}")),
            "{name} during {phase}: not stopped in that phase:\n{log}"
        );
        assert!(!log.contains("panicked"), "{log}");
        assert_eq!(staging_left(&self.site), Vec::<String>::new(), "{log}");
        assert_eq!(
            manifest(&self.site),
            published,
            "{name} during {phase} changed the published site"
        );
        log
    }
}

#[test]
fn sigint_and_sigterm_in_every_phase_stop_cleanly_and_the_next_run_resumes() {
    let Some(data) = europe_data() else {
        skip_missing("world/ (or $MXMAP_DATA)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let countries =
        std::env::var("MXMAP_SIGNAL_COUNTRIES").unwrap_or_else(|_| DEFAULT_COUNTRIES.to_string());
    let chain = Chain {
        data,
        dir: tmp.path().to_path_buf(),
        site: tmp.path().join("site"),
        cache: tmp.path().join("cache.json"),
        countries: (countries != "all").then_some(countries),
    };

    // A published site (Estonia, its own cache) that the first runs must leave alone.
    let estonia = tmp.path().join("estonia.json");
    let first = chain.build_with(Some(&estonia), &["--countries", "ee", "--no-smtp"], None);
    ok(&run(first, Duration::from_secs(1800)));

    // Scan: a cold cache, interrupted once some answers are in; the second run reuses
    // the first's answers, the full build after it the second's.
    let progress = |run: &mut Running| {
        run.wait_line("scan progress", |l| {
            l.starts_with("scan: ") && l.contains('/')
        });
    };
    let mut saved = 0;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // Few domains at a time, each held: the scan lasts past its first progress line.
        let slow_scan = ["--no-smtp", "--concurrency", "8"];
        let log = chain.interrupt("scan", signal, &slow_scan, 500, progress);
        let line = line(&log, "cache: ");
        let answers = number_before(line, " answers").expect(line);
        let reused = number_before(line, " reused from the cache").expect(line);
        assert!(answers > 0, "{line}");
        if saved > 0 {
            assert!(
                reused * 2 >= saved,
                "{line}: did not resume from {saved} answers"
            );
        }
        saved = answers;
    }
    let out = run(chain.build(&["--no-smtp"], None), Duration::from_secs(3600));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    let summary = scan_summary(&log);
    let reused = number_before(summary, " reused from cache").expect(summary);
    assert!(
        reused * 2 >= saved,
        "{summary}: did not resume from {saved} answers"
    );

    // Probe: DNS is all cached, no probe is; interrupted once probes are finishing.
    let progress = |run: &mut Running| {
        run.wait_line("SMTP progress", |l| {
            l.starts_with("smtp: ") && l.contains('/')
        });
    };
    let mut probed = 0;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let log = chain.interrupt("probe", signal, &[], 500, progress);
        let stop = line(&log, "smtp: stopped with ");
        let done = number_before(stop, " of ").expect(stop);
        let reused = number_before(stop, " reused from the cache").expect(stop);
        assert!(done > 0, "{stop}");
        assert!(
            reused >= probed,
            "{stop}: did not resume from {probed} probes"
        );
        probed = reused + done;
        assert!(log.contains(" SMTP probes saved to "), "{log}");
    }

    // Classify: the first run finishes the probes (reusing the ones saved), the second
    // reuses all of them.
    for (signal, all_reused) in [(libc::SIGINT, false), (libc::SIGTERM, true)] {
        let log = chain.interrupt("classify", signal, &[], 20, |_| {});
        let smtp = line(&log, "smtp: ");
        let reused = number_before(smtp, " reused from cache").expect(smtp);
        assert!(
            reused >= probed,
            "{smtp}: did not resume from {probed} probes"
        );
        if all_reused {
            assert_eq!(number_before(smtp, " probed"), Some(0), "{smtp}");
        }
    }

    // Render: interrupted while the staging folder fills.
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let parent = chain.dir.clone();
        let log = chain.interrupt("render", signal, &[], 20, move |run| {
            let staging = parent.join(format!(".site.tmp-{}", run.child.id()));
            run.wait_until("pages in the staging folder", || {
                std::fs::read_dir(&staging)
                    .map(|d| d.filter_map(Result::ok).any(|e| e.path().is_dir()))
                    .unwrap_or(false)
            });
        });
        let scan = scan_summary(&log);
        assert_eq!(number_before(scan, " queries sent"), Some(0), "{scan}");
    }

    // The next run resumes: nothing asked again, nothing probed again, and it publishes
    // a full site whose every record keeps the status rules of the schema.
    let before = manifest(&chain.site);
    let out = run(chain.build(&[], None), Duration::from_secs(3600));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    let scan = scan_summary(&log);
    assert_eq!(number_before(scan, " queries sent"), Some(0), "{scan}");
    assert_eq!(
        number_before(line(&log, "smtp: "), " probed"),
        Some(0),
        "{log}"
    );
    assert_ne!(manifest(&chain.site), before, "the site was not replaced");
    assert_eq!(staging_left(&chain.site), Vec::<String>::new());
    let records = data_json(&chain.site);
    if chain.countries.is_none() {
        assert_eq!(records.len(), 35_843);
    }
    let errors = schema_errors(&records);
    assert!(
        errors.is_empty(),
        "{} schema errors: {:#?}",
        errors.len(),
        &errors[..errors.len().min(20)]
    );
}
