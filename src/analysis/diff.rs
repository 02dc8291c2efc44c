//! Comparing snapshots of one process (node ids are stable across its snapshots).
//! Two snapshots: per-class new/deleted counts and sizes as DevTools' Comparison view, and
//! the new objects of the second grouped by how they are held. Three snapshots: the objects
//! allocated between the first and the second that are still alive in the third, grouped by
//! retainer path — the memory that keeps growing and is never released.

use std::collections::HashMap;

use serde::Serialize;

use super::distances::NO_DISTANCE;
use super::graph::Graph;
use super::paths::{path_signature, retainer_path, RetainerPath};
use super::report::{public_classes, summary, Limits, Summary};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffRow {
  pub name: String,
  pub key: String,
  pub added_count: u64,
  pub removed_count: u64,
  pub count_delta: i64,
  pub added_size: u64,
  pub removed_size: u64,
  pub size_delta: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
  pub added_count: u64,
  pub removed_count: u64,
  pub added_size: u64,
  pub removed_size: u64,
}

/// One class across all the snapshots (for charts).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
  pub name: String,
  pub key: String,
  pub count: Vec<u64>,
  pub self_size: Vec<u64>,
}

/// Objects held the same way: same class, same path shape.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
  pub name: String,
  pub count: u64,
  pub self_size: u64,
  /// What freeing these objects would free.
  pub retained_size: u64,
  /// The path of one of them (the one retaining the most).
  pub path: RetainerPath,
  /// A few of their ids, to look up in DevTools.
  pub ids: Vec<u32>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
  pub snapshots: Vec<Summary>,
  /// Which objects `growth` holds: "new-in-second" or "new-in-second-alive-in-third".
  pub growth_basis: &'static str,
  /// First snapshot against the last, by size delta, largest growth first.
  pub classes: Vec<DiffRow>,
  pub totals: Totals,
  pub series: Vec<Series>,
  pub growth: Vec<Group>,
}

/// Instances of one public class: (id, self size) sorted by id.
fn instances(g: &Graph, agg: usize) -> Vec<(u32, u64)> {
  let mut v: Vec<(u32, u64)> = g.classes.aggregates[agg]
    .nodes
    .iter()
    .map(|&n| (g.s.node_id[n as usize], g.s.self_size[n as usize]))
    .collect();
  v.sort_unstable_by_key(|x| x.0);
  v
}

fn class_diff(base: &Graph, current: &Graph) -> (Vec<DiffRow>, Totals) {
  let base_classes = public_classes(base);
  let current_classes = public_classes(current);
  let mut keys: Vec<&String> = base_classes.keys().chain(current_classes.keys()).collect();
  keys.sort();
  keys.dedup();
  let mut rows = Vec::new();
  let mut totals = Totals::default();
  for key in keys {
    let before = base_classes
      .get(key)
      .map(|&a| instances(base, a))
      .unwrap_or_default();
    let after = current_classes
      .get(key)
      .map(|&a| instances(current, a))
      .unwrap_or_default();
    let (mut i, mut j) = (0, 0);
    let mut row = DiffRow {
      name: match current_classes.get(key) {
        Some(&a) => current.class_name(current.classes.aggregates[a].key.expect("keyed")),
        None => base.class_name(
          base.classes.aggregates[base_classes[key]]
            .key
            .expect("keyed"),
        ),
      },
      key: key.clone(),
      added_count: 0,
      removed_count: 0,
      count_delta: 0,
      added_size: 0,
      removed_size: 0,
      size_delta: 0,
    };
    while i < before.len() || j < after.len() {
      if j == after.len() || (i < before.len() && before[i].0 < after[j].0) {
        row.removed_count += 1;
        row.removed_size += before[i].1;
        i += 1;
      } else if i == before.len() || before[i].0 > after[j].0 {
        row.added_count += 1;
        row.added_size += after[j].1;
        j += 1;
      } else {
        i += 1;
        j += 1;
      }
    }
    if row.added_count == 0 && row.removed_count == 0 {
      continue;
    }
    row.count_delta = row.added_count as i64 - row.removed_count as i64;
    row.size_delta = row.added_size as i64 - row.removed_size as i64;
    totals.added_count += row.added_count;
    totals.removed_count += row.removed_count;
    totals.added_size += row.added_size;
    totals.removed_size += row.removed_size;
    rows.push(row);
  }
  rows.sort_by(|a, b| {
    b.size_delta
      .cmp(&a.size_delta)
      .then(b.count_delta.cmp(&a.count_delta))
      .then(a.key.cmp(&b.key))
  });
  (rows, totals)
}

