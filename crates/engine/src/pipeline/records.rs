//! shipit's records in the bucket, over the object store: the manifest (what is live, with
//! its ETags and headers, and what is pending invalidation) and the release records
//! (`.shipit/releases/ID.json`). A release record that cannot be parsed is reported by its key
//! and skipped; an unreadable manifest counts as none (the listing stands in for it).

use futures::{StreamExt, TryStreamExt};

use crate::ports::{ObjectStore, Precondition};
use shipit_core::error::{Error, Result};
use shipit_core::files::shown;
use shipit_core::release::{Release, RELEASES_DIR};
use shipit_core::state::{Manifest, MANIFEST_KEY};

/// shipit's manifest, if there is a readable one (an unreadable one is ignored: the listing
/// and HEAD requests stand in for it).
pub async fn get_manifest(store: &dyn ObjectStore) -> Result<Option<Manifest>> {
    let Some(object) = store.get(MANIFEST_KEY, "read shipit's manifest").await? else {
        return Ok(None);
    };
    Ok(Manifest::parse(&object.body).map(|m| Manifest {
        written_at: object.last_modified,
        etag: Some(object.etag.trim_matches('"').to_string()),
        ..m
    }))
}

/// `value` as JSON in a buffer of exactly its size, measured first: a manifest or a release of
/// 100,000 files is tens of megabytes, and a buffer grown by doubling would hold up to twice
/// that at the deploy's peak.
fn json(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let internal = |e: serde_json::Error| Error::Internal(e.to_string());
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_err(internal)?;
    let mut body = Vec::with_capacity(count.0);
    serde_json::to_writer(&mut body, value).map_err(internal)?;
    Ok(body)
}

pub async fn put_manifest(store: &dyn ObjectStore, manifest: &Manifest) -> Result<()> {
    let body = json(manifest)?;
    store
        .put_state(
            MANIFEST_KEY,
            body,
            Precondition::None,
            "write shipit's manifest",
        )
        .await?;
    Ok(())
}

pub async fn put_release(store: &dyn ObjectStore, release: &Release) -> Result<()> {
    let body = json(release)?;
    let key = format!("{RELEASES_DIR}{}.json", release.id);
    let what = format!("record release {}", release.id);
    store
        .put_state(&key, body, Precondition::None, &what)
        .await?;
    Ok(())
}

/// Release records as read: those that parse, and those that do not (a damaged record, or one
/// not written by shipit), which are reported and skipped rather than stopping everything.
#[derive(Debug, Default)]
pub struct Read {
    pub releases: Vec<Release>,
    pub unreadable: Vec<Unreadable>,
}

/// A release record that could not be read as one.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub id: String,
    pub key: String,
    pub why: String,
}

impl Unreadable {
    /// The warning a human sees (the key escaped: it comes from the bucket).
    pub fn warning(&self) -> String {
        format!(
            "skipped {}: not a release record ({}); delete it or restore an earlier version of it",
            shown(&self.key),
            shown(&self.why)
        )
    }
}

/// Every release record, oldest first (ids sort by time).
pub async fn releases(store: &dyn ObjectStore) -> Result<Read> {
    let ids = release_ids(store).await?;
    read_releases(store, &ids).await
}

/// The ids of every release record, oldest first (ids sort by time). Other files in the
/// directory are not releases and are left out.
pub async fn release_ids(store: &dyn ObjectStore) -> Result<Vec<String>> {
    let mut ids: Vec<String> = store
        .list_dir(RELEASES_DIR, "list releases")
        .await?
        .into_iter()
        .filter_map(|k| k.strip_suffix(".json").map(str::to_string))
        .filter(|id| shipit_core::release::is_release_id(id))
        .collect();
    ids.sort();
    Ok(ids)
}

/// These release records, in the order given (a record gone meanwhile is skipped; one that
/// does not parse is listed in `unreadable`).
pub async fn read_releases(store: &dyn ObjectStore, ids: &[String]) -> Result<Read> {
    let reads = ids.iter().map(|id| async move {
        let key = format!("{RELEASES_DIR}{id}.json");
        let what = format!("read release {id}");
        let parsed = store.get(&key, &what).await?.map(|object| {
            serde_json::from_slice::<Release>(&object.body).map_err(|e| Unreadable {
                id: id.clone(),
                key: key.clone(),
                why: e.to_string(),
            })
        });
        Ok::<_, shipit_core::error::Error>(parsed)
    });
    let read: Vec<Option<std::result::Result<Release, Unreadable>>> = futures::stream::iter(reads)
        .buffered(16)
        .try_collect()
        .await?;
    let mut out = Read::default();
    for r in read.into_iter().flatten() {
        match r {
            Ok(release) => out.releases.push(release),
            Err(u) => out.unreadable.push(u),
        }
    }
    Ok(out)
}
