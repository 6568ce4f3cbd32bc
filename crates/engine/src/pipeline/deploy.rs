//! The pipeline: scan and list (concurrently), plan, then execute the plan: writes phase by
//! phase, shipit's manifest, and the prune. Deciding happens in `plan`; this module only runs
//! what the plan says, and never deletes after an error.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};

use crate::clock::{epoch_millis, epoch_secs};
use crate::interrupt;
use crate::pipeline::limit::Limiter;
use crate::pipeline::lock::Lock;
use crate::pipeline::records;
use crate::pipeline::scan::{self, ScanOptions};
use crate::ports::{ObjectStore, Reporter, DELETE_BATCH};
use shipit_core::error::{Error, Result};
use shipit_core::files::LocalFile;
use shipit_core::headers::{HeaderRules, Headers};
use shipit_core::plan::{self, Action, Op, Phase, Plan, Reason, RemoteObject};
use shipit_core::release::{decide_release, Release, ReleaseFacts, ReleaseIdentity};
use shipit_core::runtime_config::RuntimeConfig;
use shipit_core::settings::Settings;
use shipit_core::state::{self, Entry, Etag, Manifest};
use shipit_core::summary::{human_bytes, LeftOut, Summary};

/// A plan ready to execute, with what executing it needs.
pub struct Prepared {
    pub store: Arc<dyn ObjectStore>,
    pub plan: Plan,
    /// Set for a rollback: what it restores, and from which object versions.
    rollback: Option<Rollback>,
    /// The manifest the bucket held before this deploy.
    pub manifest: Option<Manifest>,
    pub started: Instant,
    /// The API's version live with these files, when this deploy shipped or restored it
    /// (else the one the manifest names stays): set with [`Prepared::set_api`].
    api: Option<shipit_core::release::ApiVersion>,
    /// The SPA's runtime configuration, once [`Prepared::set_runtime_config`] planned it.
    runtime: Option<Runtime>,
    /// The runtime configuration's key and the object the bucket holds there (planned apart
    /// from the build's files: shipit writes it).
    runtime_key: Option<(String, Option<RemoteObject>)>,
    /// What the excludes left out of the build.
    pub left_out: LeftOut,
}

/// The runtime configuration planned: what it says (its release id decided), and the
/// directory holding the file written for upload (removed when the run ends).
struct Runtime {
    config: RuntimeConfig,
    /// Whether the id is the live release's (the same release goes live again).
    kept: bool,
    dir: tempfile::TempDir,
}

/// A rollback's plan: the release it restores, and the object version each upload copies.
struct Rollback {
    release_id: String,
    versions: HashMap<String, String>,
}

/// The first step of every command that touches a build: scan and hash it while `connect`
/// resolves credentials (and, when `open` can already name the bucket, list it). Refuses a bad
/// build directory before anything else happens (the more useful error when both fail), and
/// so before any write, a stack's included.
pub async fn start<C>(
    settings: &Settings,
    connect: impl Future<Output = Result<C>>,
    open: impl FnOnce(&C) -> Option<Arc<dyn ObjectStore>>,
    reporter: &dyn Reporter,
) -> Result<(C, Started)> {
    let started = Instant::now();
    let scan_opts = ScanOptions {
        excludes: settings.excludes.clone(),
        allow_missing_index: settings.allow_missing_index,
        prefix_len: settings.prefix.len(),
    };
    let dir = settings.dir.clone();
    // Hashing is CPU work on a blocking pool; credentials and the listing are I/O: at once.
    let scan = tokio::task::spawn_blocking(move || scan::scan(&dir, &scan_opts));
    let connected = connect.await;
    let remote = connected
        .as_ref()
        .ok()
        .and_then(open)
        .map(|store| tokio::spawn(async move { fetch_remote(store.as_ref()).await }));
    let scanned = scan
        .await
        .map_err(|e| Error::Internal(format!("scan task: {e}")));
    let (local, left_out) = match scanned.and_then(|r| r) {
        Ok(s) => (s.files, s.left_out),
        Err(e) => {
            if let Some(task) = remote {
                task.abort();
            }
            return Err(e);
        }
    };
    if let Some(key) = settings
        .runtime_config
        .as_ref()
        .filter(|k| local.iter().any(|f| f.key == **k))
    {
        if let Some(task) = remote {
            task.abort();
        }
        return Err(Error::Refused {
            message: format!(
                "the build has a file at {}, where shipit writes the site's runtime configuration (the stack's API URL, user pool and release); nothing was written",
                settings.dir.join(key).display()
            ),
            hint: "remove it from the build (the page reads shipit's at start-up), or set runtime_config in shipit.toml to another path (\"\" writes none)".into(),
        });
    }
    let connected = connected?;
    reporter.info(&format!(
        "{} local files ({}) hashed in {:.1}s",
        local.len(),
        human_bytes(local.iter().map(|f| f.size).sum()),
        started.elapsed().as_secs_f64()
    ));
    if !left_out.is_empty() {
        reporter.info(&format!(
            "left out by the excludes: {}, not deployed",
            left_out.headline()
        ));
        for line in left_out.lines() {
            reporter.info(&format!("  {line}"));
        }
    }
    Ok((
        connected,
        Started {
            local,
            left_out,
            remote,
            release: None,
        },
    ))
}

