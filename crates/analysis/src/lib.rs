//! Heap snapshot analysis, pure Rust: a streaming parser into flat columns, DevTools'
//! graph computations (dominators, retained sizes, distances, class names), per-class
//! aggregates, retainer paths, and diffs of two or three snapshots. No napi types here; the
//! addon's `src/napi/analysis.rs` runs it on the libuv threadpool.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classes;
mod control;
mod diff;
mod distances;
mod dominators;
mod error;
mod flags;
mod graph;
mod header;
mod names;
mod parse;
mod paths;
mod report;
mod scan;
mod threads;
mod types;
mod weakmap;

pub use control::{Control, Phase, Progress};
pub use diff::{DiffReport, DiffRow, Group, Series, Totals};
pub use error::{AnalysisError, Kind};
pub use paths::{RetainerPath, Step};
pub use report::{AnalyzeReport, ClassRow, Limits, ObjectRow, Summary};

#[cfg(test)]
mod crafted;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::Path;

use control::Tracked;
use graph::{build, Depth, Graph};
use parse::Snapshot;

/// Opens a snapshot file and checks it is a readable regular file.
fn open(path: &str) -> Result<(File, u64), AnalysisError> {
  let meta =
    std::fs::metadata(Path::new(path)).map_err(|e| AnalysisError::io(&e, "open").in_file(path))?;
  if meta.is_dir() {
    let mut e =
      AnalysisError::new(Kind::Read, "is a directory, not a heap snapshot file").in_file(path);
    e.errno = Some("EISDIR");
    return Err(e);
  }
  let file = File::open(path).map_err(|e| AnalysisError::io(&e, "open").in_file(path))?;
  Ok((file, meta.len()))
}

fn read(path: &str, size: u64, file: File, control: &Control) -> Result<Snapshot, AnalysisError> {
  let reader = Tracked {
    inner: file,
    control,
  };
  parse::parse(reader, size).map_err(|e| e.in_file(path))
}

/// Parses all files, as many at a time as [`threads::workers`] allows.
fn read_all(paths: &[String], control: &Control) -> Result<Vec<Snapshot>, AnalysisError> {
  let mut opened = Vec::new();
  for p in paths {
    opened.push(open(p)?);
  }
  let total = opened.iter().map(|(_, size)| size).sum();
  control.start_reading(paths.len() as u8, total);
  control::trace("reading");
  let mut out: Vec<Option<Result<Snapshot, AnalysisError>>> =
    (0..paths.len()).map(|_| None).collect();
  let mut jobs: Vec<(usize, File, u64)> = opened
    .into_iter()
    .enumerate()
    .map(|(i, (f, s))| (i, f, s))
    .collect();
  // Largest first, so the threads finish close together.
  jobs.sort_by_key(|j| std::cmp::Reverse(j.2));
  let jobs = std::sync::Mutex::new(jobs);
  let results = std::sync::Mutex::new(&mut out);
  std::thread::scope(|scope| {
    for _ in 0..paths.len().min(threads::workers()) {
      scope.spawn(|| loop {
        let job = jobs.lock().ok().and_then(|mut j| j.pop());
        let Some((i, file, size)) = job else { break };
        let parsed = read(&paths[i], size, file, control);
        let failed = parsed.is_err();
        if let Ok(mut r) = results.lock() {
          r[i] = Some(parsed);
        }
        if failed {
          // Stop the sibling: the failure is what gets reported.
          control.cancel();
        }
      });
    }
  });
  let mut snapshots = Vec::new();
  let mut first_error = None;
  for r in out {
    match r {
      Some(Ok(s)) => snapshots.push(s),
      // A sibling's abort is a consequence, not the cause.
      Some(Err(e))
        if first_error
          .as_ref()
          .is_none_or(|f: &AnalysisError| f.kind == Kind::Aborted) =>
      {
        first_error = Some(e);
      }
      Some(Err(_)) => {}
      None => {}
    }
  }
  if let Some(e) = first_error {
    return Err(e);
  }
  control::trace("parsed");
  control.check()?;
  Ok(snapshots)
}

/// Analyses one heap snapshot file: summary, classes by retained size, the largest objects
/// and their retainer paths, within `limits`. Cancellable through `control`.
pub fn analyze(
  path: &str,
  limits: &Limits,
  control: &Control,
) -> Result<report::AnalyzeReport, AnalysisError> {
  let snapshot = read_all(&[path.to_string()], control)?
    .pop()
    .expect("one snapshot");
  let g = build(snapshot, Depth::Full, None, control).map_err(|e| e.in_file(path))?;
  control.enter(Phase::Paths)?;
  let report = report::analyze_report(&g, path, limits, control);
  control.enter(Phase::Done)?;
  Ok(report)
}

/// Parses a snapshot held in memory and checks every cross-reference, without the graph
/// passes; returns the node and edge counts. The parser fuzz target's entry.
pub fn parse_bytes(bytes: &[u8]) -> Result<(usize, usize), AnalysisError> {
  let s = parse::parse(bytes, bytes.len() as u64)?;
  Ok((s.node_count(), s.edge_count()))
}

/// [`analyze`] of a snapshot held in memory (reported as file `"<memory>"`). The graph
/// passes' fuzz target's entry.
pub fn analyze_bytes(
  bytes: &[u8],
  limits: &Limits,
  control: &Control,
) -> Result<report::AnalyzeReport, AnalysisError> {
  let snapshot = parse::parse(bytes, bytes.len() as u64)?;
  let g = build(snapshot, Depth::Full, None, control)?;
  control.enter(Phase::Paths)?;
  let report = report::analyze_report(&g, "<memory>", limits, control);
  control.enter(Phase::Done)?;
  Ok(report)
}

/// Compares two or three snapshot files of one process, in time order: class growth from
/// the first to the last, per-class series, and what grew grouped by retainer path (with
/// three: objects new in the second and still alive in the third).
pub fn diff(
  paths: &[String],
  limits: &Limits,
  control: &Control,
) -> Result<diff::DiffReport, AnalysisError> {
  if !(2..=3).contains(&paths.len()) {
    return Err(AnalysisError::new(
      Kind::Syntax,
      "diff takes two or three snapshots",
    ));
  }
  let mut snapshots = read_all(paths, control)?;
  let last_snapshot = snapshots.pop().expect("two or more");
  let last_path = &paths[paths.len() - 1];
  let last = build(last_snapshot, Depth::Full, None, control).map_err(|e| e.in_file(last_path))?;
  let interfaces = last.interfaces.clone();
  let earlier: Vec<Graph> = std::thread::scope(|scope| {
    let handles: Vec<_> = snapshots
      .into_iter()
      .enumerate()
      .map(|(i, s)| {
        let interfaces = &interfaces;
        scope.spawn(move || {
          build(s, Depth::Classes, Some(interfaces), control).map_err(|e| e.in_file(&paths[i]))
        })
      })
      .collect();
    handles
      .into_iter()
      .map(|h| {
        h.join().unwrap_or_else(|_| {
          Err(AnalysisError::new(
            Kind::Internal,
            "a snapshot worker thread failed",
          ))
        })
      })
      .collect::<Result<Vec<_>, _>>()
  })?;
  control.enter(Phase::Diff)?;
  let mut graphs: Vec<&Graph> = earlier.iter().collect();
  graphs.push(&last);
  let report = diff::diff_report(&graphs, paths, limits, control);
  control.enter(Phase::Done)?;
  Ok(report)
}
