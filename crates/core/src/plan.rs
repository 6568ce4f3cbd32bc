//! The diff between the build and the bucket: a [`Plan`] of actions, each with its reason.
//!
//! Pure: planning reads plain data and makes no calls. A plan is printed by `shipit plan`,
//! serialised with `--json`, and executed by `pipeline::deploy` exactly as planned.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::files::{Etag, LocalFile, Md5};
use crate::headers::{is_html, HeaderRules, Headers, Interner};

/// Objects larger than this cannot be copied in place with one CopyObject (5 GiB).
pub const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// What the bucket holds for one key, as far as shipit could learn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    pub key: String,
    pub size: u64,
    /// The object's ETag without quotes, when the listing has one.
    pub etag: Option<String>,
    /// MD5 of the content: from a plain ETag, or from shipit's state or metadata.
    pub md5: Option<Md5>,
    /// Content-Type and Cache-Control, when known (from shipit's state or a HEAD).
    pub headers: Option<Headers>,
}

/// The MD5 an ETag stands for, when it is a plain one (single-part upload, no SSE-KMS).
pub fn md5_of_etag(etag: &str) -> Option<Md5> {
    Md5::from_hex(etag.trim_matches('"'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// PUT the file's bytes.
    Upload,
    /// Copy the object onto itself with new headers: the bytes are already there.
    UpdateHeaders,
    /// Delete the key (only after everything else succeeded).
    Delete,
    /// Nothing to do.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    /// The bucket has no object at this key.
    New,
    /// The content's MD5 differs from the object's.
    ContentChanged {
        local: Md5,
        remote: Md5,
    },
    /// The object's content hash is unknown (a multipart or SSE-KMS ETag without shipit's metadata).
    HashUnknown,
    /// Same bytes, other headers.
    HeadersChanged {
        changes: Vec<HeaderChange>,
    },
    /// The build no longer has this key.
    NotInBuild,
    /// Not in the build, but a recent release references it (a visitor may still hold HTML
    /// that loads it), or its grace period has not passed: kept.
    Retained {
        release: String,
    },
    /// Not in the build, content-hashed, and a release record that could reference it cannot
    /// be read: kept, since nothing proves it unreferenced.
    Unprovable {
        record: String,
    },
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderChange {
    pub header: &'static str,
    pub from: Option<Arc<str>>,
    pub to: Arc<str>,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::New => f.write_str("new file"),
            Reason::ContentChanged { local, remote } => {
                write!(
                    f,
                    "content changed (md5 {} -> {})",
                    short(remote),
                    short(local)
                )
            }
            Reason::HashUnknown => f.write_str("remote content hash unknown"),
            Reason::HeadersChanged { changes } => {
                let parts: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} -> {}",
                            c.header,
                            c.from.as_deref().unwrap_or("(none)"),
                            c.to
                        )
                    })
                    .collect();
                write!(f, "headers changed ({})", parts.join("; "))
            }
            Reason::NotInBuild => f.write_str("not in the build"),
            Reason::Retained { release } => {
                write!(f, "not in the build, kept: release {release} references it")
            }
            Reason::Unprovable { record } => write!(
                f,
                "not in the build, kept: {} is unreadable and may reference it",
                crate::files::shown(record)
            ),
            Reason::Unchanged => f.write_str("unchanged"),
        }
    }
}

fn short(m: &Md5) -> String {
    m.hex()[..8].to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Key relative to the prefix.
    pub key: String,
    pub op: Op,
    pub reason: Reason,
    pub size: u64,
    /// The headers the object gets (absent for deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(skip)]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<Md5>,
    /// The object's current ETag, for actions on existing objects.
    #[serde(skip)]
    pub remote_etag: Option<Etag>,
}

/// When a write may run: every asset first, then HTML, the root `index.html` last, so a visitor
/// never gets HTML that references an asset not uploaded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Assets,
    Html,
    RootIndex,
}

impl Action {
    pub fn phase(&self) -> Phase {
        let html = self
            .headers
            .as_ref()
            .is_some_and(|h| is_html(&h.content_type));
        if self.key == "index.html" {
            Phase::RootIndex
        } else if html {
            Phase::Html
        } else {
            Phase::Assets
        }
    }

