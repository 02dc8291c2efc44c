//! A copy of a snapshot with every string value replaced by a placeholder that tells only
//! its length class, so that a production snapshot can leave the host: class names, property
//! and variable names, function names, code locations, sizes and the whole graph stay.
//!
//! Which entries of `strings` are values: V8 names every node, and a string node's name is
//! its content (a concatenated or sliced string is named by its kind, "(concatenated
//! string)", its parts and parent by their content; a number node's name is its value when
//! numeric values are exposed, else "heap number"). Names are everything else: the name of any other node
//! (class, function, script, native names), of every edge named by a string (property,
//! variable, internal names), and allocation tracking's function and script names. V8 keeps one table entry per distinct text, so one entry can be
//! both. The rule: **an entry is kept only when something names itself with it** (a node of
//! a non-value type or a string-named edge); every other entry — values, and entries nothing
//! refers to — is replaced, except V8's kind names above. An entry that is a value and also a name is kept: V8 internalizes
//! every property key, so the key strings of every object are string nodes too, and replacing
//! those would replace the object shapes the analysis reads. The cost of the rule is that a
//! text the program uses as a name (a plain-object key such as `sessions[token] = …`, a
//! computed function name) survives; the same text kept as a Map key, an array element, a
//! property value, a closure variable's value or part of a concatenation is replaced.
//!
//! Two streaming passes and a bitset over string indices: the first reads node and edge
//! names (the numeric arrays block by block, as the parser does) and counts the strings;
//! the second copies the file byte for byte, rewriting only the entries of `strings` that
//! are not kept. The copy is written under a temporary name next to the output and renamed
//! over it when complete; on any error the temporary file is removed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::control::{Control, Tracked};
use super::error::{AnalysisError, Kind};
use super::header::{read_header, Meta, Value};
use super::parse::grow;
use super::scan::Scanner;

/// Node types whose name is the node's value rather than a name.
const VALUE_TYPES: [&str; 5] = [
  "string",
  "concatenated string",
  "sliced string",
  "number",
  "bigint",
];

/// The names V8 gives value nodes whose content it does not show: kept, they are not data.
const KIND_NAMES: [&[u8]; 4] = [
  b"(concatenated string)",
  b"(sliced string)",
  b"heap number",
  b"bigint",
];

/// What [`crate::redact`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactReport {
  /// The output file.
  pub file: String,
  /// Its size, bytes.
  pub file_bytes: u64,
  /// Entries in the strings table.
  pub strings: u64,
  /// Entries replaced by a placeholder.
  pub redacted: u64,
}

/// One bit per string index: kept (used as a name).
struct Names {
  bits: Vec<u64>,
  /// No index may reach this: more strings than the file has room for.
  cap: u64,
  /// Largest string index any node or string-named edge refers to, plus one.
  used: u64,
}

impl Names {
  fn check(&mut self, index: u32, what: &str) -> Result<(), AnalysisError> {
    let i = index as u64;
    if i >= self.cap {
      return Err(AnalysisError::new(
        Kind::Range,
        format!("{what} names string {i}, more strings than the file holds"),
      ));
    }
    self.used = self.used.max(i + 1);
    Ok(())
  }

  fn keep(&mut self, index: u32, what: &str) -> Result<(), AnalysisError> {
    self.check(index, what)?;
    let word = (index / 64) as usize;
    if word >= self.bits.len() {
      let extra = word + 1 - self.bits.len();
      grow(&mut self.bits, extra, "the names")?;
      self.bits.resize(word + 1, 0);
    }
    self.bits[word] |= 1 << (index % 64);
    Ok(())
  }

  fn kept(&self, index: u64) -> bool {
    self
      .bits
      .get((index / 64) as usize)
      .is_some_and(|w| w & (1 << (index % 64)) != 0)
  }
}

/// Pairs two fields of a numeric table whose blocks may end inside a row.
#[derive(Default)]
struct Pairs {
  first: Vec<u32>,
  second: Vec<u32>,
}

impl Pairs {
  fn feed(
    &mut self,
    a: &[u32],
    b: &[u32],
    mut each: impl FnMut(u32, u32) -> Result<(), AnalysisError>,
  ) -> Result<(), AnalysisError> {
    grow(&mut self.first, a.len(), "a block")?;
    grow(&mut self.second, b.len(), "a block")?;
    self.first.extend_from_slice(a);
    self.second.extend_from_slice(b);
    let n = self.first.len().min(self.second.len());
    for k in 0..n {
      each(self.first[k], self.second[k])?;
    }
    self.first.drain(..n);
    self.second.drain(..n);
    Ok(())
  }
}

