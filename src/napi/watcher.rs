//! The napi surface: one `NativeWatcher` per isolate (the native half of lib/watcher.js's
//! `Watcher`; the JS facade keeps it unique), plus `fullGc()`.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Either3, Function, Null};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;

use crate::error::{ErrorCode, LeakwatchError};
use crate::monitor::channel::RecordChannel;
use crate::monitor::confirm::{ConfirmConfig, Trigger};
use crate::monitor::cost::HookCost;
use crate::monitor::record::{GcRecord, HeapFigures};
use crate::monitor::sampler;
use crate::monitor::{self, Delivery, Event, EventSink, Monitor, MonitorConfig, Source};
use crate::napi::env_cleanup::{EnvCleanup, Shutdown};
use crate::napi::error::{self, napi_failure};
use crate::napi::payloads::{ForJs, GcSource, GcType, LeakPayload, StatsPayload, WatcherEvent};
use crate::v8::gc_hooks::{as_requested_gc, GcHooks};
use crate::v8::V8Api;
use leakwatch_detection::detector::{TrendConfig, Urgency};
use leakwatch_detection::{DetectionConfig, Mode};

/// Events waiting for the JS thread; beyond this they are dropped and counted.
const EVENT_QUEUE: usize = 256;

/// The JS dispatcher `([event, payload]) => void`, called from the background thread.
/// Generic parameters: the Rust event sent; the JS return value (ignored); the JS arguments
/// built from it (one array); the error status type; `CalleeHandled = false` (no error-first
/// argument); `Weak = true` (never keeps the event loop alive); the queue bound.
pub type Dispatcher = ThreadsafeFunction<
  ForJs,
  (),
  (WatcherEvent, Either3<StatsPayload, LeakPayload, Null>),
  Status,
  false,
  true,
  EVENT_QUEUE,
>;

/// Confirmation GCs must be requested on the isolate's thread; a threadsafe function is the
/// way onto it. Its callback makes the request; the JS function it then calls is a no-op made
/// here, so no request ever reaches JavaScript. Generic parameters: nothing sent; the JS
/// return value (ignored); no JS arguments; the error status type; no error-first argument;
/// weak; the queue bound (as the events', so a request is dropped and counted as often).
pub type GcRequester = ThreadsafeFunction<(), (), (), Status, false, true, EVENT_QUEUE>;

/// Heap figures in bytes as `v8.getHeapStatistics()` reports them.
#[napi(object)]
pub struct HeapFiguresInput {
  #[napi(js_name = "used_heap_size")]
  pub used_heap_size: f64,
  #[napi(js_name = "total_heap_size")]
  pub total_heap_size: f64,
  #[napi(js_name = "total_physical_size")]
  pub total_physical_size: f64,
  #[napi(js_name = "heap_size_limit")]
  pub heap_size_limit: f64,
  #[napi(js_name = "external_memory")]
  pub external_memory: f64,
  #[napi(js_name = "malloced_memory")]
  pub malloced_memory: f64,
}

impl From<&HeapFiguresInput> for HeapFigures {
  fn from(h: &HeapFiguresInput) -> Self {
    let b = |v: f64| {
      if v.is_finite() && v > 0.0 {
        v as u64
      } else {
        0
      }
    };
    HeapFigures {
      used: b(h.used_heap_size),
      total: b(h.total_heap_size),
      physical: b(h.total_physical_size),
      limit: b(h.heap_size_limit),
      external: b(h.external_memory),
      malloced: b(h.malloced_memory),
    }
  }
}

/// Thresholds of one metric's trend detector.
#[napi(object)]
pub struct MetricThresholds {
  /// Least growth over the window, bytes.
  pub min_growth_bytes: f64,
  /// Least growth relative to the level at the window start.
  pub min_growth_ratio: f64,
}

/// How growth is judged. Any other string is refused when the options are converted.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectionMode {
  /// Theil–Sen slope over a window.
  #[napi(value = "trend")]
  Trend,
  /// memwatch's rule: consecutive growing full-GC baselines.
  #[napi(value = "consecutive")]
  Consecutive,
  #[napi(value = "off")]
  Off,
}

