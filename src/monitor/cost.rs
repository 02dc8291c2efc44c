//! Time spent inside leakwatch's GC callbacks, measured in them: a count, a total and a
//! log-linear histogram (4 sub-buckets per power of two) so the median and the tail can be
//! told apart from preemption outliers. Lock-free: one relaxed add per field per callback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = 64 * SUB;

pub struct HookCost {
  calls: AtomicU64,
  nanos: AtomicU64,
  buckets: [AtomicU64; BUCKETS],
}

/// A summary of callback cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostSummary {
  pub calls: u64,
  pub total_ns: u64,
  /// Upper bounds of the histogram bucket holding the percentile (within 25 %).
  pub p50_ns: u64,
  pub p99_ns: u64,
}

fn bucket_of(ns: u64) -> usize {
  if ns < SUB as u64 {
    return ns as usize;
  }
  let log = 63 - ns.leading_zeros();
  let sub = (ns >> (log - SUB_BITS)) as usize & (SUB - 1);
  ((log - SUB_BITS + 1) as usize * SUB + sub).min(BUCKETS - 1)
}

/// Largest value that falls in bucket `b`.
fn bucket_upper(b: usize) -> u64 {
  if b < SUB {
    return b as u64;
  }
  let log = (b / SUB) as u32 + SUB_BITS - 1;
  let sub = (b % SUB) as u64;
  let base = 1u64 << log;
  let step = base >> SUB_BITS;
  base + (sub + 1) * step - 1
}

impl Default for HookCost {
  fn default() -> Self {
    HookCost {
      calls: AtomicU64::new(0),
      nanos: AtomicU64::new(0),
      buckets: std::array::from_fn(|_| AtomicU64::new(0)),
    }
  }
}

impl HookCost {
  /// Adds the time from `since` to now.
  pub fn add(&self, since: Instant) {
    self.add_ns(since.elapsed().as_nanos() as u64);
  }

  fn add_ns(&self, ns: u64) {
    self.calls.fetch_add(1, Ordering::Relaxed);
    self.nanos.fetch_add(ns, Ordering::Relaxed);
    self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
  }

  pub fn summary(&self) -> CostSummary {
    let counts: Vec<u64> = self
      .buckets
      .iter()
      .map(|b| b.load(Ordering::Relaxed))
      .collect();
    let n: u64 = counts.iter().sum();
    let percentile = |p: f64| -> u64 {
      if n == 0 {
        return 0;
      }
      let rank = ((n as f64) * p).ceil().max(1.0) as u64;
      let mut seen = 0;
      for (b, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
          return bucket_upper(b);
        }
      }
      bucket_upper(BUCKETS - 1)
    };
    CostSummary {
      calls: self.calls.load(Ordering::Relaxed),
      total_ns: self.nanos.load(Ordering::Relaxed),
      p50_ns: percentile(0.5),
      p99_ns: percentile(0.99),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn buckets_cover_values_within_a_quarter() {
    for ns in [
      0u64,
      1,
      3,
      4,
      5,
      7,
      8,
      100,
      999,
      1000,
      1023,
      1024,
      65_537,
      10_000_000_000,
    ] {
      let b = bucket_of(ns);
      let upper = bucket_upper(b);
      assert!(upper >= ns, "{ns} -> bucket {b} upper {upper}");
      assert!(upper as f64 <= (ns as f64) * 1.25 + 1.0, "{ns} -> {upper}");
      if b > 0 {
        assert!(bucket_upper(b - 1) < ns, "{ns} also fits bucket {}", b - 1);
      }
    }
  }

  #[test]
  fn percentiles_ignore_rare_outliers() {
    let cost = HookCost::default();
    for _ in 0..990 {
      cost.add_ns(400);
    }
    for _ in 0..10 {
      cost.add_ns(2_000_000);
    }
    let s = cost.summary();
    assert_eq!(s.calls, 1000);
    assert_eq!(s.total_ns, 990 * 400 + 10 * 2_000_000);
    assert!((400..=500).contains(&s.p50_ns), "{:?}", s);
    assert!((400..=500).contains(&s.p99_ns), "{:?}", s);
    assert_eq!(HookCost::default().summary(), CostSummary::default());
  }
}
