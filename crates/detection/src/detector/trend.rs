//! The default detector: decides over a sliding time window with a robust slope (Theil–Sen),
//! a monotonic-trend test (Mann–Kendall share), a plateau test on the recent part of the
//! window, a warm-up grace period and minimum absolute and relative growth. After a report it
//! re-arms: it reports again only when the level rose by a further margin, and it says when
//! the growth has stopped.

use std::collections::VecDeque;

use super::early::{EarlyGrowth, EARLY_SHARE};
use super::robust::{fitted_at, median, theil_sen_slope, trend_consistency, Point};
use super::{Finding, Verdict};

/// Most points kept in a window. The statistics are O(n²), so kept points are at least
/// `window / MAX_POINTS` apart; a denser point replaces the newest one without a new verdict.
/// Without the bound an RSS window at a 10 ms sample interval would hold 12 000 points and
/// 72 M pairwise slopes per sample.
pub const MAX_POINTS: usize = 128;

/// The largest `min_points` the window can be relied on to reach: kept points are at least
/// `window / MAX_POINTS` apart, so samples that arrive at most that far apart keep at least
/// half of `MAX_POINTS` in the window (a denser sample replaces the newest point, so admitted
/// points end up between one and two spacings apart).
pub const MAX_MIN_POINTS: usize = MAX_POINTS / 2;

/// Fewest points in the window for early growth (which ignores warm-up and `min_points`):
/// the plateau test needs three.
const EARLY_MIN_POINTS: usize = 3;

/// Settings of the trend detector for one metric. Times in seconds, sizes in bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendConfig {
  /// Length of the sliding window growth is judged over.
  pub window_s: f64,
  /// No verdict before this long after the first point (start-up, caches warming).
  pub warmup_s: f64,
  /// Fewest points in the window for a verdict.
  pub min_points: usize,
  /// Least growth over the window (fitted line), bytes.
  pub min_growth_bytes: f64,
  /// Least growth relative to the fitted level at the window start (0.1 = 10 %).
  pub min_growth_ratio: f64,
  /// Least Mann–Kendall share of increasing pairs (1.0 = strictly increasing).
  pub min_consistency: f64,
  /// The recent third of the window must grow at least this fraction of the window's slope;
  /// below it the growth is decelerating (a cache warming up towards a plateau), not a leak.
  pub plateau_ratio: f64,
  /// After a report, the level must rise by this fraction more before the next report.
  pub rearm_ratio: f64,
  /// Evidence scaled to how soon the growth reaches its limit; None: the rules above alone.
  pub urgency: Option<Urgency>,
}

/// How much sustained growth a first `leak` needs, by time to the limit at the current rate.
///
/// Growth that reaches the limit within `urgent_s` is reported as soon as the other rules
/// allow. Growth that needs `relaxed_s` or more (or whose limit is unknown) must have been
/// seen rising over at least `sustain_s` before it is reported; in between the span needed
/// grows with the logarithm of the time to the limit. The span is that of the growth itself:
/// from the first point whose window showed early growth, in the streak that still holds (see
/// `detector/early.rs`), and never more than the window. This holds back moderate growth long
/// enough for the plateau test to see it level off — a cache filling up, JIT and allocator
/// warm-up early in a process's life, a cache that starts filling later on — while a fast
/// leak is not delayed. `min_span_s` (0 by default) asks every growth, however near its limit,
/// for at least that span: for a service whose own warm-up is urgent growth in its container.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Urgency {
  /// Time to the limit at or under which no extra evidence is asked, seconds.
  pub urgent_s: f64,
  /// Time to the limit at or over which the full `sustain_s` is asked, seconds.
  pub relaxed_s: f64,
  /// The longest span of observed growth a first report can need, seconds.
  pub sustain_s: f64,
  /// The shortest span of observed growth any first report needs, seconds (a floor under the
  /// scale above; above `sustain_s` it is what every growth needs).
  pub min_span_s: f64,
}

impl Default for Urgency {
  fn default() -> Self {
    Urgency {
      urgent_s: 10.0 * 60.0,
      relaxed_s: 60.0 * 60.0,
      sustain_s: 75.0,
      min_span_s: 0.0,
    }
  }
}

impl Urgency {
  /// The span of observed growth needed before a first report, seconds, for a growth that
  /// reaches its limit in `time_to_limit_s` (None: unknown limit).
  pub fn required_span_s(&self, time_to_limit_s: Option<f64>) -> f64 {
    self.scaled_span_s(time_to_limit_s).max(self.min_span_s)
  }

