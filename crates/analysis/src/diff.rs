//! Comparing snapshots of one process (node ids are stable across its snapshots).
//! Two snapshots: per-class new/deleted counts and sizes as DevTools' Comparison view, and
//! the new objects of the second grouped by how they are held. Three or more: the objects
//! allocated between the first and the second that are still alive in the last, grouped by
//! retainer path — the memory that keeps growing and is never released — and the objects
//! and classes that grew at every snapshot (`growing.rs`).

use std::collections::HashMap;

use serde::Serialize;

use super::classes::NO_CLASS;
use super::control::Control;
use super::graph::Graph;
use super::growing::{ClassTotals, GrowingClass, GrowingObject, Tracker};
use super::paths::{retainer_path, RetainerPath, Shapes};
use super::report::{public_classes, Limits, PublicKey, Summary};

/// One class in a two-snapshot comparison (DevTools' Comparison view).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffRow {
  /// Class name.
  pub name: String,
  /// DevTools' class key (name, or allocation site and name).
  pub key: String,
  /// Objects in the later snapshot only (by id).
  pub added_count: u64,
  /// Objects in the earlier snapshot only.
  pub removed_count: u64,
  /// `added_count - removed_count`.
  pub count_delta: i64,
  /// Self size of the new objects, bytes.
  pub added_size: u64,
  /// Self size of the deleted objects, bytes.
  pub removed_size: u64,
  /// `added_size - removed_size`, bytes.
  pub size_delta: i64,
}

/// New and deleted objects over all classes of a comparison.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
  /// New objects.
  pub added_count: u64,
  /// Deleted objects.
  pub removed_count: u64,
  /// Self size of the new objects, bytes.
  pub added_size: u64,
  /// Self size of the deleted objects, bytes.
  pub removed_size: u64,
}

/// One class across all the snapshots (for charts).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
  /// Class name.
  pub name: String,
  /// DevTools' class key.
  pub key: String,
  /// Live objects of the class, one entry per snapshot.
  pub count: Vec<u64>,
  /// Their self size, bytes, one entry per snapshot.
  pub self_size: Vec<u64>,
}

/// Objects held the same way: same class, same path shape.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
  /// Class of the objects.
  pub name: String,
  /// Objects in the group.
  pub count: u64,
  /// Their self size, bytes.
  pub self_size: u64,
  /// What freeing these objects would free.
  pub retained_size: u64,
  /// The path of one of them (the one retaining the most).
  pub path: RetainerPath,
  /// A few of their ids, to look up in DevTools.
  pub ids: Vec<u32>,
}

/// What [`crate::diff`] returns (serialized for JavaScript with camelCase names).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
  /// One summary per snapshot, in the order given.
  pub snapshots: Vec<Summary>,
  /// Which objects `growth` holds: "new-in-second", "new-in-second-alive-in-third" or (four
  /// snapshots or more) "new-in-second-alive-in-last".
  pub growth_basis: &'static str,
  /// First snapshot against the last, by size delta, largest growth first.
  pub classes: Vec<DiffRow>,
  /// Objects added and removed between the first and the last snapshot.
  pub totals: Totals,
  /// The biggest classes' count and size in every snapshot (for charts).
  pub series: Vec<Series>,
  /// What grew, grouped by class and retainer path, most retained first.
  pub growth: Vec<Group>,
  /// Three snapshots or more: objects whose retained size grew at every snapshot, the
  /// innermost in the dominator tree, largest growth first (empty with two).
  pub growing: Vec<GrowingObject>,
  /// Three snapshots or more: classes whose instance count grew at every snapshot, largest
  /// retained-size growth first (empty with two).
  pub growing_classes: Vec<GrowingClass>,
}

/// Every node with a class, as `id << 32 | ordinal`, sorted by id: diffs are merges of these.
pub fn by_id(g: &Graph) -> Vec<u64> {
  let mut v: Vec<u64> = (0..g.s.node_count())
    .filter(|&n| g.classes.of_node[n] != NO_CLASS)
    .map(|n| ((g.s.node_id[n] as u64) << 32) | n as u64)
    .collect();
  v.sort_unstable();
  v
}

const fn id_of(x: u64) -> u32 {
  (x >> 32) as u32
}

const fn node_of(x: u64) -> usize {
  (x & 0xFFFF_FFFF) as usize
}

/// The public class of each aggregate of `g` in a table shared by both snapshots (DevTools'
/// keys; when two aggregates share a key the later one counts, as in DevTools).
fn unify(g: &Graph, keys: &mut HashMap<PublicKey, usize>, control: &Control) -> Vec<usize> {
  let mut of_aggregate = vec![usize::MAX; g.classes.aggregates.len()];
  for (key, agg) in public_classes(g, control) {
    let next = keys.len();
    of_aggregate[agg] = *keys.entry(key).or_insert(next);
  }
  of_aggregate
}

