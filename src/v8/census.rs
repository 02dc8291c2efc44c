//! A census of the heap's large containers, taken before a snapshot to estimate its cost.
//!
//! Most of what a V8 heap snapshot costs is per object and is learned as the graph is built
//! (see `snapshot::guard`), but one part is not: V8 names every reference out of an array, a
//! `Map`'s or `Set`'s table or a dictionary by its index ("0", "1", …), and each distinct name
//! is kept as a 1 KiB buffer until the snapshot is deleted. A heap holding one array of a
//! million objects costs a gigabyte for those names alone, all of it inside the few objects V8
//! visits last, between two of its progress reports. The census finds the largest arrays,
//! maps and sets before V8 starts, so the guard can count those names in.
//!
//! `v8::HeapProfiler::QueryObjects` (the walk behind DevTools' `queryObjects()`) runs a full
//! GC, then hands every live JS object to a `v8::QueryObjectPredicate`, an abstract class this
//! module lays out by hand like the snapshot's `ActivityControl`:
//!
//! ```text
//! class QueryObjectPredicate {
//!   virtual ~QueryObjectPredicate() = default;
//!   virtual bool Filter(v8::Local<v8::Object> object) = 0;
//! };
//! ```
//!
//! The filter reads lengths and sizes through V8 calls that neither allocate nor run
//! JavaScript (`Value::IsArray`, `Array::Length`, `Map::Size`, …) and always answers false, so
//! V8 keeps no object for leakwatch. The walk makes one handle per JS object, in the caller's
//! `HandleScope`, which must be closed before the snapshot (or every object would show up
//! retained by it).

use std::ffi::c_void;
use std::sync::OnceLock;

use super::heap_profiler::HeapProfiler;
use super::Isolate;
use crate::error::LeakwatchError;

/// What the census found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
  /// JS objects visited.
  pub js_objects: u64,
  /// Length of the longest array.
  pub longest_array: u64,
  /// Entries of the largest `Map`.
  pub largest_map: u64,
  /// Members of the largest `Set`.
  pub largest_set: u64,
}

/// `v8::Local<T>`: one pointer to a handle slot (trivially copyable, so passed in a register).
type Local = *mut c_void;

/// v8-isolate.h: `Local<Context> GetCurrentContext();`
type GetCurrentContextFn = unsafe extern "C" fn(this: *mut Isolate) -> Local;
/// v8-profiler.h: `void QueryObjects(Local<Context> context, QueryObjectPredicate* predicate,
/// std::vector<Global<Object>>* objects);`
type QueryObjectsFn = unsafe extern "C" fn(
  this: *mut HeapProfiler,
  context: Local,
  predicate: *mut CppPredicate,
  objects: *mut StdVector,
);
/// v8-value.h: `bool IsArray() const;` (and `IsMap`, `IsSet`): `this` is the handle slot.
type IsFn = unsafe extern "C" fn(this: Local) -> bool;
/// v8-array.h: `uint32_t Length() const;`
type ArrayLengthFn = unsafe extern "C" fn(this: Local) -> u32;
/// v8-container.h: `size_t Size() const;` (`Map` and `Set`).
type SizeFn = unsafe extern "C" fn(this: Local) -> usize;

const GET_CURRENT_CONTEXT: &str = "_ZN2v87Isolate17GetCurrentContextEv";
const QUERY_OBJECTS: &str = "_ZN2v812HeapProfiler12QueryObjectsENS_5LocalINS_7ContextEEEPNS_20QueryObjectPredicateEPSt6vectorINS_6GlobalINS_6ObjectEEESaIS9_EE";
const IS_ARRAY: &str = "_ZNK2v85Value7IsArrayEv";
const IS_MAP: &str = "_ZNK2v85Value5IsMapEv";
const IS_SET: &str = "_ZNK2v85Value5IsSetEv";
const ARRAY_LENGTH: &str = "_ZNK2v85Array6LengthEv";
const MAP_SIZE: &str = "_ZNK2v83Map4SizeEv";
const SET_SIZE: &str = "_ZNK2v83Set4SizeEv";

/// A libstdc++ `std::vector` (begin, end, end of storage), empty. V8 appends to it only for
/// objects the predicate keeps, and this one keeps none.
#[repr(C)]
struct StdVector([*mut c_void; 3]);

/// Resolved census entry points. Process-wide.
pub struct CensusApi {
  get_current_context: GetCurrentContextFn,
  query_objects: QueryObjectsFn,
  is_array: IsFn,
  is_map: IsFn,
  is_set: IsFn,
  array_length: ArrayLengthFn,
  map_size: SizeFn,
  set_size: SizeFn,
}

impl CensusApi {
  fn resolve() -> Result<CensusApi, LeakwatchError> {
    super::check_not_disabled()?;
    Ok(CensusApi {
      get_current_context: resolve!(GET_CURRENT_CONTEXT, GetCurrentContextFn),
      query_objects: resolve!(QUERY_OBJECTS, QueryObjectsFn),
      is_array: resolve!(IS_ARRAY, IsFn),
      is_map: resolve!(IS_MAP, IsFn),
      is_set: resolve!(IS_SET, IsFn),
      array_length: resolve!(ARRAY_LENGTH, ArrayLengthFn),
      map_size: resolve!(MAP_SIZE, SizeFn),
      set_size: resolve!(SET_SIZE, SizeFn),
    })
  }