    pub fn is_write(&self) -> bool {
        matches!(self.op, Op::Upload | Op::UpdateHeaders)
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub upload: usize,
    pub update_headers: usize,
    pub delete: usize,
    pub keep: usize,
    pub upload_bytes: u64,
}

/// The whole plan: writes in execution order, then deletes, then the untouched keys.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Objects under the prefix before the deploy (the base of the prune share).
    pub remote_objects: usize,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for a in &self.actions {
            match a.op {
                Op::Upload => {
                    c.upload += 1;
                    c.upload_bytes += a.size;
                }
                Op::UpdateHeaders => c.update_headers += 1,
                Op::Delete => c.delete += 1,
                Op::Keep => c.keep += 1,
            }
        }
        c
    }

    /// Writes grouped by phase, in the order they must run.
    pub fn write_phases(&self) -> Vec<(Phase, Vec<&Action>)> {
        let mut phases: BTreeMap<Phase, Vec<&Action>> = BTreeMap::new();
        for a in self.actions.iter().filter(|a| a.is_write()) {
            phases.entry(a.phase()).or_default().push(a);
        }
        phases.into_iter().collect()
    }

    /// Puts `action` in the plan in place of any other for its key, in the plan's order.
    pub fn put(&mut self, action: Action) {
        self.actions.retain(|a| a.key != action.key);
        self.actions.push(action);
        self.actions
            .sort_unstable_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.key.cmp(&b.key)));
    }

    pub fn deletes(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.op == Op::Delete)
    }
}

/// Computes the plan. `remote` holds every object under the prefix (shipit's state excluded).
pub fn diff(local: Vec<LocalFile>, remote: Vec<RemoteObject>, rules: &HeaderRules) -> Plan {
    diff_with(local, remote, |f| rules.headers_for(&f.key, f.sniff))
}

/// The same, with each file's headers given (a rollback takes them from the release).
///
/// Both sides are walked once in key order (a merge, no map of either), and each action takes
/// its key, path and ETag from them: a plan of 100,000 files holds one copy of each.
pub fn diff_with(
    mut local: Vec<LocalFile>,
    mut remote: Vec<RemoteObject>,
    headers_of: impl Fn(&LocalFile) -> Headers,
) -> Plan {
    // Already in key order from the scan and the listing: these cost one pass each.
    local.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    remote.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    // A key is one object (the listing already says so; a repeat must not become a delete).
    remote.dedup_by(|a, b| a.key == b.key);
    let remote_objects = remote.len();
    let both = common_keys(&local, &remote);
    let mut actions: Vec<Action> = Vec::with_capacity(local.len() + remote.len() - both);
    let delete = |r: RemoteObject| Action {
        key: r.key,
        op: Op::Delete,
        reason: Reason::NotInBuild,
        size: r.size,
        headers: None,
        path: None,
        md5: r.md5,
        remote_etag: r.etag.as_deref().map(Etag::new),
    };
    let mut values = Interner::default();
    let mut remote = remote.into_iter().peekable();
    for file in local {
        while let Some(gone) = remote.next_if(|r| r.key < file.key) {
            actions.push(delete(gone));
        }
        let same_key = remote.next_if(|r| r.key == file.key);
        let headers = values.headers(&headers_of(&file));
        let (op, reason) = decide(&file, &headers, same_key.as_ref());
        actions.push(Action {
            op,
            reason,
            size: file.size,
            headers: Some(headers),
            md5: Some(file.md5),
            remote_etag: same_key.and_then(|r| r.etag.as_deref().map(Etag::new)),
            key: file.key,
            path: Some(file.path),
        });
    }
    actions.extend(remote.map(delete));
    // Keys are unique: an unstable sort gives the same order without a second buffer.
    actions.sort_unstable_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.key.cmp(&b.key)));
    Plan {
        actions,
        remote_objects,
    }
}

/// How many keys two key-ordered lists share.
fn common_keys(local: &[LocalFile], remote: &[RemoteObject]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(l), Some(r)) = (local.get(i), remote.get(j)) {
        match l.key.cmp(&r.key) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn order(a: &Action) -> (u8, Phase) {
    let op = match a.op {
        Op::Upload | Op::UpdateHeaders => 0,
        Op::Delete => 1,
        Op::Keep => 2,
    };
    (op, a.phase())
}

fn decide(file: &LocalFile, want: &Headers, remote: Option<&RemoteObject>) -> (Op, Reason) {
    let Some(remote) = remote else {
        return (Op::Upload, Reason::New);
    };
    let Some(remote_md5) = remote.md5 else {
        return (Op::Upload, Reason::HashUnknown);
    };
    if remote_md5 != file.md5 || remote.size != file.size {
        return (
            Op::Upload,
            Reason::ContentChanged {
                local: file.md5,
                remote: remote_md5,
            },
        );
    }
    let have = remote.headers.as_ref();
    let mut changes = Vec::new();
    if have.map(|h| &h.content_type) != Some(&want.content_type) {
        changes.push(HeaderChange {
            header: "Content-Type",
            from: have.map(|h| h.content_type.clone()),
            to: want.content_type.clone(),
        });
    }
    if have.map(|h| &h.cache_control) != Some(&want.cache_control) {
        changes.push(HeaderChange {
            header: "Cache-Control",
            from: have.map(|h| h.cache_control.clone()),
            to: want.cache_control.clone(),
        });
    }
    if changes.is_empty() {
        (Op::Keep, Reason::Unchanged)
    } else if file.size > MAX_COPY_BYTES {
        // One CopyObject cannot rewrite an object this large: upload it again.
        (Op::Upload, Reason::HeadersChanged { changes })
    } else {
        (Op::UpdateHeaders, Reason::HeadersChanged { changes })
    }
}

/// The prune cap: refuse to delete more than `max_deletes` objects, or more than `max_share`
/// of the objects under the prefix (the share applies once more than `SHARE_FLOOR` keys go).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PruneCap {
    pub max_deletes: usize,
    pub max_share: f64,
}

