//! V8's heap profiler and heap-limit control, for heap snapshots written by leakwatch.
//!
//! [`IsolateProfiler`] is the safe face of it: one isolate's profiler, created (unsafely)
//! once on the isolate's thread, after which taking a snapshot is a safe call. The
//! snapshot V8 returns is owned by [`OwnedHeapSnapshot`], which deletes it on every way out.
//!
//! Resolved separately from the GC-hook symbols ([`super::V8Api`]) so a binary without them
//! still gets GC monitoring; snapshots then report `ERR_LEAKWATCH_V8_SYMBOL_MISSING`.
//!
//! V8 pushes a serialized snapshot into a C++ `v8::OutputStream` and reports progress to a
//! `v8::ActivityControl`; both are abstract classes. [`CppOutputStream`] and
//! [`CppActivityControl`] are objects with the Itanium C++ ABI layout of those classes (a
//! pointer to a table of virtual functions first), whose virtual functions forward to Rust
//! traits. V8 never deletes them, never reads their RTTI (it is built without it) and calls
//! only the functions below. Their declaration order has not changed since V8 3.x:
//!
//! ```text
//! class OutputStream {                       class ActivityControl {
//!   virtual ~OutputStream();                   virtual ~ActivityControl();
//!   virtual void EndOfStream() = 0;            virtual ControlOption ReportProgressValue(
//!   virtual int GetChunkSize();                    uint32_t done, uint32_t total) = 0;
//!   virtual WriteResult WriteAsciiChunk(     };
//!       char* data, int size) = 0;
//!   virtual WriteResult WriteHeapStatsChunk(
//!       HeapStatsUpdate* data, int count);
//! };
//! ```
//!
//! A virtual destructor takes two slots (complete-object and deleting destructor).

use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;
use std::sync::OnceLock;

use super::Isolate;
use crate::error::LeakwatchError;
use crate::monitor::record::HeapFigures;

/// Opaque `v8::HeapProfiler`.
#[repr(C)]
pub struct HeapProfiler {
  _private: [u8; 0],
}

/// Opaque `v8::HeapSnapshot`.
#[repr(C)]
pub struct HeapSnapshot {
  _private: [u8; 0],
}

/// v8-isolate.h: `typedef size_t (*NearHeapLimitCallback)(void* data, size_t
/// current_heap_limit, size_t initial_heap_limit);`
pub(super) type NearHeapLimitCallbackFn =
  unsafe extern "C" fn(data: *mut c_void, current: usize, initial: usize) -> usize;

/// v8-isolate.h: `HeapProfiler* GetHeapProfiler();`
type GetHeapProfilerFn = unsafe extern "C" fn(this: *mut Isolate) -> *mut HeapProfiler;
/// v8-profiler.h: `const HeapSnapshot* TakeHeapSnapshot(ActivityControl* control,
/// ObjectNameResolver* global_object_name_resolver = nullptr, bool hide_internals = true,
/// bool capture_numeric_value = false);`
type TakeHeapSnapshotFn = unsafe extern "C" fn(
  this: *mut HeapProfiler,
  control: *mut CppActivityControl,
  resolver: *mut c_void,
  hide_internals: bool,
  capture_numeric_value: bool,
) -> *const HeapSnapshot;
/// v8-profiler.h: `void Serialize(OutputStream* stream, SerializationFormat format = kJSON)
/// const;`
type SerializeFn =
  unsafe extern "C" fn(this: *const HeapSnapshot, stream: *mut CppOutputStream, format: c_int);
/// v8-profiler.h: `void Delete();`
type DeleteFn = unsafe extern "C" fn(this: *const HeapSnapshot);
/// v8-isolate.h: `void AddNearHeapLimitCallback(NearHeapLimitCallback callback, void* data);`
type AddNearHeapLimitFn =
  unsafe extern "C" fn(this: *mut Isolate, callback: NearHeapLimitCallbackFn, data: *mut c_void);
/// v8-isolate.h: `void RemoveNearHeapLimitCallback(NearHeapLimitCallback callback,
/// size_t heap_limit);`
type RemoveNearHeapLimitFn =
  unsafe extern "C" fn(this: *mut Isolate, callback: NearHeapLimitCallbackFn, heap_limit: usize);
