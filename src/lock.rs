//! The deploy lock: one object, `.shipit/lock`, created with `If-None-Match: *` so two runs
//! against one site cannot both hold it. A second run waits (up to `--lock-wait`) and then
//! fails naming the holder. A lock left by a killed run expires after its TTL and is taken
//! over with `If-Match` on the stale copy (so two waiters cannot both take it); `shipit unlock`
//! breaks it at once.

use std::time::Duration;

use crate::clock::epoch_secs;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::s3::Store;

pub const LOCK_KEY: &str = ".shipit/lock";

/// What the lock object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host pid N`, plus the CI run when there is one.
    pub owner: String,
    pub command: String,
    pub acquired_at: u64,
    pub expires_at: u64,
}

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

/// What to do about a lock someone holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It expired: take it over.
    TakeOver,
    /// Wait and ask again.
    Wait,
    /// Waited long enough.
    GiveUp,
}

pub fn decide(holder: Option<&Holder>, now: u64, waited: Duration, wait: Duration) -> Decision {
    match holder {
        // Unreadable or gone between our create and our read: treat as stale (If-Match
        // still protects against a race).
        None => Decision::TakeOver,
        Some(h) if now >= h.expires_at => Decision::TakeOver,
        Some(_) if waited < wait => Decision::Wait,
        Some(_) => Decision::GiveUp,
    }
}

/// A held lock; release it with [`Lock::release`].
pub struct Lock {
    etag: String,
    /// Whether another run held it first (what we listed before may be out of date).
    pub waited: bool,
}

/// Takes the lock, waiting up to `wait` for another run to finish.
pub async fn acquire(
    store: &Store,
    command: &str,
    ttl: Duration,
    wait: Duration,
    reporter: &Reporter,
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
        if let Some(etag) = store.create_lock(body.clone()).await? {
            return Ok(Lock { etag, waited: told });
        }
        let Some((bytes, etag)) = store.read_lock().await? else {
            continue; // released between our attempt and our read: try again
        };
        let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
        match decide(holder.as_ref(), t, started.elapsed(), wait) {
            Decision::TakeOver => {
                if let Some(etag) = store.replace_lock(body, &etag).await? {
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

impl Lock {
    /// Gives the lock back (only if it is still ours).
    pub async fn release(self, store: &Store) -> Result<()> {
        store.delete_lock(Some(&self.etag)).await
    }
}

/// Default seconds a lock lives: longer than any deploy, short enough to recover from a crash.
pub const DEFAULT_TTL_SECONDS: u64 = 30 * 60;
/// Default seconds a second run waits for the first.
pub const DEFAULT_WAIT_SECONDS: u64 = 120;

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(expires_at: u64) -> Holder {
        Holder {
            owner: "ci@runner pid 1".into(),
            command: "deploy".into(),
            acquired_at: 0,
            expires_at,
        }
    }

    #[test]
    fn decisions() {
        let s = Duration::from_secs;
        let table = [
            (Some(holder(100)), 50, s(0), s(10), Decision::Wait),
            (Some(holder(100)), 50, s(10), s(10), Decision::GiveUp),
            (Some(holder(100)), 50, s(0), s(0), Decision::GiveUp),
            (Some(holder(100)), 100, s(0), s(0), Decision::TakeOver),
            (Some(holder(100)), 500, s(99), s(10), Decision::TakeOver),
            (None, 0, s(0), s(0), Decision::TakeOver),
        ];
        for (h, now, waited, wait, want) in table {
            assert_eq!(decide(h.as_ref(), now, waited, wait), want, "{h:?} {now}");
        }
    }

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
