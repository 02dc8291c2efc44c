//! Leak detection, pure Rust: the detectors over (seconds, bytes) points (`detector/`), and
//! the per-isolate [`Detection`] that keeps one detector per enabled metric, fed by the
//! addon's background thread (post-full-GC heap and external figures, sampled RSS), and turns
//! their verdicts into leak reports. No napi or V8 types: `cargo test -p leakwatch-detection`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

pub mod detector;

use crate::detector::{ConsecutiveDetector, Finding, Point, TrendConfig, TrendDetector, Verdict};

/// The memory a detector watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
  /// V8 heap used after full GCs.
  Heap,
  /// Memory outside the heap held by JS objects (Buffers, ArrayBuffers), after full GCs.
  External,
  /// Resident set size, sampled every tick.
  Rss,
}

impl Metric {
  /// Every metric, in the order of [`DetectionConfig`]'s fields.
  pub const ALL: [Metric; 3] = [Metric::Heap, Metric::External, Metric::Rss];

  /// The name events and options use: "heap", "external", "rss".
  pub fn name(self) -> &'static str {
    match self {
      Metric::Heap => "heap",
      Metric::External => "external",
      Metric::Rss => "rss",
    }
  }
}

/// How a metric is judged.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
  /// A robust trend over a time window (the default).
  Trend(TrendConfig),
  /// memwatch's rule: this many consecutive growing full-GC baselines.
  Consecutive(u32),
}

/// Detection settings; `None` turns a metric off.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionConfig {
  /// V8 heap used after full GCs.
  pub heap: Option<Mode>,
  /// External memory after full GCs.
  pub external: Option<Mode>,
  /// Sampled resident set size.
  pub rss: Option<Mode>,
}

impl DetectionConfig {
  /// Every metric off.
  pub fn off() -> Self {
    DetectionConfig {
      heap: None,
      external: None,
      rss: None,
    }
  }
}

enum Detector {
  Trend(TrendDetector),
  Consecutive(ConsecutiveDetector),
}

impl Detector {
  fn new(mode: &Mode) -> Self {
    match mode {
      Mode::Trend(cfg) => Detector::Trend(TrendDetector::new(cfg.clone())),
      Mode::Consecutive(n) => Detector::Consecutive(ConsecutiveDetector::new(*n)),
    }
  }

  fn push(&mut self, p: Point) -> Verdict {
    match self {
      Detector::Trend(d) => d.push(p),
      Detector::Consecutive(d) => d.push(p),
    }
  }

  fn suspected(&self) -> bool {
    match self {
      Detector::Trend(d) => d.suspected(),
      Detector::Consecutive(_) => false,
    }
  }

  fn latest(&self) -> Option<&Finding> {
    match self {
      Detector::Trend(d) => d.latest(),
      Detector::Consecutive(_) => None,
    }
  }
}

/// A metric's current trend (trend mode, past warm-up): what dashboards plot between events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendNow {
  /// Growth rate over the window (Theil–Sen slope), bytes per second; negative when falling.
  pub bytes_per_second: f64,
  /// Fitted level at the window start, bytes.
  pub baseline: f64,
  /// Latest level, bytes.
  pub current: f64,
}

/// A `leak` (or `leak-stopped`) event in plain Rust.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakReport {
  /// The memory that grew.
  pub metric: Metric,
  /// False for a `leak-stopped` report.
  pub growing: bool,
  /// Start of the window the verdict rests on (wall clock).
  pub start: SystemTime,
  /// End of that window (wall clock).
  pub end: SystemTime,
  /// Growth over the window, bytes.
  pub growth: f64,
  /// Growth rate, bytes per hour.
  pub bytes_per_hour: f64,
  /// Level at the window start, bytes.
  pub baseline: f64,
  /// Latest level, bytes.
  pub current: f64,
  /// Full GCs between start and end.
  pub gc_count: u64,
  /// Length of the window on the detection clock (leakwatch's own pauses left out).
  pub window: Duration,
  /// One line for people, e.g. "heap grew 12.0 MB in 10.0 min over 40 full GCs (72.0 MB/h)".
  pub reason: String,
}

