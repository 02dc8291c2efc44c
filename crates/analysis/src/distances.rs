//! Distances from the roots, as DevTools computes them (breadth-first, user roots first, the
//! system roots after at a large base distance), and the edge each node was first reached
//! by: following those edges back gives a shortest retainer path.

use std::collections::{HashMap, HashSet, VecDeque};

use super::control::Control;
use super::dominators::WeakMapNames;
use super::error::AnalysisError;
use super::flags::is_user_root;
use super::parse::Snapshot;
use super::types::Types;

pub const NO_DISTANCE: i32 = -5;
pub const BASE_SYSTEM_DISTANCE: i32 = 100_000_000;
pub const NO_EDGE: u32 = u32::MAX;

pub struct Distances {
  /// One bit per node: did the search reach it? Distances themselves are not kept: the
  /// search hands each node's to its caller as it reaches it (the class aggregates take
  /// their minimum), and afterwards only reachability is asked.
  reached: Vec<u64>,
  /// The edge (ordinal) that first reached each node; `NO_EDGE` for the starting points.
  pub via: Vec<u32>,
}

impl Distances {
  /// Whether the search reached `v` (DevTools: a distance other than `NO_DISTANCE`).
  pub fn reached(&self, v: usize) -> bool {
    self.reached[v >> 6] >> (v & 63) & 1 == 1
  }

  /// The node the edge that first reached `v` comes from (`v` must have one): found in the
  /// edge offsets rather than kept as a column, as only retainer paths ask.
  pub fn holder(&self, s: &Snapshot, v: u32) -> u32 {
    edge_owner(&s.first_edge, self.via[v as usize])
  }
}

/// The node whose edge range holds edge `e`: the last node whose first edge is at or before
/// it (nodes without edges share their offset with the next node, which owns `e`).
pub fn edge_owner(first_edge: &[u32], e: u32) -> u32 {
  (first_edge.partition_point(|&f| f <= e) - 1) as u32
}

/// The state of the breadth-first search, shared by its two rounds.
struct Search {
  reached: Vec<u64>,
  via: Vec<u32>,
  /// The frontier only: a node leaves it when its edges are looked at, so it holds about
  /// one level of the search, not every node reached. Every node in it is at `level` or
  /// the next one: the search goes level by level, so no distance is kept per node.
  queue: VecDeque<u32>,
  /// The distance of the nodes at the queue's front.
  level: i32,
  /// Nodes taken from the queue so far (for the cancel checks).
  head: usize,
  /// WeakMap pairs (ids from `WeakMapNames`) whose first edge was skipped (DevTools reaches
  /// the value by the second).
  pending: HashSet<u32>,
  /// `parseInt` of string edge names met in descriptor arrays, per string index: each name is
  /// read once however many edges share it.
  numbers: HashMap<u32, Option<i64>>,
  sloppy: Option<u32>,
}

impl Search {
  fn is_reached(&self, v: u32) -> bool {
    self.reached[v as usize >> 6] >> (v & 63) & 1 == 1
  }

  fn mark(&mut self, v: u32) {
    self.reached[v as usize >> 6] |= 1 << (v & 63);
  }
}

/// DevTools' distances, breadth-first; `on_distance(node, distance)` gets each node's
/// distance once it is final (every reached node once; unreached nodes never: their distance
/// is `NO_DISTANCE`).
pub fn distances(
  s: &Snapshot,
  t: &Types,
  names: &mut WeakMapNames,
  control: &Control,
  mut on_distance: impl FnMut(u32, i32),
) -> Result<Distances, AnalysisError> {
  let n = s.node_count();
  let mut search = Search {
    reached: vec![0u64; n.div_ceil(64)],
    via: vec![NO_EDGE; n],
    queue: VecDeque::new(),
    level: 1,
    head: 0,
    pending: HashSet::new(),
    numbers: HashMap::new(),
    sloppy: find_string(s, b"sloppy_function_map"),
  };
  for e in s.edges(s.root) {
    let to = s.edge_to(e);
    // A root child named twice is queued twice, as DevTools does.
    if is_user_root(s, t, to) {
      search.mark(to);
      search.queue.push_back(to);
      if to != s.root {
        on_distance(to, 1);
      }
    }
  }
  let user_roots = !search.queue.is_empty();
  bfs(s, t, names, &mut search, control, &mut on_distance)?;
  // The system roots come after, far away, unless there were no user roots at all. The
  // root's distance is this one even when the first round reached it (so it was not
  // reported then).
  let root_distance = if user_roots { BASE_SYSTEM_DISTANCE } else { 0 };
  search.mark(s.root);
  on_distance(s.root, root_distance);
  search.level = root_distance;
  search.queue.clear();
  search.queue.push_back(s.root);
  search.head = 0;
  bfs(s, t, names, &mut search, control, &mut on_distance)?;
  Ok(Distances {
    reached: search.reached,
    via: search.via,
  })
}

