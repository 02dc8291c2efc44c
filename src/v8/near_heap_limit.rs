//! V8's near-heap-limit callback: the trampoline V8 calls and the registration that owns it.
//!
//! V8 calls the last registered near-heap-limit callback when the heap is about to reach its
//! limit, outside the GC pause, on the isolate's thread, and sets the limit to what it
//! returns. [`NearHeapLimitCallback`] registers a safe [`NearHeapLimitHandler`] (what to do
//! is `snapshot/near_limit.rs`'s business) and removes it when dropped, or earlier with
//! [`NearHeapLimitCallback::remove`], also from inside the handler.

use std::cell::Cell;
use std::ffi::c_void;

use super::IsolateProfiler;

/// What runs when the heap nears its limit.
pub trait NearHeapLimitHandler {
  /// The heap is about to reach `current_limit` bytes. Returns the new limit, which must be
  /// above `current_limit`: anything else means "no room" and V8 ends the process out of
  /// memory. Runs on the isolate's thread, where `callback.profiler()` may take a heap
  /// snapshot; the snapshot's own GCs can call this again, nested, before it returns.
  fn near_heap_limit(&self, callback: &NearHeapLimitCallback, current_limit: usize) -> usize;

  /// [`Self::near_heap_limit`] panicked (caught; the callback is already removed). Returns
  /// the new limit.
  fn after_panic(&self, current_limit: usize) -> usize;
}

/// A near-heap-limit callback registered on one isolate. Boxed: V8 holds its address until
/// it is removed, at the latest when it is dropped.
pub struct NearHeapLimitCallback {
  profiler: IsolateProfiler,
  registered: Cell<bool>,
  handler: Box<dyn NearHeapLimitHandler>,
}

/// The callback V8 calls.
///
/// # Safety
/// Called only by V8, with `data` the [`NearHeapLimitCallback`] registered with it.
unsafe extern "C" fn on_near_heap_limit(
  data: *mut c_void,
  current: usize,
  _initial: usize,
) -> usize {
  // SAFETY: `data` is the address of the boxed `NearHeapLimitCallback` registered with this
  // trampoline; V8 calls it only while registered, and the box is freed only after `drop`
  // removed the registration. Only shared references are made (nested calls included):
  // the state they change is in `Cell`s.
  let callback = unsafe { &*(data as *const NearHeapLimitCallback) };
  let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    callback.handler.near_heap_limit(callback, current)
  }));
  handled.unwrap_or_else(|_| {
    callback.remove();
    // A second panic must not unwind into V8 either; no room is then all there is to say.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
      callback.handler.after_panic(current)
    }))
    .unwrap_or(current)
  })
}

impl NearHeapLimitCallback {
  /// Registers `handler` on `profiler`'s isolate.
  pub fn register(
    profiler: IsolateProfiler,
    handler: Box<dyn NearHeapLimitHandler>,
  ) -> Box<NearHeapLimitCallback> {
    let callback = Box::new(NearHeapLimitCallback {
      profiler,
      registered: Cell::new(true),
      handler,
    });
    let data = &*callback as *const NearHeapLimitCallback as *mut c_void;
    // SAFETY: `data` is the box's address, which stays valid until `drop` has removed the
    // registration (moving the box does not move what it points to).
    unsafe {
      callback
        .profiler
        .add_near_heap_limit_callback(on_near_heap_limit, data)
    };
    callback
  }

  /// The isolate's profiler.
  pub fn profiler(&self) -> &IsolateProfiler {
    &self.profiler
  }

  /// Whether V8 still calls the handler.
  pub fn registered(&self) -> bool {
    self.registered.get()
  }

  /// Removes the callback (idempotent); whatever callback was registered before it is the
  /// one V8 calls next.
  pub fn remove(&self) {
    if self.registered.replace(false) {
      // SAFETY: `registered` was true: added once in `register` and not removed since.
      unsafe {
        self
          .profiler
          .remove_near_heap_limit_callback(on_near_heap_limit)
      };
    }
  }
}

impl Drop for NearHeapLimitCallback {
  fn drop(&mut self) {
    self.remove();
  }
}
