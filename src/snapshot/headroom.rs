//! How much memory and disk a heap snapshot may use: read from the operating system.
//!
//! Memory: the smallest of the system's available memory (`MemAvailable`), the room left in
//! the process's memory cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`, each level up
//! to the root; usage minus inactive file cache, as the kubelet counts a container's working
//! set) and an operator's own budget. Disk: blocks available to unprivileged users on the
//! target directory's filesystem; a tmpfs there is memory, so its file counts as memory too.

use std::path::Path;

/// Values at or above this are "no limit" (cgroup v1 reports ~2^63 rounded to pages).
const UNLIMITED: u64 = 1 << 60;

/// Memory the process may still take, and what bounds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRoom {
  pub bytes: u64,
  /// "cgroup", "system" or "memoryLimitBytes".
  pub bound: &'static str,
}

/// `MemAvailable` from /proc/meminfo text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
  meminfo_field(meminfo, "MemAvailable:")
}

fn meminfo_field(meminfo: &str, name: &str) -> Option<u64> {
  let line = meminfo.lines().find(|l| l.starts_with(name))?;
  let kib: u64 = line[name.len()..]
    .split_ascii_whitespace()
    .next()?
    .parse()
    .ok()?;
  Some(kib.saturating_mul(1024))
}

/// A cgroup limit file: a number of bytes, or "max" (v2) / a huge number (v1) = none.
pub fn parse_limit(text: &str) -> Option<u64> {
  let v: u64 = text.trim().parse().ok()?;
  (v < UNLIMITED).then_some(v)
}

/// The inactive file cache in a cgroup's `memory.stat` (v2 `inactive_file`, v1
/// `total_inactive_file`), reclaimable before the cgroup's OOM killer acts.
pub fn parse_inactive_file(stat: &str) -> u64 {
  let mut v2 = None;
  let mut v1 = None;
  for line in stat.lines() {
    let mut parts = line.split_ascii_whitespace();
    match (
      parts.next(),
      parts.next().and_then(|v| v.parse::<u64>().ok()),
    ) {
      (Some("inactive_file"), Some(v)) => v2 = Some(v),
      (Some("total_inactive_file"), Some(v)) => v1 = Some(v),
      _ => {}
    }
  }
  v1.or(v2).unwrap_or(0)
}

/// The memory cgroup paths in /proc/self/cgroup: (v2 path, v1 memory path).
pub fn parse_proc_cgroup(text: &str) -> (Option<String>, Option<String>) {
  let mut v2 = None;
  let mut v1 = None;
  for line in text.lines() {
    let mut parts = line.splitn(3, ':');
    let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
    else {
      continue;
    };
    if id == "0" && controllers.is_empty() {
      v2 = Some(path.to_string());
    } else if controllers.split(',').any(|c| c == "memory") {
      v1 = Some(path.to_string());
    }
  }
  (v2, v1)
}

/// Room left in one cgroup directory, if it has a limit.
fn cgroup_dir_room(dir: &Path, limit: &str, usage: &str) -> Option<u64> {
  let limit = parse_limit(&std::fs::read_to_string(dir.join(limit)).ok()?)?;
  let usage: u64 = std::fs::read_to_string(dir.join(usage))
    .ok()?
    .trim()
    .parse()
    .ok()?;
  let inactive = std::fs::read_to_string(dir.join("memory.stat"))
    .map(|s| parse_inactive_file(&s))
    .unwrap_or(0);
  Some(limit.saturating_sub(usage.saturating_sub(inactive)))
}

/// The tightest room along a cgroup path and its ancestors under `mount`. A container with
/// its own cgroup namespace sees its cgroup at the mount point itself.
fn cgroup_room(mount: &Path, path: &str, limit: &str, usage: &str) -> Option<u64> {
  let mut best: Option<u64> = None;
  let mut take = |room: Option<u64>| {
    if let Some(r) = room {
      best = Some(best.map_or(r, |b| b.min(r)));
    }
  };
  let mut rel = Path::new(path.trim_start_matches('/'));
  loop {
    let dir = mount.join(rel);
    if dir.is_dir() {
      take(cgroup_dir_room(&dir, limit, usage));
    }
    match rel.parent() {
      Some(parent) => rel = parent,
      None => break,
    }
  }
  best
}

