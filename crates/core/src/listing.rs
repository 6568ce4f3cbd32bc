//! How a bucket is listed: one page when it fits (most sites: up to 1,000 keys, one request),
//! else in parallel by "directory". S3 lists one page of 1,000 keys per request, each after
//! the last: 100,000 keys are 100 round trips one after another. A delimiter listing names
//! the common prefixes (`assets/`, `docs/`); each is then listed on its own, all at once.
//!
//! The first page is not listed again: it holds every key up to its last one, so a prefix
//! wholly before that key is skipped and the prefix holding it is listed from there on
//! (`StartAfter`). The keys beside the prefixes come twice (in the first page and in the
//! delimiter listing; the copies are dropped). A lone prefix (`assets/` beside `index.html`)
//! is looked into one level further, a few levels at most. A flat directory of many keys is still
//! listed page after page: S3 offers no split point without knowing the keys.
//!
//! Keys compare as S3 orders them (bytes of their UTF-8), which is how Rust's strings compare.

/// How many prefixes are listed at once.
pub const FANOUT: usize = 16;

/// How many levels a lone prefix is looked into for more prefixes.
pub const MAX_DEPTH: usize = 3;

/// One listing to run: everything under `prefix`, after `start_after` when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub prefix: String,
    pub start_after: Option<String>,
}

/// The listings that complete a first page ending at `last` (its keys are all ≤ `last`),
/// given the common prefixes a delimiter listing found. A prefix whose keys all sort before
/// `last` was covered by the first page.
pub fn ranges_after(last: &str, prefixes: &[String]) -> Vec<Range> {
    prefixes
        .iter()
        .filter_map(|p| {
            if last.starts_with(p.as_str()) {
                Some(Range {
                    prefix: p.clone(),
                    start_after: Some(last.to_string()),
                })
            } else if last < p.as_str() {
                Some(Range {
                    prefix: p.clone(),
                    start_after: None,
                })
            } else {
                // Every key under p sorts before `last` (p < last and last is not under p).
                None
            }
        })
        .collect()
}

/// Whether a delimiter listing's answer is worth splitting further: one prefix (beside a few
/// keys, like a site's `index.html` beside `assets/`) holds nearly everything, so its own
/// prefixes are the useful split. The keys at this level are kept.
pub fn descend(prefixes: &[String], depth: usize) -> bool {
    prefixes.len() == 1 && depth < MAX_DEPTH
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_page_is_not_listed_again() {
        let prefixes = p(&["a/", "b/", "c/", "d/"]);
        let r = ranges_after("b/x/9.js", &prefixes);
        assert_eq!(
            r,
            vec![
                Range {
                    prefix: "b/".into(),
                    start_after: Some("b/x/9.js".into())
                },
                Range {
                    prefix: "c/".into(),
                    start_after: None
                },
                Range {
                    prefix: "d/".into(),
                    start_after: None
                },
            ]
        );
        // The last key at the root, between prefixes: the later ones only.
        let r = ranges_after("b0.txt", &prefixes);
        assert_eq!(
            r.iter().map(|r| r.prefix.as_str()).collect::<Vec<_>>(),
            ["c/", "d/"]
        );
        assert!(r.iter().all(|r| r.start_after.is_none()));
        // A prefix that is a byte-wise prefix of another's name still orders by bytes.
        let r = ranges_after("ab", &p(&["a/", "ab/", "b/"]));
        assert_eq!(
            r.iter().map(|r| r.prefix.as_str()).collect::<Vec<_>>(),
            ["ab/", "b/"]
        );
        // Non-ASCII keys order by their UTF-8 bytes, as S3 orders them.
        let r = ranges_after("z/last", &p(&["z/", "é/"]));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].start_after.as_deref(), Some("z/last"));
    }

    #[test]
    fn a_lone_prefix_is_looked_into_a_few_levels() {
        assert!(descend(&p(&["assets/"]), 0));
        assert!(!descend(&p(&["a/", "b/"]), 0));
        assert!(!descend(&p(&["assets/"]), MAX_DEPTH));
        assert!(!descend(&[], 0));
    }
}
