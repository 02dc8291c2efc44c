//! GC kinds, independent of the running V8's `GCType` bit values (`v8/gc_type.rs` maps them).

/// A garbage collection kind, independent of the running V8's bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GcKind {
  Scavenge = 0,
  MinorMarkCompact = 1,
  MarkSweepCompact = 2,
  IncrementalMarking = 3,
  ProcessWeakCallbacks = 4,
}

impl GcKind {
  pub const COUNT: usize = 5;
  pub const ALL: [GcKind; GcKind::COUNT] = [
    GcKind::Scavenge,
    GcKind::MinorMarkCompact,
    GcKind::MarkSweepCompact,
    GcKind::IncrementalMarking,
    GcKind::ProcessWeakCallbacks,
  ];

  /// The name used in JavaScript payloads (`stats.gcType`, `stats.byType`).
  pub fn name(self) -> &'static str {
    match self {
      GcKind::Scavenge => "scavenge",
      GcKind::MinorMarkCompact => "minorMarkCompact",
      GcKind::MarkSweepCompact => "markSweepCompact",
      GcKind::IncrementalMarking => "incrementalMarking",
      GcKind::ProcessWeakCallbacks => "processWeakCallbacks",
    }
  }

  pub fn from_name(name: &str) -> Option<GcKind> {
    GcKind::ALL.into_iter().find(|k| k.name() == name)
  }

  /// A full (old-generation) collection: what memwatch counted as `num_full_gc`.
  pub fn is_full(self) -> bool {
    self == GcKind::MarkSweepCompact
  }

  pub fn index(self) -> usize {
    self as usize
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_round_trip() {
    for kind in GcKind::ALL {
      assert_eq!(GcKind::from_name(kind.name()), Some(kind));
    }
    assert!(GcKind::MarkSweepCompact.is_full());
    assert!(!GcKind::Scavenge.is_full());
  }
}
