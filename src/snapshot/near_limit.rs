//! One snapshot just before the isolate runs out of heap, as `--heapsnapshot-near-heap-limit`
//! does, but guarded, written atomically, into leakwatch's directory.
//!
//! V8 calls the last registered near-heap-limit callback when the heap is about to reach its
//! limit, outside the GC pause, on the isolate's thread. leakwatch's callback runs a guarded
//! dump; the GCs the snapshot itself runs can bring the heap to the limit again, and V8 then
//! calls the callback again from inside the dump: those nested calls only grant room. After
//! the dump the callback removes itself — so it fires once, and whatever callback was
//! registered before it (a worker's own out-of-memory handler, Node's
//! `--heapsnapshot-near-heap-limit`) is the one V8 calls next — writes one line to stderr
//! (the process may well die next), raises the limit a little and asks V8 to return to the
//! initial limit once the heap shrinks below 95 % of it.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::path::PathBuf;

use super::attempt::{attempt, Outcome, Request, Target};
use crate::v8::{Isolate, ProfilerApi, V8Api};

/// Settings fixed when the hook is armed.
pub struct NearLimitConfig {
  pub dir: PathBuf,
  pub thread_id: u32,
  pub memory_limit: Option<u64>,
  pub min_free_disk: u64,
  pub max_files: Option<usize>,
}

/// Receives the outcome on the isolate's thread (inside the V8 callback: no JS allowed).
pub type Notify = Box<dyn FnMut(Outcome)>;

/// One isolate's armed hook. Boxed: V8 holds its address until [`NearLimitHook::disarm`].
pub struct NearLimitHook {
  api: &'static ProfilerApi,
  isolate: *mut Isolate,
  config: NearLimitConfig,
  registered: Cell<bool>,
  in_callback: Cell<bool>,
  /// Highest limit granted to nested calls during the dump.
  granted: Cell<usize>,
  notify: RefCell<Option<Notify>>,
}

/// Raise of the heap limit granted for the snapshot: an eighth of the limit, at least 32 MiB.
fn limit_raise(current: usize) -> usize {
  (current / 8).max(32 * 1024 * 1024)
}

/// The new limit: above `current` (V8 treats anything else as "no room": out of memory).
fn raise(current: usize) -> usize {
  current.saturating_add(limit_raise(current))
}

unsafe extern "C" fn on_near_heap_limit(
  data: *mut c_void,
  current: usize,
  _initial: usize,
) -> usize {
  // SAFETY: `data` is the boxed hook, alive while registered; V8 calls on the isolate's
  // thread. A callback already running (a nested call from the snapshot's own GCs) only
  // grants room.
  let hook = unsafe { &*(data as *const NearLimitHook) };
  if hook.in_callback.replace(true) {
    let granted = raise(current);
    hook.granted.set(hook.granted.get().max(granted));
    return granted;
  }
  let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    // SAFETY: on the isolate's thread, in the near-heap-limit callback.
    unsafe { hook.fire(current) }
  }));
  if result.is_err() {
    hook.disarm();
    eprintln_raw("leakwatch: internal error while handling the heap limit; no snapshot written");
  }
  hook.in_callback.set(false);
  // Nested calls may have raised the limit already: go above what they granted.
  raise(current.max(hook.granted.get()))
}

impl NearLimitHook {
  /// Registers the hook on the isolate of the calling thread.
  ///
  /// # Safety
  /// On the isolate's JS thread. The returned box must be disarmed (or the isolate disposed)
  /// before it is dropped; [`Drop`] disarms.
  pub unsafe fn arm(
    api: &'static ProfilerApi,
    isolate: *mut Isolate,
    config: NearLimitConfig,
    notify: Notify,
  ) -> Box<NearLimitHook> {
    let hook = Box::new(NearLimitHook {
      api,
      isolate,
      config,
      registered: Cell::new(true),
      in_callback: Cell::new(false),
      granted: Cell::new(0),
      notify: RefCell::new(Some(notify)),
    });
    let data = &*hook as *const NearLimitHook as *mut c_void;
    // SAFETY: on the isolate's thread (this function's contract); `data` points into the
    // boxed hook, which stays at that address until `Drop` removes the callback.
    unsafe { api.add_near_heap_limit_callback(isolate, on_near_heap_limit, data) };
    hook
  }