/// v8-isolate.h: `void AutomaticallyRestoreInitialHeapLimit(double threshold_percent = 0.5);`
type RestoreInitialHeapLimitFn = unsafe extern "C" fn(this: *mut Isolate, threshold: f64);

const GET_HEAP_PROFILER: &str = "_ZN2v87Isolate15GetHeapProfilerEv";
const TAKE_HEAP_SNAPSHOT: &str =
  "_ZN2v812HeapProfiler16TakeHeapSnapshotEPNS_15ActivityControlEPNS0_18ObjectNameResolverEbb";
/// The same function on V8 14 (Node 26), where `ObjectNameResolver` was renamed
/// `ContextNameResolver`: `TakeHeapSnapshot(ActivityControl* control, ContextNameResolver*
/// resolver = nullptr, bool hide_internals = true, bool capture_numeric_value = false)`. Only
/// the parameter's type name changed (both are pointers leakwatch passes as null), and
/// `ActivityControl`, `OutputStream` and `HeapSnapshot` keep their layouts (checked against
/// Node 26.12.1's `v8-profiler.h`), so one Rust type serves both.
const TAKE_HEAP_SNAPSHOT_V8_14: &str =
  "_ZN2v812HeapProfiler16TakeHeapSnapshotEPNS_15ActivityControlEPNS0_19ContextNameResolverEbb";
const SERIALIZE: &str =
  "_ZNK2v812HeapSnapshot9SerializeEPNS_12OutputStreamENS0_19SerializationFormatE";
const DELETE: &str = "_ZN2v812HeapSnapshot6DeleteEv";
const ADD_NEAR_HEAP_LIMIT: &str = "_ZN2v87Isolate24AddNearHeapLimitCallbackEPFmPvmmES1_";
const REMOVE_NEAR_HEAP_LIMIT: &str = "_ZN2v87Isolate27RemoveNearHeapLimitCallbackEPFmPvmmEm";
const RESTORE_INITIAL_HEAP_LIMIT: &str = "_ZN2v87Isolate36AutomaticallyRestoreInitialHeapLimitEd";

/// `HeapSnapshot::kJSON`.
const JSON_FORMAT: c_int = 0;
/// `OutputStream::kContinue` / `ActivityControl::kContinue`.
const CONTINUE: c_int = 0;
/// `OutputStream::kAbort` / `ActivityControl::kAbort`.
const ABORT: c_int = 1;

/// Receives a serialized snapshot.
pub trait SnapshotSink {
  /// One chunk of the JSON text; false aborts the serialization.
  fn write_chunk(&mut self, data: &[u8]) -> bool;
  /// The whole snapshot was written (not called after an abort).
  fn end(&mut self);
}

/// Watches a snapshot being taken.
pub trait SnapshotProgress {
  /// `done` of `total` objects visited; false aborts the snapshot.
  fn progress(&mut self, done: u32, total: u32) -> bool;
}

/// The virtual function table of `v8::OutputStream` as V8 calls it.
#[repr(C)]
struct OutputStreamVtable {
  complete_dtor: unsafe extern "C" fn(*mut CppOutputStream),
  deleting_dtor: unsafe extern "C" fn(*mut CppOutputStream),
  end_of_stream: unsafe extern "C" fn(*mut CppOutputStream),
  get_chunk_size: unsafe extern "C" fn(*mut CppOutputStream) -> c_int,
  write_ascii_chunk: unsafe extern "C" fn(*mut CppOutputStream, *mut c_char, c_int) -> c_int,
  write_heap_stats_chunk: unsafe extern "C" fn(*mut CppOutputStream, *mut c_void, c_int) -> c_int,
}

/// A `v8::OutputStream` forwarding to a [`SnapshotSink`].
#[repr(C)]
pub struct CppOutputStream<'a> {
  vtable: &'static OutputStreamVtable,
  chunk_size: c_int,
  sink: &'a mut dyn SnapshotSink,
  /// Set by `EndOfStream`, which V8 calls only after a complete serialization.
  ended: bool,
  /// A Rust panic inside a callback is caught here, never unwound into V8.
  panicked: bool,
}

