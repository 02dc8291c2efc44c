//! Growth across many snapshots of one process (memlab's "unbound objects", done on the
//! dominator tree): the objects whose retained size grows at every snapshot, and the classes
//! whose instance count does. Node ids are stable across the snapshots of one process, so
//! an object is followed by its id. Each earlier snapshot is folded into a [`Tracker`] as
//! soon as it is built and then dropped: what stays of it is one number per candidate object
//! of the last snapshot and its per-class totals, never its graph.

use std::collections::HashMap;

use serde::Serialize;

use super::control::Control;
use super::graph::Graph;
use super::paths::{retainer_path, RetainerPath};
use super::report::{public_classes, PublicKey};

/// An object whose retained size grew at every snapshot.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrowingObject {
  /// Class name.
  pub name: String,
  /// Snapshot id (the same in every snapshot).
  pub id: u32,
  /// V8 node type ("object", "closure", …).
  pub node_type: String,
  /// Self size in the last snapshot, bytes.
  pub self_size: u64,
  /// Retained size in each snapshot, in order, bytes.
  pub retained_size: Vec<u64>,
  /// Retained size in the last snapshot minus in the first, bytes.
  pub growth: u64,
  /// Its retainer path in the last snapshot.
  pub path: RetainerPath,
  /// The path as one line of text.
  pub path_text: String,
}

/// A class whose instance count grew at every snapshot.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrowingClass {
  /// Class name.
  pub name: String,
  /// DevTools' class key.
  pub key: String,
  /// Live instances in each snapshot.
  pub count: Vec<u64>,
  /// Their self size in each snapshot, bytes.
  pub self_size: Vec<u64>,
  /// The class's retained size in each snapshot, bytes.
  pub retained_size: Vec<u64>,
  /// Retained size in the last snapshot minus in the first, bytes (may be negative).
  pub growth: i64,
  /// Path in the last snapshot of the instance, new since the first snapshot, that retains
  /// the most (of any instance when none is new).
  pub path: RetainerPath,
  /// The path as one line of text.
  pub path_text: String,
}

/// A class's totals in one snapshot.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClassTotals {
  pub count: u64,
  pub self_size: u64,
  pub retained_size: u64,
  /// Its instances are objects a program sees (not internal arrays, code, …).
  pub visible: bool,
}

/// Objects a program sees: internal arrays, hidden objects and code are covered by their
/// owners, and numbers never retain anything.
pub fn visible(g: &Graph, v: usize) -> bool {
  let t = &g.t;
  let ty = g.s.node_type[v];
  ty != t.hidden
    && ty != t.array
    && ty != t.code
    && ty != t.synthetic
    && ty != t.object_shape
    && ty != t.number
}

/// Per public class key: count, self and retained size.
pub fn class_totals(g: &Graph, control: &Control) -> HashMap<PublicKey, ClassTotals> {
  public_classes(g, control)
    .into_iter()
    .map(|(key, a)| {
      let agg = &g.classes.aggregates[a];
      let totals = ClassTotals {
        count: agg.count,
        self_size: agg.self_size,
        retained_size: agg.retained_size,
        visible: agg.nodes.first().is_some_and(|&n| visible(g, n as usize)),
      };
      (key, totals)
    })
    .collect()
}

/// Every classified node of `g` as (id, retained size), sorted by id: what an earlier
/// snapshot contributes to the object series.
pub fn retained_by_id(g: &Graph) -> Vec<(u32, u64)> {
  let Some(full) = &g.full else {
    return Vec::new();
  };
  let mut v: Vec<(u32, u64)> = (0..g.s.node_count())
    .filter(|&n| g.classes.of_node[n] != super::classes::NO_CLASS)
    .map(|n| (g.s.node_id[n], full.dominators.retained.get(n)))
    .collect();
  v.sort_unstable_by_key(|&(id, _)| id);
  v
}

/// No earlier value: the object is not (or no longer) a candidate.
const GONE: u64 = u64::MAX;

/// The candidates of the last snapshot, folded with each earlier snapshot in time order.
pub struct Tracker {
  /// (id, node) of the last snapshot's candidates, sorted by id.
  candidates: Vec<(u32, u32)>,
  /// Per candidate (same order): its retained size in the latest snapshot folded, or GONE.
  previous: Vec<u64>,
  /// Per candidate still growing after two or more snapshots: its series so far.
  series: HashMap<usize, Vec<u64>>,
  folded: usize,
}

