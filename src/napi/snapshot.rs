//! The napi surface for heap snapshots: a guarded dump on the calling isolate, the
//! estimate, directory pruning and the near-heap-limit hook. The JS facade (lib/snapshot.js)
//! owns the public names, options and events.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;

use crate::error::{ErrorCode, LeakwatchError};
use crate::napi::env_cleanup::{EnvCleanup, Shutdown};
use crate::napi::error::{self, napi_failure};
use crate::snapshot::attempt::{attempt, Outcome, Request, Target};
use crate::snapshot::name::prune;
use crate::snapshot::near_limit::{NearLimitConfig, NearLimitHook};
use crate::v8::{Isolate, IsolateProfiler, ProfilerApi, V8Api};

/// What asked for a dump (part of the file name and of every snapshot event).
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotTrigger {
  /// `writeSnapshot()`.
  #[napi(value = "api")]
  Api,
  #[napi(value = "leak")]
  Leak,
  #[napi(value = "signal")]
  Signal,
  #[napi(value = "heap-used")]
  HeapUsed,
  #[napi(value = "rss")]
  Rss,
  #[napi(value = "near-heap-limit")]
  NearHeapLimit,
}

impl SnapshotTrigger {
  /// The name the snapshot module uses in file names.
  fn name(self) -> &'static str {
    match self {
      SnapshotTrigger::Api => "api",
      SnapshotTrigger::Leak => "leak",
      SnapshotTrigger::Signal => "signal",
      SnapshotTrigger::HeapUsed => "heap-used",
      SnapshotTrigger::Rss => "rss",
      SnapshotTrigger::NearHeapLimit => "near-heap-limit",
    }
  }
}

/// How a dump ended.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
  #[napi(value = "written")]
  Written,
  #[napi(value = "skipped")]
  Skipped,
  #[napi(value = "failed")]
  Failed,
}

/// What a skipped dump lacked.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSkipReason {
  #[napi(value = "memory")]
  Memory,
  #[napi(value = "disk")]
  Disk,
  /// Expected to block the isolate longer than `maxPauseMs`, or given up past it.
  #[napi(value = "pause")]
  Pause,
}

impl SnapshotSkipReason {
  /// From the snapshot module's name (`guard::SkipReason::as_str`, or "memory" at the ceiling).
  fn from_name(name: &str) -> Option<Self> {
    match name {
      "memory" => Some(SnapshotSkipReason::Memory),
      "disk" => Some(SnapshotSkipReason::Disk),
      "pause" => Some(SnapshotSkipReason::Pause),
      _ => None,
    }
  }
}

/// What bounded the room a skipped dump was compared with.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotBound {
  /// The operator's `memoryLimitBytes`.
  #[napi(value = "memoryLimitBytes")]
  MemoryLimitBytes,
  /// The cgroup's memory limit.
  #[napi(value = "cgroup")]
  Cgroup,
  /// libuv's constrained memory (`process.constrainedMemory()`).
  #[napi(value = "constrainedMemory")]
  ConstrainedMemory,
  /// The system's available memory.
  #[napi(value = "system")]
  System,
  /// Free disk less `minFreeDiskBytes`.
  #[napi(value = "disk")]
  Disk,
  /// RSS reached the ceiling during the dump.
  #[napi(value = "ceiling")]
  Ceiling,
}

impl SnapshotBound {
  /// From the snapshot module's names (`headroom::MemoryRoom::bound`, the guard, the dump).
  fn from_name(name: &str) -> Option<Self> {
    match name {
      "memoryLimitBytes" => Some(SnapshotBound::MemoryLimitBytes),
      "cgroup" => Some(SnapshotBound::Cgroup),
      "constrainedMemory" => Some(SnapshotBound::ConstrainedMemory),
      "system" => Some(SnapshotBound::System),
      "disk" => Some(SnapshotBound::Disk),
      "ceiling" => Some(SnapshotBound::Ceiling),
      _ => None,
    }
  }
}

