//! The deploy pipeline against the in-memory store and CDN: the order of the writes, no delete
//! after any failure, the prune cap, header-only copies, the manifest and release records, and
//! rollback's restores. The real SDK path is the integration tests' (moto and the proxy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::deploy::{self, Started};
use crate::pipeline::finish::{finish, Finish};
use crate::pipeline::records;
use crate::pipeline::test_support::block_on;
use crate::ports::memory::{Lines, MemoryCdn, MemoryStore, Op};
use crate::ports::ObjectStore;
use shipit_core::error::{Error, Result};
use shipit_core::files::Md5;
use shipit_core::headers::{HeaderRule, HeaderRules, IMMUTABLE, REVALIDATE};
use shipit_core::plan::PruneCap;
use shipit_core::release::{Release, Retention, RELEASES_DIR};
use shipit_core::settings::*;
use shipit_core::state::{Manifest, MANIFEST_KEY};
use shipit_core::summary::Summary;

/// A build on disk: (key, body) pairs under a fresh temporary directory.
struct Build {
    dir: tempfile::TempDir,
}

impl Build {
    fn new(files: &[(&str, &str)]) -> Build {
        let dir = tempfile::tempdir().unwrap();
        for (key, body) in files {
            let path = dir.path().join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        Build { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

const V1: &[(&str, &str)] = &[
    (
        "index.html",
        "<html>v1 <script src=/assets/app-1a2b3c4d.js></script></html>",
    ),
    ("about/index.html", "<html>about v1</html>"),
    ("assets/app-1a2b3c4d.js", "console.log(1)"),
    ("assets/style-aaaa1111.css", "body{}"),
    ("robots.txt", "User-agent: *"),
    ("old.txt", "going away"),
];

const V2: &[(&str, &str)] = &[
    (
        "index.html",
        "<html>v2 <script src=/assets/app-5e6f7a8b.js></script></html>",
    ),
    ("about/index.html", "<html>about v2</html>"),
    ("assets/app-5e6f7a8b.js", "console.log(2)"),
    ("assets/style-aaaa1111.css", "body{}"),
    ("robots.txt", "User-agent: * (v2)"),
    ("new/page.html", "<html>new</html>"),
];

fn settings(dir: &Path) -> Settings {
    Settings {
        dir: dir.to_path_buf(),
        target: SiteTarget::Bucket("site".into()),
        prefix: String::new(),
        connection: Connection {
            region: None,
            profile: None,
            endpoints: Endpoints::default(),
            max_attempts: 1,
            timeouts: Timeouts::default(),
        },
        excludes: Vec::new(),
        rules: HeaderRules::default(),
        allow_missing_index: false,
        full_check: false,
        concurrency: 4,
        adaptive: false,
        multipart_threshold: 64 * 1024 * 1024,
        part_size: 16 * 1024 * 1024,
        prune: true,
        prune_cap: PruneCap {
            max_deletes: 1000,
            max_share: 1.0,
        },
        allow_large_prune: false,
        cdn: CdnSettings {
            distribution_id: Some("E123".into()),
            invalidate: true,
            max_paths: 50,
            wait: false,
            wait_timeout: Duration::from_secs(1),
        },
        retention: Retention {
            keep_releases: 1,
            grace_seconds: 0,
        },
        lock: LockSettings {
            ttl: Duration::from_secs(60),
            wait: Duration::from_secs(0),
        },
        api: None,
        local_service: None,
        runtime_config: None,
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
    }
}

fn no_verify() -> VerifySettings {
    VerifySettings {
        enabled: false,
        url: None,
        s3_url: None,
        api_url: None,
        deep_routes: Vec::new(),
        timeout: Duration::from_secs(1),
    }
}

/// Scan, plan, write and finish, as `shipit deploy --bucket` does after the lock.
async fn run(
    store: &Arc<MemoryStore>,
    cdn: &MemoryCdn,
    s: &Settings,
    from: Option<Release>,
) -> Result<Summary> {
    run_checked(store, cdn, s, from, no_verify()).await
}

/// The build scanned, or the release a rollback restores.
async fn started(s: &Settings, from: Option<Release>, reporter: &Lines) -> Result<Started> {
    match from {
        Some(r) => Started::from_release(r),
        None => Ok(deploy::start(s, async { Ok(()) }, |_| None, reporter)
            .await?
            .1),
    }
}

/// The same, verifying with these checks.
async fn run_checked(
    store: &Arc<MemoryStore>,
    cdn: &MemoryCdn,
    s: &Settings,
    from: Option<Release>,
    checks: VerifySettings,
) -> Result<Summary> {
    deploy_through(store, s, from, Some(cdn), checks, None, |_| Ok(())).await
}

/// Scan (or a release), plan, `shape` the plan as a command does after planning, write and
/// finish.
async fn deploy_through(
    store: &Arc<MemoryStore>,
    s: &Settings,
    from: Option<Release>,
    cdn: Option<&MemoryCdn>,
    checks: VerifySettings,
    outputs: Option<&BTreeMap<String, String>>,
    shape: impl FnOnce(&mut deploy::Prepared) -> Result<()>,
) -> Result<Summary> {
    let reporter = Lines::default();
    let dyn_store: Arc<dyn ObjectStore> = store.clone();
    let started = started(s, from, &reporter).await?;
    let mut prepared = deploy::prepare(s, dyn_store, started, &reporter).await?;
    shape(&mut prepared)?;
    let written = deploy::write_all(prepared, s, None, &reporter).await?;
    let f = Finish {
        cdn: cdn.map(|c| c as &dyn crate::ports::Cdn),
        checks: &checks,
        outputs,
        index_md5: None,
        region: "us-east-1".into(),
        lock: None,
    };
    finish(s, f, written, &reporter)
        .await
        .map(|(summary, _)| summary)
}

/// What the bucket serves: key -> body, shipit's state left out.
fn served(store: &MemoryStore) -> BTreeMap<String, String> {
    store
        .keys()
        .into_iter()
        .filter(|k| !k.starts_with(".shipit/"))
        .map(|k| {
            let body = String::from_utf8(store.object(&k).unwrap().body).unwrap();
            (k, body)
        })
        .collect()
}

fn expected(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(k, b)| (k.to_string(), b.to_string()))
        .collect()
}

fn written_keys(store: &MemoryStore) -> Vec<(Op, String)> {
    store
        .calls()
        .into_iter()
        .filter(|(op, _)| matches!(op, Op::Put | Op::PutMultipart | Op::Copy | Op::PutState))
        .collect()
}

#[test]
fn a_first_deploy_writes_assets_then_html_then_the_root_index_then_the_records() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let build = Build::new(V1);
    let summary = block_on(run(&store, &cdn, &settings(build.path()), None)).unwrap();
    assert_eq!(summary.uploaded, V1.len());
    assert_eq!(served(&store), expected(V1));
    let writes = written_keys(&store);
    let position = |key: &str| writes.iter().position(|(_, k)| k == key).unwrap();
    let html = ["about/index.html", "index.html"];
    for (_, key) in writes.iter().filter(|(op, _)| *op == Op::Put) {
        if !key.ends_with(".html") {
            assert!(
                html.iter().all(|h| position(key) < position(h)),
                "{key} was written after HTML: {writes:?}"
            );
        }
    }
    let puts: Vec<&String> = writes
        .iter()
        .filter(|(op, _)| *op == Op::Put)
        .map(|(_, k)| k)
        .collect();
    assert_eq!(puts.last().map(|k| k.as_str()), Some("index.html"));
    // The manifest after every file (its release pending); the release record once the
    // site is verified; then the manifest again, saying it is recorded.
    let manifest_at = writes.iter().position(|(_, k)| k == MANIFEST_KEY).unwrap();
    let release_at = writes
        .iter()
        .position(|(_, k)| k.starts_with(RELEASES_DIR))
        .unwrap();
    let recorded_at = writes.iter().rposition(|(_, k)| k == MANIFEST_KEY).unwrap();
    assert!(position("index.html") < manifest_at, "{writes:?}");
    assert!(
        manifest_at < release_at && release_at < recorded_at,
        "{writes:?}"
    );
    assert!(!store.calls().iter().any(|(op, _)| *op == Op::DeleteBatch));
    // Nothing was live before: nothing cached can be stale.
    assert_eq!(cdn.created(), Vec::new());
}

#[test]
fn the_records_say_what_is_live_and_a_no_op_writes_nothing() {
    let store = Arc::new(MemoryStore::new("site", "p/"));
    let cdn = MemoryCdn::default();
    let build = Build::new(V1);
    let s = settings(build.path());
    let first = block_on(run(&store, &cdn, &s, None)).unwrap();
    let manifest = Manifest::parse(&store.object(MANIFEST_KEY).unwrap().body).unwrap();
    assert_eq!(manifest.files.len(), V1.len());
    assert_eq!(manifest.release, first.release);
    assert!(
        manifest.pending_invalidation.is_empty(),
        "settled after the invalidation"
    );
    for (key, body) in V1 {
        let entry = &manifest.files[*key];
        assert_eq!(entry.md5.0, md5::compute(body).0, "{key}");
        assert!(entry.etag.is(&store.object(key).unwrap().etag), "{key}");
    }
    let releases = block_on(records::releases(store.as_ref()))
        .unwrap()
        .releases;
    assert_eq!(releases.len(), 1);
    assert_eq!(Some(&releases[0].id), first.release.as_ref());
    assert_eq!(releases[0].files, manifest.files);

    store.clear_calls();
    let again = block_on(run(&store, &cdn, &s, None)).unwrap();
    assert_eq!(
        (again.uploaded, again.header_updated, again.deleted),
        (0, 0, 0)
    );
    assert_eq!(
        again.release, None,
        "the same files are the live release already"
    );
    assert_eq!(written_keys(&store), Vec::new(), "a no-op writes nothing");
    assert_eq!(cdn.created(), Vec::new(), "and invalidates nothing");
}

#[test]
fn a_second_deploy_prunes_only_after_the_writes_and_the_invalidation() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    store.clear_calls();
    let summary = block_on(run(&store, &cdn, &settings(v2.path()), None)).unwrap();
    // old.txt and the old hashed script go (retention keeps 1 release: the new one).
    assert_eq!(summary.deleted, 2);
    assert_eq!(served(&store), expected(V2));
    let calls = store.calls();
    let delete_at = calls
        .iter()
        .position(|(op, _)| *op == Op::DeleteBatch)
        .unwrap();
    let last_write = calls
        .iter()
        .rposition(|(op, k)| matches!(op, Op::Put | Op::Copy) || k == MANIFEST_KEY)
        .unwrap();
    assert!(last_write < delete_at, "{calls:?}");
    let (_, paths) = cdn.created().last().cloned().unwrap();
    for p in ["/index.html", "/", "/robots.txt", "/old.txt"] {
        assert!(paths.contains(&p.to_string()), "{p} in {paths:?}");
    }
    assert!(
        !paths.iter().any(|p| p.contains("assets/style")),
        "an unchanged hashed asset needs no invalidation: {paths:?}"
    );
}

/// Every operation of the store, failed at each of its calls in turn during a deploy of v2
/// over v1: the run fails, nothing is deleted after the failure, the live HTML's references
/// exist, and a clean re-run converges to exactly v2.
#[test]
fn no_delete_after_any_failure_and_a_re_run_converges() {
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    let ops = [
        Op::List,
        Op::Get,
        Op::Put,
        Op::PutState,
        Op::Copy,
        Op::ListDir,
        Op::DeleteBatch,
    ];
    let mut scenarios = 0;
    for op in ops {
        for nth in 1..=8 {
            let store = Arc::new(MemoryStore::new("site", ""));
            let cdn = MemoryCdn::default();
            let mut s2 = settings(v2.path());
            // A header change of an unchanged file too, so the deploy makes an in-place copy.
            s2.rules = HeaderRules::new(&[HeaderRule {
                glob: "assets/style-*.css".into(),
                content_type: None,
                cache_control: Some("public, max-age=60".into()),
            }])
            .unwrap();
            block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
            store.clear_calls();
            store.fail_at(op, nth);
            let result = block_on(run(&store, &cdn, &s2, None));
            let calls = store.calls();
            let failed_at = calls
                .iter()
                .enumerate()
                .filter(|(_, (o, _))| *o == op)
                .nth(nth - 1)
                .map(|(i, _)| i);
            let Some(failed_at) = failed_at else {
                assert!(
                    result.is_ok(),
                    "{op:?} #{nth} was never called, yet the run failed"
                );
                continue;
            };
            scenarios += 1;
            assert!(
                result.is_err(),
                "{op:?} #{nth} failed but the run succeeded"
            );
            assert!(
                !calls[failed_at + 1..]
                    .iter()
                    .any(|(o, _)| matches!(o, Op::DeleteBatch | Op::Delete)),
                "{op:?} #{nth}: a delete after the failure: {calls:?}"
            );
            // Whatever HTML is live, its script exists.
            let index = String::from_utf8(store.object("index.html").unwrap().body).unwrap();
            let script = index
                .split("src=/")
                .nth(1)
                .unwrap()
                .split('>')
                .next()
                .unwrap();
            assert!(
                store.object(script).is_some(),
                "{op:?} #{nth}: {script} is gone"
            );
            // A clean re-run converges.
            block_on(run(&store, &cdn, &s2, None)).unwrap();
            assert_eq!(served(&store), expected(V2), "{op:?} #{nth}");
            assert_eq!(
                store
                    .object("assets/style-aaaa1111.css")
                    .unwrap()
                    .headers
                    .cache_control
                    .to_string(),
                "public, max-age=60"
            );
        }
    }
    // Every write and read of a deploy of v2 over v1: the listing, the manifest read, the
    // releases listing, 5 uploads, the copy, 3 state writes (the manifest, the release, the settling),
    // the prune. No release record is read: retention keeps 1 with no grace, whatever the
    // clock says (this once depended on v1 and v2 falling in the same second).
    assert_eq!(scenarios, 13, "scenarios that reached a failure");
}

#[test]
fn a_prune_above_the_cap_is_refused_before_any_write() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    store.clear_calls();
    let mut s = settings(v2.path());
    s.prune_cap.max_deletes = 1;
    let err = block_on(run(&store, &cdn, &s, None)).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(written_keys(&store), Vec::new());
    assert_eq!(served(&store), expected(V1));
    // With the explicit flag it goes ahead.
    s.allow_large_prune = true;
    let summary = block_on(run(&store, &cdn, &s, None)).unwrap();
    assert_eq!(summary.deleted, 2);
}

