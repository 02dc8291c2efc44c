//! A snapshot file that appears under its name only when complete.
//!
//! Created as `.<name>.partial` next to the target with `O_EXCL` and mode 0600 (snapshots
//! hold every string in the heap: tokens, passwords, personal data), written chunk by chunk
//! and renamed over the target by [`PartialFile::commit`]. Dropped without a commit (a write
//! error, an abort, a panic) it removes itself; a process killed mid-write leaves only the
//! `.partial` file, which [`super::name::remove_stale_partials`] clears later.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::name::partial_path;
use crate::os;

/// Which system call failed, for the error message.
#[derive(Debug)]
pub struct FileError {
  pub syscall: &'static str,
  pub path: PathBuf,
  pub error: io::Error,
}

impl FileError {
  fn new(syscall: &'static str, path: &Path, error: io::Error) -> Self {
    FileError {
      syscall,
      path: path.to_path_buf(),
      error,
    }
  }

  /// "ENOSPC", "EACCES"… when the OS gave an errno.
  pub fn errno_name(&self) -> Option<&'static str> {
    os::errno_name(self.error.raw_os_error()?)
  }
}

impl std::fmt::Display for FileError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(
      f,
      "{} {}: {}",
      self.syscall,
      self.path.display(),
      self.error
    )
  }
}

/// An open temporary file on its way to `target`.
pub struct PartialFile {
  file: Option<File>,
  partial: PathBuf,
  target: PathBuf,
  bytes: u64,
  failure: Option<FileError>,
}

impl PartialFile {
  /// Creates the temporary file for `target` (which must not be a directory).
  pub fn create(target: &Path) -> Result<PartialFile, FileError> {
    let partial = partial_path(target);
    let file =
      os::create_private_file(&partial).map_err(|e| FileError::new("open", &partial, e))?;
    // Held until the file is closed: another process cleaning the directory (another pid
    // namespace on a shared volume sees this pid as dead) leaves a locked partial alone.
    // A filesystem without locks still has the quiet-period rule.
    let _ = os::try_lock_exclusive(&file);
    Ok(PartialFile {
      file: Some(file),
      partial,
      target: target.to_path_buf(),
      bytes: 0,
      failure: None,
    })
  }

  /// Appends `data`; false after the first failure (kept for [`PartialFile::commit`]).
  pub fn write(&mut self, data: &[u8]) -> bool {
    if self.failure.is_some() {
      return false;
    }
    let Some(file) = self.file.as_mut() else {
      return false;
    };
    match file.write_all(data) {
      Ok(()) => {
        self.bytes += data.len() as u64;
        true
      }
      Err(e) => {
        self.failure = Some(FileError::new("write", &self.partial, e));
        false
      }
    }
  }

  /// The write error that stopped the file, if any.
  pub fn take_failure(&mut self) -> Option<FileError> {
    self.failure.take()
  }

  /// Closes the file and renames it to its target; on any failure the temporary file is
  /// removed and the error returned.
  pub fn commit(mut self) -> Result<(PathBuf, u64), FileError> {
    if let Some(failure) = self.failure.take() {
      return Err(failure);
    }
    let file = self.file.take().expect("file open until commit");
    os::close_checked(file).map_err(|e| FileError::new("close", &self.partial, e))?;
    std::fs::rename(&self.partial, &self.target)
      .map_err(|e| FileError::new("rename", &self.target, e))?;
    // Renamed: nothing left to clean up.
    self.partial = PathBuf::new();
    Ok((self.target.clone(), self.bytes))
  }
}

impl Drop for PartialFile {
  fn drop(&mut self) {
    drop(self.file.take());
    if !self.partial.as_os_str().is_empty() {
      let _ = std::fs::remove_file(&self.partial);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lw-file-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
  }

  #[test]
  fn appears_only_when_committed_with_mode_0600() {
    let dir = temp_dir("ok");
    let target = dir.join("a.heapsnapshot");
    let mut f = PartialFile::create(&target).unwrap();
    assert!(f.write(b"{\"snapshot\":"));
    assert!(f.write(b"{}}"));
    assert!(!target.exists());
    assert!(partial_path(&target).exists());
    let (path, bytes) = f.commit().unwrap();
    assert_eq!((path.as_path(), bytes), (target.as_path(), 15));
    assert_eq!(
      std::fs::read_to_string(&target).unwrap(),
      "{\"snapshot\":{}}"
    );
    assert!(!partial_path(&target).exists());
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      let mode = std::fs::metadata(&target).unwrap().permissions().mode();
      assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn dropped_unfinished_leaves_nothing() {
    let dir = temp_dir("drop");
    let target = dir.join("b.heapsnapshot");
    let mut f = PartialFile::create(&target).unwrap();
    f.write(b"{\"snap");
    drop(f);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn enospc_fails_the_commit_and_leaves_nothing() {
    // /dev/full answers every write with ENOSPC: stand it in for the open file.
    let dir = temp_dir("full");
    let target = dir.join("c.heapsnapshot");
    let mut f = PartialFile::create(&target).unwrap();
    f.file = Some(
      std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap(),
    );
    assert!(!f.write(&[b'x'; 4096]));
    assert!(!f.write(b"more"));
    let err = f.commit().unwrap_err();
    assert_eq!(err.syscall, "write");
    assert_eq!(err.errno_name(), Some("ENOSPC"));
    assert!(!target.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn missing_directory_is_an_open_error() {
    let err = PartialFile::create(Path::new("/no/such/dir/d.heapsnapshot"))
      .err()
      .unwrap();
    assert_eq!(err.syscall, "open");
    assert_eq!(err.errno_name(), Some("ENOENT"));
  }
}