  /// The span by time to the limit alone, before the floor.
  fn scaled_span_s(&self, time_to_limit_s: Option<f64>) -> f64 {
    let Some(ttl) = time_to_limit_s else {
      return self.sustain_s;
    };
    if ttl <= self.urgent_s {
      return 0.0;
    }
    if ttl >= self.relaxed_s || self.relaxed_s <= self.urgent_s {
      return self.sustain_s;
    }
    self.sustain_s * (ttl / self.urgent_s).ln() / (self.relaxed_s / self.urgent_s).ln()
  }
}

impl Default for TrendConfig {
  fn default() -> Self {
    TrendConfig {
      window_s: 120.0,
      warmup_s: 10.0,
      min_points: 5,
      min_growth_bytes: 8.0 * 1024.0 * 1024.0,
      min_growth_ratio: 0.1,
      min_consistency: 0.6,
      plateau_ratio: 0.5,
      rearm_ratio: 0.25,
      urgency: None,
    }
  }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
  Watching,
  /// A leak was reported at this level; waiting for more growth or for it to stop.
  Reported {
    level: f64,
  },
}

/// The trend detector of one metric (see the module notes).
#[derive(Clone, Debug)]
pub struct TrendDetector {
  config: TrendConfig,
  first_t: Option<f64>,
  points: VecDeque<Point>,
  /// When the newest kept point was first admitted (it may since have been replaced).
  newest_since: f64,
  state: State,
  /// The window's latest assessment (None during warm-up or with too few points).
  latest: Option<Finding>,
  /// Growth at a lower bar than a leak's, warm-up or not (see `detector/early.rs`).
  early: EarlyGrowth,
  /// The first point of the current streak of early growth (None: the signal is off).
  rising_since: Option<f64>,
  /// The level of the last report and when growth was said to stop: growth that resumes
  /// within a window of that is the same episode, reported again only past the re-arm margin.
  stopped: Option<(f64, f64)>,
}

/// What the window says right now.
struct Assessment {
  finding: Finding,
  growing: bool,
  plateau: bool,
  /// Growing at [`EARLY_SHARE`] of the growth thresholds, and not levelling off.
  early: bool,
}

impl TrendDetector {
  /// A detector with no points yet.
  pub fn new(config: TrendConfig) -> Self {
    TrendDetector {
      config,
      first_t: None,
      points: VecDeque::new(),
      newest_since: f64::NEG_INFINITY,
      state: State::Watching,
      latest: None,
      early: EarlyGrowth::default(),
      rising_since: None,
      stopped: None,
    }
  }

  /// The least level that makes a new report after a report at `level`.
  fn rearm_level(&self, level: f64) -> f64 {
    level + (level * self.config.rearm_ratio).max(self.config.min_growth_bytes)
  }

  /// True between a report and the verdict that growth stopped.
  pub fn suspected(&self) -> bool {
    matches!(self.state, State::Reported { .. })
  }

  /// True while a reported growth goes on, and from a point whose window shows early growth
  /// until no point has shown it for the quiet span (see `detector/early.rs`). `now`: the
  /// points' clock.
  pub fn early_growth(&self, now: f64) -> bool {
    self.suspected() || self.early.active(now, self.config.window_s)
  }

  /// The window's current fit (growth rate, fitted baseline, latest level) as of the last
  /// point past warm-up, whether or not it makes a leak; None before that.
  pub fn latest(&self) -> Option<&Finding> {
    self.latest.as_ref()
  }

  /// Feeds one point (times must not go backwards); returns a verdict when one is due.
  pub fn push(&mut self, point: Point) -> Verdict {
    self.push_with_room(point, None)
  }

