//! One error type with stable codes, free of napi types. `src/napi/error.rs` turns it into a
//! napi-rs error whose status is the code, so it reaches JavaScript as an `Error` whose `code`
//! is `ERR_LEAKWATCH_*` and whose message is the message alone.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
  /// A V8 symbol is not exported by the running binary: GC hooks fall back to perf_hooks.
  V8SymbolMissing,
  /// V8 hooks were disabled by the operator (LEAKWATCH_DISABLE_V8_SYMBOLS).
  V8HooksDisabled,
  /// The running V8 is one leakwatch cannot read (version or struct layout).
  V8Unsupported,
  /// No isolate is entered on the calling thread.
  NoIsolate,
  /// The background thread could not be started.
  ThreadSpawn,
  /// A snapshot file could not be created, written, closed or renamed (nothing left behind).
  SnapshotWrite,
  /// A snapshot was abandoned for an internal reason (nothing left behind).
  SnapshotInternal,
  /// The near-heap-limit snapshot could not be set up (a Node-API call failed).
  SnapshotUnavailable,
  /// A Node-API call failed while starting to watch the isolate.
  Native,
}

impl ErrorCode {
  pub fn as_str(self) -> &'static str {
    match self {
      ErrorCode::V8SymbolMissing => "ERR_LEAKWATCH_V8_SYMBOL_MISSING",
      ErrorCode::V8HooksDisabled => "ERR_LEAKWATCH_V8_HOOKS_DISABLED",
      ErrorCode::V8Unsupported => "ERR_LEAKWATCH_V8_UNSUPPORTED",
      ErrorCode::NoIsolate => "ERR_LEAKWATCH_NO_ISOLATE",
      ErrorCode::ThreadSpawn => "ERR_LEAKWATCH_THREAD_SPAWN",
      ErrorCode::SnapshotWrite => "ERR_LEAKWATCH_SNAPSHOT_WRITE",
      ErrorCode::SnapshotInternal => "ERR_LEAKWATCH_SNAPSHOT_INTERNAL",
      ErrorCode::SnapshotUnavailable => "ERR_LEAKWATCH_SNAPSHOT_UNAVAILABLE",
      ErrorCode::Native => "ERR_LEAKWATCH_NATIVE",
    }
  }
}

/// The code as a napi-rs status: napi-rs makes it the JS error's `code`.
impl AsRef<str> for ErrorCode {
  fn as_ref(&self) -> &str {
    self.as_str()
  }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakwatchError {
  pub code: ErrorCode,
  pub message: String,
}

impl LeakwatchError {
  pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
    LeakwatchError {
      code,
      message: message.into(),
    }
  }
}

impl fmt::Display for LeakwatchError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}: {}", self.code.as_str(), self.message)
  }
}

impl std::error::Error for LeakwatchError {}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn codes_are_prefixed_and_distinct() {
    let all = [
      ErrorCode::V8SymbolMissing,
      ErrorCode::V8HooksDisabled,
      ErrorCode::V8Unsupported,
      ErrorCode::NoIsolate,
      ErrorCode::ThreadSpawn,
      ErrorCode::SnapshotWrite,
      ErrorCode::SnapshotInternal,
      ErrorCode::SnapshotUnavailable,
      ErrorCode::Native,
    ];
    let mut seen = std::collections::HashSet::new();
    for code in all {
      assert!(code.as_str().starts_with("ERR_LEAKWATCH_"));
      assert!(seen.insert(code.as_str()));
    }
  }
}
