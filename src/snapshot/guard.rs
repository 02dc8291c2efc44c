//! Whether a heap snapshot fits: its estimated cost against the room the process has.
//!
//! What a V8 snapshot costs in memory follows the heap's shape, not its bytes
//! (`bench/snapshot/calibrate.js`; numbers in docs/snapshots.md):
//!
//! - per heap object, about 160–375 bytes while V8 walks the heap (the object's entry, its
//!   id, its references; the most on a real application's heap, with code and many
//!   references per object), in steps as V8's tables double and on some heaps front-loaded,
//!   so a rate measured early misleads (0.14–2.83 × the walk's average over its first tenth);
//! - after the walk, little that is not already counted: the peak comes as V8 makes the
//!   index names, at the end of the walk;
//! - per distinct index name, about 1.1 KiB (1.0 – 1.08 KiB measured, 1.19 KiB budgeted): V8 names each reference out of an array, a
//!   `Map`'s or `Set`'s table or a dictionary by its index, keeps every distinct name in a
//!   buffer of 1 KiB, and does so for the largest containers last, all at once;
//! - a fixed part.
//!
//! So the guard estimates in three steps. Before the dump, a census of the heap's containers
//! (`v8::census`) gives the JS object count (a lower bound on the objects V8 will see) and the
//! index names (longest array, twice the largest `Map`, the largest `Set`): a dump whose
//! lower bound does not fit is skipped without starting. When V8 reports its object count
//! (before it builds anything), the estimate is redone with it and the prior per-object cost;
//! once [`WALK_MEASURED_AT`] of the objects are walked, with the per-object cost measured so
//! far. A dump whose estimate passes the room is aborted then; the RSS ceiling stays the
//! second line. Each completed dump teaches the isolate its own per-object cost.
//!
//! The pause is estimated from the JS heap in use: time per heap byte, a prior (the slowest
//! measured here) until the isolate's first completed dump, then its own measured time with a
//! margin. Unlike memory, time per byte depends on the machine (CPU speed, other load), so the
//! learned figure is not capped by the prior. A dump expected to take longer than the budget
//! is skipped; one that runs past the budget by [`PAUSE_ABORT_MARGIN`] is aborted.

use std::time::Duration;

use super::headroom::{DiskRoom, MemoryRoom};
use crate::v8::Census;

/// Extra resident memory per heap object while V8 walks the heap, before any of it is
/// measured: a typical figure (measured 160–300 bytes on most heaps, up to 375 on a real
/// application's; docs/snapshots.md). A walk that costs more raises the estimate at
/// [`WALK_MEASURED_AT`].
pub const MEMORY_PER_OBJECT: f64 = 256.0;
/// Extra resident memory per heap object after the walk, beyond the index names: V8's
/// reference index and the serializer's tables, mostly in memory the walk's tables freed
/// (0 – 10 bytes measured on the calibration heaps, Node 20 and 24). Set higher: on the
/// near-heap-limit test's heap (a service's orders, then batches of small objects) the end
/// of the walk cost 2 – 3 KiB per index name, not 1.1, and 16 bytes left the estimate at
/// 1.01 – 1.03 × the need; 40 leaves about 10 %.
pub const MEMORY_AFTER_WALK_PER_OBJECT: f64 = 40.0;
/// Extra resident memory per heap object after the walk when no census counted the index
/// names (the census needs a GC, which V8 may refuse inside its near-heap-limit callback: it
/// did in some runs of the near-heap-limit test). The names V8 makes at the end of its walk
/// are then not in the estimate, and this stands in for them — a guess, since the names
/// follow the largest arrays, not the object count; the RSS ceiling stays the line a larger
/// set of names meets.
pub const MEMORY_AFTER_WALK_UNCOUNTED_PER_OBJECT: f64 = 128.0;
/// The share of the objects walked (at least [`WALK_MEASURED_MIN`]) when the per-object cost
/// measured so far replaces the prior. Measured at a quarter the rate was 0.75–1.77 × the
/// walk's average per object; at two fifths 0.87–1.45 (docs/snapshots.md).
pub const WALK_MEASURED_AT: (u64, u64) = (2, 5);
/// Fewer objects than this are too few to measure a rate from.
pub const WALK_MEASURED_MIN: u64 = 50_000;
/// Per distinct index name: V8's 1 KiB buffer, its table entry and the serializer's (measured
/// 1.0 – 1.08 KiB per name when V8 makes them at the end of its walk).
pub const MEMORY_PER_NAME: u64 = 1216;
/// Fixed extra resident memory of a snapshot (serializer buffers, string tables).
pub const MEMORY_FIXED_BYTES: u64 = 8 * 1024 * 1024;
/// Margin on the per-object cost measured during the walk: RSS grows in steps as V8's tables
/// double, so the rate at [`WALK_MEASURED_AT`] can be below the walk's average (by up to 13 %
/// measured).
pub const WALK_RATE_MARGIN: f64 = 1.2;

