//! `shipit releases`, `shipit rollback` and `shipit unlock`.

use std::io::Write;
use std::time::Instant;

use serde_json::json;

use shipit::cli::{Cli, SiteArgs};
use shipit::config;
use shipit::deploy;
use shipit::error::{Error, Result};
use shipit::report::Reporter;

use super::deploy::{finish, print_summary};
use super::{job_summary, open_site, print_json, unlock};

pub(crate) async fn releases_command(
    cli: &Cli,
    args: &shipit::cli::SiteArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let site = open_site(cli, args, file).await?;
    let (releases, manifest) = tokio::try_join!(site.store.releases(), site.store.get_manifest())?;
    let live = manifest.and_then(|m| m.release);
    if cli.global.json {
        let list: Vec<serde_json::Value> = releases
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "created_at": r.created_at, "commit": r.commit, "source": r.source,
                    "files": r.files.len(), "live": Some(&r.id) == live.as_ref(),
                })
            })
            .collect();
        print_json(&json!({ "ok": true, "bucket": site.bucket, "releases": list }));
        return Ok(());
    }
    if releases.is_empty() {
        reporter.stage(&format!("no releases recorded in s3://{}", site.bucket));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for r in &releases {
        let _ = writeln!(
            out,
            "{} {:<32} {:>5} files  {:<12} {}",
            if Some(&r.id) == live.as_ref() {
                "*"
            } else {
                " "
            },
            r.id,
            r.files.len(),
            r.commit
                .as_deref()
                .map(|c| &c[..c.len().min(12)])
                .unwrap_or("-"),
            r.source
        );
    }
    Ok(())
}

/// `shipit rollback [ID]`: the release's files back from the bucket's versions, as a deploy.
pub(crate) async fn rollback(
    cli: &Cli,
    args: &shipit::cli::RollbackArgs,
    file: config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let site = open_site(cli, &args.site, &file).await?;
    let target = shipit::cli::TargetArgs {
        dir: ".".into(),
        bucket: Some(site.bucket.clone()),
        stack: shipit::cli::StackArgs::default(),
        prefix: args.site.prefix.clone(),
        allow_missing_index: true,
        full_check: false,
        no_prune: args.no_prune,
        allow_large_prune: false,
        distribution_id: args.distribution_id.clone().or_else(|| {
            site.outputs
                .as_ref()
                .and_then(|o| o.get("DistributionId").cloned())
        }),
        no_invalidate: args.no_invalidate,
        wait: false,
        lock_wait: args.lock_wait,
    };
    let mut file = file;
    file.stack.name = None; // the stack is only read: its bucket is already resolved
    file.bucket = None;
    let settings = config::settings(&cli.global, &target, None, file, |k| std::env::var(k).ok())?;
    let store = &site.store;
    let lock = shipit::lock::acquire(
        store,
        "rollback",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    let result = async {
        let (releases, manifest) = tokio::try_join!(store.releases(), store.get_manifest())?;
        let live = manifest.map(|m| m.files).unwrap_or_default();
        let release = shipit::release::rollback_target(&releases, &live, args.id.as_deref())
            .map_err(|why| Error::Refused {
                message: format!("cannot roll back: {why}"),
                hint: "`shipit releases` lists what can be restored".into(),
            })?
            .clone();
        reporter.stage(&format!(
            "rolling back to release {} ({}, {} files)",
            release.id,
            release.source,
            release.files.len()
        ));
        let index_md5 = release.files.get("index.html").map(|e| e.md5.clone());
        let started_from = deploy::Started::from_release(site.sdk.clone(), release)?;
        let prepared = deploy::prepare(&settings, started_from, reporter).await?;
        let written = deploy::write_all(prepared, &settings, reporter).await?;
        finish(
            &site.sdk,
            &settings,
            &checks,
            site.outputs.as_ref(),
            written,
            index_md5,
            reporter,
        )
        .await
    }
    .await;
    unlock(lock, store, reporter).await;
    let (mut summary, verified) = result?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, None, reporter);
    reporter.close();
    job_summary(
        reporter,
        &shipit::gha::JobSummary {
            command: "rollback",
            summary: Some(&summary),
            verify: verified.as_ref(),
            ..Default::default()
        },
    );
    if cli.global.json {
        print_json(&json!({ "ok": true, "summary": summary, "verify": verified }));
    }
    Ok(())
}

pub(crate) async fn unlock_command(
    cli: &Cli,
    args: &SiteArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let site = open_site(cli, args, file).await?;
    match site.store.read_lock().await? {
        None => reporter.stage("no deploy lock is held"),
        Some((body, _)) => {
            site.store.delete_lock(None).await?;
            reporter.stage(&format!(
                "broke the deploy lock: {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    Ok(())
}
