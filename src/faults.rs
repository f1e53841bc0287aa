//! Faults of one domain, contained: the text of a caught panic ([`panic_message`]),
//! and fault injection for the integration tests, compiled into debug builds only (the
//! tests run the debug binary; a release binary ignores these variables entirely):
//!
//! - `MXMAP_TEST_PANIC=STAGE:DOMAIN` panics while STAGE (`scan`, `classify` or
//!   `grade`) handles DOMAIN, to show that one domain's panic costs that domain only.
//! - `MXMAP_TEST_SLOW=PHASE` (optionally `MXMAP_TEST_SLOW_MS`, default 20) pauses at
//!   each item of PHASE (`scan`, `probe`, `classify`, `render`), so that a signal test
//!   reliably lands inside that phase on any machine; the phase's own interrupt checks
//!   must still stop it.

use std::time::Duration;

use crate::interrupt::Phase;

/// Panics when `MXMAP_TEST_PANIC` names this stage and domain (debug builds only).
pub fn maybe_panic(stage: &str, domain: &str) {
    if cfg!(debug_assertions)
        && let Some((s, d)) = panic_target()
        && s == stage
        && d.eq_ignore_ascii_case(domain)
    {
        panic!("injected test panic ({stage} of {domain})");
    }
}

#[cfg(debug_assertions)]
fn panic_target() -> Option<&'static (String, String)> {
    static TARGET: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();
    TARGET
        .get_or_init(|| {
            let value = std::env::var("MXMAP_TEST_PANIC").ok()?;
            let (stage, domain) = value.split_once(':')?;
            Some((stage.to_string(), domain.trim_end_matches('.').to_string()))
        })
        .as_ref()
}

#[cfg(not(debug_assertions))]
fn panic_target() -> Option<&'static (String, String)> {
    None
}

/// The pause per item of `phase`, when `MXMAP_TEST_SLOW` names it (debug builds only).
pub fn slow(phase: Phase) -> Option<Duration> {
    slow_phase()
        .filter(|(p, _)| *p == phase.name())
        .map(|(_, d)| *d)
}

/// Pauses the calling thread per [`slow`] (for rayon and plain threads).
pub fn pause(phase: Phase) {
    if let Some(pause) = slow(phase) {
        std::thread::sleep(pause);
    }
}

/// Pauses the calling task per [`slow`] (for async work, without blocking a runtime
/// thread that others need).
pub async fn pause_async(phase: Phase) {
    if let Some(pause) = slow(phase) {
        tokio::time::sleep(pause).await;
    }
}

#[cfg(debug_assertions)]
fn slow_phase() -> Option<&'static (String, Duration)> {
    static SLOW: std::sync::OnceLock<Option<(String, Duration)>> = std::sync::OnceLock::new();
    SLOW.get_or_init(|| {
        let phase = std::env::var("MXMAP_TEST_SLOW").ok()?;
        let ms = std::env::var("MXMAP_TEST_SLOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        Some((phase, Duration::from_millis(ms)))
    })
    .as_ref()
}

#[cfg(not(debug_assertions))]
fn slow_phase() -> Option<&'static (String, Duration)> {
    None
}

/// The text of a caught panic (what `panic!` was given), for evidence and messages.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".to_string())
}
