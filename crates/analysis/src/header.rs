//! The small `"snapshot"` member: `meta` (field and type names) and the counts. Every
//! offset the analysis uses is looked up here by name, so snapshots from any Node version
//! (and ones with extra fields) are read the same way.

use std::io::Read;

use super::error::{AnalysisError, Kind};
use super::scan::{describe, Scanner};

/// A JSON value, only for the header (a few kilobytes).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
  Null,
  Bool(bool),
  Num(f64),
  Str(String),
  Arr(Vec<Value>),
  Obj(Vec<(String, Value)>),
}

impl Value {
  pub fn get(&self, key: &str) -> Option<&Value> {
    match self {
      Value::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
      _ => None,
    }
  }

  fn strings(&self) -> Option<Vec<String>> {
    match self {
      Value::Arr(items) => items
        .iter()
        .map(|v| match v {
          Value::Str(s) => Some(s.clone()),
          _ => None,
        })
        .collect(),
      _ => None,
    }
  }

  fn count(&self) -> Option<u64> {
    match self {
      Value::Num(n) if *n >= 0.0 && n.fract() == 0.0 && *n < 9.0e15 => Some(*n as u64),
      _ => None,
    }
  }
}

const MAX_DEPTH: usize = 64;

/// The most bytes of the header that become values. V8's header is about 2 KiB; the cap
/// keeps a crafted one from turning a file into many times its size in memory (each value
/// is 32 bytes or more, from as little as 2 bytes of text).
pub const MAX_HEADER_BYTES: u64 = 256 << 10;

/// The members of `"snapshot"` the analysis reads; the others are skipped unread.
const HEADER_MEMBERS: [&str; 5] = [
  "meta",
  "node_count",
  "edge_count",
  "root_index",
  "extra_native_bytes",
];

/// Reads the `"snapshot"` object: the members leakwatch uses become values (at most
/// [`MAX_HEADER_BYTES`] of them, else `TooLarge`), the others are skipped without being
/// materialised.
pub fn read_header<R: Read>(scan: &mut Scanner<R>) -> Result<Value, AnalysisError> {
  scan.expect(b'{')?;
  let mut members = Vec::new();
  if scan.skip_ws()? == Some(b'}') {
    scan.bump();
    return Ok(Value::Obj(members));
  }
  let mut used = 0u64;
  loop {
    let key = scan.key()?;
    if HEADER_MEMBERS.contains(&key.as_str()) {
      let start = scan.offset();
      let value = read_value(scan, start + (MAX_HEADER_BYTES - used))?;
      used += scan.offset() - start;
      members.push((key, value));
    } else {
      scan.skip_value()?;
    }
    if !scan.member_end()? {
      return Ok(Value::Obj(members));
    }
  }
}

/// Reads one JSON value with an explicit stack (no recursion), at most 64 levels deep, and
/// not past file offset `limit` (else `TooLarge`).
pub fn read_value<R: Read>(scan: &mut Scanner<R>, limit: u64) -> Result<Value, AnalysisError> {
  let too_large = |scan: &Scanner<R>| {
    scan.error(
      Kind::TooLarge,
      format!(
        "the snapshot header is larger than {} KiB",
        MAX_HEADER_BYTES >> 10
      ),
    )
  };
  // Each open container and, for objects, the key waiting for its value.
  let mut stack: Vec<(Value, Option<String>)> = Vec::new();
  loop {
    if scan.offset() > limit {
      return Err(too_large(scan));
    }
    let b = scan.token()?;
    let mut value = match b {
      b'{' | b'[' => {
        if stack.len() >= MAX_DEPTH {
          return Err(scan.error(Kind::Syntax, "the snapshot header nests too deeply"));
        }
        let close = if b == b'{' { b'}' } else { b']' };
        let empty = if b == b'{' {
          Value::Obj(Vec::new())
        } else {
          Value::Arr(Vec::new())
        };
        if scan.skip_ws()? == Some(close) {
          scan.bump();
          empty
        } else {
          let key = if b == b'{' { Some(scan.key()?) } else { None };
          stack.push((empty, key));
          continue;
        }
      }
      b'"' => {
        let mut bytes = Vec::new();
        let room = limit.saturating_sub(scan.offset()).min(MAX_HEADER_BYTES) as usize;
        if !scan.string_into_capped(&mut bytes, room)? {
          return Err(too_large(scan));
        }
        Value::Str(String::from_utf8_lossy(&bytes).into_owned())
      }
      b'-' | b'0'..=b'9' => Value::Num(number(scan, b)?),
      b't' => literal(scan, "rue", Value::Bool(true))?,
      b'f' => literal(scan, "alse", Value::Bool(false))?,
      b'n' => literal(scan, "ull", Value::Null)?,
      other => {
        return Err(scan.error(Kind::Syntax, format!("unexpected {}", describe(other))));
      }
    };
    // Attach the finished value to its container; close containers that end here.
    loop {
      let Some((container, key)) = stack.last_mut() else {
        return Ok(value);
      };
      match container {
        Value::Obj(members) => members.push((key.take().unwrap_or_default(), value)),
        Value::Arr(items) => items.push(value),
        _ => unreachable!("only containers are stacked"),
      }
      let is_obj = matches!(container, Value::Obj(_));
      match scan.token()? {
        b',' => {
          if is_obj {
            *key = Some(scan.key()?);
          }
          break;
        }
        b'}' if is_obj => {}
        b']' if !is_obj => {}
        other => {
          return Err(scan.error(Kind::Syntax, format!("unexpected {}", describe(other))));
        }
      }
      value = stack.pop().map(|(v, _)| v).unwrap_or(Value::Null);
    }
  }
}

