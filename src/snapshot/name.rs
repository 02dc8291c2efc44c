//! Names of leakwatch's snapshot files, the temporary names they are written under, and
//! the directory housekeeping both allow.
//!
//! `leakwatch-20261121-101502.123-4242-0-1-leak.heapsnapshot`: UTC date and time to the
//! millisecond, pid, Node.js thread id, a per-process sequence number and the trigger. Names
//! sort by time as strings. A dump is written as `.<name>.partial` in the same directory and
//! renamed when complete, so a `.heapsnapshot` file is always whole.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "leakwatch-";
const SUFFIX: &str = ".heapsnapshot";
const PARTIAL_SUFFIX: &str = ".partial";

/// What a leakwatch snapshot name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpName {
  pub millis_since_epoch: u64,
  pub pid: u32,
  pub thread_id: u32,
  pub seq: u64,
  pub reason: String,
}

/// Triggers are lowercase words joined by '-'.
fn valid_reason(reason: &str) -> bool {
  !reason.is_empty()
    && reason.len() <= 32
    && reason
      .bytes()
      .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl DumpName {
  pub fn new(at: SystemTime, pid: u32, thread_id: u32, seq: u64, reason: &str) -> DumpName {
    let millis = at
      .duration_since(UNIX_EPOCH)
      .unwrap_or(Duration::ZERO)
      .as_millis() as u64;
    DumpName {
      millis_since_epoch: millis,
      pid,
      thread_id,
      seq,
      reason: if valid_reason(reason) {
        reason.to_string()
      } else {
        "other".to_string()
      },
    }
  }

  pub fn file_name(&self) -> String {
    let (date, time) = utc_parts(self.millis_since_epoch);
    format!(
      "{PREFIX}{date}-{time}-{}-{}-{}-{}{SUFFIX}",
      self.pid, self.thread_id, self.seq, self.reason
    )
  }

  /// Reads a name written by [`DumpName::file_name`]; None for any other file.
  pub fn parse(name: &str) -> Option<DumpName> {
    let body = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let mut parts = body.splitn(6, '-');
    let date = parts.next()?;
    let time = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let thread_id = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let reason = parts.next()?;
    if !valid_reason(reason) {
      return None;
    }
    let millis = parse_utc(date, time)?;
    Some(DumpName {
      millis_since_epoch: millis,
      pid,
      thread_id,
      seq,
      reason: reason.to_string(),
    })
  }
}

/// The temporary name a dump is written under before it is renamed to `target`.
pub fn partial_path(target: &Path) -> PathBuf {
  let name = target
    .file_name()
    .map(|n| n.to_string_lossy().into_owned())
    .unwrap_or_default();
  target.with_file_name(format!(".{name}{PARTIAL_SUFFIX}"))
}

/// The pid in a leakwatch partial file's name.
fn partial_pid(name: &str) -> Option<u32> {
  let inner = name.strip_prefix('.')?.strip_suffix(PARTIAL_SUFFIX)?;
  DumpName::parse(inner).map(|d| d.pid)
}

/// "20261121", "101502.123" for a time in ms since the epoch (UTC, proleptic Gregorian).
fn utc_parts(millis: u64) -> (String, String) {
  let secs = millis / 1000;
  let (y, m, d) = civil_from_days((secs / 86_400) as i64);
  let rem = secs % 86_400;
  (
    format!("{y:04}{m:02}{d:02}"),
    format!(
      "{:02}{:02}{:02}.{:03}",
      rem / 3600,
      rem % 3600 / 60,
      rem % 60,
      millis % 1000
    ),
  )
}

fn parse_utc(date: &str, time: &str) -> Option<u64> {
  if date.len() != 8 || time.len() != 10 || time.as_bytes()[6] != b'.' {
    return None;
  }
  let num = |s: &str| -> Option<u64> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
      s.parse().ok()
    } else {
      None
    }
  };
  let (y, m, d) = (num(&date[0..4])?, num(&date[4..6])?, num(&date[6..8])?);
  let (hh, mm, ss, ms) = (
    num(&time[0..2])?,
    num(&time[2..4])?,
    num(&time[4..6])?,
    num(&time[7..10])?,
  );
  if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
    return None;
  }
  let days = days_from_civil(y as i64, m as u32, d as u32);
  if days < 0 {
    return None;
  }
  Some(((days as u64 * 86_400) + hh * 3600 + mm * 60 + ss) * 1000 + ms)
}