/// What the bucket holds: its listing and shipit's manifest.
type Remote = (Vec<state::Listed>, Option<Manifest>);

async fn fetch_remote(store: &dyn ObjectStore) -> Result<Remote> {
    tokio::try_join!(store.list(), records::get_manifest(store))
}

/// The scanned build, and (without a stack) the listing already under way.
pub struct Started {
    /// In key order (the scan's, or the release's): the plan walks it beside the listing.
    pub local: Vec<LocalFile>,
    /// What the excludes left out of the build (nothing for a rollback).
    pub left_out: LeftOut,
    remote: Option<tokio::task::JoinHandle<Result<Remote>>>,
    /// Set for a rollback: the release whose files (and headers) to put back.
    release: Option<Release>,
}

impl Started {
    /// A rollback's start: the release's files stand for the build. They have no path on
    /// disk: a rollback's uploads are restores from object versions (see `write_all`).
    pub fn from_release(release: Release) -> Result<Started> {
        // A record's digests were checked when it was read.
        let local = release
            .files
            .iter()
            .map(|(key, e)| LocalFile {
                key: key.clone(),
                path: std::path::PathBuf::new(),
                size: e.size,
                md5: e.md5,
                sniff: shipit_core::headers::Sniff::Binary,
            })
            .collect();
        Ok(Started {
            local,
            left_out: LeftOut::default(),
            remote: None,
            release: Some(release),
        })
    }

    /// Drops the listing made while hashing: another run changed the bucket since (we waited
    /// for its lock), so `prepare` lists again.
    pub fn relist(&mut self) {
        if let Some(task) = self.remote.take() {
            task.abort();
        }
    }
}