#[test]
fn a_header_rule_change_copies_in_place_and_uploads_nothing() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let v1 = Build::new(V1);
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    let before = store.object("assets/style-aaaa1111.css").unwrap();
    assert_eq!(&*before.headers.cache_control, IMMUTABLE);
    store.clear_calls();
    let mut s = settings(v1.path());
    s.rules = HeaderRules::new(&[HeaderRule {
        glob: "**/*.css".into(),
        content_type: None,
        cache_control: Some("public, max-age=600".into()),
    }])
    .unwrap();
    let summary = block_on(run(&store, &cdn, &s, None)).unwrap();
    assert_eq!((summary.uploaded, summary.header_updated), (0, 1));
    let copies: Vec<(Op, String)> = written_keys(&store)
        .into_iter()
        .filter(|(op, _)| *op != Op::PutState)
        .collect();
    assert_eq!(
        copies,
        [(Op::Copy, "assets/style-aaaa1111.css".to_string())]
    );
    let after = store.object("assets/style-aaaa1111.css").unwrap();
    assert_eq!(after.body, before.body);
    assert_eq!(&*after.headers.cache_control, "public, max-age=600");
    assert_eq!(after.headers.content_type, before.headers.content_type);
}

#[test]
fn a_rollback_restores_the_release_from_object_versions() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    let mut s = settings(v1.path());
    // Keep the old hashed assets, so the rollback needs only what changed.
    s.retention.keep_releases = 3;
    let first = block_on(run(&store, &cdn, &s, None)).unwrap();
    s.dir = v2.path().to_path_buf();
    block_on(run(&store, &cdn, &s, None)).unwrap();
    let releases = block_on(records::releases(store.as_ref()))
        .unwrap()
        .releases;
    let r1 = releases
        .iter()
        .find(|r| Some(&r.id) == first.release.as_ref())
        .unwrap()
        .clone();
    store.clear_calls();
    s.dir = PathBuf::from(".");
    s.allow_missing_index = true;
    let summary = block_on(run(&store, &cdn, &s, Some(r1.clone()))).unwrap();
    // v2's hashed script stays: a release within `keep_releases` references it.
    let mut want = expected(V1);
    want.insert("assets/app-5e6f7a8b.js".into(), "console.log(2)".into());
    assert_eq!(served(&store), want);
    for (key, entry) in &r1.files {
        let o = store.object(key).unwrap();
        assert_eq!(o.headers.content_type, entry.content_type, "{key}");
        assert_eq!(o.headers.cache_control, entry.cache_control, "{key}");
    }
    // Every restore was a copy from a version: nothing was uploaded from disk.
    assert!(!store.calls().iter().any(|(op, _)| *op == Op::Put));
    assert!(store.calls().iter().any(|(op, _)| *op == Op::Versions));
    let rollback = summary.release.unwrap();
    let record = block_on(records::read_releases(store.as_ref(), &[rollback]))
        .unwrap()
        .releases;
    assert!(
        record[0].source.starts_with("rollback to "),
        "{}",
        record[0].source
    );
    assert_eq!(record[0].files, r1.files);
}

