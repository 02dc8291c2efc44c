//! Confirmation GCs: when full GCs are rare, ask V8 for one so the heap and external
//! detectors get a true baseline.
//!
//! Measured on the workloads of `bench/detection` (Node 20, natural GC schedule): a server
//! leaking 1.1 MB/s had 4 full GCs in 40 s; a steady server making only garbage had none in
//! 40 s; an LRU cache holding 58 MB let the heap reach 240 MB before its third full GC. The
//! heap after a scavenge is an upper bound of live memory, not a measure of it: in the leak it
//! rose 1.1 MB/s (all of it live), in the LRU cache 9 MB/s (nearly all of it garbage promoted
//! to old space and not collected until the next full GC). RSS follows the same upper bound
//! (the LRU cache's RSS reached 320 MB). Nothing observable between full GCs separates the
//! two; only a full GC does.
//!
//! So the policy watches the upper bound and, once it has grown since the last full GC by a
//! fraction of what a leak verdict needs, requests one incremental full GC (V8 paces it as
//! it does its own), subject to a pause budget: after a full GC that paused `p`, the next
//! request waits at least `p / max_pause_ratio` (1 % of wall time by default), and never
//! less than `min_interval`. RSS is watched the same way on the sampling tick, for processes
//! that allocate little on the heap and so rarely scavenge (Buffers piling up behind a
//! stream grew external memory 1.3 MB/s with one GC record every few seconds). On a small heap that is a few ms every couple of seconds while
//! memory grows; on a 2 GB heap with a 1 s full GC, at most one request per 100 s.
//!
//! A reported leak is re-checked the same way: its end (`leak-stopped`, and with it the end of
//! allocation sampling) is a verdict on full-GC points, and a heap that stopped growing gets
//! none of its own once V8's memory reducer has run its few GCs — nothing grows, so nothing
//! above asks. While a heap or external leak is reported, a full GC is requested when none
//! came for `recheck` (the window's span per point a verdict needs: 24 s by default), under
//! the same pause budget.

use std::time::{Duration, Instant};

use crate::monitor::gc_kind::GcKind;
use crate::monitor::record::GcRecord;

/// Growth of a metric since the last full GC that calls for a confirmation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trigger {
  /// Bytes.
  pub min_bytes: f64,
  /// Fraction of the level at the last full GC.
  pub ratio: f64,
}

impl Trigger {
  /// The growth a trend verdict needs, split over the points it needs: a leak that just
  /// meets the thresholds gets about `min_points` full GCs while it grows that much.
  pub fn for_thresholds(min_growth_bytes: f64, min_growth_ratio: f64, min_points: usize) -> Self {
    let shares = min_points.max(1) as f64;
    Trigger {
      min_bytes: min_growth_bytes / shares,
      ratio: min_growth_ratio / shares,
    }
  }

  fn fired(&self, base: u64, now: u64) -> bool {
    let growth = now as f64 - base as f64;
    growth > 0.0 && growth >= self.min_bytes.max(self.ratio * base as f64)
  }
}

/// Settings; no trigger means the metric never asks.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfirmConfig {
  /// Largest share of wall time spent in requested full GCs (0.01 = 1 %).
  pub max_pause_ratio: f64,
  /// Least time between a full GC and the next request.
  pub min_interval: Duration,
  pub heap: Option<Trigger>,
  pub external: Option<Trigger>,
  /// While a heap or external leak is reported: the longest time without a full GC.
  pub recheck: Duration,
}

/// A request not followed by a full GC within this long is considered lost.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
struct Baseline {
  at: Instant,
  used: u64,
  external: u64,
  /// Latest RSS sample when the full GC ran.
  rss: Option<u64>,
  pause_ns: u64,
}

#[derive(Debug)]
pub struct ConfirmPolicy {
  config: ConfirmConfig,
  last_full: Option<Baseline>,
  pending_since: Option<Instant>,
  requested: u64,
  latest_rss: Option<u64>,
  /// The first RSS sample, the baseline until the first GC record.
  first_rss: Option<(Instant, u64)>,
}

