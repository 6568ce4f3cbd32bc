//! Releases: what each successful deploy put live, kept in the bucket under `.shipit/releases/`
//! (never served: the routing function answers 404 there and the bucket policy denies
//! CloudFront). They make two things possible: `shipit rollback` (restore an earlier release's
//! files from the bucket's object versions) and a prune that spares content-hashed assets a
//! recent release still references, since visitors holding that release's HTML still load them.
//!
//! Everything here is pure; `pipeline::records` reads and writes the records.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::files::Md5;
use crate::headers::has_content_hash;
use crate::plan::{Op, Plan, Reason};
pub use crate::state::ApiVersion;
use crate::state::Entry;

/// Where release records live, under the prefix.
pub const RELEASES_DIR: &str = ".shipit/releases/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// `YYYYMMDDTHHMMSSmmmZ-<8 hex of the file set>` (UTC to the millisecond): sorts by time.
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// The git commit deployed, when known (GITHUB_SHA, or the build directory's repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `deploy`, or `rollback to <id>`.
    pub source: String,
    #[serde(deserialize_with = "crate::state::read_files")]
    pub files: BTreeMap<String, Entry>,
    /// The API's version that was live with these files (when shipit ships the API's code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiVersion>,
}

/// Whether a name is a release id (`YYYYMMDDTHHMMSSmmmZ-…`): they sort by time, which the
/// retention window relies on.
pub fn is_release_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() > 19 && b[..8].iter().all(u8::is_ascii_digit) && b[8] == b'T' && b[18] == b'Z'
}

/// A short, stable fingerprint of a file set: keys, content hashes and headers.
pub fn fingerprint(files: &BTreeMap<String, Entry>) -> String {
    let mut ctx = md5::Context::new();
    for (k, e) in files {
        for part in [k, &*e.md5.hex(), &e.content_type, &e.cache_control] {
            ctx.consume(part.as_bytes());
            ctx.consume([0u8]);
        }
    }
    format!("{:x}", ctx.compute())[..8].to_string()
}

/// `2026-11-21T21:30:05Z` as `20261121T213005Z` (UTC, from epoch seconds).
pub fn timestamp(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A release id made at `millis` (milliseconds since the Unix epoch) for `files`.
pub fn release_id(millis: u64, files: &BTreeMap<String, Entry>) -> String {
    let stamp = timestamp(millis / 1000);
    format!(
        "{}{:03}Z-{}",
        stamp.trim_end_matches('Z'),
        millis % 1000,
        fingerprint(files)
    )
}

impl Release {
    /// A release made at `millis` (milliseconds since the Unix epoch).
    pub fn new(
        files: BTreeMap<String, Entry>,
        millis: u64,
        commit: Option<String>,
        source: &str,
    ) -> Release {
        Release {
            id: release_id(millis, &files),
            created_at: millis / 1000,
            commit,
            source: source.to_string(),
            files,
            api: None,
        }
    }

    /// The release with the API's version that was live with its files.
    pub fn with_api(mut self, api: Option<ApiVersion>) -> Release {
        self.api = api;
        self
    }
}

/// What a run knows when it decides which release its files are.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseFacts<'a> {
    /// What the bucket's manifest said before this run: its live release (id, whether its
    /// record is still to be written, when it was deployed) and API version.
    pub live: Option<&'a crate::state::Manifest>,
    /// Whether this run's files (keys, content, headers; the runtime configuration's aside)
    /// are the live release's.
    pub same_files: bool,
    /// The API version this run puts live, when it ships or restores one (else the live one's
    /// stays).
    pub api: Option<&'a ApiVersion>,
    /// A rollback: the release it restores.
    pub rollback_of: Option<&'a str>,
    /// The id a new release takes when one was chosen before (the runtime configuration
    /// written into the site carries it).
    pub chosen: Option<&'a str>,
    /// Now, in milliseconds since the Unix epoch.
    pub millis: u64,
    /// The git commit being deployed (none for a rollback's own record).
    pub commit: Option<&'a str>,
}

