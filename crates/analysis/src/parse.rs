//! One streaming pass over a `.heapsnapshot` into flat columns: no object per node, no
//! whole-file JSON value. Fields are placed by the offsets `snapshot.meta` names; sections
//! leakwatch does not use (`samples`, `trace_tree`, …) and unknown ones are skipped.

use std::io::Read;

use super::error::{AnalysisError, Kind};
use super::header::{read_header, Meta};
use super::offsets::Offsets;
use super::scan::Scanner;

/// All strings of the snapshot in one buffer.
#[derive(Default, Debug)]
pub struct Strings {
  data: Vec<u8>,
  /// End offset of string i in `data`; string i starts where i-1 ends. 64-bit: the strings
  /// of a big snapshot can add up to more than 4 GiB.
  ends: Offsets,
}

impl Strings {
  pub fn len(&self) -> usize {
    self.ends.len()
  }

  pub fn bytes(&self, i: u32) -> &[u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { self.ends.get(i - 1) };
    &self.data[start as usize..self.ends.get(i) as usize]
  }

  /// The string as text (invalid UTF-8 replaced).
  pub fn get(&self, i: u32) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(self.bytes(i))
  }

  pub fn push(&mut self, s: &[u8]) -> Result<u32, AnalysisError> {
    grow(&mut self.data, s.len(), "the strings")?;
    self.data.extend_from_slice(s);
    self.close()
  }

  fn close(&mut self) -> Result<u32, AnalysisError> {
    self.ends.push(self.data.len() as u64, "the strings")
  }
}

/// A size per node in 32 bits (self sizes, retained sizes); the few of 4 GiB or more (an
/// `ArrayBuffer`'s backing store, an owner after shallow sizes moved its arrays onto it, the
/// retained size of what holds most of a big heap) are `WIDE` here and kept whole in a map.
/// Half the memory of a `u64` column for the same numbers.
#[derive(Clone, Default, Debug)]
pub struct Sizes {
  low: Vec<u32>,
  wide: std::collections::HashMap<u32, u64>,
}

/// The 32-bit word of a size kept in the wide map.
const WIDE: u32 = u32::MAX;

impl Sizes {
  pub fn len(&self) -> usize {
    self.low.len()
  }

  /// The size of node `i` (panics past the end, as a slice would).
  #[inline]
  pub fn get(&self, i: usize) -> u64 {
    match self.low[i] {
      WIDE => self.wide[&(i as u32)],
      v => v as u64,
    }
  }

  /// Sets the size of node `i`.
  pub fn set(&mut self, i: usize, size: u64) {
    if self.low[i] == WIDE {
      self.wide.remove(&(i as u32));
    }
    match u32::try_from(size) {
      Ok(v) if v != WIDE => self.low[i] = v,
      _ => {
        self.low[i] = WIDE;
        self.wide.insert(i as u32, size);
      }
    }
  }

  /// Adds `size` to node `i`'s.
  #[inline]
  pub fn add(&mut self, i: usize, size: u64) {
    let low = self.low[i] as u64;
    if low + size < WIDE as u64 {
      self.low[i] = (low + size) as u32;
    } else {
      self.set(i, self.get(i) + size);
    }
  }

  pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
    (0..self.len()).map(|i| self.get(i))
  }
}

/// Edge targets with the edge types in their top bits: one 32-bit word per edge instead of
/// five bytes, and the type read from the word the target comes from. When a snapshot has
/// more than 2^28 nodes or more than 16 edge types (V8 writes 7) the types stay a column of
/// their own and the words are the targets alone.
#[derive(Default, Debug)]
pub struct EdgeTargets {
  packed: Vec<u32>,
  /// The target's bits of a word.
  mask: u32,
  /// Empty when the types are packed.
  types: Vec<u8>,
}

const TYPE_SHIFT: u32 = 28;

impl EdgeTargets {
  #[inline]
  fn to(&self, e: usize) -> u32 {
    self.packed[e] & self.mask
  }

  #[inline]
  fn ty(&self, e: usize) -> u8 {
    match self.types.is_empty() {
      true => (self.packed[e] >> TYPE_SHIFT) as u8,
      false => self.types[e],
    }
  }

