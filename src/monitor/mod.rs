//! The per-isolate background side: the record channel the GC hooks feed, and the thread that
//! drains it, samples RSS on a tick, runs the detectors, requests confirmation GCs, assembles
//! stats and hands events to a sink. It touches no V8 API and no napi type, so it is tested
//! here with a fake sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use leakwatch_detection::{
  Detection, DetectionConfig, LeakReport, LimitKind, Limits, Metric, TrendNow,
};

pub mod channel;
pub mod confirm;
pub mod cost;
pub mod gc_kind;
pub mod pause;
pub mod record;
pub mod sampler;
pub mod stats;

use channel::RecordChannel;
use confirm::{ConfirmConfig, ConfirmPolicy};
use cost::{CostSummary, HookCost};
use gc_kind::GcKind;
use pause::PauseLog;
use record::{GcRecord, HeapFigures};
use stats::{KindTotals, StatsAccumulator};

use crate::snapshot::headroom::memory_room;

/// Background-thread settings (validated by the JS facade).
#[derive(Clone, Debug)]
pub struct MonitorConfig {
  /// How often RSS is sampled and pending scavenge records are drained.
  pub sample_interval: Duration,
  /// Minimum time between two `stats` events; zero emits after every full GC.
  pub stats_interval: Duration,
  /// Leak detectors per metric.
  pub detection: DetectionConfig,
  /// Confirmation GCs (None: wait for V8's own full GCs).
  pub confirm: Option<ConfirmConfig>,
  /// The operator's memory budget for the whole process (`memoryLimitBytes`), bytes; the
  /// cgroup limit and the system's available memory are read as well.
  pub memory_limit: Option<u64>,
  /// Send [`Event::Sampling`] when early growth starts and ends (allocation sites sampled
  /// only then); false: never.
  pub sampling_on_growth: bool,
}

/// How often the memory room (cgroup, /proc/meminfo) is read again for time-to-limit.
const ROOM_EVERY: Duration = Duration::from_secs(5);

/// Where the numbers came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
  /// V8 GC prologue/epilogue callbacks.
  V8Hooks,
  /// `perf_hooks` GC entries fed from JavaScript.
  PerfHooks,
}

impl Source {
  pub fn name(self) -> &'static str {
    match self {
      Source::V8Hooks => "v8",
      Source::PerfHooks => "perf_hooks",
    }
  }
}

/// One `stats` payload, in plain Rust.
#[derive(Clone, Debug)]
pub struct StatsReport {
  pub num_full_gc: u64,
  pub num_inc_gc: u64,
  pub heap_compactions: u64,
  pub usage_trend: f64,
  pub estimated_base: u64,
  pub current_base: u64,
  pub min: u64,
  pub max: u64,
  /// Kind of the GC this report follows (`None` before the first GC).
  pub gc_type: Option<GcKind>,
  pub forced: bool,
  pub pause_ns: u64,
  pub heap: HeapFigures,
  /// Latest sampled RSS (None where the platform is not supported).
  pub rss: Option<u64>,
  pub by_kind: [KindTotals; GcKind::COUNT],
  pub source: Source,
  pub dropped_records: u64,
  pub dropped_events: u64,
  pub callback_cost: CostSummary,
  /// Per metric (heap, external, rss): a reported growth that has not stopped.
  pub suspected: [bool; 3],
  /// Per metric (heap, external, rss): the window's current trend (trend mode, past warm-up).
  pub trend: [Option<TrendNow>; 3],
  /// Confirmation GCs requested so far.
  pub requested_gcs: u64,
  /// Wall-clock time of the report.
  pub time: SystemTime,
}

/// An event for JavaScript.
#[derive(Debug)]
pub enum Event {
  Stats(Box<StatsReport>),
  /// `leak` (growing) or `leak-stopped`.
  Leak(Box<LeakReport>),
  /// Ask the isolate's thread for one incremental full GC (a confirmation GC).
  RequestFullGc,
  /// Early growth started (true) or ended (false): the JS side starts or stops the sampling
  /// heap profiler, which only the isolate's thread may do.
  Sampling(bool),
}

/// What happened to an event handed to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
  Queued,
  /// The JS-side queue was full: the event is dropped and counted.
  Dropped,
  /// The environment is shutting down: the thread stops.
  Closed,
}

