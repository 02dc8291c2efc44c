//! Retainer paths: from the roots to a node along the edges the breadth-first distance
//! search first used, so each path is a shortest one and prefers the page's own objects over
//! the system roots, as DevTools' Retainers view does. Walked iteratively and capped.

use serde::Serialize;

use super::distances::NO_EDGE;
use super::graph::Graph;

/// Longest path reported; longer ones keep the steps nearest the object.
pub const MAX_STEPS: usize = 48;

/// One step of a retainer path, from the roots towards the object.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Step {
  /// Class of the holding object.
  pub holder: String,
  /// Snapshot id of the holding object.
  pub holder_id: u32,
  /// Edge type: "property", "element", "context", "internal", "hidden", "shortcut".
  pub edge_type: String,
  /// Edge name: a property or variable name, or an index.
  pub edge: String,
}

/// The shortest path from the GC roots to an object, through retaining edges.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetainerPath {
  /// The steps, nearest the roots first.
  pub steps: Vec<Step>,
  /// Class of the retained object at the end of the path.
  pub target: String,
  /// Snapshot id of the retained object.
  pub target_id: u32,
  /// Steps were dropped near the roots because the path is longer than `MAX_STEPS`.
  pub truncated: bool,
  /// No path: the object is only reachable through weak edges or not at all.
  pub unreachable: bool,
}

/// The steps of the shortest path to `node` as (edge, holding node), nearest the root first
/// (at most `MAX_STEPS`).
pub fn path_edges(g: &Graph, node: u32) -> (Vec<(u32, u32)>, bool) {
  let Some(full) = &g.full else {
    return (Vec::new(), false);
  };
  let via = &full.distances.via;
  let mut edges = Vec::new();
  let mut at = node;
  let mut truncated = false;
  while via[at as usize] != NO_EDGE {
    if edges.len() == MAX_STEPS {
      truncated = true;
      break;
    }
    let holder = full.distances.holder(&g.s, at);
    edges.push((via[at as usize], holder));
    at = holder;
  }
  edges.reverse();
  (edges, truncated)
}

pub fn edge_label(g: &Graph, e: u32) -> String {
  let e = e as usize;
  let et = g.s.edge_type(e);
  if g.t.edge_has_string_name(et) {
    g.s.strings.get(g.s.edge_name[e]).into_owned()
  } else {
    g.s.edge_name[e].to_string()
  }
}

/// The class of a node (what groups and tables show).
pub fn class_label(g: &Graph, node: u32) -> String {
  g.names
    .added
    .text(&g.s, g.names.class[node as usize])
    .into_owned()
}

/// How a node reads in a path: objects by class, functions by name, strings quoted and
/// cut short, internal nodes by their V8 name ("system / Context", "(GC roots)").
pub fn node_label(g: &Graph, node: u32) -> String {
  if node == g.s.root {
    return "(root)".to_string();
  }
  let v = node as usize;
  let t = &g.t;
  let ty = g.s.node_type[v];
  let raw = g.s.strings.get(g.s.node_name[v]);
  if ty == t.object || ty == t.native {
    class_label(g, node)
  } else if ty == t.closure {
    if raw.is_empty() {
      "(anonymous)()".to_string()
    } else {
      format!("{raw}()")
    }
  } else if g.s.meta.node_types[ty as usize].contains("string") && !raw.is_empty() {
    let mut text: String = raw.chars().take(40).collect();
    if raw.chars().nth(40).is_some() {
      text.push('…');
    }
    format!("{text:?}")
  } else if raw.is_empty() {
    class_label(g, node)
  } else {
    raw.into_owned()
  }
}

pub fn retainer_path(g: &Graph, node: u32) -> RetainerPath {
  let (edges, truncated) = path_edges(g, node);
  let reachable = g
    .full
    .as_ref()
    .is_some_and(|f| f.distances.reached(node as usize));
  let steps = edges
    .iter()
    .map(|&(e, holder)| Step {
      holder: node_label(g, holder),
      holder_id: g.s.node_id[holder as usize],
      edge_type: g.s.meta.edge_types[g.s.edge_type(e as usize) as usize].clone(),
      edge: edge_label(g, e),
    })
    .collect();
  RetainerPath {
    steps,
    target: class_label(g, node),
    target_id: g.s.node_id[node as usize],
    truncated,
    unreachable: !reachable,
  }
}

/// Paths' shapes with indices and per-entry names left out, interned: every object held
/// the same way (each entry of one Map, each element of one array, each value of an object
/// used as a dictionary) gets the same id. A shape is its parent's shape plus one step, so
/// shared prefixes are computed once.
pub struct Shapes {
  ids: std::collections::HashMap<(u32, u32, u8, u32), u32>,
  /// Shape id of the path to each node, once computed (`u32::MAX`: not yet).
  memo: Vec<u32>,
  /// Holders already counted: whether each has more than `DICTIONARY_PROPERTIES` properties.
  wide: std::collections::HashMap<u32, bool>,
}

/// More named properties than this and an object is taken for a dictionary whose property
/// names are data (`cache[url] = …`): its values share one shape, like a Map's entries.
/// Objects written in code rarely have so many; caches keyed by ids or URLs do.
pub const DICTIONARY_PROPERTIES: usize = 64;

impl Shapes {
  pub fn new(g: &Graph) -> Self {
    Shapes {
      ids: std::collections::HashMap::new(),
      memo: vec![u32::MAX; g.s.node_count()],
      wide: std::collections::HashMap::new(),
    }
  }

  /// Whether `holder` has more than `DICTIONARY_PROPERTIES` property edges (counted once).
  fn is_dictionary(&mut self, g: &Graph, holder: u32) -> bool {
    *self.wide.entry(holder).or_insert_with(|| {
      g.s
        .edges(holder)
        .filter(|&e| g.s.edge_type(e) == g.t.edge_property)
        .nth(DICTIONARY_PROPERTIES)
        .is_some()
    })
  }

  /// The shape id of the path to `node` (0: no path, or the path's start).
  pub fn of(&mut self, g: &Graph, node: u32) -> u32 {
    const ANY: u32 = u32::MAX;
    let Some(full) = &g.full else { return 0 };
    let d = &full.distances;
    // Up to the first node whose shape is known or that starts a path (no recursion).
    let mut chain = Vec::new();
    let mut at = node;
    while self.memo[at as usize] == u32::MAX
      && d.via[at as usize] != NO_EDGE
      && chain.len() < 4 * MAX_STEPS
    {
      chain.push(at);
      at = d.holder(&g.s, at);
    }
    let mut shape = if self.memo[at as usize] == u32::MAX {
      0
    } else {
      self.memo[at as usize]
    };
    for &v in chain.iter().rev() {
      let e = d.via[v as usize] as usize;
      let holder = d.holder(&g.s, v) as usize;
      let et = g.s.edge_type(e);
      let indexed = !g.t.edge_has_string_name(et)
        || g
          .s
          .strings
          .bytes(g.s.edge_name[e])
          .first()
          .is_some_and(|b| b.is_ascii_digit())
        || (et == g.t.edge_property && self.is_dictionary(g, holder as u32));
      let name = if indexed { ANY } else { g.s.edge_name[e] };
      let next = self.ids.len() as u32 + 1;
      shape = *self
        .ids
        .entry((shape, g.names.class[holder], et, name))
        .or_insert(next);
      self.memo[v as usize] = shape;
    }
    shape
  }
}
