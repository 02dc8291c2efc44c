//! Dominators (Lengauer–Tarjan, iterative, no recursion) and retained sizes over the edges
//! DevTools treats as retaining: no weak edges, no self edges, no shortcut edges except at the
//! root, no edge from a debugger-owned node into a page-owned one, and of the two edges that
//! keep a WeakMap value alive only the one from the key.

use std::collections::HashMap;

use super::control::Control;
use super::error::AnalysisError;
use super::flags::PAGE_OBJECT;
use super::parse::{Sizes, Snapshot};
use super::types::Types;
use super::weakmap;

/// One bit per edge: does it retain?
pub struct Essential {
  bits: Vec<u64>,
}

impl Essential {
  pub fn get(&self, edge: usize) -> bool {
    self.bits[edge >> 6] >> (edge & 63) & 1 == 1
  }
}

/// For every string index: is it a WeakMap edge name, of which table, and which pair. Each
/// string is parsed once, however many edges share it, so a long name costs its length once.
pub struct WeakMapNames {
  checked: Vec<u8>,
  /// String index → (table id, pair id).
  tables: HashMap<u32, (u64, u32)>,
  /// Pair text → pair id: the two edges of a pair have different strings, the same pair.
  pairs: HashMap<Vec<u8>, u32>,
  /// Bytes of names parsed (for `Control::add_work`).
  pub bytes_parsed: u64,
}

impl WeakMapNames {
  pub fn new(strings: usize) -> Self {
    WeakMapNames {
      checked: vec![0; strings],
      tables: HashMap::new(),
      pairs: HashMap::new(),
      bytes_parsed: 0,
    }
  }

  /// The table id when string `name` is a WeakMap edge name.
  pub fn table(&mut self, s: &Snapshot, name: u32) -> Option<u64> {
    self.entry(s, name).map(|(table, _)| table)
  }

  /// The pair id when string `name` is a WeakMap edge name: equal for the two edges that
  /// keep one value alive.
  pub fn pair(&mut self, s: &Snapshot, name: u32) -> Option<u32> {
    self.entry(s, name).map(|(_, pair)| pair)
  }

  fn entry(&mut self, s: &Snapshot, name: u32) -> Option<(u64, u32)> {
    match self.checked[name as usize] {
      1 => None,
      2 => self.tables.get(&name).copied(),
      _ => {
        let bytes = s.strings.bytes(name);
        self.bytes_parsed += bytes.len() as u64;
        match weakmap::parse(bytes) {
          Some(m) => {
            let next = self.pairs.len() as u32;
            let pair = *self.pairs.entry(m.pair.to_vec()).or_insert(next);
            self.checked[name as usize] = 2;
            self.tables.insert(name, (m.table_id, pair));
            Some((m.table_id, pair))
          }
          None => {
            self.checked[name as usize] = 1;
            None
          }
        }
      }
    }
  }
}

pub fn essential_edges(
  s: &Snapshot,
  t: &Types,
  flags: &[u8],
  names: &mut WeakMapNames,
) -> Essential {
  let m = s.edge_count();
  let mut bits = vec![0u64; m.div_ceil(64)];
  for v in 0..s.node_count() as u32 {
    let page_v = flags[v as usize] & PAGE_OBJECT != 0;
    for e in s.edges(v) {
      let et = s.edge_type(e);
      if et == t.edge_internal {
        if let Some(table) = names.table(s, s.edge_name[e]) {
          if table == s.node_id[v as usize] as u64 {
            continue;
          }
        }
      }
      if et == t.edge_weak {
        continue;
      }
      let to = s.edge_to(e);
      if to == v {
        continue;
      }
      if v != s.root {
        if et == t.edge_shortcut {
          continue;
        }
        let page_to = flags[to as usize] & PAGE_OBJECT != 0;
        if page_to && !page_v {
          continue;
        }
      }
      bits[e >> 6] |= 1 << (e & 63);
    }
  }
  Essential { bits }
}

