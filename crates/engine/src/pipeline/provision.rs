//! Ensuring and destroying the stack: runs the decisions of `core::stack` against the stack
//! service (`ports::StackService`), streams events while it waits, and explains failures with
//! the failing resources' reasons.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ports::{Databases, ObjectStore, Reporter, StackService};
use shipit_core::error::{Error, Result};
use shipit_core::settings::StackSettings;
use shipit_core::stack::{self, Change, Next};
use shipit_core::stack::{ChangeSet, StackInfo, StackResource};
use shipit_core::template::Template;

/// What ensuring the stack did.
#[derive(Debug, Clone, Serialize)]
pub struct Ensured {
    pub stack: String,
    /// created, updated or unchanged.
    pub action: &'static str,
    /// Whether a change set was created (false when template and parameters were unchanged).
    pub change_set: bool,
    pub changes: Vec<Change>,
    pub outputs: BTreeMap<String, String>,
}

const POLL: Duration = Duration::from_secs(2);

fn change_set_name() -> String {
    format!("shipit-{}", crate::clock::epoch_millis())
}

fn stack_error(message: String, hint: impl Into<String>) -> Error {
    Error::Stack {
        message,
        hint: hint.into(),
    }
}

/// The template a change set of `s` sends, and its parameters resolved: the API snapshot
/// named, the stack's parameters inserted as the tasks' secrets. What `ensure`, `preview` and
/// the preflight all use, so they agree on what would change.
pub fn template_for(s: &StackSettings) -> Result<(Template, BTreeMap<String, String>)> {
    use shipit_core::container::{with_task_secrets, VERSIONS_PARAMETER};
    let mut template = Template::load(s.template.as_deref())?;
    let mut given = s.parameters.clone();
    // A template that does not take the parameters' versions (a custom one) is fine without
    // parameters, and refused with them.
    let takes_versions = template
        .parameters
        .iter()
        .any(|p| p.name == VERSIONS_PARAMETER);
    if !takes_versions && s.task_secrets.is_empty() {
        given.remove(VERSIONS_PARAMETER);
    }
    let params = template.resolve_parameters(&given)?;
    template.body = template.with_api_snapshot(&params);
    template.body = with_task_secrets(&template.body, &s.task_secrets).map_err(|why| {
        Error::config_hint(
            format!("cannot give the tasks the stack's parameters: {why}"),
            "use shipit's template (stack/shipit.yaml), or remove the parameters under /shipit/STACK/",
        )
    })?;
    Ok((template, params))
}

/// Creates or updates the stack so it matches the template and parameters.
pub async fn ensure(
    cfn: &dyn StackService,
    s: &StackSettings,
    reporter: &dyn Reporter,
) -> Result<Ensured> {
    let (template, params) = template_for(s)?;
    ensure_with(cfn, s, template, params, reporter).await
}

/// Updates the stack to `template` (its body as it is: the API snapshot already named) with
/// `params` resolved: the stack's own template with one parameter changed, for a restore.
pub async fn ensure_with(
    cfn: &dyn StackService,
    s: &StackSettings,
    template: Template,
    params: BTreeMap<String, String>,
    reporter: &dyn Reporter,
) -> Result<Ensured> {
    let deadline = Instant::now() + s.timeout;
    reporter.stage(&format!("ensuring stack {}", s.name));
    loop {
        let info = cfn.describe(&s.name).await?;
        match stack::next_step(info.as_ref().map(|i| i.status.as_str())) {
            Next::Wait => {
                let status = info.map(|i| i.status).unwrap_or_default();
                reporter.info(&format!(
                    "stack is {status} (another operation is running); waiting"
                ));
                wait_settled(cfn, &s.name, deadline, reporter).await?;
            }
            Next::Stuck { guidance } => {
                let info = info.unwrap_or_default();
                return Err(stack_error(
                    format!(
                        "stack {} is {}{}",
                        s.name,
                        info.status,
                        reason_suffix(&info)
                    ),
                    guidance.replace("NAME", &s.name),
                ));
            }
            Next::FailedCreate if s.recreate => {
                reporter.warn(&format!(
                    "stack {} is ROLLBACK_COMPLETE (its first create failed); deleting it to create it again (--recreate)",
                    s.name
                ));
                explain_failure(cfn, &s.name, reporter).await;
                cfn.delete_stack(&s.name, s.role_arn.as_deref()).await?;
                wait_settled(cfn, &s.name, deadline, reporter).await?;
            }
            Next::FailedCreate => {
                let reasons = failure_lines(cfn, &s.name).await;
                return Err(stack_error(
                    format!(
                        "stack {} is ROLLBACK_COMPLETE: its first create failed and nothing in it can be updated{}",
                        s.name,
                        if reasons.is_empty() { String::new() } else { format!("; it failed because: {}", reasons.join("; ")) }
                    ),
                    "fix the cause, then deploy with --recreate to delete the failed stack and create it again",
                ));
            }
            Next::Create => return create(cfn, s, &template, &params, deadline, reporter).await,
            Next::Update => {
                let info = info.expect("Update means the stack exists");
                return update(cfn, s, &template, &params, info, deadline, reporter).await;
            }
        }
    }
}