fn number<R: Read>(scan: &mut Scanner<R>, first: u8) -> Result<f64, AnalysisError> {
  let mut text = String::new();
  text.push(first as char);
  while let Some(b) = scan.peek()? {
    if b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-') {
      if text.len() > 64 {
        return Err(scan.error(Kind::Syntax, "a number in the header is too long"));
      }
      text.push(b as char);
      scan.bump();
    } else {
      break;
    }
  }
  if text.len() > 64 {
    return Err(scan.error(Kind::Syntax, "a number in the header is too long"));
  }
  text
    .parse::<f64>()
    .map_err(|_| scan.error(Kind::Syntax, format!("bad number {text}")))
}

fn literal<R: Read>(scan: &mut Scanner<R>, rest: &str, v: Value) -> Result<Value, AnalysisError> {
  for want in rest.bytes() {
    if scan.next()? != want {
      return Err(scan.error(Kind::Syntax, "bad literal"));
    }
  }
  Ok(v)
}

/// Where each location field sits in the `locations` array.
#[derive(Clone, Debug, PartialEq)]
pub struct LocationFields {
  pub count: usize,
  pub object_index: usize,
  pub script_id: usize,
  pub line: usize,
  pub column: usize,
}

/// Everything the parser and the graph need from `snapshot`.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
  pub node_field_count: usize,
  pub node_type: usize,
  pub node_name: usize,
  pub node_id: usize,
  pub node_self_size: usize,
  pub node_edge_count: usize,
  pub node_detachedness: Option<usize>,
  pub node_types: Vec<String>,
  pub edge_field_count: usize,
  pub edge_type: usize,
  pub edge_name: usize,
  pub edge_to: usize,
  pub edge_types: Vec<String>,
  pub locations: Option<LocationFields>,
  pub node_count: Option<u64>,
  pub edge_count: Option<u64>,
  pub root_index: Option<u64>,
  pub extra_native_bytes: u64,
}

