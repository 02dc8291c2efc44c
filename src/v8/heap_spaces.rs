//! V8's per-space figures (`Isolate::GetHeapSpaceStatistics`), for the statistics the
//! near-heap-limit hook writes when its snapshot does not fit (no JavaScript can run there, so
//! `v8.getHeapSpaceStatistics()` is out of reach). Resolved apart from the GC-hook symbols:
//! missing, they only leave the spaces out.
//!
//! v8-statistics.h declares `HeapSpaceStatistics` as `const char* space_name_; size_t
//! space_size_, space_used_size_, space_available_size_, physical_space_size_;` (unchanged
//! since V8 5); the buffer below is larger, in case a later V8 appends members.

use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

use super::Isolate;

/// One space's figures, bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceFigures {
  pub name: String,
  pub size: u64,
  pub used: u64,
  pub available: u64,
  pub physical: u64,
}

/// Over-sized, pointer-aligned storage for a `v8::HeapSpaceStatistics`.
#[repr(C, align(16))]
pub struct HeapSpaceStatisticsBuffer {
  name: *const c_char,
  figures: [usize; 4],
  _spare: [usize; 11],
}

/// v8-isolate.h: `size_t NumberOfHeapSpaces();`
type NumberOfHeapSpacesFn = unsafe extern "C" fn(this: *mut Isolate) -> usize;
/// v8-isolate.h: `bool GetHeapSpaceStatistics(HeapSpaceStatistics* space_statistics,
/// size_t index);`
type GetHeapSpaceStatisticsFn = unsafe extern "C" fn(
  this: *mut Isolate,
  stats: *mut HeapSpaceStatisticsBuffer,
  index: usize,
) -> bool;
/// v8-statistics.h: `HeapSpaceStatistics();` (complete-object constructor, C1).
type HeapSpaceStatisticsCtorFn = unsafe extern "C" fn(this: *mut HeapSpaceStatisticsBuffer);

const NUMBER_OF_HEAP_SPACES: &str = "_ZN2v87Isolate18NumberOfHeapSpacesEv";
const GET_HEAP_SPACE_STATISTICS: &str =
  "_ZN2v87Isolate22GetHeapSpaceStatisticsEPNS_19HeapSpaceStatisticsEm";
const HEAP_SPACE_STATISTICS_CTOR: &str = "_ZN2v819HeapSpaceStatisticsC1Ev";

/// At most this many spaces are read (V8 13 has nine).
const MAX_SPACES: usize = 32;

struct HeapSpaceApi {
  count: NumberOfHeapSpacesFn,
  get: GetHeapSpaceStatisticsFn,
  ctor: HeapSpaceStatisticsCtorFn,
}

impl HeapSpaceApi {
  fn get() -> Option<&'static HeapSpaceApi> {
    static API: OnceLock<Option<HeapSpaceApi>> = OnceLock::new();
    API
      .get_or_init(|| {
        let resolve = || -> Result<HeapSpaceApi, crate::error::LeakwatchError> {
          super::check_not_disabled()?;
          Ok(HeapSpaceApi {
            count: resolve!(NUMBER_OF_HEAP_SPACES, NumberOfHeapSpacesFn),
            get: resolve!(GET_HEAP_SPACE_STATISTICS, GetHeapSpaceStatisticsFn),
            ctor: resolve!(HEAP_SPACE_STATISTICS_CTOR, HeapSpaceStatisticsCtorFn),
          })
        };
        resolve().ok()
      })
      .as_ref()
  }
}

/// The figures of every space of `isolate`; empty when the symbols are missing.
///
/// # Safety
/// `isolate` must be the live isolate entered on the calling thread.
pub unsafe fn heap_spaces(isolate: *mut Isolate) -> Vec<SpaceFigures> {
  let Some(api) = HeapSpaceApi::get() else {
    return Vec::new();
  };
  // SAFETY: the symbol has this signature; the isolate is alive and entered on this thread
  // (this function's contract). It only returns a constant.
  let count = unsafe { (api.count)(isolate) }.min(MAX_SPACES);
  let mut spaces = Vec::with_capacity(count);
  for index in 0..count {
    let mut buffer = HeapSpaceStatisticsBuffer {
      name: std::ptr::null(),
      figures: [0; 4],
      _spare: [0; 11],
    };
    // SAFETY: the constructor initializes the object in place; the buffer is larger than
    // V8's HeapSpaceStatistics and aligned for it.
    unsafe { (api.ctor)(&mut buffer) };
    // SAFETY: the buffer holds a constructed HeapSpaceStatistics, `index` is below
    // NumberOfHeapSpaces(), and the isolate is alive and entered on this thread.
    if !unsafe { (api.get)(isolate, &mut buffer, index) } {
      continue;
    }
    let name = if buffer.name.is_null() {
      String::new()
    } else {
      // SAFETY: V8 sets space_name_ to a static NUL-terminated string (BaseSpace's name),
      // valid for the life of the process.
      unsafe { CStr::from_ptr(buffer.name) }
        .to_string_lossy()
        .into_owned()
    };
    spaces.push(SpaceFigures {
      name,
      size: buffer.figures[0] as u64,
      used: buffer.figures[1] as u64,
      available: buffer.figures[2] as u64,
      physical: buffer.figures[3] as u64,
    });
  }
  spaces
}