/// Whether `done` of `total` objects walked is the point to measure the walk's rate.
pub fn walk_measurable(done: u64, total: u64) -> bool {
  let (num, den) = WALK_MEASURED_AT;
  done < total && done >= (total / den * num).max(WALK_MEASURED_MIN)
}
/// Snapshot file size per heap object (its node row, its references' rows, its strings):
/// measured 69–129 bytes, the most on heaps with the most references per object.
pub const FILE_PER_OBJECT: f64 = 135.0;
/// File size per index name (the name in the string table).
pub const FILE_PER_NAME: u64 = 10;
/// Fixed part of the file size.
pub const FILE_FIXED_BYTES: u64 = 8 * 1024 * 1024;
/// File bytes per node once V8 has counted the graph (a node row and its share of the
/// strings; fitted on Node 20, 22 and 24, docs/snapshots.md).
pub const FILE_PER_NODE: u64 = 36;
/// File bytes per edge (an edge row).
pub const FILE_PER_EDGE: u64 = 18;

/// Margin on a per-object cost learned from this isolate's own dumps.
pub const LEARNED_MARGIN: f64 = 1.25;
/// Pause per byte of JS heap in use, nanoseconds, before an isolate's first dump: the
/// slowest measured here (Node 20, 2 shared cores: 137 ms per MiB on Map entries and on small
/// objects, 107 on a service's objects), rounded up. A dump that runs V8's quadratic function
/// location (a large script on Node 20 without line ends) is far slower: the abort is the
/// line of defence there.
pub const PAUSE_NS_PER_HEAP_BYTE: f64 = 150.0;
/// Fixed part of a dump's pause (the GCs V8 runs first, the serializer's setup).
pub const PAUSE_FIXED: Duration = Duration::from_millis(250);
/// Margin on the pause per byte learned from this isolate's own dumps.
pub const PAUSE_LEARNED_MARGIN: f64 = 1.25;
/// A dump still running at the budget × this is aborted.
pub const PAUSE_ABORT_MARGIN: f64 = 1.25;

/// What a snapshot is expected to cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
  /// Extra resident memory at the peak of the dump.
  pub memory_bytes: u64,
  /// Size of the file.
  pub file_bytes: u64,
  /// How long the isolate is expected to be blocked.
  pub pause: Duration,
}

/// The index names a heap's containers make V8 keep: one per slot of the longest array, two
/// per entry (key and value) of the largest `Map`, one per member of the largest `Set`.
/// Names are shared between containers, so the largest of each kind is what counts; the sum
/// of the three is an upper bound. Plain objects used as dictionaries are not counted (no
/// V8 call tells their size without allocating).
pub fn index_names(census: &Census) -> u64 {
  census
    .longest_array
    .saturating_add(census.largest_map.saturating_mul(2))
    .saturating_add(census.largest_set)
}

