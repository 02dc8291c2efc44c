//! memwatch's rule, for users who migrate: N consecutive full-GC baselines that each grew.
//! Without memwatch's bugs: 64-bit/float sizes, the growth measured from the baseline before
//! the first increase, and a correct rate.

use super::early::EarlyGrowth;
use super::robust::Point;
use super::{Finding, Verdict};

/// memwatch's rule over full-GC baselines.
#[derive(Clone, Debug)]
pub struct ConsecutiveDetector {
  needed: u32,
  previous: Option<Point>,
  run_start: Option<Point>,
  run: u32,
  early: EarlyGrowth,
}

impl ConsecutiveDetector {
  /// `needed`: consecutive growing baselines that make a leak (memwatch: 5).
  pub fn new(needed: u32) -> Self {
    ConsecutiveDetector {
      needed: needed.max(1),
      previous: None,
      run_start: None,
      run: 0,
      early: EarlyGrowth::default(),
    }
  }

  /// From a point that makes half the growing run a leak needs (or a leak) until no point has
  /// for the quiet span (see `detector/early.rs`). `now`: the points' clock.
  pub fn early_growth(&self, now: f64) -> bool {
    // Full GCs only, no window: waiting for the next of them is capped at 2 min.
    self.early.active(now, 120.0)
  }

  /// Feeds one full-GC baseline; a leak when it completes a run of growing ones.
  pub fn push(&mut self, point: Point) -> Verdict {
    let verdict = match self.previous {
      Some(prev) if point.v > prev.v => {
        if self.run == 0 {
          self.run_start = Some(prev);
        }
        self.run += 1;
        if self.run >= self.needed {
          let start = self.run_start.unwrap_or(prev);
          self.run = 0;
          let span = point.t - start.t;
          Verdict::Leak(Finding {
            start_t: start.t,
            end_t: point.t,
            baseline: start.v,
            current: point.v,
            growth: point.v - start.v,
            bytes_per_second: if span > 0.0 {
              (point.v - start.v) / span
            } else {
              0.0
            },
            points: self.needed as usize + 1,
            time_to_limit_s: None,
          })
        } else {
          Verdict::None
        }
      }
      _ => {
        self.run = 0;
        Verdict::None
      }
    };
    self.previous = Some(point);
    let early = matches!(verdict, Verdict::Leak(_)) || self.run >= (self.needed / 2).max(1);
    self.early.point(point.t, early);
    verdict
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::detector::testing::leaks;

  const MIB: f64 = 1024.0 * 1024.0;

  fn feed(d: &mut ConsecutiveDetector, values: &[f64]) -> Vec<Verdict> {
    values
      .iter()
      .enumerate()
      .map(|(i, v)| {
        d.push(Point {
          t: i as f64 * 10.0,
          v: *v * MIB,
        })
      })
      .collect()
  }

  #[test]
  fn five_growing_baselines_make_a_leak_with_a_correct_rate() {
    let mut d = ConsecutiveDetector::new(5);
    let v = feed(&mut d, &[10.0, 11.0, 12.0, 13.0, 14.0, 15.0]);
    let found = leaks(&v);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].growth, 5.0 * MIB);
    assert_eq!(found[0].baseline, 10.0 * MIB);
    assert_eq!(found[0].bytes_per_second, 5.0 * MIB / 50.0);
  }

  #[test]
  fn a_drop_resets_the_run() {
    let mut d = ConsecutiveDetector::new(5);
    let v = feed(
      &mut d,
      &[10.0, 11.0, 12.0, 13.0, 12.5, 13.0, 14.0, 15.0, 16.0],
    );
    assert!(leaks(&v).is_empty());
  }

  #[test]
  fn huge_values_do_not_wrap() {
    let mut d = ConsecutiveDetector::new(3);
    let v = feed(&mut d, &[700.0, 900.0, 1100.0, 60_000.0]);
    let found = leaks(&v);
    assert_eq!(found.len(), 1);
    assert!(found[0].growth > 0.0);
    assert_eq!(found[0].current, 60_000.0 * MIB);
  }
}
