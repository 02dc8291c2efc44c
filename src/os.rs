//! The one gateway to the operating system's C library: every libc call the addon makes,
//! each behind a safe function. `monitor/` and `snapshot/` use these and hold no `unsafe`
//! (they are compiled with `deny(unsafe_code)`); `v8/` uses [`lookup_symbol`] to find V8.

#![deny(clippy::multiple_unsafe_ops_per_block)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::path::Path;

/// The size of a memory page in bytes (4096 if the system does not say).
#[cfg(target_os = "linux")]
pub fn page_size() -> u64 {
  // SAFETY: sysconf only reads a configuration value; `_SC_PAGESIZE` is a valid name.
  let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
  if size > 0 {
    size as u64
  } else {
    4096
  }
}

/// Gives memory the C allocator holds free back to the OS (glibc keeps freed chunks mapped,
/// so RSS stays inflated after a heap snapshot's graph is freed). No-op elsewhere.
pub fn release_freed_heap() {
  #[cfg(all(target_os = "linux", target_env = "gnu"))]
  // SAFETY: malloc_trim takes glibc's allocator lock itself and only unmaps or advises away
  // pages that hold no live allocation; it has no preconditions and is callable from any
  // thread. Its result (whether anything was released) is of no use here.
  unsafe {
    libc::malloc_trim(0);
  }
}

/// What glibc's allocator holds, from `mallinfo2()` (all arenas), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MallocFigures {
  /// `uordblks`: allocated in the arenas (the heap and thread arenas).
  pub in_use: u64,
  /// `fordblks`: free in the arenas — freed by the program, kept by malloc (RSS counts the
  /// pages of it that were ever touched and not given back).
  pub free: u64,
  /// `hblkhd`: allocated with mmap (large blocks), in use.
  pub mmapped: u64,
  /// `arena`: bytes the arenas obtained from the OS.
  pub arena: u64,
}

/// glibc's `struct mallinfo2` (malloc.h, glibc 2.33+): ten `size_t` fields.
#[cfg(target_os = "linux")]
#[repr(C)]
#[allow(dead_code)] // the layout needs every field; leakwatch reads four
struct Mallinfo2 {
  arena: usize,
  ordblks: usize,
  smblks: usize,
  hblks: usize,
  hblkhd: usize,
  usmblks: usize,
  fsmblks: usize,
  uordblks: usize,
  fordblks: usize,
  keepcost: usize,
}

/// `mallinfo2()` when the C library has it (glibc 2.33 and later; resolved at run time, as
/// leakwatch also runs on glibc 2.28 and musl), else `None`. It walks every arena under its
/// lock: call it when the figures are needed, not on a timer.
#[cfg(target_os = "linux")]
pub fn malloc_figures() -> Option<MallocFigures> {
  type Mallinfo2Fn = unsafe extern "C" fn() -> Mallinfo2;
  let ptr = lookup_symbol(c"mallinfo2")?;
  // SAFETY: glibc declares `struct mallinfo2 mallinfo2(void)`, returned by value; the
  // address is that function (musl and older glibc do not export the name).
  let get = unsafe { std::mem::transmute::<*mut std::ffi::c_void, Mallinfo2Fn>(ptr.as_ptr()) };
  // SAFETY: no argument; it takes each arena's lock itself and only reads counters.
  let info = unsafe { get() };
  Some(MallocFigures {
    in_use: info.uordblks as u64,
    free: info.fordblks as u64,
    mmapped: info.hblkhd as u64,
    arena: info.arena as u64,
  })
}

#[cfg(not(target_os = "linux"))]
pub fn malloc_figures() -> Option<MallocFigures> {
  None
}

/// What `statfs(2)` says about the filesystem holding a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilesystemSpace {
  /// Bytes available to an unprivileged writer (`f_bavail` × `f_bsize`).
  pub available_bytes: u64,
  /// A tmpfs: its files live in memory.
  pub is_tmpfs: bool,
}

/// `statfs` magic of tmpfs (linux/magic.h).
#[cfg(target_os = "linux")]
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Free space of the filesystem holding `dir`.
#[cfg(target_os = "linux")]
pub fn filesystem_space(dir: &Path) -> io::Result<FilesystemSpace> {
  use std::os::unix::ffi::OsStrExt;
  let c_dir = std::ffi::CString::new(dir.as_os_str().as_bytes())
    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
  let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
  // SAFETY: `c_dir` is a NUL-terminated path that outlives the call, and `st` points to
  // writable memory of exactly the struct type statfs fills.
  if unsafe { libc::statfs(c_dir.as_ptr(), st.as_mut_ptr()) } != 0 {
    return Err(io::Error::last_os_error());
  }
  // SAFETY: statfs returned 0, so it filled the whole struct.
  let st = unsafe { st.assume_init() };
  // The field types differ between libc targets (32/64-bit, glibc/musl).
  #[allow(clippy::unnecessary_cast)]
  Ok(FilesystemSpace {
    available_bytes: (st.f_bavail as u64).saturating_mul(st.f_bsize as u64),
    is_tmpfs: st.f_type as i64 == TMPFS_MAGIC,
  })
}

