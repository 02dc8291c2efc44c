//! DevTools' pipeline over one parsed snapshot: DOM state; page-owned flags and retaining
//! edges on one thread beside shallow sizes on another; dominators and retained sizes; class
//! names, class aggregates and their retained sizes; distances last. Ordered so that no two
//! big working sets are alive at once.

use super::classes::{self, Classes};
use super::control::{trace, Control, Phase};
use super::distances::{self, Distances};
use super::dominators::{self, DominatorTree, Dominators, WeakMapNames};
use super::error::AnalysisError;
use super::flags;
use super::names::{self, ClassNames, InterfaceDefinition};
use super::parse::Snapshot;
use super::types::Types;

pub struct Graph {
  pub s: Snapshot,
  pub t: Types,
  pub names: ClassNames,
  pub interfaces: Vec<InterfaceDefinition>,
  pub classes: Classes,
  /// Present when the graph was built with `Depth::Report` or `Depth::Full`.
  pub full: Option<Full>,
}

pub struct Full {
  pub dominators: Dominators,
  /// Empty with `Depth::Report`.
  pub tree: DominatorTree,
  pub distances: Distances,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
  /// Class names, counts and self sizes: enough to be the "before" side of a diff.
  Classes,
  /// Also dominators, retained sizes, distances and retainer paths; the dominator tree is
  /// freed once the classes' retained sizes are taken (`analyze` reports nothing else from
  /// it, nor do a diff's earlier snapshots).
  Report,
  /// As `Report`, keeping the dominator tree (a diff's last snapshot: what grew, grouped).
  Full,
}

