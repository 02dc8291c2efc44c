//! Whether a heap snapshot fits: its estimated cost against the room the process has.
//!
//! The estimate is linear in the JS heap in use. What a snapshot costs per heap byte depends
//! on how many objects and references a byte holds: `bench/snapshot/calibrate.js` measured
//! 0.2× (large arrays of numbers) to 9× (a service's objects, strings) to 15× (small objects,
//! closures) and 22× (Map and Set entries), nearly flat across heap sizes (numbers and error in the
//! README). Before the first dump of an isolate the prior is the worst case measured, so on
//! ordinary heaps it overestimates: a dump is skipped sooner than needed, never later. Each
//! completed dump teaches this isolate its own ratio; later estimates use it with a 50 %
//! margin, never above the prior. The RSS ceiling handed to the dump is the second line: a
//! dump that grows past it is aborted.
//!
//! The pause is estimated the same way: time per heap byte, a prior (the slowest measured
//! here) until the isolate's first completed dump, then its own measured time with a margin.
//! Unlike memory, time per byte depends on the machine (CPU speed, other load), so the learned
//! figure is not capped by the prior. A dump expected to take longer than the budget is
//! skipped; one that runs past the budget by [`PAUSE_ABORT_MARGIN`] is aborted.

use std::time::Duration;

use super::headroom::{DiskRoom, MemoryRoom};

/// Extra resident memory while a snapshot is taken and written, per byte of JS heap in use
/// (the worst case measured, 21.9× on Map entries, with a margin).
pub const MEMORY_PER_HEAP_BYTE: f64 = 23.0;
/// Fixed extra resident memory of a snapshot (serializer buffers, string tables).
pub const MEMORY_FIXED_BYTES: u64 = 16 * 1024 * 1024;
/// Snapshot file size per byte of JS heap in use (the worst case measured, 2.41× on
/// closures, rounded up).
pub const FILE_PER_HEAP_BYTE: f64 = 2.5;
/// Fixed part of the file size.
pub const FILE_FIXED_BYTES: u64 = 8 * 1024 * 1024;
/// Margin on a ratio learned from this isolate's own dumps.
pub const LEARNED_MARGIN: f64 = 1.5;
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

/// What a snapshot of a heap this size is expected to cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
  /// Extra resident memory at the peak of the dump.
  pub memory_bytes: u64,
  /// Size of the file.
  pub file_bytes: u64,
  /// How long the isolate is expected to be blocked.
  pub pause: Duration,
}

/// Cost per heap byte measured on a completed dump of this isolate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learned {
  pub memory_per_heap_byte: f64,
  pub file_per_heap_byte: f64,
  /// Pause beyond [`PAUSE_FIXED`] per heap byte, nanoseconds.
  pub pause_ns_per_heap_byte: f64,
}

impl Learned {
  /// From one dump: heap in use before it, extra RSS at its peak, file size, pause.
  pub fn from_dump(
    heap_used: u64,
    extra_rss: u64,
    file_bytes: u64,
    pause: Duration,
  ) -> Option<Learned> {
    // Below a few megabytes the fixed costs dominate and the ratio says little.
    if heap_used < 4 * 1024 * 1024 {
      return None;
    }
    let h = heap_used as f64;
    Some(Learned {
      memory_per_heap_byte: extra_rss as f64 / h,
      file_per_heap_byte: file_bytes as f64 / h,
      pause_ns_per_heap_byte: pause.saturating_sub(PAUSE_FIXED).as_nanos() as f64 / h,
    })
  }

  /// After a dump given up at `elapsed` (its memory and file unknown): the pause per byte
  /// is at least what it had run, the rest stays what was known (the prior otherwise).
  pub fn at_least_pause(known: Option<Learned>, heap_used: u64, elapsed: Duration) -> Learned {
    let mut learned = known.unwrap_or(Learned {
      memory_per_heap_byte: MEMORY_PER_HEAP_BYTE / LEARNED_MARGIN,
      file_per_heap_byte: FILE_PER_HEAP_BYTE / LEARNED_MARGIN,
      pause_ns_per_heap_byte: 0.0,
    });
    let ran = elapsed.saturating_sub(PAUSE_FIXED).as_nanos() as f64 / heap_used.max(1) as f64;
    learned.pause_ns_per_heap_byte = learned.pause_ns_per_heap_byte.max(ran);
    learned
  }
}

