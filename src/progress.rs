//! Progress output for long runs: an indicatif bar on a terminal, plain periodic lines
//! in CI logs (a bar's carriage returns make unreadable logs).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

/// Progress output style (the `--progress` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always a bar.
    Bar,
    /// Plain periodic lines (CI logs).
    Plain,
    /// Nothing.
    None,
}

/// How often plain mode prints a line.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// A progress reporter for `total` items.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<PlainTicker>,
    done: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

struct PlainTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting. `label` names the stage ("scan", "render").
    pub fn new(mode: ProgressMode, quiet: bool, label: &'static str, total: u64) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let mode = match mode {
            _ if quiet => ProgressMode::None,
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        };
        let mut progress = Progress {
            bar: None,
            plain: None,
            done: done.clone(),
            errors: errors.clone(),
        };
        match mode {
            ProgressMode::Bar => {
                let bar = ProgressBar::new(total);
                // indicatif's own `{per_sec}` prints four decimals ("1234.5678/s").
                let style = ProgressStyle::with_template(
                    "{prefix:>7} [{bar:40}] {pos}/{len} {rate} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(state.per_sec()));
                    },
                )
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(label);
                progress.bar = Some(bar);
            }
            ProgressMode::Plain => {
                let stop = Arc::new(AtomicBool::new(false));
                let stop_thread = stop.clone();
                let start = Instant::now();
                let thread = std::thread::spawn(move || {
                    let mut last = Instant::now();
                    while !stop_thread.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(200));
                        if last.elapsed() < PLAIN_INTERVAL {
                            continue;
                        }
                        last = Instant::now();
                        let n = done.load(Ordering::Relaxed);
                        let secs = start.elapsed().as_secs_f64().max(0.001);
                        eprintln!(
                            "{label}: {n}/{total} ({:.1}%), {}, {} errors, {:.0}s elapsed",
                            100.0 * n as f64 / total.max(1) as f64,
                            rate(n as f64 / secs),
                            errors.load(Ordering::Relaxed),
                            secs
                        );
                    }
                });
                progress.plain = Some(PlainTicker {
                    stop,
                    thread: Some(thread),
                });
            }
            ProgressMode::None | ProgressMode::Auto => {}
        }
        progress
    }

    /// A handle that counts items from other tasks or threads.
    pub fn counter(&self) -> ProgressCounter {
        ProgressCounter {
            bar: self.bar.clone(),
            done: self.done.clone(),
            errors: self.errors.clone(),
        }
    }

    /// One item done; `failed` counts it as an error too.
    pub fn inc(&self, failed: bool) {
        self.counter_ref().inc(failed);
    }

    fn counter_ref(&self) -> ProgressCounterRef<'_> {
        ProgressCounterRef {
            bar: self.bar.as_ref(),
            done: &self.done,
            errors: &self.errors,
        }
    }

    /// Stops reporting.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(mut ticker) = self.plain.take() {
            ticker.stop.store(true, Ordering::Relaxed);
            if let Some(t) = ticker.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Counts finished items for a [`Progress`] from anywhere (cheap to clone and send).
#[derive(Clone)]
pub struct ProgressCounter {
    bar: Option<ProgressBar>,
    done: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl ProgressCounter {
    /// One item done; `failed` counts it as an error too.
    pub fn inc(&self, failed: bool) {
        ProgressCounterRef {
            bar: self.bar.as_ref(),
            done: &self.done,
            errors: &self.errors,
        }
        .inc(failed);
    }
}

struct ProgressCounterRef<'a> {
    bar: Option<&'a ProgressBar>,
    done: &'a AtomicU64,
    errors: &'a AtomicU64,
}

impl ProgressCounterRef<'_> {
    fn inc(&self, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = self.bar {
            bar.inc(1);
            if failed {
                bar.set_message(format!("{} errors", self.errors.load(Ordering::Relaxed)));
            }
        }
    }
}

/// Items per second for people: one decimal below 100/s, whole numbers above.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        "–/s".to_string()
    } else if per_sec < 100.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// Resident memory of this process in MB (Linux; `0` elsewhere), for the phase lines
/// of the build log: the benchmark's peak-RSS target is easier to keep with each
/// phase's share in view.
pub fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_have_at_most_one_decimal() {
        assert_eq!(rate(1234.5678), "1235/s");
        assert_eq!(rate(12.345), "12.3/s");
        assert_eq!(rate(0.0), "0.0/s");
        assert_eq!(rate(f64::INFINITY), "–/s");
    }
}