/// A time the isolate was blocked by leakwatch itself (a heap snapshot).
#[derive(Clone, Copy, Debug)]
struct Pause {
  start: Instant,
  end: Instant,
  /// `start` on the detection clock (seconds, pauses before it excluded).
  clock_start: f64,
}

/// Pauses kept one by one; a record or sample is never older than the 16th latest dump.
const KEPT_PAUSES: usize = 16;

/// Detection runs on a clock that leaves out leakwatch's own pauses: a heap snapshot freezes
/// the application for seconds, and judged on wall time that flat stretch would read as
/// growth levelling off (a false `leak-stopped`) and the dump's memory as RSS growth.
pub struct Detection {
  detectors: [Option<Detector>; 3],
  rss_mode: Option<Mode>,
  epoch: Instant,
  epoch_wall: SystemTime,
  /// The latest pauses, oldest first (at most `KEPT_PAUSES`).
  pauses: VecDeque<Pause>,
  /// Total length of older pauses: detection only sees times after them, for which only their
  /// sum matters, so a long-lived process with a dump every few minutes stays bounded.
  folded: Duration,
  /// The start of a pause still under way.
  open_pause: Option<Instant>,
  full_gcs: VecDeque<f64>,
}

impl Detection {
  /// Detection with `config`'s detectors; its clock starts now.
  pub fn new(config: &DetectionConfig) -> Self {
    Detection {
      detectors: [
        config.heap.as_ref().map(Detector::new),
        config.external.as_ref().map(Detector::new),
        config.rss.as_ref().map(Detector::new),
      ],
      rss_mode: config.rss.clone(),
      epoch: Instant::now(),
      epoch_wall: SystemTime::now(),
      pauses: VecDeque::new(),
      folded: Duration::ZERO,
      open_pause: None,
      full_gcs: VecDeque::new(),
    }
  }

  /// Seconds since the epoch on the detection clock: pauses are left out, and a time inside a
  /// pause counts as its start.
  fn secs(&self, at: Instant) -> f64 {
    let mut at = at;
    if let Some(start) = self.open_pause {
      at = at.min(start);
    }
    let mut excluded = self.folded;
    for p in &self.pauses {
      if at >= p.end {
        excluded += p.end - p.start;
      } else if at > p.start {
        at = p.start;
      }
    }
    at.saturating_duration_since(self.epoch)
      .saturating_sub(excluded)
      .as_secs_f64()
  }

  /// Wall-clock time of a detection-clock time (pauses added back).
  fn wall(&self, t: f64) -> SystemTime {
    let paused: Duration = self.folded
      + self
        .pauses
        .iter()
        .filter(|p| p.clock_start < t)
        .map(|p| p.end - p.start)
        .sum::<Duration>();
    self.epoch_wall + Duration::from_secs_f64(t.max(0.0)) + paused
  }

  /// A pause under way since `start` (None: none). Points until it ends count at `start`.
  pub fn pause_open(&mut self, start: Option<Instant>) {
    self.open_pause = start;
  }

  /// A pause of the isolate by leakwatch itself ended: its duration leaves the clock, and the
  /// RSS detector starts over unless it has a leak reported (the dump's memory, partly kept by
  /// the allocator, makes RSS before and after not comparable).
  pub fn pause(&mut self, start: Instant, end: Instant) {
    if end <= start {
      return;
    }
    self.open_pause = None;
    let clock_start = self.secs(start);
    self.pauses.push_back(Pause {
      start,
      end,
      clock_start,
    });
    while self.pauses.len() > KEPT_PAUSES {
      if let Some(old) = self.pauses.pop_front() {
        self.folded += old.end - old.start;
      }
    }
    if !self.suspected(Metric::Rss) {
      self.detectors[Metric::Rss as usize] = self.rss_mode.as_ref().map(Detector::new);
    }
  }

  /// After a full GC: heap used and external memory.
  pub fn full_gc(&mut self, at: Instant, heap_used: u64, external: u64) -> Vec<LeakReport> {
    let t = self.secs(at);
    self.full_gcs.push_back(t);
    while self.full_gcs.len() > 4096 {
      self.full_gcs.pop_front();
    }
    let mut out = Vec::new();
    self.feed(Metric::Heap, t, heap_used as f64, &mut out);
    self.feed(Metric::External, t, external as f64, &mut out);
    out
  }