/// A dump asked for by the facade.
#[napi(object)]
pub struct SnapshotRequest {
  /// Directory for a generated name (ignored when `path` is set).
  pub dir: Option<String>,
  /// Exact file path chosen by the caller.
  pub path: Option<String>,
  pub trigger: SnapshotTrigger,
  /// `worker_threads.threadId` (part of the name).
  pub thread_id: u32,
  /// `v8.getHeapStatistics().used_heap_size`.
  pub heap_used: f64,
  /// Operator's memory budget for the process, bytes.
  pub memory_limit_bytes: Option<f64>,
  pub min_free_disk_bytes: f64,
  /// The longest the dump may block the isolate, ms; absent = no budget.
  pub max_pause_ms: Option<f64>,
}

/// How a dump ended.
#[napi(object)]
pub struct SnapshotOutcome {
  pub status: SnapshotStatus,
  pub trigger: SnapshotTrigger,
  pub path: Option<String>,
  pub bytes: Option<f64>,
  pub duration_ms: Option<f64>,
  /// Highest RSS seen during the dump.
  pub peak_rss: Option<f64>,
  /// Skips: what the dump lacked.
  pub reason: Option<SnapshotSkipReason>,
  pub need_bytes: Option<f64>,
  pub have_bytes: Option<f64>,
  /// Skips: what bounded `have_bytes`.
  pub bound: Option<SnapshotBound>,
  /// Skips: true when the dump started and was given up (at the RSS ceiling, or past the
  /// pause budget; then `durationMs` is how long it ran).
  pub aborted: Option<bool>,
  /// Pause skips: the expected pause and the budget, ms.
  pub expected_ms: Option<f64>,
  pub budget_ms: Option<f64>,
  /// Failures: ERR_LEAKWATCH_* code, OS error name, system call, message.
  pub code: Option<String>,
  pub errno: Option<String>,
  pub syscall: Option<String>,
  pub message: Option<String>,
  pub estimated_memory_bytes: Option<f64>,
  pub estimated_file_bytes: Option<f64>,
  pub estimated_pause_ms: Option<f64>,
  /// Near-heap-limit skips: the heap statistics file written instead of the snapshot.
  pub statistics: Option<String>,
}

impl SnapshotOutcome {
  fn empty(status: SnapshotStatus, trigger: SnapshotTrigger) -> Self {
    SnapshotOutcome {
      status,
      trigger,
      path: None,
      bytes: None,
      duration_ms: None,
      peak_rss: None,
      reason: None,
      need_bytes: None,
      have_bytes: None,
      bound: None,
      aborted: None,
      expected_ms: None,
      budget_ms: None,
      code: None,
      errno: None,
      syscall: None,
      message: None,
      estimated_memory_bytes: None,
      estimated_file_bytes: None,
      estimated_pause_ms: None,
      statistics: None,
    }
  }

  fn from_outcome(outcome: Outcome, trigger: SnapshotTrigger) -> Self {
    match outcome {
      Outcome::Written { dumped, estimate } => SnapshotOutcome {
        path: Some(dumped.path.to_string_lossy().into_owned()),
        bytes: Some(dumped.bytes as f64),
        duration_ms: Some(ms(dumped.duration)),
        peak_rss: Some(dumped.peak_rss as f64),
        estimated_memory_bytes: Some(estimate.memory_bytes as f64),
        estimated_file_bytes: Some(estimate.file_bytes as f64),
        estimated_pause_ms: Some(ms(estimate.pause)),
        ..Self::empty(SnapshotStatus::Written, trigger)
      },
      Outcome::Skipped {
        reason,
        need_bytes,
        have_bytes,
        bound,
        aborted,
        estimate,
      } => SnapshotOutcome {
        reason: SnapshotSkipReason::from_name(reason),
        need_bytes: Some(need_bytes as f64),
        have_bytes: Some(have_bytes as f64),
        bound: SnapshotBound::from_name(bound),
        aborted: Some(aborted),
        estimated_memory_bytes: Some(estimate.memory_bytes as f64),
        estimated_file_bytes: Some(estimate.file_bytes as f64),
        estimated_pause_ms: Some(ms(estimate.pause)),
        ..Self::empty(SnapshotStatus::Skipped, trigger)
      },
      Outcome::OverBudget {
        expected,
        budget,
        aborted_after,
        estimate,
      } => SnapshotOutcome {
        reason: Some(SnapshotSkipReason::Pause),
        expected_ms: Some(ms(expected)),
        budget_ms: Some(ms(budget)),
        aborted: Some(aborted_after.is_some()),
        duration_ms: aborted_after.map(ms),
        estimated_memory_bytes: Some(estimate.memory_bytes as f64),
        estimated_file_bytes: Some(estimate.file_bytes as f64),
        estimated_pause_ms: Some(ms(estimate.pause)),
        ..Self::empty(SnapshotStatus::Skipped, trigger)
      },
      Outcome::Failed {
        code,
        file,
        message,
      } => SnapshotOutcome {
        code: Some(code.as_str().to_string()),
        errno: file
          .as_ref()
          .and_then(|f| f.errno_name())
          .map(str::to_string),
        syscall: file.as_ref().map(|f| f.syscall.to_string()),
        message: Some(message),
        ..Self::empty(SnapshotStatus::Failed, trigger)
      },
    }
  }

