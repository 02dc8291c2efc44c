//! One guarded snapshot attempt: estimate, compare with the room, dump or skip.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::dump::{dump, DumpFailure, Dumped, Limits, Plan};
use super::file::FileError;
use super::guard::{
  decide, estimate, fits_pause, index_names, pause_abort_after, worst_case_memory, Estimate,
  Learned, PerObject, Verdict,
};
use super::headroom::{disk_room, memory_room};
use super::name::{remove_stale_partials, DumpName};
use crate::error::ErrorCode;
use crate::monitor::sampler::resident_set_bytes;
use crate::v8::{Census, IsolateProfiler};

/// Partials untouched this long, of writers that no longer exist, are removed.
const STALE_PARTIAL_AFTER: Duration = Duration::from_secs(60);

thread_local! {
  /// What this isolate's last completed dump cost per heap byte (one isolate per thread).
  static LEARNED: Cell<Option<Learned>> = const { Cell::new(None) };
}

/// Where the file goes.
pub enum Target {
  /// A generated name in this directory.
  Dir { dir: PathBuf, thread_id: u32 },
  /// Exactly this path (the caller's choice).
  Path(PathBuf),
}

pub struct Request {
  pub target: Target,
  /// What asked for the dump: "leak", "api", "signal", "heap-used", "rss", "near-heap-limit".
  pub trigger: String,
  /// JS heap in use now, bytes.
  pub heap_used: u64,
  /// The operator's memory budget for the whole process (RSS), if any.
  pub memory_limit: Option<u64>,
  /// Disk space that must stay free after the file.
  pub min_free_disk: u64,
  /// The longest the isolate may be blocked (`None`: no budget).
  pub max_pause: Option<Duration>,
}

pub enum Outcome {
  Written {
    dumped: Dumped,
    estimate: Estimate,
  },
  Skipped {
    reason: &'static str,
    need_bytes: u64,
    have_bytes: u64,
    bound: &'static str,
    /// true: started, then given up when RSS reached the ceiling.
    aborted: bool,
    estimate: Estimate,
  },
  /// Expected to take longer than the pause budget (not started), or given up when it ran
  /// past the budget by the abort margin (`aborted_after`; no file left).
  OverBudget {
    expected: Duration,
    budget: Duration,
    aborted_after: Option<Duration>,
    estimate: Estimate,
  },
  Failed {
    code: ErrorCode,
    file: Option<FileError>,
    message: String,
  },
}

impl Request {
  fn target_path(&self) -> PathBuf {
    match &self.target {
      Target::Path(p) => p.clone(),
      Target::Dir { dir, thread_id } => dir.join(
        DumpName::new(
          SystemTime::now(),
          std::process::id(),
          *thread_id,
          super::next_seq(),
          &self.trigger,
        )
        .file_name(),
      ),
    }
  }
}

fn parent_dir(path: &Path) -> PathBuf {
  match path.parent() {
    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
    _ => PathBuf::from("."),
  }
}