impl Tracker {
  /// Candidates: the objects of `last` a program sees, reachable, with a class.
  pub fn new(last: &Graph) -> Tracker {
    let reachable = |v: usize| last.full.as_ref().is_some_and(|f| f.distances.reached(v));
    let mut candidates: Vec<(u32, u32)> = (0..last.s.node_count())
      .filter(|&v| {
        v as u32 != last.s.root
          && last.classes.of_node[v] != super::classes::NO_CLASS
          && visible(last, v)
          && reachable(v)
      })
      .map(|v| (last.s.node_id[v], v as u32))
      .collect();
    candidates.sort_unstable();
    let previous = vec![GONE; candidates.len()];
    Tracker {
      candidates,
      previous,
      series: HashMap::new(),
      folded: 0,
    }
  }

  /// Folds in the next earlier snapshot (in time order): its (id, retained) pairs sorted by
  /// id. A candidate stays one while its retained size grows.
  pub fn fold(&mut self, retained: &[(u32, u64)]) {
    let mut k = 0;
    for (c, &(id, _)) in self.candidates.iter().enumerate() {
      while k < retained.len() && retained[k].0 < id {
        k += 1;
      }
      let now = match retained.get(k) {
        Some(&(rid, r)) if rid == id => Some(r),
        _ => None,
      };
      let before = self.previous[c];
      self.previous[c] = match now {
        Some(r) if self.folded == 0 => r,
        Some(r) if before != GONE && r > before => {
          self.series.entry(c).or_insert_with(|| vec![before]).push(r);
          r
        }
        _ => {
          self.series.remove(&c);
          GONE
        }
      };
    }
    self.folded += 1;
  }

  /// The objects of `last` whose retained size grew at every step, innermost first in the
  /// dominator tree (an object is left out when one it dominates accounts for at least half
  /// of its growth), largest growth first; and the classes whose count grew at every step
  /// (`earlier`: each earlier snapshot's class totals, in time order).
  pub fn finish(
    self,
    last: &Graph,
    earlier: &[HashMap<PublicKey, ClassTotals>],
    first_ids: &[u64],
    limit: usize,
    control: &Control,
  ) -> (Vec<GrowingObject>, Vec<GrowingClass>) {
    let Some(full) = &last.full else {
      return (Vec::new(), Vec::new());
    };
    let retained = &full.dominators.retained;
    let n = last.s.node_count();
    // Growth of each growing candidate, by node (0: not growing).
    let mut growth = vec![0u64; n];
    let mut grown: Vec<(usize, u32)> = Vec::new();
    for (c, &(_, v)) in self.candidates.iter().enumerate() {
      let before = self.previous[c];
      let r = retained.get(v as usize);
      if before != GONE && r > before && self.folded >= 1 {
        grown.push((c, v));
      }
    }
    let mut series_of: HashMap<u32, Vec<u64>> = HashMap::new();
    let mut series = self.series;
    for &(c, v) in &grown {
      let mut s = series.remove(&c).unwrap_or_else(|| vec![self.previous[c]]);
      s.push(retained.get(v as usize));
      growth[v as usize] = s[s.len() - 1] - s[0];
      series_of.insert(v, s);
    }
    let below = largest_growth_below(last, &growth);
    let mut objects: Vec<u32> = grown
      .iter()
      .map(|&(_, v)| v)
      .filter(|&v| below[v as usize].saturating_mul(2) < growth[v as usize])
      .collect();
    objects.sort_by(|&a, &b| {
      growth[b as usize]
        .cmp(&growth[a as usize])
        .then(last.s.node_id[a as usize].cmp(&last.s.node_id[b as usize]))
    });
    objects.truncate(limit);
    let objects = objects
      .into_iter()
      .map(|v| {
        let path = retainer_path(last, v);
        GrowingObject {
          name: super::paths::class_label(last, v),
          id: last.s.node_id[v as usize],
          node_type: last.s.meta.node_types[last.s.node_type[v as usize] as usize].clone(),
          self_size: last.s.self_size.get(v as usize),
          retained_size: series_of.remove(&v).unwrap_or_default(),
          growth: growth[v as usize],
          path_text: path_text(&path),
          path,
        }
      })
      .collect();
    let classes = growing_classes(last, earlier, first_ids, limit, control);
    (objects, classes)
  }
}

/// Per node: the largest growth of a growing node it strictly dominates (post-order over the
/// dominator tree, no recursion).
fn largest_growth_below(g: &Graph, growth: &[u64]) -> Vec<u64> {
  let mut below = vec![0u64; growth.len()];
  let Some(full) = &g.full else { return below };
  let tree = &full.tree;
  let children = |v: usize| &tree.nodes[tree.first[v] as usize..tree.first[v + 1] as usize];
  let mut order = Vec::with_capacity(growth.len());
  let mut stack = vec![g.s.root];
  while let Some(v) = stack.pop() {
    order.push(v);
    stack.extend_from_slice(children(v as usize));
  }
  for &v in order.iter().rev() {
    let v = v as usize;
    let mut best = 0;
    for &c in children(v) {
      best = best.max(growth[c as usize]).max(below[c as usize]);
    }
    below[v] = best;
  }
  below
}

