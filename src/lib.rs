//! leakwatch: in-process memory leak detection for Node.js.
//!
//! Only the exported surface lives here; each concern has its own module.
#![deny(clippy::all)]

mod analysis;
mod analysis_api;
mod confirm;
mod cost;
mod detection;
mod detector;
mod error;
mod events;
mod gc;
mod gc_kind;
mod monitor;
mod record;
mod sampler;
mod snapshot;
mod snapshot_api;
mod stats;
mod v8;
mod watcher;

pub use analysis_api::*;
pub use snapshot_api::*;
pub use watcher::*;