  fn failed(err: LeakwatchError, trigger: SnapshotTrigger) -> Self {
    SnapshotOutcome {
      code: Some(err.code.as_str().to_string()),
      message: Some(err.message),
      ..Self::empty(SnapshotStatus::Failed, trigger)
    }
  }
}

fn ms(d: Duration) -> f64 {
  d.as_secs_f64() * 1000.0
}

/// A budget in milliseconds from JS: absent, negative or not finite = none.
fn duration_option(v: Option<f64>) -> Option<Duration> {
  v.filter(|v| v.is_finite() && *v >= 0.0)
    .map(|v| Duration::from_secs_f64(v / 1000.0))
}

fn bytes_option(v: Option<f64>) -> Option<u64> {
  v.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64)
}

/// The heap-profiler API and this thread's isolate.
fn profiler() -> Result<(&'static ProfilerApi, *mut Isolate), LeakwatchError> {
  let api = ProfilerApi::get()?;
  let isolate = V8Api::get()?.current_isolate();
  if isolate.is_null() {
    return Err(LeakwatchError::new(
      ErrorCode::NoIsolate,
      "no V8 isolate is entered on this thread",
    ));
  }
  Ok((api, isolate))
}

/// Writes a guarded heap snapshot of the calling isolate. Blocks this thread for the dump.
/// `prepare`, when given, is called right before a dump that goes ahead, inside leakwatch's
/// pause (leak detection leaves its time out); it must not throw.
#[napi]
pub fn write_heap_snapshot(
  env: Env,
  request: SnapshotRequest,
  prepare: Option<Function<(), ()>>,
) -> SnapshotOutcome {
  let (api, isolate) = match profiler() {
    Ok(found) => found,
    Err(e) => return SnapshotOutcome::failed(e, request.trigger),
  };
  let target = match (&request.path, &request.dir) {
    (Some(path), _) => Target::Path(PathBuf::from(path)),
    (None, Some(dir)) => Target::Dir {
      dir: PathBuf::from(dir),
      thread_id: request.thread_id,
    },
    (None, None) => Target::Dir {
      dir: PathBuf::from("."),
      thread_id: request.thread_id,
    },
  };
  let req = Request {
    target,
    trigger: request.trigger.name().to_string(),
    heap_used: bytes_option(Some(request.heap_used)).unwrap_or(0),
    memory_limit: bytes_option(request.memory_limit_bytes),
    min_free_disk: bytes_option(Some(request.min_free_disk_bytes)).unwrap_or(0),
    max_pause: duration_option(request.max_pause_ms),
  };
  let mut run_prepare = || {
    if let Some(f) = &prepare {
      // A throwing callback is the facade's bug; the dump goes ahead without it.
      let _ = f.call(());
    }
  };
  // SAFETY: called from JavaScript: on the isolate's thread, outside any GC; the profiler
  // is dropped at the end of this call.
  let profiler = unsafe { IsolateProfiler::new(api, isolate) };
  // The census leaves a handle per JS object; they go with this scope, before the dump (or
  // every object would show up in the snapshot as held by a handle scope).
  let mut census = || {
    env
      // SAFETY: the scope is open for the call and closed right after, before the dump.
      .run_in_scope(|| Ok(unsafe { profiler.census() }))
      .ok()
      .flatten()
  };
  let outcome = attempt(&profiler, &req, &mut census, &mut run_prepare);
  SnapshotOutcome::from_outcome(outcome, request.trigger)
}

