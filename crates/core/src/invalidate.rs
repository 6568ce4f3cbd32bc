//! Which CloudFront paths to invalidate after a deploy: the smallest useful set. Pure.
//!
//! Only keys whose content or headers changed, or that were deleted, can be stale at the edge;
//! a new key was never cached, and a content-hashed (immutable) asset never changes under its
//! name. `a/index.html` is also served as `/a/` and `/a`, the root `index.html` as `/`. When the
//! list grows past a limit, directories with many paths collapse into `dir/*` (a wildcard costs
//! what one path costs), within CloudFront's limit of 15 wildcard paths in flight, else `/*`.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde::Serialize;

use crate::headers::has_content_hash;
use crate::plan::{Op, Plan, Reason};

/// CloudFront's limit of wildcard paths in flight per distribution.
pub const MAX_WILDCARDS: usize = 15;
/// Paths CloudFront invalidates free each month (per account); beyond, each costs $0.005.
pub const FREE_PATHS_PER_MONTH: usize = 1000;
pub const PRICE_PER_PATH: f64 = 0.005;

/// Characters escaped in an invalidation path (CloudFront wants unsafe characters encoded).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'*');

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalidation {
    /// The paths to send, sorted.
    pub paths: Vec<String>,
    /// How many keys made them necessary.
    pub stale_keys: usize,
}

impl Invalidation {
    /// Dollars this request costs if the month's free paths are already used.
    pub fn worst_case_cost(&self) -> f64 {
        self.paths.len() as f64 * PRICE_PER_PATH
    }
}

/// The keys (relative to the site root) that may be stale at the edge after this plan runs.
pub fn stale_keys(plan: &Plan, prune: bool) -> Vec<String> {
    plan.actions
        .iter()
        .filter(|a| match (a.op, &a.reason) {
            (Op::Upload, Reason::New) => false,
            (Op::Upload | Op::UpdateHeaders, _) => !has_content_hash(&a.key),
            (Op::Delete, _) => prune,
            (Op::Keep, _) => false,
        })
        .map(|a| a.key.clone())
        .collect()
}

fn encode(key: &str) -> String {
    format!("/{}", utf8_percent_encode(key, PATH))
}

/// Every URL path a key is served under.
pub fn paths_for_key(key: &str) -> Vec<String> {
    let mut out = vec![encode(key)];
    if key == "index.html" {
        out.push("/".into());
    } else if let Some(dir) = key.strip_suffix("/index.html") {
        let dir = encode(dir);
        out.push(format!("{dir}/"));
        out.push(dir);
    }
    out
}

/// The smallest useful set of paths for these keys, at most `max_paths` long.
pub fn select(keys: &[String], max_paths: usize) -> Invalidation {
    let mut paths: BTreeSet<String> = keys.iter().flat_map(|k| paths_for_key(k)).collect();
    let max_paths = max_paths.max(1);
    while paths.len() > max_paths {
        match best_collapse(&paths) {
            Some(dir) => {
                let prefix = if dir == "/" {
                    "/".to_string()
                } else {
                    format!("{dir}/")
                };
                paths.retain(|p| !(p.starts_with(&prefix) || *p == dir));
                paths.insert(format!("{prefix}*"));
            }
            None => break,
        }
        let wildcards = paths.iter().filter(|p| p.ends_with('*')).count();
        if wildcards > MAX_WILDCARDS || paths.contains("/*") {
            paths = BTreeSet::from(["/*".to_string()]);
            break;
        }
    }
    Invalidation {
        paths: paths.into_iter().collect(),
        stale_keys: keys.len(),
    }
}

/// The next directory to collapse into `dir/*`: the deepest holding more than one path (the
/// most paths among equals), so as little as possible is evicted; the root only when no
/// other directory holds more than one path.
fn best_collapse(paths: &BTreeSet<String>) -> Option<String> {
    let mut under: BTreeMap<String, usize> = BTreeMap::new();
    for p in paths {
        let trimmed = p.trim_end_matches('*').trim_end_matches('/');
        let mut dir = trimmed;
        while let Some(i) = dir.rfind('/') {
            dir = &dir[..i];
            let key = if dir.is_empty() {
                "/".to_string()
            } else {
                dir.to_string()
            };
            *under.entry(key).or_default() += 1;
            if dir.is_empty() {
                break;
            }
        }
    }
    // The root holds everything: collapsing it is the last resort, not the best saving.
    let root = under.remove("/").filter(|n| *n > 1);
    under
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .max_by(|(a, na), (b, nb)| {
            a.matches('/')
                .count()
                .cmp(&b.matches('/').count())
                .then_with(|| na.cmp(nb))
                .then_with(|| b.cmp(a))
        })
        .map(|(d, _)| d)
        .or(root.map(|_| "/".to_string()))
}