impl ConfirmPolicy {
  pub fn new(config: ConfirmConfig) -> Self {
    ConfirmPolicy {
      config,
      last_full: None,
      pending_since: None,
      requested: 0,
      latest_rss: None,
      first_rss: None,
    }
  }

  /// Requests made so far.
  pub fn requested(&self) -> u64 {
    self.requested
  }

  /// Feeds one GC record; true when a full GC should be requested now.
  pub fn observe(&mut self, record: &GcRecord) -> bool {
    let here = Baseline {
      at: record.at,
      used: record.heap.used,
      external: record.heap.external,
      rss: self.latest_rss,
      pause_ns: if record.kind == GcKind::MarkSweepCompact {
        record.pause_ns
      } else {
        0
      },
    };
    if record.kind.is_full() {
      self.last_full = Some(here);
      self.pending_since = None;
      return false;
    }
    // Before the first full GC, the first record stands in as the baseline.
    let base = *self.last_full.get_or_insert(here);
    if !self.may_request(record.at, &base) {
      return false;
    }
    let heap = self
      .config
      .heap
      .is_some_and(|t| t.fired(base.used, record.heap.used));
    let external = self
      .config
      .external
      .is_some_and(|t| t.fired(base.external, record.heap.external));
    (heap || external) && self.request(record.at)
  }

  /// Feeds one RSS sample; true when a full GC should be requested now.
  pub fn observe_rss(&mut self, at: Instant, rss: u64) -> bool {
    self.latest_rss = Some(rss);
    let (base, base_rss) = match self.last_full {
      Some(base) => match base.rss {
        Some(base_rss) => (base, base_rss),
        None => {
          // No sample at the last full GC yet: this one stands in.
          if let Some(last) = self.last_full.as_mut() {
            last.rss = Some(rss);
          }
          return false;
        }
      },
      // No GC record yet: the first sample stands in. A process whose memory grows outside
      // the JS heap (Buffers behind a stream) can run many seconds without a single GC.
      None => {
        let (first_at, first_rss) = *self.first_rss.get_or_insert((at, rss));
        let base = Baseline {
          at: first_at,
          used: 0,
          external: 0,
          rss: Some(first_rss),
          pause_ns: 0,
        };
        (base, first_rss)
      }
    };
    if !self.may_request(at, &base) {
      return false;
    }
    let trigger = [self.config.heap, self.config.external]
      .into_iter()
      .flatten()
      .map(|t| t.min_bytes)
      .fold(f64::INFINITY, f64::min);
    let grown = Trigger {
      min_bytes: trigger,
      ratio: 0.0,
    }
    .fired(base_rss, rss);
    grown && self.request(at)
  }

  /// Called on every tick with whether a heap or external leak is reported (not yet said to
  /// have stopped); true when a full GC should be requested now, because none came for
  /// `recheck`.
  pub fn observe_reported(&mut self, at: Instant, reported: bool) -> bool {
    let Some(base) = self.last_full else {
      return false;
    };
    reported
      && at.saturating_duration_since(base.at) >= self.config.recheck
      && self.may_request(at, &base)
      && self.request(at)
  }

  /// The last request never reached the isolate (the event queue was full): not pending.
  pub fn request_lost(&mut self) {
    if self.pending_since.take().is_some() {
      self.requested = self.requested.saturating_sub(1);
    }
  }

  fn may_request(&self, at: Instant, base: &Baseline) -> bool {
    if self.config.heap.is_none() && self.config.external.is_none() {
      return false;
    }
    if let Some(since) = self.pending_since {
      if at.saturating_duration_since(since) < REQUEST_TIMEOUT {
        return false;
      }
    }
    let budget_wait = if self.config.max_pause_ratio > 0.0 {
      Duration::from_secs_f64(base.pause_ns as f64 / 1e9 / self.config.max_pause_ratio)
    } else {
      Duration::MAX
    };
    at.saturating_duration_since(base.at) >= self.config.min_interval.max(budget_wait)
  }