/// A bound no heap's snapshot has come near, per byte of JS heap in use: every 8-byte slot an
/// index name (152 bytes each per heap byte) and objects of 16 bytes at the prior's cost. When
/// the room holds even this, the census is not needed.
pub const WORST_CASE_PER_HEAP_BYTE: u64 = 160;

/// The most a snapshot of a heap this size could take ([`WORST_CASE_PER_HEAP_BYTE`]).
pub fn worst_case_memory(heap_used: u64) -> u64 {
  heap_used
    .saturating_mul(WORST_CASE_PER_HEAP_BYTE)
    .saturating_add(MEMORY_FIXED_BYTES * 8)
}

/// Per-object costs: the prior, or this isolate's own with a margin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerObject {
  /// Extra memory per object, walk and after.
  pub memory: f64,
  /// File bytes per object.
  pub file: f64,
}

impl PerObject {
  pub fn of(learned: Option<Learned>) -> PerObject {
    match learned {
      Some(l) if l.memory_per_object > 0.0 => PerObject {
        memory: l.memory_per_object * LEARNED_MARGIN,
        file: l.file_per_object * LEARNED_MARGIN,
      },
      _ => PerObject {
        memory: MEMORY_PER_OBJECT + MEMORY_AFTER_WALK_PER_OBJECT,
        file: FILE_PER_OBJECT,
      },
    }
  }
}

/// The part after the walk per object: its own, or with the index names in it when no census
/// counted them (`names` None).
fn after_walk_per_object(names: Option<u64>) -> f64 {
  if names.is_some() {
    MEMORY_AFTER_WALK_PER_OBJECT
  } else {
    MEMORY_AFTER_WALK_UNCOUNTED_PER_OBJECT
  }
}

/// [`shape_cost`] for the plan of a dump: `names` None when no census counted them.
pub fn planned_cost(objects: u64, names: Option<u64>, per: PerObject) -> (u64, u64) {
  let (memory, file) = shape_cost(objects, names.unwrap_or(0), per);
  let uncounted = after_walk_per_object(names) - MEMORY_AFTER_WALK_PER_OBJECT;
  (memory + (objects as f64 * uncounted) as u64, file)
}

/// Memory and file size of a snapshot of `objects` heap objects and `names` index names.
pub fn shape_cost(objects: u64, names: u64, per: PerObject) -> (u64, u64) {
  let memory = (objects as f64 * per.memory) as u64
    + names.saturating_mul(MEMORY_PER_NAME)
    + MEMORY_FIXED_BYTES;
  let file =
    (objects as f64 * per.file) as u64 + names.saturating_mul(FILE_PER_NAME) + FILE_FIXED_BYTES;
  (memory, file)
}

/// Memory once a part of the walk is done: what it has cost so far (`grown`, since before
/// the dump; `walk_grown` of it over the `done` objects walked), the rest of the walk at the
/// rate measured, the part after the walk, and the index names (made at the end of the walk;
/// None: no census counted them).
pub fn memory_during_walk(
  grown: u64,
  walk_grown: u64,
  done: u64,
  total: u64,
  names: Option<u64>,
) -> u64 {
  let rate = walk_grown as f64 / done.max(1) as f64;
  let rest = rate * WALK_RATE_MARGIN * total.saturating_sub(done) as f64;
  grown
    + rest as u64
    + (total as f64 * after_walk_per_object(names)) as u64
    + names.unwrap_or(0).saturating_mul(MEMORY_PER_NAME)
    + MEMORY_FIXED_BYTES
}

/// The file's size from the node and edge counts V8 writes first, and the index names.
pub fn file_from_counts(nodes: u64, edges: u64, names: u64) -> u64 {
  nodes
    .saturating_mul(FILE_PER_NODE)
    .saturating_add(edges.saturating_mul(FILE_PER_EDGE))
    .saturating_add(names.saturating_mul(FILE_PER_NAME))
    .saturating_add(512 * 1024)
}

