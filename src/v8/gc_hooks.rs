//! GC prologue/epilogue callbacks for one isolate (the trampolines V8 calls).
//!
//! They run inside V8's garbage collector on the isolate's thread: no JavaScript, no napi
//! calls, no locks, no allocation. The prologue notes the time; the epilogue measures the
//! pause, reads the heap statistics and pushes a fixed-size [`GcRecord`] into the monitor's
//! [`RecordChannel`], which never blocks.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::monitor::channel::RecordChannel;
use crate::monitor::cost::HookCost;
use crate::monitor::gc_kind::GcKind;
use crate::monitor::record::GcRecord;
use crate::v8::gc_type::GC_CALLBACK_FORCED_FLAGS;
use crate::v8::{Isolate, V8Api};

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

/// V8's GC prologue callback.
///
/// # Safety
/// Called only by V8, with `data` the `HookState` registered by [`GcHooks::install`].
unsafe extern "C" fn on_gc_prologue(
  _isolate: *mut Isolate,
  gc_type: u32,
  _flags: u32,
  data: *mut c_void,
) {
  let entered = Instant::now();
  // SAFETY: `data` is the HookState that `GcHooks::install` registered with this callback;
  // it is freed only after `GcHooks::drop` removed the callback. Shared access only: its
  // fields are atomics or shared (`Arc`) and internally synchronized.
  let state = unsafe { &*(data as *const HookState) };
  // Nothing here is expected to panic; if it did, the GC must not unwind (or abort).
  let _ = std::panic::catch_unwind(|| {
    if let Some(kind) = state.api.gc_types.kind(gc_type) {
      let ns = entered.saturating_duration_since(state.epoch).as_nanos() as u64;
      state.started_ns[kind.index()].store(ns, Ordering::Relaxed);
    }
    state.cost.add(entered);
  });
}

/// V8's GC epilogue callback.
///
/// # Safety
/// Called only by V8, on `isolate`'s thread, with `data` the `HookState` registered by
/// [`GcHooks::install`].
unsafe extern "C" fn on_gc_epilogue(
  isolate: *mut Isolate,
  gc_type: u32,
  flags: u32,
  data: *mut c_void,
) {
  let entered = Instant::now();
  // SAFETY: as in the prologue: the registered HookState, alive while the callback is
  // registered, only shared.
  let state = unsafe { &*(data as *const HookState) };
  // A panic (none is expected) loses this record instead of unwinding into the GC.
  let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    if let Some(kind) = state.api.gc_types.kind(gc_type) {
      let now_ns = entered.saturating_duration_since(state.epoch).as_nanos() as u64;
      let started = state.started_ns[kind.index()].load(Ordering::Relaxed);
      // SAFETY: V8 passes the isolate being collected, alive and entered on this thread, and
      // allows reading its heap statistics in GC callbacks.
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
  }));
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
    // SAFETY: on the isolate's thread (this function's contract); `state` is freed only in
    // `Drop`, after the callbacks are removed.
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
    // SAFETY: on the isolate's thread with the isolate alive (`install`'s contract), with
    // the callbacks and data `install` registered.
    unsafe {
      self.api.remove_gc_callbacks(
        self.isolate,
        on_gc_prologue,
        on_gc_epilogue,
        self.state.cast(),
      )
    };
    // SAFETY: `state` came from `Box::into_raw` in `install` and is freed only here; V8 no
    // longer calls the callbacks that read it (removed above, on the thread they run on).
    drop(unsafe { Box::from_raw(self.state) });
  }
}