#[test]
fn a_rollback_to_content_no_version_has_is_refused_before_any_write() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let v1 = Build::new(V1);
    let s = settings(v1.path());
    let first = block_on(run(&store, &cdn, &s, None)).unwrap();
    let mut r = block_on(records::releases(store.as_ref()))
        .unwrap()
        .releases[0]
        .clone();
    assert_eq!(Some(&r.id), first.release.as_ref());
    r.files.get_mut("robots.txt").unwrap().md5 = Md5(md5::compute("never uploaded").0);
    store.clear_calls();
    let err = block_on(run(&store, &cdn, &s, Some(r))).unwrap_err();
    assert!(err.to_string().contains("robots.txt"), "{err}");
    assert_eq!(written_keys(&store), Vec::new());
}

#[test]
fn html_gets_revalidation_even_with_a_hash_in_its_name() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let build = Build::new(&[
        ("index.html", "<html></html>"),
        ("page-1a2b3c4d.html", "<html>hashed name</html>"),
    ]);
    block_on(run(&store, &cdn, &settings(build.path()), None)).unwrap();
    assert_eq!(
        store
            .object("page-1a2b3c4d.html")
            .unwrap()
            .headers
            .cache_control
            .to_string(),
        REVALIDATE
    );
}

#[test]
fn a_per_key_delete_error_fails_the_run_after_the_release_was_recorded() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    store.refuse_delete("old.txt");
    store.clear_calls();
    let err = block_on(run(&store, &cdn, &settings(v2.path()), None)).unwrap_err();
    assert!(err.to_string().contains("old.txt"), "{err}");
    // The live build was verified before the prune: its record came first.
    let calls = store.calls();
    let recorded = calls
        .iter()
        .position(|(op, k)| *op == Op::PutState && k.starts_with(RELEASES_DIR))
        .unwrap();
    let prune = calls
        .iter()
        .position(|(op, _)| *op == Op::DeleteBatch)
        .unwrap();
    assert!(recorded < prune, "{calls:?}");
}