/// Detection settings (validated and defaulted by the facade).
#[napi(object)]
pub struct NativeDetection {
  pub mode: DetectionMode,
  pub consecutive_gcs: u32,
  pub window_ms: f64,
  pub warmup_ms: f64,
  pub min_points: u32,
  pub min_consistency: f64,
  pub plateau_ratio: f64,
  pub rearm_ratio: f64,
  /// Confirmation GCs: largest share of wall time in requested full GCs; null = off.
  pub confirm_max_pause_ratio: Option<f64>,
  /// Confirmation GCs: least ms between a full GC and a request.
  pub confirm_min_interval_ms: f64,
  /// null = metric off.
  pub heap: Option<MetricThresholds>,
  pub external: Option<MetricThresholds>,
  pub rss: Option<MetricThresholds>,
  /// Evidence scaled to the time to the limit; null = off (the other rules alone).
  pub urgency: Option<UrgencyOptions>,
  /// The process's memory budget for time-to-limit, bytes; null = cgroup and system only.
  pub memory_limit_bytes: Option<f64>,
}

/// `detection.urgency`: how much sustained growth a first `leak` needs, by time to the limit.
#[napi(object)]
pub struct UrgencyOptions {
  /// Growth reaching its limit within this many ms is reported without extra evidence.
  pub urgent_ms: f64,
  /// Growth needing this many ms or more to reach its limit must rise for `sustainMs`.
  pub relaxed_ms: f64,
  /// The longest span of observed growth a first report can need, ms.
  pub sustain_ms: f64,
  /// The shortest span of observed growth any first report needs, however near the limit, ms.
  pub min_span_ms: f64,
}

impl NativeDetection {
  /// Confirmation GCs serve the trend detectors of heap and external memory.
  fn confirm(&self) -> Option<ConfirmConfig> {
    let ratio = self.confirm_max_pause_ratio?;
    if self.mode != DetectionMode::Trend || (self.heap.is_none() && self.external.is_none()) {
      return None;
    }
    let trigger = |m: &MetricThresholds| {
      Trigger::for_thresholds(
        m.min_growth_bytes,
        m.min_growth_ratio,
        self.min_points as usize,
      )
    };
    Some(ConfirmConfig {
      max_pause_ratio: ratio,
      min_interval: Duration::from_secs_f64(self.confirm_min_interval_ms.max(0.0) / 1000.0),
      heap: self.heap.as_ref().map(trigger),
      external: self.external.as_ref().map(trigger),
      recheck: Duration::from_secs_f64(
        self.window_ms.max(0.0) / 1000.0 / f64::from(self.min_points.max(1)),
      ),
    })
  }

  fn config(&self) -> DetectionConfig {
    let trend = |m: &MetricThresholds| {
      Mode::Trend(TrendConfig {
        window_s: self.window_ms / 1000.0,
        warmup_s: self.warmup_ms / 1000.0,
        min_points: self.min_points as usize,
        min_growth_bytes: m.min_growth_bytes,
        min_growth_ratio: m.min_growth_ratio,
        min_consistency: self.min_consistency,
        plateau_ratio: self.plateau_ratio,
        rearm_ratio: self.rearm_ratio,
        urgency: self.urgency.as_ref().map(|u| Urgency {
          urgent_s: u.urgent_ms / 1000.0,
          relaxed_s: u.relaxed_ms / 1000.0,
          sustain_s: u.sustain_ms / 1000.0,
          min_span_s: u.min_span_ms / 1000.0,
        }),
      })
    };
    match self.mode {
      DetectionMode::Trend => DetectionConfig {
        heap: self.heap.as_ref().map(trend),
        external: self.external.as_ref().map(trend),
        rss: self.rss.as_ref().map(trend),
      },
      // memwatch's rule judges full-GC baselines; RSS samples have none.
      DetectionMode::Consecutive => DetectionConfig {
        heap: self
          .heap
          .as_ref()
          .map(|_| Mode::Consecutive(self.consecutive_gcs)),
        external: self
          .external
          .as_ref()
          .map(|_| Mode::Consecutive(self.consecutive_gcs)),
        rss: None,
      },
      DetectionMode::Off => DetectionConfig::off(),
    }
  }
}

/// Settings for the native monitor. The JS facade validates the public options and fills
/// these in; they are not part of the public API.
#[napi(object)]
pub struct NativeOptions {
  /// RSS sampling period in ms.
  pub sample_interval_ms: u32,
  /// Minimum ms between two `stats` events; 0 = after every full GC.
  pub stats_interval_ms: u32,
  /// Install V8 GC callbacks (false: GC records come from `recordGc`, fed by perf_hooks).
  pub use_v8_hooks: bool,
  /// `v8.getHeapStatistics()` at start: seeds `stats()` and checks the struct layout.
  pub reference_heap: HeapFiguresInput,
  pub detection: NativeDetection,
  /// Send `sampling-start` / `sampling-stop` when early growth starts and ends.
  pub sampling_on_growth: bool,
}

/// Why V8 hooks are not in use.
#[napi(object)]
pub struct HookFailure {
  pub code: String,
  pub message: String,
}

