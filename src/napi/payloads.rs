//! JavaScript shapes of the events and of `stats()`. Field names are the public contract
//! (memwatch's snake_case names are kept where memwatch had them); the JS facade adds
//! `heap.arrayBuffers` and turns `time` into a `Date`.

use napi::bindgen_prelude::{Either3, Null};
use napi_derive::napi;

use crate::monitor::gc_kind::GcKind;
use crate::monitor::stats::KindTotals;
use crate::monitor::{Source, StatsReport};
use leakwatch_detection::{LeakReport, LimitKind, Metric, TrendNow};

const NS_PER_MS: f64 = 1_000_000.0;

/// A GC kind as JavaScript names it (`stats.gcType`, the kind `recordGc` is fed).
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcType {
  #[napi(value = "scavenge")]
  Scavenge,
  #[napi(value = "minorMarkCompact")]
  MinorMarkCompact,
  #[napi(value = "markSweepCompact")]
  MarkSweepCompact,
  #[napi(value = "incrementalMarking")]
  IncrementalMarking,
  #[napi(value = "processWeakCallbacks")]
  ProcessWeakCallbacks,
}

impl From<GcKind> for GcType {
  fn from(kind: GcKind) -> Self {
    match kind {
      GcKind::Scavenge => GcType::Scavenge,
      GcKind::MinorMarkCompact => GcType::MinorMarkCompact,
      GcKind::MarkSweepCompact => GcType::MarkSweepCompact,
      GcKind::IncrementalMarking => GcType::IncrementalMarking,
      GcKind::ProcessWeakCallbacks => GcType::ProcessWeakCallbacks,
    }
  }
}

impl From<GcType> for GcKind {
  fn from(kind: GcType) -> Self {
    match kind {
      GcType::Scavenge => GcKind::Scavenge,
      GcType::MinorMarkCompact => GcKind::MinorMarkCompact,
      GcType::MarkSweepCompact => GcKind::MarkSweepCompact,
      GcType::IncrementalMarking => GcKind::IncrementalMarking,
      GcType::ProcessWeakCallbacks => GcKind::ProcessWeakCallbacks,
    }
  }
}

/// Where GC records come from: V8's GC callbacks, or `perf_hooks` entries (the fallback).
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcSource {
  #[napi(value = "v8")]
  V8,
  #[napi(value = "perf_hooks")]
  PerfHooks,
}

impl From<Source> for GcSource {
  fn from(source: Source) -> Self {
    match source {
      Source::V8Hooks => GcSource::V8,
      Source::PerfHooks => GcSource::PerfHooks,
    }
  }
}

/// The metric a `leak` event is about.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakMetric {
  #[napi(value = "heap")]
  Heap,
  #[napi(value = "external")]
  External,
  #[napi(value = "rss")]
  Rss,
}

impl From<Metric> for LeakMetric {
  fn from(metric: Metric) -> Self {
    match metric {
      Metric::Heap => LeakMetric::Heap,
      Metric::External => LeakMetric::External,
      Metric::Rss => LeakMetric::Rss,
    }
  }
}

/// What bounds a metric's growth (`limit.kind` of `leak` and `stats.trend`).
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrowthLimit {
  /// V8's heap size limit.
  #[napi(value = "heap-limit")]
  HeapLimit,
  /// The operator's `detection.memoryLimitBytes`.
  #[napi(value = "memoryLimitBytes")]
  MemoryLimitBytes,
  /// The cgroup's (container's) memory limit.
  #[napi(value = "cgroup")]
  Cgroup,
  /// The system's available memory.
  #[napi(value = "system")]
  System,
}

impl From<LimitKind> for GrowthLimit {
  fn from(kind: LimitKind) -> Self {
    match kind {
      LimitKind::HeapLimit => GrowthLimit::HeapLimit,
      LimitKind::MemoryLimitBytes => GrowthLimit::MemoryLimitBytes,
      LimitKind::Cgroup => GrowthLimit::Cgroup,
      LimitKind::System => GrowthLimit::System,
    }
  }
}

/// The limit a time-to-limit refers to.
#[napi(object)]
pub struct LimitPayload {
  pub kind: GrowthLimit,
  /// The metric's level at which the limit is reached, bytes (for `rss`: memory outside the
  /// heap plus the room the process has left).
  pub bytes: f64,
}

fn limit(limit: Option<(LimitKind, f64)>) -> Option<LimitPayload> {
  limit.map(|(kind, bytes)| LimitPayload {
    kind: kind.into(),
    bytes,
  })
}

fn millis(d: Option<std::time::Duration>) -> Option<f64> {
  d.map(|d| d.as_secs_f64() * 1000.0)
}

/// Heap figures in bytes, read with `v8::Isolate::GetHeapStatistics` after the GC.
#[napi(object)]
pub struct HeapPayload {
  /// Used heap (live objects and not-yet-swept garbage), bytes.
  pub used: f64,
  /// Heap reserved by V8, bytes.
  pub total: f64,
  /// Heap size limit, bytes.
  pub limit: f64,
  /// Memory held outside the V8 heap by JS objects (Buffers included), bytes.
  pub external: f64,
  /// Memory V8 allocated with malloc, bytes.
  pub malloced_memory: f64,
}

