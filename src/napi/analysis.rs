//! The napi surface for snapshot analysis: jobs on the libuv threadpool (`AsyncTask`) and
//! synchronous twins for `HeapDiff`. Results and errors come back as JSON text — errors as
//! data with their code, file, offset and errno — and the facade (lib/analysis.js) turns
//! them into objects and `Error`s. A panic inside the analysis is caught here and reported
//! as ERR_LEAKWATCH_ANALYSIS_INTERNAL; it never unwinds into Node.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use leakwatch_analysis::Limits;
use leakwatch_analysis::{AnalysisError, Kind};
use leakwatch_analysis::{Control, Phase};

/// How much of a report to produce. Omitted fields take the defaults below; `0xFFFFFFFF`
/// means "all".
#[napi(object)]
pub struct AnalysisLimits {
  /// Class rows in the report (default 50).
  pub classes: Option<u32>,
  /// Class rows that also get the retainer path of their largest instance (default 10).
  pub paths: Option<u32>,
  /// Objects listed under `largest` (default 10).
  pub largest: Option<u32>,
  /// Growth groups in a diff (default 10).
  pub groups: Option<u32>,
}

fn limits(l: &AnalysisLimits) -> Limits {
  let n = |v: Option<u32>, d: usize| match v {
    Some(u32::MAX) => usize::MAX,
    Some(v) => v as usize,
    None => d,
  };
  Limits {
    classes: n(l.classes, 50),
    paths: n(l.paths, 10),
    largest: n(l.largest, 10),
    groups: n(l.groups, 10),
  }
}

/// What a running analysis is doing.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysisPhase {
  #[napi(value = "reading")]
  Reading,
  #[napi(value = "graph")]
  Graph,
  #[napi(value = "dominators")]
  Dominators,
  #[napi(value = "classes")]
  Classes,
  #[napi(value = "paths")]
  Paths,
  #[napi(value = "diff")]
  Diff,
  #[napi(value = "done")]
  Done,
}

impl From<Phase> for AnalysisPhase {
  fn from(phase: Phase) -> Self {
    match phase {
      Phase::Reading => AnalysisPhase::Reading,
      Phase::Graph => AnalysisPhase::Graph,
      Phase::Dominators => AnalysisPhase::Dominators,
      Phase::Classes => AnalysisPhase::Classes,
      Phase::Paths => AnalysisPhase::Paths,
      Phase::Diff => AnalysisPhase::Diff,
      Phase::Done => AnalysisPhase::Done,
    }
  }
}

/// Progress of a running job.
#[napi(object)]
pub struct AnalysisProgress {
  pub phase: AnalysisPhase,
  /// Number of snapshot files read.
  pub files: u32,
  /// Bytes read so far, all files together.
  pub bytes_read: f64,
  pub bytes_total: f64,
}

/// A handle on one analysis: progress while it runs, and cancellation.
#[napi]
pub struct AnalysisJob {
  control: Arc<Control>,
}

#[napi]
impl AnalysisJob {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> Self {
    AnalysisJob {
      control: Arc::new(Control::default()),
    }
  }

  /// Asks the running analysis to stop; it ends with ERR_LEAKWATCH_ABORTED.
  #[napi]
  pub fn cancel(&self) {
    self.control.cancel();
  }

  #[napi]
  pub fn progress(&self) -> AnalysisProgress {
    let p = self.control.progress();
    AnalysisProgress {
      phase: p.phase.into(),
      files: p.files as u32,
      bytes_read: p.bytes_read as f64,
      bytes_total: p.bytes_total as f64,
    }
  }
}

fn error_json(e: &AnalysisError) -> String {
  serde_json::json!({
    "error": {
      "code": e.kind.code(),
      "message": e.to_string(),
      "file": e.file,
      "offset": e.offset,
      "errno": e.errno,
    }
  })
  .to_string()
}

/// Runs `work` and renders `{"ok": report}` or `{"error": {...}}`, catching panics.
fn run<R: serde::Serialize>(work: impl FnOnce() -> Result<R, AnalysisError>) -> String {
  match catch_unwind(AssertUnwindSafe(work)) {
    Ok(Ok(report)) => match serde_json::to_string(&report) {
      Ok(json) => format!("{{\"ok\":{json}}}"),
      Err(e) => error_json(&internal(&e.to_string())),
    },
    Ok(Err(e)) => error_json(&e),
    Err(panic) => {
      let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
      error_json(&internal(&what))
    }
  }
}

fn internal(what: &str) -> AnalysisError {
  AnalysisError::new(Kind::Internal, format!("internal analysis failure: {what}"))
}

pub enum Job {
  Analyze(String),
  Diff(Vec<String>),
}

pub struct AnalysisTask {
  job: Job,
  limits: Limits,
  control: Arc<Control>,
}

impl AnalysisTask {
  fn execute(&self) -> String {
    match &self.job {
      Job::Analyze(file) => run(|| leakwatch_analysis::analyze(file, &self.limits, &self.control)),
      Job::Diff(files) => run(|| leakwatch_analysis::diff(files, &self.limits, &self.control)),
    }
  }
}

impl Task for AnalysisTask {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> napi::Result<String> {
    Ok(self.execute())
  }

  fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
    Ok(output)
  }
}

/// Analyses one snapshot on the threadpool; resolves to JSON text (`{ok}` or `{error}`).
#[napi(ts_return_type = "Promise<string>")]
pub fn analyze_snapshot(
  file: String,
  limits: AnalysisLimits,
  job: &AnalysisJob,
) -> AsyncTask<AnalysisTask> {
  AsyncTask::new(AnalysisTask {
    job: Job::Analyze(file),
    limits: self::limits(&limits),
    control: job.control.clone(),
  })
}

/// Compares two or three snapshots of one process on the threadpool.
#[napi(ts_return_type = "Promise<string>")]
pub fn diff_snapshots(
  files: Vec<String>,
  limits: AnalysisLimits,
  job: &AnalysisJob,
) -> AsyncTask<AnalysisTask> {
  AsyncTask::new(AnalysisTask {
    job: Job::Diff(files),
    limits: self::limits(&limits),
    control: job.control.clone(),
  })
}

/// `diffSnapshots` on the calling thread (memwatch's synchronous `HeapDiff.end()`).
#[napi]
pub fn diff_snapshots_sync(files: Vec<String>, limits: AnalysisLimits) -> String {
  AnalysisTask {
    job: Job::Diff(files),
    limits: self::limits(&limits),
    control: Arc::new(Control::default()),
  }
  .execute()
}
