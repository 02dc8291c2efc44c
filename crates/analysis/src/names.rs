//! Class names as DevTools shows them in the Summary view: the constructor name for objects
//! and native nodes, "(system)", "(compiled code)", "Function", "RegExp", `"(<type>)"` for the
//! rest, and for plain `Object`s the most common property sets ("{id, name}").

use std::cmp::Ordering;
use std::collections::HashMap;

use super::error::AnalysisError;
use super::parse::{Snapshot, Strings};
use super::types::Types;

const MIN_INTERFACE_PROPERTY_COUNT: usize = 1;
const MAX_INTERFACE_NAME_LENGTH: usize = 120;
const MIN_OBJECT_COUNT_PER_INTERFACE: usize = 2;
const MIN_OBJECT_PROPORTION_PER_INTERFACE: usize = 1000;

/// Strings DevTools adds to the snapshot's table ("(system)", "{id, name}", …), kept apart
/// so the snapshot stays read-only and can be shared between threads. Indices continue
/// after the snapshot's own; they are deduplicated among the added ones only, as in DevTools
/// (an added "Function" is a different class from a constructor named "Function").
pub struct Added {
  base: u32,
  strings: Strings,
  index: HashMap<Vec<u8>, u32>,
}

impl Added {
  pub fn new(s: &Snapshot) -> Self {
    Added {
      base: s.strings.len() as u32,
      strings: Strings::default(),
      index: HashMap::new(),
    }
  }

  pub fn get(&mut self, text: &[u8]) -> Result<u32, AnalysisError> {
    if let Some(&i) = self.index.get(text) {
      return Ok(i);
    }
    let i = self.base + self.strings.push(text)?;
    self.index.insert(text.to_vec(), i);
    Ok(i)
  }

  /// The text of a class index, whether the snapshot's or an added one.
  pub fn text<'a>(&'a self, s: &'a Snapshot, i: u32) -> std::borrow::Cow<'a, str> {
    if i < self.base {
      s.strings.get(i)
    } else {
      self.strings.get(i - self.base)
    }
  }

  /// Number of class indices in use (the snapshot's strings plus the added ones).
  pub fn limit(&self) -> usize {
    self.base as usize + self.strings.len()
  }
}

/// Every node's class (a string index, see `Added`).
pub struct ClassNames {
  pub class: Vec<u32>,
  pub added: Added,
}

/// The class (a string index) of every node before plain objects are split by shape.
pub fn class_names(s: &Snapshot, t: &Types) -> Result<ClassNames, AnalysisError> {
  let mut added = Added::new(s);
  let system = added.get(b"(system)")?;
  let code = added.get(b"(compiled code)")?;
  let function = added.get(b"Function")?;
  let regexp = added.get(b"RegExp")?;
  let mut by_type: Vec<Option<u32>> = vec![None; s.meta.node_types.len()];
  let mut class = Vec::with_capacity(s.node_count());
  for i in 0..s.node_count() {
    let ty = s.node_type[i];
    let c = if ty == t.hidden {
      system
    } else if ty == t.object || ty == t.native {
      let name = s.strings.bytes(s.node_name[i]);
      if name.starts_with(b"<") {
        let short = match name.iter().position(|&b| b == b' ') {
          Some(sp) => [&name[..sp], b">"].concat(),
          None => name.to_vec(),
        };
        added.get(&short)?
      } else if name.starts_with(b"Detached <") {
        let short = match name[10..].iter().position(|&b| b == b' ') {
          Some(sp) => [&name[..10 + sp], b">"].concat(),
          None => name.to_vec(),
        };
        added.get(&short)?
      } else {
        s.node_name[i]
      }
    } else if ty == t.code {
      code
    } else if ty == t.closure {
      function
    } else if ty == t.regexp {
      regexp
    } else {
      match by_type[ty as usize] {
        Some(c) => c,
        None => {
          let text = format!("({})", s.meta.node_types[ty as usize]);
          let c = added.get(text.as_bytes())?;
          by_type[ty as usize] = Some(c);
          c
        }
      }
    };
    class.push(c);
  }
  Ok(ClassNames { class, added })
}

/// A named set of properties that plain objects are grouped by.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceDefinition {
  pub name: String,
  pub properties: Vec<String>,
  pub count: u64,
}

fn is_plain_object(s: &Snapshot, t: &Types, node: usize) -> bool {
  s.node_type[node] == t.object && s.strings.bytes(s.node_name[node]) == b"Object"
}

/// JS string length (UTF-16 code units).
pub fn js_len(s: &str) -> usize {
  s.encode_utf16().count()
}

/// JS's default string order (UTF-16 code units).
pub fn js_cmp(a: &str, b: &str) -> Ordering {
  if a.is_ascii() && b.is_ascii() {
    a.as_bytes().cmp(b.as_bytes())
  } else {
    a.encode_utf16().cmp(b.encode_utf16())
  }
}

/// DevTools' `formatPropertyName`: names with `,'"{}` are shown JSON-quoted.
pub fn format_property_name(name: &str) -> String {
  if !name.contains([',', '\'', '"', '{', '}']) {
    return name.to_string();
  }
  let mut out = String::with_capacity(name.len() + 2);
  out.push('"');
  for c in name.chars() {
    match c {
      '"' => out.push_str("\\\""),
      '\\' => out.push_str("\\\\"),
      '\n' => out.push_str("\\n"),
      '\r' => out.push_str("\\r"),
      '\t' => out.push_str("\\t"),
      '\u{8}' => out.push_str("\\b"),
      '\u{c}' => out.push_str("\\f"),
      c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
      c => out.push(c),
    }
  }
  out.push('"');
  out
}