/// What one completed dump of this isolate cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learned {
  /// Extra memory per heap object, index names and fixed part taken out (0: not known).
  pub memory_per_object: f64,
  pub file_per_object: f64,
  /// Pause beyond [`PAUSE_FIXED`] per heap byte, nanoseconds.
  pub pause_ns_per_heap_byte: f64,
}

impl Learned {
  /// From one dump: heap in use before it, V8's object count and the index names counted
  /// (`None`: the graph's size was not seen), extra RSS at its peak, file size, pause.
  pub fn from_dump(
    heap_used: u64,
    shape: Option<(u64, u64)>,
    extra_rss: u64,
    file_bytes: u64,
    pause: Duration,
  ) -> Option<Learned> {
    // Below a few megabytes the fixed costs dominate and the ratios say little.
    if heap_used < 4 * 1024 * 1024 {
      return None;
    }
    let (memory_per_object, file_per_object) = match shape {
      Some((objects, names)) if objects >= 10_000 => {
        let o = objects as f64;
        let memory = extra_rss
          .saturating_sub(names.saturating_mul(MEMORY_PER_NAME))
          .saturating_sub(MEMORY_FIXED_BYTES);
        let file = file_bytes
          .saturating_sub(names.saturating_mul(FILE_PER_NAME))
          .saturating_sub(FILE_FIXED_BYTES);
        (memory as f64 / o, file as f64 / o)
      }
      _ => (0.0, 0.0),
    };
    Some(Learned {
      memory_per_object,
      file_per_object,
      pause_ns_per_heap_byte: pause.saturating_sub(PAUSE_FIXED).as_nanos() as f64
        / heap_used as f64,
    })
  }

  /// After a dump given up at `elapsed` (its memory and file unknown): the pause per byte
  /// is at least what it had run, the rest stays what was known.
  pub fn at_least_pause(known: Option<Learned>, heap_used: u64, elapsed: Duration) -> Learned {
    let mut learned = known.unwrap_or(Learned {
      memory_per_object: 0.0,
      file_per_object: 0.0,
      pause_ns_per_heap_byte: 0.0,
    });
    let ran = elapsed.saturating_sub(PAUSE_FIXED).as_nanos() as f64 / heap_used.max(1) as f64;
    learned.pause_ns_per_heap_byte = learned.pause_ns_per_heap_byte.max(ran);
    learned
  }
}

/// The estimate before the dump: memory and file from the census (its JS objects are a lower
/// bound on the objects V8 will count; without a census, only the fixed parts), the pause
/// from the heap in use.
pub fn estimate(heap_used: u64, census: Option<&Census>, learned: Option<Learned>) -> Estimate {
  let (objects, names) = census.map_or((0, 0), |c| (c.js_objects, index_names(c)));
  let (memory_bytes, file_bytes) = shape_cost(objects, names, PerObject::of(learned));
  // A learned 0 is a dump faster than the fixed part: what the isolate measured, kept.
  let pause_ns = learned.map_or(PAUSE_NS_PER_HEAP_BYTE, |l| {
    l.pause_ns_per_heap_byte * PAUSE_LEARNED_MARGIN
  });
  Estimate {
    memory_bytes,
    file_bytes,
    pause: PAUSE_FIXED + Duration::from_nanos((heap_used as f64 * pause_ns) as u64),
  }
}

/// Whether a dump expected to take `est.pause` fits `budget` (`None`: no budget).
pub fn fits_pause(est: Estimate, budget: Option<Duration>) -> bool {
  budget.is_none_or(|b| est.pause <= b)
}

/// When a dump that has run this long is given up (`None`: never).
pub fn pause_abort_after(budget: Option<Duration>) -> Option<Duration> {
  budget.map(|b| b.mul_f64(PAUSE_ABORT_MARGIN))
}

/// Why a dump was not attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
  Memory,
  Disk,
}