struct TsfnSink {
  dispatcher: Dispatcher,
  /// None without V8's API (perf_hooks): the monitor then asks for no GCs.
  gc: Option<GcRequester>,
}

fn delivery(status: Status) -> Delivery {
  match status {
    Status::Ok => Delivery::Queued,
    Status::QueueFull => Delivery::Dropped,
    _ => Delivery::Closed,
  }
}

impl EventSink for TsfnSink {
  fn deliver(&mut self, event: Event) -> Delivery {
    let mode = ThreadsafeFunctionCallMode::NonBlocking;
    match event {
      Event::Stats(report) => delivery(self.dispatcher.call(ForJs::Stats(report), mode)),
      Event::Leak(report) => delivery(self.dispatcher.call(ForJs::Leak(report), mode)),
      Event::Sampling(on) => delivery(self.dispatcher.call(ForJs::Sampling(on), mode)),
      Event::RequestFullGc => match &self.gc {
        Some(gc) => delivery(gc.call((), mode)),
        None => Delivery::Queued,
      },
    }
  }
}

/// The threadsafe function that runs confirmation GCs on this isolate's thread.
fn gc_requester(env: &Env, api: &'static V8Api) -> error::Result<GcRequester> {
  env
    .create_function_from_closure::<(), (), _>("leakwatchConfirmationGc", |_| Ok(()))
    .and_then(|noop| {
      noop
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .weak::<true>()
        .max_queue_size::<EVENT_QUEUE>()
        .build_callback(move |_| {
          let isolate = api.current_isolate();
          if !isolate.is_null() {
            // SAFETY: threadsafe-function callbacks run on the isolate's JS thread, outside
            // any GC.
            unsafe { api.request_incremental_full_gc(isolate) };
          }
          Ok(())
        })
    })
    .map_err(napi_failure(ErrorCode::Native))
}

struct Running {
  /// Removed before the monitor stops, so no record is pushed to a stopped thread.
  hooks: Option<GcHooks>,
  monitor: Monitor,
}

struct Inner {
  channel: Arc<RecordChannel>,
  running: RefCell<Option<Running>>,
  /// The final report after `stop()`.
  last: RefCell<Option<crate::monitor::StatsReport>>,
}

impl Shutdown for Inner {
  fn shutdown(&self) {
    if let Some(mut running) = self.running.borrow_mut().take() {
      drop(running.hooks.take());
      monitor::pause::set_active(None);
      running.monitor.stop();
      *self.last.borrow_mut() = Some(running.monitor.shared().latest());
    }
  }
}

/// One isolate's monitor: GC hooks, background thread and event dispatcher.
#[napi]
pub struct NativeWatcher {
  /// Stopped by `stop()` or when the environment is torn down.
  inner: EnvCleanup<Inner>,
  source: Source,
  hook_failure: Option<LeakwatchError>,
}

#[napi]
impl NativeWatcher {
  #[napi(constructor)]
  pub fn new(
    env: Env,
    options: NativeOptions,
    dispatch: Function<(WatcherEvent, Either3<StatsPayload, LeakPayload, Null>), ()>,
  ) -> error::Result<Self> {
    let mut config = MonitorConfig {
      sample_interval: Duration::from_millis(u64::from(options.sample_interval_ms.max(1))),
      stats_interval: Duration::from_millis(u64::from(options.stats_interval_ms)),
      detection: options.detection.config(),
      confirm: None,
      memory_limit: options
        .detection
        .memory_limit_bytes
        .filter(|b| b.is_finite() && *b > 0.0)
        .map(|b| b as u64),
      sampling_on_growth: options.sampling_on_growth,
    };
    let reference: HeapFigures = (&options.reference_heap).into();
    let (api, initial, hook_failure) = if options.use_v8_hooks {
      match usable_api(reference) {
        Ok((api, heap)) => (Some(api), heap, None),
        Err(err) => (None, reference, Some(err)),
      }
    } else {
      (None, reference, None)
    };
    // Requests need the V8 API on this thread; with perf_hooks, V8's own full GCs only.
    if api.is_some() {
      config.confirm = options.detection.confirm();
    }
    let source = if api.is_some() {
      Source::V8Hooks
    } else {
      Source::PerfHooks
    };

    let dispatcher: Dispatcher = dispatch
      .build_threadsafe_function::<ForJs>()
      .callee_handled::<false>()
      .weak::<true>()
      .max_queue_size::<EVENT_QUEUE>()
      .build_callback(|ctx| Ok(ctx.value.into_args()))
      .map_err(napi_failure(ErrorCode::Native))?;
    let gc = api.map(|api| gc_requester(&env, api)).transpose()?;

    let channel = RecordChannel::new();
    let cost = Arc::new(HookCost::default());
    let monitor = Monitor::start(
      config,
      source,
      initial,
      channel.clone(),
      cost.clone(),
      TsfnSink { dispatcher, gc },
      sampler::resident_set_bytes,
    )
    .map_err(|e| {
      LeakwatchError::new(
        ErrorCode::ThreadSpawn,
        format!("cannot start the leakwatch thread: {e}"),
      )
    })?;
    // Heap snapshots written on this thread are pauses this monitor's detection leaves out.
    monitor::pause::set_active(Some(monitor.shared()));
    let hooks = api.map(|api| {
      // SAFETY: on the isolate's JS thread; the hooks are dropped in `shutdown`, which runs
      // on this thread (stop() or the env cleanup hook) while the isolate is alive.
      unsafe { GcHooks::install(api, api.current_isolate(), channel.clone(), cost) }
    });

    let inner = EnvCleanup::register(
      &env,
      Inner {
        channel,
        running: RefCell::new(Some(Running { hooks, monitor })),
        last: RefCell::new(None),
      },
      ErrorCode::Native,
    )?;
    Ok(NativeWatcher {
      inner,
      source,
      hook_failure,
    })
  }