/// Count and total pause of one GC type since `start()`.
#[napi(object)]
pub struct GcTypeTotals {
  pub count: f64,
  /// Sum of pauses, milliseconds.
  pub pause_ms: f64,
}

/// Per GC type totals.
#[napi(object)]
pub struct GcTypeBreakdown {
  pub scavenge: GcTypeTotals,
  pub minor_mark_compact: GcTypeTotals,
  pub mark_sweep_compact: GcTypeTotals,
  pub incremental_marking: GcTypeTotals,
  pub process_weak_callbacks: GcTypeTotals,
}

/// Records and events lost to full queues (never blocks the GC or the thread).
#[napi(object)]
pub struct DroppedCounts {
  pub records: f64,
  pub events: f64,
}

/// Time spent inside leakwatch's GC callbacks, measured in them.
#[napi(object)]
pub struct CallbackCost {
  /// Prologue and epilogue callbacks run.
  pub calls: f64,
  /// Wall time inside them, nanoseconds (includes any preemption of the JS thread).
  pub total_ns: f64,
  /// Median callback, nanoseconds (histogram bucket bound, within 25 %).
  pub p50_ns: f64,
  /// 99th percentile callback, nanoseconds (histogram bucket bound, within 25 %).
  pub p99_ns: f64,
}

/// Per metric: a growth was reported and has not stopped.
#[napi(object)]
pub struct LeakSuspicion {
  pub heap: bool,
  pub external: bool,
  pub rss: bool,
}

/// A metric's current trend in the `stats` payload.
#[napi(object, use_nullable = true)]
pub struct MetricTrend {
  /// Growth rate over the detection window (Theil–Sen slope); negative when falling.
  pub bytes_per_hour: f64,
  /// Fitted level at the window start, bytes.
  pub baseline: f64,
  /// Latest level, bytes.
  pub current: f64,
  /// Milliseconds until `limit` at this rate; null when not growing or no limit is known.
  pub time_to_limit_ms: Option<f64>,
  /// The limit `timeToLimitMs` refers to; null when none is known.
  pub limit: Option<LimitPayload>,
}

/// Per metric: the current trend, null when the metric is off, in consecutive mode or still
/// warming up.
#[napi(object)]
pub struct TrendBreakdown {
  pub heap: Option<MetricTrend>,
  pub external: Option<MetricTrend>,
  pub rss: Option<MetricTrend>,
}

fn trend(t: Option<TrendNow>) -> Option<MetricTrend> {
  t.map(|t| MetricTrend {
    bytes_per_hour: t.bytes_per_second * 3600.0,
    baseline: t.baseline,
    current: t.current,
    time_to_limit_ms: millis(t.time_to_limit),
    limit: limit(t.limit),
  })
}

/// The `leak` and `leak-stopped` payloads. Sizes in bytes.
#[napi(object, use_nullable = true)]
pub struct LeakPayload {
  /// Growth over the window (fitted), bytes.
  pub growth: f64,
  /// A readable sentence, e.g. "heap grew 48.2 MB in 21 s over 6 full GCs (8.3 GB/h)".
  pub reason: String,
  /// Window start and end, ms since the Unix epoch (the facade makes them Dates).
  pub start: f64,
  pub end: f64,
  pub metric: LeakMetric,
  pub bytes_per_hour: f64,
  /// Full GCs in the window.
  pub gc_count: f64,
  pub window_ms: f64,
  /// Level at the window start, bytes.
  pub baseline: f64,
  /// Latest level, bytes.
  pub current: f64,
  /// Milliseconds until `limit` at this rate; null when not growing or no limit is known.
  pub time_to_limit_ms: Option<f64>,
  /// The limit `timeToLimitMs` refers to; null when none is known.
  pub limit: Option<LimitPayload>,
}

