//! The bounded, non-blocking path from one isolate's GC callbacks to its background thread:
//! a preallocated ring the epilogue pushes into and the monitor drains. A full ring drops the
//! record and counts it; the GC is never blocked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

use crossbeam_queue::ArrayQueue;

use crate::monitor::record::GcRecord;

/// Records in flight between one isolate's GC callbacks and its background thread.
pub const RECORD_CAPACITY: usize = 1024;

/// The bounded, non-blocking path from the GC callbacks to the background thread.
pub struct RecordChannel {
  queue: ArrayQueue<GcRecord>,
  dropped: AtomicU64,
  /// The background thread, woken after a full GC or when the ring is half full.
  consumer: OnceLock<Thread>,
}

impl RecordChannel {
  pub fn new() -> Arc<RecordChannel> {
    Arc::new(RecordChannel {
      queue: ArrayQueue::new(RECORD_CAPACITY),
      dropped: AtomicU64::new(0),
      consumer: OnceLock::new(),
    })
  }

  pub fn set_consumer(&self, thread: Thread) {
    let _ = self.consumer.set(thread);
  }

  /// Never blocks and never allocates.
  pub fn push(&self, record: GcRecord) {
    let urgent = record.kind.is_full();
    if self.queue.push(record).is_err() {
      self.dropped.fetch_add(1, Ordering::Relaxed);
    }
    if urgent || self.queue.len() >= RECORD_CAPACITY / 2 {
      self.wake();
    }
  }

  pub fn wake(&self) {
    if let Some(thread) = self.consumer.get() {
      thread.unpark();
    }
  }

  pub fn pop(&self) -> Option<GcRecord> {
    self.queue.pop()
  }

  /// Records lost because the ring was full.
  pub fn dropped(&self) -> u64 {
    self.dropped.load(Ordering::Relaxed)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::monitor::gc_kind::GcKind;
  use crate::monitor::record::HeapFigures;
  use std::time::Instant;

  fn record(kind: GcKind) -> GcRecord {
    GcRecord {
      kind,
      forced: false,
      pause_ns: 10,
      at: Instant::now(),
      heap: HeapFigures::default(),
    }
  }

  #[test]
  fn full_ring_drops_and_counts() {
    let channel = RecordChannel::new();
    for _ in 0..RECORD_CAPACITY + 5 {
      channel.push(record(GcKind::Scavenge));
    }
    assert_eq!(channel.dropped(), 5);
    let mut drained = 0;
    while channel.pop().is_some() {
      drained += 1;
    }
    assert_eq!(drained, RECORD_CAPACITY);
  }

  #[test]
  fn full_gc_wakes_the_consumer() {
    let channel = RecordChannel::new();
    let waiter = {
      let channel = channel.clone();
      std::thread::spawn(move || {
        channel.set_consumer(std::thread::current());
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        loop {
          if let Some(r) = channel.pop() {
            if r.kind.is_full() {
              return true;
            }
          }
          if Instant::now() > deadline {
            return false;
          }
          std::thread::park_timeout(std::time::Duration::from_secs(5));
        }
      })
    };
    while channel.consumer.get().is_none() {
      std::thread::yield_now();
    }
    channel.push(record(GcKind::MarkSweepCompact));
    assert!(waiter.join().unwrap());
  }
}