/// Memory the process may still take before the cgroup's limit, if any.
pub fn cgroup_memory_room() -> Option<u64> {
  let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
  let (v2, v1) = parse_proc_cgroup(&text);
  let v2_room = v2.and_then(|p| {
    cgroup_room(
      Path::new("/sys/fs/cgroup"),
      &p,
      "memory.max",
      "memory.current",
    )
  });
  let v1_room = v1.and_then(|p| {
    cgroup_room(
      Path::new("/sys/fs/cgroup/memory"),
      &p,
      "memory.limit_in_bytes",
      "memory.usage_in_bytes",
    )
  });
  match (v2_room, v1_room) {
    (Some(a), Some(b)) => Some(a.min(b)),
    (a, b) => a.or(b),
  }
}

/// The system's available memory (Linux `MemAvailable`).
pub fn system_memory_available() -> Option<u64> {
  parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// Every bound on the memory a snapshot may use, as read now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySources {
  /// The operator's total for this process (`memoryLimitBytes`).
  pub budget: Option<u64>,
  /// libuv's constrained memory (`process.constrainedMemory()`), a total for the process.
  pub constrained: Option<u64>,
  /// Room left under the cgroup's limit (its usage counted, at every level).
  pub cgroup: Option<u64>,
  /// The system's `MemAvailable`.
  pub system: Option<u64>,
}

impl MemorySources {
  fn read(budget: Option<u64>) -> MemorySources {
    MemorySources {
      budget,
      constrained: crate::os::constrained_memory(),
      cgroup: cgroup_memory_room(),
      system: system_memory_available(),
    }
  }

  /// The smallest room, named by its source. The totals (`budget`, `constrained`) are turned
  /// into room by taking away the process's resident set `rss`; on a tie the first listed
  /// wins: memoryLimitBytes, cgroup, constrainedMemory, system.
  pub fn room(&self, rss: u64) -> Option<MemoryRoom> {
    [
      (
        self.budget.map(|b| b.saturating_sub(rss)),
        "memoryLimitBytes",
      ),
      (self.cgroup, "cgroup"),
      (
        self.constrained.map(|c| c.saturating_sub(rss)),
        "constrainedMemory",
      ),
      (self.system, "system"),
    ]
    .into_iter()
    .filter_map(|(bytes, bound)| bytes.map(|bytes| MemoryRoom { bytes, bound }))
    .reduce(|best, r| if r.bytes < best.bytes { r } else { best })
  }
}

/// The memory a snapshot may use: the smallest bound known. `budget` is the operator's
/// total for this process (`memoryLimitBytes`), `rss` the process's resident set now.
pub fn memory_room(budget: Option<u64>, rss: u64) -> Option<MemoryRoom> {
  MemorySources::read(budget).room(rss)
}

/// Free space of the filesystem holding `dir`, for an unprivileged writer, and whether it
/// is a tmpfs (whose files live in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskRoom {
  pub free_bytes: u64,
  pub in_memory: bool,
}