/// `interfaces`: the plain-object groups to use instead of this snapshot's own (a diff's
/// earlier snapshots take the last one's, so classes line up as in DevTools).
pub fn build(
  mut s: Snapshot,
  depth: Depth,
  interfaces: Option<&[InterfaceDefinition]>,
  control: &Control,
) -> Result<Graph, AnalysisError> {
  control.enter(Phase::Graph)?;
  let t = Types::of(&s);
  flags::propagate_dom_state(&mut s, &t)?;
  // Only the propagation reads the attachment states.
  s.detachedness = Vec::new();
  let mut weak_names = WeakMapNames::new(s.strings.len());
  let mut locations = std::mem::take(&mut s.locations);
  // Retaining edges on another thread, shallow sizes and the location index on this one:
  // both only read the graph. Memory a thread frees stays in that thread's malloc arena,
  // where malloc_trim does not reach the top of its heap: the owners, the big transient
  // column, are allocated and freed on this thread, whose later columns reuse them.
  let (essential, shallow) = std::thread::scope(|scope| {
    let essential = (depth != Depth::Classes).then(|| {
      scope.spawn(|| {
        let page = flags::page_owned(&s, &t);
        dominators::essential_edges(&s, &t, &page, &mut weak_names)
      })
    });
    classes::index_locations(&mut locations);
    let shallow = flags::shallow_owners(&s, &t);
    (essential.map(|h| h.join()), shallow)
  });
  let essential = match essential {
    Some(Ok(e)) => Some(e),
    Some(Err(_)) => return Err(internal()),
    None => None,
  };
  s.locations = locations;
  if let Some(owners) = shallow {
    flags::apply_shallow_sizes(&mut s, &t, &owners);
  }
  // The owners and page flags go back before the dominators' columns are made: measured, the
  // freed memory otherwise stays under their peak with two threads' arenas.
  control.release_freed();
  trace("shallow sizes");
  control.check()?;
  // The dominators and their tree first, alone: no other column is beside their working
  // set (the class names' would be, had they come first; a second thread here would add
  // its own). Then the class names, the class aggregates and their retained sizes, and the
  // distances last.
  let structure = essential
    .map(|essential| -> Result<_, AnalysisError> {
      control.enter(Phase::Dominators)?;
      let mut doms = dominators::dominators(&s, &essential, control)?;
      drop(essential);
      trace("dominators");
      let tree = dominators::dominator_tree(&doms.idom, s.root);
      // The tree says the same: no second copy kept.
      doms.idom = Vec::new();
      trace("dominator tree");
      Ok((doms, tree))
    })
    .transpose()?;
  let class_passes = |structure: Option<&(Dominators, DominatorTree)>| {
    control.enter(Phase::Classes)?;
    let mut class_names = names::class_names(&s, &t, control)?;
    let interfaces = match interfaces {
      Some(given) => given.to_vec(),
      None => names::infer_interfaces(&s, &t, control)?,
    };
    names::apply_interfaces(&s, &t, &interfaces, &mut class_names, control)?;
    trace("class names");
    let mut aggregates = classes::aggregate(
      &s,
      &t,
      &class_names.class,
      class_names.added.limit(),
      &s.locations,
    );
    trace("aggregates");
    if let Some((dominators, tree)) = structure {
      classes::retained_sizes(
        &mut aggregates,
        tree,
        &dominators.retained,
        &s.self_size,
        s.root,
      );
      trace("class retained sizes");
    }
    Ok::<_, AnalysisError>((class_names, interfaces, aggregates))
  };
  // With the dominator tree kept (a diff's last snapshot, whose peak comes later, in the
  // comparison) and a second core, the distances run beside the class passes, into a
  // column of their own; otherwise after them, once the tree is freed, each node's
  // distance going straight to its class.
  let beside = depth == Depth::Full && structure.is_some() && super::threads::workers() > 1;
  let mut structure = structure;
  let (names, interfaces, aggregates, distances) = if beside {
    let (classes, distances) = std::thread::scope(|scope| {
      let distances = scope.spawn(|| {
        let mut distance = vec![distances::NO_DISTANCE; s.node_count()];
        let d = distances::distances(&s, &t, &mut weak_names, control, |v, d| {
          distance[v as usize] = d
        });
        d.map(|d| (d, distance))
      });
      let classes = class_passes(structure.as_ref());
      (
        classes,
        distances.join().unwrap_or_else(|_| Err(internal())),
      )
    });
    let (names, interfaces, mut aggregates) = classes?;
    let (distances, distance) = distances?;
    for (v, &d) in distance.iter().enumerate() {
      aggregates.take_distance(v as u32, d);
    }
    trace("distances");
    (names, interfaces, aggregates, Some(distances))
  } else {
    let (names, interfaces, mut aggregates) = class_passes(structure.as_ref())?;
    let distances = match structure.as_mut() {
      Some((_, tree)) => {
        if depth == Depth::Report {
          *tree = DominatorTree::default();
        }
        let distances = distances::distances(&s, &t, &mut weak_names, control, |v, d| {
          aggregates.take_distance(v, d)
        })?;
        aggregates.take_unreached(|v| distances.reached(v));
        trace("distances");
        Some(distances)
      }
      None => None,
    };
    (names, interfaces, aggregates, distances)
  };
  let full = match (structure, distances) {
    (Some((dominators, tree)), Some(distances)) => Some(Full {
      dominators,
      tree,
      distances,
    }),
    _ => None,
  };
  control.add_work(weak_names.bytes_parsed);
  control.check()?;
  Ok(Graph {
    s,
    t,
    names,
    interfaces,
    classes: aggregates,
    full,
  })
}

/// The plain-object groups `build` infers when given none, from a snapshot not built yet.
pub fn interfaces(
  s: &Snapshot,
  control: &Control,
) -> Result<Vec<InterfaceDefinition>, AnalysisError> {
  names::infer_interfaces(s, &Types::of(s), control)
}

fn internal() -> AnalysisError {
  AnalysisError::new(
    super::error::Kind::Internal,
    "the dominator computation stopped on an inconsistent graph",
  )
}

impl Graph {
  /// Frees the edge columns of a graph kept only for its nodes and classes (a diff's first
  /// snapshot, once its summary is taken); the node offsets into them stay.
  pub fn drop_edges(&mut self) {
    self.s.edge_name = Vec::new();
    self.s.edge_targets = Default::default();
  }

  /// The class name of an aggregate (for tests; reports take it from `PublicKey`).
  #[cfg(test)]
  pub fn class_name(&self, key: classes::ClassKey) -> String {
    match key {
      classes::ClassKey::Name(c) | classes::ClassKey::Located { name: c, .. } => {
        self.names.added.text(&self.s, c).into_owned()
      }
    }
  }

  /// Total size as DevTools reports it: the root's retained size plus native bytes V8
  /// reports outside the graph.
  pub fn total_size(&self) -> u64 {
    let graph = match &self.full {
      Some(f) => f.dominators.retained.get(self.s.root as usize),
      None => self.s.self_size.iter().sum(),
    };
    graph + self.s.meta.extra_native_bytes
  }
}