/// Pass one: which string indices are names, and how many strings there are.
fn names<R: Read>(source: R, size: u64) -> Result<(Names, u64), AnalysisError> {
  let mut scan = Scanner::new(source);
  match scan.skip_ws()? {
    None => return Err(AnalysisError::new(Kind::Empty, "the file is empty")),
    Some(b'{') => scan.bump(),
    Some(_) => {
      return Err(scan.error(
        Kind::Syntax,
        "not a heap snapshot: it does not start with '{'",
      ))
    }
  }
  let mut names = Names {
    bits: Vec::new(),
    // Each string takes at least three bytes (`"",`).
    cap: size / 3 + 1,
    used: 0,
  };
  let mut meta: Option<Meta> = None;
  // Allocation tracking's function table: (fields, name field, script name field).
  let mut functions: Option<(usize, usize, usize)> = None;
  let mut strings: Option<u64> = None;
  let mut seen = (false, false);
  loop {
    let key = scan.key()?;
    match key.as_str() {
      "snapshot" => {
        let at = scan.offset();
        let header = read_header(&mut scan)?;
        meta = Some(Meta::from_header(&header).map_err(|e| e.with_offset(at))?);
        functions = function_fields(&header);
      }
      "trace_function_infos" => match functions {
        Some((fields, name, script)) => {
          let mut pairs = Pairs::default();
          scan.u32_array(&key, fields, |cols| {
            pairs.feed(&cols[name], &cols[script], |a, b| {
              names.keep(a, "a traced function")?;
              names.keep(b, "a traced function")
            })
          })?;
        }
        None => scan.skip_value()?,
      },
      "nodes" | "edges" => {
        let nodes = key == "nodes";
        let m = meta.as_ref().ok_or_else(|| {
          scan.error(
            Kind::Meta,
            format!("\"{key}\" comes before \"snapshot.meta\", which says how to read it"),
          )
        })?;
        let (fields, type_field, name_field, types) = if nodes {
          (m.node_field_count, m.node_type, m.node_name, &m.node_types)
        } else {
          (m.edge_field_count, m.edge_type, m.edge_name, &m.edge_types)
        };
        let named: Vec<bool> = types
          .iter()
          .map(|t| {
            if nodes {
              !VALUE_TYPES.contains(&t.as_str())
            } else {
              t != "element" && t != "hidden"
            }
          })
          .collect();
        let what = if nodes { "a node" } else { "an edge" };
        let mut pairs = Pairs::default();
        // Self sizes may pass 4 GiB, as `analyze` reads them; the copy keeps their text.
        let wide = nodes.then_some(m.node_self_size);
        let (count, _) = scan.u32_array_wide(&key, fields, wide, |cols| {
          pairs.feed(
            &cols[type_field],
            &cols[name_field],
            |ty, name| match named.get(ty as usize) {
              None => Err(AnalysisError::new(
                Kind::Range,
                format!(
                  "{what} has type {ty}, not one of the {} types in the meta",
                  named.len()
                ),
              )),
              Some(true) => names.keep(name, what),
              Some(false) if nodes => names.check(name, what),
              Some(false) => Ok(()),
            },
          )
        })?;
        if !count.is_multiple_of(fields as u64) {
          return Err(scan.error(
            Kind::Range,
            format!("\"{key}\" holds {count} values, not a multiple of its {fields} fields"),
          ));
        }
        if nodes {
          seen.0 = true;
        } else {
          seen.1 = true;
        }
      }
      "strings" => strings = Some(count_strings(&mut scan, &mut names)?),
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
  let missing = |section: &str| {
    AnalysisError::new(
      Kind::Syntax,
      format!("not a heap snapshot: there is no \"{section}\" section"),
    )
  };
  meta.ok_or_else(|| missing("snapshot"))?;
  if !seen.0 {
    return Err(missing("nodes"));
  }
  if !seen.1 {
    return Err(missing("edges"));
  }
  let strings = strings.ok_or_else(|| missing("strings"))?;
  if names.used > strings {
    return Err(AnalysisError::new(
      Kind::Range,
      format!(
        "a node or edge names string {}, but there are {strings} strings",
        names.used - 1
      ),
    ));
  }
  Ok((names, strings))
}

/// Where `trace_function_infos` (allocation tracking) holds its function and script names.
fn function_fields(header: &Value) -> Option<(usize, usize, usize)> {
  let Some(Value::Arr(items)) = header
    .get("meta")
    .and_then(|m| m.get("trace_function_info_fields"))
  else {
    return None;
  };
  let at = |name: &str| {
    items
      .iter()
      .position(|v| matches!(v, Value::Str(s) if s == name))
  };
  Some((items.len(), at("name")?, at("script_name")?))
}

/// Counts the strings, keeping those that are one of V8's `KIND_NAMES`.
fn count_strings<R: Read>(scan: &mut Scanner<R>, names: &mut Names) -> Result<u64, AnalysisError> {
  scan.expect(b'[')?;
  if scan.skip_ws()? == Some(b']') {
    scan.bump();
    return Ok(0);
  }
  let mut count = 0u64;
  let mut head = Vec::with_capacity(32);
  loop {
    scan.expect(b'"')?;
    head.clear();
    let whole = scan.string_into_capped(&mut head, 32)?;
    if whole && KIND_NAMES.contains(&head.as_slice()) {
      let index =
        u32::try_from(count).map_err(|_| scan.error(Kind::Range, "more than 2^32 strings"))?;
      names.keep(index, "a string")?;
    }
    count += 1;
    match scan.token()? {
      b',' => {}
      b']' => return Ok(count),
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

/// The placeholder of a string of `chars` characters: its length class only.
pub fn placeholder(chars: u64) -> String {
  match chars {
    0 => return String::new(),
    1 => return "<redacted 1>".to_string(),
    _ => {}
  }
  let low = 1u64 << (63 - chars.leading_zeros());
  format!("<redacted {low}-{}>", low.saturating_mul(2) - 1)
}

const ESCAPE_LETTER: u8 = 5;

/// Where the copier stands.
#[derive(Default)]
struct Copier {
  /// Open containers.
  depth: u32,
  in_string: bool,
  /// Inside an escape: `ESCAPE_LETTER` right after the backslash, then the hex digits of a
  /// `\u` escape still to come (0: not in an escape).
  escape: u8,
  /// Characters of the current string so far.
  chars: u64,
  /// At depth 1, the next string is a member name.
  expect_key: bool,
  key: Vec<u8>,
  reading_key: bool,
  /// The member just named is "strings": its array is the strings table.
  strings_next: bool,
  in_table: bool,
  table_seen: bool,
  /// Index of the next entry of the table.
  entry: u64,
  /// The current entry is replaced: its bytes are not copied.
  hiding: bool,
  redacted: u64,
}

/// Pass two: copies `source` to `out`, replacing the entries of `strings` that `names`
/// does not keep. Returns how many were replaced.
fn copy<R: Read, W: Write>(
  mut source: R,
  out: &mut W,
  names: &Names,
  strings: u64,
) -> Result<u64, AnalysisError> {
  let mut buf = vec![0u8; 1 << 20];
  let mut c = Copier::default();
  let mut offset = 0u64;
  let write = |out: &mut W, bytes: &[u8]| {
    out
      .write_all(bytes)
      .map_err(|e| AnalysisError::write_io(&e, "write the redacted copy"))
  };
  let changed = |at: u64| {
    AnalysisError::at(
      Kind::Read,
      "the snapshot changed while it was being redacted",
      at,
    )
  };
  loop {
    let n = super::scan::read_some(&mut source, &mut buf)?;
    if n == 0 {
      break;
    }
    let chunk = &buf[..n];
    let mut from = 0;
    for (i, &b) in chunk.iter().enumerate() {
      if c.in_string {
        if c.escape == ESCAPE_LETTER {
          c.escape = if b == b'u' { 4 } else { 0 };
          continue;
        }
        if c.escape > 0 {
          c.escape -= 1;
          continue;
        }
        match b {
          b'\\' => {
            c.chars += 1;
            c.escape = ESCAPE_LETTER;
          }
          b'"' => {
            c.in_string = false;
            if c.hiding {
              write(out, placeholder(c.chars).as_bytes())?;
              from = i;
              c.hiding = false;
            }
            if c.reading_key {
              c.reading_key = false;
              c.strings_next = c.key == b"strings";
            }
          }
          _ => {
            if b & 0xC0 != 0x80 {
              c.chars += 1;
            }
            if c.reading_key && c.key.len() < 16 {
              c.key.push(b);
            }
          }
        }
        continue;
      }
      match b {
        b'"' => {
          c.in_string = true;
          c.chars = 0;
          if c.depth == 1 && c.expect_key {
            c.expect_key = false;
            c.reading_key = true;
            c.key.clear();
          } else if c.in_table && c.depth == 2 {
            if c.entry >= strings {
              return Err(changed(offset + i as u64));
            }
            if !names.kept(c.entry) {
              write(out, &chunk[from..=i])?;
              from = i + 1;
              c.hiding = true;
              c.redacted += 1;
            }
            c.entry += 1;
          }
        }
        b'{' | b'[' => {
          c.depth += 1;
          if c.depth == 1 {
            if b != b'{' {
              return Err(changed(offset + i as u64));
            }
            c.expect_key = true;
          } else if c.depth == 2 && c.strings_next {
            if b != b'[' || c.table_seen {
              return Err(changed(offset + i as u64));
            }
            c.in_table = true;
            c.table_seen = true;
          }
          c.strings_next = false;
        }
        b'}' | b']' => {
          if c.depth == 0 {
            return Err(changed(offset + i as u64));
          }
          if c.depth == 2 && c.in_table {
            c.in_table = false;
          }
          c.depth -= 1;
        }
        b',' if c.depth == 1 => {
          c.expect_key = true;
          c.strings_next = false;
        }
        _ => {}
      }
    }
    if !c.hiding {
      write(out, &chunk[from..])?;
    }
    offset += n as u64;
  }
  if c.depth != 0 || c.in_string || !c.table_seen || c.entry != strings {
    return Err(changed(offset));
  }
  Ok(c.redacted)
}

/// [`redact`] of a snapshot held in memory: the copy's bytes. The redaction fuzz target's
/// entry.
pub fn redact_bytes(bytes: &[u8]) -> Result<(Vec<u8>, u64), AnalysisError> {
  let (names, strings) = names(bytes, bytes.len() as u64)?;
  let mut out = Vec::new();
  grow(&mut out, bytes.len(), "the copy")?;
  let redacted = copy(bytes, &mut out, &names, strings)?;
  Ok((out, redacted))
}

/// The temporary file next to `target`, created new (never an existing file or a link).
fn create_temporary(target: &Path) -> Result<(File, PathBuf), AnalysisError> {
  let dir = match target.parent() {
    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
    _ => PathBuf::from("."),
  };
  let base = target
    .file_name()
    .map(|n| n.to_string_lossy().into_owned())
    .unwrap_or_else(|| "snapshot".into());
  let mut attempt = 0u32;
  loop {
    let nanos = std::time::SystemTime::now()
      .duration_since(std::time::UNIX_EPOCH)
      .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!(
      ".{base}.{}-{nanos:x}-{attempt}.redacting",
      std::process::id()
    ));
    match OpenOptions::new().write(true).create_new(true).open(&path) {
      Ok(f) => return Ok((f, path)),
      Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
      Err(e) => {
        return Err(AnalysisError::write_io(
          &e,
          &format!("create a file in {}", dir.display()),
        ))
      }
    }
  }
}

/// Redacts `input` into `output` (see the module's note for what is kept).
pub fn redact(input: &str, output: &str, control: &Control) -> Result<RedactReport, AnalysisError> {
  let (file, size) = super::open(input)?;
  control.start_reading(1, size.saturating_mul(2));
  let (names, strings) = names(
    Tracked {
      inner: file,
      control,
    },
    size,
  )
  .map_err(|e| e.in_file(input))?;
  control.check()?;
  let (file, _) = super::open(input)?;
  let target = Path::new(output);
  let (tmp, tmp_path) = create_temporary(target).map_err(|e| e.in_file(output))?;
  let written = (|| -> Result<(u64, u64), AnalysisError> {
    let mut out = BufWriter::with_capacity(1 << 20, tmp);
    let redacted = copy(
      Tracked {
        inner: file,
        control,
      },
      &mut out,
      &names,
      strings,
    )
    .map_err(|e| {
      if e.kind == Kind::Write {
        e.in_file(output)
      } else {
        e.in_file(input)
      }
    })?;
    let tmp = out
      .into_inner()
      .map_err(|e| AnalysisError::write_io(e.error(), "write the redacted copy").in_file(output))?;
    tmp
      .sync_all()
      .map_err(|e| AnalysisError::write_io(&e, "write the redacted copy").in_file(output))?;
    let bytes = tmp
      .metadata()
      .map_err(|e| AnalysisError::write_io(&e, "write the redacted copy").in_file(output))?
      .len();
    control.check()?;
    std::fs::rename(&tmp_path, target)
      .map_err(|e| AnalysisError::write_io(&e, "rename the redacted copy").in_file(output))?;
    Ok((redacted, bytes))
  })();
  match written {
    Ok((redacted, file_bytes)) => Ok(RedactReport {
      file: output.to_string(),
      file_bytes,
      strings,
      redacted,
    }),
    Err(e) => {
      let _ = std::fs::remove_file(&tmp_path);
      Err(e)
    }
  }
}