  /// From the targets (node ordinals below `node_count`) and the types (below
  /// `type_count`), packed in place when both fit.
  pub fn new(mut to: Vec<u32>, mut types: Vec<u8>, node_count: usize, type_count: usize) -> Self {
    if node_count <= 1 << TYPE_SHIFT && type_count <= 1 << (32 - TYPE_SHIFT) {
      for (t, &ty) in to.iter_mut().zip(&types) {
        *t |= (ty as u32) << TYPE_SHIFT;
      }
      EdgeTargets {
        packed: to,
        mask: (1 << TYPE_SHIFT) - 1,
        types: Vec::new(),
      }
    } else {
      types.shrink_to_fit();
      EdgeTargets {
        packed: to,
        mask: u32::MAX,
        types,
      }
    }
  }
}

/// A location: which script, line and column allocated a node (closures and objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
  pub node: u32,
  pub script_id: u32,
  pub line: u32,
  pub column: u32,
}

/// The snapshot as columns. Nodes and edges are addressed by ordinal (index / field count).
#[derive(Debug)]
pub struct Snapshot {
  pub meta: Meta,
  pub node_type: Vec<u8>,
  pub node_name: Vec<u32>,
  pub node_id: Vec<u32>,
  pub self_size: Sizes,
  /// Ordinal of each node's first edge; `first_edge[n]` is the edge count.
  pub first_edge: Vec<u32>,
  /// Empty when the snapshot has no `detachedness` field.
  pub detachedness: Vec<u8>,
  pub edge_name: Vec<u32>,
  /// Each edge's target node ordinal and type: see [`EdgeTargets`].
  pub edge_targets: EdgeTargets,
  pub locations: Vec<Location>,
  pub strings: Strings,
  pub root: u32,
  /// Size of the file read, bytes.
  pub file_bytes: u64,
}

impl Snapshot {
  pub fn node_count(&self) -> usize {
    self.node_type.len()
  }

  pub fn edge_count(&self) -> usize {
    self.edge_targets.packed.len()
  }

  /// The target node ordinal of edge `e`.
  #[inline]
  pub fn edge_to(&self, e: usize) -> u32 {
    self.edge_targets.to(e)
  }

  /// The type of edge `e`.
  #[inline]
  pub fn edge_type(&self, e: usize) -> u8 {
    self.edge_targets.ty(e)
  }

  pub fn edges(&self, node: u32) -> std::ops::Range<usize> {
    self.first_edge[node as usize] as usize..self.first_edge[node as usize + 1] as usize
  }

  pub fn node_type_index(&self, name: &str) -> Option<u8> {
    self
      .meta
      .node_types
      .iter()
      .position(|t| t == name)
      .map(|i| i as u8)
  }

  pub fn edge_type_index(&self, name: &str) -> Option<u8> {
    self
      .meta
      .edge_types
      .iter()
      .position(|t| t == name)
      .map(|i| i as u8)
  }
}

/// Parses a whole snapshot from `source`. `size_hint` (the file size) bounds how much is
/// reserved up front, so a header that lies about its counts cannot make us over-allocate.
pub fn parse<R: Read>(source: R, size_hint: u64) -> Result<Snapshot, AnalysisError> {
  parse_on(source, size_hint, super::threads::workers())
}

/// [`parse`] with `parsers` threads for the numeric arrays (1: on the calling thread).
pub fn parse_on<R: Read>(
  source: R,
  size_hint: u64,
  parsers: usize,
) -> Result<Snapshot, AnalysisError> {
  let mut scan = Scanner::new(source);
  scan.set_parsers(parsers);
  match scan.skip_ws()? {
    None => return Err(AnalysisError::new(Kind::Empty, "the file is empty")),
    Some(b'{') => scan.bump(),
    Some(_) => {
      return Err(scan.error(
        Kind::Syntax,
        "not a heap snapshot: it does not start with '{'",
      ));
    }
  }
  let mut meta: Option<Meta> = None;
  let mut cols: Option<Columns> = None;
  let mut edges: Option<EdgeColumns> = None;
  let mut strings: Option<Strings> = None;
  let mut locations = Vec::new();
  if scan.skip_ws()? == Some(b'}') {
    return Err(scan.error(Kind::Syntax, "not a heap snapshot: the object is empty"));
  }
  loop {
    let key = scan.key()?;
    super::control::trace(&key);
    match key.as_str() {
      "snapshot" => {
        let at = scan.offset();
        let header = read_header(&mut scan)?;
        meta = Some(Meta::from_header(&header).map_err(|e| e.with_offset(at))?);
      }
      "nodes" => {
        let m = meta.as_ref().ok_or_else(|| before_meta(&scan, "nodes"))?;
        cols = Some(read_nodes(&mut scan, m, size_hint)?);
      }
      "edges" => {
        let m = meta.as_ref().ok_or_else(|| before_meta(&scan, "edges"))?;
        edges = Some(read_edges(&mut scan, m, size_hint)?);
      }
      "strings" => strings = Some(read_strings(&mut scan)?),
      "locations" => {
        let m = meta
          .as_ref()
          .ok_or_else(|| before_meta(&scan, "locations"))?;
        match &m.locations {
          Some(fields) => locations = read_locations(&mut scan, fields)?,
          None => scan.skip_value()?,
        }
      }
      _ => scan.skip_value()?,
    }
    if !scan.member_end()? {
      break;
    }
  }
  if let Some(b) = scan.skip_ws()? {
    return Err(scan.error(
      Kind::Syntax,
      format!("unexpected {} after the snapshot", super::scan::describe(b)),
    ));
  }
  let file_bytes = scan.offset();
  let meta = meta.ok_or_else(|| missing("snapshot"))?;
  let cols = cols.ok_or_else(|| missing("nodes"))?;
  let edges = edges.ok_or_else(|| missing("edges"))?;
  let strings = strings.ok_or_else(|| missing("strings"))?;
  assemble(meta, cols, edges, strings, locations, file_bytes)
}

