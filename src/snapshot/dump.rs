//! One heap snapshot of the calling isolate into a file, watched as it is taken.
//!
//! V8 builds the whole snapshot graph in native memory, then serializes it. leakwatch reads
//! the process's RSS every few megabytes written and, when there is a memory room or a pause
//! budget, at every progress report while the graph is built (every ten thousand objects; V8
//! then walks the heap once more to count objects, which lengthens the pause by about a
//! tenth). With V8's object count (its first report, before anything is built) and again two
//! fifths into the walk (with the cost per object measured so far), the guard's estimate is
//! redone (`guard::planned_cost`, `guard::memory_during_walk`): a dump that will not fit is
//! aborted there, before the rest of the graph and the index names are built. It also aborts the dump if RSS reaches the
//! ceiling the guard set: a dump that turns out bigger than estimated is given up, not allowed
//! to take the process down. With a pause budget, the same
//! checks compare the time since the dump started with the point at which it is given up
//! (the graph is then always watched while built). An aborted or failed dump leaves no file.
//! The checks happen between progress reports: a stretch of V8 work between two of them (ten
//! thousand objects; on Node 20 without line ends, ten thousand functions located in a large
//! script) runs to its end first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{FileError, PartialFile};
use super::guard::{
  file_from_counts, memory_during_walk, planned_cost, walk_measurable, PerObject,
};
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
  /// What the walk showed (`None`: the graph was not watched).
  pub walked: Option<Walked>,
}

/// What the estimate knows to redo itself during the walk.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
  /// RSS before the dump.
  pub rss_before: u64,
  /// Index names the census counted (None: no census).
  pub names: Option<u64>,
  /// Per-object costs (prior or learned).
  pub per_object: PerObject,
  /// Memory the dump may add (`None`: no room known).
  pub memory_room: Option<u64>,
  /// File bytes the disk takes (`None`: not known).
  pub disk_room: Option<u64>,
}

/// The estimate redone during the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walked {
  /// Heap objects V8 counted.
  pub objects: u64,
  /// Extra memory expected at the peak.
  pub memory_bytes: u64,
  /// File size expected.
  pub file_bytes: u64,
  /// Whether it was redone with the cost measured during the walk (not only the prior).
  pub measured: bool,
  /// The room it was compared with, when it did not fit: "memory" or "disk".
  pub over: Option<&'static str>,
}

/// Why a dump did not complete.
#[derive(Debug)]
pub enum DumpFailure {
  /// The estimate redone during the walk did not fit: given up before the graph was built,
  /// no file left behind.
  Estimate { walked: Walked },
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
  /// Redo the estimate during the walk (`None`: only the ceiling and the clock).
  pub plan: Option<Plan>,
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
  plan: Option<Plan>,
  /// RSS at V8's first report (its object count done, nothing built).
  rss_at_count: Option<u64>,
  walked: Option<Walked>,
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
      plan: limits.plan,
      rss_at_count: None,
      walked: None,
    }
  }

  /// Redoes the estimate at V8's first report and once the walk's rate can be measured
  /// (`guard::walk_measurable`);
  /// false when it does not fit.
  fn estimate(&mut self, done: u32, total: u32, rss: u64) -> bool {
    let Some(plan) = self.plan else {
      return true;
    };
    let (done, total) = (u64::from(done), u64::from(total));
    let grown = rss.saturating_sub(plan.rss_before);
    let walked = match self.rss_at_count {
      None => {
        self.rss_at_count = Some(rss);
        let (memory, file) = planned_cost(total, plan.names, plan.per_object);
        Walked {
          objects: total,
          memory_bytes: grown + memory,
          file_bytes: file,
          measured: false,
          over: None,
        }
      }
      Some(at_count) => {
        let measured = self.walked.is_some_and(|w| w.measured);
        if measured || !walk_measurable(done, total) {
          return true;
        }
        // Hash tables that double and memory freed by V8's GC make RSS grow in steps: the
        // rate measured can be low for a while, so it only ever raises the estimate.
        let memory =
          memory_during_walk(grown, rss.saturating_sub(at_count), done, total, plan.names)
            .max(self.walked.map_or(0, |w| w.memory_bytes));
        Walked {
          memory_bytes: memory,
          measured: true,
          ..self.walked.unwrap_or(Walked {
            objects: total,
            memory_bytes: 0,
            file_bytes: planned_cost(total, plan.names, plan.per_object).1,
            measured: true,
            over: None,
          })
        }
      }
    };
    let over = if plan
      .memory_room
      .is_some_and(|room| walked.memory_bytes > room)
    {
      Some("memory")
    } else if plan.disk_room.is_some_and(|room| walked.file_bytes > room) {
      Some("disk")
    } else {
      None
    };
    self.walked = Some(Walked { over, ..walked });
    over.is_none()
  }

  fn check(&mut self) -> bool {
    let rss = (self.read_rss)();
    self.check_with(rss)
  }

  /// The clock, then `rss` (as just read) against the ceiling.
  fn check_with(&mut self, rss: Option<u64>) -> bool {
    if let Some(limit) = self.abort_after {
      let elapsed = self.started.elapsed();
      if elapsed >= limit {
        self.overran = Some(elapsed);
        return false;
      }
    }
    let Some(rss) = rss else {
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
  fn progress(&mut self, done: u32, total: u32) -> bool {
    let rss = (self.read_rss)();
    self.check_with(rss) && self.estimate(done, total, rss.unwrap_or(0))
  }
}

struct FileSink<'a> {
  file: PartialFile,
  watch: &'a mut Watch,
  since_check: u64,
  /// Whether the header has been read (the first chunk).
  header_seen: bool,
  /// The file size estimated from the header's counts, and whether it passed the disk room.
  /// (nodes, bytes, over the disk room).
  file_estimate: Option<(u64, u64, bool)>,
}

