//! Storage for a `v8::HeapStatistics` and the fields leakwatch reads from it.
//!
//! v8-statistics.h (V8 11 to 13) declares the members in this order, all `size_t` except
//! one `bool`:
//! `total_heap_size_, total_heap_size_executable_, total_physical_size_,
//!  total_available_size_, used_heap_size_, heap_size_limit_, malloced_memory_,
//!  external_memory_, peak_malloced_memory_, does_zap_garbage_, number_of_native_contexts_,
//!  ...`. Newer V8s append members; the buffer is several times larger than any of them, and
//! the watcher checks `heap_size_limit_` against `v8.getHeapStatistics()` before trusting
//! the layout.

use crate::monitor::record::HeapFigures;

const WORDS: usize = 48;
const TOTAL_HEAP_SIZE: usize = 0;
const TOTAL_PHYSICAL_SIZE: usize = 2;
const USED_HEAP_SIZE: usize = 4;
const HEAP_SIZE_LIMIT: usize = 5;
const MALLOCED_MEMORY: usize = 6;
const EXTERNAL_MEMORY: usize = 7;

/// Opaque, over-sized, pointer-aligned storage for a `v8::HeapStatistics`.
#[repr(C, align(16))]
pub struct HeapStatisticsBuffer {
  words: [usize; WORDS],
}

impl HeapStatisticsBuffer {
  pub fn zeroed() -> Self {
    HeapStatisticsBuffer { words: [0; WORDS] }
  }

  pub fn figures(&self) -> HeapFigures {
    HeapFigures {
      used: self.words[USED_HEAP_SIZE] as u64,
      total: self.words[TOTAL_HEAP_SIZE] as u64,
      physical: self.words[TOTAL_PHYSICAL_SIZE] as u64,
      limit: self.words[HEAP_SIZE_LIMIT] as u64,
      external: self.words[EXTERNAL_MEMORY] as u64,
      malloced: self.words[MALLOCED_MEMORY] as u64,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn buffer_is_larger_than_any_known_layout() {
    // V8 13's HeapStatistics has 16 members (128 bytes on 64-bit).
    assert!(std::mem::size_of::<HeapStatisticsBuffer>() >= 3 * 128);
  }

  #[test]
  fn reads_fields_by_v8_order() {
    let mut b = HeapStatisticsBuffer::zeroed();
    for (i, w) in b.words.iter_mut().enumerate() {
      *w = (i + 1) * 1000;
    }
    let f = b.figures();
    assert_eq!(f.total, 1000);
    assert_eq!(f.physical, 3000);
    assert_eq!(f.used, 5000);
    assert_eq!(f.limit, 6000);
    assert_eq!(f.malloced, 7000);
    assert_eq!(f.external, 8000);
  }
}
