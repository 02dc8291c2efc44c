//! The addon's errors as napi-rs errors with a custom status: the status is the
//! `ERR_LEAKWATCH_*` code, which napi-rs sets as the JS error's `code` (the message is the
//! message alone, never prefixed by the code).

use crate::error::{ErrorCode, LeakwatchError};

/// What a `#[napi]` function of this addon returns: failures throw an `Error` with `code`.
pub type Result<T> = napi::Result<T, ErrorCode>;

impl From<LeakwatchError> for napi::Error<ErrorCode> {
  fn from(err: LeakwatchError) -> Self {
    napi::Error::new(err.code, err.message)
  }
}

/// A failed Node-API call (napi-rs's own error) under one of the addon's codes.
pub fn napi_failure(code: ErrorCode) -> impl FnOnce(napi::Error) -> napi::Error<ErrorCode> {
  move |err| napi::Error::new(code, err.reason)
}