fn find_string(s: &Snapshot, want: &[u8]) -> Option<u32> {
  (0..s.strings.len() as u32).find(|&i| s.strings.bytes(i) == want)
}

fn bfs(
  s: &Snapshot,
  t: &Types,
  names: &mut WeakMapNames,
  search: &mut Search,
  control: &Control,
  on_distance: &mut impl FnMut(u32, i32),
) -> Result<(), AnalysisError> {
  let sloppy = search.sloppy;
  // Nodes left at the current level; the rest of the queue is the next one.
  let mut level_left = search.queue.len();
  let mut work = 0u64;
  while let Some(v) = search.queue.pop_front() {
    if level_left == 0 {
      search.level += 1;
      level_left = search.queue.len() + 1;
    }
    level_left -= 1;
    search.head += 1;
    if search.head & 0xfff == 0 {
      control.check()?;
      control.add_work(std::mem::take(&mut work));
    }
    work += s.edges(v).len() as u64 + 1;
    let d = search.level + 1;
    let vt = s.node_type[v as usize];
    // The name only for the two types the rules ask about (a string lookup per node else).
    let named = |want: &[u8]| s.strings.bytes(s.node_name[v as usize]) == want;
    let descriptors = vt == t.array && named(b"(map descriptors)");
    let native_context = vt == t.hidden && named(b"system / NativeContext");
    for e in s.edges(v) {
      let et = s.edge_type(e);
      if et == t.edge_weak {
        continue;
      }
      let to = s.edge_to(e);
      if search.is_reached(to) {
        continue;
      }
      // DevTools' filter: ignore a native context's sloppy_function_map, the descriptor
      // links of descriptor arrays, and the first edge of each WeakMap pair.
      let name = s.edge_name[e];
      if native_context && t.edge_has_string_name(et) && Some(name) == sloppy {
        continue;
      }
      if descriptors {
        let index = if t.edge_has_string_name(s.edge_type(e)) {
          *search.numbers.entry(name).or_insert_with(|| {
            control.add_work(s.strings.bytes(name).len() as u64);
            parse_int(s.strings.bytes(name))
          })
        } else {
          Some(name as i64)
        };
        if let Some(i) = index {
          if !(i < 2 || i % 3 != 1) {
            continue;
          }
        }
      }
      if et == t.edge_internal {
        if let Some(pair) = names.pair(s, name) {
          if !search.pending.remove(&pair) {
            search.pending.insert(pair);
            continue;
          }
        }
      }
      search.mark(to);
      search.via[to as usize] = e as u32;
      search.queue.push_back(to);
      if to != s.root {
        on_distance(to, d);
      }
    }
  }
  control.add_work(work);
  Ok(())
}

/// `parseInt(name, 10)` for the descriptor-array rule: the leading integer of a string edge
/// name (element and hidden edges are named by their index).
fn parse_int(bytes: &[u8]) -> Option<i64> {
  let trimmed = bytes.trim_ascii_start();
  let (neg, digits) = match trimmed.first() {
    Some(b'-') => (true, &trimmed[1..]),
    Some(b'+') => (false, &trimmed[1..]),
    _ => (false, trimmed),
  };
  let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
  if len == 0 {
    return None;
  }
  let v: i64 = std::str::from_utf8(&digits[..len.min(17)])
    .ok()?
    .parse()
    .ok()?;
  Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
  use super::edge_owner;

  #[test]
  fn an_edge_belongs_to_the_node_whose_range_holds_it() {
    // Node 0: edges 0..2, node 1: none, node 2: 2..5, nodes 3 and 4: none, node 5: 5..6.
    let first = [0, 2, 2, 5, 5, 5, 6];
    let owners: Vec<u32> = (0..6).map(|e| edge_owner(&first, e)).collect();
    assert_eq!(owners, [0, 0, 2, 2, 2, 5]);
  }
}
