//! The napi surface for snapshot analysis and redaction: jobs on the libuv threadpool
//! (`AsyncTask`) and a synchronous twin for `HeapDiff`. Reports resolve as objects (`napi/reports.rs`); a
//! failure rejects (or throws) an `Error` with its `code`, and `file`, `offset` and `errno`
//! when known. A panic inside the analysis is caught here and reported as
//! ERR_LEAKWATCH_ANALYSIS_INTERNAL; it never unwinds into Node.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, JsObjectValue, JsValue};
use napi::{Env, Task};
use napi_derive::napi;

use leakwatch_analysis::Limits;
use leakwatch_analysis::{AnalysisError, Kind};
use leakwatch_analysis::{Control, Phase};

use crate::napi::reports::{AnalyzeReport, DiffReport, RedactReport};

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
      control: Arc::new(Control::default().with_release(crate::os::release_freed_heap)),
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

/// The JS `Error` an analysis failure rejects with: `code`, the message, and `file`,
/// `offset` and `errno` when known (absent otherwise).
fn rejection(env: &Env, e: &AnalysisError) -> napi::Error {
  let build = || -> napi::Result<napi::Error> {
    let mut err = env.create_error(napi::Error::from_reason(format!("leakwatch: {e}")))?;
    err.set_named_property("code", e.kind.code())?;
    if let Some(file) = &e.file {
      err.set_named_property("file", file.as_str())?;
    }
    if let Some(offset) = e.offset {
      err.set_named_property("offset", offset as f64)?;
    }
    if let Some(errno) = e.errno {
      err.set_named_property("errno", errno)?;
    }
    Ok(napi::Error::from(err.to_unknown()))
  };
  // Building the object fails only while the environment is torn down.
  build().unwrap_or_else(|failure| failure)
}

/// Runs `work`, catching panics as ERR_LEAKWATCH_ANALYSIS_INTERNAL.
fn run<R>(work: impl FnOnce() -> Result<R, AnalysisError>) -> Result<R, AnalysisError> {
  catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
    let what = panic
      .downcast_ref::<&str>()
      .map(|s| s.to_string())
      .or_else(|| panic.downcast_ref::<String>().cloned())
      .unwrap_or_else(|| "unknown panic".into());
    Err(internal(&what))
  })
}

fn internal(what: &str) -> AnalysisError {
  AnalysisError::new(Kind::Internal, format!("internal analysis failure: {what}"))
}

fn analyze_report(
  file: &str,
  limits: &Limits,
  control: &Control,
) -> Result<AnalyzeReport, AnalysisError> {
  run(|| leakwatch_analysis::analyze(file, limits, control).map(AnalyzeReport::from))
}

fn diff_report(
  files: &[String],
  limits: &Limits,
  control: &Control,
) -> Result<DiffReport, AnalysisError> {
  run(|| {
    let report = leakwatch_analysis::diff(files, limits, control)?;
    DiffReport::try_from(report).map_err(|basis| internal(&format!("unknown growth basis {basis}")))
  })
}

/// `analyze` on the threadpool: the report is built there, the JS objects on the JS thread.
pub struct AnalyzeTask {
  file: String,
  limits: Limits,
  control: Arc<Control>,
}

impl Task for AnalyzeTask {
  type Output = Result<AnalyzeReport, AnalysisError>;
  type JsValue = AnalyzeReport;

  fn compute(&mut self) -> napi::Result<Self::Output> {
    Ok(analyze_report(&self.file, &self.limits, &self.control))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<AnalyzeReport> {
    output.map_err(|e| rejection(&env, &e))
  }
}

/// `diff` on the threadpool.
pub struct DiffTask {
  files: Vec<String>,
  limits: Limits,
  control: Arc<Control>,
}

impl Task for DiffTask {
  type Output = Result<DiffReport, AnalysisError>;
  type JsValue = DiffReport;

  fn compute(&mut self) -> napi::Result<Self::Output> {
    Ok(diff_report(&self.files, &self.limits, &self.control))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<DiffReport> {
    output.map_err(|e| rejection(&env, &e))
  }
}

/// `redactSnapshot` on the threadpool.
pub struct RedactTask {
  input: String,
  output: String,
  control: Arc<Control>,
}

impl Task for RedactTask {
  type Output = Result<RedactReport, AnalysisError>;
  type JsValue = RedactReport;

  fn compute(&mut self) -> napi::Result<Self::Output> {
    Ok(run(|| {
      leakwatch_analysis::redact(&self.input, &self.output, &self.control).map(RedactReport::from)
    }))
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<RedactReport> {
    output.map_err(|e| rejection(&env, &e))
  }
}

/// Analyses one snapshot on the threadpool; rejects with an `Error` carrying `code`.
#[napi]
pub fn analyze_snapshot(
  file: String,
  limits: AnalysisLimits,
  job: &AnalysisJob,
) -> AsyncTask<AnalyzeTask> {
  AsyncTask::new(AnalyzeTask {
    file,
    limits: self::limits(&limits),
    control: job.control.clone(),
  })
}

/// Writes a copy of a snapshot with every string value replaced, on the threadpool.
#[napi]
pub fn redact_snapshot(input: String, output: String, job: &AnalysisJob) -> AsyncTask<RedactTask> {
  AsyncTask::new(RedactTask {
    input,
    output,
    control: job.control.clone(),
  })
}

/// Compares two or more snapshots of one process on the threadpool.
#[napi]
pub fn diff_snapshots(
  files: Vec<String>,
  limits: AnalysisLimits,
  job: &AnalysisJob,
) -> AsyncTask<DiffTask> {
  AsyncTask::new(DiffTask {
    files,
    limits: self::limits(&limits),
    control: job.control.clone(),
  })
}

/// `diffSnapshots` on the calling thread (memwatch's synchronous `HeapDiff.end()`).
#[napi]
pub fn diff_snapshots_sync(
  env: Env,
  files: Vec<String>,
  limits: AnalysisLimits,
) -> napi::Result<DiffReport> {
  let control = Control::default().with_release(crate::os::release_freed_heap);
  diff_report(&files, &self::limits(&limits), &control).map_err(|e| rejection(&env, &e))
}
