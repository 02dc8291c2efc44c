//! Growth across snapshots on crafted series: one process at several points in time, with
//! the node ids a real process keeps across its snapshots.

use super::control::Control;
use super::report::Limits;

/// Nodes `(type, name, id, self_size)` and edges `(from, type, name or index, to)`, node 0
/// the root, as a `.heapsnapshot` text (also the crafted graphs of tests.rs).
pub(crate) fn snapshot(
  nodes: &[(&str, &str, u32, u64)],
  edges: &[(usize, &str, &str, usize)],
) -> String {
  let node_types = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
  ];
  let edge_types = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
  ];
  let mut strings: Vec<String> = vec![String::new()];
  let mut intern = |s: &str| -> usize {
    if let Some(i) = strings.iter().position(|x| x == s) {
      return i;
    }
    strings.push(s.to_string());
    strings.len() - 1
  };
  let mut counts = vec![0usize; nodes.len()];
  for e in edges {
    counts[e.0] += 1;
  }
  let mut flat_nodes = Vec::new();
  for (i, (t, name, id, size)) in nodes.iter().enumerate() {
    let ti = node_types.iter().position(|x| x == t).unwrap();
    flat_nodes.push(format!(
      "{ti},{},{id},{size},{},0,0",
      intern(name),
      counts[i]
    ));
  }
  let mut sorted: Vec<_> = edges.to_vec();
  sorted.sort_by_key(|e| e.0);
  let mut flat_edges = Vec::new();
  for (_, t, name, to) in sorted {
    let ti = edge_types.iter().position(|x| *x == t).unwrap();
    let name_index = if t == "element" || t == "hidden" {
      name.parse::<usize>().unwrap()
    } else {
      intern(name)
    };
    flat_edges.push(format!("{ti},{name_index},{}", to * 7));
  }
  format!(
    r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{:?},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{:?},"string_or_number","node"]}},"node_count":{},"edge_count":{}}},"nodes":[{}],"edges":[{}],"strings":{}}}"#,
    node_types,
    edge_types,
    nodes.len(),
    edges.len(),
    flat_nodes.join(","),
    flat_edges.join(","),
    serde_json::to_string(&strings).unwrap()
  )
}

/// The process at `step`: a global holds a cache whose Map gains three entries per step
/// (its table reallocated each time), a buffer whose data grows and then shrinks
/// (`buffer_bytes`), and a steady object.
fn process_at(step: usize, buffer_bytes: u64) -> String {
  let mut nodes: Vec<(&str, &str, u32, u64)> = vec![
    ("synthetic", "", 1, 0),
    ("object", "Global", 3, 24),
    ("object", "Cache", 5, 24),
    ("object", "Map", 7, 32),
    ("array", "(table)", 100 + step as u32 * 2, 16),
    ("object", "Buffer", 9, 24),
    ("array", "(data)", 11, buffer_bytes),
    ("object", "Steady", 13, 40),
  ];
  let mut edges: Vec<(usize, &str, &str, usize)> = vec![
    (0, "shortcut", "global", 1),
    (1, "property", "cache", 2),
    (2, "property", "map", 3),
    (3, "internal", "table", 4),
    (1, "property", "buffer", 5),
    (5, "internal", "data", 6),
    (1, "property", "steady", 7),
  ];
  const INDEX: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
  ];
  for (i, index) in INDEX.iter().enumerate().take(3 * (step + 1)) {
    nodes.push(("object", "Entry", 1000 + 2 * i as u32, 48));
    edges.push((4, "element", index, nodes.len() - 1));
  }
  snapshot(&nodes, &edges)
}

fn limits() -> Limits {
  Limits {
    classes: usize::MAX,
    paths: 5,
    largest: 5,
    groups: 10,
  }
}

