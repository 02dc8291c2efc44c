//! The napi surface for heap snapshots: a guarded dump on the calling isolate, the
//! estimate, directory pruning and the near-heap-limit hook. The JS facade (lib/snapshot.js)
//! owns the public names, options and events.

use std::cell::RefCell;
use std::ffi::c_void;
use std::path::PathBuf;
use std::rc::Rc;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use napi_derive::napi;

use crate::error::{ErrorCode, LeakwatchError};
use crate::snapshot::attempt::{attempt, Outcome, Request, Target};
use crate::snapshot::name::prune;
use crate::snapshot::near_limit::{NearLimitConfig, NearLimitHook};
use crate::v8::{Isolate, IsolateProfiler, ProfilerApi, V8Api};

/// A dump asked for by the facade.
#[napi(object)]
pub struct SnapshotRequest {
  /// Directory for a generated name (ignored when `path` is set).
  pub dir: Option<String>,
  /// Exact file path chosen by the caller.
  pub path: Option<String>,
  /// Trigger: "api", "leak", "signal", "heap-used", "rss".
  pub trigger: String,
  /// `worker_threads.threadId` (part of the name).
  pub thread_id: u32,
  /// `v8.getHeapStatistics().used_heap_size`.
  pub heap_used: f64,
  /// Operator's memory budget for the process, bytes.
  pub memory_limit_bytes: Option<f64>,
  pub min_free_disk_bytes: f64,
  /// false = no estimate check, no RSS ceiling.
  pub guard: bool,
}

/// How a dump ended: `status` is "written", "skipped" or "failed".
#[napi(object)]
pub struct SnapshotOutcome {
  pub status: String,
  pub trigger: String,
  pub path: Option<String>,
  pub bytes: Option<f64>,
  pub duration_ms: Option<f64>,
  /// Highest RSS seen during the dump.
  pub peak_rss: Option<f64>,
  /// Skips: "memory" or "disk".
  pub reason: Option<String>,
  pub need_bytes: Option<f64>,
  pub have_bytes: Option<f64>,
  /// What bounded `have_bytes`: "memoryLimitBytes", "cgroup", "system", "disk", "ceiling".
  pub bound: Option<String>,
  /// Skips: true when the dump started and was given up at the RSS ceiling.
  pub aborted: Option<bool>,
  /// Failures: ERR_LEAKWATCH_* code, OS error name, system call, message.
  pub code: Option<String>,
  pub errno: Option<String>,
  pub syscall: Option<String>,
  pub message: Option<String>,
  pub estimated_memory_bytes: Option<f64>,
  pub estimated_file_bytes: Option<f64>,
}

impl SnapshotOutcome {
  fn empty(status: &str, trigger: &str) -> Self {
    SnapshotOutcome {
      status: status.to_string(),
      trigger: trigger.to_string(),
      path: None,
      bytes: None,
      duration_ms: None,
      peak_rss: None,
      reason: None,
      need_bytes: None,
      have_bytes: None,
      bound: None,
      aborted: None,
      code: None,
      errno: None,
      syscall: None,
      message: None,
      estimated_memory_bytes: None,
      estimated_file_bytes: None,
    }
  }

  fn from_outcome(outcome: Outcome, trigger: &str) -> Self {
    match outcome {
      Outcome::Written { dumped, estimate } => SnapshotOutcome {
        path: Some(dumped.path.to_string_lossy().into_owned()),
        bytes: Some(dumped.bytes as f64),
        duration_ms: Some(dumped.duration.as_secs_f64() * 1000.0),
        peak_rss: Some(dumped.peak_rss as f64),
        estimated_memory_bytes: Some(estimate.memory_bytes as f64),
        estimated_file_bytes: Some(estimate.file_bytes as f64),
        ..Self::empty("written", trigger)
      },
      Outcome::Skipped {
        reason,
        need_bytes,
        have_bytes,
        bound,
        aborted,
        estimate,
      } => SnapshotOutcome {
        reason: Some(reason.to_string()),
        need_bytes: Some(need_bytes as f64),
        have_bytes: Some(have_bytes as f64),
        bound: Some(bound.to_string()),
        aborted: Some(aborted),
        estimated_memory_bytes: Some(estimate.memory_bytes as f64),
        estimated_file_bytes: Some(estimate.file_bytes as f64),
        ..Self::empty("skipped", trigger)
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
        ..Self::empty("failed", trigger)
      },
    }
  }

