//! The few V8 C++ entry points leakwatch needs, declared for Rust and resolved at run time.
//!
//! Node-API has no GC-callback API, but the `node` binary exports V8's C++ symbols. Each one
//! is declared here with the Itanium-mangled name that bindgen would emit for its `v8.h`
//! declaration, and looked up with `dlsym` in the already-loaded process. Nothing is linked
//! at build time (no C++ compiler, no Node headers), and a missing symbol is an error value
//! the caller turns into an `error` event and a `perf_hooks` fallback — never an
//! undefined-symbol failure at `require()`.
//!
//! Every `unsafe` V8 call of the addon is in this module, one foreign operation per
//! `unsafe` block, each with the reason it holds.

#![deny(clippy::multiple_unsafe_ops_per_block)]

/// Resolves a symbol as the given function pointer type: one mangled name, or `&[…]` the
/// names one function has in different V8 versions (the first the binary exports wins).
macro_rules! resolve {
  (&[$($name:expr),+], $ty:ty) => {{
    let ptr = crate::v8::lookup_any(&[$($name),+])?;
    // SAFETY: each candidate's mangled name encodes a C++ signature with exactly the ABI that
    // `$ty` declares (see the type declarations next to each name).
    unsafe { std::mem::transmute::<*mut c_void, $ty>(ptr) }
  }};
  ($name:expr, $ty:ty) => {
    resolve!(&[$name], $ty)
  };
}

mod census;
pub mod gc_hooks;
pub mod gc_type;
mod heap_profiler;
mod heap_spaces;
mod heap_statistics;
mod near_heap_limit;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

pub use census::Census;
pub use heap_profiler::{
  IsolateProfiler, ProfilerApi, SnapshotProgress, SnapshotSink, TakeOutcome,
};
pub use heap_spaces::SpaceFigures;
pub use heap_statistics::HeapStatisticsBuffer;
pub use near_heap_limit::{NearHeapLimitCallback, NearHeapLimitHandler};

use crate::error::{ErrorCode, LeakwatchError};
use crate::monitor::record::HeapFigures;
use crate::v8::gc_type::{v8_major, GcTypeMap, MIN_V8_MAJOR};

/// Opaque `v8::Isolate`.
#[repr(C)]
pub struct Isolate {
  _private: [u8; 0],
}

/// `v8::Isolate::GCCallbackWithData`:
/// `void (*)(Isolate* isolate, GCType type, GCCallbackFlags flags, void* data)`.
/// Both enums are passed as `int`.
pub type GcCallbackWithData =
  unsafe extern "C" fn(isolate: *mut Isolate, gc_type: u32, flags: u32, data: *mut c_void);

/// v8-isolate.h: `static Isolate* GetCurrent();`
type GetCurrentFn = unsafe extern "C" fn() -> *mut Isolate;
/// v8-isolate.h: `void AddGCPrologueCallback(GCCallbackWithData callback, void* data = nullptr,
/// GCType gc_type_filter = kGCTypeAll);` (same shape for `AddGCEpilogueCallback`).
type AddGcCallbackFn = unsafe extern "C" fn(
  this: *mut Isolate,
  callback: GcCallbackWithData,
  data: *mut c_void,
  gc_type_filter: u32,
);
/// v8-isolate.h: `void RemoveGCPrologueCallback(GCCallbackWithData, void* data = nullptr);`
/// (same shape for `RemoveGCEpilogueCallback`).
type RemoveGcCallbackFn =
  unsafe extern "C" fn(this: *mut Isolate, callback: GcCallbackWithData, data: *mut c_void);
/// v8-isolate.h: `void GetHeapStatistics(HeapStatistics* heap_statistics);`
type GetHeapStatisticsFn =
  unsafe extern "C" fn(this: *mut Isolate, stats: *mut HeapStatisticsBuffer);
