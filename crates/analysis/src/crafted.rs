//! Crafted snapshots that used to cost far more than their size: long names shared by
//! index (WeakMap edge names, `<tag …>` names, property names) and many plain objects ×
//! many properties × many interface definitions. The bound is on the work counter
//! (`Control::work`: loop steps and string bytes touched), not on time.

use super::control::Control;
use super::report::Limits;

const NODE_TYPES: &str = r#"["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"]"#;
const EDGE_TYPES: &str =
  r#"["context","element","property","internal","hidden","shortcut","weak"]"#;
const FIELDS: usize = 7;

/// A snapshot builder: nodes `(type, name, self_size)`, edges added to the last node.
#[derive(Default)]
pub struct Builder {
  strings: Vec<String>,
  nodes: Vec<(usize, usize, u64, usize)>,
  edges: Vec<(usize, usize, usize)>,
  /// (node, script, line, column)
  locations: Vec<(usize, u32, u32, u32)>,
}

pub fn node_type(name: &str) -> usize {
  let types: Vec<String> = serde_json::from_str(NODE_TYPES).unwrap();
  types.iter().position(|t| t == name).unwrap()
}

pub fn edge_type(name: &str) -> usize {
  let types: Vec<String> = serde_json::from_str(EDGE_TYPES).unwrap();
  types.iter().position(|t| t == name).unwrap()
}

impl Builder {
  /// The index of a string, added once.
  pub fn string(&mut self, s: &str) -> usize {
    self.strings.push(s.to_string());
    self.strings.len() - 1
  }

  /// The strings table so far.
  pub fn strings_for_test(&self) -> &[String] {
    &self.strings
  }

  /// Adds a node; returns its ordinal.
  pub fn node(&mut self, ty: &str, name: usize, self_size: u64) -> usize {
    self.nodes.push((node_type(ty), name, self_size, 0));
    self.nodes.len() - 1
  }

  /// Adds an edge from `from`, which must be the last node that has edges so far.
  pub fn edge(&mut self, from: usize, ty: &str, name: usize, to: usize) {
    self.nodes[from].3 += 1;
    self.edges.push((edge_type(ty), name, to));
  }

  /// The `.heapsnapshot` text. Edges must have been added in node order.
  pub fn json(&self) -> String {
    let mut out = format!(
      r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{NODE_TYPES},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{EDGE_TYPES},"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{},"edge_count":{}}},"nodes":["#,
      self.nodes.len(),
      self.edges.len()
    );
    for (i, n) in self.nodes.iter().enumerate() {
      if i > 0 {
        out.push(',');
      }
      out.push_str(&format!(
        "{},{},{},{},{},0,0",
        n.0,
        n.1,
        2 * i + 1,
        n.2,
        n.3
      ));
    }
    out.push_str("],\"edges\":[");
    for (i, e) in self.edges.iter().enumerate() {
      if i > 0 {
        out.push(',');
      }
      out.push_str(&format!("{},{},{}", e.0, e.1, e.2 * FIELDS));
    }
    out.push_str("],\"locations\":[");
    for (i, l) in self.locations.iter().enumerate() {
      if i > 0 {
        out.push(',');
      }
      out.push_str(&format!("{},{},{},{}", l.0 * FIELDS, l.1, l.2, l.3));
    }
    out.push_str("],\"strings\":");
    out.push_str(&serde_json::to_string(&self.strings).unwrap());
    out.push('}');
    out
  }
}

fn limits() -> Limits {
  Limits {
    classes: 20,
    paths: 5,
    largest: 5,
    groups: 5,
  }
}

