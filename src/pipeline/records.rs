//! shipit's records in the bucket, over the object store: the manifest (what is live, with
//! its ETags and headers, and what is pending invalidation) and the release records
//! (`.shipit/releases/ID.json`). A record that cannot be parsed is a state error naming its
//! key, not an AWS failure.

use futures::{StreamExt, TryStreamExt};

use crate::core::release::{Release, RELEASES_DIR};
use crate::core::state::{Manifest, MANIFEST_KEY};
use crate::error::{Error, Result};
use crate::ports::{ObjectStore, Precondition};

/// shipit's manifest, if there is a readable one (an unreadable one is ignored: the listing
/// and HEAD requests stand in for it).
pub async fn get_manifest(store: &dyn ObjectStore) -> Result<Option<Manifest>> {
    let Some(object) = store.get(MANIFEST_KEY, "read shipit's manifest").await? else {
        return Ok(None);
    };
    Ok(Manifest::parse(&object.body).map(|m| Manifest {
        written_at: object.last_modified,
        ..m
    }))
}

pub async fn put_manifest(store: &dyn ObjectStore, manifest: &Manifest) -> Result<()> {
    let body = serde_json::to_vec(manifest).map_err(|e| Error::Internal(e.to_string()))?;
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
    let body = serde_json::to_vec(release).map_err(|e| Error::Internal(e.to_string()))?;
    let key = format!("{RELEASES_DIR}{}.json", release.id);
    let what = format!("record release {}", release.id);
    store
        .put_state(&key, body, Precondition::None, &what)
        .await?;
    Ok(())
}

/// Every release record, oldest first (ids sort by time).
pub async fn releases(store: &dyn ObjectStore) -> Result<Vec<Release>> {
    let ids = release_ids(store).await?;
    read_releases(store, &ids).await
}

/// The ids of every release record, oldest first (ids sort by time).
pub async fn release_ids(store: &dyn ObjectStore) -> Result<Vec<String>> {
    let mut ids: Vec<String> = store
        .list_dir(RELEASES_DIR, "list releases")
        .await?
        .into_iter()
        .filter_map(|k| k.strip_suffix(".json").map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// These release records, in the order given (a record gone meanwhile is skipped).
pub async fn read_releases(store: &dyn ObjectStore, ids: &[String]) -> Result<Vec<Release>> {
    let reads = ids.iter().map(|id| async move {
        let key = format!("{RELEASES_DIR}{id}.json");
        let what = format!("read release {id}");
        match store.get(&key, &what).await? {
            Some(object) => serde_json::from_slice::<Release>(&object.body)
                .map(Some)
                .map_err(|e| Error::State {
                    message: format!("{what}: {key} is not a release record ({e})"),
                    hint: "the record was written by something other than shipit, or damaged; delete it (or restore an earlier version) and run again".into(),
                }),
            None => Ok(None),
        }
    });
    let read: Vec<Option<Release>> = futures::stream::iter(reads)
        .buffered(16)
        .try_collect()
        .await?;
    Ok(read.into_iter().flatten().collect())
}
