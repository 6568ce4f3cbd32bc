//! `shipit params`: a stack's parameters, SecureStrings under `/shipit/STACK/` in SSM Parameter
//! Store, which an API in containers gets as secrets of its tasks. A value comes in on standard
//! input (or from an environment variable), never on the command line, and goes out only with
//! `get --show`.

use std::io::Read;

use serde_json::json;

use crate::cli::{Cli, ParamsAction, ParamsArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::container::{parameter_name_refused, parameter_path};
use shipit_core::error::{Error, Result};
use shipit_core::stack::check_stack_name;
use shipit_engine::ports::{Parameters, Reporter};

use super::Clients;

/// SSM's largest standard-tier value.
const MAX_VALUE: usize = 4096;

fn named(name: &str) -> Result<()> {
    match parameter_name_refused(name) {
        Some(why) => Err(Error::config_hint(
            format!("cannot use the parameter name {name:?}: {why}"),
            "name it as the environment variable the tasks read, e.g. API_TOKEN",
        )),
        None => Ok(()),
    }
}

/// The value to set: the environment variable named, else standard input (one trailing
/// newline dropped, as `echo` adds one).
fn value_of(from_env: Option<&str>) -> Result<String> {
    let value = match from_env {
        Some(var) => std::env::var(var).map_err(|_| {
            Error::config_hint(
                format!("the environment variable {var} is not set (or not UTF-8)"),
                "export it first, or pipe the value in on standard input",
            )
        })?,
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(Error::config_hint(
                    "no value: `shipit params set` reads it from standard input, and that is a terminal",
                    "pipe it in (printf %s \"$VALUE\" | shipit params set NAME), or use --from-env VAR",
                ));
            }
            let mut raw = Vec::new();
            std::io::stdin()
                .take(MAX_VALUE as u64 + 3)
                .read_to_end(&mut raw)
                .map_err(|e| {
                    Error::config(format!("cannot read the value from standard input: {e}"))
                })?;
            // One trailing line end is the shell's, not the value's (printf %s sends none).
            let end = if raw.ends_with(b"\r\n") {
                2
            } else {
                usize::from(raw.ends_with(b"\n"))
            };
            if raw.len() - end > MAX_VALUE {
                return Err(Error::config_hint(
                    format!("the value is longer than SSM's {MAX_VALUE} bytes (standard tier)"),
                    "keep large configuration in the app-data bucket, and its key here",
                ));
            }
            raw.truncate(raw.len() - end);
            String::from_utf8(raw).map_err(|_| {
                Error::config("the value on standard input is not UTF-8 text (SSM keeps text)")
            })?
        }
    };
    if value.is_empty() {
        return Err(Error::config_hint(
            "the value is empty, and SSM keeps no empty parameter",
            "give a value; the tasks' code decides what a missing one means",
        ));
    }
    if value.len() > MAX_VALUE {
        return Err(Error::config_hint(
            format!("the value is longer than SSM's {MAX_VALUE} bytes (standard tier)"),
            "keep large configuration in the app-data bucket, and its key here",
        ));
    }
    Ok(value)
}

/// The stack's tasks rolled out without the secret `name`: the deployed template without its
/// line and the versions without its entry (a stack update, the stack's own parameters
/// otherwise). Nothing to do when the stack (or its tasks) does not read it.
async fn roll_out_without(
    cfn: &shipit_aws::cfn::Cfn,
    stack: &str,
    name: &str,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    use shipit_core::container::{versions_without, without_task_secret, VERSIONS_PARAMETER};
    let Some(info) = cfn.describe(stack).await? else {
        return Ok(());
    };
    let args = crate::cli::StackArgs {
        stack: Some(stack.to_string()),
        ..Default::default()
    };
    let s = config::stack_settings(&args, &file.stack)?
        .ok_or_else(|| Error::config_hint("no stack named", "name it (--stack, [stack] name)"))?;
    let mut changed = std::collections::BTreeMap::new();
    if let Some(v) = info.parameters.get(VERSIONS_PARAMETER) {
        changed.insert(VERSIONS_PARAMETER.to_string(), versions_without(v, name));
    }
    let edit = |body: String| {
        let without = without_task_secret(&body, name)?;
        reporter.stage(&format!(
            "stack {stack}'s tasks read {name}: rolling them out without it first"
        ));
        Some(without)
    };
    shipit_engine::pipeline::service::restack(cfn, &s, edit, &changed, reporter).await?;
    Ok(())
}