  /// Feeds one point with `room`: how many more bytes the metric may take before its limit
  /// (None: unknown). The finding then carries the time to the limit at the window's rate,
  /// and with [`TrendConfig::urgency`] a first report waits for the evidence it asks.
  pub fn push_with_room(&mut self, point: Point, room: Option<f64>) -> Verdict {
    if !point.t.is_finite() || !point.v.is_finite() {
      return Verdict::None;
    }
    if let Some(last) = self.points.back() {
      if point.t < last.t {
        return Verdict::None;
      }
    }
    let first_t = *self.first_t.get_or_insert(point.t);
    if point.t - self.newest_since < self.config.window_s / MAX_POINTS as f64 {
      if let Some(newest) = self.points.back_mut() {
        *newest = point;
        // The fit waits for the next admitted point; the latest level does not.
        if let Some(latest) = self.latest.as_mut() {
          latest.current = point.v;
        }
        return Verdict::None;
      }
    }
    self.newest_since = point.t;
    self.points.push_back(point);
    while let Some(front) = self.points.front() {
      if point.t - front.t > self.config.window_s {
        self.points.pop_front();
      } else {
        break;
      }
    }
    let judged =
      point.t - first_t >= self.config.warmup_s && self.points.len() >= self.config.min_points;
    // Early growth is looked for from the third point on, warm-up or not: a leak reported at
    // the end of the warm-up then has its allocation sites sampled for most of its window.
    let assessment = if judged || self.points.len() >= EARLY_MIN_POINTS {
      self.assess()
    } else {
      None
    };
    let early = assessment.as_ref().is_some_and(|a| a.early);
    self.early.point(point.t, early);
    if early {
      self.rising_since.get_or_insert(point.t);
    } else if !self.early.active(point.t, self.config.window_s) {
      self.rising_since = None;
    }
    if !judged {
      return Verdict::None;
    }
    let Some(mut a) = assessment else {
      return Verdict::None;
    };
    a.finding.time_to_limit_s = room
      .filter(|r| r.is_finite() && a.finding.bytes_per_second > 0.0)
      .map(|r| r.max(0.0) / a.finding.bytes_per_second);
    self.latest = Some(a.finding.clone());
    let sustained = match &self.config.urgency {
      // Never more than the window can show.
      Some(u) => {
        let needed = u
          .required_span_s(a.finding.time_to_limit_s)
          .min(self.config.window_s * 0.9);
        let from = self
          .rising_since
          .map_or(a.finding.start_t, |t| t.max(a.finding.start_t));
        a.finding.end_t - from >= needed
      }
      None => true,
    };
    if self
      .stopped
      .is_some_and(|(_, at)| point.t - at >= self.config.window_s)
    {
      self.stopped = None;
    }
    let resumed_past = self
      .stopped
      .is_none_or(|(level, _)| a.finding.current >= self.rearm_level(level));
    match self.state {
      State::Watching if a.growing && !a.plateau && sustained && resumed_past => {
        self.stopped = None;
        self.state = State::Reported {
          level: a.finding.current,
        };
        Verdict::Leak(a.finding)
      }
      State::Watching => Verdict::None,
      State::Reported { level } => {
        if a.growing && !a.plateau {
          if a.finding.current >= self.rearm_level(level) {
            self.state = State::Reported {
              level: a.finding.current,
            };
            return Verdict::Leak(a.finding);
          }
          Verdict::None
        } else if a.finding.bytes_per_second <= 0.0 || a.plateau {
          self.state = State::Watching;
          self.stopped = Some((level, point.t));
          Verdict::Stopped(a.finding)
        } else {
          Verdict::None
        }
      }
    }
  }