#[cfg(not(target_os = "linux"))]
pub fn filesystem_space(_dir: &Path) -> io::Result<FilesystemSpace> {
  Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Creates `path` for writing only if it does not exist, readable by the owner alone (mode
/// 0600 on Unix) and not inherited by child processes.
#[cfg(unix)]
pub fn create_private_file(path: &Path) -> io::Result<File> {
  use std::os::unix::fs::OpenOptionsExt;
  std::fs::OpenOptions::new()
    .write(true)
    .create_new(true)
    .mode(0o600)
    .custom_flags(libc::O_CLOEXEC)
    .open(path)
}

#[cfg(not(unix))]
pub fn create_private_file(path: &Path) -> io::Result<File> {
  std::fs::OpenOptions::new()
    .write(true)
    .create_new(true)
    .open(path)
}

/// Takes an exclusive advisory lock (`flock(2)`) on `file` without waiting: Ok(false) when
/// another open file holds it. The lock goes with the open file: released when it is closed
/// or its process dies, whatever pid namespace that process lives in.
#[cfg(unix)]
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
  use std::os::fd::AsRawFd;
  // SAFETY: `file` is open for the whole call, so its descriptor is valid; flock passes no
  // memory.
  let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
  if rc == 0 {
    return Ok(true);
  }
  let err = io::Error::last_os_error();
  if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
    Ok(false)
  } else {
    Err(err)
  }
}

#[cfg(not(unix))]
pub fn try_lock_exclusive(_file: &File) -> io::Result<bool> {
  Ok(true)
}

/// The effective user id of this process (None where there is no such thing).
#[cfg(unix)]
pub fn effective_uid() -> Option<u32> {
  // SAFETY: geteuid has no preconditions and cannot fail.
  Some(unsafe { libc::geteuid() })
}

#[cfg(not(unix))]
pub fn effective_uid() -> Option<u32> {
  None
}

/// Closes `file` and returns what `close(2)` said (network filesystems report deferred
/// write errors there; dropping a `File` ignores them).
#[cfg(unix)]
pub fn close_checked(file: File) -> io::Result<()> {
  use std::os::fd::IntoRawFd;
  let fd = file.into_raw_fd();
  // SAFETY: `into_raw_fd` gave up the File's ownership of `fd`, so nothing else closes or
  // uses it: this is its only close.
  if unsafe { libc::close(fd) } == 0 {
    Ok(())
  } else {
    Err(io::Error::last_os_error())
  }
}

#[cfg(not(unix))]
pub fn close_checked(file: File) -> io::Result<()> {
  drop(file);
  Ok(())
}

/// Whether a process with this id exists (true when unsure: permission denied, or a platform
/// without `kill(2)`), so that nothing belonging to a live process is taken for stale.
#[cfg(unix)]
pub fn process_exists(pid: u32) -> bool {
  let Ok(pid) = libc::pid_t::try_from(pid) else {
    return false;
  };
  // SAFETY: signal 0 sends nothing; kill only checks that the process exists and may be
  // signalled. `pid` is positive (converted from u32), so it names one process, not a group.
  let rc = unsafe { libc::kill(pid, 0) };
  rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
pub fn process_exists(_pid: u32) -> bool {
  true
}

/// Writes `text` to file descriptor 2 with plain `write(2)` calls: no lock, no allocation,
/// no panic (Rust's `eprintln!` has all three), for lines written while the heap is
/// exhausted. Errors are ignored.
#[cfg(unix)]
pub fn write_stderr(text: &[u8]) {
  let mut rest = text;
  while !rest.is_empty() {
    // SAFETY: `rest` is a live byte slice, so `rest.len()` bytes are readable at its
    // pointer for the duration of the call; write does not keep the pointer.
    let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
    if n <= 0 {
      break;
    }
    rest = &rest[n as usize..];
  }
}

#[cfg(not(unix))]
pub fn write_stderr(text: &[u8]) {
  use std::io::Write;
  let _ = std::io::stderr().write_all(text);
}

/// "ENOSPC", "EACCES"…: the names of the errors a file write can meet.
pub fn errno_name(code: i32) -> Option<&'static str> {
  Some(match code {
    libc::ENOSPC => "ENOSPC",
    libc::EACCES => "EACCES",
    libc::EPERM => "EPERM",
    libc::EROFS => "EROFS",
    libc::ENOENT => "ENOENT",
    libc::ENOTDIR => "ENOTDIR",
    libc::EDQUOT => "EDQUOT",
    libc::EIO => "EIO",
    libc::EEXIST => "EEXIST",
    libc::EFBIG => "EFBIG",
    libc::EISDIR => "EISDIR",
    libc::ENAMETOOLONG => "ENAMETOOLONG",
    // Out of descriptors (the process's or the system's) or memory: a host's faults, not
    // the directory's.
    libc::EMFILE => "EMFILE",
    libc::ENFILE => "ENFILE",
    libc::ENOMEM => "ENOMEM",
    libc::ELOOP => "ELOOP",
    libc::EXDEV => "EXDEV",
    libc::ESTALE => "ESTALE",
    libc::EINTR => "EINTR",
    _ => return None,
  })
}