fn epoch_ms(t: std::time::SystemTime) -> f64 {
  t.duration_since(std::time::UNIX_EPOCH)
    .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl From<&LeakReport> for LeakPayload {
  fn from(r: &LeakReport) -> Self {
    LeakPayload {
      growth: r.growth,
      reason: r.reason.clone(),
      start: epoch_ms(r.start),
      end: epoch_ms(r.end),
      metric: r.metric.into(),
      bytes_per_hour: r.bytes_per_hour,
      gc_count: r.gc_count as f64,
      window_ms: r.window.as_secs_f64() * 1000.0,
      baseline: r.baseline,
      current: r.current,
      time_to_limit_ms: millis(r.time_to_limit),
      limit: limit(r.limit),
    }
  }
}

/// The `stats` payload (also returned by `watcher.stats()`).
#[napi(object)]
pub struct StatsPayload {
  #[napi(js_name = "num_full_gc")]
  pub num_full_gc: f64,
  #[napi(js_name = "num_inc_gc")]
  pub num_inc_gc: f64,
  #[napi(js_name = "heap_compactions")]
  pub heap_compactions: f64,
  /// Percent; negative when the heap shrinks.
  #[napi(js_name = "usage_trend")]
  pub usage_trend: f64,
  #[napi(js_name = "estimated_base")]
  pub estimated_base: f64,
  #[napi(js_name = "current_base")]
  pub current_base: f64,
  pub min: f64,
  pub max: f64,
  /// Kind of the GC these figures follow; null before the first GC.
  pub gc_type: Option<GcType>,
  pub forced: bool,
  pub pause_ms: f64,
  pub heap: HeapPayload,
  /// Resident set size, bytes; null where not sampled natively.
  pub rss: Option<f64>,
  pub by_type: GcTypeBreakdown,
  pub source: GcSource,
  pub dropped: DroppedCounts,
  pub callback_cost: CallbackCost,
  /// Metrics whose growth was reported as a leak and has not stopped.
  pub leak: LeakSuspicion,
  /// Per metric: growth rate and levels over the detection window.
  pub trend: TrendBreakdown,
  /// Full GCs leakwatch requested to confirm growth seen between V8's own full GCs.
  pub requested_gcs: f64,
  /// Milliseconds since the Unix epoch.
  pub time: f64,
}

fn totals(t: KindTotals) -> GcTypeTotals {
  GcTypeTotals {
    count: t.count as f64,
    pause_ms: t.pause_ns as f64 / NS_PER_MS,
  }
}

impl From<&StatsReport> for StatsPayload {
  fn from(s: &StatsReport) -> Self {
    let by = |k: GcKind| totals(s.by_kind[k.index()]);
    StatsPayload {
      num_full_gc: s.num_full_gc as f64,
      num_inc_gc: s.num_inc_gc as f64,
      heap_compactions: s.heap_compactions as f64,
      usage_trend: s.usage_trend,
      estimated_base: s.estimated_base as f64,
      current_base: s.current_base as f64,
      min: s.min as f64,
      max: s.max as f64,
      gc_type: s.gc_type.map(GcType::from),
      forced: s.forced,
      pause_ms: s.pause_ns as f64 / NS_PER_MS,
      heap: HeapPayload {
        used: s.heap.used as f64,
        total: s.heap.total as f64,
        limit: s.heap.limit as f64,
        external: s.heap.external as f64,
        malloced_memory: s.heap.malloced as f64,
      },
      rss: s.rss.map(|r| r as f64),
      by_type: GcTypeBreakdown {
        scavenge: by(GcKind::Scavenge),
        minor_mark_compact: by(GcKind::MinorMarkCompact),
        mark_sweep_compact: by(GcKind::MarkSweepCompact),
        incremental_marking: by(GcKind::IncrementalMarking),
        process_weak_callbacks: by(GcKind::ProcessWeakCallbacks),
      },
      source: s.source.into(),
      dropped: DroppedCounts {
        records: s.dropped_records as f64,
        events: s.dropped_events as f64,
      },
      callback_cost: CallbackCost {
        calls: s.callback_cost.calls as f64,
        total_ns: s.callback_cost.total_ns as f64,
        p50_ns: s.callback_cost.p50_ns as f64,
        p99_ns: s.callback_cost.p99_ns as f64,
      },
      leak: LeakSuspicion {
        heap: s.suspected[0],
        external: s.suspected[1],
        rss: s.suspected[2],
      },
      trend: TrendBreakdown {
        heap: trend(s.trend[0]),
        external: trend(s.trend[1]),
        rss: trend(s.trend[2]),
      },
      requested_gcs: s.requested_gcs as f64,
      time: epoch_ms(s.time),
    }
  }
}

/// The events the JS dispatcher receives, by name.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherEvent {
  #[napi(value = "stats")]
  Stats,
  /// A metric is growing.
  #[napi(value = "leak")]
  Leak,
  /// A metric reported by `leak` stopped growing.
  #[napi(value = "leak-stopped")]
  LeakStopped,
  /// Early growth started: start the sampling heap profiler (payload null; never emitted).
  #[napi(value = "sampling-start")]
  SamplingStart,
  /// Early growth ended: stop it (payload null; never emitted).
  #[napi(value = "sampling-stop")]
  SamplingStop,
}

/// A monitor event for JavaScript. GC requests are not among them: they run on the JS thread
/// without calling into JavaScript (see `napi/watcher.rs`).
pub enum ForJs {
  Stats(Box<StatsReport>),
  Leak(Box<LeakReport>),
  /// Early growth started (true) or ended.
  Sampling(bool),
}

impl ForJs {
  /// (event name, payload) as the dispatcher receives them.
  /// The payload: napi-rs converts either shape.
  pub fn into_args(self) -> (WatcherEvent, Either3<StatsPayload, LeakPayload, Null>) {
    match self {
      ForJs::Stats(report) => (WatcherEvent::Stats, Either3::A((&*report).into())),
      ForJs::Leak(report) => (
        if report.growing {
          WatcherEvent::Leak
        } else {
          WatcherEvent::LeakStopped
        },
        Either3::B((&*report).into()),
      ),
      ForJs::Sampling(true) => (WatcherEvent::SamplingStart, Either3::C(Null)),
      ForJs::Sampling(false) => (WatcherEvent::SamplingStop, Either3::C(Null)),
    }
  }
}
