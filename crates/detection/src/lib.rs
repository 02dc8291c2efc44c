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

/// What bounds a metric's growth: where "time to limit" runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
  /// V8's heap size limit (out-of-memory for the heap).
  HeapLimit,
  /// The operator's `memoryLimitBytes` for the whole process.
  MemoryLimitBytes,
  /// The memory limit of the process's cgroup (a container's limit).
  Cgroup,
  /// The system's available memory.
  System,
}

impl LimitKind {
  /// The name payloads use: "heap-limit", "memoryLimitBytes", "cgroup", "system".
  pub fn name(self) -> &'static str {
    match self {
      LimitKind::HeapLimit => "heap-limit",
      LimitKind::MemoryLimitBytes => "memoryLimitBytes",
      LimitKind::Cgroup => "cgroup",
      LimitKind::System => "system",
    }
  }

  /// How a sentence names it: "the heap limit", "the cgroup memory limit", ….
  pub fn phrase(self) -> &'static str {
    match self {
      LimitKind::HeapLimit => "the heap limit",
      LimitKind::MemoryLimitBytes => "memoryLimitBytes",
      LimitKind::Cgroup => "the cgroup memory limit",
      LimitKind::System => "the system's available memory",
    }
  }
}

/// The limits detection measures time to, as the monitor last read them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
  /// V8's heap size limit, bytes (heap used counts against it).
  pub heap_limit: Option<u64>,
  /// Memory the whole process may still take, bytes, and what bounds it.
  pub memory_room: Option<(u64, LimitKind)>,
}

/// How much a metric may still grow and what bounds it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Room {
  bytes: f64,
  kind: LimitKind,
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
  // Boxed: three per watcher, made once; the trend detector's window is the larger state.
  Trend(Box<TrendDetector>),
  Consecutive(ConsecutiveDetector),
}

impl Detector {
  fn new(mode: &Mode) -> Self {
    match mode {
      Mode::Trend(cfg) => Detector::Trend(Box::new(TrendDetector::new(cfg.clone()))),
      Mode::Consecutive(n) => Detector::Consecutive(ConsecutiveDetector::new(*n)),
    }
  }

  /// Feeds one point; `room` (bytes to the limit) is what the trend detector scales its
  /// evidence by.
  fn push(&mut self, p: Point, room: Option<f64>) -> Verdict {
    match self {
      Detector::Trend(d) => d.push_with_room(p, room),
      Detector::Consecutive(d) => d.push(p),
    }
  }

  fn suspected(&self) -> bool {
    match self {
      Detector::Trend(d) => d.suspected(),
      Detector::Consecutive(_) => false,
    }
  }

