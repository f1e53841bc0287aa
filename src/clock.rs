//! The run's clock. Normally the system clock; `--clock TIME` moves it so that the run
//! behaves as if it had started at TIME (and runs on from there at the real pace).
//!
//! The override exists to simulate nightly runs offline — thirty runs of history in a few
//! minutes for the site-size benchmark and the state tests — and is honoured only in
//! loopback mode (`--world`, `--loopback-only`, or a render from a cache recorded that
//! way): a live run always carries the real time, so published dates cannot be faked.
//!
//! With `MXMAP_CLOCK_FROZEN=1` in the environment the clock of such a run stands still
//! at TIME, so that two runs over the same answers (one scan and its shards merged, in
//! `tests/shard.rs`) can be compared byte for byte, `scanned_at` included.

use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::{Result, bail};

use crate::evidence::Timestamp;

/// Seconds added to the system clock (0: no override).
static OFFSET: AtomicI64 = AtomicI64::new(0);

/// The time the clock stands still at ([`NOT_FROZEN`]: it runs).
static FROZEN_AT: AtomicI64 = AtomicI64::new(NOT_FROZEN);
const NOT_FROZEN: i64 = i64::MIN;

/// Environment variable that, set to `1`, stops the clock of `--clock TIME` at TIME.
pub const FROZEN_ENV: &str = "MXMAP_CLOCK_FROZEN";

/// The system clock, in Unix seconds.
fn system_now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The run's current time, in Unix seconds.
pub fn now() -> Timestamp {
    let frozen = FROZEN_AT.load(Ordering::Relaxed);
    if frozen != NOT_FROZEN {
        return frozen;
    }
    system_now().saturating_add(OFFSET.load(Ordering::Relaxed))
}

/// Applies `--clock TIME` (an ISO 8601 UTC time such as `2026-03-01T02:17:00Z`) when
/// `loopback` is true; refuses it otherwise. `None` leaves the system clock.
pub fn apply(clock: Option<&str>, loopback: bool) -> Result<()> {
    let Some(text) = clock else {
        return Ok(());
    };
    if !loopback {
        bail!(
            "--clock is only honoured in loopback mode (--world, --loopback-only, or a render from such a cache): a live run carries the real time"
        );
    }
    let start = parse_iso(text)?;
    OFFSET.store(start - system_now(), Ordering::Relaxed);
    if std::env::var(FROZEN_ENV).is_ok_and(|v| v == "1") {
        FROZEN_AT.store(start, Ordering::Relaxed);
        tracing::info!("clock stopped at {text} ({FROZEN_ENV}=1)");
    } else {
        tracing::info!("clock set to {text}");
    }
    Ok(())
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (or a date alone, meaning midnight UTC).
pub fn parse_iso(text: &str) -> Result<Timestamp> {
    let bad = || anyhow::anyhow!("--clock {text:?}: expected a UTC time like 2026-03-01T02:17:00Z");
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z').ok_or_else(bad)?),
        None => (text, "00:00:00"),
    };
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    let (y, m, day, hh, mm, ss) = (num(y)?, num(m)?, num(day)?, num(hh)?, num(mm)?, num(ss)?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_times() {
        assert_eq!(parse_iso("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_iso("2026-03-01T02:17:00Z").unwrap(), 1_772_331_420);
        assert_eq!(parse_iso("2000-02-29").unwrap(), 951_782_400);
        for bad in [
            "2026-13-01",
            "2026-03-01T25:00:00Z",
            "yesterday",
            "2026-03-01T02:17:00",
        ] {
            assert!(parse_iso(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_live_run_refuses_the_override() {
        let err = apply(Some("2026-03-01T02:17:00Z"), false).unwrap_err();
        assert!(err.to_string().contains("loopback"));
        assert!(apply(None, false).is_ok());
    }
}