/// Which release a run's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseIdentity {
    /// The live release goes live again: its id, and its record when that is still to be
    /// written (an earlier run of the same files stopped before it was).
    Kept { id: String, record: Option<Release> },
    /// A new release, recorded once the run succeeds. Its `files` are left empty: they are the
    /// manifest's, lent when the record is written.
    New(Release),
}

impl ReleaseIdentity {
    pub fn id(&self) -> &str {
        match self {
            ReleaseIdentity::Kept { id, .. } => id,
            ReleaseIdentity::New(r) => &r.id,
        }
    }

    /// The record still to write, if any.
    pub fn record(self) -> Option<Release> {
        match self {
            ReleaseIdentity::Kept { record, .. } => record,
            ReleaseIdentity::New(r) => Some(r),
        }
    }
}

/// The one decision of a release's identity, for `files` (what the manifest will hold; a new
/// id is made from them unless one was chosen): the live release is kept when this run puts the
/// same files and the same API version live again; anything else is a new release.
pub fn decide_release(facts: ReleaseFacts<'_>, files: &BTreeMap<String, Entry>) -> ReleaseIdentity {
    let api = facts
        .api
        .or(facts.live.and_then(|m| m.api.as_ref()))
        .cloned();
    let kept = facts
        .live
        .filter(|m| facts.same_files && m.api == api)
        .and_then(|m| m.release.as_ref().map(|id| (m, id)));
    if let Some((m, id)) = kept {
        return ReleaseIdentity::Kept {
            id: id.clone(),
            record: m.release_pending.then(|| Release {
                id: id.clone(),
                created_at: m.deployed_at,
                commit: facts.commit.map(str::to_string),
                source: "deploy".into(),
                files: BTreeMap::new(),
                api: api.clone(),
            }),
        };
    }
    let (commit, source) = match facts.rollback_of {
        Some(of) => (None, format!("rollback to {of}")),
        None => (facts.commit.map(str::to_string), "deploy".to_string()),
    };
    ReleaseIdentity::New(Release {
        id: match facts.chosen {
            Some(id) => id.to_string(),
            None => release_id(facts.millis, files),
        },
        created_at: facts.millis / 1000,
        commit,
        source,
        files: BTreeMap::new(),
        api,
    })
}

/// Whether two file sets are the same files with the same headers (keys, content hashes,
/// Content-Type and Cache-Control), `except` aside: the runtime configuration, which names
/// its own release and so differs between any two.
pub fn same_files(
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
    except: Option<&str>,
) -> bool {
    fn content<'a>(
        files: &'a BTreeMap<String, Entry>,
        except: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, Md5, &'a str, &'a str)> {
        files
            .iter()
            .filter(move |(k, _)| Some(k.as_str()) != except)
            .map(|(k, e)| (k, e.md5, &*e.content_type, &*e.cache_control))
    }
    content(a, except).eq(content(b, except))
}

/// The release `rollback` restores: the one named, or the newest whose files or API version
/// differ from what is live now (`releases` sorted oldest first; `except`: the runtime
/// configuration's key, whose copies differ by their release id alone).
pub fn rollback_target<'a>(
    releases: &'a [Release],
    live: &BTreeMap<String, Entry>,
    live_api: Option<&ApiVersion>,
    id: Option<&str>,
    except: Option<&str>,
) -> Result<&'a Release, String> {
    match id {
        Some(id) => releases
            .iter()
            .find(|r| r.id == id || r.id.starts_with(id))
            .ok_or_else(|| format!("no release {id}")),
        None => releases
            .iter()
            .rev()
            .find(|r| {
                !same_files(&r.files, live, except)
                    || r.api
                        .as_ref()
                        .is_some_and(|a| !live_api.is_some_and(|l| a.runs_as(l)))
            })
            .ok_or_else(|| {
                "no earlier release with other files or another API version to roll back to"
                    .to_string()
            }),
    }
}

