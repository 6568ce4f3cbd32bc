//! Ctrl-C and SIGTERM (a cancelled CI job) during a deploy or a rollback: the first signal asks
//! the run to stop starting new work; the writes in flight finish (a multipart upload stops
//! between parts and is aborted), what was written is recorded, the deploy lock is released,
//! nothing is pruned, and shipit exits with 130 (SIGINT) or 143 (SIGTERM) saying where it
//! stopped. A second signal exits at once. Other commands keep the default: a signal stops
//! them at once. The request is process-wide, as a signal is: the deploy's stages ask
//! [`check`] between pieces of work.

use std::sync::atomic::{AtomicI32, Ordering};

use shipit_core::error::{Error, Result};

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Wakes whoever is waiting in [`pause`] when a signal arrives.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Records a signal; returns whether it is the second (then the caller exits at once).
pub fn request(signal: i32) -> bool {
    let again = SIGNAL.swap(signal, Ordering::SeqCst) != 0;
    WAKE.notify_waiters();
    again
}

/// Waits `for_` unless a signal arrives first (waiting for a lock, an invalidation, the next
/// verification attempt): then fails at once with `Interrupted` and `state`.
pub async fn pause(for_: std::time::Duration, state: &str) -> Result<()> {
    let woken = WAKE.notified();
    tokio::pin!(woken);
    // Registered before the check, so a signal between the two still wakes us.
    woken.as_mut().enable();
    check(state)?;
    tokio::select! {
        _ = tokio::time::sleep(for_) => Ok(()),
        _ = woken => check(state),
    }
}

/// The signal received, if any.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Fails with `Interrupted` when a signal asked the run to stop; `state` says what the site is
/// left as ("nothing was written", "the live site is unchanged").
pub fn check(state: &str) -> Result<()> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(interrupted(signal, state)),
    }
}

pub fn interrupted(signal: i32, state: &str) -> Error {
    Error::Interrupted {
        signal,
        message: format!(
            "interrupted by {}: {state}; nothing was deleted",
            if signal == SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            }
        ),
    }
}
