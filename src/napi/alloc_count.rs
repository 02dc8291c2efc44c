//! Internal, not part of the public API: the counting allocator's figures for the soak
//! benchmark (bench/soak). Exists only in builds with the `alloc-count` feature; the facade
//! never calls it.

use napi_derive::napi;

/// leakwatch's own Rust allocations (the `alloc-count` build only).
#[napi(object)]
pub struct InternalAllocationCounts {
  /// Bytes allocated by the addon and not yet freed.
  pub live_bytes: f64,
  /// Allocations not yet freed.
  pub live_allocations: f64,
  /// Allocations since the addon was loaded.
  pub total_allocations: f64,
  /// The highest `liveBytes` since the addon was loaded.
  pub peak_live_bytes: f64,
}

/// Internal (bench/soak): the counting allocator's figures, process-wide.
#[napi]
pub fn internal_allocation_counts() -> InternalAllocationCounts {
  let c = crate::alloc_count::counts();
  InternalAllocationCounts {
    live_bytes: c.live_bytes as f64,
    live_allocations: c.live_allocations as f64,
    total_allocations: c.total_allocations as f64,
    peak_live_bytes: c.peak_live_bytes as f64,
  }
}