#[test]
fn a_busy_cdn_is_asked_again_then_given_up_on() {
    let cdn = MemoryCdn::default();
    let reporter = Lines::default();
    let paths = vec!["/index.html".to_string()];
    let delay = Duration::from_millis(1);
    cdn.busy_for(2);
    let id = block_on(crate::pipeline::invalidate::create(
        &cdn, "E1", &paths, delay, &reporter,
    ));
    assert_eq!(id.unwrap(), "I1");
    assert_eq!(cdn.created(), [("E1".to_string(), paths.clone())]);
    cdn.busy_for(100);
    let err = block_on(crate::pipeline::invalidate::create(
        &cdn, "E1", &paths, delay, &reporter,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("too many invalidations"), "{err}");
}

/// Checks that fail at once: the site's URL refuses connections.
fn failing_checks() -> VerifySettings {
    VerifySettings {
        enabled: true,
        url: Some("http://127.0.0.1:9".into()),
        timeout: Duration::from_secs(0),
        ..no_verify()
    }
}

fn manifest(store: &MemoryStore) -> Manifest {
    Manifest::parse(&store.object(MANIFEST_KEY).unwrap().body).unwrap()
}

#[test]
fn a_build_that_failed_verification_is_recorded_by_the_next_successful_run() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    let s2 = settings(v2.path());
    let err = block_on(run_checked(&store, &cdn, &s2, None, failing_checks())).unwrap_err();
    assert!(matches!(err, Error::Broken { .. }), "{err}");
    let pending = manifest(&store);
    assert!(pending.release_pending);
    assert_eq!(
        block_on(records::releases(store.as_ref()))
            .unwrap()
            .releases
            .len(),
        1
    );

    let again = block_on(run(&store, &cdn, &s2, None)).unwrap();
    assert_eq!(
        again.uploaded, 0,
        "the files were written by the failed run"
    );
    assert_eq!(
        again.release, pending.release,
        "the same files make the same release"
    );
    let live = manifest(&store);
    assert!(!live.release_pending);
    let read = block_on(records::releases(store.as_ref())).unwrap();
    assert_eq!(read.releases.len(), 2);
    let recorded = read
        .releases
        .iter()
        .find(|r| Some(&r.id) == live.release.as_ref());
    assert_eq!(recorded.map(|r| &r.files), Some(&live.files));

    store.clear_calls();
    block_on(run(&store, &cdn, &s2, None)).unwrap();
    assert_eq!(
        written_keys(&store),
        Vec::new(),
        "then a re-run is a no-op again"
    );
}