fn before_meta<R: Read>(scan: &Scanner<R>, section: &str) -> AnalysisError {
  scan.error(
    Kind::Meta,
    format!("\"{section}\" comes before \"snapshot.meta\", which says how to read it"),
  )
}

fn missing(section: &str) -> AnalysisError {
  AnalysisError::new(
    Kind::Syntax,
    format!("not a heap snapshot: there is no \"{section}\" section"),
  )
}

struct Columns {
  node_type: Vec<u8>,
  node_name: Vec<u32>,
  node_id: Vec<u32>,
  self_size: Sizes,
  first_edge: Vec<u32>,
  detachedness: Vec<u8>,
  values: u64,
}

fn reserve(count: Option<u64>, size_hint: u64, min_bytes_each: u64) -> usize {
  let bound = size_hint / min_bytes_each.max(1);
  count.unwrap_or(0).min(bound).min(1 << 32) as usize
}

/// Room for `extra` more items, or `TooLarge` when the allocator refuses: the big columns
/// grow with the input, and an allocation failure would abort the host process.
pub fn grow<T>(v: &mut Vec<T>, extra: usize, what: &str) -> Result<(), AnalysisError> {
  v.try_reserve(extra)
    .map_err(|_| AnalysisError::too_large(what))
}

/// An empty column with room for `n` items, or `TooLarge`.
fn column<T>(n: usize, what: &str) -> Result<Vec<T>, AnalysisError> {
  let mut v = Vec::new();
  v.try_reserve_exact(n)
    .map_err(|_| AnalysisError::too_large(what))?;
  Ok(v)
}