/// The retaining predecessors of each node: `nodes[first[v]..first[v+1]]`. Only the
/// reference implementation takes them whole; [`dominators`] builds its own, smaller lists.
#[cfg(test)]
pub struct Retainers {
  pub first: Vec<u32>,
  pub nodes: Vec<u32>,
}

#[cfg(test)]
pub fn essential_retainers(s: &Snapshot, essential: &Essential) -> Retainers {
  let n = s.node_count();
  // Counts, then their running sums as each list's end; filled back to front, each cursor
  // ends at its list's start: one offset column, no copy of it as the fill cursors.
  let mut first = vec![0u32; n + 1];
  for e in 0..s.edge_count() {
    if essential.get(e) {
      first[s.edge_to(e) as usize] += 1;
    }
  }
  let mut sum = 0u32;
  for f in first.iter_mut() {
    sum += *f;
    *f = sum;
  }
  let mut nodes = vec![0u32; sum as usize];
  for v in (0..n as u32).rev() {
    for e in s.edges(v).rev() {
      if essential.get(e) {
        let to = s.edge_to(e) as usize;
        first[to] -= 1;
        nodes[first[to] as usize] = v;
      }
    }
  }
  Retainers { first, nodes }
}

pub struct Dominators {
  /// Immediate dominator ordinal of each node (the root is its own); emptied once the
  /// dominator tree is built from it.
  pub idom: Vec<u32>,
  pub retained: Sizes,
  /// Nodes that stayed unreachable from the root through retaining edges.
  pub unreachable: u64,
}

