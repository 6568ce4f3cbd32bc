//! `shipit plan`: the stack's change set and every file action with its reason.

use serde_json::json;

use crate::cli::{Cli, TargetArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::Result;
use shipit_core::files::shown;
use shipit_core::plan::{Op, Plan, Reason};
use shipit_core::settings::SiteTarget;
use shipit_core::summary::human_bytes;
use shipit_engine::pipeline::preflight::Preflight;
use shipit_engine::pipeline::provision::{self, Preview};
use shipit_engine::pipeline::{api, deploy, preflight, service};
use shipit_engine::ports::Reporter;

use super::Clients;

pub(crate) async fn run(
    cli: &Cli,
    target: &TargetArgs,
    file: config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let settings = config::settings(&cli.global, target, None, file, env)?;
    let (clients, started) = deploy::start(
        &settings,
        Clients::connect(&settings.connection),
        |c| c.given_bucket(&settings),
        reporter,
    )
    .await?;
    let local = &started.local;
    let mut preview = None;
    // Whether the deploy will publish a new version of the API's function.
    let mut new_api = false;
    // For an API in containers: the image the deploy runs.
    let mut image = None;
    let bucket = match &settings.target {
        SiteTarget::Bucket(b) => b.clone(),
        SiteTarget::Stack(stack) => {
            let cfn = clients.cfn();
            let info = cfn.describe(&stack.name).await?;
            // On the local cloud, the stand-in image of [api] local_command is published (the
            // registry only: nothing of the stack or the site changes) so the change set names it.
            let registry = match settings.local_service {
                Some(_) => clients.local_registry().await?,
                None => None,
            };
            let mut stack = stack.clone();
            shipit_engine::pipeline::local_image::use_local(
                registry
                    .as_ref()
                    .map(|r| r as &dyn shipit_engine::ports::Registry),
                &mut stack,
                settings.local_service.as_ref(),
                reporter,
            )
            .await?;
            shipit_engine::pipeline::parameters::attach(
                &clients.parameters()?,
                &mut stack,
                info.as_ref(),
                reporter,
            )
            .await?;
            let package = match &settings.api {
                Some(api) => Some(shipit_engine::pipeline::package::build(api, reporter).await?),
                None => None,
            };
            if let Some(p) = &package {
                let live = info.as_ref().and_then(|i| i.parameters.get("ApiCodeKey"));
                new_api = live != Some(&p.key);
                reporter.info(&format!(
                    "{}: {}",
                    api::describe(p),
                    if live == Some(&p.key) {
                        "the stack runs it already"
                    } else {
                        "new: deploy uploads it and points the function at it"
                    }
                ));
            }
            let code = settings.api.as_ref().zip(package.as_ref());
            let stack = &api::settings_for(&stack, info.as_ref(), code)?;
            image = service::plan_image(info.as_ref(), stack);
            if let Some(i) = &image {
                reporter.info(&i.line());
                new_api |= i.rollout;
            }
            let checked =
                preflight::run(&cfn, &clients.account()?, stack, info.as_ref(), reporter).await?;
            preflight::report(&checked, reporter);
            checked.check(&stack.name)?;
            let p = provision::preview(&cfn, stack).await?;
            print_preview(&p, cli.global.json, reporter);
            new_api |= p.changes.iter().any(|c| c.logical_id == "ApiFunction");
            match p.outputs.get("SiteBucketName").cloned() {
                Some(bucket) => {
                    preview = Some((p, checked));
                    bucket
                }
                None => {
                    reporter.info(&format!(
                    "the stack has no bucket yet: deploy uploads all {} files ({}) after creating it",
                    local.len(),
                    human_bytes(local.iter().map(|f| f.size).sum())
                ));
                    if cli.global.json {
                        stdout::json(
                            true,
                            "plan",
                            json!({ "stack": p, "preflight": checked, "api": image, "files": local.len() }),
                        );
                    }
                    return Ok(());
                }
            }
        }
    };
    let store = clients.store(&bucket, &settings.prefix);
    let mut prepared = deploy::prepare(&settings, store, started, reporter).await?;
    if let Some((p, _)) = &preview {
        // The outputs as they are now (a change set may change them; deploy writes the new).
        prepared.set_runtime_config(&p.outputs, &clients.region(), &settings.rules)?;
        if new_api {
            prepared.expect_new_api(&settings.rules)?;
        }
    }
    print_plan(
        &prepared.plan,
        &bucket,
        &settings.prefix,
        preview.as_ref(),
        image.as_ref(),
        cli.global.json,
        reporter.verbose() > 0,
    );
    let c = prepared.plan.counts();
    reporter.info(&format!(
        "plan: {} to upload ({}), {} header updates, {} to delete, {} unchanged; nothing was written",
        c.upload,
        human_bytes(c.upload_bytes),
        c.update_headers,
        c.delete,
        c.keep
    ));
    Ok(())
}

pub(crate) fn print_preview(p: &Preview, json: bool, reporter: &dyn Reporter) {
    if json {
        return; // part of the plan's JSON
    }
    let status = p.status.as_deref().unwrap_or("does not exist");
    stdout::line(&format!("stack {} ({status}): {}", p.stack, p.action));
    for c in &p.changes {
        stdout::line(&format!("  {}", c.line()));
    }
    if let Some(note) = &p.note {
        reporter.info(note);
    }
}

pub(crate) fn print_plan(
    plan: &Plan,
    bucket: &str,
    prefix: &str,
    preview: Option<&(Preview, Preflight)>,
    image: Option<&service::ImagePlan>,
    json: bool,
    all: bool,
) {
    if json {
        stdout::json(
            true,
            "plan",
            json!({
                "stack": preview.map(|p| &p.0),
                "preflight": preview.map(|p| &p.1),
                "api": image,
                "bucket": bucket,
                "prefix": prefix,
                "counts": plan.counts(),
                "actions": plan.actions,
            }),
        );
        return;
    }
    let mut listing = String::new();
    for a in &plan.actions {
        if a.op == Op::Keep && !all && a.reason == Reason::Unchanged {
            continue;
        }
        // Keys and release ids come from the bucket: the whole line is shown escaped.
        let line = format!("{:<7} {}  ({})", deploy::verb(a.op), a.key, a.reason);
        listing.push_str(&shown(&line));
        listing.push('\n');
    }
    stdout::text(&listing);
}
