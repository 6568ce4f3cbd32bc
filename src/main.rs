//! The `shipit` binary: parse, build the reporter, run the command (`cmd::*`), map the error
//! to an exit code.

mod cmd;

use clap::Parser;
use serde_json::json;

use shipit::cli::{Cli, Command};
use shipit::config;
use shipit::error::{exit, Error, Result};
use shipit::report::Reporter;

use cmd::{job_summary, print_json};

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
            reporter.error(&err.to_string(), err.hint());
            let report = match &err {
                Error::Broken { report, .. } => Some(report.as_ref()),
                _ => None,
            };
            job_summary(
                &reporter,
                &shipit::gha::JobSummary {
                    command: cli.command.name(),
                    verify: report,
                    error: Some((&err.to_string(), err.hint())),
                    ..Default::default()
                },
            );
            if json {
                let mut out = json!({
                    "ok": false,
                    "error": { "kind": err.kind(), "message": err.to_string(), "hint": err.hint(), "exit_code": err.exit_code() }
                });
                if let Some(r) = report {
                    out["verify"] = serde_json::to_value(r).unwrap_or_default();
                }
                print_json(&out);
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
    match &cli.command {
        Command::Plan(target) => cmd::plan::run(cli, target, file, reporter).await,
        Command::Deploy(args) => cmd::deploy::run(cli, args, file, reporter).await,
        Command::Destroy(args) => cmd::stack::destroy(cli, args, &file, reporter).await,
        Command::Verify(args) => cmd::verify::verify_command(cli, args, &file, reporter).await,
        Command::Preview(args) => cmd::preview::preview(cli, args, &file, reporter).await,
        Command::Init(args) => cmd::init::init(args, reporter),
        Command::Releases(args) => {
            cmd::releases::releases_command(cli, args, &file, reporter).await
        }
        Command::Rollback(args) => cmd::releases::rollback(cli, args, file, reporter).await,
        Command::Unlock(args) => cmd::releases::unlock_command(cli, args, &file, reporter).await,
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "shipit", &mut std::io::stdout());
            Ok(())
        }
    }
}
