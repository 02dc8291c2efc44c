//! Class names as DevTools shows them in the Summary view: the constructor name for objects
//! and native nodes, "(system)", "(compiled code)", "Function", "RegExp", `"(<type>)"` for the
//! rest, and for plain `Object`s the most common property sets ("{id, name}").

use std::cmp::Ordering;
use std::collections::HashMap;

use super::control::Control;
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
    let i = self
      .base
      .checked_add(self.strings.push(text)?)
      .ok_or_else(|| {
        AnalysisError::new(
          super::error::Kind::Range,
          "the strings and the class names added to them number more than 2^32 - 1",
        )
      })?;
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
pub fn class_names(
  s: &Snapshot,
  t: &Types,
  control: &Control,
) -> Result<ClassNames, AnalysisError> {
  let mut added = Added::new(s);
  let system = added.get(b"(system)")?;
  let code = added.get(b"(compiled code)")?;
  let function = added.get(b"Function")?;
  let regexp = added.get(b"RegExp")?;
  let mut by_type: Vec<Option<u32>> = vec![None; s.meta.node_types.len()];
  // The short class of each `<tag …>` name string, worked out once per string however many
  // nodes share it (a long name shared by index must not cost its length per node).
  let mut by_tag_name: HashMap<u32, u32> = HashMap::new();
  let mut class = Vec::with_capacity(s.node_count());
  for i in 0..s.node_count() {
    control.check_every(i)?;
    let ty = s.node_type[i];
    let c = if ty == t.hidden {
      system
    } else if ty == t.object || ty == t.native {
      let name_index = s.node_name[i];
      let name = s.strings.bytes(name_index);
      if name.starts_with(b"<") || name.starts_with(b"Detached <") {
        match by_tag_name.get(&name_index) {
          Some(&c) => c,
          None => {
            control.add_work(2 * name.len() as u64);
            let skip = if name.starts_with(b"<") { 0 } else { 10 };
            let short = match name[skip..].iter().position(|&b| b == b' ') {
              Some(sp) => [&name[..skip + sp], b">"].concat(),
              None => name.to_vec(),
            };
            let c = added.get(&short)?;
            by_tag_name.insert(name_index, c);
            c
          }
        }
      } else {
        name_index
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

/// Property names by text, each read once per string index: a name shared by many edges
/// costs its length once, and objects compare by small ids instead of by text. Two indices
/// with the same text (after invalid UTF-8 is replaced) get the same id.
struct PropertyNames {
  /// Per string index: its id plus one, 0 until read.
  of_string: Vec<u32>,
  by_text: HashMap<String, u32>,
  text: Vec<String>,
  /// DevTools' `formatPropertyName` of each id and its JS length.
  formatted: Vec<(String, usize)>,
}

impl PropertyNames {
  fn new(s: &Snapshot) -> Self {
    PropertyNames {
      of_string: vec![0; s.strings.len()],
      by_text: HashMap::new(),
      text: Vec::new(),
      formatted: Vec::new(),
    }
  }

  fn id(&mut self, s: &Snapshot, string: u32, control: &Control) -> u32 {
    let slot = &mut self.of_string[string as usize];
    if *slot != 0 {
      return *slot - 1;
    }
    let text = s.strings.get(string).into_owned();
    control.add_work(4 * text.len() as u64);
    let id = match self.by_text.get(&text) {
      Some(&id) => id,
      None => {
        let id = self.text.len() as u32;
        let formatted = format_property_name(&text);
        let len = js_len(&formatted);
        self.formatted.push((formatted, len));
        self.by_text.insert(text.clone(), id);
        self.text.push(text);
        id
      }
    };
    *slot = id + 1;
    id
  }
}

/// The most common property sets of plain objects, most common first.
pub fn infer_interfaces(
  s: &Snapshot,
  t: &Types,
  control: &Control,
) -> Result<Vec<InterfaceDefinition>, AnalysisError> {
  let mut names = PropertyNames::new(s);
  // Candidates are keyed by their property ids: the same ids give the same name
  // (`formatPropertyName` is JSON quoting, one-to-one), so the name text — which can be as
  // long as one property name — is built once per candidate, not once per object.
  let mut candidates: Vec<(Vec<u32>, u64)> = Vec::new();
  let mut by_ids: HashMap<Vec<u32>, usize> = HashMap::new();
  let mut ids: Vec<u32> = Vec::new();
  let mut total = 0usize;
  for node in 0..s.node_count() {
    control.check_every(node)?;
    if !is_plain_object(s, t, node) {
      continue;
    }
    total += 1;
    let mut name_len = 1usize;
    ids.clear();
    let edges = s.edges(node as u32);
    control.add_work(edges.len() as u64);
    for e in edges {
      if s.edge_type(e) != t.edge_property {
        continue;
      }
      let id = names.id(s, s.edge_name[e], control);
      if names.text[id as usize] == "__proto__" {
        continue;
      }
      let formatted_len = names.formatted[id as usize].1;
      if name_len > MIN_INTERFACE_PROPERTY_COUNT
        && name_len + formatted_len > MAX_INTERFACE_NAME_LENGTH
      {
        break;
      }
      if name_len != 1 {
        name_len += 2;
      }
      name_len += formatted_len;
      ids.push(id);
    }
    if ids.is_empty() {
      continue;
    }
    match by_ids.get(ids.as_slice()) {
      Some(&i) => candidates[i].1 += 1,
      None => {
        by_ids.insert(ids.clone(), candidates.len());
        candidates.push((ids.clone(), 1));
      }
    }
  }
  // Stable, like Array.prototype.sort: equal counts keep first-seen order.
  candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
  let min = (MIN_OBJECT_COUNT_PER_INTERFACE as f64)
    .max(total as f64 / MIN_OBJECT_PROPORTION_PER_INTERFACE as f64);
  Ok(
    candidates
      .into_iter()
      .take_while(|c| c.1 as f64 >= min)
      .map(|(ids, count)| {
        let mut name = String::from("{");
        for (k, &id) in ids.iter().enumerate() {
          if k > 0 {
            name.push_str(", ");
          }
          name.push_str(&names.formatted[id as usize].0);
        }
        name.push('}');
        InterfaceDefinition {
          name,
          properties: ids
            .iter()
            .map(|&id| names.text[id as usize].clone())
            .collect(),
          count,
        }
      })
      .collect(),
  )
}

struct TrieNode {
  /// Children by property rank (the property's place in JS string order).
  next: HashMap<u32, usize>,
  greatest_next: Option<u32>,
  /// (property count, definition index) of the definition ending here.
  matched: Option<(usize, usize)>,
}

type Match = Option<(usize, usize)>;

/// Gives each plain object the best matching interface's name as its class: the definition
/// with the most properties all present on the object, the earliest on a tie.
///
/// DevTools' trie walk, with its cost bounded: property names are ranks (read once per string
/// index), names no definition uses are dropped (they never advance a state and only retire
/// states no later name could advance), membership is a stamp instead of a list search, and
/// objects with the same ranked property list share one walk. An object costs its property
/// edges plus, per property a definition uses, the live states — at most the trie's size,
/// which DevTools' limits keep small (≤ 1000 definitions of names ≤ 120 characters).
pub fn apply_interfaces(
  s: &Snapshot,
  t: &Types,
  definitions: &[InterfaceDefinition],
  names: &mut ClassNames,
  control: &Control,
) -> Result<(), AnalysisError> {
  // Every property a definition uses, in JS string order: its rank is its label.
  let mut labels: Vec<&str> = definitions
    .iter()
    .flat_map(|d| d.properties.iter().map(String::as_str))
    .collect();
  labels.sort_by(|a, b| js_cmp(a, b));
  labels.dedup();
  let rank: HashMap<&str, u32> = labels
    .iter()
    .enumerate()
    .map(|(i, &l)| (l, i as u32))
    .collect();
  let mut trie = vec![TrieNode {
    next: HashMap::new(),
    greatest_next: None,
    matched: None,
  }];
  for (index, def) in definitions.iter().enumerate() {
    let mut props: Vec<u32> = def.properties.iter().map(|p| rank[p.as_str()]).collect();
    props.sort_unstable();
    let mut at = 0usize;
    for &p in &props {
      let next = match trie[at].next.get(&p) {
        Some(&i) => i,
        None => {
          let i = trie.len();
          trie.push(TrieNode {
            next: HashMap::new(),
            greatest_next: None,
            matched: None,
          });
          trie[at].next.insert(p, i);
          if trie[at].greatest_next.is_none_or(|g| g < p) {
            trie[at].greatest_next = Some(p);
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
  let better = |a: Match, b: Match| -> Match {
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
  // Per string index: 0 not read yet, 1 no definition uses it, r + 2 rank r.
  let mut label_of: Vec<u32> = vec![0; s.strings.len()];
  let mut interface_class: Vec<Option<u32>> = vec![None; definitions.len()];
  let mut walks: HashMap<Vec<u32>, Match> = HashMap::new();
  let mut member: Vec<u32> = vec![0; trie.len()];
  let mut stamp = 0u32;
  let mut states: Vec<usize> = Vec::new();
  let mut kept: Vec<usize> = Vec::new();
  let mut reached: Vec<usize> = Vec::new();
  let mut props: Vec<u32> = Vec::new();
  for node in 0..s.node_count() {
    control.check_every(node)?;
    if !is_plain_object(s, t, node) {
      continue;
    }
    props.clear();
    let edges = s.edges(node as u32);
    control.add_work(edges.len() as u64);
    for e in edges {
      if s.edge_type(e) != t.edge_property {
        continue;
      }
      let string = s.edge_name[e] as usize;
      if label_of[string] == 0 {
        let text = s.strings.get(string as u32);
        control.add_work(text.len() as u64);
        label_of[string] = rank.get(text.as_ref()).map_or(1, |&r| r + 2);
      }
      if label_of[string] >= 2 {
        props.push(label_of[string] - 2);
      }
    }
    props.sort_unstable();
    let best = match walks.get(props.as_slice()) {
      Some(&m) => m,
      None => {
        stamp = stamp.wrapping_add(1);
        if stamp == 0 {
          member.iter_mut().for_each(|m| *m = 0);
          stamp = 1;
        }
        states.clear();
        states.push(0);
        member[0] = stamp;
        // The initial match is "Object" with no properties and an infinite index.
        let mut best = trie[0].matched;
        for &p in &props {
          control.add_work(states.len() as u64);
          kept.clear();
          reached.clear();
          for &st in &states {
            let done = trie[st].greatest_next.is_none_or(|g| p >= g);
            if done {
              member[st] = 0;
            } else {
              kept.push(st);
            }
            if let Some(&next) = trie[st].next.get(&p) {
              if member[next] != stamp {
                member[next] = stamp;
                reached.push(next);
                best = better(best, trie[next].matched);
              }
            }
          }
          kept.append(&mut reached);
          std::mem::swap(&mut states, &mut kept);
        }
        walks.insert(props.clone(), best);
        best
      }
    };
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