/// Lists the bucket, resolves what it holds and plans. Makes no writes. Refuses a prune above
/// the cap here, before anything is written.
pub async fn prepare(
    settings: &Settings,
    store: Arc<dyn ObjectStore>,
    started: Started,
    reporter: &dyn Reporter,
) -> Result<Prepared> {
    let Started {
        mut local,
        left_out,
        remote,
        release,
    } = started;
    // The runtime configuration is shipit's to write (a rollback writes it anew too).
    if let Some(key) = &settings.runtime_config {
        local.retain(|f| f.key != *key);
    }
    let started = Instant::now();
    let what = match &release {
        Some(r) => format!("rollback to release {}", r.id),
        None => settings.dir.display().to_string(),
    };
    reporter.stage(&format!(
        "planning {what} -> s3://{}/{}",
        store.bucket(),
        settings.prefix
    ));
    let (listed, manifest) = match remote {
        Some(task) => {
            let early = task
                .await
                .map_err(|e| Error::Internal(format!("listing task: {e}")))??;
            // Listed before the lock was ours: if another run wrote the bucket in between (its
            // manifest is newer), list again. A HEAD tells when the manifest is as it was (it
            // can be tens of megabytes: not read twice).
            let same = match early.1.as_ref().and_then(|m| m.etag.as_deref()) {
                Some(etag) => matches!(
                    store.head(state::MANIFEST_KEY).await,
                    Ok(h) if h.etag.as_deref().map(|e| e.trim_matches('"')) == Some(etag)
                ),
                None => false,
            };
            if same {
                early
            } else {
                let now = records::get_manifest(store.as_ref()).await?;
                let moved = now.as_ref().map(|m| (m.written_at, &m.files))
                    != early.1.as_ref().map(|m| (m.written_at, &m.files));
                if moved {
                    reporter.detail("the bucket changed while this run waited: listing it again");
                    fetch_remote(store.as_ref()).await?
                } else {
                    (early.0, now)
                }
            }
        }
        None => fetch_remote(store.as_ref()).await?,
    };
    reporter.info(&format!(
        "{} objects in the bucket, {} ({:.1}s)",
        listed.len(),
        if manifest.is_some() {
            "manifest found"
        } else {
            "no manifest"
        },
        started.elapsed().as_secs_f64()
    ));

    interrupt::check("nothing was written")?;
    let (mut remote, mut need_head) = state::resolve(listed, manifest.as_ref(), &local);
    if settings.full_check {
        need_head = remote
            .iter()
            .filter(|r| state::find(&local, &r.key).is_some())
            .map(|r| r.key.clone())
            .collect();
    }
    if !need_head.is_empty() {
        reporter.detail(&format!(
            "asking S3 about {} objects shipit has no record of",
            need_head.len()
        ));
        let heads: Vec<(String, state::Head)> = futures::stream::iter(need_head)
            .map(|key| {
                let store = &store;
                async move { store.head(&key).await.map(|h| (key, h)) }
            })
            .buffer_unordered(settings.concurrency)
            .try_collect()
            .await?;
        let mut heads: HashMap<String, state::Head> = heads.into_iter().collect();
        for object in &mut remote {
            if let Some(head) = heads.remove(&object.key) {
                state::apply_head(object, head);
            }
        }
    }

    let runtime_key = settings
        .runtime_config
        .as_ref()
        .map(|key| (key.clone(), remote.iter().find(|r| r.key == *key).cloned()));
    // The build and the listing become the plan (each key, path and ETag moves into it).
    let mut plan = match &release {
        // A rollback puts each file back with the headers it had in that release.
        Some(r) => plan::diff_with(local, remote, |f| r.files[&f.key].headers()),
        None => plan::diff(local, remote, &settings.rules),
    };
    if let Some((key, _)) = &runtime_key {
        plan.actions.retain(|a| a.key != *key);
    }
    if settings.prune
        && plan
            .deletes()
            .any(|a| shipit_core::headers::has_content_hash(&a.key))
    {
        // Visitors holding a recent release's HTML still load its hashed assets.
        // Only the newest records can protect anything: the history is not read.
        let now = epoch_secs();
        let ids = records::release_ids(store.as_ref()).await?;
        let needed = shipit_core::release::needed_for_retention(&ids, settings.retention, now);
        let read = records::read_releases(store.as_ref(), needed).await?;
        for u in &read.unreadable {
            reporter.warn(&u.warning());
        }
        let mut releases = read.releases;
        // A live build not recorded yet (its verification failed, or its run stopped) is as
        // live as any release: visitors may hold its HTML.
        if let Some(m) = manifest
            .as_ref()
            .filter(|m| m.release_pending || m.release.is_none())
        {
            releases.push(Release {
                id: m
                    .release
                    .clone()
                    .unwrap_or_else(|| "the live build (not recorded)".into()),
                created_at: now,
                commit: None,
                source: "live".into(),
                files: m.files.clone(),
                api: m.api.clone(),
            });
        }
        let spared = shipit_core::release::protect(&mut plan, &releases, settings.retention, now);
        if let Some(u) = read.unreadable.first() {
            let kept = shipit_core::release::keep_unprovable(&mut plan, &u.key);
            if kept > 0 {
                reporter.warn(&format!(
                    "keeping all {kept} content-hashed assets the prune would delete: an unreadable release record may reference them"
                ));
            }
        }
        if spared > 0 {
            reporter.info(&format!(
                "keeping {spared} content-hashed assets that the last {} releases (or the last {}h) still reference",
                settings.retention.keep_releases,
                settings.retention.grace_seconds / 3600
            ));
        }
    }
    if settings.prune {
        let deletes = plan.deletes().count();
        if let Some(why) = settings.prune_cap.exceeded(deletes, plan.remote_objects) {
            if !settings.allow_large_prune {
                return Err(Error::Refused {
                    message: format!("refusing to deploy: {why}; nothing was written"),
                    hint: "check that this is the right directory, bucket and prefix; then pass --allow-large-prune, or raise [prune] max_deletes / max_share in shipit.toml".into(),
                });
            }
            reporter.warn(&format!(
                "{why}; going ahead because of --allow-large-prune"
            ));
        }
    } else {
        for a in plan.actions.iter_mut().filter(|a| a.op == Op::Delete) {
            a.op = Op::Keep;
        }
    }
    let rollback = match release {
        Some(r) => Some(Rollback {
            versions: versions_to_restore(store.as_ref(), &plan, &r, settings.concurrency).await?,
            release_id: r.id,
        }),
        None => None,
    };
    Ok(Prepared {
        store,
        plan,
        rollback,
        manifest,
        started,
        api: None,
        runtime: None,
        runtime_key,
        left_out,
    })
}

impl Prepared {
    /// Plans the SPA's runtime configuration from the stack's outputs: the live release's id
    /// when everything else is the same, else a new one; then the file that says so, as an
    /// upload when the bucket's copy differs. Writes nothing to the bucket.
    pub fn set_runtime_config(
        &mut self,
        outputs: &std::collections::BTreeMap<String, String>,
        region: &str,
        rules: &HeaderRules,
    ) -> Result<()> {
        if self.runtime_key.is_none() {
            return Ok(());
        }
        let (id, kept) = self.release_identity(false);
        let dir = tempfile::Builder::new()
            .prefix("shipit-runtime-")
            .tempdir()
            .map_err(|e| Error::Internal(format!("a temporary directory: {e}")))?;
        self.runtime = Some(Runtime {
            config: RuntimeConfig::from_outputs(outputs, region).with_release(&id),
            kept,
            dir,
        });
        self.plan_runtime(rules)
    }