/// V8 never deletes the stream (it is owned by `write_snapshot`).
extern "C" fn no_op_dtor(_: *mut CppOutputStream) {}

// The `OutputStream` trampolines below are called by V8 only from inside `Serialize`, with
// `this` = the `CppOutputStream` that `IsolateProfiler::write_snapshot` passed to it: alive
// for the whole call, and not otherwise borrowed by Rust while V8 runs (`write_snapshot`
// holds it only through the pointer it handed over). The same holds for the
// `ActivityControl` trampoline and `TakeHeapSnapshot`.

/// # Safety
/// Called only by V8 during `Serialize`, with `this` the stream passed to it.
unsafe extern "C" fn end_of_stream(this: *mut CppOutputStream) {
  // SAFETY: `this` is the live stream passed to Serialize, borrowed by nothing else (see
  // above); the reference ends with this call.
  let this = unsafe { &mut *this };
  this.ended = true;
  if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.sink.end())).is_err() {
    this.panicked = true;
  }
}

/// # Safety
/// Called only by V8 during `Serialize`, with `this` the stream passed to it.
unsafe extern "C" fn get_chunk_size(this: *mut CppOutputStream) -> c_int {
  // SAFETY: `this` is the live stream passed to Serialize (see above); a plain read.
  unsafe { (*this).chunk_size }
}

/// # Safety
/// Called only by V8 during `Serialize`, with `this` the stream passed to it and `size`
/// readable bytes at `data`.
unsafe extern "C" fn write_ascii_chunk(
  this: *mut CppOutputStream,
  data: *mut c_char,
  size: c_int,
) -> c_int {
  // SAFETY: `this` is the live stream passed to Serialize, borrowed by nothing else (see
  // above); the reference ends with this call.
  let this = unsafe { &mut *this };
  if this.panicked || data.is_null() || size < 0 {
    return ABORT;
  }
  // SAFETY: V8 passes a buffer of `size` bytes (checked non-negative above) valid for the
  // duration of this call.
  let chunk = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
  match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    this.sink.write_chunk(chunk)
  })) {
    Ok(true) => CONTINUE,
    Ok(false) => ABORT,
    Err(_) => {
      this.panicked = true;
      ABORT
    }
  }
}

/// Only used by heap-object tracking, which leakwatch does not start.
extern "C" fn write_heap_stats_chunk(_: *mut CppOutputStream, _: *mut c_void, _: c_int) -> c_int {
  ABORT
}

static OUTPUT_STREAM_VTABLE: OutputStreamVtable = OutputStreamVtable {
  complete_dtor: no_op_dtor,
  deleting_dtor: no_op_dtor,
  end_of_stream,
  get_chunk_size,
  write_ascii_chunk,
  write_heap_stats_chunk,
};

impl<'a> CppOutputStream<'a> {
  pub fn new(sink: &'a mut dyn SnapshotSink, chunk_size: usize) -> Self {
    CppOutputStream {
      vtable: &OUTPUT_STREAM_VTABLE,
      chunk_size: chunk_size.clamp(1024, 1 << 24) as c_int,
      sink,
      ended: false,
      panicked: false,
    }
  }
}

/// The virtual function table of `v8::ActivityControl`.
#[repr(C)]
struct ActivityControlVtable {
  complete_dtor: unsafe extern "C" fn(*mut CppActivityControl),
  deleting_dtor: unsafe extern "C" fn(*mut CppActivityControl),
  report_progress_value: unsafe extern "C" fn(*mut CppActivityControl, u32, u32) -> c_int,
}

/// A `v8::ActivityControl` forwarding to a [`SnapshotProgress`].
#[repr(C)]
pub struct CppActivityControl<'a> {
  vtable: &'static ActivityControlVtable,
  progress: &'a mut dyn SnapshotProgress,
  panicked: bool,
}

/// V8 never deletes the control (it is owned by `write_snapshot`).
extern "C" fn no_op_control_dtor(_: *mut CppActivityControl) {}

