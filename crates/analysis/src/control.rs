//! Progress and cancellation shared between an analysis on a worker thread and whoever waits
//! for it (the JS promise, the CLI's progress line). Plain atomics: read at any time.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

/// Where an analysis stands, in the order the phases run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
  /// Parsing the snapshot file(s).
  Reading = 0,
  /// Building the graph: node flags, shallow sizes, retaining edges.
  Graph = 1,
  /// Dominators and retained sizes.
  Dominators = 2,
  /// Class names and per-class aggregates.
  Classes = 3,
  /// Retainer paths of the biggest classes.
  Paths = 4,
  /// Comparing snapshots (diff only).
  Diff = 5,
  /// Finished (or aborted).
  Done = 6,
}

impl Phase {
  /// The phase's name as progress reports show it ("reading", "graph", …).
  pub fn name(self) -> &'static str {
    match self {
      Phase::Reading => "reading",
      Phase::Graph => "graph",
      Phase::Dominators => "dominators",
      Phase::Classes => "classes",
      Phase::Paths => "paths",
      Phase::Diff => "diff",
      Phase::Done => "done",
    }
  }

  fn from_u8(v: u8) -> Phase {
    match v {
      0 => Phase::Reading,
      1 => Phase::Graph,
      2 => Phase::Dominators,
      3 => Phase::Classes,
      4 => Phase::Paths,
      5 => Phase::Diff,
      _ => Phase::Done,
    }
  }
}

/// Progress counters and the cancel flag of one analysis, shared with whoever waits for it.
#[derive(Default, Debug)]
pub struct Control {
  cancelled: AtomicBool,
  phase: AtomicU8,
  /// How many input files are read.
  file: AtomicU8,
  bytes_read: AtomicU64,
  bytes_total: AtomicU64,
  /// Steps and string bytes the graph passes touched (see [`Control::work`]).
  work: AtomicU64,
  /// Gives memory the allocator holds free back to the OS (see [`Control::with_release`]).
  release: Option<fn()>,
}

/// A snapshot of the progress counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
  /// The phase running now.
  pub phase: Phase,
  /// How many input files are read.
  pub files: u8,
  /// Bytes of the input files read so far.
  pub bytes_read: u64,
  /// Bytes of all input files together.
  pub bytes_total: u64,
}

impl Control {
  /// Has the analysis call `release` where a phase has just freed its working set, before
  /// the next one grows: the addon passes glibc's `malloc_trim`, so memory freed by one phase
  /// (or kept in another thread's arena) does not stay in the process's peak. The analysis
  /// holds no unsafe code itself.
  pub fn with_release(mut self, release: fn()) -> Self {
    self.release = Some(release);
    self
  }

  /// Calls the hook given to [`Control::with_release`], if any.
  pub fn release_freed(&self) {
    if let Some(release) = self.release {
      release();
    }
  }

  /// Asks the analysis to stop; it ends with `Kind::Aborted` at its next check.
  pub fn cancel(&self) {
    self.cancelled.store(true, Ordering::Relaxed);
  }

  /// Whether [`Control::cancel`] was called.
  pub fn is_cancelled(&self) -> bool {
    self.cancelled.load(Ordering::Relaxed)
  }

  /// Err(Aborted) once cancelled: called between phases and inside long loops.
  pub fn check(&self) -> Result<(), super::error::AnalysisError> {
    if self.is_cancelled() {
      Err(super::error::AnalysisError::aborted())
    } else {
      Ok(())
    }
  }

  /// Like [`Control::check`], but only every 4096th `step`: for loops over nodes or edges.
  pub fn check_every(&self, step: usize) -> Result<(), super::error::AnalysisError> {
    if step & 0xfff == 0 {
      self.check()
    } else {
      Ok(())
    }
  }

  /// Counts `n` units of work: a step of a loop whose length the input chooses, or a byte
  /// of a string looked at. Tests bound the total against the file size, so a crafted
  /// snapshot cannot make the analysis do more than linear work unnoticed.
  pub fn add_work(&self, n: u64) {
    self.work.fetch_add(n, Ordering::Relaxed);
  }

  /// The work counted so far (see [`Control::add_work`]).
  pub fn work(&self) -> u64 {
    self.work.load(Ordering::Relaxed)
  }

  /// Records that `phase` starts; Err(Aborted) once cancelled.
  pub fn enter(&self, phase: Phase) -> Result<(), super::error::AnalysisError> {
    self.phase.store(phase as u8, Ordering::Relaxed);
    trace(phase.name());
    self.check()
  }

  /// Starts the reading phase: `files` inputs of `total` bytes together.
  pub fn start_reading(&self, files: u8, total: u64) {
    self.file.store(files, Ordering::Relaxed);
    self.bytes_read.store(0, Ordering::Relaxed);
    self.bytes_total.store(total, Ordering::Relaxed);
    self.phase.store(Phase::Reading as u8, Ordering::Relaxed);
  }

  /// The counters now.
  pub fn progress(&self) -> Progress {
    Progress {
      phase: Phase::from_u8(self.phase.load(Ordering::Relaxed)),
      files: self.file.load(Ordering::Relaxed),
      bytes_read: self.bytes_read.load(Ordering::Relaxed),
      bytes_total: self.bytes_total.load(Ordering::Relaxed),
    }
  }
}

/// With LEAKWATCH_ANALYSIS_TRACE set, prints each step's time since the process's first
/// step to stderr (a profiling aid for the benchmark).
pub fn trace(step: &str) {
  static START: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();
  let start = START.get_or_init(|| {
    std::env::var_os("LEAKWATCH_ANALYSIS_TRACE").map(|_| std::time::Instant::now())
  });
  if let Some(start) = start {
    eprintln!(
      "leakwatch trace: {:>8.1} ms  {:>6} MB rss {:>6} MB peak  {step}",
      start.elapsed().as_secs_f64() * 1000.0,
      status_mb("VmRSS:"),
      status_mb("VmHWM:"),
    );
  }
}

/// A `/proc/self/status` figure in MB ("-" where there is none), for the trace only.
fn status_mb(field: &str) -> String {
  std::fs::read_to_string("/proc/self/status")
    .ok()
    .and_then(|s| {
      let line = s.lines().find(|l| l.starts_with(field))?;
      let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
      Some((kb / 1000).to_string())
    })
    .unwrap_or_else(|| "-".into())
}

/// The marker inside the `io::Error` a cancelled read returns.
#[derive(Debug)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("aborted")
  }
}

impl std::error::Error for Cancelled {}

/// A reader that counts bytes into the control and stops when it is cancelled.
pub struct Tracked<'a, R> {
  pub inner: R,
  pub control: &'a Control,
}

impl<R: Read> Read for Tracked<'_, R> {
  fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
    if self.control.is_cancelled() {
      return Err(std::io::Error::other(Cancelled));
    }
    let n = self.inner.read(buf)?;
    self
      .control
      .bytes_read
      .fetch_add(n as u64, Ordering::Relaxed);
    Ok(n)
  }
}
