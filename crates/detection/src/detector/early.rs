//! Early growth: the signal that starts the sampling heap profiler before a `leak` is due, so
//! allocation sites cover most of the growth a `leak` then reports, and that lets it stop
//! again when memory stops rising (the profiler costs throughput while it runs).
//!
//! A detector calls [`EarlyGrowth::point`] on each point, saying whether its window already
//! looks like a leak at a lower bar (for the trend detector: half the growth, or a new high;
//! no warm-up); the signal then holds for [`QUIET_S`] after the latest point that said so.
//! When that latest point is also the newest, it holds until the next point is due as well
//! (twice the spacing of the latest two, at most the window): heap points follow full GCs,
//! which a slowly growing heap has few of, and without this slow growth would switch the
//! profiler off between two of its points. A newer point that does not show early growth ends
//! that extension, so memory that stopped rising is not sampled for minutes.

/// Share of a leak's growth thresholds (`min_growth_bytes`, `min_growth_ratio`) at which a
/// window is early growth.
pub const EARLY_SHARE: f64 = 0.5;

/// Least time the signal holds after the latest point that showed early growth, seconds.
pub const QUIET_S: f64 = 30.0;

/// When early growth was last seen, on the detector's clock.
#[derive(Clone, Debug, Default)]
pub struct EarlyGrowth {
  /// The latest point that showed early growth.
  last_seen: Option<f64>,
  /// The latest point fed, whether it showed early growth, and the spacing between it and
  /// the one before.
  last_point: Option<f64>,
  last_early: bool,
  spacing: f64,
}

impl EarlyGrowth {
  /// A point at `t` was fed; `early`: its window showed early growth.
  pub fn point(&mut self, t: f64, early: bool) {
    if let Some(prev) = self.last_point {
      self.spacing = (t - prev).max(0.0);
    }
    self.last_point = Some(t);
    self.last_early = early;
    if early {
      self.last_seen = Some(t);
    }
  }

  /// Whether the signal holds at `now` (same clock as the points), for a window of
  /// `window_s` seconds.
  pub fn active(&self, now: f64, window_s: f64) -> bool {
    let quiet = self.last_seen.is_some_and(|t| now - t < QUIET_S);
    let next_due = (2.0 * self.spacing).min(window_s);
    let awaiting = self.last_early && self.last_point.is_some_and(|t| now - t < next_due);
    quiet || awaiting
  }

  /// Forgets what was seen (the detector starts over).
  pub fn clear(&mut self) {
    *self = EarlyGrowth::default();
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn holds_for_the_quiet_span_after_the_last_sighting() {
    let mut e = EarlyGrowth::default();
    assert!(!e.active(0.0, 120.0));
    e.point(1.0, true);
    e.point(2.0, false);
    assert!(e.active(2.0, 120.0));
    assert!(e.active(1.0 + QUIET_S - 0.1, 120.0));
    assert!(!e.active(1.0 + QUIET_S, 120.0));
  }

  #[test]
  fn sparse_points_stretch_the_quiet_span_up_to_the_window() {
    let mut e = EarlyGrowth::default();
    e.point(0.0, true);
    e.point(50.0, true);
    // Points 50 s apart: the signal holds for 100 s after the latest one.
    assert!(e.active(149.0, 120.0));
    assert!(!e.active(150.0, 120.0));
    e.point(200.0, true);
    // 150 s apart, but never more than the 120 s window.
    assert!(e.active(319.0, 120.0));
    assert!(!e.active(320.0, 120.0));
  }

  #[test]
  fn a_point_without_early_growth_ends_the_wait_for_the_next_one() {
    let mut e = EarlyGrowth::default();
    e.point(0.0, true);
    e.point(50.0, true);
    e.point(80.0, false);
    // 30 s after the last sighting at 50 s: off, though points are 30 s apart.
    assert!(e.active(79.0, 120.0));
    assert!(!e.active(80.0, 120.0));
  }
}
