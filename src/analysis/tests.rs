//! Tests over whole snapshots.
