//! The floor under `analyze()`'s speed on this machine: one plain pass that reads a file in
//! 1 MiB chunks and does nothing else, then one that also tokenises it as the parser must —
//! every integer's value (a digit scan) and every string skipped with memchr — on one thread,
//! without storing anything. bench/analyze/run.js `--big` runs it beside leakwatch.
//!
//!   cargo run --release -p leakwatch-analysis --example floor -- FILE
//!
//! Prints one JSON line: bytes, the two passes' seconds, and what the tokeniser counted.

use std::io::Read;
use std::time::Instant;

const CHUNK: usize = 1 << 20;

fn read_pass(path: &str) -> std::io::Result<u64> {
  let mut f = std::fs::File::open(path)?;
  let mut buf = vec![0u8; CHUNK];
  let mut total = 0u64;
  loop {
    let n = f.read(&mut buf)?;
    if n == 0 {
      return Ok(total);
    }
    total += n as u64;
  }
}

#[derive(Default)]
struct Tokens {
  numbers: u64,
  strings: u64,
  sum: u64,
  value: u64,
  in_number: bool,
  in_string: bool,
  escaped: bool,
}

impl Tokens {
  fn feed(&mut self, chunk: &[u8]) {
    let mut i = 0;
    while i < chunk.len() {
      if self.in_string {
        if self.escaped {
          self.escaped = false;
          i += 1;
          continue;
        }
        match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
          None => return,
          Some(k) => {
            i += k + 1;
            if chunk[i - 1] == b'\\' {
              self.escaped = true;
            } else {
              self.in_string = false;
              self.strings += 1;
            }
          }
        }
        continue;
      }
      let b = chunk[i];
      if b.is_ascii_digit() {
        self.value = self.value.wrapping_mul(10).wrapping_add((b - b'0') as u64);
        self.in_number = true;
      } else {
        if self.in_number {
          self.sum = self.sum.wrapping_add(self.value);
          self.numbers += 1;
          self.value = 0;
          self.in_number = false;
        }
        if b == b'"' {
          self.in_string = true;
        }
      }
      i += 1;
    }
  }
}

fn token_pass(path: &str) -> std::io::Result<Tokens> {
  let mut f = std::fs::File::open(path)?;
  let mut buf = vec![0u8; CHUNK];
  let mut t = Tokens::default();
  loop {
    let n = f.read(&mut buf)?;
    if n == 0 {
      return Ok(t);
    }
    t.feed(&buf[..n]);
  }
}

fn main() -> std::io::Result<()> {
  let path = std::env::args()
    .nth(1)
    .expect("usage: floor FILE (a .heapsnapshot)");
  let t0 = Instant::now();
  let bytes = read_pass(&path)?;
  let read_s = t0.elapsed().as_secs_f64();
  let t1 = Instant::now();
  let t = token_pass(&path)?;
  let token_s = t1.elapsed().as_secs_f64();
  println!(
    "{{\"bytes\":{bytes},\"readS\":{read_s:.3},\"tokeniseS\":{token_s:.3},\"numbers\":{},\"strings\":{},\"sum\":{}}}",
    t.numbers, t.strings, t.sum
  );
  Ok(())
}
