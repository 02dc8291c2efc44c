//! The whole analysis (parser, DOM state, dominators, distances, class names, interfaces,
//! retainer paths, report) on arbitrary bytes: a report or an error, never a panic.
#![no_main]

use leakwatch_analysis::{Control, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let limits = Limits {
    classes: 20,
    paths: 5,
    largest: 5,
    groups: 5,
  };
  let _ = leakwatch_analysis::analyze_bytes(data, &limits, &Control::default());
});
