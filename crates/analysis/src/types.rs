//! The node and edge type numbers of one snapshot, looked up by name once. A type the
//! snapshot does not declare gets `NONE`, which no node or edge carries.

use super::parse::Snapshot;

pub const NONE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug)]
pub struct Types {
  pub hidden: u8,
  pub array: u8,
  pub object: u8,
  pub code: u8,
  pub closure: u8,
  pub regexp: u8,
  pub native: u8,
  pub synthetic: u8,
  pub number: u8,
  pub object_shape: u8,
  pub edge_element: u8,
  pub edge_property: u8,
  pub edge_internal: u8,
  pub edge_hidden: u8,
  pub edge_shortcut: u8,
  pub edge_weak: u8,
}

impl Types {
  pub fn of(s: &Snapshot) -> Types {
    let n = |name: &str| s.node_type_index(name).unwrap_or(NONE);
    let e = |name: &str| s.edge_type_index(name).unwrap_or(NONE);
    Types {
      hidden: n("hidden"),
      array: n("array"),
      object: n("object"),
      code: n("code"),
      closure: n("closure"),
      regexp: n("regexp"),
      native: n("native"),
      synthetic: n("synthetic"),
      number: n("number"),
      object_shape: n("object shape"),
      edge_element: e("element"),
      edge_property: e("property"),
      edge_internal: e("internal"),
      edge_hidden: e("hidden"),
      edge_shortcut: e("shortcut"),
      edge_weak: e("weak"),
    }
  }

  /// Element and hidden edges are named by a number, every other edge by a string index.
  pub fn edge_has_string_name(&self, t: u8) -> bool {
    t != self.edge_element && t != self.edge_hidden
  }
}