#[test]
fn a_prune_that_fails_leaves_the_live_build_recorded() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    store.fail_at(Op::DeleteBatch, 1);
    block_on(run(&store, &cdn, &settings(v2.path()), None)).unwrap_err();
    let live = manifest(&store);
    assert!(!live.release_pending);
    let read = block_on(records::releases(store.as_ref())).unwrap();
    assert!(
        read.releases
            .iter()
            .any(|r| Some(&r.id) == live.release.as_ref() && r.files == live.files),
        "the live build is a recorded release"
    );
    // The re-run prunes what the failed one could not.
    let again = block_on(run(&store, &cdn, &settings(v2.path()), None)).unwrap();
    assert_eq!(again.deleted, 2);
    assert_eq!(served(&store), expected(V2));
}

#[test]
fn an_unreadable_release_record_is_skipped_and_keeps_what_it_may_reference() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    let mut s = settings(v1.path());
    s.retention.keep_releases = 2;
    let first = block_on(run(&store, &cdn, &s, None)).unwrap();
    let key = format!("{RELEASES_DIR}{}.json", first.release.unwrap());
    let json = shipit_core::headers::Headers {
        content_type: "application/json".into(),
        cache_control: "no-store".into(),
    };
    store.seed(&key, b"{ not json", json);
    s.dir = v2.path().to_path_buf();
    let summary = block_on(run(&store, &cdn, &s, None)).unwrap();
    assert_eq!(
        summary.deleted, 1,
        "only old.txt: v1's script may still be referenced"
    );
    assert!(store.object("assets/app-1a2b3c4d.js").is_some());
    let read = block_on(records::releases(store.as_ref())).unwrap();
    assert_eq!(read.releases.len(), 1);
    assert_eq!(read.unreadable.len(), 1);
    assert_eq!(read.unreadable[0].key, key);
    assert!(read.unreadable[0].warning().contains(&key));
}

