//! The passes DevTools runs over the raw graph before dominators: DOM attachment state,
//! which nodes the page (rather than the debugger) owns, and "shallow sizes" that move the
//! size of internal arrays and hidden objects onto the one object that owns them.

use std::collections::HashMap;

use super::error::AnalysisError;
use super::parse::Snapshot;
use super::types::Types;

pub const PAGE_OBJECT: u8 = 4;

const ATTACHED: u8 = 1;
const DETACHED: u8 = 2;

/// Attached/detached state of embedder (native) nodes, propagated through native nodes
/// only; detached ones are renamed "Detached <name>".
pub fn propagate_dom_state(s: &mut Snapshot, t: &Types) -> Result<(), AnalysisError> {
  if s.detachedness.is_empty() {
    return Ok(());
  }
  let n = s.node_count();
  let mut visited = vec![false; n];
  let mut attached = Vec::new();
  let mut detached = Vec::new();
  let mut renamed: HashMap<u32, u32> = HashMap::new();
  let skip = [t.edge_hidden, super::types::NONE, t.edge_weak];
  let mut process = |s: &mut Snapshot,
                     node: usize,
                     state: u8,
                     attached: &mut Vec<u32>,
                     detached: &mut Vec<u32>|
   -> Result<(), AnalysisError> {
    if visited[node] {
      return Ok(());
    }
    visited[node] = true;
    if s.node_type[node] != t.native {
      return Ok(());
    }
    s.detachedness[node] = state;
    if state == ATTACHED {
      attached.push(node as u32);
    } else if state == DETACHED {
      let old = s.node_name[node];
      let new = match renamed.get(&old) {
        Some(&i) => i,
        None => {
          let mut name = b"Detached ".to_vec();
          name.extend_from_slice(s.strings.bytes(old));
          let i = s.strings.push(&name)?;
          renamed.insert(old, i);
          i
        }
      };
      s.node_name[node] = new;
      detached.push(node as u32);
    }
    Ok(())
  };
  for node in 0..n {
    let state = s.detachedness[node];
    if state != 0 {
      process(s, node, state, &mut attached, &mut detached)?;
    }
  }
  while let Some(node) = attached.pop() {
    for e in s.edges(node) {
      if !skip.contains(&s.edge_type(e)) {
        let to = s.edge_to(e) as usize;
        process(s, to, ATTACHED, &mut attached, &mut detached)?;
      }
    }
  }
  while let Some(node) = detached.pop() {
    if s.detachedness[node as usize] == ATTACHED {
      continue;
    }
    for e in s.edges(node) {
      if !skip.contains(&s.edge_type(e)) {
        let to = s.edge_to(e) as usize;
        process(s, to, DETACHED, &mut attached, &mut detached)?;
      }
    }
  }
  Ok(())
}

/// A root child is a user root unless it is synthetic (the GC roots groups), except the
/// "(Document DOM trees)" group.
pub fn is_user_root(s: &Snapshot, t: &Types, node: u32) -> bool {
  s.node_type[node as usize] != t.synthetic || is_dom_trees_root(s, t, node)
}

fn is_dom_trees_root(s: &Snapshot, t: &Types, node: u32) -> bool {
  s.node_type[node as usize] == t.synthetic
    && s.strings.bytes(s.node_name[node as usize]) == b"(Document DOM trees)"
}

/// Nodes reachable without weak edges from the root's shortcut edges (the global objects)
/// and from DOM tree roots get `PAGE_OBJECT`.
pub fn page_owned(s: &Snapshot, t: &Types) -> Vec<u8> {
  let mut flags = vec![0u8; s.node_count()];
  let mut stack = Vec::new();
  for e in s.edges(s.root) {
    let to = s.edge_to(e);
    let et = s.edge_type(e);
    if et == t.edge_element {
      if !is_dom_trees_root(s, t, to) {
        continue;
      }
    } else if et != t.edge_shortcut {
      continue;
    }
    stack.push(to);
    flags[to as usize] |= PAGE_OBJECT;
  }
  while let Some(node) = stack.pop() {
    for e in s.edges(node) {
      let to = s.edge_to(e);
      if flags[to as usize] & PAGE_OBJECT != 0 || s.edge_type(e) == t.edge_weak {
        continue;
      }
      flags[to as usize] |= PAGE_OBJECT;
      stack.push(to);
    }
  }
  flags
}

/// Moves the self size of arrays, hidden nodes and external string data to their single
/// owning object (DevTools' `calculateShallowSizes`). Skipped when no user root exists.
/// Returns each node's owner (see [`apply_shallow_sizes`]), or None when nothing moves. Only
/// reads the snapshot, so it runs beside the retaining-edge pass; the sizes move in place
/// after it, with no second self-size column.
pub fn shallow_owners(s: &Snapshot, t: &Types) -> Option<Vec<u32>> {
  let has_user_roots = s.edges(s.root).any(|e| is_user_root(s, t, s.edge_to(e)));
  if !has_user_roots {
    return None;
  }
  let n = s.node_count();
  let mut owners = vec![0u32; n];
  let mut work = Vec::new();
  for (i, owner) in owners.iter_mut().enumerate() {
    let ty = s.node_type[i];
    let owned = ty == t.hidden
      || ty == t.array
      || (ty == t.native && s.strings.bytes(s.node_name[i]) == b"system / ExternalStringData");
    if owned {
      *owner = UNVISITED;
    } else {
      *owner = i as u32;
      work.push(i as u32);
    }
  }
  while let Some(id) = work.pop() {
    let owner = owners[id as usize];
    for e in s.edges(id) {
      if s.edge_type(e) == t.edge_weak {
        continue;
      }
      let target = s.edge_to(e);
      let current = owners[target as usize];
      if current == UNVISITED {
        owners[target as usize] = owner;
        work.push(target);
      } else if current == target || current == owner || current == MULTIPLE {
        // Owns itself, already this owner's, or already shared.
      } else {
        owners[target as usize] = MULTIPLE;
        work.push(target);
      }
    }
  }
  Some(owners)
}

const UNVISITED: u32 = u32::MAX;
const MULTIPLE: u32 = u32::MAX - 1;

/// Moves each owned node's self size onto its owner, in place. An owner is never itself
/// owned (owners are the nodes that own themselves), so no size moves twice.
pub fn apply_shallow_sizes(s: &mut Snapshot, t: &Types, owners: &[u32]) {
  for (i, &owner) in owners.iter().enumerate() {
    if owner == UNVISITED || owner == MULTIPLE || owner == i as u32 {
      continue;
    }
    if s.node_type[owner as usize] == t.synthetic || owner == s.root {
      continue;
    }
    let size = s.self_size.get(i);
    if size == 0 {
      continue;
    }
    s.self_size.set(i, 0);
    let owner = owner as usize;
    s.self_size.set(owner, s.self_size.get(owner) + size);
  }
}