/// Dominators with DevTools' treatment of unreachable nodes: nodes with only weak retainers
/// are searched from as if the root held them; what is still unvisited hangs directly off
/// the root. Semidominators as in Lengauer–Tarjan; the dominators from them by semi-NCA when
/// the search reached every node, else by Lengauer–Tarjan's buckets.
///
/// Everything after the search is indexed by preorder number (1-based; 0 is "none"): the
/// retainer lists are built once every vertex has its number, in numbers, and only with the
/// retainers numbered above their vertex (see below). A vertex's DFS parent and its link in
/// the path-compressed forest share one column: the parent is read once, when the vertex is
/// linked, and the vertices linked so far are exactly those numbered above the one being
/// processed.
pub fn dominators(
  s: &Snapshot,
  essential: &Essential,
  control: &Control,
) -> Result<Dominators, AnalysisError> {
  let count = s.node_count();
  let len = count + 1;
  // Node ordinal → preorder number (0: not visited yet); later the labels.
  let mut pre = vec![0u32; len];
  // Preorder number → node ordinal.
  let mut vertex = vec![0u32; len];
  // Preorder number → the DFS parent's; later also the forest's ancestor links.
  let mut parent = vec![0u32; len];
  // Node ordinal → the next edge the search looks at; later the semidominators.
  let mut next_edge = vec![0u32; len];
  let mut n: u32 = 0;

  let mut dfs = |start: u32,
                 from: u32,
                 pre: &mut [u32],
                 vertex: &mut [u32],
                 parent: &mut [u32],
                 n: &mut u32| {
    *n += 1;
    pre[start as usize] = *n;
    vertex[*n as usize] = start;
    parent[*n as usize] = from;
    next_edge[start as usize] = s.first_edge[start as usize];
    let mut p = *n;
    while p != 0 {
      let v = vertex[p as usize] as usize;
      let end = s.first_edge[v + 1];
      let mut next = parent[p as usize];
      while next_edge[v] < end {
        let e = next_edge[v] as usize;
        next_edge[v] += 1;
        if !essential.get(e) {
          continue;
        }
        let w = s.edge_to(e) as usize;
        if pre[w] == 0 {
          *n += 1;
          pre[w] = *n;
          vertex[*n as usize] = w as u32;
          parent[*n as usize] = p;
          next_edge[w] = s.first_edge[w];
          next = *n;
          break;
        }
      }
      p = next;
    }
  };

  dfs(s.root, 0, &mut pre, &mut vertex, &mut parent, &mut n);
  super::control::trace("dominators: search");
  control.check()?;
  // The root is numbered 1.
  const ROOT: u32 = 1;
  let mut unreachable = 0u64;
  if (n as usize) < count {
    // One bit per node: does any retaining edge point at it?
    let mut has_retainer = vec![0u64; count.div_ceil(64)];
    for e in 0..s.edge_count() {
      if essential.get(e) {
        let to = s.edge_to(e) as usize;
        has_retainer[to >> 6] |= 1 << (to & 63);
      }
    }
    for v in 0..count as u32 {
      let only_weak = has_retainer[v as usize >> 6] >> (v & 63) & 1 == 0;
      if pre[v as usize] == 0 && only_weak {
        dfs(v, ROOT, &mut pre, &mut vertex, &mut parent, &mut n);
      }
    }
  }
  if (n as usize) < count {
    for (v, p) in pre[..count].iter_mut().enumerate() {
      if *p == 0 {
        unreachable += 1;
        n += 1;
        *p = n;
        vertex[n as usize] = v as u32;
        parent[n as usize] = ROOT;
      }
    }
  }
  // The retainer lists, by preorder number, of the retainers numbered above the vertex they
  // retain. A lower one is not linked yet when its vertex is processed, so all it can give
  // is its own number: the smallest of those starts the vertex's semidominator (in the
  // search's cursor column, now free), and the lists lose at least the tree edge of every
  // vertex. A vertex with no retainer at all starts at the root's number, 1. Counts, then
  // their running sums as each list's end, filled back to front: each cursor ends at its
  // list's start.
  let mut semi = next_edge;
  semi.iter_mut().enumerate().for_each(|(i, x)| *x = i as u32);
  let mut first = vec![0u32; len + 1];
  for u in 0..count as u32 {
    let pu = pre[u as usize];
    for e in s.edges(u) {
      if essential.get(e) {
        let pw = pre[s.edge_to(e) as usize] as usize;
        if pu < pw as u32 {
          semi[pw] = semi[pw].min(pu);
        } else {
          first[pw] += 1;
        }
      }
    }
  }
  for (w, x) in semi.iter_mut().enumerate().skip(1) {
    if *x == w as u32 && first[w] == 0 {
      *x = ROOT;
    }
  }
  let mut sum = 0u32;
  for f in first.iter_mut() {
    sum += *f;
    *f = sum;
  }
  let mut kept = vec![0u32; sum as usize];
  for u in (0..count as u32).rev() {
    let pu = pre[u as usize];
    for e in s.edges(u).rev() {
      if essential.get(e) {
        let pw = pre[s.edge_to(e) as usize] as usize;
        if pu > pw as u32 {
          first[pw] -= 1;
          kept[first[pw] as usize] = pu;
        }
      }
    }
  }
  control.check()?;
  let mut label = pre;
  label
    .iter_mut()
    .enumerate()
    .for_each(|(i, x)| *x = i as u32);
  let mut ancestor = parent;
  // Vertices numbered from `linked` up are linked into the forest.
  let mut linked = n + 1;
  // The path compress() walks: as deep as the forest gets, usually short.
  let mut stack: Vec<u32> = Vec::new();
  // When the search reached every vertex, its tree is a depth-first one and each vertex's
  // dominator is the nearest common ancestor of its parent and its semidominator
  // (semi-NCA): one column, the dominators, starting from the parents. Vertices the search
  // did not reach hang off the root outside that property, so then Lengauer–Tarjan's buckets
  // settle the dominators as before (`bucket_head` plus `dom` as the bucket links).
  let buckets = unreachable > 0;
  let mut bucket_head = if buckets { vec![0u32; len] } else { Vec::new() };
  // A vertex's list starts at `first[w]` and ends where the next one's starts; the loop
  // goes down from the last vertex, so once `first[w]` is read its slot is free, and from
  // then on it holds w's dominator: the DFS parent (semi-NCA), or with buckets its link in
  // its bucket until the bucket is emptied, then its dominator (or a provisional one). Each
  // vertex joins one bucket once, so the slot is free by then.
  let mut dom = first;
  let eval = |v: u32,
              linked: u32,
              ancestor: &mut [u32],
              label: &mut [u32],
              semi: &[u32],
              stack: &mut Vec<u32>|
   -> u32 {
    if v < linked {
      return v;
    }
    // compress(v), iteratively.
    let mut x = v;
    while ancestor[x as usize] >= linked {
      stack.push(x);
      x = ancestor[x as usize];
    }
    while let Some(w) = stack.pop() {
      let w = w as usize;
      let a = ancestor[w] as usize;
      if semi[label[a] as usize] < semi[label[w] as usize] {
        label[w] = label[a];
      }
      ancestor[w] = ancestor[a];
    }
    label[v as usize]
  };

  let mut end = dom[n as usize + 1];
  for w in (2..=n).rev() {
    if w % (1 << 20) == 0 {
      control.check()?;
    }
    let wi = w as usize;
    let start = dom[wi];
    for &u in &kept[start as usize..end as usize] {
      let x = eval(u, linked, &mut ancestor, &mut label, &semi, &mut stack);
      if semi[x as usize] < semi[wi] {
        semi[wi] = semi[x as usize];
      }
    }
    end = start;
    // The parent, before any compression can touch the slot: w is linked now.
    let p = ancestor[wi];
    if !buckets {
      dom[wi] = p;
      linked = w;
      continue;
    }
    let b = semi[wi] as usize;
    dom[wi] = bucket_head[b];
    bucket_head[b] = w;
    linked = w;
    let mut v = std::mem::take(&mut bucket_head[p as usize]);
    while v != 0 {
      let next = dom[v as usize];
      let u = eval(v, linked, &mut ancestor, &mut label, &semi, &mut stack);
      dom[v as usize] = if semi[u as usize] < semi[v as usize] {
        u
      } else {
        p
      };
      v = next;
    }
  }
  // A bucket is emptied when a child of its vertex is processed. Vertices that hang off the
  // root only because nothing reachable retains them (a cycle of objects holding each other)
  // can take a semidominator outside their own ancestry, whose bucket is then never emptied:
  // their slots still hold bucket links. As in DevTools, such a vertex has no dominator
  // computed (0), and the step below gives it the root's.
  if buckets {
    for head in &mut bucket_head[1..=n as usize] {
      let mut v = std::mem::take(head);
      while v != 0 {
        let next = dom[v as usize];
        dom[v as usize] = 0;
        v = next;
      }
    }
  }
  drop((stack, bucket_head, ancestor, label, kept));
  super::control::trace("dominators: semidominators");
  dom[0] = ROOT;
  dom[ROOT as usize] = ROOT;
  if buckets {
    for w in 2..=n as usize {
      if dom[w] != semi[w] {
        dom[w] = dom[dom[w] as usize];
      }
    }
  } else {
    // In increasing order: the candidates above a vertex are settled before it.
    for w in 2..=n as usize {
      let mut d = dom[w];
      while d > semi[w] {
        d = dom[d as usize];
      }
      dom[w] = d;
    }
  }
  // Back to node ordinals, in the semidominators' column.
  let mut idom = semi;
  for w in 1..=n as usize {
    // Never 0 after the step above (dom[0] is the root); a guard, not a case.
    if dom[w] == 0 {
      return Err(AnalysisError::new(
        super::error::Kind::Internal,
        "the dominator computation stopped on an inconsistent graph",
      ));
    }
    idom[vertex[w] as usize] = vertex[dom[w] as usize];
  }
  drop(dom);
  idom.truncate(count);
  let mut retained = s.self_size.clone();
  for w in (2..=n as usize).rev() {
    let o = vertex[w] as usize;
    let d = idom[o] as usize;
    retained.add(d, retained.get(o));
  }
  Ok(Dominators {
    idom,
    retained,
    unreachable,
  })
}