/// # Safety
/// Called only by V8 during `TakeHeapSnapshot`, with `this` the control passed to it.
unsafe extern "C" fn report_progress_value(
  this: *mut CppActivityControl,
  done: u32,
  total: u32,
) -> c_int {
  // SAFETY: `this` is the live control object passed to TakeHeapSnapshot, borrowed by
  // nothing else while V8 runs (see above); the reference ends with this call.
  let this = unsafe { &mut *this };
  if this.panicked {
    return ABORT;
  }
  match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    this.progress.progress(done, total)
  })) {
    Ok(true) => CONTINUE,
    Ok(false) => ABORT,
    Err(_) => {
      this.panicked = true;
      ABORT
    }
  }
}

static ACTIVITY_CONTROL_VTABLE: ActivityControlVtable = ActivityControlVtable {
  complete_dtor: no_op_control_dtor,
  deleting_dtor: no_op_control_dtor,
  report_progress_value,
};

impl<'a> CppActivityControl<'a> {
  pub fn new(progress: &'a mut dyn SnapshotProgress) -> Self {
    CppActivityControl {
      vtable: &ACTIVITY_CONTROL_VTABLE,
      progress,
      panicked: false,
    }
  }
}

/// Resolved heap-profiler entry points. Process-wide.
pub struct ProfilerApi {
  get_heap_profiler: GetHeapProfilerFn,
  take_heap_snapshot: TakeHeapSnapshotFn,
  serialize: SerializeFn,
  delete: DeleteFn,
  add_near_heap_limit: AddNearHeapLimitFn,
  remove_near_heap_limit: RemoveNearHeapLimitFn,
  restore_initial_heap_limit: RestoreInitialHeapLimitFn,
}

/// How a snapshot attempt ended on the V8 side.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeOutcome {
  /// Serialized completely into the sink.
  Written,
  /// The progress watcher stopped the snapshot before serialization.
  AbortedWhileTaking,
  /// The sink stopped the serialization.
  AbortedWhileWriting,
}

impl ProfilerApi {
  fn resolve() -> Result<ProfilerApi, LeakwatchError> {
    super::check_not_disabled()?;
    Ok(ProfilerApi {
      get_heap_profiler: resolve!(GET_HEAP_PROFILER, GetHeapProfilerFn),
      take_heap_snapshot: resolve!(
        &[TAKE_HEAP_SNAPSHOT, TAKE_HEAP_SNAPSHOT_V8_14],
        TakeHeapSnapshotFn
      ),
      serialize: resolve!(SERIALIZE, SerializeFn),
      delete: resolve!(DELETE, DeleteFn),
      add_near_heap_limit: resolve!(ADD_NEAR_HEAP_LIMIT, AddNearHeapLimitFn),
      remove_near_heap_limit: resolve!(REMOVE_NEAR_HEAP_LIMIT, RemoveNearHeapLimitFn),
      restore_initial_heap_limit: resolve!(RESTORE_INITIAL_HEAP_LIMIT, RestoreInitialHeapLimitFn),
    })
  }

  /// The process's heap-profiler API, resolved once.
  pub fn get() -> Result<&'static ProfilerApi, LeakwatchError> {
    static API: OnceLock<Result<ProfilerApi, LeakwatchError>> = OnceLock::new();
    API
      .get_or_init(|| {
        ProfilerApi::resolve().map_err(|mut e| {
          if e.code == super::ErrorCode::V8SymbolMissing {
            e.message
              .push_str("; leakwatch cannot write heap snapshots natively on it");
          }
          e
        })
      })
      .as_ref()
      .map_err(Clone::clone)
  }
}

/// The heap profiler and heap limit of one isolate, used on that isolate's thread.
///
/// Creating one is the unsafe step: the caller vouches for the isolate and the thread. What
/// it does afterwards is safe. It holds a raw isolate pointer, so it is neither `Send` nor
/// `Sync` and cannot leave the thread it was created on.
pub struct IsolateProfiler {
  api: &'static ProfilerApi,
  isolate: *mut Isolate,
}

impl IsolateProfiler {
  /// The profiler of `isolate`.
  ///
  /// # Safety
  /// `isolate` is the live isolate entered on the calling thread; it stays alive as long as
  /// the returned value exists (its drop included); and the value is never used from inside
  /// a GC callback (a near-heap-limit callback is fine: V8 allows allocation and GCs there).
  pub unsafe fn new(api: &'static ProfilerApi, isolate: *mut Isolate) -> IsolateProfiler {
    IsolateProfiler { api, isolate }
  }