pub(crate) async fn params(
    cli: &Cli,
    args: &ParamsArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let Some(stack) = args.stack.clone().or(file.stack.name.clone()) else {
        return Err(Error::config_hint(
            "no stack named",
            "name it (--stack, [stack] name): the parameters are the stack's",
        ));
    };
    check_stack_name(&stack)?;
    // The value is read before any request: a missing one fails with nothing asked.
    let value = match &args.action {
        ParamsAction::Set { name, from_env } => {
            named(name)?;
            Some(value_of(from_env.as_deref())?)
        }
        ParamsAction::Get { name, .. } | ParamsAction::Delete { name } => {
            named(name)?;
            None
        }
        ParamsAction::List => None,
    };
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let clients = Clients::connect(&conn).await?;
    let ssm = clients.parameters()?;
    let path = parameter_path(&stack);
    match &args.action {
        ParamsAction::Set { name, .. } => {
            let version = ssm
                .put(
                    &format!("{path}{name}"),
                    value.as_deref().unwrap_or_default(),
                )
                .await?;
            reporter.stage(&format!(
                "{path}{name} set (version {version}): tasks that start from now on read it (ECS reads a parameter's latest version when a task starts); deploy to roll every task onto it"
            ));
            if cli.global.json {
                stdout::json(
                    true,
                    "params",
                    json!({ "stack": stack, "name": name, "version": version }),
                );
            }
        }
        ParamsAction::Get { name, show } => {
            let Some((value, version)) = ssm.get(&format!("{path}{name}")).await? else {
                return Err(Error::config_hint(
                    format!("stack {stack} has no parameter {name} ({path}{name})"),
                    "`shipit params list` shows its parameters",
                ));
            };
            if cli.global.json {
                let mut doc = json!({ "stack": stack, "name": name, "version": version });
                if *show {
                    doc["value"] = json!(value);
                }
                stdout::json(true, "params", doc);
            } else if *show {
                stdout::line(&value);
            } else {
                stdout::line(&format!("{name}\tversion {version}"));
                reporter.info("the value is not shown: --show prints it");
            }
        }
        ParamsAction::Delete { name } => {
            let found = ssm.list(&path).await?;
            let Some((_, version)) = found.iter().find(|(n, _)| n == name) else {
                return Err(Error::config_hint(
                    format!("stack {stack} has no parameter {name} ({path}{name})"),
                    "`shipit params list` shows its parameters",
                ));
            };
            let cfn = clients.cfn();
            roll_out_without(&cfn, &stack, name, file, reporter).await?;
            ssm.delete(&format!("{path}{name}")).await?;
            reporter.stage(&format!("{path}{name} (version {version}) deleted"));
            if cli.global.json {
                stdout::json(
                    true,
                    "params",
                    json!({ "stack": stack, "name": name, "deleted": true }),
                );
            }
        }
        ParamsAction::List => {
            let found = ssm.list(&path).await?;
            if cli.global.json {
                let list: Vec<_> = found
                    .iter()
                    .map(|(n, v)| json!({ "name": n, "version": v }))
                    .collect();
                stdout::json(
                    true,
                    "params",
                    json!({ "stack": stack, "parameters": list }),
                );
            } else {
                for (n, v) in &found {
                    stdout::line(&format!("{n}\tversion {v}"));
                }
                reporter.info(&format!(
                    "{} parameter(s) under {path} (values are not shown)",
                    found.len()
                ));
            }
        }
    }
    Ok(())
}