/// The dominator tree as child lists: `nodes[first[v]..first[v+1]]` are dominated by v.
#[derive(Default)]
pub struct DominatorTree {
  pub first: Vec<u32>,
  pub nodes: Vec<u32>,
}

impl DominatorTree {
  /// Each node's immediate dominator, read back from the child lists (the root is its own).
  #[cfg(test)]
  pub fn idom(&self) -> Vec<u32> {
    let mut idom: Vec<u32> = (0..self.first.len() as u32 - 1).collect();
    for v in 0..idom.len() {
      for &c in &self.nodes[self.first[v] as usize..self.first[v + 1] as usize] {
        idom[c as usize] = v as u32;
      }
    }
    idom
  }
}

pub fn dominator_tree(idom: &[u32], root: u32) -> DominatorTree {
  let n = idom.len();
  // As for the retainers: counts, running ends, then filled back to front.
  let mut first = vec![0u32; n + 1];
  for (v, &d) in idom.iter().enumerate() {
    if v as u32 != root {
      first[d as usize] += 1;
    }
  }
  let mut sum = 0u32;
  for f in first.iter_mut() {
    sum += *f;
    *f = sum;
  }
  let mut nodes = vec![0u32; sum as usize];
  for (v, &d) in idom.iter().enumerate().rev() {
    if v as u32 != root {
      first[d as usize] -= 1;
      nodes[first[d as usize] as usize] = v as u32;
    }
  }
  DominatorTree { first, nodes }
}

