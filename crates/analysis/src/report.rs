//! The reports: what `analyze` and `diff` return (serialized to JSON for JavaScript and the
//! CLI). Field names are camelCase; sizes are bytes.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

use super::classes::{ClassKey, NO_CLASS};
use super::control::Control;
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

pub fn summary(g: &Graph, file: &str, control: &Control) -> Summary {
  Summary {
    file: file.to_string(),
    file_bytes: g.s.file_bytes,
    node_count: g.s.node_count() as u64,
    edge_count: g.s.edge_count() as u64,
    total_size: g.total_size(),
    self_size: g.s.self_size.iter().sum(),
    class_count: public_classes(g, control).len() as u64,
    unreachable_nodes: g.full.as_ref().map(|f| f.dominators.unreachable),
  }
}

/// A class name's text, shared by every public key of that name and hashed once: many
/// located classes can share one long name, which must not cost its length per class.
#[derive(Debug)]
struct NameText {
  text: String,
  hash: u64,
}

/// DevTools' public class key (`",Name"` or `"script,line,column,Name"`) without building
/// its text: hashing and equality cost the location and a precomputed hash, the text is
/// compared only between equal hashes.
#[derive(Clone, Debug)]
pub struct PublicKey {
  location: Option<(u32, u32, u32)>,
  name: Arc<NameText>,
}

impl PartialEq for PublicKey {
  fn eq(&self, other: &Self) -> bool {
    self.location == other.location
      && self.name.hash == other.name.hash
      && (Arc::ptr_eq(&self.name, &other.name) || self.name.text == other.name.text)
  }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
  fn hash<H: Hasher>(&self, state: &mut H) {
    self.location.hash(state);
    self.name.hash.hash(state);
  }
}

impl PublicKey {
  /// The key's text up to the name: `","` or `"script,line,column,"`. No such prefix is a
  /// proper prefix of another, so comparing (prefix, name) orders keys as their texts.
  fn prefix(&self) -> String {
    match self.location {
      Some((script, line, column)) => format!("{script},{line},{column},"),
      None => ",".to_string(),
    }
  }

  /// DevTools' key text.
  pub fn text(&self) -> String {
    self.prefix() + &self.name.text
  }

  /// The class name.
  pub fn name(&self) -> &str {
    &self.name.text
  }

  /// The order of the key texts, without building them.
  pub fn cmp_text(&self, other: &Self) -> std::cmp::Ordering {
    self.prefix().cmp(&other.prefix()).then_with(|| {
      if Arc::ptr_eq(&self.name, &other.name) {
        std::cmp::Ordering::Equal
      } else {
        self.name.text.cmp(&other.name.text)
      }
    })
  }

  /// The key of a key text (as a report row holds it).
  pub fn parse(text: &str) -> PublicKey {
    let located = || {
      let mut parts = text.splitn(4, ',');
      let script = parts.next()?.parse().ok()?;
      let line = parts.next()?.parse().ok()?;
      let column = parts.next()?.parse().ok()?;
      Some(((script, line, column), parts.next()?))
    };
    let (location, name) = match text.strip_prefix(',') {
      Some(name) => (None, name),
      None => match located() {
        Some((at, name)) => (Some(at), name),
        None => (None, text),
      },
    };
    PublicKey {
      location,
      name: Arc::new(name_text(name.to_string())),
    }
  }
}

fn name_text(text: String) -> NameText {
  // A fixed-key hasher: equal texts from two snapshots hash the same.
  let mut h = std::hash::DefaultHasher::new();
  text.hash(&mut h);
  NameText {
    hash: h.finish(),
    text,
  }
}

/// Aggregates by DevTools' public key. Two internal classes with the same key text keep the
/// later one, as DevTools' object of aggregates does. Each class name's text is read once.
pub fn public_classes(g: &Graph, control: &Control) -> HashMap<PublicKey, usize> {
  let mut names: HashMap<u32, Arc<NameText>> = HashMap::new();
  let mut map = HashMap::new();
  for (i, a) in g.classes.aggregates.iter().enumerate() {
    // An aborted analysis stops here; its caller's next `Control::enter` reports the abort.
    if i & 0xfff == 0 && control.is_cancelled() {
      break;
    }
    let Some(key) = a.key else { continue };
    let (location, class) = match key {
      ClassKey::Name(c) => (None, c),
      ClassKey::Located {
        script,
        line,
        column,
        name,
      } => (Some((script, line, column)), name),
    };
    let name = names
      .entry(class)
      .or_insert_with(|| {
        let text = g.names.added.text(&g.s, class).into_owned();
        control.add_work(text.len() as u64);
        Arc::new(name_text(text))
      })
      .clone();
    control.add_work(1);
    map.insert(PublicKey { location, name }, i);
  }
  map
}

pub fn class_rows(g: &Graph, limits: &Limits, control: &Control) -> Vec<ClassRow> {
  let mut rows: Vec<(usize, PublicKey)> = public_classes(g, control)
    .into_iter()
    .map(|(k, i)| (i, k))
    .collect();
  let aggs = &g.classes.aggregates;
  rows.sort_by(|(a, ka), (b, kb)| {
    let (x, y) = (&aggs[*a], &aggs[*b]);
    y.retained_size
      .cmp(&x.retained_size)
      .then(y.self_size.cmp(&x.self_size))
      .then_with(|| ka.cmp_text(kb))
  });
  rows.truncate(limits.classes);
  // Rows, names and paths are the report's own cost; an aborted analysis skips them (its
  // caller's next `Control::enter` reports the abort).
  if control.is_cancelled() {
    rows.clear();
  }
  rows
    .into_iter()
    .enumerate()
    .map(|(rank, (i, key))| {
      let a = &aggs[i];
      let path = if rank < limits.paths && g.full.is_some() && !control.is_cancelled() {
        let retained = &g.full.as_ref().map(|f| &f.dominators.retained);
        a.nodes
          .iter()
          .copied()
          .max_by_key(|&n| retained.map_or(0, |r| r.get(n as usize)))
          .map(|n| retainer_path(g, n))
      } else {
        None
      };
      ClassRow {
        name: key.name().to_string(),
        key: key.text(),
        count: a.count,
        self_size: a.self_size,
        // Class rows come from `analyze`, whose graph always has retained sizes and
        // distances (Depth::Report).
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
      best.sort_by_key(|&n| std::cmp::Reverse(retained.get(n as usize)));
      best.truncate(limit);
    }
  }
  best.sort_by_key(|&n| std::cmp::Reverse(retained.get(n as usize)));
  best.truncate(limit);
  best
    .into_iter()
    .map(|node| ObjectRow {
      name: super::paths::class_label(g, node),
      id: g.s.node_id[node as usize],
      node_type: g.s.meta.node_types[g.s.node_type[node as usize] as usize].clone(),
      self_size: g.s.self_size.get(node as usize),
      retained_size: retained.get(node as usize),
      path: retainer_path(g, node),
    })
    .collect()
}

pub fn analyze_report(g: &Graph, file: &str, limits: &Limits, control: &Control) -> AnalyzeReport {
  AnalyzeReport {
    summary: summary(g, file, control),
    classes: class_rows(g, limits, control),
    largest: if control.is_cancelled() {
      Vec::new()
    } else {
      largest_objects(g, limits.largest)
    },
  }
}
