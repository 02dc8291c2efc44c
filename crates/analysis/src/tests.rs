//! Whole-pipeline tests: the corpus of corrupt snapshots kept in the repository, and small
//! graphs whose dominators, retained sizes and classes are known.

use super::control::Control;
use super::error::Kind;
use super::graph::{build, Depth, Graph};
use super::parse::parse;

fn corpus_dir() -> std::path::PathBuf {
  std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/snapshots")
}

#[test]
fn corpus_files_give_the_kind_in_their_name() {
  let mut seen = 0;
  for entry in std::fs::read_dir(corpus_dir()).unwrap() {
    let path = entry.unwrap().path();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let expected = match name.split('-').next().unwrap() {
      "ok" => None,
      "empty" => Some(Kind::Empty),
      "truncated" => Some(Kind::Truncated),
      "syntax" => Some(Kind::Syntax),
      "meta" => Some(Kind::Meta),
      "range" => Some(Kind::Range),
      other => panic!("corpus file {name}: unknown kind {other}"),
    };
    let control = Control::default();
    let result = super::analyze(path.to_str().unwrap(), &limits(), &control);
    match (expected, result) {
      (None, Ok(report)) => assert!(report.summary.node_count > 0, "{name}"),
      (Some(kind), Err(e)) => assert_eq!(e.kind, kind, "{name}: {e}"),
      (None, Err(e)) => panic!("{name} should parse: {e}"),
      (Some(kind), Ok(_)) => panic!("{name} should fail with {kind:?}"),
    }
    seen += 1;
  }
  assert!(seen >= 20, "corpus has {seen} files");
}

fn limits() -> super::report::Limits {
  super::report::Limits {
    classes: usize::MAX,
    paths: 5,
    largest: 5,
    groups: 5,
  }
}

/// A snapshot from a list of nodes `(type, name, self_size)` and edges `(from, type, name, to)`.
/// Node 0 is the root; node `i` gets the id `2i + 1`.
fn graph(nodes: &[(&str, &str, u64)], edges: &[(usize, &str, &str, usize)]) -> Graph {
  let with_ids: Vec<(&str, &str, u32, u64)> = nodes
    .iter()
    .enumerate()
    .map(|(i, &(t, name, size))| (t, name, 2 * i as u32 + 1, size))
    .collect();
  let text = super::growing_tests::snapshot(&with_ids, edges);
  let s = parse(text.as_bytes(), text.len() as u64).unwrap();
  build(s, Depth::Full, None, &Control::default()).unwrap()
}

fn full(g: &Graph) -> &super::graph::Full {
  g.full.as_ref().unwrap()
}

#[test]
fn self_sizes_of_4_gib_and_more_are_kept_whole() {
  // An ArrayBuffer's backing store of 5 GB (V8 writes self_size as a size_t).
  let big = 5_000_000_000u64;
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "ArrayBuffer", 40),
      ("native", "system / JSArrayBufferData", big),
    ],
    &[
      (0, "shortcut", "global", 1),
      (1, "internal", "backing_store", 2),
    ],
  );
  assert_eq!(g.s.self_size.get(2), big);
  assert_eq!(full(&g).dominators.retained.get(1), 40 + big);
  assert_eq!(g.total_size(), 40 + big);
}

#[test]
fn diamond_dominators_and_retained_sizes() {
  // root -shortcut-> G; G -> A, G -> B; A -> C, B -> C; C -> D.
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "G", 10),
      ("object", "A", 20),
      ("object", "B", 30),
      ("object", "C", 40),
      ("object", "D", 50),
    ],
    &[
      (0, "shortcut", "global", 1),
      (1, "property", "a", 2),
      (1, "property", "b", 3),
      (2, "property", "c", 4),
      (3, "property", "c", 4),
      (4, "property", "d", 5),
    ],
  );
  let f = full(&g);
  assert_eq!(f.tree.idom(), vec![0, 0, 1, 1, 1, 4]);
  assert_eq!(
    f.dominators.retained.iter().collect::<Vec<_>>(),
    [150, 150, 20, 30, 90, 50]
  );
  // D is four steps from the root; only whether a node was reached is kept after the
  // class aggregates took the distances.
  let d = g
    .classes
    .aggregates
    .iter()
    .find(|a| a.nodes == [5])
    .unwrap();
  assert_eq!(d.distance, 4);
  assert!(f.distances.reached(5));
}