fn diff_of(name: &str, texts: &[String]) -> super::DiffReport {
  let dir = std::env::temp_dir().join(format!("leakwatch-growing-{}-{name}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let paths: Vec<String> = texts
    .iter()
    .enumerate()
    .map(|(i, t)| {
      let p = dir.join(format!("{i}.heapsnapshot"));
      std::fs::write(&p, t).unwrap();
      p.to_str().unwrap().to_string()
    })
    .collect();
  let report = super::diff(&paths, &limits(), &Control::default()).unwrap();
  let _ = std::fs::remove_dir_all(&dir);
  report
}

#[test]
fn the_growing_container_ranks_first_and_what_shrinks_is_left_out() {
  let buffer = [100, 300, 50];
  let texts: Vec<String> = (0..3).map(|k| process_at(k, buffer[k])).collect();
  let report = diff_of("three", &texts);
  assert_eq!(report.growth_basis, "new-in-second-alive-in-third");
  let top = &report.growing[0];
  assert_eq!((top.name.as_str(), top.id), ("Map", 7));
  // The Map (its table counts in its self size) and 3, 6, 9 entries of 48 bytes.
  assert_eq!(
    top.retained_size,
    vec![48 + 3 * 48, 48 + 6 * 48, 48 + 9 * 48]
  );
  assert_eq!(top.growth, 6 * 48);
  assert_eq!(
    top.path_text, "Global.cache → Cache.map → Map @7",
    "{:?}",
    top.path
  );
  // The holders of the Map grow by as much: the Map explains it, they are left out.
  let ids: Vec<u32> = report.growing.iter().map(|o| o.id).collect();
  assert_eq!(ids, vec![7], "only the Map: {ids:?}");
  // The entries' class grew at every snapshot; Buffer grew and then shrank.
  let entry = report
    .growing_classes
    .iter()
    .find(|c| c.name == "Entry")
    .expect("Entry grows");
  assert_eq!(entry.count, vec![3, 6, 9]);
  assert_eq!(entry.self_size, vec![144, 288, 432]);
  assert!(entry
    .path_text
    .starts_with("Global.cache → Cache.map → Map{table} → (table)["));
  assert!(report
    .growing_classes
    .iter()
    .all(|c| c.name != "Buffer" && c.name != "Steady"));
  // Today's fields keep their meaning.
  assert_eq!(report.growth[0].name, "Entry");
  assert_eq!(
    report.growth[0].count, 3,
    "new in the second, alive in the third"
  );
  assert_eq!(report.snapshots.len(), 3);
  let row = report.classes.iter().find(|r| r.name == "Entry").unwrap();
  assert_eq!((row.added_count, row.removed_count), (6, 0));
}

#[test]
fn a_step_without_growth_ends_the_series() {
  // Five snapshots: the Map grows in all, the buffer grows until the fourth and then drops.
  let buffer = [100, 200, 300, 400, 10];
  let texts: Vec<String> = (0..5).map(|k| process_at(k, buffer[k])).collect();
  let report = diff_of("five", &texts);
  assert_eq!(report.growth_basis, "new-in-second-alive-in-last");
  let ids: Vec<u32> = report.growing.iter().map(|o| o.id).collect();
  assert_eq!(ids, vec![7]);
  assert_eq!(report.growing[0].retained_size.len(), 5);
  let entry = report
    .growing_classes
    .iter()
    .find(|c| c.name == "Entry")
    .unwrap();
  assert_eq!(entry.count, vec![3, 6, 9, 12, 15]);
  // With the buffer still growing at the end, it is reported too.
  let buffer = [100, 300, 500, 700, 900];
  let texts: Vec<String> = (0..5).map(|k| process_at(k, buffer[k])).collect();
  let report = diff_of("five-up", &texts);
  let names: Vec<&str> = report.growing.iter().map(|o| o.name.as_str()).collect();
  assert_eq!(names, vec!["Buffer", "Map"], "ranked by growth");
  assert_eq!(
    report.growing[0].retained_size,
    vec![124, 324, 524, 724, 924]
  );
}

#[test]
fn two_snapshots_report_no_series_growth() {
  let texts: Vec<String> = (0..2)
    .map(|k| process_at(k, 100 * (k as u64 + 1)))
    .collect();
  let report = diff_of("two", &texts);
  assert_eq!(report.growth_basis, "new-in-second");
  assert!(report.growing.is_empty() && report.growing_classes.is_empty());
  assert_eq!(report.snapshots.len(), 2);
}
