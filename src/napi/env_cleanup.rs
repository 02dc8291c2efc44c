//! One owner for the env-cleanup-hook pattern: a value that must be shut down either when
//! JavaScript says so (`stop()`, `disarm()`) or when its environment (main thread or worker)
//! is torn down, whichever comes first, and exactly once.
//!
//! Hand-written rather than napi-rs's `Env::add_env_cleanup_hook`: removing a hook there
//! leaks the hook's data, and the data here holds a thread and GC callbacks.

use std::cell::Cell;
use std::ffi::c_void;
use std::rc::Rc;

use napi::{sys, Env};

use crate::error::ErrorCode;
use crate::napi::error;

/// What runs once, on the environment's thread, when the owner stops or the env goes away.
pub trait Shutdown: 'static {
  fn shutdown(&self);
}

/// The value and whether its shutdown ran; the hook holds one `Rc` of it while registered.
struct Hooked<T> {
  value: T,
  /// Set while the env cleanup hook is registered and has not run.
  registered: Cell<bool>,
  shut_down: Cell<bool>,
}

impl<T: Shutdown> Hooked<T> {
  fn shutdown_once(&self) {
    if !self.shut_down.replace(true) {
      self.value.shutdown();
    }
  }
}

type Hook = unsafe extern "C" fn(*mut c_void);

unsafe extern "C" fn on_env_cleanup<T: Shutdown>(arg: *mut c_void) {
  // SAFETY: `arg` is the `Rc<Hooked<T>>` leaked by `EnvCleanup::register` for this very
  // function; Node runs a registered hook at most once, and never after it was removed, so
  // the leaked count is taken back exactly once.
  let hooked = unsafe { Rc::from_raw(arg as *const Hooked<T>) };
  hooked.registered.set(false);
  hooked.shutdown_once();
}

/// A value shut down by `stop()` or by its environment's teardown, once.
pub struct EnvCleanup<T: Shutdown> {
  hooked: Rc<Hooked<T>>,
  env: sys::napi_env,
  /// The hook as registered (removal needs the same function pointer).
  hook: Hook,
}

impl<T: Shutdown> EnvCleanup<T> {
  /// Registers the env cleanup hook for `value`. If Node refuses, `value` is shut down now
  /// and the error carries `code`.
  pub fn register(env: &Env, value: T, code: ErrorCode) -> error::Result<Self> {
    let hooked = Rc::new(Hooked {
      value,
      registered: Cell::new(false),
      shut_down: Cell::new(false),
    });
    let hook: Hook = on_env_cleanup::<T>;
    let arg = Rc::into_raw(hooked.clone()) as *mut c_void;
    // SAFETY: called on the env's own thread (from a JS call); `hook` takes back the Rc
    // leaked in `arg` when it runs.
    let status = unsafe { sys::napi_add_env_cleanup_hook(env.raw(), Some(hook), arg) };
    if status != sys::Status::napi_ok {
      // SAFETY: not registered, so nothing else will take back the Rc leaked in `arg`.
      drop(unsafe { Rc::from_raw(arg as *const Hooked<T>) });
      hooked.shutdown_once();
      return Err(napi::Error::new(
        code,
        "cannot register the environment cleanup hook",
      ));
    }
    hooked.registered.set(true);
    Ok(EnvCleanup {
      hooked,
      env: env.raw(),
      hook,
    })
  }

  pub fn get(&self) -> &T {
    &self.hooked.value
  }

  /// Shuts the value down (once) and removes the env cleanup hook. Idempotent.
  pub fn stop(&self) {
    self.hooked.shutdown_once();
    if self.hooked.registered.replace(false) {
      let arg = Rc::as_ptr(&self.hooked) as *mut c_void;
      // SAFETY: on the env's thread (a JS call); the hook is registered with exactly this
      // (function, arg) pair and has not run (`registered` was still set).
      let status = unsafe { sys::napi_remove_env_cleanup_hook(self.env, Some(self.hook), arg) };
      if status == sys::Status::napi_ok {
        // SAFETY: the hook was removed and will not run: release the Rc it owned.
        drop(unsafe { Rc::from_raw(arg as *const Hooked<T>) });
      }
    }
  }
}