fn series(graphs: &[&Graph], rows: &[DiffRow], limit: usize) -> Vec<Series> {
  let maps: Vec<HashMap<String, usize>> = graphs.iter().map(|g| public_classes(g)).collect();
  rows
    .iter()
    .take(limit)
    .map(|row| {
      let (count, self_size) = graphs
        .iter()
        .zip(&maps)
        .map(|(g, m)| match m.get(&row.key) {
          Some(&a) => (
            g.classes.aggregates[a].count,
            g.classes.aggregates[a].self_size,
          ),
          None => (0, 0),
        })
        .unzip();
      Series {
        name: row.name.clone(),
        key: row.key.clone(),
        count,
        self_size,
      }
    })
    .collect()
}

fn sorted_ids(g: &Graph) -> Vec<u32> {
  let mut ids = g.s.node_id.clone();
  ids.sort_unstable();
  ids
}

/// Groups the objects of `last` that `is_new` selects by retainer path shape. Only the
/// outermost of them count (one not dominated by another selected object), and only
/// objects a program sees: internal arrays, hidden objects and code are covered by their
/// owners.
fn growth(last: &Graph, is_new: &dyn Fn(u32) -> bool, limit: usize) -> Vec<Group> {
  let Some(full) = &last.full else {
    return Vec::new();
  };
  let t = &last.t;
  let s = &last.s;
  let n = s.node_count();
  let visible = |v: usize| {
    let ty = s.node_type[v];
    ty != t.hidden
      && ty != t.array
      && ty != t.code
      && ty != t.synthetic
      && ty != t.object_shape
      && ty != t.number
  };
  // Reachable at all: in Node, module scopes and servers hang off the system roots
  // (handles, the stack), so objects only reachable from there count too.
  let selected = |v: usize| {
    is_new(s.node_id[v])
      && s.self_size[v] > 0
      && visible(v)
      && full.distances.distance[v] != NO_DISTANCE
  };
  // covered[v]: a selected object dominates v (top-down over the dominator tree).
  let mut covered = vec![false; n];
  let mut stack = vec![s.root];
  while let Some(v) = stack.pop() {
    let vi = v as usize;
    let below = covered[vi] || selected(vi);
    for &c in &full.tree.nodes[full.tree.first[vi] as usize..full.tree.first[vi + 1] as usize] {
      covered[c as usize] = below;
      stack.push(c);
    }
  }
  let retained = &full.dominators.retained;
  let mut groups: HashMap<Vec<(u32, u8, u32)>, Group> = HashMap::new();
  let mut best: HashMap<Vec<(u32, u8, u32)>, u32> = HashMap::new();
  for v in 0..n {
    if covered[v] || !selected(v) {
      continue;
    }
    let sig = path_signature(last, v as u32);
    let g = groups.entry(sig.clone()).or_insert_with(|| Group {
      name: super::paths::class_label(last, v as u32),
      count: 0,
      self_size: 0,
      retained_size: 0,
      path: RetainerPath {
        steps: Vec::new(),
        target: String::new(),
        target_id: 0,
        truncated: false,
        unreachable: false,
      },
      ids: Vec::new(),
    });
    g.count += 1;
    g.self_size += s.self_size[v];
    g.retained_size += retained[v];
    if g.ids.len() < 5 {
      g.ids.push(s.node_id[v]);
    }
    let b = best.entry(sig).or_insert(v as u32);
    if retained[v] > retained[*b as usize] {
      *b = v as u32;
    }
  }
  let mut out: Vec<Group> = groups
    .into_iter()
    .map(|(sig, mut g)| {
      g.path = retainer_path(last, best[&sig]);
      g
    })
    .collect();
  out.sort_by(|a, b| {
    b.retained_size
      .cmp(&a.retained_size)
      .then(b.count.cmp(&a.count))
      .then(a.name.cmp(&b.name))
  });
  out.truncate(limit);
  out
}

/// `graphs` in time order; the last one built with `Depth::Full`, the others classified
/// with the last one's interface definitions (so plain-object classes line up).
pub fn diff_report(graphs: &[&Graph], files: &[String], limits: &Limits) -> DiffReport {
  let first = graphs[0];
  let last = graphs[graphs.len() - 1];
  let (mut rows, totals) = class_diff(first, last);
  let series = series(graphs, &rows, limits.classes.min(50));
  rows.truncate(limits.classes);
  let first_ids = sorted_ids(first);
  let (basis, growth) = if graphs.len() >= 3 {
    let second_ids = sorted_ids(graphs[1]);
    let is_new =
      |id: u32| second_ids.binary_search(&id).is_ok() && first_ids.binary_search(&id).is_err();
    (
      "new-in-second-alive-in-third",
      growth(last, &is_new, limits.groups),
    )
  } else {
    let is_new = |id: u32| first_ids.binary_search(&id).is_err();
    ("new-in-second", growth(last, &is_new, limits.groups))
  };
  DiffReport {
    snapshots: graphs
      .iter()
      .zip(files)
      .map(|(g, f)| summary(g, f))
      .collect(),
    growth_basis: basis,
    classes: rows,
    totals,
    series,
    growth,
  }
}
