//! A byte scanner over a reader for the one JSON shape a heap snapshot has: a top-level
//! object whose big members are flat arrays of integers and one array of strings. Nothing is
//! recursive: unknown values are skipped with an explicit bracket stack, and the small
//! header is read by `header.rs` with a depth limit.

use std::io::Read;

use super::error::{AnalysisError, Kind};

const CHUNK: usize = 1 << 20;

pub struct Scanner<R: Read> {
  source: R,
  buf: Vec<u8>,
  pos: usize,
  len: usize,
  /// Bytes consumed before `buf[0]`: error messages give file offsets.
  base: u64,
  eof: bool,
}

/// Where the integer parser stands between two chunks.
enum NumState {
  /// After `[` or `,`: a value (or `]` right after `[`) must come.
  Expect {
    first: bool,
  },
  Digits {
    value: u64,
  },
  /// A number ended by whitespace: `,` or `]` must come.
  After,
}

impl<R: Read> Scanner<R> {
  pub fn new(source: R) -> Self {
    Scanner {
      source,
      buf: vec![0; CHUNK],
      pos: 0,
      len: 0,
      base: 0,
      eof: false,
    }
  }

  /// File offset of the next byte.
  pub fn offset(&self) -> u64 {
    self.base + self.pos as u64
  }

  pub fn error(&self, kind: Kind, what: impl Into<String>) -> AnalysisError {
    AnalysisError::at(kind, what, self.offset())
  }

  fn fill(&mut self) -> Result<bool, AnalysisError> {
    if self.pos < self.len {
      return Ok(true);
    }
    if self.eof {
      return Ok(false);
    }
    self.base += self.len as u64;
    self.pos = 0;
    self.len = 0;
    loop {
      match self.source.read(&mut self.buf) {
        Ok(0) => {
          self.eof = true;
          return Ok(false);
        }
        Ok(n) => {
          self.len = n;
          return Ok(true);
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
        Err(e)
          if e
            .get_ref()
            .is_some_and(|inner| inner.is::<super::control::Cancelled>()) =>
        {
          return Err(AnalysisError::aborted())
        }
        Err(e) => return Err(AnalysisError::io(&e, "read")),
      }
    }
  }

  pub fn peek(&mut self) -> Result<Option<u8>, AnalysisError> {
    if self.fill()? {
      Ok(Some(self.buf[self.pos]))
    } else {
      Ok(None)
    }
  }

  /// The next byte; the end of input here means a truncated file.
  pub fn next(&mut self) -> Result<u8, AnalysisError> {
    if !self.fill()? {
      return Err(self.error(
        Kind::Truncated,
        "the file ends in the middle of the snapshot",
      ));
    }
    let b = self.buf[self.pos];
    self.pos += 1;
    Ok(b)
  }

  pub fn skip_ws(&mut self) -> Result<Option<u8>, AnalysisError> {
    loop {
      if !self.fill()? {
        return Ok(None);
      }
      while self.pos < self.len {
        let b = self.buf[self.pos];
        if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
          return Ok(Some(b));
        }
        self.pos += 1;
      }
    }
  }

  /// The next non-space byte, consumed.
  pub fn token(&mut self) -> Result<u8, AnalysisError> {
    match self.skip_ws()? {
      Some(_) => self.next(),
      None => Err(self.error(
        Kind::Truncated,
        "the file ends in the middle of the snapshot",
      )),
    }
  }

  pub fn expect(&mut self, want: u8) -> Result<(), AnalysisError> {
    let got = self.token()?;
    if got == want {
      Ok(())
    } else {
      self.pos -= 1;
      Err(self.error(
        Kind::Syntax,
        format!("expected '{}', found {}", want as char, describe(got)),
      ))
    }
  }