    /// Records the API version that goes live with these files. A new version is a new
    /// release: a runtime configuration that kept the live release's id gets a new one.
    pub fn set_api(
        &mut self,
        api: Option<shipit_core::release::ApiVersion>,
        rules: &HeaderRules,
    ) -> Result<()> {
        self.api = api;
        if self.runtime.as_ref().is_some_and(|r| r.kept) && !self.release_identity(false).1 {
            self.new_release(rules)?;
        }
        Ok(())
    }

    /// The release these files (the runtime configuration's aside) are, as far as the plan
    /// knows before any write, decided by [`decide_release`]: the live release's id, kept (true),
    /// or a new one. `force_new`: the runtime configuration's own file must change.
    fn release_identity(&self, force_new: bool) -> (String, bool) {
        let planned = planned_files(&self.plan);
        let key = self.runtime_key.as_ref().map(|(k, _)| k.as_str());
        let same_files = !force_new
            && self
                .manifest
                .as_ref()
                .is_some_and(|m| shipit_core::release::same_files(&m.files, &planned, key));
        let decided = decide_release(
            ReleaseFacts {
                live: self.manifest.as_ref(),
                same_files,
                api: self.api.as_ref(),
                rollback_of: None,
                chosen: None,
                millis: epoch_millis(),
                commit: None,
            },
            &planned,
        );
        let kept = matches!(decided, ReleaseIdentity::Kept { .. });
        (decided.id().to_string(), kept)
    }

    /// For `plan`: the deploy will publish a new API version (its package is new), so a new
    /// release, whatever version Lambda numbers it.
    pub fn expect_new_api(&mut self, rules: &HeaderRules) -> Result<()> {
        self.new_release(rules)
    }

    /// A runtime configuration that kept the live release's id gets a new one, and is
    /// planned again.
    fn new_release(&mut self, rules: &HeaderRules) -> Result<()> {
        let (id, _) = self.release_identity(true);
        match &mut self.runtime {
            Some(r) if r.kept => {
                r.config = r.config.with_release(&id);
                r.kept = false;
                self.plan_runtime(rules)
            }
            _ => Ok(()),
        }
    }

    /// Writes the runtime configuration's file and puts its action in the plan: HTML's
    /// Cache-Control (a page must not start with a stale one), before any HTML is written.
    fn plan_runtime(&mut self, rules: &HeaderRules) -> Result<()> {
        let (Some((key, remote)), Some(r)) = (&self.runtime_key, &self.runtime) else {
            return Ok(());
        };
        let body = r.config.render();
        let path = r.dir.path().join("config.json");
        std::fs::write(&path, &body)
            .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
        let file = LocalFile {
            key: key.clone(),
            path,
            size: body.len() as u64,
            md5: shipit_core::files::Md5(md5::compute(&body).0),
            sniff: shipit_core::headers::Sniff::Binary,
        };
        let headers = Headers {
            content_type: "application/json".into(),
            cache_control: rules
                .headers_for("index.html", shipit_core::headers::Sniff::Html)
                .cache_control,
        };
        let action = plan::diff_with(vec![file], remote.iter().cloned().collect(), |_| {
            headers.clone()
        })
        .actions
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal("the runtime configuration was not planned".into()))?;
        // The live release's id stands only if its file stays as it is: a file to write
        // (other headers, say) makes a new release, with an id of its own.
        if r.kept && action.is_write() {
            return self.new_release(rules);
        }
        self.plan.put(action);
        Ok(())
    }
}

/// What the manifest will hold for the planned files (their ETags aside: not known before
/// the upload), to tell whether a run puts the same release live again.
fn planned_files(plan: &Plan) -> BTreeMap<String, Entry> {
    // ETags are not part of a release's identity.
    manifest_entries(plan, |_| Some(Etag::Other(Box::default())))
        .map(|(k, e)| (k.to_string(), e))
        .collect()
}

/// For a rollback: the version of each key to restore, the newest whose ETag is the
/// release's MD5. Fails, before any write, naming what cannot be restored.
async fn versions_to_restore(
    store: &dyn ObjectStore,
    plan: &Plan,
    release: &Release,
    concurrency: usize,
) -> Result<HashMap<String, String>> {
    let wanted: Vec<(&str, String)> = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Upload)
        .map(|a| (a.key.as_str(), release.files[&a.key].md5.hex()))
        .collect();
    let found: Vec<(String, Option<String>)> = futures::stream::iter(wanted)
        .map(|(key, md5)| async move {
            let versions = store.versions(key).await?;
            let hit = versions
                .into_iter()
                .find(|(_, etag)| *etag == md5)
                .map(|(id, _)| id);
            Ok::<_, Error>((key.to_string(), hit))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let missing: Vec<&str> = found
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Refused {
            message: format!(
                "release {} cannot be restored from the bucket: no version of {} has its content ({} in all); nothing was written",
                release.id,
                missing.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                missing.len()
            ),
            hint: "versioning must be on (shipit's stack turns it on) and the versions kept; otherwise deploy that release's build again".into(),
        });
    }
    Ok(found
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect())
}

