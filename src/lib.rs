//! leakwatch: in-process memory leak detection for Node.js — the addon crate.
//!
//! The pure parts live in their own crates (`leakwatch-analysis`, `leakwatch-detection`);
//! this crate wires them to V8 and to JavaScript. ARCHITECTURE.md draws the tree and the
//! data flow.
//!
//! `unsafe` lives in three modules only, each a gateway to one foreign side: `v8/` (V8's
//! C++ API), `os` (libc) and `napi/` (Node-API). `monitor/` and `snapshot/` are compiled
//! with `deny(unsafe_code)` and use their safe wrappers. (A build with the `alloc-count`
//! feature, bench/soak's, adds `alloc_count`: a counting global allocator.)

#[cfg(feature = "alloc-count")]
mod alloc_count;
mod error;
#[deny(unsafe_code)]
mod monitor;
mod napi;
mod os;
#[deny(unsafe_code)]
mod snapshot;
mod v8;

pub use crate::napi::*;