// Howard Hinnant's days-from-civil algorithms (public domain arithmetic).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
  let z = z + 719_468;
  let era = z.div_euclid(146_097);
  let doe = z.rem_euclid(146_097);
  let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
  let y = yoe + era * 400;
  let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  let mp = (5 * doy + 2) / 153;
  let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
  let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
  (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
  let y = if m <= 2 { y - 1 } else { y };
  let era = y.div_euclid(400);
  let yoe = y.rem_euclid(400);
  let mp = (m as i64 + 9) % 12;
  let doy = (153 * mp + 2) / 5 + d as i64 - 1;
  let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  era * 146_097 + doe - 719_468
}

/// How far past this host's clock a name's time may lie (clock skew between hosts sharing a
/// volume) before the file is not taken for a leakwatch dump at all.
const FUTURE_SLACK: Duration = Duration::from_secs(24 * 60 * 60);

/// One dump found in a directory: its modification time and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
  pub modified: SystemTime,
  pub name: String,
}

/// Of `found` (leakwatch dumps in one directory), those to remove so that at most `keep`
/// remain: the oldest by modification time, never `protect` (the dump just written).
pub fn beyond_newest(mut found: Vec<Found>, keep: usize, protect: Option<&str>) -> Vec<String> {
  found.sort();
  let mut excess = found.len().saturating_sub(keep);
  let mut out = Vec::new();
  for f in found {
    if excess == 0 {
      break;
    }
    if Some(f.name.as_str()) == protect {
      continue;
    }
    out.push(f.name);
    excess -= 1;
  }
  out
}

/// Whether this process may take `meta`'s file for its own: same owner (where there are
/// owners).
fn owned_by_us(meta: &std::fs::Metadata) -> bool {
  #[cfg(unix)]
  {
    use std::os::unix::fs::MetadataExt;
    crate::os::effective_uid().is_none_or(|uid| meta.uid() == uid)
  }
  #[cfg(not(unix))]
  {
    let _ = meta;
    true
  }
}

/// The leakwatch dumps in `dir` that pruning may touch: regular files (not symlinks) with a
/// leakwatch name whose time is not in the future, owned by this process's user. Anyone who
/// can write to a shared directory could otherwise plant names that make every new dump the
/// oldest one.
fn dumps_in(dir: &Path) -> std::io::Result<Vec<Found>> {
  let latest = SystemTime::now() + FUTURE_SLACK;
  let mut found = Vec::new();
  for entry in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
    if !entry.file_type().is_ok_and(|t| t.is_file()) {
      continue;
    }
    let name = entry.file_name().to_string_lossy().into_owned();
    let Some(parsed) = DumpName::parse(&name) else {
      continue;
    };
    if UNIX_EPOCH + Duration::from_millis(parsed.millis_since_epoch) > latest {
      continue;
    }
    let Ok(meta) = entry.metadata() else {
      continue;
    };
    if !owned_by_us(&meta) {
      continue;
    }
    found.push(Found {
      modified: meta.modified().unwrap_or(UNIX_EPOCH),
      name,
    });
  }
  Ok(found)
}

/// Removes the oldest leakwatch snapshots in `dir` so that at most `keep` remain, never
/// `just_written`; returns the paths removed. Other files are never touched (see
/// [`dumps_in`]).
pub fn prune(
  dir: &Path,
  keep: usize,
  just_written: Option<&Path>,
) -> std::io::Result<Vec<PathBuf>> {
  let protect = just_written
    .and_then(Path::file_name)
    .map(|n| n.to_string_lossy().into_owned());
  let mut removed = Vec::new();
  for name in beyond_newest(dumps_in(dir)?, keep, protect.as_deref()) {
    let path = dir.join(&name);
    match std::fs::remove_file(&path) {
      Ok(()) => removed.push(path),
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
      Err(e) => return Err(e),
    }
  }
  Ok(removed)
}