  fn early_growth(&self, now: f64) -> bool {
    match self {
      Detector::Trend(d) => d.early_growth(now),
      Detector::Consecutive(d) => d.early_growth(now),
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
  /// Time until the limit at this rate (None: not growing, or no known limit).
  pub time_to_limit: Option<Duration>,
  /// The limit `time_to_limit` refers to, and the level at which it is reached, bytes.
  pub limit: Option<(LimitKind, f64)>,
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
  /// Time until the limit at this rate (None: not growing, or no known limit).
  pub time_to_limit: Option<Duration>,
  /// The limit `time_to_limit` refers to, and the level at which it is reached, bytes.
  pub limit: Option<(LimitKind, f64)>,
  /// One line for people, e.g. "heap grew 48.2 MB in 21 s over 6 full GCs (8.3 GB/h); at this
  /// rate the heap limit is reached in 14 min".
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
  limits: Limits,
  /// Each metric's room at its latest point (for reports and `trend`).
  rooms: [Option<Room>; 3],
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
      limits: Limits::default(),
      rooms: [None; 3],
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

  /// The limits as last read (heap limit from the GC record, memory room from the OS).
  pub fn set_limits(&mut self, limits: Limits) {
    self.limits = limits;
  }

  /// How much `metric` may still grow from `level`: the heap up to the heap limit or the
  /// process's memory room, whichever is nearer; external memory and RSS up to the room.
  fn room(&self, metric: Metric, level: f64) -> Option<Room> {
    let memory = self.limits.memory_room.map(|(bytes, kind)| Room {
      bytes: bytes as f64,
      kind,
    });
    let heap = match metric {
      Metric::Heap => self.limits.heap_limit.filter(|&l| l > 0).map(|l| Room {
        bytes: (l as f64 - level).max(0.0),
        kind: LimitKind::HeapLimit,
      }),
      _ => None,
    };
    match (heap, memory) {
      (Some(h), Some(m)) => Some(if m.bytes < h.bytes { m } else { h }),
      (h, m) => h.or(m),
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

  /// Whether any metric shows early growth at `at`: growth at a lower bar than a leak's, seen
  /// recently (see `detector/early.rs`), or a reported growth still going on. The addon runs
  /// the sampling heap profiler while it holds.
  pub fn early_growth(&self, at: Instant) -> bool {
    let now = self.secs(at);
    self.detectors.iter().flatten().any(|d| d.early_growth(now))
  }

  /// The current trend of a metric; None when it is off, in consecutive mode or warming up.
  pub fn trend(&self, metric: Metric) -> Option<TrendNow> {
    let finding = self.detectors[metric as usize].as_ref()?.latest()?;
    let (time_to_limit, limit) = self.time_to_limit(metric, finding);
    Some(TrendNow {
      bytes_per_second: finding.bytes_per_second,
      baseline: finding.baseline,
      current: finding.current,
      time_to_limit,
      limit,
    })
  }

  /// A finding's time to the limit, and that limit's kind and level.
  fn time_to_limit(
    &self,
    metric: Metric,
    f: &Finding,
  ) -> (Option<Duration>, Option<(LimitKind, f64)>) {
    let Some(room) = self.rooms[metric as usize] else {
      return (None, None);
    };
    let ttl = f
      .time_to_limit_s
      .filter(|s| s.is_finite() && *s < 1e12)
      .map(Duration::from_secs_f64);
    (ttl, Some((room.kind, f.current + room.bytes)))
  }

  fn feed(&mut self, metric: Metric, t: f64, v: f64, out: &mut Vec<LeakReport>) {
    let room = self.room(metric, v);
    self.rooms[metric as usize] = room;
    let Some(detector) = self.detectors[metric as usize].as_mut() else {
      return;
    };
    let (finding, growing) = match detector.push(Point { t, v }, room.map(|r| r.bytes)) {
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
    let (time_to_limit, limit) = self.time_to_limit(metric, f);
    let reason = if growing {
      let mut line = format!(
        "{} grew {} in {} over {} full GC{} ({}/h)",
        metric.name(),
        format_bytes(f.growth),
        format_duration(window),
        gc_count,
        if gc_count == 1 { "" } else { "s" },
        format_bytes(bytes_per_hour),
      );
      if let (Some(ttl), Some((kind, _))) = (time_to_limit, limit) {
        line.push_str(&format!(
          "; at this rate {} is reached in {}",
          kind.phrase(),
          format_duration(ttl)
        ));
      }
      line
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
      time_to_limit,
      limit,
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
  use crate::detector::Urgency;

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
    assert_same_time(d.wall(40.0), d.epoch_wall + Duration::from_secs(60));
  }

  /// Within a millisecond (float seconds round-trip through the detection clock).
  fn assert_same_time(a: SystemTime, b: SystemTime) {
    let off = a
      .duration_since(b)
      .or_else(|_| b.duration_since(a))
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
    assert_same_time(
      d.wall(90_000.0),
      d.epoch_wall + Duration::from_secs(100_000),
    );
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

  /// Full GCs every 2 s for `secs`, heap following `f` (MiB over seconds), with the limits
  /// set; the first `leak` report, if any.
  fn first_leak(
    urgency: Option<Urgency>,
    limits: Limits,
    secs: u64,
    f: impl Fn(f64) -> f64,
  ) -> Option<LeakReport> {
    first_leak_at(urgency, limits, secs, f).map(|(_, r)| r)
  }

  /// [`first_leak`] with the second it came at.
  fn first_leak_at(
    urgency: Option<Urgency>,
    limits: Limits,
    secs: u64,
    f: impl Fn(f64) -> f64,
  ) -> Option<(f64, LeakReport)> {
    let mut d = Detection::new(&DetectionConfig {
      heap: Some(Mode::Trend(TrendConfig {
        urgency,
        ..TrendConfig::default()
      })),
      external: None,
      rss: None,
    });
    d.set_limits(limits);
    let t0 = d.epoch;
    for i in 0..secs / 2 {
      let t = (2 * i) as f64;
      // A little deterministic jitter, as real post-GC baselines have.
      let jitter = if i % 3 == 0 { 0.3 } else { -0.2 };
      let used = ((f(t) + jitter) * MIB as f64) as u64;
      let reports = d.full_gc(t0 + Duration::from_secs(2 * i), used, 0);
      if let Some(r) = reports.into_iter().find(|r| r.growing) {
        return Some((t, r));
      }
    }
    None
  }

  fn window_s(r: &LeakReport) -> f64 {
    r.window.as_secs_f64()
  }

  const GIB: u64 = 1024 * MIB;

  /// Limits with only a heap limit, of `bytes`.
  fn heap_limit(bytes: u64) -> Limits {
    Limits {
      heap_limit: Some(bytes),
      memory_room: None,
    }
  }

  #[test]
  fn urgency_asks_more_evidence_the_further_the_limit() {
    let u = Urgency::default();
    assert_eq!(
      u.required_span_s(Some(60.0)),
      0.0,
      "a minute from the limit"
    );
    assert_eq!(u.required_span_s(Some(600.0)), 0.0);
    assert_eq!(u.required_span_s(Some(3600.0)), 75.0);
    assert_eq!(
      u.required_span_s(None),
      75.0,
      "unknown limit: the full span"
    );
    let mid = u.required_span_s(Some(1800.0));
    assert!(mid > 0.0 && mid < 75.0, "{mid}");
    let later = u.required_span_s(Some(2400.0));
    assert!(later > mid, "monotonic: {mid} then {later}");
  }

  #[test]
  fn a_leak_minutes_from_its_limit_is_reported_as_fast_as_without_urgency() {
    // 4 MiB/s from 200 MiB towards a 1 GiB heap limit: about 3.5 min away.
    let limits = heap_limit(GIB);
    let leak = |t: f64| 200.0 + 4.0 * t;
    let with = first_leak(Some(Urgency::default()), limits, 60, leak).expect("reported");
    let without = first_leak(None, limits, 60, leak).expect("reported");
    assert_eq!(
      window_s(&with),
      window_s(&without),
      "no extra evidence asked"
    );
    assert!(window_s(&with) <= 12.0, "{}", with.reason);
    let ttl = with.time_to_limit.expect("time to limit").as_secs_f64();
    assert!((150.0..260.0).contains(&ttl), "{ttl} s");
    assert_eq!(with.limit.map(|(k, _)| k), Some(LimitKind::HeapLimit));
    assert!(
      with
        .reason
        .contains("; at this rate the heap limit is reached in"),
      "{}",
      with.reason
    );
  }

  #[test]
  fn a_cache_warming_for_30_s_is_not_a_leak_with_urgency() {
    // 2 MiB/s for 30 s, then flat: 4 GiB heap limit, an hour away at that rate.
    let limits = heap_limit(4 * GIB);
    let cache = |t: f64| 100.0 + 2.0 * t.min(30.0);
    assert!(
      first_leak(None, limits, 120, cache).is_some(),
      "without urgency this is the false alarm of every deploy"
    );
    assert_eq!(
      first_leak(Some(Urgency::default()), limits, 120, cache),
      None
    );
  }

  #[test]
  fn a_floor_holds_back_a_warm_up_that_is_urgent_in_its_container() {
    // A service's warm-up: 1.5 MiB/s for 45 s from 60 MiB, then flat, in a 512 MiB heap:
    // about 5 min from the limit while it lasts, so urgent by the default scale.
    let limits = heap_limit(512 * MIB);
    let warm_up = |t: f64| 60.0 + 1.5 * t.min(45.0);
    let (at, r) = first_leak_at(Some(Urgency::default()), limits, 180, warm_up)
      .expect("urgent by the default scale");
    assert!(at <= 14.0, "reported at {at} s: {}", r.reason);
    let floor = Urgency {
      min_span_s: 60.0,
      ..Urgency::default()
    };
    assert_eq!(first_leak(Some(floor), limits, 180, warm_up), None);
    // The same rate as a leak is reported once it has risen for the floor, not later.
    let leak = |t: f64| 60.0 + 1.5 * t;
    let (at, r) = first_leak_at(Some(floor), limits, 180, leak).expect("reported");
    assert!(
      (60.0..=68.0).contains(&at),
      "reported at {at} s: {}",
      r.reason
    );
    assert_eq!(floor.required_span_s(Some(10.0)), 60.0);
    assert_eq!(
      floor.required_span_s(Some(7200.0)),
      75.0,
      "the scale above the floor"
    );
  }

  #[test]
  fn rss_climbing_for_40_s_after_start_is_not_a_leak_with_urgency() {
    let mut d = Detection::new(&DetectionConfig {
      heap: None,
      external: None,
      rss: Some(Mode::Trend(TrendConfig {
        min_growth_bytes: 32.0 * MIB as f64,
        min_growth_ratio: 0.2,
        urgency: Some(Urgency::default()),
        ..TrendConfig::default()
      })),
    });
    // A machine with 16 GiB available: hours away.
    d.set_limits(Limits {
      heap_limit: None,
      memory_room: Some((16 * GIB, LimitKind::System)),
    });
    let t0 = d.epoch;
    let mut reports = Vec::new();
    for i in 0..180u64 {
      // 3 MiB/s for 40 s (JIT, malloc arenas), then flat, sampled every second.
      let mib = 80.0 + 3.0 * (i as f64).min(40.0) + if i % 2 == 0 { 0.5 } else { 0.0 };
      reports.extend(d.rss_sample(t0 + Duration::from_secs(i), (mib * MIB as f64) as u64));
    }
    assert!(reports.iter().all(|r| !r.growing), "{reports:?}");
  }

  #[test]
  fn moderate_growth_waits_for_the_span_then_is_reported() {
    // 1 MiB/s towards a 4 GiB heap limit (over an hour away): reported once it has been seen
    // rising for the full sustain span, not at the 10 s warm-up.
    let limits = heap_limit(4 * GIB);
    let leak = |t: f64| 100.0 + t;
    let without = first_leak(None, limits, 200, leak).expect("reported");
    let with = first_leak(Some(Urgency::default()), limits, 200, leak).expect("reported");
    assert!(window_s(&without) < 30.0, "{}", without.reason);
    assert!((75.0..90.0).contains(&window_s(&with)), "{}", with.reason);
  }

  #[test]
  fn a_leak_that_starts_late_needs_the_same_evidence_as_a_young_one() {
    // Five healthy minutes, then 1 MiB/s towards a 4 GiB heap limit (over an hour away): the
    // window is long by then, but the growth in it is not; it must be seen rising for the
    // sustain span, counted from its start.
    let limits = heap_limit(4 * GIB);
    let late = |t: f64| 100.0 + (t - 300.0).max(0.0);
    let (without, _) = first_leak_at(None, limits, 600, late).expect("reported");
    let (with, _) = first_leak_at(Some(Urgency::default()), limits, 600, late).expect("reported");
    assert!(without - 300.0 < 60.0, "{without}");
    assert!((375.0..400.0).contains(&with), "{with}");
  }

  #[test]
  fn a_late_leak_minutes_from_its_limit_is_not_delayed() {
    // The same late start at 4 MiB/s towards a 1 GiB heap limit: urgent, reported as fast.
    let limits = heap_limit(GIB);
    let late = |t: f64| 200.0 + 4.0 * (t - 300.0).max(0.0);
    let (without, _) = first_leak_at(None, limits, 400, late).expect("reported");
    let (with, _) = first_leak_at(Some(Urgency::default()), limits, 400, late).expect("reported");
    assert_eq!(with, without);
  }

  #[test]
  fn a_cache_that_starts_filling_late_is_not_a_leak_with_urgency() {
    // Five flat minutes, then a cache filling at 2 MiB/s for 30 s, then flat again.
    let limits = heap_limit(4 * GIB);
    let cache = |t: f64| 100.0 + 2.0 * (t - 300.0).clamp(0.0, 30.0);
    assert!(
      first_leak(None, limits, 600, cache).is_some(),
      "without urgency: reported while it fills"
    );
    assert_eq!(
      first_leak(Some(Urgency::default()), limits, 600, cache),
      None
    );
  }

  #[test]
  fn the_nearer_limit_counts_and_the_trend_carries_it() {
    let mut d = Detection::new(&DetectionConfig {
      heap: Some(Mode::Trend(TrendConfig::default())),
      external: None,
      rss: None,
    });
    // A 4 GiB heap limit but only 300 MiB left in the container.
    d.set_limits(Limits {
      heap_limit: Some(4 * GIB),
      memory_room: Some((300 * MIB, LimitKind::Cgroup)),
    });
    let t0 = d.epoch;
    for i in 0..20u64 {
      d.full_gc(t0 + Duration::from_secs(2 * i), 100 * MIB + 2 * MIB * i, 0);
    }
    let trend = d.trend(Metric::Heap).expect("trend");
    let (kind, level) = trend.limit.expect("limit");
    assert_eq!(kind, LimitKind::Cgroup);
    assert!(
      (level - (138.0 + 300.0) * MIB as f64).abs() < MIB as f64,
      "{level}"
    );
    let ttl = trend.time_to_limit.expect("ttl").as_secs_f64();
    assert!((280.0..320.0).contains(&ttl), "300 MiB at 1 MiB/s: {ttl}");
    // Falling: no time to limit.
    for i in 20..140u64 {
      d.full_gc(
        t0 + Duration::from_secs(2 * i),
        200 * MIB - MIB * (i - 20),
        0,
      );
    }
    assert_eq!(d.trend(Metric::Heap).expect("trend").time_to_limit, None);
  }
}
