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

/// The leakwatch snapshots in `dir` beyond the newest `keep`, oldest first (by the time in
/// their names, then the name).
pub fn beyond_newest(names: &[String], keep: usize) -> Vec<String> {
  let mut ours: Vec<(u64, &String)> = names
    .iter()
    .filter_map(|n| DumpName::parse(n).map(|d| (d.millis_since_epoch, n)))
    .collect();
  ours.sort();
  let excess = ours.len().saturating_sub(keep);
  ours
    .into_iter()
    .take(excess)
    .map(|(_, n)| n.clone())
    .collect()
}

/// Removes the oldest leakwatch snapshots in `dir` so that at most `keep` remain; returns the
/// paths removed. Other files are never touched.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
  let names: Vec<String> = std::fs::read_dir(dir)?
    .filter_map(|e| e.ok())
    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
    .map(|e| e.file_name().to_string_lossy().into_owned())
    .collect();
  let mut removed = Vec::new();
  for name in beyond_newest(&names, keep) {
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
/// writer's pid no longer exists here and the file has not changed for `quiet`. (A pid from
/// another pid namespace sharing the directory looks dead; its file would still be written
/// to, so the quiet period protects it.)
pub fn remove_stale_partials(dir: &Path, quiet: Duration) -> Vec<PathBuf> {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return Vec::new();
  };
  let now = SystemTime::now();
  let mut removed = Vec::new();
  for entry in entries.filter_map(|e| e.ok()) {
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
    if old_enough && std::fs::remove_file(entry.path()).is_ok() {
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
  fn keeps_the_newest() {
    let names: Vec<String> = vec![
      DumpName::new(at(3000), 1, 0, 2, "leak").file_name(),
      "notes.txt".into(),
      DumpName::new(at(1000), 2, 0, 0, "leak").file_name(),
      DumpName::new(at(2000), 1, 0, 1, "rss").file_name(),
    ];
    assert_eq!(
      beyond_newest(&names, 1),
      vec![names[2].clone(), names[3].clone()]
    );
    assert!(beyond_newest(&names, 3).is_empty());
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
    let removed = prune(&dir, 1).unwrap();
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