impl SkipReason {
  pub fn as_str(self) -> &'static str {
    match self {
      SkipReason::Memory => "memory",
      SkipReason::Disk => "disk",
    }
  }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
  /// Dump, aborting if RSS reaches `ceiling`; `tight`: the estimate takes more than half the
  /// room, so RSS is watched while the graph is built too.
  Go { ceiling: Option<u64>, tight: bool },
  Skip {
    reason: SkipReason,
    need_bytes: u64,
    have_bytes: u64,
    /// What bounded `have_bytes`: "memoryLimitBytes", "cgroup", "system" or "disk".
    bound: &'static str,
  },
}

/// Decides a dump. `rss` is the process's resident set now; `min_free_disk` what must stay
/// free on the target filesystem after the file is written.
pub fn decide(
  est: Estimate,
  memory: Option<&MemoryRoom>,
  disk: Option<DiskRoom>,
  rss: u64,
  min_free_disk: u64,
) -> Verdict {
  let in_memory_file = disk.is_some_and(|d| d.in_memory);
  if let Some(room) = memory {
    // A file on tmpfs is memory too.
    let need = est.memory_bytes + if in_memory_file { est.file_bytes } else { 0 };
    if need > room.bytes {
      return Verdict::Skip {
        reason: SkipReason::Memory,
        need_bytes: need,
        have_bytes: room.bytes,
        bound: room.bound,
      };
    }
  }
  if let Some(d) = disk {
    let need = est.file_bytes.saturating_add(min_free_disk);
    if need > d.free_bytes {
      return Verdict::Skip {
        reason: SkipReason::Disk,
        need_bytes: need,
        have_bytes: d.free_bytes,
        bound: "disk",
      };
    }
  }
  Verdict::Go {
    ceiling: memory.map(|room| rss + ceiling_room(room.bytes)),
    tight: memory.is_some_and(|room| est.memory_bytes.saturating_mul(2) > room.bytes),
  }
}

