//! A byte scanner over a reader for the one JSON shape a heap snapshot has: a top-level
//! object whose big members are flat arrays of integers and one array of strings. Nothing is
//! recursive: unknown values are skipped with an explicit bracket stack, and the small
//! header is read by `header.rs` with a depth limit.

use std::io::Read;
use std::sync::{mpsc, Mutex};

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
  /// Threads that parse the blocks of a numeric array.
  parsers: usize,
  /// Bytes searched for a block's last ',' so far: each byte once, however long a run
  /// without one (a test checks it).
  cut_searched: u64,
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
      parsers: super::threads::workers(),
      cut_searched: 0,
    }
  }

  /// How many threads parse the blocks of a numeric array (1: this one).
  pub fn set_parsers(&mut self, parsers: usize) {
    self.parsers = parsers.max(1);
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
    let n = read_some(&mut self.source, &mut self.buf)?;
    if n == 0 {
      self.eof = true;
      return Ok(false);
    }
    self.len = n;
    Ok(true)
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
  /// Lone surrogates become U+FFFD. Growth is `try_reserve`d: a string the allocator cannot
  /// hold is a `TooLarge` error, not an abort.
  pub fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), AnalysisError> {
    self.string_into_capped(out, usize::MAX).map(|_| ())
  }

  /// Like [`Scanner::string_into`], but keeps at most `cap` bytes in `out`; the rest of the
  /// string is read and dropped. Returns false when the string was cut.
  pub fn string_into_capped(
    &mut self,
    out: &mut Vec<u8>,
    cap: usize,
  ) -> Result<bool, AnalysisError> {
    let mut whole = true;
    let mut escaped = Vec::new();
    loop {
      if !self.fill()? {
        return Err(self.error(Kind::Truncated, "the file ends inside a string"));
      }
      let chunk = &self.buf[self.pos..self.len];
      let (take, end) = match memchr::memchr2(b'"', b'\\', chunk) {
        None => (chunk.len(), None),
        Some(i) => (i, Some(chunk[i])),
      };
      let room = cap.saturating_sub(out.len());
      let keep = take.min(room);
      whole &= keep == take;
      out
        .try_reserve(keep)
        .map_err(|_| AnalysisError::too_large("the strings"))?;
      out.extend_from_slice(&chunk[..keep]);
      match end {
        None => self.pos = self.len,
        Some(b) => {
          self.pos += take + 1;
          if b == b'"' {
            return Ok(whole);
          }
          escaped.clear();
          self.escape_into(&mut escaped)?;
          if out.len() + escaped.len() <= cap {
            out.extend_from_slice(&escaped);
          } else {
            whole = false;
          }
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

  /// Reads `[n, n, …]` of non-negative integers below 2^32: a flat table of rows of
  /// `fields` values. Blocks of the array are parsed on `parsers` threads, each into one column
  /// per field, while this thread reads ahead; `sink` gets each block's columns in file
  /// order (a block may start or end inside a row) and may refuse them with an error.
  /// Returns how many values were read.
  pub fn u32_array(
    &mut self,
    section: &str,
    fields: usize,
    sink: impl FnMut(&[Vec<u32>]) -> Result<(), AnalysisError>,
  ) -> Result<u64, AnalysisError> {
    self
      .u32_array_wide(section, fields, None, sink)
      .map(|(n, _)| n)
  }

  /// As [`Scanner::u32_array`], but the field `wide` may also hold values from 2^32 to
  /// 2^53 - 1 (a node's `self_size`: V8 writes it as a `size_t`, and an `ArrayBuffer`'s
  /// backing store can pass 4 GiB). Its column gets their low 32 bits; the values themselves
  /// are returned as `(row, value)`, few and in file order.
  pub fn u32_array_wide(
    &mut self,
    section: &str,
    fields: usize,
    wide: Option<usize>,
    mut sink: impl FnMut(&[Vec<u32>]) -> Result<(), AnalysisError>,
  ) -> Result<(u64, Vec<(u64, u64)>), AnalysisError> {
    let fields = fields.max(1);
    self.expect(b'[')?;
    let parsers = self.parsers.max(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<Block>(QUEUED_BLOCKS);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Parsed)>();
    let pool = Pool::default();
    // One parser runs on this thread: a thread of its own would only take turns with this
    // one, with more blocks and columns in flight.
    let inline = parsers == 1;
    std::thread::scope(|scope| {
      for _ in 0..parsers {
        if inline {
          break;
        }
        let done_tx = done_tx.clone();
        let job_rx = &job_rx;
        let pool = &pool;
        scope.spawn(move || loop {
          let job = match job_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
          };
          let Ok(mut block) = job else { return };
          let parsed = parse_block(&mut block);
          pool.give_bytes(block.bytes);
          if done_tx.send((block.seq, parsed)).is_err() {
            return;
          }
        });
      }
      drop(done_tx);
      let mut feeder = Feeder {
        wide_field: wide,
        ..Feeder::default()
      };
      let mut seq = 0usize;
      // Some(result): the array is complete or failed; None: all blocks sent, results due.
      let outcome: Option<Result<(), AnalysisError>> = loop {
        let mut block = match self.take_block(seq, &pool) {
          Ok(b) => b,
          Err(e) => break Some(Err(e)),
        };
        // The block's columns are made (or recycled) here, not on a parser thread: memory
        // comes back to the malloc arena of the thread that made it, and this thread's is
        // the one the columns after the parse are made in (a parser thread's arena keeps
        // it, out of malloc_trim's reach).
        block.columns = pool.columns(fields);
        let last = block.last;
        if inline {
          let parsed = parse_block(&mut block);
          pool.give_bytes(block.bytes);
          feeder.pending.insert(seq, parsed);
        } else if job_tx.send(block).is_err() {
          break Some(Err(AnalysisError::new(
            Kind::Internal,
            "a parser thread stopped",
          )));
        }
        seq += 1;
        while let Ok((i, parsed)) = done_rx.try_recv() {
          feeder.pending.insert(i, parsed);
        }
        if let Some(result) = feeder.feed(&mut sink, section, &pool) {
          break Some(result);
        }
        if last {
          break None;
        }
      };
      drop(job_tx);
      let outcome = match outcome {
        Some(result) => result,
        None => loop {
          if let Some(result) = feeder.feed(&mut sink, section, &pool) {
            break result.map(|_| ());
          }
          match done_rx.recv() {
            Ok((i, parsed)) => {
              feeder.pending.insert(i, parsed);
            }
            Err(_) => {
              break Err(AnalysisError::new(
                Kind::Internal,
                "a parser thread stopped",
              ));
            }
          }
        },
      };
      outcome.map(|_| (feeder.count, feeder.wide))
    })
  }

  /// The next block of a numeric array: about `BLOCK` bytes ending just after a ',', or the
  /// rest up to and including the closing ']' (`last`). The file is read straight into the
  /// block (a recycled buffer, no copy through the read buffer); bytes after the cut go
  /// back into the read buffer.
  fn take_block(&mut self, seq: usize, pool: &Pool) -> Result<Block, AnalysisError> {
    let base = self.offset();
    let mut bytes = pool.bytes();
    let carry = self.len - self.pos;
    if bytes.len() < carry + CHUNK {
      bytes.resize(carry + CHUNK, 0);
    }
    bytes[..carry].copy_from_slice(&self.buf[self.pos..self.len]);
    self.pos = self.len;
    let mut filled = carry;
    let mut scanned = 0usize;
    // Where the search for the last ',' resumes: the bytes before it hold none.
    let mut comma_from = 0usize;
    loop {
      if let Some(p) = memchr::memchr(b']', &bytes[scanned..filled]) {
        let end = scanned + p + 1;
        self.unread(&bytes[end..filled], base + end as u64);
        return Ok(Block {
          seq,
          base,
          bytes,
          len: end,
          columns: Vec::new(),
          last: true,
          eof: false,
        });
      }
      scanned = filled;
      if filled >= BLOCK {
        self.cut_searched += (filled - comma_from) as u64;
        let last_comma = memchr::memrchr(b',', &bytes[comma_from..filled]).map(|c| comma_from + c);
        comma_from = filled;
        if let Some(c) = last_comma {
          self.unread(&bytes[c + 1..filled], base + c as u64 + 1);
          return Ok(Block {
            seq,
            base,
            bytes,
            len: c + 1,
            columns: Vec::new(),
            last: false,
            eof: false,
          });
        }
      }
      if self.eof {
        return Ok(self.ended(seq, base, bytes, filled));
      }
      if filled == bytes.len() {
        // No ',' in the whole block yet (a crafted file): it grows.
        bytes.resize(filled + CHUNK, 0);
      }
      let n = read_some(&mut self.source, &mut bytes[filled..])?;
      if n == 0 {
        self.eof = true;
        return Ok(self.ended(seq, base, bytes, filled));
      }
      filled += n;
    }
  }

  /// The last block when the file ends before the array closes: everything is consumed.
  fn ended(&mut self, seq: usize, base: u64, bytes: Vec<u8>, len: usize) -> Block {
    self.base = base + len as u64;
    self.pos = 0;
    self.len = 0;
    Block {
      seq,
      base,
      bytes,
      len,
      columns: Vec::new(),
      last: true,
      eof: true,
    }
  }

  /// Makes `bytes`, which start at file offset `at`, the next bytes to read.
  fn unread(&mut self, bytes: &[u8], at: u64) {
    if self.buf.len() < bytes.len() {
      self.buf.resize(bytes.len(), 0);
    }
    self.buf[..bytes.len()].copy_from_slice(bytes);
    self.len = bytes.len();
    self.pos = 0;
    self.base = at;
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
      match memchr::memchr2(b'"', b'\\', chunk) {
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

  /// A member name: `"name":`. Returns the name; a name longer than 1 KiB (no snapshot
  /// member has one) is cut and marked so that it matches no member leakwatch reads.
  pub fn key(&mut self) -> Result<String, AnalysisError> {
    self.expect(b'"')?;
    let mut name = Vec::new();
    let whole = self.string_into_capped(&mut name, MAX_KEY_BYTES)?;
    self.expect(b':')?;
    let mut key = String::from_utf8_lossy(&name).into_owned();
    if !whole {
      key.push_str("\u{FFFD}…");
    }
    Ok(key)
  }

  /// Consumes `n` bytes already peeked.
  pub fn bump(&mut self) {
    self.pos += 1;
  }
}

/// Longest member name kept (see [`Scanner::key`]).
const MAX_KEY_BYTES: usize = 1024;

/// Size of the blocks numeric arrays are cut into for the parser threads.
const BLOCK: usize = 4 << 20;
/// Blocks read ahead while every parser thread is busy.
const QUEUED_BLOCKS: usize = 2;

struct Block {
  seq: usize,
  /// File offset of `bytes[0]`.
  base: u64,
  /// A recycled buffer: the block is its first `len` bytes.
  bytes: Vec<u8>,
  len: usize,
  /// Recycled columns for its values, one per field.
  columns: Vec<Vec<u32>>,
  /// The block ends the array (or the file).
  last: bool,
  /// The file ended before the array closed.
  eof: bool,
}

/// What a parser thread made of a block, and how the block ended. The block's first value
/// is in `columns[0]`, the next in `columns[1]`, …: which field that is depends on how many
/// values came before, which only the reader knows; it rotates the columns into place.
struct Parsed {
  columns: Vec<Vec<u32>>,
  values: u64,
  /// Values of 2^32 and above, by their index in the block.
  wide: Vec<Wide>,
  end: Result<bool, (u64, BlockFault)>,
}

/// A value of 2^32 or more: its index among the block's values, and the file offset just
/// after it (for the error when its field may not hold it).
struct Wide {
  index: u64,
  value: u64,
  at: u64,
}

/// The largest value a wide field may hold: JavaScript numbers are exact up to here.
const MAX_WIDE: u64 = (1 << 53) - 1;

enum BlockFault {
  Big,
  Bad(u8),
  Truncated,
}

fn parse_block(block: &mut Block) -> Parsed {
  let mut out = Columns {
    columns: std::mem::take(&mut block.columns),
    field: 0,
    values: 0,
    wide: Vec::new(),
  };
  let (stop, outcome) = numbers(&block.bytes[..block.len], block.seq == 0, &mut out);
  let at = block.base + stop as u64;
  out.wide.iter_mut().for_each(|w| w.at += block.base);
  let end = match outcome {
    Chunk::Closed => Ok(true),
    Chunk::More if block.eof => Err((at, BlockFault::Truncated)),
    Chunk::More => Ok(false),
    Chunk::Big => Err((at, BlockFault::Big)),
    Chunk::Bad(b) => Err((at, BlockFault::Bad(b))),
  };
  Parsed {
    columns: out.columns,
    values: out.values,
    wide: out.wide,
    end,
  }
}

/// Buffers handed back and forth between the reader and the parser threads, so a large
/// array does not allocate (and fault in) fresh memory for every block.
#[derive(Default)]
struct Pool {
  bytes: Mutex<Vec<Vec<u8>>>,
  columns: Mutex<Vec<Vec<Vec<u32>>>>,
}

impl Pool {
  /// A block buffer, at its full length: the file is read into it directly, so it is
  /// zeroed once (fresh pages from the allocator), never between blocks.
  fn bytes(&self) -> Vec<u8> {
    let recycled = self.bytes.lock().ok().and_then(|mut free| free.pop());
    recycled.unwrap_or_else(|| vec![0; BLOCK + CHUNK])
  }

  fn give_bytes(&self, b: Vec<u8>) {
    if let Ok(mut free) = self.bytes.lock() {
      free.push(b);
    }
  }

  fn columns(&self, fields: usize) -> Vec<Vec<u32>> {
    let recycled = self.columns.lock().ok().and_then(|mut free| free.pop());
    let mut c = recycled.unwrap_or_else(|| {
      (0..fields)
        .map(|_| Vec::with_capacity(BLOCK / (2 * fields)))
        .collect()
    });
    c.iter_mut().for_each(Vec::clear);
    c
  }

  fn give_columns(&self, c: Vec<Vec<u32>>) {
    if let Ok(mut free) = self.columns.lock() {
      free.push(c);
    }
  }
}

/// Values dealt into columns by field, the next one going to `field`.
struct Columns {
  columns: Vec<Vec<u32>>,
  field: usize,
  values: u64,
  wide: Vec<Wide>,
}

impl Columns {
  #[inline]
  fn push(&mut self, v: u32) {
    self.columns[self.field].push(v);
    self.field += 1;
    if self.field == self.columns.len() {
      self.field = 0;
    }
    self.values += 1;
  }
}

/// Hands parsed blocks to the sink in file order.
#[derive(Default)]
struct Feeder {
  pending: std::collections::BTreeMap<usize, Parsed>,
  next: usize,
  count: u64,
  /// The field that may hold values of 2^32 and above, and those values as (row, value).
  wide_field: Option<usize>,
  wide: Vec<(u64, u64)>,
}

impl Feeder {
  /// Feeds every block that is next in order. `Some` once the array is complete or failed.
  fn feed(
    &mut self,
    sink: &mut impl FnMut(&[Vec<u32>]) -> Result<(), AnalysisError>,
    section: &str,
    pool: &Pool,
  ) -> Option<Result<(), AnalysisError>> {
    while let Some(mut parsed) = self.pending.remove(&self.next) {
      self.next += 1;
      // The block's first value belongs to field (values so far) mod fields.
      let fields = parsed.columns.len();
      parsed
        .columns
        .rotate_right((self.count % fields as u64) as usize);
      for w in &parsed.wide {
        let index = self.count + w.index;
        let field = (index % fields as u64) as usize;
        if Some(field) != self.wide_field {
          return Some(Err(AnalysisError::at(
            Kind::Range,
            format!("a number in \"{section}\" is larger than 4294967295"),
            w.at,
          )));
        }
        self.wide.push((index / fields as u64, w.value));
      }
      if parsed.end.is_ok() {
        if let Err(e) = sink(&parsed.columns) {
          return Some(Err(e));
        }
      }
      self.count += parsed.values;
      pool.give_columns(parsed.columns);
      match parsed.end {
        Ok(true) => return Some(Ok(())),
        Ok(false) => {}
        Err((at, fault)) => {
          let e = match fault {
            BlockFault::Big => AnalysisError::at(
              Kind::Range,
              format!("a number in \"{section}\" is larger than 4294967295"),
              at,
            ),
            BlockFault::Bad(b) => bad_number(section, b).with_offset(at),
            BlockFault::Truncated => AnalysisError::at(
              Kind::Truncated,
              format!("the file ends inside \"{section}\""),
              at,
            ),
          };
          return Some(Err(e));
        }
      }
    }
    None
  }
}

enum Chunk {
  More,
  Closed,
  Big,
  Bad(u8),
}

/// The integers of one block: how far it got and why it stopped. A block starts where a
/// value may (after the array's `[` when `first`, else after a `,`), so no number is split
/// between two blocks; a number the block ends inside is not pushed (`More`: the caller
/// knows whether the file ended there). A tight loop per number and its delimiter rather
/// than a state per byte: V8 writes `n,n,n\n,n…`.
fn numbers(buf: &[u8], first: bool, out: &mut Columns) -> (usize, Chunk) {
  let n = buf.len();
  let mut i = 0;
  let mut first = first;
  loop {
    // Where a value (or `]` right after `[`) must come.
    while i < n && is_space(buf[i]) {
      i += 1;
    }
    if i == n {
      return (n, Chunk::More);
    }
    let b = buf[i];
    if b == b']' && first {
      return (i + 1, Chunk::Closed);
    }
    if !b.is_ascii_digit() {
      return (i, Chunk::Bad(b));
    }
    let mut value = (b - b'0') as u64;
    i += 1;
    loop {
      if i == n {
        return (n, Chunk::More);
      }
      let d = buf[i].wrapping_sub(b'0');
      if d > 9 {
        break;
      }
      value = value * 10 + d as u64;
      if value > MAX_WIDE {
        return (i, Chunk::Big);
      }
      i += 1;
    }
    if value > u32::MAX as u64 {
      out.wide.push(Wide {
        index: out.values,
        value,
        at: i as u64,
      });
    }
    out.push(value as u32);
    first = false;
    // After a number: `,` or `]`, maybe after spaces.
    while is_space(buf[i]) {
      i += 1;
      if i == n {
        return (n, Chunk::More);
      }
    }
    match buf[i] {
      b',' => i += 1,
      b']' => return (i + 1, Chunk::Closed),
      b => return (i, Chunk::Bad(b)),
    }
  }
}

#[inline(always)]
fn is_space(b: u8) -> bool {
  matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

fn bad_number(section: &str, b: u8) -> AnalysisError {
  let kind = if b == b'-' || b == b'.' || b == b'e' || b == b'E' {
    Kind::Range
  } else {
    Kind::Syntax
  };
  AnalysisError::new(
    kind,
    format!(
      "\"{section}\" must hold non-negative integers; found {}",
      describe(b)
    ),
  )
}

pub fn describe(b: u8) -> String {
  if b.is_ascii_graphic() {
    format!("'{}'", b as char)
  } else {
    format!("byte 0x{b:02x}")
  }
}

/// One `read` into `buf` (retried when interrupted); 0 at the end of the input. A cancelled
/// read (see `control::Tracked`) is `Aborted`.
pub(crate) fn read_some<R: Read>(source: &mut R, buf: &mut [u8]) -> Result<usize, AnalysisError> {
  loop {
    match source.read(buf) {
      Ok(n) => return Ok(n),
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
    let mut out = vec![Vec::new(), Vec::new()];
    let n = scan(" [ 1,2 ,\n 30 , 4294967295]")
      .u32_array("nodes", 2, |cols| {
        out[0].extend_from_slice(&cols[0]);
        out[1].extend_from_slice(&cols[1]);
        Ok(())
      })
      .unwrap();
    assert_eq!(n, 4);
    assert_eq!(out, vec![vec![1, 30], vec![2, 4294967295]]);
    assert_eq!(scan("[]").u32_array("x", 1, |_| Ok(())).unwrap(), 0);
  }

  #[test]
  fn integer_array_faults_have_kinds() {
    let kind = |s: &str| scan(s).u32_array("nodes", 1, |_| Ok(())).unwrap_err().kind;
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
  fn the_wide_field_holds_values_past_2_pow_32() {
    let mut out: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    let (n, wide) = scan("[1,4294967296,3,5000000000,5,9007199254740991]")
      .u32_array_wide("nodes", 2, Some(1), |cols| {
        out[0].extend_from_slice(&cols[0]);
        out[1].extend_from_slice(&cols[1]);
        Ok(())
      })
      .unwrap();
    assert_eq!(n, 6);
    assert_eq!(out[0], [1, 3, 5]);
    assert_eq!(wide, [(0, 1 << 32), (1, 5_000_000_000), (2, (1 << 53) - 1)]);
    assert_eq!(
      out[1][1], 5_000_000_000u64 as u32,
      "the column has the low word"
    );
    // Any other field, or past 2^53 - 1, is refused where the number is.
    let err = scan("[1,2,4294967296,4]")
      .u32_array_wide("nodes", 2, Some(1), |_| Ok(()))
      .unwrap_err();
    assert_eq!((err.kind, err.offset), (Kind::Range, Some(15)));
    let err = scan("[1,9007199254740992]")
      .u32_array_wide("nodes", 2, Some(1), |_| Ok(()))
      .unwrap_err();
    assert_eq!(err.kind, Kind::Range);
  }

  #[test]
  fn wide_values_keep_their_rows_across_blocks() {
    // Rows of 3 over several 4 MiB blocks: every 1000th row's middle field is past 2^32.
    let rows = 600_000u64;
    let text = format!(
      "[{}]",
      (0..rows)
        .map(|r| {
          let v = if r % 1000 == 7 { (1 << 32) + r } else { r };
          format!("{r},{v},9")
        })
        .collect::<Vec<_>>()
        .join(",")
    );
    let (n, wide) = scan(&text)
      .u32_array_wide("nodes", 3, Some(1), |_| Ok(()))
      .unwrap();
    assert_eq!(n, rows * 3);
    let want: Vec<(u64, u64)> = (0..rows)
      .filter(|r| r % 1000 == 7)
      .map(|r| (r, (1 << 32) + r))
      .collect();
    assert_eq!(wide, want);
  }

  #[test]
  fn blocks_cut_inside_rows_keep_every_value_in_its_field() {
    // Several 4 MiB blocks whose cuts fall anywhere in a 7-field row.
    let rows = 400_000u32;
    let text = format!(
      "[{}]",
      (0..rows * 7)
        .map(|v| (v % 7 * 1000 + v / 7 % 1000).to_string())
        .collect::<Vec<_>>()
        .join(",")
    );
    assert!(text.len() > 2 * BLOCK);
    let mut columns = vec![Vec::new(); 7];
    let n = scan(&text)
      .u32_array("nodes", 7, |cols| {
        for (all, block) in columns.iter_mut().zip(cols) {
          all.extend_from_slice(block);
        }
        Ok(())
      })
      .unwrap();
    assert_eq!(n, rows as u64 * 7);
    for (field, column) in columns.iter().enumerate() {
      assert_eq!(column.len(), rows as usize);
      assert!(column
        .iter()
        .enumerate()
        .all(|(r, &v)| v == field as u32 * 1000 + r as u32 % 1000));
    }
  }

  #[test]
  fn a_long_run_without_a_comma_is_searched_once() {
    // 24 MiB of spacing between two values: the block grows a chunk at a time, and each
    // chunk must be searched for the block's last ',' once, not the whole block again.
    let text = format!("[1{},2{},3]", " ".repeat(24 << 20), " ".repeat(8 << 20));
    let mut s = scan(&text);
    let mut values = Vec::new();
    let n = s
      .u32_array("nodes", 1, |cols| {
        values.extend_from_slice(&cols[0]);
        Ok(())
      })
      .unwrap();
    assert_eq!((n, values), (3, vec![1, 2, 3]));
    assert!(
      s.cut_searched <= 2 * text.len() as u64,
      "{} bytes searched for a ',' in {} bytes",
      s.cut_searched,
      text.len()
    );
  }

  #[test]
  fn any_number_of_parser_threads_gives_the_same_columns() {
    let text = format!(
      "[{}]",
      (0..3_000_000u32)
        .map(|v| (v % 100_003).to_string())
        .collect::<Vec<_>>()
        .join(",")
    );
    assert!(text.len() > 3 * BLOCK);
    let columns_with = |parsers: usize| {
      let mut s = scan(&text);
      s.parsers = parsers;
      let mut columns = vec![Vec::new(); 5];
      let n = s
        .u32_array("edges", 5, |cols| {
          for (all, block) in columns.iter_mut().zip(cols) {
            all.extend_from_slice(block);
          }
          Ok(())
        })
        .unwrap();
      (n, columns)
    };
    let one = columns_with(1);
    assert_eq!(one.0, 3_000_000);
    for parsers in [2, 3, 8] {
      assert!(columns_with(parsers) == one, "{parsers} parser threads");
    }
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
