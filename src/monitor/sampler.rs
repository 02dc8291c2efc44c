//! Resident set size from the operating system, read on the background thread.

/// Resident set size of this process in bytes, or `None` where not supported.
///
/// Linux: `/proc/self/statm` (second field, in pages). Other platforms are not yet
/// supported natively; the JS facade fills `rss` from `process.memoryUsage.rss()` there.
pub fn resident_set_bytes() -> Option<u64> {
  #[cfg(target_os = "linux")]
  {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages = parse_statm_resident_pages(&statm)?;
    Some(pages.saturating_mul(crate::os::page_size()))
  }
  #[cfg(not(target_os = "linux"))]
  {
    None
  }
}

/// `statm` is "size resident shared text lib data dt", all in pages. Tested on every platform,
/// used on Linux only.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn parse_statm_resident_pages(statm: &str) -> Option<u64> {
  statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn parses_statm() {
    assert_eq!(
      parse_statm_resident_pages("1149290 12345 6543 8 0 100 0\n"),
      Some(12345)
    );
    assert_eq!(parse_statm_resident_pages("1149290"), None);
    assert_eq!(parse_statm_resident_pages("a b c"), None);
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn reads_own_rss() {
    let rss = resident_set_bytes().unwrap();
    assert!(rss > 1024 * 1024, "rss {rss}");
  }
}