/// The most common property sets of plain objects, most common first.
pub fn infer_interfaces(s: &Snapshot, t: &Types) -> Vec<InterfaceDefinition> {
  let mut candidates: Vec<InterfaceDefinition> = Vec::new();
  let mut by_name: HashMap<String, usize> = HashMap::new();
  let mut total = 0usize;
  for node in 0..s.node_count() {
    if !is_plain_object(s, t, node) {
      continue;
    }
    total += 1;
    let mut name = String::from("{");
    let mut name_len = 1usize;
    let mut properties = Vec::new();
    for e in s.edges(node as u32) {
      if s.edge_type[e] != t.edge_property {
        continue;
      }
      let edge_name = s.strings.get(s.edge_name[e]);
      if edge_name == "__proto__" {
        continue;
      }
      let formatted = format_property_name(&edge_name);
      let formatted_len = js_len(&formatted);
      if name_len > MIN_INTERFACE_PROPERTY_COUNT
        && name_len + formatted_len > MAX_INTERFACE_NAME_LENGTH
      {
        break;
      }
      if name_len != 1 {
        name.push_str(", ");
        name_len += 2;
      }
      name.push_str(&formatted);
      name_len += formatted_len;
      properties.push(edge_name.into_owned());
    }
    if properties.is_empty() {
      continue;
    }
    name.push('}');
    match by_name.get(&name) {
      Some(&i) => candidates[i].count += 1,
      None => {
        by_name.insert(name.clone(), candidates.len());
        candidates.push(InterfaceDefinition {
          name,
          properties,
          count: 1,
        });
      }
    }
  }
  // Stable, like Array.prototype.sort: equal counts keep first-seen order.
  candidates.sort_by_key(|c| std::cmp::Reverse(c.count));
  let min = (MIN_OBJECT_COUNT_PER_INTERFACE as f64)
    .max(total as f64 / MIN_OBJECT_PROPORTION_PER_INTERFACE as f64);
  candidates
    .into_iter()
    .take_while(|c| c.count as f64 >= min)
    .collect()
}

struct TrieNode {
  next: HashMap<String, usize>,
  greatest_next: Option<String>,
  /// (property count, definition index) of the definition ending here.
  matched: Option<(usize, usize)>,
}

/// Gives each plain object the best matching interface's name as its class: the definition
/// with the most properties all present on the object, the earliest on a tie.
pub fn apply_interfaces(
  s: &Snapshot,
  t: &Types,
  definitions: &[InterfaceDefinition],
  names: &mut ClassNames,
) -> Result<(), AnalysisError> {
  let mut trie = vec![TrieNode {
    next: HashMap::new(),
    greatest_next: None,
    matched: None,
  }];
  for (index, def) in definitions.iter().enumerate() {
    let mut props = def.properties.clone();
    props.sort_by(|a, b| js_cmp(a, b));
    let mut at = 0usize;
    for p in &props {
      let next = match trie[at].next.get(p) {
        Some(&i) => i,
        None => {
          let i = trie.len();
          trie.push(TrieNode {
            next: HashMap::new(),
            greatest_next: None,
            matched: None,
          });
          trie[at].next.insert(p.clone(), i);
          let greater = match &trie[at].greatest_next {
            None => true,
            Some(g) => js_cmp(g, p) == Ordering::Less,
          };
          if greater {
            trie[at].greatest_next = Some(p.clone());
          }
          i
        }
      };
      at = next;
    }
    if trie[at].matched.is_none() {
      trie[at].matched = Some((props.len(), index));
    }
  }
  let better = |a: Option<(usize, usize)>, b: Option<(usize, usize)>| -> Option<(usize, usize)> {
    match (a, b) {
      (a, None) => a,
      (None, b) => b,
      (Some(x), Some(y)) => {
        if x.0 > y.0 {
          Some(x)
        } else if y.0 > x.0 {
          Some(y)
        } else if x.1 <= y.1 {
          Some(x)
        } else {
          Some(y)
        }
      }
    }
  };
  let mut interface_class: Vec<Option<u32>> = vec![None; definitions.len()];
  let mut states: Vec<usize> = Vec::new();
  let mut props: Vec<String> = Vec::new();
  for node in 0..s.node_count() {
    if !is_plain_object(s, t, node) {
      continue;
    }
    props.clear();
    for e in s.edges(node as u32) {
      if s.edge_type[e] == t.edge_property {
        props.push(s.strings.get(s.edge_name[e]).into_owned());
      }
    }
    props.sort_by(|a, b| js_cmp(a, b));
    states.clear();
    states.push(0);
    // The initial match is "Object" with no properties and an infinite index.
    let mut best = trie[0].matched;
    for p in &props {
      let current = states.clone();
      for st in current {
        let done = match &trie[st].greatest_next {
          None => true,
          Some(g) => js_cmp(p, g) != Ordering::Less,
        };
        if done {
          states.retain(|&x| x != st);
        }
        if let Some(&next) = trie[st].next.get(p) {
          if !states.contains(&next) {
            states.push(next);
          }
          best = better(best, trie[next].matched);
        }
      }
    }
    names.class[node] = match best {
      None => s.node_name[node],
      Some((_, index)) => match interface_class[index] {
        Some(c) => c,
        None => {
          let c = names.added.get(definitions[index].name.as_bytes())?;
          interface_class[index] = Some(c);
          c
        }
      },
    };
  }
  Ok(())
}