  fn failed(err: LeakwatchError, trigger: &str) -> Self {
    SnapshotOutcome {
      code: Some(err.code.as_str().to_string()),
      message: Some(err.message),
      ..Self::empty("failed", trigger)
    }
  }
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
#[napi]
pub fn write_heap_snapshot(request: SnapshotRequest) -> SnapshotOutcome {
  let (api, isolate) = match profiler() {
    Ok(found) => found,
    Err(e) => return SnapshotOutcome::failed(e, &request.trigger),
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
    trigger: request.trigger.clone(),
    heap_used: bytes_option(Some(request.heap_used)).unwrap_or(0),
    memory_limit: bytes_option(request.memory_limit_bytes),
    min_free_disk: bytes_option(Some(request.min_free_disk_bytes)).unwrap_or(0),
    guard: request.guard,
  };
  // SAFETY: called from JavaScript: on the isolate's thread, outside any GC; the profiler
  // is dropped at the end of this call.
  let outcome = attempt(&unsafe { IsolateProfiler::new(api, isolate) }, &req);
  SnapshotOutcome::from_outcome(outcome, &request.trigger)
}

/// Removes the oldest leakwatch snapshots in `dir` beyond `keep`; returns removed paths.
#[napi]
pub fn prune_snapshots(dir: String, keep: u32) -> napi::Result<Vec<String>> {
  prune(std::path::Path::new(&dir), keep as usize)
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
}

type OutcomeFn = ThreadsafeFunction<SnapshotOutcome, (), SnapshotOutcome, Status, false, true, 4>;

struct HookCell {
  hook: RefCell<Option<NearLimitHook>>,
}

unsafe extern "C" fn on_env_cleanup(arg: *mut c_void) {
  // SAFETY: the Rc leaked at registration; the hook runs once, on the isolate's thread,
  // while the isolate is alive.
  let cell = unsafe { Rc::from_raw(arg as *const HookCell) };
  drop(cell.hook.borrow_mut().take());
}

/// One snapshot before the isolate runs out of heap; fires once. Disarmed by `disarm()` or
/// when the environment (main thread or worker) is torn down.
#[napi]
pub struct NearHeapLimitHook {
  cell: Rc<HookCell>,
}

#[napi]
impl NearHeapLimitHook {
  #[napi(constructor)]
  pub fn new(
    env: Env,
    options: NearHeapLimitOptions,
    on_outcome: Function<SnapshotOutcome, ()>,
  ) -> napi::Result<Self> {
    let (api, isolate) = profiler()?;
    let tsfn: OutcomeFn = on_outcome
      .build_threadsafe_function::<SnapshotOutcome>()
      .callee_handled::<false>()
      .weak::<true>()
      .max_queue_size::<4>()
      .build_callback(|ctx| Ok(ctx.value))?;
    let config = NearLimitConfig {
      dir: PathBuf::from(&options.dir),
      thread_id: options.thread_id,
      memory_limit: bytes_option(options.memory_limit_bytes),
      min_free_disk: bytes_option(Some(options.min_free_disk_bytes)).unwrap_or(0),
      max_files: options.max_files.map(|n| n as usize),
    };
    let notify = Box::new(move |outcome: Outcome| {
      let payload = SnapshotOutcome::from_outcome(outcome, "near-heap-limit");
      let _ = tsfn.call(payload, ThreadsafeFunctionCallMode::NonBlocking);
    });
    // SAFETY: on the isolate's JS thread; the hook, which owns the profiler, is dropped
    // (disarming) in `disarm()` or
    // the env cleanup hook, both on this thread while the isolate is alive.
    let hook = NearLimitHook::arm(
      unsafe { IsolateProfiler::new(api, isolate) },
      config,
      notify,
    );
    let cell = Rc::new(HookCell {
      hook: RefCell::new(Some(hook)),
    });
    let arg = Rc::into_raw(cell.clone()) as *mut c_void;
    // SAFETY: plain registration; `on_env_cleanup` takes the leaked Rc back.
    let status = unsafe { sys::napi_add_env_cleanup_hook(env.raw(), Some(on_env_cleanup), arg) };
    if status != sys::Status::napi_ok {
      // SAFETY: not registered: reclaim the Rc and disarm now.
      drop(unsafe { Rc::from_raw(arg as *const HookCell) });
      drop(cell.hook.borrow_mut().take());
      return Err(napi::Error::new(
        Status::GenericFailure,
        "cannot register the environment cleanup hook",
      ));
    }
    Ok(NearHeapLimitHook { cell })
  }

  /// Whether the hook is still waiting to fire.
  #[napi(getter)]
  pub fn armed(&self) -> bool {
    self.cell.hook.borrow().as_ref().is_some_and(|h| h.armed())
  }

  /// Removes the hook (idempotent). The env cleanup hook stays registered and finds nothing.
  #[napi]
  pub fn disarm(&self) {
    drop(self.cell.hook.borrow_mut().take());
  }
}
