//! GC prologue/epilogue callbacks for one isolate.
//!
//! They run inside V8's garbage collector on the isolate's thread: no JavaScript, no napi
//! calls, no locks, no allocation. The prologue notes the time; the epilogue measures the
//! pause, reads the heap statistics and pushes a fixed-size [`GcRecord`] into a preallocated
//! ring that the background thread drains. A full ring drops the record and counts it.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;

use crate::cost::HookCost;
use crate::gc_kind::{GcKind, GC_CALLBACK_FORCED_FLAGS};
use crate::record::GcRecord;
use crate::v8::{Isolate, V8Api};

/// Records in flight between one isolate's GC callbacks and its background thread.
pub const RECORD_CAPACITY: usize = 1024;

/// The bounded, non-blocking path from the GC callbacks to the background thread.
pub struct RecordChannel {
  queue: ArrayQueue<GcRecord>,
  dropped: AtomicU64,
  /// The background thread, woken after a full GC or when the ring is half full.
  consumer: OnceLock<Thread>,
}

impl RecordChannel {
  pub fn new() -> Arc<RecordChannel> {
    Arc::new(RecordChannel {
      queue: ArrayQueue::new(RECORD_CAPACITY),
      dropped: AtomicU64::new(0),
      consumer: OnceLock::new(),
    })
  }

  pub fn set_consumer(&self, thread: Thread) {
    let _ = self.consumer.set(thread);
  }

  /// Never blocks and never allocates.
  pub fn push(&self, record: GcRecord) {
    let urgent = record.kind.is_full();
    if self.queue.push(record).is_err() {
      self.dropped.fetch_add(1, Ordering::Relaxed);
    }
    if urgent || self.queue.len() >= RECORD_CAPACITY / 2 {
      self.wake();
    }
  }

  pub fn wake(&self) {
    if let Some(thread) = self.consumer.get() {
      thread.unpark();
    }
  }

  pub fn pop(&self) -> Option<GcRecord> {
    self.queue.pop()
  }

  /// Records lost because the ring was full.
  pub fn dropped(&self) -> u64 {
    self.dropped.load(Ordering::Relaxed)
  }
}

thread_local! {
  /// Set while `leakwatch.gc()` runs a collection on this thread: V8's
  /// `LowMemoryNotification` passes no flag that marks its GCs as requested.
  static REQUESTED_GC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a synchronous GC request) with its collections marked as forced.
pub fn as_requested_gc<R>(f: impl FnOnce() -> R) -> R {
  REQUESTED_GC.with(|r| r.set(true));
  let result = f();
  REQUESTED_GC.with(|r| r.set(false));
  result
}

/// What the callbacks see through their `data` pointer.
struct HookState {
  api: &'static V8Api,
  channel: Arc<RecordChannel>,
  cost: Arc<HookCost>,
  epoch: Instant,
  /// Prologue time of the GC in progress, per kind, in ns since `epoch`.
  started_ns: [AtomicU64; GcKind::COUNT],
}

unsafe extern "C" fn on_gc_prologue(
  _isolate: *mut Isolate,
  gc_type: u32,
  _flags: u32,
  data: *mut c_void,
) {
  let entered = Instant::now();
  // SAFETY: `data` is the HookState registered with these callbacks; it outlives them.
  let state = unsafe { &*(data as *const HookState) };
  if let Some(kind) = state.api.gc_types.kind(gc_type) {
    let ns = entered.saturating_duration_since(state.epoch).as_nanos() as u64;
    state.started_ns[kind.index()].store(ns, Ordering::Relaxed);
  }
  state.cost.add(entered);
}

unsafe extern "C" fn on_gc_epilogue(
  isolate: *mut Isolate,
  gc_type: u32,
  flags: u32,
  data: *mut c_void,
) {
  let entered = Instant::now();
  // SAFETY: as in the prologue.
  let state = unsafe { &*(data as *const HookState) };
  if let Some(kind) = state.api.gc_types.kind(gc_type) {
    let now_ns = entered.saturating_duration_since(state.epoch).as_nanos() as u64;
    let started = state.started_ns[kind.index()].load(Ordering::Relaxed);
    // SAFETY: epilogue callbacks run on the isolate's thread; GetHeapStatistics is allowed.
    let heap = unsafe { state.api.heap_figures(isolate) };
    state.channel.push(GcRecord {
      kind,
      forced: flags & GC_CALLBACK_FORCED_FLAGS != 0 || REQUESTED_GC.with(Cell::get),
      pause_ns: now_ns.saturating_sub(started),
      at: entered,
      heap,
    });
  }
  state.cost.add(entered);
}

/// GC callbacks installed on one isolate; removed on drop (on the isolate's thread).
pub struct GcHooks {
  api: &'static V8Api,
  isolate: *mut Isolate,
  state: *mut HookState,
}

impl GcHooks {
  /// Installs the callbacks on `isolate`.
  ///
  /// # Safety
  /// On the isolate's thread; the hooks must be dropped on that thread while it is alive.
  pub unsafe fn install(
    api: &'static V8Api,
    isolate: *mut Isolate,
    channel: Arc<RecordChannel>,
    cost: Arc<HookCost>,
  ) -> GcHooks {
    let state = Box::into_raw(Box::new(HookState {
      api,
      channel,
      cost,
      epoch: Instant::now(),
      started_ns: Default::default(),
    }));
    unsafe { api.add_gc_callbacks(isolate, on_gc_prologue, on_gc_epilogue, state.cast()) };
    GcHooks {
      api,
      isolate,
      state,
    }
  }
}

impl Drop for GcHooks {
  fn drop(&mut self) {
    // SAFETY: same thread and isolate as `install`; after removal V8 no longer calls
    // the callbacks, so the state can be freed.
    unsafe {
      self.api.remove_gc_callbacks(
        self.isolate,
        on_gc_prologue,
        on_gc_epilogue,
        self.state.cast(),
      );
      drop(Box::from_raw(self.state));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::record::HeapFigures;

  fn record(kind: GcKind) -> GcRecord {
    GcRecord {
      kind,
      forced: false,
      pause_ns: 10,
      at: Instant::now(),
      heap: HeapFigures::default(),
    }
  }

  #[test]
  fn full_ring_drops_and_counts() {
    let channel = RecordChannel::new();
    for _ in 0..RECORD_CAPACITY + 5 {
      channel.push(record(GcKind::Scavenge));
    }
    assert_eq!(channel.dropped(), 5);
    let mut drained = 0;
    while channel.pop().is_some() {
      drained += 1;
    }
    assert_eq!(drained, RECORD_CAPACITY);
  }

  #[test]
  fn full_gc_wakes_the_consumer() {
    let channel = RecordChannel::new();
    let waiter = {
      let channel = channel.clone();
      std::thread::spawn(move || {
        channel.set_consumer(std::thread::current());
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        loop {
          if let Some(r) = channel.pop() {
            if r.kind.is_full() {
              return true;
            }
          }
          if Instant::now() > deadline {
            return false;
          }
          std::thread::park_timeout(std::time::Duration::from_secs(5));
        }
      })
    };
    while channel.consumer.get().is_none() {
      std::thread::yield_now();
    }
    channel.push(record(GcKind::MarkSweepCompact));
    assert!(waiter.join().unwrap());
  }
}
