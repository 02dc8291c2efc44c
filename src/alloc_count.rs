//! A counting global allocator, compiled only with the `alloc-count` feature (the soak
//! benchmark builds its own copy of the addon with it; published builds never have it).
//!
//! It wraps the system allocator and counts every allocation the addon's Rust code makes —
//! the monitor, the detectors, snapshots, the analyser — so a long run can tell whether
//! leakwatch's own memory stays bounded. Memory V8 allocates (a snapshot's graph, the heap) is
//! not Rust's and is not counted. The counters are relaxed atomics: cheap, and exact once the
//! threads that allocate are quiet.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The system allocator, counted.
pub struct CountingAllocator;

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static TOTAL_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static PEAK_LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

fn added(size: usize) {
  let live = LIVE_BYTES.fetch_add(size as u64, Relaxed) + size as u64;
  LIVE_ALLOCATIONS.fetch_add(1, Relaxed);
  TOTAL_ALLOCATIONS.fetch_add(1, Relaxed);
  PEAK_LIVE_BYTES.fetch_max(live, Relaxed);
}

fn removed(size: usize) {
  LIVE_BYTES.fetch_sub(size as u64, Relaxed);
  LIVE_ALLOCATIONS.fetch_sub(1, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are this allocator's; the counting around it touches only atomics and never
// allocates.
unsafe impl GlobalAlloc for CountingAllocator {
  unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
    // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded unchanged.
    let ptr = unsafe { System.alloc(layout) };
    if !ptr.is_null() {
      added(layout.size());
    }
    ptr
  }

  unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
    // SAFETY: as for `alloc`.
    let ptr = unsafe { System.alloc_zeroed(layout) };
    if !ptr.is_null() {
      added(layout.size());
    }
    ptr
  }

  unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
    // SAFETY: `ptr` was allocated by this allocator (so by `System`) with `layout`.
    unsafe { System.dealloc(ptr, layout) };
    removed(layout.size());
  }

  unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, forwarded unchanged.
    let new = unsafe { System.realloc(ptr, layout, new_size) };
    if !new.is_null() {
      removed(layout.size());
      added(new_size);
    }
    new
  }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// What the counters say now.
#[derive(Clone, Copy, Debug)]
pub struct AllocationCounts {
  /// Bytes allocated and not yet freed.
  pub live_bytes: u64,
  /// Allocations not yet freed.
  pub live_allocations: u64,
  /// Allocations since the addon was loaded (a `realloc` that moves counts as one more).
  pub total_allocations: u64,
  /// The highest `live_bytes` since the addon was loaded.
  pub peak_live_bytes: u64,
}

pub fn counts() -> AllocationCounts {
  AllocationCounts {
    live_bytes: LIVE_BYTES.load(Relaxed),
    live_allocations: LIVE_ALLOCATIONS.load(Relaxed),
    total_allocations: TOTAL_ALLOCATIONS.load(Relaxed),
    peak_live_bytes: PEAK_LIVE_BYTES.load(Relaxed),
  }
}
