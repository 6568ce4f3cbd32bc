//! The deploy lock: one object, `.shipit/lock`, created with `If-None-Match: *` so two runs
//! against one site cannot both hold it. A second run waits (up to `--lock-wait`) and then
//! fails naming the holder. A lock left by a killed run expires after its TTL and is taken
//! over with `If-Match` on the stale copy (so two waiters cannot both take it); `shipit unlock`
//! breaks it at once.
//!
//! While a run holds the lock, a heartbeat renews it every third of its TTL (a conditional
//! `If-Match` write of a later expiry), so a long deploy never looks dead. Before the writes
//! that make a build live or delete anything (the root `index.html`, the release record, the
//! prune) the run fences: it renews the lock with `If-Match` and stops, without that write, if
//! the lock is no longer the one it holds (another run took it over).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::epoch_secs;
use crate::ports::{ObjectStore, Precondition, Reporter};
use shipit_core::error::{Error, Result};
use shipit_core::lock::{decide, Decision, Holder, LOCK_KEY};

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

/// A held lock; renewed in the background until [`Lock::release`].
pub struct Lock {
    /// Held across every renewal request: the heartbeat, a fence and the release never race
    /// each other's conditional writes.
    state: Arc<tokio::sync::Mutex<State>>,
    store: Arc<dyn ObjectStore>,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Whether another run held it first (what we listed before may be out of date).
    pub waited: bool,
}

/// What the holder knows of its lock.
struct State {
    /// The ETag of the lock object as we last wrote it.
    etag: String,
    holder: Holder,
    ttl: Duration,
    /// Set once a renewal found the lock replaced: it is someone else's now.
    lost: Option<String>,
}

/// Releases the deploy lock; a failure to is a warning (it expires by itself).
pub async fn release_or_warn(lock: Lock, reporter: &dyn Reporter) {
    if let Err(e) = lock.release().await {
        reporter.warn(&format!(
            "could not release the deploy lock ({e}); it expires by itself, or `shipit unlock`"
        ));
    }
}

/// Takes the lock, waiting up to `wait` for another run to finish, and starts its heartbeat.
pub async fn acquire(
    store: Arc<dyn ObjectStore>,
    command: &str,
    ttl: Duration,
    wait: Duration,
    reporter: &dyn Reporter,
) -> Result<Lock> {
    let (etag, holder, waited) = take(store.as_ref(), command, ttl, wait, reporter).await?;
    let state = Arc::new(tokio::sync::Mutex::new(State {
        etag,
        holder,
        ttl,
        lost: None,
    }));
    let heartbeat = tokio::spawn(beat(store.clone(), state.clone(), ttl / 3));
    Ok(Lock {
        state,
        store,
        heartbeat,
        waited,
    })
}

/// Renews the lock every third of its TTL until aborted or the lock is lost.
async fn beat(store: Arc<dyn ObjectStore>, state: Arc<tokio::sync::Mutex<State>>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        // A failed request is tried again at the next beat; a lost lock ends the heartbeat.
        let mut s = state.lock().await;
        if let Ok(false) = renew(store.as_ref(), &mut s).await {
            return;
        }
    }
}

/// Writes a later expiry, only if the lock is still the one we wrote (`If-Match`). False: it
/// was replaced (taken over after expiring, or broken): it is not ours any more. A failed
/// condition whose cause is our own earlier write (applied, its answer lost) is recognised by
/// the record's owner and start time, and the renewal goes on from that write.
async fn renew(store: &dyn ObjectStore, s: &mut State) -> Result<bool> {
    if s.lost.is_some() {
        return Ok(false);
    }
    for _ in 0..2 {
        let mut holder = s.holder.clone();
        holder.expires_at = epoch_secs() + s.ttl.as_secs();
        let body = serde_json::to_vec(&holder).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(new) = store
            .put_state(LOCK_KEY, body, Precondition::IfMatch(&s.etag), RENEW)
            .await?
        {
            s.etag = new;
            return Ok(true);
        }
        match read(store).await? {
            Some(held) if held.holder.as_ref().is_some_and(|h| same_run(h, &s.holder)) => {
                s.etag = held.etag;
            }
            _ => break,
        }
    }
    s.lost = Some(format!(
        "the lock was replaced while this run held it (it had expired after {}s, or `shipit unlock` broke it)",
        s.ttl.as_secs()
    ));
    Ok(false)
}

/// Whether a lock record was written by this run (its owner and start are this run's).
fn same_run(a: &Holder, b: &Holder) -> bool {
    a.owner == b.owner && a.acquired_at == b.acquired_at && a.command == b.command
}

const RENEW: &str = "renew the deploy lock";

async fn take(
    store: &dyn ObjectStore,
    command: &str,
    ttl: Duration,
    wait: Duration,
    reporter: &dyn Reporter,
) -> Result<(String, Holder, bool)> {
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
            return Ok((etag, me, told));
        }
        let Some(held) = read(store).await? else {
            continue; // released between our attempt and our read: try again
        };
        let (etag, holder) = (held.etag, held.holder);
        match decide(holder.as_ref(), t, started.elapsed(), wait) {
            Decision::TakeOver => {
                if let Some(etag) = store
                    .put_state(LOCK_KEY, body.clone(), Precondition::IfMatch(&etag), TAKE)
                    .await?
                {
                    reporter.warn(&format!(
                        "took over an expired deploy lock{}",
                        holder
                            .map(|h| format!(" held by {} since {}", h.owner, h.acquired_at))
                            .unwrap_or_default()
                    ));
                    return Ok((etag, me, true));
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
                crate::interrupt::pause(Duration::from_secs(2), "nothing was written").await?;
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
    /// Checks, with a conditional renewal, that this run still holds the lock before `what`
    /// (a write that makes a build live, or a delete). Fails, before that write, when it
    /// does not.
    pub async fn fence(&self, what: &str) -> Result<()> {
        let mut s = self.state.lock().await;
        let held = renew(self.store.as_ref(), &mut s).await?;
        match (held, s.lost.clone()) {
            (true, _) => Ok(()),
            (false, why) => Err(Error::Refused {
                message: format!(
                    "stopped before {what}: this run no longer holds the deploy lock on s3://{}/{LOCK_KEY}: {}",
                    self.store.bucket(),
                    why.unwrap_or_default()
                ),
                hint: "another run is deploying this site; nothing more was written by this one. Raise [lock] ttl_minutes if deploys take that long, then deploy again".into(),
            }),
        }
    }

    /// Stops the heartbeat and gives the lock back, only if it is still ours (someone who
    /// broke it and took it keeps theirs).
    /// A renewal in flight is waited for first, so the delete names the lock's last ETag.
    pub async fn release(self) -> Result<()> {
        let s = self.state.lock().await;
        self.heartbeat.abort();
        if s.lost.is_some() {
            return Ok(());
        }
        if !self
            .store
            .delete(LOCK_KEY, Some(&s.etag), "release the deploy lock")
            .await?
        {
            return Err(Error::Refused {
                message: format!(
                    "the deploy lock on s3://{}/{LOCK_KEY} was not the one this run wrote",
                    self.store.bucket()
                ),
                hint: "another run may hold it now; `shipit unlock` breaks it if none does".into(),
            });
        }
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