#[test]
fn weak_edges_retain_nothing() {
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "G", 10),
      ("object", "Cached", 100),
    ],
    &[(0, "shortcut", "global", 1), (1, "weak", "ref", 2)],
  );
  let f = full(&g);
  // Only weakly held: it hangs off the root, not off G.
  assert_eq!(f.tree.idom()[2], 0);
  assert_eq!(f.dominators.retained.get(1), 10);
  assert_eq!(f.dominators.retained.get(0), 110);
}

#[test]
fn arrays_owned_by_one_object_count_in_its_self_size() {
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "G", 10),
      ("object", "List", 16),
      ("array", "(object elements)", 1000),
    ],
    &[
      (0, "shortcut", "global", 1),
      (1, "property", "list", 2),
      (2, "internal", "elements", 3),
    ],
  );
  assert_eq!(g.s.self_size.get(2), 1016);
  assert_eq!(g.s.self_size.get(3), 0);
}

#[test]
fn weakmap_values_are_retained_by_the_key_not_the_table() {
  let edge = "1 / part of key (Key @5) -> value (Value @7) pair in WeakMap (table @3)";
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "G", 10),
      ("array", "(table)", 10),
      ("object", "Key", 10),
      ("object", "Value", 10),
    ],
    &[
      (0, "shortcut", "global", 1),
      (1, "property", "map", 2),
      (1, "property", "key", 3),
      (2, "internal", edge, 4),
      (3, "internal", edge, 4),
    ],
  );
  // The name points at table @3, which is not node 2 (ids are 2i+1: node 2 is @5), so
  // both edges retain and the value's dominator is G.
  assert_eq!(full(&g).tree.idom()[4], 1);
  let edge_named_table = "1 / part of key (Key @7) -> value (Value @9) pair in WeakMap (table @5)";
  let g = graph(
    &[
      ("synthetic", "", 0),
      ("object", "G", 10),
      ("array", "(table)", 10),
      ("object", "Key", 10),
      ("object", "Value", 10),
    ],
    &[
      (0, "shortcut", "global", 1),
      (1, "property", "map", 2),
      (1, "property", "key", 3),
      (2, "internal", edge_named_table, 4),
      (3, "internal", edge_named_table, 4),
    ],
  );
  assert_eq!(full(&g).tree.idom()[4], 3, "the key dominates the value");
}

#[test]
fn a_long_chain_needs_no_recursion() {
  let n = 200_000;
  let mut nodes = vec![("synthetic", "", 0u64), ("object", "G", 8)];
  let mut edges = vec![(0usize, "shortcut", "global", 1usize)];
  for i in 0..n {
    nodes.push(("object", "Link", 16));
    edges.push((1 + i, "property", "next", 2 + i));
  }
  let g = graph(&nodes, &edges);
  let f = full(&g);
  assert_eq!(f.dominators.retained.get(1), 8 + 16 * n as u64);
  assert_eq!(f.tree.idom()[n + 1], n as u32);
  let link = g
    .classes
    .aggregates
    .iter()
    .find(|a| g.class_name(a.key.unwrap()) == "Link")
    .unwrap();
  assert_eq!(link.count, n as u64);
  assert_eq!(link.retained_size, 16 * n as u64);
  let path = super::paths::retainer_path(&g, (n + 1) as u32);
  assert!(path.truncated);
  assert_eq!(path.steps.len(), super::paths::MAX_STEPS);
}

