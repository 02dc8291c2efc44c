//! Leak detectors: pure Rust over (seconds, bytes) points, no napi types.

mod consecutive;
mod early;
mod robust;
mod trend;

pub use consecutive::ConsecutiveDetector;
pub use early::{EarlyGrowth, EARLY_SHARE, QUIET_S};
pub use robust::Point;
pub use trend::{TrendConfig, TrendDetector, Urgency, MAX_MIN_POINTS, MAX_POINTS};

/// Growth a detector found over its window.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
  /// Window start and end, seconds (same origin as the points).
  pub start_t: f64,
  /// Window end, seconds.
  pub end_t: f64,
  /// Level at the window start (fitted), bytes.
  pub baseline: f64,
  /// Latest measured level, bytes.
  pub current: f64,
  /// Growth over the window, bytes.
  pub growth: f64,
  /// Growth rate, bytes per second.
  pub bytes_per_second: f64,
  /// Points the verdict rests on.
  pub points: usize,
  /// Seconds until the metric's limit at this rate (None: not growing, or no known limit).
  pub time_to_limit_s: Option<f64>,
}

/// What a detector says after a point.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
  /// Nothing new to report.
  None,
  /// Memory grew: a `leak` event.
  Leak(Finding),
  /// A reported growth has stopped (flat, levelling off or falling).
  Stopped(Finding),
}

#[cfg(test)]
pub(crate) mod testing {
  use super::*;

  /// `n` points every `step` seconds from `t0` following `f`, plus deterministic noise of
  /// amplitude `noise` (a small LCG seeded with `seed`).
  pub fn series(
    t0: f64,
    step: f64,
    n: usize,
    f: impl Fn(f64) -> f64,
    noise: f64,
    seed: u64,
  ) -> Vec<Point> {
    let mut state = seed
      .wrapping_mul(6364136223846793005)
      .wrapping_add(1442695040888963407);
    (0..n)
      .map(|i| {
        state = state
          .wrapping_mul(6364136223846793005)
          .wrapping_add(1442695040888963407);
        let unit = ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
        let t = t0 + step * i as f64;
        Point {
          t,
          v: f(t) + unit * noise,
        }
      })
      .collect()
  }

  pub fn leaks(verdicts: &[Verdict]) -> Vec<Finding> {
    verdicts
      .iter()
      .filter_map(|v| match v {
        Verdict::Leak(f) => Some(f.clone()),
        _ => None,
      })
      .collect()
  }
}
