//! `shipit destroy`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::json;

use shipit::cli::{Cli, DestroyArgs};
use shipit::config;
use shipit::core::stack::check_stack_name;
use shipit::error::{Error, Result};
use shipit::output::stdout;
use shipit::output::term::Terminal;
use shipit::pipeline::provision;
use shipit::ports::{ObjectStore, Reporter};

use super::Clients;

pub(crate) async fn destroy(
    cli: &Cli,
    args: &DestroyArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let name = args
        .stack
        .clone()
        .or(file.stack.name.clone())
        .ok_or_else(|| {
            Error::config_hint(
                "no stack given",
                "pass --stack NAME (or set [stack] name in shipit.toml)",
            )
        })?;
    check_stack_name(&name)?;
    if !args.yes {
        confirm(&name)?;
    }
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let clients = Clients::connect(&conn).await?;
    let minutes = args
        .stack_timeout
        .or(file.stack.timeout_minutes)
        .unwrap_or(config::DEFAULT_STACK_TIMEOUT_MINUTES);
    let open_bucket = |bucket: &str| -> Box<dyn ObjectStore> {
        Box::new(shipit::aws::s3::Store::new(
            clients.sdk(),
            &conn,
            bucket,
            "",
        ))
    };
    let destroyed = provision::destroy(
        &clients.cfn(),
        &open_bucket,
        &name,
        Duration::from_secs(minutes * 60),
        args.role_arn.as_deref().or(file.stack.role_arn.as_deref()),
        reporter,
    )
    .await?;
    if destroyed.existed {
        reporter.stage(&format!("stack {name} deleted"));
        for r in &destroyed.retained {
            reporter.info(&format!("retained: {r}"));
        }
        if !destroyed.retained.is_empty() {
            reporter.info("retained resources keep their data and their cost; delete them in the console when you no longer need them");
        }
    }
    if cli.global.json {
        stdout::json(true, "destroy", json!({ "destroyed": destroyed }));
    }
    Ok(())
}

/// Asks on a terminal; refuses without one (CI must say --yes).
pub(crate) fn confirm(name: &str) -> Result<()> {
    let refuse = |why: &str| Error::Refused {
        message: format!("not destroying stack {name}: {why}"),
        hint: "pass --yes to destroy without asking".into(),
    };
    if !std::io::stdin().is_terminal() {
        return Err(refuse(
            "confirmation is needed and there is no terminal to ask on",
        ));
    }
    eprint!("Destroy stack {name}, deleting every object version in its buckets? Type the stack name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::Internal(format!("reading the confirmation: {e}")))?;
    if answer.trim() == name {
        Ok(())
    } else {
        Err(refuse("the name typed did not match"))
    }
}
