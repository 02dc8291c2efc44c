//! What the near-heap-limit hook leaves when a snapshot does not fit: V8's heap and per-space
//! statistics, RSS and what malloc holds, as a small JSON file beside where the snapshot would
//! have been (`leakwatch-…-near-heap-limit.heapstats.json`, written under a temporary name and
//! renamed, like a snapshot). It runs inside V8's callback, where no JavaScript can run:
//! the code statistics and the allocation profile the facade adds on other skips need it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::{FileError, PartialFile};
use super::name::DumpName;
use crate::monitor::record::HeapFigures;
use crate::os::MallocFigures;
use crate::v8::SpaceFigures;

/// The file name's ending (the facade writes the same kind of file on its skips).
pub const SUFFIX: &str = ".heapstats.json";

/// Figures read at the moment of the skip.
pub struct Statistics {
  pub trigger: &'static str,
  pub heap: Option<HeapFigures>,
  /// Per space, as `v8.getHeapSpaceStatistics()` names them (empty when unavailable).
  pub spaces: Vec<SpaceFigures>,
  pub rss: Option<u64>,
  pub malloc: Option<MallocFigures>,
}

/// The JSON text (no strings from outside: the trigger is one of leakwatch's names).
fn json(s: &Statistics, at: SystemTime, thread_id: u32) -> String {
  let millis = at
    .duration_since(UNIX_EPOCH)
    .map(|d| d.as_millis())
    .unwrap_or(0);
  let opt = |v: Option<u64>| v.map_or_else(|| "null".to_string(), |v| v.to_string());
  let heap = s.heap.map_or_else(
    || "null".to_string(),
    |h| {
      format!(
        "{{\"used_heap_size\":{},\"total_heap_size\":{},\"total_physical_size\":{},\
         \"heap_size_limit\":{},\"external_memory\":{},\"malloced_memory\":{}}}",
        h.used, h.total, h.physical, h.limit, h.external, h.malloced
      )
    },
  );
  let malloc = s.malloc.map_or_else(
    || "null".to_string(),
    |m| {
      format!(
        "{{\"inUse\":{},\"free\":{},\"mmapped\":{},\"arena\":{}}}",
        m.in_use.saturating_add(m.mmapped),
        m.free,
        m.mmapped,
        m.arena
      )
    },
  );
  let spaces = s
    .spaces
    .iter()
    .map(|sp| {
      // V8's space names are identifiers; anything else is dropped rather than escaped.
      let name: String = sp
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
      format!(
        "{{\"space_name\":\"{name}\",\"space_size\":{},\"space_used_size\":{},\
         \"space_available_size\":{},\"physical_space_size\":{}}}",
        sp.size, sp.used, sp.available, sp.physical
      )
    })
    .collect::<Vec<_>>()
    .join(",");
  format!(
    "{{\"time\":{millis},\"pid\":{},\"threadId\":{thread_id},\"trigger\":\"{}\",\
     \"source\":\"native\",\"heap\":{heap},\"spaces\":[{spaces}],\"rss\":{},\
     \"malloc\":{malloc}}}\n",
    std::process::id(),
    s.trigger,
    opt(s.rss)
  )
}

/// Writes the statistics into `dir`; the path, or why not.
pub fn write(dir: &Path, thread_id: u32, stats: &Statistics) -> Result<PathBuf, FileError> {
  let now = SystemTime::now();
  let name = DumpName::new(
    now,
    std::process::id(),
    thread_id,
    super::next_seq(),
    stats.trigger,
  )
  .file_name();
  let stem = name.strip_suffix(".heapsnapshot").unwrap_or(&name);
  let mut file = PartialFile::create(&dir.join(format!("{stem}{SUFFIX}")))?;
  file.write(json(stats, now, thread_id).as_bytes());
  file.commit().map(|(path, _)| path)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn writes_whole_json_and_no_partial() {
    let dir = std::env::temp_dir().join(format!("leakwatch-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stats = Statistics {
      trigger: "near-heap-limit",
      heap: Some(HeapFigures {
        used: 10,
        total: 20,
        physical: 15,
        limit: 40,
        external: 1,
        malloced: 2,
      }),
      spaces: vec![SpaceFigures {
        name: "old_space".to_string(),
        size: 8,
        used: 4,
        available: 2,
        physical: 8,
      }],
      rss: Some(1234),
      malloc: None,
    };
    let path = write(&dir, 0, &stats).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("-near-heap-limit.heapstats.json"), "{name}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"heap_size_limit\":40"), "{text}");
    assert!(text.contains("\"rss\":1234,\"malloc\":null"), "{text}");
    assert!(
      text.contains("\"spaces\":[{\"space_name\":\"old_space\",\"space_size\":8,"),
      "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
  }
}