/// Analyses `text` from a temporary file; returns the work counted and the file's size.
fn work_of(name: &str, text: &str) -> (u64, u64) {
  // A directory per case: the cases run on parallel threads, each removes its own.
  let dir = std::env::temp_dir().join(format!("leakwatch-crafted-{}-{name}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let path = dir.join(name);
  std::fs::write(&path, text).unwrap();
  let control = Control::default();
  let report = super::analyze(path.to_str().unwrap(), &limits(), &control).unwrap();
  assert!(report.summary.node_count > 0);
  let _ = std::fs::remove_dir_all(&dir);
  (control.work(), text.len() as u64)
}

/// Work may be at most this many units per byte of input, plus a constant.
const WORK_PER_BYTE: u64 = 16;

fn assert_linear(name: &str, text: &str) {
  let (work, bytes) = work_of(name, text);
  eprintln!("{name}: {work} units of work for {bytes} bytes");
  assert!(
    work <= WORK_PER_BYTE * bytes + 1_000_000,
    "{name}: {work} units of work for {bytes} bytes ({} per byte)",
    work / bytes.max(1)
  );
}

/// 2,000 WeakMap-style internal edges, 2,000 `<tag …>` objects and 2,000 plain objects
/// whose one property has a 256 KiB name: each long name is a single string in the table.
#[test]
fn long_names_shared_by_index_cost_linear_work() {
  const N: usize = 2000;
  const LONG: usize = 256 << 10;
  let mut b = Builder::default();
  let empty = b.string("");
  let weak = b.string(&format!(
    "1 / part of key ({} @1) -> value (V @2) pair in WeakMap (table @3)",
    "k".repeat(LONG)
  ));
  let tag = b.string(&format!("<{} x>", "d".repeat(LONG)));
  let object = b.string("Object");
  let property = b.string(&"p".repeat(LONG));
  let hub_name = b.string("Hub");
  let leaf_name = b.string("leaf");
  let root = b.node("synthetic", empty, 0);
  let hub = b.node("object", hub_name, 16);
  let leaf = b.node("hidden", leaf_name, 8);
  let tags: Vec<usize> = (0..N).map(|_| b.node("object", tag, 16)).collect();
  let objects: Vec<usize> = (0..N).map(|_| b.node("object", object, 16)).collect();
  b.edge(root, "element", 1, hub);
  for &t in &tags {
    b.edge(hub, "internal", weak, t);
  }
  for &o in &objects {
    b.edge(hub, "element", 1, o);
  }
  for &o in &objects {
    b.edge(o, "property", property, leaf);
  }
  assert_linear("long-names.heapsnapshot", &b.json());
}

/// 496 interface definitions (every pair of 32 property names, 8 objects each) and 4,000
/// plain objects that hold 28 of the 32 properties, most of them a different 28.
#[test]
fn many_objects_properties_and_interfaces_cost_linear_work() {
  const NAMES: usize = 32;
  const PER_PAIR: usize = 8;
  const BIG: usize = 4000;
  let mut b = Builder::default();
  let empty = b.string("");
  let object = b.string("Object");
  let leaf_name = b.string("leaf");
  let props: Vec<usize> = (0..NAMES).map(|i| b.string(&format!("p{i:02}"))).collect();
  let root = b.node("synthetic", empty, 0);
  let leaf = b.node("hidden", leaf_name, 8);
  let mut shapes: Vec<Vec<usize>> = Vec::new();
  for i in 0..NAMES {
    for j in i + 1..NAMES {
      for _ in 0..PER_PAIR {
        shapes.push(vec![props[i], props[j]]);
      }
    }
  }
  let mut seed = 12345u64;
  for _ in 0..BIG {
    let mut shape = props.clone();
    for _ in 0..4 {
      seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
      shape.remove((seed >> 33) as usize % shape.len());
    }
    shapes.push(shape);
  }
  let objects: Vec<usize> = shapes
    .iter()
    .map(|_| b.node("object", object, 16))
    .collect();
  for &o in &objects {
    b.edge(root, "element", 1, o);
  }
  for (o, shape) in objects.iter().zip(&shapes) {
    for &p in shape {
      b.edge(*o, "property", p, leaf);
    }
  }
  assert_linear("interfaces.heapsnapshot", &b.json());
}

/// 4,000 objects of one class whose name is 256 KiB long, each allocated at its own
/// location: 4,000 located classes sharing one name (DevTools' keys "script,line,column,Name").
#[test]
fn located_classes_sharing_a_long_name_cost_linear_work() {
  const N: usize = 4000;
  let mut b = Builder::default();
  let empty = b.string("");
  let name = b.string(&format!("C{}", "x".repeat(256 << 10)));
  let root = b.node("synthetic", empty, 0);
  let objects: Vec<usize> = (0..N).map(|_| b.node("object", name, 16)).collect();
  for &o in &objects {
    b.edge(root, "element", 1, o);
  }
  for (i, &o) in objects.iter().enumerate() {
    b.locations.push((o, 1, i as u32, 0));
  }
  assert_linear("located.heapsnapshot", &b.json());
}