/// The address of `name` in the process's global symbol scope (the `node` binary and the
/// libraries it loaded), or `None`.
#[cfg(unix)]
pub fn lookup_symbol(name: &CStr) -> Option<std::ptr::NonNull<std::ffi::c_void>> {
  // SAFETY: RTLD_DEFAULT searches the already-loaded objects and loads nothing; `name` is
  // NUL-terminated and outlives the call. The returned address is only data here: using it
  // as a function is the caller's (unsafe) business.
  std::ptr::NonNull::new(unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) })
}

/// What libuv reports as the memory the OS lets this process use (the value behind
/// `process.constrainedMemory()`: the cgroup's limit on Linux), `None` when unconstrained or
/// unknown, or when the running binary does not export libuv's function.
pub fn constrained_memory() -> Option<u64> {
  type ConstrainedMemoryFn = unsafe extern "C" fn() -> u64;
  let ptr = lookup_symbol(c"uv_get_constrained_memory")?;
  // SAFETY: libuv declares `uint64_t uv_get_constrained_memory(void)`; the address is that
  // function in the loaded binary (Node exports libuv's symbols).
  let get =
    unsafe { std::mem::transmute::<*mut std::ffi::c_void, ConstrainedMemoryFn>(ptr.as_ptr()) };
  // SAFETY: it takes no argument and only reads cgroup files; callable from any thread.
  let bytes = unsafe { get() };
  // 0: no constraint or unknown; libuv versions that read an unlimited cgroup return its
  // "max" as a huge number.
  (bytes > 0 && bytes < 1 << 60).then_some(bytes)
}

#[cfg(not(unix))]
pub fn lookup_symbol(_name: &CStr) -> Option<std::ptr::NonNull<std::ffi::c_void>> {
  None
}

#[cfg(test)]
mod tests {
  use super::*;

  #[cfg(target_os = "linux")]
  #[test]
  fn page_size_is_a_power_of_two() {
    assert!(page_size().is_power_of_two());
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn filesystem_space_of_a_directory_and_of_nothing() {
    assert!(filesystem_space(&std::env::temp_dir()).is_ok());
    let err = filesystem_space(Path::new("/no/such/dir")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
  }

  #[cfg(unix)]
  #[test]
  fn own_process_exists() {
    assert!(process_exists(std::process::id()));
  }

  #[cfg(unix)]
  #[test]
  fn finds_a_libc_symbol_and_not_a_made_up_one() {
    assert!(lookup_symbol(c"malloc").is_some());
    assert!(lookup_symbol(c"leakwatch_no_such_symbol_for_test").is_none());
  }

  #[cfg(all(target_os = "linux", target_env = "gnu"))]
  #[test]
  fn malloc_figures_see_a_live_allocation() {
    // Present from glibc 2.33 on; absent is a valid answer on older ones.
    let Some(before) = malloc_figures() else {
      return;
    };
    // black_box: an optimised build would otherwise leave out an allocation nothing reads.
    let block = std::hint::black_box(vec![1u8; 64 << 10]);
    let after = malloc_figures().unwrap();
    assert!(after.in_use + after.mmapped >= before.in_use + before.mmapped + (60 << 10));
    drop(block);
  }

  #[test]
  fn errno_names() {
    assert_eq!(errno_name(libc::ENOSPC), Some("ENOSPC"));
    // A dump that cannot open its file because the process is out of descriptors says so.
    assert_eq!(errno_name(libc::EMFILE), Some("EMFILE"));
    assert_eq!(errno_name(libc::ENFILE), Some("ENFILE"));
    assert_eq!(errno_name(0), None);
  }
}