/// A lock record as another run would write it.
fn other_holder() -> Vec<u8> {
    serde_json::to_vec(&shipit_core::lock::Holder {
        owner: "ci@other pid 2".into(),
        command: "deploy".into(),
        acquired_at: 0,
        expires_at: u64::MAX,
    })
    .unwrap()
}

#[test]
fn a_run_that_lost_its_lock_stops_before_the_root_index_and_deletes_nothing() {
    use crate::ports::Precondition;
    use shipit_core::lock::LOCK_KEY;
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    block_on(run(&store, &cdn, &settings(v1.path()), None)).unwrap();
    let s = settings(v2.path());
    let reporter = Lines::default();
    let dyn_store: Arc<dyn ObjectStore> = store.clone();
    let err = block_on(async {
        let lock = crate::pipeline::lock::acquire(
            dyn_store.clone(),
            "deploy",
            Duration::from_secs(60),
            Duration::ZERO,
            &reporter,
        )
        .await?;
        let started = deploy::start(&s, async { Ok(()) }, |_| None, &reporter)
            .await?
            .1;
        let prepared = deploy::prepare(&s, dyn_store.clone(), started, &reporter).await?;
        // Meanwhile the lock expired and another run took it over.
        dyn_store
            .put_state(LOCK_KEY, other_holder(), Precondition::None, "take over")
            .await?;
        deploy::write_all(prepared, &s, Some(&lock), &reporter).await
    })
    .err()
    .expect("the run must stop");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(
        err.to_string().contains("before the root index.html"),
        "{err}"
    );
    let index = String::from_utf8(store.object("index.html").unwrap().body).unwrap();
    assert!(
        index.contains("v1"),
        "the root index.html was not written: {index}"
    );
    assert!(!store.calls().iter().any(|(op, _)| *op == Op::DeleteBatch));
    assert_eq!(
        store.object(LOCK_KEY).unwrap().body,
        other_holder(),
        "the other run's lock is left alone"
    );
}