/// Below this many deletes the share cap does not apply: removing 3 of 4 files is normal.
pub const SHARE_FLOOR: usize = 10;

impl PruneCap {
    /// Why the deletes exceed the cap, if they do.
    pub fn exceeded(&self, deletes: usize, remote_objects: usize) -> Option<String> {
        if deletes > self.max_deletes {
            return Some(format!(
                "the plan deletes {deletes} objects, more than the cap of {}",
                self.max_deletes
            ));
        }
        let share = if remote_objects == 0 {
            0.0
        } else {
            deletes as f64 / remote_objects as f64
        };
        if deletes > SHARE_FLOOR && share > self.max_share {
            return Some(format!(
                "the plan deletes {deletes} of the {remote_objects} objects under the prefix ({:.0}%), more than the cap of {:.0}%",
                share * 100.0,
                self.max_share * 100.0
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::test_file as local;
    use crate::headers::{REVALIDATE, SHORT};

    fn remote(key: &str, body: &[u8], headers: Option<(&str, &str)>) -> RemoteObject {
        let md5 = Md5(md5::compute(body).0);
        RemoteObject {
            key: key.into(),
            size: body.len() as u64,
            etag: Some(md5.hex()),
            md5: Some(md5),
            headers: headers.map(|(ct, cc)| Headers {
                content_type: ct.into(),
                cache_control: cc.into(),
            }),
        }
    }

    fn op_of<'a>(plan: &'a Plan, key: &str) -> &'a Action {
        plan.actions.iter().find(|a| a.key == key).unwrap()
    }

    #[test]
    fn decisions_table() {
        let html = Some(("text/html; charset=utf-8", REVALIDATE));
        let txt = Some(("text/plain; charset=utf-8", SHORT));
        let mut multipart = remote("big.bin", b"big", None);
        multipart.etag = Some("abc-3".into());
        multipart.md5 = None;
        let locals = [
            local("index.html", b"<html>"),
            local("same.txt", b"same"),
            local("changed.txt", b"new"),
            local("new.txt", b"n"),
            local("retyped.txt", b"r"),
            local("big.bin", b"big"),
            local("unknown-headers.txt", b"u"),
        ];
        let remotes = [
            remote("index.html", b"<html>", html),
            remote("same.txt", b"same", txt),
            remote("changed.txt", b"old", txt),
            remote(
                "retyped.txt",
                b"r",
                Some(("application/octet-stream", SHORT)),
            ),
            multipart,
            remote("unknown-headers.txt", b"u", None),
            remote("gone.txt", b"gone", txt),
        ];
        let plan = diff(locals.to_vec(), remotes.to_vec(), &HeaderRules::default());
        let table = [
            ("index.html", Op::Keep),
            ("same.txt", Op::Keep),
            ("changed.txt", Op::Upload),
            ("new.txt", Op::Upload),
            ("retyped.txt", Op::UpdateHeaders),
            ("big.bin", Op::Upload),
            ("unknown-headers.txt", Op::UpdateHeaders),
            ("gone.txt", Op::Delete),
        ];
        for (key, want) in table {
            assert_eq!(op_of(&plan, key).op, want, "{key}");
        }
        assert_eq!(op_of(&plan, "new.txt").reason, Reason::New);
        assert_eq!(op_of(&plan, "big.bin").reason, Reason::HashUnknown);
        assert!(matches!(
            op_of(&plan, "changed.txt").reason,
            Reason::ContentChanged { .. }
        ));
        match &op_of(&plan, "retyped.txt").reason {
            Reason::HeadersChanged { changes } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].header, "Content-Type");
                assert_eq!(&*changes[0].to, "text/plain; charset=utf-8");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(op_of(&plan, "gone.txt").reason, Reason::NotInBuild);
        let c = plan.counts();
        assert_eq!((c.upload, c.update_headers, c.delete, c.keep), (3, 2, 1, 2));
        assert_eq!(c.upload_bytes, 3 + 1 + 3);
        assert_eq!(plan.remote_objects, 7);
    }

    #[test]
    fn writes_run_assets_then_html_then_root_index() {
        let locals = [
            local("index.html", b"1"),
            local("b/index.html", b"2"),
            local("a.css", b"3"),
            local("z.js", b"4"),
            local("about.html", b"5"),
        ];
        let plan = diff(locals.to_vec(), vec![], &HeaderRules::default());
        let phases: Vec<(Phase, Vec<&str>)> = plan
            .write_phases()
            .into_iter()
            .map(|(p, acts)| (p, acts.iter().map(|a| a.key.as_str()).collect()))
            .collect();
        assert_eq!(
            phases,
            [
                (Phase::Assets, vec!["a.css", "z.js"]),
                (Phase::Html, vec!["about.html", "b/index.html"]),
                (Phase::RootIndex, vec!["index.html"]),
            ]
        );
        // The serialised plan is in the same order.
        let keys: Vec<&str> = plan.actions.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            ["a.css", "z.js", "about.html", "b/index.html", "index.html"]
        );
    }

