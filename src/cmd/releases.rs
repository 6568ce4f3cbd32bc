//! `shipit releases`, `shipit rollback` and `shipit unlock`.

use std::time::Instant;

use serde_json::json;

use crate::cli::{Cli, RollbackArgs, SiteArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::{Error, Result};
use shipit_core::files::shown;
use shipit_engine::pipeline::finish::{finish, Finish};
use shipit_engine::pipeline::{deploy, lock, records, service};
use shipit_engine::ports::Reporter;

use super::deploy::print_summary;
use super::{job_summary, open_site, unlock, Clients};

/// The first `n` characters of a text read from the bucket (never split inside a character).
fn clip(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

pub(crate) async fn releases_command(
    cli: &Cli,
    args: &SiteArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let s = config::site_settings(&cli.global, args, file, |k| std::env::var(k).ok())?;
    let clients = Clients::connect(&s.connection).await?;
    let site = open_site(&clients, &s.target, &s.prefix).await?;
    let store = site.store.as_ref();
    let (read, manifest) =
        tokio::try_join!(records::releases(store), records::get_manifest(store))?;
    for u in &read.unreadable {
        reporter.warn(&u.warning());
    }
    let releases = read.releases;
    let live = manifest.and_then(|m| m.release);
    if cli.global.json {
        let list: Vec<serde_json::Value> = releases
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "created_at": r.created_at, "commit": r.commit, "source": r.source,
                    "files": r.files.len(), "live": Some(&r.id) == live.as_ref(),
                    "api": r.api,
                })
            })
            .collect();
        stdout::json(
            true,
            "releases",
            json!({
                "bucket": store.bucket(),
                "releases": list,
                "unreadable": read.unreadable.iter().map(|u| &u.key).collect::<Vec<_>>(),
            }),
        );
        return Ok(());
    }
    if releases.is_empty() {
        reporter.stage(&format!("no releases recorded in s3://{}", store.bucket()));
        return Ok(());
    }
    // Every field of a record comes from the bucket: each is shown escaped, one line each.
    for r in &releases {
        stdout::line(&shown(&format!(
            "{} {:<32} {:>5} files  {:<8} {:<12} {}",
            if Some(&r.id) == live.as_ref() {
                "*"
            } else {
                " "
            },
            r.id,
            r.files.len(),
            r.api
                .as_ref()
                .map(|a| format!("api {}", a.label()))
                .unwrap_or_else(|| "-".into()),
            r.commit.as_deref().map(|c| clip(c, 12)).unwrap_or("-"),
            r.source
        )));
    }
    Ok(())
}