/// Whether an invalidation status means it is done ("Completed"; moto says "COMPLETED").
pub fn is_completed(status: &str) -> bool {
    status.eq_ignore_ascii_case("completed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Md5;
    use crate::headers::HeaderRules;
    use crate::plan::{diff, RemoteObject};

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keys_map_to_every_url_they_are_served_under() {
        let table: [(&str, &[&str]); 5] = [
            ("index.html", &["/index.html", "/"]),
            ("docs/index.html", &["/docs/index.html", "/docs/", "/docs"]),
            ("robots.txt", &["/robots.txt"]),
            ("a b/c#d.txt", &["/a%20b/c%23d.txt"]),
            ("caf\u{e9}.html", &["/caf%C3%A9.html"]),
        ];
        for (key, want) in table {
            assert_eq!(paths_for_key(key), want.to_vec(), "{key}");
        }
    }

    #[test]
    fn only_changed_or_deleted_unhashed_keys_are_stale() {
        let file = crate::files::test_file;
        let remote = |key: &str, body: &[u8]| RemoteObject {
            key: key.into(),
            size: body.len() as u64,
            etag: None,
            md5: Some(Md5(md5::compute(body).0)),
            headers: None,
        };
        let local = [
            file("index.html", b"new"),
            file("new.txt", b"n"),
            file("assets/app-5d41402abc4b2a76.js", b"changed"),
            file("retyped.txt", b"same"),
        ];
        let remotes = [
            remote("index.html", b"old"),
            remote("assets/app-5d41402abc4b2a76.js", b"before"),
            remote("retyped.txt", b"same"),
            remote("gone.html", b"x"),
        ];
        let plan = diff(local.to_vec(), remotes.to_vec(), &HeaderRules::default());
        let mut stale = stale_keys(&plan, true);
        stale.sort();
        // new.txt was never cached; the hashed asset is immutable by name.
        assert_eq!(stale, keys(&["gone.html", "index.html", "retyped.txt"]));
        let without_prune = stale_keys(&plan, false);
        assert!(!without_prune.contains(&"gone.html".to_string()));
    }

    #[test]
    fn small_sets_are_sent_as_is() {
        let inv = select(&keys(&["index.html", "about/index.html"]), 50);
        assert_eq!(
            inv.paths,
            ["/", "/about", "/about/", "/about/index.html", "/index.html"]
        );
        assert_eq!(inv.stale_keys, 2);
    }

    #[test]
    fn exactly_max_paths_are_sent_as_is() {
        let inv = select(&keys(&["index.html", "about/index.html"]), 5);
        assert_eq!(inv.paths.len(), 5, "{:?}", inv.paths);
        assert!(
            !inv.paths.iter().any(|p| p.ends_with('*')),
            "{:?}",
            inv.paths
        );
    }

    #[test]
    fn fifteen_wildcards_stay_and_sixteen_become_everything() {
        let dirs = |n: usize| -> Vec<String> {
            (0..n)
                .flat_map(|d| (0..3).map(move |i| format!("d{d:02}/f{i}.html")))
                .collect()
        };
        let inv = select(&dirs(15), 15);
        assert_eq!(inv.paths.len(), 15, "{:?}", inv.paths);
        assert!(
            inv.paths.iter().all(|p| p.ends_with("/*") && p != "/*"),
            "{:?}",
            inv.paths
        );
        assert_eq!(select(&dirs(16), 16).paths, ["/*"]);
    }

    #[test]
    fn a_directory_with_one_path_is_not_worth_a_wildcard() {
        let mut k: Vec<String> = (0..10).map(|i| format!("f{i}.html")).collect();
        k.push("a/b/c/one.html".into());
        assert_eq!(select(&k, 5).paths, ["/*"]);
        // The deepest directory is passed over when it holds one path: no saving there.
        let k = keys(&["a/b/c/one.html", "x/1.html", "x/2.html"]);
        assert_eq!(select(&k, 2).paths, ["/a/b/c/one.html", "/x/*"]);
    }

    #[test]
    fn crowded_directories_collapse_into_wildcards() {
        let mut k: Vec<String> = (0..30).map(|i| format!("blog/post-{i}.html")).collect();
        k.push("index.html".into());
        k.push("about.html".into());
        let inv = select(&k, 10);
        assert_eq!(inv.paths, ["/", "/about.html", "/blog/*", "/index.html"]);
    }

    #[test]
    fn deepest_crowded_directory_goes_first() {
        let mut k: Vec<String> = (0..5).map(|i| format!("docs/api/v{i}.html")).collect();
        k.extend((0..3).map(|i| format!("docs/guide-{i}.html")));
        let inv = select(&k, 5);
        assert!(
            inv.paths.contains(&"/docs/api/*".to_string()),
            "{:?}",
            inv.paths
        );
        assert!(inv.paths.len() <= 5, "{:?}", inv.paths);
    }

    #[test]
    fn too_many_wildcards_become_everything() {
        let k: Vec<String> = (0..40)
            .flat_map(|d| (0..3).map(move |i| format!("d{d}/f{i}.html")))
            .collect();
        let inv = select(&k, 20);
        assert_eq!(inv.paths, ["/*"]);
        assert!((inv.worst_case_cost() - 0.005).abs() < 1e-9);
    }

    #[test]
    fn completion_ignores_case() {
        for s in ["Completed", "COMPLETED", "completed"] {
            assert!(is_completed(s));
        }
        assert!(!is_completed("InProgress"));
    }
}