  /// Takes a heap snapshot of the isolate (as `v8.writeHeapSnapshot()` does: internals
  /// hidden, numeric values not captured), serializes it as JSON into `sink`, then frees it.
  ///
  /// `progress`, when given, is called as V8 builds the graph and can abort it. It costs: with
  /// an activity control V8 first walks the whole heap to count its objects (about 10 % more
  /// pause, measured on a 50 MB heap of small objects).
  pub fn write_snapshot(
    &self,
    progress: Option<&mut dyn SnapshotProgress>,
    sink: &mut dyn SnapshotSink,
    chunk_size: usize,
  ) -> TakeOutcome {
    let mut control = progress.map(CppActivityControl::new);
    let control_ptr = control
      .as_mut()
      .map_or(std::ptr::null_mut(), |c| c as *mut CppActivityControl);
    let mut stream = CppOutputStream::new(sink, chunk_size);
    // SAFETY: the symbol has this signature (declared beside its mangled name), and the
    // isolate is alive and entered on this thread, outside any GC callback (`new`'s
    // contract) — all GetHeapProfiler needs; it returns the isolate's profiler, never null.
    let profiler = unsafe { (self.api.get_heap_profiler)(self.isolate) };
    // SAFETY: `profiler` is this isolate's, on its thread, outside any GC callback.
    // `control_ptr` is null or points to `control`, an object with `v8::ActivityControl`'s
    // layout that lives to the end of this function; V8 calls it only during this call.
    // A null name resolver is V8's default.
    let taken = unsafe {
      (self.api.take_heap_snapshot)(profiler, control_ptr, std::ptr::null_mut(), true, false)
    };
    // SAFETY: `taken` was just returned by TakeHeapSnapshot and nothing else deletes it; the
    // owner is dropped before this function returns, on this thread, with the isolate alive.
    let Some(snapshot) = (unsafe { OwnedHeapSnapshot::from_raw(self.api, taken) }) else {
      return TakeOutcome::AbortedWhileTaking;
    };
    snapshot.serialize(&mut stream);
    drop(snapshot);
    if stream.aborted() {
      TakeOutcome::AbortedWhileWriting
    } else {
      TakeOutcome::Written
    }
  }

  /// Counts the heap's JS objects and its longest array, largest `Map` and `Set` (see
  /// [`super::census`]). Runs a full GC. `None` when this binary lacks the symbols or no
  /// context is entered.
  ///
  /// # Safety
  /// A handle scope is open, and is closed before the next snapshot: the walk leaves one
  /// handle per JS object in it.
  pub unsafe fn census(&self) -> Option<super::census::Census> {
    let api = super::census::CensusApi::get()?;
    // SAFETY: the isolate is alive and entered on this thread (`new`'s contract); it returns
    // the isolate's profiler, never null.
    let profiler = unsafe { (self.api.get_heap_profiler)(self.isolate) };
    // SAFETY: this isolate and its profiler, on its thread, outside any GC callback (`new`'s
    // contract), with a handle scope the caller closes before the snapshot.
    unsafe { super::census::take(api, self.isolate, profiler) }
  }

  /// JS heap in use now, bytes (`None` when the GC-hook symbols are not available).
  pub fn heap_used(&self) -> Option<u64> {
    let v8 = super::V8Api::get().ok()?;
    // SAFETY: the isolate is alive and entered on this thread (`new`'s contract); heap
    // statistics may be read anywhere on that thread, a near-heap-limit callback included.
    Some(unsafe { v8.heap_figures(self.isolate) }.used)
  }

  /// The heap's figures now (`None` when the GC-hook symbols are not available).
  pub fn heap_figures(&self) -> Option<HeapFigures> {
    let v8 = super::V8Api::get().ok()?;
    // SAFETY: as in `heap_used`: the isolate is alive and entered on this thread.
    Some(unsafe { v8.heap_figures(self.isolate) })
  }

