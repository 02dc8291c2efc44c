//! The analysis reports as JavaScript receives them: `#[napi(object)]` mirrors of the report
//! structs of `leakwatch-analysis` (which stays napi-free). Each conversion destructures the Rust struct without `..`, so a field
//! added there does not compile until it is added here; `__test__/report-types.test.js` checks
//! that these generated types (binding.d.ts) are identical to the public ones in index.d.ts.
//!
//! Sizes and counts are `u64` in Rust and JavaScript numbers here (exact below 2^53), as
//! they were when the reports crossed as JSON text. A missing value is `null` where the JSON
//! had `null` (`use_nullable`) and absent where the JSON left it out.

use leakwatch_analysis as analysis;
use napi_derive::napi;

fn number(v: u64) -> f64 {
  v as f64
}

#[napi(object, use_nullable = true)]
pub struct SnapshotSummary {
  pub file: String,
  pub file_bytes: f64,
  pub node_count: f64,
  pub edge_count: f64,
  /// DevTools' total: the root's retained size plus V8's extra native bytes.
  pub total_size: f64,
  /// Sum of all self sizes (after DevTools' shallow-size attribution).
  pub self_size: f64,
  pub class_count: f64,
  /// Nodes not reachable from the root through retaining edges.
  pub unreachable_nodes: Option<f64>,
}

impl From<analysis::Summary> for SnapshotSummary {
  fn from(s: analysis::Summary) -> Self {
    let analysis::Summary {
      file,
      file_bytes,
      node_count,
      edge_count,
      total_size,
      self_size,
      class_count,
      unreachable_nodes,
    } = s;
    SnapshotSummary {
      file,
      file_bytes: number(file_bytes),
      node_count: number(node_count),
      edge_count: number(edge_count),
      total_size: number(total_size),
      self_size: number(self_size),
      class_count: number(class_count),
      unreachable_nodes: unreachable_nodes.map(number),
    }
  }
}

/// One step of a retainer path, from the roots towards the object.
#[napi(object)]
pub struct RetainerStep {
  /// Class of the holding object.
  pub holder: String,
  pub holder_id: u32,
  /// Edge type: "property", "element", "context", "internal", "hidden", "shortcut", ….
  pub edge_type: String,
  /// A property or variable name, or an index.
  pub edge: String,
}

#[napi(object)]
pub struct RetainerPath {
  pub steps: Vec<RetainerStep>,
  /// Class of the retained object.
  pub target: String,
  pub target_id: u32,
  /// Steps were dropped near the roots (longer than 48 steps).
  pub truncated: bool,
  /// Only weakly reachable or unreachable: no path.
  pub unreachable: bool,
}

impl From<analysis::RetainerPath> for RetainerPath {
  fn from(p: analysis::RetainerPath) -> Self {
    let analysis::RetainerPath {
      steps,
      target,
      target_id,
      truncated,
      unreachable,
    } = p;
    RetainerPath {
      steps: steps
        .into_iter()
        .map(|step| {
          let analysis::Step {
            holder,
            holder_id,
            edge_type,
            edge,
          } = step;
          RetainerStep {
            holder,
            holder_id,
            edge_type,
            edge,
          }
        })
        .collect(),
      target,
      target_id,
      truncated,
      unreachable,
    }
  }
}

/// A class as DevTools' Summary view shows it.
#[napi(object)]
pub struct ClassSummary {
  pub name: String,
  /// DevTools' class key (",Name" or "script,line,column,Name").
  pub key: String,
  pub count: f64,
  pub self_size: f64,
  pub retained_size: f64,
  pub distance: i32,
  /// Retainer path of the class's largest instance (absent beyond `paths`).
  pub path: Option<RetainerPath>,
}

impl From<analysis::ClassRow> for ClassSummary {
  fn from(c: analysis::ClassRow) -> Self {
    let analysis::ClassRow {
      name,
      key,
      count,
      self_size,
      retained_size,
      distance,
      path,
    } = c;
    ClassSummary {
      name,
      key,
      count: number(count),
      self_size: number(self_size),
      retained_size: number(retained_size),
      distance,
      path: path.map(Into::into),
    }
  }
}

#[napi(object)]
pub struct ObjectSummary {
  pub name: String,
  pub id: u32,
  #[napi(js_name = "type")]
  pub node_type: String,
  pub self_size: f64,
  pub retained_size: f64,
  pub path: RetainerPath,
}

impl From<analysis::ObjectRow> for ObjectSummary {
  fn from(o: analysis::ObjectRow) -> Self {
    let analysis::ObjectRow {
      name,
      id,
      node_type,
      self_size,
      retained_size,
      path,
    } = o;
    ObjectSummary {
      name,
      id,
      node_type,
      self_size: number(self_size),
      retained_size: number(retained_size),
      path: path.into(),
    }
  }
}