/// The unreadable record that stands in a rollback's way, if any: the one asked for (by id
/// or prefix), or, none being named, one newer than the release chosen, since it may be the
/// release meant. (Ids sort by time.)
pub fn unreadable_in_the_way<'a>(
    unreadable: &[&'a str],
    asked: Option<&str>,
    chosen: Option<&str>,
) -> Option<&'a str> {
    unreadable.iter().copied().find(|u| match asked {
        Some(id) => u.starts_with(id),
        None => chosen.is_some_and(|c| *u > c),
    })
}

/// How long unreferenced content-hashed assets are kept, and for how many releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A hashed asset any of the newest `keep_releases` releases references is kept, the
    /// release being deployed counted as the newest.
    pub keep_releases: usize,
    /// ... and one a release referenced less than this many seconds ago is kept too.
    pub grace_seconds: u64,
}

pub const DEFAULT_KEEP_RELEASES: usize = 3;
pub const DEFAULT_GRACE_HOURS: u64 = 24;

/// The release ids [`protect`] can need, from all of them (oldest first): the newest
/// `keep_releases - 1` (the release being deployed is the Nth) and every one made within the
/// grace period. Both are a suffix of the time-sorted list, so this is the longer suffix;
/// everything older can protect nothing, and is not read.
pub fn needed_for_retention(ids: &[String], r: Retention, now: u64) -> &[String] {
    let cutoff = timestamp(now.saturating_sub(r.grace_seconds));
    // `YYYYMMDDTHHMMSS` compares as text; ids add milliseconds after it. A record of the
    // cutoff's own second may be just older than the grace: reading it is harmless. With no
    // grace at all nothing is young, whatever second it was made in.
    let recent_in_grace = if r.grace_seconds == 0 {
        0
    } else {
        ids.iter()
            .rev()
            .take_while(|id| id.get(..15).is_some_and(|t| t >= &cutoff[..15]))
            .count()
    };
    let n = r.keep_releases.saturating_sub(1).max(recent_in_grace);
    &ids[ids.len().saturating_sub(n)..]
}

/// Turns the plan's deletes of content-hashed assets that recent releases still reference
/// into keeps. Other deletes (HTML, unhashed files) stay: the new release replaced them.
/// `releases` sorted oldest first; `now` in epoch seconds. Returns how many were spared.
pub fn protect(plan: &mut Plan, releases: &[Release], r: Retention, now: u64) -> usize {
    // key -> (the newest release referencing it, whether it is within the last N).
    let mut newest: HashMap<&str, (&Release, bool)> = HashMap::new();
    // The release being deployed is the newest of the N; it is not recorded yet.
    let recent_from = releases.len() + 1 - r.keep_releases.max(1).min(releases.len() + 1);
    for (i, rel) in releases.iter().enumerate() {
        for key in rel.files.keys() {
            newest.insert(key.as_str(), (rel, i >= recent_from));
        }
    }
    let mut spared = 0;
    for a in plan.actions.iter_mut().filter(|a| a.op == Op::Delete) {
        if !has_content_hash(&a.key) {
            continue;
        }
        let Some((rel, recent)) = newest.get(a.key.as_str()) else {
            continue;
        };
        let young = now.saturating_sub(rel.created_at) < r.grace_seconds;
        if *recent || young {
            a.op = Op::Keep;
            a.reason = Reason::Retained {
                release: rel.id.clone(),
            };
            spared += 1;
        }
    }
    spared
}

