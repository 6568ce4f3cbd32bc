//! The wall clock, read in one place: time since the Unix epoch (0 if the clock is before it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

pub fn epoch_secs() -> u64 {
    since_epoch().as_secs()
}

pub fn epoch_millis() -> u64 {
    since_epoch().as_millis() as u64
}

pub fn epoch_nanos() -> u128 {
    since_epoch().as_nanos()
}
