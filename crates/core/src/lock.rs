//! The deploy lock's record and the decision about a lock someone else holds. The protocol
//! (create with `If-None-Match: *`, take over an expired lock with `If-Match`) is run by
//! `pipeline::lock`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
}