/// Removes partial files left in `dir` by leakwatch processes that died mid-write: the
/// writer's pid no longer exists here, the file has not changed for `quiet`, and no open file
/// holds its lock (the writer locks it while writing; a writer in another pid namespace
/// sharing the directory looks dead but still holds the lock).
pub fn remove_stale_partials(dir: &Path, quiet: Duration) -> Vec<PathBuf> {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return Vec::new();
  };
  let now = SystemTime::now();
  let mut removed = Vec::new();
  for entry in entries.filter_map(|e| e.ok()) {
    if !entry.file_type().is_ok_and(|t| t.is_file()) {
      continue;
    }
    let name = entry.file_name().to_string_lossy().into_owned();
    let Some(pid) = partial_pid(&name) else {
      continue;
    };
    if pid == std::process::id() || crate::os::process_exists(pid) {
      continue;
    }
    let old_enough = entry
      .metadata()
      .and_then(|m| m.modified())
      .is_ok_and(|t| now.duration_since(t).unwrap_or(Duration::ZERO) >= quiet);
    if !old_enough {
      continue;
    }
    // Removed while this process holds the lock, so no writer can be mid-way.
    let Ok(file) = std::fs::File::open(entry.path()) else {
      continue;
    };
    if crate::os::try_lock_exclusive(&file).unwrap_or(false)
      && std::fs::remove_file(entry.path()).is_ok()
    {
      removed.push(entry.path());
    }
  }
  removed
}

#[cfg(test)]
mod tests {
  use super::*;

  fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
  }

  #[test]
  fn names_round_trip_and_sort_by_time() {
    // 2026-11-21T10:15:02.123Z
    let t = 1_795_256_102_123;
    let name = DumpName::new(at(t), 4242, 3, 7, "near-heap-limit");
    let file = name.file_name();
    assert_eq!(
      file,
      "leakwatch-20261121-101502.123-4242-3-7-near-heap-limit.heapsnapshot"
    );
    assert_eq!(DumpName::parse(&file), Some(name));
    let earlier = DumpName::new(at(t - 1), 99999, 0, 1, "leak").file_name();
    assert!(earlier < file);
  }

  #[test]
  fn calendar_edges() {
    for t in [0u64, 951_782_400_000, 4_102_444_800_999, 1_709_164_800_000] {
      let file = DumpName::new(at(t), 1, 0, 0, "api").file_name();
      assert_eq!(
        DumpName::parse(&file).unwrap().millis_since_epoch,
        t,
        "{file}"
      );
    }
    assert!(DumpName::new(at(951_782_400_000), 1, 0, 0, "api")
      .file_name()
      .contains("20000229-000000.000"));
  }

  #[test]
  fn rejects_other_names_and_bad_reasons() {
    for bad in [
      "Heap.20261121.101502.4242.0.001.heapsnapshot",
      "leakwatch-20261121-101502.123-4242-3-7-leak.heapsnapshot.partial",
      "leakwatch-20261321-101502.123-4242-3-7-leak.heapsnapshot",
      "leakwatch-20261121-101502.123-x-3-7-leak.heapsnapshot",
      "leakwatch-20261121-101502.123-4242-3-7-Leak!.heapsnapshot",
    ] {
      assert_eq!(DumpName::parse(bad), None, "{bad}");
    }
    assert_eq!(DumpName::new(at(0), 1, 0, 0, "../etc").reason, "other");
  }

  #[test]
  fn keeps_the_newest_by_modification_time_and_never_the_protected_one() {
    let found = |secs: u64, name: &str| Found {
      modified: at(secs * 1000),
      name: name.to_string(),
    };
    let all = vec![found(3, "c"), found(1, "a"), found(2, "b")];
    assert_eq!(beyond_newest(all.clone(), 1, None), vec!["a", "b"]);
    assert!(beyond_newest(all.clone(), 3, None).is_empty());
    // The protected file is kept even when it is the oldest.
    assert_eq!(beyond_newest(all, 1, Some("a")), vec!["b", "c"]);
  }

  #[test]
  fn names_from_the_future_and_files_of_others_are_not_pruned() {
    let dir = std::env::temp_dir().join(format!("lw-prune-planted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Five planted names dated 9999: before, every new dump sorted first and was deleted.
    let far = UNIX_EPOCH + Duration::from_secs(253_402_214_400); // 9999-12-31
    let planted: Vec<PathBuf> = (0..5)
      .map(|i| dir.join(DumpName::new(far, 1, 0, i, "leak").file_name()))
      .collect();
    for p in &planted {
      std::fs::write(p, "").unwrap();
    }
    let older = dir.join(DumpName::new(SystemTime::now(), 2, 0, 0, "leak").file_name());
    std::fs::write(&older, "{}").unwrap();
    let written = dir.join(DumpName::new(SystemTime::now(), 2, 0, 1, "leak").file_name());
    std::fs::write(&written, "{}").unwrap();
    let removed = prune(&dir, 1, Some(&written)).unwrap();
    assert_eq!(removed, vec![older.clone()], "only our own older dump goes");
    assert!(written.exists(), "the dump just written is never pruned");
    assert!(
      planted.iter().all(|p| p.exists()),
      "future names are left alone"
    );
    // Even with keep = 0 the file just written stays.
    assert!(prune(&dir, 0, Some(&written)).unwrap().is_empty());
    assert!(written.exists());
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[cfg(unix)]
  #[test]
  fn another_users_dump_is_not_pruned() {
    if crate::os::effective_uid() != Some(0) {
      eprintln!("another_users_dump_is_not_pruned: needs root to chown; not checked");
      return;
    }
    let dir = std::env::temp_dir().join(format!("lw-prune-owner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let theirs = dir.join(DumpName::new(at(1000), 3, 0, 0, "leak").file_name());
    std::fs::write(&theirs, "{}").unwrap();
    std::os::unix::fs::chown(&theirs, Some(12_345), None).unwrap();
    assert!(prune(&dir, 0, None).unwrap().is_empty());
    assert!(theirs.exists());
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn a_locked_partial_is_never_taken_for_stale() {
    let dir = std::env::temp_dir().join(format!("lw-partial-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A writer in another pid namespace: its pid looks dead here, its file is old, but it
    // holds the lock (an open file description of its own).
    let target = dir.join(DumpName::new(at(0), 4_000_001, 0, 0, "leak").file_name());
    let partial = partial_path(&target);
    std::fs::write(&partial, "{").unwrap();
    let writer = std::fs::OpenOptions::new()
      .write(true)
      .open(&partial)
      .unwrap();
    assert!(crate::os::try_lock_exclusive(&writer).unwrap());
    assert!(remove_stale_partials(&dir, Duration::ZERO).is_empty());
    assert!(partial.exists());
    drop(writer);
    assert_eq!(
      remove_stale_partials(&dir, Duration::ZERO),
      vec![partial.clone()]
    );
    std::fs::remove_dir_all(&dir).unwrap();
  }

  #[test]
  fn partial_names() {
    let target = Path::new("/d/leakwatch-20261121-101502.123-4242-3-7-leak.heapsnapshot");
    let partial = partial_path(target);
    assert_eq!(
      partial,
      Path::new("/d/.leakwatch-20261121-101502.123-4242-3-7-leak.heapsnapshot.partial")
    );
    assert_eq!(
      partial_pid(&partial.file_name().unwrap().to_string_lossy()),
      Some(4242)
    );
  }

  #[test]
  fn prunes_and_cleans_in_a_directory() {
    let dir = std::env::temp_dir().join(format!("lw-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = DumpName::new(at(1000), 1, 0, 0, "leak").file_name();
    let b = DumpName::new(at(2000), 1, 0, 1, "leak").file_name();
    for n in [&a, &b, &"keep.heapsnapshot".to_string()] {
      std::fs::write(dir.join(n), "{}").unwrap();
    }
    let removed = prune(&dir, 1, None).unwrap();
    assert_eq!(removed, vec![dir.join(&a)]);
    assert!(dir.join(&b).exists() && dir.join("keep.heapsnapshot").exists());

    // A partial of a pid that cannot exist is stale; our own is not.
    let dead = partial_path(&dir.join(DumpName::new(at(0), 4_000_000, 0, 0, "leak").file_name()));
    let ours =
      partial_path(&dir.join(DumpName::new(at(0), std::process::id(), 0, 0, "leak").file_name()));
    std::fs::write(&dead, "{").unwrap();
    std::fs::write(&ours, "{").unwrap();
    assert!(remove_stale_partials(&dir, Duration::from_secs(3600)).is_empty());
    assert_eq!(
      remove_stale_partials(&dir, Duration::ZERO),
      vec![dead.clone()]
    );
    assert!(ours.exists());
    std::fs::remove_dir_all(&dir).unwrap();
  }
}
