//! One heap snapshot of the calling isolate into a file, watched as it is taken.
//!
//! V8 builds the whole snapshot graph in native memory, then serializes it. leakwatch reads
//! the process's RSS every few megabytes written and, when the guard found the room tight, at
//! every progress report while the graph is built (every ten thousand objects; V8 then walks
//! the heap once more to count objects, which lengthens the pause by about a tenth). It
//! aborts the dump if RSS reaches the ceiling the guard set: a dump that turns out bigger than
//! estimated is given up, not allowed to take the process down. With a pause budget, the same
//! checks compare the time since the dump started with the point at which it is given up
//! (the graph is then always watched while built). An aborted or failed dump leaves no file.
//! The checks happen between progress reports: a stretch of V8 work between two of them (ten
//! thousand objects; on Node 20 without line ends, ten thousand functions located in a large
//! script) runs to its end first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{FileError, PartialFile};
use crate::v8::{IsolateProfiler, SnapshotProgress, SnapshotSink, TakeOutcome};

/// Bytes V8 hands over per write.
const CHUNK_BYTES: usize = 256 * 1024;
/// Bytes written between two RSS checks while serializing.
const RSS_CHECK_BYTES: u64 = 4 * 1024 * 1024;

/// A dump that completed.
#[derive(Debug)]
pub struct Dumped {
  pub path: PathBuf,
  pub bytes: u64,
  pub duration: Duration,
  /// Highest RSS seen during the dump.
  pub peak_rss: u64,
}

/// Why a dump did not complete.
#[derive(Debug)]
pub enum DumpFailure {
  /// A file operation failed (no file left behind).
  File(FileError),
  /// RSS reached the ceiling: given up, no file left behind.
  Ceiling { rss: u64, ceiling: u64 },
  /// The dump ran past the pause budget's abort point: given up, no file left behind.
  Overran { elapsed: Duration },
  /// A Rust panic inside a V8 callback (caught; the dump was abandoned).
  Internal,
}

/// Reads the process's RSS; injectable for tests.
pub type RssReader = fn() -> Option<u64>;

/// What a dump is watched against.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
  /// Abort when RSS reaches this.
  pub ceiling: Option<u64>,
  /// Abort when the dump has run this long.
  pub abort_after: Option<Duration>,
  /// Watch while V8 builds the graph too (costs a heap walk to count objects).
  pub watch_building: bool,
}

struct Watch {
  read_rss: RssReader,
  ceiling: Option<u64>,
  started: Instant,
  abort_after: Option<Duration>,
  peak: u64,
  /// Set when the ceiling is hit.
  hit: Option<u64>,
  /// Set when the dump ran past `abort_after`.
  overran: Option<Duration>,
}

impl Watch {
  fn new(read_rss: RssReader, limits: Limits, started: Instant) -> Watch {
    Watch {
      read_rss,
      ceiling: limits.ceiling,
      started,
      abort_after: limits.abort_after,
      peak: 0,
      hit: None,
      overran: None,
    }
  }

  fn check(&mut self) -> bool {
    if let Some(limit) = self.abort_after {
      let elapsed = self.started.elapsed();
      if elapsed >= limit {
        self.overran = Some(elapsed);
        return false;
      }
    }
    let Some(rss) = (self.read_rss)() else {
      return true;
    };
    self.peak = self.peak.max(rss);
    match self.ceiling {
      Some(ceiling) if rss >= ceiling => {
        self.hit = Some(rss);
        false
      }
      _ => true,
    }
  }
}

impl SnapshotProgress for Watch {
  fn progress(&mut self, _done: u32, _total: u32) -> bool {
    self.check()
  }
}

struct FileSink<'a> {
  file: PartialFile,
  watch: &'a mut Watch,
  since_check: u64,
}

impl SnapshotSink for FileSink<'_> {
  fn write_chunk(&mut self, data: &[u8]) -> bool {
    if !self.file.write(data) {
      return false;
    }
    self.since_check += data.len() as u64;
    if self.since_check >= RSS_CHECK_BYTES {
      self.since_check = 0;
      return self.watch.check();
    }
    true
  }

  fn end(&mut self) {}
}

/// Writes a snapshot of `profiler`'s isolate to `target` (through a temporary file).
pub fn dump(
  profiler: &IsolateProfiler,
  target: &Path,
  limits: Limits,
  read_rss: RssReader,
) -> Result<Dumped, DumpFailure> {
  let started = Instant::now();
  let file = PartialFile::create(target).map_err(DumpFailure::File)?;
  let mut watch = Watch::new(read_rss, limits, started);
  watch.check();
  let mut progress = Watch::new(read_rss, limits, started);
  let mut sink = FileSink {
    file,
    watch: &mut watch,
    since_check: 0,
  };
  let watched = limits.ceiling.is_some() || limits.abort_after.is_some();
  let progress_ref: Option<&mut dyn SnapshotProgress> = if limits.watch_building && watched {
    Some(&mut progress)
  } else {
    None
  };
  let outcome = profiler.write_snapshot(progress_ref, &mut sink, CHUNK_BYTES);
  let FileSink { file, .. } = sink;
  let peak = watch.peak.max(progress.peak);
  if let Some(rss) = progress.hit.or(watch.hit) {
    drop(file);
    return Err(DumpFailure::Ceiling {
      rss,
      ceiling: limits.ceiling.unwrap_or(0),
    });
  }
  if let Some(elapsed) = progress.overran.or(watch.overran) {
    drop(file);
    return Err(DumpFailure::Overran { elapsed });
  }
  match outcome {
    TakeOutcome::Written => {
      let (path, bytes) = file.commit().map_err(DumpFailure::File)?;
      Ok(Dumped {
        path,
        bytes,
        duration: started.elapsed(),
        peak_rss: peak,
      })
    }
    // A write error was kept by the file; otherwise a callback panicked. Dropping the file
    // removes the partial.
    TakeOutcome::AbortedWhileWriting | TakeOutcome::AbortedWhileTaking => {
      let mut file = file;
      Err(
        file
          .take_failure()
          .map_or(DumpFailure::Internal, DumpFailure::File),
      )
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn rss() -> Option<u64> {
    Some(100)
  }

  fn limits(ceiling: Option<u64>, abort_after: Option<Duration>) -> Limits {
    Limits {
      ceiling,
      abort_after,
      watch_building: true,
    }
  }

  #[test]
  fn a_dump_past_its_time_is_stopped_at_the_next_check() {
    let started = Instant::now() - Duration::from_secs(2);
    let mut within = Watch::new(rss, limits(None, Some(Duration::from_secs(60))), started);
    assert!(within.check());
    assert!(within.progress(10, 100));
    assert_eq!(within.overran, None);
    let mut past = Watch::new(rss, limits(None, Some(Duration::from_secs(1))), started);
    assert!(!past.progress(10, 100));
    assert!(past.overran.is_some_and(|e| e >= Duration::from_secs(2)));
    assert_eq!(past.hit, None);
  }

  #[test]
  fn the_ceiling_still_stops_a_dump_without_a_budget() {
    let mut watch = Watch::new(rss, limits(Some(100), None), Instant::now());
    assert!(!watch.check());
    assert_eq!(
      (watch.hit, watch.overran, watch.peak),
      (Some(100), None, 100)
    );
  }
}
