//! mxmap: who hosts the official email of Europe's municipalities, and how well is it
//! protected in transit.
//!
//! The pipeline reads top to bottom, one module per stage:
//! [`seeds`] → [`scan`] (DNS) → [`evidence`] → [`classify`] → [`site`].
//! [`world`] serves a recorded DNS world on loopback for offline builds and tests;
//! [`pipeline`] wires the stages into the commands of [`cli`].

pub mod classify;
pub mod cli;
pub mod config;
pub mod countries;
pub mod discover;
pub mod evidence;
pub mod geo;
pub mod grade;
pub mod history;
pub mod name;
pub mod pipeline;
pub mod progress;
pub mod quality;
pub mod scan;
pub mod seeds;
pub mod site;
pub mod world;

/// Logs to stderr; `RUST_LOG` selects the level (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
