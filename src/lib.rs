//! leakwatch: in-process memory leak detection for Node.js — the addon crate.
//!
//! The pure parts live in their own crates (`leakwatch-analysis`, `leakwatch-detection`);
//! this crate wires them to V8 and to JavaScript. ARCHITECTURE.md draws the tree and the
//! data flow.

mod error;
mod monitor;
mod napi;
mod snapshot;
mod v8;

pub use crate::napi::*;
