//! Stats arithmetic: GC counts and pauses per kind, and memwatch's baseline estimates
//! (`estimated_base`, `usage_trend`, `min`, `max`) in 64-bit and floating point.
//!
//! memwatch computed these with 32-bit unsigned ints and integer division, so its
//! `usage_trend` could never be negative, its decay factor was always 0 during the first ten
//! compactions, and its `estimated_base` wrapped past ~455 MiB. Here the same formulas run
//! as memwatch intended them.

use crate::monitor::gc_kind::GcKind;
use crate::monitor::record::GcRecord;

/// memwatch's `RECENT_PERIOD`: compactions averaged into `estimated_base`.
const RECENT_PERIOD: f64 = 10.0;
/// memwatch's `ANCIENT_PERIOD`: compactions averaged into the long-term base.
const ANCIENT_PERIOD: f64 = 120.0;
/// min/max are recorded from this compaction on, to let start-up settle (as memwatch).
const MIN_MAX_AFTER: u64 = 3;

/// Running estimates of the post-GC heap baseline, updated once per full GC.
#[derive(Clone, Debug, Default)]
pub struct BaselineEstimator {
  compactions: u64,
  last_base: u64,
  recent: f64,
  ancient: f64,
  min: u64,
  max: u64,
}

impl BaselineEstimator {
  /// Feeds the used heap size right after a full GC.
  pub fn update(&mut self, used_after_gc: u64) {
    self.compactions += 1;
    self.last_base = used_after_gc;
    let n = self.compactions as f64;
    let base = used_after_gc as f64;
    if self.compactions == 1 {
      // No history yet: averaging with an empty history would bias the base towards 0.
      self.recent = base;
      self.ancient = base;
    } else if n < RECENT_PERIOD {
      // Start-up damping: weight the history less while it is short.
      let recent_weight = (n / RECENT_PERIOD).powf(2.5) * n;
      self.recent = (self.recent * recent_weight + base) / (recent_weight + 1.0);
      let ancient_weight = (n / RECENT_PERIOD).powf(2.4) * n;
      self.ancient = (self.ancient * ancient_weight + base) / (ancient_weight + 1.0);
    } else {
      self.recent = (self.recent * (RECENT_PERIOD - 1.0) + base) / RECENT_PERIOD;
      let period = n.min(ANCIENT_PERIOD);
      self.ancient = (self.ancient * (period - 1.0) + base) / period;
    }
    if self.compactions >= MIN_MAX_AFTER {
      if self.min == 0 || used_after_gc < self.min {
        self.min = used_after_gc;
      }
      if used_after_gc > self.max {
        self.max = used_after_gc;
      }
    }
  }

  pub fn compactions(&self) -> u64 {
    self.compactions
  }

  /// `current_base`: used heap after the latest full GC.
  pub fn current_base(&self) -> u64 {
    self.last_base
  }

  /// `estimated_base`: the recent (10-compaction) average.
  pub fn estimated_base(&self) -> u64 {
    self.recent.round() as u64
  }

  /// `usage_trend`: percent by which the recent base exceeds the long-term base, to 0.1 %.
  /// Negative when the heap shrinks.
  pub fn usage_trend(&self) -> f64 {
    if self.ancient <= 0.0 {
      return 0.0;
    }
    ((self.recent - self.ancient) / self.ancient * 1000.0).round() / 10.0
  }

  /// Smallest post-GC base from the third compaction on; 0 before (as memwatch).
  pub fn min(&self) -> u64 {
    self.min
  }

  /// Largest post-GC base from the third compaction on; 0 before (as memwatch).
  pub fn max(&self) -> u64 {
    self.max
  }
}

/// Count and total pause of one GC kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindTotals {
  pub count: u64,
  pub pause_ns: u64,
}

/// Everything the stats payload is assembled from.
#[derive(Clone, Debug, Default)]
pub struct StatsAccumulator {
  pub by_kind: [KindTotals; GcKind::COUNT],
  pub baseline: BaselineEstimator,
  pub last: Option<GcRecord>,
  pub last_full: Option<GcRecord>,
}

impl StatsAccumulator {
  /// Feeds one GC record; returns true when it was a full GC (a `stats` moment).
  pub fn record(&mut self, rec: &GcRecord) -> bool {
    let totals = &mut self.by_kind[rec.kind.index()];
    totals.count += 1;
    totals.pause_ns = totals.pause_ns.saturating_add(rec.pause_ns);
    self.last = Some(*rec);
    if rec.kind.is_full() {
      self.baseline.update(rec.heap.used);
      self.last_full = Some(*rec);
      true
    } else {
      false
    }
  }