/// When a release record that could protect assets cannot be read, nothing proves any
/// content-hashed asset unreferenced: their deletes become keeps. Returns how many.
pub fn keep_unprovable(plan: &mut Plan, record: &str) -> usize {
    let mut kept = 0;
    for a in plan.actions.iter_mut().filter(|a| a.op == Op::Delete) {
        if has_content_hash(&a.key) {
            a.op = Op::Keep;
            a.reason = Reason::Unprovable {
                record: record.to_string(),
            };
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::state::Etag;

    /// An entry for a file whose content is `body`.
    fn entry(body: &str) -> Entry {
        let md5 = Md5(md5::compute(body).0);
        Entry {
            md5,
            etag: Etag::Md5(md5),
            size: 1,
            content_type: "text/html; charset=utf-8".into(),
            cache_control: "public, max-age=0, must-revalidate".into(),
        }
    }

    fn files(keys: &[(&str, &str)]) -> BTreeMap<String, Entry> {
        keys.iter()
            .map(|(k, m)| (k.to_string(), entry(m)))
            .collect()
    }

    fn release(at: u64, keys: &[(&str, &str)]) -> Release {
        Release::new(files(keys), at * 1000, None, "deploy")
    }

    #[test]
    fn the_live_id_is_kept_only_for_the_same_files_the_runtime_configuration_aside() {
        use crate::state::Manifest;
        // What a deploy's plan asks: are these the live release's files, the runtime
        // configuration (whose file names its own release id) aside?
        fn kept_id(
            live: Option<&Manifest>,
            planned: &BTreeMap<String, Entry>,
            key: &str,
            api: Option<&ApiVersion>,
        ) -> Option<String> {
            let same_files = live.is_some_and(|m| same_files(&m.files, planned, Some(key)));
            let facts = ReleaseFacts {
                live,
                same_files,
                api,
                rollback_of: None,
                chosen: None,
                millis: 0,
                commit: None,
            };
            match decide_release(facts, planned) {
                ReleaseIdentity::Kept { id, .. } => Some(id),
                ReleaseIdentity::New(_) => None,
            }
        }
        let entry = |body: &str| Entry {
            md5: Md5(md5::compute(body).0),
            etag: Etag::new(body),
            size: 1,
            content_type: "text/html".into(),
            cache_control: "no-cache".into(),
        };
        let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, Entry> {
            pairs
                .iter()
                .map(|(k, m)| (k.to_string(), entry(m)))
                .collect()
        };
        let v = |n: &str| ApiVersion {
            function: "f".into(),
            version: n.into(),
            package: None,
            image: None,
            parameters: None,
        };
        let live = Manifest {
            files: files(&[("index.html", "a"), ("c.json", "old")]),
            release: Some("r1".into()),
            api: Some(v("2")),
            ..Manifest::default()
        };
        let same = files(&[("index.html", "a")]);
        for (planned, api, kept) in [
            (same.clone(), None, Some("r1")),
            (same.clone(), Some(v("2")), Some("r1")),
            // The file itself may differ: its release id is what is being decided.
            (
                files(&[("index.html", "a"), ("c.json", "new")]),
                None,
                Some("r1"),
            ),
            (same.clone(), Some(v("3")), None),
            (files(&[("index.html", "b")]), None, None),
            (files(&[("index.html", "a"), ("x.js", "x")]), None, None),
            (files(&[]), None, None),
        ] {
            assert_eq!(
                kept_id(Some(&live), &planned, "c.json", api.as_ref()).as_deref(),
                kept,
                "{planned:?} {api:?}"
            );
        }
        assert_eq!(kept_id(None, &same, "c.json", None), None);
        let unrecorded = Manifest {
            release: None,
            ..live.clone()
        };
        assert_eq!(kept_id(Some(&unrecorded), &same, "c.json", None), None);
    }

    #[test]
    fn a_release_is_kept_only_for_the_same_files_and_api_else_it_is_new() {
        use crate::state::Manifest;
        let v = |n: &str| ApiVersion {
            function: "fn".into(),
            version: n.into(),
            package: None,
            image: None,
            parameters: None,
        };
        let live = |pending: bool, api: Option<ApiVersion>| Manifest {
            release: Some("R-live".into()),
            release_pending: pending,
            deployed_at: 1_700_000_000,
            api,
            ..Manifest::default()
        };
        let (recorded, pending, with_api) = (
            live(false, None),
            live(true, None),
            live(false, Some(v("3"))),
        );
        let no_release = Manifest::default();
        fn facts(live: Option<&Manifest>) -> ReleaseFacts<'_> {
            ReleaseFacts {
                live,
                same_files: true,
                api: None,
                rollback_of: None,
                chosen: None,
                millis: 1_800_000_000_123,
                commit: Some("abc"),
            }
        }
        let (recorded, pending, with_api, no_release) =
            (&recorded, &pending, &with_api, &no_release);
        let (three, four) = (&v("3"), &v("4"));
        let files = files(&[("index.html", "x")]);
        let new_id = release_id(1_800_000_000_123, &files);
        // (case, facts, kept id or None, the record's id, source and commit, or None)
        type Want = (
            Option<&'static str>,
            Option<(String, &'static str, Option<&'static str>)>,
        );
        let table: Vec<(&str, ReleaseFacts<'_>, Want)> = vec![
            (
                "same files, recorded: kept, nothing to record",
                facts(Some(recorded)),
                (Some("R-live"), None),
            ),
            (
                "same files, record pending: kept, and recorded now",
                facts(Some(pending)),
                (
                    Some("R-live"),
                    Some(("R-live".into(), "deploy", Some("abc"))),
                ),
            ),
            (
                "other files: new",
                ReleaseFacts {
                    same_files: false,
                    ..facts(Some(recorded))
                },
                (None, Some((new_id.clone(), "deploy", Some("abc")))),
            ),
            (
                "first deploy: new",
                facts(None),
                (None, Some((new_id.clone(), "deploy", Some("abc")))),
            ),
            (
                "a manifest without a release: new",
                facts(Some(no_release)),
                (None, Some((new_id.clone(), "deploy", Some("abc")))),
            ),
            (
                "the same files with a new API version: new",
                ReleaseFacts {
                    api: Some(four),
                    ..facts(Some(with_api))
                },
                (None, Some((new_id.clone(), "deploy", Some("abc")))),
            ),
            (
                "the same API version given again: kept",
                ReleaseFacts {
                    api: Some(three),
                    ..facts(Some(with_api))
                },
                (Some("R-live"), None),
            ),
            (
                "no API version given: the live one stays, kept",
                facts(Some(with_api)),
                (Some("R-live"), None),
            ),
            (
                "a new release takes the id chosen before",
                ReleaseFacts {
                    same_files: false,
                    chosen: Some("R-chosen"),
                    ..facts(Some(recorded))
                },
                (None, Some(("R-chosen".into(), "deploy", Some("abc")))),
            ),
            (
                "a kept release ignores an id chosen before",
                ReleaseFacts {
                    chosen: Some("R-chosen"),
                    ..facts(Some(recorded))
                },
                (Some("R-live"), None),
            ),
            (
                "a rollback to other files: new, named after its target, no commit",
                ReleaseFacts {
                    same_files: false,
                    rollback_of: Some("R-old"),
                    ..facts(Some(recorded))
                },
                (None, Some((new_id.clone(), "rollback to R-old", None))),
            ),
        ];
        for (case, facts, (kept, record)) in table {
            let decided = decide_release(facts, &files);
            match (&decided, kept) {
                (ReleaseIdentity::Kept { id, .. }, Some(want)) => assert_eq!(id, want, "{case}"),
                (ReleaseIdentity::New(_), None) => {}
                (got, want) => panic!("{case}: {got:?}, not kept {want:?}"),
            }
            let got = decided.record().map(|r| {
                assert!(
                    r.files.is_empty(),
                    "{case}: the manifest's files are lent later"
                );
                assert_eq!(
                    r.api.as_ref(),
                    facts.api.or(facts.live.and_then(|m| m.api.as_ref())),
                    "{case}"
                );
                (r.id, r.source, r.commit, r.created_at)
            });
            let want = record.map(|(id, source, commit)| {
                let at = match kept {
                    Some(_) => 1_700_000_000,
                    None => 1_800_000_000,
                };
                (id, source.to_string(), commit.map(str::to_string), at)
            });
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn retention_reads_only_the_newest_releases_it_can_need() {
        let day = 86_400;
        let ids: Vec<String> = (0..10)
            .map(|d| release(d * day, &[("a", "a")]).id)
            .collect();
        let r = |keep, grace_days| Retention {
            keep_releases: keep,
            grace_seconds: grace_days * day,
        };
        let table = [
            (r(3, 0), 9 * day + 1, 2),
            (r(1, 0), 9 * day + 1, 0),
            // Made in this very second, yet without a grace period nothing is young.
            (r(1, 0), 9 * day, 0),
            (r(3, 4), 9 * day + 1, 4), // days 6..=9 are within four days of day 9
            (r(20, 0), 9 * day, 10),
            (r(3, 100), 9 * day, 10),
        ];
        for (retention, now, want) in table {
            let got = needed_for_retention(&ids, retention, now);
            assert_eq!(got.len(), want, "{retention:?}");
            assert_eq!(got, &ids[10 - want..], "a suffix");
        }
    }

    #[test]
    fn release_ids_are_told_from_other_names() {
        let r = Release::new(BTreeMap::new(), 1_795_289_405_123, None, "deploy");
        assert!(is_release_id(&r.id), "{}", r.id);
        for other in ["backup", "20261121", "notes-20261121T193005123Z", ""] {
            assert!(!is_release_id(other), "{other}");
        }
    }

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let table = [
            (0, "19700101T000000Z"),
            (951_782_400, "20000229T000000Z"),
            (1_795_289_405, "20261121T193005Z"),
            (4_102_444_799, "20991231T235959Z"),
            // January and February count from the year before in the civil calendar.
            (1_705_276_800, "20240115T000000Z"),
            (1_709_208_000, "20240229T120000Z"),
            (1_740_787_200, "20250301T000000Z"),
            (1_798_761_599, "20261231T235959Z"),
            // Past the first century of a 400-year era, and the era's last day.
            (4_107_542_399, "21000228T235959Z"),
            (4_107_542_400, "21000301T000000Z"),
            (7_274_059_200, "22000704T120000Z"),
            (13_574_563_200, "24000229T000000Z"),
        ];
        for (epoch, want) in table {
            assert_eq!(timestamp(epoch), want);
        }
    }

    #[test]
    fn ids_follow_time_and_content() {
        let a = release(1_795_289_405, &[("index.html", "aa")]);
        let b = release(1_795_289_405, &[("index.html", "bb")]);
        assert!(a.id.starts_with("20261121T193005000Z-"), "{}", a.id);
        let later = Release::new(
            files(&[("index.html", "aa")]),
            1_795_289_405_007,
            None,
            "deploy",
        );
        assert!(later.id.starts_with("20261121T193005007Z-") && later.id > a.id);
        assert_ne!(a.id, b.id, "other files, other id");
        assert_eq!(a.id, release(1_795_289_405, &[("index.html", "aa")]).id);
        assert!(same_files(&a.files, &files(&[("index.html", "aa")]), None));
        let more = files(&[("index.html", "aa"), ("b", "bb")]);
        assert!(!same_files(&a.files, &more, None));
        assert!(
            same_files(&a.files, &more, Some("b")),
            "the runtime file aside"
        );
    }

    #[test]
    fn rollback_goes_to_the_newest_release_that_differs_from_what_is_live() {
        let r1 = release(1, &[("index.html", "v1")]);
        let r2 = release(2, &[("index.html", "v2")]);
        let r3 = release(3, &[("index.html", "v2")]); // a redeploy of the same files
        let all = vec![r1.clone(), r2.clone(), r3];
        let live = files(&[("index.html", "v2")]);
        assert_eq!(
            rollback_target(&all, &live, None, None, None).unwrap().id,
            r1.id
        );
        assert_eq!(
            rollback_target(&all, &live, None, Some(&r2.id), None)
                .unwrap()
                .id,
            r2.id
        );
        assert_eq!(
            rollback_target(&all, &live, None, Some(&r2.id[..20]), None)
                .unwrap()
                .id,
            r2.id,
            "a prefix names it"
        );
        assert!(rollback_target(&all, &live, None, Some("nope"), None).is_err());
        assert!(
            rollback_target(&all[1..], &live, None, None, None).is_err(),
            "nothing else to go to"
        );
        // Releases whose runtime configurations alone differ (each names its own id) are the
        // same site: not a target, or a rollback would write nothing, every time.
        let config = "shipit-config.json";
        let c1 = release(1, &[("index.html", "v1"), (config, "c1")]);
        let c2 = release(2, &[("index.html", "v1"), (config, "c2")]);
        let live = files(&[("index.html", "v1"), (config, "c2")]);
        let both = vec![c1, c2];
        assert!(rollback_target(&both, &live, None, None, Some(config)).is_err());
        assert!(rollback_target(&both, &live, None, None, None).is_ok());
    }

    #[test]
    fn an_unreadable_record_that_may_be_the_one_meant_stops_a_rollback() {
        let bad = ["20261102T000000000Z-bbbbbbbb"];
        let (older, newer) = (
            "20261101T000000000Z-aaaaaaaa",
            "20261103T000000000Z-cccccccc",
        );
        let table = [
            // (asked, chosen, in the way)
            (None, Some(older), true), // the damaged one is newer: it may be the one meant
            (None, Some(newer), false),
            (None, None, false),
            (Some("20261102"), None, true), // asked for by prefix
            (Some(bad[0]), None, true),
            (Some(older), Some(older), false), // another one named: the user chose
        ];
        for (asked, chosen, want) in table {
            assert_eq!(
                unreadable_in_the_way(&bad, asked, chosen).is_some(),
                want,
                "{asked:?} {chosen:?}"
            );
        }
    }

    #[test]
    fn a_release_with_the_same_files_and_another_api_version_is_a_rollback_target() {
        let api = |v: &str| {
            Some(ApiVersion {
                function: "fn".into(),
                version: v.into(),
                package: Some(format!("api/{v}.zip")),
                image: None,
                parameters: None,
            })
        };
        let r1 = release(1, &[("index.html", "v1")]).with_api(api("2"));
        let r2 = release(2, &[("index.html", "v1")]).with_api(api("3"));
        let all = vec![r1.clone(), r2.clone()];
        let live = files(&[("index.html", "v1")]);
        let live_api = api("3");
        assert_eq!(
            rollback_target(&all, &live, live_api.as_ref(), None, None)
                .unwrap()
                .id,
            r1.id,
            "only the API differs"
        );
        assert!(
            rollback_target(&all[1..], &live, live_api.as_ref(), None, None).is_err(),
            "the same files and version"
        );
        // A release from before the API was shipped says nothing about it: not a target.
        let old = release(0, &[("index.html", "v1")]);
        assert!(rollback_target(&[old], &live, live_api.as_ref(), None, None).is_err());
        // Recorded and read back with its version; a record without one reads as none.
        let text = serde_json::to_string(&r2).unwrap();
        assert_eq!(serde_json::from_str::<Release>(&text).unwrap(), r2);
        let legacy = text.replace(
            &format!(",\"api\":{}", serde_json::to_string(&r2.api).unwrap()),
            "",
        );
        assert_eq!(serde_json::from_str::<Release>(&legacy).unwrap().api, None);
    }

    fn delete(key: &str) -> Action {
        Action {
            key: key.into(),
            op: Op::Delete,
            reason: Reason::NotInBuild,
            size: 1,
            headers: None,
            path: None,
            md5: None,
            remote_etag: None,
        }
    }

    #[test]
    fn an_unreadable_record_keeps_every_hashed_delete_and_only_those() {
        let keys = [
            "assets/app.1a2b3c4d.js",
            "assets/b.5e6f7a8b.css",
            "old.html",
        ];
        let mut plan = Plan {
            actions: keys.iter().map(|k| delete(k)).collect(),
            remote_objects: 3,
        };
        assert_eq!(keep_unprovable(&mut plan, ".shipit/releases/x.json"), 2);
        let kept: Vec<(&str, &Reason)> = plan
            .actions
            .iter()
            .filter(|a| a.op == Op::Keep)
            .map(|a| (a.key.as_str(), &a.reason))
            .collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|(_, r)| matches!(r, Reason::Unprovable { record } if record == ".shipit/releases/x.json")));
        assert_eq!(
            plan.deletes().map(|a| a.key.as_str()).collect::<Vec<_>>(),
            ["old.html"]
        );
    }

    #[test]
    fn prune_spares_hashed_assets_recent_releases_reference() {
        let day = 86_400;
        let releases = vec![
            release(0, &[("assets/old.1a2b3c4d.js", "a"), ("old.html", "h")]),
            release(10 * day, &[("assets/mid.2b3c4d5e.js", "b")]),
            release(20 * day, &[("assets/new.3c4d5e6f.js", "c")]),
        ];
        let keys = [
            "assets/old.1a2b3c4d.js",
            "assets/mid.2b3c4d5e.js",
            "old.html",
            "assets/stray.4d5e6f7a.js",
        ];
        let table: &[(Retention, u64, &[&str])] = &[
            // The new release and the two before it: mid is referenced, old is not (and its
            // grace is long past).
            (
                Retention {
                    keep_releases: 3,
                    grace_seconds: day,
                },
                30 * day,
                &["assets/mid.2b3c4d5e.js"],
            ),
            // The new release and the one before it (which references neither).
            (
                Retention {
                    keep_releases: 2,
                    grace_seconds: day,
                },
                30 * day,
                &[],
            ),
            // The new release only, but a 15-day grace keeps mid (referenced 11 days ago).
            (
                Retention {
                    keep_releases: 1,
                    grace_seconds: 15 * day,
                },
                21 * day,
                &["assets/mid.2b3c4d5e.js"],
            ),
            (
                Retention {
                    keep_releases: 1,
                    grace_seconds: day,
                },
                30 * day,
                &[],
            ),
            // Everything within reach: still never an unhashed page or an unknown asset.
            (
                Retention {
                    keep_releases: 10,
                    grace_seconds: 0,
                },
                30 * day,
                &["assets/old.1a2b3c4d.js", "assets/mid.2b3c4d5e.js"],
            ),
        ];
        for (retention, now, kept) in table {
            // Only the releases `needed_for_retention` picks give the same answer.
            let ids: Vec<String> = releases.iter().map(|r| r.id.clone()).collect();
            let needed = needed_for_retention(&ids, *retention, *now);
            let subset: Vec<Release> = releases
                .iter()
                .filter(|r| needed.contains(&r.id))
                .cloned()
                .collect();
            let mut plan_subset = Plan {
                actions: keys.iter().map(|k| delete(k)).collect(),
                remote_objects: 4,
            };
            protect(&mut plan_subset, &subset, *retention, *now);
            let mut plan = Plan {
                actions: keys.iter().map(|k| delete(k)).collect(),
                remote_objects: 4,
            };
            let spared = protect(&mut plan, &releases, *retention, *now);
            let got: Vec<&str> = plan
                .actions
                .iter()
                .filter(|a| a.op == Op::Keep)
                .map(|a| a.key.as_str())
                .collect();
            assert_eq!(got, *kept, "{retention:?} at day {}", now / day);
            let got_subset: Vec<&str> = plan_subset
                .actions
                .iter()
                .filter(|a| a.op == Op::Keep)
                .map(|a| a.key.as_str())
                .collect();
            assert_eq!(got_subset, got, "the subset read decides the same");
            assert_eq!(spared, kept.len());
        }
    }
}
