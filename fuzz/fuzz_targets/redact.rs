//! Redaction on arbitrary bytes: it must return a copy or an error with a kind, never panic;
//! a copy parses as the input does, with the same nodes and edges.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  if let Ok((copy, _)) = leakwatch_analysis::redact_bytes(data) {
    let before = leakwatch_analysis::parse_bytes(data).map_err(|e| e.kind);
    let after = leakwatch_analysis::parse_bytes(&copy).map_err(|e| e.kind);
    assert_eq!(before, after);
  }
});
