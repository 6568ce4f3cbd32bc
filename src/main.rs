//! The `shipit` binary: parse, build the reporter, run, map the error to an exit code.

use std::io::Write;

use clap::Parser;
use serde_json::json;

use shipit::cli::{Cli, Command};
use shipit::config;
use shipit::deploy::{self, Summary};
use shipit::error::{exit, Result};
use shipit::plan::Op;
use shipit::report::{human_bytes, Reporter};

fn main() {
    let cli = Cli::parse();
    let reporter = Reporter::from_env(cli.global.quiet, cli.global.verbose, cli.global.no_progress);
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let code = match runtime.block_on(run(&cli, &reporter)) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            if json {
                print_json(&json!({
                    "ok": false,
                    "error": { "kind": err.kind(), "message": err.to_string(), "hint": err.hint(), "exit_code": err.exit_code() }
                }));
            }
            err.exit_code()
        }
    };
    // Dropping the runtime would wait for in-flight blocking tasks; we are done with them.
    runtime.shutdown_background();
    std::process::exit(code);
}

async fn run(cli: &Cli, reporter: &Reporter) -> Result<()> {
    let file = config::load_file(cli.global.config.as_deref())?;
    let env = |k: &str| std::env::var(k).ok();
    match &cli.command {
        Command::Plan(target) => {
            let settings = config::settings(&cli.global, target, None, file, env)?;
            let (sdk, local) = deploy::start(&settings, reporter).await?;
            let prepared = deploy::prepare(&settings, &sdk, local, reporter).await?;
            print_plan(
                &prepared.plan,
                &settings,
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
        Command::Deploy(args) => {
            let settings =
                config::settings(&cli.global, &args.target, args.concurrency, file, env)?;
            let (sdk, local) = deploy::start(&settings, reporter).await?;
            let prepared = deploy::prepare(&settings, &sdk, local, reporter).await?;
            let summary = deploy::execute(prepared, &settings, reporter).await?;
            print_summary(&summary, reporter);
            if cli.global.json {
                print_json(&json!({ "ok": true, "summary": summary }));
            }
            Ok(())
        }
    }
}

fn print_plan(plan: &shipit::plan::Plan, settings: &config::Settings, json: bool, all: bool) {
    if json {
        print_json(&json!({
            "bucket": settings.bucket,
            "prefix": settings.prefix,
            "counts": plan.counts(),
            "actions": plan.actions,
        }));
        return;
    }
    let mut out = std::io::stdout().lock();
    for a in &plan.actions {
        if a.op == Op::Keep && !all && a.reason == shipit::plan::Reason::Unchanged {
            continue;
        }
        let _ = writeln!(out, "{:<7} {}  ({})", deploy::verb(a.op), a.key, a.reason);
    }
}

fn print_summary(s: &Summary, reporter: &Reporter) {
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

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}