#[test]
fn bytes_entries_agree_with_the_file_entry() {
  let mut seen = 0;
  for entry in std::fs::read_dir(corpus_dir()).unwrap() {
    let path = entry.unwrap().path();
    let bytes = std::fs::read(&path).unwrap();
    let from_file = super::analyze(path.to_str().unwrap(), &limits(), &Control::default());
    let from_bytes = super::analyze_bytes(&bytes, &limits(), &Control::default());
    match (from_file, from_bytes) {
      (Ok(a), Ok(b)) => {
        assert_eq!(a.summary.node_count, b.summary.node_count);
        assert_eq!(a.classes.len(), b.classes.len());
        assert!(super::parse_bytes(&bytes).is_ok());
      }
      (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "{}", path.display()),
      (a, b) => panic!("{}: {:?} vs {:?}", path.display(), a.is_ok(), b.is_ok()),
    }
    seen += 1;
  }
  assert!(seen > 0);
}

/// A root holding `n` objects by distinct property names in one object; returns the graph
/// and the ordinals of the held objects.
fn keyed(n: usize) -> (Graph, Vec<u32>) {
  let names: Vec<String> = (0..n).map(|i| format!("/orders/{i}")).collect();
  let mut nodes = vec![("synthetic", "", 0), ("object", "Cache", 10)];
  let mut edges = vec![(0, "element", "1", 1)];
  for name in &names {
    nodes.push(("object", "Entry", 20));
    edges.push((1, "property", name.as_str(), nodes.len() - 1));
  }
  let held = (2..nodes.len() as u32).collect();
  (graph(&nodes, &edges), held)
}

#[test]
fn values_of_an_object_used_as_a_dictionary_share_one_shape() {
  use super::paths::{Shapes, DICTIONARY_PROPERTIES};
  // Past the threshold the names are data: every value is held the same way.
  let (g, held) = keyed(DICTIONARY_PROPERTIES + 1);
  let mut shapes = Shapes::new(&g);
  let first = shapes.of(&g, held[0]);
  assert!(held.iter().all(|&v| shapes.of(&g, v) == first));
  // An object with few properties keeps them apart: `a.x` and `a.y` are different paths.
  let (g, held) = keyed(DICTIONARY_PROPERTIES);
  let mut shapes = Shapes::new(&g);
  let first = shapes.of(&g, held[0]);
  assert!(held[1..].iter().all(|&v| shapes.of(&g, v) != first));
}