/// What `analyze()` resolves with.
#[napi(object)]
pub struct AnalyzeReport {
  pub summary: SnapshotSummary,
  /// By retained size, largest first.
  pub classes: Vec<ClassSummary>,
  /// The objects retaining the most, largest first.
  pub largest: Vec<ObjectSummary>,
}

impl From<analysis::AnalyzeReport> for AnalyzeReport {
  fn from(r: analysis::AnalyzeReport) -> Self {
    let analysis::AnalyzeReport {
      summary,
      classes,
      largest,
    } = r;
    AnalyzeReport {
      summary: summary.into(),
      classes: classes.into_iter().map(Into::into).collect(),
      largest: largest.into_iter().map(Into::into).collect(),
    }
  }
}

/// Per-class change from the first snapshot to the last.
#[napi(object)]
pub struct ClassDiff {
  pub name: String,
  pub key: String,
  pub added_count: f64,
  pub removed_count: f64,
  pub count_delta: f64,
  pub added_size: f64,
  pub removed_size: f64,
  pub size_delta: f64,
}

impl From<analysis::DiffRow> for ClassDiff {
  fn from(r: analysis::DiffRow) -> Self {
    let analysis::DiffRow {
      name,
      key,
      added_count,
      removed_count,
      count_delta,
      added_size,
      removed_size,
      size_delta,
    } = r;
    ClassDiff {
      name,
      key,
      added_count: number(added_count),
      removed_count: number(removed_count),
      count_delta: count_delta as f64,
      added_size: number(added_size),
      removed_size: number(removed_size),
      size_delta: size_delta as f64,
    }
  }
}

#[napi(object)]
pub struct DiffTotals {
  pub added_count: f64,
  pub removed_count: f64,
  pub added_size: f64,
  pub removed_size: f64,
}

/// One class across all the snapshots (for charts).
#[napi(object)]
pub struct ClassSeries {
  pub name: String,
  pub key: String,
  pub count: Vec<f64>,
  pub self_size: Vec<f64>,
}

/// Objects held the same way: same class, same path shape.
#[napi(object)]
pub struct GrowthGroup {
  pub name: String,
  pub count: f64,
  pub self_size: f64,
  /// What freeing these objects would free.
  pub retained_size: f64,
  /// The path of one of them (the one retaining the most).
  pub path: RetainerPath,
  /// A few of their ids, to look up in DevTools.
  pub ids: Vec<u32>,
}

/// Which objects `growth` holds.
#[napi(string_enum)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// The variants read as the values JavaScript sees ("new-in-second…").
#[allow(clippy::enum_variant_names)]
pub enum GrowthBasis {
  /// Two snapshots: objects new in the second.
  #[napi(value = "new-in-second")]
  NewInSecond,
  /// Three: allocated between the first and second and alive in the third.
  #[napi(value = "new-in-second-alive-in-third")]
  NewInSecondAliveInThird,
  /// Four or more: allocated between the first and second and alive in the last.
  #[napi(value = "new-in-second-alive-in-last")]
  NewInSecondAliveInLast,
}

impl GrowthBasis {
  /// From the analyser's name; None for a name this addon does not know.
  fn from_name(name: &str) -> Option<Self> {
    match name {
      "new-in-second" => Some(GrowthBasis::NewInSecond),
      "new-in-second-alive-in-third" => Some(GrowthBasis::NewInSecondAliveInThird),
      "new-in-second-alive-in-last" => Some(GrowthBasis::NewInSecondAliveInLast),
      _ => None,
    }
  }
}

/// An object whose retained size grew at every snapshot (three snapshots or more).
#[napi(object)]
pub struct GrowingObject {
  pub name: String,
  /// Snapshot id, the same in every snapshot of the process.
  pub id: u32,
  /// V8 node type ("object", "closure", …).
  #[napi(js_name = "type")]
  pub node_type: String,
  /// Self size in the last snapshot, bytes.
  pub self_size: f64,
  /// Retained size in each snapshot, in order, bytes.
  pub retained_size: Vec<f64>,
  /// Retained size in the last snapshot minus in the first, bytes.
  pub growth: f64,
  /// Retainer path in the last snapshot.
  pub path: RetainerPath,
  /// The path as one line of text.
  pub path_text: String,
}

impl From<analysis::GrowingObject> for GrowingObject {
  fn from(o: analysis::GrowingObject) -> Self {
    let analysis::GrowingObject {
      name,
      id,
      node_type,
      self_size,
      retained_size,
      growth,
      path,
      path_text,
    } = o;
    GrowingObject {
      name,
      id,
      node_type,
      self_size: number(self_size),
      retained_size: retained_size.into_iter().map(number).collect(),
      growth: number(growth),
      path: path.into(),
      path_text,
    }
  }
}