fn read_nodes<R: Read>(
  scan: &mut Scanner<R>,
  m: &Meta,
  size_hint: u64,
) -> Result<Columns, AnalysisError> {
  let n = reserve(m.node_count, size_hint, 2 * m.node_field_count as u64);
  let what = "the nodes";
  let mut c = Columns {
    node_type: column(n, what)?,
    node_name: column(n, what)?,
    node_id: column(n, what)?,
    self_size: Sizes {
      low: column(n, what)?,
      wide: Default::default(),
    },
    first_edge: column(n + 1, what)?,
    detachedness: column(if m.node_detachedness.is_some() { n } else { 0 }, what)?,
    values: 0,
  };
  let type_count = m.node_types.len() as u32;
  let mut edges_so_far = 0u64;
  let sizes = Some(m.node_self_size);
  let (count, wide) = scan.u32_array_wide("nodes", m.node_field_count, sizes, |cols| {
    let rows = cols.iter().map(Vec::len).max().unwrap_or(0);
    grow(&mut c.node_type, rows, what)?;
    grow(&mut c.node_name, rows, what)?;
    grow(&mut c.node_id, rows, what)?;
    grow(&mut c.self_size.low, rows, what)?;
    grow(&mut c.first_edge, rows + 1, what)?;
    if m.node_detachedness.is_some() {
      grow(&mut c.detachedness, rows, what)?;
    }
    c.node_type
      .extend(types(&cols[m.node_type], type_count, "node")?);
    c.node_name.extend_from_slice(&cols[m.node_name]);
    c.node_id.extend_from_slice(&cols[m.node_id]);
    let at = c.self_size.low.len();
    let sizes = &cols[m.node_self_size];
    c.self_size.low.extend_from_slice(sizes);
    // A size of exactly 2^32 - 1 is the wide mark's word: kept whole, as the wide ones are.
    for (k, _) in sizes.iter().enumerate().filter(|(_, &v)| v == WIDE) {
      c.self_size.wide.insert((at + k) as u32, WIDE as u64);
    }
    for &count in &cols[m.node_edge_count] {
      c.first_edge.push(edges_so_far as u32);
      edges_so_far += count as u64;
      if edges_so_far > u32::MAX as u64 {
        return Err(AnalysisError::new(Kind::Range, "more than 2^32 edges"));
      }
    }
    if let Some(d) = m.node_detachedness {
      c.detachedness
        .extend(cols[d].iter().map(|&v| (v & 3) as u8));
    }
    Ok(())
  })?;
  whole_rows(scan, "nodes", count, m.node_field_count)?;
  // Self sizes of 4 GiB and more (an ArrayBuffer's backing store): the column has their low
  // words. DevTools' loader keeps them in a Uint32Array, which wraps them.
  for (row, size) in wide {
    if (row as usize) < c.self_size.len() {
      c.self_size.set(row as usize, size);
    }
  }
  c.first_edge.push(edges_so_far as u32);
  c.values = edges_so_far;
  Ok(c)
}

/// A block's type column as bytes, once every value is a type the meta declares.
fn types<'a>(
  column: &'a [u32],
  type_count: u32,
  what: &str,
) -> Result<impl Iterator<Item = u8> + 'a, AnalysisError> {
  if let Some(&v) = column.iter().find(|&&v| v >= type_count) {
    return Err(AnalysisError::new(
      Kind::Range,
      format!("{what} type {v} is not one of the {type_count} types in the meta"),
    ));
  }
  Ok(column.iter().map(|&v| v as u8))
}

fn whole_rows<R: Read>(
  scan: &Scanner<R>,
  section: &str,
  count: u64,
  fields: usize,
) -> Result<(), AnalysisError> {
  if count.is_multiple_of(fields as u64) {
    return Ok(());
  }
  Err(scan.error(
    Kind::Range,
    format!("\"{section}\" holds {count} values, not a multiple of its {fields} fields"),
  ))
}

struct EdgeColumns {
  edge_type: Vec<u8>,
  edge_name: Vec<u32>,
  edge_to: Vec<u32>,
}

fn read_edges<R: Read>(
  scan: &mut Scanner<R>,
  m: &Meta,
  size_hint: u64,
) -> Result<EdgeColumns, AnalysisError> {
  let n = reserve(m.edge_count, size_hint, 2 * m.edge_field_count as u64);
  let what = "the edges";
  let mut e = EdgeColumns {
    edge_type: column(n, what)?,
    edge_name: column(n, what)?,
    edge_to: column(n, what)?,
  };
  let type_count = m.edge_types.len() as u32;
  let count = scan.u32_array("edges", m.edge_field_count, |cols| {
    let rows = cols.iter().map(Vec::len).max().unwrap_or(0);
    grow(&mut e.edge_type, rows, what)?;
    grow(&mut e.edge_name, rows, what)?;
    grow(&mut e.edge_to, rows, what)?;
    e.edge_type
      .extend(types(&cols[m.edge_type], type_count, "edge")?);
    e.edge_name.extend_from_slice(&cols[m.edge_name]);
    e.edge_to.extend_from_slice(&cols[m.edge_to]);
    Ok(())
  })?;
  whole_rows(scan, "edges", count, m.edge_field_count)?;
  Ok(e)
}

fn read_strings<R: Read>(scan: &mut Scanner<R>) -> Result<Strings, AnalysisError> {
  let mut strings = Strings::default();
  scan.expect(b'[')?;
  if scan.skip_ws()? == Some(b']') {
    scan.bump();
    return Ok(strings);
  }
  loop {
    scan.expect(b'"')?;
    scan.string_into(&mut strings.data)?;
    strings.close()?;
    match scan.token()? {
      b',' => {}
      b']' => return Ok(strings),
      b => {
        return Err(scan.error(
          Kind::Syntax,
          format!(
            "expected ',' or ']' in \"strings\", found {}",
            super::scan::describe(b)
          ),
        ))
      }
    }
  }
}

