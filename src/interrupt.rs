//! Ctrl-C (SIGINT) and SIGTERM in every phase of a run.
//!
//! The signal handler only records the signal (an atomic store is all a handler may
//! safely do). Each phase polls [`check`] between its items (domains, probes,
//! municipalities, pages) or awaits [`wait`], and leaves through its ordinary error
//! path: the scan cache keeps every answer received, the staging folder is removed,
//! the published site is untouched, and `main` exits 130 (SIGINT) or 143 (SIGTERM).
//!
//! A watchdog thread is the backstop for work that cannot poll (one long map, a slow
//! disk): when the run has not ended [`GRACE`] after the signal, it removes every
//! registered staging folder itself and exits — but never in the middle of a
//! [`Critical`] section (a cache save or the swap of the site), which would lose
//! answers or leave the site half-swapped. A second signal skips the grace period.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the run may take to stop by itself before the watchdog ends it: the
/// promise is "stopped within 2 s", and removing a staging folder takes the rest.
pub const GRACE: Duration = Duration::from_millis(1500);

/// How often the watchdog and [`wait`] look at the flag.
const POLL: Duration = Duration::from_millis(20);

/// A signal that stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C.
    Int,
    /// `kill`, a CI runner's cancel, a container stop.
    Term,
}

impl Signal {
    /// The shell's exit status for a process ended by this signal (128 + number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }

    fn from_raw(raw: i32) -> Option<Signal> {
        match raw {
            libc::SIGINT => Some(Signal::Int),
            libc::SIGTERM => Some(Signal::Term),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        })
    }
}

/// The phases of a run, as printed (`phase: scan`) and named in interrupt messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Loading inputs.
    Startup = 0,
    /// DNS questions.
    Scan = 1,
    /// SMTP probes and MTA-STS policy fetches.
    Probe = 2,
    /// Classification and grading.
    Classify = 3,
    /// Quality gate, pages and data files.
    Render = 4,
}

impl Phase {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Startup => "startup",
            Phase::Scan => "scan",
            Phase::Probe => "probe",
            Phase::Classify => "classify",
            Phase::Render => "render",
        }
    }

    fn from_raw(raw: u8) -> Phase {
        match raw {
            1 => Phase::Scan,
            2 => Phase::Probe,
            3 => Phase::Classify,
            4 => Phase::Render,
            _ => Phase::Startup,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The run was stopped by a signal. `main` turns it into exit status 130 or 143.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {signal} during {phase}")]
pub struct Interrupted {
    /// The signal.
    pub signal: Signal,
    /// The phase it stopped.
    pub phase: Phase,
}

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static SIGNALS_SEEN: AtomicUsize = AtomicUsize::new(0);
static PHASE: AtomicU8 = AtomicU8::new(Phase::Startup as u8);
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static PENDING: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());
static INSTALL: std::sync::Once = std::sync::Once::new();

extern "C" fn on_signal(raw: libc::c_int) {
    let _ = SIGNAL.compare_exchange(0, raw, Ordering::SeqCst, Ordering::SeqCst);
    SIGNALS_SEEN.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handlers for SIGINT and SIGTERM and starts the watchdog. Call once,
/// before any work; later calls do nothing.
pub fn install() {
    INSTALL.call_once(|| {
        for raw in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `on_signal` only touches atomics, which is async-signal-safe; the
            // struct is fully initialised (zeroed, then the handler and flags set).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(raw, &action, std::ptr::null_mut());
            }
        }
        let spawned = std::thread::Builder::new()
            .name("mxmap-signals".into())
            .spawn(watchdog);
        if let Err(e) = spawned {
            tracing::warn!("cannot start the signal watchdog: {e}");
        }
    });
}

/// The signal received, if any.
pub fn received() -> Option<Signal> {
    Signal::from_raw(SIGNAL.load(Ordering::SeqCst))
}

/// The current phase.
pub fn phase() -> Phase {
    Phase::from_raw(PHASE.load(Ordering::SeqCst))
}

/// Enters `phase` (named in the messages of a later interrupt).
pub fn enter(phase: Phase) {
    PHASE.store(phase as u8, Ordering::SeqCst);
}

/// `Err` once a signal has arrived: call between items of work.
pub fn check() -> Result<(), Interrupted> {
    match received() {
        Some(signal) => Err(Interrupted {
            signal,
            phase: phase(),
        }),
        None => Ok(()),
    }
}

/// Completes when a signal arrives (for `select!` against async work).
pub async fn wait() -> Interrupted {
    loop {
        if let Err(interrupted) = check() {
            return interrupted;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Work the watchdog must not cut short (a cache save, the swap of the site): while
/// one is alive, the watchdog waits.
#[must_use = "the section ends when this is dropped"]
pub struct Critical(());

impl Critical {
    /// Starts a critical section.
    pub fn enter() -> Critical {
        CRITICAL.fetch_add(1, Ordering::SeqCst);
        Critical(())
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A staging folder that the watchdog removes if it has to end the run itself.
pub fn register_staging(dir: &Path) {
    lock_staging().push(dir.to_path_buf());
}

/// The staging folder was committed or removed.
pub fn unregister_staging(dir: &Path) {
    lock_staging().retain(|d| d != dir);
}

fn lock_staging() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    STAGING.lock().unwrap_or_else(|e| e.into_inner())
}

/// An updated scan cache written beside `target` and not yet moved in: should the
/// watchdog have to end the run, it moves it in (the answers received are kept).
pub fn register_pending(pending: &Path, target: &Path) {
    lock_pending().push((pending.to_path_buf(), target.to_path_buf()));
}

/// The pending cache was moved in or dropped.
pub fn unregister_pending(pending: &Path) {
    lock_pending().retain(|(p, _)| p != pending);
}

fn lock_pending() -> std::sync::MutexGuard<'static, Vec<(PathBuf, PathBuf)>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn watchdog() {
    let signal = loop {
        std::thread::sleep(POLL);
        if let Some(signal) = received() {
            break signal;
        }
    };
    let since = Instant::now();
    eprintln!("{signal} received during {}: stopping", phase());
    loop {
        std::thread::sleep(POLL);
        let hurry = SIGNALS_SEEN.load(Ordering::SeqCst) > 1;
        if (hurry || since.elapsed() >= GRACE) && CRITICAL.load(Ordering::SeqCst) == 0 {
            break;
        }
    }
    let dirs = lock_staging().clone();
    for dir in &dirs {
        remove_staging(dir);
    }
    for (pending, target) in lock_pending().iter() {
        if pending.exists() {
            let _ = std::fs::rename(pending, target);
        }
    }
    eprintln!(
        "interrupted: stopped by {signal} during {}, without waiting for this step to end; the published site is unchanged",
        phase()
    );
    std::process::exit(i32::from(signal.exit_code()));
}

/// Removes a staging folder while writer threads may still add files to it: a few
/// attempts, since a file created between listing and removal makes one fail.
fn remove_staging(dir: &Path) {
    for _ in 0..20 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
        assert_eq!(Signal::from_raw(libc::SIGTERM), Some(Signal::Term));
        assert_eq!(Signal::from_raw(0), None);
        for p in [Phase::Scan, Phase::Probe, Phase::Classify, Phase::Render] {
            assert_eq!(Phase::from_raw(p as u8), p);
        }
    }
}
