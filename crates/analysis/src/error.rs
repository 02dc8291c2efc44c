//! What can go wrong reading and analysing a snapshot, as data with a stable code. The napi
//! layer turns it into a JS `Error` whose `code` is the string below.

use std::fmt;

/// What kind of fault an [`AnalysisError`] is; each has a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
  /// The file cannot be opened or read (missing, a directory, no permission, I/O error).
  Read,
  /// The file has no bytes (or only whitespace).
  Empty,
  /// The file ends before the snapshot does.
  Truncated,
  /// Not JSON, or JSON that is not shaped like a heap snapshot.
  Syntax,
  /// `snapshot.meta` is missing, or lacks a field or type the analysis needs.
  Meta,
  /// A number or an index out of range: an edge to a node that does not exist, a string
  /// index past the strings table, a count that disagrees with the arrays, a value ≥ 2^32.
  Range,
  /// The snapshot needs more memory than the analysis may take: a header larger than the
  /// cap, or a column the allocator cannot grow.
  TooLarge,
  /// The output file (a redacted copy) cannot be written: no space, no permission, ….
  Write,
  /// The caller aborted the analysis.
  Aborted,
  /// A fault inside leakwatch's analysis (a bug): reported, never a crash.
  Internal,
}

impl Kind {
  /// The stable `ERR_LEAKWATCH_*` code JavaScript sees as `err.code`.
  pub fn code(self) -> &'static str {
    match self {
      Kind::Read => "ERR_LEAKWATCH_SNAPSHOT_READ",
      Kind::Empty => "ERR_LEAKWATCH_SNAPSHOT_EMPTY",
      Kind::Truncated => "ERR_LEAKWATCH_SNAPSHOT_TRUNCATED",
      Kind::Syntax => "ERR_LEAKWATCH_SNAPSHOT_SYNTAX",
      Kind::Meta => "ERR_LEAKWATCH_SNAPSHOT_META",
      Kind::Range => "ERR_LEAKWATCH_SNAPSHOT_RANGE",
      Kind::TooLarge => "ERR_LEAKWATCH_SNAPSHOT_TOO_LARGE",
      Kind::Write => "ERR_LEAKWATCH_SNAPSHOT_WRITE",
      Kind::Aborted => "ERR_LEAKWATCH_ABORTED",
      Kind::Internal => "ERR_LEAKWATCH_ANALYSIS_INTERNAL",
    }
  }
}

/// Why an analysis failed: a kind with a stable code, a message and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisError {
  /// What went wrong.
  pub kind: Kind,
  /// For people: what, and what was expected.
  pub message: String,
  /// Byte offset in the file, when the fault is at a place in it.
  pub offset: Option<u64>,
  /// The file the fault is in (set by the caller that knows the path).
  pub file: Option<String>,
  /// For `Read`: the OS error name (`ENOENT`, `EISDIR`, `EACCES`, …).
  pub errno: Option<&'static str>,
}

impl AnalysisError {
  /// An error with no place attached yet.
  pub fn new(kind: Kind, message: impl Into<String>) -> Self {
    AnalysisError {
      kind,
      message: message.into(),
      offset: None,
      file: None,
      errno: None,
    }
  }

  /// An error at byte `offset` of the file.
  pub fn at(kind: Kind, message: impl Into<String>, offset: u64) -> Self {
    AnalysisError {
      offset: Some(offset),
      ..AnalysisError::new(kind, message)
    }
  }

  /// A `Read` error from an OS error met while `doing` something to the file.
  pub fn io(err: &std::io::Error, doing: &str) -> Self {
    let errno = err.raw_os_error().map(errno_name);
    AnalysisError {
      errno,
      ..AnalysisError::new(Kind::Read, format!("cannot {doing} the file: {err}"))
    }
  }

  /// A `Write` error from an OS error met while `doing` something to the output file.
  pub fn write_io(err: &std::io::Error, doing: &str) -> Self {
    let errno = err.raw_os_error().map(errno_name);
    AnalysisError {
      errno,
      ..AnalysisError::new(Kind::Write, format!("cannot {doing}: {err}"))
    }
  }

  /// Sets the byte offset unless one is already known.
  pub fn with_offset(mut self, offset: u64) -> Self {
    self.offset.get_or_insert(offset);
    self
  }

  /// Names the file the error is in.
  pub fn in_file(mut self, file: &str) -> Self {
    self.file = Some(file.to_string());
    self
  }

  /// The error of an allocation the allocator refused (`try_reserve`), for `what`.
  pub fn too_large(what: &str) -> Self {
    AnalysisError::new(
      Kind::TooLarge,
      format!("not enough memory for {what} of this snapshot"),
    )
  }

  /// The error of a cancelled analysis.
  pub fn aborted() -> Self {
    AnalysisError::new(Kind::Aborted, "the analysis was aborted")
  }
}

impl fmt::Display for AnalysisError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Some(file) = &self.file {
      write!(f, "{file}: ")?;
    }
    write!(f, "{}", self.message)?;
    if let Some(offset) = self.offset {
      write!(f, " (at byte {offset})")?;
    }
    Ok(())
  }
}

impl std::error::Error for AnalysisError {}

fn errno_name(errno: i32) -> &'static str {
  match errno {
    libc::ENOENT => "ENOENT",
    libc::EISDIR => "EISDIR",
    libc::EACCES => "EACCES",
    libc::EPERM => "EPERM",
    libc::EIO => "EIO",
    libc::ENOMEM => "ENOMEM",
    libc::ENOTDIR => "ENOTDIR",
    libc::ELOOP => "ELOOP",
    libc::EMFILE => "EMFILE",
    libc::ENOSPC => "ENOSPC",
    libc::EROFS => "EROFS",
    libc::EEXIST => "EEXIST",
    libc::EXDEV => "EXDEV",
    libc::EDQUOT => "EDQUOT",
    libc::EBUSY => "EBUSY",
    _ => "EUNKNOWN",
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn message_names_file_and_offset() {
    let e = AnalysisError::at(Kind::Syntax, "expected '['", 17).in_file("a.heapsnapshot");
    assert_eq!(e.to_string(), "a.heapsnapshot: expected '[' (at byte 17)");
    assert_eq!(e.kind.code(), "ERR_LEAKWATCH_SNAPSHOT_SYNTAX");
  }

  #[test]
  fn io_errors_carry_errno() {
    let err = std::io::Error::from_raw_os_error(libc::EISDIR);
    let e = AnalysisError::io(&err, "read");
    assert_eq!(e.errno, Some("EISDIR"));
    assert_eq!(e.kind.code(), "ERR_LEAKWATCH_SNAPSHOT_READ");
  }
}
