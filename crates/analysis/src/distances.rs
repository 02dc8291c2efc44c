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
  /// Each node's distance, until the class aggregates have taken their minimum; then
  /// emptied, and `reached` says which nodes had one.
  pub distance: Vec<i32>,
  /// One bit per node once `distance` is emptied: was it reached?
  reached: Vec<u64>,
  /// The edge (ordinal) that first reached each node; `NO_EDGE` for the starting points.
  pub via: Vec<u32>,
}

impl Distances {
  /// Whether the search reached `v` (DevTools: a distance other than `NO_DISTANCE`).
  pub fn reached(&self, v: usize) -> bool {
    if self.distance.is_empty() {
      self.reached[v >> 6] >> (v & 63) & 1 == 1
    } else {
      self.distance[v] != NO_DISTANCE
    }
  }

  /// Keeps only whether each node was reached: 1 bit instead of 32.
  pub fn keep_reached_only(&mut self) {
    if self.distance.is_empty() {
      return;
    }
    let mut bits = vec![0u64; self.distance.len().div_ceil(64)];
    for (v, &d) in self.distance.iter().enumerate() {
      if d != NO_DISTANCE {
        bits[v >> 6] |= 1 << (v & 63);
      }
    }
    self.reached = bits;
    self.distance = Vec::new();
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
  distance: Vec<i32>,
  via: Vec<u32>,
  /// The frontier only: a node leaves it when its edges are looked at, so it holds about
  /// one level of the search, not every node reached.
  queue: VecDeque<u32>,
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

pub fn distances(
  s: &Snapshot,
  t: &Types,
  names: &mut WeakMapNames,
  control: &Control,
) -> Result<Distances, AnalysisError> {
  let n = s.node_count();
  let mut search = Search {
    distance: vec![NO_DISTANCE; n],
    via: vec![NO_EDGE; n],
    queue: VecDeque::new(),
    head: 0,
    pending: HashSet::new(),
    numbers: HashMap::new(),
    sloppy: find_string(s, b"sloppy_function_map"),
  };
  for e in s.edges(s.root) {
    let to = s.edge_to(e);
    if is_user_root(s, t, to) {
      search.distance[to as usize] = 1;
      search.queue.push_back(to);
    }
  }
  let user_roots = !search.queue.is_empty();
  bfs(s, t, names, &mut search, control)?;
  // The system roots come after, far away, unless there were no user roots at all.
  search.distance[s.root as usize] = if user_roots { BASE_SYSTEM_DISTANCE } else { 0 };
  search.queue.clear();
  search.queue.push_back(s.root);
  search.head = 0;
  bfs(s, t, names, &mut search, control)?;
  Ok(Distances {
    distance: search.distance,
    reached: Vec::new(),
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
) -> Result<(), AnalysisError> {
  let Search {
    distance,
    via,
    queue,
    head,
    pending,
    numbers,
    sloppy,
  } = search;
  let sloppy = *sloppy;
  while let Some(v) = queue.pop_front() {
    *head += 1;
    control.check_every(*head)?;
    control.add_work(s.edges(v).len() as u64 + 1);
    let d = distance[v as usize] + 1;
    let vt = s.node_type[v as usize];
    let vname = s.strings.bytes(s.node_name[v as usize]);
    let descriptors = vt == t.array && vname == b"(map descriptors)";
    let native_context = vt == t.hidden && vname == b"system / NativeContext";
    for e in s.edges(v) {
      let et = s.edge_type(e);
      if et == t.edge_weak {
        continue;
      }
      let to = s.edge_to(e);
      if distance[to as usize] != NO_DISTANCE {
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
          *numbers.entry(name).or_insert_with(|| {
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
          if !pending.remove(&pair) {
            pending.insert(pair);
            continue;
          }
        }
      }
      distance[to as usize] = d;
      via[to as usize] = e as u32;
      queue.push_back(to);
    }
  }
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