  /// memwatch's `num_full_gc`.
  pub fn num_full_gc(&self) -> u64 {
    self.by_kind[GcKind::MarkSweepCompact.index()].count
  }

  /// memwatch's `num_inc_gc`: every collection that is not a full one (scavenges, minor
  /// mark-compacts, incremental marking steps, weak-callback processing).
  pub fn num_inc_gc(&self) -> u64 {
    self
      .by_kind
      .iter()
      .enumerate()
      .filter(|(i, _)| *i != GcKind::MarkSweepCompact.index())
      .map(|(_, t)| t.count)
      .sum()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::monitor::record::HeapFigures;
  use std::time::Instant;

  const MIB: u64 = 1024 * 1024;

  fn full(used: u64) -> GcRecord {
    GcRecord {
      kind: GcKind::MarkSweepCompact,
      forced: false,
      pause_ns: 2_000_000,
      at: Instant::now(),
      heap: HeapFigures {
        used,
        ..Default::default()
      },
    }
  }

  #[test]
  fn first_compaction_sets_every_base() {
    let mut b = BaselineEstimator::default();
    b.update(10 * MIB);
    assert_eq!(b.current_base(), 10 * MIB);
    assert_eq!(b.estimated_base(), 10 * MIB);
    assert_eq!(b.usage_trend(), 0.0);
    assert_eq!((b.min(), b.max()), (0, 0));
  }

  #[test]
  fn shrinking_heap_gives_negative_trend() {
    let mut b = BaselineEstimator::default();
    for i in 0..30u64 {
      b.update((300 - i * 8) * MIB);
    }
    assert!(b.usage_trend() < 0.0, "trend {}", b.usage_trend());
    assert_eq!(b.current_base(), (300 - 29 * 8) * MIB);
  }

  #[test]
  fn growing_heap_gives_positive_trend() {
    let mut b = BaselineEstimator::default();
    for i in 0..30u64 {
      b.update((50 + i * 4) * MIB);
    }
    assert!(b.usage_trend() > 0.0);
    assert!(b.estimated_base() > 100 * MIB);
  }

  #[test]
  fn steady_heap_has_zero_trend_and_min_max_from_third() {
    let mut b = BaselineEstimator::default();
    for used in [40, 42, 41, 43, 40].map(|m| m * MIB) {
      b.update(used);
    }
    assert_eq!(b.min(), 40 * MIB);
    assert_eq!(b.max(), 43 * MIB);
    assert!(b.usage_trend().abs() < 5.0);
  }

  #[test]
  fn huge_heaps_do_not_wrap() {
    // memwatch's 32-bit estimate wrapped past ~455 MiB; 600 MiB and 64 GiB must not.
    let mut b = BaselineEstimator::default();
    for _ in 0..20 {
      b.update(600 * MIB);
    }
    assert_eq!(b.estimated_base(), 600 * MIB);
    assert_eq!(b.current_base(), 600 * MIB);
    let mut huge = BaselineEstimator::default();
    for _ in 0..200 {
      huge.update(64 * 1024 * MIB);
    }
    assert_eq!(huge.estimated_base(), 64 * 1024 * MIB);
    assert_eq!(huge.max(), 64 * 1024 * MIB);
    assert_eq!(huge.usage_trend(), 0.0);
  }

  #[test]
  fn accumulator_counts_kinds_and_pauses() {
    let mut acc = StatsAccumulator::default();
    let mut scavenge = full(MIB);
    scavenge.kind = GcKind::Scavenge;
    scavenge.pause_ns = 500_000;
    for _ in 0..7 {
      assert!(!acc.record(&scavenge));
    }
    let mut incremental = scavenge;
    incremental.kind = GcKind::IncrementalMarking;
    assert!(!acc.record(&incremental));
    assert!(acc.record(&full(20 * MIB)));
    assert!(acc.record(&full(22 * MIB)));
    assert_eq!(acc.num_full_gc(), 2);
    assert_eq!(acc.num_inc_gc(), 8);
    assert_eq!(acc.by_kind[GcKind::Scavenge.index()].pause_ns, 3_500_000);
    assert_eq!(
      acc.by_kind[GcKind::MarkSweepCompact.index()].pause_ns,
      4_000_000
    );
    assert_eq!(acc.baseline.compactions(), 2);
    assert_eq!(acc.last_full.unwrap().heap.used, 22 * MIB);
  }
}