  /// Reads a JSON string (the opening quote already consumed) and appends its UTF-8 bytes.
  /// Lone surrogates become U+FFFD.
  pub fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), AnalysisError> {
    loop {
      if !self.fill()? {
        return Err(self.error(Kind::Truncated, "the file ends inside a string"));
      }
      let chunk = &self.buf[self.pos..self.len];
      match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
        None => {
          out.extend_from_slice(chunk);
          self.pos = self.len;
        }
        Some(i) => {
          out.extend_from_slice(&chunk[..i]);
          let b = chunk[i];
          self.pos += i + 1;
          if b == b'"' {
            return Ok(());
          }
          self.escape_into(out)?;
        }
      }
    }
  }

  fn escape_into(&mut self, out: &mut Vec<u8>) -> Result<(), AnalysisError> {
    let e = self.next()?;
    let simple = match e {
      b'"' => b'"',
      b'\\' => b'\\',
      b'/' => b'/',
      b'b' => 8,
      b'f' => 12,
      b'n' => b'\n',
      b'r' => b'\r',
      b't' => b'\t',
      b'u' => {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
          // A high surrogate: a low one must follow to make one code point.
          if self.peek()? == Some(b'\\') {
            self.pos += 1;
            if self.next()? != b'u' {
              return Err(self.error(Kind::Syntax, "bad escape in a string"));
            }
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
              0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            } else {
              push_char(out, 0xFFFD);
              lo
            }
          } else {
            0xFFFD
          }
        } else {
          hi
        };
        push_char(out, code);
        return Ok(());
      }
      other => {
        return Err(self.error(
          Kind::Syntax,
          format!("bad escape '\\{}' in a string", other as char),
        ))
      }
    };
    out.push(simple);
    Ok(())
  }

  fn hex4(&mut self) -> Result<u32, AnalysisError> {
    let mut v = 0u32;
    for _ in 0..4 {
      let b = self.next()?;
      let d = (b as char)
        .to_digit(16)
        .ok_or_else(|| self.error(Kind::Syntax, "bad \\u escape in a string"))?;
      v = v * 16 + d;
    }
    Ok(v)
  }

  /// Reads `[n, n, …]` of non-negative integers below 2^32 and hands each to `sink`, which
  /// may refuse a value with an error. Returns how many values were read.
  pub fn u32_array(
    &mut self,
    section: &str,
    mut sink: impl FnMut(u32) -> Result<(), AnalysisError>,
  ) -> Result<u64, AnalysisError> {
    self.expect(b'[')?;
    let mut state = NumState::Expect { first: true };
    let mut count = 0u64;
    loop {
      if !self.fill()? {
        return Err(self.error(
          Kind::Truncated,
          format!("the file ends inside \"{section}\""),
        ));
      }
      let (stop, outcome) = numbers(
        &self.buf[self.pos..self.len],
        &mut state,
        &mut count,
        &mut sink,
      );
      self.pos += stop;
      match outcome {
        Chunk::More => {}
        Chunk::Closed => return Ok(count),
        Chunk::Big => {
          return Err(self.error(
            Kind::Range,
            format!("a number in \"{section}\" is larger than 4294967295"),
          ))
        }
        Chunk::Bad(b) => return Err(self.bad_number(section, b)),
        Chunk::Refused(e) => return Err(e.with_offset(self.offset())),
      }
    }
  }

  fn bad_number(&self, section: &str, b: u8) -> AnalysisError {
    let kind = if b == b'-' || b == b'.' || b == b'e' || b == b'E' {
      Kind::Range
    } else {
      Kind::Syntax
    };
    self.error(
      kind,
      format!(
        "\"{section}\" must hold non-negative integers; found {}",
        describe(b)
      ),
    )
  }

  /// Skips one JSON value of any shape without recursion.
  pub fn skip_value(&mut self) -> Result<(), AnalysisError> {
    let mut stack: Vec<u8> = Vec::new();
    loop {
      let b = self.token()?;
      match b {
        b'{' | b'[' => {
          stack.push(b);
          // An empty container closes at once.
          let close = if b == b'{' { b'}' } else { b']' };
          if self.skip_ws()? == Some(close) {
            self.pos += 1;
            stack.pop();
          } else {
            if b == b'{' {
              self.expect(b'"')?;
              self.skip_string()?;
              self.expect(b':')?;
            }
            continue;
          }
        }
        b'"' => self.skip_string()?,
        b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => self.skip_scalar()?,
        _ => {
          self.pos -= 1;
          return Err(self.error(Kind::Syntax, format!("unexpected {}", describe(b))));
        }
      }
      // After a value: close containers, or move to the next member.
      loop {
        let Some(&open) = stack.last() else {
          return Ok(());
        };
        let b = self.token()?;
        match (open, b) {
          (b'[', b']') | (b'{', b'}') => {
            stack.pop();
          }
          (_, b',') => {
            if open == b'{' {
              self.expect(b'"')?;
              self.skip_string()?;
              self.expect(b':')?;
            }
            break;
          }
          _ => {
            self.pos -= 1;
            return Err(self.error(Kind::Syntax, format!("unexpected {}", describe(b))));
          }
        }
      }
      if stack.is_empty() {
        return Ok(());
      }
    }
  }

  fn skip_string(&mut self) -> Result<(), AnalysisError> {
    let mut sink = Vec::new();
    loop {
      if !self.fill()? {
        return Err(self.error(Kind::Truncated, "the file ends inside a string"));
      }
      let chunk = &self.buf[self.pos..self.len];
      match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
        None => self.pos = self.len,
        Some(i) => {
          let b = chunk[i];
          self.pos += i + 1;
          if b == b'"' {
            return Ok(());
          }
          sink.clear();
          self.escape_into(&mut sink)?;
        }
      }
    }
  }

  fn skip_scalar(&mut self) -> Result<(), AnalysisError> {
    while let Some(b) = self.peek()? {
      if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
        self.pos += 1;
      } else {
        break;
      }
    }
    Ok(())
  }

  /// After a member value: true when another member follows (`,`), false at `}`.
  pub fn member_end(&mut self) -> Result<bool, AnalysisError> {
    match self.token()? {
      b',' => Ok(true),
      b'}' => Ok(false),
      b => {
        self.pos -= 1;
        Err(self.error(
          Kind::Syntax,
          format!("expected ',' or '}}', found {}", describe(b)),
        ))
      }
    }
  }

  /// A member name: `"name":`. Returns the name.
  pub fn key(&mut self) -> Result<String, AnalysisError> {
    self.expect(b'"')?;
    let mut name = Vec::new();
    self.string_into(&mut name)?;
    self.expect(b':')?;
    Ok(String::from_utf8_lossy(&name).into_owned())
  }

  /// Consumes `n` bytes already peeked.
  pub fn bump(&mut self) {
    self.pos += 1;
  }
}

