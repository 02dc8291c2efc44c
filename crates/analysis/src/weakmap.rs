//! V8 names the two edges that keep a WeakMap value alive
//! `"<n> / part of key (K @1) -> value (V @2) pair in WeakMap (table @3)"`: one from the key,
//! one from the table. DevTools reads these names to keep only one of the pair; so do we.
//! This matches the same strings DevTools' regular expression matches, without a regex crate.

/// The parts of a WeakMap edge name DevTools uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeakMapEdge<'a> {
  /// Everything after the leading number: the same for both edges of a pair.
  pub pair: &'a [u8],
  pub table_id: u64,
}

const KEY: &[u8] = b" / part of key (";
const ARROW: &[u8] = b") -> value (";
const TABLE: &[u8] = b" pair in WeakMap (table @";

pub fn parse(name: &[u8]) -> Option<WeakMapEdge<'_>> {
  let lead = name.iter().take_while(|b| b.is_ascii_digit()).count();
  if lead == 0 {
    return None;
  }
  let pair = &name[lead..];
  let middle_and_tail = pair.strip_prefix(KEY)?;
  // `.` in the pattern does not match line terminators.
  if has_line_terminator(middle_and_tail) {
    return None;
  }
  // The tail: " pair in WeakMap (table @<digits>)".
  let body = middle_and_tail.strip_suffix(b")")?;
  let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
  if digits == 0 {
    return None;
  }
  let table_id = parse_u64(&body[body.len() - digits..])?;
  let middle = body[..body.len() - digits].strip_suffix(TABLE)?;
  // middle = `.*? @\d+\) -> value \(.*? @\d+\)`. The value part is the same suffix of
  // `middle` whichever separator is tried, so it is checked once (linear in the name, not
  // quadratic): a tail after a separator matches iff the whole suffix does and the tail is
  // long enough to hold " @<digits>)".
  let value_tail = middle.strip_suffix(b")").and_then(|v| {
    let digits = v.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    ends_with_at_id(v).then_some(digits + 3)
  });
  let value_part_ok = |tail: &[u8]| value_tail.is_some_and(|need| tail.len() >= need);
  let mut from = 0;
  while let Some(p) = find(&middle[from..], ARROW).map(|p| p + from) {
    if ends_with_at_id(&middle[..p]) && value_part_ok(&middle[p + ARROW.len()..]) {
      return Some(WeakMapEdge { pair, table_id });
    }
    from = p + 1;
  }
  None
}

/// `… @<digits>` at the end.
fn ends_with_at_id(s: &[u8]) -> bool {
  let digits = s.iter().rev().take_while(|b| b.is_ascii_digit()).count();
  digits > 0 && s[..s.len() - digits].ends_with(b" @")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
  hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
  let mut v: u64 = 0;
  for &d in digits {
    v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
  }
  Some(v)
}

fn has_line_terminator(s: &[u8]) -> bool {
  s.iter().any(|&b| b == b'\n' || b == b'\r')
    || s
      .windows(3)
      .any(|w| w == "\u{2028}".as_bytes() || w == "\u{2029}".as_bytes())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn matches_v8_weakmap_edge_names() {
    let name =
      b"12 / part of key (Object @3451) -> value (Array @3453) pair in WeakMap (table @3449)";
    let m = parse(name).unwrap();
    assert_eq!(m.table_id, 3449);
    assert_eq!(m.pair, &name[2..]);
    // Names inside the parentheses may hold anything, even the separator text.
    let odd = b"1 / part of key (a) -> value (b @1) @7) -> value (c @8) pair in WeakMap (table @9)";
    assert_eq!(parse(odd).unwrap().table_id, 9);
  }

  #[test]
  fn rejects_other_names() {
    for s in [
      "table",
      "/ part of key (A @1) -> value (B @2) pair in WeakMap (table @3)",
      "1 / part of key (A @1) -> value (B @2) pair in WeakMap (table @)",
      "1 / part of key (A @x) -> value (B @2) pair in WeakMap (table @3)",
      "1 / part of key (A @1) -> value (B\n @2) pair in WeakMap (table @3)",
      "1 / part of key (A @1) -> value (B @2) pair in WeakMap (table @3) ",
    ] {
      assert_eq!(parse(s.as_bytes()), None, "{s}");
    }
  }
}
