//! `shipit deploy`: resolve the settings, scan the build while the clients connect, then
//! `pipeline::ship` (the stack, the API's new version, the site under the deploy lock, the
//! finish), and print what it did.

use std::time::Instant;

use serde_json::json;

use crate::cli::{Cli, DeployArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::Result;
use shipit_core::summary::{human_bytes, Summary};
use shipit_engine::pipeline::deploy;
use shipit_engine::pipeline::provision::Ensured;
use shipit_engine::pipeline::ship::{ship, Ports};
use shipit_engine::ports::Reporter;

use super::{job_summary, Clients};

pub(crate) async fn run(
    cli: &Cli,
    args: &DeployArgs,
    file: config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let settings = config::settings(&cli.global, &args.target, args.concurrency, file, env)?;
    // The build is hashed while the credentials resolve (and a given bucket is listed).
    let (clients, scanned) = deploy::start(
        &settings,
        Clients::connect(&settings.connection),
        |c| c.given_bucket(&settings),
        reporter,
    )
    .await?;
    let (cfn, cdn, account) = (clients.cfn(), clients.cdn(), clients.account()?);
    let store = |bucket: &str, prefix: &str| clients.store(bucket, prefix);
    // Only [api] local_command needs ECR, and only on shipit's local cloud.
    let registry = match settings.local_service {
        Some(_) => clients.local_registry().await?,
        None => None,
    };
    let parameters = clients.parameters()?;
    let ports = Ports {
        stacks: &cfn,
        account: &account,
        cdn: &cdn,
        store: &store,
        lambda: &clients,
        region: clients.region(),
        registry: registry
            .as_ref()
            .map(|r| r as &dyn shipit_engine::ports::Registry),
        parameters: &parameters,
    };
    let mut shipped = ship(&ports, settings, &checks, scanned, reporter).await?;
    shipped.summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&shipped.summary, shipped.stack.as_ref(), reporter);
    if let Some(r) = &shipped.verify {
        reporter.stage(&format!("site: {}", r.site));
    }
    reporter.close();
    job_summary(
        reporter,
        &crate::output::gha::JobSummary {
            command: "deploy",
            stack: shipped.stack.as_ref().map(|e| (e.stack.as_str(), e.action)),
            api: shipped.api_running.as_ref().map(|a| a.label()),
            summary: Some(&shipped.summary),
            verify: shipped.verify.as_ref(),
            error: None,
        },
    );
    if cli.global.json {
        stdout::json(true, "deploy", json!(shipped));
    }
    Ok(())
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