impl Meta {
  pub fn from_header(header: &Value) -> Result<Meta, AnalysisError> {
    let bad = |what: String| AnalysisError::new(Kind::Meta, what);
    let meta = header
      .get("meta")
      .ok_or_else(|| bad("\"snapshot.meta\" is missing".into()))?;
    let list = |name: &str| {
      meta.get(name).and_then(Value::strings).ok_or_else(|| {
        bad(format!(
          "\"snapshot.meta.{name}\" is missing or not a list of names"
        ))
      })
    };
    let node_fields = list("node_fields")?;
    let edge_fields = list("edge_fields")?;
    let find = |fields: &[String], group: &str, name: &str| {
      fields.iter().position(|f| f == name).ok_or_else(|| {
        bad(format!(
          "\"snapshot.meta.{group}\" has no \"{name}\" (fields: {})",
          fields.join(", ")
        ))
      })
    };
    let node_type = find(&node_fields, "node_fields", "type")?;
    let edge_type = find(&edge_fields, "edge_fields", "type")?;
    let types = |name: &str, at: usize| {
      match meta.get(name) {
        Some(Value::Arr(items)) => items.get(at).and_then(Value::strings),
        _ => None,
      }
      .ok_or_else(|| {
        bad(format!(
          "\"snapshot.meta.{name}\" does not list the type names"
        ))
      })
    };
    let locations = match meta.get("location_fields").and_then(Value::strings) {
      Some(fields) if !fields.is_empty() => {
        let at = |name: &str| find(&fields, "location_fields", name);
        Some(LocationFields {
          count: fields.len(),
          object_index: at("object_index")?,
          script_id: at("script_id")?,
          line: at("line")?,
          column: at("column")?,
        })
      }
      _ => None,
    };
    let meta = Meta {
      node_field_count: node_fields.len(),
      node_type,
      node_name: find(&node_fields, "node_fields", "name")?,
      node_id: find(&node_fields, "node_fields", "id")?,
      node_self_size: find(&node_fields, "node_fields", "self_size")?,
      node_edge_count: find(&node_fields, "node_fields", "edge_count")?,
      node_detachedness: node_fields.iter().position(|f| f == "detachedness"),
      node_types: types("node_types", node_type)?,
      edge_field_count: edge_fields.len(),
      edge_type,
      edge_name: find(&edge_fields, "edge_fields", "name_or_index")?,
      edge_to: find(&edge_fields, "edge_fields", "to_node")?,
      edge_types: types("edge_types", edge_type)?,
      locations,
      node_count: header.get("node_count").and_then(Value::count),
      edge_count: header.get("edge_count").and_then(Value::count),
      root_index: header.get("root_index").and_then(Value::count),
      extra_native_bytes: header
        .get("extra_native_bytes")
        .and_then(Value::count)
        .unwrap_or(0),
    };
    if meta.node_types.len() > 255 || meta.edge_types.len() > 255 {
      return Err(bad("more than 255 node or edge types".into()));
    }
    Ok(meta)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  pub const NODE20_HEADER: &str = r#"{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],"trace_node_fields":["id","function_info_index","count","size","children"],"sample_fields":["timestamp_us","last_assigned_id"],"location_fields":["object_index","script_id","line","column"]},"node_count":10,"edge_count":20,"trace_function_count":0}"#;

  fn header(s: &str) -> Result<Meta, AnalysisError> {
    let mut scan = Scanner::new(s.as_bytes());
    Meta::from_header(&read_header(&mut scan)?)
  }

  #[test]
  fn reads_node_meta_by_name() {
    let m = header(NODE20_HEADER).unwrap();
    assert_eq!(m.node_field_count, 7);
    assert_eq!(m.node_self_size, 3);
    assert_eq!(m.node_detachedness, Some(6));
    assert_eq!(m.node_types[3], "object");
    assert_eq!(m.edge_types[6], "weak");
    assert_eq!(m.node_count, Some(10));
    assert_eq!(m.locations.as_ref().unwrap().column, 3);
  }

  #[test]
  fn reordered_and_extra_fields_are_found() {
    let s = NODE20_HEADER.replace(
      r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"]"#,
      r#""node_fields":["id","extra","type","name","self_size","edge_count"]"#,
    );
    let s = s.replace(
      r#""node_types":[["hidden""#,
      r#""node_types":["number","number",["hidden""#,
    );
    let m = header(&s).unwrap();
    assert_eq!((m.node_id, m.node_type, m.node_field_count), (0, 2, 6));
    assert_eq!(m.node_detachedness, None);
    assert_eq!(m.node_types[0], "hidden");
  }

  #[test]
  fn missing_meta_is_a_meta_error() {
    assert_eq!(header(r#"{"node_count":1}"#).unwrap_err().kind, Kind::Meta);
    let no_id = NODE20_HEADER.replace(r#""id","#, "");
    let e = header(&no_id).unwrap_err();
    assert_eq!(e.kind, Kind::Meta);
    assert!(e.message.contains("\"id\""), "{}", e.message);
  }

  #[test]
  fn deep_header_is_refused_not_overflowed() {
    let deep = "[".repeat(10_000);
    let mut scan = Scanner::new(deep.as_bytes());
    assert_eq!(
      read_value(&mut scan, u64::MAX).unwrap_err().kind,
      Kind::Syntax
    );
  }

  #[test]
  fn unknown_members_are_skipped_and_kept_ones_capped() {
    // An unknown member of any size is skipped, not materialised.
    let junk = format!("[{}0]", "0,".repeat(1 << 20));
    let s = NODE20_HEADER.replacen('{', &format!("{{\"junk\":{junk},"), 1);
    assert_eq!(header(&s).unwrap().node_count, Some(10));
    // A member leakwatch reads may not be larger than the cap.
    let s = NODE20_HEADER.replacen("\"meta\":{", &format!("\"meta\":{{\"junk\":{junk},"), 1);
    let e = header(&s).unwrap_err();
    assert_eq!(e.kind, Kind::TooLarge, "{e}");
    let long = format!("\"{}\"", "x".repeat(1 << 20));
    let s = NODE20_HEADER.replacen("\"meta\":{", &format!("\"meta\":{{\"junk\":{long},"), 1);
    assert_eq!(header(&s).unwrap_err().kind, Kind::TooLarge);
  }
}