pub trait EventSink: Send + 'static {
  fn deliver(&mut self, event: Event) -> Delivery;
}

/// State shared by the JS thread and the background thread.
pub struct MonitorShared {
  pub channel: Arc<RecordChannel>,
  pub cost: Arc<HookCost>,
  stop: AtomicBool,
  dropped_events: AtomicU64,
  latest: Mutex<StatsReport>,
  pub(crate) pauses: Mutex<PauseLog>,
}

impl MonitorShared {
  pub fn latest(&self) -> StatsReport {
    self.latest.lock().clone()
  }
}

/// A running background thread; stopped and joined on drop.
pub struct Monitor {
  shared: Arc<MonitorShared>,
  thread: Option<JoinHandle<()>>,
}

impl Monitor {
  /// Starts the thread. `initial_heap` seeds `stats()` before the first GC.
  pub fn start<S: EventSink>(
    config: MonitorConfig,
    source: Source,
    initial_heap: HeapFigures,
    channel: Arc<RecordChannel>,
    cost: Arc<HookCost>,
    sink: S,
    rss: fn() -> Option<u64>,
  ) -> std::io::Result<Monitor> {
    let acc = StatsAccumulator::default();
    let seed = assemble(
      &acc,
      None,
      initial_heap,
      rss(),
      source,
      0,
      0,
      CostSummary::default(),
      [false; 3],
      [None; 3],
      0,
    );
    let detection = Detection::new(&config.detection);
    let confirm = config.confirm.clone().map(ConfirmPolicy::new);
    let shared = Arc::new(MonitorShared {
      channel,
      cost,
      stop: AtomicBool::new(false),
      dropped_events: AtomicU64::new(0),
      latest: Mutex::new(seed),
      pauses: Mutex::new(PauseLog::default()),
    });
    let worker = Worker {
      config,
      source,
      shared: shared.clone(),
      acc,
      detection,
      confirm,
      sink,
      rss_reader: rss,
      rss: None,
      heap: initial_heap,
      last_stats_event: None,
      memory_room: None,
      room_read_at: None,
      sampling: false,
    };
    let thread = std::thread::Builder::new()
      .name("leakwatch".into())
      .spawn(move || worker.run())?;
    shared.channel.set_consumer(thread.thread().clone());
    Ok(Monitor {
      shared,
      thread: Some(thread),
    })
  }

  pub fn shared(&self) -> &Arc<MonitorShared> {
    &self.shared
  }

  /// Stops and joins the thread. Idempotent.
  pub fn stop(&mut self) {
    if let Some(thread) = self.thread.take() {
      self.shared.stop.store(true, Ordering::Release);
      thread.thread().unpark();
      // A panic on the background thread is contained there; nothing to propagate.
      let _ = thread.join();
    }
  }
}

impl Drop for Monitor {
  fn drop(&mut self) {
    self.stop();
  }
}

struct Worker<S: EventSink> {
  config: MonitorConfig,
  source: Source,
  shared: Arc<MonitorShared>,
  acc: StatsAccumulator,
  detection: Detection,
  confirm: Option<ConfirmPolicy>,
  sink: S,
  rss_reader: fn() -> Option<u64>,
  rss: Option<u64>,
  heap: HeapFigures,
  last_stats_event: Option<Instant>,
  /// Memory the process may still take and what bounds it, as last read.
  memory_room: Option<(u64, LimitKind)>,
  room_read_at: Option<Instant>,
  /// The early-growth state JavaScript was last told (see `signal_sampling`).
  sampling: bool,
}

