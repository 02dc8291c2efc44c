//! How many threads the analyser splits independent work over.

/// At most this many: each numeric-array parser holds a 4 MiB block and its columns, and
/// one reader thread feeds them all.
const MAX_WORKERS: usize = 8;

/// Used when the OS does not say how many cores the process may use.
const FALLBACK_WORKERS: usize = 2;

/// Threads for work that splits into independent pieces (input files, blocks of a numeric
/// array): one per core this process may use — `available_parallelism` honours CPU affinity
/// and cgroup CPU quotas — between 1 and [`MAX_WORKERS`]. Results do not depend on it.
pub fn workers() -> usize {
  std::thread::available_parallelism()
    .map_or(FALLBACK_WORKERS, |n| n.get())
    .clamp(1, MAX_WORKERS)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn between_one_and_the_cap() {
    assert!((1..=MAX_WORKERS).contains(&workers()));
  }
}
