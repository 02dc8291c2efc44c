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
//! initial limit once the heap shrinks below 95 % of it. The trampoline V8 calls and the
//! registration are in `v8/near_heap_limit.rs`; this is the handler behind them.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;

use super::attempt::{attempt, Outcome, Request, Target};
use super::statistics::{self, Statistics};
use crate::v8::{Census, IsolateProfiler, NearHeapLimitCallback, NearHeapLimitHandler};

/// Settings fixed when the hook is armed.
pub struct NearLimitConfig {
  pub dir: PathBuf,
  pub thread_id: u32,
  pub memory_limit: Option<u64>,
  pub min_free_disk: u64,
  pub max_files: Option<usize>,
  /// The pause budget (`None`: none).
  pub max_pause: Option<std::time::Duration>,
}

/// Receives the outcome on the isolate's thread (inside the V8 callback: no JS allowed), with
/// the statistics file written when the snapshot did not fit.
pub type Notify = Box<dyn FnMut(Outcome, Option<PathBuf>)>;

/// Takes the heap's container census for the guard (see `attempt`), on the isolate's thread.
pub type TakeCensus = Box<dyn FnMut(&IsolateProfiler) -> Option<Census>>;

/// One isolate's armed hook; dropping it disarms it.
pub struct NearLimitHook {
  callback: Box<NearHeapLimitCallback>,
}

/// What the hook does when V8 calls it.
struct NearLimitDump {
  config: NearLimitConfig,
  in_callback: Cell<bool>,
  /// Highest limit granted to nested calls during the dump.
  granted: Cell<usize>,
  notify: RefCell<Option<Notify>>,
  census: RefCell<TakeCensus>,
}

/// Raise of the heap limit granted for the snapshot: an eighth of the limit, at least 32 MiB.
fn limit_raise(current: usize) -> usize {
  (current / 8).max(32 * 1024 * 1024)
}

/// The new limit: above `current` (V8 treats anything else as "no room": out of memory).
fn raise(current: usize) -> usize {
  current.saturating_add(limit_raise(current))
}

impl NearHeapLimitHandler for NearLimitDump {
  fn near_heap_limit(&self, callback: &NearHeapLimitCallback, current: usize) -> usize {
    // A callback already running (a nested call from the snapshot's own GCs) only grants
    // room.
    if self.in_callback.replace(true) {
      let granted = raise(current);
      self.granted.set(self.granted.get().max(granted));
      return granted;
    }
    self.fire(callback, current);
    self.in_callback.set(false);
    // Nested calls may have raised the limit already: go above what they granted.
    raise(current.max(self.granted.get()))
  }

  fn after_panic(&self, current: usize) -> usize {
    eprintln_raw("leakwatch: internal error while handling the heap limit; no snapshot written");
    self.in_callback.set(false);
    raise(current.max(self.granted.get()))
  }
}

impl NearLimitDump {
  fn fire(&self, callback: &NearHeapLimitCallback, current_limit: usize) {
    let profiler = callback.profiler();
    let heap_used = profiler.heap_used().unwrap_or(current_limit as u64);
    let request = Request {
      target: Target::Dir {
        dir: self.config.dir.clone(),
        thread_id: self.config.thread_id,
      },
      trigger: "near-heap-limit".to_string(),
      heap_used,
      memory_limit: self.config.memory_limit,
      min_free_disk: self.config.min_free_disk,
      max_pause: self.config.max_pause,
    };
    // No JavaScript can run inside this V8 callback: the facade computed line ends when it
    // armed the hook, for the scripts loaded by then.
    let mut census = self.census.borrow_mut();
    let outcome = attempt(profiler, &request, &mut || census(profiler), &mut || {});
    drop(census);
    callback.remove();
    eprintln_raw(&describe(&outcome, current_limit));
    // What fits when the snapshot does not: the heap's figures, a small JSON file.
    let statistics = match outcome {
      Outcome::Skipped { .. } | Outcome::OverBudget { .. } => self.write_statistics(profiler),
      _ => None,
    };
    if let (Outcome::Written { dumped, .. }, Some(keep)) = (&outcome, self.config.max_files) {
      let _ = super::name::prune(&self.config.dir, keep, Some(&dumped.path));
    }
    profiler.restore_initial_heap_limit(0.95);
    if let Some(notify) = self.notify.borrow_mut().as_mut() {
      notify(outcome, statistics);
    }
  }

  /// The statistics file instead of the snapshot; its path, or None (said on stderr).
  fn write_statistics(&self, profiler: &IsolateProfiler) -> Option<PathBuf> {
    let stats = Statistics {
      trigger: "near-heap-limit",
      heap: profiler.heap_figures(),
      spaces: profiler.heap_spaces(),
      rss: crate::monitor::sampler::resident_set_bytes(),
      malloc: crate::os::malloc_figures(),
    };
    match statistics::write(&self.config.dir, self.config.thread_id, &stats) {
      Ok(path) => {
        eprintln_raw(&format!(
          "leakwatch: wrote heap statistics {}",
          path.display()
        ));
        Some(path)
      }
      Err(e) => {
        eprintln_raw(&format!("leakwatch: no heap statistics written: {e}"));
        None
      }
    }
  }
}

impl NearLimitHook {
  /// Registers the hook on `profiler`'s isolate.
  pub fn arm(
    profiler: IsolateProfiler,
    config: NearLimitConfig,
    census: TakeCensus,
    notify: Notify,
  ) -> NearLimitHook {
    let dump = NearLimitDump {
      config,
      in_callback: Cell::new(false),
      granted: Cell::new(0),
      notify: RefCell::new(Some(notify)),
      census: RefCell::new(census),
    };
    NearLimitHook {
      callback: NearHeapLimitCallback::register(profiler, Box::new(dump)),
    }
  }

  /// Whether the hook is still waiting (it fires once).
  pub fn armed(&self) -> bool {
    self.callback.registered()
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
    Outcome::OverBudget {
      expected,
      budget,
      aborted_after: Some(ran),
      ..
    } => format!(
      "{head}; heap snapshot abandoned after {} ms, past the pause budget of {} ms (expected {} ms)",
      ran.as_millis(),
      budget.as_millis(),
      expected.as_millis()
    ),
    Outcome::OverBudget {
      expected, budget, ..
    } => format!(
      "{head}; heap snapshot skipped: expected to take {} ms, over the pause budget of {} ms",
      expected.as_millis(),
      budget.as_millis()
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
  crate::os::write_stderr(&text);
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
