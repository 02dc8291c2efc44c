//! Heap snapshot analysis, pure Rust: a streaming parser into flat columns, DevTools'
//! graph computations (dominators, retained sizes, distances, class names), per-class
//! aggregates, retainer paths, diffs of two or more snapshots with what grew at every one of
//! them, and redaction of string values. No napi types here; the
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
mod growing;
mod header;
mod names;
mod offsets;
mod parse;
mod paths;
mod redact;
mod report;
mod scan;
mod threads;
mod types;
mod weakmap;

pub use control::{Control, Phase, Progress};
pub use diff::{DiffReport, DiffRow, Group, Series, Totals};
pub use error::{AnalysisError, Kind};
pub use growing::{GrowingClass, GrowingObject};
pub use paths::{RetainerPath, Step};
pub use redact::RedactReport;
pub use report::{AnalyzeReport, ClassRow, Limits, ObjectRow, Summary};

#[cfg(test)]
mod crafted;
#[cfg(test)]
mod growing_tests;
#[cfg(test)]
mod redact_tests;
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

fn read(
  path: &str,
  size: u64,
  file: File,
  parsers: usize,
  control: &Control,
) -> Result<Snapshot, AnalysisError> {
  let reader = Tracked {
    inner: file,
    control,
  };
  parse::parse_on(reader, size, parsers).map_err(|e| e.in_file(path))
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
  // The cores are shared out between the files read at once: each file's reader and its
  // parsers would otherwise take turns on the same cores.
  let readers = paths.len().min(threads::workers());
  let parsers = (threads::workers() / readers).max(1);
  std::thread::scope(|scope| {
    for _ in 0..readers {
      scope.spawn(|| loop {
        let job = jobs.lock().ok().and_then(|mut j| j.pop());
        let Some((i, file, size)) = job else { break };
        let parsed = read(&paths[i], size, file, parsers, control);
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
  let g = build(snapshot, Depth::Report, None, control).map_err(|e| e.in_file(path))?;
  control.enter(Phase::Paths)?;
  let report = report::analyze_report(&g, path, limits, control);
  // The caller turns the report into JavaScript objects next: the graph's memory goes
  // back first rather than staying under them.
  drop(g);
  control.release_freed();
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
  let g = build(snapshot, Depth::Report, None, control)?;
  control.enter(Phase::Paths)?;
  let report = report::analyze_report(&g, "<memory>", limits, control);
  control.enter(Phase::Done)?;
  Ok(report)
}

/// Writes a copy of the snapshot `input` to `output` with every string value replaced by a
/// placeholder of its length class; names, locations, sizes and the graph are kept (see
/// `redact.rs` for the rule). Two streaming passes; memory: one bit per string. The output
/// appears only when complete. Cancellable through `control`.
pub fn redact(input: &str, output: &str, control: &Control) -> Result<RedactReport, AnalysisError> {
  redact::redact(input, output, control)
}

/// [`redact`] of a snapshot held in memory: the copy and how many strings were replaced.
/// The redaction fuzz target's entry.
pub fn redact_bytes(bytes: &[u8]) -> Result<(Vec<u8>, u64), AnalysisError> {
  redact::redact_bytes(bytes)
}

/// Most snapshots one diff takes.
pub const MAX_DIFF_SNAPSHOTS: usize = 64;

/// Compares two or more snapshot files of one process, in time order: class growth from
/// the first to the last, per-class series, and what grew grouped by retainer path (with
/// three or more: objects new in the second and still alive in the last, and the objects
/// and classes that grew at every snapshot).
pub fn diff(
  paths: &[String],
  limits: &Limits,
  control: &Control,
) -> Result<diff::DiffReport, AnalysisError> {
  if !(2..=MAX_DIFF_SNAPSHOTS).contains(&paths.len()) {
    return Err(AnalysisError::new(
      Kind::Syntax,
      format!("diff takes 2 to {MAX_DIFF_SNAPSHOTS} snapshots"),
    ));
  }
  if paths.len() > 2 {
    return diff_many(paths, limits, control);
  }
  let mut snapshots = read_all(paths, control)?;
  let last_snapshot = snapshots.pop().expect("two");
  let first_snapshot = snapshots.pop().expect("two");
  // The last snapshot's plain-object groups classify both. Taken from its parsed columns
  // (they read plain objects and property edges only, which the graph passes leave as they
  // are), so the first snapshot can be built, and its edges freed, before the last one's
  // dominators need their memory.
  let interfaces = graph::interfaces(&last_snapshot, control).map_err(|e| e.in_file(&paths[1]))?;
  let mut first = build(first_snapshot, Depth::Classes, Some(&interfaces), control)
    .map_err(|e| e.in_file(&paths[0]))?;
  let summaries = vec![report::summary(&first, &paths[0], control)];
  let classes = vec![growing::class_totals(&first, control)];
  // The comparison reads the first snapshot's nodes and classes, never its edges.
  first.drop_edges();
  control.release_freed();
  let last = build(last_snapshot, Depth::Full, Some(&interfaces), control)
    .map_err(|e| e.in_file(&paths[1]))?;
  control.enter(Phase::Diff)?;
  let earlier = diff::Earlier {
    first: &first,
    second_ids: None,
    tracker: None,
    summaries,
    classes,
  };
  let last_summary = report::summary(&last, &paths[1], control);
  let report = diff::diff_report(earlier, &last, last_summary, limits, control);
  drop((first, last));
  control.release_freed();
  control.enter(Phase::Done)?;
  Ok(report)
}

/// Three snapshots or more, one at a time: the last first (its interface definitions
/// classify the others), then each earlier one in time order, built, folded into the growth
/// tracker and dropped. Only the first one's classes stay whole, for the class comparison.
fn diff_many(
  paths: &[String],
  limits: &Limits,
  control: &Control,
) -> Result<diff::DiffReport, AnalysisError> {
  let read_one = |path: &String| -> Result<Snapshot, AnalysisError> {
    read_all(std::slice::from_ref(path), control)?
      .pop()
      .ok_or_else(|| AnalysisError::new(Kind::Internal, "a snapshot was not read"))
  };
  let last_path = &paths[paths.len() - 1];
  let last =
    build(read_one(last_path)?, Depth::Full, None, control).map_err(|e| e.in_file(last_path))?;
  let mut tracker = growing::Tracker::new(&last);
  let mut first: Option<Graph> = None;
  let mut second_ids = None;
  let mut summaries = Vec::new();
  let mut classes = Vec::new();
  for (i, path) in paths[..paths.len() - 1].iter().enumerate() {
    let mut g = build(
      read_one(path)?,
      Depth::Report,
      Some(&last.interfaces),
      control,
    )
    .map_err(|e| e.in_file(path))?;
    control.enter(Phase::Diff)?;
    summaries.push(report::summary(&g, path, control));
    classes.push(growing::class_totals(&g, control));
    tracker.fold(&growing::retained_by_id(&g));
    if i == 1 {
      second_ids = Some(diff::by_id(&g));
    }
    if i == 0 {
      // The class comparison needs its classes, not its dominators, distances or edges.
      g.full = None;
      g.drop_edges();
      first = Some(g);
    }
  }
  let first = first.ok_or_else(|| AnalysisError::new(Kind::Internal, "no first snapshot"))?;
  control.enter(Phase::Diff)?;
  let earlier = diff::Earlier {
    first: &first,
    second_ids,
    tracker: Some(tracker),
    summaries,
    classes,
  };
  let last_summary = report::summary(&last, last_path, control);
  let report = diff::diff_report(earlier, &last, last_summary, limits, control);
  drop((first, last));
  control.release_freed();
  control.enter(Phase::Done)?;
  Ok(report)
}