/// v8-statistics.h: `HeapStatistics();` (complete-object constructor, C1).
type HeapStatisticsCtorFn = unsafe extern "C" fn(this: *mut HeapStatisticsBuffer);
/// v8-isolate.h: `void LowMemoryNotification();`
type LowMemoryNotificationFn = unsafe extern "C" fn(this: *mut Isolate);
/// v8-isolate.h: `void MemoryPressureNotification(MemoryPressureLevel level);`
/// (`enum class MemoryPressureLevel { kNone, kModerate, kCritical }`, an `int`).
type MemoryPressureNotificationFn = unsafe extern "C" fn(this: *mut Isolate, level: c_int);
/// v8-initialization.h: `static const char* V8::GetVersion();`
type GetVersionFn = unsafe extern "C" fn() -> *const c_char;

const GET_CURRENT: &str = "_ZN2v87Isolate10GetCurrentEv";
const ADD_GC_PROLOGUE: &str =
  "_ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
const ADD_GC_EPILOGUE: &str =
  "_ZN2v87Isolate21AddGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
const REMOVE_GC_PROLOGUE: &str =
  "_ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
const REMOVE_GC_EPILOGUE: &str =
  "_ZN2v87Isolate24RemoveGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
const GET_HEAP_STATISTICS: &str = "_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE";
const HEAP_STATISTICS_CTOR: &str = "_ZN2v814HeapStatisticsC1Ev";
const LOW_MEMORY_NOTIFICATION: &str = "_ZN2v87Isolate21LowMemoryNotificationEv";
const MEMORY_PRESSURE_NOTIFICATION: &str =
  "_ZN2v87Isolate26MemoryPressureNotificationENS_19MemoryPressureLevelE";
const GET_VERSION: &str = "_ZN2v82V810GetVersionEv";

/// Set to a non-empty value other than "0" to never call into V8 directly (operators'
/// escape hatch; monitoring then uses perf_hooks and `leakwatch.gc()` uses `gc()`).
const DISABLE_ENV: &str = "LEAKWATCH_DISABLE_V8_SYMBOLS";

/// Resolved V8 entry points. Process-wide: symbols do not differ between isolates.
pub struct V8Api {
  get_current: GetCurrentFn,
  add_gc_prologue: AddGcCallbackFn,
  add_gc_epilogue: AddGcCallbackFn,
  remove_gc_prologue: RemoveGcCallbackFn,
  remove_gc_epilogue: RemoveGcCallbackFn,
  get_heap_statistics: GetHeapStatisticsFn,
  heap_statistics_ctor: HeapStatisticsCtorFn,
  low_memory_notification: LowMemoryNotificationFn,
  memory_pressure_notification: MemoryPressureNotificationFn,
  /// `V8::GetVersion()`, e.g. "11.3.244.8-node.33".
  pub version: String,
  pub gc_types: GcTypeMap,
}

/// Looks a symbol up in the running process.
/// The first of `names` (mangled names of one function as different V8 versions spell it)
/// that the running binary exports. The error says what is missing, not what follows from
/// it: each caller adds that.
fn lookup_any(names: &[&str]) -> Result<*mut c_void, LeakwatchError> {
  names
    .iter()
    .find_map(|name| {
      let c_name = std::ffi::CString::new(*name).ok()?;
      crate::os::lookup_symbol(&c_name).map(|ptr| ptr.as_ptr())
    })
    .ok_or_else(|| {
      let which = names.join(" or ");
      LeakwatchError::new(
        ErrorCode::V8SymbolMissing,
        format!("the V8 symbol {which} is not exported by this Node.js binary"),
      )
    })
}

/// Fails when the operator turned direct V8 calls off.
fn check_not_disabled() -> Result<(), LeakwatchError> {
  if std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
    return Err(LeakwatchError::new(
      ErrorCode::V8HooksDisabled,
      format!(
        "direct V8 calls are disabled by {DISABLE_ENV}; GC monitoring uses perf_hooks and \
         leakwatch writes no heap snapshots"
      ),
    ));
  }
  Ok(())
}