    #[test]
    fn rules_change_reaches_unchanged_files_as_header_updates() {
        let rules = HeaderRules::new(&[crate::headers::HeaderRule {
            glob: "*.txt".into(),
            cache_control: Some("no-store".into()),
            content_type: None,
        }])
        .unwrap();
        let plan = diff(
            vec![local("a.txt", b"a")],
            vec![remote(
                "a.txt",
                b"a",
                Some(("text/plain; charset=utf-8", SHORT)),
            )],
            &rules,
        );
        assert_eq!(plan.actions[0].op, Op::UpdateHeaders);
        assert_eq!(
            &*plan.actions[0].headers.as_ref().unwrap().cache_control,
            "no-store"
        );
    }

    #[test]
    fn etags() {
        let m = Md5(md5::compute(b"x").0);
        assert_eq!(md5_of_etag(&format!("\"{}\"", m.hex())), Some(m));
        assert_eq!(md5_of_etag("\"d41d8cd98f00b204e9800998ecf8427e-2\""), None);
        assert_eq!(md5_of_etag(""), None);
    }

    #[test]
    fn reasons_read_as_sentences() {
        let (a, b) = (Md5(md5::compute(b"a").0), Md5(md5::compute(b"b").0));
        let table = [
            (Reason::New, "new file".to_string()),
            (
                Reason::ContentChanged {
                    local: a,
                    remote: b,
                },
                format!(
                    "content changed (md5 {} -> {})",
                    &b.hex()[..8],
                    &a.hex()[..8]
                ),
            ),
            (Reason::HashUnknown, "remote content hash unknown".into()),
            (
                Reason::HeadersChanged {
                    changes: vec![HeaderChange {
                        header: "cache-control",
                        from: None,
                        to: "no-cache".into(),
                    }],
                },
                "headers changed (cache-control: (none) -> no-cache)".into(),
            ),
            (Reason::NotInBuild, "not in the build".into()),
            (
                Reason::Retained {
                    release: "R1".into(),
                },
                "not in the build, kept: release R1 references it".into(),
            ),
            (Reason::Unchanged, "unchanged".into()),
        ];
        for (reason, want) in table {
            assert_eq!(reason.to_string(), want);
        }
    }

    #[test]
    fn a_header_change_above_five_gib_is_a_re_upload() {
        // CopyObject copies at most 5 GiB: above that, new headers mean a new upload.
        let rules = HeaderRules::default();
        for (size, op) in [
            (MAX_COPY_BYTES, Op::UpdateHeaders),
            (MAX_COPY_BYTES + 1, Op::Upload),
        ] {
            let mut f = local("video/big.bin", b"same");
            f.size = size;
            let mut r = remote("video/big.bin", b"same", Some(("text/plain", "no-store")));
            r.size = size;
            let plan = diff(vec![f], vec![r], &rules);
            assert_eq!(plan.actions[0].op, op, "{size}");
        }
        assert_eq!(MAX_COPY_BYTES, 5_368_709_120);
    }

    #[test]
    fn prune_cap() {
        let cap = PruneCap {
            max_deletes: 100,
            max_share: 0.5,
        };
        let table = [
            (0, 0, false),
            (3, 4, false),   // tiny site: share floor
            (10, 12, false), // at the floor
            (11, 20, true),  // 55%
            (11, 30, false), // 37%
            (12, 24, false), // exactly at the share cap: allowed
            (12, 23, true),  // just above it
            (100, 1000, false),
            (101, 1000, true),
        ];
        for (deletes, total, refused) in table {
            assert_eq!(
                cap.exceeded(deletes, total).is_some(),
                refused,
                "{deletes}/{total}"
            );
        }
    }
}
