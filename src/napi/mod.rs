//! The JavaScript-facing surface: every `#[napi]` item, and the conversions between the
//! addon's Rust types and the shapes JavaScript sees. Nothing below this module knows napi.

#[cfg(feature = "alloc-count")]
mod alloc_count;
mod analysis;
mod env_cleanup;
mod error;
mod payloads;
mod reports;
mod snapshot;
mod watcher;

#[cfg(feature = "alloc-count")]
pub use alloc_count::*;
pub use analysis::*;
pub use snapshot::*;
pub use watcher::*;

use napi_derive::napi;

/// The shape of this binding as the JavaScript facade (lib/) expects it. Bump it whenever an
/// exported class, function, argument or payload changes, and the facade's
/// `BINDING_API_VERSION` with it: a stale build then fails at `require()` with
/// ERR_LEAKWATCH_BINDING_MISMATCH instead of misbehaving.
#[napi]
pub const BINDING_API_VERSION: u32 = 7;

/// The largest `detection.minPoints` the trend window can be relied on to reach (see
/// `leakwatch_detection::detector::MAX_MIN_POINTS`); lib/options.js refuses larger values and
/// `__test__/names.test.js` keeps the two equal.
#[napi]
pub const TREND_MAX_MIN_POINTS: u32 = leakwatch_detection::detector::MAX_MIN_POINTS as u32;