#[cfg(test)]
pub mod reference {
  //! The node-numbered Lengauer–Tarjan this module's preorder-numbered one replaced, kept to
  //! check the two agree on random graphs.
  use super::*;

  /// Lengauer–Tarjan with DevTools' treatment of unreachable nodes: nodes with only weak
  /// retainers are searched from as if the root held them; what is still unvisited hangs
  /// directly off the root.
  /// `retainers` is asked for only after the first depth-first search, so another thread can
  /// build it meanwhile.
  pub fn dominators(
    s: &Snapshot,
    essential: &Essential,
    retainers: impl FnOnce() -> Option<Retainers>,
    control: &Control,
  ) -> Result<Dominators, AnalysisError> {
    let count = s.node_count();
    let len = count + 1;
    // 1-based vertex numbers: v = ordinal + 1; 0 is "none".
    let mut parent = vec![0u32; len];
    let mut next_edge = vec![0u32; len];
    let mut vertex = vec![0u32; len];
    let mut label = vec![0u32; len];
    let mut semi = vec![0u32; len];
    let mut n: u32 = 0;
    let r = s.root + 1;

    let mut dfs = |root: u32,
                   parent: &mut Vec<u32>,
                   semi: &mut Vec<u32>,
                   vertex: &mut Vec<u32>,
                   label: &mut Vec<u32>,
                   n: &mut u32| {
      next_edge[(root - 1) as usize] = s.first_edge[(root - 1) as usize];
      let mut v = root;
      while v != 0 {
        if semi[v as usize] == 0 {
          *n += 1;
          semi[v as usize] = *n;
          vertex[*n as usize] = v;
          label[v as usize] = v;
        }
        let mut next = parent[v as usize];
        let vo = (v - 1) as usize;
        let end = s.first_edge[vo + 1];
        while next_edge[vo] < end {
          let e = next_edge[vo] as usize;
          next_edge[vo] += 1;
          if !essential.get(e) {
            continue;
          }
          let w = s.edge_to(e) + 1;
          if semi[w as usize] == 0 {
            parent[w as usize] = v;
            next_edge[(w - 1) as usize] = s.first_edge[(w - 1) as usize];
            next = w;
            break;
          }
        }
        v = next;
      }
    };

    dfs(r, &mut parent, &mut semi, &mut vertex, &mut label, &mut n);
    crate::control::trace("dominators: search");
    control.check()?;
    let retainers = retainers().ok_or_else(|| {
      AnalysisError::new(
        crate::error::Kind::Internal,
        "the retainer index was not built",
      )
    })?;
    let mut unreachable = 0u64;
    if (n as usize) < count {
      for v in 1..=count as u32 {
        let vo = (v - 1) as usize;
        let only_weak = retainers.first[vo] == retainers.first[vo + 1];
        if semi[v as usize] == 0 && only_weak {
          parent[v as usize] = r;
          dfs(v, &mut parent, &mut semi, &mut vertex, &mut label, &mut n);
        }
      }
    }
    if (n as usize) < count {
      for v in 1..=count as u32 {
        if semi[v as usize] == 0 {
          unreachable += 1;
          parent[v as usize] = r;
          n += 1;
          semi[v as usize] = n;
          vertex[n as usize] = v;
          label[v as usize] = v;
        }
      }
    }
    // The DFS cursor is not needed any more: reuse it as the forest's ancestor links.
    let mut ancestor = next_edge;
    ancestor.iter_mut().for_each(|a| *a = 0);
    // The path compress() walks: as deep as the forest gets, usually short.
    let mut stack: Vec<u32> = Vec::new();
    let mut bucket_head = vec![0u32; len];
    // A vertex's link in its bucket until the bucket is emptied, then its dominator (or
    // a provisional one): each vertex joins one bucket once, so the slot is free by then.
    let mut bucket_next = vec![0u32; len];

    let eval = |v: u32,
                ancestor: &mut [u32],
                label: &mut [u32],
                semi: &[u32],
                stack: &mut Vec<u32>|
     -> u32 {
      if ancestor[v as usize] == 0 {
        return v;
      }
      // compress(v), iteratively.
      let mut x = v;
      while ancestor[ancestor[x as usize] as usize] != 0 {
        stack.push(x);
        x = ancestor[x as usize];
      }
      while let Some(w) = stack.pop() {
        let w = w as usize;
        let a = ancestor[w] as usize;
        if semi[label[a] as usize] < semi[label[w] as usize] {
          label[w] = label[a];
        }
        ancestor[w] = ancestor[a];
      }
      label[v as usize]
    };

    for i in (2..=n).rev() {
      if i % (1 << 20) == 0 {
        control.check()?;
      }
      let w = vertex[i as usize];
      let wo = (w - 1) as usize;
      let preds = retainers.first[wo] as usize..retainers.first[wo + 1] as usize;
      if preds.is_empty() {
        semi[w as usize] = semi[r as usize];
      }
      for &vo in &retainers.nodes[preds] {
        let u = eval(vo + 1, &mut ancestor, &mut label, &semi, &mut stack);
        if semi[u as usize] < semi[w as usize] {
          semi[w as usize] = semi[u as usize];
        }
      }
      let b = vertex[semi[w as usize] as usize] as usize;
      bucket_next[w as usize] = bucket_head[b];
      bucket_head[b] = w;
      let p = parent[w as usize];
      ancestor[w as usize] = p;
      let mut v = std::mem::take(&mut bucket_head[p as usize]);
      while v != 0 {
        let next = bucket_next[v as usize];
        let u = eval(v, &mut ancestor, &mut label, &semi, &mut stack);
        bucket_next[v as usize] = if semi[u as usize] < semi[v as usize] {
          u
        } else {
          p
        };
        v = next;
      }
    }
    drop((stack, bucket_head, ancestor, label, parent, retainers));
    let mut dom = bucket_next;
    crate::control::trace("dominators: semidominators");
    dom[0] = r;
    dom[r as usize] = r;
    for i in 2..=n {
      let w = vertex[i as usize] as usize;
      if dom[w] != vertex[semi[w] as usize] {
        dom[w] = dom[dom[w] as usize];
      }
    }
    drop(semi);
    // 1-based vertices to ordinals, in place: the column becomes `idom`.
    let mut idom = dom;
    idom.remove(0);
    idom.iter_mut().for_each(|d| *d -= 1);
    let mut retained: Vec<u64> = s.self_size.iter().collect();
    for i in (2..=n).rev() {
      let o = (vertex[i as usize] - 1) as usize;
      let d = idom[o] as usize;
      retained[d] += retained[o];
    }
    let wide = {
      let mut r = s.self_size.clone();
      for (i, &v) in retained.iter().enumerate() {
        r.set(i, v);
      }
      r
    };
    Ok(Dominators {
      idom,
      retained: wide,
      unreachable,
    })
  }
}
