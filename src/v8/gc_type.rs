//! The mapping from V8's `GCType` bits to [`GcKind`].
//!
//! v8-callbacks.h (V8 >= 10, Node 18+):
//! `kGCTypeScavenge = 1, kGCTypeMinorMarkCompact = 2, kGCTypeMarkSweepCompact = 4,
//!  kGCTypeIncrementalMarking = 8, kGCTypeProcessWeakCallbacks = 16`
//! (`kGCTypeMinorMarkCompact` is `kGCTypeMinorMarkSweep` since V8 11.x, same bit). V8 < 10
//! numbered them differently; leakwatch requires Node >= 20 (V8 11.3) and reports an older
//! V8 as unsupported rather than keep a second map nothing runs.

use crate::monitor::gc_kind::GcKind;

/// GC callback flags that mark a collection as requested rather than scheduled:
/// `kGCCallbackFlagForced` (1 << 2, `global.gc()`) and
/// `kGCCallbackFlagCollectAllAvailableGarbage` (1 << 4, `LowMemoryNotification`, used by
/// `leakwatch.gc()`, and V8's last-resort GC before out-of-memory). Stable since V8 5.
pub const GC_CALLBACK_FORCED_FLAGS: u32 = (1 << 2) | (1 << 4);

/// Maps the running V8's `GCType` bits to [`GcKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcTypeMap {
  /// Bit value of each kind, indexed by [`GcKind::index`]; 0 when the kind does not exist.
  bits: [u32; GcKind::COUNT],
}

/// The oldest V8 whose `GCType` bits [`GcTypeMap`] knows.
pub const MIN_V8_MAJOR: u32 = 10;

/// The major version in a V8 version string such as `"11.3.244.8-node.33"`.
pub fn v8_major(version: &str) -> Option<u32> {
  version.split('.').next()?.trim().parse::<u32>().ok()
}

impl GcTypeMap {
  /// The layout for a V8 with the given major version; `None` before [`MIN_V8_MAJOR`].
  pub fn for_v8_major(major: u32) -> Option<GcTypeMap> {
    (major >= MIN_V8_MAJOR).then_some(GcTypeMap {
      bits: [1, 2, 4, 8, 16],
    })
  }

  /// The filter that selects every GC type when registering callbacks.
  pub fn all_bits(&self) -> u32 {
    self.bits.iter().fold(0, |acc, b| acc | b)
  }

  pub fn kind(&self, gc_type: u32) -> Option<GcKind> {
    GcKind::ALL
      .into_iter()
      .find(|k| self.bits[k.index()] != 0 && self.bits[k.index()] == gc_type)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn v8_10_and_later_map_every_kind() {
    let map = GcTypeMap::for_v8_major(v8_major("11.3.244.8-node.33").unwrap()).unwrap();
    assert_eq!(map.kind(1), Some(GcKind::Scavenge));
    assert_eq!(map.kind(2), Some(GcKind::MinorMarkCompact));
    assert_eq!(map.kind(4), Some(GcKind::MarkSweepCompact));
    assert_eq!(map.kind(8), Some(GcKind::IncrementalMarking));
    assert_eq!(map.kind(16), Some(GcKind::ProcessWeakCallbacks));
    assert_eq!(map.all_bits(), 31);
    assert_eq!(GcTypeMap::for_v8_major(10), Some(map));
    assert_eq!(
      GcTypeMap::for_v8_major(v8_major("13.6.233.10-node.27").unwrap()),
      Some(map)
    );
  }

  #[test]
  fn before_v8_10_is_unsupported() {
    assert_eq!(v8_major("9.4.146.26-node.22"), Some(9));
    assert_eq!(GcTypeMap::for_v8_major(9), None);
    assert_eq!(GcTypeMap::for_v8_major(0), None);
  }

  #[test]
  fn unknown_bits_and_bad_versions() {
    let map = GcTypeMap::for_v8_major(12).unwrap();
    assert_eq!(map.kind(0), None);
    assert_eq!(map.kind(3), None);
    assert_eq!(map.kind(64), None);
    assert_eq!(v8_major(""), None);
    assert_eq!(v8_major("x.1"), None);
  }
}