impl<S: EventSink> Worker<S> {
  fn run(mut self) {
    let mut next_sample = Instant::now();
    while !self.shared.stop.load(Ordering::Acquire) {
      let now = Instant::now();
      let sample_due = now >= next_sample;
      if sample_due {
        self.rss = (self.rss_reader)();
        next_sample = now + self.config.sample_interval;
      }
      let paused = self.apply_pauses();
      if !self.drain() {
        break;
      }
      // RSS samples taken while a snapshot is being written measure the dump, not the app.
      if let (true, Some(rss), false) = (sample_due, self.rss, paused) {
        let confirm = self
          .confirm
          .as_mut()
          .is_some_and(|c| c.observe_rss(now, rss));
        if confirm && !self.request_full_gc() {
          break;
        }
        // The rss detector judges memory outside the V8 heap (which has its own detector,
        // with true baselines at full GCs). External memory is not subtracted: freed Buffer
        // memory stays resident in the allocator, so RSS minus external swings with churn.
        let outside_heap = rss.saturating_sub(self.heap.physical);
        let reports = self.detection.rss_sample(now, outside_heap);
        if !self.deliver_leaks(reports) {
          break;
        }
      }
      // A reported heap or external leak with no full GC for a while: ask for one, or its
      // end is never seen.
      let reported =
        self.detection.suspected(Metric::Heap) || self.detection.suspected(Metric::External);
      let recheck = !paused
        && self
          .confirm
          .as_mut()
          .is_some_and(|c| c.observe_reported(now, reported));
      if recheck && !self.request_full_gc() {
        break;
      }
      // Every tick: early growth also ends with no new point.
      if !self.signal_sampling(Instant::now()) {
        break;
      }
      // After the events of this tick are on their way: the file reads never delay them.
      if !paused {
        self.read_memory_room(now);
      }
      self.publish();
      std::thread::park_timeout(next_sample.saturating_duration_since(Instant::now()));
    }
    // GCs recorded between the last tick and stop() still count in the final figures
    // (`stats()` after `stop()`); no event is sent for them any more.
    while let Some(record) = self.shared.channel.pop() {
      self.heap = record.heap;
      self.acc.record(&record);
    }
    self.publish();
  }

  /// Hands leakwatch's own pauses of the isolate to detection; true while one is under way.
  fn apply_pauses(&mut self) -> bool {
    let mut log = self.shared.pauses.lock();
    for (start, end) in log.closed.drain(..) {
      self.detection.pause(start, end);
    }
    self.detection.pause_open(log.open);
    log.open.is_some()
  }

  /// Reads how much memory the process may still take (every `ROOM_EVERY`), for the time to
  /// the limit that detection reports and scales its evidence by.
  fn read_memory_room(&mut self, now: Instant) {
    if self
      .room_read_at
      .is_some_and(|at| now.saturating_duration_since(at) < ROOM_EVERY)
    {
      return;
    }
    self.room_read_at = Some(now);
    let rss = self.rss.unwrap_or(0);
    self.memory_room = memory_room(self.config.memory_limit, rss).and_then(|room| {
      let kind = match room.bound {
        "memoryLimitBytes" => LimitKind::MemoryLimitBytes,
        "cgroup" => LimitKind::Cgroup,
        "system" => LimitKind::System,
        _ => return None,
      };
      Some((room.bytes, kind))
    });
    self.set_limits();
  }

  fn set_limits(&mut self) {
    self.detection.set_limits(Limits {
      heap_limit: (self.heap.limit > 0).then_some(self.heap.limit),
      memory_room: self.memory_room,
    });
  }

  /// Feeds every pending record; returns false when the sink is closed.
  fn drain(&mut self) -> bool {
    while let Some(record) = self.shared.channel.pop() {
      self.heap = record.heap;
      self.set_limits();
      let confirm = self.confirm.as_mut().is_some_and(|c| c.observe(&record));
      if confirm && !self.request_full_gc() {
        return false;
      }
      if !self.acc.record(&record) {
        continue;
      }
      let leaks = self
        .detection
        .full_gc(record.at, record.heap.used, record.heap.external);
      if self.stats_due(record.at) {
        let report = self.report(Some(&record));
        self.last_stats_event = Some(record.at);
        if !self.deliver(Event::Stats(Box::new(report))) {
          return false;
        }
      }
      if !self.deliver_leaks(leaks) {
        return false;
      }
    }
    true
  }

  /// Sends a confirmation-GC request; a request the full queue dropped is forgotten so the
  /// policy may ask again. Returns false when the sink is closed.
  fn request_full_gc(&mut self) -> bool {
    let delivery = self.sink.deliver(Event::RequestFullGc);
    if delivery == Delivery::Dropped {
      self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
      if let Some(confirm) = self.confirm.as_mut() {
        confirm.request_lost();
      }
    }
    delivery != Delivery::Closed
  }