/// `shipit rollback [ID]`: the release's files back from the bucket's versions, as a deploy.
pub(crate) async fn rollback(
    cli: &Cli,
    args: &RollbackArgs,
    file: config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let mut settings =
        config::rollback_settings(&cli.global, args, file, |k| std::env::var(k).ok())?;
    let clients = Clients::connect(&settings.connection).await?;
    let site = open_site(&clients, &settings.target, &settings.prefix).await?;
    if settings.cdn.distribution_id.is_none() {
        settings.cdn.distribution_id = site
            .outputs
            .as_ref()
            .and_then(|o| o.get("DistributionId").cloned());
    }
    let store = site.store.as_ref();
    let lock = lock::acquire(
        site.store.clone(),
        "rollback",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    let cdn = clients.cdn();
    let result = async {
        let (read, manifest) =
            tokio::try_join!(records::releases(store), records::get_manifest(store))?;
        for u in &read.unreadable {
            reporter.warn(&u.warning());
        }
        let releases = read.releases;
        let live_api = manifest.as_ref().and_then(|m| m.api.clone());
        let live = manifest.map(|m| m.files).unwrap_or_default();
        let target = shipit_core::release::rollback_target(
            &releases,
            &live,
            live_api.as_ref(),
            args.id.as_deref(),
            settings.runtime_config.as_deref(),
        );
        let unreadable: Vec<&str> = read.unreadable.iter().map(|u| u.id.as_str()).collect();
        if let Some(id) = shipit_core::release::unreadable_in_the_way(
            &unreadable,
            args.id.as_deref(),
            target.as_ref().ok().map(|r| r.id.as_str()),
        ) {
            return Err(Error::Refused {
                message: format!("cannot roll back: the record of release {id} cannot be read, and it may be the release to restore; nothing was written"),
                hint: "name another release to restore (`shipit releases` lists them: `shipit rollback <id>`), or repair the damaged record".into(),
            });
        }
        let release = target
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
        let index_md5 = release.files.get("index.html").map(|e| e.md5.hex());
        let api = release.api.clone();
        let release_id = release.id.clone();
        let from = deploy::Started::from_release(release)?;
        // Planned first (every object version found, nothing written); then the API's version
        // (seconds: the alias moves, the stack does not change), then the site that may call it.
        let mut prepared = deploy::prepare(&settings, site.store.clone(), from, reporter).await?;
        prepared.set_api(api.clone(), &settings.rules)?;
        if let Some(outputs) = &site.outputs {
            prepared.set_runtime_config(outputs, &clients.region(), &settings.rules)?;
        }
        match (&api, settings.target.stack()) {
            // An API in containers: the image the release ran is put back by a stack update
            // (the stack's own template and parameters, ContainerImage changed); the release
            // records the revision that runs it now.
            (Some(a), Some(stack)) if a.image.is_some() => {
                let image = a.image.clone().unwrap_or_default();
                let cfn = clients.cfn();
                // Only the service that ran it takes the image back: a stack that runs the
                // function now (or another service) is refused, nothing changed.
                let service_name = site
                    .outputs
                    .as_ref()
                    .and_then(|o| o.get(service::SERVICE_OUTPUT))
                    .and_then(|arn| arn.rsplit('/').next())
                    .unwrap_or_default()
                    .to_string();
                if service_name != a.function {
                    return Err(Error::Refused {
                        message: format!(
                            "release {release_id} ran the API in containers ({} on service {}), and stack {} runs {}; nothing was changed",
                            a.label(),
                            a.function,
                            stack.name,
                            if service_name.is_empty() { "no service (its API is a function)".to_string() } else { format!("service {service_name}") }
                        ),
                        hint: "roll back to a release of the backend the stack runs now (`shipit releases`), or switch the backend back with a deploy first".into(),
                    });
                }
                let changed = [(shipit_core::container::IMAGE_PARAMETER.to_string(), image)];
                let e = service::put_back(&cfn, stack, &changed.into_iter().collect(), reporter)
                    .await?;
                let parameters = shipit_engine::ports::StackService::describe(&cfn, &stack.name)
                    .await?
                    .map(|i| i.parameters)
                    .unwrap_or_default();
                let now = service::served(&e.outputs, &parameters).ok_or_else(|| Error::Stack {
                    message: format!(
                        "stack {} was updated to {}, and it no longer says what its service runs (no ServiceName or TaskDefinitionArn output); the site was not changed",
                        stack.name,
                        a.label()
                    ),
                    hint: "see the stack's events, then deploy again".into(),
                })?;
                reporter.stage(&format!("api: {} runs {} again", a.function, now.label()));
                prepared.set_api(Some(now), &settings.rules)?;
            }
            (Some(a), _) if a.image.is_some() => {
                return Err(Error::config_hint(
                    format!("release {} ran the API in containers ({}), and no stack is named", release_id, a.label()),
                    "name the stack (--stack, [stack] name): its image is put back through it",
                ));
            }
            (Some(a), _) => {
                let output = |name: &str| {
                    site.outputs
                        .as_ref()
                        .and_then(|o| o.get(name))
                        .map(String::as_str)
                };
                let functions = clients
                    .functions(output(shipit_engine::pipeline::api::GATE_OUTPUT))
                    .await?;
                let function = output(shipit_engine::pipeline::api::FUNCTION_OUTPUT);
                shipit_engine::pipeline::api::restore(functions.as_ref(), a, function, reporter)
                    .await?;
            }
            (None, _) => {}
        }
        let written = deploy::write_all(prepared, &settings, Some(&lock), reporter).await?;
        let f = Finish {
            cdn: Some(&cdn),
            checks: &checks,
            outputs: site.outputs.as_ref(),
            index_md5,
            region: clients.region(),
            lock: Some(&lock),
        };
        finish(&settings, f, written, reporter).await
    }
    .await;
    unlock(lock, reporter).await;
    let (mut summary, verified) = result?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, None, reporter);
    reporter.close();
    job_summary(
        reporter,
        &crate::output::gha::JobSummary {
            command: "rollback",
            summary: Some(&summary),
            verify: verified.as_ref(),
            ..Default::default()
        },
    );
    if cli.global.json {
        stdout::json(
            true,
            "rollback",
            json!({ "summary": summary, "verify": verified }),
        );
    }
    Ok(())
}

pub(crate) async fn unlock_command(
    cli: &Cli,
    args: &SiteArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let s = config::site_settings(&cli.global, args, file, |k| std::env::var(k).ok())?;
    let clients = Clients::connect(&s.connection).await?;
    let site = open_site(&clients, &s.target, &s.prefix).await?;
    let held = lock::read(site.store.as_ref()).await?;
    match &held {
        None => reporter.stage("no deploy lock is held"),
        Some(h) => {
            lock::break_lock(site.store.as_ref()).await?;
            reporter.stage(&format!("broke the deploy lock: {}", h.text));
        }
    }
    if cli.global.json {
        stdout::json(true, "unlock", json!({ "broken": held.map(|h| h.text) }));
    }
    Ok(())
}