fn read_locations<R: Read>(
  scan: &mut Scanner<R>,
  fields: &super::header::LocationFields,
) -> Result<Vec<Location>, AnalysisError> {
  let mut columns: Vec<Vec<u32>> = vec![Vec::new(); fields.count];
  let count = scan.u32_array("locations", fields.count, |cols| {
    for (all, block) in columns.iter_mut().zip(cols) {
      grow(all, block.len(), "the locations")?;
      all.extend_from_slice(block);
    }
    Ok(())
  })?;
  let rows = (count / fields.count as u64) as usize;
  let out = (0..rows)
    .map(|r| Location {
      node: columns[fields.object_index][r],
      script_id: columns[fields.script_id][r],
      line: columns[fields.line][r],
      column: columns[fields.column][r],
    })
    .collect();
  Ok(out)
}

/// Converts `to_node` indices into node ordinals in place; `Err(i)` at the first edge that
/// points at no node (left unconverted).
fn to_ordinals<const F: u64>(to: &mut [u32], nodes_len: u64) -> Result<(), usize> {
  to_ordinals_by(to, nodes_len, F)
}

#[inline(always)]
fn to_ordinals_by(to: &mut [u32], nodes_len: u64, field_count: u64) -> Result<(), usize> {
  for (i, t) in to.iter_mut().enumerate() {
    let raw = *t as u64;
    if !raw.is_multiple_of(field_count) || raw >= nodes_len {
      return Err(i);
    }
    *t = (raw / field_count) as u32;
  }
  Ok(())
}

/// Checks every cross-reference, converts `to_node` indices to ordinals and builds the
/// snapshot. After this, every index in the columns is in range.
fn assemble(
  meta: Meta,
  cols: Columns,
  mut edges: EdgeColumns,
  strings: Strings,
  mut locations: Vec<Location>,
  file_bytes: u64,
) -> Result<Snapshot, AnalysisError> {
  let node_count = cols.node_type.len();
  let edge_count = edges.edge_type.len();
  let range = |msg: String| AnalysisError::new(Kind::Range, msg);
  if node_count == 0 {
    return Err(range("the snapshot has no nodes".into()));
  }
  // Node ordinals are 32-bit. V8 writes `to_node` as an `int`, so no snapshot it writes
  // comes near; a file that claims more nodes is refused rather than wrapped.
  if node_count > u32::MAX as usize {
    return Err(range(format!(
      "the snapshot has {node_count} nodes, more than 2^32 - 1"
    )));
  }
  if cols.values != edge_count as u64 {
    return Err(range(format!(
      "the nodes' edge_count fields add up to {} but \"edges\" holds {edge_count} edges",
      cols.values
    )));
  }
  let field_count = meta.node_field_count as u64;
  let nodes_len = node_count as u64 * field_count;
  // The common field counts get a division by a constant (a multiplication): this runs once
  // per edge.
  let converted = match field_count {
    7 => to_ordinals::<7>(&mut edges.edge_to, nodes_len),
    6 => to_ordinals::<6>(&mut edges.edge_to, nodes_len),
    5 => to_ordinals::<5>(&mut edges.edge_to, nodes_len),
    _ => to_ordinals_by(&mut edges.edge_to, nodes_len, field_count),
  };
  if let Err(i) = converted {
    let raw = edges.edge_to[i];
    return Err(range(format!(
      "edge {i} points to node index {raw}, which is not a node (the nodes array has {nodes_len} values)"
    )));
  }
  let string_count = strings.len() as u64;
  if let Some(i) = cols
    .node_name
    .iter()
    .position(|&s| s as u64 >= string_count)
  {
    return Err(range(format!(
      "node {i} names string {}, but there are {string_count} strings",
      cols.node_name[i]
    )));
  }
  let element = meta.edge_types.iter().position(|t| t == "element");
  let hidden = meta.edge_types.iter().position(|t| t == "hidden");
  for i in 0..edge_count {
    let t = edges.edge_type[i] as usize;
    if Some(t) != element && Some(t) != hidden && edges.edge_name[i] as u64 >= string_count {
      return Err(range(format!(
        "edge {i} is named by string {}, but there are {string_count} strings",
        edges.edge_name[i]
      )));
    }
  }
  for loc in locations.iter_mut() {
    let raw = loc.node as u64;
    if !raw.is_multiple_of(field_count) || raw >= nodes_len {
      return Err(range(format!(
        "a location points to node index {raw}, which is not a node"
      )));
    }
    loc.node = (raw / field_count) as u32;
  }
  let root = match meta.root_index {
    Some(r) if r.is_multiple_of(field_count) && r < nodes_len => (r / field_count) as u32,
    Some(r) => return Err(range(format!("root_index {r} is not a node"))),
    None => 0,
  };
  if let Some(declared) = meta.node_count {
    if declared != node_count as u64 {
      return Err(range(format!(
        "snapshot.node_count says {declared} but \"nodes\" holds {node_count}"
      )));
    }
  }
  let edge_targets = EdgeTargets::new(
    edges.edge_to,
    edges.edge_type,
    node_count,
    meta.edge_types.len(),
  );
  Ok(Snapshot {
    meta,
    node_type: cols.node_type,
    node_name: cols.node_name,
    node_id: cols.node_id,
    self_size: cols.self_size,
    first_edge: cols.first_edge,
    detachedness: cols.detachedness,
    edge_name: edges.edge_name,
    edge_targets,
    locations,
    strings,
    root,
    file_bytes,
  })
}

