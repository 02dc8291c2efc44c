//! Robust statistics for short, noisy series: Theil–Sen slope and the share of increasing
//! pairs (Mann–Kendall's S normalised to [-1, 1]). Both are O(n²) in the number of points;
//! callers keep windows to a few hundred points.

/// One observation: seconds since an arbitrary origin, and a value in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
  /// Seconds.
  pub t: f64,
  /// Bytes.
  pub v: f64,
}

/// Median of pairwise slopes (bytes per second); `None` with fewer than two distinct times.
pub fn theil_sen_slope(points: &[Point]) -> Option<f64> {
  let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
  for (i, a) in points.iter().enumerate() {
    for b in &points[i + 1..] {
      let dt = b.t - a.t;
      if dt > 0.0 {
        slopes.push((b.v - a.v) / dt);
      }
    }
  }
  median(&mut slopes)
}

/// Mann–Kendall trend strength: (increasing pairs − decreasing pairs) / all pairs.
/// 1.0 = every later point is above every earlier one; near 0 = no monotonic trend.
pub fn trend_consistency(points: &[Point]) -> f64 {
  let mut score = 0i64;
  let mut pairs = 0i64;
  for (i, a) in points.iter().enumerate() {
    for b in &points[i + 1..] {
      pairs += 1;
      if b.v > a.v {
        score += 1;
      } else if b.v < a.v {
        score -= 1;
      }
    }
  }
  if pairs == 0 {
    0.0
  } else {
    score as f64 / pairs as f64
  }
}

/// The value the Theil–Sen line takes at time `t` (intercept = median of v − slope·t).
pub fn fitted_at(points: &[Point], slope: f64, t: f64) -> Option<f64> {
  let mut intercepts: Vec<f64> = points.iter().map(|p| p.v - slope * p.t).collect();
  median(&mut intercepts).map(|b| b + slope * t)
}

pub fn median(values: &mut [f64]) -> Option<f64> {
  if values.is_empty() {
    return None;
  }
  values.sort_by(|a, b| a.total_cmp(b));
  let m = values.len() / 2;
  Some(if values.len() % 2 == 1 {
    values[m]
  } else {
    (values[m - 1] + values[m]) / 2.0
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn line(n: usize, slope: f64, start: f64) -> Vec<Point> {
    (0..n)
      .map(|i| Point {
        t: i as f64,
        v: start + slope * i as f64,
      })
      .collect()
  }

  #[test]
  fn exact_line() {
    let pts = line(10, 1000.0, 5e6);
    assert_eq!(theil_sen_slope(&pts), Some(1000.0));
    assert_eq!(trend_consistency(&pts), 1.0);
    assert_eq!(fitted_at(&pts, 1000.0, 20.0), Some(5e6 + 20_000.0));
  }

  #[test]
  fn outliers_do_not_move_the_slope() {
    let mut pts = line(11, 100.0, 0.0);
    pts[3].v += 1e9;
    pts[7].v -= 1e9;
    let slope = theil_sen_slope(&pts).unwrap();
    assert!((slope - 100.0).abs() < 15.0, "slope {slope}");
    assert!(trend_consistency(&pts) > 0.3);
  }

  #[test]
  fn flat_and_degenerate() {
    let flat = line(8, 0.0, 42.0);
    assert_eq!(theil_sen_slope(&flat), Some(0.0));
    assert_eq!(trend_consistency(&flat), 0.0);
    assert_eq!(theil_sen_slope(&[]), None);
    let same_time = [Point { t: 1.0, v: 1.0 }, Point { t: 1.0, v: 2.0 }];
    assert_eq!(theil_sen_slope(&same_time), None);
    assert_eq!(median(&mut [3.0, 1.0, 2.0, 4.0]), Some(2.5));
  }
}
