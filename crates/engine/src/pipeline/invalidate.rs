//! Invalidating CloudFront over the CDN interface: create the invalidation for the stale keys
//! (the paths are `core::invalidate`'s choice), ask again with backoff while CloudFront has too
//! many in flight, and optionally wait, with a deadline, until it completes.

use std::time::{Duration, Instant};

use crate::ports::{Cdn, Created, Reporter};
use shipit_core::error::{Error, Result};
use shipit_core::invalidate::{self, is_completed};
use shipit_core::settings::CdnSettings;

/// What an interrupted invalidation leaves: the keys stay pending for the next run.
const UNINVALIDATED: &str =
    "the new build is live; the CDN may serve it stale until the next run invalidates it";

/// How many times a throttled invalidation is asked again.
const BUSY_RETRIES: u32 = 6;

/// Invalidates the stale keys; returns the invalidation id and path count (None when nothing
/// is stale).
pub async fn stale_keys(
    cdn: &dyn Cdn,
    settings: &CdnSettings,
    distribution: &str,
    stale: &[String],
    reporter: &dyn Reporter,
) -> Result<Option<(String, usize)>> {
    if stale.is_empty() {
        reporter.info("nothing cached is stale: no invalidation");
        return Ok(None);
    }
    let selection = invalidate::select(stale, settings.max_paths);
    reporter.stage(&format!(
        "invalidating {} paths on {distribution} for {} changed keys (free for the first {} paths a month, then ${:.3} for these)",
        selection.paths.len(),
        selection.stale_keys,
        invalidate::FREE_PATHS_PER_MONTH,
        selection.worst_case_cost()
    ));
    for p in &selection.paths {
        reporter.detail(p);
    }
    let id = create(cdn, distribution, &selection.paths, BUSY_START, reporter).await?;
    if settings.wait {
        wait(cdn, distribution, &id, settings.wait_timeout, reporter).await?;
        reporter.info(&format!("invalidation {id} completed"));
    }
    Ok(Some((id, selection.paths.len())))
}

/// The first wait after CloudFront says it is busy; it doubles up to a minute.
const BUSY_START: Duration = Duration::from_secs(5);

/// Creates an invalidation; waits and asks again while CloudFront has too many in flight.
pub async fn create(
    cdn: &dyn Cdn,
    distribution: &str,
    paths: &[String],
    first_delay: Duration,
    reporter: &dyn Reporter,
) -> Result<String> {
    let reference = format!("shipit-{}", crate::clock::epoch_nanos());
    let mut delay = first_delay;
    for attempt in 0..=BUSY_RETRIES {
        match cdn
            .create_invalidation(distribution, paths, &reference)
            .await?
        {
            Created::Id(id) => return Ok(id),
            Created::Busy if attempt < BUSY_RETRIES => {
                reporter.info(&format!(
                    "CloudFront has too many invalidations in flight; retrying in {}s",
                    delay.as_secs()
                ));
                crate::interrupt::pause(delay, UNINVALIDATED).await?;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Created::Busy => break,
        }
    }
    Err(Error::Aws {
        message: format!(
            "invalidate distribution {distribution}: CloudFront still had too many invalidations in progress after {} attempts",
            BUSY_RETRIES + 1
        ),
        hint: Some("wait for the distribution's invalidations to complete and deploy again; nothing was pruned".into()),
    })
}

/// Polls until the invalidation completes (status compared without regard to case: the
/// SDK's waiter expects "Completed" exactly), or the deadline passes.
pub async fn wait(
    cdn: &dyn Cdn,
    distribution: &str,
    id: &str,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let status = cdn.invalidation_status(distribution, id).await?;
        if is_completed(&status) {
            return Ok(());
        }
        if status != last {
            reporter.info(&format!("invalidation {id}: {status}"));
            last = status.clone();
        }
        if Instant::now() > deadline {
            return Err(Error::Aws {
                message: format!("invalidation {id} was still {status} after {}s", timeout.as_secs()),
                hint: Some("CloudFront usually completes within minutes; the site may serve stale content until then. Nothing was pruned.".into()),
            });
        }
        crate::interrupt::pause(Duration::from_secs(5), UNINVALIDATED).await?;
    }
}