  /// After an RSS sample.
  pub fn rss_sample(&mut self, at: Instant, rss: u64) -> Vec<LeakReport> {
    let t = self.secs(at);
    let mut out = Vec::new();
    self.feed(Metric::Rss, t, rss as f64, &mut out);
    out
  }

  /// Metrics whose growth was reported and has not stopped.
  pub fn suspected(&self, metric: Metric) -> bool {
    self.detectors[metric as usize]
      .as_ref()
      .is_some_and(Detector::suspected)
  }

  /// The current trend of a metric; None when it is off, in consecutive mode or warming up.
  pub fn trend(&self, metric: Metric) -> Option<TrendNow> {
    let finding = self.detectors[metric as usize].as_ref()?.latest()?;
    Some(TrendNow {
      bytes_per_second: finding.bytes_per_second,
      baseline: finding.baseline,
      current: finding.current,
    })
  }

  fn feed(&mut self, metric: Metric, t: f64, v: f64, out: &mut Vec<LeakReport>) {
    let Some(detector) = self.detectors[metric as usize].as_mut() else {
      return;
    };
    let (finding, growing) = match detector.push(Point { t, v }) {
      Verdict::None => return,
      Verdict::Leak(f) => (f, true),
      Verdict::Stopped(f) => (f, false),
    };
    out.push(self.report(metric, &finding, growing));
  }

  fn report(&self, metric: Metric, f: &Finding, growing: bool) -> LeakReport {
    let gc_count = self
      .full_gcs
      .iter()
      .filter(|&&t| t >= f.start_t && t <= f.end_t)
      .count() as u64;
    let window = Duration::from_secs_f64((f.end_t - f.start_t).max(0.0));
    let bytes_per_hour = f.bytes_per_second * 3600.0;
    let at = |t: f64| self.wall(t);
    let reason = if growing {
      format!(
        "{} grew {} in {} over {} full GC{} ({}/h)",
        metric.name(),
        format_bytes(f.growth),
        format_duration(window),
        gc_count,
        if gc_count == 1 { "" } else { "s" },
        format_bytes(bytes_per_hour),
      )
    } else {
      format!(
        "{} stopped growing: {} now, {}/h over the last {}",
        metric.name(),
        format_bytes(f.current),
        format_bytes(bytes_per_hour),
        format_duration(window),
      )
    };
    LeakReport {
      metric,
      growing,
      start: at(f.start_t),
      end: at(f.end_t),
      growth: f.growth,
      bytes_per_hour,
      baseline: f.baseline,
      current: f.current,
      gc_count,
      window,
      reason,
    }
  }
}

/// "48.2 MB", "1.3 GB", "512 B" (decimal units, as people read them in a sentence).
pub fn format_bytes(bytes: f64) -> String {
  let sign = if bytes < 0.0 { "-" } else { "" };
  let b = bytes.abs();
  let (value, unit) = if b >= 1e12 {
    (b / 1e12, "TB")
  } else if b >= 1e9 {
    (b / 1e9, "GB")
  } else if b >= 1e6 {
    (b / 1e6, "MB")
  } else if b >= 1e3 {
    (b / 1e3, "kB")
  } else {
    return format!("{sign}{b:.0} B");
  };
  format!("{sign}{value:.1} {unit}")
}