/// What the writes left for the finish: the plan, the store, the manifest and the release to
/// record.
pub struct Written {
    pub store: Arc<dyn ObjectStore>,
    pub plan: Plan,
    manifest: Manifest,
    /// The release whose record is still to be written (new, or left pending by an earlier
    /// run of the same files): recorded once the site is verified.
    release: Option<Release>,
    local_files: usize,
    left_out: LeftOut,
    started: Instant,
}

impl Written {
    /// Keys whose cached copies may be stale: this plan's and those earlier deploys left
    /// pending (kept only when there is a distribution). What the invalidation covers.
    pub fn stale(&self) -> &[String] {
        &self.manifest.pending_invalidation
    }

    /// The release these files are (recorded or still to be).
    pub fn release_id(&self) -> Option<&str> {
        self.manifest.release.as_deref()
    }
}

/// Runs the plan's writes phase by phase, then updates shipit's manifest. Deletes nothing:
/// that is [`prune`]'s job, and only after everything else (invalidation, verification)
/// succeeded.
pub async fn write_all(
    prepared: Prepared,
    settings: &Settings,
    lock: Option<&Lock>,
    reporter: &dyn Reporter,
) -> Result<Written> {
    let Prepared {
        store,
        plan,
        rollback,
        manifest: mut previous,
        started,
        api,
        runtime,
        runtime_key,
        left_out,
    } = prepared;
    let runtime_key = runtime_key.as_ref().map(|(k, _)| k);
    let preset_id = runtime.as_ref().map(|r| r.config.release.clone());
    // The runtime configuration kept the live release's id: the same release (by content and
    // headers, whatever ETags a re-upload behind shipit's back gave the objects).
    let kept = runtime.as_ref().is_some_and(|r| r.kept);
    let counts = plan.counts();
    // Each written key (the plan's own string) and the ETag S3 gave it.
    let mut etags: Etags<'_> = HashMap::new();
    let writes = counts.upload + counts.update_headers;
    if writes > 0 {
        reporter.stage(&format!(
            "uploading {} files ({}), updating headers of {}",
            counts.upload,
            human_bytes(counts.upload_bytes),
            counts.update_headers
        ));
        let progress = reporter.progress("upload", writes as u64, counts.upload_bytes);
        // Every write that succeeded, as it succeeds: a failure or a signal in the middle of a
        // phase still knows what the bucket now holds.
        let done = std::sync::Mutex::new(HashMap::new());
        let mut stopped_in = Phase::Assets;
        let limiter = Limiter::new(settings.concurrency, settings.adaptive, store.as_ref());
        let outcome: Result<()> = async {
            for (phase, actions) in plan.write_phases() {
                stopped_in = phase;
                interrupt::check("")?;
                if let (Phase::RootIndex, Some(lock)) = (phase, lock) {
                    lock.fence("the root index.html").await?;
                }
                reporter.detail(&format!("phase {phase:?}: {} writes", actions.len()));
                limiter
                    .run(actions.into_iter().map(|action| {
                        let (store, progress, done) = (store.as_ref(), &progress, &done);
                        let rollback = rollback.as_ref();
                        async move {
                            // After a signal nothing new starts; what is in flight finishes.
                            if interrupt::requested().is_some() {
                                return Ok(0);
                            }
                            // A rollback's uploads come from object versions; header-only
                            // updates are the same in-place copy as a deploy's.
                            let written = match (rollback, action.op) {
                                // The runtime configuration is written anew, not restored.
                                (Some(r), Op::Upload) if Some(&action.key) != runtime_key => {
                                    restore(store, action, &r.versions).await
                                }
                                _ => write(store, action, settings).await,
                            };
                            let etag = match written {
                                // A multipart upload the signal aborted: not written.
                                Err(Error::Interrupted { .. }) => return Ok(0),
                                other => other?,
                            };
                            reporter.detail(&format!(
                                "{} {} ({})",
                                verb(action.op),
                                action.key,
                                action.reason
                            ));
                            let sent = if action.op == Op::Upload {
                                action.size
                            } else {
                                0
                            };
                            progress.inc(sent);
                            done.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(action.key.as_str(), Etag::new(&etag));
                            Ok::<_, Error>(sent)
                        }
                    }))
                    .await?;
                interrupt::check("")?;
            }
            Ok(())
        }
        .await;
        etags = done.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = outcome {
            let e = match e {
                Error::Interrupted { signal, .. } => {
                    interrupt::interrupted(signal, &left_as(stopped_in, etags.len(), writes))
                }
                other => other,
            };
            record_partial(&etags, &store, previous, &plan, settings, reporter).await;
            return Err(e);
        }
        progress.finish();
        if settings.adaptive {
            let (now, peak) = limiter.limits();
            reporter.detail(&format!(
                "concurrency adapted from {} (peak {peak}, last {now})",
                settings.concurrency
            ));
        }
    }

    // With a CDN in front, what changed stays pending in the manifest until the
    // invalidation and the verification succeed (`settle`), so a failed or interrupted deploy
    // leaves the next one a record of what to invalidate.
    // The previous manifest's map becomes the new one: never two copies of every entry.
    let (mut manifest, same_files) = manifest_for(
        &plan,
        &etags,
        previous
            .as_mut()
            .map(|m| std::mem::take(&mut m.files))
            .unwrap_or_default(),
    );
    let same_files = same_files && previous.is_some();
    if settings.cdn.distribution_id.is_some() {
        let mut stale = shipit_core::invalidate::stale_keys(&plan, settings.prune);
        stale.extend(
            previous
                .iter()
                .flat_map(|m| m.pending_invalidation.iter().cloned()),
        );
        stale.sort();
        stale.dedup();
        manifest.pending_invalidation = stale;
    }
    // The same files as the release already live keep its id; anything else is a new release.
    // Its record is written once the deploy has succeeded (`settle`); until then the manifest
    // says it is pending, so a later successful run of the same files records it.
    let decided = decide_release(
        ReleaseFacts {
            live: previous.as_ref(),
            same_files: kept || same_files,
            api: api.as_ref(),
            rollback_of: rollback.as_ref().map(|rb| rb.release_id.as_str()),
            // The id the runtime configuration already carries (a new one: a kept id is the
            // live release's, never a second record under that id).
            chosen: preset_id.as_deref().filter(|_| !kept),
            millis: epoch_millis(),
            commit: settings.commit.as_deref(),
        },
        &manifest.files,
    );
    manifest.api = api.or_else(|| previous.as_ref().and_then(|m| m.api.clone()));
    manifest.release = Some(decided.id().to_string());
    manifest.release_pending = match &decided {
        ReleaseIdentity::Kept { .. } => previous.as_ref().is_some_and(|m| m.release_pending),
        ReleaseIdentity::New(_) => true,
    };
    let release = decided.record();
    // Rewritten only when it would say something new: a no-op deploy writes nothing at all.
    let unchanged = previous.as_ref().is_some_and(|m| {
        same_files
            && m.pending_invalidation == manifest.pending_invalidation
            && m.release == manifest.release
            && m.release_pending == manifest.release_pending
            && m.api == manifest.api
    });
    if !unchanged {
        if let Some(lock) = lock {
            lock.fence("the manifest").await?;
        }
        records::put_manifest(store.as_ref(), &manifest).await?;
    }
    // The build's files and shipit's own (the runtime configuration).
    let local_files = plan
        .actions
        .iter()
        .filter(|a| a.reason != Reason::NotInBuild && a.headers.is_some())
        .count();
    Ok(Written {
        store,
        plan,
        manifest,
        release,
        local_files,
        left_out,
        started,
    })
}