/// The prior alone (`learned` None) or this isolate's own ratios with a margin, capped by
/// the prior.
pub fn estimate(heap_used: u64, learned: Option<Learned>) -> Estimate {
  let scaled = |per: f64, fixed: u64| (heap_used as f64 * per) as u64 + fixed;
  let (memory, file, pause_ns) = match learned {
    Some(l) => (
      (l.memory_per_heap_byte * LEARNED_MARGIN).min(MEMORY_PER_HEAP_BYTE),
      (l.file_per_heap_byte * LEARNED_MARGIN).min(FILE_PER_HEAP_BYTE),
      l.pause_ns_per_heap_byte * PAUSE_LEARNED_MARGIN,
    ),
    None => (
      MEMORY_PER_HEAP_BYTE,
      FILE_PER_HEAP_BYTE,
      PAUSE_NS_PER_HEAP_BYTE,
    ),
  };
  Estimate {
    memory_bytes: scaled(memory, MEMORY_FIXED_BYTES),
    file_bytes: scaled(file, FILE_FIXED_BYTES),
    pause: PAUSE_FIXED + Duration::from_nanos(scaled(pause_ns, 0)),
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

  #[test]
  fn estimate_grows_with_the_heap() {
    let small = estimate(10 * MIB, None);
    let big = estimate(200 * MIB, None);
    assert!(big.memory_bytes > small.memory_bytes && big.file_bytes > small.file_bytes);
    assert_eq!(
      big.memory_bytes,
      (200.0 * MIB as f64 * MEMORY_PER_HEAP_BYTE) as u64 + MEMORY_FIXED_BYTES
    );
  }

  #[test]
  fn pause_prior_then_learned_without_cap() {
    let prior = estimate(100 * MIB, None);
    assert_eq!(
      prior.pause,
      PAUSE_FIXED + Duration::from_nanos((100.0 * MIB as f64 * PAUSE_NS_PER_HEAP_BYTE) as u64)
    );
    // 100 MiB dumped in 10.25 s: 10 s beyond the fixed part, 95.4 ns per byte.
    let pause = PAUSE_FIXED + Duration::from_secs(10);
    let learned = Learned::from_dump(100 * MIB, 900 * MIB, 160 * MIB, pause).unwrap();
    let est = estimate(200 * MIB, Some(learned));
    let expected = PAUSE_FIXED + Duration::from_secs(20).mul_f64(PAUSE_LEARNED_MARGIN);
    assert!(
      est.pause.abs_diff(expected) < Duration::from_millis(1),
      "{:?}",
      est.pause
    );
    // A slow machine (or V8's quadratic function location) is learned above the prior.
    let slow = Learned::from_dump(100 * MIB, 900 * MIB, 160 * MIB, Duration::from_secs(600));
    assert!(estimate(100 * MIB, slow).pause > prior.pause * 3);
  }

  #[test]
  fn an_aborted_dump_teaches_its_pause_and_keeps_the_memory_prior() {
    let learned = Learned::at_least_pause(None, 10 * MIB, Duration::from_secs(30));
    let est = estimate(10 * MIB, Some(learned));
    let prior = estimate(10 * MIB, None);
    assert_eq!(est.memory_bytes, prior.memory_bytes);
    assert!(est.pause > Duration::from_secs(30), "{:?}", est.pause);
  }

  #[test]
  fn pause_budget_skips_and_aborts_with_a_margin() {
    let est = estimate(100 * MIB, None);
    assert!(fits_pause(est, None));
    assert!(fits_pause(est, Some(est.pause)));
    assert!(!fits_pause(est, Some(est.pause - Duration::from_millis(1))));
    assert_eq!(pause_abort_after(None), None);
    assert_eq!(
      pause_abort_after(Some(Duration::from_secs(4))),
      Some(Duration::from_secs(5))
    );
  }

  #[test]
  fn learned_ratio_with_margin_capped_by_the_prior() {
    let learned = Learned::from_dump(100 * MIB, 900 * MIB, 160 * MIB, Duration::ZERO).unwrap();
    assert_eq!(learned.memory_per_heap_byte, 9.0);
    let est = estimate(100 * MIB, Some(learned));
    assert_eq!(est.memory_bytes, 1350 * MIB + MEMORY_FIXED_BYTES);
    assert_eq!(est.file_bytes, 240 * MIB + FILE_FIXED_BYTES);
    let dense = Learned::from_dump(100 * MIB, 3000 * MIB, 400 * MIB, Duration::ZERO).unwrap();
    let (dense, prior) = (estimate(100 * MIB, Some(dense)), estimate(100 * MIB, None));
    assert_eq!(
      (dense.memory_bytes, dense.file_bytes),
      (prior.memory_bytes, prior.file_bytes)
    );
    assert_eq!(Learned::from_dump(MIB, 50 * MIB, MIB, Duration::ZERO), None);
  }

  #[test]
  fn skips_when_memory_is_short() {
    let est = estimate(100 * MIB, None);
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
    let est = estimate(100 * MIB, None);
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
    let est = estimate(10 * MIB, None);
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
    let est = estimate(MIB, None);
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
    let est = estimate(40 * MIB, None);
    assert!(matches!(
      decide(est, Some(&room(est.memory_bytes + MIB)), None, 0, 0),
      Verdict::Go { tight: true, .. }
    ));
    assert_eq!(ceiling_room(10 * MIB), 0);
  }
}