/// DevTools' Comparison view: per class, the objects of `current` whose id `base` lacks
/// (new) and those of `base` whose id `current` lacks (deleted). An object whose class
/// changed counts as deleted from the old class and new in the new one.
fn class_diff(
  base: &Graph,
  current: &Graph,
  base_ids: &[u64],
  current_ids: &[u64],
  limit: usize,
  control: &Control,
) -> (Vec<DiffRow>, Totals) {
  let mut keys = HashMap::new();
  let base_class = unify(base, &mut keys, control);
  let current_class = unify(current, &mut keys, control);
  let class_of = |g: &Graph, table: &[usize], n: usize| table[g.classes.of_node[n] as usize];
  let mut rows: Vec<DiffRow> = vec![DiffRow::default(); keys.len()];
  let mut add = |c: usize, n: usize| {
    if c != usize::MAX {
      rows[c].added_count += 1;
      rows[c].added_size += current.s.self_size.get(n);
    }
  };
  let (mut i, mut j) = (0, 0);
  let mut removed: Vec<(usize, usize)> = Vec::new();
  while i < base_ids.len() || j < current_ids.len() {
    let bi = base_ids.get(i).map(|&x| id_of(x));
    let cj = current_ids.get(j).map(|&x| id_of(x));
    match (bi, cj) {
      (Some(b), Some(c)) if b == c => {
        let (bn, cn) = (node_of(base_ids[i]), node_of(current_ids[j]));
        let (bc, cc) = (
          class_of(base, &base_class, bn),
          class_of(current, &current_class, cn),
        );
        if bc != cc {
          removed.push((bc, bn));
          add(cc, cn);
        }
        i += 1;
        j += 1;
      }
      (Some(b), c) if c.is_none_or(|c| b < c) => {
        let bn = node_of(base_ids[i]);
        removed.push((class_of(base, &base_class, bn), bn));
        i += 1;
      }
      _ => {
        let cn = node_of(current_ids[j]);
        add(class_of(current, &current_class, cn), cn);
        j += 1;
      }
    }
  }
  for (c, n) in removed {
    if c != usize::MAX {
      rows[c].removed_count += 1;
      rows[c].removed_size += base.s.self_size.get(n);
    }
  }
  // Equal keys have equal texts, so the names and key texts are the same whichever
  // snapshot they come from; they are built for the rows reported only.
  let mut key_of: Vec<Option<PublicKey>> = vec![None; rows.len()];
  for (key, c) in keys {
    key_of[c] = Some(key);
  }
  let mut totals = Totals::default();
  let mut kept: Vec<usize> = (0..rows.len())
    .filter(|&c| rows[c].added_count > 0 || rows[c].removed_count > 0)
    .collect();
  for &c in &kept {
    let row = &mut rows[c];
    row.count_delta = row.added_count as i64 - row.removed_count as i64;
    row.size_delta = row.added_size as i64 - row.removed_size as i64;
    totals.added_count += row.added_count;
    totals.removed_count += row.removed_count;
    totals.added_size += row.added_size;
    totals.removed_size += row.removed_size;
  }
  kept.sort_by(|&a, &b| {
    let (x, y) = (&rows[a], &rows[b]);
    y.size_delta
      .cmp(&x.size_delta)
      .then(y.count_delta.cmp(&x.count_delta))
      .then_with(|| match (&key_of[a], &key_of[b]) {
        (Some(ka), Some(kb)) => ka.cmp_text(kb),
        _ => std::cmp::Ordering::Equal,
      })
  });
  kept.truncate(limit);
  let out = kept
    .into_iter()
    .map(|c| {
      let mut row = std::mem::take(&mut rows[c]);
      if let Some(key) = &key_of[c] {
        row.name = key.name().to_string();
        row.key = key.text();
      }
      row
    })
    .collect();
  (out, totals)
}

/// Marks the nodes of `last` (by its `last_ids`) whose id is in `ids` (sorted ids).
fn mark(last_ids: &[u64], ids: &[u32], count: usize) -> Vec<bool> {
  let mut marked = vec![false; count];
  let mut k = 0;
  for &x in last_ids {
    let id = id_of(x);
    while k < ids.len() && ids[k] < id {
      k += 1;
    }
    if k < ids.len() && ids[k] == id {
      marked[node_of(x)] = true;
    }
  }
  marked
}

/// Ids in `a` that are not in `b` (both sorted).
fn ids_missing_from(a: &[u64], b: &[u64]) -> Vec<u32> {
  let mut out = Vec::new();
  let mut k = 0;
  for &x in a {
    let id = id_of(x);
    while k < b.len() && id_of(b[k]) < id {
      k += 1;
    }
    if k == b.len() || id_of(b[k]) != id {
      out.push(id);
    }
  }
  out
}

