//! The mapping from V8's `GCType` bits to [`GcKind`], which changed meaning in V8 10.
//!
//! v8-callbacks.h (V8 >= 10, Node 18+):
//! `kGCTypeScavenge = 1, kGCTypeMinorMarkCompact = 2, kGCTypeMarkSweepCompact = 4,
//!  kGCTypeIncrementalMarking = 8, kGCTypeProcessWeakCallbacks = 16`.
//! Before V8 10: `kGCTypeScavenge = 1, kGCTypeMarkSweepCompact = 2,
//!  kGCTypeIncrementalMarking = 4, kGCTypeProcessWeakCallbacks = 8`.

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

impl GcTypeMap {
  /// The layout for a V8 with the given major version.
  pub fn for_v8_major(major: u32) -> GcTypeMap {
    if major >= 10 {
      GcTypeMap {
        bits: [1, 2, 4, 8, 16],
      }
    } else {
      GcTypeMap {
        bits: [1, 0, 2, 4, 8],
      }
    }
  }

  /// Parses a version string such as `"11.3.244.8-node.33"`.
  pub fn for_v8_version(version: &str) -> Option<GcTypeMap> {
    let major = version.split('.').next()?.trim().parse::<u32>().ok()?;
    Some(GcTypeMap::for_v8_major(major))
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
  fn v8_10_and_later_moved_mark_sweep_compact_to_4() {
    let map = GcTypeMap::for_v8_version("11.3.244.8-node.33").unwrap();
    assert_eq!(map.kind(1), Some(GcKind::Scavenge));
    assert_eq!(map.kind(2), Some(GcKind::MinorMarkCompact));
    assert_eq!(map.kind(4), Some(GcKind::MarkSweepCompact));
    assert_eq!(map.kind(8), Some(GcKind::IncrementalMarking));
    assert_eq!(map.kind(16), Some(GcKind::ProcessWeakCallbacks));
    assert_eq!(map.all_bits(), 31);
    assert_eq!(
      GcTypeMap::for_v8_version("13.6.233.10-node.27").unwrap(),
      map
    );
  }

  #[test]
  fn before_v8_10_mark_sweep_compact_was_2() {
    let map = GcTypeMap::for_v8_version("9.4.146.26-node.22").unwrap();
    assert_eq!(map.kind(2), Some(GcKind::MarkSweepCompact));
    assert_eq!(map.kind(4), Some(GcKind::IncrementalMarking));
    assert_eq!(map.kind(8), Some(GcKind::ProcessWeakCallbacks));
    assert_eq!(map.kind(16), None);
    assert_eq!(map.bits[GcKind::MinorMarkCompact.index()], 0);
    assert_eq!(map.all_bits(), 15);
  }

  #[test]
  fn unknown_bits_and_bad_versions() {
    let map = GcTypeMap::for_v8_major(12);
    assert_eq!(map.kind(0), None);
    assert_eq!(map.kind(3), None);
    assert_eq!(map.kind(64), None);
    assert!(GcTypeMap::for_v8_version("").is_none());
    assert!(GcTypeMap::for_v8_version("x.1").is_none());
  }
}
