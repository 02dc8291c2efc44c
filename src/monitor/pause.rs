//! The pause clock: times the isolate was blocked by leakwatch's own work (heap snapshots),
//! which detection leaves out of its clock — a dump freezes the application, and a frozen
//! heap must not read as a plateau (a false `leak-stopped`) nor the dump's native memory as
//! an RSS leak. Written on the isolate's thread, read by the background thread.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::monitor::MonitorShared;

/// Times the isolate was blocked by leakwatch's own work (heap snapshots), for detection to
/// leave out; written on the isolate's thread, read by the background thread.
#[derive(Default)]
pub struct PauseLog {
  /// Start of the pause under way, if any.
  pub open: Option<Instant>,
  /// Pauses that ended and detection has not seen yet.
  pub closed: Vec<(Instant, Instant)>,
}

impl PauseLog {
  fn began(&mut self, at: Instant) {
    self.open = Some(at);
  }

  fn ended(&mut self, at: Instant) {
    if let Some(start) = self.open.take() {
      self.closed.push((start, at));
    }
  }
}

thread_local! {
  /// The monitor of the isolate running on this thread, if one runs.
  static ACTIVE: RefCell<Weak<MonitorShared>> = const { RefCell::new(Weak::new()) };
}

/// Makes `shared` this thread's monitor (None: no monitor runs here any more).
pub fn set_active(shared: Option<&Arc<MonitorShared>>) {
  ACTIVE.with(|a| *a.borrow_mut() = shared.map_or_else(Weak::new, Arc::downgrade));
}

/// Runs `f`, which blocks this thread's isolate (a heap snapshot), as a pause its monitor's
/// detection leaves out.
pub fn as_pause<T>(f: impl FnOnce() -> T) -> T {
  let shared = ACTIVE.with(|a| a.borrow().upgrade());
  if let Some(shared) = &shared {
    shared.pauses.lock().began(Instant::now());
  }
  let result = f();
  if let Some(shared) = &shared {
    shared.pauses.lock().ended(Instant::now());
    shared.channel.wake();
  }
  result
}