/// The GC type map for the running V8, or why it has none.
fn gc_type_map(version: &str) -> Result<GcTypeMap, LeakwatchError> {
  let major = v8_major(version).ok_or_else(|| {
    LeakwatchError::new(
      ErrorCode::V8Unsupported,
      format!("cannot read the V8 version from {version:?}"),
    )
  })?;
  GcTypeMap::for_v8_major(major).ok_or_else(|| {
    LeakwatchError::new(
      ErrorCode::V8Unsupported,
      format!(
        "V8 {version} is not supported (leakwatch needs V8 {MIN_V8_MAJOR} or later; it is \
         built for Node.js 20 and later); GC monitoring falls back to perf_hooks"
      ),
    )
  })
}

impl V8Api {
  fn resolve() -> Result<V8Api, LeakwatchError> {
    check_not_disabled()?;
    let get_version = resolve!(GET_VERSION, GetVersionFn);
    // SAFETY: the symbol has this signature; GetVersion has no preconditions.
    let version = unsafe { get_version() };
    // SAFETY: GetVersion returns a pointer to a static NUL-terminated string, never freed.
    let version = unsafe { CStr::from_ptr(version) }
      .to_string_lossy()
      .into_owned();
    let gc_types = gc_type_map(&version)?;
    Ok(V8Api {
      get_current: resolve!(GET_CURRENT, GetCurrentFn),
      add_gc_prologue: resolve!(ADD_GC_PROLOGUE, AddGcCallbackFn),
      add_gc_epilogue: resolve!(ADD_GC_EPILOGUE, AddGcCallbackFn),
      remove_gc_prologue: resolve!(REMOVE_GC_PROLOGUE, RemoveGcCallbackFn),
      remove_gc_epilogue: resolve!(REMOVE_GC_EPILOGUE, RemoveGcCallbackFn),
      get_heap_statistics: resolve!(GET_HEAP_STATISTICS, GetHeapStatisticsFn),
      heap_statistics_ctor: resolve!(HEAP_STATISTICS_CTOR, HeapStatisticsCtorFn),
      low_memory_notification: resolve!(LOW_MEMORY_NOTIFICATION, LowMemoryNotificationFn),
      memory_pressure_notification: resolve!(
        MEMORY_PRESSURE_NOTIFICATION,
        MemoryPressureNotificationFn
      ),
      version,
      gc_types,
    })
  }

