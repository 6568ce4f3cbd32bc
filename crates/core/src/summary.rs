//! What a deploy did, as data for the summary line, `--json` and the job summary (what the
//! excludes left out of the build included); and how sizes are said to people.

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
    pub left_out: LeftOut,
    pub seconds: f64,
}

/// Files of the build an exclude pattern left out, by the first pattern that matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub patterns: Vec<LeftOutBy>,
}

/// What one pattern left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOutBy {
    pub pattern: String,
    pub files: usize,
    pub bytes: u64,
    /// The first few keys, in walk order.
    pub examples: Vec<String>,
}

impl LeftOut {
    /// Keys named per pattern.
    const EXAMPLES: usize = 3;

    /// `key` (`bytes` long) was left out by `pattern`.
    pub fn add(&mut self, pattern: &str, key: &str, bytes: u64) {
        let by = match self.patterns.iter().position(|p| p.pattern == pattern) {
            Some(i) => &mut self.patterns[i],
            None => {
                self.patterns.push(LeftOutBy {
                    pattern: pattern.to_string(),
                    files: 0,
                    bytes: 0,
                    examples: Vec::new(),
                });
                self.patterns.last_mut().expect("just pushed")
            }
        };
        by.files += 1;
        by.bytes += bytes;
        if by.examples.len() < Self::EXAMPLES {
            by.examples.push(key.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn files(&self) -> usize {
        self.patterns.iter().map(|p| p.files).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.patterns.iter().map(|p| p.bytes).sum()
    }

    /// How many files and bytes: `18 files (27.0 MiB)`.
    pub fn headline(&self) -> String {
        let n = self.files();
        format!(
            "{n} {} ({})",
            if n == 1 { "file" } else { "files" },
            human_bytes(self.bytes())
        )
    }

    /// One line per pattern (`**/*.map: 18 files, 27.0 MiB (assets/app.js.map, ...)`), each
    /// with how to deploy those files after all.
    pub fn lines(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                let more = if p.files > p.examples.len() {
                    ", ..."
                } else {
                    ""
                };
                let how = if p.pattern == crate::files::SOURCE_MAPS {
                    "deploy them with --include-source-maps (they publish your original source)"
                } else if crate::files::DEFAULT_EXCLUDES.contains(&p.pattern.as_str()) {
                    "a default exclude: default_excludes = false in shipit.toml deploys them"
                } else {
                    "your exclude: remove it from shipit.toml to deploy them"
                };
                format!(
                    "{}: {} {}, {} ({}{more}); {how}",
                    p.pattern,
                    p.files,
                    if p.files == 1 { "file" } else { "files" },
                    human_bytes(p.bytes),
                    p.examples.join(", ")
                )
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_excludes_left_out_is_counted_by_pattern_with_how_to_deploy_it() {
        let mut l = LeftOut::default();
        assert!(l.is_empty() && l.lines().is_empty());
        for i in 0..5 {
            l.add(
                crate::files::SOURCE_MAPS,
                &format!("assets/{i}.js.map"),
                1024,
            );
        }
        l.add("**/.DS_Store", ".DS_Store", 6);
        l.add("drafts/**", "drafts/a.html", 10);
        assert_eq!((l.files(), l.bytes()), (7, 5136));
        assert_eq!(l.headline(), "7 files (5.0 KiB)");
        let lines = l.lines();
        let table = [
            "**/*.map: 5 files, 5.0 KiB (assets/0.js.map, assets/1.js.map, assets/2.js.map, ...); deploy them with --include-source-maps",
            "**/.DS_Store: 1 file, 6 B (.DS_Store); a default exclude: default_excludes = false",
            "drafts/**: 1 file, 10 B (drafts/a.html); your exclude: remove it from shipit.toml",
        ];
        assert_eq!(lines.len(), table.len());
        for (line, want) in lines.iter().zip(table) {
            assert!(line.starts_with(want), "{line}");
        }
    }
}
