//! Byte offsets into the strings buffer, 64-bit at 32-bit cost. A snapshot's strings can add up
//! to more than 4 GiB (a 5 GB file, or a heap holding one huge string), so the offsets are
//! 64-bit numbers; but there is one per string (tens of millions in a big file) and they only
//! grow, so each keeps its low 32 bits and the high words are kept as the few places where
//! they step up (one per 4 GiB crossed).

use super::error::AnalysisError;
use super::parse::grow;

/// A list of non-decreasing `u64` offsets stored as `u32` low words plus the steps of the
/// high word.
#[derive(Default, Debug)]
pub struct Offsets {
  low: Vec<u32>,
  /// Each entry adds one to the high word of every offset at that index and after; sorted.
  /// An offset that jumps by more than 4 GiB at once has several entries at its index.
  steps: Vec<u32>,
  last: u64,
}

impl Offsets {
  pub fn len(&self) -> usize {
    self.low.len()
  }

  /// Appends `offset`, which must not be below the last one. Fails with `TooLarge` when the
  /// allocator refuses, with `Range` past 2^32 - 1 entries.
  pub fn push(&mut self, offset: u64, what: &str) -> Result<u32, AnalysisError> {
    debug_assert!(offset >= self.last, "offsets only grow");
    // Indices are 32-bit and so is the count (`len() as u32`): at most 2^32 - 1 entries.
    let index = u32::try_from(self.low.len())
      .ok()
      .filter(|&i| i < u32::MAX)
      .ok_or_else(|| {
        AnalysisError::new(
          super::error::Kind::Range,
          format!("{what}: more than 2^32 - 1 entries"),
        )
      })?;
    let high_before = self.last >> 32;
    let high = offset >> 32;
    if high > high_before {
      // At most one step per 4 GiB of input: bounded by the file's size.
      let n = (high - high_before) as usize;
      grow(&mut self.steps, n, what)?;
      self.steps.extend(std::iter::repeat_n(index, n));
    }
    grow(&mut self.low, 1, what)?;
    self.low.push(offset as u32);
    self.last = offset;
    Ok(index)
  }

  /// The offset at `i` (panics past the end, as a slice would).
  #[inline]
  pub fn get(&self, i: usize) -> u64 {
    let low = self.low[i] as u64;
    if self.steps.is_empty() {
      return low;
    }
    let high = self.steps.partition_point(|&at| at as usize <= i) as u64;
    (high << 32) | low
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const G4: u64 = 1 << 32;

  #[test]
  fn offsets_below_4_gib_are_their_low_words() {
    let mut o = Offsets::default();
    for v in [0, 5, 5, 1000, G4 - 1] {
      o.push(v, "t").unwrap();
    }
    assert_eq!(
      (0..o.len()).map(|i| o.get(i)).collect::<Vec<_>>(),
      [0, 5, 5, 1000, G4 - 1]
    );
    assert!(o.steps.is_empty());
  }

  #[test]
  fn offsets_crossing_2_pow_32_keep_their_high_words() {
    let want = [
      3,
      G4 - 7,
      G4 - 1,
      G4,
      G4 + 1,
      G4 + 9,
      2 * G4 - 1,
      2 * G4 + 4,
      // One string longer than 4 GiB: the high word steps by two at once.
      4 * G4 + 17,
      4 * G4 + 17,
      5 * G4,
      300 * G4 + 5,
    ];
    let mut o = Offsets::default();
    for (i, &v) in want.iter().enumerate() {
      assert_eq!(o.push(v, "t").unwrap() as usize, i);
    }
    let got: Vec<u64> = (0..o.len()).map(|i| o.get(i)).collect();
    assert_eq!(got, want);
    // Twelve offsets cost twelve words, plus one per 4 GiB crossed.
    assert_eq!(o.low.len(), 12);
    assert_eq!(o.steps.len(), 300);
  }

  #[test]
  fn ranges_between_neighbours_cross_the_boundary() {
    let mut o = Offsets::default();
    o.push(G4 - 10, "t").unwrap();
    o.push(G4 + 10, "t").unwrap();
    assert_eq!(o.get(1) - o.get(0), 20);
  }
}