/// A class whose instance count grew at every snapshot (three snapshots or more).
#[napi(object)]
pub struct GrowingClass {
  pub name: String,
  pub key: String,
  /// Live instances in each snapshot.
  pub count: Vec<f64>,
  /// Their self size in each snapshot, bytes.
  pub self_size: Vec<f64>,
  /// The class's retained size in each snapshot, bytes.
  pub retained_size: Vec<f64>,
  /// Retained size in the last snapshot minus in the first, bytes (may be negative).
  pub growth: f64,
  /// Path in the last snapshot of the instance new since the first that retains the most.
  pub path: RetainerPath,
  /// The path as one line of text.
  pub path_text: String,
}

impl From<analysis::GrowingClass> for GrowingClass {
  fn from(c: analysis::GrowingClass) -> Self {
    let analysis::GrowingClass {
      name,
      key,
      count,
      self_size,
      retained_size,
      growth,
      path,
      path_text,
    } = c;
    GrowingClass {
      name,
      key,
      count: count.into_iter().map(number).collect(),
      self_size: self_size.into_iter().map(number).collect(),
      retained_size: retained_size.into_iter().map(number).collect(),
      growth: growth as f64,
      path: path.into(),
      path_text,
    }
  }
}

/// What `diff()` resolves with.
#[napi(object)]
pub struct DiffReport {
  pub snapshots: Vec<SnapshotSummary>,
  pub growth_basis: GrowthBasis,
  /// First snapshot against the last, by size delta, largest growth first.
  pub classes: Vec<ClassDiff>,
  pub totals: DiffTotals,
  pub series: Vec<ClassSeries>,
  pub growth: Vec<GrowthGroup>,
  /// Three snapshots or more: objects whose retained size grew at every snapshot.
  pub growing: Vec<GrowingObject>,
  /// Three snapshots or more: classes whose count grew at every snapshot.
  pub growing_classes: Vec<GrowingClass>,
}

impl TryFrom<analysis::DiffReport> for DiffReport {
  /// The growth basis the analyser named, when this addon does not know it.
  type Error = &'static str;

  fn try_from(r: analysis::DiffReport) -> Result<Self, Self::Error> {
    let analysis::DiffReport {
      snapshots,
      growth_basis,
      classes,
      totals,
      series,
      growth,
      growing,
      growing_classes,
    } = r;
    let analysis::Totals {
      added_count,
      removed_count,
      added_size,
      removed_size,
    } = totals;
    Ok(DiffReport {
      snapshots: snapshots.into_iter().map(Into::into).collect(),
      growth_basis: GrowthBasis::from_name(growth_basis).ok_or(growth_basis)?,
      classes: classes.into_iter().map(Into::into).collect(),
      totals: DiffTotals {
        added_count: number(added_count),
        removed_count: number(removed_count),
        added_size: number(added_size),
        removed_size: number(removed_size),
      },
      series: series
        .into_iter()
        .map(|s| {
          let analysis::Series {
            name,
            key,
            count,
            self_size,
          } = s;
          ClassSeries {
            name,
            key,
            count: count.into_iter().map(number).collect(),
            self_size: self_size.into_iter().map(number).collect(),
          }
        })
        .collect(),
      growth: growth
        .into_iter()
        .map(|g| {
          let analysis::Group {
            name,
            count,
            self_size,
            retained_size,
            path,
            ids,
          } = g;
          GrowthGroup {
            name,
            count: number(count),
            self_size: number(self_size),
            retained_size: number(retained_size),
            path: path.into(),
            ids,
          }
        })
        .collect(),
      growing: growing.into_iter().map(Into::into).collect(),
      growing_classes: growing_classes.into_iter().map(Into::into).collect(),
    })
  }
}

/// What `redactSnapshot()` resolves with.
#[napi(object)]
pub struct RedactReport {
  /// The redacted copy.
  pub file: String,
  /// Its size, bytes.
  pub file_bytes: f64,
  /// Entries in the snapshot's strings table.
  pub strings: f64,
  /// Entries replaced by a placeholder (string values and entries nothing names).
  pub redacted: f64,
}

impl From<analysis::RedactReport> for RedactReport {
  fn from(r: analysis::RedactReport) -> Self {
    let analysis::RedactReport {
      file,
      file_bytes,
      strings,
      redacted,
    } = r;
    RedactReport {
      file,
      file_bytes: number(file_bytes),
      strings: number(strings),
      redacted: number(redacted),
    }
  }
}
