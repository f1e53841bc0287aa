//! Domain discovery (classification spec §9): finds the mail domain of a municipality
//! whose seed has none, or whose seed domain receives no mail.
//!
//! - [`conventions`]: the per-country convention table (`conventions.toml`, data);
//! - [`normalise`]: municipality name → slug variants;
//! - [`candidates`]: slug variants × domain shapes, bounded.

pub mod candidates;
pub mod conventions;
pub mod normalise;