/// The growth allowed during a dump: the room less a margin (a tenth, at least 16 MiB), so
/// the abort comes before the limit does.
fn ceiling_room(room: u64) -> u64 {
  let margin = (room / 10).max(16 * 1024 * 1024);
  room.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
  use super::*;

  const MIB: u64 = 1024 * 1024;

  fn room(bytes: u64) -> MemoryRoom {
    MemoryRoom {
      bytes,
      bound: "cgroup",
    }
  }

  fn census(js_objects: u64, longest_array: u64, largest_map: u64, largest_set: u64) -> Census {
    Census {
      js_objects,
      longest_array,
      largest_map,
      largest_set,
    }
  }

  #[test]
  fn names_count_the_largest_containers() {
    assert_eq!(index_names(&census(10, 1000, 300, 50)), 1000 + 600 + 50);
    assert_eq!(index_names(&census(10, u64::MAX, 1, 0)), u64::MAX);
  }

  #[test]
  fn estimate_follows_objects_and_names_not_heap_bytes() {
    let few = estimate(500 * MIB, Some(&census(1000, 0, 0, 0)), None);
    let many = estimate(50 * MIB, Some(&census(1_000_000, 0, 0, 0)), None);
    assert!(many.memory_bytes > few.memory_bytes && many.file_bytes > few.file_bytes);
    let per = MEMORY_PER_OBJECT + MEMORY_AFTER_WALK_PER_OBJECT;
    assert_eq!(
      many.memory_bytes,
      (1_000_000.0 * per) as u64 + MEMORY_FIXED_BYTES
    );
    // A million-entry Map of objects: two million names, about 2.4 GB on their own.
    let map = estimate(50 * MIB, Some(&census(1_000_000, 0, 1_000_000, 0)), None);
    assert_eq!(
      map.memory_bytes - many.memory_bytes,
      2_000_000 * MEMORY_PER_NAME
    );
    // Without a census only the fixed parts are known before the dump.
    let blind = estimate(500 * MIB, None, None);
    assert_eq!(blind.memory_bytes, MEMORY_FIXED_BYTES);
  }

  #[test]
  fn the_walk_replaces_the_prior_with_the_measured_rate() {
    // 1 M objects, two fifths walked for 80 MB: 200 bytes each, the rest at that rate.
    let m = memory_during_walk(
      110 * 1000 * 1000,
      80 * 1000 * 1000,
      400_000,
      1_000_000,
      Some(0),
    );
    let rest = (200.0 * WALK_RATE_MARGIN * 600_000.0) as u64;
    let after = (1_000_000.0 * MEMORY_AFTER_WALK_PER_OBJECT) as u64;
    assert_eq!(m, 110_000_000 + rest + after + MEMORY_FIXED_BYTES);
    let with_names = memory_during_walk(110_000_000, 80_000_000, 400_000, 1_000_000, Some(10));
    assert_eq!(with_names - m, 10 * MEMORY_PER_NAME);
    // No census: the names are not known, and a larger part after the walk stands in for them.
    let uncounted = memory_during_walk(110_000_000, 80_000_000, 400_000, 1_000_000, None);
    let extra = MEMORY_AFTER_WALK_UNCOUNTED_PER_OBJECT - MEMORY_AFTER_WALK_PER_OBJECT;
    assert_eq!(uncounted - m, (1_000_000.0 * extra) as u64);
    let (counted, _) = planned_cost(1_000_000, Some(0), PerObject::of(None));
    let (blind, _) = planned_cost(1_000_000, None, PerObject::of(None));
    assert_eq!(blind - counted, (1_000_000.0 * extra) as u64);
  }

  #[test]
  fn the_rate_is_measured_two_fifths_in_and_never_on_a_few_objects() {
    assert!(!walk_measurable(399_999, 1_000_000));
    assert!(walk_measurable(400_000, 1_000_000));
    assert!(!walk_measurable(1_000_000, 1_000_000), "the walk is over");
    assert!(!walk_measurable(45_000, 100_000), "fewer than the minimum");
    assert!(walk_measurable(50_000, 100_000));
    assert!(!walk_measurable(10, 10));
  }

  #[test]
  fn pause_prior_then_learned_without_cap() {
    let prior = estimate(100 * MIB, None, None);
    assert_eq!(
      prior.pause,
      PAUSE_FIXED + Duration::from_nanos((100.0 * MIB as f64 * PAUSE_NS_PER_HEAP_BYTE) as u64)
    );
    // 100 MiB dumped in 10.25 s: 10 s beyond the fixed part, 95.4 ns per byte.
    let pause = PAUSE_FIXED + Duration::from_secs(10);
    let learned = Learned::from_dump(100 * MIB, None, 900 * MIB, 160 * MIB, pause).unwrap();
    let est = estimate(200 * MIB, None, Some(learned));
    let expected = PAUSE_FIXED + Duration::from_secs(20).mul_f64(PAUSE_LEARNED_MARGIN);
    assert!(
      est.pause.abs_diff(expected) < Duration::from_millis(1),
      "{:?}",
      est.pause
    );
    let slow = Learned::from_dump(
      100 * MIB,
      None,
      900 * MIB,
      160 * MIB,
      Duration::from_secs(600),
    );
    assert!(estimate(100 * MIB, None, slow).pause > prior.pause);
  }

  #[test]
  fn an_overrun_teaches_at_least_its_time() {
    let learned = Learned::at_least_pause(None, 10 * MIB, Duration::from_secs(30));
    let est = estimate(10 * MIB, None, Some(learned));
    assert!(est.pause > Duration::from_secs(30), "{:?}", est.pause);
    assert!(fits_pause(est, None));
    assert!(!fits_pause(est, Some(est.pause - Duration::from_millis(1))));
    assert_eq!(pause_abort_after(None), None);
    assert_eq!(
      pause_abort_after(Some(Duration::from_secs(4))),
      Some(Duration::from_secs(5))
    );
  }

  #[test]
  fn learned_per_object_cost_takes_names_and_fixed_parts_out() {
    let extra = 1_000_000 * 300 + 100_000 * MEMORY_PER_NAME + MEMORY_FIXED_BYTES;
    let file = 1_000_000 * 80 + 100_000 * FILE_PER_NAME + FILE_FIXED_BYTES;
    let learned = Learned::from_dump(
      100 * MIB,
      Some((1_000_000, 100_000)),
      extra,
      file,
      Duration::ZERO,
    )
    .unwrap();
    assert_eq!(learned.memory_per_object, 300.0);
    assert_eq!(learned.file_per_object, 80.0);
    assert_eq!(
      PerObject::of(Some(learned)),
      PerObject {
        memory: 300.0 * LEARNED_MARGIN,
        file: 80.0 * LEARNED_MARGIN
      }
    );
    // Without the graph's size the prior stays.
    let blind = Learned::from_dump(100 * MIB, None, extra, file, Duration::ZERO).unwrap();
    assert_eq!(PerObject::of(Some(blind)), PerObject::of(None));
    assert_eq!(
      Learned::from_dump(MIB, None, 50 * MIB, MIB, Duration::ZERO),
      None
    );
  }

  fn big() -> Estimate {
    estimate(100 * MIB, Some(&census(1_000_000, 0, 0, 0)), None)
  }

  #[test]
  fn skips_when_memory_is_short() {
    let est = big();
    let verdict = decide(est, Some(&room(est.memory_bytes - 1)), None, 0, 0);
    assert_eq!(
      verdict,
      Verdict::Skip {
        reason: SkipReason::Memory,
        need_bytes: est.memory_bytes,
        have_bytes: est.memory_bytes - 1,
        bound: "cgroup"
      }
    );
  }

  #[test]
  fn tmpfs_file_counts_as_memory() {
    let est = big();
    let have = est.memory_bytes + est.file_bytes / 2;
    let on_disk = DiskRoom {
      free_bytes: u64::MAX / 4,
      in_memory: false,
    };
    let on_tmpfs = DiskRoom {
      in_memory: true,
      ..on_disk
    };
    assert!(matches!(
      decide(est, Some(&room(have)), Some(on_disk), 0, 0),
      Verdict::Go { .. }
    ));
    assert!(matches!(
      decide(est, Some(&room(have)), Some(on_tmpfs), 0, 0),
      Verdict::Skip {
        reason: SkipReason::Memory,
        ..
      }
    ));
  }

  #[test]
  fn skips_when_disk_is_short_and_keeps_min_free() {
    let est = big();
    let disk = DiskRoom {
      free_bytes: est.file_bytes + 10 * MIB,
      in_memory: false,
    };
    assert!(matches!(
      decide(est, None, Some(disk), 0, 0),
      Verdict::Go { .. }
    ));
    match decide(est, None, Some(disk), 0, 20 * MIB) {
      Verdict::Skip {
        reason,
        need_bytes,
        have_bytes,
        bound,
      } => {
        assert_eq!(reason, SkipReason::Disk);
        assert_eq!(need_bytes, est.file_bytes + 20 * MIB);
        assert_eq!(have_bytes, disk.free_bytes);
        assert_eq!(bound, "disk");
      }
      other => panic!("{other:?}"),
    }
  }

  #[test]
  fn ceiling_stays_below_the_room() {
    let est = estimate(MIB, None, None);
    match decide(est, Some(&room(1000 * MIB)), None, 300 * MIB, 0) {
      Verdict::Go {
        ceiling: Some(c),
        tight: false,
      } => assert_eq!(c, 300 * MIB + 900 * MIB),
      other => panic!("{other:?}"),
    }
    assert_eq!(
      decide(est, None, None, 0, 0),
      Verdict::Go {
        ceiling: None,
        tight: false
      }
    );
    let est = big();
    assert!(matches!(
      decide(est, Some(&room(est.memory_bytes + MIB)), None, 0, 0),
      Verdict::Go { tight: true, .. }
    ));
    assert_eq!(ceiling_room(10 * MIB), 0);
  }
}
