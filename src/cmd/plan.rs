//! `shipit plan`: the stack's change set and every file action with its reason.

use std::io::Write;

use serde_json::json;

use shipit::cfn::Cfn;
use shipit::cli::{Cli, TargetArgs};
use shipit::config::{self, Settings};
use shipit::deploy;
use shipit::error::Result;
use shipit::plan::{Op, Plan, Reason};
use shipit::provision::{self, Preview};
use shipit::report::{human_bytes, Reporter};

use super::print_json;

pub(crate) async fn run(
    cli: &Cli,
    target: &TargetArgs,
    file: config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let mut settings = config::settings(&cli.global, target, None, file, env)?;
    let started = deploy::start(&settings, reporter).await?;
    let (sdk, local) = (&started.sdk, &started.local);
    let mut preview = None;
    if let Some(stack) = &settings.stack {
        let p = provision::preview(&Cfn::new(sdk, &settings.connection), stack).await?;
        print_preview(&p, cli.global.json, reporter);
        match p.outputs.get("SiteBucketName") {
            Some(bucket) => settings.bucket = bucket.clone(),
            None => {
                reporter.info(&format!(
                    "the stack has no bucket yet: deploy uploads all {} files ({}) after creating it",
                    local.len(),
                    human_bytes(local.iter().map(|f| f.size).sum())
                ));
                if cli.global.json {
                    print_json(&json!({ "stack": p, "files": local.len() }));
                }
                return Ok(());
            }
        }
        preview = Some(p);
    }
    let prepared = deploy::prepare(&settings, started, reporter).await?;
    print_plan(
        &prepared.plan,
        &settings,
        preview.as_ref(),
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

pub(crate) fn print_preview(p: &Preview, json: bool, reporter: &Reporter) {
    if json {
        return; // part of the plan's JSON
    }
    let mut out = std::io::stdout().lock();
    let status = p.status.as_deref().unwrap_or("does not exist");
    let _ = writeln!(out, "stack {} ({status}): {}", p.stack, p.action);
    for c in &p.changes {
        let _ = writeln!(out, "  {}", c.line());
    }
    if let Some(note) = &p.note {
        reporter.info(note);
    }
}

pub(crate) fn print_plan(
    plan: &Plan,
    settings: &Settings,
    preview: Option<&Preview>,
    json: bool,
    all: bool,
) {
    if json {
        print_json(&json!({
            "stack": preview,
            "bucket": settings.bucket,
            "prefix": settings.prefix,
            "counts": plan.counts(),
            "actions": plan.actions,
        }));
        return;
    }
    let mut out = std::io::stdout().lock();
    for a in &plan.actions {
        if a.op == Op::Keep && !all && a.reason == Reason::Unchanged {
            continue;
        }
        let _ = writeln!(out, "{:<7} {}  ({})", deploy::verb(a.op), a.key, a.reason);
    }
}
