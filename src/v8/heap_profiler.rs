//! V8's heap profiler and near-heap-limit hook, for heap snapshots written by leakwatch.
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
use std::sync::OnceLock;

use super::{lookup, Isolate};
use crate::error::LeakwatchError;

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
pub type NearHeapLimitCallback =
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
  unsafe extern "C" fn(this: *mut Isolate, callback: NearHeapLimitCallback, data: *mut c_void);
/// v8-isolate.h: `void RemoveNearHeapLimitCallback(NearHeapLimitCallback callback,
/// size_t heap_limit);`
type RemoveNearHeapLimitFn =
  unsafe extern "C" fn(this: *mut Isolate, callback: NearHeapLimitCallback, heap_limit: usize);
/// v8-isolate.h: `void AutomaticallyRestoreInitialHeapLimit(double threshold_percent = 0.5);`
type RestoreInitialHeapLimitFn = unsafe extern "C" fn(this: *mut Isolate, threshold: f64);

const GET_HEAP_PROFILER: &str = "_ZN2v87Isolate15GetHeapProfilerEv";
const TAKE_HEAP_SNAPSHOT: &str =
  "_ZN2v812HeapProfiler16TakeHeapSnapshotEPNS_15ActivityControlEPNS0_18ObjectNameResolverEbb";
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

unsafe extern "C" fn no_op_dtor(_: *mut CppOutputStream) {}

unsafe extern "C" fn end_of_stream(this: *mut CppOutputStream) {
  // SAFETY: V8 passes back the stream object handed to Serialize, alive for the call.
  let this = unsafe { &mut *this };
  this.ended = true;
  if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.sink.end())).is_err() {
    this.panicked = true;
  }
}

unsafe extern "C" fn get_chunk_size(this: *mut CppOutputStream) -> c_int {
  // SAFETY: as above.
  unsafe { (*this).chunk_size }
}

unsafe extern "C" fn write_ascii_chunk(
  this: *mut CppOutputStream,
  data: *mut c_char,
  size: c_int,
) -> c_int {
  // SAFETY: as above; V8 passes `size` readable bytes at `data`.
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

unsafe extern "C" fn write_heap_stats_chunk(
  _: *mut CppOutputStream,
  _: *mut c_void,
  _: c_int,
) -> c_int {
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

unsafe extern "C" fn no_op_control_dtor(_: *mut CppActivityControl) {}

unsafe extern "C" fn report_progress_value(
  this: *mut CppActivityControl,
  done: u32,
  total: u32,
) -> c_int {
  // SAFETY: V8 passes back the control object handed to TakeHeapSnapshot.
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
      take_heap_snapshot: resolve!(TAKE_HEAP_SNAPSHOT, TakeHeapSnapshotFn),
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
      .get_or_init(ProfilerApi::resolve)
      .as_ref()
      .map_err(Clone::clone)
  }

  /// Takes a heap snapshot of `isolate` (as `v8.writeHeapSnapshot()` does: internals hidden,
  /// numeric values not captured) and serializes it as JSON into `sink`, then frees it.
  ///
  /// # Safety
  /// On the isolate's own thread, outside any GC callback (a near-heap-limit callback is
  /// allowed: V8 permits allocation and GC there).
  ///
  /// `progress`, when given, is called as V8 builds the graph and can abort it. It costs: with
  /// an activity control V8 first walks the whole heap to count its objects (about 10 % more
  /// pause, measured on a 50 MB heap of small objects).
  pub unsafe fn write_snapshot(
    &self,
    isolate: *mut Isolate,
    progress: Option<&mut dyn SnapshotProgress>,
    sink: &mut dyn SnapshotSink,
    chunk_size: usize,
  ) -> TakeOutcome {
    let mut control = progress.map(CppActivityControl::new);
    let control_ptr = control
      .as_mut()
      .map_or(std::ptr::null_mut(), |c| c as *mut CppActivityControl);
    let mut stream = CppOutputStream::new(sink, chunk_size);
    // SAFETY: on the isolate's thread outside any GC (this function's contract); `stream`
    // and `control` outlive the calls, and the snapshot is deleted before returning.
    unsafe {
      let profiler = (self.get_heap_profiler)(isolate);
      let snapshot =
        (self.take_heap_snapshot)(profiler, control_ptr, std::ptr::null_mut(), true, false);
      if snapshot.is_null() {
        return TakeOutcome::AbortedWhileTaking;
      }
      (self.serialize)(snapshot, &mut stream, JSON_FORMAT);
      (self.delete)(snapshot);
    }
    if stream.aborted() {
      TakeOutcome::AbortedWhileWriting
    } else {
      TakeOutcome::Written
    }
  }

  /// # Safety
  /// On the isolate's thread; `data` valid until removed.
  pub unsafe fn add_near_heap_limit_callback(
    &self,
    isolate: *mut Isolate,
    callback: NearHeapLimitCallback,
    data: *mut c_void,
  ) {
    // SAFETY: the symbol has this signature (see its declaration); thread and lifetime of
    // `data` are this function's contract.
    unsafe { (self.add_near_heap_limit)(isolate, callback, data) }
  }

  /// Removes a callback added with [`Self::add_near_heap_limit_callback`]; V8 aborts the
  /// process if it is not registered, so callers remove exactly once. `heap_limit` 0 keeps
  /// the current limit.
  ///
  /// # Safety
  /// On the isolate's thread, the callback registered.
  pub unsafe fn remove_near_heap_limit_callback(
    &self,
    isolate: *mut Isolate,
    callback: NearHeapLimitCallback,
    heap_limit: usize,
  ) {
    // SAFETY: the symbol has this signature; on the isolate's thread (this function's contract).
    unsafe { (self.remove_near_heap_limit)(isolate, callback, heap_limit) }
  }

  /// Brings the heap limit back to its initial value once usage falls below
  /// `threshold` × initial limit.
  ///
  /// # Safety
  /// On the isolate's thread.
  pub unsafe fn restore_initial_heap_limit(&self, isolate: *mut Isolate, threshold: f64) {
    // SAFETY: the symbol has this signature; on the isolate's thread (this function's contract).
    unsafe { (self.restore_initial_heap_limit)(isolate, threshold) }
  }
}

impl CppOutputStream<'_> {
  fn aborted(&self) -> bool {
    self.panicked || !self.ended
  }
}