  /// Tells JavaScript when early growth starts or ends. Called before a `leak` is delivered,
  /// so the profiler is asked to start before the leak it serves. A dropped event is sent
  /// again on the next call. Returns false when the sink is closed.
  fn signal_sampling(&mut self, now: Instant) -> bool {
    if !self.config.sampling_on_growth {
      return true;
    }
    let wanted = self.detection.early_growth(now);
    if wanted == self.sampling {
      return true;
    }
    match self.sink.deliver(Event::Sampling(wanted)) {
      Delivery::Queued => {
        self.sampling = wanted;
        true
      }
      Delivery::Dropped => {
        self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        true
      }
      Delivery::Closed => false,
    }
  }

  fn deliver_leaks(&mut self, reports: Vec<LeakReport>) -> bool {
    if !self.signal_sampling(Instant::now()) {
      return false;
    }
    reports
      .into_iter()
      .all(|r| self.deliver(Event::Leak(Box::new(r))))
  }

  /// Returns false when the sink is closed.
  fn deliver(&mut self, event: Event) -> bool {
    match self.sink.deliver(event) {
      Delivery::Queued => true,
      Delivery::Dropped => {
        self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        true
      }
      Delivery::Closed => false,
    }
  }

  fn stats_due(&self, at: Instant) -> bool {
    match self.last_stats_event {
      None => true,
      Some(last) => at.saturating_duration_since(last) >= self.config.stats_interval,
    }
  }

  fn report(&self, after: Option<&GcRecord>) -> StatsReport {
    assemble(
      &self.acc,
      after.or(self.acc.last.as_ref()),
      self.heap,
      self.rss,
      self.source,
      self.shared.channel.dropped(),
      self.shared.dropped_events.load(Ordering::Relaxed),
      self.shared.cost.summary(),
      Metric::ALL.map(|m| self.detection.suspected(m)),
      Metric::ALL.map(|m| self.detection.trend(m)),
      self.confirm.as_ref().map_or(0, ConfirmPolicy::requested),
    )
  }

