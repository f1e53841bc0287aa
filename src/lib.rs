//! mxmap: who hosts the official email of Europe's municipalities, and how well is it
//! protected in transit.
//!
//! The pipeline reads top to bottom, one module per stage, and dependencies run one
//! way: leaves ([`name`], [`countries`], [`evidence`], [`records`], [`clock`],
//! [`progress`], …) → [`seeds`] → [`scan`] → [`classify`], [`grade`] → [`site`] →
//! [`pipeline`]. [`cli`] and [`config`] turn the command line into each stage's
//! settings; [`world`] serves a recorded DNS world on loopback for offline builds and
//! tests. `tests/architecture.rs` keeps the graph free of cycles.

pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod countries;
pub mod discover;
pub mod evidence;
pub mod faults;
pub mod geo;
pub mod grade;
pub mod history;
pub mod interrupt;
pub mod name;
pub mod pipeline;
pub mod progress;
pub mod quality;
pub mod records;
pub mod scan;
pub mod seeds;
pub mod site;
pub mod state;
pub mod world;

/// Logs to stderr; `RUST_LOG` selects the level (default: warnings). Colour only on a
/// terminal, and never when `NO_COLOR` is set (<https://no-color.org>): CI logs and
/// files piped from stderr get plain text.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_target(false)
        .try_init();
}

/// Colour for a terminal unless `NO_COLOR` is set to a non-empty value.
fn use_colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(super::use_colour(true, None));
        assert!(super::use_colour(true, Some(OsStr::new(""))));
        assert!(!super::use_colour(true, Some(OsStr::new("1"))));
        assert!(!super::use_colour(false, None));
    }
}