  /// The process's census API, resolved once (`None`: this binary does not export it).
  pub fn get() -> Option<&'static CensusApi> {
    static API: OnceLock<Option<CensusApi>> = OnceLock::new();
    API.get_or_init(|| CensusApi::resolve().ok()).as_ref()
  }
}

/// The vtable of `v8::QueryObjectPredicate`.
#[repr(C)]
struct PredicateVtable {
  complete_dtor: unsafe extern "C" fn(*mut CppPredicate),
  deleting_dtor: unsafe extern "C" fn(*mut CppPredicate),
  filter: unsafe extern "C" fn(*mut CppPredicate, Local) -> bool,
}

/// A `v8::QueryObjectPredicate` that counts into a [`Census`].
#[repr(C)]
struct CppPredicate {
  vtable: &'static PredicateVtable,
  api: &'static CensusApi,
  census: Census,
}

unsafe extern "C" fn predicate_dtor(_this: *mut CppPredicate) {}

/// The kind and size of a container, `None` for any other object.
///
/// # Safety
/// `object` is a live handle to a JS object, on the isolate's thread.
unsafe fn container(api: &CensusApi, object: Local) -> Option<(Container, u64)> {
  // Each call below only reads the object (no allocation, no JavaScript), and each length or
  // size call is made only on an object of its type.
  // SAFETY: `object` is a live handle (the caller's contract); a const V8 type check.
  if unsafe { (api.is_array)(object) } {
    // SAFETY: as above; `object` is an array.
    return Some((
      Container::Array,
      u64::from(unsafe { (api.array_length)(object) }),
    ));
  }
  // SAFETY: as above.
  if unsafe { (api.is_map)(object) } {
    // SAFETY: as above; `object` is a Map.
    return Some((Container::Map, unsafe { (api.map_size)(object) } as u64));
  }
  // SAFETY: as above.
  if unsafe { (api.is_set)(object) } {
    // SAFETY: as above; `object` is a Set.
    return Some((Container::Set, unsafe { (api.set_size)(object) } as u64));
  }
  None
}

enum Container {
  Array,
  Map,
  Set,
}

/// `Filter`: counts `object` and answers false (keep nothing).
unsafe extern "C" fn predicate_filter(this: *mut CppPredicate, object: Local) -> bool {
  // Nothing below can panic (plain calls and saturating arithmetic), and a panic must not
  // unwind into V8: catch it anyway.
  let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    // SAFETY: V8 calls Filter with the predicate it was given, a live `CppPredicate` that
    // `take` owns for the whole QueryObjects call, on this thread.
    let this = unsafe { &mut *this };
    let c = &mut this.census;
    c.js_objects += 1;
    if object.is_null() {
      return;
    }
    // SAFETY: `object` is a live handle V8 just made in the open scope, on this thread.
    match unsafe { container(this.api, object) } {
      Some((Container::Array, n)) => c.longest_array = c.longest_array.max(n),
      Some((Container::Map, n)) => c.largest_map = c.largest_map.max(n),
      Some((Container::Set, n)) => c.largest_set = c.largest_set.max(n),
      None => {}
    }
  }));
  false
}

static PREDICATE_VTABLE: PredicateVtable = PredicateVtable {
  complete_dtor: predicate_dtor,
  deleting_dtor: predicate_dtor,
  filter: predicate_filter,
};

/// Takes the census of `isolate`'s heap through `profiler`. `None` when no context is entered
/// (V8 needs one).
///
/// # Safety
/// `isolate` is the live isolate entered on the calling thread, `profiler` its heap profiler;
/// the call is not made from inside a GC callback (it runs a GC); a `HandleScope` is open and
/// is closed before anything else looks at the heap's roots (a snapshot).
pub(super) unsafe fn take(
  api: &'static CensusApi,
  isolate: *mut Isolate,
  profiler: *mut HeapProfiler,
) -> Option<Census> {
  // SAFETY: the isolate is live and entered on this thread; the result is a handle in the
  // open scope, or empty.
  let context = unsafe { (api.get_current_context)(isolate) };
  if context.is_null() {
    return None;
  }
  let mut predicate = CppPredicate {
    vtable: &PREDICATE_VTABLE,
    api,
    census: Census::default(),
  };
  let mut kept = StdVector([std::ptr::null_mut(); 3]);
  // SAFETY: `profiler` is this isolate's, used on its thread outside any GC callback with a
  // handle scope open (the caller's contract); `context` is a live handle; `predicate` has
  // the layout of a `v8::QueryObjectPredicate` and outlives the call; `kept` is an empty
  // std::vector that V8 never appends to, because the predicate keeps nothing.
  unsafe { (api.query_objects)(profiler, context, &mut predicate, &mut kept) };
  Some(predicate.census)
}