  fn publish(&self) {
    *self.shared.latest.lock() = self.report(None);
  }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
  acc: &StatsAccumulator,
  after: Option<&GcRecord>,
  heap: HeapFigures,
  rss: Option<u64>,
  source: Source,
  dropped_records: u64,
  dropped_events: u64,
  callback_cost: CostSummary,
  suspected: [bool; 3],
  trend: [Option<TrendNow>; 3],
  requested_gcs: u64,
) -> StatsReport {
  let b = &acc.baseline;
  StatsReport {
    num_full_gc: acc.num_full_gc(),
    num_inc_gc: acc.num_inc_gc(),
    heap_compactions: b.compactions(),
    usage_trend: b.usage_trend(),
    estimated_base: b.estimated_base(),
    current_base: b.current_base(),
    min: b.min(),
    max: b.max(),
    gc_type: after.map(|r| r.kind),
    forced: after.is_some_and(|r| r.forced),
    pause_ns: after.map_or(0, |r| r.pause_ns),
    heap: after.map_or(heap, |r| r.heap),
    rss,
    by_kind: acc.by_kind,
    source,
    dropped_records,
    dropped_events,
    callback_cost,
    suspected,
    trend,
    requested_gcs,
    time: SystemTime::now(),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::mpsc;

  struct ChannelSink(mpsc::Sender<Event>);
  impl EventSink for ChannelSink {
    fn deliver(&mut self, event: Event) -> Delivery {
      match self.0.send(event) {
        Ok(()) => Delivery::Queued,
        Err(_) => Delivery::Closed,
      }
    }
  }

  fn rec(kind: GcKind, used: u64) -> GcRecord {
    GcRecord {
      kind,
      forced: false,
      pause_ns: 1_500_000,
      at: Instant::now(),
      heap: HeapFigures {
        used,
        total: used * 2,
        physical: used,
        limit: 1 << 32,
        external: 7,
        malloced: 9,
      },
    }
  }

  fn start(stats_interval: Duration) -> (Monitor, Arc<RecordChannel>, mpsc::Receiver<Event>) {
    let channel = RecordChannel::new();
    let (tx, rx) = mpsc::channel();
    let monitor = Monitor::start(
      MonitorConfig {
        sample_interval: Duration::from_millis(20),
        stats_interval,
        detection: DetectionConfig::off(),
        confirm: None,
        memory_limit: None,
        sampling_on_growth: false,
      },
      Source::V8Hooks,
      HeapFigures {
        used: 1,
        ..Default::default()
      },
      channel.clone(),
      Arc::new(HookCost::default()),
      ChannelSink(tx),
      || Some(4096),
    )
    .unwrap();
    (monitor, channel, rx)
  }

  fn next_stats(rx: &mpsc::Receiver<Event>) -> StatsReport {
    loop {
      let event = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("stats event");
      if let Event::Stats(s) = event {
        return *s;
      }
    }
  }

  #[test]
  fn full_gc_produces_stats_with_preceding_scavenges() {
    let (mut monitor, channel, rx) = start(Duration::ZERO);
    for _ in 0..3 {
      channel.push(rec(GcKind::Scavenge, 10));
    }
    channel.push(rec(GcKind::MarkSweepCompact, 5_000));
    let s = next_stats(&rx);
    assert_eq!(s.num_full_gc, 1);
    assert_eq!(s.num_inc_gc, 3);
    assert_eq!(s.current_base, 5_000);
    assert_eq!(s.gc_type, Some(GcKind::MarkSweepCompact));
    assert_eq!(s.pause_ns, 1_500_000);
    assert_eq!(s.heap.total, 10_000);
    assert_eq!(s.rss, Some(4096));
    assert_eq!(s.by_kind[GcKind::Scavenge.index()].count, 3);
    monitor.stop();
    monitor.stop();
  }

  #[test]
  fn throttle_skips_events_but_counts_every_gc() {
    let (mut monitor, channel, rx) = start(Duration::from_secs(3600));
    channel.push(rec(GcKind::MarkSweepCompact, 100));
    assert_eq!(next_stats(&rx).num_full_gc, 1);
    for used in [200, 300, 400] {
      channel.push(rec(GcKind::MarkSweepCompact, used));
    }
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    // Pull still sees all of them once drained.
    let deadline = Instant::now() + Duration::from_secs(10);
    while monitor.shared().latest().num_full_gc < 4 && Instant::now() < deadline {
      std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(monitor.shared().latest().current_base, 400);
    monitor.stop();
  }

  #[test]
  fn pull_is_seeded_before_any_gc() {
    let (monitor, _channel, _rx) = start(Duration::ZERO);
    let s = monitor.shared().latest();
    assert_eq!(s.num_full_gc, 0);
    assert_eq!(s.gc_type, None);
    assert_eq!(s.heap.used, 1);
    drop(monitor);
  }

  #[test]
  fn sampling_starts_before_the_first_leak_it_serves() {
    use leakwatch_detection::detector::TrendConfig;
    use leakwatch_detection::Mode;
    let channel = RecordChannel::new();
    let (tx, rx) = mpsc::channel();
    let mut monitor = Monitor::start(
      MonitorConfig {
        sample_interval: Duration::from_millis(20),
        stats_interval: Duration::from_secs(3600),
        detection: DetectionConfig {
          heap: Some(Mode::Trend(TrendConfig {
            warmup_s: 0.0,
            window_s: 5.0,
            ..TrendConfig::default()
          })),
          external: None,
          rss: None,
        },
        confirm: None,
        memory_limit: None,
        sampling_on_growth: true,
      },
      Source::V8Hooks,
      HeapFigures::default(),
      channel.clone(),
      Arc::new(HookCost::default()),
      ChannelSink(tx),
      || Some(4096),
    )
    .unwrap();
    // 2 MiB more live heap at each full GC, 50 ms apart (a 5 s window keeps points 39 ms
    // apart): early growth at 4 MiB, the leak at 8 MiB.
    for i in 0..10u64 {
      let mut r = rec(
        GcKind::MarkSweepCompact,
        50 * 1024 * 1024 + i * 2 * 1024 * 1024,
      );
      r.at = Instant::now();
      channel.push(r);
      std::thread::sleep(Duration::from_millis(50));
    }
    let mut order = Vec::new();
    while let Ok(event) = rx.recv_timeout(Duration::from_secs(5)) {
      match event {
        Event::Sampling(on) => order.push(if on { "start" } else { "stop" }),
        Event::Leak(r) if r.growing => {
          order.push("leak");
          break;
        }
        _ => {}
      }
    }
    assert_eq!(order, ["start", "leak"]);
    monitor.stop();
  }

  #[test]
  fn closed_sink_ends_the_thread() {
    let (mut monitor, channel, rx) = start(Duration::ZERO);
    drop(rx);
    channel.push(rec(GcKind::MarkSweepCompact, 100));
    monitor.stop();
  }
}
