//! The streaming parser on arbitrary bytes: it must return a snapshot or an error with a
//! kind, never panic, never allocate beyond what the input's size allows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let _ = leakwatch_analysis::parse_bytes(data);
});