  /// Whether the hook is still waiting (it fires once).
  pub fn armed(&self) -> bool {
    self.registered.get()
  }

  /// Removes the hook if it has not fired. On the isolate's thread, isolate alive.
  pub fn disarm(&self) {
    if self.registered.replace(false) {
      // SAFETY: registered exactly once with this function; on the isolate's thread.
      unsafe {
        self
          .api
          .remove_near_heap_limit_callback(self.isolate, on_near_heap_limit, 0)
      };
    }
  }

  unsafe fn fire(&self, current_limit: usize) {
    let heap_used = V8Api::get()
      .ok()
      // SAFETY: on the isolate's thread; statistics may be read in this callback.
      .map(|v8| unsafe { v8.heap_figures(self.isolate) }.used)
      .unwrap_or(current_limit as u64);
    let request = Request {
      target: Target::Dir {
        dir: self.config.dir.clone(),
        thread_id: self.config.thread_id,
      },
      trigger: "near-heap-limit".to_string(),
      heap_used,
      memory_limit: self.config.memory_limit,
      min_free_disk: self.config.min_free_disk,
    };
    // SAFETY: forwarded.
    let outcome = unsafe { attempt(self.api, self.isolate, &request) };
    self.disarm();
    eprintln_raw(&describe(&outcome, current_limit));
    if let (Outcome::Written { .. }, Some(keep)) = (&outcome, self.config.max_files) {
      let _ = super::name::prune(&self.config.dir, keep);
    }
    // SAFETY: on the isolate's thread.
    unsafe { self.api.restore_initial_heap_limit(self.isolate, 0.95) };
    if let Some(notify) = self.notify.borrow_mut().as_mut() {
      notify(outcome);
    }
  }
}

impl Drop for NearLimitHook {
  fn drop(&mut self) {
    self.disarm();
  }
}

/// The line an operator finds in the logs of a process that died of heap exhaustion.
fn describe(outcome: &Outcome, limit: usize) -> String {
  let mb = |b: u64| b as f64 / 1_048_576.0;
  let head = format!(
    "leakwatch: the JS heap is near its limit ({:.0} MB)",
    mb(limit as u64)
  );
  match outcome {
    Outcome::Written { dumped, .. } => format!(
      "{head}; wrote heap snapshot {} ({:.1} MB in {} ms)",
      dumped.path.display(),
      mb(dumped.bytes),
      dumped.duration.as_millis()
    ),
    Outcome::Skipped {
      reason,
      need_bytes,
      have_bytes,
      bound,
      aborted,
      ..
    } => format!(
      "{head}; heap snapshot {} for lack of {reason} (needs {:.0} MB, {bound} leaves {:.0} MB)",
      if *aborted { "abandoned" } else { "skipped" },
      mb(*need_bytes),
      mb(*have_bytes)
    ),
    Outcome::Failed { code, message, .. } => {
      format!("{head}; {message} ({})", code.as_str())
    }
  }
}

/// Writes a line to stderr without Rust's locked, panicking `eprintln!`.
fn eprintln_raw(line: &str) {
  let mut text = line.as_bytes().to_vec();
  text.push(b'\n');
  let mut rest: &[u8] = &text;
  while !rest.is_empty() {
    // SAFETY: writes from a valid buffer to fd 2.
    let n = unsafe { libc::write(2, rest.as_ptr() as *const c_void, rest.len()) };
    if n <= 0 {
      break;
    }
    rest = &rest[n as usize..];
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn raise_is_an_eighth_or_32_mib() {
    assert_eq!(limit_raise(64 << 20), 32 << 20);
    assert_eq!(limit_raise(4096 << 20), 512 << 20);
  }
}