/// The preorder-numbered dominators agree with the node-numbered ones they replaced, on
/// random graphs with weak edges, shortcut edges, nodes held only weakly and cycles nothing
/// reaches (the two odd cases DevTools' treatment adds to Lengauer–Tarjan).
#[test]
fn preorder_dominators_agree_with_the_node_numbered_ones() {
  use super::dominators::{self, WeakMapNames};
  let mut seed = 0x9e37_79b9_7f4a_7c15u64;
  let mut next = move |bound: usize| {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    (seed % bound as u64) as usize
  };
  let mut compared = 0;
  let mut unreachable = 0;
  let mut settled = 0;
  for round in 0..300 {
    let count = 2 + next(40);
    let mut nodes = vec![("synthetic", "", 0u64)];
    for i in 1..count {
      nodes.push(("object", "N", 1 + (i as u64 % 7)));
    }
    let mut edges = Vec::new();
    let per = next(4);
    for from in 0..count {
      for _ in 0..next(per + 2) {
        let kind = match next(10) {
          0 => "weak",
          1 if from == 0 => "shortcut",
          _ => "property",
        };
        edges.push((from, kind, "p", next(count)));
      }
    }
    // Cycles nothing retains: the last few nodes point at each other only.
    if count > 8 && round % 2 == 0 {
      let size = 2 + next(4);
      let cycle: Vec<usize> = (count - size..count).collect();
      edges.retain(|e| !cycle.contains(&e.3) || cycle.contains(&e.0));
      for (i, &a) in cycle.iter().enumerate() {
        edges.push((a, "property", "p", cycle[(i + 1 + next(size - 1)) % size]));
      }
    }
    edges.sort_by_key(|e| e.0);
    let with_ids: Vec<(&str, &str, u32, u64)> = nodes
      .iter()
      .enumerate()
      .map(|(i, &(t, name, size))| (t, name, 2 * i as u32 + 1, size))
      .collect();
    let text = super::growing_tests::snapshot(&with_ids, &edges);
    let s = parse(text.as_bytes(), text.len() as u64).unwrap();
    let t = super::types::Types::of(&s);
    let page = super::flags::page_owned(&s, &t);
    let mut names = WeakMapNames::new(s.strings.len());
    let essential = dominators::essential_edges(&s, &t, &page, &mut names);
    let control = Control::default();
    let new = dominators::dominators(&s, &essential, &control);
    // The old version panicked on cycles nothing retains; the new one settles them as
    // DevTools does (compared with DevTools' own code in __test__/analysis.test.js).
    let old = std::panic::catch_unwind(|| {
      dominators::reference::dominators(
        &s,
        &essential,
        || Some(dominators::essential_retainers(&s, &essential)),
        &control,
      )
      .unwrap()
    });
    let (new, old) = match (new, old) {
      (Ok(new), Ok(old)) => (new, old),
      (Ok(new), Err(_)) => {
        // Every node has a dominator, and the root retains everything.
        assert!(
          new.idom.iter().all(|&d| (d as usize) < count),
          "round {round}"
        );
        let total: u64 = (0..count).map(|v| s.self_size.get(v)).sum();
        assert_eq!(new.retained.get(s.root as usize), total, "round {round}");
        settled += 1;
        continue;
      }
      (new, old) => panic!(
        "round {round}: new {:?}, old finished: {}",
        new.err(),
        old.is_ok()
      ),
    };
    compared += 1;
    if new.unreachable > 0 {
      unreachable += 1;
    }
    assert_eq!(new.idom, old.idom, "round {round}: {edges:?}");
    assert!(new.retained.iter().eq(old.retained.iter()), "round {round}");
    assert_eq!(new.unreachable, old.unreachable, "round {round}");
  }
  assert!(
    compared > 150 && settled > 10,
    "{compared} graphs compared ({unreachable} with unreachable nodes), {settled} settled where the old version panicked"
  );
}

/// A snapshot declaring more edge types than fit beside a target in one word keeps them in a
/// column of their own, with the same results.
#[test]
fn edge_types_kept_apart_give_the_same_report() {
  let nodes: Vec<(&str, &str, u32, u64)> = vec![
    ("synthetic", "", 1, 0),
    ("object", "G", 3, 10),
    ("object", "A", 5, 20),
    ("object", "B", 7, 30),
    ("closure", "f", 9, 40),
    ("array", "", 11, 50),
    ("object", "Object", 13, 60),
  ];
  let edges = [
    (0, "shortcut", "global", 1),
    (0, "element", "1", 3),
    (1, "property", "a", 2),
    (1, "property", "b", 3),
    (2, "internal", "c", 4),
    (3, "weak", "w", 2),
    (3, "hidden", "2", 5),
    (4, "context", "x", 6),
    (5, "element", "0", 6),
  ];
  let text = super::growing_tests::snapshot(&nodes, &edges);
  let extra: Vec<String> = (0..12).map(|i| format!("\"x{i}\"")).collect();
  let apart = text.replacen("\"weak\"]", &format!("\"weak\", {}]", extra.join(", ")), 1);
  assert_ne!(apart, text);
  let report = |t: &str| {
    let mut r = super::analyze_bytes(t.as_bytes(), &limits(), &Control::default()).unwrap();
    // The longer header is the one difference.
    r.summary.file_bytes = 0;
    serde_json::to_string(&r).unwrap()
  };
  let s = parse(apart.as_bytes(), apart.len() as u64).unwrap();
  assert_eq!(
    s.edge_type(5),
    s.meta.edge_types.iter().position(|t| t == "weak").unwrap() as u8
  );
  assert_eq!(report(&apart), report(&text));
}