  fn request(&mut self, at: Instant) -> bool {
    self.pending_since = Some(at);
    self.requested += 1;
    true
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::monitor::record::HeapFigures;

  const MB: u64 = 1_000_000;

  fn config() -> ConfirmConfig {
    ConfirmConfig {
      max_pause_ratio: 0.01,
      min_interval: Duration::from_secs(1),
      heap: Some(Trigger::for_thresholds(8e6, 0.1, 5)),
      external: Some(Trigger::for_thresholds(8e6, 0.1, 5)),
      recheck: Duration::from_secs(24),
    }
  }

  fn rec(t0: Instant, ms: u64, kind: GcKind, used: u64, external: u64, pause_ms: u64) -> GcRecord {
    GcRecord {
      kind,
      forced: false,
      pause_ns: pause_ms * 1_000_000,
      at: t0 + Duration::from_millis(ms),
      heap: HeapFigures {
        used,
        external,
        ..Default::default()
      },
    }
  }

  #[test]
  fn trigger_splits_the_verdict_thresholds() {
    let t = Trigger::for_thresholds(8e6, 0.1, 5);
    assert_eq!(t.min_bytes, 1.6e6);
    assert!((t.ratio - 0.02).abs() < 1e-12);
    assert!(!t.fired(10 * MB, 11 * MB));
    assert!(t.fired(10 * MB, 12 * MB));
    // On a big heap the relative share dominates: 2 % of 1 GB.
    assert!(!t.fired(1000 * MB, 1015 * MB));
    assert!(t.fired(1000 * MB, 1020 * MB));
    assert!(!t.fired(10 * MB, 5 * MB));
  }

  #[test]
  fn growing_upper_bound_asks_once_until_the_full_gc_arrives() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    assert!(!p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, 10 * MB, 0, 5)));
    // Grown 3 MB but only 0.5 s after the full GC: too soon.
    assert!(!p.observe(&rec(t0, 500, GcKind::Scavenge, 13 * MB, 0, 1)));
    assert!(p.observe(&rec(t0, 2500, GcKind::Scavenge, 14 * MB, 0, 1)));
    // Pending: no second request.
    assert!(!p.observe(&rec(t0, 3000, GcKind::Scavenge, 16 * MB, 0, 1)));
    assert!(!p.observe(&rec(t0, 3500, GcKind::MarkSweepCompact, 14 * MB, 0, 5)));
    assert!(!p.observe(&rec(t0, 4000, GcKind::Scavenge, 17 * MB, 0, 1)));
    assert!(p.observe(&rec(t0, 6000, GcKind::Scavenge, 17 * MB, 0, 1)));
    assert_eq!(p.requested(), 2);
  }

  #[test]
  fn garbage_that_stays_below_the_trigger_never_asks() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    for i in 0..1000 {
      // 10 kB promoted per scavenge, 100 scavenges/s... but 2 MB not reached for 20 s.
      let used = 6 * MB + (i % 150) * 10_000;
      assert!(!p.observe(&rec(t0, i * 10, GcKind::Scavenge, used, 0, 1)));
    }
  }

  #[test]
  fn pause_budget_spaces_requests_on_big_heaps() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    // A full GC that paused 800 ms: at 1 %, no request for 80 s.
    p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, 2000 * MB, 0, 800));
    assert!(!p.observe(&rec(t0, 60_000, GcKind::Scavenge, 2500 * MB, 0, 1)));
    assert!(p.observe(&rec(t0, 80_001, GcKind::Scavenge, 2500 * MB, 0, 1)));
  }

  #[test]
  fn external_growth_asks_too_and_lost_requests_expire() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, 10 * MB, 10 * MB, 1));
    assert!(p.observe(&rec(t0, 3000, GcKind::Scavenge, 10 * MB, 13 * MB, 1)));
    assert!(!p.observe(&rec(t0, 20_000, GcKind::Scavenge, 10 * MB, 20 * MB, 1)));
    assert!(p.observe(&rec(t0, 33_001, GcKind::Scavenge, 10 * MB, 25 * MB, 1)));
    // A request dropped on the way is not pending: the next record may ask at once.
    p.request_lost();
    assert_eq!(p.requested(), 1);
    assert!(p.observe(&rec(t0, 33_002, GcKind::Scavenge, 10 * MB, 25 * MB, 1)));
  }

  #[test]
  fn rss_growth_between_rare_gcs_asks() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    assert!(!p.observe_rss(t0, 60 * MB));
    p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, 5 * MB, 10 * MB, 2));
    assert!(!p.observe_rss(t0 + Duration::from_millis(500), 63 * MB));
    // Flat RSS never asks.
    assert!(!p.observe_rss(t0 + Duration::from_secs(5), 61 * MB));
    assert!(p.observe_rss(t0 + Duration::from_secs(6), 63 * MB));
    assert!(!p.observe_rss(t0 + Duration::from_secs(7), 70 * MB));
  }

  #[test]
  fn rss_growth_before_any_gc_asks() {
    // Buffers piling up outside the JS heap: no GC record for seconds, RSS rising.
    let mut p = ConfirmPolicy::new(config());
    let t0 = Instant::now();
    assert!(!p.observe_rss(t0, 60 * MB));
    assert!(
      !p.observe_rss(t0 + Duration::from_millis(500), 63 * MB),
      "min_interval first"
    );
    assert!(!p.observe_rss(t0 + Duration::from_secs(2), 61 * MB));
    assert!(p.observe_rss(t0 + Duration::from_secs(3), 62 * MB));
    assert!(
      !p.observe_rss(t0 + Duration::from_secs(4), 70 * MB),
      "one request pending"
    );
    // The full GC that answers becomes the baseline.
    assert!(!p.observe(&rec(t0, 4500, GcKind::MarkSweepCompact, 5 * MB, 20 * MB, 2)));
    assert_eq!(p.requested(), 1);
  }

  #[test]
  fn without_triggers_nothing_is_requested() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(ConfirmConfig {
      heap: None,
      external: None,
      ..config()
    });
    p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, MB, MB, 1));
    assert!(!p.observe(&rec(t0, 60_000, GcKind::Scavenge, 100 * MB, 100 * MB, 1)));
  }

  #[test]
  fn a_reported_leak_with_no_full_gc_is_rechecked_under_the_budget() {
    let t0 = Instant::now();
    let mut p = ConfirmPolicy::new(config());
    let at = |s: u64| t0 + Duration::from_secs(s);
    // No full GC yet: nothing to re-check.
    assert!(!p.observe_reported(at(0), true));
    p.observe(&rec(t0, 0, GcKind::MarkSweepCompact, 90 * MB, 0, 400));
    // Not reported: a flat heap never asks.
    assert!(!p.observe_reported(at(100), false));
    // Reported: not before `recheck`, and the 400 ms GC's budget is 40 s at 1 %.
    assert!(!p.observe_reported(at(23), true));
    assert!(!p.observe_reported(at(39), true));
    assert!(p.observe_reported(at(40), true));
    // Pending until the full GC comes (or the request times out).
    assert!(!p.observe_reported(at(45), true));
    assert!(!p.observe(&rec(t0, 46_000, GcKind::MarkSweepCompact, 90 * MB, 0, 5)));
    assert!(!p.observe_reported(at(69), true));
    assert!(p.observe_reported(at(70), true));
    assert_eq!(p.requested(), 2);
    // A request lost on the way may be made again at once.
    p.request_lost();
    assert!(p.observe_reported(at(70), true));
  }
}