/// Gives memory the C allocator holds free back to the OS (glibc's `malloc_trim`): after what
/// a snapshot left in V8's heap profiler is dropped (see lib/attribution.js).
#[napi]
pub fn release_freed_memory() {
  crate::os::release_freed_heap();
}

/// The memory this process may still take, and what bounds it (`memoryLimitBytes`, `cgroup`,
/// `constrainedMemory` or `system`): the snapshot guard's room, for the diagnosis's analysis
/// process. Null when no bound can be read.
#[napi(object)]
pub struct MemoryRoomInfo {
  pub bytes: f64,
  pub bound: String,
  /// This process's resident set when the room was read.
  pub rss: f64,
}

/// The room as the snapshot guard reads it now (`memoryLimitBytes` counted against this
/// process's RSS).
#[napi]
pub fn memory_room(memory_limit_bytes: Option<f64>) -> Option<MemoryRoomInfo> {
  let rss = crate::monitor::sampler::resident_set_bytes().unwrap_or(0);
  crate::snapshot::headroom::memory_room(bytes_option(memory_limit_bytes), rss).map(|room| {
    MemoryRoomInfo {
      bytes: room.bytes as f64,
      bound: room.bound.to_string(),
      rss: rss as f64,
    }
  })
}

/// What glibc's allocator holds (`mallinfo2()`), bytes.
#[napi(object)]
pub struct MallocFiguresPayload {
  /// Allocated in malloc's arenas (`uordblks`).
  pub in_use: f64,
  /// Free in the arenas: freed, kept by malloc (`fordblks`).
  pub free: f64,
  /// Allocated with mmap (`hblkhd`).
  pub mmapped: f64,
  /// Obtained from the OS by the arenas (`arena`).
  pub arena: f64,
}

/// What malloc holds, or null where `mallinfo2()` is missing (musl, glibc before 2.33, not
/// Linux). Takes every arena's lock: leakwatch calls it on `rss` leaks only.
#[napi]
pub fn malloc_figures() -> Option<MallocFiguresPayload> {
  crate::os::malloc_figures().map(|m| MallocFiguresPayload {
    in_use: m.in_use as f64,
    free: m.free as f64,
    mmapped: m.mmapped as f64,
    arena: m.arena as f64,
  })
}

/// Removes the oldest leakwatch snapshots in `dir` beyond `keep`, never `justWritten`;
/// returns removed paths.
#[napi]
pub fn prune_snapshots(
  dir: String,
  keep: u32,
  just_written: Option<String>,
) -> error::Result<Vec<String>> {
  prune(
    std::path::Path::new(&dir),
    keep as usize,
    just_written.as_deref().map(std::path::Path::new),
  )
  .map(|v| {
    v.into_iter()
      .map(|p| p.to_string_lossy().into_owned())
      .collect()
  })
  .map_err(|e| {
    LeakwatchError::new(
      ErrorCode::SnapshotWrite,
      format!("cannot prune old snapshots in {dir}: {e}"),
    )
    .into()
  })
}

/// Settings of the near-heap-limit hook.
#[napi(object)]
pub struct NearHeapLimitOptions {
  pub dir: String,
  pub thread_id: u32,
  pub memory_limit_bytes: Option<f64>,
  pub min_free_disk_bytes: f64,
  /// null = no pruning.
  pub max_files: Option<u32>,
  /// The longest the dump may block the isolate, ms; absent = no budget.
  pub max_pause_ms: Option<f64>,
}

type OutcomeFn = ThreadsafeFunction<SnapshotOutcome, (), SnapshotOutcome, Status, false, true, 4>;

