//! The fixed-size record a GC epilogue sends to the background thread.

use std::time::Instant;

use crate::monitor::gc_kind::GcKind;

/// Heap figures read with `v8::Isolate::GetHeapStatistics` right after a GC, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapFigures {
  /// `used_heap_size`: live objects plus not-yet-swept garbage in the V8 heap.
  pub used: u64,
  /// `total_heap_size`: memory V8 reserved for the heap.
  pub total: u64,
  /// `total_physical_size`: the part of `total` that is resident (counted in RSS).
  pub physical: u64,
  /// `heap_size_limit`: the heap size at which V8 raises out-of-memory.
  pub limit: u64,
  /// `external_memory`: memory held outside the heap by JS objects (Buffers included).
  pub external: u64,
  /// `malloced_memory`: memory V8 itself allocated with malloc.
  pub malloced: u64,
}

/// One garbage collection, as seen by the prologue/epilogue callbacks.
#[derive(Clone, Copy, Debug)]
pub struct GcRecord {
  pub kind: GcKind,
  /// `kGCCallbackFlagForced`: requested explicitly (`leakwatch.gc()`, `global.gc()`).
  pub forced: bool,
  /// Prologue to epilogue, monotonic clock.
  pub pause_ns: u64,
  /// When the epilogue ran.
  pub at: Instant,
  /// Heap statistics after the collection.
  pub heap: HeapFigures,
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn record_is_small_and_copy() {
    // The GC callback copies this into a preallocated ring: it must stay small.
    assert!(std::mem::size_of::<GcRecord>() <= 80);
    let r = GcRecord {
      kind: GcKind::Scavenge,
      forced: false,
      pause_ns: 1,
      at: Instant::now(),
      heap: HeapFigures::default(),
    };
    let copy = r;
    assert_eq!(copy.pause_ns, r.pause_ns);
  }
}
