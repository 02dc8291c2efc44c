//! Heap snapshots written by leakwatch: naming, the guard that decides whether one fits,
//! the file that appears only when complete, the dump itself and the near-heap-limit hook.

pub mod attempt;
pub mod dump;
pub mod file;
pub mod guard;
pub mod headroom;
pub mod name;
pub mod near_limit;
pub mod statistics;

use std::sync::atomic::{AtomicU64, Ordering};

/// Sequence number of this process's dumps (part of every file name).
pub fn next_seq() -> u64 {
  static SEQ: AtomicU64 = AtomicU64::new(0);
  SEQ.fetch_add(1, Ordering::Relaxed)
}
