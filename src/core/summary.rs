//! What a deploy did, as data for the summary line, `--json` and the job summary; and how
//! sizes are said to people.

use serde::Serialize;

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub bucket: String,
    pub prefix: String,
    pub uploaded: usize,
    pub header_updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// Keys not in the build that were kept because pruning is off.
    pub kept_stale: usize,
    pub bytes_uploaded: u64,
    /// Paths sent to CloudFront (0 when nothing was stale or there is no distribution).
    pub invalidated_paths: usize,
    pub invalidation_id: Option<String>,
    /// The release recorded (absent when the files were the live release's already).
    pub release: Option<String>,
    /// What the excludes left out of the build (not deployed).
    pub left_out: crate::core::files::LeftOut,
    pub seconds: f64,
}

/// A byte count in binary units (`433.0 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