#[test]
fn a_held_lock_is_renewed_while_the_run_lasts_and_released_after() {
    use shipit_core::lock::{Holder, LOCK_KEY};
    let store = Arc::new(MemoryStore::new("site", ""));
    let dyn_store: Arc<dyn ObjectStore> = store.clone();
    let reporter = Lines::default();
    let expiry = || {
        let body = store.object(LOCK_KEY).unwrap().body;
        serde_json::from_slice::<Holder>(&body).unwrap().expires_at
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let ttl = Duration::from_secs(3);
            let lock =
                crate::pipeline::lock::acquire(dyn_store, "deploy", ttl, Duration::ZERO, &reporter)
                    .await
                    .unwrap();
            let first = expiry();
            tokio::time::sleep(Duration::from_millis(2500)).await;
            assert!(expiry() > first, "the heartbeat renewed the lock");
            lock.fence("the test").await.unwrap();
            lock.release().await.unwrap();
        });
    assert!(store.object(LOCK_KEY).is_none(), "released");
}

/// The stack's outputs the runtime configuration is made of.
fn stack_outputs(api: &str) -> BTreeMap<String, String> {
    [
        ("ApiUrl", api),
        ("UserPoolId", "us-east-1_pool"),
        ("UserPoolClientId", "client"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

const CONFIG: &str = "shipit-config.json";

/// A deploy to a stack's site: the runtime configuration planned from `outputs`, then the API
/// version that goes live (`api`), as `shipit deploy --stack` (or a rollback) does.
fn run_stack(
    store: &Arc<MemoryStore>,
    s: &Settings,
    from: Option<Release>,
    outputs: &BTreeMap<String, String>,
    api: Option<shipit_core::state::ApiVersion>,
) -> Result<Summary> {
    block_on(deploy_through(
        store,
        s,
        from,
        None,
        no_verify(),
        Some(outputs),
        |p| {
            p.set_runtime_config(outputs, "us-east-1", &s.rules)?;
            p.set_api(api, &s.rules)
        },
    ))
}

/// The runtime configuration the bucket holds.
fn config_in(store: &MemoryStore) -> shipit_core::runtime_config::RuntimeConfig {
    let o = store.object(CONFIG).expect("the runtime configuration");
    assert_eq!(&*o.headers.content_type, "application/json");
    assert_eq!(&*o.headers.cache_control, REVALIDATE);
    shipit_core::runtime_config::RuntimeConfig::parse(&o.body).unwrap()
}

fn version(n: &str) -> Option<shipit_core::state::ApiVersion> {
    Some(shipit_core::state::ApiVersion {
        function: "site-ApiFunction".into(),
        version: n.into(),
        package: None,
        image: None,
        parameters: None,
    })
}

#[test]
fn the_runtime_configuration_names_the_release_it_is_part_of() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let build = Build::new(V1);
    let mut s = settings(build.path());
    s.runtime_config = Some(CONFIG.into());
    s.cdn.distribution_id = None;
    let api = "https://a1.execute-api.us-east-1.amazonaws.com/live";
    let first = run_stack(&store, &s, None, &stack_outputs(api), version("2")).unwrap();
    let c = config_in(&store);
    let r1 = first.release.clone().unwrap();
    assert_eq!(c.release, r1);
    assert_eq!(c.api_url.as_deref(), Some(api));
    assert_eq!(c.user_pool_client_id.as_deref(), Some("client"));
    // The record holds the file too: a rollback puts it back.
    let record = block_on(records::read_releases(
        store.as_ref(),
        std::slice::from_ref(&r1),
    ))
    .unwrap()
    .releases;
    assert!(record[0].files.contains_key(CONFIG));
    assert_eq!(first.uploaded, V1.len() + 1);

    // The same files and API version: the same release; nothing written at all.
    store.clear_calls();
    let again = run_stack(&store, &s, None, &stack_outputs(api), version("2")).unwrap();
    assert_eq!((again.uploaded, again.release.clone()), (0, None));
    assert!(
        written_keys(&store).is_empty(),
        "{:?}",
        written_keys(&store)
    );
    assert_eq!(config_in(&store).release, r1);

    // A new API version alone: a new release, and the file says so.
    let by_api = run_stack(&store, &s, None, &stack_outputs(api), version("3")).unwrap();
    let r2 = by_api.release.clone().unwrap();
    assert_ne!(r2, r1);
    assert_eq!(
        (by_api.uploaded, config_in(&store).release),
        (1, r2.clone())
    );

    // The stack's API moved: the file follows, in a new release.
    let moved = "https://b2.execute-api.us-east-1.amazonaws.com/live";
    let by_stack = run_stack(&store, &s, None, &stack_outputs(moved), version("3")).unwrap();
    let r3 = by_stack.release.clone().unwrap();
    assert_ne!(r3, r2);
    assert_eq!(config_in(&store).api_url.as_deref(), Some(moved));

    // A changed build: a new release; the file is written before any HTML.
    let v2 = Build::new(V2);
    s.dir = v2.path().to_path_buf();
    store.clear_calls();
    let by_files = run_stack(&store, &s, None, &stack_outputs(moved), version("3")).unwrap();
    let r4 = by_files.release.clone().unwrap();
    assert_eq!(config_in(&store).release, r4);
    let writes = written_keys(&store);
    let at = |key: &str| writes.iter().position(|(_, k)| k == key).unwrap();
    assert!(at(CONFIG) < at("about/index.html") && at(CONFIG) < at("index.html"));
}

#[test]
fn a_build_with_a_file_where_the_runtime_configuration_goes_is_refused_before_anything() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let mut files = V1.to_vec();
    files.push((CONFIG, "{\"mine\": true}"));
    let build = Build::new(&files);
    let mut s = settings(build.path());
    s.runtime_config = Some(CONFIG.into());
    let e = run_stack(&store, &s, None, &stack_outputs("https://a"), None).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(CONFIG) && text.contains("runtime configuration"),
        "{text}"
    );
    assert!(store.calls().is_empty(), "{:?}", store.calls());
}

