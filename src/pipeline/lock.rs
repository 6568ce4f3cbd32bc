//! The deploy lock: one object, `.shipit/lock`, created with `If-None-Match: *` so two runs
//! against one site cannot both hold it. A second run waits (up to `--lock-wait`) and then
//! fails naming the holder. A lock left by a killed run expires after its TTL and is taken
//! over with `If-Match` on the stale copy (so two waiters cannot both take it); `shipit unlock`
//! breaks it at once.

use std::time::Duration;

use crate::clock::epoch_secs;
use crate::core::lock::{decide, Decision, Holder, LOCK_KEY};
use crate::error::{Error, Result};
use crate::ports::{ObjectStore, Precondition, Reporter};

/// Who this process is, for the lock's `owner`.
pub fn owner(get: impl Fn(&str) -> Option<String>) -> String {
    let user = get("USER")
        .or_else(|| get("USERNAME"))
        .unwrap_or_else(|| "?".into());
    let host = get("HOSTNAME")
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let mut out = format!("{user}@{host} pid {}", std::process::id());
    if let (Some(repo), Some(run)) = (get("GITHUB_REPOSITORY"), get("GITHUB_RUN_ID")) {
        out.push_str(&format!(" (GitHub Actions {repo} run {run})"));
    }
    out
}

/// A held lock; release it with [`Lock::release`].
pub struct Lock {
    etag: String,
    /// Whether another run held it first (what we listed before may be out of date).
    pub waited: bool,
}

/// Takes the lock, waiting up to `wait` for another run to finish.
pub async fn acquire(
    store: &dyn ObjectStore,
    command: &str,
    ttl: Duration,
    wait: Duration,
    reporter: &dyn Reporter,
) -> Result<Lock> {
    let started = std::time::Instant::now();
    let mut told = false;
    let who = owner(|k| std::env::var(k).ok());
    loop {
        let t = epoch_secs();
        let me = Holder {
            owner: who.clone(),
            command: command.to_string(),
            acquired_at: t,
            expires_at: t + ttl.as_secs(),
        };
        let body = serde_json::to_vec(&me).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(etag) = store
            .put_state(LOCK_KEY, body.clone(), Precondition::IfAbsent, TAKE)
            .await?
        {
            return Ok(Lock { etag, waited: told });
        }
        let Some(held) = read(store).await? else {
            continue; // released between our attempt and our read: try again
        };
        let (etag, holder) = (held.etag, held.holder);
        match decide(holder.as_ref(), t, started.elapsed(), wait) {
            Decision::TakeOver => {
                if let Some(etag) = store
                    .put_state(LOCK_KEY, body, Precondition::IfMatch(&etag), TAKE)
                    .await?
                {
                    reporter.warn(&format!(
                        "took over an expired deploy lock{}",
                        holder
                            .map(|h| format!(" held by {} since {}", h.owner, h.acquired_at))
                            .unwrap_or_default()
                    ));
                    return Ok(Lock { etag, waited: true });
                }
            }
            Decision::Wait => {
                if !told {
                    let h = holder.as_ref().expect("Wait implies a holder");
                    reporter.info(&format!(
                        "another deploy holds the lock ({}, `{}`); waiting up to {}s",
                        h.owner,
                        h.command,
                        wait.as_secs()
                    ));
                    told = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Decision::GiveUp => {
                let h = holder.expect("GiveUp implies a holder");
                return Err(Error::Refused {
                    message: format!(
                        "another shipit run is deploying this site: the lock on s3://{}/{} is held by {} (`{}`) and expires in {}s",
                        store.bucket(),
                        LOCK_KEY,
                        h.owner,
                        h.command,
                        h.expires_at.saturating_sub(t)
                    ),
                    hint: "wait for it (--lock-wait SECONDS), or, if that run is dead, `shipit unlock` (with the same --stack or --bucket)".into(),
                });
            }
        }
    }
}

const TAKE: &str = "take the deploy lock";

impl Lock {
    /// Gives the lock back, only if it is still ours (someone who broke it and took it keeps
    /// theirs).
    pub async fn release(self, store: &dyn ObjectStore) -> Result<()> {
        store
            .delete(LOCK_KEY, Some(&self.etag), "release the deploy lock")
            .await?;
        Ok(())
    }
}

/// A lock someone holds: its ETag, its record (None when unreadable) and its raw text.
pub struct Held {
    pub etag: String,
    pub holder: Option<Holder>,
    pub text: String,
}

/// The lock as it is in the bucket, if there is one.
pub async fn read(store: &dyn ObjectStore) -> Result<Option<Held>> {
    Ok(store
        .get(LOCK_KEY, "read the deploy lock")
        .await?
        .map(|o| Held {
            holder: serde_json::from_slice(&o.body).ok(),
            text: String::from_utf8_lossy(&o.body).into_owned(),
            etag: o.etag,
        }))
}

/// Breaks whatever lock is there (`shipit unlock`).
pub async fn break_lock(store: &dyn ObjectStore) -> Result<()> {
    store
        .delete(LOCK_KEY, None, "break the deploy lock")
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_the_ci_run() {
        let env = |k: &str| match k {
            "USER" => Some("runner".to_string()),
            "HOSTNAME" => Some("fv-az1".to_string()),
            "GITHUB_REPOSITORY" => Some("acme/site".to_string()),
            "GITHUB_RUN_ID" => Some("42".to_string()),
            _ => None,
        };
        let o = owner(env);
        assert!(o.starts_with("runner@fv-az1 pid "), "{o}");
        assert!(o.ends_with("(GitHub Actions acme/site run 42)"), "{o}");
    }
}
