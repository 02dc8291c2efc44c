//! Redaction on crafted snapshots: what is replaced and kept, the analysis of the copy,
//! and bad input.

use super::control::Control;
use super::error::Kind;
use super::redact::*;
use crate::crafted::Builder;
use std::path::PathBuf;

#[test]
fn placeholders_tell_the_length_class_only() {
  assert_eq!(placeholder(0), "");
  assert_eq!(placeholder(1), "<redacted 1>");
  assert_eq!(placeholder(2), "<redacted 2-3>");
  assert_eq!(placeholder(7), "<redacted 4-7>");
  assert_eq!(placeholder(8), "<redacted 8-15>");
  assert_eq!(placeholder(1000), "<redacted 512-1023>");
}

fn dir(name: &str) -> PathBuf {
  let d = std::env::temp_dir().join(format!("leakwatch-redact-{}-{name}", std::process::id()));
  let _ = std::fs::remove_dir_all(&d);
  std::fs::create_dir_all(&d).unwrap();
  d
}

/// A holder with values only, a value that is also a property name, a concatenated
/// string, an escaped string, an entry nothing refers to, and allocation tracking's names
/// of a function and its script.
fn sample() -> String {
  let mut b = Builder::default();
  let text = sample_with(&mut b);
  let function = b.string("tracedFunction");
  let script = b.string("file:///app/traced.js");
  let fields = r#""trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],"#;
  let text = text
    .replacen(
      r#""location_fields":"#,
      &(fields.to_string() + r#""location_fields":"#),
      1,
    )
    .replacen(
      r#","strings":"#,
      &format!(r#","trace_function_infos":[1,{function},{script},7,1,2],"strings":"#),
      1,
    );
  // The strings table, with the two names added after the builder wrote its text.
  let at = text.rfind(r#""strings":"#).unwrap();
  format!(
    "{}\"strings\":{}}}",
    &text[..at],
    serde_json::to_string(&b.strings_for_test()).unwrap()
  )
}

fn sample_with(b: &mut Builder) -> String {
  let empty = b.string("");
  let holder = b.string("Holder");
  let token = b.string("token");
  let secret = b.string("s3cr3t-value-xyz");
  let part = b.string("cons-part-and-more");
  let shared = b.string("sharedName");
  let escaped = b.string("quote \" and \\ and \u{e9} and \n zq-tail");
  b.string("unreferenced-secret");
  let object = b.string("Object");
  let root = b.node("synthetic", empty, 0);
  let h = b.node("object", holder, 32);
  let o = b.node("object", object, 16);
  let s1 = b.node("string", secret, 40);
  let s2 = b.node("concatenated string", part, 32);
  let s3 = b.node("string", shared, 24);
  let s4 = b.node("string", escaped, 48);
  b.edge(root, "element", 1, h);
  b.edge(h, "property", token, s1);
  b.edge(h, "property", shared, s3);
  b.edge(h, "internal", token, s2);
  b.edge(h, "property", shared, o);
  b.edge(o, "property", token, s4);
  b.json()
}

fn limits() -> crate::Limits {
  crate::Limits {
    classes: usize::MAX,
    paths: usize::MAX,
    largest: 100,
    groups: 10,
  }
}

#[test]
fn values_are_replaced_names_and_the_analysis_stay() {
  let d = dir("sample");
  let input = d.join("in.heapsnapshot");
  let output = d.join("out.heapsnapshot");
  let text = sample();
  std::fs::write(&input, &text).unwrap();
  let report = redact(
    input.to_str().unwrap(),
    output.to_str().unwrap(),
    &Control::default(),
  )
  .unwrap();
  let out = std::fs::read(&output).unwrap();
  let out_text = String::from_utf8(out.clone()).unwrap();
  for secret in ["s3cr3t", "cons-part", "unreferenced", "quote", "zq-tail"] {
    assert!(
      !out_text.contains(secret),
      "{secret} survives in {out_text}"
    );
  }
  for name in [
    "Holder",
    "token",
    "sharedName",
    "Object",
    "tracedFunction",
    "file:///app/traced.js",
  ] {
    assert!(out_text.contains(name), "{name} is gone from {out_text}");
  }
  assert!(out_text.contains("\"<redacted 16-31>\""), "{out_text}");
  assert_eq!(report.strings, 11);
  // The three value-only entries and the unreferenced one (the root names itself "").
  assert_eq!(report.redacted, 4);
  assert_eq!(report.file_bytes, out.len() as u64);
  let control = Control::default();
  let before = crate::analyze_bytes(text.as_bytes(), &limits(), &control).unwrap();
  let after = crate::analyze_bytes(&out, &limits(), &control).unwrap();
  let json = |v: &dyn erased| v.json();
  assert_eq!(json(&before.classes), json(&after.classes));
  assert_eq!(json(&before.largest), json(&after.largest));
  assert_eq!(before.summary.node_count, after.summary.node_count);
  assert_eq!(before.summary.total_size, after.summary.total_size);
  // Nothing else is left in the directory.
  let mut left: Vec<_> = std::fs::read_dir(&d)
    .unwrap()
    .map(|e| e.unwrap().file_name().into_string().unwrap())
    .collect();
  left.sort();
  assert_eq!(left, vec!["in.heapsnapshot", "out.heapsnapshot"]);
  // In place: the input replaced by its redacted copy.
  redact(
    input.to_str().unwrap(),
    input.to_str().unwrap(),
    &Control::default(),
  )
  .unwrap();
  assert_eq!(std::fs::read(&input).unwrap(), out);
  let _ = std::fs::remove_dir_all(&d);
}

trait Erased {
  fn json(&self) -> String;
}
use Erased as erased;
impl<T: serde::Serialize> Erased for T {
  fn json(&self) -> String {
    serde_json::to_string(self).unwrap()
  }
}

/// Every file of the broken-snapshot corpus: redaction refuses it with the kind the
/// analysis gives, or copies it, and then the copy analyses as the original does.
#[test]
fn the_corpus_keeps_its_faults() {
  let corpus =
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/snapshots");
  let mut copied = 0;
  for entry in std::fs::read_dir(corpus).unwrap() {
    let path = entry.unwrap().path();
    let bytes = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let analysed = crate::analyze_bytes(&bytes, &limits(), &Control::default()).map(|_| ());
    match redact_bytes(&bytes) {
      Ok((copy, _)) => {
        copied += 1;
        let again = crate::analyze_bytes(&copy, &limits(), &Control::default()).map(|_| ());
        assert_eq!(
          again.map_err(|e| e.kind),
          analysed.map_err(|e| e.kind),
          "{name}"
        );
      }
      Err(e) => assert_eq!(Some(e.kind), analysed.err().map(|a| a.kind), "{name}: {e}"),
    }
  }
  assert!(copied >= 3, "{copied} copied");
}

#[test]
fn bad_input_is_an_error_with_a_kind_and_leaves_no_file() {
  let d = dir("bad");
  let good = sample();
  let cut = &good[..good.len() / 2];
  let name_out_of_range = good.replacen("],\"edges\"", ",3,99,999,8,0,0,0],\"edges\"", 1);
  let cases: Vec<(&str, String, Kind)> = vec![
    ("empty", String::new(), Kind::Empty),
    ("not-json", "hello".into(), Kind::Syntax),
    ("truncated", cut.to_string(), Kind::Truncated),
    (
      "no-strings",
      good[..good.find(",\"strings\"").unwrap()].to_string() + "}",
      Kind::Syntax,
    ),
    (
      "strings-not-strings",
      good[..good.find("\"strings\":").unwrap()].to_string() + "\"strings\":[1,2]}",
      Kind::Syntax,
    ),
    (
      "bad-type",
      good.replacen("\"nodes\":[9,", "\"nodes\":[99,", 1),
      Kind::Range,
    ),
    ("name-out-of-range", name_out_of_range, Kind::Range),
    (
      "negative",
      good.replacen("\"nodes\":[9,", "\"nodes\":[-9,", 1),
      Kind::Range,
    ),
  ];
  for (name, text, kind) in cases {
    let input = d.join(format!("{name}.heapsnapshot"));
    std::fs::write(&input, &text).unwrap();
    let output = d.join(format!("{name}.out"));
    let err = redact(
      input.to_str().unwrap(),
      output.to_str().unwrap(),
      &Control::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, kind, "{name}: {err}");
    assert!(!output.exists(), "{name}: no output");
    std::fs::remove_file(&input).unwrap();
  }
  let missing = redact(
    d.join("missing").to_str().unwrap(),
    d.join("x").to_str().unwrap(),
    &Control::default(),
  )
  .unwrap_err();
  assert_eq!((missing.kind, missing.errno), (Kind::Read, Some("ENOENT")));
  let input = d.join("ok.heapsnapshot");
  std::fs::write(&input, &good).unwrap();
  let no_dir = redact(
    input.to_str().unwrap(),
    d.join("no/such/dir/out").to_str().unwrap(),
    &Control::default(),
  )
  .unwrap_err();
  assert_eq!((no_dir.kind, no_dir.errno), (Kind::Write, Some("ENOENT")));
  let left: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
  assert_eq!(left.len(), 1, "only the input is left");
  let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn self_sizes_past_4_gib_are_copied_as_analyze_reads_them() {
  let mut b = Builder::default();
  let empty = b.string("");
  let buffer = b.string("ArrayBuffer");
  let data = b.string("system / JSArrayBufferData");
  let store = b.string("backing_store");
  let root = b.node("synthetic", empty, 0);
  let holder = b.node("object", buffer, 40);
  let backing = b.node("native", data, 5_000_000_000);
  b.edge(root, "shortcut", store, holder);
  b.edge(holder, "internal", store, backing);
  let text = b.json();
  let (copy, _) = redact_bytes(text.as_bytes()).unwrap();
  let report = crate::analyze_bytes(&copy, &limits(), &Control::default()).unwrap();
  assert_eq!(report.summary.total_size, 5_000_000_040);
}