fn reason_suffix(info: &StackInfo) -> String {
    info.reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

async fn create(
    cfn: &dyn StackService,
    s: &StackSettings,
    template: &Template,
    params: &BTreeMap<String, String>,
    deadline: Instant,
    reporter: &dyn Reporter,
) -> Result<Ensured> {
    let (cs, described) = open_change_set(cfn, s, &template.body, params, true, deadline).await?;
    if described.status == "FAILED" {
        return Err(stack_error(
            format!(
                "the change set creating stack {} failed: {}",
                s.name, described.reason
            ),
            "check the template and parameters (cfn-lint stack/shipit.yaml)",
        ));
    }
    print_changes(&described.changes, reporter);
    cfn.execute_change_set(&s.name, &cs).await?;
    let info = wait_settled(cfn, &s.name, deadline, reporter).await?;
    if info.status != "CREATE_COMPLETE" {
        return Err(failed(cfn, &s.name, &info, "create").await);
    }
    cfn.set_termination_protection(&s.name, true).await?;
    reporter.info("termination protection enabled");
    Ok(Ensured {
        stack: s.name.clone(),
        action: "created",
        change_set: true,
        changes: described.changes,
        outputs: info.outputs,
    })
}

async fn update(
    cfn: &dyn StackService,
    s: &StackSettings,
    template: &Template,
    params: &BTreeMap<String, String>,
    info: StackInfo,
    deadline: Instant,
    reporter: &dyn Reporter,
) -> Result<Ensured> {
    let deployed = cfn.template(&s.name).await?;
    if stack::unchanged(&deployed, &info.parameters, &template.body, params) {
        reporter.info("template and parameters unchanged: no change set");
        return Ok(Ensured {
            stack: s.name.clone(),
            action: "unchanged",
            change_set: false,
            changes: Vec::new(),
            outputs: info.outputs,
        });
    }
    let (cs, described) = open_change_set(cfn, s, &template.body, params, false, deadline).await?;
    if described.status == "FAILED" {
        cfn.delete_change_set(&s.name, &cs).await?;
        if stack::is_empty_change_set(&described.reason) {
            reporter.info("the change set is empty: the stack already matches");
            return Ok(Ensured {
                stack: s.name.clone(),
                action: "unchanged",
                change_set: true,
                changes: Vec::new(),
                outputs: info.outputs,
            });
        }
        return Err(stack_error(
            format!(
                "the change set updating stack {} failed: {}",
                s.name, described.reason
            ),
            "check the template and parameters (cfn-lint stack/shipit.yaml)",
        ));
    }
    print_changes(&described.changes, reporter);
    let refused: Vec<&Change> = described
        .changes
        .iter()
        .filter(|c| c.destroys_state())
        .collect();
    if !refused.is_empty() && !s.allow_replace {
        cfn.delete_change_set(&s.name, &cs).await?;
        let what: Vec<String> = refused.iter().map(|c| c.line()).collect();
        return Err(Error::Refused {
            message: format!(
                "refusing to update stack {}: the change would replace or remove stateful resources (their data would be lost): {}",
                s.name,
                what.join("; ")
            ),
            hint: "keep the resource's replacement properties unchanged, or pass --allow-replace after taking a backup".into(),
        });
    }
    cfn.execute_change_set(&s.name, &cs).await?;
    let after = wait_settled(cfn, &s.name, deadline, reporter).await?;
    if after.status != "UPDATE_COMPLETE" {
        return Err(failed(cfn, &s.name, &after, "update").await);
    }
    Ok(Ensured {
        stack: s.name.clone(),
        action: "updated",
        change_set: true,
        changes: described.changes,
        outputs: after.outputs,
    })
}

fn print_changes(changes: &[Change], reporter: &dyn Reporter) {
    let (add, modify, remove, replace) = stack::counts(changes);
    reporter.info(&format!(
        "change set: {add} to add, {modify} to modify ({replace} replaced), {remove} to remove"
    ));
    for c in changes {
        reporter.info(&format!("  {}", c.line()));
    }
}

/// Creates a change set and waits until CloudFormation has described it. Returns its name and
/// what it says; the caller executes or deletes it.
async fn open_change_set(
    cfn: &dyn StackService,
    s: &StackSettings,
    body: &str,
    params: &BTreeMap<String, String>,
    create: bool,
    deadline: Instant,
) -> Result<(String, ChangeSet)> {
    let cs = change_set_name();
    cfn.create_change_set(&s.name, &cs, create, body, params, s.role_arn.as_deref())
        .await
        .map_err(|e| needs_infrastructure_role(e, &s.name, create))?;
    let described = wait_change_set(cfn, &s.name, &cs, deadline).await?;
    Ok((cs, described))
}

/// Everyday deploys run with the content role, which may read the stack but not change it
/// (stack/iam/): when a change set is refused, say that this deploy changes the stack and
/// which role that needs.
pub(crate) fn needs_infrastructure_role(e: Error, stack: &str, create: bool) -> Error {
    match e {
        // A refusal, not expired or wrong credentials (those keep their own explanation), nor
        // a refusal to stage the template (it names its own statements).
        Error::Auth { message, .. }
            if message.contains("AccessDenied") && !message.starts_with("staging ") =>
        {
            Error::Auth {
            message: format!(
                "stack {stack} {}, and these credentials may not change the stack ({message})",
                if create {
                    "does not exist yet"
                } else {
                    "needs a change: the template or its parameters differ from what is deployed"
                }
            ),
            hint: "a stack change needs the infrastructure role (stack/iam/infrastructure-role.json, with the CloudFormation service role as [stack] role_arn); the content role deploys only while the stack is unchanged".into(),
        }
        }
        other => other,
    }
}

async fn wait_change_set(
    cfn: &dyn StackService,
    stack: &str,
    cs: &str,
    deadline: Instant,
) -> Result<ChangeSet> {
    loop {
        let d = cfn.describe_change_set(stack, cs).await?;
        if !matches!(d.status.as_str(), "CREATE_PENDING" | "CREATE_IN_PROGRESS") {
            return Ok(d);
        }
        if Instant::now() > deadline {
            return Err(stack_error(
                format!(
                    "change set {cs} of stack {stack} was still {} at the deadline",
                    d.status
                ),
                "raise --stack-timeout, or inspect the change set in the console",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls until the stack's status settles (or it is gone), printing new events as they come.
async fn wait_settled(
    cfn: &dyn StackService,
    name: &str,
    deadline: Instant,
    reporter: &dyn Reporter,
) -> Result<StackInfo> {
    let mut seen: HashSet<String> = cfn
        .events(name)
        .await
        .unwrap_or_default()
        .iter()
        .map(event_key)
        .collect();
    loop {
        let info = cfn.describe(name).await?;
        if let Ok(events) = cfn.events(name).await {
            for e in events.iter().rev() {
                if seen.insert(event_key(e)) {
                    reporter.info(&format!("  {}", e.line()));
                }
            }
        }
        let Some(info) = info else {
            return Ok(StackInfo {
                status: "DELETE_COMPLETE".into(),
                ..Default::default()
            });
        };
        if stack::is_settled(&info.status) {
            return Ok(info);
        }
        crate::interrupt::check(&format!(
            "stopped waiting for stack {name} ({}): CloudFormation carries on with it; nothing of the site was written",
            info.status
        ))?;
        if Instant::now() > deadline {
            return Err(stack_error(
                format!("stack {name} was still {} at the deadline", info.status),
                "CloudFormation is still working: run the deploy again later (it waits for the operation), or raise --stack-timeout",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn event_key(e: &stack::Event) -> String {
    format!(
        "{}|{}|{}|{}",
        e.timestamp,
        e.logical_id,
        e.status,
        e.reason.as_deref().unwrap_or("")
    )
}

async fn failure_lines(cfn: &dyn StackService, name: &str) -> Vec<String> {
    let mut events = cfn.events(name).await.unwrap_or_default();
    events.reverse();
    stack::failure_reasons(&events)
}

async fn explain_failure(cfn: &dyn StackService, name: &str, reporter: &dyn Reporter) {
    for line in failure_lines(cfn, name).await {
        reporter.warn(&format!("failed: {line}"));
    }
}

async fn failed(cfn: &dyn StackService, name: &str, info: &StackInfo, what: &str) -> Error {
    let reasons = failure_lines(cfn, name).await;
    stack_error(
        format!(
            "the {what} of stack {name} failed: the stack is {}{}{}",
            info.status,
            reason_suffix(info),
            if reasons.is_empty() {
                String::new()
            } else {
                format!("; failing resources: {}", reasons.join("; "))
            }
        ),
        "fix the failing resources named above and deploy again; nothing was synced or deleted",
    )
}

/// What `plan` shows for the stack, without executing anything.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub stack: String,
    pub status: Option<String>,
    /// create, update, unchanged, or blocked.
    pub action: &'static str,
    pub changes: Vec<Change>,
    pub note: Option<String>,
    #[serde(skip)]
    pub outputs: BTreeMap<String, String>,
}

/// Shows what `ensure` would do: for an existing stack through a change set that is deleted
/// again, never executed.
pub async fn preview(cfn: &dyn StackService, s: &StackSettings) -> Result<Preview> {
    let (template, params) = template_for(s)?;
    let info = cfn.describe(&s.name).await?;
    let status = info.as_ref().map(|i| i.status.clone());
    let mut p = Preview {
        stack: s.name.clone(),
        status: status.clone(),
        action: "blocked",
        changes: Vec::new(),
        note: None,
        outputs: info.as_ref().map(|i| i.outputs.clone()).unwrap_or_default(),
    };
    match stack::next_step(status.as_deref()) {
        Next::Create => {
            p.action = "create";
            p.changes = template
                .resources
                .iter()
                .map(|r| Change {
                    logical_id: r.logical_id.clone(),
                    kind: r.kind.clone(),
                    action: "Add".into(),
                    replacement: None,
                })
                .collect();
            p.note = Some("resources with a false Condition are skipped at create".into());
        }
        Next::Update => {
            let info = info.expect("exists");
            let deployed = cfn.template(&s.name).await?;
            if stack::unchanged(&deployed, &info.parameters, &template.body, &params) {
                p.action = "unchanged";
            } else {
                let deadline = Instant::now() + s.timeout;
                let (cs, d) =
                    open_change_set(cfn, s, &template.body, &params, false, deadline).await?;
                cfn.delete_change_set(&s.name, &cs).await?;
                if d.status == "FAILED" && !stack::is_empty_change_set(&d.reason) {
                    return Err(stack_error(
                        format!("the change set for stack {} failed: {}", s.name, d.reason),
                        "check the template and parameters",
                    ));
                }
                p.action = if d.changes.is_empty() {
                    "unchanged"
                } else {
                    "update"
                };
                if d.changes.iter().any(|c| c.destroys_state()) && !s.allow_replace {
                    p.note = Some("deploy will refuse: stateful resources would be replaced or removed (--allow-replace)".into());
                }
                p.changes = d.changes;
            }
        }
        Next::Wait => p.note = Some("another operation is in progress; deploy waits for it".into()),
        Next::FailedCreate => {
            p.note = Some("the first create failed; deploy with --recreate".into())
        }
        Next::Stuck { guidance } => p.note = Some(guidance.replace("NAME", &s.name)),
    }
    Ok(p)
}

/// What `destroy` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Destroyed {
    pub stack: String,
    pub existed: bool,
    /// Bucket -> (object versions, delete markers) removed.
    pub emptied: BTreeMap<String, (usize, usize)>,
    /// Resources CloudFormation kept (DeletionPolicy Retain or Snapshot): "Logical (Type) physical-id".
    pub retained: Vec<String>,
}

/// Empties the buckets the stack deletes (every version and delete marker; never a bucket the
/// template retains), lifts termination protection, deletes the stack and waits; reports what
/// was retained, a retained bucket with how many objects it keeps.
pub async fn destroy(
    cfn: &dyn StackService,
    open_bucket: &dyn Fn(&str) -> Box<dyn ObjectStore>,
    name: &str,
    timeout: Duration,
    role_arn: Option<&str>,
    databases: Option<&dyn Databases>,
    reporter: &dyn Reporter,
) -> Result<Destroyed> {
    let deadline = Instant::now() + timeout;
    let mut out = Destroyed {
        stack: name.to_string(),
        ..Default::default()
    };
    let Some(mut info) = cfn.describe(name).await? else {
        reporter.info(&format!("stack {name} does not exist: nothing to destroy"));
        return Ok(out);
    };
    out.existed = true;
    if !stack::is_settled(&info.status) {
        reporter.info(&format!(
            "stack is {}; waiting for it to settle",
            info.status
        ));
        info = wait_settled(cfn, name, deadline, reporter).await?;
    }
    let deployed = Template::parse(cfn.template(name).await?, "the deployed template")?;
    // A resource the deployed template does not name, or names with a policy that is not a
    // plain word, is kept: an unreadable policy never empties a bucket.
    let policy = |r: &StackResource| {
        deployed
            .resource(&r.logical_id)
            .map_or(shipit_core::template::UNREADABLE_POLICY, |t| {
                t.deletion_policy.as_str()
            })
            .to_string()
    };
    let resources = cfn.resources(name).await?;
    // A database has deletion protection: deleting it is an administrator's act, decided
    // before anything is emptied or deleted.
    let protected: Vec<&StackResource> = resources
        .iter()
        .filter(|r| r.kind == "AWS::RDS::DBInstance" && !r.physical_id.is_empty())
        .collect();
    if databases.is_none() && !protected.is_empty() {
        return Err(Error::Refused {
            message: format!(
                "not destroying stack {name}: it holds database {} with deletion protection, and nothing was touched",
                protected.iter().map(|r| format!("{} ({})", r.physical_id, r.logical_id)).collect::<Vec<_>>().join(", ")
            ),
            hint: format!("deleting the database is an administrator's act: with an administrator's credentials, run `shipit destroy --stack {name} --delete-database` (a final snapshot is kept: DeletionPolicy Snapshot)"),
        });
    }
    let buckets = resources
        .iter()
        .filter(|r| r.kind == "AWS::S3::Bucket" && !r.physical_id.is_empty());
    // Only a bucket CloudFormation deletes is emptied: what the template retains keeps its
    // contents, or "retained" would mean an empty bucket.
    let mut kept_contents = BTreeMap::new();
    for r in buckets {
        if policy(r) != "Delete" {
            let objects = match open_bucket(&r.physical_id).list().await {
                Ok(listed) if listed.len() == 1 => "1 object".to_string(),
                Ok(listed) => format!("{} objects", listed.len()),
                Err(e) => format!("contents not counted: {e}"),
            };
            kept_contents.insert(r.logical_id.clone(), objects);
            continue;
        }
        reporter.stage(&format!(
            "emptying bucket {} ({})",
            r.physical_id, r.logical_id
        ));
        let counts = open_bucket(&r.physical_id).purge().await?;
        reporter.info(&format!(
            "removed {} object versions and {} delete markers",
            counts.0, counts.1
        ));
        out.emptied.insert(r.physical_id.clone(), counts);
    }
    if info.termination_protection {
        cfn.set_termination_protection(name, false).await?;
        reporter.info("termination protection lifted");
    }
    // Lifted last, right before the delete: a failure above leaves the database protected.
    if let Some(db) = databases {
        for r in &protected {
            reporter.stage(&format!(
                "lifting the deletion protection of database {} ({})",
                r.physical_id, r.logical_id
            ));
            db.unprotect(&r.physical_id).await?;
        }
    }
    reporter.stage(&format!("deleting stack {name}"));
    cfn.delete_stack(name, role_arn).await?;
    let after = wait_settled(cfn, name, deadline, reporter).await?;
    if after.status != "DELETE_COMPLETE" {
        return Err(failed(cfn, name, &after, "deletion").await);
    }
    out.retained = resources
        .iter()
        .filter(|r| policy(r) != "Delete")
        .map(|r| {
            let what = match (policy(r).as_str(), kept_contents.get(&r.logical_id)) {
                ("Snapshot", _) => "deleted, final snapshot kept".to_string(),
                (_, Some(objects)) => format!("kept with its contents ({objects})"),
                _ => "kept".to_string(),
            };
            format!("{} ({}) {}: {what}", r.logical_id, r.kind, r.physical_id)
        })
        .collect();
    Ok(out)
}