/// After writes that stopped part way (an error, or a signal): the manifest stops vouching
/// for the keys written (the next run asks S3 about them) and, with a CDN, keeps them pending
/// invalidation, so the next run invalidates what this one changed. Best effort.
async fn record_partial(
    etags: &Etags<'_>,
    store: &Arc<dyn ObjectStore>,
    previous: Option<Manifest>,
    plan: &Plan,
    settings: &Settings,
    reporter: &dyn Reporter,
) {
    if etags.is_empty() {
        return;
    }
    let mut m = previous.unwrap_or_else(|| Manifest {
        version: Manifest::VERSION,
        ..Manifest::default()
    });
    m.files.retain(|k, _| !etags.contains_key(k.as_str()));
    m.release = None;
    m.release_pending = false;
    m.deployed_at = epoch_secs();
    if settings.cdn.distribution_id.is_some() {
        m.pending_invalidation.extend(
            shipit_core::invalidate::stale_keys(plan, false)
                .into_iter()
                .filter(|k| etags.contains_key(k.as_str())),
        );
        m.pending_invalidation.sort();
        m.pending_invalidation.dedup();
    }
    if let Err(e) = records::put_manifest(store.as_ref(), &m).await {
        reporter.warn(&format!(
            "could not record what was written before the run stopped ({e}); the next run checks every object"
        ));
    }
}

/// What an interrupted run leaves live, by the phase it stopped in.
fn left_as(phase: Phase, done: usize, writes: usize) -> String {
    let live = match phase {
        Phase::Assets => "no HTML was written yet (only assets and other files)",
        Phase::Html => {
            "some pages may be the new build's (every asset they load is there); the root index.html is still the previous build's"
        }
        Phase::RootIndex => "the new build is live; the next run verifies and records it",
    };
    format!("{done} of {writes} writes done; {live}")
}