fn growing_classes(
  last: &Graph,
  earlier: &[HashMap<PublicKey, ClassTotals>],
  first_ids: &[u64],
  limit: usize,
  control: &Control,
) -> Vec<GrowingClass> {
  if earlier.len() < 2 {
    return Vec::new();
  }
  let now = public_classes(last, control);
  let mut rows: Vec<(PublicKey, usize, Vec<ClassTotals>)> = Vec::new();
  for (key, a) in now {
    let agg = &last.classes.aggregates[a];
    let this = ClassTotals {
      count: agg.count,
      self_size: agg.self_size,
      retained_size: agg.retained_size,
      visible: agg
        .nodes
        .first()
        .is_some_and(|&n| visible(last, n as usize)),
    };
    if !this.visible {
      continue;
    }
    let mut totals: Vec<ClassTotals> = earlier
      .iter()
      .map(|m| m.get(&key).copied().unwrap_or_default())
      .collect();
    totals.push(this);
    if totals.windows(2).all(|w| w[1].count > w[0].count) {
      rows.push((key, a, totals));
    }
  }
  let growth = |t: &[ClassTotals]| t[t.len() - 1].retained_size as i64 - t[0].retained_size as i64;
  rows.sort_by(|(ka, _, a), (kb, _, b)| {
    growth(b)
      .cmp(&growth(a))
      .then((b[b.len() - 1].count - b[0].count).cmp(&(a[a.len() - 1].count - a[0].count)))
      .then_with(|| ka.cmp_text(kb))
  });
  rows.truncate(limit);
  let retained = last.full.as_ref().map(|f| &f.dominators.retained);
  let in_first = |id: u32| {
    first_ids
      .binary_search_by_key(&id, |&x| (x >> 32) as u32)
      .is_ok()
  };
  rows
    .into_iter()
    .map(|(key, a, totals)| {
      let nodes = &last.classes.aggregates[a].nodes;
      let size = |n: u32| retained.map_or(0, |r| r.get(n as usize));
      let example = nodes
        .iter()
        .copied()
        .filter(|&n| !in_first(last.s.node_id[n as usize]))
        .max_by_key(|&n| size(n))
        .or_else(|| nodes.iter().copied().max_by_key(|&n| size(n)))
        .unwrap_or(last.s.root);
      let path = retainer_path(last, example);
      GrowingClass {
        name: key.name().to_string(),
        key: key.text(),
        count: totals.iter().map(|t| t.count).collect(),
        self_size: totals.iter().map(|t| t.self_size).collect(),
        retained_size: totals.iter().map(|t| t.retained_size).collect(),
        growth: growth(&totals),
        path_text: path_text(&path),
        path,
      }
    })
    .collect()
}

/// A retainer path as one line, the way DevTools writes edges: `holder.property`,
/// `holder[index]`, `context->variable`, `holder[[weak]]`, `holder{internal}`, ending with
/// the target and its id.
pub fn path_text(path: &RetainerPath) -> String {
  if path.unreachable {
    return format!(
      "(no retainer path: only weakly reachable) {} @{}",
      path.target, path.target_id
    );
  }
  let mut parts: Vec<String> = Vec::with_capacity(path.steps.len() + 2);
  if path.truncated {
    parts.push("…".to_string());
  }
  for s in &path.steps {
    let edge = match s.edge_type.as_str() {
      "property" | "shortcut" if is_identifier(&s.edge) => format!(".{}", s.edge),
      "property" | "shortcut" => format!("[{}]", quoted(&s.edge)),
      "element" => format!("[{}]", s.edge),
      "context" => format!("->{}", s.edge),
      "weak" => format!("[[{}]]", s.edge),
      _ => format!("{{{}}}", s.edge),
    };
    parts.push(format!("{}{edge}", s.holder));
  }
  parts.push(format!("{} @{}", path.target, path.target_id));
  parts.join(" → ")
}

fn is_identifier(name: &str) -> bool {
  let mut chars = name.chars();
  chars
    .next()
    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A JSON string literal of `text`.
fn quoted(text: &str) -> String {
  let mut out = String::with_capacity(text.len() + 2);
  out.push('"');
  for c in text.chars() {
    match c {
      '"' => out.push_str("\\\""),
      '\\' => out.push_str("\\\\"),
      '\n' => out.push_str("\\n"),
      '\r' => out.push_str("\\r"),
      '\t' => out.push_str("\\t"),
      c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
      c => out.push(c),
    }
  }
  out.push('"');
  out
}