  /// The process's V8 API, resolved once.
  pub fn get() -> Result<&'static V8Api, LeakwatchError> {
    static API: OnceLock<Result<V8Api, LeakwatchError>> = OnceLock::new();
    API
      .get_or_init(|| {
        V8Api::resolve().map_err(|mut e| {
          if e.code == ErrorCode::V8SymbolMissing {
            e.message
              .push_str("; GC monitoring falls back to perf_hooks");
          }
          e
        })
      })
      .as_ref()
      .map_err(Clone::clone)
  }

  /// The isolate entered on the calling thread (null if none).
  pub fn current_isolate(&self) -> *mut Isolate {
    // SAFETY: the symbol has this signature; GetCurrent only reads a thread-local and has no
    // preconditions.
    unsafe { (self.get_current)() }
  }

  /// Heap figures of `isolate`. Must run on the isolate's own thread (GC callbacks included).
  ///
  /// # Safety
  /// `isolate` must be the live isolate entered on the calling thread.
  pub unsafe fn heap_figures(&self, isolate: *mut Isolate) -> HeapFigures {
    let mut buffer = HeapStatisticsBuffer::zeroed();
    // SAFETY: the constructor only initializes the object in place, and the buffer is larger
    // than any V8's HeapStatistics and aligned for it (see heap_statistics.rs).
    unsafe { (self.heap_statistics_ctor)(&mut buffer) };
    // SAFETY: the buffer now holds a constructed HeapStatistics; `isolate` is alive and
    // entered on this thread (this function's contract), where V8 allows reading it.
    unsafe { (self.get_heap_statistics)(isolate, &mut buffer) };
    buffer.figures()
  }

  /// Registers GC prologue and epilogue callbacks for every GC type.
  ///
  /// # Safety
  /// On the isolate's thread; `data` must stay valid until [`V8Api::remove_gc_callbacks`].
  pub unsafe fn add_gc_callbacks(
    &self,
    isolate: *mut Isolate,
    prologue: GcCallbackWithData,
    epilogue: GcCallbackWithData,
    data: *mut c_void,
  ) {
    let filter = self.gc_types.all_bits();
    // SAFETY: the symbol has this signature; on the isolate's thread, with `data` valid
    // until the callbacks are removed (this function's contract).
    unsafe { (self.add_gc_prologue)(isolate, prologue, data, filter) };
    // SAFETY: as for the prologue, with the same `data`.
    unsafe { (self.add_gc_epilogue)(isolate, epilogue, data, filter) };
  }

  /// Removes callbacks added with [`V8Api::add_gc_callbacks`] (same pointers and data).
  ///
  /// # Safety
  /// On the isolate's thread, while the isolate is alive.
  pub unsafe fn remove_gc_callbacks(
    &self,
    isolate: *mut Isolate,
    prologue: GcCallbackWithData,
    epilogue: GcCallbackWithData,
    data: *mut c_void,
  ) {
    // SAFETY: the symbol has this signature; on the isolate's thread, isolate alive (this
    // function's contract). V8 removes the matching (callback, data) pair, if registered.
    unsafe { (self.remove_gc_prologue)(isolate, prologue, data) };
    // SAFETY: as for the prologue.
    unsafe { (self.remove_gc_epilogue)(isolate, epilogue, data) };
  }

  /// A full, memory-reducing GC of the isolate on the calling thread.
  ///
  /// # Safety
  /// On a thread that has a live isolate entered, outside any GC callback.
  pub unsafe fn low_memory_notification(&self, isolate: *mut Isolate) {
    // SAFETY: the symbol has this signature; a live isolate entered on this thread, outside
    // any GC callback (this function's contract), is all a synchronous full GC needs.
    unsafe { (self.low_memory_notification)(isolate) }
  }

  /// Asks V8 for one full collection at its own pace: a moderate memory-pressure
  /// notification on the isolate's thread starts incremental marking (unless marking is
  /// already under way), which ends in an ordinary mark-compact. The pressure level is reset
  /// by V8 as it handles the notification, so heap sizing is not left changed. Pauses are
  /// those of a normal incremental full GC, not of a blocking `gc()`.
  ///
  /// # Safety
  /// On the isolate's own thread, outside any GC callback.
  pub unsafe fn request_incremental_full_gc(&self, isolate: *mut Isolate) {
    const MODERATE: c_int = 1;
    // SAFETY: the symbol has this signature; a live isolate on its own thread, outside any
    // GC callback (this function's contract); `MODERATE` is a valid MemoryPressureLevel.
    unsafe { (self.memory_pressure_notification)(isolate, MODERATE) }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn missing_symbol_is_an_error_value() {
    let err = lookup_any(&["_ZN2v87Isolate20NoSuchFunctionForTestEv"]).unwrap_err();
    assert_eq!(err.code, ErrorCode::V8SymbolMissing);
    assert!(err.message.contains("NoSuchFunctionForTest"));
    let both = lookup_any(&["_ZN2v8NoSuchA", "_ZN2v8NoSuchB"]).unwrap_err();
    assert!(both.message.contains("_ZN2v8NoSuchA or _ZN2v8NoSuchB"));
  }

  #[test]
  fn v8_before_10_is_unsupported() {
    let err = gc_type_map("9.4.146.26-node.22").unwrap_err();
    assert_eq!(err.code, ErrorCode::V8Unsupported);
    assert!(err
      .message
      .contains("V8 9.4.146.26-node.22 is not supported"));
    assert_eq!(
      gc_type_map("garbage").unwrap_err().code,
      ErrorCode::V8Unsupported
    );
    assert!(gc_type_map("11.3.244.8-node.33").is_ok());
  }

  #[test]
  fn no_v8_outside_node() {
    // The test binary is not node: resolution must fail cleanly, not crash.
    assert!(V8Api::get().is_err());
  }
}
