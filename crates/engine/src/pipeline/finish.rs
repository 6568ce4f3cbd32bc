//! Everything after the writes, shared by deploy and rollback, in the order that keeps a site
//! safe: invalidate what is stale, verify the live site, record the release and that the CDN
//! caught up, then prune. An error at any step stops the ones after it: nothing is deleted
//! after a failure.

use std::collections::BTreeMap;

use crate::interrupt;
use crate::pipeline::deploy::{self, Written};
use crate::pipeline::invalidate;
use crate::pipeline::lock::Lock;
use crate::pipeline::verify::{self, Sources};
use crate::ports::{Cdn, Reporter};
use shipit_core::checks::{Outcome, Report};
use shipit_core::error::{Error, Result};
use shipit_core::settings::{Settings, VerifySettings};
use shipit_core::summary::Summary;

/// What an interruption before the release record leaves.
const LIVE: &str = "the new build is live but not yet verified or recorded";

/// What the finish needs besides the writes: the CDN, how to verify, and where the site is.
pub struct Finish<'a> {
    pub cdn: Option<&'a dyn Cdn>,
    pub checks: &'a VerifySettings,
    /// The stack's outputs (site URL, API URL, SPA fallback), when there is a stack.
    pub outputs: Option<&'a BTreeMap<String, String>>,
    /// The MD5 of the index.html just deployed, for the apex check.
    pub index_md5: Option<String>,
    /// The region, for the bucket's direct URL.
    pub region: String,
    /// The deploy lock this run holds: checked before the release record and the prune.
    pub lock: Option<&'a Lock>,
}

/// Invalidates, verifies, records the release and settles, then prunes.
pub async fn finish(
    settings: &Settings,
    f: Finish<'_>,
    mut written: Written,
    reporter: &dyn Reporter,
) -> Result<(Summary, Option<Report>)> {
    interrupt::check(LIVE)?;
    let stale = written.stale().to_vec();
    let invalidation = match (&settings.cdn.distribution_id, f.cdn) {
        (Some(d), Some(cdn)) if settings.cdn.invalidate => {
            invalidate::stale_keys(cdn, &settings.cdn, d, &stale, reporter).await?
        }
        (Some(_), _) if !stale.is_empty() => {
            reporter.warn(&format!(
                "not invalidating (--no-invalidate): {} changed keys may be served stale; the next deploy invalidates them",
                stale.len()
            ));
            None
        }
        _ => None,
    };
    interrupt::check(LIVE)?;
    let verified = if f.checks.enabled {
        let release = written.release_id();
        verify_deploy(settings, &f, written.store.bucket(), release, reporter).await?
    } else {
        reporter.info("verification off (--no-verify)");
        None
    };
    interrupt::check(LIVE)?;
    let release = deploy::settle(&mut written, settings.cdn.invalidate, f.lock, reporter).await?;
    interrupt::check("the new build is live, verified and recorded; the prune did not run")?;
    let mut summary = deploy::prune(written, settings, f.lock, reporter).await?;
    summary.release = release;
    if let Some((id, paths)) = invalidation {
        summary.invalidation_id = Some(id);
        summary.invalidated_paths = paths;
    }
    Ok((summary, verified))
}

/// The last gate before pruning: is the site we just deployed working?
async fn verify_deploy(
    settings: &Settings,
    f: &Finish<'_>,
    bucket: &str,
    release: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Option<Report>> {
    let target = verify::target(Sources {
        settings: f.checks,
        outputs: f.outputs,
        s3_endpoint: settings.connection.endpoints.s3.as_deref(),
        region: &f.region,
        bucket: Some(bucket),
        prefix: &settings.prefix,
        rules: settings.rules.clone(),
        index_md5: f.index_md5.clone(),
        runtime_config: settings.runtime_config.as_deref(),
        release: release.map(str::to_string),
    });
    let target = match target {
        Ok(t) => t,
        Err(why) => {
            reporter.warn(&format!("not verified: {why}"));
            return Ok(None);
        }
    };
    let report = run_checks(&target, f.checks, reporter).await?;
    interrupt::check(LIVE)?;
    for line in report.table().lines() {
        reporter.info(line);
    }
    if report.ok {
        Ok(Some(report))
    } else {
        Err(broken(&report, true))
    }
}

/// Runs the checks against a target until they pass or the deadline.
pub async fn run_checks(
    target: &verify::Target,
    checks: &VerifySettings,
    reporter: &dyn Reporter,
) -> Result<Report> {
    reporter.stage(&format!("verifying {}", target.site));
    verify::verify(target, checks.timeout, reporter)
        .await
        .map_err(Error::Internal)
}

/// The failure a broken site is reported as.
pub fn broken(report: &Report, after_deploy: bool) -> Error {
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.name)
        .collect();
    Error::Broken {
        message: format!(
            "{} failed verification after {} attempts: {}{}",
            report.site,
            report.attempts,
            failing.join(", "),
            if after_deploy {
                "; nothing was pruned"
            } else {
                ""
            }
        ),
        hint: "each failure's cause is printed above; fix it and run `shipit verify` again".into(),
        report: Box::new(report.clone()),
    }
}