/// The armed hook until it is disarmed or the environment is torn down.
struct Armed(RefCell<Option<NearLimitHook>>);

impl Shutdown for Armed {
  fn shutdown(&self) {
    drop(self.0.borrow_mut().take());
  }
}

/// One snapshot before the isolate runs out of heap; fires once. Disarmed by `disarm()` or
/// when the environment (main thread or worker) is torn down.
#[napi]
pub struct NearHeapLimitHook {
  armed: EnvCleanup<Armed>,
}

#[napi]
impl NearHeapLimitHook {
  #[napi(constructor)]
  pub fn new(
    env: Env,
    options: NearHeapLimitOptions,
    on_outcome: Function<SnapshotOutcome, ()>,
  ) -> error::Result<Self> {
    let (api, isolate) = profiler()?;
    let tsfn: OutcomeFn = on_outcome
      .build_threadsafe_function::<SnapshotOutcome>()
      .callee_handled::<false>()
      .weak::<true>()
      .max_queue_size::<4>()
      .build_callback(|ctx| Ok(ctx.value))
      .map_err(napi_failure(ErrorCode::SnapshotUnavailable))?;
    let config = NearLimitConfig {
      dir: PathBuf::from(&options.dir),
      thread_id: options.thread_id,
      memory_limit: bytes_option(options.memory_limit_bytes),
      min_free_disk: bytes_option(Some(options.min_free_disk_bytes)).unwrap_or(0),
      max_files: options.max_files.map(|n| n as usize),
      max_pause: duration_option(options.max_pause_ms),
    };
    let notify = Box::new(move |outcome: Outcome, statistics: Option<PathBuf>| {
      let mut payload = SnapshotOutcome::from_outcome(outcome, SnapshotTrigger::NearHeapLimit);
      payload.statistics = statistics.map(|p| p.to_string_lossy().into_owned());
      let _ = tsfn.call(payload, ThreadsafeFunctionCallMode::NonBlocking);
    });
    let hook = NearLimitHook::arm(
      // SAFETY: a constructor called from JavaScript runs on the isolate's JS thread, outside
      // any GC. The hook that owns the profiler is dropped (disarming) by `disarm()` or by
      // the env cleanup hook, both on this thread while the isolate is alive.
      unsafe { IsolateProfiler::new(api, isolate) },
      config,
      Box::new(move |profiler: &IsolateProfiler| {
        env
          // SAFETY: the scope is open for the census and closed right after, before the dump;
          // V8 allows handles in a near-heap-limit callback (the snapshot makes its own).
          .run_in_scope(|| Ok(unsafe { profiler.census() }))
          .ok()
          .flatten()
      }),
      notify,
    );
    let armed = EnvCleanup::register(
      &env,
      Armed(RefCell::new(Some(hook))),
      ErrorCode::SnapshotUnavailable,
    )?;
    Ok(NearHeapLimitHook { armed })
  }

  /// Whether the hook is still waiting to fire.
  #[napi(getter)]
  pub fn armed(&self) -> bool {
    self
      .armed
      .get()
      .0
      .borrow()
      .as_ref()
      .is_some_and(|h| h.armed())
  }

  /// Removes the hook, and the env cleanup hook with it (idempotent).
  #[napi]
  pub fn disarm(&self) {
    self.armed.stop();
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::snapshot::guard::SkipReason;

  #[test]
  fn every_skip_reason_and_bound_of_the_snapshot_module_has_a_js_name() {
    for reason in [SkipReason::Memory, SkipReason::Disk] {
      assert!(SnapshotSkipReason::from_name(reason.as_str()).is_some());
    }
    assert_eq!(
      SnapshotSkipReason::from_name("pause"),
      Some(SnapshotSkipReason::Pause)
    );
    for bound in [
      "memoryLimitBytes",
      "cgroup",
      "constrainedMemory",
      "system",
      "disk",
      "ceiling",
    ] {
      assert!(SnapshotBound::from_name(bound).is_some(), "{bound}");
    }
    assert_eq!(SnapshotBound::from_name("elsewhere"), None);
  }
}
