//! The `shipit` binary: parse, build the reporter, run the command (`cmd::*`), map the error
//! to an exit code. A panic is a bug: it is reported as one and exits with the documented
//! internal-error code, not Rust's 101.
//!
//! The binary's own modules: `cli` and `config` (flags, environment and `shipit.toml` into
//! settings, once), `cmd` (one module per command: resolve settings, build the clients, call
//! the engine, print; `cmd::Clients` is the one place that chooses the local cloud's adapters
//! or AWS's), and `output` (the terminal, GitHub Actions and stdout). Everything else is a
//! crate of the workspace, each depending only on those before it: `shipit_core` (pure
//! decisions), `shipit_engine` (interfaces and orchestration), `shipit_aws` (the SDK adapters)
//! and `local_cloud` (the emulator).

mod cli;
mod cmd;
mod config;
mod output;
mod scaffold;

use std::sync::Arc;

use clap::Parser;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::{exit, Error, Result};
use shipit_engine::interrupt;
use shipit_engine::ports::Reporter;

use cmd::job_summary;

fn main() {
    tune_malloc();
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "error: shipit crashed: {info}\nhint: this is a bug in shipit; please report it with the command you ran"
        );
        std::process::exit(exit::INTERNAL);
    }));
    let cli = Cli::parse();
    let reporter = Arc::new(Terminal::from_env(
        cli.global.quiet,
        cli.global.verbose,
        cli.global.no_progress,
    ));
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
    // A deploy or a rollback stops safely on the first signal (see `interrupt`); every other
    // command keeps the default: Ctrl-C stops it at once (destroy above all).
    if matches!(cli.command, Command::Deploy(_) | Command::Rollback(_)) {
        runtime.spawn(watch_signals(reporter.clone()));
    }
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
                &crate::output::gha::JobSummary {
                    command: cli.command.name(),
                    verify: report,
                    error: Some((&err.to_string(), err.hint())),
                    ..Default::default()
                },
            );
            if json {
                let mut fields = json!({
                    "error": { "kind": err.kind(), "message": err.to_string(), "hint": err.hint(), "exit_code": err.exit_code() }
                });
                if let Some(r) = report {
                    fields["verify"] = serde_json::to_value(r).unwrap_or_default();
                }
                if let Error::Preflight { findings, .. } = &err {
                    fields["preflight"] = findings.clone();
                }
                stdout::json(false, cli.command.name(), fields);
            }
            err.exit_code()
        }
    };
    // Dropping the runtime would wait for in-flight blocking tasks; we are done with them.
    runtime.shutdown_background();
    std::process::exit(code);
}

/// The first SIGINT or SIGTERM asks the run to stop safely; a second exits at once.
async fn watch_signals(reporter: Arc<Terminal>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        let sig = tokio::select! {
            _ = int.recv() => interrupt::SIGINT,
            _ = term.recv() => interrupt::SIGTERM,
        };
        if interrupt::request(sig) {
            reporter.error(
                "interrupted again: stopping at once",
                Some(
                    "the deploy lock may be left held until it expires; `shipit unlock` breaks it",
                ),
            );
            std::process::exit(if sig == interrupt::SIGTERM {
                exit::TERMINATED
            } else {
                exit::INTERRUPTED
            });
        }
        reporter.warn("interrupted: finishing the requests in flight, then stopping without pruning (interrupt again to stop at once)");
    }
}

async fn run(cli: &Cli, reporter: &Arc<Terminal>) -> Result<()> {
    let file = config::load_file(cli.global.config.as_deref())?;
    let r = reporter.as_ref();
    match &cli.command {
        Command::Plan(target) => cmd::plan::run(cli, target, file, r).await,
        Command::Deploy(args) => cmd::deploy::run(cli, args, file, r).await,
        Command::Destroy(args) => cmd::stack::destroy(cli, args, &file, r).await,
        Command::Verify(args) => cmd::verify::verify_command(cli, args, &file, r).await,
        Command::Preview(args) => cmd::preview::preview(cli, args, &file, reporter).await,
        Command::Init(args) => cmd::init::init(args, r),
        Command::Releases(args) => cmd::releases::releases_command(cli, args, &file, r).await,
        Command::Rollback(args) => cmd::releases::rollback(cli, args, file, r).await,
        Command::Unlock(args) => cmd::releases::unlock_command(cli, args, &file, r).await,
        Command::Bootstrap(args) => cmd::stack::bootstrap(cli, args, &file, r).await,
        Command::Params(args) => cmd::params::params(cli, args, &file, r).await,
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "shipit", &mut out);
            stdout::text(&String::from_utf8_lossy(&out));
            Ok(())
        }
    }
}

/// glibc gives threads that allocate at once arenas of their own (up to eight per core) and
/// keeps what they freed: with tokio's workers listing and the blocking pool hashing, a
/// 100,000-file deploy's peak RSS grew by about 90 MB of arenas (BENCHMARKS.md). Two arenas
/// keep that in check at no measurable cost in speed here.
///
/// glibc also raises its mmap threshold to the size of each large block freed, so after the
/// first big buffer (a plan, a manifest's text) every later one comes from the heap and its
/// pages stay with the process once freed. A fixed threshold keeps blocks of 4 MiB and more
/// in their own mappings, given back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets allocator parameters; called first, before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