/// The value of `"key":` (an unsigned integer) in a snapshot's header.
fn header_count(header: &[u8], key: &[u8]) -> Option<u64> {
  let at = header.windows(key.len()).position(|w| w == key)? + key.len();
  header[at..]
    .iter()
    .take_while(|b| b.is_ascii_digit())
    .take(20)
    .fold(None, |n: Option<u64>, b| {
      Some(
        n.unwrap_or(0)
          .saturating_mul(10)
          .saturating_add(u64::from(b - b'0')),
      )
    })
}

impl SnapshotSink for FileSink<'_> {
  fn write_chunk(&mut self, data: &[u8]) -> bool {
    if !self.header_seen {
      // V8 writes the graph's node and edge counts first, in a header of a few kilobytes:
      // the file's size follows from them, before a byte of the graph is written.
      self.header_seen = true;
      let head = &data[..data.len().min(64 * 1024)];
      if let (Some(plan), Some(nodes), Some(edges)) = (
        self.watch.plan,
        header_count(head, b"\"node_count\":"),
        header_count(head, b"\"edge_count\":"),
      ) {
        let bytes = file_from_counts(nodes, edges, plan.names.unwrap_or(0));
        let over = plan.disk_room.is_some_and(|room| bytes > room);
        self.file_estimate = Some((nodes, bytes, over));
        if over {
          return false;
        }
      }
    }
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
    header_seen: false,
    file_estimate: None,
  };
  let watched = limits.ceiling.is_some() || limits.abort_after.is_some() || limits.plan.is_some();
  let progress_ref: Option<&mut dyn SnapshotProgress> = if limits.watch_building && watched {
    Some(&mut progress)
  } else {
    None
  };
  let outcome = profiler.write_snapshot(progress_ref, &mut sink, CHUNK_BYTES);
  let FileSink {
    file,
    file_estimate,
    ..
  } = sink;
  let peak = watch.peak.max(progress.peak);
  if let Some((nodes, file_bytes, over)) = file_estimate {
    // Without the walk watched (no memory room, no pause budget) the header alone is known.
    let walked = progress.walked.get_or_insert(Walked {
      objects: nodes,
      memory_bytes: 0,
      file_bytes,
      measured: false,
      over: None,
    });
    walked.file_bytes = file_bytes;
    if over {
      walked.over = Some("disk");
    }
  }
  if let Some(walked) = progress.walked.filter(|w| w.over.is_some()) {
    drop(file);
    return Err(DumpFailure::Estimate { walked });
  }
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
        walked: progress.walked,
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
      plan: None,
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

  fn planned(room: u64) -> Limits {
    Limits {
      plan: Some(Plan {
        rss_before: 100,
        names: Some(0),
        per_object: PerObject::of(None),
        memory_room: Some(room),
        disk_room: None,
      }),
      ..limits(None, None)
    }
  }

  #[test]
  fn the_object_count_aborts_a_dump_that_will_not_fit_before_anything_is_built() {
    let (fits, _) = planned_cost(1_000_000, Some(0), PerObject::of(None));
    let mut tight = Watch::new(rss, planned(fits - 1), Instant::now());
    assert!(!tight.progress(0, 1_000_000));
    let walked = tight.walked.unwrap();
    assert_eq!((walked.over, walked.measured), (Some("memory"), false));
    let mut roomy = Watch::new(rss, planned(fits + 1), Instant::now());
    assert!(roomy.progress(0, 1_000_000));
    assert_eq!(roomy.walked.unwrap().memory_bytes, fits);
  }

  #[test]
  fn two_fifths_into_the_walk_the_measured_rate_decides() {
    static RSS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    fn read() -> Option<u64> {
      Some(RSS.load(std::sync::atomic::Ordering::Relaxed))
    }
    let set = |v: u64| RSS.store(v, std::sync::atomic::Ordering::Relaxed);
    // The prior fits; the walk then costs 2,000 bytes an object, far above it.
    let (prior, _) = planned_cost(1_000_000, Some(0), PerObject::of(None));
    let mut watch = Watch::new(read, planned(prior + 1), Instant::now());
    set(0);
    assert!(watch.progress(0, 1_000_000));
    set(300_000 * 2_000);
    assert!(
      watch.progress(300_000, 1_000_000),
      "before two fifths: the prior stands"
    );
    set(400_000 * 2_000);
    assert!(!watch.progress(400_000, 1_000_000));
    let walked = watch.walked.unwrap();
    assert!(walked.measured && walked.over == Some("memory"));
    assert!(walked.memory_bytes > 1_000_000 * 2_000);
  }

  #[test]
  fn counts_are_read_from_the_header() {
    let head = br#"{"snapshot":{"meta":{"node_fields":["type"]},"node_count":1234,"edge_count":98765,"trace_function_count":0},"#;
    assert_eq!(header_count(head, b"\"node_count\":"), Some(1234));
    assert_eq!(header_count(head, b"\"edge_count\":"), Some(98765));
    assert_eq!(header_count(head, b"\"missing\":"), None);
    assert_eq!(header_count(b"\"node_count\":x", b"\"node_count\":"), None);
    let huge = b"\"node_count\":99999999999999999999999999";
    assert_eq!(header_count(huge, b"\"node_count\":"), Some(u64::MAX));
  }
}