/// Once the live site is verified: records the release (when its record is still to be
/// written) and that the CDN has caught up (when it was invalidated), in one manifest write.
/// Runs before the prune, so a prune that fails leaves the live build recorded. Returns the
/// release recorded.
pub async fn settle(
    written: &mut Written,
    invalidated: bool,
    lock: Option<&Lock>,
    reporter: &dyn Reporter,
) -> Result<Option<String>> {
    let mut changed = false;
    if invalidated && !written.manifest.pending_invalidation.is_empty() {
        written.manifest.pending_invalidation.clear();
        changed = true;
    }
    let recorded = match written.release.take() {
        Some(mut r) => {
            // The release's files are the manifest's: lent for the record, then given back.
            r.files = std::mem::take(&mut written.manifest.files);
            let put = async {
                if let Some(lock) = lock {
                    lock.fence("the release record").await?;
                }
                records::put_release(written.store.as_ref(), &r).await
            }
            .await;
            written.manifest.files = std::mem::take(&mut r.files);
            put?;
            reporter.info(&format!("release {} recorded", r.id));
            written.manifest.release_pending = false;
            changed = true;
            Some(r.id)
        }
        None => None,
    };
    if changed {
        records::put_manifest(written.store.as_ref(), &written.manifest).await?;
    }
    Ok(recorded)
}

