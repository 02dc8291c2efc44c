//! The reports: what `analyze` and `diff` return (serialized to JSON for JavaScript and the
//! CLI). Field names are camelCase; sizes are bytes.

use std::collections::HashMap;

use serde::Serialize;

use super::classes::NO_CLASS;
use super::graph::Graph;
use super::paths::{retainer_path, RetainerPath};

/// Totals of one snapshot.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
  /// The snapshot file.
  pub file: String,
  /// Its size, bytes.
  pub file_bytes: u64,
  /// Nodes in the graph.
  pub node_count: u64,
  /// Edges in the graph.
  pub edge_count: u64,
  /// DevTools' total: the root's retained size plus V8's extra native bytes.
  pub total_size: u64,
  /// Sum of all self sizes (after DevTools' shallow-size attribution).
  pub self_size: u64,
  /// Distinct classes (class keys).
  pub class_count: u64,
  /// Nodes not reachable from the root through retaining edges.
  pub unreachable_nodes: Option<u64>,
}

/// One class (DevTools' Summary view row).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassRow {
  /// Class name.
  pub name: String,
  /// DevTools' class key (",Name" or "script,line,column,Name").
  pub key: String,
  /// Live objects of the class.
  pub count: u64,
  /// Their self size, bytes.
  pub self_size: u64,
  /// What freeing them all would free (DevTools' retained size), bytes.
  pub retained_size: u64,
  /// Least distance of an instance from the roots (DevTools' distance).
  pub distance: i32,
  /// Retainer path of the class's largest instance.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub path: Option<RetainerPath>,
}

/// One of the objects that retain the most.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRow {
  /// Class name.
  pub name: String,
  /// Snapshot id.
  pub id: u32,
  /// V8 node type ("object", "closure", "array", …).
  #[serde(rename = "type")]
  pub node_type: String,
  /// Self size, bytes.
  pub self_size: u64,
  /// Retained size, bytes.
  pub retained_size: u64,
  /// Its retainer path.
  pub path: RetainerPath,
}

/// What [`crate::analyze`] returns (serialized for JavaScript with camelCase names).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeReport {
  /// Sizes and counts of the whole snapshot.
  pub summary: Summary,
  /// By retained size, largest first.
  pub classes: Vec<ClassRow>,
  /// The objects retaining the most, largest first.
  pub largest: Vec<ObjectRow>,
}

/// How much of the report to produce.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
  /// Class rows (usize::MAX: all).
  pub classes: usize,
  /// Class rows that also get a retainer path.
  pub paths: usize,
  /// Largest objects listed.
  pub largest: usize,
  /// Growth groups in a diff.
  pub groups: usize,
}

pub fn summary(g: &Graph, file: &str) -> Summary {
  Summary {
    file: file.to_string(),
    file_bytes: g.s.file_bytes,
    node_count: g.s.node_count() as u64,
    edge_count: g.s.edge_count() as u64,
    total_size: g.total_size(),
    self_size: g.s.self_size.iter().sum(),
    class_count: public_classes(g).len() as u64,
    unreachable_nodes: g.full.as_ref().map(|f| f.dominators.unreachable),
  }
}

/// Aggregates by DevTools' public key. Two internal classes with the same key text keep the
/// later one, as DevTools' object of aggregates does.
pub fn public_classes(g: &Graph) -> HashMap<String, usize> {
  let mut map = HashMap::new();
  for (i, a) in g.classes.aggregates.iter().enumerate() {
    if let Some(key) = a.key {
      map.insert(g.public_key(key), i);
    }
  }
  map
}

pub fn class_rows(g: &Graph, limits: &Limits) -> Vec<ClassRow> {
  let mut rows: Vec<(usize, String)> = public_classes(g).into_iter().map(|(k, i)| (i, k)).collect();
  let aggs = &g.classes.aggregates;
  rows.sort_by(|(a, ka), (b, kb)| {
    let (x, y) = (&aggs[*a], &aggs[*b]);
    y.retained_size
      .cmp(&x.retained_size)
      .then(y.self_size.cmp(&x.self_size))
      .then(ka.cmp(kb))
  });
  rows.truncate(limits.classes);
  rows
    .into_iter()
    .enumerate()
    .map(|(rank, (i, key))| {
      let a = &aggs[i];
      let path = if rank < limits.paths && g.full.is_some() {
        let retained = &g.full.as_ref().map(|f| &f.dominators.retained);
        a.nodes
          .iter()
          .copied()
          .max_by_key(|&n| retained.map_or(0, |r| r[n as usize]))
          .map(|n| retainer_path(g, n))
      } else {
        None
      };
      ClassRow {
        name: g.class_name(a.key.expect("aggregates have keys")),
        key,
        count: a.count,
        self_size: a.self_size,
        // Class rows come from `analyze`, whose graph always has retained sizes and
        // distances (Depth::Full).
        retained_size: a.retained_size,
        distance: a.distance,
        path,
      }
    })
    .collect()
}

/// User-visible objects (not internal arrays, hidden objects or code) that retain the most.
pub fn largest_objects(g: &Graph, limit: usize) -> Vec<ObjectRow> {
  let Some(full) = &g.full else {
    return Vec::new();
  };
  let t = &g.t;
  let retained = &full.dominators.retained;
  let mut best: Vec<u32> = Vec::new();
  for node in 0..g.s.node_count() as u32 {
    let ty = g.s.node_type[node as usize];
    if node == g.s.root || !(ty == t.object || ty == t.closure || ty == t.native) {
      continue;
    }
    if g.classes.of_node[node as usize] == NO_CLASS {
      continue;
    }
    best.push(node);
    if best.len() > limit.saturating_mul(4).max(64) {
      best.sort_by(|a, b| retained[*b as usize].cmp(&retained[*a as usize]));
      best.truncate(limit);
    }
  }
  best.sort_by(|a, b| retained[*b as usize].cmp(&retained[*a as usize]));
  best.truncate(limit);
  best
    .into_iter()
    .map(|node| ObjectRow {
      name: super::paths::class_label(g, node),
      id: g.s.node_id[node as usize],
      node_type: g.s.meta.node_types[g.s.node_type[node as usize] as usize].clone(),
      self_size: g.s.self_size[node as usize],
      retained_size: retained[node as usize],
      path: retainer_path(g, node),
    })
    .collect()
}

pub fn analyze_report(g: &Graph, file: &str, limits: &Limits) -> AnalyzeReport {
  AnalyzeReport {
    summary: summary(g, file),
    classes: class_rows(g, limits),
    largest: largest_objects(g, limits.largest),
  }
}