#[cfg(test)]
mod tests {
  use super::{EdgeTargets, Sizes};

  fn targets_and_types(e: &EdgeTargets) -> Vec<(u32, u8)> {
    (0..e.packed.len()).map(|i| (e.to(i), e.ty(i))).collect()
  }

  #[test]
  fn edge_types_ride_in_the_targets_top_bits_when_they_fit() {
    let to = vec![0, 5, (1 << 28) - 1, 17];
    let types = vec![0, 6, 15, 3];
    let want: Vec<(u32, u8)> = to.iter().copied().zip(types.iter().copied()).collect();
    let packed = EdgeTargets::new(to.clone(), types.clone(), 1 << 28, 16);
    assert!(packed.types.is_empty());
    assert_eq!(targets_and_types(&packed), want);
    // Too many nodes, or too many types: a column of their own.
    let wide = vec![0, 5, u32::MAX - 1, 1 << 28];
    let want: Vec<(u32, u8)> = wide.iter().copied().zip(types.iter().copied()).collect();
    let apart = EdgeTargets::new(wide, types.clone(), (1 << 28) + 1, 7);
    assert_eq!(apart.types.len(), 4);
    assert_eq!(targets_and_types(&apart), want);
    let many = EdgeTargets::new(to.clone(), vec![0, 16, 20, 3], 100, 21);
    assert_eq!(targets_and_types(&many)[2], ((1 << 28) - 1, 20));
  }

  const G4: u64 = 1 << 32;

  #[test]
  fn self_sizes_keep_4_gib_and_more_whole_in_32_bit_words() {
    let mut s = Sizes {
      low: vec![0; 6],
      wide: Default::default(),
    };
    let want = [0, 7, G4 - 2, G4 - 1, G4, 5 * G4 + 3];
    for (i, &v) in want.iter().enumerate() {
      s.set(i, v);
    }
    assert_eq!(s.iter().collect::<Vec<_>>(), want);
    // Only 2^32 - 1 (the mark's own word) and above go to the map.
    assert_eq!(s.wide.len(), 3);
    // A size moved onto its owner past 4 GiB, and the mover's back to 0.
    s.set(2, s.get(2) + s.get(1));
    s.set(1, 0);
    assert_eq!(s.get(2), G4 + 5);
    s.set(5, 0);
    assert_eq!(s.get(5), 0);
    assert_eq!(s.wide.len(), 3);
    assert_eq!(s.iter().sum::<u64>(), G4 + 5 + G4 - 1 + G4);
  }

  #[test]
  fn adding_to_a_size_crosses_into_the_map_and_stays_exact() {
    let mut s = Sizes {
      low: vec![0; 3],
      wide: Default::default(),
    };
    s.add(0, G4 - 3);
    s.add(0, 1);
    assert_eq!((s.get(0), s.wide.len()), (G4 - 2, 0));
    // 2^32 - 1 is the mark's word: it goes to the map.
    s.add(0, 1);
    assert_eq!((s.get(0), s.wide.len()), (G4 - 1, 1));
    s.add(0, 10);
    s.add(1, 3 * G4);
    s.add(1, 7);
    assert_eq!(s.iter().collect::<Vec<_>>(), [G4 + 9, 3 * G4 + 7, 0]);
  }
}