pub fn disk_room(dir: &Path) -> std::io::Result<DiskRoom> {
  let fs = crate::os::filesystem_space(dir)?;
  Ok(DiskRoom {
    free_bytes: fs.available_bytes,
    in_memory: fs.is_tmpfs,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn reads_meminfo() {
    let text =
      "MemTotal:       24684092 kB\nMemFree:        23797364 kB\nMemAvailable:   24334812 kB\n";
    assert_eq!(parse_mem_available(text), Some(24334812 * 1024));
    assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
  }

  #[test]
  fn limits_and_unlimited() {
    assert_eq!(parse_limit("max\n"), None);
    assert_eq!(parse_limit("9223372036854771712\n"), None);
    assert_eq!(parse_limit("536870912\n"), Some(536870912));
    assert_eq!(parse_limit("garbage"), None);
  }

  #[test]
  fn inactive_file_v1_and_v2() {
    assert_eq!(
      parse_inactive_file("anon 5\ninactive_file 4096\nactive_file 1\n"),
      4096
    );
    assert_eq!(
      parse_inactive_file("inactive_file 10\ntotal_inactive_file 8192\n"),
      8192
    );
    assert_eq!(parse_inactive_file(""), 0);
  }

  #[test]
  fn proc_cgroup_paths() {
    let v1 = "9:name=systemd:/\n4:memory:/process_api/912a\n0::/\n";
    assert_eq!(
      parse_proc_cgroup(v1),
      (Some("/".into()), Some("/process_api/912a".into()))
    );
    let v2 = "0::/system.slice/app.service\n";
    assert_eq!(
      parse_proc_cgroup(v2),
      (Some("/system.slice/app.service".into()), None)
    );
    assert_eq!(
      parse_proc_cgroup("5:cpu,memory:/a\n"),
      (None, Some("/a".into()))
    );
  }

  #[test]
  fn cgroup_tree_takes_the_tightest_level() {
    let root = std::env::temp_dir().join(format!("lw-cg-{}", std::process::id()));
    let leaf = root.join("a/b");
    std::fs::create_dir_all(&leaf).unwrap();
    std::fs::write(root.join("a/memory.max"), "1000\n").unwrap();
    std::fs::write(root.join("a/memory.current"), "900\n").unwrap();
    std::fs::write(root.join("a/memory.stat"), "inactive_file 50\n").unwrap();
    std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
    std::fs::write(leaf.join("memory.current"), "10\n").unwrap();
    // The parent has 1000 - (900 - 50) = 150 left; the leaf has no limit.
    assert_eq!(
      cgroup_room(&root, "/a/b", "memory.max", "memory.current"),
      Some(150)
    );
    assert_eq!(
      cgroup_room(&root, "/nowhere", "memory.max", "memory.current"),
      None
    );
    std::fs::remove_dir_all(&root).unwrap();
  }

  #[test]
  fn the_smallest_source_wins_and_is_named() {
    const MIB: u64 = 1 << 20;
    let all = MemorySources {
      budget: Some(1000 * MIB),
      constrained: Some(900 * MIB),
      cgroup: Some(500 * MIB),
      system: Some(8000 * MIB),
    };
    // RSS 300 MiB: budget leaves 700, constrained 600, cgroup 500, system 8000.
    assert_eq!(
      all.room(300 * MIB),
      Some(MemoryRoom {
        bytes: 500 * MIB,
        bound: "cgroup"
      })
    );
    let room = |s: MemorySources| s.room(300 * MIB).map(|r| (r.bytes / MIB, r.bound));
    assert_eq!(
      room(MemorySources {
        budget: Some(400 * MIB),
        ..all
      }),
      Some((100, "memoryLimitBytes"))
    );
    assert_eq!(
      room(MemorySources {
        cgroup: None,
        ..all
      }),
      Some((600, "constrainedMemory"))
    );
    assert_eq!(
      room(MemorySources {
        system: Some(10 * MIB),
        ..all
      }),
      Some((10, "system"))
    );
    // Equal rooms: the operator's budget is named.
    assert_eq!(
      room(MemorySources {
        budget: Some(800 * MIB),
        ..all
      }),
      Some((500, "memoryLimitBytes"))
    );
    assert_eq!(room(MemorySources::default()), None);
    // A total already spent leaves nothing.
    assert_eq!(
      room(MemorySources {
        budget: Some(MIB),
        ..all
      }),
      Some((0, "memoryLimitBytes"))
    );
  }

  #[test]
  fn memory_room_names_its_bound() {
    let room = memory_room(Some(100 << 20), 60 << 20).unwrap();
    assert_eq!(room.bytes, 40 << 20);
    assert_eq!(room.bound, "memoryLimitBytes");
    // A budget already spent leaves nothing.
    assert_eq!(memory_room(Some(1), 60 << 20).unwrap().bytes, 0);
    assert!(memory_room(None, 0).is_some_and(|r| r.bytes > 0));
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn disk_room_of_temp_dir() {
    let room = disk_room(&std::env::temp_dir()).unwrap();
    assert!(room.free_bytes > 0);
    assert!(disk_room(Path::new("/no/such/dir")).is_err());
  }
}