  /// Every heap space's figures now (empty when V8 does not export the calls).
  pub fn heap_spaces(&self) -> Vec<super::SpaceFigures> {
    // SAFETY: the isolate is alive and entered on this thread (`new`'s contract); V8 allows
    // reading space statistics anywhere on that thread, a near-heap-limit callback included.
    unsafe { super::heap_spaces::heap_spaces(self.isolate) }
  }

  /// Brings the heap limit back to its initial value once usage falls below
  /// `threshold` × initial limit.
  pub fn restore_initial_heap_limit(&self, threshold: f64) {
    // SAFETY: the symbol has this signature; the isolate is alive and this is its thread
    // (`new`'s contract). V8 only records the threshold, for its next GCs.
    unsafe { (self.api.restore_initial_heap_limit)(self.isolate, threshold) }
  }

  /// Registers a near-heap-limit callback.
  ///
  /// # Safety
  /// `data` stays valid for `callback` until it is removed with
  /// [`Self::remove_near_heap_limit_callback`] (V8 passes it to every call until then).
  pub(super) unsafe fn add_near_heap_limit_callback(
    &self,
    callback: NearHeapLimitCallbackFn,
    data: *mut c_void,
  ) {
    // SAFETY: the symbol has this signature; the isolate is alive and this is its thread
    // (`new`'s contract); `data` outlives the registration (this function's contract).
    unsafe { (self.api.add_near_heap_limit)(self.isolate, callback, data) }
  }

  /// Removes a callback added with [`Self::add_near_heap_limit_callback`], keeping the
  /// current heap limit.
  ///
  /// # Safety
  /// `callback` is registered and not removed since: V8 aborts the process otherwise.
  pub(super) unsafe fn remove_near_heap_limit_callback(&self, callback: NearHeapLimitCallbackFn) {
    // SAFETY: the symbol has this signature; the isolate is alive and this is its thread
    // (`new`'s contract); the callback is registered (this function's contract). A limit of
    // 0 tells V8 to keep the current one.
    unsafe { (self.api.remove_near_heap_limit)(self.isolate, callback, 0) }
  }
}

/// A `v8::HeapSnapshot` taken by [`IsolateProfiler::write_snapshot`], deleted
/// (`HeapSnapshot::Delete`) when dropped. V8 keeps every snapshot it took, as large as the
/// heap, until it is deleted: the deletion must not depend on the code between taking and
/// deleting running to its end (an early return, a panic).
struct OwnedHeapSnapshot {
  api: &'static ProfilerApi,
  snapshot: NonNull<HeapSnapshot>,
}

impl OwnedHeapSnapshot {
  /// Takes ownership of `snapshot`; `None` when it is null (the activity control aborted).
  ///
  /// # Safety
  /// `snapshot` is null or was returned by `api`'s TakeHeapSnapshot and is deleted nowhere
  /// else; the owner is used and dropped on that isolate's thread, outside GC callbacks,
  /// while the isolate is alive.
  unsafe fn from_raw(api: &'static ProfilerApi, snapshot: *const HeapSnapshot) -> Option<Self> {
    NonNull::new(snapshot.cast_mut()).map(|snapshot| OwnedHeapSnapshot { api, snapshot })
  }

  /// Serializes the snapshot as JSON into `stream`.
  fn serialize(&self, stream: &mut CppOutputStream) {
    // SAFETY: the snapshot is alive (deleted only by `drop`) and this is its isolate's
    // thread (`from_raw`'s contract); `stream` has `v8::OutputStream`'s layout and outlives
    // the call, the only time V8 uses it.
    unsafe { (self.api.serialize)(self.snapshot.as_ptr(), stream, JSON_FORMAT) }
  }
}

impl Drop for OwnedHeapSnapshot {
  fn drop(&mut self) {
    // SAFETY: the snapshot is alive and this value is its only owner (`from_raw`'s
    // contract), so this is its one deletion and nothing uses the pointer afterwards; on the
    // isolate's thread.
    unsafe { (self.api.delete)(self.snapshot.as_ptr()) }
  }
}

impl CppOutputStream<'_> {
  fn aborted(&self) -> bool {
    self.panicked || !self.ended
  }
}