fn series(
  classes: &[HashMap<PublicKey, ClassTotals>],
  rows: &[DiffRow],
  limit: usize,
) -> Vec<Series> {
  rows
    .iter()
    .take(limit)
    .map(|row| {
      let key = PublicKey::parse(&row.key);
      let (count, self_size) = classes
        .iter()
        .map(|m| match m.get(&key) {
          Some(t) => (t.count, t.self_size),
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

/// Groups the objects of `last` that `is_new` selects by retainer path shape. Only the
/// outermost of them count (one not dominated by another selected object), and only
/// objects a program sees: internal arrays, hidden objects and code are covered by their
/// owners.
fn growth(last: &Graph, is_new: &[bool], limit: usize) -> Vec<Group> {
  let Some(full) = &last.full else {
    return Vec::new();
  };
  let s = &last.s;
  let n = s.node_count();
  let visible = |v: usize| super::growing::visible(last, v);
  // Reachable at all: in Node, module scopes and servers hang off the system roots
  // (handles, the stack), so objects only reachable from there count too.
  let selected =
    |v: usize| is_new[v] && s.self_size.get(v) > 0 && visible(v) && full.distances.reached(v);
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
  super::control::trace("growth: covered");
  let retained = &full.dominators.retained;
  let mut shapes = Shapes::new(last);
  let mut groups: HashMap<(u32, u32), Group> = HashMap::new();
  let mut best: HashMap<(u32, u32), u32> = HashMap::new();
  for (v, &below_selected) in covered.iter().enumerate() {
    if below_selected || !selected(v) {
      continue;
    }
    let sig = (shapes.of(last, v as u32), last.names.class[v]);
    let g = groups.entry(sig).or_insert_with(|| Group {
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
    g.self_size += s.self_size.get(v);
    g.retained_size += retained.get(v);
    if g.ids.len() < 5 {
      g.ids.push(s.node_id[v]);
    }
    let b = best.entry(sig).or_insert(v as u32);
    if retained.get(v) > retained.get(*b as usize) {
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

/// What the earlier snapshots of a diff leave for the report.
pub struct Earlier<'a> {
  /// The first snapshot, classified with the last one's interface definitions.
  pub first: &'a Graph,
  /// Three snapshots or more: the second one's nodes as [`by_id`] gives them.
  pub second_ids: Option<Vec<u64>>,
  /// Three snapshots or more: the candidates folded with every earlier snapshot.
  pub tracker: Option<Tracker>,
  /// One summary per earlier snapshot, in time order.
  pub summaries: Vec<Summary>,
  /// Each earlier snapshot's class totals, in time order.
  pub classes: Vec<HashMap<PublicKey, ClassTotals>>,
}

/// The diff of the earlier snapshots against `last` (built with `Depth::Full`; the earlier
/// ones classified with its interface definitions, so plain-object classes line up).
pub fn diff_report(
  earlier: Earlier<'_>,
  last: &Graph,
  last_summary: Summary,
  limits: &Limits,
  control: &Control,
) -> DiffReport {
  let first = earlier.first;
  let count = earlier.summaries.len() + 1;
  // One sort per snapshot, in parallel.
  let (first_ids, last_ids) = std::thread::scope(|scope| {
    let first_ids = scope.spawn(|| by_id(first));
    let last_ids = by_id(last);
    (first_ids.join().unwrap_or_default(), last_ids)
  });
  super::control::trace("diff: ids sorted");
  let (rows, totals) = class_diff(first, last, &first_ids, &last_ids, limits.classes, control);
  super::control::trace("diff: classes");
  let mut all_classes = earlier.classes;
  all_classes.push(super::growing::class_totals(last, control));
  let series = series(&all_classes, &rows, limits.classes.min(50));
  all_classes.pop();
  let n = last.s.node_count();
  let (basis, growth) = match &earlier.second_ids {
    Some(second_ids) => {
      let new_in_second = ids_missing_from(second_ids, &first_ids);
      let alive = mark(&last_ids, &new_in_second, n);
      let basis = if count == 3 {
        "new-in-second-alive-in-third"
      } else {
        "new-in-second-alive-in-last"
      };
      (basis, growth(last, &alive, limits.groups))
    }
    None => {
      let in_first: Vec<u32> = first_ids.iter().map(|&x| id_of(x)).collect();
      let old = mark(&last_ids, &in_first, n);
      let new: Vec<bool> = old.iter().map(|&o| !o).collect();
      ("new-in-second", growth(last, &new, limits.groups))
    }
  };
  super::control::trace("diff: growth");
  let (growing, growing_classes) = match earlier.tracker {
    Some(tracker) => tracker.finish(last, &all_classes, &first_ids, limits.groups, control),
    None => (Vec::new(), Vec::new()),
  };
  super::control::trace("diff: growing");
  let mut snapshots = earlier.summaries;
  snapshots.push(last_summary);
  DiffReport {
    snapshots,
    growth_basis: basis,
    classes: rows,
    totals,
    series,
    growth,
    growing,
    growing_classes,
  }
}
