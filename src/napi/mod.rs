//! The JavaScript-facing surface: every `#[napi]` item, and the conversions between the
//! addon's Rust types and the shapes JavaScript sees. Nothing below this module knows napi.

mod analysis;
mod env_cleanup;
mod error;
mod payloads;
mod reports;
mod snapshot;
mod watcher;

pub use analysis::*;
pub use snapshot::*;
pub use watcher::*;
