//! `shipit deploy`: ensure the stack, sync the build under the deploy lock, then finish
//! (invalidate, verify, record the release and settle, prune).

use std::time::Instant;

use serde_json::json;

use shipit::cli::{Cli, DeployArgs};
use shipit::config;
use shipit::core::settings::SiteTarget;
use shipit::core::summary::{human_bytes, Summary};
use shipit::error::Result;
use shipit::output::stdout;
use shipit::output::term::Terminal;
use shipit::pipeline::finish::{finish, Finish};
use shipit::pipeline::provision::Ensured;
use shipit::pipeline::{api, deploy, preflight};
use shipit::ports::Reporter;

use super::{job_summary, site_bucket, unlock, Clients};

pub(crate) async fn run(
    cli: &Cli,
    args: &DeployArgs,
    file: config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let mut settings = config::settings(&cli.global, &args.target, args.concurrency, file, env)?;
    let (clients, mut scanned) = deploy::start(
        &settings,
        Clients::connect(&settings.connection),
        |c| c.given_bucket(&settings),
        reporter,
    )
    .await?;
    // The package is built before anything changes: a bad one stops the deploy here.
    let package = match &settings.api {
        Some(api) => Some(shipit::pipeline::package::build(api, reporter).await?),
        None => None,
    };
    let code = settings.api.as_ref().zip(package.as_ref());
    let (bucket, ensured, shipped) = match &settings.target {
        SiteTarget::Bucket(b) => (b.clone(), None, None),
        SiteTarget::Stack(stack) => {
            // Before any write: what AWS would refuse in this change, all at once.
            let cfn = clients.cfn();
            let info = cfn.describe(&stack.name).await?;
            let coded = api::settings_for(stack, info.as_ref(), code)?;
            let checked =
                preflight::run(&cfn, &clients.account()?, &coded, info.as_ref(), reporter).await?;
            preflight::report(&checked, reporter);
            checked.check(&stack.name)?;
            let store_for = |b: &str| clients.store(b, "");
            let (e, shipped) = api::ensure(&cfn, &store_for, stack, code, reporter).await?;
            (site_bucket(&e.stack, &e.outputs)?, Some(e), shipped)
        }
    };
    if settings.cdn.distribution_id.is_none() {
        settings.cdn.distribution_id = ensured
            .as_ref()
            .and_then(|e| e.outputs.get("DistributionId").cloned());
    }
    let store = clients.store(&bucket, &settings.prefix);
    let lock = shipit::pipeline::lock::acquire(
        store.clone(),
        "deploy",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    if lock.waited {
        scanned.relist();
    }
    let cdn = clients.cdn();
    // The index.html that was hashed is the one uploaded: the apex must serve its bytes.
    let index_md5 = scanned
        .local
        .iter()
        .find(|f| f.key == "index.html")
        .map(|f| f.md5.hex());
    let result = async {
        // Planned first (it writes nothing and may refuse); then the API's new version takes
        // traffic before the site that may call it: published, checked, then the live alias
        // moved (a failure stops here, with the old version serving and the site unchanged).
        let mut prepared = deploy::prepare(&settings, store.clone(), scanned, reporter).await?;
        if let Some(e) = &ensured {
            prepared.set_runtime_config(&e.outputs, &clients.region(), &settings.rules)?;
        }
        let live = match ensured.as_ref() {
            Some(e) => go_live(&clients, &settings, &checks, package.as_ref(), e, reporter).await?,
            None => None,
        };
        let api = live.as_ref().map(|l| shipit::core::release::ApiVersion {
            function: l.function.clone(),
            version: l.version.clone(),
            package: package.as_ref().map(|p| p.key.clone()),
        });
        prepared.set_api(api, &settings.rules)?;
        let written = deploy::write_all(prepared, &settings, Some(&lock), reporter).await?;
        let f = Finish {
            cdn: Some(&cdn),
            checks: &checks,
            outputs: ensured.as_ref().map(|e| &e.outputs),
            index_md5,
            region: clients.region(),
            lock: Some(&lock),
        };
        finish(&settings, f, written, reporter)
            .await
            .map(|(summary, verified)| (summary, verified, live))
    }
    .await;
    unlock(lock, reporter).await;
    let (mut summary, verified, live) = result?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, ensured.as_ref(), reporter);
    if let Some(r) = &verified {
        reporter.stage(&format!("site: {}", r.site));
    }
    reporter.close();
    job_summary(
        reporter,
        &shipit::output::gha::JobSummary {
            command: "deploy",
            stack: ensured.as_ref().map(|e| (e.stack.as_str(), e.action)),
            summary: Some(&summary),
            verify: verified.as_ref(),
            error: None,
        },
    );
    if cli.global.json {
        stdout::json(
            true,
            "deploy",
            json!({ "stack": ensured, "api": shipped, "api_live": live, "summary": summary, "verify": verified }),
        );
    }
    Ok(())
}

/// Moves the API's `live` alias to the function's new version when this deploy shipped code
/// (`[api]`) or the stack changed the function (its configuration, or the built-in code): a
/// version that is never published would never take traffic.
async fn go_live(
    clients: &Clients,
    settings: &shipit::core::settings::Settings,
    checks: &shipit::core::settings::VerifySettings,
    package: Option<&shipit::core::package::Package>,
    ensured: &Ensured,
    reporter: &dyn Reporter,
) -> Result<Option<api::Live>> {
    let Some(function) = ensured.outputs.get(api::FUNCTION_OUTPUT) else {
        return Ok(None);
    };
    let touched = ensured
        .changes
        .iter()
        .any(|c| c.logical_id == "ApiFunction");
    if package.is_none() && !touched {
        return Ok(None);
    }
    let functions = clients
        .functions(ensured.outputs.get(api::GATE_OUTPUT).map(String::as_str))
        .await?;
    let url = checks
        .api_url
        .clone()
        .or_else(|| ensured.outputs.get("ApiUrl").cloned())
        .unwrap_or_default();
    let http = shipit::http::Client::new(std::time::Duration::from_secs(10))
        .map_err(shipit::error::Error::Internal)?;
    let health = format!("{}/health", url.trim_end_matches('/'));
    let check = || -> futures::future::BoxFuture<'_, std::result::Result<(), String>> {
        Box::pin(async {
            match http.get(&health, &[]).await {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("GET {health} answered {}", r.status)),
                Err(e) => Err(format!("GET {health}: {e:?}")),
            }
        })
    };
    let canary = settings
        .api
        .as_ref()
        .and_then(|a| a.canary)
        .map(|(percent, window)| api::Canary { percent, window });
    api::go_live(
        functions.as_ref(),
        function,
        package,
        canary.as_ref(),
        &check,
        reporter,
    )
    .await
    .map(Some)
}

pub(crate) fn print_summary(s: &Summary, stack: Option<&Ensured>, reporter: &dyn Reporter) {
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