/// Deletes what the build no longer has (when pruning is on), in batches of at most 1000.
pub async fn prune(
    written: Written,
    settings: &Settings,
    lock: Option<&Lock>,
    reporter: &dyn Reporter,
) -> Result<Summary> {
    let Written {
        store,
        plan,
        local_files,
        left_out,
        started,
        ..
    } = written;
    let counts = plan.counts();
    let mut deleted = 0;
    if settings.prune && counts.delete > 0 {
        if let Some(lock) = lock {
            lock.fence("the prune").await?;
        }
        let keys: Vec<String> = plan.deletes().map(|a| a.key.clone()).collect();
        reporter.stage(&format!(
            "pruning {} objects the build no longer has",
            keys.len()
        ));
        for key in &keys {
            reporter.detail(&format!("delete {key} (not in the build)"));
        }
        futures::stream::iter(keys.chunks(DELETE_BATCH))
            .map(|batch| store.delete_batch(batch))
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;
        deleted = keys.len();
    }
    let kept_stale = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Keep && a.reason == Reason::NotInBuild)
        .count();
    Ok(Summary {
        bucket: store.bucket().to_string(),
        prefix: settings.prefix.clone(),
        uploaded: counts.upload,
        header_updated: counts.update_headers,
        deleted,
        unchanged: local_files - counts.upload - counts.update_headers,
        kept_stale,
        bytes_uploaded: counts.upload_bytes,
        invalidated_paths: 0,
        invalidation_id: None,
        release: None,
        left_out,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A rollback's upload: the earlier version copied over the current one, with the release's
/// headers.
async fn restore(
    store: &dyn ObjectStore,
    action: &Action,
    versions: &HashMap<String, String>,
) -> Result<String> {
    let Some(version) = versions.get(&action.key) else {
        return Err(Error::Internal(format!(
            "no version to restore {} from",
            action.key
        )));
    };
    let (Some(headers), Some(md5)) = (&action.headers, &action.md5) else {
        return Err(Error::Internal(format!(
            "restore of {} without headers",
            action.key
        )));
    };
    store
        .copy_onto(&action.key, Some(version), headers, md5)
        .await
}

async fn write(store: &dyn ObjectStore, action: &Action, settings: &Settings) -> Result<String> {
    let (Some(headers), Some(md5)) = (&action.headers, &action.md5) else {
        return Err(Error::Internal(format!(
            "write of {} without headers or hash",
            action.key
        )));
    };
    match action.op {
        Op::Upload => {
            let path = action.path.as_ref().ok_or_else(|| {
                Error::Internal(format!("upload of {} without a path", action.key))
            })?;
            if action.size > settings.multipart_threshold {
                store
                    .put_multipart(
                        &action.key,
                        path,
                        action.size,
                        settings.part_size,
                        headers,
                        md5,
                    )
                    .await
            } else {
                store.put_file(&action.key, path, headers, md5).await
            }
        }
        Op::UpdateHeaders => store.copy_onto(&action.key, None, headers, md5).await,
        Op::Delete | Op::Keep => Err(Error::Internal(format!("{:?} is not a write", action.op))),
    }
}

pub fn verb(op: Op) -> &'static str {
    match op {
        Op::Upload => "upload",
        Op::UpdateHeaders => "update",
        Op::Delete => "delete",
        Op::Keep => "keep",
    }
}

/// What the writes did: each key written, borrowed from the plan, and its new ETag.
type Etags<'a> = HashMap<&'a str, Etag>;

/// The manifest after the writes: every file of the build with the ETag S3 now has for it.
/// `files` (the previous manifest's) is updated in place; says whether it stayed the same.
fn manifest_for(
    plan: &Plan,
    etags: &Etags<'_>,
    mut files: BTreeMap<String, Entry>,
) -> (Manifest, bool) {
    let etag_of = |a: &Action| {
        etags
            .get(a.key.as_str())
            .or(a.remote_etag.as_ref())
            .cloned()
    };
    let manifest = |files| Manifest {
        version: Manifest::VERSION,
        deployed_at: epoch_secs(),
        files,
        pending_invalidation: Vec::new(),
        release: None,
        release_pending: false,
        api: None,
        written_at: None,
        etag: None,
    };
    if files.is_empty() {
        // Nothing to update (a first deploy): built in one go, in key order, a map has full
        // nodes, about half the size of one grown by 100,000 inserts.
        let mut all: Vec<(String, Entry)> =
            Vec::with_capacity(manifest_entries(plan, etag_of).count());
        all.extend(manifest_entries(plan, etag_of).map(|(k, e)| (k.to_string(), e)));
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let same = all.is_empty();
        return (manifest(all.into_iter().collect()), same);
    }
    let mut same = true;
    let mut count = 0;
    for (key, entry) in manifest_entries(plan, etag_of) {
        count += 1;
        match files.get_mut(key) {
            Some(e) if *e == entry => {}
            Some(e) => {
                *e = entry;
                same = false;
            }
            None => {
                files.insert(key.to_string(), entry);
                same = false;
            }
        }
    }
    if files.len() != count {
        // Keys the new manifest no longer has.
        let planned: std::collections::HashSet<&str> =
            manifest_entries(plan, etag_of).map(|(k, _)| k).collect();
        files.retain(|k, _| planned.contains(k.as_str()));
        same = false;
    }
    (manifest(files), same)
}

/// The manifest's entry for each planned file of the build whose ETag `etag_of` knows.
fn manifest_entries<'a>(
    plan: &'a Plan,
    etag_of: impl Fn(&Action) -> Option<Etag> + 'a,
) -> impl Iterator<Item = (&'a str, Entry)> + 'a {
    plan.actions
        .iter()
        .filter(|a| a.op != Op::Delete && a.reason != Reason::NotInBuild)
        .filter_map(move |a| {
            let headers = a.headers.as_ref()?;
            Some((
                a.key.as_str(),
                Entry {
                    md5: a.md5?,
                    etag: etag_of(a)?,
                    size: a.size,
                    content_type: headers.content_type.clone(),
                    cache_control: headers.cache_control.clone(),
                },
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipit_core::files::test_file;

    #[test]
    fn the_new_manifest_is_the_previous_one_updated_in_place() {
        let plan_of = |files: &[(&str, &[u8])]| {
            let local = files.iter().map(|(k, b)| test_file(k, b)).collect();
            plan::diff(local, Vec::new(), &HeaderRules::default())
        };
        let etags = |keys: &[&'static str]| -> HashMap<&'static str, Etag> {
            keys.iter()
                .map(|k| (*k, Etag::new(&format!("etag-{k}"))))
                .collect()
        };
        let both = plan_of(&[("a", b"a"), ("b", b"b")]);
        let (first, same) = manifest_for(&both, &etags(&["a", "b"]), BTreeMap::new());
        assert!(!same, "from nothing");
        assert_eq!(first.files.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(first.files["a"].etag.is("etag-a"));
        type Case<'a> = (&'a Plan, Etags<'static>, bool, &'a [&'a str]);
        let table: [Case; 5] = [
            (&both, etags(&["a", "b"]), true, &["a", "b"]),
            // S3 gave one object another ETag (written again behind shipit's back).
            (
                &both,
                [("a", Etag::new("other")), ("b", Etag::new("etag-b"))].into(),
                false,
                &["a", "b"],
            ),
            (&plan_of(&[("a", b"a")]), etags(&["a"]), false, &["a"]),
            (
                &plan_of(&[("a", b"a"), ("b", b"b"), ("c", b"c")]),
                etags(&["a", "b", "c"]),
                false,
                &["a", "b", "c"],
            ),
            (
                &plan_of(&[("a", b"a"), ("b", b"changed")]),
                etags(&["a", "b"]),
                false,
                &["a", "b"],
            ),
        ];
        for (i, (plan, etags, want_same, keys)) in table.into_iter().enumerate() {
            let (m, same) = manifest_for(plan, &etags, first.files.clone());
            assert_eq!(same, want_same, "case {i}");
            assert_eq!(m.files.keys().collect::<Vec<_>>(), keys, "case {i}");
            let fresh = manifest_for(plan, &etags, BTreeMap::new()).0;
            assert_eq!(m.files, fresh.files, "case {i}: as if made anew");
        }
    }
}