#[test]
fn a_rollback_writes_the_runtime_configuration_of_its_own_release() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let (v1, v2) = (Build::new(V1), Build::new(V2));
    let mut s = settings(v1.path());
    s.runtime_config = Some(CONFIG.into());
    s.retention.keep_releases = 3;
    let api = stack_outputs("https://a1.execute-api.us-east-1.amazonaws.com/live");
    let first = run_stack(&store, &s, None, &api, version("2")).unwrap();
    s.dir = v2.path().to_path_buf();
    run_stack(&store, &s, None, &api, version("3")).unwrap();
    let r1 = block_on(records::read_releases(
        store.as_ref(),
        &[first.release.clone().unwrap()],
    ))
    .unwrap()
    .releases
    .remove(0);
    s.dir = PathBuf::from(".");
    s.allow_missing_index = true;
    let back = run_stack(&store, &s, Some(r1.clone()), &api, r1.api.clone()).unwrap();
    let id = back.release.unwrap();
    assert_ne!(id, r1.id);
    // The site is v1's; the configuration names the rollback's own release.
    assert_eq!(store.object("index.html").unwrap().body, V1[0].1.as_bytes());
    assert_eq!(config_in(&store).release, id);
}

#[test]
fn with_adaptive_concurrency_the_writes_keep_their_order_and_all_land() {
    let store = Arc::new(MemoryStore::new("site", ""));
    let cdn = MemoryCdn::default();
    let build = Build::new(V1);
    let mut s = settings(build.path());
    s.adaptive = true;
    s.concurrency = 32;
    let summary = block_on(run(&store, &cdn, &s, None)).unwrap();
    assert_eq!(summary.uploaded, V1.len());
    assert_eq!(served(&store), expected(V1));
    let puts: Vec<String> = written_keys(&store)
        .into_iter()
        .filter(|(op, _)| *op == Op::Put)
        .map(|(_, k)| k)
        .collect();
    assert_eq!(puts.last().map(String::as_str), Some("index.html"));
}
