//! `shipit destroy`, and `shipit bootstrap` (the account-wide settings a stack relies on).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::json;

use crate::cli::{BootstrapArgs, Cli, DestroyArgs};
use crate::config::{self, BOOTSTRAP_STACK};
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::{Error, Result};
use shipit_core::preflight::is_app_stack_logging_role;
use shipit_core::settings::StackSettings;
use shipit_core::stack::check_stack_name;
use shipit_core::stack::TEMPLATES_BUCKET_OUTPUT;
use shipit_engine::pipeline::provision;
use shipit_engine::ports::Account;
use shipit_engine::ports::{ObjectStore, Reporter};

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
    let account = clients.account()?;
    let minutes = args
        .stack_timeout
        .or(file.stack.timeout_minutes)
        .unwrap_or(config::DEFAULT_STACK_TIMEOUT_MINUTES);
    let open_bucket = |bucket: &str| -> Box<dyn ObjectStore> {
        Box::new(shipit_aws::s3::Store::new(clients.sdk(), &conn, bucket, ""))
    };
    let destroyed = provision::destroy(
        &clients.cfn(),
        &open_bucket,
        &name,
        Duration::from_secs(minutes * 60),
        args.role_arn.as_deref().or(file.stack.role_arn.as_deref()),
        if args.delete_database {
            Some(&account as &dyn shipit_engine::ports::Databases)
        } else {
            None
        },
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

const BOOTSTRAP_TEMPLATE: &str = include_str!("../../stack/bootstrap.yaml");
const ROLE_OUTPUT: &str = "ApiGatewayCloudWatchRoleArn";

/// Makes or updates the `shipit-bootstrap` stack: the templates bucket large templates reach
/// CloudFormation through, and API Gateway's CloudWatch role for the account and region when it
/// is missing (or held by an older shipit's app stack); a role set by anyone else is left as it
/// is.
pub(crate) async fn bootstrap(
    cli: &Cli,
    args: &BootstrapArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let clients = Clients::connect(&conn).await?;
    let account = clients.account()?;
    let region = account.region();
    let read = |e: String| {
        Error::Aws {
        message: format!("cannot read API Gateway's account settings in {region}: {e}"),
        hint: Some("bootstrap needs apigateway:GET on /account, and an administrator's rights to create the role".into()),
    }
    };
    let cfn = clients.cfn();
    let before = cfn.describe(BOOTSTRAP_STACK).await?;
    let ours_before = before
        .as_ref()
        .and_then(|b| b.outputs.get(ROLE_OUTPUT).cloned());
    let current = account.apigw_logging_role().await.map_err(read)?;
    // A role an app stack of an older shipit holds is taken over: that stack's next update
    // deletes it. One anybody else set stays.
    let set_role = match current.as_deref() {
        None | Some("") => true,
        Some(r) => is_app_stack_logging_role(r) || ours_before.as_deref() == Some(r),
    };
    let dir =
        tempfile::tempdir().map_err(|e| Error::Internal(format!("a temporary directory: {e}")))?;
    let template = dir.path().join("bootstrap.yaml");
    std::fs::write(&template, BOOTSTRAP_TEMPLATE)
        .map_err(|e| Error::Internal(format!("writing {}: {e}", template.display())))?;
    let minutes = args
        .stack_timeout
        .unwrap_or(config::DEFAULT_STACK_TIMEOUT_MINUTES);
    let settings = StackSettings {
        name: BOOTSTRAP_STACK.to_string(),
        template: Some(template),
        parameters: [("SetApiGatewayRole".to_string(), set_role.to_string())].into(),
        allow_replace: false,
        recreate: true,
        timeout: Duration::from_secs(minutes * 60),
        role_arn: None,
        task_secrets: Vec::new(),
    };
    let ensured = provision::ensure(&cfn, &settings, reporter).await?;
    let not_ours = |what: &str| {
        Error::Stack {
        message: format!("stack {BOOTSTRAP_STACK} is {} but has no {what} output", ensured.action),
        hint: format!("the stack is not shipit's bootstrap stack: delete stack {BOOTSTRAP_STACK} and run shipit bootstrap again"),
    }
    };
    let bucket = ensured
        .outputs
        .get(TEMPLATES_BUCKET_OUTPUT)
        .ok_or_else(|| not_ours(TEMPLATES_BUCKET_OUTPUT))?;
    let mut changed = ensured.change_set;
    let role = if set_role {
        let ours = ensured
            .outputs
            .get(ROLE_OUTPUT)
            .ok_or_else(|| not_ours(ROLE_OUTPUT))?;
        // The stack existed unchanged, or an older app stack's role was set after it: set ours.
        if account.apigw_logging_role().await.map_err(read)?.as_ref() != Some(ours) {
            account.set_apigw_logging_role(ours).await.map_err(|e| Error::Aws {
                message: format!("setting API Gateway's CloudWatch Logs role in {region}: {e}"),
                hint: Some("this takes apigateway:PATCH on /account and iam:PassRole of the role: an administrator's rights".into()),
            })?;
            changed = true;
        }
        ours.clone()
    } else {
        current.clone().unwrap_or_default()
    };
    let how = match (set_role, changed) {
        (false, _) => "set by someone else: left as it is".to_string(),
        (true, true) => format!("set (stack {BOOTSTRAP_STACK})"),
        (true, false) => "set already: nothing to do".to_string(),
    };
    reporter.info(&format!(
        "API Gateway's CloudWatch Logs role in {region}: {role}, {how}"
    ));
    reporter.info(&format!(
        "templates bucket (large stack templates reach CloudFormation through it): {bucket}"
    ));
    if cli.global.json {
        let out = json!({
            "region": region,
            "role": role,
            "changed": changed,
            "stack": BOOTSTRAP_STACK,
            "templates_bucket": bucket,
        });
        stdout::json(true, "bootstrap", out);
    }
    Ok(())
}