  /// `"v8"` (GC callbacks) or `"perf_hooks"` (records fed by `recordGc`).
  #[napi(getter)]
  pub fn source(&self) -> GcSource {
    self.source.into()
  }

  /// Why V8 hooks could not be used, or null.
  #[napi(getter)]
  pub fn hook_failure(&self) -> Option<HookFailure> {
    self.hook_failure.as_ref().map(|e| HookFailure {
      code: e.code.as_str().to_string(),
      message: e.message.clone(),
    })
  }

  #[napi(getter)]
  pub fn running(&self) -> bool {
    self.inner.get().running.borrow().is_some()
  }

  /// The latest stats, as of the background thread's last drain.
  #[napi]
  pub fn stats(&self) -> Option<StatsPayload> {
    if let Some(running) = self.inner.get().running.borrow().as_ref() {
      return Some((&running.monitor.shared().latest()).into());
    }
    self.inner.get().last.borrow().as_ref().map(Into::into)
  }

  /// Feeds one GC seen by a `perf_hooks` observer (fallback when V8 hooks are unavailable).
  #[napi]
  pub fn record_gc(&self, kind: GcType, pause_ms: f64, heap: HeapFiguresInput, forced: bool) {
    if self.inner.get().running.borrow().is_none() {
      return;
    }
    self.inner.get().channel.push(GcRecord {
      kind: kind.into(),
      forced,
      pause_ns: (pause_ms.max(0.0) * 1_000_000.0) as u64,
      at: std::time::Instant::now(),
      heap: (&heap).into(),
    });
  }

  /// Removes the GC callbacks and joins the background thread. Idempotent.
  #[napi]
  pub fn stop(&self) {
    self.inner.stop();
  }
}

/// Resolves the V8 API and checks that the heap statistics layout reads correctly.
fn usable_api(reference: HeapFigures) -> Result<(&'static V8Api, HeapFigures), LeakwatchError> {
  let api = V8Api::get()?;
  let isolate = api.current_isolate();
  if isolate.is_null() {
    return Err(LeakwatchError::new(
      ErrorCode::NoIsolate,
      "no V8 isolate is entered on this thread",
    ));
  }
  // SAFETY: on the isolate's JS thread.
  let heap = unsafe { api.heap_figures(isolate) };
  if heap.limit != reference.limit {
    return Err(LeakwatchError::new(
      ErrorCode::V8Unsupported,
      format!(
        "v8::HeapStatistics of V8 {} does not have the expected layout (heap_size_limit {} \
         read natively, {} from v8.getHeapStatistics()); GC monitoring falls back to perf_hooks",
        api.version, heap.limit, reference.limit
      ),
    ));
  }
  Ok((api, heap))
}

/// A full, memory-reducing GC of the calling isolate (`Isolate::LowMemoryNotification`).
/// Returns false when the V8 symbols are unavailable (the facade then uses another way).
#[napi]
pub fn full_gc() -> bool {
  let Ok(api) = V8Api::get() else {
    return false;
  };
  let isolate = api.current_isolate();
  if isolate.is_null() {
    return false;
  }
  // SAFETY: called from JavaScript, so on the isolate's thread and outside any GC.
  as_requested_gc(|| unsafe { api.low_memory_notification(isolate) });
  true
}