/// Runs one attempt on the isolate `profiler` belongs to (this thread's). `census` takes the
/// heap's container census (`None`: not available here); it runs a GC and a heap walk, and
/// its time counts in the pause. `prepare` runs right before a dump that goes ahead, inside
/// the pause (the facade computes line ends there on Node 20); its time counts in the dump's
/// duration.
pub fn attempt(
  profiler: &IsolateProfiler,
  req: &Request,
  census: &mut dyn FnMut() -> Option<Census>,
  prepare: &mut dyn FnMut(),
) -> Outcome {
  let target = req.target_path();
  let dir = parent_dir(&target);
  remove_stale_partials(&dir, STALE_PARTIAL_AFTER);
  let learned = LEARNED.get();
  // The pause is estimated from the heap in use: a dump over the budget is skipped before
  // the census's GC and walk are spent on it.
  let before = estimate(req.heap_used, None, learned);
  if let (false, Some(budget)) = (fits_pause(before, req.max_pause), req.max_pause) {
    return Outcome::OverBudget {
      expected: before.pause,
      budget,
      aborted_after: None,
      estimate: before,
    };
  }
  let rss = resident_set_bytes().unwrap_or(0);
  let memory = memory_room(req.memory_limit, rss);
  // The census costs a GC and a walk: skipped when even the worst case fits.
  let counted = if memory
    .as_ref()
    .is_some_and(|room| worst_case_memory(req.heap_used) <= room.bytes)
  {
    None
  } else {
    crate::monitor::pause::as_pause(census)
  };
  let mut est = estimate(req.heap_used, counted.as_ref(), learned);
  let disk = disk_room(&dir).ok();
  let names = counted.as_ref().map(index_names);
  let limits = match decide(est, memory.as_ref(), disk, rss, req.min_free_disk) {
    Verdict::Go { ceiling, tight } => Limits {
      ceiling,
      abort_after: pause_abort_after(req.max_pause),
      // The pause budget needs the graph watched as it is built: that is where V8 spends
      // most of a dump (and all of a quadratic one); so does redoing the estimate.
      watch_building: tight || req.max_pause.is_some() || memory.is_some(),
      plan: Some(Plan {
        rss_before: rss,
        names,
        per_object: PerObject::of(learned),
        memory_room: memory.as_ref().map(|room| room.bytes),
        disk_room: disk.map(|d| d.free_bytes.saturating_sub(req.min_free_disk)),
      }),
    },
    Verdict::Skip {
      reason,
      need_bytes,
      have_bytes,
      bound,
    } => {
      return Outcome::Skipped {
        reason: reason.as_str(),
        need_bytes,
        have_bytes,
        bound,
        aborted: false,
        estimate: est,
      }
    }
  };
  // The isolate is blocked for the whole dump: a pause this thread's leak detection leaves
  // out. The graph's memory is freed when the dump ends; giving it back to the OS keeps RSS
  // from staying inflated by the snapshot.
  let result = crate::monitor::pause::as_pause(|| {
    let started = std::time::Instant::now();
    prepare();
    let prepared = started.elapsed();
    let result = dump(profiler, &target, limits, resident_set_bytes).map(|mut dumped| {
      dumped.duration += prepared;
      dumped
    });
    crate::os::release_freed_heap();
    result
  });
  match result {
    Ok(dumped) => {
      let extra = dumped.peak_rss.saturating_sub(rss);
      let shape = dumped.walked.map(|w| (w.objects, names.unwrap_or(0)));
      if let Some(learned) =
        Learned::from_dump(req.heap_used, shape, extra, dumped.bytes, dumped.duration)
      {
        LEARNED.set(Some(learned));
      }
      if let Some(w) = dumped.walked {
        // 0: only the file's header was seen (the walk was not watched).
        if w.memory_bytes > 0 {
          est.memory_bytes = w.memory_bytes;
        }
        est.file_bytes = w.file_bytes;
      }
      Outcome::Written {
        dumped,
        estimate: est,
      }
    }
    Err(DumpFailure::Estimate { walked }) => {
      let on_memory = walked.over == Some("memory");
      Outcome::Skipped {
        reason: if on_memory { "memory" } else { "disk" },
        need_bytes: if on_memory {
          walked.memory_bytes
        } else {
          walked.file_bytes
        },
        have_bytes: if on_memory {
          limits.plan.and_then(|p| p.memory_room).unwrap_or(0)
        } else {
          limits.plan.and_then(|p| p.disk_room).unwrap_or(0)
        },
        bound: if on_memory {
          memory.as_ref().map_or("system", |r| r.bound)
        } else {
          "disk"
        },
        aborted: true,
        estimate: Estimate {
          memory_bytes: walked.memory_bytes,
          file_bytes: walked.file_bytes,
          ..est
        },
      }
    }
    Err(DumpFailure::Ceiling { rss: at, ceiling }) => Outcome::Skipped {
      reason: "memory",
      need_bytes: at.saturating_sub(rss),
      have_bytes: ceiling.saturating_sub(rss),
      bound: "ceiling",
      aborted: true,
      estimate: est,
    },
    Err(DumpFailure::Overran { elapsed }) => {
      // At least this slow: the next attempt is estimated from it, not from the prior.
      LEARNED.set(Some(Learned::at_least_pause(
        LEARNED.get(),
        req.heap_used,
        elapsed,
      )));
      Outcome::OverBudget {
        expected: est.pause,
        budget: req.max_pause.unwrap_or_default(),
        aborted_after: Some(elapsed),
        estimate: est,
      }
    }
    Err(DumpFailure::File(e)) => Outcome::Failed {
      code: ErrorCode::SnapshotWrite,
      message: format!("cannot write the heap snapshot: {e}"),
      file: Some(e),
    },
    Err(DumpFailure::Internal) => Outcome::Failed {
      code: ErrorCode::SnapshotInternal,
      file: None,
      message: "the heap snapshot was abandoned after an internal error; no file was left"
        .to_string(),
    },
  }
}