/// "0.4 s", "21 s", "3.5 min", "2.0 h".
pub fn format_duration(d: Duration) -> String {
  let s = d.as_secs_f64();
  if s < 10.0 {
    format!("{s:.1} s")
  } else if s < 120.0 {
    format!("{s:.0} s")
  } else if s < 7200.0 {
    format!("{:.1} min", s / 60.0)
  } else {
    format!("{:.1} h", s / 3600.0)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const MIB: u64 = 1024 * 1024;

  #[test]
  fn formats_like_the_contract_example() {
    assert_eq!(format_bytes(48.2e6), "48.2 MB");
    assert_eq!(format_bytes(8.3e9), "8.3 GB");
    assert_eq!(format_bytes(512.0), "512 B");
    assert_eq!(format_bytes(-2.5e6), "-2.5 MB");
    assert_eq!(format_duration(Duration::from_secs(21)), "21 s");
    assert_eq!(format_duration(Duration::from_millis(150)), "0.1 s");
    assert_eq!(format_duration(Duration::from_secs(300)), "5.0 min");
    assert_eq!(format_duration(Duration::from_secs(4 * 3600)), "4.0 h");
  }

  #[test]
  fn heap_leak_report_has_a_correct_rate_and_reason() {
    let mut d = Detection::new(&DetectionConfig {
      heap: Some(Mode::Trend(TrendConfig::default())),
      external: None,
      rss: None,
    });
    let t0 = d.epoch;
    let mut reports = Vec::new();
    for i in 0..30u64 {
      // 2 MiB per full GC, one full GC every 2 s: 1 MiB/s = 3.77 GB/h.
      let at = t0 + Duration::from_secs(2 * i);
      reports.extend(d.full_gc(at, 50 * MIB + 2 * MIB * i, 1000));
    }
    let first = reports.first().expect("a leak report");
    assert_eq!(first.metric, Metric::Heap);
    assert!(first.growing);
    assert!((first.bytes_per_hour - 3600.0 * MIB as f64).abs() < 1e3);
    assert!(first.gc_count >= 5);
    assert!(first.reason.starts_with("heap grew "), "{}", first.reason);
    assert!(first.reason.contains("(3.8 GB/h)"), "{}", first.reason);
    assert!(first.end > first.start);
    assert!(d.suspected(Metric::Heap));
    assert!(!d.suspected(Metric::External));
    let trend = d.trend(Metric::Heap).expect("a trend past warm-up");
    assert!((trend.bytes_per_second - MIB as f64).abs() < 1.0);
    assert_eq!(trend.current, (50 * MIB + 58 * MIB) as f64);
    assert!(d.trend(Metric::External).is_none(), "external is off");
  }

  #[test]
  fn trend_is_reported_for_flat_memory_and_absent_during_warmup() {
    let mut d = Detection::new(&DetectionConfig {
      heap: Some(Mode::Trend(TrendConfig::default())),
      external: Some(Mode::Consecutive(5)),
      rss: None,
    });
    let t0 = d.epoch;
    d.full_gc(t0, 50 * MIB, MIB);
    assert!(d.trend(Metric::Heap).is_none(), "warming up");
    for i in 1..30u64 {
      d.full_gc(t0 + Duration::from_secs(2 * i), 50 * MIB, MIB);
    }
    let trend = d.trend(Metric::Heap).expect("a trend");
    assert_eq!(trend.bytes_per_second, 0.0);
    assert_eq!(trend.baseline, (50 * MIB) as f64);
    assert!(
      d.trend(Metric::External).is_none(),
      "consecutive mode has no trend"
    );
  }

  #[test]
  fn a_snapshot_pause_is_left_out_of_the_clock() {
    let mut d = Detection::new(&DetectionConfig {
      heap: Some(Mode::Trend(TrendConfig::default())),
      external: None,
      rss: Some(Mode::Trend(TrendConfig::default())),
    });
    let t0 = d.epoch;
    let mut reports = Vec::new();
    // 1 MiB/s for 30 s, a 20 s freeze (no growth: the app is blocked), 1 MiB/s again.
    for i in 0..15u64 {
      reports.extend(d.full_gc(t0 + Duration::from_secs(2 * i), 50 * MIB + 2 * MIB * i, 0));
    }
    assert!(d.suspected(Metric::Heap), "{reports:?}");
    let (start, end) = (t0 + Duration::from_secs(29), t0 + Duration::from_secs(49));
    d.pause_open(Some(start));
    assert_eq!(
      d.secs(start + Duration::from_secs(5)),
      29.0,
      "inside the pause: its start"
    );
    // The dump's own full GC and its RSS spike.
    reports.extend(d.full_gc(start + Duration::from_secs(1), 50 * MIB + 29 * MIB, 0));
    d.pause(start, end);
    assert_eq!(d.secs(end + Duration::from_secs(1)), 30.0);
    for i in 0..10u64 {
      let at = end + Duration::from_secs(1 + 2 * i);
      reports.extend(d.full_gc(at, 50 * MIB + 30 * MIB + 2 * MIB * i, 0));
    }
    assert!(
      reports.iter().all(|r| r.growing),
      "no leak-stopped from the freeze: {reports:?}"
    );
    assert!(d.suspected(Metric::Heap));
    let trend = d.trend(Metric::Heap).expect("trend");
    assert!(
      (trend.bytes_per_second - MIB as f64).abs() < 0.05 * MIB as f64,
      "{trend:?}"
    );
    // Reports give wall-clock times: the pause is added back.
    let wall = d.wall(40.0);
    let expected = d.epoch_wall + Duration::from_secs(60);
    let off = wall
      .duration_since(expected)
      .or_else(|_| expected.duration_since(wall))
      .unwrap();
    assert!(off < Duration::from_millis(1), "{off:?}");
  }

  #[test]
  fn thousands_of_pauses_keep_the_state_bounded_and_the_clock_right() {
    let mut d = Detection::new(&DetectionConfig::off());
    let t0 = d.epoch;
    // A 1 s dump every 10 s, for 10 000 dumps.
    for i in 0..10_000u64 {
      let start = t0 + Duration::from_secs(10 * i + 5);
      d.pause(start, start + Duration::from_secs(1));
    }
    assert!(d.pauses.len() <= KEPT_PAUSES);
    let now = t0 + Duration::from_secs(100_000);
    assert_eq!(d.secs(now), 90_000.0, "every pause left out, folded or not");
    // Inside one of the kept pauses: its start on the detection clock.
    let last = t0 + Duration::from_secs(10 * 9_999 + 5);
    assert_eq!(d.secs(last + Duration::from_millis(500)), d.secs(last));
    // And back to wall time with every pause added.
    let wall = d.wall(90_000.0);
    let expected = d.epoch_wall + Duration::from_secs(100_000);
    let off = wall
      .duration_since(expected)
      .or_else(|_| expected.duration_since(wall))
      .unwrap();
    assert!(off < Duration::from_millis(1), "{off:?}");
  }

  #[test]
  fn a_snapshot_pause_restarts_the_rss_detector() {
    let mut d = Detection::new(&DetectionConfig {
      heap: None,
      external: None,
      rss: Some(Mode::Trend(TrendConfig::default())),
    });
    let t0 = d.epoch;
    for i in 0..20u64 {
      d.rss_sample(t0 + Duration::from_secs(i), 100 * MIB);
    }
    assert!(d.trend(Metric::Rss).is_some());
    d.pause(t0 + Duration::from_secs(20), t0 + Duration::from_secs(25));
    assert!(
      d.trend(Metric::Rss).is_none(),
      "a fresh window after the dump"
    );
    // The allocator keeps part of the dump's memory: a step, not a leak.
    let mut reports = Vec::new();
    for i in 0..60u64 {
      reports.extend(d.rss_sample(t0 + Duration::from_secs(26 + i), 400 * MIB));
    }
    assert!(reports.is_empty(), "{reports:?}");
  }

  #[test]
  fn disabled_metrics_never_report() {
    let mut d = Detection::new(&DetectionConfig::off());
    let t0 = d.epoch;
    for i in 0..50u64 {
      let at = t0 + Duration::from_secs(i);
      assert!(d.full_gc(at, MIB * i * 10, MIB * i * 10).is_empty());
      assert!(d.rss_sample(at, MIB * i * 10).is_empty());
    }
  }

  #[test]
  fn consecutive_mode_reports_external_growth() {
    let mut d = Detection::new(&DetectionConfig {
      heap: None,
      external: Some(Mode::Consecutive(5)),
      rss: None,
    });
    let t0 = d.epoch;
    let mut reports = Vec::new();
    for i in 0..6u64 {
      reports.extend(d.full_gc(t0 + Duration::from_secs(i), 1, 10 * MIB * (i + 1)));
    }
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].metric, Metric::External);
    assert_eq!(reports[0].growth, 50.0 * MIB as f64);
  }
}
