//! Early growth: the signal that starts the sampling heap profiler before a `leak` is due, so
//! allocation sites cover most of the growth a `leak` then reports, and that lets it stop
//! again when memory stops rising (the profiler costs throughput while it runs).
//!
//! A detector calls [`EarlyGrowth::seen`] on each point whose window already looks like a leak
//! at a lower bar (for the trend detector: half the growth, the same consistency, not levelling
//! off, and no warm-up); the signal then holds until no point has said so for a quiet span.
//! The quiet span is [`QUIET_S`], or twice the spacing of the latest points when they come
//! further apart (heap points follow full GCs, which a slowly growing heap has few of: without
//! this, slow growth would switch the profiler off between two of its points), and never more
//! than the window.

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
  /// The latest point fed, and the spacing between it and the one before.
  last_point: Option<f64>,
  spacing: f64,
}

impl EarlyGrowth {
  /// A point at `t` was fed; `early`: its window showed early growth.
  pub fn point(&mut self, t: f64, early: bool) {
    if let Some(prev) = self.last_point {
      self.spacing = (t - prev).max(0.0);
    }
    self.last_point = Some(t);
    if early {
      self.last_seen = Some(t);
    }
  }

  /// Whether the signal holds at `now` (same clock as the points), for a window of
  /// `window_s` seconds.
  pub fn active(&self, now: f64, window_s: f64) -> bool {
    let quiet = QUIET_S.max(2.0 * self.spacing).min(window_s.max(QUIET_S));
    self.last_seen.is_some_and(|t| now - t < quiet)
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
}
