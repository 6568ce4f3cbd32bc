//! `shipit deploy`, and what a rollback shares with it after the writes: invalidate,
//! verify, settle, prune, record the release.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use shipit::cfn::Cfn;
use shipit::cli::{Cli, DeployArgs};
use shipit::config::{self, Settings, VerifySettings};
use shipit::deploy::{self, Summary};
use shipit::error::{Error, Result};
use shipit::provision::{self, Ensured};
use shipit::report::{human_bytes, Reporter};
use shipit::s3::Store;
use shipit::verify::run::local_index_md5;
use shipit::verify::Report;

use super::verify::verify_deploy;
use super::{job_summary, print_json, unlock};

pub(crate) async fn run(
    cli: &Cli,
    args: &DeployArgs,
    file: config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let mut settings = config::settings(&cli.global, &args.target, args.concurrency, file, env)?;
    let mut started_scan = deploy::start(&settings, reporter).await?;
    let sdk = started_scan.sdk.clone();
    let mut ensured = None;
    if let Some(stack) = &settings.stack {
        let e = provision::ensure(&Cfn::new(&sdk, &settings.connection), stack, reporter).await?;
        settings.bucket = site_bucket(&e)?;
        ensured = Some(e);
    }
    settings.cdn.distribution_id = settings.cdn.distribution_id.clone().or_else(|| {
        ensured
            .as_ref()
            .and_then(|e| e.outputs.get("DistributionId").cloned())
    });
    let store = Store::new(
        &sdk,
        &settings.connection,
        &settings.bucket,
        &settings.prefix,
    );
    let lock = shipit::lock::acquire(
        &store,
        "deploy",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    if lock.waited {
        started_scan.relist();
    }
    let outputs = ensured.as_ref().map(|e| &e.outputs);
    let result = async {
        let prepared = deploy::prepare(&settings, started_scan, reporter).await?;
        let written = deploy::write_all(prepared, &settings, reporter).await?;
        let index_md5 = local_index_md5(&settings.dir);
        finish(
            &sdk, &settings, &checks, outputs, written, index_md5, reporter,
        )
        .await
    }
    .await;
    unlock(lock, &store, reporter).await;
    let (mut summary, verified) = result?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, ensured.as_ref(), reporter);
    if let Some(r) = &verified {
        reporter.stage(&format!("site: {}", r.site));
    }
    reporter.close();
    job_summary(
        reporter,
        &shipit::gha::JobSummary {
            command: "deploy",
            stack: ensured.as_ref().map(|e| (e.stack.as_str(), e.action)),
            summary: Some(&summary),
            verify: verified.as_ref(),
            error: None,
        },
    );
    if cli.global.json {
        print_json(
            &json!({ "ok": true, "stack": ensured, "summary": summary, "verify": verified }),
        );
    }
    Ok(())
}

/// Everything after the writes, shared by deploy and rollback: invalidate what is stale,
/// verify the site, record that the CDN caught up, prune, and record the release.
pub(crate) async fn finish(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    checks: &VerifySettings,
    outputs: Option<&BTreeMap<String, String>>,
    mut written: deploy::Written,
    index_md5: Option<String>,
    reporter: &Reporter,
) -> Result<(Summary, Option<Report>)> {
    let invalidation = match &settings.cdn.distribution_id {
        Some(d) if settings.cdn.invalidate => {
            invalidate(sdk, settings, d, written.stale(), reporter).await?
        }
        Some(_) if !written.stale().is_empty() => {
            reporter.warn(&format!(
                "not invalidating (--no-invalidate): {} changed keys may be served stale; the next deploy invalidates them",
                written.stale().len()
            ));
            None
        }
        _ => None,
    };
    let verified = if checks.enabled {
        verify_deploy(sdk, settings, checks, outputs, index_md5, reporter).await?
    } else {
        reporter.info("verification off (--no-verify)");
        None
    };
    if settings.cdn.invalidate {
        deploy::settle(&mut written).await?;
    }
    let release = written.new_release().cloned();
    let store = written.store.clone();
    let mut summary = deploy::prune(written, settings, reporter).await?;
    if let Some(r) = &release {
        store.put_release(r).await?;
        reporter.info(&format!("release {} recorded", r.id));
    }
    summary.release = release.map(|r| r.id);
    if let Some((id, paths)) = invalidation {
        summary.invalidation_id = Some(id);
        summary.invalidated_paths = paths;
    }
    Ok((summary, verified))
}

/// Invalidates the stale keys; returns the invalidation id and path count.
pub(crate) async fn invalidate(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    distribution: &str,
    stale: &[String],
    reporter: &Reporter,
) -> Result<Option<(String, usize)>> {
    if stale.is_empty() {
        reporter.info("nothing cached is stale: no invalidation");
        return Ok(None);
    }
    let selection = shipit::invalidate::select(stale, settings.cdn.max_paths);
    reporter.stage(&format!(
        "invalidating {} paths on {distribution} for {} changed keys (free for the first {} paths a month, then ${:.3} for these)",
        selection.paths.len(),
        selection.stale_keys,
        shipit::invalidate::FREE_PATHS_PER_MONTH,
        selection.worst_case_cost()
    ));
    for p in &selection.paths {
        reporter.detail(p);
    }
    let cdn = shipit::cdn::Cdn::new(sdk, &settings.connection);
    let id = cdn
        .invalidate(distribution, &selection.paths, reporter)
        .await?;
    if settings.cdn.wait {
        cdn.wait(distribution, &id, settings.cdn.wait_timeout, reporter)
            .await?;
        reporter.info(&format!("invalidation {id} completed"));
    }
    Ok(Some((id, selection.paths.len())))
}

pub(crate) fn site_bucket(e: &Ensured) -> Result<String> {
    e.outputs
        .get("SiteBucketName")
        .cloned()
        .ok_or_else(|| Error::Stack {
            message: format!("stack {} has no SiteBucketName output", e.stack),
            hint: "a custom --template must output SiteBucketName (the bucket to sync to)".into(),
        })
}

pub(crate) fn print_summary(s: &Summary, stack: Option<&Ensured>, reporter: &Reporter) {
    if let Some(e) = stack {
        reporter.info(&format!(
            "stack {}: {}{}",
            e.stack,
            e.action,
            if e.change_set { "" } else { " (no change set)" }
        ));
    }
    reporter.stage(&format!(
        "done in {:.1}s: {} uploaded ({}), {} headers updated, {} deleted, {} unchanged{}",
        s.seconds,
        s.uploaded,
        human_bytes(s.bytes_uploaded),
        s.header_updated,
        s.deleted,
        s.unchanged,
        if s.kept_stale > 0 {
            format!(", {} stale kept (pruning off)", s.kept_stale)
        } else {
            String::new()
        }
    ));
}