enum Chunk {
  More,
  Closed,
  Big,
  Bad(u8),
  Refused(AnalysisError),
}

/// The integer state machine over one buffered chunk: how far it got and why it stopped.
fn numbers(
  buf: &[u8],
  state: &mut NumState,
  count: &mut u64,
  sink: &mut impl FnMut(u32) -> Result<(), AnalysisError>,
) -> (usize, Chunk) {
  for (i, &b) in buf.iter().enumerate() {
    match *state {
      NumState::Digits { value } => {
        if b.is_ascii_digit() {
          let v = value * 10 + (b - b'0') as u64;
          if v > u32::MAX as u64 {
            return (i, Chunk::Big);
          }
          *state = NumState::Digits { value: v };
          continue;
        }
        if let Err(e) = sink(value as u32) {
          return (i, Chunk::Refused(e));
        }
        *count += 1;
        match b {
          b',' => *state = NumState::Expect { first: false },
          b']' => return (i + 1, Chunk::Closed),
          b' ' | b'\n' | b'\r' | b'\t' => *state = NumState::After,
          _ => return (i, Chunk::Bad(b)),
        }
      }
      NumState::Expect { first } => match b {
        b'0'..=b'9' => {
          *state = NumState::Digits {
            value: (b - b'0') as u64,
          }
        }
        b' ' | b'\n' | b'\r' | b'\t' => {}
        b']' if first => return (i + 1, Chunk::Closed),
        _ => return (i, Chunk::Bad(b)),
      },
      NumState::After => match b {
        b',' => *state = NumState::Expect { first: false },
        b']' => return (i + 1, Chunk::Closed),
        b' ' | b'\n' | b'\r' | b'\t' => {}
        _ => return (i, Chunk::Bad(b)),
      },
    }
  }
  (buf.len(), Chunk::More)
}

pub fn describe(b: u8) -> String {
  if b.is_ascii_graphic() {
    format!("'{}'", b as char)
  } else {
    format!("byte 0x{b:02x}")
  }
}

fn push_char(out: &mut Vec<u8>, code: u32) {
  let c = char::from_u32(code).unwrap_or('\u{FFFD}');
  let mut tmp = [0u8; 4];
  out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

#[cfg(test)]
mod tests {
  use super::*;

  fn scan(s: &str) -> Scanner<&[u8]> {
    Scanner::new(s.as_bytes())
  }

  #[test]
  fn integer_arrays_across_any_spacing() {
    let mut out = Vec::new();
    let n = scan(" [ 1,2 ,\n 30 , 4294967295]")
      .u32_array("nodes", |v| {
        out.push(v);
        Ok(())
      })
      .unwrap();
    assert_eq!(n, 4);
    assert_eq!(out, vec![1, 2, 30, 4294967295]);
    assert_eq!(scan("[]").u32_array("x", |_| Ok(())).unwrap(), 0);
  }

  #[test]
  fn integer_array_faults_have_kinds() {
    let kind = |s: &str| scan(s).u32_array("nodes", |_| Ok(())).unwrap_err().kind;
    assert_eq!(kind("[1,,2]"), Kind::Syntax);
    assert_eq!(kind("[1 2]"), Kind::Syntax);
    assert_eq!(kind("[1,]"), Kind::Syntax);
    assert_eq!(kind("[-1]"), Kind::Range);
    assert_eq!(kind("[1.5]"), Kind::Range);
    assert_eq!(kind("[4294967296]"), Kind::Range);
    assert_eq!(kind("[99999999999999999999999]"), Kind::Range);
    assert_eq!(kind("[1,2"), Kind::Truncated);
    assert_eq!(kind(""), Kind::Truncated);
  }

  #[test]
  fn strings_unescape_including_surrogate_pairs() {
    let mut s = scan(r#""a\"b\\c\n\u00e9\ud83d\ude00\ud800x""#);
    s.expect(b'"').unwrap();
    let mut out = Vec::new();
    s.string_into(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "a\"b\\c\né😀\u{FFFD}x");
  }

  #[test]
  fn skips_nested_values_without_recursion() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let mut s = scan(&deep);
    s.skip_value().unwrap();
    let mut s = scan(r#"{"a":[1,{"b":"x\"y"},true,null,-1.5e3],"c":{}} ,"#);
    s.skip_value().unwrap();
    assert_eq!(s.token().unwrap(), b',');
    let unclosed = "[".repeat(10);
    assert_eq!(
      scan(&unclosed).skip_value().unwrap_err().kind,
      Kind::Truncated
    );
  }
}