  fn assess(&self) -> Option<Assessment> {
    let pts: Vec<Point> = self.points.iter().copied().collect();
    let first = pts.first()?;
    let last = pts.last()?;
    let span = last.t - first.t;
    if span <= 0.0 {
      return None;
    }
    let slope = theil_sen_slope(&pts)?;
    let baseline = fitted_at(&pts, slope, first.t)?;
    let growth = slope * span;
    let consistency = trend_consistency(&pts);
    let cfg = &self.config;
    let growing = slope > 0.0
      && growth >= cfg.min_growth_bytes
      && growth >= cfg.min_growth_ratio * baseline.max(1.0)
      && consistency >= cfg.min_consistency;
    // The recent third of the window, and never fewer than 3 points (early verdicts rest on
    // few points; a plateau test on 2 would never fire).
    let recent_from = last.t - span / 3.0;
    let in_third = pts.iter().filter(|p| p.t >= recent_from).count();
    let recent = &pts[pts.len() - in_third.max(3).min(pts.len())..];
    let recent_slope = if recent.len() >= 3 {
      theil_sen_slope(recent)
    } else {
      None
    };
    let plateau = slope > 0.0 && recent_slope.is_some_and(|r| r < cfg.plateau_ratio * slope);
    // Early growth: the window at half the leak's bar, or a new high well above the window's
    // typical level. The second reacts to growth that starts after a flat stretch, which the
    // window's median slope only sees once the rise fills a large part of the window (the
    // same moment the leak is due); a sawtooth makes no new highs, and noise on a level that
    // has stopped rising makes no rising recent third.
    let early_bar = |level: f64| {
      (EARLY_SHARE * cfg.min_growth_bytes).max(EARLY_SHARE * cfg.min_growth_ratio * level.max(1.0))
    };
    let windowed = slope > 0.0
      && growth >= early_bar(baseline)
      && consistency >= cfg.min_consistency
      && !plateau;
    let earlier_high = pts[..pts.len() - 1]
      .iter()
      .map(|p| p.v)
      .fold(f64::NEG_INFINITY, f64::max);
    let typical = median(&mut pts.iter().map(|p| p.v).collect::<Vec<_>>()).unwrap_or(last.v);
    let new_high = last.v > earlier_high
      && last.v - typical >= early_bar(typical)
      && recent_slope.is_some_and(|r| r > 0.0)
      && !plateau;
    let early = windowed || new_high;
    Some(Assessment {
      finding: Finding {
        start_t: first.t,
        end_t: last.t,
        baseline,
        current: last.v,
        growth,
        bytes_per_second: slope,
        points: pts.len(),
        time_to_limit_s: None,
      },
      growing,
      plateau,
      early,
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::detector::testing::{leaks, series};

  const MIB: f64 = 1024.0 * 1024.0;

  fn run(points: &[Point]) -> Vec<Verdict> {
    let mut d = TrendDetector::new(TrendConfig::default());
    points.iter().map(|p| d.push(*p)).collect()
  }

  #[test]
  fn steady_linear_leak_is_found_after_warmup() {
    // 1 MiB/s on a 50 MiB base, a full GC every 3 s.
    let pts = series(0.0, 3.0, 40, |t| 50.0 * MIB + t * MIB, 0.0, 1);
    let found = leaks(&run(&pts));
    assert!(!found.is_empty());
    let first = &found[0];
    assert!(first.end_t <= 30.0, "found at {} s", first.end_t);
    assert!((first.bytes_per_second - MIB).abs() < 0.05 * MIB);
  }

  #[test]
  fn slow_linear_leak_is_found() {
    // 0.5 MiB/s, full GCs every 10 s (a big, calm heap).
    let pts = series(0.0, 10.0, 20, |t| 200.0 * MIB + 0.5 * MIB * t, 0.0, 2);
    let found = leaks(&run(&pts));
    assert!(!found.is_empty());
    assert!(found[0].end_t <= 60.0, "found at {}", found[0].end_t);
  }

  #[test]
  fn noisy_linear_leak_is_found() {
    let pts = series(0.0, 2.0, 60, |t| 80.0 * MIB + 0.6 * MIB * t, 6.0 * MIB, 3);
    assert!(!leaks(&run(&pts)).is_empty());
  }

  #[test]
  fn rare_full_gcs_three_in_twenty_seconds() {
    // Heap-doubling GC schedule: points at 2, 7, 17, 37, 77 s.
    let pts: Vec<Point> = [2.0, 7.0, 17.0, 37.0, 77.0]
      .iter()
      .map(|&t| Point {
        t,
        v: 30.0 * MIB + 2.0 * MIB * t,
      })
      .collect();
    let found = leaks(&run(&pts));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].end_t, 77.0);
  }

  #[test]
  fn warm_up_then_plateau_is_not_a_leak() {
    // A cache filling (time constant 3 s: 96 % full at the end of the warm-up) then holding
    // at 120 MiB.
    let pts = series(
      0.0,
      2.0,
      120,
      |t| 40.0 * MIB + 80.0 * MIB * (1.0 - (-t / 3.0).exp()),
      0.5 * MIB,
      4,
    );
    assert!(leaks(&run(&pts)).is_empty());
  }

  #[test]
  fn cache_warming_past_the_grace_period_is_reported_once_then_stopped() {
    // The documented limit: still filling after the warm-up (time constant 15 s), it looks
    // like a leak until it levels off: a report (a second one if it grows 25 % more), then
    // `Stopped`, never an alarm per GC.
    let pts = series(
      0.0,
      2.0,
      120,
      |t| 40.0 * MIB + 80.0 * MIB * (1.0 - (-t / 15.0).exp()),
      0.2 * MIB,
      4,
    );
    let verdicts = run(&pts);
    assert!((1..=2).contains(&leaks(&verdicts).len()));
    let stopped = verdicts
      .iter()
      .position(|v| matches!(v, Verdict::Stopped(_)))
      .expect("reported as stopped");
    assert!(pts[stopped].t < 90.0, "stopped at {}", pts[stopped].t);
  }

  #[test]
  fn sawtooth_is_not_a_leak() {
    // A session table that fills for 10 s and is flushed, full GCs every 2 s.
    let pts = series(
      0.0,
      2.0,
      150,
      |t| 60.0 * MIB + 20.0 * MIB * ((t % 10.0) / 10.0),
      0.0,
      5,
    );
    assert!(leaks(&run(&pts)).is_empty());
  }

  #[test]
  fn flat_noise_is_not_a_leak() {
    let pts = series(0.0, 1.0, 300, |_| 64.0 * MIB, 4.0 * MIB, 6);
    assert!(leaks(&run(&pts)).is_empty());
  }

  #[test]
  fn step_is_not_a_leak_once_it_levels() {
    // One step of +30 MiB (a batch job loading data) then flat.
    let pts = series(
      0.0,
      2.0,
      150,
      |t| if t < 60.0 { 50.0 * MIB } else { 80.0 * MIB },
      0.2 * MIB,
      7,
    );
    assert!(leaks(&run(&pts)).is_empty());
  }

  #[test]
  fn rearms_then_reports_growth_stopped() {
    // Leak for 120 s at 1 MiB/s, then the growth stops (and memory is released).
    let pts = series(
      0.0,
      2.0,
      150,
      |t| {
        if t < 120.0 {
          40.0 * MIB + MIB * t
        } else {
          60.0 * MIB
        }
      },
      0.0,
      8,
    );
    let verdicts = run(&pts);
    let found = leaks(&verdicts);
    assert!(
      found.len() >= 2,
      "re-reports while growth continues: {}",
      found.len()
    );
    // Each report needs 25 % more than the last: from ~50 MiB at the end of the warm-up to
    // 160 MiB that is at most ln(160/50)/ln(1.25) + 1 = 6 reports, not one per GC.
    assert!(found.len() <= 6, "but not every GC: {}", found.len());
    for pair in found.windows(2) {
      assert!(pair[1].current >= pair[0].current * 1.25);
    }
    let stopped = verdicts
      .iter()
      .position(|v| matches!(v, Verdict::Stopped(_)));
    let stopped_at = pts[stopped.expect("growth stopped")].t;
    assert!(
      stopped_at > 120.0 && stopped_at < 200.0,
      "stopped at {stopped_at}"
    );
  }

  /// The verdicts' kinds and levels in MiB, in order: ('L', level) or ('S', level).
  fn reports(verdicts: &[Verdict]) -> Vec<(char, f64)> {
    verdicts
      .iter()
      .filter_map(|v| match v {
        Verdict::Leak(f) => Some(('L', f.current / MIB)),
        Verdict::Stopped(f) => Some(('S', f.current / MIB)),
        Verdict::None => None,
      })
      .collect()
  }

  #[test]
  fn growth_that_resumes_soon_after_it_stopped_is_the_same_episode() {
    // A slow leak (0.3 MiB/s) under noise of ±4 MiB: the plateau test sees the noise level it
    // off now and then. Each resumption is the same leak, reported again only past the re-arm
    // margin over the last report — not leak, stopped, leak at the same level (without this
    // rule that series made five reports and four stops in two minutes).
    let pts = series(0.0, 2.0, 60, |t| 30.0 * MIB + 0.3 * MIB * t, 4.0 * MIB, 3);
    let seen = reports(&run(&pts));
    assert!(seen.iter().any(|r| r.0 == 'S'), "{seen:?}");
    let mut last: Option<f64> = None;
    for &(kind, level) in &seen {
      if kind == 'L' {
        if let Some(prev) = last {
          assert!(level >= prev + (0.25 * prev).max(8.0), "{seen:?}");
        }
        last = Some(level);
      }
    }
    assert!(seen.iter().filter(|r| r.0 == 'L').count() <= 3, "{seen:?}");
  }

  #[test]
  fn growth_a_window_after_it_stopped_is_a_new_leak() {
    // 1 MiB/s for 40 s, memory released and flat for four minutes, then 1 MiB/s again: a new
    // leak, reported below the first one's re-arm level.
    let pts = series(
      0.0,
      2.0,
      200,
      |t| {
        if t < 40.0 {
          50.0 * MIB + MIB * t
        } else {
          30.0 * MIB + MIB * (t - 300.0).max(0.0)
        }
      },
      0.0,
      4,
    );
    let seen = reports(&run(&pts));
    let stop = seen.iter().position(|r| r.0 == 'S').expect("a stop");
    let before = seen[..stop]
      .iter()
      .rev()
      .find(|r| r.0 == 'L')
      .expect("a leak")
      .1;
    let after = seen[stop..]
      .iter()
      .find(|r| r.0 == 'L')
      .expect("the new leak")
      .1;
    assert!(after < before * 1.25, "{seen:?}");
  }

  #[test]
  fn huge_heaps_do_not_overflow() {
    let pts = series(
      0.0,
      5.0,
      40,
      |t| 48.0 * 1024.0 * MIB + 100.0 * MIB * t,
      0.0,
      9,
    );
    let found = leaks(&run(&pts));
    assert!(!found.is_empty());
    assert!(found[0].baseline > 47.0 * 1024.0 * MIB);
    assert!((found[0].bytes_per_second - 100.0 * MIB).abs() < MIB);
  }

  #[test]
  fn dense_samples_are_bounded_and_still_judged() {
    // 100 samples a second for 150 s: the window stays bounded and the leak is still seen.
    let pts = series(0.0, 0.01, 15_000, |t| 100.0 * MIB + MIB * t, 2.0 * MIB, 10);
    let mut d = TrendDetector::new(TrendConfig::default());
    let mut found = Vec::new();
    for p in &pts {
      if let Verdict::Leak(f) = d.push(*p) {
        found.push(f);
      }
      assert!(d.points.len() <= MAX_POINTS + 1);
    }
    assert!(!found.is_empty());
    assert!(found[0].end_t < 40.0, "found at {}", found[0].end_t);
    assert!((found[0].bytes_per_second - MIB).abs() < 0.1 * MIB);
    let span = d.points.back().unwrap().t - d.points.front().unwrap().t;
    assert!(
      span > 100.0,
      "the bound keeps the window's time coverage: {span} s"
    );
  }

  #[test]
  fn the_largest_accepted_min_points_is_met_by_samples_one_spacing_apart() {
    // Samples just under `window / MAX_POINTS` apart (the worst case for admission: every
    // other one replaces the newest point): MAX_MIN_POINTS is still reached, and a verdict
    // comes. One more point than the window can hold is never reached.
    let step = TrendConfig::default().window_s / MAX_POINTS as f64 * 0.96;
    let pts = series(0.0, step, 2_000, |t| 100.0 * MIB + MIB * t, 0.5 * MIB, 3);
    let mut d = TrendDetector::new(TrendConfig {
      min_points: MAX_MIN_POINTS,
      ..TrendConfig::default()
    });
    let found = leaks(&pts.iter().map(|p| d.push(*p)).collect::<Vec<_>>());
    assert!(
      !found.is_empty(),
      "no verdict with min_points = {MAX_MIN_POINTS}"
    );
    assert!(found[0].points >= MAX_MIN_POINTS);
    let mut beyond = TrendDetector::new(TrendConfig {
      min_points: MAX_POINTS + 2,
      ..TrendConfig::default()
    });
    assert!(leaks(&pts.iter().map(|p| beyond.push(*p)).collect::<Vec<_>>()).is_empty());
  }

  /// The first time each point's detector shows early growth, and the verdicts.
  fn early_run(points: &[Point]) -> (Vec<bool>, Vec<Verdict>) {
    let mut d = TrendDetector::new(TrendConfig::default());
    points
      .iter()
      .map(|p| {
        let v = d.push(*p);
        (d.early_growth(p.t), v)
      })
      .unzip()
  }

  #[test]
  fn early_growth_starts_well_before_the_leak_and_covers_most_of_its_window() {
    // 1 MiB/s on a 50 MiB base, a full GC every 2 s: the leak is due at the end of the
    // warm-up (10 s), early growth (half of 8 MiB) at 4–6 s. A leak reported as soon as it
    // passes the thresholds has its sites sampled over the later half of its window, at best.
    let pts = series(0.0, 2.0, 40, |t| 50.0 * MIB + t * MIB, 0.1 * MIB, 11);
    let (early, verdicts) = early_run(&pts);
    let first_early = early.iter().position(|&e| e).expect("early growth");
    let found = leaks(&verdicts);
    let leak = &found[0];
    let started = pts[first_early].t;
    assert!(
      started < leak.end_t,
      "early at {started} s, leak at {} s",
      leak.end_t
    );
    let covered = (leak.end_t - started) / (leak.end_t - leak.start_t);
    assert!(covered >= 0.35, "sites cover {covered:.2} of the window");
    // From then on it holds while the leak goes on.
    assert!(early[first_early..].iter().all(|&e| e));
  }

  #[test]
  fn a_leak_that_starts_after_a_flat_stretch_is_sampled_for_most_of_its_growth() {
    // Flat for 300 s, then 1 MiB/s. The window's median slope sees the rise only when the
    // leak is due (~38 s in); the new-high rule sees it within a few points.
    let pts = series(
      0.0,
      2.0,
      200,
      |t| 50.0 * MIB + MIB * (t - 300.0).max(0.0),
      0.3 * MIB,
      3,
    );
    let (early, verdicts) = early_run(&pts);
    let first_early = pts[early.iter().position(|&e| e).expect("early growth")].t;
    let leak = leaks(&verdicts)[0].clone();
    assert!(
      first_early > 300.0,
      "no early growth while flat: {first_early} s"
    );
    // Growth in the window happened from 300 s on: the share sampled.
    let covered = (leak.end_t - first_early) / (leak.end_t - 300.0);
    assert!(
      covered >= 0.75,
      "early at {first_early} s, leak at {} s",
      leak.end_t
    );
  }

  #[test]
  fn flat_memory_never_shows_early_growth() {
    let pts = series(0.0, 1.0, 300, |_| 64.0 * MIB, 2.0 * MIB, 6);
    let (early, _) = early_run(&pts);
    assert!(early.iter().all(|&e| !e));
  }

  #[test]
  fn early_growth_lapses_after_growth_stops() {
    // Leak for 60 s at 1 MiB/s, then flat: the leak is reported, then stopped, and early
    // growth ends within the quiet span of the stop.
    let pts = series(
      0.0,
      2.0,
      150,
      |t| 40.0 * MIB + MIB * t.min(60.0),
      0.1 * MIB,
      8,
    );
    let (early, verdicts) = early_run(&pts);
    assert!(!leaks(&verdicts).is_empty());
    let stopped = verdicts
      .iter()
      .position(|v| matches!(v, Verdict::Stopped(_)))
      .expect("growth stopped");
    let off = (stopped..pts.len())
      .find(|&i| !early[i])
      .expect("early growth ends");
    assert!(
      pts[off].t - pts[stopped].t <= super::super::QUIET_S + 2.0,
      "stopped at {} s, early growth ended at {} s",
      pts[stopped].t,
      pts[off].t
    );
    assert!(early[off..].iter().all(|&e| !e), "and stays off");
  }

  #[test]
  fn a_warming_cache_samples_while_it_fills_then_stops() {
    // The warm-up case the urgency rule keeps silent: filling for ~30 s, then flat. Early
    // growth while it fills (the profiler runs), off within a minute of levelling off.
    let pts = series(
      0.0,
      2.0,
      120,
      |t| 40.0 * MIB + 60.0 * MIB * (1.0 - (-t / 10.0).exp()),
      0.2 * MIB,
      4,
    );
    let (early, _) = early_run(&pts);
    assert!(early.iter().any(|&e| e));
    let last_on = early.iter().rposition(|&e| e).unwrap();
    assert!(
      pts[last_on].t < 90.0,
      "still sampling at {} s",
      pts[last_on].t
    );
  }

  #[test]
  fn a_sawtooth_does_not_keep_the_profiler_running() {
    let pts = series(
      0.0,
      2.0,
      150,
      |t| 60.0 * MIB + 20.0 * MIB * ((t % 10.0) / 10.0),
      0.0,
      5,
    );
    let (early, _) = early_run(&pts);
    let on = early.iter().filter(|&&e| e).count();
    assert!(!early[pts.len() - 1]);
    assert!(on * 5 < pts.len(), "on for {on} of {} points", pts.len());
  }

  #[test]
  fn bad_points_are_ignored() {
    let mut d = TrendDetector::new(TrendConfig::default());
    assert_eq!(
      d.push(Point {
        t: f64::NAN,
        v: 1.0
      }),
      Verdict::None
    );
    d.push(Point { t: 10.0, v: 1.0 });
    assert_eq!(d.push(Point { t: 5.0, v: 2.0 }), Verdict::None);
  }
}
